"""Shared fixtures: tiny synthetic mixtures and settings small enough for seconds-long tests."""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import pytest
import torch

from napari_xraysep.datasets.synthetic import CASES, SyntheticMixture, make_mixture

# An auto-encoder and sampling small enough that a few training steps take well under a second on a CPU.
TINY = {
    "method": "autoencoder", "warm_start": False, "channels": 4, "crop_size": 32, "batch_size": 2, "steps": 3,
    "device": "cpu", "tile_size": 40,
}
# The default method (the colour map), small: few clusters, few solves, small tiles.
TINY_COLOUR_MAP = {"clusters": 8, "steps": 4, "passes": 2, "device": "cpu", "tile_size": 40}


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Every test that opens napari or Qt is ``gui`` (`pytest -m "not gui"` runs the rest without a display)."""
    for item in items:
        if {"make_napari_viewer", "qtbot", "sample_run", "align_dock"} & set(getattr(item, "fixturenames", ())):
            item.add_marker(pytest.mark.gui)


class SlicedOnly:
    """An image that can only be sliced, like a whole painting's memory-mapped TIFF: records the size
    of every window read (``reads``) and fails a test that reads it whole."""

    def __init__(self, array: np.ndarray) -> None:
        self.array, self.shape, self.dtype, self.reads = array, array.shape, array.dtype, []

    def __getitem__(self, window):
        part = self.array[window]
        self.reads.append(part.size)
        return part

    def __array__(self, *args, **kwargs):
        raise AssertionError("the whole image was read")


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


def aligned_in_dock(make_napari_viewer, qtbot, x_mixed, photo):
    """A viewer with the X-ray ("xray") and the photograph ("photo"), aligned automatically in the Align
    photograph dock: (viewer, widget) once the alignment is done."""
    viewer = make_napari_viewer()
    _, widget = viewer.window.add_plugin_dock_widget("napari-xraysep", "Align photograph")
    viewer.add_image(x_mixed, name="xray")
    viewer.add_image(photo, name="photo", rgb=True)
    with qtbot.waitSignal(widget.align_automatically().finished, timeout=120_000):
        pass
    return viewer, widget


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


# ------------------------------------------------------------------- a canvas whose weave drifts

DRIFT_PIXEL_MM = 0.1  # 100 px per cm: 15 threads/cm is a period of 6.7 px
# Issue 26 asks for 0.3 threads/cm in every window; counted through a separation the worst is about 0.04
# (0.37 before windows cut by the edge were fitted by a plane), so a third of the bound is asked.
THROUGH_SEPARATION = 0.1


def drifting_threads(shape: tuple[int, int]) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """The two families of a plain weave at DRIFT_PIXEL_MM whose spacing drifts across the painting:
    vertical threads from 15 to 17 per cm left to right, tilted 1.5°; horizontal threads from 18 to 16.5
    per cm top to bottom. Returns each family's unit cosine (H, W) and its true density map in threads/cm."""
    height, width = shape
    yy, xx = np.mgrid[0:height, 0:width].astype(np.float64)
    per_px = DRIFT_PIXEL_MM / 10.0  # cycles/px per thread/cm
    # Vertical threads: wave vector along x with a slight y part (the tilt); the local fx drifts linearly in x.
    v0, v1 = 15.0 * per_px, 17.0 * per_px
    tilt = np.tan(np.radians(1.5)) * v0
    phase_v = v0 * xx + (v1 - v0) * xx**2 / (2 * width) + tilt * yy
    # Horizontal threads: wave vector along y; the local fy drifts linearly in y.
    h0, h1 = 18.0 * per_px, 16.5 * per_px
    phase_h = h0 * yy + (h1 - h0) * yy**2 / (2 * height)
    truth_v = np.hypot(v0 + (v1 - v0) * xx / width, tilt) / per_px
    truth_h = (h0 + (h1 - h0) * yy / height) / per_px
    return np.cos(2 * np.pi * phase_v), np.cos(2 * np.pi * phase_h), truth_v, truth_h


def on_grid(truth: np.ndarray, family) -> np.ndarray:
    """``truth`` (H, W) at the centres of ``family``'s map windows (a :class:`ThreadFamily`'s grid)."""
    s = family.step
    sampled = truth[s // 2 :: s, s // 2 :: s]
    assert sampled.shape == family.density_map.shape, (sampled.shape, family.density_map.shape)
    return sampled


@dataclass(frozen=True)
class DriftingCanvas:
    """The plugin's sample painting (surface, hidden design, noise) on a canvas whose weave drifts
    (:func:`drifting_threads`, the sample's weave amplitude): ``x_mixed`` and the truths."""

    mixture: SyntheticMixture
    x_mixed: np.ndarray
    weave: np.ndarray
    truth_v: np.ndarray
    truth_h: np.ndarray

    def worst_errors(self, counts) -> dict[str, float]:
        """The largest difference from the truth of any window of ``counts``' maps (threads/cm), per
        family; every window of the painting must have been counted."""
        errors = {}
        for family, truth in zip(counts.families, (self.truth_v, self.truth_h)):
            assert np.isfinite(family.density_map).all(), family.name
            errors[family.name] = float(np.max(np.abs(family.density_map - on_grid(truth, family))))
        return errors


@pytest.fixture(scope="session")
def drifting_canvas() -> DriftingCanvas:
    from napari_xraysep.datasets.synthetic import load_sample

    sample = load_sample()
    vertical, horizontal, truth_v, truth_h = drifting_threads(sample.x_mixed.shape)
    weave = CASES["concealed_portrait"].weave_amplitude * (vertical + horizontal) / 2
    x_mixed = (sample.x1_true + sample.x2_true + weave + sample.noise).astype(np.float32)
    return DriftingCanvas(sample, x_mixed, weave.astype(np.float32), truth_v, truth_h)


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
