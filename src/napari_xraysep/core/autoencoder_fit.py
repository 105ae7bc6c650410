"""Training the connected auto-encoder on an :class:`~.objectives.Objective` through the guarded step
loop: each step is one Adam step on a batch of crops (random crops, or the paper's shuffled patch grid)."""

from __future__ import annotations

import math
from collections.abc import Generator, Iterator

import numpy as np
import torch

from .config import SeparationConfig
from .data import SeparationInputs
from .devices import resolve_device
from .errors import InputError
from .inference import Components, gather, predict
from .model import ConnectedAutoEncoder
from .objectives import Objective
from .tiling import patch_grid, random_corners
from .trained import TrainedModel
from .training import StepGuard, StopFlag, TrainingProgress, check_trainable, guarded_steps


def whole_windows(valid: np.ndarray, size: int) -> np.ndarray:
    """(H − size + 1, W − size + 1) bool: True at the corners of ``size``×``size`` windows of
    ``valid`` (H, W) whose every pixel is True (a summed-area table of the missing pixels)."""
    table = np.pad(np.cumsum(np.cumsum(~valid, axis=0, dtype=np.int64), axis=1), ((1, 0), (1, 0)))
    missing = table[size:, size:] - table[:-size, size:] - table[size:, :-size] + table[:-size, :-size]
    return missing == 0


def _batch_sampler(
    config: SeparationConfig, images: int, shape: tuple[int, int], rng: np.random.Generator, valid: np.ndarray | None = None
) -> Iterator[tuple[np.ndarray, int]]:
    """Endless (corners, size) batches, corners (image, y, x): random crops (fast) or the shuffled
    patch grid of every image (paper). With ``valid`` (one image), only crops free of missing
    pixels; InputError if there is none."""
    settings = config.method
    size = min(settings.crop_size, *shape) if settings.mode == "fast" else settings.patch_size
    allowed = None if valid is None else whole_windows(valid, size)
    if allowed is not None and not allowed.any():
        raise InputError(
            f"Every {size}×{size} crop of the image holds missing (NaN or infinite) pixels, so the auto-encoder "
            "cannot train; crop the images to where they have data, or use the colour map (the default)."
        )
    if settings.mode == "fast" and allowed is not None:
        corners = np.argwhere(allowed)
        while True:
            yield np.concatenate([np.zeros((settings.batch_size, 1), int), corners[rng.integers(0, len(corners), settings.batch_size)]], axis=1), size
    if settings.mode == "fast":
        while True:
            # One image draws no index, so single-image runs keep the random stream they always had.
            which = rng.integers(0, images, size=settings.batch_size) if images > 1 else np.zeros(settings.batch_size, int)
            yield np.concatenate([which[:, None], random_corners(rng, shape, size, settings.batch_size)], axis=1), size
    grid = patch_grid(shape, settings.patch_size, settings.patch_stride)
    if allowed is not None:
        grid = grid[allowed[grid[:, 0], grid[:, 1]]]
    grid = np.concatenate([np.repeat(np.arange(images), len(grid))[:, None], np.tile(grid, (images, 1))], axis=1)
    while True:
        order = rng.permutation(len(grid))
        for start in range(0, len(order), settings.batch_size):
            yield grid[order[start : start + settings.batch_size]], settings.patch_size


def _optimisation_step(
    objective: Objective, network: ConnectedAutoEncoder, optimizer: torch.optim.Optimizer, batch: torch.Tensor
) -> dict[str, float]:
    """One Adam step on ``batch``, unless the loss is not finite (then the weights stay as they are)."""
    terms = objective.loss(batch, objective.forward(network, batch))
    # One host transfer for all terms (one device sync per step on a GPU).
    losses = dict(zip(terms, torch.stack(list(terms.values())).detach().cpu().tolist()))
    if math.isfinite(losses["total"]):
        optimizer.zero_grad(set_to_none=True)
        terms["total"].backward()
        optimizer.step()
    return losses


def fit(
    objective: Objective,
    config: SeparationConfig,
    model: TrainedModel,
    stop: StopFlag | None = None,
    preview_inputs: SeparationInputs | None = None,
) -> Generator[TrainingProgress, None, TrainedModel]:
    """Minimise ``objective`` for ``config.training_steps`` Adam steps, yielding progress after each.

    Previews of ``preview_inputs`` come every ``config.preview_every`` steps. Stops at the next
    step once ``stop`` is set. Deterministic on CPU for a given seed; a continued
    model draws fresh crops (the seed is mixed with the steps already trained). Raises
    :class:`~.training.TrainingDiverged` on a non-finite loss, leaving ``model`` with the last weights
    that gave a finite loss (and its step count and history to match), and
    :class:`~.training.TrainingFailed` when a step runs out of memory (:func:`~.training.guarded_steps`).
    """
    check_trainable(objective.shape, config, "patch training needs")
    device = resolve_device(config.device)
    network: ConnectedAutoEncoder = model.network.to(device)
    stack = torch.from_numpy(objective.stack).to(device)
    settings = config.method

    optimizer = torch.optim.Adam(network.parameters(), lr=settings.learning_rate)
    batches = _batch_sampler(
        config, len(objective.stack), objective.shape, np.random.default_rng([config.seed, model.steps_trained]),
        objective.valid,
    )
    total = config.training_steps

    def adam_step(step: int) -> dict[str, float]:
        if settings.lr_schedule == "cosine":
            for group in optimizer.param_groups:
                group["lr"] = settings.learning_rate * 0.5 * (1 + math.cos(math.pi * (step - 1) / total))
        corners, size = next(batches)
        return _optimisation_step(objective, network, optimizer, gather(stack, corners, size))

    def preview() -> Components:
        return predict(model, preview_inputs, device=device)

    guard = StepGuard(
        out_of_memory=f"Training ran out of memory at step {{step}} on {device}; lower crop_size, batch_size or "
        "channels, or use the CPU. The model of step {kept} is kept.",
        diverged="Training diverged at step {step} (the loss became {loss}); lower the learning rate and try "
        "again. The model of step {kept} is kept.",
        # The loss is computed before the update: a NaN at a step condemns the weights it started
        # from, so the last weights that gave a finite loss are those from the start of the step before.
        condemns=1,
    )
    yield from guarded_steps(
        model, adam_step, total, guard, stop=stop,
        preview=None if preview_inputs is None else preview, preview_every=config.preview_every,
    )
    return model
