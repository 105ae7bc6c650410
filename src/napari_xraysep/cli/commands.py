"""The work of ``xraysep separate``, ``apply`` and ``demo``: each ``command_*`` takes the parsed arguments
and drives the pipeline (``align`` and ``weave`` are in :mod:`.align` and :mod:`.weave`).

Imported by :func:`napari_xraysep.cli.main` only once a command is to run, so that ``xraysep --help``
and a mistyped option answer without loading the science (torch, scikit-image).
"""

from __future__ import annotations

import argparse
import contextlib
import os
import re
import signal
import sys
import threading
import time
import warnings
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from .._version import __version__
from ..core import PRESETS, RESULT_LAYERS
from ..core.regions import BoxRegion
from ..core.errors import InputError, TrainingError
from ..io.files import EARLIER_RESULTS, STAGING_TAG, check_writable, result_set, same_file
from ..core.devices import resolve_device
from ..core.result import created_now, defects_line, weave_threads
from ..core.films import KnownPixels, given_films
from ..core.separation import check_seams, resolve_config
from ..core.sources import Sources
from ..core.dask_apply import apply_dask, store_in_bands
from ..core.streaming import TileProgress, calibrated, painting_support
from ..io import load_model, open_image, result_tiffs, write_record
from ..io.spacing import chosen_spacing
from ..core.areas import is_large, painting_mask
from ..pipeline import (
    AREA_TILES, PaintingResult, RunEvent, iter_apply_to_folder, iter_run, pair_warnings, said_missing, sought_in_x2,
)
from .terminal import run_in_terminal, signal_handled


def prepare_output_dir(out: Path, overwrite: bool, args: argparse.Namespace | None = None) -> Path:
    """Make sure results can be written to ``out`` before any training time is spent: the results are
    written as a set beside it (:func:`result_set`), so its parent must be writable (or makeable);
    neither is made yet (a run that fails leaves no folder behind). With ``args``, an input file the
    new set would replace (:func:`_inputs_replaced`) is refused."""
    if out.exists() and not out.is_dir():
        raise InputError(f"--out {out} is a file, not a folder.")
    if out.is_dir() and any(out.iterdir()) and not overwrite:
        raise InputError(f"--out {out} is not empty; choose a new folder or pass --overwrite to replace its results.")
    replaced = _inputs_replaced(out, args) if args is not None and out.is_dir() else []
    if replaced:
        raise InputError(
            f"--out {out} holds {', '.join(map(str, replaced))}, an input of this run that its results would replace; "
            "choose another --out (or move the input out of it)."
        )
    if not out.exists() and out.suffix.lower() in (".tif", ".tiff"):
        raise InputError(
            f"--out is the folder the results go into (x1.tif, x2.tif, … and run.json), not a file: give a folder "
            f"name, e.g. {out.with_suffix('')}."
        )
    check_writable(out, "--out")
    return out


@contextlib.contextmanager
def naming_the_kept_model(out: Path) -> Iterator[None]:
    """A training that fails inside a result set (:func:`result_set`) names the set's hidden folder
    as where its last good model is saved; the set is removed and the model kept in ``out`` only if
    ``out`` held none. Say that instead."""
    had_model = (out / "model.pt").exists()
    try:
        yield
    except TrainingError as error:
        staged = re.escape(str(Path(os.path.abspath(out)).parent / f".{out.name}.{STAGING_TAG}-")) + r"[^/\\]+[/\\]model\.pt\."
        kept = (
            f"{out / 'model.pt'}." if not had_model
            else "the new result set, which was not kept: the earlier results in --out are unchanged (give a new --out to keep a failed run's model)."
        )
        raise type(error)(re.sub(staged, lambda _: kept, str(error)), error.model) from error


def painting_area_of(args: argparse.Namespace, shape: tuple[int, int]) -> Any:
    """The --painting-area as iter_separate takes it: None, "full", a box, or a lazy mask (a file)."""
    area = getattr(args, "painting_area", None)
    if isinstance(area, Path):
        mask = open_image(area)
        if mask.ndim != 2 or tuple(mask.shape) != tuple(shape):
            raise InputError(
                f"The painting area mask {area} must be a 2-D image of the X-ray's size "
                f"({shape[0]}×{shape[1]}); it is {'×'.join(map(str, mask.shape))}."
            )
        return mask
    return area


