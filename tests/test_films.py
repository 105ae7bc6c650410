"""A mosaic's films: seams found where x2 steps, each film's exposure fitted and taken out of the X-ray."""

from __future__ import annotations

import functools
import json
import threading
import warnings

import numpy as np
import pytest
from conftest import SlicedOnly
from scipy import ndimage

from napari_xraysep import separate
from napari_xraysep.core.errors import InputError
from napari_xraysep.core.films import (
    Films,
    KnownPixels,
    Seam,
    find_films,
    fit_films,
    given_films,
    seam_candidates,
    snapped,
)
from napari_xraysep.core.separation import check_seams
from napari_xraysep.core.support import detect_support
from napari_xraysep.datasets.evaluation import score_inside, scoring_mask
from napari_xraysep.datasets.synthetic_real import make_real_variant

HEIGHT, WIDTH = 240, 360
SEAMS = (Seam("col", 130), Seam("col", 250), Seam("row", 110))
SEAMS_SORTED = tuple(sorted(SEAMS))
GAINS = np.array([[0.95, 1.04, 1.0], [1.06, 0.97, 1.02]])
OFFSETS = np.array([[30.0, -20.0, 0.0], [-40.0, 25.0, 10.0]])


def _exposure(seed: int = 0) -> np.ndarray:
    """One exposure of a painting: smooth shapes of a few hundred units, fine texture and noise."""
    rng = np.random.default_rng(seed)
    shapes = ndimage.gaussian_filter(rng.standard_normal((HEIGHT, WIDTH)), 10)
    return 1000 + 300 * shapes / shapes.std() + 5 * rng.standard_normal((HEIGHT, WIDTH))


def _mosaic(t: np.ndarray) -> np.ndarray:
    """``t`` stored on the 2×3 films of SEAMS with GAINS and OFFSETS."""
    films = Films(SEAMS, (0, 110, HEIGHT), (0, 130, 250, WIDTH), GAINS, OFFSETS, ())
    return films._per_pixel(GAINS) * t + films._per_pixel(OFFSETS)


def _affine_residual(a: np.ndarray, b: np.ndarray) -> float:
    """The largest residual of ``a`` after the best affine fit to ``b`` (finite pixels)."""
    known = np.isfinite(a) & np.isfinite(b)
    design = np.stack([b[known], np.ones(known.sum())], axis=1)
    coefficients, *_ = np.linalg.lstsq(design, a[known], rcond=None)
    return float(np.abs(design @ coefficients - a[known]).max())


def test_given_seams_recover_each_film_s_exposure() -> None:
    t = _exposure()
    films = fit_films(_mosaic(t), SEAMS)
    assert films is not None and films.seams == tuple(sorted(SEAMS))
    # Gains are known up to one common factor, offsets up to one common affine map (the gauge).
    ratio = films.gains / GAINS
    np.testing.assert_allclose(ratio, ratio.mean(), rtol=1e-2)  # the gains themselves differ by up to 11 %
    # The gauge: the films' area-weighted mean of 1 / gain is 1, and the X-ray's mean is kept.
    areas = np.outer([110, 130], [130, 120, 110])
    assert abs(np.average(1 / films.gains, weights=areas) - 1) < 1e-9
    assert abs(films.corrected(_mosaic(t)).mean() - _mosaic(t).mean()) < 1e-6
    # The corrected X-ray is one exposure again: an affine map of t to within its noise.
    assert _affine_residual(films.corrected(_mosaic(t)), t) < 30
    assert _affine_residual(_mosaic(t), t) > 60
    assert max(films.step_left) < 0.2


def test_what_the_photograph_explains_is_taken_out_of_the_films_fit() -> None:
    # The surface painting's own texture beside the seams (sharp, busy: edges along a seam, brushwork)
    # bends levels extrapolated from two pixels; with x̂1 known it is no step to fit.
    rng = np.random.default_rng(4)
    surface = 150 * np.sign(rng.standard_normal((HEIGHT, WIDTH)))  # a busy surface, as x̂1 predicts it
    t = _exposure() + surface
    x = _mosaic(t)
    plain = fit_films(x, SEAMS)
    helped = fit_films(x, SEAMS, explained=surface)
    assert plain is not None and helped is not None and helped.seams == plain.seams

    def gain_error(films: Films) -> float:
        ratio = films.gains / GAINS
        return float(np.abs(ratio / ratio.mean() - 1).max())

    assert gain_error(helped) < 0.01 < gain_error(plain)
    assert _affine_residual(helped.corrected(x), t) < 0.5 * _affine_residual(plain.corrected(x), t)
    # Where what is explained is unknown (NaN) those pixels take no part; all unknown: no runs, no films.
    partly = surface.astype(float).copy()
    partly[:, :125] = np.nan
    assert fit_films(x, SEAMS, explained=partly) is not None
    assert fit_films(x, SEAMS, explained=np.full(x.shape, np.nan)) is None
    # The search judges the seams on the X-ray alone (so a busy surface hides them as before: none are
    # kept here) and fits those it keeps without what is explained.
    assert find_films(x, x - surface) is None and find_films(x, x - surface, explained=surface) is None
    fainter = surface * 20 / 150
    t = _exposure(2) + fainter
    x = _mosaic(t)
    found, found_helped = find_films(x, x - fainter), find_films(x, x - fainter, explained=fainter)
    assert found is not None and found_helped is not None and found_helped.seams == found.seams == SEAMS_SORTED
    assert gain_error(found_helped) < 0.8 * gain_error(found)


def test_the_layer_and_the_corrected_x_ray_add_up_and_missing_stays_missing() -> None:
    x = _mosaic(_exposure())
    x[5:9, 40:60] = np.nan
    films = fit_films(x, SEAMS)
    total = films.corrected(x) + films.layer(x)
    np.testing.assert_allclose(total[np.isfinite(x)], x[np.isfinite(x)], rtol=0, atol=1e-3)
    assert np.isnan(films.layer(x)[5:9, 40:60]).all() and films.layer(x).dtype == np.float32
    # Hand-computed: the film (0, 0) stores 2·t + 10 → corrected (x − 10) / 2.
    one = Films((Seam("col", 2),), (0, 2), (0, 2, 4), np.array([[2.0, 1.0]]), np.array([[10.0, 0.0]]), (0.0,))
    np.testing.assert_allclose(one.corrected(np.array([[14.0, 30.0, 5.0, 6.0]] * 2)), [[2.0, 10.0, 5.0, 6.0]] * 2)
    with pytest.raises(ValueError, match="cover"):
        one.corrected(np.zeros((3, 4)))


