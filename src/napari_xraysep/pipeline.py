"""One way through a run, whatever face starts it: :func:`iter_run`.

The CLI's ``separate`` and ``demo`` and the dock's Train / Apply all drive :func:`iter_run`: it
checks that the photograph lies on the X-ray (an :class:`AlignmentNote`, said before any training
time is spent), separates an image that fits in memory with the core's
:func:`~napari_xraysep.core.separation.iter_separate`, and a whole painting (over
:data:`~napari_xraysep.core.areas.LARGE_IMAGE_PIXELS`) by :func:`iter_separate_painting`: trained on
an area around the drawn region (:mod:`~napari_xraysep.core.areas`), then applied to every pixel
tile by tile (:func:`~napari_xraysep.core.streaming.iter_apply`) into float32 TIFFs with overview
levels beside them (:mod:`~napari_xraysep.io.pyramid`). Given a folder, the run is written there as
one result set with its record, ``run.json``; model checkpoints are kept in it while training.
"""

from __future__ import annotations

import dataclasses
import functools
import json
import time
import warnings
from collections.abc import Callable, Generator, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from ._version import __version__
from .core import RESULT_LAYERS, SeparationConfig, SeparationResult, TrainedModel, areas
from .core import separation as core_separation
from .core.progress import converted
from .core.training import StopFlag, TrainingProgress
from .core.data import missing_inputs_warning
from .core.errors import InputError
from .core.films import Films, KnownPixels, Seam, find_films, given_films
from .core.passages import Passages, find_passages, with_sides
from .core.registration import mirror_warning, misalignment_warning
from .core.checks import check_pair, check_rgb, unmasked
from .core.data import missing_filled
from .core.devices import resolve_device
from .core.result import created_now, defects_line, input_notes, resolved_settings, weave_threads
from .core.separation import check_seams, resolve_config
from .core.sources import Sources
from .core.stretcher import Stretcher, find_stretcher_in, take_out_stretcher
from .core.streaming import PaintingSupport, TileProgress, calibrated, iter_apply, painting_support, tile_count
from .io import result_tiffs
from .io.files import result_set, set_aside
from .io.write import write_record, write_results
from .io.modelfile import checkpoint_to, save_model
from .io.pyramid import PYRAMID_FOLDER, write_pyramid
from .io.warmstart import warm_start_state


# ``napari_xraysep.separate`` and ``iter_separate``: the core's, with the shipped warm-start weights
# handed in (the core reads no file). Wrapped, so that help(), editors and inspect.signature show the
# core's parameters and docstring, not (*args, **kwargs).
@functools.wraps(core_separation.iter_separate)
def iter_separate(*args: Any, **kwargs: Any) -> Generator[TrainingProgress, None, SeparationResult]:
    kwargs.setdefault("shipped_weights", warm_start_state)
    return core_separation.iter_separate(*args, **kwargs)


@functools.wraps(core_separation.separate)
def separate(*args: Any, **kwargs: Any) -> SeparationResult:
    kwargs.setdefault("shipped_weights", warm_start_state)
    return core_separation.separate(*args, **kwargs)


class _Stopped(Exception):
    """Leaves :func:`result_tiffs` without committing (its files are removed)."""


class _FilmsFound(Exception):
    """Leaves :func:`result_tiffs` without committing: the painting is to be applied again, its films
    taken out."""

    def __init__(self, films: Films) -> None:
        super().__init__()
        self.films = films


