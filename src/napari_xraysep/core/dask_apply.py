"""Applying a trained model to a whole painting as a lazy dask graph (``dask.array.map_overlap``).

The same computation as :func:`.streaming.iter_apply` — each tile read with the network's receptive
radius as halo, defects marked block by block, step 2 per pixel, NaN outside the painting — built for
the local scheduler or a cluster instead of driven tile by tile. Apart from :mod:`.streaming` because
it needs the optional ``dask`` package and runs no loop of its own; it reuses the streamed path's
pieces (:func:`.streaming.calibrated`, :func:`.streaming.marked_input`, :func:`.streaming.refined_layers`).
:func:`store_in_bands` computes the graph into the result files a band of tile rows at a time, so
that a cluster's workers hold a band, not the painting.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np
import torch

from .checks import check_double_sided, check_side_count
from .errors import InputError
from .inference import decode_block, decoder
from .result import RESULT_LAYERS
from .sources import Sources
from .streaming import applied_network, calibrated, marked_input, painting_clip_levels, refined_layers
from .trained import TrainedModel


def apply_dask(
    model: TrainedModel,
    sources: Sources,
    *,
    tile_size: int | None = None,
    device: str = "cpu",
    calibrate: bool = True,
    support: Any = None,
) -> dict[str, Any]:
    """The six result layers as lazy dask arrays (``dask.array.map_overlap`` over tiles with the
    receptive radius as overlap): compute them with any scheduler, e.g. a ``distributed`` cluster.
    Needs the optional ``dask`` package; the results equal :func:`.streaming.iter_apply`'s: the X-ray's units
    are checked the same way (:func:`calibrated`, unless ``calibrate`` is False), its defects are
    dealt with block by block as there (:func:`marked_input`, with ``model.config.mark_defects``; not
    counted), and ``support`` (an (H, W) bool array, lazy is fine) leaves NaN outside the painting."""
    try:
        import dask.array as da
    except ImportError as error:  # pragma: no cover - dask ships with napari; only bare installs lack it
        raise InputError("The dask path needs dask: pip install 'napari-xraysep[dask]'.") from error
    height, width = sources.check()
    tile_size = tile_size or model.config.tile_size
    if calibrate:
        model, *_ = calibrated(model, sources, device, side=tile_size, support=support)
    check_side_count(len(model.side_normalisations), len(sources.side_channels))
    check_double_sided(model.double_sided, sources.double_sided)
    halo = model.network.receptive_radius

    def tiled(image: Any) -> Any:
        # Read tile by tile from the start: dask's own chunks (128 MiB) would load a whole 16-bit
        # X-ray as one chunk and keep it, with its float copies, until every tile is done.
        if isinstance(image, da.Array):
            return image.rechunk((tile_size, tile_size, *image.shape[2:]))
        return da.from_array(image, chunks=(tile_size, tile_size, *image.shape[2:]))

    photos = [tiled(sources.rgb_surface)[..., :3]]
    if sources.rgb_back is not None:
        back = tiled(sources.rgb_back)[..., :3]
        photos.append(back[:, ::-1] if sources.mirror_back else back)
    if support is not None and tuple(support.shape) != (height, width):
        raise InputError(f"The painting area is {'×'.join(map(str, support.shape))}, the X-ray {height}×{width}.")
    sides = [tiled(side)[..., None] for side in sources.side_channels]
    inside = [] if support is None else [tiled(support).astype(bool)[..., None]]
    layers = len(RESULT_LAYERS)
    parts = [tiled(sources.x_mixed)[..., None], *photos, *sides, *inside]
    used = 1 + 3 * len(photos) + len(sides) + len(inside)
    # map_overlap maps a block to a block of the same shape: give the stack at least as many
    # channels as there are result layers (zero padding), and return as many.
    width_c = max(used, layers)
    if width_c > used:
        parts.append(da.zeros((height, width, width_c - used), chunks=tile_size))
    stack = da.concatenate([part.astype(np.float64) for part in parts], axis=-1)
    stack = stack.rechunk((tile_size, tile_size, width_c))
    target = torch.device("cpu" if device == "auto" else device)
    decode = decoder(applied_network(model, sources, target), sources.double_sided)

    # The stack is float64; an integer X-ray's own values come back exactly, and with them its dtype,
    # whose extremes are the detector's clipping (a float one's is judged by a spike at its own extremes).
    x_dtype = np.dtype(sources.x_mixed.dtype)
    stored = x_dtype if np.issubdtype(x_dtype, np.integer) else np.dtype(np.float64)
    # Clipping judged on the whole painting, as the local tiles judge it.
    levels = painting_clip_levels(sources.x_mixed) if model.config.mark_defects else None

    def separate_block(block: np.ndarray) -> np.ndarray:
        out = np.zeros(block.shape, np.float32)
        x = block[..., 0].astype(stored, copy=False)
        if x.size == 0:  # dask probes the function with empty blocks
            return out
        # The block's channels as sources of the tile reader (the back is already mirrored).
        back = block[..., 4:7] if len(photos) == 2 else None
        first_side = 1 + 3 * len(photos)
        side_blocks = [block[..., first_side + i] for i in range(len(sides))]
        block_sources = Sources(x, block[..., 1:4], back, False, side_blocks)
        whole = (slice(None), slice(None))
        beyond = block[..., first_side + len(sides)] == 0 if inside else None
        if model.config.mark_defects:
            painting = None if beyond is None else ~beyond
            network_input, x, _ = marked_input(model, block_sources, whole, levels=levels, painting=painting)
        else:
            network_input = block_sources.network_input(model, whole)
        if beyond is not None:
            network_input[:, beyond] = np.nan  # missing, as on the local path (fill_missing)
        with torch.no_grad():
            unit = decode_block(decode, network_input, target)
        results = refined_layers(x, unit, model.x_normalisation)
        out[..., :layers] = np.stack([results[name] for name in RESULT_LAYERS], axis=-1)
        if beyond is not None:
            out[beyond, :layers] = np.nan
        return out

    # No block needs more context than the whole array has (dask refuses a deeper overlap).
    depth = {0: min(halo, height), 1: min(halo, width), 2: 0}
    result = da.map_overlap(separate_block, stack, depth=depth, boundary="none", dtype=np.float32)
    return {name: result[..., index] for index, name in enumerate(RESULT_LAYERS)}


# Rows of result stored per pass of store_in_bands: about this many pixels (a few dozen tiles).
BAND_PIXELS = 8_000_000


def store_in_bands(
    lazy: Mapping[str, Any], targets: Mapping[str, Any], scheduler: Any, band_pixels: int = BAND_PIXELS
) -> None:
    """Compute the ``lazy`` layers (:func:`apply_dask`'s, by name) into ``targets`` (writable (H, W)
    array-likes by the same names), a band of the graph's whole rows of blocks (tile rows) at a time:
    as many as fit in ``band_pixels``, at least one,
    with ``scheduler`` (a ``distributed.Client``, or a local scheduler's name).

    Handed the whole graph at once, a cluster reads and stacks every tile before the stores drain
    them, and each worker grows with the painting (3 GiB each for 20 MP on 2 workers); a band at a
    time bounds it by the band. A band's map_overlap reads its neighbours' edge rows, so only those
    are read twice."""
    import dask.array as da

    names = list(lazy)
    first = lazy[names[0]]
    width = first.shape[1]
    # The graph's own rows of blocks (map_overlap re-cuts a last row thinner than the halo and widens
    # tiles narrower than it): a band cut inside one would compute it twice.
    ends = np.cumsum(first.chunks[0]).tolist()
    top = 0
    while top < first.shape[0]:
        after = [end for end in ends if end > top]
        stop = max((end for end in after if (end - top) * width <= band_pixels), default=after[0])
        band = slice(top, stop)
        da.store(
            [lazy[name][band] for name in names], [targets[name] for name in names],
            regions=[(band, slice(None))] * len(names), scheduler=scheduler, lock=True,
        )
        top = stop
