"""Registration aid: is the photograph aligned with the X-ray, and if not, align it — on scikit-image.

The separation needs the photograph registered to the X-ray pixel for pixel, which scans and photos
rarely are, nor do they share a pixel size. Their intensities are unrelated (lead white is bright in
both, carbon black only in the photo is dark, copper paint is dark in the photo and bright in the
X-ray), but their *edges* largely coincide, so everything here compares edge images (gradient
magnitudes), with the field's standard tools from scikit-image and scipy:

* shifts: phase correlation with up-sampled peak refinement
  (:func:`skimage.registration.phase_cross_correlation`, Guizar-Sicairos et al. 2008);
* rotation and scale: phase correlation of the log-polar transforms of the two spectra's magnitudes
  (:func:`skimage.transform.warp_polar`; Reddy & Chatterji 1996), which a shift does not change and in
  which rotation and scale become shifts — on reduced copies, so pixel-size ratios of 0.25–4× and more
  cost the same;
* the sub-pixel polish: Gauss–Newton (Lucas–Kanade) on smoothed edge images
  (:func:`scipy.ndimage.gaussian_filter`), warped by :func:`skimage.transform.warp` — scikit-image
  has no multimodal similarity polish, and the benchmark needs one (the log-polar estimate alone
  leaves corners 0.5–2 px off);
* a check of the result: the X-ray and the warped photograph compared region by region, again by
  phase correlation (how many regions agree, and how far they are off);
* point pairs: :mod:`skimage.transform`'s similarity, affine and projective estimates inside
  :func:`skimage.measure.ransac`, so one misplaced pair cannot ruin the fit (it is named instead);
* resampling: :func:`skimage.transform.warp` (bilinear), block by block, after a Gaussian
  anti-aliasing filter (:func:`scipy.ndimage.gaussian_filter`) where the photograph is the finer.

Images may be numpy arrays or lazily read arrays (anything sliced like one, e.g. a memory-mapped
TIFF): estimates read reduced copies and tiles, and the warp reads one block's window at a time.

Transforms are 3×3 matrices mapping (x, y, 1) of the *moving* image (the photograph) to the
*reference* (the X-ray) — scikit-image's convention, and napari's affine with axes swapped.
"""

from __future__ import annotations

import warnings
from collections.abc import Callable
from dataclasses import dataclass, replace
from typing import Any, Literal

import numpy as np
from scipy import ndimage
from skimage.filters import window
from skimage.measure import block_reduce, ransac
from skimage.registration import phase_cross_correlation
from skimage.transform import (
    AffineTransform,
    EuclideanTransform,
    ProjectiveTransform,
    SimilarityTransform,
    warp_polar,
)
from skimage.transform import warp as skimage_warp

from .data import missing_filled
from .errors import InputError

TransformKind = Literal["translation", "similarity", "affine", "projective"]
MIN_POINTS = {"translation": 1, "similarity": 2, "affine": 3, "projective": 4}
# Rotation and scale are read on copies at most this big (log-polar spectra of COARSE_SIDE/2 radii).
COARSE_SIDE = 512
# The sub-pixel polish works on copies at most this big; coarse to fine: wide edges pull an
# estimate a few pixels off into place, sharp ones settle it.
REFINE_SIDE = 1536
REFINE_SIGMAS = (2.0, 0.5)
# A region agrees with an alignment when its own shift is under REGION_AGREE_PX; below a share of
# CONFIDENT agreeing regions an automatic estimate is called uncertain.
REGION_AGREE_PX, CONFIDENT = 1.0, 0.5
# A point pair further than this (X-ray px) from the fit of the others is left out.
MAX_PAIR_ERROR_PX = 3.0
# The photograph covers the X-ray's pixels whose centres fall within this many of its pixels beyond
# its outer pixel centres (half a pixel: its pixels' own footprint); farther out they are missing.
COVER_MARGIN_PX = 0.5
# Blocks of the warp: the output is computed BLOCK × BLOCK pixels at a time.
BLOCK = 1024
MIN_CHECK_SIDE, MISALIGNED_PX = 16, 1.0


