import numpy as np
import pytest

from napari_xraysep.datasets.evaluation import (
    affine_fit, least_squares_separation, polynomial_features, psnr, score, score_inside, scoring_mask, ssim,
)
from napari_xraysep.datasets.synthetic import make_mixture

# score() of the least-squares baseline on two cases at 96×128, seed 0, as the project's own PSNR and
# SSIM (an FFT Gaussian window over every pixel) gave them before they became scikit-image's: the
# benchmark pages' figures rest on these definitions.
BEFORE_SCIKIT_IMAGE = {
    ("concealed_portrait", "x2"): {"psnr": 6.853283732305525, "ssim": -0.03284447554643354, "psnr_affine": 26.813602524730232, "ssim_affine": 0.803313140723597},
    ("concealed_portrait", "x1"): {"psnr": 8.157791181212135, "ssim": 0.6559206233310214, "psnr_affine": 31.073892378084583, "ssim_affine": 0.9661971829523924},
    ("copper_headdress", "x2"): {"psnr": -0.36580897195531537, "ssim": -0.05059915550338639, "psnr_affine": 16.103800596368774, "ssim_affine": 0.6961201652761669},
    ("copper_headdress", "x1"): {"psnr": 8.466377431552441, "ssim": 0.5997923946753815, "psnr_affine": 19.510107895058916, "ssim_affine": 0.8791321816769463},
}
# Stated tolerances: PSNR is the same formula (float rounding only); SSIM differs only in the
# Gaussian window's truncation and border reflection (measured ≤ 0.0017 on 64×96 images, ≤ 0.0002 at
# 192×288).
PSNR_TOLERANCE_DB, SSIM_TOLERANCE = 1e-9, 2e-3


@pytest.mark.parametrize(("case", "layer"), list(BEFORE_SCIKIT_IMAGE))
def test_scikit_image_metrics_agree_with_the_figures_from_before(case, layer):
    mixture = make_mixture(case, (96, 128), seed=0)
    x1, x2 = least_squares_separation(mixture.x_mixed, mixture.rgb_surface)
    estimate, truth = (x2, mixture.x2_true) if layer == "x2" else (x1, mixture.x1_true)
    now, before = score(estimate, truth), BEFORE_SCIKIT_IMAGE[(case, layer)]
    for name in ("psnr", "psnr_affine"):
        assert now[name] == pytest.approx(before[name], abs=PSNR_TOLERANCE_DB)
    for name in ("ssim", "ssim_affine"):
        assert now[name] == pytest.approx(before[name], abs=SSIM_TOLERANCE)


def test_psnr_hand_value():
    truth = np.array([0.0, 1.0, 0.0, 1.0])
    estimate = np.array([0.0, 0.5, 0.0, 0.5])  # MSE 0.125, peak 1
    assert psnr(estimate, truth) == pytest.approx(10 * np.log10(8))
    assert psnr(truth, truth) == float("inf")


def test_ssim_is_one_for_identical_images_and_lower_otherwise(rng):
    image = rng.random((32, 32))
    assert ssim(image, image) == pytest.approx(1.0)
    assert ssim(2 * image, image) < 0.9  # a gain is a difference (score's affine fit forgives it)
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


def test_scoring_mask_leaves_out_extremes_with_a_margin_and_nan():
    x = np.full((12, 12), 1000, np.uint16)
    x[2, 2] = 65535  # saturated
    x[9, 10] = 0  # dead
    painting = np.ones((12, 12), bool)
    painting[:, 0] = False
    estimate = np.zeros((12, 12))
    estimate[11, 5] = np.nan
    mask = scoring_mask(painting, x, estimate, margin=1)
    expected = painting.copy()
    expected[1:4, 1:4] = False
    expected[8:11, 9:12] = False
    expected[11, 5] = False
    assert np.array_equal(mask, expected)
    # margin 3 reaches 3 px; a float X-ray has no extremes
    assert not scoring_mask(painting, x, np.zeros((12, 12)), margin=3)[5, 5] and scoring_mask(painting, x, np.zeros((12, 12)))[6, 6]
    assert scoring_mask(painting, x.astype(np.float32), np.zeros((12, 12)))[2, 2]


def test_score_inside_is_score_on_the_whole_image_and_ignores_the_rest(rng):
    truth = rng.random((40, 50))
    estimate = 2 * truth + 0.3 * rng.random((40, 50)) - 1
    whole = score_inside(estimate, truth, np.ones((40, 50), bool))
    reference = score(estimate, truth)
    assert whole["psnr_affine"] == pytest.approx(reference["psnr_affine"], abs=1e-4)
    assert whole["ssim_affine"] == pytest.approx(reference["ssim_affine"], abs=1e-4)
    assert whole["pixels"] == 2000
    # Outside the valid pixels nothing counts: NaN truth, wild estimate.
    valid = np.zeros((60, 70), bool)
    valid[10:50, 10:60] = True
    big_truth, big_estimate = np.full((60, 70), np.nan), rng.normal(0, 100, (60, 70))
    big_truth[valid], big_estimate[valid] = truth.ravel(), estimate.ravel()
    inside = score_inside(big_estimate, big_truth, valid)
    assert inside["psnr_affine"] == pytest.approx(whole["psnr_affine"], abs=1e-4)
    assert inside["ssim_affine"] == pytest.approx(whole["ssim_affine"], abs=1e-4)
    with pytest.raises(ValueError):
        score_inside(estimate, truth, np.zeros((40, 50), bool))
