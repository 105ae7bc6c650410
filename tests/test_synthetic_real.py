"""The real-file variants: stored like a user's files, structure where the docstring says, truth intact."""

from __future__ import annotations

import numpy as np
import pytest

from napari_xraysep.datasets.synthetic import make_mixture
from napari_xraysep.datasets.real_frame import DETECTOR_MAX, FOG, jpeg_round_trip
from napari_xraysep.datasets.synthetic_real import VARIANTS, make_real_variant, with_real_structure

SHAPE = (64, 96)


@pytest.fixture(scope="module")
def mixture():
    return make_mixture("concealed_portrait", SHAPE, seed=0)


@pytest.fixture(scope="module")
def variants(mixture):
    return {v: with_real_structure(mixture, v, seed=3) for v in VARIANTS}


@pytest.fixture(scope="module")
def clean(variants):
    return variants["clean"]


def _inside(variant, image):
    top, left, h, w = variant.box
    return image[top : top + h, left : left + w]


def test_stored_like_files(variants):
    for name, v in variants.items():
        frame = v.painting.shape
        assert v.x_stored.dtype == np.uint16 and v.x_stored.shape == frame, name
        assert v.rgb_stored.dtype == np.uint8 and v.rgb_stored.shape == (*frame, 3), name
        assert v.x1_true.shape == v.x2_true.shape == v.defects.shape == frame, name
        # The truths are defined exactly inside the painting.
        assert np.array_equal(np.isfinite(v.x2_true), v.painting), name
        assert np.array_equal(np.isfinite(v.x1_true), v.painting), name


def test_clean_is_the_mixture_stored(mixture, clean):
    assert clean.painting.all() and not clean.defects.any() and clean.box == (0, 0, *SHAPE)
    expected = np.rint(FOG + clean.gain * np.clip(mixture.x_mixed.astype(np.float64), 0, None))
    assert np.array_equal(clean.x_stored, expected.astype(np.uint16))
    assert int(clean.x_stored.max()) == round(0.85 * DETECTOR_MAX)  # the densest pixel at 85 % of the range
    assert np.array_equal(clean.rgb_stored, np.rint(mixture.rgb_surface * 255).astype(np.uint8))
    np.testing.assert_array_equal(clean.x2_true, mixture.x2_true)
    # Mapped back, the stored X-ray is the mixture up to the rounding of the counts.
    assert np.abs(clean.x_truth_units - mixture.x_mixed).max() <= 0.5 / clean.gain + 1e-6


def test_deterministic_per_seed(mixture, variants):
    for name in ("backdrop_chart", "defects", "mosaic"):
        again = with_real_structure(mixture, name, seed=3)
        assert np.array_equal(again.x_stored, variants[name].x_stored)
        assert np.array_equal(again.rgb_stored, variants[name].rgb_stored)
        other = with_real_structure(mixture, name, seed=4)
        assert not np.array_equal(other.x_stored, variants[name].x_stored) or other.x_stored.shape != variants[name].x_stored.shape


@pytest.mark.parametrize("name", ["backdrop", "backdrop_chart", "tacking_margin", "frame"])
def test_larger_frame_keeps_the_painting_untouched(clean, variants, name):
    v = variants[name]
    top, left, h, w = v.box
    assert v.painting.shape[0] > h and v.painting.shape[1] > w
    # Inside the painting the X-ray is the clean one, count for count.
    assert np.array_equal(_inside(v, v.x_stored)[_inside(v, v.painting)], clean.x_stored[_inside(v, v.painting)])
    if name != "frame":
        assert np.array_equal(_inside(v, v.painting), np.ones(SHAPE, bool))
        assert np.array_equal(_inside(v, v.rgb_stored), clean.rgb_stored)
    else:  # the frame's rabbet hides the painting's outer few pixels in the photograph: not painting there
        rows, cols = np.nonzero(_inside(v, v.painting))
        rabbet = rows.min()
        assert 2 <= rabbet <= 6 and v.painting.sum() == (SHAPE[0] - 2 * rabbet) * (SHAPE[1] - 2 * rabbet)
        assert (rows.max(), cols.min(), cols.max()) == (SHAPE[0] - 1 - rabbet, rabbet, SHAPE[1] - 1 - rabbet)


