"""The "X-ray separation" dock widget: pick layers, draw the region, train in the background, compare.

The widget only translates: layers → arrays (via :mod:`._layers`), form → settings, and the core's
progress events → progress bar, loss plot, preview and result layers. Training is the core's
generator run in napari's ``thread_worker``; layers change only in slots on the main thread.
"""

from __future__ import annotations

import logging
import re
import threading
import time
from functools import partial
from pathlib import Path
from typing import Any

import numpy as np
from magicgui.widgets import CheckBox, ComboBox, Container, FloatSpinBox, LineEdit, PushButton, Select, SpinBox
from napari.qt.threading import GeneratorWorker, create_worker
from qtpy.QtCore import QPointF, QStandardPaths, Qt
from qtpy.QtGui import QColor, QPainter, QPen, QPolygonF
from qtpy.QtWidgets import QFileDialog, QLabel, QProgressBar, QSizePolicy, QVBoxLayout, QWidget

from ._layers import (
    METADATA_KEY,
    is_region_layer,
    is_rgb_layer,
    is_xray_layer,
    layer_array,
    layer_source,
    layer_title,
    painting_layer_data,
    region_mask_from_layer,
    result_layer_data,
)
from .core import (
    SeparationConfig,
    SeparationResult,
    TrainedModel,
    TrainingError,
    TrainingProgress,
    XraySepError,
    available_devices,
    iter_separate,
    load_model,
    resolve_device,
    save_model,
)
from .core.data import check_back, check_pair, missing_filled
from .core.errors import InputError, OutputError
from .core.progress import clock
from .core.registration import misalignment_warning
from .core.separation import resolve_config
from .core.streaming import TileProgress, check_sources
from .painting import PaintingResult, is_large, iter_separate_painting, open_pyramid, training_area

logger = logging.getLogger(__name__)
PRESETS = {"default": SeparationConfig, "auto-encoder": SeparationConfig.autoencoder, "paper-faithful": SeparationConfig.paper}
REGION_LAYER_NAME = "region (hidden design)"
PLOTTED_LOSSES = {"total": QColor("#e0e0e0"), "exclusion": QColor("#ff9f40"), "mixture": QColor("#5ab4ff")}


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
    """A new folder for one run's whole-painting results (never an existing one: nothing is overwritten)."""
    stem = f"{time.strftime('%Y%m%d-%H%M%S')}-{re.sub(r'[^A-Za-z0-9_.-]+', '_', source_name)[:40]}-run{run}"
    for attempt in range(1000):
        folder = results_root() / (stem if attempt == 0 else f"{stem}-{attempt}")
        try:
            folder.mkdir(parents=True)
            return folder
        except FileExistsError:
            continue
        except OSError as error:
            raise OutputError(f"Cannot make a results folder in {results_root()}: {error.strerror or error}.") from error
    raise OutputError(f"Could not make a new results folder in {results_root()}.")


def same_layer(a: Any, b: Any) -> bool:
    """Identity of layers, seeing through the proxies napari hands to plugin widgets."""
    return getattr(a, "__wrapped__", a) is getattr(b, "__wrapped__", b)


def viewer_grid(viewer: Any) -> Any:
    """The grid settings: ``viewer.canvas.grid`` since napari 0.9, ``viewer.grid`` before."""
    canvas = getattr(viewer, "canvas", None)
    return canvas.grid if canvas is not None and hasattr(canvas, "grid") else viewer.grid


