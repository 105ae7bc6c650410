"""Thread counts from the weave: known, drifting spacings and angles recovered; nothing invented."""

from __future__ import annotations

import numpy as np
import pytest
from conftest import DRIFT_PIXEL_MM, THROUGH_SEPARATION, drifting_threads, on_grid

from napari_xraysep.cli import main

from napari_xraysep.core.errors import InputError
from napari_xraysep.core.separation import separate
from napari_xraysep.core.threads import count_threads, family_name, parse_pixel_size

PIXEL_MM = DRIFT_PIXEL_MM  # 100 px per cm: 15 threads/cm is a period of 6.7 px


def drifting_weave(shape=(600, 800), seed=0):
    """A plain weave whose threads drift (:func:`conftest.drifting_threads`: vertical ones from 15 to 17
    per cm, tilted 1.5°; horizontal ones from 18 to 16.5 per cm), with strong noise. Returns the image
    and the true (vertical, horizontal) density maps in threads/cm."""
    vertical, horizontal, truth_v, truth_h = drifting_threads(shape)
    image = vertical + 0.8 * horizontal + 0.3 * np.random.default_rng(seed).standard_normal(shape)
    return image, truth_v, truth_h


def test_drifting_thread_counts_are_recovered_everywhere_within_a_third_of_a_thread():
    image, truth_v, truth_h = drifting_weave()
    counts = count_threads(image, pixel_size_mm=PIXEL_MM, window_mm=15)
    assert counts.unit == "threads/cm" and [f.name for f in counts.families] == ["vertical threads", "horizontal threads"]
    vertical, horizontal = counts.families
    for family, truth in ((vertical, truth_v), (horizontal, truth_h)):
        error = np.abs(family.density_map - on_grid(truth, family))
        assert np.isfinite(family.density_map).all()
        assert error.max() <= 0.3, (family.name, float(error.max()))
    # Whole-painting figures: the mean spacing, and the drift shows as spread.
    assert vertical.density == pytest.approx(16.0, abs=0.15) and vertical.density_std > 0.3
    assert horizontal.density == pytest.approx(17.25, abs=0.15)
    # Directions: the vertical threads lean 1.5° off vertical, the horizontal ones lie flat.
    assert abs(vertical.angle_deg - 90.0) == pytest.approx(1.5, abs=0.3)
    assert min(horizontal.angle_deg, 180 - horizontal.angle_deg) < 0.3


def test_small_windows_count_the_corners_too():
    """Windows of 8 mm: in a corner the edges and the margin leave a window a few per cent of its
    pixels; their power per pixel, not their sum, says whether the threads show, so the corners are
    counted (their sums fell under a tenth of the median, and the corners were left empty)."""
    image, truth_v, truth_h = drifting_weave()
    counts = count_threads(image, pixel_size_mm=PIXEL_MM, window_mm=8)
    for family, truth in zip(counts.families, (truth_v, truth_h)):
        assert np.isfinite(family.density_map).all(), family.name
        assert np.abs(family.density_map - on_grid(truth, family)).max() <= 0.1


# The sample painting on its drifting canvas is separated in seconds: a few colour-map solves.
QUICK = {"clusters": 8, "steps": 3, "passes": 2, "device": "cpu"}


def test_a_drifting_weave_is_counted_through_the_separation_in_every_window(drifting_canvas):
    """The painting and its hidden design over a canvas whose spacing and angle drift, plus noise:
    separated, its weave layer counted; every window of both maps, edges and corners too, within
    THROUGH_SEPARATION of the truth."""
    sample = drifting_canvas.mixture
    result = separate(drifting_canvas.x_mixed, sample.rgb_surface, sample.region_mask, **QUICK)
    counts = count_threads(result.weave, DRIFT_PIXEL_MM)
    errors = drifting_canvas.worst_errors(counts)
    assert list(errors) == ["vertical threads", "horizontal threads"]
    assert max(errors.values()) <= THROUGH_SEPARATION, errors


def test_without_a_pixel_spacing_counts_are_per_pixel_and_say_so():
    image, truth_v, _ = drifting_weave((300, 400))
    counts = count_threads(image)
    assert counts.unit == "threads/px" and counts.pixel_size_mm is None
    assert counts.families[0].density == pytest.approx(float(np.mean(truth_v)) * PIXEL_MM / 10, rel=0.02)
    assert "per pixel" in counts.summary()


