"""The colour map: the surface X-ray predicted from the photograph, fitted robustly (the default method).

An X-ray of a painting is dominated by which pigments lie where, and the photograph says which
pigments lie where, pixel by pixel. So the visible painting's X-ray is modelled as

    x̂1 = k ⊛ F(r1) + c,      F(r) = Σ_j β_j φ_j(r)

with ``φ_j`` fixed colour features of the photograph (a cubic polynomial in R, G, B, plus Gaussian
radial bases on the photograph's own colour clusters, plus any side channels), ``k`` a small
point-spread function (the X-ray's blur and any sub-pixel misregistration) and ``c`` a constant.
Everything that the photograph cannot explain is the hidden design, the weave, or noise.

How it is fitted (robustly, in a high-pass band) is :mod:`.colourmap_solve`; this module holds the
model itself, its features and the :class:`ColourTable` that applies it fast to 8-bit photographs.

The hidden estimate is what is left, lightly smoothed: ``x̂2 = blur(x − x̂1 − weave, denoise_sigma)``,
and the paper's step 2 shares the remainder ``e = x − x̂1 − x̂2 − weave`` evenly (Eq. 9).
For a double-sided panel (the paper's Eq. 4) the same F maps both photographs: ``x = k ⊛ F(r1) +
k ⊛ F(r2) + c``, fitted jointly, and x̂2 = k ⊛ F(r2) + c/2.
"""

from __future__ import annotations

import copy
import math
import threading
from itertools import combinations_with_replacement

import torch
from torch import nn

from .filters import filter2d, gaussian_blur, gaussian_radius
from .shapes import check_shape
from .weave import extract_weave, weave_radius


def polynomial_exponents(channels: int, degree: int) -> list[tuple[int, ...]]:
    """Index tuples of the monomials of degree 1..``degree`` in ``channels`` variables."""
    return [combo for d in range(1, degree + 1) for combo in combinations_with_replacement(range(channels), d)]


def combine(features: torch.Tensor, beta: torch.Tensor) -> torch.Tensor:
    """Σ_j β_j φ_j: (N, F, H, W) features and (F,) weights → (N, 1, H, W)."""
    return torch.einsum("nfhw,f->nhw", features, beta.to(features.dtype)).unsqueeze(1)


