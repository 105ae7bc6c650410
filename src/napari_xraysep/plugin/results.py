"""The Results panel: Compare (and its flip key), Export comparison, Count threads, Curtain, Open
results folder, and Save/Load/Apply model — the buttons and what they do with the runs' results and
the current model."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

from magicgui.widgets import Container, PushButton
from napari.layers import Image
from napari.qt.threading import FunctionWorker, create_worker
from qtpy.QtCore import QUrl
from qtpy.QtGui import QDesktopServices
from qtpy.QtWidgets import QFileDialog, QGroupBox, QVBoxLayout

from .layers import METADATA_KEY, same_layer
from ..core import TrainedModel, XraySepError
from ..io import load_model, save_model
from ..core.threads import ThreadCount, count_threads
from .compare import FLIP_KEY, FLIPPED, Comparison, Panel, comparison_panels, export_comparison
from .curtain import CURTAIN_KEY, CurtainControl
from .runner import Runner
from .state import CurrentModel, RunState, action_enabled
from .threads import GIVE_SPACING, run_weave_layer, show_thread_maps, thread_map_layers, weave_for_counting
from .worker import results_root

COMPARE_TEXT, BACK_TEXT = "Compare side by side", "Back to the layers"
CURTAIN_TEXT, END_CURTAIN_TEXT = "Curtain", "End curtain"


class ResultsPanel(QGroupBox):
    """``runner`` holds the results and the model; ``fallback_source`` gives the X-ray layer to compare
    with when the run's own is gone; ``say`` is the dock's message line and ``changed`` re-enables
    the dock's buttons after an action here; ``alive`` says whether the dock is still open."""

    def __init__(
        self, viewer: Any, runner: Runner, fallback_source: Callable[[], Any], say: Callable[..., None], changed: Callable[[], None],
        alive: Callable[[], bool] = lambda: True,
    ) -> None:
        super().__init__("Results")
        self.viewer, self.runner, self.fallback_source, self.say, self.changed = viewer, runner, fallback_source, say, changed
        self.alive = alive  # False once the dock is closed: a worker's last signals must not reach it
        self.comparison: Comparison | None = None
        self.compare_button = PushButton(
            text=COMPARE_TEXT,
            tooltip=f"the last run's x, x1, x2, error map and weave in a titled grid, one camera for all; "
            f"{FLIP_KEY} in the viewer flips between x, x1 and x2 in one view",
        )
        self.export_button = PushButton(text="Export comparison…", tooltip="a PNG of the titled grid and the run's provenance (JSON) beside it")
        self.threads_button = PushButton(
            text="Count threads",
            tooltip="threads per cm of the canvas in each direction, from the last run's weave layer: "
            "the whole painting's counts here, a density map per family of threads over the painting",
        )
        self.curtain_button = PushButton(
            text=CURTAIN_TEXT,
            tooltip=f"one layer left of a divider, another right of it (the last run's x and x2 first): "
            f"drag the divider; {CURTAIN_KEY} in the viewer shows all of one or the other",
        )
        self.curtain = CurtainControl(viewer, say, alive)
        self.folder_button = PushButton(text="Open results folder", tooltip="the folder where this run's files are (whole paintings, exported comparisons)")
        self.save_button = PushButton(text="Save model…", tooltip="keep the current model (weights, settings, normalisation) as a .pt file")
        self.load_button = PushButton(text="Load model…", tooltip="a model saved before, to apply or continue")
        self.apply_button = PushButton(text="Apply model", tooltip="separate the chosen layers with the current model, without training")
        layout = QVBoxLayout(self)
        self.counting: FunctionWorker | None = None
        for row in ([self.compare_button, self.export_button], [self.threads_button, self.curtain_button], [self.folder_button], [self.save_button, self.load_button, self.apply_button]):
            container = Container(widgets=row, layout="horizontal", labels=False)
            container.native.layout().setContentsMargins(0, 0, 0, 0)
            layout.addWidget(container.native)
            if self.curtain_button in row:
                layout.addWidget(self.curtain)  # shown while the curtain is open
        for button, action in (
            (self.compare_button, self.toggle_compare), (self.export_button, self._ask_export), (self.folder_button, self.open_folder),
            (self.threads_button, self.count_threads), (self.curtain_button, self.toggle_curtain),
            (self.save_button, self._ask_save), (self.load_button, self._ask_load),
        ):
            button.changed.connect(lambda *_, action=action: action())

    def follow(self, state: RunState, have: set[str]) -> None:
        """Enable each button as :func:`action_enabled` says; Compare reads Back while comparing."""
        for action, button in (
            ("compare", self.compare_button), ("export", self.export_button), ("open_folder", self.folder_button),
            ("save", self.save_button), ("load", self.load_button), ("apply", self.apply_button),
            ("threads", self.threads_button), ("curtain", self.curtain_button),
        ):
            button.enabled = action_enabled(action, state, have)
        self.threads_button.enabled = self.threads_button.enabled and self.counting is None
        self.compare_button.text = BACK_TEXT if self.comparison is not None else COMPARE_TEXT
        self.curtain_button.text = END_CURTAIN_TEXT if self.curtain.active else CURTAIN_TEXT

    # ---------------------------------------------------------------- comparison

    def panels(self) -> list[Panel]:
        """The last run's panels (x from the run's own X-ray layer while it is there)."""
        last = self.runner.last_run
        if last is None:
            return []
        source = last.source if last.source in self.viewer.layers else self.fallback_source()
        return comparison_panels(self.viewer, source, last.number)

    def _removed(self, panels: list[Panel]) -> str:
        """" (x1 and weave removed from the viewer)": the last run's layers its comparison showed when they
        came in that ``panels`` lack (a breaker's removed weave went unsaid); "" if none."""
        shown = {panel.role for panel in panels}
        gone = [role.replace("_", " ") for role in self.runner.last_run.compared if role not in shown]
        return f" ({_listed(gone)} removed from the viewer)" if gone else ""

    def _nothing_to_show(self, verb: str) -> str:
        """Why Compare or Export has no panels: no run yet, or the last run's layers deleted."""
        if self.runner.last_run is not None:
            return f"The last run's layers are gone: train again to {verb}."
        return f"Nothing to {verb} yet: train first."

    def toggle_compare(self) -> None:
        """The last run's titled grid, one camera for all; again to go back to the layers as they were."""
        if self.comparison is not None:
            self.end_comparison()
            return
        self.end_curtain()
        panels = self.panels()
        if not panels:
            self.say(self._nothing_to_show("compare"), error=True)
            return
        self.comparison = Comparison(self.viewer, panels)
        self.comparison.grid()
        flipped = [role for role in FLIPPED if role in {panel.role for panel in panels}]
        flip = f" Press {FLIP_KEY} in the viewer to flip between {_listed(flipped)} in one view." if flipped[1:] else ""
        self.say(f"Run {self.runner.runs}: {', '.join(p.title for p in panels)}{self._removed(panels)}.{flip}")
        self.changed()

    def end_comparison(self) -> None:
        if self.comparison is not None:
            self.comparison.end()
            self.comparison = None
            self.changed()

    def put_away(self) -> None:
        """End the comparison and the curtain (a new run is about to change the layers)."""
        self.end_comparison()
        self.end_curtain()

    # ---------------------------------------------------------------- curtain

    def curtain_layers(self) -> tuple[Any, Any]:
        """A and B of a new curtain: the last run's X-ray and x2 while they are there; else the X-ray
        chosen in Inputs and the topmost other image layer."""
        last = self.runner.last_run
        a = last.source if last is not None and last.source in self.viewer.layers else self.fallback_source()
        b = None
        if last is not None:
            b = next((layer for layer in self.viewer.layers
                      if layer.metadata.get(METADATA_KEY, {}).get("run") == last.number and layer.metadata[METADATA_KEY].get("layer") == "x2"), None)
        if b is None:
            b = next((layer for layer in reversed(self.viewer.layers)
                      if isinstance(layer, Image) and (a is None or not same_layer(layer, a))), None)
        return a, b

    def toggle_curtain(self) -> None:
        """Open the curtain (x and x2 first), or end it."""
        if self.curtain.active:
            self.end_curtain()
            return
        self.end_comparison()
        if self.curtain.open(*self.curtain_layers()):
            self.changed()

    def end_curtain(self) -> None:
        if self.curtain.active:
            self.curtain.close()
            self.changed()

    def flip(self, *_: Any) -> None:
        """The viewer's FLIP_KEY: the last run's x, x1 and x2 in turn, alone, in the same view (not during a run)."""
        if self.runner.status.running:
            return
        if self.comparison is None:
            panels = self.panels()
            if not panels:
                return
            self.end_curtain()  # one or the other: both hide and show layers
            self.comparison = Comparison(self.viewer, panels)
        title = self.comparison.flip()
        if not title:
            self.say("The compared layers were removed from the viewer: nothing to flip between.", error=True)
            return
        self.say(f"Showing {title}; {FLIP_KEY} shows the next of x, x1, x2, and {BACK_TEXT} ends it.")
        self.changed()

    def export_comparison_to(self, folder: str | Path | None = None) -> tuple[Path, Path] | None:
        """The titled grid as a PNG and its provenance as JSON in ``folder`` (default: the last run's folder)."""
        last, panels = self.runner.last_run, self.panels()
        folder = Path(folder) if folder is not None else None if last is None else last.folder
        if not panels or folder is None:
            self.say(self._nothing_to_show("export") if not panels else "Choose a folder to export to.", error=True)
            return None
        try:
            written = export_comparison(panels, folder, last.number, last.threads, last.threads_corner)
        except XraySepError as error:
            self.say(str(error), error=True)
            return None
        last.folder = last.folder or folder  # Open results folder shows it from now on
        self.say(f"Exported the comparison to {written[0]} (provenance in {written[1].name}){self._removed(panels)}.")
        self.changed()
        return written

    def _ask_export(self) -> None:
        last = self.runner.last_run
        folder = None if last is None else last.folder
        if folder is None:  # an in-memory run has no folder of its own: ask
            start = results_root() if results_root().is_dir() else Path.home()
            folder = QFileDialog.getExistingDirectory(self, "Export comparison to", str(start)) or None
        if folder:
            self.export_comparison_to(folder)

    def open_folder(self) -> None:
        last = self.runner.last_run
        if last is not None and last.folder is not None:
            QDesktopServices.openUrl(QUrl.fromLocalFile(str(last.folder)))

    # ---------------------------------------------------------------- thread counts

    def count_threads(self) -> FunctionWorker | None:
        """Count the last run's weave in a worker thread; its density maps are added, and the counts
        said, when it returns (:meth:`show_counts`). None when there is no weave layer to count."""
        last = self.runner.last_run
        weave = None if last is None else run_weave_layer(self.viewer, last.number)
        if weave is None:
            self.say("The last run has no weave layer: train first (or again, if it was removed).", error=True)
            return None
        data, pixel_mm, corner = weave_for_counting(weave)
        self.say(f"Counting the threads of {weave.name}…")
        worker = create_worker(
            count_threads, data, pixel_mm, _start_thread=False,
            _connect={"returned": lambda counts: self.show_counts(last, weave, counts, corner), "errored": self._count_failed},
        )
        worker.finished.connect(self._count_ended)
        self.counting = worker
        self.changed()
        worker.start()
        return worker

    def show_counts(self, record: Any, weave: Any, counts: ThreadCount, corner: tuple[int, int] = (0, 0)) -> None:
        """On the main thread: keep ``counts`` (of ``weave`` from pixel ``corner`` on) with the run, lay
        its maps over the painting, say them."""
        if not self.alive():
            return
        record.threads, record.threads_corner = counts, corner
        if not counts.found:
            self.say("No canvas weave was found in the weave layer: no thread count (a panel, or threads too faint to count).")
            return
        maps = show_thread_maps(self.viewer, thread_map_layers(counts, weave, record.number, corner))
        where = " (its central part)" if corner != (0, 0) else ""
        summary = counts.summary(GIVE_SPACING)
        self.say(f"Threads of run {record.number}{where}, windows of {counts.window_px} px:\n{summary}\n"
                 f"Maps: {', '.join(layer.name for layer in maps)}.")

    def _count_failed(self, error: Exception) -> None:
        if self.alive():
            self.say(str(error) if isinstance(error, XraySepError) else f"Thread counting failed: {error}", error=True)

    def _count_ended(self) -> None:
        self.counting = None
        if self.alive():
            self.changed()

    # ---------------------------------------------------------------- models

    def save_model_to(self, path: str | Path) -> Path | None:
        current = self.runner.model
        if current is None:
            self.say("Train a model first.", error=True)
            return None
        try:
            path = save_model(current.model, Path(path))
        except XraySepError as error:
            self.say(str(error), error=True)
            return None
        self.say(f"Saved the model of {current.origin} ({current.model.steps_trained} steps) to {path}.")
        return path

    def load_model_from(self, path: str | Path) -> TrainedModel | None:
        try:
            model = load_model(path)
        except XraySepError as error:
            self.say(str(error), error=True)
            return None
        self.runner.separation.show_config(model.config)  # applied or continued as it was made
        self.runner.model = CurrentModel(model, Path(path).name, Path(path).resolve())
        self.say(
            f"Loaded {Path(path).name} ({model.config.method.name.replace('_', ' ')}, {model.steps_trained} steps); "
            f"it needs {model.needs()}. Apply model separates the chosen layers with it; Continue trains it further. Its settings "
            "are shown under Advanced (a preset sets them back)."
        )
        self.changed()
        return model

    def _ask_save(self) -> None:
        path, _ = QFileDialog.getSaveFileName(self, "Save model", f"xraysep-run{self.runner.runs}.pt", "Model (*.pt)")
        if path:  # the dialog itself asks before replacing an existing file
            self.save_model_to(path)

    def _ask_load(self) -> None:
        path, _ = QFileDialog.getOpenFileName(self, "Load model", "", "Model (*.pt)")
        if path:
            self.load_model_from(path)


def _listed(words: list[str]) -> str:
    """"a", "a and b", "a, b and c"."""
    return " and ".join(words) if len(words) < 3 else f"{', '.join(words[:-1])} and {words[-1]}"
