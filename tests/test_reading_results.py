"""Reading the results as a conservator does, in the dock: thread counts laid over the painting,
a curtain between two layers, and the exported sheet with scale bars and the counts."""

from __future__ import annotations

import json
from types import SimpleNamespace

import imageio.v3 as iio
import numpy as np
import pytest
from conftest import RUN_TIMEOUT_MS, THROUGH_SEPARATION, dock, wait_done
from qtpy.QtCore import Qt

from napari_xraysep.core.threads import ThreadCount, ThreadFamily, count_threads
from napari_xraysep.datasets.synthetic import load_sample
from napari_xraysep.plugin.compare import (
    BAR_HEIGHT, BAR_MARGIN, COLOUR_BAR_BAND, COLOUR_BAR_HEIGHT, GAP, TITLE_HEIGHT, Panel, scale_bar_length, thread_map_panels,
    threads_line,
)
from napari_xraysep.plugin.curtain import camera_of
from napari_xraysep.plugin.threads import map_limits, thread_map_layers, weave_for_counting

PIXEL_MM = 0.1


@pytest.fixture
def trained_in_mm(make_napari_viewer, qtbot):
    """The concealed portrait (it has a canvas weave) at 0.1 mm per pixel, separated."""
    viewer = make_napari_viewer()
    widget = dock(viewer, "concealed_portrait")
    widget.inputs.pixel_size.value = f"{PIXEL_MM}mm"
    widget.inputs.pixel_size.native.editingFinished.emit()
    # Everything drawn over the X-ray follows it into mm: the sample's rectangle and its answer key.
    for name in ("region (hidden design)", "true x2 hidden (synthetic)"):
        assert tuple(viewer.layers[name].scale) == pytest.approx((PIXEL_MM, PIXEL_MM))
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
        low, high = layer.contrast_limits  # the map's range, at least 6 % of the count wide
        finite = family.density_map[np.isfinite(family.density_map)]
        assert low <= finite.min() and high >= finite.max() and high - low >= 0.06 * family.density - 1e-6
    assert widget.inputs.xray.value.name == "mixed X-ray (synthetic)"  # the maps are never offered as inputs

    _count(widget, qtbot)  # again: the same two maps, refreshed, not two more
    assert sum("threads/cm" in layer.name for layer in viewer.layers) == 2

    weave.data = np.zeros_like(weave.data)  # a panel painting: nothing is invented
    _count(widget, qtbot)
    assert "No canvas weave was found" in widget.message.text() and not widget.runner.last_run.threads.found

    viewer.layers.remove(weave)
    assert not widget.results.threads_button.enabled


def test_count_threads_in_pixels_says_what_to_do_in_the_dock_and_the_pixel_size_field_does_it(trained, qtbot):
    """A weave in pixels is counted per pixel, and the message says to type the pixel size in the dock
    (not the CLI's --pixel-size); typed after the run, it moves the results into mm too: counted again,
    threads/cm."""
    viewer, widget = trained
    _count(widget, qtbot)
    text = widget.message.text()
    assert widget.runner.last_run.threads.unit == "threads/px" and "--pixel-size" not in text
    assert "in the dock's Pixel size field and count again for threads/cm" in text
    widget.inputs.pixel_size.value = f"{PIXEL_MM}mm"
    widget.inputs.pixel_size.native.editingFinished.emit()
    _count(widget, qtbot)
    assert widget.runner.last_run.threads.unit == "threads/cm" and "Pixel size field" not in widget.message.text()


def test_count_threads_on_a_drifting_canvas_is_within_a_third_of_a_thread_everywhere_in_mm(make_napari_viewer, qtbot, drifting_canvas):
    """Issue 26's "done when" in the dock: the sample painting over a canvas whose spacing and angle
    drift, at 0.1 mm per pixel, separated and its weave layer counted with Count threads: every window
    of both maps within 0.1 threads/cm of the truth (the issue asks 0.3), the maps in mm under the
    scale bar."""
    viewer = make_napari_viewer()
    widget = dock(viewer, "concealed_portrait")
    viewer.layers["mixed X-ray (synthetic)"].data = drifting_canvas.x_mixed
    widget.inputs.pixel_size.value = f"{PIXEL_MM}mm"
    widget.inputs.pixel_size.native.editingFinished.emit()
    widget.train()
    wait_done(qtbot, widget)
    qtbot.waitUntil(lambda: widget.results.threads_button.enabled, timeout=RUN_TIMEOUT_MS)
    _count(widget, qtbot)
    counts = widget.runner.last_run.threads
    errors = drifting_canvas.worst_errors(counts)
    assert list(errors) == ["vertical threads", "horizontal threads"] and counts.unit == "threads/cm"
    assert max(errors.values()) <= THROUGH_SEPARATION, errors
    for family in counts.families:
        layer = viewer.layers[f"{family.name}/cm · run 1"]
        assert tuple(layer.scale) == pytest.approx((family.step * PIXEL_MM,) * 2)
        assert all(str(unit) == "millimeter" for unit in layer.units)
        np.testing.assert_array_equal(layer.data, family.density_map)
    assert viewer.canvas.overlays.scale_bar.visible


