"""What a new user meets first (issue 23): the layers a run leaves on screen, their names, what the dock
offers as input, and the words on the way. Each test failed on the behaviour the issue describes."""

from __future__ import annotations

from conftest import DOCK, PLUGIN, dock, wait_done

from napari_xraysep._layers import METADATA_KEY, same_layer


def _run_layers(viewer, run):
    return {l.metadata[METADATA_KEY]["layer"]: l for l in viewer.layers if l.metadata.get(METADATA_KEY, {}).get("run") == run}


def _check_x2_on_top(viewer, run):
    """x2 on top and shown, the mixed X-ray right under it and shown, the run's other results hidden."""
    layers = _run_layers(viewer, run)
    top, under = viewer.layers[-1], viewer.layers[-2]
    assert same_layer(top, layers["x2"]) and top.visible
    assert under.name == "mixed X-ray (synthetic)" and under.visible
    assert [role for role, layer in layers.items() if layer.visible] == ["x2"]


def test_a_run_ends_showing_the_hidden_xray_over_the_mixed_one_under_short_names(make_napari_viewer, qtbot):
    viewer = make_napari_viewer()
    widget = dock(viewer, "concealed_portrait")
    widget.train()
    wait_done(qtbot, widget)
    _check_x2_on_top(viewer, 1)
    widget.results.toggle_compare()  # the grid, then back to the layers as the run left them
    widget.results.toggle_compare()
    _check_x2_on_top(viewer, 1)
    widget.train()
    wait_done(qtbot, widget)
    _check_x2_on_top(viewer, 2)
    # names that the layer list shows uncut and that keep the runs apart; the rest in the metadata
    first, second = _run_layers(viewer, 1), _run_layers(viewer, 2)
    assert second["x2"].name == "x2 hidden · run 2" and first["x2"].name == "x2 hidden · run 1"
    names = [layer.name for layer in [*first.values(), *second.values()]]
    assert len(set(names)) == 12 and max(map(len, names)) <= 20  # what the layer list shows uncut
    meta = second["x2"].metadata[METADATA_KEY]
    assert meta["source"] == "mixed X-ray (synthetic)" and meta["title"] == "x2 hidden · run 2 · mixed X-ray (synthetic)"
    assert meta["settings"]["method"] == "colour_map"
    widget.results.toggle_compare()  # the grid's titles are the layers' names: short too
    assert all(len(layer.name) <= 25 for layer in viewer.layers if layer.visible)


def test_side_channels_never_offer_ground_truth_results_or_previews(make_napari_viewer, qtbot):
    viewer = make_napari_viewer()
    widget = dock(viewer, "copper_headdress")
    offered = [name for name, _ in widget.inputs._side_choices()]
    assert offered == ["Cu-K map (synthetic XRF)"]
    assert not any(name.startswith("true") for name in (c.name for c in widget.inputs.xray.choices if c is not None))
    widget.train()
    wait_done(qtbot, widget)
    assert [name for name, _ in widget.inputs._side_choices()] == ["Cu-K map (synthetic XRF)"]


def test_the_dock_title_names_the_widget_and_the_plugin_once(make_napari_viewer):
    viewer = make_napari_viewer()
    dock_widget, _ = viewer.window.add_plugin_dock_widget(PLUGIN, DOCK)
    title = dock_widget.name
    assert title == "X-ray separation (napari-xraysep)"
