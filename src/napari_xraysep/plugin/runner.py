"""Runs: from Train (or Continue, or Apply) to the result layers. The worker's events move the run
state; the slots here, on the main thread, update the Run panel and the viewer."""

from __future__ import annotations

import logging
import time
import warnings
from collections.abc import Callable
from functools import partial
from typing import Any

from napari.qt.threading import GeneratorWorker
from qtpy.QtCore import QTimer

from .compare import comparison_panels
from .layers import METADATA_KEY, layer_source, reader_note, same_layer
from ..core import InputError, StoppedError, TrainedModel, TrainingError, TrainingProgress, XraySepError, resolve_device
from ..core.areas import is_large
from ..core.checks import check_double_sided
from ..core.separation import resolve_config
from ..core.streaming import TileProgress
from ..pipeline import AlignmentNote, iter_run
from .inputs import InputsPanel
from .run import RunPanel
from .separation import SeparationPanel
from .shown import add_previews, add_results, remove_previews, result_layers, show_preview
from .state import CurrentModel, RunRecord, RunState, RunStatus
from .worker import ActivityProgress, checkpointing, keep_own_warnings, new_results_folder, run_in_background

logger = logging.getLogger(__name__)
Say = Callable[..., None]  # say(text, error=False, reveal=None): the dock's message line


