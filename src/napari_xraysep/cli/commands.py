"""The ``xraysep`` commands' work: each ``command_*`` takes the parsed arguments and drives the core.

Imported by :func:`napari_xraysep.cli.main` only once a command is to run, so that ``xraysep --help``
and a mistyped option answer without loading the science (torch, scikit-image).
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import re
import signal
import sys
import tempfile
import threading
import time
import warnings
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np

from .._version import __version__
from ..core import PRESETS, RESULT_LAYERS
from ..core.checks import check_rgb_shape, check_xray_shape
from ..core.regions import BoxRegion
from ..core.errors import InputError, TrainingError
from ..io.files import STAGING_TAG, atomic_write, result_set
from ..core.alignment import apply_transform
from ..core.edges import CONFIDENT
from ..core.pointpairs import fit_transform
from ..core.registration import estimate_any_way_round, estimate_similarity, estimate_translation
from ..core.warp import aligned_photo, uncovered_share
from ..core.result import defects_line
from ..core.separation import resolve_config
from ..core.sources import Sources
from ..core.dask_apply import apply_dask
from ..core.streaming import calibrated
from .demo import run_demo
from ..io import load_model, open_image, result_tiffs, write_record, write_tiff
from ..core.threads import count_threads, parse_pixel_size
from ..io.spacing import chosen_spacing
from ..core.areas import painting_mask
from ..pipeline import PaintingResult, iter_apply_to_folder, iter_run
from .terminal import run_in_terminal, signal_handled


def prepare_output_dir(out: Path, overwrite: bool) -> Path:
    """Make sure results can be written to ``out`` before any training time is spent: the results are
    written as a set beside it (:func:`result_set`), so its parent must be writable (or makeable);
    neither is made yet (a run that fails leaves no folder behind)."""
    if out.exists() and not out.is_dir():
        raise InputError(f"--out {out} is a file, not a folder.")
    if out.is_dir() and any(out.iterdir()) and not overwrite:
        raise InputError(f"--out {out} is not empty; choose a new folder or pass --overwrite to replace its results.")
    # Nothing is made here (a refused run leaves the disk as it was): the nearest folder that exists
    # above --out must take new files.
    existing = next(folder for folder in Path(os.path.abspath(out)).parents if folder.exists())
    try:
        os.rmdir(tempfile.mkdtemp(prefix=".xraysep-write-test-", dir=existing))
    except OSError as error:
        raise InputError(f"Cannot write to --out {out}: {error.strerror or error}.") from error
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
    sources = Sources(
        open_image(args.xray), open_image(args.rgb), open_image(args.rgb_back) if args.rgb_back else None,
        args.mirror_back, [open_image(path) for path in args.side or []],
    )
    files = {"xray": sources.x_mixed.info, "rgb": sources.rgb_surface.info}
    files |= {"rgb_back": sources.rgb_back.info} if sources.double_sided else {}
    files |= {f"side_channel_{i + 1}": side.info for i, side in enumerate(sources.side_channels)}
    return sources, files


def pixel_spacing_record(given: str | None, source: Any, path: Path) -> dict[str, Any] | None:
    """What run.json records of the image's pixel spacing (:func:`~napari_xraysep.io.spacing.chosen_spacing`: the
    user's ``--pixel-size`` over the file's own), or None when neither says one."""
    spacing = chosen_spacing(given, source.info, Path(path).name)
    return None if spacing is None else spacing.record()


def command_separate(args: argparse.Namespace) -> int:
    if not args.checkpoint_every > 0:
        raise InputError(f"--checkpoint-every must be a positive number of minutes; got {args.checkpoint_every}.")
    out = prepare_output_dir(Path(args.out), args.overwrite)
    sources, files = open_sources(args)
    spacing = pixel_spacing_record(args.pixel_size, sources.x_mixed, args.xray)
    region: Any = None
    if args.region_mask:
        region = open_image(args.region_mask)
        if region.ndim == 3:
            raise InputError(f"The region mask {args.region_mask} must be a 2-D image (non-zero = inside).")
    elif args.region:
        region = BoxRegion(args.region, sources.x_mixed.shape[:2])
    model = load_model(args.model) if args.model else None
    config = PRESETS[args.preset]() if args.preset else None
    settings = _config_from_args(args)
    resolved = resolve_config(config, model, settings)
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
    stop = threading.Event()
    # Checkpoints go where the final model will be: a crash leaves the latest one in --out (if it held
    # no model before; an earlier set is never replaced by half a new one).
    steps = iter_run(
        sources, region, config=config, model=model, out=out, stop=stop, checkpoint=Path("model.pt"),
        checkpoint_every_s=60 * args.checkpoint_every, painting_area=area, pyramid=False,
        record={"inputs": inputs, "input_files": files, "pixel_spacing": spacing}, **settings,
    )
    with naming_the_kept_model(out):
        result = run_in_terminal(steps, stop, args.quiet)
    print_notes(result, args.quiet)
    if isinstance(result, PaintingResult) and result.paths is None:
        raise InputError(
            f"Stopped before the whole painting was separated; the model is saved in {out / 'model.pt'} "
            "(xraysep apply applies it to the painting)."
        )
    if not args.quiet:
        how = (f" (trained on the area {result.provenance()['training_area']}, applied tile by tile)"
               if isinstance(result, PaintingResult) else "")
        print(f"Wrote {', '.join(RESULT_LAYERS)}, model.pt and run.json to {out}{how}", file=sys.stderr)
    return 0


MIN_TILE = 16


def command_apply(args: argparse.Namespace) -> int:
    """A trained model over a whole painting, tile by tile: memory stays bounded whatever its size."""
    if args.tile is not None and args.tile < MIN_TILE:
        # Each tile reads a halo of the model's context around it: below this, the halos are most of
        # the work and a painting takes hours (--tile 3 on 256×384 ran for minutes).
        raise InputError(f"--tile must be at least {MIN_TILE} pixels (512 by default); got {args.tile}.")
    layers = RESULT_LAYERS if args.layers is None else tuple(args.layers)
    unknown = [name for name in layers if name not in RESULT_LAYERS]
    if unknown or not layers:
        raise InputError(f"--layers takes names of {', '.join(RESULT_LAYERS)}; got {', '.join(unknown) or 'none'}.")
    out = prepare_output_dir(Path(args.out), args.overwrite)
    model = load_model(args.model)
    sources, files = open_sources(args)
    device = args.device or "auto"
    model, calibration = calibrated(model, sources, "cpu" if args.dask is not None and device == "auto" else device)
    provenance = {
        "applied_model": str(args.model),
        "settings": model.config.to_dict(),
        "steps_trained": model.steps_trained,
        "x_normalisation": model.x_normalisation.to_dict(),
        "x_calibration": None if calibration is None else calibration.to_dict(),
        "software": {"napari-xraysep": __version__},
        "inputs": {
            "xray": str(args.xray), "rgb": str(args.rgb), "rgb_back": str(args.rgb_back) if args.rgb_back else None,
            "side_channels": [str(path) for path in args.side or []],
        },
        "input_files": files,
        "mirror_back": args.mirror_back,
        "pixel_spacing": pixel_spacing_record(args.pixel_size, sources.x_mixed, args.xray),
        "painting_area": str(args.painting_area) if isinstance(args.painting_area, Path) else args.painting_area,
        "layers": list(layers),
    }
    shape = tuple(sources.x_mixed.shape[:2])
    support = painting_mask(painting_area_of(args, shape), shape)
    started = time.perf_counter()
    with result_set(out) as staging:
        if args.dask is not None:
            import dask.array as da

            lazy = apply_dask(
                model, sources, tile_size=args.tile, device="cpu" if device == "auto" else device, calibrate=False, support=support,
            )
            names = list(layers)
            with result_tiffs(staging, tuple(sources.x_mixed.shape[:2]), provenance, layers) as outputs:
                if args.dask:  # a distributed cluster's address
                    from dask.distributed import Client

                    with Client(args.dask) as client:
                        da.store([lazy[n] for n in names], [outputs[n] for n in names], scheduler=client, lock=True)
                else:
                    da.store([lazy[n] for n in names], [outputs[n] for n in names], scheduler="threads", lock=True)
        else:
            stop = threading.Event()
            marked: dict[str, int] = {}
            tiles = iter_apply_to_folder(
                model, sources, staging, tile_size=args.tile, device=device, stop=stop, provenance=provenance, calibrate=False,
                support=support, marked=marked, layers=layers,
            )
            paths = run_in_terminal(tiles, stop, args.quiet, "stopping after this tile; no result will be written")
            if paths is None:
                raise InputError("Stopped before every tile was done; no result was written.")
            provenance["defects_marked"] = marked
            line = defects_line(marked)
            if line and not args.quiet:
                print(f"xraysep: {line}", file=sys.stderr)
        record = {**provenance, "timings_s": {"apply_s": time.perf_counter() - started}, "shape": list(sources.x_mixed.shape[:2])}
        write_record(staging, record)
    if not args.quiet:
        print(f"Wrote {', '.join(layers)} and run.json to {out}", file=sys.stderr)
    return 0


def read_point_pairs(path: Path) -> tuple[np.ndarray, np.ndarray]:
    """CSV rows ``photo_y,photo_x,xray_y,xray_x`` (a header line is allowed) → two (N, 2) arrays."""
    try:
        rows = [line.split(",") for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]
    except OSError as error:
        raise InputError(f"Cannot read the point pairs {path}: {error.strerror or error}.") from error
    try:
        values = np.array([[float(v) for v in row] for row in rows if not row[0].strip().replace("_", "").isalpha()])
    except ValueError as error:
        raise InputError(f"{path}: every row must be four numbers photo_y,photo_x,xray_y,xray_x ({error}).") from error
    if values.ndim != 2 or values.shape[1] != 4:
        raise InputError(f"{path}: every row must be four numbers photo_y,photo_x,xray_y,xray_x.")
    return values[:, :2], values[:, 2:]


def command_align(args: argparse.Namespace) -> int:
    """Register the photograph to the X-ray — from point pairs, or automatically from shared edges,
    whatever its pixel size — and resample it onto the X-ray's grid."""
    if Path(args.out).exists() and not args.overwrite:
        raise InputError(f"{args.out} exists; choose a new file name or pass --overwrite.")
    if not args.max_pair_error > 0:
        raise InputError(f"--max-pair-error must be a positive number of pixels; got {args.max_pair_error}.")
    # Read lazily where the file allows it: the estimate reads reduced copies, the warp one block at a time.
    x_mixed, photo = open_image(args.xray), open_image(args.rgb)
    check_xray_shape(x_mixed.shape)
    check_rgb_shape(photo.shape, "photograph")
    if photo.shape[2] == 4:
        warnings.warn("The photograph has an alpha channel; it is ignored.", UserWarning, stacklevel=1)
    # The aligned photograph lies on the X-ray's grid, so it has the X-ray's spacing; with both files'
    # spacings known, their ratio is the first guess of the scale.
    xray_spacing = chosen_spacing(args.pixel_size, x_mixed.info, Path(args.xray).name)
    photo_spacing = chosen_spacing(args.photo_pixel_size, photo.info, Path(args.rgb).name)
    scale_prior = photo_spacing.mean_mm / xray_spacing.mean_mm if xray_spacing and photo_spacing else None
    if args.points:
        photo_points, xray_points = read_point_pairs(args.points)
        alignment = fit_transform(photo_points, xray_points, args.transform, args.max_pair_error)
        for index in alignment.rejected:
            off = np.linalg.norm(apply_transform(alignment.matrix, photo_points[index : index + 1])[0] - xray_points[index])
            warnings.warn(
                f"Point pair {index + 1} (photo {_point(photo_points[index])} → X-ray {_point(xray_points[index])}) lies "
                f"{off:.1f} px from where the other pairs put it; it was left out.", UserWarning, stacklevel=1,
            )
    elif args.transform in ("translation", "similarity"):
        if args.transform == "translation":
            estimate = estimate_translation
        else:
            def estimate(x, p):  # the two files' spacings, where known, as a first guess of the scale
                return estimate_similarity(x, p, scale_prior)
        alignment = estimate_any_way_round(x_mixed, photo, estimate)
        if alignment.confidence < CONFIDENT:
            uncertain = f"the automatic alignment failed its check: only {alignment.confidence:.0%} of the regions of the painting agree with it"
            if not args.force:
                raise InputError(f"Nothing written: {uncertain} ({alignment.describe()}); give --points, or --force to write it anyway.")
            warnings.warn(f"Written because of --force, though {uncertain}.", UserWarning, stacklevel=1)
        if alignment.mirrored:
            warnings.warn(
                "The photograph matches the X-ray mirrored left–right (a radiograph viewed from the back?); the aligned "
                "copy is mirrored to match it.", UserWarning, stacklevel=1,
            )
    else:
        raise InputError(f"A {args.transform} transform needs point pairs: --points PAIRS.csv.")
    aligned = aligned_photo(photo, alignment, x_mixed.shape[:2])
    uncovered = uncovered_share(photo.shape, alignment, x_mixed.shape[:2])
    if uncovered:
        # Floored, so that a photograph a sliver short of the X-ray never "covers only 100%" of it.
        covered = f"{1 - uncovered:.0%}" if uncovered >= 0.005 else f"{np.floor((1 - uncovered) * 1000) / 10:.1f}%"
        warnings.warn(
            f"The photograph covers only {covered} of the X-ray; the rest is missing data (NaN in a float "
            "TIFF), which the separation leaves out.", UserWarning, stacklevel=1,
        )
    record = {
        "transform": alignment.kind, "matrix_xy": alignment.matrix.tolist(), "scale": alignment.scale,
        "rotation_deg": alignment.rotation_deg, "mirrored": alignment.mirrored, "residual_px": alignment.residual_px,
        "regions_agreeing": alignment.confidence, "rejected_pairs": [i + 1 for i in alignment.rejected],
        "xray": str(args.xray), "rgb": str(args.rgb), "photo_shape": list(photo.shape[:2]), "uncovered_share": uncovered,
    }
    if scale_prior is not None:
        record["scale_from_pixel_spacings"] = scale_prior
    write_tiff(args.out, aligned, {"alignment": record, "pixel_spacing": xray_spacing.record() if xray_spacing else None})
    height, width = x_mixed.shape[:2]
    print(
        f"Aligned {args.rgb} ({photo.shape[0]}×{photo.shape[1]}) to {args.xray} ({alignment.describe()}) → {args.out} "
        f"({height}×{width}, the X-ray's grid)",
        file=sys.stderr,
    )
    return 0


