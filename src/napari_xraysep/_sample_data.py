"""napari samples: "Concealed portrait (synthetic)" — inputs, region and the ground truth — and
"Double-sided panel (synthetic)" — X-ray, both sides' photographs (the back as taken from behind)."""

from __future__ import annotations

from typing import Any

from .synthetic import load_sample, make_mixture


def concealed_portrait() -> list[tuple[Any, dict[str, Any], str]]:
    sample = load_sample()
    ys, xs = sample.region_mask.nonzero()
    rectangle = [[ys.min(), xs.min()], [ys.min(), xs.max() + 1], [ys.max() + 1, xs.max() + 1], [ys.max() + 1, xs.min()]]
    truth = {"colormap": "gray", "visible": False}
    return [
        (sample.rgb_surface, {"name": "surface RGB (synthetic)", "rgb": True}, "image"),
        (sample.x_mixed, {"name": "mixed X-ray (synthetic)", "colormap": "gray"}, "image"),
        (sample.x1_true, {"name": "true x1 surface (synthetic)", **truth}, "image"),
        (sample.x2_true, {"name": "true x2 hidden (synthetic)", **truth}, "image"),
        (
            [rectangle],
            {
                "name": "region (hidden design)",
                "shape_type": "rectangle",
                "edge_color": "#ff5050",
                "face_color": "#ff505033",
                "edge_width": 3,
            },
            "shapes",
        ),
    ]


def double_sided_panel() -> list[tuple[Any, dict[str, Any], str]]:
    panel = make_mixture("landscape_over_portrait", (256, 384), seed=0)
    truth = {"colormap": "gray", "visible": False}
    return [
        (panel.rgb_surface, {"name": "front RGB (synthetic)", "rgb": True}, "image"),
        (panel.rgb_back_photographed, {"name": "back RGB, from behind (synthetic)", "rgb": True, "visible": False}, "image"),
        (panel.x_mixed, {"name": "panel X-ray (synthetic)", "colormap": "gray"}, "image"),
        (panel.x1_true, {"name": "true x1 front (synthetic)", **truth}, "image"),
        (panel.x2_true, {"name": "true x2 back (synthetic)", **truth}, "image"),
    ]
