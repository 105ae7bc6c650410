"""Passages of x2 that follow a colour region of the photograph: perhaps a pigment it cannot tell apart.

The separation explains the X-ray from the photograph's colours. Where one colour is painted with two
pigments of different density — a copper-containing black beside a bone black, a lead white beside a
lead-free one — no map from colour can explain both, and the difference lands in x2 as a passage with
the *surface's* outline. A hidden design rarely has one: its edges cross the surface's colour regions.
So this module looks, after the separation, for a colour region of the photograph whose whole outline
steps in x2, and says so: the user should not read that passage as the hidden painting, and a side
channel (an XRF element map) would tell which pigment it is.

* Colour regions: the photograph (lightly blurred) is grouped into :data:`COLOURS` colours by
  k-means; a region is one connected piece of one colour (opened by 2 px), at least
  :data:`MIN_AREA` of the painting.
* A region's outline (its holes filled: a ground around a figure has the figure's outline as a hole,
  not as its own) steps in x2 when, in a ring :data:`GAP` to :data:`GAP` + :data:`RING` px inside and
  one outside it, the medians of x2 differ by at least :data:`CONTRAST` of x2's range and
  :data:`MIN_STEP` of the X-ray's (1st to 99th percentiles: x2's range alone is small when little is
  hidden, and the colour map's own small errors follow colour outlines), and the same step, of the
  same sign and at least half as large, is seen in :data:`AGREEING` of the :data:`SECTORS` angular
  sectors of the outline (at least :data:`SEEN_SECTORS` of them must have both rings inside the
  painting: a region along the painting's edge shows the rest of its outline).

Chosen on the benchmark (``benchmarks/quality.py``'s cases, 3 seeds, and the real-file variants):
where two blacks look alike and only one holds copper (``copper_black_costume``) the passage steps by
0.40–0.53 of x2's range and 0.15–0.29 of the X-ray's; no other case or variant passes. With nothing
hidden (x2 only the colour map's errors), 1 of 32 runs is named: a white the photograph saturates.

Large paintings are searched on block means of at most :data:`WORKING_PIXELS` of the painting (the
passages worth a note are large); the boxes are given in the full image's pixels. The colours are
grouped from the photograph's colours alone, not their order: a flipped or transposed image gives the
same regions.
"""

from __future__ import annotations

import dataclasses
import math
import warnings
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
from scipy import ndimage as ndi
from scipy.cluster.vq import kmeans2, vq

from .tiling import block_means

COLOURS = 8
MIN_AREA = 0.01  # share of the painting's pixels
GAP, RING = 2, 5  # px (on the working grid): the rings skip the X-ray's blurred edge
SECTORS, SEEN_SECTORS, AGREEING = 12, 6, 0.8
CONTRAST = 0.2
MIN_STEP = 0.05
WORKING_PIXELS = 400_000
_SAMPLE = 20_000  # colours the k-means is fitted on
_BLUR = 1.5  # px: the photograph's texture is not a colour region


