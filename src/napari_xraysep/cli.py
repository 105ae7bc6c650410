"""The ``xraysep`` command: a thin face over :mod:`napari_xraysep.core`.

A user's mistake prints one line (``xraysep: error: …``) and exits with status 2; only a bug shows a
traceback.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import sys
import threading
import time
import warnings
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from ._version import __version__
from .core import (
    RESULT_LAYERS,
    SeparationConfig,
    TrainedModel,
    XraySepError,
    load_model,
)
from .core.data import BoxRegion, check_pair, check_rgb_shape, check_xray_shape, missing_filled
from .core.errors import InputError
from .core.files import atomic_write
from .core.registration import (
    CONFIDENT,
    MAX_PAIR_ERROR_PX,
    aligned_photo,
    apply_transform,
    estimate_similarity,
    estimate_translation,
    fit_transform,
    misalignment_warning,
)
from .core.separation import defects_line, drive, resolve_config
from .core.sources import Sources
from .core.streaming import apply_dask
from .demo import run_demo
from .io import ImageSource, open_image, result_tiffs, write_results, write_tiff
from .painting import is_large, iter_apply_to_folder, iter_separate_painting, painting_area, painting_mask
from .terminal import ProgressBar, run_separation, stop_on_first_interrupt

EXIT_USER_ERROR = 2
# --preset: every setting at once (default: the benchmarked default, or a given model's settings).
PRESETS = {"default": SeparationConfig, "autoencoder": SeparationConfig.autoencoder, "paper": SeparationConfig.paper}


def prepare_output_dir(out: Path, overwrite: bool) -> Path:
    """Make sure results can be written to ``out`` before any training time is spent."""
    if out.exists() and not out.is_dir():
        raise InputError(f"--out {out} is a file, not a folder.")
    if out.is_dir() and any(out.iterdir()) and not overwrite:
        raise InputError(f"--out {out} is not empty; choose a new folder or pass --overwrite to replace its results.")
    try:
        out.mkdir(parents=True, exist_ok=True)
        probe = out / ".xraysep-write-test"
        probe.write_bytes(b"")
        probe.unlink()
    except OSError as error:
        raise InputError(f"Cannot write to --out {out}: {error.strerror or error}.") from error
    return out


def parse_box(text: str) -> list[float]:
    try:
        values = [float(v) for v in text.split(",")]
    except ValueError as error:
        raise argparse.ArgumentTypeError(f"expected Y0,X0,Y1,X1 in pixels; got {text!r}") from error
    if len(values) != 4:
        raise argparse.ArgumentTypeError(f"expected four numbers Y0,X0,Y1,X1; got {text!r}")
    return values


def parse_painting_area(text: str) -> str | list[float] | Path:
    """``full``, a box ``Y0,X0,Y1,X1`` or a mask file's path."""
    if text.strip().lower() == "full":
        return "full"
    if "," in text and not Path(text).exists():
        return parse_box(text)
    return Path(text)


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


def parse_setting(text: str) -> tuple[str, Any]:
    """``NAME=VALUE`` with VALUE read as a number or true/false when it is one (``channels=16``,
    ``warm_start=true``, ``mode=paper``)."""
    name, sep, raw = text.partition("=")
    if not sep or not name:
        raise argparse.ArgumentTypeError(f"expected NAME=VALUE; got {text!r}")
    if raw.strip().lower() in ("true", "false"):
        return name.strip().replace("-", "_"), raw.strip().lower() == "true"
    for convert in (int, float):
        try:
            return name.strip().replace("-", "_"), convert(raw)
        except ValueError:
            pass
    return name.strip().replace("-", "_"), raw


def _config_from_args(args: argparse.Namespace) -> dict[str, Any]:
    """Settings the user typed (None means: keep the preset's or the model's); named options win."""
    given = dict(args.set or [])
    given |= {
        "steps": args.steps,
        "seed": args.seed,
        "device": args.device,
        "mode": getattr(args, "mode", None),
        "exclusion_weight": getattr(args, "exclusion_weight", None),
        "warm_start": getattr(args, "warm_start", None),
    }
    return {name: value for name, value in given.items() if value is not None}


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


