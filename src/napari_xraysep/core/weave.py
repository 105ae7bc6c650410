"""The canvas weave: find its thread frequencies in an X-ray, and extract it as its own layer.

A canvas shows in a radiograph as a near-periodic pattern: warp and weft threads at periods of a few
pixels, their harmonics and crossings, their spacing and direction drifting slightly across the
painting. Neither the visible nor the hidden design owns it, and conservators count threads on it.

* :func:`find_thread_frequencies` looks for narrow peaks that stand far above the smooth background of
  the power spectrum (the painting's own spectrum falls off smoothly; a weave's is a few spikes).
* :func:`extract_weave` keeps, around each peak, a narrow band: the image is shifted to base band at
  that frequency, low-passed by a Gaussian of ``envelope`` pixels and shifted back (a Gabor filter).
  The envelope lets the pattern's amplitude, phase and spacing drift over a few threads, so an
  irregular weave is followed, not averaged away. It is a local filter, so a whole painting can be
  done tile by tile with a halo of :func:`weave_radius`. At the painting's edges the window is cut:
  the low-pass there averages only the pixels inside the image (a normalised convolution), after
  the image's slow variations are removed — a cut window would otherwise let the X-ray's level leak
  into the band, a bright frame around the weave and the hidden X-ray.

Reference: the canvas-weave analysis the paper cites as [2] (Yang et al., IEEE SPM 2015) uses the
same picture of a weave — a few locally varying frequencies — with synchrosqueezed transforms.
"""

from __future__ import annotations

import functools
import math
from dataclasses import dataclass

import numpy as np
import torch
import torch.nn.functional as F
from scipy import ndimage

from .filters import fft_length, gaussian_kernel, gaussian_radius, highpass

# Thread periods searched, in pixels: canvases X-rayed at typical resolutions show 2.5–30 px.
MIN_PERIOD, MAX_PERIOD = 2.5, 30.0
# Peak contrast (power over the spectrum's local background): a lone peak must pass STRONG; a warp
# and a weft (two peaks at least 45° apart) need only pass WEAK each. On the benchmark's images, a
# painting without a weave (a panel's wood grain included) stays below ~5; weaves give 6–300.
STRONG_PEAK, WEAK_PEAK = 12.0, 4.5
MAX_PEAKS = 8
# Two peaks closer than this (cycles per pixel) are one.
MIN_SEPARATION = 0.02
# Spectra are the median of periodograms of half-overlapping square blocks (the weave is in every
# block, a painting's detail at the same frequency only in some): blocks of the largest of these sides
# that gives at least MIN_BLOCKS of them (a median of fewer is no safer than one periodogram), at
# most SPECTRUM_BLOCKS blocks.
BLOCK_SIDES = (128, 64, 32)
MIN_BLOCKS = 6
SPECTRUM_BLOCKS = 64
# The least power a spectrum's bin is taken to have, so that its logarithm is finite.
TINY_POWER = 1e-30


@dataclass(frozen=True)
class ThreadPeak:
    """One spectral peak of the weave: frequency (cycles per pixel, along y and x) and strength."""

    fy: float
    fx: float
    ratio: float  # power over the local background of the spectrum

    @property
    def period_px(self) -> float:
        return 1.0 / math.hypot(self.fy, self.fx)

    @property
    def angle_deg(self) -> float:
        """Direction of the wave vector, degrees from the x axis (threads run perpendicular to it)."""
        return math.degrees(math.atan2(self.fy, self.fx))


def _corners(shape: tuple[int, ...], size: int) -> list[tuple[int, int]]:
    """Top-left corners of half-overlapping ``size`` blocks inside ``shape``."""
    step = size // 2
    return [(r, c) for r in range(0, shape[0] - size + 1, step) for c in range(0, shape[1] - size + 1, step)]


def block_side(shape: tuple[int, ...]) -> int | None:
    """The largest side in BLOCK_SIDES giving at least MIN_BLOCKS blocks in ``shape``, or None."""
    return next((size for size in BLOCK_SIDES if len(_corners(shape, size)) >= MIN_BLOCKS), None)


