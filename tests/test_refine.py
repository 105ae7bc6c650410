import numpy as np
import pytest

from napari_xraysep.core import refine


def test_refine_matches_hand_computed_values():
    x = np.array([[10.0, 4.0]])
    x1_hat = np.array([[6.0, 1.0]])
    x2_hat = np.array([[2.0, 1.0]])
    refined = refine(x, x1_hat, x2_hat)
    np.testing.assert_allclose(refined.error_map, [[2.0, 2.0]])
    np.testing.assert_allclose(refined.x1, [[7.0, 2.0]])
    np.testing.assert_allclose(refined.x2, [[3.0, 2.0]])


def test_refined_layers_add_up_to_the_mixture(rng):
    x = (rng.random((64, 48)) * 60000).astype(np.float32)
    x1_hat = (rng.random((64, 48)) * 30000).astype(np.float32)
    x2_hat = (rng.random((64, 48)) * 30000).astype(np.float32)
    refined = refine(x, x1_hat, x2_hat)
    assert refined.x1.dtype == np.float32
    np.testing.assert_allclose(refined.x1.astype(np.float64) + refined.x2, x, rtol=0, atol=60000 * 2e-7)
    np.testing.assert_allclose(refined.x1 - x1_hat, refined.x2 - x2_hat, atol=0.01)  # the error is split evenly


def test_refine_rejects_mismatched_shapes():
    with pytest.raises(ValueError, match="shapes differ"):
        refine(np.zeros((2, 2)), np.zeros((2, 3)), np.zeros((2, 2)))


def test_refine_by_strips_equals_the_whole_image_at_once(rng, monkeypatch):
    import sys

    # (napari_xraysep.core.refine is also the function's name in the package: the module from sys.modules)
    monkeypatch.setattr(sys.modules["napari_xraysep.core.refine"], "REFINE_ROWS", 7)  # not dividing the 50 rows
    x, x1_hat, x2_hat, weave = (rng.normal(size=(50, 9)).astype(np.float32) * 1000 for _ in range(4))
    refined = refine(x, x1_hat, x2_hat, weave)
    error_map = x.astype(np.float64) - x1_hat - x2_hat.astype(np.float64) - weave
    x1 = x1_hat + error_map / 2
    np.testing.assert_array_equal(refined.error_map, error_map.astype(np.float32))
    np.testing.assert_array_equal(refined.x1, x1.astype(np.float32))
    np.testing.assert_array_equal(refined.x2, (x - weave.astype(np.float64) - x1).astype(np.float32))
    with pytest.raises(ValueError, match="shapes differ"):
        refine(x, x1_hat, x2_hat, weave[:-1])
    with pytest.raises(ValueError, match="not single values"):
        refine(np.float32(1), np.float32(0.5), np.float32(0.25))
