"""Every setting of a separation run, validated once: one settings type per method, the run's own
settings beside it, and the presets.

Two methods, each with its own settings type (``SeparationConfig.method``):

* :class:`ColourMapSettings` (the default, chosen by ``benchmarks/quality.py``; see docs/benchmarks.md):
  the surface X-ray as a robust colour map of the photograph, the canvas weave as its own layer
  (:mod:`.colourmap`, :mod:`.weave`).
* :class:`AutoEncoderSettings`: the paper's connected auto-encoder. ``mode="paper"`` samples the 50×50
  patch grid with stride 5 of the paper's Section IV and reassembles by averaging overlapping patches;
  ``mode="fast"`` trains the same fully-convolutional network on random crops and infers on the whole
  image in tiles. Its ``label_map`` is the colour map that makes x̄1 when ``label_match="colour_map"``.

:data:`PRESETS` names the three starting points every face offers: ``default`` (the colour map),
``autoencoder`` (0.1's default) and ``paper`` (every choice the paper states).

The settings' names are flat in every face (``separate(clusters=8)``, ``--set clusters=8``): the
constructor and :meth:`SeparationConfig.replace` route each name to the method's settings (an
auto-encoder's colour-map names to its ``label_map``) or to the run's own, and drop the names of the
method not run (as 0.2 ignored them), so one set of settings serves both methods. Records written by 0.1 and
0.2 (run.json, model formats 1 and 2) were flat; :meth:`SeparationConfig.from_dict` reads them too.
"""

from __future__ import annotations

import dataclasses
import difflib
import math
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, ClassVar, Literal, Union

from .errors import InputError

Mode = Literal["fast", "paper"]
LrSchedule = Literal["constant", "cosine"]
# Fast mode shrinks its crops to fit small images, down to this side (3 exclusion levels need it).
MIN_CROP_SIZE = 16


def _setting(
    default: Any,
    *,
    low: float | None = None,
    high: float | None = None,
    why: str = "",
    choices: tuple[str, ...] | None = None,
    positive: bool = False,
    label: str | None = None,
    tip: str | None = None,
    widget_range: tuple[float, float] | None = None,
) -> Any:
    """A settings field: its bounds (checked by the type), and — for those the dock's Advanced section
    shows — a ``label``, a ``tip`` and the ``widget_range`` its control offers."""
    metadata = {"low": low, "high": high, "why": why, "choices": choices, "positive": positive}
    metadata |= {"label": label, "tip": tip, "widget_range": widget_range}
    return field(default=default, metadata=metadata)


def _check(settings: Any) -> None:
    """InputError naming the first field of ``settings`` (a dataclass) outside its type or bounds."""
    for item in dataclasses.fields(settings):
        name, value, meta = item.name, getattr(settings, item.name), item.metadata
        if "choices" not in meta:  # a nested settings type checks itself
            continue
        if meta["choices"] is not None:
            if value not in meta["choices"]:
                raise InputError(f"Setting {name}={value!r} is not one of {', '.join(meta['choices'])}.")
            continue
        if isinstance(item.default, bool):
            if not isinstance(value, bool):
                raise InputError(f"Setting {name} must be true or false; got {value!r}.")
            continue
        if isinstance(item.default, str):
            if not isinstance(value, str):
                raise InputError(f"Setting {name} must be a name such as auto, cpu or cuda; got {value!r}.")
            continue
        whole = isinstance(item.default, int)
        if isinstance(value, bool) or not isinstance(value, int if whole else (int, float)):
            raise InputError(f"Setting {name} must be a {'whole' if whole else 'finite'} number; got {value!r}.")
        if not math.isfinite(value):
            raise InputError(f"Setting {name} must be a finite number; got {value!r}.")
        low, high = meta["low"], meta["high"]
        if meta["positive"] and not value > 0:
            raise InputError(f"Setting {name} must be positive; got {value}.")
        if not whole and low is not None and high is not None and not low <= value <= high:
            raise InputError(f"Setting {name} must be between {low:g} and {high:g}; got {value}.")
        if low is not None and value < low:
            raise InputError(f"Setting {name} must {'not be negative' if low == 0 else f'be at least {low}'}; got {value}.")
        if high is not None and value > high:
            raise InputError(f"Setting {name} must be at most {high}{meta['why']}; got {value}.")


