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
