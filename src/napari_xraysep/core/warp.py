"""The photograph resampled onto the X-ray's pixel grid by an :class:`~.alignment.Alignment`.

:func:`warp` (bilinear :func:`skimage.transform.warp`, block by block, after a Gaussian anti-aliasing
filter where the photograph is the finer), :func:`aligned_photo` (the same in the photograph's own
pixel type where it covers the X-ray) and :func:`uncovered_share` (how much of the X-ray it leaves
uncovered). Apart from the estimates because every face and the separation's inputs need the
resampling, and none of them the estimation.

Images may be numpy arrays or lazily read arrays (anything sliced like one, e.g. a memory-mapped
TIFF): the warp reads one block's window at a time.
"""

from __future__ import annotations

from typing import Any

import numpy as np
from scipy import ndimage
from skimage.transform import ProjectiveTransform
from skimage.transform import warp as skimage_warp

from .alignment import Alignment, apply_transform, translation_matrix

# The photograph covers the X-ray's pixels whose centres fall within this many of its pixels beyond
# its outer pixel centres (half a pixel: its pixels' own footprint); farther out they are missing.
COVER_MARGIN_PX = 0.5
# Blocks of the warp: the output is computed BLOCK × BLOCK pixels at a time.
BLOCK = 1024


def uncovered_share(photo_shape: tuple[int, ...], alignment: Alignment, shape: tuple[int, int]) -> float:
    """The share (0–1) of an (H, W) = ``shape`` X-ray that the photograph, placed by ``alignment``,
    does not cover (its pixel centres mapped outside the photograph's), from a grid of at most
    256 × 256 of its pixels; exactly 0 when the photograph covers the whole X-ray."""
    height, width = shape
    corners = np.array([[0, 0], [0, width - 1], [height - 1, 0], [height - 1, width - 1]], float)
    if _inside(apply_transform(np.linalg.inv(alignment.matrix), corners), photo_shape).all():
        return 0.0
    ys, xs = np.meshgrid(np.linspace(0, height - 1, min(height, 256)), np.linspace(0, width - 1, min(width, 256)), indexing="ij")
    source = apply_transform(np.linalg.inv(alignment.matrix), np.stack([ys.ravel(), xs.ravel()], axis=1))
    return max(float(1 - _inside(source, photo_shape).mean()), 1e-6)


def _inside(points: np.ndarray, photo_shape: tuple[int, ...]) -> np.ndarray:
    """Which (N, 2) (y, x) photograph coordinates lie on it: within its pixels' footprint, which
    reaches COVER_MARGIN_PX beyond its outer pixel centres (so a fitted transform that puts the last
    column at 79.0000001 rather than 79 still covers it)."""
    low, high = -COVER_MARGIN_PX, np.array(photo_shape[:2], float) - 1 + COVER_MARGIN_PX
    return (points >= low).all(axis=1) & (points <= high).all(axis=1)


