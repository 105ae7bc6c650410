"""``xraysep align``: register the photograph to the X-ray — from point pairs (a CSV) or automatically —
and write it resampled onto the X-ray's grid, with how it was aligned in the TIFF's record.

Apart from :mod:`.commands` because it shares nothing with a separation's run: it reads two images,
drives the core's registration (:mod:`napari_xraysep.core.registration`, :mod:`~napari_xraysep.core.pointpairs`,
:mod:`~napari_xraysep.core.warp`) and writes one file. Imported once a command runs, as :mod:`.commands` is.
"""

from __future__ import annotations

import argparse
import sys
import warnings
from pathlib import Path

import numpy as np

from ..core.alignment import alignment_record, apply_transform, size_words
from ..core.checks import check_rgb_shape, check_xray_shape
from ..core.edges import CONFIDENT
from ..core.errors import InputError, OutputError
from ..core.pointpairs import fit_transform
from ..core.registration import (
    MIRROR_UNSURE_NOTE,
    PERSPECTIVE_NOTE,
    check_estimable,
    check_scale_prior,
    corner_note,
    estimate_any_way_round,
    estimate_automatic,
    estimate_similarity,
    estimate_translation,
    refusal_hint,
    scale_prior_note,
)
from ..core.warp import aligned_photo, uncovered_share
from ..io import open_image, write_tiff
from ..io.files import check_writable, same_file
from ..io.spacing import chosen_spacing


POINT_COLUMNS = ("photo_y", "photo_x", "xray_y", "xray_x")


def _is_number(text: str) -> bool:
    try:
        float(text)
    except ValueError:
        return False
    return True


def read_point_pairs(path: Path) -> tuple[np.ndarray, np.ndarray]:
    """CSV rows ``photo_y,photo_x,xray_y,xray_x`` → two (N, 2) arrays (photograph's, X-ray's points). A
    header line naming these four columns may give them in any order (a tester's
    ``xray_y,xray_x,photo_y,photo_x`` was read as the photograph's: a fit 120 px off, "residual 0.00
    px"); a header naming other columns is refused."""
    try:
        lines = path.read_text(encoding="utf-8").splitlines()
    except OSError as error:
        raise InputError(f"Cannot read the point pairs {path}: {error.strerror or error}.") from error
    rows = [[value.strip() for value in line.split(",")] for line in lines if line.strip()]
    order = list(range(4))
    if rows and not all(_is_number(value) for value in rows[0]):  # a header line
        header = [name.lower() for name in rows.pop(0)]
        if sorted(header) != sorted(POINT_COLUMNS):
            raise InputError(
                f"{path}: its header names the columns {','.join(header)}; they must be {','.join(POINT_COLUMNS)} "
                "(in any order), or no header and the numbers in that order."
            )
        order = [header.index(name) for name in POINT_COLUMNS]
    try:
        values = np.array([[float(v) for v in row] for row in rows])
    except ValueError as error:
        raise InputError(f"{path}: every row must be four numbers {','.join(POINT_COLUMNS)} ({error}).") from error
    if values.ndim != 2 or values.shape[1] != 4:
        raise InputError(f"{path}: every row must be four numbers {','.join(POINT_COLUMNS)}.")
    values = values[:, order]
    return values[:, :2], values[:, 2:]


