"""Translation between napari layers and the core's arrays — no Qt, no science.

Layers in: which layers can serve as the mixed X-ray, the photograph, the region and the side channels,
and the region mask they describe. Layers out: the result's six images as napari layer-data tuples
with short names that keep runs apart (the rest — source, method, settings — in their metadata),
contrast that keeps them comparable, and a mark that tells them from the user's own layers; and the
outlines of x2's passages that follow a colour of the photograph, when a run names any.
"""

from __future__ import annotations

import warnings
from typing import Any

import numpy as np
import pint
from napari.layers import Image, Labels, Shapes

from ..core import SeparationResult
from ..core.errors import InputError
from ..io import READABLE_SUFFIXES, open_image
from ..io.spacing import spacing_of

# What each result layer is called in the layer list, in the paper's terms.
LAYER_TITLES = {
    "x1_hat": "x̂1 surface (step 1)",
    "x2_hat": "x̂2 hidden (step 1)",
    "error_map": "error map",
    "x1": "x1 surface",
    "x2": "x2 hidden",
    "weave": "weave (canvas)",
    "exposure": "film exposure (mosaic)",
    "stretcher": "stretcher bars",
}
# A double-sided panel's second layer is the back side, not a hidden design.
DOUBLE_SIDED_TITLES = {
    **LAYER_TITLES,
    "x1_hat": "x̂1 front (step 1)",
    "x2_hat": "x̂2 back (step 1)",
    "x1": "x1 front",
    "x2": "x2 back",
}
# The layer list shows about twenty characters before it cuts a name: what tells two runs' layers
# apart (which layer, which run) comes first, the rest goes to the metadata. ("x̂1 step 1" read as a
# training step's preview to a tester: the hat alone tells step 1's estimate from step 2's x1.)
SHORT_TITLES = {
    "x1_hat": "x̂1 surface",
    "x2_hat": "x̂2 hidden",
    "error_map": "error map",
    "x1": "x1 surface",
    "x2": "x2 hidden",
    "weave": "weave",
    "exposure": "exposure",
    "stretcher": "stretcher",
}
DOUBLE_SIDED_SHORT = {**SHORT_TITLES, "x1_hat": "x̂1 front", "x2_hat": "x̂2 back", "x1": "x1 front", "x2": "x2 back"}
METADATA_KEY = "xraysep"
# Marks (keys of a layer's METADATA_KEY metadata) of the layers the plugin made for the user to look
# at, never to feed back in: a run's results ("layer"), its live previews, a sample's ground truth,
# thread-count maps and the curtain's layers.
MADE_HERE = ("layer", "preview", "truth", "thread_map", "curtain")


def layer_title(name: str, double_sided: bool = False) -> str:
    """The layer-list title of result ``name`` (one of RESULT_LAYERS or OPTIONAL_LAYERS)."""
    return (DOUBLE_SIDED_TITLES if double_sided else LAYER_TITLES)[name]


def short_layer_name(name: str, run: int, double_sided: bool = False) -> str:
    """The layer-list name of run ``run``'s result ``name``: ``x2 hidden · run 2``."""
    return f"{(DOUBLE_SIDED_SHORT if double_sided else SHORT_TITLES)[name]} · run {run}"


def made_here(layer: Any) -> bool:
    """Whether the plugin made ``layer`` as an answer — a result, a preview, a sample's ground truth —
    rather than as something to separate (marked in its metadata, see MADE_HERE)."""
    marks = getattr(layer, "metadata", {}).get(METADATA_KEY, {})
    return isinstance(marks, dict) and any(marks.get(mark) not in (None, False) for mark in MADE_HERE)


def is_xray_layer(layer: Any) -> bool:
    """A 2-D grayscale Image layer."""
    return isinstance(layer, Image) and not layer.rgb and layer.ndim == 2


def is_users_xray(layer: Any) -> bool:
    """A grayscale layer of the user's (:func:`is_xray_layer`), not one the plugin made: what the docks
    offer as an X-ray (a result, x̂1 above all, is predicted from the photograph: aligning it to it, or
    separating it, would be circular)."""
    return is_xray_layer(layer) and not made_here(layer)


