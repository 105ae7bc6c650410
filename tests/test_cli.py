import contextlib
import json

import numpy as np
import pytest
import tifffile

from napari_xraysep.cli import main
from napari_xraysep.core import RESULT_LAYERS
from napari_xraysep.io import read_provenance

TINY_ARGS = ["--steps", "2", "--device", "cpu", "--quiet", "--set", "channels=4", "--no-warm-start", "--set", "crop-size=32", "--set", "batch_size=2"]


@pytest.fixture
def tiff_inputs(tiny_mixture, tmp_path):
    xray = tmp_path / "xray.tif"
    rgb = tmp_path / "rgb.tif"
    mask = tmp_path / "mask.tif"
    tifffile.imwrite(xray, (tiny_mixture.x_mixed / tiny_mixture.x_mixed.max() * 60000).astype(np.uint16))
    tifffile.imwrite(rgb, (tiny_mixture.rgb_surface * 255).astype(np.uint8))
    tifffile.imwrite(mask, tiny_mixture.region_mask.astype(np.uint8))
    return xray, rgb, mask


def test_separate_writes_every_result_with_provenance(tiff_inputs, tmp_path, capsys):
    xray, rgb, mask = tiff_inputs
    out = tmp_path / "out"
    assert main(["separate", str(xray), str(rgb), "--region-mask", str(mask), "--out", str(out), *TINY_ARGS]) == 0
    names = sorted(p.name for p in out.iterdir())
    assert names == sorted([f"{n}.tif" for n in RESULT_LAYERS] + ["model.pt", "run.json"])
    x = tifffile.imread(xray).astype(np.float64)
    x1, x2, weave = (tifffile.imread(out / f"{name}.tif") for name in ("x1", "x2", "weave"))
    assert x1.dtype == np.float32 and x1.shape == x.shape
    np.testing.assert_allclose(x1.astype(np.float64) + x2 + weave, x, atol=0.02)
    run = json.loads((out / "run.json").read_text())
    assert run["steps_trained"] == 2 and len(run["loss_history"]) == 2 and run["inputs"]["xray"] == str(xray)
    assert read_provenance(out / "x2.tif")["layer"] == "x2"


def test_separate_with_boxes_and_model_reuse(tiff_inputs, tmp_path):
    xray, rgb, _ = tiff_inputs
    first, second = tmp_path / "first", tmp_path / "second"
    assert main(["separate", str(xray), str(rgb), "--region", "5,5,30,40", "--region", "0,0,4,4", "--out", str(first), *TINY_ARGS]) == 0
    args = ["separate", str(xray), str(rgb), "--model", str(first / "model.pt"), "--out", str(second), "--steps", "0", "--quiet"]
    assert main(args) == 0
    np.testing.assert_allclose(tifffile.imread(second / "x2.tif"), tifffile.imread(first / "x2.tif"), atol=1e-3)


def _error_line(capsys):
    err = capsys.readouterr().err.strip().splitlines()
    assert err and err[-1].startswith("xraysep: error: ") and "Traceback" not in "\n".join(err)
    return err[-1]


def test_refuses_a_non_empty_output_folder_unless_overwrite(tiff_inputs, tmp_path, capsys):
    xray, rgb, mask = tiff_inputs
    out = tmp_path / "out"
    out.mkdir()
    (out / "keep.txt").write_text("precious")
    args = ["separate", str(xray), str(rgb), "--region-mask", str(mask), "--out", str(out), *TINY_ARGS]
    assert main(args) == 2
    assert "not empty" in _error_line(capsys)
    assert main([*args, "--overwrite"]) == 0
    assert (out / "keep.txt").read_text() == "precious" and (out / "x2.tif").exists()


def test_an_out_named_like_a_tiff_is_refused_as_a_results_folder(tiff_inputs, tmp_path, capsys):
    """`separate … --out result.tif` had made a folder named result.tif."""
    xray, rgb, _ = tiff_inputs
    assert main(["separate", str(xray), str(rgb), "--out", str(tmp_path / "result.tif"), *TINY_ARGS]) == 2
    assert "the folder the results go into" in _error_line(capsys) and not (tmp_path / "result.tif").exists()


