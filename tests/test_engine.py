import dataclasses
import threading

import numpy as np
import pytest
import torch
from conftest import drain

from napari_xraysep.core import (
    InputError,
    SeparationConfig,
    TrainingDiverged,
    predict,
    prepare_inputs,
    resolve_device,
    train,
)
from napari_xraysep.core import objectives
from napari_xraysep.core.training import new_model


def _inputs(mixture):
    return prepare_inputs(mixture.x_mixed, mixture.rgb_surface, mixture.region_mask)


def test_training_yields_one_event_per_step_with_every_loss_term(tiny_mixture, tiny_settings):
    config = SeparationConfig(**tiny_settings)
    events, model = drain(train(_inputs(tiny_mixture), config))
    assert [e.step for e in events] == [1, 2, 3]
    assert all(e.total_steps == 3 for e in events)
    assert set(events[-1].losses) == {"total", "rgb", "xray", "mixture", "exclusion"}
    assert events[-1].eta_s == 0 and events[0].eta_s >= 0 and events[-1].fraction == 1.0
    assert model.steps_trained == 3 and len(model.loss_history) == 3
    assert not model.network.training  # handed back ready for inference


def test_training_is_deterministic_for_a_seed(tiny_mixture, tiny_settings):
    config = SeparationConfig(**tiny_settings)
    _, first = drain(train(_inputs(tiny_mixture), config))
    _, second = drain(train(_inputs(tiny_mixture), config))
    assert first.loss_history == second.loss_history
    for a, b in zip(first.network.state_dict().values(), second.network.state_dict().values()):
        torch.testing.assert_close(a, b, rtol=0, atol=0)
    _, other = drain(train(_inputs(tiny_mixture), config.replace(seed=1)))
    assert other.loss_history != first.loss_history


def test_stop_flag_ends_training_within_one_step(tiny_mixture, tiny_settings):
    config = SeparationConfig(**{**tiny_settings, "steps": 50})
    stop = threading.Event()
    gen = train(_inputs(tiny_mixture), config, stop=stop)
    next(gen)
    next(gen)
    stop.set()
    events, model = drain(gen)
    assert events == [] and model.steps_trained == 2


def test_continuing_training_starts_from_the_given_weights(tiny_mixture, tiny_settings):
    inputs = _inputs(tiny_mixture)
    config = SeparationConfig(**tiny_settings)
    _, model = drain(train(inputs, config))
    before = {k: v.clone() for k, v in model.network.state_dict().items()}
    _, continued = drain(train(inputs, config, model=model))
    assert continued is model and continued.steps_trained == 6 and len(continued.loss_history) == 6
    assert any(not torch.equal(before[k], v) for k, v in continued.network.state_dict().items())


def test_previews_arrive_every_k_steps_and_at_the_end(tiny_mixture, tiny_settings):
    config = SeparationConfig(**{**tiny_settings, "steps": 5, "preview_every": 2})
    events, _ = drain(train(_inputs(tiny_mixture), config))
    with_preview = [e.step for e in events if e.preview is not None]
    assert with_preview == [2, 4, 5]
    assert events[1].preview.x2_hat.shape == tiny_mixture.x_mixed.shape


def test_divergence_raises_and_keeps_the_last_good_weights(tiny_mixture, tiny_settings, monkeypatch):
    inputs = _inputs(tiny_mixture)
    config = SeparationConfig(**{**tiny_settings, "steps": 10})
    model = new_model(config, 3, inputs.x_normalisation, inputs.rgb_normalisation)
    real_loss = objectives.separation_loss
    calls = {"n": 0}

    def failing_loss(*args, **kwargs):
        calls["n"] += 1
        terms = real_loss(*args, **kwargs)
        if calls["n"] == 3:
            terms["total"] = terms["total"] * float("nan")
        return terms

    monkeypatch.setattr(objectives, "separation_loss", failing_loss)
    gen = train(inputs, config, model=model)
    next(gen)
    snapshot_after_first = {k: v.clone() for k, v in model.network.state_dict().items()}
    next(gen)
    with pytest.raises(TrainingDiverged, match="step 3"):
        next(gen)
    # the weights are those that gave the finite loss of step 2 (i.e. after step 1's update)
    for name, value in model.network.state_dict().items():
        torch.testing.assert_close(value, snapshot_after_first[name])
    assert model.steps_trained == 1 and len(model.loss_history) == 1


def test_training_needs_a_region_and_a_large_enough_image(tiny_mixture, tiny_settings):
    config = SeparationConfig(**tiny_settings)
    no_region = prepare_inputs(tiny_mixture.x_mixed, tiny_mixture.rgb_surface, None)
    with pytest.raises(InputError, match="needs a region"):
        next(train(no_region, config))
    with pytest.raises(InputError, match="smaller than the 50×50 patch"):
        next(train(_inputs(tiny_mixture), config.replace(mode="paper")))