@dataclass(frozen=True)
class ColourMapSettings:
    """How a colour map is shaped and fitted (:func:`~.colourmap_solve.fit_colour_map` takes it as it is).

    ``clusters``, ``colour_degree``, ``psf_radius`` and ``denoise_sigma`` fix a fitted map's shape
    (:attr:`shape_fields`); the others say how the weighted least-squares solves go.
    """

    name: ClassVar[str] = "colour_map"
    default_steps: ClassVar[int] = 12  # weighted least-squares solves
    shape_fields: ClassVar[tuple[str, ...]] = ("clusters", "colour_degree", "psf_radius", "denoise_sigma")

    clusters: int = _setting(32, low=0, label="Colour clusters", widget_range=(1, 256), tip=(
        "colours of the photograph the map tells apart: more separates similar paints, too many fit the "
        "hidden design by chance"))
    colour_degree: int = _setting(3, low=0, high=4, why=" (higher powers only fit noise)", label="Colour degree",
                                  widget_range=(1, 4), tip="degree of the polynomial in R, G, B: higher bends the colour → X-ray map more")
    psf_radius: int = _setting(2, low=0, high=8, why=" pixels", label="Blur radius (px)", widget_range=(0, 8), tip=(
        "radius of the fitted blur between photograph and X-ray: larger absorbs X-ray blur and small misregistration"))
    highpass_sigma: float = _setting(8.0, low=0)  # px: the fit's band, above the painting's slow shading
    passes: int = _setting(3, low=1, label="Passes", widget_range=(1, 20), tip=(
        "reweighting passes: each trusts less where the previous found the hidden design"))
    reweight_sigma: float = _setting(16.0, low=0)  # px over which a pass looks for the hidden design
    reweight_strength: float = _setting(16.0, low=0)
    region_weight: float = _setting(1.0, low=0, high=1, label="Region weight", widget_range=(0, 1), tip=(
        "how much the fit trusts pixels inside the region (0–1): lower keeps the hidden design there from "
        "bending the map; 1: the region is not used"))
    weave: bool = _setting(True, label="Canvas weave", tip=(
        "find the canvas weave and give it its own layer (off: it stays in the error map)"))
    robust: bool = _setting(True)  # Tukey weights against outliers
    denoise_sigma: float = _setting(0.7, low=0)  # px: x̂2's light smoothing

    def __post_init__(self) -> None:
        _check(self)

    def shape(self) -> dict[str, Any]:
        """What a fitted map keeps: continuing it must not change these."""
        return {name: getattr(self, name) for name in self.shape_fields}

    @property
    def min_image_size(self) -> int:
        return MIN_CROP_SIZE


