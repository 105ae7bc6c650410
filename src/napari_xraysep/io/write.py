"""Files out: float TIFFs (tifffile) with the run's provenance, written whole or tile by tile, and
model-free PNG montages.

Writes are atomic — a temporary file in the same folder, renamed into place — so an interrupted
run never leaves a half-written result where a good one is expected.
"""

from __future__ import annotations

import contextlib
import json
import os
import tempfile
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import tifffile
from PIL import Image, ImageDraw, ImageFont

from ..core import RESULT_LAYERS, SeparationResult
from ..core.errors import OutputError
from .files import as_if_opened, atomic_write
from .modelfile import save_model
from .spacing import PixelSpacing, resolution_tags

PROVENANCE_KEY = "napari_xraysep"
# The provenance entry (a PixelSpacing.record()) that a written TIFF's resolution tags repeat.
SPACING_KEY = "pixel_spacing"


def _tags(provenance: dict[str, Any] | None) -> dict[str, Any]:
    """tifffile arguments: the provenance as JSON metadata, and the resolution tags (pixels per cm)
    of the pixel spacing it records, so that other software measures the image in mm too."""
    provenance = provenance or {}
    metadata = {PROVENANCE_KEY: json.loads(json.dumps(provenance, default=str))}
    return {"metadata": metadata, **resolution_tags(PixelSpacing.from_record(provenance.get(SPACING_KEY)))}


class TiffWindow:
    """An uncompressed, contiguous TIFF image read and written like an array, through a memory map
    made for each access and released right after it. A long-lived map keeps every page it ever
    touched resident (a whole painting's worth by the end); this keeps one block's."""

    def __init__(self, path: Path, writable: bool = False) -> None:
        mapped = tifffile.memmap(path, mode="r+" if writable else "r")  # raises if it cannot be mapped
        self.path, self.writable = Path(path), writable
        self.shape, self.dtype, self.offset = mapped.shape, mapped.dtype, mapped.offset
        self.ndim = len(self.shape)
        del mapped

    def _map(self) -> np.memmap:
        return np.memmap(self.path, self.dtype, "r+" if self.writable else "r", self.offset, self.shape)

    def __getitem__(self, index: Any) -> np.ndarray:
        return np.array(self._map()[index])

    def __setitem__(self, index: Any, value: Any) -> None:
        if not self.writable:
            raise OSError(f"{self.path} is open for reading only")
        # Unmapped at once; the written pages stay in the system's file cache, not in this process.
        self._map()[index] = value

    def __array__(self, dtype: Any = None, copy: Any = None) -> np.ndarray:
        return np.asarray(self[...], dtype=dtype)


@contextlib.contextmanager
def result_tiffs(
    out: Path, shape: tuple[int, int], provenance: dict[str, Any] | None = None, layers: Sequence[str] = RESULT_LAYERS
) -> Iterator[dict[str, TiffWindow]]:
    """The ``layers``' float32 TIFFs (the six results by default) to write tile by tile (:class:`TiffWindow`), with the provenance (and the
    resolution tags of its pixel spacing, as :func:`write_tiff`), under temporary names in
    ``out``; renamed into place only if the block finishes, removed otherwise (nothing half-written
    is left). ``out`` is a :func:`result_set`'s folder where they are to replace earlier results."""
    temporaries: dict[str, Path] = {}
    arrays: dict[str, TiffWindow] = {}
    try:
        for name in layers:
            handle, temporary = tempfile.mkstemp(prefix=f".{name}.", suffix=".tif.tmp", dir=out)
            os.close(handle)
            temporaries[name] = Path(temporary)
            tifffile.memmap(temporary, shape=shape, dtype=np.float32, **_tags({**(provenance or {}), "layer": name})).flush()
            arrays[name] = TiffWindow(Path(temporary), writable=True)
        yield arrays
        arrays.clear()
        for name, temporary in temporaries.items():
            as_if_opened(temporary)
            os.replace(temporary, out / f"{name}.tif")
    except OSError as error:
        raise OutputError(f"Could not write the results to {out}: {error.strerror or error}; nothing was left half-written.") from error
    finally:
        arrays.clear()
        for temporary in temporaries.values():
            temporary.unlink(missing_ok=True)


def write_tiff(
    path: str | os.PathLike[str], image: np.ndarray, provenance: dict[str, Any] | None = None, rgb: bool | None = None
) -> Path:
    """Write ``image`` keeping its values (float32 stays float32), provenance as JSON in the description
    (tifffile's own "shaped" metadata, so tifffile and napari read the image back unchanged). ``rgb``
    says whether the last axis holds colours (a napari layer knows); if None, an (H, W, 3 or 4) image
    is taken for one RGB(A) page. Said explicitly either way, as tifffile will stop guessing it.
    A pixel spacing in the provenance (``provenance["pixel_spacing"]``, a :meth:`PixelSpacing.record`)
    is also written as XResolution/YResolution in pixels per centimetre."""
    image = np.asarray(image)
    shaped_like_colour = image.ndim == 3 and image.shape[-1] in (3, 4)
    colour = shaped_like_colour if rgb is None else bool(rgb) and shaped_like_colour
    tags = _tags(provenance)
    return atomic_write(path, lambda tmp: tifffile.imwrite(tmp, image, photometric="rgb" if colour else "minisblack", **tags))


