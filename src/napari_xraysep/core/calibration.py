"""The X-ray's units at apply time: is a new X-ray in the units the model was trained in?

A model maps its X-ray into unit range with the normalisation of the X-ray it was trained on. The
same painting stored as 8-bit instead of 16-bit, as floats 0–1, or taken at half the exposure maps
elsewhere, and the model's surface prediction x̂1 (made from the photograph alone) then no longer
matches: x2 = x − x̂1 comes out as about −x1, silently. So the X-ray is checked against what the
model predicts from the photograph:

* ``slope``: the gain of x on x̂1 in a high-pass band (least squares; the hidden design's and the
  weave's high frequencies are not correlated with x̂1, so they add noise, not bias),
* ``floor``: the FLOOR_PERCENTILE of x − slope·x̂1 (the hidden X-ray's faintest pixels),

measured once on the training data (kept in the model as its *reference*) and again on the new X-ray.
Their ratio is the new X-ray's gain g and offset h against the training units; when they differ
clearly from 1 and 0 the normalisation is corrected, ``(x − o − h·s) / (g·s)``, and the user told
(a negative gain — an inverted X-ray — is refused). When the photograph explains too little of the
X-ray for the gain to be measured, nothing is changed.

The floor is the hidden design's, so it depends on what part of the painting is measured: a detail
where the hidden layer is dense everywhere has a higher floor than the whole painting, in the same
units (crops of 128–384 px of a benchmark painting read offsets up to +0.32 with a gain of 0.98–1.02).
So the reference also keeps the *floor's spread*: the lowest and highest floor over windows of
FLOOR_WINDOWS sides tiling the training area, relative to its own. An offset within the spread of
windows about the measured area's size (widened by the tolerance), with the gain in tolerance, is
read as the painting's content, not as other units.
"""

from __future__ import annotations

import dataclasses
import warnings
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

import numpy as np
from scipy import ndimage

from .data import Normalisation
from .errors import InputError
from .tiling import block_means

# The high-pass band: the image minus its Gaussian blur of this σ (pixels).
HIGHPASS_SIGMA = 4.0
# How far its blur reaches (scipy's Gaussian stops at 4 σ), and the rows of a painting band-passed at a
# time (with that reach above and below).
BLUR_REACH, BAND_ROWS = int(4 * HIGHPASS_SIGMA + 0.5), 512
# The floor of x − slope·x̂1: the hidden X-ray's faintest pixels hold no hidden paint.
FLOOR_PERCENTILE = 5.0
# Below this correlation of the high-passed x and x̂1 the photograph explains too little of the
# X-ray to measure its units (and, when separating, to trust the separation).
MIN_CORRELATION = 0.2
# A gain within 1 ± this and an offset within ± this (in unit range: the X-ray's robust range) are
# the training units; beyond, the X-ray is recalibrated. Models without a reference (saved before
# it was kept) are compared with gain 1, offset 0 and a wider tolerance.
TOLERANCE = 0.2
TOLERANCE_WITHOUT_REFERENCE = 0.5
# At most this many pixels are used for the fit.
MAX_PIXELS = 1_000_000
# The units are checked only where at least this many measured pixels lie INTERIOR_REACH px or more
# inside the measured area (its high-pass band needs its neighbours): a thin strip or a small box of a
# painting read gains of 1.15–1.28 and offsets of −0.47 on the model's own painting.
MIN_INTERIOR = 1024
INTERIOR_REACH = int(2 * HIGHPASS_SIGMA)
# Holes in the measured area up to this side less one (scattered missing pixels, thin masked lines) are
# closed before its interior is counted.
HOLE_SIDE = 5
# Sides (px) of the windows over which the training area's floor spread is kept, where at least
# SPREAD_WINDOWS of them fit (the floors of two or three windows say little of a detail's).
FLOOR_WINDOWS = (64, 128, 256, 512)
SPREAD_WINDOWS = 4


