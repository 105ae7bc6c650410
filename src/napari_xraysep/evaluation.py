"""Quality measures against ground truth, and the least-squares baseline every method must beat.

The baseline predicts the surface X-ray from the photograph pixel by pixel (a polynomial in R, G, B
fitted to the mixed X-ray by least squares) and calls the rest hidden: ``x2 = x − fit``. A learned
separation earns its keep only by beating it.
"""

from __future__ import annotations

from itertools import combinations_with_replacement

import numpy as np
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
