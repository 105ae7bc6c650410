"""The plugin in a real napari viewer (under a virtual X server): docked through its manifest."""

from __future__ import annotations

import subprocess
import sys

import numpy as np
import pytest
import tifffile
import torch
from npe2 import PluginManifest
from qtpy.QtWidgets import QApplication

from napari_xraysep import SeparationConfig
from napari_xraysep._reader import napari_get_reader
from napari_xraysep._widget import same_layer, viewer_grid
from napari_xraysep._writer import write_image_tiff

PLUGIN = "napari-xraysep"
TIMEOUT_MS = 60_000


@pytest.fixture
def viewer_and_widget(make_napari_viewer):
    viewer = make_napari_viewer()
    viewer.open_sample(PLUGIN, "concealed_portrait")
    _, widget = viewer.window.add_plugin_dock_widget(PLUGIN, "X-ray separation")
    # Tiny, CPU-only training so a run takes a couple of seconds; never depend on a GPU.
    widget.device.value = "cpu"
    widget.steps.value = 3
    widget.channels.value = 4
    widget.warm_start.value = False  # no shipped weights for 4 channels
    widget.preview_every.value = 2
    yield viewer, widget
    widget.stop()
    if widget.worker is not None:
        widget.worker.quit()


def _wait_done(qtbot, widget):
    qtbot.waitUntil(lambda: widget.worker is None, timeout=TIMEOUT_MS)


def _start_training(widget, qtbot, steps, until_step):
    """Start a training without previews and wait until it has done ``until_step`` steps."""
    widget.steps.value = steps
    widget.preview_every.value = 0
    worker = widget.train()
    qtbot.waitUntil(lambda: widget.progress.value() >= until_step, timeout=TIMEOUT_MS)
    return worker


def _run_layers(viewer, run):
    return {l.metadata["xraysep"]["layer"]: l for l in viewer.layers if l.metadata.get("xraysep", {}).get("run") == run}


def test_npe2_validates_the_installed_plugin():
    # what `npe2 validate napari-xraysep` checks, including that every command's python_name imports
    done = subprocess.run([sys.executable, "-m", "npe2", "validate", PLUGIN], capture_output=True, text=True, check=False)
    assert done.returncode == 0 and "valid" in done.stdout, done.stdout + done.stderr


def test_manifest_declares_every_contribution():
    manifest = PluginManifest.from_distribution(PLUGIN)
    contributions = manifest.contributions
    assert [r.filename_patterns for r in contributions.readers] == [["*.tif", "*.tiff", "*.jpg", "*.jpeg", "*.png", "*.dcm", "*.dicom"]]
    assert contributions.writers[0].layer_types == ["image"]
    assert [s.key for s in contributions.sample_data] == ["concealed_portrait", "copper_headdress", "double_sided_panel"]
    assert contributions.widgets[0].display_name == "X-ray separation"


def test_sample_opens_with_inputs_region_and_truth(viewer_and_widget):
    viewer, widget = viewer_and_widget
    names = [layer.name for layer in viewer.layers]
    assert names[:5] == [
        "surface RGB (synthetic)", "mixed X-ray (synthetic)", "true x1 surface (synthetic)",
        "true x2 hidden (synthetic)", "region (hidden design)",
    ]
    assert viewer.layers["surface RGB (synthetic)"].rgb
    assert widget.rgb_layer.value.name == "surface RGB (synthetic)"
    assert widget.region_layer.value.name == "region (hidden design)"
    assert widget.xray_layer.value.ndim == 2 and not widget.xray_layer.value.rgb


def test_whole_flow_train_preview_results(viewer_and_widget, qtbot):
    viewer, widget = viewer_and_widget
    widget.xray_layer.value = viewer.layers["mixed X-ray (synthetic)"]
    previews = []
    with qtbot.waitSignal(widget.train().yielded, timeout=TIMEOUT_MS):
        pass
    widget.worker.yielded.connect(lambda p: previews.append(p.preview is not None))
    _wait_done(qtbot, widget)
    layers = _run_layers(viewer, 1)
    assert set(layers) == {"x1_hat", "x2_hat", "error_map", "x1", "x2", "weave"}
    x = viewer.layers["mixed X-ray (synthetic)"].data
    for layer in layers.values():
        assert layer.data.shape == x.shape and layer.colormap.name == "gray"
    np.testing.assert_allclose(layers["x1"].data.astype(np.float64) + layers["x2"].data + layers["weave"].data, x, atol=1e-5)
    assert np.abs(layers["weave"].data).max() > 0  # the sample's canvas is found
    assert layers["x2"].name == "x2 hidden · run 1 · mixed X-ray (synthetic)"
    assert layers["x2"].metadata["xraysep"]["steps_trained"] == 3
    assert not any("preview" in l.name for l in viewer.layers)  # previews replaced by the results
    assert widget.progress.value() == 3 and "run 1" in widget.progress.format()
    assert len(widget.loss_plot.history) == 3
    assert widget.save_button.enabled and widget.continue_button.enabled


