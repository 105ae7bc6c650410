"""Where in the painting: the user's region (where the hidden design shows most) and painting area.

Boxes (``(y0, x0, y1, x1)``, end exclusive) clipped to the image (:func:`clip_boxes`), as a mask
(:func:`region_from_boxes`) or a lazy one computed block by block (:class:`BoxRegion`); a region
mask checked (:func:`check_region`); the painting area as a :class:`~.support.Support`
(:func:`painting_support`). Apart from :mod:`.data` because the faces and the streamed whole-painting
path build regions without preparing inputs.
"""

from __future__ import annotations

import math
import warnings
from collections.abc import Sequence
from typing import Any

import numpy as np

from .checks import describe_shape
from .errors import InputError
from .masks import user_mask
from .support import Support, support_from_mask, whole_frame


def check_region(region_mask: np.ndarray, shape: tuple[int, int]) -> np.ndarray:
    """A boolean H×W mask with at least one pixel set (non-zero values count as inside)."""
    return user_mask(
        region_mask, shape, "The region mask",
        "The region is empty: draw the area where the hidden design shows most (it is replaced "
        "by the grayscale photograph in the labeled surface X-ray).",
    )


def clip_boxes(
    boxes: Sequence[Sequence[float]], shape: tuple[int, int], what: str = "region box"
) -> list[tuple[int, int, int, int]]:
    """``(y0, x0, y1, x1)`` rectangles (end exclusive) rounded and clipped to an image of ``shape``.

    A box partly outside is clipped with a warning; one wholly outside, or empty, is an error, and
    so is one of fractions (every coordinate within −1–2, not all whole: rounded, it would be a pixel),
    because silently dropping it would train on a region the user did not mean; so is a coordinate
    that is not a finite number (NaN, infinity). ``what`` names the box in the messages ("region
    box", "painting area").
    """
    height, width = shape
    clipped = []
    for box in boxes:
        if len(box) != 4:
            raise InputError(f"A {what} needs four numbers Y0,X0,Y1,X1; got {list(box)}.")
        try:
            values = [float(v) for v in box]
        except (TypeError, ValueError) as error:
            raise InputError(f"A {what} needs four numbers Y0,X0,Y1,X1; got {list(box)}.") from error
        if not all(math.isfinite(v) for v in values):  # round() would fail on them with a traceback
            raise InputError(f"A {what} needs four finite numbers Y0,X0,Y1,X1 in pixels; got {','.join(map(str, box))}.")
        typed = ",".join(f"{v:.12g}" for v in values)  # as the user gave it (1e+300, not 300 digits; 1234567 whole)
        if all(-1 <= v <= 2 for v in values) and any(v != round(v) for v in values):
            # '0.2,0.2,0.8,0.8' rounded to a one-pixel box at the corner, silently; '-0.1,0.1,0.5,0.5' and
            # '0.2,0.2,0.8,1.5' (fractions a little off) to an empty box or a 1×2 one.
            pixels = ",".join(str(round(v * side)) for v, side in zip(values, (height, width, height, width)))
            raise InputError(
                f"The {what} {typed} looks like fractions of the image: give it in "
                f"pixels, Y0,X0,Y1,X1 (those fractions of this {height}×{width} image are {pixels})."
            )
        y0, x0, y1, x1 = (round(v) for v in values)
        if y1 <= y0 or x1 <= x0:
            raise InputError(f"The {what} {typed} is empty: Y1 must exceed Y0 and X1 exceed X0.")
        cy0, cx0, cy1, cx1 = max(y0, 0), max(x0, 0), min(y1, height), min(x1, width)
        if cy1 <= cy0 or cx1 <= cx0:
            raise InputError(
                f"The {what} {typed} lies wholly outside the {height}×{width} image."
            )
        if (cy0, cx0, cy1, cx1) != (y0, x0, y1, x1):
            warnings.warn(
                f"The {what} {typed} reaches outside the {height}×{width} image; "
                f"clipped to {cy0},{cx0},{cy1},{cx1}.",
                UserWarning,
                stacklevel=3,
            )
        clipped.append((cy0, cx0, cy1, cx1))
    if not clipped:
        raise InputError(f"No {what} given.")
    return clipped


def region_from_boxes(boxes: Sequence[Sequence[float]], shape: tuple[int, int], what: str = "region box") -> np.ndarray:
    """Union of ``(y0, x0, y1, x1)`` rectangles (end exclusive), clipped to the image, as an (H, W)
    bool mask (see :func:`clip_boxes`, ``what`` naming the box; :class:`BoxRegion` is the same,
    computed per block)."""
    mask = np.zeros(shape, dtype=bool)
    for y0, x0, y1, x1 in clip_boxes(boxes, shape, what):
        mask[y0:y1, x0:x1] = True
    return check_region(mask, shape)


PaintingArea = Any  # None, "full", a (y0, x0, y1, x1) box or an (H, W) mask


def painting_support(area: PaintingArea, shape: tuple[int, int]) -> Support | None:
    """The user's painting area as a :class:`~.support.Support`: ``"full"`` the whole frame, a
    ``(y0, x0, y1, x1)`` box (end exclusive, clipped to the frame) or an (H, W) mask (non-zero
    inside); None when not given (the support is then found, or not sought). Raises InputError if
    it is empty, the wrong size or not one of these."""
    if area is None:
        return None
    if isinstance(area, str):
        if area.strip().lower() != "full":
            raise InputError(f"The painting area must be 'full', a box Y0,X0,Y1,X1 or a mask; got {area!r}.")
        return whole_frame(shape, "given")
    array = np.asarray(area)
    if array.ndim == 2 and array.shape != (1, 4):
        return support_from_mask(array, shape)
    if array.size != 4:
        raise InputError(f"The painting area must be a box Y0,X0,Y1,X1 or an H×W mask; got shape {describe_shape(array.shape)}.")
    mask = region_from_boxes([array.reshape(-1).tolist()], shape, "painting area")
    return support_from_mask(mask, shape)


class BoxRegion:
    """The mask of :func:`region_from_boxes` as a lazy (H, W) bool array: ``region[rows, cols]``
    computes only that block (a whole painting's mask would take a byte a pixel)."""

    def __init__(self, boxes: Sequence[Sequence[float]], shape: tuple[int, int], what: str = "region box") -> None:
        self.boxes, self.shape, self.dtype, self.ndim = clip_boxes(boxes, shape, what), tuple(shape), np.dtype(bool), 2

    def __getitem__(self, index: slice | tuple[slice, slice]) -> np.ndarray:
        index = (index if isinstance(index, tuple) else (index,)) + (slice(None),) * 2
        rows, cols = (range(*i.indices(n)) for i, n in zip(index[:2], self.shape))
        ys, xs = np.asarray(rows)[:, None], np.asarray(cols)[None, :]
        block = np.zeros((len(rows), len(cols)), dtype=bool)
        for y0, x0, y1, x1 in self.boxes:
            block |= (ys >= y0) & (ys < y1) & (xs >= x0) & (xs < x1)
        return block

    def __array__(self, dtype: Any = None, copy: Any = None) -> np.ndarray:
        return np.asarray(self[:, :], dtype=dtype)
