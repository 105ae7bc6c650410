import numpy as np
import pytest

from napari_xraysep.core import InputError, Normalisation, prepare_inputs, region_from_boxes
from napari_xraysep.core.data import check_region, check_rgb, check_xray


def test_normalisation_maps_range_to_unit_and_back():
    image = np.array([[10, 20], [30, 50]], dtype=np.uint16)
    norm = Normalisation.fit(image)
    assert (norm.offset, norm.scale) == (10.0, 40.0)
    np.testing.assert_allclose(norm.to_unit(image), [[0, 0.25], [0.5, 1.0]])
    np.testing.assert_allclose(norm.from_unit(norm.to_unit(image)), image)
    # Two halves of the offset make one: the components of a sum add back to the sum.
    half = norm.from_unit(np.full((2, 2), 0.25), offset_share=0.5)
    np.testing.assert_allclose(half + half, norm.from_unit(np.full((2, 2), 0.5)))


@pytest.mark.parametrize(
    ("image", "message"),
    [
        (np.zeros((8, 8, 3)), "looks like a colour image"),
        (np.zeros((2, 8, 8)), "must be a 2-D grayscale image"),
        (np.full((8, 8), np.nan), "NaN or infinite"),
        (np.full((8, 8), 7.0), "constant"),
        (np.ones((8, 8), dtype=bool), "pixel type bool"),
        (np.zeros((0, 8)), "empty"),
    ],
)
def test_check_xray_rejects_with_a_specific_message(image, message):
    with pytest.raises(InputError, match=message):
        check_xray(image)


def test_check_rgb_drops_alpha_with_warning_and_rejects_grayscale():
    rgba = np.random.default_rng(0).random((4, 5, 4))
    with pytest.warns(UserWarning, match="alpha"):
        rgb = check_rgb(rgba)
    np.testing.assert_array_equal(rgb, rgba[..., :3])
    with pytest.raises(InputError, match="grayscale"):
        check_rgb(np.zeros((4, 5)))
    with pytest.raises(InputError, match="H×W×3"):
        check_rgb(np.zeros((4, 5, 6)))


def test_prepare_inputs_names_both_shapes_on_mismatch(rng):
    with pytest.raises(InputError, match=r"60×80 pixels but the surface RGB is 60×81.*registered"):
        prepare_inputs(rng.random((60, 80)), rng.random((60, 81, 3)), None)


def test_prepare_inputs_rejects_image_smaller_than_patch(rng):
    with pytest.raises(InputError, match=r"30×40 pixels, smaller than the 50×50 patch"):
        prepare_inputs(rng.random((30, 40)), rng.random((30, 40, 3)), None, min_size=50)


def test_prepare_inputs_unit_range_and_layout(rng):
    x = (rng.random((20, 30)) * 4000 + 100).astype(np.uint16)
    rgb = (rng.random((20, 30, 3)) * 255).astype(np.uint8)
    mask = np.zeros((20, 30), bool)
    mask[5:10, 5:10] = True
    inputs = prepare_inputs(x, rgb, mask)
    assert inputs.x_mixed.dtype == np.float32 and inputs.x_mixed.shape == (20, 30)
    assert inputs.rgb_surface.shape == (3, 20, 30)
    assert inputs.x_mixed.min() == 0 and inputs.x_mixed.max() == 1
    np.testing.assert_allclose(inputs.rgb_surface[1], (rgb[..., 1] - rgb.min()) / np.ptp(rgb), rtol=1e-6)
    np.testing.assert_array_equal(inputs.region_mask, mask)


def test_region_checks():
    with pytest.raises(InputError, match="region is empty"):
        check_region(np.zeros((4, 4)), (4, 4))
    with pytest.raises(InputError, match="4×5 but the images are 4×4"):
        check_region(np.ones((4, 5)), (4, 4))
    np.testing.assert_array_equal(check_region(np.array([[0, 2], [0, 0]]), (2, 2)), [[False, True], [False, False]])


def test_region_covering_whole_image_warns(rng):
    with pytest.warns(UserWarning, match="covers the whole image"):
        prepare_inputs(rng.random((8, 8)), rng.random((8, 8, 3)), np.ones((8, 8), bool))


def test_region_from_boxes_union_clip_and_errors():
    mask = region_from_boxes([(0, 0, 2, 2), (3, 3, 4, 5)], (5, 5))
    assert mask.sum() == 4 + 2 and mask[0, 0] and mask[3, 4] and not mask[2, 2]
    with pytest.warns(UserWarning, match="clipped to 3,3,5,5"):
        clipped = region_from_boxes([(3, 3, 9, 9)], (5, 5))
    assert clipped.sum() == 4
    with pytest.raises(InputError, match="wholly outside"):
        region_from_boxes([(10, 10, 20, 20)], (5, 5))
    with pytest.raises(InputError, match="is empty"):
        region_from_boxes([(2, 2, 2, 4)], (5, 5))
