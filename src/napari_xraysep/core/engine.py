"""Training and inference of the connected auto-encoder.

:func:`train` is a generator: it yields a :class:`TrainingProgress` after every optimiser step and
returns the :class:`TrainedModel` when it ends — after the requested steps or, at the next step, once
the caller's stop flag is set. A GUI runs it in a worker thread and reacts to the events; a CLI
prints them; neither reaches into the loop.
"""

from __future__ import annotations

import math
import time
from collections.abc import Generator
from dataclasses import dataclass, field
from typing import Protocol

import numpy as np
import torch

from .config import SeparationConfig
from .data import Normalisation, SeparationInputs
from .errors import InputError, XraySepError
from .labeled import labeled_surface_xray
from .losses import separation_loss
from .model import ConnectedAutoEncoder
from .tiling import patch_grid, random_corners, tiles

INFERENCE_PATCH_BATCH = 256


class StopFlag(Protocol):
    """Anything with ``is_set()``, e.g. :class:`threading.Event`."""

    def is_set(self) -> bool: ...


class TrainingDiverged(XraySepError):
    """The loss became NaN or infinite; the model of the last good step is kept."""


@dataclass(frozen=True)
class Components:
    """The auto-encoder's three X-ray outputs for a whole image, (H, W) float32 in unit range."""

    x1_hat: np.ndarray
    x2_hat: np.ndarray
    x_hat: np.ndarray


@dataclass(frozen=True)
class TrainingProgress:
    """One optimiser step done. ``preview`` (unit range) arrives every ``preview_every`` steps."""

    step: int
    total_steps: int
    losses: dict[str, float]
    elapsed_s: float
    eta_s: float
    preview: Components | None = None

    @property
    def fraction(self) -> float:
        return self.step / self.total_steps if self.total_steps else 1.0


@dataclass
class TrainedModel:
    """A network with everything needed to apply it again: settings, normalisations, history."""

    network: ConnectedAutoEncoder
    config: SeparationConfig
    x_normalisation: Normalisation
    rgb_normalisation: Normalisation
    steps_trained: int = 0
    loss_history: list[dict[str, float]] = field(default_factory=list)


def available_devices() -> list[str]:
    """Devices this machine can train on, best first (for a device picker)."""
    devices = []
    if torch.cuda.is_available():
        devices += [f"cuda:{i}" for i in range(torch.cuda.device_count())]
    if torch.backends.mps.is_available():
        devices.append("mps")
    return devices + ["cpu"]


def resolve_device(name: str) -> torch.device:
    """``"auto"`` → CUDA, then MPS, then CPU; an explicit device that is absent is an error."""
    if name == "auto":
        return torch.device(available_devices()[0])
    try:
        device = torch.device(name)
    except RuntimeError as error:
        raise InputError(f"Unknown device {name!r}; choose auto, cpu, cuda or mps.") from error
    present = available_devices()
    if device.type == "cuda" and not torch.cuda.is_available():
        raise InputError(f"Device {name!r} was asked for, but no CUDA GPU is available; use auto or cpu.")
    if device.type == "cuda" and device.index is not None and f"cuda:{device.index}" not in present:
        raise InputError(f"Device {name!r} does not exist; this machine has {', '.join(present)}.")
    if device.type == "mps" and "mps" not in present:
        raise InputError("Device 'mps' was asked for, but Apple's MPS backend is not available; use auto or cpu.")
    if device.type not in ("cpu", "cuda", "mps"):
        raise InputError(f"Unsupported device {name!r}; choose auto, cpu, cuda or mps.")
    return device


def new_model(config: SeparationConfig, inputs: SeparationInputs) -> TrainedModel:
    """A freshly initialised network, seeded by ``config.seed`` without touching the global RNG."""
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(config.seed)
        network = ConnectedAutoEncoder(
            channels=config.channels,
            kernel_size=config.kernel_size,
            rgb_channels=inputs.rgb_surface.shape[0],
            output_layer=config.output_layer,
        )
    return TrainedModel(network, config, inputs.x_normalisation, inputs.rgb_normalisation)


def _batch_sampler(config: SeparationConfig, shape: tuple[int, int], rng: np.random.Generator):
    """Endless (corners, size) batches: random crops (fast) or the shuffled patch grid (paper)."""
    if config.mode == "fast":
        size = min(config.crop_size, *shape)
        while True:
            yield random_corners(rng, shape, size, config.batch_size), size
    grid = patch_grid(shape, config.patch_size, config.patch_stride)
    while True:
        order = rng.permutation(len(grid))
        for start in range(0, len(order), config.batch_size):
            yield grid[order[start : start + config.batch_size]], config.patch_size


def _gather(stack: torch.Tensor, corners: np.ndarray, size: int) -> torch.Tensor:
    """(N, C, size, size) crops of a (C, H, W) tensor at the given corners."""
    return torch.stack([stack[:, y : y + size, x : x + size] for y, x in corners.tolist()])


def _snapshot(network: torch.nn.Module) -> dict[str, torch.Tensor]:
    """A copy of the weights (small: the network has ~10⁵ parameters) to fall back on."""
    return {name: value.detach().clone() for name, value in network.state_dict().items()}


