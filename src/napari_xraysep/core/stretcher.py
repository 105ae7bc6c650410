"""The stretcher's bars: found in what the photograph does not explain, and given a layer of their own.

A canvas on its stretcher is X-rayed through the wooden bars behind it: along each edge (and along
any cross-bar) the film shows a band of extra density with straight edges and wood grain running
along the bar. The photograph of the front cannot explain it, so without a model of its own it lands
in x2 as bright bands. A bar is simple to describe: across it, a profile (the wood's thickness and
grain); along it, the same profile, the whole length of the painting. That is the model here:

* the residual ``x − x1 − weave`` (x2 with the bars in it) is reduced to per-column (per-row)
  profiles, median over segments of the painting's length;
* a bar's inner edge is a step that is there, with the same sign, in most segments (a straight edge
  the whole length of the painting: a hidden design rarely has one, a stretcher always); a stretcher
  is taken as found only when such steps stand near at least three of the painting's four edges,
  with widths that agree (the outer bars are cut from the same timber), and only then are cross-bars
  sought (both edges found, about the outer bars' width);
* the bars are cut from one timber, of one thickness: their density is the step up into the outer
  bars at their inner edges, each side's level extrapolated to the edge along a straight line (a
  design's slope across the edge is not a step), the median over the edges and the segments of their
  length (:func:`_timber_density`);
* a cross-bar steps up by about that density at both its edges, over its whole length and in all its
  segments but one at an end (it is then taken only where it shows: :attr:`Bar.along`) or two
  inside (where the design under it hides an edge): a design's pillar, tree or door jamb does not,
  or stops short;
* each bar's layer is the density and the profile's departures from a straight line through the
  bar's core (the grain, the bevels), constant along it; where bars meet, the thicker of the two
  (bars are joined, not stacked).

What is under a bar along its whole length is not identifiable from the X-ray alone (the column
mean of x2 there and the bar's thickness add up the same): the assumption is that the wood is of one
thickness and the design's level under a bar a straight line across it, whatever its slope. (The level
beside a bar, assumed before, is the design's own: on the benchmark's stretchers the design's mean
under an outer bar differed from it by up to the bar's density.) Nails and tacks are saturated,
marked as clipped by :mod:`.defects`, not here.
"""

from __future__ import annotations

import contextlib
import dataclasses
import math
import warnings
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import numpy as np

from .tiling import block_means

# Segments of the painting's length in which a bar's edge must recur, and the share that must agree.
SEGMENTS = 8
AGREEING = 0.75
# A step counts when it is this many times the spread of the profile's steps (robust): for three of
# the four outer bars; then, a stretcher being there, for the fourth side and for cross-bars. Chosen
# on the benchmark's variants: a stretcher's third-strongest side scored 3.5–16, any other file's
# (backdrops, frames, tacking margins, mosaics, clean) at most 2.5 where the widths agreed.
STEP_SCORE = 3.0
FOURTH_SIDE_SCORE = 2.0
CROSS_SCORE = 2.5
# Outer bars are 3–16 % of the painting's smaller side wide (a frame's rabbet leaves thinner strips),
# and their widths agree within WIDTHS.
OUTER_REACH = 0.16
MIN_WIDTH_SHARE = 0.03
WIDTHS = 1.6
MIN_WIDTH = 3  # px
# A cross-bar steps up into its edges by at least CROSS_SHARE of the outer bars' density over its
# whole length, and by WHOLE_LENGTH of it in every segment of its length but one at an end (then it is
# taken where it shows) or two inside it (a segment's median is the design's as much as the bar's: the
# design under it may hide an edge there; a bar runs the whole length, a design's pillar may stop short).
CROSS_SHARE = 0.5
WHOLE_LENGTH = 0.25
# The outer bars' density, at least this share of the residual's range (1st to 99th percentile): a
# smooth image makes faint straight steps stand out of its own spread, but a bar that faint is not
# worth a layer (the benchmark's stretchers: 5–10 %; a tiled test pattern's repeats: 0.1–1 %).
MIN_DENSITY_SHARE = 0.02
_GAP, _SPAN = 2, 3  # the step is read between the means of _SPAN px each side, _GAP px from the edge
# A bar's layer and its steps at its inner edges are read along straight lines through its core and
# through EDGE_OUTSIDE px beside it. The core leaves out BEVEL_SHARE of the bar's width (at least
# EDGE_RAMP px) at each inner edge: a stretcher's bevel is some 10–20 % of its width, and a line
# through its ramp reads the step short (a bevel of 10 px on a 40 px bar: a third of it). A line needs
# LINE_PIXELS known; through fewer, a level (a narrow bar's few pixels of grain tilt a line).
EDGE_RAMP = 2
BEVEL_SHARE = 0.25
EDGE_OUTSIDE = 6
LINE_PIXELS = 6
# An edge is placed (:func:`_placed`) at the innermost boundary stepping PLACE_SHARE of the most
# within its search: outside a bar the step stays about as high, inside it falls (0.9 placed the tests'
# bars to the pixel; on the benchmark's stretchers 0.95 lost 0.3 dB and the most alone 0.9 dB).
PLACE_SHARE = 0.9
EDGE_SEARCH = 3  # px an edge moves inwards of the coarse step at most (and outwards at least)


