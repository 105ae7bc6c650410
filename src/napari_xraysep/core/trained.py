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
