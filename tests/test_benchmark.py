"""A seconds-long run of benchmarks/quality.py: the table's structure and the baseline's figures."""

import importlib.util
import sys
from pathlib import Path

import numpy as np
import pytest

from napari_xraysep import SeparationConfig
from napari_xraysep.datasets.evaluation import polynomial_features
from napari_xraysep.datasets.synthetic import SyntheticMixture

spec = importlib.util.spec_from_file_location("quality", Path(__file__).parent.parent / "benchmarks" / "quality.py")
quality = importlib.util.module_from_spec(spec)
sys.modules["quality"] = quality  # dataclasses look their module up there
spec.loader.exec_module(quality)


def test_smoke_run_table_structure():
    runs = {
        "least squares (linear)": quality.least_squares(1),
        "tiny": quality.learned(SeparationConfig(clusters=4, steps=2, device="cpu")),
    }
    rows, estimates = quality.evaluate(runs, ["concealed_portrait"], [0, 1], (48, 64), log=lambda *_: None)
    assert len(rows) == 2 * 2 * len(quality.LAYERS)
    summary = quality.summarise(rows)
    assert list(summary) == ["least squares (linear)", "tiny"]
    assert set(summary["tiny"]) == {f"{l}/{m}" for l in quality.LAYERS for m in ("psnr", "ssim", "psnr_affine", "ssim_affine")} | {"time_s"}
    table = quality.markdown_table(summary).splitlines()
    assert len(table) == 2 + 2 and table[2].startswith("| least squares (linear) |")
    assert set(estimates["concealed_portrait"]) == set(runs)


def test_least_squares_figures_on_an_exactly_linear_case(rng, monkeypatch):
    shape = (32, 40)
    rgb = rng.random((*shape, 3)).astype(np.float32)
    x1 = (0.6 * rgb[..., 0] + 0.3 * rgb[..., 1] + 0.1).astype(np.float64)
    features = polynomial_features(rgb, 1)
    r = rng.standard_normal(x1.size)
    x2 = (r - features @ np.linalg.lstsq(features, r, rcond=None)[0]).reshape(shape)
    zeros = np.zeros(shape, np.float32)
    mixture = SyntheticMixture(
        x_mixed=(x1 + x2).astype(np.float32), rgb_surface=rgb, region_mask=zeros > -1, x1_true=x1.astype(np.float32),
        x2_true=x2.astype(np.float32), weave=zeros, noise=zeros, rgb_hidden=rgb, case="linear", seed=0,
    )
    monkeypatch.setattr(quality, "make_mixture", lambda case, shape, seed: mixture)
    rows, _ = quality.evaluate({"ls": quality.least_squares(1)}, ["linear"], [0], shape, log=lambda *_: None)
    by_layer = {r.layer: r for r in rows}
    assert by_layer["x2"].psnr > 60 and by_layer["x1"].psnr > 60  # float32 rounding only
    assert by_layer["x2"].ssim == pytest.approx(1.0, abs=1e-4)


def _x2_row(method, case, seed, value, ssim=0.9):
    return quality.Row(method, case, seed, "x2", 0, 0, value, ssim, 0)


def test_findings_compute_the_targets_per_kind_of_case():
    base, default = quality.BASELINE, quality.DEFAULT
    photo = next(iter(quality.PHOTO_CASES))
    rows = [_x2_row(base, "a", 0, 20.0), _x2_row(default, "a", 0, 30.0), _x2_row(quality.AUTOENCODER, "a", 0, 22.0),
            _x2_row(base, "b", 0, 26.0), _x2_row(default, "b", 0, 27.0), _x2_row(default, "b", 1, 29.0),
            _x2_row(base, photo, 0, 20.0), _x2_row(default, photo, 0, 25.0)]
    text = quality.findings(rows)
    # the auto-encoder ran on seed 0 only: the default is also given on seed 0 alone, beside its mean
    assert "| auto-encoder (0.1 default) | default (colour map), seed 0 | default (colour map) |" in text
    assert "| a | procedural | 20.00 | 22.00 | 30.00 | 30.00 | +10.00 |" in text
    assert "| b | procedural | 26.00 | — | 27.00 | 28.00 | +2.00 |" in text
    assert f"| {photo} | photographic | 20.00 | — | 25.00 | 25.00 | +5.00 |" in text
    assert "mean x2 29.00 dB (target ≥ 29, stretch 31: **met**)" in text  # (30 + 28) / 2
    assert "+5.00 dB over least squares (linear) on average (target ≥ 4 dB: **met**)" in text
    assert "Every case ≥ 2 dB over least squares (linear): **met** (weakest: b, +2.00 dB" in text
    rows.append(_x2_row(default, "b", 2, 25.0))  # b's mean falls to 27: 1 dB over the baseline
    assert "Every case ≥ 2 dB over least squares (linear): **NOT met** (weakest: b, +1.00 dB" in quality.findings(rows)


def test_ablation_table_gives_the_change_per_kind():
    photo = next(iter(quality.PHOTO_CASES))
    name = "default, no PSF"
    rows = [_x2_row(quality.DEFAULT, "a", 0, 30.0), _x2_row(name, "a", 0, 29.0, ssim=0.8),
            _x2_row(quality.DEFAULT, photo, 0, 25.0), _x2_row(name, photo, 0, 22.0, ssim=0.8)]
    lines = quality.ablation_table(rows).splitlines()
    assert lines[0] == "| change to the default | Δ x2, procedural (dB) | Δ x2, photographic (dB) | Δ x2 SSIM |"
    assert lines[2] == "| no PSF | -1.00 | -3.00 | -0.100 |" and len(lines) == 3  # rows absent from the run are left out


