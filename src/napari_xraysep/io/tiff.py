"""TIFF (tifffile, every compression through imagecodecs): the full-resolution image, the tags that
change what the samples mean or where they lie honoured, read per block."""

from __future__ import annotations

import logging
import re
import threading
import weakref
from collections import OrderedDict
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from functools import partial
from pathlib import Path
from xml.etree import ElementTree
from typing import Any

import numpy as np
import tifffile
import zarr

from ..core.errors import InputError
from .source import Geometry, ImageSource, StoredPixels, as_stored, read_error
from .spacing import resolution_entries
from .write import PROVENANCE_KEY

# A refusal lists at most this many pages.
LISTED_PAGES = 6
# Decoded strips kept for the blocks that follow (the most recently used; at least those of the block
# being read, so a one-strip file is decoded once whatever its size).
STRIP_CACHE_BYTES = 256 * 2**20
# What tifffile logs when a page's strip table is shorter or longer than its size needs: shorter,
# the size tags or the table are damaged; longer, tifffile ignores the extra strips.
STRIP_COUNT = re.compile(r"incorrect (StripByteCounts|StripOffsets) count \((\d+) != (\d+)\)")


class _TifffileLog(logging.Filter):
    """Keeps what tifffile logs off the terminal, collected in ``lines`` (without the page's repr):
    our own message or the file's info says it, once and in our words."""

    def __init__(self) -> None:
        super().__init__()
        self.lines: list[str] = []

    def filter(self, record: logging.LogRecord) -> bool:
        self.lines.append(re.sub(r"^<tifffile\.[^>]*>\s*", "", record.getMessage()))
        return False


@contextmanager
def _tifffile_log() -> Iterator[list[str]]:
    """While open: tifffile's log lines are collected into the list yielded, not printed."""
    log, logger = _TifffileLog(), logging.getLogger("tifffile")
    logger.addFilter(log)
    try:
        yield log.lines
    finally:
        logger.removeFilter(log)


class TiffPixels(StoredPixels):
    """One TIFF image (a series' level), read per block: memory-mapped for each access when it is
    stored uncompressed and contiguous (nothing stays resident), else through tifffile's zarr store,
    which decodes only the tiles or strips a block touches. Strips span the whole width, so the
    blocks of a row of tiles share theirs: decoded strips (``strip_rows`` rows each; a one-strip file
    is one strip) are kept, the most recently used first, up to STRIP_CACHE_BYTES, so that every
    strip is decoded about once however the image is walked through. Reopened after unpickling."""

    def __init__(
        self, path: Path, series: int, level: int, axes: str, shape: tuple[int, ...], dtype: np.dtype, byteorder: str,
        offset: int | None, strip_rows: int | None = None,
    ) -> None:
        self.path, self.series, self.level, self.axes, self.full_shape, self.offset = path, series, level, axes, shape, offset
        self.strip_rows = strip_rows
        self.stored_dtype = np.dtype(dtype).newbyteorder(byteorder)  # as in the file, for the memory map
        self.dtype = np.dtype(dtype).newbyteorder("=")
        spatial = {axis: n for axis, n in zip(axes, shape)}
        self.shape = (spatial["Y"], spatial["X"], *([spatial["S"]] if "S" in axes else []))
        self._lock = threading.Lock()
        self._zarr: Any = None
        self._file: tifffile.TiffFile | None = None
        self._strips: OrderedDict[int, np.ndarray] = OrderedDict()

    def __getstate__(self) -> dict[str, Any]:
        return {**self.__dict__, "_lock": None, "_zarr": None, "_file": None, "_strips": OrderedDict()}

    def __setstate__(self, state: dict[str, Any]) -> None:
        self.__dict__.update(state)
        self._lock = threading.Lock()

    def _key(self, rows: slice, cols: slice) -> tuple[Any, ...]:
        return tuple(rows if a == "Y" else cols if a == "X" else slice(None) if a == "S" else 0 for a in self.axes)

    def read(self, rows: slice, cols: slice) -> np.ndarray:
        if self.offset is None and self.strip_rows and rows.step in (None, 1):
            start, stop, _ = rows.indices(self.shape[0])
            return np.array(self._from_strips(start, max(start, stop))[:, cols])  # a copy: the strips are kept
        key = self._key(rows, cols)
        if self.offset is not None:
            # Mapped for this block only: a long-lived map keeps every page it touched resident.
            block = np.array(np.memmap(self.path, self.stored_dtype, "r", self.offset, self.full_shape)[key])
        else:
            with self._lock:
                block = np.asarray(self._array()[key])
        return self._laid_out(block)

    def _laid_out(self, block: np.ndarray) -> np.ndarray:
        block = block.astype(self.dtype, copy=False)
        if "S" in self.axes and self.axes.index("S") < self.axes.index("Y"):  # planar: samples first
            block = np.moveaxis(block, 0, -1)
        return block

    def _from_strips(self, start: int, stop: int) -> np.ndarray:
        """Rows ``start:stop``, all columns, from the decoded strips (decoding those not kept)."""
        size, height = int(self.strip_rows or 1), self.shape[0]
        first, last = start // size, max(start, stop - 1) // size
        with self._lock:
            strips = []
            for index in range(first, last + 1):
                strip = self._strips.pop(index, None)
                if strip is None:
                    rows = slice(index * size, min((index + 1) * size, height))
                    strip = self._laid_out(np.asarray(self._array()[self._key(rows, slice(None))]))
                self._strips[index] = strip  # now the most recently used
                strips.append(strip)
            kept = sum(strip.nbytes for strip in self._strips.values())
            while kept > STRIP_CACHE_BYTES and len(self._strips) > last - first + 1:
                kept -= self._strips.popitem(last=False)[1].nbytes
        block = strips[0] if len(strips) == 1 else np.concatenate(strips)
        return block[start - first * size : stop - first * size]

    def _array(self) -> Any:
        if self._zarr is None:
            with _tifffile_log():  # open_tiff has said what these lines say
                self._file = tifffile.TiffFile(self.path)
                # Closed when these pixels are let go (a file left open said "unclosed file" at exit).
                weakref.finalize(self, self._file.close)
                self._zarr = zarr.open(self._file.aszarr(series=self.series, level=self.level), mode="r")
        return self._zarr


