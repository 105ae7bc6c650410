"""What real files carry: a synthetic mixture stored and framed the way museums' radiographs are.

Every mixture of :mod:`napari_xraysep.datasets.synthetic` and :mod:`napari_xraysep.datasets.synthetic_photos` is
*clean*: the painting fills the frame, the film is evenly exposed, the photograph evenly lit, and the
values are floats. :func:`with_real_structure` stores one such mixture as a user's files would hold
it — the X-ray as uint16 counts, the photograph as uint8 — and adds one kind of structure real files
carry (:data:`VARIANTS`):

* ``clean``: the painting alone, only stored (the reference every variant is scored against);
* ``backdrop``: the painting in the middle of a larger frame (it covers about half of it): a grey
  photographer's backdrop in the photograph, the film's dark unexposed-through margin in the X-ray;
* ``backdrop_chart``: the same, plus a colour chart and a ruler in the photograph, and a lead ruler
  and lead numbers (saturated) on the X-ray's margin;
* ``vignetting``: the photograph's corners about 15–25 % darker (lens fall-off);
* ``mosaic``: the X-ray assembled from 2×3 films, each with its own gain (±6 %) and offset (±3 % of
  the painting's range), with straight seams between them;
* ``heel``: one film unevenly exposed: the anode heel effect (a ±6 % gain ramp along one axis)
  times a radial fall-off;
* ``defects``: hot and dead pixels (at the dtype's extremes) and film scratches (1-px lines);
* ``clipping``: exposed so that the thickest lead white (the densest 1–4 % of the painting) clips
  at the detector's maximum;
* ``lead_markers``: lead numbers and a lead ruler lying on the painting: saturated in the X-ray only;
* ``stretcher``: the stretcher's bars along the edges and a cross-bar (denser, wood-grained bands)
  and its nails (small saturated dots), in the X-ray only;
* ``tacking_margin``: strips of bare canvas around the painting (the turned-over edges, with tacks):
  canvas colour in the photograph, weave and little else in the X-ray;
* ``frame``: the painting photographed in its gilded frame, whose rabbet hides its outer few pixels;
  the X-ray, taken out of the frame, shows film margin there.

Stored X-ray: ``FOG + gain · x`` counts, with ``x`` the mixture's additive X-ray (``x1 + x2 + weave +
noise``, bright where the paint absorbs) and ``gain`` putting the clean painting's densest pixel at
85 % of 65535; nothing absorbs in the film margin (``x`` ≈ 0 there). The exposure variants act on the
stored signal as the issue measured them: ``FOG + field · gain · x + offset``. Saturated objects (lead,
nails) and hot pixels are 65535, dead pixels 0. Stored photograph: ``round(255 · rgb)``.

The truths ``x1_true`` and ``x2_true`` are the clean mixture's, in its units, inside the painting
(NaN elsewhere): a stretcher bar or a lead marker is in neither layer. Everything is deterministic
for (mixture, variant, seed); the seed draws sizes, positions and strengths.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .synthetic import SyntheticMixture, gaussian_blur, oriented_noise
from .synthetic_photos import PHOTO_CASES, irregular_weave, make_photo_mixture, wood_grain

VARIANTS = (
    "clean", "backdrop", "backdrop_chart", "vignetting", "mosaic", "heel", "defects", "clipping",
    "lead_markers", "stretcher", "tacking_margin", "frame",
)
DETECTOR_MAX = 65535  # uint16: the detector's (or scanner's) saturation
FOG = 2000.0  # counts where nothing absorbs: film base and fog, the detector's dark level
_PEAK = 0.85 * DETECTOR_MAX  # where the clean painting's densest pixel is stored

# A 3×5 pixel font for the digits of lead numbers.
_DIGITS = {
    "0": "111101101101111", "1": "010110010010111", "2": "111001111100111", "3": "111001111001111",
    "4": "101101111001001", "5": "111100111001111", "6": "111100111101111", "7": "111001010010010",
    "8": "111101111101111", "9": "111101111001111",
}
# A colour chart's patches (sRGB in [0, 1]; the classic 24-patch chart, rounded).
_CHART = np.array([
    [0.45, 0.32, 0.26], [0.76, 0.59, 0.51], [0.38, 0.48, 0.61], [0.35, 0.42, 0.26], [0.51, 0.50, 0.69], [0.40, 0.74, 0.67],
    [0.84, 0.48, 0.17], [0.31, 0.36, 0.65], [0.76, 0.33, 0.38], [0.36, 0.24, 0.42], [0.62, 0.74, 0.25], [0.88, 0.63, 0.18],
    [0.22, 0.24, 0.58], [0.27, 0.58, 0.29], [0.69, 0.19, 0.22], [0.93, 0.78, 0.12], [0.73, 0.33, 0.58], [0.00, 0.52, 0.63],
    [0.95, 0.95, 0.95], [0.78, 0.78, 0.78], [0.63, 0.63, 0.63], [0.48, 0.48, 0.48], [0.33, 0.33, 0.33], [0.20, 0.20, 0.20],
])


@dataclass(frozen=True)
class RealVariant:
    """A mixture as a user's files would hold it, with one kind of real-file structure.

    All arrays are (H, W) (the photograph (H, W, 3)) on the variant's frame, which may be larger
    than the painting (``box`` says where the painting lies in it).
    """

    variant: str
    x_stored: np.ndarray  # (H, W) uint16: the X-ray as stored, clipped at DETECTOR_MAX
    rgb_stored: np.ndarray  # (H, W, 3) uint8: the photograph as stored
    painting: np.ndarray  # (H, W) bool: True where the painting is (visible in both images)
    x1_true: np.ndarray  # (H, W) float32: the clean surface X-ray inside the painting, NaN elsewhere
    x2_true: np.ndarray  # (H, W) float32: the clean hidden X-ray inside the painting, NaN elsewhere
    defects: np.ndarray  # (H, W) bool: stored values that carry nothing of the painting (saturated lead,
    #                      nails, hot/dead pixels, scratches, clipped pixels)
    seams: tuple[tuple[str, int], ...]  # mosaic films' boundaries: ("row", r) between rows r−1 and r, or ("col", c)
    box: tuple[int, int, int, int]  # (top, left, height, width) of the clean mixture's image in the frame
    gain: float  # stored = FOG + gain · x where the variant leaves the X-ray untouched
    clean: SyntheticMixture

    @property
    def x_truth_units(self) -> np.ndarray:
        """(H, W) float32: the stored X-ray mapped back to the truths' units, (x_stored − FOG) / gain."""
        return ((self.x_stored.astype(np.float64) - FOG) / self.gain).astype(np.float32)


