import threading
import warnings

import numpy as np
import pytest
from conftest import TINY, TINY_COLOUR_MAP

from napari_xraysep.core.sources import Sources
from napari_xraysep.core.streaming import TileProgress
from napari_xraysep.core.training import TrainingProgress
from napari_xraysep import AutoEncoderSettings, InputError, SeparationConfig, iter_separate, separate
from napari_xraysep.core import RESULT_LAYERS, Components, Normalisation
from napari_xraysep.core.result import components_in_units


@pytest.fixture(params=["colour_map", "autoencoder"])
def settings(request) -> dict:
    """Small settings of each method: the generic behaviour holds for both."""
    return dict(TINY_COLOUR_MAP if request.param == "colour_map" else TINY)


def test_separate_returns_six_float32_layers_in_xray_units(tiny_mixture, settings):
    x16 = (tiny_mixture.x_mixed / tiny_mixture.x_mixed.max() * 50000 + 1000).astype(np.uint16)
    rgb8 = (tiny_mixture.rgb_surface * 255).astype(np.uint8)
    result = separate(x16, rgb8, tiny_mixture.region_mask, **settings)
    assert list(result.layers()) == list(RESULT_LAYERS) == ["x1_hat", "x2_hat", "error_map", "x1", "x2", "weave"]
    for image in result.layers().values():
        assert image.dtype == np.float32 and image.shape == x16.shape
    x = x16.astype(np.float64)
    # step 2's invariant, in the X-ray's own units
    np.testing.assert_allclose(result.x1.astype(np.float64) + result.x2 + result.weave, x, atol=51000 * 2e-7 * 3)
    np.testing.assert_allclose(result.x1_hat.astype(np.float64) + result.x2_hat + result.error_map + result.weave, x, atol=0.05)
    assert result.timings["train_s"] > 0 and result.timings["inference_s"] > 0
    timings = result.timings
    assert timings["total_s"] >= timings["prepare_s"] + timings["train_s"] + timings["inference_s"]
    assert not result.stopped_early
    record = result.provenance()
    assert record["settings"]["method"]["name"] == settings.get("method", "colour_map")
    assert record["steps_trained"] == settings["steps"]
    assert set(record["software"]) >= {"napari-xraysep", "torch", "numpy"}


def test_progress_callback_and_stop_keep_a_usable_result(tiny_mixture, settings):
    stop = threading.Event()
    seen, tiles = [], []

    def on_progress(progress):
        if isinstance(progress, TileProgress):  # the model applied, tile by tile, after training
            tiles.append(progress.done)
            return
        seen.append(progress.step)
        if progress.step == 2:
            stop.set()

    result = separate(
        tiny_mixture.x_mixed, tiny_mixture.rgb_surface, tiny_mixture.region_mask,
        stop=stop, on_progress=on_progress, **{**settings, "steps": 40},
    )
    assert seen == [1, 2] and result.stopped_early and result.model.steps_trained == 2
    assert tiles[-1] == len(tiles) > 1 and np.isfinite(result.x2).all()


def test_last_preview_is_the_final_estimate_in_xray_units(tiny_mixture, settings):
    x = tiny_mixture.x_mixed * 1000 + 50
    gen = iter_separate(Sources(x, tiny_mixture.rgb_surface), tiny_mixture.region_mask, **{**settings, "steps": 3, "preview_every": 3})
    events = []
    while True:
        try:
            events.append(next(gen))
        except StopIteration as finished:
            result = finished.value
            break
    events = [event for event in events if isinstance(event, TrainingProgress)]  # not the tiles applied after
    assert [e.preview is not None for e in events] == [False, False, True]
    np.testing.assert_allclose(events[-1].preview.x1_hat, result.x1_hat, atol=1e-3)
    np.testing.assert_allclose(events[-1].preview.x2_hat, result.x2_hat, atol=1e-3)
    np.testing.assert_allclose(events[-1].preview.weave, result.weave, atol=1e-3)


def test_components_in_units_share_the_offset_between_the_layers():
    norm = Normalisation(offset=100.0, scale=10.0)
    unit = Components(
        x1_hat=np.array([[0.5]]), x2_hat=np.array([[0.25]]), x_hat=np.array([[0.85]]), weave=np.array([[0.1]])
    )
    mapped = components_in_units(unit, norm)
    assert mapped.x1_hat[0, 0] == 55.0 and mapped.x2_hat[0, 0] == 52.5 and mapped.x_hat[0, 0] == 108.5
    assert mapped.weave[0, 0] == pytest.approx(1.0)  # a zero-mean pattern: scaled, no offset
    assert mapped.x1_hat[0, 0] + mapped.x2_hat[0, 0] + mapped.weave[0, 0] == pytest.approx(mapped.x_hat[0, 0])


def test_applying_a_model_without_training_reproduces_its_outputs(tiny_mixture, settings):
    first = separate(tiny_mixture.x_mixed, tiny_mixture.rgb_surface, tiny_mixture.region_mask, **settings)
    again = separate(tiny_mixture.x_mixed, tiny_mixture.rgb_surface, model=first.model, steps=0)
    for name in RESULT_LAYERS:
        np.testing.assert_allclose(getattr(again, name), getattr(first, name), atol=1e-5)


