"""Registration aid: known misalignments of a synthetic photograph are recovered."""

import re

import numpy as np
import pytest

from napari_xraysep.core import InputError
from napari_xraysep.core.registration import (
    Alignment,
    apply_transform,
    estimate_similarity,
    estimate_translation,
    fit_transform,
    phase_correlation,
    warp,
)
from napari_xraysep.synthetic import make_mixture

CORNERS = np.array([[0, 0], [0, 191], [127, 0], [127, 191]], float)


@pytest.fixture(scope="module")
def painting():
    return make_mixture("concealed_portrait", (128, 192), seed=1)


def _misaligned(photo, true_matrix, shape):
    """The photograph as a camera would have taken it: ``true_matrix`` maps it back onto the X-ray."""
    return warp(photo, Alignment(np.linalg.inv(true_matrix), "affine", 0.0), shape)


def _similarity(rotation_deg, scale, dy, dx):
    angle = np.radians(rotation_deg)
    return np.array([[scale * np.cos(angle), -scale * np.sin(angle), dx], [scale * np.sin(angle), scale * np.cos(angle), dy], [0, 0, 1.0]])


def test_phase_correlation_finds_a_pure_shift_exactly(rng):
    image = rng.random((64, 80))
    moved = np.roll(image, (5, -7), axis=(0, 1))
    dy, dx, confidence = phase_correlation(moved, image)
    assert (dy, dx) == pytest.approx((5, -7), abs=0.05) and confidence > 10


@pytest.mark.parametrize("shift", [(3.4, -2.7), (-8.25, 6.6), (0.0, 0.0)])
def test_translation_between_xray_and_photo_to_sub_pixel(painting, shift):
    true = _similarity(0, 1, *shift)
    alignment, confidence = estimate_translation(painting.x_mixed, _misaligned(painting.rgb_surface, true, painting.x_mixed.shape))
    assert alignment.shift == pytest.approx(shift, abs=0.35)  # X-ray and photo share edges, not intensities
    assert confidence > 8


def test_rotation_and_scale_are_recovered(painting):
    true = _similarity(4.0, 1.05, -3.0, 6.0)
    alignment, _ = estimate_similarity(painting.x_mixed, _misaligned(painting.rgb_surface, true, painting.x_mixed.shape))
    # On a 128×192 image, 0.5° or 1 % moves a corner by about a pixel: judge the corners.
    assert alignment.rotation_deg == pytest.approx(4.0, abs=0.3) and alignment.scale == pytest.approx(1.05, abs=0.006)
    assert np.abs(apply_transform(alignment.matrix, CORNERS) - apply_transform(true, CORNERS)).max() < 1.0  # sub-pixel


@pytest.mark.parametrize("kind", ["similarity", "affine"])
def test_refinement_brings_an_estimate_pixels_off_to_the_truth(painting, kind):
    from napari_xraysep.core.registration import _luma, refine_alignment

    true = _similarity(3.0, 1.02, 1.5, -2.0)
    if kind == "affine":
        true[0, 1] += 0.02  # a shear a similarity cannot express
    photo = _misaligned(painting.rgb_surface, true, painting.x_mixed.shape)
    start = Alignment(_similarity(2.4, 1.03, 0.5, -1.0), kind, 0.0)  # corners 2–3 px off
    assert np.abs(apply_transform(start.matrix, CORNERS) - apply_transform(true, CORNERS)).max() > 2
    # Against the photograph's own luma the optimum is the truth itself: the polish must reach it.
    refined = refine_alignment(_luma(painting.rgb_surface), photo, refine_alignment(_luma(painting.rgb_surface), photo, start, sigma=2.0))
    assert refined.kind == kind and refined.residual_px == 0.0
    assert np.abs(apply_transform(refined.matrix, CORNERS) - apply_transform(true, CORNERS)).max() < 0.1
    translation = Alignment(np.eye(3), "translation", 0.0)
    assert refine_alignment(painting.x_mixed, photo, translation) is translation  # shifts are exact already


