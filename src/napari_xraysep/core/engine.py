"""Training and inference of both methods: the colour map (the default) and the connected auto-encoder.

:func:`train` is a generator: it yields a :class:`TrainingProgress` after every optimisation step
(a colour-map solve, or an Adam step of the auto-encoder) and returns the :class:`TrainedModel` when
it ends — after the requested steps or, at the next step, once the caller's stop flag is set. A GUI
runs it in a worker thread and reacts to the events; a CLI prints them; neither reaches into the
loop. Both methods run on the same devices and give the same four outputs (x̂1, x̂2, x̂, weave).
"""

from __future__ import annotations

import math
import time
import warnings
from collections.abc import Callable, Generator, Iterator
from dataclasses import dataclass
from typing import Protocol

import numpy as np
import torch

from .colourmap import ColourMap, FitSettings, fit_colour_map, sample_index, set_constant
from .config import SeparationConfig
from .data import MISSING_FILL, Normalisation, SeparationInputs
from .errors import InputError, TrainingError
from .labeled import labeled_surface_xray
from .losses import double_sided_loss, separation_loss, warm_start_loss
from .model import AutoEncoderOutputs, ConnectedAutoEncoder
from .progress import drive
from .tiling import Tile, patch_grid, random_corners, sample_blocks, tiles
from .trained import Separator, TrainedModel, new_colour_map
from .warmstart import warm_start_state

INFERENCE_PATCH_BATCH = 256
# The colour map fits on at most this many pixels (blocks spread over a larger image): its fit keeps
# three copies of ~55 feature maps, ~0.7 GB per megapixel.
COLOUR_MAP_FIT_PIXELS, COLOUR_MAP_FIT_BLOCK = 1 << 20, 512


class StopFlag(Protocol):
    """Anything with ``is_set()``, e.g. :class:`threading.Event`."""

    def is_set(self) -> bool: ...


class TrainingDiverged(TrainingError):
    """The loss became NaN or infinite; ``model`` holds the weights of the last good step."""


class TrainingFailed(TrainingError):
    """A step could not be computed (out of memory); ``model`` holds the weights before it."""


def _is_out_of_memory(error: BaseException) -> bool:
    """CUDA, MPS and CPU allocators each say it differently."""
    if isinstance(error, (MemoryError, torch.cuda.OutOfMemoryError)):
        return True
    text = str(error).lower()
    return isinstance(error, RuntimeError) and ("out of memory" in text or "can't allocate memory" in text)


@dataclass(frozen=True)
class Components:
    """A method's X-ray outputs for a whole image, (H, W) float32: step 1's estimates, the
    reconstruction of the mixed X-ray and the canvas weave (zero for the auto-encoder)."""

    x1_hat: np.ndarray
    x2_hat: np.ndarray
    x_hat: np.ndarray
    weave: np.ndarray


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


UNIT = Normalisation(offset=0.0, scale=1.0)


def new_model(
    config: SeparationConfig,
    rgb_channels: int = 3,
    x_normalisation: Normalisation = UNIT,
    rgb_normalisation: Normalisation = UNIT,
    side_normalisations: tuple[Normalisation, ...] = (),
) -> TrainedModel:
    """A model to fit: an empty colour map, or an auto-encoder from the shipped warm start if
    ``config.warm_start``, else a random one seeded by ``config.seed`` without touching the global RNG."""
    if config.method == "colour_map":
        colour_map = new_colour_map(config, rgb_channels)
        return TrainedModel(colour_map, config, x_normalisation, rgb_normalisation, side_normalisations=side_normalisations)
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(config.seed)
        network = ConnectedAutoEncoder(
            channels=config.channels,
            kernel_size=config.kernel_size,
            rgb_channels=rgb_channels,
            output_layer=config.output_layer,
        )
    if config.warm_start:
        _load_overlap(network, warm_start_state(config))
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


