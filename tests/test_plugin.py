"""The plugin in a real napari viewer (under a virtual X server): docked through its manifest, run as
a user runs it. The run state and the comparison have tests of their own (test_widget_state.py,
test_compare.py)."""

from __future__ import annotations

import re
import subprocess
import sys

import numpy as np
import pytest
import tifffile
import torch
from conftest import PLUGIN, RUN_TIMEOUT_MS, dock, wait_done
from npe2 import PluginManifest
from qtpy.QtWidgets import QApplication, QGroupBox

from napari_xraysep import SeparationConfig
from napari_xraysep.plugin.compare import FLIP_KEY
from napari_xraysep.plugin.inputs import REGION_HINTS
from napari_xraysep.plugin.layers import same_layer
from napari_xraysep.plugin.reader import napari_get_reader
from napari_xraysep.plugin.separation import CUSTOM
from napari_xraysep.plugin.writer import write_image_tiff


@pytest.fixture
def viewer_and_widget(make_napari_viewer):
    viewer = make_napari_viewer()
    widget = dock(viewer, "concealed_portrait", preview_every=2)
    yield viewer, widget
    widget.stop()
    if widget.worker is not None:
        widget.worker.quit()


def _start_training(widget, qtbot, steps, until_step):
    """Start a training without previews and wait until it has done ``until_step`` steps."""
    widget.separation.steps.value = steps
    widget.separation.preview_every.value = 0
    worker = widget.train()
    qtbot.waitUntil(lambda: widget.run.progress.value() >= until_step, timeout=RUN_TIMEOUT_MS)
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
    command = next(c for c in contributions.commands if c.id == contributions.widgets[0].command)
    assert command.python_name == "napari_xraysep.plugin.dock:XraySeparationWidget"


def test_sample_opens_with_inputs_region_and_truth(viewer_and_widget):
    viewer, widget = viewer_and_widget
    names = [layer.name for layer in viewer.layers]
    assert names[:5] == [
        "surface RGB (synthetic)", "mixed X-ray (synthetic)", "true x1 surface (synthetic)",
        "true x2 hidden (synthetic)", "region (hidden design)",
    ]
    assert viewer.layers["surface RGB (synthetic)"].rgb
    assert widget.inputs.photo.value.name == "surface RGB (synthetic)"
    assert widget.inputs.region.value.name == "region (hidden design)"
    assert widget.inputs.xray.value.ndim == 2 and not widget.inputs.xray.value.rgb


def test_four_panels_follow_the_work_and_the_expert_settings_wait_in_advanced(make_napari_viewer):
    widget = dock(make_napari_viewer(), "concealed_portrait")
    titles = [box.title() for box in widget.findChildren(QGroupBox)]
    assert titles == ["Inputs", "Separation", "Run", "Results"]
    separation = widget.separation
    assert not separation.advanced.isExpanded()
    # each method's controls come from its settings type's labelled fields
    assert list(separation.controls["colour_map"]) == ["clusters", "colour_degree", "psf_radius", "passes", "region_weight", "weave"]
    assert list(separation.controls["autoencoder"]) == ["channels", "exclusion_weight", "warm_start", "learning_rate"]
    colour_map, autoencoder = (list(separation.controls[method].values()) for method in ("colour_map", "autoencoder"))
    expert = [separation.steps, separation.seed, separation.device, separation.preview_every, *colour_map, *autoencoder]
    assert all(len(setting.tooltip or "") > 30 for setting in expert)  # each says what it changes
    # only the chosen method's settings are shown
    separation.advanced.expand(animate=False)

    def shown(settings):
        return [s.native.isVisibleTo(separation) for s in settings]

    assert all(shown(colour_map)) and not any(shown(autoencoder))
    # what real files carry, for every method: switches that are on by default and go into the run's settings
    switches = list(separation.run_controls.values())
    assert list(separation.run_controls) == ["detect_support", "mark_defects", "stretcher_bars"]
    assert all(shown(switches)) and all(s.value for s in switches) and all(len(s.tooltip) > 30 for s in switches)
    separation.mark_defects.value = False
    config, form = separation.settings()
    assert form["mark_defects"] is False and form["detect_support"] is True
    assert SeparationConfig(**form).mark_defects is False
    separation.apply_preset("default")  # a preset puts them back
    assert separation.mark_defects.value is True
    assert widget.inputs.region_hint.text() == REGION_HINTS["ignored"]
    separation.preset.value = "autoencoder"
    assert not any(shown(colour_map)) and all(shown(autoencoder))
    assert widget.inputs.region_hint.text() == REGION_HINTS["required"]
    widget.inputs.back.value = widget.inputs.photo.value
    assert widget.inputs.region_hint.text() == REGION_HINTS["unused"]


