import warnings

import numpy as np
import pytest

from napari_xraysep.core import InputError, Normalisation, SeparationConfig, prepare_inputs, region_from_boxes
from napari_xraysep.core.checks import check_rgb, check_xray
from napari_xraysep.core.data import HIGH_PERCENTILE, LOW_PERCENTILE, MISSING_FILL, robust_range
from napari_xraysep.core.regions import BoxRegion, check_region
from napari_xraysep.core.objectives import concealed_objective


def test_normalisation_maps_range_to_unit_and_back():
    image = np.array([[10, 20], [30, 50]], dtype=np.uint16)
    norm = Normalisation(offset=10.0, scale=40.0)  # as a model file stores it
    np.testing.assert_allclose(norm.to_unit(image), [[0, 0.25], [0.5, 1.0]])
    np.testing.assert_allclose(norm.from_unit(norm.to_unit(image)), image)
    # Two halves of the offset make one: the components of a sum add back to the sum.
    half = norm.from_unit(np.full((2, 2), 0.25), offset_share=0.5)
    np.testing.assert_allclose(half + half, norm.from_unit(np.full((2, 2), 0.5)))


def test_normalisation_of_every_8_and_16_bit_level_is_the_float64_formula_and_fills_out():
    norm = Normalisation(offset=1234.5, scale=40000.25)
    for dtype in (np.uint8, np.uint16):
        levels = np.arange(np.iinfo(dtype).max + 1).astype(dtype).reshape(-1, 16)
        expected = ((levels.astype(np.float64) - 1234.5) / 40000.25).astype(np.float32)
        np.testing.assert_array_equal(norm.to_unit(levels), expected)
        out = np.zeros(levels.shape, np.float32)
        assert norm.to_unit(levels, out=out) is out
        np.testing.assert_array_equal(out, expected)
    signed = np.array([[-3, 0, 5]], dtype=np.int16)  # signed and float images by the formula itself
    np.testing.assert_array_equal(norm.to_unit(signed), ((signed - 1234.5) / 40000.25).astype(np.float32))
    out = np.zeros((1, 3), np.float32)
    norm.to_unit(signed.astype(np.float64), out=out)
    np.testing.assert_array_equal(out, ((signed - 1234.5) / 40000.25).astype(np.float32))


def test_normalisation_is_the_robust_percentile_range_of_the_unclipped_values():
    # 0..1000 evenly, plus dead (0) and hot (65535) pixels and a saturated border: only 1..1000 count
    values = np.concatenate([np.arange(1001), np.zeros(50), np.full(3000, 65535)]).astype(np.uint16)
    norm = Normalisation.fit(values.reshape(1, -1))
    inner = np.arange(1, 1001)  # the exact minimum (0) and maximum (65535) are clipped pixels
    low, high = np.percentile(inner, [LOW_PERCENTILE, HIGH_PERCENTILE])
    assert (norm.offset, norm.scale) == pytest.approx((low, high - low))
    assert (LOW_PERCENTILE, HIGH_PERCENTILE) == (0.5, 99.5)
    # a two-level image has no inner values: its whole range
    assert robust_range(np.array([[3, 3, 7, 7]])) == (3.0, 7.0)
    # NaN and infinite values, and pixels outside ``valid``, take no part
    image = np.array([[np.nan, 1.0, 2.0, 3.0, 4.0, 5.0, np.inf, 100.0]])
    valid = np.array([[True] * 7 + [False]])
    assert robust_range(image, valid) == pytest.approx(tuple(np.percentile([2.0, 3.0, 4.0], [0.5, 99.5])))
    with pytest.raises(InputError, match="no finite pixel"):
        robust_range(np.full((2, 2), np.nan))


def test_hot_pixels_and_a_saturated_border_do_not_flatten_the_signal(rng):
    signal = rng.random((64, 64)) * 2000 + 30000
    damaged = signal.copy()
    damaged[:8] = 65535  # a saturated border
    dead = (rng.integers(8, 64, 5), rng.integers(0, 64, 5))
    damaged[dead] = 0
    unit = Normalisation.fit(damaged).to_unit(damaged)
    signal_unit = np.delete(unit[8:].ravel(), np.ravel_multi_index((dead[0] - 8, dead[1]), (56, 64)))
    assert np.ptp(signal_unit) > 0.95 and signal_unit.min() > -0.05 and signal_unit.max() < 1.05  # min–max: 0.03


