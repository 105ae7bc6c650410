"""The labeled surface X-ray x̄1 of the paper (Eq. 7, Fig. 4c).

x̄1 is the mixed X-ray with the user's region — where the hidden design shows most — replaced by
the grayscale photograph. The exclusion loss then asks the hidden estimate x̂2 to share no edges
with x̄1. The paper pastes the grayscale as it is; in X-ray units that leaves a step at the region's
border and a contrast mismatch inside, which the exclusion loss reads as edges. The default here
first maps the grayscale onto the X-ray's intensities with a least-squares fit outside the region.
"""

from __future__ import annotations

from typing import Literal

import numpy as np

from .errors import InputError

LabelMatch = Literal["linear", "none"]

# ITU-R BT.601 luma weights: the usual "grayscale" of a photograph.
LUMA_WEIGHTS = np.array([0.299, 0.587, 0.114], dtype=np.float32)


def grayscale(rgb_surface: np.ndarray) -> np.ndarray:
    """Luma of a (3, H, W) image as (H, W) float32."""
    if rgb_surface.ndim != 3 or rgb_surface.shape[0] != 3:
        raise InputError(f"grayscale() expects a (3, H, W) image; got shape {rgb_surface.shape}.")
    return np.tensordot(LUMA_WEIGHTS, rgb_surface.astype(np.float32), axes=1)


def match_intensity(gray: np.ndarray, x_mixed: np.ndarray, fit_mask: np.ndarray) -> np.ndarray:
    """``a·gray + b`` with (a, b) the least-squares fit of ``x_mixed`` on ``fit_mask`` pixels.

    Falls back to matching mean and spread over the whole image when ``fit_mask`` has too few
    pixels or no contrast to fit (the region covers almost everything).
    """
    g = gray[fit_mask].astype(np.float64)
    x = x_mixed[fit_mask].astype(np.float64)
    if g.size >= 2 and np.ptp(g) > 0:
        slope, intercept = np.polyfit(g, x, deg=1)
    else:
        g_all, x_all = gray.astype(np.float64), x_mixed.astype(np.float64)
        slope = x_all.std() / g_all.std() if g_all.std() > 0 else 0.0
        intercept = x_all.mean() - slope * g_all.mean()
    return (slope * gray + intercept).astype(np.float32)


def labeled_surface_xray(
    x_mixed: np.ndarray,
    rgb_surface: np.ndarray,
    region_mask: np.ndarray,
    match: LabelMatch = "linear",
) -> np.ndarray:
    """x̄1: ``x_mixed`` outside ``region_mask``, the (intensity-matched) grayscale photo inside.

    Shapes: ``x_mixed`` (H, W), ``rgb_surface`` (3, H, W), ``region_mask`` (H, W) bool.
    ``match="none"`` is the paper's plain replacement.
    """
    if match not in ("linear", "none"):
        raise InputError(f"Unknown label matching {match!r}; choose 'linear' or 'none'.")
    gray = grayscale(rgb_surface)
    if match == "linear":
        gray = match_intensity(gray, x_mixed, ~region_mask)
    return np.where(region_mask, gray, x_mixed).astype(np.float32)
