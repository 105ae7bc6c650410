"""Registration aid: is the photograph aligned with the X-ray, and if not, align it — on scikit-image.

The separation needs the photograph registered to the X-ray pixel for pixel, which scans and photos
rarely are, nor do they share a pixel size. This module holds the automatic estimates, built on the
edge comparisons of :mod:`.edges`:

* a shift (:func:`estimate_translation`) for a photograph of the X-ray's size and pixel size;
* a similarity (:func:`estimate_similarity`): rotation and scale from the log-polar spectra, on
  reduced copies, so pixel-size ratios of 0.25–4× and more cost the same, then the shift;
* the sub-pixel polish (:func:`refine_alignment`): Gauss–Newton (Lucas–Kanade) on smoothed edge
  images (:func:`scipy.ndimage.gaussian_filter`), warped by :func:`skimage.transform.warp` —
  scikit-image has no multimodal similarity polish, and the benchmark needs one (the log-polar
  estimate alone leaves corners 0.5–2 px off);
* the perspective of a photograph taken at a slight angle (:func:`estimate_automatic`): the
  similarity polished as a projective transform, kept where it moves the corners;
* a mirrored photograph tried too (:func:`estimate_any_way_round`), and the quick check before a
  separation (:func:`check_alignment`, :func:`misalignment_warning`).

Each estimate's region-by-region check is :func:`.edges.agreement`. The transform type is
:class:`.alignment.Alignment`; point pairs are fitted in :mod:`.pointpairs`, the photograph
resampled in :mod:`.warp`. Images may be numpy arrays or lazily read arrays (anything sliced like
one, e.g. a memory-mapped TIFF): estimates read reduced copies and tiles.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace
from typing import Any

import numpy as np
from scipy import ndimage
from skimage.transform import ProjectiveTransform, SimilarityTransform
from skimage.transform import warp as skimage_warp

from .alignment import (
    Alignment,
    Mirrored,
    apply_transform,
    offset_words,
    similarity_fit,
    size_words,
    translation_matrix,
)
from .edges import (
    CONFIDENT,
    MIN_CHECK_SIDE,
    REFINE_SIDE,
    agreement,
    common_factors,
    edge_image,
    kept_copy,
    phase_correlation,
    reduced,
    reduction_factor,
    reduction_matrix,
    reductions_kept,
    region_shifts,
    rotation_and_scale,
    shared_corners,
)
from .errors import InputError
from .support import detect_support

# Rotation and scale are read on copies at most this big (log-polar spectra of COARSE_SIDE/2 radii).
COARSE_SIDE = 512
# The sub-pixel polish goes coarse to fine: wide edges pull an estimate a few pixels off into
# place, sharp ones settle it.
REFINE_SIGMAS = (2.0, 0.5)
# The polish's robust weights: Tukey's biweight, residuals beyond this many robust standard deviations left out
# (4.685: 95 % of least squares' efficiency on Gaussian residuals).
TUKEY_C = 4.685
# After the plain polish, one robust one (Tukey's biweight) where the X-ray is compared at its own pixel
# size: its grain and the canvas weave, which the photograph lacks and reducing averages away, are
# outliers, not Gaussian noise, and pulled the plain fit (a photograph of the painting's top 60 % at the
# X-ray's pixel size: corners 0.79 px off, 44 % of the regions agreeing; robustly 0.57 px, 56 %). Kept only
# within this many X-ray px (worst corner) of the plain result: a settling, never a new search — started
# from scratch it has a wider pull and also a wider reach, and on a photograph's own luma (no grain) it
# is slightly worse than least squares (corners 0.04–0.08 → 0.1–0.13 px).
ROBUST_MAX_PX = 1.0
# The polish compares only the painting found on the X-ray, less a band along its edge, where that leaves
# at least this share of the (reduced) X-ray (see :func:`_painting_inside`); else the whole of it.
PAINTING_MIN_SHARE = 0.05
# A shift under this (X-ray px) is not worth a warning before a separation.
MISALIGNED_PX = 1.0
# A back photograph turned the wrong way lines up with no region of the X-ray; turned right, with a few
# (a panel's X-ray holds both sides: 1 to 3 of 4 regions agree on the synthetic panels).
MIRROR_CONFIDENT = 0.25
# A photograph every region agrees with is estimated mirrored too where its mirror image's coarse edge
# correlation is at least this share of its own: a left–right symmetric subject (a rocket between two
# towers: 0.42–0.50; ordinary photographs 0.09–0.40, a weak match's up to 1.1), whose mirror image every
# region can agree with too (corners 650–711 px off, residual 0.26–0.59 px, the right one 0–0.05).
MIRROR_COARSE_SHARE = 0.3
# ... and of two estimates every region agrees with, the mirror image's is kept only this much closer
# (RMS residual, X-ray px): the rocket's wrong ones 0.24–0.59 px off, the right ones 0–0.10; a subject
# symmetric but for small details (a breaker's painting of its own mirrored half, a few blobs on one
# side) differs by 0.002–0.02 either way, which is noise: kept as stored, and said.
MIRROR_CLOSER_PX = 0.1
MIRROR_UNSURE_NOTE = (
    "The photograph lines up as closely mirrored left–right (a nearly symmetric subject) and was kept as it is: if it "
    "shows the painting mirrored (photographed from the back), align it from point pairs with an affine transform."
)
# Coarse candidates refined and checked, best first, until one passes the check (CONFIDENT).
CANDIDATES_CHECKED = 3
# Where every candidate is refused, scales within SCAN_RANGE× either way of the frames' ratio are
# scanned in SCAN_STEPS steps (3.5 % apart: a right scale's coarse edge correlation peaks 0.08–0.16
# above its neighbours 3 % off), then SCAN_STEPS_FINE within a step of the best.
SCAN_RANGE = 2.0
SCAN_STEPS = 41
SCAN_STEPS_FINE = 5
# ... and the scan's best is kept only where at least this share of the regions agree: a search over
# scales finds a pattern's period too (a breaker's checkered painting, a detail at 0.35: scale 0.70,
# 50 % agreeing, 313 px off), and every right one the scan found had all of them agree.
SCAN_CONFIDENT = 0.75
# Where the scan is refused too, the unrotated candidates are settled by the check's region shifts (see
# :func:`_region_settled`): at most REGION_ROUNDS fits, until the worst corner moves under REGION_SETTLED_PX
# (X-ray px); kept at SCAN_CONFIDENT, as the scan's.
REGION_ROUNDS, REGION_SETTLED_PX = 6, 0.1
# (scale ratio, turn in degrees) of an accepted estimate at which a repeating pattern lines up too: twice
# and half its period, and the quarter turns a checkerboard or square tiles are symmetric under.
HARMONICS = [
    (ratio, turn) for ratio in (0.5, 1.0, 2.0) for turn in (0.0, 90.0, 180.0, 270.0) if (ratio, turn) != (1.0, 0.0)
]
# Where the two images' reduction factors differ by at most this ratio, the spectra are also compared
# with both reduced by the finer factor.
COMMON_FACTORS = 2
# A photograph taken at a slight angle: its perspective is kept when it moves a corner of the area
# the images share by at least PERSPECTIVE_PX (X-ray px) from the similarity and PERSPECTIVE_GAIN more
# of the painting's small regions (PERSPECTIVE_GRID² of a quarter side, the same for both) agree with
# it. Polished as a projective where there is none (14 synthetic pairs), a corner moved up to 1.4 px
# (the projective's own extrapolation: 0.4–1.3 px off the truth, where the similarity was 0.04–0.95)
# with at most 1/25 more small regions agreeing: every one kept its similarity. With 2–9 px of
# perspective the 12 photographic pairs and one procedural one were corrected to 0.09–0.56 px; one
# procedural pair (its small regions mostly featureless) kept its similarity, 6.4 px off.
PERSPECTIVE_PX = 1.0
PERSPECTIVE_GAIN = 0.2
PERSPECTIVE_GRID = 5
# ... or, as many agreeing, those that agree at least PERSPECTIVE_RESIDUAL_PX off (RMS) twice as close
# (a perspective of 2–3 px at the corners leaves every region within a pixel).
PERSPECTIVE_RESIDUAL_PX = 0.4
# A slight angle: the perspective changes the scale across the area the images share by at most this
# share (a wrong estimate that no region agreed with, polished as a projective, was bent by 40 % until
# 62 % of the regions agreed). 8 px of keystone across 768 px changes it by 2 %.
MAX_PERSPECTIVE = 0.1
# The perspective's polish starts from the polished similarity, at the fine scale only: at σ = 2 its
# two extra terms wander along the blur's flat valley (corners 3–5 px off, then brought back).
PERSPECTIVE_SIGMAS = (0.5,)
# Said as what was measured, not its cause: a tester's photograph, only resized and turned, was better
# placed by a projective (0.05-0.55 px) than by the similarity, whose scale was 0.8 % off.
PERSPECTIVE_NOTE = (
    "a perspective was corrected (a projective transform): the painting's regions near its corners agreed with "
    "it better than with a similarity, as with a photograph taken at a slight angle."
)

# An estimate the regions' shifts put more than CORNER_OFF_PX (X-ray px) off at a corner of the area the
# photograph covers (:attr:`Alignment.corner_px`) is settled by those shifts (:func:`_region_settled`), and
# kept so where they then put it closer. The polish's least squares is pulled by edges only one image
# shows (a tacking margin's bare canvas: a perspective kept where there is none, corners 2–4 px off,
# every region but 2 agreeing); phase correlation, which whitens the spectra, much less. Over 80
# estimates of 4 cases × 5 variants × 2 seeds × 2 pixel-size ratios, the shifts put the 75 within 0.6 px
# of the truth at 0.01–0.35 px, the other five (0.9–3.8 px off) at 0.63–1.29; settled, those five came
# to 0.13–0.42 px. Said to the user where it stays (:func:`corner_note`).
CORNER_OFF_PX = 0.5
CORNER_NOTE = (
    "the regions' shifts put the photograph's corners about {:.1f} px from where this alignment puts them, though "
    "the regions agree: compare the aligned photograph with the X-ray near its corners, and align from point pairs "
    "if it is off."
)

# The pixel sizes' scale (the photograph's over the X-ray's) is a first guess: one that makes the
# photograph span more than this factor of the X-ray's extent, or less than its inverse, is no pair's;
# and one the alignment found more than SCALE_PRIOR_OFF away from has a wrong pixel size behind it.
PRIOR_EXTENT = 20.0
SCALE_PRIOR_OFF = 0.1


def check_scale_prior(scale_prior: float | None, photo_shape: tuple[int, ...], xray_shape: tuple[int, ...]) -> None:
    """Raise InputError when the pixel sizes' ``scale_prior`` (X-ray pixels per photograph pixel) would
    make the photograph span more than :data:`PRIOR_EXTENT` times the X-ray's extent (geometric mean of
    the sides), or less than its inverse: one of the pixel sizes is wrong (a tester's 1e-6 mm gave a
    photograph 1e5 times too large, and "an image … too small to register"). None passes."""
    if scale_prior is None:
        return
    extent = scale_prior * float(np.sqrt(photo_shape[0] * photo_shape[1] / (xray_shape[0] * xray_shape[1])))
    if not 1 / PRIOR_EXTENT <= extent <= PRIOR_EXTENT:
        raise InputError(
            f"The pixel sizes make a photograph pixel {scale_prior:.3g} X-ray pixels, so the photograph would span "
            f"{extent:.3g} times the X-ray: one of them is wrong. Check them (the files' or those given), or leave "
            "them out and the scale is found from the images."
        )


def scale_prior_note(alignment: Alignment, scale_prior: float | None) -> str | None:
    """A sentence when the ``alignment`` found differs in scale from the pixel sizes' ``scale_prior`` by
    more than :data:`SCALE_PRIOR_OFF` (one of them is wrong, and so is any length in mm read from it);
    None where they agree, no prior was given or the alignment is a translation (no scale of its own)."""
    if scale_prior is None or alignment.kind == "translation":
        return None
    # Off by a factor either way: a pixel size 11 % too large is as wrong as one 11 % too small.
    ratio = alignment.scale / scale_prior
    if max(ratio, 1 / ratio) <= 1 + SCALE_PRIOR_OFF + 1e-12:
        return None
    return (
        f"The pixel sizes make a photograph pixel {scale_prior:.4g} X-ray pixels, the alignment {alignment.scale:.4g}: "
        "one of the pixel sizes (the files' or those given) is wrong, and so is any length in mm read from it."
    )


def refusal_hint(alignment: Alignment, scale_prior: float | None) -> str:
    """A sentence on what an automatic ``alignment`` that failed its check (fewer than CONFIDENT of the
    regions agree) may mean, given the pixel sizes' ``scale_prior`` ("" where none was given or the
    alignment is a translation): with the pixel sizes' scale it may be right — the check then found too
    few edges the two images share (a tester's soft painting, right — forced, no shift was left against
    the exact registration — was refused with 33 % agreeing, and "if one of them is wrong" sent the user
    after right pixel sizes); at another scale, one of the pixel sizes may be wrong."""
    if scale_prior is None or alignment.kind == "translation":
        return ""
    if scale_prior_note(alignment, scale_prior) is None:
        return (
            f"Its scale agrees with the pixel sizes' ({scale_prior:.3g}), so it may be right, the X-ray and the "
            "photograph sharing too few edges for the check (much of the X-ray is the hidden design, or both are "
            "soft): compare it with the X-ray by eye."
        )
    return f"The pixel sizes' scale, {scale_prior:.3g}, was tried first: if one of them is wrong, leave it out."


def _similarity(rotation_deg: float, scale: float) -> np.ndarray:
    return SimilarityTransform(scale=scale, rotation=np.radians(rotation_deg)).params


def _about(centre_to: tuple[float, float], linear: np.ndarray, centre_from: tuple[float, float]) -> np.ndarray:
    """``linear`` applied about ``centre_from`` (x, y), which it takes to ``centre_to``."""
    return translation_matrix(centre_to[1], centre_to[0]) @ linear @ translation_matrix(-centre_from[1], -centre_from[0])


def _centre(shape: tuple[int, ...]) -> tuple[float, float]:
    return (shape[1] - 1) / 2, (shape[0] - 1) / 2


def check_estimable(x_shape: tuple[int, ...], photo_shape: tuple[int, ...], translation: bool = False) -> None:
    """Raise InputError where no automatic estimate can be made for an X-ray and a photograph of these
    shapes, before anything is read: a shift alone (``translation``) between images of different sizes,
    or images under 2·MIN_CHECK_SIDE px a side."""
    if translation and tuple(x_shape[:2]) != tuple(photo_shape[:2]):
        raise InputError(
            f"The X-ray is {size_words(x_shape)} and the photograph {size_words(photo_shape)}: a shift alone cannot "
            "resample a photograph of another size — estimate a similarity (rotation, scale and shift) or "
            "place point pairs."
        )
    if min(*x_shape[:2], *photo_shape[:2]) < 2 * MIN_CHECK_SIDE:
        raise InputError(
            f"The X-ray is {size_words(x_shape)} and the photograph {size_words(photo_shape)} pixels: too small to align "
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
    check_estimable(x_mixed.shape, photo.shape, translation=True)
    factor = reduction_factor(x_mixed.shape, 4 * COARSE_SIDE)
    dy, dx = phase_correlation(edge_image(reduced(x_mixed, factor)), edge_image(reduced(photo, factor)))
    return agreement(x_mixed, photo, Alignment(translation_matrix(dy * factor, dx * factor), "translation"))


def _coarse_candidates(x_mixed: Any, photo: Any, scale_prior: float | None = None) -> list[tuple[float, np.ndarray]]:
    """The coarse stage of :func:`estimate_similarity`: (edge correlation, matrix) of each rotation, scale
    and shift the spectra and the frames suggest, on copies at most COARSE_SIDE on a side, best first;
    each matrix maps the full-size photograph's (x, y, 1) to the full-size X-ray's."""
    reference, moving, factor_x, factor_p = _coarse_edges(x_mixed, photo)
    rotation, scale = rotation_and_scale(reference, moving)
    # On the reduced copies a photograph pixel is scale_prior·factor_p/factor_x reduced X-ray pixels.
    scales = [scale] + ([scale_prior * factor_p / factor_x] if scale_prior is not None else [])
    turns = [(rotation, s) for s in scales]
    # Copies reduced by different factors lose different detail, and the spectra can settle wrong (a
    # camera photograph on a backdrop, 1050 px wide beside a 768 px X-ray: factors 3 and 2, scale
    # 0.62 for 0.80, refused): where the factors are near, both reduced by the finer one too.
    common = min(factor_x, factor_p)
    if factor_x != factor_p and max(factor_x, factor_p) <= COMMON_FACTORS * common:
        angle, alike = rotation_and_scale(edge_image(reduced(x_mixed, common)), edge_image(reduced(photo, common)))
        turns.append((angle, alike * factor_p / factor_x))
    # A photograph resampled by an interpolating filter has lost the high frequencies the spectra
    # compare, and they can then settle on a wrong rotation and scale: the commonest case, the same
    # painting framed alike at another pixel size (unrotated, the extents' ratio), is tried beside them.
    candidates = turns + [(0.0, _extent(reference, moving))]
    # ... and the files' pixel sizes, unrotated too: a photograph of part of the painting (its top 60 %)
    # is framed unlike the X-ray, and its spectra's rotation can be wrong (-11.6° for 0°: refused).
    candidates += [(0.0, s) for s in scales[1:]]
    # The spectra cannot tell a rotation from its half-turn, nor a true scale from a pattern's: the edges can.
    scored = [_placed(reference, moving, angle + turn, scale) for (angle, scale) in candidates for turn in (0.0, 180.0)]
    ranked = sorted(scored, key=lambda item: -item[0])
    return [(score, _to_full(coarse, factor_x, factor_p)) for score, coarse in ranked]


def _coarse_edges(x_mixed: Any, photo: Any) -> tuple[np.ndarray, np.ndarray, int, int]:
    """(X-ray edges, photograph edges, X-ray factor, photograph factor): each image's edges on its copy
    reduced to at most COARSE_SIDE on a side."""
    factor_x, factor_p = reduction_factor(x_mixed.shape, COARSE_SIDE), reduction_factor(photo.shape, COARSE_SIDE)
    return edge_image(reduced(x_mixed, factor_x)), edge_image(reduced(photo, factor_p)), factor_x, factor_p


def _extent(reference: np.ndarray, moving: np.ndarray) -> float:
    """The scale at which the two images' frames hold the same area."""
    return float(np.sqrt(reference.shape[0] * reference.shape[1] / (moving.shape[0] * moving.shape[1])))


