"""A seconds-long run of benchmarks/quality.py: the table's structure and the baseline's figures."""

import importlib.util
import sys
from pathlib import Path

import numpy as np
import pytest

from napari_xraysep import SeparationConfig
from napari_xraysep.evaluation import polynomial_features
from napari_xraysep.synthetic import SyntheticMixture

spec = importlib.util.spec_from_file_location("quality", Path(__file__).parent.parent / "benchmarks" / "quality.py")
quality = importlib.util.module_from_spec(spec)
sys.modules["quality"] = quality  # dataclasses look their module up there
spec.loader.exec_module(quality)


def test_smoke_run_table_structure():
    runs = {
        "least squares (linear)": quality.least_squares(1),
        "tiny": quality.learned(SeparationConfig.autoencoder(warm_start=False, channels=4, crop_size=32, batch_size=2, steps=2, device="cpu")),
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


def test_findings_compute_the_verdict_per_case():
    def row(method, case, seed, value):
        return quality.Row(method, case, seed, "x2", 0, 0, value, 0, 0)

    rows = [row("least squares (linear)", "a", 0, 20.0), row("default", "a", 0, 24.0),
            row("least squares (linear)", "b", 0, 20.0), row("default", "b", 0, 21.0), row("default", "b", 1, 23.0)]
    text = quality.findings(rows)
    assert "| a | 20.00 | 24.00 | +4.00 | — |" in text and "| b | 20.00 | 22.00 | +2.00 | — |" in text
    assert "+3.00 dB" in text and "**met**" in text and "ahead on 2 of 2 cases" in text


def test_warm_start_curve_table_lists_each_start_and_the_means():
    curve = {
        "a": {"random init": {50: 20.0, 100: 22.0}, "warm start": {50: 24.0, 100: 25.0}},
        "b": {"random init": {50: 18.0, 100: 20.0}, "warm start": {50: 20.0, 100: 23.0}},
    }
    lines = quality.curve_table(curve).splitlines()
    assert lines[0] == "| case | start | 50 steps | 100 steps |"
    assert "| a | warm start | 24.00 | 25.00 |" in lines
    assert "| **mean** | random init | 19.00 | 21.00 |" in lines and "| **mean** | warm start | 22.00 | 24.00 |" in lines


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
