"""Applying a trained model to a whole painting, tile by tile, in bounded memory.

Train on a region, then apply the model everywhere. The images come as :class:`~.sources.Sources`,
each anything with ``.shape``, ``.dtype`` and numpy slicing — numpy arrays, memory-mapped TIFFs
(``tifffile.memmap``), zarr or dask arrays — and outputs are anything that takes slice assignment. Only one halo'd tile of input and its results are
in memory at a time, so the painting's size does not matter. Each tile is read with a halo of the
network's receptive radius, so the results equal a whole-image pass (the fully convolutional, tiled
inference of ``mode="fast"``), and step 2 is per pixel, so it is done tile by tile too. Missing
(NaN or infinite) pixels are filled for the forward pass and NaN in every result, tile by tile as in
a whole-image pass. With the model's ``mark_defects`` the X-ray's defects are found tile by tile (on
the halo'd tile): clipped pixels are missing, hot/dead pixels and scratches repaired; a given
``support`` (the painting's area on the whole image) leaves everything outside it NaN.

:func:`iter_apply` is the generator the CLI drives; :func:`.dask_apply.apply_dask` builds the same
computation as a lazy dask graph (``dask.array.map_overlap``), for the local scheduler or a cluster.
"""

from __future__ import annotations

import collections
import contextlib
import dataclasses
import itertools
import math
import time
import weakref
import warnings
from collections.abc import Callable, Generator, Iterable, Iterator, Mapping
from concurrent.futures import Executor, Future, ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any, TypeVar

import numpy as np
import torch
from scipy import ndimage

from .colourmap import TABLE_LEVELS, ColourMap, with_colour_table
from .calibration import Calibration, UnitFit, calibrate, photograph_fit, recalibrated, unexplained
from .checks import check_double_sided, check_side_count, finite_pixels
from .data import Normalisation
from .defects import LISTED_POINTS, clip_levels, clipped_pixels, find_defects, repair
from .devices import resolve_device
from .errors import InputError
from .films import Films, KnownPixels
from .inference import Components, decode_block, decode_prepared, decoder, prepared_block
from .refine import refine
from .regions import BoxRegion
from .result import RESULT_LAYERS, components_in_units
from .storage import as_given
from .sources import Sources
from .support import DETECT_SIDE, KEEP_ANOTHER, detect_support, trim_to_photograph
from .tiling import Tile, block_means, tiles
from .trained import Separator, TrainedModel
from .training import StopFlag
from .weave import weave_seen


T = TypeVar("T")
R = TypeVar("R")

# The X-ray's units are checked (calibrated) on a grid of this many blocks a side, of this side.
CALIBRATION_GRID = 3
CALIBRATION_SIDE = 256
# Where the painting is (the units are measured there) is sought on block means of the whole X-ray and
# photograph, read this many values at a time (whole rows of blocks: a tiled file's tiles decoded once).
SEARCH_VALUES = 1 << 22
# ... at full resolution up to this many pixels a side (16 MP), as `separate` seeks it in memory, and
# on 2 × 2 block means or coarser beyond: the photograph trims the support's sides to the pixel at full
# resolution only, and a few pixels of film margin kept beside a painting bend its results up to ~100 px
# inside (on a 1400×2100 backdrop file, searched on 2 × 2 blocks: x2's correlation with the truth within
# 10 px of the edge 0.970, at full resolution 0.985). The search costs 3.1 s on a 6000² pair, 1.2 s on
# 6 × 6 blocks — where a painting fills the frame, the first look, on DETECT_SIDE blocks, is the only one.
SEARCH_SIDE = 4096
# Below this share of its bounding box, a painting found is said not to fill it.
FOUND_BOX_SHARE = 0.95
NOTHING_MEASURED = (
    "The X-ray has no measured pixel inside the painting (every one missing, or at the file's limits: 0 or the "
    "detector's maximum); there is nothing to apply the model to."
)
# Tiles read (and searched for defects) ahead of the one being computed.
READ_AHEAD = 2


@dataclass(frozen=True)
class TileProgress:
    """``done`` of ``total`` tiles done, ``what`` with (a whole painting's tiles written, or an
    image's tiles while the model is applied in memory); ``unit`` what is counted, "tile" unless
    a later stage counts something else (a second fit's steps)."""

    done: int
    total: int
    elapsed_s: float
    what: str = "whole painting"
    unit: str = "tile"

    @property
    def eta_s(self) -> float:
        return self.elapsed_s / self.done * (self.total - self.done) if self.done else 0.0