@dataclass(frozen=True)
class Bar:
    """One bar: ``axis`` "col" (upright: columns ``start:stop``) or "row" (across: rows
    ``start:stop``), in the residual's pixel grid; ``density`` its layer's median height, in the
    residual's units; ``outer`` whether it lies along the painting's edge; ``along`` (first,
    end) the rows (columns) it covers, where that is not the painting's whole length."""

    axis: str
    start: int
    stop: int
    density: float
    outer: bool
    along: tuple[int, int] | None = None

    def to_dict(self) -> dict[str, object]:
        """JSON-ready: axis, extent (pixels, end exclusive), density, outer, and where it runs along
        (pixels, end exclusive; only when not the whole length)."""
        extent = {} if self.along is None else {"along": list(self.along)}
        return {
            "axis": self.axis, "start": self.start, "stop": self.stop,
            "density": round(self.density, 6), "outer": self.outer, **extent,
        }


@dataclass(frozen=True)
class Stretcher:
    """The bars found, and their profiles over the frame: ``columns`` (W,) the upright bars' height at
    each column, ``rows`` (H,) the bars across at each row (0 off the bars; float32, the residual's
    units), and ``extent`` (top, bottom, left, right; ends exclusive) the painting's box the bars run
    across. The layer is the thicker of the two where bars meet (:meth:`layer`). ``spill``: how many
    pixels the profiles reach past a bar's extent (bars found on blocks of that size and interpolated
    onto a finer frame: :meth:`upsampled`)."""

    bars: tuple[Bar, ...]
    columns: np.ndarray
    rows: np.ndarray
    extent: tuple[int, int, int, int]
    spill: int = 0

    @property
    def shape(self) -> tuple[int, int]:
        return self.rows.size, self.columns.size

    def layer(self, rows: slice = slice(None), columns: slice = slice(None)) -> np.ndarray:
        """The bars' layer over a window of the frame (the whole frame by default), (h, w) float32,
        0 off the bars; the caller makes it NaN where its images are."""
        top, bottom, left, right = self.extent
        r, c = np.arange(self.rows.size)[rows], np.arange(self.columns.size)[columns]
        upright = np.where(((r >= top) & (r < bottom))[:, None], self.columns[columns][None, :], 0.0)
        across = np.where(((c >= left) & (c < right))[None, :], self.rows[rows][:, None], 0.0)
        for bar in self.bars:  # a bar that stops short of the painting's edge: nothing beyond its end
            first, end = bar.start - self.spill, bar.stop + self.spill
            if bar.along is not None and bar.axis == "col":
                beyond = (r < bar.along[0]) | (r >= bar.along[1])
                upright[np.ix_(beyond, (c >= first) & (c < end))] = 0.0
            elif bar.along is not None:
                beyond = (c < bar.along[0]) | (c >= bar.along[1])
                across[np.ix_((r >= first) & (r < end), beyond)] = 0.0
        return np.maximum(upright, across).astype(np.float32)

    def upsampled(self, factor: int, shape: tuple[int, int]) -> Stretcher:
        """The same bars on a frame ``factor`` times finer of ``shape`` (H, W): found on block means
        of ``factor``×``factor`` pixels (a whole painting), the profiles interpolated linearly
        between the blocks' centres, the extents scaled. Raises ValueError if ``shape`` is not
        what the blocks cover."""
        if not (shape[0] <= self.rows.size * factor and shape[1] <= self.columns.size * factor):
            raise ValueError(f"a frame of {shape} is not covered by {self.shape} blocks of {factor} px")

        def finer(profile: np.ndarray, size: int) -> np.ndarray:
            centres = np.arange(profile.size) * factor + (factor - 1) / 2
            return np.interp(np.arange(size), centres, profile).astype(np.float32)

        def scaled(bar: Bar) -> Bar:
            end, length = shape[::-1] if bar.axis == "col" else shape
            along = None if bar.along is None else (bar.along[0] * factor, min(bar.along[1] * factor, length))
            return Bar(bar.axis, bar.start * factor, min(bar.stop * factor, end), bar.density, bar.outer, along)

        bars = tuple(scaled(bar) for bar in self.bars)
        top, bottom, left, right = self.extent
        extent = (top * factor, min(bottom * factor, shape[0]), left * factor, min(right * factor, shape[1]))
        spill = factor * (self.spill + 1)  # a block's width either side, as the interpolation reaches
        return Stretcher(bars, finer(self.columns, shape[1]), finer(self.rows, shape[0]), extent, spill)

    def summary(self) -> dict[str, object]:
        """JSON-ready: the bars, each with its axis, extent and density (and ``along``, for a bar over
        part of the painting only)."""
        return {"bars": [bar.to_dict() for bar in self.bars]}

    def describe(self) -> str:
        """One line for the user."""
        outer = sum(bar.outer for bar in self.bars)
        cross = len(self.bars) - outer
        short = sum(bar.along is not None for bar in self.bars)
        return (
            f"Stretcher bars found in the X-ray ({outer} along the edges"
            + (f", {cross} cross-bar{'s' if cross != 1 else ''}" if cross else "")
            + (f", {short} of them over part of the painting only" if short else "")
            # The layer is each bar's profile across it, constant along it: what varies along a bar stays.
            + "): their density and their profile across them are in the 'stretcher' layer, not in x2; what "
            "varies along a bar (the grain's rings, knots, nails not clipped) stays in x2."
        )