def iter_apply_to_folder(
    model: TrainedModel,
    sources: Sources,
    out: Path,
    *,
    tile_size: int | None = None,
    device: str | None = None,
    stop: StopFlag | None = None,
    provenance: dict[str, Any] | None = None,
    pyramid: bool = False,
    calibrate: bool = True,
    support: Any = None,
    marked: dict[str, Any] | None = None,
    layers: Sequence[str] = RESULT_LAYERS,
    found: dict[str, Any] | None = None,
    films: Films | None = None,
    seek_films: bool = False,
) -> Generator[TileProgress, None, dict[str, Path] | None]:
    """Apply ``model`` to the whole painting into float32 TIFFs of ``layers`` (default the six
    results) in ``out`` (which must exist: a
    :func:`result_set`'s folder, for the TIFFs to replace earlier results as a set);
    yields after every tile; returns their paths, or None if ``stop`` came first (then nothing is
    left behind). With ``pyramid``, 2× reductions go to ``out/pyramid``
    (:func:`~napari_xraysep.io.pyramid.open_pyramid` reads them).
    ``calibrate``: check the X-ray's units first, as :func:`iter_apply` does; ``support`` and ``marked``
    are :func:`~napari_xraysep.core.streaming.iter_apply`'s. Then the stretcher's bars are sought in
    x2 and taken out into ``stretcher.tif``, and x2's passages that follow a
    colour of the photograph sought (:func:`sought_in_x2`); ``found["stretcher"]`` and
    ``found["passages"]`` say what was found (a :class:`~napari_xraysep.core.stretcher.Stretcher`, a
    :class:`~napari_xraysep.core.passages.Passages`, or None). With a mosaic's
    ``films`` the X-ray is brought to one exposure tile by tile and ``exposure.tif`` is written too.
    With ``seek_films`` (and x2 among the ``layers``) a mosaic's films are sought in the x2 written, as
    in memory (:func:`~napari_xraysep.core.films.find_films`); if some are found, that pass's files are
    dropped and the painting is applied again with them taken out (``found["films"]``)."""
    shape = sources.check()
    if films is not None and "exposure" not in layers:
        layers = (*layers, "exposure")
    try:
        with result_tiffs(out, shape, provenance, layers) as outputs:
            done = yield from iter_apply(
                model, sources, outputs, tile_size=tile_size, device=device, stop=stop, calibrate=calibrate,
                support=support, marked=marked, films=films,
            )
            if done < tile_count(shape, tile_size or model.config.tile_size):
                raise _Stopped
            stopped = stop is not None and stop.is_set()  # after the last tile: keep what is done
            seek = None
            if seek_films and films is None and "x2" in outputs and not stopped:
                # What the model explains (x̂1 + weave) is taken out of the kept seams' fit, as in memory.
                known = {"x1_hat", "weave"} <= outputs.keys()
                explained = _Summed(outputs["x1_hat"], outputs["weave"]) if known else None
                known_x = KnownPixels(sources.x_mixed, support)
                seek = functools.partial(find_films, known_x, outputs["x2"], known_x.margin, explained)
            sought, stretcher, passages = sought_in_x2(out, outputs, model.config, sources, provenance, seek)
            if sought is not None:
                raise _FilmsFound(sought)
    except _Stopped:
        return None
    except _FilmsFound as again:
        if marked is not None:
            marked.clear()  # counted again, tile by tile
        second = iter_apply_to_folder(
            model, sources, out, tile_size=tile_size, device=device, stop=stop,
            provenance={**(provenance or {}), "films": again.films.summary()}, pyramid=pyramid, calibrate=calibrate,
            support=support, marked=marked, layers=layers, found=found, films=again.films,
        )
        paths = yield from _relabelled(second, "whole painting, films taken out")
        if paths is not None and found is not None:  # stopped, nothing was written with them out
            found["films"] = again.films
        return paths
    if found is not None:
        found |= {"stretcher": stretcher, "passages": passages}
    paths = {name: out / f"{name}.tif" for name in (*layers, *(["stretcher"] if stretcher else []))}
    if pyramid:
        for path in paths.values():
            write_pyramid(path, out / PYRAMID_FOLDER)
    return paths


class _Summed:
    """The sum of two (H, W) array-likes read by 2-D slicing (result TIFFs being written), read a
    window at a time: ``[window]`` is ``first[window] + second[window]`` in float64."""

    def __init__(self, first: Any, second: Any) -> None:
        self.first, self.second, self.shape = first, second, tuple(first.shape)

    def __getitem__(self, window: Any) -> np.ndarray:
        return np.asarray(self.first[window], dtype=np.float64) + np.asarray(self.second[window], dtype=np.float64)


