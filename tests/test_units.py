"""Real units end to end: every file kind's pixel spacing read with its source, the user's --pixel-size,
run.json, the resolution tags written and read back, napari layers in mm, and align's spacings."""

from __future__ import annotations

import json
import re
import warnings

import numpy as np
import pytest
import tifffile
from PIL import Image
from test_cli import TINY_ARGS
from test_reading import STORED, _dicom
from test_registration import _about_centres, _corner_error

from napari_xraysep.plugin.layers import region_mask_from_layer
from napari_xraysep.plugin.reader import read_image_layer
from napari_xraysep.cli import main
from napari_xraysep.core import InputError, registration
from napari_xraysep.core.alignment import Alignment
from napari_xraysep.core.registration import check_scale_prior, estimate_similarity, scale_prior_note
from napari_xraysep.core.warp import warp
from napari_xraysep.io import open_image, write_tiff
from napari_xraysep.io.spacing import PixelSpacing, chosen_spacing, resolution_tags, spacing_of
from napari_xraysep.datasets.synthetic import make_mixture

GRAY = (np.arange(24 * 32, dtype=np.uint16).reshape(24, 32) * 7) % 4000
RGB = (np.random.default_rng(0).random((24, 32, 3)) * 255).astype(np.uint8)


def _spacing(path):
    info = open_image(path).info
    return spacing_of(info), info.get("pixel_spacing_note")


def test_fiji_and_ome_tiffs_give_their_pixel_size(tmp_path):
    """ImageJ/Fiji write the unit in their description, ResolutionUnit none; OME-TIFF a PhysicalSize (a
    tester's calibrated X-rays lost their 0.085 mm: no scale bar, threads per pixel)."""
    for unit, per_unit in (("mm", 1 / 0.085), ("micron", 1 / 85.0)):
        calibrated = {"imagej": True, "resolution": (per_unit, per_unit / 2), "metadata": {"unit": unit}}
        tifffile.imwrite(tmp_path / f"{unit}.tif", GRAY, **calibrated)
        spacing, note = _spacing(tmp_path / f"{unit}.tif")
        assert spacing.mm == pytest.approx((0.17, 0.085)) and f"ImageJ unit={unit}" in spacing.source and note is None
    ome = {"axes": "YX", "PhysicalSizeX": 85.0, "PhysicalSizeXUnit": "µm", "PhysicalSizeY": 0.1, "PhysicalSizeYUnit": "mm"}
    tifffile.imwrite(tmp_path / "x.ome.tif", GRAY, ome=True, metadata=ome)
    spacing, _ = _spacing(tmp_path / "x.ome.tif")
    assert spacing.mm == pytest.approx((0.1, 0.085)) and spacing.source == "OME-XML PhysicalSizeX/Y"
    tifffile.imwrite(tmp_path / "plain.tif", GRAY, resolution=(3.0, 3.0), resolutionunit="NONE")  # an aspect ratio only
    assert _spacing(tmp_path / "plain.tif")[0] is None
    # ImageJ writes µ escaped: unit=\u00B5m
    escaped = {"imagej": True, "resolution": (1 / 85.0, 1 / 85.0), "metadata": {"unit": "\\u00B5m"}}
    tifffile.imwrite(tmp_path / "escaped.tif", GRAY, **escaped)
    assert _spacing(tmp_path / "escaped.tif")[0].mm == pytest.approx((0.085, 0.085))
    # A missing PhysicalSizeY is X's size in X's unit; a size that is none is dropped with a note, the image read.
    for sizes, mm in [({"PhysicalSizeX": 0.05, "PhysicalSizeXUnit": "mm"}, (0.05, 0.05)), ({"PhysicalSizeX": 0}, None)]:
        tifffile.imwrite(tmp_path / "o.ome.tif", GRAY, ome=True, metadata={"axes": "YX", **sizes})
        spacing, note = _spacing(tmp_path / "o.ome.tif")
        assert (spacing.mm == pytest.approx(mm)) if mm else (spacing is None and "not a size" in note)
        assert np.array_equal(open_image(tmp_path / "o.ome.tif")[:, :], GRAY)


