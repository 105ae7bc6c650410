"""Bad input through every face: the API raises the project's own error with a clear sentence, the CLI
prints one line and exits with status 2, the widget shows a message — never a traceback.

Each case is built once as arrays or files and run through the faces it applies to.
"""

from __future__ import annotations

import errno
import pickle
import warnings
import zipfile
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pytest
import tifffile
import torch
from conftest import dock, wait_done

from napari_xraysep import XraySepError, load_model, save_model, separate
from napari_xraysep.cli import main
from napari_xraysep.core import TrainingFailed, region_from_boxes
from napari_xraysep.io import checkpoint_to, read_image, write_results
from napari_xraysep.plugin.reader import napari_get_reader

H, W = 48, 64
# The default method (the colour map), small; the auto-encoder's settings are there for the cases
# that switch to it, and ignored by the colour map.
TINY = {
    "clusters": 4, "warm_start": False, "channels": 4, "crop_size": 32, "batch_size": 2, "steps": 1, "device": "cpu",
    "tile_size": 40,
}
TINY_CLI = [
    "--steps", "1", "--device", "cpu", "--quiet", "--set", "clusters=4", "--set", "channels=4", "--no-warm-start",
    "--set", "crop_size=32", "--set", "batch_size=2",
]
METHODS = ("colour_map", "autoencoder")


def _rng() -> np.random.Generator:
    return np.random.default_rng(7)


def _xray() -> np.ndarray:
    return _rng().random((H, W)).astype(np.float32)


def _rgb() -> np.ndarray:
    return _rng().random((H, W, 3)).astype(np.float32)


def _region() -> np.ndarray:
    mask = np.zeros((H, W), bool)
    mask[10:30, 10:40] = True
    return mask


@dataclass
class Case:
    """Arrays for the three faces. ``expected`` is a fragment of the message (None: must succeed);
    ``widget_expected`` where the widget words it differently (its pickers refuse some layers)."""

    name: str
    expected: str | None
    x: np.ndarray = field(default_factory=_xray)
    rgb: np.ndarray = field(default_factory=_rgb)
    region: np.ndarray | None = field(default_factory=_region)
    boxes: list[list[float]] | None = None  # a region given as rectangles instead
    settings: dict = field(default_factory=dict)
    back: np.ndarray | None = None
    widget_expected: str | None = "same"
    faces: tuple[str, ...] = ("api", "cli", "widget")
    file_expected: str | None = "same"  # where the CLI's files word it differently (the reader refuses first)

    @property
    def for_widget(self) -> str | None:
        return self.expected if self.widget_expected == "same" else self.widget_expected

    @property
    def for_files(self) -> str | None:
        return self.expected if self.file_expected == "same" else self.file_expected


def _with(array: np.ndarray, index: tuple, value: float) -> np.ndarray:
    array = array.copy()
    array[index] = value
    return array


