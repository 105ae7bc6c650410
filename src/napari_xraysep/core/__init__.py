"""The separation science, free of Qt, napari and files: data prep, x̄1, model, losses, training,
inference, refinement, the areas a whole painting is trained on (files in and out: :mod:`napari_xraysep.io`)."""

from .autoencoder_fit import fit
from .config import PRESETS, AutoEncoderSettings, ColourMapSettings, SeparationConfig
from .data import Normalisation, SeparationInputs, prepare_inputs
from .devices import available_devices, resolve_device
from .errors import InputError, ModelFileError, OutputError, StoppedError, TrainingError, XraySepError
from .fitting import train
from .inference import Components, predict
from .labeled import grayscale, labeled_surface_xray, match_intensity
from .losses import double_sided_loss, exclusion_loss, reconstruction_loss, separation_loss, warm_start_loss
from .model import ConnectedAutoEncoder
from .objectives import Objective, double_sided_objective, warm_start_objective
from .refine import RefinedSeparation, refine
from .regions import region_from_boxes
from .result import RESULT_LAYERS, SeparationResult
from .separation import iter_separate, separate
from .trained import TrainedModel
from .training import TrainingDiverged, TrainingFailed, TrainingProgress, new_model

__all__ = [
    "PRESETS",
    "RESULT_LAYERS",
    "AutoEncoderSettings",
    "ColourMapSettings",
    "Components",
    "ConnectedAutoEncoder",
    "InputError",
    "ModelFileError",
    "Normalisation",
    "Objective",
    "OutputError",
    "RefinedSeparation",
    "SeparationConfig",
    "SeparationInputs",
    "SeparationResult",
    "StoppedError",
    "TrainedModel",
    "TrainingDiverged",
    "TrainingError",
    "TrainingFailed",
    "TrainingProgress",
    "XraySepError",
    "available_devices",
    "double_sided_loss",
    "double_sided_objective",
    "exclusion_loss",
    "fit",
    "grayscale",
    "iter_separate",
    "labeled_surface_xray",
    "match_intensity",
    "new_model",
    "predict",
    "prepare_inputs",
    "reconstruction_loss",
    "refine",
    "region_from_boxes",
    "resolve_device",
    "separate",
    "separation_loss",
    "train",
    "warm_start_loss",
    "warm_start_objective",
]
