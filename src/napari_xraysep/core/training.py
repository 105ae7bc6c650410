"""What every training shares, whatever the method: the model it starts from, the progress events it
yields, and the one guarded step loop both methods run through.

A method supplies a *step* — one colour-map solve, or one Adam step of the auto-encoder — as a
callable; :func:`guarded_steps` calls it ``total`` times and owns the rest: the caller's stop flag,
the step count and loss history, previews, the ETA, and what a failed step leaves behind (an
out-of-memory error or a non-finite loss rolls the weights back and raises with the last good model).
A GUI runs the generator in a worker thread and reacts to its events; a CLI prints them.
"""

from __future__ import annotations

import math
import time
from collections import deque
from collections.abc import Callable, Generator, Mapping
from dataclasses import dataclass
from typing import Protocol

import torch

from .config import ColourMapSettings, SeparationConfig
from .data import Normalisation, SeparationInputs
from .devices import is_out_of_memory
from .errors import InputError, TrainingError
from .inference import Components
from .model import ConnectedAutoEncoder
from .trained import TrainedModel, new_colour_map


class StopFlag(Protocol):
    """Anything with ``is_set()``, e.g. :class:`threading.Event`."""

    def is_set(self) -> bool: ...


class TrainingDiverged(TrainingError):
    """The loss became NaN or infinite; ``model`` holds the weights of the last good step."""


class TrainingFailed(TrainingError):
    """A step could not be computed (out of memory); ``model`` holds the weights before it."""


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


UNIT = Normalisation(offset=0.0, scale=1.0)
# The shipped warm-start weights for a config's architecture (with 3 photograph channels): what
# reads them from the installation (:func:`napari_xraysep.io.warmstart.warm_start_state`) is handed
# in by the caller, as the core reads no file.
ShippedWeights = Callable[[SeparationConfig], Mapping[str, torch.Tensor]]


def new_model(
    config: SeparationConfig,
    rgb_channels: int = 3,
    x_normalisation: Normalisation = UNIT,
    rgb_normalisation: Normalisation = UNIT,
    side_normalisations: tuple[Normalisation, ...] = (),
    shipped_weights: ShippedWeights | None = None,
) -> TrainedModel:
    """A model to fit: an empty colour map, or an auto-encoder from the shipped warm start if
    ``config.method.warm_start`` (read by ``shipped_weights``, which must then be given), else a random one
    seeded by ``config.seed`` without touching the global RNG."""
    if isinstance(config.method, ColourMapSettings):
        colour_map = new_colour_map(config, rgb_channels)
        return TrainedModel(colour_map, config, x_normalisation, rgb_normalisation, side_normalisations=side_normalisations)
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(config.seed)
        network = ConnectedAutoEncoder(rgb_channels=rgb_channels, **config.method.shape())
    if config.method.warm_start:
        if shipped_weights is None:
            raise InputError(
                "The warm start needs the shipped weights, which were not handed to the core: use "
                "napari_xraysep.separate (or pass shipped_weights=napari_xraysep.io.warmstart.warm_start_state), "
                "or set warm_start=False."
            )
        _load_overlap(network, shipped_weights(config))
    return TrainedModel(network, config, x_normalisation, rgb_normalisation, side_normalisations=side_normalisations)


def _load_overlap(network: ConnectedAutoEncoder, state: dict[str, torch.Tensor]) -> None:
    """Load weights trained for the photograph's 3 channels into a network that may read side
    channels too: the RGB part of ``E_r``'s first and ``D_r``'s last layer comes from ``state``,
    the side channels' part keeps its random initialisation."""
    own = network.state_dict()
    for name, value in state.items():
        target = own[name]
        overlap = tuple(slice(0, min(a, b)) for a, b in zip(target.shape, value.shape))
        target[overlap] = value[overlap]
    network.load_state_dict(own)


def new_model_for(
    inputs: SeparationInputs, config: SeparationConfig, shipped_weights: ShippedWeights | None = None
) -> TrainedModel:
    """A new model shaped for these inputs (photograph and side channels, one side or two) and mapping
    their units (``shipped_weights`` as for :func:`new_model`)."""
    model = new_model(
        config, inputs.rgb_surface.shape[0], inputs.x_normalisation, inputs.rgb_normalisation, inputs.side_normalisations,
        shipped_weights,
    )
    model.double_sided = inputs.double_sided
    return model


