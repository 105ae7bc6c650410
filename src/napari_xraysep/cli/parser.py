"""The ``xraysep`` command: a thin face over :mod:`napari_xraysep.core`.

A user's mistake prints one line (``xraysep: error: …``) and exits with status 2; only a bug shows a
traceback. The parser lives here and needs nothing heavy; the commands' work is in
:mod:`napari_xraysep.cli.commands` (and ``align``'s, ``weave``'s in :mod:`~napari_xraysep.cli.align`,
:mod:`~napari_xraysep.cli.weave`), imported once a command runs (``xraysep --help`` answers at once).
"""

from __future__ import annotations

import argparse
import re
import sys
import warnings
from collections.abc import Sequence
from pathlib import Path
from typing import Any, NoReturn

from .._version import __version__

EXIT_USER_ERROR = 2
PRESETS = ("default", "autoencoder", "paper")  # core.config.PRESETS's names (a test holds them equal; --help loads no core)
# --max-pair-error's default, as core.pointpairs.MAX_PAIR_ERROR_PX (a test holds them equal).
MAX_PAIR_ERROR_PX = 3.0


def parse_box(text: str) -> list[float]:
    try:
        values = [float(v) for v in text.split(",")]
    except ValueError as error:
        raise argparse.ArgumentTypeError(f"expected Y0,X0,Y1,X1 in pixels; got {text!r}") from error
    if len(values) != 4:
        raise argparse.ArgumentTypeError(f"expected four numbers Y0,X0,Y1,X1; got {text!r}")
    return values


def parse_painting_area(text: str) -> str | list[float] | Path:
    """``full``, a box ``Y0,X0,Y1,X1`` or a mask file's path (a word that names no file and has no
    extension is refused: ``auto`` or ``none`` is not read as a file name)."""
    if text.strip().lower() == "full":
        return "full"
    if "," in text and not Path(text).exists():
        return parse_box(text)
    if not Path(text).exists() and not Path(text).suffix:
        raise argparse.ArgumentTypeError(
            f"expected Y0,X0,Y1,X1 in pixels, a mask file or full; got {text!r} (no such file)"
        )
    return Path(text)


# Comma-separated numbers, the first negative: argparse takes "-5,-5,100,100" for an option.
_NEGATIVE_LIST = re.compile(r"-\d[\d.]*(,\s*-?\d[\d.]*)+")


def joined_negative_lists(argv: Sequence[str]) -> list[str]:
    """``argv`` with a value of comma-separated numbers that starts with a minus sign joined to the
    option before it (``--painting-area -5,-5,100,100`` → ``--painting-area=-5,-5,100,100``), which
    argparse would otherwise refuse as a missing argument."""
    joined: list[str] = []
    for token in argv:
        if joined and joined[-1].startswith("--") and "=" not in joined[-1] and _NEGATIVE_LIST.fullmatch(token):
            joined[-1] = f"{joined[-1]}={token}"
        else:
            joined.append(token)
    return joined


def parse_seams(text: str) -> str | list[tuple[str, int]]:
    """``auto``, ``none``, or a mosaic's seams ``row:1200,col:800,...`` (pixel indices) as
    ``[("row", 1200), ("col", 800)]`` (the core's Seam is not imported here: ``--help`` stays quick)."""
    words = text.strip().lower()
    if words in ("auto", "none"):
        return words
    seams = []
    for part in filter(None, (part.strip() for part in words.split(","))):
        axis, _, position = part.partition(":")
        if axis.strip() not in ("row", "col") or not position.strip().isdigit():
            raise argparse.ArgumentTypeError(f"expected auto, none or row:N,col:N,... (pixel indices); got {part!r}")
        seams.append((axis.strip(), int(position)))
    if not seams:
        raise argparse.ArgumentTypeError("expected auto, none or row:N,col:N,...; got no seam")
    return seams


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


class Parser(argparse.ArgumentParser):
    """argparse with the house's one-line errors: a mistyped option says what is wrong and where the
    options are listed, without the whole usage block."""

    def error(self, message: str) -> NoReturn:
        self.exit(EXIT_USER_ERROR, f"xraysep: error: {message} (`{self.prog} --help` lists the options)\n")


