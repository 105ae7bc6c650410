"""The napari↔core translation, without a viewer or Qt."""

import numpy as np
import pytest
from napari.layers import Labels, Shapes

from napari_xraysep import separate
from napari_xraysep.plugin.layers import region_mask_from_layer, result_layer_data, shared_contrast
from napari_xraysep.core import InputError


def test_rectangles_ellipses_and_polygons_all_count():
    layer = Shapes(
        [
            np.array([[2, 2], [2, 6], [6, 6], [6, 2]]),
            np.array([[10, 10], [10, 20], [20, 20], [20, 10]]),
            np.array([[25, 2], [29, 2], [29, 8]]),
        ],
        shape_type=["rectangle", "ellipse", "polygon"],
    )
    mask = region_mask_from_layer(layer, (32, 32))
    assert mask.shape == (32, 32)
    assert mask[4, 4] and mask[15, 15] and mask[28, 3]
    assert not mask[10, 10]  # the ellipse's bounding-box corner is outside it
    assert not mask[0, 31]


def test_empty_or_degenerate_shapes_and_labels():
    with pytest.raises(InputError, match="no shapes yet"):
        region_mask_from_layer(Shapes(), (10, 10))
    flat = Shapes([np.array([[2, 2], [2, 8], [2, 5]])], shape_type="polygon")  # zero area
    with pytest.raises(InputError, match="enclose no pixel"):
        region_mask_from_layer(flat, (10, 10))
    # a path's vertices may span an area; it encloses none (a tester's became its 86-pixel stroke)
    path = Shapes([np.array([[5, 5], [40, 60], [10, 80]], float)], shape_type="path")
    with pytest.raises(InputError, match="enclose no pixel"):
        region_mask_from_layer(path, (64, 96))
    box = np.array([[2, 2], [2, 6], [6, 6], [6, 2]])
    with_path = Shapes([np.array([[5, 5], [40, 60], [10, 80]], float), box], shape_type=["path", "rectangle"])
    alone = Shapes([box], shape_type="rectangle")
    np.testing.assert_array_equal(region_mask_from_layer(with_path, (64, 96)), region_mask_from_layer(alone, (64, 96)))
    outside = Shapes([np.array([[50, 50], [50, 60], [60, 60], [60, 50]])], shape_type="rectangle")
    with pytest.raises(InputError, match="enclose no pixel"):
        region_mask_from_layer(outside, (10, 10))
    labels = np.zeros((10, 10), int)
    labels[3:5, 3:5] = 2
    np.testing.assert_array_equal(region_mask_from_layer(Labels(labels), (10, 10)), labels > 0)
    with pytest.raises(InputError, match="are .* paint them on a Labels layer of the X-ray's size"):
        region_mask_from_layer(Labels(labels), (10, 12))
    # a painting area's messages speak of the painting, not of the hidden design
    with pytest.raises(InputError, match="^The painting area layer .* around the painting"):
        region_mask_from_layer(Shapes(), (10, 10), role="painting area")
    with pytest.raises(InputError, match="enclose no pixel .* around the painting"):
        region_mask_from_layer(outside, (10, 10), role="painting area")
    with pytest.raises(InputError, match="as the painting area"):
        region_mask_from_layer(object(), (10, 10), role="painting area")


def test_result_layers_are_named_comparable_and_carry_provenance(tiny_mixture, tiny_settings):
    result = separate(tiny_mixture.x_mixed, tiny_mixture.rgb_surface, tiny_mixture.region_mask, **tiny_settings)
    layers = result_layer_data(result, "xray", run=2)
    names = [kwargs["name"] for _, kwargs, _ in layers]
    assert names == ["x̂1 surface · run 2", "x̂2 hidden · run 2", "error map · run 2", "x1 surface · run 2", "x2 hidden · run 2", "weave · run 2"]
    limits = [kwargs["contrast_limits"] for _, kwargs, _ in layers]
    assert limits[0] == limits[1] == limits[3] == limits[4]  # X-rays share one contrast
    assert limits[2][0] == -limits[2][1]  # error map symmetric around 0
    meta = layers[4][1]["metadata"]["xraysep"]
    assert meta["layer"] == "x2" and meta["run"] == 2 and meta["settings"]["method"]["channels"] == 4
    assert meta["source"] == "xray" and meta["title"] == "x2 hidden · run 2 · xray"
    np.testing.assert_array_equal(layers[4][0], result.x2)


def test_shared_contrast_ignores_outliers():
    images = [np.zeros((100, 100)), np.ones((100, 100))]
    images[1][0, 0] = 1e6
    low, high = shared_contrast(images)
    assert low == 0.0 and high == 1.0


def test_a_layer_s_pixel_size_is_read_in_mm_whatever_length_unit_it_is_in():
    """Another plugin, or the user, may place a layer in µm: read as mm it was 1000× off (the thread
    counts per cm, the comparison's scale bar, the alignment's scale from the pixel sizes)."""
    from napari.layers import Image

    from napari_xraysep.plugin.layers import mm_per_pixel, spacing_record
    from napari_xraysep.plugin.threads import weave_for_counting

    assert mm_per_pixel((0.5, 0.25), ("mm", "mm")) == (0.5, 0.25)
    assert mm_per_pixel((85.0, 85.0), ("um", "micrometer")) == pytest.approx((0.085, 0.085))
    assert mm_per_pixel((1.0, 0.01), ("inch", "cm")) == pytest.approx((25.4, 0.1))
    for units in (("pixel", "pixel"), ("s", "s"), ("mm", "no such unit"), ("mm",), None):
        assert mm_per_pixel((1.0, 1.0), units) is None, units
    layer = Image(np.zeros((6, 8), np.float32), scale=(85.0, 85.0), units=("um", "um"))
    assert spacing_record(layer.scale, layer.units)["mm_per_pixel"] == pytest.approx([0.085, 0.085])
    assert weave_for_counting(layer)[1] == pytest.approx((0.085, 0.085))
    assert weave_for_counting(Image(np.zeros((6, 8), np.float32)))[1] is None
