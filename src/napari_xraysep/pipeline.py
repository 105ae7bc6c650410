"""A whole painting, streamed from and to disk — what ``xraysep apply`` and the dock's big-image path
share (no Qt).

A painting of tens of megapixels is trained on an area around the drawn region
(:mod:`~napari_xraysep.core.areas`), then the model is applied to every pixel tile by tile
(:func:`~napari_xraysep.core.streaming.iter_apply`) into float32 TIFFs, with overview levels beside
them (:mod:`~napari_xraysep.io.pyramid`), and the run is recorded in ``run.json``.
"""

from __future__ import annotations

import json
import time
from collections.abc import Generator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from .core import RESULT_LAYERS, SeparationConfig, SeparationResult, TrainedModel, areas
from .core import separation as core_separation
from .core.training import StopFlag, TrainingProgress
from .core.errors import InputError
from .core.separation import defects_line, resolve_config
from .core.sources import Sources
from .core.streaming import TileProgress, calibrated, iter_apply, tile_count
from .io import result_tiffs
from .io.files import atomic_write, result_set
from .io.modelfile import checkpoint_to, save_model
from .io.pyramid import PYRAMID_FOLDER, write_pyramid
from .io.warmstart import warm_start_state


def iter_separate(*args: Any, **kwargs: Any) -> Generator[TrainingProgress, None, SeparationResult]:
    """:func:`napari_xraysep.core.separation.iter_separate` with the shipped warm-start weights at hand
    (``shipped_weights``, read by :func:`~napari_xraysep.io.warmstart.warm_start_state`): what
    ``napari_xraysep.iter_separate``, the CLI and the dock run."""
    kwargs.setdefault("shipped_weights", warm_start_state)
    return core_separation.iter_separate(*args, **kwargs)


def separate(*args: Any, **kwargs: Any) -> SeparationResult:
    """:func:`napari_xraysep.core.separation.separate` with the shipped warm-start weights at hand, as
    :func:`iter_separate`: what ``napari_xraysep.separate`` is."""
    kwargs.setdefault("shipped_weights", warm_start_state)
    return core_separation.separate(*args, **kwargs)


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
) -> Generator[TileProgress, None, dict[str, Path] | None]:
    """Apply ``model`` to the whole painting into six float32 TIFFs in ``out`` (which must exist: a
    :func:`result_set`'s folder, for the TIFFs to replace earlier results as a set);
    yields after every tile; returns their paths, or None if ``stop`` came first (then nothing is
    left behind). With ``pyramid``, 2× reductions go to ``out/pyramid``
    (:func:`~napari_xraysep.io.pyramid.open_pyramid` reads them).
    ``calibrate``: check the X-ray's units first, as :func:`iter_apply` does; ``support`` and ``marked``
    are :func:`~napari_xraysep.core.streaming.iter_apply`'s."""
    shape = sources.check()
    try:
        with result_tiffs(out, shape, provenance) as outputs:
            done = yield from iter_apply(
                model, sources, outputs, tile_size=tile_size, device=device, stop=stop, calibrate=calibrate,
                support=support, marked=marked,
            )
            if done < tile_count(shape, tile_size or model.config.tile_size):
                raise _Stopped
    except _Stopped:
        return None
    paths = {name: out / f"{name}.tif" for name in RESULT_LAYERS}
    if pyramid:
        for path in paths.values():
            write_pyramid(path, out / PYRAMID_FOLDER)
    return paths


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
    map, which needs none — on the central area, :func:`~napari_xraysep.core.areas.central_area`), save
    the model, then apply it to the whole painting (with a pyramid unless ``pyramid`` is False), and
    record the run in ``run.json`` with ``provenance``. Everything is written as one set
    (:func:`result_set`): it replaces ``out``'s results only once whole; if the run fails, ``out`` is
    left as it was (but for the new ``model.pt`` where ``out`` held none, so the training is not lost).
    ``area`` is the training area if already chosen (:func:`~napari_xraysep.core.areas.painting_area`).
    ``region_mask`` may be lazy (a mask file's :class:`~napari_xraysep.io.ImageSource`, a
    :class:`~napari_xraysep.core.data.BoxRegion`): only its bounds and the area are read. ``config``
    and the ``settings`` are as for :func:`iter_separate`; ``checkpoint`` is a model file to save to
    while training (a relative path is taken inside the new set: the CLI's ``model.pt``); with 0 steps
    a ``model`` is only applied. A stop ends the run with the set
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
    support = areas.painting_mask(painting_area, shape)
    started = time.perf_counter()
    with result_set(out) as staging:
        if checkpoint is not None and not checkpoint.is_absolute():
            checkpoint = staging / checkpoint
        area_result, paths = None, None
        if resolved.training_steps > 0:
            area = area or areas.painting_area(shape, region_mask, sources.double_sided)
            cropped = sources.crop(area)
            area_result = yield from iter_separate(
                cropped.x_mixed, cropped.rgb_surface, None if region_mask is None else np.asarray(region_mask[area]),
                rgb_back=cropped.rgb_back, mirror_back=cropped.mirror_back, side_channels=cropped.side_channels,
                config=config, model=model, stop=stop,
                checkpoint=None if checkpoint is None else checkpoint_to(checkpoint), checkpoint_every_s=checkpoint_every_s,
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