def print_notes(result: Any, quiet: bool) -> None:
    """The run's lines about the input (support found, pixels marked), unless --quiet."""
    if not quiet:
        for line in result.notes():
            print(f"xraysep: {line}", file=sys.stderr)


def _config_from_args(args: argparse.Namespace) -> dict[str, Any]:
    """Settings the user typed: every ``--set NAME=VALUE`` (an unknown name is refused when the settings
    are resolved), and the named options given (an option not given — None — keeps the ``--set``
    value, the preset's or the model's); a named option given as well as ``--set`` wins."""
    named = {
        "steps": args.steps,
        "seed": args.seed,
        "device": args.device,
        "mode": getattr(args, "mode", None),
        "exclusion_weight": getattr(args, "exclusion_weight", None),
        "warm_start": getattr(args, "warm_start", None),
    }
    return dict(args.set or []) | {name: value for name, value in named.items() if value is not None}


def open_sources(args: argparse.Namespace) -> tuple[Sources, dict[str, Any]]:
    """The images named on the command line, opened lazily, and what run.json records of each file."""
    if args.mirror_back and args.rgb_back is None:
        raise InputError("--mirror-back needs the back side's photograph: --rgb-back BACK.tif.")
    check_distinct_files(args)
    sources = Sources(
        open_image(args.xray), open_image(args.rgb), open_image(args.rgb_back) if args.rgb_back else None,
        args.mirror_back, [open_image(path) for path in args.side or []], [Path(path).stem for path in args.side or []],
    )
    files = {"xray": sources.x_mixed.info, "rgb": sources.rgb_surface.info}
    files |= {"rgb_back": sources.rgb_back.info} if sources.double_sided else {}
    files |= {f"side_channel_{i + 1}": side.info for i, side in enumerate(sources.side_channels)}
    return sources, files


def check_distinct_files(args: argparse.Namespace) -> None:
    """InputError when the back's photograph or a side channel is a file already given: a side channel
    that is the X-ray itself took the hidden design with it (x2's spread 3877 → 0.95), a back that is
    the front's photograph made a double-sided run of one side (the dock refuses both)."""
    given = [("the X-ray", args.xray), ("the photograph (--rgb)", args.rgb)]
    later = ([("--rgb-back", args.rgb_back)] if args.rgb_back else []) + [("--side", path) for path in args.side or []]
    for option, path in later:
        earlier = next((what for what, other in given if same_file(Path(path), Path(other))), None)
        if earlier is not None:
            advice = ("give the back's own photograph, or leave --rgb-back out" if option == "--rgb-back" else
                      "a side channel is another map of the painting (infrared, an XRF element map), each given once")
            raise InputError(f"{option} {path} is {earlier}, given already: {advice}.")
        given.append((f"{option} {path}", path))


def _inputs_replaced(out: Path, args: argparse.Namespace) -> list[Path]:
    """The input files of ``args`` that lie in ``out`` — where links lead, in a folder of it too — under
    a name the new result set replaces or removes (an earlier run's results, the pyramid's folder;
    ``model.pt`` where the run trains one): `separate X2.tif … --out . --overwrite` had replaced the
    X-ray it read by its own x2, a link to it or a file in out/pyramid/ too."""
    replaced_names = set(EARLIER_RESULTS) | ({"model.pt"} if args.command == "separate" else set())
    named = [getattr(args, name, None) for name in ("xray", "rgb", "rgb_back", "region_mask", "model", "painting_area")]
    paths = [Path(path) for path in [*named, *(getattr(args, "side", None) or [])] if isinstance(path, (str, Path))]
    folder = Path(os.path.realpath(out))

    def replaced(path: Path) -> bool:
        real = Path(os.path.realpath(path))
        return real.is_relative_to(folder) and real != folder and real.relative_to(folder).parts[0] in replaced_names

    return [path for path in paths if replaced(path)]


def pixel_spacing_record(given: str | None, source: Any, path: Path) -> dict[str, Any] | None:
    """What run.json records of the image's pixel spacing (:func:`~napari_xraysep.io.spacing.chosen_spacing`: the
    user's ``--pixel-size`` over the file's own), or None when neither says one."""
    spacing = chosen_spacing(given, source.info, Path(path).name)
    return None if spacing is None else spacing.record()


