"""DICOM radiographs and photographs (pydicom and the pylibjpeg decoders: the optional ``[dicom]`` extra).

Everything the dataset says about what its stored values mean is applied, wherever the dataset
stores it, or the file is refused in one line: the modality transform (Rescale Slope/Intercept or a
Modality LUT Sequence, at the top level or in the Pixel Value Transformation Sequence of the
functional groups), RT Dose Grid Scaling, MONOCHROME1, Pixel Padding, YBR and palette colour.
Display settings (window, VOI LUT, Presentation LUT Shape) are not applied: they change how values
are shown, not what they are. The pixel spacing is kept as metadata.
"""

from __future__ import annotations

import copy
import math
import warnings
from collections.abc import Callable
from decimal import Decimal
from pathlib import Path
from typing import Any

import numpy as np

from ..core.errors import InputError
from ..core.threads import PLAUSIBLE_MM
from .source import Geometry, ImageSource, InMemory, as_stored
from .spacing import tidy_mm

GRAYSCALE = ("MONOCHROME1", "MONOCHROME2")
# Where the enhanced (functional-group) IODs keep the modality transform and the pixel spacing.
FUNCTIONAL_GROUPS = ("SharedFunctionalGroupsSequence", "PerFrameFunctionalGroupsSequence")


def stored_range(bits_stored: int, signed: bool) -> tuple[int, int]:
    """The lowest and highest value ``bits_stored`` bits allow, two's complement when ``signed``."""
    if signed:
        return -(2 ** (bits_stored - 1)), 2 ** (bits_stored - 1) - 1
    return 0, 2**bits_stored - 1


# (0028,0030) PixelSpacing: read by _spacing only (a value that is no number leaves the size out, not the image).
PIXEL_SPACING_TAG = 0x00280030


