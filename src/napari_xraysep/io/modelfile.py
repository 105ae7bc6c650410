"""Saving and loading trained models.

A model file is a plain dictionary of tensors, numbers and strings written by :func:`torch.save` and
read back with ``weights_only=True``: a file that carries executable pickle code is refused, never
run. It holds what applying the model to new data needs — the method and its fitted parameters
(the auto-encoder's weights, or the colour map's β, clusters, PSF, weave frequencies and level),
settings, the intensity normalisations of the images it was trained on — and the package version
that wrote it.

Format 3 records the settings nested, one settings type per method
(:meth:`~napari_xraysep.core.config.SeparationConfig.to_dict`). Format 2 (napari-xraysep 0.2) recorded
them flat with the method named; format 1 (0.1, auto-encoders only) flat without it. Both still load:
their flat settings are mapped onto the method's type (:meth:`~napari_xraysep.core.config.SeparationConfig.from_dict`).
A file also says whether the model was fitted to a double-sided panel (``double_sided``: an optional
key, which older files lack).
"""

from __future__ import annotations

import functools
import os
import pickle
import warnings
import zipfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

import torch

from .._version import __version__
from ..core.calibration import UnitFit
from ..core.config import ColourMapSettings, SeparationConfig
from ..core.data import Normalisation
from ..core.errors import InputError, ModelFileError
from ..core.model import ConnectedAutoEncoder
from ..core.trained import TrainedModel, new_colour_map
from .files import atomic_write

MODEL_FORMAT = "napari-xraysep-model"
MODEL_FORMAT_VERSION = 3
READABLE_VERSIONS = (1, 2, 3)


def model_to_dict(model: TrainedModel) -> dict[str, Any]:
    return {
        "format": MODEL_FORMAT,
        "format_version": MODEL_FORMAT_VERSION,
        "package_version": __version__,
        "method": model.config.method.name,
        "config": model.config.to_dict(),
        "rgb_channels": model.network.rgb_channels,
        "x_normalisation": model.x_normalisation.to_dict(),
        "rgb_normalisation": model.rgb_normalisation.to_dict(),
        "side_normalisations": [n.to_dict() for n in model.side_normalisations],
        "side_names": list(model.side_names),
        "rgb_storage": None if model.rgb_storage is None else list(model.rgb_storage),
        "side_dtypes": list(model.side_dtypes),
        "x_reference": None if model.x_reference is None else model.x_reference.to_dict(),
        "double_sided": model.double_sided,
        "steps_trained": model.steps_trained,
        "loss_history": model.loss_history,
        "state_dict": {name: value.detach().cpu() for name, value in model.network.state_dict().items()},
    }


def save_model(model: TrainedModel, path: str | os.PathLike[str]) -> Path:
    """Write ``model`` to ``path`` atomically (a temporary file renamed into place). Raises
    :class:`TypeError` if ``model`` is not a :class:`TrainedModel` (e.g. ``result.model`` of a run that
    was never made)."""
    if not isinstance(model, TrainedModel):
        raise TypeError(
            f"save_model needs a TrainedModel (a separation result's .model, or load_model's); got {type(model).__name__}."
        )
    data = model_to_dict(model)

    def write(temporary: str) -> None:
        try:
            torch.save(data, temporary)
        except RuntimeError as error:  # torch reports a failed write (a full disk, say) this way
            raise OSError(str(error)) from error

    return atomic_write(path, write)


def checkpoint_to(path: str | os.PathLike[str]) -> Callable[[TrainedModel], Path]:
    """A checkpoint for :func:`~napari_xraysep.core.separation.iter_separate`: saves the model it is
    handed to ``path`` (:func:`save_model`) and returns ``path``."""
    return functools.partial(save_model, path=path)


