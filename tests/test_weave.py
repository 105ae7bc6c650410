"""The canvas weave: thread frequencies found under a painting, and the pattern extracted as a layer."""

import math

import numpy as np
import pytest
import torch

from conftest import demodulated_weave

from napari_xraysep.core.weave import (
    ThreadPeak,
    combination_peaks,
    extract_weave,
    find_thread_frequencies,
    power_spectrum,
    weave_radius,
    weave_seen,
)
from napari_xraysep.datasets.synthetic import make_mixture

SHAPE = (192, 256)
# Two threads: period 5.5 px almost along x, period 6.5 px almost along y (as warp and weft are).
THREADS = [(5.5, math.radians(3.0)), (6.5, math.radians(92.0))]


def _two_thread_weave(amplitude: float = 0.03) -> tuple[np.ndarray, list[tuple[float, float]]]:
    yy, xx = np.mgrid[0 : SHAPE[0], 0 : SHAPE[1]].astype(np.float64)
    weave, frequencies = np.zeros(SHAPE), []
    for (period, angle), phase in zip(THREADS, (0.4, 2.1)):
        fy, fx = math.sin(angle) / period, math.cos(angle) / period
        weave += amplitude * np.cos(2 * np.pi * (fy * yy + fx * xx) + phase)
        frequencies.append((fy, fx) if fx > 0 or (fx == 0 and fy > 0) else (-fy, -fx))
    return weave, frequencies


@pytest.fixture(scope="module")
def painting() -> np.ndarray:
    """A painting's X-ray with brush strokes and shapes, no weave and no noise."""
    mixture = make_mixture("concealed_portrait", SHAPE, seed=4)
    return (mixture.x1_true + mixture.x2_true).astype(np.float64)


def test_two_thread_frequencies_are_found_under_a_painting(painting):
    weave, truth = _two_thread_weave()
    peaks = find_thread_frequencies(painting + weave)
    assert len(peaks) == 2
    for fy, fx in truth:
        nearest = min(peaks, key=lambda p: math.hypot(p.fy - fy, p.fx - fx))
        assert math.hypot(nearest.fy - fy, nearest.fx - fx) < 0.004  # within a third of a frequency bin
    assert sorted(round(p.period_px, 1) for p in peaks) == [5.5, 6.5]


def test_a_painting_without_a_weave_shows_none(painting, rng):
    assert find_thread_frequencies(painting + 0.01 * rng.standard_normal(SHAPE)) == []
    assert find_thread_frequencies(painting[:40, :40]) == []  # too small to tell a weave


def test_the_extracted_weave_has_the_pattern_and_its_amplitude(painting):
    weave, _truth = _two_thread_weave(amplitude=0.03)
    peaks = find_thread_frequencies(painting + weave)
    frequencies = torch.tensor([[p.fy, p.fx] for p in peaks])
    extracted = extract_weave(torch.from_numpy(painting + weave)[None, None], frequencies, envelope=12.0)[0, 0].numpy()
    inner = (slice(40, -40), slice(40, -40))  # away from the borders
    assert np.corrcoef(extracted[inner].ravel(), weave[inner].ravel())[0, 1] > 0.97
    assert np.std(extracted[inner]) == pytest.approx(np.std(weave[inner]), rel=0.1)


def test_a_sinusoid_at_the_frequency_passes_and_others_do_not():
    yy, xx = np.mgrid[0:128, 0:128].astype(np.float64)
    at = np.cos(2 * np.pi * (0.05 * yy + 0.15 * xx) + 1.0)
    away = np.cos(2 * np.pi * 0.3 * yy)
    image = torch.from_numpy(at + away + 5.0)[None, None]
    out = extract_weave(image, torch.tensor([[0.05, 0.15]]), envelope=12.0)[0, 0].numpy()
    inner = (slice(50, -50), slice(50, -50))
    np.testing.assert_allclose(out[inner], at[inner], atol=0.02)  # the constant and the other wave are gone
    assert not extract_weave(image, torch.zeros(0, 2), envelope=12.0).any()  # no frequencies, no weave


