"""Where the docks put what they make, as a tester moved, rotated, scaled, removed and reopened things
while they worked (docs/troubleshooting.md): results and aligned photographs lie over the X-ray they
came from, pixel for pixel, and nothing is placed by a layer that was not the one used."""

import numpy as np
import pytest
from conftest import PLUGIN, dock, wait_done
from qtpy.QtWidgets import QMessageBox

from napari_xraysep.datasets.synthetic import make_mixture
from napari_xraysep.plugin.layers import METADATA_KEY
from napari_xraysep.plugin.threads import run_weave_layer

ALIGN = "Align photograph"


def _pair(viewer, shape=(64, 96), seed=3, suffix="", xray_kwargs=None, photo_kwargs=None):
    case = make_mixture("concealed_portrait", shape=shape, seed=seed)
    photo = viewer.add_image(case.rgb_surface, name=f"photo{suffix}", rgb=True, **(photo_kwargs or {}))
    xray = viewer.add_image(case.x_mixed, name=f"xray{suffix}", colormap="gray", **(xray_kwargs or {}))
    return xray, photo


def _results(viewer, run):
    records = ((layer, layer.metadata.get(METADATA_KEY)) for layer in viewer.layers)
    return {
        record["layer"]: layer
        for layer, record in records
        if isinstance(record, dict) and record.get("run") == run and "layer" in record
    }


def _over(layer, reference, pixel=(10.0, 20.0)):
    return np.allclose(layer.data_to_world(pixel), reference.data_to_world(pixel), atol=1e-6)


def test_results_lie_over_a_rotated_and_sheared_xray(make_napari_viewer, qtbot):
    """Results had only the X-ray's scale and translate: under an X-ray turned 30°, x2's pixel (10, 20)
    lay 12 px from the X-ray's."""
    viewer = make_napari_viewer()
    placed = {"rotate": 30, "scale": (0.5, 0.5), "translate": (3, -4), "shear": [0.1]}
    xray, _ = _pair(viewer, xray_kwargs=placed, photo_kwargs=placed)
    widget = dock(viewer)
    widget.train()
    wait_done(qtbot, widget)
    results = _results(viewer, 1)
    assert {"x1", "x2", "weave", "error_map"} <= set(results)
    assert all(_over(layer, xray) and _over(layer, xray, (40.0, 70.0)) for layer in results.values())


def test_a_pixel_size_typed_during_a_run_places_its_results_with_the_xray(make_napari_viewer, qtbot):
    """Typed while the run went on, the X-ray went to 0.1 mm and the results came at scale 1 in pixels."""
    viewer = make_napari_viewer()
    xray, _ = _pair(viewer)
    widget = dock(viewer)
    widget.train()  # its results come through the event loop: the run is still going on below
    assert widget.worker is not None
    widget.inputs.pixel_size.value = "0.1 mm"
    widget.inputs.give_pixel_size()
    wait_done(qtbot, widget)
    results = _results(viewer, 1)
    assert np.allclose(xray.scale, 0.1) and results
    for layer in results.values():
        assert np.allclose(layer.scale, 0.1) and tuple(map(str, layer.units)) == tuple(map(str, xray.units))


def test_a_pixel_size_moves_what_lies_over_the_xray_and_not_another_painting(make_napari_viewer):
    viewer = make_napari_viewer()
    xray, photo = _pair(viewer)
    finer = viewer.add_image(np.zeros((128, 192, 3), np.float32), name="finer photo", rgb=True, scale=(0.5, 0.5))
    other = viewer.add_image(np.zeros((200, 300), np.float32), name="another painting's X-ray")
    beside = viewer.add_image(np.zeros((80, 100), np.float32), name="a third painting beside", translate=(0, 120))
    region = viewer.add_shapes([np.array([[5, 5], [5, 40], [30, 40], [30, 5]], float)], name="region")
    widget = dock(viewer)
    widget.inputs.xray.value = xray
    widget.inputs.pixel_size.value = "0.1 mm"
    widget.inputs.give_pixel_size()
    assert np.allclose(other.scale, 1) and str(other.units[-1]) == "pixel"
    assert np.allclose(beside.scale, 1) and np.allclose(beside.translate, (0, 120))
    assert np.allclose(finer.scale, 0.05) and str(finer.units[-1]) in ("mm", "millimeter")
    assert _over(photo, xray) and _over(region, xray)
    assert np.allclose(finer.data_to_world((2, 2)), xray.data_to_world((1, 1)))  # still over the same pixel


@pytest.fixture
def align_dock(make_napari_viewer, monkeypatch):
    monkeypatch.setattr(QMessageBox, "question", lambda *args, **kwargs: QMessageBox.StandardButton.Yes)
    viewer = make_napari_viewer()
    xray, photo = _pair(viewer, shape=(128, 160))
    _, widget = viewer.window.add_plugin_dock_widget(PLUGIN, ALIGN)
    widget.xray_layer.value, widget.rgb_layer.value = xray, photo
    return viewer, widget, xray, photo


