"""What a separation hands back: :class:`SeparationResult`, its provenance and what the user is told.

The six images in the X-ray's own units (:func:`components_in_units` maps step 1's estimates there)
with the model that made them, a JSON-ready record of how
(:meth:`SeparationResult.provenance`), and the lines about the input (:func:`input_notes`,
:func:`defects_line`) that every face shows. Apart from :mod:`.separation` (which makes results) so
that the faces, :mod:`napari_xraysep.io` and the streamed path read a result without the run.
"""

from __future__ import annotations

import datetime as _dt
import math
import platform
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch

from .._version import __version__
from .calibration import Calibration
from .colourmap import ColourMap
from .config import SeparationConfig
from .data import Normalisation
from .defects import Defects
from .films import Films
from .inference import Components
from .passages import Passages
from .stretcher import Stretcher
from .support import Support
from .trained import TrainedModel
from .weave import combination_peaks


RESULT_LAYERS = ("x1_hat", "x2_hat", "error_map", "x1", "x2", "weave")
# Layers a run has only when it found what they hold.
OPTIONAL_LAYERS = ("exposure", "stretcher")


def created_now() -> str:
    """When a result set is made: UTC, to the second (ISO 8601), as every face's run.json records it."""
    return _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds")


@dataclass(frozen=True)
class SeparationResult:
    """Everything a run produced, images as (H, W) float32 in the X-ray's own units.

    ``x1_hat``/``x2_hat``: step 1's surface and hidden estimates; ``x_hat``: the model's
    reconstruction of the mixed X-ray; ``weave``: the canvas weave (zero for the auto-encoder, which
    leaves it in the error map as the paper does); ``error_map = x − x̂1 − x̂2 − weave``;
    ``x1``/``x2``: step 2's refined X-rays (``x1 + x2 + weave == x``). For a double-sided panel
    (``double_sided``), x2 is the back side's X-ray, in the X-ray's orientation.

    ``support``: the painting's support (found or given; None if not sought) — every image is NaN
    outside it; ``defects``: what was marked in the X-ray (None if not sought) — clipped pixels are
    NaN, hot/dead pixels and scratches repaired (there ``x1 + x2 + weave`` is the repaired X-ray);
    ``stretcher``: the stretcher's bars when found (:mod:`.stretcher`), their layer taken out of
    x2 and x̂2, so that ``x1 + x2 + weave + stretcher == x``; None when none were found or sought;
    ``films``: a mosaic's films when seams were found or given (:mod:`.films`), and ``exposure``
    (H, W) float32 their exposure taken out of the X-ray before the model was applied, so that
    ``x1 + x2 + weave + exposure (+ stretcher) == x``; both None otherwise. ``passages``: colour
    regions of the photograph whose outline steps in x2 (:mod:`.passages`: perhaps a pigment the
    photograph cannot distinguish), None when there are none (or for a double-sided panel).
    """

    x1_hat: np.ndarray
    x2_hat: np.ndarray
    x_hat: np.ndarray
    error_map: np.ndarray
    x1: np.ndarray
    x2: np.ndarray
    weave: np.ndarray
    model: TrainedModel
    timings: dict[str, float]
    stopped_early: bool = False
    double_sided: bool = False
    mirror_back: bool = False
    # A model applied to an X-ray in other units: how they were measured (and corrected), or None.
    calibration: Calibration | None = None
    # How much of the X-ray's detail the photograph explains, and the warning given where almost none
    # (:func:`~.calibration.photograph_fit`); None where not measured.
    photograph_fit: dict[str, Any] | None = None
    support: Support | None = None
    defects: Defects | None = None
    stretcher: Stretcher | None = None
    films: Films | None = None
    exposure: np.ndarray | None = None
    passages: Passages | None = None
    # The device the run computed on: settings.device resolved ("auto" → "cuda:0", "mps" or "cpu").
    device: str | None = None
    # Whether the model was fitted on these inputs (False: a model only applied to them).
    fitted: bool = True

    @property
    def config(self) -> SeparationConfig:
        return self.model.config

    @property
    def loss_history(self) -> list[dict[str, float]]:
        return self.model.loss_history

    def layers(self) -> dict[str, np.ndarray]:
        """The images a user compares, in display order: the six, then the films' exposure and the
        stretcher's bars when they were found."""
        extra = {}
        if self.exposure is not None:
            extra["exposure"] = np.where(np.isnan(self.x2), np.float32(np.nan), self.exposure)
        if self.stretcher is not None:  # empty where the other results are
            extra["stretcher"] = np.where(np.isnan(self.x2), np.float32(np.nan), self.stretcher.layer())
        return {name: getattr(self, name) for name in RESULT_LAYERS} | extra

    def provenance(self) -> dict[str, Any]:
        """JSON-ready record of how these images were made (settings, versions, losses, timings)."""
        history = self.model.loss_history
        return {
            "software": {
                "napari-xraysep": __version__,
                "torch": torch.__version__,
                "numpy": np.__version__,
                "python": platform.python_version(),
            },
            "created": created_now(),
            "settings": self.config.to_dict(),
            "resolved": resolved_settings(self.config, self.device),
            "steps_trained": self.model.steps_trained,
            "stopped_early": self.stopped_early,
            "double_sided": self.double_sided,
            "side_channels": len(self.model.side_normalisations),
            # Which maps (their file or layer names, where known): an exported comparison said only "1".
            "side_channel_names": list(self.model.side_names),
            "mirror_back": self.mirror_back,
            "final_losses": history[-1] if history else None,
            "weave_threads": weave_threads(self.model),
            "x_normalisation": self.model.x_normalisation.to_dict(),
            "x_calibration": None if self.calibration is None else self.calibration.to_dict(),
            "photograph_fit": self.photograph_fit,
            "timings_s": self.timings,
            "shape": list(self.x1.shape),
            "painting_support": None if self.support is None else self.support.summary(),
            "defects": None if self.defects is None else self.defects.summary(),
            "stretcher": None if self.stretcher is None else self.stretcher.summary(),
            "films": None if self.films is None else self.films.summary(),
            "passages": None if self.passages is None else self.passages.summary(),
        }

    def notes(self) -> list[str]:
        """What a user is told about the input (CLI lines, the widget's note): the side channels read, the
        painting's support, the X-ray's marked pixels, the mosaic's films, the stretcher's bars and x2's passages that
        follow a colour of the photograph; empty when there is nothing to say."""
        found = [part.describe() for part in (self.films, self.stretcher, self.passages) if part is not None]
        # Side maps change what x1 is made of: said where they were read (only run.json told, before).
        sides = [f"x1 is predicted from {self.model.needs()}."] if self.model.side_normalisations else []
        return sides + input_notes(self.support, self.defects, self.fitted) + found


