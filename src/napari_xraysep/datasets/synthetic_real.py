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
* ``mosaic_backdrop``: ``backdrop`` and ``mosaic`` together: the films' seams cross the film margin
  around the painting too (a scanned mosaic as museums store it).
* ``jpeg``: the photograph stored as a JPEG (quality 80–90, 4:2:0 chroma subsampling: a camera's or
  an export's default) at the X-ray's pixel size: its blocks, ringing and half-resolution colour.

Stored X-ray: ``FOG + gain · x`` counts, with ``x`` the mixture's additive X-ray (``x1 + x2 + weave +
noise``, bright where the paint absorbs) and ``gain`` putting the clean painting's densest pixel at
85 % of 65535; nothing absorbs in the film margin (``x`` ≈ 0 there). The exposure variants act on the
stored signal as the issue measured them: ``FOG + field · gain · x + offset``. Saturated objects (lead,
nails) and hot pixels are 65535, dead pixels 0. Stored photograph: ``round(255 · rgb)`` (``jpeg``: that,
saved as a JPEG and decoded).

The truths ``x1_true`` and ``x2_true`` are the clean mixture's, in its units, inside the painting
(NaN elsewhere): a stretcher bar or a lead marker is in neither layer. Everything is deterministic
for (mixture, variant, seed); the seed draws sizes, positions and strengths.

This module holds the variants (one function each) and the entry points; the frame they draw on and
the :class:`~.real_frame.RealVariant` it yields are in :mod:`.real_frame`.
"""

from __future__ import annotations

import numpy as np

from .real_frame import DETECTOR_MAX, FOG, Frame, RealVariant, relative_grid
from .synthetic import SyntheticMixture, gaussian_blur, oriented_noise
from .synthetic_photos import PHOTO_CASES, irregular_weave, make_photo_mixture, wood_grain

VARIANTS = (
    "clean", "backdrop", "backdrop_chart", "vignetting", "mosaic", "heel", "defects", "clipping",
    "lead_markers", "stretcher", "tacking_margin", "frame", "mosaic_backdrop", "jpeg",
)
_PEAK = 0.85 * DETECTOR_MAX  # where the clean painting's densest pixel is stored


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
    build = Frame(mixture, gain, rng)
    _BUILDERS[variant](build)
    return build.result(variant)


# ----------------------------------------------------------------------------------------- variants


def _clean(frame: Frame) -> None:
    """Stored only."""


def _clipping(frame: Frame) -> None:
    """The gain (set in with_real_structure) saturates the densest pixels; nothing more to draw."""


def _backdrop(frame: Frame) -> None:
    frame.backdrop()


def _backdrop_chart(frame: Frame) -> None:
    frame.backdrop()
    frame.chart_and_rulers()


def _vignetting(frame: Frame) -> None:
    """Lens fall-off: 1 − v·r² with r = 1 at the farthest corner from a slightly off-centre axis."""
    yy, xx = relative_grid(frame.frame_shape)
    cy, cx = frame.rng.uniform(-0.15, 0.15, 2)
    radius2 = (yy - cy) ** 2 + (xx - cx) ** 2
    fall = frame.rng.uniform(0.15, 0.25)
    frame.rgb *= (1 - fall * radius2 / radius2.max())[..., None]


def _mosaic(frame: Frame) -> None:
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


def _heel(frame: Frame) -> None:
    """The anode heel effect (a ±4.5–7.5 % gain ramp along the tube's axis) times a radial fall-off
    (3–6 % at the corners) on the stored signal."""
    yy, xx = relative_grid(frame.frame_shape)
    along = yy if frame.rng.uniform() < 0.5 else xx
    heel = 1 + frame.rng.choice([-1, 1]) * frame.rng.uniform(0.045, 0.075) * along
    radial = 1 - frame.rng.uniform(0.03, 0.06) * (yy**2 + xx**2) / 2
    frame.x = FOG + heel * radial * (frame.x - FOG)


def _defects(frame: Frame) -> None:
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


def _lead_markers(frame: Frame) -> None:
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


def _stretcher(frame: Frame) -> None:
    """Stretcher bars (wood: 8–15 % of the painting's range more absorbance, grained along each bar,
    bevelled inner edge) along the four edges and one vertical cross-bar, joined at the corners;
    nails (saturated dots) along the outer bars."""
    height, width = frame.frame_shape
    bar = int(round(frame.rng.uniform(0.05, 0.08) * min(height, width)))
    yy, xx = np.mgrid[0:height, 0:width].astype(np.float64)
    centre = width / 2 + frame.rng.uniform(-0.05, 0.05) * width
    # Depth inside each bar from its inner (bevelled) edge, then a soft 3-px ramp. The bars are joined
    # where they meet (one thickness of wood, not two), and each board's grain runs along it.
    upright = np.maximum.reduce([bar - xx, bar - (width - 1 - xx), bar / 2 - np.abs(xx - centre)])
    across = np.maximum(bar - yy, bar - (height - 1 - yy))
    wood = np.clip(np.maximum(upright, across) / 3.0, 0.0, 1.0)
    period = float(frame.rng.uniform(6, 10))
    grain_upright = wood_grain(frame.rng, (height, width), period=period)
    grain_across = wood_grain(frame.rng, (width, height), period=period).T
    grain = 1 + 0.25 * np.where(upright >= across, grain_upright, grain_across)
    density = frame.rng.uniform(0.08, 0.15) * float(np.ptp(frame.mixture.x_mixed))
    frame.x += frame.gain * density * wood * grain
    spacing = frame.rng.uniform(30, 50)
    half = bar / 2
    nails = [(half, float(c)) for c in np.arange(spacing / 2, width, spacing)]
    nails += [(height - 1 - half, float(c)) for c in np.arange(spacing / 2, width, spacing)]
    nails += [(float(r), half) for r in np.arange(spacing / 2, height, spacing)]
    nails += [(float(r), width - 1 - half) for r in np.arange(spacing / 2, height, spacing)]
    frame.saturated |= frame.dots(nails, radius=frame.rng.uniform(1.2, 2.2))


def _tacking_margin(frame: Frame) -> None:
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


def _frame(frame: Frame) -> None:
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


def _mosaic_backdrop(frame: Frame) -> None:
    """The painting on its film margin (:func:`_backdrop`), then 2 × 3 films across the whole frame: the
    margin, at the fog's level, steps at a seam by the films' offsets alone."""
    _backdrop(frame)
    _mosaic(frame)


def _jpeg(frame: Frame) -> None:
    """The photograph stored as a JPEG of quality 80–90 with 4:2:0 chroma subsampling."""
    frame.jpeg_quality = int(frame.rng.integers(80, 91))


_BUILDERS = {
    "clean": _clean, "backdrop": _backdrop, "backdrop_chart": _backdrop_chart, "vignetting": _vignetting,
    "mosaic": _mosaic, "heel": _heel, "defects": _defects, "clipping": _clipping, "lead_markers": _lead_markers,
    "stretcher": _stretcher, "tacking_margin": _tacking_margin, "frame": _frame, "mosaic_backdrop": _mosaic_backdrop,
    "jpeg": _jpeg,
}
