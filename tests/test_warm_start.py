"""The warm start (paper Fig. 3, Eq. 8): its loss, multi-panel training, and the shipped weights."""

import json
import shutil

import numpy as np
import pytest
import torch

from napari_xraysep.cli.parser import parse_setting
from napari_xraysep.core import (
    InputError,
    ModelFileError,
    SeparationConfig,
    fit,
    new_model,
    prepare_inputs,
    train,
    warm_start_loss,
    warm_start_objective,
)
from napari_xraysep.core.autoencoder_fit import _batch_sampler
from napari_xraysep.core.model import AutoEncoderOutputs
from napari_xraysep.io.warmstart import MANIFEST, sha256_of, warm_start_entries, warm_start_state, weights_dir


def test_eq8_loss_hand_values():
    ones = torch.ones(1, 1, 2, 2)
    outputs = AutoEncoderOutputs(x1_hat=ones, x2_hat=0 * ones, x_hat=ones, rgb_hat=torch.ones(1, 3, 2, 2))
    terms = warm_start_loss(torch.ones(1, 3, 2, 2), 0.5 * ones, ones, outputs)
    # x1 error 0.5 on 4 pixels → 1; x2 error 1 on 4 → 2; RGB exact
    assert (terms["rgb"].item(), terms["x1"].item(), terms["x2"].item()) == pytest.approx((0, 1, 2))
    assert terms["total"].item() == pytest.approx(3)


def test_crops_are_drawn_from_every_panel():
    rng = np.random.default_rng(0)
    fast = _batch_sampler(SeparationConfig.autoencoder(batch_size=64, crop_size=16), 3, (40, 40), rng)
    corners, size = next(fast)
    assert size == 16 and set(corners[:, 0]) == {0, 1, 2} and corners[:, 1:].max() <= 24
    paper = _batch_sampler(SeparationConfig.autoencoder(mode="paper", patch_size=20, patch_stride=10, batch_size=10**4), 2, (40, 40), rng)
    corners, _ = next(paper)
    assert len(corners) == 2 * 9 and sorted(set(corners[:, 0])) == [0, 1]  # the whole grid of both panels


def test_eq8_training_over_several_panels_fits_the_labels(tiny_mixture, tiny_settings):
    inputs = prepare_inputs(tiny_mixture.x_mixed, tiny_mixture.rgb_surface, None)
    rgb = np.stack([inputs.rgb_surface, inputs.rgb_surface[:, ::-1]])
    x = np.stack([inputs.x_mixed, inputs.x_mixed[::-1]])
    x1, x2 = 0.5 * x, 0.5 * x
    config = SeparationConfig.autoencoder(**{**tiny_settings, "steps": 40, "learning_rate": 1e-2})
    objective = warm_start_objective(rgb, x, x1, x2, config)
    assert objective.stack.shape == (2, 6, 48, 64)
    model = new_model(config)
    events = list(fit(objective, config, model))
    assert set(events[0].losses) == {"rgb", "x1", "x2", "total"}
    assert events[-1].losses["total"] < 0.5 * events[0].losses["total"]


def test_warm_start_setting_is_validated_and_parsed():
    with pytest.raises(InputError, match="warm_start must be true or false"):
        SeparationConfig.autoencoder(warm_start="yes")
    assert parse_setting("warm-start=TRUE") == ("warm_start", True)


# --------------------------------------------------------------------------------- shipped weights


def test_the_default_architecture_ships_weights_that_match_their_hash():
    entries = warm_start_entries()
    default = [e for e in entries if e["architecture"] == SeparationConfig.autoencoder().method.shape()]
    assert len(default) == 1
    path = weights_dir() / default[0]["file"]
    assert sha256_of(path) == default[0]["sha256"]
    assert SeparationConfig.autoencoder().method.warm_start and not SeparationConfig.paper().method.warm_start  # the benchmark's choice
    state = warm_start_state(SeparationConfig.autoencoder())
    fresh = new_model(SeparationConfig.autoencoder(warm_start=False)).network.state_dict()
    assert state.keys() == fresh.keys()
    assert not torch.equal(state["encode_rgb.0.weight"], fresh["encode_rgb.0.weight"])
    warm = new_model(SeparationConfig.autoencoder(warm_start=True), shipped_weights=warm_start_state)
    assert warm.network.state_dict()["encode_rgb.0.weight"].equal(
        state["encode_rgb.0.weight"]
    )


def test_damaged_or_missing_weights_are_refused(tmp_path):
    entry = next(e for e in warm_start_entries() if e["architecture"] == SeparationConfig.autoencoder().method.shape())
    shutil.copy(weights_dir() / MANIFEST, tmp_path / MANIFEST)
    with pytest.raises(ModelFileError, match="missing"):
        warm_start_state(SeparationConfig.autoencoder(), directory=tmp_path)
    data = bytearray((weights_dir() / entry["file"]).read_bytes())
    data[-100] ^= 0xFF
    (tmp_path / entry["file"]).write_bytes(bytes(data))
    with pytest.raises(ModelFileError, match="hash"):
        warm_start_state(SeparationConfig.autoencoder(), directory=tmp_path)


def test_an_architecture_without_weights_is_a_clear_error():
    with pytest.raises(InputError, match="No warm-start weights ship for channels=5"):
        new_model(SeparationConfig.autoencoder(channels=5, warm_start=True), shipped_weights=warm_start_state)


def test_the_core_reads_no_weights_it_is_not_handed_and_the_package_hands_them(tiny_mixture, tiny_settings):
    """The core reads no file: a warm start needs the weights' reader handed in (io.warmstart), which
    napari_xraysep.separate — the pipeline's — does."""
    import napari_xraysep
    from napari_xraysep.core import separate as core_separate

    with pytest.raises(InputError, match="The warm start needs the shipped weights"):
        new_model(SeparationConfig.autoencoder(warm_start=True))
    m, settings = tiny_mixture, {**tiny_settings, "channels": 32, "warm_start": True, "steps": 0}
    with pytest.raises(InputError, match="The warm start needs the shipped weights"):
        core_separate(m.x_mixed, m.rgb_surface, m.region_mask, **{**settings, "steps": 1})
    result = napari_xraysep.separate(m.x_mixed, m.rgb_surface, m.region_mask, **{**settings, "steps": 1, "learning_rate": 1e-12})
    shipped = warm_start_state(SeparationConfig.autoencoder())
    torch.testing.assert_close(result.model.network.state_dict()["decode_xray.0.weight"], shipped["decode_xray.0.weight"], rtol=0, atol=1e-6)


def test_warm_start_lowers_the_loss_at_step_zero(tiny_mixture):
    """The first event's loss is computed before any update: it measures the starting point."""
    inputs = prepare_inputs(tiny_mixture.x_mixed, tiny_mixture.rgb_surface, tiny_mixture.region_mask)
    config = SeparationConfig.autoencoder(steps=1, crop_size=48, batch_size=4, device="cpu", warm_start=False)
    random_start = next(train(inputs, config)).losses["total"]
    warm = next(train(inputs, config.replace(warm_start=True), shipped_weights=warm_start_state)).losses["total"]
    assert warm < 0.7 * random_start


def test_manifest_records_how_the_weights_were_made():
    for entry in warm_start_entries():
        training = entry["training"]
        assert training["command"].startswith("python scripts/train_warm_start.py")
        assert training["seeds"] and min(training["seeds"]) >= 100  # apart from the benchmark's seeds
        assert json.dumps(training)  # JSON-clean