def _relabelled(events: Generator[Any, None, Any], what: str) -> Generator[Any, None, Any]:
    """``events`` passed on, each :class:`TileProgress` with ``what`` it is progress of (a second pass
    over the painting gets a progress bar of its own, the training area's tiles a name of their own),
    and their generator's return value returned."""

    def named(event: Any) -> Any:  # (a second fit's steps, counted as TileProgress too, keep their own name)
        tiles = isinstance(event, TileProgress) and event.unit == "tile"
        return dataclasses.replace(event, what=what) if tiles else event

    return (yield from converted(events, named))


# What the training area's own tiles are progress of, on a whole painting.
AREA_TILES = "applying the model to the training area"


def sought_in_x2(
    out: Path,
    outputs: dict[str, Any],
    config: SeparationConfig,
    sources: Sources,
    provenance: dict[str, Any] | None,
    seek_films: Callable[[], Films | None] | None = None,
) -> tuple[Films | None, Stretcher | None, Passages | None]:
    """What a whole painting's x2 holds once its tiles are written (``outputs``: the result TIFFs by
    name): (films, stretcher, passages). The stretcher's bars (:func:`stretcher_in`) and the passages
    (:func:`passages_in`) are sought while ``seek_films`` (a search of a mosaic's films, if asked)
    runs, on two more threads: each reads the files a window at a time, and the searches' medians and
    sums leave the GIL. Films found come back alone, with nothing changed: the painting is to be
    applied again with them taken out. Else bars found are taken out of x2 and x̂2 into
    ``out/stretcher.tif`` (with ``provenance``) and the passages sought again in x2 without them —
    the same results as the searches one after another."""
    # The searches silence numpy's warnings of empty slices (NaN outside the painting) each in a
    # warnings.catch_warnings(), which is not thread-safe: one thread's exit can restore the filters
    # while another's search runs, and "All-NaN slice encountered" reached a user now and then. Ignored
    # here around them all, every state a search restores ignores them too.
    with warnings.catch_warnings(), ThreadPoolExecutor(2, thread_name_prefix="xraysep-x2") as pool:
        warnings.simplefilter("ignore", RuntimeWarning)
        bars = pool.submit(stretcher_in, outputs, config, sources.double_sided)
        passages = pool.submit(passages_in, outputs, sources)
        films = None if seek_films is None else seek_films()
        if films is not None:
            return films, None, None  # the searches beside it end (they read these files) before the pool does
        stretcher, found_passages = bars.result(), passages.result()
    if stretcher is not None:
        hidden = next(outputs[name] for name in ("x2", "x2_hat") if name in outputs)
        with result_tiffs(out, tuple(hidden.shape), provenance, ("stretcher",)) as extra:
            take_out_stretcher(stretcher, outputs, extra["stretcher"])
        found_passages = passages_in(outputs, sources)  # in x2 without the bars
    return None, stretcher, found_passages


def stretcher_in(outputs: dict[str, Any], config: SeparationConfig, double_sided: bool) -> Stretcher | None:
    """A whole painting's stretcher bars, sought in its x2 (or, when only x̂2 is written, in x̂2;
    ``outputs``: the result TIFFs being written, by name) when ``config.stretcher_bars`` asks (not for
    a double-sided panel, nor when neither is written: the bars change no other layer); None when none
    were found or sought (:func:`~napari_xraysep.core.stretcher.find_stretcher_in`)."""
    hidden = next((outputs[name] for name in ("x2", "x2_hat") if name in outputs), None)
    if not config.stretcher_bars or double_sided or hidden is None:
        return None
    return find_stretcher_in(hidden)