def open_dicom(path: Path) -> ImageSource:
    """One DICOM image as an :class:`ImageSource` (decoded whole): (H, W) grayscale or (H, W, 3) RGB.

    Grayscale values are those of the modality transform: ``RescaleSlope · stored + RescaleIntercept``
    (float32 when not 1 and 0), or the Modality LUT Sequence's entries (as pydicom's
    ``apply_modality_lut``), taken from the top level or from the functional groups' Pixel Value
    Transformation Sequence; an RT dose grid is multiplied by its DoseGridScaling (float32).
    MONOCHROME1 (minimum = white) is inverted over the stored range mapped the same way
    (``low + high − value``; for a LUT, its lowest and highest entries), so dense matter is bright as
    in MONOCHROME2. Pixels whose stored value is the Pixel Padding Value (or within Pixel Padding
    Range Limit) lie outside the image: they are NaN (float32), i.e. missing. Colour is read as
    pydicom gives it: YBR_FULL/YBR_FULL_422 converted to RGB, YBR_RCT/YBR_ICT by the JPEG 2000
    decoder, PALETTE COLOR expanded through its palette. ``info`` records the modality, transfer
    syntax, what was applied, and (row, column) ``pixel_spacing_mm`` from PixelSpacing (top level or
    Pixel Measures Sequence), ImagerPixelSpacing or NominalScannedPixelSpacing.

    Raises :class:`InputError` (one line) for a file that is not DICOM or is damaged, a malformed
    element (named), no pixel data, several frames, a transfer syntax without an installed decoder
    (naming the package to install), an undecodable image, an ambiguous modality transform, or
    another colour model.
    """
    try:
        import pydicom
    except ImportError as error:
        raise InputError(f"Reading the DICOM file {path.name} needs pydicom: pip install 'napari-xraysep[dicom]'.") from error
    try:
        dataset = pydicom.dcmread(path)
    except pydicom.errors.InvalidDicomError as error:
        raise InputError(f"{path.name} is not a DICOM file: it lacks the 'DICM' mark at byte 128 and the file meta header.") from error
    except Exception as error:  # pydicom raises many types on a damaged file; all mean the same to the user
        raise InputError(f"Cannot read {path.name} as DICOM ({_line(error)}).") from error
    # What pydicom's decoders read; not the pixel spacing (0028,0030), which no decoder reads: one that is
    # no number is left out with a warning (_spacing), the image kept.
    for tag in [tag for tag in dataset.keys() if tag.group == 0x0028 and tag != PIXEL_SPACING_TAG]:
        _element(dataset, tag, path)
    if not any(keyword in dataset for keyword in ("PixelData", "FloatPixelData", "DoubleFloatPixelData")):
        kind = dataset.get("SOPClassUID")
        raise InputError(f"{path.name} holds no image (no Pixel Data element)" + (f"; its SOP class is {kind.name}." if kind else "."))
    frames = int(_value(dataset, "NumberOfFrames", path) or 1)
    if frames > 1:
        raise InputError(f"{path.name} holds {frames} frames, not one image; export the radiograph to use as a file of its own.")
    array, decoded = _decode(dataset, path)
    photometric = str(decoded["photometric_interpretation"])
    info: dict[str, Any] = {
        "file": str(path), "format": "DICOM", "photometric": photometric, "modality": str(dataset.get("Modality", "")),
        "transfer_syntax": dataset.file_meta.TransferSyntaxUID.name,
    }
    info |= _spacing(dataset, path)
    if photometric in GRAYSCALE:
        array = _grayscale(array, dataset, decoded, info, path)
    elif photometric == "PALETTE COLOR":
        from pydicom.pixels import apply_color_lut

        try:
            array = apply_color_lut(array, dataset)
        except Exception as error:  # a palette that does not fit the pixels
            raise InputError(f"Cannot expand the colour palette of {path.name} ({_line(error)}).") from error
        info["photometric"] += " (expanded to RGB)"
    elif photometric != "RGB":
        raise InputError(f"{path.name} stores its pixels as {photometric}, which napari-xraysep does not convert; export it as grayscale or RGB.")
    elif str(dataset.get("PhotometricInterpretation", "")) != "RGB":
        info["photometric"] = f"{dataset.PhotometricInterpretation} (converted to RGB)"
    array = np.asarray(array)  # in the machine's byte order: big-endian files decode big-endian, which torch refuses
    return ImageSource(path, InMemory(array.astype(array.dtype.newbyteorder("="), copy=False)), as_stored, Geometry(), info)


def _decode(dataset: Any, path: Path) -> tuple[np.ndarray, dict[str, Any]]:
    """The stored pixels as pydicom decodes them (YBR_FULL* converted to RGB) and what they are:
    the photometric interpretation after decoding, bits stored, pixel representation."""
    import pydicom.pixels

    syntax = dataset.file_meta.get("TransferSyntaxUID")
    if syntax is None:
        raise InputError(f"{path.name} has no Transfer Syntax UID in its file meta header, so its pixels cannot be decoded.")
    try:
        decoder = pydicom.pixels.get_decoder(syntax)
    except NotImplementedError as error:
        raise InputError(f"{path.name} stores its pixels as {syntax.name}, which pydicom cannot decode; export it uncompressed.") from error
    if not decoder.is_available:
        package = _decoder_package(syntax)
        raise InputError(
            f"Decoding the {syntax.name} pixels of {path.name} needs {package}: pip install pylibjpeg {package} "
            "(or pip install 'napari-xraysep[dicom]')."
        )
    try:
        return decoder.as_array(dataset, as_rgb=True)
    except Exception as error:  # damaged or truncated pixel data, or every installed decoder refused it
        reason = _line(error).replace("Unable to decode as exceptions were raised by all available plugins:;", "every installed decoder failed:")
        raise InputError(f"Cannot decode the pixels of {path.name} ({reason}).") from error