def resolved_settings(config: SeparationConfig, device: str | None) -> dict[str, Any]:
    """What the settings left to the run became (``settings`` keeps the user's, so that a model file's
    settings round-trip): the steps it was set to run (the method's default when ``steps`` is None)
    and the device it computed on (``"auto"`` resolved)."""
    return {"steps": config.training_steps, "device": device}


def weave_threads(model: TrainedModel) -> dict[str, Any] | None:
    """The canvas weave's threads a colour map found (none: ``peaks`` 0) — their frequencies in cycles
    per pixel (along y, x), periods in pixels, and which are no family of threads (``combinations``:
    where threads cross, or a harmonic, :func:`.weave.combination_peaks`; a user counted four "threads"
    where ``xraysep weave`` found two families); None for the auto-encoder, which seeks no weave."""
    network = model.network
    if not isinstance(network, ColourMap):
        return None
    frequencies = network.weave_frequencies.tolist()
    return {
        "peaks": len(frequencies),
        "frequencies_cycles_per_px": [[round(fy, 6), round(fx, 6)] for fy, fx in frequencies],
        "periods_px": [round(1.0 / math.hypot(fy, fx), 3) for fy, fx in frequencies],
        "combinations": combination_peaks(np.asarray(frequencies)),
    }


def _count(number: int) -> str:
    """1234567 → '1 234 567' (a thin space would be lost in many terminals)."""
    return f"{number:,}".replace(",", " ")


