"""A mosaic's films: each with its own exposure, found at the seams and taken out of the X-ray.

A painting larger than one film is X-rayed as a mosaic of films laid edge to edge, each developed (or
read by the scanner) with its own gain and offset. Stitched, the mosaic shows straight seams where
the level jumps from one film to the next; the photograph cannot explain them, so without a model of
their own each film's exposure leaks into x2 (steps at the seams, and each film's share of the
surface painting where its gain differs). The model is as simple as the nuisance:

* the films form a grid: seams are straight lines across the whole X-ray, along rows or columns;
  film ``k`` stores ``x = gain_k · t + offset_k`` of the common exposure ``t``;
* a seam is sought in x2 (what the photograph does not explain; a whole painting's x2 is read from its
  file a window at a time) as a one-pixel step: in enough
  segments of its length the step between two columns (rows) stands out of that segment's steps and
  is sharper than its neighbours' (:func:`seam_candidates`). A hidden design's straight edges are
  blurred over two or more pixels, and films narrower than :data:`MIN_FILM_SHARE` of the side are
  not sought (a frame's rabbet, a tacking margin; a mosaic of more than about eight films along a
  side has its outer seams there: give them), nor a film between two seams much narrower than the
  median film (the films of a mosaic are of one size: cut only by the painting's edge), nor a seam
  along whose pieces (cut by crossing seams) the films either side have one exposure somewhere;
* gains and offsets are fitted to make the X-ray continuous across every seam: the level each side,
  extrapolated to the seam from two pixels, must agree after correction (robust least squares over
  segments of the seams, :func:`fit_films`). Where the model's x̂1 + weave is at hand (``explained``),
  what it explains is taken out of the comparison: the surface painting's own texture beside a seam
  (an edge along it, a brushstroke's slope) is then no step to fit (with the true seams given, the
  benchmark's mosaics lost 0.84 dB of x2 to the films' fit, 0.58 with it; seeds 0–4). One gain and one
  offset are free; they are fixed so that the films' area-weighted mean of 1 / gain is 1 and the
  X-ray's mean is kept;
* seams that the films do not explain may be cut by a seam of the other axis whose own step is too
  small, or too seldom sharp, to be found (a 2 × 3 mosaic's row; a column hidden by a panel's grain):
  the films differ either side of it, so the others' steps change there. It is sought where the
  films' model explains the others best, then placed to the pixel where its own step is explained
  best — or, sought before a seam is dropped, where x2 steps sharply (:func:`_crossing`) — and judged
  as every seam is;
* a seam is kept only when the films' model explains it: correcting must take most of its step away,
  summed along its length, in the X-ray or in what the photograph does not explain of it (a busy
  surface beside a seam steps by its own content too; :func:`find_films`, worst seam dropped first).
  A hidden edge that stands straight over part of the painting is not a step the whole length of a
  film's side, and no gain and offset of two films removes it; where crossing seams would make its
  part a film of its own (a hidden rectangle with pixel-sharp edges), the films beside the rest of
  the line have one exposure, and the seam goes. Pixel-sharp straight steps across the whole
  painting (a plank's step, stripes) are taken for films;
* the exposure layer ``x − t`` is taken out of the X-ray before the model is applied again, so that
  ``x1 + x2 + weave + exposure (+ stretcher) == x``.

Film seams that are not straight (films tilted, or stitched with blending), or films of different
sizes in each row (seams that stop at a crossing seam), are not modelled; a user who knows the seams
gives them (:class:`Seam`) and they are fitted without being sought.
"""

from __future__ import annotations

import dataclasses
import functools
import warnings
from collections.abc import Iterator, Sequence
from typing import Any
from dataclasses import dataclass

import numpy as np
from scipy import sparse

# Segments of a seam's length; a candidate must show a sharp step in at least SEGMENT_SHARE of them.
SEGMENTS = 16
SEGMENT_SHARE = 0.15
# A segment's step counts when it is STEP_SCORE times the robust spread of that segment's steps
# between all columns and SHARPNESS times the step beside it (one pixel either side).
STEP_SCORE = 2.5
SHARPNESS = 2.5
MIN_FILM_SHARE = 0.12  # films narrower than this share of the painting's extent are not sought
# Films of a mosaic are of one size: a film between two seams (whole, unlike those cut by the
# painting's edge) at least this share of the median film along that axis, or the grid is not films.
INTERIOR_SHARE = 0.6
# Two films meet along a whole stretch of seam: where crossing seams cut a seam in pieces, the films
# either side of each piece must differ by at least this share of the piece that differs most (a
# hidden rectangle with sharp edges steps only along its own sides: the films beside the rest of the
# line come out with one exposure).
PIECE_SHARE = 0.05
# A seam is kept when correcting leaves at most this share of its step. Chosen on the benchmark's
# variants (x2 of the default's fit, one pass): 26 of the 36 true seams kept at 0.45 and 0.5 (23 at
# 0.4), and none of the 30–40 candidates in 72 files without seams (clean, backdrop, stretcher,
# tacking margin, lead markers, frame), whose share left is 0.38 or more on the first fit.
EXPLAINED = 0.45
# Beside another kept seam that leaves at most EXPLAINED (a grid of films shown), a seam may leave this
# much: a film whose gain differs much from its neighbour's steps by its content (rocket-over-cat seed
# 0, its column at 270: 0.52; that film's block stayed in x2). On the cached find_films inputs of the
# 240 variant files of seeds 0–4 (2026-12-06): 46 → 50 of the 60 true seams, the one false seam of
# before (stretcher seed 4) and no other. 0.6 for every seam found the same 50, but also took a lone
# pixel-sharp straight step of a painting's content for a film (the speed benchmark's mirror-tiled
# pair: 0.54), as it would a panel's plank join.
GRID_EXPLAINED = 0.6
# A film's seam crosses the whole X-ray, the film margin beyond the painting included; a straight edge
# of the painting stops at its edge. The margin's runs across each seam (where at least half of a run is
# measured both sides) join the painting's in the films' fit, BEYOND_WEIGHT each as much as one of the
# painting's, reweighted MARGIN_ITERATIONS times against their own scatter once the painting's are:
# at the fog's level, far below the painting's, they pin each pair's offsets, and so its gains. (The
# rule this replaces checked the margin's step against the one the painting's fit predicted there:
# carried from the painting's levels down to the fog's, a gain 0.6 % off moved it by 200 counts against
# a true step of 115; it kept 11 of 69 true seams on mosaics on a backdrop.) A seam the margin does not
# step at — for no pair with BEYOND_PIXELS measured is the median step BEYOND_Z standard errors — has
# films that differ in gain alone: its step must follow the level, and the films leave at most
# SILENT_LEFT of it. A painting's straight edge whose step a gain pivoting at the fog explains but
# roughly (astronaut-over-rocket seed 4's backdrop variants: 0.37 and 0.18 left) is not kept; of the
# 99 true seams of the 33 margin files tried, one had a silent margin (the tester's row 665: 0.06 left).
BEYOND_PIXELS = 16
BEYOND_WEIGHT = 1.0
BEYOND_Z = 3.0
SILENT_LEFT = 0.1
MARGIN_ITERATIONS = 4
GAINS = (0.67, 1.5)  # a film's gain outside this range is not an exposure: the fit is rejected
# Nor is a film's offset this share of the X-ray's range (1st–99th percentile) from the films' median: a
# straight edge of the design across the whole frame (a benchmark's tiled pattern, one exposure) was
# taken for 4 films, offsets −39 666 to +29 277 counts on a range of ~50 000 (real films: a few %).
OFFSETS = 0.3
_PAIR_RUN = 8  # pixels along a seam averaged into one pair of levels for the fit
STRIP_PIXELS = 1 << 24  # a whole painting's X-ray is read this many pixels at a time
WINDOW_PIXELS = 1 << 22  # and by the seam search (a run of lines across, a piece of their length) this many
# A given seam is moved up to SNAP px to where the X-ray steps SNAP_GAIN times more sharply.
SNAP = 2
SNAP_GAIN = 1.5
_ROBUST = 4.685  # Tukey's biweight tuning constant (95 % efficiency under Gaussian noise)
# A step smaller than this share of the X-ray's range is rounding, not a film's exposure: on an exactly
# fitted image (flat plateaus) x2's steps are all ~1e-8 and any one of them would stand out of the rest.
STEP_FLOOR = 1e-3