@dataclass(frozen=True)
class Alignment:
    """A transform from the photograph's pixels to the X-ray's, and how well it fits.

    ``residual_px``: RMS distance, in X-ray pixels, left after the fit — of the kept point pairs, or
    for an automatic estimate of the regions that agree with it (see :func:`agreement`). ``confidence``: for an
    automatic estimate the share (0–1) of regions that agree (below :data:`CONFIDENT`: uncertain);
    1 for point pairs. ``rejected``: indices of the point pairs RANSAC left out.
    """

    matrix: np.ndarray  # (3, 3), (x, y, 1) of the photograph → the X-ray's
    kind: TransformKind
    residual_px: float = 0.0
    confidence: float = 1.0
    rejected: tuple[int, ...] = ()

    @property
    def shift(self) -> tuple[float, float]:
        """(dy, dx) the photograph's origin moves by."""
        return float(self.matrix[1, 2]), float(self.matrix[0, 2])

    @property
    def mirrored(self) -> bool:
        """Whether the transform mirrors the photograph (a negative determinant)."""
        return bool(np.linalg.det(self.matrix[:2, :2]) < 0)

    @property
    def rotation_deg(self) -> float:
        """The turn, after mirroring the photograph left–right if :attr:`mirrored`."""
        matrix = self.matrix @ Mirrored.matrix(0) if self.mirrored else self.matrix
        return float(np.degrees(np.arctan2(matrix[1, 0], matrix[0, 0])))

    @property
    def scale(self) -> float:
        """X-ray pixels per photograph pixel (the photograph's pixel size over the X-ray's)."""
        return float(np.sqrt(abs(np.linalg.det(self.matrix[:2, :2]))))

    def describe(self) -> str:
        """One line for the user: what was done and how well it fits."""
        residual = "no region agrees" if np.isnan(self.residual_px) else f"residual {self.residual_px:.2f} px RMS"
        size = f"{self.scale:.3g}"
        text = (
            f"{self.kind}{' of the mirrored photograph' if self.mirrored else ''}: scale {self.scale:.4f} (a photograph pixel is {size} X-ray pixel{'' if size == '1' else 's'}), "
            f"rotation {self.rotation_deg:+.2f}°, {moved_words(*self.shift, digits=2)}, {residual}"
        )
        return text + (f" ({self.confidence:.0%} of the regions agree)" if 0 < self.confidence < 1 else "")


def _amount(value: float, digits: int) -> str | None:
    """``value``'s size in px at ``digits`` decimals; None when it rounds to zero."""
    text = f"{abs(value):.{digits}f}"
    return None if float(text) == 0 else f"{text} px"


def offset_words(dy: float, dx: float, digits: int = 1) -> str:
    """Where the photograph lies against the X-ray, in words, for the shift (dy, dx) that would move it
    into place (:attr:`Alignment.shift`): (−3, +2) → "3.0 px lower and 2.0 px to the left of the X-ray"."""
    vertical, horizontal = _amount(dy, digits), _amount(dx, digits)
    parts = ([f"{vertical} {'lower' if dy < 0 else 'higher'}"] if vertical else []) + (
        [f"{horizontal} to the {'left' if dx > 0 else 'right'}"] if horizontal else []
    )
    return f"{' and '.join(parts)} of the X-ray" if parts else "in place on the X-ray"


def moved_words(dy: float, dx: float, digits: int = 2) -> str:
    """What the shift (dy, dx) of an alignment did to the photograph, in words: "moved 3.00 px up and
    2.00 px to the right" (rows grow downwards)."""
    vertical, horizontal = _amount(dy, digits), _amount(dx, digits)
    parts = ([f"{vertical} {'down' if dy > 0 else 'up'}"] if vertical else []) + (
        [f"{horizontal} to the {'right' if dx > 0 else 'left'}"] if horizontal else []
    )
    return f"moved {' and '.join(parts)}" if parts else "not moved"


def _luma(image: np.ndarray) -> np.ndarray:
    """(H, W) float64: the image itself, or the Rec. 601 luma of an RGB(A) photograph."""
    image = np.asarray(image, dtype=np.float64)
    if image.ndim == 3 and image.shape[-1] in (3, 4):
        return image[..., :3] @ np.array([0.299, 0.587, 0.114])
    if image.ndim != 2:
        raise InputError(f"Registration needs a 2-D image or an RGB photograph; got shape {image.shape}.")
    return image


def edge_image(image: np.ndarray) -> np.ndarray:
    """Gradient magnitude (central differences) of the (luma of the) image, normalised to zero mean and
    unit spread: what X-ray and photograph share. (scikit-image's Sobel, Scharr and Farid filters
    smooth across the edge: with them the benchmark's corners land 5–50 % further off.)"""
    edges = np.hypot(*np.gradient(_luma(image)))
    spread = edges.std()
    return (edges - edges.mean()) / spread if spread > 0 else np.zeros_like(edges)


