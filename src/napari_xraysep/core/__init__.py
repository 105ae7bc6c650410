"""The separation science, free of Qt and napari: data prep, x̄1, model, losses, engine, refinement."""

from .config import SeparationConfig
from .data import Normalisation, SeparationInputs, prepare_inputs, region_from_boxes
from .engine import (
    Components,
    TrainedModel,
    TrainingDiverged,
    TrainingProgress,
    available_devices,
    predict,
    resolve_device,
    train,
)
from .errors import InputError, ModelFileError, XraySepError
from .labeled import grayscale, labeled_surface_xray, match_intensity
from .losses import exclusion_loss, reconstruction_loss, separation_loss
from .model import ConnectedAutoEncoder
from .modelfile import load_model, save_model
from .refine import RefinedSeparation, refine
from .separation import RESULT_LAYERS, SeparationResult, iter_separate, separate

__all__ = [
    "RESULT_LAYERS",
    "Components",
    "ConnectedAutoEncoder",
    "InputError",
    "ModelFileError",
    "Normalisation",
    "RefinedSeparation",
    "SeparationConfig",
    "SeparationInputs",
    "SeparationResult",
    "TrainedModel",
    "TrainingDiverged",
    "TrainingProgress",
    "XraySepError",
    "available_devices",
    "exclusion_loss",
    "grayscale",
    "iter_separate",
    "labeled_surface_xray",
    "load_model",
    "match_intensity",
    "predict",
    "prepare_inputs",
    "reconstruction_loss",
    "refine",
    "region_from_boxes",
    "resolve_device",
    "save_model",
    "separate",
    "separation_loss",
    "train",
]