def _blocks(image: np.ndarray) -> list[np.ndarray]:
    """Half-overlapping square blocks of :func:`block_side` (at most SPECTRUM_BLOCKS, evenly chosen)."""
    size = block_side(image.shape)
    if size is None:
        raise ValueError(f"an image of {image.shape[0]}×{image.shape[1]} px is too small for a weave spectrum")
    corners = _corners(image.shape, size)
    chosen = np.linspace(0, len(corners) - 1, min(len(corners), SPECTRUM_BLOCKS)).round().astype(int)
    return [image[r : r + size, c : c + size] for r, c in (corners[i] for i in chosen)]


def power_spectrum(image: np.ndarray, valid: np.ndarray | None = None) -> np.ndarray:
    """Median periodogram (Hann-windowed, centred: zero frequency in the middle) of square blocks.

    ``image`` (H, W); ``valid`` (H, W) bool marks pixels to trust (the others are set to the mean of
    the valid ones first). Raises ValueError for an image too small (see :func:`block_side`).
    """
    image = np.asarray(image, dtype=np.float64)
    if valid is not None:
        image = np.where(valid, image, image[valid].mean() if valid.any() else 0.0)
    blocks = _blocks(image)
    side = blocks[0].shape[0]
    window = np.outer(np.hanning(side), np.hanning(side))
    periodograms = np.stack([np.abs(np.fft.fft2((block - block.mean()) * window)) ** 2 for block in blocks])
    return np.fft.fftshift(np.median(periodograms, axis=0))


