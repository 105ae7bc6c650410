"""napari reader for TIFF: X-rays, photographs, masks — memory-mapped when the file allows it."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import tifffile

from .io import read_provenance

TIFF_SUFFIXES = (".tif", ".tiff")


def napari_get_reader(path: str | list[str]) -> Callable[[str | list[str]], list[tuple]] | None:
    """Claim .tif/.tiff paths; anything else is left to other readers."""
    paths = [path] if isinstance(path, str) else list(path)
    if not paths or not all(str(p).lower().endswith(TIFF_SUFFIXES) for p in paths):
        return None
    return read_tiffs


def read_tiffs(path: str | list[str]) -> list[tuple[Any, dict[str, Any], str]]:
    paths = [path] if isinstance(path, str) else list(path)
    return [read_tiff_layer(Path(p)) for p in paths]


def _is_rgb(shape: tuple[int, ...]) -> bool:
    return len(shape) == 3 and shape[-1] in (3, 4)


def read_tiff_layer(path: Path) -> tuple[Any, dict[str, Any], str]:
    """One Image layer: grayscale or RGB(A), a stack, or a pyramid as a multiscale layer.

    Uncompressed files are memory-mapped (opening a multi-GB scan costs no memory up front).
    A file that cannot be read raises ``ValueError`` with the reason, which napari reports.
    """
    try:
        with tifffile.TiffFile(path) as tif:
            series = tif.series[0]
            levels = len(series.levels)
            if levels > 1:
                data: Any = [np.asarray(level.asarray()) for level in series.levels]
                shape = data[0].shape
            else:
                try:
                    data = tifffile.memmap(path, mode="r")
                except (ValueError, OSError):  # compressed or not contiguous: read it
                    data = series.asarray()
                shape = data.shape
    except Exception as error:  # tifffile raises many types for damaged files
        raise ValueError(f"napari-xraysep cannot read {path.name}: {error}") from error
    kwargs: dict[str, Any] = {"name": path.stem, "rgb": _is_rgb(shape), "multiscale": levels > 1}
    provenance = read_provenance(path)
    if provenance:
        kwargs["metadata"] = {"xraysep": provenance}
    if not kwargs["rgb"]:
        kwargs["colormap"] = "gray"
    return data, kwargs, "image"