def test_overwrite_never_replaces_an_input_of_the_run(tiff_inputs, tmp_path, capsys):
    """A tester's `separate x2.tif rgb.png --out . --overwrite` replaced the X-ray it read by its own x2
    (run.json still naming x2.tif as the input); `--model out/model.pt --out out` the model it continued;
    `align --out` the photograph it aligned."""
    xray, rgb, mask = tiff_inputs
    folder = tmp_path / "work"
    folder.mkdir()
    for name, source in (("x2.tif", xray), ("rgb.tif", rgb)):
        (folder / name).write_bytes(source.read_bytes())
    before = (folder / "x2.tif").read_bytes()
    args = ["separate", str(folder / "x2.tif"), str(folder / "rgb.tif"), "--out", str(folder), "--overwrite", *TINY_ARGS]
    assert main(args) == 2
    assert "holds" in (line := _error_line(capsys)) and "x2.tif" in line and "input" in line
    assert (folder / "x2.tif").read_bytes() == before and sorted(p.name for p in folder.iterdir()) == ["rgb.tif", "x2.tif"]
    # Through a link, or in a folder of --out that the set replaces: refused too.
    link = tmp_path / "scan.tif"
    link.symlink_to(folder / "x2.tif")
    assert main([*args[:1], str(link), *args[2:]]) == 2 and "scan.tif" in _error_line(capsys)
    (folder / "pyramid").mkdir()
    (folder / "pyramid" / "scan.tif").write_bytes(before)
    assert main([*args[:1], str(folder / "pyramid" / "scan.tif"), *args[2:]]) == 2 and "pyramid" in _error_line(capsys)
    assert (folder / "x2.tif").read_bytes() == before and (folder / "pyramid" / "scan.tif").exists()
    # An input of a name the set does not make is kept as the user's own file.
    out = tmp_path / "out"
    assert main(["separate", str(xray), str(rgb), "--region-mask", str(mask), "--out", str(out), *TINY_ARGS]) == 0
    model = (out / "model.pt").read_bytes()
    continued = ["separate", str(xray), str(rgb), "--model", str(out / "model.pt"), "--out", str(out), "--overwrite"]
    assert main([*continued, "--steps", "1", "--quiet"]) == 2
    assert "model.pt" in _error_line(capsys) and (out / "model.pt").read_bytes() == model
    # Applying a model kept in the folder replaces only the results (the model is not rewritten).
    assert main(["apply", str(out / "model.pt"), str(xray), str(rgb), "--out", str(out), "--overwrite", "--quiet"]) == 0
    assert (out / "model.pt").read_bytes() == model
    for target in (folder / "rgb.tif", folder / "x2.tif"):
        aligned = ["align", str(folder / "x2.tif"), str(folder / "rgb.tif"), "--out", str(target), "--overwrite"]
        assert main(aligned) == 2 and "this run reads" in _error_line(capsys)
    assert (folder / "x2.tif").read_bytes() == before


@pytest.mark.parametrize(
    ("make_args", "message"),
    [
        (lambda x, r, m, t: ["separate", str(t / "nope.tif"), str(r), "--region-mask", str(m)], "does not exist"),
        (lambda x, r, m, t: ["separate", str(r), str(r), "--region-mask", str(m)], "looks like a colour image"),
        (lambda x, r, m, t: ["separate", str(x), str(x), "--region-mask", str(m)], "grayscale"),
        (lambda x, r, m, t: ["separate", str(x), str(r), "--preset", "autoencoder"], "The auto-encoder needs the region"),
        (lambda x, r, m, t: ["separate", str(x), str(r), "--region", "900,900,950,950"], "wholly outside"),
        (lambda x, r, m, t: ["separate", str(x), str(r), "--region-mask", str(m), "--device", "cuda:7"], "cuda"),
        (lambda x, r, m, t: ["separate", str(x), str(r), "--region-mask", str(m), "--model", str(x)], "not a napari-xraysep model file"),
    ],
)
def test_user_mistakes_give_one_line_and_exit_2(tiff_inputs, tmp_path, capsys, make_args, message):
    xray, rgb, mask = tiff_inputs
    command, *rest = make_args(xray, rgb, mask, tmp_path)
    args = [command, *TINY_ARGS, "--out", str(tmp_path / "out"), *rest]  # the case's options come last and win
    assert main(args) == 2
    assert message in _error_line(capsys)