def _placed(reference: np.ndarray, moving: np.ndarray, angle: float, scale: float) -> tuple[float, np.ndarray]:
    """(edge correlation, matrix): the ``moving`` edges turned by ``angle`` and scaled by ``scale`` about
    the centres, then shifted onto the ``reference`` edges by :func:`phase_correlation`."""
    linear = _about(_centre(reference.shape), _similarity(angle, scale), _centre(moving.shape))
    dy, dx = phase_correlation(reference, _warp_array(moving, linear, reference.shape))
    matrix = translation_matrix(dy, dx) @ linear
    return _edge_correlation(reference, _warp_array(moving, matrix, reference.shape)), matrix


def _to_full(coarse: np.ndarray, factor_x: int, factor_p: int) -> np.ndarray:
    """A matrix between the reduced copies as one between the full-size images: X-ray ← reduced X-ray ←
    reduced photograph ← photograph."""
    return np.linalg.inv(reduction_matrix(factor_x)) @ coarse @ reduction_matrix(factor_p)


def _scanned(x_mixed: Any, photo: Any, angles: list[float]) -> np.ndarray:
    """The full-size matrix of the best-matching coarse edges over a scan of scales (SCAN_RANGE about
    the frames' ratio, SCAN_STEPS steps, then SCAN_STEPS_FINE within a step of the best) at each of
    ``angles``: for when the spectra's scale is wrong (a hidden design's strong edges can hold their
    spectrum) and the frames differ (a camera photograph on a backdrop)."""
    reference, moving, factor_x, factor_p = _coarse_edges(x_mixed, photo)
    ratios = np.exp(np.linspace(-np.log(SCAN_RANGE), np.log(SCAN_RANGE), SCAN_STEPS))
    scales = _extent(reference, moving) * ratios
    _, angle, scale = max((_placed(reference, moving, a, s)[0], a, s) for a in angles for s in scales)
    step = float(ratios[1] / ratios[0])
    finer = scale * step ** np.linspace(-1, 1, SCAN_STEPS_FINE)
    _, coarse = max((_placed(reference, moving, angle, s) for s in finer), key=lambda item: item[0])
    return _to_full(coarse, factor_x, factor_p)


