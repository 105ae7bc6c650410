"""Applying a fitted model of either method to a whole image: the four outputs (x̂1, x̂2, x̂, weave),
in halo'd tiles that equal one whole-image pass (beside missing pixels, up to where their nearest data
lies: :func:`fill_missing`), or patch-averaged as in the paper."""

from __future__ import annotations

from collections.abc import Callable, Generator, Iterator
from dataclasses import dataclass

import numpy as np
import torch
from scipy import ndimage

from .config import SeparationConfig
from .data import MISSING_FILL, SeparationInputs
from .devices import resolve_device
from .model import ConnectedAutoEncoder
from .progress import drive
from .tiling import Tile, patch_grid, tiles
from .trained import Separator, TrainedModel

INFERENCE_PATCH_BATCH = 256

# The four outputs every model gives, in this order (channels of a decoded block).
OUTPUTS = ("x1_hat", "x2_hat", "x_hat", "weave")


@dataclass(frozen=True)
class Components:
    """A method's X-ray outputs for a whole image, (H, W) float32: step 1's estimates, the
    reconstruction of the mixed X-ray and the canvas weave (zero for the auto-encoder)."""

    x1_hat: np.ndarray
    x2_hat: np.ndarray
    x_hat: np.ndarray
    weave: np.ndarray


@torch.no_grad()
def predict(
    model: TrainedModel,
    inputs: SeparationInputs,
    device: torch.device | None = None,
) -> Components:
    """x̂1, x̂2, x̂ and the weave for the whole image: tiled (every method; tiles equal a whole-image
    pass but beside missing pixels, :func:`fill_missing`), or patch-averaged for the auto-encoder in
    the paper's mode.

    Double-sided inputs (a back side's photograph) use the double-sided model. Missing pixels
    (``inputs.valid`` False) are NaN in every output. :func:`iter_predict` run to its end.
    """
    return drive(iter_predict(model, inputs, device))


@torch.no_grad()  # generators too: grad mode is set around each step
def iter_predict(
    model: TrainedModel,
    inputs: SeparationInputs,
    device: torch.device | None = None,
) -> Generator[tuple[int, int], None, Components]:
    """:func:`predict`, yielding (done, total) after each tile (or batch of the paper's patches) so
    that a long application shows its progress; returns the Components."""
    device = device or resolve_device(model.config.device)
    network = model.network.to(device).eval()
    photos = [inputs.rgb_surface] + ([inputs.rgb_back] if inputs.double_sided else [])
    array = np.concatenate([*photos, inputs.x_mixed[None]])
    decode = decoder(network, inputs.double_sided)
    patches = isinstance(network, ConnectedAutoEncoder) and model.config.method.mode == "paper"
    if patches and min(inputs.shape) >= model.config.method.patch_size:
        if inputs.valid is not None:  # the patches overlap: filled once, over the whole image
            fill_missing(array, ~inputs.valid)
        out = yield from _predict_patch_average(decode, torch.from_numpy(array), model.config, device)
    else:
        if inputs.valid is not None:  # filled tile by tile (decode_block), as a whole painting's are
            array[:, ~inputs.valid] = np.nan
        stack = torch.from_numpy(array)
        out = yield from _predict_tiled(decode, stack, model.config.tile_size, network.receptive_radius, device)
    if inputs.valid is not None:
        out[:, ~inputs.valid] = np.nan
    return Components(x1_hat=out[0], x2_hat=out[1], x_hat=out[2], weave=out[3])


Decoder = Callable[[torch.Tensor], torch.Tensor]


def decoder(network: Separator, double_sided: bool) -> Decoder:
    """(N, C, h, w) stacked photograph(s) + X-ray → (N, 4, h, w): x̂1, x̂2, x̂, weave (:data:`OUTPUTS`)."""
    c = network.rgb_channels

    def decode(block: torch.Tensor) -> torch.Tensor:
        back = block[:, c : 2 * c] if double_sided else None
        return network.components(block[:, :c], block[:, -1:], rgb_back=back)

    return decode


BlockReader = Callable[[tuple[slice, slice]], np.ndarray]


def fill_missing(block: np.ndarray, missing: np.ndarray) -> None:
    """Fill the ``missing`` (h, w) pixels of a (C, h, w) block, in place, with every channel of the
    nearest pixel that has data (Euclidean; MISSING_FILL where none has).

    The painting continues past its edge (the support's, a clipped passage's) as mirrored borders
    continue it past the frame's: the PSF, the weave band and the blur then see no step from the
    painting to a flat grey there, whose ringing darkened x2 along the edges (backdrop, frame and
    tacking-margin variants of docs/benchmarks.md: about 0.1 dB of x2 inside the painting). The
    nearest pixel is sought within the block, so a tile's may differ from a whole image's where a
    missing pixel's nearest data lies beyond the tile's halo."""
    if not missing.any():
        return
    if missing.all():
        block[...] = MISSING_FILL
        return
    # Sought in the missing pixels' bounding box and one pixel around it, all data, so no nearer
    # pixel lies beyond it: a clipped speck costs its box, not the whole block (17 ms at 632²).
    lines = [np.flatnonzero(missing.any(axis=axis)) for axis in (1, 0)]
    box = tuple(slice(max(int(found[0]) - 1, 0), int(found[-1]) + 2) for found in lines)
    inside, view = missing[box], block[(slice(None), *box)]
    rows, cols = ndimage.distance_transform_edt(inside, return_distances=False, return_indices=True)
    view[:, inside] = view[:, rows[inside], cols[inside]]


