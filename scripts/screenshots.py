"""Regenerate the screenshots in docs/ (under a virtual display: `xvfb-run -a python scripts/screenshots.py`)."""

from __future__ import annotations

import subprocess
import sys
import time
from pathlib import Path

import napari
from qtpy.QtWidgets import QApplication

from napari_xraysep.io import write_png

OUT = Path(__file__).resolve().parent.parent / "docs" / "images"


def settle(seconds: float = 0.5) -> None:
    end = time.monotonic() + seconds
    while time.monotonic() < end:
        QApplication.processEvents()
        time.sleep(0.02)


def shoot(viewer: napari.Viewer, name: str) -> None:
    settle()
    write_png(OUT / name, viewer.screenshot(canvas_only=False, flash=False)[..., :3])
    print("wrote", OUT / name)


def open_viewer(steps: int) -> tuple[napari.Viewer, object]:
    viewer = napari.Viewer(title="napari-xraysep")
    viewer.window._qt_window.resize(1500, 950)
    viewer.open_sample("napari-xraysep", "concealed_portrait")
    _, widget = viewer.window.add_plugin_dock_widget("napari-xraysep", "X-ray separation")
    viewer.layers.selection.active = viewer.layers["region (hidden design)"]
    widget.steps.value = steps
    widget.preview_every.value = 25
    widget.device.value = "cpu"
    return viewer, widget


def alignment() -> int:
    """The alignment widget on a shifted photograph."""
    import numpy as np

    from napari_xraysep.core.registration import Alignment, warp
    from napari_xraysep.synthetic import make_mixture

    viewer = napari.Viewer(title="napari-xraysep")
    viewer.window._qt_window.resize(1500, 950)
    mixture = make_mixture("copper_black_costume", (256, 384), seed=0)
    viewer.add_image(mixture.x_mixed, name="mixed X-ray", colormap="gray")
    shift = np.array([[1, 0, 6.0], [0, 1, -4.0], [0, 0, 1.0]])
    shifted = warp(mixture.rgb_surface, Alignment(np.linalg.inv(shift), "translation", 0.0), mixture.x_mixed.shape)
    viewer.add_image(shifted, name="photo (not registered)", rgb=True, opacity=0.6)
    _, aligner = viewer.window.add_plugin_dock_widget("napari-xraysep", "Align photograph")
    aligner.check()
    shoot(viewer, "5-align-photograph.png")
    viewer.close()
    return 0


def side_channels(steps: int = 200) -> int:
    """The copper sample trained without, then with, its Cu-K map; x2 of both runs side by side."""
    viewer = napari.Viewer(title="napari-xraysep")
    viewer.window._qt_window.resize(1500, 950)
    viewer.open_sample("napari-xraysep", "copper_headdress")
    _, widget = viewer.window.add_plugin_dock_widget("napari-xraysep", "X-ray separation")
    widget.steps.value, widget.preview_every.value, widget.device.value = steps, 0, "cpu"
    copper = viewer.layers["Cu-K map (synthetic XRF)"]
    for side in ([], [copper]):
        widget.side_layers.value = side
        widget.train()
        while widget.worker is not None:
            settle(0.2)
    viewer.screenshot(canvas_only=False, flash=False)  # one full draw first: see main()'s docstring
    settle(1.0)
    shown = ["surface RGB (synthetic)", copper.name, "x2 hidden · run 1", "x2 hidden · run 2"]
    for layer in viewer.layers:
        layer.visible = any(layer.name.startswith(name) for name in shown)
    copper.visible = True
    viewer.grid.enabled = True
    viewer.reset_view()
    widget.side_layers.value = [copper]
    shoot(viewer, "6-side-channels.png")
    viewer.close()
    return 0


def main(phase: str, steps: int = 200) -> int:
    """Two phases in two processes, each drawing the whole canvas once before hiding layers: with
    Mesa's software OpenGL (what Xvfb offers), vispy crashed (SIGSEGV in glDrawArrays) in other
    orders of the same steps. Not seen with the plugin's tests or on a GPU."""
    OUT.mkdir(parents=True, exist_ok=True)
    viewer, widget = open_viewer(steps)
    if phase == "during":
        shoot(viewer, "1-sample-and-region.png")
        widget.train()
        while widget.worker is not None and widget.progress.value() < steps // 2:
            settle(0.2)
        shoot(viewer, "2-training.png")
        widget.stop()
    else:
        widget.train()
        while widget.worker is not None:
            settle(0.2)
        viewer.screenshot(canvas_only=False, flash=False)  # one full draw first: see main()'s docstring
        settle(1.0)
        for layer in viewer.layers:
            layer.visible = "x2 hidden · run 1" in layer.name
        shoot(viewer, "3-hidden-x2.png")
        widget.toggle_compare()
        shoot(viewer, "4-side-by-side.png")
    while widget.worker is not None:
        settle(0.2)
    viewer.close()
    return 0


if __name__ == "__main__":
    for phase in ("during", "after", "align", "side"):
        if len(sys.argv) < 2:
            subprocess.run([sys.executable, __file__, phase], check=True)
    if len(sys.argv) >= 2:
        phases = {"align": alignment, "side": side_channels}
        sys.exit(phases[sys.argv[1]]() if sys.argv[1] in phases else main(sys.argv[1]))
