import numpy as np
import pytest

from napari_xraysep.datasets.synthetic import _STREAMS, CASES, PIGMENTS, SAMPLE_SHAPE, gaussian_blur, load_sample, make_mixture


@pytest.mark.parametrize("case", list(CASES))
def test_every_case_is_deterministic_and_additive(case):
    a = make_mixture(case, (40, 56), seed=5)
    b = make_mixture(case, (40, 56), seed=5)
    np.testing.assert_array_equal(a.x_mixed, b.x_mixed)
    np.testing.assert_array_equal(a.rgb_surface, b.rgb_surface)
    assert not np.array_equal(a.x2_true, make_mixture(case, (40, 56), seed=6).x2_true)
    # x = x1 + x2 + weave + noise, by construction
    np.testing.assert_allclose(a.x_mixed, a.x1_true + a.x2_true + a.weave + a.noise, atol=1e-5)
    assert a.x_mixed.shape == (40, 56) and a.rgb_surface.shape == (40, 56, 3)
    assert a.rgb_surface.min() >= 0 and a.rgb_surface.max() <= 1
    assert a.x1_true.min() >= 0 and a.x2_true.min() >= 0
    assert 0 < a.region_mask.sum() < a.region_mask.size


def test_pigments_are_physical_not_grayscale():
    luma = {name: 0.299 * p.rgb[0] + 0.587 * p.rgb[1] + 0.114 * p.rgb[2] for name, p in PIGMENTS.items()}
    assert PIGMENTS["lead_white"].attenuation > PIGMENTS["yellow_ochre"].attenuation > PIGMENTS["carbon_black"].attenuation
    # the headdress artefact: as dark as carbon black in the photograph, bright in the X-ray
    assert luma["copper_black"] < 0.2 and PIGMENTS["copper_black"].attenuation > 20 * PIGMENTS["carbon_black"].attenuation
    # vermilion: mid-gray in the photo, yet absorbs almost like lead white
    assert luma["vermilion"] < 0.5 and PIGMENTS["vermilion"].attenuation > 0.7


def test_weave_and_noise_are_small_and_the_hidden_layer_is_visible():
    sample = load_sample()
    assert sample.x_mixed.shape == SAMPLE_SHAPE
    assert np.abs(sample.weave).max() < 0.1 * np.ptp(sample.x_mixed)
    assert sample.noise.std() < 0.02
    assert sample.x2_true.std() > 0.3 * sample.x1_true.std()


def test_gaussian_blur_keeps_constants_and_smooths():
    flat = np.full((20, 30), 3.0)
    np.testing.assert_allclose(gaussian_blur(flat, 2.0), flat, atol=1e-9)
    spike = np.zeros((21, 21))
    spike[10, 10] = 1
    blurred = gaussian_blur(spike, 1.5)
    assert blurred.sum() == pytest.approx(1.0, abs=1e-6) and blurred.max() < 0.1
    # the impulse response is the Gaussian: its centre 1/(2πσ²) and its spread σ (hand values)
    assert blurred[10, 10] == pytest.approx(1 / (2 * np.pi * 1.5**2), rel=1e-3)
    assert (blurred.sum(axis=0) * (np.arange(21) - 10) ** 2).sum() == pytest.approx(1.5**2, rel=1e-3)


def test_gaussian_blur_agrees_with_scipy_gaussian_filter_away_from_the_borders(rng):
    from scipy.ndimage import gaussian_filter

    image = rng.standard_normal((64, 96))
    for sigma in (1.5, 3.0, 8.5):  # the σ the generator uses, but for the X-ray's 0.8 (see its docstring)
        inner = (slice(30, -30), slice(30, -30))
        expected = gaussian_filter(image, sigma, mode="mirror", truncate=6.0)
        np.testing.assert_allclose(gaussian_blur(image, sigma)[inner], expected[inner], atol=1e-4)


def test_unknown_case_is_refused():
    with pytest.raises(ValueError, match="unknown case"):
        make_mixture("fresco")


# Σ x_mixed of each case at 16×24 px, seed 1, as generated before copper_black_costume was added
# (when the stream was the case's place among the sorted names): the benchmarks' figures rest on them.
BEFORE_THE_NEW_CASE = {
    "concealed_portrait": 251.76290878653526,
    "copper_headdress": 258.58550876379013,
    "landscape_over_portrait": 315.7171183824539,
    "still_life_over_figure": 292.506987452507,
}


@pytest.mark.parametrize("case", list(BEFORE_THE_NEW_CASE))
def test_adding_a_case_leaves_the_others_images_alone(case):
    assert sorted(_STREAMS) == sorted(CASES)  # every case has its own stream
    total = make_mixture(case, (16, 24), seed=1).x_mixed.astype(np.float64).sum()
    assert total == pytest.approx(BEFORE_THE_NEW_CASE[case], rel=1e-6)


def test_in_the_black_costume_case_only_the_xray_tells_the_two_blacks_apart():
    mixture = make_mixture("copper_black_costume", (96, 128), seed=0)
    weights = PIGMENTS["bone_black"], PIGMENTS["copper_black"]
    assert weights[0].rgb == weights[1].rgb and weights[1].attenuation > 10 * weights[0].attenuation
    headdress = mixture.copper_map > 0.6 * mixture.copper_map.max()
    colour = mixture.rgb_surface[headdress].mean(axis=0)
    lower_half = np.arange(96)[:, None] >= 48
    twins = (np.abs(mixture.rgb_surface - colour).max(axis=-1) < 0.02) & lower_half  # the costume
    assert headdress.sum() > 50 and twins.sum() > 300  # many costume pixels look like the headdress
    assert mixture.x1_true[headdress].mean() > 3 * mixture.x1_true[twins].mean()  # the X-ray tells them apart
