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
# PNG colour types (IHDR) whose 16-bit samples Pillow cuts to 8 bits: RGB, gray + alpha, RGBA.
PNG_GRAY_ALPHA = 4
PNG_16_BIT_TYPES = (2, PNG_GRAY_ALPHA, 6)


def _gray_palette(image: Any) -> np.ndarray | None:
    """A palette image whose used entries are all gray (R = G = B), as its (H, W) gray values; None
    if any used entry has a colour (the image is then a colour image)."""
    indices = np.asarray(image)
    entries = np.asarray(image.getpalette("RGB") or [], dtype=np.uint8).reshape(-1, 3)
    used = np.unique(indices)
    if not len(entries) or used.max() >= len(entries):
        return None
    colours = entries[used]
    if not (colours == colours[:, :1]).all():
        return None
    return entries[:, 0][indices]


def _has_alpha(image: Any) -> bool:
    return image.mode == "PA" or "transparency" in image.info


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
    """A JPEG or PNG as an :class:`ImageSource` (decoded whole). A palette image whose colours are all
    gray is read as grayscale (an X-ray saved with a palette), other palette images are expanded to
    RGB(A); a gray image's alpha is dropped, at 8 or 16 bits (transparency is not missing data: mark
    that as NaN in a float TIFF); CMYK and other colour spaces are refused with one line."""
    from PIL import Image

    limit = Image.MAX_IMAGE_PIXELS
    Image.MAX_IMAGE_PIXELS = None  # a museum's photograph is not a decompression bomb
    try:
        with Image.open(path) as image:
            orientation = int(image.getexif().get(EXIF_ORIENTATION, 1) or 1)
            info = {"file": str(path), "format": image.format, "mode": image.mode}
            info |= _photo_spacing(image, transposed=orientation >= 5)
            bits, colour_type = _png_header(path) if image.format == "PNG" else (8, None)
            gray_palette = _gray_palette(image) if image.mode in ("P", "PA") else None
            if gray_palette is not None:
                array = gray_palette
                info["mode"] += " (gray palette: read as grayscale" + (", alpha dropped)" if _has_alpha(image) else ")")
            elif image.mode in ("P", "PA"):
                image = image.convert("RGBA" if image.mode == "PA" or "transparency" in image.info else "RGB")
                info["mode"] += " (palette expanded)"
            elif image.mode in ("LA", "La"):
                image = image.getchannel("L")
                info["alpha"] = "dropped (grayscale image)"
            elif image.mode not in PLAIN_MODES:
                raise InputError(
                    f"{path.name} stores its colours as {image.mode}, which napari-xraysep does not convert; save it as RGB."
                )
            if gray_palette is None:
                array = np.asarray(image)
        if bits == 16 and colour_type in PNG_16_BIT_TYPES:
            import imagecodecs  # Pillow keeps only 8 bits of 16-bit colour (and gray + alpha) PNGs

            array = imagecodecs.png_decode(path.read_bytes())
            if colour_type == PNG_GRAY_ALPHA:
                array, info["mode"], info["alpha"] = array[..., 0], "LA;16", "dropped (grayscale image)"
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

