"""The paper's losses as pure tensor functions: reconstruction (Eq. 6), exclusion (Eq. 7), the
double-sided panel's reconstruction (refs [13, 14]) and the warm start's supervised loss (Eq. 8).

Every image is (B, C, H, W); every loss is a per-sample norm averaged over the batch, so a loss
value does not depend on the batch size. ``loss_norm="frobenius"`` is the paper's ‖·‖_F; ``"rms"``
divides it by √(number of elements), which makes the value independent of the patch size too (so
one λ works for 50×50 patches and 128×128 crops alike).
"""

from __future__ import annotations

from typing import Literal

import torch
import torch.nn.functional as F

from .model import AutoEncoderOutputs
from .shapes import check_shape

LossNorm = Literal["frobenius", "rms"]
ExclusionScaling = Literal["paper", "gradient"]


def sample_norm(tensor: torch.Tensor, loss_norm: LossNorm = "frobenius") -> torch.Tensor:
    """Per-sample Frobenius norm (B,) of a (B, ...) tensor; ``"rms"`` divides by √(elements per sample)."""
    flat = tensor.flatten(start_dim=1)
    norm = torch.sqrt(flat.pow(2).sum(dim=1))
    if loss_norm == "rms":
        norm = norm / flat.shape[1] ** 0.5
    elif loss_norm != "frobenius":
        raise ValueError(f"unknown loss_norm {loss_norm!r}")
    return norm


def reconstruction_loss(
    rgb_surface: torch.Tensor,
    x_mixed: torch.Tensor,
    outputs: AutoEncoderOutputs,
    loss_norm: LossNorm = "frobenius",
) -> dict[str, torch.Tensor]:
    """Eq. 6's three terms: ‖r1 − r̂1‖, ‖x − x̂‖ and ‖x − (x̂1 + x̂2)‖, each averaged over the batch.

    ``rgb_surface`` (B, C, H, W), ``x_mixed`` (B, 1, H, W), ``outputs`` as the model returns them for
    these inputs. Raises ValueError for tensors of other shapes (:func:`check_outputs`)."""
    check_outputs(rgb_surface, x_mixed, outputs)
    return {
        "rgb": sample_norm(rgb_surface - outputs.rgb_hat, loss_norm).mean(),
        "xray": sample_norm(x_mixed - outputs.x_hat, loss_norm).mean(),
        "mixture": sample_norm(x_mixed - (outputs.x1_hat + outputs.x2_hat), loss_norm).mean(),
    }


def check_outputs(rgb: torch.Tensor, x: torch.Tensor, outputs: AutoEncoderOutputs, x_name: str = "x_mixed") -> dict[str, int]:
    """Check a loss's photograph (B, C, H, W), X-ray (B, 1, H, W) and the model's outputs for them
    agree (:func:`.shapes.check_shape`), so a mismatch cannot broadcast into a wrong loss."""
    sizes = check_shape(x, "B 1 H W", x_name, check_shape(rgb, "B C H W", "rgb_surface"))
    for name in ("x1_hat", "x2_hat", "x_hat"):
        check_shape(getattr(outputs, name), "B 1 H W", f"outputs.{name}", sizes)
    check_shape(outputs.rgb_hat, "B C H W", "outputs.rgb_hat", sizes)
    return sizes


def gradient_magnitude(image: torch.Tensor, eps: float = 1e-12) -> torch.Tensor:
    """|∇image| from forward differences: (B, C, H, W) → (B, C, H−1, W−1).

    ``eps`` keeps the square root differentiable where the image is flat.
    """
    top_left = image[..., :-1, :-1]
    grad_x = image[..., :-1, 1:] - top_left
    grad_y = image[..., 1:, :-1] - top_left
    return torch.sqrt(grad_x.pow(2) + grad_y.pow(2) + eps)


