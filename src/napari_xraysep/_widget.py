"""Deprecated: the dock moved to :mod:`napari_xraysep.widgets` (napari.yaml points there)."""

from __future__ import annotations

import warnings
from typing import Any

from .widgets import XraySeparationWidget as _XraySeparationWidget


def __getattr__(name: str) -> Any:
    if name == "XraySeparationWidget":
        warnings.warn(
            "napari_xraysep._widget.XraySeparationWidget is deprecated; use napari_xraysep.widgets.XraySeparationWidget.",
            DeprecationWarning,
            stacklevel=2,
        )
        return _XraySeparationWidget
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
