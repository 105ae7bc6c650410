"""Extra side-information channels (infrared, macro-XRF element maps) read by the surface encoder."""

import json

import numpy as np
import pytest
import tifffile
from conftest import dock, drain, wait_done

from napari_xraysep import load_model, save_model, separate
from napari_xraysep.cli import main
from napari_xraysep.core import RESULT_LAYERS, InputError, prepare_inputs
from napari_xraysep.core.checks import side_list
from napari_xraysep.core.data import robust_range
from napari_xraysep.core.sources import Sources
from napari_xraysep.core.dask_apply import apply_dask
from napari_xraysep.core.streaming import iter_apply
from napari_xraysep.datasets.synthetic import make_mixture

# The default method (the colour map), small; the auto-encoder's settings for the test that runs it too.
TINY = {
    "clusters": 6, "warm_start": False, "channels": 4, "crop_size": 32, "batch_size": 2, "steps": 2, "device": "cpu",
    "tile_size": 40,
}


def test_the_simulated_copper_map_sees_only_copper_paint():
    copper = make_mixture("copper_headdress", (96, 128), seed=0).copper_map
    plain = make_mixture("concealed_portrait", (96, 128), seed=0).copper_map
    assert copper.max() > 0.5 and np.percentile(copper, 99) > 0.3
    assert np.abs(plain).max() < 0.15  # counting noise only: no copper pigment on that painting


def test_side_maps_follow_the_rgb_with_their_own_normalisation(tiny_mixture):
    side = 1000 + 500 * tiny_mixture.copper_map
    inputs = prepare_inputs(tiny_mixture.x_mixed, tiny_mixture.rgb_surface, tiny_mixture.region_mask, side_channels=[side])
    assert inputs.rgb_surface.shape == (4, *tiny_mixture.x_mixed.shape)
    low, high = robust_range(side)  # the map's own robust range, not the photograph's
    np.testing.assert_allclose(inputs.rgb_surface[3], (side - low) / (high - low), rtol=1e-5, atol=1e-6)
    (norm,) = inputs.side_normalisations
    assert (norm.offset, norm.scale) == pytest.approx((low, high - low))


@pytest.mark.parametrize(
    ("side", "message"),
    [(np.zeros((48, 64, 3)), "side channel 1 must be a 2-D"), (np.zeros((40, 64)), "side channel 1 is 40×64"),
     (np.full((48, 64), np.nan), "Every pixel of the side channel 1 is NaN or infinite")],
)
def test_bad_side_maps_are_named(tiny_mixture, side, message):
    with pytest.raises(InputError, match=message):
        prepare_inputs(tiny_mixture.x_mixed, tiny_mixture.rgb_surface, None, side_channels=[side])


def test_side_channels_may_be_a_list_one_map_a_stack_or_none(tiny_mixture):
    copper, square = tiny_mixture.copper_map, tiny_mixture.x_mixed ** 2
    assert side_list(None) == [] and side_list(()) == []
    (one,) = side_list(copper)  # one map, not a list of its 48 rows
    assert one is copper
    stacked = side_list(np.stack([copper, square]))
    assert len(stacked) == 2 and np.array_equal(stacked[1], square)
    with pytest.raises(InputError, match="list of 2-D maps"):
        side_list(np.zeros((1, 2, 48, 64)))
    args = (tiny_mixture.x_mixed, tiny_mixture.rgb_surface, tiny_mixture.region_mask)
    listed = prepare_inputs(*args, side_channels=[copper]).rgb_surface
    np.testing.assert_array_equal(prepare_inputs(*args, side_channels=copper).rgb_surface, listed)
    assert prepare_inputs(*args, side_channels=None).rgb_surface.shape[0] == 3
    model = separate(*args, side_channels=copper, **TINY).model
    outputs = {name: np.zeros(copper.shape, np.float32) for name in RESULT_LAYERS}
    drain(iter_apply(model, Sources(tiny_mixture.x_mixed, tiny_mixture.rgb_surface, side_channels=copper), outputs))
    lazy = apply_dask(model, Sources(tiny_mixture.x_mixed, tiny_mixture.rgb_surface, side_channels=copper))
    np.testing.assert_allclose(np.asarray(lazy["x2"]), outputs["x2"], atol=1e-5)


