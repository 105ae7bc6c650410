"""Registration benchmark: known misalignments of synthetic photographs, and how well they are undone.

    python benchmarks/registration.py    # prints a Markdown table (about a minute on 2 CPU cores)

Each case warps a synthetic painting's photograph by a known transform (what the camera did), then
registers it back to the X-ray: automatically (translation, or similarity: rotation, scale and
shift) or from point pairs placed with 0.5 px of hand jitter. The error is the largest distance, in
X-ray pixels, between where the estimate and the truth put the photograph's four corners.
"""

from __future__ import annotations

import sys
import time

import numpy as np

from napari_xraysep.core.registration import (
    Alignment,
    apply_transform,
    estimate_similarity,
    estimate_translation,
    fit_transform,
    warp,
)
from napari_xraysep.synthetic import make_mixture


def similarity(rotation_deg: float, scale: float, dy: float, dx: float) -> np.ndarray:
    angle = np.radians(rotation_deg)
    c, s = scale * np.cos(angle), scale * np.sin(angle)
    return np.array([[c, -s, dx], [s, c, dy], [0, 0, 1.0]])


def corner_error(estimate: np.ndarray, truth: np.ndarray, shape: tuple[int, int]) -> float:
    corners = np.array([[0, 0], [0, shape[1] - 1], [shape[0] - 1, 0], [shape[0] - 1, shape[1] - 1]], float)
    return float(np.abs(apply_transform(estimate, corners) - apply_transform(truth, corners)).max())


CASES = [  # (method, shape, seed, rotation°, scale, dy, dx)
    ("automatic translation", (256, 384), 1, 0.0, 1.0, 3.4, -2.7),
    ("automatic translation", (512, 768), 2, 0.0, 1.0, -8.25, 6.6),
    ("automatic similarity", (256, 384), 3, -2.5, 0.96, 4.2, -1.7),
    ("automatic similarity", (512, 768), 4, 1.2, 1.0, 0.4, 0.7),
    ("automatic similarity", (512, 768), 5, 7.0, 1.08, -5.5, 3.3),
    ("similarity from 6 point pairs", (512, 768), 6, 3.0, 1.03, 2.0, -4.0),
    ("affine from 6 point pairs", (512, 768), 7, 3.0, 1.03, 2.0, -4.0),
]


def run_case(method: str, shape: tuple[int, int], seed: int, transform: np.ndarray) -> Alignment:
    painting = make_mixture("concealed_portrait", shape, seed)
    photo = warp(painting.rgb_surface, Alignment(np.linalg.inv(transform), "affine", 0.0), shape)
    if method == "automatic translation":
        return estimate_translation(painting.x_mixed, photo)[0]
    if method == "automatic similarity":
        return estimate_similarity(painting.x_mixed, photo)[0]
    rng = np.random.default_rng(seed)
    xray_points = rng.uniform((20, 20), (shape[0] - 20, shape[1] - 20), size=(6, 2))
    photo_points = apply_transform(np.linalg.inv(transform), xray_points) + rng.normal(0, 0.5, (6, 2))
    return fit_transform(photo_points, xray_points, method.split()[0])


def main() -> int:
    lines = [
        "| method | image | true offset | corner error (px) | point residual (px) | time (s) |",
        "|---|---|---|---|---|---|",
    ]
    for method, shape, seed, rotation, scale, dy, dx in CASES:
        truth = similarity(rotation, scale, dy, dx)
        started = time.perf_counter()
        alignment = run_case(method, shape, seed, truth)
        seconds = time.perf_counter() - started
        offset = f"{rotation:+.1f}°, ×{scale:.2f}, ({dy:+.2f}, {dx:+.2f}) px"
        residual = f"{alignment.residual_px:.2f}" if "point" in method else "—"
        error = corner_error(alignment.matrix, truth, shape)
        lines.append(f"| {method} | {shape[0]}×{shape[1]} | {offset} | {error:.2f} | {residual} | {seconds:.1f} |")
        print(lines[-1], file=sys.stderr)
    print("\n".join(lines))
    return 0


if __name__ == "__main__":
    sys.exit(main())
