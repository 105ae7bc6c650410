"""Mixtures built from colour photographs: the benchmark's hard cases, with photographic detail.

The procedural paintings of :mod:`napari_xraysep.datasets.synthetic` are smooth shapes; a method tuned on them
alone can look solved while real paintings are not. Here the surface and the hidden painting are
photographs that scikit-image bundles (nothing is downloaded), each turned into paint and X-rayed
with the same physical model:

* **Paint.** Every colour is mixed from the pigment palette of :data:`~napari_xraysep.datasets.synthetic.PIGMENTS`
  by non-negative least squares (a painter's palette is discrete, so the colour → absorbance map has
  kinks, unlike any smooth fit); the X-ray sees the mixture's attenuation, not the grayscale.
* **Paint thickness.** Broad unevenness (± 5 %, invisible in the photograph) and brush strokes
  (impasto, which also catches the light in the photograph).
* **Craquelure.** A network of fine cracks in the surface paint: less paint along them in the X-ray,
  dirt in them in the photograph.
* **Support.** A canvas whose threads wander slightly (their spacing and direction drift across the
  painting) and are not sinusoidal (harmonics and crossings), or a wooden panel, whose grain lies in
  the hidden layer's truth (it is beneath the surface and not periodic; the paper puts everything not
  visible at the surface in x2).
* Each layer's X-ray is ``strength · blur(absorbance ** gamma)`` with a sub-pixel blur, so the
  photographs' fine detail is kept; ``x_mixed = x1_true + x2_true + weave + noise`` exactly.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache

import numpy as np
from scipy import ndimage, optimize, spatial
from skimage import data as skdata
from skimage.transform import resize

from .synthetic import PIGMENTS, SyntheticMixture, default_region, oriented_noise

# The palette a photograph is repainted with: the copper black and its bone-black twin look alike
# and would make the decomposition arbitrary (the copper cases test that on their own).
PALETTE = tuple(name for name in PIGMENTS if name not in ("copper_black", "bone_black"))
_PALETTE_RGB = np.array([PIGMENTS[n].rgb for n in PALETTE])  # (K, 3)
_PALETTE_ATTENUATION = np.array([PIGMENTS[n].attenuation for n in PALETTE])  # (K,)
# Colours are decomposed on a grid of this many levels per channel and interpolated in between.
_GRID = 17


def _photograph(name: str) -> np.ndarray:
    """A bundled colour photograph as float (H, W, 3) in [0, 1]."""
    if name == "motorcycle":
        image = skdata.stereo_motorcycle()[0]
    else:
        image = getattr(skdata, name)()
    return np.asarray(image, dtype=np.float64)[..., :3] / 255.0


def photograph(name: str, shape: tuple[int, int], crop: tuple[float, float, float] = (0.5, 0.5, 1.0)) -> np.ndarray:
    """``name`` cropped to ``shape``'s aspect ratio and resized (anti-aliased) to ``shape``.

    ``crop`` = (centre y, centre x, zoom) in relative units: zoom 1 takes the largest crop that fits.
    """
    image = _photograph(name)
    height, width = image.shape[:2]
    cy, cx, zoom = crop
    aspect = shape[1] / shape[0]
    crop_h = min(height, width / aspect) / zoom
    crop_w = crop_h * aspect
    top = int(np.clip(cy * height - crop_h / 2, 0, height - crop_h))
    left = int(np.clip(cx * width - crop_w / 2, 0, width - crop_w))
    cropped = image[top : top + int(crop_h), left : left + int(crop_w)]
    return np.clip(resize(cropped, shape, order=3, anti_aliasing=True), 0.0, 1.0)


@lru_cache(maxsize=1)
def _absorbance_grid() -> np.ndarray:
    """Attenuation of the palette mixture that best reproduces each colour of a _GRID³ lattice."""
    levels = np.linspace(0.0, 1.0, _GRID)
    # Rows: the three colour channels, then Σ weights = 1 (paint is made of pigment, nothing else).
    design = np.vstack([_PALETTE_RGB.T, 3.0 * np.ones(len(PALETTE))])
    grid = np.empty((_GRID, _GRID, _GRID))
    for i, r in enumerate(levels):
        for j, g in enumerate(levels):
            for k, b in enumerate(levels):
                weights, _ = optimize.nnls(design, np.array([r, g, b, 3.0]))
                grid[i, j, k] = weights @ _PALETTE_ATTENUATION
    return grid


def paint_absorbance(rgb: np.ndarray) -> np.ndarray:
    """(H, W) relative X-ray absorbance of the paint that shows ``rgb`` (H, W, 3) in [0, 1]."""
    coordinates = np.moveaxis(np.clip(rgb, 0, 1) * (_GRID - 1), -1, 0)
    return ndimage.map_coordinates(_absorbance_grid(), coordinates, order=1, mode="nearest")


def craquelure(rng: np.random.Generator, shape: tuple[int, int], cell: float = 18.0) -> np.ndarray:
    """(H, W) in [0, 1]: 1 on the cracks, 0 away from them. Cracks are the edges of irregular cells
    (distorted Voronoi cells of about ``cell`` px), about a pixel wide."""
    height, width = shape
    count = max(4, int(height * width / cell**2))
    seeds = rng.uniform(0, 1, (count, 2)) * [height, width]
    yy, xx = np.mgrid[0:height, 0:width].astype(np.float64)
    # Cracks meander: warp the coordinates before finding the nearest seeds.
    warp = 0.25 * cell
    points = np.stack([yy + warp * oriented_noise(rng, shape, 0.3, 12, 12), xx + warp * oriented_noise(rng, shape, 1.2, 12, 12)], -1)
    distances, _ = spatial.cKDTree(seeds).query(points.reshape(-1, 2), k=2)
    gap = (distances[:, 1] - distances[:, 0]).reshape(shape)
    return np.exp(-((gap / 0.8) ** 2))


def wood_grain(rng: np.random.Generator, shape: tuple[int, int], period: float = 9.0) -> np.ndarray:
    """(H, W) zero-mean, unit-amplitude grain of a wooden panel: growth rings running along the
    boards (vertically), bent around knots and drifting in spacing."""
    _yy, xx = np.mgrid[0 : shape[0], 0 : shape[1]].astype(np.float64)
    bend = 3.0 * period * oriented_noise(rng, shape, np.pi / 2, 80, 10)
    rings = np.sin(2 * np.pi * (xx + bend) / period)
    # Late wood is denser than early wood: sharpened, asymmetric rings.
    grain = np.sign(rings) * np.abs(rings) ** 0.5
    return (grain - grain.mean()) / (np.abs(grain).max() + 1e-12)


def irregular_weave(rng: np.random.Generator, shape: tuple[int, int], amplitude: float) -> np.ndarray:
    """(H, W) canvas weave as radiographs show it: warp and weft threads (periods ~5–7 px, directions
    off the axes by a few degrees) whose spacing drifts by a few per cent across the canvas, with
    non-sinusoidal thread profiles and brighter crossings; zero mean, peak about ``amplitude``."""
    yy, xx = np.mgrid[0 : shape[0], 0 : shape[1]].astype(np.float64)
    threads = []
    for base in (0.0, np.pi / 2):
        angle = base + rng.uniform(-0.06, 0.06)
        period = rng.uniform(5.0, 7.0)
        along = xx * np.cos(angle) + yy * np.sin(angle)
        # The phase wanders by up to about a thread over the canvas: slight irregularity.
        drift = 0.8 * oriented_noise(rng, shape, angle + np.pi / 2, 60, 60)
        phase = 2 * np.pi * along / period + drift + rng.uniform(0, 2 * np.pi)
        threads.append(np.abs(np.cos(phase / 2)) ** 1.5)  # a rounded thread every period
    weave = threads[0] + threads[1] + 0.8 * threads[0] * threads[1]
    weave = weave - weave.mean()
    return amplitude * weave / np.abs(weave).max()


@dataclass(frozen=True)
class PhotoCase:
    """Which photographs lie on top and beneath, how they are framed, and what the support is."""

    surface: str
    hidden: str
    surface_crop: tuple[float, float, float] = (0.5, 0.5, 1.0)
    hidden_crop: tuple[float, float, float] = (0.5, 0.5, 1.0)
    hidden_strength: float = 0.7
    support: str = "canvas"  # or "panel"
    gamma: float = 0.85
    blur_sigma: float = 0.6
    weave_amplitude: float = 0.03
    grain_amplitude: float = 0.04
    noise_sigma: float = 0.01


PHOTO_CASES: dict[str, PhotoCase] = {
    "photo_coffee_over_astronaut": PhotoCase("coffee", "astronaut", hidden_crop=(0.42, 0.48, 1.6)),
    "photo_astronaut_over_rocket": PhotoCase("astronaut", "rocket", surface_crop=(0.45, 0.5, 1.0), support="panel"),
    "photo_chelsea_over_motorcycle": PhotoCase("chelsea", "motorcycle", hidden_strength=0.8),
    "photo_rocket_over_chelsea": PhotoCase("rocket", "chelsea", hidden_crop=(0.45, 0.45, 1.2), hidden_strength=0.6),
}
# Each case's random stream: its place in this tuple (new cases go at the end).
_STREAMS = tuple(PHOTO_CASES)


def make_photo_mixture(case: str, shape: tuple[int, int] = (256, 384), seed: int = 0) -> SyntheticMixture:
    """Generate one photographic case (see :data:`PHOTO_CASES`) deterministically for ``seed``
    (the seed draws the textures, the weave and the noise; the photographs are fixed)."""
    if case not in PHOTO_CASES:
        raise ValueError(f"unknown photographic case {case!r}; choose one of {', '.join(PHOTO_CASES)}")
    recipe = PHOTO_CASES[case]
    rng = np.random.default_rng([seed, 1000 + _STREAMS.index(case)])
    colour_top = photograph(recipe.surface, shape, recipe.surface_crop)
    colour_hidden = photograph(recipe.hidden, shape, recipe.hidden_crop)

    broad = 1.0 + 0.05 * oriented_noise(rng, shape, rng.uniform(0, np.pi), 40, 40)
    strokes = 0.04 * oriented_noise(rng, shape, rng.uniform(0, np.pi), 10, 1.5)
    cracks = craquelure(rng, shape, cell=30.0)
    thickness_top = np.clip(broad + strokes, 0.3, None) * (1 - 0.3 * cracks)
    thickness_hidden = np.clip(1.0 + 0.12 * oriented_noise(rng, shape, rng.uniform(0, np.pi), 40, 40), 0.3, None)

    def xray(colour: np.ndarray, thickness: np.ndarray, strength: float) -> np.ndarray:
        return strength * ndimage.gaussian_filter(
            (paint_absorbance(colour) * thickness) ** recipe.gamma, recipe.blur_sigma, mode="reflect"
        )

    x1_true = xray(colour_top, thickness_top, 1.0)
    x2_true = xray(colour_hidden, thickness_hidden, recipe.hidden_strength)
    if recipe.support == "panel":
        x2_true = x2_true + recipe.grain_amplitude * (1 + wood_grain(rng, shape))
        weave = np.zeros(shape)
    else:
        weave = irregular_weave(rng, shape, recipe.weave_amplitude)
    noise = recipe.noise_sigma * rng.standard_normal(shape)
    # The photograph: impasto catches the light, dirt darkens the cracks.
    light = (1 + 0.6 * strokes) * (1 - 0.25 * cracks)
    rgb_surface = np.clip(colour_top * light[..., None], 0, 1)
    f32 = np.float32
    return SyntheticMixture(
        x_mixed=(x1_true + x2_true + weave + noise).astype(f32),
        rgb_surface=rgb_surface.astype(f32),
        region_mask=default_region(x2_true),
        x1_true=x1_true.astype(f32),
        x2_true=x2_true.astype(f32),
        weave=weave.astype(f32),
        noise=noise.astype(f32),
        rgb_hidden=colour_hidden.astype(f32),
        case=case,
        seed=seed,
    )
