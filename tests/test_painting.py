"""A whole painting: train on the area around the region, apply tile by tile to files, pyramids to show them."""

import json
import threading

import numpy as np
import pytest
import tifffile
import torch
from conftest import TINY, dock, drain, wait_done
from qtpy.QtWidgets import QApplication

from napari_xraysep import load_model, separate
from napari_xraysep.core import RESULT_LAYERS, InputError, StoppedError, areas
from napari_xraysep.core.areas import training_area
from napari_xraysep.core.regions import BoxRegion
from napari_xraysep.core.training import TrainingProgress
from napari_xraysep.core.sources import Sources
from napari_xraysep.core.streaming import TileProgress
from napari_xraysep.io import pyramid
from napari_xraysep.io.pyramid import halve, open_pyramid, write_pyramid
from napari_xraysep.pipeline import iter_apply_to_folder, iter_separate_painting


def test_training_area_grows_the_region_box_by_the_margin_or_its_size_and_clips():
    mask = np.zeros((100, 200), bool)
    mask[40:50, 100:120] = True  # a 10×20 box
    # rows grow by max(8, 10) = 10, columns by max(8, 20) = 20
    assert training_area(mask, margin=8) == (slice(30, 60), slice(80, 140))
    # a margin of 64 reaches past the top and bottom: clipped to the image
    assert training_area(mask, margin=64) == (slice(0, 100), slice(36, 184))
    mask[:] = False
    with pytest.raises(InputError, match="region is empty"):
        training_area(mask)


def test_a_large_region_is_trained_on_its_middle_within_the_pixel_budget():
    mask = np.zeros((400, 600), bool)
    mask[100:300, 200:500] = True  # grown by its own size: the whole 400×600 image, 240 000 pixels
    with pytest.warns(UserWarning, match="training on their middle 200×300 pixels"):
        rows, cols = training_area(mask, margin=8, max_pixels=60_000)
    assert (rows, cols) == (slice(100, 300), slice(200, 500))  # half of each side, about the region's centre
    # the bounds of a lazy mask are found strip by strip, as of an array
    lazy = BoxRegion([(100, 200, 300, 500)], (400, 600))
    assert areas.region_bounds(lazy) == areas.region_bounds(mask) == (100, 200, 300, 500)
    assert areas.painting_area((5000, 7000)) == (slice(1732, 3268), slice(2732, 4268))  # CENTRAL_AREA in the middle


def test_halve_averages_2x2_blocks_and_repeats_an_odd_edge():
    image = np.arange(15, dtype=np.float32).reshape(3, 5)
    expected = np.array([[3.0, 5.0, 6.5], [10.5, 12.5, 14.0]])  # e.g. (0+1+5+6)/4, (4+4+9+9)/4, (10+11+10+11)/4
    np.testing.assert_allclose(halve(image), expected)
    big = np.random.default_rng(0).random((37, 23))
    np.testing.assert_allclose(halve(big, rows_per_block=4), halve(big), rtol=1e-6)  # strips = one pass


def test_pyramid_levels_halve_until_a_screenful(tmp_path):
    image = np.random.default_rng(1).random((300, 130)).astype(np.float32)
    tifffile.imwrite(tmp_path / "x2.tif", image)
    written = write_pyramid(tmp_path / "x2.tif", tmp_path / "pyramid", smallest=64)
    assert [p.name for p in written] == ["x2.1.tif", "x2.2.tif", "x2.3.tif"]
    levels = open_pyramid(tmp_path / "x2.tif")
    assert [level.shape for level in levels] == [(300, 130), (150, 65), (75, 33), (38, 17)]
    np.testing.assert_allclose(levels[2], halve(halve(image)), rtol=1e-6)
    assert all(isinstance(level, np.memmap) for level in levels)  # nothing read until shown


@pytest.fixture(scope="module")
def model(tiny_mixture):
    return separate(tiny_mixture.x_mixed, tiny_mixture.rgb_surface, tiny_mixture.region_mask, **TINY).model


