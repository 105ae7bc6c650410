"""What a fit leaves behind: a :class:`TrainedModel` — the fitted method plus what applying it again
needs. Its own module so that the fitting (training) and the model files (which save and load)
depend on it, not on each other.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from .calibration import UnitFit
from .colourmap import ColourMap
from .config import SeparationConfig
from .data import Normalisation
from .model import ConnectedAutoEncoder

# What a model can be: both take photograph(s) and X-ray and give (N, 4, H, W) components.
Separator = ConnectedAutoEncoder | ColourMap


@dataclass
class TrainedModel:
    """A fitted method with everything needed to apply it again: settings, normalisations, history."""

    network: Separator
    config: SeparationConfig
    x_normalisation: Normalisation
    rgb_normalisation: Normalisation
    steps_trained: int = 0
    loss_history: list[dict[str, float]] = field(default_factory=list)
    side_normalisations: tuple[Normalisation, ...] = ()  # one per side channel it was trained with
    # How its training X-ray relates to its prediction from the photograph (see calibration): what
    # a new X-ray's units are checked against. None for models saved before it was kept.
    x_reference: UnitFit | None = None
    # Whether it was fitted to a double-sided panel (front and back photographs): applied, it needs
    # the same. None: not known (a model file saved before it was kept, not inferable).
    double_sided: bool | None = None
    # What its side channels were called (file or layer names), in the order it reads them: () when
    # not known (saved before it was kept, or fitted from arrays without names).
    side_names: tuple[str, ...] = ()
    # How its photograph was stored — (type, full brightness), e.g. ("uint8", 255.0) — and its side
    # channels' types: what a photograph or map stored otherwise is checked against (None / (): not known).
    rgb_storage: tuple[str, float] | None = None
    side_dtypes: tuple[str, ...] = ()

    def needs(self) -> str:
        """What applying it takes, in words: one photograph or a double-sided panel's two, and its side
        channels in the order it reads them (by name where kept)."""
        photographs = {True: "a double-sided panel's two photographs", False: "one photograph"}.get(
            self.double_sided, "a photograph (or a double-sided panel's two: not recorded)"
        )
        count = len(self.side_normalisations)
        if not count:
            return photographs
        names = ", ".join(repr(name) for name in self.side_names) if len(self.side_names) == count else ""
        if count == 1:
            return f"{photographs} and 1 side channel" + (f" ({names})" if names else "")
        return f"{photographs} and {count} side channels in this order" + (f": {names}" if names else "")


def new_colour_map(config: SeparationConfig, rgb_channels: int = 3) -> ColourMap:
    """An unfitted :class:`ColourMap` with ``config``'s shape (clusters, degree, PSF, smoothing)."""
    settings = config.method
    return ColourMap(
        rgb_channels=rgb_channels,
        clusters=settings.clusters,
        degree=settings.colour_degree,
        psf_radius=settings.psf_radius,
        denoise_sigma=settings.denoise_sigma,
    )
