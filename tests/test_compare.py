"""Compare that explains itself: the titled grid, its shared contrast, the flip key and the export."""

from __future__ import annotations

import json

import imageio.v3 as iio
import numpy as np
import pytest
from conftest import RUN_TIMEOUT_MS, wait_done
from qtpy.QtCore import Qt

from napari_xraysep.io import to_display
from napari_xraysep.plugin.compare import COLUMNS, FLIP_KEY, GAP, TITLE_HEIGHT, viewer_grid

ROLES = ["x", "x1", "x2", "error_map", "weave"]
TITLES = ["x mixed X-ray", "x1 surface", "x2 hidden", "error map", "weave (canvas)"]


@pytest.fixture
def trained(sample_run):
    return sample_run


def _role(layer) -> str:
    return layer.metadata.get("xraysep", {}).get("layer", "x")


def _snapshot(viewer) -> list[tuple]:
    overlays = [(l.name_overlay.visible, l.name_overlay.font_size) for l in viewer.layers]
    return [(l.name, l.visible, tuple(np.round(getattr(l, "contrast_limits", ()), 6))) for l in viewer.layers] + overlays


def test_the_grid_is_titled_in_reading_order_with_shared_contrast_and_goes_back(trained):
    viewer, widget = trained
    before, grid = _snapshot(viewer), viewer_grid(viewer)
    widget.results.compare_button.native.click()
    shown = [layer for layer in viewer.layers if layer.visible]
    assert grid.enabled and [_role(layer) for layer in shown] == ROLES
    assert shown[0].name == "mixed X-ray (synthetic)"
    layers = list(viewer.layers)
    positions = [grid.position(layers.index(layer), layers) for layer in shown]
    assert positions == [(0, 0), (0, 1), (0, 2), (1, 0), (1, 1)]  # x, x1, x2 / error map, weave
    assert all(layer.name_overlay.visible for layer in shown)  # every cell titled with its layer's name
    x, x1, x2, error, weave = (tuple(layer.contrast_limits) for layer in shown)
    assert x == x1 == x2  # X-ray units: x = x1 + x2 + weave
    assert error == weave and error[0] == -error[1] > -1  # both around zero, symmetric
    assert widget.results.compare_button.text == "Back to the layers" and FLIP_KEY in widget.message.text()

    widget.results.compare_button.native.click()
    assert not grid.enabled and _snapshot(viewer) == before  # visibility, order, contrast and titles
    assert widget.results.compare_button.text == "Compare side by side"

    # x1 and the weave removed (a new user was then told all the run's layers were gone): the rest, and why.
    viewer.layers.remove(shown[1])
    viewer.layers.remove(shown[4])
    widget.results.compare_button.native.click()
    assert [panel.role for panel in widget.results.comparison.panels] == ["x", "x2", "error_map"]
    said = widget.message.text()
    assert "(x1 and weave removed from the viewer). Press Q in the viewer to flip between x and x2 in" in said
    widget.results.compare_button.native.click()
    viewer.layers.remove(shown[2])
    viewer.layers.remove(shown[3])  # x2 and the error map too: nothing to compare, and said so
    widget.results.compare_button.native.click()
    assert widget.results.comparison is None and "layers are gone" in widget.message.text()
    assert widget.results.export_comparison_to("/nonexistent/folder") is None  # nothing written, and why
    assert widget.message.text() == "The last run's layers are gone: train again to export."


def test_the_flip_key_shows_x_x1_and_x2_in_turn_in_one_view(trained, qtbot):
    viewer, widget = trained
    before = _snapshot(viewer)
    canvas = viewer.window._qt_viewer.canvas.native
    shown = []
    for _ in range(4):
        qtbot.keyClick(canvas, getattr(Qt.Key, f"Key_{FLIP_KEY}"))
        visible = [layer for layer in viewer.layers if layer.visible]
        assert len(visible) == 1 and visible[0].name_overlay.visible
        shown.append(_role(visible[0]))
    assert shown == ["x", "x1", "x2", "x"] and not viewer_grid(viewer).enabled
    assert "Showing x mixed X-ray" in widget.message.text()
    assert widget.results.compare_button.text == "Back to the layers"
    widget.results.compare_button.native.click()
    assert _snapshot(viewer) == before

    widget.separation.steps.value = 100_000  # while a run goes on, the key does nothing
    widget.train()
    qtbot.waitUntil(lambda: widget.run.progress.value() >= 1, timeout=RUN_TIMEOUT_MS)
    qtbot.keyClick(canvas, getattr(Qt.Key, f"Key_{FLIP_KEY}"))
    assert widget.results.comparison is None and not viewer_grid(viewer).enabled
    widget.stop()
    wait_done(qtbot, widget)


def test_flipping_skips_a_deleted_result_and_never_says_it_is_shown(trained, qtbot):
    """A tester deleted x2 while flipping and was told "Showing x2 hidden" over nothing."""
    viewer, widget = trained
    canvas = viewer.window._qt_viewer.canvas.native
    qtbot.keyClick(canvas, getattr(Qt.Key, f"Key_{FLIP_KEY}"))  # x
    viewer.layers.remove(next(layer for layer in viewer.layers if _role(layer) == "x2"))
    for expected in ("x1", "x", "x1"):
        qtbot.keyClick(canvas, getattr(Qt.Key, f"Key_{FLIP_KEY}"))
        assert [_role(layer) for layer in viewer.layers if layer.visible] == [expected]
        assert "Showing x2" not in widget.message.text()
    for layer in [layer for layer in viewer.layers if _role(layer) in ("x", "x1")]:
        viewer.layers.remove(layer)
    qtbot.keyClick(canvas, getattr(Qt.Key, f"Key_{FLIP_KEY}"))
    assert "nothing to flip between" in widget.message.text()