def test_the_default_method_needs_no_region_and_presets_choose_the_method(tiff_inputs, tmp_path):
    xray, rgb, mask = tiff_inputs
    assert main(["separate", str(xray), str(rgb), "--out", str(tmp_path / "plain"), *TINY_ARGS]) == 0
    assert json.loads((tmp_path / "plain" / "run.json").read_text())["settings"]["method"]["name"] == "colour_map"
    args = ["separate", str(xray), str(rgb), "--region-mask", str(mask), *TINY_ARGS, "--preset", "autoencoder"]
    assert main([*args, "--out", str(tmp_path / "cae")]) == 0
    settings = json.loads((tmp_path / "cae" / "run.json").read_text())["settings"]
    assert settings["method"]["name"] == "autoencoder" and settings["method"]["channels"] == 4  # --set wins over the preset
    assert not tifffile.imread(tmp_path / "cae" / "weave.tif").any()  # the auto-encoder leaves the weave in e


def test_output_path_that_is_a_file_is_refused_before_training(tiff_inputs, tmp_path, capsys):
    xray, rgb, mask = tiff_inputs
    target = tmp_path / "taken"
    target.write_text("")
    assert main(["separate", str(xray), str(rgb), "--region-mask", str(mask), "--out", str(target), *TINY_ARGS]) == 2
    assert "is a file" in _error_line(capsys)


def test_an_empty_region_mask_is_no_region_for_the_colour_map_and_said(tiff_inputs, tmp_path, capsys):
    xray, rgb, mask = tiff_inputs
    empty = tmp_path / "empty.tif"
    tifffile.imwrite(empty, np.zeros(tifffile.imread(mask).shape, np.uint8))
    args = ["separate", str(xray), str(rgb), "--region-mask", str(empty), "--steps", "2", "--device", "cpu", "--quiet"]
    assert main([*args, "--out", str(tmp_path / "o")]) == 0
    said = [line for line in capsys.readouterr().err.splitlines() if "selects no pixel" in line]
    assert len(said) == 1 and "the colour map needs none" in said[0]
    assert main([*args, "--preset", "autoencoder", "--set", "crop_size=32", "--out", str(tmp_path / "a")]) == 2
    assert "labeled surface X-ray" in _error_line(capsys)


def test_bad_region_syntax_is_an_argparse_error(tiff_inputs, tmp_path, capsys):
    xray, rgb, _ = tiff_inputs
    with pytest.raises(SystemExit) as exit_info:
        main(["separate", str(xray), str(rgb), "--region", "1,2,3", "--out", str(tmp_path / "o")])
    assert exit_info.value.code == 2
    assert "Y0,X0,Y1,X1" in capsys.readouterr().err


def test_progress_is_reported_on_stderr(tiff_inputs, tmp_path, capsys):
    xray, rgb, mask = tiff_inputs
    args = ["separate", str(xray), str(rgb), "--region-mask", str(mask), "--out", str(tmp_path / "o")]
    assert main([*args, "--steps", "3", "--device", "cpu", "--set", "channels=4", "--no-warm-start", "--set", "crop_size=32"]) == 0
    err = capsys.readouterr().err
    assert "step 3/3" in err and "ETA" in err


