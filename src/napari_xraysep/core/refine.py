"""Step 2 of the paper (Eq. 9): share the reconstruction error evenly between the two X-rays.

The exclusion loss removes what x̂1 and x̂2 have in common, and the decoder drops fine detail such
as the canvas weave; ``e = x − x̂1 − x̂2`` holds both. Adding half of it to each estimate gives
separated X-rays that look like radiographs and add up to the measured one exactly. Where the weave
is a layer of its own (the colour map), it is set aside first: ``e = x − x̂1 − x̂2 − weave``, and
``x1 + x2 + weave == x``.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class RefinedSeparation:
    """x1, x2 and the error map e, (H, W) float32 in the X-ray's units."""

    x1: np.ndarray
    x2: np.ndarray
    error_map: np.ndarray


def refine(
    x_mixed: np.ndarray, x1_hat: np.ndarray, x2_hat: np.ndarray, weave: np.ndarray | None = None
) -> RefinedSeparation:
    """``e = x − x̂1 − x̂2 − weave``; ``x1 = x̂1 + e/2``; ``x2 = x̂2 + e/2`` (computed in float64;
    ``weave`` None or zero for the paper's Eq. 9 as written).

    ``x2`` is taken as ``x − weave − x1`` in float64, so ``x1 + x2 + weave == x`` up to the final
    float32 rounding. Raises ValueError if the shapes differ.
    """
    x = np.asarray(x_mixed, dtype=np.float64)
    x1_hat = np.asarray(x1_hat, dtype=np.float64)
    x2_hat = np.asarray(x2_hat, dtype=np.float64)
    weave = np.zeros_like(x) if weave is None else np.asarray(weave, dtype=np.float64)
    if not x.shape == x1_hat.shape == x2_hat.shape == weave.shape:
        raise ValueError(f"shapes differ: x {x.shape}, x1_hat {x1_hat.shape}, x2_hat {x2_hat.shape}, weave {weave.shape}")
    error_map = x - x1_hat - x2_hat - weave
    x1 = x1_hat + error_map / 2
    return RefinedSeparation(
        x1=x1.astype(np.float32),
        x2=(x - weave - x1).astype(np.float32),
        error_map=error_map.astype(np.float32),
    )