def command_align(args: argparse.Namespace) -> int:
    """Register the photograph to the X-ray — from point pairs, or automatically from shared edges,
    whatever its pixel size — and resample it onto the X-ray's grid."""
    if Path(args.out).is_dir():
        raise InputError(f"{args.out} is a folder; --out is the aligned photograph's file name (e.g. {Path(args.out) / 'photo-aligned.tif'}).")
    if Path(args.out).suffix.lower() not in (".tif", ".tiff"):
        raise InputError(f"The aligned photograph is written as a TIFF: give --out a name ending in .tif (got {args.out}).")
    if Path(args.out).exists() and not args.overwrite:
        raise InputError(f"{args.out} exists; choose a new file name or pass --overwrite.")
    check_writable(args.out, "--out")  # before the work: a folder that cannot be made was said only after it
    for what, path in (("the X-ray", args.xray), ("the photograph", args.rgb), ("the point pairs", args.points)):
        if path is not None and same_file(path, args.out):
            raise InputError(f"--out {args.out} is {what} this run reads; choose another file name for the aligned photograph.")
    if not args.max_pair_error > 0:
        raise InputError(f"--max-pair-error must be a positive number of pixels; got {args.max_pair_error}.")
    # Read lazily where the file allows it: the estimate reads reduced copies, the warp one block at a time.
    x_mixed, photo = open_image(args.xray), open_image(args.rgb)
    check_xray_shape(x_mixed.shape)
    # The aligned copy is what a separation reads: align registers the colour photograph, not a gray one.
    check_rgb_shape(photo.shape, "photograph", needed_by="xraysep align registers")
    if photo.shape[2] == 4:
        warnings.warn("The photograph has an alpha channel; it is ignored.", UserWarning, stacklevel=1)
    # The aligned photograph lies on the X-ray's grid, so it has the X-ray's spacing; with both files'
    # spacings known, their ratio is the first guess of the scale.
    xray_spacing = chosen_spacing(args.pixel_size, x_mixed.info, Path(args.xray).name)
    photo_spacing = chosen_spacing(args.photo_pixel_size, photo.info, Path(args.rgb).name)
    scale_prior = photo_spacing.mean_mm / xray_spacing.mean_mm if xray_spacing and photo_spacing else None
    if args.transform in ("auto", "similarity") and not args.points:
        check_scale_prior(scale_prior, photo.shape, x_mixed.shape)
    if args.points:
        photo_points, xray_points = read_point_pairs(args.points)
        kind = "similarity" if args.transform == "auto" else args.transform
        alignment = fit_transform(photo_points, xray_points, kind, args.max_pair_error)
        for index in alignment.rejected:
            off = np.linalg.norm(apply_transform(alignment.matrix, photo_points[index : index + 1])[0] - xray_points[index])
            warnings.warn(
                f"Point pair {index + 1} (photo {_point(photo_points[index])} → X-ray {_point(xray_points[index])}) lies "
                f"{off:.1f} px from where the other pairs put it; it was left out.", UserWarning, stacklevel=1,
            )
    elif args.transform in ("auto", "translation", "similarity"):
        if args.transform == "translation":
            estimate = estimate_translation
        else:
            found = estimate_automatic if args.transform == "auto" else estimate_similarity

            def estimate(x, p):  # the two files' spacings, where known, as a first guess of the scale
                return found(x, p, scale_prior)
        check_estimable(x_mixed.shape, photo.shape, translation=args.transform == "translation")  # refused before said
        _say(args, f"estimating the alignment from reduced copies of the X-ray ({size_words(x_mixed.shape)}) and the "
                   f"photograph ({size_words(photo.shape)})…")
        alignment = estimate_any_way_round(x_mixed, photo, estimate)
        if alignment.confidence < CONFIDENT:
            uncertain = f"the automatic alignment failed its check: only {alignment.confidence:.0%} of the regions of the painting agree with it"
            if not args.force:
                hint = refusal_hint(alignment, scale_prior)
                raise InputError(
                    f"Nothing written: {uncertain} (its best guess, refused: {alignment.describe()}); give --points, or "
                    f"--force to write it anyway.{' ' + hint if hint else ''}"
                )
            warnings.warn(f"Written because of --force, though {uncertain}.", UserWarning, stacklevel=1)
        if alignment.mirror_unsure:
            warnings.warn(MIRROR_UNSURE_NOTE, UserWarning, stacklevel=1)
        if alignment.mirrored:
            warnings.warn(
                "The photograph matches the X-ray mirrored left–right (a radiograph viewed from the back?); the aligned "
                "copy is mirrored to match it.", UserWarning, stacklevel=1,
            )
    else:
        raise InputError(f"A {args.transform} transform needs point pairs: --points PAIRS.csv.")
    if note := scale_prior_note(alignment, scale_prior):
        warnings.warn(note, UserWarning, stacklevel=1)
    if not args.points and (note := corner_note(alignment)):
        warnings.warn(note[0].upper() + note[1:], UserWarning, stacklevel=1)
    _say(args, f"resampling the photograph onto the X-ray's grid ({size_words(x_mixed.shape)})…")
    aligned = aligned_photo(photo, alignment, x_mixed.shape[:2])
    uncovered = uncovered_share(photo.shape, alignment, x_mixed.shape[:2])
    if uncovered:
        # Floored, so that a photograph a sliver short of the X-ray never "covers only 100%" of it.
        covered = f"{1 - uncovered:.0%}" if uncovered >= 0.005 else f"{np.floor((1 - uncovered) * 1000) / 10:.1f}%"
        warnings.warn(
            f"The photograph covers only {covered} of the X-ray; the rest is missing data (NaN in a float "
            "TIFF), which the separation leaves out.", UserWarning, stacklevel=1,
        )
    record = alignment_record(alignment) | {
        "xray": str(args.xray), "rgb": str(args.rgb), "photo_shape": list(photo.shape[:2]), "uncovered_share": uncovered,
    }
    if scale_prior is not None:
        record["scale_from_pixel_spacings"] = scale_prior
    try:
        Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    except OSError as error:
        raise OutputError(f"Cannot make the folder for {args.out}: {error.strerror or error}.") from error
    write_tiff(args.out, aligned, {"alignment": record, "pixel_spacing": xray_spacing.record() if xray_spacing else None})
    height, width = x_mixed.shape[:2]
    if args.quiet:
        return 0
    print(
        f"Aligned {args.rgb} ({photo.shape[0]}×{photo.shape[1]}) to {args.xray} ({alignment.describe()}) → {args.out} "
        f"({height}×{width}, the X-ray's grid)"
        + (f"; {PERSPECTIVE_NOTE}" if alignment.kind == "projective" and not args.points else ""),
        file=sys.stderr,
    )
    return 0


def _say(args: argparse.Namespace, line: str) -> None:
    """A line on stderr saying what ``align`` does next, unless --quiet: a 600-megapixel pair takes minutes."""
    if not args.quiet:
        print(f"xraysep: {line}", file=sys.stderr)


def _point(yx: np.ndarray) -> str:
    return f"({yx[0]:.1f}, {yx[1]:.1f})"
