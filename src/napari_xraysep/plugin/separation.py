"""The Separation panel: a preset, one plain choice of quality against time, and the expert settings in
a collapsed Advanced section — each with a tooltip saying what it changes, only those of the chosen
method shown."""

from __future__ import annotations

from typing import Any

from magicgui.widgets import CheckBox, ComboBox, Container, FloatSpinBox, LineEdit, SpinBox
from qtpy.QtWidgets import QGroupBox, QVBoxLayout
from superqt import QCollapsible

from ..core import SeparationConfig, TrainedModel, available_devices
from ..core.config import ARCHITECTURE_FIELDS
from ..core.errors import InputError

PRESETS = {"default": SeparationConfig, "auto-encoder": SeparationConfig.autoencoder, "paper-faithful": SeparationConfig.paper}
PRESET_NAMES = {"colour map (default)": "default", "auto-encoder": "auto-encoder", "paper-faithful auto-encoder": "paper-faithful"}
PRESET_TIPS = (
    "default: the colour map — fast (seconds on a CPU), needs no region, finds the canvas weave.\n"
    "auto-encoder: the paper's connected auto-encoder, warm-started (minutes on a CPU); needs a region.\n"
    "paper-faithful: the auto-encoder with every choice the paper states; needs a region."
)
# Quality against time: a factor on the preset's own number of steps (colour-map solves, Adam steps).
QUALITY = {"Quick look (half the time)": 0.5, "Standard (as benchmarked)": 1.0, "Thorough (three times as long)": 3.0}
CUSTOM = "Custom (Advanced ▸ Steps)"
# A fitted colour map's shape is fixed, as an auto-encoder's architecture is: Continue keeps them.
COLOUR_MAP_SHAPE = ("clusters", "colour_degree", "psf_radius", "denoise_sigma")
# Live previews: the colour map's 12 solves are 3 passes of 4, so one preview a pass; the
# auto-encoder's 200 steps, one preview every 25.
PREVIEW_EVERY = {"colour_map": 4, "autoencoder": 25}