def test_extraction_is_local_so_a_painting_can_be_done_tile_by_tile(rng):
    image = torch.from_numpy(rng.random((1, 1, 150, 170)))
    frequencies = torch.tensor([[0.01, 0.17], [0.16, -0.02]])
    whole = extract_weave(image, frequencies, envelope=10.0)
    halo = weave_radius(10.0)
    rows, cols = slice(60 - halo, 100 + halo), slice(70 - halo, 110 + halo)
    tile = extract_weave(image[:, :, rows, cols], frequencies, envelope=10.0)
    torch.testing.assert_close(tile[0, 0, halo:-halo, halo:-halo], whole[0, 0, 60:100, 70:110], atol=1e-10, rtol=0)


def test_peaks_describe_threads():
    peak = ThreadPeak(fy=0.0, fx=0.2, ratio=30.0)
    assert peak.period_px == pytest.approx(5.0) and peak.angle_deg == pytest.approx(0.0)
    spectrum = power_spectrum(np.ones((64, 64)))
    assert spectrum.shape == (32, 32) and np.allclose(spectrum, 0.0)  # a constant has no power


def _border_and_inside(image: np.ndarray, width: int) -> tuple[float, float]:
    """RMS of ``image`` in the strip ``width`` px wide along the edges, and well inside (3 widths in)."""
    strip = np.ones(image.shape, bool)
    strip[width:-width, width:-width] = False
    inside = np.zeros(image.shape, bool)
    inside[3 * width : -3 * width, 3 * width : -3 * width] = True
    return float(np.sqrt(np.mean(image[strip] ** 2))), float(np.sqrt(np.mean(image[inside] ** 2)))


def test_the_weave_has_no_frame_along_the_painting_edges(painting):
    # an X-ray's level (here ~0.66) used to leak into the band where the window is cut by the edge:
    # the strip along the edges was off by 0.041 (the weave itself is 0.030 RMS), 18× the inside's error
    weave, truth = _two_thread_weave(amplitude=0.03)
    extracted = extract_weave(torch.from_numpy(painting + weave)[None, None], torch.tensor(truth), envelope=12.0)[0, 0].numpy()
    border, inside = _border_and_inside(extracted - weave, 12)
    assert border < 0.1 * 0.03 and border < 2 * inside


def test_a_separation_finds_the_weave_up_to_the_edges():
    from napari_xraysep import separate

    mixture = make_mixture("concealed_portrait", (128, 192), seed=2)  # its canvas: 0.01 RMS
    result = separate(mixture.x_mixed, mixture.rgb_surface, None, device="cpu", clusters=8, steps=4, passes=2)
    border, inside = _border_and_inside(result.weave - mixture.weave, 16)
    assert border < 2 * inside and border < 0.2 * float(mixture.weave.std())  # was 0.014 at the edges: above the weave
    x2_border, x2_inside = _border_and_inside(result.x2 - result.x2.mean() - (mixture.x2_true - mixture.x2_true.mean()), 16)
    assert x2_border < 1.5 * x2_inside


@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
def test_the_one_kernel_extraction_equals_demodulating_each_frequency(dtype, rng):
    image = torch.from_numpy(rng.random((1, 1, 90, 130))).to(dtype)
    image[0, 0] += torch.from_numpy(_two_thread_weave(0.3)[0][:90, :130]).to(dtype)
    frequencies = torch.tensor([[0.13, 0.21], [0.2, -0.05], [0.0, 0.17]])
    expected = demodulated_weave(image, frequencies, 9.0)
    tolerance = 1e-12 if dtype == torch.float64 else 2e-6
    torch.testing.assert_close(extract_weave(image, frequencies, 9.0), expected, rtol=0, atol=tolerance * float(expected.abs().max()))


def test_a_weave_whose_smoothed_spectrum_rounds_below_zero_gives_no_invalid_log():
    """The pure weave of this synthetic case has spectrum bins that the moving average (uniform_filter)
    leaves slightly negative: "invalid value encountered in log" before they were clipped (every case,
    seeds 0–2, x_mixed and weave, found the same peaks before and after)."""
    import warnings

    weave = make_mixture("copper_black_costume", seed=0).weave
    with warnings.catch_warnings():
        warnings.simplefilter("error", RuntimeWarning)
        peaks = find_thread_frequencies(weave)
    assert len(peaks) >= 2 and all(np.isfinite(p.ratio) for p in peaks)