def load_model(path: str | os.PathLike[str]) -> TrainedModel:
    """Read a model file; anything that is not one of ours raises :class:`ModelFileError`."""
    path = Path(path)
    if not path.is_file():
        what = "is a folder, not a model file" if path.is_dir() else "does not exist"
        raise ModelFileError(f"Model file {path} {what}.")
    if not zipfile.is_zipfile(path):  # torch.save writes zip archives; never unpickle anything else
        raise ModelFileError(f"{path} is not a napari-xraysep model file (not a PyTorch archive).")
    try:
        data = torch.load(path, map_location="cpu", weights_only=True)
    except pickle.UnpicklingError as error:
        raise ModelFileError(
            f"{path} contains code or objects a model file never holds; it was refused and not run."
        ) from error
    except Exception as error:  # damaged files make the unpickler raise almost any type
        raise ModelFileError(f"{path} is not a readable napari-xraysep model file ({error}).") from error
    return model_from_dict(data, source=str(path))


def model_from_dict(data: Any, source: str = "the model") -> TrainedModel:
    if not isinstance(data, dict) or data.get("format") != MODEL_FORMAT:
        raise ModelFileError(f"{source} is not a napari-xraysep model file.")
    version = data.get("format_version")
    if version not in READABLE_VERSIONS:
        raise ModelFileError(
            f"{source} has model format {version!r} (written by napari-xraysep "
            f"{data.get('package_version', '?')}); this version reads formats {', '.join(map(str, READABLE_VERSIONS))}."
        )
    try:
        # Format 1 predates the colour map: its settings name no method and meant the auto-encoder
        # (no weave in its colour-map names, as 0.1's preset had it).
        settings = dict(data["config"]) if version > 1 else {**data["config"], "method": "autoencoder", "weave": False}
        # The device belongs to the machine that applies the model, not to the model: one fitted on a
        # workstation's GPU must apply on a laptop without it.
        settings["device"] = "auto"
        config = SeparationConfig.from_dict(settings)
        rgb_channels = int(data["rgb_channels"])
        if isinstance(config.method, ColourMapSettings):
            network = new_colour_map(config, rgb_channels)
        else:
            network = ConnectedAutoEncoder(rgb_channels=rgb_channels, **config.method.shape())
        network.load_state_dict(data["state_dict"])
        return TrainedModel(
            network=network.eval(),
            config=config,
            x_normalisation=Normalisation(**data["x_normalisation"]),
            rgb_normalisation=Normalisation(**data["rgb_normalisation"]),
            steps_trained=int(data["steps_trained"]),
            loss_history=list(data["loss_history"]),
            side_normalisations=tuple(Normalisation(**n) for n in data.get("side_normalisations", [])),
            x_reference=UnitFit(**data["x_reference"]) if data.get("x_reference") else None,
            double_sided=_double_sided(data, config, source),
            side_names=tuple(str(name) for name in data.get("side_names", [])),
            rgb_storage=_storage(data.get("rgb_storage")),
            side_dtypes=tuple(str(dtype) for dtype in data.get("side_dtypes", [])),
        )
    except (KeyError, TypeError, RuntimeError, InputError) as error:
        raise ModelFileError(f"{source} is damaged or inconsistent: {error}") from error


def _storage(record: Any) -> tuple[str, float] | None:
    """The photograph's (type, full brightness) as saved; None when not kept (files before 2026-12-06)."""
    return None if not record else (str(record[0]), float(record[1]))


def _double_sided(data: dict[str, Any], config: SeparationConfig, source: str) -> bool | None:
    """Whether the model was fitted to a double-sided panel: as recorded, else as an
    auto-encoder's losses show it (a back photograph's term, or the exclusion loss of one side); a
    colour map saved before it was recorded cannot tell, and is said to be unchecked."""
    if data.get("double_sided") is not None:
        return bool(data["double_sided"])
    last = data["loss_history"][-1] if data.get("loss_history") else {}
    if config.method.name == "autoencoder" and ("rgb_back" in last or "exclusion" in last):
        return "rgb_back" in last
    warnings.warn(
        f"{source} does not record whether it was fitted to a double-sided panel (saved by napari-xraysep "
        f"{data.get('package_version', '?')}): it is applied as given, with or without a back side's photograph.",
        UserWarning,
        stacklevel=3,
    )
    return None
