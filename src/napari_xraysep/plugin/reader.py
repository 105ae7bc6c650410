"""napari reader: X-rays, photographs and masks through :mod:`napari_xraysep.io`, so napari shows the pixels the CLI
separates — TIFF (any compression, pyramids as multiscale layers), JPEG, PNG and DICOM, read lazily."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

from ..core.data import robust_range
from ..core.errors import XraySepError
from ..io import READABLE_SUFFIXES, open_levels
from ..io.spacing import spacing_of


def napari_get_reader(path: str | list[str]) -> Callable[[str | list[str]], list[tuple]] | None:
    """Claim the file kinds :func:`~napari_xraysep.io.open_image` reads (by name); anything else is left to other readers."""
    paths = [path] if isinstance(path, str) else list(path)
    if not paths or not all(str(p).lower().endswith(READABLE_SUFFIXES) for p in paths):
        return None
    return read_images


def read_images(path: str | list[str]) -> list[tuple[Any, dict[str, Any], str]]:
    paths = [path] if isinstance(path, str) else list(path)
    return [read_image_layer(Path(p)) for p in paths]


def _is_rgb(shape: tuple[int, ...]) -> bool:
    return len(shape) == 3 and shape[-1] in (3, 4)


def read_image_layer(path: Path) -> tuple[Any, dict[str, Any], str]:
    """One Image layer: grayscale or RGB(A), a pyramid as a multiscale layer, every level read tile
    by tile as napari shows it. A grayscale layer's contrast limits are the robust range of its
    smallest level (or a sample of windows), so hot pixels or a saturated border do not leave it
    black. A file with a pixel spacing (:func:`~napari_xraysep.io.spacing.spacing_of`) is shown in millimetres: the
    layer's ``scale`` is the spacing and its ``units`` mm, so napari's rulers and scale bar measure
    the painting. A file that cannot be read raises ``ValueError`` with the reason, which napari reports."""
    try:
        levels = open_levels(path)
        overview = levels[-1]
        kwargs: dict[str, Any] = {"name": path.stem, "rgb": _is_rgb(levels[0].shape), "multiscale": len(levels) > 1}
        if not kwargs["rgb"]:
            kwargs["colormap"] = "gray"
            if overview.dtype != bool:
                low, high = robust_range(overview.sample())
                kwargs["contrast_limits"] = (low, high if high > low else low + 1)
    except XraySepError as error:
        raise ValueError(f"napari-xraysep cannot read {path.name}: {error}") from error
    info = dict(levels[0].info)
    provenance = info.pop("provenance", None)
    if isinstance(provenance, dict) and "run" in provenance:
        # A saved result is no layer of this session's run of that number: Compare and Export match
        # run and role, and a tester's reopened files of another painting took over run 1's panels.
        provenance["saved_from_run"] = provenance.pop("run")
    kwargs["metadata"] = {"xraysep": provenance} if provenance else {}
    kwargs["metadata"]["file"] = info
    spacing = spacing_of(info)
    if spacing is not None:
        kwargs |= {"scale": spacing.mm, "units": ("mm", "mm")}
    data: Any = levels if len(levels) > 1 else levels[0]
    return data, kwargs, "image"