def _point(yx: np.ndarray) -> str:
    return f"({yx[0]:.1f}, {yx[1]:.1f})"


THREAD_FILES = ("threads.json", "threads.csv")


def command_weave(args: argparse.Namespace) -> int:
    """Thread counts of the weave in ``args.image`` (:func:`~napari_xraysep.core.threads.count_threads`), printed,
    and with ``--out`` written as threads.json (whole painting), threads.csv (the maps, a row per
    window) and one density map TIFF per family of threads."""
    path = Path(args.image)
    if path.is_dir():
        path = path / "weave.tif"
        if not path.is_file():
            raise InputError(f"{args.image} holds no weave.tif; give a separation's results folder or an image.")
    source = open_image(path)
    if len(source.shape) != 2:
        raise InputError(f"{path.name} is a colour image; thread counting reads a grayscale weave layer or radiograph.")
    spacing = chosen_spacing(args.pixel_size, source.info, path.name)
    try:
        window_mm = parse_pixel_size(args.window)  # the same units as a pixel size: '15mm', '1.5cm'
    except InputError as error:
        raise InputError(f"--window {args.window!r} is not a positive length such as 15mm or 1.5cm.") from error
    counts = count_threads(np.asarray(source), None if spacing is None else spacing.mm, window_mm)
    where = f" ({spacing.describe()})" if spacing else ""
    print(f"Thread count of {path}{where}, over windows of {counts.window_px} px:\n{counts.summary()}")
    if args.out is None:
        return 0
    out = Path(args.out)
    names = [*THREAD_FILES, *(f"{family.name.replace(' ', '_')}_density.tif" for family in counts.families)]
    clashes = [name for name in names if (out / name).exists()]
    if clashes and not args.overwrite:
        raise InputError(f"{out} already holds {', '.join(clashes)}; choose another --out or pass --overwrite.")
    out.mkdir(parents=True, exist_ok=True)
    record = {"image": str(path), "pixel_spacing": spacing.record() if spacing else None, **counts.to_dict()}
    atomic_write(out / "threads.json", lambda tmp: Path(tmp).write_text(json.dumps(record, indent=2)))
    rows = counts.map_rows()
    header = "row_px,col_px,family,density,angle_deg"
    lines = [header, *(f"{r['row_px']},{r['col_px']},{r['family']},{r['density']:.4f},{r['angle_deg']:.3f}" for r in rows)]
    atomic_write(out / "threads.csv", lambda tmp: Path(tmp).write_text("\n".join(lines) + "\n"))
    for family in counts.families:
        write_tiff(out / f"{family.name.replace(' ', '_')}_density.tif", family.density_map,
                   {"thread_family": family.name, "unit": counts.unit, "map_step_px": family.step, **record})
    print(f"Written to {out}: {', '.join(names)}", file=sys.stderr)
    return 0


def command_demo(args: argparse.Namespace) -> int:
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