def command_separate(args: argparse.Namespace) -> int:
    if not args.checkpoint_every > 0:
        raise InputError(f"--checkpoint-every must be a positive number of minutes; got {args.checkpoint_every}.")
    out = prepare_output_dir(Path(args.out), args.overwrite)
    sources, files = open_sources(args)
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
    if region is None and not sources.double_sided and resolved.method == "autoencoder" and resolved.training_steps:
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
    if is_large(sources.x_mixed.shape):
        return separate_painting(
            args, out, sources, region, config, settings, model, {"inputs": inputs, "input_files": files}, area
        )
    x_mixed, rgb_surface = np.asarray(sources.x_mixed), np.asarray(sources.rgb_surface)
    warning = misalignment_warning(*map(missing_filled, check_pair(x_mixed, rgb_surface)))
    if warning:
        warnings.warn(f"{warning} (xraysep align)", UserWarning, stacklevel=1)
    # Checkpoints go where the final model will be: a crash leaves the latest one in --out.
    result = run_separation(
        x_mixed, rgb_surface, None if region is None else np.asarray(region), config, settings, model, args.quiet,
        rgb_back=None if sources.rgb_back is None else np.asarray(sources.rgb_back), mirror_back=args.mirror_back,
        checkpoint=out / "model.pt", checkpoint_every_s=60 * args.checkpoint_every,
        side_channels=[np.asarray(side) for side in sources.side_channels],
        painting_area=np.asarray(area) if isinstance(area, ImageSource) else area,
    )
    print_notes(result, args.quiet)
    write_results(out, result, {"inputs": inputs, "input_files": files})
    if not args.quiet:
        print(f"Wrote {', '.join(RESULT_LAYERS)}, model.pt and run.json to {out}", file=sys.stderr)
    return 0


def separate_painting(
    args: argparse.Namespace,
    out: Path,
    sources: Sources,
    region: Any,
    config: SeparationConfig | None,
    settings: dict[str, Any],
    model: TrainedModel | None,
    record: dict[str, Any],
    support_area: Any = None,
) -> int:
    """``separate`` on an image too large for memory (is_large): trained on the area around the region
    (or the central area), then applied tile by tile into --out, as the widget's whole-painting path;
    ``support_area`` is the --painting-area (None, "full", a box or a lazy mask)."""
    shape = sources.check()
    area = painting_area(shape, region, sources.double_sided)
    cropped = sources.crop(area)
    warning = misalignment_warning(*map(missing_filled, check_pair(cropped.x_mixed, cropped.rgb_surface)))
    if warning:
        warnings.warn(f"{warning} (xraysep align)", UserWarning, stacklevel=1)
    stop = threading.Event()
    started = time.perf_counter()
    steps = iter_separate_painting(
        sources, out, region_mask=region, config=config, model=model, stop=stop, area=area, pyramid=False,
        provenance={"software": {"napari-xraysep": __version__}, **record}, checkpoint=out / "model.pt",
        checkpoint_every_s=60 * args.checkpoint_every, painting_area=support_area, **settings,
    )
    with stop_on_first_interrupt(stop), contextlib.closing(ProgressBar()) as bar:
        result = drive(steps, None if args.quiet else bar)
    print_notes(result, args.quiet)
    record |= result.provenance() | {"timings_s": {"total_s": time.perf_counter() - started}, "shape": list(shape)}
    if result.area_result is not None:
        record["loss_history"] = result.model.loss_history
    atomic_write(out / "run.json", lambda tmp: Path(tmp).write_text(json.dumps(record, indent=2, default=str)))
    if result.paths is None:
        raise InputError(
            f"Stopped before the whole painting was separated; the model is saved in {out / 'model.pt'} "
            "(xraysep apply applies it to the painting)."
        )
    if not args.quiet:
        print(f"Wrote {', '.join(RESULT_LAYERS)}, model.pt and run.json to {out} (trained on the area "
              f"{record['training_area']}, applied tile by tile)", file=sys.stderr)
    return 0


