"""Fitting the colour map (:class:`~.colourmap.ColourMap`) to an image: the weighted least-squares
solves, their robust and regional weights, the PSF's fit, and the loop that runs them.

The fit is what makes it work (measured in docs/benchmarks.md):

* **In a high-pass band.** Broad shapes of the hidden design overlap the surface's colours by
  chance; fitted on the whole band they bend F. The features and the X-ray are both high-passed
  (a Gaussian of ``highpass_sigma`` removed), and only there is β fitted.
* **Robustly.** Where the hidden design has edges, the residual is large and not noise. Tukey's
  biweight (iteratively reweighted least squares) gives such pixels no weight (``robust``).
* **Regionally down-weighted.** Between passes, pixels whose neighbourhood (``reweight_sigma``)
  holds much residual energy — where the hidden design is — get weight 1 / (1 + k·E / median E).
  The user's region, where the hidden design shows most, starts with ``region_weight``.
* **Without the weave.** After the first pass the canvas weave is found in the residual and, from
  then on, removed from the X-ray before the fit (:mod:`.weave`).
* **With the PSF fitted too** (alternating least squares in the first pass).

The model and its features are in :mod:`.colourmap`; :mod:`.colourmap_fit` drives this loop through
the separation's guarded step loop (blocks spread over a large image).
"""

from __future__ import annotations

import math
from collections.abc import Generator
from dataclasses import dataclass

import numpy as np
import torch
from scipy.cluster.vq import kmeans2

from .colourmap import ColourMap, combine
from .config import ColourMapSettings
from .filters import gaussian_blur, highpass, mirror_pad
from .weave import default_envelope, extract_weave, find_thread_frequencies

# Tukey's biweight tuning constant: 95 % efficiency for Gaussian residuals.
TUKEY_C = 4.685


# Pixels used to place the colour clusters and to estimate robust scales (a random sample).
SAMPLE_PIXELS = 50_000


# Pixels per chunk when accumulating normal equations: bounds the temporary memory, and a chunk's
# weighted copy (~50 columns × 4096 float32, under 1 MB) is still in cache for its product (a
# 500 000-pixel Gram in 0.038 s against 0.051 s with chunks of 65 536, 2 cores).
CHUNK_PIXELS = 1 << 12


# The smallest robust scale of the residual, in the X-ray's unit range (0.1 % of its signal range).
# Below it the residual is rounding, not paint: an exact fit (flat plateaus, a colour → X-ray relation
# the map holds exactly) would otherwise give Tukey's weights a scale of ~1e-7 or 0, keep an arbitrary
# few pixels, find a "weave" in the rounding and fit the PSF to nothing. Real radiographs' residual
# scales are ≥ 0.01 (noise, weave, the hidden design), far above it.
ROBUST_SCALE_FLOOR = 1e-3


# Ridge of each weighted least-squares solve: keeps clusters the photograph barely uses from blowing up.
RIDGE = 1e-4


# The reweighted passes' ridge pulls β towards the first pass's solution, this many times harder
# than the first pass's pulls it towards 0 (see weighted_least_squares).
RIDGE_LATER = 3.0


# Lower percentile of the hidden estimate that is taken as "no hidden paint" (sets the constant).
HIDDEN_FLOOR_PERCENTILE = 1.0


@dataclass(frozen=True)
class FitProgress:
    """One weighted least-squares solve done (``step`` of ``total``)."""

    step: int
    total: int
    losses: dict[str, float]


def sample_index(valid: torch.Tensor, seed: int) -> torch.Tensor:
    """Flat indices of up to SAMPLE_PIXELS valid pixels, drawn once per fit (repeatable by seed)."""
    index = torch.nonzero(valid.reshape(-1)).squeeze(1)
    if index.numel() > SAMPLE_PIXELS:
        pick = torch.randperm(index.numel(), generator=torch.Generator().manual_seed(seed))[:SAMPLE_PIXELS]
        index = index[pick.to(index.device)]
    return index