@pytest.mark.parametrize("method", ["colour_map", "autoencoder"])
def test_a_model_with_side_channels_keeps_them_and_asks_for_them_again(tiny_mixture, tmp_path, method):
    maps = [tiny_mixture.copper_map, tiny_mixture.x_mixed ** 2]
    result = separate(tiny_mixture.x_mixed, tiny_mixture.rgb_surface, tiny_mixture.region_mask, side_channels=maps, method=method, **TINY)
    assert result.model.network.rgb_channels == 5 and result.provenance()["side_channels"] == 2
    model = load_model(save_model(result.model, tmp_path / "m.pt"))
    assert model.side_normalisations == result.model.side_normalisations
    again = separate(tiny_mixture.x_mixed, tiny_mixture.rgb_surface, side_channels=maps, model=model, steps=0, device="cpu")
    np.testing.assert_allclose(again.x2, result.x2, atol=1e-5)
    with pytest.raises(InputError, match="trained with 2 side channel"):
        separate(tiny_mixture.x_mixed, tiny_mixture.rgb_surface, side_channels=maps[:1], model=model, steps=0)
    outputs = {name: np.zeros(tiny_mixture.x_mixed.shape, np.float32) for name in RESULT_LAYERS}
    with pytest.raises(InputError, match="trained with 2 side channel"):
        next(iter_apply(model, Sources(tiny_mixture.x_mixed, tiny_mixture.rgb_surface), outputs))
    plain = separate(tiny_mixture.x_mixed, tiny_mixture.rgb_surface, tiny_mixture.region_mask, method=method, **TINY).model
    with pytest.raises(InputError, match=r"trained without side channels; 1 given: leave them out \(--side"):
        separate(tiny_mixture.x_mixed, tiny_mixture.rgb_surface, side_channels=maps[:1], model=plain, steps=0)
    with pytest.raises(InputError, match="side channel 2 is 20×64"):
        next(iter_apply(model, Sources(tiny_mixture.x_mixed, tiny_mixture.rgb_surface, side_channels=[maps[0], maps[1][:20]]), outputs))
    with pytest.raises(InputError, match="double-sided panel takes none"):
        separate(tiny_mixture.x_mixed, tiny_mixture.rgb_surface, rgb_back=tiny_mixture.rgb_hidden, side_channels=maps, **TINY)


def test_tile_by_tile_and_dask_application_read_the_side_maps_like_a_whole_image_pass(tiny_mixture):
    maps = [tiny_mixture.copper_map, (tiny_mixture.x_mixed ** 2 * 1000).astype(np.uint16)]
    model = separate(tiny_mixture.x_mixed, tiny_mixture.rgb_surface, tiny_mixture.region_mask, side_channels=maps, **TINY).model
    whole = separate(tiny_mixture.x_mixed, tiny_mixture.rgb_surface, side_channels=maps, model=model, steps=0, device="cpu")
    outputs = {name: np.full(tiny_mixture.x_mixed.shape, np.nan, np.float32) for name in RESULT_LAYERS}
    drain(iter_apply(model, Sources(tiny_mixture.x_mixed, tiny_mixture.rgb_surface, side_channels=maps), outputs, tile_size=17, device="cpu"))
    lazy = apply_dask(model, Sources(tiny_mixture.x_mixed, tiny_mixture.rgb_surface, side_channels=maps), tile_size=17)
    for name in RESULT_LAYERS:
        expected = getattr(whole, name)
        np.testing.assert_allclose(outputs[name], expected, rtol=0, atol=1e-5 * np.ptp(expected), err_msg=name)
        np.testing.assert_allclose(lazy[name].compute(scheduler="sync"), expected, rtol=0, atol=1e-5 * np.ptp(expected), err_msg=name)
    # The maps matter: the same model given a blank copper map separates differently.
    blank = {name: np.zeros_like(outputs[name]) for name in RESULT_LAYERS}
    drain(iter_apply(model, Sources(tiny_mixture.x_mixed, tiny_mixture.rgb_surface, side_channels=[np.zeros_like(maps[0]), maps[1]]), blank, device="cpu"))
    assert np.abs(blank["x2"] - outputs["x2"]).max() > 1e-4


def test_cli_side_option(tiny_mixture, tmp_path, capsys):
    paths = {name: tmp_path / f"{name}.tif" for name in ("x", "rgb", "cu")}
    tifffile.imwrite(paths["x"], tiny_mixture.x_mixed)
    tifffile.imwrite(paths["rgb"], tiny_mixture.rgb_surface, photometric="rgb")
    tifffile.imwrite(paths["cu"], tiny_mixture.copper_map)
    out = tmp_path / "out"
    args = ["separate", str(paths["x"]), str(paths["rgb"]), "--side", str(paths["cu"]), "--region=5,5,30,40", "--out", str(out),
            "--steps", "1", "--device", "cpu", "--quiet", "--set", "clusters=6"]
    assert main(args) == 0
    assert load_model(out / "model.pt").network.rgb_channels == 4
    # Said, not only in run.json (a new user's finding): what x1 was made of.
    assert main([arg for arg in args if arg != "--quiet"] + ["--overwrite"]) == 0
    assert "xraysep: x1 is predicted from one photograph and 1 side channel ('cu')." in capsys.readouterr().err
    said = json.loads((out / "run.json").read_text())  # which map, not only how many (an exported sheet said "1")
    assert (said["side_channels"], said["side_channel_names"]) == (1, ["cu"])
    # The whole-painting command reads the same map and gives the same layers.
    applied = tmp_path / "applied"
    assert main(["apply", str(out / "model.pt"), str(paths["x"]), str(paths["rgb"]), "--side", str(paths["cu"]),
                 "--out", str(applied), "--tile", "20", "--device", "cpu", "--quiet"]) == 0
    np.testing.assert_allclose(tifffile.imread(applied / "x2.tif"), tifffile.imread(out / "x2.tif"), atol=1e-5)
    record = json.loads((applied / "run.json").read_text())
    assert record["inputs"]["side_channels"] == [str(paths["cu"])]
    assert (record["side_channels"], record["double_sided"]) == (1, False)  # as separate's run.json says
    assert main(["apply", str(out / "model.pt"), str(paths["x"]), str(paths["rgb"]), "--out", str(tmp_path / "none")]) == 2


