"""The X-ray and the photograph compared by their edges: what the automatic registration measures.

Their intensities are unrelated (lead white is bright in both, carbon black only in the photo is
dark, copper paint is dark in the photo and bright in the X-ray), but their *edges* largely coincide,
so registration compares edge images (gradient magnitudes, :func:`edge_image`) of reduced copies
(:func:`reduced`, read a strip at a time from lazily read paintings):

* shifts: phase correlation with up-sampled peak refinement (:func:`phase_correlation`,
  :func:`skimage.registration.phase_cross_correlation`, Guizar-Sicairos et al. 2008);
* rotation and scale: phase correlation of the log-polar transforms of the two spectra's magnitudes
  (:func:`rotation_and_scale`; Reddy & Chatterji 1996);
* the check of an alignment: the X-ray and the warped photograph compared region by region, again by
  phase correlation (:func:`agreement`: how many regions agree, and how far they are off).

The estimates built from these live in :mod:`.registration`.
"""

from __future__ import annotations

import warnings
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass, replace
from functools import lru_cache
from typing import Any

import numpy as np
from skimage.registration import phase_cross_correlation
from skimage.transform import warp_polar

from .alignment import Alignment, Mirrored, apply_transform, similarity_fit, size_words
from .data import missing_filled
from .errors import InputError
from .warp import warp

# The sub-pixel polish (:func:`.registration.refine_alignment`) and the check (:func:`agreement`)
# work on copies at most this big.
REFINE_SIDE = 1536
# A region agrees with an alignment when its own shift is under REGION_AGREE_PX; below a share of
# CONFIDENT agreeing regions an automatic estimate is called uncertain.
REGION_AGREE_PX, CONFIDENT = 1.0, 0.5
# Images (and the check's regions) smaller than this a side have too few edges to compare.
MIN_CHECK_SIDE = 16
# The check's regions are compared on copies CHECK_COARSER times coarser than the polish's where they
# keep at least CHECK_REGION_MIN px a side (see :func:`region_shifts`).
CHECK_COARSER, CHECK_REGION_MIN = 2, 64
# The corners' error is read from the regions' shifts (at the pixel size the residual is read at) where
# every region lies within CORNER_FIT_PX and there are at least CORNER_REGIONS of them (a similarity has
# four unknowns: two regions fix it, a third checks them).
CORNER_FIT_PX, CORNER_REGIONS = 2.0, 3


LUMA_WEIGHTS = np.array([0.299, 0.587, 0.114])  # Rec. 601


def _luma(image: np.ndarray) -> np.ndarray:
    """(H, W) float64: the image itself, or the Rec. 601 luma of an RGB(A) photograph."""
    _check_registrable(image.shape)
    image = np.asarray(image, dtype=np.float64)
    return image[..., :3] @ LUMA_WEIGHTS if image.ndim == 3 else image


def _check_registrable(shape: tuple[int, ...]) -> None:
    """Raise InputError unless ``shape`` is a 2-D image's or an RGB(A) photograph's."""
    if not (len(shape) == 2 or (len(shape) == 3 and shape[-1] in (3, 4))):
        raise InputError(f"Registration needs a 2-D image or an RGB photograph; got shape {tuple(shape)}.")


def edge_image(image: np.ndarray) -> np.ndarray:
    """Gradient magnitude (central differences) of the (luma of the) image, normalised to zero mean and
    unit spread: what X-ray and photograph share. (scikit-image's Sobel, Scharr and Farid filters
    smooth across the edge: with them the benchmark's corners land 5–50 % further off.) Where the
    image is missing (NaN: beyond a photograph aligned onto part of the X-ray, or warped), and beside
    it, the edges are 0: no edge is made up there, and the rest still counts (a region with one
    missing pixel had no edges at all, and a right alignment of a rotated photograph was refused)."""
    edges = np.hypot(*np.gradient(_luma(image)))
    finite = np.isfinite(edges)
    if not finite.any():
        return np.zeros(edges.shape)
    known = edges[finite]
    spread = known.std()
    if not spread > 0:
        return np.zeros(edges.shape)
    return np.where(finite, (edges - known.mean()) / spread, 0.0)