@dataclass(frozen=True)
class UnitFit:
    """How an X-ray relates to the model's photograph-made prediction, in the model's unit range."""

    slope: float
    floor: float
    correlation: float
    # (side, lowest, highest): the floor over windows of that side tiling the measured area, less its
    # own floor (a training reference's; empty for a new X-ray's fit and in models saved before it).
    floor_spread: tuple[tuple[int, float, float], ...] = ()
    # Measured pixels INTERIOR_REACH px or more inside the measured area (-1: not counted, as in a model
    # file), and all of them (-1: not counted, in models saved before it was kept).
    interior: int = dataclasses.field(default=-1, compare=False)
    pixels: int = dataclasses.field(default=-1, compare=False)

    def __post_init__(self) -> None:
        # A model file stores the spread as lists.
        object.__setattr__(self, "floor_spread", tuple((int(a), float(b), float(c)) for a, b, c in self.floor_spread))

    @classmethod
    def measure(cls, blocks: Iterable[tuple[np.ndarray, np.ndarray]], spread: bool = False) -> UnitFit | None:
        """The fit over (x, x̂1) pairs of (h, w) unit-range blocks (NaN where missing); None if they
        hold too few pixels. With ``spread`` (a training area: one block), the floor's spread over
        windows (:data:`FLOOR_WINDOWS`) is measured too."""
        blocks = list(blocks)
        high_x, high_p, x_all, p_all = [], [], [], []
        interior = 0
        for x, predicted in blocks:
            valid = np.isfinite(x) & np.isfinite(predicted)
            if valid.sum() < 16:
                continue
            interior += _interior(valid)
            high_x.append(_band_values(x, valid))
            high_p.append(_band_values(predicted, valid))
            x_all.append(np.asarray(x[valid], np.float64))
            p_all.append(np.asarray(predicted[valid], np.float64))
        if not x_all:
            return None
        # One block's values as they are (a copy of four arrays of a whole painting's pixels is not free).
        hx, hp, x, p = (part[0] if len(part) == 1 else np.concatenate(part) for part in (high_x, high_p, x_all, p_all))
        del high_x, high_p, x_all, p_all
        pixels = len(x)
        if len(x) > MAX_PIXELS:
            pick = np.random.default_rng(0).choice(len(x), MAX_PIXELS, replace=False)
            hx, hp, x, p = hx[pick], hp[pick], x[pick], p[pick]
        power = float(hp @ hp)
        if power <= 0 or float(hx @ hx) <= 0:
            floor = float(np.percentile(x, FLOOR_PERCENTILE))
            return cls(slope=0.0, floor=floor, correlation=0.0, interior=interior, pixels=pixels)
        slope = float(hx @ hp) / power
        correlation = float(hx @ hp) / float(np.sqrt(power * float(hx @ hx)))
        floor = float(np.percentile(x - slope * p, FLOOR_PERCENTILE))
        floor_spread = _floor_spread(*blocks[0], slope, floor) if spread and len(blocks) == 1 else ()
        return cls(slope, floor, correlation, floor_spread, interior=interior, pixels=pixels)

    def to_dict(self) -> dict[str, Any]:
        # Plain floats and lists: a model file holds no numpy objects (it is read with weights_only).
        return {
            "slope": float(self.slope), "floor": float(self.floor), "correlation": float(self.correlation),
            "floor_spread": [list(entry) for entry in self.floor_spread], "pixels": int(self.pixels),
        }

    def content_spread(self, pixels: int) -> tuple[float, float] | None:
        """(lowest, highest) floor, less the whole's, of the windows nearest in size to an area of
        ``pixels`` measured pixels: of the largest side whose square the area fills, else the smallest
        side's; None without a spread, or for an area at least as large as the measured one."""
        if not self.floor_spread or pixels < 0 or (self.pixels > 0 and pixels >= self.pixels):
            return None
        filled = [entry for entry in self.floor_spread if entry[0] ** 2 <= pixels]
        _, low, high = filled[-1] if filled else self.floor_spread[0]
        return low, high


def _floor_spread(x: np.ndarray, predicted: np.ndarray, slope: float, floor: float) -> tuple[tuple[int, float, float], ...]:
    """(side, lowest, highest) of the floor of ``x − slope·predicted`` ((h, w), NaN where missing) over
    the windows of each FLOOR_WINDOWS side that tile it, less ``floor``; windows at least half measured
    count, and a side with fewer than SPREAD_WINDOWS such windows is left out."""
    residual = np.asarray(x, np.float64) - slope * np.asarray(predicted, np.float64)
    spread = []
    for side in FLOOR_WINDOWS:
        rows, cols = residual.shape[0] // side, residual.shape[1] // side
        if rows * cols < SPREAD_WINDOWS:
            break  # larger sides fit fewer still
        windows = residual[: rows * side, : cols * side].reshape(rows, side, cols, side).swapaxes(1, 2).reshape(rows * cols, -1)
        floors = [np.percentile(w[np.isfinite(w)], FLOOR_PERCENTILE) for w in windows if np.isfinite(w).sum() * 2 >= w.size]
        if len(floors) >= SPREAD_WINDOWS:
            spread.append((side, float(min(floors)) - floor, float(max(floors)) - floor))
    return tuple(spread)


