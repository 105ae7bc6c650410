"""Thread counts from the canvas weave: the density and direction of each family of threads, for the
whole painting and as local maps across it.

Conservators count a canvas's threads on its radiograph — threads per centimetre in each direction,
mapped across the painting — to match canvases cut from one bolt. The weave layer holds exactly what
that needs. Each family of threads (the vertical and the horizontal ones) is a spectral peak of the
weave (:func:`~.weave.find_thread_frequencies`) at wave vector ``f0``; its local frequency is read
from the phase of the weave demodulated at ``f0`` (a Gabor filter of a period or two, so a spacing
that drifts is followed):

    z(p) = G_σ ∗ (w(p) · e^{−2πi f0·p}),   f(p) = f0 + ∇arg z(p) / 2π,

then read over windows of a centimetre or two, as thread-count studies do: fitted by a plane weighted
by |z|² (where the threads show), so a window cut by the painting's edge follows a drifting spacing
to the edge rather than being pulled towards the inside. Density = |f| (cycles per pixel) over the pixel spacing; the threads run
perpendicular to ``f``.

References: D. H. Johnson, C. R. Johnson Jr., A. G. Klein, W. A. Sethares, H. Lee, E. Hendriks,
"A thread counting algorithm for art forensics", IEEE DSP Workshop 2009 (thread counts from spectral
peaks in windows, weave maps); H. Yang, J. Lu, W. Brown, I. Daubechies, L. Ying, "Quantitative canvas
weave analysis using 2-D synchrosqueezed transforms", IEEE SPM 2015 (local frequencies of a weave).
"""

from __future__ import annotations

import dataclasses
import functools
import math
import warnings
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from scipy import ndimage

from .errors import InputError
from .weave import ThreadPeak, find_thread_frequencies

DEMODULATION_PERIODS = 1.5  # σ of the demodulating Gaussian, in thread periods: follows ±10 % drift
EDGE_MARGIN = 3.0  # σ of it: phases nearer an edge come from a cut window and are left out
MIN_COVERAGE = 0.02  # a window with less of its weight on usable pixels is not counted
DEFAULT_WINDOW_MM = 15.0  # the windows of thread-count maps (1–2 cm in the literature)
DEFAULT_WINDOW_PX = 128  # … when the pixel spacing is unknown
MIN_FAMILY_ANGLE = 45.0  # two families of threads cross at ≥ 45° (a weave's warp and weft)


@dataclass(frozen=True)
class ThreadFamily:
    """One family of threads: ``name`` says which way the threads run ("vertical threads" cross the
    painting's rows). ``density`` is threads per cm (per pixel if the spacing is unknown) counted across
    the threads, ``angle_deg`` the threads' direction (degrees from the image's x axis, counter-clockwise
    as seen with row 0 at the top, in [0, 180)). The maps are (h, w) on a grid of ``step`` pixels whose
    first centre is at pixel (step // 2, step // 2); NaN where the weave does not show."""

    name: str
    density: float
    angle_deg: float
    density_std: float
    density_map: np.ndarray = field(repr=False)
    angle_map: np.ndarray = field(repr=False)
    step: int = 1


def signed_angle(angle_deg: float) -> float:
    """A thread's direction (degrees, any turn) as said to a user, in (−90°, 90°]: a direction and its
    opposite are one line, and "177.4° from horizontal" read as nearly reversed to a tester (−2.6°)."""
    folded = (float(angle_deg) + 90.0) % 180.0 - 90.0
    return 90.0 if folded == -90.0 else folded


