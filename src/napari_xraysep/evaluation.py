"""Quality measures against ground truth, and the least-squares baseline every method must beat.

The baseline predicts the surface X-ray from the photograph pixel by pixel (a polynomial in R, G, B
fitted to the mixed X-ray by least squares) and calls the rest hidden: ``x2 = x − fit``. A learned
separation earns its keep only by beating it.
"""

from __future__ import annotations

from itertools import combinations_with_replacement

import numpy as np

from .synthetic import gaussian_blur


def psnr(estimate: np.ndarray, truth: np.ndarray) -> float:
    """Peak signal-to-noise ratio in dB, the peak being the truth's dynamic range."""
    truth = np.asarray(truth, dtype=np.float64)
    mse = np.mean((np.asarray(estimate, dtype=np.float64) - truth) ** 2)
    peak = np.ptp(truth)
    return float("inf") if mse == 0 else float(10 * np.log10(peak**2 / mse))


def ssim(estimate: np.ndarray, truth: np.ndarray, sigma: float = 1.5) -> float:
    """Mean structural similarity (Wang et al. 2004, Gaussian window), data range of the truth."""
    x = np.asarray(estimate, dtype=np.float64)
    y = np.asarray(truth, dtype=np.float64)
    c1, c2 = (0.01 * np.ptp(y)) ** 2, (0.03 * np.ptp(y)) ** 2
    mu_x, mu_y = gaussian_blur(x, sigma), gaussian_blur(y, sigma)
    var_x = gaussian_blur(x * x, sigma) - mu_x**2
    var_y = gaussian_blur(y * y, sigma) - mu_y**2
    cov = gaussian_blur(x * y, sigma) - mu_x * mu_y
    index = ((2 * mu_x * mu_y + c1) * (2 * cov + c2)) / ((mu_x**2 + mu_y**2 + c1) * (var_x + var_y + c2))
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
