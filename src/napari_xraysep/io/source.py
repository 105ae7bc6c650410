"""What every reader returns: an :class:`ImageSource`, an image read block by block as used, with
its stored pixels (:class:`StoredPixels`), what they mean (a function of a block) and where they lie
(:class:`Geometry`)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from ..core.errors import InputError


@dataclass(frozen=True)
class Geometry:
    """Where stored pixels lie in the picture: TIFF/EXIF Orientation 1–8 (1: rows top to bottom,
    columns left to right). 5–8 swap rows and columns."""

    orientation: int = 1

    @property
    def transposed(self) -> bool:
        return self.orientation >= 5

    @property
    def flips(self) -> tuple[bool, bool]:
        """Whether the picture's rows, and its columns, run opposite to the (transposed) stored ones."""
        return self.orientation in (3, 4, 7, 8), self.orientation in (2, 3, 6, 7)

    def shape(self, stored: tuple[int, ...]) -> tuple[int, ...]:
        return (stored[1], stored[0], *stored[2:]) if self.transposed else stored

    def stored_window(self, rows: tuple[int, int], cols: tuple[int, int], shape: tuple[int, ...]) -> tuple[slice, slice]:
        """The stored rows and columns that hold the picture's ``rows`` × ``cols`` (half-open ranges)."""
        flip_rows, flip_cols = self.flips
        if flip_rows:
            rows = (shape[0] - rows[1], shape[0] - rows[0])
        if flip_cols:
            cols = (shape[1] - cols[1], shape[1] - cols[0])
        window = (slice(*rows), slice(*cols))
        return (window[1], window[0]) if self.transposed else window

    def apply(self, block: np.ndarray) -> np.ndarray:
        """A stored block as it appears in the picture."""
        if self.transposed:
            block = np.swapaxes(block, 0, 1)
        flip_rows, flip_cols = self.flips
        return block[:: -1 if flip_rows else 1, :: -1 if flip_cols else 1]


def _span(index: Any, length: int) -> tuple[int, int, Any]:
    """A row or column index → the half-open range to read and the index into what was read."""
    if isinstance(index, (int, np.integer)):
        position = int(index) + length if index < 0 else int(index)
        if not 0 <= position < length:
            raise IndexError(f"index {index} is out of bounds for a side of {length}")
        return position, position + 1, 0
    positions = range(*index.indices(length))
    if not positions:
        return 0, 0, slice(0, 0)
    low, high = min(positions[0], positions[-1]), max(positions[0], positions[-1]) + 1
    stop = positions[-1] - low + positions.step
    return low, high, slice(positions[0] - low, None if stop < 0 else stop, positions.step)


class ImageSource:
    """An image in a file, read as used: ``source[rows, cols]`` (any integer or slice indexing) gives
    an ndarray of the pixels there, as the file means them; ``np.asarray(source)`` the whole image.
    Has ``shape`` ((H, W) or (H, W, C)), ``dtype``, ``ndim``, ``path`` and ``info`` (what was read and
    how: format, compression, photometric interpretation, orientation, pixel spacing …), the
    provenance runs record. Pickles by path (for a distributed dask cluster)."""

    def __init__(
        self,
        path: Path,
        stored: StoredPixels,
        values: Callable[[np.ndarray], np.ndarray],
        geometry: Geometry,
        info: dict[str, Any],
    ) -> None:
        self.path, self.stored, self.values, self.geometry, self.info = Path(path), stored, values, geometry, info
        probe = values(np.zeros((1, 1, *stored.shape[2:]), stored.dtype))  # what a pixel becomes
        self.shape: tuple[int, ...] = (*geometry.shape(stored.shape[:2]), *probe.shape[2:])
        self.dtype, self.ndim = probe.dtype, len(self.shape)

    @property
    def size(self) -> int:
        return int(np.prod(self.shape))

    def __len__(self) -> int:
        return self.shape[0]

    def __repr__(self) -> str:
        return f"ImageSource({self.path.name!r}, shape={self.shape}, dtype={self.dtype})"

    def __getitem__(self, index: Any) -> np.ndarray:
        index = index if isinstance(index, tuple) else (index,)
        if any(item is Ellipsis for item in index):
            at = next(i for i, item in enumerate(index) if item is Ellipsis)
            index = index[:at] + (slice(None),) * (self.ndim - len(index) + 1) + index[at + 1 :]
        index = index + (slice(None),) * (self.ndim - len(index))
        if len(index) > self.ndim or not all(isinstance(i, (slice, int, np.integer)) for i in index[:2]):
            return np.asarray(self[:, :])[index]  # fancy indexing: read the image, then index it
        (r0, r1, row_pick), (c0, c1, col_pick) = _span(index[0], self.shape[0]), _span(index[1], self.shape[1])
        try:
            block = self.stored.read(*self.geometry.stored_window((r0, r1), (c0, c1), self.shape))
        except Exception as error:  # a decoder or a memory map fails on damaged pixel data
            raise read_error(self.path, error) from error
        return np.ascontiguousarray(self.values(self.geometry.apply(block))[(row_pick, col_pick, *index[2:])])

    def __array__(self, dtype: Any = None, copy: Any = None) -> np.ndarray:
        return np.asarray(self[:, :], dtype=dtype)

    def sample(self, windows: int = 8, side: int = 64) -> np.ndarray:
        """Pixels of ``windows``×``windows`` small windows spread evenly over the image, as
        (N,) or (N, C) values: enough to set display contrast without reading a whole painting."""
        height, width = self.shape[:2]
        if height * width <= (windows * side) ** 2:
            block = self[:, :]
        else:
            tops = np.linspace(0, max(height - side, 0), windows).astype(int)
            lefts = np.linspace(0, max(width - side, 0), windows).astype(int)
            block = np.concatenate([self[top : top + side, left : left + side].reshape(-1, *self.shape[2:]) for top in tops for left in lefts])
        return block.reshape(-1, *self.shape[2:])


class StoredPixels:
    """The stored samples of one image, as (h, w) or (h, w, samples) blocks in storage order."""

    shape: tuple[int, ...]
    dtype: np.dtype

    def read(self, rows: slice, cols: slice) -> np.ndarray:
        raise NotImplementedError


class InMemory(StoredPixels):
    """Pixels already decoded (JPEG, PNG, DICOM)."""

    def __init__(self, array: np.ndarray) -> None:
        self.array, self.shape, self.dtype = array, array.shape, array.dtype

    def read(self, rows: slice, cols: slice) -> np.ndarray:
        return self.array[rows, cols]


def as_stored(block: np.ndarray) -> np.ndarray:
    """The values of a file whose samples mean what they say."""
    return block


def read_error(path: Path, error: Exception) -> InputError:
    text = str(error).splitlines()[0] if str(error) else type(error).__name__
    if "imagecodecs" in text:
        return InputError(f"Cannot read {path.name}: {text} (pip install imagecodecs).")
    return InputError(f"Cannot read {path.name} ({type(error).__name__}: {text}); the file may be damaged or of a kind not read here.")