def test_an_xray_removed_while_aligning_adds_nothing_and_says_so(align_dock, qtbot):
    """It had raised AttributeError in the dock and left "Estimating the alignment…" for good."""
    viewer, widget, xray, _ = align_dock
    widget.align_automatically()
    viewer.layers.remove(xray)
    qtbot.waitUntil(lambda: not widget.message.text().endswith("…"), timeout=60_000)  # no stage under way
    assert "removed" in widget.message.text() and "xray" in widget.message.text()
    assert "photo · aligned" not in viewer.layers


def test_the_aligned_photograph_lies_on_the_xray_it_was_aligned_to(align_dock, qtbot):
    """Another X-ray chosen while estimating: the photograph had been placed by its scale and position."""
    viewer, widget, xray, _ = align_dock
    xray.rotate = 20
    other = viewer.add_image(np.zeros((40, 50), np.float32), name="other xray", scale=(3, 3), translate=(100, 100))
    widget.align_automatically()
    widget.xray_layer.value = other
    qtbot.waitUntil(lambda: not widget.message.text().endswith("…"), timeout=60_000)  # no stage under way
    aligned = viewer.layers["photo · aligned"]
    assert aligned.data.shape[:2] == xray.data.shape and _over(aligned, xray, (50.0, 60.0))
    assert "'xray'" in widget.message.text()


def test_check_alignment_reads_the_photograph_as_the_viewer_shows_it(align_dock):
    """A photograph shown at half size over the X-ray had been told it was aligned to within a pixel."""
    _, widget, _, photo = align_dock
    assert widget.check().startswith("Aligned to within a pixel")
    photo.scale = (0.5, 0.5)
    said = widget.check()
    assert said.startswith("As the viewer shows it") and "Aligned to within a pixel" not in said


def test_a_reopened_dock_numbers_its_runs_after_the_viewers(make_napari_viewer, qtbot):
    """Reopened, it began at run 1 again: Count threads then found the first X-ray's 'weave · run 1'."""
    viewer = make_napari_viewer()
    _pair(viewer)
    widget = dock(viewer)
    widget.train()
    wait_done(qtbot, widget)
    viewer.window.remove_dock_widget(widget)
    second_xray, second_photo = _pair(viewer, seed=9, suffix=" B")
    again = dock(viewer)
    again.inputs.xray.value, again.inputs.photo.value = second_xray, second_photo
    again.train()
    wait_done(qtbot, again)
    number = again.runner.last_run.number
    assert number == 2 and run_weave_layer(viewer, number).metadata[METADATA_KEY]["source"] == "xray B"


def test_train_pressed_while_a_stopped_run_ends_says_it_is_stopping(make_napari_viewer, qtbot):
    """After Stop, Train said "A run is going on; stop it first." to a user who just had."""
    viewer = make_napari_viewer()
    _pair(viewer)
    widget = dock(viewer)
    widget.train()
    widget.stop()
    assert widget.train() is None and "stopping" in widget.message.text()
    wait_done(qtbot, widget)


def test_the_curtain_lies_over_a_rotated_result(make_napari_viewer, qtbot):
    """The curtain's B had B's scale and translate only: under an X-ray turned 30° its columns lay
    24 px off, unrotated."""
    from napari_xraysep.plugin.curtain import Curtain

    viewer = make_napari_viewer()
    placed = {"rotate": 30, "translate": (3, -4)}
    xray, _ = _pair(viewer, xray_kwargs=placed, photo_kwargs=placed)
    widget = dock(viewer)
    widget.train()
    wait_done(qtbot, widget)
    x2 = _results(viewer, 1)["x2"]
    curtain = Curtain(viewer, xray, x2, 0.5)
    column = curtain.column
    assert column > 0 and _over(curtain.layer, x2, (0.0, 0.0)) is False  # its first column is x2's `column`
    assert np.allclose(curtain.layer.data_to_world((20.0, 5.0)), x2.data_to_world((20.0, column + 5.0)))
    assert np.allclose(curtain.divider.data_to_world(curtain.divider.data[0][0]), x2.data_to_world((0.0, column)))
    # the divider is found under the pointer wherever B is turned
    assert curtain.fraction_at(x2.data_to_world((10.0, 0.25 * x2.data.shape[1]))) == pytest.approx(0.25)


def test_the_align_dock_keeps_its_buttons_whole_under_the_separation_dock_with_a_long_report(make_napari_viewer, qtbot):
    """Docked under the separation dock in a 950-px window, a five-line report squeezed the Align dock's
    four buttons to half their height, their labels cut through: the report scrolls instead."""
    from qtpy.QtWidgets import QApplication

    viewer = make_napari_viewer(show=True)
    viewer.window._qt_window.resize(1500, 950)
    dock(viewer)
    _, widget = viewer.window.add_plugin_dock_widget(PLUGIN, ALIGN)
    widget.show_message(" ".join(["The photograph was aligned by a similarity; 98 % of the regions agree."] * 8))
    for _ in range(5):
        QApplication.processEvents()
    buttons = (widget.check_button, widget.auto_button, widget.add_points_button, widget.points_button)
    # 9 px of 24 each before; a pixel or two of a layout's rounding is no harm
    assert all(button.native.height() >= 0.9 * button.native.sizeHint().height() for button in buttons)
