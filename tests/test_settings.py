"""One settings type per method: flat names routed to where they belong, nested records, the records
0.1 and 0.2 wrote still read, the presets named once."""

import dataclasses
import json
import warnings
from pathlib import Path

import numpy as np
import pytest
import torch

from napari_xraysep import AutoEncoderSettings, ColourMapSettings, InputError, SeparationConfig, load_model, separate
from napari_xraysep.core import PRESETS, prepare_inputs
from napari_xraysep.core.colourmap_fit import colour_map_surface
from napari_xraysep.core.separation import resolve_config, say_ignored_settings
from napari_xraysep.io.modelfile import model_to_dict

DATA = Path(__file__).parent / "data"


def _flat_record_of_0_2() -> dict:
    """The flat settings napari-xraysep 0.2 recorded (in run.json and model format 2): every name of
    both methods, here those of the stored format-2 colour map."""
    return dict(torch.load(DATA / "model_format_2.pt", weights_only=True)["config"])


def test_flat_names_go_to_the_method_or_to_the_run():
    config = SeparationConfig(clusters=8, steps=4, seed=2)
    assert config.method == ColourMapSettings(clusters=8) and (config.steps, config.seed) == (4, 2)
    assert config == SeparationConfig(ColourMapSettings(clusters=8), steps=4, seed=2)
    autoencoder = SeparationConfig("autoencoder", channels=4, clusters=6, weave=True)
    assert autoencoder.method.channels == 4
    # an auto-encoder's colour-map names are the colour map that makes its label x̄1
    assert autoencoder.method.label_map == ColourMapSettings(clusters=6, weave=True)
    # the method not run ignores the other's names, as 0.2 did; a name of neither is refused
    assert SeparationConfig(channels=4, warm_start=False) == SeparationConfig()
    with pytest.raises(InputError, match="learning_rate must be positive"):
        SeparationConfig(learning_rate=-1.0)  # checked all the same
    with pytest.raises(InputError, match="Unknown setting\\(s\\): chanels \\(did you mean channels\\?\\)\\.$"):
        SeparationConfig(chanels=4)
    with pytest.raises(InputError, match="colour_degree must be at most 4"):
        SeparationConfig.autoencoder(colour_degree=5)  # the label map's settings are checked too


def test_replace_routes_each_name_and_a_new_method_keeps_the_shared_colour_map():
    autoencoder = SeparationConfig.autoencoder(channels=4)
    assert autoencoder.replace(seed=3).seed == 3 and autoencoder.replace(seed=3).method == autoencoder.method
    assert autoencoder.replace(clusters=5).method.label_map.clusters == 5
    assert autoencoder.replace(mode="paper").method.mode == "paper"
    assert autoencoder.replace(method="colour_map").method == autoencoder.method.label_map
    colour_map = SeparationConfig(clusters=7)
    assert colour_map.replace(method="autoencoder").method == AutoEncoderSettings(label_map=ColourMapSettings(clusters=7))
    assert colour_map.replace(method="autoencoder", channels=4).method.channels == 4


def test_each_settings_type_says_what_fixes_a_fitted_models_shape():
    assert ColourMapSettings(clusters=8).shape() == {"clusters": 8, "colour_degree": 3, "psf_radius": 2, "denoise_sigma": 0.7}
    assert SeparationConfig.paper().method.shape() == {"channels": 64, "kernel_size": 3, "output_layer": "bn_relu"}
    assert (ColourMapSettings.default_steps, AutoEncoderSettings.default_steps) == (12, 200)


def test_a_colour_maps_shape_cannot_change_when_it_is_continued(tiny_mixture, tiny_colour_map):
    first = separate(tiny_mixture.x_mixed, tiny_mixture.rgb_surface, **tiny_colour_map)
    with pytest.raises(InputError, match="shape cannot change"):
        separate(tiny_mixture.x_mixed, tiny_mixture.rgb_surface, model=first.model, clusters=5)


@pytest.mark.parametrize("preset", sorted(PRESETS))
def test_records_are_nested_json_and_read_back(preset):
    config = PRESETS[preset](seed=4)
    record = json.loads(json.dumps(config.to_dict()))
    assert record["method"]["name"] == config.method.name and record["seed"] == 4
    assert SeparationConfig.from_dict(record) == config
    with pytest.raises(InputError, match="Unknown setting\\(s\\): bogus"):
        SeparationConfig.from_dict({**record, "method": {**record["method"], "bogus": 1}})


def test_flat_records_of_0_2_read_as_their_method():
    """run.json and model format 2 recorded every name flat: a colour map keeps its own and drops the
    auto-encoder's; an auto-encoder's colour-map names become its label_map."""
    flat = _flat_record_of_0_2()
    assert flat["method"] == "colour_map" and "channels" in flat
    colour_map = SeparationConfig.from_dict(flat)
    assert colour_map.method == ColourMapSettings(**{f.name: flat[f.name] for f in dataclasses.fields(ColourMapSettings)})
    old_autoencoder = {**flat, "method": "autoencoder", "label_match": "colour_map", "clusters": 6, "weave": False, "channels": 4}
    autoencoder = SeparationConfig.from_dict(old_autoencoder)
    assert autoencoder.method.label_match == "colour_map" and autoencoder.method.channels == 4
    assert autoencoder.method.label_map.clusters == 6 and not autoencoder.method.label_map.weave