def new_model_for(inputs: SeparationInputs, config: SeparationConfig) -> TrainedModel:
    """A new model shaped for these inputs (photograph and side channels) and mapping their units."""
    return new_model(
        config, inputs.rgb_surface.shape[0], inputs.x_normalisation, inputs.rgb_normalisation, inputs.side_normalisations
    )


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
    if inputs.region_mask.all():
        warnings.warn(
            "The region covers the whole image, so the auto-encoder learns the surface from the photograph in "
            "grey everywhere; draw the region only where the hidden design shows, for a better separation.",
            UserWarning,
            stacklevel=2,
        )
    c = inputs.rgb_surface.shape[0]
    # x̄1 pastes the photograph's grayscale; side channels (after the RGB) join its intensity match,
    # so that surface absorbers the photograph cannot show (copper) are in the label too.
    surface = colour_map_surface(inputs, config) if config.label_match == "colour_map" else None
    label = labeled_surface_xray(
        inputs.x_mixed, inputs.rgb_surface[:3], inputs.region_mask, config.label_match,
        side_maps=inputs.rgb_surface[3:], surface_estimate=surface, valid=inputs.valid,
    )

    def loss(batch: torch.Tensor, outputs: AutoEncoderOutputs) -> dict[str, torch.Tensor]:
        return separation_loss(
            batch[:, :c],
            batch[:, c : c + 1],
            batch[:, c + 1 :],
            outputs,
            config.exclusion_weight,
            levels=config.exclusion_levels,
            loss_norm=config.loss_norm,
            scaling=config.exclusion_scaling,
        )

    stack = np.concatenate([inputs.rgb_surface, inputs.x_mixed[None], label[None]])[None]
    return Objective("concealed", stack, c, False, loss, inputs.valid)


def colour_map_surface(inputs: SeparationInputs, config: SeparationConfig) -> np.ndarray:
    """x̂1 of a colour map fitted to ``inputs`` with ``config``'s colour-map settings (unit range, (H, W))."""
    settings = config.replace(method="colour_map", steps=None, preview_every=0)
    model = drive(fit_colour_map_model(inputs, settings, new_model_for(inputs, settings)))
    return predict(model, inputs, resolve_device(config.device)).x1_hat


def double_sided_objective(inputs: SeparationInputs, config: SeparationConfig) -> Objective:
    """Refs [13, 14]: both photographs reconstructed, x = x̂1 + x̂2 (no region needed)."""
    if inputs.rgb_back is None:
        raise InputError("A double-sided separation needs the back side's photograph.")
    c = inputs.rgb_surface.shape[0]

    def loss(batch: torch.Tensor, outputs: AutoEncoderOutputs) -> dict[str, torch.Tensor]:
        return double_sided_loss(batch[:, :c], batch[:, c : 2 * c], batch[:, 2 * c : 2 * c + 1], outputs, config.loss_norm)

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
        return warm_start_loss(batch[:, :c], batch[:, c + 1 : c + 2], batch[:, c + 2 : c + 3], outputs, config.loss_norm)

    stack = np.concatenate([rgb_surfaces, x_mixed[:, None], x1_labels[:, None], x2_labels[:, None]], axis=1)
    return Objective("warm_start", np.ascontiguousarray(stack, dtype=np.float32), c, False, loss)


def objective_for(inputs: SeparationInputs, config: SeparationConfig) -> Objective:
    """Double-sided when the back side's photograph is given, else the concealed-design method."""
    return double_sided_objective(inputs, config) if inputs.double_sided else concealed_objective(inputs, config)


def whole_windows(valid: np.ndarray, size: int) -> np.ndarray:
    """(H − size + 1, W − size + 1) bool: True at the corners of ``size``×``size`` windows of
    ``valid`` (H, W) whose every pixel is True (a summed-area table of the missing pixels)."""
    table = np.pad(np.cumsum(np.cumsum(~valid, axis=0, dtype=np.int64), axis=1), ((1, 0), (1, 0)))
    missing = table[size:, size:] - table[:-size, size:] - table[size:, :-size] + table[:-size, :-size]
    return missing == 0


