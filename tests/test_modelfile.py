import os
import pickle
from pathlib import Path

import numpy as np
import pytest
import torch

from napari_xraysep import ModelFileError, load_model, save_model, separate
from napari_xraysep.core.model import ConnectedAutoEncoder
from napari_xraysep.io.modelfile import model_to_dict


@pytest.fixture(scope="module", params=["colour_map", "autoencoder"])
def trained(tiny_mixture, request):
    settings = {"warm_start": False, "channels": 4, "crop_size": 32, "batch_size": 2, "clusters": 6, "steps": 2, "device": "cpu"}
    return separate(tiny_mixture.x_mixed, tiny_mixture.rgb_surface, tiny_mixture.region_mask, method=request.param, **settings)


def test_round_trip_gives_identical_outputs(trained, tiny_mixture, tmp_path):
    path = save_model(trained.model, tmp_path / "model.pt")
    loaded = load_model(path)
    # Every setting comes back but the device, which is the applying machine's choice (auto).
    assert loaded.config == trained.config.replace(device="auto") and loaded.steps_trained == 2
    assert loaded.x_normalisation == trained.model.x_normalisation
    assert loaded.loss_history == trained.loss_history
    again = separate(tiny_mixture.x_mixed, tiny_mixture.rgb_surface, model=loaded, steps=0)
    np.testing.assert_array_equal(again.x2, separate(tiny_mixture.x_mixed, tiny_mixture.rgb_surface, model=trained.model, steps=0).x2)
    # weights_only loading is what the file is written for
    assert torch.load(path, weights_only=True)["format"] == "napari-xraysep-model"
    assert [p.name for p in tmp_path.iterdir()] == ["model.pt"]  # no temporary left behind


def test_a_model_saved_with_a_min_max_normalisation_applies_as_stored(trained, tiny_mixture, tmp_path):
    import dataclasses

    from napari_xraysep.core import Normalisation, predict, prepare_inputs

    x, rgb = tiny_mixture.x_mixed, tiny_mixture.rgb_surface
    # what napari-xraysep 0.1 stored: the minimum and the range, not the robust range fitted now
    old = dataclasses.replace(
        trained.model, x_normalisation=Normalisation(float(x.min()), float(np.ptp(x))), rgb_normalisation=Normalisation(float(rgb.min()), float(np.ptp(rgb)))
    )
    loaded = load_model(save_model(old, tmp_path / "old.pt"))
    assert (loaded.x_normalisation, loaded.rgb_normalisation) == (old.x_normalisation, old.rgb_normalisation)
    applied = separate(x, rgb, model=loaded, steps=0)
    inputs = prepare_inputs(x, rgb, None, x_normalisation=old.x_normalisation, rgb_normalisation=old.rgb_normalisation)
    np.testing.assert_allclose(inputs.x_mixed, (x - x.min()) / np.ptp(x), rtol=1e-5, atol=1e-7)  # min–max, as stored
    expected = old.x_normalisation.from_unit(predict(loaded, inputs).x2_hat, offset_share=0.5)
    np.testing.assert_array_equal(applied.x2_hat, expected)


class _Exploit:
    def __reduce__(self):
        return (os.system, ("touch pwned-by-model-file",))


def test_malicious_pickle_is_refused_and_never_run(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    path = tmp_path / "evil.pt"
    with open(path, "wb") as handle:
        pickle.dump({"format": "napari-xraysep-model", "payload": _Exploit()}, handle)
    with pytest.raises(ModelFileError, match="not a PyTorch archive"):
        load_model(path)
    torch_path = tmp_path / "evil-torch.pt"
    torch.save({"state_dict": _Exploit()}, torch_path)
    with pytest.raises(ModelFileError, match="refused and not run"):
        load_model(torch_path)
    assert not (tmp_path / "pwned-by-model-file").exists()


def test_files_that_are_not_models_are_refused(trained, tmp_path):
    with pytest.raises(ModelFileError, match="does not exist"):
        load_model(tmp_path / "missing.pt")
    junk = tmp_path / "junk.pt"
    junk.write_bytes(b"this is not a model")
    with pytest.raises(ModelFileError, match="not a PyTorch archive"):
        load_model(junk)
    other = tmp_path / "other.pt"
    torch.save({"weights": torch.zeros(3)}, other)
    with pytest.raises(ModelFileError, match="not a napari-xraysep model"):
        load_model(other)
    future = tmp_path / "future.pt"
    torch.save({**model_to_dict(trained.model), "format_version": 99}, future)
    with pytest.raises(ModelFileError, match="format 99"):
        load_model(future)
    broken = tmp_path / "broken.pt"
    data = model_to_dict(trained.model)
    shape = {"channels": 8} if trained.config.method.name == "autoencoder" else {"clusters": 9}
    data["config"] = {**data["config"], "method": {**data["config"]["method"], **shape}}  # parameters no longer fit it
    torch.save(data, broken)
    with pytest.raises(ModelFileError, match="damaged or inconsistent"):
        load_model(broken)


DATA = Path(__file__).parent / "data"


@pytest.mark.parametrize(("name", "method"), [("model_format_1.pt", "autoencoder"), ("model_format_2.pt", "colour_map")])
def test_model_files_of_every_earlier_format_still_load_and_apply(tiny_mixture, name, method):
    """One small file per format (tests/data/README.md): format 1 (0.1, the auto-encoder only, its
    settings naming no method) and format 2 (0.2). Loading keeps the stored weights and units exactly."""
    path = DATA / name
    stored = torch.load(path, weights_only=True)
    assert stored["format_version"] == int(name[-4])
    model = load_model(path)
    assert model.config.method.name == method and model.steps_trained == stored["steps_trained"] == 2
    assert model.x_normalisation.to_dict() == stored["x_normalisation"]
    state = model.network.state_dict()
    assert state.keys() == stored["state_dict"].keys()
    assert all(torch.equal(state[key], value) for key, value in stored["state_dict"].items())
    result = separate(tiny_mixture.x_mixed, tiny_mixture.rgb_surface, model=model, steps=0, device="cpu")
    assert np.isfinite(result.x2).all()
    if method == "autoencoder":  # the auto-encoder leaves the weave in e
        assert isinstance(model.network, ConnectedAutoEncoder) and not result.weave.any()


def test_the_shipped_warm_start_weights_are_in_the_current_format():
    from napari_xraysep.io.warmstart import warm_start_entries, weights_dir
    from napari_xraysep.io.modelfile import MODEL_FORMAT_VERSION

    for entry in warm_start_entries():
        assert torch.load(weights_dir() / entry["file"], weights_only=True)["format_version"] == MODEL_FORMAT_VERSION


@pytest.mark.parametrize("wrong", [None, "model.pt", {"format": "napari-xraysep-model"}])
def test_saving_something_that_is_not_a_model_names_what_is_expected(tmp_path, wrong):
    with pytest.raises(TypeError, match=f"save_model needs a TrainedModel .*got {type(wrong).__name__}"):
        save_model(wrong, tmp_path / "model.pt")
    assert not any(tmp_path.iterdir())