def check_trainable(shape: tuple[int, int], config: SeparationConfig, needs: str) -> None:
    """InputError unless both sides of an image of ``shape`` (H, W) reach ``config.min_image_size``;
    ``needs`` says what sets that size, to end the message."""
    if min(shape) < config.min_image_size:
        raise InputError(
            f"The images are {shape[0]}×{shape[1]} pixels, smaller than the "
            f"{config.min_image_size}×{config.min_image_size} {needs}."
        )


# One step of a method: given the step's number (from 1), update the weights and return the step's
# losses (a "total" among them), or None when the method has nothing left to do.
Step = Callable[[int], dict[str, float] | None]


@dataclass(frozen=True)
class StepGuard:
    """What a method's failed step says, and how far back a non-finite loss reaches.

    ``out_of_memory`` and ``diverged`` are messages with the fields ``{step}`` (the step that
    failed), ``{kept}`` (the steps the kept model has trained) and, for ``diverged``, ``{loss}``.
    ``condemns`` is how many earlier steps a non-finite loss undoes besides its own: 0 when a step's
    loss judges the weights that step produced (a colour-map solve), 1 when it judges the weights the
    step started from (an Adam step computes its loss before it updates).
    """

    out_of_memory: str
    diverged: str
    condemns: int = 0


def snapshot(network: torch.nn.Module) -> dict[str, torch.Tensor]:
    """A copy of the weights to fall back on (small: neither method has more than ~10⁵ parameters)."""
    return {name: value.detach().clone() for name, value in network.state_dict().items()}


def guarded_steps(
    model: TrainedModel,
    step: Step,
    total: int,
    guard: StepGuard,
    *,
    stop: StopFlag | None = None,
    preview: Callable[[], Components] | None = None,
    preview_every: int = 0,
) -> Generator[TrainingProgress, None, None]:
    """Run ``step`` for steps 1…``total`` on ``model.network``, yielding a :class:`TrainingProgress` after each.

    Stops before the next step once ``stop`` is set, or when ``step`` returns None. Every finished
    step adds one to ``model.steps_trained`` and its losses to ``model.loss_history``;
    ``preview()`` (in eval mode) rides on every ``preview_every``-th step and the last. The network
    trains in train mode and is left in eval mode, however the loop ends.

    Raises
    ------
    TrainingFailed
        A step ran out of memory; the weights are those from before it.
    TrainingDiverged
        A step's total loss was not finite; the weights, step count and history are rolled back by
        ``guard.condemns`` steps more than the failed one (see :class:`StepGuard`).
    BaseException
        Anything else a step raises (a bug, an interrupt) passes through, after the weights from
        before the step are restored.
    """
    network = model.network
    steps_before, history_before = model.steps_trained, len(model.loss_history)
    # The weights after each of the last ``condemns + 1`` finished steps (or at the start): what a
    # failed step falls back on.
    good: deque[dict[str, torch.Tensor]] = deque([snapshot(network)], maxlen=guard.condemns + 1)
    started = time.perf_counter()
    network.train()
    try:
        for number in range(1, total + 1):
            if stop is not None and stop.is_set():
                break
            try:
                losses = step(number)
            except BaseException as error:
                # Whatever broke the step (memory, a bug, an interrupt) may have left half-updated
                # weights: hand back the model as it was before the step.
                network.load_state_dict(good[-1])
                if is_out_of_memory(error):
                    message = guard.out_of_memory.format(step=number, kept=model.steps_trained)
                    raise TrainingFailed(message, model) from error
                raise
            if losses is None:
                break
            if not math.isfinite(losses["total"]):
                network.load_state_dict(good[0])
                model.steps_trained = steps_before + max(number - 1 - guard.condemns, 0)
                del model.loss_history[history_before + model.steps_trained - steps_before :]
                raise TrainingDiverged(
                    guard.diverged.format(step=number, kept=model.steps_trained, loss=losses["total"]), model
                )
            good.append(snapshot(network))
            model.steps_trained += 1
            model.loss_history.append(losses)
            shown = None
            if preview is not None and preview_every and (number % preview_every == 0 or number == total):
                shown = preview()
                network.train()
            elapsed = time.perf_counter() - started
            yield TrainingProgress(number, total, losses, elapsed, elapsed / number * (total - number), shown)
    finally:
        network.eval()