def warp(
    photo: Any,
    alignment: Alignment,
    shape: tuple[int, int],
    origin: tuple[int, int] = (0, 0),
    out: np.ndarray | None = None,
) -> np.ndarray:
    """The photograph resampled onto the X-ray's pixel grid: the (H, W) = ``shape`` window of it whose
    top-left pixel is ``origin`` (y, x) (the whole X-ray by default). Bilinear
    (:func:`skimage.transform.warp`); outside the photograph → NaN (missing data, never black paint;
    an integer ``out`` cannot hold it: see :func:`aligned_photo`); where the photograph's pixels are
    finer than the X-ray's it is first low-passed (:func:`scipy.ndimage.gaussian_filter`,
    σ = (1/scale − 1)/2 photograph pixels, as :func:`skimage.transform.rescale` anti-aliases), so
    canvas texture does not alias. Computed BLOCK × BLOCK pixels at a time, each reading only the
    photograph's window it needs: a whole painting needs no giant index grid, and a lazily read
    photograph stays on disk. An RGBA photograph loses its alpha.

    Parameters
    ----------
    photo : array-like, shape (h, w) or (h, w, 3|4)
        The photograph (lazy arrays are fine: one window is read per block).
    alignment : Alignment
        From the photograph's pixels to the X-ray's (:func:`.registration.estimate_similarity`,
        :func:`.pointpairs.fit_transform`, …).
    shape : (int, int)
        (H, W) of the window of the X-ray's grid to fill.
    origin : (int, int)
        (y, x) of that window's top-left pixel on the X-ray's grid.
    out : ndarray, shape (H, W) or (H, W, 3), optional
        Where to write; integer types are rounded and clipped (and cannot hold NaN).

    Returns
    -------
    ndarray, shape (H, W) or (H, W, 3)
        ``out``, float32 unless given, in the photograph's units; NaN outside the photograph.

    Examples
    --------
    >>> import numpy as np
    >>> from napari_xraysep.core.pointpairs import fit_transform
    >>> from napari_xraysep.core.warp import warp
    >>> photo = np.arange(20, dtype=np.float32).reshape(4, 5)
    >>> right = fit_transform([[0, 0]], [[0, 1]], "translation")  # one column to the right
    >>> warp(photo, right, (2, 5))
    array([[nan,  0.,  1.,  2.,  3.],
           [nan,  5.,  6.,  7.,  8.]], dtype=float32)
    """
    channels = photo.shape[2:] if len(photo.shape) == 2 or photo.shape[2] not in (3, 4) else (3,)
    if out is None:
        out = np.empty((*shape, *channels), dtype=np.float32)
    inverse = np.linalg.inv(alignment.matrix)
    scale = alignment.scale
    sigma = max(0.0, (1 / scale - 1) / 2) if scale > 0 else 0.0
    margin = int(np.ceil(4 * sigma)) + 2
    height, width = photo.shape[:2]
    side = max(16, int(BLOCK * min(1.0, scale)))  # the photograph's window stays about BLOCK × BLOCK
    for r0 in range(0, shape[0], side):
        for c0 in range(0, shape[1], side):
            r1, c1 = min(r0 + side, shape[0]), min(c0 + side, shape[1])
            top, left = origin[0] + r0, origin[1] + c0
            corners = np.array([[top, left], [top, left + c1 - c0 - 1], [top + r1 - r0 - 1, left], [top + r1 - r0 - 1, left + c1 - c0 - 1]], float)
            source = apply_transform(inverse, corners)
            y0, x0 = np.floor(source.min(axis=0)).astype(int) - margin
            y1, x1 = np.ceil(source.max(axis=0)).astype(int) + margin + 1
            y0, x0, y1, x1 = max(y0, 0), max(x0, 0), min(y1, height), min(x1, width)
            if y1 <= y0 or x1 <= x0:
                out[r0:r1, c0:c1] = np.nan
                continue
            window_ = np.asarray(photo[y0:y1, x0:x1], dtype=np.float32)
            if len(channels):
                window_ = window_[..., : channels[0]]
            if sigma > 0:
                window_ = ndimage.gaussian_filter(window_, (sigma, sigma, 0)[: window_.ndim], mode="nearest")
            local = translation_matrix(-y0, -x0) @ inverse @ translation_matrix(top, left)
            block = skimage_warp(
                window_, ProjectiveTransform(matrix=local), output_shape=(r1 - r0, c1 - c0), order=1, preserve_range=True, mode="edge",
            )
            # A block whose corners all fall on the photograph, with w of one sign, lies on it whole (its image
            # is the quadrilateral they span: w is affine across the block, so no pixel between them goes to
            # infinity); mapping every pixel to find out was a tenth of a 600-megapixel alignment.
            w = inverse[2] @ np.stack([corners[:, 1], corners[:, 0], np.ones(4)])
            if not (_inside(source, (height, width)).all() and (np.all(w > 0) or np.all(w < 0))):
                ys, xs = np.mgrid[top : top + r1 - r0, left : left + c1 - c0]
                outside = ~_inside(apply_transform(inverse, np.stack([ys.ravel(), xs.ravel()], axis=1)), (height, width))
                block[outside.reshape(ys.shape)] = np.nan
            out[r0:r1, c0:c1] = _as_type(block, out.dtype)
    return out


def _as_type(values: np.ndarray, dtype: np.dtype) -> np.ndarray:
    if np.issubdtype(dtype, np.integer):
        limits = np.iinfo(dtype)
        return np.clip(np.rint(values), limits.min, limits.max).astype(dtype)
    return values.astype(dtype)


def aligned_photo(photo: Any, alignment: Alignment, shape: tuple[int, int]) -> np.ndarray:
    """:func:`warp` onto the X-ray's (H, W) ``shape``, in the photograph's own pixel type (8/16-bit
    photos stay 8/16-bit, floats become float32) when it covers the whole X-ray; otherwise float32 in
    the photograph's own units with NaN — missing data — wherever it does not (see :func:`uncovered_share`).

    Parameters
    ----------
    photo : array-like, shape (h, w) or (h, w, 3|4)
        The photograph.
    alignment : Alignment
        From the photograph's pixels to the X-ray's.
    shape : (int, int)
        The X-ray's (H, W).

    Returns
    -------
    ndarray, shape (H, W) or (H, W, 3)
        The registered photograph, ready for :func:`~napari_xraysep.core.separation.separate`.

    Examples
    --------
    >>> import numpy as np
    >>> from napari_xraysep.core.pointpairs import fit_transform
    >>> from napari_xraysep.core.warp import aligned_photo
    >>> photo = np.full((40, 50, 3), 200, np.uint8)
    >>> half = fit_transform([[0, 0], [0, 40], [30, 0]], [[0, 0], [0, 20], [15, 0]], "similarity")
    >>> inside = aligned_photo(photo, half, (20, 25))  # covered: stays 8-bit
    >>> inside.shape, inside.dtype, int(inside.max())
    ((20, 25, 3), dtype('uint8'), 200)
    >>> bigger = aligned_photo(photo, half, (30, 25))  # rows 20–29 lie beyond it: float32, NaN there
    >>> bigger.dtype, bool(np.isnan(bigger[25]).all()), float(bigger[5, 5, 0])
    (dtype('float32'), True, 200.0)
    """
    covered = uncovered_share(photo.shape, alignment, shape) == 0
    dtype = photo.dtype if covered and np.issubdtype(photo.dtype, np.integer) else np.float32
    channels = photo.shape[2:] if len(photo.shape) == 2 or photo.shape[2] not in (3, 4) else (3,)
    return warp(photo, alignment, shape, out=np.empty((*shape, *channels), dtype=dtype))