def tile_count(shape: tuple[int, int], tile_size: int) -> int:
    return math.ceil(shape[0] / tile_size) * math.ceil(shape[1] / tile_size)


def refined_layers(x: np.ndarray, unit: np.ndarray, normalisation: Normalisation) -> dict[str, np.ndarray]:
    """The six result layers of a block from its (4, h, w) unit-range x̂1, x̂2, x̂, weave."""
    estimates = components_in_units(Components(*unit), normalisation)
    refined = refine(np.asarray(x, dtype=np.float64), estimates.x1_hat, estimates.x2_hat, estimates.weave)
    return {
        "x1_hat": estimates.x1_hat, "x2_hat": estimates.x2_hat, "error_map": refined.error_map,
        "x1": refined.x1, "x2": refined.x2, "weave": estimates.weave,
    }


def applied_network(model: TrainedModel, sources: Sources, device: torch.device) -> Separator:
    """``model``'s network on ``device``, ready to apply to ``sources`` tile by tile: a colour map of
    8-bit photographs looks each colour up in a :class:`~.colourmap.ColourTable` (evaluated once per
    distinct colour, not once per pixel); anything else as it is."""
    network = model.network.to(device).eval()
    photos = [sources.rgb_surface] + ([] if sources.rgb_back is None else [sources.rgb_back])
    if isinstance(network, ColourMap) and all(np.dtype(photo.dtype) == np.uint8 for photo in photos):
        levels = torch.from_numpy(model.rgb_normalisation.to_unit(np.arange(TABLE_LEVELS)))
        if bool((levels[1:] > levels[:-1]).all()):
            return with_colour_table(network, levels.to(device))
    return network


def marked_input(
    model: TrainedModel,
    sources: Sources,
    area: tuple[slice, slice],
    films: Films | None = None,
    levels: tuple[float | None, float | None] | None = None,
    painting: np.ndarray | None = None,
) -> tuple[np.ndarray, np.ndarray, dict[str, np.ndarray]]:
    """The network input under ``area`` (:meth:`Sources.network_input`) with the X-ray's defects dealt
    with as a whole-image run does (:func:`~.defects.find_defects`): clipped pixels NaN (missing),
    hot/dead pixels and scratches repaired; with ``films``, in the X-ray brought to one exposure
    (:meth:`~.films.Films.correct`: the films' seams no longer step like scratches there; clipped
    pixels are sought as stored, where an integer file's limits are the detector's), as in memory.
    Returns it, the X-ray there in its units (corrected, repaired; as stored where neither changed
    it), and the defect masks there ("clipped", "points", "scratches"). ``levels``: the whole painting's
    clipping levels (:func:`painting_clip_levels`), so that every tile is judged alike. ``painting``:
    (h, w) bool under ``area``, the painting's support: the defects are sought inside it only, against
    its own noise, as in memory (a tile's flat film margin made paint specks pass for hot pixels)."""
    # Each file read once: the tile's X-ray and photograph serve the network and the defect search.
    x, rgb_surface = np.asarray(sources.x_mixed[area]), np.asarray(sources.rgb_surface[area])
    block = sources.network_input(model, area, x, rgb_surface)
    one_exposure = None if films is None else films.correct(x, area)
    searched = finite_pixels(x) if painting is None else finite_pixels(x) & painting
    defects = find_defects(x, searched, rgb_surface, one_exposure, levels)
    fixed, repaired = x if one_exposure is None else one_exposure, bool(defects.repaired.any())
    if repaired:
        # Repaired from the painting beside it (a defect on its outline), as in memory.
        fixed = repair(fixed, defects.repaired, ~defects.clipped if painting is None else ~defects.clipped & painting)
    if repaired or films is not None:  # else as stored: the network's X-ray channel holds it already
        block[-1] = model.x_normalisation.to_unit(fixed)
    block[-1][defects.clipped] = np.nan
    return block, fixed, {"clipped": defects.clipped, "points": defects.points, "scratches": defects.scratches}


