"""Thread counts in the viewer: a run's weave layer counted (:func:`~..core.threads.count_threads`)
and each family's density map laid over the painting, in the weave's own units and place.

The counting runs in a worker thread (:func:`weave_for_counting` gives it its arguments on the main
thread); :func:`thread_map_layers` turns the counts into layer-data tuples and :func:`show_thread_maps`
adds or refreshes them, on the main thread.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from ..core.threads import ThreadCount, signed_angle
from .layers import METADATA_KEY, mm_per_pixel

MAP_COLORMAP = "viridis"
# Counting holds about ten full-size float64 images: a whole painting's weave is counted on its central
# COUNT_AREA × COUNT_AREA pixels (35 cm square at 0.085 mm per pixel, plenty of canvas to count).
COUNT_AREA = 4096
# The maps' colour range spans at least this fraction of the mean count (about one thread/cm at
# 16/cm): a canvas of even count reads as one colour, not as noise stretched over the whole map
# (the counts are good to about 0.3 threads/cm).
MIN_SPAN = 0.06
LayerData = tuple[Any, dict[str, Any], str]
# What the dock says to do when the weave layer is in pixels: a pixel size typed in the Inputs panel
# puts the X-ray and every layer placed like it (the results too) in mm.
GIVE_SPACING = "type the X-ray's pixel size (e.g. 0.085mm) in the dock's Pixel size field and count again for threads/cm"


def run_weave_layer(viewer: Any, run: int) -> Any | None:
    """Run ``run``'s weave layer in ``viewer``, or None when it is gone."""
    return next(
        (layer for layer in viewer.layers
         if layer.metadata.get(METADATA_KEY, {}).get("run") == run and layer.metadata[METADATA_KEY].get("layer") == "weave"),
        None,
    )


def weave_for_counting(layer: Any) -> tuple[np.ndarray, tuple[float, float] | None, tuple[int, int]]:
    """The weave layer's full-resolution pixels (H, W) — its central COUNT_AREA square when it is
    larger — its (row, column) pixel spacing in mm (its scale, when the layer is in mm; None, per
    pixel, when it is in pixels) and the (row, column) of the counted area's corner.
    The result layers are placed like the run's X-ray layer, so this is the X-ray's spacing."""
    full = layer.data[0] if layer.multiscale else layer.data
    height, width = full.shape[:2]
    top, left = max(0, (height - COUNT_AREA) // 2), max(0, (width - COUNT_AREA) // 2)
    data = np.asarray(full[top : top + COUNT_AREA, left : left + COUNT_AREA], dtype=np.float32)
    return data, mm_per_pixel(layer.scale, layer.units), (top, left)


def map_name(family_name: str, unit: str, run: int) -> str:
    """``vertical threads/cm · run 1`` (``/px`` when the spacing is unknown)."""
    return f"{family_name}/{unit.split('/')[-1]} · run {run}"


def map_limits(density_map: np.ndarray, mean: float) -> tuple[float, float]:
    """Contrast limits of a density map: its lowest and highest count, widened symmetrically to at
    least MIN_SPAN × ``mean`` (the family's count over the painting)."""
    finite = density_map[np.isfinite(density_map)]
    low, high = (float(finite.min()), float(finite.max())) if finite.size else (mean, mean)
    missing = MIN_SPAN * abs(mean) - (high - low)
    if missing > 0:
        low, high = low - missing / 2, high + missing / 2
    return low, high


def thread_map_layers(counts: ThreadCount, weave: Any, run: int, corner: tuple[int, int] = (0, 0)) -> list[LayerData]:
    """One density-map image layer per family of ``counts``, placed over ``weave`` (the layer counted
    from pixel ``corner`` on): each map cell covers ``step`` pixels and its centre sits on the pixel
    the window is centred on."""
    layers = []
    scale = np.asarray(weave.scale, dtype=float)
    for family in counts.families:
        low, high = map_limits(family.density_map, family.density)
        kwargs = {
            "name": map_name(family.name, counts.unit, run),
            "scale": scale * family.step,
            "translate": np.asarray(weave.translate, dtype=float) + scale * (np.asarray(corner) + family.step // 2),
            "units": weave.units,
            "colormap": MAP_COLORMAP,
            "contrast_limits": (low, high),
            "opacity": 0.7,
            "metadata": {METADATA_KEY: {"run": run, "thread_map": family.name, "unit": counts.unit,
                                        "density": family.density, "angle_deg": signed_angle(family.angle_deg)}},
        }
        layers.append((family.density_map, kwargs, "image"))
    return layers


def show_thread_maps(viewer: Any, layers: list[LayerData]) -> list[Any]:
    """Add the maps (:func:`thread_map_layers`) on top, or refresh those of the same name already there;
    each shows napari's colour bar. Returns the layers."""
    shown = []
    for data, kwargs, _ in layers:
        if kwargs["name"] in viewer.layers:
            layer = viewer.layers[kwargs["name"]]
            layer.data = data
            for key in ("scale", "translate", "contrast_limits", "metadata"):
                setattr(layer, key, kwargs[key])
        else:
            layer = viewer.add_image(data, **kwargs)
        layer.visible = True
        colorbar = getattr(layer, "colorbar", None)
        if colorbar is not None:  # napari ≥ 0.5
            colorbar.visible = True
        shown.append(layer)
    return shown
