"""Fitting the colour map (the default method) to one image through the guarded step loop: each step
is one weighted least-squares solve of :func:`~.colourmap_solve.fit_colour_map`, on blocks spread over the
image when it is large."""

from __future__ import annotations

from collections.abc import Generator

import numpy as np
import torch

from .colourmap import ColourMap
from .colourmap_solve import fit_colour_map, sample_index, set_constant
from .config import SeparationConfig
from .data import SeparationInputs
from .devices import resolve_device
from .errors import InputError
from .inference import Components, predict
from .progress import drive
from .tiling import sample_blocks
from .trained import TrainedModel
from .training import StepGuard, StopFlag, TrainingProgress, check_trainable, guarded_steps, new_model_for

# The colour map fits on at most this many pixels (blocks spread over a larger image): its fit keeps
# three copies of ~55 feature maps, ~0.7 GB per megapixel.
COLOUR_MAP_FIT_PIXELS, COLOUR_MAP_FIT_BLOCK = 1 << 20, 512


def fit_blocks(shape: tuple[int, int], fit_pixels: np.ndarray | None) -> list[tuple[slice, slice]]:
    """Where the colour map fits on an (H, W) image: the whole image when it has at most
    COLOUR_MAP_FIT_PIXELS, else :func:`~.tiling.sample_blocks` spread over the bounding box of
    ``fit_pixels`` ((H, W) bool, the pixels the fit may use; None: all) — spread over the whole
    frame, a painting found in the middle of a wide backdrop left every block in the backdrop (an
    18-megapixel file's four corner blocks: nothing to fit, a traceback)."""
    if fit_pixels is None or not fit_pixels.any() or shape[0] * shape[1] <= COLOUR_MAP_FIT_PIXELS:
        return sample_blocks(shape, COLOUR_MAP_FIT_PIXELS, COLOUR_MAP_FIT_BLOCK)
    rows, cols = np.flatnonzero(fit_pixels.any(axis=1)), np.flatnonzero(fit_pixels.any(axis=0))
    top, left = int(rows[0]), int(cols[0])
    box = (int(rows[-1]) + 1 - top, int(cols[-1]) + 1 - left)
    return [
        (slice(ys.start + top, ys.stop + top), slice(xs.start + left, xs.stop + left))
        for ys, xs in sample_blocks(box, COLOUR_MAP_FIT_PIXELS, COLOUR_MAP_FIT_BLOCK)
    ]


def fit_colour_map_model(
    inputs: SeparationInputs,
    config: SeparationConfig,
    model: TrainedModel,
    stop: StopFlag | None = None,
) -> Generator[TrainingProgress, None, TrainedModel]:
    """Fit ``model``'s colour map to the image (:func:`~.colourmap_solve.fit_colour_map`; on blocks spread
    over it if it has more than COLOUR_MAP_FIT_PIXELS), one progress event per weighted solve,
    previews of the whole image every ``config.preview_every`` solves.

    Stopped early, the model keeps the last solve (and is usable). A solve that runs out of memory
    raises :class:`~.training.TrainingFailed`, a non-finite one :class:`~.training.TrainingDiverged`;
    either way the model keeps the parameters of the last good solve (:func:`~.training.guarded_steps`).
    """
    check_trainable(inputs.shape, config, "the colour map needs to fit")
    device = resolve_device(config.device)
    network: ColourMap = model.network.to(device)
    blocks = fit_blocks(inputs.shape, inputs.fit_pixels)

    def tensor(array: np.ndarray | None) -> torch.Tensor | None:
        """(N, C, h, w) of the fitting blocks of a (C, H, W) array, on the device."""
        if array is None:
            return None
        return torch.from_numpy(np.stack([np.ascontiguousarray(array[(slice(None), *block)]) for block in blocks])).to(device)

    rgb, back, x = tensor(inputs.rgb_surface), tensor(inputs.rgb_back), tensor(inputs.x_mixed[None])
    region = None if inputs.region_mask is None or inputs.double_sided else tensor(inputs.region_mask[None])
    # Missing pixels, defects and the support's rim get no weight in the fit and no say in the level
    # (set_constant's sample); the high-pass band is taken over the others only.
    fit_pixels = inputs.fit_pixels
    valid = torch.ones_like(x, dtype=torch.bool) if fit_pixels is None else tensor(fit_pixels[None])
    if not bool(valid.any()):  # a painting that leaves its own bounding box's sampled blocks empty
        raise InputError(
            "The colour map found no pixel of the painting to fit in the blocks it samples; give the painting "
            "area (or a smaller crop of the painting)."
        )
    steps = config.training_steps
    solves = fit_colour_map(network, rgb, x, config.method, steps, config.seed, rgb_back=back, region=region, valid=valid)

    @torch.no_grad()
    def solve(step: int) -> dict[str, float] | None:
        progress = next(solves, None)
        return None if progress is None else progress.losses

    @torch.no_grad()
    def level() -> None:
        set_constant(network, rgb, x, sample_index(valid, config.seed), back)

    def preview() -> Components:
        level()
        return predict(model, inputs, device=device)

    guard = StepGuard(
        out_of_memory=f"The colour map ran out of memory at step {{step}} on {device}; separate a smaller "
        "area or use the CPU. The fit of step {kept} is kept.",
        diverged="The colour-map fit failed at step {step} (the loss became {loss}); check the images for "
        "flat or saturated areas. The fit of step {kept} is kept.",
    )
    yield from guarded_steps(
        model, solve, steps, guard, stop=stop, preview=preview, preview_every=config.preview_every
    )
    solves.close()
    level()  # the fit sets the level of x̂1 when it completes; stopped early, it is set here
    return model


def colour_map_surface(inputs: SeparationInputs, config: SeparationConfig) -> np.ndarray:
    """x̂1 of a colour map fitted to ``inputs`` with an auto-encoder's ``label_map`` (unit range, (H, W))."""
    settings = config.replace(method="colour_map", steps=None, preview_every=0)  # the label_map, its own steps
    model = drive(fit_colour_map_model(inputs, settings, new_model_for(inputs, settings)))
    return predict(model, inputs, resolve_device(config.device)).x1_hat