@reductions_kept()  # its candidates, polishes and checks read each image's copies once
def estimate_similarity(
    x_mixed: Any, photo: Any, scale_prior: float | None = None, perspective: bool = False
) -> Alignment:
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
    perspective : bool
        Also the perspective of a photograph taken at a slight angle (:func:`estimate_automatic`).

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
    check_estimable(x_mixed.shape, photo.shape)
    if scale_prior is not None and not (np.isfinite(scale_prior) and scale_prior > 0):
        raise InputError(f"The scale prior must be a positive number of X-ray pixels per photograph pixel; got {scale_prior}.")
    candidates = _coarse_candidates(x_mixed, photo, scale_prior)
    # The coarse edges' best is refined and checked; where the check fails, the next best too (a camera
    # JPEG's 300 dpi beside the X-ray's 300 dpi made a scale of 1 win on the coarse edges over the
    # spectra's right 0.71, and the alignment was refused: 11 % of the regions).
    best = None
    for _, matrix in candidates[:CANDIDATES_CHECKED]:
        alignment = _polished(x_mixed, photo, Alignment(matrix, "similarity"))
        # Before the next candidate: a right one whose corners are off fails the check too. (A candidate
        # below the best, that no region agrees with, is a wrong scale or turn: no perspective saves it.)
        if perspective and (best is None or alignment.confidence > 0):
            alignment = _with_perspective(x_mixed, photo, alignment)
        if best is None or alignment.confidence > best.confidence:
            best = alignment
        if best.confidence >= CONFIDENT:
            break
    if best.confidence < CONFIDENT:
        # Every candidate refused: the frames' ratio and the spectra's scale may both be wrong while a
        # rotation is right (a tester's cat on a grey backdrop, its hidden motorcycle's edges holding the
        # spectra: 0.73 and 0.73 for 0.80, refused). A scan of scales at the candidates' turns and none.
        tried = candidates[:CANDIDATES_CHECKED]
        turns = {0.0} | {round(Alignment(matrix, "similarity").rotation_deg, 1) for _, matrix in tried}
        scanned = _polished(x_mixed, photo, Alignment(_scanned(x_mixed, photo, sorted(turns)), "similarity"))
        if perspective and scanned.confidence > 0:
            scanned = _with_perspective(x_mixed, photo, scanned)
        if scanned.confidence >= SCAN_CONFIDENT:
            best = scanned
    if best.confidence < CONFIDENT:
        # ... and, the scan refused too, the unrotated candidates (the files' pixel sizes, the frames'
        # ratio) settled by the check's own region shifts: a hidden design that holds the coarse edges
        # ranks them below the spectra's wrong turns (a cat over a motorcycle, 0.6× and 1.5°: 6th and
        # below), and the polish, pulled by its edges and by a ruler or chart only the photograph shows,
        # took even an exact start 120–220 px off (the photograph already registered: refused).
        for start in _unrotated(x_mixed, photo, scale_prior):
            settled = _region_settled(x_mixed, photo, Alignment(start, "similarity"))
            if settled.confidence >= SCAN_CONFIDENT:
                best = settled
                break
    if best.confidence >= CONFIDENT:
        best = _harmonics_checked(x_mixed, photo, best, perspective)
    return _settled_if_off(x_mixed, photo, best)


