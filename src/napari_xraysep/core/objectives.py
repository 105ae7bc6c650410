"""What the auto-encoder fits: an :class:`Objective` — the images cropped together, how a crop feeds
the network, and the loss — for a concealed design (Eq. 5), a double-sided panel (refs [13, 14]) and
the warm start (Eq. 8)."""

from __future__ import annotations

import warnings
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import torch

from .colourmap_fit import colour_map_surface
from .config import MIN_CROP_SIZE, SeparationConfig
from .data import SeparationInputs
from .errors import InputError
from .labeled import labeled_surface_xray
from .losses import double_sided_loss, separation_loss, warm_start_loss
from .model import AutoEncoderOutputs, ConnectedAutoEncoder

# Fewer region pixels than the smallest training crop: x̄1 then hardly differs from the X-ray.
MIN_REGION_PIXELS = MIN_CROP_SIZE * MIN_CROP_SIZE

LossFunction = Callable[[torch.Tensor, AutoEncoderOutputs], dict[str, torch.Tensor]]


@dataclass(frozen=True)
class Objective:
    """What a run fits: the images cropped together, how a crop feeds the network, and the loss.

    ``stack`` is (N, C, H, W): N same-sized images of C channels (photograph(s), X-ray, labels);
    ``rgb_channels`` and ``double_sided`` say how the first channels enter the network; ``valid``
    (H, W), if given, marks the pixels a training crop may contain (missing pixels are left out).
    """

    name: str
    stack: np.ndarray
    rgb_channels: int
    double_sided: bool
    loss: LossFunction
    valid: np.ndarray | None = None  # (H, W) bool: crops are drawn only where every pixel is valid

    @property
    def shape(self) -> tuple[int, int]:
        return self.stack.shape[-2:]  # type: ignore[return-value]

    def forward(self, network: ConnectedAutoEncoder, batch: torch.Tensor) -> AutoEncoderOutputs:
        c = self.rgb_channels
        if self.double_sided:
            return network(batch[:, :c], batch[:, 2 * c : 2 * c + 1], rgb_back=batch[:, c : 2 * c])
        return network(batch[:, :c], batch[:, c : c + 1])


def concealed_objective(inputs: SeparationInputs, config: SeparationConfig) -> Objective:
    """Eq. 5: reconstruction + λ·exclusion against the labeled surface X-ray x̄1 (needs the region)."""
    if inputs.region_mask is None:
        raise InputError(
            "The auto-encoder needs a region to train: draw where the hidden design shows most (it makes x̄1)."
        )
    # Over the painting, not the frame: a region drawn around a painting on its film margin covers it all too.
    painting = inputs.region_mask if inputs.valid is None else inputs.region_mask[inputs.valid]
    if painting.all():
        warnings.warn(
            "The region covers the whole painting, so the auto-encoder learns the surface from the photograph in "
            "grey everywhere; draw the region only where the hidden design shows, for a better separation.",
            UserWarning,
            stacklevel=2,
        )
    elif painting.sum() < MIN_REGION_PIXELS:
        warnings.warn(
            f"The region covers only {int(painting.sum())} pixel(s) of the painting, fewer than the smallest "
            f"training crop ({MIN_CROP_SIZE}×{MIN_CROP_SIZE}): x̄1 differs from the X-ray there alone, so the "
            "auto-encoder learns next to nothing from it; draw the region over the area where the hidden design "
            "shows.",
            UserWarning,
            stacklevel=2,
        )
    c = inputs.rgb_surface.shape[0]
    # x̄1 pastes the photograph's grayscale; side channels (after the RGB) join its intensity match,
    # so that surface absorbers the photograph cannot show (copper) are in the label too.
    surface = colour_map_surface(inputs, config) if config.method.label_match == "colour_map" else None
    label = labeled_surface_xray(
        inputs.x_mixed, inputs.rgb_surface[:3], inputs.region_mask, config.method.label_match,
        side_maps=inputs.rgb_surface[3:], surface_estimate=surface, valid=inputs.valid,
    )

    def loss(batch: torch.Tensor, outputs: AutoEncoderOutputs) -> dict[str, torch.Tensor]:
        return separation_loss(
            batch[:, :c],
            batch[:, c : c + 1],
            batch[:, c + 1 :],
            outputs,
            config.method.exclusion_weight,
            levels=config.method.exclusion_levels,
            loss_norm=config.method.loss_norm,
            scaling=config.method.exclusion_scaling,
        )

    stack = np.concatenate([inputs.rgb_surface, inputs.x_mixed[None], label[None]])[None]
    return Objective("concealed", stack, c, False, loss, inputs.valid)


def double_sided_objective(inputs: SeparationInputs, config: SeparationConfig) -> Objective:
    """Refs [13, 14]: both photographs reconstructed, x = x̂1 + x̂2 (no region needed)."""
    if inputs.rgb_back is None:
        raise InputError("A double-sided separation needs the back side's photograph.")
    c = inputs.rgb_surface.shape[0]

    def loss(batch: torch.Tensor, outputs: AutoEncoderOutputs) -> dict[str, torch.Tensor]:
        return double_sided_loss(batch[:, :c], batch[:, c : 2 * c], batch[:, 2 * c : 2 * c + 1], outputs, config.method.loss_norm)

    stack = np.concatenate([inputs.rgb_surface, inputs.rgb_back, inputs.x_mixed[None]])[None]
    return Objective("double_sided", stack, c, True, loss, inputs.valid)


def warm_start_objective(
    rgb_surfaces: np.ndarray, x_mixed: np.ndarray, x1_labels: np.ndarray, x2_labels: np.ndarray, config: SeparationConfig
) -> Objective:
    """Eq. 8 over N panels: from (r1d, x_d), predict r1d and the double-sided separation's x1d, x2d.

    Shapes: ``rgb_surfaces`` (N, 3, H, W); the others (N, H, W); all in unit range.
    """
    c = rgb_surfaces.shape[1]

    def loss(batch: torch.Tensor, outputs: AutoEncoderOutputs) -> dict[str, torch.Tensor]:
        return warm_start_loss(batch[:, :c], batch[:, c + 1 : c + 2], batch[:, c + 2 : c + 3], outputs, config.method.loss_norm)

    stack = np.concatenate([rgb_surfaces, x_mixed[:, None], x1_labels[:, None], x2_labels[:, None]], axis=1)
    return Objective("warm_start", np.ascontiguousarray(stack, dtype=np.float32), c, False, loss)


def objective_for(inputs: SeparationInputs, config: SeparationConfig) -> Objective:
    """Double-sided when the back side's photograph is given, else the concealed-design method."""
    return double_sided_objective(inputs, config) if inputs.double_sided else concealed_objective(inputs, config)
