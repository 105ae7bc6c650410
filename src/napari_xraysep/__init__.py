"""napari-xraysep: separate the X-ray of a painting with a concealed design into surface and hidden X-rays.

The science lives in :mod:`napari_xraysep.core` (numpy + torch only); the CLI and the napari plugin
are thin faces over it.
"""

from ._version import __version__
from .core import (
    InputError,
    ModelFileError,
    OutputError,
    SeparationConfig,
    SeparationResult,
    TrainedModel,
    TrainingError,
    XraySepError,
    iter_separate,
    load_model,
    save_model,
    separate,
)

__all__ = [
    "InputError",
    "ModelFileError",
    "OutputError",
    "SeparationConfig",
    "SeparationResult",
    "TrainedModel",
    "TrainingError",
    "XraySepError",
    "__version__",
    "iter_separate",
    "load_model",
    "save_model",
    "separate",
]