@dataclass(frozen=True)
class Passage:
    """A colour region of the photograph whose outline steps in x2.

    ``box``: (top, left, bottom, right) in the X-ray's pixels, end exclusive; ``area``: its share of
    the painting's pixels; ``contrast``: x2 inside minus outside its outline, in x2's units
    (positive: denser than around it); ``share``: |contrast| over x2's range; ``colour``: the
    photograph's mean there, in its own values (R, G, B)."""

    box: tuple[int, int, int, int]
    area: float
    contrast: float
    share: float
    colour: tuple[float, float, float]

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready: box (top, left, bottom, right; px, end exclusive), area (share of the painting),
        contrast (x2 units), share (of x2's range), colour (the photograph's values)."""
        return {
            "box": list(self.box), "area": round(self.area, 4), "contrast": round(self.contrast, 6),
            "share": round(self.share, 3), "colour": [round(c, 4) for c in self.colour],
        }


@dataclass(frozen=True)
class Passages:
    """The passages found (:func:`find_passages`), strongest first (by share of x2's range); at least one."""

    found: tuple[Passage, ...]
    # The side channels the model read beside the photograph (their names, where known): the advice to
    # add one read as if none had been given (a new user's finding).
    sides: int = 0
    side_names: tuple[str, ...] = ()

    def summary(self) -> dict[str, Any]:
        """JSON-ready: the passages, and what they may be."""
        return {"passages": [p.to_dict() for p in self.found], "may_be": "a pigment the photograph cannot distinguish"}

    def describe(self) -> str:
        """One line for the user."""
        first = self.found[0]
        top, left, bottom, right = first.box
        where = f"rows {top}–{bottom - 1}, columns {left}–{right - 1}, {100 * first.area:.1f} % of the painting"
        sense = "denser" if first.contrast > 0 else "less dense"
        count = len(self.found)
        what = "a passage that follows" if count == 1 else f"{count} passages that follow"
        lead = "" if count == 1 else "the strongest: "
        if self.sides:
            names = f" ({', '.join(repr(name) for name in self.side_names)})" if len(self.side_names) == self.sides else ""
            read = "the side channel read" if self.sides == 1 else f"the {self.sides} side channels read"
            advice = f"{read}{names} do{'es' * (self.sides == 1)} not tell it apart; a map of its element would."
        else:
            advice = "a side channel (XRF map) would tell."
        return (
            f"x2 holds {what} a colour region of the photograph ({lead}{where}, {sense} than around it): "
            f"this may be a pigment the photograph cannot distinguish — {advice}"
        )


def with_sides(passages: Passages | None, sides: int, side_names: Sequence[str] = ()) -> Passages | None:
    """``passages`` noting the ``sides`` side channels read beside the photograph (``side_names``,
    where known), which :meth:`Passages.describe` names instead of advising one."""
    return None if passages is None else dataclasses.replace(passages, sides=sides, side_names=tuple(side_names))


def find_passages(x2: Any, rgb_surface: Any, x_mixed: Any) -> Passages | None:
    """Colour regions of ``rgb_surface`` whose whole outline steps in ``x2`` (see the module's
    description); None when there are none.

    ``x2``: (H, W) array-like read by row slices (a result TIFF too), NaN outside the painting;
    ``rgb_surface``: (H, W, C) array-like, any dtype, registered to it (its first three channels are
    read: an alpha channel is not a colour); ``x_mixed``: (H, W) the X-ray, in x2's units. Large
    images are searched on block means (:data:`WORKING_PIXELS`). Raises ValueError when the shapes
    do not match.
    """
    shapes = [tuple(image.shape) for image in (x2, rgb_surface, x_mixed)]
    if len(shapes[0]) != 2 or len(shapes[1]) != 3 or shapes[1][2] < 3 or {s[:2] for s in shapes} != {shapes[0]}:
        raise ValueError(
            "find_passages takes an (H, W) x2, an (H, W, 3) photograph and an (H, W) X-ray; got "
            + ", ".join(str(s) for s in shapes)
        )
    height, width = shapes[0]
    # The painting's size sets the blocks (a small painting in a large frame keeps its detail).
    painting = np.count_nonzero(np.isfinite(x2)) if isinstance(x2, np.ndarray) else height * width
    factor = max(1, math.ceil(math.sqrt(painting / WORKING_PIXELS)))
    hidden = block_means(x2, factor)
    colour = block_means(_Channels(rgb_surface), factor)
    xray = block_means(x_mixed, factor)
    known = np.isfinite(hidden) & np.isfinite(colour).all(axis=-1) & np.isfinite(xray)
    if known.sum() < 100:
        return None
    low, high = np.percentile(hidden[known], [1, 99])
    x_low, x_high = np.percentile(xray[known], [1, 99])
    if not high > low:
        return None
    least = max(CONTRAST * (high - low), MIN_STEP * (x_high - x_low))
    found = []
    for region in _colour_regions(colour, known):
        passage = _passage(hidden, region, known, high - low, least)
        if passage is not None:
            contrast, share, box = passage
            mean = colour[region].mean(axis=0)
            full_box = tuple(int(min(b * factor, limit)) for b, limit in zip(box, (height, width, height, width)))
            found.append(Passage(full_box, float(region.sum() / known.sum()), contrast, share, tuple(map(float, mean))))
    if not found:
        return None
    return Passages(tuple(sorted(found, key=lambda p: -p.share)))


class _Channels:
    """The first three channels of an (H, W, C) array-like, read by row slices."""

    def __init__(self, image: Any) -> None:
        self.image, self.shape = image, (*image.shape[:2], 3)

    def __getitem__(self, rows: slice) -> np.ndarray:
        return np.asarray(self.image[rows])[..., :3]


def _colour_regions(colour: np.ndarray, known: np.ndarray) -> list[np.ndarray]:
    """(h, w) bool masks: connected pieces of one of :data:`COLOURS` colours (k-means of the blurred
    photograph), opened by 2 px, at least :data:`MIN_AREA` of the ``known`` pixels."""
    filled = np.where(known[..., None], colour, np.nanmean(colour[known], axis=0))
    smooth = ndi.gaussian_filter(filled, (_BLUR, _BLUR, 0))
    values = smooth[known]
    # Sampled from the colours sorted, so that the pixels' order (a flipped image) changes nothing.
    ordered = values[np.lexsort(values.T[::-1])]
    sample = ordered[:: max(1, len(ordered) // _SAMPLE)]
    count = min(COLOURS, len(np.unique(sample, axis=0)))
    if count < 2:
        return []
    with warnings.catch_warnings():  # a colour that takes no sample is only one fewer region
        warnings.simplefilter("ignore")
        centres, _ = kmeans2(sample, count, seed=0, minit="++")
    labels = np.full(known.shape, -1)
    labels[known] = vq(values, centres, check_finite=False)[0]
    regions = []
    for label in range(count):
        pieces, number = ndi.label(ndi.binary_opening(labels == label, iterations=2))
        sizes = ndi.sum_labels(np.ones_like(pieces), pieces, range(1, number + 1))
        regions += [pieces == k + 1 for k in np.flatnonzero(sizes >= MIN_AREA * known.sum())]
    return regions


def _passage(
    hidden: np.ndarray, region: np.ndarray, known: np.ndarray, spread: float, least: float
) -> tuple[float, float, tuple[int, int, int, int]] | None:
    """(contrast, share of ``spread``, box on the working grid) when ``region``'s whole outline
    steps in ``hidden`` by at least ``least`` (see the module's description); None otherwise."""
    reach = GAP + RING + 1
    rows, cols = np.nonzero(region)
    top, left = max(rows.min() - reach, 0), max(cols.min() - reach, 0)
    window = (slice(top, rows.max() + reach + 1), slice(left, cols.max() + reach + 1))
    part, seen, values = ndi.binary_fill_holes(region[window]), known[window], hidden[window]
    # The rings by taxicab distance from the outline: what GAP and GAP + RING erosions (dilations)
    # by the 4-neighbour cross keep, in two passes; outside the window counts as outside the region.
    padded = np.pad(part, 1)
    depth = ndi.distance_transform_cdt(padded, metric="taxicab")[1:-1, 1:-1]
    away = ndi.distance_transform_cdt(~padded, metric="taxicab")[1:-1, 1:-1]
    inner = (depth > GAP) & (depth <= GAP + RING) & seen
    outer = (away > GAP) & (away <= GAP + RING) & seen
    if not inner.any() or not outer.any():
        return None
    contrast = float(np.median(values[inner]) - np.median(values[outer]))
    if abs(contrast) < least:
        return None
    yy, xx = np.indices(part.shape)
    angle = np.arctan2(yy - (rows.mean() - top), xx - (cols.mean() - left))
    sector = np.minimum(((angle + np.pi) / (2 * np.pi) * SECTORS).astype(int), SECTORS - 1)
    seen_sectors = agreeing = 0
    for k in range(SECTORS):
        inside, outside = values[inner & (sector == k)], values[outer & (sector == k)]
        if inside.size < 10 or outside.size < 10:
            continue
        seen_sectors += 1
        step = np.median(inside) - np.median(outside)
        agreeing += bool(np.sign(step) == np.sign(contrast) and abs(step) >= 0.5 * abs(contrast))
    if seen_sectors < SEEN_SECTORS or agreeing < AGREEING * seen_sectors:
        return None
    box = (int(rows.min()), int(cols.min()), int(rows.max()) + 1, int(cols.max()) + 1)
    return contrast, float(abs(contrast) / spread), box