def test_sharp_steps_across_the_painting_are_candidates_blurred_or_marginal_ones_are_not() -> None:
    rng = np.random.default_rng(1)
    x2 = ndimage.gaussian_filter(rng.standard_normal((HEIGHT, WIDTH)), 8) * 20 + rng.standard_normal((HEIGHT, WIDTH))
    sharp = x2.copy()
    sharp[:, 200:] += 6.0  # a film's step, the whole height
    sharp[100:, :] -= 5.0
    assert seam_candidates(sharp) == [Seam("col", 200), Seam("row", 100)]
    blurred = x2 + 6.0 * np.clip((np.arange(WIDTH) - 198) / 4, 0, 1)  # a hidden edge over four pixels
    assert seam_candidates(blurred) == []
    marginal = x2.copy()
    marginal[:, WIDTH - 20:] += 6.0  # a film 20 px wide: a frame's rabbet, not a film
    assert seam_candidates(marginal) == []
    unknown = sharp.copy()
    unknown[:, :150] = np.nan  # the painting's extent is where x2 is known: col 200 is 50 px from its edge
    assert Seam("col", 200) in seam_candidates(unknown)
    assert seam_candidates(np.zeros((10, 300))) == []
    # An exactly fitted image: x2's steps are rounding, and one of them stands out of the others.
    rounding = 1e-11 * rng.standard_normal((HEIGHT, WIDTH))
    rounding[:, 200:] += 1e-9
    assert seam_candidates(rounding) == [Seam("col", 200)]
    assert seam_candidates(rounding, smallest_step=1e-6) == []
    assert seam_candidates(sharp, smallest_step=1.0) == [Seam("col", 200), Seam("row", 100)]
    # Many straight steps (a painting's, or a tiled pattern's): none nearer a stronger one than the
    # narrowest film (12 % of the extent), so the films to fit stay few. Here every 10th column steps,
    # the strongest at 200: the candidates keep 43 columns (12 % of 360) apart.
    columns = np.arange(WIDTH)
    stepped = x2 + np.cumsum(np.isin(columns, np.arange(50, 320, 10)) * np.where(columns == 200, 9.0, 6.0))
    found = [seam.position for seam in seam_candidates(stepped) if seam.axis == "col"]
    assert 200 in found and len(found) <= 7 and min(np.diff(found)) >= 0.12 * WIDTH
    with pytest.raises(ValueError, match="2-D"):
        seam_candidates(np.zeros((3, 40, 40)))


def test_find_films_keeps_seams_the_exposures_explain_and_drops_a_hidden_edge() -> None:
    t = _exposure(2)
    x = _mosaic(t)
    # x2 as the fit would leave it: each film's share of the painting and the steps, no photograph's part.
    x2 = x - ndimage.gaussian_filter(t, 3)
    films = find_films(x, x2)
    assert films is not None and films.seams == tuple(sorted(SEAMS))
    # A bright hidden band with sharp edges over 60 % of the height: candidates, but no exposure explains them.
    hidden = t.copy()
    hidden[:144, 170:230] += 250
    x2_hidden = hidden - ndimage.gaussian_filter(t, 3)
    assert seam_candidates(x2_hidden)
    assert find_films(hidden, x2_hidden) is None
    # One inside the painting, with pixel-sharp edges: crossing candidates make it a film of its own,
    # but beside the rest of each line the films come out with one exposure: not a mosaic.
    inner = t.copy()
    inner[80:160, 120:240] += 250
    x2_inner = inner - ndimage.gaussian_filter(t, 3)
    assert len(seam_candidates(x2_inner)) == 4 and find_films(inner, x2_inner) is None
    with pytest.raises(ValueError, match="but x2 is"):
        find_films(x, x2[:-1])


def test_a_row_seam_too_faint_to_be_sought_is_found_where_the_column_seams_change(monkeypatch) -> None:
    from napari_xraysep.core import films as films_module

    t = _exposure(2)
    x = _mosaic(t)
    x2 = x - ndimage.gaussian_filter(t, 3)
    # The search sees the columns only (the row's step too seldom sharp): no films of one row explain
    # them — their steps change at row 110, where the row is found.
    columns_only = [seam for seam in seam_candidates(x2) if seam.axis == "col"]
    monkeypatch.setattr(films_module, "seam_candidates", lambda *args, **kwargs: list(columns_only))
    films = find_films(x, x2)
    assert films is not None and films.seams == SEAMS_SORTED
    np.testing.assert_allclose(films.gains / films.gains[0, 0], GAINS / GAINS[0, 0], rtol=0.01)
    # A whole painting's files, read a window at a time: the same row, each window read once.
    stored = SlicedOnly(x)
    assert find_films(stored, SlicedOnly(x2)).seams == SEAMS_SORTED
    assert sum(stored.reads) < 5 * x.size  # 9.5× if every trial read the seams' lines again
    # Films of one row only: the columns alone are explained, and no row is added.
    one_row = Films((Seam("col", 130), Seam("col", 250)), (0, HEIGHT), (0, 130, 250, WIDTH), GAINS[:1], OFFSETS[:1], ())
    x_row = one_row._per_pixel(GAINS[:1]) * t + one_row._per_pixel(OFFSETS[:1])
    columns_only = [Seam("col", 130), Seam("col", 250)]
    found = find_films(x_row, x_row - ndimage.gaussian_filter(t, 3))
    assert found is not None and found.seams == tuple(columns_only)


def test_a_column_seam_too_faint_to_be_sought_is_found_across_a_row_the_films_leave(monkeypatch) -> None:
    """A panel's grain along the columns hid a column seam (astronaut-over-rocket seed 1): the films of the
    other two seams leave most of the row's step, and every seam was dropped. The column is sought
    where the films explain the others best, placed where x2 steps sharply."""
    from napari_xraysep.core import films as films_module

    t = _exposure(2)
    gains = np.array([[0.94, 1.06, 1.0], [1.06, 0.94, 1.0]])  # the row's step changes sign at col 130
    films = Films(SEAMS, (0, 110, HEIGHT), (0, 130, 250, WIDTH), gains, OFFSETS, ())
    x = films._per_pixel(gains) * t + films._per_pixel(OFFSETS)
    x2 = x - ndimage.gaussian_filter(t, 3)
    hidden = [Seam("col", 250), Seam("row", 110)]  # col 130 not among the candidates
    monkeypatch.setattr(films_module, "seam_candidates", lambda *args, **kwargs: list(hidden))
    assert max(films_module._fit(x, hidden).step_left) > films_module.GRID_EXPLAINED  # the row would go
    found = find_films(x, x2)
    assert found is not None and found.seams == SEAMS_SORTED
    np.testing.assert_allclose(found.gains / found.gains[0, 0], gains / gains[0, 0], rtol=0.01)
    # A whole painting's files, read a window at a time: the same column.
    assert find_films(SlicedOnly(x), SlicedOnly(x2)).seams == SEAMS_SORTED
    # Where x2 shows no sharp step near where the films point (the column's step blurred away), no
    # column is made up: the films' fit alone has a broad minimum.
    blurred = x2.copy()
    blurred[:, 100:160] = ndimage.gaussian_filter1d(x2[:, 90:170], 4, axis=1)[:, 10:70]
    found = find_films(x, blurred)
    assert found is None or not any(seam.axis == "col" and 100 <= seam.position < 160 for seam in found.seams)