def iter_apply(
    model: TrainedModel,
    sources: Sources,
    outputs: Mapping[str, Any],
    *,
    tile_size: int | None = None,
    device: str | None = None,
    stop: StopFlag | None = None,
    calibrate: bool = True,
    support: Any = None,
    marked: dict[str, Any] | None = None,
    films: Films | None = None,
) -> Generator[TileProgress, None, int]:
    """Write the result layers of ``model`` applied to ``sources`` into ``outputs``, tile by tile.

    Yields after every tile (its write may still be running beside the next tile; all have finished
    when the generator returns). The results equal a whole-image pass of the model (each tile is
    read with a halo of the model's receptive radius), followed by step 2's even split of the error.

    Parameters
    ----------
    model : TrainedModel
        A trained model (colour map or auto-encoder), e.g. ``SeparationResult.model`` or
        :func:`napari_xraysep.io.load_model`'s.
    sources : Sources
        The X-ray (H, W) and the registered photograph (H, W, 3) — arrays or lazy array-likes (a
        memory-mapped TIFF, zarr, dask): only one halo'd tile is read at a time. Its side channels
        must be the maps the model was trained with beside the photograph, in the same order.
    outputs : mapping of str to writable (H, W) arrays
        From names in :data:`~napari_xraysep.core.result.RESULT_LAYERS` — all six, or those
        wanted — to anything that takes slice assignment (numpy arrays, ``tifffile.memmap``);
        written in the X-ray's units as floats (fractional, NaN where missing: give float32 arrays).
    tile_size : int, optional
        Tile side in pixels (default: the model's ``tile_size``).
    device : str, optional
        "cpu", "cuda", "mps" or "auto" (default: the model's).
    stop : threading.Event-like, optional
        When set, the generator returns after the current tile.
    calibrate : bool
        Recalibrate an X-ray in other units than the model's training X-ray first
        (:func:`calibrated`, with a warning); False when the caller did it.
    support : (H, W) bool array-like, optional
        The painting's area (lazy is fine); outside it every result is NaN, and the input is missing
        (filled from the painting, as in memory: :func:`~.inference.fill_missing`).
    marked : dict, optional
        With the model's ``mark_defects``, counts of "clipped_pixels", "hot_dead_pixels" and
        "scratch_pixels" are added to it, and where the hot/dead pixels are (:func:`count_marked`);
        "missing_inputs": how many pixels inside the painting each photograph or side channel misses
        (NaN or infinite: empty in every result), by name (:func:`input_channels`), where any does.
    films : Films, optional
        A mosaic's films (:func:`~.films.given_films` on the whole X-ray): each tile is brought to one
        exposure before the model sees it (after its defects are sought), and ``outputs`` may then hold
        "exposure" too: x1 + x2 + weave + exposure is the X-ray as stored.

    Yields
    ------
    TileProgress
        ``done`` of ``total`` tiles, ``elapsed_s``.

    Returns
    -------
    int
        (The generator's return value.) Tiles written: fewer than ``total`` if ``stop`` was set.

    Raises
    ------
    InputError
        Sources that do not fit together, other side channels than the model's, unknown result
        names, or an output or ``support`` of another shape than the X-ray.

    Notes
    -----
    There is no plain ``apply(model, sources)`` returning arrays: for an image that fits in memory,
    :func:`~napari_xraysep.core.separation.separate` with ``model=`` and ``steps=0`` does that.

    Examples
    --------
    >>> import numpy as np
    >>> from napari_xraysep import separate
    >>> from napari_xraysep.core.result import RESULT_LAYERS
    >>> from napari_xraysep.core.sources import Sources
    >>> from napari_xraysep.core.streaming import iter_apply
    >>> from napari_xraysep.datasets.synthetic import make_mixture
    >>> case = make_mixture("concealed_portrait", (48, 64), seed=0)
    >>> model = separate(case.x_mixed, case.rgb_surface, case.region_mask, steps=2, device="cpu").model
    >>> outputs = {name: np.zeros((48, 64), np.float32) for name in RESULT_LAYERS}
    >>> run = iter_apply(model, Sources(case.x_mixed, case.rgb_surface), outputs, tile_size=32, device="cpu")
    >>> [(p.done, p.total) for p in run]
    [(1, 4), (2, 4), (3, 4), (4, 4)]
    >>> x = outputs["x1"] + outputs["x2"] + outputs["weave"]
    >>> bool(np.allclose(x, case.x_mixed, atol=1e-4))
    True
    """
    height, width = sources.check()
    tile_size = tile_size or model.config.tile_size
    if calibrate:
        model, *_ = calibrated(model, sources, device, side=tile_size, support=support)  # no block larger than a tile
    check_side_count(len(model.side_normalisations), len(sources.side_channels))
    check_double_sided(model.double_sided, sources.double_sided)
    known_layers = (*RESULT_LAYERS, *(["exposure"] if films is not None else []))
    unknown = [name for name in outputs if name not in known_layers]
    if unknown or not outputs:
        raise InputError(f"The result layers are {', '.join(known_layers)}; got {', '.join(unknown) or 'none'}.")
    for name in outputs:
        if tuple(outputs[name].shape) != (height, width):
            raise InputError(f"The output for {name} is {outputs[name].shape}, the X-ray ({height}, {width}).")
    if support is not None and tuple(support.shape) != (height, width):
        raise InputError(f"The painting area is {'×'.join(map(str, support.shape))}, the X-ray {height}×{width}.")
    torch_device = resolve_device(device or model.config.device)
    decode = decoder(applied_network(model, sources, torch_device), sources.double_sided)
    mark = model.config.mark_defects
    levels = painting_clip_levels(sources.x_mixed) if mark else None
    lacking = input_channels(sources)

    def read(tile: Tile) -> tuple[tuple[np.ndarray, np.ndarray], np.ndarray, dict[str, np.ndarray], np.ndarray | None, dict[str, int]]:
        """The tile's network input, prepared (:func:`~.inference.prepared_block`: the block and where
        it misses data), its X-ray core (repaired if defects are marked), the defect masks over the
        core, where the core lies outside the painting (None: nowhere), and how many of the core's
        pixels in the painting (where the X-ray has data) each photograph or side channel misses."""
        masks: dict[str, np.ndarray] = {}
        painting = None if support is None else np.asarray(support[tile.outer], dtype=bool)
        if mark:
            block, x_fixed, masks = marked_input(model, sources, tile.outer, films, levels, painting)
            x_core, masks = x_fixed[tile.inner], {name: mask[tile.inner] for name, mask in masks.items()}
        else:
            x_outer = np.asarray(sources.x_mixed[tile.outer])
            block = sources.network_input(model, tile.outer, x_outer)
            if films is not None:
                x_outer = films.correct(x_outer, tile.outer)
                block[-1] = model.x_normalisation.to_unit(x_outer)
            x_core = x_outer[tile.inner]
        missing = {}
        if lacking:  # where the X-ray has data, as in memory (its own NaN are its margin or border)
            counted = np.isfinite(x_core) if painting is None else np.isfinite(x_core) & painting[tile.inner]
            for name, channels in lacking.items():
                gaps = ~np.isfinite(block[channels][(slice(None), *tile.inner)]).all(axis=0)
                missing[name] = int(np.count_nonzero(gaps & counted))
        outside = None
        if painting is not None:
            block[:, ~painting] = np.nan  # missing, as in memory: filled from the painting (fill_missing)
            outside = ~painting[tile.inner]
        # Made ready here, on the reader's thread, beside the model's work on the tile before.
        return prepared_block(np.asarray(block, dtype=np.float32)), x_core, masks, outside, missing

    def write(tile: Tile, layers: dict[str, np.ndarray]) -> None:
        for name in outputs:
            outputs[name][tile.core] = layers[name]

    total, done, started = tile_count((height, width), tile_size), 0, time.perf_counter()
    # Reading (and decoding, and searching for defects) the next READ_AHEAD tiles and writing the last
    # one run beside the computation of this one: file reads, codecs and numpy release the GIL. The
    # defect search costs more than the model (70 against 21 ms a 620² tile): two tiles searched at
    # once keep both of two cores busy. At most READ_AHEAD + 2 tiles are in memory.
    pool = ThreadPoolExecutor(max_workers=READ_AHEAD + 1, thread_name_prefix="xraysep-tiles")
    with torch.no_grad(), compute_threads(torch_device), pool:
        writing: Future | None = None
        planned = tiles((height, width), tile_size, model.network.receptive_radius)
        for tile, (block, x_core, masks, outside, missing) in prefetched(read, planned, pool, READ_AHEAD):
            if marked is not None and masks:
                count_marked(marked, masks, tile, outside)
            if marked is not None and any(missing.values()):
                counted = marked.setdefault("missing_inputs", {})
                for name, count in missing.items():
                    if count:
                        counted[name] = counted.get(name, 0) + count
            unit = decode_prepared(decode, *block, torch_device)[(slice(None), *tile.inner)]
            layers = refined_layers(x_core, unit, model.x_normalisation)
            if films is not None:  # x1 + x2 + weave add up to the corrected X-ray, + exposure to the stored one
                layers["exposure"] = films.exposure(x_core, tile.core)
            if outside is not None:
                for layer in layers.values():
                    layer[outside] = np.nan
            if writing is not None:
                writing.result()  # raises what the write raised
            writing = pool.submit(write, tile, layers)
            done += 1
            yield TileProgress(done, total, time.perf_counter() - started)
            if stop is not None and stop.is_set():
                break
        if writing is not None:
            writing.result()
    return done


