"""napari-xraysep: separate the X-ray of a painting with a concealed design into surface and hidden X-rays.

The science lives in :mod:`napari_xraysep.core` (numpy + torch only, no files), every file in and
out in :mod:`napari_xraysep.io`, a whole painting's run in :mod:`napari_xraysep.pipeline`; the napari
plugin (:mod:`napari_xraysep.plugin`) and the ``xraysep`` command (:mod:`napari_xraysep.cli`) are thin
faces over them, and :mod:`napari_xraysep.datasets` makes synthetic paintings with ground truth.
"""

from __future__ import annotations

from typing import Any

from ._version import __version__

# The public names, imported on first use (PEP 562): `xraysep --help` and napari's plugin discovery
# need the package, not torch.
_FROM_CORE = (
    "AutoEncoderSettings", "ColourMapSettings", "InputError", "ModelFileError", "OutputError", "SeparationConfig",
    "SeparationResult", "StoppedError", "TrainedModel", "TrainingError", "XraySepError",
)
_FROM_IO = ("load_model", "save_model")
# The core's separation with the shipped warm-start weights handed in (the core reads no file).
_FROM_PIPELINE = ("iter_separate", "separate")


def __getattr__(name: str) -> Any:
    if name in _FROM_CORE:
        from . import core

        return getattr(core, name)
    if name in _FROM_IO:
        from . import io

        return getattr(io, name)
    if name in _FROM_PIPELINE:
        from . import pipeline

        return getattr(pipeline, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


__all__ = [
    "AutoEncoderSettings",
    "ColourMapSettings",
    "InputError",
    "ModelFileError",
    "OutputError",
    "SeparationConfig",
    "SeparationResult",
    "StoppedError",
    "TrainedModel",
    "TrainingError",
    "XraySepError",
    "__version__",
    "iter_separate",
    "load_model",
    "save_model",
    "separate",
]