def test_widget_side_channels(make_napari_viewer, qtbot):
    viewer = make_napari_viewer()
    widget = dock(viewer, "copper_headdress", steps=1)  # photograph, X-ray, region and a Cu-K map
    inputs = widget.inputs
    copper = viewer.layers["Cu-K map (synthetic XRF)"]
    np.testing.assert_array_equal(copper.data, make_mixture("copper_black_costume", (256, 384), 0).copper_map)
    assert inputs.xray.value.name == "mixed X-ray (synthetic)" and inputs.region.value is not None
    names = [layer.name for layer in inputs.side_channels.choices]
    assert copper.name in names and inputs.xray.value.name not in names  # never the X-ray itself
    inputs.side_channels.value = [copper]
    widget.train()
    wait_done(qtbot, widget)
    assert widget.current_model.network.rgb_channels == 4
    assert not any("run 1" in layer.name for layer in inputs.side_channels.choices)  # nor our own results
    inputs.xray.value = copper  # choosing it as the X-ray takes it out of the side channels
    assert list(inputs.side_channels.value) == []


def test_warm_start_with_side_channels_keeps_the_rgb_weights(tiny_mixture):
    import torch

    from napari_xraysep import SeparationConfig
    from napari_xraysep.core import new_model
    from napari_xraysep.io.warmstart import warm_start_state

    model = new_model(SeparationConfig.autoencoder(), rgb_channels=4, shipped_weights=warm_start_state)
    shipped = warm_start_state(SeparationConfig.autoencoder())
    first = model.network.state_dict()["encode_rgb.0.weight"]
    assert first.shape[1] == 4 and torch.equal(first[:, :3], shipped["encode_rgb.0.weight"])
    last = model.network.state_dict()["decode_rgb.6.weight"]
    assert last.shape[0] == 4 and torch.equal(last[:3], shipped["decode_rgb.6.weight"])
    assert torch.equal(model.network.state_dict()["decode_xray.0.weight"], shipped["decode_xray.0.weight"])


def test_the_labeled_surface_xray_reads_the_side_maps(tiny_mixture):
    from napari_xraysep import SeparationConfig
    from napari_xraysep.core.objectives import concealed_objective
    from napari_xraysep.core.labeled import labeled_surface_xray

    inputs = prepare_inputs(tiny_mixture.x_mixed, tiny_mixture.rgb_surface, tiny_mixture.region_mask, side_channels=[tiny_mixture.copper_map])
    label = concealed_objective(inputs, SeparationConfig.autoencoder()).stack[0, -1]  # RGB, Cu-K, x, then x̄1
    rgb, copper = inputs.rgb_surface[:3], inputs.rgb_surface[3:]
    np.testing.assert_allclose(label, labeled_surface_xray(inputs.x_mixed, rgb, inputs.region_mask, side_maps=copper))
    assert not np.allclose(label, labeled_surface_xray(inputs.x_mixed, rgb, inputs.region_mask))