@pytest.mark.parametrize("kind", ["translation", "similarity", "affine", "projective"])
def test_point_pairs_give_the_exact_transform(kind, rng):
    true = {
        "translation": _similarity(0, 1, 2.5, -4.0),
        "similarity": _similarity(-3.0, 0.97, 2.5, -4.0),
        "affine": np.array([[1.02, 0.05, 3.0], [-0.03, 0.98, -2.0], [0, 0, 1]]),
        "projective": np.array([[1.02, 0.05, 3.0], [-0.03, 0.98, -2.0], [1e-4, -2e-4, 1]]),
    }[kind]
    photo_points = rng.uniform(0, 200, size=(6, 2))
    xray_points = apply_transform(true, photo_points)
    alignment = fit_transform(photo_points, xray_points, kind)
    np.testing.assert_allclose(alignment.matrix, true, atol=1e-8)
    assert alignment.residual_px < 1e-6


def test_noisy_point_pairs_report_their_residual(rng):
    photo_points = rng.uniform(0, 200, size=(8, 2))
    xray_points = photo_points + [1.0, 2.0] + rng.normal(0, 0.5, size=(8, 2))
    alignment = fit_transform(photo_points, xray_points, "affine")
    assert 0.2 < alignment.residual_px < 1.0


def test_warp_by_identity_and_by_a_whole_pixel_shift(rng):
    photo = rng.random((20, 30, 3)).astype(np.float32)
    np.testing.assert_allclose(warp(photo, Alignment(np.eye(3), "translation", 0), (20, 30)), photo, atol=1e-6)
    shifted = warp(photo, Alignment(_similarity(0, 1, 2, 3), "translation", 0), (20, 30), rows_per_block=7)
    np.testing.assert_allclose(shifted[2:, 3:], photo[:-2, :-3], atol=1e-6)
    assert (shifted[:2] == 0).all() and (shifted[:, :3] == 0).all()  # outside the photograph


def test_tiny_images_get_no_alignment_verdict(rng):
    from napari_xraysep.core.registration import check_alignment, misalignment_warning

    assert check_alignment(rng.random((1, 2)), rng.random((1, 2, 3))) == (0.0, 0.0, 0.0)
    assert misalignment_warning(rng.random((8, 8)), rng.random((8, 8, 3))) is None


@pytest.mark.parametrize(
    ("photo_points", "xray_points", "kind", "message"),
    [
        (np.zeros((2, 2)), np.zeros((3, 2)), "affine", "same number of points"),
        (np.zeros((2, 2)), np.zeros((2, 2)), "affine", "at least 3 point pairs"),
        (np.array([[0, 0], [1, 1], [2, 2]]), np.array([[0, 0], [1, 1], [2, 2]]), "affine", "on a line"),
        (np.zeros((4, 2)), np.zeros((4, 2)), "warp", "Unknown transform"),
    ],
)
def test_bad_point_pairs_are_explained(photo_points, xray_points, kind, message):
    with pytest.raises(InputError, match=message):
        fit_transform(photo_points, xray_points, kind)


# ------------------------------------------------------------------------------------- faces


def _tiffs(painting, folder, photo):
    import tifffile

    xray, rgb = folder / "x.tif", folder / "photo.tif"
    tifffile.imwrite(xray, painting.x_mixed)
    tifffile.imwrite(rgb, (np.clip(photo, 0, 1) * 255).astype(np.uint8), photometric="rgb")
    return xray, rgb


