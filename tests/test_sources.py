"""Sources: the five images one separation reads, checked lazily, cropped and read as network input."""

from __future__ import annotations

import numpy as np
import pytest

from napari_xraysep.core import InputError, SeparationConfig
from napari_xraysep.core.data import Normalisation
from napari_xraysep.core.sources import Sources
from napari_xraysep.core.trained import TrainedModel, new_colour_map


class Lazy:
    """An image that says its shape and type but refuses to be read: checks must not read pixels."""

    def __init__(self, shape, dtype=np.uint16):
        self.shape, self.dtype, self.ndim = shape, np.dtype(dtype), len(shape)

    def __getitem__(self, key):
        raise AssertionError("read a pixel")


def test_checks_shapes_without_reading_a_pixel():
    assert Sources(Lazy((30, 40)), Lazy((30, 40, 3)), side_channels=[Lazy((30, 40))]).check() == (30, 40)
    assert Sources(Lazy((30, 40)), Lazy((30, 40, 4)), Lazy((30, 40, 3)), mirror_back=True).check() == (30, 40)


@pytest.mark.parametrize(
    ("sources", "message"),
    [
        (Sources(Lazy((30, 40)), Lazy((30, 41, 3))), "must be registered"),
        (Sources(Lazy((30, 40, 3)), Lazy((30, 40, 3))), "colour image"),
        (Sources(Lazy((30, 40)), Lazy((30, 40, 3)), mirror_back=True), "needs the back side's photograph"),
        (Sources(Lazy((30, 40)), Lazy((30, 40, 3)), Lazy((30, 40, 3)), side_channels=[Lazy((30, 40))]), "double-sided panel takes none"),
        (Sources(Lazy((30, 40)), Lazy((30, 40, 3)), side_channels=[Lazy((30, 39))]), "side channel 1"),
        (Sources(Lazy((30, 40)), Lazy((30, 40, 3), np.complex64)), "pixel type"),
    ],
)
def test_a_wrong_source_is_refused_by_name(sources, message):
    with pytest.raises(InputError, match=message):
        sources.check()


def test_side_channels_as_a_stack_become_a_tuple_of_maps(rng):
    stack = rng.random((2, 5, 6))
    sources = Sources(rng.random((5, 6)), rng.random((5, 6, 3)), side_channels=stack)
    assert len(sources.side_channels) == 2 and isinstance(sources.side_channels, tuple)
    np.testing.assert_array_equal(sources.side_channels[1], stack[1])


@pytest.mark.parametrize("area", [(slice(2, 9), slice(3, 10)), (slice(0, 11), slice(0, 13)), (slice(4, 5), slice(12, 13))])
def test_a_mirrored_back_is_cropped_under_the_same_xray_pixels(rng, area):
    # 13 columns: an odd width, and off-centre areas — a mirrored back cropped at the X-ray's own
    # columns would lie under other pixels
    back = rng.random((11, 13, 3))
    sources = Sources(rng.random((11, 13)), rng.random((11, 13, 3)), back, mirror_back=True)
    cropped = sources.crop(area)
    assert cropped.mirror_back and cropped.x_mixed.shape == cropped.rgb_back.shape[:2]
    np.testing.assert_array_equal(cropped.rgb_back[:, ::-1], back[:, ::-1][area])  # flipped, the front's pixels
    np.testing.assert_array_equal(cropped.x_mixed, sources.x_mixed[area])
    unmirrored = Sources(sources.x_mixed, sources.rgb_surface, back).crop(area)
    np.testing.assert_array_equal(unmirrored.rgb_back, back[area])


def test_network_input_is_photograph_sides_back_xray_in_the_models_units(rng):
    x, rgb, side = rng.random((6, 7)) * 100, rng.random((6, 7, 4)), rng.random((6, 7)) * 5
    model = TrainedModel(
        new_colour_map(SeparationConfig(), 4), SeparationConfig(),
        x_normalisation=Normalisation(10.0, 2.0), rgb_normalisation=Normalisation(0.5, 0.25),
        side_normalisations=(Normalisation(1.0, 4.0),),
    )
    area = (slice(1, 5), slice(2, 7))
    stack = Sources(x, rgb, side_channels=[side]).network_input(model, area)
    assert stack.shape == (5, 4, 5)  # 3 colours (the 4th channel dropped), 1 side channel, the X-ray
    np.testing.assert_allclose(stack[:3], np.moveaxis((rgb[area][..., :3] - 0.5) / 0.25, -1, 0), rtol=1e-6)
    np.testing.assert_allclose(stack[3], (side[area] - 1.0) / 4.0, rtol=1e-6)
    np.testing.assert_allclose(stack[4], (x[area] - 10.0) / 2.0, rtol=1e-6)


def test_network_input_of_8_and_16_bit_files_equals_the_float64_formula_bit_for_bit(rng):
    x = rng.integers(0, 65536, (6, 7)).astype(np.uint16)
    rgb, back = (rng.integers(0, 256, (6, 7, 3)).astype(np.uint8) for _ in range(2))
    side = rng.integers(0, 256, (6, 7)).astype(np.uint8)
    model = TrainedModel(
        new_colour_map(SeparationConfig(), 7), SeparationConfig(),
        x_normalisation=Normalisation(1234.5, 40000.25), rgb_normalisation=Normalisation(3.0, 250.0),
        side_normalisations=(Normalisation(7.0, 200.0),),
    )
    area = (slice(1, 6), slice(0, 5))

    def unit(image, normalisation):
        return ((image.astype(np.float64) - normalisation.offset) / normalisation.scale).astype(np.float32)

    sources = Sources(x, rgb, back, side_channels=[side], mirror_back=True)
    stack = sources.network_input(model, area)
    assert stack.dtype == np.float32 and stack.shape == (8, 5, 5)
    np.testing.assert_array_equal(stack[:3], np.moveaxis(unit(rgb[area], model.rgb_normalisation), -1, 0))
    np.testing.assert_array_equal(stack[3], unit(side[area], model.side_normalisations[0]))
    np.testing.assert_array_equal(stack[4:7], np.moveaxis(unit(back[:, ::-1][area], model.rgb_normalisation), -1, 0))
    np.testing.assert_array_equal(stack[7], unit(x[area], model.x_normalisation))
    # an X-ray and a photograph read already are taken as given
    given = sources.network_input(model, area, x[area] + 1, rgb[area] // 2)
    np.testing.assert_array_equal(given[7], unit(x[area] + 1, model.x_normalisation))
    np.testing.assert_array_equal(given[:3], np.moveaxis(unit(rgb[area] // 2, model.rgb_normalisation), -1, 0))


def test_network_input_reads_a_mirrored_back_facing_the_front(rng):
    x, rgb, back = rng.random((6, 9)), rng.random((6, 9, 3)), rng.random((6, 9, 3))
    model = TrainedModel(new_colour_map(SeparationConfig(), 6), SeparationConfig(), Normalisation(0.0, 1.0), Normalisation(0.0, 1.0))
    area = (slice(0, 6), slice(1, 4))
    stack = Sources(x, rgb, back, mirror_back=True).network_input(model, area)
    np.testing.assert_allclose(stack[3:6], np.moveaxis(back[:, ::-1][area], -1, 0), rtol=1e-6)
