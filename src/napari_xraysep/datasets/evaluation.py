"""Quality measures against ground truth, and the least-squares baseline every method must beat.

The baseline predicts the surface X-ray from the photograph pixel by pixel (a polynomial in R, G, B
fitted to the mixed X-ray by least squares) and calls the rest hidden: ``x2 = x − fit``. A learned
separation earns its keep only by beating it.
"""

from __future__ import annotations

from itertools import combinations_with_replacement

import numpy as np
from scipy import ndimage
from skimage.metrics import peak_signal_noise_ratio, structural_similarity


def psnr(estimate: np.ndarray, truth: np.ndarray) -> float:
    """Peak signal-to-noise ratio in dB, the peak being the truth's dynamic range
    (:func:`skimage.metrics.peak_signal_noise_ratio`); infinite for a perfect estimate."""
    truth = np.asarray(truth, dtype=np.float64)
    with np.errstate(divide="ignore"):  # a perfect estimate: MSE 0, PSNR +inf
        return float(peak_signal_noise_ratio(truth, np.asarray(estimate, dtype=np.float64), data_range=np.ptp(truth)))


def ssim(estimate: np.ndarray, truth: np.ndarray, sigma: float = 1.5) -> float:
    """Mean structural similarity (Wang et al. 2004: Gaussian window of ``sigma``, population
    covariances, data range of the truth) by :func:`skimage.metrics.structural_similarity`, averaged
    over *every* pixel of its SSIM map as this project always has (scikit-image's own mean leaves out
    a 5-pixel border, which moves small images' figures by up to 0.03). Images at least 11 px a side."""
    truth = np.asarray(truth, dtype=np.float64)
    _, index = structural_similarity(
        truth, np.asarray(estimate, dtype=np.float64), data_range=np.ptp(truth), gaussian_weights=True,
        sigma=sigma, use_sample_covariance=False, full=True,
    )
    return float(index.mean())


def affine_fit(estimate: np.ndarray, truth: np.ndarray) -> np.ndarray:
    """``a·estimate + b`` closest to ``truth``: judges structure, forgiving gain and offset."""
    e = np.asarray(estimate, dtype=np.float64).ravel()
    design = np.stack([e, np.ones_like(e)], axis=1)
    (a, b), *_ = np.linalg.lstsq(design, np.asarray(truth, dtype=np.float64).ravel(), rcond=None)
    return (a * np.asarray(estimate, dtype=np.float64) + b).astype(np.float32)


def polynomial_features(rgb_surface: np.ndarray, degree: int) -> np.ndarray:
    """(H·W, F) monomials of R, G, B up to ``degree``, including the constant."""
    channels = np.asarray(rgb_surface, dtype=np.float64).reshape(-1, 3)
    columns = [np.ones(len(channels))]
    for d in range(1, degree + 1):
        for combo in combinations_with_replacement(range(3), d):
            columns.append(np.prod(channels[:, combo], axis=1))
    return np.stack(columns, axis=1)


def least_squares_separation(
    x_mixed: np.ndarray, rgb_surface: np.ndarray, degree: int = 1
) -> tuple[np.ndarray, np.ndarray]:
    """(x1, x2): x1 the least-squares polynomial fit of ``x_mixed`` from the RGB, x2 = x − x1."""
    features = polynomial_features(rgb_surface, degree)
    x = np.asarray(x_mixed, dtype=np.float64)
    coefficients, *_ = np.linalg.lstsq(features, x.ravel(), rcond=None)
    x1 = (features @ coefficients).reshape(x.shape)
    return x1.astype(np.float32), (x - x1).astype(np.float32)