def _corners_off(alignment: Alignment) -> bool:
    """Whether an accepted estimate's regions put a corner more than CORNER_OFF_PX off — or half a
    photograph pixel, where those are the coarser (a photograph at 2× the X-ray's pixel size lands within
    a third of its own pixel, 0.7 X-ray px: all it holds)."""
    return alignment.confidence >= CONFIDENT and alignment.corner_px > CORNER_OFF_PX * max(1.0, alignment.scale)


def _settled_if_off(x_mixed: Any, photo: Any, alignment: Alignment) -> Alignment:
    """``alignment``, or where its regions' shifts put a corner off (:func:`_corners_off`), the similarity
    those shifts settle it to (:func:`_region_settled`), where as many regions agree with it and its own
    shifts put its corners closer."""
    if not _corners_off(alignment):
        return alignment
    settled = _region_settled(x_mixed, photo, replace(alignment, kind="similarity"))
    if not (settled.confidence >= alignment.confidence and settled.corner_px < alignment.corner_px):
        return alignment
    if alignment.kind != "projective":
        return settled
    # The settled similarity is fitted to the very shifts it is judged by, and a similarity of them cannot
    # see a perspective's error: a perspective is given up only where the small regions nearer the corners
    # (those :func:`_with_perspective` kept it by) agree with the similarity as well, and as closely.
    before, after = (
        agreement(x_mixed, photo, each, PERSPECTIVE_GRID, 1 / (PERSPECTIVE_GRID - 1), placed_by=alignment)
        for each in (alignment, settled)
    )
    kept = after.confidence >= before.confidence and not after.residual_px > before.residual_px
    return settled if kept else alignment