def said_missing(marked: dict[str, Any], sources: Sources) -> dict[str, int] | None:
    """The pixels inside the painting each photograph or side channel missed, tile by tile (``marked``'s
    "missing_inputs", taken out of it: :func:`~napari_xraysep.core.streaming.iter_apply`), said as a
    UserWarning as a fit in memory says them (:func:`~napari_xraysep.core.data.missing_inputs_warning`);
    None where none did."""
    missing = marked.pop("missing_inputs", None)
    if said := missing_inputs_warning(missing or {}, sources.side_names, fitted=False):
        warnings.warn(said, UserWarning, stacklevel=2)
    return missing


def passages_in(outputs: dict[str, Any], sources: Sources) -> Passages | None:
    """A whole painting's x2 passages that follow a colour region of its photograph
    (:func:`~napari_xraysep.core.passages.find_passages`, on block means), sought in the x2 being
    written (``outputs``: the result TIFFs by name); None when there are none, when x2 is not written
    or for a double-sided panel (its x2 is the back's painting)."""
    if sources.double_sided or "x2" not in outputs:
        return None
    found = find_passages(outputs["x2"], sources.rgb_surface, sources.x_mixed)
    return with_sides(found, len(sources.side_channels), sources.side_names)


@dataclass(frozen=True)
class PaintingResult:
    """A whole-painting run: the model, the training area's own separation (None when a model was
    only applied), and the six TIFFs of the whole painting (None if stopped before they were done)."""

    model: TrainedModel
    area: tuple[slice, slice]
    area_result: SeparationResult | None
    paths: dict[str, Path] | None
    folder: Path
    marked: dict[str, Any] | None = None  # defects marked tile by tile (streaming.iter_apply's counts)
    stretcher: Stretcher | None = None  # the stretcher's bars found in the whole painting's x2
    films: Films | None = None  # a mosaic's films, given or found, fitted over the whole X-ray
    passages: Passages | None = None  # x2's passages that follow a colour region of the photograph
    painting: PaintingSupport | None = None  # where the whole painting's results are kept

    def notes(self) -> list[str]:
        """What a user is told about the input: the painting found in the whole X-ray (else the
        training area's support), and what was marked and found in the X-ray over the whole painting
        (not the area's own marks and bars)."""
        whole = None if self.painting is None else self.painting.sentence()
        if whole is None and self.painting is not None and not self.painting.found and self.painting.kept is not None:
            whole = "Painting area given (a mask): outside it the results are empty."  # not the training area's rows
        if whole:
            lines = [whole]
        else:
            lines = [] if self.area_result is None else input_notes(self.area_result.support, None)
        line = defects_line(self.marked or {}, fitted=False)  # counted over the painting, tile by tile
        films = self.films if self.paths is not None else None  # a stopped run took nothing out
        found = [part.describe() for part in (films, self.stretcher, self.passages) if part is not None]
        return lines + ([line] if line else []) + found

    def provenance(self) -> dict[str, Any]:
        """What the result layers record of their making (the TIFFs in ``folder`` hold the full record)."""
        (top, bottom), (left, right) = (self.area[0].start, self.area[0].stop), (self.area[1].start, self.area[1].stop)
        return {
            "folder": str(self.folder),
            "steps_trained": self.model.steps_trained,
            "settings": self.model.config.to_dict(),
            "resolved": resolved_settings(self.model.config, str(resolve_device(self.model.config.device))),
            "weave_threads": weave_threads(self.model),
            "training_area": [[top, bottom], [left, right]],
            "side_channels": len(self.model.side_normalisations),
            "defects_marked": self.marked,
            "stretcher": None if self.stretcher is None else self.stretcher.summary(),
            "films": None if self.films is None else self.films.summary(),
            "passages": None if self.passages is None else self.passages.summary(),
            "painting_found": None if self.painting is None else self.painting.summary(),
        }