def _batch_sampler(
    config: SeparationConfig, images: int, shape: tuple[int, int], rng: np.random.Generator, valid: np.ndarray | None = None
):
    """Endless (corners, size) batches, corners (image, y, x): random crops (fast) or the shuffled
    patch grid of every image (paper). With ``valid`` (one image), only crops free of missing
    pixels; InputError if there is none."""
    size = min(config.crop_size, *shape) if config.mode == "fast" else config.patch_size
    allowed = None if valid is None else whole_windows(valid, size)
    if allowed is not None and not allowed.any():
        raise InputError(
            f"Every {size}×{size} crop of the image holds missing (NaN or infinite) pixels, so the auto-encoder "
            "cannot train; crop the images to where they have data, or use the colour map (the default)."
        )
    if config.mode == "fast" and allowed is not None:
        corners = np.argwhere(allowed)
        while True:
            yield np.concatenate([np.zeros((config.batch_size, 1), int), corners[rng.integers(0, len(corners), config.batch_size)]], axis=1), size
    if config.mode == "fast":
        while True:
            # One image draws no index, so single-image runs keep the random stream they always had.
            which = rng.integers(0, images, size=config.batch_size) if images > 1 else np.zeros(config.batch_size, int)
            yield np.concatenate([which[:, None], random_corners(rng, shape, size, config.batch_size)], axis=1), size
    grid = patch_grid(shape, config.patch_size, config.patch_stride)
    if allowed is not None:
        grid = grid[allowed[grid[:, 0], grid[:, 1]]]
    grid = np.concatenate([np.repeat(np.arange(images), len(grid))[:, None], np.tile(grid, (images, 1))], axis=1)
    while True:
        order = rng.permutation(len(grid))
        for start in range(0, len(order), config.batch_size):
            yield grid[order[start : start + config.batch_size]], config.patch_size


def _gather(stack: torch.Tensor, corners: np.ndarray, size: int) -> torch.Tensor:
    """(N, C, size, size) crops of an (images, C, H, W) tensor at (image, y, x) corners."""
    return torch.stack([stack[i, :, y : y + size, x : x + size] for i, y, x in corners.tolist()])


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


def _snapshot(network: torch.nn.Module) -> dict[str, torch.Tensor]:
    """A copy of the weights (small: the network has ~10⁵ parameters) to fall back on."""
    return {name: value.detach().clone() for name, value in network.state_dict().items()}


def train(
    inputs: SeparationInputs,
    config: SeparationConfig,
    model: TrainedModel | None = None,
    stop: StopFlag | None = None,
) -> Generator[TrainingProgress, None, TrainedModel]:
    """Train on one image for ``config.training_steps`` steps: the colour map (refitted from scratch,
    with ``model``'s shape if given) or the auto-encoder (continued from ``model`` if given), for a
    concealed design, or double-sided when the inputs carry a back side. See :func:`fit` and
    :func:`fit_colour_map_model`."""
    model = model or new_model_for(inputs, config)
    if isinstance(model.network, ColourMap):
        return (yield from fit_colour_map_model(inputs, config, model, stop))
    objective = objective_for(inputs, config)
    return (yield from fit(objective, config, model, stop, preview_inputs=inputs))


