"""What a hostile round of 0.3 found, and what each now does (docs/troubleshooting.md, round 4)."""

import shutil
import warnings

import numpy as np
import pytest
import tifffile

from napari_xraysep.cli import main
from napari_xraysep.core.regions import painting_support
from napari_xraysep.core.errors import InputError

TINY = ["--steps", "1", "--device", "cpu", "--quiet", "--set", "clusters=4"]


@pytest.fixture
def tiff_inputs(tiny_mixture, tmp_path):
    xray, rgb = tmp_path / "xray.tif", tmp_path / "rgb.tif"
    tifffile.imwrite(xray, (tiny_mixture.x_mixed / tiny_mixture.x_mixed.max() * 60000).astype(np.uint16))
    tifffile.imwrite(rgb, (tiny_mixture.rgb_surface * 255).astype(np.uint8), photometric="rgb")
    return xray, rgb


def test_a_photograph_with_alpha_is_said_once(tiff_inputs, tiny_mixture, tmp_path, capsys):
    xray, _ = tiff_inputs
    rgba = tmp_path / "rgba.tif"
    opaque = np.full(tiny_mixture.x_mixed.shape + (1,), 255, np.uint8)
    tifffile.imwrite(rgba, np.concatenate([(tiny_mixture.rgb_surface * 255).astype(np.uint8), opaque], -1), photometric="rgb", extrasamples=["unassalpha"])
    assert main(["separate", str(xray), str(rgba), "--out", str(tmp_path / "out"), *TINY]) == 0
    assert capsys.readouterr().err.count("alpha channel") == 1


def test_a_painting_area_box_is_called_the_painting_area():
    with pytest.raises(InputError, match=r"^The painting area 200,200,300,300 lies wholly outside the 100×100 image\.$"):
        painting_support((200, 200, 300, 300), (100, 100))
    with pytest.warns(UserWarning, match=r"^The painting area -5,0,50,50 reaches outside"):
        painting_support((-5, 0, 50, 50), (100, 100))
    with pytest.raises(InputError, match="^A painting area needs four finite numbers"):
        painting_support((0, 0, np.nan, 5), (100, 100))


def test_a_dicom_rescale_slope_of_zero_is_named(tmp_path):
    from test_reading import _dicom

    from napari_xraysep.io import open_image

    path = _dicom(tmp_path / "flat.dcm", (np.arange(40 * 56).reshape(40, 56) % 4000).astype(np.uint16), slope=0.0, intercept=100.0)
    with pytest.raises(InputError, match=r"flat\.dcm has RescaleSlope=0 \(0028,1053; top level\) with RescaleIntercept=100"):
        open_image(path)


def test_a_cmyk_tiff_is_called_cmyk(tmp_path):
    from napari_xraysep.io import open_image

    tifffile.imwrite(tmp_path / "cmyk.tif", np.zeros((8, 8, 4), np.uint8), photometric="separated")
    with pytest.raises(InputError, match="stores its colours as CMYK, which") as refused:
        open_image(tmp_path / "cmyk.tif")
    assert "SEPARATED" not in str(refused.value)


def test_the_pixel_size_given_is_said_without_nested_brackets():
    from napari_xraysep.io.spacing import chosen_spacing

    assert chosen_spacing("0.1mm", {}, "x.tif").describe() == "0.1 mm per pixel (given by the user as 0.1mm)"


def test_a_tiff_whose_size_its_strips_do_not_cover_is_refused_in_one_line_without_tifffiles_log(tmp_path, caplog):
    import struct

    from napari_xraysep.io import open_image

    path = tmp_path / "huge.tif"
    tifffile.imwrite(path, np.zeros((16, 16), np.uint16))
    with tifffile.TiffFile(path) as tif:
        width, length = tif.pages[0].tags["ImageWidth"].valueoffset, tif.pages[0].tags["ImageLength"].valueoffset
    data = bytearray(path.read_bytes())
    struct.pack_into("<I", data, width, 200000)  # claims 200000² with the one strip of 16 rows
    struct.pack_into("<I", data, length, 200000)
    path.write_bytes(bytes(data))
    with pytest.raises(InputError, match=r"^Cannot read huge\.tif: it says it is 200000×200000 pixels, which needs 12500 strips"):
        open_image(path)
    assert not [record for record in caplog.records if record.name == "tifffile"]


