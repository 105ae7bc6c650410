"""One call to fit either method to one image: :func:`train` hands the colour map to
:func:`~.colourmap_fit.fit_colour_map_model` and the auto-encoder to :func:`~.autoencoder_fit.fit`;
both run through the same guarded step loop (:func:`~.training.guarded_steps`)."""

from __future__ import annotations

from collections.abc import Generator

from .autoencoder_fit import fit
from .colourmap import ColourMap
from .colourmap_fit import fit_colour_map_model
from .config import SeparationConfig
from .data import SeparationInputs
from .objectives import objective_for
from .trained import TrainedModel
from .training import ShippedWeights, StopFlag, TrainingProgress, new_model_for


def train(
    inputs: SeparationInputs,
    config: SeparationConfig,
    model: TrainedModel | None = None,
    stop: StopFlag | None = None,
    shipped_weights: ShippedWeights | None = None,
) -> Generator[TrainingProgress, None, TrainedModel]:
    """Train on one image for ``config.training_steps`` steps: the colour map (refitted from scratch,
    with ``model``'s shape if given) or the auto-encoder (continued from ``model`` if given), for a
    concealed design, or double-sided when the inputs carry a back side.

    Yields a :class:`~.training.TrainingProgress` after every step and returns the model; stops at
    the next step once ``stop`` is set. Raises :class:`~.training.TrainingDiverged` or
    :class:`~.training.TrainingFailed` with the last good model, :class:`~.errors.InputError` for
    inputs the method cannot fit (no region for the auto-encoder, an image too small).
    ``shipped_weights``: the warm start's reader, for a new auto-encoder (:func:`~.training.new_model`).
    """
    model = model or new_model_for(inputs, config, shipped_weights)
    if isinstance(model.network, ColourMap):
        return (yield from fit_colour_map_model(inputs, config, model, stop))
    objective = objective_for(inputs, config)
    return (yield from fit(objective, config, model, stop, preview_inputs=inputs))