def _decoder_package(syntax: str) -> str:
    """The package of the ``[dicom]`` extra that decodes the compressed ``syntax`` (pydicom decodes
    the uncompressed and Deflate syntaxes itself, and RLE too, more slowly than pylibjpeg-rle)."""
    import pydicom.uid

    if syntax in pydicom.uid.JPEG2000TransferSyntaxes:  # HTJ2K included
        return "pylibjpeg-openjpeg"
    if syntax in pydicom.uid.RLETransferSyntaxes:
        return "pylibjpeg-rle"
    return "pylibjpeg-libjpeg"  # JPEG baseline, extended, lossless and JPEG-LS


def _grayscale(stored: np.ndarray, dataset: Any, decoded: dict[str, Any], info: dict[str, Any], path: Path) -> np.ndarray:
    """The modality transform, dose scaling, MONOCHROME1 inversion and padding of :func:`open_dicom`."""
    transform, probe, applied = _modality_transform(dataset, path)
    if applied:
        info["modality_lut"] = applied
    low, high = stored_range(int(decoded["bits_stored"]), int(decoded["pixel_representation"]) == 1)
    array = transform(stored)
    # What the transform makes of every stored value: the range MONOCHROME1 is inverted over.
    mapped = transform(np.clip(np.array([low, high, *probe], dtype=np.int64), low, high))
    scaling = _value(dataset, "DoseGridScaling", path)
    if scaling is not None:
        info["dose_grid_scaling"] = float(scaling)
        array = (array.astype(np.float64) * float(scaling)).astype(np.float32)
        mapped = mapped * float(scaling)
    if info["photometric"] == "MONOCHROME1":
        info["photometric"] += " (inverted on reading: dense = bright)"
        total = np.float64(mapped.min()) + np.float64(mapped.max())
        array = (total - array.astype(np.float64)).astype(array.dtype)
    padding = _value(dataset, "PixelPaddingValue", path)
    if padding is not None:
        limit = _value(dataset, "PixelPaddingRangeLimit", path)
        first, last = sorted((int(padding), int(padding if limit is None else limit)))
        outside = (stored >= first) & (stored <= last)
        info["pixel_padding"] = {"values": [first, last], "missing_pixels": int(outside.sum())}
        if outside.any():
            array = array.astype(np.float32)
            array[outside] = np.nan
    return array


