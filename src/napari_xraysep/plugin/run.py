"""The Run panel: Train, Pause/Resume, Stop, Continue; the progress bar with step and ETA; the loss plot."""

from __future__ import annotations

from magicgui.widgets import Container, PushButton
from qtpy.QtWidgets import QGroupBox, QProgressBar, QVBoxLayout

from ..core import TrainingProgress
from ..core.progress import clock
from ..core.streaming import TileProgress
from .loss_plot import LossPlot
from .state import RunState, action_enabled


class RunPanel(QGroupBox):
    """Buttons that follow the run state, and what the worker reports."""

    def __init__(self) -> None:
        super().__init__("Run")
        self.train_button = PushButton(text="Train", tooltip="separate the chosen layers with a new model")
        self.pause_button = PushButton(text="Pause", tooltip="hold the run; the viewer stays responsive")
        self.stop_button = PushButton(text="Stop", tooltip="end after this step; the model reached so far is applied and its layers added")
        self.continue_button = PushButton(text="Continue", tooltip="train the current model further, as a new run (earlier layers stay)")
        self.progress = QProgressBar()
        self.progress.setFormat("idle")
        self.progress.setValue(0)
        self.loss_plot = LossPlot()
        buttons = Container(
            widgets=[self.train_button, self.pause_button, self.stop_button, self.continue_button], layout="horizontal", labels=False
        )
        buttons.native.layout().setContentsMargins(0, 0, 0, 0)
        layout = QVBoxLayout(self)
        for widget in (buttons.native, self.progress, self.loss_plot):
            layout.addWidget(widget)

    def follow(self, state: RunState, have: set[str]) -> None:
        """Enable each button as :func:`action_enabled` says; Pause reads Resume while paused."""
        for action, button in (
            ("train", self.train_button), ("pause", self.pause_button), ("stop", self.stop_button), ("continue", self.continue_button),
        ):
            button.enabled = action_enabled(action, state, have)
        self.pause_button.text = "Resume" if state is RunState.PAUSED else "Pause"
        if state is RunState.STOPPING:
            self.progress.setFormat("stopping after this step…")
        elif state is RunState.PAUSED and not self.progress.format().startswith("paused"):
            self.progress.setFormat(f"paused at {self.progress.format()}")

    def starting(self, steps: int) -> None:
        self.progress.setRange(0, max(steps, 1))
        self.progress.setValue(0)
        self.progress.setFormat("starting…" if steps else "applying the model…")

    def show_progress(self, progress: TrainingProgress | TileProgress) -> None:
        """A step of training, or a tile of a whole painting, with the time left."""
        if isinstance(progress, TileProgress):
            self.progress.setRange(0, progress.total)
            self.progress.setValue(progress.done)
            where = f"{progress.unit} {progress.done}/{progress.total}"
            self.progress.setFormat(f"{progress.what}: {where} · ETA {clock(progress.eta_s)}")
        else:
            self.progress.setRange(0, max(progress.total_steps, 1))
            self.progress.setValue(progress.step)
            self.progress.setFormat(f"step {progress.step}/{progress.total_steps} · ETA {clock(progress.eta_s)}")

    def show_text(self, text: str) -> None:
        self.progress.setFormat(text)

    def show_finished(self, text: str, complete: bool) -> None:
        """A run's end: ``text`` on the bar, full when the run did all it was to (an Apply has no steps to
        count: its bar stood at 0 of 1), else where it stopped."""
        if complete:
            self.progress.setValue(self.progress.maximum())
        self.progress.setFormat(text)