def test_no_row_seam_is_added_at_an_edge_of_the_surface_painting_that_x2_does_not_show(monkeypatch) -> None:
    from napari_xraysep.core import films as films_module

    # No mosaic (a fresh tester's case): a table's sharp edge across the surface painting (row 110; the
    # photograph explains it, x2 does not step there) and a hidden design's sharp edge down column 170
    # over the top rows (a column candidate that no films explain).
    t = _exposure(2)
    hidden = np.zeros_like(t)
    hidden[:100, 170:] += 120
    hidden = ndimage.gaussian_filter1d(hidden, 3, axis=0)
    surface = t.copy()
    surface[110:] += 150
    assert seam_candidates(hidden, 1.0) == [Seam("col", 170)]
    assert find_films(surface + hidden, hidden) is None
    # Let through (x2's step not asked for), the row goes with the column it was sought for.
    monkeypatch.setattr(films_module, "CROSSING_SHOWN", 0.0)
    assert find_films(surface + hidden, hidden) is None


def test_films_tied_to_no_other_or_with_odd_gains_are_not_fitted() -> None:
    x = _mosaic(_exposure())
    cut = x.copy()
    cut[:, 125:135] = np.nan  # nothing known across the seam at col 130: the left films float free
    assert fit_films(cut, [Seam("col", 130), Seam("col", 250)]) is None
    doubled = _exposure()
    doubled[:, 180:] *= 2.2  # not an exposure: a gain beyond 1.5
    assert fit_films(doubled, [Seam("col", 180)]) is None
    with pytest.raises(ValueError, match="outside"):
        fit_films(x, [Seam("row", HEIGHT - 1)])


def test_known_pixels_leave_out_infinities_and_an_empty_image_has_no_films() -> None:
    from napari_xraysep.core.films import KnownPixels

    x = np.array([[1.0, np.inf, -np.inf, np.nan, 2.0]])
    np.testing.assert_array_equal(KnownPixels(x)[:, :], [[1.0, np.nan, np.nan, np.nan, 2.0]])
    stored = np.array([[0, 7, 65535, 9]], dtype=np.uint16)  # an integer file's limits: clipped or padding
    np.testing.assert_array_equal(KnownPixels(stored)[:, :], [[np.nan, 7.0, np.nan, 9.0]])
    painting = np.array([[True, True, False, False]])  # inside, or (beyond) the film margin around it
    np.testing.assert_array_equal(KnownPixels(stored, painting)[:, :], [[np.nan, 7.0, np.nan, np.nan]])
    np.testing.assert_array_equal(KnownPixels(stored, painting, beyond=True)[:, :], [[np.nan, np.nan, np.nan, 9.0]])
    np.testing.assert_array_equal(KnownPixels(stored, painting).margin[:, :], [[np.nan, np.nan, np.nan, 9.0]])
    assert KnownPixels(stored).margin is None  # no painting's support: no margin beyond it
    assert find_films(np.zeros((0, 0)), np.zeros((0, 0))) is None
    # A mosaic with infinities on half its X-ray: the films are still found from the rest.
    mosaic = _mosaic(_exposure())
    broken = mosaic.copy()
    broken[:, :60] = np.inf
    known = KnownPixels(broken)[:, :]
    found = find_films(known, known - _exposure())
    assert found is not None and found.seams == SEAMS_SORTED


def test_seams_are_checked_as_the_user_gives_them() -> None:
    assert check_seams("auto", (100, 200)) is None and check_seams("none", (100, 200)) == ()
    assert check_seams([("col", 50), Seam("row", 40)], (100, 200)) == (Seam("col", 50), Seam("row", 40))
    cases = [
        ([("diagonal", 5)], "'row', N"), ([("col", "12")], "'row', N"),
        ("sometimes", "'auto'"), ([("row", 99)], "outside"), (None, "'auto'"), (0, "'auto'"),
    ]
    for bad, words in cases:
        with pytest.raises(InputError, match=words):
            check_seams(bad, (100, 200))


@functools.cache
def _separated(variant_name: str, seams="auto"):
    variant = make_real_variant("photo_coffee_over_astronaut", variant_name, 0)
    return variant, separate(variant.x_stored, variant.rgb_stored, seams=seams)


def _x2_psnr(variant, result) -> float:
    inside = scoring_mask(variant.painting, variant.x_stored, result.x2)
    return score_inside(result.x2, variant.x2_true, inside)["psnr_affine"]


def test_separate_finds_the_films_and_the_layers_add_up_to_the_x_ray() -> None:
    variant, result = _separated("mosaic")
    _, kept = _separated("mosaic", "none")
    true_seams = tuple(sorted(Seam(axis, position) for axis, position in variant.seams))
    assert result.films is not None and result.films.seams == true_seams
    layers = result.layers()
    assert list(layers)[-1] == "exposure" and np.isnan(layers["exposure"][np.isnan(result.x2)]).all()
    total = result.x1.astype(np.float64) + result.x2 + result.weave + result.exposure
    x = variant.x_stored.astype(np.float64)
    inside = np.isfinite(total) & ~result.defects.repaired
    np.testing.assert_allclose(total[inside], x[inside], rtol=0, atol=0.05)
    record = result.provenance()["films"]
    assert len(record["films"]) == 6 and [seam["position"] for seam in record["seams"]] == [125, 270, 108]
    assert any(line.startswith("A mosaic of 6 films") for line in result.notes())
    # The point of it (seed 0: 22.5 dB with the films' exposures in x2, 28.2 without; clean 28.3).
    assert kept.films is None and kept.exposure is None and "exposure" not in kept.layers()
    assert _x2_psnr(variant, result) > _x2_psnr(variant, kept) + 4.0
    assert result.timings["films_s"] >= 0


def test_given_seams_are_fitted_without_being_sought_and_a_painting_without_films_is_left_alone() -> None:
    _, given = _separated("mosaic", (("col", 125), ("row", 108)))
    assert given.films is not None and given.films.seams == (Seam("col", 125), Seam("row", 108))
    _, clean = _separated("clean")
    assert clean.films is None and clean.provenance()["films"] is None
    variant = make_real_variant("photo_coffee_over_astronaut", "clean", 0)
    x = variant.x_stored.astype(np.float32)
    x[:, 150:] *= 2.5  # no exposure: a gain beyond 1.5 is refused, and said
    with pytest.warns(UserWarning, match="could not be fitted"):
        unfitted = separate(x, variant.rgb_stored, seams=[("col", 150)])
    assert unfitted.films is None


