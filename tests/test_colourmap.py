"""The colour map (the default method): known answers for its fit and its pieces."""

import numpy as np
import pytest
import torch
from scipy import ndimage

from napari_xraysep import ColourMapSettings, separate
from napari_xraysep.core.colourmap import (
    TABLE_LEVELS,
    ColourMap,
    ColourTable,
    polynomial_exponents,
    with_colour_table,
)
from napari_xraysep.core.colourmap_solve import (
    ROBUST_SCALE_FLOOR,
    TUKEY_C,
    column_energy,
    fit_colour_map,
    regional_weights,
    robust_scale,
    tukey_weights,
    weighted_least_squares,
)
from napari_xraysep.core.data import Normalisation
from napari_xraysep.datasets.evaluation import least_squares_separation, score


def known_map(rgb: np.ndarray) -> np.ndarray:
    """A nonlinear per-pixel colour → X-ray map (no polynomial of low degree is it)."""
    r, g, b = rgb[..., 0], rgb[..., 1], rgb[..., 2]
    return 0.9 * r**2 + 0.5 * np.sin(3 * g) + 0.4 * r * b + 0.2 * b


def patchwork(rng: np.random.Generator, shape: tuple[int, int], cell: int = 8) -> np.ndarray:
    """A photograph of soft-edged patches of random colours, with some texture: (H, W, 3) in [0, 1]."""
    blocks = rng.random((-(-shape[0] // cell), -(-shape[1] // cell), 3))
    rgb = ndimage.gaussian_filter(np.kron(blocks, np.ones((cell, cell, 1)))[: shape[0], : shape[1]], (1.5, 1.5, 0))
    return np.clip(rgb + 0.04 * rng.standard_normal((*shape, 3)), 0, 1).astype(np.float32)


def hidden_design(shape: tuple[int, int]) -> np.ndarray:
    """Soft shapes and a ring, unrelated to any photograph: an abandoned composition's X-ray."""
    yy, xx = np.mgrid[0 : shape[0], 0 : shape[1]] / max(shape)
    design = 0.5 / (1 + np.exp((np.hypot(yy - 0.3, xx - 0.35) - 0.15) / 0.01))
    design += 0.3 * np.exp(-((np.hypot(yy - 0.5, xx - 0.9) - 0.12) ** 2) / 0.0008)
    design += 0.4 / (1 + np.exp(-(yy - 0.45 - 0.1 * np.sin(9 * xx)) / 0.01))
    return design


def test_the_robust_fit_recovers_a_nonlinear_map_when_a_third_carries_a_strong_second_layer(rng):
    shape = (96, 144)
    rgb = patchwork(rng, shape)
    truth = known_map(rgb.astype(np.float64))
    yy, xx = np.mgrid[0 : shape[0], 0 : shape[1]]
    second = np.zeros(shape)
    third = (slice(None), slice(0, shape[1] // 3))
    second[third] = 0.6 * ((np.sin(xx[third] / 3.0) > 0) ^ (np.cos(yy[third] / 4.0) > 0))  # strong edges
    result = separate((truth + second).astype(np.float32), rgb, device="cpu", weave=False, psf_radius=0)
    error = result.x1_hat - truth
    relative = np.sqrt(np.mean((error - error.mean()) ** 2)) / truth.std()
    cubic, _ = least_squares_separation(truth + second, rgb, degree=3)
    cubic_error = cubic - truth
    assert relative < 0.03  # 1.2 % measured
    assert relative < 0.2 * np.sqrt(np.mean((cubic_error - cubic_error.mean()) ** 2)) / truth.std()  # cubic LS: 11 %


def test_an_exactly_separable_mixture_is_separated_to_35_db(rng):
    shape = (128, 160)
    rgb = patchwork(rng, shape, cell=10)
    x1 = ndimage.gaussian_filter(known_map(rgb.astype(np.float64)), 0.8)  # the X-ray's blur
    x2 = hidden_design(shape)
    result = separate((x1 + x2).astype(np.float32), rgb, device="cpu")
    assert score(result.x2, x2)["psnr_affine"] >= 35.0
    assert score(result.x1, x1)["psnr_affine"] >= 35.0
    assert int(result.model.network.peaks) == 0  # there is no weave, and none was found


def test_the_fitted_psf_finds_a_misregistration_of_a_pixel(rng):
    shape = (96, 128)
    rgb = patchwork(rng, shape)
    x1 = np.roll(known_map(rgb.astype(np.float64)), 1, axis=1)  # the X-ray one pixel to the right
    model = ColourMap(psf_radius=2)
    x = torch.from_numpy(x1.astype(np.float32))[None, None]
    for _ in fit_colour_map(model, torch.from_numpy(rgb).permute(2, 0, 1)[None], x, ColourMapSettings(weave=False), 12):
        pass
    psf = model.psf[0, 0].numpy()
    assert np.unravel_index(np.argmax(psf), psf.shape) == (2, 1)  # out[y, x] reads the photograph at x − 1
    assert psf.sum() == pytest.approx(1.0)


def test_double_sided_panels_are_fitted_with_one_map_for_both_sides(rng):
    shape = (96, 128)
    front, back = patchwork(rng, shape), patchwork(rng, shape, cell=12)
    x1, x2 = known_map(front.astype(np.float64)), known_map(back.astype(np.float64))
    result = separate((x1 + x2 + 0.3).astype(np.float32), front, rgb_back=back, device="cpu", weave=False)
    assert score(result.x1, x1)["psnr_affine"] > 35 and score(result.x2, x2)["psnr_affine"] > 35
    # the constant is shared: each side's estimate carries half of it
    assert np.mean(result.x1_hat - x1) == pytest.approx(0.15, abs=0.01)


def test_a_side_map_explains_what_the_photograph_cannot_show(rng):
    shape = (96, 128)
    rgb = patchwork(rng, shape)
    copper = np.zeros(shape, np.float32)
    copper[20:50, 30:90] = 1.0  # an absorber invisible in the photograph
    x = known_map(rgb.astype(np.float64)) + 0.5 * ndimage.gaussian_filter(copper, 1.0)
    without = separate(x.astype(np.float32), rgb, device="cpu", weave=False)
    with_map = separate(x.astype(np.float32), rgb, side_channels=[copper], device="cpu", weave=False)
    inside = copper > 0

    def step(x2: np.ndarray) -> float:
        return float(np.median(x2[inside]) - np.median(x2[~inside]))

    assert step(without.x2) > 0.3  # without the map, the absorber is called hidden
    assert abs(step(with_map.x2)) < 0.03


def test_column_energy_is_the_sum_of_squares_of_each_column_across_chunks(monkeypatch):
    from napari_xraysep.core import colourmap_solve

    monkeypatch.setattr(colourmap_solve, "CHUNK_PIXELS", 2)  # three chunks, the last one short
    design = torch.tensor([[1.0, 2.0, 0.0, -1.0, 3.0], [0.5, 0.5, 0.5, 0.5, 0.5]])
    torch.testing.assert_close(column_energy(design, torch.float64), torch.tensor([15.0, 1.25], dtype=torch.float64))


def test_weighted_least_squares_hand_computed():
    design = torch.tensor([[1.0, 2.0, 3.0, 4.0], [1.0, 1.0, 1.0, 1.0]], dtype=torch.float64)
    target = torch.tensor([3.0, 5.0, 7.0, 100.0], dtype=torch.float64)  # 2·a + 1, one outlier
    weight = torch.tensor([1.0, 1.0, 1.0, 0.0], dtype=torch.float64)
    beta = weighted_least_squares(design, target, weight, ridge=0.0, dtype=torch.float64)
    torch.testing.assert_close(beta, torch.tensor([2.0, 1.0], dtype=torch.float64))
    # a column that only lives where the weight is 0 is shrunk to 0 by the ridge, not fitted
    lonely = torch.tensor([[1.0, 2.0, 3.0, 4.0], [0.0, 0.0, 0.0, 5.0]], dtype=torch.float64)
    beta = weighted_least_squares(lonely, target, weight, ridge=1e-3, dtype=torch.float64)
    assert abs(float(beta[1])) < 1e-6 and float(beta[0]) == pytest.approx(34 / 14, rel=5e-3)
    # with a prior β0 the same lonely column is held at β0 (what the first pass said of it), the
    # fitted one barely moves; a huge ridge gives β0 itself, no ridge ignores it
    prior = torch.tensor([0.5, 7.0], dtype=torch.float64)
    held = weighted_least_squares(lonely, target, weight, ridge=1e-3, dtype=torch.float64, prior=prior)
    assert float(held[1]) == pytest.approx(7.0, abs=1e-6) and float(held[0]) == pytest.approx(34 / 14, rel=5e-3)
    stiff = weighted_least_squares(design, target, weight, ridge=1e9, dtype=torch.float64, prior=prior)
    torch.testing.assert_close(stiff, prior, rtol=0, atol=1e-6)
    free = weighted_least_squares(design, target, weight, ridge=0.0, dtype=torch.float64, prior=prior)
    torch.testing.assert_close(free, torch.tensor([2.0, 1.0], dtype=torch.float64))


def test_tukey_and_regional_weights():
    r = torch.tensor([0.0, TUKEY_C / 2, TUKEY_C, -2 * TUKEY_C])
    torch.testing.assert_close(tukey_weights(r, 1.0), torch.tensor([1.0, 0.5625, 0.0, 0.0]))
    generator = torch.Generator().manual_seed(0)
    residual = torch.zeros(1, 1, 64, 64)
    residual[0, 0, 20:30, 20:30] = torch.randn(10, 10, generator=generator)  # structure in one place
    residual += 0.01 * torch.randn(1, 1, 64, 64, generator=generator)  # and noise everywhere
    index = torch.arange(64 * 64)
    weights = regional_weights(residual, torch.ones_like(residual, dtype=torch.bool), index, sigma=4.0, strength=16.0)
    # the typical (median) pixel gets 1 / (1 + k); structure far less
    assert float(weights[0, 0, 55, 55]) == pytest.approx(1 / 17, rel=0.5)
    assert float(weights[0, 0, 25, 25]) < 1e-3 * float(weights[0, 0, 55, 55])


def test_colour_features_are_the_cubic_monomials_and_radial_bases():
    assert len(polynomial_exponents(3, 3)) == 19  # 3 linear + 6 quadratic + 10 cubic
    model = ColourMap(rgb_channels=4, clusters=5, degree=2)
    assert model.feature_count == 9 + 5 + 2  # a side map adds itself and its square
    features = model.features(torch.rand(2, 4, 6, 7))
    assert features.shape == (2, model.feature_count, 6, 7)


def test_a_large_image_is_fitted_on_blocks_spread_over_it(rng, monkeypatch):
    from napari_xraysep.core import colourmap_fit

    shape = (160, 240)
    rgb = patchwork(rng, shape)
    x1 = ndimage.gaussian_filter(known_map(rgb.astype(np.float64)), 0.8)
    x = (x1 + hidden_design(shape)).astype(np.float32)
    whole = separate(x, rgb, device="cpu")
    monkeypatch.setattr(colourmap_fit, "COLOUR_MAP_FIT_PIXELS", 3 * 64 * 64)  # three 64-px blocks, a fifth of the image
    monkeypatch.setattr(colourmap_fit, "COLOUR_MAP_FIT_BLOCK", 64)
    fitted_on, real_fit = [], colourmap_fit.fit_colour_map

    def fit(model, rgb_surface, x_mixed, *args, **kwargs):
        fitted_on.append(tuple(x_mixed.shape))
        return real_fit(model, rgb_surface, x_mixed, *args, **kwargs)

    monkeypatch.setattr(colourmap_fit, "fit_colour_map", fit)
    blocks = separate(x, rgb, device="cpu")
    assert fitted_on == [(3, 1, 64, 64)] and blocks.x2.shape == shape  # fitted on blocks, applied everywhere
    assert score(blocks.x1, x1)["psnr_affine"] > score(whole.x1, x1)["psnr_affine"] - 3  # a fifth of the pixels is plenty


def test_the_summed_map_equals_the_features_combined(rng):
    model = ColourMap(rgb_channels=5, clusters=7)
    model.centres.copy_(torch.rand(7, 3))
    model.width.fill_(0.2)
    model.beta.copy_(torch.randn(model.feature_count))
    rgb = torch.rand(2, 5, 9, 11, dtype=torch.float64)
    expected = torch.einsum("nfhw,f->nhw", model.features(rgb), model.beta.double()).unsqueeze(1)
    torch.testing.assert_close(model.mapped(rgb), expected)


def _random_map(clusters: int = 7, channels: int = 3) -> ColourMap:
    model = ColourMap(rgb_channels=channels, clusters=clusters)
    model.centres.copy_(torch.rand(clusters, 3))
    model.width.fill_(0.2)
    model.beta.copy_(torch.randn(model.feature_count))
    return model


def test_the_colour_table_gives_the_evaluated_map_and_evaluates_each_colour_once(rng, monkeypatch):
    model = _random_map()
    normalisation = Normalisation(offset=3.0, scale=240.0)  # 8-bit levels read as (v − 3) / 240
    levels = torch.from_numpy(normalisation.to_unit(np.arange(TABLE_LEVELS)))
    table = with_colour_table(model, levels)
    assert model.colour_table is None and table.beta is model.beta  # the given map is untouched; parameters shared
    rgb8 = rng.integers(0, 256, (2, 3, 40, 50))
    rgb8[:, :, :20] = rgb8[:, :, :1, :1]  # many pixels of one colour
    colour = torch.from_numpy(normalisation.to_unit(rgb8))
    colour[0, 1, 5, 7] = 0.501  # between two levels (a photograph of another bit depth): evaluated directly
    evaluated = []
    direct = ColourMap.colour_part
    monkeypatch.setattr(ColourMap, "colour_part", lambda self, c: evaluated.append(c[0, 0].numel()) or direct(self, c))
    looked_up = table.mapped(colour)
    distinct = len(np.unique((rgb8[:, 0] * 65536 + rgb8[:, 1] * 256 + rgb8[:, 2]).reshape(-1)))
    assert evaluated == [distinct, 1]  # once per distinct colour, then the one off the levels
    # float32 sums of ~55 terms, batched in other shapes: their rounding differs by a few ulps of
    # the sum's terms, by shape and CPU (up to 6e-6 on an AVX-512 machine, under 1e-6 on AVX2).
    torch.testing.assert_close(looked_up, direct(model, colour), rtol=2e-5, atol=1e-5)
    evaluated.clear()
    table.mapped(colour)
    assert evaluated == [1]  # every colour of the levels known now
    assert table.colour_table.lookup(colour.double()) is None  # the table holds float32 values only
    with pytest.raises(ValueError, match="increasing"):
        ColourTable(model, levels.flip(0))


def test_a_colour_table_crosses_to_another_process_empty(rng):
    import pickle

    table = with_colour_table(_random_map(), torch.linspace(0, 1, TABLE_LEVELS))
    table.mapped(torch.rand(1, 3, 4, 4))
    assert table.colour_table.values is not None
    copied = pickle.loads(pickle.dumps(table.colour_table))
    assert copied.values is None and torch.equal(copied.levels, table.colour_table.levels)


# ------------------------------------------------------------------------------------ degenerate inputs

PLATEAU_COLOURS = np.array([[0.9, 0.9, 0.85], [0.8, 0.2, 0.1], [0.2, 0.3, 0.6], [0.1, 0.1, 0.1]], np.float32)
PLATEAU_XRAY = np.array([1.0, 0.7, 0.2, 0.05], np.float32)  # each colour's exact X-ray


def plateaus(layout: str, shape: tuple[int, int] = (96, 128)) -> np.ndarray:
    """(H, W) labels 0–3: four flat quadrants, or 8-px blocks of random labels (seeded)."""
    if layout == "quadrants":
        yy, xx = np.mgrid[0 : shape[0], 0 : shape[1]]
        return (yy >= shape[0] // 2) * 2 + (xx >= shape[1] // 2)
    blocks = np.random.default_rng(1).integers(0, 4, (shape[0] // 8, shape[1] // 8))
    return np.kron(blocks, np.ones((8, 8), int))


def test_a_zero_or_tiny_robust_scale_is_floored():
    index = torch.arange(100)
    assert robust_scale(torch.zeros(1, 1, 10, 10), index) == ROBUST_SCALE_FLOOR
    assert robust_scale(torch.full((1, 1, 10, 10), 1e-9), index) == ROBUST_SCALE_FLOOR
    assert robust_scale(torch.full((1, 1, 10, 10), 0.1), index) == pytest.approx(0.14826)
    # Rounding-level residuals keep their weight even at a zero scale: they are fitted, not outliers.
    weights = tukey_weights(torch.tensor([0.0, 1e-7, -3e-6, 1.0]), 0.0)
    assert torch.isfinite(weights).all() and float(weights[:3].min()) > 0.999 and float(weights[3]) == 0.0
    # An exact fit's energy is rounding: the regional weights stay ≈ 1 / (1 + k·0), not 1 / (1 + k).
    residual = 1e-8 * torch.randn(1, 1, 32, 32, generator=torch.Generator().manual_seed(0))
    regional = regional_weights(residual, torch.ones_like(residual, dtype=torch.bool), torch.arange(32 * 32), 4.0, 16.0)
    assert float(regional.min()) > 0.99


@pytest.mark.parametrize("layout", ["quadrants", "blocks"])
def test_flat_plateaus_with_an_exact_colour_relation_separate_exactly(layout):
    labels = plateaus(layout)
    x, rgb = PLATEAU_XRAY[labels], PLATEAU_COLOURS[labels]
    losses = []
    result = separate(x, rgb, device="cpu", on_progress=lambda p: losses.append(p.losses))
    assert all(np.isfinite(list(loss.values())).all() for loss in losses)
    for layer in (result.x1_hat, result.x2_hat, result.x1, result.x2, result.weave):
        assert np.isfinite(layer).all()
    # Nothing hidden: x2 is one constant (the level the data cannot tell), x1 the X-ray less it.
    span = float(np.ptp(x))
    assert np.ptp(result.x2) < 1e-4 * span
    assert np.ptp(result.x1 - x) < 1e-4 * span
    assert not result.weave.any()  # no weave found in rounding


def test_a_flat_hidden_patch_under_plateaus_is_recovered_exactly_away_from_its_edges():
    labels = plateaus("blocks")
    hidden = np.zeros(labels.shape, np.float32)
    hidden[30:60, 45:100] = 0.3
    result = separate(PLATEAU_XRAY[labels] + hidden, PLATEAU_COLOURS[labels], device="cpu")
    assert np.isfinite(result.x1).all() and np.isfinite(result.x2).all()
    away = np.ones(labels.shape, bool)
    away[24:66, 39:106] = False  # 6 px around the patch's edges: the hidden estimate is smoothed there
    inside = np.zeros(labels.shape, bool)
    inside[36:54, 51:94] = True
    error = result.x2 - hidden
    assert np.ptp(error[away | inside]) < 2e-3  # 0.2 % of the X-ray's range: x1 is the surface alone


def test_a_large_frame_is_fitted_on_blocks_inside_the_painting_found(monkeypatch):
    # A painting in the middle of a wide backdrop: blocks spread over the whole frame all fell in the
    # backdrop (an 18 MP file's four corners) and the fit ended in a traceback (nothing to cluster).
    from napari_xraysep.core import colourmap_fit
    from napari_xraysep.core.colourmap_fit import fit_blocks
    from napari_xraysep.datasets.synthetic_real import make_real_variant

    fit = np.zeros((300, 400), bool)
    fit[100:220, 150:330] = True
    monkeypatch.setattr(colourmap_fit, "COLOUR_MAP_FIT_PIXELS", 4 * 32 * 32)
    monkeypatch.setattr(colourmap_fit, "COLOUR_MAP_FIT_BLOCK", 32)
    blocks = fit_blocks(fit.shape, fit)
    assert len(blocks) == 4 and all(fit[block].all() for block in blocks)
    assert {(b[0].start, b[1].start) for b in blocks} == {(100, 150), (100, 298), (188, 150), (188, 298)}
    assert fit_blocks(fit.shape, None) == colourmap_fit.sample_blocks(fit.shape, 4 * 32 * 32, 32)
    # A frame within the budget is fitted whole, as before.
    monkeypatch.setattr(colourmap_fit, "COLOUR_MAP_FIT_PIXELS", 300 * 400)
    assert fit_blocks(fit.shape, fit) == [(slice(0, 300), slice(0, 400))]
    # End to end: the backdrop file's corners are backdrop; its painting is separated.
    variant = make_real_variant("photo_coffee_over_astronaut", "backdrop", 0)
    monkeypatch.setattr(colourmap_fit, "COLOUR_MAP_FIT_PIXELS", 4 * 64 * 64)
    monkeypatch.setattr(colourmap_fit, "COLOUR_MAP_FIT_BLOCK", 64)
    result = separate(variant.x_stored, variant.rgb_stored, device="cpu")
    assert np.isfinite(result.x2[variant.painting]).mean() > 0.95
