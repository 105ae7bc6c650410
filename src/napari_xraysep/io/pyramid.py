"""Overview levels of a whole painting's result TIFFs: 2× reductions written beside them, so a viewer
shows the results at any zoom by reading only what is on screen."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import tifffile

from ..core.errors import OutputError
from .files import PYRAMID_FOLDER
from .write import TiffWindow

# Pyramid levels stop once the longer side is at most this (a screenful).
PYRAMID_SMALLEST = 1024


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