def place_clusters(model: ColourMap, photos: torch.Tensor, index: torch.Tensor, seed: int) -> None:
    """k-means colour clusters (scipy) of the photographs' pixels at ``index`` (flat, as from
    :func:`sample_index` over (N, 1, H, W)), and a radial-basis width from the clusters' spacing."""
    clusters = model.centres.shape[0]
    if clusters == 0:
        return
    colours = photos[:, :3].transpose(0, 1).reshape(3, -1)[:, index].T.double().cpu().numpy()
    # Jitter separates identical colours (flat test images), so k-means never has empty clusters.
    rng = np.random.default_rng(seed)
    colours = colours + 1e-6 * rng.standard_normal(colours.shape)
    centres, _ = kmeans2(colours, min(clusters, len(colours)), minit="++", seed=rng)
    if len(centres) < clusters:
        centres = np.concatenate([centres, centres[rng.integers(0, len(centres), clusters - len(centres))]])
    gaps = np.sqrt(((centres[:, None] - centres[None]) ** 2).sum(-1)) + np.eye(len(centres)) * 1e9
    model.centres.copy_(torch.from_numpy(centres))
    model.width.fill_(max(float(np.median(gaps.min(axis=1))), 0.02))


def _gram(design: torch.Tensor, target: torch.Tensor, weight: torch.Tensor, dtype: torch.dtype) -> tuple[torch.Tensor, torch.Tensor]:
    """AᵀWA and AᵀWb over pixels; ``design`` (F, P), ``target`` and ``weight`` (P,). Each chunk is
    multiplied in the inputs' precision and summed in ``dtype`` (float64 where the device has it)."""
    count = design.shape[0]
    gram = torch.zeros(count, count, dtype=dtype, device=design.device)
    right = torch.zeros(count, dtype=dtype, device=design.device)
    for start in range(0, design.shape[1], CHUNK_PIXELS):
        a = design[:, start : start + CHUNK_PIXELS]
        aw = a * weight[start : start + CHUNK_PIXELS]
        gram += (aw @ a.T).to(dtype)
        right += (aw @ target[start : start + CHUNK_PIXELS]).to(dtype)
    return gram, right


def column_energy(design: torch.Tensor, dtype: torch.dtype) -> torch.Tensor:
    """The unweighted Σ a² of each column of ``design`` (F, P) over pixels, chunk by chunk as
    :func:`_gram` sums, in ``dtype``: what :func:`weighted_least_squares` scales the columns by."""
    energy = torch.zeros(design.shape[0], dtype=dtype, device=design.device)
    for start in range(0, design.shape[1], CHUNK_PIXELS):
        a = design[:, start : start + CHUNK_PIXELS]
        energy += (a * a).sum(dim=1).to(dtype)
    return energy


def weighted_least_squares(
    design: torch.Tensor,
    target: torch.Tensor,
    weight: torch.Tensor,
    ridge: float,
    dtype: torch.dtype,
    prior: torch.Tensor | None = None,
    energy: torch.Tensor | None = None,
) -> torch.Tensor:
    """argmin_β Σ w (b − Aβ)² + ridge·(Σ w)·Σ_j c_j² (β_j − β0_j)², ``design`` (F, P), ``target``,
    ``weight`` (P,); β0 = ``prior`` (F,), or 0.

    ``c_j`` is column j's RMS over all pixels, weighted or not: a column that lives mostly where the
    weights are low is held at β0 instead of fitted to the few pixels left. In the first pass β0 = 0
    (a colour seen only where the hidden design is would be bent by it). In the reweighted passes β0
    is the first pass's β: where they lower the weight of a large passage whose X-ray the colours
    under-predict (a copper pigment), its colours keep what the whole painting said of them instead
    of falling to 0 and handing the passage to x2 (+2.3 dB on copper_headdress, 3 seeds).
    ``energy``: :func:`column_energy` of ``design`` if already known (a fit solves on one design
    with new weights many times).
    """
    gram, right = _gram(design, target, weight, dtype)
    energy = column_energy(design, dtype) if energy is None else energy
    scale = torch.sqrt(torch.clamp(energy / design.shape[1], min=1e-30))
    normalised = gram / scale[:, None] / scale[None, :]
    total_weight = torch.clamp(weight.sum().to(dtype), min=1e-30)
    penalty = ridge * total_weight
    normalised = normalised + penalty * torch.eye(len(scale), dtype=dtype, device=gram.device)
    right = right / scale
    if prior is not None:
        right = right + penalty * prior.to(dtype) * scale
    solution = torch.linalg.solve(normalised, right)
    return (solution / scale).to(design.dtype)


def tukey_weights(residual: torch.Tensor, scale: float) -> torch.Tensor:
    """Tukey's biweight (1 − (r / c s)²)² inside ±c·s, 0 outside; ``scale`` is taken as at least
    ROBUST_SCALE_FLOOR (a zero or tiny scale would reject every pixel that is not exactly fitted)."""
    u = residual / (TUKEY_C * max(scale, ROBUST_SCALE_FLOOR))
    return torch.clamp(1 - u * u, min=0) ** 2


