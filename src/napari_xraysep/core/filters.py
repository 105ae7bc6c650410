"""Small, pure tensor filters the separation runs on its device: Gaussian blur and high-pass.

Every function takes and returns (N, C, H, W) tensors on the input's device and dtype. Borders are
mirrored (``d c b | a b c d``), so a block read with a halo of at least :func:`gaussian_radius`
gives, away from its edges, exactly what the whole image gives there.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F

from .shapes import check_shape

# Kernels reach this many standard deviations (as scipy.ndimage.gaussian_filter's default).
TRUNCATE = 4.0
# Past this radius a blur is done by FFT: its cost no longer grows with σ (the weave's envelope and
# the high-pass band have radii of 30–60 px, where depthwise convolution is slow on CPUs).
FFT_RADIUS = 12
# An FFT blur transforms at most about this many padded values at once, a few channels at a time: the
# colour map's fit band-passes ~55 feature maps of ~1 MP, whose padded copies, spectra and products took
# 1.2 GB at once (the fit was a 9-megapixel separation's peak). The same values, channel by channel.
FFT_VALUES = 1 << 24
# Images of up to this many values (all channels) are filtered as sums of shifted copies, not by
# conv2d: depthwise conv2d on CPUs costs ~20 ns a value and tap row whatever the size, shifted adds of
# an image that stays in cache ~10× less (σ 3 px on 1100×1100: 185 ms against 9 ms; the 5×5 PSF on a
# 620×620 tile: 9.4 against 1.0 ms; equal values). Past it (the fit's ~50 feature maps) memory
# bandwidth bounds the shifted adds and conv2d is faster again.
SHIFT_VALUES = 1 << 23


def fft_length(length: int) -> int:
    """The smallest length ≥ ``length`` (at least 1) whose only prime factors are 2, 3, 5 and 7: FFTs
    of such lengths are fast (a 620-px tile, 620 = 4·5·31, takes 1.8× as long as 625; the fit's 564 =
    4·3·47 3× as long as 576). A circular convolution zero-padded to it leaves the part that does not
    wrap around unchanged."""
    candidate = max(length, 1)
    while True:
        rest = candidate
        for prime in (2, 3, 5, 7):
            while rest % prime == 0:
                rest //= prime
        if rest == 1:
            return candidate
        candidate += 1


def gaussian_radius(sigma: float) -> int:
    """Half-width in pixels of the Gaussian kernel used for ``sigma``."""
    return math.ceil(TRUNCATE * sigma) if sigma > 0 else 0


def gaussian_kernel(sigma: float, dtype: torch.dtype, device: torch.device) -> torch.Tensor:
    """1-D normalised Gaussian taps, (2r + 1,) with r = :func:`gaussian_radius`."""
    radius = gaussian_radius(sigma)
    offsets = torch.arange(-radius, radius + 1, dtype=dtype, device=device)
    taps = torch.exp(-0.5 * (offsets / sigma) ** 2)
    return taps / taps.sum()


def mirror_pad(image: torch.Tensor, pad_y: int, pad_x: int) -> torch.Tensor:
    """Mirror ``pad_y`` rows and ``pad_x`` columns at each side; images smaller than the padding are
    mirrored repeatedly (so tiny blocks still work)."""
    while pad_y > 0 or pad_x > 0:
        step_y = min(pad_y, image.shape[-2] - 1)
        step_x = min(pad_x, image.shape[-1] - 1)
        if step_y <= 0 and step_x <= 0:  # a single row and column: nothing to mirror
            return F.pad(image, (pad_x, pad_x, pad_y, pad_y), mode="replicate")
        image = F.pad(image, (max(step_x, 0), max(step_x, 0), max(step_y, 0), max(step_y, 0)), mode="reflect")
        pad_y, pad_x = pad_y - max(step_y, 0), pad_x - max(step_x, 0)
    return image


def gaussian_blur(image: torch.Tensor, sigma: float, zero_border: bool = False) -> torch.Tensor:
    """Separable Gaussian blur of every channel of an (N, C, H, W) tensor, mirrored borders — or, with
    ``zero_border``, zeros outside the image (for a normalised convolution: divide by the blur of ones).

    Agrees with ``scipy.ndimage.gaussian_filter(..., mode="mirror" or "constant", truncate=4.0)`` per
    channel. ``sigma`` ≤ 0 returns the input unchanged.
    """
    check_shape(image, "N C H W", "image")
    if sigma <= 0:
        return image
    n, c, h, w = image.shape
    taps = gaussian_kernel(sigma, image.dtype, image.device)
    radius = (taps.numel() - 1) // 2

    def pad(array: torch.Tensor) -> torch.Tensor:
        return F.pad(array, (radius,) * 4) if zero_border else mirror_pad(array, radius, radius)

    if radius > FFT_RADIUS:
        inside = (..., slice(radius, radius + h), slice(radius, radius + w))
        step = max(1, FFT_VALUES // (n * (h + 2 * radius) * (w + 2 * radius)))
        if step >= c:
            return _fft_blur(pad(image), taps)[inside]
        out = torch.empty_like(image)
        for first in range(0, c, step):
            out[:, first : first + step] = _fft_blur(pad(image[:, first : first + step]), taps)[inside]
        return out
    if image.numel() <= SHIFT_VALUES:
        return _shifted_blur(pad(image), taps, h, w)
    # One image of N·C channels filtered depthwise: far faster on CPUs than N·C images of one.
    flat = pad(image.reshape(1, n * c, h, w))
    flat = F.conv2d(flat, taps.view(1, 1, -1, 1).expand(n * c, 1, -1, 1), groups=n * c)
    flat = F.conv2d(flat, taps.view(1, 1, 1, -1).expand(n * c, 1, 1, -1), groups=n * c)
    return flat.reshape(n, c, h, w)


def _shifted_blur(padded: torch.Tensor, taps: torch.Tensor, height: int, width: int) -> torch.Tensor:
    """``padded`` (padded by the taps' radius on every side) filtered by ``taps`` ⊗ ``taps`` as a sum
    of shifted copies, rows then columns; (…, height, width)."""
    weights = taps.tolist()
    rows = padded[..., :height, :] * weights[0]
    for i, weight in enumerate(weights[1:], start=1):
        rows.add_(padded[..., i : i + height, :], alpha=weight)
    out = rows[..., :width] * weights[0]
    for j, weight in enumerate(weights[1:], start=1):
        out.add_(rows[..., j : j + width], alpha=weight)
    return out


def _fft_blur(padded: torch.Tensor, taps: torch.Tensor) -> torch.Tensor:
    """``padded`` convolved with the separable kernel ``taps`` ⊗ ``taps`` by FFT, zeros beyond it up to
    :func:`fft_length`. Inside a border of the kernel's radius nothing wraps around, so there it equals
    the direct convolution."""
    height, width = fft_length(padded.shape[-2]), fft_length(padded.shape[-1])
    radius = (taps.numel() - 1) // 2

    def circular(length: int) -> torch.Tensor:  # the taps centred on index 0, negative offsets wrapped
        kernel = torch.zeros(length, dtype=taps.dtype, device=taps.device)
        kernel[: radius + 1] = taps[radius:]
        kernel[length - radius :] = taps[:radius]
        return kernel

    spectrum = torch.fft.rfft2(padded, s=(height, width))
    spectrum = spectrum * torch.fft.fft(circular(height)).view(-1, 1) * torch.fft.rfft(circular(width)).view(1, -1)
    return torch.fft.irfft2(spectrum, s=(height, width))[..., : padded.shape[-2], : padded.shape[-1]]


def filter2d(image: torch.Tensor, kernel: torch.Tensor) -> torch.Tensor:
    """Every channel of (N, C, H, W) filtered by one (k, k) kernel (odd k), mirrored borders:
    ``out[y, x] = Σ_ij kernel[i, j] · image[y + i − r, x + j − r]`` (torch's conv2d, a correlation).
    A centred unit tap (a PSF not yet fitted) returns ``image`` itself."""
    check_shape(image, "N C H W", "image")
    check_shape(kernel, "K K", "kernel")
    n, c, h, w = image.shape
    radius = kernel.shape[-1] // 2
    if bool(kernel[radius, radius] == 1) and int(torch.count_nonzero(kernel)) == 1:
        return image
    if image.numel() <= SHIFT_VALUES:
        padded, taps = mirror_pad(image, radius, radius), kernel.reshape(kernel.shape[-2:]).tolist()
        out = padded[..., :h, :w] * taps[0][0]
        for i, j in ((i, j) for i in range(2 * radius + 1) for j in range(2 * radius + 1) if i or j):
            out.add_(padded[..., i : i + h, j : j + w], alpha=taps[i][j])
        return out
    flat = mirror_pad(image.reshape(1, n * c, h, w), radius, radius)
    weight = kernel.to(image.dtype).reshape(1, 1, *kernel.shape[-2:]).expand(n * c, 1, -1, -1)
    return F.conv2d(flat, weight, groups=n * c).reshape(n, c, h, w)


def highpass(image: torch.Tensor, sigma: float, weight: torch.Tensor | None = None) -> torch.Tensor:
    """``image − blur(image, sigma)``: the band above about 1/(2π·sigma) cycles per pixel; ``sigma``
    ≤ 0 keeps the whole band (the image itself).

    With ``weight`` ((N, 1, H, W), 0 for pixels that carry no data, e.g. outside the painting) the
    blur is a normalised convolution, ``blur(w·image) / blur(w)``: the band of each pixel is taken
    against the data around it only, so a margin or a hole does not leak into it. Where no weight is
    near, the band is 0.
    """
    sizes = check_shape(image, "N C H W", "image")
    if weight is not None:
        check_shape(weight, "N 1 H W", "weight", sizes)
    if sigma <= 0:
        return image
    if weight is None:
        return image - gaussian_blur(image, sigma)
    weight = weight.to(image.dtype)
    density = gaussian_blur(weight, sigma)
    smooth = gaussian_blur(image * weight, sigma) / density.clamp(min=1e-6)
    return torch.where(density > 1e-6, image - smooth, torch.zeros_like(image))