def test_an_autoencoder_model_file_of_format_2_keeps_the_colour_map_of_its_label(tiny_mixture, tmp_path):
    trained = separate(
        tiny_mixture.x_mixed, tiny_mixture.rgb_surface, tiny_mixture.region_mask, method="autoencoder", steps=1,
        warm_start=False, channels=4, crop_size=32, batch_size=2, label_match="colour_map", clusters=6, device="cpu",
    )
    data = model_to_dict(trained.model)
    # as 0.2 wrote it: format 2, the settings flat
    data |= {"format_version": 2, "config": {**_flat_record_of_0_2(), "method": "autoencoder", "label_match": "colour_map",
                                              "clusters": 6, "weave": False, "channels": 4, "crop_size": 32, "batch_size": 2}}
    path = tmp_path / "autoencoder_0_2.pt"
    torch.save(data, path)
    loaded = load_model(path)
    assert loaded.config.method.shape() == trained.config.method.shape() and loaded.config.method.label_match == "colour_map"
    assert (loaded.config.method.label_map.clusters, loaded.config.method.label_map.weave) == (6, False)
    again = separate(tiny_mixture.x_mixed, tiny_mixture.rgb_surface, model=loaded, steps=0, device="cpu")
    np.testing.assert_array_equal(again.x2, separate(tiny_mixture.x_mixed, tiny_mixture.rgb_surface, model=trained.model, steps=0, device="cpu").x2)


def test_the_auto_encoders_label_is_fitted_with_its_label_map(tiny_mixture):
    """x̄1 by colour map (label_match="colour_map") uses the auto-encoder's own colour-map settings."""
    inputs = prepare_inputs(tiny_mixture.x_mixed, tiny_mixture.rgb_surface, tiny_mixture.region_mask)
    autoencoder = SeparationConfig.autoencoder(label_match="colour_map", clusters=6, passes=2, steps=3, device="cpu")
    as_colour_map = SeparationConfig(ColourMapSettings(clusters=6, passes=2, weave=False), device="cpu")
    np.testing.assert_array_equal(colour_map_surface(inputs, autoencoder), colour_map_surface(inputs, as_colour_map))
    other = SeparationConfig(ColourMapSettings(clusters=12, passes=2, weave=False), device="cpu")
    assert not np.array_equal(colour_map_surface(inputs, autoencoder), colour_map_surface(inputs, other))


def test_the_presets_are_named_once_in_the_core_and_the_cli_offers_the_same():
    from napari_xraysep.cli.parser import PRESETS as CLI_PRESETS  # --help cannot load the core to ask it

    assert tuple(PRESETS) == CLI_PRESETS == ("default", "autoencoder", "paper")
    assert [PRESETS[name]().method.name for name in PRESETS] == ["colour_map", "autoencoder", "autoencoder"]


def test_an_auto_encoder_setting_given_to_the_colour_map_is_said_to_do_nothing(tiny_mixture):
    """Checked and dropped by the settings, but a user who typed it is told (it once ran silently)."""
    from napari_xraysep import separate

    m = tiny_mixture
    with pytest.warns(UserWarning, match=r"channels is an auto-encoder setting: the colour map .* does not use it"):
        separate(m.x_mixed, m.rgb_surface, channels=16, steps=2, device="cpu")
    with warnings.catch_warnings():
        warnings.simplefilter("error", UserWarning)
        say_ignored_settings(resolve_config(None, None, {"clusters": 8}), {"clusters": 8})  # its own: nothing to say


def test_the_public_separate_shows_the_cores_parameters_and_docstring():
    import inspect

    import napari_xraysep

    for name in ("separate", "iter_separate"):
        function = getattr(napari_xraysep, name)
        assert "region_mask" in inspect.signature(function).parameters, name
        assert "Parameters\n    ----------" in (function.__doc__ or ""), name


def test_the_cli_says_an_ignored_auto_encoder_setting_once(tiny_mixture, tmp_path, capsys):
    import tifffile

    from napari_xraysep.cli import main

    tifffile.imwrite(tmp_path / "x.tif", tiny_mixture.x_mixed)
    tifffile.imwrite(tmp_path / "rgb.tif", (tiny_mixture.rgb_surface * 255).astype(np.uint8))
    args = ["separate", str(tmp_path / "x.tif"), str(tmp_path / "rgb.tif"), "--out", str(tmp_path / "out")]
    assert main([*args, "--set", "channels=16", "--steps", "2", "--device", "cpu", "--quiet"]) == 0
    assert capsys.readouterr().err.count("channels is an auto-encoder setting") == 1


def test_an_unknown_setting_names_the_known_one_it_is_most_like():
    """A typo of a method's name, of the run's own (steps, device) or of a label map's colour-map name
    names its fix; a name like none is only refused."""
    with pytest.raises(InputError) as error:
        SeparationConfig(stepz=3, devcie="cpu", warp_speed=9, clustres=4)
    assert str(error.value) == (
        "Unknown setting(s): clustres (did you mean clusters?), devcie (did you mean device?), "
        "stepz (did you mean steps?), warp_speed."
    )
    with pytest.raises(InputError, match="^Unknown setting\\(s\\): clustres \\(did you mean clusters\\?\\)\\.$"):
        SeparationConfig.from_dict({"method": {"name": "colour_map", "clustres": 4}})
