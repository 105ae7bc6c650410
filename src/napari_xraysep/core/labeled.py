"""The labeled surface X-ray x̄1 of the paper (Eq. 7, Fig. 4c).

x̄1 is the mixed X-ray with the user's region — where the hidden design shows most — replaced by
the grayscale photograph. The exclusion loss then asks the hidden estimate x̂2 to share no edges
with x̄1. The paper pastes the grayscale as it is; in X-ray units that leaves a step at the region's
border and a contrast mismatch inside, which the exclusion loss reads as edges. The auto-encoder's
default here first maps the grayscale onto the X-ray's intensities with a least-squares fit outside
the region; ``"colour_map"`` pastes the colour map's surface X-ray instead (the auto-encoder started
from the default method's answer).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Literal

import numpy as np

from .errors import InputError

LabelMatch = Literal["linear", "none", "colour_map"]

# ITU-R BT.601 luma weights: the usual "grayscale" of a photograph.
LUMA_WEIGHTS = np.array([0.299, 0.587, 0.114], dtype=np.float32)


def grayscale(rgb_surface: np.ndarray) -> np.ndarray:
    """Luma of a (3, H, W) image as (H, W) float32."""
    if rgb_surface.ndim != 3 or rgb_surface.shape[0] != 3:
        raise InputError(f"grayscale() expects a (3, H, W) image; got shape {rgb_surface.shape}.")
    return np.tensordot(LUMA_WEIGHTS, rgb_surface.astype(np.float32), axes=1)


def match_intensity(
    gray: np.ndarray, x_mixed: np.ndarray, fit_mask: np.ndarray, side_maps: Sequence[np.ndarray] = ()
) -> np.ndarray:
    """``a·gray + Σ b_k·side_k + c``, the least-squares fit of ``x_mixed`` on ``fit_mask`` pixels.

    Side maps (e.g. a Cu-K element map) let the label carry surface absorbers the photograph does not
    show. Falls back to matching the grayscale's mean and spread to the X-ray's over the whole image
    when ``fit_mask`` has too few pixels or no contrast to fit (the region covers almost everything).
    """
    features = [gray, *side_maps]
    x = x_mixed[fit_mask].astype(np.float64)
    if x.size > len(features) and np.ptp(gray[fit_mask]) > 0:
        design = np.stack([f[fit_mask].astype(np.float64) for f in features] + [np.ones_like(x)], axis=1)
        coefficients, *_ = np.linalg.lstsq(design, x, rcond=None)
        fitted = sum(c * f.astype(np.float64) for c, f in zip(coefficients[:-1], features)) + coefficients[-1]
        return np.asarray(fitted, dtype=np.float32)
    g_all, x_all = gray.astype(np.float64), x_mixed.astype(np.float64)
    slope = x_all.std() / g_all.std() if g_all.std() > 0 else 0.0
    return (slope * g_all + (x_all.mean() - slope * g_all.mean())).astype(np.float32)


def labeled_surface_xray(
    x_mixed: np.ndarray,
    rgb_surface: np.ndarray,
    region_mask: np.ndarray,
    match: LabelMatch = "linear",
    side_maps: Sequence[np.ndarray] = (),
    surface_estimate: np.ndarray | None = None,
    valid: np.ndarray | None = None,
) -> np.ndarray:
    """x̄1: ``x_mixed`` outside ``region_mask``, an estimate of the surface X-ray inside: the
    (intensity-matched) grayscale photo, or with ``match="colour_map"`` the given ``surface_estimate``.

    Shapes: ``x_mixed`` (H, W), ``rgb_surface`` (3, H, W), ``region_mask`` (H, W) bool, ``side_maps``
    (H, W) each, joining the grayscale in the intensity match, ``surface_estimate`` (H, W); ``valid``
    (H, W) bool, if given, limits the intensity match to pixels with data.
    ``match="none"`` is the paper's plain replacement (side maps unused). Raises InputError for an
    unknown ``match`` or a colour-map label without its estimate.
    """
    if match not in ("linear", "none", "colour_map"):
        raise InputError(f"Unknown label matching {match!r}; choose 'linear', 'none' or 'colour_map'.")
    if match == "colour_map":
        if surface_estimate is None:
            raise InputError("A colour-map label needs the colour map's surface estimate.")
        inside = surface_estimate
    else:
        inside = grayscale(rgb_surface)
        if match == "linear":
            inside = match_intensity(inside, x_mixed, ~region_mask if valid is None else ~region_mask & valid, side_maps)
    return np.where(region_mask, inside, x_mixed).astype(np.float32)