def test_a_second_run_keeps_the_first_and_continue_adds_steps(viewer_and_widget, qtbot):
    viewer, widget = viewer_and_widget
    widget.train()
    _wait_done(qtbot, widget)
    first_x2 = _run_layers(viewer, 1)["x2"].data.copy()
    widget.continue_training()
    _wait_done(qtbot, widget)
    assert len(_run_layers(viewer, 1)) == 6 and len(_run_layers(viewer, 2)) == 6
    np.testing.assert_array_equal(_run_layers(viewer, 1)["x2"].data, first_x2)
    assert _run_layers(viewer, 2)["x2"].metadata["xraysep"]["steps_trained"] == 6


def test_stop_keeps_the_result_reached_so_far(viewer_and_widget, qtbot):
    viewer, widget = viewer_and_widget
    _start_training(widget, qtbot, steps=100_000, until_step=2)
    widget.stop()
    _wait_done(qtbot, widget)
    layers = _run_layers(viewer, 1)
    assert len(layers) == 6
    assert layers["x2"].metadata["xraysep"]["stopped_early"] is True
    assert "stopped early" in widget.progress.format()


def test_pause_holds_training_and_resume_finishes_it(viewer_and_widget, qtbot):
    viewer, widget = viewer_and_widget
    worker = _start_training(widget, qtbot, steps=400, until_step=1)
    with qtbot.waitSignal(worker.paused, timeout=TIMEOUT_MS):
        widget.toggle_pause()
    assert widget.pause_button.text == "Resume"
    held = widget.progress.value()
    qtbot.wait(300)
    assert widget.progress.value() == held
    QApplication.processEvents()  # the viewer stays responsive while paused
    viewer.camera.zoom = viewer.camera.zoom * 1.5
    with qtbot.waitSignal(worker.resumed, timeout=TIMEOUT_MS):
        widget.toggle_pause()
    widget.stop()  # no need to wait for all 400 steps
    _wait_done(qtbot, widget)
    assert widget.pause_button.text == "Pause" and len(_run_layers(viewer, 1)) == 6


def test_removing_an_input_layer_stops_training(viewer_and_widget, qtbot):
    viewer, widget = viewer_and_widget
    _start_training(widget, qtbot, steps=100_000, until_step=1)
    viewer.layers.remove("surface RGB (synthetic)")
    _wait_done(qtbot, widget)
    assert "was removed during training" in widget.message.text()


def test_save_load_and_apply_model(viewer_and_widget, qtbot, tmp_path):
    viewer, widget = viewer_and_widget
    widget.train()
    _wait_done(qtbot, widget)
    path = widget.save_model_to(tmp_path / "model.pt")
    assert path.exists()
    widget.current_model = None
    assert widget.load_model_from(path) is not None
    widget.apply_model()
    _wait_done(qtbot, widget)
    np.testing.assert_allclose(_run_layers(viewer, 2)["x2"].data, _run_layers(viewer, 1)["x2"].data, atol=1e-5)
    widget.load_model_from(tmp_path / "missing.pt")
    assert "does not exist" in widget.message.text()


@pytest.mark.parametrize("case", ["no xray", "shape mismatch", "no region", "empty region", "degenerate", "bad lr", "bad device"])
def test_invalid_inputs_show_a_message_not_a_traceback(viewer_and_widget, qtbot, case):
    viewer, widget = viewer_and_widget
    expected = {
        "no xray": "Choose the mixed X-ray",
        "shape mismatch": "must be registered",
        "no region": "Choose or draw the region",
        "empty region": "no shapes yet",
        "degenerate": "enclose no pixel",
        "bad lr": "is not a number",
        "bad device": "no CUDA GPU",
    }[case]
    if case == "no xray":
        widget.xray_layer.value = None
    elif case == "shape mismatch":
        widget.xray_layer.value = viewer.add_image(np.random.rand(30, 40), name="small")
    elif case == "no region":  # the auto-encoder needs it (the default colour map does not)
        widget.preset.value = "auto-encoder"
        widget.region_layer.value = None
    elif case == "empty region":
        widget.draw_region()
    elif case == "degenerate":
        viewer.add_shapes([np.array([[5, 5], [5, 50], [5, 20]])], shape_type="polygon", name="flat")
        widget.region_layer.value = viewer.layers["flat"]
    elif case == "bad lr":
        widget.learning_rate.value = "fast please"
    elif case == "bad device":
        widget.device.choices = ["auto", "cpu", "cuda"]
        widget.device.value = "cuda"
    if case == "bad device" and torch.cuda.is_available():
        pytest.skip("a CUDA GPU is present")
    with qtbot.capture_exceptions() as exceptions:
        worker = widget.train()
        if worker is not None:
            _wait_done(qtbot, widget)
    assert not exceptions and worker is None
    assert expected in widget.message.text()
    assert not _run_layers(viewer, 1)


