"""The dock's one run state: its transitions, the buttons that follow it, and napari's activity dock."""

from __future__ import annotations

import itertools

import pytest
from conftest import RUN_TIMEOUT_MS, dock, wait_done
from napari._qt.widgets.qt_progress_bar import QtLabeledProgressBar

from napari_xraysep.datasets.synthetic import make_mixture
from napari_xraysep.plugin.state import (
    ENABLED_IN,
    InvalidTransition,
    RunState,
    RunStatus,
    action_enabled,
)

IDLE, TRAINING, PAUSED, STOPPING, FINISHED, FAILED = (
    RunState.IDLE, RunState.TRAINING, RunState.PAUSED, RunState.STOPPING, RunState.FINISHED, RunState.FAILED,
)
AT_REST = {IDLE, FINISHED, FAILED}


def expected_enabled(action: str, state: RunState, have: set[str]) -> bool:
    """The specification, written out once more: nothing but Pause and Stop while a run goes on (and
    neither while it is stopping); what uses a model, a result or a folder needs one."""
    if action in ("pause", "stop"):
        return state in (TRAINING, PAUSED)
    needs = {
        "continue": "model", "apply": "model", "save": "model", "compare": "result", "export": "result", "open_folder": "folder",
        "threads": "weave",
    }
    return state in AT_REST and (action not in needs or needs[action] in have)


@pytest.mark.parametrize("state", list(RunState))
def test_every_action_is_enabled_exactly_where_the_specification_says(state):
    for size in range(5):
        for have in itertools.combinations(("model", "result", "folder", "weave"), size):
            for action in ENABLED_IN:
                assert action_enabled(action, state, set(have)) == expected_enabled(action, state, set(have)), (action, have)


def test_the_run_state_moves_only_along_its_transitions():
    status, seen = RunStatus(), []
    status.changed.connect(lambda new, old: seen.append((old, new)))
    for new in (TRAINING, PAUSED, TRAINING, STOPPING, FINISHED, TRAINING, FAILED, TRAINING, PAUSED, STOPPING, FAILED):
        status.move(new)
    assert seen[:5] == [(IDLE, TRAINING), (TRAINING, PAUSED), (PAUSED, TRAINING), (TRAINING, STOPPING), (STOPPING, FINISHED)]
    assert status.state is FAILED and not status.running
    for wrong in (PAUSED, STOPPING, FINISHED):  # at rest, only a new run can start
        with pytest.raises(InvalidTransition, match=f"failed → {wrong.value}"):
            status.move(wrong)
    status.move(TRAINING)
    with pytest.raises(InvalidTransition):
        status.move(IDLE)  # a run ends finished or failed, never idle
    assert status.state is TRAINING and status.running


BUTTONS = {
    "train": ("run", "train_button"), "pause": ("run", "pause_button"), "stop": ("run", "stop_button"),
    "continue": ("run", "continue_button"), "compare": ("results", "compare_button"), "export": ("results", "export_button"),
    "open_folder": ("results", "folder_button"), "save": ("results", "save_button"), "load": ("results", "load_button"),
    "apply": ("results", "apply_button"), "threads": ("results", "threads_button"),
    "curtain": ("results", "curtain_button"),
}


def _check_buttons(widget, state: RunState) -> None:
    assert widget.status.state is state
    have = widget.have()
    for action, (panel, name) in BUTTONS.items():
        button = getattr(getattr(widget, panel), name)
        assert button.enabled == expected_enabled(action, state, have), f"{name} in {state.value} with {have}"


def test_train_pause_resume_stop_continue_and_the_buttons_in_each_state(make_napari_viewer, qtbot):
    viewer = make_napari_viewer()
    widget = dock(viewer, "concealed_portrait")
    seen = []
    widget.status.changed.connect(lambda new, old: seen.append(new))
    _check_buttons(widget, IDLE)

    widget.separation.steps.value = 100_000
    worker = widget.train()
    _check_buttons(widget, TRAINING)
    qtbot.waitUntil(lambda: widget.run.progress.value() >= 1, timeout=RUN_TIMEOUT_MS)
    with qtbot.waitSignal(worker.paused, timeout=RUN_TIMEOUT_MS):
        widget.run.pause_button.native.click()
    _check_buttons(widget, PAUSED)
    assert widget.run.pause_button.text == "Resume" and widget.run.progress.format().startswith("paused at step")
    with qtbot.waitSignal(worker.resumed, timeout=RUN_TIMEOUT_MS):
        widget.run.pause_button.native.click()
    _check_buttons(widget, TRAINING)
    widget.run.stop_button.native.click()
    _check_buttons(widget, STOPPING)
    assert widget.run.progress.format() == "stopping after this step…"
    wait_done(qtbot, widget)
    _check_buttons(widget, FINISHED)
    first = widget.current_model.steps_trained

    widget.separation.steps.value = 2
    widget.run.continue_button.native.click()
    _check_buttons(widget, TRAINING)
    wait_done(qtbot, widget)
    _check_buttons(widget, FINISHED)
    assert widget.current_model.steps_trained == first + 2
    assert seen == [TRAINING, PAUSED, TRAINING, STOPPING, FINISHED, TRAINING, FINISHED]


