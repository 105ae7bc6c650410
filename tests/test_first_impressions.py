"""What a new user meets first (issue 23): the layers a run leaves on screen, their names, what the dock
offers as input, and the words on the way. Each test failed on the behaviour the issue describes."""

from __future__ import annotations

import re
import threading
import time
from pathlib import Path

from conftest import DOCK, PLUGIN, dock, wait_done
from npe2 import PluginManifest
from qtpy.QtCore import QTimer

from napari_xraysep.plugin.dock import MIN_HEIGHT
from napari_xraysep.plugin.layers import METADATA_KEY, same_layer
from napari_xraysep.plugin.loss_plot import LOSS_TERMS
from napari_xraysep.plugin.shown import result_layers


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
    assert meta["settings"]["method"]["name"] == "colour_map"
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


def test_opening_align_leaves_the_separation_dock_its_rows(make_napari_viewer, qtbot):
    viewer = make_napari_viewer(show=True)
    viewer.window._qt_window.resize(1400, 900)
    separation, _ = viewer.window.add_plugin_dock_widget(PLUGIN, DOCK)
    align, _ = viewer.window.add_plugin_dock_widget(PLUGIN, "Align photograph")
    qtbot.wait(200)
    # before: 141 px for the separation dock (four rows of Inputs), 705 for Align's ten rows
    assert separation.height() >= MIN_HEIGHT and separation.height() > align.height()


def test_the_docs_menu_paths_are_the_menus_napari_builds():
    """napari puts a plugin's widgets in a submenu named for the plugin, its samples likewise."""
    manifest = PluginManifest.from_distribution(PLUGIN)
    menus = {f"Plugins ▸ {manifest.display_name} ▸ {widget.display_name}" for widget in manifest.contributions.widgets}
    menus |= {f"File ▸ Open Sample ▸ {manifest.display_name} ▸ {sample.display_name}" for sample in manifest.contributions.sample_data}
    root = Path(__file__).parents[1]
    texts = [root / "README.md", *sorted((root / "docs").glob("*.md")), *sorted((root / "src").rglob("*.py"))]
    found = set()
    for path in texts:
        text = " ".join(path.read_text(encoding="utf-8").split())  # paths broken over lines joined
        found |= set(re.findall(r"\*\*((?:Plugins|File ▸ Open Sample) ▸ [^*]+?)\*\*", text))  # the docs: in bold
        found |= set(re.findall(r"\((Plugins ▸ [^)]+)\)", text))  # the messages: in brackets
    assert len(found) >= 4 and found <= menus, found - menus


def test_the_region_hint_says_what_region_weight_does(make_napari_viewer):
    widget = dock(make_napari_viewer(), "concealed_portrait")
    hint = widget.inputs.region_hint
    assert "not used" in hint.text() and "Region weight 1" in hint.text()  # the default's weight: 1, unused
    assert "trusts the region less" not in hint.text()
    widget.separation.region_weight.value = 0.5
    assert "trusts the pixels inside it less" in hint.text() and "0.50" in hint.text()
    assert "unexplained X-ray" in {term[0] for term in LOSS_TERMS.values()}  # not "residual scale"


def test_the_window_stays_responsive_while_a_run_trains(make_napari_viewer, qtbot, monkeypatch):
    """The longest pass of Qt's event loop from the first step to the result layers (a timer asks for
    one every 10 ms). Before: the first preview added its layers mid-run, the result computed contrast
    and removed the previews on the main thread — 2–4 s passes on two busy cores."""
    import napari_xraysep.plugin.runner as runner_module

    threads = []

    def in_which_thread(*args, **kwargs):
        threads.append(threading.current_thread() is threading.main_thread())
        return result_layers(*args, **kwargs)

    monkeypatch.setattr(runner_module, "result_layers", in_which_thread)
    viewer = make_napari_viewer(show=True)
    widget = dock(viewer, "concealed_portrait", steps=12, preview_every=4)
    ticks, first_step = [], []
    timer = QTimer()
    timer.setInterval(10)
    timer.timeout.connect(lambda: ticks.append(time.perf_counter()))
    timer.start()
    worker = widget.train()
    worker.yielded.connect(lambda *_: first_step or first_step.append(time.perf_counter()))
    wait_done(qtbot, widget)
    qtbot.wait(50)
    timer.stop()
    passes = [later - earlier for earlier, later in zip(ticks, ticks[1:]) if later > first_step[0]]
    assert threads == [False]  # the result's layers (contrast over every pixel) made in the worker
    assert max(passes) < 2.0, f"longest pass {max(passes):.2f} s"
    assert not any("preview" in layer.name for layer in viewer.layers)  # they became x̂1 and x̂2


def test_the_alignment_check_runs_in_the_worker_and_says_which_way(make_napari_viewer, qtbot, monkeypatch):
    import numpy as np

    import napari_xraysep.pipeline as pipeline_module

    threads = []
    check = pipeline_module.misalignment_warning

    def in_which_thread(*args):
        threads.append(threading.current_thread() is threading.main_thread())
        return check(*args)

    monkeypatch.setattr(pipeline_module, "misalignment_warning", in_which_thread)  # seconds on a large image
    viewer = make_napari_viewer()
    widget = dock(viewer, "concealed_portrait", steps=1)
    photo = viewer.layers["surface RGB (synthetic)"]
    photo.data = np.roll(photo.data, (3, -2), axis=(0, 1))  # moved 3 px down and 2 px to the left
    widget.train()
    assert True not in threads  # nothing checked while the window waits (the worker may have done it already)
    wait_done(qtbot, widget)
    assert threads == [False]
    assert re.search(r"photograph is [\d.]+ px lower and [\d.]+ px to the left of the X-ray", widget.message.text())