def test_quality_sets_the_steps_and_steps_set_by_hand_are_custom(make_napari_viewer):
    separation = dock(make_napari_viewer()).separation
    separation.preset.value = "default"
    separation.quality.value = "Standard (as benchmarked)"
    assert separation.steps.value == SeparationConfig().training_steps == 12
    separation.quality.value = "Quick look (half the time)"
    assert separation.steps.value == 6
    separation.quality.value = "Thorough (three times as long)"
    assert separation.steps.value == 36
    separation.preset.value = "autoencoder"  # the factor applies to the preset's own steps
    assert separation.steps.value == 3 * SeparationConfig.autoencoder().training_steps
    assert separation.preview_every.value == 25  # the preset sets the preview interval too
    separation.preset.value = "default"
    assert separation.preview_every.value == 4 and separation.steps.value == 36  # once a colour-map pass
    separation.preset.value = "autoencoder"
    separation.steps.value = 7
    assert separation.quality.value == CUSTOM
    separation.steps.value = 100
    assert separation.quality.value == "Quick look (half the time)"
    # Steps typed by hand stay with their method: another method starts from its Standard; the seed is the user's.
    separation.steps.value, separation.seed.value = 30, 7
    separation.preset.value = "paper"  # the same method (an auto-encoder): Custom kept
    assert separation.steps.value == 30 and separation.quality.value == CUSTOM and separation.seed.value == 7
    separation.preset.value = "default"
    assert separation.quality.value == "Standard (as benchmarked)" and separation.steps.value == 12
    assert separation.seed.value == 7


def test_whole_flow_train_preview_results(viewer_and_widget, qtbot):
    viewer, widget = viewer_and_widget
    widget.inputs.xray.value = viewer.layers["mixed X-ray (synthetic)"]
    previews = []
    with qtbot.waitSignal(widget.train().yielded, timeout=RUN_TIMEOUT_MS):
        pass
    widget.worker.yielded.connect(lambda p: previews.append(getattr(p, "preview", None) is not None))
    wait_done(qtbot, widget)
    layers = _run_layers(viewer, 1)
    assert set(layers) == {"x1_hat", "x2_hat", "error_map", "x1", "x2", "weave"}
    x = viewer.layers["mixed X-ray (synthetic)"].data
    for layer in layers.values():
        assert layer.data.shape == x.shape and layer.colormap.name == "gray"
    np.testing.assert_allclose(layers["x1"].data.astype(np.float64) + layers["x2"].data + layers["weave"].data, x, atol=1e-5)
    assert np.abs(layers["weave"].data).max() > 0  # the sample's canvas is found
    assert layers["x2"].name == "x2 hidden · run 1"
    assert layers["x2"].metadata["xraysep"]["steps_trained"] == 3
    assert True in previews  # step 2 brought a preview
    assert not any("preview" in l.name for l in viewer.layers)  # previews replaced by the results
    assert widget.run.progress.value() == 3 and "run 1" in widget.run.progress.format()
    # the colour map's loss terms, with a legend saying which line is which
    plot = widget.run.loss_plot
    assert len(plot.history) == 3 and plot.terms == ["total", "residual_scale"]
    assert "total" in plot.legend.text() and "unexplained X-ray" in plot.legend.text() and "exclusion" not in plot.legend.text()
    assert widget.results.save_button.enabled and widget.run.continue_button.enabled