def test_apply_to_folder_writes_what_separate_gives_and_a_stop_leaves_nothing(tiny_mixture, model, tmp_path):
    reference = separate(tiny_mixture.x_mixed, tiny_mixture.rgb_surface, model=model, steps=0, device="cpu")
    events, paths = drain(iter_apply_to_folder(model, Sources(tiny_mixture.x_mixed, tiny_mixture.rgb_surface), tmp_path, tile_size=20, device="cpu"))
    assert len(events) == 3 * 4 and set(paths) == set(RESULT_LAYERS)
    for name in RESULT_LAYERS:
        np.testing.assert_allclose(tifffile.imread(paths[name]), getattr(reference, name), atol=1e-5 * np.ptp(getattr(reference, name)))
    stopped = tmp_path / "stopped"
    stopped.mkdir()
    stop = threading.Event()
    stop.set()
    _, paths = drain(iter_apply_to_folder(model, Sources(tiny_mixture.x_mixed, tiny_mixture.rgb_surface), stopped, tile_size=20, stop=stop))
    assert paths is None and list(stopped.iterdir()) == []


def test_separate_painting_trains_on_the_area_and_applies_everywhere(tiny_mixture, tmp_path, monkeypatch):
    monkeypatch.setattr(areas, "AREA_MARGIN", 4)
    region = np.zeros(tiny_mixture.x_mixed.shape, bool)
    region[16:30, 20:40] = True
    events, result = drain(
        iter_separate_painting(Sources(tiny_mixture.x_mixed, tiny_mixture.rgb_surface), tmp_path, region_mask=region, **TINY)
    )
    assert result.area == (slice(2, 44), slice(0, 60))  # the box grown by its own size (14, 20), clipped
    assert result.area_result.x2.shape == (42, 60)
    kinds = [(type(event), getattr(event, "what", None)) for event in events]
    area_tiles = [(TileProgress, "applying the model to the training area")] * (2 * 2)  # 42×60 in 40-px tiles
    whole = [(TileProgress, "whole painting")] * (2 * 2)  # 48×64 in 40-px tiles
    assert kinds == [(TrainingProgress, None)] * TINY["steps"] + area_tiles + whole
    x1, x2, weave = (tifffile.imread(result.paths[name]) for name in ("x1", "x2", "weave"))
    np.testing.assert_allclose(x1.astype(np.float64) + x2 + weave, tiny_mixture.x_mixed, rtol=1e-6)
    saved = load_model(tmp_path / "model.pt")
    assert saved.steps_trained == TINY["steps"]
    assert open_pyramid(result.paths["x2"])[0].shape == (48, 64)  # smaller than a screenful: no reductions

    # A stop during training ends with the area's result, the saved model and run.json; no painting files.
    out = tmp_path / "stopped"
    out.mkdir()
    stop = threading.Event()
    sources = Sources(tiny_mixture.x_mixed, tiny_mixture.rgb_surface)
    steps = iter_separate_painting(sources, out, region_mask=region, stop=stop, **TINY)
    next(steps)  # the first training step
    stop.set()
    _, stopped = drain(steps)
    assert stopped.paths is None and stopped.area_result.stopped_early and stopped.area_result.model.steps_trained == 1
    assert sorted(p.name for p in out.iterdir()) == ["model.pt", "run.json"]
    assert json.loads((out / "run.json").read_text())["stopped_early"] is True
    # Where an earlier run's results are, a stopped run's set goes beside them, not over them (a new
    # user's Ctrl-C during the tiles deleted seven complete TIFFs).
    earlier = tmp_path / "earlier"
    earlier.mkdir()
    (earlier / "x2.tif").write_bytes(b"an earlier run's x2")
    (earlier / "run.json").write_text("{}")
    steps = iter_separate_painting(sources, earlier, region_mask=region, stop=stop, **TINY)
    stop.clear()
    next(steps)
    stop.set()
    _, aside = drain(steps)
    assert aside.paths is None and aside.folder.parent == tmp_path and aside.folder.name.startswith("earlier.stopped-")
    assert sorted(p.name for p in aside.folder.iterdir()) == ["model.pt", "run.json"]
    assert (earlier / "x2.tif").read_bytes() == b"an earlier run's x2" and (earlier / "run.json").read_text() == "{}"
    assert sorted(p.name for p in tmp_path.iterdir() if p.name.startswith(".")) == []  # no staging left
    # Stopped before its first step, nothing was trained: nothing is written (StoppedError).
    empty = tmp_path / "stopped_at_once"
    empty.mkdir()
    with pytest.raises(StoppedError):
        drain(iter_separate_painting(sources, empty, region_mask=region, stop=stop, **TINY))
    assert not any(empty.iterdir())


