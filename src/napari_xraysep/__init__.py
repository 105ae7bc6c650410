"""napari-xraysep: separate the X-ray of a painting with a concealed design into surface and hidden X-rays.

The science lives in :mod:`napari_xraysep.core` (numpy + torch only); the CLI and the napari plugin
are thin faces over it.
"""

from __future__ import annotations

from typing import Any

from ._version import __version__

# The core's names, imported on first use (PEP 562): `xraysep --help` and napari's plugin discovery
# need the package, not torch.
_FROM_CORE = (
    "InputError", "ModelFileError", "OutputError", "SeparationConfig", "SeparationResult", "TrainedModel",
    "TrainingError", "XraySepError", "iter_separate", "load_model", "save_model", "separate",
)


def __getattr__(name: str) -> Any:
    if name in _FROM_CORE:
        from . import core

        return getattr(core, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


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