def reduced(image: Any, factor: int) -> np.ndarray:
    """Luma of ``image`` averaged over ``factor`` × ``factor`` blocks (:func:`skimage.measure.block_reduce`;
    a last partial block is dropped), read a strip of rows at a time so that a lazily read painting
    is never in memory whole. Missing (NaN) pixels are left out of their block's mean, and a block of
    nothing else takes the median of the others (:func:`missing_filled`): a photograph aligned onto
    part of the X-ray can be registered again. (H // factor, W // factor) float64."""
    height, width = (image.shape[0] // factor) * factor, (image.shape[1] // factor) * factor
    if height == 0 or width == 0:
        raise InputError(f"An image of {_size(image.shape)} pixels is too small to register.")
    rows = factor * max(1, 2**22 // (factor * width))  # about 4 M pixels a strip
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)  # "mean of empty slice": a block of missing pixels
        strips = [
            block_reduce(_luma(image[start : min(start + rows, height), :width]), (factor, factor), np.nanmean)
            for start in range(0, height, rows)
        ]
    return missing_filled(np.concatenate(strips))


def _reduction(factor: float) -> np.ndarray:
    """(x, y, 1) of the full image → of its block-mean copy by ``factor`` (block centres)."""
    return np.array([[1 / factor, 0, -(factor - 1) / (2 * factor)], [0, 1 / factor, -(factor - 1) / (2 * factor)], [0, 0, 1.0]])


def _translation(dy: float, dx: float) -> np.ndarray:
    return np.array([[1.0, 0.0, dx], [0.0, 1.0, dy], [0.0, 0.0, 1.0]])


def _factor(shape: tuple[int, ...], side: int) -> int:
    return max(1, int(np.ceil(max(shape[:2]) / side)))


def _common_factors(x_shape: tuple[int, ...], photo_shape: tuple[int, ...], scale: float, side: int) -> tuple[int, int]:
    """Reduction factors (X-ray, photograph) that bring both to at most ``side`` pixels on a side and
    to about the coarser one's pixel size (``scale``: X-ray pixels per photograph pixel): edges
    compare only at the resolution both have."""
    factor_x, factor_p = _factor(x_shape, side), _factor(photo_shape, side)
    if scale > 1:
        factor_x = max(factor_x, round(scale))
    elif scale > 0:
        factor_p = max(factor_p, round(1 / scale))
    return factor_x, factor_p


def phase_correlation(reference: np.ndarray, moving: np.ndarray, upsample: int = 50) -> tuple[float, float]:
    """(dy, dx) that moves ``moving`` onto ``reference`` (same shape), to 1/``upsample`` px: Hann-windowed
    (the image borders are no edge) :func:`skimage.registration.phase_cross_correlation`."""
    if reference.shape != moving.shape:
        raise InputError(f"Images to correlate differ in size: {reference.shape} and {moving.shape}.")
    hann = window("hann", reference.shape)
    shift = _shift_between(reference * hann, moving * hann, upsample)
    return float(shift[0]), float(shift[1])


def _shift_between(reference: np.ndarray, moving: np.ndarray, upsample: int) -> np.ndarray:
    """:func:`phase_cross_correlation`'s shift alone. Its RMS error is not used, so scikit-image's
    warning that it cannot compute it (an image without detail: a flat photograph) is not passed on;
    the alignment's own check says when the images do not match."""
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message="Could not determine RMS error", category=UserWarning)
        shift, _, _ = phase_cross_correlation(reference, moving, upsample_factor=upsample)
    return shift


def rotation_and_scale(reference: np.ndarray, moving: np.ndarray) -> tuple[float, float]:
    """(rotation°, scale) of the similarity taking ``moving`` onto ``reference`` (2-D edge images of
    any sizes), whatever their shift: the magnitudes of their Hann-windowed spectra on one grid,
    resampled to log-polar coordinates (:func:`skimage.transform.warp_polar`), where rotation and
    scale are shifts that :func:`skimage.registration.phase_cross_correlation` finds. Rotation is
    read modulo 180° (a spectrum's magnitude is symmetric); scale up to about 10× either way.

    References: B. S. Reddy and B. N. Chatterji, "An FFT-based technique for translation, rotation,
    and scale-invariant image registration", IEEE Trans. Image Process. 5 (1996) 1266–1271."""
    side = 2 ** int(np.ceil(np.log2(max(*reference.shape, *moving.shape))))
    radius = side // 2
    # The spectra's low frequencies are strong and alike in any two paintings: a high-pass emphasis
    # (Reddy & Chatterji's) lets the edges' detail decide.
    cosines = np.cos(np.pi * np.fft.fftshift(np.fft.fftfreq(side)))
    product = np.outer(cosines, cosines)
    emphasis = (1 - product) * (2 - product)
    spectra = []
    for image in (reference, moving):
        canvas = np.zeros((side, side))
        canvas[: image.shape[0], : image.shape[1]] = image * window("hann", image.shape)
        magnitude = np.abs(np.fft.fftshift(np.fft.fft2(canvas))) * emphasis
        polar = warp_polar(magnitude, center=(radius, radius), radius=radius, output_shape=(720, radius), scaling="log", order=1)
        spectra.append(polar[:360])  # 0–180°: the other half repeats it
    rows, columns = _shift_between(spectra[0], spectra[1], 20)
    rotation = rows * 180 / 360
    scale = float(np.exp(-columns * np.log(radius) / radius))
    return float((rotation + 90) % 180 - 90), scale


def _similarity(rotation_deg: float, scale: float) -> np.ndarray:
    return SimilarityTransform(scale=scale, rotation=np.radians(rotation_deg)).params


def _about(centre_to: tuple[float, float], linear: np.ndarray, centre_from: tuple[float, float]) -> np.ndarray:
    """``linear`` applied about ``centre_from`` (x, y), which it takes to ``centre_to``."""
    return _translation(centre_to[1], centre_to[0]) @ linear @ _translation(-centre_from[1], -centre_from[0])


def _centre(shape: tuple[int, ...]) -> tuple[float, float]:
    return (shape[1] - 1) / 2, (shape[0] - 1) / 2


