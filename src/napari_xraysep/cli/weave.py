"""``xraysep weave``: thread counts of a canvas weave (a separation's weave layer or a radiograph),
printed, and with ``--out`` written as threads.json, threads.csv and one density map TIFF per family.

Apart from :mod:`.commands` because it reads one image and runs no separation
(:func:`~napari_xraysep.core.threads.count_threads` does the work). Imported once a command runs.
"""

from __future__ import annotations

import argparse
import json
import sys
import warnings
from pathlib import Path

import numpy as np

from ..core.errors import InputError
from ..core.threads import (
    COUNT_FILES, DEFAULT_WINDOW_MM, DEFAULT_WINDOW_PX, THREAD_TABLES, count_threads, density_map_name, is_bare_number,
    parse_length,
)
from ..io import open_image, read_provenance, write_tiff
from ..io.spacing import PixelSpacing
from ..io.files import atomic_write
from ..io.spacing import chosen_spacing




# A separation's layers with the weave taken out (or never in): only faint leftovers of it remain,
# whose harmonics a count would read as threads (x2: twice the true density, at a slant).
WEAVELESS_LAYERS = ("x1", "x2", "x1_hat", "x2_hat", "error_map", "exposure", "stretcher")


def command_weave(args: argparse.Namespace) -> int:
    """Thread counts of the weave in ``args.image`` (:func:`~napari_xraysep.core.threads.count_threads`), printed,
    and with ``--out`` written as threads.json (whole painting), threads.csv (the maps, a row per
    window) and one density map TIFF per family of threads."""
    path = Path(args.image)
    if path.is_dir():
        path = path / "weave.tif"
        if not path.is_file():
            raise InputError(f"{args.image} holds no weave.tif; give a separation's results folder or an image.")
    out = None if args.out is None else Path(args.out)
    earlier = _earlier_counts(out, args.overwrite)  # refused before counting, not after
    layer = (read_provenance(path) or {}).get("layer")
    if layer in WEAVELESS_LAYERS:  # counting its leftovers would invent threads
        raise InputError(
            f"{path.name} is a separation's {layer} layer, which holds no weave (it is in the weave layer): "
            "count the threads on weave.tif (give the results folder) or on the X-ray."
        )
    source = open_image(path)
    if len(source.shape) != 2:
        raise InputError(f"{path.name} is a colour image; thread counting reads a grayscale weave layer or radiograph.")
    spacing = chosen_spacing(args.pixel_size, source.info, path.name)
    window = args.window or f"{DEFAULT_WINDOW_MM:g}mm"
    try:
        window_mm = parse_length(window)  # the same units as a pixel size: '15mm', '1.5cm'
    except InputError as error:
        raise InputError(f"--window {window!r} is not a positive length such as 15mm or 1.5cm.") from error
    if is_bare_number(window):  # '128' may mean pixels as much as mm
        raise InputError(f"--window {window!r} has no unit: give it as a length such as 15mm or 1.5cm.")
    if window.strip().lower().endswith(("dpi", "ppi")):  # a pixel size's unit, not a window's length
        raise InputError(f"--window {window!r} is a resolution, not a length: give it such as 15mm or 1.5cm.")
    if spacing is None and args.window is not None:
        # A length cannot be turned into pixels without the spacing: say so rather than count silently
        # over windows the user did not ask for.
        warnings.warn(
            f"--window {args.window} needs the pixel size, which {path.name} does not record: counted over windows "
            f"of {DEFAULT_WINDOW_PX} px instead; give --pixel-size to count over {args.window}.",
            UserWarning, stacklevel=1,
        )
    counts = count_threads(np.asarray(source), None if spacing is None else spacing.mm, window_mm)
    where = f" ({spacing.describe()})" if spacing else ""
    summary = counts.summary("give it (e.g. --pixel-size 0.085mm) for threads/cm")
    print(f"Thread count of {path}{where}, over windows of {counts.window_px} px:\n{summary}")
    if out is None:
        return 0
    names = [*THREAD_TABLES, *(density_map_name(family.name) for family in counts.families)]
    out.mkdir(parents=True, exist_ok=True)
    record = {"image": str(path), "pixel_spacing": spacing.record() if spacing else None, **counts.to_dict()}
    atomic_write(out / "threads.json", lambda tmp: Path(tmp).write_text(json.dumps(record, indent=2)))
    rows = counts.map_rows()
    header = "row_px,col_px,family,density,angle_deg"
    lines = [header, *(f"{r['row_px']},{r['col_px']},{r['family']},{r['density']:.4f},{r['angle_deg']:.3f}" for r in rows)]
    atomic_write(out / "threads.csv", lambda tmp: Path(tmp).write_text("\n".join(lines) + "\n"))
    for family in counts.families:
        # The map's own cell size in its resolution tags (it is one value per step² pixels of the image):
        # with the image's, other software measured a 37 × 26 mm map as 1.0 × 0.7 mm (a tester's finding).
        cell = None if spacing is None else PixelSpacing(
            (spacing.mm[0] * family.step, spacing.mm[1] * family.step), f"{spacing.source}, × {family.step} px a cell"
        )
        write_tiff(out / density_map_name(family.name), family.density_map, {
            "thread_family": family.name, "unit": counts.unit, "map_step_px": family.step, **record,
            "image_pixel_spacing": record["pixel_spacing"], "pixel_spacing": cell.record() if cell else None,
        })
    stale = [name for name in earlier if name not in names]
    for name in stale:  # an earlier count's map of a family not found this time would pass for this count's
        (out / name).unlink(missing_ok=True)
    if stale:
        warnings.warn(
            f"Removed from {out} the earlier count's {', '.join(stale)}: no such family this time.",
            UserWarning, stacklevel=1,
        )
    if not args.quiet:
        print(f"Written to {out}: {', '.join(names)}", file=sys.stderr)
    return 0


def _earlier_counts(out: Path | None, overwrite: bool) -> list[str]:
    """The files of an earlier thread count in ``out`` (what ``--out`` would replace); raises InputError
    when ``out`` is a file, or holds an earlier count and ``overwrite`` is not given."""
    if out is None or not out.exists():
        return []
    if not out.is_dir():
        raise InputError(f"--out {out} is a file, not a folder.")
    # Only the files a count writes: a map of the user's own (Pb_density.tif) is not a count's.
    earlier = [name for name in COUNT_FILES if (out / name).exists()]
    if earlier and not overwrite:
        raise InputError(f"{out} already holds {', '.join(earlier)}; choose another --out or pass --overwrite.")
    return earlier