def input_channels(sources: Sources) -> dict[str, slice]:
    """The channels of a tile's network input (:meth:`~.sources.Sources.network_input`) that hold each
    photograph or side channel stored as floats — only those can miss pixels (NaN or infinite) — by the
    name :func:`~.data.missing_inputs_warning` says."""
    side_count = len(sources.side_channels)
    named = {
        "photograph": (sources.rgb_surface, slice(0, 3)),
        **{f"side channel {i + 1}": (side, slice(3 + i, 4 + i)) for i, side in enumerate(sources.side_channels)},
        **({} if sources.rgb_back is None else {"back photograph": (sources.rgb_back, slice(3 + side_count, 6 + side_count))}),
    }
    return {name: channels for name, (image, channels) in named.items() if np.issubdtype(np.dtype(image.dtype), np.inexact)}


def count_marked(
    marked: dict[str, Any], masks: Mapping[str, np.ndarray], tile: Tile, outside: np.ndarray | None
) -> None:
    """Adds a tile's defect ``masks`` (over its core; "clipped", "points", "scratches") inside the
    painting (not ``outside``) to ``marked``'s counts ("clipped_pixels", "hot_dead_pixels",
    "scratch_pixels"), and its hot/dead pixels to "hot_dead_at": [row, column] in the whole image, the
    first :data:`~.defects.LISTED_POINTS` in row order, as in memory (:meth:`~.defects.Defects.summary`),
    whatever order the tiles come in."""
    kept = {name: mask if outside is None else mask & ~outside for name, mask in masks.items()}
    for key, name in (("clipped_pixels", "clipped"), ("hot_dead_pixels", "points"), ("scratch_pixels", "scratches")):
        marked[key] = marked.get(key, 0) + int(kept[name].sum())
    listed = marked.setdefault("hot_dead_at", [])
    if kept["points"].any():
        at = np.argwhere(kept["points"]) + (tile.core[0].start, tile.core[1].start)
        listed[:] = sorted(listed + at.tolist())[:LISTED_POINTS]


