"""napari writer: an Image layer to TIFF, float values and the run's provenance kept."""

from __future__ import annotations

from typing import Any

import numpy as np

from ..io import write_tiff
from .layers import METADATA_KEY, spacing_record


def write_image_tiff(path: str, data: Any, attributes: dict[str, Any]) -> list[str]:
    """Write the layer's full-resolution data as is (float32 stays float32) with its provenance and, for a
    layer in mm, its scale as the resolution tags."""
    array = np.asarray(data[0] if attributes.get("multiscale") else data)
    provenance = dict(attributes.get("metadata", {}).get(METADATA_KEY, {}))
    provenance.setdefault("layer_name", attributes.get("name"))
    spacing = spacing_record(attributes.get("scale", ()), attributes.get("units"))
    if spacing is not None:  # a layer in mm: its scale is the spacing
        provenance.setdefault("pixel_spacing", spacing)
    # a grayscale stack whose last axis happens to be 3 long stays grayscale pages, not colour
    write_tiff(path, array, provenance, rgb=bool(attributes.get("rgb", False)))
    return [path]