@pytest.fixture
def trained(sample_run):
    return sample_run


def _shown(viewer) -> set[str]:
    return {layer.name for layer in viewer.layers if layer.visible}


def test_the_curtain_shows_x_left_and_x2_right_of_a_divider_that_moves(trained, qtbot):
    viewer, widget = trained
    before = [(layer.name, layer.visible) for layer in viewer.layers]
    control = widget.results.curtain
    widget.results.curtain_button.native.click()
    curtain = control.curtain
    assert curtain.a.name == "mixed X-ray (synthetic)" and curtain.b.name == "x2 hidden · run 1"  # x and x2 first
    assert not control.isHidden() and widget.results.curtain_button.text == "End curtain"
    assert control.a.value.name == curtain.a.name and control.b.value.name == curtain.b.name  # the names shown
    assert "mixed X-ray (synthetic)" in curtain.divider.features["label"][0] and "x2 hidden" in curtain.divider.features["label"][0]
    # The divider is the plugin's, no region of the user's (a tester saw it picked as the Region).
    widget.inputs.region.reset_choices()
    assert curtain.divider not in widget.inputs.region.choices and curtain.divider not in widget.inputs.painting.choices

    control.slider.value = 30  # A on the left 30 % of the columns, B on the right 70 %
    width = curtain.b.data.shape[1]
    column = round(0.3 * width)
    np.testing.assert_array_equal(curtain.layer.data, curtain.b.data[:, column:])
    assert np.allclose(curtain.layer.data_to_world((0, 0)), curtain.b.data_to_world((0, column)))
    assert curtain.divider.data[0][:, 1].tolist() == [column, column]
    assert _shown(viewer) == {curtain.a.name, curtain.layer.name, curtain.divider.name}  # nothing else covers A

    canvas = viewer.window._qt_viewer.canvas.native
    qtbot.keyClick(canvas, Qt.Key.Key_C)  # all A
    assert curtain.fraction == 1.0 and not curtain.layer.visible and control.slider.value == 100
    qtbot.keyClick(canvas, Qt.Key.Key_C)  # all B
    assert curtain.fraction == 0.0 and curtain.layer.visible and control.slider.value == 0
    np.testing.assert_array_equal(curtain.layer.data, curtain.b.data)

    control.slider.value = 50  # dragging the divider in the canvas moves it (and the slider)
    press = SimpleNamespace(type="mouse_press", button=1, position=(10.0, curtain.column + 0.5))
    drag = curtain.drag(viewer, press)
    next(drag)
    assert not camera_of(viewer).mouse_pan  # the view does not pan meanwhile
    press.type, press.position = "mouse_move", (10.0, 0.75 * width)
    next(drag)
    assert curtain.fraction == pytest.approx(0.75, abs=0.01)
    press.type = "mouse_release"
    with pytest.raises(StopIteration):
        next(drag)
    assert camera_of(viewer).mouse_pan
    far = curtain.drag(viewer, SimpleNamespace(type="mouse_press", button=1, position=(10.0, 5.0)))
    assert list(far) == [] and camera_of(viewer).mouse_pan  # a press away from the divider pans as before

    control.swap_button.native.click()
    assert curtain.a.name == "x2 hidden · run 1" and curtain.b.name == "mixed X-ray (synthetic)"
    assert control.a.value.name == "x2 hidden · run 1"
    np.testing.assert_array_equal(curtain.layer.data, curtain.b.data[:, curtain.column :])
    assert sum(layer.name.startswith("curtain") for layer in viewer.layers) == 2  # rebuilt, not doubled

    widget.results.curtain_button.native.click()  # ended: the layers as they were
    assert [(layer.name, layer.visible) for layer in viewer.layers] == before and control.isHidden()

    widget.results.curtain_button.native.click()  # the flip key and Compare end it first
    qtbot.keyClick(canvas, Qt.Key.Key_Q)
    assert not control.active and not any(layer.name.startswith("curtain") for layer in viewer.layers)
    widget.results.compare_button.native.click()  # back to the layers
    widget.results.curtain_button.native.click()
    widget.results.compare_button.native.click()
    assert not control.active and widget.results.comparison is not None