@pytest.mark.parametrize("whole_painting", [False, True])
def test_the_cli_takes_seams_writes_the_exposure_layer_and_records_the_films(
    tmp_path, capsys, monkeypatch, whole_painting
) -> None:
    import tifffile

    from napari_xraysep.cli import main
    from napari_xraysep.core import areas

    if whole_painting:  # separated tile by tile: the seams are fitted over the whole X-ray read from its file
        monkeypatch.setattr(areas, "LARGE_IMAGE_PIXELS", 1000)
    variant = make_real_variant("photo_coffee_over_astronaut", "mosaic", 0)
    tifffile.imwrite(tmp_path / "x.tif", variant.x_stored)
    tifffile.imwrite(tmp_path / "rgb.tif", variant.rgb_stored)
    args = ["separate", str(tmp_path / "x.tif"), str(tmp_path / "rgb.tif"), "--out", str(tmp_path / "out")]
    assert main([*args, "--seams", "col:125,col:270,row:108"]) == 0
    said = capsys.readouterr().err
    assert "A mosaic of 6 films" in said and "exposure" in said
    record = json.loads((tmp_path / "out" / "run.json").read_text())
    assert record["inputs"]["seams"] == ["col:125", "col:270", "row:108"] and len(record["films"]["films"]) == 6
    assert "exposure.tif" in record["outputs"]
    assert tifffile.imread(tmp_path / "out" / "exposure.tif").shape == variant.x_stored.shape
    with pytest.raises(SystemExit) as exit_:
        main([*args, "--overwrite", "--seams", "col:12x"])
    assert exit_.value.code == 2 and "row:N,col:N" in capsys.readouterr().err


def test_a_whole_painting_takes_given_seams_tile_by_tile(tmp_path, monkeypatch) -> None:
    import tifffile

    from napari_xraysep.core import areas
    from napari_xraysep.core.progress import drive
    from napari_xraysep.core.sources import Sources
    from napari_xraysep.pipeline import iter_run

    monkeypatch.setattr(areas, "LARGE_IMAGE_PIXELS", 1000)  # this 256×384 mosaic is a whole painting
    variant = make_real_variant("photo_coffee_over_astronaut", "mosaic", 0)
    seams = [("col", 125), ("col", 270), ("row", 108)]
    sources = Sources(variant.x_stored, variant.rgb_stored)
    result = drive(iter_run(sources, out=tmp_path / "out", seams=seams, tile_size=128))
    assert result.films is not None and result.films.given and len(result.films.gains.ravel()) == 6
    assert any("A mosaic of 6 films" in line for line in result.notes())
    layers = {name: tifffile.imread(path) for name, path in result.paths.items()}
    assert "exposure" in layers
    # Tile by tile, the layers add up to the X-ray as stored (but for the few pixels repaired as defects:
    # a stretch of this seam passes for a scratch).
    total = layers["x1"].astype(np.float64) + layers["x2"] + layers["weave"] + layers["exposure"]
    inside = np.isfinite(total)
    assert inside.mean() > 0.9
    assert np.mean(np.abs(total[inside] - variant.x_stored[inside]) < 0.05) > 0.999
    repaired = result.marked["scratch_pixels"] + result.marked["hot_dead_pixels"]
    assert repaired >= np.sum(np.abs(total[inside] - variant.x_stored[inside]) >= 0.05)
    # As good as the same seams in memory, and better than leaving the films in x2.
    in_memory = separate(variant.x_stored, variant.rgb_stored, seams=seams)
    as_it_is = separate(variant.x_stored, variant.rgb_stored, seams="none")
    mask = scoring_mask(variant.painting, variant.x_stored, layers["x2"])
    painting = score_inside(layers["x2"], variant.x2_true, mask)["psnr_affine"]
    assert painting > _x2_psnr(variant, in_memory) - 0.5 and painting > _x2_psnr(variant, as_it_is) + 0.3
    record = json.loads((tmp_path / "out" / "run.json").read_text())
    assert len(record["films"]["films"]) == 6 and len(record["films"]["seams"]) == 3


def test_the_napari_layers_show_the_exposure_around_zero() -> None:
    from napari_xraysep.plugin.layers import result_layer_data

    _, result = _separated("mosaic")
    layers = {kwargs["metadata"]["xraysep"]["layer"]: kwargs for _, kwargs, _ in result_layer_data(result, "x", 1)}
    low, high = layers["exposure"]["contrast_limits"]
    assert low == -high and high > 0 and layers["exposure"]["name"].startswith("exposure")


def test_a_seam_with_no_step_leaves_the_other_films_of_a_long_mosaic_be() -> None:
    # Six films along the columns, 60 px each; films 2 and 3 share their exposure, so the seam between
    # them shows no step: the grid found has one film twice as wide, and the others are kept.
    t = _exposure(3)
    positions = (60, 120, 180, 240, 300)
    gains = np.array([[0.95, 1.05, 0.97, 0.97, 1.04, 0.98]])
    offsets = np.array([[20.0, -30.0, 10.0, 10.0, -25.0, 15.0]])
    films = Films(tuple(Seam("col", p) for p in positions), (0, HEIGHT), (0, *positions, WIDTH), gains, offsets, ())
    x = films._per_pixel(gains) * t + films._per_pixel(offsets)
    found = find_films(x, x - ndimage.gaussian_filter(t, 3))
    assert found is not None and found.seams == tuple(Seam("col", p) for p in (60, 120, 240, 300))


def test_clipped_pixels_stay_marked_when_the_films_are_taken_out() -> None:
    variant = make_real_variant("photo_coffee_over_astronaut", "clipping", 0)
    plain = separate(variant.x_stored, variant.rgb_stored, seams="none")
    with pytest.warns(UserWarning, match="across col 190"):  # no step there: said, and kept as given
        given = separate(variant.x_stored, variant.rgb_stored, seams=[("col", 190)])
    assert given.films is not None and plain.defects.clipped.sum() > 1000
    assert given.defects.summary() == plain.defects.summary()
    np.testing.assert_array_equal(np.isnan(given.x2), np.isnan(plain.x2))


