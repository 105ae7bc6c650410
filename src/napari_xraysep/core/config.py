"""Every setting of a separation run, validated once, with the presets beside the default.

Two methods (``method``):

* ``"colour_map"`` (the default, chosen by ``benchmarks/quality.py``; see docs/benchmarks.md): the
  surface X-ray as a robust colour map of the photograph, the canvas weave as its own layer
  (:mod:`.colourmap`, :mod:`.weave`).
* ``"autoencoder"``: the paper's connected auto-encoder. ``mode="paper"`` samples the 50×50 patch
  grid with stride 5 of the paper's Section IV and reassembles by averaging overlapping patches;
  ``mode="fast"`` trains the same fully-convolutional network on random crops and infers on the
  whole image in tiles. :meth:`SeparationConfig.paper` keeps every choice the paper states;
  :meth:`SeparationConfig.autoencoder` is the auto-encoder default of napari-xraysep 0.1.

Each method reads its own settings and ignores the other's (the table in docs/cli.md says which).
"""

from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass
from typing import Any, Literal

from .errors import InputError

Method = Literal["colour_map", "autoencoder"]
Mode = Literal["fast", "paper"]
LrSchedule = Literal["constant", "cosine"]

_CHOICES: dict[str, tuple[str, ...]] = {
    "method": ("colour_map", "autoencoder"),
    "mode": ("fast", "paper"),
    "loss_norm": ("frobenius", "rms"),
    "exclusion_scaling": ("paper", "gradient"),
    "output_layer": ("bn_relu", "linear"),
    "label_match": ("linear", "none", "colour_map"),
    "lr_schedule": ("constant", "cosine"),
}
_POSITIVE_INTS = (
    "channels", "crop_size", "batch_size", "patch_size", "patch_stride", "tile_size", "exclusion_levels", "passes",
)
_NON_NEGATIVE_INTS = ("seed", "preview_every", "clusters", "colour_degree", "psf_radius")
_NON_NEGATIVE_FLOATS = ("highpass_sigma", "reweight_sigma", "reweight_strength", "denoise_sigma")
# Optimisation steps when ``steps`` is not given: colour-map solves, or auto-encoder Adam steps.
DEFAULT_STEPS = {"colour_map": 12, "autoencoder": 200}
ARCHITECTURE_FIELDS = ("channels", "kernel_size", "output_layer")
# Fast mode shrinks its crops to fit small images, down to this side (3 exclusion levels need it).
MIN_CROP_SIZE = 16