def test_missing_pixels_are_filled_left_out_and_refused_when_they_cover_the_region(rng):
    x = rng.random((20, 30)) * 4000 + 100
    rgb = rng.random((20, 30, 3))
    x[:3] = np.nan  # a flat-field border
    rgb[10, 10, 1] = np.inf
    mask = np.zeros((20, 30), bool)
    mask[:5, :5] = True
    inputs = prepare_inputs(x, rgb, mask)
    expected_valid = np.ones((20, 30), bool)
    expected_valid[:3] = False
    expected_valid[10, 10] = False
    np.testing.assert_array_equal(inputs.valid, expected_valid)
    assert np.isfinite(inputs.x_mixed).all() and np.isfinite(inputs.rgb_surface).all()
    assert (inputs.x_mixed[~expected_valid] == MISSING_FILL).all() and (inputs.rgb_surface[:, 10, 10] == MISSING_FILL).all()
    np.testing.assert_array_equal(inputs.region_mask, mask & expected_valid)  # the region keeps only pixels with data
    assert inputs.x_normalisation == Normalisation.fit(x, expected_valid)
    assert prepare_inputs(np.nan_to_num(x), np.nan_to_num(rgb, posinf=0), mask).valid is None
    covered = np.zeros((20, 30), bool)
    covered[:3, :] = True
    with pytest.raises(InputError, match="region holds only missing pixels"):
        prepare_inputs(x, rgb, covered)
    with pytest.warns(UserWarning, match="only missing pixels.*colour map needs none"):  # the colour map's
        assert prepare_inputs(x, rgb, covered, region_optional=True).region_mask is None


def test_a_region_outside_the_painting_says_so_and_where_the_painting_is(rng):
    # A region drawn on the film margin, outside the painting: "The region holds only missing pixels (NaN
    # or infinite …)" was said of files without one.
    x, rgb = rng.random((40, 60)), rng.random((40, 60, 3))
    margin = np.zeros((40, 60), bool)
    margin[2:8, 2:20] = True
    with pytest.raises(InputError, match=r"region lies outside the painting given \(rows 10–29, columns 15–44\)"):
        prepare_inputs(x, rgb, margin, painting_area=(10, 15, 30, 45))
    with pytest.warns(UserWarning, match="outside the painting given.*colour map needs none"):
        inputs = prepare_inputs(x, rgb, margin, painting_area=(10, 15, 30, 45), region_optional=True)
    assert inputs.region_mask is None and inputs.valid.sum() == 20 * 30
    overlapping = margin.copy()
    overlapping[12, 20] = True  # one pixel inside is a region
    assert prepare_inputs(x, rgb, overlapping, painting_area=(10, 15, 30, 45)).region_mask.sum() == 1