def _describe_page(index: int, page: Any) -> str:
    shape = "×".join(str(n) for n in page.shape)
    kind = " thumbnail" if page.is_reduced else ""
    return f"page {index}: {shape} {page.dtype}{kind}"


def _pages_listing(tif: tifffile.TiffFile) -> str:
    pages = list(tif.pages)
    listed = "; ".join(_describe_page(i, p) for i, p in enumerate(pages[:LISTED_PAGES]))
    more = len(pages) - LISTED_PAGES
    return listed + (f"; … {more} more" if more > 0 else "")


def _choose_series(tif: tifffile.TiffFile, path: Path) -> int:
    """The one full-resolution image of the file: thumbnails and reduced pages do not count; a file
    of several images (pages of equal size, channels, time points) is refused, its pages listed."""
    series = list(tif.series)
    if not series:
        raise InputError(f"Cannot read {path.name}: it holds no image (damaged, or not a TIFF).")
    full = [i for i, s in enumerate(series) if not s.keyframe.is_reduced] or list(range(len(series)))
    stacked = [i for i in full if any(n > 1 for a, n in zip(series[i].axes, series[i].shape) if a not in "YXS")]
    if len(full) > 1 or stacked:
        images = sum(int(np.prod([n for a, n in zip(series[i].axes, series[i].shape) if a not in "YXS"])) for i in full)
        raise InputError(
            f"{path.name} holds {images} images, not one ({_pages_listing(tif)}); save the image to use as a "
            "file of its own (an X-ray as one grayscale image; a colour photograph as one RGB image, not three "
            "pages of its channels)."
        )
    return full[0]