def test_removing_a_curtain_layer_closes_it_without_a_fuss(trained):
    viewer, widget = trained
    widget.results.curtain_button.native.click()
    viewer.layers.remove("x2 hidden · run 1")
    assert not widget.results.curtain.active and "curtain is closed" in widget.message.text()
    assert not any(layer.name.startswith("curtain") for layer in viewer.layers)
    assert widget.results.curtain_button.text == "Curtain"
    widget.results.curtain_button.native.click()  # a new one, with the topmost other image as B
    assert widget.results.curtain.active and widget.results.curtain.curtain.b.name != "mixed X-ray (synthetic)"
    widget.train()  # a run puts it away
    assert not widget.results.curtain.active


@pytest.mark.parametrize(
    "mm_per_px, width, length, label",
    [(0.1, 384, 5.0, "5 mm"), (0.5, 1000, 100.0, "10 cm"), (0.1, 1000, 20.0, "2 cm"), (0.01, 300, 0.5, "0.5 mm"), (0.085, 500, 5.0, "5 mm")],
)
def test_a_scale_bar_is_a_round_length_near_a_fifth_of_the_panel(mm_per_px, width, length, label):
    assert scale_bar_length(mm_per_px, width) == (pytest.approx(length), label)


def test_the_exported_sheet_has_scale_bars_the_thread_counts_and_their_maps(trained_in_mm, qtbot, tmp_path):
    viewer, widget = trained_in_mm
    height, width = viewer.layers["mixed X-ray (synthetic)"].data.shape
    grid_height = 2 * (height + TITLE_HEIGHT + GAP) + GAP  # x, x1, x2 / error map, weave
    png, record = widget.results.export_comparison_to(tmp_path)  # before counting: no counts, no maps
    assert "thread_counts" not in json.loads(record.read_text()) and iio.imread(png).shape[0] == grid_height
    _count(widget, qtbot)
    png, record = widget.results.export_comparison_to(tmp_path)
    saved = json.loads(record.read_text())
    counts = widget.runner.last_run.threads
    assert [f["density"] for f in saved["thread_counts"]["families"]] == [f.density for f in counts.families]
    assert saved["thread_counts"]["unit"] == "threads/cm" and saved["thread_counts"]["summary"] == counts.summary()
    assert [m["title"].split("/")[0] for m in saved["thread_maps"]] == ["vertical threads", "horizontal threads"]
    assert all(m["unit"] == "threads/cm" for m in saved["thread_maps"])

    image = iio.imread(png)[..., :3].astype(int)
    maps_height = TITLE_HEIGHT + height + COLOUR_BAR_BAND + GAP
    assert image.shape[0] == grid_height + maps_height + TITLE_HEIGHT  # a row of maps, a line for the counts
    length = round(5.0 / PIXEL_MM)  # 5 mm on a 38.4 mm wide panel, at 0.1 mm per pixel
    for row, column in ((0, 0), (0, 2), (1, 1)):  # x, x2, weave: every panel has its bar
        top, left = GAP + row * (height + TITLE_HEIGHT + GAP) + TITLE_HEIGHT, GAP + column * (width + GAP)
        bar_top = top + height - BAR_MARGIN - BAR_HEIGHT
        bar = image[bar_top : bar_top + BAR_HEIGHT, left + BAR_MARGIN : left + BAR_MARGIN + length]
        assert (bar == 255).all()
        assert not (image[bar_top : bar_top + BAR_HEIGHT, left + BAR_MARGIN + length + 1] == 255).all()  # 5 mm long, no more
    maps_top = grid_height + TITLE_HEIGHT
    for column, family in enumerate(counts.families):  # each map in colour where its windows lie, as on the weave
        left = GAP + column * (width + GAP)
        rows, columns = (min(n * family.step, side) for n, side in zip(family.density_map.shape, (height, width)))
        drawn = image[maps_top : maps_top + rows, left : left + columns]
        assert np.ptp(drawn, axis=-1).min() > 20  # viridis: no gray in it
        assert np.ptp(image[maps_top + height : maps_top + height + 4, left:left + width], axis=-1).max() <= 10  # cut at the panel's edge
        assert np.ptp(image[maps_top : maps_top + height, left + columns + 1 : left + width], axis=-1).max() <= 10  # nothing past the last window
        ramp = image[maps_top + height + 4 + COLOUR_BAR_HEIGHT // 2, left + BAR_MARGIN : left + width - BAR_MARGIN]
        assert np.ptp(ramp[:, 2]) > 100 and ramp[0, 2] > ramp[-1, 2]  # its colour bar: viridis from blue to yellow
    footer = image[-TITLE_HEIGHT:, : width]
    assert footer.max() > 200  # the counts' light text on the dark band


def test_the_sheet_has_no_maps_where_no_weave_was_found():
    family = ThreadFamily("vertical threads", 15.0, 90.0, 0.1, np.full((3, 4), 15.0, np.float32), np.zeros((3, 4)), 8)
    weave = SimpleNamespace(data=np.zeros((24, 40), np.float32), multiscale=False)
    panels = [Panel("weave", "weave", weave)]
    assert thread_map_panels(ThreadCount((), "threads/cm", (0.1, 0.1), 32), panels) == []  # a panel painting
    assert thread_map_panels(None, panels) == []  # not counted
    assert thread_map_panels(ThreadCount((family,), "threads/cm", (0.1, 0.1), 32), []) == []  # no weave panel
    (placed,) = thread_map_panels(ThreadCount((family,), "threads/cm", (0.1, 0.1), 32), panels, corner=(2, 3))
    assert placed.box == (2, 3, 24, 32) and placed.title == "vertical threads/cm: 15.0 ± 0.1" and placed.unit == "threads/cm"


def test_a_map_of_even_count_gets_a_range_of_six_percent_and_an_uneven_one_its_own():
    even = np.full((2, 2), 16.0)
    assert map_limits(even, 16.0) == pytest.approx((16.0 - 0.48, 16.0 + 0.48))
    uneven = np.array([[14.0, np.nan], [18.0, 16.0]])
    assert map_limits(uneven, 16.0) == (14.0, 18.0)


def test_the_sheets_thread_line_is_short_and_says_when_there_is_no_weave():
    family = ThreadFamily("vertical threads", 15.74, 89.2, 0.12, np.zeros((1, 1)), np.zeros((1, 1)), 4)
    assert threads_line(ThreadCount((family,), "threads/cm", 0.1, 150)) == "Threads: vertical 15.7 ± 0.1 /cm at 89.2°"
    assert threads_line(ThreadCount((family,), "threads/px", None, 128)).endswith("(per pixel: the pixel spacing is unknown)")
    assert threads_line(ThreadCount((), "threads/cm", 0.1, 150)) == "Threads: no canvas weave was found."


def test_a_whole_paintings_weave_is_counted_on_its_centre_and_mapped_there(monkeypatch):
    from napari.layers import Image

    monkeypatch.setattr("napari_xraysep.plugin.threads.COUNT_AREA", 64)
    weave = Image(np.zeros((100, 150), np.float32), scale=(0.2, 0.2), translate=(5.0, 7.0), units=("mm", "mm"))
    data, pixel_mm, corner = weave_for_counting(weave)
    assert data.shape == (64, 64) and corner == (18, 43) and pixel_mm == pytest.approx((0.2, 0.2))
    assert weave_for_counting(Image(np.zeros((10, 20), np.float32)))[1:] == (None, (0, 0))  # in pixels: per pixel
    family = ThreadFamily("vertical threads", 15.0, 90.0, 0.1, np.full((3, 3), 15.0, np.float32), np.zeros((3, 3)), 8)
    (_, kwargs, _), = thread_map_layers(ThreadCount((family,), "threads/cm", 0.2, 32), weave, 2, corner)
    assert kwargs["name"] == "vertical threads/cm · run 2"
    assert kwargs["translate"] == pytest.approx((5.0 + 0.2 * (18 + 4), 7.0 + 0.2 * (43 + 4)))
    assert kwargs["scale"] == pytest.approx((1.6, 1.6))


def test_the_curtain_cuts_an_rgb_photograph_and_every_level_of_a_pyramid(make_napari_viewer):
    from napari_xraysep.plugin.curtain import Curtain

    viewer = make_napari_viewer()
    rng = np.random.default_rng(0)
    level0 = rng.random((64, 96)).astype(np.float32)
    pyramid = viewer.add_image([level0, level0[::2, ::2], level0[::4, ::4]], multiscale=True, name="pyramid", scale=(0.5, 0.5))
    photo = viewer.add_image(rng.integers(0, 255, (64, 96, 3), dtype=np.uint8), rgb=True, name="photo", scale=(0.5, 0.5))
    curtain = Curtain(viewer, photo, pyramid, 0.3)
    column = curtain.column
    assert column % 4 == 0 and abs(column - 0.3 * 96) <= 2  # a cut every level can make
    assert [level.shape for level in curtain.layer.data] == [(64, 96 - column), (32, (96 - column) // 2), (16, (96 - column) // 4)]
    np.testing.assert_array_equal(curtain.layer.data[1], level0[::2, ::2][:, column // 2 :])
    assert np.allclose(curtain.layer.data_to_world((0, 0)), pyramid.data_to_world((0, column)))
    curtain.swap()  # the photograph on the right: its colours are not columns
    curtain.set_fraction(0.5)
    assert curtain.layer.rgb and curtain.layer.data.shape == (64, 48, 3)
    curtain.close()
    assert [layer.name for layer in viewer.layers] == ["pyramid", "photo"] and pyramid.visible and photo.visible
