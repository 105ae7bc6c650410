"""Registration aid: known misalignments of a synthetic photograph — at other pixel sizes too — are recovered."""

import re
import warnings

import numpy as np
import pytest
from conftest import SlicedOnly, aligned_in_dock
from skimage.measure import block_reduce

from napari_xraysep.core import InputError, edges, registration
from napari_xraysep.core import warp as warp_module
from napari_xraysep.core.alignment import Alignment, apply_transform
from napari_xraysep.core.edges import CONFIDENT, edge_image, phase_correlation, rotation_and_scale
from napari_xraysep.core.pointpairs import fit_transform
from napari_xraysep.core.registration import estimate_similarity, estimate_translation
from napari_xraysep.core.warp import warp
from napari_xraysep.datasets.synthetic import make_mixture

CORNERS = np.array([[0, 0], [0, 191], [127, 0], [127, 191]], float)


@pytest.fixture(scope="module")
def painting():
    return make_mixture("concealed_portrait", (128, 192), seed=1)


def _misaligned(photo, true_matrix, shape):
    """The photograph as a camera would have taken it: ``true_matrix`` maps it back onto the X-ray
    (black beyond the painting)."""
    return np.nan_to_num(warp(photo, Alignment(np.linalg.inv(true_matrix), "projective"), shape))


def _similarity(rotation_deg, scale, dy, dx):
    angle = np.radians(rotation_deg)
    return np.array([[scale * np.cos(angle), -scale * np.sin(angle), dx], [scale * np.sin(angle), scale * np.cos(angle), dy], [0, 0, 1.0]])


def _about_centres(x_shape, photo_shape, rotation_deg, scale, dy=0.0, dx=0.0):
    """The similarity taking the photograph's centre to the X-ray's, then shifted by (dy, dx)."""
    to_origin = _similarity(0, 1, -(photo_shape[0] - 1) / 2, -(photo_shape[1] - 1) / 2)
    return _similarity(0, 1, (x_shape[0] - 1) / 2 + dy, (x_shape[1] - 1) / 2 + dx) @ _similarity(rotation_deg, scale, 0, 0) @ to_origin


def _corner_error(estimate, truth, shape):
    corners = np.array([[0, 0], [0, shape[1] - 1], [shape[0] - 1, 0], [shape[0] - 1, shape[1] - 1]], float)
    return np.abs(apply_transform(estimate, corners) - apply_transform(truth, corners)).max()


def test_phase_correlation_finds_a_pure_shift_exactly(rng):
    image = np.zeros((64, 80))
    image[16:48, 20:60] = rng.random((32, 40))
    moved = np.roll(image, (5, -7), axis=(0, 1))
    assert phase_correlation(moved, image) == pytest.approx((5, -7), abs=0.05)


@pytest.mark.parametrize("shift", [(3.4, -2.7), (-8.25, 6.6), (0.0, 0.0)])
def test_translation_between_xray_and_photo_to_sub_pixel(painting, shift):
    true = _similarity(0, 1, *shift)
    alignment = estimate_translation(painting.x_mixed, _misaligned(painting.rgb_surface, true, painting.x_mixed.shape))
    assert alignment.shift == pytest.approx(shift, abs=0.35)  # X-ray and photo share edges, not intensities
    assert alignment.kind == "translation" and alignment.confidence >= CONFIDENT


def test_log_polar_spectra_give_rotation_and_scale_whatever_the_shift(painting):
    """A known answer for the log-polar step alone: the photograph's own edges, turned 5°, scaled by
    0.8 and shifted, come back as (5°, 0.8) to within its sampling (0.25° and 0.5 %)."""
    edges = edge_image(painting.rgb_surface)
    true = _about_centres(edges.shape, edges.shape, 5.0, 0.8, 6.0, -4.0)
    moved = registration._warp_array(edges, np.linalg.inv(true), edges.shape)  # moved → edges is `true`
    rotation, scale = rotation_and_scale(edges, moved)
    assert rotation == pytest.approx(5.0, abs=0.25) and scale == pytest.approx(0.8, rel=0.005)


def test_rotation_and_scale_are_recovered(painting):
    true = _similarity(4.0, 1.05, -3.0, 6.0)
    alignment = estimate_similarity(painting.x_mixed, _misaligned(painting.rgb_surface, true, painting.x_mixed.shape))
    # On a 128×192 image, 0.5° or 1 % moves a corner by about a pixel: judge the corners.
    assert alignment.rotation_deg == pytest.approx(4.0, abs=0.3) and alignment.scale == pytest.approx(1.05, abs=0.006)
    assert _corner_error(alignment.matrix, true, (128, 192)) < 1.0  # sub-pixel


def test_a_photograph_at_half_the_pixel_size_turned_3_degrees_is_recovered_to_a_quarter_pixel():
    """The photograph has 2× the X-ray's pixels (plus a few, as real framings do), is turned 3° and
    shifted: the estimate puts its corners within 0.25 X-ray px of the truth."""
    x_shape, photo_shape = (256, 384), (515, 766)
    true = _about_centres(x_shape, photo_shape, 3.0, 0.5, 2.0, -3.0)
    painting = make_mixture("concealed_portrait", photo_shape, seed=8)  # painted at the photograph's resolution
    x_mixed = warp(painting.x_mixed, Alignment(true, "similarity"), x_shape)
    alignment = estimate_similarity(x_mixed, painting.rgb_surface)
    assert alignment.scale == pytest.approx(0.5, rel=0.002) and alignment.rotation_deg == pytest.approx(3.0, abs=0.05)
    assert _corner_error(alignment.matrix, true, x_shape) <= 0.25
    assert alignment.confidence >= CONFIDENT and alignment.residual_px < 0.5


def test_a_photograph_at_twice_the_pixel_size_is_recovered_to_a_pixel(painting):
    x_shape, photo_shape = (512, 768), (259, 382)
    painting = make_mixture("concealed_portrait", x_shape, seed=10)
    true = _about_centres(x_shape, photo_shape, 2.0, 2 * 0.98, 1.0, 2.0)
    alignment = estimate_similarity(painting.x_mixed, _misaligned(painting.rgb_surface, true, photo_shape))
    assert alignment.scale == pytest.approx(1.96, rel=0.003)
    assert _corner_error(alignment.matrix, true, x_shape) < 1.0  # half a photograph pixel


@pytest.mark.parametrize("kind", ["similarity", "affine", "projective"])
def test_refinement_brings_an_estimate_pixels_off_to_the_truth(painting, kind):
    from napari_xraysep.core.edges import _luma
    from napari_xraysep.core.registration import refine_alignment

    true = _similarity(3.0, 1.02, 1.5, -2.0)
    if kind == "affine":
        true[0, 1] += 0.02  # a shear a similarity cannot express
    if kind == "projective":
        true[2, :2] = [1.5e-4, -1e-4]  # a camera at a slight angle: the far corner 3 % nearer
    photo = _misaligned(painting.rgb_surface, true, painting.x_mixed.shape)
    start = Alignment(_similarity(2.4, 1.03, 0.5, -1.0), kind)  # corners 2–3 px off
    assert _corner_error(start.matrix, true, (128, 192)) > 2
    # Against the photograph's own luma the optimum is the truth itself: the polish must reach it.
    luma = _luma(painting.rgb_surface)
    refined = refine_alignment(luma, photo, refine_alignment(luma, photo, start, sigma=2.0))
    assert refined.kind == kind
    # (eight parameters fit the edges' interpolation a little too: its corners, extrapolated, 0.2–0.3 px)
    assert _corner_error(refined.matrix, true, (128, 192)) < (0.35 if kind == "projective" else 0.1)
    translation = Alignment(np.eye(3), "translation")
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
    assert alignment.residual_px < 1e-6 and alignment.rejected == ()


def test_noisy_point_pairs_report_their_residual(rng):
    photo_points = rng.uniform(0, 200, size=(8, 2))
    xray_points = photo_points + [1.0, 2.0] + rng.normal(0, 0.5, size=(8, 2))
    alignment = fit_transform(photo_points, xray_points, "affine")
    assert 0.2 < alignment.residual_px < 1.0 and alignment.rejected == ()


@pytest.mark.parametrize("kind", ["similarity", "affine", "projective"])
def test_one_misplaced_pair_is_left_out_and_named(kind, rng):
    true = _similarity(2.0, 0.5, 10.0, -20.0)  # a photograph at half the pixel size
    photo_points = rng.uniform(0, 800, size=(8, 2))
    xray_points = apply_transform(true, photo_points) + rng.normal(0, 0.3, size=(8, 2))
    xray_points[5] += [25.0, -12.0]  # clicked on the wrong feature
    alignment = fit_transform(photo_points, xray_points, kind)
    assert alignment.rejected == (5,)
    assert alignment.residual_px < 0.6  # the seven good pairs only
    assert _corner_error(alignment.matrix, true, (400, 600)) < 1.5
    # least squares over all eight pairs (what the fit did before RANSAC) is pulled far off
    everything = fit_transform(photo_points, xray_points, kind, max_error_px=1e6)
    assert everything.rejected == () and _corner_error(everything.matrix, true, (400, 600)) > 4


def test_warp_by_identity_and_by_a_whole_pixel_shift(rng):
    photo = rng.random((20, 30, 3)).astype(np.float32)
    np.testing.assert_allclose(warp(photo, Alignment(np.eye(3), "translation"), (20, 30)), photo, atol=1e-6)
    shifted = warp(photo, Alignment(_similarity(0, 1, 2, 3), "translation"), (20, 30))
    np.testing.assert_allclose(shifted[2:, 3:], photo[:-2, :-3], atol=1e-6)
    assert np.isnan(shifted[:2]).all() and np.isnan(shifted[:, :3]).all()  # outside the photograph: missing


def test_warp_block_by_block_reads_windows_and_equals_one_piece(rng, monkeypatch):
    photo = rng.random((90, 120, 4)).astype(np.float32)  # RGBA: the alpha is dropped
    alignment = Alignment(_similarity(4.0, 0.95, 3.0, -2.0), "similarity")
    whole = warp(photo, alignment, (80, 110))
    monkeypatch.setattr(warp_module, "BLOCK", 32)
    lazy = SlicedOnly(photo)
    blocks = warp(lazy, alignment, (80, 110))
    assert blocks.shape == (80, 110, 3)
    np.testing.assert_allclose(blocks, whole, atol=1e-5)
    assert max(lazy.reads) < photo.size / 3  # never the whole photograph at once