def test_export_writes_the_titled_grid_and_the_run_provenance(trained, tmp_path, monkeypatch):
    viewer, widget = trained
    assert widget.results.export_comparison_to() is None and "Choose a folder" in widget.message.text()  # in memory: no folder yet
    assert not widget.results.folder_button.enabled
    png, record = widget.results.export_comparison_to(tmp_path)
    assert (png.name, record.name) == ("comparison-run1.png", "comparison-run1.json")
    assert str(png) in widget.message.text()

    saved = json.loads(record.read_text())
    assert [panel["title"] for panel in saved["panels"]] == TITLES
    assert saved["provenance"]["steps_trained"] == 3 and saved["provenance"]["settings"]["method"]["name"] == "colour_map"
    image = iio.imread(png)
    height, width = viewer.layers["mixed X-ray (synthetic)"].data.shape
    assert image.shape[:2] == (2 * (height + TITLE_HEIGHT + GAP) + GAP, COLUMNS * (width + GAP) + GAP)
    layers = {_role(layer): layer for layer in viewer.layers if _role(layer) in ROLES and "preview" not in layer.name}
    layers["x"] = viewer.layers["mixed X-ray (synthetic)"]
    for index, (role, panel) in enumerate(zip(ROLES, saved["panels"])):
        row, column = divmod(index, COLUMNS)
        top, left = GAP + row * (height + TITLE_HEIGHT + GAP), GAP + column * (width + GAP)
        cell = image[top + TITLE_HEIGHT : top + TITLE_HEIGHT + height, left : left + width, 0]
        np.testing.assert_array_equal(cell, to_display(layers[role].data, panel["contrast_limits"]))
        title = image[top : top + TITLE_HEIGHT, left : left + width, 0]
        assert title.max() > 200  # the title's light text on the dark band
    assert (image[-GAP - height :, -GAP - width :] == image[0, 0]).all()  # the sixth cell stays empty

    again, _ = widget.results.export_comparison_to(tmp_path)
    assert again.name == "comparison-run1-2.png" and png.exists()  # nothing overwritten
    opened = []
    monkeypatch.setattr("qtpy.QtGui.QDesktopServices.openUrl", lambda url: opened.append(url.toLocalFile()))
    assert widget.results.folder_button.enabled
    widget.results.folder_button.native.click()
    assert opened == [str(tmp_path)]


def test_the_residuals_contrast_is_read_from_the_painting_when_the_frame_around_it_is_empty():
    # A painting found inside a backdrop leaves NaN around it: the error map's and the weave's shared
    # limits were NaN (black panels, and NaN in the exported provenance).
    from napari.layers import Image

    from napari_xraysep.plugin.compare import Panel, shared_limits

    error = np.full((40, 60), np.nan, np.float32)
    error[10:30, 10:50] = np.linspace(-3, 3, 800).reshape(20, 40)
    weave = np.full((40, 60), np.nan, np.float32)
    weave[10:30, 10:50] = 0.5
    x = np.where(np.isnan(error), 7.0, error + 10).astype(np.float32)
    panels = [Panel("x", "x", Image(x)), Panel("error_map", "e", Image(error)), Panel("weave", "w", Image(weave))]
    limits = shared_limits(panels)
    extent = float(np.percentile(np.abs(error[np.isfinite(error)]), 99.5))
    assert limits["error_map"] == limits["weave"] == pytest.approx((-extent, extent)) and 2.9 < extent <= 3
    assert all(np.isfinite(value) for pair in limits.values() for value in pair)
    # Nothing finite at all: a unit range, not NaN.
    nothing = Image(np.full((8, 8), np.nan, np.float32))
    empty = shared_limits([Panel("x2", "x2", nothing), Panel("error_map", "e", nothing)])
    assert empty == {"x2": (0.0, 1.0), "error_map": (-1.0, 1.0)}


def test_the_xrays_contrast_is_read_inside_the_painting_the_results_cover():
    # A tester's painting in a larger frame (film margin, a saturated lead ruler on 3 % of it): x, x1
    # and x2 shared limits stretched to the ruler, and the painting looked dim in all three.
    from napari.layers import Image

    from napari_xraysep.plugin.compare import Panel, shared_limits

    x = np.full((100, 100), 500.0, np.float32)  # the film margin
    x[:3] = 65535.0  # a lead ruler along the top
    inside = (slice(20, 80), slice(20, 80))
    x[inside] = np.linspace(10_000, 30_000, 3600).reshape(60, 60)
    x2 = np.full((100, 100), np.nan, np.float32)
    x2[inside] = x[inside] / 2
    panels = [Panel("x", "x", Image(x)), Panel("x1", "x1", Image(x2)), Panel("x2", "x2", Image(x2))]
    low, high = shared_limits(panels)["x"]
    assert 5_000 <= low and high <= 30_000  # not the margin's 500 nor the ruler's 65535


def test_missing_pixels_are_shown_black_and_the_stretch_is_read_from_the_rest():
    image = np.array([[0.0, 1.0, 2.0, np.nan], [3.0, 4.0, np.inf, np.nan]])
    with np.errstate(all="raise"):  # no invalid cast of NaN
        shown = to_display(image, (0.0, 4.0))
        stretched = to_display(image)
    assert shown.tolist() == [[0, 64, 128, 0], [191, 255, 0, 0]]
    assert stretched[1, 1] == 255 and stretched[0, 0] == 0 and stretched[0, 3] == 0
    assert to_display(np.full((2, 2), np.nan)).tolist() == [[0, 0], [0, 0]]
