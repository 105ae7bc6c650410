import numpy as np
import pytest

from napari_xraysep.core import InputError, grayscale, labeled_surface_xray, match_intensity


def test_grayscale_uses_bt601_luma():
    rgb = np.zeros((3, 1, 2), np.float32)
    rgb[:, 0, 0] = (1, 0, 0)
    rgb[:, 0, 1] = (0.5, 0.5, 0.5)
    np.testing.assert_allclose(grayscale(rgb), [[0.299, 0.5]], rtol=1e-6)
    with pytest.raises(InputError):
        grayscale(np.zeros((4, 2, 2)))


def test_match_intensity_recovers_an_affine_relation(rng):
    gray = rng.random((10, 10)).astype(np.float32)
    x = 2.5 * gray - 0.3
    fit_mask = np.ones((10, 10), bool)
    fit_mask[:3] = False
    x[:3] = 99  # pixels outside the fit must not influence it
    matched = match_intensity(gray, x, fit_mask)
    np.testing.assert_allclose(matched[3:], x[3:], atol=1e-5)


def test_labeled_surface_xray_replaces_only_the_region(rng):
    x = rng.random((6, 8)).astype(np.float32)
    rgb = rng.random((3, 6, 8)).astype(np.float32)
    region = np.zeros((6, 8), bool)
    region[2:4, 3:6] = True
    plain = labeled_surface_xray(x, rgb, region, match="none")
    np.testing.assert_array_equal(plain[~region], x[~region])
    np.testing.assert_allclose(plain[region], grayscale(rgb)[region])
    matched = labeled_surface_xray(x, rgb, region, match="linear")
    np.testing.assert_array_equal(matched[~region], x[~region])
    expected = match_intensity(grayscale(rgb), x, ~region)
    np.testing.assert_allclose(matched[region], expected[region])
    with pytest.raises(InputError, match="label matching"):
        labeled_surface_xray(x, rgb, region, match="cubic")


def test_side_maps_join_the_intensity_match(rng):
    # A copper-like absorber the photograph cannot see: x = 2·gray + 3·copper + 1 everywhere.
    gray, copper = rng.random((12, 12)), (rng.random((12, 12)) > 0.7).astype(np.float64)
    x = (2 * gray + 3 * copper + 1).astype(np.float32)
    region = np.zeros((12, 12), bool)
    region[4:9, 4:9] = True
    with_map = match_intensity(gray, x, ~region, [copper])
    np.testing.assert_allclose(with_map, x, atol=1e-5)  # the label inside the region carries the copper
    without = match_intensity(gray, x, ~region)
    assert np.abs(without - x)[copper > 0].mean() > 0.5  # the photograph alone cannot
    rgb = np.repeat(gray[None], 3, axis=0).astype(np.float32)  # luma of a gray photo is the gray
    label = labeled_surface_xray(x, rgb, region, side_maps=[copper])
    np.testing.assert_allclose(label, x, atol=1e-4)
    np.testing.assert_allclose(labeled_surface_xray(x, rgb, region, "none", [copper])[region], gray[region], atol=1e-6)


def test_a_colour_map_label_pastes_the_surface_estimate(rng):
    x, rgb = rng.random((10, 12)).astype(np.float32), rng.random((3, 10, 12)).astype(np.float32)
    estimate = rng.random((10, 12)).astype(np.float32)
    region = np.zeros((10, 12), bool)
    region[2:6, 3:9] = True
    label = labeled_surface_xray(x, rgb, region, "colour_map", surface_estimate=estimate)
    np.testing.assert_array_equal(label[region], estimate[region])
    np.testing.assert_array_equal(label[~region], x[~region])
    with pytest.raises(InputError, match="needs the colour map's surface estimate"):
        labeled_surface_xray(x, rgb, region, "colour_map")


def test_the_auto_encoder_trains_against_a_colour_map_label(tiny_mixture, tiny_settings):
    from napari_xraysep import SeparationConfig
    from napari_xraysep.core import prepare_inputs
    from napari_xraysep.core.colourmap_fit import colour_map_surface
    from napari_xraysep.core.objectives import concealed_objective

    inputs = prepare_inputs(tiny_mixture.x_mixed, tiny_mixture.rgb_surface, tiny_mixture.region_mask)
    config = SeparationConfig(**{**tiny_settings, "label_match": "colour_map", "clusters": 6})
    label = concealed_objective(inputs, config).stack[0, -1]
    surface = colour_map_surface(inputs, config)
    np.testing.assert_allclose(label[inputs.region_mask], surface[inputs.region_mask])
    np.testing.assert_array_equal(label[~inputs.region_mask], inputs.x_mixed[~inputs.region_mask])