def test_given_seams_are_said_to_be_given_and_a_misplaced_one_is_warned_about() -> None:
    variant = make_real_variant("photo_coffee_over_astronaut", "mosaic", 0)
    with pytest.warns(UserWarning, match="do not explain the X-ray's levels across col 128"):
        result = separate(variant.x_stored, variant.rgb_stored, seams=[("col", 128), ("col", 270), ("row", 108)])
    assert result.films.given and "films given (seams at" in result.films.describe()
    # numpy integers are pixel indices too, and the record stays JSON (the row seam missing: said).
    positions = np.array([125, 270])
    with pytest.warns(UserWarning, match="across col 125, col 270"):
        record = separate(variant.x_stored, variant.rgb_stored, seams=[("col", p) for p in positions]).provenance()
    assert json.loads(json.dumps(record))["films"]["seams"][0]["position"] == 125
    with pytest.raises(InputError, match="a list of seams"):
        separate(variant.x_stored, variant.rgb_stored, seams=("col", 125))


def test_a_film_seam_is_no_scratch() -> None:
    from napari_xraysep.core.defects import find_defects

    # This corner of the mosaic (as a whole painting's tile reads it) has the seam at column 125: a
    # one-pixel step, whose column beyond dips back and whose column before does not.
    variant = make_real_variant("photo_coffee_over_astronaut", "mosaic", 0)
    corner = (slice(0, 190), slice(0, 190))
    assert not find_defects(variant.x_stored[corner], None, variant.rgb_stored[corner]).scratches[:, 124:127].any()


@pytest.mark.parametrize("seed", [1, 2])
def test_once_the_films_are_known_their_seams_are_not_taken_for_scratches(seed: int, tmp_path, monkeypatch) -> None:
    """As stored, these mosaics' seams read as scratches (40 and 101 px within 3 px of a seam, counted
    as 1 and 2 scratches, repaired); sought again in one exposure, none — the clipped pixels the same,
    found in the values as stored — and a separation (in memory, and tile by tile) marks none there."""
    from napari_xraysep.core.defects import find_defects
    from napari_xraysep.core.films import KnownPixels

    variant = make_real_variant("photo_coffee_over_astronaut", "mosaic", seed)
    x = variant.x_stored.copy()
    x[5:9, 30:60] = 65535  # clipped lead
    near = np.zeros(x.shape, dtype=bool)
    for axis, position in variant.seams:
        near[(slice(position - 3, position + 3), slice(None))[:: 1 if axis == "row" else -1]] = True
    films = fit_films(KnownPixels(x)[:, :], [Seam(a, p) for a, p in variant.seams], given=True)
    stored, one = find_defects(x), find_defects(x, one_exposure=films.corrected(x))
    assert (stored.scratches & near).sum() >= 40 and stored.scratch_count >= 1
    assert not (one.scratches & near).any() and one.scratch_count == 0
    np.testing.assert_array_equal(one.clipped, stored.clipped)
    assert (one.clipped_high, one.clipped_low) == (stored.clipped_high, 0) and stored.clipped_high == 120
    result = separate(x, variant.rgb_stored)
    assert result.films is not None and not (result.defects.scratches & near).any()
    assert result.defects.clipped_high == 120 and np.isnan(result.x2[5:9, 30:60]).all()
    # Tile by tile (a whole painting), the second pass with the films taken out marks none either.
    from napari_xraysep.core import areas
    from napari_xraysep.core.progress import drive
    from napari_xraysep.core.sources import Sources
    from napari_xraysep.pipeline import iter_run

    monkeypatch.setattr(areas, "LARGE_IMAGE_PIXELS", 1000)
    sources = Sources(x, variant.rgb_stored)
    found = drive(iter_run(sources, out=tmp_path / "found", tile_size=128))
    left = drive(iter_run(sources, out=tmp_path / "left", tile_size=128, seams="none"))
    assert found.films is not None and left.films is None
    assert left.marked["scratch_pixels"] >= 40 and found.marked["scratch_pixels"] == 0
    assert found.marked["clipped_pixels"] == left.marked["clipped_pixels"] == 120


def test_given_seams_a_pixel_or_two_off_are_moved_to_where_the_x_ray_steps() -> None:
    variant = make_real_variant("photo_coffee_over_astronaut", "mosaic", 0)
    x = variant.x_stored.astype(np.float64)
    from napari_xraysep.core.films import snapped

    for axis, position in variant.seams:
        for off in (-2, -1, 1, 2):
            assert snapped(x, Seam(axis, position + off)) == Seam(axis, position)
        assert snapped(x, Seam(axis, position)) == Seam(axis, position)
    right = separate(variant.x_stored, variant.rgb_stored, seams=list(variant.seams))
    with pytest.warns(UserWarning, match="moved to where the X-ray steps: row 109 to row 108, col 126 to col 125"):
        off = separate(variant.x_stored, variant.rgb_stored, seams=[(a, p + 1) for a, p in variant.seams])
    assert off.films.seams == right.films.seams
    np.testing.assert_allclose(off.x2, right.x2, rtol=0, atol=1e-3 * float(np.nanstd(right.x2)))


def test_a_whole_paintings_films_are_fitted_on_measured_pixels_read_a_strip_at_a_time(monkeypatch) -> None:
    from napari_xraysep.core import films as films_module
    from napari_xraysep.core.films import KnownPixels, given_films

    monkeypatch.setattr(films_module, "STRIP_PIXELS", 384 * 40)
    variant = make_real_variant("photo_coffee_over_astronaut", "mosaic", 0)
    x = variant.x_stored.copy()
    x[20:60, 123:128] = 65535  # clipped lead across a seam
    seams = [Seam(a, p) for a, p in variant.seams]
    stored = SlicedOnly(x)
    whole = given_films(KnownPixels(stored, variant.painting), seams)
    assert max(stored.reads) <= 384 * 40
    known = np.where((x < 65535) & variant.painting, x.astype(np.float64), np.nan)
    in_memory = fit_films(known, seams, given=True)
    np.testing.assert_allclose(whole.gains, in_memory.gains, rtol=1e-9)
    np.testing.assert_allclose(whole.offsets, in_memory.offsets, rtol=1e-9, atol=1e-6)


