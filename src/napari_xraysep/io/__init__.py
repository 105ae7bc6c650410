"""Every file in and out: :mod:`.read` (TIFF, JPEG, PNG, DICOM, block by block as used),
:mod:`.write` (float TIFFs with provenance, whole or tile by tile; PNG montages), :mod:`.modelfile`
(trained models and checkpoints), :mod:`.pyramid` (a whole painting's overview levels) and
:mod:`.files` (atomic writes of a file and of a whole result set)."""

from .files import atomic_write, result_set
from .modelfile import checkpoint_to, load_model, save_model
from .read import READABLE_SUFFIXES, ImageSource, open_image, open_levels, read_image, read_provenance
from .write import (
    PROVENANCE_KEY,
    TiffWindow,
    montage,
    result_tiffs,
    to_display,
    write_png,
    write_record,
    write_results,
    write_tiff,
)

__all__ = [
    "PROVENANCE_KEY",
    "READABLE_SUFFIXES",
    "ImageSource",
    "TiffWindow",
    "atomic_write",
    "checkpoint_to",
    "load_model",
    "montage",
    "open_image",
    "open_levels",
    "read_image",
    "read_provenance",
    "result_set",
    "result_tiffs",
    "save_model",
    "to_display",
    "write_png",
    "write_record",
    "write_results",
    "write_tiff",
]