def _interior(valid: np.ndarray) -> int:
    """How many of ``valid``'s (h, w) pixels lie INTERIOR_REACH px or more inside it and its block's
    edges, once holes under HOLE_SIDE px are closed (dead pixels, craquelure masked out: no sliver)."""
    reach = 2 * INTERIOR_REACH + 1
    if valid.all():  # the common case, counted without filtering a whole painting
        return max(0, valid.shape[0] - reach + 1) * max(0, valid.shape[1] - reach + 1)
    # A closing by grey-scale filters (separable, several times faster than a binary one on 16 MP).
    grown = ndimage.maximum_filter(valid.view(np.uint8), HOLE_SIDE, mode="constant", cval=0)
    whole = ndimage.minimum_filter(grown, HOLE_SIDE, mode="constant", cval=1)
    return int(np.count_nonzero(ndimage.minimum_filter(whole, reach, mode="constant", cval=0)))


def _band_values(image: np.ndarray, valid: np.ndarray) -> np.ndarray:
    """``_highpass(image, valid)[valid]`` in float64, computed a strip of BAND_ROWS rows at a time:
    bit for bit the same values (the blur reaches only BLUR_REACH rows), without float64 copies of a
    whole painting (a 36-megapixel one's unit check took 3 GB beside its inputs)."""
    values = np.empty(int(np.count_nonzero(valid)), np.float64)
    height, done = image.shape[0], 0
    for top in range(0, height, BAND_ROWS):
        low, high = max(0, top - BLUR_REACH), min(height, top + BAND_ROWS + BLUR_REACH)
        band = _highpass(np.asarray(image[low:high], np.float64), valid[low:high])
        kept = band[top - low : top - low + BAND_ROWS][valid[top : top + BAND_ROWS]]
        values[done : done + kept.size] = kept
        done += kept.size
    return values


def _highpass(image: np.ndarray, valid: np.ndarray) -> np.ndarray:
    """``image`` minus its normalised-convolution Gaussian blur (missing pixels take no part)."""
    weight = ndimage.gaussian_filter(valid.astype(np.float64), HIGHPASS_SIGMA, mode="nearest")
    blurred = ndimage.gaussian_filter(np.where(valid, image, 0.0), HIGHPASS_SIGMA, mode="nearest")
    return image - np.divide(blurred, weight, out=np.zeros_like(blurred), where=weight > 1e-6)


@dataclass(frozen=True)
class Calibration:
    """The new X-ray against the training units: ``gain`` and ``offset`` (unit range) and whether the
    normalisation was corrected for them."""

    gain: float
    offset: float
    correlation: float
    recalibrated: bool
    reference: bool  # whether the model kept its training fit (else gain 1, offset 0 were assumed)

    def describe(self, training: Normalisation | None = None) -> str:
        """The warning a user reads. With the ``training`` normalisation, the relation is said in this
        X-ray's own units — its values are the training X-ray's × gain + a constant — so that a plain
        rescaling (another bit depth: a constant near 0) reads as one. The unit-range offset is not said
        there: measured from the training X-ray's 0.5th percentile, a rescaling shows as one too (a
        tester read "offset +0.878 of the range" as an 88 % shift where the constant was 1.7 % of it)."""
        if training is None:
            relation = f"gain {self.gain:.3g} and offset {self.offset:+.3g} (of the training X-ray's range)"
        else:
            # unit = (x_new − o')/s' with o' = o + h·s, s' = g·s: x_new = g·x_training + (o' − g·o)
            constant = (training.offset + self.offset * training.scale) - self.gain * training.offset
            relation = (
                f"its values are the training X-ray's × {self.gain:.3g} {'+' if constant >= 0 else '−'} "
                f"{abs(constant):.3g} (in this X-ray's units)"
            )
        return (
            f"The X-ray is not in the units the model was trained in: against the model's prediction from the "
            f"photograph {relation} — "
            "another bit depth, scaling or exposure. It was recalibrated to the training units before applying; "
            "results are in this X-ray's own units. (A model made on another painting reads as another gain "
            "too, for its colours are not this painting's: a model fitted on this one, with xraysep separate, "
            "separates it better.)"
        )

    def to_dict(self) -> dict[str, Any]:
        return {
            "gain": self.gain, "offset": self.offset, "correlation": self.correlation,
            "recalibrated": self.recalibrated, "model_reference": self.reference,
        }