@contextlib.contextmanager
def compute_threads(device: torch.device) -> Iterator[None]:
    """Torch's CPU threads while tiles are applied: one fewer than it had (at least one), the core
    left over reading, checking and writing tiles beside it; restored after. On 2 shared cores two
    torch threads spun waiting for each other whenever the reader ran: `xraysep apply` of a
    2000×2000 pair took 2.4–3× the CPU time and wall time of one thread."""
    before = torch.get_num_threads()
    if device.type == "cpu":
        torch.set_num_threads(max(1, before - 1))
    try:
        yield
    finally:
        torch.set_num_threads(before)


def prefetched(read: Callable[[T], R], items: Iterable[T], pool: Executor, depth: int = 1) -> Iterator[tuple[T, R]]:
    """``(item, read(item))`` for each of ``items`` in order, the next ``depth`` items' ``read``
    running in ``pool`` while the caller works on this one. An exception in ``read`` is raised here,
    at its item. Raises ValueError for a ``depth`` under 1."""
    if depth < 1:
        raise ValueError(f"read ahead by at least one item, not {depth}")
    items = iter(items)
    pending: collections.deque[tuple[T, Future]] = collections.deque()
    for item in itertools.islice(items, depth):
        pending.append((item, pool.submit(read, item)))
    while pending:
        item, future = pending.popleft()
        following = next(items, None)
        if following is not None:
            pending.append((following, pool.submit(read, following)))
        yield item, future.result()