class ColourMap(nn.Module):
    """A fitted colour map and everything needed to apply it (weave frequencies included).

    ``forward`` takes unit-range (N, C, H, W) photograph (RGB, then side channels) and (N, 1, H, W)
    X-ray — like the auto-encoder's — and returns x̂1, x̂2, x̂ (= x̂1 + x̂2 + weave) and the weave,
    each (N, 1, H, W). Buffers hold the parameters, so ``state_dict`` saves them all.
    """

    def __init__(
        self,
        rgb_channels: int = 3,
        clusters: int = 32,
        degree: int = 3,
        psf_radius: int = 2,
        max_peaks: int = 8,
        denoise_sigma: float = 0.7,
    ) -> None:
        super().__init__()
        self.rgb_channels, self.psf_radius, self.denoise_sigma = rgb_channels, psf_radius, denoise_sigma
        self.exponents = polynomial_exponents(3, degree)
        side = rgb_channels - 3
        self.feature_count = len(self.exponents) + clusters + 2 * side
        self.register_buffer("centres", torch.zeros(clusters, 3))
        self.register_buffer("width", torch.ones(()))
        self.register_buffer("beta", torch.zeros(self.feature_count))
        self.register_buffer("constant", torch.zeros(()))
        psf = torch.zeros(1, 1, 2 * psf_radius + 1, 2 * psf_radius + 1)
        psf[0, 0, psf_radius, psf_radius] = 1.0
        self.register_buffer("psf", psf)
        # Weave: up to max_peaks frequencies (fy, fx) in cycles per pixel; `peaks` of them in use.
        self.register_buffer("frequencies", torch.zeros(max_peaks, 2))
        self.register_buffer("peaks", torch.zeros((), dtype=torch.long))
        self.register_buffer("envelope", torch.tensor(12.0))
        # Not a buffer: a cache of F over a photograph's colours, attached only while applying.
        self.colour_table: ColourTable | None = None

    # ---------------------------------------------------------------------------------- features

    def features(self, rgb: torch.Tensor) -> torch.Tensor:
        """(N, F, H, W) colour features φ_j of unit-range (N, C, H, W) photograph(s)."""
        colour, side = rgb[:, :3], rgb[:, 3:]
        out = rgb.new_empty((rgb.shape[0], self.feature_count, *rgb.shape[-2:]))
        slot: dict[tuple[int, ...], int] = {}
        for index, combo in enumerate(self.exponents):  # a monomial is a lower one (listed before it) × a channel
            last = colour[:, combo[-1]]
            out[:, index] = last if len(combo) == 1 else out[:, slot[combo[:-1]]] * last
            slot[combo] = index
        start, centres = len(self.exponents), self.centres.to(rgb.dtype)
        # |r − c|² = |r|² − 2 r·c + |c|², as colour_part evaluates it (one matrix product, not (N, K, 3, H, W))
        distance = torch.einsum("nchw,kc->nkhw", colour, centres).mul_(-2)
        distance.add_((colour * colour).sum(dim=1, keepdim=True)).add_((centres * centres).sum(dim=1).view(1, -1, 1, 1))
        out[:, start : start + len(centres)] = distance.mul_(-0.5 / self.width.to(rgb.dtype) ** 2).exp_()
        if side.shape[1]:
            start += len(centres)
            out[:, start : start + side.shape[1]] = side
            out[:, start + side.shape[1] :] = side * side
        return out

    def convolve_psf(self, image: torch.Tensor) -> torch.Tensor:
        """Each channel of (N, C, H, W) filtered by the PSF (mirrored borders)."""
        return filter2d(image, self.psf[0, 0])

    def mapped(self, rgb: torch.Tensor) -> torch.Tensor:
        """F(rgb) = Σ_j β_j φ_j(rgb), (N, 1, H, W): the same as ``combine(self.features(rgb), self.beta)``
        without holding every feature map at once. With a :class:`ColourTable` attached
        (:func:`with_colour_table`) the colour part is looked up instead of evaluated."""
        colour = rgb[:, :3]
        looked_up = None if self.colour_table is None else self.colour_table.lookup(colour)
        total = self.colour_part(colour) if looked_up is None else looked_up
        beta, start = self.beta.to(rgb.dtype), len(self.exponents) + len(self.centres)
        sides = rgb.shape[1] - 3  # the maps, then their squares (as in features)
        for index in range(sides):
            side = rgb[:, 3 + index : 4 + index]
            total = total + beta[start + index] * side + beta[start + sides + index] * side * side
        return total

    def colour_part(self, colour: torch.Tensor) -> torch.Tensor:
        """Σ_j β_j φ_j over the colour features (cubic monomials and radial bases) of (N, 3, H, W)
        colours, (N, 1, H, W), summed feature by feature (a tile needs a few maps' memory, not ~55)."""
        beta = self.beta.to(colour.dtype)
        total = torch.zeros_like(colour[:, :1])
        for index, combo in enumerate(self.exponents):
            total += beta[index] * torch.prod(colour[:, list(combo)], dim=1, keepdim=True)
        start = len(self.exponents)
        squared = (colour * colour).sum(dim=1, keepdim=True)
        scale = -0.5 / self.width.to(colour.dtype) ** 2
        for k, centre in enumerate(self.centres.to(colour.dtype)):
            # |r − c|² = |r|² − 2 r·c + |c|²
            distance = squared - 2 * torch.einsum("nchw,c->nhw", colour, centre).unsqueeze(1) + (centre * centre).sum()
            total += beta[start + k] * torch.exp(scale * distance)
        return total

    def surface(self, rgb: torch.Tensor, features: torch.Tensor | None = None) -> torch.Tensor:
        """k ⊛ F(rgb) without the constant: (N, 1, H, W); from ``features`` if already computed."""
        return self.convolve_psf(self.mapped(rgb) if features is None else combine(features, self.beta))

    @property
    def weave_frequencies(self) -> torch.Tensor:
        return self.frequencies[: int(self.peaks)]

    @property
    def receptive_radius(self) -> int:
        """Context each output pixel needs on every side (PSF, weave band if any, smoothing)."""
        weave = weave_radius(float(self.envelope)) if int(self.peaks) else 0
        return self.psf_radius + weave + gaussian_radius(self.denoise_sigma)

    def forward(
        self, rgb_surface: torch.Tensor, x_mixed: torch.Tensor, rgb_back: torch.Tensor | None = None
    ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor]:
        """x̂1, x̂2, x̂ = x̂1 + x̂2 + weave, and the weave, each (N, 1, H, W), from ``rgb_surface`` (and
        ``rgb_back``) (N, C, H, W) with C = ``rgb_channels`` and ``x_mixed`` (N, 1, H, W)."""
        sizes = check_shape(x_mixed, "N 1 H W", "x_mixed", check_shape(rgb_surface, f"N {self.rgb_channels} H W", "rgb_surface"))
        if rgb_back is not None:
            check_shape(rgb_back, f"N {self.rgb_channels} H W", "rgb_back", sizes)
        x1_hat = self.surface(rgb_surface)
        if rgb_back is None:
            x1_hat = x1_hat + self.constant
            residual = x_mixed - x1_hat
            weave = extract_weave(residual, self.weave_frequencies, float(self.envelope))
            x2_hat = gaussian_blur(residual - weave, self.denoise_sigma)
        else:
            x1_hat = x1_hat + self.constant / 2
            x2_hat = self.surface(rgb_back) + self.constant / 2
            weave = extract_weave(x_mixed - x1_hat - x2_hat, self.weave_frequencies, float(self.envelope))
        return x1_hat, x2_hat, x1_hat + x2_hat + weave, weave

    def components(
        self, rgb_surface: torch.Tensor, x_mixed: torch.Tensor, rgb_back: torch.Tensor | None = None
    ) -> torch.Tensor:
        """(N, 4, H, W): x̂1, x̂2, x̂ and the weave (the separation's common output)."""
        return torch.cat(self(rgb_surface, x_mixed, rgb_back), dim=1)