def unexplained(fit: UnitFit | None, training: str | None = None) -> str | None:
    """The warning for a photograph that explains (almost) none of the X-ray's fine detail — another
    painting's, not registered, or mirrored — or None. ``training`` (how an auto-encoder was trained:
    "200 steps at learning rate 1e-06, not warm-started") names the other cause a network has: it may
    have learned too little to make a surface X-ray from any photograph, so the photograph is not blamed
    first."""
    if fit is None or abs(fit.correlation) >= MIN_CORRELATION:
        return None
    if training is not None:
        return (
            f"The auto-encoder's surface X-ray explains almost none of the X-ray's detail (it correlates "
            f"{fit.correlation:.2f} with the X-ray's fine detail) after {training}, so x2 is nearly the mixed X-ray: "
            "the network may be trained too little — train it longer (more steps, or continue from its model) — or "
            "the photograph is not this painting's, not registered or mirrored (the default colour map, fitted in "
            "seconds, tells which)."
        )
    return (
        f"The photograph explains almost none of the X-ray's detail (the surface X-ray made from it correlates "
        f"{fit.correlation:.2f} with the X-ray's fine detail), so x2 is nearly the mixed X-ray: check that it is "
        "this painting's photograph, registered to the X-ray and the right way round (mirrored, as a radiograph "
        "seen from the back, it is not — xraysep align tries the mirror image)."
    )


# A radiograph shows dense paint bright, and the lights of a painting are mostly lead white: an X-ray
# whose fine detail is darker where the photograph is lighter, at least this strongly, reads as stored
# inverted. The benchmark's photographic files: +0.44 to +0.92 inside the painting (every real-file
# variant, 3 seeds), down to −0.29 over a whole frame with a backdrop or a bare tacking margin (where
# no painting was found or sought); the same X-rays inverted, the negatives.
INVERTED_CORRELATION = -0.4
INVERTED_SIDE = 1024  # compared on block means of at most this many pixels a side
_BAND = (1.0, 8.0)  # the fine detail compared: Gaussian blurs of these σ (px) subtracted


