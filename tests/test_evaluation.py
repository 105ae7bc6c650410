import numpy as np
import pytest

from napari_xraysep.evaluation import affine_fit, least_squares_separation, polynomial_features, psnr, score, ssim


def test_psnr_hand_value():
    truth = np.array([0.0, 1.0, 0.0, 1.0])
    estimate = np.array([0.0, 0.5, 0.0, 0.5])  # MSE 0.125, peak 1
    assert psnr(estimate, truth) == pytest.approx(10 * np.log10(8))
    assert psnr(truth, truth) == float("inf")


def test_ssim_is_one_for_identical_images_and_lower_otherwise(rng):
    image = rng.random((32, 32))
    assert ssim(image, image) == pytest.approx(1.0)
    assert ssim(rng.random((32, 32)), image) < 0.2  # unrelated structure
    assert ssim(image + 0.3 * rng.random((32, 32)), image) < 0.99


def test_affine_fit_removes_gain_and_offset(rng):
    truth = rng.random((16, 16))
    np.testing.assert_allclose(affine_fit(3 * truth - 2, truth), truth, atol=1e-5)
    assert score(3 * truth - 2, truth)["psnr_affine"] > 80


def test_polynomial_features_count_monomials():
    rgb = np.ones((2, 2, 3))
    assert polynomial_features(rgb, 1).shape == (4, 4)
    assert polynomial_features(rgb, 3).shape == (4, 20)  # 1 + 3 + 6 + 10


def test_least_squares_is_exact_when_the_mixture_is_linear(rng):
    rgb = rng.random((24, 24, 3))
    x1 = 0.3 * rgb[..., 0] + 0.5 * rgb[..., 1] - 0.2 * rgb[..., 2] + 0.1
    features = polynomial_features(rgb, 1)
    noise = rng.standard_normal(24 * 24)
    x2 = (noise - features @ np.linalg.lstsq(features, noise, rcond=None)[0]).reshape(24, 24)  # ⟂ the RGB
    est1, est2 = least_squares_separation(x1 + x2, rgb, degree=1)
    np.testing.assert_allclose(est1, x1, atol=1e-5)
    np.testing.assert_allclose(est2, x2, atol=1e-5)