ARRAY_CASES = [
    Case("xray is RGB", "looks like a colour image", x=_rgb(), widget_expected="exported as RGB is not offered"),
    Case("xray is 3-D", "must be a 2-D grayscale image", x=_rng().random((4, H, W)), widget_expected="Choose the mixed X-ray",
         file_expected="holds 4 images, not one"),
    Case("rgb is grayscale", "is grayscale", rgb=_xray(), widget_expected="Choose the photograph"),
    Case("rgb has 5 channels", "must be H×W×3", rgb=_rng().random((H, W, 5)), widget_expected="Choose the photograph",
         file_expected="holds 48 images, not one"),  # tifffile writes it as 48 pages of 64×5
    Case("sizes differ", "must be registered", rgb=_rng().random((H, W + 8, 3))),
    Case("1-pixel-high image", "smaller than", x=np.array([[0.0, 1.0]]), rgb=_rng().random((1, 2, 3)), region=np.ones((1, 2), bool)),
    Case("smaller than a crop", "smaller than", x=_rng().random((12, 12)), rgb=_rng().random((12, 12, 3)), region=np.ones((12, 12), bool)),
    # missing pixels: NaN in every result; refused only where they leave nothing to work with
    Case("NaN in the xray", None, x=_with(_xray(), (3, 4), np.nan)),
    Case("Inf in the rgb", None, rgb=_with(_rgb(), (3, 4, 1), np.inf)),
    # over missing pixels: the colour map runs as without a region (and says so), the auto-encoder refuses
    Case("NaN over the region", None, x=_with(_xray(), (slice(8, 30), slice(10, 50)), np.nan)),
    Case("NaN over the region, auto-encoder", "region holds only missing pixels", x=_with(_xray(), (slice(8, 30), slice(10, 50)), np.nan),
         settings={"method": "autoencoder"}, faces=("api", "cli")),
    Case("every pixel NaN", "NaN or infinite", x=np.full((H, W), np.nan, np.float32), faces=("api", "cli")),
    Case("constant xray", "is constant", x=np.full((H, W), 7.0, np.float32)),
    Case("complex pixels", "pixel type", x=_xray().astype(np.complex64), faces=("api", "cli")),
    Case("uint16 full range", None, x=(_xray() * 65535).astype(np.uint16)),
    Case("float far outside [0, 1]", None, x=_xray() * 6000 - 1000),
    Case("8-bit rgb, 16-bit xray", None, x=(_xray() * 4000).astype(np.uint16), rgb=(_rgb() * 255).astype(np.uint8)),
    # the colour map runs as without a region (and says so); the auto-encoder needs it, and says why in its terms
    Case("empty region", None, region=np.zeros((H, W), bool)),
    Case("empty region, auto-encoder", "labeled surface X-ray", region=np.zeros((H, W), bool), settings={"method": "autoencoder"},
         faces=("api", "cli")),
    Case("region partly outside", None, region=None, boxes=[[-10, -10, 20, 30]]),
    Case("region wholly outside", "wholly outside", region=None, boxes=[[100, 100, 120, 130]], widget_expected=None),
    Case("region is the whole image", None, region=np.ones((H, W), bool)),
    Case("degenerate region", "is empty", region=None, boxes=[[10, 10, 10, 40]], widget_expected=None),
    Case("region mask of another size", "region mask is", region=np.ones((H, W + 1), bool), faces=("api", "cli")),
    Case("negative learning rate", "learning_rate must be positive", settings={"learning_rate": -1.0}),
    Case("unknown setting", "Unknown setting", settings={"warp_speed": 9}, faces=("api", "cli")),
    Case("absent GPU", "no CUDA GPU", settings={"device": "cuda"}),
    Case("back side of another size", "back side RGB is", back=_rng().random((H, W - 1, 3))),
]


def _region_for_api(case: Case) -> np.ndarray | None:
    if case.boxes is None:
        return case.region
    return region_from_boxes(case.boxes, case.x.shape[:2])


def _needs_cuda_absent(case: Case) -> None:
    if case.settings.get("device") == "cuda" and torch.cuda.is_available():
        pytest.skip("a CUDA GPU is present")


def _cases(face: str) -> list:
    return [pytest.param(c, id=c.name) for c in ARRAY_CASES if face in c.faces]


@pytest.mark.parametrize("case", _cases("api"))
def test_api(case):
    _needs_cuda_absent(case)
    settings = {**TINY, **case.settings}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)  # the warning cases are checked in the CLI face
        if case.expected is None:
            result = separate(case.x, case.rgb, _region_for_api(case), rgb_back=case.back, **settings)
            total = result.x1.astype(np.float64) + result.x2 + result.weave
            missing = ~(np.isfinite(case.x) & np.isfinite(case.rgb).all(axis=-1))
            assert np.isnan(total[missing]).all() and np.isfinite(total[~missing]).all()
            np.testing.assert_allclose(total[~missing], case.x[~missing], rtol=1e-5, atol=1e-5 * np.ptp(case.x[~missing]))
            return
        with pytest.raises(XraySepError, match=case.expected):
            separate(case.x, case.rgb, _region_for_api(case), rgb_back=case.back, **settings)


