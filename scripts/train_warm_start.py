"""Train the shipped warm-start weights (paper Fig. 3, Eq. 8), reproducibly from a seed.

    python scripts/train_warm_start.py                      # default architecture → package weights
    python scripts/train_warm_start.py --architecture paper # the paper-faithful one (64 channels)

No double-sided X-ray archive is available offline, so the training panels are synthetic
double-sided panels (napari_xraysep.datasets.synthetic: a painting on each side, the back photographed from
behind). As in the paper, the labels x1d, x2d are not the ground truth but the outputs of a
double-sided separation of each panel (``--labels truth`` uses the ground truth instead). Then the
concealed-design network — which sees only the front photograph and the X-ray — is trained to
reproduce r1d, x1d and x2d (Eq. 8). Panels use seeds ≥ 100, apart from the benchmark's (0–2).

Each run writes ``warm_start_<architecture>.pt`` (a model file) into the package's weights folder
and records its settings, the panels, timings and the SHA-256 in ``warm_start.json``.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import numpy as np

from napari_xraysep import SeparationConfig, separate
from napari_xraysep._version import __version__
from napari_xraysep.core import fit, new_model, prepare_inputs, warm_start_objective
from napari_xraysep.io.warmstart import MANIFEST, sha256_of
from napari_xraysep.datasets.evaluation import score
from napari_xraysep.datasets.synthetic import CASES, make_mixture
from napari_xraysep.io import save_model

WEIGHTS = Path(__file__).resolve().parent.parent / "src" / "napari_xraysep" / "weights"
ARCHITECTURES = {
    "default": SeparationConfig(),
    "paper": SeparationConfig.paper(),
}
FIRST_SEED = 100


def panel_labels(case: str, seed: int, shape: tuple[int, int], labels: str, steps: int) -> tuple[np.ndarray, ...]:
    """One synthetic double-sided panel in unit range: (r1d (3,H,W), x_d, x1d, x2d) and the labels' PSNRs
    (after an affine fit) against the truth."""
    mixture = make_mixture(case, shape, seed)
    inputs = prepare_inputs(mixture.x_mixed, mixture.rgb_surface, None)
    norm = inputs.x_normalisation
    if labels == "truth":
        x1, x2 = mixture.x1_true, mixture.x_mixed - mixture.x1_true
    else:
        result = separate(
            mixture.x_mixed, mixture.rgb_surface, rgb_back=mixture.rgb_back_photographed, mirror_back=True,
            steps=steps, seed=seed, device="cpu",
        )
        x1, x2 = result.x1, result.x2
    quality = (score(x1, mixture.x1_true)["psnr_affine"], score(x2, mixture.x2_true)["psnr_affine"])
    # x1 + x2 = x in X-ray units; each carries half the offset, as the core maps them back.
    unit = [(np.asarray(v, np.float64) - 0.5 * norm.offset) / norm.scale for v in (x1, x2)]
    return inputs.rgb_surface, inputs.x_mixed, *(u.astype(np.float32) for u in unit), quality


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--architecture", choices=tuple(ARCHITECTURES), default="default")
    parser.add_argument("--seeds-per-case", type=int, default=2, help="panels per synthetic case")
    parser.add_argument("--shape", type=int, nargs=2, default=(160, 240), metavar=("H", "W"))
    parser.add_argument("--labels", choices=("separation", "truth"), default="separation")
    parser.add_argument("--separation-steps", type=int, default=200, help="steps of each double-sided separation")
    parser.add_argument("--steps", type=int, default=800, help="Eq. 8 training steps")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--out", type=Path, default=WEIGHTS)
    args = parser.parse_args(argv)

    started = time.perf_counter()
    panels, qualities = [], []
    seeds = range(FIRST_SEED, FIRST_SEED + args.seeds_per_case)
    for case in CASES:
        for seed in seeds:
            *panel, quality = panel_labels(case, seed, tuple(args.shape), args.labels, args.separation_steps)
            panels.append(panel)
            qualities.append(quality)
            print(f"{case} seed {seed}: label PSNR x1 {quality[0]:.2f} dB, x2 {quality[1]:.2f} dB", file=sys.stderr)
    labelling_s = time.perf_counter() - started

    rgb, x, x1, x2 = (np.stack(parts) for parts in zip(*panels))
    config = ARCHITECTURES[args.architecture].replace(
        mode="fast", steps=args.steps, seed=args.seed, device="cpu", learning_rate=3e-3, lr_schedule="cosine",
        crop_size=64, batch_size=16, warm_start=False,
    )
    objective = warm_start_objective(rgb, x, x1, x2, config)
    model = new_model(config)
    started = time.perf_counter()
    training = fit(objective, config, model)
    for progress in training:
        if progress.step % 100 == 0 or progress.step == progress.total_steps:
            print(f"Eq. 8 step {progress.step}/{progress.total_steps}: loss {progress.losses['total']:.4f}", file=sys.stderr)
    training_s = time.perf_counter() - started

    args.out.mkdir(parents=True, exist_ok=True)
    name = f"warm_start_{args.architecture}.pt"
    path = save_model(model, args.out / name)
    manifest_path = args.out / MANIFEST
    manifest = json.loads(manifest_path.read_text()) if manifest_path.is_file() else {"weights": []}
    entry = {
        "file": name,
        "sha256": sha256_of(path),
        "architecture": config.method.shape(),
        "rgb_channels": int(rgb.shape[1]),
        "package_version": __version__,
        "training": {
            "command": " ".join(["python scripts/train_warm_start.py", *(argv if argv is not None else sys.argv[1:])]),
            "cases": list(CASES),
            "seeds": list(seeds),
            "shape": list(args.shape),
            "labels": args.labels,
            "separation_steps": args.separation_steps,
            "settings": config.to_dict(),
            "final_loss": model.loss_history[-1],
            "label_psnr_mean_db": {"x1": float(np.mean([q[0] for q in qualities])), "x2": float(np.mean([q[1] for q in qualities]))},
            "labelling_s": round(labelling_s, 1),
            "training_s": round(training_s, 1),
        },
    }
    manifest["weights"] = [e for e in manifest["weights"] if e["file"] != name] + [entry]
    manifest_path.write_text(json.dumps(manifest, indent=2) + "\n")
    print(f"Wrote {path} ({path.stat().st_size // 1024} KiB) and {manifest_path}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