def test_backdrop_covers_about_half_the_frame(variants):
    for name in ("backdrop", "backdrop_chart"):
        v = variants[name]
        assert 0.4 <= v.painting.mean() <= 0.6
        # The film margin: nothing absorbs, darker than any painted pixel of the clean painting (bar lead).
        margin = v.x_stored[~v.painting & ~v.defects].astype(float)
        assert np.median(margin) < FOG + 0.1 * (np.median(v.x_stored[v.painting]) - FOG)


def test_chart_and_lead_outside_the_painting(variants):
    v = variants["backdrop_chart"]
    lead = v.x_stored == DETECTOR_MAX
    assert lead.sum() > 50 and not (lead & v.painting).any() and v.defects[lead].all()
    # The chart's saturated colours are on the backdrop only.
    saturation = v.rgb_stored.max(-1).astype(int) - v.rgb_stored.min(-1)
    backdrop = ~v.painting
    assert (saturation[backdrop] > 100).sum() > 20


def test_vignetting_darkens_the_corners_of_the_photograph_only(clean, variants):
    v = variants["vignetting"]
    assert np.array_equal(v.x_stored, clean.x_stored)
    ratio = (v.rgb_stored.astype(float) + 1) / (clean.rgb_stored.astype(float) + 1)
    assert ratio[:4, :4].mean() < 0.88 and ratio[30:34, 46:50].mean() > 0.95


def test_jpeg_stores_the_photograph_with_its_compression_artefacts_only(clean, variants):
    v = variants["jpeg"]
    assert np.array_equal(v.x_stored, clean.x_stored) and v.painting.all()
    error = v.rgb_stored.astype(float) - clean.rgb_stored
    assert 0.5 < np.sqrt(np.mean(error**2)) < 12  # a JPEG of quality 80-90: changed, not replaced


def test_jpeg_round_trip_subsamples_the_colour():
    # A 1-px checker of two colours of one lightness: 4:2:0 keeps one colour per 2 x 2 block.
    rgb = np.zeros((32, 32, 3), np.uint8)
    rgb[...] = (200, 80, 80)
    rgb[::2, ::2] = rgb[1::2, 1::2] = (80, 131, 131)
    stored = jpeg_round_trip(rgb, 90)
    assert stored.dtype == np.uint8 and stored.shape == rgb.shape
    assert np.ptp(stored[8:24, 8:24, 0].astype(int)) < 0.5 * 120


def test_mosaic_films_have_their_own_exposure(clean, variants):
    v = variants["mosaic"]
    assert [kind for kind, _ in v.seams] == ["row", "col", "col"]
    (_, row), (_, c0), (_, c1) = v.seams
    assert 0 < row < SHAPE[0] and 0 < c0 < c1 < SHAPE[1]
    gains = []
    for rows in (slice(0, row), slice(row, None)):
        for cols in (slice(0, c0), slice(c0, c1), slice(c1, None)):
            signal = clean.x_stored[rows, cols].astype(float) - FOG
            stored = v.x_stored[rows, cols].astype(float) - FOG
            slope, offset = np.polyfit(signal.ravel(), stored.ravel(), 1)  # one gain and offset per film
            assert np.abs(slope * signal + offset - stored).max() <= 1.5  # two roundings
            assert abs(slope - 1) <= 0.06 + 1e-3
            gains.append(slope)
    assert np.ptp(gains) > 0.01