def test_a_finer_photograph_is_low_passed_before_resampling():
    """A canvas-like checkerboard of 1-px squares, resampled at a quarter of its pixel size, must
    come out as its mean grey (0.5), not as an aliased pattern."""
    checker = (np.indices((400, 400)).sum(axis=0) % 2).astype(np.float32)
    quarter = warp(checker, Alignment(_similarity(0.0, 0.25, 0, 0), "similarity"), (100, 100))
    assert np.abs(quarter[5:-5, 5:-5] - 0.5).max() < 0.01


def test_a_warp_maps_every_pixel_only_of_blocks_partly_off_the_photograph(rng, monkeypatch):
    """Which pixels the photograph covers was found by mapping every pixel of every block (a tenth of a
    600-megapixel alignment); a block whose corners fall on it lies on it whole. The same warp either way."""
    photo = rng.random((300, 340, 3)).astype(np.float32)
    turned = Alignment(_similarity(4.0, 1.0, -6.0, 9.0), "similarity")
    mapped, inside = [], warp_module._inside
    monkeypatch.setattr(warp_module, "_inside", lambda points, shape: mapped.append(len(points)) or inside(points, shape))
    monkeypatch.setattr(warp_module, "BLOCK", 64)
    result = warp(photo, turned, (280, 320))
    every = [n for n in mapped if n > 4]
    assert 0 < len(every) < len(mapped) // 2  # only the blocks along the turned photograph's edges
    ys, xs = np.mgrid[0:280, 0:320]
    on_it = inside(apply_transform(np.linalg.inv(turned.matrix), np.stack([ys.ravel(), xs.ravel()], axis=1)), photo.shape)
    np.testing.assert_array_equal(np.isnan(result[..., 0]), ~on_it.reshape(ys.shape))  # every pixel mapped, as before
    assert np.isnan(result).any() and not np.isnan(result[100:180, 100:220]).any()


def test_reduced_copies_are_block_means_read_in_strips(rng):
    image = rng.random((1000, 37, 3))
    lazy = SlicedOnly(image)
    small = edges.reduced(lazy, 4)
    expected = block_reduce(edges._luma(image[:1000, :36]), (4, 4), np.mean)
    np.testing.assert_allclose(small, expected)
    assert small.shape == (250, 9)