@pytest.mark.parametrize(
    ("image", "message"),
    [
        (np.zeros((8, 8, 3)), "looks like a colour image"),
        (np.zeros((2, 8, 8)), "must be a 2-D grayscale image"),
        (np.full((8, 8), np.nan), "Every pixel of the mixed X-ray is NaN or infinite"),
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
    low, high = robust_range(x)
    np.testing.assert_allclose(inputs.x_mixed, (x - low) / (high - low), rtol=1e-5)
    low, high = robust_range(rgb)
    np.testing.assert_allclose(inputs.rgb_surface[1], (rgb[..., 1] - low) / (high - low), rtol=1e-5)
    np.testing.assert_array_equal(inputs.region_mask, mask)


def test_region_checks():
    with pytest.raises(InputError, match="region is empty"):
        check_region(np.zeros((4, 4)), (4, 4))
    with pytest.raises(InputError, match="4×5 but the images are 4×4"):
        check_region(np.ones((4, 5)), (4, 4))
    np.testing.assert_array_equal(check_region(np.array([[0, 2], [0, 0]]), (2, 2)), [[False, True], [False, False]])


def test_region_covering_whole_image_warns_only_the_auto_encoder(rng):
    inputs = prepare_inputs(rng.random((8, 8)), rng.random((8, 8, 3)), np.ones((8, 8), bool))
    with pytest.warns(UserWarning, match="covers the whole painting"):
        concealed_objective(inputs, SeparationConfig.autoencoder())
    with warnings.catch_warnings():  # the colour map has no surface label to spoil
        warnings.simplefilter("error")
        prepare_inputs(rng.random((8, 8)), rng.random((8, 8, 3)), np.ones((8, 8), bool))


def test_region_covering_the_painting_on_its_margin_warns(rng):
    # A painting on its film margin: a region drawn around the painting alone covers all of it.
    x, rgb = rng.random((40, 60)), rng.random((40, 60, 3))
    around = np.zeros((40, 60), bool)
    around[8:32, 12:48] = True
    inputs = prepare_inputs(x, rgb, around, painting_area=(10, 15, 30, 45))
    with pytest.warns(UserWarning, match="covers the whole painting"):
        concealed_objective(inputs, SeparationConfig.autoencoder())
    part = np.zeros((40, 60), bool)
    part[10:20, 15:45] = True
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        inputs = prepare_inputs(x, rgb, part, painting_area=(10, 15, 30, 45))
        concealed_objective(inputs, SeparationConfig.autoencoder())


def test_a_region_smaller_than_a_training_crop_warns_the_auto_encoder(rng):
    # One pixel of x̄1 differs from the X-ray: the training hardly sees the label; the user is told so.
    x, rgb = rng.random((40, 60)), rng.random((40, 60, 3))
    dot = np.zeros((40, 60), bool)
    dot[20, 30] = True
    with pytest.warns(UserWarning, match=r"covers only 1 pixel\(s\) of the painting, fewer than the smallest"):
        concealed_objective(prepare_inputs(x, rgb, dot), SeparationConfig.autoencoder())
    square = np.zeros((40, 60), bool)
    square[10:26, 20:36] = True  # 16 × 16: one smallest crop
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        concealed_objective(prepare_inputs(x, rgb, square), SeparationConfig.autoencoder())
        prepare_inputs(x, rgb, dot)  # the colour map needs no region: nothing to say


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
    # Fractions (relative coordinates) rounded to a one-pixel box at the corner; a whole box within 0–1 is a pixel.
    with pytest.raises(InputError, match=r"0.2,0.2,0.8,0.8 looks like fractions .* 100×50 image are 20,10,80,40"):
        region_from_boxes([(0.2, 0.2, 0.8, 0.8)], (100, 50))
    assert region_from_boxes([(0, 0, 1, 1)], (5, 5)).sum() == 1
    assert region_from_boxes([(0.4, 0, 2.4, 2)], (5, 5)).sum() == 4  # sub-pixel coordinates (a drawn shape) round
    # Fractions a little off 0-1 were an empty box ("0,0,0,0 is empty") or a 1×2-pixel one, silently.
    with pytest.raises(InputError, match=r"-0.1,0.1,0.5,0.5 looks like fractions .* image are -10,5,50,25"):
        region_from_boxes([(-0.1, 0.1, 0.5, 0.5)], (100, 50))
    with pytest.raises(InputError, match=r"0.2,0.2,0.8,1.5 looks like fractions"):
        region_from_boxes([(0.2, 0.2, 0.8, 1.5)], (100, 50))
    with pytest.warns(UserWarning, match=r"The region box 0,0,1e\+300,1e\+300 reaches outside .* clipped to 0,0,5,5\."):
        assert region_from_boxes([(0, 0, 1e300, 1e300)], (5, 5)).all()  # said as typed, not in 300 digits


def test_box_region_equals_the_mask_block_by_block():
    boxes = [(0, 0, 2, 2), (3, 3, 4, 9)]
    with pytest.warns(UserWarning, match="clipped"):
        lazy = BoxRegion(boxes, (5, 5))
    mask = region_from_boxes([(0, 0, 2, 2), (3, 3, 4, 5)], (5, 5))
    assert lazy.shape == (5, 5) and lazy.dtype == bool
    np.testing.assert_array_equal(np.asarray(lazy), mask)
    np.testing.assert_array_equal(lazy[1:4, 2:5], mask[1:4, 2:5])


def test_a_users_mask_is_checked_once_for_size_and_emptiness():
    from napari_xraysep.core.masks import user_mask

    mask = user_mask(np.array([[0, 2], [0, 0]]), (2, 2), "The region mask", "empty!")
    assert mask.dtype == bool and mask.tolist() == [[False, True], [False, False]]
    with pytest.raises(InputError, match=r"^The painting area is 3×2 but the images are 2×2\.$"):
        user_mask(np.zeros((3, 2)), (2, 2), "The painting area", "empty!")
    with pytest.raises(InputError, match="^empty!$"):
        user_mask(np.zeros((2, 2)), (2, 2), "The region mask", "empty!")


def test_a_masked_arrays_masked_pixels_are_missing_not_separated(tiny_mixture):
    """A NumPy masked array passed to the API: what lies under the mask (here a nonsense 1e6) is
    treated as missing — the results are those of the same image with NaN there, and NaN there."""
    from napari_xraysep import separate
    from napari_xraysep.core.checks import unmasked

    x = tiny_mixture.x_mixed.astype(np.float32)
    hole = np.zeros(x.shape, bool)
    hole[10:20, 30:45] = True
    masked = np.ma.masked_array(np.where(hole, 1e6, x), mask=hole)
    with_nan = np.where(hole, np.nan, x)
    assert np.array_equal(unmasked(masked), with_nan, equal_nan=True)
    assert unmasked(np.ma.masked_array(x.astype(np.uint16))).dtype == np.uint16  # nothing masked: as stored
    rgb_masked = np.ma.masked_array(tiny_mixture.rgb_surface, mask=np.repeat(hole[..., None], 3, -1))
    config = SeparationConfig(device="cpu")
    ours, reference = separate(masked, rgb_masked, config=config), separate(with_nan, tiny_mixture.rgb_surface, config=config)
    assert np.isnan(ours.x2[hole]).all() and np.isfinite(ours.x2[~hole]).all()
    np.testing.assert_allclose(ours.x2, reference.x2, rtol=1e-5, atol=1e-6)


def test_a_box_and_a_pixel_size_beyond_their_limits_are_quoted_with_the_digits_that_tell_them():
    # '1234567,0,1234568.5,5' was quoted as 1.23457e+06,0,1.23457e+06,5 (not as typed), and '254001dpi'
    # as '0.0001 mm a pixel' beside the limits '(0.0001–10 mm)' it was said to be outside.
    from napari_xraysep.core.regions import clip_boxes
    from napari_xraysep.core.threads import parse_pixel_size

    with pytest.raises(InputError, match=r"The region box 1234567,0,1234568\.5,5 lies wholly outside"):
        clip_boxes([[1234567, 0, 1234568.5, 5]], (100, 100))
    with pytest.raises(InputError, match=r"The region box 1e\+300,0,2,2"):
        clip_boxes([[1e300, 0, 2, 2]], (100, 100))
    with pytest.raises(InputError, match=r"is 9\.99996e-05 mm a pixel"):
        parse_pixel_size("254001dpi")
    with pytest.raises(InputError, match=r"is 10\.0000001 mm a pixel"):
        parse_pixel_size("10.0000001mm")
    with pytest.raises(InputError, match=r"is 85 mm a pixel"):
        parse_pixel_size("85mm")


def test_a_clipped_share_of_a_huge_mosaic_is_not_written_in_powers_of_ten():
    from napari_xraysep.core.result import defects_line

    line = defects_line({"clipped_pixels": 1, "clipped_fraction": 1 / 30000**2})
    assert "e-" not in line and "(under 0.001 %)" in line
    assert "(0.035 %)" in defects_line({"clipped_pixels": 46, "clipped_fraction": 0.00035})
    assert "(0.4 %)" in defects_line({"clipped_pixels": 46, "clipped_fraction": 0.004})
    assert "pixels at" in defects_line({"clipped_pixels": 5})  # no share without the fraction


def test_a_fit_on_a_painting_under_64_px_a_side_warns_and_a_model_applied_does_not(tiny_mixture, tiny_colour_map):
    from napari_xraysep import separate
    from napari_xraysep.core.data import SMALL_PAINTING, small_painting_warning

    x, rgb = tiny_mixture.x_mixed, tiny_mixture.rgb_surface
    with pytest.warns(UserWarning, match=r"The painting is only 48×64 px: too small .* cropped by mistake"):
        first = separate(x, rgb, **tiny_colour_map)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        separate(x, rgb, model=first.model, steps=0)
    assert not [w for w in caught if "too small" in str(w.message)]
    # The painting's pixels with data are measured, not the frame (a small painting on a wide film margin).
    valid = np.zeros((200, 240), bool)
    valid[10 : 10 + SMALL_PAINTING, 20:200] = True
    assert SMALL_PAINTING == 64 and small_painting_warning(valid) is None
    valid[10 + SMALL_PAINTING - 1] = False
    assert "only 63×180 px" in small_painting_warning(valid)
    assert small_painting_warning(np.zeros((200, 240), bool)) is None
