"""The Separation panel: a preset, one plain choice of quality against time, and the expert settings in
a collapsed Advanced section — each with a tooltip saying what it changes, only those of the chosen
method shown."""

from __future__ import annotations

import dataclasses
from typing import Any

from magicgui.widgets import CheckBox, ComboBox, Container, FloatSpinBox, LineEdit, SpinBox
from magicgui.widgets.bases import ValueWidget
from qtpy.QtWidgets import QGroupBox, QVBoxLayout
from superqt import QCollapsible

from ..core import PRESETS, SeparationConfig, TrainedModel, available_devices
from ..core.config import METHODS
from ..core.errors import InputError

# The dock's words for the core's presets (core.config.PRESETS).
PRESET_NAMES = {"colour map (default)": "default", "auto-encoder": "autoencoder", "paper-faithful auto-encoder": "paper"}
PRESET_TIPS = (
    "colour map: fast (seconds on a CPU), needs no region, finds the canvas weave.\n"
    "auto-encoder: the paper's connected auto-encoder, warm-started (minutes on a CPU); needs a region.\n"
    "paper-faithful: the auto-encoder with every choice the paper states; needs a region. Slow on a CPU: its\n"
    "patch-averaged application took about 10 minutes a megapixel and its 200 steps 9 minutes on 2 cores\n"
    "(docs/benchmarks-speed.md); a GPU, or the auto-encoder preset, for a first look."
)
# Quality against time: a factor on the preset's own number of steps (colour-map solves, Adam steps).
STANDARD = "Standard (as benchmarked)"
QUALITY = {"Quick look (half the time)": 0.5, STANDARD: 1.0, "Thorough (three times as long)": 3.0}
CUSTOM = "Custom (Advanced ▸ Steps)"
# Live previews: the colour map's 12 solves are 3 passes of 4, so one preview a pass; the
# auto-encoder's 200 steps, one preview every 25.
PREVIEW_EVERY = {"colour_map": 4, "autoencoder": 25}


def _control(item: dataclasses.Field) -> ValueWidget:
    """The Advanced section's control for a settings field that has a label: a check box for a switch,
    a spin box within its ``widget_range``, or a text field for a number of any magnitude (a rate)."""
    meta = item.metadata
    label, tip, span = meta["label"], meta["tip"], meta["widget_range"]
    if isinstance(item.default, bool):
        return CheckBox(label=label, tooltip=tip)
    if span is None:
        return LineEdit(label=label, tooltip=tip)
    if isinstance(item.default, int):
        return SpinBox(label=label, min=span[0], max=span[1], tooltip=tip)
    return FloatSpinBox(label=label, min=span[0], max=span[1], step=0.05 if span[1] - span[0] <= 1 else 1.0, tooltip=tip)


def _value(control: ValueWidget, item: dataclasses.Field) -> Any:
    """The control's value in the field's type (a text field's number read, or a one-line error)."""
    kind = type(item.default)
    try:
        return kind(control.value)
    except ValueError as error:
        raise InputError(f"{item.metadata['label']} {control.value!r} is not a number.") from error