def is_rgb_layer(layer: Any) -> bool:
    """A colour Image layer."""
    return isinstance(layer, Image) and bool(layer.rgb)


def is_region_layer(layer: Any) -> bool:
    return isinstance(layer, Shapes | Labels)


def same_layer(a: Any, b: Any) -> bool:
    """Identity of layers, seeing through the proxies napari hands to plugin widgets."""
    return getattr(a, "__wrapped__", a) is getattr(b, "__wrapped__", b)


PLUGIN_NAME = "napari-xraysep"
READER_NOTE_KEY = "xraysep_reader_note"  # a layer's metadata: what another reader missed ("" for nothing)


def reader_note(layer: Any) -> str | None:
    """What an Image layer opened from a file by another plugin's reader (napari's own, for a TIFF or
    DICOM dropped on the window) shows otherwise than this plugin's reader would — inverted (MinIsWhite,
    MONOCHROME1), or without its file's pixel size — as a sentence; None where nothing differs or the
    layer is not from such a file. The file's header is read once per layer (kept in its metadata)."""
    source = getattr(layer, "source", None)
    path, reader = getattr(source, "path", None), getattr(source, "reader_plugin", None)
    if not path or reader in (None, PLUGIN_NAME) or not str(path).lower().endswith(READABLE_SUFFIXES):
        return None
    if READER_NOTE_KEY not in layer.metadata:
        try:
            info = open_image(path).info
        except InputError:  # a file this plugin cannot read either: nothing to compare
            info = {}
        missed = []
        if "inverted on reading" in str(info.get("photometric", "")):
            missed.append(f"as a negative (its file is {info['photometric'].split(' ')[0]})")
        if spacing_of(info) is not None and not has_units(layer):
            missed.append("without its file's pixel size")
        layer.metadata[READER_NOTE_KEY] = (
            f"'{layer.name}' was opened with {reader}'s reader: it is shown {' and '.join(missed)}. Open it again "
            f"choosing {PLUGIN_NAME} as its reader (where napari no longer asks: File ▸ Preferences ▸ Plugins, "
            "File extension readers)." if missed else ""
        )
    return layer.metadata[READER_NOTE_KEY] or None


def layer_source(layer: Any) -> Any:
    """The full-resolution data of an Image layer (the first level of a multiscale one), as stored:
    a dask, zarr or memory-mapped array stays lazy."""
    return layer.data[0] if layer.multiscale else layer.data


def layer_array(layer: Any) -> np.ndarray:
    """The full-resolution data of an Image layer, in memory."""
    return np.asarray(layer_source(layer))


def grid_transform(layer: Any, reference: Any) -> np.ndarray:
    """The (3, 3) matrix taking (x, y, 1) of ``layer``'s data pixels to ``reference``'s, through the
    world the viewer shows: every layer's scale, translate, rotate, shear and affine honoured. The
    identity when both are placed alike."""
    points = np.array([[0.0, 0.0], [1.0, 0.0], [0.0, 1.0]])  # (y, x): origin, one row down, one column across
    placed = np.array([np.asarray(reference.world_to_data(layer.data_to_world(point)), float)[-2:] for point in points])
    origin, down, across = placed[0], placed[1] - placed[0], placed[2] - placed[0]
    # columns: how the reference's (x, y) move per layer pixel across (x) and down (y)
    return np.array([[across[1], down[1], origin[1]], [across[0], down[0], origin[0]], [0.0, 0.0, 1.0]])


def placement(reference: Any, offset: tuple[int, int] = (0, 0)) -> dict[str, Any]:
    """Layer kwargs that place an image of ``reference``'s pixels (the X-ray layer's) where the viewer
    shows them, moved by ``offset`` pixels (an area's corner): its scale, units, rotation, shear and
    affine, and its translate plus the offset carried through its scale, rotation and shear (a result
    given only the X-ray's scale and translate lay elsewhere under a rotated X-ray)."""
    from napari.utils.transforms import Affine

    linear = Affine(scale=reference.scale, rotate=reference.rotate, shear=reference.shear).linear_matrix
    moved = np.zeros(len(reference.scale))
    moved[-2:] = offset  # rows and columns: the last two of a stack's axes
    return {
        "scale": np.asarray(reference.scale, float), "units": reference.units,
        "translate": np.asarray(reference.translate, float) + linear @ moved,
        "rotate": np.asarray(reference.rotate, float), "shear": np.asarray(reference.shear, float),
        "affine": np.asarray(reference.affine.affine_matrix, float),
    }