def _tiff_values(page: Any, path: Path, info: dict[str, Any]) -> Callable[[np.ndarray], np.ndarray]:
    """What the stored samples mean (PhotometricInterpretation, ExtraSamples, palette), as a function
    of a stored block; refuses what cannot be read correctly."""
    photometric = tifffile.PHOTOMETRIC(page.photometric)
    info["photometric"] = photometric.name
    dtype = np.dtype(page.dtype)
    extras = tuple(int(e) for e in page.extrasamples)
    # Only a first extra sample can be the alpha (ExtraSamples 1: associated, premultiplied; 2:
    # unassociated); any others (ExtraSamples 0, channels an editor keeps) are not the image.
    premultiplied = bool(extras) and extras[0] == 1
    top = float(np.iinfo(dtype).max) if dtype.kind in "ui" else 1.0
    if photometric in (tifffile.PHOTOMETRIC.MINISWHITE, tifffile.PHOTOMETRIC.MINISBLACK):
        values: Callable[[np.ndarray], np.ndarray] = as_stored
        if photometric == tifffile.PHOTOMETRIC.MINISWHITE:
            if dtype.kind == "f":
                raise InputError(
                    f"{path.name} stores floating-point samples as MinIsWhite (0 = white), which has no defined "
                    "inverse; save it MinIsBlack."
                )
            info["photometric"] += " (inverted on reading: dense = bright)"
            bits_top = -1 if dtype.kind == "i" else 2 ** int(page.bitspersample) - 1
            values = np.logical_not if dtype == bool else partial(_inverted, top=bits_top)
        if not extras:
            return values
        # A grayscale image's extra samples are dropped (a Photoshop channel read as a third axis made a
        # 320×2 strip in napari); premultiplied gray is divided by its alpha first (read half as dense).
        info["alpha" if extras[0] in (1, 2) else "extra_samples"] = (
            "associated (premultiplied): divided out, then dropped (grayscale image)" if premultiplied
            else "dropped (grayscale image)" if extras[0] == 2 else f"{len(extras)} dropped (grayscale image)"
        )
        if premultiplied:
            return partial(_first_sample, values=values, unpremultiply=top)
        return partial(_first_sample, values=values)
    if photometric == tifffile.PHOTOMETRIC.PALETTE:
        colours = np.asarray(page.colormap)
        info["photometric"] += " (expanded through its colour map)"
        if colours.dtype == np.uint16 and not (colours % 257).any():  # an 8-bit palette stored as 16-bit entries
            colours = (colours // 257).astype(np.uint8)
        return partial(_looked_up, colours=colours[0] if (colours == colours[0]).all() else colours.T)
    if photometric == tifffile.PHOTOMETRIC.YCBCR and page.compression in (6, 7):
        info["photometric"] = "YCBCR (decoded to RGB by the JPEG codec)"
        return as_stored
    if photometric == tifffile.PHOTOMETRIC.RGB:
        kept = 4 if extras and extras[0] in (1, 2) else 3  # the colours, and the alpha if there is one
        if len(extras) > kept - 3:
            info["extra_samples"] = f"{len(extras) - (kept - 3)} dropped (ExtraSamples {list(extras)})"
        if premultiplied:
            info["alpha"] = "associated (premultiplied): divided out"
            return partial(_unpremultiplied, top=top)
        return partial(_first_samples, count=kept) if extras else as_stored
    # tifffile names the ink separations by the TIFF tag's value; a user knows them as CMYK.
    colours = "CMYK" if photometric == tifffile.PHOTOMETRIC.SEPARATED else photometric.name
    raise InputError(
        f"{path.name} stores its colours as {colours}, which napari-xraysep does not convert; "
        "save it as RGB (a photograph) or grayscale (an X-ray)."
    )


def _first_sample(
    block: np.ndarray, values: Callable[[np.ndarray], np.ndarray], unpremultiply: float | None = None
) -> np.ndarray:
    """A grayscale image's gray sample (divided by its associated alpha, the second sample, when
    ``unpremultiply`` gives the samples' top value)."""
    if unpremultiply is not None:
        block = _unpremultiplied(block, unpremultiply, colours=1)
    return values(block[..., 0])


def _first_samples(block: np.ndarray, count: int) -> np.ndarray:
    return block[..., :count]


def _inverted(block: np.ndarray, top: int) -> np.ndarray:
    """MinIsWhite: ``top − stored`` (``top`` = 2^bits − 1; −1 for signed samples, i.e. ``−1 − stored``)."""
    return (np.asarray(top, block.dtype) - block).astype(block.dtype)


def _looked_up(block: np.ndarray, colours: np.ndarray) -> np.ndarray:
    """A palette image's colours: (N,) gray or (N, 3) RGB entries indexed by the stored samples."""
    return colours[block]


def _unpremultiplied(block: np.ndarray, top: float, colours: int = 3) -> np.ndarray:
    """Associated alpha: the ``colours`` samples before the alpha (the first extra sample) divided by
    alpha (where it is not 0), alpha kept, further extra samples dropped."""
    colour = block[..., :colours].astype(np.float64)
    alpha = block[..., colours : colours + 1].astype(np.float64)
    colour = np.divide(colour * top, alpha, out=np.zeros_like(colour), where=alpha > 0)
    if block.dtype.kind in "ui":
        colour = np.clip(np.rint(colour), 0, top)
    return np.concatenate([colour.astype(block.dtype), block[..., colours : colours + 1]], axis=-1)


# TIFF ResolutionUnit: 1 none, 2 inch (the default when the tag is absent), 3 centimetre.
# ResolutionUnit: 2 and 3 are the TIFF standard's; 4 (mm) and 5 (µm) are tifffile's, which microscopy
# and imaging software write too (a tester's X-ray at 10 px/mm was read as "ResolutionUnit none").
RESOLUTION_UNITS = {2: "inch", 3: "cm", 4: "mm", 5: "um"}


# ImageJ's and Fiji's unit (in the image description), for resolution tags whose ResolutionUnit is none.
IMAGEJ_UNITS = {
    "inch": "inch", "cm": "cm", "mm": "mm", "micron": "um", "um": "um", "µm": "um", "μm": "um",
    r"\u00b5m": "um",  # ImageJ writes µ escaped in its description
}
# OME-XML's PhysicalSizeX/YUnit, in mm (µm when not said, OME's default).
OME_MM = {"m": 1e3, "cm": 10.0, "mm": 1.0, "µm": 1e-3, "μm": 1e-3, "um": 1e-3, "nm": 1e-6, "in": 25.4}


def _tiff_spacing(tif: tifffile.TiffFile, page: Any, orientation: int) -> dict[str, Any]:
    """The pixel spacing from XResolution/YResolution (pixels per ResolutionUnit), as
    :func:`.spacing.resolution_entries` records it — the unit ImageJ/Fiji writes in its description
    where ResolutionUnit is none — or from OME-XML's PhysicalSizeX/Y; nothing when none is given, a
    note when ResolutionUnit is none and nothing else says a unit (the tags then give an aspect ratio)."""
    ome = _ome_spacing(tif, orientation)
    if ome:
        return ome
    resolution = [page.tags.valueof(tag) for tag in (282, 283)]  # XResolution, YResolution: (numerator, denominator)
    if resolution[0] is None:
        return {}
    per_unit = [n / d if d else float("nan") for n, d in (r if r is not None else resolution[0] for r in resolution)]
    unit = int(page.tags.valueof(296, 2))
    imagej_unit = str((tif.imagej_metadata or {}).get("unit", "")).strip().lower() if tif.is_imagej else ""
    if unit == 1 and imagej_unit in IMAGEJ_UNITS:  # a tester's Fiji-calibrated X-ray lost its 0.085 mm
        name = IMAGEJ_UNITS[imagej_unit]
        source = f"TIFF XResolution/YResolution (ImageJ unit={imagej_unit})"
        return resolution_entries(tuple(per_unit), name, source, transposed=orientation >= 5)
    if unit not in RESOLUTION_UNITS:
        if per_unit == [1.0, 1.0]:  # tifffile's default when no resolution is given: nothing was said
            return {}
        meaning = "none (an aspect ratio, not a size)" if unit == 1 else f"{unit}, which is no unit known here"
        note = f"TIFF XResolution/YResolution {per_unit} have ResolutionUnit {meaning}; no pixel spacing."
        return {"pixel_spacing_note": note}
    name = RESOLUTION_UNITS[unit]
    return resolution_entries(tuple(per_unit), name, f"TIFF XResolution/YResolution (ResolutionUnit={name})", transposed=orientation >= 5)


def _ome_spacing(tif: tifffile.TiffFile, orientation: int) -> dict[str, Any]:
    """The first image's PhysicalSizeX/Y of an OME-TIFF (µm unless a unit is given), or nothing."""
    if not tif.is_ome or not tif.ome_metadata:
        return {}
    try:
        root = ElementTree.fromstring(tif.ome_metadata)
    except ElementTree.ParseError:
        return {}
    pixels = next((element for element in root.iter() if element.tag.rsplit("}", 1)[-1] == "Pixels"), None)
    if pixels is None or pixels.get("PhysicalSizeX") is None:
        return {}
    sizes = []
    for axis in ("X", "Y"):
        # A missing Y is X's size in X's unit (not X's number in the default µm: 1000× off).
        named = axis if pixels.get(f"PhysicalSize{axis}") is not None else "X"
        value, unit = pixels.get(f"PhysicalSize{named}"), pixels.get(f"PhysicalSize{named}Unit", "µm")
        if unit not in OME_MM:
            return {"pixel_spacing_note": f"OME PhysicalSize{axis} is in {unit}, no unit known here; no pixel spacing."}
        try:
            size = float(value) * OME_MM[unit]
        except ValueError:
            size = float("nan")
        if not size > 0 or not np.isfinite(size):  # the pixels are fine: only the size is dropped
            return {"pixel_spacing_note": f"OME PhysicalSize{axis} is {value!r}, not a size; no pixel spacing."}
        sizes.append(size)
    per_mm = (1 / sizes[0], 1 / sizes[1])  # (across, down), as resolution tags give them
    return resolution_entries(per_mm, "mm", "OME-XML PhysicalSizeX/Y", transposed=orientation >= 5)


def open_tiff(path: Path) -> list[ImageSource]:
    """The TIFF's image, one :class:`ImageSource` per pyramid level (full resolution first). What
    tifffile logs about the file is kept in ``info["tifffile_notes"]``, not printed; a strip table that
    does not fit the image's size is refused (the pixels would be read from the wrong places)."""
    try:
        with _tifffile_log() as logged, tifffile.TiffFile(path) as tif:
            index = _choose_series(tif, path)
            series = tif.series[index]
            page = series.keyframe
            _check_strips(path, page, logged)
            _check_complete(path, tif.filehandle.size, [page for level in series.levels for page in level.pages])
            info: dict[str, Any] = {
                "file": str(path), "format": "TIFF", "compression": tifffile.COMPRESSION(page.compression).name,
                "pages": len(tif.pages), "bits_per_sample": int(page.bitspersample), "sample_format": tifffile.SAMPLEFORMAT(page.sampleformat).name,
            }
            values = _tiff_values(page, path, info)
            orientation = int(page.tags.valueof(274, 1) or 1)
            if orientation != 1:
                info["orientation"] = orientation
            info |= _tiff_spacing(tif, page, orientation)
            if len(series.levels) > 1:
                info["pyramid_levels"] = len(series.levels)
            if logged:
                info["tifffile_notes"] = list(dict.fromkeys(logged))
            provenance = (tif.shaped_metadata or ({},))[0].get(PROVENANCE_KEY) if tif.is_shaped else None
            if provenance:
                info["provenance"] = provenance
            levels = []
            for number, level in enumerate(series.levels):
                keyframe = level.keyframe
                mappable = keyframe.is_memmappable and level.dataoffset is not None and len(level.pages) == 1
                strips = None if keyframe.is_tiled or len(level.pages) != 1 else int(min(keyframe.rowsperstrip or keyframe.imagelength, keyframe.imagelength))
                stored = TiffPixels(
                    path, index, number, level.axes, tuple(level.shape), level.dtype, tif.byteorder,
                    level.dataoffset if mappable else None, strips,
                )
                levels.append(ImageSource(path, stored, values, Geometry(orientation if orientation in range(1, 9) else 1), info))
    except InputError:
        raise
    except Exception as error:  # tifffile raises many types for damaged files
        raise read_error(path, error) from error
    return levels


def _check_complete(path: Path, size: int, pages: list[Any]) -> None:
    """InputError when the file (``size`` bytes) ends before the image data its ``pages`` point to: a file
    still being copied or written. (A tester's TIFF cut at 60 % was refused as "mmap length is greater than
    file size", an LZW one cut in half as "corrupted strip cannot be reshaped": true, but no help.)"""
    end = max(
        (offset + count for page in pages for offset, count in zip(page.dataoffsets, page.databytecounts) if count),
        default=0,
    )
    if end > size:
        raise InputError(
            f"Cannot read {path.name}: the file ends at byte {size:,}, but its image data reach byte {end:,} — it is "
            "incomplete (still being copied or written?). Copy it again, or wait until it is written."
        )


def _check_strips(path: Path, page: Any, logged: list[str]) -> None:
    """InputError if tifffile found fewer strips than the page's size needs (some of its pixels are
    nowhere: it would read them from the wrong places or fail); strips beyond those needed are ignored."""
    for line in logged:
        mismatch = STRIP_COUNT.search(line)
        if mismatch and int(mismatch[2]) < int(mismatch[3]):
            tag, found, needed = mismatch.groups()
            raise InputError(
                f"Cannot read {path.name}: it says it is {page.imagelength}×{page.imagewidth} pixels, which needs "
                f"{needed} strips, but its {tag} lists {found}; the file is damaged (or its size tags are wrong)."
            )