@dataclass(frozen=True, order=True)
class Seam:
    """A straight seam across the whole X-ray: ``axis`` "row" (between rows ``position − 1`` and
    ``position``) or "col" (between columns)."""

    axis: str
    position: int

    def __post_init__(self) -> None:
        if self.axis not in ("row", "col"):
            raise ValueError(f"a seam runs along 'row' or 'col', not {self.axis!r}")
        if isinstance(self.position, bool) or not isinstance(self.position, (int, np.integer)):
            raise ValueError(f"a seam's position is a pixel index, not {self.position!r}")
        object.__setattr__(self, "position", int(self.position))  # numpy integers too: JSON-ready


@dataclass(frozen=True)
class Films:
    """The films of a mosaic and their exposures.

    ``seams``: the seams, sorted; ``gains`` and ``offsets``: (rows, cols) arrays, film ``(i, j)``
    lying between ``row_edges[i]:row_edges[i + 1]`` and ``col_edges[j]:col_edges[j + 1]`` and storing
    ``x = gain · t + offset`` (offsets in the X-ray's units); ``step_left``: for each seam, the share
    of its step that the correction leaves (0 for a seam the model explains entirely); ``given``:
    the seams were the user's, not found.
    """

    seams: tuple[Seam, ...]
    row_edges: tuple[int, ...]
    col_edges: tuple[int, ...]
    gains: np.ndarray
    offsets: np.ndarray
    step_left: tuple[float, ...]
    given: bool = False

    def unexplained(self) -> str:
        """The seams whose step the films' exposures leave more than EXPLAINED of ("col 128, row 111"),
        or "" (for given seams: perhaps not where the X-ray steps, or one missing). A seam with no pixel
        of the painting beside it (NaN: across the film margin alone) has nothing to leave."""
        kept = zip(self.seams, self.step_left)
        return ", ".join(f"{seam.axis} {seam.position}" for seam, left in kept if left > EXPLAINED)

    def _per_pixel(self, values: np.ndarray, window: tuple[slice, slice] = (slice(None), slice(None))) -> np.ndarray:
        rows = np.repeat(np.arange(len(self.row_edges) - 1), np.diff(self.row_edges))[window[0]]
        cols = np.repeat(np.arange(len(self.col_edges) - 1), np.diff(self.col_edges))[window[1]]
        return values[rows[:, None], cols[None, :]]

    def _corrected_window(self, x: np.ndarray, window: tuple[slice, slice]) -> np.ndarray:
        """``x[window]`` corrected (see :meth:`corrected`), the rest of the image not touched."""
        return self.correct(np.asarray(x[window]), window)

    def correct(self, values: np.ndarray, window: tuple[slice, slice]) -> np.ndarray:
        """(h, w) float64: ``values``, the X-ray read at ``window`` (a tile of a whole painting), as one
        exposure, ``(x − offset) / gain`` film by film (NaN stays). ``window``'s slices have no step."""
        values = np.asarray(values, dtype=np.float64)
        return (values - self._per_pixel(self.offsets, window)) / self._per_pixel(self.gains, window)

    def exposure(self, corrected: np.ndarray, window: tuple[slice, slice]) -> np.ndarray:
        """(h, w) float64: the films' exposure at ``window`` from the X-ray :meth:`correct` gave there,
        ``x − corrected = (gain − 1) · corrected + offset``."""
        corrected = np.asarray(corrected, dtype=np.float64)
        return (self._per_pixel(self.gains, window) - 1) * corrected + self._per_pixel(self.offsets, window)

    def corrected(self, x_mixed: np.ndarray) -> np.ndarray:
        """(H, W) float64: the X-ray as one exposure, ``(x − offset) / gain`` film by film (NaN stays)."""
        x = np.asarray(x_mixed, dtype=np.float64)
        self._check_shape(x.shape)
        return (x - self._per_pixel(self.offsets)) / self._per_pixel(self.gains)

    def layer(self, x_mixed: np.ndarray) -> np.ndarray:
        """(H, W) float32: the films' exposure in the X-ray, ``x − corrected(x)``."""
        x = np.asarray(x_mixed, dtype=np.float64)
        return (x - self.corrected(x)).astype(np.float32)

    def _check_shape(self, shape: tuple[int, ...]) -> None:
        if tuple(shape) != (self.row_edges[-1], self.col_edges[-1]):
            covered = f"{self.row_edges[-1]}×{self.col_edges[-1]}"
            raise ValueError(f"the films cover {covered} pixels, not {'×'.join(map(str, shape))}")

    def summary(self) -> dict[str, object]:
        """JSON-ready: each seam (axis, position, share of its step left) and each film (rows, cols,
        gain, offset in the X-ray's units)."""
        films = [
            {
                "rows": [self.row_edges[i], self.row_edges[i + 1]], "cols": [self.col_edges[j], self.col_edges[j + 1]],
                "gain": round(float(self.gains[i, j]), 6), "offset": round(float(self.offsets[i, j]), 6),
            }
            for i in range(self.gains.shape[0]) for j in range(self.gains.shape[1])
        ]
        seams = [
            {"axis": seam.axis, "position": seam.position, "step_left": round(left, 3)}
            for seam, left in zip(self.seams, self.step_left)
        ]
        return {"seams": seams, "films": films}

    def describe(self) -> str:
        """One sentence for the user: how many films, where the seams are, how far the gains spread."""
        where = []
        for axis, words in (("row", "row"), ("col", "column")):
            positions = [str(seam.position) for seam in self.seams if seam.axis == axis]
            if positions:
                where.append(f"{words}{'s' * (len(positions) > 1)} {', '.join(positions)}")
        gains = f"gains {self.gains.min():.3f}–{self.gains.max():.3f}" if self.gains.size > 1 else ""
        return (
            f"A mosaic of {self.gains.size} films {'given' if self.given else 'found in the X-ray'} (seams at "
            f"{'; '.join(where)}): each film's exposure ({gains}) is taken out into the 'exposure' layer."
        )


def seam_candidates(x2: Any, smallest_step: float = 0.0) -> list[Seam]:
    """Straight one-pixel steps across ``x2`` (H, W; NaN where unknown) that may be film seams (see the
    module's description), at least :data:`MIN_FILM_SHARE` of the painting's extent (where x2 is known)
    from either of its edges and as far from a stronger candidate (films are at least that wide),
    sorted; empty for images too small to hold a seam's segments. A segment's step below
    ``smallest_step`` (x2's units) never counts. ``x2`` may be a whole painting's file
    (anything with ``shape`` and 2-D slicing, e.g. :class:`KnownPixels`): it is read a window at a
    time. Raises ValueError for a non-2-D image."""
    x2 = x2 if hasattr(x2, "shape") and hasattr(x2, "__getitem__") else np.asarray(x2)
    if len(x2.shape) != 2:
        raise ValueError(f"film seams are sought in a 2-D image, not one of shape {tuple(x2.shape)}")
    found = []
    for axis in ("col", "row"):
        across, length = x2.shape if axis == "col" else x2.shape[::-1]
        if across < 2 * SEGMENTS or length < 8:
            continue
        steps, known = _segment_steps(x2, axis)
        share = _sharp_share(steps, smallest_step)
        known = np.flatnonzero(known)
        if known.size == 0:
            continue
        first, stop = int(known[0]), int(known[-1]) + 1  # the painting's extent along the axis
        reach = MIN_FILM_SHARE * (stop - first)
        picked: list[int] = []
        # Strongest first; films are at least ``reach`` wide, so a step nearer a stronger one is no seam
        # (and a painting's many straight steps do not make a grid of thousands of films to fit).
        for index in sorted(np.flatnonzero(share >= SEGMENT_SHARE), key=lambda k: (-share[k], k)):
            position = int(index)
            neighbourhood = share[max(0, index - 2): index + 3]
            if min(position - first, stop - position) >= reach and share[index] == neighbourhood.max():
                if all(abs(position - other) >= reach for other in picked):
                    picked.append(position)
        found += [Seam(axis, position) for position in picked]
    return sorted(found)


