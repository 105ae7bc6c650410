"""Every kind of file museums store, written small here, read back through the API, the napari reader
and the CLI alike, pixel for pixel against the plain reference (or refused in one line)."""

from __future__ import annotations

import datetime
import pickle
import re
import warnings
from collections.abc import Callable
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pytest
import tifffile
from PIL import Image

from napari_xraysep.cli import main
from napari_xraysep.core import InputError
from napari_xraysep.io import open_image, open_levels, read_image, read_provenance
from napari_xraysep.io.source import Geometry
from napari_xraysep.plugin.reader import napari_get_reader

H, W = 40, 56


def _reference() -> tuple[np.ndarray, np.ndarray]:
    """A 16-bit X-ray and an 8-bit photograph of one picture (as the shared file cases make them)."""
    yy, xx = np.mgrid[0:H, 0:W].astype(np.float64)
    surface = 0.5 + 0.45 * np.sin(xx / 5.0) * np.cos(yy / 7.0)
    hidden = ((xx - 0.6 * W) ** 2 + (yy - 0.5 * H) ** 2 < (0.25 * H) ** 2).astype(float)
    xray = np.clip((0.6 * surface + 0.3 * hidden) * 40000 + 8000, 0, 65535).astype(np.uint16)
    rgb = np.clip(np.stack([surface, 0.3 + 0.5 * surface, 1.0 - surface], axis=-1) * 255, 0, 255).astype(np.uint8)
    return xray, rgb


XRAY, RGB = _reference()
PALETTE = np.random.default_rng(5).integers(0, 65536, (3, 256)).astype(np.uint16)  # a colour map of 256 entries


def _pages(path: Path, *pages: tuple[np.ndarray, dict]) -> None:
    with tifffile.TiffWriter(path) as tif:
        for data, options in pages:
            tif.write(data, metadata=None, **options)


def _oriented(image: np.ndarray, orientation: int) -> np.ndarray:
    """What a file with this Orientation stores for ``image`` (the inverse of Geometry.apply)."""
    for candidate in (image, np.swapaxes(image, 0, 1)):
        for rows in (1, -1):
            for cols in (1, -1):
                stored = np.ascontiguousarray(candidate[::rows, ::cols])
                if np.array_equal(Geometry(orientation).apply(stored), image):
                    return stored
    raise AssertionError(orientation)


def _oriented_writer(orientation: int):
    """A writer of RGB stored as a camera with the TIFF Orientation tag ``orientation`` would store it."""

    def write(path):
        tifffile.imwrite(path, _oriented(RGB, orientation), photometric="rgb", extratags=[(274, 3, 1, orientation, True)])

    return write


