"""An alignment fitted to point pairs the user placed on the photograph and the X-ray.

:func:`fit_transform`: :mod:`skimage.transform`'s translation, similarity, affine and projective
estimates inside :func:`skimage.measure.ransac`, so one misplaced pair cannot ruin the fit (it is
named instead). Apart from the automatic estimates (:mod:`.registration`): it compares no images,
only coordinates.
"""

from __future__ import annotations

import warnings

import numpy as np
from skimage.measure import ransac
from skimage.transform import AffineTransform, EuclideanTransform, ProjectiveTransform, SimilarityTransform

from .alignment import Alignment, TransformKind, apply_transform
from .errors import InputError

# The fewest point pairs that determine each kind of transform.
MIN_POINTS = {"translation": 1, "similarity": 2, "affine": 3, "projective": 4}
# A point pair further than this (X-ray px) from the fit of the others is left out.
MAX_PAIR_ERROR_PX = 3.0


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
    >>> from napari_xraysep.core.pointpairs import fit_transform
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