def command_apply(args: argparse.Namespace) -> int:
    """A trained model over a whole painting, tile by tile: memory stays bounded whatever its size."""
    if args.tile is not None and args.tile < 1:
        raise InputError(f"--tile must be at least 1 pixel; got {args.tile}.")
    out = prepare_output_dir(Path(args.out), args.overwrite)
    model = load_model(args.model)
    sources, files = open_sources(args)
    device = args.device or "auto"
    provenance = {
        "applied_model": str(args.model),
        "settings": model.config.to_dict(),
        "steps_trained": model.steps_trained,
        "x_normalisation": model.x_normalisation.to_dict(),
        "software": {"napari-xraysep": __version__},
        "inputs": {
            "xray": str(args.xray), "rgb": str(args.rgb), "rgb_back": str(args.rgb_back) if args.rgb_back else None,
            "side_channels": [str(path) for path in args.side or []],
        },
        "input_files": files,
        "mirror_back": args.mirror_back,
        "painting_area": str(args.painting_area) if isinstance(args.painting_area, Path) else args.painting_area,
    }
    started = time.perf_counter()
    if args.dask is not None:
        import dask.array as da

        lazy = apply_dask(model, sources, tile_size=args.tile, device="cpu" if device == "auto" else device)
        names = list(lazy)
        with result_tiffs(out, tuple(sources.x_mixed.shape[:2]), provenance) as outputs:
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
            model, sources, out, tile_size=args.tile, device=device, stop=stop, provenance=provenance,
            support=painting_mask(painting_area_of(args, tuple(sources.x_mixed.shape[:2])), tuple(sources.x_mixed.shape[:2])),
            marked=marked,
        )
        with stop_on_first_interrupt(stop), contextlib.closing(ProgressBar()) as bar:
            paths = drive(tiles, None if args.quiet else bar)
        if paths is None:
            raise InputError("Stopped before every tile was done; no result was written.")
        provenance["defects_marked"] = marked
        line = defects_line(marked)
        if line and not args.quiet:
            print(f"xraysep: {line}", file=sys.stderr)
    record = {**provenance, "timings_s": {"apply_s": time.perf_counter() - started}, "shape": list(sources.x_mixed.shape[:2])}
    atomic_write(out / "run.json", lambda tmp: Path(tmp).write_text(json.dumps(record, indent=2, default=str)))
    if not args.quiet:
        print(f"Wrote {', '.join(RESULT_LAYERS)} and run.json to {out}", file=sys.stderr)
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
        estimate = estimate_translation if args.transform == "translation" else estimate_similarity
        alignment = estimate(x_mixed, photo)
        if alignment.confidence < CONFIDENT:
            warnings.warn(
                f"The automatic alignment is uncertain (only {alignment.confidence:.0%} of the regions agree); check it, "
                "or give --points.", UserWarning, stacklevel=1,
            )
    else:
        raise InputError(f"A {args.transform} transform needs point pairs: --points PAIRS.csv.")
    aligned = aligned_photo(photo, alignment, x_mixed.shape[:2])
    record = {
        "transform": alignment.kind, "matrix_xy": alignment.matrix.tolist(), "scale": alignment.scale,
        "rotation_deg": alignment.rotation_deg, "residual_px": alignment.residual_px,
        "regions_agreeing": alignment.confidence, "rejected_pairs": [i + 1 for i in alignment.rejected],
        "xray": str(args.xray), "rgb": str(args.rgb), "photo_shape": list(photo.shape[:2]),
    }
    write_tiff(args.out, aligned, {"alignment": record})
    height, width = x_mixed.shape[:2]
    print(
        f"Aligned {args.rgb} ({photo.shape[0]}×{photo.shape[1]}) to {args.xray} ({alignment.describe()}) → {args.out} "
        f"({height}×{width}, the X-ray's grid)",
        file=sys.stderr,
    )
    return 0


def _point(yx: np.ndarray) -> str:
    return f"({yx[0]:.1f}, {yx[1]:.1f})"