def test_widget_separates_a_large_painting_into_files_shown_as_pyramids(make_napari_viewer, qtbot, tmp_path, monkeypatch):
    from napari_xraysep.plugin import worker

    monkeypatch.setattr(areas, "LARGE_IMAGE_PIXELS", 1000)  # every image counts as a whole painting
    monkeypatch.setattr(areas, "AREA_MARGIN", 16)
    monkeypatch.setattr(pyramid, "PYRAMID_SMALLEST", 32)
    monkeypatch.setattr(worker, "results_root", lambda: tmp_path)
    viewer = make_napari_viewer()
    widget = dock(viewer, "concealed_portrait", preview_every=2)
    xray = widget.inputs.xray.value
    for layer in viewer.layers:  # the painting moved on screen, every layer alike: results must land where the X-ray is
        layer.translate = (10, 20)
    bars = []  # every description the run's bar in the activity dock takes
    described = worker.ActivityProgress.set_description
    monkeypatch.setattr(worker.ActivityProgress, "set_description", lambda bar, text: bars.append([text]) or described(bar, text))

    widget.train()
    wait_done(qtbot, widget)
    # in the activity dock: the training, then the tiles
    assert any("X-ray separation, run 1: whole painting" in bar for shown in bars for bar in shown), bars
    (folder,) = tmp_path.iterdir()
    assert {f"{name}.tif" for name in RESULT_LAYERS} | {"model.pt", "pyramid"} <= {p.name for p in folder.iterdir()}
    layers = {l.metadata["xraysep"]["layer"]: l for l in viewer.layers if l.metadata.get("xraysep", {}).get("run") == 1}
    assert set(layers) == set(RESULT_LAYERS)
    x2 = layers["x2"]
    assert x2.multiscale and len(x2.data) > 1 and x2.data[0].shape == xray.data.shape
    assert np.allclose(x2.translate, (10, 20))
    total = np.asarray(layers["x1"].data[0], np.float64) + np.asarray(x2.data[0]) + np.asarray(layers["weave"].data[0])
    np.testing.assert_allclose(total, xray.data, rtol=1e-5)
    assert str(folder) in widget.message.text() and "preview" not in " ".join(l.name for l in viewer.layers)
    assert f"The whole painting's 6 layers are written to {folder} (with model.pt)" in widget.message.text()
    QApplication.processEvents()

    # Open results folder shows it; Export comparison writes beside the results without asking.
    opened = []
    monkeypatch.setattr("qtpy.QtGui.QDesktopServices.openUrl", lambda url: opened.append(url.toLocalFile()))
    widget.results.folder_button.native.click()
    widget.results.export_button.native.click()
    assert opened == [str(folder)] and (folder / "comparison-run1.png").is_file() and (folder / "comparison-run1.json").is_file()

    # Apply the model again (no training): a second folder, nothing of the first overwritten.
    first = {p.name: p.stat().st_mtime_ns for p in folder.iterdir() if p.is_file()}
    widget.apply_model()
    wait_done(qtbot, widget)
    assert len(list(tmp_path.iterdir())) == 2
    assert {p.name: p.stat().st_mtime_ns for p in folder.iterdir() if p.is_file()} == first
    assert widget.run.progress.format().startswith("run 2: applied")
    (applied,) = set(tmp_path.iterdir()) - {folder}
    # The model applied is kept beside its results (run.json named it "run 1" only, which every napari
    # session has), and run.json names the layers and their files, as the CLI's does (a new user's finding).
    assert "(with model.pt, the model applied)" in widget.message.text()
    kept, trained = load_model(applied / "model.pt"), load_model(folder / "model.pt")  # the model of run 1
    assert kept.config == trained.config and kept.steps_trained == trained.steps_trained
    assert all(torch.equal(a, b) for a, b in zip(kept.network.state_dict().values(), trained.network.state_dict().values()))
    said = json.loads((applied / "run.json").read_text())
    assert said["applied_model"] == "run 1" and "pixel_spacing" in said  # added to what the dock records
    assert said["outputs"][0] == "model.pt"
    assert said["input_layers"] == {"xray": xray.name, "rgb": widget.inputs.photo.value.name, "region": widget.inputs.region.value.name}
    assert said["inputs"]["xray"] is None and said["input_files"] == {}  # a sample's layers have no file
    # a loaded model's run.json names its file
    saved = widget.results.save_model_to(tmp_path.parent / "kept.pt")
    widget.results.load_model_from(saved)
    widget.apply_model()
    wait_done(qtbot, widget)
    (third,) = set(tmp_path.iterdir()) - {folder, applied}
    assert json.loads((third / "run.json").read_text())["applied_model"] == str(saved.resolve())
    widget.close()