@dataclass(frozen=True)
class AutoEncoderSettings:
    """The connected auto-encoder: its architecture (:attr:`shape_fields`, fixed once trained), its
    loss, optimisation and sampling; ``label_map`` fits x̄1 when ``label_match="colour_map"``."""

    name: ClassVar[str] = "autoencoder"
    default_steps: ClassVar[int] = 200  # Adam steps
    shape_fields: ClassVar[tuple[str, ...]] = ("channels", "kernel_size", "output_layer")

    mode: Mode = _setting("fast", choices=("fast", "paper"))
    # architecture
    channels: int = _setting(32, low=1, label="Channels", widget_range=(1, 512), tip=(
        "feature maps per layer: more fit finer detail but train slower; the shipped warm start needs 32"))
    kernel_size: int = _setting(3, low=1)  # odd
    output_layer: Literal["bn_relu", "linear"] = _setting("linear", choices=("bn_relu", "linear"))
    # loss
    exclusion_weight: float = _setting(100.0, low=0, label="λ (exclusion)", widget_range=(0, 1e7), tip=(
        "weight of the exclusion loss: higher keeps the surface's edges out of the hidden X-ray; too high "
        "makes it faint (benchmark: 100)"))
    exclusion_levels: int = _setting(3, low=1)
    exclusion_scaling: Literal["paper", "gradient"] = _setting("paper", choices=("paper", "gradient"))
    loss_norm: Literal["frobenius", "rms"] = _setting("rms", choices=("frobenius", "rms"))
    label_match: Literal["linear", "none", "colour_map"] = _setting("linear", choices=("linear", "none", "colour_map"))
    # optimisation
    warm_start: bool = _setting(True, label="Warm start", tip=(
        "start from weights trained on double-sided panels (paper Fig. 3): better on average, about half "
        "the steps; 32 channels only"))
    learning_rate: float = _setting(3e-3, positive=True, label="Learning rate", tip=(
        "Adam's step size: larger learns faster but may diverge (a failed run keeps its last good model)"))
    lr_schedule: LrSchedule = _setting("cosine", choices=("constant", "cosine"))
    # sampling: fast mode
    crop_size: int = _setting(64, low=1)
    batch_size: int = _setting(8, low=1)
    # sampling: paper mode
    patch_size: int = _setting(50, low=1)
    patch_stride: int = _setting(5, low=1)
    # the colour map that makes x̄1 (label_match="colour_map"); no weave, as 0.1's presets fitted it
    label_map: ColourMapSettings = field(default_factory=lambda: ColourMapSettings(weave=False))

    def __post_init__(self) -> None:
        _check(self)
        if self.kernel_size % 2 == 0:
            raise InputError(f"Setting kernel_size must be an odd number ≥ 1; got {self.kernel_size}.")
        if self.patch_stride > self.patch_size:
            raise InputError(
                f"Setting patch_stride ({self.patch_stride}) exceeds patch_size ({self.patch_size}): "
                "patches would leave gaps."
            )
        if not isinstance(self.label_map, ColourMapSettings):
            raise InputError(f"Setting label_map must be colour-map settings; got {self.label_map!r}.")

    def shape(self) -> dict[str, Any]:
        """The architecture: what a warm start or a continued model must match."""
        return {name: getattr(self, name) for name in self.shape_fields}

    @property
    def min_image_size(self) -> int:
        return self.patch_size if self.mode == "paper" else min(self.crop_size, MIN_CROP_SIZE)


MethodSettings = Union[ColourMapSettings, AutoEncoderSettings]
METHODS: dict[str, type[ColourMapSettings] | type[AutoEncoderSettings]] = {
    "colour_map": ColourMapSettings, "autoencoder": AutoEncoderSettings,
}
COLOUR_MAP_NAMES = frozenset(f.name for f in dataclasses.fields(ColourMapSettings))
AUTOENCODER_NAMES = frozenset(f.name for f in dataclasses.fields(AutoEncoderSettings)) - {"label_map"}


def _unknown_settings(unknown: list[str], known: frozenset[str] | set[str]) -> InputError:
    """The error for setting names not among ``known``, each with the known name it is most like
    ("Unknown setting(s): nmae (did you mean name?)."): a typo names its fix."""
    named = []
    for name in unknown:
        close = difflib.get_close_matches(name, sorted(known), n=1)
        named.append(f"{name} (did you mean {close[0]}?)" if close else name)
    return InputError(f"Unknown setting(s): {', '.join(named)}.")