def decode_block(decode: Decoder, block: np.ndarray, device: torch.device) -> np.ndarray:
    """(4, h, w) x̂1, x̂2, x̂, weave of a (C, h, w) unit-range block. Missing pixels (NaN or infinite
    in any channel) are filled from their nearest pixel with data (:func:`fill_missing`) and are NaN
    in every output."""
    return decode_prepared(decode, *prepared_block(np.array(block, dtype=np.float32)), device)


def prepared_block(block: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """A (C, h, w) float32 unit-range block made ready for :func:`decode_prepared`, in place: its missing
    pixels (NaN or infinite in any channel) filled from their nearest pixel with data
    (:func:`fill_missing`); returns it and (h, w) bool where they were. Apart from the decoding, so
    that a reader thread can do it beside the model."""
    if block.dtype != np.float32:
        raise ValueError(f"a block to prepare is float32, not {block.dtype}")
    finite = np.ones(block.shape[1:], dtype=bool)
    for channel in block:  # channel by channel: 2× faster than .all(axis=0) over the stack
        finite &= np.isfinite(channel)
    missing = ~finite
    fill_missing(block, missing)
    return block, missing


def decode_prepared(decode: Decoder, block: np.ndarray, missing: np.ndarray, device: torch.device) -> np.ndarray:
    """(4, h, w) x̂1, x̂2, x̂, weave of a block from :func:`prepared_block`, NaN where it was ``missing``."""
    decoded = decode(torch.from_numpy(block)[None].to(device))[0].cpu().numpy()
    decoded[:, missing] = np.nan
    return decoded


def predicted_tiles(
    decode: Decoder, read_block: BlockReader, shape: tuple[int, int], tile_size: int, halo: int, device: torch.device
) -> Iterator[tuple[Tile, np.ndarray]]:
    """(tile, (4, h, w) x̂1, x̂2, x̂, weave of its core) for every halo'd tile; ``read_block(outer)`` gives the
    (C, h', w') unit-range input there (:func:`decode_block`). Only one tile is in memory at a time; with
    ``halo`` at least the receptive radius the cores equal a single whole-image pass (see :func:`tiles`;
    beside missing pixels, see :func:`fill_missing`)."""
    for tile in tiles(shape, tile_size, halo):
        yield tile, decode_block(decode, read_block(tile.outer), device)[(slice(None), *tile.inner)]


def gather(stack: torch.Tensor, corners: np.ndarray, size: int) -> torch.Tensor:
    """(N, C, size, size) crops of an (images, C, H, W) tensor at (N, 3) (image, y, x) corners."""
    return torch.stack([stack[i, :, y : y + size, x : x + size] for i, y, x in corners.tolist()])


def _predict_tiled(
    decode: Decoder, stack: torch.Tensor, tile_size: int, halo: int, device: torch.device
) -> Generator[tuple[int, int], None, np.ndarray]:
    """(4, H, W) from :func:`predicted_tiles` over an in-memory stack, yielding (done, total) tiles."""
    height, width = stack.shape[-2:]
    out = np.empty((len(OUTPUTS), height, width), dtype=np.float32)
    array = stack.numpy()
    total = sum(1 for _ in tiles((height, width), tile_size, halo))

    def read(outer: tuple[slice, slice]) -> np.ndarray:
        return array[(slice(None), *outer)]

    for done, (tile, core) in enumerate(predicted_tiles(decode, read, (height, width), tile_size, halo, device), 1):
        out[(slice(None), *tile.core)] = core
        yield done, total
    return out


def _predict_patch_average(
    decode: Decoder, stack: torch.Tensor, config: SeparationConfig, device: torch.device
) -> Generator[tuple[int, int], None, np.ndarray]:
    """(4, H, W): the paper's reassembly — every grid patch decoded alone, overlaps averaged;
    yielding (done, total) batches of patches."""
    height, width = stack.shape[-2:]
    size = config.method.patch_size
    grid = patch_grid((height, width), size, config.method.patch_stride)
    stack = stack.to(device)[None]
    total = torch.zeros((len(OUTPUTS), height, width), device=device)
    count = torch.zeros((1, height, width), device=device)
    batches = -(-len(grid) // INFERENCE_PATCH_BATCH)
    for done, start in enumerate(range(0, len(grid), INFERENCE_PATCH_BATCH), 1):
        corners = grid[start : start + INFERENCE_PATCH_BATCH]
        decoded = decode(gather(stack, np.pad(corners, ((0, 0), (1, 0))), size))
        for (y, x), patch in zip(corners.tolist(), decoded):
            total[:, y : y + size, x : x + size] += patch
            count[:, y : y + size, x : x + size] += 1
        yield done, batches
    return (total / count).cpu().numpy()