def test_widget_trains_the_colour_map_on_the_central_area_without_a_region(make_napari_viewer, qtbot, tmp_path, monkeypatch):
    from napari_xraysep.plugin import worker

    monkeypatch.setattr(areas, "LARGE_IMAGE_PIXELS", 1000)
    monkeypatch.setattr(areas, "CENTRAL_AREA", 128)
    monkeypatch.setattr(pyramid, "PYRAMID_SMALLEST", 64)
    monkeypatch.setattr(worker, "results_root", lambda: tmp_path)
    viewer = make_napari_viewer()
    widget = dock(viewer, "concealed_portrait", steps=100_000)
    widget.inputs.region.value = None
    widget.train()
    qtbot.waitUntil(lambda: widget.run.progress.value() >= 1, timeout=60_000)
    widget.stop()  # during training: the area's layers are shown, placed where the area is
    wait_done(qtbot, widget)
    x2 = next(l for l in viewer.layers if l.metadata.get("xraysep", {}).get("layer") == "x2")
    assert x2.data.shape == (128, 128) and np.allclose(x2.translate, (128 - 64, 192 - 64))
    assert "Stopped before the whole painting" in widget.message.text()
    widget.close()


def test_lazy_dask_sources_give_the_same_painting(tiny_mixture, model, tmp_path):
    import dask.array as da

    eager, lazy = tmp_path / "eager", tmp_path / "lazy"
    eager.mkdir(), lazy.mkdir()
    _, from_numpy = drain(iter_separate_painting(Sources(tiny_mixture.x_mixed, tiny_mixture.rgb_surface), eager, model=model, steps=0, device="cpu"))
    x, rgb = da.from_array(tiny_mixture.x_mixed, chunks=16), da.from_array(tiny_mixture.rgb_surface, chunks=(16, 16, 3))
    _, from_dask = drain(iter_separate_painting(Sources(x, rgb), lazy, model=model, steps=0, device="cpu"))
    assert from_numpy.area_result is None and from_dask.area_result is None  # only applied
    for name in RESULT_LAYERS:
        np.testing.assert_array_equal(tifffile.imread(from_dask.paths[name]), tifffile.imread(from_numpy.paths[name]))


def test_widget_says_so_when_the_results_folder_cannot_be_made(make_napari_viewer, tmp_path, monkeypatch):
    from napari_xraysep.plugin import worker

    monkeypatch.setattr(areas, "LARGE_IMAGE_PIXELS", 1000)
    (tmp_path / "a-file").write_text("")
    monkeypatch.setattr(worker, "results_root", lambda: tmp_path / "a-file" / "napari-xraysep")
    widget = dock(make_napari_viewer(), "concealed_portrait")
    assert widget.train() is None and widget.worker is None and widget.status.state.value == "idle"
    assert "Cannot make a results folder" in widget.message.text()
    widget.close()


def test_a_config_with_no_steps_only_applies_the_model(tiny_mixture, model, tmp_path):
    from napari_xraysep import SeparationConfig

    config = SeparationConfig.autoencoder(steps=0, device="cpu", warm_start=False, channels=TINY["channels"])
    events, result = drain(iter_separate_painting(Sources(tiny_mixture.x_mixed, tiny_mixture.rgb_surface), tmp_path, config=config, model=model))
    assert all(isinstance(event, TileProgress) for event in events) and result.area_result is None
    # Nothing trained: the model applied is kept beside its results, which can be traced to it.
    assert result.model is model and load_model(tmp_path / "model.pt").steps_trained == model.steps_trained
    assert set(json.loads((tmp_path / "run.json").read_text())["timings_s"]) == {"apply_s", "total_s"}