def test_the_auto_encoder_plots_its_own_terms(viewer_and_widget, qtbot):
    _viewer, widget = viewer_and_widget
    widget.separation.preset.value = "autoencoder"
    widget.separation.channels.value, widget.separation.warm_start.value, widget.separation.steps.value = 4, False, 3
    widget.train()
    wait_done(qtbot, widget)
    assert widget.run.loss_plot.terms == ["total", "exclusion", "mixture"]
    assert all(term in widget.run.loss_plot.legend.text() for term in ("total", "exclusion", "mixture"))
    assert "Compare side by side shows x, x1, x2 and the error map, titled" in widget.message.text()
    widget.results.toggle_compare()  # the auto-encoder finds no weave: no empty panel for it
    shown = [layer.metadata.get("xraysep", {}).get("layer", "x") for layer in _viewer.layers if layer.visible]
    assert shown == ["x", "x1", "x2", "error_map"]


def test_a_second_run_keeps_the_first_and_continue_adds_steps(viewer_and_widget, qtbot):
    viewer, widget = viewer_and_widget
    widget.train()
    wait_done(qtbot, widget)
    first_x2 = _run_layers(viewer, 1)["x2"].data.copy()
    widget.continue_training()
    wait_done(qtbot, widget)
    assert len(_run_layers(viewer, 1)) == 6 and len(_run_layers(viewer, 2)) == 6
    np.testing.assert_array_equal(_run_layers(viewer, 1)["x2"].data, first_x2)
    assert _run_layers(viewer, 2)["x2"].metadata["xraysep"]["steps_trained"] == 6


def test_stop_keeps_the_result_reached_so_far(viewer_and_widget, qtbot):
    viewer, widget = viewer_and_widget
    _start_training(widget, qtbot, steps=100_000, until_step=2)
    widget.stop()
    wait_done(qtbot, widget)
    layers = _run_layers(viewer, 1)
    assert len(layers) == 6
    assert layers["x2"].metadata["xraysep"]["stopped_early"] is True
    assert "stopped early" in widget.run.progress.format()
    # of how many steps (a tester read "stopped early at 7 steps" without the 2000 asked for)
    assert re.search(r"stopped early after \d+ of 100000 steps", widget.message.text()), widget.message.text()


def test_pause_holds_training_and_resume_finishes_it(viewer_and_widget, qtbot):
    viewer, widget = viewer_and_widget
    worker = _start_training(widget, qtbot, steps=400, until_step=1)
    with qtbot.waitSignal(worker.paused, timeout=RUN_TIMEOUT_MS):
        widget.run.pause_button.native.click()
    assert widget.run.pause_button.text == "Resume"
    held = widget.run.progress.value()
    qtbot.wait(300)
    assert widget.run.progress.value() == held
    QApplication.processEvents()  # the viewer stays responsive while paused
    viewer.camera.zoom = viewer.camera.zoom * 1.5
    with qtbot.waitSignal(worker.resumed, timeout=RUN_TIMEOUT_MS):
        widget.run.pause_button.native.click()
    widget.stop()  # no need to wait for all 400 steps
    wait_done(qtbot, widget)
    assert widget.run.pause_button.text == "Pause" and len(_run_layers(viewer, 1)) == 6


def test_removing_an_input_layer_stops_training(viewer_and_widget, qtbot):
    viewer, widget = viewer_and_widget
    _start_training(widget, qtbot, steps=100_000, until_step=1)
    viewer.layers.remove("surface RGB (synthetic)")
    wait_done(qtbot, widget)
    assert "was removed during training" in widget.message.text()


