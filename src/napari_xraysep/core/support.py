"""Where the painting is in the frame: its support, apart from backdrop, film margin, charts, rulers.

Museum files show more than the painting: the photograph a grey backdrop, a colour chart and a
ruler; the X-ray the film's margin around the panel, lead markers. None of that follows the colour
→ X-ray relation, and fitted with the painting it bends the colour map (measured in
docs/benchmarks.md: up to 14 dB of x2 lost). The support is found in the X-ray, where the painting
is unmistakable — weave, brushwork, paint — and the margin is film alone: **the complement of the
part of the X-ray that touches the frame's border and is low in texture and even in level** (local
standard deviation within a few noise scales, local level near the margin's own at the frame's edge
nearest to it: a mosaic's films each hold the margin at their own offset), holes filled,
small islands (lead markers) dropped. Whatever of the photograph lies outside it — a chart or ruler
over film margin — leaves the fit with it.

A bare canvas's tacking margin is not flat — it holds the weave — but it is on 6× coarser blocks,
where the weave averages out; a second look there finds it. The photograph then has its say
(:func:`trim_to_photograph`): it shows a frame's rabbet and a bare canvas where the X-ray sees the
painting under the rabbet and a margin's weave, so each side of the support is moved in to where
the photograph leaves the margin's colour; and where the X-ray found no margin at all, a strip of
one colour along three or four sides of the photograph, where the X-ray absorbs less than just
inside it (bare canvas), is taken for one. On a painting that fills the frame
nothing touches the border that is that flat, so the whole frame is returned. The fit uses the support eroded by SUPPORT_EROSION px (the step from painting to margin
would pollute the high-pass band); the results are NaN outside the (uneroded) support.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
from scipy import ndimage

from .masks import user_mask

# The fit keeps this far inside the support's edge.
SUPPORT_EROSION = 6
# Support detection runs on block means of at most this many pixels a side (fast on any painting).
DETECT_SIDE = 1024
# The second look, for a bare canvas's margin: blocks this many times larger, a window this many.
COARSE_FACTOR = 6
COARSE_WINDOW = 5
# ... where flat painted passages are flat too: the margin must be far flatter (measured: bare canvas
# and film margins 41–46, plain painted backgrounds that fill the frame 6–9).
COARSE_CONTRAST = 20.0
# Smaller images are taken whole: too small to tell a margin from a flat passage.
MIN_SIDE = 64
# A window of this many (block-mean) pixels measures texture and level.
TEXTURE_WINDOW = 9
# Low texture: local standard deviation under this many noise scales.
TEXTURE_NOISE = 2.5
# Even level: within this many noise scales of the margin's level, or LEVEL_RANGE of the image's range.
LEVEL_NOISE = 6.0
LEVEL_RANGE = 0.04
# Background under this share of the frame is ignored (a flat corner of a painting); a support
# under MIN_SUPPORT of the frame is taken as a failed detection (the whole frame is used).
MIN_BACKGROUND = 0.05
# A flat block on the frame's edge sets the margin's level near it only within this many level
# tolerances of the flat border's median: a mosaic's films step the margin by their offsets (±3 % of
# the painting's range each), a flat passage of a painting that reaches the edge is far from it.
EDGE_LEVELS = 2.0
MIN_SUPPORT = 0.05
# A painting area given is trimmed of the film margin the search finds within this many px of its edge,
# where the search finds the painting in this share of the area within that edge.
GIVEN_EDGE = 3
GIVEN_INSIDE = 0.9
# What a user told of a painting found is offered, where it would rather keep results outside it.
KEEP_ANOTHER = "give the painting area, or the whole frame, to keep another"
# Missing pixels in groups of at most this many (stuck hot or dead pixels, taken out as missing) are the
# painting's where its blocks are: on its outline too, where closing the support's holes does not reach
# them (`apply` left such a pixel empty where `separate` repaired it).
LONE_MISSING = 4
# The painting's median local texture must exceed the margin's by this factor (measured: film
# margins 4.2–14, the flattest border passages (≥ 5 % of the frame) of paintings that fill it 1.5–3.5).
MIN_CONTRAST = 4.0
# Islands of the support smaller than this share of the largest one (lead markers, labels) go.
MIN_ISLAND = 0.1
# A margin is no margin where more than this share of the painting is darker than its level (measured,
# full resolution: film margins of backdrop, chart, frame and mosaic files 0.00–0.02 %, a tacking margin's
# bare canvas 0.8 %; a painting's flat dark passage taken for one 13 %).
MARGIN_DARKER = 0.04
# The photograph may show a frame's rabbet or a tacking margin up to this many px inside the support
# found in the X-ray (which sees the painting under the rabbet, and weave in the margin): a side's
# edge is moved to where the photograph's colour leaves the margin's for good (:class:`Margin`).
# Only for supports that are nearly their bounding box (RECTANGULAR).
PHOTO_TRIM = 10
# A line leaves the margin when its colour is PHOTO_STEP times the margin's own spread from it, or
# half as far as the painting further in is, whichever is more; when the painting there differs from
# the margin in hue, by its chromaticity instead (PHOTO_STEP times its spread, at least CHROMA_FLOOR):
# a frame's moulding and a backdrop are shaded, brighter and darker, in one hue (:class:`Margin`).
PHOTO_STEP = 3.0
CHROMA_FLOOR = 0.01
PHOTO_RING = 6
RECTANGULAR = 0.97
# ... judged, and trimmed, without the spurs under 2·SPUR + 1 px wide that the X-ray's search leaves
# in a margin (a tacking margin's tacks: 0.953 of its box, so its bare canvas was never trimmed and
# 156–275 px of it had results).
SPUR = 3
# Where the X-ray found no margin, a strip of one colour along three or four sides of the photograph,
# at most this share of the side wide and of widths within WIDTHS of each other, is the margin.
PHOTO_REACH = 0.12
WIDTHS = 1.6
PHOTO_RUN = 32  # px along a side: the edge is found run by run, so a tilted or wavy one is followed


@dataclass(frozen=True)
class Margin:
    """A margin beside the painting in the photograph (a frame, a backdrop, bare canvas), and how a
    line of the photograph is told from it: its median ``colour`` (3,) and the median distance of its
    pixels from it (``spread``, the photograph's units); ``hue`` the chromaticity distance (colour over
    the channels' sum) past which a line is not the margin, or None when the painting beside it has
    the margin's hue; ``threshold`` the colour distance past which it is not, otherwise.

    Frames and backdrops are shaded in one hue: a gilt rabbet's lines measured 1.5–3.4 spreads from
    the moulding beside them in colour but 0.002 in chromaticity, the paintings inside 4–28 and
    0.13–0.49; where the painting differs in hue, hue tells them apart. Where it does not (a grisaille
    on grey, a dark portrait on black velvet, a varnished gold-brown in a gilt frame), a line leaves
    the margin at PHOTO_STEP spreads, or half as far from it as the painting further in, whichever is
    more.
    """

    colour: np.ndarray
    spread: float
    hue: float | None
    threshold: float

    @classmethod
    def of(cls, colours: np.ndarray, floor: float, painting: np.ndarray) -> Margin:
        """The margin of (K, 3) pixels' ``colours`` beside (M, 3) pixels of the ``painting`` (none:
        not known); ``floor``: the least spread (a flat margin's is 0)."""
        colour = np.median(colours, axis=0)
        spread = max(float(np.median(np.linalg.norm(colours - colour, axis=-1))), floor)
        chroma_spread = float(np.median(np.linalg.norm(_chroma(colours) - _chroma(colour), axis=-1)))
        hue, threshold = PHOTO_STEP * max(chroma_spread, CHROMA_FLOOR), PHOTO_STEP * spread
        if not len(painting):
            return cls(colour, spread, None, threshold)
        # The painting's own hue (its median chromaticity), twice the margin's reach from it: a
        # textured painting of the margin's hue scatters about it and must not pass for another.
        apart = float(np.linalg.norm(np.median(_chroma(painting), axis=0) - _chroma(colour)))
        distance = float(np.median(np.linalg.norm(painting - colour, axis=-1)))
        return cls(colour, spread, hue if apart > 2 * hue else None, max(threshold, distance / 2))

    def left_by(self, colours: np.ndarray) -> bool:
        """Whether (K, 3) colours (a line or a run of one; none: nothing says otherwise) are not this
        margin's, by their median distance from it (in hue where the painting differs in hue)."""
        if not len(colours):
            return True
        if self.hue is not None:
            return float(np.median(np.linalg.norm(_chroma(colours) - _chroma(self.colour), axis=-1))) > self.hue
        return float(np.median(np.linalg.norm(colours - self.colour, axis=-1))) > self.threshold


def _chroma(colours: np.ndarray) -> np.ndarray:
    """Chromaticity of (…, 3) colours: each over its channels' sum (shading scales all three)."""
    total = colours.sum(axis=-1, keepdims=True)
    return colours / np.where(np.abs(total) > 1e-12, total, 1e-12)


@dataclass(frozen=True)
class Support:
    """The painting's support: ``mask`` (H, W) bool, where it came from (``source``: "detected",
    "given" or "full") and whether it covers the whole frame."""

    mask: np.ndarray
    source: str
    margin_left_out: int = 0  # pixels of film margin taken off a given area's edge (trim_given)

    @property
    def full(self) -> bool:
        return bool(self.mask.all())

    def fit_mask(self) -> np.ndarray:
        """(H, W) bool: the support eroded by SUPPORT_EROSION px (the whole frame stays whole)."""
        if self.full:
            return self.mask
        return ndimage.binary_erosion(self.mask, iterations=SUPPORT_EROSION, border_value=1)

    def bounds(self) -> tuple[int, int, int, int]:
        """(first row, last row, first column, last column) of the support, inclusive."""
        rows, cols = np.flatnonzero(self.mask.any(axis=1)), np.flatnonzero(self.mask.any(axis=0))
        return int(rows[0]), int(rows[-1]), int(cols[0]), int(cols[-1])

    def summary(self) -> dict[str, object]:
        """JSON-ready: source, bounds (inclusive rows and columns), share of the frame."""
        y0, y1, x0, x1 = self.bounds()
        return {
            "source": self.source,
            "rows": [y0, y1],
            "columns": [x0, x1],
            "fraction": float(self.mask.mean()),
            "full_frame": self.full,
            "margin_left_out": self.margin_left_out,
        }

    def sentence(self) -> str:
        """What a user reads: where the painting is, and that outside it the results are empty."""
        if self.full:
            return "painting area: the whole frame" if self.source == "given" else "painting fills the whole frame"
        y0, y1, x0, x1 = self.bounds()
        found = self.source == "detected"
        trimmed = self.margin_left_out
        return (
            f"painting {'found' if found else 'given'} at rows {y0}–{y1}, columns {x0}–{x1} "
            f"({100 * self.mask.mean():.0f} % of the frame"
            + (f"; {trimmed} pixel{'s' * (trimmed != 1)} of film margin along its edge left out" if trimmed else "")
            + "); outside it the results are empty" + (f" ({KEEP_ANOTHER})" if found else "")
        )


def whole_frame(shape: tuple[int, int], source: str) -> Support:
    """The whole frame as the support (``source``: "detected" or "given")."""
    return Support(np.ones(shape, dtype=bool), source)


def trim_to_photograph(
    support: Support, rgb_surface: np.ndarray, x_mixed: np.ndarray, valid: np.ndarray | None = None
) -> Support:
    """``support`` (found in the X-ray) with each side moved inwards to where the photograph
    (H, W, 3, any units) shows the painting, not the margin or frame beside it: the X-ray sees the
    painting under a frame's rabbet and a tacking margin's weave as texture, the photograph sees gold
    or bare canvas there, and a fit that takes those pixels for painting is bent at its edges (2–6 dB
    of x2 lost on the benchmark's frames and tacking margins). For each side, the median colour
    distance to the margin's colour (the PHOTO_RING px just outside) over the side's middle 80 %,
    line by line up to PHOTO_TRIM px inside; the painting starts at the first line where it exceeds
    PHOTO_STEP times the margin's own spread and stays so; the same rule, run by run of PHOTO_RUN px
    along the side, says how far the margin reaches there (a tilted or wavy edge keeps its painting).
    The support's spurs under 2·SPUR + 1 px wide go first (the margin's). A side at the frame's border
    and a support far from rectangular are left as they were; a given
    area is returned as it is, and so are images under MIN_SIDE px a side.

    When the X-ray found no margin (the whole frame), the photograph is asked first: a strip along at
    least three sides of the frame, of one colour (the margin's, the same on every side), up to
    PHOTO_REACH of the side wide and of widths within WIDTHS of each other — and where the X-ray
    (``x_mixed``, (H, W)) absorbs less than the painting just inside it, by LEVEL_RANGE of its range
    (bare canvas, without the ground and paint) — is a tacking margin the X-ray's search missed (its
    weave); a painted border of one colour has paint in the X-ray too and is kept."""
    mask = support.mask
    if support.source != "detected" or min(mask.shape) < MIN_SIDE:
        return support
    rgb = np.asarray(rgb_surface)[..., :3]  # read line by line: a 24 MP photograph is not copied
    known = np.isfinite(rgb).all(axis=-1) if valid is None else valid & np.isfinite(rgb).all(axis=-1)
    sample = rgb[::8, ::8][known[::8, ::8]].astype(np.float64)
    if sample.size == 0:
        return support
    floor = 1e-3 * float(np.ptp(sample)) or 1e-12  # a flat margin's own spread is its noise, never 0
    if support.full:
        return _margin_in_photograph(support, rgb, known, floor, np.asarray(x_mixed, dtype=np.float64))
    # Opened with its holes closed (then kept out again): a hole a few px inside the edge (a stuck or a
    # clipped pixel, missing) would merge with the outside on eroding, and leave a notch to it.
    opened = ndimage.binary_opening(ndimage.binary_fill_holes(mask), np.ones((3, 3), bool), iterations=SPUR)
    smooth = Support(opened & mask, support.source)
    if not smooth.mask.any():
        return support
    y0, y1, x0, x1 = smooth.bounds()
    if smooth.mask.sum() < RECTANGULAR * (y1 - y0 + 1) * (x1 - x0 + 1):
        return support
    edges = [y0, y1 + 1, x0, x1 + 1]  # top, bottom (exclusive), left, right (exclusive)
    margins = {}
    for side in range(4):
        before, after = range(1, PHOTO_RING + 1), range(PHOTO_RING)  # the lines just outside the side
        ring = [edges[side] - k for k in before] if side % 2 == 0 else [edges[side] + k for k in after]
        found = _painting_starts(rgb, known, side, edges, ring, PHOTO_TRIM, floor)
        if found is not None and found[0]:
            margins[side] = found
    return _cut(smooth, rgb, known, edges, margins)


def _margin_in_photograph(support: Support, rgb: np.ndarray, known: np.ndarray, floor: float, x: np.ndarray) -> Support:
    """The whole-frame ``support`` cut to a margin strip the photograph shows and the X-ray does not
    contradict (see :func:`trim_to_photograph`), or returned as it was."""
    height, width = support.mask.shape
    edges = [0, height, 0, width]
    margins = {}
    for side in range(4):
        length = height if side < 2 else width
        ring = list(range(PHOTO_RING)) if side % 2 == 0 else [length - 1 - k for k in range(PHOTO_RING)]
        found = _painting_starts(rgb, known, side, edges, ring, int(PHOTO_REACH * length), floor)
        if found is not None and found[0]:
            margins[side] = found
    widths = [found[0] for found in margins.values()]
    if len(margins) < 3 or max(widths) > WIDTHS * min(widths):
        return support
    colours = np.array([found[1].colour for found in margins.values()])
    spread = max(found[1].spread for found in margins.values())
    if np.linalg.norm(colours - np.median(colours, axis=0), axis=-1).max() > PHOTO_STEP * spread:
        return support  # strips of different colours: the painting's own border passages, not one margin
    seen = np.isfinite(x)
    if not seen.any():
        return support
    low, high = np.percentile(x[seen], [1, 99])
    for side, (strip, _) in margins.items():  # bare canvas absorbs less than the painting beside it
        outer, inner = x[_band(x.shape, side, 0, strip)], x[_band(x.shape, side, strip, 2 * strip)]
        outer, inner = outer[np.isfinite(outer)], inner[np.isfinite(inner)]
        if not (outer.size and inner.size):
            continue  # the X-ray measured nothing there: it neither confirms nor contradicts
        if not np.median(outer) < np.median(inner) - LEVEL_RANGE * (high - low):
            return support
    return _cut(support, rgb, known, edges, margins)


def _band(shape: tuple[int, int], side: int, start: int, stop: int) -> tuple[slice, slice]:
    """The lines ``start:stop`` in from the frame's ``side`` (0 top, 1 bottom, 2 left, 3 right)."""
    length = shape[0] if side < 2 else shape[1]
    lines = slice(start, stop) if side % 2 == 0 else slice(length - stop, length - start)
    return (lines, slice(None)) if side < 2 else (slice(None), lines)


def _cut(support: Support, rgb: np.ndarray, known: np.ndarray, edges: list[int], margins: dict) -> Support:
    """``support`` less, on each side in ``margins`` ({side: (lines, :class:`Margin`)}), the
    margin between the side's edge in ``edges`` and the painting, found run by run of PHOTO_RUN px
    along the side (so a tilted or wavy edge keeps its painting): in each run, the lines before the
    first from which every line leaves the margin (:meth:`Margin.left_by`)."""
    if not margins:
        return support
    trimmed = support.mask.copy()
    for side, (lines, margin) in margins.items():
        edge = edges[side]
        start, stop = (edge, edge + lines) if side % 2 == 0 else (edge - lines, edge)
        band = (slice(start, stop), slice(None)) if side < 2 else (slice(None), slice(start, stop))
        # Lines inward from the edge first, the side's length second.
        colours, seen, kept = np.asarray(rgb[band], dtype=np.float64), known[band], trimmed[band]
        if side >= 2:
            colours, seen, kept = np.swapaxes(colours, 0, 1), seen.T, kept.T
        if side % 2 == 1:
            colours, seen, kept = colours[::-1], seen[::-1], kept[::-1]
        for run in range(0, colours.shape[1], PHOTO_RUN):
            part = slice(run, run + PHOTO_RUN)
            painting = [margin.left_by(colours[line, part][seen[line, part]]) for line in range(colours.shape[0])]
            first = next((k for k in range(len(painting)) if all(painting[k:])), len(painting))
            kept[:first, part] = False  # a view into trimmed: the margin leaves the support
    labels, count = ndimage.label(trimmed)
    if count == 0:
        return support
    sizes = ndimage.sum_labels(trimmed, labels, index=np.arange(1, count + 1))
    trimmed = np.isin(labels, np.flatnonzero(sizes >= MIN_ISLAND * sizes.max()) + 1)
    return Support(trimmed, support.source)


def _painting_starts(
    rgb: np.ndarray, known: np.ndarray, side: int, edges: list[int], ring: list[int], reach: int, floor: float
) -> tuple[int, Margin] | None:
    """Along ``side`` (0 top, 1 bottom, 2 left, 3 right) of the box ``edges`` (top, bottom, left,
    right; the last two exclusive), the number of lines inward from the edge before the photograph
    leaves the margin (:class:`Margin` of the ``ring`` lines, over the side's middle 80 %, beside the
    PHOTO_RING lines past ``reach``; ``floor`` its least spread) and stays so over ``reach`` lines (a
    line with no known pixel says nothing); with that margin. None when the ring is outside the
    image or holds too few known pixels, or no line within ``reach`` starts the painting."""
    image, seen = (rgb, known) if side < 2 else (np.swapaxes(rgb, 0, 1), known.T)
    start, stop = (edges[2], edges[3]) if side < 2 else (edges[0], edges[1])
    trim = max((stop - start) // 10, 1)
    lines = slice(start + trim, stop - trim)  # the side's middle 80 %: corners keep out
    if min(ring) < 0 or max(ring) >= image.shape[0] or reach < 1:
        return None
    ring_known = seen[ring, lines]
    if ring_known.sum() < 3 * len(ring):
        return None
    first_inside = edges[side] if side % 2 == 0 else edges[side] - 1
    step = 1 if side % 2 == 0 else -1
    further = [first_inside + step * (reach + k) for k in range(PHOTO_RING)]
    further = [line for line in further if 0 <= line < image.shape[0]]
    beside = np.asarray(image[further, lines][seen[further, lines]], dtype=np.float64).reshape(-1, 3)
    margin = Margin.of(np.asarray(image[ring, lines][ring_known], dtype=np.float64), floor, beside)
    painting = []
    for k in range(reach):
        line = first_inside + step * k
        if not 0 <= line < image.shape[0]:
            break
        # a line with no known pixel says nothing
        painting.append(margin.left_by(np.asarray(image[line, lines][seen[line, lines]], dtype=np.float64)))
    first = next((k for k in range(len(painting)) if all(painting[k:])), None)
    return None if first is None else (first, margin)


def _block_means(x: np.ndarray, valid: np.ndarray, factor: int) -> tuple[np.ndarray, np.ndarray]:
    """Means of ``factor``×``factor`` blocks over valid pixels, and which blocks have any."""
    height, width = x.shape
    h, w = math.ceil(height / factor), math.ceil(width / factor)
    pad = ((0, h * factor - height), (0, w * factor - width))
    values = np.pad(np.where(valid, x, 0.0), pad).reshape(h, factor, w, factor).sum(axis=(1, 3))
    counts = np.pad(valid.astype(np.float64), pad).reshape(h, factor, w, factor).sum(axis=(1, 3))
    return values / np.maximum(counts, 1), counts > 0


def detect_support(x_mixed: np.ndarray, valid: np.ndarray | None = None) -> Support:
    """The painting's support in an X-ray (H, W) (any units; ``valid`` False where a pixel is
    missing or clipped): see the module's description. Sought on fine block means first (film
    margins), then on coarse ones (COARSE_FACTOR × larger, where a bare canvas's weave averages out:
    tacking margins). Returns the whole frame when no flat, even margin touches the border (or the
    edge of missing data), when what is left would be under MIN_SUPPORT of the frame, or when the
    image is under MIN_SIDE px on a side. Missing pixels are neither painting nor margin, but lone ones
    (stuck pixels, at most LONE_MISSING together) where the painting is around them are the painting's.
    """
    x = np.asarray(x_mixed, dtype=np.float64)
    shape = x.shape
    valid = np.isfinite(x) if valid is None else valid & np.isfinite(x)
    if not valid.any() or min(shape) < MIN_SIDE:
        return whole_frame(shape, "detected")
    fine = max(1, math.ceil(max(shape) / DETECT_SIDE))
    for factor, size, contrast in ((fine, TEXTURE_WINDOW, MIN_CONTRAST), (fine * COARSE_FACTOR, COARSE_WINDOW, COARSE_CONTRAST)):
        found = _painting_blocks(x, valid, factor, size, contrast)
        if found is not None:
            painting, level, tolerance = found
            blocks = np.repeat(np.repeat(painting, factor, axis=0), factor, axis=1)[: shape[0], : shape[1]]
            if factor == fine:  # a film margin, flat: not a bare canvas's, whose level a dark passage shares
                blocks &= ~_margin_on_outline(x, valid, painting, level, tolerance, factor)
            return Support(blocks & (valid | _lone_missing(blocks & ~valid, valid)), "detected")
    return whole_frame(shape, "detected")


def trim_given(support: Support, x_mixed: np.ndarray, valid: np.ndarray | None = None) -> Support:
    """A painting area the user gave, less the pixels within GIVEN_EDGE px of its edge that the search
    in the X-ray (:func:`detect_support`, ``valid`` as there) takes for film margin: an area drawn to
    the painting's edge takes in a row or two of margin, whose step the weave's band spreads into x2
    (a new user's, one row and one column over: x2 29.66 → 29.03 dB). Only the edge's band: a search
    that takes a dark passage for margin costs the area at most GIVEN_EDGE px. ``margin_left_out`` counts
    them; the area is returned as it is where the search finds no margin, where the area within its edge
    is not mostly (GIVEN_INSIDE) the painting found, or where it is the whole frame."""
    if support.full:
        return support
    found = detect_support(x_mixed, valid)
    if found.full:
        return support
    inner = ndimage.binary_erosion(support.mask, iterations=GIVEN_EDGE, border_value=1)
    if not inner.any() or (inner & found.mask).sum() < GIVEN_INSIDE * inner.sum():
        return support  # not an area around the painting (a stray box on the margin): taken as drawn
    margin = support.mask & ~inner & ~found.mask
    if valid is not None:  # a clipped or missing pixel is no film margin, wherever it lies
        margin &= valid
    if not margin.any() or not (support.mask & ~margin).any():
        return support
    return Support(support.mask & ~margin, support.source, int(margin.sum()))


def _margin_on_outline(
    x: np.ndarray, valid: np.ndarray, painting: np.ndarray, level: np.ndarray, tolerance: float, factor: int
) -> np.ndarray:
    """(H, W) bool: the pixels of the painting's outline blocks (``painting``, (h, w) blocks of ``factor``
    px, beside a block that is not painting) at the margin's ``level`` there (within ``tolerance``): a
    block is painting when any of its pixels is, and the margin's lines in it were kept as painting —
    a ring 1–2 px wide around a painting on a film margin, x2 −11 600 there where the painting's ran
    500–28 000 (a new user's aligned photograph, which shows the margin's colour there too)."""
    outline = painting & ~ndimage.binary_erosion(painting, np.ones((3, 3), bool), border_value=1)
    rows, cols = np.nonzero(np.repeat(np.repeat(outline, factor, axis=0), factor, axis=1)[: x.shape[0], : x.shape[1]])
    at_margin = valid[rows, cols] & (np.abs(x[rows, cols] - level[rows // factor, cols // factor]) < tolerance)
    margin = np.zeros(x.shape, dtype=bool)
    margin[rows[at_margin], cols[at_margin]] = True
    return margin


def _lone_missing(candidates: np.ndarray, valid: np.ndarray) -> np.ndarray:
    """(H, W) bool: the ``candidates`` (missing pixels) in groups of at most LONE_MISSING missing
    (not ``valid``) pixels, 8-connected. Labelled in the candidates' box grown by LONE_MISSING px: a
    larger group that reaches beyond it has more than LONE_MISSING pixels inside it."""
    lone = np.zeros_like(candidates)
    if not candidates.any():
        return lone
    rows, cols = np.flatnonzero(candidates.any(axis=1)), np.flatnonzero(candidates.any(axis=0))
    box = (slice(max(rows[0] - LONE_MISSING, 0), rows[-1] + 1 + LONE_MISSING),
           slice(max(cols[0] - LONE_MISSING, 0), cols[-1] + 1 + LONE_MISSING))
    labels, _ = ndimage.label(~valid[box], structure=np.ones((3, 3), bool))
    sizes = np.bincount(labels.ravel())
    sizes[0] = LONE_MISSING + 1  # the valid pixels' label
    lone[box] = candidates[box] & (sizes[labels] <= LONE_MISSING)
    return lone


def _painting_blocks(
    x: np.ndarray, valid: np.ndarray, factor: int, size: int, min_contrast: float
) -> tuple[np.ndarray, np.ndarray, float] | None:
    """The painting on ``factor``×``factor`` block means (texture measured over ``size`` blocks, the
    painting's at least ``min_contrast`` times the margin's), with the margin's level nearest each block
    and the tolerance of that level, or None when no margin is found (see :func:`detect_support`)."""
    small, has = _block_means(np.where(valid, x, 0.0), valid, factor)
    if min(small.shape) < 4 * size:
        return None
    fill = float(np.median(small[has]))
    small = np.where(has, small, fill)
    weight = has.astype(np.float64)

    def local_mean(image: np.ndarray) -> np.ndarray:
        return ndimage.uniform_filter(image * weight, size, mode="mirror") / np.maximum(
            ndimage.uniform_filter(weight, size, mode="mirror"), 1e-9
        )

    mean = local_mean(small)
    spread = np.sqrt(np.maximum(local_mean(small * small) - mean * mean, 0.0))
    # The finest detail's robust scale: the film's noise (at this block size).
    detail = np.abs(small - ndimage.median_filter(small, size=3, mode="mirror"))[has]
    noise = 1.4826 * float(np.median(detail)) / 1.1 if detail.size else 0.0
    low, high = np.percentile(small[has], [1, 99])
    flat = has & (spread < TEXTURE_NOISE * max(noise, 1e-12 * max(abs(high), 1.0)))
    # The frame's border, and the edge of missing data (a NaN border is the frame's edge too).
    border = ndimage.binary_dilation(~has, iterations=1) & has
    border[0], border[-1], border[:, 0], border[:, -1] = has[0], has[-1], has[:, 0], has[:, -1]
    if not (flat & border).any():
        return None
    # The margin's level is that of the frame's edge nearest to it, not one level for the whole frame: a
    # mosaic's films each hold the margin at their own offset, a step at each seam that runs across the
    # margin to the frame's edge (a seam's step of 5 noise scales does not break the margin's flatness).
    # The edge: the frame's, and that of missing data reaching it (padding), not of a margin's clipped
    # pixels (a film's margin stored below the fog's level has some).
    rim = np.zeros_like(has)
    rim[0], rim[-1], rim[:, 0], rim[:, -1] = True, True, True, True
    missing, _ = ndimage.label(~has)
    padding = np.isin(missing, np.unique(missing[rim & ~has])) & ~has
    # A painting that reaches the frame's edge has flat passages there: they are no edge of the margin.
    tolerance = max(LEVEL_NOISE * noise, LEVEL_RANGE * (high - low))
    overall = float(np.median(small[flat & border]))
    near = np.abs(mean - overall) < EDGE_LEVELS * tolerance
    edge = flat & has & near & (rim | ndimage.binary_dilation(padding, iterations=1))
    if not edge.any():
        edge = flat & border & near
    if not edge.any():
        edge = flat & border
    nearest = ndimage.distance_transform_edt(~edge, return_distances=False, return_indices=True)
    level = mean[nearest[0], nearest[1]]
    candidate = flat & (np.abs(mean - level) < tolerance)
    labels, _ = ndimage.label(candidate)
    touching = np.unique(labels[border & candidate])
    background = np.isin(labels, touching[touching > 0])
    if background.sum() < MIN_BACKGROUND * has.sum() or not (has & ~background).any():
        return None  # too little margin, or nothing but margin-like film (no painting to tell it from)
    # Film alone is far flatter than any painting (weave, grain, brushwork): a flat passage of a
    # painting that fills the frame is not.
    contrast = float(np.median(spread[has & ~background])) / max(float(np.median(spread[background & has])), 1e-30)
    if contrast < min_contrast:
        return None
    # The texture window blurred the margin's edge inwards by half its size: give that back.
    background = ndimage.binary_dilation(background, iterations=size // 2) & (np.abs(small - level) < tolerance)
    # Padding (missing data reaching the frame's edge) is no painting to fill from: a film margin ringed by
    # NaN padding (a rotated or stitched X-ray) was a hole of "not margin" and filled, margin and all (the
    # whole frame was taken). Missing pixels inside (stuck ones, on the outline too) are filled as before.
    filled = ndimage.binary_fill_holes(~background & ~padding)
    # Threads of margin pixels (a ruler's edge, noise) go; the corners the opening rounds come back.
    painting = ndimage.binary_dilation(ndimage.binary_opening(filled, iterations=2), iterations=2) & filled
    labels, count = ndimage.label(painting)
    if count == 0:
        return None
    sizes = ndimage.sum_labels(painting, labels, index=np.arange(1, count + 1))
    painting = np.isin(labels, np.flatnonzero(sizes >= MIN_ISLAND * sizes.max()) + 1)
    if painting.mean() < MIN_SUPPORT or (painting | ~has).all():
        return None
    # A film margin is where nothing absorbs: no more than a speck of the painting is darker than it (the
    # X-ray read dense = bright, as every reader gives it). A painting's own dark, flat passage is: a
    # procedural painting resampled 4× down, its dark top taken for margin, had 13 % of the rest darker.
    inside = painting & has
    if np.mean(small[inside] < level[inside]) > MARGIN_DARKER:
        return None
    return painting, level, tolerance


def support_from_mask(mask: np.ndarray, shape: tuple[int, int]) -> Support:
    """The user's painting area, an (H, W) mask (non-zero inside), as a :class:`Support`. Raises
    InputError if it is empty or not the images' size."""
    mask = user_mask(mask, shape, "The painting area", "The painting area is empty: draw where the painting is, or leave it out to find it.")
    return Support(mask, "given") if not mask.all() else whole_frame(tuple(shape), "given")