@pytest.mark.parametrize(
    "tags, mm, source",
    [
        ({"resolution": (254.0, 127.0), "resolutionunit": "INCH"}, (0.2, 0.1), "TIFF XResolution/YResolution (ResolutionUnit=inch)"),
        ({"resolution": (100.0, 50.0), "resolutionunit": "CENTIMETER"}, (0.2, 0.1), "TIFF XResolution/YResolution (ResolutionUnit=cm)"),
    ],
    ids=["inch", "cm"],
)
def test_a_tiff_resolution_in_inches_or_cm_is_the_pixel_spacing_row_by_column(tags, mm, source, tmp_path):
    """XResolution is pixels across (columns), YResolution down (rows): (row, column) = (0.2, 0.1) mm."""
    path = tmp_path / "x.tif"
    tifffile.imwrite(path, GRAY, **tags)
    spacing, note = _spacing(path)
    assert spacing.mm == pytest.approx(mm) and spacing.source == source and note is None


def test_a_transposing_orientation_swaps_the_spacings(tmp_path):
    path = tmp_path / "x.tif"
    tifffile.imwrite(path, GRAY, resolution=(100.0, 50.0), resolutionunit="CENTIMETER", extratags=[(274, "H", 1, 6, True)])
    assert open_image(path).shape == (32, 24) and _spacing(path)[0].mm == pytest.approx((0.1, 0.2))


@pytest.mark.parametrize(
    "tags, note",
    [
        ({"resolution": (72.0, 72.0), "resolutionunit": "INCH"}, "says 72 dpi, the default image software writes"),
        ({"resolution": (96 / 2.54, 96 / 2.54), "resolutionunit": "CENTIMETER"}, "says 96 dpi"),
        ({"resolution": (3.0, 2.0), "resolutionunit": "NONE"}, "ResolutionUnit none"),
        ({}, None),  # tifffile's own default (1, 1, none) says nothing
        ({"resolution": (1.0, 1.0), "resolutionunit": "INCH"}, "25.4 × 25.4 mm a pixel, no scanner's"),  # placeholder
        ({"resolution": (1e9, 1e9), "resolutionunit": "CENTIMETER"}, "1e-08 × 1e-08 mm a pixel"),  # not a painting's
    ],
    ids=["72 dpi", "96 dpi in cm", "unit none", "no resolution", "1 dpi", "1e9 per cm"],
)
def test_default_resolutions_and_unit_none_give_no_spacing_and_say_so(tags, note, tmp_path):
    path = tmp_path / "x.tif"
    tifffile.imwrite(path, GRAY, **tags)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        spacing, said = _spacing(path)
    assert spacing is None
    assert (said is None) if note is None else (note in said)
    # A size no painting has is said at once (it was in run.json only); a software's default is not worth a line.
    warned = [str(w.message) for w in caught if issubclass(w.category, UserWarning)]
    assert warned == ([said] if note and "mm a pixel" in note else [])


def test_a_dicom_pixel_spacing_names_its_tag(tmp_path):
    spacing, _ = _spacing(_dicom(tmp_path / "x.dcm", STORED, PixelSpacing=[0.1, 0.12]))
    assert spacing == PixelSpacing((0.1, 0.12), "DICOM PixelSpacing (0028,0030)")


@pytest.mark.parametrize(
    "name, save, mm, source",
    [
        ("png", {"dpi": (254, 127)}, (0.2, 0.1), "PNG pHYs (pixels per metre)"),
        ("jpg", {"dpi": (254, 127)}, (0.2, 0.1), "JPEG JFIF density (per inch)"),
        ("jpg", {"exif": {0x011A: 508.0, 0x011B: 508.0, 0x0128: 2}}, (0.05, 0.05), "JPEG EXIF XResolution/YResolution"),
        ("jpg", {"dpi": (72, 72)}, None, None),
        ("jpg", {}, None, None),
    ],
    ids=["PNG pHYs", "JPEG JFIF", "JPEG EXIF", "JPEG 72 dpi", "JPEG none"],
)
def test_photographs_give_their_dpi_as_a_spacing(name, save, mm, source, tmp_path):
    path = tmp_path / f"photo.{name}"
    if "exif" in save:
        exif = Image.Exif()
        exif.update(save["exif"])
        save = {"exif": exif}
    Image.fromarray(RGB).save(path, **save)
    spacing, note = _spacing(path)
    if mm is None:
        assert spacing is None and (note is None) == ("dpi" not in save)
    else:
        assert spacing.mm == pytest.approx(mm, rel=1e-4) and spacing.source == source