class SeparationPanel(QGroupBox):
    """Preset, quality and Advanced settings; :meth:`settings` turns them into a run's settings."""

    def __init__(self) -> None:
        super().__init__("Separation")
        self.preset = ComboBox(label="Method", choices=list(PRESET_NAMES.items()), value="default", tooltip=PRESET_TIPS)
        self.quality = ComboBox(
            label="Quality", choices=[*QUALITY, CUSTOM], value=STANDARD,
            tooltip="more optimisation steps take proportionally longer; Standard is what the benchmark measured",
        )
        self.steps = SpinBox(label="Steps", min=0, max=1_000_000, tooltip=(
            "optimisation steps: colour-map solves (default 12) or auto-encoder Adam steps (default 200); "
            "time grows in proportion. The quality choice sets it."
        ))
        self.seed = SpinBox(label="Seed", min=0, max=2**31 - 1, tooltip="random seed of sampling and initialisation: change it to see how much the result owes to chance")
        self.device = ComboBox(label="Device", choices=["auto", *available_devices()], value="auto", tooltip="where to compute: auto takes a CUDA GPU or Apple's MPS if there is one, else the CPU")
        self.preview_every = SpinBox(label="Preview every", min=0, max=100_000, value=25, tooltip="show the current x̂1 and x̂2 as preview layers every this many steps (the method sets it: once a colour-map pass, every 25 auto-encoder steps; 0: no previews, a little faster)")
        # each method's settings that the dock offers, built from its settings type
        self.method_fields: dict[str, dict[str, dataclasses.Field]] = {
            name: {item.name: item for item in dataclasses.fields(kind) if item.metadata.get("label")}
            for name, kind in METHODS.items()
        }
        self.controls: dict[str, dict[str, ValueWidget]] = {
            method: {name: _control(item) for name, item in fields.items()} for method, fields in self.method_fields.items()
        }
        for controls in self.controls.values():
            for name, control in controls.items():
                setattr(self, name, control)  # separation.clusters, separation.channels, ...
        method_controls = [control for controls in self.controls.values() for control in controls.values()]
        # what real files carry, for every method: the painting's support, defects, a stretcher
        self.run_fields = {
            item.name: item for item in dataclasses.fields(SeparationConfig) if item.metadata.get("label")
        }
        self.run_controls = {name: _control(item) for name, item in self.run_fields.items()}
        for name, control in self.run_controls.items():
            setattr(self, name, control)  # separation.mark_defects, ...
        expert = Container(widgets=[
            self.steps, self.seed, self.device, self.preview_every, *method_controls, *self.run_controls.values(),
        ])
        expert.native.layout().setContentsMargins(0, 0, 0, 0)
        self.advanced = QCollapsible("Advanced")
        self.advanced.addWidget(expert.native)
        layout = QVBoxLayout(self)
        layout.addWidget(Container(widgets=[self.preset, self.quality]).native)
        layout.addWidget(self.advanced)

        self._method_shown = ""  # the method whose fields are shown
        self.apply_preset(self.preset.value)
        self.preset.changed.connect(self.apply_preset)
        self.quality.changed.connect(self._quality_to_steps)
        self.steps.changed.connect(self._steps_to_quality)

    @property
    def method(self) -> str:
        """The chosen preset's method: "colour_map" or "autoencoder"."""
        return PRESETS[self.preset.value]().method.name

    def apply_preset(self, name: str) -> None:
        """Every field to the preset's value but the seed (the user's, to see what a result owes to
        chance), only the preset's method's shown; the steps follow the quality chosen — steps set by
        hand (Custom) too when the method stays, else the method's Standard (the methods count steps
        differently: a colour map's 30 are an auto-encoder's few minutes' tenth)."""
        self._show(PRESETS[name]())

    def show_config(self, config: SeparationConfig) -> None:
        """A loaded model's settings as it was made: the preset of its method (the one it equals, if
        any), that method's fields with the model's values and the real-file switches, so that Apply
        and Continue read its settings, not another method's empty ones (an auto-encoder model loaded
        while the colour map was shown: "Learning rate '' is not a number"). A preset chosen after it
        sets them back."""
        same_method = [key for key in PRESET_NAMES.values() if PRESETS[key]().method.name == config.method.name]
        equal = [key for key in same_method if PRESETS[key]().method == config.method]
        with self.preset.changed.blocked():
            self.preset.value = (equal or same_method)[0]
        self._show(config)

    def _show(self, config: SeparationConfig) -> None:
        """``config``'s method's fields shown with its values (the other methods' hidden), its
        real-file switches set, and the steps that follow the quality chosen."""
        if config.method.name != self._method_shown and self.quality.value == CUSTOM:
            with self.quality.changed.blocked():
                self.quality.value = STANDARD
        self._method_shown = config.method.name
        self.preview_every.value = PREVIEW_EVERY[config.method.name]
        for field_name, control in self.run_controls.items():  # Find the painting, Mark defects, ...
            control.value = getattr(config, field_name)
        for method, controls in self.controls.items():
            chosen = method == config.method.name
            for field_name, control in controls.items():
                control.visible = chosen
                if chosen:
                    value = getattr(config.method, field_name)
                    if isinstance(control, LineEdit):
                        control.value = str(value)  # every digit: Continue trains at this rate, not a rounded one
                    else:
                        # A model made elsewhere may hold a value beyond the control's usual range (the CLI's
                        # passes=25 against 1–20): shown as it is, not refused half-way through loading.
                        if isinstance(control, SpinBox | FloatSpinBox):
                            control.min, control.max = min(control.min, value), max(control.max, value)
                        control.value = value
        if self.advanced.isExpanded():  # its height follows the settings shown
            self.advanced.expand(animate=False)
        self._quality_to_steps()

    def _default_steps(self) -> int:
        return PRESETS[self.preset.value]().training_steps

    def _quality_to_steps(self, *_: Any) -> None:
        factor = QUALITY.get(self.quality.value)
        if factor is not None:  # Custom keeps the steps as they are
            with self.steps.changed.blocked():
                self.steps.value = max(1, round(self._default_steps() * factor))

    def _steps_to_quality(self, steps: int) -> None:
        """Steps set by hand: the quality says which choice that is, or Custom."""
        match = next((name for name, f in QUALITY.items() if max(1, round(self._default_steps() * f)) == steps), CUSTOM)
        with self.quality.changed.blocked():
            self.quality.value = match

    def settings(self, model: TrainedModel | None = None) -> tuple[SeparationConfig, dict[str, Any]]:
        """The base config and the fields on top of it (:func:`iter_separate`'s ``config`` and keywords).

        Only the method's own fields are given; with a ``model`` to continue or apply, its config is the
        base and the fields that fix its shape (the settings type's ``shape_fields``) are left out.
        """
        config = model.config if model is not None else PRESETS[self.preset.value]()
        form: dict[str, Any] = {
            "steps": int(self.steps.value), "seed": int(self.seed.value), "device": str(self.device.value),
            "preview_every": int(self.preview_every.value),
        }
        form |= {name: bool(control.value) for name, control in self.run_controls.items()}
        method = config.method
        fixed = method.shape_fields if model is not None else ()
        for name, control in self.controls[method.name].items():
            if name not in fixed:
                form[name] = _value(control, self.method_fields[method.name][name])
        return config, form