def iter_separate_painting(
    sources: Sources,
    out: Path,
    *,
    region_mask: np.ndarray | None = None,
    config: SeparationConfig | None = None,
    model: TrainedModel | None = None,
    stop: StopFlag | None = None,
    provenance: dict[str, Any] | None = None,
    checkpoint: Path | None = None,
    checkpoint_every_s: float = 300.0,
    pyramid: bool = True,
    area: tuple[slice, slice] | None = None,
    painting_area: Any = None,
    seams: Sequence[Seam] | str = (),
    **settings: Any,
) -> Generator[TrainingProgress | TileProgress, None, PaintingResult]:
    """Train on the area around ``region_mask`` (without a region — a double-sided panel, or the colour
    map, which needs none — on the central area, :func:`~napari_xraysep.core.areas.central_area`), save
    the model, then apply it to the whole painting (with a pyramid unless ``pyramid`` is False), and
    record the run in ``run.json`` with ``provenance``. Everything is written as one set
    (:func:`result_set`): it replaces ``out``'s results only once whole; if the run fails, ``out`` is
    left as it was (but for the new ``model.pt`` where ``out`` held none, so the training is not lost).
    ``area`` is the training area if already chosen (:func:`~napari_xraysep.core.areas.painting_area`).
    ``region_mask`` may be lazy (a mask file's :class:`~napari_xraysep.io.ImageSource`, a
    :class:`~napari_xraysep.core.regions.BoxRegion`): only its bounds and the area are read. ``config``
    and the ``settings`` are as for :func:`iter_separate`; ``checkpoint`` is a model file to save to
    while training (a relative path is taken inside the new set: the CLI's ``model.pt``); with 0 steps
    a ``model`` is only applied (and saved in the set, beside its results). A stop ends the run with the set
    done so far (the model and run.json; the whole painting can be done later with the saved model).
    ``painting_area`` (a box, a mask — lazy is fine — or "full") is where the painting is: the training
    area's separation keeps inside it and every result outside it is NaN; without it the support is
    sought in the training area for the training, and in the whole painting
    (:func:`~napari_xraysep.core.streaming.painting_support`) for the results, which are kept inside it.
    ``seams``: a mosaic's film seams, given, or "auto": sought in the whole painting's x2 once written
    (:func:`iter_apply_to_folder`, which then applies the model again). Each film's exposure is fitted
    over the whole X-ray (:func:`~napari_xraysep.core.films.given_films`, read a strip at a time), the
    model (trained, as in memory, on the X-ray as it is) is applied to the X-ray brought to one
    exposure, and the films' exposure is written to ``exposure.tif``."""
    shape = sources.check()
    if region_mask is not None and tuple(region_mask.shape) != tuple(shape):
        raise InputError(
            f"The region mask is {'×'.join(map(str, region_mask.shape))} but the images are {'×'.join(map(str, shape))}."
        )
    resolved = resolve_config(config, model, settings)
    if resolved.training_steps == 0 and model is None:
        raise InputError("Nothing to do: with 0 training steps a trained model must be given.")
    support = areas.painting_mask(painting_area, shape)
    started = time.perf_counter()
    with result_set(out) as staging:
        if checkpoint is not None and not checkpoint.is_absolute():
            checkpoint = staging / checkpoint
        area_result, paths = None, None
        if resolved.training_steps > 0:
            area = area or areas.painting_area(shape, region_mask, sources.double_sided)
            cropped = sources.crop(area)
            separating = iter_separate(
                cropped, None if region_mask is None else np.asarray(region_mask[area]), config=config, model=model, stop=stop,
                checkpoint=None if checkpoint is None else checkpoint_to(checkpoint), checkpoint_every_s=checkpoint_every_s,
                painting_area=None if support is None else np.asarray(support[area]), seams="none", **settings,
            )
            # The area's own tiles are told apart from the whole painting's that follow (a tester read
            # "tile 1/9" then "tile 1/144" as one count).
            area_result = yield from _relabelled(separating, AREA_TILES)
            model = area_result.model
            save_model(model, staging / "model.pt")
        else:
            area = (slice(0, shape[0]), slice(0, shape[1]))
            # Kept beside its results: a dock's model lives in memory only, and run.json named it "run 1"
            # (every napari session has one).
            save_model(model, staging / "model.pt")
        assert model is not None
        # A whole painting's run.json said its total only (a new user's finding): the training area's
        # separation, then the painting's (its search, units, tiles, films, stretcher, passages).
        timings = {} if area_result is None else {"train_s": area_result.timings.get("total_s", 0.0)}
        applying_from = time.perf_counter()
        applying = area_result is None or not area_result.stopped_early
        seek = seams == "auto"
        films = None
        if applying and seams and not seek:
            known_x = KnownPixels(sources.x_mixed, support)
            films = given_films(known_x, seams, stacklevel=3, beyond=known_x.margin)
        record = {
            "software": {"napari-xraysep": __version__}, "created": created_now(), **(provenance or {}),
            **PaintingResult(model, area, None, None, out, films=films).provenance(),
        }
        # Not given: the painting is sought in the whole X-ray (as `separate` seeks it in memory), the
        # units measured there and the results kept there.
        seek_painting = painting_area is None and resolved.detect_support
        painting = painting_support(sources, support, seek=seek_painting) if applying else None
        if painting is not None and area_result is None:  # only applied: perhaps in other units than the model's
            model, calibration, explained = calibrated(
                model, sources, resolved.device, support=painting.measured, seek=False
            )
            record |= {
                "x_normalisation": model.x_normalisation.to_dict(), "photograph_fit": explained,
                "x_calibration": None if calibration is None else calibration.to_dict(),
            }
        if painting is not None:
            support = painting.kept
            record["painting_found"] = painting.summary()
            record["painting_support"] = painting.given()
        marked: dict[str, Any] = {}
        found: dict[str, Any] = {}
        if applying:
            written = yield from iter_apply_to_folder(
                model, sources, staging, device=resolved.device, stop=stop,
                provenance=json.loads(json.dumps(record, default=str)), pyramid=pyramid, calibrate=False,
                support=support, marked=marked, found=found, films=films, seek_films=seek,
            )
            paths = None if written is None else {name: out / path.relative_to(staging) for name, path in written.items()}
        stretcher, passages, films = found.get("stretcher"), found.get("passages"), found.get("films", films)
        record |= {
            "missing_inputs": said_missing(marked, sources),
            "defects_marked": marked, "stretcher": None if stretcher is None else stretcher.summary(),
            "passages": None if passages is None else passages.summary(),
            "films": None if films is None else films.summary(),
            "shape": list(shape),
            "timings_s": timings | {
                **({"apply_s": time.perf_counter() - applying_from} if applying else {}),
                "total_s": time.perf_counter() - started,
            },
        }
        if area_result is not None:
            record["loss_history"], record["stopped_early"] = model.loss_history, area_result.stopped_early
            record["photograph_fit"] = area_result.photograph_fit  # measured on the training area
        # What the set holds, as an in-memory run's run.json says (the pyramids aside).
        written_files = [] if paths is None else [f"{name}.tif" for name in paths]
        record["outputs"] = ["model.pt", *written_files]
        write_record(staging, record)
        # Stopped before the whole painting: an earlier run's results in `out` stay, this set goes beside them.
        folder = (set_aside(staging, out) if paths is None else None) or out
    return PaintingResult(model, area, area_result, paths, Path(folder), marked, stretcher, films, passages, painting)