def _with_flat(settings: MethodSettings, flat: dict[str, Any]) -> MethodSettings:
    """``settings`` with flat ``NAME=VALUE``s on top: its own names, and an auto-encoder's colour-map
    names to its ``label_map``. The other method's names are checked and dropped (that method is not
    run; as in 0.2, one set of settings serves both); a name of neither method is an InputError."""
    unknown = sorted(set(flat) - COLOUR_MAP_NAMES - AUTOENCODER_NAMES)
    if unknown:
        raise _unknown_settings(unknown, COLOUR_MAP_NAMES | AUTOENCODER_NAMES | RUN_NAMES)
    if isinstance(settings, ColourMapSettings):
        mine = {name: value for name, value in flat.items() if name in COLOUR_MAP_NAMES}
        AutoEncoderSettings(**{name: value for name, value in flat.items() if name in AUTOENCODER_NAMES})  # checked all the same
    else:
        mine = {name: value for name, value in flat.items() if name in AUTOENCODER_NAMES}
        label = {name: value for name, value in flat.items() if name in COLOUR_MAP_NAMES}
        if label:
            mine["label_map"] = dataclasses.replace(settings.label_map, **label)
    return dataclasses.replace(settings, **mine) if mine else settings


def _method_settings(method: Any) -> MethodSettings:
    """A method's settings from its name (its defaults) or its settings object."""
    if isinstance(method, (ColourMapSettings, AutoEncoderSettings)):
        return method
    if isinstance(method, str) and method in METHODS:
        return METHODS[method]()
    raise InputError(f"Setting method={method!r} is not one of {', '.join(METHODS)}.")


