"""Files in: every image the CLI, the napari reader, the whole-painting paths and ``align`` read.

One function, :func:`open_image`, opens a TIFF (tifffile + imagecodecs: every compression), a JPEG
or PNG (Pillow) or a DICOM radiograph (pydicom, the ``[dicom]`` extra) as an :class:`ImageSource`:
an array-like whose pixels are read block by block as they are used (``source[rows, cols]``), with
the values the file *means*, laid out as (H, W) or (H, W, C):

* TIFF: the full-resolution image is chosen (NewSubfileType thumbnails and SubIFD/OME pyramid
  levels are skipped); a file of several full images is refused, its pages listed. MinIsWhite is
  inverted (``2^bits − 1 − stored``), planar (channels-first) storage is put channels-last,
  Orientation is applied, a palette is expanded (an 8-bit one, its 16-bit entries multiples of 257,
  as 8-bit), premultiplied (associated) alpha is divided out, a grayscale image's extra samples
  (alpha, an editor's channels) are dropped and an RGB image's beyond its alpha; signed and float samples and odd bit depths come as tifffile
  decodes them. Uncompressed files are memory-mapped per access, others decoded tile by tile or
  strip by strip (tifffile's zarr store), so memory stays bounded whatever the size.
* JPEG and PNG: decoded whole, EXIF Orientation applied, palettes expanded.
* DICOM (recognised by ``DICM`` at byte 128 before any other mark, or by its suffix): the modality
  transform (rescale or Modality LUT, wherever stored) applied, MONOCHROME1 inverted over the
  stored range, padding pixels missing (NaN), YBR and palette colour converted to RGB, pixel
  spacing kept in :attr:`ImageSource.info` (see :func:`.dicom.open_dicom`).

Anything else, or a file whose pixels would mean something else than read (CMYK, Lab, YCbCr
without JPEG), raises :class:`InputError` with one line saying why.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import numpy as np
import tifffile

from ..core.errors import InputError
from .dicom import open_dicom
from .photo import open_photo
from .source import ImageSource
from .tiff import open_tiff
from .write import PROVENANCE_KEY

# Formats by their first bytes.
TIFF_MAGIC = (b"II*\x00", b"MM\x00*", b"II+\x00", b"MM\x00+")
JPEG_MAGIC, PNG_MAGIC = b"\xff\xd8\xff", b"\x89PNG\r\n\x1a\n"
DICOM_SUFFIXES = (".dcm", ".dicom")
# File name patterns the napari reader claims (napari.yaml lists the same).
READABLE_SUFFIXES = (".tif", ".tiff", ".jpg", ".jpeg", ".png", *DICOM_SUFFIXES)


def open_image(path: str | os.PathLike[str]) -> ImageSource:
    """The full-resolution image in ``path`` (TIFF, JPEG, PNG or DICOM), read block by block as used.

    Raises :class:`InputError` with one line when the file is missing, damaged, of another format,
    holds several images, or stores its pixels in a way that cannot be read correctly.
    """
    return open_levels(path)[0]


def read_image(path: str | os.PathLike[str]) -> np.ndarray:
    """The whole full-resolution image in ``path``, in memory (:func:`open_image`, read at once).

    Parameters
    ----------
    path : str or os.PathLike
        A TIFF (any compression tifffile + imagecodecs read), JPEG, PNG or DICOM file.

    Returns
    -------
    ndarray, shape (H, W) or (H, W, C)
        The values the file means, in its own dtype (uint8/uint16/float…; DICOM after its modality
        transform, float64 with NaN for padding pixels); colour channels last, orientation applied.

    Raises
    ------
    InputError
        The file is missing, damaged, of another format, holds several full images, or stores its
        pixels in a way that cannot be read correctly (CMYK, Lab, …); one line saying which.

    Examples
    --------
    >>> import tempfile, pathlib
    >>> import numpy as np, tifffile
    >>> from napari_xraysep.io import read_image
    >>> folder = pathlib.Path(tempfile.mkdtemp())
    >>> tifffile.imwrite(folder / "xray.tif", np.arange(12, dtype=np.uint16).reshape(3, 4))
    >>> image = read_image(folder / "xray.tif")
    >>> image.shape, image.dtype.name, int(image[2, 3])
    ((3, 4), 'uint16', 11)
    >>> read_image(folder / "missing.tif")  # doctest: +ELLIPSIS
    Traceback (most recent call last):
    ...
    napari_xraysep.core.errors.InputError: Image file .../missing.tif does not exist.
    """
    return np.asarray(open_image(path))


def _not_a_file(path: Path) -> str:
    """Why ``path`` cannot be read as a file, in a few words."""
    if path.is_dir():
        return "is a folder, not an image file"
    if path.is_symlink():
        return "is a link that leads to no file"
    return "does not exist"


def open_levels(path: str | os.PathLike[str]) -> list[ImageSource]:
    """The image of :func:`open_image` and, for a pyramidal TIFF, its reduced levels, largest first
    (napari's multiscale data)."""
    path = Path(path)
    if not path.is_file():
        raise InputError(f"Image file {path} {_not_a_file(path)}.")
    try:
        with open(path, "rb") as handle:
            head = handle.read(132)
    except OSError as error:
        raise InputError(f"Cannot read {path}: {error.strerror or error}.") from error
    # DICM first: a DICOM file's 128-byte preamble may itself be a TIFF header (dual-personality
    # files, legal and written by some scanners), and the DICOM dataset is what such a file means.
    if head[128:132] == b"DICM":
        return [open_dicom(path)]
    if head[:4] in TIFF_MAGIC:
        return open_tiff(path)
    if path.suffix.lower() in DICOM_SUFFIXES:
        return [open_dicom(path)]
    if head.startswith((JPEG_MAGIC, PNG_MAGIC)):
        return [open_photo(path)]
    raise InputError(f"Cannot read {path.name}: it is not a TIFF, JPEG, PNG or DICOM image.")


def read_provenance(path: str | os.PathLike[str]) -> dict[str, Any] | None:
    """The provenance :func:`~.write.write_tiff` stored in a TIFF, or None (for any other file too)."""
    try:
        with tifffile.TiffFile(path) as tif:
            shaped = tif.shaped_metadata or ()
    except (tifffile.TiffFileError, OSError, ValueError):
        return None
    return shaped[0].get(PROVENANCE_KEY) if shaped else None
