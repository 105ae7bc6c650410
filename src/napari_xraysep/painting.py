"""A whole painting, streamed from and to disk — what ``xraysep apply`` and the widget's big-image
path share (no Qt).

A painting of tens of megapixels is trained on an area around the drawn region (the relation
between photograph and X-ray is local, and the area fits in memory), then the model is applied to
every pixel tile by tile (:func:`~napari_xraysep.core.streaming.iter_apply`) into float32
TIFFs. A pyramid of 2× reductions is written beside them, so a viewer shows the results at any zoom
by reading only what is on screen.
"""

from __future__ import annotations

import json
import math
import time
import warnings
from collections.abc import Generator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import tifffile

from .core import RESULT_LAYERS, SeparationConfig, SeparationResult, TrainedModel, iter_separate, save_model
from .core.engine import StopFlag, TrainingProgress
from .core.data import BoxRegion
from .core.errors import InputError, OutputError
from .core.files import atomic_write, result_set
from .core.separation import defects_line, resolve_config
from .core.sources import Sources
from .core.streaming import TileProgress, calibrated, iter_apply, tile_count
from .io import TiffWindow, result_tiffs

# Above this many pixels an image is treated as a whole painting: trained on the area around the
# region, applied tile by tile to files, shown as a pyramid (below it, everything stays in memory).
LARGE_IMAGE_PIXELS = 36_000_000
# The training area reaches this far beyond the region's box on every side (at least), so the
# network sees the surface around the hidden design too.
AREA_MARGIN = 512
# Without a region, a method that needs none trains on a central square of at most this side.
CENTRAL_AREA = 1536
# The training area holds at most this many pixels (the colour map's fit takes about 1 kB a
# pixel): a larger region is trained on its middle part.
MAX_TRAINING_PIXELS = 1536 * 1536
# The region's bounds are found reading this many rows of its mask at a time.
MASK_ROWS = 1024
# Pyramid levels stop once the longer side is at most this (a screenful).
PYRAMID_SMALLEST = 1024
PYRAMID_FOLDER = "pyramid"


def is_large(shape: Sequence[int]) -> bool:
    return math.prod(shape[:2]) > LARGE_IMAGE_PIXELS


def region_bounds(region_mask: Any) -> tuple[int, int, int, int]:
    """(y0, x0, y1, x1), end exclusive, of the non-zero pixels of an (H, W) mask — an array or a lazy
    source, read MASK_ROWS rows at a time. Raises InputError if it is empty."""
    height, width = region_mask.shape[:2]
    rows, cols = np.zeros(height, bool), np.zeros(width, bool)
    for top in range(0, height, MASK_ROWS):
        strip = np.asarray(region_mask[top : top + MASK_ROWS]).astype(bool)
        rows[top : top + strip.shape[0]] = strip.any(axis=1)
        cols |= strip.any(axis=0)
    if not rows.any():
        raise InputError("The region is empty: draw it over the hidden design.")
    (y0, y1), (x0, x1) = np.flatnonzero(rows)[[0, -1]], np.flatnonzero(cols)[[0, -1]]
    return int(y0), int(x0), int(y1) + 1, int(x1) + 1


