"""Where the network looks: the paper's patch grid, random training crops, and halo'd inference tiles.

Nothing here allocates more than one batch of patches or one tile at a time, so memory stays bounded
on whole paintings; :func:`block_means` reduces a whole painting a strip of rows at a time (what the
stretcher and passage searches look at).
"""

from __future__ import annotations

import math
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import numpy as np


def patch_starts(length: int, size: int, stride: int) -> np.ndarray:
    """Start offsets of ``size``-long patches every ``stride`` pixels, plus one flush with the end.

    The paper's grid (500 px, size 50, stride 5 → 91 starts) leaves no pixel uncovered; when the
    stride does not divide ``length - size`` a last patch is added at ``length - size``.
    """
    if size > length:
        raise ValueError(f"patch size {size} exceeds the image side {length}")
    starts = np.arange(0, length - size + 1, stride)
    if starts[-1] != length - size:
        starts = np.append(starts, length - size)
    return starts


def patch_grid(shape: tuple[int, int], size: int, stride: int) -> np.ndarray:
    """(N, 2) array of (y, x) patch corners covering an image of ``shape``."""
    ys = patch_starts(shape[0], size, stride)
    xs = patch_starts(shape[1], size, stride)
    return np.stack(np.meshgrid(ys, xs, indexing="ij"), axis=-1).reshape(-1, 2)


def random_corners(rng: np.random.Generator, shape: tuple[int, int], size: int, count: int) -> np.ndarray:
    """(count, 2) uniformly drawn (y, x) corners of ``size``×``size`` crops inside ``shape``."""
    ys = rng.integers(0, shape[0] - size + 1, size=count)
    xs = rng.integers(0, shape[1] - size + 1, size=count)
    return np.stack([ys, xs], axis=-1)


@dataclass(frozen=True)
class Tile:
    """A core block of the output and the larger, halo'd block of input that determines it."""

    core: tuple[slice, slice]  # where the result goes, in image coordinates
    outer: tuple[slice, slice]  # what the network reads, in image coordinates
    inner: tuple[slice, slice]  # the core's position inside the outer block

    @property
    def outer_corner(self) -> tuple[int, int]:
        return self.outer[0].start, self.outer[1].start


def _windows(length: int, tile: int, halo: int) -> list[tuple[slice, slice, slice]]:
    windows = []
    for start in range(0, length, tile):
        stop = min(start + tile, length)
        outer_start, outer_stop = max(start - halo, 0), min(stop + halo, length)
        windows.append(
            (slice(start, stop), slice(outer_start, outer_stop), slice(start - outer_start, stop - outer_start))
        )
    return windows


def tiles(shape: tuple[int, int], tile_size: int, halo: int) -> Iterator[Tile]:
    """Cover ``shape`` with ``tile_size`` cores, each read with ``halo`` pixels of context.

    With ``halo`` at least the network's receptive radius, stitching the cores reproduces untiled
    inference: every core pixel sees exactly the input it would see in one whole-image pass.
    """
    for rows in _windows(shape[0], tile_size, halo):
        for cols in _windows(shape[1], tile_size, halo):
            yield Tile(core=(rows[0], cols[0]), outer=(rows[1], cols[1]), inner=(rows[2], cols[2]))


def sample_blocks(shape: tuple[int, int], max_pixels: int, block: int = 512) -> list[tuple[slice, slice]]:
    """Where to fit on an image too big to fit on whole: a grid of ``block``-sized squares spread
    evenly over ``shape``, together at most ``max_pixels`` (at least one). An image of at most
    ``max_pixels`` is one block, itself."""
    height, width = shape
    if height * width <= max_pixels:
        return [(slice(0, height), slice(0, width))]
    side_y, side_x = min(block, height), min(block, width)
    count = max(1, max_pixels // (side_y * side_x))
    # As many rows and columns as the image's aspect asks for, rows × columns ≤ count.
    rows = max(1, min(count, round((count * height / width) ** 0.5)))
    cols = max(1, count // rows)
    ys = np.linspace(0, height - side_y, rows).round().astype(int)
    xs = np.linspace(0, width - side_x, cols).round().astype(int)
    return [(slice(y, y + side_y), slice(x, x + side_x)) for y in ys for x in xs]


def block_means(image: Any, factor: int, budget: int = 1 << 22) -> np.ndarray:
    """(⌈H/factor⌉, ⌈W/factor⌉, …) float64 means of ``factor``×``factor`` blocks of ``image`` ((H, W) or
    (H, W, C), any array-like read by row slices, e.g. a result TIFF being written), NaN values left
    out (a block of NaN only is NaN); read in whole blocks of rows of about ``budget`` values at a time."""
    height, width = image.shape[:2]
    channels = tuple(image.shape[2:])
    rows = max(1, budget // max(1, width * factor * math.prod(channels))) * factor
    out = np.empty((-(-height // factor), -(-width // factor), *channels))
    pad_w = out.shape[1] * factor - width
    for top in range(0, height, rows):
        block = np.asarray(image[top : top + rows])
        pad_h = -(-block.shape[0] // factor) * factor - block.shape[0]
        padding = ((0, pad_h), (0, pad_w)) + ((0, 0),) * len(channels)
        finite = None  # where values are missing (NaN or infinite), when some are
        if block.dtype.kind in "biu" and block.dtype.itemsize <= 4:  # 64-bit sums could wrap around
            # Integers have no NaN, and their sums are exact in any order.
            accumulator = np.int64 if block.dtype.kind == "i" else np.uint64
        else:
            accumulator = np.float64  # float32 values summed in float64, without a float64 copy
            finite = np.isfinite(block)
            if finite.all():
                finite = None
            else:
                block = np.where(finite, block, 0)
        # Summed down the block's rows first (whole rows at a time: 3–8× faster than both axes at once).
        shaped = np.pad(block, padding).reshape(-1, factor, out.shape[1], factor, *channels)
        total = shaped.sum(axis=1, dtype=accumulator).sum(axis=2)
        if finite is None:  # each block's count from its size
            inside = np.minimum(factor, block.shape[0] - factor * np.arange(shaped.shape[0]))
            across = np.minimum(factor, width - factor * np.arange(out.shape[1]))
            count = np.outer(inside, across).reshape(inside.size, across.size, *([1] * len(channels)))
            count = np.broadcast_to(count, total.shape)
        else:
            count = np.pad(finite, padding).reshape(shaped.shape).sum(axis=1, dtype=np.int64).sum(axis=2)
        with np.errstate(invalid="ignore", divide="ignore"):
            means = np.where(count > 0, total / np.maximum(count, 1), np.nan)
        out[top // factor : top // factor + count.shape[0]] = means
    return out
