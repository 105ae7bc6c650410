"""What a run puts in the viewer: live previews while it trains, then its six result layers (in memory,
or a whole painting's pyramids read from its folder) — the hidden X-ray on top, the mixed X-ray under
it to toggle against, the others added hidden. Called on the main thread only."""

from __future__ import annotations

from typing import Any

import numpy as np

from .._layers import METADATA_KEY, painting_layer_data, result_layer_data, same_layer
from ..core import SeparationResult
from ..painting import PaintingResult, open_pyramid
from .state import RunRecord

PREVIEWED = ("x1_hat", "x2_hat")
# What the user came for is shown on top when a run ends; the other results wait, hidden, in the list.
ON_TOP = "x2"


def placement(record: RunRecord, offset: tuple[int, int] = (0, 0)) -> dict[str, Any]:
    """Scale and position of the run's X-ray layer, moved by ``offset`` pixels (an area's corner)."""
    reference = record.source
    return {"scale": reference.scale, "translate": np.asarray(reference.translate) + np.asarray(offset) * reference.scale}


def preview_name(record: RunRecord, which: str) -> str:
    return f"x̂{which[1]} preview · run {record.number}"


def show_preview(viewer: Any, record: RunRecord, preview: Any) -> None:
    """Replace the preview layers' data (or add them), their contrast following the estimate's range."""
    for which in PREVIEWED:
        name, data = preview_name(record, which), getattr(preview, which)
        if name in viewer.layers:
            layer = viewer.layers[name]
            layer.data = data
            layer.reset_contrast_limits()
        else:
            viewer.add_image(data, name=name, colormap="gray", metadata={METADATA_KEY: {"preview": True}}, **placement(record, record.offset))


def remove_previews(viewer: Any, record: RunRecord) -> None:
    for which in PREVIEWED:
        name = preview_name(record, which)
        if name in viewer.layers:
            viewer.layers.remove(name)


def add_results(viewer: Any, record: RunRecord) -> str:
    """Add the run's six layers; returns a sentence saying what was added and where it is."""
    result = record.result
    if isinstance(result, SeparationResult):
        layers = result_layer_data(result, record.source_name, record.number, placement(record))
        what = "Its six layers are in the layer list; Compare side by side shows x, x1, x2, the error map and the weave, titled."
    elif isinstance(result, PaintingResult) and result.paths is not None:
        pyramids = {name: open_pyramid(path) for name, path in result.paths.items()}
        layers = painting_layer_data(pyramids, result.provenance(), record.double_sided, record.source_name, record.number, placement(record))
        what = f"The whole painting's six layers are written to {result.folder} (with model.pt) and shown from there."
    else:  # a whole painting stopped during training: the training area's layers, where the area is
        layers = result_layer_data(result.area_result, record.source_name, record.number, placement(record, record.offset))
        what = (
            f"Stopped before the whole painting: the training area's layers are shown, and the model is saved in "
            f"{result.folder / 'model.pt'}; Apply model separates the whole painting with it."
        )
    # Added bottom first: the hidden ones, then x2, on top.
    for data, kwargs, _ in sorted(layers, key=lambda layer: layer[1]["metadata"][METADATA_KEY]["layer"] == ON_TOP):
        viewer.add_image(data, **kwargs, visible=kwargs["metadata"][METADATA_KEY]["layer"] == ON_TOP)
    source = next((layer for layer in viewer.layers if same_layer(layer, record.source)), None)
    if source is not None:  # the mixed X-ray right under x2: one eye toggles between them
        source.visible = True
        viewer.layers.move(viewer.layers.index(source), len(viewer.layers) - 1)
    return what