def least_squares_double_sided(
    x_mixed: np.ndarray, rgb_front: np.ndarray, rgb_back: np.ndarray, degree: int = 1
) -> tuple[np.ndarray, np.ndarray]:
    """The double-sided baseline: ``x ≈ P(front) + P(back)`` by least squares (``rgb_back`` in the
    X-ray's orientation); x1 is the front's part plus half the constant, x2 = x − x1."""
    front = polynomial_features(rgb_front, degree)
    back = polynomial_features(rgb_back, degree)[:, 1:]  # one shared constant
    x = np.asarray(x_mixed, dtype=np.float64)
    coefficients, *_ = np.linalg.lstsq(np.concatenate([front, back], axis=1), x.ravel(), rcond=None)
    front_part = front[:, 1:] @ coefficients[1 : front.shape[1]] + coefficients[0] / 2
    x1 = front_part.reshape(x.shape)
    return x1.astype(np.float32), (x - x1).astype(np.float32)


def score(estimate: np.ndarray, truth: np.ndarray) -> dict[str, float]:
    """PSNR and SSIM raw and after :func:`affine_fit` to the truth."""
    fitted = affine_fit(estimate, truth)
    return {
        "psnr": psnr(estimate, truth),
        "ssim": ssim(estimate, truth),
        "psnr_affine": psnr(fitted, truth),
        "ssim_affine": ssim(fitted, truth),
    }


def scoring_mask(painting: np.ndarray, x_stored: np.ndarray, estimate: np.ndarray, margin: int = 3) -> np.ndarray:
    """(H, W) bool: the pixels a separation of a real-looking file is judged on — inside ``painting``
    ((H, W) bool), farther than ``margin`` px (a square neighbourhood) from any pixel of ``x_stored``
    at its integer dtype's extremes (saturated lead, clipped paint, hot or dead pixels: they carry
    nothing of the painting, and their surroundings are blurred by them), and where ``estimate`` is
    finite. A float ``x_stored`` has no extremes: only its non-finite pixels count as such."""
    x_stored = np.asarray(x_stored)
    if np.issubdtype(x_stored.dtype, np.integer):
        info = np.iinfo(x_stored.dtype)
        extreme = (x_stored == info.min) | (x_stored == info.max)
    else:
        extreme = ~np.isfinite(x_stored)
    if margin > 0 and extreme.any():
        extreme = ndimage.binary_dilation(extreme, np.ones((2 * margin + 1, 2 * margin + 1), bool))
    return np.asarray(painting, bool) & ~extreme & np.isfinite(estimate)


def score_inside(estimate: np.ndarray, truth: np.ndarray, valid: np.ndarray, sigma: float = 1.5) -> dict[str, float]:
    """PSNR and SSIM after an affine fit, over the ``valid`` pixels only ((H, W) bool, e.g. from
    :func:`scoring_mask`): gain and offset are fitted there, the PSNR's peak is the truth's range
    there, and the SSIM map (as :func:`ssim`, on the valid pixels' bounding box, the rest filled with
    the truth's mean in both images) is averaged over them. ``truth`` may be NaN outside ``valid``.
    Raises ValueError when fewer than two pixels are valid."""
    valid = np.asarray(valid, bool)
    if valid.sum() < 2:
        raise ValueError("score_inside needs at least two valid pixels")
    e = np.asarray(estimate, dtype=np.float64)
    t = np.asarray(truth, dtype=np.float64)
    fitted = affine_fit(e[valid], t[valid]).astype(np.float64)
    rows, cols = np.nonzero(valid)
    box = (slice(rows.min(), rows.max() + 1), slice(cols.min(), cols.max() + 1))
    fill = float(t[valid].mean())
    truth_box, estimate_box = np.full(t[box].shape, fill), np.full(t[box].shape, fill)
    inside = valid[box]
    truth_box[inside], estimate_box[inside] = t[valid], fitted
    _, index = structural_similarity(
        truth_box, estimate_box, data_range=np.ptp(t[valid]), gaussian_weights=True, sigma=sigma,
        use_sample_covariance=False, full=True,
    )
    return {"psnr_affine": psnr(fitted, t[valid]), "ssim_affine": float(index[inside].mean()), "pixels": int(valid.sum())}