# What :func:`reductions_kept` keeps: {(id(image), factor): (image, (block sums, copy, mirror's copy))}, and
# :func:`kept_copy`'s {(id(image), key): (image, value)}.
_KEPT: ContextVar[dict[tuple[int, Any], tuple[Any, Any]] | None] = ContextVar("reductions", default=None)


@contextmanager
def reductions_kept() -> Iterator[None]:
    """Within it, :func:`reduced` makes each image's copy at each factor once (read-only, kept until
    the block ends), and its mirror image's (:class:`.alignment.Mirrored`) with it: an alignment reads
    its images again and again — the spectra, the polish, the region checks, the mirror image's estimate
    — and a 600-megapixel X-ray is minutes to read. Opened within another, it keeps to the outer one's copies."""
    token = _KEPT.set({} if _KEPT.get() is None else _KEPT.get())
    try:
        yield
    finally:
        _KEPT.reset(token)


def reduced(image: Any, factor: int, fill_missing: bool = True) -> np.ndarray:
    """Luma of ``image`` averaged over ``factor`` × ``factor`` blocks (as :func:`skimage.measure.block_reduce`;
    a last partial block is dropped), read a strip of rows at a time so that a lazily read painting
    is never in memory whole. Missing (NaN) pixels are left out of their block's mean; a block of
    nothing else takes the median of the others (:func:`missing_filled`: a photograph aligned onto part
    of the X-ray can be registered again), or stays NaN where ``fill_missing`` is False (a warp of the
    copy is then missing there, as a warp of the image itself would be). A :class:`.alignment.Mirrored`
    image's copy is made from its photograph's read. (H // factor, W // factor) float64."""
    if isinstance(image, Mirrored):
        copy = _reductions(image.image, factor)[1]
    else:
        copy = _reductions(image, factor)[0]
    return missing_filled(copy) if fill_missing else copy