def test_cli_align_automatic_and_from_points(painting, tmp_path, capsys):
    import tifffile

    from napari_xraysep.cli import main

    true = _similarity(0, 1, 4.0, -3.0)
    xray, rgb = _tiffs(painting, tmp_path, _misaligned(painting.rgb_surface, true, painting.x_mixed.shape))
    out = tmp_path / "aligned.tif"
    assert main(["align", str(xray), str(rgb), "--out", str(out), "--transform", "translation"]) == 0
    shift = re.search(r"shift ([-+][\d.]+), ([-+][\d.]+) px", capsys.readouterr().err)
    assert (float(shift[1]), float(shift[2])) == pytest.approx((4.0, -3.0), abs=0.35)
    aligned = tifffile.imread(out)
    assert aligned.dtype == np.uint8 and aligned.shape == painting.rgb_surface.shape
    inner = (slice(8, -8), slice(8, -8))
    assert np.abs(aligned[inner] / 255.0 - painting.rgb_surface[inner]).mean() < 0.03
    assert main(["align", str(xray), str(rgb), "--out", str(out), "--transform", "translation"]) == 2  # exists

    pairs = tmp_path / "pairs.csv"
    photo_points = np.array([[10, 10], [100, 20], [50, 150], [120, 180]], float)
    rows = np.concatenate([photo_points, apply_transform(true, photo_points)], axis=1)
    pairs.write_text("photo_y,photo_x,xray_y,xray_x\n" + "\n".join(",".join(map(str, r)) for r in rows))
    assert main(["align", str(xray), str(rgb), "--out", str(tmp_path / "b.tif"), "--points", str(pairs), "--transform", "affine"]) == 0
    assert "point residual 0.00 px" in capsys.readouterr().err
    assert main(["align", str(xray), str(rgb), "--out", str(tmp_path / "c.tif"), "--transform", "affine"]) == 2
    assert "needs point pairs" in capsys.readouterr().err


def test_cli_separate_warns_when_the_photo_is_shifted(painting, tmp_path, capsys):
    from napari_xraysep.cli import main

    xray, rgb = _tiffs(painting, tmp_path, _misaligned(painting.rgb_surface, _similarity(0, 1, 5.0, 0.0), painting.x_mixed.shape))
    args = ["separate", str(xray), str(rgb), "--region=10,10,60,80", "--out", str(tmp_path / "o"), "--steps", "1", "--device", "cpu", "--quiet", "--set", "channels=4", "--no-warm-start"]
    assert main(args) == 0
    assert re.search(r"looks shifted by \+(4\.[7-9]|5\.[0-3]) px vertically", capsys.readouterr().err)


def test_align_widget_checks_and_aligns(painting, make_napari_viewer, qtbot):
    viewer = make_napari_viewer()
    _, widget = viewer.window.add_plugin_dock_widget("napari-xraysep", "Align photograph")
    viewer.add_image(painting.x_mixed, name="xray")
    viewer.add_image(_misaligned(painting.rgb_surface, _similarity(0, 1, -3.0, 4.0), painting.x_mixed.shape), name="photo", rgb=True)
    assert widget.xray_layer.value.name == "xray" and widget.rgb_layer.value.name == "photo"
    assert re.search(r"looks shifted by -(2\.[7-9]|3\.[0-3]) px vertically and \+(3\.[7-9]|4\.[0-3]) px horizontally", widget.check())

    widget.auto_transform.value = "translation"
    with qtbot.waitSignal(widget.align_automatically().finished, timeout=60_000):
        pass
    aligned = viewer.layers["photo · aligned"]
    assert aligned.rgb and aligned.metadata["xraysep_alignment"]["transform"] == "translation"
    widget.rgb_layer.value = aligned
    assert "Aligned to within a pixel" in widget.check()

    widget.add_point_layers()
    widget.photo_points.value.data = np.array([[10, 10], [100, 20], [50, 150]], float)
    widget.xray_points.value.data = np.array([[7, 14], [97, 24], [47, 154]], float)
    widget.rgb_layer.value = viewer.layers["photo"]
    layer = widget.align_from_points()
    assert layer is not None and "fit to 0.00 px" in widget.message.text()
    widget.xray_points.value.data = np.array([[7, 14]], float)
    assert widget.align_from_points() is None and "same number of points" in widget.message.text()


def test_aligned_photo_keeps_the_pixel_type(rng):
    from napari_xraysep.core.registration import aligned_photo

    photo = (rng.random((10, 12, 3)) * 255).astype(np.uint8)
    same = aligned_photo(photo, Alignment(np.eye(3), "translation", 0), (10, 12))
    assert same.dtype == np.uint8 and np.array_equal(same, photo)
    assert aligned_photo(photo.astype(np.float32), Alignment(np.eye(3), "translation", 0), (10, 12)).dtype == np.float32