def test_a_given_pixel_size_replaces_the_files_and_says_so():
    info = {"pixel_spacing_mm": [0.1, 0.1], "pixel_spacing_tag": "DICOM PixelSpacing (0028,0030)"}
    assert chosen_spacing(None, info, "x.dcm") == PixelSpacing((0.1, 0.1), "DICOM PixelSpacing (0028,0030)")
    with pytest.warns(UserWarning, match=r"given \(0.085 mm\) replaces x.dcm's own: 0.1 mm per pixel \(DICOM PixelSpacing"):
        given = chosen_spacing("85um", info, "x.dcm")
    assert given == PixelSpacing((0.085, 0.085), "given by the user as 85um")
    assert chosen_spacing("300dpi", {}, "x.tif").mm == pytest.approx((25.4 / 300, 25.4 / 300))
    assert chosen_spacing(None, {}, "x.tif") is None
    with pytest.raises(InputError, match="not a positive spacing"):
        chosen_spacing("-1mm", {}, "x.tif")


def test_written_resolution_tags_read_back_as_the_spacing(tmp_path):
    spacing = PixelSpacing((0.2, 0.1), "given by the user as 0.1mm")
    assert resolution_tags(spacing) == {"resolution": (100.0, 50.0), "resolutionunit": "CENTIMETER"}
    path = write_tiff(tmp_path / "r.tif", GRAY.astype(np.float32), {"pixel_spacing": spacing.record()})
    with tifffile.TiffFile(path) as tif:
        page = tif.pages[0]
        assert page.tags["ResolutionUnit"].value == 3
        assert page.tags["XResolution"].value[0] / page.tags["XResolution"].value[1] == pytest.approx(100.0)
        assert page.tags["YResolution"].value[0] / page.tags["YResolution"].value[1] == pytest.approx(50.0)
    assert _spacing(path)[0].mm == pytest.approx((0.2, 0.1), rel=1e-6)
    assert _spacing(write_tiff(tmp_path / "none.tif", GRAY.astype(np.float32), {}))[0] is None


# ---------------------------------------------------------------- the CLI


@pytest.fixture
def inputs_at_0_1mm(tiny_mixture, tmp_path):
    xray, rgb = tmp_path / "xray.tif", tmp_path / "rgb.tif"
    tifffile.imwrite(xray, (tiny_mixture.x_mixed / tiny_mixture.x_mixed.max() * 60000).astype(np.uint16), resolution=(100.0, 100.0), resolutionunit="CENTIMETER")
    tifffile.imwrite(rgb, (tiny_mixture.rgb_surface * 255).astype(np.uint8))
    return xray, rgb


def test_separate_and_apply_record_the_spacing_and_write_it_into_every_result(inputs_at_0_1mm, tmp_path, capsys):
    xray, rgb = inputs_at_0_1mm
    first = tmp_path / "first"
    assert main(["separate", str(xray), str(rgb), "--out", str(first), *TINY_ARGS]) == 0
    run = json.loads((first / "run.json").read_text())
    # exactly 0.1, not 0.09999999999999999 (10 / 100 px per cm, read as 1 / 10 mm in floats)
    assert run["pixel_spacing"] == {"mm_per_pixel": [0.1, 0.1], "source": "TIFF XResolution/YResolution (ResolutionUnit=cm)"}
    assert _spacing(first / "x2.tif")[0].mm == pytest.approx((0.1, 0.1))

    given = tmp_path / "given"
    assert main(["separate", str(xray), str(rgb), "--out", str(given), "--pixel-size", "0.085mm", *TINY_ARGS]) == 0
    assert "0.085 mm) replaces xray.tif's own: 0.1 mm per pixel (TIFF XResolution" in capsys.readouterr().err
    assert json.loads((given / "run.json").read_text())["pixel_spacing"] == {"mm_per_pixel": [0.085, 0.085], "source": "given by the user as 0.085mm"}
    assert _spacing(given / "weave.tif")[0].mm == pytest.approx((0.085, 0.085), rel=1e-6)

    applied = tmp_path / "applied"  # tile by tile, through result_tiffs
    assert main(["apply", str(first / "model.pt"), str(xray), str(rgb), "--out", str(applied), "--pixel-size", "300dpi", "--quiet", "--device", "cpu"]) == 0
    assert json.loads((applied / "run.json").read_text())["pixel_spacing"]["source"] == "given by the user as 300dpi"
    assert _spacing(applied / "x1.tif")[0].mm == pytest.approx((25.4 / 300,) * 2, rel=1e-6)

    assert main(["separate", str(xray), str(rgb), "--out", str(tmp_path / "bad"), "--pixel-size", "fine", *TINY_ARGS]) == 2
    assert "Pixel size 'fine' is not a positive spacing" in capsys.readouterr().err


