"""Side-channel benchmark: does a copper map remove the copper artefact? (paper's future work)

    python benchmarks/side_channels.py           # both copper cases × 3 seeds (auto-encoder: seed 0) → docs/benchmarks-side-channels.md
    python benchmarks/side_channels.py --quick   # one small run, printed only

The surface paints a headdress in a copper-containing black: dark in the photograph, bright in the
X-ray. Where the photograph cannot tell that black from another that absorbs nothing (the sitter's
bone-black costume, case copper_black_costume), no method that reads the photograph alone can know
that the headdress belongs to the surface, so its X-ray leaks into x2 (the artefact the paper shows
in Isabel's headdress). A
simulated macro-XRF Cu-K map, given as a side channel, carries exactly that. The second case,
copper_headdress, has no other black: there the colour alone gives the copper away.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from quality import LAYERS, Method, Row, learned, least_squares, markdown_table, summarise

from napari_xraysep import SeparationConfig, separate
from napari_xraysep.datasets.evaluation import affine_fit, score
from napari_xraysep.io import montage, to_display, write_png
from napari_xraysep.datasets.synthetic import SyntheticMixture, make_mixture

CASES = {
    "copper_black_costume": "the headdress's copper black looks exactly like the costume's bone black",
    "copper_headdress": "the copper black is the only black on the painting",
}
MEASURES = ("copper", "elsewhere", "excess", "signed")


def with_copper_map(config: SeparationConfig) -> Method:
    def run(mixture: SyntheticMixture) -> dict[str, np.ndarray]:
        result = separate(mixture.x_mixed, mixture.rgb_surface, mixture.region_mask, side_channels=[mixture.copper_map], config=config)
        return {name: getattr(result, name) for name in LAYERS}

    return run


def artefact_measures(estimate: np.ndarray, mixture: SyntheticMixture) -> dict[str, float]:
    """The x2 error (after an affine fit, as a fraction of the truth's range) on the copper paint, on
    the rest of the painting, the difference (what the copper adds to a method's general error) and
    its sign on the copper (positive: copper leaks into x2; negative: too much is taken out)."""
    copper = mixture.copper_map > 0.3
    error = (affine_fit(estimate, mixture.x2_true) - mixture.x2_true) / np.ptp(mixture.x2_true)
    on, off = float(np.abs(error[copper]).mean()), float(np.abs(error[~copper]).mean())
    return {"copper": on, "elsewhere": off, "excess": on - off, "signed": float(error[copper].mean())}


# The auto-encoder rows cost minutes each: they run on the costly seeds only.
COSTLY = ("auto-encoder (RGB only)", "auto-encoder + Cu-K map")


def measure_case(
    case: str, methods: dict[str, Method], seeds: list[int], shape: tuple[int, int], costly_seeds: list[int] | None = None
) -> tuple[list[Row], dict[str, list[dict[str, float]]], dict[str, dict[str, np.ndarray]]]:
    """Every method on every seed (the COSTLY ones only on ``costly_seeds``, if given): score rows,
    artefact measures, and the first seed's layers."""
    rows, artefact, estimates = [], {name: [] for name in methods}, {}
    for seed in seeds:
        mixture = make_mixture(case, shape, seed)
        for name, run in methods.items():
            if name in COSTLY and costly_seeds is not None and seed not in costly_seeds:
                continue
            began = time.perf_counter()
            layers = run(mixture)
            elapsed = time.perf_counter() - began
            for layer in LAYERS:
                truth = mixture.x1_true if "1" in layer else mixture.x2_true
                rows.append(Row(name, case, seed, layer, time_s=elapsed, **score(layers[layer], truth)))
            artefact[name].append(artefact_measures(layers["x2"], mixture))
            if seed == seeds[0]:
                estimates[name] = layers
            print(f"{case} seed {seed} {name:<24} x2 {rows[-1].psnr_affine:6.2f} dB, artefact {artefact[name][-1]}", file=sys.stderr)
    return rows, artefact, estimates


def case_report(rows: list[Row], artefact: dict[str, list[dict[str, float]]]) -> str:
    """The score table, the artefact table and what the map removed, as markdown."""
    lines = [
        "| method | x2 error on the copper paint | elsewhere | excess (copper − elsewhere) | signed, on the copper |",
        "|---|---|---|---|---|",
    ]
    for name, values in artefact.items():
        cells = [f"{statistics.fmean(v[m] for v in values):+.3f} ± {statistics.pstdev([v[m] for v in values]):.3f}" for m in MEASURES]
        lines.append(f"| {name} | " + " | ".join(cell.lstrip("+") if m != "signed" else cell for cell, m in zip(cells, MEASURES)) + " |")

    def removed(start: str, measure: str) -> str:
        before = statistics.fmean(v[measure] for v in artefact[f"{start} (RGB only)"])
        after = statistics.fmean(v[measure] for v in artefact[f"{start} + Cu-K map"])
        return f"{100 * (1 - after / before):.0f} %"

    return "\n".join([
        markdown_table(summarise(rows)), "", "\n".join(lines), "",
        (f"The Cu-K map removes {removed('default', 'copper')} of the error on the copper paint with the default "
        f"(the colour map) and {removed('auto-encoder', 'copper')} with the auto-encoder; of the excess error there "
        f"(over the error elsewhere) it removes {removed('default', 'excess')} and {removed('auto-encoder', 'excess')}."),
    ])


def montage_panels(case: str, shape: tuple[int, int], seed: int, estimates: dict[str, dict[str, np.ndarray]]) -> list[np.ndarray]:
    """Photograph, Cu-K map, true hidden X-ray, then each method's x2 (affinely fitted, same contrast)."""
    mixture = make_mixture(case, shape, seed)
    limits = (float(mixture.x2_true.min()), float(mixture.x2_true.max()))
    panels = [(mixture.rgb_surface * 255).astype(np.uint8), to_display(mixture.copper_map), to_display(mixture.x2_true, limits)]
    return panels + [to_display(affine_fit(layers["x2"], mixture.x2_true), limits) for layers in estimates.values()]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--seeds", nargs="+", type=int, default=[0, 1, 2])
    parser.add_argument("--costly-seeds", nargs="+", type=int, default=[0], help="seeds for the auto-encoder rows")
    parser.add_argument("--cases", nargs="+", default=list(CASES), choices=list(CASES))
    parser.add_argument("--out", type=Path, default=Path(__file__).resolve().parent.parent / "docs")
    args = parser.parse_args(argv)
    shape = (96, 128) if args.quick else (192, 288)
    seeds = args.seeds[:1] if args.quick else args.seeds
    cases = args.cases[:1] if args.quick else args.cases
    default, autoencoder = SeparationConfig(device="cpu"), SeparationConfig.autoencoder(device="cpu")
    if args.quick:
        default, autoencoder = default.replace(steps=3), autoencoder.replace(steps=10)
    methods = {
        "least squares (linear)": least_squares(1),
        "default (RGB only)": learned(default),
        "default + Cu-K map": with_copper_map(default),
        "auto-encoder (RGB only)": learned(autoencoder),
        "auto-encoder + Cu-K map": with_copper_map(autoencoder),
    }
    started = time.perf_counter()
    sections, panels = [], []
    for case in cases:
        rows, artefact, estimates = measure_case(case, methods, seeds, shape, args.costly_seeds)
        sections.append(f"## {case}: {CASES[case]}\n\n{case_report(rows, artefact)}")
        panels += montage_panels(case, shape, seeds[0], estimates)
    text = "\n\n".join(sections)
    print(text)
    if args.quick:
        return 0
    (args.out / "benchmarks").mkdir(parents=True, exist_ok=True)
    write_png(args.out / "benchmarks" / "side-channels.png", montage(panels, columns=4))
    (args.out / "benchmarks-side-channels.md").write_text(
        f"""# Side channels: a copper map against the copper artefact

Made by `python benchmarks/side_channels.py` ({(time.perf_counter() - started) / 60:.0f} min). Cases
{', '.join(cases)}; seeds {', '.join(map(str, seeds))} (the auto-encoder rows, minutes each: seeds
{', '.join(map(str, args.costly_seeds))}); {shape[0]}×{shape[1]} px; the default (the colour map,
which reads a side map as extra columns of its colour features) and the auto-encoder as napari-xraysep
0.1 ran it (`SeparationConfig.autoencoder()`, which reads it as an extra input channel of E_r). Errors are x2's (after an affine fit to the truth) as a
fraction of the hidden X-ray's range: on the copper paint, elsewhere, their difference (what the
copper adds) and the signed error on the copper (+: copper leaks into x2, −: too much is taken out).

{text}

Montage (seed {seeds[0]}; two rows per case, in the order above): photograph, Cu-K map, true hidden
X-ray, then x2 of each method in the table's order (each affinely fitted to the truth).

![side channels](benchmarks/side-channels.png)
"""
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