def downsample(image: torch.Tensor, factor: int) -> torch.Tensor:
    """Bilinear down-sampling by an integer ``factor`` (1 returns the input)."""
    if factor == 1:
        return image
    height, width = image.shape[-2:]
    size = (max(1, height // factor), max(1, width // factor))
    return F.interpolate(image, size=size, mode="bilinear", align_corners=False)


def exclusion_loss(
    x1_bar: torch.Tensor,
    x2_hat: torch.Tensor,
    levels: int = 3,
    loss_norm: LossNorm = "frobenius",
    scaling: ExclusionScaling = "paper",
) -> torch.Tensor:
    """Eq. 7: Σₙ ‖tanh(f↓ⁿ(λ1|∇x̄1|)) ⊙ tanh(f↓ⁿ(λ2|∇x̂2|))‖, n = 1..levels, down-sampling by 2ⁿ⁻¹.

    ``scaling="paper"``: λ1 = √(‖x̂2‖/‖x̄1‖), λ2 = √(‖x̄1‖/‖x̂2‖) per sample, so a dim x̂2 cannot
    escape the penalty by being dim. ``"gradient"``: each gradient map is divided by its own
    per-sample mean, which puts tanh in its bending range whatever the image contrast. The scale
    factors are constants for the optimiser (detached): x̂2 should lose shared edges, not grow to
    shrink its own λ.

    ``x1_bar`` and ``x2_hat``: (B, 1, H, W) each (ValueError otherwise).
    """
    check_shape(x2_hat, "B 1 H W", "x2_hat", check_shape(x1_bar, "B 1 H W", "x1_bar"))
    grad_label = gradient_magnitude(x1_bar)
    grad_hidden = gradient_magnitude(x2_hat)
    tiny = torch.finfo(x2_hat.dtype).tiny ** 0.5
    if scaling == "paper":
        ratio = (sample_norm(x2_hat) / (sample_norm(x1_bar) + tiny)).detach().clamp_min(tiny)
        lambda1 = ratio.sqrt().view(-1, 1, 1, 1)
        grad_label, grad_hidden = lambda1 * grad_label, grad_hidden / lambda1
    elif scaling == "gradient":
        grad_label = grad_label / (grad_label.mean(dim=(1, 2, 3), keepdim=True).detach() + tiny)
        grad_hidden = grad_hidden / (grad_hidden.mean(dim=(1, 2, 3), keepdim=True).detach() + tiny)
    else:
        raise ValueError(f"unknown exclusion scaling {scaling!r}")
    total = x2_hat.new_zeros(x2_hat.shape[0])
    for level in range(levels):
        factor = 2**level
        product = torch.tanh(downsample(grad_label, factor)) * torch.tanh(downsample(grad_hidden, factor))
        total = total + sample_norm(product, loss_norm)
    return total.mean()


def separation_loss(
    rgb_surface: torch.Tensor,
    x_mixed: torch.Tensor,
    x1_bar: torch.Tensor,
    outputs: AutoEncoderOutputs,
    exclusion_weight: float,
    *,
    levels: int = 3,
    loss_norm: LossNorm = "frobenius",
    scaling: ExclusionScaling = "paper",
) -> dict[str, torch.Tensor]:
    """Eq. 5: ``total = L1 + λ·L2``, with every term returned for progress reporting."""
    terms = reconstruction_loss(rgb_surface, x_mixed, outputs, loss_norm)
    terms["exclusion"] = exclusion_loss(x1_bar, outputs.x2_hat, levels, loss_norm, scaling)
    terms["total"] = terms["rgb"] + terms["xray"] + terms["mixture"] + exclusion_weight * terms["exclusion"]
    return terms


def double_sided_loss(
    rgb_front: torch.Tensor,
    rgb_back: torch.Tensor,
    x_mixed: torch.Tensor,
    outputs: AutoEncoderOutputs,
    loss_norm: LossNorm = "frobenius",
) -> dict[str, torch.Tensor]:
    """Eq. 6 with both photographs: the two sides' RGB, ‖x − x̂‖ and ‖x − (x̂1 + x̂2)‖.

    No exclusion term: with a photograph of each side, the RGB reconstructions already tie each
    feature to its own painting.
    """
    if outputs.rgb_back_hat is None:
        raise ValueError("double_sided_loss needs the outputs of a double-sided forward pass (rgb_back given)")
    check_shape(rgb_back, "B C H W", "rgb_back", check_shape(rgb_front, "B C H W", "rgb_front"))
    terms = reconstruction_loss(rgb_front, x_mixed, outputs, loss_norm)
    terms["rgb_back"] = sample_norm(rgb_back - outputs.rgb_back_hat, loss_norm).mean()
    terms["total"] = terms["rgb"] + terms["rgb_back"] + terms["xray"] + terms["mixture"]
    return terms


def warm_start_loss(
    rgb_surface: torch.Tensor,
    x1_label: torch.Tensor,
    x2_label: torch.Tensor,
    outputs: AutoEncoderOutputs,
    loss_norm: LossNorm = "frobenius",
) -> dict[str, torch.Tensor]:
    """Eq. 8: ‖r1d − r̂1d‖ + ‖x1d − x̂1d‖ + ‖x2d − x̂2d‖, the labels from a double-sided separation.

    ``rgb_surface`` (B, C, H, W), the labels (B, 1, H, W) each (ValueError otherwise)."""
    sizes = check_outputs(rgb_surface, x1_label, outputs, "x1_label")
    check_shape(x2_label, "B 1 H W", "x2_label", sizes)
    terms = {
        "rgb": sample_norm(rgb_surface - outputs.rgb_hat, loss_norm).mean(),
        "x1": sample_norm(x1_label - outputs.x1_hat, loss_norm).mean(),
        "x2": sample_norm(x2_label - outputs.x2_hat, loss_norm).mean(),
    }
    terms["total"] = terms["rgb"] + terms["x1"] + terms["x2"]
    return terms
