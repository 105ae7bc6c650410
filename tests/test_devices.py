"""Every method on every device this machine has: the CPU always, CUDA and MPS where present.

On CI (no GPU) only the CPU cases run; ``benchmarks/gpu_check.sh`` runs this file on a GPU machine,
where the same assertions then hold for ``cuda``. What is checked is what a GPU tends to break:
tensors left on the wrong device, results that differ from the CPU's beyond float rounding, model
files that cannot be loaded on a machine without the GPU they were trained on, and float64 work
where float32 is meant.
"""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest
import torch

from napari_xraysep import SeparationConfig, load_model, save_model, separate
from napari_xraysep.core import available_devices, predict, prepare_inputs, resolve_device

DEVICES = [name for name in available_devices() if name in ("cpu", "mps") or name == "cuda:0"]
ACCELERATORS = [name for name in DEVICES if name != "cpu"]
COLOUR_MAP = {"clusters": 8, "steps": 4, "passes": 2, "tile_size": 40}
AUTOENCODER = {"warm_start": False, "channels": 4, "crop_size": 32, "batch_size": 2, "steps": 3, "tile_size": 40}


def _config(method: str, device: str) -> SeparationConfig:
    if method == "colour_map":
        return SeparationConfig(device=device, **COLOUR_MAP)
    return SeparationConfig.autoencoder(device=device, **AUTOENCODER)


def _tensors(model) -> list[torch.Tensor]:
    network = model.network
    return [*network.parameters(), *network.buffers()]


@pytest.mark.parametrize("device", DEVICES)
@pytest.mark.parametrize("method", ["colour_map", "autoencoder"])
def test_a_separation_runs_on_the_device_and_hands_back_float32_arrays(tiny_mixture, method, device):
    result = separate(tiny_mixture.x_mixed, tiny_mixture.rgb_surface, tiny_mixture.region_mask, config=_config(method, device))
    for name in ("x1_hat", "x2_hat", "error_map", "x1", "x2", "weave"):
        layer = getattr(result, name)
        assert isinstance(layer, np.ndarray) and layer.dtype == np.float32 and layer.shape == tiny_mixture.x_mixed.shape
        assert np.isfinite(layer).all(), name
    # Step 2 (Eq. 9) and the weave: the layers add up to the X-ray wherever it was computed.
    np.testing.assert_allclose(result.x1 + result.x2 + result.weave, tiny_mixture.x_mixed, atol=1e-4)
    # The model was fitted where it was asked to be.
    assert {t.device.type for t in _tensors(result.model)} == {resolve_device(device).type}


@pytest.mark.parametrize("device", ACCELERATORS or [pytest.param("cuda", marks=pytest.mark.skip(reason="no GPU here"))])
def test_the_colour_map_on_the_device_agrees_with_the_cpu(tiny_mixture, device):
    """Same seed, same data: the fit on a GPU and on the CPU land within float rounding of each other
    (the accumulation order differs, so not bit for bit)."""
    on_cpu = separate(tiny_mixture.x_mixed, tiny_mixture.rgb_surface, None, config=_config("colour_map", "cpu"))
    on_device = separate(tiny_mixture.x_mixed, tiny_mixture.rgb_surface, None, config=_config("colour_map", device))
    span = float(np.ptp(tiny_mixture.x_mixed))
    assert np.abs(on_device.x2 - on_cpu.x2).max() < 1e-3 * span


@pytest.mark.parametrize("device", ACCELERATORS or [pytest.param("cuda", marks=pytest.mark.skip(reason="no GPU here"))])
def test_a_model_trained_on_the_device_applies_on_a_machine_without_it(tiny_mixture, device, tmp_path):
    """A conservator trains on the workstation's GPU and applies the model on a laptop."""
    trained = separate(tiny_mixture.x_mixed, tiny_mixture.rgb_surface, None, config=_config("colour_map", device))
    path = save_model(trained.model, tmp_path / "model.pt")
    loaded = load_model(path)
    assert {t.device.type for t in _tensors(loaded)} == {"cpu"}
    on_cpu = separate(tiny_mixture.x_mixed, tiny_mixture.rgb_surface, model=loaded, steps=0)
    np.testing.assert_allclose(on_cpu.x2, trained.x2, atol=1e-4 * float(np.ptp(tiny_mixture.x_mixed)))


def test_a_model_file_does_not_pin_the_device_it_was_trained_on(tiny_mixture, tmp_path):
    """The device belongs to the machine that runs, not to the model: a model fitted with
    ``device="cuda"`` on a workstation applies on a laptop without a GPU, with no setting changed."""
    trained = separate(tiny_mixture.x_mixed, tiny_mixture.rgb_surface, None, config=_config("colour_map", "cpu"))
    as_on_a_workstation = dataclasses.replace(trained.model, config=trained.model.config.replace(device="cuda"))
    loaded = load_model(save_model(as_on_a_workstation, tmp_path / "model.pt"))
    assert loaded.config.device == "auto"
    applied = separate(tiny_mixture.x_mixed, tiny_mixture.rgb_surface, model=loaded, steps=0)
    np.testing.assert_allclose(applied.x2, trained.x2, atol=1e-5 * float(np.ptp(tiny_mixture.x_mixed)))


@pytest.mark.parametrize("device", DEVICES)
@pytest.mark.parametrize("method", ["colour_map", "autoencoder"])
def test_tiled_prediction_on_the_device_equals_one_pass(tiny_mixture, method, device):
    model = separate(tiny_mixture.x_mixed, tiny_mixture.rgb_surface, tiny_mixture.region_mask, config=_config(method, device)).model
    inputs = prepare_inputs(
        tiny_mixture.x_mixed, tiny_mixture.rgb_surface, None,
        x_normalisation=model.x_normalisation, rgb_normalisation=model.rgb_normalisation,
    )
    tiled = predict(dataclasses.replace(model, config=model.config.replace(tile_size=24)), inputs, resolve_device(device))
    whole = predict(dataclasses.replace(model, config=model.config.replace(tile_size=4096)), inputs, resolve_device(device))
    np.testing.assert_allclose(tiled.x2_hat, whole.x2_hat, atol=1e-4)


@pytest.mark.parametrize("device", DEVICES)
def test_the_auto_encoder_trains_in_float32_on_the_device(tiny_mixture, device):
    """float64 is for the colour map's small normal equations only; the network stays float32."""
    model = separate(tiny_mixture.x_mixed, tiny_mixture.rgb_surface, tiny_mixture.region_mask, config=_config("autoencoder", device)).model
    assert {t.dtype for t in model.network.parameters()} == {torch.float32}
    assert np.isfinite([step["total"] for step in model.loss_history]).all()