class Runner:
    """The run state, the current model and the runs' records, and what drives them.

    ``lifetime`` is the dock's ``{"alive": bool, "stop": Event | None}``: once the dock is destroyed,
    no slot touches a widget, and the destroyed dock sets the running run's stop event.
    """

    def __init__(
        self, viewer: Any, inputs: InputsPanel, separation: SeparationPanel, panel: RunPanel, say: Say, lifetime: dict[str, Any]
    ) -> None:
        self.viewer, self.inputs, self.separation, self.panel, self.say, self.lifetime = viewer, inputs, separation, panel, say, lifetime
        self.status = RunStatus()
        self.model: CurrentModel | None = None
        self.record: RunRecord | None = None  # the run going on, or the last one
        self.last_run: RunRecord | None = None  # the last run with a result: Compare shows its layers
        self.on_ended: Callable[[], None] = lambda: None  # after a worker has ended (folders may have changed)

    @property
    def worker(self) -> GeneratorWorker | None:
        return None if self.record is None else self.record.worker

    @property
    def runs(self) -> int:
        """Runs that gave a result (their layers are numbered so)."""
        return 0 if self.last_run is None else self.last_run.number

    def _next_number(self) -> int:
        """The next run's number: after this dock's runs and every result layer's in the viewer (a dock
        closed and opened again had started at run 1 again, and Count threads and Compare found the
        earlier run 1's layers, of another X-ray)."""
        shown = (layer.metadata.get(METADATA_KEY) for layer in self.viewer.layers)
        numbers = [record.get("run") for record in shown if isinstance(record, dict)]
        return max([self.runs, *(number for number in numbers if isinstance(number, int))]) + 1

    def start(self, model: TrainedModel | None, steps: int | None = None) -> GeneratorWorker | None:
        """Check the inputs and settings, then run in the background; None (and a message) if they are wrong."""
        if self.status.running:
            stopping = self.status.state is RunState.STOPPING  # Stop was pressed: its result is on its way
            said = "The run is stopping; start again once its layers are in." if stopping else (
                "A run is going on; stop it first."
            )
            self.say(said, error=True)
            return None
        number = self._next_number()
        # What preparing the inputs warns of (an alpha channel dropped, an empty region …) is the run's to
        # say; caught here, on the main thread, and only here (the worker, started below, has its own).
        caught: list[tuple] = []
        with warnings.catch_warnings():
            warnings.simplefilter("always")
            keep_own_warnings(lambda *shown: caught.append(shown))
            try:
                config, form = self.separation.settings(model)
                if steps is not None:
                    form["steps"] = steps
                resolved = resolve_config(config, model, form)
                resolve_device(resolved.device)  # settings checked before any work
                training, region_required = resolved.training_steps > 0, resolved.method.name == "autoencoder"
                if model is not None and not training:  # said now, not from the worker
                    check_double_sided(model.double_sided, self.inputs.back.value is not None)
                xray, folder = self.inputs.xray.value, None
                # A whole painting is read lazily, trained on an area and written to a folder (iter_run
                # does the same dispatch; the dock only gathers its layers differently).
                large = xray is not None and is_large(layer_source(xray).shape)
                if large:
                    arguments, checked, offset = self.inputs.painting_sources(training, region_required)
                else:
                    (arguments, checked), offset = self.inputs.arrays(training, region_required), (0, 0)
                checkpoint = checkpointing(number) if training else {"checkpoint": None}
                if large:  # made last: nothing left behind when the checks above fail
                    folder = new_results_folder(xray.name, number)
            except XraySepError as error:
                self.say(str(error), error=True)
                return None
        record = RunRecord(
            number, source=xray, inputs=[layer for layer in self.inputs.layers() if layer is not None],
            double_sided=self.inputs.back.value is not None, training=training, offset=offset, folder=folder,
            checkpoint=checkpoint["checkpoint"],
        )
        self.record, self.lifetime["stop"] = record, record.stop
        if training and resolved.preview_every > 0:
            add_previews(self.viewer, record, checked["x_mixed"].shape)
            # A dock closed mid-run takes them with it (a new user's stayed for good, as a second "run 2").
            self.lifetime["previews"] = partial(remove_previews, self.viewer, record)
        layers_for = partial(
            result_layers, source_name=record.source_name, run=number, double_sided=record.double_sided,
            area_corner=offset,
        )
        self.status.move(RunState.TRAINING)
        self.panel.starting(resolved.training_steps)
        self.say("")
        activity = ActivityProgress(f"X-ray separation, run {number}", resolved.training_steps, self._cancel)
        # napari's workers emit the warnings raised in their thread on `warned`, which nothing shows the
        # user; connected before the worker starts, so that none raised at once is lost.
        slots = {
            "yielded": self._on_progress, "returned": self._on_result, "errored": self._on_error,
            "finished": self._on_finished, "warned": self._on_warning,
        }
        # A whole painting's run.json says which model made it when one was only applied.
        applied = self.model if model is not None and self.model is not None and model is self.model.model else None
        if applied is not None and not training:
            arguments["record"] = {**arguments.get("record", {}), "applied_model": str(applied.path or applied.origin)}
        record.worker = run_in_background(
            partial(_in_background, layers_for),
            {**arguments, "out": folder, "config": config, "model": model, "stop": record.stop, **checkpoint, **form},
            # Handing napari our `errored` slot keeps it from re-raising errors as tracebacks.
            {signal: partial(slot, record) for signal, slot in slots.items()},
            activity,
        )
        for shown in caught:
            self._on_warning(record, shown)
        if note := reader_note(xray):  # said in red now and in the run's last message, as a warning is
            record.warnings.append(note)
            self.say(note, error=True)
        record.worker.paused.connect(partial(self._on_paused, record, True))
        record.worker.resumed.connect(partial(self._on_paused, record, False))
        return record.worker

    def toggle_pause(self) -> None:
        if self.worker is not None and self.status.state in (RunState.TRAINING, RunState.PAUSED):
            self.worker.toggle_pause()

    def stop(self, reason: str = "") -> None:
        """Stop after the current step; the model reached so far is applied and its layers added.
        ``reason``, if any, opens the run's last message."""
        if self.record is None or not self.status.running:
            return
        self.record.stop.set()
        self.record.stop_reason = self.record.stop_reason or reason
        if self.worker is not None and self.worker.is_paused:
            self.worker.resume()
        if self.status.state is not RunState.STOPPING:
            self.status.move(RunState.STOPPING)

    def _cancel(self) -> None:
        """The activity dock's Cancel: Stop, while the dock lives."""
        if self.lifetime["alive"]:
            self.stop()

    def stop_if_input(self, layer: Any) -> bool:
        """Stop a run that reads ``layer`` (which was removed); whether it did."""
        record = self.record
        if not (self.status.running and any(same_layer(layer, used) for used in record.inputs)):
            return False
        self.stop(f"'{layer.name}' was removed during training, so training stopped. ")
        return True

    # ---------------------------------------------------------------- the worker's signals

    def _current(self, record: RunRecord) -> bool:
        """Whether a worker's signal is still wanted: the dock lives and the run is the current one."""
        return bool(self.lifetime["alive"]) and record is self.record

    def _on_warning(self, record: RunRecord, shown: tuple) -> None:
        """A warning of the run (``warnings.showwarning``'s arguments): ours — wrong units, a photograph
        that explains nothing, an empty region — is said at once and again when the run ends; others
        (a library's numerical chatter) only logged."""
        message, category, filename = shown[0], shown[1], str(shown[2])
        if not (issubclass(category, UserWarning) and "napari_xraysep" in filename):
            logger.debug("warning during run %d: %s", record.number, message)
            return
        if self._current(record) and str(message) not in record.warnings:
            record.warnings.append(str(message))
            self.say(str(message), error=True)

    def _on_paused(self, record: RunRecord, paused: bool) -> None:
        if self._current(record) and self.status.state is (RunState.TRAINING if paused else RunState.PAUSED):
            self.status.move(RunState.PAUSED if paused else RunState.TRAINING)

    def _on_progress(self, record: RunRecord, event: Any) -> None:
        if not self._current(record):
            return
        if isinstance(event, AlignmentNote):
            record.alignment_note = event.text
            if event.text:
                self.say(f"{event.text} (Plugins ▸ napari-xraysep ▸ Align photograph)", error=True)
            return
        if self.status.state is not RunState.STOPPING:
            self.panel.show_progress(event)
        if isinstance(event, TileProgress) and event.unit == "step":  # a second fit (without a stretcher's bars)
            record.second_fit = (event.what, event.done, event.total)
        if isinstance(event, TrainingProgress):
            record.history.append(event.losses)
            record.planned_steps = event.total_steps
            if event.step % max(1, event.total_steps // 200) == 0 or event.step == event.total_steps:
                self.panel.loss_plot.set_history(record.history)
            if event.preview is not None:
                show_preview(self.viewer, record, event.preview)

    def _on_result(self, record: RunRecord, returned: tuple[Any, tuple[list[Any], str, tuple[int, int]]]) -> None:
        if not self._current(record):
            return
        result, (layers, added, corner) = returned
        record.result = result
        if record.training or self.model is None:  # a run that only applied the model keeps it as it was
            self.model = CurrentModel(result.model, f"run {record.number}")
        if record.checkpoint is not None:  # the result holds the model now; Save model keeps it
            record.checkpoint.unlink(missing_ok=True)
        record.adding = add_results(self.viewer, record, layers, corner)
        self._add_next(record, added)

    def _add_next(self, record: RunRecord, added: str) -> None:
        """One result layer per pass of the event loop (adding one costs napari a fraction of a second:
        six at once would freeze the window), then the run is finished."""
        if self._current(record) and next(record.adding, False):
            QTimer.singleShot(0, partial(self._add_next, record, added))
            return
        record.adding = None
        if self._current(record):
            self._show_finished(record, added)
        if record.on_added is not None:  # the worker ended while the layers were being added
            record.on_added()

    def _show_finished(self, record: RunRecord, added: str) -> None:
        # What Compare shows of it, so that a layer removed later is named (the weave only where there is one).
        record.compared = tuple(p.role for p in comparison_panels(self.viewer, None, record.number))
        if record.area_result is not None:
            self.panel.loss_plot.set_history(record.area_result.loss_history)
        self.last_run = record
        self.status.move(RunState.FINISHED)
        trained = record.area_result if record.training else None
        if trained is None:
            steps = "applied"
        else:
            count = trained.model.steps_trained
            if trained.stopped_early and record.second_fit is not None:  # stopped while fitting again
                what, done, total = record.second_fit
                steps = f"stopped {what} after {done} of {total} steps"
            elif trained.stopped_early and record.planned_steps:  # of how many: "stopped early at 7 steps" did not say
                steps = f"stopped early after {len(record.history)} of {record.planned_steps} steps"
            else:
                done = "stopped early at" if trained.stopped_early else "trained for"
                steps = f"{done} {count} step{'s' * (count != 1)}"
        elapsed = time.perf_counter() - record.started
        self.panel.show_finished(f"run {record.number}: {steps} · {elapsed:.0f} s", complete=not record.stop.is_set())
        note = f" Note: {record.alignment_note}" if record.alignment_note else ""
        warned = "".join(f"Warning: {text} " for text in record.warnings)
        # The painting's support, the pixels marked in the X-ray.
        found = " ".join(record.result.notes()) if getattr(record, "result", None) is not None else ""
        self.say(  # in view: a new user never saw the mosaic, painting and defects found below the fold
            f"{record.stop_reason}Run {record.number}: model {steps}. {warned}{added}{note}"
            + (f" {found}" if found else ""),
            error=bool(record.stop_reason or note or warned), reveal=True,
        )

    def _on_error(self, record: RunRecord, error: BaseException) -> None:
        if not self._current(record):
            return
        remove_previews(self.viewer, record)
        if isinstance(error, StoppedError):  # stopped before there was anything to show: nothing is added
            self.say(f"{record.stop_reason}{error}", error=True)
            self.status.move(RunState.FAILED)
            self.panel.show_text("stopped")
            return
        if isinstance(error, TrainingError) and error.model is not None:
            # Nothing lost: the last good model can be applied, saved or trained further.
            self.model = CurrentModel(error.model, f"run {record.number}, its last good step")
            self.say(f"{error} Apply model uses it; Save model… keeps it.", error=True)
        elif isinstance(error, XraySepError):
            self.say(str(error) + "".join(f" Warning: {text}" for text in record.warnings), error=True)
        else:  # a bug, not the user's doing: keep the traceback for the log
            logger.error("X-ray separation failed", exc_info=error)
            self.say(f"The run failed: {type(error).__name__}: {error}", error=True)
        self.status.move(RunState.FAILED)
        # Inputs or settings the run cannot work with are refused, as Train refuses them before a run.
        self.panel.show_text("refused" if isinstance(error, InputError) else "failed")

    def _on_finished(self, record: RunRecord) -> None:
        if record.adding is not None:  # the run ends once its layers are in
            record.on_added = partial(self._on_finished, record)
            return
        record.worker = None
        if record.folder is not None and record.folder.is_dir() and not any(record.folder.iterdir()):
            record.folder.rmdir()  # the run failed before writing anything
        if self._current(record):
            if self.status.running:  # ended with neither a result nor an error: aborted
                remove_previews(self.viewer, record)
                self.status.move(RunState.FAILED)
            self.on_ended()


def _in_background(layers_for: Callable[[Any], Any], **arguments: Any) -> Any:
    """What a run does in the worker thread, so the window never waits on it: the run
    (:func:`~napari_xraysep.pipeline.iter_run`: its alignment check first — seconds on a large image,
    said before any training time is spent — then its progress events), then its result with its
    layers (:func:`result_layers`, contrast over every pixel)."""
    keep_own_warnings(warnings.showwarning)  # the worker's: to its `warned` signal
    result = yield from iter_run(**arguments)
    return result, layers_for(result)