def fit_colour_map_model(
    inputs: SeparationInputs,
    config: SeparationConfig,
    model: TrainedModel,
    stop: StopFlag | None = None,
) -> Generator[TrainingProgress, None, TrainedModel]:
    """Fit ``model``'s colour map to the image (:func:`~.colourmap.fit_colour_map`; on blocks spread
    over it if it has more than COLOUR_MAP_FIT_PIXELS), one progress event per weighted solve,
    previews of the whole image every ``config.preview_every`` solves.

    Stopped early, the model keeps the last solve (and is usable). A solve that runs out of memory
    raises :class:`TrainingFailed`, a non-finite one :class:`TrainingDiverged`; either way the model
    keeps the parameters of the last good solve.
    """
    if min(inputs.shape) < config.min_image_size:
        raise InputError(
            f"The images are {inputs.shape[0]}×{inputs.shape[1]} pixels, smaller than the "
            f"{config.min_image_size}×{config.min_image_size} the colour map needs to fit."
        )
    device = resolve_device(config.device)
    network = model.network.to(device)
    blocks = sample_blocks(inputs.shape, COLOUR_MAP_FIT_PIXELS, COLOUR_MAP_FIT_BLOCK)

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
    settings = FitSettings(
        steps=config.training_steps,
        passes=config.passes,
        highpass_sigma=config.highpass_sigma,
        region_weight=config.region_weight,
        reweight_sigma=config.reweight_sigma,
        reweight_strength=config.reweight_strength,
        weave=config.weave,
        robust=config.robust,
        seed=config.seed,
    )
    solves = fit_colour_map(network, rgb, x, settings, rgb_back=back, region=region, valid=valid)
    total, started = settings.steps, time.perf_counter()
    last_good = _snapshot(network)
    with torch.no_grad():
        for step in range(1, total + 1):
            if stop is not None and stop.is_set():
                break
            try:
                progress = next(solves)
            except StopIteration:
                break
            except BaseException as error:
                network.load_state_dict(last_good)
                if _is_out_of_memory(error):
                    raise TrainingFailed(
                        f"The colour map ran out of memory at step {step} on {device}; separate a smaller "
                        f"area or use the CPU. The fit of step {model.steps_trained} is kept.",
                        model,
                    ) from error
                raise
            if not math.isfinite(progress.losses["total"]):
                network.load_state_dict(last_good)
                raise TrainingDiverged(
                    f"The colour-map fit failed at step {step} (the loss became {progress.losses['total']}); "
                    f"check the images for flat or saturated areas. The fit of step {model.steps_trained} is kept.",
                    model,
                )
            last_good = _snapshot(network)
            model.steps_trained += 1
            model.loss_history.append(progress.losses)
            preview = None
            if config.preview_every and (step % config.preview_every == 0 or step == total):
                set_constant(network, rgb, x, sample_index(valid, config.seed), back)
                preview = predict(model, inputs, device=device)
            elapsed = time.perf_counter() - started
            yield TrainingProgress(step, total, progress.losses, elapsed, elapsed / step * (total - step), preview)
        solves.close()
        # The fit sets the level of x̂1 when it completes; stopped early, it is set here.
        set_constant(network, rgb, x, sample_index(valid, config.seed), back)
    return model


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
    :class:`TrainingDiverged` on a non-finite loss, leaving ``model`` with the last weights that
    gave a finite loss (and its step count and history to match).
    """
    if min(objective.shape) < config.min_image_size:
        raise InputError(
            f"The images are {objective.shape[0]}×{objective.shape[1]} pixels, smaller than the "
            f"{config.min_image_size}×{config.min_image_size} patch training needs."
        )
    device = resolve_device(config.device)
    network = model.network.to(device).train()
    stack = torch.from_numpy(objective.stack).to(device)

    optimizer = torch.optim.Adam(network.parameters(), lr=config.learning_rate)
    batches = _batch_sampler(
        config, len(objective.stack), objective.shape, np.random.default_rng([config.seed, model.steps_trained]),
        objective.valid,
    )
    total, started = config.training_steps, time.perf_counter()
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
        try:
            losses = _optimisation_step(objective, network, optimizer, _gather(stack, corners, size))
        except BaseException as error:
            # Whatever broke the step (memory, a bug, an interrupt) may have left half-updated
            # weights: hand back the model as it was before the step.
            network.load_state_dict(current)
            network.eval()
            if _is_out_of_memory(error):
                raise TrainingFailed(
                    f"Training ran out of memory at step {step} on {device}; lower crop_size, batch_size or "
                    f"channels, or use the CPU. The model of step {model.steps_trained} is kept.",
                    model,
                ) from error
            raise
        if not math.isfinite(losses["total"]):
            network.load_state_dict(previous)
            network.eval()
            kept = max(step - 2, 0)
            model.steps_trained = steps_before + kept
            del model.loss_history[history_before + kept :]
            raise TrainingDiverged(
                f"Training diverged at step {step} (the loss became {losses['total']}); "
                f"lower the learning rate and try again. The model of step {model.steps_trained} is kept.",
                model,
            )
        model.steps_trained += 1
        model.loss_history.append(losses)

        preview = None
        if preview_inputs is not None and config.preview_every and (step % config.preview_every == 0 or step == total):
            preview = predict(model, preview_inputs, device=device)
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
    """x̂1, x̂2, x̂ and the weave for the whole image: tiled (every method; tiles equal a whole-image
    pass), or patch-averaged for the auto-encoder in the paper's mode.

    Double-sided inputs (a back side's photograph) use the double-sided model. Missing pixels
    (``inputs.valid`` False) are NaN in every output.
    """
    device = device or resolve_device(model.config.device)
    network = model.network.to(device).eval()
    photos = [inputs.rgb_surface] + ([inputs.rgb_back] if inputs.double_sided else [])
    stack = torch.from_numpy(np.concatenate([*photos, inputs.x_mixed[None]]))
    decode = decoder(network, inputs.double_sided)
    patches = isinstance(network, ConnectedAutoEncoder) and model.config.mode == "paper"
    if patches and min(inputs.shape) >= model.config.patch_size:
        out = _predict_patch_average(decode, stack, model.config, device)
    else:
        out = _predict_tiled(decode, stack, model.config.tile_size, network.receptive_radius, device)
    if inputs.valid is not None:
        out[:, ~inputs.valid] = np.nan
    return Components(x1_hat=out[0], x2_hat=out[1], x_hat=out[2], weave=out[3])


Decoder = Callable[[torch.Tensor], torch.Tensor]


# The four outputs every model gives, in this order (channels of a decoded block).
OUTPUTS = ("x1_hat", "x2_hat", "x_hat", "weave")


def decoder(network: Separator, double_sided: bool) -> Decoder:
    """(N, C, h, w) stacked photograph(s) + X-ray → (N, 4, h, w): x̂1, x̂2, x̂, weave (:data:`OUTPUTS`)."""
    c = network.rgb_channels

    def decode(block: torch.Tensor) -> torch.Tensor:
        back = block[:, c : 2 * c] if double_sided else None
        return network.components(block[:, :c], block[:, -1:], rgb_back=back)

    return decode


BlockReader = Callable[[tuple[slice, slice]], np.ndarray]


def decode_block(decode: Decoder, block: np.ndarray, device: torch.device) -> np.ndarray:
    """(4, h, w) x̂1, x̂2, x̂, weave of a (C, h, w) unit-range block. Missing pixels (NaN or infinite
    in any channel) are read as MISSING_FILL, as in training, and are NaN in every output."""
    block = np.array(block, dtype=np.float32)
    missing = ~np.isfinite(block).all(axis=0)
    block[:, missing] = MISSING_FILL
    decoded = decode(torch.from_numpy(block)[None].to(device))[0].cpu().numpy()
    decoded[:, missing] = np.nan
    return decoded


def predicted_tiles(
    decode: Decoder, read_block: BlockReader, shape: tuple[int, int], tile_size: int, halo: int, device: torch.device
) -> Iterator[tuple[Tile, np.ndarray]]:
    """(tile, (4, h, w) x̂1, x̂2, x̂, weave of its core) for every halo'd tile; ``read_block(outer)`` gives the
    (C, h', w') unit-range input there (:func:`decode_block`). Only one tile is in memory at a time; with
    ``halo`` at least the receptive radius the cores equal a single whole-image pass (see :func:`tiles`)."""
    for tile in tiles(shape, tile_size, halo):
        yield tile, decode_block(decode, read_block(tile.outer), device)[(slice(None), *tile.inner)]


def _predict_tiled(
    decode: Decoder, stack: torch.Tensor, tile_size: int, halo: int, device: torch.device
) -> np.ndarray:
    """(4, H, W) from :func:`predicted_tiles` over an in-memory stack."""
    height, width = stack.shape[-2:]
    out = np.empty((len(OUTPUTS), height, width), dtype=np.float32)
    array = stack.numpy()
    for tile, core in predicted_tiles(decode, lambda outer: array[(slice(None), *outer)], (height, width), tile_size, halo, device):
        out[(slice(None), *tile.core)] = core
    return out


def _predict_patch_average(
    decode: Decoder, stack: torch.Tensor, config: SeparationConfig, device: torch.device
) -> np.ndarray:
    """(4, H, W): the paper's reassembly — every grid patch decoded alone, overlaps averaged."""
    height, width = stack.shape[-2:]
    size = config.patch_size
    grid = patch_grid((height, width), size, config.patch_stride)
    stack = stack.to(device)[None]
    total = torch.zeros((len(OUTPUTS), height, width), device=device)
    count = torch.zeros((1, height, width), device=device)
    for start in range(0, len(grid), INFERENCE_PATCH_BATCH):
        corners = grid[start : start + INFERENCE_PATCH_BATCH]
        decoded = decode(_gather(stack, np.pad(corners, ((0, 0), (1, 0))), size))
        for (y, x), patch in zip(corners.tolist(), decoded):
            total[:, y : y + size, x : x + size] += patch
            count[:, y : y + size, x : x + size] += 1
    return (total / count).cpu().numpy()
