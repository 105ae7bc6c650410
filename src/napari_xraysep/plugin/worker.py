"""Running the core's generators in napari's ``thread_worker``, reporting in napari's activity dock, and
the folders runs write to (checkpoints, whole-painting results)."""

from __future__ import annotations

import re
import sys
import threading
import time
import warnings
from collections.abc import Callable
from pathlib import Path
from typing import Any

from napari.qt.threading import GeneratorWorker, create_worker
from napari.utils import cancelable_progress
from qtpy.QtCore import QStandardPaths

from ..core import TrainingProgress
from ..core.errors import OutputError
from ..core.streaming import TileProgress

CHECKPOINT_EVERY_S = 120.0


def checkpoint_folder() -> Path:
    """Where running trainings save their model now and then (the platform's cache folder)."""
    cache = QStandardPaths.writableLocation(QStandardPaths.StandardLocation.GenericCacheLocation)
    return Path(cache or Path.home() / ".cache") / "napari-xraysep" / "checkpoints"


def results_root() -> Path:
    """Where whole-painting results are written: the user's documents, where they can find them."""
    documents = QStandardPaths.writableLocation(QStandardPaths.StandardLocation.DocumentsLocation)
    return Path(documents or Path.home()) / "napari-xraysep"


def new_results_folder(source_name: str, run: int) -> Path:
    """A new folder for one run's whole-painting results (never an existing one: nothing is overwritten).
    Raises :class:`OutputError` if none can be made."""
    root = results_root()
    stem = f"{time.strftime('%Y%m%d-%H%M%S')}-{re.sub(r'[^A-Za-z0-9_.-]+', '_', source_name)[:40]}-run{run}"
    for attempt in range(1000):
        folder = root / (stem if attempt == 0 else f"{stem}-{attempt}")
        try:
            folder.mkdir(parents=True)
            return folder
        except FileExistsError:
            continue
        except OSError as error:
            raise OutputError(f"Cannot make a results folder in {root}: {error.strerror or error}.") from error
    raise OutputError(f"Could not make a new results folder in {root}.")


def checkpointing(run: int) -> dict[str, Any]:
    """Where and how often run ``run`` saves its model while it trains (the model file and
    ``checkpoint_every_s`` of :func:`~napari_xraysep.pipeline.iter_separate_painting`); the folder is
    made, :class:`OutputError` if it cannot be."""
    folder = checkpoint_folder()
    try:
        folder.mkdir(parents=True, exist_ok=True)
    except OSError as error:
        raise OutputError(f"Cannot make the checkpoint folder {folder}: {error.strerror or error}.") from error
    return {"checkpoint": folder / f"{time.strftime('%Y%m%d-%H%M%S')}-run{run}.pt", "checkpoint_every_s": CHECKPOINT_EVERY_S}


class ActivityProgress(cancelable_progress):
    """A run in napari's activity dock, with a Cancel button.

    napari's cancelable progress stops a loop that iterates it; a run is driven by its worker's
    events instead, so Cancel calls ``cancel_callback`` (the dock's Stop) at once.
    """

    def __init__(self, title: str, total: int, cancel_callback: Callable[[], None]) -> None:
        super().__init__(desc=title, total=total, cancel_callback=cancel_callback)
        self.title, self.stage = title, ""

    def cancel(self) -> None:
        super().cancel()
        if self.cancel_callback is not None:
            self.cancel_callback()

    def follow(self, event: Any) -> None:
        """Step of training or tile of a whole painting: the bar's total, value and description (other
        events of a run say nothing of its progress)."""
        if not isinstance(event, (TrainingProgress, TileProgress)):
            return
        done, total, what = (
            (event.done, event.total, f"{event.what}: {event.unit}s")
            if isinstance(event, TileProgress)
            else (event.step, event.total_steps, "training")
        )
        if what != self.stage:
            self.stage = what
            self.set_description(f"{self.title}: {what}")
        if total != self.total:
            self.reset(total=total)
        self.update(done - self.n)


def keep_own_warnings(take: Callable[..., None]) -> None:
    """From now on (inside the caller's ``warnings.catch_warnings``, or while a worker runs: superqt
    hands every thread's warnings to the running worker), the warnings raised in this thread go to
    ``take`` (``warnings.showwarning``'s arguments), those raised in other threads to the console, as
    they would without it: a run says its own warnings only."""
    own = threading.get_ident()

    def show(
        message: Any, category: Any, filename: str, lineno: int, file: Any = None, line: str | None = None
    ) -> None:
        if threading.get_ident() == own:
            take(message, category, filename, lineno, file, line)
        else:
            (file or sys.stderr).write(warnings.formatwarning(message, category, filename, lineno, line))

    warnings.showwarning = show


def run_in_background(
    job: Callable[..., Any], arguments: dict[str, Any], connect: dict[str, Callable[..., Any]], activity: ActivityProgress
) -> GeneratorWorker:
    """Start ``job(**arguments)`` (a progress generator) in a worker thread; its signals go to the
    ``connect`` slots and ``activity``, which closes when the worker ends. Layers are changed only by
    the slots, which run on the main thread."""
    worker = create_worker(job, **arguments, _start_thread=False, _connect=connect)
    worker.yielded.connect(activity.follow)
    worker.finished.connect(activity.close)
    worker.start()
    return worker