def test_a_model_s_weave_is_seen_where_the_x_ray_shows_it_and_not_elsewhere(painting):
    """weave_seen: any of the model's frequencies (either sign) among the residual's thread peaks."""
    weave, truth = _two_thread_weave()
    frequencies = np.array(truth)
    assert weave_seen(frequencies, painting + weave) is True
    assert weave_seen(-frequencies[:1], painting + weave) is True  # the other sign of the same peak
    assert weave_seen(frequencies, painting) is False  # a panel: no weave
    assert weave_seen(frequencies + 0.03, painting + weave) is False  # another canvas's threads
    holed = painting + weave
    holed[:, : SHAPE[1] // 2 + 20] = np.nan  # a painting on half its frame: judged over the known box
    assert weave_seen(frequencies, holed) is True
    assert weave_seen(frequencies, np.where(np.isnan(holed), np.nan, painting)) is False
    sparse = np.where(np.random.default_rng(0).random(SHAPE) < 0.6, np.nan, painting + weave)
    assert weave_seen(frequencies, sparse) is None  # over half unknown within the box: nothing to tell
    assert weave_seen(np.zeros((0, 2)), painting + weave) is None
    assert weave_seen(frequencies, painting[:40, :40]) is None


def test_applying_a_canvas_model_to_a_panel_says_its_weave_is_not_there():
    """A new user's finding: a canvas painting's model applied to a panel painting wrote the canvas's
    weave (from the panel's own detail) into the weave layer, and `xraysep weave` counted 20.2 threads/cm
    on it, without a word. The unit check before applying says so; the painting's own model does not."""
    import warnings

    from napari_xraysep import separate
    from napari_xraysep.core.sources import Sources
    from napari_xraysep.core.streaming import calibrated
    from napari_xraysep.datasets.synthetic_real import make_real_variant

    canvas = make_real_variant("photo_coffee_over_astronaut", "clean", 0)
    panel = make_real_variant("photo_astronaut_over_rocket", "clean", 0)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        model = separate(canvas.x_stored, canvas.rgb_stored).model
    assert int(model.network.peaks) == 2
    stored = canvas.x_stored
    # The canvas in other units too (a breaker's: before the unit fit, the mis-scaled painting hid the peak).
    for xray, photo, expected in (
        (panel.x_stored, panel.rgb_stored, True), (stored, canvas.rgb_stored, False),
        ((stored >> 8).astype(np.uint8), canvas.rgb_stored, False), (stored / 65535.0, canvas.rgb_stored, False),
        ((stored * 0.5).astype(np.uint16), canvas.rgb_stored, False),
    ):
        with warnings.catch_warnings(record=True) as said:
            warnings.simplefilter("always")
            calibrated(model, Sources(xray, photo))
        assert any("canvas weave (threads every" in str(w.message) for w in said) is expected


def test_combination_peaks_are_crossings_and_harmonics_of_stronger_peaks():
    # A new user's canvas (a coarse photograph): warp and weft, then their sum and difference (either
    # sign) — four peaks, two families of threads, as `xraysep weave` counted them.
    warp, weft = np.array([-0.008778, 0.160582]), np.array([-0.143621, 0.005462])
    peaks = np.array([warp, weft, -(warp + weft) + 0.004, warp - weft, [0.3, 0.05]])
    assert combination_peaks(peaks) == [False, False, True, True, False]
    # A breaker's: the harmonics of sharp threads (twice one, and its sum with another) are none either.
    harmonics = np.array([warp, weft, 2 * warp, 2 * weft, 2 * warp - weft, 3 * weft])
    assert combination_peaks(harmonics) == [False, False, True, True, True, True]
    # The stronger ones are the threads: listed first, the sum is a thread and the weft its difference.
    assert combination_peaks(peaks[[2, 0, 1]]) == [False, False, True]
    assert combination_peaks(np.array([warp, warp + 0.03])) == [False, False]
    assert combination_peaks(np.zeros((0, 2))) == []
    # Beyond MIN_SEPARATION (0.02 cycles/px) of the sum: a thread of its own.
    assert combination_peaks(np.array([warp, weft, warp + weft + [0.0, 0.021]])) == [False, False, False]