def command_separate(args: argparse.Namespace) -> int:
    if not args.checkpoint_every > 0:
        raise InputError(f"--checkpoint-every must be a positive number of minutes; got {args.checkpoint_every}.")
    out = prepare_output_dir(Path(args.out), args.overwrite, args)
    sources, files = open_sources(args)
    spacing = pixel_spacing_record(args.pixel_size, sources.x_mixed, args.xray)
    region: Any = None
    if args.region_mask:
        region = open_image(args.region_mask)
        if region.ndim == 3:
            raise InputError(f"The region mask {args.region_mask} must be a 2-D image (non-zero = inside).")
    elif args.region:
        region = BoxRegion(args.region, sources.x_mixed.shape[:2])
    if region is not None and sources.double_sided:  # its back photograph explains x2: no region is read
        warnings.warn(
            "A double-sided panel needs no region: --region/--region-mask is not used.", UserWarning, stacklevel=1
        )
    model = load_model(args.model) if args.model else None
    config = PRESETS[args.preset]() if args.preset else None
    settings = _config_from_args(args)
    resolved = resolve_config(config, model, settings)
    if (region is not None and not sources.double_sided and resolved.method.name == "colour_map"
            and resolved.training_steps and resolved.method.region_weight >= 1 and not is_large(sources.x_mixed.shape)):
        # Drawn with care and silently unused (a new user's): in memory the colour map fits the whole painting.
        warnings.warn(
            "The colour map fits the whole painting alike: --region/--region-mask is recorded but not used; "
            "--set region_weight=0.3 (say) trusts the pixels there less.", UserWarning, stacklevel=1,
        )
    if region is None and not sources.double_sided and resolved.method.name == "autoencoder" and resolved.training_steps:
        raise InputError(
            "The auto-encoder needs the region: give it with --region Y0,X0,Y1,X1 or --region-mask MASK.tif "
            "(or --rgb-back for a double-sided panel, or --model with --steps 0)."
        )
    inputs = {
        "xray": str(args.xray),
        "rgb": str(args.rgb),
        "rgb_back": str(args.rgb_back) if args.rgb_back else None,
        "side_channels": [str(path) for path in args.side or []],
        "region_mask": str(args.region_mask) if args.region_mask else None,
        "regions": args.region,
        "model": str(args.model) if args.model else None,
    }
    area = painting_area_of(args, tuple(sources.x_mixed.shape[:2]))
    inputs["painting_area"] = str(args.painting_area) if isinstance(args.painting_area, Path) else args.painting_area
    inputs["seams"] = args.seams if isinstance(args.seams, str) else [f"{axis}:{position}" for axis, position in args.seams]
    stop = threading.Event()
    # Checkpoints go where the final model will be: a crash leaves the latest one in --out (if it held
    # no model before; an earlier set is never replaced by half a new one).
    steps = iter_run(
        sources, region, config=config, model=model, out=out, stop=stop, checkpoint=Path("model.pt"),
        checkpoint_every_s=60 * args.checkpoint_every, painting_area=area, pyramid=False, seams=args.seams,
        record={"inputs": inputs, "input_files": files, "pixel_spacing": spacing}, **settings,
    )
    with naming_the_kept_model(out):
        # A whole painting stopped while training keeps its model, unapplied (xraysep apply finishes it).
        whole = whole_painting_stop if is_large(sources.x_mixed.shape) else None
        result = run_in_terminal(steps, stop, args.quiet, whole)
    print_notes(result, args.quiet)
    if isinstance(result, PaintingResult) and result.paths is None:
        kept = "" if result.folder == out else f"; the earlier results in {out} are kept as they were"
        raise InputError(
            f"Stopped before the whole painting was separated; the model is saved in {result.folder / 'model.pt'} "
            f"(xraysep apply applies it to the painting, with the same --seams if any){kept}."
        )
    trained = result.area_result if isinstance(result, PaintingResult) else result
    if trained is not None and trained.stopped_early:  # a first Ctrl-C: said, not only in run.json
        steps = trained.model.steps_trained
        print(f"xraysep: stopped early: the model after {steps} step(s) was applied.", file=sys.stderr)
    if not args.quiet:
        how = (f" (trained on the area {result.provenance()['training_area']}, applied tile by tile)"
               if isinstance(result, PaintingResult) else "")
        layers = tuple(result.paths or RESULT_LAYERS) if isinstance(result, PaintingResult) else tuple(result.layers())
        print(f"Wrote {', '.join(layers)}, model.pt and run.json to {out}{how}", file=sys.stderr)
    return 0