class LossPlot(QWidget):
    """A small live plot of loss terms (log scale), drawn with QPainter: no plotting library needed."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.history: list[dict[str, float]] = []
        self.setMinimumHeight(70)
        self.setSizePolicy(QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Fixed)
        self.setToolTip("Loss per step (log scale): total (light), exclusion (orange), x − (x̂1 + x̂2) (blue)")

    def set_history(self, history: list[dict[str, float]]) -> None:
        self.history = history
        self.update()

    def paintEvent(self, event: Any) -> None:
        painter = QPainter(self)
        painter.fillRect(self.rect(), QColor("#262930"))
        if len(self.history) < 2:
            return
        width, height = self.width() - 4, self.height() - 4
        for name, colour in PLOTTED_LOSSES.items():
            values = np.log10(np.maximum([h[name] for h in self.history], 1e-12))
            low, high = float(values.min()), float(values.max())
            span = high - low or 1.0
            xs = np.linspace(2, 2 + width, len(values))
            ys = 2 + height * (1 - (values - low) / span)
            painter.setPen(QPen(colour, 1.5))
            painter.drawPolyline(QPolygonF([QPointF(float(x), float(y)) for x, y in zip(xs, ys)]))


class XraySeparationWidget(QWidget):
    """Dock widget of the plugin; see docs/usage.md for the walk-through."""

    def __init__(self, napari_viewer: Any) -> None:
        super().__init__()
        self.viewer = napari_viewer
        self.worker: GeneratorWorker | None = None
        self.stop_event = threading.Event()
        # Closing the viewer destroys this widget: a running training ends with it, and the worker's
        # last signals must not reach Qt objects that are gone. The slot cannot touch `self` (being
        # destroyed), so it works on a plain dict the worker's slots also consult.
        self._lifetime = {"alive": True, "stop": self.stop_event}
        lifetime = self._lifetime
        self.destroyed.connect(lambda *_: (lifetime.update(alive=False), lifetime["stop"].set()))
        self.last_result: SeparationResult | None = None
        # The model Apply, Save and Continue use: the last run's, the last good one of a failed run,
        # or a loaded one — whichever came last.
        self.current_model: TrainedModel | None = None
        self.runs = 0
        self._training_inputs: list[Any] = []
        self._history: list[dict[str, float]] = []
        self._started = 0.0
        self._comparison: dict[str, Any] | None = None
        self._stop_reason = ""
        self._double_sided = False  # the running or last run is of a double-sided panel
        self._checkpoint: Path | None = None
        self._alignment_note = ""
        self._source_name = ""
        self._results_folder: Path | None = None  # a whole painting's run writes here
        self._offset = (0, 0)  # top-left pixel of the area a whole painting is trained on

        self.xray_layer = ComboBox(label="Mixed X-ray", choices=self._choices(is_xray_layer), nullable=True)
        self.rgb_layer = ComboBox(label="Surface RGB", choices=self._choices(is_rgb_layer), nullable=True)
        self.region_layer = ComboBox(label="Region", choices=self._choices(is_region_layer), nullable=True)
        self.draw_button = PushButton(text="Draw region")
        self.back_layer = ComboBox(
            label="Back side RGB", choices=self._choices(is_rgb_layer), nullable=True, value=None,
            tooltip="double-sided panel only: the back's photograph (then no region is needed)",
        )
        self.mirror_back = CheckBox(label="Mirror back side", value=False, tooltip="the back photograph was taken from behind")
        self.side_layers = Select(
            label="Side channels", choices=self._side_choices, value=[],
            tooltip="extra registered maps (infrared, XRF element maps such as Cu-K) read beside the RGB; Ctrl-click to choose several",
        )
        self.side_layers.native.setMaximumHeight(80)
        self.preset = ComboBox(label="Preset", choices=list(PRESETS), value="default")
        self.steps = SpinBox(label="Steps", min=0, max=1_000_000)
        self.exclusion_weight = FloatSpinBox(label="λ (exclusion)", min=0.0, max=1e7, step=1.0)
        self.channels = SpinBox(label="Channels", min=1, max=512)
        self.learning_rate = LineEdit(label="Learning rate")
        self.seed = SpinBox(label="Seed", min=0, max=2**31 - 1)
        self.warm_start = CheckBox(label="Warm start", tooltip="start from weights trained on double-sided panels (paper Fig. 3)")
        self.device = ComboBox(label="Device", choices=["auto", *available_devices()], value="auto")
        self.preview_every = SpinBox(label="Preview every", min=0, max=100_000, value=25, tooltip="steps between live previews (0: none)")
        self.train_button = PushButton(text="Train")
        self.pause_button = PushButton(text="Pause", enabled=False)
        self.stop_button = PushButton(text="Stop", enabled=False)
        self.continue_button = PushButton(text="Continue training", enabled=False)
        self.apply_button = PushButton(text="Apply model", enabled=False, tooltip="apply the loaded or last model without training")
        self.save_button = PushButton(text="Save model…", enabled=False)
        self.load_button = PushButton(text="Load model…")
        self.compare_button = PushButton(text="Compare side by side", enabled=False)

        form = Container(
            widgets=[
                self.xray_layer, self.rgb_layer, self.region_layer, self.draw_button, self.back_layer, self.mirror_back,
                self.side_layers,
                self.preset, self.steps, self.exclusion_weight, self.channels, self.learning_rate, self.seed,
                self.warm_start, self.device, self.preview_every,
            ]
        )
        controls = Container(
            widgets=[
                Container(widgets=[self.train_button, self.pause_button, self.stop_button], layout="horizontal", labels=False),
                Container(widgets=[self.continue_button, self.apply_button], layout="horizontal", labels=False),
                Container(widgets=[self.save_button, self.load_button], layout="horizontal", labels=False),
                self.compare_button,
            ],
            labels=False,
        )
        self.progress = QProgressBar()
        self.progress.setFormat("idle")
        self.progress.setValue(0)
        self.loss_plot = LossPlot()
        self.message = QLabel("")
        self.message.setWordWrap(True)
        self.message.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)

        layout = QVBoxLayout(self)
        for widget in (form.native, controls.native, self.progress, self.loss_plot, self.message):
            layout.addWidget(widget)
        layout.addStretch(1)

        self._apply_preset("default")
        self.preset.changed.connect(self._apply_preset)
        self.draw_button.changed.connect(self.draw_region)
        self.train_button.changed.connect(self.train)
        self.pause_button.changed.connect(self.toggle_pause)
        self.stop_button.changed.connect(self.stop)
        self.continue_button.changed.connect(self.continue_training)
        self.apply_button.changed.connect(self.apply_model)
        self.save_button.changed.connect(self._ask_save_model)
        self.load_button.changed.connect(self._ask_load_model)
        self.compare_button.changed.connect(self.toggle_compare)
        for event in (self.viewer.layers.events.inserted, self.viewer.layers.events.removed, self.viewer.layers.events.reordered):
            event.connect(self._refresh_choices)
        self.viewer.layers.events.removed.connect(self._on_layer_removed)
        self.xray_layer.changed.connect(lambda *_: self._refresh_side_choices())
        self._refresh_choices()

    # ---------------------------------------------------------------- layer pickers

    def _choices(self, accept):
        return lambda *_: [(layer.name, layer) for layer in self.viewer.layers if accept(layer)]

    def _side_choices(self, *_: Any) -> list[tuple[str, Any]]:
        """Grayscale maps that could inform the surface: not the X-ray itself, not our own results."""
        xray = self.xray_layer.value
        return [
            (layer.name, layer)
            for layer in self.viewer.layers
            if is_xray_layer(layer) and METADATA_KEY not in layer.metadata and not same_layer(layer, xray)
        ]

    def _refresh_choices(self, *_: Any) -> None:
        if not self._lifetime["alive"]:
            return
        chosen_sides = list(self.side_layers.value)  # reset_choices below would forget them
        for combo in (self.xray_layer, self.rgb_layer, self.region_layer, self.back_layer):
            current = combo.value
            combo.reset_choices()
            if combo is self.back_layer:  # optional: never chosen for the user
                if current is not None and current not in combo.choices:
                    combo.value = None
                continue
            if current is None or current not in [c for c in combo.choices]:
                first = next((c for c in combo.choices if c is not None), None)
                if first is not None:
                    combo.value = first
        self._refresh_side_choices(chosen_sides)

    def _refresh_side_choices(self, chosen: list[Any] | None = None) -> None:
        """After the X-ray's picker: the X-ray is never its own side channel."""
        if not self._lifetime["alive"]:
            return
        chosen = list(self.side_layers.value) if chosen is None else chosen
        self.side_layers.reset_choices()
        self.side_layers.value = [layer for layer in chosen if layer in self.side_layers.choices]

    def draw_region(self) -> Any:
        """A Shapes layer named for its purpose, selected, in rectangle mode, aligned with the X-ray."""
        reference = self.xray_layer.value
        kwargs = {"scale": reference.scale, "translate": reference.translate} if reference is not None else {}
        layer = self.viewer.add_shapes(
            name=REGION_LAYER_NAME, edge_color="#ff5050", face_color="#ff505033", edge_width=3, **kwargs
        )
        self.viewer.layers.selection.active = layer
        layer.mode = "add_rectangle"
        self.region_layer.value = layer
        self.show_message("Draw rectangles, ellipses or polygons over the hidden design; all of them count.")
        return layer

    # ---------------------------------------------------------------- settings

    def _apply_preset(self, name: str) -> None:
        config = PRESETS[name]()
        self.steps.value = config.training_steps
        self.exclusion_weight.value = config.exclusion_weight
        self.channels.value = config.channels
        self.learning_rate.value = f"{config.learning_rate:g}"
        self.seed.value = config.seed
        self.warm_start.value = config.warm_start

    def settings(self) -> tuple[SeparationConfig, dict[str, Any]]:
        """The preset's config and the form's values on top of it."""
        try:
            learning_rate = float(self.learning_rate.value)
        except ValueError as error:
            raise InputError(f"Learning rate {self.learning_rate.value!r} is not a number.") from error
        form = {
            "steps": int(self.steps.value),
            "exclusion_weight": float(self.exclusion_weight.value),
            "channels": int(self.channels.value),
            "learning_rate": learning_rate,
            "seed": int(self.seed.value),
            "warm_start": bool(self.warm_start.value),
            "device": str(self.device.value),
            "preview_every": int(self.preview_every.value),
        }
        return PRESETS[self.preset.value](), form

    def _chosen_layers(self) -> tuple[Any, Any, Any]:
        """The X-ray, surface RGB and back side layers, or an error naming what is missing."""
        xray, rgb, back = self.xray_layer.value, self.rgb_layer.value, self.back_layer.value
        if xray is None:
            raise InputError("Choose the mixed X-ray: a 2-D grayscale image layer (open one, or File ▸ Open Sample).")
        if rgb is None:
            raise InputError("Choose the surface RGB: a colour image layer registered to the X-ray.")
        if back is not None and same_layer(back, rgb):
            raise InputError("The back side RGB is the surface RGB layer; choose the back's photograph, or none.")
        return xray, rgb, back

    def _region_mask(self, shape: tuple[int, int]) -> Any:
        """The region as a mask; None if none is chosen and the method can do without one."""
        if self.region_layer.value is None:
            if PRESETS[self.preset.value]().method == "colour_map":
                return None
            raise InputError("Choose or draw the region where the hidden design shows most (Draw region).")
        return region_mask_from_layer(self.region_layer.value, shape)

    def _inputs(self, training: bool) -> dict[str, Any]:
        """Arrays from the chosen layers, checked with the core's messages, as iter_separate's arguments."""
        xray, rgb, back = self._chosen_layers()
        x_mixed, rgb_surface = check_pair(layer_array(xray), layer_array(rgb))
        sides = list(self.side_layers.value)
        rgb_back, mirror = (None, False) if back is None else (layer_array(back), bool(self.mirror_back.value))
        if rgb_back is not None:
            check_back(rgb_back, x_mixed, mirror)
        region = self._region_mask(x_mixed.shape) if training and back is None else None
        return {
            "x_mixed": x_mixed, "rgb_surface": rgb_surface, "region_mask": region, "rgb_back": rgb_back, "mirror_back": mirror,
            "side_channels": [layer_array(side) for side in sides],
        }

    def _painting_inputs(self, training: bool) -> tuple[dict[str, Any], dict[str, Any]]:
        """A whole painting's layers as lazy sources (iter_separate_painting's arguments), and the
        training area's X-ray and photograph in memory, checked as in :meth:`_inputs`."""
        xray, rgb, back = self._chosen_layers()
        sources = {
            "x_source": layer_source(xray), "rgb_source": layer_source(rgb),
            "rgb_back_source": None if back is None else layer_source(back), "mirror_back": back is not None and bool(self.mirror_back.value),
            "side_sources": [layer_source(side) for side in self.side_layers.value],
        }
        shape = check_sources(sources["x_source"], sources["rgb_source"], sources["rgb_back_source"], sources["side_sources"])
        sources["region_mask"] = self._region_mask(shape) if training and back is None else None
        if sources["region_mask"] is not None:
            area = training_area(sources["region_mask"])
        else:  # check a screenful in the middle
            area = tuple(slice(max(0, n // 2 - 1024), n // 2 + 1024) for n in shape)
        self._offset = (area[0].start, area[1].start) if training and sources["region_mask"] is not None else (0, 0)
        x_area, rgb_area = check_pair(np.asarray(sources["x_source"][area]), np.asarray(sources["rgb_source"][area]))
        return sources, {"x_mixed": x_area, "rgb_surface": rgb_area}

    # ---------------------------------------------------------------- training

    def train(self) -> GeneratorWorker | None:
        """Train a new model on the chosen layers."""
        return self._start(model=None)

    def continue_training(self) -> GeneratorWorker | None:
        """Train the last run's model further (a copy: the last run's layers stay as they are)."""
        return self._start(model=self.current_model)

    def apply_model(self) -> GeneratorWorker | None:
        """Apply the loaded (or last) model to the chosen layers without training."""
        model = self.current_model
        if model is None:
            self.show_message("Load a model first (Load model…), or train one.", error=True)
            return None
        return self._start(model=model, steps=0)

    def _start(self, model: TrainedModel | None, steps: int | None = None) -> GeneratorWorker | None:
        if self.worker is not None:
            self.show_message("A training is already running; stop it first.", error=True)
            return None
        try:
            config, form = self.settings()
            if steps is not None:
                form["steps"] = steps
            if model is not None:
                config = model.config
                form["channels"] = model.config.channels  # a trained architecture is fixed
            resolve_device(resolve_config(config, model, form).device)  # settings checked before any work
            xray = self.xray_layer.value
            large = xray is not None and is_large(layer_source(xray).shape)
            if large:
                arrays, checked = self._painting_inputs(training=form["steps"] > 0)
                self._results_folder = new_results_folder(xray.name, self.runs + 1)
                job: Any = partial(iter_separate_painting, out=self._results_folder)
            else:
                arrays = self._inputs(training=form["steps"] > 0)
                checked, job, self._offset, self._results_folder = arrays, iter_separate, (0, 0), None
            # Not a blocker (the user may know better), but said before any time is spent.
            self._alignment_note = misalignment_warning(missing_filled(checked["x_mixed"]), missing_filled(checked["rgb_surface"])) or ""
        except XraySepError as error:
            self.show_message(str(error), error=True)
            return None

        self.stop_event = threading.Event()
        self._lifetime["stop"] = self.stop_event
        self._stop_reason = ""
        self._training_inputs = [
            self.xray_layer.value, self.rgb_layer.value, self.region_layer.value, self.back_layer.value, *self.side_layers.value,
        ]
        self._double_sided = self.back_layer.value is not None
        self._source_name = self.xray_layer.value.name
        self._history = []
        self._started = time.perf_counter()
        self._checkpoint = None
        if form["steps"] > 0:
            folder = checkpoint_folder()
            folder.mkdir(parents=True, exist_ok=True)
            self._checkpoint = folder / f"{time.strftime('%Y%m%d-%H%M%S')}-run{self.runs + 1}.pt"
        worker = create_worker(
            job, **arrays, config=config, model=model, stop=self.stop_event,
            checkpoint=self._checkpoint, checkpoint_every_s=CHECKPOINT_EVERY_S, **form,
            _start_thread=False,
            # Handing napari our `errored` slot keeps it from re-raising errors as tracebacks.
            _connect={"yielded": self._on_progress, "returned": self._on_result, "errored": self._on_error, "finished": self._on_finished},
        )
        worker.paused.connect(lambda: self._set_pause_text("Resume"))
        worker.resumed.connect(lambda: self._set_pause_text("Pause"))
        self.worker = worker
        self._set_running(True)
        self.progress.setRange(0, max(form["steps"], 1))
        self.progress.setValue(0)
        self.progress.setFormat("starting…" if form["steps"] else "applying the model…")
        self.show_message(self._alignment_note + (" (Plugins ▸ Align photograph)" if self._alignment_note else ""), error=bool(self._alignment_note))
        worker.start()
        return worker

    def toggle_pause(self) -> None:
        if self.worker is not None:
            self.worker.toggle_pause()

    def stop(self) -> None:
        """Stop after the current step; the model reached so far is applied and its layers added."""
        self.stop_event.set()
        if self.worker is not None and self.worker.is_paused:
            self.worker.resume()
        if self._lifetime["alive"]:
            self.progress.setFormat("stopping after this step…")

    def _set_pause_text(self, text: str) -> None:
        self.pause_button.text = text

    def _set_running(self, running: bool) -> None:
        self.train_button.enabled = not running
        self.continue_button.enabled = not running and self.current_model is not None
        self.apply_button.enabled = not running and self.current_model is not None
        self.load_button.enabled = not running
        self.save_button.enabled = not running and self.current_model is not None
        self.pause_button.enabled = running
        self.stop_button.enabled = running
        self.compare_button.enabled = not running and self.runs > 0
        if not running:
            self._set_pause_text("Pause")

    def _on_progress(self, progress: TrainingProgress | TileProgress) -> None:
        if not self._lifetime["alive"]:
            return
        if isinstance(progress, TileProgress):
            self.progress.setRange(0, progress.total)
            self.progress.setValue(progress.done)
            eta = clock(progress.eta_s)
            self.progress.setFormat(f"whole painting: tile {progress.done}/{progress.total} · ETA {eta}")
            return
        self._history.append(progress.losses)
        self.progress.setValue(progress.step)
        eta = clock(progress.eta_s)
        self.progress.setFormat(f"step {progress.step}/{progress.total_steps} · ETA {eta}")
        if progress.step % max(1, progress.total_steps // 200) == 0 or progress.step == progress.total_steps:
            self.loss_plot.set_history(self._history)
        if progress.preview is not None:
            self._show_preview(progress.preview)

    def _preview_name(self, which: str) -> str:
        return f"{layer_title(which, self._double_sided)} · preview · {self._source_name}"

    def _show_preview(self, preview: Any) -> None:
        for which in ("x1_hat", "x2_hat"):
            name, data = self._preview_name(which), getattr(preview, which)
            if name in self.viewer.layers:
                layer = self.viewer.layers[name]
                layer.data = data
                layer.reset_contrast_limits()  # the estimate's range changes as training goes on
            else:
                self.viewer.add_image(
                    data, name=name, colormap="gray", metadata={METADATA_KEY: {"preview": True}}, **self._placement(self._offset)
                )

    def _placement(self, offset: tuple[int, int] = (0, 0)) -> dict[str, Any]:
        """Scale and position of the X-ray layer, moved by ``offset`` pixels (an area's corner)."""
        reference = self._training_inputs[0] if self._training_inputs else None
        if reference is None:
            return {}
        return {"scale": reference.scale, "translate": np.asarray(reference.translate) + np.asarray(offset) * reference.scale}

    def _remove_previews(self) -> None:
        for which in ("x1_hat", "x2_hat"):
            name = self._preview_name(which)
            if name in self.viewer.layers:
                self.viewer.layers.remove(name)

    def _on_result(self, result: SeparationResult | PaintingResult) -> None:
        if not self._lifetime["alive"]:
            return
        self._remove_previews()
        self.runs += 1
        self.current_model = result.model
        if self._checkpoint is not None:  # the result holds the model now; Save model keeps it
            self._checkpoint.unlink(missing_ok=True)
        if isinstance(result, PaintingResult):
            self._show_painting(result)
            return
        self.last_result = result
        for data, kwargs, _ in result_layer_data(result, self._source_name, self.runs, self._placement()):
            self.viewer.add_image(data, **kwargs)
        self.loss_plot.set_history(result.loss_history)
        self._report(
            result if result.config.training_steps else None,
            "Its six layers are in the layer list; 'Compare side by side' shows x, x1, x2 and the error map together.",
        )

    def _show_painting(self, result: PaintingResult) -> None:
        """The whole painting's layers as pyramids read from the run's folder — or, if training was
        stopped before the painting was done, the training area's layers in their place."""
        if result.area_result is not None:
            self.last_result = result.area_result
            self.loss_plot.set_history(result.area_result.loss_history)
        if result.paths is not None:
            pyramids = {name: open_pyramid(path) for name, path in result.paths.items()}
            layers = painting_layer_data(pyramids, result.provenance(), self._double_sided, self._source_name, self.runs, self._placement())
            where = f"The whole painting's six layers are written to {result.folder} (with model.pt) and shown from there."
        else:
            layers = result_layer_data(result.area_result, self._source_name, self.runs, self._placement(self._offset))
            where = (
                f"Stopped before the whole painting: the training area's layers are shown, and the model is saved in "
                f"{result.folder / 'model.pt'}; 'Apply model' separates the whole painting with it."
            )
        for data, kwargs, _ in layers:
            self.viewer.add_image(data, **kwargs)
        self._report(result.area_result, where)

    def _report(self, trained: SeparationResult | None, what_was_added: str) -> None:
        """Progress bar and message at the end of a run (``trained`` None: a model was only applied)."""
        took = time.perf_counter() - self._started
        if trained is None:
            steps = "applied"
        else:
            state = "stopped early at" if trained.stopped_early else "trained for"
            steps = f"{state} {trained.model.steps_trained} steps"
        self.progress.setFormat(f"run {self.runs}: {steps} · {took:.0f} s")
        note = f" Note: {self._alignment_note}" if self._alignment_note else ""
        self.show_message(
            f"{self._stop_reason}Run {self.runs}: model {steps}. {what_was_added}{note}",
            error=bool(self._stop_reason or note),
        )

    def _on_error(self, error: BaseException) -> None:
        if not self._lifetime["alive"]:
            return
        self._remove_previews()
        if isinstance(error, TrainingError) and error.model is not None:
            # Nothing lost: the last good model can be applied, saved or trained further.
            self.current_model = error.model
            self.show_message(f"{error} 'Apply model' uses it; 'Save model…' keeps it.", error=True)
        elif isinstance(error, XraySepError):
            self.show_message(str(error), error=True)
        else:  # a bug, not the user's doing: keep the traceback for the log
            logger.error("X-ray separation failed", exc_info=error)
            self.show_message(f"Training failed: {type(error).__name__}: {error}", error=True)
        self.progress.setFormat("failed")

    def _on_finished(self) -> None:
        if not self._lifetime["alive"]:
            return
        self.worker = None
        self._training_inputs = []
        if self._results_folder is not None and self._results_folder.is_dir() and not any(self._results_folder.iterdir()):
            self._results_folder.rmdir()  # the run failed before writing anything
        self._set_running(False)

    def _on_layer_removed(self, event: Any) -> None:
        if not self._lifetime["alive"]:
            return
        if self.worker is not None and any(same_layer(event.value, layer) for layer in self._training_inputs):
            self.stop()
            self._stop_reason = f"'{event.value.name}' was removed during training, so training stopped. "
            self.show_message(self._stop_reason, error=True)

    # ---------------------------------------------------------------- models

    def save_model_to(self, path: str | Path) -> Path | None:
        if self.current_model is None:
            self.show_message("Train a model first.", error=True)
            return None
        try:
            path = save_model(self.current_model, Path(path))
        except XraySepError as error:
            self.show_message(str(error), error=True)
            return None
        self.show_message(f"Saved the model ({self.current_model.steps_trained} steps) to {path}.")
        return path

    def load_model_from(self, path: str | Path) -> TrainedModel | None:
        try:
            self.current_model = load_model(path)
        except XraySepError as error:
            self.show_message(str(error), error=True)
            return None
        self.show_message(
            f"Loaded {Path(path).name} ({self.current_model.steps_trained} steps, "
            f"{self.current_model.config.channels} channels). 'Apply model' separates the chosen layers with it."
        )
        self._set_running(self.worker is not None)
        return self.current_model

    def _ask_save_model(self) -> None:
        path, _ = QFileDialog.getSaveFileName(self, "Save model", f"xraysep-run{self.runs}.pt", "Model (*.pt)")
        if path:  # the dialog itself asks before replacing an existing file
            self.save_model_to(path)

    def _ask_load_model(self) -> None:
        path, _ = QFileDialog.getOpenFileName(self, "Load model", "", "Model (*.pt)")
        if path:
            self.load_model_from(path)

    # ---------------------------------------------------------------- comparison

    def toggle_compare(self) -> None:
        """Grid of x, x1, x2 and the error map of the last run with one camera; again to go back."""
        if self._comparison is not None:
            for layer, visible in self._comparison["visible"].items():
                if layer in self.viewer.layers:
                    layer.visible = visible
            viewer_grid(self.viewer).enabled = self._comparison["grid"]
            self._comparison = None
            self.compare_button.text = "Compare side by side"
            return
        shown = self._comparison_layers()
        if not shown:
            self.show_message("Nothing to compare yet: train first.", error=True)
            return
        self._comparison = {"visible": {layer: layer.visible for layer in self.viewer.layers}, "grid": viewer_grid(self.viewer).enabled}
        for layer in self.viewer.layers:
            layer.visible = any(same_layer(layer, s) for s in shown)
        viewer_grid(self.viewer).enabled = True
        self.viewer.reset_view()
        self.compare_button.text = "Back to single view"

    def _comparison_layers(self) -> list[Any]:
        wanted = {"x1", "x2", "error_map"}
        layers = [
            layer
            for layer in self.viewer.layers
            if layer.metadata.get(METADATA_KEY, {}).get("run") == self.runs
            and layer.metadata[METADATA_KEY].get("layer") in wanted
        ]
        source = self.xray_layer.value
        return ([source] if source is not None else []) + layers

    # ---------------------------------------------------------------- messages

    def show_message(self, text: str, error: bool = False) -> None:
        self.message.setText(text)
        self.message.setStyleSheet("color: #ff6b6b;" if error else "")