def test_a_run_stopped_before_its_first_step_adds_no_layers(viewer_and_widget, qtbot):
    """A new user's finding: Stop right after Train (or an input removed) added six result layers of an
    untrained model (x2 18.1 dB where trained 29.6) and a pigment note about them."""
    viewer, widget = viewer_and_widget
    before = [layer.name for layer in viewer.layers]
    widget.separation.steps.value = 100_000
    assert widget.train() is not None
    widget.stop()  # before the worker's first step
    wait_done(qtbot, widget)
    assert [layer.name for layer in viewer.layers] == before  # no result, preview or pigment layer
    assert "Stopped before the first training step: nothing was trained" in widget.message.text()
    assert widget.run.progress.format() == "stopped" and widget.current_model is None
    widget.separation.steps.value = 2  # and the dock trains again as before
    widget.train()
    wait_done(qtbot, widget)
    assert len(_run_layers(viewer, 1)) == 6


def test_save_load_and_apply_model(viewer_and_widget, qtbot, tmp_path):
    viewer, widget = viewer_and_widget
    widget.train()
    wait_done(qtbot, widget)
    path = widget.results.save_model_to(tmp_path / "model.pt")
    assert path.exists() and "run 1" in widget.message.text()
    assert widget.results.load_model_from(path) is not None and "model.pt" in widget.message.text()
    assert "it needs one photograph." in widget.message.text()  # what applying it takes
    assert widget.current_model is not widget.runner.last_run.result.model  # the loaded one is current
    widget.apply_model()
    wait_done(qtbot, widget)
    np.testing.assert_allclose(_run_layers(viewer, 2)["x2"].data, _run_layers(viewer, 1)["x2"].data, atol=1e-5)
    assert widget.run.progress.format().startswith("run 2: applied")
    assert widget.run.progress.value() == widget.run.progress.maximum()  # done, not "0 of 1"
    # a one-sided model with a back side chosen: refused at once, no run started
    widget.inputs.back.value = viewer.layers["surface RGB (synthetic)"]
    assert widget.apply_model() is None and "fitted to a single photograph" in widget.message.text()
    widget.inputs.back.value = None
    widget.results.load_model_from(tmp_path / "missing.pt")
    assert "does not exist" in widget.message.text()
    # A model made with a real-file switch off is loaded with it off, so the dock applies it as the CLI does.
    import dataclasses

    from napari_xraysep.io import load_model, save_model

    made = load_model(path)
    made.config = dataclasses.replace(made.config, mark_defects=False)
    save_model(made, tmp_path / "unmarked.pt")
    widget.results.load_model_from(tmp_path / "unmarked.pt")
    assert widget.separation.mark_defects.value is False and widget.separation.detect_support.value is True
    assert "shown under Advanced" in widget.message.text()
    assert widget.separation.settings(widget.current_model)[1]["mark_defects"] is False


def test_a_runs_warnings_reach_the_message_line_and_stay_in_its_last_message(viewer_and_widget, qtbot):
    viewer, widget = viewer_and_widget
    photo = viewer.layers["surface RGB (synthetic)"]
    widget.inputs.photo.value = viewer.add_image(photo.data[:, ::-1].copy(), rgb=True, name="mirrored photo")
    widget.train()
    wait_done(qtbot, widget)
    text = widget.message.text()
    assert text.startswith("Run 1: model trained for") and "Warning: The photograph explains almost none" in text
    assert "ff6b6b" in widget.message.styleSheet()  # said as a problem, not as a success
    # A library's numerical warning in the worker is not the user's concern: only logged.
    before = list(widget.runner.record.warnings)
    numerical = (RuntimeWarning("Mean of empty slice"), RuntimeWarning, "numpy/x.py", 1)
    widget.runner._on_warning(widget.runner.record, numerical)
    assert widget.runner.record.warnings == before and widget.message.text() == text