# Levels a channel of a photograph looked up in a ColourTable can take: 8 bits, 2^24 colours, a 64 MiB table.
TABLE_LEVELS = 256


class ColourTable:
    """The colour part of a :class:`ColourMap` (:meth:`ColourMap.colour_part`) over the 2^24 colours
    of an 8-bit photograph, each evaluated once, when it first occurs, and looked up after that.

    A whole painting's tiles repeat a few hundred thousand colours over tens of millions of pixels;
    evaluating the map (~55 elementwise passes) once per distinct colour instead of once per pixel
    is most of what applying it costs. ``levels`` (TABLE_LEVELS,) are the unit-range values the 8-bit
    levels 0..255 read as (the model's photograph normalisation, as the tile reader computes them,
    float32); a pixel whose channels are not all among them (a filled missing pixel, a photograph of
    another bit depth) is evaluated directly. The looked-up values are those the direct evaluation
    gives for the same colour, so the results do not change beyond float rounding. Safe to share
    between threads (two threads may evaluate one colour; they write the same value).
    """

    def __init__(self, colour_map: ColourMap, levels: torch.Tensor) -> None:
        if levels.shape != (TABLE_LEVELS,) or not bool((levels[1:] > levels[:-1]).all()):
            raise ValueError(f"levels must be {TABLE_LEVELS} increasing values, got shape {tuple(levels.shape)}")
        self.colour_map, self.levels = colour_map, levels
        # level = (unit − first) / step, as one multiply and add
        self.gain, self.shift = 1 / float(levels[1] - levels[0]), -float(levels[0]) / float(levels[1] - levels[0])
        self.values: torch.Tensor | None = None  # (2^24,) F of each colour, NaN until evaluated
        self._allocating = threading.Lock()

    def __getstate__(self) -> dict:
        # Sent to another process (a dask worker) empty: it fills its own table.
        return {**self.__dict__, "values": None, "_allocating": None}

    def __setstate__(self, state: dict) -> None:
        self.__dict__.update(state, _allocating=threading.Lock())

    def codes(self, colour: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """(N, H, W) packed colour codes ``r·2^16 + g·2^8 + b`` of (N, 3, H, W) unit-range colours,
        and where every channel is exactly one of the levels (elsewhere the code means nothing)."""
        # int32 (codes < 2^24) and in-place steps: half the time of int64 on a tile
        index = colour.mul(self.gain).add_(self.shift).round_().clamp_(0, TABLE_LEVELS - 1).to(torch.int32)
        # index_select, not levels[index]: 2–3× faster on a tile (so is the table's gather in lookup)
        same = torch.index_select(self.levels.to(colour.device), 0, index.reshape(-1)).view(index.shape) == colour
        packed = index[:, 0].mul(TABLE_LEVELS).add_(index[:, 1]).mul_(TABLE_LEVELS).add_(index[:, 2])
        return packed, same[:, 0] & same[:, 1] & same[:, 2]

    def lookup(self, colour: torch.Tensor) -> torch.Tensor | None:
        """The colour part of the map at (N, 3, H, W) float32 colours, (N, 1, H, W); None for other
        dtypes (the table holds float32 values)."""
        if colour.dtype != torch.float32:
            return None
        with self._allocating:
            if self.values is None or self.values.device != colour.device:
                self.values = torch.full((TABLE_LEVELS**3,), math.nan, dtype=torch.float32, device=colour.device)
        values = self.values
        packed, exact = self.codes(colour)

        def gathered() -> torch.Tensor:
            return torch.index_select(values, 0, packed.reshape(-1)).view(packed.shape)

        found = gathered()
        todo = torch.isnan(found) & exact
        if bool(todo.any()):
            new = torch.unique(packed[todo])
            levels = self.levels.to(colour.device)
            rgb = torch.stack([levels[(new >> shift) & (TABLE_LEVELS - 1)] for shift in (16, 8, 0)])
            values[new] = self.colour_map.colour_part(rgb.view(1, 3, 1, -1)).view(-1)
            found = gathered()
        if not bool(exact.all()):
            off = ~exact  # (N, H, W)
            others = colour.permute(1, 0, 2, 3)[:, off]  # (3, K)
            found[off] = self.colour_map.colour_part(others.reshape(1, 3, 1, -1)).view(-1)
        return found.unsqueeze(1)


def with_colour_table(colour_map: ColourMap, levels: torch.Tensor) -> ColourMap:
    """A shallow copy of ``colour_map`` (the same parameters) that looks its colours up in a new
    :class:`ColourTable` over ``levels``; the given map is left as it is."""
    looking_up = copy.copy(colour_map)
    looking_up.colour_table = ColourTable(looking_up, levels)
    return looking_up