def _segment_profiles(residual: np.ndarray, axis: str, keep: np.ndarray) -> np.ndarray:
    """(SEGMENTS, n) medians of ``residual`` across ``axis`` ("col": one value per column) in
    segments of its length, over the ``keep`` (length,) positions along it only."""
    across = residual if axis == "col" else residual.T
    rows = np.flatnonzero(keep)
    with np.errstate(all="ignore"), _quiet():
        return np.stack([np.nanmedian(across[part], axis=0) for part in np.array_split(rows, SEGMENTS)])


@contextlib.contextmanager
def _quiet() -> Iterator[None]:
    """numpy's all-NaN-slice warnings off: a segment may lie wholly outside the painting."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        yield


def _steps(segments: np.ndarray) -> tuple[np.ndarray, np.ndarray, float]:
    """Per boundary c (between c−1 and c): the median step over the segments, the share of the
    segments whose step has its sign and at least half its size, and the robust spread of the
    median steps (the noise a bar's edge must stand out of)."""
    n = segments.shape[1]
    kernel = np.zeros(2 * (_GAP + _SPAN))
    kernel[:_SPAN], kernel[-_SPAN:] = -1.0 / _SPAN, 1.0 / _SPAN
    step = np.full((segments.shape[0], n), np.nan)
    reach = _GAP + _SPAN
    for k, profile in enumerate(segments):
        step[k, reach : n - reach + 1] = np.convolve(profile, kernel[::-1], mode="valid")
    with _quiet():
        median = np.nanmedian(step, axis=0)
        agree = np.mean((np.sign(step) == np.sign(median)) & (np.abs(step) >= 0.5 * np.abs(median)), axis=0)
        spread = 1.4826 * np.nanmedian(np.abs(median - np.nanmedian(median)))
    return np.nan_to_num(median), agree, float(spread) if np.isfinite(spread) and spread > 0 else np.inf


def _strong(step: np.ndarray, agree: np.ndarray, spread: float, sign: int, score: float) -> np.ndarray:
    """Where a step of ``sign`` stands out (``score`` spreads) and recurs along the length."""
    return (sign * step >= score * spread) & (agree >= AGREEING)


def _outer_edge(
    step: np.ndarray, agree: np.ndarray, spread: float, side: str, reach: tuple[int, int], score: float
) -> int | None:
    """Where the outer bar on ``side`` ("start": columns from 0, "stop": to the end) ends: the
    strongest agreeing step inward (down for "start", up for "stop") at a width within ``reach``
    (smallest, largest); None if none."""
    n = step.size
    sign = -1 if side == "start" else 1
    positions = np.arange(reach[0], reach[1] + 1)
    positions = positions if side == "start" else n - positions
    positions = positions[(positions > 0) & (positions < n)]
    good = positions[_strong(step[positions], agree[positions], spread, sign, score)]
    if not good.size:
        return None
    return int(good[np.argmax(sign * step[good])])


def find_stretcher(residual: np.ndarray) -> Stretcher | None:
    """The stretcher's bars in ``residual`` ((H, W) float, NaN outside the painting: x2 with the
    bars in it, in any units), or None when no stretcher is found.

    Found means: agreeing straight steps near at least three of the painting's four edges, their
    widths within a factor :data:`WIDTHS` of each other. Cross-bars are then sought between them.
    Raises ValueError for a residual that is not 2-D.
    """
    residual = np.asarray(residual, dtype=np.float64)
    if residual.ndim != 2:
        raise ValueError(f"find_stretcher takes an (H, W) residual; got shape {residual.shape}")
    finite = np.isfinite(residual)
    if finite.sum() < 64:
        return None
    rows, cols = np.flatnonzero(finite.any(1)), np.flatnonzero(finite.any(0))
    box = (slice(rows[0], rows[-1] + 1), slice(cols[0], cols[-1] + 1))
    inside = residual[box]
    height, width = inside.shape
    reach = int(OUTER_REACH * min(height, width))
    narrowest = max(MIN_WIDTH, int(np.ceil(MIN_WIDTH_SHARE * min(height, width))))
    if reach <= narrowest + _GAP + _SPAN:
        return None
    n_of = {"col": width, "row": height}
    outer = _outer_bars(inside, n_of, (narrowest, reach))
    if outer is None:
        return None
    ends, typical = outer
    along = {axis: _along(inside, axis, ends, n_of) for axis in ("col", "row")}
    # The bars are cut from one timber: one density, read where the outer bars' inner edges step.
    density = _timber_density(along, ends)
    low, high = np.percentile(inside[np.isfinite(inside)], [1, 99])
    if not density >= MIN_DENSITY_SHARE * (high - low):
        return None
    kept: list[tuple[Bar, np.ndarray]] = []
    for axis in ("col", "row"):
        offset = int((box[1] if axis == "col" else box[0]).start), int((box[0] if axis == "col" else box[1]).start)
        kept += _bars_along(along[axis], axis, ends, n_of, typical, offset, density)
    profile_of = {"col": np.zeros(residual.shape[1], np.float32), "row": np.zeros(residual.shape[0], np.float32)}
    for bar, values in kept:
        profile_of[bar.axis][bar.start : bar.stop] = values
    extent = (box[0].start, box[0].stop, box[1].start, box[1].stop)
    return Stretcher(tuple(bar for bar, _ in kept), profile_of["col"], profile_of["row"], extent)


def _outer_bars(
    inside: np.ndarray, n_of: dict[str, int], reach: tuple[int, int]
) -> tuple[dict[tuple[str, str], int], float] | None:
    """Where the outer bars end, by (axis, side), and their typical width; None when fewer than three
    sides show a bar or their widths disagree (no stretcher). The fourth side is then sought with a
    weaker step of about the same width."""
    whole_length = {"col": np.ones(n_of["row"], bool), "row": np.ones(n_of["col"], bool)}
    found = {axis: _steps(_segment_profiles(inside, axis, whole_length[axis])) for axis in ("col", "row")}
    outer: dict[tuple[str, str], int] = {}
    for axis, side in _SIDES:
        edge = _outer_edge(*found[axis], side, reach, STEP_SCORE)
        if edge is not None:
            outer[axis, side] = edge
    widths = [edge if side == "start" else n_of[axis] - edge for (axis, side), edge in outer.items()]
    if len(widths) < 3 or max(widths) > WIDTHS * min(widths):
        return None
    typical = float(np.median(widths))
    for axis, side in _SIDES:  # a stretcher has four sides: the last one's edge may be weaker
        if (axis, side) not in outer:
            alike = (int(typical / WIDTHS), int(np.ceil(typical * WIDTHS)))
            edge = _outer_edge(*found[axis], side, alike, FOURTH_SIDE_SCORE)
            if edge is not None:
                outer[axis, side] = edge
    return outer, typical


@dataclass(frozen=True)
class _Along:
    """One axis's profiles over the length between the other axis's outer bars: ``keep`` (length,)
    the positions along it read, ``segments`` (SEGMENTS, n) medians in segments of that length,
    ``profile`` (n,) their median."""

    keep: np.ndarray
    segments: np.ndarray
    profile: np.ndarray


def _along(inside: np.ndarray, axis: str, outer: dict[tuple[str, str], int], n_of: dict[str, int]) -> _Along:
    """The profiles across ``axis`` ("col": one value per column) over the length between the other
    axis's outer bars."""
    other = "row" if axis == "col" else "col"
    keep = np.ones(n_of[other], bool)
    if (other, "start") in outer:
        keep[: outer[other, "start"]] = False
    if (other, "stop") in outer:
        keep[outer[other, "stop"] :] = False
    segments = _segment_profiles(inside, axis, keep)
    with _quiet():
        profile = np.nanmedian(segments, axis=0)
    return _Along(keep, segments, profile)


def _placed(profile: np.ndarray, a: int | None, b: int | None) -> tuple[int, int]:
    """A bar's extent (start, stop) from its coarse edges ``a`` and ``b`` (None: the painting's
    edge): each edge moved, inwards by up to EDGE_SEARCH px, outwards by as far as the coarse step
    stays half as high (a bevel's ramp: :func:`_ramp_reach`) and a pixel more (at least EDGE_SEARCH),
    to the innermost boundary at which the bar's core stands PLACE_SHARE as high or more above the
    level outside (extrapolated to the boundary along a line through EDGE_OUTSIDE px) as anywhere
    there. The coarse steps are broad (read over a few pixels each side) and steepest on a bevel's
    ramp; a boundary inside the bar reads part of it as outside, one past its foot the design beside
    it (searched further out, a design falling away from a bar took 9 px of it into the bar)."""
    n = profile.size
    first, end = 0 if a is None else a, n if b is None else b
    core = _core(first, end, n)  # of the coarse bar: one level for every trial (a line tilts with the grain)
    known = core[np.isfinite(profile[core])]
    if known.size == 0:
        return first, end
    level = float(np.mean(profile[known]))

    def refined(near: int, side: str) -> int:
        outwards = max(EDGE_SEARCH, 1 + _ramp_reach(profile, near, -1 if side == "start" else 1, (end - first) // 2))
        low, high = (near - outwards, near + EDGE_SEARCH) if side == "start" else (near - EDGE_SEARCH, near + outwards)
        steps = {}
        for boundary in range(max(1, low), min(n - 1, high) + 1):
            if side == "start":
                beside = np.arange(max(0, boundary - EDGE_OUTSIDE), boundary)
            else:
                beside = np.arange(boundary, min(n, boundary + EDGE_OUTSIDE))
            steps[boundary] = float(level - _line_at(profile, beside, boundary - 0.5))
        finite = {boundary: step for boundary, step in steps.items() if np.isfinite(step)}
        most = max(finite.values(), default=float("nan"))
        if not most > 0:
            return near
        near_most = [boundary for boundary, step in finite.items() if step >= PLACE_SHARE * most]
        return max(near_most) if side == "start" else min(near_most)

    return (0 if a is None else refined(a, "start")), (n if b is None else refined(b, "stop"))


def _ramp_reach(profile: np.ndarray, near: int, outwards: int, most: int) -> int:
    """How far (px, at most ``most``) the coarse step at boundary ``near`` stays at least half as high
    going ``outwards`` (−1: to lower positions): a bevel's ramp keeps it high over its width, a sharp
    edge for the coarse step's own reach (a few px); the design beside a bar lets it fall."""
    n, sign = profile.size, -outwards  # the step up into the bar, seen from outside it

    def coarse(boundary: int) -> float:
        before = profile[max(0, boundary - _GAP - _SPAN) : max(0, boundary - _GAP)]
        after = profile[boundary + _GAP : boundary + _GAP + _SPAN]
        if before.size == 0 or after.size == 0:
            return float("nan")
        with _quiet():
            return sign * float(np.nanmean(after) - np.nanmean(before))

    height, reach = coarse(near), 0
    while reach < most and 0 < near + outwards * (reach + 1) < n:
        if not coarse(near + outwards * (reach + 1)) >= 0.5 * height:
            break
        reach += 1
    return reach


def _timber_density(along: dict[str, _Along], outer: dict[tuple[str, str], int]) -> float:
    """The stretcher's density: the median step up into the outer bars at their inner edges
    (:func:`_edge_steps`), each edge read in every segment of its length (a design's edge beside
    a bar's adds to or takes from its step over part of the length: with four edges read whole, one
    such made the median a third low); NaN when none is measured."""
    steps = []
    for (axis, side), edge in outer.items():
        start, stop = _placed(along[axis].profile, *((None, edge) if side == "start" else (edge, None)))
        for part in along[axis].segments:
            steps += _edge_steps(part, start, stop)
    return float(np.median(steps)) if steps else float("nan")


def _bars_along(
    along: _Along, axis: str, outer: dict[tuple[str, str], int], n_of: dict[str, int], typical: float,
    offset: tuple[int, int], density: float,
) -> list[tuple[Bar, np.ndarray]]:
    """The bars of one ``axis`` ("col": upright) in the painting's box: its outer bars and the
    cross-bars between them, each with its layer across (:func:`_bar_values`, of the timber's
    ``density``; the box lies ``offset`` px (across, along) into the frame)."""
    profile, segments = along.profile, along.segments
    step, agree, spread = _steps(segments)
    lo = outer.get((axis, "start"), 0) + MIN_WIDTH
    hi = outer.get((axis, "stop"), n_of[axis]) - MIN_WIDTH
    edges = [(None, outer[axis, "start"], True)] if (axis, "start") in outer else []
    edges += [(outer[axis, "stop"], None, True)] if (axis, "stop") in outer else []
    edges += _cross_bars(step, agree, spread, lo, hi, typical)
    bars = []
    for a, b, is_outer in edges:
        start, stop = _placed(profile, a, b)
        hidden: list[int] = []  # the segments of its length in which a cross-bar does not show
        ends: list[int] = []  # ... of them, those at an end of its length
        if not is_outer:
            # A cross-bar is wood too: it steps up by at least CROSS_SHARE of the outer bars' density at
            # both its edges, and does so the whole length (one segment may hide it): a band that does not
            # is a design's pillar, tree or door jamb. Read at the edges, where the design's level either
            # side is nearly the same, not against the level beside the bar, which the design sets. Its
            # layer has the outer bars' density: its own edges' median step scattered by ±40 % on the
            # benchmark's (one timber), too much to tell a thinner brace by.
            if not _shown(profile, start, stop) >= CROSS_SHARE * density:
                continue
            hidden = [k for k, part in enumerate(segments) if not _shown(part, start, stop) >= WHOLE_LENGTH * density]
            ends = [k for k in hidden if k in (0, len(segments) - 1)]
            if len(hidden) > 2 or (len(hidden) == 2 and ends):
                continue
        values = _bar_values(profile, start, stop, density)
        bar = Bar(axis, int(start + offset[0]), int(stop + offset[0]), float(np.median(values)), bool(is_outer))
        if len(hidden) == 1 and ends:
            # It stops short of one end: a pillar that does, or a bar hidden there by the design. Either
            # way nothing is taken out where the band does not show (x2 is not darkened where it never was).
            parts = np.array_split(np.flatnonzero(along.keep), len(segments))
            first, end = (int(parts[1][0]), len(along.keep)) if ends == [0] else (0, int(parts[-2][-1]) + 1)
            bar = dataclasses.replace(bar, along=(first + offset[1], end + offset[1]))
        bars.append((bar, values))
    return bars


_SIDES = (("col", "start"), ("col", "stop"), ("row", "start"), ("row", "stop"))


def _cross_bars(
    step: np.ndarray, agree: np.ndarray, spread: float, lo: int, hi: int, typical: float
) -> list[tuple[int, int, bool]]:
    """Bars between ``lo`` and ``hi``: an agreeing up-step, then an agreeing down-step
    ``typical``/WIDTHS to ``typical``·WIDTHS further; strongest pairs first, not overlapping."""
    ups = list(lo + np.flatnonzero(_strong(step[lo:hi], agree[lo:hi], spread, 1, CROSS_SCORE)))
    downs = list(lo + np.flatnonzero(_strong(step[lo:hi], agree[lo:hi], spread, -1, CROSS_SCORE)))
    pairs = sorted(
        ((min(step[a], -step[b]), a, b) for a in ups for b in downs if typical / WIDTHS <= b - a <= typical * WIDTHS),
        reverse=True,
    )
    chosen: list[tuple[int, int, bool]] = []
    for _, a, b in pairs:
        if all(b <= start or a >= stop for start, stop, _ in chosen):
            chosen.append((a, b, False))
    return chosen


def _line_at(profile: np.ndarray, positions: np.ndarray, at: np.ndarray | float) -> np.ndarray:
    """The least-squares line through ``profile`` at ``positions`` (NaN left out), evaluated at
    ``at``; through fewer than LINE_PIXELS known, their mean level; NaN where none is known."""
    known = positions[np.isfinite(profile[positions])]
    at = np.asarray(at, dtype=np.float64)
    if known.size == 0:
        return np.full(at.shape, np.nan)
    if known.size < LINE_PIXELS:
        return np.full(at.shape, float(np.mean(profile[known])))
    slope, level = np.polyfit(known - known.mean(), profile[known], 1)
    return level + slope * (at - known.mean())


def _core(start: int, stop: int, size: int) -> np.ndarray:
    """The positions of the bar ``start:stop`` in a profile of ``size`` clear of its bevels: BEVEL_SHARE
    of its width (at least EDGE_RAMP px) left out at each inner edge (one at the profile's end is the
    painting's edge: EDGE_RAMP px); all of them for a bar too narrow to have a core."""
    cut = max(EDGE_RAMP, int(round(BEVEL_SHARE * (stop - start))))
    first = start + (cut if start > 0 else EDGE_RAMP)
    end = stop - (cut if stop < size else EDGE_RAMP)
    return np.arange(first, end) if end - first >= 2 else np.arange(start, stop)


def _edge_steps(profile: np.ndarray, start: int, stop: int) -> list[float]:
    """How much ``profile`` steps up into the bar ``start:stop`` at each of its inner edges (an edge
    at the profile's end is the painting's, not the bar's): each side's level extrapolated to the
    edge along a straight line (:func:`_line_at`), inside through the bar's core (:func:`_core`: past
    the bevel), outside through EDGE_OUTSIDE px — a design's own slope across the edge is not taken
    for the bar's step."""
    n, steps = profile.size, []
    core = _core(start, stop, n)
    if start > 0:
        outside = np.arange(max(0, start - EDGE_OUTSIDE), start)
        steps.append(float(_line_at(profile, core, start - 0.5) - _line_at(profile, outside, start - 0.5)))
    if stop < n:
        outside = np.arange(stop, min(n, stop + EDGE_OUTSIDE))
        steps.append(float(_line_at(profile, core, stop - 0.5) - _line_at(profile, outside, stop - 0.5)))
    return [value for value in steps if np.isfinite(value)]


def _shown(profile: np.ndarray, start: int, stop: int) -> float:
    """The bar's mean step at its inner edges in ``profile`` (:func:`_edge_steps`); 0 where none."""
    steps = _edge_steps(profile, start, stop)
    return float(np.mean(steps)) if steps else 0.0


def _bar_values(profile: np.ndarray, start: int, stop: int, density: float) -> np.ndarray:
    """The bar's layer across ``start:stop`` (never below 0): the timber's ``density`` and the
    profile's departures from a straight line through the bar's core (the grain, the bevels). The
    design's level under the bar is that line less the density: whatever slope the design has across
    the bar stays in x2. (The level beside the bar, taken before, is the design's too: its mean
    under an outer bar differed from the level beside it by up to the bar's density.)"""
    at = np.arange(start, stop)
    values = profile[start:stop] - (_line_at(profile, _core(start, stop, profile.size), at) - density)
    return np.clip(np.nan_to_num(values), 0.0, None)


# A whole painting is searched on block means of at most this many pixels (bars are wide: a
# stretcher's timber is some 3–16 % of the painting's side, tens of blocks at this size).
DETECT_PIXELS = 4_000_000


def find_stretcher_in(x2: Any) -> Stretcher | None:
    """:func:`find_stretcher` on a whole painting's x2 ((H, W) array-like read by row slices): on its
    block means (at most :data:`DETECT_PIXELS`), the bars then placed on the full frame
    (:meth:`Stretcher.upsampled`)."""
    if len(x2.shape) != 2:
        raise ValueError(f"find_stretcher_in takes an (H, W) x2; got shape {tuple(x2.shape)}")
    height, width = x2.shape
    factor = max(1, math.ceil(math.sqrt(height * width / DETECT_PIXELS)))
    found = find_stretcher(block_means(x2, factor))
    return None if found is None else found.upsampled(factor, (height, width))


def take_out_stretcher(stretcher: Stretcher, outputs: dict[str, Any], layer_out: Any, strip: int = 512) -> None:
    """Take ``stretcher``'s layer out of the whole-painting results ``outputs`` (writable (H, W)
    array-likes by name: "x2" and "x2_hat", either or both), ``strip`` rows at a time, and write the
    layer into ``layer_out`` (NaN where x2, or x̂2 without x2, is), so that
    ``x1 + x2 + weave + stretcher == x``. Raises KeyError when neither is there."""
    names = [name for name in ("x2", "x2_hat") if name in outputs]
    if not names:
        raise KeyError("take_out_stretcher needs x2 or x2_hat among the outputs")
    height = outputs[names[0]].shape[0]
    for top in range(0, height, strip):
        rows = slice(top, min(top + strip, height))
        images = {name: np.asarray(outputs[name][rows], dtype=np.float32) for name in names}
        layer = stretcher.layer(rows)
        layer[np.isnan(images[names[0]])] = np.nan
        for name, image in images.items():
            outputs[name][rows] = image - np.nan_to_num(layer)
        layer_out[rows] = layer