def test_what_preparing_a_run_warns_of_is_the_runs_and_other_threads_warnings_are_not(viewer_and_widget, qtbot):
    import warnings

    viewer, widget = viewer_and_widget
    photo = viewer.layers["surface RGB (synthetic)"].data
    opaque = np.full(photo.shape[:2] + (1,), 1.0, photo.dtype)
    widget.inputs.photo.value = viewer.add_image(np.concatenate([photo, opaque], -1), rgb=True, name="RGBA photo")
    worker = _start_training(widget, qtbot, steps=100_000, until_step=1)  # the alpha is dropped on the main thread
    # while it trains, another part of the plugin warns on the main thread: not this run's to say
    warnings.warn_explicit("not the run's", UserWarning, "/site-packages/napari_xraysep/io/modelfile.py", 1)
    widget.stop()
    wait_done(qtbot, widget)
    assert worker is not None
    assert "Warning: The surface RGB image has an alpha channel; it is ignored." in widget.message.text()
    assert "not the run's" not in widget.message.text()


def test_a_failed_runs_message_keeps_what_it_warned_of(viewer_and_widget, qtbot, monkeypatch):
    import warnings

    from napari_xraysep.core.errors import InputError
    from napari_xraysep.plugin import runner

    def warns_then_fails(**_):
        units = "The X-ray is not in the units the model was trained in."
        warnings.warn_explicit(units, UserWarning, "napari_xraysep/core/x.py", 1)
        yield from ()
        raise InputError("The painting area is empty.")

    monkeypatch.setattr(runner, "iter_run", warns_then_fails)
    _viewer, widget = viewer_and_widget
    widget.train()
    wait_done(qtbot, widget)
    said = widget.message.text()
    assert said == "The painting area is empty. Warning: The X-ray is not in the units the model was trained in."


@pytest.mark.parametrize(
    "case",
    ["no xray", "shape mismatch", "no region", "empty region", "degenerate", "bad lr", "bad device", "side map size"],
)
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
        # refused before the run starts, with advice that can work (`xraysep align` takes colour photographs)
        "side map size": "side channel 1 ('XRF Cu (coarse)') is 30×40; they must be registered (aligned pixel for pixel) and the same "
        "size: resample it onto the X-ray's grid with the transform that registers its photograph",
    }[case]
    if case == "no xray":
        widget.inputs.xray.value = None
    elif case == "shape mismatch":
        widget.inputs.xray.value = viewer.add_image(np.random.rand(30, 40), name="small")
    elif case == "no region":  # the auto-encoder needs it (the default colour map does not)
        widget.separation.preset.value = "autoencoder"
        widget.inputs.region.value = None
    elif case == "empty region":  # refused by the auto-encoder, which needs the region (the colour map runs without)
        widget.separation.preset.value = "autoencoder"
        widget.inputs.draw_region()
    elif case == "degenerate":
        widget.separation.preset.value = "autoencoder"
        viewer.add_shapes([np.array([[5, 5], [5, 50], [5, 20]])], shape_type="polygon", name="flat")
        widget.inputs.region.value = viewer.layers["flat"]
    elif case == "bad lr":  # an auto-encoder setting
        widget.separation.preset.value = "autoencoder"
        widget.separation.learning_rate.value = "fast please"
    elif case == "side map size":
        widget.inputs.side_channels.value = [viewer.add_image(np.random.rand(30, 40), name="XRF Cu (coarse)")]
    elif case == "bad device":
        widget.separation.device.choices = ["auto", "cpu", "cuda"]
        widget.separation.device.value = "cuda"
    if case == "bad device" and torch.cuda.is_available():
        pytest.skip("a CUDA GPU is present")
    with qtbot.capture_exceptions() as exceptions:
        worker = widget.train()
        if worker is not None:
            wait_done(qtbot, widget)
    assert not exceptions and worker is None
    assert expected in widget.message.text()
    assert not _run_layers(viewer, 1) and widget.status.state.value == "idle"


def test_the_colour_map_trains_without_the_shapes_of_a_region_layer_left_empty(viewer_and_widget, qtbot):
    """Draw region, then Train without drawing: the colour map needs no region, so it runs as without one
    (the auto-encoder refuses it: test_invalid_inputs_show_a_message_not_a_traceback)."""
    viewer, widget = viewer_and_widget
    widget.inputs.draw_region()
    worker = widget.train()  # the warning that says so is napari's notification, from the worker
    assert worker is not None, widget.message.text()
    wait_done(qtbot, widget)
    assert len(_run_layers(viewer, 1)) == 6