def _check_size(x_shape: tuple[int, ...], photo_shape: tuple[int, ...]) -> None:
    if min(*x_shape[:2], *photo_shape[:2]) < 2 * MIN_CHECK_SIDE:
        raise InputError(
            f"The X-ray is {_size(x_shape)} and the photograph {_size(photo_shape)} pixels: too small to align "
            f"automatically (at least {2 * MIN_CHECK_SIDE} px a side); place point pairs."
        )


def estimate_translation(x_mixed: Any, photo: Any) -> Alignment:
    """The shift between the X-ray and a photograph of the same size and pixel size, from their edges.

    Phase correlation of the two edge images (:func:`phase_correlation`, sub-pixel by its
    up-sampled peak [1]_, on copies at most 4·COARSE_SIDE on a side), checked region by region
    (:func:`agreement`).

    Parameters
    ----------
    x_mixed : array-like, shape (H, W)
        The X-ray, any units (lazy arrays are fine: reduced copies are read).
    photo : array-like, shape (H, W) or (H, W, 3|4)
        The photograph, same size and pixel size, any units.

    Returns
    -------
    Alignment
        A ``"translation"``: ``shift`` (dy, dx) in X-ray pixels that moves the photograph onto the
        X-ray; ``residual_px`` and ``confidence`` from the regions that agree.

    Raises
    ------
    InputError
        Images of different sizes (:func:`estimate_similarity` resamples those), or smaller than
        32 px a side.

    References
    ----------
    .. [1] M. Guizar-Sicairos, S. T. Thurman and J. R. Fienup, "Efficient subpixel image
       registration algorithms", Optics Letters 33(2), 156–158, 2008.

    Examples
    --------
    >>> import numpy as np
    >>> from napari_xraysep.core.registration import estimate_translation
    >>> from napari_xraysep.datasets.synthetic import make_mixture
    >>> case = make_mixture("concealed_portrait", (48, 64), seed=0)
    >>> photo = np.roll(case.rgb_surface, (3, -2), axis=(0, 1))  # 3 px down, 2 px left
    >>> alignment = estimate_translation(case.x_mixed, photo)
    >>> [round(value) for value in alignment.shift]
    [-3, 2]
    """
    if tuple(x_mixed.shape[:2]) != tuple(photo.shape[:2]):
        raise InputError(
            f"The X-ray is {_size(x_mixed.shape)} and the photograph {_size(photo.shape)}: a shift alone cannot "
            "resample a photograph of another size — estimate a similarity (rotation, scale and shift) or "
            "place point pairs."
        )
    _check_size(x_mixed.shape, photo.shape)
    factor = _factor(x_mixed.shape, 4 * COARSE_SIDE)
    dy, dx = phase_correlation(edge_image(reduced(x_mixed, factor)), edge_image(reduced(photo, factor)))
    return agreement(x_mixed, photo, Alignment(_translation(dy * factor, dx * factor), "translation"))