def test_apply_takes_given_seams_tile_by_tile(tmp_path, capsys) -> None:
    import tifffile

    from napari_xraysep.cli import main

    variant = make_real_variant("photo_coffee_over_astronaut", "mosaic", 0)
    tifffile.imwrite(tmp_path / "x.tif", variant.x_stored)
    tifffile.imwrite(tmp_path / "rgb.tif", variant.rgb_stored)
    pair = [str(tmp_path / "x.tif"), str(tmp_path / "rgb.tif")]
    assert main(["separate", *pair, "--out", str(tmp_path / "fit"), "--seams", "none", "--quiet"]) == 0
    model = str(tmp_path / "fit" / "model.pt")
    assert main(["apply", model, *pair, "--out", str(tmp_path / "out"), "--seams", "col:125,col:270,row:108", "--tile", "128"]) == 0
    said = capsys.readouterr().err
    assert "A mosaic of 6 films given" in said and "exposure" in said.splitlines()[-1]
    record = json.loads((tmp_path / "out" / "run.json").read_text())
    assert record["inputs"]["seams"] == ["col:125", "col:270", "row:108"] and len(record["films"]["films"]) == 6
    layers = {name: tifffile.imread(tmp_path / "out" / f"{name}.tif") for name in ("x1", "x2", "weave", "exposure")}
    total = layers["x1"].astype(np.float64) + layers["x2"] + layers["weave"] + layers["exposure"]
    inside = np.isfinite(total)
    assert inside.mean() > 0.9 and np.mean(np.abs(total[inside] - variant.x_stored[inside]) < 0.05) > 0.999
    for extra in (["--seams", "col:125", "--dask"], ["--seams", "auto", "--dask"]):
        assert main(["apply", model, *pair, "--out", str(tmp_path / "again"), "--overwrite", *extra]) == 2
        assert "not with --dask" in capsys.readouterr().err
    # Sought in the x2 written (then applied again), by default as `separate` seeks them: the same three seams.
    assert main(["apply", model, *pair, "--out", str(tmp_path / "sought"), "--tile", "128"]) == 0
    assert "A mosaic of 6 films found in the X-ray" in capsys.readouterr().err
    assert (tmp_path / "sought" / "exposure.tif").exists()
    assert main(["apply", model, *pair, "--out", str(tmp_path / "no-x2"), "--seams", "auto", "--layers", "weave"]) == 2
    assert "keep x2 among --layers" in capsys.readouterr().err
    # Not asked for, they are not sought where they cannot be: without x2 written, or with --dask.
    assert main(["apply", model, *pair, "--out", str(tmp_path / "weave-only"), "--layers", "weave"]) == 0
    assert json.loads((tmp_path / "weave-only" / "run.json").read_text())["inputs"]["seams"] == []
    record = json.loads((tmp_path / "sought" / "run.json").read_text())
    assert record["inputs"]["seams"] == "auto"
    found = [(seam["axis"], seam["position"]) for seam in record["films"]["seams"]]
    assert found == [("col", 125), ("col", 270), ("row", 108)]


def test_a_whole_painting_seeks_its_films_in_its_x2_and_applies_again(tmp_path, monkeypatch) -> None:
    from napari_xraysep.core import areas
    from napari_xraysep.core.progress import drive
    from napari_xraysep.core.result import RESULT_LAYERS
    from napari_xraysep.core.sources import Sources
    from napari_xraysep.pipeline import iter_run

    monkeypatch.setattr(areas, "LARGE_IMAGE_PIXELS", 1000)  # these 256×384 files are whole paintings
    variant = make_real_variant("photo_coffee_over_astronaut", "mosaic", 0)
    sources = Sources(variant.x_stored, variant.rgb_stored)
    found = drive(iter_run(sources, out=tmp_path / "found", tile_size=128))  # seams "auto", the default
    assert found.films is not None and not found.films.given
    assert found.films.seams == tuple(sorted(Seam(axis, position) for axis, position in variant.seams))
    assert any("A mosaic of 6 films found in the X-ray" in line for line in found.notes())
    # The area is trained without seams either way: the runs below apply the same model, untrained.
    applied = {"model": found.model, "steps": 0, "tile_size": 128}
    left = drive(iter_run(sources, out=tmp_path / "left", seams="none", **applied))
    assert left.films is None

    def x2_psnr(result) -> float:
        import tifffile

        x2 = tifffile.imread(result.paths["x2"])
        return score_inside(x2, variant.x2_true, scoring_mask(variant.painting, variant.x_stored, x2))["psnr_affine"]

    assert x2_psnr(found) > x2_psnr(left) + 0.3
    # Stopped in the second pass: nothing written, and no films said to be taken out.
    events, stop = [], threading.Event()

    def stop_in_the_second_pass(event) -> None:
        events.append(event)
        if getattr(event, "what", "") == "whole painting, films taken out" and event.done == 2:
            stop.set()

    stopped = drive(iter_run(sources, out=tmp_path / "stopped", stop=stop, **applied), stop_in_the_second_pass)
    assert stopped.paths is None and stopped.films is None
    assert json.loads((tmp_path / "stopped" / "run.json").read_text())["films"] is None
    tiles = [event for event in events if hasattr(event, "what")]
    assert [event.what for event in tiles].count("whole painting") == 6  # 256×384 in tiles of 128
    # Stopped after the first pass's last tile: that pass is kept, the films left in (not sought).
    stop.clear()

    def stop_at_the_last_tile(event) -> None:
        if getattr(event, "what", "") == "whole painting" and event.done == event.total:
            stop.set()

    kept = drive(iter_run(sources, out=tmp_path / "kept", stop=stop, **applied), stop_at_the_last_tile)
    assert kept.paths is not None and kept.films is None and "exposure" not in kept.paths
    record = json.loads((tmp_path / "found" / "run.json").read_text())
    assert len(record["films"]["films"]) == 6 and sorted(found.paths) == sorted([*RESULT_LAYERS, "exposure"])
    # Paintings without films: none found (the rocket's gantry and the stretcher's bars are straight).
    for case, kind in (("photo_astronaut_over_rocket", "clean"), ("photo_coffee_over_astronaut", "stretcher")):
        other = make_real_variant(case, kind, 0)
        none = drive(iter_run(Sources(other.x_stored, other.rgb_stored), out=tmp_path / kind, tile_size=128))
        assert none.films is None, kind
    # A hidden design's straight edge the painting's full height: no seam, for the film margin around the
    # painting (its area given) does not step there.
    edge = make_real_variant("photo_astronaut_over_rocket", "backdrop", 4)
    sources = Sources(edge.x_stored, edge.rgb_stored)
    assert drive(iter_run(sources, out=tmp_path / "edge", tile_size=128, painting_area=edge.painting)).films is None


def test_the_seam_search_reads_a_whole_painting_a_window_at_a_time(monkeypatch) -> None:
    from napari_xraysep.core import films as films_module
    from napari_xraysep.core.films import KnownPixels

    monkeypatch.setattr(films_module, "WINDOW_PIXELS", 16 * 50)
    monkeypatch.setattr(films_module, "STRIP_PIXELS", 384 * 40)
    variant = make_real_variant("photo_rocket_over_chelsea", "mosaic", 2)
    x2 = separate(variant.x_stored, variant.rgb_stored, seams="none").x2
    stored, written = SlicedOnly(variant.x_stored), SlicedOnly(x2)
    whole = find_films(KnownPixels(stored, variant.painting), written)
    assert max(stored.reads) <= 384 * 40 and max(written.reads) <= 16 * 50
    # Once over (the films' sums), a sixteenth for its range, and the lines beside each seam once:
    # every set of seams tried read them again, and the range its own whole pass (2.25×).
    assert sum(stored.reads) <= 1.2 * variant.x_stored.size
    in_memory = find_films(KnownPixels(variant.x_stored, variant.painting)[:, :], x2)
    assert whole is not None and whole.seams == (Seam("col", 140), Seam("col", 249), Seam("row", 110))
    assert in_memory.seams == whole.seams
    np.testing.assert_array_equal(whole.gains, in_memory.gains)