def robust_scale(residual: torch.Tensor, index: torch.Tensor) -> float:
    """1.4826 × median |r| over the sampled pixels (σ for Gaussian residuals), at least
    ROBUST_SCALE_FLOOR; 1 when no pixel is sampled."""
    if not index.numel():
        return 1.0
    return max(float(1.4826 * torch.median(residual.reshape(-1)[index].abs())), ROBUST_SCALE_FLOOR)


def regional_weights(residual: torch.Tensor, valid: torch.Tensor, index: torch.Tensor, sigma: float, strength: float) -> torch.Tensor:
    """1 / (1 + k·E / median E), E the residual energy smoothed over ``sigma``: 1 / (1 + k) for the
    typical pixel, far less where the residual has structure over a neighbourhood (the hidden design).
    The median is taken as at least ROBUST_SCALE_FLOOR²: on an exact fit the energy is rounding, and
    the weights stay ≈ 1 instead of following it."""
    energy = gaussian_blur(residual * residual * valid, sigma)
    typical = torch.median(energy.reshape(-1)[index]).clamp(min=ROBUST_SCALE_FLOOR**2)
    return 1.0 / (1.0 + strength * energy / typical)


def fit_colour_map(
    model: ColourMap,
    rgb_surface: torch.Tensor,
    x_mixed: torch.Tensor,
    settings: ColourMapSettings,
    steps: int,
    seed: int = 0,
    *,
    rgb_back: torch.Tensor | None = None,
    region: torch.Tensor | None = None,
    valid: torch.Tensor | None = None,
) -> Generator[FitProgress, None, ColourMap]:
    """Fit ``model`` (its clusters, β, PSF, weave and constant) to unit-range inputs, yielding after
    each of ``steps`` weighted solves as ``settings`` say (``seed`` draws the pixels that place the
    clusters). Stopped early (the caller stops iterating), the
    model holds the last solve; :func:`set_constant` then makes it usable. Shapes: photographs
    (N, C, H, W), X-ray (N, 1, H, W) with finite values; ``region`` and ``valid`` (N, 1, H, W) bool
    (``valid`` False for missing pixels, which get no weight).
    """
    work = torch.float32 if x_mixed.device.type == "mps" else torch.float64  # MPS has no float64
    valid = torch.ones_like(x_mixed, dtype=torch.bool) if valid is None else valid
    index = sample_index(valid, seed)
    photos = [rgb_surface] + ([] if rgb_back is None else [rgb_back])
    place_clusters(model, torch.cat(photos), torch.cat([index + i * valid.numel() for i in range(len(photos))]), seed)
    model.peaks.zero_()
    raw = [model.features(photo) for photo in photos]  # φ_j of each photograph, kept for the weave
    # Missing pixels (outside the painting, defects) take no part in the band (normalised convolution).
    band_weight = None if bool(valid.all()) else valid
    features = sum(highpass(phi, settings.highpass_sigma, band_weight) for phi in raw)
    design = model.convolve_psf(features)
    energy = column_energy(flatten(design), work)
    prior = valid.to(x_mixed.dtype)
    if region is not None:
        prior = prior * torch.where(region, settings.region_weight, 1.0).to(x_mixed.dtype)

    def target() -> torch.Tensor:
        """The X-ray in the fitting band, without the weave once one is known."""
        if not int(model.peaks):
            return highpass(x_mixed, settings.highpass_sigma, band_weight)
        explained = sum(model.surface(photo, phi) for photo, phi in zip(photos, raw))
        weave = extract_weave(x_mixed - explained, model.weave_frequencies, float(model.envelope))
        return highpass(x_mixed - weave, settings.highpass_sigma, band_weight)

    passes = max(1, min(settings.passes, steps))
    starts = {p * steps // passes for p in range(1, passes)}  # steps at which a new pass begins
    first_pass_end = min(starts, default=steps)
    b = target()
    weights, tukey, residual = prior, torch.ones_like(b), b
    first_beta: torch.Tensor | None = None  # β at the end of the first pass: what later passes are held to
    scale = math.inf  # the robust scale of the last solve
    for step in range(steps):
        if step in starts:
            # A first pass that fits to the floor left no weave to find, only rounding.
            if settings.weave and step == first_pass_end and scale > ROBUST_SCALE_FLOOR:
                find_weave(model, residual * prior, valid)
                if int(model.peaks):
                    b = target()
                    residual = b - combine(design, model.beta)
            weights = prior * regional_weights(residual, valid, index, settings.reweight_sigma, settings.reweight_strength)
        elif int(model.peaks):
            b = target()  # β moved, and with it the surface the weave is read beside
        if 0 < step <= 2 and step < first_pass_end and model.psf_radius > 0:
            fit_psf(model, features, b, weights * tukey, work)
            design = model.convolve_psf(features)
            energy = column_energy(flatten(design), work)
        if step == first_pass_end and first_beta is None:
            first_beta = model.beta.clone()
        later = first_beta is not None
        used = weights * tukey
        model.beta.copy_(weighted_least_squares(
            flatten(design), b.reshape(-1), used.reshape(-1), RIDGE * (RIDGE_LATER if later else 1.0), work,
            prior=first_beta if later else None, energy=energy,
        ))
        residual = b - combine(design, model.beta)
        scale = robust_scale(residual, index)
        tukey = tukey_weights(residual, scale) if settings.robust else torch.ones_like(residual)
        used = weights * tukey
        loss = float(torch.sqrt((used * residual**2).sum() / used.sum().clamp(min=1e-30)))
        yield FitProgress(step + 1, steps, {"total": loss, "residual_scale": scale})
    set_constant(model, rgb_surface, x_mixed, index, rgb_back)
    return model


def flatten(image: torch.Tensor) -> torch.Tensor:
    """(N, C, H, W) → (C, N·H·W): one row per channel, pixels in order."""
    return image.transpose(0, 1).reshape(image.shape[1], -1)


def find_weave(model: ColourMap, residual: torch.Tensor, valid: torch.Tensor) -> None:
    """Store the weave's thread frequencies found in the first image of ``residual`` in ``model``."""
    peaks = find_thread_frequencies(residual[0, 0].cpu().double().numpy(), valid[0, 0].cpu().numpy(), model.frequencies.shape[0])
    model.frequencies.zero_()
    model.peaks.fill_(len(peaks))
    if peaks:
        model.frequencies[: len(peaks)] = torch.tensor([[p.fy, p.fx] for p in peaks], dtype=model.frequencies.dtype)
        model.envelope.fill_(default_envelope(peaks))


def fit_psf(model: ColourMap, features: torch.Tensor, target: torch.Tensor, weight: torch.Tensor, dtype: torch.dtype) -> None:
    """Least-squares PSF for the current β: columns are shifted copies of the mapped (band-passed)
    features; the kernel is scaled to sum 1 and β takes the scale. The ridge shrinks the kernel
    towards no blur (a centred unit tap), not towards zero: where the edges leave taps undetermined
    (a photograph with edges in one or two directions only) they stay a sharp kernel, not a smear."""
    radius = model.psf_radius
    size = 2 * radius + 1
    padded = mirror_pad(combine(features, model.beta), radius, radius)
    height, width = features.shape[-2:]
    # filter2d's tap (i, j) multiplies the pixel at offset (i − r, j − r).
    columns = torch.stack([padded[:, 0, i : i + height, j : j + width] for i in range(size) for j in range(size)])
    columns = columns.reshape(size * size, -1)
    centre = (size * size) // 2
    change = weighted_least_squares(columns, target.reshape(-1) - columns[centre], weight.reshape(-1), 1e-6, dtype)
    kernel = change + torch.nn.functional.one_hot(torch.tensor(centre), size * size).to(change)
    total = float(kernel.sum())
    if not math.isfinite(total) or abs(total) < 1e-6:
        return  # nothing to fit a PSF to (a flat image): keep the kernel
    model.psf.copy_((kernel / total).view(1, 1, size, size).to(model.psf.dtype))
    model.beta.mul_(total)


def set_constant(
    model: ColourMap, rgb_surface: torch.Tensor, x_mixed: torch.Tensor, index: torch.Tensor, rgb_back: torch.Tensor | None
) -> None:
    """The level of x̂1, which the data cannot tell: the hidden X-ray's faintest pixels (its
    HIDDEN_FLOOR_PERCENTILE among the sampled ``index``) are taken to hold no hidden paint. For a
    double-sided panel, the least-squares constant, shared by both sides."""
    model.constant.zero_()
    with torch.no_grad():
        x1_hat, x2_hat, _, weave = model(rgb_surface, x_mixed, rgb_back)
    if rgb_back is None:
        level = torch.quantile(x2_hat.reshape(-1)[index].float(), HIDDEN_FLOOR_PERCENTILE / 100)
    else:
        level = (x_mixed - x1_hat - x2_hat - weave).reshape(-1)[index].mean()
    model.constant.fill_(float(level))