def test_a_users_no_region_stays_chosen_after_a_run_and_new_layers(viewer_and_widget, qtbot):
    """The sample's region is picked for the user; once they choose "no region", neither a run's result
    layers nor a new Shapes layer picks it again; Draw region (a region they ask for) is picked."""
    viewer, widget = viewer_and_widget
    assert widget.inputs.region.value is viewer.layers["region (hidden design)"]
    widget.inputs.region.value = None
    widget.train()
    wait_done(qtbot, widget)
    assert len(_run_layers(viewer, 1)) == 6 and widget.inputs.region.value is None
    viewer.add_shapes([np.array([[5, 5], [5, 50], [40, 50], [40, 5]])], shape_type="polygon", name="notes")
    assert widget.inputs.region.value is None
    drawn = widget.inputs.draw_region()
    assert widget.inputs.region.value.name == drawn.name
    viewer.layers.remove(drawn)  # the user's region gone: a region is picked again, as for a new user
    assert widget.inputs.region.value is not None


def test_double_sided_panel_from_the_widget(make_napari_viewer, qtbot):
    viewer = make_napari_viewer()
    widget = dock(viewer, "double_sided_panel", steps=2)
    assert widget.inputs.back.value is None  # optional: never picked for the user
    assert widget.inputs.region.value is None  # and none is needed once the back side is chosen
    widget.inputs.photo.value = viewer.layers["front RGB (synthetic)"]
    widget.inputs.back.value = viewer.layers["back RGB, from behind (synthetic)"]
    widget.inputs.mirror_back.value = True
    assert widget.inputs.region_hint.text() == REGION_HINTS["unused"]
    widget.train()
    wait_done(qtbot, widget)
    layers = _run_layers(viewer, 1)
    assert layers["x2"].name == "x2 back · run 1"
    assert layers["x2"].metadata["xraysep"]["double_sided"] and layers["x2"].metadata["xraysep"]["mirror_back"]
    x = viewer.layers["panel X-ray (synthetic)"].data
    total = layers["x1"].data.astype(np.float64) + layers["x2"].data + layers["weave"].data
    np.testing.assert_allclose(total, x, atol=1e-5)
    # The run's layers arriving leave the back side chosen (Qt's box moved to "None" as they came: the
    # next run was of one side, Mirror back side still ticked and ignored).
    assert widget.inputs.back.value is viewer.layers["back RGB, from behind (synthetic)"]
    widget.train()
    wait_done(qtbot, widget)
    assert _run_layers(viewer, 2)["x2"].name == "x2 back · run 2"

    widget.inputs.back.value = widget.inputs.photo.value
    assert widget.train() is None and "is the photograph of the front" in widget.message.text()
    widget.inputs.back.value = None
    assert widget.train() is None and "Mirror back side is ticked, but no Back side" in widget.message.text()


def test_warm_start_follows_the_preset_and_reaches_the_run(viewer_and_widget, qtbot):
    viewer, widget = viewer_and_widget
    separation = widget.separation
    separation.apply_preset("paper")
    assert separation.warm_start.value is False  # no weights ship for the paper's architecture
    separation.preset.value = "autoencoder"
    assert separation.warm_start.value is True
    separation.channels.value = SeparationConfig.autoencoder().method.channels  # the architecture the shipped weights have
    separation.steps.value = 1
    widget.train()
    wait_done(qtbot, widget)
    assert _run_layers(viewer, 1)["x2"].metadata["xraysep"]["settings"]["method"]["warm_start"] is True
    separation.channels.value = 4
    widget.train()
    wait_done(qtbot, widget)
    assert "No warm-start weights ship for channels=4" in widget.message.text()
    assert widget.status.state.value == "failed"