def corner_note(alignment: Alignment) -> str | None:
    """What to tell the user of an automatic estimate whose regions' shifts put its corners off
    (:func:`_corners_off`; :data:`CORNER_NOTE`, a sentence to follow "Note: " or a warning); None otherwise."""
    if not _corners_off(alignment):
        return None
    return CORNER_NOTE.format(alignment.corner_px)


def _unrotated(x_mixed: Any, photo: Any, scale_prior: float | None) -> list[np.ndarray]:
    """Full-size matrices of the photograph unrotated at the files' pixel-size ratio (where known) and
    at the frames' ratio, each shifted into place on the coarse edges (:func:`_placed`)."""
    reference, moving, factor_x, factor_p = _coarse_edges(x_mixed, photo)
    scales = ([scale_prior * factor_p / factor_x] if scale_prior is not None else []) + [_extent(reference, moving)]
    return [_to_full(_placed(reference, moving, 0.0, scale)[1], factor_x, factor_p) for scale in scales]


def _region_settled(x_mixed: Any, photo: Any, alignment: Alignment) -> Alignment:
    """``alignment`` moved by the check's own measurements until they settle: the similarity that takes
    each region's photograph point (its centre, mapped back) to where the region's shift puts it on the
    X-ray, fitted by least squares, at most REGION_ROUNDS times (until the worst corner moves less than
    REGION_SETTLED_PX), then checked (:func:`agreement`). Phase correlation whitens the spectra, so a
    hidden design's strong edges pull it less than the polish's least squares."""
    for _ in range(REGION_ROUNDS):
        centres, shifts = region_shifts(x_mixed, photo, alignment)
        if len(centres) < 3:
            break
        points = apply_transform(np.linalg.inv(alignment.matrix), centres)  # (y, x) in the photograph
        settled = replace(alignment, matrix=similarity_fit(points, centres + shifts))
        moved = corner_shift(alignment, settled, photo.shape, x_mixed.shape)
        alignment = settled
        if moved < REGION_SETTLED_PX:
            break
    return agreement(x_mixed, photo, alignment)


def _harmonics_checked(x_mixed: Any, photo: Any, best: Alignment, perspective: bool) -> Alignment:
    """``best``, or the best-matching of its harmonics (:data:`HARMONICS`) where its coarse edges match
    better and, polished, at least as many regions agree: a repeating pattern (a checkerboard, tiles)
    also lines up at twice its period and at its symmetries' turns, and the region check can agree
    there (a breaker's checkerboard painting, a detail at 0.4 aligned at 0.8 turned 180°, 633 px off,
    half the regions agreeing; at 0.8 turned 90° more, every region agreeing)."""
    reference, moving, factor_x, factor_p = _coarse_edges(x_mixed, photo)
    found = reduction_matrix(factor_x) @ best.matrix @ np.linalg.inv(reduction_matrix(factor_p))
    found_score = _edge_correlation(reference, _warp_array(moving, found, reference.shape))
    # On the reduced copies the scale is best.scale·factor_p/factor_x (see _coarse_candidates).
    coarse_scale = best.scale * factor_p / factor_x
    score, coarse = max(
        (_placed(reference, moving, best.rotation_deg + turn, coarse_scale * ratio) for ratio, turn in HARMONICS),
        key=lambda item: item[0],
    )
    if score <= found_score:
        return best
    harmonic = _polished(x_mixed, photo, Alignment(_to_full(coarse, factor_x, factor_p), "similarity"))
    if perspective and harmonic.confidence > 0:
        harmonic = _with_perspective(x_mixed, photo, harmonic)
    return harmonic if harmonic.confidence >= best.confidence else best


def estimate_automatic(x_mixed: Any, photo: Any, scale_prior: float | None = None) -> Alignment:
    """The photograph's alignment as a camera sees a flat painting: :func:`estimate_similarity`, each
    candidate also polished as a projective transform (:func:`refine_alignment`), which is kept where
    it moves a corner of the area the two images share by :data:`PERSPECTIVE_PX` or more from the
    similarity, at least as many regions agree with it (:func:`.edges.agreement`), and clearly more of
    the painting's small regions (:data:`PERSPECTIVE_GAIN`) — a photograph taken at a slight angle,
    whose corners a similarity leaves several pixels off (while the check's half-size regions may
    still agree).

    Parameters
    ----------
    x_mixed, photo, scale_prior
        As for :func:`estimate_similarity`.

    Returns
    -------
    Alignment
        As :func:`estimate_similarity`'s, its ``kind`` "projective" (``matrix`` with a perspective
        row) where the perspective was kept.

    Raises
    ------
    InputError
        As :func:`estimate_similarity`.

    References
    ----------
    .. [1] R. Hartley and A. Zisserman, *Multiple View Geometry in Computer Vision*, 2nd ed.,
       Cambridge University Press, 2004, §2.3 (a plane seen by a camera: a homography).

    Examples
    --------
    A photograph (1.25 photograph pixels per X-ray pixel, on a grey backdrop) taken from nearer the
    painting's right side:

    >>> import numpy as np
    >>> from skimage.transform import ProjectiveTransform, warp
    >>> from napari_xraysep.core.registration import estimate_automatic
    >>> from napari_xraysep.datasets.synthetic_photos import make_photo_mixture
    >>> case = make_photo_mixture("photo_coffee_over_astronaut", (192, 256), seed=0)
    >>> to_xray = np.array([[0.8, 0, -8], [0, 0.8, -8], [2e-4, 0, 1]])
    >>> photo = warp(case.rgb_surface, ProjectiveTransform(to_xray), output_shape=(268, 358), cval=0.85)
    >>> estimate_automatic(case.x_mixed, photo).kind
    'projective'
    """
    return estimate_similarity(x_mixed, photo, scale_prior, perspective=True)


def _polished(
    x_mixed: Any, photo: Any, alignment: Alignment, sigmas: tuple[float, ...] = REFINE_SIGMAS
) -> Alignment:
    """``alignment`` polished coarse to fine (``sigmas``) and checked (:func:`agreement`)."""
    for sigma in sigmas:
        alignment = refine_alignment(x_mixed, photo, alignment, sigma=sigma)
    robust = refine_alignment(x_mixed, photo, alignment, sigma=sigmas[-1], robust=True)
    if corner_shift(alignment, robust, photo.shape, x_mixed.shape) <= ROBUST_MAX_PX:
        alignment = robust
    return agreement(x_mixed, photo, alignment)