def placed_alike(matrix: np.ndarray) -> bool:
    return bool(np.allclose(matrix, np.eye(3), atol=1e-6))


# A layer resampled over the X-ray that leaves more of it than this without data is said.
LEAST_COVER = 0.5


def check_units(layer: Any, reference: Any) -> None:
    """Raise InputError where ``layer`` and ``reference`` (the X-ray) are placed in different units
    (mm and pixels, mm and µm): napari lays them over each other as if they were one unit
    ("Inconsistent units"), so neither what is shown nor what would be read is meant."""
    mine, theirs = _unit_words(layer), _unit_words(reference)
    if mine == theirs:
        return
    said = f"The layer '{layer.name}' is placed in {mine} but the X-ray '{reference.name}' in {theirs}, so the viewer "
    size, xray_size = _rows_columns(layer), _rows_columns(reference)
    if layer.ndim > 2:  # neither a pixel size nor an alignment makes one image of it
        shape = "×".join(map(str, layer_source(layer).shape[: layer.ndim]))
        raise InputError(f"The layer '{layer.name}' is a stack of images ({shape}), not one: choose a 2-D image.")
    if size == xray_size:  # registered pixel for pixel, its file's spacing perhaps a printing size
        raise InputError(
            f"{said}cannot lay one over the other. Type the X-ray's pixel size in the separation dock's Pixel size "
            "field (a registered layer then takes it), or align the layer (Plugins ▸ napari-xraysep ▸ Align photograph)."
        )
    # Another pixel count: not registered. A camera's resolution tag (300 dpi) is no size of the painting.
    raise InputError(
        f"{said}cannot lay one over the other, and it has {size[0]}×{size[1]} pixels to the X-ray's "
        f"{xray_size[0]}×{xray_size[1]}: it is not registered to the X-ray. Align it with Align automatically or from "
        "point pairs (Plugins ▸ napari-xraysep ▸ Align photograph); typing a pixel size would only lay it over by its "
        "file's resolution tag."
    )


def _rows_columns(layer: Any) -> tuple[int, int]:
    """An image layer's rows and columns: its last two axes (before the colour's): a stack's first axis is no
    row (a 3-D layer's message gave '3×64 pixels' for a stack of three 64×96 images)."""
    shape = tuple(layer_source(layer).shape)
    return tuple(shape[-3:-1] if getattr(layer, "rgb", False) else shape[-2:])  # type: ignore[return-value]


def _unit_words(layer: Any) -> str:
    """The unit a layer is placed in, in words: "pixels", "mm", "µm" …"""
    names = {"pixel": "pixels", "millimeter": "mm", "micrometer": "µm", "centimeter": "cm", "meter": "m"}
    unit = str(list(getattr(layer, "units", ()) or ("pixel",))[-1])
    return names.get(unit, unit)


def layer_on_grid(layer: Any, reference: Any) -> np.ndarray:
    """``layer``'s full-resolution data as the viewer shows it over ``reference`` (the X-ray), on the
    reference's pixel grid: as stored when both are placed alike, else resampled bilinearly
    (:func:`~napari_xraysep.core.warp.warp`; float32, NaN — missing data — where the layer does not
    reach; a UserWarning says so where that is more than half of the X-ray). What the user sees aligned
    is what is separated. Raises InputError for layers in different units (:func:`check_units`)."""
    check_units(layer, reference)
    matrix = grid_transform(layer, reference)
    data = layer_array(layer)
    if placed_alike(matrix):
        return data
    from ..core.alignment import Alignment
    from ..core.warp import warp

    shape = tuple(layer_source(reference).shape[:2])
    placed = warp(data, Alignment(matrix, "affine"), shape)
    covered = float(np.isfinite(placed.reshape(*shape, -1)).all(axis=-1).mean())
    if covered < LEAST_COVER:
        warnings.warn(
            f"The layer '{layer.name}', placed as the viewer shows it, covers {100 * covered:.1f} % of the X-ray "
            f"'{reference.name}': the separation has data there only. Check their pixel sizes and positions (the "
            "Pixel size field; Plugins ▸ napari-xraysep ▸ Align photograph).",
            UserWarning,
            stacklevel=2,
        )
    return placed


