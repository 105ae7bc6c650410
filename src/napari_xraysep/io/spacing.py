"""Pixel spacing: how many millimetres of the painting one pixel covers, and where that was read.

Every reader records it in :attr:`ImageSource.info` the same way — ``pixel_spacing_mm`` (row, column:
mm per pixel down and across), ``pixel_spacing_tag`` (where it came from, in words naming the tag)
and, when a file's resolution was there but ignored, ``pixel_spacing_note`` (why). Read back as a
:class:`PixelSpacing` by :func:`spacing_of`; a spacing the user gives (``--pixel-size 0.085mm``)
replaces the file's through :func:`chosen_spacing`; :func:`resolution_tags` writes it back into TIFFs.

The resolution 72 or 96 dpi is what software writes when nobody measured anything (cameras, image
editors, screen captures); it is ignored, and so is a TIFF ResolutionUnit of none (an aspect ratio).
"""

from __future__ import annotations

import math
import warnings
from dataclasses import dataclass
from typing import Any

from ..core.threads import PLAUSIBLE_MM, is_bare_number, parse_pixel_size

MM_PER_INCH = 25.4
# Pixels per inch that mean "not measured": the defaults of image software and cameras.
DEFAULT_DPI = (72.0, 96.0)
GIVEN = "given by the user"


@dataclass(frozen=True)
class PixelSpacing:
    """(row, column) millimetres per pixel — ``mm[0]`` down the image, ``mm[1]`` across — and
    ``source``, where it was read ("TIFF XResolution/YResolution (ResolutionUnit=cm)", "given by the
    user as 85um", …)."""

    mm: tuple[float, float]
    source: str

    @property
    def mean_mm(self) -> float:
        """The geometric mean of the two spacings (mm): one number for an isotropic comparison."""
        return math.sqrt(self.mm[0] * self.mm[1])

    def record(self) -> dict[str, Any]:
        """What run.json and a result's provenance keep: ``{"mm_per_pixel": [row, column], "source": …}``,
        to 12 significant digits (300 dpi is 25.4 / 300 mm; 254 dpi was written 0.09999999999999999)."""
        return {"mm_per_pixel": tidy_mm(self.mm), "source": self.source}

    def describe(self) -> str:
        """'0.085 mm per pixel' or '0.1 × 0.12 mm per pixel (row × column)', with its source."""
        size = f"{self.mm[0]:.4g}" if math.isclose(*self.mm, rel_tol=1e-6) else f"{self.mm[0]:.4g} × {self.mm[1]:.4g} (row × column)"
        return f"{size} mm per pixel ({self.source})"

    @classmethod
    def from_record(cls, record: Any) -> PixelSpacing | None:
        """The spacing :meth:`record` wrote (None for None or anything else)."""
        if not isinstance(record, dict) or "mm_per_pixel" not in record:
            return None
        row, column = (float(v) for v in record["mm_per_pixel"])
        return cls((row, column), str(record.get("source", "")))


def tidy_mm(values: Any) -> list[float]:
    """Millimetres to 12 significant digits: 25.4 / 127 dpi and 0.21 mm ÷ a magnification of 1.05 are
    0.2 mm, not 0.19999999999999998 (a tester's run.json held both beside each other)."""
    return [float(f"{float(v):.12g}") for v in values]


def spacing_of(info: dict[str, Any]) -> PixelSpacing | None:
    """The pixel spacing a reader recorded in an :attr:`ImageSource.info`, or None when the file has none."""
    spacing = info.get("pixel_spacing_mm")
    if not spacing:
        return None
    return PixelSpacing((float(spacing[0]), float(spacing[1])), str(info.get("pixel_spacing_tag", "")))


def resolution_entries(
    per_unit: tuple[float, float], unit: str, source: str, transposed: bool = False
) -> dict[str, Any]:
    """The ``info`` entries for a resolution of (across, down) = ``per_unit`` pixels per ``unit``
    ("inch", "cm", "mm" or "um"), as a TIFF's XResolution/YResolution or a photograph's dpi give it: the spacing,
    or — for the 72/96 dpi defaults or a resolution that is not positive — a note saying why none is
    kept, and for one outside PLAUSIBLE_MM (a TIFF cannot store some, and no painting has them).
    ``transposed``: the picture's rows are the stored columns (Orientation 5–8)."""
    per_inch = [float(v) * {"inch": 1.0, "cm": 2.54, "mm": 25.4, "um": 25400.0}[unit] for v in per_unit]
    if not all(math.isfinite(v) and v > 0 for v in per_inch):
        return {"pixel_spacing_note": f"{source} holds {list(per_unit)} pixels per {unit}, not a resolution; no pixel spacing."}
    if all(any(math.isclose(v, default, rel_tol=1e-3) for default in DEFAULT_DPI) for v in per_inch):
        dpi = "/".join(f"{v:g}" for v in dict.fromkeys(round(v, 2) for v in per_inch))
        return {"pixel_spacing_note": f"{source} says {dpi} dpi, the default image software writes, not a measurement; ignored."}
    across, down = (MM_PER_INCH / v for v in per_inch)
    low, high = PLAUSIBLE_MM
    if not all(low <= v <= high for v in (across, down)):
        note = (
            f"{source} says {across:.3g} × {down:.3g} mm a pixel, no scanner's, detector's or camera's on a painting "
            f"({low:g}–{high:g} mm); ignored."
        )
        # Said, not only recorded: unlike a software's 72 dpi, the file claims a size (give --pixel-size).
        warnings.warn(f"{note[0].upper()}{note[1:]}", UserWarning, stacklevel=2)
        return {"pixel_spacing_note": note}
    row_column = tidy_mm([across, down] if transposed else [down, across])
    return {"pixel_spacing_mm": row_column, "pixel_spacing_tag": source}


def chosen_spacing(given: str | None, info: dict[str, Any], name: str) -> PixelSpacing | None:
    """The spacing to use for the image ``name`` whose reader recorded ``info``: the user's ``given``
    text (:func:`~napari_xraysep.core.threads.parse_pixel_size`: '0.085mm', '85um', '300dpi'),
    with a warning when it differs from the file's own, else the file's, else None.
    Raises :class:`InputError` for a text that is no pixel size."""
    from_file = spacing_of(info)
    if given is None:
        return from_file
    size = parse_pixel_size(given)
    unit = " mm" if is_bare_number(given) else ""  # a bare number is mm: said, not left to be guessed
    spacing = PixelSpacing((size, size), f"{GIVEN} as {given.strip()}{unit}")
    if from_file is not None and not all(math.isclose(size, v, rel_tol=1e-3) for v in from_file.mm):
        warnings.warn(f"The pixel size given ({size:.4g} mm) replaces {name}'s own: {from_file.describe()}.", UserWarning, stacklevel=2)
    return spacing


def resolution_tags(spacing: PixelSpacing | None) -> dict[str, Any]:
    """tifffile ``imwrite`` arguments that store ``spacing`` as XResolution/YResolution in pixels per
    centimetre (ResolutionUnit = CENTIMETER); none for None."""
    if spacing is None:
        return {}
    return {"resolution": (10.0 / spacing.mm[1], 10.0 / spacing.mm[0]), "resolutionunit": "CENTIMETER"}