def to_display(image: np.ndarray, limits: tuple[float, float] | None = None) -> np.ndarray:
    """uint8 for viewing: ``limits`` (or the 0.5–99.5 percentiles of the finite values) stretched to
    0–255; missing pixels (NaN: outside the painting) black."""
    image = np.asarray(image, dtype=np.float64)
    finite = np.isfinite(image)
    if limits is None:
        limits = tuple(np.percentile(image[finite], [0.5, 99.5])) if finite.any() else (0.0, 1.0)
    low, high = limits
    scaled = np.where(finite, (image - low) / (high - low if high > low else 1.0), 0.0)
    return (np.clip(scaled, 0, 1) * 255 + 0.5).astype(np.uint8)


def write_png(path: str | os.PathLike[str], image: np.ndarray) -> Path:
    """Write an 8-bit gray ``(H, W)`` or RGB ``(H, W, 3)`` image as a PNG (Pillow), atomically.

    Raises ``ValueError`` for any other shape and :class:`OutputError` when the file cannot be written.
    """
    image = np.ascontiguousarray(image, dtype=np.uint8)
    if not (image.ndim == 2 or (image.ndim == 3 and image.shape[2] == 3)):
        raise ValueError(f"write_png needs (H, W) or (H, W, 3) uint8; got {image.shape}")
    # The temporary file's name ends in .tmp, so the format is named, not guessed from the suffix.
    return atomic_write(path, lambda tmp: Image.fromarray(image).save(tmp, format="PNG"))


# The titles' size (Pillow's built-in font; its bitmap fallback, without FreeType, is smaller) and the
# height of the white band above each panel that holds its title.
TITLE_SIZE, TITLE_BAND = 12, 18


def montage(
    panels: Sequence[np.ndarray], columns: int, gap: int = 4, titles: Sequence[str] | None = None
) -> np.ndarray:
    """Tile uint8 panels (gray or RGB, same H×W) into one RGB image, row by row; with ``titles`` (one
    per panel), each title in black on a white band of TITLE_BAND px above its panel (Pillow's built-in
    font: nothing is read or downloaded), so that the image alone says which panel is which."""
    panels = [np.repeat(p[..., None], 3, axis=2) if p.ndim == 2 else p for p in panels]
    if titles is not None and len(titles) != len(panels):
        raise ValueError(f"montage needs one title per panel; got {len(titles)} for {len(panels)}")
    height, width = panels[0].shape[:2]
    band = 0 if titles is None else TITLE_BAND
    cell = band + height
    rows = -(-len(panels) // columns)
    sheet = np.full((rows * (cell + gap) - gap, columns * (width + gap) - gap, 3), 255, dtype=np.uint8)
    for index, panel in enumerate(panels):
        r, c = divmod(index, columns)
        top = r * (cell + gap) + band
        sheet[top : top + height, c * (width + gap) : c * (width + gap) + width] = panel
    if titles is None:
        return sheet
    image = Image.fromarray(sheet)
    draw, font = ImageDraw.Draw(image), ImageFont.load_default(size=TITLE_SIZE)
    for index, title in enumerate(titles):
        r, c = divmod(index, columns)
        draw.text((c * (width + gap) + 2, r * (cell + gap) + 2), title, fill=(0, 0, 0), font=font)
    return np.asarray(image)


def write_results(out: Path, result: SeparationResult, extra: dict[str, Any] | None = None) -> list[Path]:
    """The images (:meth:`SeparationResult.layers`) as float32 TIFFs with provenance, ``model.pt`` and ``run.json`` in the folder
    ``out``; the model first, because it is the costliest thing to lose. Each file is written whole
    or not at all; to replace an earlier result set as one, write into a :func:`result_set`'s folder.
    A pixel spacing in ``extra`` (``"pixel_spacing"``) goes into every image's provenance and
    resolution tags; the ``inputs`` and ``input_files`` it names into every image's provenance too (an
    image copied out of its folder says what it was made from, as ``apply``'s do)."""
    carried = {key: extra[key] for key in (SPACING_KEY, "inputs", "input_files") if extra and key in extra}
    provenance = result.provenance() | carried
    written = [save_model(result.model, out / "model.pt")]
    for name, image in result.layers().items():
        written.append(write_tiff(out / f"{name}.tif", image, {**provenance, "layer": name}))
    record = {**provenance, **(extra or {}), "loss_history": result.loss_history, "outputs": [p.name for p in written]}
    written.append(write_record(out, record))
    return written


def write_record(out: Path, record: dict[str, Any]) -> Path:
    """A run's record as ``out/run.json`` (indented JSON, values JSON cannot hold as text), written
    whole or not at all; every face's run ends here."""
    return atomic_write(out / "run.json", lambda tmp: Path(tmp).write_text(json.dumps(record, indent=2, default=str)))