def test_tiled_inference_equals_one_whole_image_pass(tiny_mixture, tiny_settings):
    inputs = _inputs(tiny_mixture)
    config = SeparationConfig(**tiny_settings)
    _, model = drain(train(inputs, config))
    whole = predict(dataclasses.replace(model, config=config.replace(tile_size=10_000)), inputs)
    for tile_size in (7, 16, 33):
        tiled = predict(dataclasses.replace(model, config=config.replace(tile_size=tile_size)), inputs)
        for name in ("x1_hat", "x2_hat", "x_hat"):
            np.testing.assert_allclose(getattr(tiled, name), getattr(whole, name), atol=2e-5)


def test_patch_averaged_inference_matches_a_direct_average(tiny_mixture):
    config = SeparationConfig.autoencoder(mode="paper", warm_start=False, channels=4, patch_size=20, patch_stride=10, steps=1, device="cpu", batch_size=4)
    inputs = _inputs(tiny_mixture)
    _, model = drain(train(inputs, config))
    out = predict(model, inputs)
    # Pixel (0, 0) is covered only by the patch at (0, 0): it must equal that patch's own output.
    with torch.no_grad():
        patch = model.network(
            torch.from_numpy(inputs.rgb_surface[None, :, :20, :20]), torch.from_numpy(inputs.x_mixed[None, None, :20, :20])
        )
    assert out.x2_hat[0, 0] == pytest.approx(float(patch.x2_hat[0, 0, 0, 0]), abs=1e-5)
    assert out.x1_hat.shape == inputs.shape


def test_patch_averaged_inference_reads_missing_pixels_as_their_nearest_data(tiny_mixture):
    from napari_xraysep.core.data import MISSING_FILL
    from napari_xraysep.core.inference import fill_missing

    config = SeparationConfig.autoencoder(
        mode="paper", warm_start=False, channels=4, patch_size=20, patch_stride=10, steps=1, device="cpu", batch_size=4
    )
    inputs = _inputs(tiny_mixture)
    _, model = drain(train(inputs, config))
    valid = np.ones(inputs.shape, bool)
    valid[5:8, 5:8] = False
    grey = np.concatenate([inputs.rgb_surface, inputs.x_mixed[None]])
    grey[:, ~valid] = MISSING_FILL  # as prepare_inputs leaves missing pixels
    holed = dataclasses.replace(inputs, rgb_surface=grey[:3].copy(), x_mixed=grey[3].copy(), valid=valid)
    out = predict(model, holed)
    assert np.isnan(out.x2_hat[~valid]).all() and np.isfinite(out.x2_hat[valid]).all()

    def first_patch(stack: np.ndarray) -> float:
        with torch.no_grad():
            rgb, x = torch.from_numpy(stack[None, :3, :20, :20]), torch.from_numpy(stack[None, 3:, :20, :20])
            return float(model.network(rgb, x).x2_hat[0, 0, 0, 0])

    filled = grey.copy()
    fill_missing(filled, ~valid)
    # Pixel (0, 0) is covered only by the patch at (0, 0), which holds the hole: read as the painting beside it.
    assert out.x2_hat[0, 0] == pytest.approx(first_patch(filled), abs=1e-5)
    assert abs(first_patch(grey) - first_patch(filled)) > 1e-5


def test_resolve_device():
    assert resolve_device("cpu").type == "cpu"
    assert resolve_device("auto").type in ("cpu", "cuda", "mps")
    with pytest.raises(InputError, match="Unknown device|Unsupported device"):
        resolve_device("tpu")
    if not torch.cuda.is_available():
        with pytest.raises(InputError, match="no CUDA GPU"):
            resolve_device("cuda")


def test_whole_windows_marks_crops_free_of_missing_pixels():
    from napari_xraysep.core.autoencoder_fit import whole_windows

    valid = np.ones((5, 6), bool)
    valid[2, 3] = False
    expected = np.ones((4, 5), bool)
    expected[1:3, 2:4] = False  # every 2×2 window that holds (2, 3)
    np.testing.assert_array_equal(whole_windows(valid, 2), expected)


def test_the_auto_encoder_trains_around_missing_pixels_and_leaves_them_nan(tiny_mixture, tiny_settings):
    from napari_xraysep import separate

    x = tiny_mixture.x_mixed.copy()
    x[:, :10] = np.nan  # a flat-field border: no training crop may hold it
    result = separate(x, tiny_mixture.rgb_surface, tiny_mixture.region_mask, **{**tiny_settings, "steps": 4})
    assert all(np.isfinite(list(losses.values())).all() for losses in result.loss_history)
    for name in ("x1_hat", "x2_hat", "x1", "x2", "error_map"):
        layer = getattr(result, name)
        assert np.isnan(layer[:, :10]).all() and np.isfinite(layer[:, 10:]).all(), name
    x[:, :40] = np.nan  # 24 columns left: no 32×32 crop is whole
    region = np.zeros(x.shape, bool)
    region[10:30, 44:60] = True
    with pytest.raises(InputError, match="Every 32×32 crop of the image holds missing"):
        separate(x, tiny_mixture.rgb_surface, region, **tiny_settings)