def test_draw_region_creates_a_selected_rectangle_tool(viewer_and_widget):
    viewer, widget = viewer_and_widget
    widget.inputs.draw_button.native.click()
    layer = viewer.layers[-1]
    assert layer.name.startswith("region (hidden design)")
    # the widget sees napari's public proxy of the layer: compare through it
    assert same_layer(viewer.layers.selection.active, layer) and layer.mode == "add_rectangle"
    assert same_layer(widget.inputs.region.value, layer)
    assert "Draw rectangles" in widget.message.text()


def test_reader_and_writer_round_trip_values_and_provenance(viewer_and_widget, qtbot, tmp_path):
    viewer, widget = viewer_and_widget
    widget.train()
    wait_done(qtbot, widget)
    layer = _run_layers(viewer, 1)["x2"]
    path = str(tmp_path / "x2.tif")
    assert write_image_tiff(path, layer.data, layer._get_state()) == [path]
    reader = napari_get_reader(path)
    data, kwargs, kind = reader(path)[0]
    assert kind == "image" and not kwargs["rgb"]
    np.testing.assert_array_equal(np.asarray(data), layer.data)
    assert np.asarray(data).dtype == np.float32
    # saved from run 1, and no layer of this session's run 1
    assert kwargs["metadata"]["xraysep"]["layer"] == "x2" and kwargs["metadata"]["xraysep"]["saved_from_run"] == 1


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
    assert widget.window() is not widget and widget.run.train_button.native.isVisibleTo(widget)
    image = widget.grab().toImage()
    assert image.width() > 200 and image.height() > 300
    # a drawn form has many distinct colours (text, fields, buttons), an empty panel one or two
    colours = {image.pixel(x, y) for x in range(0, image.width(), 7) for y in range(0, image.height(), 7)}
    assert len(colours) > 20


def test_closing_the_widget_stops_training_and_ignores_late_signals(viewer_and_widget, qtbot):
    viewer, widget = viewer_and_widget
    assert FLIP_KEY in {str(key) for key in viewer.keymap}
    worker = _start_training(widget, qtbot, steps=100_000, until_step=1)
    stop_event, layers_before = widget.runner.record.stop, len(viewer.layers)
    with qtbot.waitSignal(worker.finished, timeout=RUN_TIMEOUT_MS), qtbot.capture_exceptions() as exceptions:
        viewer.window.remove_dock_widget(widget)
        widget.deleteLater()
        qtbot.waitUntil(stop_event.is_set, timeout=RUN_TIMEOUT_MS)
    assert not exceptions
    assert len(viewer.layers) == layers_before  # the late result reached no deleted widget
    assert FLIP_KEY not in {str(key) for key in viewer.keymap}  # the flip key went with the widget


def test_a_dock_closed_mid_run_takes_its_preview_layers_with_it(viewer_and_widget, qtbot):
    """A new user closed the dock during a run: its two preview layers stayed for good, and the dock
    opened again called its next run "run 2" too."""
    viewer, widget = viewer_and_widget
    layers_before = [layer.name for layer in viewer.layers]
    widget.separation.steps.value, widget.separation.preview_every.value = 100_000, 1
    worker = widget.train()
    qtbot.waitUntil(lambda: any("preview" in layer.name for layer in viewer.layers), timeout=RUN_TIMEOUT_MS)
    previews = [layer for layer in viewer.layers if "preview" in layer.name]
    assert [layer.metadata["xraysep"] for layer in previews] == [{"preview": True, "run": 1}] * 2
    with qtbot.waitSignal(worker.finished, timeout=RUN_TIMEOUT_MS), qtbot.capture_exceptions() as exceptions:
        viewer.window.remove_dock_widget(widget)
        widget.deleteLater()
    assert not exceptions
    assert [layer.name for layer in viewer.layers] == layers_before