def lightness_correlation(x_mixed: np.ndarray, rgb_surface: np.ndarray, use: np.ndarray | None = None) -> float | None:
    """The correlation (−1–1) of the X-ray's fine detail with the photograph's lightness (the mean of
    its first three channels): ``x_mixed`` (H, W), ``rgb_surface`` (C ≥ 3, H, W) channels first, any
    units; ``use`` (H, W) bool, the pixels compared (None: the finite ones). Measured on block means of at
    most INVERTED_SIDE px a side, in a band of Gaussian blurs σ 1 and 8 px apart. None where fewer than
    100 blocks are usable or either image is flat."""
    factor = max(1, -(-max(x_mixed.shape) // INVERTED_SIDE))
    lightness = np.mean(rgb_surface[:3], axis=0)
    keep = np.isfinite(x_mixed) & np.isfinite(lightness) & (True if use is None else use)
    blocks = [
        block_means(np.where(keep, image, np.nan), factor) for image in (x_mixed.astype(np.float64), lightness)
    ]
    usable = np.isfinite(blocks[0]) & np.isfinite(blocks[1])
    if usable.sum() < 100:
        return None
    bands = []
    for block in blocks:
        filled = np.where(usable, block, np.mean(block[usable]))
        bands.append((ndimage.gaussian_filter(filled, _BAND[0]) - ndimage.gaussian_filter(filled, _BAND[1]))[usable])
    spread = bands[0].std() * bands[1].std()
    if not spread > 0:
        return None
    return float(np.mean((bands[0] - bands[0].mean()) * (bands[1] - bands[1].mean())) / spread)


def inverted_warning(correlation: float | None) -> str | None:
    """The warning for an X-ray that reads as stored inverted (:func:`lightness_correlation` at or
    below INVERTED_CORRELATION), or None."""
    if correlation is None or correlation > INVERTED_CORRELATION:
        return None
    return (
        f"The X-ray's detail is darker where the photograph is lighter (they correlate {correlation:.2f}), "
        "where a radiograph usually shows a painting's lights bright (lead white is dense). If this X-ray is "
        "stored inverted (a scan of the film's negative, or a MinIsWhite file read without its tag: in napari, "
        "by napari's own reader — open it with napari-xraysep's), invert it and "
        "run again: x2 is otherwise a negative of the hidden design. If its dense paint really is dark in the "
        "photograph, the X-ray is right as it is."
    )


def photograph_fit(fit: UnitFit | None, warning: str | None, lightness: float | None = None) -> dict[str, Any] | None:
    """JSON-ready, for run.json: how much of the X-ray's fine detail the surface X-ray made from the
    photograph explains (``correlation``, −1–1) and the ``warning`` the user was given about the pair
    where it explains almost none (:func:`unexplained`) or the X-ray reads as inverted
    (:func:`inverted_warning`); None otherwise — so that a run's record says what the screen did — and,
    where measured, the X-ray's fine detail's correlation with the photograph's ``lightness``
    (:func:`lightness_correlation`). None where nothing was measured."""
    if fit is None:
        return None
    record = {"correlation": round(float(fit.correlation), 4), "warning": warning}
    return record if lightness is None else record | {"lightness_correlation": round(lightness, 4)}


def calibrate(reference: UnitFit | None, fit: UnitFit | None) -> Calibration | None:
    """The new X-ray's gain and offset against the training units from its ``fit`` and the model's
    ``reference`` (None: a model saved before references were kept — gain 1, offset 0 assumed).
    None when the photograph explains too little of the X-ray (or the training photograph of the
    training X-ray) to tell (MIN_CORRELATION), or — with a warning — when the fit covers too little of
    the painting (MIN_INTERIOR pixels inside the area measured, if counted). Raises
    :class:`InputError` for an X-ray that is inverted against the prediction."""
    if fit is None or abs(fit.correlation) < MIN_CORRELATION:
        return None
    if 0 <= fit.interior < MIN_INTERIOR:
        warnings.warn(
            f"Too little of the painting to check the X-ray's units against the model's ({fit.interior} pixels "
            f"{INTERIOR_REACH} px or more inside the area measured, under {MIN_INTERIOR}: a small box or a thin "
            "strip): it is applied as if in the units the model was trained in.", UserWarning, stacklevel=3,
        )
        return None
    if reference is not None and abs(reference.correlation) < MIN_CORRELATION:
        return None  # the model's own photograph explained too little of its X-ray: no gain to compare with
    slope, floor = (reference.slope, reference.floor) if reference is not None and reference.slope > 0 else (1.0, 0.0)
    gain = fit.slope / slope
    offset = fit.floor - gain * floor
    if gain <= 0:
        raise InputError(
            "The X-ray is inverted against what the model predicts from the photograph (dense paint dark instead of "
            "bright, or another image); give the X-ray as the model was trained on it (dense = bright). (A painting "
            "area that holds mostly backdrop, film margin or a colour chart reads so too: give the painting's own.)"
        )
    tolerance = TOLERANCE if reference is not None else TOLERANCE_WITHOUT_REFERENCE
    off = abs(gain - 1) > tolerance or abs(offset) > tolerance
    content = None if reference is None else reference.content_spread(fit.pixels)
    if off and abs(gain - 1) <= tolerance and content is not None:
        # A detail's floor is its own hidden design's: within what the training area's windows of its
        # size showed, the offset is the painting's content, not other units.
        off = not content[0] - tolerance <= offset <= content[1] + tolerance
    return Calibration(gain, offset, fit.correlation, off, reference is not None)


def recalibrated(normalisation: Normalisation, calibration: Calibration) -> Normalisation:
    """``normalisation`` corrected so that the new X-ray maps into the training units:
    unit = ((x − o)/s − h)/g = (x − (o + h·s)) / (g·s)."""
    return Normalisation(
        offset=normalisation.offset + calibration.offset * normalisation.scale, scale=calibration.gain * normalisation.scale
    )
