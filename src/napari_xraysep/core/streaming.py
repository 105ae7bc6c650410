"""Applying a trained model to a whole painting, tile by tile, in bounded memory.

Train on a region, then apply the model everywhere. Sources are anything with ``.shape``, ``.dtype``
and numpy slicing — numpy arrays, memory-mapped TIFFs (``tifffile.memmap``), zarr or dask arrays —
and outputs anything that takes slice assignment. Only one halo'd tile of input and its results are
in memory at a time, so the painting's size does not matter. Each tile is read with a halo of the
network's receptive radius, so the results equal a whole-image pass (the fully convolutional, tiled
inference of ``mode="fast"``), and step 2 is per pixel, so it is done tile by tile too. Missing
(NaN or infinite) pixels are filled for the forward pass and NaN in every result, tile by tile as in
a whole-image pass.

:func:`iter_apply` is the generator the CLI drives; :func:`apply_dask` builds the same computation
as a lazy dask graph (``dask.array.map_overlap``), for the local scheduler or a cluster.
"""

from __future__ import annotations

import math
import time
from collections.abc import Generator, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch

from .data import (
    Normalisation,
    check_dtype,
    check_registered,
    check_rgb_shape,
    check_side_count,
    check_side_shape,
    check_xray_shape,
    side_list,
)
from .engine import Components, StopFlag, TrainedModel, decode_block, decoder, predicted_tiles, resolve_device
from .errors import InputError
from .refine import refine
from .separation import RESULT_LAYERS, components_in_units


@dataclass(frozen=True)
class TileProgress:
    """``done`` of ``total`` tiles written."""

    done: int
    total: int
    elapsed_s: float

    @property
    def eta_s(self) -> float:
        return self.elapsed_s / self.done * (self.total - self.done) if self.done else 0.0


def check_sources(
    x_source: Any, rgb_source: Any, rgb_back_source: Any = None, side_sources: Sequence[Any] | Any = ()
) -> tuple[int, int]:
    """Shapes and pixel types of lazily read images, checked without reading a pixel; returns (H, W)."""
    side_sources = side_list(side_sources)
    check_xray_shape(x_source.shape)
    check_dtype(x_source.dtype, "mixed X-ray")
    for source, what, short in ((rgb_source, "surface RGB image", "surface RGB"), (rgb_back_source, "back side RGB image", "back side RGB")):
        if source is None:
            continue
        check_rgb_shape(source.shape, what)
        check_dtype(source.dtype, what)
        check_registered(x_source.shape, source.shape, short)
    if side_sources and rgb_back_source is not None:
        raise InputError("Side channels are for the concealed-design separation; a double-sided panel takes none.")
    for index, side in enumerate(side_sources):
        check_side_shape(side.shape, x_source.shape, index)
        check_dtype(side.dtype, f"side channel {index + 1}")
    return tuple(x_source.shape)  # type: ignore[return-value]


def tile_count(shape: tuple[int, int], tile_size: int) -> int:
    return math.ceil(shape[0] / tile_size) * math.ceil(shape[1] / tile_size)


def _photo_block(source: Any, rows: slice, cols: slice, width: int, mirror: bool) -> np.ndarray:
    """(h, w, 3) of a photograph; a mirrored one is read from the opposite columns and flipped."""
    if mirror:
        cols = slice(width - cols.stop, width - cols.start)
    block = np.asarray(source[rows, cols])[..., :3]
    return block[:, ::-1] if mirror else block


def _block_reader(
    model: TrainedModel,
    x_source: Any,
    rgb_source: Any,
    rgb_back_source: Any,
    mirror_back: bool,
    side_sources: Sequence[Any],
    width: int,
):
    """Reads and normalises the (C, h, w) network input of a block, in the channel order and units the
    model was trained with: surface RGB, side channels, back RGB, X-ray. Missing pixels stay NaN
    (:func:`~.engine.decode_block` fills them and makes their results NaN)."""

    def read(outer: tuple[slice, slice]) -> np.ndarray:
        rows, cols = outer
        x = np.asarray(x_source[rows, cols])
        photos = [_photo_block(rgb_source, rows, cols, width, False)]
        if rgb_back_source is not None:
            photos.append(_photo_block(rgb_back_source, rows, cols, width, mirror_back))
        channels = [np.moveaxis(model.rgb_normalisation.to_unit(p), -1, 0) for p in photos]
        for index, (side, normalisation) in enumerate(zip(side_sources, model.side_normalisations)):
            channels.insert(1 + index, normalisation.to_unit(np.asarray(side[rows, cols]))[None])
        return np.concatenate([*channels, model.x_normalisation.to_unit(x)[None]])

    return read


def _refined_layers(x: np.ndarray, unit: np.ndarray, normalisation: Normalisation) -> dict[str, np.ndarray]:
    """The six result layers of a block from its (4, h, w) unit-range x̂1, x̂2, x̂, weave."""
    estimates = components_in_units(Components(*unit), normalisation)
    refined = refine(np.asarray(x, dtype=np.float64), estimates.x1_hat, estimates.x2_hat, estimates.weave)
    return {
        "x1_hat": estimates.x1_hat, "x2_hat": estimates.x2_hat, "error_map": refined.error_map,
        "x1": refined.x1, "x2": refined.x2, "weave": estimates.weave,
    }


