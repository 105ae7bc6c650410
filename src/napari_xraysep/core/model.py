"""The connected auto-encoder of the paper (Section III.A, Fig. 2).

``f1 = E_r(r1)``, ``f = E_x(x)``, ``f2 = f - f1``; the shared X-ray decoder gives
``x̂1 = D_x(f1)``, ``x̂2 = D_x(f2)``, ``x̂ = D_x(f)`` and ``r̂1 = D_r(f1)``.

As in the paper, every layer of ``E_r``, ``D_r`` and ``D_x`` is followed by batch normalisation and
ReLU, while ``E_x`` is three plain convolutions: a linear map, so ``E_x(x1 + x2) = E_x(x1) + E_x(x2)``
up to its bias, which is what makes ``f2 = f - f1`` a feature of the hidden layer. The three decoder
inputs go through ``D_x`` as one batch so batch normalisation sees the same statistics for all three
in training, as it does in inference.

The same four networks also separate a double-sided panel (the paper's refs [13, 14], its Eq. 4):
there the back side's photograph gives the second feature, ``f2 = E_r(r2)``, instead of ``f - f1``.
One set of weights serves both, which is what lets a double-sided model warm-start a
concealed-design one (Fig. 3).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

import torch
from torch import nn

from .shapes import check_shape

OutputLayer = Literal["bn_relu", "linear"]


@dataclass(frozen=True)
class AutoEncoderOutputs:
    """Decoded images, each (B, C, H, W); ``rgb_back_hat`` only for a double-sided panel."""

    x1_hat: torch.Tensor
    x2_hat: torch.Tensor
    x_hat: torch.Tensor
    rgb_hat: torch.Tensor
    rgb_back_hat: torch.Tensor | None = None


def conv_stack(
    in_channels: int,
    hidden_channels: int,
    out_channels: int,
    kernel_size: int,
    *,
    bn_relu: bool,
    last_bn_relu: bool,
    layers: int = 3,
) -> nn.Sequential:
    """``layers`` 'same'-padded convolutions, each optionally followed by BatchNorm + ReLU."""
    modules: list[nn.Module] = []
    for index in range(layers):
        last = index == layers - 1
        c_in = in_channels if index == 0 else hidden_channels
        c_out = out_channels if last else hidden_channels
        modules.append(nn.Conv2d(c_in, c_out, kernel_size, padding=kernel_size // 2))
        if bn_relu and (last_bn_relu or not last):
            modules += [nn.BatchNorm2d(c_out), nn.ReLU(inplace=True)]
    return nn.Sequential(*modules)


class ConnectedAutoEncoder(nn.Module):
    """E_r, E_x, D_x, D_r as 3-layer CNNs; ``output_layer`` says how the decoders end.

    ``"bn_relu"`` is the paper's (BN + ReLU after the last layer too); ``"linear"`` ends the
    decoders with a plain convolution so outputs are not clipped at zero.
    """

    def __init__(
        self,
        channels: int = 32,
        kernel_size: int = 3,
        rgb_channels: int = 3,
        output_layer: OutputLayer = "bn_relu",
    ) -> None:
        super().__init__()
        if kernel_size % 2 != 1:
            raise ValueError(f"kernel_size must be odd so 'same' padding is symmetric; got {kernel_size}")
        last = output_layer == "bn_relu"
        self.kernel_size = kernel_size
        self.encode_rgb = conv_stack(rgb_channels, channels, channels, kernel_size, bn_relu=True, last_bn_relu=True)
        self.encode_xray = conv_stack(1, channels, channels, kernel_size, bn_relu=False, last_bn_relu=False)
        self.decode_xray = conv_stack(channels, channels, 1, kernel_size, bn_relu=True, last_bn_relu=last)
        self.decode_rgb = conv_stack(channels, channels, rgb_channels, kernel_size, bn_relu=True, last_bn_relu=last)

    @property
    def receptive_radius(self) -> int:
        """Pixels of context each output pixel sees on every side (encoder + decoder layers)."""
        return 6 * (self.kernel_size // 2)

    @property
    def rgb_channels(self) -> int:
        """Photograph channels read (RGB, then side channels)."""
        return self.encode_rgb[0].in_channels

    def components(
        self, rgb_surface: torch.Tensor, x_mixed: torch.Tensor, rgb_back: torch.Tensor | None = None
    ) -> torch.Tensor:
        """(B, 4, H, W): x̂1, x̂2, x̂ and the weave — which the auto-encoder does not model (zero:
        it stays in the error map, as in the paper)."""
        out = self(rgb_surface, x_mixed, rgb_back=rgb_back)
        return torch.cat([out.x1_hat, out.x2_hat, out.x_hat, torch.zeros_like(out.x_hat)], dim=1)

    def forward(
        self, rgb_surface: torch.Tensor, x_mixed: torch.Tensor, rgb_back: torch.Tensor | None = None
    ) -> AutoEncoderOutputs:
        """``rgb_surface`` (B, 3, H, W), ``x_mixed`` (B, 1, H, W) → the decoded images.

        Without ``rgb_back``: the concealed-design network, ``f2 = f - f1``. With ``rgb_back``
        (B, 3, H, W, registered to the X-ray): the double-sided one, ``f2 = E_r(r2)``; both
        photographs go through ``E_r`` and ``D_r`` as one batch, like the three inputs of ``D_x``.
        """
        sizes = check_shape(x_mixed, "B 1 H W", "x_mixed", check_shape(rgb_surface, f"B {self.rgb_channels} H W", "rgb_surface"))
        if rgb_back is not None:
            check_shape(rgb_back, f"B {self.rgb_channels} H W", "rgb_back", sizes)
        f = self.encode_xray(x_mixed)
        if rgb_back is None:
            f1 = self.encode_rgb(rgb_surface)
            f2 = f - f1
            rgb_hat, rgb_back_hat = self.decode_rgb(f1), None
        else:
            f1, f2 = self.encode_rgb(torch.cat([rgb_surface, rgb_back])).chunk(2)
            rgb_hat, rgb_back_hat = self.decode_rgb(torch.cat([f1, f2])).chunk(2)
        x1_hat, x2_hat, x_hat = self.decode_xray(torch.cat([f1, f2, f])).chunk(3)
        return AutoEncoderOutputs(x1_hat=x1_hat, x2_hat=x2_hat, x_hat=x_hat, rgb_hat=rgb_hat, rgb_back_hat=rgb_back_hat)