def training_area(region_mask: Any, margin: int | None = None, max_pixels: int | None = None) -> tuple[slice, slice]:
    """Rows and columns of the region's bounding box grown by ``margin`` (default AREA_MARGIN) or its
    own size, whichever is larger, on every side, clipped to the image: the part training reads. An
    area of more than ``max_pixels`` (default MAX_TRAINING_PIXELS) is cut down, about the region's
    centre and in its proportions, with a warning, so that training fits in memory."""
    margin = AREA_MARGIN if margin is None else margin
    max_pixels = MAX_TRAINING_PIXELS if max_pixels is None else max_pixels
    y0, x0, y1, x1 = region_bounds(region_mask)
    grow_y, grow_x = max(margin, y1 - y0), max(margin, x1 - x0)
    height, width = region_mask.shape[:2]
    rows, cols = slice(max(0, y0 - grow_y), min(height, y1 + grow_y)), slice(max(0, x0 - grow_x), min(width, x1 + grow_x))
    pixels = (rows.stop - rows.start) * (cols.stop - cols.start)
    if pixels > max_pixels:
        shrink = math.sqrt(max_pixels / pixels)
        rows, cols = (
            _centred(start, stop, centre, shrink)
            for start, stop, centre in ((rows.start, rows.stop, (y0 + y1) // 2), (cols.start, cols.stop, (x0 + x1) // 2))
        )
        warnings.warn(
            f"The region and its surroundings are too large to train on at once; training on their middle "
            f"{rows.stop - rows.start}×{cols.stop - cols.start} pixels (rows {rows.start}–{rows.stop}, columns "
            f"{cols.start}–{cols.stop}).",
            UserWarning,
            stacklevel=2,
        )
    return rows, cols


def _centred(start: int, stop: int, centre: int, shrink: float) -> slice:
    """``shrink`` of [start, stop) as a window about ``centre``, kept inside [start, stop)."""
    length = max(1, int((stop - start) * shrink))
    first = min(max(start, centre - length // 2), stop - length)
    return slice(first, first + length)


def painting_area(shape: Sequence[int], region_mask: Any = None, double_sided: bool = False) -> tuple[slice, slice]:
    """Where a whole painting is trained: around the region (:func:`training_area`), or, for a
    double-sided panel or without a region, in the middle (:func:`central_area`)."""
    return training_area(region_mask) if region_mask is not None and not double_sided else central_area(shape)


# iter_separate_painting's ``painting_area`` argument (the painting's support) hides the function.
_training_area = painting_area


def central_area(shape: Sequence[int], side: int | None = None) -> tuple[slice, slice]:
    """The middle ``side``×``side`` pixels (default CENTRAL_AREA), or the whole image if smaller: where
    a method that needs no region trains when none is drawn."""
    side = CENTRAL_AREA if side is None else side
    return tuple(slice(max(0, n // 2 - side // 2), max(0, n // 2 - side // 2) + min(n, side)) for n in shape[:2])  # type: ignore[return-value]


class _Stopped(Exception):
    """Leaves :func:`result_tiffs` without committing (its files are removed)."""


def iter_apply_to_folder(
    model: TrainedModel,
    sources: Sources,
    out: Path,
    *,
    tile_size: int | None = None,
    device: str | None = None,
    stop: StopFlag | None = None,
    provenance: dict[str, Any] | None = None,
    pyramid: bool = False,
    calibrate: bool = True,
    support: Any = None,
    marked: dict[str, int] | None = None,
    layers: Sequence[str] = RESULT_LAYERS,
) -> Generator[TileProgress, None, dict[str, Path] | None]:
    """Apply ``model`` to the whole painting into float32 TIFFs of ``layers`` (default the six results) in ``out`` (which must exist: a
    :func:`result_set`'s folder, for the TIFFs to replace earlier results as a set);
    yields after every tile; returns their paths, or None if ``stop`` came first (then nothing is
    left behind). With ``pyramid``, 2× reductions go to ``out/pyramid`` (see :func:`open_pyramid`).
    ``calibrate``: check the X-ray's units first, as :func:`iter_apply` does; ``support`` and ``marked``
    are :func:`~napari_xraysep.core.streaming.iter_apply`'s."""
    shape = sources.check()
    try:
        with result_tiffs(out, shape, provenance, layers) as outputs:
            done = yield from iter_apply(
                model, sources, outputs, tile_size=tile_size, device=device, stop=stop, calibrate=calibrate,
                support=support, marked=marked,
            )
            if done < tile_count(shape, tile_size or model.config.tile_size):
                raise _Stopped
    except _Stopped:
        return None
    paths = {name: out / f"{name}.tif" for name in layers}
    if pyramid:
        for path in paths.values():
            write_pyramid(path, out / PYRAMID_FOLDER)
    return paths


def halve(image: Any, rows_per_block: int = 2048, out: Any = None) -> Any:
    """The 2×2 block mean of an (H, W) image (an odd last row or column is averaged alone), read in
    strips of rows so that only a strip is in memory; written into ``out`` (an array of the half
    size, e.g. a :class:`TiffWindow`) if given, else into a new float32 array."""
    height, width = image.shape
    out = np.empty(((height + 1) // 2, (width + 1) // 2), np.float32) if out is None else out
    for top in range(0, height, rows_per_block):
        strip = np.asarray(image[top : top + rows_per_block], dtype=np.float64)
        if strip.shape[0] % 2:
            strip = np.concatenate([strip, strip[-1:]])
        if width % 2:
            strip = np.concatenate([strip, strip[:, -1:]], axis=1)
        out[top // 2 : top // 2 + strip.shape[0] // 2] = strip.reshape(strip.shape[0] // 2, 2, -1, 2).mean(axis=(1, 3))
    return out


def write_pyramid(path: Path, folder: Path, smallest: int | None = None) -> list[Path]:
    """Halve the TIFF at ``path`` until its longer side is at most ``smallest`` (default
    PYRAMID_SMALLEST); each level is a TIFF ``folder/<stem>.<level>.tif`` (level 1 is half size).
    Each level is at most a quarter of the one before, so together they hold a third of the image."""
    smallest = PYRAMID_SMALLEST if smallest is None else smallest
    try:
        folder.mkdir(exist_ok=True)
        # Read strip by strip through a map made per access: a long-lived one would keep the whole
        # full-resolution file resident by the end.
        level, written = TiffWindow(path), []
        while max(level.shape) > smallest:
            written.append(folder / f"{path.stem}.{len(written) + 1}.tif")
            half = ((level.shape[0] + 1) // 2, (level.shape[1] + 1) // 2)
            tifffile.memmap(written[-1], shape=half, dtype=np.float32).flush()
            halve(level, out=TiffWindow(written[-1], writable=True))
            level = TiffWindow(written[-1])
    except OSError as error:
        raise OutputError(f"Could not write the overview levels to {folder}: {error.strerror or error}.") from error
    return written


def open_pyramid(path: Path) -> list[np.ndarray]:
    """The full-resolution TIFF at ``path`` and its reductions (:func:`write_pyramid`), memory-mapped
    read-only, largest first: napari's multiscale data."""
    levels = [tifffile.memmap(path, mode="r")]
    folder = path.parent / PYRAMID_FOLDER
    while (folder / f"{path.stem}.{len(levels)}.tif").is_file():
        levels.append(tifffile.memmap(folder / f"{path.stem}.{len(levels)}.tif", mode="r"))
    return levels


@dataclass(frozen=True)
class PaintingResult:
    """A whole-painting run: the model, the training area's own separation (None when a model was
    only applied), and the six TIFFs of the whole painting (None if stopped before they were done)."""

    model: TrainedModel
    area: tuple[slice, slice]
    area_result: SeparationResult | None
    paths: dict[str, Path] | None
    folder: Path
    marked: dict[str, int] | None = None  # defects marked tile by tile (streaming.iter_apply's counts)

    def notes(self) -> list[str]:
        """What a user is told about the input: the training area's support, and what was marked
        in the X-ray over the whole painting."""
        lines = [] if self.area_result is None else [n for n in self.area_result.notes() if not n.startswith("Marked")]
        line = defects_line(self.marked or {})
        return lines + ([line] if line else [])

    def provenance(self) -> dict[str, Any]:
        """What the result layers record of their making (the TIFFs in ``folder`` hold the full record)."""
        (top, bottom), (left, right) = (self.area[0].start, self.area[0].stop), (self.area[1].start, self.area[1].stop)
        return {
            "folder": str(self.folder),
            "steps_trained": self.model.steps_trained,
            "settings": self.model.config.to_dict(),
            "training_area": [[top, bottom], [left, right]],
            "side_channels": len(self.model.side_normalisations),
            "defects_marked": self.marked,
        }


def iter_separate_painting(
    sources: Sources,
    out: Path,
    *,
    region_mask: np.ndarray | None = None,
    config: SeparationConfig | None = None,
    model: TrainedModel | None = None,
    stop: StopFlag | None = None,
    provenance: dict[str, Any] | None = None,
    checkpoint: Path | None = None,
    checkpoint_every_s: float = 300.0,
    pyramid: bool = True,
    area: tuple[slice, slice] | None = None,
    painting_area: Any = None,
    **settings: Any,
) -> Generator[TrainingProgress | TileProgress, None, PaintingResult]:
    """Train on the area around ``region_mask`` (without a region — a double-sided panel, or the colour
    map, which needs none — on the central area, :func:`central_area`), save the model, then apply it
    to the whole painting (with a pyramid unless ``pyramid`` is False), and record the run in
    ``run.json`` with ``provenance``. Everything is written as one set (:func:`result_set`): it
    replaces ``out``'s results only once whole; if the run fails, ``out`` is left as it was (but for
    the new ``model.pt`` where ``out`` held none, so the training is not lost). ``area`` is the training
    area if already chosen (:func:`painting_area`). ``region_mask`` may be lazy (a mask
    file's :class:`~napari_xraysep.io.ImageSource`, a :class:`~napari_xraysep.core.data.BoxRegion`):
    only its bounds and the area are read. ``config`` and the ``settings`` are as for
    :func:`iter_separate`, as is ``checkpoint``, but a relative path is taken inside the new set (the
    CLI's ``model.pt``); with 0 steps a ``model`` is only applied. A stop ends the run with the set
    done so far (the model and run.json; the whole painting can be done later with the saved model).
    ``painting_area`` (a box, a mask — lazy is fine — or "full") is where the painting is: the training
    area's separation keeps inside it and every result outside it is NaN; without it the support is
    sought in the training area only (the whole painting is not scanned for a film margin)."""
    shape = sources.check()
    if region_mask is not None and tuple(region_mask.shape) != tuple(shape):
        raise InputError(
            f"The region mask is {'×'.join(map(str, region_mask.shape))} but the images are {'×'.join(map(str, shape))}."
        )
    resolved = resolve_config(config, model, settings)
    if resolved.training_steps == 0 and model is None:
        raise InputError("Nothing to do: with 0 training steps a trained model must be given.")
    support = painting_mask(painting_area, shape)
    started = time.perf_counter()
    with result_set(out) as staging:
        if checkpoint is not None and not checkpoint.is_absolute():
            checkpoint = staging / checkpoint
        area_result, paths = None, None
        if resolved.training_steps > 0:
            area = area or _training_area(shape, region_mask, sources.double_sided)
            cropped = sources.crop(area)
            area_result = yield from iter_separate(
                cropped.x_mixed, cropped.rgb_surface, None if region_mask is None else np.asarray(region_mask[area]),
                rgb_back=cropped.rgb_back, mirror_back=cropped.mirror_back, side_channels=cropped.side_channels,
                config=config, model=model, stop=stop, checkpoint=checkpoint, checkpoint_every_s=checkpoint_every_s,
                painting_area=None if support is None else np.asarray(support[area]), **settings,
            )
            model = area_result.model
            save_model(model, staging / "model.pt")
        else:
            area = (slice(0, shape[0]), slice(0, shape[1]))
        assert model is not None
        record = {**(provenance or {}), **PaintingResult(model, area, None, None, out).provenance()}
        if area_result is None:  # only applied: the X-ray may be in other units than the model's
            model, calibration = calibrated(model, sources, resolved.device)
            record |= {"x_normalisation": model.x_normalisation.to_dict(), "x_calibration": None if calibration is None else calibration.to_dict()}
        marked: dict[str, int] = {}
        if area_result is None or not area_result.stopped_early:
            written = yield from iter_apply_to_folder(
                model, sources, staging, device=resolved.device, stop=stop,
                provenance=json.loads(json.dumps(record, default=str)), pyramid=pyramid, calibrate=False,
                support=support, marked=marked,
            )
            paths = None if written is None else {name: out / path.relative_to(staging) for name, path in written.items()}
        record |= {"defects_marked": marked, "shape": list(shape), "timings_s": {"total_s": time.perf_counter() - started}}
        if area_result is not None:
            record["loss_history"] = model.loss_history
        atomic_write(staging / "run.json", lambda tmp: Path(tmp).write_text(json.dumps(record, indent=2, default=str)))
    return PaintingResult(model, area, area_result, paths, out, marked)


def painting_mask(painting_area: Any, shape: tuple[int, int]) -> Any:
    """The user's painting area over a whole painting as a lazy (H, W) bool array (None: no limit):
    a box as a :class:`~napari_xraysep.core.data.BoxRegion`, a mask as given (non-zero inside)."""
    if painting_area is None or (isinstance(painting_area, str) and painting_area.strip().lower() == "full"):
        return None
    if isinstance(painting_area, str):
        raise InputError(f"The painting area must be 'full', a box Y0,X0,Y1,X1 or a mask; got {painting_area!r}.")
    if getattr(painting_area, "ndim", 1) == 2:
        if tuple(painting_area.shape) != tuple(shape):
            raise InputError(
                f"The painting area is {'×'.join(map(str, painting_area.shape))} but the images are {'×'.join(map(str, shape))}."
            )
        return painting_area
    return BoxRegion([list(painting_area)], shape)
