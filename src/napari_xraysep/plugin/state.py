"""What the dock knows, as small named objects: the run state every button follows, the current model,
and the record of one run. No Qt widgets here; the worker's events move the state, the panels read it.
"""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass, field
from enum import Enum
from pathlib import Path
from typing import Any

from psygnal import Signal

from ..core import SeparationResult, TrainedModel


class RunState(Enum):
    """Where the dock's one run is."""

    IDLE = "idle"  # nothing run yet
    TRAINING = "training"  # a worker is running (training, or applying a model)
    PAUSED = "paused"
    STOPPING = "stopping"  # Stop was asked for; the result reached so far is on its way
    FINISHED = "finished"  # the last run returned a result
    FAILED = "failed"  # the last run ended with an error


RUNNING = frozenset({RunState.TRAINING, RunState.PAUSED, RunState.STOPPING})
AT_REST = frozenset({RunState.IDLE, RunState.FINISHED, RunState.FAILED})

TRANSITIONS: dict[RunState, frozenset[RunState]] = {
    RunState.IDLE: frozenset({RunState.TRAINING}),
    RunState.FINISHED: frozenset({RunState.TRAINING}),
    RunState.FAILED: frozenset({RunState.TRAINING}),
    RunState.TRAINING: frozenset({RunState.PAUSED, RunState.STOPPING, RunState.FINISHED, RunState.FAILED}),
    RunState.PAUSED: frozenset({RunState.TRAINING, RunState.STOPPING, RunState.FAILED}),
    RunState.STOPPING: frozenset({RunState.FINISHED, RunState.FAILED}),
}


class InvalidTransition(RuntimeError):
    """A move the state machine does not allow: a bug in the dock, never the user's doing."""


class RunStatus:
    """The run state, changed only through :meth:`move`; ``changed(new, old)`` tells every listener."""

    changed = Signal(RunState, RunState)

    def __init__(self) -> None:
        self._state = RunState.IDLE

    @property
    def state(self) -> RunState:
        return self._state

    @property
    def running(self) -> bool:
        return self._state in RUNNING

    def move(self, new: RunState) -> None:
        """Go to ``new``; raises :class:`InvalidTransition` where :data:`TRANSITIONS` has no such move."""
        old = self._state
        if new not in TRANSITIONS[old]:
            raise InvalidTransition(f"run state {old.value} → {new.value} is not a transition")
        self._state = new
        self.changed.emit(new, old)


# What each action needs, besides a state it is enabled in: a model to use, the last run's layers, or a
# folder of results. The panels look their buttons up here; tests check the table against the widget.
ENABLED_IN: dict[str, frozenset[RunState]] = {
    "train": AT_REST,
    "pause": frozenset({RunState.TRAINING, RunState.PAUSED}),
    "stop": frozenset({RunState.TRAINING, RunState.PAUSED}),
    "continue": AT_REST,
    "apply": AT_REST,
    "save": AT_REST,
    "load": AT_REST,
    "compare": AT_REST,
    "export": AT_REST,
    "open_folder": AT_REST,
    "threads": AT_REST,
    "curtain": AT_REST,
}
NEEDS = {
    "continue": "model", "apply": "model", "save": "model", "compare": "result", "export": "result", "open_folder": "folder",
    "threads": "weave",
}


def action_enabled(action: str, state: RunState, have: set[str]) -> bool:
    """Whether ``action`` (a key of :data:`ENABLED_IN`) can be taken in ``state`` when the dock has the
    things in ``have`` ("model", "result", "folder", "weave": the last run's weave layer)."""
    need = NEEDS.get(action)
    return state in ENABLED_IN[action] and (need is None or need in have)


@dataclass
class CurrentModel:
    """The model Apply, Save and Continue use: the last run's, the last good one of a failed run, or a
    loaded one — whichever came last. ``origin`` says which, for messages."""

    model: TrainedModel
    origin: str
    path: Path | None = None  # the file it was loaded from (a whole painting's run.json names it)


@dataclass
class RunRecord:
    """One run, from Train (or Apply) to its result: the layers it read, where its files go, its losses.

    ``inputs`` are the layers whose removal stops the run; ``offset`` the top-left pixel of the area a
    whole painting is trained on (previews and the area's layers are placed there); ``folder`` the
    whole painting's results folder (or where its comparison was exported).
    """

    number: int
    source: Any  # the X-ray layer
    inputs: list[Any]
    double_sided: bool
    training: bool
    stop: threading.Event = field(default_factory=threading.Event)
    offset: tuple[int, int] = (0, 0)
    folder: Path | None = None
    checkpoint: Path | None = None
    alignment_note: str = ""
    warnings: list[str] = field(default_factory=list)  # what the run warned of (the CLI prints them)
    stop_reason: str = ""
    history: list[dict[str, float]] = field(default_factory=list)
    planned_steps: int = 0  # the training steps this run was to make (0: none told yet)
    second_fit: tuple[str, int, int] | None = None  # a later fit's (what, steps done, of how many), once begun
    result: Any = None  # SeparationResult or PaintingResult
    compared: tuple[str, ...] = ()  # the roles its comparison showed when its layers came in (not "x")
    threads: Any = None  # the ThreadCount of its weave, once Count threads has run
    threads_corner: tuple[int, int] = (0, 0)  # the weave's pixel the counted area starts at
    worker: Any = None  # the GeneratorWorker while it runs
    adding: Any = None  # while its result layers are being added, one per event-loop pass: their generator
    on_added: Any = None  # what to do once they are in (the worker's end, if it came first)
    started: float = field(default_factory=time.perf_counter)

    @property
    def source_name(self) -> str:
        return str(self.source.name)

    @property
    def area_result(self) -> SeparationResult | None:
        """The in-memory separation: the whole image's, or a whole painting's training area's."""
        return self.result if isinstance(self.result, SeparationResult) else getattr(self.result, "area_result", None)