def enclosed_area(vertices: np.ndarray) -> float:
    """Area enclosed by a shape's vertices (shoelace formula); 0 for lines and flat polygons.

    Ellipses are stored by their bounding box's corners, so this is their box's area — only
    compared with one pixel here.
    """
    points = np.asarray(vertices, dtype=np.float64)[:, -2:]
    if len(points) < 3:
        return 0.0
    y, x = points[:, 0], points[:, 1]
    return float(abs(np.dot(x, np.roll(y, -1)) - np.dot(y, np.roll(x, -1))) / 2)


def has_units(layer: Any) -> bool:
    """Whether a layer is placed in physical units (mm from a file's pixel spacing), not pixels."""
    return any(str(unit) != "pixel" for unit in getattr(layer, "units", ()) or ())


def mm_per_pixel(scale: Any, units: Any) -> tuple[float, float] | None:
    """(row, column) millimetres per pixel of a layer with ``scale`` and ``units`` (the last two axes; a
    length unit each — mm as this plugin's readers place layers, or µm, cm, inch as another plugin or
    the user may); None for a layer in pixels or in units that are no length."""
    units = list(units or ())[-2:]
    if len(units) < 2 or any(str(unit) in ("pixel", "px") for unit in units):
        return None
    registry = pint.get_application_registry()  # napari's: its layers' units are of it
    try:
        factors = [float(registry.Quantity(1.0, str(unit)).to("mm").magnitude) for unit in units]
    except (pint.errors.PintError, ValueError, TypeError):
        return None
    row, column = (float(value) * factor for value, factor in zip(list(scale)[-2:], factors))
    return row, column


def spacing_record(scale: Any, units: Any, source: str | None = None) -> dict[str, Any] | None:
    """The pixel spacing of a layer in mm (its ``scale``, row and column, and ``units``, converted to
    mm: :func:`mm_per_pixel`) as run.json and result TIFFs record it
    (:meth:`~.io.spacing.PixelSpacing.record`); None for a layer in pixels."""
    spacing = mm_per_pixel(scale, units)
    if spacing is None:
        return None
    return {"mm_per_pixel": list(spacing), "source": source or "napari layer scale (mm)"}


def points_in_pixels_of(points: np.ndarray, layer: Any, reference: Any) -> np.ndarray:
    """(N, 2) ``points`` in ``layer``'s data coordinates → in the image layer ``reference``'s pixels
    (through world coordinates: the two may differ in scale, position or units)."""
    points = np.asarray(points, dtype=np.float64)[:, -2:]
    return np.array([reference.world_to_data(layer.data_to_world(point)) for point in points]).reshape(-1, 2)


# What a mask layer stands for, and where its shapes are drawn (for the messages).
MASK_ROLES = {"region": "over the hidden design", "painting area": "around the painting"}