def test_no_weave_no_count():
    """A panel painting (wood grain, no canvas) gives no count, nor does its separated weave layer's
    stand-in, noise: nothing is invented."""
    from napari_xraysep.datasets.synthetic_photos import make_photo_mixture

    panel = make_photo_mixture("photo_astronaut_over_rocket", (256, 384), seed=0)
    for image in (panel.x_mixed, np.random.default_rng(3).standard_normal((256, 384))):
        counts = count_threads(image, pixel_size_mm=PIXEL_MM)
        assert not counts.found and counts.families == ()
        assert counts.summary() == "No canvas weave was found: no thread count."
        assert counts.to_dict()["weave_found"] is False and counts.map_rows() == []


def test_missing_pixels_are_left_out_of_the_count():
    image, truth_v, _ = drifting_weave((400, 600))
    holed = image.copy()
    holed[150:250, 200:300] = np.nan
    vertical = count_threads(holed, pixel_size_mm=PIXEL_MM, window_mm=15).families[0]
    assert vertical.density == pytest.approx(float(np.mean(truth_v)), abs=0.3)
    assert np.nanmax(np.abs(vertical.density_map - on_grid(truth_v, vertical))) <= 0.3


def test_the_maps_go_to_table_rows_with_their_centres():
    image, _, _ = drifting_weave((300, 400))
    counts = count_threads(image, pixel_size_mm=PIXEL_MM, window_mm=10)
    rows = counts.map_rows()
    family = counts.families[0]
    assert len(rows) == sum(int(np.isfinite(f.density_map).sum()) for f in counts.families)
    first = rows[0]
    assert (first["row_px"], first["col_px"]) == (family.step // 2, family.step // 2)
    assert first["density"] == pytest.approx(float(family.density_map[0, 0]))
    assert counts.to_dict()["families"][0]["map_step_px"] == family.step


@pytest.mark.parametrize(("angle", "name"), [(90.0, "vertical threads"), (44.0, "horizontal threads"), (134.0, "vertical threads"), (0.0, "horizontal threads")])
def test_family_names_follow_the_threads_direction(angle, name):
    assert family_name(angle) == name


@pytest.mark.parametrize(("waves", "vertical"), [((30, -30), 120.0), ((20, -40), 70.0)])
def test_two_families_on_the_same_side_of_45_degrees_are_named_apart(waves, vertical):
    # Threads at 60° and 120° are both within 45° of vertical: one name for both hid one family's map.
    yy, xx = np.mgrid[0:256, 0:256].astype(float)
    weave = sum(np.sin(2 * np.pi * (xx * np.cos(np.radians(a)) + yy * np.sin(np.radians(a))) / 6.0) for a in waves)
    families = count_threads(weave).families
    assert [f.name for f in families] == ["vertical threads", "horizontal threads"]
    assert families[0].angle_deg == pytest.approx(vertical, abs=1.0)  # the nearer vertical (the stronger, if a tie)


@pytest.mark.parametrize(("text", "mm"), [("0.085mm", 0.085), ("85um", 0.085), ("85 µm", 0.085), ("0.0085cm", 0.085), ("0.1", 0.1), ("254dpi", 0.1), ("254 ppi", 0.1)])
def test_pixel_sizes_in_every_unit(text, mm):
    assert parse_pixel_size(text) == pytest.approx(mm)


@pytest.mark.parametrize("text", ["", "mm", "-1mm", "0mm", "nan", "inf mm", "12 parsecs", "0dpi"])
def test_pixel_sizes_that_are_not_are_refused_in_one_line(text):
    with pytest.raises(InputError, match="is not a positive spacing"):
        parse_pixel_size(text)


@pytest.mark.parametrize("text", ["85", "300", " 6 "])
def test_a_bare_number_too_large_for_millimetres_asks_for_its_unit(text):
    # A bare number is mm: '85' (µm meant) or '300' (dpi meant) was taken as 85 or 300 mm a pixel.
    with pytest.raises(InputError, match="no unit.*give its unit"):
        parse_pixel_size(text)
    assert parse_pixel_size(text.strip() + "um") == pytest.approx(float(text) / 1000)  # with a unit, as meant
    assert parse_pixel_size("5") == 5.0 and parse_pixel_size("10mm") == 10.0  # the limits


@pytest.mark.parametrize("text", ["85mm", "1000cm", "0.001dpi", "1e-12dpi", "1e-9", "0.00001mm", "50nm"])
def test_a_pixel_size_no_painting_has_is_refused_whatever_its_unit(text):
    # '85mm' (85 µm meant) was taken as 85 mm a pixel; '1e-9' ran the whole job, then failed writing the TIFFs.
    with pytest.raises(InputError, match=r"no scanner's, detector's or camera's on a painting|not a positive spacing"):
        parse_pixel_size(text)
    assert parse_pixel_size("0.0001mm") == pytest.approx(1e-4) and parse_pixel_size("2.54dpi") == pytest.approx(10.0)
    assert parse_pixel_size("254000dpi") == pytest.approx(1e-4)  # 25.4 / 254000 in floats is 0.99999…e-4: the limit


def test_a_bare_pixel_size_is_recorded_in_millimetres():
    from napari_xraysep.io.spacing import chosen_spacing

    bare = chosen_spacing("0.1", {}, "x.tif")
    assert bare.mm == (0.1, 0.1) and bare.source.endswith("as 0.1 mm")
    assert chosen_spacing("100um", {}, "x.tif").source.endswith("as 100um")


def test_bad_arguments_are_refused():
    with pytest.raises(InputError, match="one grayscale image"):
        count_threads(np.zeros((4, 4, 3)))
    with pytest.raises(InputError, match="pixel spacing"):
        count_threads(np.zeros((64, 64)), pixel_size_mm=0.0)
    with pytest.raises(InputError, match="no valid pixel"):
        count_threads(np.full((64, 64), np.nan))


def test_the_weave_command_counts_threads_from_a_file_and_writes_the_tables(tmp_path, capsys):
    """`xraysep weave` on a weave layer saved with its resolution tags (100 px/cm): threads/cm from the
    file's spacing, the summary printed, threads.json / threads.csv / a density map per family written."""
    import json

    import tifffile

    from napari_xraysep.io import read_image

    image, truth_v, truth_h = drifting_weave((300, 400))
    path = tmp_path / "weave.tif"
    tifffile.imwrite(path, image.astype(np.float32), resolution=(100.0, 100.0), resolutionunit="CENTIMETER")
    out = tmp_path / "threads"
    assert main(["weave", str(tmp_path), "--window", "1cm", "--out", str(out)]) == 0
    printed = capsys.readouterr().out
    assert "vertical threads: " in printed and "threads/cm" in printed and "0.1 mm per pixel" in printed
    record = json.loads((out / "threads.json").read_text())
    assert record["unit"] == "threads/cm" and record["window_px"] == 100
    vertical = next(f for f in record["families"] if f["name"] == "vertical threads")
    assert vertical["density"] == pytest.approx(float(np.mean(truth_v)), abs=0.3)
    table = (out / "threads.csv").read_text().splitlines()
    assert table[0] == "row_px,col_px,family,density,angle_deg" and len(table) > 10
    # One convention for a direction everywhere (the printed −88.3° was 91.7° in threads.json).
    assert f"(running at {vertical['angle_deg']:.1f}° from horizontal)" in printed
    assert all(-90 < float(line.split(",")[-1]) <= 90 for line in table[1:])
    density_map = read_image(out / "vertical_threads_density.tif")
    assert density_map.ndim == 2 and np.nanmax(np.abs(density_map - np.mean(truth_v))) < 2.0
    # Measured in other software at its own cell size: one value per step² pixels of 0.1 mm.
    with tifffile.TiffFile(out / "vertical_threads_density.tif") as stored:
        per_cm = stored.pages[0].tags["XResolution"].value
    assert per_cm[0] / per_cm[1] == pytest.approx(10.0 / (0.1 * vertical["map_step_px"]), rel=1e-6)
    # An X-ray tagged in tifffile's mm unit (ResolutionUnit 4) is in mm too (it was "ResolutionUnit none").
    mm_path = tmp_path / "mm.tif"
    tifffile.imwrite(mm_path, image.astype(np.float32), resolution=(10.0, 10.0), resolutionunit="MILLIMETER")
    assert main(["weave", str(mm_path), "--window", "1cm"]) == 0
    assert "0.1 mm per pixel" in capsys.readouterr().out
    # Run again: the files are there, so only --overwrite replaces them — refused before counting.
    from napari_xraysep.cli import weave as weave_command

    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(weave_command, "count_threads", lambda *a, **k: pytest.fail("counted before refusing"))
        assert main(["weave", str(path), "--out", str(out)]) == 2
    assert "already holds threads.json, threads.csv" in capsys.readouterr().err
    # An earlier count's map of a family not found this time goes, and is named; a map of the user's own stays.
    (out / "Pb_density.tif").write_bytes(b"the user's")
    import dataclasses

    counted = weave_command.count_threads
    with pytest.MonkeyPatch.context() as patch:  # this time only the vertical threads show
        patch.setattr(weave_command, "count_threads", lambda *a, **k: dataclasses.replace(
            counted(*a, **k), families=counted(*a, **k).families[:1]))
        assert main(["weave", str(path), "--out", str(out), "--overwrite"]) == 0
    assert "horizontal_threads_density.tif: no such family this time" in capsys.readouterr().err
    assert not (out / "horizontal_threads_density.tif").exists() and (out / "vertical_threads_density.tif").exists()
    assert (out / "Pb_density.tif").read_bytes() == b"the user's"
    (tmp_path / "a_file").write_text("")
    assert main(["weave", str(path), "--out", str(tmp_path / "a_file")]) == 2
    assert "is a file, not a folder" in capsys.readouterr().err


def test_the_weave_command_says_when_there_is_no_weave_or_no_spacing(tmp_path, capsys):
    import tifffile


    tifffile.imwrite(tmp_path / "noise.tif", np.random.default_rng(0).standard_normal((200, 300)).astype(np.float32))
    assert main(["weave", str(tmp_path / "noise.tif")]) == 0
    assert "No canvas weave was found" in capsys.readouterr().out
    image, _, _ = drifting_weave((200, 300))
    tifffile.imwrite(tmp_path / "weave.tif", image.astype(np.float32))
    assert main(["weave", str(tmp_path / "weave.tif")]) == 0
    printed = capsys.readouterr().out
    assert "threads/px" in printed and "give it (e.g. --pixel-size 0.085mm) for threads/cm." in printed
    assert main(["weave", str(tmp_path / "missing")]) == 2
    # a separation's x2 holds no weave (its leftovers' harmonics read as threads): refused, saying where to count
    from napari_xraysep.io import write_tiff

    write_tiff(tmp_path / "x2.tif", image.astype(np.float32), {"layer": "x2"})
    capsys.readouterr()
    assert main(["weave", str(tmp_path / "x2.tif")]) == 2
    said = capsys.readouterr().err
    assert "x2.tif is a separation's x2 layer, which holds no weave" in said and "weave.tif" in said
    write_tiff(tmp_path / "weave-layer.tif", image.astype(np.float32), {"layer": "weave"})
    assert main(["weave", str(tmp_path / "weave-layer.tif")]) == 0


def test_pixels_that_are_not_square_are_counted_in_each_axis_own_spacing():
    """A scan with 0.1 mm rows and 0.125 mm columns: the vertical threads (counted along the rows'
    direction, across columns) are 0.8× as dense per cm as per 0.1 mm-pixel, the horizontal ones unchanged.
    A single mean spacing would give both wrong, silently."""
    image, truth_v, truth_h = drifting_weave((300, 400))
    counts = count_threads(image, pixel_size_mm=(0.1, 0.125), window_mm=15)
    vertical, horizontal = counts.families
    assert counts.pixel_size_mm == (0.1, 0.125)
    assert vertical.density == pytest.approx(0.8 * float(np.mean(truth_v)), abs=0.3)
    assert horizontal.density == pytest.approx(float(np.mean(truth_h)), abs=0.3)


def test_the_cli_counts_a_drifting_weave_separated_at_a_stated_pixel_size(drifting_canvas, tmp_path, capsys):
    """`xraysep separate --pixel-size 0.1mm` then `xraysep weave` on its results folder: the weave.tif
    carries the spacing, and every window of threads.csv is within THROUGH_SEPARATION of the truth."""
    import json

    import tifffile

    sample = drifting_canvas.mixture
    xray, rgb, out = tmp_path / "xray.tif", tmp_path / "photo.tif", tmp_path / "results"
    tifffile.imwrite(xray, drifting_canvas.x_mixed)
    tifffile.imwrite(rgb, (sample.rgb_surface * 255).round().astype(np.uint8))
    quick = ["--steps", "3", "--device", "cpu", "--quiet", "--set", "clusters=8", "--set", "passes=2"]
    assert main(["separate", str(xray), str(rgb), "--pixel-size", "0.1mm", "--out", str(out), *quick]) == 0
    assert main(["weave", str(out), "--out", str(out)]) == 0
    assert "threads/cm" in capsys.readouterr().out
    record = json.loads((out / "threads.json").read_text())
    assert record["unit"] == "threads/cm" and record["pixel_size_mm"] == pytest.approx([0.1, 0.1])
    truths = {"vertical threads": drifting_canvas.truth_v, "horizontal threads": drifting_canvas.truth_h}
    rows = [line.split(",") for line in (out / "threads.csv").read_text().splitlines()[1:]]
    windows = {family: [abs(float(d) - truths[family][int(y), int(x)]) for y, x, f, d, _ in rows if f == family] for family in truths}
    step = record["families"][0]["map_step_px"]
    height, width = drifting_canvas.x_mixed.shape
    for family, errors in windows.items():
        assert len(errors) == len(range(step // 2, height, step)) * len(range(step // 2, width, step)), family  # every window
        assert max(errors) <= THROUGH_SEPARATION, (family, max(errors))


def test_the_weave_command_is_quiet_when_asked(tmp_path, capsys):
    import tifffile

    from napari_xraysep.cli import main

    yy, xx = np.mgrid[0:256, 0:256].astype(np.float32)
    tifffile.imwrite(tmp_path / "weave.tif", np.cos(2 * np.pi * xx / 6.5) + np.cos(2 * np.pi * yy / 5.5))
    args = ["weave", str(tmp_path / "weave.tif"), "--pixel-size", "0.1mm", "--window", "8mm"]
    assert main([*args, "--out", str(tmp_path / "loud")]) == 0
    assert "Written to" in capsys.readouterr().err
    assert main([*args, "--out", str(tmp_path / "quiet"), "--quiet"]) == 0
    captured = capsys.readouterr()
    assert "Written to" not in captured.err and "threads" in captured.out.lower()
    assert (tmp_path / "quiet" / "threads.csv").is_file()


def test_a_window_in_mm_without_a_pixel_size_is_said_not_silently_replaced(tmp_path, capsys):
    import tifffile

    from napari_xraysep.cli import main

    yy, xx = np.mgrid[0:256, 0:256].astype(np.float32)
    tifffile.imwrite(tmp_path / "weave.tif", np.cos(2 * np.pi * xx / 6.5) + np.cos(2 * np.pi * yy / 5.5))
    assert main(["weave", str(tmp_path / "weave.tif"), "--window", "2cm"]) == 0
    err = capsys.readouterr().err
    assert "--window 2cm needs the pixel size" in err and "128 px" in err
    assert main(["weave", str(tmp_path / "weave.tif")]) == 0  # the default window: nothing to say
    assert "--window" not in capsys.readouterr().err
    # A window is a length, not a pixel size (15mm is no pixel's, 15 mm a window); a bare number could be px or mm.
    assert main(["weave", str(tmp_path / "weave.tif"), "--pixel-size", "0.1mm", "--window", "15mm"]) == 0
    assert main(["weave", str(tmp_path / "weave.tif"), "--window", "15"]) == 2
    assert "--window '15' has no unit" in capsys.readouterr().err
    assert main(["weave", str(tmp_path / "weave.tif"), "--pixel-size", "0.1mm", "--window", "300dpi"]) == 2
    assert "--window '300dpi' is a resolution, not a length" in capsys.readouterr().err


def test_a_threads_direction_is_said_between_minus_and_plus_ninety_degrees() -> None:
    """A direction and its opposite are one line: 177.4° read as nearly reversed to a tester."""
    from napari_xraysep.core.threads import signed_angle

    assert [signed_angle(a) for a in (177.4, 0.2, 89.2, 90.0, 270.0, -3.0, 180.0)] == pytest.approx(
        [-2.6, 0.2, 89.2, 90.0, 90.0, -3.0, 0.0]
    )


def test_a_window_larger_than_the_image_or_under_8_px_is_said_with_the_window_counted() -> None:
    """The window was cut to the image's size (or raised to 8 px) without a word: the maps' cells were
    not the length the user asked for."""
    image, _, _ = drifting_weave((200, 300))
    larger = r"The 50 mm counting window is 500 px at this pixel size, more than the image’s 200 px: "
    with pytest.warns(UserWarning, match=larger + r"counted over windows of 200 px \(20 mm\)"):
        assert count_threads(image, pixel_size_mm=PIXEL_MM, window_mm=50).window_px == 200
    smaller = r"is 5 px at this pixel size, under the 8 px a count needs: counted over windows of 8 px"
    with pytest.warns(UserWarning, match=smaller):
        assert count_threads(image, pixel_size_mm=PIXEL_MM, window_mm=0.5).window_px == 8
    import warnings

    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert count_threads(image, pixel_size_mm=PIXEL_MM, window_mm=15).window_px == 150  # as asked: nothing said
        assert count_threads(image).window_px == 128  # no pixel size: the default in px, said by the faces