def calibrated(
    model: TrainedModel, sources: Sources, device: str | None = None, side: int | None = None, support: Any = None,
    seek: bool = True,
) -> tuple[TrainedModel, Calibration | None, dict[str, Any] | None]:
    """``model`` ready for the X-ray of ``sources``: checked against the model's prediction from the
    photograph on up to CALIBRATION_GRID² blocks of ``side`` (at most CALIBRATION_SIDE) pixels spread
    over the image, or on the whole image where they would cover it (as :func:`~.separation.iter_separate`
    measures an image in memory) (:mod:`.calibration`), inside the painting only: the user's
    ``support`` ((H, W) bool, lazy), else the painting found in the X-ray (:func:`painting_found`; the
    whole frame without ``seek``: the painting sought already, or given as the whole frame), with
    clipped pixels left out — as the model's training measured its own X-ray. If its units are not the
    training units, a copy with the X-ray's normalisation corrected (and a warning saying so). Returns
    the model, the :class:`Calibration` (None when the photograph explains too little of the X-ray to
    tell) and the record of how much it explains (:func:`~.calibration.photograph_fit`, for run.json).
    A photograph or side channels stored otherwise than the model's are read as stored first
    (:func:`~.storage.as_given`, said). Raises :class:`InputError` for an X-ray inverted against the
    prediction, and for side channels given in another order than the model's."""
    height, width = sources.check()
    check_side_count(len(model.side_normalisations), len(sources.side_channels))
    check_double_sided(model.double_sided, sources.double_sided)
    model = as_given(model, sources)  # a photograph stored otherwise would be blamed on the X-ray
    torch_device = resolve_device(device or model.config.device)
    decode = decoder(applied_network(model, sources, torch_device), sources.double_sided)
    side = min(CALIBRATION_SIDE, side or CALIBRATION_SIDE)
    side_y, side_x = min(side, height), min(side, width)
    if height * width <= (CALIBRATION_GRID * side) ** 2:
        # The blocks would cover the image, overlapping: measure it whole, as in memory (the same fit).
        side_y, side_x = height, width
    measured = KnownPixels(sources.x_mixed)  # a film margin or clipped pixels would bend the offset
    levels = painting_clip_levels(sources.x_mixed)
    painting = painting_found(measured, sources.rgb_surface) if support is None and seek else support
    blocks = []
    tops = sorted({int(t) for t in np.linspace(0, height - side_y, CALIBRATION_GRID)})
    lefts = sorted({int(t) for t in np.linspace(0, width - side_x, CALIBRATION_GRID)})
    for top in tops:
        for left in lefts:
            area = (slice(top, top + side_y), slice(left, left + side_x))
            with torch.no_grad():
                unit = Components(*decode_block(decode, sources.network_input(model, area), torch_device))
            x = measured[area]
            # A detector's limit below an integer dtype's, or a float X-ray's (a DICOM's rescaled
            # values): a spike at the block's extreme, left out as in memory (a tester's DICOM, ×2 − 1000,
            # read as × 2.05 + 2.47e+04 with its saturated pixels in).
            x[np.logical_or(*clipped_pixels(x, levels=levels))] = np.nan
            if painting is not None:
                x[~np.asarray(painting[area], dtype=bool)] = np.nan
            blocks.append((model.x_normalisation.to_unit(x), unit.x1_hat))
    fit = UnitFit.measure(blocks)
    if fit is None and (side_y, side_x) == (height, width):
        raise InputError(NOTHING_MEASURED)
    said = unexplained(fit)
    if said:
        warnings.warn(said, UserWarning, stacklevel=2)
    elif weave_said := foreign_weave(model, [blocks[k : k + len(lefts)] for k in range(0, len(blocks), len(lefts))]):
        warnings.warn(weave_said, UserWarning, stacklevel=2)
    calibration = calibrate(model.x_reference, fit)
    if calibration is not None and calibration.recalibrated:
        warnings.warn(calibration.describe(model.x_normalisation), UserWarning, stacklevel=2)
        model = dataclasses.replace(model, x_normalisation=recalibrated(model.x_normalisation, calibration))
    return model, calibration, photograph_fit(fit, said)


# The clipping levels of the whole paintings' X-rays read so far (by their source objects; arrays in
# memory, which cannot be kept so, are judged again: they are read fast).
_CLIP_LEVELS: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()


