"""Regenerate the screenshots in docs/ (under a virtual display: `xvfb-run -a python scripts/screenshots.py`).

Whole-window shots are numbered in the order of docs/usage.md; `panel-*.png` are the dock's four panels
on their own; `comparison-export.png` is what Export comparison writes.
"""

from __future__ import annotations

import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import napari
from qtpy.QtWidgets import QApplication, QWidget

from napari_xraysep.io import write_png
from napari_xraysep.plugin.compare import viewer_grid

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


def grab(widget: QWidget, name: str) -> None:
    """One panel of the dock, as drawn in the window."""
    settle()
    widget.grab().save(str(OUT / name), "PNG")
    print("wrote", OUT / name)


def wait(widget, until=lambda: False) -> None:
    while widget.worker is not None and not until():
        settle(0.2)


def open_viewer(sample: str = "concealed_portrait") -> tuple[napari.Viewer, object]:
    viewer = napari.Viewer(title="napari-xraysep")
    viewer.window._qt_window.resize(1500, 1000)
    viewer.open_sample("napari-xraysep", sample)
    _, widget = viewer.window.add_plugin_dock_widget("napari-xraysep", "X-ray separation")
    widget.separation.device.value = "cpu"
    settle()
    viewer.reset_view()  # the dock took its share of the window
    return viewer, widget


def during() -> None:
    """The sample and the dock; each panel; a run with its previews, loss plot and activity dock."""
    viewer, widget = open_viewer()
    viewer.layers.selection.active = viewer.layers["region (hidden design)"]
    shoot(viewer, "1-sample-and-region.png")
    grab(widget.inputs, "panel-inputs.png")
    widget.separation.advanced.expand(animate=False)
    grab(widget.separation, "panel-separation.png")
    widget.separation.advanced.collapse(animate=False)
    widget.separation.quality.value = "Thorough (three times as long)"
    widget.separation.preview_every.value = 4
    widget.train()
    wait(widget, lambda: widget.run.progress.value() >= 20)
    viewer.window._status_bar._toggle_activity_dock(True)
    shoot(viewer, "2-training.png")
    grab(widget.run, "panel-run.png")
    widget.stop()
    wait(widget)
    viewer.close()


def after() -> None:
    """A finished run: its hidden X-ray, the titled comparison, the Results panel, the export."""
    viewer, widget = open_viewer()
    widget.train()
    wait(widget)
    viewer.screenshot(canvas_only=False, flash=False)  # one full draw first: see main()'s docstring
    settle(1.0)
    shoot(viewer, "3-hidden-x2.png")  # as the run leaves it: x2 on top, the mixed X-ray under it
    widget.results.toggle_compare()
    shoot(viewer, "4-side-by-side.png")
    grab(widget.results, "panel-results.png")
    with tempfile.TemporaryDirectory() as folder:
        png, _ = widget.results.export_comparison_to(folder)
        shutil.copyfile(png, OUT / "comparison-export.png")
        print("wrote", OUT / "comparison-export.png")
    viewer.close()


def alignment() -> None:
    """The alignment widget on a shifted photograph."""
    import numpy as np

    from napari_xraysep.core.alignment import Alignment
    from napari_xraysep.core.warp import warp
    from napari_xraysep.datasets.synthetic import make_mixture

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


def side_channels() -> None:
    """The copper sample separated by the default (docs/usage.md's Side channels section) without,
    then with, its Cu-K map; x2 of both runs side by side."""
    viewer, widget = open_viewer("copper_headdress")
    widget.separation.preview_every.value = 0
    copper = viewer.layers["Cu-K map (synthetic XRF)"]
    for side in ([], [copper]):
        widget.inputs.side_channels.value = side
        widget.train()
        wait(widget)
    viewer.screenshot(canvas_only=False, flash=False)  # one full draw first: see main()'s docstring
    settle(1.0)
    shown = ["surface RGB (synthetic)", copper.name, "x2 hidden · run 1", "x2 hidden · run 2"]
    for layer in viewer.layers:
        layer.visible = any(layer.name.startswith(name) for name in shown)
    viewer_grid(viewer).enabled = True
    viewer.reset_view()
    widget.inputs.side_channels.value = [copper]
    shoot(viewer, "6-side-channels.png")
    viewer.close()


def reading() -> None:
    """The sample at 0.1 mm per pixel: a run's thread-count map over the painting, the sheet exported
    with the counts and their maps, then the curtain."""
    viewer, widget = open_viewer()
    widget.inputs.pixel_size.value = "0.1mm"
    widget.inputs.pixel_size.native.editingFinished.emit()
    # (the sample's rectangle and answer key follow the X-ray into mm: they lie over it)
    widget.train()
    wait(widget)
    viewer.screenshot(canvas_only=False, flash=False)  # one full draw first: see main()'s docstring
    settle(1.0)
    widget.results.count_threads()
    while widget.results.counting is not None:
        settle(0.2)
    with tempfile.TemporaryDirectory() as folder:  # the sheet with scale bars, the counts and their maps
        png, _ = widget.results.export_comparison_to(folder)
        shutil.copyfile(png, OUT / "9-sheet-with-threads.png")
        print("wrote", OUT / "9-sheet-with-threads.png")
    viewer.layers["horizontal threads/cm · run 1"].visible = False  # one map at a time reads best
    viewer.reset_view()
    shoot(viewer, "7-thread-map.png")
    viewer.layers["vertical threads/cm · run 1"].visible = False
    widget.results.toggle_curtain()
    widget.results.curtain.slider.value = 45
    viewer.reset_view()
    shoot(viewer, "8-curtain.png")
    grab(widget.results, "panel-results-curtain.png")
    viewer.close()


PHASES = {"during": during, "after": after, "align": alignment, "side": side_channels, "reading": reading}


def main(phase: str) -> int:
    """Each phase in a process of its own, each drawing the whole canvas once before hiding layers:
    with Mesa's software OpenGL (what Xvfb offers), vispy crashed (SIGSEGV in glDrawArrays) in other
    orders of the same steps. Not seen with the plugin's tests or on a GPU."""
    OUT.mkdir(parents=True, exist_ok=True)
    PHASES[phase]()
    return 0


if __name__ == "__main__":
    if len(sys.argv) < 2:
        for name in PHASES:
            subprocess.run([sys.executable, __file__, name], check=True)
        sys.exit(0)
    sys.exit(main(sys.argv[1]))