def test_double_sided_panel_from_the_widget(make_napari_viewer, qtbot):
    viewer = make_napari_viewer()
    viewer.open_sample(PLUGIN, "double_sided_panel")
    _, widget = viewer.window.add_plugin_dock_widget(PLUGIN, "X-ray separation")
    widget.device.value, widget.steps.value, widget.channels.value, widget.preview_every.value = "cpu", 2, 4, 0
    widget.warm_start.value = False
    assert widget.back_layer.value is None  # optional: never picked for the user
    assert widget.region_layer.value is None  # and none is needed once the back side is chosen
    widget.rgb_layer.value = viewer.layers["front RGB (synthetic)"]
    widget.back_layer.value = viewer.layers["back RGB, from behind (synthetic)"]
    widget.mirror_back.value = True
    widget.train()
    _wait_done(qtbot, widget)
    layers = _run_layers(viewer, 1)
    assert layers["x2"].name == "x2 back · run 1 · panel X-ray (synthetic)"
    assert layers["x2"].metadata["xraysep"]["double_sided"] and layers["x2"].metadata["xraysep"]["mirror_back"]
    x = viewer.layers["panel X-ray (synthetic)"].data
    total = layers["x1"].data.astype(np.float64) + layers["x2"].data + layers["weave"].data
    np.testing.assert_allclose(total, x, atol=1e-5)

    widget.back_layer.value = widget.rgb_layer.value
    assert widget.train() is None and "is the surface RGB layer" in widget.message.text()


def test_warm_start_follows_the_preset_and_reaches_the_run(viewer_and_widget, qtbot):
    viewer, widget = viewer_and_widget
    widget._apply_preset("paper-faithful")
    assert widget.warm_start.value is False  # no weights ship for the paper's architecture
    widget.preset.value = "auto-encoder"
    assert widget.warm_start.value is True
    widget.channels.value = SeparationConfig.autoencoder().channels  # the architecture the shipped weights have
    widget.steps.value = 1
    widget.warm_start.value = True
    widget.train()
    _wait_done(qtbot, widget)
    assert _run_layers(viewer, 1)["x2"].metadata["xraysep"]["settings"]["warm_start"] is True
    widget.channels.value = 4
    widget.train()
    _wait_done(qtbot, widget)
    assert "No warm-start weights ship for channels=4" in widget.message.text()


def test_draw_region_creates_a_selected_rectangle_tool(viewer_and_widget):
    viewer, widget = viewer_and_widget
    layer = widget.draw_region()
    assert layer.name.startswith("region (hidden design)")
    # the widget sees napari's public proxy of the layer: compare through it
    assert same_layer(viewer.layers.selection.active, layer) and layer.mode == "add_rectangle"
    assert same_layer(widget.region_layer.value, layer)


def test_compare_side_by_side_and_back(viewer_and_widget, qtbot):
    viewer, widget = viewer_and_widget
    widget.train()
    _wait_done(qtbot, widget)
    before = {layer.name: layer.visible for layer in viewer.layers}
    widget.toggle_compare()
    visible = [layer.name for layer in viewer.layers if layer.visible]
    assert viewer_grid(viewer).enabled and len(visible) == 4
    assert widget.xray_layer.value.name in visible
    assert {viewer.layers[n].metadata.get("xraysep", {}).get("layer") for n in visible} >= {"x1", "x2", "error_map"}
    widget.toggle_compare()
    assert not viewer_grid(viewer).enabled
    assert {layer.name: layer.visible for layer in viewer.layers} == before


def test_reader_and_writer_round_trip_values_and_provenance(viewer_and_widget, qtbot, tmp_path):
    viewer, widget = viewer_and_widget
    widget.train()
    _wait_done(qtbot, widget)
    layer = _run_layers(viewer, 1)["x2"]
    path = str(tmp_path / "x2.tif")
    assert write_image_tiff(path, layer.data, layer._get_state()) == [path]
    reader = napari_get_reader(path)
    data, kwargs, kind = reader(path)[0]
    assert kind == "image" and not kwargs["rgb"]
    np.testing.assert_array_equal(np.asarray(data), layer.data)
    assert np.asarray(data).dtype == np.float32
    assert kwargs["metadata"]["xraysep"]["layer"] == "x2" and kwargs["metadata"]["xraysep"]["run"] == 1