def iter_apply(
    model: TrainedModel,
    x_source: Any,
    rgb_source: Any,
    outputs: Mapping[str, Any],
    *,
    rgb_back_source: Any = None,
    mirror_back: bool = False,
    side_sources: Sequence[Any] | Any = (),
    tile_size: int | None = None,
    device: str | None = None,
    stop: StopFlag | None = None,
) -> Generator[TileProgress, None, int]:
    """Write the six result layers of ``model`` applied to the sources into ``outputs`` (a mapping
    from the names in RESULT_LAYERS to (H, W) writable arrays); yields after every tile and returns
    the number of tiles written (fewer if ``stop`` was set). ``side_sources`` are the maps the model
    was trained with beside the photograph, in the same order."""
    side_sources = side_list(side_sources)
    height, width = check_sources(x_source, rgb_source, rgb_back_source, side_sources)
    check_side_count(len(model.side_normalisations), len(side_sources))
    missing = [name for name in RESULT_LAYERS if name not in outputs]
    if missing:
        raise InputError(f"No output given for {', '.join(missing)}.")
    for name in RESULT_LAYERS:
        if tuple(outputs[name].shape) != (height, width):
            raise InputError(f"The output for {name} is {outputs[name].shape}, the X-ray ({height}, {width}).")
    tile_size = tile_size or model.config.tile_size
    torch_device = resolve_device(device or model.config.device)
    network = model.network.to(torch_device).eval()
    decode = decoder(network, rgb_back_source is not None)
    read = _block_reader(model, x_source, rgb_source, rgb_back_source, mirror_back, side_sources, width)
    total, done, started = tile_count((height, width), tile_size), 0, time.perf_counter()
    with torch.no_grad():
        for tile, unit in predicted_tiles(decode, read, (height, width), tile_size, network.receptive_radius, torch_device):
            layers = _refined_layers(np.asarray(x_source[tile.core]), unit, model.x_normalisation)
            for name in RESULT_LAYERS:
                outputs[name][tile.core] = layers[name]
            done += 1
            yield TileProgress(done, total, time.perf_counter() - started)
            if stop is not None and stop.is_set():
                break
    return done


def apply_dask(
    model: TrainedModel,
    x_source: Any,
    rgb_source: Any,
    *,
    rgb_back_source: Any = None,
    mirror_back: bool = False,
    side_sources: Sequence[Any] | Any = (),
    tile_size: int | None = None,
    device: str = "cpu",
) -> dict[str, Any]:
    """The six result layers as lazy dask arrays (``dask.array.map_overlap`` over tiles with the
    receptive radius as overlap): compute them with any scheduler, e.g. a ``distributed`` cluster.
    Needs the optional ``dask`` package; the results equal :func:`iter_apply`'s."""
    try:
        import dask.array as da
    except ImportError as error:  # pragma: no cover - dask ships with napari; only bare installs lack it
        raise InputError("The dask path needs dask: pip install 'napari-xraysep[dask]'.") from error
    side_sources = side_list(side_sources)
    height, width = check_sources(x_source, rgb_source, rgb_back_source, side_sources)
    check_side_count(len(model.side_normalisations), len(side_sources))
    tile_size = tile_size or model.config.tile_size
    halo = model.network.receptive_radius
    photos = [da.asarray(rgb_source)[..., :3]]
    if rgb_back_source is not None:
        back = da.asarray(rgb_back_source)[..., :3]
        photos.append(back[:, ::-1] if mirror_back else back)
    sides = [da.asarray(side)[..., None] for side in side_sources]
    layers = len(RESULT_LAYERS)
    parts = [da.asarray(x_source)[..., None], *photos, *sides]
    used = 1 + 3 * len(photos) + len(sides)
    # map_overlap maps a block to a block of the same shape: give the stack at least as many
    # channels as there are result layers (zero padding), and return as many.
    width_c = max(used, layers)
    if width_c > used:
        parts.append(da.zeros((height, width, width_c - used), chunks=tile_size))
    stack = da.concatenate([part.astype(np.float64) for part in parts], axis=-1)
    stack = stack.rechunk((tile_size, tile_size, width_c))
    target = torch.device("cpu" if device == "auto" else device)
    network = model.network.to(target).eval()
    decode = decoder(network, rgb_back_source is not None)

    def separate_block(block: np.ndarray) -> np.ndarray:
        out = np.zeros(block.shape, np.float32)
        x = block[..., 0]
        if x.size == 0:  # dask probes the function with empty blocks
            return out
        # The block's channels as sources of the tile reader (the back is already mirrored).
        back = block[..., 4:7] if len(photos) == 2 else None
        first_side = 1 + 3 * len(photos)
        side_blocks = [block[..., first_side + i] for i in range(len(sides))]
        read = _block_reader(model, x, block[..., 1:4], back, False, side_blocks, x.shape[1])
        with torch.no_grad():
            unit = decode_block(decode, read((slice(None), slice(None))), target)
        results = _refined_layers(x, unit, model.x_normalisation)
        out[..., :layers] = np.stack([results[name] for name in RESULT_LAYERS], axis=-1)
        return out

    # No block needs more context than the whole array has (dask refuses a deeper overlap).
    depth = {0: min(halo, height), 1: min(halo, width), 2: 0}
    result = da.map_overlap(separate_block, stack, depth=depth, boundary="none", dtype=np.float32)
    return {name: result[..., index] for index, name in enumerate(RESULT_LAYERS)}
