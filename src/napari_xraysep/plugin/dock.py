"""The "X-ray separation" dock: four panels that follow the work — Inputs, Separation, Run, Results —
over one run state (:mod:`.state`) that every button follows.

It only translates: layers → arrays (:mod:`.inputs`), form → settings (:mod:`.separation`), the core's
progress events → progress, loss plot, previews and result layers (:mod:`.runner`); the core's
generators run in napari's ``thread_worker`` and layers change only on the main thread.
"""

from __future__ import annotations

from typing import Any

from napari.qt.threading import GeneratorWorker
from qtpy.QtCore import QCoreApplication, QEvent, Qt
from qtpy.QtWidgets import QFrame, QLabel, QScrollArea, QVBoxLayout, QWidget

from ..core import TrainedModel
from .compare import FLIP_KEY
from .curtain import CURTAIN_KEY
from .inputs import InputsPanel
from .results import ResultsPanel
from .run import RunPanel
from .runner import Runner
from .separation import SeparationPanel
from .threads import run_weave_layer


MIN_HEIGHT = 420  # px: the Inputs panel and the Separation choices without scrolling


class XraySeparationWidget(QWidget):
    """Dock widget of the plugin; see docs/usage.md for the walk-through."""

    def __init__(self, napari_viewer: Any) -> None:
        super().__init__()
        self.viewer = napari_viewer
        self.message = QLabel("")
        self.message.setWordWrap(True)
        self.message.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        # Closing the viewer destroys this widget: a running run ends with it, and the worker's last
        # signals must not reach Qt objects that are gone. The slot cannot touch `self` (being
        # destroyed), so it works on a plain dict the other slots also consult.
        self._lifetime: dict[str, Any] = {"alive": True, "stop": None}
        self.inputs, self.separation, self.run = InputsPanel(napari_viewer), SeparationPanel(), RunPanel()
        self.runner = Runner(napari_viewer, self.inputs, self.separation, self.run, self.show_message, self._lifetime)
        self.status = self.runner.status
        self.results = ResultsPanel(
            napari_viewer, self.runner, lambda: self.inputs.xray.value, self.show_message, self._follow,
            alive=lambda: self._lifetime["alive"],
        )
        # The message line under Train and the progress bar, where the eye is when a run starts or ends.
        self._scroll = self._lay_out(self.inputs, self.separation, self.run, self.message, self.results)

        lifetime, viewer, keys = self._lifetime, napari_viewer, {FLIP_KEY: self._flip, CURTAIN_KEY: self._toggle_curtain}
        self._closed = lambda *_: _on_destroyed(lifetime, viewer, keys)
        self._docked = False  # given a parent once (a dock): losing it later is the dock's close button
        self.destroyed.connect(self._closed)
        for key, action in keys.items():
            napari_viewer.bind_key(key, action, overwrite=True)
        self.status.changed.connect(self._follow)
        self.runner.on_ended = self._follow
        self.separation.preset.changed.connect(self._update_region_need)
        self.separation.region_weight.changed.connect(self._update_region_need)
        self.inputs.back.changed.connect(self._update_region_need)
        self.inputs.draw_button.changed.connect(
            lambda *_: self.show_message("Draw rectangles, ellipses or polygons over the hidden design; all of them count.")
        )
        for button, action in (
            (self.run.train_button, self.train), (self.run.pause_button, self.runner.toggle_pause), (self.run.stop_button, self.stop),
            (self.run.continue_button, self.continue_training), (self.results.apply_button, self.apply_model),
        ):
            button.changed.connect(lambda *_, action=action: action())
        layer_events = napari_viewer.layers.events
        for event in (layer_events.inserted, layer_events.removed, layer_events.reordered):
            event.connect(self._refresh_inputs)
        for event in (layer_events.inserted, layer_events.removed):  # a weave layer to count, or none
            event.connect(self._follow)
        layer_events.removed.connect(self._on_layer_removed)
        self.inputs.refresh()
        self._update_region_need()
        self._follow()

    def event(self, event: QEvent) -> bool:
        """napari's close button on the dock takes this widget out of it (its parent becomes None) without
        destroying it: the run must end and its previews go then, as when it is destroyed (a breaker's
        closed dock trained on and added six result layers seconds later)."""
        if event.type() == QEvent.Type.ParentChange:
            if self.parent() is not None:
                self._docked = True
            elif self._docked and self._lifetime["alive"]:
                self._closed()
        return super().event(event)

    def _lay_out(self, *parts: QWidget) -> QScrollArea:
        """The panels one under the other, in a scroll area (returned): napari's dock gives no scroll
        bar of its own, and the panels must not make the window taller than a laptop's screen."""
        content = QWidget()
        layout = QVBoxLayout(content)
        for part in parts:
            layout.addWidget(part)
        layout.addStretch(1)
        scroll = QScrollArea()
        scroll.setWidgetResizable(True)
        scroll.setFrameShape(QFrame.Shape.NoFrame)
        scroll.setHorizontalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
        scroll.setWidget(content)
        scroll.setMinimumWidth(content.minimumSizeHint().width() + scroll.verticalScrollBar().sizeHint().width())
        # Another dock in the same column (Align photograph) must not squeeze the panels to a few rows:
        # the Inputs and the Run buttons stay in view, the rest scrolls.
        self.setMinimumHeight(MIN_HEIGHT)
        outer = QVBoxLayout(self)
        outer.setContentsMargins(0, 0, 0, 0)
        outer.addWidget(scroll)
        return scroll

    @property
    def worker(self) -> GeneratorWorker | None:
        """The running run's worker; None once it has ended."""
        return self.runner.worker

    @property
    def current_model(self) -> TrainedModel | None:
        return None if self.runner.model is None else self.runner.model.model

    def have(self) -> set[str]:
        """What actions need besides a run state: a model, the last run's result, its folder, its weave layer."""
        last = self.runner.last_run
        have = {"model"} if self.runner.model is not None else set()
        if last is not None:
            have.add("result")
            if last.folder is not None and last.folder.is_dir():
                have.add("folder")
            if run_weave_layer(self.viewer, last.number) is not None:
                have.add("weave")
        return have

    def _follow(self, *_: Any) -> None:
        """Every button to the run state and what there is (a model, a result, a folder)."""
        if self._lifetime["alive"]:
            have = self.have()
            self.run.follow(self.status.state, have)
            self.results.follow(self.status.state, have)

    def _update_region_need(self, *_: Any) -> None:
        weight = float(self.separation.region_weight.value)
        if self.inputs.back.value is not None:
            need = "unused"
        elif self.separation.method == "colour_map":
            need = "down-weighted" if weight < 1 else "ignored"
        else:
            need = "required"
        self.inputs.set_region_need(need, weight)

    def _refresh_inputs(self, *_: Any) -> None:
        if self._lifetime["alive"]:
            self.inputs.refresh()

    def _on_layer_removed(self, event: Any) -> None:
        if self._lifetime["alive"] and self.runner.stop_if_input(event.value):
            self.show_message(self.runner.record.stop_reason, error=True)

    def _flip(self, *_: Any) -> None:
        if self._lifetime["alive"]:
            self.results.flip()

    def _toggle_curtain(self, *_: Any) -> None:
        if self._lifetime["alive"]:
            self.results.curtain.toggle()

    def show_message(self, text: str, error: bool = False, reveal: bool | None = None) -> None:
        """``text`` on the message line, in red when ``error`` (a refusal, a warning), scrolled into view
        when ``reveal`` (by default, when ``error``): a Train that refuses never looks like a button that
        does nothing, and what a run found (the painting, films, defects) is not left below the fold."""
        self.message.setText(text)
        self.message.setStyleSheet("color: #ff6b6b;" if error else "")
        if (error if reveal is None else reveal) and text:
            # The new text's height, and the panels and scroll area laid out anew around it, before scrolling to
            # it (activate() alone laid the panels out in the old height: a long message was cut at the bottom).
            for _ in range(3):  # a wrapped label's new height takes a pass or two to reach the scroll area
                QCoreApplication.sendPostedEvents(None, QEvent.Type.LayoutRequest)
            bar, room = self._scroll.verticalScrollBar(), self._scroll.viewport().height()
            if self.message.height() > room:  # taller than the view: its beginning, not its middle
                bar.setValue(self.message.mapTo(self._scroll.widget(), self.message.rect().topLeft()).y())
            else:
                self._scroll.ensureWidgetVisible(self.message)

    # ---------------------------------------------------------------- runs

    def train(self) -> GeneratorWorker | None:
        """Separate the chosen layers with a new model."""
        self.results.put_away()
        return self.runner.start(model=None)

    def continue_training(self) -> GeneratorWorker | None:
        """Train the current model further (a copy: the last run's layers stay as they are)."""
        self.results.put_away()
        return self.runner.start(model=self.current_model)

    def apply_model(self) -> GeneratorWorker | None:
        """Apply the current (loaded, or last) model to the chosen layers without training."""
        if self.current_model is None:
            self.show_message("Load a model first (Load model…), or train one.", error=True)
            return None
        self.results.put_away()
        return self.runner.start(model=self.current_model, steps=0)

    def stop(self) -> None:
        """Stop after the current step; the model reached so far is applied and its layers added."""
        self.runner.stop()


def _on_destroyed(lifetime: dict[str, Any], viewer: Any, keys: dict[str, Any]) -> None:
    """The dock is gone: no slot may touch it, a running run stops and its preview layers go, its keys
    (flip, curtain) are freed."""
    if not lifetime["alive"]:  # closed by its button, then destroyed: once is enough
        return
    lifetime["alive"] = False
    if lifetime["stop"] is not None:
        lifetime["stop"].set()
    if lifetime.get("previews") is not None:
        lifetime["previews"]()
    for key, action in keys.items():
        unbound = viewer.bind_key(key, None)
        if unbound is not None and unbound != action:  # another dock's: keep it
            viewer.bind_key(key, unbound)