def test_a_mosaic_on_its_film_margin_has_seams_across_the_margin_too(variants):
    # The films cover the whole frame: at the fog's level (the margin) a seam steps by the films' offsets.
    v = variants["mosaic_backdrop"]
    assert [kind for kind, _ in v.seams] == ["row", "col", "col"]
    (_, row), (_, first_col), _ = v.seams
    top, left, h, w = v.box
    assert v.painting.shape[0] > h and v.painting.shape[1] > w and top < row < top + h  # framed, the seam across it
    margin = v.x_stored[:, :min(left, first_col)].astype(float)  # the margin left of the painting, one column of films
    step = np.median(margin[row : row + 4]) - np.median(margin[row - 4 : row])
    assert abs(step) > 20 and np.median(margin) < FOG + 1000  # the films' offsets differ, at the fog's level
    assert v.rgb_stored.shape == (*v.painting.shape, 3)  # the photograph framed on its backdrop


def test_heel_is_a_smooth_gain_within_a_few_percent(clean, variants):
    ratio = (variants["heel"].x_stored.astype(float) - FOG) / (clean.x_stored.astype(float) - FOG)
    assert 0.88 < ratio.min() and ratio.max() < 1.08 and np.ptp(ratio) > 0.05
    assert np.array_equal(variants["heel"].rgb_stored, clean.rgb_stored)


def test_defects_are_marked_and_the_rest_untouched(clean, variants):
    v = variants["defects"]
    assert (v.x_stored == 0).any() and (v.x_stored == DETECTOR_MAX).any()
    assert v.defects.sum() > 20
    assert np.array_equal(v.x_stored[~v.defects], clean.x_stored[~v.defects])
    assert not np.array_equal(v.x_stored[v.defects], clean.x_stored[v.defects])


def test_clipping_saturates_the_densest_pixels(mixture, variants):
    v = variants["clipping"]
    clipped = v.x_stored == DETECTOR_MAX
    assert 0.005 <= clipped.mean() <= 0.05
    assert np.array_equal(v.defects, clipped)
    # Really at the maximum where the signal is densest, and nowhere else.
    assert mixture.x_mixed[clipped].min() >= mixture.x_mixed[~clipped].max() - 1e-6


@pytest.mark.parametrize("name", ["lead_markers", "stretcher"])
def test_xray_only_objects(clean, variants, name):
    v = variants[name]
    assert np.array_equal(v.rgb_stored, clean.rgb_stored) and v.painting.all()
    saturated = v.x_stored == DETECTOR_MAX
    assert saturated.any() and np.array_equal(v.defects, saturated)
    if name == "lead_markers":
        assert np.array_equal(v.x_stored[~saturated], clean.x_stored[~saturated])
    else:  # denser bars along the edges, the middle of the painting between them untouched
        edge, middle = v.x_stored[:2, :].astype(float), clean.x_stored[:2, :].astype(float)
        assert (edge - middle)[~saturated[:2, :]].mean() > 0.05 * (clean.x_stored.max() - FOG)
        assert np.array_equal(v.x_stored[SHAPE[0] // 2, 15:30], clean.x_stored[SHAPE[0] // 2, 15:30])


def test_truths_inside_the_painting(mixture, variants):
    for name, v in variants.items():
        inside = _inside(v, v.painting)
        np.testing.assert_array_equal(_inside(v, v.x2_true)[inside], mixture.x2_true[inside], err_msg=name)
        np.testing.assert_array_equal(_inside(v, v.x1_true)[inside], mixture.x1_true[inside], err_msg=name)


def test_unknown_names_are_refused(mixture):
    with pytest.raises(ValueError, match="unknown real-file variant"):
        with_real_structure(mixture, "sepia", 0)
    with pytest.raises(ValueError, match="unknown photographic case"):
        make_real_variant("concealed_portrait", "clean", 0)


def test_photographic_case():
    v = make_real_variant("photo_coffee_over_astronaut", "backdrop", seed=1, shape=(48, 72))
    assert v.clean.case == "photo_coffee_over_astronaut" and v.box[2:] == (48, 72)
