"""napari sample: "Concealed portrait (synthetic)" — inputs, region and the ground truth."""

from __future__ import annotations

from typing import Any

from .synthetic import load_sample


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