def _cli_args(case: Case, folder: Path) -> list[str]:
    paths = {}
    for name, array in (("x", case.x), ("rgb", case.rgb), ("back", case.back), ("mask", case.region)):
        if array is not None:
            paths[name] = folder / f"{name}.tif"
            photometric = "rgb" if array.ndim == 3 and array.shape[-1] == 3 else "minisblack"
            tifffile.imwrite(paths[name], array.astype(np.uint8) if array.dtype == bool else array, photometric=photometric)
    args = ["separate", str(paths["x"]), str(paths["rgb"]), "--out", str(folder / "out"), *TINY_CLI]
    settings = dict(case.settings)
    if "device" in settings:  # the named option, which wins over --set
        args += ["--device", settings.pop("device")]
    if case.boxes is not None:
        args += [f"--region={','.join(map(str, box))}" for box in case.boxes]
    elif "mask" in paths:
        args += ["--region-mask", str(paths["mask"])]
    if "back" in paths:
        args += ["--rgb-back", str(paths["back"])]
    for name, value in settings.items():
        args += ["--set", f"{name}={value}"]
    return args


def _one_error_line(capsys) -> str:
    err = capsys.readouterr().err.strip().splitlines()
    assert err, "no message"
    assert "Traceback" not in "\n".join(err)
    assert err[-1].startswith("xraysep: error: ")
    return err[-1]


@pytest.mark.parametrize("case", _cases("cli"))
def test_cli(case, tmp_path, capsys):
    _needs_cuda_absent(case)
    code = main(_cli_args(case, tmp_path))
    if case.expected is None:
        assert code == 0, capsys.readouterr().err
        assert (tmp_path / "out" / "x2.tif").is_file()
        return
    assert code == 2
    assert case.for_files in _one_error_line(capsys)


def _region_layer(viewer, case: Case):
    if case.boxes is not None:
        rectangles = [np.array([[y0, x0], [y0, x1], [y1, x1], [y1, x0]], float) for y0, x0, y1, x1 in case.boxes]
        return viewer.add_shapes(rectangles, shape_type="polygon", name="region")
    return viewer.add_labels(case.region.astype(np.uint8), name="region")


@pytest.mark.parametrize("case", _cases("widget"))
def test_widget(case, make_napari_viewer, qtbot):
    _needs_cuda_absent(case)
    viewer = make_napari_viewer()
    # a learning rate is the auto-encoder's setting: the widget shows it only for that preset
    widget = dock(viewer, preset="autoencoder" if "learning_rate" in case.settings else "default", steps=1, clusters=4)
    widget.separation.device.choices = ["auto", "cpu", "cuda"]
    xray = viewer.add_image(case.x, name="xray")
    rgb = viewer.add_image(case.rgb, name="rgb", rgb=case.rgb.ndim == 3 and case.rgb.shape[-1] == 3)
    region = _region_layer(viewer, case)
    widget.inputs.xray.value = xray if xray in widget.inputs.xray.choices else None
    widget.inputs.photo.value = rgb if rgb in widget.inputs.photo.choices else None
    widget.inputs.region.value = region
    if case.back is not None:
        widget.inputs.back.value = viewer.add_image(case.back, name="back", rgb=True)
    widget.separation.device.value = case.settings.get("device", "cpu")
    if "learning_rate" in case.settings:
        widget.separation.learning_rate.value = str(case.settings["learning_rate"])
    with qtbot.capture_exceptions() as exceptions, warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)
        worker = widget.train()
        if worker is not None:
            wait_done(qtbot, widget)
    assert not exceptions, exceptions
    runs = [l for l in viewer.layers if l.metadata.get("xraysep", {}).get("run") == 1]
    if case.for_widget is None:
        assert len(runs) == 6, widget.message.text()
    else:
        assert not runs and case.for_widget in widget.message.text()


# ------------------------------------------------------------------------------------- files


