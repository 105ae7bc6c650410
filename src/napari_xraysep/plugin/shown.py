"""What a run puts in the viewer: live previews while it trains, then its six result layers (in memory,
or a whole painting's pyramids read from its folder) — the hidden X-ray on top, the mixed X-ray under
it to toggle against, the others added hidden.

The window must not hitch while a run goes on: what takes time is done where it costs the viewer
nothing — the preview layers are made when the run starts (hidden, and only filled while it trains),
the result layers' contrast is computed in the worker thread (:func:`result_layers`), and the preview
layers become the result's x̂1 and x̂2 instead of being removed and added again. The functions that
touch the viewer are called on the main thread only.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import numpy as np

from .layers import (
    METADATA_KEY,
    painting_layer_data,
    passages_layer_data,
    placement,
    result_layer_data,
    same_layer,
    shared_contrast,
)
from ..core import SeparationResult
from ..io.pyramid import open_pyramid
from ..pipeline import PaintingResult
from .state import RunRecord

PREVIEWED = ("x1_hat", "x2_hat")
# What the user came for is shown on top when a run ends; the other results wait, hidden, in the list.
ON_TOP = "x2"
LayerData = tuple[Any, dict[str, Any], str]


def preview_name(record: RunRecord, which: str) -> str:
    return f"x̂{which[1]} preview · run {record.number}"


def add_previews(viewer: Any, record: RunRecord, shape: tuple[int, int]) -> None:
    """The run's preview layers, hidden and empty until the first preview (the trained area's ``shape``):
    made at Train, not in the middle of the run."""
    for which in PREVIEWED:
        viewer.add_image(
            np.zeros(shape, np.float32), name=preview_name(record, which), colormap="gray", visible=False,
            metadata={METADATA_KEY: {"preview": True, "run": record.number}}, **placement(record.source, record.offset),
        )


def show_preview(viewer: Any, record: RunRecord, preview: Any) -> None:
    """Fill the preview layers with the estimate, their contrast following its range."""
    for which in PREVIEWED:
        name, data = preview_name(record, which), getattr(preview, which)
        if name in viewer.layers:  # the user may have removed it
            layer = viewer.layers[name]
            layer.data = data
            layer.contrast_limits = shared_contrast([data])  # a sample of the pixels, not all of them
            layer.visible = True


def remove_previews(viewer: Any, record: RunRecord) -> None:
    for which in PREVIEWED:
        name = preview_name(record, which)
        if name in viewer.layers:
            viewer.layers.remove(name)


def result_layers(
    result: Any, source_name: str, run: int, double_sided: bool, area_corner: tuple[int, int]
) -> tuple[list[LayerData], str, tuple[int, int]]:
    """The run's layers (the six, and the films' exposure and the stretcher's bars when found) as
    layer-data tuples (their contrast computed: call it in the worker thread) and a sentence saying what
    they are and where, and the X-ray pixel their top-left pixel lies on: (0, 0), or ``area_corner``
    (the trained area's) for a whole painting stopped during training. They are placed as the X-ray
    is when they are added (:func:`add_results`): it may have been moved or given a pixel size meanwhile."""
    corner = (0, 0)
    if isinstance(result, SeparationResult):
        layers = result_layer_data(result, source_name, run)
        # Compare shows the weave only where the method found one (the auto-encoder's is zero).
        weave = ", the error map and the weave" if np.any(result.weave) else " and the error map"
        what = f"Its {len(layers)} layers are in the layer list; Compare side by side shows x, x1, x2{weave}, titled."
    elif isinstance(result, PaintingResult) and result.paths is not None:
        pyramids = {name: open_pyramid(path) for name, path in result.paths.items()}
        layers = painting_layer_data(pyramids, result.provenance(), double_sided, source_name, run)
        model = "" if result.area_result is not None else ", the model applied"  # kept beside its results
        what = (
            f"The whole painting's {len(layers)} layers are written to {result.folder} (with model.pt{model}) "
            "and shown from there."
        )
    else:  # a whole painting stopped during training: the training area's layers, where the area is
        layers, corner = result_layer_data(result.area_result, source_name, run), area_corner
        what = (
            f"Stopped before the whole painting: the training area's layers are shown, and the model is saved in "
            f"{result.folder / 'model.pt'}; Apply model separates the whole painting with it."
        )
    return layers, what, corner


def add_results(
    viewer: Any, record: RunRecord, layers: list[LayerData], corner: tuple[int, int] = (0, 0)
) -> Iterator[bool]:
    """Add the run's layers (:func:`result_layers`), one each time the generator is advanced (it yields
    True after each), placed where the run's X-ray is now (:func:`placement`, their top-left pixel on
    its pixel ``corner``): x2 on top and shown, the mixed X-ray right under it, the others hidden;
    over x2, the outlines of the passages the run named as perhaps a pigment
    (:func:`passages_layer_data`). The preview layers, where they fit, become x̂1 and x̂2."""
    placed = placement(record.source, corner)
    layers = [(data, {**kwargs, **placed}, kind) for data, kwargs, kind in layers]
    previews = {which: viewer.layers[preview_name(record, which)] for which in PREVIEWED if preview_name(record, which) in viewer.layers}
    # Added bottom first: the hidden ones, then x2, on top.
    for data, kwargs, _ in sorted(layers, key=lambda layer: layer[1]["metadata"][METADATA_KEY]["layer"] == ON_TOP):
        role = kwargs["metadata"][METADATA_KEY]["layer"]
        preview = previews.pop(role, None)
        if preview is not None and not kwargs.get("multiscale") and preview.data.shape == data.shape:
            preview.visible = False
            preview.data, preview.contrast_limits = data, kwargs["contrast_limits"]
            preview.name, preview.metadata = kwargs["name"], kwargs["metadata"]
            for key, value in placed.items():  # the X-ray may have moved since the previews were made
                setattr(preview, key, value)
        else:
            if preview is not None:
                viewer.layers.remove(preview)
            viewer.add_image(data, **kwargs, visible=role == ON_TOP)
        yield True
    for preview in previews.values():
        viewer.layers.remove(preview)
    source = next((layer for layer in viewer.layers if same_layer(layer, record.source)), None)
    if source is not None:  # the mixed X-ray right under x2: one eye toggles between them
        source.visible = True
        viewer.layers.move(viewer.layers.index(source), len(viewer.layers) - 1)
    outline = passages_layer_data(layers)
    if outline is not None:  # over x2: where the note says a passage may be a pigment
        viewer.add_shapes(outline[0], **outline[1])
        yield True
