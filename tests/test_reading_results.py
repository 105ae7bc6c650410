"""Reading the results as a conservator does, in the dock: thread counts laid over the painting,
a curtain between two layers, and the exported sheet with scale bars and the counts."""

from __future__ import annotations

import numpy as np
import pytest
from conftest import RUN_TIMEOUT_MS, dock, wait_done

from napari_xraysep.core.threads import count_threads
from napari_xraysep.synthetic import load_sample

PIXEL_MM = 0.1


@pytest.fixture
def trained_in_mm(make_napari_viewer, qtbot):
    """The concealed portrait (it has a canvas weave) at 0.1 mm per pixel, separated."""
    viewer = make_napari_viewer()
    widget = dock(viewer, "concealed_portrait")
    widget.inputs.pixel_size.value = f"{PIXEL_MM}mm"
    widget.inputs.pixel_size.native.editingFinished.emit()
    viewer.layers["region (hidden design)"].scale = (PIXEL_MM, PIXEL_MM)  # the sample's rectangle was drawn in pixels
    assert not widget.results.threads_button.enabled  # nothing to count yet
    widget.train()
    wait_done(qtbot, widget)
    qtbot.waitUntil(lambda: widget.results.threads_button.enabled, timeout=RUN_TIMEOUT_MS)  # once the weave layer is in
    return viewer, widget


def _count(widget, qtbot) -> None:
    widget.results.threads_button.native.click()
    assert not widget.results.threads_button.enabled  # while it counts
    qtbot.waitUntil(lambda: widget.results.counting is None, timeout=RUN_TIMEOUT_MS)


def test_count_threads_lays_a_density_map_per_family_over_the_painting(trained_in_mm, qtbot):
    viewer, widget = trained_in_mm
    assert widget.results.threads_button.enabled
    _count(widget, qtbot)
    truth = count_threads(load_sample().weave, PIXEL_MM)
    counts = widget.runner.last_run.threads
    assert [f.name for f in counts.families] == ["vertical threads", "horizontal threads"] and counts.unit == "threads/cm"
    for found, true in zip(counts.families, truth.families):
        assert found.density == pytest.approx(true.density, abs=0.3)
    text = widget.message.text()
    assert "vertical threads: " in text and "threads/cm" in text and "vertical threads/cm · run 1" in text

    weave = next(layer for layer in viewer.layers if layer.name.startswith("weave"))
    for family in counts.families:
        layer = viewer.layers[f"{family.name}/cm · run 1"]
        step = family.step
        assert tuple(layer.scale) == pytest.approx((step * PIXEL_MM,) * 2)
        # map cell (i, j) is centred on the weave's pixel (step//2 + step·i, step//2 + step·j)
        assert np.allclose(layer.data_to_world((2, 3)), weave.data_to_world((step // 2 + 2 * step, step // 2 + 3 * step)))
        assert layer.colormap.name == "viridis" and layer.colorbar.visible and layer.visible
        finite = family.density_map[np.isfinite(family.density_map)]
        assert tuple(layer.contrast_limits) == pytest.approx((finite.min(), finite.max()))
    assert widget.inputs.xray.value.name == "mixed X-ray (synthetic)"  # the maps are never offered as inputs

    _count(widget, qtbot)  # again: the same two maps, refreshed, not two more
    assert sum("threads/cm" in layer.name for layer in viewer.layers) == 2

    weave.data = np.zeros_like(weave.data)  # a panel painting: nothing is invented
    _count(widget, qtbot)
    assert "No canvas weave was found" in widget.message.text() and not widget.runner.last_run.threads.found

    viewer.layers.remove(weave)
    assert not widget.results.threads_button.enabled