def _truncated(folder: Path, compression: str | None = None) -> Path:
    """A TIFF cut in half, as a file still being copied is."""
    path = folder / f"truncated-{compression}.tif"
    tifffile.imwrite(path, np.arange(100 * 120, dtype=np.uint16).reshape(100, 120), compression=compression)
    data = path.read_bytes()
    path.write_bytes(data[: len(data) // 2])
    return path


FILE_CASES = {
    "missing file": (lambda folder: folder / "absent.tif", "does not exist"),
    "not a TIFF": (lambda folder: _write(folder / "garbage.tif", b"II*\x00garbage"), "Cannot read"),
    "empty file": (lambda folder: _write(folder / "empty.tif", b""), "Cannot read"),
    "truncated TIFF": (_truncated, "but its image data reach byte"),
    "truncated LZW TIFF": (lambda folder: _truncated(folder, "lzw"), "but its image data reach byte"),
}


def _write(path: Path, data: bytes) -> Path:
    path.write_bytes(data)
    return path


@pytest.mark.parametrize("name", FILE_CASES)
def test_unreadable_images_in_every_face(name, tmp_path, capsys):
    make, expected = FILE_CASES[name]
    bad = make(tmp_path)
    with pytest.raises(XraySepError, match=expected):  # API
        read_image(bad)
    good = tmp_path / "rgb.tif"
    tifffile.imwrite(good, (_rgb() * 255).astype(np.uint8), photometric="rgb")
    assert main(["separate", str(bad), str(good), "--region=0,0,10,10", "--out", str(tmp_path / "out"), *TINY_CLI]) == 2
    assert expected in _one_error_line(capsys)
    if bad.exists():  # napari's reader: a ValueError with the reason, which napari shows as a notification
        with pytest.raises(ValueError, match=f"napari-xraysep cannot read {bad.name}"):
            napari_get_reader(str(bad))(str(bad))


# ------------------------------------------------------------------------------------- model files


def _tiny_model(folder: Path, method: str = "colour_map") -> Path:
    result = separate(_xray(), _rgb(), _region(), **{**TINY, "method": method})
    return save_model(result.model, folder / f"{method}.pt")


def _other_version(folder: Path) -> Path:
    data = torch.load(_tiny_model(folder), weights_only=True)
    data["format_version"] = 99
    path = folder / "future.pt"
    torch.save(data, path)
    return path


class _Exploit:
    def __reduce__(self):
        return (Path.touch, (Path(_Exploit.target),))


def _malicious(folder: Path) -> Path:
    _Exploit.target = str(folder / "pwned")
    path = folder / "evil.pt"
    torch.save({"format": "napari-xraysep-model", "payload": _Exploit()}, path)
    return path


def _foreign_zip(folder: Path) -> Path:
    path = folder / "archive.pt"
    with zipfile.ZipFile(path, "w") as archive:
        archive.writestr("readme.txt", "not a model")
    return path


MODEL_CASES: dict[str, tuple[Callable[[Path], Path], str]] = {
    "text file": (lambda folder: _write(folder / "notes.pt", b"just text"), "is not a napari-xraysep model file"),
    "pickle, not a zip": (lambda folder: _write(folder / "raw.pt", pickle.dumps({"a": 1})), "is not a napari-xraysep model file"),
    "another format version": (_other_version, "has model format 99"),
    "malicious pickle": (_malicious, "refused and not run"),
    "zip that is not a model": (_foreign_zip, "not a readable napari-xraysep model file"),
}


@pytest.mark.parametrize("name", MODEL_CASES)
def test_bad_model_files_in_every_face(name, tmp_path, capsys, make_napari_viewer):
    make, expected = MODEL_CASES[name]
    path = make(tmp_path)
    with pytest.raises(XraySepError, match=expected):
        load_model(path)
    x, rgb = tmp_path / "x.tif", tmp_path / "rgb.tif"
    tifffile.imwrite(x, _xray())
    tifffile.imwrite(rgb, _rgb(), photometric="rgb")
    assert main(["separate", str(x), str(rgb), "--model", str(path), "--steps", "0", "--out", str(tmp_path / "out"), "--quiet"]) == 2
    assert expected in _one_error_line(capsys)
    widget = dock(make_napari_viewer())
    assert widget.results.load_model_from(path) is None and expected in widget.message.text()
    assert widget.current_model is None and not widget.results.apply_button.enabled
    assert not (tmp_path / "pwned").exists()  # the payload never ran


def test_a_model_for_other_settings_cannot_be_continued_with_them(tmp_path, capsys):
    colour_map = _tiny_model(tmp_path)
    with pytest.raises(XraySepError, match="made by the colour_map method"):
        separate(_xray(), _rgb(), _region(), model=load_model(colour_map), **{**TINY, "method": "autoencoder"})
    path = _tiny_model(tmp_path, "autoencoder")
    with pytest.raises(XraySepError, match="architecture cannot change"):
        separate(_xray(), _rgb(), _region(), model=load_model(path), **{**TINY, "method": "autoencoder", "channels": 8})
    x, rgb, mask = tmp_path / "x.tif", tmp_path / "rgb.tif", tmp_path / "mask.tif"
    tifffile.imwrite(x, _xray())
    tifffile.imwrite(rgb, _rgb(), photometric="rgb")
    tifffile.imwrite(mask, _region().astype(np.uint8))
    args = ["separate", str(x), str(rgb), "--region-mask", str(mask), "--model", str(path), "--out", str(tmp_path / "o"), "--set", "channels=8", "--quiet"]
    assert main(args) == 2
    assert "architecture cannot change" in _one_error_line(capsys)


# ------------------------------------------------------------------------------------- output folder


def _inputs(folder: Path) -> list[str]:
    x, rgb = folder / "x.tif", folder / "rgb.tif"
    tifffile.imwrite(x, _xray())
    tifffile.imwrite(rgb, _rgb(), photometric="rgb")
    return ["separate", str(x), str(rgb), "--region=10,10,30,40", *TINY_CLI]


def test_out_that_exists_with_files_is_refused_and_kept(tmp_path, capsys):
    out = tmp_path / "out"
    out.mkdir()
    (out / "precious.tif").write_text("keep")
    assert main([*_inputs(tmp_path), "--out", str(out)]) == 2
    assert "is not empty" in _one_error_line(capsys) and (out / "precious.tif").read_text() == "keep"


def test_out_that_is_a_file_is_refused(tmp_path, capsys):
    (tmp_path / "out").write_text("a file")
    assert main([*_inputs(tmp_path), "--out", str(tmp_path / "out")]) == 2
    assert "is a file" in _one_error_line(capsys)


def test_out_that_cannot_be_created_is_refused_before_training(tmp_path, capsys):
    (tmp_path / "blocker").write_text("a file where a folder should be")
    assert main([*_inputs(tmp_path), "--out", str(tmp_path / "blocker" / "out")]) == 2
    assert "Cannot write to --out" in _one_error_line(capsys)


def test_disk_full_while_writing_results(tmp_path, capsys, monkeypatch):
    def full(*args, **kwargs):
        raise OSError(errno.ENOSPC, "No space left on device")

    args = _inputs(tmp_path)
    monkeypatch.setattr(tifffile, "imwrite", full)
    out = tmp_path / "out"
    assert main([*args, "--out", str(out)]) == 2
    assert "No space left on device" in _one_error_line(capsys)
    # The model went first and is whole; nothing half-written is left behind.
    assert load_model(out / "model.pt").steps_trained == 1
    assert sorted(p.name for p in out.iterdir()) == ["model.pt"]
    result = separate(_xray(), _rgb(), _region(), **TINY)
    (tmp_path / "out2").mkdir()
    with pytest.raises(XraySepError, match="No space left"):
        write_results(tmp_path / "out2", result)


# ------------------------------------------------------------------------------------- faults


def _out_of_memory_at(monkeypatch, failing_call: int) -> None:
    """Make the ``failing_call``-th optimisation step (an Adam step of the auto-encoder, a solve of
    the colour map) fail as a GPU out of memory would."""
    from napari_xraysep.core import autoencoder_fit, colourmap_fit

    def out_of_memory() -> None:
        raise RuntimeError("CUDA out of memory. Tried to allocate 2.00 GiB")

    real_step, real_fit = autoencoder_fit._optimisation_step, colourmap_fit.fit_colour_map
    calls = {"n": 0}

    def step(*args, **kwargs):
        calls["n"] += 1
        if calls["n"] == failing_call:
            out_of_memory()
        return real_step(*args, **kwargs)

    def fit(*args, **kwargs):
        for solve, progress in enumerate(real_fit(*args, **kwargs), 1):
            if solve == failing_call:
                out_of_memory()
            yield progress

    monkeypatch.setattr(autoencoder_fit, "_optimisation_step", step)
    monkeypatch.setattr(colourmap_fit, "fit_colour_map", fit)


@pytest.mark.parametrize("method", METHODS)
def test_out_of_memory_keeps_the_last_good_model_and_checkpoints_it(tmp_path, monkeypatch, method):
    _out_of_memory_at(monkeypatch, 4)
    checkpoint = tmp_path / "checkpoint.pt"
    with pytest.raises(TrainingFailed, match="ran out of memory at step 4") as failure:
        separate(_xray(), _rgb(), _region(), checkpoint=checkpoint_to(checkpoint), **{**TINY, "steps": 10, "method": method})
    model = failure.value.model
    assert model.steps_trained == 3 and len(model.loss_history) == 3
    assert f"saved in {checkpoint}" in str(failure.value)
    saved = load_model(checkpoint)
    assert saved.steps_trained == 3
    for name, value in saved.network.state_dict().items():
        torch.testing.assert_close(value, model.network.state_dict()[name])
    # the kept model is usable: apply it without training
    result = separate(_xray(), _rgb(), model=model, steps=0, device="cpu")
    assert result.x2.shape == (H, W)


@pytest.mark.parametrize("method", METHODS)
def test_checkpoints_are_written_while_training(tmp_path, method):
    checkpoint = tmp_path / "checkpoint.pt"
    separate(_xray(), _rgb(), _region(), checkpoint=checkpoint_to(checkpoint), checkpoint_every_s=0.0, **{**TINY, "steps": 3, "method": method})
    assert load_model(checkpoint).steps_trained == 3  # saved after every step with a zero interval
    assert [p.name for p in tmp_path.iterdir()] == ["checkpoint.pt"]  # no temporaries left


@pytest.mark.parametrize("method", METHODS)
def test_cli_out_of_memory_is_one_line_and_the_model_is_in_out(tmp_path, capsys, monkeypatch, method):
    args = [*_inputs(tmp_path), "--set", f"method={method}"]
    _out_of_memory_at(monkeypatch, 2)
    out = tmp_path / "out"
    assert main([*args[: args.index("--steps")], "--steps", "5", *args[args.index("--steps") + 2 :], "--out", str(out)]) == 2
    line = _one_error_line(capsys)
    assert "ran out of memory at step 2" in line and str(out / "model.pt") in line
    assert load_model(out / "model.pt").steps_trained == 1
    assert sorted(p.name for p in out.iterdir()) == ["model.pt"]


@pytest.mark.parametrize("preset", ["default", "autoencoder"])
def test_widget_out_of_memory_is_a_message_and_the_model_can_be_saved(make_napari_viewer, qtbot, tmp_path, monkeypatch, preset):
    from napari_xraysep.plugin import worker

    monkeypatch.setattr(worker, "checkpoint_folder", lambda: tmp_path / "checkpoints")
    widget = dock(make_napari_viewer(), "concealed_portrait", preset=preset, steps=6)
    _out_of_memory_at(monkeypatch, 3)
    with qtbot.capture_exceptions() as exceptions:
        widget.train()
        wait_done(qtbot, widget)
    assert not exceptions
    assert "ran out of memory at step 3" in widget.message.text() and "Save model" in widget.message.text()
    assert widget.status.state.value == "failed" and widget.run.progress.format() == "failed"  # not "refused"
    assert widget.current_model.steps_trained == 2 and widget.results.save_button.enabled and widget.results.apply_button.enabled
    assert widget.run.continue_button.enabled
    assert load_model(next((tmp_path / "checkpoints").iterdir())).steps_trained == 2  # also on disk
    assert widget.results.save_model_to(tmp_path / "kept.pt") is not None and "last good step" in widget.message.text()
    assert widget.results.save_model_to(tmp_path / "no-such-folder" / "kept.pt") is None
    assert "Cannot write" in widget.message.text()


def test_widget_removes_its_checkpoint_once_the_result_is_in(make_napari_viewer, qtbot, tmp_path, monkeypatch):
    from napari_xraysep.plugin import worker

    monkeypatch.setattr(worker, "checkpoint_folder", lambda: tmp_path)
    monkeypatch.setattr(worker, "CHECKPOINT_EVERY_S", 0.0)
    widget = dock(make_napari_viewer(), "concealed_portrait", steps=2)
    widget.train()
    wait_done(qtbot, widget)
    assert widget.current_model.steps_trained == 2 and not list(tmp_path.iterdir())
