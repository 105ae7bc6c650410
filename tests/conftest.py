"""Shared fixtures: tiny synthetic mixtures and settings small enough for seconds-long tests."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from napari_xraysep.synthetic import SyntheticMixture, make_mixture

# An auto-encoder and sampling small enough that a few training steps take well under a second on a CPU.
TINY = {
    "method": "autoencoder", "warm_start": False, "channels": 4, "crop_size": 32, "batch_size": 2, "steps": 3,
    "device": "cpu", "tile_size": 40,
}
# The default method (the colour map), small: few clusters, few solves, small tiles.
TINY_COLOUR_MAP = {"clusters": 8, "steps": 4, "passes": 2, "device": "cpu", "tile_size": 40}


@pytest.fixture(scope="session")
def tiny_mixture() -> SyntheticMixture:
    return make_mixture("concealed_portrait", shape=(48, 64), seed=3)


@pytest.fixture
def tiny_settings() -> dict:
    return dict(TINY)


@pytest.fixture
def tiny_colour_map() -> dict:
    return dict(TINY_COLOUR_MAP)


@pytest.fixture
def rng() -> np.random.Generator:
    return np.random.default_rng(1234)


def drain(generator):
    """Run a progress generator to its end: (the events it yielded, the value it returned)."""
    events = []
    while True:
        try:
            events.append(next(generator))
        except StopIteration as finished:
            return events, finished.value


# ------------------------------------------------------------------- the napari dock

PLUGIN, DOCK = "napari-xraysep", "X-ray separation"
RUN_TIMEOUT_MS = 60_000
# A run of seconds on a CPU, never a GPU: the colour map with few clusters and solves, and a small
# auto-encoder without the shipped weights (they are for 32 channels) for the tests that switch to it.
TINY_DOCK = {"device": "cpu", "steps": 3, "clusters": 8, "channels": 4, "warm_start": False, "preview_every": 0}


def dock(viewer, sample: str | None = None, preset: str = "default", **settings):
    """The plugin's dock in ``viewer`` as a user opens it (through the manifest), after opening the
    plugin's ``sample``; with ``preset`` chosen and the TINY_DOCK settings (overridden by ``settings``)."""
    if sample is not None:
        viewer.open_sample(PLUGIN, sample)
    _, widget = viewer.window.add_plugin_dock_widget(PLUGIN, DOCK)
    widget.separation.preset.value = preset
    for name, value in {**TINY_DOCK, **settings}.items():
        getattr(widget.separation, name).value = value
    return widget


def wait_done(qtbot, widget, timeout: int = RUN_TIMEOUT_MS) -> None:
    """Until the dock's run has ended (its worker's last signal handled)."""
    qtbot.waitUntil(lambda: widget.worker is None, timeout=timeout)


@pytest.fixture
def sample_run(make_napari_viewer, qtbot):
    """(viewer, dock) after a run of the default on the plugin's sample, as a user makes it."""
    viewer = make_napari_viewer()
    widget = dock(viewer, "concealed_portrait")
    widget.train()
    wait_done(qtbot, widget)
    return viewer, widget


def demodulated_weave(image: torch.Tensor, frequencies: torch.Tensor, envelope: float) -> torch.Tensor:
    """The weave as the module describes it, frequency by frequency: demodulated to base band,
    low-passed by the envelope's Gaussian (zeros outside, divided by the window inside), modulated
    back (the form extract_weave folds into one kernel): the reference its tests compare against."""
    from napari_xraysep.core.filters import gaussian_blur, highpass
    from napari_xraysep.core.weave import level_sigma

    _, _, height, width = image.shape
    image = highpass(image, level_sigma(envelope))
    inside = gaussian_blur(torch.ones_like(image[:1, :1]), envelope, zero_border=True)
    yy = torch.arange(height, dtype=torch.float64).view(1, 1, -1, 1)
    xx = torch.arange(width, dtype=torch.float64).view(1, 1, 1, -1)
    weave = torch.zeros_like(image)
    for fy, fx in frequencies.tolist():
        phase = 2 * math.pi * (fy * yy + fx * xx)
        cos, sin = torch.cos(phase).to(image.dtype), torch.sin(phase).to(image.dtype)
        base = gaussian_blur(torch.cat([image * cos, image * sin], dim=1), envelope, zero_border=True) / inside
        weave = weave + 2 * (base[:, :1] * cos + base[:, 1:] * sin)
    return weave