def build_parser() -> argparse.ArgumentParser:
    parser = Parser(
        prog="xraysep",
        description="Separate the X-ray of a painting with a concealed design into surface and hidden X-rays.",
    )
    parser.add_argument("--version", action="version", version=f"napari-xraysep {__version__}")
    commands = parser.add_subparsers(dest="command", required=True)

    def common(sub: argparse.ArgumentParser, steps_zero: str = "") -> None:
        sub.add_argument("--out", required=True, type=Path, help="folder for the results (must be new or empty)")
        sub.add_argument("--overwrite", action="store_true", help="replace results in a non-empty --out")
        sub.add_argument(
            "--steps", type=int,
            help=f"optimisation steps (default: 12 colour-map solves or 200 auto-encoder steps{steps_zero})",
        )
        sub.add_argument("--seed", type=int, help="random seed (runs are repeatable on the CPU)")
        sub.add_argument("--device", help="auto (default), cpu, cuda, cuda:N or mps")
        sub.add_argument(
            "--quiet", action="store_true",
            help="no progress bar and no lines saying what was found or written (run.json records them; warnings "
            "and errors are still said)",
        )
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
        help="mask image (TIFF, PNG, …) of the X-ray's size, non-zero where the hidden design shows most (needed by "
        "the auto-encoder presets)",
    )
    region.add_argument("--region", type=parse_box, action="append", metavar="Y0,X0,Y1,X1", help="rectangle(s) in pixels, end exclusive; repeatable")
    pixel_size_help = "the X-ray's pixel size (0.085mm, 85um, 300dpi): replaces the file's own, recorded in run.json"
    separate_cmd.add_argument("--pixel-size", metavar="SIZE", help=pixel_size_help)
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
        "--seams", type=parse_seams, default="auto", metavar="auto|none|row:N,col:N",
        help="a mosaic's film seams, each film's exposure taken out into exposure.tif: sought in what the photograph "
        "does not explain (auto, the default), not sought (none), or given as straight lines across the X-ray "
        "(row:N is between rows N-1 and N); in images over 36 megapixels sought in the x2 written, then applied again",
    )
    separate_cmd.add_argument(
        "--checkpoint-every", type=float, default=5.0, metavar="MINUTES",
        help="save the model to OUT/model.pt this often while training (default 5), so a crash loses little",
    )
    separate_cmd.add_argument(
        "--mirror-back", action="store_true", help="the back photograph was taken from behind: mirror it left-right first"
    )
    common(separate_cmd, steps_zero="; 0: only apply --model")
    separate_cmd.set_defaults(command="separate")

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
    apply_cmd.add_argument("--pixel-size", metavar="SIZE", help=pixel_size_help)
    apply_cmd.add_argument(
        "--painting-area", type=parse_painting_area, metavar="Y0,X0,Y1,X1|MASK.tif|full",
        help="where the painting is in the frame (default: found in the X-ray; outside it the results are empty): "
        "a rectangle in pixels (end exclusive), a mask file (non-zero inside), or full (the whole frame)",
    )
    apply_cmd.add_argument("--tile", type=int, help="tile side in pixels (default: the model's tile_size)")
    apply_cmd.add_argument("--device", help="auto (default), cpu, cuda, cuda:N or mps")
    apply_cmd.add_argument(
        "--dask", nargs="?", const="", metavar="ADDRESS",
        help="compute with dask: the local threads, or a distributed scheduler at ADDRESS",
    )
    apply_cmd.add_argument(
        "--layers", type=lambda text: [name.strip() for name in text.split(",") if name.strip()], metavar="x2,weave",
        help="write only these result layers (of x1_hat, x2_hat, error_map, x1, x2, weave; default all six)",
    )
    apply_cmd.add_argument(
        "--seams", type=parse_seams, default=None, metavar="auto|none|row:N,col:N",
        help="a mosaic's film seams: sought in the x2 written and the painting applied again with them taken out "
        "(auto: the default, as for separate, where x2 is among --layers and not with --dask), not sought (none), "
        "or given (row:N is between rows N-1 and N); each film's exposure is fitted over the whole X-ray and taken "
        "out into exposure.tif; not with --dask",
    )
    apply_cmd.add_argument(
        "--quiet", action="store_true",
        help="no progress and no lines saying what was found or written (run.json records them; warnings and "
        "errors are still said)",
    )
    apply_cmd.set_defaults(command="apply")

    align_cmd = commands.add_parser(
        "align", help="register the photograph to the X-ray and resample it onto the X-ray's grid (any pixel size)"
    )
    align_cmd.add_argument("xray", type=Path, help="mixed X-ray (the reference): TIFF, PNG or DICOM")
    align_cmd.add_argument("rgb", type=Path, help="photograph to align (any size and pixel size): TIFF, JPEG or PNG")
    align_cmd.add_argument("--out", required=True, type=Path, help="the aligned photograph (TIFF, the X-ray's size)")
    align_cmd.add_argument("--overwrite", action="store_true", help="replace --out if it exists")
    align_cmd.add_argument(
        "--transform", choices=("auto", "translation", "similarity", "affine", "projective"), default="auto",
        help="without --points: auto (the default: similarity — rotation + scale + shift, for photographs of any "
        "pixel size — and the perspective of a photograph taken at a slight angle where the painting shows one), "
        "similarity, or translation (same size and pixel size), found from shared edges; with --points: any but "
        "auto (auto: similarity)",
    )
    align_cmd.add_argument("--pixel-size", metavar="SIZE", help="the X-ray's pixel size (0.085mm, 85um, 300dpi), written into --out")
    align_cmd.add_argument(
        "--photo-pixel-size", metavar="SIZE", help="the photograph's pixel size: with the X-ray's, the first guess of the scale"
    )
    align_cmd.add_argument("--points", type=Path, metavar="PAIRS.csv", help="rows photo_y,photo_x,xray_y,xray_x")
    align_cmd.add_argument(
        "--max-pair-error", type=float, default=MAX_PAIR_ERROR_PX, metavar="PX",
        help=f"a point pair further than this from the fit of the others (X-ray px) is left out (default {MAX_PAIR_ERROR_PX:g})",
    )
    align_cmd.add_argument(
        "--force", action="store_true",
        help="write the automatic alignment even when fewer than half the regions of the painting agree with it",
    )
    align_cmd.add_argument(
        "--quiet", action="store_true", help="no stage or report line (warnings and errors are still said)"
    )
    align_cmd.set_defaults(command="align")

    weave_cmd = commands.add_parser(
        "weave", help="count the canvas's threads on the weave layer (or a radiograph): threads/cm and maps",
        description="Warp and weft densities and directions for the whole painting and local maps across it, read "
        "from the weave: a separation's weave.tif (or its results folder), or a radiograph.",
    )
    weave_cmd.add_argument("image", type=Path, help="weave.tif, a results folder holding one, or a grayscale radiograph")
    weave_cmd.add_argument("--pixel-size", metavar="SIZE", help="the image's pixel size (0.085mm, 85um, 300dpi), over its file's")
    weave_cmd.add_argument(
        "--window", metavar="SIZE", default=None,
        help="the side of the windows the maps average over (default 15mm; in pixels when the pixel size is unknown: 128)",
    )
    weave_cmd.add_argument("--out", type=Path, help="folder for threads.json, threads.csv and the density maps (TIFF)")
    weave_cmd.add_argument("--overwrite", action="store_true", help="replace those files in --out")
    weave_cmd.add_argument("--quiet", action="store_true", help="no line saying what was written (the counts are still printed)")
    weave_cmd.set_defaults(command="weave")

    demo_cmd = commands.add_parser("demo", help="run the whole job on the bundled synthetic sample")
    common(demo_cmd)
    demo_cmd.set_defaults(command="demo")
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(joined_negative_lists(sys.argv[1:] if argv is None else argv))
    # After parsing: --help and a mistyped option need none of the science.
    import signal

    try:  # torch and scipy take seconds to import: a Ctrl-C then is no traceback (a breaker's was)
        from ..core.errors import StoppedError, XraySepError
        from . import align, commands, weave
    except KeyboardInterrupt:
        print("xraysep: interrupted; no result was changed.", file=sys.stderr)
        return 130

    def show_warning(message, category, filename, lineno, file=None, line=None) -> None:
        print(f"xraysep: warning: {message}", file=sys.stderr)

    run = {
        "separate": commands.command_separate, "apply": commands.command_apply, "demo": commands.command_demo,
        "align": align.command_align, "weave": weave.command_weave,
    }
    with warnings.catch_warnings(), commands.terminate_cleanly():
        warnings.showwarning = show_warning
        try:
            return run[args.command](args)
        except StoppedError as error:  # a first Ctrl-C before there was anything to write
            print(f"xraysep: {error} No result was changed.", file=sys.stderr)
            return 130
        except XraySepError as error:
            print(f"xraysep: error: {error}", file=sys.stderr)
            return EXIT_USER_ERROR
        except KeyboardInterrupt:
            # (results are written as a set, renamed into place once whole: an interrupted run leaves the old)
            print("xraysep: interrupted; no result was changed.", file=sys.stderr)
            return 130
        except commands.Terminated:
            print("xraysep: terminated; no result was changed.", file=sys.stderr)
            return 128 + signal.SIGTERM
