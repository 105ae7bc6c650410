"""Detector and film defects in the X-ray: clipped pixels, hot/dead pixels and scratch lines.

Three kinds, treated as what they are:

* **Clipped** pixels sit at the detector's limit (an integer X-ray's dtype maximum or minimum, or a
  spike of pixels at the image's own maximum — the 4095 of a 12-bit detector stored in 16 bits),
  unless one alone there stands out from its neighbours: a stuck hot or dead pixel, a point defect.
  They carry no information: they are *missing* (NaN in every result, like a NaN input), and a
  ring of CLIP_DILATION px around them, half-saturated, is left out of the fit too.
* **Point defects** (hot or dead pixels) stand out from *all* eight neighbours, in the same
  direction, by more than POINT_THRESHOLD robust noise scales. A painting's edges never do: on an
  edge, some neighbour is always on the pixel's side.
  A speck the photograph shows too is the painting's own (a grain of pigment), not a defect.
* **Scratches** are 1-px lines darker or brighter than both their neighbours across the line, along
  at least SCRATCH_LENGTH px, sharper than the X-ray's blur (a scratch on the film or detector is not
  blurred with the image) and not in the photograph (a painted line). Two searches:
  along rows and columns, the dip averaged along the line finds faint straight scratches, with no
  line of comparable contrast 2–SCRATCH_ISOLATION px either side (that would be a periodic texture:
  weave, wood grain); at any other angle, and gently curved, a scratch is found where each of its
  pixels stands SLANT_THRESHOLD noise scales out of its background, with no parallel line within
  SLANT_ISOLATION px and nothing in the photograph even 1 px off; crossing scratches are found one
  after the other (:func:`slanted_scratches`).

Point defects and scratches are *repaired* for the output (filled from their good neighbours, so
the results have no hole and no spike) and left out of the fit. Clipping is a spike of pixels at the
image's own maximum or minimum, and in an integer X-ray its dtype's limits too.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

import numpy as np
from scipy import ndimage

# A hot/dead pixel exceeds (or falls below) every neighbour by this many robust noise scales ...
POINT_THRESHOLD = 8.0
# ... and by at least this many times its neighbours' median rise (fall) above (below) the ring of 16
# pixels around them: a detector's pixel stands on its own, the top of a hill of the painting's detail
# does not (on 56 photographic real-file mixtures without defects, 137 such tops were marked, 37 now;
# of 320 hot/dead pixels of 10–30 % of the range planted in them, 276 of the 278 found before are).
HILL_RATIO = 2.0
# A scratch's dip across the line, averaged along SCRATCH_LENGTH px, in robust scales of that average.
SCRATCH_THRESHOLD = 5.0
SCRATCH_LENGTH = 41
# ... and at least this fraction of its pixels dip on their own.
SCRATCH_FRACTION = 0.7
# Where a scratch ends: its dip averaged over this many pixels falls under half the threshold.
SCRATCH_END = 9
# ... and its flanking rows lean towards it by under this share of its dip (a blurred painted line's do).
SCRATCH_FLANK = 0.12
# ... and its rows either side both dip back by at least this share of its dip (a step's rows do on
# one side only: a mosaic's seam, a sharp edge) ...
SCRATCH_BACK = 0.2
# ... and no line 2 to this many px away is half as contrasted (a texture's next thread or ring).
SCRATCH_ISOLATION = 12
# A slanted scratch: each pixel stands out of its line-free background (line_background) by this many
# noise scales, ...
SLANT_THRESHOLD = 4.0
# ... within SLANT_TOLERANCE px of a quadratic curve (a scratch bends a little) that holds at least
# SLANT_SHARE of the pixels joined to it (the rest: texture it crosses) and passes through at least
# SLANT_COVERAGE of its length, ...
SLANT_TOLERANCE = 1.0
SLANT_SHARE = 0.4
SLANT_SEEDS = 40  # pixels of a group whose pairs are tried as the scratch's straight line
SLANT_COVERAGE = 0.7
# ... its profile across (_across), 1 and 2 px out, within this share of its dip either way (a line in
# the painting is blurred wider by the X-ray's spot and film: σ 0.5 px already gives 0.135; a ridge of
# texture has dips beside it; the straight search's SCRATCH_FLANK is the same; the benchmark's
# scratches measure within 0.09, but one at 0.14), ...
SLANT_SHARPNESS = 0.12
# ... no line half as strong 2 to this many px beside it (sharp wood grain, rings, hatching: wider
# apart than the straight search's SCRATCH_ISOLATION, as a slanted texture's period along a row is), ...
SLANT_ISOLATION = 20
# ... and the photograph's luminance on it (or 1 px off) within this many of its noise scales of the
# luminance beside it (a painted line shows there; the benchmark's scratches measure 3.6 at most).
SLANT_PHOTO = 6.0
# Found pieces of a slanted scratch this many px apart, running within SLANT_PARALLEL degrees of each
# other, are counted as one scratch.
SLANT_JOIN = 6
SLANT_PARALLEL = 10.0
# A speck in the photograph at the same place (this many of its noise scales above or below every
# neighbour) makes an X-ray speck the painting's own.
PHOTO_SPECK = 4.0
# A plateau at the image's extreme counts as clipping when it holds this many times more pixels
# than the values just inside it (and at least CLIP_MIN_PIXELS), in an image of many levels.
CLIP_SPIKE = 8.0
CLIP_MIN_PIXELS = 16
CLIP_MIN_LEVELS = 64
# ... and, in a float X-ray (no dtype limits), of at least this many levels: 8-bit values held as float
# step so coarsely that the spike test's verdict changed from tile to tile (a breaker's finding).
FLOAT_CLIP_MIN_LEVELS = 1024
# A whole painting's X-ray is read this many pixels at a time to judge its clipping (clip_levels).
CLIP_STRIP_PIXELS = 1 << 22
# The noise scale is taken as at least this share of the image's range (see noise_scale).
NOISE_FLOOR = 0.005
# Pixels around clipped ones are left out of the fit (the PSF spreads the saturation).
CLIP_DILATION = 2


# run.json lists where the first this many hot/dead pixels are (more are a detector's, not paint).
LISTED_POINTS = 100
# The eight neighbours' steps (row, column) around a pixel, and the ring of 16 around them.
NEIGHBOURS = tuple((row, col) for row in (-1, 0, 1) for col in (-1, 0, 1) if (row, col) != (0, 0))
RING = tuple((row, col) for row in range(-2, 3) for col in range(-2, 3) if max(abs(row), abs(col)) == 2)


@dataclass(frozen=True)
class Defects:
    """(H, W) bool masks of what :func:`find_defects` found, and the counts a user is told."""

    clipped: np.ndarray  # at the detector's limit: missing data
    clipped_ring: np.ndarray  # clipped, dilated by CLIP_DILATION px: out of the fit
    points: np.ndarray  # hot/dead pixels: repaired, out of the fit
    scratches: np.ndarray  # scratch-line pixels: repaired, out of the fit
    scratch_count: int
    clipped_high: int  # clipped pixels at the top of the range (saturated)
    clipped_low: int  # at the bottom (dead or unexposed)
    # Points alone at the detector's limit: stuck pixels, never paint, which a search again keeps.
    stuck: np.ndarray | None = None

    @property
    def repaired(self) -> np.ndarray:
        """(H, W) bool: pixels filled from their neighbours for the output."""
        return self.points | self.scratches

    @property
    def excluded(self) -> np.ndarray:
        """(H, W) bool: pixels the fit leaves out."""
        return self.clipped_ring | self.repaired

    def within(self, area: np.ndarray, x_stored: np.ndarray) -> Defects:
        """The defects inside ``area`` only ((H, W) bool: the painting's support — outside it the results
        are empty, and a colour chart's lead numbers or the film margin's clipped pixels are not the
        painting's), counted again: clipped high or low by ``x_stored``'s values (above or below the
        middle of its range), scratches as the lines (8-connected pieces) left inside."""
        clipped = self.clipped & area
        values = np.asarray(x_stored, dtype=np.float64)
        middle = (np.nanmin(values) + np.nanmax(values)) / 2 if clipped.any() else 0.0
        high = int(np.count_nonzero(clipped & (values > middle)))
        scratches = self.scratches & area
        lines = ndimage.label(scratches, structure=np.ones((3, 3), bool))[1] if scratches.any() else 0
        return Defects(
            clipped, self.clipped_ring & area, self.points & area, scratches, min(self.scratch_count, lines),
            high, int(clipped.sum()) - high, None if self.stuck is None else self.stuck & area,
        )

    def cropped(self, area: tuple[slice, slice]) -> Defects:
        """The masks under ``area`` (a window of the image), the counts as they are."""
        masks = {name: getattr(self, name)[area] for name in ("clipped", "clipped_ring", "points", "scratches")}
        return dataclasses.replace(self, **masks, stuck=None if self.stuck is None else self.stuck[area])

    def summary(self) -> dict[str, Any]:
        """JSON-ready counts: clipped (high/low), their fraction of the frame, hot/dead pixels, scratches;
        and where the hot/dead pixels are ([row, column], the first :data:`LISTED_POINTS` in row order):
        a repaired one may be a lone speck of dense paint, which the user can then check."""
        clipped = int(self.clipped.sum())
        return {
            "clipped_pixels": clipped,
            "clipped_high": self.clipped_high,
            "clipped_low": self.clipped_low,
            "clipped_fraction": clipped / max(self.clipped.size, 1),
            "hot_dead_pixels": int(self.points.sum()),
            "hot_dead_at": np.argwhere(self.points)[:LISTED_POINTS].tolist(),
            "scratches": self.scratch_count,
            "scratch_pixels": int(self.scratches.sum()),
        }


def no_defects(shape: tuple[int, int]) -> Defects:
    """Nothing found (detection off)."""
    empty = np.zeros(shape, dtype=bool)
    return Defects(empty, empty, empty, empty, 0, 0, 0)


def _histogram(values: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The distinct ``values`` (integers) in increasing order and how often each occurs, as
    ``np.unique(values, return_counts=True)``; by counting, not sorting, for 8- and 16-bit unsigned ones."""
    if values.dtype in (np.uint8, np.uint16):
        counts = np.bincount(values.reshape(-1), minlength=1)
        levels = np.flatnonzero(counts)
        return levels.astype(values.dtype), counts[levels]
    return np.unique(values, return_counts=True)


def _spike(levels: np.ndarray, counts: np.ndarray, at_top: bool, distinct: int | None = None) -> float | None:
    """The image's extreme value if it is a clipping plateau (see CLIP_SPIKE), else None; ``levels``
    and ``counts`` are the image's :func:`_histogram` (or its nine levels at that end, in order, with
    ``distinct`` the number of levels it holds)."""
    if (levels.size if distinct is None else distinct) < CLIP_MIN_LEVELS:
        return None  # a flat test image or a few-level map: plateaus are the picture, not clipping
    if at_top:
        levels, counts = levels[::-1], counts[::-1]
    inner = counts[1:9].mean()
    if counts[0] >= CLIP_MIN_PIXELS and counts[0] >= CLIP_SPIKE * max(inner, 1.0):
        return float(levels[0])
    return None


def clip_levels(x_mixed: Any, valid: Any = None) -> tuple[float | None, float | None]:
    """(top, bottom): the values at which an X-ray (H, W) — an array, or a whole painting's file read
    by row slices — is clipped by a spike of pixels, as :func:`clipped_pixels` judges it, judged on the
    whole image; None where there is none (an integer dtype's own limits are clipped apart from
    these). Handed to :func:`clipped_pixels` (``levels``), every tile of a painting gets the painting's
    verdict (a spike judged tile by tile was missed in tiles holding a few of its pixels). Read a strip
    at a time: each strip's nine extreme levels and their counts add up to the image's exactly (a
    level among the image's nine highest is among the nine highest of every strip that holds it)."""
    x = x_mixed if hasattr(x_mixed, "shape") and hasattr(x_mixed, "__getitem__") else np.asarray(x_mixed)
    kind = np.dtype(x.dtype)
    limits = (np.iinfo(kind).min, np.iinfo(kind).max) if np.issubdtype(kind, np.integer) else None
    ends: tuple[dict[float, int], dict[float, int]] = ({}, {})
    seen: set[float] = set()  # the levels, while few enough to count
    rows = max(1, CLIP_STRIP_PIXELS // max(int(x.shape[1]), 1))
    for top in range(0, int(x.shape[0]), rows):
        strip = np.asarray(x[top : top + rows])
        inside = strip[np.asarray(valid[top : top + rows], dtype=bool)] if valid is not None else strip.reshape(-1)
        inside = inside[(inside != limits[0]) & (inside != limits[1])] if limits else inside[np.isfinite(inside)]
        if not inside.size:
            continue
        levels, counts = _histogram(inside)
        for end, picked in ((ends[0], slice(-9, None)), (ends[1], slice(None, 9))):
            for level, count in zip(levels[picked].tolist(), counts[picked].tolist()):
                end[level] = end.get(level, 0) + count
        if len(seen) < FLOAT_CLIP_MIN_LEVELS:
            seen.update(levels[: FLOAT_CLIP_MIN_LEVELS].tolist())
    needed = CLIP_MIN_LEVELS if limits else FLOAT_CLIP_MIN_LEVELS
    if len(seen) < needed:
        return None, None
    found = []
    for end, at_top in ((ends[0], True), (ends[1], False)):
        levels = np.array(sorted(end)[-9:] if at_top else sorted(end)[:9])
        counts = np.array([end[level] for level in levels])
        found.append(_spike(levels, counts, at_top, distinct=len(seen)))
    return found[0], found[1]


def clipped_pixels(
    x_mixed: np.ndarray, valid: np.ndarray | None = None, levels: tuple[float | None, float | None] | None = None
) -> tuple[np.ndarray, np.ndarray]:
    """(high, low) (H, W) bool masks of an X-ray's clipped pixels: on a spike of pixels at the image's
    own maximum or minimum (a detector's limit), and in an integer X-ray at the dtype's maximum or
    minimum. A float X-ray — a DICOM's rescaled values, a float TIFF — has no dtype limits, but a spike
    at its own extreme is clipping all the same (a tester's digital-panel DICOM, ×2 − 1000: 16 608
    saturated pixels were fitted and left in x2) where it holds FLOAT_CLIP_MIN_LEVELS levels or more; a
    float image of continuous values has none (each value occurs about once). A spike is judged in the
    image given, or given as ``levels`` (:func:`clip_levels` of the whole painting, for its tiles)."""
    x = np.asarray(x_mixed)
    shape = x.shape
    high, low = np.zeros(shape, dtype=bool), np.zeros(shape, dtype=bool)
    if np.issubdtype(x.dtype, np.integer):
        info = np.iinfo(x.dtype)
        high, low = x == info.max, x == info.min
    if levels is not None:  # judged on the whole painting
        for mask, level in ((high, levels[0]), (low, levels[1])):
            if level is not None:
                mask |= x == level
        return (high & valid, low & valid) if valid is not None else (high, low)
    inside = x[valid] if valid is not None else x.reshape(-1)
    if np.issubdtype(x.dtype, np.integer):
        inside = inside[(inside != info.max) & (inside != info.min)]
    elif np.issubdtype(x.dtype, np.floating):
        inside = inside[np.isfinite(inside)]
        # The histogram (a sort) only where an extreme value is shared by enough pixels to be a spike.
        extremes = (inside.max(), inside.min()) if inside.size else ()
        shared = [np.count_nonzero(inside == extreme) for extreme in extremes] or [0]
        if max(shared) < CLIP_MIN_PIXELS:
            return high, low
    else:
        return high, low
    if inside.size:
        histogram = _histogram(inside)
        if not np.issubdtype(x.dtype, np.integer) and histogram[0].size < FLOAT_CLIP_MIN_LEVELS:
            return high, low
        top, bottom = _spike(*histogram, True), _spike(*histogram, False)
        if top is not None:
            high |= x == top
        if bottom is not None:
            low |= x == bottom
    if valid is not None:
        high, low = high & valid, low & valid
    return high, low


def _as_uint16(image: np.ndarray) -> np.ndarray | None:
    """``image`` as uint16 if it is a float32 image of whole numbers 0…65535 (a 16-bit X-ray held in
    float32), else None: order statistics (medians, extremes) are the same, on half the bytes."""
    if image.dtype != np.float32:
        return None
    narrow = image.astype(np.uint16)
    return narrow if np.array_equal(narrow, image) else None


def median3x3(image: np.ndarray) -> np.ndarray:
    """The median of each pixel's 3×3 neighbourhood of a finite (H, W) image, mirrored borders: the
    values of ``ndimage.median_filter(image, size=3, mode="mirror")``, by a 19-exchange sorting
    network over the nine shifted copies, in place (4× faster than the rank filter on a tile), in
    ``image``'s dtype (sorted as uint16 where that is exact)."""
    narrow = _as_uint16(image)
    if narrow is not None:
        return median3x3(narrow).astype(image.dtype)
    padded = np.pad(image, 1, mode="reflect")  # scipy's "mirror": d c b | a b c d
    height, width = image.shape
    stack = np.empty((10, height, width), image.dtype)  # the nine copies and a spare
    for k in range(9):
        stack[k] = padded[k // 3 : k // 3 + height, k % 3 : k % 3 + width]
    slot, spare = list(range(9)), 9  # where each of the network's nine values is held
    for a, b in ((1, 2), (4, 5), (7, 8), (0, 1), (3, 4), (6, 7), (1, 2), (4, 5), (7, 8), (0, 3), (5, 8), (4, 7),
                 (3, 6), (1, 4), (2, 5), (4, 7), (4, 2), (6, 4), (4, 2)):
        np.minimum(stack[slot[a]], stack[slot[b]], out=stack[spare])
        np.maximum(stack[slot[a]], stack[slot[b]], out=stack[slot[b]])
        slot[a], spare = spare, slot[a]
    return stack[slot[4]].copy()


def _median(values: np.ndarray) -> float:
    """``np.median(values)`` of a 1-D array of finite values, the same number, faster on a tile: by
    counting where the values are whole or half integers below 2¹⁸ (an 8- or 16-bit X-ray's details);
    else, in a large array, by partitioning only the values between two quantiles of every 16th value
    (where the middle pair lies; checked by counting, else the whole array is partitioned)."""
    size = values.size
    middle = [(size - 1) // 2, size // 2]  # the same index twice for an odd size
    if values.dtype == np.float32 and size:
        doubled = values * 2  # exact in float32
        whole = doubled.astype(np.int32)
        if whole.min() >= 0 and whole.max() < 2**18 and np.array_equal(whole, doubled):
            cumulative = np.cumsum(np.bincount(whole))
            return float(np.searchsorted(cumulative, middle, side="right").sum()) / 4  # the pair's mean, halved
    if size >= 4096:
        sample = values[::16]
        bounds = [int(0.45 * sample.size), int(0.55 * sample.size)]
        low, high = np.partition(sample, bounds)[bounds]
        below = int(np.count_nonzero(values < low))
        between = values[(values >= low) & (values <= high)]
        if below <= middle[0] and middle[1] < below + between.size:
            at = [k - below for k in middle]
            pair = np.partition(between, at)[at]
            if at[0] == at[1]:
                return float(pair[0])  # (a + a) / 2 would overflow near the dtype's limit
            return float((pair[0] + pair[1]) / 2)  # as np.median: the mean of the pair, in their dtype
    return float(np.median(values))


def noise_scale(x: np.ndarray, valid: np.ndarray) -> float:
    """Robust scale of the finest detail: 1.4826 × median |x − median₃ₓ₃(x)| over ``valid`` pixels,
    at least NOISE_FLOOR of the image's robust range (a noiseless synthetic image would otherwise
    make every sharp corner a defect). ``x`` float64, or float32 holding an integer X-ray exactly
    (the same result, faster)."""
    detail = np.abs(x - median3x3(x))
    every = bool(valid.all())
    inside = x if every else x[valid]
    if not inside.size:
        return NOISE_FLOOR
    scale = 1.4826 * _median(detail.reshape(-1) if every else detail[valid])
    if scale > 0 and scale >= NOISE_FLOOR * float(inside.max() - inside.min()):
        return scale  # above the floor whatever the percentiles (they lie within the extremes)
    low, high = np.percentile(inside.astype(np.float64, copy=False), [0.5, 99.5])
    floor = NOISE_FLOOR * float(high - low)
    return max(scale, floor) if max(scale, floor) > 0 else 1.0


def neighbour_extreme(image: np.ndarray, largest: bool) -> np.ndarray:
    """(H, W): the largest (or smallest) of each pixel's eight neighbours, mirrored borders: the values
    of ``ndimage.maximum_filter`` (``minimum_filter``) with a 3×3 footprint less its centre, mode
    "mirror", by shifted copies (4× faster than the footprint filter on a tile)."""
    pick = np.maximum if largest else np.minimum
    padded = np.pad(image, 1, mode="reflect")  # scipy's "mirror"
    across = pick(pick(padded[:, :-2], padded[:, 1:-1]), padded[:, 2:])  # each padded row's three
    beside = pick(padded[1:-1, :-2], padded[1:-1, 2:])
    return pick(pick(across[:-2], across[2:]), beside)


def standing_out(image: np.ndarray, valid: np.ndarray, margin: float) -> np.ndarray:
    """(H, W) bool: ``valid`` pixels of ``image`` above every neighbour's value or below every one's by
    more than ``margin`` (neighbours that are not ``valid`` do not vote; one with no valid neighbour
    never stands out)."""
    highest = neighbour_extreme(np.where(valid, image, -np.inf), largest=True)
    lowest = neighbour_extreme(np.where(valid, image, np.inf), largest=False)
    margin = np.float64(margin)  # float64: a float32 image's steps are compared exactly
    return valid & np.isfinite(highest) & ((image - highest > margin) | (lowest - image > margin))


def point_defects(x: np.ndarray, valid: np.ndarray, scale: float) -> np.ndarray:
    """(H, W) bool: pixels above every neighbour's value or below every one's by more than
    POINT_THRESHOLD × ``scale`` (neighbours that are not ``valid`` do not vote), and by at least
    HILL_RATIO times their neighbours' median rise (fall) above (below) the median of the ring of 16
    pixels around them (:func:`hill_rise`): a hot or dead pixel of the detector, not a peak of the painting."""
    found = standing_out(x, valid, POINT_THRESHOLD * scale)
    if not found.any():
        return found
    rows, cols = np.nonzero(found)
    step, rise = hill_rise(x, valid, rows, cols)
    found[rows[step < HILL_RATIO * rise], cols[step < HILL_RATIO * rise]] = False
    return found


def hill_rise(
    image: np.ndarray, valid: np.ndarray, rows: np.ndarray, cols: np.ndarray,
) -> tuple[np.ndarray, np.ndarray]:
    """At the pixels (``rows``, ``cols``) of ``image`` (H, W), each above all its ``valid`` neighbours
    or below them all: how far it stands out from the nearest of them, and how far their median stands
    out, the same way, from the median of the ``valid`` pixels of the ring of 16 around them (0 where
    either has none; borders mirrored, as in :func:`standing_out`). Medians, not means: beside a straight
    edge or at a passage's corner both sides' medians are the same side's level (means rose by an
    edge's sixteenth, and hot pixels there went unmarked). Float64 arrays (N,)."""
    padded = np.pad(image, 2, mode="reflect").astype(np.float64, copy=False)
    usable = np.pad(valid, 2, mode="reflect")

    def around(steps: tuple[tuple[int, int], ...]) -> tuple[np.ndarray, np.ndarray]:
        """The ``valid`` values at ``steps`` from each pixel (NaN elsewhere), and their median."""
        values = np.stack([padded[rows + 2 + row, cols + 2 + col] for row, col in steps])
        voting = np.stack([usable[rows + 2 + row, cols + 2 + col] for row, col in steps])
        values = np.where(voting, values, np.nan)
        counted = voting.any(axis=0)
        middle = np.full(rows.shape, np.nan)
        middle[counted] = np.nanmedian(values[:, counted], axis=0)
        return values, middle

    centre = image[rows, cols].astype(np.float64)
    near, near_middle = around(NEIGHBOURS)
    ring_middle = around(RING)[1]
    highest, lowest = np.nanmax(near, axis=0, initial=-np.inf), np.nanmin(near, axis=0, initial=np.inf)
    above = centre > highest
    step = np.where(above, centre - highest, lowest - centre)
    rise = np.where(above, near_middle - ring_middle, ring_middle - near_middle)
    return step, np.nan_to_num(rise, nan=0.0)


def _line_strength(image: np.ndarray, valid: np.ndarray) -> tuple[np.ndarray, np.ndarray, float]:
    """The dip across each row, ``image − (above + below) / 2`` (0 where not ``valid`` and on the
    first and last rows; in ``image``'s dtype, exact for an integer X-ray held in float32), its mean
    along SCRATCH_LENGTH px (float64), and a robust scale of that mean."""
    valid = valid.copy()
    valid[[0, -1]] = False  # the first and last rows have one neighbour across: no dip test
    dip = np.zeros_like(image)
    dip[1:-1] = image[1:-1] - (image[:-2] + image[2:]) / 2
    dip[~valid] = 0
    mean = ndimage.uniform_filter1d(dip, SCRATCH_LENGTH, axis=1, output=np.float64, mode="constant")
    if not valid.any():
        return dip, mean, 0.0
    inside = mean[1:-1].reshape(-1) if valid[1:-1].all() else mean[valid]  # a slice, not a copy, where it can
    return dip, mean, 1.4826 * _median(np.abs(inside))


def _scratches_along_rows(x: np.ndarray, valid: np.ndarray, noise: float, luminance: np.ndarray | None) -> np.ndarray:
    """(H, W) bool: pixels of horizontal scratch lines (see the module's description).

    The dip across a row averaged along SCRATCH_LENGTH px: the painting's texture, not aligned with
    the row, averages out; a scratch does not. A line is a run whose mean dip exceeds
    SCRATCH_THRESHOLD robust scales of that mean (at least the noise's), whose pixels mostly dip the
    same way, whose neighbouring rows dip back by about half (not a step edge, where they dip back
    fully), with no line half as strong 2–SCRATCH_ISOLATION rows away (a texture), and that the
    photograph (``luminance``) does not show (a painted line).
    """
    found = np.zeros(x.shape, dtype=bool)
    length = SCRATCH_LENGTH
    if x.shape[1] < length or x.shape[0] < 3:
        return found
    dip, mean, scale = _line_strength(x, valid)
    # Pure noise averaged along the line: about 0.2 noise scales.
    scale = max(scale, 0.2 * noise)
    if not scale > 0:
        return found
    strength = np.abs(mean)
    line = valid & (strength > SCRATCH_THRESHOLD * scale)
    # The filters below run along rows, so they are taken on the rows that hold a candidate only:
    # the same values there, and most of a tile's rows hold none.
    held = np.flatnonzero(line.any(axis=1))
    if not held.size:
        return found
    agree = ndimage.uniform_filter1d(
        (np.sign(dip[held]) * np.sign(mean[held]) > 0).view(np.uint8), length, axis=1, output=np.float64, mode="constant"
    )
    line[held] &= agree >= SCRATCH_FRACTION
    if not line.any():
        return found
    # The remaining tests look at the few candidate pixels only (rows beyond the edges wrap around).
    rows, cols = np.nonzero(line)
    here = strength[rows, cols]

    def strongest(offsets: range) -> np.ndarray:
        """max |mean| over the rows ``offsets`` away from each candidate."""
        at = np.concatenate([np.asarray(offsets), -np.asarray(offsets)])
        return np.abs(mean[(rows[:, None] + at) % x.shape[0], cols[:, None]]).max(axis=1)

    keep = strongest(range(1, 2)) < 0.75 * here
    # A line's rows either side both dip back (by about half its dip); a step's dip back on one side only.
    towards = np.sign(mean[rows, cols])
    for side in (1, -1):
        keep &= -towards * mean[(rows + side) % x.shape[0], cols] >= SCRATCH_BACK * here
    # Sharper than the X-ray's blur: the rows beside a scratch sit at the level of the rows beyond
    # them, where a line in the painting, blurred, raises (or lowers) its flanks too.
    lines, slot = np.unique(rows, return_inverse=True)
    padded = np.pad(x, ((2, 2), (0, 0)), mode="edge")
    flank = ((padded[lines + 1] - padded[lines]) + (padded[lines + 3] - padded[lines + 4])) / 2
    flank = ndimage.uniform_filter1d(
        np.where(valid[lines], flank, x.dtype.type(0)), length, axis=1, output=np.float64, mode="constant"
    )
    keep &= flank[slot, cols] * np.sign(mean[rows, cols]) < SCRATCH_FLANK * here
    keep &= strongest(range(2, SCRATCH_ISOLATION + 1)) < 0.5 * here
    line[rows[~keep], cols[~keep]] = False
    if luminance is not None and line.any():
        _, photo_mean, photo_scale = _line_strength(luminance, valid)
        painted = np.abs(photo_mean) > SCRATCH_THRESHOLD * max(photo_scale, 1e-12)
        painted[1:] |= painted[:-1].copy()  # dilated by one row either way (read before written)
        painted[:-1] |= painted[1:].copy()
        line &= ~painted
    # The pixels of the windows whose centre passed, down to where the line's dip, averaged over a
    # few pixels, fades (a window reaches half its length past a scratch's end).
    held = np.flatnonzero(line.any(axis=1))
    window = ndimage.maximum_filter1d(line[held].astype(np.uint8), length, axis=1, mode="constant") > 0
    local = ndimage.uniform_filter1d(dip[held], SCRATCH_END, axis=1, output=np.float64, mode="constant") * np.sign(mean[held])
    found[held] = window & valid[held] & (local > 0.5 * SCRATCH_THRESHOLD * scale)
    return found


def _median5(image: np.ndarray, axis: int) -> np.ndarray:
    """The median of each run of 5 values along ``axis`` (mirrored ends), by min/max of shifted copies:
    med(a..e) = med3(e, max(min(a, b), min(c, d)), min(max(a, b), max(c, d)))."""
    pad = [(0, 0), (0, 0)]
    pad[axis] = (2, 2)
    padded = np.pad(image, pad, mode="reflect")
    n = image.shape[axis]
    a, b, c, d, e = (padded[k : k + n] if axis == 0 else padded[:, k : k + n] for k in range(5))
    low = np.maximum(np.minimum(a, b), np.minimum(c, d))
    high = np.minimum(np.maximum(a, b), np.maximum(c, d))
    return np.maximum(np.minimum(low, high), np.minimum(np.maximum(low, high), e))


def line_background(image: np.ndarray) -> np.ndarray:
    """(H, W): the median of 5 along each row, then of 5 along each column. A 1-px line at any angle
    holds at most 2 of any 5 values in one of the two passes, so it is taken away; smooth areas and
    straight edges stay (a 3×3 median keeps a line where its stair-steps bunch 5 pixels together)."""
    narrow = _as_uint16(image)
    if narrow is not None:
        return line_background(narrow).astype(image.dtype)
    return _median5(_median5(image, 1), 0)


def _beside(
    image: np.ndarray, rows: np.ndarray, cols: np.ndarray, normal: np.ndarray, offsets: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """``image`` (N, len(offsets)) at ``offsets`` px across a line (pixels ``rows``, ``cols``;
    ``normal`` (N, 2) its unit normal at each), stepping along the pixel axis nearer the normal (rows
    for a line within 45° of horizontal; clipped at the image's edges), and (N, len(offsets)) bool:
    which samples fall on the line's own pixels (a 1-px line drawn on the grid has stair-steps)."""
    height, width = image.shape
    on_line = np.zeros(image.shape, dtype=bool)
    on_line[rows, cols] = True
    by_row = (np.abs(normal[:, 0]) >= np.abs(normal[:, 1]))[:, None]
    at_rows = np.clip(rows[:, None] + offsets * by_row, 0, height - 1)
    at_cols = np.clip(cols[:, None] + offsets * ~by_row, 0, width - 1)
    return image[at_rows, at_cols], on_line[at_rows, at_cols]


def _across(image: np.ndarray, rows: np.ndarray, cols: np.ndarray, normal: np.ndarray) -> np.ndarray:
    """(7,): the profile of a line (pixels ``rows``, ``cols``; ``normal`` (N, 2) its unit normal at
    each) across it in ``image``, −3…3 px (:func:`_beside`, the line's own stair-steps skipped: they
    would make it look blurred): at each pixel, the samples less the straight line between the two
    3 px out (the slope of the painting beneath), then the median along the line."""
    offsets = np.arange(-3, 4)
    samples, on_line = _beside(image, rows, cols, normal, offsets)
    samples = samples.astype(np.float64, copy=False)
    samples = samples - (samples[:, :1] + (samples[:, 6:] - samples[:, :1]) * (offsets + 3) / 6)
    beside = ~on_line
    beside[:, 3] = True
    return np.array([
        np.median(samples[beside[:, k], k]) if beside[:, k].any() else samples[:, 3].mean() for k in range(7)
    ])


def _straight_start(points: np.ndarray) -> tuple[np.ndarray, np.ndarray, float]:
    """The unit direction and normal of the straight line through the most of ``points`` (N, 2)
    within SLANT_TOLERANCE px, and its offset along the normal, among the lines through two of up to
    SLANT_SEEDS of them spread over the group, at least SCRATCH_LENGTH / 4 apart (counted on up to
    2000 of the points): a least-squares line through two crossing scratches, or through one and the
    texture it crosses, runs between them and through neither."""
    seeds = points[np.unique(np.linspace(0, len(points) - 1, SLANT_SEEDS).astype(int))]
    counted = points[np.unique(np.linspace(0, len(points) - 1, 2000).astype(int))]
    first, second = np.triu_indices(len(seeds), k=1)
    direction = seeds[second] - seeds[first]
    length = np.linalg.norm(direction, axis=1)
    keep = length >= SCRATCH_LENGTH / 4
    if not keep.any():
        keep = length == length.max()
    direction = direction[keep] / length[keep, None]
    normal = np.stack([-direction[:, 1], direction[:, 0]], axis=1)
    through = seeds[first[keep]]
    distance = np.abs((counted[None, :, :] - through[:, None, :]) @ normal[:, :, None])[..., 0]
    best = int(np.argmax((distance <= SLANT_TOLERANCE).sum(axis=1)))
    return direction[best], normal[best], float(through[best] @ normal[best])


def _curve(rows: np.ndarray, cols: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The pixels (``rows``, ``cols``) of a candidate line: which lie within SLANT_TOLERANCE px of a
    quadratic curve across the best straight line through them (:func:`_straight_start`), refitted
    on those near it (three rounds), their position along that line, and the curve's unit normal
    (N, 2) at each."""
    points = np.stack([rows, cols], 1).astype(np.float64)
    points -= points.mean(axis=0)
    direction, normal, offset = _straight_start(points)
    along, across = points @ direction, points @ normal
    near = np.abs(across - offset) <= SLANT_TOLERANCE  # start from the straight line
    coefficients = np.array([0.0, 0.0, offset])
    for _ in range(3):
        if near.sum() < 3:
            break
        design = np.stack([along[near] ** 2, along[near], np.ones(int(near.sum()))], axis=1)
        coefficients = np.linalg.lstsq(design, across[near], rcond=None)[0]
        near = np.abs(across - np.polyval(coefficients, along)) <= SLANT_TOLERANCE
    slope = 2 * coefficients[0] * along + coefficients[1]
    tangent = direction[None, :] + slope[:, None] * normal[None, :]
    tangent /= np.linalg.norm(tangent, axis=1, keepdims=True)
    return near, along, np.stack([-tangent[:, 1], tangent[:, 0]], axis=1)


def _isolated(dip: np.ndarray, rows: np.ndarray, cols: np.ndarray, normal: np.ndarray, sign: float) -> bool:
    """No line of half the scratch's dip 2 to SLANT_ISOLATION px beside it, on the pixel axis nearer
    its normal (the next thread of a weave, ring of wood grain, line of a hatching). A neighbour
    line's distance wanders by a pixel along a curve: each pixel's strongest of three offsets counts
    (the scratch's own stair-steps do not)."""
    here = np.median(sign * dip[rows, cols])
    for side in (1, -1):
        samples, on_line = _beside(dip, rows, cols, normal, side * np.arange(1, SLANT_ISOLATION + 2))
        beside = np.where(on_line, -np.inf, sign * samples)  # (N, offsets 1 … SLANT_ISOLATION + 1)
        strongest = np.maximum(np.maximum(beside[:, :-2], beside[:, 1:-1]), beside[:, 2:])  # about 2 … ISOLATION
        if (np.median(strongest, axis=0) >= 0.5 * here).any():
            return False
    return True


def _scratches_in_group(
    x: np.ndarray, dip: np.ndarray, rows: np.ndarray, cols: np.ndarray, sign: float, known: np.ndarray | None,
    painted: Callable[[np.ndarray, np.ndarray, np.ndarray], bool], unjudged: np.ndarray | None = None,
) -> Iterator[tuple[np.ndarray, np.ndarray]]:
    """The scratches in one group of candidate pixels (``rows``, ``cols``), as their pixels: the best
    curve through the group is taken (:func:`_curve`) if it is a scratch, and the rest of the group
    searched again (two scratches crossing make one group), while a curve still holds SLANT_SHARE
    of what is left and SCRATCH_LENGTH px. A curve mostly on ``unjudged`` pixels (too near missing
    data for its profile to tell) is none."""
    while rows.size >= SCRATCH_LENGTH * SLANT_SHARE:
        near, along, normal = _curve(rows, cols)
        if near.sum() < SLANT_SHARE * rows.size:
            return
        line_rows, line_cols, along, normal = rows[near], cols[near], along[near], normal[near]
        rows, cols = rows[~near], cols[~near]
        length = np.ptp(along) + 1
        if length < SCRATCH_LENGTH or np.unique(np.rint(along)).size < SLANT_COVERAGE * length:
            continue
        if known is not None and known[line_rows, line_cols].mean() > 0.5:
            continue
        if unjudged is not None and unjudged[line_rows, line_cols].mean() > 0.5:
            continue
        shape = _across(sign * x, line_rows, line_cols, normal)
        shape = shape / max(shape[3], 1e-12)
        if not np.all(np.abs(shape[[1, 2, 4, 5]]) < SLANT_SHARPNESS):
            continue
        if _isolated(dip, line_rows, line_cols, normal, sign) and not painted(line_rows, line_cols, normal):
            yield line_rows, line_cols


def _long_groups(labels: np.ndarray) -> Iterator[tuple[np.ndarray, np.ndarray]]:
    """The pixels (rows, cols, in raster order) of each group of ``labels`` (H, W), in the order of
    their labels, that holds SLANT_SHARE × SCRATCH_LENGTH pixels and spans SLANT_COVERAGE ×
    SCRATCH_LENGTH px along rows or columns: only such a group can hold a scratch. Taken from the
    labelled pixels alone (a textured tile has thousands of specks: a pass over the whole image per
    group, or even per size, would cost more than the labelling)."""
    rows, cols = np.nonzero(labels)
    which = labels[rows, cols]
    large = np.bincount(which)[which] >= SLANT_SHARE * SCRATCH_LENGTH
    order = np.argsort(which[large], kind="stable")  # stable: each group's pixels stay in raster order
    rows, cols, which = rows[large][order], cols[large][order], which[large][order]
    if not which.size:
        return
    starts = np.flatnonzero(np.r_[True, which[1:] != which[:-1]])
    stops = np.r_[starts[1:], which.size]
    spans = np.maximum(
        np.maximum.reduceat(rows, starts) - np.minimum.reduceat(rows, starts),
        np.maximum.reduceat(cols, starts) - np.minimum.reduceat(cols, starts),
    ) + 1
    long = spans >= SLANT_COVERAGE * SCRATCH_LENGTH
    for start, stop in zip(starts[long], stops[long]):
        yield rows[start:stop], cols[start:stop]


def slanted_scratches(
    x: np.ndarray,
    valid: np.ndarray,
    noise: float,
    luminance: np.ndarray | None = None,
    known: np.ndarray | None = None,
    measured: np.ndarray | None = None,
) -> tuple[np.ndarray, int]:
    """(H, W) bool of scratch pixels at any angle, and how many lines they form, in a finite X-ray
    ``x`` (H, W) with ``valid`` pixels and robust ``noise`` scale; ``luminance`` (H, W), the
    photograph's, vetoes painted lines; a line mostly on ``known`` (H, W) bool scratch pixels (found
    along rows and columns) is left to them. ``measured`` (H, W) bool (default ``valid``): where
    ``x`` holds data — ``valid`` without the exclusions that leave no gap (point defects, clipped
    pixels); a line lying mostly within 3 px of the rest is no scratch (its profile cannot be judged).

    The candidates stand out of :func:`line_background` by SLANT_THRESHOLD × ``noise``, one sign at a
    time; in each 8-connected group of them a scratch is a curve (:func:`_curve`) whose pixels run at
    least SCRATCH_LENGTH px, cover SLANT_COVERAGE of that length and hold SLANT_SHARE of the group (of
    what is left of it once a scratch is taken), whose profile across (:func:`_across`) is a 1-px
    line's, flat 1 and 2 px out (SLANT_SHARPNESS), with no parallel line beside it (:func:`_isolated`),
    where the photograph shows no line, even 1 px off (SLANT_PHOTO). Only those pixels are returned.
    """
    found = np.zeros(x.shape, dtype=bool)
    if min(x.shape) < 5:
        return found, 0
    dip = x - line_background(x)
    photo_noise: list[float] = []
    lines: list[tuple[np.ndarray, np.ndarray]] = []

    def painted(rows: np.ndarray, cols: np.ndarray, normal: np.ndarray) -> bool:
        """The photograph shows a line there (or 1 px off: a registration is rarely closer)."""
        if luminance is None:
            return False
        if not photo_noise:
            photo_noise.append(noise_scale(luminance, valid))
        seen = _across(luminance, rows, cols, normal)
        return bool(np.abs(seen[2:5]).max() > SLANT_PHOTO * photo_noise[0])

    # A line is judged by its profile 3 px either side (:func:`_across`): within that of missing data
    # (filled) it cannot be. A strip of film margin one or two pixels wide kept along a painting's edge
    # (a whole painting's support is grown by a block) stood out of the fill as a scratch the tile long;
    # a scratch that crosses a hole is judged on the rest of its length.
    measured = valid if measured is None else measured
    unjudged = None if measured.all() else ~ndimage.minimum_filter(measured, size=7, mode="nearest")
    for sign in (1.0, -1.0):
        candidates = sign * dip > np.float64(SLANT_THRESHOLD * noise)  # float64: exact for a float32 image
        labels, _ = ndimage.label(valid & candidates, structure=np.ones((3, 3)))
        for rows, cols in _long_groups(labels):
            for line_rows, line_cols in _scratches_in_group(x, dip, rows, cols, sign, known, painted, unjudged):
                found[line_rows, line_cols] = True
                lines.append((line_rows, line_cols))
    return found, _line_count(lines, x.shape)


def _line_count(lines: list[tuple[np.ndarray, np.ndarray]], shape: tuple[int, ...]) -> int:
    """How many scratches the found ``lines`` (their pixels) are: pieces of one scratch (where it
    crossed texture as dark as itself) run the same way (within SLANT_PARALLEL) and come within
    SLANT_JOIN px of each other end to end; two scratches crossing run different ways."""
    directions, reach = [], []
    for rows, cols in lines:
        points = np.stack([rows, cols], 1).astype(np.float64)
        directions.append(np.linalg.svd(points - points.mean(axis=0), full_matrices=False)[2][0])
        near = np.zeros(shape, dtype=bool)
        near[rows, cols] = True
        reach.append(ndimage.binary_dilation(near, structure=np.ones((3, 3)), iterations=SLANT_JOIN))
    scratch = list(range(len(lines)))  # each line's scratch, merged below

    def root(k: int) -> int:
        while scratch[k] != k:
            k = scratch[k]
        return k

    for a in range(len(lines)):
        for b in range(a + 1, len(lines)):
            parallel = abs(float(directions[a] @ directions[b])) >= np.cos(np.deg2rad(SLANT_PARALLEL))
            if parallel and reach[a][lines[b]].any():
                scratch[root(b)] = root(a)
    return len({root(k) for k in range(len(lines))})


def scratch_lines(
    x: np.ndarray, valid: np.ndarray, noise: float, luminance: np.ndarray | None = None,
    measured: np.ndarray | None = None,
) -> tuple[np.ndarray, int]:
    """(H, W) bool of scratch pixels — along rows, along columns (:func:`_scratches_along_rows`) and
    slanted (:func:`slanted_scratches`, with ``measured``) — and how many lines they form."""
    rows = _scratches_along_rows(x, valid, noise, luminance)
    cols = _scratches_along_rows(x.T, valid.T, noise, None if luminance is None else luminance.T).T
    slanted, count = slanted_scratches(x, valid, noise, luminance, known=rows | cols, measured=measured)
    near_slanted = ndimage.binary_dilation(slanted, iterations=3) if slanted.any() else slanted
    # One line is one scratch: pieces along it (a stretch the tests refused) and a slight slant
    # (8-connected) are joined before counting; a piece on a slanted scratch is part of that one.
    for found, axis in ((rows, 1), (cols, 0)):
        if not found.any():
            continue
        joined, pieces = ndimage.label(
            ndimage.maximum_filter1d(found.astype(np.uint8), SCRATCH_LENGTH, axis=axis) > 0, structure=np.ones((3, 3))
        )
        count += pieces - np.unique(joined[found & near_slanted]).size
    return rows | cols | slanted, int(count)


def photo_luminance(rgb_surface: np.ndarray, valid: np.ndarray) -> np.ndarray:
    """(H, W) float64 mean of the photograph's first three channels, missing pixels (not ``valid``, or
    not finite in the photograph) at the median of the others."""
    rgb = np.asarray(rgb_surface)
    # ((r + g) + b) / 3: numpy's mean over the last axis, without a float64 copy of the whole photograph.
    luminance = (rgb[..., 0].astype(np.float64) + rgb[..., 1] + rgb[..., 2]) / 3
    if rgb.dtype.kind == "f":  # a registered photograph's NaN margin is missing too
        valid = valid & np.isfinite(luminance)
    if valid.all():
        return luminance
    return np.where(valid, luminance, np.median(luminance[valid]) if valid.any() else 0.0)


def photo_specks(luminance: np.ndarray, valid: np.ndarray) -> np.ndarray:
    """(H, W) bool: pixels of the photograph's ``luminance`` that stand out from every neighbour by
    PHOTO_SPECK noise scales, and their neighbours (the X-ray's PSF spreads them). Only ``valid``
    neighbours vote, as in the X-ray's search: at the painting's edge the backdrop beyond it is no
    speck's background (two hot pixels on a backdrop painting's last row passed as the photograph's)."""
    specks = standing_out(luminance, valid, PHOTO_SPECK * noise_scale(luminance, valid))
    return ndimage.binary_dilation(specks, iterations=1)


def find_defects(
    x_mixed: np.ndarray,
    valid: np.ndarray | None = None,
    rgb_surface: np.ndarray | None = None,
    one_exposure: np.ndarray | None = None,
    levels: tuple[float | None, float | None] | None = None,
) -> Defects:
    """Clipped pixels, hot/dead pixels and scratches of an X-ray (H, W) in its stored units and
    dtype; ``valid`` (H, W) bool marks pixels with data (NaN ones are already missing);
    ``rgb_surface`` (H, W, 3), the registered photograph, if given, vetoes point defects where it
    shows a speck too (:func:`photo_specks`). ``one_exposure`` (H, W): the same X-ray brought to one
    exposure (a mosaic's films taken out, :meth:`~.films.Films.correct`), if known: the hot/dead
    pixels and scratches are sought there (:func:`points_and_scratches`), where a film seam's
    one-pixel step no longer reads as a scratch; clipped pixels always in the values as stored, where
    the detector's limits are; ``levels``: the whole painting's clipping levels (:func:`clip_levels`)
    where ``x_mixed`` is one of its tiles.

    Point defects and scratches are sought among the pixels that are neither missing nor clipped,
    against a robust noise scale (:func:`noise_scale`). Returns a :class:`Defects`.
    """
    x_stored = np.asarray(x_mixed)
    valid = np.isfinite(x_stored) if valid is None else valid & np.isfinite(x_stored)
    high, low = clipped_pixels(x_stored, valid, levels)
    # A pixel at the limit with no neighbour there that stands out from them all (a point defect) is a
    # stuck hot or dead pixel, not a clipped passage (a tester's 79 stuck pixels were said to be
    # "clipped at the detector's limit" and left empty); one at a clipped passage's ragged edge is not.
    alone = (high | low) & ~neighbour_extreme(high | low, largest=True)
    empty = np.zeros(x_stored.shape, dtype=bool)
    searched = points_and_scratches(
        Defects((high | low) & ~alone, empty, empty, empty, 0, 0, 0),
        x_stored if one_exposure is None else one_exposure, valid, rgb_surface, alone,
    )
    high, low = high & ~searched.points, low & ~searched.points
    clipped = high | low
    ring = ndimage.binary_dilation(clipped, iterations=CLIP_DILATION) & valid if clipped.any() else clipped
    return dataclasses.replace(
        searched, clipped=clipped, clipped_ring=ring, scratches=searched.scratches & ~clipped,
        clipped_high=int(high.sum()), clipped_low=int(low.sum()),
    )


def points_and_scratches(
    clipped: Defects, x_mixed: np.ndarray, valid: np.ndarray, rgb_surface: np.ndarray | None = None,
    stuck: np.ndarray | None = None,
) -> Defects:
    """``clipped``'s clipped pixels (and their counts) with the hot/dead pixels and scratches of the
    X-ray ``x_mixed`` (H, W; stored units and dtype, or float) sought among its ``valid`` pixels that
    are not clipped (:func:`find_defects`); the points and scratches ``clipped`` held are replaced.
    ``stuck`` (H, W) bool: pixels alone at the detector's limit, which a speck in the photograph does
    not make the painting's (a paint's speck is not stored at the detector's very limit); those found
    are the result's ``stuck``."""
    x_stored = np.asarray(x_mixed)
    usable = valid & np.isfinite(x_stored) & ~clipped.clipped
    empty = np.zeros(x_stored.shape, dtype=bool)
    if not usable.any():
        return dataclasses.replace(clipped, points=empty, scratches=empty, scratch_count=0)
    # An 8- or 16-bit X-ray (and its fill, a median: a half integer) is exact in float32, which halves
    # the search's memory traffic; every decision is the same as in float64 (sums are taken in float64).
    narrow = np.issubdtype(x_stored.dtype, np.integer) and x_stored.dtype.itemsize <= 2
    x = x_stored.astype(np.float32 if narrow else np.float64)
    if not usable.all():
        x = np.where(usable, x, np.median(x_stored[usable]).astype(x.dtype))
    scale = noise_scale(x, usable)
    luminance = None if rgb_surface is None else photo_luminance(rgb_surface, usable)
    points = point_defects(x, usable, scale)
    if luminance is not None and points.any():
        vetoed = photo_specks(luminance, usable)
        points &= ~(vetoed if stuck is None else vetoed & ~stuck)
    # Judged clear of missing data only: clipped pixels and point defects keep their values in x.
    scratches, count = scratch_lines(x, usable & ~points, scale, luminance, measured=valid & np.isfinite(x_stored))
    return dataclasses.replace(
        clipped, points=points, scratches=scratches & ~points, scratch_count=count,
        stuck=None if stuck is None else stuck & points,
    )


def repair(x_mixed: np.ndarray, damaged: np.ndarray, usable: np.ndarray | None = None) -> np.ndarray:
    """``x_mixed`` (H, W) as float64 with the ``damaged`` pixels replaced by the mean of their
    undamaged, ``usable`` 8-neighbours, repeated until every damaged pixel with such a neighbour
    somewhere nearby is filled (a 1-px scratch or an isolated pixel takes one round; at most 8).
    Each round fills from the values before it. Computed at the damaged pixels only: a tile holds a
    few of them, and filtering the whole tile twice a round cost ~10 ms."""
    x = np.array(x_mixed, dtype=np.float64)
    good = ~damaged if usable is None else usable & ~damaged
    height, width = x.shape
    rows, cols = np.nonzero(damaged)
    for _ in range(8):
        if not rows.size:
            break
        total, count = np.zeros(rows.size), np.zeros(rows.size)
        for step_row, step_col in NEIGHBOURS:
            at_row, at_col = rows + step_row, cols + step_col
            inside = (at_row >= 0) & (at_row < height) & (at_col >= 0) & (at_col < width)
            at_row, at_col = at_row.clip(0, height - 1), at_col.clip(0, width - 1)
            counted = inside & good[at_row, at_col]
            total += np.where(counted, x[at_row, at_col], 0.0)
            count += counted
        fill = count > 0
        x[rows[fill], cols[fill]] = total[fill] / count[fill]
        good[rows[fill], cols[fill]] = True
        rows, cols = rows[~fill], cols[~fill]
    return x
