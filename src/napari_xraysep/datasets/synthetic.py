"""Synthetic paintings with a concealed design, and their X-rays, with ground truth.

Real paintings have no ground truth, so quality is measured on mixtures built like real ones:

* A painting is a stack of soft shapes, each a mixture of pigments, with brush-stroke thickness
  texture. Its photograph is the pigments' colours; its X-ray is their attenuation.
* Attenuation is physical, not the grayscale: lead white, lead-tin yellow and vermilion absorb
  strongly; earths weakly; carbon black hardly at all; a copper-containing black is dark in the
  photograph but bright in the X-ray (the artefact the paper reports in Isabel's headdress); bone
  black looks exactly like it and absorbs almost nothing, so a photograph cannot tell the two apart.
* Each layer's X-ray is ``strength · blur(absorbance ** gamma)``; the layers add (Beer–Lambert:
  absorbances add), then a canvas weave and noise are added:
  ``x_mixed = x1_true + x2_true + weave + noise`` exactly.

Everything is generated from a seed with numpy and scipy; nothing is downloaded.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import scipy.fft
from scipy import ndimage


@dataclass(frozen=True)
class Pigment:
    rgb: tuple[float, float, float]
    attenuation: float  # relative X-ray absorbance per unit thickness


PIGMENTS: dict[str, Pigment] = {
    "lead_white": Pigment((0.93, 0.91, 0.86), 1.00),
    "lead_tin_yellow": Pigment((0.92, 0.80, 0.30), 0.85),
    "vermilion": Pigment((0.80, 0.18, 0.12), 0.75),
    "yellow_ochre": Pigment((0.75, 0.58, 0.28), 0.22),
    "red_earth": Pigment((0.55, 0.25, 0.17), 0.22),
    "umber": Pigment((0.35, 0.24, 0.15), 0.12),
    "green_earth": Pigment((0.36, 0.45, 0.30), 0.14),
    "azurite": Pigment((0.16, 0.27, 0.60), 0.18),
    "carbon_black": Pigment((0.08, 0.08, 0.09), 0.02),
    "copper_black": Pigment((0.12, 0.14, 0.11), 0.60),
    "bone_black": Pigment((0.12, 0.14, 0.11), 0.04),  # the copper black's twin in the photograph
}
PIGMENT_NAMES = tuple(PIGMENTS)
_COLOURS = np.array([PIGMENTS[n].rgb for n in PIGMENT_NAMES], dtype=np.float64)  # (K, 3)
_ATTENUATION = np.array([PIGMENTS[n].attenuation for n in PIGMENT_NAMES], dtype=np.float64)  # (K,)


def mixture(**parts: float) -> np.ndarray:
    """Pigment weights (K,) from named parts, normalised to sum 1 (e.g. flesh tones)."""
    weights = np.zeros(len(PIGMENT_NAMES))
    for name, part in parts.items():
        weights[PIGMENT_NAMES.index(name)] = part
    return weights / weights.sum()


# ----------------------------------------------------------------------------------------- fields


def gaussian_blur(image: np.ndarray, sigma: float) -> np.ndarray:
    """Gaussian blur of a 2-D array: :func:`scipy.ndimage.fourier_gaussian` (the Gaussian's exact
    transfer function, exp(−2π²σ²f²)) on the spectrum of the image reflect-padded by 3σ, so no
    wrap-around at the borders. Spectral rather than :func:`scipy.ndimage.gaussian_filter`'s sampled
    kernel because every synthetic image and the benchmarks' figures were made with this transfer
    function: at the X-ray's σ = 0.8 the sampled kernel passes twice as much at the highest
    frequencies, which would move the mixtures by up to 0.4 % of their range."""
    if sigma <= 0:
        return image
    pad = int(np.ceil(3 * sigma))
    padded = np.pad(image, pad, mode="reflect")
    spectrum = ndimage.fourier_gaussian(np.fft.rfft2(padded), sigma, n=padded.shape[1])
    return np.fft.irfft2(spectrum, s=padded.shape)[pad:-pad, pad:-pad]


def oriented_noise(
    rng: np.random.Generator, shape: tuple[int, int], angle: float, length: float, width: float
) -> np.ndarray:
    """Zero-mean, unit-variance noise smeared along ``angle``: brush strokes of a given size."""
    fy = np.fft.fftfreq(shape[0])[:, None]
    fx = np.fft.rfftfreq(shape[1])[None, :]
    along = fx * np.cos(angle) + fy * np.sin(angle)
    across = -fx * np.sin(angle) + fy * np.cos(angle)
    kernel = np.exp(-2 * np.pi**2 * ((along * length) ** 2 + (across * width) ** 2))
    # The kernel is even, so the field is real: half the spectrum (scipy's FFT, 3× numpy's at the odd
    # sizes tests ask for; the same field to ~1e-16).
    field = scipy.fft.irfft2(scipy.fft.rfft2(rng.standard_normal(shape)) * kernel, s=shape)
    return (field - field.mean()) / (field.std() + 1e-12)


class Canvas:
    """A layer being painted: per-pixel pigment weights and a paint-thickness texture."""

    def __init__(self, rng: np.random.Generator, shape: tuple[int, int], ground: np.ndarray) -> None:
        self.rng, self.shape = rng, shape
        self.weights = np.broadcast_to(ground, (*shape, len(PIGMENT_NAMES))).copy()
        self.thickness = 1.0 + 0.05 * oriented_noise(rng, shape, rng.uniform(0, np.pi), 16.0, 2.0)
        yy, xx = np.mgrid[0 : shape[0], 0 : shape[1]]
        self.yy, self.xx = yy / shape[0], xx / shape[1]  # relative coordinates in [0, 1)

    def paint(self, mask: np.ndarray, colour: np.ndarray, variation: np.ndarray | None = None) -> None:
        """Cover ``mask`` (soft, [0, 1]) with ``colour``, optionally drifting towards ``variation``."""
        mask = np.clip(mask, 0.0, 1.0)[..., None]
        paint = np.broadcast_to(colour, self.weights.shape)
        if variation is not None:
            drift = 0.5 + 0.5 * np.tanh(oriented_noise(self.rng, self.shape, self.rng.uniform(0, np.pi), 25, 8))
            paint = (1 - 0.6 * drift[..., None]) * paint + 0.6 * drift[..., None] * variation
        # In place (the same values): 30 strokes over 11 pigments' weights at 1 000 × 1 500 px took 9 s.
        self.weights *= 1 - mask
        self.weights += mask * paint
        strokes = oriented_noise(self.rng, self.shape, self.rng.uniform(0, np.pi), 14.0, 2.0)
        self.thickness = self.thickness + 0.08 * mask[..., 0] * strokes

    def ellipse(self, cy: float, cx: float, ry: float, rx: float, angle: float = 0.0, edge: float = 0.02) -> np.ndarray:
        """Soft ellipse mask in relative coordinates, with a wobbling painterly outline."""
        dy, dx = self.yy - cy, (self.xx - cx) * self.shape[1] / self.shape[0]
        ry_px, rx_px = ry, rx * self.shape[1] / self.shape[0]
        c, s = np.cos(angle), np.sin(angle)
        u, v = (dx * c + dy * s) / rx_px, (-dx * s + dy * c) / ry_px
        wobble = 1 + 0.05 * oriented_noise(self.rng, self.shape, self.rng.uniform(0, np.pi), 40, 40)
        radius = np.sqrt(u**2 + v**2) / wobble
        return 1 / (1 + np.exp((radius - 1) / (edge / max(ry, rx))))

    def band(self, y0: float, y1: float, edge: float = 0.01) -> np.ndarray:
        """Soft horizontal band between relative heights ``y0`` and ``y1``."""
        wobble = 0.01 * oriented_noise(self.rng, self.shape, 0.0, 60, 20)
        top = 1 / (1 + np.exp(-(self.yy - y0 + wobble) / edge))
        return top * (1 / (1 + np.exp((self.yy - y1 + wobble) / edge)))

    def rgb(self) -> np.ndarray:
        """The photograph: pigment colours lit by the impasto (thick paint catches light), in [0, 1]."""
        light = 1 + 0.6 * (self.thickness - 1) + 0.03 * gaussian_blur(self.rng.standard_normal(self.shape), 3)
        return np.clip((self.weights @ _COLOURS) * light[..., None], 0, 1)

    def absorbance(self) -> np.ndarray:
        return (self.weights @ _ATTENUATION) * np.clip(self.thickness, 0.2, None)


# ----------------------------------------------------------------------------------------- scenes

Scene = Callable[[Canvas, dict], None]


def _portrait(canvas: Canvas, style: dict) -> None:
    """A seated figure: dark background, dress, flesh head and hands, headdress, lead-white collar."""
    r = canvas.rng
    cx, cy = style.get("cx", r.uniform(0.4, 0.6)), style.get("cy", r.uniform(0.28, 0.36))
    scale = style.get("scale", r.uniform(0.9, 1.1))
    flesh = mixture(lead_white=0.62, vermilion=0.12, yellow_ochre=0.26)
    shadow = mixture(lead_white=0.3, red_earth=0.4, umber=0.3)
    dress = style.get("dress", mixture(vermilion=0.5, red_earth=0.5))
    canvas.paint(canvas.ellipse(cy + 0.55 * scale, cx, 0.42 * scale, 0.36 * scale), dress, mixture(umber=1))
    canvas.paint(canvas.ellipse(cy + 0.26 * scale, cx, 0.05 * scale, 0.16 * scale), mixture(lead_white=1))
    canvas.paint(canvas.ellipse(cy + 0.15 * scale, cx, 0.1 * scale, 0.05 * scale), flesh)
    canvas.paint(canvas.ellipse(cy, cx, 0.14 * scale, 0.1 * scale, r.uniform(-0.2, 0.2)), flesh, shadow)
    hair = mixture(copper_black=1) if style.get("copper") else mixture(carbon_black=0.85, umber=0.15)
    canvas.paint(canvas.ellipse(cy - 0.1 * scale, cx, 0.08 * scale, 0.13 * scale), hair)
    for side in (-1, 1):
        canvas.paint(canvas.ellipse(cy - 0.01 * scale, cx + side * 0.035 * scale, 0.012 * scale, 0.018 * scale, edge=0.005), mixture(carbon_black=0.7, umber=0.3))
    canvas.paint(canvas.ellipse(cy + 0.07 * scale, cx, 0.012 * scale, 0.03 * scale, edge=0.005), mixture(vermilion=1))
    for _ in range(2):
        canvas.paint(canvas.ellipse(r.uniform(0.7, 0.85), cx + r.uniform(-0.2, 0.2), 0.05, 0.04), flesh)
    for _ in range(5):
        canvas.paint(canvas.ellipse(cy + 0.26 * scale, cx + r.uniform(-0.14, 0.14) * scale, 0.01, 0.01, edge=0.004), mixture(lead_tin_yellow=1))


def _landscape(canvas: Canvas, style: dict) -> None:
    """Sky in lead white and azurite over hills, trees and a building."""
    r = canvas.rng
    horizon = r.uniform(0.4, 0.55)
    sky = canvas.band(-1, horizon)
    canvas.paint(sky * (1 - canvas.yy / horizon * 0.7), mixture(lead_white=0.7, azurite=0.3), mixture(lead_white=1))
    for _ in range(4):
        canvas.paint(canvas.ellipse(r.uniform(0.05, horizon - 0.1), r.uniform(0.1, 0.9), r.uniform(0.03, 0.07), r.uniform(0.08, 0.18)), mixture(lead_white=1))
    canvas.paint(canvas.band(horizon, 2), mixture(green_earth=0.7, yellow_ochre=0.3), mixture(umber=1))
    for _ in range(3):
        canvas.paint(canvas.ellipse(horizon + r.uniform(0.02, 0.1), r.uniform(0, 1), r.uniform(0.05, 0.12), r.uniform(0.2, 0.4)), mixture(green_earth=0.6, umber=0.4))
    canvas.paint(canvas.ellipse(horizon + 0.05, r.uniform(0.55, 0.8), 0.08, 0.06, edge=0.004), mixture(yellow_ochre=0.6, lead_white=0.4))
    for _ in range(6):
        tx = r.uniform(0.05, 0.95)
        canvas.paint(canvas.ellipse(horizon - 0.05, tx, r.uniform(0.08, 0.14), r.uniform(0.04, 0.07)), mixture(green_earth=0.5, carbon_black=0.5))


def _still_life(canvas: Canvas, style: dict) -> None:
    """A table with drapery, a lead-white jug, yellow vessels and red fruit."""
    r = canvas.rng
    table = r.uniform(0.55, 0.65)
    canvas.paint(canvas.band(table, 2), mixture(umber=0.7, red_earth=0.3))
    canvas.paint(canvas.ellipse(table + 0.15, r.uniform(0.2, 0.4), 0.2, 0.25, r.uniform(-0.5, 0.5)), mixture(vermilion=0.7, red_earth=0.3), mixture(lead_white=0.5, vermilion=0.5))
    canvas.paint(canvas.ellipse(table - 0.15, r.uniform(0.55, 0.7), 0.2, 0.1), mixture(lead_white=0.9, azurite=0.1), mixture(umber=0.3, lead_white=0.7))
    canvas.paint(canvas.ellipse(table - 0.08, r.uniform(0.3, 0.45), 0.12, 0.08), mixture(lead_tin_yellow=1), mixture(yellow_ochre=1))
    for _ in range(5):
        canvas.paint(canvas.ellipse(table + r.uniform(-0.02, 0.05), r.uniform(0.2, 0.9), 0.035, 0.03, edge=0.006), mixture(vermilion=0.6, yellow_ochre=0.4))


def _standing_figure(canvas: Canvas, style: dict) -> None:
    """An abandoned composition: a standing figure in a lead-white robe with raised arm."""
    r = canvas.rng
    cx = r.uniform(0.35, 0.65)
    flesh = mixture(lead_white=0.6, vermilion=0.1, yellow_ochre=0.3)
    canvas.paint(canvas.ellipse(0.6, cx, 0.32, 0.12), mixture(lead_white=0.8, yellow_ochre=0.2), mixture(umber=0.5, lead_white=0.5))
    canvas.paint(canvas.ellipse(0.22, cx, 0.07, 0.05), flesh)
    canvas.paint(canvas.ellipse(0.35, cx + 0.12, 0.2, 0.03, angle=0.6), flesh)
    canvas.paint(canvas.ellipse(0.9, cx - 0.05, 0.06, 0.2), mixture(vermilion=0.8, umber=0.2))


SCENES: dict[str, Scene] = {
    "portrait": _portrait,
    "landscape": _landscape,
    "still_life": _still_life,
    "standing_figure": _standing_figure,
}

GROUNDS = {
    "dark": mixture(umber=0.6, carbon_black=0.2, red_earth=0.2),
    "warm": mixture(red_earth=0.5, yellow_ochre=0.3, lead_white=0.2),
    "grey": mixture(lead_white=0.35, carbon_black=0.25, umber=0.4),
}


@dataclass(frozen=True)
class Case:
    """A recipe: which scene lies on top, which beneath, and how the X-ray was taken."""

    surface: str
    hidden: str
    surface_ground: str = "dark"
    hidden_ground: str = "warm"
    hidden_strength: float = 0.8
    copper_headdress: bool = False
    black_costume: bool = False  # the sitter wears bone black: the same colour as a copper headdress
    gamma: float = 0.85
    blur_sigma: float = 0.8
    weave_amplitude: float = 0.02
    noise_sigma: float = 0.01


CASES: dict[str, Case] = {
    "concealed_portrait": Case("portrait", "portrait", hidden_strength=0.8),
    "landscape_over_portrait": Case("landscape", "portrait", surface_ground="warm", hidden_ground="grey"),
    "still_life_over_figure": Case("still_life", "standing_figure", hidden_strength=0.9),
    "copper_headdress": Case("portrait", "standing_figure", copper_headdress=True, hidden_strength=0.7),
    # Isabel de Porcel's case: a black costume and a black headdress that look alike, only the
    # headdress's black holds copper. Here the photograph alone cannot say which black is bright.
    "copper_black_costume": Case(
        "portrait", "standing_figure", copper_headdress=True, black_costume=True, hidden_strength=0.7
    ),
}
# Each case's random stream: its place in this tuple (new cases go at the end, so that adding one
# leaves every other case's images as they were).
_STREAMS = ("concealed_portrait", "copper_headdress", "landscape_over_portrait", "still_life_over_figure", "copper_black_costume")


@dataclass(frozen=True)
class SyntheticMixture:
    """A mixed X-ray with everything that made it: ``x_mixed = x1_true + x2_true + weave + noise``."""

    x_mixed: np.ndarray  # (H, W) float32
    rgb_surface: np.ndarray  # (H, W, 3) float32 in [0, 1]
    region_mask: np.ndarray  # (H, W) bool: where the hidden design shows most
    x1_true: np.ndarray  # X-ray of the visible painting
    x2_true: np.ndarray  # X-ray of the concealed design
    weave: np.ndarray
    noise: np.ndarray
    rgb_hidden: np.ndarray  # photograph the hidden painting would have had, in the X-ray's orientation
    case: str
    seed: int
    copper_map: np.ndarray | None = None  # simulated macro-XRF Cu-K map of the surface (H, W)

    @property
    def rgb_back_photographed(self) -> np.ndarray:
        """The hidden painting as the back of a double-sided panel, photographed from behind
        (mirrored left–right relative to the X-ray)."""
        return np.ascontiguousarray(self.rgb_hidden[:, ::-1])


def canvas_weave(shape: tuple[int, int], rng: np.random.Generator, amplitude: float) -> np.ndarray:
    """Two near-orthogonal thread frequencies (periods of ~5–7 px), as canvas shows in radiographs."""
    yy, xx = np.mgrid[0 : shape[0], 0 : shape[1]].astype(np.float64)
    weave = np.zeros(shape)
    for base in (0.0, np.pi / 2):
        angle = base + rng.uniform(-0.05, 0.05)
        period = rng.uniform(5.0, 7.0)
        weave += np.cos(2 * np.pi * (xx * np.cos(angle) + yy * np.sin(angle)) / period + rng.uniform(0, 2 * np.pi))
    return amplitude * weave / 2


def default_region(x2_true: np.ndarray) -> np.ndarray:
    """A rectangle around where the hidden design has most local contrast (what a user would draw)."""
    gy, gx = np.gradient(x2_true)
    energy = gaussian_blur(np.hypot(gy, gx), sigma=max(x2_true.shape) / 30)
    ys, xs = np.nonzero(energy >= np.quantile(energy, 0.75))
    y0, y1 = np.quantile(ys, [0.1, 0.9]).astype(int)
    x0, x1 = np.quantile(xs, [0.1, 0.9]).astype(int)
    mask = np.zeros(x2_true.shape, dtype=bool)
    mask[y0 : y1 + 1, x0 : x1 + 1] = True
    return mask


def _xray(canvas: Canvas, case: Case, strength: float) -> np.ndarray:
    return strength * gaussian_blur(canvas.absorbance() ** case.gamma, case.blur_sigma)


def make_mixture(case: str = "concealed_portrait", shape: tuple[int, int] = (256, 384), seed: int = 0) -> SyntheticMixture:
    """Generate one case (see :data:`CASES`) deterministically for ``seed``."""
    if case not in CASES:
        raise ValueError(f"unknown case {case!r}; choose one of {', '.join(CASES)}")
    recipe = CASES[case]
    rng = np.random.default_rng([seed, _STREAMS.index(case)])
    surface = Canvas(rng, shape, GROUNDS[recipe.surface_ground])
    style = {"copper": recipe.copper_headdress}
    if recipe.black_costume:
        style["dress"] = mixture(bone_black=1)
    SCENES[recipe.surface](surface, style)
    hidden = Canvas(rng, shape, GROUNDS[recipe.hidden_ground])
    # The concealed sitter sits elsewhere and smaller, in a lead-white-rich costume.
    hidden_style = {"dress": mixture(lead_white=0.6, azurite=0.4), "cx": rng.choice([0.3, 0.7]), "cy": 0.42, "scale": 0.8}
    SCENES[recipe.hidden](hidden, hidden_style)
    x1_true = _xray(surface, recipe, 1.0)
    x2_true = _xray(hidden, recipe, recipe.hidden_strength)
    weave = canvas_weave(shape, rng, recipe.weave_amplitude)
    noise = recipe.noise_sigma * rng.standard_normal(shape)
    f32 = np.float32
    # Macro-XRF sees copper in the surface paint: its amount (weight × thickness), blurred by the
    # scanning beam, with counting noise. Drawn after everything else so other arrays keep their values.
    copper = surface.weights[..., PIGMENT_NAMES.index("copper_black")] * np.clip(surface.thickness, 0.2, None)
    copper_map = gaussian_blur(copper, 1.5) + 0.02 * rng.standard_normal(shape)
    return SyntheticMixture(
        x_mixed=(x1_true + x2_true + weave + noise).astype(f32),
        rgb_surface=surface.rgb().astype(f32),
        region_mask=default_region(x2_true),
        x1_true=x1_true.astype(f32),
        x2_true=x2_true.astype(f32),
        weave=weave.astype(f32),
        noise=noise.astype(f32),
        rgb_hidden=hidden.rgb().astype(f32),
        case=case,
        seed=seed,
        copper_map=copper_map.astype(f32),
    )


SAMPLE_CASE, SAMPLE_SHAPE, SAMPLE_SEED = "concealed_portrait", (256, 384), 0


def load_sample() -> SyntheticMixture:
    """The bundled sample "Concealed portrait (synthetic)" used by ``xraysep demo`` and the plugin."""
    return make_mixture(SAMPLE_CASE, SAMPLE_SHAPE, SAMPLE_SEED)