def _reductions(image: Any, factor: int) -> tuple[np.ndarray, np.ndarray]:
    """(``image``'s block-mean copy, its mirror image's) by ``factor`` (kept while :func:`reductions_kept`
    is open, read-only): from the block sums of a finer factor dividing it, where one is kept, else from
    a read of the image."""
    kept = _KEPT.get()
    if kept is not None and (id(image), factor) in kept:
        return kept[id(image), factor][1][1:]  # the image itself is kept with it: its id is not reused
    if image.shape[0] < factor or image.shape[1] < factor:  # not one block (a coarser copy summed would be empty)
        raise InputError(f"An image of {size_words(image.shape)} pixels is too small to register.")
    finer = [key[1] for key in (kept or {}) if key[0] == id(image) and isinstance(key[1], int) and factor % key[1] == 0]
    if finer:
        sums = kept[id(image), max(finer)][1][0].coarser(factor // max(finer))
    else:
        sums = _BlockSums.read(image, factor)
    copy, mirror = sums.means()
    if kept is not None:
        copy.setflags(write=False), mirror.setflags(write=False)
        kept[id(image), factor] = (image, (sums, copy, mirror))
    return copy, mirror


@dataclass(frozen=True)
class _BlockSums:
    """An image's luma summed over ``factor`` × ``factor`` blocks from its top edge, the columns counted from
    its left edge (``left``) and from its right (``right``: its mirror image's blocks, in the image's order),
    with the counts of known (finite) pixels in them: a coarser factor's blocks are sums of these, and
    where the width is no multiple of the factor the mirror image's blocks are not the image's reversed."""

    factor: int
    width: int
    left: np.ndarray
    right: np.ndarray
    left_known: np.ndarray
    right_known: np.ndarray

    @classmethod
    def read(cls, image: Any, factor: int) -> _BlockSums:
        """The sums of ``image`` (H, W) or (H, W, 3|4), at least ``factor`` px a side, read a strip of rows
        at a time (a lazily read painting is never in memory whole)."""
        height, width = (image.shape[0] // factor) * factor, image.shape[1]
        blocks, spare = divmod(width, factor)
        rows = factor * max(1, 2**22 // (factor * width))  # about 4 M pixels a strip
        _check_registrable(image.shape)
        dtype = np.dtype(image.dtype)
        integer = np.issubdtype(dtype, np.integer) and dtype.itemsize <= 4  # sums held exactly in int64
        # The narrowest sum that holds ``factor`` pixels (2–4× faster than int64 for 8- and 16-bit images).
        bits = dtype.itemsize * 8 + factor.bit_length()
        total = np.int64 if dtype.kind != "u" or bits > 32 else np.uint16 if bits <= 16 else np.uint32
        sums, counts = [], []
        # Each block row's column sums first: both sides' blocks are sums of the same few columns. No
        # float64 copy of a strip: a float X-ray is summed in float64 as it is (the same sums), an integer
        # image as integers with every pixel known, a photograph's channels apart and weighed after.
        for start in range(0, height, rows):
            strip = np.asarray(image[start : min(start + rows, height)])
            if integer:
                if strip.ndim == 3:
                    summed = strip[..., :3].reshape(-1, factor, width, 3).sum(axis=1, dtype=total) @ LUMA_WEIGHTS
                else:
                    summed = strip.reshape(-1, factor, width).sum(axis=1, dtype=total).astype(np.float64)
                sums.append(summed)
                counts.append(np.full(summed.shape, factor, dtype=np.int64))
                continue
            luma = _luma(strip) if strip.ndim == 3 else strip
            known = np.isfinite(luma)
            if not known.all():
                luma = np.where(known, luma, 0.0)
            sums.append(luma.reshape(-1, factor, width).sum(axis=1, dtype=np.float64))
            counts.append(known.reshape(-1, factor, width).sum(axis=1, dtype=np.int64))
        columns, known_columns = np.concatenate(sums), np.concatenate(counts)

        def blocked(values: np.ndarray, first: int) -> np.ndarray:
            return values[:, first : first + blocks * factor].reshape(-1, blocks, factor).sum(axis=2)

        left, left_known = blocked(columns, 0), blocked(known_columns, 0)
        if spare == 0:
            return cls(factor, width, left, left, left_known, left_known)
        return cls(factor, width, left, blocked(columns, spare), left_known, blocked(known_columns, spare))

    def coarser(self, times: int) -> _BlockSums:
        """The sums over blocks ``times`` as large a side: each the sum of ``times`` × ``times`` of these
        (the right-counted ones from the right edge)."""
        rows, kept = self.left.shape[0] // times * times, self.width // (self.factor * times) * times

        def summed(values: np.ndarray, from_right: bool) -> np.ndarray:
            values = values[:rows, values.shape[1] - kept :] if from_right else values[:rows, :kept]
            return values.reshape(rows // times, times, kept // times, times).sum(axis=(1, 3))

        return _BlockSums(
            self.factor * times, self.width, summed(self.left, False), summed(self.right, True),
            summed(self.left_known, False), summed(self.right_known, True),
        )

    def means(self) -> tuple[np.ndarray, np.ndarray]:
        """(the image's block means, its mirror image's): NaN for a block of missing pixels only."""
        with np.errstate(invalid="ignore", divide="ignore"):
            copy = np.where(self.left_known > 0, self.left / self.left_known, np.nan)
            if self.right is self.left:
                return copy, copy[:, ::-1]
            return copy, np.where(self.right_known > 0, self.right / self.right_known, np.nan)[:, ::-1]


def kept_copy(image: Any, key: Any, make: Any) -> Any:
    """``make()``, made once per ``image`` and ``key`` while :func:`reductions_kept` is open (as
    :func:`reduced`'s copies are): e.g. the painting's support found on a reduced copy."""
    kept = _KEPT.get()
    if kept is not None and (id(image), key) in kept:
        return kept[id(image), key][1]
    value = make()
    if kept is not None:
        kept[id(image), key] = (image, value)
    return value


def reduction_matrix(factor: float) -> np.ndarray:
    """(x, y, 1) of the full image → of its block-mean copy by ``factor`` (block centres)."""
    return np.array([[1 / factor, 0, -(factor - 1) / (2 * factor)], [0, 1 / factor, -(factor - 1) / (2 * factor)], [0, 0, 1.0]])


def reduction_factor(shape: tuple[int, ...], side: int) -> int:
    return max(1, int(np.ceil(max(shape[:2]) / side)))


def common_factors(x_shape: tuple[int, ...], photo_shape: tuple[int, ...], scale: float, side: int) -> tuple[int, int]:
    """Reduction factors (X-ray, photograph) that bring both to at most ``side`` pixels on a side and
    to about the coarser one's pixel size (``scale``: X-ray pixels per photograph pixel): edges
    compare only at the resolution both have."""
    factor_x, factor_p = reduction_factor(x_shape, side), reduction_factor(photo_shape, side)
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
    hann = _hann(reference.shape)
    shift = _shift_between(reference * hann, moving * hann, upsample)
    return float(shift[0]), float(shift[1])


@lru_cache(maxsize=4)
def _hann(shape: tuple[int, ...]) -> np.ndarray:
    """scikit-image's radial Hann window of ``shape``, read-only. The last four shapes' are kept: an
    alignment correlates hundreds of regions of a few shapes (a tester's: 738 regions, 23 windows made;
    12 ms each). Imported here: skimage.filters brings in scipy.signal (0.8 s), which every CLI command
    would otherwise pay for."""
    from skimage.filters import window

    hann = window("hann", shape)
    hann.flags.writeable = False
    return hann


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
        canvas[: image.shape[0], : image.shape[1]] = image * _hann(image.shape)
        magnitude = np.abs(np.fft.fftshift(np.fft.fft2(canvas))) * emphasis
        polar = warp_polar(magnitude, center=(radius, radius), radius=radius, output_shape=(720, radius), scaling="log", order=1)
        spectra.append(polar[:360])  # 0–180°: the other half repeats it
    rows, columns = _shift_between(spectra[0], spectra[1], 20)
    rotation = rows * 180 / 360
    scale = float(np.exp(-columns * np.log(radius) / radius))
    return float((rotation + 90) % 180 - 90), scale


def agreement(
    x_mixed: Any, photo: Any, alignment: Alignment, grid: int = 3, share: float = 0.5,
    placed_by: Alignment | None = None,
) -> Alignment:
    """``alignment`` with ``residual_px``, ``confidence`` and ``corner_px`` measured: the photograph
    warped by it and the X-ray compared region by region (:func:`region_shifts`: by default 3 × 3
    overlapping regions half the X-ray's size). A region *agrees* when its shift is under
    REGION_AGREE_PX X-ray pixels; ``confidence`` is the share of the regions the photograph covers that
    agree, ``residual_px`` the RMS of their shifts. Regions where the hidden design's edges outweigh the
    shared ones disagree even when the alignment is right, hence a share; agreement is judged on copies
    CHECK_COARSER times coarser where the regions stay large enough, the residual at the polish's own
    pixel size, over the regions that agree at both (else those agreeing). ``corner_px``: the similarity
    fitted to the regions' shifts there, taken to the corners of the area the photograph covers
    (:func:`corners_off`), where every region lies within CORNER_FIT_PX (else NaN: unknown) — the
    region centres lie a quarter of the way in, so a small scale or turn error shows at the corners 2–3
    times the RMS. ``placed_by``: as in :func:`region_shifts`."""
    centres, shifts = region_shifts(x_mixed, photo, alignment, grid, share, placed_by)
    distances = np.linalg.norm(shifts, axis=1)
    agree = distances < REGION_AGREE_PX
    if not agree.any():
        return replace(alignment, residual_px=float("nan"), confidence=0.0, corner_px=float("nan"))
    # Coarser copies blur what tells two near alignments apart (a symmetric painting's photograph and
    # its mirror image agreed alike there): the residual is read at the polish's pixel size.
    fine_centres, fine_shifts = region_shifts(x_mixed, photo, alignment, grid, share, placed_by, coarser=False)
    fine = np.linalg.norm(fine_shifts, axis=1)
    both = agree & (fine < REGION_AGREE_PX) if fine.shape == agree.shape else np.zeros_like(agree)
    if both.any():
        centres, shifts, distances, kept = fine_centres, fine_shifts, fine, both
    else:
        kept = agree
    residual = float(np.sqrt(np.mean(distances[kept] ** 2)))
    # The corners are read from every region, those off by a pixel or two too: at the outer regions that is
    # what a scale or a turn off shows first (a tester's, 3.8 px off at the corners). Where some region is
    # further off, the hidden design's edges are pulling the regions, and their shifts say nothing of the
    # corners (a procedural painting's, 0.04–0.24 px off, read 0.6–1.9 from the rest).
    corners = shared_corners(alignment, photo.shape, x_mixed.shape)
    usable = len(distances) >= CORNER_REGIONS and bool(np.all(distances < CORNER_FIT_PX))
    off = corners_off(centres, shifts, corners) if usable else float("nan")
    return replace(alignment, residual_px=residual, confidence=float(agree.mean()), corner_px=off)


def corners_off(centres: np.ndarray, shifts: np.ndarray, corners: np.ndarray) -> float:
    """How far (px) the similarity that best moves each ``centres`` point by its ``shifts`` (each (N, 2)
    (y, x), N ≥ 2: :func:`.alignment.similarity_fit`) moves the worst of ``corners`` ((M, 2) (y, x)) —
    the error at the corners that the regions' shifts imply."""
    correction = similarity_fit(centres, centres + shifts)
    return float(np.linalg.norm(apply_transform(correction, corners) - corners, axis=1).max())


def shared_corners(alignment: Alignment, photo_shape: tuple[int, ...], x_shape: tuple[int, ...]) -> np.ndarray:
    """(4, 2) (y, x): the corners of the area of the X-ray that ``alignment`` says the photograph covers."""
    top, left, bottom, right = footprint(photo_shape, alignment.matrix, x_shape)
    return np.array([[top, left], [top, right - 1], [bottom - 1, left], [bottom - 1, right - 1]], float)


def region_shifts(
    x_mixed: Any, photo: Any, alignment: Alignment, grid: int = 3, share: float = 0.5,
    placed_by: Alignment | None = None, coarser: bool = True,
) -> tuple[np.ndarray, np.ndarray]:
    """How far the photograph warped by ``alignment`` lies from the X-ray, region by region: ``grid`` ×
    ``grid`` overlapping regions, each ``share`` of the side of a box inside the photograph's outline
    (:func:`inner_box`), those it covers whole, compared by :func:`phase_correlation` of their edges on copies at
    most REFINE_SIDE on a side. Returns (centres, shifts), each (N, 2) (y, x) in X-ray pixels: each
    region's centre and the shift that would bring the photograph's edges there onto the X-ray's.
    ``placed_by``: another alignment whose footprint places the regions (two alignments compared on
    the same regions), ``alignment`` by default."""
    factor, factor_p = common_factors(x_mixed.shape, photo.shape, alignment.scale, REFINE_SIDE)
    # Compared on copies reduced CHECK_COARSER times more where the regions keep CHECK_REGION_MIN px a
    # side: phase correlation weighs every frequency alike, and at the X-ray's own pixel size its grain
    # and the canvas weave, which the photograph lacks, drown the edges both show (a photograph of the
    # painting's top 60 % at the X-ray's pixel size: 1 of 9 regions agreed with the exact alignment).
    if coarser:
        placed = alignment.matrix if placed_by is None else placed_by.matrix
        coarse = factor * CHECK_COARSER
        coarse_shape = (x_mixed.shape[0] // coarse, x_mixed.shape[1] // coarse)
        top, left, bottom, right = inner_box(photo.shape, reduction_matrix(coarse) @ placed, coarse_shape)
        if min(bottom - top, right - left) * share >= CHECK_REGION_MIN:
            factor, factor_p = coarse, factor_p * CHECK_COARSER
    reference = reduced(x_mixed, factor)
    to_reduced = reduction_matrix(factor) @ alignment.matrix
    # The photograph's copy no coarser than the X-ray's (a coarse photograph: one 4× coarser lost two agreeing
    # regions), 1 % spared so that a photograph at the X-ray's pixel size, estimated at ×1.0001, keeps the polish's.
    if not factor_p * alignment.scale <= factor * 1.01:
        factor_p = max(1, int(factor / alignment.scale * 1.01)) if alignment.scale > 0 else 1
    # A candidate that shrinks the photograph to a pixel or two of the X-ray's copy keeps one block of it: no
    # region is covered and none agrees (its copy could not be made).
    factor_p = min(factor_p, *photo.shape[:2])
    # The photograph is warped from its copy reduced alike (block means, as the polish's): a warp of the
    # photograph itself low-passed every one of its pixels and read the file again for each check — a
    # 600-megapixel photograph's alignment spent most of its 20 minutes there.
    # (Their Gaussian low-pass against these block means: on 8 paintings × 3 pixel-size ratios, of 72 regions
    # each, the same number agreed with the exact alignment, and with one 3 px, 1° or 1 % off, to ±1.)
    from_copy = Alignment(to_reduced @ np.linalg.inv(reduction_matrix(factor_p)), alignment.kind)
    moved = warp(reduced(photo, factor_p, fill_missing=False), from_copy, reference.shape)
    # The regions tile where the photograph lies over the X-ray: the whole X-ray for a photograph of the
    # painting, a detail's own footprint (a detail over a third of it covered no half-size region: "0 %
    # agree" for an exact alignment), inside its outline when turned (see :func:`inner_box`).
    placing = to_reduced if placed_by is None else reduction_matrix(factor) @ placed_by.matrix
    top, left, bottom, right = inner_box(photo.shape, placing, reference.shape)
    height, width = int((bottom - top) * share), int((right - left) * share)
    centres, shifts = [], []
    for y0 in np.linspace(top, bottom - height, grid).astype(int):
        for x0 in np.linspace(left, right - width, grid).astype(int):
            region = (slice(y0, y0 + height), slice(x0, x0 + width))
            if min(height, width) < MIN_CHECK_SIDE or not _covers(photo.shape, placing, region):
                continue
            centres.append([y0 + (height - 1) / 2, x0 + (width - 1) / 2])
            shifts.append(phase_correlation(edge_image(reference[region]), edge_image(moved[region])))
    return np.array(centres).reshape(-1, 2) * factor, np.array(shifts).reshape(-1, 2) * factor


def footprint(
    photo_shape: tuple[int, ...], matrix: np.ndarray, shape: tuple[int, ...], within: bool = False
) -> tuple[int, int, int, int]:
    """(top, left, bottom, right): the box around the photograph mapped by ``matrix``, within an image
    of ``shape``; ``within``: only the pixels whose centres lie inside that box (rounded inwards: on a
    reduced copy, rounding outwards reached half a pixel beyond a photograph of the X-ray's own pixel
    size, and the check's last row of regions was dropped as not covered)."""
    mapped = apply_transform(matrix, _corners(photo_shape))
    low, high = (np.ceil, np.floor) if within else (np.floor, np.ceil)
    top, left = np.clip(low(mapped.min(axis=0)), 0, None).astype(int)
    bottom, right = np.minimum(high(mapped.max(axis=0)).astype(int) + 1, shape[:2])
    return int(top), int(left), int(max(bottom, top)), int(max(right, left))


def _corners(photo_shape: tuple[int, ...]) -> np.ndarray:
    """(4, 2) (row, column) of the photograph's corner pixels' centres."""
    last_row, last_column = photo_shape[0] - 1, photo_shape[1] - 1
    return np.array([[0, 0], [0, last_column], [last_row, 0], [last_row, last_column]], float)


def inner_box(photo_shape: tuple[int, ...], matrix: np.ndarray, shape: tuple[int, ...]) -> tuple[int, int, int, int]:
    """(top, left, bottom, right): a box the photograph mapped by ``matrix`` covers whole, within an image
    of ``shape``. Of two candidates the larger one covered: the box between the second-lowest and
    second-highest of the mapped corners' rows and columns (for a rectangle turned by θ, its sides
    shrink by the other side's sin θ), and the box around the photograph (:func:`footprint`) shrunk
    about its centre (better near 45°, where the first one thins out); where neither is covered (a
    mapping bent beyond a convex outline), the box around it.

    Why: the check's regions tiled the box *around* a turned photograph, and only those it covered whole
    were compared; a photograph of part of the painting turned 0.5° kept the centre region alone, and
    alignments 2.5–2.9 px off at the corners had "100 % of the regions" agree (1 of 1)."""
    rows, columns = np.sort(apply_transform(matrix, _corners(photo_shape)), axis=0).T
    around = footprint(photo_shape, matrix, shape, within=True)
    centre = np.array([around[0] + around[2] - 1, around[1] + around[3] - 1]) / 2
    half = np.array([around[2] - around[0] - 1, around[3] - around[1] - 1]) / 2

    def shrunk(share: float) -> tuple[int, int, int, int]:
        return _rounded_in(*(centre - share * half), *(centre + share * half), shape)

    low, high = 0.0, 1.0
    for _ in range(12):  # the shrink, bisected to 1/4096 of the box: a box inside a convex outline
        middle = (low + high) / 2
        low, high = (middle, high) if _box_covered(photo_shape, matrix, shrunk(middle)) else (low, middle)
    candidates = [_rounded_in(rows[1], columns[1], rows[2], columns[2], shape), shrunk(low)]
    covered = [box for box in candidates if _box_covered(photo_shape, matrix, box)]
    return max(covered, key=lambda b: (b[2] - b[0]) * (b[3] - b[1])) if covered else around


def _rounded_in(
    top: float, left: float, last_row: float, last_column: float, shape: tuple[int, ...]
) -> tuple[int, int, int, int]:
    """The pixels whose centres lie between the given rows and columns (inclusive), within ``shape``."""
    top_, left_ = max(int(np.ceil(top)), 0), max(int(np.ceil(left)), 0)
    bottom, right = min(int(np.floor(last_row)) + 1, shape[0]), min(int(np.floor(last_column)) + 1, shape[1])
    return top_, left_, max(bottom, top_), max(right, left_)


def _box_covered(photo_shape: tuple[int, ...], matrix: np.ndarray, box: tuple[int, int, int, int]) -> bool:
    top, left, bottom, right = box
    return bottom > top and right > left and _covers(photo_shape, matrix, (slice(top, bottom), slice(left, right)))


def _covers(photo_shape: tuple[int, ...], matrix: np.ndarray, region: tuple[slice, slice]) -> bool:
    """Whether the photograph, mapped by ``matrix``, covers the rectangle ``region`` whole."""
    (top, bottom), (left, right) = (region[0].start, region[0].stop - 1), (region[1].start, region[1].stop - 1)
    corners = np.array([[top, left], [top, right], [bottom, left], [bottom, right]], float)
    source = apply_transform(np.linalg.inv(matrix), corners)
    return bool((source >= 0).all() and (source[:, 0] <= photo_shape[0] - 1).all() and (source[:, 1] <= photo_shape[1] - 1).all())