def test_a_flat_photograph_gives_no_scikit_image_rms_warning():
    from napari_xraysep.core.edges import phase_correlation, rotation_and_scale

    edges = np.random.default_rng(0).random((64, 64))
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        shift = phase_correlation(edges, np.zeros((64, 64)))
        rotation_and_scale(edges, np.zeros((64, 64)))
    assert [str(w.message) for w in caught] == []
    assert all(np.isfinite(shift))


# ------------------------------------------------------------------ a model applied as it was fitted

FIT = {"steps": 1, "device": "cpu", "clusters": 4}


@pytest.fixture(scope="module")
def one_and_two_sided(tiny_mixture):
    from napari_xraysep import separate

    m = tiny_mixture
    single = separate(m.x_mixed, m.rgb_surface, **FIT).model
    double = separate(m.x_mixed, m.rgb_surface, rgb_back=m.rgb_hidden, **FIT).model
    return single, double


def test_a_model_records_whether_it_was_fitted_double_sided_and_its_file_keeps_it(one_and_two_sided, tmp_path):
    from napari_xraysep import load_model, save_model

    single, double = one_and_two_sided
    assert (single.double_sided, double.double_sided) == (False, True)
    for model in (single, double):
        with warnings.catch_warnings():
            warnings.simplefilter("error")
            assert load_model(save_model(model, tmp_path / "model.pt")).double_sided is model.double_sided


def test_applying_a_model_with_the_other_number_of_sides_is_refused(one_and_two_sided, tiny_mixture):
    from napari_xraysep import separate

    single, double = one_and_two_sided
    m = tiny_mixture
    with pytest.raises(InputError, match="^The model was fitted to a single photograph, not a double-sided panel"):
        separate(m.x_mixed, m.rgb_surface, rgb_back=m.rgb_hidden, model=single, steps=0)
    with pytest.raises(InputError, match="^The model was fitted to a double-sided panel"):
        separate(m.x_mixed, m.rgb_surface, model=double, steps=0)
    assert np.isfinite(separate(m.x_mixed, m.rgb_surface, rgb_back=m.rgb_hidden, model=double, steps=0).x2).all()
    # continuing a model's training on the other kind of panel is the warm start's use: allowed, and recorded
    assert separate(m.x_mixed, m.rgb_surface, model=double, **FIT).model.double_sided is False


def test_xraysep_apply_refuses_a_back_photograph_for_a_single_sided_model(one_and_two_sided, tiff_inputs, tmp_path, capsys):
    from napari_xraysep import save_model

    xray, rgb = tiff_inputs
    model = save_model(one_and_two_sided[0], tmp_path / "single.pt")
    out = tmp_path / "out"
    back = tmp_path / "back.tif"  # the front's own file as the back is refused first (given twice)
    shutil.copy(rgb, back)
    assert main(["apply", str(model), str(xray), str(rgb), "--rgb-back", str(back), "--out", str(out), "--quiet"]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert err == ["xraysep: error: The model was fitted to a single photograph, not a double-sided panel: apply it "
                   "without the back side's photograph, or fit a model to both sides."]
    assert not out.exists()


def test_older_model_files_are_inferred_or_said_to_be_unchecked():
    from pathlib import Path

    from napari_xraysep import load_model

    data = Path(__file__).parent / "data"
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert load_model(data / "model_format_1.pt").double_sided is False  # its losses hold the exclusion term
    with pytest.warns(UserWarning, match="does not record whether it was fitted to a double-sided panel"):
        assert load_model(data / "model_format_2.pt").double_sided is None  # a colour map: cannot tell
