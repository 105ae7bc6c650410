"""Files in and out: TIFF images (tifffile) with the run's provenance, model-free PNG montages.

Writes are atomic — a temporary file in the same folder, renamed into place — so an interrupted
run never leaves a half-written result where a good one is expected.
"""

from __future__ import annotations

import contextlib
import json
import os
import struct
import tempfile
import zlib
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import tifffile

from .core import RESULT_LAYERS, SeparationResult, save_model
from .core.errors import InputError, OutputError
from .core.files import atomic_write

PROVENANCE_KEY = "napari_xraysep"


def read_image(path: str | os.PathLike[str]) -> np.ndarray:
    """First image of a TIFF (full resolution of a pyramid), as stored; clear error if unreadable."""
    path = Path(path)
    if not path.is_file():
        raise InputError(f"Image file {path} does not exist.")
    try:
        with tifffile.TiffFile(path) as tif:
            if not tif.series:
                raise InputError(f"Cannot read {path}: it holds no image (damaged, or not a TIFF).")
            return np.asarray(tif.series[0].levels[0].asarray())
    except InputError:
        raise
    except Exception as error:  # tifffile raises many types for damaged files
        raise InputError(f"Cannot read {path} as a TIFF image ({type(error).__name__}: {error}).") from error


def open_image(path: str | os.PathLike[str]) -> np.ndarray:
    """An image to read tile by tile: memory-mapped when the TIFF is uncompressed and contiguous
    (no pixel is read until used), otherwise read whole (compressed files cannot be mapped)."""
    path = Path(path)
    try:
        return tifffile.memmap(path, mode="r")
    except (ValueError, OSError, tifffile.TiffFileError, IndexError):
        # compressed, tiled or damaged: read_image reads it whole or names the problem
        return read_image(path)


@contextlib.contextmanager
def result_memmaps(
    out: Path, shape: tuple[int, int], provenance: dict[str, Any] | None = None
) -> Iterator[dict[str, np.ndarray]]:
    """Five float32 TIFFs memory-mapped for writing tile by tile, under temporary names in ``out``;
    renamed into place only if the block finishes, removed otherwise (nothing half-written is left)."""
    temporaries: dict[str, Path] = {}
    arrays: dict[str, np.ndarray] = {}
    try:
        for name in RESULT_LAYERS:
            handle, temporary = tempfile.mkstemp(prefix=f".{name}.", suffix=".tif.tmp", dir=out)
            os.close(handle)
            temporaries[name] = Path(temporary)
            metadata = {PROVENANCE_KEY: json.loads(json.dumps({**(provenance or {}), "layer": name}, default=str))}
            arrays[name] = tifffile.memmap(temporary, shape=shape, dtype=np.float32, metadata=metadata)
        yield arrays
        for name, array in arrays.items():
            array.flush()
        arrays.clear()  # unmap before renaming (Windows cannot rename a mapped file)
        for name, temporary in temporaries.items():
            os.replace(temporary, out / f"{name}.tif")
    except OSError as error:
        raise OutputError(f"Could not write the results to {out}: {error.strerror or error}; nothing was left half-written.") from error
    finally:
        arrays.clear()
        for temporary in temporaries.values():
            temporary.unlink(missing_ok=True)


def read_provenance(path: str | os.PathLike[str]) -> dict[str, Any] | None:
    """The provenance :func:`write_tiff` stored in a TIFF, or None."""
    with tifffile.TiffFile(path) as tif:
        shaped = tif.shaped_metadata or ()
    return shaped[0].get(PROVENANCE_KEY) if shaped else None


def write_tiff(path: str | os.PathLike[str], image: np.ndarray, provenance: dict[str, Any] | None = None) -> Path:
    """Write ``image`` keeping its values (float32 stays float32), provenance as JSON in the description
    (tifffile's own "shaped" metadata, so tifffile and napari read the image back unchanged)."""
    metadata = {PROVENANCE_KEY: json.loads(json.dumps(provenance or {}, default=str))}
    return atomic_write(path, lambda tmp: tifffile.imwrite(tmp, np.asarray(image), metadata=metadata))


def to_display(image: np.ndarray, limits: tuple[float, float] | None = None) -> np.ndarray:
    """uint8 for viewing: ``limits`` (or the 0.5–99.5 percentiles) stretched to 0–255."""
    image = np.asarray(image, dtype=np.float64)
    low, high = limits if limits is not None else np.percentile(image, [0.5, 99.5])
    scaled = (image - low) / (high - low if high > low else 1.0)
    return (np.clip(scaled, 0, 1) * 255 + 0.5).astype(np.uint8)


def write_png(path: str | os.PathLike[str], image: np.ndarray) -> Path:
    """A minimal PNG encoder (8-bit gray or RGB), so montages need no imaging library."""
    image = np.ascontiguousarray(image, dtype=np.uint8)
    if image.ndim == 2:
        colour_type, rows = 0, image
    elif image.ndim == 3 and image.shape[2] == 3:
        colour_type, rows = 2, image.reshape(image.shape[0], -1)
    else:
        raise ValueError(f"write_png needs (H, W) or (H, W, 3) uint8; got {image.shape}")
    raw = b"".join(b"\x00" + row.tobytes() for row in rows)

    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF)

    header = struct.pack(">IIBBBBB", image.shape[1], image.shape[0], 8, colour_type, 0, 0, 0)
    png = b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", zlib.compress(raw, 6)) + chunk(b"IEND", b"")
    return atomic_write(path, lambda tmp: Path(tmp).write_bytes(png))


def montage(panels: Sequence[np.ndarray], columns: int, gap: int = 4) -> np.ndarray:
    """Tile uint8 panels (gray or RGB, same H×W) into one RGB image, row by row."""
    panels = [np.repeat(p[..., None], 3, axis=2) if p.ndim == 2 else p for p in panels]
    height, width = panels[0].shape[:2]
    rows = -(-len(panels) // columns)
    sheet = np.full((rows * (height + gap) - gap, columns * (width + gap) - gap, 3), 255, dtype=np.uint8)
    for index, panel in enumerate(panels):
        r, c = divmod(index, columns)
        sheet[r * (height + gap) : r * (height + gap) + height, c * (width + gap) : c * (width + gap) + width] = panel
    return sheet


def write_results(out: Path, result: SeparationResult, extra: dict[str, Any] | None = None) -> list[Path]:
    """The five images as float32 TIFFs with provenance, ``model.pt`` and ``run.json``; the model first,
    because it is the costliest thing to lose."""
    provenance = result.provenance()
    written = [save_model(result.model, out / "model.pt")]
    for name in RESULT_LAYERS:
        written.append(write_tiff(out / f"{name}.tif", getattr(result, name), {**provenance, "layer": name}))
    record = {**provenance, **(extra or {}), "loss_history": result.loss_history, "outputs": [p.name for p in written]}
    written.append(atomic_write(out / "run.json", lambda tmp: Path(tmp).write_text(json.dumps(record, indent=2, default=str))))
    return written