def test_continuing_leaves_the_callers_model_untouched(tiny_mixture, settings):
    first = separate(tiny_mixture.x_mixed, tiny_mixture.rgb_surface, tiny_mixture.region_mask, **settings)
    weights = {k: v.clone() for k, v in first.model.network.state_dict().items()}
    more = separate(tiny_mixture.x_mixed, tiny_mixture.rgb_surface, tiny_mixture.region_mask, model=first.model, steps=2)
    steps = settings["steps"]
    assert more.model.steps_trained == steps + 2 and first.model.steps_trained == steps
    for name, value in first.model.network.state_dict().items():
        assert (value == weights[name]).all()


def test_settings_errors_are_clear(tiny_mixture, tiny_settings):
    args = (tiny_mixture.x_mixed, tiny_mixture.rgb_surface, tiny_mixture.region_mask)
    with pytest.raises(InputError, match="Unknown setting"):
        separate(*args, chanels=8)
    with pytest.raises(InputError, match="learning_rate must be positive"):
        separate(*args, method="autoencoder", learning_rate=0)
    with pytest.raises(InputError, match="mode='slow' is not one of"):
        separate(*args, method="autoencoder", mode="slow")
    with pytest.raises(InputError, match="a trained model must be given"):
        separate(*args, steps=0)
    first = separate(*args, **tiny_settings)
    with pytest.raises(InputError, match="architecture cannot change"):
        separate(*args, model=first.model, channels=8)
    with pytest.raises(InputError, match="made by the autoencoder method"):
        separate(*args, model=first.model, method="colour_map")


def test_paper_preset_keeps_the_papers_choices():
    paper = SeparationConfig.paper().method
    assert (paper.mode, paper.patch_size, paper.patch_stride) == ("paper", 50, 5)
    assert (paper.learning_rate, paper.output_layer, paper.loss_norm) == (1e-6, "bn_relu", "frobenius")
    assert (paper.exclusion_scaling, paper.label_match, paper.exclusion_levels) == ("paper", "none", 3)
    assert SeparationConfig.paper(steps=7).steps == 7
    assert isinstance(paper, AutoEncoderSettings) and not paper.label_map.weave


def test_presets_name_their_method_and_steps_follow_it():
    assert SeparationConfig().method.name == "colour_map" and SeparationConfig().training_steps == 12
    autoencoder = SeparationConfig.autoencoder()
    assert autoencoder.method.name == "autoencoder" and autoencoder.training_steps == 200 and autoencoder.method.warm_start
    assert SeparationConfig(steps=5).training_steps == 5 and SeparationConfig(steps=0).training_steps == 0
    with pytest.raises(InputError, match="steps must be a whole number"):
        SeparationConfig(steps=-1)
    with pytest.raises(InputError, match="method='network' is not one of"):
        SeparationConfig(method="network")
    with pytest.raises(InputError, match="region_weight must be between 0 and 1"):
        SeparationConfig(region_weight=2.0)


def test_an_undertrained_autoencoder_is_named_before_the_photograph_is_blamed(tiny_mixture):
    """3 steps of an auto-encoder learn next to nothing: the warning says how it was trained and to
    train longer, rather than only that the photograph may be another painting's."""
    m = tiny_mixture
    with warnings.catch_warnings(record=True) as said:
        warnings.simplefilter("always")
        separate(m.x_mixed, m.rgb_surface, m.region_mask, **TINY)  # the auto-encoder, 3 steps, no warm start
    lines = [str(w.message) for w in said if "explains almost none" in str(w.message)]
    assert len(lines) == 1 and lines[0].startswith("The auto-encoder's surface X-ray explains almost none")
    assert "after 3 training steps at learning rate 0.003, not warm-started" in lines[0] and "train it longer" in lines[0]


def test_applying_the_model_to_an_image_of_several_tiles_reports_each_tile() -> None:
    from napari_xraysep.datasets.synthetic import make_mixture

    case = make_mixture("concealed_portrait", (96, 160), seed=0)
    events: list = []
    result = separate(case.x_mixed, case.rgb_surface, tile_size=48, on_progress=events.append)
    tiles = [event for event in events if isinstance(event, TileProgress)]
    # 2 × 4 tiles of 48 px, counted as the model is applied.
    assert tiles and {event.what for event in tiles} == {"applying the model"}
    assert [event.done for event in tiles[:8]] == list(range(1, 9)) and tiles[0].total == 8
    assert all(event.elapsed_s >= 0 for event in tiles) and np.isfinite(result.x2).all()
    # One tile: nothing to report, as before.
    small = []
    separate(case.x_mixed, case.rgb_surface, on_progress=small.append)
    assert not any(isinstance(event, TileProgress) for event in small)


def test_the_cli_shows_the_tiles_while_it_applies_the_model(tmp_path, capsys) -> None:
    import tifffile

    from napari_xraysep.cli import main
    from napari_xraysep.datasets.synthetic import make_mixture

    case = make_mixture("concealed_portrait", (96, 160), seed=0)
    tifffile.imwrite(tmp_path / "x.tif", case.x_mixed)
    tifffile.imwrite(tmp_path / "rgb.tif", case.rgb_surface)
    out = str(tmp_path / "out")
    args = ["separate", str(tmp_path / "x.tif"), str(tmp_path / "rgb.tif"), "--out", out, "--set", "tile_size=48"]
    assert main(args) == 0
    said = capsys.readouterr().err
    assert "tile 8/8" in said and "applying the model" in said
