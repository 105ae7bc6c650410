"""napari samples, each with its ground truth as hidden layers:

* "Concealed portrait (synthetic)": photograph, mixed X-ray and the region to draw;
* "Copper headdress with Cu-K map (synthetic)": the same, plus a macro-XRF copper map to try as a
  side channel — the headdress's black looks like the costume's, only the map says which holds copper;
* "Double-sided panel (synthetic)": X-ray and both sides' photographs (the back as taken from behind).
"""

from __future__ import annotations

from typing import Any

import numpy as np

from ..datasets.synthetic import SyntheticMixture, load_sample, make_mixture
from .layers import METADATA_KEY

LayerData = tuple[Any, dict[str, Any], str]
# The answer key: hidden, and marked so that the dock never offers it as an input.
TRUTH = {"colormap": "gray", "visible": False, "metadata": {METADATA_KEY: {"truth": True}}}


def _region_layer(region_mask: np.ndarray) -> LayerData:
    """The synthetic region as the rectangle a user would draw."""
    ys, xs = region_mask.nonzero()
    rectangle = [[ys.min(), xs.min()], [ys.min(), xs.max() + 1], [ys.max() + 1, xs.max() + 1], [ys.max() + 1, xs.min()]]
    style = {"shape_type": "rectangle", "edge_color": "#ff5050", "face_color": "#ff505033", "edge_width": 3}
    return [rectangle], {"name": "region (hidden design)", **style}, "shapes"


def _concealed_layers(sample: SyntheticMixture) -> list[LayerData]:
    return [
        (sample.rgb_surface, {"name": "surface RGB (synthetic)", "rgb": True}, "image"),
        (sample.x_mixed, {"name": "mixed X-ray (synthetic)", "colormap": "gray"}, "image"),
        (sample.x1_true, {"name": "true x1 surface (synthetic)", **TRUTH}, "image"),
        (sample.x2_true, {"name": "true x2 hidden (synthetic)", **TRUTH}, "image"),
    ]


def concealed_portrait() -> list[LayerData]:
    sample = load_sample()
    return [*_concealed_layers(sample), _region_layer(sample.region_mask)]


def copper_headdress() -> list[LayerData]:
    sample = make_mixture("copper_black_costume", (256, 384), seed=0)
    copper = (sample.copper_map, {"name": "Cu-K map (synthetic XRF)", "colormap": "copper", "visible": False}, "image")
    return [*_concealed_layers(sample), copper, _region_layer(sample.region_mask)]


def double_sided_panel() -> list[LayerData]:
    panel = make_mixture("landscape_over_portrait", (256, 384), seed=0)
    return [
        (panel.rgb_surface, {"name": "front RGB (synthetic)", "rgb": True}, "image"),
        (panel.rgb_back_photographed, {"name": "back RGB, from behind (synthetic)", "rgb": True, "visible": False}, "image"),
        (panel.x_mixed, {"name": "panel X-ray (synthetic)", "colormap": "gray"}, "image"),
        (panel.x1_true, {"name": "true x1 front (synthetic)", **TRUTH}, "image"),
        (panel.x2_true, {"name": "true x2 back (synthetic)", **TRUTH}, "image"),
    ]