def find_thread_frequencies(image: np.ndarray, valid: np.ndarray | None = None, max_peaks: int = MAX_PEAKS) -> list[ThreadPeak]:
    """The weave's spectral peaks in ``image`` (H, W), strongest first; empty if it shows none.

    Give a residual (the X-ray minus what the paintings explain) rather than the X-ray itself where
    one is at hand: the paintings' own detail then competes less with the threads. Only one of
    each ± pair is returned (``fx > 0``, or ``fx == 0`` and ``fy > 0``). Images too small for
    MIN_BLOCKS blocks of 32 px give no peaks (too few threads to tell a weave). Periods longer than
    a quarter of the blocks are not looked for (too few periods in a block to make a peak).
    """
    if block_side(image.shape) is None:
        return []
    spectrum = power_spectrum(image, valid)
    side = spectrum.shape[0]
    smoothed = ndimage.uniform_filter(spectrum, size=3, mode="wrap")
    # The moving sum of uniform_filter leaves rounding error of a strong peak's size in its
    # neighbours: bins that are (nearly) zero can come out slightly negative. Clip before the log.
    background = np.exp(ndimage.median_filter(np.log(np.maximum(smoothed, TINY_POWER)), size=9, mode="wrap"))
    contrast = smoothed / background
    frequencies = (np.arange(side) - side // 2) / side
    fy, fx = np.meshgrid(frequencies, frequencies, indexing="ij")
    radius = np.hypot(fy, fx)
    in_band = (radius >= 1 / min(MAX_PERIOD, side / 4)) & (radius <= 1 / MIN_PERIOD)
    half_plane = (fx > 0) | ((fx == 0) & (fy > 0))
    local_max = contrast == ndimage.maximum_filter(contrast, size=5, mode="wrap")
    candidates = np.flatnonzero(in_band & half_plane & local_max & (contrast > WEAK_PEAK))
    candidates = candidates[np.argsort(contrast.ravel()[candidates])[::-1]]
    log_power = np.log(spectrum + TINY_POWER)
    found: list[ThreadPeak] = []
    for index in candidates:
        row, col = _raw_maximum(log_power, *divmod(int(index), side))
        refined_y = row + _parabolic_offset(log_power, row, col, axis=0)
        refined_x = col + _parabolic_offset(log_power, row, col, axis=1)
        peak = ThreadPeak((refined_y - side // 2) / side, (refined_x - side // 2) / side, float(contrast[row, col]))
        if all(math.hypot(peak.fy - p.fy, peak.fx - p.fx) >= MIN_SEPARATION for p in found):
            found.append(peak)
    strong = [p for p in found if p.ratio > STRONG_PEAK]
    crossing = next(((a, b) for i, a in enumerate(found) for b in found[i + 1 :] if _angle_between(a, b) >= 45.0), None)
    chosen = strong + [p for p in (crossing or ()) if p not in strong]
    return sorted(chosen, key=lambda p: -p.ratio)[:max_peaks]


def weave_seen(frequencies: np.ndarray, residual: np.ndarray) -> bool | None:
    """Whether any of a model's weave ``frequencies`` ((k, 2): (fy, fx) in cycles per pixel) is among
    the thread peaks of ``residual`` ((H, W), NaN where unknown: an X-ray less what its photograph
    explains) (:func:`find_thread_frequencies`), within MIN_SEPARATION, of either sign; None where
    nothing can be told (no frequency, or too few known pixels for a spectrum)."""
    frequencies = np.asarray(frequencies, dtype=np.float64).reshape(-1, 2)
    known = np.isfinite(residual)
    if not frequencies.size or not known.any():
        return None
    # Over the known pixels' box: a painting on a backdrop is half its frame, and blocks of missing
    # pixels alone would flatten the median spectrum (no peak: a weave "not seen").
    rows, cols = np.flatnonzero(known.any(axis=1)), np.flatnonzero(known.any(axis=0))
    box = (slice(rows[0], rows[-1] + 1), slice(cols[0], cols[-1] + 1))
    residual, known = residual[box], known[box]
    if block_side(residual.shape) is None or known.mean() < 0.5:
        return None
    peaks = find_thread_frequencies(np.where(known, residual, 0.0), known)
    return any(
        min(math.hypot(fy - peak.fy, fx - peak.fx), math.hypot(fy + peak.fy, fx + peak.fx)) < MIN_SEPARATION
        for fy, fx in frequencies for peak in peaks
    )


def combination_peaks(frequencies: np.ndarray) -> list[bool]:
    """For each of the weave's ``frequencies`` ((k, 2): (fy, fx) in cycles per pixel, strongest first
    as :func:`find_thread_frequencies` gives them; a peak and its opposite are the same): whether it is,
    within MIN_SEPARATION, the sum or difference of two stronger peaks — where threads cross (a plain
    weave's interlacing), or a harmonic (twice one, a thread's sharp profile) — not a family of threads
    of its own."""
    frequencies = np.asarray(frequencies, dtype=np.float64).reshape(-1, 2)
    found = []
    for k, frequency in enumerate(frequencies):
        stronger = frequencies[:k]
        found.append(bool(any(
            np.hypot(*(frequency - sign * (a + other * b))) < MIN_SEPARATION
            for i, a in enumerate(stronger) for b in stronger[i:] for sign in (1.0, -1.0) for other in (1.0, -1.0)
        )))
    return found


def _angle_between(a: ThreadPeak, b: ThreadPeak) -> float:
    """Angle between two wave directions, 0–90° (a direction and its opposite are the same)."""
    difference = abs(a.angle_deg - b.angle_deg) % 180.0
    return min(difference, 180.0 - difference)


def _raw_maximum(values: np.ndarray, row: int, col: int) -> tuple[int, int]:
    """The largest of ``values`` in the 3×3 bins around (row, col): where a peak found on the smoothed
    spectrum sits in the raw one."""
    side = values.shape[0]
    around = [((row + dy) % side, (col + dx) % side) for dy in (-1, 0, 1) for dx in (-1, 0, 1)]
    return max(around, key=lambda rc: values[rc])


def _parabolic_offset(values: np.ndarray, row: int, col: int, axis: int) -> float:
    """Sub-bin position of a peak from a parabola through it and its two neighbours along ``axis``."""
    side = values.shape[axis]
    index = row if axis == 0 else col

    def at(i: int) -> float:
        i %= side
        return float(values[i, col] if axis == 0 else values[row, i])

    left, centre, right = at(index - 1), at(index), at(index + 1)
    curvature = left - 2 * centre + right
    return 0.0 if curvature >= 0 else float(np.clip(0.5 * (left - right) / curvature, -0.5, 0.5))


def default_envelope(peaks: list[ThreadPeak]) -> float:
    """Gaussian envelope (px) of the extraction: two of the longest thread periods found, so the
    band is about ±8 % of each frequency wide — room for a weave's drift, little for the paintings."""
    return 2.0 * max((p.period_px for p in peaks), default=6.0)


def level_sigma(envelope: float) -> float:
    """σ (px) of the blur whose removal takes the image's level and slow variations out before the band
    is read: half the longest thread period (``envelope`` is two of them, :func:`default_envelope`),
    which keeps more than 99 % of the weave's own frequencies."""
    return envelope / 4


def weave_radius(envelope: float) -> int:
    """Pixels of context :func:`extract_weave` needs on every side."""
    return gaussian_radius(envelope) + gaussian_radius(level_sigma(envelope))


def extract_weave(image: torch.Tensor, frequencies: torch.Tensor, envelope: float) -> torch.Tensor:
    """The weave in ``image`` (N, 1, H, W): the sum over ``frequencies`` (M, 2) of (fy, fx) in cycles
    per pixel of the image's narrow band around each, as described in the module docstring.

    A pure sinusoid at one of the frequencies comes out unchanged, up to the edges too; the image's
    mean and anything far from the frequencies is removed. With no frequencies the result is zero.

    Demodulating by e^{−iωp}, low-passing by a Gaussian G and modulating back by e^{iωp} is one
    filter, ``G(d)·e^{iωd}`` over offsets d; the real parts of all the frequencies' filters add up to
    one real kernel, ``2 G(d) Σ_ω cos(ω·d)``, applied once (by FFT) to the image with zeros outside
    it, then divided by how much of the window lies inside the image (:func:`_window_inside`).
    """
    if frequencies.numel() == 0:
        return torch.zeros_like(image)
    _, _, height, width = image.shape
    image = highpass(image, level_sigma(envelope))
    radius = gaussian_radius(envelope)
    # Zeros outside the image, up to lengths whose FFTs are fast: nothing inside wraps around.
    shape = (fft_length(height + 2 * radius), fft_length(width + 2 * radius))
    padded = F.pad(image, (radius, shape[1] - width - radius, radius, shape[0] - height - radius))
    kernel = _band_spectrum(shape, tuple(map(tuple, frequencies.tolist())), envelope, image.dtype, str(image.device))
    band = torch.fft.irfft2(torch.fft.rfft2(padded) * kernel, s=shape)
    return band[..., radius : radius + height, radius : radius + width] / _window_inside(height, width, envelope, image)


@functools.lru_cache(maxsize=32)  # a painting's tiles come in up to 9 shapes (edges, corners), the checks' blocks in a few more
def _band_spectrum(
    shape: tuple[int, int], frequencies: tuple[tuple[float, float], ...], envelope: float, dtype: torch.dtype, device: str
) -> torch.Tensor:
    """The rfft2 of the kernel ``2 G(d) Σ_ω cos(2π ω·d)`` (G the envelope's Gaussian, taps as
    :func:`~.filters.gaussian_kernel`), laid out circularly in ``shape``: multiplying a padded image's
    spectrum by it filters the image. Cached: every tile of a painting has one of a few shapes."""
    exact = torch.float32 if device.startswith("mps") else torch.float64  # phases in double where there is one
    taps = gaussian_kernel(envelope, exact, torch.device(device))
    radius = (taps.numel() - 1) // 2
    offsets = torch.arange(-radius, radius + 1, dtype=exact, device=device)
    cosines = sum(torch.cos(2 * math.pi * (fy * offsets.view(-1, 1) + fx * offsets.view(1, -1))) for fy, fx in frequencies)
    kernel = torch.zeros(shape, dtype=exact, device=device)
    kernel[: 2 * radius + 1, : 2 * radius + 1] = 2 * taps.view(-1, 1) * taps.view(1, -1) * cosines
    kernel = torch.roll(kernel, shifts=(-radius, -radius), dims=(0, 1))  # offset 0 at index 0
    return torch.fft.rfft2(kernel.to(dtype))


def _window_inside(height: int, width: int, envelope: float, like: torch.Tensor) -> torch.Tensor:
    """(1, 1, H, W): how much of the envelope's Gaussian window around each pixel lies inside an
    H×W image: 1 away from the edges, ½ on them. The window is separable, so this is the outer
    product of two 1-D sums."""
    taps = gaussian_kernel(envelope, torch.float64, torch.device("cpu"))
    radius = (taps.numel() - 1) // 2

    def along(length: int) -> torch.Tensor:
        ones = F.pad(torch.ones(1, 1, length, dtype=torch.float64), (radius, radius))
        return F.conv1d(ones, taps.view(1, 1, -1))[0, 0]

    return (along(height).view(-1, 1) * along(width).view(1, -1)).to(like.dtype).to(like.device)[None, None]