def test_a_side_map_with_a_strip_missing_is_said_and_bends_no_fit_elsewhere():
    """A new user's XRF map with a patch missing (2 % of the frame, away from the copper): x1 and x2
    empty there without a word, and x2 elsewhere 2.5 dB worse, for the missing pixels' fill reached
    the fit through its filters. Now said, and the fit keeps SUPPORT_EROSION px away from a gap wider
    than a speck (scattered pixels: none, a breaker's 5 % of them had left the fit 9 pixels)."""
    from napari_xraysep.core import iter_separate
    from napari_xraysep.core.progress import drive
    from napari_xraysep.core.support import SUPPORT_EROSION
    from napari_xraysep.datasets.evaluation import score_inside

    case = make_mixture("copper_black_costume", (192, 288), seed=0)
    copper = np.random.default_rng(0).poisson(200 * np.clip(case.copper_map, 0, None) + 5).astype(np.float32)
    holed = copper.copy()
    holed[20:40, 30:90] = np.nan
    settings = {"device": "cpu", "region_mask": case.region_mask}
    whole = separate(case.x_mixed, case.rgb_surface, side_channels=[copper], **settings)
    sources = Sources(case.x_mixed, case.rgb_surface, side_channels=[holed], side_names=["Cu-K"])
    with pytest.warns(UserWarning) as said:
        missing = drive(iter_separate(sources, case.region_mask, device="cpu"))
    sentence = "No value (NaN or infinite) in the side channel 1 ('Cu-K') at 1 200 pixels inside the painting"
    assert any(str(warning.message).startswith(sentence) for warning in said), [str(w.message) for w in said]
    assert np.isnan(missing.x2[20:40, 30:90]).all() and np.isfinite(missing.x2[40:, :]).all()
    away = np.ones(case.x_mixed.shape, bool)
    away[20 - 20 : 40 + 20, 30 - 20 : 90 + 20] = False  # beyond the filters' reach of the patch
    scores = [score_inside(result.x2, case.x2_true, away)["psnr_affine"] for result in (whole, missing)]
    assert scores[1] > scores[0] - 0.5, scores  # (2.5 dB lower before)
    assert SUPPORT_EROSION >= 3


def test_tile_by_tile_the_missing_pixels_of_a_side_map_are_counted_once_and_said(tiny_mixture, tmp_path, capsys):
    """`xraysep apply` of a map with a patch missing left x1 and x2 empty there without a word, as
    `separate` did (a new user's finding): counted over the tiles' cores inside the painting, said."""
    maps = [tiny_mixture.copper_map.astype(np.float32)]
    model = separate(tiny_mixture.x_mixed, tiny_mixture.rgb_surface, tiny_mixture.region_mask, side_channels=maps, **TINY).model
    holed = maps[0].copy()
    holed[10:20, 5:35] = np.nan  # 300 pixels across tile borders
    support = np.ones(holed.shape, bool)
    support[:, 30:] = False  # 50 of them outside the painting: not counted
    outputs = {name: np.zeros(holed.shape, np.float32) for name in RESULT_LAYERS}
    marked: dict = {}
    x = tiny_mixture.x_mixed.astype(np.float32)
    x[10:12, 5:15] = np.nan  # 20 of them where the X-ray has no data either: its own, not counted
    drain(iter_apply(model, Sources(x, tiny_mixture.rgb_surface, side_channels=[holed]), outputs,
                     tile_size=16, support=support, marked=marked))
    assert marked["missing_inputs"] == {"side channel 1": 230}
    assert np.isnan(outputs["x2"][10:20, 5:35]).all()
    paths = {name: tmp_path / f"{name}.tif" for name in ("x", "rgb", "cu")}
    tifffile.imwrite(paths["x"], tiny_mixture.x_mixed)
    tifffile.imwrite(paths["rgb"], tiny_mixture.rgb_surface, photometric="rgb")
    tifffile.imwrite(paths["cu"], holed)
    model_path = save_model(model, tmp_path / "m.pt")
    assert main(["apply", str(model_path), str(paths["x"]), str(paths["rgb"]), "--side", str(paths["cu"]),
                 "--out", str(tmp_path / "out"), "--tile", "16", "--device", "cpu", "--quiet"]) == 0
    assert "No value (NaN or infinite) in the side channel 1 ('cu') at 300 pixels inside the painting" in capsys.readouterr().err
    assert json.loads((tmp_path / "out" / "run.json").read_text())["missing_inputs"] == {"side channel 1": 300}


def test_scattered_missing_pixels_of_a_side_map_leave_the_fit_its_pixels():
    """A breaker's 5 % of dead pixels stored as NaN in the side map: the 6-px keep-away left the fit 9
    of 52 000 pixels and x2 fell from 22.6 to 15.0 dB. Specks get none now; x2 as before."""
    case = make_mixture("copper_black_costume", (192, 288), seed=0)
    copper = np.random.default_rng(0).poisson(200 * np.clip(case.copper_map, 0, None) + 5).astype(np.float32)
    specks = np.random.default_rng(1).random(copper.shape) < 0.05
    inputs = prepare_inputs(case.x_mixed, case.rgb_surface, None, side_channels=[np.where(specks, np.nan, copper)])
    assert inputs.missing_inputs == {"side channel 1": int(specks.sum())}
    assert inputs.fit_pixels.sum() == (~specks).sum()  # no ring around a speck
    holed = copper.copy()
    holed[20:40, 30:90] = np.nan  # a patch: its ring is kept out
    patch = prepare_inputs(case.x_mixed, case.rgb_surface, None, side_channels=[holed])
    assert patch.fit_pixels.sum() == holed.size - (20 + 12) * (60 + 12)
