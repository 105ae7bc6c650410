"""Where a whole painting is trained and where the painting is: pure arithmetic on shapes and (lazy)
masks, no files. A painting of tens of megapixels is trained on an area around the drawn region (the
relation between photograph and X-ray is local, and the area fits in memory); the pipeline applies
the model to the rest tile by tile."""

from __future__ import annotations

import math
import warnings
from collections.abc import Sequence
from typing import Any

import numpy as np

from .regions import BoxRegion
from .errors import InputError

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


def is_large(shape: Sequence[int]) -> bool:
    return math.prod(shape[:2]) > LARGE_IMAGE_PIXELS


def _rows_and_columns(region_mask: Any) -> tuple[np.ndarray, np.ndarray]:
    """Which rows and which columns of an (H, W) mask — an array or a lazy source, read MASK_ROWS
    rows at a time — hold a non-zero pixel: (H,) and (W,) bool."""
    height, width = region_mask.shape[:2]
    rows, cols = np.zeros(height, bool), np.zeros(width, bool)
    for top in range(0, height, MASK_ROWS):
        strip = np.asarray(region_mask[top : top + MASK_ROWS]).astype(bool)
        rows[top : top + strip.shape[0]] = strip.any(axis=1)
        cols |= strip.any(axis=0)
    return rows, cols


def region_for_method(region_mask: Any, method: str, shape: Sequence[int]) -> Any:
    """The region a run uses: ``region_mask`` as given, or None when it selects no pixel and
    ``method`` is the colour map — which needs no region (a region only lowers the weight of its
    pixels in the fit) — with a warning saying so. The auto-encoder needs its region: an empty one
    is left to the checks to refuse in its terms, as is a mask of another ``shape``."""
    if region_mask is None or method != "colour_map" or tuple(region_mask.shape[:2]) != tuple(shape[:2]):
        return region_mask
    if _rows_and_columns(region_mask)[0].any():
        return region_mask
    warnings.warn(
        "The region selects no pixel; the colour map needs none, so it fits the whole image alike, "
        "as without a region.",
        UserWarning,
        stacklevel=3,
    )
    return None


def region_bounds(region_mask: Any) -> tuple[int, int, int, int]:
    """(y0, x0, y1, x1), end exclusive, of the non-zero pixels of an (H, W) mask — an array or a lazy
    source, read MASK_ROWS rows at a time. Raises InputError if it is empty."""
    rows, cols = _rows_and_columns(region_mask)
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


def central_area(shape: Sequence[int], side: int | None = None) -> tuple[slice, slice]:
    """The middle ``side``×``side`` pixels (default CENTRAL_AREA), or the whole image if smaller: where
    a method that needs no region trains when none is drawn."""
    side = CENTRAL_AREA if side is None else side
    return tuple(slice(max(0, n // 2 - side // 2), max(0, n // 2 - side // 2) + min(n, side)) for n in shape[:2])  # type: ignore[return-value]


def painting_mask(painting_area: Any, shape: tuple[int, int]) -> Any:
    """The user's painting area over a whole painting as a lazy (H, W) bool array (None: no limit):
    a box as a :class:`~napari_xraysep.core.regions.BoxRegion`, a mask as given (non-zero inside)."""
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
    return BoxRegion([list(painting_area)], shape, "painting area")