def test_a_seam_must_step_beyond_the_painting_where_the_film_margin_was_measured() -> None:
    rng = np.random.default_rng(3)
    painting = np.zeros((HEIGHT, WIDTH), bool)
    painting[30:210, 40:320] = True
    t = np.where(painting, _exposure(), 200 + 5 * rng.standard_normal((HEIGHT, WIDTH)))  # the margin: little exposure
    # Films across the whole X-ray, margin included: their seams step there too, and are kept.
    x = _mosaic(t)
    inside, outside = np.where(painting, x, np.nan), np.where(painting, np.nan, x)
    found = find_films(inside, np.where(painting, x - t, np.nan), beyond=outside)
    assert found is not None and found.seams == SEAMS_SORTED
    # One film, and a straight edge the painting's full height (a hidden design's, pixel-sharp): inside
    # the painting a gain and an offset explain it, but the margin does not step.
    edge = t + np.where(painting & (np.arange(WIDTH) >= 180), 120.0, 0.0)
    inside, outside = np.where(painting, edge, np.nan), np.where(painting, np.nan, edge)
    hidden = np.where(painting, edge - t, np.nan)
    assert find_films(inside, hidden) is not None  # taken for films without the margin
    assert find_films(inside, hidden, beyond=outside) is None


def test_a_stuck_pixel_beside_a_photograph_speck_is_repaired_when_the_films_are_taken_out() -> None:
    """The films' second search for points kept the photograph's veto: a stuck pixel beside a speck
    would be neither clipped nor repaired there — a spike in x2."""
    variant = make_real_variant("photo_coffee_over_astronaut", "mosaic", 0)
    x, rgb = variant.x_stored.copy(), variant.rgb_stored.copy()
    x[150, 200], rgb[150, 200] = 65535, 255  # a hot pixel under a bright speck of the photograph
    result = separate(x, rgb)
    assert result.films is not None and result.defects.points[150, 200] and not result.defects.clipped[150, 200]
    neighbours = result.x2[149:152, 199:202].copy()
    neighbours[1, 1] = np.nan
    # No spike: not above its neighbours (the photograph's own speck may lower x1's prediction there).
    assert result.x2[150, 200] < np.nanmax(neighbours) + 0.05 * np.nanmax(np.abs(result.x2))


def test_a_mosaic_on_its_film_margin_keeps_its_seams() -> None:
    """The margin's step is data in the films' fit, not a check against the step the painting's fit
    predicts there: carried from the painting's levels down to the fog's, a gain 0.6 % off moved it by
    more than a true seam's offset step (this mosaic: none of its three seams kept)."""
    from napari_xraysep.datasets import synthetic_real
    from napari_xraysep.datasets.real_frame import DETECTOR_MAX, FOG, Frame
    from napari_xraysep.datasets.synthetic_photos import make_photo_mixture

    mixture = make_photo_mixture("photo_chelsea_over_motorcycle", (256, 384), 0)
    frame = Frame(mixture, (0.85 * DETECTOR_MAX - FOG) / float(np.clip(mixture.x_mixed, 0, None).max()),
                  np.random.default_rng([0, 7000]))
    synthetic_real._backdrop(frame)  # the painting on its film margin
    synthetic_real._mosaic(frame)  # 2 × 3 films across the whole X-ray, margin included
    variant = frame.result("mosaic")
    x = variant.x_stored.astype(np.float64)
    inside, outside = np.where(variant.painting, x, np.nan), np.where(variant.painting, np.nan, x)
    # x2 as a photograph that explains the surface painting exactly leaves it: the hidden one and the films
    x2 = np.where(variant.painting, x - FOG - variant.gain * np.nan_to_num(variant.x1_true), np.nan)
    found = find_films(inside, x2, beyond=outside)
    assert found is not None
    assert found.seams == tuple(sorted(Seam(axis, position) for axis, position in variant.seams))


def test_a_mosaic_s_film_margin_at_each_film_s_own_offset_is_left_out_of_the_painting() -> None:
    """Each film of a mosaic holds the film margin at its own offset: the margin's level is judged
    against the frame's edge nearest to it, not against one level for the whole frame (this mosaic: a
    film's margin 2000 counts above the median margin's was taken for painting, 28 392 px, and its
    edges for seams: none of the three seams kept). Its clipped pixels (a film's margin stored below
    the fog's level) are no edge of the frame."""
    from napari_xraysep.core.support import detect_support

    variant = make_real_variant("photo_coffee_over_astronaut", "mosaic_backdrop", 1)
    stored = variant.x_stored
    support = detect_support(stored.astype(np.float64), (stored != 0) & (stored != 65535))
    assert (support.mask & ~variant.painting).sum() < 0.005 * variant.painting.sum()
    assert (variant.painting & ~support.mask).sum() == 0
    result = separate(stored, variant.rgb_stored)
    assert result.films is not None
    assert result.films.seams == tuple(sorted(Seam(axis, position) for axis, position in variant.seams))


def test_a_seam_beside_a_busy_surface_is_judged_without_what_the_photograph_explains() -> None:
    """A film's seam across a busy surface steps by the painting's own content too, which no exposure
    takes away: measured on the X-ray alone, this mosaic's true seams kept 1.03, 0.66 and 0.92 of their
    step after correction and all three were dropped (x2 −3.8 dB against clean). With what the
    photograph explains taken out of the step too (the smaller share counts), they leave 0.58, 0.36
    and 0.26, and are kept."""
    variant = make_real_variant("photo_rocket_over_chelsea", "mosaic_backdrop", 2)
    result = separate(variant.x_stored, variant.rgb_stored)
    assert result.films is not None
    assert result.films.seams == tuple(sorted(Seam(axis, position) for axis, position in variant.seams))
    assert max(result.films.step_left) <= 0.6