@dataclass(frozen=True)
class AlignmentNote:
    """A run's first event: what the alignment check of the X-ray and the photograph found (""
    when the photograph looks registered). Not a blocker — the user may know better."""

    text: str


RunEvent = AlignmentNote | TrainingProgress | TileProgress


def back_turned(sources: Sources, x_pair: np.ndarray, area: tuple[slice, slice] | None = None) -> str | None:
    """For a double-sided panel, :func:`~napari_xraysep.core.registration.mirror_warning`'s sentence when its
    back photograph lines up with the X-ray only turned the other way than ``sources.mirror_back`` says;
    ``x_pair`` is the X-ray at ``area`` (None: the whole). None for a panel of one side."""
    if sources.rgb_back is None:
        return None
    ways = [sources, dataclasses.replace(sources, mirror_back=not sources.mirror_back)]
    ways = [way.crop(area) for way in ways] if area is not None else ways
    facing = [missing_filled(check_rgb((way.rgb_back[:, ::-1] if way.mirror_back else way.rgb_back)[..., :3])) for way in ways]
    return mirror_warning(missing_filled(x_pair), *facing, mirrored=sources.mirror_back)


def pair_warnings(sources: Sources) -> tuple[str | None, str | None]:
    """What :func:`iter_run` says of a pair before it separates it — the photograph out of register, a
    double-sided panel's back turned the other way (each a sentence, or None) — for a model only applied
    (``xraysep apply``); a whole painting's judged on its central training area
    (:func:`~napari_xraysep.core.areas.painting_area`)."""
    shape = tuple(sources.x_mixed.shape[:2])
    large = areas.is_large(shape)
    area = areas.painting_area(shape, None, sources.double_sided) if large else (slice(0, shape[0]), slice(0, shape[1]))
    pair = sources.crop(area)
    x_pair, rgb_pair = check_pair(unmasked(pair.x_mixed), unmasked(pair.rgb_surface)[..., :3])
    return misalignment_warning(missing_filled(x_pair), missing_filled(rgb_pair)), back_turned(sources, x_pair, area)