def _sharp_share(steps: np.ndarray, smallest_step: float) -> np.ndarray:
    """(W,): for each boundary between columns c − 1 and c, the share of the segments in which the step
    there (``steps``, (SEGMENTS, W − 1) from :func:`_segment_steps`) is sharp (0 at c = 0, 1 and W − 1,
    where no neighbour lies beyond); the spread a step is scored against is at least ``smallest_step``
    / STEP_SCORE."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)  # segments with no known pixel
        centre = np.nanmedian(steps, axis=1, keepdims=True)
        spread = 1.4826 * np.nanmedian(np.abs(steps - centre), axis=1, keepdims=True)
    spread = np.maximum(spread, smallest_step / STEP_SCORE)
    score = np.abs(steps) / np.where(spread > 0, spread, np.inf)
    score = np.nan_to_num(score, nan=0.0)
    inner, beside = score[:, 1:-1], np.maximum(score[:, :-2], score[:, 2:])
    sharp = (inner > STEP_SCORE) & (inner > SHARPNESS * beside)
    known = np.isfinite(steps[:, 1:-1]).sum(axis=0)
    share = sharp.sum(axis=0) / np.maximum(known, 1)
    return np.concatenate([[0.0, 0.0], share, [0.0]])


def _segment_steps(x2: Any, axis: str) -> tuple[np.ndarray, np.ndarray]:
    """The one-pixel steps of ``x2`` (H, W, NaN where unknown) across the boundaries between columns
    (``axis`` "col") or rows ("row"): (SEGMENTS, L − 1), the median step over each of SEGMENTS runs of
    the lines across them (NaN ignored), and (L,) bool, which columns (rows) hold a known pixel. Read
    a window of at most WINDOW_PIXELS at a time, so ``x2`` may be a whole painting's file."""
    across, length = x2.shape if axis == "col" else x2.shape[::-1]
    edges = np.linspace(0, across, SEGMENTS + 1).astype(int)
    chunk = max(2, WINDOW_PIXELS // max(1, int(np.diff(edges).max())))  # positions along the axis per window
    steps: np.ndarray | None = None
    known = np.zeros(length, dtype=bool)
    for segment, (top, bottom) in enumerate(zip(edges[:-1], edges[1:])):
        start = 0
        while start < length - 1:
            stop = min(length, start + chunk)
            lines, along = slice(top, bottom), slice(start, stop)
            window = (lines, along) if axis == "col" else (along, lines)
            values = np.asarray(x2[window])
            values = values if values.dtype.kind == "f" else values.astype(np.float32)  # float32 is enough
            values = values if axis == "col" else values.T
            differences = np.diff(values, axis=1)
            with warnings.catch_warnings():
                warnings.simplefilter("ignore", RuntimeWarning)  # a run with no known pixel
                # the same values; numpy's nanmedian loops over columns in Python where there are NaNs
                median = np.nanmedian if np.isnan(differences).any() else np.median
                medians = median(differences, axis=0)
            if steps is None:
                steps = np.full((SEGMENTS, length - 1), np.nan, dtype=medians.dtype)
            steps[segment, start : stop - 1] = medians
            known[start:stop] |= np.isfinite(values).any(axis=0)
            start = stop - 1
    return (np.full((SEGMENTS, max(length - 1, 0)), np.nan) if steps is None else steps), known


def _edges(shape: tuple[int, int], seams: Sequence[Seam]) -> tuple[tuple[int, ...], tuple[int, ...]]:
    rows = sorted({seam.position for seam in seams if seam.axis == "row"})
    cols = sorted({seam.position for seam in seams if seam.axis == "col"})
    return (0, *rows, shape[0]), (0, *cols, shape[1])


def _levels_across(x: np.ndarray, seam: Seam) -> tuple[np.ndarray, np.ndarray]:
    """Each side's level at the seam, extrapolated linearly from its two nearest pixels (so that the
    image's own slope across the seam is not taken for a step): (before, after), one per pixel along it.
    Only the four lines beside the seam are read (``x`` may be a whole painting's file)."""
    p = seam.position
    lines = x[:, p - 2 : p + 2] if seam.axis == "col" else x[p - 2 : p + 2, :]
    lines = np.asarray(lines, dtype=np.float64)
    lines = lines if seam.axis == "col" else lines.T
    return 1.5 * lines[:, 1] - 0.5 * lines[:, 0], 1.5 * lines[:, 2] - 0.5 * lines[:, 3]


def fit_films(
    x_mixed: np.ndarray, seams: Sequence[Seam], given: bool = False, explained: Any = None, beyond: Any = None
) -> Films | None:
    """Each film's gain and offset such that the X-ray is continuous across ``seams`` (see the
    module's description); None when the seams do not tie every film to the others or a gain falls
    outside :data:`GAINS`. ``given``: the seams are the user's (said so in :meth:`Films.describe`).

    ``x_mixed`` is (H, W), NaN where unknown (outside the painting, clipped); ``explained`` (H, W), if
    known: what the model explains of it from the photograph (x̂1 + weave, in its units), taken out of
    the comparison across the seams; ``beyond`` (H, W), if known: the X-ray outside the painting (the
    film margin, NaN elsewhere), whose runs across the seams join the fit (they pin the films' offsets at
    the fog's level). Raises ValueError for a seam outside the image or within two pixels of its edge.
    """
    x = x_mixed if hasattr(x_mixed, "shape") else np.asarray(x_mixed)
    films = _fit(x, seams, explained=explained, beyond=beyond)
    if films is None or _odd_gains(films).any():
        return None
    return dataclasses.replace(films, given=given)


class KnownPixels:
    """A whole painting's X-ray (a file read lazily: anything with ``shape``, ``dtype`` and 2-D
    slicing) as :func:`fit_films` should see it: float64, NaN where nothing was measured — at an
    integer file's limits (clipped, or padding) and outside the painting's ``support`` ((H, W) bool,
    lazy too), as the in-memory path leaves them out — or, with ``beyond``, inside it (the film margin
    around the painting, where a seam steps too: :func:`find_films`). Read window by window, never whole."""

    def __init__(self, x_mixed: Any, support: Any = None, beyond: bool = False) -> None:
        self.x_mixed, self.support, self.beyond = x_mixed, support, beyond
        self.shape, self.dtype, self.ndim = tuple(x_mixed.shape), np.dtype(np.float64), 2
        kind = np.dtype(x_mixed.dtype)
        self._limits = (np.iinfo(kind).min, np.iinfo(kind).max) if kind.kind in "iu" else None

    def __getitem__(self, window: tuple[slice, slice]) -> np.ndarray:
        stored = np.asarray(self.x_mixed[window])
        values = stored.astype(np.float64)
        if self._limits is not None:
            values[(stored == self._limits[0]) | (stored == self._limits[1])] = np.nan
        else:
            values[np.isinf(values)] = np.nan  # a float file's infinities carry no measurement either
        if self.support is not None:
            inside = np.asarray(self.support[window], dtype=bool)
            values[inside if self.beyond else ~inside] = np.nan
        return values

    @property
    def margin(self) -> KnownPixels | None:
        """The same X-ray beyond the painting's support (the film margin, where a seam steps too and
        its runs pin the films' offsets: :func:`find_films`, :func:`given_films`); None without one."""
        return None if self.support is None else KnownPixels(self.x_mixed, self.support, beyond=True)


def _step_size(x: np.ndarray, seam: Seam) -> float:
    """How much the X-ray steps from one pixel to the next at ``seam``: the median over SEGMENTS
    segments of the absolute median difference across it (a one-pixel step: a seam one pixel off
    sees the image's own differences only); 0 where nothing is known."""
    p = seam.position
    lines = np.asarray(x[:, p - 1 : p + 1] if seam.axis == "col" else x[p - 1 : p + 1, :], dtype=np.float64)
    before, after = (lines[:, 0], lines[:, 1]) if seam.axis == "col" else (lines[0], lines[1])
    edges = np.linspace(0, len(before), SEGMENTS + 1).astype(int)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        steps = np.abs([np.nanmedian(after[a:b] - before[a:b]) for a, b in zip(edges[:-1], edges[1:])])
    steps = steps[np.isfinite(steps)]
    return float(np.median(steps)) if steps.size else 0.0


def snapped(x_mixed: np.ndarray, seam: Seam) -> Seam:
    """``seam`` moved to where, within SNAP px of it, the X-ray steps SNAP_GAIN times more sharply
    (:func:`_step_size`) than anywhere else there, or as given (no clear step: the painting's own
    edges may step as much): a seam read off a viewer is easily a pixel off (row:N lies between rows
    N − 1 and N), and a film corrected one pixel off leaves a line in x2."""
    length = x_mixed.shape[0] if seam.axis == "row" else x_mixed.shape[1]
    steps = {
        position: _step_size(x_mixed, Seam(seam.axis, position))
        for position in range(seam.position - SNAP, seam.position + SNAP + 1)
        if 2 <= position <= length - 2
    }
    best = max(steps, key=steps.__getitem__)
    others = [step for position, step in steps.items() if position != best]
    # nothing known around it (the seam crosses only unknown pixels): no step to move it to
    clear = steps[best] > 0 and all(steps[best] >= SNAP_GAIN * step for step in others)
    return Seam(seam.axis, best) if clear else seam


def given_films(
    x_mixed: np.ndarray, seams: Sequence[Seam], stacklevel: int = 2, explained: Any = None, beyond: Any = None
) -> Films | None:
    """:func:`fit_films` of the user's ``seams`` on ``x_mixed`` (in memory or a whole painting's file,
    NaN where unknown; ``explained`` and ``beyond`` as there), each first :func:`snapped` to where the X-ray steps
    (said in a warning), with a warning when they cannot be fitted (None) or when the films leave much
    of a seam's step (perhaps not where the X-ray steps)."""
    moved = {seam: snapped(x_mixed, seam) for seam in seams}
    shifts = [f"{seam.axis} {seam.position} to {seam.axis} {to.position}" for seam, to in moved.items() if to != seam]
    if shifts:
        warnings.warn(
            f"Given film seams moved to where the X-ray steps: {', '.join(shifts)} (row:N lies between rows N−1 "
            "and N).", UserWarning, stacklevel=stacklevel + 1,
        )
    seams = sorted(set(moved.values()))
    films = fit_films(x_mixed, seams, given=True, explained=explained, beyond=beyond)
    if films is None:
        warnings.warn(
            "The given film seams could not be fitted (a film tied to no other through known pixels, or an "
            "exposure gain beyond 0.67–1.5); the X-ray is separated as it is.", UserWarning, stacklevel=stacklevel + 1,
        )
    elif films.unexplained():
        warnings.warn(
            f"The exposures of the given films do not explain the X-ray's levels across {films.unexplained()}: "
            "is a seam there where the X-ray steps (row:N lies between rows N−1 and N), and is every seam of the "
            "mosaic given (a seam left out puts films of two exposures in one)? What they leave stays in x2.",
            UserWarning, stacklevel=stacklevel + 1,
        )
    return films


def _odd_gains(films: Films) -> np.ndarray:
    """(rows, cols) bool: films whose gain is outside :data:`GAINS` (not an exposure)."""
    return ~((films.gains > GAINS[0]) & (films.gains < GAINS[1]))


def odd_films(films: Films, levels: tuple[float, float]) -> np.ndarray:
    """(rows, cols) bool: films found that are no exposure — a gain outside :data:`GAINS`, or an offset
    more than :data:`OFFSETS` of the X-ray's range ``levels`` (its 1st and 99th percentiles) from the
    films' median offset."""
    odd = _odd_gains(films)
    span = levels[1] - levels[0]
    if span > 0:
        odd |= np.abs(films.offsets - np.median(films.offsets)) > OFFSETS * span
    return odd


@dataclass(frozen=True)
class _RowSums:
    """One pass over an X-ray (in memory or a whole painting's file, read in strips): each row's count
    and sum of known pixels between consecutive ``cuts`` (column positions, 0 first), and the X-ray's
    range (:func:`_range`, on every 4th pixel each way). The films of any subset of the cuts are summed
    from it, so the search, which fits one set of seams after another, reads the X-ray once."""

    cuts: tuple[int, ...]
    counts: np.ndarray  # (H, len(cuts))
    totals: np.ndarray  # (H, len(cuts))
    levels: tuple[float, float]  # the X-ray's range (:func:`_range`)

    @classmethod
    def of(cls, x: Any, cuts: Sequence[int], levels: tuple[float, float] | None = None) -> _RowSums:
        """The sums of ``x`` between ``cuts``; ``levels``: :func:`_range` of ``x``, if already known."""
        cuts = tuple(sorted({0, *cuts}))
        counts, totals, sample = [], [], []
        for _, strip in _strips(x):
            if levels is None:
                sample.append(strip[::4, ::4].reshape(-1))
            seen = np.isfinite(strip)
            counts.append(np.add.reduceat(seen.astype(np.int64), cuts, axis=1))
            totals.append(np.add.reduceat(np.where(seen, strip, 0.0), cuts, axis=1))
        levels = _range(x, np.concatenate(sample)) if levels is None else levels
        return cls(cuts, np.concatenate(counts), np.concatenate(totals), levels)

    @property
    def known(self) -> np.ndarray:
        """(H,) bool: the rows holding a known pixel."""
        return self.counts.sum(axis=1) > 0

    def films(self, row_edges: Sequence[int], col_edges: Sequence[int]) -> tuple[np.ndarray, np.ndarray]:
        """(rows, cols) known pixels and their sum in each film (``col_edges`` among the cuts)."""
        return _film_sums(self, col_edges, row_edges, cut_axis=1)


@dataclass(frozen=True)
class _ColumnSums:
    """:class:`_RowSums` the other way: each column's count and sum of known pixels between consecutive
    ``cuts`` (row positions, 0 first), from one pass over the X-ray in strips; the films of any set of
    column seams with a subset of the cuts as rows are summed from it (the search for a column seam
    across row seams, :func:`_crossing`)."""

    cuts: tuple[int, ...]
    counts: np.ndarray  # (len(cuts), W)
    totals: np.ndarray  # (len(cuts), W)
    levels: tuple[float, float]

    @classmethod
    def of(cls, x: Any, cuts: Sequence[int], levels: tuple[float, float]) -> _ColumnSums:
        cuts = tuple(sorted({0, *cuts}))
        counts, totals = np.zeros((len(cuts), x.shape[1])), np.zeros((len(cuts), x.shape[1]))
        for first, strip in _strips(x):
            band = np.searchsorted(cuts, np.arange(first, first + len(strip)), side="right") - 1
            seen = np.isfinite(strip)
            for k in np.unique(band):
                rows = band == k
                counts[k] += seen[rows].sum(axis=0)
                totals[k] += np.where(seen[rows], strip[rows], 0.0).sum(axis=0)
        return cls(cuts, counts, totals, levels)

    @property
    def known(self) -> np.ndarray:
        """(W,) bool: the columns holding a known pixel."""
        return self.counts.sum(axis=0) > 0

    def films(self, row_edges: Sequence[int], col_edges: Sequence[int]) -> tuple[np.ndarray, np.ndarray]:
        """(rows, cols) known pixels and their sum in each film (``row_edges`` among the cuts)."""
        return _film_sums(self, row_edges, col_edges, cut_axis=0)


def _film_sums(
    sums: _RowSums | _ColumnSums, cut_edges: Sequence[int], other_edges: Sequence[int], cut_axis: int
) -> tuple[np.ndarray, np.ndarray]:
    """(rows, cols) float64 known pixels and their sum in each film, from ``sums`` summed between its
    cuts along ``cut_axis`` (``cut_edges`` among them) and by ``other_edges`` along the other axis."""
    cuts = [sums.cuts.index(edge) for edge in cut_edges[:-1]]
    return tuple(  # type: ignore[return-value]
        np.add.reduceat(np.add.reduceat(values, cuts, axis=cut_axis), list(other_edges[:-1]), axis=1 - cut_axis)
        .astype(np.float64)
        for values in (sums.counts, sums.totals)
    )


def _fit(
    x: Any, seams: Sequence[Seam], sums: _RowSums | _ColumnSums | None = None, explained: Any = None,
    beyond: Any = None, judged: Any = None,
) -> Films | None:
    """:func:`fit_films` without the check of the gains. Reads the X-ray (and ``explained``) around the
    seams and in strips (:class:`_RowSums`; ``sums`` if already read, its cuts including the column
    seams): no copy of the whole image is made (a 36 MP X-ray in memory is large already). ``judged``
    (H, W), if given: what the model explains, taken out of a second measure of each seam's share left
    (:func:`_step_left`), not out of the fit."""
    seams = tuple(sorted(set(seams)))
    for seam in seams:
        length = x.shape[1] if seam.axis == "col" else x.shape[0]
        if not 2 <= seam.position <= length - 2:
            raise ValueError(
                f"a seam at {seam.axis} {seam.position} is outside the X-ray's {length} {seam.axis}s (or on its edge)"
            )
    row_edges, col_edges = _edges(x.shape, seams)
    shape = (len(row_edges) - 1, len(col_edges) - 1)
    sums = _RowSums.of(x, col_edges[:-1]) if sums is None else sums
    area, total = sums.films(row_edges, col_edges)
    if not area.any():
        return None
    mean = np.divide(total, area, out=np.zeros(shape), where=area > 0)
    low, high = sums.levels
    span = high - low if high > low else 1.0
    band_of = {"row": np.searchsorted(row_edges, np.arange(x.shape[0]), side="right") - 1,
               "col": np.searchsorted(col_edges, np.arange(x.shape[1]), side="right") - 1}
    before, after, run_of, told, weight, inside = [], [], [], [], [], []
    for seam in seams:
        # solved in unit range: the gauge rows' weight means the same for any units
        levels = [(level - low) / span for level in _levels_across(x, seam)]
        # What the photograph explains either side, in the same units (runs where it is unknown are left out).
        said = [level / span for level in _levels_across(explained, seam)] if explained is not None else None
        along = band_of["row"] if seam.axis == "col" else band_of["col"]  # the films' band at each pixel along
        across = band_of[seam.axis][seam.position - 1], band_of[seam.axis][seam.position]
        sides = [along * shape[1] + side if seam.axis == "col" else side * shape[1] + along for side in across]
        # Runs of _PAIR_RUN pixels along the seam, each a pair of mean levels where at least half are
        # known on both sides and no crossing seam cuts it.
        runs = len(levels[0]) // _PAIR_RUN
        starts = np.arange(runs) * _PAIR_RUN
        pair = [level[: runs * _PAIR_RUN].reshape(runs, _PAIR_RUN) for level in levels]
        both = np.isfinite(pair[0]) & np.isfinite(pair[1])
        if said is not None:
            said = [level[: runs * _PAIR_RUN].reshape(runs, _PAIR_RUN) for level in said]
            both &= np.isfinite(said[0]) & np.isfinite(said[1])
        known = both.sum(axis=1)
        kept = (along[starts] == along[starts + _PAIR_RUN - 1]) & (known >= _PAIR_RUN // 2)

        def run_means(level: np.ndarray) -> list[float]:
            return list(np.where(both, level, 0.0).sum(axis=1)[kept] / known[kept])

        before += run_means(pair[0])
        after += run_means(pair[1])
        if said is not None:
            told += list(np.subtract(run_means(said[0]), run_means(said[1])))
        run_of += list(zip(sides[0][starts[kept]], sides[1][starts[kept]]))
        weight += [1.0] * int(kept.sum())
        inside += [True] * int(kept.sum())
        if beyond is not None:
            # The film margin beyond the painting: its runs, at the fog's level, where nothing is explained.
            margin = [(level[: runs * _PAIR_RUN].reshape(runs, _PAIR_RUN) - low) / span
                      for level in _levels_across(beyond, seam)]
            both = np.isfinite(margin[0]) & np.isfinite(margin[1])
            known = both.sum(axis=1)
            kept = (along[starts] == along[starts + _PAIR_RUN - 1]) & (known >= _PAIR_RUN // 2)
            before += run_means(margin[0])
            after += run_means(margin[1])
            told += [0.0] * int(kept.sum()) if said is not None else []
            run_of += list(zip(sides[0][starts[kept]], sides[1][starts[kept]]))
            weight += [BEYOND_WEIGHT] * int(kept.sum())
            inside += [False] * int(kept.sum())
    if not run_of:
        return None
    film_a, film_b = np.array(run_of).T
    levels = (mean.ravel() - low) / span
    solution = _solve_exposures(
        np.array(before), np.array(after), film_a, film_b, area.ravel(), levels, step=np.array(told) if told else None,
        weight=np.sqrt(weight), ties=np.array(inside),
    )
    if solution is None:
        return None
    scale, shift = solution  # t_unit = scale · x_unit + shift, film by film
    with np.errstate(divide="ignore", invalid="ignore"):  # a degenerate film: its gain is odd, and said so
        gains = 1.0 / scale
        # x_unit = gain · t_unit + o  ⇒  in X-ray units, x = gain · t + (o · span + low − gain · low)
        offsets = (-shift / scale) * span + low - gains * low
    films = Films(seams, row_edges, col_edges, gains.reshape(shape), offsets.reshape(shape), ())
    if not np.all(np.isfinite(gains) & (gains > 0)):
        return dataclasses.replace(films, step_left=(float("inf"),) * len(seams))
    left = tuple(_step_left(x, films, seam, judged) for seam in seams)
    return Films(seams, row_edges, col_edges, films.gains, films.offsets, left)


def _strips(x: np.ndarray) -> Iterator[tuple[int, np.ndarray]]:
    """(first row, float64 rows) of ``x`` in strips of about STRIP_PIXELS, their height a multiple of 4:
    a whole painting's file is read a strip at a time, never whole."""
    height = _strip_height(x)
    for top in range(0, x.shape[0], height):
        yield top, np.asarray(x[top : top + height, :], dtype=np.float64)


def _strip_height(x: Any) -> int:
    """Rows per strip of :func:`_strips`: about STRIP_PIXELS pixels, a multiple of 4."""
    return max(4, STRIP_PIXELS // max(x.shape[1], 1) // 4 * 4)


def _range(x: np.ndarray, sample: np.ndarray | None = None) -> tuple[float, float]:
    """The X-ray's 1st and 99th percentiles (on every 4th pixel each way, ``sample`` if already read:
    a scale, not a measurement)."""
    if sample is None:
        # Every 4th row of each strip (strips are 4k rows high), every 4th column: only those are read
        # and converted (a whole painting's file is decoded strip by strip all the same).
        height = _strip_height(x)
        rows = [slice(top, top + height, 4) for top in range(0, x.shape[0], height)]
        sample = np.concatenate([np.asarray(x[part, ::4], dtype=np.float64).reshape(-1) for part in rows])
    sample = sample[np.isfinite(sample)]
    if sample.size == 0:  # every 4th pixel unknown: any known one will do
        sample = np.concatenate([strip[np.isfinite(strip)] for _, strip in _strips(x)])
    return (float(np.percentile(sample, 1)), float(np.percentile(sample, 99))) if sample.size else (0.0, 0.0)


def _solve_exposures(
    before: np.ndarray, after: np.ndarray, film_a: np.ndarray, film_b: np.ndarray,
    area: np.ndarray, mean: np.ndarray, iterations: int = 8, step: np.ndarray | None = None,
    weight: np.ndarray | None = None, ties: np.ndarray | None = None,
) -> tuple[np.ndarray, np.ndarray] | None:
    """Scales and shifts per film (``t = scale · x + shift``) that make the levels agree across the
    seams, ``scale_a · before + shift_a = scale_b · after + shift_b + step`` (``step``: what the
    photograph explains of the level before the seam less after it, at each run; 0 if not given), by
    iteratively reweighted least
    squares (Tukey's biweight: a hidden design's edge along a stretch of seam is not a film's step),
    with the gauge fixed (area-weighted mean scale 1, the X-ray's mean kept); None if a film is tied
    to no other."""
    count = len(area)  # films; ``area`` their known pixels, ``mean`` their mean level (unit range)
    share = area / area.sum()
    rows = np.arange(len(before))
    prior = np.ones(len(before)) if weight is None else weight
    painting = np.ones(len(before), bool) if ties is None else ties
    margin = ~painting
    weights = np.where(painting, prior, 0.0)
    gauge = 1e3  # the two gauge rows hold exactly, next to residuals of order one
    # A film with no pixel of the painting (the film margin's alone) needs no exposure of its own: the
    # results are empty there. Its gain is held at 1 and its offset at 0 but for what the margin's runs
    # say (a margin-only film made the user's seams all refused: 'tied to no other').
    empty = np.flatnonzero(area == 0)
    fixed = np.zeros((2 + 2 * len(empty), 2 * count))
    fixed[0, 0::2], fixed[1, 0::2], fixed[1, 1::2] = gauge * share, gauge * share * mean, gauge * share
    fixed[2 + np.arange(len(empty)), 2 * empty] = gauge
    fixed[2 + len(empty) + np.arange(len(empty)), 2 * empty + 1] = 1e-3  # a weak pull: the margin's runs win
    fixed_target = np.concatenate(
        [[gauge, gauge * float(share @ mean)], np.full(len(empty), gauge), np.zeros(len(empty))]
    )
    columns = np.concatenate([2 * film_a, 2 * film_a + 1, 2 * film_b, 2 * film_b + 1])

    def solve(weights: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        # Each run ties two films (four unknowns): the normal equations are summed from a sparse system
        # (a mosaic of many films with many candidate seams made a dense one of 20 000 × 400 the cost).
        values = np.concatenate([weights * before, weights, -weights * after, -weights])
        runs = sparse.csr_matrix((values, (np.tile(rows, 4), columns)), shape=(len(before), 2 * count))
        normal = (runs.T @ runs).toarray() + fixed.T @ fixed
        # lstsq, not solve: a film tied to no other leaves it singular (said below); the least-norm
        # solution of the normal equations is the least-squares system's.
        right = fixed.T @ fixed_target + (0.0 if step is None else runs.T @ (weights * step))
        solution = np.linalg.lstsq(normal, right, rcond=None)[0]
        scale, shift = solution[0::2], solution[1::2]
        residual = scale[film_a] * before + shift[film_a] - scale[film_b] * after - shift[film_b]
        return scale, shift, (residual if step is None else residual - step)

    def reweighted(weights: np.ndarray, residual: np.ndarray, group: np.ndarray) -> np.ndarray | None:
        if not group.any():  # no run of this kind (a seam across the film margin alone): nothing to weigh
            return None
        spread = 1.4826 * np.median(np.abs(residual[group]))
        if not spread > 0:
            return None
        u = residual / (_ROBUST * spread)
        return np.where(group, prior * np.sqrt(np.where(np.abs(u) < 1, (1 - u**2) ** 2, 0.0)), weights)

    for _ in range(iterations):
        scale, shift, residual = solve(weights)
        new_weights = reweighted(weights, residual, painting)
        if new_weights is None:
            break
        weights = new_weights
    tied = area == 0  # nothing of the painting to tie
    if np.count_nonzero(area) == 1:  # the painting's one film: the gauge fixes it, there is nothing to tie it to
        tied[:] = True
    tied[film_a[(weights > 0) & painting]] = tied[film_b[(weights > 0) & painting]] = True
    if count > 1 and not tied.all():
        return None
    if margin.any():
        # The film margin's runs join the painting's, weighed as they were: each at the fog's level,
        # where the films' exposures step by their offsets alone.
        weights = np.where(margin, prior, weights)
        for k in range(MARGIN_ITERATIONS):
            scale, shift, residual = solve(weights)
            new_weights = reweighted(weights, residual, margin) if k < MARGIN_ITERATIONS - 1 else None
            if new_weights is None:
                break
            weights = new_weights
    if count > 1 and not tied.all():
        return None
    return scale, shift


def _step_left(x: np.ndarray, films: Films, seam: Seam, explained: Any = None) -> float:
    """The share of ``seam``'s step that ``films``' correction of ``x`` leaves: over the segments of
    the seam, the sum of |median step| after over the same before, the segment worst after left out (a
    scratch across the seam, a hidden edge meeting it); 0 when there was no step, NaN when no segment
    is known. With ``explained`` (H, W: x̂1 + weave), the smaller of that share and the same measured
    with what the photograph explains taken out before and after the correction: a busy surface beside
    a seam steps by its own content, which no film's exposure takes away (rocket-over-cat seed 2 on a
    backdrop: its true seams left 1.03, 0.66 and 0.92 of the X-ray's step, all dropped, −3.80 dB against
    clean; with the surface's part out 0.58, 0.36 and 0.26, all kept). Only the four lines either side
    of the seam are read."""
    lines = slice(seam.position - 2, seam.position + 2)
    window = (slice(None), lines) if seam.axis == "col" else (lines, slice(None))
    local = Seam(seam.axis, 2)
    stored = np.asarray(x[window], dtype=np.float64)
    corrected = films._corrected_window(x, window)
    said = [0.0] if explained is None else [0.0, np.asarray(explained[window], dtype=np.float64)]
    shares = []
    for part in said:
        steps = []
        for image in (stored - part, corrected - part):
            before, after = _levels_across(image, local)
            edges = np.linspace(0, len(before), SEGMENTS + 1).astype(int)
            with warnings.catch_warnings():
                warnings.simplefilter("ignore", RuntimeWarning)
                steps.append(np.abs([np.nanmedian(after[a:b] - before[a:b]) for a, b in zip(edges[:-1], edges[1:])]))
        known = np.isfinite(steps[0]) & np.isfinite(steps[1])
        if not known.any():
            continue
        was, left = steps[0][known], steps[1][known]
        keep = np.argsort(left)[:-1] if known.sum() > 1 else slice(None)
        shares.append(float(left[keep].sum() / was[keep].sum()) if was[keep].sum() > 0 else 0.0)
    return min(shares) if shares else float("nan")


def find_films(x_mixed: Any, x2: Any, beyond: Any = None, explained: Any = None) -> Films | None:
    """The mosaic's films, sought in ``x2`` (:func:`seam_candidates`) and fitted on ``x_mixed``
    (:func:`fit_films`), both (H, W) with NaN where unknown; the seam whose step the films' model
    explains least is dropped until every kept seam leaves at most :data:`EXPLAINED` of its step
    (:data:`GRID_EXPLAINED` beside another that leaves at most that), no
    film's gain is odd, the films are of one size and every seam steps along all its pieces (a seam
    failing those goes first, the one of them that leaves most of its step); before one is dropped for
    what it leaves, a seam across it too faint to be sought is sought, once for each axis
    (:func:`_crossing`). None when no seam is kept. Either may be a whole painting's file
    (:class:`KnownPixels`, the x2 TIFF being written), read a window at a time. ``beyond`` (H, W): the
    X-ray measured outside the painting (NaN inside it and where nothing was measured), if known: its
    runs across the seams join the fit (they pin the films' offsets at the fog's level), and a seam the
    margin does not step at (:func:`_silent_beyond`) must be explained by the films' gains all but
    :data:`SILENT_LEFT` of its step.
    ``explained`` (H, W): x̂1 + weave, if known, taken out of the kept seams' final fit (:func:`fit_films`),
    and of a second measure of each seam's share left (the smaller counts, :func:`_step_left`).
    Raises ValueError for images of different shapes or not 2-D."""
    x = x_mixed if hasattr(x_mixed, "shape") and hasattr(x_mixed, "__getitem__") else np.asarray(x_mixed)
    x2 = x2 if hasattr(x2, "shape") and hasattr(x2, "__getitem__") else np.asarray(x2)
    if len(x.shape) != 2:
        raise ValueError(f"film seams are sought in a 2-D image, not one of shape {tuple(x.shape)}")
    if tuple(x.shape) != tuple(x2.shape):
        raise ValueError(f"the X-ray is {x.shape} but x2 is {x2.shape}")
    if 0 in x.shape:
        return None
    levels = _range(x)
    seams = sorted(seam_candidates(x2, STEP_FLOOR * (levels[1] - levels[0])))
    sums = _RowSums.of(x, [seam.position for seam in seams if seam.axis == "col"], levels) if seams else None
    stored = x  # read whole in strips (the films' sums); the lines beside the seams through the memo below
    # Each set of seams tried reads the lines beside them again; a file's are read once.
    x = x if isinstance(x, (np.ndarray, _Remembered)) else _Remembered(x)
    crossings: list[Seam] = []  # seams found across others, not sought
    sought: set[str] = set()  # each axis is searched for a crossing seam once
    if seams and sums is not None and all(seam.axis == "col" for seam in seams):
        sought.add("row")
        alone = _fit(x, seams, sums)
        explained_alone = alone is not None and max(alone.step_left) <= EXPLAINED
        crossing = None if explained_alone else _crossing(x, x2, seams, "row", sums)
        seams, crossings = (seams, []) if crossing is None else (sorted([*seams, crossing]), [crossing])
    while seams:
        axes = {seam.axis for seam in seams}
        lone = [crossing for crossing in crossings if crossing in seams and axes == {crossing.axis}]
        if lone:
            seams.remove(lone[0])  # sought across the others, it has no evidence of its own without them
            continue
        films = _fit(x, seams, sums, beyond=beyond, judged=explained)
        if films is None:  # rare: a film tied to no other (no known pixel across a seam); try without the last
            seams.pop()
            continue
        left = np.nan_to_num(np.array(films.step_left), nan=np.inf)
        odd = odd_films(films, levels)
        # A seam beside a film with an odd gain or offset, or a narrow one, is not a film's edge.
        suspect = [k for k, seam in enumerate(seams) if odd[_films_beside(films, seam)].any()]
        suspect += _bounding_narrow_films(films, seams)
        suspect += [k for k, seam in enumerate(seams) if not _steps_all_along(films, seam, levels)]
        if beyond is not None:
            # The margin pins the films' offsets; where it does not step, their gains alone must explain the
            # seam, and then all but its noise (a painting's straight edge does not step as the level does).
            silent = [k for k, seam in enumerate(seams) if _silent_beyond(films, seam, beyond)]
            suspect += [k for k in silent if left[k] > SILENT_LEFT]
        # A seam may leave more of its step beside another that the films explain well (a grid shown).
        clear = left <= EXPLAINED
        allowed = np.array([GRID_EXPLAINED if clear.sum() - clear[k] > 0 else EXPLAINED for k in range(len(seams))])
        if suspect:
            # A film far from the others' gains (one the fit gave up on: a sliver of the painting, its few runs
            # across the seam rejected, takes the gauge) goes first; the rest then follow their own fit.
            with np.errstate(divide="ignore", invalid="ignore"):
                relative = films.gains / np.median(films.gains)
            apart = ~((relative > GAINS[0]) & (relative < GAINS[1]))
            first = [k for k in suspect if apart[_films_beside(films, seams[k])].any()]
            seams.pop(max(first or suspect, key=lambda k: left[k]))
        elif (left > allowed).any():
            # Before a seam goes, a film's edge across the one left most of, too faint to be sought (a
            # column hidden by a panel's grain), is sought once (astronaut-over-rocket seed 1: none of the
            # three seams kept, −3.85 dB; with the column found, all three, −1.96).
            across = "col" if seams[int(np.argmax(left))].axis == "row" else "row"
            crossing = None
            # Only across the one seam left unexplained beside others the films explain (sought while
            # false candidates remain, crossings were found for them), and never across one seam alone.
            if across not in sought and len(seams) >= 2 and (left > allowed).sum() == 1:
                sought.add(across)
                rows = [seam.position for seam in seams if seam.axis == "row"]
                crossing_sums = sums if across == "row" else _ColumnSums.of(stored, rows, levels)
                crossing = _crossing(x, x2, seams, across, crossing_sums, sharp=True)
            if crossing is None or crossing in seams:
                seams.pop(int(np.argmax(left - allowed)))
            else:
                seams, crossings = sorted([*seams, crossing]), [*crossings, crossing]
                columns = [seam.position for seam in seams if seam.axis == "col"]
                sums = sums if across == "row" else _RowSums.of(stored, columns, levels)
        elif explained is None:
            return films
        else:
            # The seams are judged on films fitted to the X-ray's own steps (taking the photograph's part
            # out of the fit moved which seams pass, on held-out files losing true ones), each by the
            # smaller share left of its step in the X-ray and in what the photograph does not explain
            # (:func:`_step_left`); their exposures are then fitted without what the photograph explains.
            refitted = _fit(x, seams, sums, explained, beyond, judged=explained)
            return films if refitted is None or odd_films(refitted, levels).any() else refitted
    return None


# A crossing seam is sought on a grid of about this many lines, then finer about the best; x2 must step
# there by CROSSING_SHOWN of what the films' exposures step (a sharp edge of the surface painting, which
# the photograph explains, leaves x2 flat). One sought before a seam is dropped is placed where x2 steps
# sharply in at least CROSSING_SHARP of its segments (:func:`_sharp_share`): the films' fit alone has a
# broad minimum (a column placed 7 px off cost 2 dB; one 33 px off, where no seam was, 0.6 dB).
CROSSING_GRID = 48
CROSSING_SHOWN = 1 / 3
CROSSING_SHARP = 0.1


def _crossing(
    x: Any, x2: Any, seams: Sequence[Seam], axis: str, sums: _RowSums | _ColumnSums, sharp: bool = False
) -> Seam | None:
    """A seam along ``axis`` ("row" or "col") across ``seams`` that the films' model does not explain
    without it, or None: a mosaic's films differ either side of a seam too faint to be sought (a 2 × 3
    mosaic's row, or a column hidden by a panel's grain), so the other seams' steps change there. On a
    grid of about CROSSING_GRID lines, refined eightfold about the best, the line at which the other
    seams' mean share of their step left (:func:`_fit`) is least (a broad minimum); then, within two
    grid steps of it, the line whose own step the films explain best — or with ``sharp``, where x2 steps
    sharply most often (at least CROSSING_SHARP of the segments; of equals, the one explained best) —
    if x2 steps there by at least CROSSING_SHOWN of what the films' exposures step
    (:func:`_exposure_step`). Lines within :data:`MIN_FILM_SHARE` of the painting's extent (its lines
    with a known pixel) of either end are not tried. Reads only the lines beside the seams (``sums``:
    the films' sums, :class:`_RowSums` for a row, :class:`_ColumnSums` for a column; with ``sharp``,
    x2's steps once)."""
    known = np.flatnonzero(sums.known)
    if known.size == 0:
        return None
    length = x.shape[0] if axis == "row" else x.shape[1]
    reach = int(np.ceil(MIN_FILM_SHARE * (known[-1] + 1 - known[0])))
    first, last = max(int(known[0]) + reach, 2), min(int(known[-1]) + 1 - reach, length - 2)
    if first > last:
        return None

    @functools.lru_cache(maxsize=None)
    def shares(position: int) -> tuple[float, float]:
        """(the other seams' mean share of their step left, the new one's) with a seam at ``position``."""
        trial = sorted([*seams, Seam(axis, position)])
        films = _fit(x, trial, sums)
        if films is None:
            return np.inf, np.inf
        left = np.nan_to_num(np.array(films.step_left), nan=np.inf)
        own = trial.index(Seam(axis, position))
        return float(np.delete(left, own).mean()), float(left[own])

    if sharp:
        share = _sharp_share(_segment_steps(x2, axis)[0], STEP_FLOOR * (sums.levels[1] - sums.levels[0]))
        # Films are at least ``reach`` wide (as the candidates are sought): no line nearer a seam of its
        # axis (a breaker's grain put one 13 px from a true column: −4.6 dB); each the sharpest about it
        # (a grain's line wanders: 1196 lines of a breaker's 4000×6000 image passed the test).
        taken = [seam.position for seam in seams if seam.axis == axis]
        lines = [
            p for p in range(first, last + 1)
            if share[p] >= CROSSING_SHARP and share[p] == share[max(0, p - 2): p + 3].max()
            and all(abs(p - other) >= reach for other in taken)
        ]
        if not lines:
            return None
        # the one with which the films explain every seam best, its own step included
        position = min(lines, key=lambda position: len(seams) * shares(position)[0] + shares(position)[1])
    else:
        step, low, high = max(1, -(-(last - first) // CROSSING_GRID)), first, last
        while step > 1:
            best = min(range(low, high + 1, step), key=lambda position: shares(position)[0])
            low, high, step = max(first, best - 2 * step), min(last, best + 2 * step), max(1, step // 8)
        position = min(range(low, high + 1), key=lambda position: shares(position)[1])
    crossing = Seam(axis, position)
    films = _fit(x, sorted([*seams, crossing]), sums)
    if films is None or not _step_size(x2, crossing) >= CROSSING_SHOWN * _exposure_step(x, films, crossing):
        return None
    return crossing


def _exposure_step(x: Any, films: Films, seam: Seam) -> float:
    """How much ``films``' exposures step at ``seam`` (as :func:`_step_size` measures a step): the step
    the films say the X-ray takes there. Reads the two lines beside it."""
    p = seam.position
    window = (slice(p - 1, p + 1), slice(None)) if seam.axis == "row" else (slice(None), slice(p - 1, p + 1))
    stored = np.asarray(x[window], dtype=np.float64)
    return _step_size(stored - films.correct(stored, window), Seam(seam.axis, 1))


class _Remembered:
    """A whole painting's X-ray (anything with ``shape`` and 2-D slicing) whose windows, once read,
    are kept: a search that fits one set of seams after another reads the lines beside each seam once.
    Read-only: callers must not change what it returns."""

    def __init__(self, x: Any) -> None:
        self.x, self.shape, self.dtype, self.ndim = x, tuple(x.shape), np.dtype(np.float64), 2
        self._read: dict[tuple, np.ndarray] = {}

    def __getitem__(self, window: tuple[slice, slice]) -> np.ndarray:
        key = tuple((part.start, part.stop, part.step) for part in window)
        if key not in self._read:
            self._read[key] = np.asarray(self.x[window], dtype=np.float64)
        return self._read[key]


def _bounding_narrow_films(films: Films, seams: Sequence[Seam]) -> list[int]:
    """Indices into ``seams`` of the seams either side of a film between two seams narrower than
    INTERIOR_SHARE of the median film along its axis (a hidden rectangle with sharp edges, not a film;
    the median, so that one seam not found — one film twice as wide — leaves the others be) or than
    MIN_FILM_SHARE of the X-ray's side."""
    bounding = []
    for axis, edges in (("row", films.row_edges), ("col", films.col_edges)):
        widths = np.diff(edges)
        for k in range(1, len(widths) - 1):
            if widths[k] < max(INTERIOR_SHARE * np.median(widths), MIN_FILM_SHARE * edges[-1]):
                bounding += [seams.index(Seam(axis, edges[k])), seams.index(Seam(axis, edges[k + 1]))]
    return bounding


def _steps_all_along(films: Films, seam: Seam, levels: tuple[float, float]) -> bool:
    """Whether two films of different exposure meet along every piece of ``seam`` between the seams
    that cross it: for each piece, the largest difference of the two films' stored value over the
    X-ray's ``levels`` (low, high) must be at least PIECE_SHARE of the largest piece's (a gain and an
    offset may cancel at one level, never at both ends of the range)."""
    if seam.axis == "col":
        k = films.col_edges.index(seam.position)
        pairs = [((i, k - 1), (i, k)) for i in range(films.gains.shape[0])]
    else:
        k = films.row_edges.index(seam.position)
        pairs = [((k - 1, j), (k, j)) for j in range(films.gains.shape[1])]
    with np.errstate(invalid="ignore"):  # an odd film's infinite gain: judged by the gains' rule
        differences = [
            max(abs((films.gains[b] - films.gains[a]) * at + films.offsets[b] - films.offsets[a]) for at in levels)
            for a, b in pairs
        ]
        return bool(min(differences) >= PIECE_SHARE * max(differences))


def _silent_beyond(films: Films, seam: Seam, beyond: Any) -> bool:
    """Whether the film margin beyond the painting (``beyond``, the X-ray measured outside it, NaN
    elsewhere) was measured along ``seam`` but does not step there: for no pair of films the seam parts
    with at least BEYOND_PIXELS measured on both sides (levels extrapolated as :func:`_levels_across`
    does) is the median step BEYOND_Z times its standard error (from the median absolute deviation)."""
    before, after = _levels_across(beyond, seam)
    both = np.isfinite(before) & np.isfinite(after)
    edges = films.row_edges if seam.axis == "col" else films.col_edges
    bands = np.searchsorted(edges, np.arange(len(before)), side="right") - 1  # the films' band at each pixel
    measured = False
    for band in np.unique(bands[both]):
        steps = (after - before)[both & (bands == band)]
        if steps.size < BEYOND_PIXELS:
            continue
        measured = True
        step = float(np.median(steps))
        error = 1.4826 * float(np.median(np.abs(steps - step))) / np.sqrt(steps.size)
        if abs(step) > BEYOND_Z * error:
            return False
    return measured


def _films_beside(films: Films, seam: Seam) -> tuple[slice, slice]:
    """The films either side of ``seam``, as index ranges into ``films.gains``."""
    edges = films.row_edges if seam.axis == "row" else films.col_edges
    k = edges.index(seam.position)
    return (slice(k - 1, k + 1), slice(None)) if seam.axis == "row" else (slice(None), slice(k - 1, k + 1))