class SeparationPanel(QGroupBox):
    """Preset, quality and Advanced settings; :meth:`settings` turns them into a run's settings."""

    def __init__(self) -> None:
        super().__init__("Separation")
        self.preset = ComboBox(label="Method", choices=list(PRESET_NAMES.items()), value="default", tooltip=PRESET_TIPS)
        self.quality = ComboBox(
            label="Quality", choices=[*QUALITY, CUSTOM], value="Standard (as benchmarked)",
            tooltip="more optimisation steps take proportionally longer; Standard is what the benchmark measured",
        )
        self.steps = SpinBox(label="Steps", min=0, max=1_000_000, tooltip=(
            "optimisation steps: colour-map solves (default 12) or auto-encoder Adam steps (default 200); "
            "time grows in proportion. The quality choice sets it."
        ))
        self.seed = SpinBox(label="Seed", min=0, max=2**31 - 1, tooltip="random seed of sampling and initialisation: change it to see how much the result owes to chance")
        self.device = ComboBox(label="Device", choices=["auto", *available_devices()], value="auto", tooltip="where to compute: auto takes a CUDA GPU or Apple's MPS if there is one, else the CPU")
        self.preview_every = SpinBox(label="Preview every", min=0, max=100_000, value=25, tooltip="show the current x̂1 and x̂2 as preview layers every this many steps (the method sets it: once a colour-map pass, every 25 auto-encoder steps; 0: no previews, a little faster)")
        # the colour map's settings
        self.clusters = SpinBox(label="Colour clusters", min=1, max=256, tooltip="colours of the photograph the map tells apart: more separates similar paints, too many fit the hidden design by chance")
        self.colour_degree = SpinBox(label="Colour degree", min=1, max=4, tooltip="degree of the polynomial in R, G, B: higher bends the colour → X-ray map more")
        self.psf_radius = SpinBox(label="Blur radius (px)", min=0, max=8, tooltip="radius of the fitted blur between photograph and X-ray: larger absorbs X-ray blur and small misregistration")
        self.passes = SpinBox(label="Passes", min=1, max=20, tooltip="reweighting passes: each trusts less where the previous found the hidden design")
        self.region_weight = FloatSpinBox(label="Region weight", min=0.0, max=1.0, step=0.05, tooltip="how much the fit trusts pixels inside the region (0–1): lower keeps the hidden design there from bending the map; 1: the region is not used")
        self.weave = CheckBox(label="Canvas weave", tooltip="find the canvas weave and give it its own layer (off: it stays in the error map)")
        # the auto-encoder's settings
        self.exclusion_weight = FloatSpinBox(label="λ (exclusion)", min=0.0, max=1e7, step=1.0, tooltip="weight of the exclusion loss: higher keeps the surface's edges out of the hidden X-ray; too high makes it faint (benchmark: 100)")
        self.channels = SpinBox(label="Channels", min=1, max=512, tooltip="feature maps per layer: more fit finer detail but train slower; the shipped warm start needs 32")
        self.learning_rate = LineEdit(label="Learning rate", tooltip="Adam's step size: larger learns faster but may diverge (a failed run keeps its last good model)")
        self.warm_start = CheckBox(label="Warm start", tooltip="start from weights trained on double-sided panels (paper Fig. 3): better on average, about half the steps; 32 channels only")

        self.colour_map_settings = [self.clusters, self.colour_degree, self.psf_radius, self.passes, self.region_weight, self.weave]
        self.autoencoder_settings = [self.exclusion_weight, self.channels, self.learning_rate, self.warm_start]
        expert = Container(widgets=[self.steps, self.seed, self.device, self.preview_every, *self.colour_map_settings, *self.autoencoder_settings])
        expert.native.layout().setContentsMargins(0, 0, 0, 0)
        self.advanced = QCollapsible("Advanced")
        self.advanced.addWidget(expert.native)
        layout = QVBoxLayout(self)
        layout.addWidget(Container(widgets=[self.preset, self.quality]).native)
        layout.addWidget(self.advanced)

        self.apply_preset(self.preset.value)
        self.preset.changed.connect(self.apply_preset)
        self.quality.changed.connect(self._quality_to_steps)
        self.steps.changed.connect(self._steps_to_quality)

    @property
    def method(self) -> str:
        """The chosen preset's method: "colour_map" or "autoencoder"."""
        return PRESETS[self.preset.value]().method

    def apply_preset(self, name: str) -> None:
        """Every field to the preset's value; the steps follow the quality chosen."""
        config = PRESETS[name]()
        self.seed.value, self.preview_every.value = config.seed, PREVIEW_EVERY[config.method]
        self.clusters.value, self.colour_degree.value, self.psf_radius.value = config.clusters, config.colour_degree, config.psf_radius
        self.passes.value, self.region_weight.value, self.weave.value = config.passes, config.region_weight, config.weave
        self.exclusion_weight.value, self.channels.value = config.exclusion_weight, config.channels
        self.learning_rate.value, self.warm_start.value = f"{config.learning_rate:g}", config.warm_start
        colour_map = config.method == "colour_map"
        for widget in self.colour_map_settings:
            widget.visible = colour_map
        for widget in self.autoencoder_settings:
            widget.visible = not colour_map
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

        With a ``model`` to continue or apply, its config is the base and the fields that fix its shape
        (architecture, colour-map shape) are left out; only its own method's fields are given.
        """
        config = model.config if model is not None else PRESETS[self.preset.value]()
        form: dict[str, Any] = {
            "steps": int(self.steps.value), "seed": int(self.seed.value), "device": str(self.device.value),
            "preview_every": int(self.preview_every.value),
        }
        if config.method == "colour_map":
            form.update(
                clusters=int(self.clusters.value), colour_degree=int(self.colour_degree.value), psf_radius=int(self.psf_radius.value),
                passes=int(self.passes.value), region_weight=float(self.region_weight.value), weave=bool(self.weave.value),
            )
        else:
            try:
                learning_rate = float(self.learning_rate.value)
            except ValueError as error:
                raise InputError(f"Learning rate {self.learning_rate.value!r} is not a number.") from error
            form.update(
                exclusion_weight=float(self.exclusion_weight.value), channels=int(self.channels.value),
                learning_rate=learning_rate, warm_start=bool(self.warm_start.value),
            )
        if model is not None:
            fixed = COLOUR_MAP_SHAPE if config.method == "colour_map" else ARCHITECTURE_FIELDS
            form = {name: value for name, value in form.items() if name not in fixed}
        return config, form