def estimate_similarity(x_mixed: Any, photo: Any, scale_prior: float | None = None) -> Alignment:
    """Rotation, scale and shift of the photograph relative to the X-ray, from their edges, for
    photographs of any pixel size and extent (0.25–4× the X-ray's and beyond; any rotation within
    ±90°): rotation and scale by :func:`rotation_and_scale` on copies at most COARSE_SIDE on a side
    (each image reduced by its own factor), then the shift by :func:`phase_correlation`, then the
    sub-pixel polish of :func:`refine_alignment`. The photograph may be larger or smaller than the
    X-ray and need not cover it all.

    Parameters
    ----------
    x_mixed : array-like, shape (H, W)
        The X-ray, any units (lazy arrays are fine: reduced copies and tiles are read).
    photo : array-like, shape (h, w) or (h, w, 3|4)
        The photograph, any size, pixel size and units.
    scale_prior : float, optional
        X-ray pixels per photograph pixel as the files' pixel spacings say (photograph spacing ÷
        X-ray spacing), when both are known; tried beside the spectra's scale, the edges choosing,
        so a spectrum misled by a repetitive pattern cannot throw the scale off.

    Returns
    -------
    Alignment
        A ``"similarity"``: ``matrix`` (3, 3) from the photograph's (x, y, 1) to the X-ray's;
        ``scale`` (X-ray pixels per photograph pixel), ``rotation_deg``, ``shift``; ``residual_px``
        and ``confidence`` from the regions that agree (:func:`agreement`).

    Raises
    ------
    InputError
        Either image smaller than 32 px a side, or a ``scale_prior`` that is not a positive number.

    References
    ----------
    .. [1] B. S. Reddy and B. N. Chatterji, "An FFT-based technique for translation, rotation, and
       scale-invariant image registration", IEEE Trans. Image Process. 5(8), 1266–1271, 1996.
    .. [2] M. Guizar-Sicairos, S. T. Thurman and J. R. Fienup, "Efficient subpixel image
       registration algorithms", Optics Letters 33(2), 156–158, 2008.

    Examples
    --------
    A photograph of half the X-ray's resolution:

    >>> import numpy as np
    >>> from skimage.transform import rescale
    >>> from napari_xraysep.core.registration import estimate_similarity
    >>> from napari_xraysep.datasets.synthetic import make_mixture
    >>> case = make_mixture("concealed_portrait", (128, 160), seed=0)
    >>> photo = rescale(case.rgb_surface, 0.5, channel_axis=-1, anti_aliasing=True)
    >>> alignment = estimate_similarity(case.x_mixed, photo)
    >>> round(alignment.scale, 1), abs(alignment.rotation_deg) < 0.5
    (2.0, True)
    """
    _check_size(x_mixed.shape, photo.shape)
    if scale_prior is not None and not (np.isfinite(scale_prior) and scale_prior > 0):
        raise InputError(f"The scale prior must be a positive number of X-ray pixels per photograph pixel; got {scale_prior}.")
    factor_x, factor_p = _factor(x_mixed.shape, COARSE_SIDE), _factor(photo.shape, COARSE_SIDE)
    reference, moving = edge_image(reduced(x_mixed, factor_x)), edge_image(reduced(photo, factor_p))
    rotation, scale = rotation_and_scale(reference, moving)
    # On the reduced copies a photograph pixel is scale_prior·factor_p/factor_x reduced X-ray pixels.
    scales = [scale] + ([scale_prior * factor_p / factor_x] if scale_prior is not None else [])
    # A photograph resampled by an interpolating filter has lost the high frequencies the spectra
    # compare, and they can then settle on a wrong rotation and scale: the commonest case, the same
    # painting framed alike at another pixel size (unrotated, the extents' ratio), is tried beside them.
    extent = float(np.sqrt(reference.shape[0] * reference.shape[1] / (moving.shape[0] * moving.shape[1])))
    candidates = [(rotation, s) for s in scales] + [(0.0, extent)]
    best = None
    # The spectra cannot tell a rotation from its half-turn, nor a true scale from a pattern's: the edges can.
    for (angle, scale), turn in ((c, t) for c in candidates for t in (0.0, 180.0)):
        linear = _about(_centre(reference.shape), _similarity(angle + turn, scale), _centre(moving.shape))
        moved = _warp_array(moving, linear, reference.shape)
        dy, dx = phase_correlation(reference, moved)
        matrix = _translation(dy, dx) @ linear
        score = _edge_correlation(reference, _warp_array(moving, matrix, reference.shape))
        if best is None or score > best[0]:
            best = (score, matrix)
    # back to full-resolution pixels: X-ray ← reduced X-ray ← reduced photo ← photo
    matrix = np.linalg.inv(_reduction(factor_x)) @ best[1] @ _reduction(factor_p)
    alignment = Alignment(matrix, "similarity")
    for sigma in REFINE_SIGMAS:
        alignment = refine_alignment(x_mixed, photo, alignment, sigma=sigma)
    return agreement(x_mixed, photo, alignment)


def _edge_correlation(reference: np.ndarray, moved: np.ndarray) -> float:
    """Pearson correlation of two edge images where the moved one has content."""
    inside = moved != 0
    if inside.sum() < 16:
        return -1.0
    return float(np.corrcoef(reference[inside], moved[inside])[0, 1])


class _Shift(EuclideanTransform):
    """A shift only (for :func:`skimage.measure.ransac`): the mean displacement of the pairs."""

    @classmethod
    def from_estimate(cls, src: np.ndarray, dst: np.ndarray) -> _Shift:
        return cls(translation=np.mean(np.asarray(dst) - np.asarray(src), axis=0))

    def estimate(self, src: np.ndarray, dst: np.ndarray) -> bool:  # scikit-image < 0.26 calls this
        self.params = _Shift.from_estimate(src, dst).params
        return True


MODELS: dict[str, type] = {
    "translation": _Shift,
    "similarity": SimilarityTransform,
    "affine": AffineTransform,
    "projective": ProjectiveTransform,
}