def region_mask_from_layer(
    layer: Any, shape: tuple[int, int], reference: Any = None, empty_ok: bool = False, role: str = "region"
) -> np.ndarray:
    """The (H, W) bool mask a Shapes or Labels layer describes over an image of ``shape`` — over the
    ``reference`` layer (the X-ray) as the viewer shows them, if given: each layer's transform
    (scale, translate, rotate, affine) honoured.

    Rectangles, polygons and ellipses all count, several at once; lines and paths enclose nothing.
    A Shapes layer that encloses no pixel (no shapes, or none over the image) is an InputError, or
    with ``empty_ok`` (a region the method can do without) an empty mask, for the run to say.
    ``role`` ("region" or "painting area", :data:`MASK_ROLES`) names the layer in the messages.
    """
    where = MASK_ROLES[role]
    matrix = np.eye(3) if reference is None or not is_region_layer(layer) else grid_transform(layer, reference)
    if isinstance(layer, Shapes):
        if len(layer.data) == 0 and empty_ok:
            return np.zeros(shape, dtype=bool)
        if len(layer.data) == 0:
            raise InputError(f"The {role} layer '{layer.name}' has no shapes yet: draw a rectangle or polygon {where}.")
        if layer.ndim != 2:
            raise InputError(f"The {role} layer '{layer.name}' is {layer.ndim}-D; draw the {role} on a 2-D layer.")
        shapes, data = layer, list(layer.data)
        if not placed_alike(matrix):  # the shapes' vertices in the reference's pixels, rasterised there
            data = [_moved(vertices, matrix) for vertices in data]
            shapes = Shapes(data, shape_type=layer.shape_type)
        masks = np.asarray(shapes.to_masks(mask_shape=shape), dtype=bool)
        # napari rasterises the outline of a shape that encloses nothing; such a shape is a slip of
        # the mouse, not a region. A path encloses nothing whatever its vertices span (napari
        # rasterises its stroke: a tester's three-vertex path became an 86-pixel region).
        open_lines = {"line", "path"}
        enclosing = [
            index for index, (vertices, kind) in enumerate(zip(data, layer.shape_type))
            if kind not in open_lines and enclosed_area(vertices) >= 1.0
        ]
        mask = masks[enclosing].any(axis=0) if enclosing else np.zeros(shape, dtype=bool)
        if not mask.any() and not empty_ok:
            raise InputError(
                f"The shapes in '{layer.name}' enclose no pixel of the image (zero-area or outside it); "
                f"draw a rectangle, ellipse or polygon {where}."
            )
        return mask
    if isinstance(layer, Labels):
        labels = np.asarray(layer.data[0] if layer.multiscale else layer.data)
        if not placed_alike(matrix):  # nearest label under each of the reference's pixels
            from scipy import ndimage

            to_layer = np.linalg.inv(matrix)
            swap = np.array([[0.0, 1.0], [1.0, 0.0]])  # (x, y) ↔ (row, column)
            labels = ndimage.affine_transform(
                labels, swap @ to_layer[:2, :2] @ swap, offset=swap @ to_layer[:2, 2], output_shape=tuple(shape), order=0, cval=0
            )
        if labels.shape != tuple(shape):
            raise InputError(
                f"The {role} labels '{layer.name}' are {labels.shape}, the images {tuple(shape)}: paint them on a "
                "Labels layer of the X-ray's size (napari's New labels layer, with the X-ray selected), or place them "
                "over it with the layer's scale."
            )
        return labels > 0
    raise InputError(f"Choose a Shapes or Labels layer as the {role}.")


def _moved(vertices: np.ndarray, matrix: np.ndarray) -> np.ndarray:
    """(N, 2) (y, x) vertices mapped by a (3, 3) (x, y, 1) matrix."""
    points = np.asarray(vertices, dtype=np.float64)[:, -2:]
    xy = points[:, ::-1] @ matrix[:2, :2].T + matrix[:2, 2]
    return xy[:, ::-1]