# name → (writer(path), the reference it must read as; exact unless the codec is lossy)
KINDS: dict[str, tuple[Callable[[Path], None], np.ndarray]] = {
    "plain x-ray": (lambda p: tifffile.imwrite(p, XRAY), XRAY),
    "plain photo": (lambda p: tifffile.imwrite(p, RGB, photometric="rgb"), RGB),
    "MinIsWhite 16-bit": (lambda p: tifffile.imwrite(p, 65535 - XRAY, photometric="miniswhite"), XRAY),
    "MinIsWhite 8-bit": (lambda p: tifffile.imwrite(p, 255 - (XRAY >> 8).astype(np.uint8), photometric="miniswhite"), (XRAY >> 8).astype(np.uint8)),
    "planar photo": (lambda p: tifffile.imwrite(p, np.moveaxis(RGB, -1, 0), photometric="rgb", planarconfig="separate"), RGB),
    "planar photo, LZW, tiled": (
        lambda p: tifffile.imwrite(p, np.moveaxis(RGB, -1, 0), photometric="rgb", planarconfig="separate", compression="lzw", tile=(16, 16)),
        RGB,
    ),
    "LZW": (lambda p: tifffile.imwrite(p, XRAY, compression="lzw"), XRAY),
    "LZW with predictor": (lambda p: tifffile.imwrite(p, RGB, photometric="rgb", compression="lzw", predictor=True), RGB),
    "Deflate with predictor": (lambda p: tifffile.imwrite(p, XRAY, compression="zlib", predictor=True), XRAY),
    "PackBits": (lambda p: tifffile.imwrite(p, XRAY, compression="packbits"), XRAY),
    "ZSTD": (lambda p: tifffile.imwrite(p, XRAY, compression="zstd"), XRAY),
    "JPEG 2000 in TIFF (lossless)": (lambda p: tifffile.imwrite(p, XRAY, compression="jpeg2000", compressionargs={"reversible": True}), XRAY),
    "JPEG in TIFF (YCbCr, Pillow)": (lambda p: Image.fromarray(RGB).save(p, compression="jpeg", quality=95), RGB),
    "JPEG in TIFF (tifffile)": (lambda p: tifffile.imwrite(p, RGB, photometric="rgb", compression="jpeg"), RGB),
    "tiled BigTIFF": (lambda p: tifffile.imwrite(p, XRAY, tile=(16, 32), bigtiff=True, compression="zlib"), XRAY),
    "big-endian": (lambda p: tifffile.imwrite(p, XRAY, byteorder=">"), XRAY),
    "big-endian, compressed": (lambda p: tifffile.imwrite(p, XRAY, byteorder=">", compression="zlib"), XRAY),
    "signed 16-bit": (lambda p: tifffile.imwrite(p, (XRAY.astype(np.int32) - 30000).astype(np.int16)), (XRAY.astype(np.int32) - 30000).astype(np.int16)),
    "float32 counts": (lambda p: tifffile.imwrite(p, XRAY.astype(np.float32)), XRAY.astype(np.float32)),
    "12 bits packed": (lambda p: tifffile.imwrite(p, XRAY >> 4, bitspersample=12), XRAY >> 4),
    "thumbnail first": (lambda p: _pages(p, (XRAY[::4, ::4], {"subfiletype": 1}), (XRAY, {})), XRAY),
    "full image then thumbnail": (lambda p: _pages(p, (XRAY, {}), (XRAY[::4, ::4], {"subfiletype": 1})), XRAY),
    "SubIFD pyramid": (
        lambda p: _pages(p, (XRAY, {"tile": (16, 16), "subifds": 1}), (np.ascontiguousarray(XRAY[::2, ::2]), {"tile": (16, 16), "subfiletype": 1})),
        XRAY,
    ),
    # An 8-bit palette (every entry a multiple of 257 in TIFF's 16-bit colour map) reads as 8-bit: it was
    # ×257 and shown over-contrasted.
    "palette (gray)": (lambda p: tifffile.imwrite(p, np.arange(H * W).reshape(H, W).astype(np.uint8), photometric="palette", colormap=np.tile(np.arange(256, dtype=np.uint16) * 257, (3, 1))), np.arange(H * W).reshape(H, W).astype(np.uint8)),
    "palette (8-bit colour)": (
        lambda p: tifffile.imwrite(p, (np.arange(H * W).reshape(H, W) % 256).astype(np.uint8), photometric="palette", colormap=(PALETTE // 257) * 257),
        (PALETTE // 257).astype(np.uint8).T[(np.arange(H * W).reshape(H, W) % 256)],
    ),
    "palette (colour)": (
        lambda p: tifffile.imwrite(p, (np.arange(H * W).reshape(H, W) % 256).astype(np.uint8), photometric="palette", colormap=PALETTE),
        PALETTE.T[(np.arange(H * W).reshape(H, W) % 256)],
    ),
    "photo with unassociated alpha": (lambda p: tifffile.imwrite(p, np.dstack([RGB, np.full((H, W), 255, np.uint8)]), photometric="rgb", extrasamples=["unassalpha"]), np.dstack([RGB, np.full((H, W), 255, np.uint8)])),
    "photo with premultiplied alpha": (
        lambda p: tifffile.imwrite(p, np.dstack([(RGB // 2).astype(np.uint8), np.full((H, W), 128, np.uint8)]), photometric="rgb", extrasamples=["assocalpha"]),
        np.dstack([np.clip(np.rint((RGB // 2) * 255.0 / 128), 0, 255).astype(np.uint8), np.full((H, W), 128, np.uint8)]),
    ),
    "x-ray with alpha": (lambda p: tifffile.imwrite(p, np.dstack([XRAY, np.full((H, W), 65535, np.uint16)]), photometric="minisblack", extrasamples=["unassalpha"], planarconfig="contig"), XRAY),
    # A channel an editor keeps (ExtraSamples 0) was read as a third axis: a 56×2 strip in napari.
    "x-ray with an extra channel": (lambda p: tifffile.imwrite(p, np.dstack([XRAY, XRAY[::-1]]), photometric="minisblack", extrasamples=[0], planarconfig="contig"), XRAY),
    # Premultiplied gray was read half as dense where the alpha was a half.
    "x-ray with premultiplied alpha": (
        lambda p: tifffile.imwrite(p, np.dstack([XRAY // 2 * 2 // 2, np.full((H, W), 32768, np.uint16)]), photometric="minisblack", extrasamples=[1], planarconfig="contig"),
        np.clip(np.rint((XRAY // 2 * 2 // 2) * 65535.0 / 32768), 0, 65535).astype(np.uint16),
    ),
    "photo with alpha and an extra channel": (
        lambda p: tifffile.imwrite(p, np.dstack([RGB, np.full((H, W), 255, np.uint8), RGB[..., 0]]), photometric="rgb", extrasamples=[2, 0]),
        np.dstack([RGB, np.full((H, W), 255, np.uint8)]),
    ),
    **{
        f"orientation {o}": (_oriented_writer(o), RGB)
        for o in range(2, 9)
    },
    "PNG photo": (lambda p: Image.fromarray(RGB).save(p.with_suffix(".png")), RGB),
    "PNG 16-bit x-ray": (lambda p: Image.fromarray(XRAY).save(p.with_suffix(".png")), XRAY),
    "PNG palette photo": (lambda p: Image.fromarray(RGB).quantize(64).save(p.with_suffix(".png")), np.asarray(Image.fromarray(RGB).quantize(64).convert("RGB"))),
    "JPEG photo": (lambda p: Image.fromarray(RGB).save(p.with_suffix(".jpg"), quality=95), RGB),
    "JPEG photo, EXIF orientation 6": (lambda p: _exif_jpeg(p.with_suffix(".jpg"), 6), RGB),
    "JPEG photo, EXIF orientation 3": (lambda p: _exif_jpeg(p.with_suffix(".jpg"), 3), RGB),
}
LOSSY = {"JPEG in TIFF (YCbCr, Pillow)", "JPEG in TIFF (tifffile)", "JPEG photo", "JPEG photo, EXIF orientation 6", "JPEG photo, EXIF orientation 3"}
SUFFIX = {"PNG": ".png", "JPEG photo": ".jpg"}


def _exif_jpeg(path: Path, orientation: int) -> None:
    exif = Image.Exif()
    exif[0x0112] = orientation
    Image.fromarray(_oriented(RGB, orientation)).save(path, quality=95, exif=exif)


def _path(name: str, folder: Path) -> Path:
    suffix = next((s for key, s in SUFFIX.items() if name.startswith(key)), ".tif")
    return folder / f"{name.replace(' ', '_').replace(',', '')}{suffix}"


def _assert_reads_as(image: np.ndarray, reference: np.ndarray, lossy: bool) -> None:
    assert image.shape == reference.shape
    if lossy:
        assert np.abs(image.astype(float) - reference).mean() < 3  # JPEG at quality 95
    else:
        assert image.dtype == reference.dtype
        np.testing.assert_array_equal(image, reference)


@pytest.mark.parametrize("name", KINDS)
def test_every_kind_reads_as_its_reference_in_the_api_and_the_napari_reader(name, tmp_path):
    write, reference = KINDS[name]
    path = _path(name, tmp_path)
    write(path)
    _assert_reads_as(read_image(path), reference, name in LOSSY)
    source = open_image(path)  # block by block: any window equals the same window of the whole
    _assert_reads_as(source[5:27, 9:50], reference[5:27, 9:50], name in LOSSY)
    _assert_reads_as(source[::-3, 7], reference[::-3, 7], name in LOSSY)
    restored = pickle.loads(pickle.dumps(source))  # as a distributed cluster sends it
    _assert_reads_as(np.asarray(restored), reference, name in LOSSY)
    data, kwargs, kind = napari_get_reader(str(path))(str(path))[0]
    levels = data if kwargs["multiscale"] else [data]
    _assert_reads_as(np.asarray(levels[0]), reference, name in LOSSY)
    assert kind == "image" and kwargs["rgb"] == (reference.ndim == 3)


def test_a_pyramid_opens_as_a_multiscale_layer_and_a_stack_is_refused_listing_its_pages(tmp_path):
    path = tmp_path / "pyramid.tif"
    KINDS["SubIFD pyramid"][0](path)
    levels = open_levels(path)
    assert [level.shape for level in levels] == [(H, W), (H // 2, W // 2)]
    data, kwargs, _ = napari_get_reader(str(path))(str(path))[0]
    assert kwargs["multiscale"] and [d.shape for d in data] == [(H, W), (H // 2, W // 2)]
    stack = tmp_path / "two_exposures.tif"
    _pages(stack, (XRAY, {}), (XRAY // 2, {}))
    message = "two_exposures.tif holds 2 images, not one (page 0: 40×56 uint16; page 1: 40×56 uint16)"
    with pytest.raises(InputError, match=message.replace("(", r"\(").replace(")", r"\)")):
        open_image(stack)
    with pytest.raises(ValueError, match="holds 2 images"):
        napari_get_reader(str(stack))(str(stack))


@pytest.mark.parametrize(
    ("write", "message"),
    [
        (lambda p: tifffile.imwrite(p, np.zeros((H, W, 4), np.uint8), photometric="separated"), "stores its colours as CMYK"),
        (lambda p: tifffile.imwrite(p, np.zeros((H, W), np.float32), photometric="miniswhite"), "floating-point samples as MinIsWhite"),
        (lambda p: Image.fromarray(RGB).convert("CMYK").save(p.with_suffix(".jpg")), "stores its colours as CMYK"),
        (lambda p: p.with_suffix(".bmp").write_bytes(b"BM" + bytes(60)), "not a TIFF, JPEG, PNG or DICOM image"),
    ],
    ids=["CMYK TIFF", "float MinIsWhite", "CMYK JPEG", "BMP"],
)
def test_what_cannot_be_read_correctly_is_refused_in_one_line(write, message, tmp_path):
    write(tmp_path / "image.tif")
    path = next(tmp_path.iterdir())
    with pytest.raises(InputError, match=message):
        read_image(path)


def test_the_robust_contrast_keeps_hot_pixels_from_blackening_the_layer(tmp_path):
    narrow = (30000 + (XRAY - XRAY.min()) // 20).astype(np.uint16)
    narrow[3, 4], narrow[10, 11] = 65535, 0
    tifffile.imwrite(tmp_path / "narrow.tif", narrow)
    _, kwargs, _ = napari_get_reader(str(tmp_path / "narrow.tif"))(str(tmp_path / "narrow.tif"))[0]
    low, high = kwargs["contrast_limits"]
    assert 30000 <= low < high <= 32000 and kwargs["metadata"]["file"]["compression"] == "NONE"


# ------------------------------------------------------------------------------------- DICOM


def _dicom(
    path: Path, pixels: np.ndarray, photometric: str = "MONOCHROME2", slope: float = 1.0, intercept: float = 0.0, frames: int = 1,
    preamble: bytes | None = None, **elements,
) -> Path:
    """A 12-bit digital X-ray (explicit VR little endian) of ``pixels`` with any further ``elements``
    (values, or RawDataElements written as they are)."""
    from pydicom.dataelem import RawDataElement
    from pydicom.dataset import Dataset, FileMetaDataset
    from pydicom.uid import ExplicitVRLittleEndian, generate_uid

    meta = FileMetaDataset()
    meta.MediaStorageSOPClassUID = "1.2.840.10008.5.1.4.1.1.1.1"  # digital X-ray
    meta.MediaStorageSOPInstanceUID = generate_uid()
    meta.TransferSyntaxUID = ExplicitVRLittleEndian
    dataset = Dataset()
    dataset.file_meta, dataset.preamble = meta, preamble
    dataset.SOPClassUID, dataset.SOPInstanceUID = meta.MediaStorageSOPClassUID, meta.MediaStorageSOPInstanceUID
    dataset.Modality, dataset.PhotometricInterpretation = "DX", photometric
    dataset.Rows, dataset.Columns = pixels.shape[-2:]
    dataset.SamplesPerPixel, dataset.BitsAllocated, dataset.BitsStored, dataset.HighBit = 1, 16, 12, 11
    dataset.PixelRepresentation = 0
    dataset.ImagerPixelSpacing = [0.139, 0.14]
    if frames > 1:
        dataset.NumberOfFrames = frames
    if (slope, intercept) != (1.0, 0.0):
        dataset.RescaleSlope, dataset.RescaleIntercept = slope, intercept
    for keyword, value in elements.items():
        if isinstance(value, RawDataElement):
            dataset[value.tag] = value
        else:
            setattr(dataset, keyword, value)
    dataset.PixelData = np.ascontiguousarray(pixels, dtype="<u2").tobytes()
    dataset.save_as(path, enforce_file_format=True)
    return path


def _lut(values: np.ndarray, first_mapped: int = 0, as_ow: bool = False, bits: int = 16):
    """A Modality LUT Sequence mapping stored ``first_mapped + i`` to ``values[i]`` (LUT Data as US
    numbers, or as OW bytes), of ``bits`` bits an entry."""
    from pydicom.dataset import Dataset

    item = Dataset()
    item.LUTDescriptor, item.ModalityLUTType = [len(values), first_mapped, bits], "US"
    item.add_new(0x00283006, "OW" if as_ow else "US", values.astype("<u2").tobytes() if as_ow else values.tolist())
    return [item]


def _groups(**elements):
    """A functional-group item (shared or per frame) holding a Pixel Value Transformation item with
    ``elements`` and a Pixel Measures item."""
    from pydicom.dataset import Dataset

    transformation, measures, group = Dataset(), Dataset(), Dataset()
    for keyword, value in elements.items():
        setattr(transformation, keyword, value)
    measures.PixelSpacing = [0.2, 0.25]
    group.PixelValueTransformationSequence, group.PixelMeasuresSequence = [transformation], [measures]
    return [group]


STORED = (XRAY >> 4).astype(np.uint16)  # 12 bits stored
LUT = np.rint(np.sqrt(np.arange(4096) / 4095.0) * 60000 + 1000).astype(np.uint16)  # a non-linear modality LUT


def test_dicom_radiographs_monochrome1_rescale_and_pixel_spacing(tmp_path):
    stored = STORED
    plain = _dicom(tmp_path / "plain.dcm", stored)
    np.testing.assert_array_equal(read_image(plain), stored)
    assert open_image(plain).info["pixel_spacing_mm"] == [0.139, 0.14]
    inverted = _dicom(tmp_path / "mono1.dcm", 4095 - stored, "MONOCHROME1")
    np.testing.assert_array_equal(read_image(inverted), stored)  # dense = bright again
    rescaled = _dicom(tmp_path / "rescaled", stored, slope=0.5, intercept=-100.0)  # found by its DICM mark
    np.testing.assert_allclose(read_image(rescaled), stored * 0.5 - 100.0)
    both = _dicom(tmp_path / "both.dcm", 4095 - stored, "MONOCHROME1", slope=2.0, intercept=10.0)
    # inverted over the rescaled stored range [10, 8200]: 10 + 8200 − (2·(4095 − s) + 10) = 2·s + 10
    np.testing.assert_allclose(read_image(both), stored * 2.0 + 10.0)
    data, kwargs, _ = napari_get_reader(str(inverted))(str(inverted))[0]
    np.testing.assert_array_equal(np.asarray(data), stored)
    assert kwargs["metadata"]["file"]["photometric"].startswith("MONOCHROME1 (inverted")
    with pytest.raises(InputError, match="holds 2 frames"):
        read_image(_dicom(tmp_path / "cine.dcm", np.stack([stored, stored]), frames=2))


def test_a_modality_lut_sequence_is_applied_wherever_the_dataset_stores_it(tmp_path):
    from pydicom import dcmread
    from pydicom.pixels import apply_modality_lut

    tifffile.imwrite(tmp_path / "values.tif", LUT[STORED])  # the same values as a TIFF
    top = _dicom(tmp_path / "top.dcm", STORED, ModalityLUTSequence=_lut(LUT))
    np.testing.assert_array_equal(read_image(top), read_image(tmp_path / "values.tif"))
    np.testing.assert_array_equal(read_image(top), apply_modality_lut(STORED, dcmread(top)))
    assert open_image(top).info["modality_lut"] == {"from": "top level", "lut_entries": 4096, "first_mapped": 0, "bits": 16}
    # From stored value 100 on, as OW bytes: the values below map to the first entry.
    shifted = _dicom(tmp_path / "shifted.dcm", STORED, ModalityLUTSequence=_lut(LUT[100:], 100, as_ow=True))
    np.testing.assert_array_equal(read_image(shifted), LUT[np.maximum(STORED, 100)])
    twelve_bits = _dicom(tmp_path / "12.dcm", STORED, ModalityLUTSequence=_lut(LUT >> 4, bits=12))  # 8 to 16 bits are legal
    np.testing.assert_array_equal(read_image(twelve_bits), LUT[STORED] >> 4)
    # In the functional groups of an enhanced image, shared or per frame, with its pixel spacing there.
    for group in ("SharedFunctionalGroupsSequence", "PerFrameFunctionalGroupsSequence"):
        enhanced = _dicom(tmp_path / f"{group}.dcm", STORED, **{group: _groups(ModalityLUTSequence=_lut(LUT))})
        np.testing.assert_array_equal(read_image(enhanced), LUT[STORED])
        info = open_image(enhanced).info
        assert info["modality_lut"]["from"].startswith(group) and info["pixel_spacing_mm"] == [0.2, 0.25]
    rescaled = _dicom(tmp_path / "rescaled.dcm", STORED, SharedFunctionalGroupsSequence=_groups(RescaleSlope=0.5, RescaleIntercept=-100, RescaleType="US"))
    np.testing.assert_allclose(read_image(rescaled), STORED * 0.5 - 100)
    # MONOCHROME1 through a LUT: inverted over the LUT's range, LUT[0] … LUT[4095].
    inverted = _dicom(tmp_path / "mono1.dcm", 4095 - STORED, "MONOCHROME1", ModalityLUTSequence=_lut(LUT))
    np.testing.assert_array_equal(read_image(inverted), int(LUT[0]) + int(LUT[4095]) - LUT[4095 - STORED].astype(np.int64))


@pytest.mark.parametrize(
    "elements, message",
    [
        (lambda: {"RescaleSlope": 2.0, "RescaleIntercept": 0.0, "SharedFunctionalGroupsSequence": _groups(RescaleSlope=3.0, RescaleIntercept=0.0)}, "different modality transforms"),
        (lambda: {"RescaleSlope": 2.0, "RescaleIntercept": 0.0, "ModalityLUTSequence": _lut(LUT)}, "both a Modality LUT and a rescale"),
        (lambda: {"ModalityLUTSequence": _lut(LUT) + _lut(LUT)}, "several Modality LUTs"),
        (lambda: {"ModalityLUTSequence": _lut(LUT[:10])}, None),  # the control: a short LUT is fine
    ],
    ids=["top level and functional groups disagree", "LUT and rescale", "two LUTs", "short LUT"],
)
def test_an_ambiguous_modality_transform_is_refused(elements, message, tmp_path):
    path = _dicom(tmp_path / "x.dcm", STORED, **elements())
    if message is None:
        np.testing.assert_array_equal(read_image(path), LUT[np.minimum(STORED, 9)])
        return
    with pytest.raises(InputError, match=message):
        read_image(path)


@pytest.mark.parametrize(
    "elements, spacing",
    [
        ({"PixelSpacing": [0.1, 0.12]}, {"pixel_spacing_mm": [0.1, 0.12], "pixel_spacing_tag": "DICOM PixelSpacing (0028,0030)"}),
        (  # at the detector, magnified ×1.25 by the beam's divergence: 0.139 / 1.25 at the painting
            {"EstimatedRadiographicMagnificationFactor": 1.25},
            {"pixel_spacing_mm": pytest.approx([0.1112, 0.112]), "pixel_spacing_tag": "DICOM ImagerPixelSpacing (0018,1164) / EstimatedRadiographicMagnificationFactor (1.25)"},
        ),
        ({"ImagerPixelSpacing": None, "NominalScannedPixelSpacing": [0.05, 0.05]}, {"pixel_spacing_mm": [0.05, 0.05], "pixel_spacing_tag": "DICOM NominalScannedPixelSpacing (0018,2010)"}),
        ({"ImagerPixelSpacing": None, "PixelAspectRatio": [4, 3]}, {"pixel_aspect_ratio": [4, 3]}),
        (  # 0.21 / 1.05 is 0.19999999999999998 in floating point: said as the 0.2 mm it is
            {"ImagerPixelSpacing": [0.21, 0.21], "EstimatedRadiographicMagnificationFactor": 1.05},
            {"pixel_spacing_mm": [0.2, 0.2],
             "pixel_spacing_tag": "DICOM ImagerPixelSpacing (0018,1164) / EstimatedRadiographicMagnificationFactor (1.05)"},
        ),
    ],
    ids=["PixelSpacing first", "magnified", "scanned film", "aspect ratio only", "rounded"],
)
def test_the_dicom_pixel_spacing_is_kept_from_wherever_it_is_stored(elements, spacing, tmp_path):
    info = open_image(_dicom(tmp_path / "x.dcm", STORED, **elements)).info
    assert {key: info[key] for key in ("pixel_spacing_mm", "pixel_spacing_tag", "pixel_aspect_ratio") if key in info} == spacing


def test_a_dicom_pixel_spacing_of_zero_is_left_out_with_a_warning(tmp_path):
    with pytest.warns(UserWarning, match=r"ImagerPixelSpacing \(0018,1164\) holds \[0.0, 0.0\], not two positive distances"):
        info = open_image(_dicom(tmp_path / "x.dcm", STORED, ImagerPixelSpacing=[0, 0])).info
    assert "pixel_spacing_mm" not in info
    # 85 in a field of mm (µm meant) is no detector's pixel: left out, the next place (a scanned film's) kept
    in_um = _dicom(tmp_path / "y.dcm", STORED, ImagerPixelSpacing=[85, 85], NominalScannedPixelSpacing=[0.05, 0.05])
    with pytest.warns(UserWarning, match=r"ImagerPixelSpacing \(0018,1164\) holds \[85.0, 85.0\] mm, no detector's"):
        info = open_image(in_um).info
    assert info["pixel_spacing_mm"] == [0.05, 0.05]


def test_a_dicom_spacing_or_magnification_that_is_no_number_is_left_out_with_a_warning(tmp_path):
    # A NaN spacing refused the whole file, even with --pixel-size given: only its size is lost now.
    from pydicom.dataelem import RawDataElement
    from pydicom.tag import Tag

    nan = RawDataElement(Tag(0x0018, 0x1164), "DS", 8, b"nan\\nan ", 0, False, True)
    left_out = r"ImagerPixelSpacing \(0018,1164\) holds .*not a valid DS number\. The pixel spacing is left out"
    with pytest.warns(UserWarning, match=left_out):
        opened = open_image(_dicom(tmp_path / "nan.dcm", STORED, ImagerPixelSpacing=nan))
    assert "pixel_spacing_mm" not in opened.info and opened.shape == STORED.shape
    for factor in (0, -2):  # no magnification: the spacing at the detector is kept, and said
        with pytest.warns(UserWarning, match=rf"EstimatedRadiographicMagnificationFactor \(0018,1114\) is {factor}, no "):
            info = open_image(_dicom(tmp_path / f"m{-factor}.dcm", STORED, EstimatedRadiographicMagnificationFactor=factor)).info
        assert info["pixel_spacing_mm"] == [0.139, 0.14]


def test_dicom_pixel_padding_is_missing_data(tmp_path):
    stored = STORED.copy()
    stored[:3], stored[-2:, :5] = 0, 2  # an unexposed border, stored as padding values 0 … 2
    path = _dicom(tmp_path / "padded.dcm", stored, slope=0.5, intercept=10.0, PixelPaddingValue=0, PixelPaddingRangeLimit=2)
    image, outside = read_image(path), stored <= 2
    assert np.isnan(image[outside]).all() and image.dtype == np.float32
    np.testing.assert_allclose(image[~outside], stored[~outside] * 0.5 + 10.0)
    assert open_image(path).info["pixel_padding"] == {"values": [0, 2], "missing_pixels": int(outside.sum())}


def test_a_dicom_file_whose_preamble_is_a_tiff_header_is_read_as_dicom(tmp_path):
    # Dual-personality files: the 128-byte preamble holds a TIFF header (here one with no image).
    path = _dicom(tmp_path / "dual.tif", STORED, slope=2.0, intercept=1.0, preamble=b"II*\x00\x08\x00\x00\x00" + bytes(120))
    assert path.read_bytes()[:4] == b"II*\x00" and path.read_bytes()[128:132] == b"DICM"
    np.testing.assert_allclose(read_image(path), STORED * 2.0 + 1.0)


@pytest.mark.parametrize(
    "keyword, value, named",
    [
        ("NumberOfFrames", "1A", "NumberOfFrames (0028,0008) holds '1A'"),
        ("RescaleSlope", "x2", "RescaleSlope (0028,1053)"),
        ("RescaleSlope", "NaN", "RescaleSlope (0028,1053)"),
    ],
)
def test_a_malformed_dicom_element_is_refused_by_name(keyword, value, named, tmp_path):
    from pydicom.datadict import dictionary_VR, tag_for_keyword
    from pydicom.dataelem import RawDataElement

    tag = tag_for_keyword(keyword)  # written as stored bytes: pydicom will not build such a value itself
    raw = RawDataElement(tag, dictionary_VR(tag), len(value), value.encode(), 0, False, True)
    with warnings.catch_warnings():  # pydicom's own warning as it writes the bad value
        warnings.simplefilter("ignore", UserWarning)
        path = _dicom(tmp_path / "bad.dcm", STORED, RescaleIntercept=0, **{keyword: raw})
    with pytest.raises(InputError, match=re.escape(named)):
        read_image(path)


def test_a_missing_dicom_decoder_is_named(tmp_path, monkeypatch):
    import pydicom.pixels
    from pydicom.encaps import encapsulate
    from pydicom.uid import JPEG2000Lossless

    path = _dicom(tmp_path / "j2k.dcm", STORED)
    dataset = pydicom.dcmread(path)
    dataset.file_meta.TransferSyntaxUID, dataset.PixelData = JPEG2000Lossless, encapsulate([b"\xff\x4f\xff\x51"])
    dataset.save_as(path)
    monkeypatch.setattr(pydicom.pixels, "get_decoder", lambda syntax: SimpleNamespace(is_available=False))
    with pytest.raises(InputError, match=r"needs pylibjpeg-openjpeg: pip install pylibjpeg pylibjpeg-openjpeg"):
        read_image(path)


# ------------------------------------------------------------------------------------- the CLI


CLI = ["--device", "cpu", "--quiet", "--steps", "2", "--set", "clusters=4", "--set", "passes=1"]


def _separate(xray: Path, rgb: Path, out: Path) -> dict[str, np.ndarray]:
    assert main(["separate", str(xray), str(rgb), "--region", "10,14,30,42", "--out", str(out), *CLI]) == 0
    return {name: tifffile.imread(out / f"{name}.tif") for name in ("x1", "x2")}


@pytest.fixture(scope="module")
def reference_run(tmp_path_factory):
    folder = tmp_path_factory.mktemp("reference")
    tifffile.imwrite(folder / "x.tif", XRAY)
    tifffile.imwrite(folder / "rgb.tif", RGB, photometric="rgb")
    return folder, _separate(folder / "x.tif", folder / "rgb.tif", folder / "out")


@pytest.mark.parametrize(
    "name", ["MinIsWhite 16-bit", "LZW", "JPEG 2000 in TIFF (lossless)", "thumbnail first", "SubIFD pyramid", "orientation 6", "planar photo, LZW, tiled", "PNG photo", "photo with unassociated alpha"]
)
def test_the_cli_separates_each_kind_as_its_reference(name, reference_run, tmp_path, capsys):
    folder, expected = reference_run
    write, reference = KINDS[name]
    path = _path(name, tmp_path)
    write(path)
    xray, rgb = (folder / "x.tif", path) if reference.ndim == 3 else (path, folder / "rgb.tif")
    result = _separate(xray, rgb, tmp_path / "out")
    for layer in expected:
        np.testing.assert_allclose(result[layer], expected[layer], rtol=1e-5, atol=1e-3, err_msg=layer)


def test_the_cli_refuses_a_stack_and_a_cmyk_photo_in_one_line(reference_run, tmp_path, capsys):
    folder, _ = reference_run
    _pages(tmp_path / "stack.tif", (XRAY, {}), (XRAY, {}))
    assert main(["separate", str(tmp_path / "stack.tif"), str(folder / "rgb.tif"), "--out", str(tmp_path / "a"), *CLI]) == 2
    assert capsys.readouterr().err.strip() == (
        "xraysep: error: stack.tif holds 2 images, not one (page 0: 40×56 uint16; page 1: 40×56 uint16); save the image "
        "to use as a file of its own (an X-ray as one grayscale image; a colour photograph as one RGB image, not "
        "three pages of its channels)."
    )
    tifffile.imwrite(tmp_path / "cmyk.tif", np.zeros((H, W, 4), np.uint8), photometric="separated")
    assert main(["apply", str(folder / "out" / "model.pt"), str(folder / "x.tif"), str(tmp_path / "cmyk.tif"), "--out", str(tmp_path / "b"), "--quiet"]) == 2
    assert "stores its colours as CMYK" in capsys.readouterr().err


def test_the_cli_records_what_it_read(reference_run, tmp_path):
    import json

    folder, _ = reference_run
    KINDS["MinIsWhite 16-bit"][0](tmp_path / "mw.tif")
    _separate(tmp_path / "mw.tif", folder / "rgb.tif", tmp_path / "out")
    record = json.loads((tmp_path / "out" / "run.json").read_text())
    assert record["input_files"]["xray"]["photometric"].startswith("MINISWHITE (inverted")
    # each image says what it was made from, as apply's do (an x2.tif copied out of its folder could not)
    image = read_provenance(tmp_path / "out" / "x2.tif")
    assert image["inputs"]["xray"] == str(tmp_path / "mw.tif") and image["input_files"] == record["input_files"]
    assert main(["apply", str(tmp_path / "out" / "model.pt"), str(tmp_path / "mw.tif"), str(folder / "rgb.tif"),
                 "--out", str(tmp_path / "applied"), "--quiet"]) == 0
    applied = json.loads((tmp_path / "applied" / "run.json").read_text())
    when = datetime.datetime.fromisoformat(applied["created"])  # apply's set said nothing of when it was made
    assert abs((datetime.datetime.now(datetime.timezone.utc) - when).total_seconds()) < 600
    assert read_provenance(tmp_path / "applied" / "x2.tif")["created"] == applied["created"]
    assert applied["timings_s"]["total_s"] >= applied["timings_s"]["apply_s"] > 0  # the whole command, and its tiles


def test_missing_pixels_through_the_cli_are_nan_in_the_results(reference_run, tmp_path):
    folder, _expected = reference_run
    x = XRAY.astype(np.float32)
    x[:, :3] = np.nan  # a flat-field border
    tifffile.imwrite(tmp_path / "x.tif", x)
    result = _separate(tmp_path / "x.tif", folder / "rgb.tif", tmp_path / "out")
    for layer in result.values():
        assert np.isnan(layer[:, :3]).all() and np.isfinite(layer[:, 3:]).all()
    np.testing.assert_allclose(result["x1"] + result["x2"] + tifffile.imread(tmp_path / "out" / "weave.tif"), x, rtol=1e-5)



def test_a_file_read_through_its_decoder_is_closed_once_let_go(tmp_path):
    import gc
    import warnings

    path = tmp_path / "x.tif"
    tifffile.imwrite(path, XRAY, compression="zlib")  # read through tifffile's decoder, not a memory map
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        image = read_image(path)
        del image
        gc.collect()
    assert not [warning for warning in caught if issubclass(warning.category, ResourceWarning)]


def test_a_dicom_pixel_spacing_that_is_no_number_or_malformed_leaves_the_image_readable(tmp_path):
    # PixelSpacing (0028,0030), the commonest place, was still refused with the whole file (checked with
    # the decoders' elements); an empty value ('\\0.1') and a two-valued magnification raised a traceback.
    from pydicom.dataelem import RawDataElement
    from pydicom.tag import Tag

    def raw(tag, value):
        return RawDataElement(Tag(tag), "DS", len(value), value, 0, False, True)

    nan = raw(0x00280030, b"NaN\\0.1 ")
    left_out = r"PixelSpacing \(0028,0030\) holds .*not a valid DS number\. The pixel spacing is left out"
    with pytest.warns(UserWarning, match=left_out):
        info = open_image(_dicom(tmp_path / "nan.dcm", STORED, PixelSpacing=nan)).info
    assert info["pixel_spacing_mm"] == [0.139, 0.14]  # the next place's (ImagerPixelSpacing)
    with pytest.warns(UserWarning, match=r"not two positive distances"):
        info = open_image(_dicom(tmp_path / "empty.dcm", STORED, PixelSpacing=raw(0x00280030, b"\\0.1"))).info
    assert info["pixel_spacing_mm"] == [0.139, 0.14]
    two = raw(0x00181114, b"1.2\\1.3 ")
    with pytest.warns(UserWarning, match=r"MagnificationFactor \(0018,1114\) holds .*not one number"):
        info = open_image(_dicom(tmp_path / "two.dcm", STORED, EstimatedRadiographicMagnificationFactor=two)).info
    assert info["pixel_spacing_mm"] == [0.139, 0.14]


def test_a_tiff_s_pixel_spacing_is_kept_to_12_digits(tmp_path):
    """127 dpi is 0.2 mm a pixel; run.json held 0.19999999999999998 beside 0.2 (a tester's finding)."""
    import tifffile

    path = tmp_path / "x.tif"
    tifffile.imwrite(path, STORED.astype(np.uint16), resolution=(127.0, 127.0), resolutionunit="INCH")
    assert open_image(path).info["pixel_spacing_mm"] == [0.2, 0.2]