def iter_run(
    sources: Sources,
    region_mask: Any = None,
    *,
    config: SeparationConfig | None = None,
    model: TrainedModel | None = None,
    out: Path | None = None,
    stop: StopFlag | None = None,
    checkpoint: Path | None = None,
    checkpoint_every_s: float = 300.0,
    painting_area: Any = None,
    record: dict[str, Any] | None = None,
    area: tuple[slice, slice] | None = None,
    pyramid: bool = True,
    seams: Any = "auto",
    **settings: Any,
) -> Generator[RunEvent, None, SeparationResult | PaintingResult]:
    """Run one separation from any face; yields an :class:`AlignmentNote` first, then the run's
    progress events, and returns its result.

    Parameters
    ----------
    sources
        The images (:class:`~napari_xraysep.core.sources.Sources`): arrays, or lazy sources for a
        whole painting.
    region_mask
        (H, W) mask of the region for x̄1 (non-zero inside; lazy is fine), or None.
    config, model, settings
        As for :func:`~napari_xraysep.core.separation.iter_separate`.
    out
        The folder the run is written to as one result set (:func:`~napari_xraysep.io.files.result_set`:
        the six TIFFs, ``model.pt`` and ``run.json`` with ``record`` and the alignment note added),
        replacing earlier results only once whole. Required for a whole painting; None keeps an in-memory run in memory.
    checkpoint
        Where the model is kept while it trains (every ``checkpoint_every_s``); a relative path is
        taken inside ``out``'s new set, so a crash leaves the latest model beside the results.
    painting_area
        Where the painting is (a box, a mask — lazy is fine — or "full"); None: found.
    area, pyramid
        A whole painting's training area if already chosen, and whether overview levels are written
        (:func:`iter_separate_painting`).
    seams
        A mosaic's film seams, as for :func:`~napari_xraysep.core.separation.iter_separate`: "auto"
        (sought), "none", or the seams. A whole painting's are sought in its x2 once written (then
        it is applied again), and given or found seams are fitted over its whole X-ray
        (:func:`iter_separate_painting`).

    Returns
    -------
    SeparationResult or PaintingResult
        The in-memory result; or, for an image over ``LARGE_IMAGE_PIXELS``, the whole painting's
        (its images are the TIFFs in ``out``).

    Raises
    ------
    InputError
        Inputs that do not fit together, or a whole painting without ``out``.

    Examples
    --------
    >>> import numpy as np
    >>> from napari_xraysep.core.sources import Sources
    >>> from napari_xraysep.core.progress import drive
    >>> from napari_xraysep.datasets.synthetic import make_mixture
    >>> from napari_xraysep.pipeline import iter_run
    >>> case = make_mixture("concealed_portrait", (48, 64), seed=0)
    >>> run = iter_run(Sources(case.x_mixed, case.rgb_surface), case.region_mask, steps=2, device="cpu")
    >>> events = []
    >>> result = drive(run, events.append)  # each event to the callback; the generator's return value
    >>> [type(event).__name__ for event in events]
    ['AlignmentNote', 'TrainingProgress', 'TrainingProgress']
    >>> events[0].text  # "": the photograph looks registered
    ''
    >>> bool(np.allclose(result.x1 + result.x2 + result.weave, case.x_mixed, atol=1e-4))
    True
    """
    large = areas.is_large(sources.x_mixed.shape)
    if not large:  # read first: a file that cannot be read is named before anything is said of its size
        sources = Sources(
            unmasked(sources.x_mixed), unmasked(sources.rgb_surface),
            None if sources.rgb_back is None else unmasked(sources.rgb_back), sources.mirror_back,
            [unmasked(side) for side in sources.side_channels], sources.side_names,
        )
    shape = sources.check()
    if region_mask is not None:  # an empty region is no region for the colour map, which needs none
        region_mask = areas.region_for_method(region_mask, resolve_config(config, model, settings).method.name, shape)
    if large and out is None:
        raise InputError(f"An image of {shape[0]}×{shape[1]} pixels is separated into files: give the folder for its results.")
    given = check_seams(seams, shape)
    if large:
        area = area or areas.painting_area(shape, region_mask, sources.double_sided)
    pair = sources.crop(area) if large else sources
    # Checked first, so that a photograph with nothing in it is named, not "misaligned". In memory the
    # checked pair is what is separated (an alpha channel dropped, and said, once); a whole painting's
    # area is checked again by its separation, so its alpha is left to that to say.
    x_pair, rgb_pair = check_pair(pair.x_mixed, pair.rgb_surface if not large else pair.rgb_surface[..., :3])
    note = AlignmentNote(misalignment_warning(missing_filled(x_pair), missing_filled(rgb_pair)) or "")
    yield note
    turned = back_turned(sources, x_pair, area if large else None)
    if turned:
        warnings.warn(turned, UserWarning, stacklevel=1)
    # Said on screen, and kept in run.json: a result made from a misaligned pair is read with it in mind.
    record = {**(record or {}), "alignment": {"warning": note.text or None}}
    if large:
        return (yield from iter_separate_painting(
            sources, out, region_mask=region_mask, config=config, model=model, stop=stop, provenance=record,
            checkpoint=checkpoint, checkpoint_every_s=checkpoint_every_s, pyramid=pyramid, area=area,
            painting_area=painting_area, seams="auto" if given is None else given, **settings,
        ))
    arguments = {
        "config": config, "model": model,
        "stop": stop, "checkpoint_every_s": checkpoint_every_s,
        "painting_area": np.asarray(painting_area) if getattr(painting_area, "ndim", 0) == 2 else painting_area,
        "seams": seams,
        **settings,
    }
    checked = dataclasses.replace(sources, x_mixed=x_pair, rgb_surface=rgb_pair)
    region = None if region_mask is None else np.asarray(region_mask)
    if out is None:
        keep = None if checkpoint is None else checkpoint_to(checkpoint)
        return (yield from iter_separate(checked, region, checkpoint=keep, **arguments))
    with result_set(out) as staging:
        keep = None if checkpoint is None else checkpoint_to(checkpoint if checkpoint.is_absolute() else staging / checkpoint)
        result = yield from iter_separate(checked, region, checkpoint=keep, **arguments)
        write_results(staging, result, record)
    return result