def _with_perspective(x_mixed: Any, photo: Any, similarity: Alignment) -> Alignment:
    """``similarity`` polished as a projective transform, where the gates of :func:`estimate_automatic` keep it."""
    projective = _polished(x_mixed, photo, replace(similarity, kind="projective"), PERSPECTIVE_SIGMAS)
    moved = corner_shift(similarity, projective, photo.shape, x_mixed.shape)
    plausible = _perspective_spread(projective, photo.shape, x_mixed.shape) <= MAX_PERSPECTIVE
    if not plausible or moved < PERSPECTIVE_PX or projective.confidence < max(similarity.confidence, CONFIDENT):
        return similarity
    # The corners lie beyond the regions the check compares: smaller regions, nearer them (the same
    # for both), must show it — more of them agreeing, or those that agree clearly closer.
    small = [
        agreement(x_mixed, photo, each, PERSPECTIVE_GRID, 1 / (PERSPECTIVE_GRID - 1), placed_by=similarity)
        for each in (similarity, projective)
    ]
    before, after = small
    more = after.confidence >= before.confidence + PERSPECTIVE_GAIN
    closer = after.confidence >= before.confidence and after.residual_px <= before.residual_px / 2
    return projective if more or (closer and before.residual_px >= PERSPECTIVE_RESIDUAL_PX) else similarity


def _perspective_spread(alignment: Alignment, photo_shape: tuple[int, ...], x_shape: tuple[int, ...]) -> float:
    """How much the perspective changes the photograph's scale over the area of the X-ray it covers: the
    largest over the smallest of the projective denominator at that area's corners, less 1 (0 for an
    affine transform; a slight angle a few hundredths)."""
    corners = shared_corners(alignment, photo_shape, x_shape)
    points = apply_transform(np.linalg.inv(alignment.matrix), corners)  # (y, x) in the photograph
    depth = alignment.matrix[2, :2] @ points[:, ::-1].T + alignment.matrix[2, 2]
    if not np.all(depth > 0):
        return float("inf")
    return float(depth.max() / depth.min() - 1)


def corner_shift(
    alignment: Alignment, other: Alignment, photo_shape: tuple[int, ...], x_shape: tuple[int, ...]
) -> float:
    """How far apart (X-ray px) two alignments put the photograph, at the worst corner of the area of the
    X-ray that ``alignment`` says the photograph covers (outside it, a perspective's extrapolation
    says nothing of the painting)."""
    corners = shared_corners(alignment, photo_shape, x_shape)
    # the photograph's points that ``alignment`` puts at those corners, and where ``other`` puts them
    points = apply_transform(np.linalg.inv(alignment.matrix), corners)
    return float(np.linalg.norm(apply_transform(other.matrix, points) - corners, axis=1).max())


def _edge_correlation(reference: np.ndarray, moved: np.ndarray) -> float:
    """Pearson correlation of two edge images where the moved one has content."""
    inside = moved != 0
    if inside.sum() < 16:
        return -1.0
    return float(np.corrcoef(reference[inside], moved[inside])[0, 1])


def estimate_any_way_round(
    x_mixed: Any, photo: Any, estimate: Callable[[Any, Any], Alignment]
) -> Alignment:
    """``estimate(x_mixed, photo)``, and the same for the photograph's mirror image (:class:`Mirrored`)
    unless every region agrees with the first and the mirror image cannot match as well
    (:func:`_mirror_matches_everywhere`); the mirror's is returned where it passes the check and more
    regions agree with it, or as many and clearly closer (``residual_px`` MIRROR_CLOSER_PX smaller),
    its matrix taking the photograph as stored (``mirrored`` then True). Where both agree alike and
    neither is clearly closer (a nearly symmetric subject), the photograph is kept as stored and
    ``mirror_unsure`` says so. (A mirrored portrait can find half the regions agreeing by chance, so a
    merely confident estimate is not enough.) Quarter and other turns need no trying:
    :func:`estimate_similarity` finds any rotation."""
    with reductions_kept():  # both estimates and the checks between them read each image's copies once
        alignment = estimate(x_mixed, photo)
        mirror = Mirrored(photo)
        if alignment.confidence >= 1 and not _mirror_matches_everywhere(x_mixed, photo, mirror):
            return alignment
        mirrored = estimate(x_mixed, mirror)
    # A mirrored estimate that fails its check says nothing of a mirror (a tester's unmirrored
    # photograph, refused both ways, was called "mirrored").
    if mirrored.confidence < CONFIDENT or mirrored.confidence < alignment.confidence:
        return alignment
    if mirrored.confidence == alignment.confidence:
        closer = alignment.residual_px - mirrored.residual_px
        if closer <= -MIRROR_CLOSER_PX:
            return alignment
        if closer < MIRROR_CLOSER_PX:
            return replace(alignment, mirror_unsure=True)
    width = photo.shape[1]
    return replace(mirrored, matrix=mirrored.matrix @ Mirrored.matrix(width), mirror_width=width)


def _mirror_matches_everywhere(x_mixed: Any, photo: Any, mirror: Mirrored) -> bool:
    """Whether the photograph's ``mirror`` image may match the X-ray as well as the photograph, every
    region agreeing — a symmetric subject — so that its whole estimate is worth its time (a mirror
    image no region agrees with costs 3–4× a right estimate): its coarse edges match at least
    :data:`MIRROR_COARSE_SHARE` as well as the photograph's, and its best coarse candidate, polished,
    has every region agree."""
    as_stored = _coarse_candidates(x_mixed, photo)[0][0]
    score, matrix = _coarse_candidates(x_mixed, mirror)[0]
    if score < MIRROR_COARSE_SHARE * as_stored:
        return False
    return _polished(x_mixed, mirror, Alignment(matrix, "similarity")).confidence >= 1