def make_real_variant(case: str, variant: str, seed: int = 0, shape: tuple[int, int] = (256, 384)) -> RealVariant:
    """The photographic ``case`` (:data:`~napari_xraysep.datasets.synthetic_photos.PHOTO_CASES`) at ``shape`` for
    ``seed``, with ``variant``'s structure drawn from the same seed. Raises ValueError for an unknown
    case or variant."""
    if case not in PHOTO_CASES:
        raise ValueError(f"unknown photographic case {case!r}; choose one of {', '.join(PHOTO_CASES)}")
    _check_variant(variant)
    return with_real_structure(make_photo_mixture(case, shape, seed), variant, seed)


def _check_variant(variant: str) -> None:
    if variant not in VARIANTS:
        raise ValueError(f"unknown real-file variant {variant!r}; choose one of {', '.join(VARIANTS)}")


def with_real_structure(mixture: SyntheticMixture, variant: str, seed: int) -> RealVariant:
    """``mixture`` stored as uint16 X-ray and uint8 photograph, with ``variant``'s structure
    (see :data:`VARIANTS` and the module's description). Deterministic for (mixture, variant, seed).

    Raises ValueError for an unknown variant.
    """
    _check_variant(variant)
    rng = np.random.default_rng([seed, 2000 + VARIANTS.index(variant)])
    x = np.clip(mixture.x_mixed.astype(np.float64), 0.0, None)
    gain = (_PEAK - FOG) / float(x.max())
    if variant == "clipping":
        # Exposed (or thickly painted) so that the densest 1–4 % of the painting saturates.
        gain = (DETECTOR_MAX - FOG) / float(np.quantile(x, 1.0 - rng.uniform(0.01, 0.04)))
    build = _Frame(mixture, gain, rng)
    _BUILDERS[variant](build)
    return build.result(variant)


