"""pydicom's own corpus of real-world DICOM files (bundled with its wheel: CT, MR, RT, US, secondary
captures from dcmtk, GDCM and vendors, in every transfer syntax), each read through the API: equal to
what pydicom makes of it, or refused in one line where pydicom gives no single image either."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from napari_xraysep.core import InputError
from napari_xraysep.io import read_image

pydicom = pytest.importorskip("pydicom")
from pydicom.data import DATA_ROOT  # noqa: E402
from pydicom.pixels import apply_color_lut, apply_modality_lut  # noqa: E402

# The files the wheel holds: get_testdata_files would also fetch pydicom-data's over the network.
CORPUS = sorted((Path(DATA_ROOT) / "test_files").glob("*.dcm"))


def _pydicom_image(path: Path) -> np.ndarray | None:
    """What pydicom makes of ``path`` as one image with the values it means, as io/dicom.py promises
    to read it — or None where pydicom itself gives no single image (not DICOM, damaged, no or
    undecodable pixels, several frames)."""
    try:
        dataset = pydicom.dcmread(path)
        pixels = dataset.pixel_array  # YBR_FULL and YBR_FULL_422 converted to RGB
        if int(dataset.get("NumberOfFrames", 1) or 1) > 1:
            return None
    except Exception:
        return None
    photometric = dataset.PhotometricInterpretation
    if photometric == "PALETTE COLOR":
        return apply_color_lut(pixels, dataset)
    if photometric not in ("MONOCHROME1", "MONOCHROME2"):
        return pixels
    expected = apply_modality_lut(pixels, dataset) * float(dataset.get("DoseGridScaling", 1))
    assert photometric == "MONOCHROME2"  # no MONOCHROME1 in the corpus: test_reading.py covers the inversion
    if "PixelPaddingValue" in dataset:  # padding lies outside the image: missing
        expected = expected.astype(np.float64)
        expected[pixels == dataset.PixelPaddingValue] = np.nan
    return expected


def test_the_corpus_is_there():
    assert len(CORPUS) > 60


@pytest.mark.filterwarnings("ignore::UserWarning")  # pydicom's notes on the odd files it still reads
@pytest.mark.parametrize("path", CORPUS, ids=[path.name for path in CORPUS])
def test_every_file_is_read_as_pydicom_means_it_or_refused_in_one_line(path):
    expected = _pydicom_image(path)
    if expected is None:
        with pytest.raises(InputError) as refusal:
            read_image(path)
        message = str(refusal.value)
        assert "\n" not in message and len(message) < 320 and path.name in message
        return
    image = read_image(path)
    assert image.dtype.isnative and image.shape == expected.shape
    if image.dtype.kind == "f":  # rescaled values come as float32: compare at that precision
        expected = expected.astype(image.dtype)
    np.testing.assert_array_equal(image, expected)