def _modality_transform(dataset: Any, path: Path) -> tuple[Callable[[np.ndarray], np.ndarray], list[int], dict[str, Any]]:
    """The one modality transform the dataset holds, wherever it holds it: a function of stored
    values, the stored values whose images span its range (a LUT's input domain), and a record of
    it for ``info`` (empty for the identity). Places that disagree are refused."""
    holders = [("top level", dataset)]
    for group in FUNCTIONAL_GROUPS:
        items = _value(dataset, group, path) or []
        transforms = (_value(items[0], "PixelValueTransformationSequence", path) or []) if items else []
        if transforms:
            holders.append((f"{group} › PixelValueTransformationSequence", transforms[0]))
    found: dict[str, tuple[Any, ...]] = {}  # where → ("rescale", slope, intercept) or ("lut", *descriptor, data)
    sequences: dict[str, Any] = {}
    for where, holder in holders:
        slope, intercept = _value(holder, "RescaleSlope", path), _value(holder, "RescaleIntercept", path)
        rescale = (float(1 if slope is None else slope), float(0 if intercept is None else intercept))
        lut = _value(holder, "ModalityLUTSequence", path)
        if lut:
            if len(lut) != 1 or rescale != (1.0, 0.0):
                what = "several Modality LUTs" if len(lut) != 1 else "both a Modality LUT and a rescale"
                raise InputError(f"{path.name} holds {what} ({where}); the standard allows one.")
            descriptor = [int(v) for v in _value(lut[0], "LUTDescriptor", path) or ()]
            if len(descriptor) != 3:
                raise InputError(f"{path.name}: the Modality LUT's LUTDescriptor (0028,3002) holds {descriptor}, not three numbers.")
            data = _value(lut[0], "LUTData", path)
            found[where] = ("lut", *descriptor, data if isinstance(data, bytes) else tuple(np.atleast_1d(data).tolist()))
            sequences[where] = lut
        elif slope is not None or intercept is not None:
            found[where] = ("rescale", *rescale)
    if len(set(found.values())) > 1:
        raise InputError(f"{path.name} holds different modality transforms ({', '.join(found)}); which one applies is ambiguous.")
    where, value = next(iter(found.items()), ("", ("rescale", 1.0, 0.0)))
    if value[0] == "rescale":
        slope, intercept = value[1:]
        if (slope, intercept) == (1.0, 0.0):
            return (lambda values: values), [], {}
        if slope == 0 or not (math.isfinite(slope) and math.isfinite(intercept)):
            # A slope of 0 turns every pixel into the intercept: the picture would be lost, not read.
            raise InputError(
                f"{path.name} has RescaleSlope={slope:g} (0028,1053; {where}) with RescaleIntercept={intercept:g}, "
                "which leaves no picture; correct the rescale (e.g. dcmodify -m \"(0028,1053)=1\") or export the image again."
            )
        record = {"from": where, "slope": slope, "intercept": intercept}
        return (lambda values: (values.astype(np.float64) * slope + intercept).astype(np.float32)), [], record
    from pydicom.dataset import Dataset
    from pydicom.pixels import apply_modality_lut

    entries, first_mapped, bits = value[1] or 2**16, value[2], value[3]  # a descriptor's 0 entries means 65536
    item = copy.deepcopy(sequences[where][0])
    if 8 < bits < 16:  # 9 to 15 bits an entry (legal) are stored in 16: pydicom knows only uint8 and uint16
        item.LUTDescriptor = [value[1], first_mapped, 16]
    holder = Dataset()  # pydicom reads the LUT from a dataset; the file meta gives the byte order of OW data
    holder.file_meta, holder.ModalityLUTSequence = dataset.file_meta, [item]

    def transform(values: np.ndarray) -> np.ndarray:
        try:
            return apply_modality_lut(values.astype(np.int64), holder)  # int64: a first mapped value below 0 fits
        except Exception as error:  # LUT data that do not match their descriptor
            raise InputError(f"{path.name}: its Modality LUT ({where}) cannot be applied ({_line(error)}).") from error

    record = {"from": where, "lut_entries": entries, "first_mapped": first_mapped, "bits": bits}
    return transform, list(range(first_mapped, first_mapped + entries)), record


def _spacing(dataset: Any, path: Path) -> dict[str, Any]:
    """(row, column) pixel spacing in mm and where it came from: PixelSpacing (top level, or the
    functional groups' Pixel Measures Sequence), else ImagerPixelSpacing divided by the
    EstimatedRadiographicMagnificationFactor (the spacing at the detector, magnified by the beam's
    divergence), else NominalScannedPixelSpacing (digitised film); else the PixelAspectRatio, or
    nothing. A spacing that is not two positive distances, or not a detector's (outside
    :data:`~napari_xraysep.core.threads.PLAUSIBLE_MM`), is left out with a warning."""
    places: list[tuple[str, Any, str]] = [("DICOM PixelSpacing (0028,0030)", dataset, "PixelSpacing")]
    for group in FUNCTIONAL_GROUPS:
        items = _value(dataset, group, path) or []
        measures = (_value(items[0], "PixelMeasuresSequence", path) or []) if items else []
        if measures:
            places.append((f"DICOM {group} › PixelMeasuresSequence › PixelSpacing (0028,0030)", measures[0], "PixelSpacing"))
    places += [
        ("DICOM ImagerPixelSpacing (0018,1164)", dataset, "ImagerPixelSpacing"),
        ("DICOM NominalScannedPixelSpacing (0018,2010)", dataset, "NominalScannedPixelSpacing"),
    ]
    for where, holder, keyword in places:
        try:
            spacing = _value(holder, keyword, path)
        except InputError as error:  # NaN, inf: the file's size is lost, not its image
            warnings.warn(f"{error} The pixel spacing is left out.", UserWarning, stacklevel=2)
            continue
        if spacing is None or spacing == "":
            continue
        values = spacing if hasattr(spacing, "__len__") and not isinstance(spacing, str) else [spacing]
        # an empty value among them ('\\0.1') is no distance
        spacing = [float(v) if v is not None and v != "" else float("nan") for v in values]
        if len(spacing) != 2 or not all(v > 0 for v in spacing):
            message = f"{path.name}: {where} holds {spacing}, not two positive distances; the pixel spacing is left out."
            warnings.warn(message, UserWarning, stacklevel=2)
            continue
        magnification = _magnification(dataset, path) if keyword == "ImagerPixelSpacing" else 1.0
        if magnification != 1:
            where = f"{where} / EstimatedRadiographicMagnificationFactor ({magnification:g})"
            spacing = [v / magnification for v in spacing]
        low, high = PLAUSIBLE_MM
        if not all(low <= v <= high for v in spacing):
            message = (
                f"{path.name}: {where} holds {spacing} mm, no detector's pixel ({low:g}–{high:g} mm); the pixel "
                "spacing is left out."
            )
            warnings.warn(message, UserWarning, stacklevel=2)
            continue
        return {"pixel_spacing_mm": tidy_mm(spacing), "pixel_spacing_tag": where}
    ratio = _value(dataset, "PixelAspectRatio", path)
    return {"pixel_aspect_ratio": [int(v) for v in ratio]} if ratio else {}