def train(
    inputs: SeparationInputs,
    config: SeparationConfig,
    model: TrainedModel | None = None,
    stop: StopFlag | None = None,
) -> Generator[TrainingProgress, None, TrainedModel]:
    """Train for ``config.steps`` steps (from ``model`` if given), yielding progress after each.

    Deterministic on CPU for a given seed. A continued model draws fresh crops (the seed is mixed
    with the steps already trained). Raises :class:`TrainingDiverged` on a non-finite loss, leaving
    ``model`` with the last weights that gave a finite loss (and its step count and history to match).
    """
    if inputs.region_mask is None:
        raise InputError("Training needs a region: draw where the hidden design shows most.")
    if min(inputs.shape) < config.min_image_size:
        raise InputError(
            f"The images are {inputs.shape[0]}×{inputs.shape[1]} pixels, smaller than the "
            f"{config.min_image_size}×{config.min_image_size} patch training needs."
        )
    model = model or new_model(config, inputs)
    device = resolve_device(config.device)
    network = model.network.to(device).train()
    label = labeled_surface_xray(inputs.x_mixed, inputs.rgb_surface, inputs.region_mask, config.label_match)
    stack = torch.from_numpy(np.concatenate([inputs.rgb_surface, inputs.x_mixed[None], label[None]])).to(device)
    channels_rgb = inputs.rgb_surface.shape[0]

    optimizer = torch.optim.Adam(network.parameters(), lr=config.learning_rate)
    batches = _batch_sampler(config, inputs.shape, np.random.default_rng([config.seed, model.steps_trained]))
    total, started = config.steps, time.perf_counter()
    steps_before, history_before = model.steps_trained, len(model.loss_history)
    previous = current = _snapshot(network)
    for step in range(1, total + 1):
        if stop is not None and stop.is_set():
            break
        # A NaN at this step condemns the weights it uses; the last weights that gave a finite
        # loss are those from the start of the previous step.
        previous, current = current, _snapshot(network)
        if config.lr_schedule == "cosine":
            for group in optimizer.param_groups:
                group["lr"] = config.learning_rate * 0.5 * (1 + math.cos(math.pi * (step - 1) / total))
        corners, size = next(batches)
        batch = _gather(stack, corners, size)
        outputs = network(batch[:, :channels_rgb], batch[:, channels_rgb : channels_rgb + 1])
        terms = separation_loss(
            batch[:, :channels_rgb],
            batch[:, channels_rgb : channels_rgb + 1],
            batch[:, channels_rgb + 1 :],
            outputs,
            config.exclusion_weight,
            levels=config.exclusion_levels,
            loss_norm=config.loss_norm,
            scaling=config.exclusion_scaling,
        )
        # One host transfer for all terms (one device sync per step on a GPU).
        losses = dict(zip(terms, torch.stack(list(terms.values())).detach().cpu().tolist()))
        if not math.isfinite(losses["total"]):
            network.load_state_dict(previous)
            network.eval()
            kept = max(step - 2, 0)
            model.steps_trained = steps_before + kept
            del model.loss_history[history_before + kept :]
            raise TrainingDiverged(
                f"Training diverged at step {step} (the loss became {losses['total']}); "
                "lower the learning rate and try again."
            )
        optimizer.zero_grad(set_to_none=True)
        terms["total"].backward()
        optimizer.step()
        model.steps_trained += 1
        model.loss_history.append(losses)

        preview = None
        if config.preview_every and (step % config.preview_every == 0 or step == total):
            preview = predict(model, inputs, device=device)
            network.train()
        elapsed = time.perf_counter() - started
        yield TrainingProgress(step, total, losses, elapsed, elapsed / step * (total - step), preview)
    network.eval()
    return model


@torch.no_grad()
def predict(
    model: TrainedModel,
    inputs: SeparationInputs,
    device: torch.device | None = None,
) -> Components:
    """x̂1, x̂2, x̂ for the whole image: tiled fully-convolutional (fast) or patch-averaged (paper)."""
    device = device or resolve_device(model.config.device)
    network = model.network.to(device).eval()
    stack = torch.from_numpy(np.concatenate([inputs.rgb_surface, inputs.x_mixed[None]]))
    if model.config.mode == "paper" and min(inputs.shape) >= model.config.patch_size:
        out = _predict_patch_average(network, stack, model.config, device)
    else:
        out = _predict_tiled(network, stack, model.config.tile_size, device)
    return Components(x1_hat=out[0], x2_hat=out[1], x_hat=out[2])


def _predict_tiled(
    network: ConnectedAutoEncoder, stack: torch.Tensor, tile_size: int, device: torch.device
) -> np.ndarray:
    """(3, H, W): one pass per halo'd tile; equals a single whole-image pass (see :func:`tiles`)."""
    height, width = stack.shape[-2:]
    out = np.empty((3, height, width), dtype=np.float32)
    for tile in tiles((height, width), tile_size, network.receptive_radius):
        block = stack[(slice(None), *tile.outer)][None].to(device)
        result = network(block[:, :-1], block[:, -1:])
        decoded = torch.cat([result.x1_hat, result.x2_hat, result.x_hat], dim=1)[0]
        out[(slice(None), *tile.core)] = decoded[(slice(None), *tile.inner)].cpu().numpy()
    return out


def _predict_patch_average(
    network: ConnectedAutoEncoder, stack: torch.Tensor, config: SeparationConfig, device: torch.device
) -> np.ndarray:
    """(3, H, W): the paper's reassembly — every grid patch decoded alone, overlaps averaged."""
    height, width = stack.shape[-2:]
    size = config.patch_size
    grid = patch_grid((height, width), size, config.patch_stride)
    stack = stack.to(device)
    total = torch.zeros((3, height, width), device=device)
    count = torch.zeros((1, height, width), device=device)
    for start in range(0, len(grid), INFERENCE_PATCH_BATCH):
        corners = grid[start : start + INFERENCE_PATCH_BATCH]
        batch = _gather(stack, corners, size)
        result = network(batch[:, :-1], batch[:, -1:])
        decoded = torch.cat([result.x1_hat, result.x2_hat, result.x_hat], dim=1)
        for (y, x), patch in zip(corners.tolist(), decoded):
            total[:, y : y + size, x : x + size] += patch
            count[:, y : y + size, x : x + size] += 1
    return (total / count).cpu().numpy()