def test_reader_handles_rgb_pyramids_and_refuses_politely(tmp_path):
    rgb_path = tmp_path / "photo.tif"
    tifffile.imwrite(rgb_path, np.zeros((20, 30, 3), np.uint8))
    data, kwargs, _ = napari_get_reader(str(rgb_path))(str(rgb_path))[0]
    assert kwargs["rgb"] and data.shape == (20, 30, 3)
    pyramid = tmp_path / "pyramid.tif"
    with tifffile.TiffWriter(pyramid) as tif:
        tif.write(np.zeros((64, 64), np.uint16), subifds=1)
        tif.write(np.zeros((32, 32), np.uint16), subfiletype=1)
    data, kwargs, _ = napari_get_reader(str(pyramid))(str(pyramid))[0]
    assert kwargs["multiscale"] and [d.shape for d in data] == [(64, 64), (32, 32)]
    assert napari_get_reader(str(tmp_path / "notes.txt")) is None
    broken = tmp_path / "broken.tif"
    broken.write_bytes(b"II*\x00garbage")
    with pytest.raises(ValueError, match="cannot read broken.tif"):
        napari_get_reader(str(broken))(str(broken))


def test_the_docked_widget_is_drawn(viewer_and_widget, qtbot):
    _viewer, widget = viewer_and_widget
    QApplication.processEvents()
    # the test viewer's window is hidden: check the widget is docked in it and its controls shown within
    assert widget.window() is not widget and widget.train_button.native.isVisibleTo(widget)
    image = widget.grab().toImage()
    assert image.width() > 200 and image.height() > 300
    # a drawn form has many distinct colours (text, fields, buttons), an empty panel one or two
    colours = {image.pixel(x, y) for x in range(0, image.width(), 7) for y in range(0, image.height(), 7)}
    assert len(colours) > 20


def test_closing_the_widget_stops_training_and_ignores_late_signals(viewer_and_widget, qtbot):
    viewer, widget = viewer_and_widget
    worker = _start_training(widget, qtbot, steps=100_000, until_step=1)
    stop_event, layers_before = widget.stop_event, len(viewer.layers)
    with qtbot.waitSignal(worker.finished, timeout=TIMEOUT_MS), qtbot.capture_exceptions() as exceptions:
        viewer.window.remove_dock_widget(widget)
        widget.deleteLater()
        qtbot.waitUntil(stop_event.is_set, timeout=TIMEOUT_MS)
    assert not exceptions
    assert len(viewer.layers) == layers_before  # the late result reached no deleted widget


def test_files_open_in_napari_as_the_cli_reads_them_and_the_widget_separates_them(make_napari_viewer, qtbot, tmp_path):
    from PIL import Image

    from napari_xraysep.io import read_image
    from napari_xraysep.synthetic import make_mixture

    mixture = make_mixture("concealed_portrait", (48, 64), seed=3)
    xray = (mixture.x_mixed - mixture.x_mixed.min()) / np.ptp(mixture.x_mixed) * 60000 + 2000
    x_path, rgb_path = tmp_path / "xray.tif", tmp_path / "photo.jpg"
    # the X-ray as an archive stores it (MinIsWhite, LZW), the photograph upright only through its EXIF tag
    tifffile.imwrite(x_path, (65535 - xray).astype(np.uint16), photometric="miniswhite", compression="lzw")
    exif = Image.Exif()
    exif[0x0112] = 8  # rotated 90° to the left when stored
    Image.fromarray(np.rot90((mixture.rgb_surface * 255).astype(np.uint8), -1)).save(rgb_path, quality=95, exif=exif)
    viewer = make_napari_viewer()
    (x_layer,) = viewer.open(str(x_path), plugin=PLUGIN)
    (rgb_layer,) = viewer.open(str(rgb_path), plugin=PLUGIN)
    np.testing.assert_array_equal(np.asarray(x_layer.data), read_image(x_path))  # what the CLI separates
    np.testing.assert_array_equal(np.asarray(rgb_layer.data), read_image(rgb_path))
    assert rgb_layer.rgb and rgb_layer.data.shape == (48, 64, 3)
    np.testing.assert_allclose(np.asarray(x_layer.data), np.round(xray), atol=1)  # dense = bright again
    _, widget = viewer.window.add_plugin_dock_widget(PLUGIN, "X-ray separation")
    widget.device.value, widget.steps.value, widget.preview_every.value = "cpu", 2, 0
    widget.xray_layer.value, widget.rgb_layer.value = x_layer, rgb_layer
    widget.region_layer.value = viewer.add_labels(mixture.region_mask.astype(np.uint8), name="region")
    widget.train()
    _wait_done(qtbot, widget)
    layers = _run_layers(viewer, 1)
    assert len(layers) == 6 and layers["x2"].data.shape == (48, 64)