@dataclass(frozen=True)
class SeparationConfig:
    """Settings of one run. Construct with keywords; invalid values raise :class:`InputError`."""

    method: Method = "colour_map"
    # None: the method's own default (DEFAULT_STEPS); 0 only applies a trained model.
    steps: int | None = None
    # colour map (method="colour_map")
    clusters: int = 32
    colour_degree: int = 3
    psf_radius: int = 2
    highpass_sigma: float = 8.0
    passes: int = 3
    reweight_sigma: float = 16.0
    reweight_strength: float = 16.0
    region_weight: float = 1.0
    weave: bool = True
    robust: bool = True
    denoise_sigma: float = 0.7
    # real files (every method): find the painting's support and fit only there; mark the X-ray's
    # clipped pixels as missing and repair its hot/dead pixels and scratches (out of the fit)
    detect_support: bool = True
    mark_defects: bool = True
    # auto-encoder (method="autoencoder")
    mode: Mode = "fast"
    # architecture (fixed once a model is trained)
    channels: int = 32
    kernel_size: int = 3
    output_layer: Literal["bn_relu", "linear"] = "linear"
    # loss
    exclusion_weight: float = 100.0
    exclusion_levels: int = 3
    exclusion_scaling: Literal["paper", "gradient"] = "paper"
    loss_norm: Literal["frobenius", "rms"] = "rms"
    label_match: Literal["linear", "none", "colour_map"] = "linear"
    # optimisation
    warm_start: bool = True
    learning_rate: float = 3e-3
    lr_schedule: LrSchedule = "cosine"
    seed: int = 0
    # sampling: fast mode
    crop_size: int = 64
    batch_size: int = 8
    # sampling: paper mode
    patch_size: int = 50
    patch_stride: int = 5
    # execution
    device: str = "auto"
    tile_size: int = 512
    preview_every: int = 0

    def __post_init__(self) -> None:
        for name, choices in _CHOICES.items():
            if getattr(self, name) not in choices:
                raise InputError(f"Setting {name}={getattr(self, name)!r} is not one of {', '.join(choices)}.")
        for name in ("warm_start", "weave", "robust", "detect_support", "mark_defects"):
            if not isinstance(getattr(self, name), bool):
                raise InputError(f"Setting {name} must be true or false; got {getattr(self, name)!r}.")
        if self.steps is not None and (isinstance(self.steps, bool) or not isinstance(self.steps, int) or self.steps < 0):
            raise InputError(f"Setting steps must be a whole number ≥ 0; got {self.steps!r}.")
        for name in _POSITIVE_INTS + _NON_NEGATIVE_INTS + ("kernel_size",):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int):
                raise InputError(f"Setting {name} must be a whole number; got {value!r}.")
        for name in _POSITIVE_INTS:
            if getattr(self, name) < 1:
                raise InputError(f"Setting {name} must be at least 1; got {getattr(self, name)}.")
        for name in _NON_NEGATIVE_INTS:
            if getattr(self, name) < 0:
                raise InputError(f"Setting {name} must not be negative; got {getattr(self, name)}.")
        if self.kernel_size < 1 or self.kernel_size % 2 == 0:
            raise InputError(f"Setting kernel_size must be an odd number ≥ 1; got {self.kernel_size}.")
        for name in ("learning_rate", "exclusion_weight", "region_weight") + _NON_NEGATIVE_FLOATS:
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
                raise InputError(f"Setting {name} must be a finite number; got {value!r}.")
        for name in _NON_NEGATIVE_FLOATS:
            if getattr(self, name) < 0:
                raise InputError(f"Setting {name} must not be negative; got {getattr(self, name)}.")
        if not 0 <= self.region_weight <= 1:
            raise InputError(f"Setting region_weight must be between 0 and 1; got {self.region_weight}.")
        if self.colour_degree > 4:
            raise InputError(f"Setting colour_degree must be at most 4 (higher powers only fit noise); got {self.colour_degree}.")
        if self.psf_radius > 8:
            raise InputError(f"Setting psf_radius must be at most 8 pixels; got {self.psf_radius}.")
        if not self.learning_rate > 0:
            raise InputError(f"Setting learning_rate must be positive; got {self.learning_rate}.")
        if not self.exclusion_weight >= 0:
            raise InputError(f"Setting exclusion_weight (λ) must be ≥ 0; got {self.exclusion_weight}.")
        if not isinstance(self.device, str):
            raise InputError(f"Setting device must be a name such as auto, cpu or cuda; got {self.device!r}.")
        if self.patch_stride > self.patch_size:
            raise InputError(
                f"Setting patch_stride ({self.patch_stride}) exceeds patch_size ({self.patch_size}): "
                "patches would leave gaps."
            )

    @property
    def training_steps(self) -> int:
        """``steps``, or the method's default when it is not given."""
        return DEFAULT_STEPS[self.method] if self.steps is None else self.steps

    @classmethod
    def autoencoder(cls, **overrides: Any) -> SeparationConfig:
        """The connected auto-encoder as napari-xraysep 0.1 ran it by default: warm-started, 200 steps
        on random 64-px crops, λ = 100 with Eq. 7's scaling, intensity-matched x̄1."""
        return cls(**{"method": "autoencoder", "weave": False, **overrides})

    @classmethod
    def paper(cls, **overrides: Any) -> SeparationConfig:
        """The paper's stated choices: 50×50 patches at stride 5, BN+ReLU on every decoder layer,
        Frobenius norms, Eq. 7's λ1/λ2, plain grayscale replacement, Adam at 1e-6, 64 channels."""
        settings: dict[str, Any] = {
            "method": "autoencoder",
            "weave": False,
            "mode": "paper",
            "channels": 64,
            "output_layer": "bn_relu",
            "exclusion_scaling": "paper",
            "loss_norm": "frobenius",
            "label_match": "none",
            "learning_rate": 1e-6,
            "lr_schedule": "constant",
            "batch_size": 64,
            # The paper warm-starts (Fig. 3), but no weights ship for its 64-channel BN+ReLU network yet.
            "warm_start": False,
        }
        settings.update(overrides)
        return cls(**settings)

    @classmethod
    def from_dict(cls, values: dict[str, Any]) -> SeparationConfig:
        """Rebuild from :meth:`to_dict`; unknown names are an error, not silently dropped."""
        known = {f.name for f in dataclasses.fields(cls)}
        unknown = sorted(set(values) - known)
        if unknown:
            raise InputError(f"Unknown setting(s): {', '.join(unknown)}.")
        return cls(**values)

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)

    def replace(self, **changes: Any) -> SeparationConfig:
        return SeparationConfig.from_dict({**self.to_dict(), **changes})

    def architecture(self) -> dict[str, Any]:
        """The auto-encoder's shape (what a warm start or a continued model must match)."""
        return {name: getattr(self, name) for name in ARCHITECTURE_FIELDS}

    @property
    def min_image_size(self) -> int:
        """Smallest image side training can sample from (inference alone needs only 1 pixel)."""
        if self.method == "colour_map":
            return MIN_CROP_SIZE
        return self.patch_size if self.mode == "paper" else min(self.crop_size, MIN_CROP_SIZE)