def shared_contrast(images: list[np.ndarray]) -> tuple[float, float]:
    """One set of contrast limits for layers that should be compared by eye (0.5–99.5 % of their
    finite values: missing pixels are NaN)."""
    values = np.concatenate([np.asarray(i, dtype=np.float32).ravel()[:: max(1, i.size // 250_000)] for i in images])
    values = values[np.isfinite(values)]
    if values.size == 0:
        return 0.0, 1.0
    low, high = np.percentile(values, [0.5, 99.5])
    return (float(low), float(high)) if high > low else (float(low), float(low) + 1.0)


def result_layer_data(
    result: SeparationResult, source_name: str, run: int, layer_kwargs: dict[str, Any] | None = None
) -> list[tuple[np.ndarray, dict[str, Any], str]]:
    """Image layer-data tuples for the results (the six, and the films' exposure and the stretcher's
    bars when found), named for their run (:func:`short_layer_name`; the source layer and the long title in the metadata)."""
    images = result.layers()
    return _layer_data(images, result.provenance(), result.double_sided, source_name, run, layer_kwargs)


def painting_layer_data(
    pyramids: dict[str, list[Any]],
    provenance: dict[str, Any],
    double_sided: bool,
    source_name: str,
    run: int,
    layer_kwargs: dict[str, Any] | None = None,
) -> list[tuple[list[Any], dict[str, Any], str]]:
    """Multiscale layer-data tuples for a whole painting's results (largest level first): napari
    reads only the part of the level on screen, so a painting of any size opens at once."""
    return _layer_data(pyramids, provenance, double_sided, source_name, run, {**(layer_kwargs or {}), "multiscale": True})


def _layer_data(
    images: dict[str, Any],
    provenance: dict[str, Any],
    double_sided: bool,
    source_name: str,
    run: int,
    layer_kwargs: dict[str, Any] | None,
) -> list[tuple[Any, dict[str, Any], str]]:
    """The four X-rays share contrast limits so that surface and hidden layers compare directly; the
    error map, the weave and the films' exposure (around zero) get symmetric limits of their own, the
    stretcher's bars (a density ≥ 0) limits from 0. Limits come from the smallest level of a pyramid."""
    multiscale = bool((layer_kwargs or {}).get("multiscale"))
    overview = {name: np.asarray(image[-1] if multiscale else image) for name, image in images.items()}
    xray_limits = shared_contrast([overview[name] for name in ("x1_hat", "x2_hat", "x1", "x2")])
    extents = {
        name: float(np.nan_to_num(np.nanpercentile(np.abs(overview[name]), 99.5))) or 1.0
        for name in ("error_map", "weave", "exposure", "stretcher") if name in overview
    }
    layers = []
    for name in images:
        limits = xray_limits if name not in extents else (0.0 if name == "stretcher" else -extents[name], extents[name])
        title = f"{layer_title(name, double_sided)} · run {run} · {source_name}"
        kwargs = {
            "name": short_layer_name(name, run, double_sided),
            "colormap": "gray",
            "contrast_limits": limits,
            "metadata": {METADATA_KEY: {**provenance, "layer": name, "run": run, "source": source_name, "title": title}},
            **(layer_kwargs or {}),
        }
        layers.append((images[name], kwargs, "image"))
    return layers


# Where the placement of a run's images is given in their layer kwargs: the outline takes the same.
_PLACEMENT = ("scale", "translate", "units", "rotate", "shear", "affine")


def passages_layer_data(
    layers: list[tuple[Any, dict[str, Any], str]],
) -> tuple[list[np.ndarray], dict[str, Any], str] | None:
    """A Shapes layer-data tuple outlining the passages of x2 that follow a colour region of the
    photograph (the run's ``passages`` record: perhaps a pigment the photograph cannot distinguish),
    one rectangle each around its pixels, placed as the run's image ``layers`` are; None when the run
    named none."""
    if not layers:
        return None
    kwargs = layers[0][1]
    record = kwargs["metadata"][METADATA_KEY]
    found = (record.get("passages") or {}).get("passages")
    if not found:
        return None
    # Pixel (i, j) covers i ± ½, j ± ½ in the layer's data coordinates.
    rectangles = [
        np.array([[top, left], [top, right], [bottom, right], [bottom, left]], dtype=np.float64) - 0.5
        for top, left, bottom, right in (passage["box"] for passage in found)
    ]
    run, source = record["run"], record["source"]
    title = f"passages perhaps of a pigment the photograph cannot distinguish · run {run} · {source}"
    return rectangles, {
        "name": f"pigment? {run}",
        "shape_type": "rectangle",
        "edge_color": "yellow",
        "face_color": "transparent",
        "edge_width": 2,
        "metadata": {METADATA_KEY: {"layer": "passages", "run": run, "source": source, "title": title,
                                    "passages": found}},
        **{key: value for key, value in kwargs.items() if key in _PLACEMENT},
    }, "shapes"