def foreign_weave(model: TrainedModel, blocks: list[list[tuple[np.ndarray, np.ndarray]]]) -> str | None:
    """A sentence for the user where ``model`` extracts a canvas weave that the X-ray does not show: none
    of the model's weave frequencies is a thread peak (:func:`~.weave.weave_seen`) of the X-ray less the
    model's prediction from the photograph, over the unit check's ``blocks`` (rows of (x, x̂1) pairs in
    unit range, laid side by side). A model of another painting then writes that painting's weave into
    this one's weave layer — the X-ray's own detail at those frequencies, counted as threads (a new
    user's panel painting got 20.2 threads/cm) — and leaves this one's weave, if any, in x2. None
    otherwise, for an auto-encoder, and where too little is known to tell."""
    network = model.network
    if not isinstance(network, ColourMap) or not int(network.peaks):
        return None
    x, predicted = (
        np.concatenate([np.concatenate([pair[k] for pair in row], axis=1) for row in blocks]) for k in (0, 1)
    )
    known = np.isfinite(x) & np.isfinite(predicted)
    if known.sum() < 2:
        return None
    # Less the prediction at the X-ray's own gain and offset: in other units (an 8-bit copy, another
    # exposure: recalibrated after this) the mis-scaled painting hid the weave's peak (a breaker's).
    gain, offset = np.polyfit(predicted[known], x[known], 1)
    residual = x - (gain * predicted + offset)
    frequencies = network.weave_frequencies.detach().cpu().numpy()
    if weave_seen(frequencies, residual) is not False:
        return None
    periods = " and ".join(dict.fromkeys(f"{1 / math.hypot(fy, fx):.1f}" for fy, fx in frequencies))
    return (
        f"The model's canvas weave (threads every {periods} px) is not in this X-ray: its weave layer would hold this "
        "painting's own detail at those frequencies, and this painting's weave, if any, would stay in x2 — a model "
        "made on another painting or canvas? Separating this one (xraysep separate) fits its own."
    )


def painting_clip_levels(x_mixed: Any) -> tuple[float | None, float | None]:
    """:func:`~.defects.clip_levels` of a whole painting's X-ray, read once per source (the unit check and
    each pass over the tiles ask for it)."""
    try:
        return _CLIP_LEVELS[x_mixed]
    except (KeyError, TypeError):
        pass
    levels = clip_levels(x_mixed)
    try:
        _CLIP_LEVELS[x_mixed] = levels
    except TypeError:  # an ndarray: no weak reference
        pass
    return levels


def painting_found(x_mixed: Any, rgb_surface: Any) -> Any:
    """Where the painting is in an X-ray ((H, W) array-like read by row slices, NaN where not measured:
    e.g. :class:`~.films.KnownPixels` of a whole painting's file) and its photograph ((H, W, C)), as
    :func:`~.data.prepare_inputs` finds it (:func:`~.support.detect_support`, then
    :func:`~.support.trim_to_photograph`) — on block means of at most about SEARCH_SIDE px a side, which
    is what the search reads anyway — as a lazy (H, W) bool array; None when the painting fills the frame.
    Raises InputError when nothing in the X-ray was measured."""
    height, width = x_mixed.shape
    fine = max(1, math.ceil(max(height, width) / SEARCH_SIDE))
    # First on the blocks the support search itself reads (DETECT_SIDE a side): a painting that fills the
    # frame there fills it at any resolution (the photograph only trims a painting found inside it), so
    # only a painting inside the frame is sought again, finer.
    for factor in dict.fromkeys((max(fine, math.ceil(max(height, width) / DETECT_SIDE)), fine)):
        x_small = block_means(x_mixed, factor, SEARCH_VALUES)
        valid = np.isfinite(x_small)
        if not valid.any():
            raise InputError(NOTHING_MEASURED)
        found = detect_support(x_small, valid)
        found = trim_to_photograph(found, block_means(rgb_surface, factor, SEARCH_VALUES)[..., :3], x_small, valid)
        if found.full:
            return None
    return found.mask if factor == 1 else _Upsampled(found.mask, factor, (height, width))