@dataclass(frozen=True, init=False)
class SeparationConfig:
    """Settings of one run: the method's settings and the run's own (steps, seed, device, tiles,
    previews, the checks on real files). Invalid values raise :class:`InputError`.

    ``method`` is a settings object or a method's name (its defaults); further keywords are flat
    setting names, each routed to where it belongs::

        SeparationConfig(ColourMapSettings(clusters=8), steps=4)
        SeparationConfig("colour_map", clusters=8, steps=4)   # the same settings
    """

    method: MethodSettings
    # None: the method's own default (its default_steps); 0 only applies a trained model.
    steps: int | None = None
    seed: int = _setting(0, low=0)
    device: str = _setting("auto")
    tile_size: int = _setting(512, low=1)
    preview_every: int = _setting(0, low=0)
    # real files (every method): find the painting's support and fit only there; mark the X-ray's
    # clipped pixels as missing and repair its hot/dead pixels and scratches (out of the fit);
    detect_support: bool = _setting(True, label="Find the painting", tip=(
        "seek the painting in the frame (a film margin, a backdrop, a colour chart, a frame): fitted there, results "
        "only there. Off: the whole frame is the painting"
    ))
    mark_defects: bool = _setting(True, label="Mark defects", tip=(
        "clipped pixels become missing; hot/dead pixels and 1-px scratches are repaired from their neighbours and "
        "left out of the fit. Off: the X-ray as stored (a thin straight line of the hidden design can pass for a "
        "scratch)"
    ))
    # the stretcher's bars (straight bands of wood in the X-ray only) as a layer of their own, not in x2
    stretcher_bars: bool = _setting(True, label="Stretcher bars", tip=(
        "seek a stretcher's bars (straight bands of wood along the edges and across) and take them out of x2 into a "
        "layer of their own"
    ))

    def __init__(self, method: MethodSettings | str = "colour_map", **settings: Any) -> None:
        own = {f.name: f.default for f in dataclasses.fields(SeparationConfig) if f.name != "method"}
        for name, default in own.items():
            object.__setattr__(self, name, settings.pop(name, default))
        object.__setattr__(self, "method", _with_flat(_method_settings(method), settings))
        _check(self)
        if self.steps is not None and (isinstance(self.steps, bool) or not isinstance(self.steps, int) or self.steps < 0):
            raise InputError(f"Setting steps must be a whole number ≥ 0; got {self.steps!r}.")

    @property
    def training_steps(self) -> int:
        """``steps``, or the method's default when it is not given."""
        return self.method.default_steps if self.steps is None else self.steps

    @property
    def min_image_size(self) -> int:
        """Smallest image side training can sample from (inference alone needs only 1 pixel)."""
        return self.method.min_image_size

    @classmethod
    def autoencoder(cls, **overrides: Any) -> SeparationConfig:
        """The connected auto-encoder as napari-xraysep 0.1 ran it by default: warm-started, 200 steps
        on random 64-px crops, λ = 100 with Eq. 7's scaling, intensity-matched x̄1."""
        return cls(AutoEncoderSettings()).replace(**overrides)

    @classmethod
    def paper(cls, **overrides: Any) -> SeparationConfig:
        """The paper's stated choices: 50×50 patches at stride 5, BN+ReLU on every decoder layer,
        Frobenius norms, Eq. 7's λ1/λ2, plain grayscale replacement, Adam at 1e-6, 64 channels."""
        paper = AutoEncoderSettings(
            mode="paper", channels=64, output_layer="bn_relu", exclusion_scaling="paper", loss_norm="frobenius",
            label_match="none", learning_rate=1e-6, lr_schedule="constant", batch_size=64,
            # The paper warm-starts (Fig. 3), but no weights ship for its 64-channel BN+ReLU network yet.
            warm_start=False,
        )
        return cls(paper).replace(**overrides)

    @classmethod
    def from_dict(cls, values: dict[str, Any]) -> SeparationConfig:
        """Rebuild from :meth:`to_dict` (``method`` a dictionary naming the method), or from the flat
        settings 0.1 and 0.2 recorded (run.json, model formats 1 and 2), keeping the recorded method's
        names and dropping the other's. Unknown names are an error, not silently dropped."""
        values = dict(values)
        method = values.pop("method", "colour_map")
        return cls(_method_from_dict(method) if isinstance(method, dict) else method, **values)

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready and nested: ``{"method": {"name": ..., <its settings>}, "steps": ..., ...}``."""
        values = dataclasses.asdict(self)
        values["method"] = {"name": self.method.name, **values["method"]}
        return values

    def replace(self, **changes: Any) -> SeparationConfig:
        """A copy with ``changes`` (flat names, as the constructor takes). A new ``method`` by name
        keeps the colour map shared with the current method: a colour map becomes an auto-encoder's
        ``label_map`` and an auto-encoder's ``label_map`` the colour map."""
        method = changes.pop("method", self.method)
        if isinstance(method, str) and method != self.method.name:
            if method == "colour_map" and isinstance(self.method, AutoEncoderSettings):
                method = self.method.label_map
            elif method == "autoencoder" and isinstance(self.method, ColourMapSettings):
                method = AutoEncoderSettings(label_map=self.method)
        elif isinstance(method, str):
            method = self.method
        own = {f.name: getattr(self, f.name) for f in dataclasses.fields(self) if f.name != "method"}
        return SeparationConfig(method, **{**own, **changes})


def _method_from_dict(values: dict[str, Any]) -> MethodSettings:
    """A method's settings from :meth:`SeparationConfig.to_dict`'s ``method`` entry."""
    values = dict(values)
    kind = METHODS.get(values.pop("name", None))
    if kind is None:
        raise InputError(f"Setting method must name one of {', '.join(METHODS)}; got {values!r}.")
    if isinstance(values.get("label_map"), dict):
        values["label_map"] = _method_from_dict({"name": "colour_map", **values["label_map"]})
    unknown = sorted(set(values) - {f.name for f in dataclasses.fields(kind)})
    if unknown:
        raise _unknown_settings(unknown, {f.name for f in dataclasses.fields(kind)})
    return kind(**values)


# The run's own names (steps, seed, device, …): an unknown name may be a typo of one of them.
RUN_NAMES = frozenset(f.name for f in dataclasses.fields(SeparationConfig))

# The starting points every face offers, by name (the CLI's --preset, the dock's Method).
PRESETS: dict[str, Callable[..., SeparationConfig]] = {
    "default": SeparationConfig, "autoencoder": SeparationConfig.autoencoder, "paper": SeparationConfig.paper,
}