def refine_alignment(
    x_mixed: Any, photo: Any, alignment: Alignment, iterations: int = 30, sigma: float = 0.5,
    robust: bool = False,
) -> Alignment:
    """Sub-pixel polish of an estimate good to a few pixels: Gauss–Newton (Lucas–Kanade) on edge
    images smoothed by ``sigma`` (:func:`scipy.ndimage.gaussian_filter`), with a gain and offset between
    them refitted at every step (their contrasts differ), over the pixels the warped photograph covers.
    Keeps the estimate's kind (similarity: rotation, scale, shift; affine: six parameters; projective:
    eight, the perspective's two linearised about the current estimate; a translation is returned as it
    is — phase correlation is exact already); works on copies at most
    REFINE_SIDE on a side, both at about the coarser one's pixel size. The sharper the edges, the less
    the X-ray's own (hidden) edges bias it (the first estimate's stage at sigma 2 pulls an estimate a
    few pixels off into place, sigma 0.5 settles it). ``robust``: each step by iteratively reweighted
    least squares, Tukey's biweight, where the X-ray is compared at its own pixel size (not reduced).
    For a photograph at least as fine as the X-ray, only the painting found in the X-ray is compared, less
    a band along its edge (:func:`_painting_inside`).

    References: S. Baker and I. Matthews, "Lucas–Kanade 20 years on: a unifying framework",
    Int. J. Comput. Vis. 56 (2004) 221–255."""
    if alignment.kind not in ("similarity", "affine", "projective"):
        return alignment
    factor_x, factor_p = common_factors(x_mixed.shape, photo.shape, alignment.scale, REFINE_SIDE)
    if robust and factor_x != 1:  # on a reduced X-ray its largest residuals are the strongest shared edges
        return alignment
    reference = ndimage.gaussian_filter(edge_image(reduced(x_mixed, factor_x)), sigma)
    moving = ndimage.gaussian_filter(edge_image(reduced(photo, factor_p)), sigma)
    if min(*reference.shape, *moving.shape) < 2 * MIN_CHECK_SIDE:
        return alignment
    grad_y, grad_x = np.gradient(moving)
    # B maps the reduced X-ray's (x, y, 1) to the reduced photograph's.
    inverse = np.linalg.inv(reduction_matrix(factor_x) @ alignment.matrix @ np.linalg.inv(reduction_matrix(factor_p)))
    inverse /= inverse[2, 2]
    height, width = reference.shape
    ys, xs = np.mgrid[0:height, 0:width].astype(np.float64)
    cy, cx = (height - 1) / 2, (width - 1) / 2
    dx_, dy_ = xs - cx, ys - cy
    side = max(height, width) / 2  # the perspective terms are solved per half-side, like the others' effect
    # Pixels near either image's border see its edge filters' border handling, not the painting.
    margin = max(2, int(0.02 * max(height, width)), int(np.ceil(3 * sigma)) + 2)
    # The photograph away from its border, NaN around: a warped pixel any of whose four neighbours lies
    # outside is NaN, so one warp gives both the values and the pixels that are covered.
    covered = np.full(moving.shape, np.nan)
    covered[margin:-margin, margin:-margin] = moving[margin:-margin, margin:-margin]
    # Only the painting, away from its edge (see _painting_inside): None where it fills the frame. For a
    # photograph at least as fine as the X-ray, where it was measured: a coarser one (0.5×) with a chart
    # came 2.5–7.5 px off with it (a breaker's finding; 0.1–0.5 px over the whole of it), and stays so.
    painting = _painting_inside(x_mixed, factor_x, margin) if alignment.scale <= 1.0 else None
    for _ in range(iterations):
        current = np.linalg.inv(inverse)
        warped = _warp_array(covered, current, (height, width), outside=np.nan)
        inside = np.isfinite(warped)
        inside[:margin], inside[-margin:], inside[:, :margin], inside[:, -margin:] = False, False, False, False
        if painting is not None:
            inside &= painting
        if inside.sum() < 100:
            return alignment
        warped = warped[inside]
        gx, gy = _warp_array(grad_x, current, (height, width))[inside], _warp_array(grad_y, current, (height, width))[inside]
        px, py, target = dx_[inside], dy_[inside], reference[inside]
        gain, offset = _least_squares(np.stack([warped, np.ones_like(warped)]), target)
        residual = target - (gain * warped + offset)
        # B + Δ moves a pixel's photograph point p = B_top·q / w by (Δ_top·q − p·Δ_bottom·q) / w, to first order.
        # The Jacobian is built one row per parameter, so that its normal equations are one matrix product.
        if alignment.kind == "similarity":  # Δ_top·q = [[a, −b], [b, a]]·(q − c) + t
            jacobian = np.stack([gx * px + gy * py, -gx * py + gy * px, gx, gy])
        else:  # Δ_top·q = [[a, b], [d, e]]·(q − c) + t
            rows = 8 if alignment.kind == "projective" else 6
            jacobian = np.empty((rows, gx.size))
            np.multiply(gx, px, out=jacobian[0]), np.multiply(gx, py, out=jacobian[1])
            np.multiply(gy, px, out=jacobian[2]), np.multiply(gy, py, out=jacobian[3])
            jacobian[4], jacobian[5] = gx, gy
        if alignment.kind == "projective":  # Δ_bottom·q = (g · (q − c)) / side
            xs_in, ys_in = px + cx, py + cy  # the pixels' own coordinates (exact: multiples of ½)
            w = inverse[2, 0] * xs_in + inverse[2, 1] * ys_in + 1.0
            point_x = (inverse[0, 0] * xs_in + inverse[0, 1] * ys_in + inverse[0, 2]) / w
            point_y = (inverse[1, 0] * xs_in + inverse[1, 1] * ys_in + inverse[1, 2]) / w
            along = -(gx * point_x + gy * point_y) / side
            np.multiply(along, px, out=jacobian[6]), np.multiply(along, py, out=jacobian[7])
        # Tukey's biweight (``robust``, the X-ray at its own pixel size only: see ROBUST_MAX_PX).
        weight = _biweight(residual) if robust and factor_x == 1 else np.ones_like(residual)
        jacobian *= weight * gain
        if alignment.kind == "projective":  # w is 1 for the other kinds
            jacobian /= w
        step = _least_squares(jacobian, weight * residual)
        if alignment.kind == "similarity":
            a, b, tx, ty = step
            linear_step = np.array([[a, -b], [b, a]])
        else:
            linear_step, (tx, ty) = step[:4].reshape(2, 2), step[4:6]
        perspective_step = step[6:8] / side if alignment.kind == "projective" else np.zeros(2)
        inverse[:2, :2] += linear_step
        inverse[:2, 2] += np.array([tx, ty]) - linear_step @ np.array([cx, cy])
        inverse[2, :2] += perspective_step
        inverse[2, 2] -= perspective_step @ np.array([cx, cy])
        inverse /= inverse[2, 2]
        corners_w = inverse[2, :2] @ [[0, width - 1, 0, width - 1], [0, 0, height - 1, height - 1]] + 1
        if not np.all((corners_w > 0.5) & (corners_w < 2)):  # a plane seen nearly edge-on, not a slight angle: lost
            return alignment
        if (np.abs(linear_step).sum() + np.abs(perspective_step).sum() * side) * side + abs(tx) + abs(ty) < 1e-3:
            break
    refined = np.linalg.inv(reduction_matrix(factor_x)) @ np.linalg.inv(inverse) @ reduction_matrix(factor_p)
    return replace(alignment, matrix=refined / refined[2, 2])  # so its scale and shift read as they are