def command_demo(args: argparse.Namespace) -> int:

    out = prepare_output_dir(Path(args.out), args.overwrite)
    settings = _config_from_args(args)
    report = run_demo(out, settings, quiet=args.quiet)
    print(report)
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="xraysep",
        description="Separate the X-ray of a painting with a concealed design into surface and hidden X-rays.",
    )
    parser.add_argument("--version", action="version", version=f"napari-xraysep {__version__}")
    commands = parser.add_subparsers(dest="command", required=True)

    def common(sub: argparse.ArgumentParser) -> None:
        sub.add_argument("--out", required=True, type=Path, help="folder for the results (must be new or empty)")
        sub.add_argument("--overwrite", action="store_true", help="replace results in a non-empty --out")
        sub.add_argument(
            "--steps", type=int,
            help="optimisation steps (default: 12 colour-map solves or 200 auto-encoder steps; 0: only apply --model)",
        )
        sub.add_argument("--seed", type=int, help="random seed (runs are repeatable on the CPU)")
        sub.add_argument("--device", help="auto (default), cpu, cuda, cuda:N or mps")
        sub.add_argument("--quiet", action="store_true", help="no progress bar")
        sub.add_argument(
            "--warm-start", action=argparse.BooleanOptionalAction, default=None,
            help="start from the shipped weights trained on double-sided panels (paper Fig. 3; on by default)",
        )
        sub.add_argument(
            "--set", type=parse_setting, action="append", metavar="NAME=VALUE",
            help="any other setting, e.g. --set channels=16 --set learning_rate=0.002 (see docs/cli.md)",
        )

    separate_cmd = commands.add_parser("separate", help="separate a mixed X-ray given the surface photograph")
    separate_cmd.add_argument("xray", type=Path, help="mixed X-ray: TIFF (any compression), PNG or DICOM; grayscale, 8/16-bit or float")
    separate_cmd.add_argument("rgb", type=Path, help="surface photograph (TIFF, JPEG or PNG), registered to the X-ray")
    region = separate_cmd.add_mutually_exclusive_group()
    region.add_argument(
        "--region-mask", type=Path,
        help="TIFF mask, non-zero where the hidden design shows most (needed by the auto-encoder presets)",
    )
    region.add_argument("--region", type=parse_box, action="append", metavar="Y0,X0,Y1,X1", help="rectangle(s) in pixels, end exclusive; repeatable")
    separate_cmd.add_argument("--mode", choices=("fast", "paper"), help="sampling: fast (default) or the paper's patch grid")
    separate_cmd.add_argument(
        "--preset", choices=tuple(PRESETS),
        help="all settings: default (the colour map, the benchmark's best), autoencoder (the connected "
        "auto-encoder as napari-xraysep 0.1 ran it) or paper (the auto-encoder as the paper states it)",
    )
    separate_cmd.add_argument("--exclusion-weight", type=float, help="auto-encoder: λ, weight of the exclusion loss")
    separate_cmd.add_argument(
        "--model", type=Path,
        help="a saved model.pt: with --steps 0 only applied; otherwise continued (auto-encoder) or refitted "
        "with its settings (colour map)",
    )
    separate_cmd.add_argument(
        "--rgb-back", type=Path, metavar="BACK",
        help="double-sided panel: photograph of the back side, registered to the X-ray (no region needed)",
    )
    separate_cmd.add_argument(
        "--side", type=Path, action="append", metavar="MAP.tif",
        help="an extra registered single-channel map (infrared, an XRF element map such as Cu-K) the surface "
        "encoder reads beside the RGB; repeatable",
    )
    separate_cmd.add_argument(
        "--painting-area", type=parse_painting_area, metavar="Y0,X0,Y1,X1|MASK.tif|full",
        help="where the painting is in the frame (default: found in the X-ray; outside it the results are empty): "
        "a rectangle in pixels (end exclusive), a mask file (non-zero inside), or full (the whole frame)",
    )
    separate_cmd.add_argument(
        "--checkpoint-every", type=float, default=5.0, metavar="MINUTES",
        help="save the model to OUT/model.pt this often while training (default 5), so a crash loses little",
    )
    separate_cmd.add_argument(
        "--mirror-back", action="store_true", help="the back photograph was taken from behind: mirror it left-right first"
    )
    common(separate_cmd)
    separate_cmd.set_defaults(handler=command_separate)

    apply_cmd = commands.add_parser(
        "apply", help="apply a trained model to a whole painting, tile by tile (bounded memory)"
    )
    apply_cmd.add_argument("model", type=Path, help="model.pt from a separate run")
    apply_cmd.add_argument("xray", type=Path, help="mixed X-ray of the whole painting (a TIFF is read tile by tile)")
    apply_cmd.add_argument("rgb", type=Path, help="surface photograph, registered to the X-ray")
    apply_cmd.add_argument("--out", required=True, type=Path, help="folder for the results (must be new or empty)")
    apply_cmd.add_argument("--overwrite", action="store_true", help="replace results in a non-empty --out")
    apply_cmd.add_argument("--rgb-back", type=Path, metavar="BACK", help="double-sided panel: the back side's photograph")
    apply_cmd.add_argument("--mirror-back", action="store_true", help="the back photograph was taken from behind")
    apply_cmd.add_argument(
        "--side", type=Path, action="append", metavar="MAP.tif",
        help="a side channel the model was trained with (same maps, same order); repeatable",
    )
    apply_cmd.add_argument(
        "--painting-area", type=parse_painting_area, metavar="Y0,X0,Y1,X1|MASK.tif|full",
        help="where the painting is (a rectangle in pixels, end exclusive, or a mask file): outside it the results are empty",
    )
    apply_cmd.add_argument("--tile", type=int, help="tile side in pixels (default: the model's tile_size)")
    apply_cmd.add_argument("--device", help="auto (default), cpu, cuda, cuda:N or mps")
    apply_cmd.add_argument(
        "--dask", nargs="?", const="", metavar="ADDRESS",
        help="compute with dask: the local threads, or a distributed scheduler at ADDRESS",
    )
    apply_cmd.add_argument("--quiet", action="store_true", help="no progress")
    apply_cmd.set_defaults(handler=command_apply)

    align_cmd = commands.add_parser(
        "align", help="register the photograph to the X-ray and resample it onto the X-ray's grid (any pixel size)"
    )
    align_cmd.add_argument("xray", type=Path, help="mixed X-ray (the reference): TIFF, PNG or DICOM")
    align_cmd.add_argument("rgb", type=Path, help="photograph to align (any size and pixel size): TIFF, JPEG or PNG")
    align_cmd.add_argument("--out", required=True, type=Path, help="the aligned photograph (TIFF, the X-ray's size)")
    align_cmd.add_argument("--overwrite", action="store_true", help="replace --out if it exists")
    align_cmd.add_argument(
        "--transform", choices=("translation", "similarity", "affine", "projective"), default="similarity",
        help="without --points: similarity (rotation + scale + shift, for photographs of any pixel size; the "
        "default) or translation (same size and pixel size), found from shared edges",
    )
    align_cmd.add_argument("--points", type=Path, metavar="PAIRS.csv", help="rows photo_y,photo_x,xray_y,xray_x")
    align_cmd.add_argument(
        "--max-pair-error", type=float, default=MAX_PAIR_ERROR_PX, metavar="PX",
        help=f"a point pair further than this from the fit of the others (X-ray px) is left out (default {MAX_PAIR_ERROR_PX:g})",
    )
    align_cmd.set_defaults(handler=command_align)

    demo_cmd = commands.add_parser("demo", help="run the whole job on the bundled synthetic sample")
    common(demo_cmd)
    demo_cmd.set_defaults(handler=command_demo)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)

    def show_warning(message, category, filename, lineno, file=None, line=None) -> None:
        print(f"xraysep: warning: {message}", file=sys.stderr)

    with warnings.catch_warnings():
        warnings.showwarning = show_warning
        try:
            return args.handler(args)
        except XraySepError as error:
            print(f"xraysep: error: {error}", file=sys.stderr)
            return EXIT_USER_ERROR
        except KeyboardInterrupt:
            print("xraysep: interrupted.", file=sys.stderr)
            return 130


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
