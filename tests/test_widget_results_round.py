"""What a tester found in the separation dock's results panel and model buttons, and what each now
does (docs/troubleshooting.md, round 5)."""

import json

from conftest import dock, wait_done

from napari_xraysep.core import areas
from napari_xraysep.io import pyramid
from napari_xraysep.plugin.layers import METADATA_KEY
from napari_xraysep.plugin.writer import write_image_tiff


def _shown_in_compare(viewer, widget):
    widget.results.compare_button.native.click()
    shown = [layer.name for layer in viewer.layers if layer.visible]
    widget.results.compare_button.native.click()
    return shown


def test_a_saved_result_opened_again_is_no_layer_of_the_run(make_napari_viewer, qtbot, tmp_path):
    """Saved with the plugin's writer and opened again, a result kept its run number and role, and
    Compare and Export showed it in the run's place (another painting's files included)."""
    viewer = make_napari_viewer()
    widget = dock(viewer, "concealed_portrait")
    widget.train()
    wait_done(qtbot, widget)
    x2 = next(layer for layer in viewer.layers if layer.metadata.get(METADATA_KEY, {}).get("layer") == "x2")
    write_image_tiff(str(tmp_path / "saved_x2.tif"), x2.data, x2.as_layer_data_tuple()[1])
    viewer.open(str(tmp_path / "saved_x2.tif"), plugin="napari-xraysep")
    opened = viewer.layers["saved_x2"]
    assert opened.metadata[METADATA_KEY]["saved_from_run"] == 1 and "run" not in opened.metadata[METADATA_KEY]
    assert "x2 hidden · run 1" in _shown_in_compare(viewer, widget)
    assert "saved_x2" not in _shown_in_compare(viewer, widget)
    (tmp_path / "export").mkdir()
    _, record = widget.results.export_comparison_to(tmp_path / "export")
    assert "saved_x2" not in [panel["layer"] for panel in json.loads(record.read_text())["panels"]]


def test_continuing_a_double_sided_model_on_one_side_is_said(make_napari_viewer, qtbot):
    """Apply refused it, Continue trained it on one side without a word."""
    viewer = make_napari_viewer()
    widget = dock(viewer, "double_sided_panel")
    widget.inputs.back.value = viewer.layers["back RGB, from behind (synthetic)"]
    widget.inputs.mirror_back.value = True
    widget.train()
    wait_done(qtbot, widget)
    widget.inputs.back.value, widget.inputs.mirror_back.value = None, False
    widget.continue_training()
    wait_done(qtbot, widget)
    assert "double-sided panel" in widget.message.text() and "no longer the one it started from" in widget.message.text()


def test_a_loaded_model_applied_twice_is_named_in_both_results(make_napari_viewer, qtbot, tmp_path, monkeypatch):
    """The second Apply's run.json named "run 2" (the first Apply) instead of the model's file, and
    Save model spoke of run 3's model, though run 3 trained nothing."""
    from napari_xraysep.plugin import worker

    monkeypatch.setattr(areas, "LARGE_IMAGE_PIXELS", 1000)
    monkeypatch.setattr(areas, "AREA_MARGIN", 16)
    monkeypatch.setattr(pyramid, "PYRAMID_SMALLEST", 64)
    monkeypatch.setattr(worker, "results_root", lambda: tmp_path / "results")
    viewer = make_napari_viewer()
    widget = dock(viewer, "concealed_portrait")
    widget.train()
    wait_done(qtbot, widget)
    saved = widget.results.save_model_to(tmp_path / "kept.pt")
    widget.results.load_model_from(saved)
    for _ in range(2):
        widget.apply_model()
        wait_done(qtbot, widget)
    folders = sorted((tmp_path / "results").iterdir())
    records = [json.loads((folder / "run.json").read_text()).get("applied_model") for folder in folders]
    assert records[1:] == [str(saved.resolve())] * 2
    widget.results.save_model_to(tmp_path / "again.pt")
    assert "run 3" not in widget.message.text()


def test_a_loaded_model_of_the_other_method_is_applied_with_its_own_settings(make_napari_viewer, qtbot, tmp_path):
    """A tester loaded an auto-encoder model into a dock showing the colour map, and Apply model said
    "Learning rate '' is not a number.": the auto-encoder's settings had never been shown, so their
    fields were empty. Now the dock shows a loaded model's method and settings as it was made."""
    from conftest import TINY

    from napari_xraysep import SeparationConfig, separate
    from napari_xraysep.datasets.synthetic import make_mixture
    from napari_xraysep.io import save_model

    case = make_mixture("concealed_portrait", (64, 96), seed=1)
    # a λ beyond the dock's control's range (the CLI allows it) and a rate with more digits than "%g" shows:
    # a breaker's model made loading fail half-way, and the rate was rounded to 0.00123457
    settings = {k: v for k, v in TINY.items() if k != "method"}
    config = SeparationConfig.autoencoder(**settings, learning_rate=0.0012345678, exclusion_weight=2e7)
    model = separate(case.x_mixed, case.rgb_surface, case.region_mask, config=config).model
    saved = save_model(model, tmp_path / "autoencoder.pt")
    viewer = make_napari_viewer()
    widget = dock(viewer, "concealed_portrait")
    assert widget.separation.method == "colour_map"
    assert widget.results.load_model_from(saved) is not None
    separation = widget.separation
    assert separation.preset.value == "autoencoder" and separation.method == "autoencoder"
    separation.advanced.expand(animate=False)
    assert separation.learning_rate.value == "0.0012345678" and separation.learning_rate.native.isVisibleTo(separation)
    assert separation.exclusion_weight.value == 2e7
    assert separation.channels.value == 4 and not separation.clusters.native.isVisibleTo(separation)
    assert "settings are shown under Advanced" in widget.message.text()
    widget.apply_model()
    wait_done(qtbot, widget)
    assert widget.run.progress.format().startswith("run 1: applied"), widget.message.text()
    separation.preset.value = "default"  # a preset sets them back
    assert separation.clusters.native.isVisibleTo(separation)
    assert separation.clusters.value == SeparationConfig().method.clusters
    # A colour map made with more passes than the control offers (the CLI's --set passes=25) loads whole.
    import dataclasses

    colour = separate(case.x_mixed, case.rgb_surface, clusters=8, steps=2, passes=2, device="cpu").model
    colour.config = dataclasses.replace(colour.config, method=dataclasses.replace(colour.config.method, passes=25))
    assert widget.results.load_model_from(save_model(colour, tmp_path / "passes.pt")) is not None
    assert separation.passes.value == 25 and "Loaded passes.pt" in widget.message.text()


def test_the_align_dock_offers_no_layer_the_plugin_made_as_the_xray(sample_run):
    """Opened after a run, the Align dock chose x̂1 (predicted from the photograph itself) as the X-ray
    and offered every result: aligning the photograph to its own prediction is circular."""
    from conftest import PLUGIN

    from napari_xraysep.plugin.layers import made_here

    viewer, widget = sample_run
    assert sum(made_here(layer) for layer in viewer.layers) >= 6  # the run's results, the sample's truths
    _, align = viewer.window.add_plugin_dock_widget(PLUGIN, "Align photograph")
    offered = [layer for layer in align.xray_layer.choices if layer is not None]
    assert offered and not any(made_here(layer) for layer in offered)
    assert align.xray_layer.value is widget.inputs.xray.value  # the X-ray the run separated