def _photo_at_half_the_pixel_size():
    """An X-ray at 0.2 mm and a photograph at 0.1 mm of the same painting, turned 3° and shifted."""
    x_shape, photo_shape = (192, 256), (389, 515)
    true = _about_centres(x_shape, photo_shape, 3.0, 0.5, 2.0, -3.0)
    painting = make_mixture("concealed_portrait", photo_shape, seed=8)
    return warp(painting.x_mixed, Alignment(true, "similarity"), x_shape), painting.rgb_surface, true


def test_the_spacings_ratio_is_tried_as_the_scale_when_the_spectra_mislead(monkeypatch):
    x_mixed, photo, true = _photo_at_half_the_pixel_size()
    # Cropped (the same transform from its top-left corner), so that the extents' ratio, also
    # tried, does not give the scale away: only the spacings can rescue a misled spectrum.
    photo = photo[:, : photo.shape[1] * 7 // 10]
    unmisled = estimate_similarity(x_mixed, photo)
    assert _corner_error(unmisled.matrix, true, x_mixed.shape) < 0.5
    spectra = registration.rotation_and_scale
    monkeypatch.setattr(registration, "rotation_and_scale", lambda *a: (spectra(*a)[0], 1.6))  # a spectrum misled
    # Its candidate fails the check, so the next ones are refined and checked too: rescued even without
    # the spacings (before 2026-12-06 only they could); with them, the same alignment.
    misled = estimate_similarity(x_mixed, photo)
    assert misled.confidence >= 0.5 and _corner_error(misled.matrix, true, x_mixed.shape) < 0.5
    monkeypatch.setattr(registration, "CANDIDATES_CHECKED", 1)  # the first candidate only, as before:
    assert estimate_similarity(x_mixed, photo).scale == pytest.approx(0.5, rel=0.01)  # the scan of scales finds it
    monkeypatch.setattr(registration, "_scanned", lambda x, image, angles: np.eye(3))  # and without the scan
    assert estimate_similarity(x_mixed, photo).scale != pytest.approx(0.5, rel=0.01)
    alignment = estimate_similarity(x_mixed, photo, scale_prior=0.5)
    assert alignment.scale == pytest.approx(unmisled.scale, rel=1e-4) and _corner_error(alignment.matrix, true, x_mixed.shape) < 0.5
    with pytest.raises(InputError, match="scale prior"):
        estimate_similarity(x_mixed, photo, scale_prior=0.0)


def test_align_puts_the_photograph_on_the_xrays_grid_with_the_xrays_spacing(tmp_path, capsys):
    x_mixed, photo, _ = _photo_at_half_the_pixel_size()
    xray, rgb, out = tmp_path / "x.tif", tmp_path / "photo.png", tmp_path / "aligned.tif"
    tifffile.imwrite(xray, x_mixed.astype(np.float32), resolution=(50.0, 50.0), resolutionunit="CENTIMETER")
    Image.fromarray((np.clip(photo, 0, 1) * 255).astype(np.uint8)).save(rgb, dpi=(254, 254))
    assert main(["align", str(xray), str(rgb), "--out", str(out), "--transform", "similarity"]) == 0
    # the report's scale (4 decimals: 0.4998 or 0.5002 are both the pixel sizes' 0.5)
    assert float(re.search(r"scale (\d\.\d+)", capsys.readouterr().err).group(1)) == pytest.approx(0.5, abs=0.002)
    assert _spacing(out)[0].mm == pytest.approx((0.2, 0.2), rel=1e-6)
    record = json.loads(json.dumps(open_image(out).info["provenance"]))
    assert record["alignment"]["scale_from_pixel_spacings"] == pytest.approx(0.5)
    assert record["pixel_spacing"]["source"] == "TIFF XResolution/YResolution (ResolutionUnit=cm)"
    # Pixel sizes that contradict the images: said (the scale found is the images'), or refused where no
    # pair could have them (a tester's 1e-6 mm ran 159 s, or was "too small to register").
    assert main(["align", str(xray), str(rgb), "--out", str(out), "--overwrite", "--photo-pixel-size", "0.15mm"]) == 0
    said = capsys.readouterr().err
    found = r"The pixel sizes make a photograph pixel 0\.75 X-ray pixels, the alignment 0\.(4998|5|500[0-2]): "
    assert re.search(found, said)
    assert main(["align", str(xray), str(rgb), "--out", str(tmp_path / "no.tif"), "--photo-pixel-size", "10mm"]) == 2
    assert re.search(r"the photograph would span 10\d times the X-ray: one of them is wrong", capsys.readouterr().err)
    assert not (tmp_path / "no.tif").exists()


def test_pixel_sizes_no_pair_could_have_are_refused_and_a_scale_they_miss_is_said():
    check_scale_prior(None, (100, 100), (100, 100))
    check_scale_prior(20.0, (100, 100), (100, 100))  # a photograph 20 times the X-ray's extent: a detail's X-ray
    check_scale_prior(0.5, (10, 10), (100, 100))  # a twentieth
    for prior in (20.5, 0.49):
        with pytest.raises(InputError, match="one of them is wrong"):
            check_scale_prior(prior, (100, 100) if prior > 1 else (10, 10), (100, 100))
    found = Alignment(np.diag([0.5, 0.5, 1.0]), "similarity")
    assert scale_prior_note(found, None) is None and scale_prior_note(found, 0.55) is None  # within 10 %
    assert "0.56 X-ray pixels, the alignment 0.5: one of the pixel sizes" in scale_prior_note(found, 0.56)
    assert scale_prior_note(Alignment(np.eye(3), "translation"), 0.56) is None  # a translation has no scale of its own


# ---------------------------------------------------------------- napari


def test_the_reader_gives_layers_in_mm(tmp_path):
    path = tmp_path / "x.tif"
    tifffile.imwrite(path, GRAY, resolution=(100.0, 50.0), resolutionunit="CENTIMETER")
    _, kwargs, _ = read_image_layer(path)
    assert kwargs["scale"] == pytest.approx((0.2, 0.1)) and kwargs["units"] == ("mm", "mm")
    tifffile.imwrite(path, GRAY)
    assert "scale" not in read_image_layer(path)[1]


@pytest.mark.gui
def test_a_region_drawn_in_mm_or_in_pixels_selects_the_same_pixels(make_napari_viewer):
    from napari_xraysep.plugin.layers import placement

    viewer = make_napari_viewer()
    xray = viewer.add_image(GRAY.astype(np.float32), scale=(0.5, 0.5), units=("mm", "mm"))
    box_mm = np.array([[1.0, 2.0], [1.0, 6.0], [5.0, 6.0], [5.0, 2.0]])  # rows 2–10, columns 4–12 in pixels
    in_world = viewer.add_shapes([box_mm], shape_type="rectangle")  # a Shapes layer made without the scale
    in_pixels = viewer.add_shapes([box_mm / 0.5], shape_type="rectangle", scale=xray.scale, units=xray.units)
    expected = np.zeros(GRAY.shape, bool)
    expected[2:11, 4:13] = True
    for shapes in (in_world, in_pixels):
        np.testing.assert_array_equal(region_mask_from_layer(shapes, GRAY.shape, xray), expected)
    assert region_mask_from_layer(in_world, GRAY.shape).sum() < expected.sum()  # read in its own data: wrong
    # the results of a run are placed, scaled and in units as the X-ray
    assert placement(xray)["units"] == xray.units


@pytest.mark.gui
def test_the_dock_shows_the_scale_bar_and_gives_a_registered_photograph_the_xrays_spacing(make_napari_viewer, tmp_path):
    from napari_xraysep.plugin.inputs import InputsPanel

    viewer = make_napari_viewer()
    path = tmp_path / "x.tif"
    tifffile.imwrite(path, GRAY, resolution=(100.0, 100.0), resolutionunit="CENTIMETER")
    viewer.open(path, plugin="napari-xraysep")
    photo = viewer.add_image(RGB, rgb=True, name="photo")
    panel = InputsPanel(viewer)
    viewer.layers.events.inserted.connect(lambda *_: panel.refresh())  # as the dock does
    panel.refresh()
    assert viewer.canvas.overlays.scale_bar.visible
    assert tuple(photo.scale) == pytest.approx((0.1, 0.1)) and [str(u) for u in photo.units] == ["millimeter"] * 2
    assert viewer.layers.units is not None and str(viewer.layers.units[-1]) == "millimeter"  # the bar reads mm
    region = panel.draw_region()
    assert tuple(region.scale) == pytest.approx((0.1, 0.1)) and region.units == photo.units


def test_saving_a_layer_in_mm_writes_its_scale_as_the_resolution(tmp_path):
    from napari.layers import Image as ImageLayer

    from napari_xraysep.plugin.writer import write_image_tiff

    layer = ImageLayer(GRAY.astype(np.float32), scale=(0.2, 0.1), units=("mm", "mm"))
    path = str(tmp_path / "saved.tif")
    write_image_tiff(path, layer.data, layer._get_state())
    spacing = _spacing(path)[0]
    assert spacing.mm == pytest.approx((0.2, 0.1), rel=1e-6) and spacing.source == "TIFF XResolution/YResolution (ResolutionUnit=cm)"
    write_image_tiff(path, layer.data, ImageLayer(GRAY.astype(np.float32))._get_state())  # in pixels: no resolution
    assert _spacing(path)[0] is None


@pytest.mark.gui
def test_the_align_dock_reads_points_in_each_images_pixels_and_puts_the_result_on_the_xrays_grid(make_napari_viewer):
    viewer = make_napari_viewer()
    _, widget = viewer.window.add_plugin_dock_widget("napari-xraysep", "Align photograph")
    xray = viewer.add_image(np.zeros((40, 60), np.float32), name="xray", scale=(0.2, 0.2), units=("mm", "mm"))
    viewer.add_image(RGB.repeat(3, 0).repeat(3, 1)[:80, :96], name="photo", rgb=True, scale=(0.1, 0.1), units=("mm", "mm"))
    widget.xray_layer.value, widget.rgb_layer.value = xray, viewer.layers["photo"]
    widget.add_point_layers()  # Points layers of napari's default scale: their data are world mm
    # in the images' units (they were in pixels: napari warned of inconsistent units, and showed none)
    assert widget.photo_points.value.units == widget.xray_points.value.units == xray.units
    assert str(viewer.layers.units[-1]) == "millimeter"
    mm = np.array([[1.0, 1.0], [6.0, 2.0], [3.0, 8.0]])
    widget.photo_points.value.data, widget.xray_points.value.data = mm, mm  # the same places on the painting
    aligned = widget.align_from_points()
    record = aligned.metadata["xraysep_alignment"]
    assert record["scale"] == pytest.approx(0.5) and np.allclose(np.asarray(record["matrix_xy"])[:2, 2], 0, atol=1e-6)
    assert tuple(aligned.scale) == pytest.approx((0.2, 0.2)) and aligned.units == xray.units and aligned.data.shape[:2] == (40, 60)
    # Layers' pixel sizes no pair could have are refused before estimating; a scale found off theirs is said.
    viewer.layers["photo"].scale = (5.0, 5.0)  # a photograph pixel 25 X-ray pixels: 45 times the X-ray
    assert widget.align_automatically() is None and "one of them is wrong" in widget.message.text()
    found = Alignment(np.diag([0.5, 0.5, 1.0]), "similarity")
    widget._add_aligned(viewer.layers["photo"], found, aligned.data, prior=0.75)
    assert "0.75 X-ray pixels, the alignment 0.5: one of the pixel sizes" in widget.message.text()


@pytest.mark.gui
def test_a_pixel_size_typed_in_the_dock_puts_the_xray_and_its_photograph_in_mm(make_napari_viewer):
    from napari_xraysep.plugin.inputs import InputsPanel

    viewer = make_napari_viewer()
    xray = viewer.add_image(GRAY, name="xray")
    photo = viewer.add_image(RGB, rgb=True, name="photo")
    panel = InputsPanel(viewer)
    panel.refresh()
    assert "in pixels" in panel.units_hint.text() and not viewer.canvas.overlays.scale_bar.visible
    panel.pixel_size.value = "fine"
    panel.pixel_size.native.editingFinished.emit()
    assert "is not a positive spacing" in panel.units_hint.text() and tuple(xray.scale) == (1, 1)
    # Train refuses it too (a new user's run went on in pixels, the hint under the field unread).
    with pytest.raises(InputError, match="Pixel size 'fine' .* Or clear the Pixel size"):
        panel.chosen()
    for text, mm in (("0.1mm", 0.1), ("254dpi", 0.1), ("50um", 0.05)):  # a second size follows the first
        panel.pixel_size.value = text
        panel.pixel_size.native.editingFinished.emit()
        assert tuple(xray.scale) == pytest.approx((mm, mm)) and tuple(photo.scale) == pytest.approx((mm, mm))
    assert panel.units_hint.text() == "In mm: 0.05 mm per pixel (given by the user as 50um)."
    assert viewer.canvas.overlays.scale_bar.visible and str(viewer.layers.units[-1]) == "millimeter"
    # The view follows the painting to its new size (a tester's canvas stayed black, looking where the
    # pixels had been): it is centred on the X-ray, now 1.2 × 1.6 mm.
    low, high = np.asarray(xray.extent.world)[:, -2:]
    assert np.all((low <= viewer.camera.center[-2:]) & (viewer.camera.center[-2:] <= high))


def test_a_pixel_size_off_by_the_same_factor_is_said_whichever_way() -> None:
    """The 10 % is a factor either way: a photograph's pixel size 11 % too large (0.5 / 0.555 = 0.90 of
    the alignment's scale) passed silently where one 11 % too small was said."""
    found = Alignment(np.diag([0.5, 0.5, 1.0]), "similarity")
    for off in (1.11, 1 / 1.11, 1.5, 1 / 1.5):
        assert scale_prior_note(found, 0.5 * off) is not None
    for off in (1.09, 1 / 1.09):
        assert scale_prior_note(found, 0.5 * off) is None


@pytest.mark.gui
def test_the_dock_s_point_pairs_say_a_scale_off_the_pixel_sizes_as_the_cli_does(make_napari_viewer):
    """`xraysep align --points` warns when the pairs' scale is off the pixel sizes'; the Align dock's point
    pairs did not (only its automatic alignment was checked against them)."""
    from napari_xraysep.plugin.align import AlignmentWidget

    viewer = make_napari_viewer()
    widget = AlignmentWidget(viewer)
    xray = viewer.add_image(np.zeros((40, 60), np.float32), name="xray", scale=(0.2, 0.2), units=("mm", "mm"))
    # The photograph's pixel size is wrong: 0.15 mm where it is 0.1 mm (its features 1.5 times too far apart).
    photo = viewer.add_image(
        RGB.repeat(3, 0).repeat(3, 1)[:80, :96], name="photo", rgb=True, scale=(0.15, 0.15), units=("mm", "mm")
    )
    widget.xray_layer.value, widget.rgb_layer.value = xray, photo
    widget.add_point_layers()
    mm = np.array([[1.0, 1.0], [6.0, 2.0], [3.0, 8.0]])
    widget.photo_points.value.data, widget.xray_points.value.data = 1.5 * mm, mm
    aligned = widget.align_from_points()
    assert aligned.metadata["xraysep_alignment"]["scale"] == pytest.approx(0.5)
    assert "0.75 X-ray pixels, the alignment 0.5: one of the pixel sizes" in widget.message.text()
    # The same pixel size in µm (another plugin's, or the user's, layer) is the same scale, not 1000 times it.
    photo.scale, photo.units = (150.0, 150.0), ("um", "um")
    assert widget._scale_prior() == pytest.approx(0.75)


@pytest.mark.gui
def test_the_same_pixel_size_entered_again_leaves_the_view_where_the_user_put_it(make_napari_viewer):
    # Enter pressed again in the field (or the same size in other words) reset the view: a user zoomed
    # onto a detail was sent back to the whole painting though nothing had moved.
    from napari_xraysep.plugin.inputs import InputsPanel

    viewer = make_napari_viewer()
    xray = viewer.add_image(GRAY, name="xray")
    panel = InputsPanel(viewer)
    panel.refresh()
    panel.pixel_size.value = "0.1mm"
    panel.pixel_size.native.editingFinished.emit()
    viewer.camera.zoom, viewer.camera.center = 40.0, (0.0, 0.3, 0.4)
    for text in ("0.1mm", "100um"):
        panel.pixel_size.value = text
        panel.pixel_size.native.editingFinished.emit()
        assert viewer.camera.zoom == pytest.approx(40.0)
        assert tuple(viewer.camera.center[-2:]) == pytest.approx((0.3, 0.4))
    assert tuple(xray.scale) == pytest.approx((0.1, 0.1)) and "given by the user as 100um" in panel.units_hint.text()


@pytest.mark.gui
def test_the_point_layers_hint_names_the_default_similarity_s_two_pairs(make_napari_viewer):
    # The point pairs default to a similarity (2 pairs), but the hint asked for 3 (affine's) or 4.
    from napari_xraysep.plugin.align import AlignmentWidget

    viewer = make_napari_viewer()
    viewer.add_image(GRAY, name="xray")
    viewer.add_image(RGB, rgb=True, name="photo")
    widget = AlignmentWidget(viewer)
    widget.add_point_layers()
    assert widget.transform.value == "similarity" and "2 pairs for a similarity (the default)" in widget.message.text()


def test_a_stack_in_other_units_is_told_its_rows_and_columns_not_its_depth():
    from napari.layers import Image as ImageLayer

    from napari_xraysep.plugin.layers import check_units

    xray = ImageLayer(GRAY, name="xray")
    for data, rgb in ((np.stack([RGB] * 3), True), (np.stack([GRAY] * 5), False)):
        layer = ImageLayer(data, rgb=rgb, name="stack", scale=(1, 0.1, 0.1), units=("mm", "mm", "mm"))
        with pytest.raises(InputError) as said:
            check_units(layer, xray)
        assert "is a stack of images" in str(said.value) and "choose a 2-D image" in str(said.value)
        assert "Type the X-ray's pixel size" not in str(said.value) and "pixels to the X-ray's" not in str(said.value)


@pytest.mark.gui
def test_an_xray_opened_with_napari_s_own_reader_is_said_to_be_a_negative(make_napari_viewer, tmp_path, qtbot):
    """A new user dropped a MinIsWhite X-ray on the window and took napari's reader: the layer was a
    negative (correlation −1.00 with the radiograph), said only after training, with no word of why."""
    from conftest import dock, wait_done

    from napari_xraysep.plugin.layers import reader_note

    stored = (GRAY / GRAY.max() * 60000).astype(np.uint16)
    tifffile.imwrite(
        tmp_path / "neg.tif", 65535 - stored, photometric="miniswhite", resolution=(100, 100),
        resolutionunit="CENTIMETER",
    )
    tifffile.imwrite(tmp_path / "plain.tif", stored, photometric="minisblack")
    viewer = make_napari_viewer()
    theirs = viewer.open(tmp_path / "neg.tif", plugin="napari")[0]
    ours = viewer.open(tmp_path / "neg.tif", plugin="napari-xraysep")[0]
    plain = viewer.open(tmp_path / "plain.tif", plugin="napari")[0]
    np.testing.assert_array_equal(np.asarray(ours.data), stored)  # what the separation should be given
    assert reader_note(ours) is None and reader_note(plain) is None  # read alike by either reader
    assert reader_note(theirs) == (
        "'neg' was opened with napari's reader: it is shown as a negative (its file is MINISWHITE) and without its "
        "file's pixel size. Open it again choosing napari-xraysep as its reader (where napari no longer asks: "
        "File ▸ Preferences ▸ Plugins, File extension readers)."
    )
    viewer.layers.remove(ours)
    viewer.add_image(RGB, rgb=True, name="photo")
    widget = dock(viewer, steps=1)
    widget.inputs.xray.value = theirs
    assert widget.inputs.units_hint.text().startswith("'neg' was opened with napari's reader")
    # Its file has a pixel size: not "its file gives no pixel size" (a breaker's contradiction).
    assert widget.inputs.units_hint.text().endswith("File extension readers). The X-ray is in pixels.")
    widget.train()  # the run goes on (the user may mean it), and says it in red
    wait_done(qtbot, widget)
    assert "Warning: 'neg' was opened with napari's reader" in widget.message.text()