def test_demo_writes_results_montage_and_a_comparison(tmp_path, capsys):
    out = tmp_path / "demo"
    assert main(["demo", "--out", str(out), *TINY_ARGS]) == 0
    report = capsys.readouterr().out
    assert "least squares (linear), x2" in report and "x2 (refined)" in report
    assert (out / "montage.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    from PIL import Image

    from napari_xraysep.io.write import TITLE_BAND

    montage = np.asarray(Image.open(out / "montage.png"))
    assert montage.shape[0] == 2 * (TITLE_BAND + 256) + 4  # two rows of titled 256×384 panels
    assert (montage[:TITLE_BAND, :384] < 128).any()  # the first panel's title
    scores = json.loads((out / "scores.json").read_text())
    assert set(scores["x2 (refined)"]) == {"psnr", "ssim", "psnr_affine", "ssim_affine"}
    # the table prints the figures the README quotes, and only those: no raw PSNR beside them
    least_squares = scores["least squares (linear), x2"]
    row = next(line for line in report.splitlines() if line.startswith("least squares (linear), x2"))
    assert row.split()[-2:] == [f"{least_squares['psnr_affine']:.2f}", f"{least_squares['ssim_affine']:.3f}"]
    assert (out / "inputs" / "x_mixed.tif").exists() and (out / "x2.tif").exists()


def test_unknown_setting_is_a_user_error(tiff_inputs, tmp_path, capsys):
    xray, rgb, mask = tiff_inputs
    args = ["separate", str(xray), str(rgb), "--region-mask", str(mask), "--out", str(tmp_path / "o")]
    assert main([*args, "--set", "chanels=4"]) == 2
    assert "Unknown setting(s): chanels (did you mean channels?)." in _error_line(capsys)


# ----------------------------------------------------------------------------------- progress bar


def _training(step, total, elapsed):
    from napari_xraysep.core import TrainingProgress

    return TrainingProgress(step, total, {"total": 0.5 / step, "exclusion": 0.01}, elapsed, 0.0)


def test_progress_in_a_log_is_a_plain_line_every_ten_percent():
    import io

    from napari_xraysep.cli.terminal import ProgressBar

    log = io.StringIO()  # not a terminal
    with contextlib.closing(ProgressBar(log)) as bar:
        for step in range(1, 41):
            bar(_training(step, 40, elapsed=0.5 * step))
    lines = log.getvalue().splitlines()
    assert "\r" not in log.getvalue() and len(lines) == 11  # the first step, then steps 4, 8, …, 40
    assert lines[1] == "step 4/40 ETA 00:18, loss 0.1250 (exclusion 0.0100)"  # 36 steps to go at 0.5 s a step
    assert lines[-1].startswith("step 40/40 ETA 00:00")


def test_a_terminal_of_no_width_gets_the_plain_lines(monkeypatch):
    import io
    import os

    from napari_xraysep.cli import terminal
    from napari_xraysep.cli.terminal import ProgressBar

    class Pty(io.StringIO):
        def isatty(self):
            return True

        def fileno(self):
            return 99

    monkeypatch.setattr(os, "get_terminal_size", lambda fd: os.terminal_size((0, 0)))
    log = Pty()
    with contextlib.closing(ProgressBar(log)) as bar:
        for step in range(1, 13):
            bar(_training(step, 12, elapsed=0.5 * step))
    assert log.getvalue().splitlines()[-1].startswith("step 12/12 ETA 00:00")  # tqdm drew nothing at 0 columns
    monkeypatch.setattr(os, "get_terminal_size", lambda fd: os.terminal_size((120, 40)))
    assert ProgressBar(Pty()).interactive and not ProgressBar(io.StringIO()).interactive
    assert terminal._columns(io.StringIO()) is None  # no file descriptor: left to tqdm


def test_progress_in_a_log_counts_evenly():
    import io

    from napari_xraysep.cli.terminal import ProgressBar

    log = io.StringIO()  # the default's 12 steps printed 1, 2, 3, 4, 5, 6, 8, 9, 10, 11, 12 before
    with contextlib.closing(ProgressBar(log)) as bar:
        for step in range(1, 13):
            bar(_training(step, 12, elapsed=0.5 * step))
    steps = [int(line.split()[1].split("/")[0]) for line in log.getvalue().splitlines()]
    assert steps == [1, 2, 4, 6, 8, 10, 12]


def test_a_second_pass_over_the_tiles_is_counted_again_in_a_log():
    import io

    from napari_xraysep.cli.terminal import ProgressBar
    from napari_xraysep.core.streaming import TileProgress

    log = io.StringIO()  # a mosaic's whole painting: applied, its films found, applied again
    with contextlib.closing(ProgressBar(log)) as bar:
        for what in ("whole painting", "whole painting, films taken out"):
            for done in range(1, 4):
                bar(TileProgress(done, 3, elapsed_s=2.0 * done, what=what))
    lines = log.getvalue().splitlines()
    assert [line.split()[1] for line in lines] == ["1/3", "2/3", "3/3"] * 2
    assert all("films taken out" in line for line in lines[3:])


def test_a_second_fit_after_training_is_counted_in_steps_of_its_own():
    import io

    from napari_xraysep.cli.terminal import ProgressBar
    from napari_xraysep.core.streaming import TileProgress
    from napari_xraysep.core.training import TrainingProgress

    log = io.StringIO()  # trained, a stretcher found, the colour map fitted again without its bars
    with contextlib.closing(ProgressBar(log)) as bar:
        for step in range(1, 4):
            bar(TrainingProgress(step, 3, {"total": 0.5}, 1.0 * step, 3.0 - step))
        for step in range(1, 4):
            bar(TileProgress(step, 3, elapsed_s=1.0 * step, what="fitting again without the stretcher's bars", unit="step"))
    lines = log.getvalue().splitlines()
    assert [line.split()[:2] for line in lines] == [["step", f"{n}/3"] for n in (1, 2, 3)] * 2
    assert all("without the stretcher's bars" in line for line in lines[3:]) and "tile" not in log.getvalue()


def test_progress_on_a_terminal_is_one_line_redrawn_and_tiles_count_too():
    import io

    from napari_xraysep.cli.terminal import ProgressBar
    from napari_xraysep.core.streaming import TileProgress

    class Terminal(io.StringIO):
        def isatty(self):
            return True

    screen = Terminal()
    with contextlib.closing(ProgressBar(screen)) as bar:
        for done in range(1, 4):
            bar(TileProgress(done, 3, elapsed_s=2.0 * done))
    text = screen.getvalue()
    assert "\r" in text and text.count("\n") == 1  # redrawn in place, one line left at the end
    assert text.split("\r")[-1].startswith("tile 3/3 |") and "ETA 00:00" in text.split("\r")[-1]


def test_quiet_prints_no_progress(tiff_inputs, tmp_path, capsys):
    xray, rgb, mask = tiff_inputs
    args = ["separate", str(xray), str(rgb), "--region-mask", str(mask), "--out", str(tmp_path / "o")]
    assert main([*args, "--steps", "2", "--device", "cpu", "--set", "channels=4", "--no-warm-start", "--set", "crop_size=32", "--quiet"]) == 0
    assert "step" not in capsys.readouterr().err
    # The help says all it leaves out (a tester read "no progress bar" and lost the lines on what was found).
    from napari_xraysep.cli.parser import build_parser

    for command in ("separate", "apply"):
        with pytest.raises(SystemExit):
            build_parser().parse_args([command, "--help"])
        said = " ".join(capsys.readouterr().out.split())
        assert "no lines saying what was found or written (run.json records them" in said


def test_eta_shows_hours_once_there_are_any():
    from napari_xraysep.core.progress import clock

    assert clock(59.6) == "01:00" and clock(3725) == "1:02:05" and clock(-3) == "00:00"


def test_the_default_method_says_nothing_of_the_auto_encoders_label(tiff_inputs, tmp_path, capsys):
    xray, rgb, _ = tiff_inputs
    args = ["separate", str(xray), str(rgb), "--region", "0,0,48,64", "--out", str(tmp_path / "o")]
    assert main([*args, "--steps", "2", "--device", "cpu", "--quiet", "--set", "clusters=4"]) == 0
    err = capsys.readouterr().err
    assert "labeled" not in err and "covers the whole painting" not in err


@pytest.mark.parametrize(
    "refused",
    [
        ["--preset", "autoencoder"],  # no region
        ["--region", "100,100,120,120"],  # wholly outside the image
        ["--model", "missing.pt"],
    ],
)
def test_a_refused_separate_leaves_the_disk_as_it_was(tiff_inputs, tmp_path, capsys, refused):
    xray, rgb, _ = tiff_inputs
    out = tmp_path / "new" / "out"
    before = sorted(tmp_path.rglob("*"))
    assert main(["separate", str(xray), str(rgb), "--out", str(out), "--quiet", *refused]) == 2
    _error_line(capsys)
    assert sorted(tmp_path.rglob("*")) == before  # neither out nor its parent made


def test_apply_and_separate_write_files_as_the_umask_says(tiff_inputs, tmp_path):
    import os
    import stat

    xray, rgb, _ = tiff_inputs
    previous = os.umask(0o022)
    try:
        separated, applied = tmp_path / "separated", tmp_path / "applied"
        assert main(["separate", str(xray), str(rgb), "--out", str(separated), "--steps", "2", "--device", "cpu", "--quiet", "--set", "clusters=4"]) == 0
        assert main(["apply", str(separated / "model.pt"), str(xray), str(rgb), "--out", str(applied), "--quiet"]) == 0
    finally:
        os.umask(previous)
    modes = {path.relative_to(tmp_path).as_posix(): stat.S_IMODE(path.stat().st_mode) for path in tmp_path.glob("*ed/*")}
    assert set(modes.values()) == {0o644}, modes


def test_a_malformed_option_is_one_line_not_the_usage(tiff_inputs, tmp_path, capsys):
    xray, rgb, _ = tiff_inputs
    with pytest.raises(SystemExit) as exited:
        main(["separate", str(xray), str(rgb), "--out", str(tmp_path / "o"), "--region", "10,10,50"])
    err = capsys.readouterr().err.strip().splitlines()
    assert exited.value.code == 2 and len(err) == 1, err
    assert err[0].startswith("xraysep: error: argument --region") and "Y0,X0,Y1,X1" in err[0]
    assert not (tmp_path / "o").exists()


def test_help_offers_only_what_each_command_has(capsys):
    with pytest.raises(SystemExit):
        main(["demo", "--help"])
    assert "--model" not in capsys.readouterr().out  # demo has none
    with pytest.raises(SystemExit):
        main(["separate", "--help"])
    assert "0: only apply --model" in capsys.readouterr().out


def test_help_answers_without_the_science():
    import subprocess
    import sys

    from napari_xraysep.cli.parser import MAX_PAIR_ERROR_PX
    from napari_xraysep.core.pointpairs import MAX_PAIR_ERROR_PX as REGISTRATION_DEFAULT

    assert MAX_PAIR_ERROR_PX == REGISTRATION_DEFAULT  # the help's default is the registration's
    code = (
        "import sys\nfrom napari_xraysep.cli import main\n"
        "try:\n    main(['separate', '--help'])\nexcept SystemExit:\n    pass\n"
        "print(sorted({m.split('.')[0] for m in sys.modules} & {'torch', 'napari', 'scipy', 'skimage', 'tifffile'}))"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120, check=True)
    assert done.stdout.strip().splitlines()[-1] == "[]"  # was ~6 s with torch and scikit-image


def test_the_terminal_says_when_training_is_done_and_the_model_is_being_applied(capsys):
    """Applying the model has no steps to count (the paper's patch averaging takes long on a large
    image): after the last step the terminal says it is under way, not nothing."""
    import threading

    from napari_xraysep.cli.terminal import run_in_terminal
    from napari_xraysep.pipeline import AlignmentNote

    def run():
        yield AlignmentNote("")
        for step in (1, 2):
            yield _training(step, 2, elapsed=0.1 * step)
        return "result"

    assert run_in_terminal(run(), threading.Event(), quiet=False) == "result"
    err = capsys.readouterr().err
    assert err.count("training done; applying the model to the image") == 1
    assert err.index("step 2/2") < err.index("applying the model")
    assert run_in_terminal(run(), threading.Event(), quiet=True) == "result"
    assert "applying" not in capsys.readouterr().err


def test_a_negative_box_after_an_option_and_an_unknown_painting_area_word_are_understood(capsys):
    from napari_xraysep.cli.parser import joined_negative_lists

    assert joined_negative_lists(["apply", "m", "--painting-area", "-5,-5,100,100", "--out", "o"]) == [
        "apply", "m", "--painting-area=-5,-5,100,100", "--out", "o"
    ]
    assert joined_negative_lists(["--region", "-3,4,50,60", "--tile", "-5"]) == ["--region=-3,4,50,60", "--tile", "-5"]
    with pytest.raises(SystemExit):
        main(["apply", "m.pt", "x.tif", "rgb.tif", "--out", "o", "--painting-area", "auto"])
    said = capsys.readouterr().err
    assert "expected Y0,X0,Y1,X1 in pixels, a mask file or full; got 'auto'" in said


def test_the_marked_line_says_what_was_done_to_what_was_found():
    from napari_xraysep.core.result import defects_line

    fitted = defects_line({"clipped_pixels": 0, "hot_dead_pixels": 5, "scratches": 2})
    assert fitted == (
        "Marked 5 hot/dead pixels, 2 scratches — left out of the fit; the hot/dead pixels and scratches are repaired "
        "from their neighbours; a thin straight line of the hidden design can pass for a scratch, a lone speck of "
        "dense paint for a hot pixel (mark_defects=false keeps all)."
    )
    # A tester's clean file had 2-5 genuine specks repaired, by up to 15 %, with nothing to say so.
    points = defects_line({"clipped_pixels": 46, "clipped_fraction": 46 / 98304, "hot_dead_pixels": 2})
    assert points == (
        "Marked 46 clipped pixels (0.047 %) at the detector's limit, 2 hot/dead pixels — left out of the fit; the "
        "clipped pixels are empty in the results; the hot/dead pixels are repaired from their neighbours; a lone "
        "speck of dense paint can pass for a hot pixel (mark_defects=false keeps all)."
    )
    applied = defects_line({"clipped_pixels": 3, "hot_dead_pixels": 0, "scratch_pixels": 40}, fitted=False)
    assert applied == (
        "Marked 3 clipped pixels at the detector's limit, 40 pixels of scratches — the clipped pixels are empty in the "
        "results; the scratches are repaired from their neighbours; a thin straight line of the hidden design can pass "
        "for a scratch (mark_defects=false keeps all)."
    )
    assert defects_line({"clipped_pixels": 0}) is None


def test_a_first_ctrl_c_is_said_and_a_second_that_nothing_changed(tiff_inputs, tmp_path, capsys, monkeypatch):
    from napari_xraysep.cli import commands
    from napari_xraysep.core.progress import drive

    from napari_xraysep.core.training import TrainingProgress

    def stopped_at_once(steps, stop, quiet, what=None):  # a first Ctrl-C during the first step
        return drive(steps, lambda event: stop.set() if isinstance(event, TrainingProgress) else None)

    monkeypatch.setattr(commands, "run_in_terminal", stopped_at_once)
    xray, rgb, _ = tiff_inputs
    assert main(["separate", str(xray), str(rgb), "--out", str(tmp_path / "out"), "--steps", "50"]) == 0
    err = capsys.readouterr().err
    assert "xraysep: stopped early: the model after 1 step(s) was applied." in err and "Wrote" in err
    assert json.loads((tmp_path / "out" / "run.json").read_text())["stopped_early"] is True

    def interrupted(args):
        raise KeyboardInterrupt

    monkeypatch.setattr(commands, "command_separate", interrupted)
    assert main(["separate", str(xray), str(rgb), "--out", str(tmp_path / "again")]) == 130
    assert "xraysep: interrupted; no result was changed." in capsys.readouterr().err


def test_a_region_given_with_a_back_photograph_is_said_unused(tiff_inputs, tmp_path, capsys):
    xray, rgb, _ = tiff_inputs
    back = tmp_path / "back.tif"
    tifffile.imwrite(back, tifffile.imread(rgb)[:, ::-1])
    args = ["separate", str(xray), str(rgb), "--rgb-back", str(back), "--region", "2,2,20,20", "--steps", "1"]
    assert main([*args, "--out", str(tmp_path / "out"), "--quiet"]) == 0
    assert "A double-sided panel needs no region: --region/--region-mask is not used." in capsys.readouterr().err


def test_a_region_the_colour_map_does_not_use_is_said_unused(tiff_inputs, tmp_path, capsys):
    """A new user's finding: a region drawn with care gave an x2 identical to none, without a word (the
    colour map uses it only with region_weight below 1)."""
    xray, rgb, mask = tiff_inputs
    out = str(tmp_path / "a")
    assert main(["separate", str(xray), str(rgb), "--region", "2,2,20,20", "--out", out, "--quiet"]) == 0
    assert "--region/--region-mask is recorded but not used; --set region_weight=0.3" in capsys.readouterr().err
    model = str(tmp_path / "a" / "model.pt")
    unused = (
        ["--set", "region_weight=0.5"], ["--preset", "autoencoder", "--steps", "1"], ["--model", model, "--steps", "0"]
    )
    for used in unused:
        assert main(["separate", str(xray), str(rgb), "--region-mask", str(mask), *used, "--out", str(tmp_path / "b"),
                     "--overwrite", "--quiet"]) == 0
        assert "not used" not in capsys.readouterr().err


def test_apply_says_a_photograph_of_another_size_in_one_line(tmp_path, capsys):
    """A tester's finding: `apply` with the photograph as delivered (another size than the X-ray) ended
    in a traceback from the painting's search; `separate` says it in one line and points to `align`."""
    from napari_xraysep.datasets.synthetic_real import make_real_variant

    variant = make_real_variant("photo_coffee_over_astronaut", "backdrop", 0, (96, 144))
    xray, rgb, finer = tmp_path / "x.tif", tmp_path / "rgb.tif", tmp_path / "finer.tif"
    tifffile.imwrite(xray, variant.x_stored)
    tifffile.imwrite(rgb, variant.rgb_stored)
    tifffile.imwrite(finer, np.repeat(np.repeat(variant.rgb_stored, 2, axis=0), 2, axis=1))
    # The default colour map: its model seeks the painting in the X-ray and photograph before applying.
    assert main(["separate", str(xray), str(rgb), "--out", str(tmp_path / "fit"), "--device", "cpu", "--quiet"]) == 0
    capsys.readouterr()
    code = main(["apply", str(tmp_path / "fit" / "model.pt"), str(xray), str(finer), "--out", str(tmp_path / "app")])
    assert code == 2 and "xraysep align" in _error_line(capsys)


def test_a_first_ctrl_c_before_the_first_step_changes_nothing_and_exits_130(monkeypatch, capsys):
    from napari_xraysep.cli import commands, main
    from napari_xraysep.core.errors import StoppedError

    def stopped(args):
        raise StoppedError("Stopped before the first training step: nothing was trained, so nothing was applied.")

    monkeypatch.setattr(commands, "command_separate", stopped)
    assert main(["separate", "x.tif", "rgb.tif", "--out", "out"]) == 130
    err = capsys.readouterr().err
    assert "xraysep: Stopped before the first training step" in err and "No result was changed." in err
    assert "error" not in err  # the user's own stop, not a mistake


def test_a_ctrl_c_while_the_science_imports_is_no_traceback(monkeypatch, capsys):
    """A breaker's Ctrl-C one second in (torch still importing) printed a KeyboardInterrupt traceback."""
    import builtins

    from napari_xraysep.cli import main

    imported = builtins.__import__

    def interrupted(name, globals=None, locals=None, fromlist=(), level=0):
        if level and fromlist and "commands" in fromlist:  # the commands' science, imported once parsed
            raise KeyboardInterrupt
        return imported(name, globals, locals, fromlist, level)

    monkeypatch.setattr(builtins, "__import__", interrupted)
    assert main(["separate", "x.tif", "rgb.tif", "--out", "out"]) == 130
    assert capsys.readouterr().err == "xraysep: interrupted; no result was changed.\n"
