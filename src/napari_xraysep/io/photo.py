"""JPEG and PNG photographs (Pillow; 16-bit colour PNGs through imagecodecs, which keeps all 16 bits),
with the EXIF Orientation applied as for a TIFF."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from ..core.errors import InputError
from .source import Geometry, ImageSource, InMemory, as_stored, read_error
from .spacing import resolution_entries

EXIF_ORIENTATION = 0x0112
# Pillow modes read as they are (gray, RGB, RGBA, 16/32-bit gray, bilevel).
PLAIN_MODES = ("L", "RGB", "RGBA", "I;16", "I;16B", "I", "F", "1")


def _png_header(path: Path) -> tuple[int, int]:
    """(bit depth, colour type) from a PNG's IHDR chunk."""
    with open(path, "rb") as handle:
        head = handle.read(26)
    return head[24], head[25]


def _photo_spacing(image: Any, transposed: bool) -> dict[str, Any]:
    """The pixel spacing from the resolution Pillow reads as ``dpi``: a PNG's pHYs chunk (pixels per
    metre), a JPEG's JFIF density (per inch or cm) or, failing that, its EXIF XResolution/YResolution;
    nothing without one (a PNG pHYs of unknown unit is an aspect ratio only)."""
    dpi = image.info.get("dpi")
    if not dpi:
        return {}
    if image.format == "PNG":
        source = "PNG pHYs (pixels per metre)"
    elif image.info.get("jfif_unit") in (1, 2):
        source = f"JPEG JFIF density (per {'inch' if image.info['jfif_unit'] == 1 else 'cm'})"
    else:
        source = "JPEG EXIF XResolution/YResolution"
    return resolution_entries((float(dpi[0]), float(dpi[1])), "inch", source, transposed)


def open_photo(path: Path) -> ImageSource:
    """A JPEG or PNG as an :class:`ImageSource` (decoded whole). Palette images are expanded to RGB(A),
    a gray image's alpha is dropped; CMYK and other colour spaces are refused with one line."""
    from PIL import Image

    limit = Image.MAX_IMAGE_PIXELS
    Image.MAX_IMAGE_PIXELS = None  # a museum's photograph is not a decompression bomb
    try:
        with Image.open(path) as image:
            orientation = int(image.getexif().get(EXIF_ORIENTATION, 1) or 1)
            info = {"file": str(path), "format": image.format, "mode": image.mode}
            info |= _photo_spacing(image, transposed=orientation >= 5)
            if image.mode in ("P", "PA"):
                image = image.convert("RGBA" if image.mode == "PA" or "transparency" in image.info else "RGB")
                info["mode"] += " (palette expanded)"
            elif image.mode in ("LA", "La"):
                image = image.getchannel("L")
                info["alpha"] = "dropped (grayscale image)"
            elif image.mode not in PLAIN_MODES:
                raise InputError(
                    f"{path.name} stores its colours as {image.mode}, which napari-xraysep does not convert; save it as RGB."
                )
            array = np.asarray(image)
        if image.format == "PNG" and _png_header(path)[0] == 16 and _png_header(path)[1] in (2, 6):
            import imagecodecs  # Pillow keeps only 8 bits of 16-bit colour PNGs

            array = imagecodecs.png_decode(path.read_bytes())
    except InputError:
        raise
    except Exception as error:  # Pillow raises many types for damaged files
        raise read_error(path, error) from error
    finally:
        Image.MAX_IMAGE_PIXELS = limit
    if orientation != 1:
        info["orientation"] = orientation
    geometry = Geometry(orientation if 1 <= orientation <= 8 else 1)
    return ImageSource(path, InMemory(array), as_stored, geometry, info)