def _robust_fit(src: np.ndarray, dst: np.ndarray, kind: TransformKind, max_error: float) -> tuple[np.ndarray, np.ndarray] | None:
    """(3×3 matrix, inlier mask) of the ``kind`` transform taking (x, y) ``src`` to ``dst`` by
    :func:`skimage.measure.ransac` (seeded: repeatable), refitted on its inliers; None if no sample
    gave a transform."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # "no inliers found": reported by the caller in its own words
        model, inliers = ransac(
            (src, dst), MODELS[kind], min_samples=MIN_POINTS[kind], residual_threshold=max_error,
            max_trials=500, rng=0,
        )
    if model is None or inliers is None or not np.all(np.isfinite(model.params)):
        return None
    return np.asarray(model.params, dtype=np.float64), np.asarray(inliers, dtype=bool)


class Mirrored:
    """A photograph mirrored left–right, read lazily like the photograph itself (``image[rows, cols]``
    with plain slices): what a photograph of a radiograph viewed from the back needs."""

    def __init__(self, image: Any) -> None:
        self.image, self.shape, self.dtype = image, tuple(image.shape), image.dtype

    def __getitem__(self, index: tuple[slice, slice]) -> np.ndarray:
        rows, cols = index if isinstance(index, tuple) else (index, slice(None))
        start, stop, step = cols.indices(self.shape[1])
        if step != 1:
            raise IndexError("a mirrored view is read in plain slices")
        width = self.shape[1]
        return np.asarray(self.image[rows, width - max(stop, start) : width - start])[:, ::-1]

    @staticmethod
    def matrix(width: int) -> np.ndarray:
        """(x, y, 1) of the photograph → of its mirror image."""
        return np.array([[-1.0, 0.0, width - 1.0], [0.0, 1.0, 0.0], [0.0, 0.0, 1.0]])


def estimate_any_way_round(
    x_mixed: Any, photo: Any, estimate: Callable[[Any, Any], Alignment]
) -> Alignment:
    """``estimate(x_mixed, photo)``, and unless every region agrees with it, the same for the
    photograph's mirror image (:class:`Mirrored`); the one more regions agree with, its matrix
    taking the photograph as stored (``mirrored`` then True). (A mirrored portrait can find half the
    regions agreeing by chance, so a merely confident estimate is not enough.) Quarter and other
    turns need no trying: :func:`estimate_similarity` finds any rotation."""
    alignment = estimate(x_mixed, photo)
    if alignment.confidence >= 1:
        return alignment
    mirrored = estimate(x_mixed, Mirrored(photo))
    if mirrored.confidence <= alignment.confidence:
        return alignment
    return replace(mirrored, matrix=mirrored.matrix @ Mirrored.matrix(photo.shape[1]))


def refine_alignment(
    x_mixed: Any, photo: Any, alignment: Alignment, iterations: int = 30, sigma: float = 0.5
) -> Alignment:
    """Sub-pixel polish of an estimate good to a few pixels: Gauss–Newton (Lucas–Kanade) on edge
    images smoothed by ``sigma`` (:func:`scipy.ndimage.gaussian_filter`), with a gain and offset between
    them refitted at every step (their contrasts differ), over the pixels the warped photograph covers.
    Keeps the estimate's kind (similarity: rotation, scale, shift; affine: six parameters; a
    translation is returned as it is — phase correlation is exact already); works on copies at most
    REFINE_SIDE on a side, both at about the coarser one's pixel size. The sharper the edges, the less
    the X-ray's own (hidden) edges bias it (the first estimate's stage at sigma 2 pulls an estimate a
    few pixels off into place, sigma 0.5 settles it).

    References: S. Baker and I. Matthews, "Lucas–Kanade 20 years on: a unifying framework",
    Int. J. Comput. Vis. 56 (2004) 221–255."""
    if alignment.kind not in ("similarity", "affine"):
        return alignment
    factor_x, factor_p = _common_factors(x_mixed.shape, photo.shape, alignment.scale, REFINE_SIDE)
    reference = ndimage.gaussian_filter(edge_image(reduced(x_mixed, factor_x)), sigma)
    moving = ndimage.gaussian_filter(edge_image(reduced(photo, factor_p)), sigma)
    if min(*reference.shape, *moving.shape) < 2 * MIN_CHECK_SIDE:
        return alignment
    grad_y, grad_x = np.gradient(moving)
    # B maps the reduced X-ray's (x, y, 1) to the reduced photograph's.
    inverse = np.linalg.inv(_reduction(factor_x) @ alignment.matrix @ np.linalg.inv(_reduction(factor_p)))
    height, width = reference.shape
    ys, xs = np.mgrid[0:height, 0:width].astype(np.float64)
    cy, cx = (height - 1) / 2, (width - 1) / 2
    dx_, dy_ = xs - cx, ys - cy
    # Pixels near either image's border see its edge filters' border handling, not the painting.
    margin = max(2, int(0.02 * max(height, width)), int(np.ceil(3 * sigma)) + 2)
    covered = np.zeros(moving.shape)
    covered[margin:-margin, margin:-margin] = 1
    for _ in range(iterations):
        current = np.linalg.inv(inverse)
        inside = _warp_array(covered, current, (height, width)) > 0.999
        inside[:margin], inside[-margin:], inside[:, :margin], inside[:, -margin:] = False, False, False, False
        if inside.sum() < 100:
            return alignment
        warped = _warp_array(moving, current, (height, width))[inside]
        gx, gy = _warp_array(grad_x, current, (height, width))[inside], _warp_array(grad_y, current, (height, width))[inside]
        px, py = dx_[inside], dy_[inside]
        (gain, offset), *_ = np.linalg.lstsq(np.stack([warped, np.ones_like(warped)], 1), reference[inside], rcond=None)
        residual = reference[inside] - (gain * warped + offset)
        if alignment.kind == "similarity":  # δ = [[a, −b], [b, a]]·(q − c) + t
            jacobian = np.stack([gx * px + gy * py, -gx * py + gy * px, gx, gy], 1)
        else:  # δ = [[a, b], [d, e]]·(q − c) + t
            jacobian = np.stack([gx * px, gx * py, gy * px, gy * py, gx, gy], 1)
        step, *_ = np.linalg.lstsq(gain * jacobian, residual, rcond=None)
        if alignment.kind == "similarity":
            a, b, tx, ty = step
            linear_step = np.array([[a, -b], [b, a]])
        else:
            linear_step, (tx, ty) = step[:4].reshape(2, 2), step[4:]
        inverse[:2, :2] += linear_step
        inverse[:2, 2] += np.array([tx, ty]) - linear_step @ np.array([cx, cy])
        if np.abs(linear_step).sum() * max(height, width) / 2 + abs(tx) + abs(ty) < 1e-3:
            break
    refined = np.linalg.inv(_reduction(factor_x)) @ np.linalg.inv(inverse) @ _reduction(factor_p)
    return replace(alignment, matrix=refined)


def agreement(x_mixed: Any, photo: Any, alignment: Alignment) -> Alignment:
    """``alignment`` with ``residual_px`` and ``confidence`` measured: the photograph warped by it and
    the X-ray compared region by region (3 × 3 overlapping regions half the X-ray's size, on copies at
    most REFINE_SIDE on a side) by :func:`phase_correlation` of their edges. A region *agrees* when
    its shift is under REGION_AGREE_PX X-ray pixels; ``confidence`` is the share of the regions the
    photograph covers that agree, ``residual_px`` the RMS of their shifts. Regions where the hidden
    design's edges outweigh the shared ones disagree even when the alignment is right, hence a share."""
    factor = _common_factors(x_mixed.shape, photo.shape, alignment.scale, REFINE_SIDE)[0]
    reference = reduced(x_mixed, factor)
    to_reduced = _reduction(factor) @ alignment.matrix
    moved = _luma(warp(photo, Alignment(to_reduced, alignment.kind), reference.shape))
    height, width = reference.shape
    shifts = []
    for y0 in np.linspace(0, height - height // 2, 3).astype(int):
        for x0 in np.linspace(0, width - width // 2, 3).astype(int):
            region = (slice(y0, y0 + height // 2), slice(x0, x0 + width // 2))
            if min(height, width) // 2 < MIN_CHECK_SIDE or not _covers(photo.shape, to_reduced, region):
                continue
            shifts.append(phase_correlation(edge_image(reference[region]), edge_image(moved[region])))
    distances = np.linalg.norm(np.array(shifts).reshape(-1, 2), axis=1) * factor
    agree = distances < REGION_AGREE_PX
    if not agree.any():
        return replace(alignment, residual_px=float("nan"), confidence=0.0)
    return replace(alignment, residual_px=float(np.sqrt(np.mean(distances[agree] ** 2))), confidence=float(agree.mean()))


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


def _covers(photo_shape: tuple[int, ...], matrix: np.ndarray, region: tuple[slice, slice]) -> bool:
    """Whether the photograph, mapped by ``matrix``, covers the rectangle ``region`` whole."""
    (top, bottom), (left, right) = (region[0].start, region[0].stop - 1), (region[1].start, region[1].stop - 1)
    corners = np.array([[top, left], [top, right], [bottom, left], [bottom, right]], float)
    source = apply_transform(np.linalg.inv(matrix), corners)
    return bool((source >= 0).all() and (source[:, 0] <= photo_shape[0] - 1).all() and (source[:, 1] <= photo_shape[1] - 1).all())


def check_alignment(x_mixed: Any, photo: Any) -> tuple[float, float, float]:
    """(dy, dx, confidence) of a photograph of the X-ray's size against it: the shift
    :func:`estimate_translation` finds and the share of regions that agree with it (0–1); fast
    enough to run before every separation. (0, 0, 0) for images too small to judge."""
    if min(x_mixed.shape[:2]) < 2 * MIN_CHECK_SIDE:  # too small to have edges to compare: no verdict
        return 0.0, 0.0, 0.0
    alignment = estimate_translation(x_mixed, photo)
    dy, dx = alignment.shift
    return dy, dx, alignment.confidence


def misalignment_warning(x_mixed: Any, photo: Any) -> str | None:
    """A sentence for the user if the photograph looks shifted against the X-ray, else None."""
    dy, dx, confidence = check_alignment(x_mixed, photo)
    if confidence < CONFIDENT or max(abs(dy), abs(dx)) < MISALIGNED_PX:
        return None
    return (
        f"The photograph is {offset_words(dy, dx)}; the separation needs them registered — align the photograph first."
    )


def fit_transform(
    photo_points: np.ndarray, xray_points: np.ndarray, kind: TransformKind = "affine", max_error_px: float = MAX_PAIR_ERROR_PX
) -> Alignment:
    """The ``kind`` transform taking ``photo_points`` onto ``xray_points`` ((N, 2) as (y, x), e.g.
    napari Points layers' data, in the same order), fitted by :func:`skimage.measure.ransac` around
    scikit-image's estimate: a pair further than ``max_error_px`` X-ray pixels from the fit of the
    others is left out and named in ``rejected`` (this needs at least two pairs more than the
    transform's minimum: 1 translation, 2 similarity, 3 affine, 4 projective).

    Parameters
    ----------
    photo_points, xray_points : array-like, shape (N, 2)
        Matching points as (y, x) in pixels of the photograph and of the X-ray, in the same order.
    kind : {"translation", "similarity", "affine", "projective"}
        The transform to fit.
    max_error_px : float
        X-ray pixels a pair may lie from the fit of the others before it is left out.

    Returns
    -------
    Alignment
        ``matrix`` (3, 3) from the photograph's (x, y, 1) to the X-ray's; ``residual_px``: RMS
        distance of the kept pairs after the fit; ``rejected``: indices of the pairs left out.

    Raises
    ------
    InputError
        Unequal lists, too few pairs, an unknown kind, or pairs that determine no transform (all
        in one place, or on a line).

    References
    ----------
    .. [1] M. A. Fischler and R. C. Bolles, "Random sample consensus: a paradigm for model fitting
       with applications to image analysis and automated cartography", Commun. ACM 24(6),
       381–395, 1981.

    Examples
    --------
    A photograph of half the X-ray's resolution, 10 px lower; the last pair was misplaced:

    >>> import numpy as np
    >>> from napari_xraysep.core.registration import fit_transform
    >>> photo = np.array([[0, 0], [0, 40], [30, 0], [30, 40], [15, 20], [5, 35]], float)
    >>> xray = 2 * photo + [10, 0]
    >>> xray[-1] += 8
    >>> alignment = fit_transform(photo, xray, "similarity")
    >>> round(alignment.scale, 3), [round(v, 3) for v in alignment.shift], alignment.rejected
    (2.0, [10.0, 0.0], (5,))
    """
    moving = np.asarray(photo_points, dtype=np.float64)
    fixed = np.asarray(xray_points, dtype=np.float64)
    if moving.ndim != 2 or moving.shape[1] != 2 or moving.shape != fixed.shape:
        raise InputError(
            f"Point pairs must come as two equally long lists of (y, x); got {moving.shape} and {fixed.shape} — "
            "place the same number of points in both layers, in the same order."
        )
    if kind not in MIN_POINTS:
        raise InputError(f"Unknown transform {kind!r}; choose {', '.join(MIN_POINTS)}.")
    if len(moving) < MIN_POINTS[kind]:
        raise InputError(f"A {kind} transform needs at least {MIN_POINTS[kind]} point pairs; got {len(moving)}.")
    fit = _robust_fit(moving[:, ::-1], fixed[:, ::-1], kind, max_error_px)
    degenerate = InputError("The point pairs do not determine a transform (are they all in one place, or on a line?).")
    if fit is None:
        raise degenerate
    matrix, inliers = fit
    if abs(np.linalg.det(matrix[:2, :2])) < 1e-9 or abs(matrix[2, 2]) < 1e-12:
        raise degenerate
    matrix = matrix / matrix[2, 2]
    if kind in ("affine", "projective") and _collinear(moving[inliers]):  # scikit-image fits them anyway
        raise degenerate
    distances = np.linalg.norm(apply_transform(matrix, moving) - fixed, axis=1)
    residual = float(np.sqrt(np.mean(distances[inliers] ** 2)))
    return Alignment(matrix, kind, residual, 1.0, tuple(int(i) for i in np.flatnonzero(~inliers)))


def _collinear(points: np.ndarray) -> bool:
    centred = points - points.mean(axis=0)
    return bool(np.linalg.svd(centred, compute_uv=False)[-1] < 1e-9 * max(1.0, np.abs(centred).max()))


def apply_transform(matrix: np.ndarray, points: np.ndarray) -> np.ndarray:
    """(N, 2) (y, x) points mapped by a 3×3 (x, y, 1) matrix."""
    points = np.asarray(points, dtype=np.float64).reshape(-1, 2)
    return ProjectiveTransform(matrix=np.asarray(matrix, dtype=np.float64))(points[:, ::-1])[:, ::-1]


def _warp_array(image: np.ndarray, matrix: np.ndarray, shape: tuple[int, int]) -> np.ndarray:
    """An in-memory 2-D image warped by ``matrix`` onto a (H, W) grid (bilinear; outside → 0)."""
    return skimage_warp(image, ProjectiveTransform(matrix=np.linalg.inv(matrix)), output_shape=shape, order=1, preserve_range=True)


def _size(shape: tuple[int, ...]) -> str:
    return f"{shape[0]}×{shape[1]}"


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
        From the photograph's pixels to the X-ray's (:func:`estimate_similarity`,
        :func:`fit_transform`, …).
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
    >>> from napari_xraysep.core.registration import fit_transform, warp
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
            local = _translation(-y0, -x0) @ inverse @ _translation(top, left)
            block = skimage_warp(
                window_, ProjectiveTransform(matrix=local), output_shape=(r1 - r0, c1 - c0), order=1, preserve_range=True, mode="edge",
            )
            ys, xs = np.mgrid[top : top + r1 - r0, left : left + c1 - c0]
            block[~_inside(apply_transform(inverse, np.stack([ys.ravel(), xs.ravel()], axis=1)), (height, width)).reshape(ys.shape)] = np.nan
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
    >>> from napari_xraysep.core.registration import aligned_photo, fit_transform
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