def whole_painting_stop(latest: RunEvent | None) -> str:
    """What a first Ctrl-C during a whole painting's ``separate`` leads to, after the run's ``latest``
    event: the line said "step" and "if a step was made" during the painting's tiles too (a new user's
    finding), long after the training."""
    if isinstance(latest, TileProgress) and latest.what != AREA_TILES:
        return "stopping after this tile; the model is saved, no result is written (xraysep apply applies it to the painting)"
    return (
        "stopping after this step; the model so far, if a step was made, will be saved (xraysep apply applies it "
        "to the painting)"
    )


MIN_TILE = 16


def command_apply(args: argparse.Namespace) -> int:
    """A trained model over a whole painting, tile by tile: memory stays bounded whatever its size."""
    begun = time.perf_counter()
    if args.tile is not None and args.tile < MIN_TILE:
        # Each tile reads a halo of the model's context around it: below this, the halos are most of
        # the work and a painting takes hours (--tile 3 on 256×384 ran for minutes).
        raise InputError(f"--tile must be at least {MIN_TILE} pixels (512 by default); got {args.tile}.")
    layers = RESULT_LAYERS if args.layers is None else tuple(args.layers)
    unknown = [name for name in layers if name not in RESULT_LAYERS]
    if unknown or not layers:
        raise InputError(f"--layers takes names of {', '.join(RESULT_LAYERS)}; got {', '.join(unknown) or 'none'}.")
    out = prepare_output_dir(Path(args.out), args.overwrite, args)
    model = load_model(args.model)
    sources, files = open_sources(args)
    device = args.device or "auto"
    # dask's workers compute on the CPU unless a device is named
    used = resolve_device("cpu" if args.dask is not None and device == "auto" else device)
    shape = sources.check()  # a photograph of another size is said in one line before anything reads it
    area = painting_area_of(args, shape)
    # Not given: sought as `separate` seeks it (unless the model was made with detect_support off), the
    # units measured and the results kept there.
    seek = area is None and model.config.detect_support
    misaligned, turned = pair_warnings(sources)  # as `separate` says them
    for text in (f"{misaligned} (xraysep align)" if misaligned else None, turned):
        if text:
            warnings.warn(text, UserWarning, stacklevel=1)
    painting = painting_support(sources, painting_mask(area, shape), seek=seek)
    model, calibration, explained = calibrated(model, sources, str(used), support=painting.measured, seek=False)
    support = painting.kept
    if painting.sentence() and not args.quiet:
        print(f"xraysep: {painting.sentence()}", file=sys.stderr)
    provenance = {
        "applied_model": str(args.model),
        "created": created_now(),
        "settings": model.config.to_dict(),
        "resolved": {"steps": 0, "device": str(used)},  # applied only, on this device
        "steps_trained": model.steps_trained,
        "weave_threads": weave_threads(model),
        "x_normalisation": model.x_normalisation.to_dict(),
        "x_calibration": None if calibration is None else calibration.to_dict(),
        "photograph_fit": explained,
        "painting_found": painting.summary(),
        "software": {"napari-xraysep": __version__},
        "inputs": {
            "xray": str(args.xray), "rgb": str(args.rgb), "rgb_back": str(args.rgb_back) if args.rgb_back else None,
            "side_channels": [str(path) for path in args.side or []],
        },
        "input_files": files,
        # As separate's run.json records them (a new user found apply's without).
        "double_sided": sources.double_sided,
        "side_channels": len(sources.side_channels),
        "mirror_back": args.mirror_back,
        "pixel_spacing": pixel_spacing_record(args.pixel_size, sources.x_mixed, args.xray),
        "painting_area": str(args.painting_area) if isinstance(args.painting_area, Path) else args.painting_area,
        "layers": list(layers),
    }
    # Not given: sought as `separate` seeks them (a model applied to another file of a mosaic lost 4.6 dB
    # without), where they can be: in the x2 written, on this machine.
    asked = args.seams if args.seams is not None else "auto" if args.dask is None and "x2" in layers else "none"
    seams = check_seams(asked, shape)
    if seams != () and args.dask is not None:
        raise InputError("Film seams are taken out tile by tile on this machine, not with --dask: drop one of them.")
    if seams is None and "x2" not in layers:
        raise InputError("--seams auto seeks the films' seams in x2: keep x2 among --layers, or give the seams.")
    provenance["inputs"]["seams"] = "auto" if seams is None else [f"{seam.axis}:{seam.position}" for seam in seams]
    known_x = KnownPixels(sources.x_mixed, support)
    films = given_films(known_x, seams, stacklevel=2, beyond=known_x.margin) if seams else None
    provenance["films"] = None if films is None else films.summary()
    started = time.perf_counter()
    with result_set(out) as staging:
        if args.dask is not None:
            lazy = apply_dask(
                model, sources, tile_size=args.tile, device="cpu" if device == "auto" else device, calibrate=False, support=support,
            )
            wanted = {name: lazy[name] for name in layers}
            with result_tiffs(staging, tuple(sources.x_mixed.shape[:2]), provenance, layers) as outputs:
                if args.dask:  # a distributed cluster's address
                    from dask.distributed import Client

                    with Client(args.dask) as client:
                        store_in_bands(wanted, outputs, client)
                else:
                    store_in_bands(wanted, outputs, "threads")
                _, stretcher, passages = sought_in_x2(staging, outputs, model.config, sources, provenance)
        else:
            stop = threading.Event()
            marked: dict[str, Any] = {}
            found: dict[str, Any] = {}
            tiles = iter_apply_to_folder(
                model, sources, staging, tile_size=args.tile, device=device, stop=stop, provenance=provenance, calibrate=False,
                support=support, marked=marked, layers=layers, found=found, films=films, seek_films=seams is None,
            )
            paths = run_in_terminal(tiles, stop, args.quiet, "stopping after this tile; no result will be written")
            if paths is None:
                raise InputError("Stopped before every tile was done; no result was written.")
            provenance["missing_inputs"] = said_missing(marked, sources)
            provenance["defects_marked"] = marked
            line = defects_line(marked, fitted=False)
            if line and not args.quiet:
                print(f"xraysep: {line}", file=sys.stderr)
            stretcher, passages, films = found.get("stretcher"), found.get("passages"), found.get("films", films)
        for part in (films, stretcher, passages):
            if part is not None and not args.quiet:
                print(f"xraysep: {part.describe()}", file=sys.stderr)
        record = {
            **provenance, "stretcher": None if stretcher is None else stretcher.summary(),
            "passages": None if passages is None else passages.summary(),
            "films": None if films is None else films.summary(),
            # the tiles and what follows them; total_s from the command's start (reading the model and
            # files, the painting's search and the units' check included)
            "timings_s": {"apply_s": time.perf_counter() - started, "total_s": time.perf_counter() - begun},
            "shape": list(sources.x_mixed.shape[:2]),
        }
        write_record(staging, record)
    if not args.quiet:
        written = (*layers, *(["exposure"] if films is not None else []), *(["stretcher"] if stretcher is not None else []))
        print(f"Wrote {', '.join(written)} and run.json to {out}", file=sys.stderr)
    return 0


def command_demo(args: argparse.Namespace) -> int:
    # Imported here: the demo's scoring pulls in scikit-image's metrics and scipy.stats (~0.4 s), which
    # `separate` and `apply` do not need.
    from .demo import run_demo

    out = prepare_output_dir(Path(args.out), args.overwrite)
    settings = _config_from_args(args)
    with result_set(out) as staging:
        report = run_demo(staging, settings, quiet=args.quiet).replace(str(staging), str(out))
    print(report)
    return 0


class Terminated(BaseException):
    """A SIGTERM, raised where the program is, so that what it was writing is undone (not an
    ``Exception``: nothing may catch it on the way out)."""


@contextlib.contextmanager
def terminate_cleanly() -> Iterator[None]:
    """While the block runs, a SIGTERM (a job scheduler's or ``kill``'s) raises :class:`Terminated`
    instead of ending the process on the spot, which would leave temporary files behind."""

    def on_terminate(signum: int, frame: object) -> None:
        raise Terminated

    with signal_handled(signal.SIGTERM, on_terminate):
        yield