def defects_line(summary: dict[str, Any], fitted: bool = True) -> str | None:
    """The line that says what was marked in the X-ray (a :meth:`Defects.summary`, or the counts of
    a tile-by-tile run: "clipped_pixels", "hot_dead_pixels", "scratch_pixels"); None if nothing was.
    ``fitted``: whether a fit left them out (not when a model is only applied, tile by tile)."""
    parts = []
    clipped = summary.get("clipped_pixels", 0)
    if clipped:
        share = ""
        if "clipped_fraction" in summary:
            # 46 pixels of a frame are not "0.0 %": two significant digits below a tenth of a percent,
            # and never in powers of ten (one pixel of a 30 000-pixel-square mosaic is not "1.1e-05 %")
            percent = 100 * summary["clipped_fraction"]
            shown = f"{percent:.1f}" if percent >= 0.1 else f"{percent:.2g}" if percent >= 0.001 else "under 0.001"
            share = f" ({shown} %)"
        parts.append(f"{_count(clipped)} clipped pixel{'s' * (clipped != 1)}{share} at the detector's limit")
    points = summary.get("hot_dead_pixels", 0)
    if points:
        parts.append(f"{_count(points)} hot/dead pixel{'s' * (points != 1)}")
    if summary.get("scratches"):
        # with their pixels, the one count a tile-by-tile run can give (the same file applied says that)
        pixels = f" ({_count(summary['scratch_pixels'])} pixels)" if summary.get("scratch_pixels") else ""
        parts.append(f"{summary['scratches']} scratch{'es' * (summary['scratches'] != 1)}{pixels}")
    elif summary.get("scratch_pixels"):
        parts.append(f"{_count(summary['scratch_pixels'])} pixels of scratches")
    if not parts:
        return None
    notes = ["left out of the fit"] if fitted else []
    if clipped:
        notes.append("the clipped pixels are empty in the results")
    scratched = summary.get("scratch_pixels") or summary.get("scratches")
    repaired = [name for present, name in ((points, "hot/dead pixels"), (scratched, "scratches")) if present]
    if repaired:
        notes.append(f"the {' and '.join(repaired)} are repaired from their neighbours")
    # The X-ray alone cannot tell them apart; run.json lists where the hot/dead pixels were (Defects.summary).
    mistaken = ["a thin straight line of the hidden design can pass for a scratch"] if scratched else []
    if points:
        mistaken.append(f"a lone speck of dense paint {'for' if scratched else 'can pass for'} a hot pixel")
    if mistaken:
        notes.append(", ".join(mistaken) + " (mark_defects=false keeps all)")
    return "Marked " + ", ".join(parts) + " — " + "; ".join(notes) + "."


def input_notes(support: Support | None, defects: Defects | None, fitted: bool = True) -> list[str]:
    """The lines a face shows about the support and the defects found (see SeparationResult.notes);
    ``fitted``: whether a fit left the defects out (not when a model was only applied)."""
    lines = []
    if support is not None and not (support.full and support.source == "detected"):
        lines.append(support.sentence()[0].upper() + support.sentence()[1:] + ".")
    line = None if defects is None else defects_line(defects.summary(), fitted)
    if line:
        lines.append(line)
    return lines


def components_in_units(components: Components, normalisation: Normalisation) -> Components:
    """Map unit-range estimates to X-ray units; x̂1 and x̂2 carry half the offset each (they add up
    with the weave, which has none, to the X-ray)."""
    return Components(
        x1_hat=normalisation.from_unit(components.x1_hat, offset_share=0.5),
        x2_hat=normalisation.from_unit(components.x2_hat, offset_share=0.5),
        x_hat=normalisation.from_unit(components.x_hat),
        weave=normalisation.from_unit(components.weave, offset_share=0.0),
    )