def test_photographic_cases_come_at_their_own_size():
    photo = quality.make_case(next(iter(quality.PHOTO_CASES)), (48, 64), 0)
    assert photo.x_mixed.shape == quality.PHOTO_SHAPE and quality.kind_of(photo.case) == "photographic"
    assert quality.make_case("concealed_portrait", (48, 64), 0).x_mixed.shape == (48, 64)


def test_double_sided_rows_see_the_back_side(tiny_mixture):
    rows, _ = quality.evaluate(
        {"ls": quality.double_sided_least_squares(3)}, ["concealed_portrait"], [0], (48, 64), log=lambda *_: None
    )
    single, _ = quality.evaluate({"ls": quality.least_squares(3)}, ["concealed_portrait"], [0], (48, 64), log=lambda *_: None)
    x2 = {r.layer: r.psnr_affine for r in rows}["x2"]
    assert x2 > {r.layer: r.psnr_affine for r in single}["x2"] + 3  # knowing the back is worth a lot


def test_rewriting_the_quality_page_keeps_the_other_benchmarks(tmp_path):
    page = tmp_path / "benchmarks.md"
    assert quality.kept_sections(page) == "\n" + quality.OTHER_BENCHMARKS + "\n"  # no page yet: the marker alone
    page.write_text("# old quality tables\n\n" + quality.OTHER_BENCHMARKS + "\n\n## Side channels\n\n| a | b |\n")
    kept = quality.kept_sections(page)
    assert kept == "\n" + quality.OTHER_BENCHMARKS + "\n\n## Side channels\n\n| a | b |\n"
    assert "old quality" not in kept
    # and the page in docs/ has the marker, with the side-channel, registration and speed rows after it
    docs = (Path(__file__).parent.parent / "docs" / "benchmarks.md").read_text(encoding="utf-8")
    tail = docs[docs.index(quality.OTHER_BENCHMARKS):]
    assert all(title in tail for title in ("## Side channels", "## Registration", "## Speed and memory"))


def test_the_quality_benchmark_leaves_the_side_channel_case_out():
    # copper_black_costume cannot be separated from the photograph by design; benchmarks/side_channels.py measures it
    assert "copper_black_costume" not in quality.PHOTOGRAPH_CASES
    assert set(quality.PHOTOGRAPH_CASES) == {"concealed_portrait", "landscape_over_portrait", "still_life_over_figure", "copper_headdress"}


def test_variant_run_scores_each_variant_against_its_clean_case(tmp_path):
    config = SeparationConfig(clusters=4, steps=2, device="cpu")
    rows, kept = quality.evaluate_variants(
        ["photo_coffee_over_astronaut"], [0], ["backdrop", "lead_markers"], config, shape=(48, 72), log=lambda *_: None
    )
    assert [r.variant for r in rows] == ["clean", "backdrop", "lead_markers"]
    by_name = {r.variant: r for r in rows}
    assert by_name["clean"].pixels == 48 * 72
    # The backdrop frame is larger, but only the painting is scored; saturated lead is left out with 3 px around it.
    assert by_name["backdrop"].pixels == 48 * 72
    assert 0 < by_name["lead_markers"].pixels < 48 * 72
    assert all(np.isfinite(r.psnr_affine) and r.psnr_affine > 5 for r in rows)
    table = quality.variant_table(rows).splitlines()
    assert table[0] == "| variant | case | clean dB | variant dB | Δ dB | Δ SSIM | painting scored |"
    assert all(r.painting_pixels == 48 * 72 for r in rows)
    assert table[2].startswith(f"| backdrop | photo_coffee_over_astronaut | {by_name['clean'].psnr_affine:.2f} | {by_name['backdrop'].psnr_affine:.2f} |")
    assert table[2].endswith("| 100.0% |") and not table[3].endswith("| 100.0% |")  # lead left out
    delta = by_name["lead_markers"].psnr_affine - by_name["clean"].psnr_affine
    named = {r.variant: f"{int(r.passages > 0)} of 1" for r in rows}  # runs with a pigment note
    assert all(r.passages >= 0 for r in rows)
    assert f"| lead_markers | {delta:+.2f} | {named['lead_markers']} |" in table
    assert f"| clean | — | {named['clean']} |" in table
    paths = quality.write_variant_montages(kept, tmp_path)
    assert sorted(p.name for p in paths) == ["backdrop.png", "clean.png", "lead_markers.png"]


def test_the_variant_section_lives_below_the_marker_and_is_replaced(tmp_path):
    page = tmp_path / "benchmarks.md"
    page.write_text("# quality\n\n" + quality.OTHER_BENCHMARKS + "\n\n## Side channels\n\n| a | b |\n")
    quality.replace_variant_section(page, "## Variants\n\nfirst")
    quality.replace_variant_section(page, "## Variants\n\nsecond")
    text = page.read_text()
    assert text.count(quality.VARIANTS_BEGIN) == 1 and "first" not in text and "second" in text
    assert text.index(quality.OTHER_BENCHMARKS) < text.index("second") < text.index("## Side channels")
    # a rewrite of the quality tables keeps it
    assert "second" in quality.kept_sections(page) and "## Side channels" in quality.kept_sections(page)
    fresh = tmp_path / "new.md"
    quality.replace_variant_section(fresh, "## Variants\n\nonly")
    assert fresh.read_text().startswith(quality.OTHER_BENCHMARKS)