def _magnification(dataset: Any, path: Path) -> float:
    """The EstimatedRadiographicMagnificationFactor (1 when absent); one that is no magnification (0,
    negative, NaN) is said and taken as 1: the spacing at the detector is kept."""
    try:
        value = _value(dataset, "EstimatedRadiographicMagnificationFactor", path)
        if value is not None and value != "" and hasattr(value, "__len__") and not isinstance(value, str):
            raise InputError(
                f"{path.name}: the DICOM EstimatedRadiographicMagnificationFactor (0018,1114) holds {list(value)}, "
                "not one number."
            )
        factor = 1.0 if value is None or value == "" else float(value)
    except InputError as error:
        said = str(error)
    else:
        if factor > 0:
            return factor
        said = f"{path.name}: the DICOM EstimatedRadiographicMagnificationFactor (0018,1114) is {factor:g}, no magnification."
    warnings.warn(f"{said} The spacing at the detector is kept.", UserWarning, stacklevel=3)
    return 1.0


def _value(holder: Any, keyword: str, path: Path) -> Any:
    """``holder.keyword``'s value (None when absent or empty), a malformed element refused by name."""
    if keyword not in holder:
        return None
    return _element(holder, keyword, path).value


def _element(holder: Any, key: Any, path: Path) -> Any:
    """The data element ``key`` of ``holder``, checked: a value that cannot be read, or a number
    (IS, DS, US, SS, UL, SL) that is no finite number, is refused in one line naming the element."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)  # pydicom's "invalid value" warning: we say it better
        try:
            element = holder[key]
        except Exception as error:
            raise InputError(f"{path.name}: the DICOM element {key} cannot be read ({_line(error)}).") from error
    values = element.value if element.VM > 1 else [element.value]
    # An ambiguous VR pydicom could not resolve ("US or SS") leaves raw bytes where a number belongs.
    number = {"IS": int, "DS": (float, Decimal), "US": int, "SS": int, "UL": int, "SL": int, "US or SS": int}.get(element.VR)
    if number is not None and not all(v is None or v == "" or (isinstance(v, number) and math.isfinite(v)) for v in values):
        name = f"{element.keyword or 'private'} {element.tag}"
        raise InputError(f"{path.name}: the DICOM element {name} holds {element.value!r}, not a valid {element.VR} number.")
    return element


def _line(error: BaseException, limit: int = 200) -> str:
    """An exception's message on one line, at most ``limit`` characters (pydicom lists each
    decoder's failure on its own line)."""
    line = "; ".join(" ".join(part.split()) for part in str(error).splitlines() if part.strip()) or type(error).__name__
    return line if len(line) <= limit else line[: limit - 1] + "…"