def test_the_dock_s_close_button_stops_its_run(make_napari_viewer, qtbot):
    """A breaker's finding: napari's close button takes the widget out of its dock without destroying
    it, so the run trained on, and its six result layers arrived seconds after the dock was gone."""
    viewer = make_napari_viewer()
    widget = dock(viewer, "concealed_portrait", steps=100_000, preview_every=1)
    layers_before = [layer.name for layer in viewer.layers]
    worker = widget.train()
    qtbot.waitUntil(lambda: any("preview" in layer.name for layer in viewer.layers), timeout=RUN_TIMEOUT_MS)
    frame = widget.parent()
    while not hasattr(frame, "destroyOnClose"):  # napari's dock around the widget
        frame = frame.parent()
    with qtbot.waitSignal(worker.finished, timeout=RUN_TIMEOUT_MS), qtbot.capture_exceptions() as exceptions:
        frame.title.close_button.click()
    qtbot.wait(200)  # what a late result would have added
    assert not exceptions and widget.parent() is None
    assert [layer.name for layer in viewer.layers] == layers_before


def test_files_open_in_napari_as_the_cli_reads_them_and_the_widget_separates_them(make_napari_viewer, qtbot, tmp_path):
    from PIL import Image

    from napari_xraysep.datasets.synthetic import make_mixture
    from napari_xraysep.io import read_image

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
    widget.separation.device.value, widget.separation.steps.value, widget.separation.preview_every.value = "cpu", 2, 0
    widget.inputs.xray.value, widget.inputs.photo.value = x_layer, rgb_layer
    widget.inputs.region.value = viewer.add_labels(mixture.region_mask.astype(np.uint8), name="region")
    # What a whole painting's run.json records of them (it named neither file: a new user's finding).
    said = widget.inputs.provenance()
    assert said["inputs"] == {"xray": str(x_path), "rgb": str(rgb_path), "rgb_back": None, "side_channels": []}
    assert said["input_files"]["xray"]["compression"] == "LZW" and said["input_files"]["rgb"]["format"] == "JPEG"
    assert said["input_layers"] == {"xray": x_layer.name, "rgb": rgb_layer.name, "region": "region"}
    widget.train()
    wait_done(qtbot, widget)
    layers = _run_layers(viewer, 1)
    assert len(layers) == 6 and layers["x2"].data.shape == (48, 64)


def test_a_painting_area_layer_keeps_the_run_inside_it_and_the_message_says_so(make_napari_viewer, qtbot):
    from test_real_files import framed

    viewer = make_napari_viewer()
    x, rgb, _, _, _ = framed()
    viewer.add_image(x, name="framed X-ray")
    viewer.add_image((rgb.clip(0, 1) * 255).astype(np.uint8), name="framed photo", rgb=True)
    widget = dock(viewer)
    assert widget.inputs.painting.value is None  # optional: never picked for the user
    widget.inputs.xray.value, widget.inputs.photo.value = viewer.layers["framed X-ray"], viewer.layers["framed photo"]
    area = viewer.add_shapes([[[40, 60], [40, 180], [120, 180], [120, 60]]], shape_type="rectangle", name="painting area")
    widget.inputs.region.value = None
    widget.inputs.painting.value = area
    widget.train()
    wait_done(qtbot, widget)
    assert "Painting given at rows 40–" in widget.message.text()
    x2 = _run_layers(viewer, 1)["x2"].data
    assert np.isnan(x2[:39]).all() and np.isfinite(x2[50:110, 70:170]).all()
    # Drawn over an X-ray shown at 0.5 mm a pixel, on a Shapes layer of its own scale (napari's New
    # shapes with nothing selected): the area is where it is drawn on screen, as for the region.
    viewer.layers["framed X-ray"].scale = (0.5, 0.5)
    viewer.layers["framed photo"].scale = (0.5, 0.5)
    on_screen = viewer.add_shapes([[[20, 30], [20, 90], [60, 90], [60, 30]]], shape_type="rectangle", name="area (mm)")
    widget.inputs.painting.value = on_screen
    widget.train()
    wait_done(qtbot, widget)
    assert "Painting given at rows 40–" in widget.message.text(), widget.message.text()