def _least_squares(design: np.ndarray, target: np.ndarray) -> np.ndarray:
    """The minimum-norm least-squares solution of ``design``ᵀ · x ≈ ``target`` (N,), ``design`` (p, N) one row
    per unknown, N ≫ p, through the p × p normal equations ((AᵀA)⁺Aᵀ = A⁺): ``np.linalg.lstsq`` of the whole
    system took a third of a tester's 4-minute alignment (2 000 calls, 41 ms each at N ≈ 750 000), and rows
    rather than columns make AᵀA one contiguous matrix product."""
    return np.linalg.lstsq(design @ design.T, design @ target, rcond=None)[0]


def _painting_inside(x_mixed: Any, factor: int, band: int) -> np.ndarray | None:
    """(h, w) bool on the X-ray reduced by ``factor``: its painting's support (:func:`.support.detect_support`
    on that copy) less a ``band`` of px along the support's edge — the pixels the polish compares — or None
    where the support is the whole frame (or too little of it is left).

    Why: where the painting lies on a film margin, its edge in the X-ray (everything absorbing against
    nothing) is the strongest edge of all, 10–30× the painting's own, while in the photograph it is only
    as strong as the painting's colours are unlike the backdrop's (some sides none). Least squares with
    one gain then drags the photograph's nearest edges — all inside the painting, the backdrop being
    flat — out onto that ridge on every side: a scale too large. A tester's photograph 1.7× finer on a
    backdrop, polished from the exact alignment, went to +0.74 % (σ 2) and +0.54 % (σ 0.5): corners 1.9 px
    off, residual 0.65 px; the painting less a 4 px band: 0.00 %. Outside the support the film margin is
    flat and what the photograph shows there (backdrop, chart, ruler, frame) is nothing the X-ray holds."""

    def found() -> np.ndarray | None:
        copy = reduced(x_mixed, factor)  # its missing blocks filled with the median: painting-like, not missing
        support = detect_support(copy, _known_blocks(x_mixed, factor, copy.shape))
        if support.full:
            return None
        inside = ndimage.binary_erosion(support.mask, iterations=band, border_value=1)
        return inside if inside.sum() >= PAINTING_MIN_SHARE * support.mask.size else None

    return kept_copy(x_mixed, ("painting inside", factor, band), found)


def _known_blocks(image: Any, factor: int, shape: tuple[int, int]) -> np.ndarray | None:
    """(h, w) bool: the ``factor`` x ``factor`` blocks of ``image`` (as :func:`reduced` reads them) with a
    finite pixel, read a strip at a time; None for an integer image (nothing missing)."""
    if np.issubdtype(np.asarray(image[:1, :1]).dtype, np.integer):
        return None
    height, width = shape[0] * factor, shape[1] * factor
    rows = factor * max(1, 2**22 // (factor * width))
    strips = []
    for start in range(0, height, rows):
        finite = np.isfinite(np.asarray(image[start : min(start + rows, height), :width], dtype=np.float64))
        strips.append(finite.reshape(-1, factor, shape[1], factor).any(axis=(1, 3)))
    return np.concatenate(strips)


def _biweight(residual: np.ndarray) -> np.ndarray:
    """Tukey's biweight of each residual, its scale the residuals' median absolute deviation (all 1 where
    that is 0), square-rooted: the rows' factor in a weighted least-squares step."""
    spread = TUKEY_C * 1.4826 * np.median(np.abs(residual - np.median(residual)))
    if not spread > 0:
        return np.ones_like(residual)
    return np.clip(1 - (residual / spread) ** 2, 0, None)


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


def mirror_warning(x_mixed: Any, back_facing: Any, back_other_way: Any, mirrored: bool) -> str | None:
    """A sentence for the user if the back photograph, as the run would use it (``back_facing``, turned
    to face the front: mirrored left–right when ``mirrored``), does not line up with the X-ray but
    turned the other way (``back_other_way``) does, within MISALIGNED_PX at MIRROR_CONFIDENT of the
    regions at least, where as used it is off by MISALIGNED_PX or more — a box left unticked (or
    ticked) costs a double-sided panel ~13 dB of its back's X-ray. None otherwise, and for images too small to judge."""

    def lined_up(dy: float, dx: float, confidence: float) -> bool:
        return confidence >= MIRROR_CONFIDENT and max(abs(dy), abs(dx)) < MISALIGNED_PX

    used, other = check_alignment(x_mixed, back_facing), check_alignment(x_mixed, back_other_way)
    if not lined_up(*used) and not lined_up(*other) and min(x_mixed.shape[:2]) >= 2 * MIN_CHECK_SIDE:
        # Neither way has enough of the back showing in the X-ray (a front that dominates it): said, for a
        # box ticked the wrong way costs the back's X-ray 3–13 dB (a new user's copper panels: no word).
        return (
            "Which way the back photograph faces could not be checked (it lines up with the X-ray neither way: too "
            "little of the back shows in it, or the photograph is not registered): make sure Mirror back side "
            "(--mirror-back) says whether it was photographed from behind."
        )
    # As used, it must also be clearly off (a nearly symmetric back lines up both ways: no verdict).
    off = max(abs(used[0]), abs(used[1])) >= MISALIGNED_PX
    if lined_up(*used) or not off or not lined_up(*other) or other[2] <= used[2]:
        return None
    if mirrored:
        return (
            "The back photograph lines up with the X-ray as it is, not mirrored: it was not photographed from behind — "
            "untick Mirror back side (leave out --mirror-back)."
        )
    return (
        "The back photograph lines up with the X-ray only mirrored left–right (photographed from behind): "
        "tick Mirror back side (--mirror-back)."
    )


def _warp_array(image: np.ndarray, matrix: np.ndarray, shape: tuple[int, int], outside: float = 0.0) -> np.ndarray:
    """An in-memory 2-D image warped by ``matrix`` onto a (H, W) grid (bilinear; ``outside`` beyond the image).
    Not clipped to the image's range: a bilinear mean stays within it (to rounding), and the clip cost a pass."""
    return skimage_warp(
        image, ProjectiveTransform(matrix=np.linalg.inv(matrix)), output_shape=shape, order=1, preserve_range=True,
        clip=False, cval=outside,
    )