@dataclass(frozen=True)
class PaintingSupport:
    """Where a whole painting's units are measured (``measured``) and its results kept (``kept``), lazy
    (H, W) bool arrays or None for the whole frame; ``found``: whether it was sought (not given)."""

    measured: Any
    kept: Any
    found: bool

    def given(self) -> dict[str, Any] | None:
        """JSON-ready, for a painting area given as a box (a CLI's ``--painting-area Y0,X0,Y1,X1``; None
        otherwise): its rows and columns (inclusive) and share of the frame, as ``separate`` records an
        area in memory (a new user's whole painting was said to be "the whole frame", or the training
        area's rows)."""
        if self.found or not isinstance(self.kept, BoxRegion) or len(self.kept.boxes) != 1:
            return None
        (y0, x0, y1, x1), (height, width) = self.kept.boxes[0], self.kept.shape
        return {
            "source": "given", "rows": [y0, y1 - 1], "columns": [x0, x1 - 1],
            "fraction": (y1 - y0) * (x1 - x0) / (height * width), "full_frame": (y1 - y0, x1 - x0) == (height, width),
        }

    def summary(self) -> dict[str, Any] | None:
        """JSON-ready, when the painting was found inside the frame (None otherwise): the rows and
        columns (inclusive) where results are kept, and their share of the frame."""
        if not self.found or self.kept is None:
            return None
        mask, factor = (self.kept.mask, self.kept.factor) if isinstance(self.kept, _Upsampled) else (self.kept, 1)
        height, width = self.kept.shape
        rows, cols = np.flatnonzero(mask.any(axis=1)), np.flatnonzero(mask.any(axis=0))
        box = mask[rows[0] : rows[-1] + 1, cols[0] : cols[-1] + 1]
        return {
            "rows": [int(rows[0] * factor), int(min(height, (rows[-1] + 1) * factor) - 1)],
            "columns": [int(cols[0] * factor), int(min(width, (cols[-1] + 1) * factor) - 1)],
            "fraction": float(mask.mean()),
            "fraction_of_box": float(box.mean()),
        }

    def sentence(self) -> str | None:
        """What a user reads when the painting was found inside the frame, or given as a box (None
        otherwise)."""
        given = self.given()
        if given is not None:
            (y0, y1), (x0, x1) = given["rows"], given["columns"]
            share = f"{100 * given['fraction']:.0f} % of the frame"
            return f"Painting given at rows {y0}–{y1}, columns {x0}–{x1} ({share}); outside it the results are empty."
        found = self.summary()
        if found is None:
            return None
        (y0, y1), (x0, x1) = found["rows"], found["columns"]
        # A painting is mostly rectangular: parts of its box left out may be painting (a dark, even passage).
        holes = (
            f", {100 * found['fraction_of_box']:.0f} % of that box: the rest was taken for margin"
            if found["fraction_of_box"] < FOUND_BOX_SHARE else ""
        )
        return (
            f"Painting found at rows {y0}–{y1}, columns {x0}–{x1} "
            f"({100 * found['fraction']:.0f} % of the frame{holes}); "
            f"outside it the results are empty ({KEEP_ANOTHER})."
        )


def painting_support(sources: Sources, support: Any = None, seek: bool = True) -> PaintingSupport:
    """Where a whole painting is (see :class:`PaintingSupport`): the user's ``support`` (None: the whole
    frame) where given or not to be sought (``seek`` False: "full"); else the painting found in the
    X-ray and photograph (:func:`painting_found`), as ``separate`` finds it in memory, measured there
    and kept there with its holes closed (a clipped passage is the painting's), grown by one block of
    the search where it was sought on block means, so that a coarse block at its edge cuts no painting
    off (a few pixels of margin may stay). Raises InputError when nothing in the X-ray was measured."""
    if support is not None or not seek:
        return PaintingSupport(support, support, found=False)
    painting = painting_found(KnownPixels(sources.x_mixed), sources.rgb_surface)
    # Holes closed: a clipped passage inside the painting is the painting's (its pixels are empty
    # in the results anyway, and counted as clipped); a film margin touches the frame's edge.
    if isinstance(painting, _Upsampled):
        grown = ndimage.binary_dilation(ndimage.binary_fill_holes(painting.mask), np.ones((3, 3), bool))
        kept = _Upsampled(grown, painting.factor, painting.shape)
    else:
        kept = None if painting is None else ndimage.binary_fill_holes(painting)
    return PaintingSupport(painting, kept, found=True)


class _Upsampled:
    """A block mask ``mask`` read at full resolution: ``[rows, cols]`` gives each pixel its block's value."""

    def __init__(self, mask: np.ndarray, factor: int, shape: tuple[int, int]) -> None:
        self.mask, self.factor, self.shape, self.dtype, self.ndim = mask, factor, shape, np.dtype(bool), 2

    def __getitem__(self, window: tuple[slice, slice]) -> np.ndarray:
        rows, cols = (np.arange(*part.indices(size)) // self.factor for part, size in zip(window, self.shape))
        return self.mask[np.ix_(rows, cols)]