@pytest.mark.parametrize(
    "dtype, channels", [(np.uint8, 3), (np.uint8, 4), (np.uint16, 3), (np.uint16, 0), (np.int32, 0)]
)
def test_integer_images_are_reduced_as_their_float_copies(rng, dtype, channels):
    """Integer images are summed as integers, a photograph's channels weighed after (no float64 copy of
    each strip: the misalignment check before every `apply` read a 36-megapixel pair in ~4 s): the same
    block means as the image's float64 copy gives, a 2-D image's to the last bit."""
    info = np.iinfo(dtype)
    shape = (603, 657) + ((channels,) if channels else ())
    image = rng.integers(max(info.min, -(2**20)), min(info.max, 2**20), shape, dtype=dtype, endpoint=True)
    for factor in (1, 3, 7, 300):  # 300: an 8-bit sum past 16 bits
        copy, mirror = edges._reductions(SlicedOnly(image), factor)
        whole = edges._luma(image.astype(np.float64))[: 603 // factor * factor, : 657 // factor * factor]
        expected = block_reduce(whole, (factor, factor), np.mean)
        if channels:
            np.testing.assert_allclose(copy, expected, rtol=1e-14)
        else:
            np.testing.assert_array_equal(copy, edges._reductions(image.astype(np.float64), factor)[0])
            np.testing.assert_allclose(copy, expected, rtol=1e-14)
        assert copy.shape == mirror.shape == expected.shape and np.isfinite(copy).all()
    with pytest.raises(InputError, match="2-D image or an RGB photograph"):
        edges.reduced(np.zeros((40, 40, 2), dtype=np.uint8), 2)


def test_tiny_images_get_no_alignment_verdict(rng):
    from napari_xraysep.core.registration import check_alignment, misalignment_warning

    assert check_alignment(rng.random((1, 2)), rng.random((1, 2, 3))) == (0.0, 0.0, 0.0)
    assert misalignment_warning(rng.random((8, 8)), rng.random((8, 8, 3))) is None


def test_unrelated_images_are_not_called_misaligned(painting, rng):
    from napari_xraysep.core.registration import misalignment_warning

    other = make_mixture("still_life_over_figure", (128, 192), seed=3).rgb_surface
    assert misalignment_warning(painting.x_mixed, other) is None


def test_images_too_small_to_align_automatically_are_refused(rng):
    with pytest.raises(InputError, match="too small to align automatically.*point pairs"):
        estimate_similarity(rng.random((20, 30)), rng.random((200, 300, 3)))


def test_the_report_says_what_was_done():
    text = Alignment(_similarity(2.0, 0.5, 1.0, -2.0), "similarity", 0.12, 7 / 9).describe()
    assert text == (
        "similarity: scale 0.5000 (a photograph pixel is 0.5 X-ray pixels), rotation +2.00°, moved 1.00 px down and 2.00 px to the left, "
        "residual 0.12 px RMS (78% of the regions agree)"
    )
    assert "no region agrees" in Alignment(np.eye(3), "similarity", float("nan"), 0.0).describe()
    assert "a photograph pixel is 1 X-ray pixel)" in Alignment(np.eye(3), "translation").describe()


def test_the_warning_says_which_way_the_photograph_lies(painting):
    from napari_xraysep.core.alignment import offset_words
    from napari_xraysep.core.registration import misalignment_warning

    # the photograph's content moved 3 px down and 2 px to the left of where the X-ray has it
    photo = np.roll(painting.rgb_surface, (3, -2), axis=(0, 1))
    found = re.search(r"is ([\d.]+) px lower and ([\d.]+) px to the left of the X-ray", misalignment_warning(painting.x_mixed, photo))
    assert (float(found[1]), float(found[2])) == pytest.approx((3.0, 2.0), abs=0.4)  # edges, not intensities: sub-pixel
    assert offset_words(0.01, -4.0) == "4.0 px to the right of the X-ray"
    assert offset_words(-4.0, 0.01) == "4.0 px lower than the X-ray"  # a new user read "4.0 px lower of the X-ray"
    assert offset_words(0.04, 0.0, digits=2) == "0.04 px higher than the X-ray"
    assert offset_words(0.0, 0.0) == "in place on the X-ray"


def test_translation_refuses_photographs_of_another_size(painting, tmp_path, capsys):
    from napari_xraysep.cli import main

    with pytest.raises(InputError, match="128×192.*64×96.*similarity"):
        estimate_translation(painting.x_mixed, painting.rgb_surface[::2, ::2])
    # `align` refuses it before saying it is estimating anything (it said so, then refused).
    xray, rgb = _tiffs(painting, tmp_path, painting.rgb_surface[::2, ::2])
    assert main(["align", str(xray), str(rgb), "--out", str(tmp_path / "a.tif"), "--transform", "translation"]) == 2
    said = capsys.readouterr().err.strip().splitlines()
    assert len(said) == 1 and "a shift alone cannot resample" in said[0] and "estimating" not in said[0]


@pytest.mark.parametrize(
    ("photo_points", "xray_points", "kind", "message"),
    [
        (np.zeros((2, 2)), np.zeros((3, 2)), "affine", "same number of points"),
        (np.zeros((2, 2)), np.zeros((2, 2)), "affine", "at least 3 point pairs"),
        (np.array([[0, 0], [1, 1], [2, 2]]), np.array([[0, 0], [1, 1], [2, 2]]), "affine", "on a line"),
        (np.array([[0, 0], [1, 1], [2, 2], [5, 5], [9, 9]]), np.array([[0, 0], [1, 1], [2, 2], [5, 5], [9, 9]]), "projective", "on a line"),
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
    shift = re.search(r"moved ([\d.]+) px down and ([\d.]+) px to the left", capsys.readouterr().err)
    assert (float(shift[1]), float(shift[2])) == pytest.approx((4.0, 3.0), abs=0.35)
    aligned = tifffile.imread(out)
    # The shifted photograph leaves the X-ray's top rows and right columns uncovered: missing data,
    # so the copy is float (in the photograph's 0–255) with NaN there, never black paint.
    assert aligned.dtype == np.float32 and aligned.shape == painting.rgb_surface.shape
    assert np.isnan(aligned[:3]).all() and np.isnan(aligned[:, -2:]).all() and not np.isnan(aligned[5:, :-4]).any()
    inner = (slice(8, -8), slice(8, -8))
    assert np.abs(aligned[inner] / 255.0 - painting.rgb_surface[inner]).mean() < 0.03
    assert main(["align", str(xray), str(rgb), "--out", str(out), "--transform", "translation"]) == 2  # exists

    pairs = tmp_path / "pairs.csv"
    photo_points = np.array([[10, 10], [100, 20], [50, 150], [120, 180]], float)
    rows = np.concatenate([photo_points, apply_transform(true, photo_points)], axis=1)
    pairs.write_text("photo_y,photo_x,xray_y,xray_x\n" + "\n".join(",".join(map(str, r)) for r in rows))
    assert main(["align", str(xray), str(rgb), "--out", str(tmp_path / "b.tif"), "--points", str(pairs), "--transform", "affine"]) == 0
    assert "residual 0.00 px" in capsys.readouterr().err
    assert main(["align", str(xray), str(rgb), "--out", str(tmp_path / "c.tif"), "--transform", "affine"]) == 2
    assert "needs point pairs" in capsys.readouterr().err


def test_cli_separate_warns_when_the_photo_is_shifted(painting, tmp_path, capsys):
    from napari_xraysep.cli import main

    xray, rgb = _tiffs(painting, tmp_path, _misaligned(painting.rgb_surface, _similarity(0, 1, 5.0, 0.0), painting.x_mixed.shape))
    args = ["separate", str(xray), str(rgb), "--region=10,10,60,80", "--out", str(tmp_path / "o"), "--steps", "1", "--device", "cpu", "--quiet", "--set", "channels=4", "--no-warm-start"]
    assert main(args) == 0
    assert re.search(r"photograph is (4\.[7-9]|5\.[0-3]) px higher", capsys.readouterr().err)


def test_align_widget_checks_and_aligns(painting, make_napari_viewer, qtbot):
    viewer = make_napari_viewer()
    _, widget = viewer.window.add_plugin_dock_widget("napari-xraysep", "Align photograph")
    viewer.add_image(painting.x_mixed, name="xray")
    viewer.add_image(_misaligned(painting.rgb_surface, _similarity(0, 1, -3.0, 4.0), painting.x_mixed.shape), name="photo", rgb=True)
    assert widget.xray_layer.value.name == "xray" and widget.rgb_layer.value.name == "photo"
    assert re.search(r"photograph is (2\.[7-9]|3\.[0-3]) px lower and (3\.[7-9]|4\.[0-3]) px to the left of the X-ray", widget.check())

    assert widget.auto_transform.value == "auto"
    assert widget.auto_transform.choices == ("auto", "similarity", "translation")
    assert widget.transform.value == "similarity"  # the point pairs' default, as xraysep align --points (was affine)
    widget.auto_transform.value = "translation"
    with qtbot.waitSignal(widget.align_automatically().finished, timeout=60_000):
        assert widget.align_automatically() is None and "under way" in widget.message.text()  # one at a time
    assert widget.worker is None  # and another may start once it has ended
    aligned = viewer.layers["photo · aligned"]
    assert aligned.rgb and aligned.metadata["xraysep_alignment"]["transform"] == "translation"
    widget.rgb_layer.value = aligned
    assert "Aligned to within a pixel" in widget.check()

    widget.add_point_layers()
    widget.photo_points.value.data = np.array([[10, 10], [100, 20], [50, 150]], float)
    widget.xray_points.value.data = np.array([[7, 14], [97, 24], [47, 154]], float)
    widget.rgb_layer.value = viewer.layers["photo"]
    layer = widget.align_from_points()
    assert layer is not None and "residual 0.00 px" in widget.message.text()
    widget.xray_points.value.data = np.array([[7, 14]], float)
    assert widget.align_from_points() is None and "same number of points" in widget.message.text()


def test_aligned_photo_keeps_the_pixel_type(rng):
    from napari_xraysep.core.warp import aligned_photo

    photo = (rng.random((10, 12, 3)) * 255).astype(np.uint8)
    same = aligned_photo(photo, Alignment(np.eye(3), "translation", 0), (10, 12))
    assert same.dtype == np.uint8 and np.array_equal(same, photo)
    assert aligned_photo(photo.astype(np.float32), Alignment(np.eye(3), "translation", 0), (10, 12)).dtype == np.float32


def test_cli_align_resamples_a_photograph_at_half_the_pixel_size_onto_the_xray_grid(tmp_path, capsys):
    import tifffile

    from napari_xraysep.cli import main

    x_shape, photo_shape = (128, 192), (259, 381)
    painting = make_mixture("concealed_portrait", photo_shape, seed=2)
    true = _about_centres(x_shape, photo_shape, -2.0, 0.5, 1.5, -2.5)
    x_mixed = warp(painting.x_mixed, Alignment(true, "similarity"), x_shape)
    xray, rgb = _tiffs(type("P", (), {"x_mixed": x_mixed})(), tmp_path, painting.rgb_surface)
    out = tmp_path / "aligned.tif"
    assert main(["align", str(xray), str(rgb), "--out", str(out)]) == 0
    err = capsys.readouterr().err
    scale, rotation = re.search(r"scale ([\d.]+) .*rotation ([-+][\d.]+)°", err).groups()
    assert float(scale) == pytest.approx(0.5, abs=0.003) and float(rotation) == pytest.approx(-2.0, abs=0.1)
    assert "residual" in err and "259×381" in err and "128×192, the X-ray's grid" in err
    aligned = tifffile.imread(out)
    # Turned 2°, the photograph misses the X-ray's corners: float with NaN (missing) there.
    assert aligned.shape == (*x_shape, 3) and aligned.dtype == np.float32 and np.isnan(aligned[0, 0]).all()
    assert not np.isnan(aligned[8:-8, 8:-8]).any() and "covers only" in err
    expected = warp(painting.rgb_surface, Alignment(true, "similarity"), x_shape)
    assert np.abs(aligned[8:-8, 8:-8] / 255.0 - expected[8:-8, 8:-8]).mean() < 0.01
    from napari_xraysep.io import read_provenance

    record = read_provenance(out)["alignment"]
    assert record["scale"] == pytest.approx(0.5, abs=0.003) and record["photo_shape"] == list(photo_shape)


def test_cli_align_leaves_out_a_misplaced_pair_and_names_it(painting, tmp_path, capsys):
    from napari_xraysep.cli import main

    true = _similarity(1.0, 1.0, 4.0, -3.0)
    xray, rgb = _tiffs(painting, tmp_path, _misaligned(painting.rgb_surface, true, painting.x_mixed.shape))
    photo_points = np.array([[10, 10], [100, 20], [50, 150], [120, 180], [30, 90], [90, 100]], float)
    xray_points = apply_transform(true, photo_points)
    xray_points[2] += [15.0, 9.0]  # the third pair is clicked on the wrong feature
    pairs = tmp_path / "pairs.csv"
    rows = np.concatenate([photo_points, xray_points], axis=1)
    pairs.write_text("photo_y,photo_x,xray_y,xray_x\n" + "\n".join(",".join(map(str, r)) for r in rows))
    assert main(["align", str(xray), str(rgb), "--out", str(tmp_path / "a.tif"), "--points", str(pairs), "--transform", "affine"]) == 0
    err = capsys.readouterr().err
    assert "xraysep: warning: Point pair 3 (photo (50.0, 150.0)" in err and "17.5 px from where the other pairs put it" in err
    assert "residual 0.00 px" in err
    assert main(["align", str(xray), str(rgb), "--out", str(tmp_path / "b.tif"), "--points", str(pairs), "--max-pair-error", "0"]) == 2


def test_cli_separate_refuses_a_photograph_of_another_size_and_points_to_align(painting, tmp_path, capsys):
    from napari_xraysep.cli import main

    xray, rgb = _tiffs(painting, tmp_path, painting.rgb_surface[::2, ::2])
    assert main(["separate", str(xray), str(rgb), "--region=10,10,60,80", "--out", str(tmp_path / "o"), "--quiet"]) == 2
    line = capsys.readouterr().err.strip().splitlines()[-1]
    assert line.startswith("xraysep: error:") and "128×192" in line and "64×96" in line and "xraysep align" in line


def test_align_widget_says_each_stage_as_it_begins(make_napari_viewer, qtbot, painting):
    """The dock said "Estimating the alignment…" through the resampling too (a 600-megapixel pair: minutes
    of each); now each stage as it begins, then what was done."""
    viewer = make_napari_viewer()
    _, widget = viewer.window.add_plugin_dock_widget("napari-xraysep", "Align photograph")
    viewer.add_image(painting.x_mixed, name="xray")
    viewer.add_image(painting.rgb_surface, name="photo", rgb=True)
    said, show = [], widget.show_message
    widget.show_message = lambda text, error=False: said.append(text) or show(text, error)
    with qtbot.waitSignal(widget.align_automatically().finished, timeout=120_000):
        pass
    assert said[:2] == ["Estimating the alignment…", "Resampling the photograph onto the X-ray's grid (128×192)…"]
    assert len(said) == 3 and said[2].startswith("Added '") and len(viewer.layers) == 3


def test_align_widget_finds_the_scale_and_reports_a_rejected_pair(make_napari_viewer, qtbot):
    viewer = make_napari_viewer()
    _, widget = viewer.window.add_plugin_dock_widget("napari-xraysep", "Align photograph")
    x_shape, photo_shape = (128, 192), (259, 381)
    painting = make_mixture("concealed_portrait", photo_shape, seed=2)
    true = _about_centres(x_shape, photo_shape, 1.5, 0.5, -1.0, 2.0)
    viewer.add_image(warp(painting.x_mixed, Alignment(true, "similarity"), x_shape), name="xray")
    viewer.add_image(painting.rgb_surface, name="photo", rgb=True)
    widget.xray_layer.value, widget.rgb_layer.value = viewer.layers["xray"], viewer.layers["photo"]
    assert "align it automatically" in widget.check()
    with qtbot.waitSignal(widget.align_automatically().finished, timeout=120_000):
        pass
    aligned = viewer.layers["photo · aligned"]
    assert aligned.data.shape == (*x_shape, 3)
    assert aligned.metadata["xraysep_alignment"]["scale"] == pytest.approx(0.5, abs=0.003)
    assert re.search(r"scale 0\.(49|50)\d\d .*rotation \+1\.[45]\d°.*residual", widget.message.text())

    widget.add_point_layers()
    photo_points = np.array([[10, 10], [200, 30], [100, 300], [240, 370], [60, 180], [180, 200]], float)
    xray_points = apply_transform(true, photo_points)
    xray_points[4] += [8.0, -6.0]
    widget.photo_points.value.data, widget.xray_points.value.data = photo_points, xray_points
    widget.rgb_layer.value = viewer.layers["photo"]
    widget.transform.value = "similarity"
    layer = widget.align_from_points()
    assert layer is not None and layer.metadata["xraysep_alignment"]["rejected_pairs"] == [5]
    assert "Pair 5 did not fit the others and was left out" in widget.message.text()


def _unrelated(painting):
    """A photograph of another painting: the same size, no shared edges."""
    return make_mixture("still_life_over_figure", painting.x_mixed.shape, seed=5).rgb_surface


def test_cli_align_refuses_an_alignment_that_fails_its_check_unless_forced(painting, tmp_path, capsys):
    from napari_xraysep.cli import main

    xray, rgb = _tiffs(painting, tmp_path, _unrelated(painting))
    out = tmp_path / "aligned.tif"
    assert main(["align", str(xray), str(rgb), "--out", str(out), "--transform", "translation"]) == 2
    said, *err = capsys.readouterr().err.strip().splitlines()
    assert said.startswith("xraysep: estimating the alignment from reduced copies of the X-ray (128×192)")
    assert len(err) == 1 and err[0].startswith("xraysep: error: Nothing written: the automatic alignment failed its check")
    assert "(its best guess, refused: translation" in err[0]  # what was refused, not a finding
    assert not out.exists() and sorted(p.name for p in tmp_path.iterdir()) == ["photo.tif", "x.tif"]
    assert main(["align", str(xray), str(rgb), "--out", str(out), "--transform", "translation", "--force"]) == 0
    assert out.exists() and "--force" in capsys.readouterr().err


@pytest.mark.parametrize("photo_mm, said", [
    ("0.05mm", "Its scale agrees with the pixel sizes' (0.5), so it may be right"),
    ("0.08mm", "The pixel sizes' scale, 0.8, was tried first: if one of them is wrong"),
])
def test_a_refused_alignment_says_whether_its_scale_is_the_pixel_sizes(
    painting, tmp_path, capsys, monkeypatch, photo_mm, said
):
    """A tester's soft painting, aligned right (forced, no shift was left against the exact registration) but
    refused with 33 % of the regions agreeing, was told "if one of them [the pixel sizes] is wrong, leave it
    out" though both were right: a refused estimate at the pixel sizes' scale now says it may be right and to
    look at it; at another scale the pixel sizes are suspected, as before."""
    from napari_xraysep.cli import align, main

    refused = Alignment(np.diag([0.5, 0.5, 1.0]), "similarity", confidence=0.33)
    monkeypatch.setattr(align, "estimate_any_way_round", lambda *args: refused)
    xray, rgb = _tiffs(painting, tmp_path, painting.rgb_surface)
    sizes = ["--pixel-size", "0.1mm", "--photo-pixel-size", photo_mm]
    assert main(["align", str(xray), str(rgb), "--out", str(tmp_path / "a.tif"), *sizes]) == 2
    err = capsys.readouterr().err
    assert said in err and ("may be right" in err) == (photo_mm == "0.05mm") and not (tmp_path / "a.tif").exists()
    assert registration.refusal_hint(refused, None) == ""
    assert registration.refusal_hint(Alignment(np.eye(3), "translation", confidence=0.2), 0.5) == ""


@pytest.mark.parametrize("answer", ["No", "Yes"])
def test_align_widget_asks_before_adding_an_alignment_that_fails_its_check(painting, make_napari_viewer, qtbot, monkeypatch, answer):
    from qtpy.QtWidgets import QMessageBox

    asked = []
    monkeypatch.setattr(QMessageBox, "question", lambda *args: asked.append(args) or getattr(QMessageBox.StandardButton, answer))
    viewer = make_napari_viewer()
    _, widget = viewer.window.add_plugin_dock_widget("napari-xraysep", "Align photograph")
    viewer.add_image(painting.x_mixed, name="xray")
    viewer.add_image(_unrelated(painting), name="photo", rgb=True)
    widget.auto_transform.value = "translation"
    with qtbot.waitSignal(widget.align_automatically().finished, timeout=60_000):
        pass
    assert len(asked) == 1 and "regions of the painting agree" in asked[0][2]
    assert "may be right" not in asked[0][2]  # a translation: no pixel sizes' scale to compare
    refused = Alignment(np.diag([0.5, 0.5, 1.0]), "similarity", confidence=0.33)
    widget.confirm_uncertain(refused, 0.5)
    assert "Its scale agrees with the pixel sizes' (0.5), so it may be right" in asked[-1][2]
    if answer == "No":
        assert [layer.name for layer in viewer.layers] == ["xray", "photo"]
        assert widget.message.text().startswith("Nothing added")
    else:
        assert "photo · aligned" in viewer.layers and "the check failed" in widget.message.text()


@pytest.mark.parametrize("factor, resample", [(1.4, "BICUBIC"), (1.5, "BICUBIC"), (1.7, "BILINEAR")])
def test_a_photograph_upscaled_by_an_interpolating_filter_is_aligned(factor, resample):
    """The bundled sample's photograph enlarged with Pillow (its default bicubic filter, or bilinear):
    the interpolation removed the high frequencies the spectra compare and they chose a wrong rotation
    and scale; the extents' ratio, tried beside them, lets the edges find the truth."""
    from PIL import Image

    from napari_xraysep.datasets.synthetic import load_sample

    sample = load_sample()
    rgb = Image.fromarray((np.clip(sample.rgb_surface, 0, 1) * 255).astype(np.uint8))
    height, width = sample.x_mixed.shape
    size = (round(width * factor), round(height * factor))
    photo = np.asarray(rgb.resize(size, getattr(Image.Resampling, resample)))
    alignment = estimate_similarity(sample.x_mixed, photo)
    assert alignment.scale == pytest.approx(width / size[0], rel=0.003)
    assert abs(alignment.rotation_deg) < 0.2
    assert alignment.confidence >= CONFIDENT


def test_a_photograph_a_sliver_short_of_the_xray_is_never_said_to_cover_100_percent(tmp_path, capsys):
    """Cropped by 1 column of 384, the photograph leaves ~0.3 % of the X-ray uncovered: the warning
    says 99.x %, not a rounded "covers only 100 %"."""
    import tifffile

    from napari_xraysep.cli import main
    from napari_xraysep.datasets.synthetic import load_sample

    sample = load_sample()
    tifffile.imwrite(tmp_path / "x.tif", sample.x_mixed)
    tifffile.imwrite(tmp_path / "photo.tif", (np.clip(sample.rgb_surface[:, :-1], 0, 1) * 255).astype(np.uint8))
    points = tmp_path / "points.csv"
    points.write_text("photo_x,photo_y,xray_x,xray_y\n0,0,0,0\n382,0,382,0\n0,255,0,255\n")
    assert main(["align", str(tmp_path / "x.tif"), str(tmp_path / "photo.tif"), "--points", str(points), "--transform", "affine",
                 "--out", str(tmp_path / "aligned.tif")]) == 0
    err = capsys.readouterr().err
    assert re.search(r"covers only 99\.\d% of the X-ray", err), err


def test_align_refuses_a_folder_or_a_non_tiff_name_for_out_and_is_quiet_when_asked(tmp_path, capsys):
    """--out is the aligned photograph's file: a folder (it wrote a file named like the folder) or a
    name without .tif is refused in one line; --quiet leaves only warnings and errors."""
    import tifffile

    from napari_xraysep.cli import main
    from napari_xraysep.datasets.synthetic import load_sample

    sample = load_sample()
    xray, photo = tmp_path / "x.tif", tmp_path / "photo.tif"
    tifffile.imwrite(xray, sample.x_mixed)
    tifffile.imwrite(photo, (np.clip(sample.rgb_surface, 0, 1) * 255).astype(np.uint8))
    (tmp_path / "folder").mkdir()
    for out, message in ((tmp_path / "folder", "is a folder"), (tmp_path / "aligned", "ending in .tif")):
        assert main(["align", str(xray), str(photo), "--out", str(out), "--transform", "translation"]) == 2
        assert message in capsys.readouterr().err
    assert not (tmp_path / "aligned").exists()
    assert main(["align", str(xray), str(photo), "--out", str(tmp_path / "a.tif"), "--transform", "translation", "--quiet"]) == 0
    assert capsys.readouterr().err == "" and (tmp_path / "a.tif").is_file()  # --quiet: no stage, no report line
    assert main(["align", str(xray), str(photo), "--out", str(tmp_path / "b.tif"), "--transform", "translation"]) == 0
    # What it does next, before each long stage (a 600-megapixel pair is minutes of each), then what it did.
    assert [line.split(" (")[0] for line in capsys.readouterr().err.strip().splitlines()] == [
        "xraysep: estimating the alignment from reduced copies of the X-ray",
        "xraysep: resampling the photograph onto the X-ray's grid",
        f"Aligned {photo}",
    ]
    # Into folders not made yet: made when it is written (a new user's had failed after the estimate).
    nested = tmp_path / "new" / "folder" / "a.tif"
    assert main(["align", str(xray), str(photo), "--out", str(nested), "--transform", "translation", "--quiet"]) == 0
    assert nested.is_file()
    # Where nothing can be made, said before any work.
    blocked = tmp_path / "a.tif" / "inside" / "b.tif"  # below a file
    assert main(["align", str(xray), str(photo), "--out", str(blocked), "--transform", "translation"]) == 2
    assert "Cannot write to --out" in capsys.readouterr().err


def test_align_given_a_grayscale_photograph_speaks_of_the_alignment(tmp_path, capsys):
    """The grayscale photograph's error names what align does with it, not "the separation"."""
    import tifffile

    from napari_xraysep.cli import main

    rng = np.random.default_rng(0)
    xray, photo = tmp_path / "x.tif", tmp_path / "gray.tif"
    tifffile.imwrite(xray, rng.random((64, 64), dtype=np.float32))
    tifffile.imwrite(photo, (rng.random((64, 64)) * 255).astype(np.uint8))
    assert main(["align", str(xray), str(photo), "--out", str(tmp_path / "a.tif")]) == 2
    error = capsys.readouterr().err
    assert "The photograph is grayscale (shape 64×64); xraysep align registers the colour photograph (H×W×3)." in error
    assert "separation" not in error


def test_point_pairs_are_read_by_their_headers_names(tmp_path):
    from napari_xraysep.cli.align import read_point_pairs
    from napari_xraysep.core.errors import InputError

    photo, xray = np.array([[1.0, 2.0], [3.0, 4.0]]), np.array([[10.0, 20.0], [30.0, 40.0]])
    plain = tmp_path / "plain.csv"
    plain.write_text("\n".join(",".join(map(str, [*p, *x])) for p, x in zip(photo, xray)))
    named = tmp_path / "named.csv"  # a tester's: the X-ray's columns first, said in the header
    swapped = "\n".join(",".join(map(str, [*x, *p])) for p, x in zip(photo, xray))
    named.write_text("xray_y, xray_x, photo_y, photo_x\n" + swapped)
    for path in (plain, named):
        read_photo, read_xray = read_point_pairs(path)
        np.testing.assert_array_equal(read_photo, photo)
        np.testing.assert_array_equal(read_xray, xray)
    other = tmp_path / "other.csv"
    other.write_text("x1,y1,x2,y2\n1,2,3,4\n")
    with pytest.raises(InputError, match="its header names the columns x1,y1,x2,y2"):
        read_point_pairs(other)


def _photographed(rgb: np.ndarray, scale: float, degrees: float, shape: tuple[int, int], shift=(0.0, 0.0)):
    """The photograph of ``rgb`` (the X-ray's grid) taken at ``scale`` photograph pixels per X-ray pixel,
    turned ``degrees``, centred (plus ``shift``) in a frame of ``shape``: uint8."""
    from skimage.transform import ProjectiveTransform, warp

    height, width = rgb.shape[:2]
    centre = np.array([[1, 0, -(width - 1) / 2], [0, 1, -(height - 1) / 2], [0, 0, 1]])
    turn = np.deg2rad(degrees)
    rotate = np.array([[np.cos(turn), -np.sin(turn), 0], [np.sin(turn), np.cos(turn), 0], [0, 0, 1]])
    place = np.array([[1, 0, (shape[1] - 1) / 2 + shift[1]], [0, 1, (shape[0] - 1) / 2 + shift[0]], [0, 0, 1]])
    to_photo = place @ np.diag([scale, scale, 1]) @ rotate @ centre
    back = ProjectiveTransform(np.linalg.inv(to_photo))
    photo = np.stack([warp(rgb[..., k], back, output_shape=shape, order=3, cval=0.85) for k in range(3)], -1)
    return (np.clip(photo, 0, 1) * 255 + 0.5).astype(np.uint8)


def test_a_misleading_spacing_prior_and_a_detail_photograph_still_align():
    from napari_xraysep.core.edges import CONFIDENT

    case = make_mixture("concealed_portrait", (480, 640), seed=1)
    # A camera JPEG's 300 dpi beside the X-ray's 300 dpi: a prior of 1 where the truth is 1 / 1.4 (the
    # tester's: refused, 11 % of the regions, scale 0.876).
    photo = _photographed(case.rgb_surface, 1.4, 1.0, (672, 896))
    alignment = estimate_similarity(case.x_mixed, photo, scale_prior=1.0)
    assert alignment.confidence >= CONFIDENT and alignment.scale == pytest.approx(1 / 1.4, rel=2e-3)
    # A detail over a third of the X-ray: its own footprint is checked ("0 % agree" for an exact one).
    detail = _photographed(case.rgb_surface, 1.5, 2.0, (420, 560), shift=(-60.0, 0.0))
    alignment = estimate_similarity(case.x_mixed, detail)
    assert alignment.confidence >= CONFIDENT and alignment.scale == pytest.approx(1 / 1.5, rel=2e-3)


def test_edges_beside_missing_pixels_are_zero_and_the_rest_still_count(rng):
    image = rng.random((40, 50))
    with_hole = image.copy()
    with_hole[10, 20] = np.nan
    edges = edge_image(with_hole)
    assert np.isfinite(edges).all()
    # its four neighbours (their central differences reach it) carry no edge
    assert (edges[[9, 11, 10, 10], [20, 20, 19, 21]] == 0).all()
    known = np.ones(image.shape, bool)
    known[[9, 11, 10, 10], [20, 20, 19, 21]] = False
    assert edges[known].std() == pytest.approx(1.0, rel=0.01)  # normalised over what is known
    # one missing pixel used to leave a region no edges at all
    assert np.corrcoef(edges[known], edge_image(image)[known])[0, 1] > 0.99
    assert (edge_image(np.full((8, 8), np.nan)) == 0).all()


def test_a_right_alignment_of_a_rotated_photograph_with_missing_corners_passes_its_check():
    # The photograph lacks its corners (NaN: a photograph aligned once before, or the benchmark's
    # rotated one): every region holding one missing pixel disagreed, and a right alignment (7°,
    # corners 0.2 px off) was refused with 20 % of the regions agreeing.
    case = make_mixture("concealed_portrait", (256, 384), seed=5)
    true = _about_centres((256, 384), (256, 384), 7.0, 1.08, -5.5, 3.3)
    photo = warp(case.rgb_surface, Alignment(np.linalg.inv(true), "similarity"), (256, 384))
    assert np.isnan(photo).any()
    checked = edges.agreement(case.x_mixed, photo, Alignment(true, "similarity"))
    assert checked.confidence >= CONFIDENT and checked.residual_px < 1.0


def test_region_shifts_are_zero_for_the_truth_and_placed_alike_for_two_alignments(painting):
    true = _similarity(0, 1, 0, 0)
    centres, shifts = edges.region_shifts(painting.x_mixed, painting.rgb_surface, Alignment(true, "translation"))
    assert centres.shape == shifts.shape == (9, 2)  # 3 × 3 half-size regions, all covered
    # most agree (in a few the hidden design's edges outweigh the shared ones)
    assert (np.linalg.norm(shifts, axis=1) < 1.0).sum() >= 5
    assert centres.min(axis=0) == pytest.approx([31.5, 47.5]) and centres.max(axis=0) == pytest.approx([95.5, 143.5])
    off = Alignment(_similarity(0, 1, 2.0, 0.0), "translation")
    placed_by = Alignment(true, "translation")
    placed, moved = edges.region_shifts(painting.x_mixed, painting.rgb_surface, off, placed_by=placed_by)
    assert np.array_equal(placed, centres)
    assert np.median(moved[:, 0]) == pytest.approx(-2.0, abs=0.3)  # the way back onto the X-ray


@pytest.mark.parametrize("degrees", [0.0, 0.5, 10.0, 45.0, 90.0])
def test_the_inner_box_is_covered_by_a_turned_photograph_and_keeps_most_of_it(degrees):
    # A 101 × 201 photograph turned about its centre onto the centre (200, 200) of a 401 × 401 X-ray. Its
    # sides shrink by the other side's sin θ: half-sides 50 cos θ − 100 sin θ and 100 cos θ − 50 sin θ.
    matrix = _about_centres((401, 401), (101, 201), degrees, 1.0)
    top, left, bottom, right = edges.inner_box((101, 201), matrix, (401, 401))
    assert edges._covers((101, 201), matrix, (slice(top, bottom), slice(left, right)))
    angle = np.radians(degrees % 90)
    rows, columns = sorted([50 * np.cos(angle) - 100 * np.sin(angle), 100 * np.cos(angle) - 50 * np.sin(angle)])
    if degrees == 45.0:  # both sides thin out to nothing: the box around it, shrunk about its centre
        assert (top, left, bottom, right) == (165, 165, 236, 236)  # the square inside the 106 × 106 diamond: ±35.36
    elif degrees == 90.0:  # lying across: rows and columns change places, within rounding
        assert (bottom - top, right - left) == pytest.approx((200, 100), abs=1)
    else:
        assert (top, bottom) == (int(np.ceil(200 - rows)), int(np.floor(200 + rows)) + 1)
        assert (left, right) == (int(np.ceil(200 - columns)), int(np.floor(200 + columns)) + 1)
    # unturned: the box around it (rounded inwards)
    if degrees == 0.0:
        assert (top, left, bottom, right) == edges.footprint((101, 201), matrix, (401, 401), within=True)


@pytest.mark.parametrize("seed", [0, 1, 2, 3])
def test_an_alignment_half_a_degree_off_a_photograph_of_part_of_the_painting_fails_its_check(seed):
    # A photograph of the painting's top 60 % at the X-ray's pixel size, aligned turned by 0.5° about its
    # centre: 2.5 px off at its corners. The check tiled the box around the turned photograph, which
    # covered its centre region alone: "100 % of the regions agree" (1 of 1). Its 3 × 3 regions now lie
    # inside the photograph, and the turn shows (at most 44 % agree; the exact alignment 33–67 %).
    case = make_mixture("concealed_portrait", (640, 480), seed=seed)
    photo = (np.clip(case.rgb_surface[:384], 0, 1) * 255 + 0.5).astype(np.uint8)
    turned = Alignment(_about_centres((384, 480), (384, 480), 0.5, 1.0), "similarity")
    assert _corner_error(turned.matrix, np.eye(3), photo.shape) > 2.0
    centres, _ = edges.region_shifts(case.x_mixed, photo, turned)
    assert len(centres) == 9
    assert edges.agreement(case.x_mixed, photo, turned).confidence < CONFIDENT


def test_corner_shift_is_the_worst_corner_of_the_area_the_photograph_covers():
    here = Alignment(np.eye(3), "translation")
    there = Alignment(_similarity(0, 1, 3.0, 4.0), "translation")
    assert registration.corner_shift(here, there, (100, 120), (100, 120)) == pytest.approx(5.0)
    # a photograph twice the X-ray's size, scaled onto it: the X-ray's corners count, not the photograph's
    turned = Alignment(_about_centres((100, 120), (200, 240), 1.0, 0.5), "similarity")
    same = registration.corner_shift(turned, turned, (200, 240), (100, 120))
    assert same == pytest.approx(0.0, abs=1e-9)
    tilted = Alignment(turned.matrix @ np.array([[1, 0, 0], [0, 1, 0], [1e-4, 0, 1]]), "projective")
    corners = np.array([[0, 0], [0, 119], [99, 0], [99, 119]], float)
    moved = apply_transform(tilted.matrix, apply_transform(np.linalg.inv(turned.matrix), corners)) - corners
    worst = np.linalg.norm(moved, axis=1).max()
    assert registration.corner_shift(turned, tilted, (200, 240), (100, 120)) == pytest.approx(worst)


def _tilted(rgb: np.ndarray, corners_px: float, seed: int, scale: float = 0.8):
    """The photograph of ``rgb`` taken at a slight angle: its corners up to ``corners_px`` X-ray px from a
    similarity's (random), at ``scale`` X-ray pixels per photograph pixel. Returns (photo, truth)."""
    from skimage.transform import ProjectiveTransform
    from skimage.transform import warp as skimage_warp

    height, width = rgb.shape[:2]
    photo_shape = (int(height / scale), int(width / scale))
    last_y, last_x = photo_shape[0] - 1, photo_shape[1] - 1
    source = np.array([[0, 0], [last_x, 0], [0, last_y], [last_x, last_y]], float)
    target = source * scale + np.random.default_rng(seed).uniform(-corners_px, corners_px, (4, 2))
    truth = ProjectiveTransform()
    truth.estimate(source, target)
    return skimage_warp(rgb, truth, output_shape=photo_shape, order=1, mode="edge"), truth.params


def _photo_corner_error(matrix, truth, photo_shape):
    last_y, last_x = photo_shape[0] - 1, photo_shape[1] - 1
    corners = np.array([[0, 0], [0, last_x], [last_y, 0], [last_y, last_x]], float)
    return np.abs(apply_transform(matrix, corners) - apply_transform(truth, corners)).max()


def test_a_photograph_taken_at_a_slight_angle_gets_its_perspective_and_a_square_one_does_not():
    from napari_xraysep.datasets.synthetic_photos import make_photo_mixture

    case = make_photo_mixture("photo_coffee_over_astronaut", (256, 384), seed=1)
    photo, truth = _tilted(case.rgb_surface, 5.0, seed=1)
    similarity = estimate_similarity(case.x_mixed, photo)
    assert similarity.kind == "similarity" and _photo_corner_error(similarity.matrix, truth, photo.shape) > 3
    automatic = registration.estimate_automatic(case.x_mixed, photo)
    assert automatic.kind == "projective" and automatic.confidence == 1.0
    assert _photo_corner_error(automatic.matrix, truth, photo.shape) < 0.5
    square, truth = _tilted(case.rgb_surface, 0.0, seed=1)
    automatic = registration.estimate_automatic(case.x_mixed, square)
    assert automatic.kind == "similarity" and _photo_corner_error(automatic.matrix, truth, square.shape) < 0.3


def test_cli_align_corrects_the_perspective_by_default_and_says_so(tmp_path, capsys):
    import tifffile

    from napari_xraysep.cli import main
    from napari_xraysep.datasets.synthetic_photos import make_photo_mixture
    from napari_xraysep.io import read_provenance

    case = make_photo_mixture("photo_chelsea_over_motorcycle", (256, 384), seed=1)
    photo, truth = _tilted(case.rgb_surface, 5.0, seed=2)
    xray, rgb = tmp_path / "x.tif", tmp_path / "photo.tif"
    tifffile.imwrite(xray, case.x_mixed.astype(np.float32))
    tifffile.imwrite(rgb, (np.clip(photo, 0, 1) * 255 + 0.5).astype(np.uint8), photometric="rgb")
    assert main(["align", str(xray), str(rgb), "--out", str(tmp_path / "a.tif")]) == 0
    assert "a perspective was corrected (a projective transform): the painting's regions" in capsys.readouterr().err
    record = read_provenance(tmp_path / "a.tif")["alignment"]
    assert record["transform"] == "projective"
    assert _photo_corner_error(np.array(record["matrix_xy"]), truth, photo.shape) < 0.6
    assert main(["align", str(xray), str(rgb), "--out", str(tmp_path / "b.tif"), "--transform", "similarity"]) == 0
    assert "slight angle" not in capsys.readouterr().err


def test_align_widget_corrects_a_perspective_and_says_so(make_napari_viewer, qtbot):
    from napari_xraysep.datasets.synthetic_photos import make_photo_mixture

    case = make_photo_mixture("photo_coffee_over_astronaut", (256, 384), seed=1)
    photo, truth = _tilted(case.rgb_surface, 5.0, seed=1)
    viewer, widget = aligned_in_dock(make_napari_viewer, qtbot, case.x_mixed, photo)
    record = viewer.layers["photo · aligned"].metadata["xraysep_alignment"]
    assert record["transform"] == "projective"
    assert _photo_corner_error(np.array(record["matrix_xy"]), truth, photo.shape) < 0.5
    assert "a perspective was corrected (a projective transform): the painting's regions" in widget.message.text()


def test_an_unsure_mirror_is_said_and_recorded_by_the_cli_and_the_dock(
    painting, tmp_path, capsys, monkeypatch, make_napari_viewer, qtbot
):
    from dataclasses import replace

    from napari_xraysep.cli import align as cli_align
    from napari_xraysep.cli import main
    from napari_xraysep.io import read_provenance
    from napari_xraysep.plugin import align as dock_align

    def unsure(x_mixed, photo, estimate):
        return replace(estimate_translation(x_mixed, photo), mirror_unsure=True)

    monkeypatch.setattr(cli_align, "estimate_any_way_round", unsure)
    monkeypatch.setattr(dock_align, "estimate_any_way_round", unsure)
    xray, rgb = _tiffs(painting, tmp_path, painting.rgb_surface)
    assert main(["align", str(xray), str(rgb), "--out", str(tmp_path / "a.tif"), "--quiet"]) == 0
    assert "lines up as closely mirrored left–right" in capsys.readouterr().err  # a warning: said even when quiet
    assert read_provenance(tmp_path / "a.tif")["alignment"]["mirror_unsure"] is True
    viewer, widget = aligned_in_dock(make_napari_viewer, qtbot, painting.x_mixed, painting.rgb_surface)
    assert viewer.layers["photo · aligned"].metadata["xraysep_alignment"]["mirror_unsure"] is True
    assert "point pairs with an affine transform" in widget.message.text()


def test_no_perspective_bends_a_wrong_alignment_into_passing_its_check():
    # A breaker's pair: a photograph at 2 X-ray px per photograph px, turned −10°, on a backdrop: the
    # similarity is wrong (36 px) and refused; polished as a projective it was bent 40 % until 62 % of
    # the regions agreed, and written. A slight angle changes the scale by a few hundredths at most.
    from skimage.transform import ProjectiveTransform
    from skimage.transform import warp as skimage_warp

    from napari_xraysep.datasets.synthetic_photos import make_photo_mixture

    case = make_photo_mixture("photo_coffee_over_astronaut", (192, 288), seed=1)
    photo_shape = (134, 201)
    to_xray = _about_centres((192, 288), photo_shape, -10.0, 2.0, 3.0, -4.0)
    photo = skimage_warp(case.rgb_surface, ProjectiveTransform(to_xray), output_shape=photo_shape, cval=0.85, order=1)
    automatic = registration.estimate_automatic(case.x_mixed, photo)  # the scan of scales finds it now
    assert automatic.confidence >= CONFIDENT and _corner_error(automatic.matrix, to_xray, photo_shape) < 1
    with pytest.MonkeyPatch.context() as patch:  # without it (and the unrotated candidates' region settling, which
        # finds it too): the wrong similarity, refused, not bent into passing
        patch.setattr(registration, "_scanned", lambda x_mixed, image, angles: np.eye(3))
        patch.setattr(registration, "_unrotated", lambda x_mixed, image, scale_prior: [])
        automatic = registration.estimate_automatic(case.x_mixed, photo)
    assert automatic.kind == "similarity" and automatic.confidence < CONFIDENT


def test_a_perspective_of_two_pixels_is_corrected_though_every_region_agrees_with_the_similarity():
    from napari_xraysep.datasets.synthetic_photos import make_photo_mixture

    case = make_photo_mixture("photo_chelsea_over_motorcycle", (256, 384), seed=0)
    photo, truth = _tilted(case.rgb_surface, 2.0, seed=0)
    similarity = estimate_similarity(case.x_mixed, photo)
    assert _photo_corner_error(similarity.matrix, truth, photo.shape) > 1.0
    automatic = registration.estimate_automatic(case.x_mixed, photo)
    assert automatic.kind == "projective" and _photo_corner_error(automatic.matrix, truth, photo.shape) < 0.4
    assert automatic.matrix[2, 2] == 1.0  # normalised: its scale and shift read as they are


def test_a_camera_photograph_on_a_backdrop_at_another_pixel_size_is_aligned(monkeypatch):
    # A new user's photograph: the painting at 1.25 photograph px per X-ray px on a grey backdrop,
    # 525 px wide beside a 384 px X-ray. The two copies were reduced by different factors (2 and 1)
    # and the spectra settled on scale 0.72 (the frames' ratio): refused with 0 % of the regions.
    from skimage.transform import resize

    from napari_xraysep.datasets.synthetic_photos import make_photo_mixture

    case = make_photo_mixture("photo_chelsea_over_motorcycle", (256, 384), seed=3)
    photo = np.full((350, 525, 3), 0.5)
    photo[15:335, 22:502] = np.clip(resize(case.rgb_surface, (320, 480), order=1), 0, 1)
    photo = (photo * 255).round().astype(np.uint8)
    alignment = estimate_similarity(case.x_mixed, photo)
    assert alignment.confidence >= CONFIDENT and alignment.scale == pytest.approx(0.8, rel=2e-3)
    monkeypatch.setattr(registration, "COMMON_FACTORS", 0)  # each copy at its own factor only: as before
    assert estimate_similarity(case.x_mixed, photo).scale == pytest.approx(0.8, rel=2e-3)  # the scan finds it too
    monkeypatch.setattr(registration, "_scanned", lambda x_mixed, image, angles: np.eye(3))
    # the frames' ratio, unrotated, settled by the regions' shifts, finds it too
    assert estimate_similarity(case.x_mixed, photo).scale == pytest.approx(0.8, rel=2e-3)
    monkeypatch.setattr(registration, "_unrotated", lambda x_mixed, image, scale_prior: [])
    assert estimate_similarity(case.x_mixed, photo).confidence < CONFIDENT


def test_a_mirror_image_that_fails_its_check_is_not_called_a_mirror():
    from napari_xraysep.core.alignment import Mirrored

    photo = np.zeros((40, 60))

    def estimate(x_mixed, image, shares):
        return Alignment(np.eye(3), "similarity", confidence=shares[isinstance(image, Mirrored)])

    unsure = registration.estimate_any_way_round(None, photo, lambda x, p: estimate(x, p, {False: 0.2, True: 0.4}))
    assert not unsure.mirrored and unsure.confidence == 0.2  # refused as it is, not "of the mirrored photograph"
    sure = registration.estimate_any_way_round(None, photo, lambda x, p: estimate(x, p, {False: 0.2, True: 0.9}))
    assert sure.mirrored and sure.confidence == 0.9 and sure.mirror_width == 60


def test_a_mirrored_photograph_of_a_symmetric_subject_is_found_mirrored():
    """A breaker's finding: a left–right symmetric subject (a rocket between two towers) photographed
    mirrored lined up unmirrored with every region agreeing, its corners hundreds of px off, and the
    mirror image was never tried. Both then agreed everywhere and the closer one (its residual) was the
    truth; since the check's regions lie inside the turned photograph (the box around it left few
    covered) the trap fails the check outright, and the mirror image has the most regions agreeing."""
    from skimage.transform import ProjectiveTransform
    from skimage.transform import warp as skimage_warp

    from napari_xraysep.core.alignment import Mirrored
    from napari_xraysep.datasets.synthetic_photos import make_photo_mixture

    case = make_photo_mixture("photo_rocket_over_chelsea", (450, 480), seed=0)  # found at 600×640 (33 s here)
    photo_shape = (465, 495)
    truth = _about_centres(case.x_mixed.shape, photo_shape, -18.0, 1.0)
    photo = skimage_warp(case.rgb_surface, ProjectiveTransform(truth), output_shape=photo_shape, cval=0.5)
    photo = np.clip(photo + np.random.default_rng(1).normal(0, 0.1, photo.shape), 0, 1)[:, ::-1].copy()
    truth = truth @ Mirrored.matrix(photo_shape[1])
    estimates = []

    def estimate(x_mixed, image):
        estimates.append(registration.estimate_automatic(x_mixed, image))
        return estimates[-1]

    found = registration.estimate_any_way_round(case.x_mixed, photo, estimate)
    assert found.mirrored and found.confidence >= 0.75 and _corner_error(found.matrix, truth, photo_shape) < 1
    as_stored = estimates[0]  # the trap: every region agreed with it too (2 of 9 now)
    assert as_stored.confidence < CONFIDENT and _corner_error(as_stored.matrix, truth, photo_shape) > 100


def test_the_mirror_image_is_tried_when_it_may_fit_and_wins_only_clearly_closer(monkeypatch):
    from napari_xraysep.core.alignment import Mirrored

    photo = np.zeros((40, 60))
    tried = []

    def estimate(x_mixed, image, residuals):
        tried.append(isinstance(image, Mirrored))
        return Alignment(np.eye(3), "similarity", residual_px=residuals[tried[-1]], confidence=1.0)

    def any_way_round(residuals):
        return registration.estimate_any_way_round(None, photo, lambda x, p: estimate(x, p, residuals))

    monkeypatch.setattr(registration, "_mirror_matches_everywhere", lambda *images: False)
    assert not any_way_round({False: 0.3, True: 0.05}).mirrored
    assert tried == [False]  # every region agrees and the mirror image cannot match as well: not estimated
    monkeypatch.setattr(registration, "_mirror_matches_everywhere", lambda *images: True)
    closer = any_way_round({False: 0.3, True: 0.05})
    assert closer.mirrored and closer.residual_px == 0.05 and not closer.mirror_unsure
    farther = any_way_round({False: 0.05, True: 0.3})
    assert not farther.mirrored and farther.residual_px == 0.05 and not farther.mirror_unsure
    # A breaker's nearly symmetric paintings: 0.002–0.02 px apart either way is noise. Kept as stored, and said.
    for residuals in ({False: 0.03, True: 0.028}, {False: 0.028, True: 0.03}):
        unsure = any_way_round(residuals)
        assert not unsure.mirrored and unsure.mirror_unsure and unsure.residual_px == residuals[False]
    # What it advises works: point pairs fitted as an affine transform may mirror.
    photo_points = np.array([[10, 10], [10, 90], [80, 20], [60, 70.0]])
    xray_points = np.column_stack([photo_points[:, 0], 100 - photo_points[:, 1]])
    assert fit_transform(photo_points, xray_points, "affine", 3.0).mirrored


def test_an_unsymmetric_photographs_mirror_image_is_not_estimated():
    from napari_xraysep.core.alignment import Mirrored
    from napari_xraysep.datasets.synthetic_photos import make_photo_mixture

    portrait = make_photo_mixture("photo_coffee_over_astronaut", (256, 288), seed=0)
    mirror = Mirrored(portrait.rgb_surface)
    assert not registration._mirror_matches_everywhere(portrait.x_mixed, portrait.rgb_surface, mirror)


def test_reduced_copies_are_read_once_while_kept_and_read_only(rng):
    image = SlicedOnly(rng.random((64, 96)))
    first = edges.reduced(image, 4)
    np.testing.assert_array_equal(edges.reduced(image, 4), first)
    assert len(image.reads) == 2  # not kept: read again
    with edges.reductions_kept():
        kept = edges.reduced(image, 4)
        assert edges.reduced(image, 4) is kept and len(image.reads) == 3 and not kept.flags.writeable
        np.testing.assert_array_equal(kept, first)
        assert edges.reduced(image, 2).shape == (32, 48) and len(image.reads) == 4  # another factor: read
        with edges.reductions_kept():  # opened within: the outer block's copies
            assert edges.reduced(image, 4) is kept and len(image.reads) == 4
        assert edges.reduced(image, 2) is edges.reduced(image, 2) and len(image.reads) == 4
    edges.reduced(image, 4)
    assert len(image.reads) == 5  # the block is over: nothing kept


@pytest.mark.parametrize("width", [96, 101])
def test_a_mirror_images_and_coarser_copies_are_made_without_reading_again(rng, width):
    """A 600-megapixel photograph was decoded again for its mirror image's copies and for each coarser
    factor (over 20 minutes of `xraysep align`): they are sums of the blocks already read — the mirror
    image's blocks counted from the right edge where the width is no multiple of the factor — and equal
    the copies read afresh, missing pixels (left out of their blocks' means) included."""
    from napari_xraysep.core.alignment import Mirrored

    array = rng.random((70, width))
    array[rng.random(array.shape) < 0.2] = np.nan
    array[:12, :12] = np.nan  # whole blocks missing: NaN in the copies, at either factor
    image = SlicedOnly(array)
    with edges.reductions_kept():
        edges.reduced(image, 2)
        reads = len(image.reads)
        views = (image, Mirrored(image))
        made = [edges.reduced(view, factor, fill_missing=False) for factor in (2, 6) for view in views]
        assert len(image.reads) == reads  # nothing read again
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)  # "mean of empty slice": the missing blocks
        for copy, (factor, source) in zip(made, [(f, a) for f in (2, 6) for a in (array, array[:, ::-1])]):
            height, cut = array.shape[0] // factor * factor, width // factor * factor
            expected = block_reduce(source[:height, :cut], (factor, factor), np.nanmean)
            np.testing.assert_allclose(copy, expected, rtol=1e-12)
            assert np.array_equal(np.isnan(copy), np.isnan(expected)) and np.isnan(copy).any()
    if width % 6:  # the mirror image's blocks are not the photograph's reversed
        assert not np.allclose(made[3], made[2][:, ::-1], equal_nan=True)
    with edges.reductions_kept(), pytest.raises(InputError, match="too small to register"):
        edges.reduced(image, 2)
        edges.reduced(image, 2 * width)  # not one block: refused as a copy read afresh is, not summed to nothing


def test_the_check_reads_the_photograph_once_per_factor():
    """The check warps the photograph's reduced copy, not the photograph: checking again reads nothing
    (each check low-passed and read a 600-megapixel photograph whole), and the exact alignment agrees."""
    from napari_xraysep.datasets.synthetic_photos import make_photo_mixture

    case = make_photo_mixture("photo_coffee_over_astronaut", (512, 576), seed=0)
    photo = SlicedOnly(case.rgb_surface)
    exact = Alignment(np.eye(3), "similarity")
    with edges.reductions_kept():
        first = edges.agreement(case.x_mixed, photo, exact)
        reads = len(photo.reads)
        again = edges.agreement(case.x_mixed, photo, exact)
    assert reads > 0 and len(photo.reads) == reads
    assert first.confidence == again.confidence == 1.0 and first.residual_px < 0.1


def test_a_candidate_shrinking_the_photograph_to_a_pixel_is_checked_not_refused_as_too_small(rng):
    """A breaker's: a candidate putting a 150-px photograph on about one X-ray pixel (scale 0.005) raised
    "too small to register" from the check (its copy's factor beyond the photograph's side): none agrees."""
    matrix = np.diag([0.005, 0.005, 1.0])
    matrix[:2, 2] = 100
    checked = edges.agreement(rng.random((256, 384)), rng.random((150, 150, 3)), Alignment(matrix, "similarity"))
    assert checked.confidence == 0.0


def test_an_alignment_tried_both_ways_reads_each_image_once_per_factor(painting):
    """The estimates of the photograph and of its mirror image share the X-ray's reduced copies: a
    second estimate within the block reads none of the X-ray again (a 600-megapixel X-ray is minutes)."""
    x_mixed, photo = SlicedOnly(painting.x_mixed), SlicedOnly(painting.rgb_surface)
    with edges.reductions_kept():
        first = estimate_similarity(x_mixed, photo)
        reads = len(x_mixed.reads)
        again = estimate_similarity(x_mixed, photo)
    assert reads > 0 and len(x_mixed.reads) == reads
    np.testing.assert_array_equal(again.matrix, first.matrix)
    np.testing.assert_array_equal(first.matrix, estimate_similarity(painting.x_mixed, painting.rgb_surface).matrix)


def test_a_refused_photographs_scale_is_scanned_for():
    """A breaker's cat on a grey backdrop (0.8 X-ray px per photograph px, noisy JPEG-like uint8): the
    hidden motorcycle's edges hold the spectra, and neither they nor the frames' ratio give the scale
    (every coarse candidate 20+ px off, refused). Scanned scales at the candidates' turns find it."""
    from skimage.transform import ProjectiveTransform
    from skimage.transform import warp as skimage_warp

    from napari_xraysep.datasets.synthetic_photos import make_photo_mixture

    case = make_photo_mixture("photo_chelsea_over_motorcycle", (320, 400), seed=0)
    photo_shape = (459, 575)
    truth = _about_centres(case.x_mixed.shape, photo_shape, 0.0, 0.8)
    photo = skimage_warp(case.rgb_surface, ProjectiveTransform(truth), output_shape=photo_shape, cval=0.5)
    photo = np.clip(photo + np.random.default_rng(1).normal(0, 0.03, photo.shape), 0, 1)
    photo = (photo * 255).round().astype(np.uint8)
    candidates = registration._coarse_candidates(case.x_mixed, photo)[: registration.CANDIDATES_CHECKED]
    assert min(_corner_error(matrix, truth, photo_shape) for _, matrix in candidates) > 20
    found = estimate_similarity(case.x_mixed, photo)
    assert found.confidence >= CONFIDENT and _corner_error(found.matrix, truth, photo_shape) < 1


def _checkered(case_name: str, period: int):
    """(X-ray, photograph on the X-ray's grid) of a case's painting faded under a strong checkerboard of
    ``period`` px (a breaker's)."""
    from napari_xraysep.datasets.synthetic_photos import make_photo_mixture, paint_absorbance

    case = make_photo_mixture(case_name, (256, 320), seed=0)
    rows, cols = np.mgrid[0:256, 0:320]
    checker = ((rows // period + cols // period) % 2).astype(float)
    rgb = np.clip(0.5 + 0.35 * (case.rgb_surface - 0.5), 0, 1) * (0.45 + 0.55 * checker[..., None])
    return (paint_absorbance(rgb) + case.x2_true + case.weave + case.noise).astype(np.float32), rgb


def _detail(rgb, truth, shape, noise=0.0):
    """The photograph ``truth`` maps onto the X-ray's grid (grey beyond the painting), uint8 with ``noise``."""
    from skimage.transform import ProjectiveTransform
    from skimage.transform import warp as skimage_warp

    photo = skimage_warp(rgb, ProjectiveTransform(truth), output_shape=shape, cval=0.5, order=1)
    photo = np.clip(photo + np.random.default_rng(1).normal(0, noise, photo.shape), 0, 1)
    return (photo * 255).round().astype(np.uint8)


def test_a_scanned_scale_that_only_a_pattern_agrees_with_is_refused():
    """A breaker's checkered painting, photographed as a detail at 0.35 X-ray px per photograph px (more
    than 2× below the frames' ratio): the scan found the checker's period at 0.70, half the regions
    agreeing, 313 px off. A scale found by searching must have most regions agree."""
    x_mixed, rgb = _checkered("photo_coffee_over_astronaut", 12)
    truth = _about_centres((256, 320), (300, 300), 0.0, 0.35, 30.0, 40.0)
    assert registration.estimate_automatic(x_mixed, _detail(rgb, truth, (300, 300))).confidence < CONFIDENT


@pytest.mark.parametrize(
    "case_name, photo_shape, degrees, shift, noise",
    [
        # was 0.8, turned 110°, every region agreeing, 488 px off
        ("photo_coffee_over_astronaut", (300, 300), 20.0, (10.0, 10.0), 0.0),
        # was 0.8, turned 180°, half the regions agreeing, 633 px off
        ("photo_rocket_over_chelsea", (280, 320), 0.0, (10.0, -20.0), 0.03),
    ],
)
def test_a_checkered_paintings_detail_is_not_aligned_at_the_patterns_harmonics(
    case_name, photo_shape, degrees, shift, noise
):
    """A painting under a 16 px checkerboard, a detail photographed at 0.4 X-ray px per photograph px: the
    spectra settle at twice the period (0.8), where the checker also lines up at a quarter or half turn
    and the regions agree. The harmonics' coarse edges match worse than the truth's: it is found."""
    x_mixed, rgb = _checkered(case_name, 16)
    truth = _about_centres((256, 320), photo_shape, degrees, 0.4, *shift)
    found = registration.estimate_automatic(x_mixed, _detail(rgb, truth, photo_shape, noise))
    assert found.confidence >= CONFIDENT and _corner_error(found.matrix, truth, photo_shape) < 1


@pytest.mark.parametrize("seed", [0, 1, 2, 3])
def test_a_photograph_of_the_paintings_top_at_the_xrays_pixel_size_is_aligned(seed):
    # A photograph of the top 60 % of the painting at the X-ray's own pixel size (the files' spacings say
    # so: a prior of 1): the spectra's rotation was wrong and the prior never tried unrotated (96 px off,
    # refused). Found now to 0.1–0.4 px. Whether the check accepts it is fragile on such a pair — the
    # hidden design dominates half of its 3 × 3 regions, and the exact alignment gets 33–67 % of them
    # (seeds 0–3: 3, 4, 6, 5 of 9) — so acceptance is asserted only where the exact alignment is accepted:
    # seed 1 (the pair first reported) got 5 of 9 by one borderline region (0.70 px off) while the checks
    # low-passed the whole photograph, 4 since they compare its block means, as the exact alignment's 4.
    case = make_mixture("concealed_portrait", (640, 480), seed=seed)
    photo = (np.clip(case.rgb_surface[:384], 0, 1) * 255 + 0.5).astype(np.uint8)
    alignment = estimate_similarity(case.x_mixed, photo, scale_prior=1.0)
    assert _corner_error(alignment.matrix, np.eye(3), photo.shape) < 1.0
    if seed in (2, 3):
        assert alignment.confidence >= CONFIDENT


def test_a_registered_photograph_on_a_backdrop_with_a_chart_is_aligned_though_the_hidden_design_dominates():
    # A tester's cat over a motorcycle framed as museums shoot it (grey backdrop, ruler and colour chart
    # only the photograph shows): the photograph already on the X-ray's grid was refused (scale 1.11,
    # 0.5°, no region agreeing) — the polish took even the exact start 100+ px off, and the unrotated
    # candidates ranked below the spectra's. The unrotated candidate settled by the regions' own shifts.
    from napari_xraysep.datasets.synthetic_real import make_real_variant

    variant = make_real_variant("photo_chelsea_over_motorcycle", "backdrop_chart", seed=1)
    alignment = estimate_similarity(variant.x_stored, variant.rgb_stored)
    assert alignment.confidence >= CONFIDENT
    assert _corner_error(alignment.matrix, np.eye(3), variant.x_stored.shape) < 1.0


def _resampled_variant(variant_name, factor):
    """The coffee-over-astronaut ``variant_name``'s X-ray, its photograph resampled by ``factor`` with
    Pillow's Lanczos (finer above 1), and the largest distance (X-ray px) between where an alignment and
    the truth put the X-ray's corners (Pillow's pixel centres: x = (x' + 0.5)·W/W' − 0.5)."""
    from PIL import Image

    from napari_xraysep.datasets.synthetic_real import make_real_variant

    variant = make_real_variant("photo_coffee_over_astronaut", variant_name, 0)
    height, width = variant.x_stored.shape
    photo = Image.fromarray(variant.rgb_stored).resize((round(width * factor), round(height * factor)), Image.LANCZOS)
    photo = np.asarray(photo)
    sx, sy = width / photo.shape[1], height / photo.shape[0]
    truth = np.array([[sx, 0, 0.5 * sx - 0.5], [0, sy, 0.5 * sy - 0.5], [0, 0, 1.0]])
    corners = np.array([[0, 0], [0, width - 1], [height - 1, 0], [height - 1, width - 1]], float)
    points = apply_transform(np.linalg.inv(truth), corners)  # the photograph's points at the X-ray's corners

    def corner_error(alignment):
        return np.linalg.norm(apply_transform(alignment.matrix, points) - corners, axis=1).max()

    return variant.x_stored, photo, truth, corner_error


def test_the_polish_is_not_pulled_by_the_paintings_edge_against_a_film_margin():
    # A new user's photograph 1.7× finer than the X-ray, the painting on a grey backdrop and the X-ray's film
    # margin around it: the painting's edge on the film (everything absorbing against nothing) is the X-ray's
    # strongest edge, and the photograph's is as weak as the painting's colours are like the backdrop's. The
    # polish dragged the photograph's inner edges out onto it: from the exact alignment, scale +0.54 %, the
    # corners 1.9 px off (residual 0.65 px, 89 % agreeing). Only the painting less a band along its edge: 0.3 px.
    x_mixed, photo, truth, corner_error = _resampled_variant("backdrop", 1.7)
    polished = Alignment(truth, "similarity")
    for sigma in registration.REFINE_SIGMAS:
        polished = registration.refine_alignment(x_mixed, photo, polished, sigma=sigma)
    assert corner_error(polished) < 0.5
    found = registration.estimate_automatic(x_mixed, photo, 1 / 1.7)
    assert found.confidence == 1.0
    assert corner_error(found) < 0.5
    assert abs(found.scale / np.sqrt(truth[0, 0] * truth[1, 1]) - 1) < 0.002


def test_a_photograph_coarser_than_the_x_ray_on_a_backdrop_with_a_chart_is_polished_over_the_whole_of_it():
    # A breaker's finding: polished on the painting less its edge band, a photograph of half the X-ray's
    # pixel count with a colour chart came 2.5 px off (7.5 on another case), and was accepted.
    x_mixed, photo, _, corner_error = _resampled_variant("backdrop_chart", 0.5)
    assert corner_error(registration.estimate_automatic(x_mixed, photo, 2.0)) < 0.5


def test_the_painting_the_polish_compares_is_sought_with_the_x_ray_s_missing_pixels_known():
    # A breaker's finding: an X-ray with NaN along two sides (a cropped export) had its missing blocks filled
    # with the median for the painting's search: the whole film, margin too, was the "painting" (3.04 px).
    x_mixed, photo, truth, _ = _resampled_variant("backdrop", 1.7)
    padded = np.pad(x_mixed.astype(np.float64), ((0, 60), (80, 0)), constant_values=np.nan)
    shifted = np.array([[1, 0, 80], [0, 1, 0], [0, 0, 1.0]]) @ truth
    height, width = padded.shape
    corners = np.array([[0, 0], [0, width - 1], [height - 1, 0], [height - 1, width - 1]], float)
    points = apply_transform(np.linalg.inv(shifted), corners)
    found = registration.estimate_automatic(padded, photo, 1 / 1.7)
    assert np.linalg.norm(apply_transform(found.matrix, points) - corners, axis=1).max() < 0.5
