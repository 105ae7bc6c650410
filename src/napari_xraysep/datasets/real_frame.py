"""The frame a real-file variant is drawn on, and what it yields: :class:`Frame` and :class:`RealVariant`.

A :class:`Frame` holds a synthetic mixture placed on a (possibly larger) frame as stored values — the
X-ray in detector counts (``FOG + gain · x``, clipped at :data:`DETECTOR_MAX` at the end), the
photograph in [0, 1] — with where the painting, the defects and the saturated objects are, and the
drawing tools the variants share (backdrop, colour chart, lead rulers and numbers, dots).
:meth:`Frame.result` stores it as a :class:`RealVariant`. Apart from :mod:`.synthetic_real`, which
holds the variants themselves (one function each) and the entry points, so that each file reads as
one thing: how a frame is drawn on, or what each variant draws.
"""

from __future__ import annotations

import io
from dataclasses import dataclass

import numpy as np

from .synthetic import SyntheticMixture, oriented_noise


DETECTOR_MAX = 65535  # uint16: the detector's (or scanner's) saturation


FOG = 2000.0  # counts where nothing absorbs: film base and fog, the detector's dark level


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


class Frame:
    """The frame being assembled: stored-unit X-ray (float, clipped and rounded at the end),
    photograph in [0, 1], and where the painting, the defects and the saturated objects are."""

    def __init__(self, mixture: SyntheticMixture, gain: float, rng: np.random.Generator) -> None:
        self.mixture, self.gain, self.rng = mixture, gain, rng
        self.shape = mixture.x_mixed.shape
        self.place(self.shape, (0, 0))
        self.seams: tuple[tuple[str, int], ...] = ()
        self.jpeg_quality: int | None = None  # the photograph stored as a JPEG of this quality (4:2:0)

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
        rgb_stored = np.clip(np.rint(self.rgb * 255), 0, 255).astype(np.uint8)
        return RealVariant(
            variant=variant,
            x_stored=x_stored.astype(np.uint16),
            rgb_stored=rgb_stored if self.jpeg_quality is None else jpeg_round_trip(rgb_stored, self.jpeg_quality),
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
        yy, xx = relative_grid(frame_shape)
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


def relative_grid(shape: tuple[int, int]) -> tuple[np.ndarray, np.ndarray]:
    """(yy, xx) in [−1, 1] across the frame."""
    return np.meshgrid(np.linspace(-1, 1, shape[0]), np.linspace(-1, 1, shape[1]), indexing="ij")


def jpeg_round_trip(rgb: np.ndarray, quality: int) -> np.ndarray:
    """(H, W, 3) uint8 ``rgb`` saved as a baseline JPEG of ``quality`` (1–95) with 4:2:0 chroma
    subsampling, as cameras and exports store photographs, and decoded again by Pillow."""
    from PIL import Image

    buffer = io.BytesIO()
    Image.fromarray(rgb).save(buffer, "JPEG", quality=quality, subsampling=2)
    buffer.seek(0)
    with Image.open(buffer) as decoded:
        return np.asarray(decoded.convert("RGB"))
