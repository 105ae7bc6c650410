"""The device-side filters against scipy and hand-computed values."""

import numpy as np
import pytest
import torch
from scipy import ndimage

from napari_xraysep.core.filters import fft_length, filter2d, gaussian_blur, gaussian_radius, highpass, mirror_pad


@pytest.mark.parametrize("sigma", [0.7, 2.0, 3.0, 8.0, 16.0])  # direct convolution up to radius 12, FFT past it
def test_gaussian_blur_agrees_with_scipy(sigma, rng):
    image = rng.random((2, 3, 40, 57))
    blurred = gaussian_blur(torch.from_numpy(image), sigma).numpy()
    for n in range(2):
        for c in range(3):
            expected = ndimage.gaussian_filter(image[n, c], sigma, mode="mirror", truncate=4.0)
            np.testing.assert_allclose(blurred[n, c], expected, atol=1e-12)


def test_the_fft_blur_keeps_single_precision_close(rng):
    image = rng.random((1, 2, 70, 90)).astype(np.float32)
    blurred = gaussian_blur(torch.from_numpy(image), 12.0)
    assert blurred.dtype == torch.float32 and blurred.shape == (1, 2, 70, 90)
    expected = ndimage.gaussian_filter(image[0, 1].astype(np.float64), 12.0, mode="mirror", truncate=4.0)
    np.testing.assert_allclose(blurred[0, 1].numpy(), expected, atol=2e-6)


def test_blur_keeps_constants_and_highpass_removes_them():
    flat = torch.full((1, 1, 20, 30), 3.5, dtype=torch.float64)
    torch.testing.assert_close(gaussian_blur(flat, 4.0), flat)
    assert highpass(flat, 4.0).abs().max() < 1e-12
    assert gaussian_blur(flat, 0.0) is flat  # sigma 0: nothing to do
    assert gaussian_radius(8.0) == 32 and gaussian_radius(0.0) == 0


def test_mirror_pad_handles_blocks_smaller_than_the_padding():
    image = torch.arange(6.0).view(1, 1, 2, 3)
    padded = mirror_pad(image, 5, 7)
    assert padded.shape == (1, 1, 12, 17)
    np.testing.assert_array_equal(padded[0, 0, 5:7, 7:10].numpy(), image[0, 0].numpy())
    # mirrored (d c b | a b c d): the row above the image is its second row
    np.testing.assert_array_equal(padded[0, 0, 4, 7:10].numpy(), [3.0, 4.0, 5.0])
    single = mirror_pad(torch.ones(1, 1, 1, 1), 2, 2)  # nothing to mirror: repeated
    assert single.shape == (1, 1, 5, 5) and bool((single == 1).all())


def test_filter2d_is_a_correlation_with_mirrored_borders():
    image = torch.arange(20.0).view(1, 1, 4, 5)
    kernel = torch.zeros(3, 3)
    kernel[1, 2] = 1.0  # out[y, x] = image[y, x + 1]
    shifted = filter2d(image, kernel)[0, 0]
    np.testing.assert_array_equal(shifted[:, :4].numpy(), image[0, 0, :, 1:].numpy())
    np.testing.assert_array_equal(shifted[:, 4].numpy(), image[0, 0, :, 3].numpy())  # mirrored: d c b | a b c d


def test_a_centred_unit_tap_is_the_identity():
    image = torch.arange(20.0).view(1, 1, 4, 5)
    kernel = torch.zeros(5, 5)
    kernel[2, 2] = 1.0  # a PSF not yet fitted
    assert filter2d(image, kernel) is image
    kernel[2, 3] = 0.5  # no longer the identity
    assert not torch.equal(filter2d(image, kernel), image)


def test_fft_lengths_are_the_next_with_small_prime_factors():
    # Hand-checked: 31 is prime, 564 = 4·3·47 → 567 = 3⁴·7, 620 = 4·5·31 → 625 = 5⁴, 1064 = 8·7·19 → 1080.
    assert [fft_length(n) for n in (0, 1, 2, 11, 31, 564, 620, 1064)] == [1, 1, 2, 12, 32, 567, 625, 1080]

    def smooth(n: int) -> bool:
        for prime in (2, 3, 5, 7):
            while n % prime == 0:
                n //= prime
        return n == 1

    for n in range(1, 2000):
        length = fft_length(n)
        assert length >= n and smooth(length) and not any(smooth(m) for m in range(n, length))


def test_an_fft_blur_a_few_channels_at_a_time_gives_the_same_values(monkeypatch):
    from napari_xraysep.core import filters

    image = torch.rand(2, 7, 60, 70, generator=torch.Generator().manual_seed(0))
    sigma = filters.FFT_RADIUS / filters.TRUNCATE + 2  # past FFT_RADIUS: by FFT
    whole = (filters.gaussian_blur(image, sigma), filters.gaussian_blur(image, sigma, zero_border=True))
    monkeypatch.setattr(filters, "FFT_VALUES", 2 * 3 * 100 * 110)  # three channels at a time, then one
    chunked = (filters.gaussian_blur(image, sigma), filters.gaussian_blur(image, sigma, zero_border=True))
    assert all(torch.equal(a, b) for a, b in zip(chunked, whole))
