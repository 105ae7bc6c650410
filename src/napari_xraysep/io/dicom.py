"""DICOM radiographs (pydicom, the optional ``[dicom]`` extra): the modality LUT applied, MONOCHROME1
inverted, the pixel spacing kept in the source's ``info``."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from ..core.errors import InputError
from .source import Geometry, ImageSource, InMemory, as_stored


def stored_range(dataset: Any) -> tuple[int, int]:
    """The lowest and highest value BitsStored and PixelRepresentation allow."""
    bits = int(dataset.get("BitsStored", dataset.get("BitsAllocated", 16)))
    if int(dataset.get("PixelRepresentation", 0)) == 1:
        return -(2 ** (bits - 1)), 2 ** (bits - 1) - 1
    return 0, 2**bits - 1


def open_dicom(path: Path) -> ImageSource:
    """One DICOM image as an :class:`ImageSource` (decoded whole).

    Grayscale values are those of the modality LUT (``RescaleSlope · stored + RescaleIntercept``, as
    float32 when they are not 1 and 0); MONOCHROME1 (minimum = white) is inverted over the stored
    range mapped the same way (``low + high − value``), so dense matter is bright as in MONOCHROME2.
    RGB images are read as they are. ``info["pixel_spacing_mm"]`` holds (row, column) spacing from
    PixelSpacing or ImagerPixelSpacing. Multi-frame files and other colour models are refused.
    """
    try:
        import pydicom
        from pydicom.errors import InvalidDicomError
    except ImportError as error:
        raise InputError(f"Reading the DICOM file {path.name} needs pydicom: pip install 'napari-xraysep[dicom]'.") from error
    try:
        dataset = pydicom.dcmread(path)
    except (InvalidDicomError, OSError, ValueError, EOFError) as error:
        raise InputError(f"Cannot read {path.name} as DICOM ({error}).") from error
    frames = int(dataset.get("NumberOfFrames", 1) or 1)
    if frames > 1:
        raise InputError(f"{path.name} holds {frames} frames, not one image; export the radiograph to use as a file of its own.")
    photometric = str(dataset.get("PhotometricInterpretation", ""))
    try:
        array = dataset.pixel_array
    except Exception as error:  # no decoder for the transfer syntax, or damaged pixel data
        raise InputError(f"Cannot decode the pixels of {path.name} ({error}).") from error
    info: dict[str, Any] = {"file": str(path), "format": "DICOM", "photometric": photometric, "modality": str(dataset.get("Modality", ""))}
    for tag in ("PixelSpacing", "ImagerPixelSpacing"):
        if tag in dataset:
            info["pixel_spacing_mm"], info["pixel_spacing_tag"] = [float(v) for v in dataset[tag].value], tag
            break
    if photometric in ("MONOCHROME1", "MONOCHROME2"):
        slope, intercept = float(dataset.get("RescaleSlope", 1) or 1), float(dataset.get("RescaleIntercept", 0) or 0)
        low, high = stored_range(dataset)
        if (slope, intercept) != (1.0, 0.0):
            info["rescale"] = {"slope": slope, "intercept": intercept}
            array = (array.astype(np.float64) * slope + intercept).astype(np.float32)
            low, high = sorted((low * slope + intercept, high * slope + intercept))
        if photometric == "MONOCHROME1":
            info["photometric"] += " (inverted on reading: dense = bright)"
            array = (np.asarray(low + high, dtype=np.float64 if array.dtype.kind == "f" else np.int64) - array).astype(array.dtype)
    elif photometric != "RGB":
        raise InputError(f"{path.name} stores its pixels as {photometric}, which napari-xraysep does not convert; export it as grayscale or RGB.")
    return ImageSource(path, InMemory(np.asarray(array)), as_stored, Geometry(), info)
