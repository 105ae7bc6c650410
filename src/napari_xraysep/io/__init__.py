"""Every file in and out: :mod:`.read` (TIFF, JPEG, PNG, DICOM, block by block as used) and
:mod:`.write` (float TIFFs with provenance, whole or tile by tile; PNG montages)."""

from ..core.files import atomic_write, result_set
from .read import READABLE_SUFFIXES, ImageSource, open_image, open_levels, read_image, read_provenance
from .write import (
    PROVENANCE_KEY,
    TiffWindow,
    montage,
    result_tiffs,
    to_display,
    write_png,
    write_results,
    write_tiff,
)

__all__ = [
    "PROVENANCE_KEY",
    "READABLE_SUFFIXES",
    "ImageSource",
    "TiffWindow",
    "atomic_write",
    "montage",
    "open_image",
    "open_levels",
    "read_image",
    "read_provenance",
    "result_set",
    "result_tiffs",
    "to_display",
    "write_png",
    "write_results",
    "write_tiff",
]