def test_given_seams_are_fitted_with_the_film_margins_runs_too() -> None:
    """The user's seams on a mosaic on its film margin: the margin's runs across them pin the films'
    offsets, as for the seams found (fitted on the painting alone, one film's gain came out 0.845
    against a true 0.987, and x2 was worse than with the seams the search finds: 27.10 dB, now 28.70)."""
    variant = make_real_variant("photo_astronaut_over_rocket", "mosaic_backdrop", 0)
    given = [Seam(axis, position) for axis, position in variant.seams]
    result = separate(variant.x_stored, variant.rgb_stored, seams=given)
    assert result.films is not None and result.films.given
    scored = score_inside(result.x2, variant.x2_true, scoring_mask(variant.painting, variant.x_stored, result.x2))
    assert scored["psnr_affine"] > 28.3


@pytest.mark.parametrize("sides", [("top",), ("top", "bottom"), ("left", "top", "right")])
def test_a_painting_cut_by_the_frame_s_edge_keeps_its_flat_passages_there(sides) -> None:
    """The margin's level is the nearest flat edge's, but a painting that reaches the frame's edge has
    flat passages of its own there: they set no margin level (painting at 18 000 counts, the margin at
    2000, was cut out as margin: 3100 px of this painting lost, its x2 NaN)."""
    variant = make_real_variant("photo_coffee_over_astronaut", "backdrop", 0)
    rows, cols = np.flatnonzero(variant.painting.any(1)), np.flatnonzero(variant.painting.any(0))
    r0 = rows[0] + 3 if "top" in sides else 0
    r1 = rows[-1] - 2 if "bottom" in sides else None
    c0 = cols[0] + 3 if "left" in sides else 0
    c1 = cols[-1] - 2 if "right" in sides else None
    stored, painting = variant.x_stored[r0:r1, c0:c1], variant.painting[r0:r1, c0:c1]
    support = detect_support(stored.astype(np.float64), (stored != 0) & (stored != 65535))
    assert (painting & ~support.mask).sum() == 0
    assert (support.mask & ~painting).sum() < 0.005 * painting.sum()


def test_a_given_seam_where_nothing_is_known_stays_where_given_and_says_no_numpy_warning() -> None:
    """A given seam across unknown pixels alone (the film margin, outside the painting) has no step to
    snap to: it was moved SNAP px up or left (every step 0, the first 'clearly' largest), said as 'moved
    to where the X-ray steps'; and a seam across the margin alone leaked numpy's 'Mean of empty slice'."""
    x = np.full((64, 80), np.nan)
    x[30:, :] = 1000.0
    assert snapped(x, Seam("row", 10)) == Seam("row", 10)
    variant = make_real_variant("photo_coffee_over_astronaut", "mosaic_backdrop", 1)
    stored = variant.x_stored
    support = detect_support(stored.astype(np.float64), (stored != 0) & (stored != 65535))
    known = KnownPixels(stored, support.mask)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        given_films(known, [Seam("row", 3)], beyond=known.margin)
    assert not [w for w in caught if issubclass(w.category, RuntimeWarning)]
    assert not [w for w in caught if "moved" in str(w.message)]


def test_given_seams_with_a_film_over_the_margin_alone_are_fitted_not_all_refused() -> None:
    """A film holding only film margin (no pixel of the painting) was 'tied to no other': every given
    seam was refused and the mosaic separated as it was (24.90 dB against 28.44 with the films out).
    Its gain is held at 1, its offset follows the margin; its seam, with nothing of the painting beside
    it, is not said to be unexplained."""
    variant = make_real_variant("photo_coffee_over_astronaut", "backdrop", 0)
    x = variant.x_stored.astype(np.float64)
    top, left, height, width = variant.box
    seams = [Seam("col", left - 20), Seam("col", left + width // 2), Seam("row", top + height // 2)]
    span = float(np.subtract(*np.percentile(x[variant.painting], [99, 1])))
    rng = np.random.default_rng(3)
    for rows in ((0, seams[2].position), (seams[2].position, x.shape[0])):
        for cols in ((0, seams[0].position), (seams[0].position, seams[1].position), (seams[1].position, x.shape[1])):
            film = (slice(*rows), slice(*cols))
            x[film] = 2000 + rng.uniform(0.95, 1.05) * (x[film] - 2000) + rng.uniform(-0.03, 0.03) * span
    stored = np.clip(np.round(x), 1, 65534).astype(np.uint16)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        result = separate(stored, variant.rgb_stored, seams=seams)
    assert not [w for w in caught if "film" in str(w.message)], [str(w.message) for w in caught]
    assert result.films is not None and result.films.seams == tuple(sorted(seams))
    assert np.all(result.films.gains[:, 0] == pytest.approx(1.0, abs=1e-6))  # the margin's films
    assert np.isnan(result.films.step_left[0]) and max(result.films.step_left[1:]) < 0.2
    scored = score_inside(result.x2, variant.x2_true, scoring_mask(variant.painting, stored, result.x2))
    assert scored["psnr_affine"] > 28.0


def test_given_seams_all_on_the_film_margin_leave_the_painting_s_one_film_as_it_is() -> None:
    """A breaker's finding: every given seam on the margin, so one film holds the whole painting and the
    others margin alone: nothing tied the painting's film to another, and all were refused."""
    variant = make_real_variant("photo_coffee_over_astronaut", "backdrop", 0)
    top, left, height, width = variant.box
    seams = [Seam("col", left - 20), Seam("col", left + width + 20), Seam("row", top + height + 10)]
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        result = separate(variant.x_stored, variant.rgb_stored, seams=seams)
    assert not [w for w in caught if "could not be fitted" in str(w.message)]
    assert result.films is not None and np.allclose(result.films.gains, 1.0, atol=0.05)


def test_films_with_offsets_far_from_the_others_are_no_exposures():
    """A new user's whole painting (one exposure; a tiled pattern's straight edges across the frame) was
    said to be a mosaic of 4 films with offsets of −39 666 to +29 277 counts on a range of ~50 000, and x2
    came out in bands. An offset that far from the others' is no film's."""
    from napari_xraysep.core.films import OFFSETS, odd_films

    def films(offsets):
        seams = (Seam("row", 64), Seam("row", 128))
        return Films(seams, (0, 64, 128, 192), (0, 96), np.ones((3, 1)), np.array(offsets, float)[:, None], (0.0, 0.0))

    levels = (1000.0, 51000.0)  # a range of 50 000
    assert not odd_films(films([0.0, 500.0, 0.9 * OFFSETS * 50_000]), levels).any()
    assert odd_films(films([0.0, 500.0, 1.1 * OFFSETS * 50_000]), levels).ravel().tolist() == [False, False, True]
    # Bands of the design across the frame, each at its own level, read as films no more.
    rng = np.random.default_rng(0)
    x = 20_000 + 3_000 * ndimage.gaussian_filter(rng.normal(size=(192, 256)), 3)
    for top, level in ((64, 25_000.0), (128, -18_000.0)):
        x[top:] += level
    assert find_films(x, x.copy()) is None