@dataclass(frozen=True)
class ThreadCount:
    """The thread counts of a weave: its families (none: no weave was found), the unit of every
    density (``threads/cm`` with a known spacing, else ``threads/px``), the pixel spacing in mm and
    the window the maps average over (px)."""

    families: tuple[ThreadFamily, ...]
    unit: str
    pixel_size_mm: tuple[float, float] | None  # (row, column) mm per pixel
    window_px: int

    @property
    def found(self) -> bool:
        return bool(self.families)

    def summary(self, give_spacing: str = "") -> str:
        """One line per family, in a conservator's words; with an unknown spacing, a last line saying
        the counts are per pixel, and ``give_spacing`` — how this face is told the pixel size."""
        if not self.families:
            return "No canvas weave was found: no thread count."
        lines = []
        for family in self.families:
            digits = ".1f" if self.pixel_size_mm is not None else ".3g"
            lines.append(
                f"{family.name}: {family.density:{digits}} ± {family.density_std:{digits}} {self.unit} "
                f"(running at {signed_angle(family.angle_deg):.1f}° from horizontal)"
            )
        if self.pixel_size_mm is None:
            hint = f"; {give_spacing}" if give_spacing else ""
            lines.append(f"The pixel spacing is unknown, so counts are per pixel{hint}.")
        return "\n".join(lines)

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready: the unit, spacing, window and each family's figures, its direction said as to a
        user (:func:`signed_angle`: the printed line's −88.3° was 91.7° in threads.json)."""
        return {
            "unit": self.unit,
            "pixel_size_mm": self.pixel_size_mm,
            "window_px": self.window_px,
            "weave_found": self.found,
            "families": [
                {"name": f.name, "density": f.density, "density_std": f.density_std,
                 "angle_deg": signed_angle(f.angle_deg), "map_step_px": f.step}
                for f in self.families
            ],
        }

    def map_rows(self) -> list[dict[str, Any]]:
        """The local maps as table rows (one per grid point and family): row and column of the
        window's centre (px), family, density, angle (:func:`signed_angle`) — for a CSV."""
        rows = []
        for family in self.families:
            centres = family.step // 2 + family.step * np.arange(family.density_map.shape[0])
            columns = family.step // 2 + family.step * np.arange(family.density_map.shape[1])
            for i, y in enumerate(centres):
                for j, x in enumerate(columns):
                    density = family.density_map[i, j]
                    if np.isfinite(density):
                        rows.append({"row_px": int(y), "col_px": int(x), "family": family.name,
                                     "density": float(density), "angle_deg": signed_angle(family.angle_map[i, j])})
        return rows


def fundamental_pair(peaks: list[ThreadPeak]) -> list[ThreadPeak]:
    """The weave's two families among its spectral peaks (strongest first): the strongest peak and the
    strongest one crossing it at ≥ MIN_FAMILY_ANGLE; harmonics and crossings of the two are left out.
    One peak if nothing crosses it; none for none."""
    if not peaks:
        return []
    first = max(peaks, key=lambda p: p.ratio)
    crossing = [p for p in peaks if _crossing_angle(first, p) >= MIN_FAMILY_ANGLE]
    if not crossing:
        return [first]
    # A sum or difference of the two fundamentals is weaker than either and longer than the longer of them.
    second = max(crossing, key=lambda p: p.ratio)
    return [first, second]


def _crossing_angle(a: ThreadPeak, b: ThreadPeak) -> float:
    difference = abs(a.angle_deg - b.angle_deg) % 180.0
    return min(difference, 180.0 - difference)


def _thread_angle(fy: np.ndarray, fx: np.ndarray) -> np.ndarray:
    """Direction of threads (perpendicular to the wave vector (fy, fx)), degrees in [0, 180), measured
    counter-clockwise from the x axis as seen on screen (rows grow downwards)."""
    wave = np.degrees(np.arctan2(-fy, fx))  # on screen, +y points down
    return np.mod(wave + 90.0, 180.0)


# The families a count names (threads within 45° of vertical, or of horizontal).
FAMILY_NAMES = ("vertical threads", "horizontal threads")
# The tables a count is written as (`xraysep weave --out`), beside one density map per family.
THREAD_TABLES = ("threads.json", "threads.csv")


def density_map_name(family: str) -> str:
    """The file of a family's density map (``vertical_threads_density.tif``)."""
    return f"{family.replace(' ', '_')}_density.tif"


# Every file a count may write.
COUNT_FILES = (*THREAD_TABLES, *map(density_map_name, FAMILY_NAMES))


def family_name(angle_deg: float) -> str:
    """"vertical threads" for threads within 45° of vertical, else "horizontal threads"."""
    return FAMILY_NAMES[0] if 45.0 <= angle_deg < 135.0 else FAMILY_NAMES[1]


def _cell_sums(image: np.ndarray, cell: int) -> np.ndarray:
    """Sums of ``image`` (H, W) over ``cell`` × ``cell`` blocks (the last ones cut by the edge)."""
    height, width = image.shape
    rows, columns = -(-height // cell), -(-width // cell)
    padded = np.zeros((rows * cell, columns * cell))
    padded[:height, :width] = image
    return padded.reshape(rows, cell, columns, cell).sum(axis=(1, 3))


def local_frequency(weave: np.ndarray, f0: tuple[float, float], window_px: float, step: int, valid: np.ndarray | None = None
                    ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(fy, fx, strength) maps of the threads near wave vector ``f0`` = (fy, fx) cycles/px, on the
    grid of ``step`` px whose first centre is pixel (step // 2, step // 2): the phase gradient of the
    demodulated weave, fitted by a plane over a Gaussian window of FWHM ``window_px`` weighted by the
    local power (``strength``: that power per pixel of the window that was used). ``valid`` (H, W)
    bool marks the pixels to use (all by default). NaN where less than MIN_COVERAGE of a window
    could be used.

    Two things keep the windows at the painting's edges honest. The demodulated phase within
    EDGE_MARGIN σ of an edge or a missing pixel is read from a cut window (pulled towards ``f0``), so
    it is left out. And a window cut by the edge is fitted by a plane, not averaged: a mean there is
    pulled towards the inside by a drifting spacing; a plane follows the drift to the edge.
    """
    height, width = weave.shape
    fy0, fx0 = f0
    sigma = DEMODULATION_PERIODS / math.hypot(fy0, fx0)
    valid = np.ones(weave.shape, dtype=bool) if valid is None else valid
    yy = np.arange(height, dtype=np.float64)[:, None]
    xx = np.arange(width, dtype=np.float64)[None, :]
    image = np.where(valid, weave - weave[valid].mean(), 0.0)
    shifted = image * np.exp(-2j * np.pi * (fy0 * yy + fx0 * xx))
    # Outside the image is nothing (not a mirror image, whose threads' phase jumps at the edge).
    z = ndimage.gaussian_filter(shifted.real, sigma, mode="constant") + 1j * ndimage.gaussian_filter(shifted.imag, sigma, mode="constant")
    dzy, dzx = np.gradient(z)
    # ∇arg z = Im(conj(z) ∇z) / |z|²; weighted by |z|² its numerator is all that is fitted.
    power = np.abs(z) ** 2
    inner = ndimage.binary_erosion(np.pad(valid, 1), iterations=math.ceil(EDGE_MARGIN * sigma))[1:-1, 1:-1]
    inner = inner if inner.any() else valid  # a sliver of a painting: its cut windows are all there is
    power = power * inner
    slopes = (np.imag(np.conj(z) * dzy) * inner, np.imag(np.conj(z) * dzx) * inner)
    # The windows' sums are taken on cells a sixteenth of a window wide (its FWHM spans 16 of them):
    # the same fit, at a fraction of the cost on a large painting.
    cell = max(1, step // 4)
    window = window_px / 2.355 / cell
    blur = functools.partial(ndimage.gaussian_filter, sigma=window, mode="constant")

    def moments(weights: np.ndarray) -> list[np.ndarray]:
        return [blur(_cell_sums(weights * factor, cell)) for factor in (1.0, yy, xx)]

    s0, sy, sx = moments(power)
    syy, sxy = moments(power * yy)[1:]
    sxx = moments(power * xx)[2]
    rows = step // 2 + step * np.arange(len(range(step // 2, height, step)))
    columns = step // 2 + step * np.arange(len(range(step // 2, width, step)))
    # Each grid point is fitted on its cell's window, in coordinates centred on that cell.
    cy = (rows // cell * cell + (cell - 1) / 2)[:, None]
    cx = (columns // cell * cell + (cell - 1) / 2)[None, :]
    at = np.ix_(rows // cell, columns // cell)
    # How much of each window was used, as a fraction of a whole one (a cell of ones sums to cell²).
    coverage = blur(_cell_sums(inner.astype(np.float64), cell))[at] / cell**2
    m0, my, mx = s0[at], sy[at] - cy * s0[at], sx[at] - cx * s0[at]
    myy = syy[at] - 2 * cy * sy[at] + cy**2 * s0[at]
    mxx = sxx[at] - 2 * cx * sx[at] + cx**2 * s0[at]
    mxy = sxy[at] - cy * sx[at] - cx * sy[at] + cx * cy * s0[at]
    # A slight ridge on the plane's slopes: where the weights leave them undetermined, a mean.
    ridge = 1e-3 * m0 * (window * cell) ** 2
    normal = np.stack([np.stack([m0, my, mx], -1), np.stack([my, myy + ridge, mxy], -1), np.stack([mx, mxy, mxx + ridge], -1)], -2)
    empty = (m0 <= 0) | (coverage < MIN_COVERAGE)
    normal[empty] = np.eye(3)
    frequency = []
    for slope in slopes:
        t0, ty, tx = (moment[at] for moment in moments(slope))
        rhs = np.stack([t0, ty - cy * t0, tx - cx * t0], -1)
        plane = np.linalg.solve(normal, rhs[..., None])[..., 0]
        value = plane[..., 0] + plane[..., 1] * (rows[:, None] - cy) + plane[..., 2] * (columns[None, :] - cx)
        frequency.append(np.where(empty, np.nan, value) / (2 * np.pi))
    # Power per pixel used: a corner's window, cut by the edges and the margin, is not a faint weave.
    return fy0 + frequency[0], fx0 + frequency[1], m0 / np.maximum(coverage, MIN_COVERAGE) / cell**2


def count_threads(
    weave: np.ndarray,
    pixel_size_mm: float | tuple[float, float] | None = None,
    window_mm: float = DEFAULT_WINDOW_MM,
    valid: np.ndarray | None = None,
) -> ThreadCount:
    """Thread counts of the weave in ``weave`` (H, W): a separation's weave layer (best: little else
    is left in it) or a radiograph. ``pixel_size_mm`` (mm per pixel, or (row, column) mm for pixels that
    are not square: each axis is counted in its own spacing) gives densities in threads/cm;
    without it they are per pixel and the maps average over DEFAULT_WINDOW_PX. ``valid`` (H, W) bool
    leaves pixels out (missing data). NaN pixels are missing too.

    Returns no families when no weave shows (a panel, or a canvas too faint to count): nothing is
    invented. Raises InputError for a non-2-D image or a non-positive spacing or window.
    """
    weave = np.asarray(weave, dtype=np.float64)
    if weave.ndim != 2:
        raise InputError(f"Thread counting needs one grayscale image; got an array of shape {weave.shape}.")
    spacing = None if pixel_size_mm is None else tuple(float(v) for v in np.broadcast_to(np.asarray(pixel_size_mm, dtype=float), (2,)))
    if spacing is not None and not all(math.isfinite(v) and v > 0 for v in spacing):
        raise InputError(f"The pixel spacing must be a positive number of mm; got {pixel_size_mm!r}.")
    if not (math.isfinite(window_mm) and window_mm > 0):
        raise InputError(f"The counting window must be a positive number of mm; got {window_mm!r}.")
    finite = np.isfinite(weave)
    valid = finite if valid is None else (np.asarray(valid, dtype=bool) & finite)
    if not valid.any():
        raise InputError("The weave image holds no valid pixel.")
    weave = np.where(valid, weave, 0.0)
    all_valid = bool(valid.all())
    asked = DEFAULT_WINDOW_PX if spacing is None else int(round(window_mm / math.sqrt(spacing[0] * spacing[1])))
    window_px = min(max(8, asked), max(8, min(weave.shape)))
    if spacing is not None and window_px != asked:  # the maps' cells are not what the user asked for
        warnings.warn(
            f"The {window_mm:g} mm counting window is {asked} px at this pixel size, "
            f"{'under the 8 px a count needs' if asked < 8 else f'more than the image’s {min(weave.shape)} px'}: "
            f"counted over windows of {window_px} px ({window_px * math.sqrt(spacing[0] * spacing[1]):.3g} mm).",
            UserWarning, stacklevel=2,
        )
    # cycles per pixel along each axis → threads per cm (per pixel without a spacing)
    per_row, per_column = (1.0, 1.0) if spacing is None else (10.0 / spacing[0], 10.0 / spacing[1])
    unit = "threads/px" if spacing is None else "threads/cm"
    peaks = fundamental_pair(find_thread_frequencies(weave, None if all_valid else valid))
    step = max(1, window_px // 4)
    families = []
    grid = (slice(step // 2, None, step), slice(step // 2, None, step))
    for peak in peaks:
        fy, fx, strength = local_frequency(weave, (peak.fy, peak.fx), window_px, step, None if all_valid else valid)
        fy, fx = fy * per_row, fx * per_column  # in the painting's own lengths, so angles are true too
        density = np.hypot(fy, fx)
        angle = _thread_angle(fy, fx)
        # Where the threads barely show (a tenth of their typical power), the phase is noise.
        inside = valid[grid] & np.isfinite(density)
        shows = inside & (strength > 0.1 * np.median(strength[inside]))
        weights = np.where(shows, strength, 0.0)
        density, fy, fx = (np.where(shows, v, 0.0) for v in (density, fy, fx))
        mean = float(np.sum(weights * density) / np.sum(weights))
        std = float(np.sqrt(np.sum(weights * (density - mean) ** 2) / np.sum(weights)))
        mean_angle = float(np.degrees(np.arctan2(-np.sum(weights * fy), np.sum(weights * fx))) + 90.0) % 180.0
        density_map = np.where(shows, density, np.nan).astype(np.float32)
        angle_map = np.where(shows, angle, np.nan).astype(np.float32)
        families.append(ThreadFamily(family_name(mean_angle), mean, mean_angle, std, density_map, angle_map, step))
    families = _named_apart(families)
    families.sort(key=lambda f: f.name != FAMILY_NAMES[0])
    return ThreadCount(tuple(families), unit, spacing, window_px)


def _named_apart(families: list[ThreadFamily]) -> list[ThreadFamily]:
    """Two families that :func:`family_name` names alike (threads at 60° and 120° are both within 45° of
    vertical) named apart — the one nearer vertical (the first, if equally near) keeps "vertical
    threads", the other is "horizontal threads" — so that neither's map or table row hides the other's."""
    if len(families) != 2 or families[0].name != families[1].name:
        return families
    nearer = min(range(2), key=lambda k: abs(families[k].angle_deg - 90.0))
    return [dataclasses.replace(family, name=FAMILY_NAMES[int(k != nearer)]) for k, family in enumerate(families)]


# A bare number is mm; beyond this it was meant in another unit (µm, dpi): radiographs' pixels are 0.01–1 mm.
BARE_MM_MAX = 5.0
# Whatever the unit, a pixel outside this (mm) is no scanner's, detector's or camera's on a painting:
# '85mm' meant 85 µm, '1e-9' a slip; a TIFF cannot even store 1e-9 mm as a resolution.
PLAUSIBLE_MM = (1e-4, 10.0)


def parse_length(text: str) -> float:
    """Millimetres from '0.085mm', '85um', '85µm', '0.0085cm' or '300dpi'/'300ppi' (the length of one
    dot); a bare number is mm. Raises InputError for anything else or a length that is not positive."""
    value = text.strip().lower().replace(" ", "")
    units = {"mm": 1.0, "um": 1e-3, "µm": 1e-3, "μm": 1e-3, "cm": 10.0}
    try:
        for suffix in ("dpi", "ppi"):
            if value.endswith(suffix):
                number = float(value[: -len(suffix)])
                result = 25.4 / number if number > 0 else float("nan")
                break
        else:
            suffix = next((s for s in units if value.endswith(s)), "")
            result = float(value[: len(value) - len(suffix)] if suffix else value) * units.get(suffix, 1.0)
    except ValueError:
        result = float("nan")
    if not (math.isfinite(result) and result > 0):
        raise InputError(f"Pixel size {text!r} is not a positive spacing such as 0.085mm, 85um or 300dpi.")
    return result


def parse_pixel_size(text: str) -> float:
    """Millimetres per pixel (:func:`parse_length`), a bare number up to BARE_MM_MAX. Raises InputError
    for what :func:`parse_length` refuses, a bare number beyond BARE_MM_MAX (a user's '85' meant µm or
    dpi, not 85 mm a pixel) or a spacing outside PLAUSIBLE_MM in any unit ('85mm' for 85 µm)."""
    result = parse_length(text)
    if result > BARE_MM_MAX and is_bare_number(text):
        raise InputError(
            f"Pixel size {text!r} has no unit, and a bare number is read as mm: {result:g} mm a pixel is not a "
            "scanned film's or a detector's; give its unit, e.g. 85um, 0.085mm or 300dpi."
        )
    low, high = PLAUSIBLE_MM
    if not low * (1 - 1e-9) <= result <= high * (1 + 1e-9):  # 254000 dpi is 1e-4 mm, not 0.99999…e-4
        raise InputError(
            f"Pixel size {text!r} is {_beyond(result, low, high)} mm a pixel: no scanner's, detector's or camera's "
            f"on a painting ({low:g}–{high:g} mm); check its unit, e.g. 85um, 0.085mm or 300dpi."
        )
    return result


def _beyond(value: float, low: float, high: float) -> str:
    """``value`` with three digits, or as many as show it outside ``low``–``high`` ('254001dpi' is
    9.99996e-05 mm, not the limit's 0.0001)."""
    for digits in (3, 6, 12):
        shown = f"{value:.{digits}g}"
        if not low <= float(shown) <= high:
            return shown
    return shown


def is_bare_number(text: str) -> bool:
    """Whether a pixel size's text is a number without a unit (read as mm by :func:`parse_pixel_size`)."""
    try:
        float(text.strip())
    except ValueError:
        return False
    return True