class _Frame:
    """The frame being assembled: stored-unit X-ray (float, clipped and rounded at the end),
    photograph in [0, 1], and where the painting, the defects and the saturated objects are."""

    def __init__(self, mixture: SyntheticMixture, gain: float, rng: np.random.Generator) -> None:
        self.mixture, self.gain, self.rng = mixture, gain, rng
        self.shape = mixture.x_mixed.shape
        self.place(self.shape, (0, 0))
        self.seams: tuple[tuple[str, int], ...] = ()

    def place(self, frame_shape: tuple[int, int], corner: tuple[int, int], margin_x: float = 0.0) -> None:
        """Put the painting at ``corner`` of a frame of ``frame_shape``; ``margin_x`` is what the
        X-ray reads (in the mixture's units) where the painting is not."""
        h, w = self.shape
        top, left = corner
        self.box = (top, left, h, w)
        self.inside = (slice(top, top + h), slice(left, left + w))
        noise = self.mixture.noise.std() * self.rng.standard_normal(frame_shape)
        self.x = FOG + self.gain * (margin_x + noise)
        self.x[self.inside] = FOG + self.gain * np.clip(self.mixture.x_mixed.astype(np.float64), 0.0, None)
        self.rgb = np.zeros((*frame_shape, 3))
        self.rgb[self.inside] = self.mixture.rgb_surface
        self.painting = np.zeros(frame_shape, bool)
        self.painting[self.inside] = True
        self.defects = np.zeros(frame_shape, bool)
        self.saturated = np.zeros(frame_shape, bool)

    @property
    def frame_shape(self) -> tuple[int, int]:
        return self.painting.shape

    def result(self, variant: str) -> RealVariant:
        x_stored = np.clip(np.rint(self.x), 0, DETECTOR_MAX)
        x_stored[self.saturated] = DETECTOR_MAX
        clipped = x_stored >= DETECTOR_MAX
        truths = []
        for truth in (self.mixture.x1_true, self.mixture.x2_true):
            full = np.full(self.frame_shape, np.nan, np.float32)
            full[self.inside] = truth
            full[~self.painting] = np.nan
            truths.append(full)
        return RealVariant(
            variant=variant,
            x_stored=x_stored.astype(np.uint16),
            rgb_stored=np.clip(np.rint(self.rgb * 255), 0, 255).astype(np.uint8),
            painting=self.painting,
            x1_true=truths[0],
            x2_true=truths[1],
            defects=self.defects | clipped | (x_stored <= 0),
            seams=self.seams,
            box=self.box,
            gain=self.gain,
            clean=self.mixture,
        )

    # -------------------------------------------------------------------------------- drawing

    def backdrop(self) -> None:
        """The painting (about half the frame's area) on a grey backdrop / the film's margin."""
        h, w = self.shape
        scale = self.rng.uniform(1.35, 1.5, 2)  # per side: the painting covers 44–55 % of the frame
        frame_shape = (int(round(h * scale[0])), int(round(w * scale[1])))
        spare = np.array(frame_shape) - (h, w)
        corner = (spare // 2 + np.rint(self.rng.uniform(-0.2, 0.2, 2) * spare / 2)).astype(int)
        # The film margin: nothing absorbs, only a faint unevenness of the film.
        unevenness = 0.004 * oriented_noise(self.rng, frame_shape, 0.0, 60, 60)
        self.place(frame_shape, (int(corner[0]), int(corner[1])), margin_x=unevenness)
        grey = self.rng.uniform(0.42, 0.6)
        yy, xx = _relative_grid(frame_shape)
        light = 1 + 0.05 * (self.rng.uniform(-1, 1) * yy + self.rng.uniform(-1, 1) * xx)
        backdrop = grey * light + 0.006 * self.rng.standard_normal(frame_shape)
        self.rgb[~self.painting] = (backdrop[..., None] * [1.0, 0.99, 0.97])[~self.painting]

    def chart_and_rulers(self) -> None:
        """A colour chart and a black-and-white ruler on the backdrop (photograph); a lead ruler and
        lead numbers on the film margin (X-ray)."""
        top, left, h, w = self.box
        height, width = self.frame_shape
        below = height - (top + h)
        # The chart (4 × 6 patches with black gaps) in the band below the painting.
        patch = max(3, min((below - 6) // 4 - 1, (w // 2) // 6 - 1))
        chart_h, chart_w = 4 * (patch + 1) + 1, 6 * (patch + 1) + 1
        y0 = top + h + max(0, (below - chart_h) // 2)  # never over the painting (cut at the frame's edge)
        x0 = left + int(self.rng.uniform(0, max(1, w - chart_w)))
        self.rgb[y0 : y0 + chart_h, x0 : x0 + chart_w] = 0.05
        for index, colour in enumerate(_CHART):
            r, c = divmod(index, 6)
            py, px = y0 + 1 + r * (patch + 1), x0 + 1 + c * (patch + 1)
            self.rgb[py : py + patch, px : px + patch] = colour
        # The photograph's ruler: alternating black and white blocks along the band above the painting.
        ruler_h, block = max(3, top // 4), int(self.rng.integers(8, 13))
        ry = max(0, top // 2 - ruler_h // 2)
        for i, bx in enumerate(range(left, left + w, block)):
            self.rgb[ry : ry + ruler_h, bx : bx + block] = 0.92 if i % 2 else 0.06
        # The X-ray's lead ruler along the left margin and lead numbers in the top-left corner.
        self.lead_ruler(rows=(top, top + h), col=max(1, left // 4), vertical=True, length=max(2, left // 2))
        self.lead_number(str(self.rng.integers(10, 1000)), (max(1, top // 4), max(1, left // 4)), scale=max(1, top // 12))

    def lead_ruler(self, rows: tuple[int, int], col: int, vertical: bool, length: int = 9) -> None:
        """Saturated tick marks every 8–12 px along ``rows`` from column ``col`` (transposed if not
        ``vertical``: then ``rows`` are columns and ``col`` a row), every fifth one ``length`` px
        long, the others about half."""
        spacing = int(self.rng.integers(8, 13))
        mark = np.zeros(self.frame_shape, bool)
        for i, along in enumerate(range(rows[0], rows[1], spacing)):
            reach = length if i % 5 == 0 else length // 2 + 1
            if vertical:
                mark[along : along + 2, col : col + reach] = True
            else:
                mark[col : col + reach, along : along + 2] = True
        if vertical:
            mark[rows[0] : rows[1], col : col + 2] = True
        else:
            mark[col : col + 2, rows[0] : rows[1]] = True
        self.saturated |= mark

    def lead_number(self, text: str, corner: tuple[int, int], scale: int) -> None:
        """Lead digits (saturated in the X-ray), ``scale`` px per font pixel, at ``corner``."""
        glyphs = [np.array(list(_DIGITS[d]), int).reshape(5, 3) for d in text]
        spaced = np.concatenate([np.pad(g, ((0, 0), (0, 1))) for g in glyphs], axis=1)
        mark = np.kron(spaced, np.ones((scale, scale), int)).astype(bool)
        y, x = corner
        mh, mw = min(mark.shape[0], self.frame_shape[0] - y), min(mark.shape[1], self.frame_shape[1] - x)
        self.saturated[y : y + mh, x : x + mw] |= mark[:mh, :mw]

    def dots(self, centres: list[tuple[float, float]], radius: float) -> np.ndarray:
        """(H, W) bool: discs of ``radius`` around ``centres``."""
        yy, xx = np.mgrid[0 : self.frame_shape[0], 0 : self.frame_shape[1]]
        mask = np.zeros(self.frame_shape, bool)
        for cy, cx in centres:
            mask |= (yy - cy) ** 2 + (xx - cx) ** 2 <= radius**2
        return mask


def _relative_grid(shape: tuple[int, int]) -> tuple[np.ndarray, np.ndarray]:
    """(yy, xx) in [−1, 1] across the frame."""
    return np.meshgrid(np.linspace(-1, 1, shape[0]), np.linspace(-1, 1, shape[1]), indexing="ij")


# ----------------------------------------------------------------------------------------- variants


def _clean(frame: _Frame) -> None:
    """Stored only."""


def _clipping(frame: _Frame) -> None:
    """The gain (set in with_real_structure) saturates the densest pixels; nothing more to draw."""


def _backdrop(frame: _Frame) -> None:
    frame.backdrop()


def _backdrop_chart(frame: _Frame) -> None:
    frame.backdrop()
    frame.chart_and_rulers()


def _vignetting(frame: _Frame) -> None:
    """Lens fall-off: 1 − v·r² with r = 1 at the farthest corner from a slightly off-centre axis."""
    yy, xx = _relative_grid(frame.frame_shape)
    cy, cx = frame.rng.uniform(-0.15, 0.15, 2)
    radius2 = (yy - cy) ** 2 + (xx - cx) ** 2
    fall = frame.rng.uniform(0.15, 0.25)
    frame.rgb *= (1 - fall * radius2 / radius2.max())[..., None]


def _mosaic(frame: _Frame) -> None:
    """2 × 3 films, each with its own gain (±6 %) and offset (±3 % of the painting's stored range)."""
    height, width = frame.frame_shape
    row = int(round(height * frame.rng.uniform(0.4, 0.6)))
    cols = [int(round(width * (k / 3 + frame.rng.uniform(-0.05, 0.05)))) for k in (1, 2)]
    span = frame.gain * float(np.ptp(frame.mixture.x_mixed))
    rows_of, cols_of = [(0, row), (row, height)], [(0, cols[0]), (cols[0], cols[1]), (cols[1], width)]
    for r0, r1 in rows_of:
        for c0, c1 in cols_of:
            film_gain, offset = 1 + frame.rng.uniform(-0.06, 0.06), frame.rng.uniform(-0.03, 0.03) * span
            frame.x[r0:r1, c0:c1] = FOG + film_gain * (frame.x[r0:r1, c0:c1] - FOG) + offset
    frame.seams = (("row", row), ("col", cols[0]), ("col", cols[1]))


def _heel(frame: _Frame) -> None:
    """The anode heel effect (a ±4.5–7.5 % gain ramp along the tube's axis) times a radial fall-off
    (3–6 % at the corners) on the stored signal."""
    yy, xx = _relative_grid(frame.frame_shape)
    along = yy if frame.rng.uniform() < 0.5 else xx
    heel = 1 + frame.rng.choice([-1, 1]) * frame.rng.uniform(0.045, 0.075) * along
    radial = 1 - frame.rng.uniform(0.03, 0.06) * (yy**2 + xx**2) / 2
    frame.x = FOG + heel * radial * (frame.x - FOG)


def _defects(frame: _Frame) -> None:
    """Hot (65535) and dead (0) pixels, some in pairs, on 0.05–0.2 % of the frame; 2–5 scratches:
    1-px lines 60–300 px long, darker or brighter by 10–30 % of the painting's stored range."""
    height, width = frame.frame_shape
    count = int(frame.rng.uniform(0.0005, 0.002) * height * width)
    ys, xs = frame.rng.integers(0, height, count), frame.rng.integers(0, width, count)
    hot = frame.rng.uniform(size=count) < 0.5
    pairs = frame.rng.uniform(size=count) < 0.25
    for y, x, is_hot, pair in zip(ys, xs, hot, pairs):
        value = DETECTOR_MAX if is_hot else 0
        frame.x[y, x : x + 1 + pair] = value
        frame.defects[y, x : x + 1 + pair] = True
    span = frame.gain * float(np.ptp(frame.mixture.x_mixed))
    for _ in range(int(frame.rng.integers(2, 6))):
        length = frame.rng.uniform(60, 300)
        angle = frame.rng.uniform(0, np.pi)
        y0, x0 = frame.rng.uniform(0, height), frame.rng.uniform(0, width)
        t = np.linspace(0, length, int(length) * 2)
        # A scratch meanders a little.
        bend = 4 * np.sin(np.pi * t / length) * frame.rng.uniform(-1, 1)
        ys = np.rint(y0 + t * np.sin(angle) + bend * np.cos(angle)).astype(int)
        xs = np.rint(x0 + t * np.cos(angle) - bend * np.sin(angle)).astype(int)
        keep = (ys >= 0) & (ys < height) & (xs >= 0) & (xs < width)
        line = np.zeros(frame.frame_shape, bool)
        line[ys[keep], xs[keep]] = True
        frame.x[line] += frame.rng.choice([-1, 1]) * frame.rng.uniform(0.1, 0.3) * span
        frame.defects |= line


def _lead_markers(frame: _Frame) -> None:
    """Lead numbers near two corners and a lead ruler along one edge, lying on the painting."""
    height, width = frame.frame_shape
    scale = int(frame.rng.integers(2, 4))
    frame.lead_number(str(frame.rng.integers(1, 100)), (int(frame.rng.integers(4, 16)), int(frame.rng.integers(4, 16))), scale)
    frame.lead_number(
        str(frame.rng.integers(100, 1000)), (height - 5 * scale - int(frame.rng.integers(4, 16)), width - 12 * scale - 16), scale
    )
    if frame.rng.uniform() < 0.5:
        frame.lead_ruler(rows=(width // 6, 5 * width // 6), col=height - 16, vertical=False)
    else:
        frame.lead_ruler(rows=(height // 6, 5 * height // 6), col=6, vertical=True)


def _stretcher(frame: _Frame) -> None:
    """Stretcher bars (wood: 8–15 % of the painting's range more absorbance, grained, bevelled inner
    edge) along the four edges and one cross-bar; nails (saturated dots) along the outer bars."""
    height, width = frame.frame_shape
    bar = int(round(frame.rng.uniform(0.05, 0.08) * min(height, width)))
    yy, xx = np.mgrid[0:height, 0:width].astype(np.float64)
    centre = width / 2 + frame.rng.uniform(-0.05, 0.05) * width
    # Distance inside each bar from its inner (bevelled) edge, then a soft 3-px ramp.
    depth = np.maximum.reduce([bar - yy, bar - (height - 1 - yy), bar - xx, bar - (width - 1 - xx), bar / 2 - np.abs(xx - centre)])
    wood = np.clip(depth / 3.0, 0.0, 1.0)
    grain = 1 + 0.25 * wood_grain(frame.rng, (height, width), period=float(frame.rng.uniform(6, 10)))
    density = frame.rng.uniform(0.08, 0.15) * float(np.ptp(frame.mixture.x_mixed))
    frame.x += frame.gain * density * wood * grain
    spacing = frame.rng.uniform(30, 50)
    half = bar / 2
    nails = [(half, float(c)) for c in np.arange(spacing / 2, width, spacing)]
    nails += [(height - 1 - half, float(c)) for c in np.arange(spacing / 2, width, spacing)]
    nails += [(float(r), half) for r in np.arange(spacing / 2, height, spacing)]
    nails += [(float(r), width - 1 - half) for r in np.arange(spacing / 2, height, spacing)]
    frame.saturated |= frame.dots(nails, radius=frame.rng.uniform(1.2, 2.2))


def _tacking_margin(frame: _Frame) -> None:
    """Strips of bare canvas (10–22 px) around the painting, with tacks: canvas colour and texture in
    the photograph; a little absorbance and a strong weave in the X-ray; tacks saturated / dark."""
    h, w = frame.shape
    strip = int(frame.rng.integers(10, 23))
    frame_shape = (h + 2 * strip, w + 2 * strip)
    weave = irregular_weave(frame.rng, frame_shape, amplitude=0.05)
    frame.place(frame_shape, (strip, strip), margin_x=0.06 + weave)
    outside = ~frame.painting
    texture = 1 + 1.5 * weave + 0.02 * frame.rng.standard_normal(frame_shape)
    canvas = np.array([0.78, 0.70, 0.55]) * frame.rng.uniform(0.9, 1.05)
    frame.rgb[outside] = (texture[..., None] * canvas)[outside]
    spacing = frame.rng.uniform(25, 40)
    half = strip / 2
    tacks = [(half, float(c)) for c in np.arange(spacing / 2, frame_shape[1], spacing)]
    tacks += [(frame_shape[0] - 1 - half, float(c)) for c in np.arange(spacing / 2, frame_shape[1], spacing)]
    tacks += [(float(r), half) for r in np.arange(spacing / 2, frame_shape[0], spacing)]
    tacks += [(float(r), frame_shape[1] - 1 - half) for r in np.arange(spacing / 2, frame_shape[0], spacing)]
    heads = frame.dots(tacks, radius=2.0)
    frame.saturated |= heads
    frame.rgb[heads] = 0.22


def _frame(frame: _Frame) -> None:
    """A gilded frame (20–36 px wide) around the painting in the photograph, its rabbet hiding the
    painting's outer 2–6 px; the X-ray, taken out of the frame, shows the film margin around it."""
    h, w = frame.shape
    width = int(frame.rng.integers(20, 37))
    rabbet = int(frame.rng.integers(2, 7))
    frame_shape = (h + 2 * width, w + 2 * width)
    frame.place(frame_shape, (width, width), margin_x=0.004 * oriented_noise(frame.rng, frame_shape, 0.0, 60, 60))
    yy, xx = np.mgrid[0 : frame_shape[0], 0 : frame_shape[1]]
    # Distance from the frame's outer edge, in units of the moulding's width (mitred corners).
    depth = np.minimum.reduce([yy, frame_shape[0] - 1 - yy, xx, frame_shape[1] - 1 - xx]) / (width + rabbet)
    moulding = depth < 1.0
    profile = 0.72 + 0.3 * np.sin(np.pi * 2.5 * depth) * np.exp(-depth)  # rounded ridges catch the light
    ornament = 1 + 0.08 * gaussian_blur(frame.rng.standard_normal(frame_shape), 1.2) / 0.2
    gold = np.array([0.80, 0.64, 0.33]) * frame.rng.uniform(0.85, 1.05)
    frame.rgb[moulding] = np.clip(profile * ornament, 0.2, 1.3)[moulding][:, None] * gold
    frame.painting &= ~moulding


_BUILDERS = {
    "clean": _clean, "backdrop": _backdrop, "backdrop_chart": _backdrop_chart, "vignetting": _vignetting,
    "mosaic": _mosaic, "heel": _heel, "defects": _defects, "clipping": _clipping, "lead_markers": _lead_markers,
    "stretcher": _stretcher, "tacking_margin": _tacking_margin, "frame": _frame,
}