def test_cli_separate_on_a_large_image_trains_on_the_area_and_applies_tile_by_tile(tiny_mixture, tmp_path, monkeypatch, capsys):
    import json

    from napari_xraysep.cli import main

    monkeypatch.setattr(areas, "LARGE_IMAGE_PIXELS", 1000)  # 48×64 counts as a whole painting
    monkeypatch.setattr(areas, "AREA_MARGIN", 4)
    xray, rgb = tmp_path / "x.tif", tmp_path / "rgb.tif"
    tifffile.imwrite(xray, tiny_mixture.x_mixed, tile=(16, 16), compression="zlib")
    tifffile.imwrite(rgb, (tiny_mixture.rgb_surface * 255).astype(np.uint8), photometric="rgb", compression="lzw")
    quick = ["--device", "cpu", "--quiet", "--set", "clusters=4", "--steps", "2", "--set", "tile_size=24"]
    assert main(["separate", str(xray), str(rgb), "--region", "16,20,30,40", "--out", str(tmp_path / "big"), *quick]) == 0
    record = json.loads((tmp_path / "big" / "run.json").read_text())
    assert record["training_area"] == [[2, 44], [0, 60]] and record["shape"] == [48, 64]
    timings = record["timings_s"]  # the total only, before
    assert set(timings) == {"train_s", "apply_s", "total_s"} and timings["train_s"] + timings["apply_s"] <= timings["total_s"]
    assert sorted(p.name for p in (tmp_path / "big").iterdir()) == sorted([f"{n}.tif" for n in RESULT_LAYERS] + ["model.pt", "run.json"])
    # the whole painting is the saved model applied everywhere, as `xraysep apply` does it
    assert main(["apply", str(tmp_path / "big" / "model.pt"), str(xray), str(rgb), "--out", str(tmp_path / "applied"), "--quiet"]) == 0
    for name in RESULT_LAYERS:
        np.testing.assert_allclose(tifffile.imread(tmp_path / "big" / f"{name}.tif"), tifffile.imread(tmp_path / "applied" / f"{name}.tif"), atol=1e-5, err_msg=name)
    # without a region, the colour map trains on the central area
    monkeypatch.setattr(areas, "CENTRAL_AREA", 32)
    assert main(["separate", str(xray), str(rgb), "--out", str(tmp_path / "central"), *quick]) == 0
    assert json.loads((tmp_path / "central" / "run.json").read_text())["training_area"] == [[8, 40], [16, 48]]


def test_a_whole_painting_keeps_its_results_where_the_painting_is_found_and_says_so(tmp_path):
    # Trained on the area, applied to the whole frame: outside the painting found in the whole X-ray and
    # photograph the results are empty, as in memory (they held the backdrop's "separation" before).
    from napari_xraysep.datasets.synthetic_real import make_real_variant

    variant = make_real_variant("photo_coffee_over_astronaut", "backdrop", 0)
    sources = Sources(variant.x_stored, variant.rgb_stored)
    _, result = drain(iter_separate_painting(sources, tmp_path / "found", device="cpu", pyramid=False))
    x2 = tifffile.imread(result.paths["x2"])
    inside = np.isfinite(x2)
    assert (inside & variant.painting).sum() / (inside | variant.painting).sum() > 0.95
    assert result.notes()[0].startswith("Painting found at rows")
    assert result.provenance()["painting_found"]["fraction"] == pytest.approx(inside.mean(), abs=0.01)
    # The whole frame when the user says so, or when the model was made not to seek it.
    _, full = drain(iter_separate_painting(sources, tmp_path / "full", model=result.model, steps=0, device="cpu",
                                           pyramid=False, painting_area="full"))
    assert np.isfinite(tifffile.imread(full.paths["x2"])).mean() > 0.98 and full.provenance()["painting_found"] is None
    _, unsought = drain(
        iter_separate_painting(sources, tmp_path / "off", device="cpu", pyramid=False, detect_support=False)
    )
    assert np.isfinite(tifffile.imread(unsought.paths["x2"])).mean() > 0.98
    assert not any(note.startswith("Painting found") for note in unsought.notes())
    # A box given: said, and recorded, in the painting's pixels (a new user's was "the whole frame", or
    # the training area's rows).
    top, left, height, width = variant.box
    box = (top, left, top + height, left + width)
    _, given = drain(iter_separate_painting(sources, tmp_path / "given", model=result.model, steps=0, device="cpu",
                                            pyramid=False, painting_area=box))
    share = height * width / variant.painting.size
    rows, columns = f"{top}–{top + height - 1}", f"{left}–{left + width - 1}"
    assert given.notes()[0] == (
        f"Painting given at rows {rows}, columns {columns} ({100 * share:.0f} % of the frame); "
        "outside it the results are empty."
    )
    record = json.loads((tmp_path / "given" / "run.json").read_text())
    assert record["painting_support"] == {
        "source": "given", "rows": [top, top + height - 1], "columns": [left, left + width - 1],
        "fraction": pytest.approx(share), "full_frame": False,
    }