def test_a_failed_run_is_failed_and_a_new_one_can_start(make_napari_viewer, qtbot):
    viewer = make_napari_viewer()
    widget = dock(viewer, "concealed_portrait", preset="autoencoder", warm_start=True)  # 4 channels: no weights
    widget.train()
    wait_done(qtbot, widget)
    _check_buttons(widget, FAILED)
    # settings the run cannot work with: refused, not "failed" (a new user read the two words for one thing)
    assert widget.run.progress.format() == "refused" and "No warm-start weights" in widget.message.text()
    widget.separation.warm_start.value = False
    widget.train()
    wait_done(qtbot, widget)
    _check_buttons(widget, FINISHED)


def _activity_bars(viewer) -> list[QtLabeledProgressBar]:
    return viewer.window._qt_window._activity_dialog.findChildren(QtLabeledProgressBar)


def test_a_run_reports_in_the_activity_dock_whose_cancel_stops_it(make_napari_viewer, qtbot):
    viewer = make_napari_viewer()
    widget = dock(viewer, "concealed_portrait", steps=100_000)
    widget.train()
    qtbot.waitUntil(lambda: widget.run.progress.value() >= 1, timeout=RUN_TIMEOUT_MS)
    (bar,) = [b for b in _activity_bars(viewer) if "X-ray separation, run 1" in b.description_label.text()]
    # the dock's label follows the worker's events through Qt's queue, a moment after the Run panel
    qtbot.waitUntil(lambda: "training" in bar.description_label.text(), timeout=5000)
    assert bar.qt_progress_bar.maximum() == 100_000 and bar.qt_progress_bar.value() >= 1
    assert bar.cancel_button.isVisibleTo(bar)
    bar.cancel_button.click()
    assert widget.status.state is STOPPING
    wait_done(qtbot, widget)
    assert widget.status.state is FINISHED
    assert widget.runner.last_run.result.stopped_early  # what Stop gives: the model so far, applied
    qtbot.waitUntil(lambda: not any("X-ray separation" in b.description_label.text() for b in _activity_bars(viewer)), timeout=5000)


def test_a_refused_train_is_said_under_the_progress_bar_and_scrolled_into_view(make_napari_viewer, qtbot):
    """A tester's dock, 950 px high, had its message line below Results, off screen: Train with a mistake
    (a photograph of another size than the X-ray) seemed to do nothing."""
    viewer = make_napari_viewer(show=True)
    case = make_mixture("concealed_portrait", shape=(64, 96), seed=0)
    viewer.add_image(case.rgb_surface[:60, :90], name="photo", rgb=True)
    viewer.add_image(case.x_mixed, name="xray", colormap="gray")
    widget = dock(viewer)
    panels = widget._scroll.widget().layout()
    order = [panels.itemAt(k).widget() for k in range(panels.count() - 1)]
    assert order.index(widget.message) == order.index(widget.run) + 1  # under Train and the progress bar
    widget._scroll.setFixedHeight(250)  # room for the Inputs panel only
    widget._scroll.verticalScrollBar().setValue(0)
    assert widget.train() is None and "60×90" in widget.message.text()
    top = widget.message.mapTo(widget._scroll.widget(), widget.message.rect().topLeft()).y()
    seen = widget._scroll.verticalScrollBar().value()
    assert seen > 0 and seen <= top and top + widget.message.height() <= seen + widget._scroll.viewport().height()


def test_what_a_finished_run_found_is_scrolled_into_view(make_napari_viewer, qtbot):
    """A new user, dock 904 px high: after a run that found a mosaic's films, only the progress bar's
    "run 2: trained for 12 steps" was in view; the message naming the films was below the fold."""
    viewer = make_napari_viewer(show=True)
    case = make_mixture("concealed_portrait", shape=(64, 96), seed=0)
    viewer.add_image(case.rgb_surface, name="photo", rgb=True)
    viewer.add_image(case.x_mixed, name="xray", colormap="gray")
    widget = dock(viewer)
    widget.separation.steps.value = 2
    widget._scroll.setFixedHeight(250)  # room for the Inputs panel only
    widget.train()
    widget._scroll.verticalScrollBar().setValue(0)  # the user scrolled back up while it ran
    wait_done(qtbot, widget)
    assert widget.message.text().startswith("Run 1: model trained for 2 steps")
    top = widget.message.mapTo(widget._scroll.widget(), widget.message.rect().topLeft()).y()
    seen = widget._scroll.verticalScrollBar().value()
    assert seen > 0 and seen <= top < seen + widget._scroll.viewport().height()


@pytest.mark.gui
def test_a_long_refusal_is_scrolled_into_view_from_its_first_line(make_napari_viewer):
    """The scroll was aimed at the message line as laid out before its new text: six warnings' message had
    its last lines below the view, a long one was centred (its beginning above the view)."""
    from qtpy.QtWidgets import QApplication

    from napari_xraysep.plugin.dock import XraySeparationWidget

    viewer = make_napari_viewer(show=True)
    widget = XraySeparationWidget(viewer)
    viewer.window.add_dock_widget(widget)
    widget._scroll.setFixedHeight(250)
    bar = widget._scroll.verticalScrollBar()
    for count in (1, 6, 30, 120):  # each after the last, as a run says them
        bar.setValue(0)
        QApplication.processEvents()
        widget.show_message(" ".join(["Warning: the photograph explains little of the X-ray."] * count), error=True)
        QApplication.processEvents()  # as the user sees it, laid out
        top = widget.message.mapTo(widget._scroll.widget(), widget.message.rect().topLeft()).y()
        room = widget._scroll.viewport().height()
        assert bar.value() <= top < bar.value() + room  # its first line in view
        if widget.message.height() <= room:
            assert top + widget.message.height() <= bar.value() + room  # and all of it where it fits
