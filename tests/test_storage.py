"""A model applied to a photograph or side channel stored otherwise than its training's (core/storage.py)."""

import warnings

import numpy as np
import pytest
import tifffile

from napari_xraysep import separate
from napari_xraysep.cli import main
from napari_xraysep.core.data import Normalisation
from napari_xraysep.core.sources import Sources
from napari_xraysep.core.storage import SIDE_UNITS_RATIO, in_storage_of, storage_top
from napari_xraysep.datasets.synthetic import make_mixture


@pytest.mark.parametrize(
    ("dtype", "high", "top"),
    [
        (np.uint8, 3.0, 255.0),  # 8-bit is 8-bit, however dark
        (np.uint16, 52000.0, 65535.0),
        (np.uint16, 200.0, 255.0),  # a 16-bit photograph as dark as an 8-bit one: read as it is
        (np.float32, 0.97, 1.0),
        (np.float32, 1.0000001, 1.0),  # rounding above 1
        (np.float64, 240.0, 255.0),
        (None, 29.0 + 194.0, 255.0),  # a model's normalisation: its high end
        (np.float32, 1e6, None),  # floats in units of their own
    ],
)
def test_the_storage_top_by_hand(dtype, high, top):
    assert storage_top(dtype, high) == top


@pytest.fixture(scope="module")
def painting():
    case = make_mixture("concealed_portrait", (160, 200), seed=1)
    photo8 = np.round(case.rgb_surface * 255).astype(np.uint8)
    return case, photo8, separate(case.x_mixed, photo8, steps=2, device="cpu").model


def test_a_photograph_stored_otherwise_is_read_as_the_same_colours(painting):
    case, photo8, model = painting
    same, said = in_storage_of(model, Sources(case.x_mixed, photo8))
    assert same is model and said == []
    for stored, factor, words in [
        (photo8.astype(np.uint16) * 257, 257.0, "stored 16-bit (0–65535), the model's was 8-bit (0–255)"),
        (photo8 / np.float32(255), 1 / 255, "stored as floats 0–1, the model's was 8-bit (0–255)"),
    ]:
        carried, said = in_storage_of(model, Sources(case.x_mixed, stored))
        assert len(said) == 1 and words in said[0]
        assert carried.rgb_normalisation.offset == pytest.approx(model.rgb_normalisation.offset * factor)
        assert carried.rgb_normalisation.scale == pytest.approx(model.rgb_normalisation.scale * factor)
        # The same unit-range photograph, so the same results (8-bit levels × 257 are exact).
        np.testing.assert_allclose(
            carried.rgb_normalisation.to_unit(stored), model.rgb_normalisation.to_unit(photo8), atol=1e-6
        )
        assert model.rgb_normalisation == painting[2].rgb_normalisation  # the caller's model unchanged


def test_a_side_channel_in_other_units_is_read_by_its_own_range():
    model_map = Normalisation(offset=-0.05, scale=0.98)  # a map stored 0–1
    from napari_xraysep.core.trained import TrainedModel

    model = TrainedModel(None, None, Normalisation(0, 1), Normalisation(0, 255), side_normalisations=(model_map,))
    rng = np.random.default_rng(0)
    x, photo = rng.random((64, 64)), (rng.random((64, 64, 3)) * 255).astype(np.uint8)
    content = rng.random((64, 64))
    kept, said = in_storage_of(model, Sources(x, photo, side_channels=[content * 2.5]))  # another painting's map
    assert kept is model and said == []
    counts = np.round(content * 5000).astype(np.uint16)
    carried, said = in_storage_of(model, Sources(x, photo, side_channels=[counts]))
    assert len(said) == 1 and "Side channel 1 spans" in said[0] and "read by its own range" in said[0]
    assert carried.side_normalisations[0] == Normalisation.fit(counts.astype(np.float64))
    assert carried.side_normalisations[0].scale / model_map.scale > SIDE_UNITS_RATIO


def test_apply_of_an_8_bit_models_to_a_16_bit_photograph_gives_the_8_bit_results(painting, tmp_path, capsys):
    case, photo8, model = painting
    from napari_xraysep import save_model

    save_model(model, tmp_path / "model.pt")
    xray = tmp_path / "x.tif"
    tifffile.imwrite(xray, case.x_mixed)
    results = {}
    for name, stored in [("8", photo8), ("16", photo8.astype(np.uint16) * 257)]:
        tifffile.imwrite(tmp_path / f"rgb{name}.tif", stored)
        out = tmp_path / f"out{name}"
        rgb = str(tmp_path / f"rgb{name}.tif")
        assert main(["apply", str(tmp_path / "model.pt"), str(xray), rgb, "--out", str(out)]) == 0
        results[name] = tifffile.imread(out / "x2.tif")
        err = capsys.readouterr().err
        assert ("stored 16-bit (0–65535), the model's was 8-bit" in err) == (name == "16")
        assert "not in the units" not in err  # the X-ray is not blamed
    np.testing.assert_allclose(results["16"], results["8"], atol=1e-4 * np.ptp(case.x_mixed))
    # In memory too (separate with the model, no training)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        again = separate(case.x_mixed, photo8.astype(np.uint16) * 257, model=model, steps=0, device="cpu")
    assert any("stored 16-bit" in str(warning.message) for warning in caught)
    np.testing.assert_allclose(again.x2, results["8"], atol=1e-4 * np.ptp(case.x_mixed))


def test_side_channels_given_in_another_order_are_refused_and_other_names_said():
    from napari_xraysep.core.errors import InputError
    from napari_xraysep.core.storage import side_order
    from napari_xraysep.core.trained import TrainedModel

    model = TrainedModel(None, None, Normalisation(0, 1), Normalisation(0, 255), side_names=("cu_map", "ir"))
    x, photo, maps = np.zeros((8, 8)), np.zeros((8, 8, 3), np.uint8), [np.zeros((8, 8))] * 2
    assert side_order(model, Sources(x, photo, side_channels=maps, side_names=["cu_map", "ir"])) is None
    with pytest.raises(InputError, match=r"another order than the model reads them \(1 'cu_map', 2 'ir'\)"):
        side_order(model, Sources(x, photo, side_channels=maps, side_names=["ir", "cu_map"]))
    other = side_order(model, Sources(x, photo, side_channels=maps, side_names=["p2_cu", "p2_ir"]))
    assert other.startswith("The model reads its side channels as its training's: 1 'cu_map', 2 'ir'")
    assert side_order(model, Sources(x, photo, side_channels=maps)) is None  # arrays without names
    unnamed = TrainedModel(None, None, Normalisation(0, 1), Normalisation(0, 255))  # a model saved before names
    assert side_order(unnamed, Sources(x, photo, side_channels=maps, side_names=["ir", "cu_map"])) is None


def test_the_cli_keeps_the_side_channels_names_in_the_model_and_refuses_them_swapped(tmp_path, capsys):
    from napari_xraysep import load_model

    case = make_mixture("concealed_portrait", (96, 128), seed=2)
    xray, photo = tmp_path / "x.tif", tmp_path / "rgb.tif"
    tifffile.imwrite(xray, case.x_mixed)
    tifffile.imwrite(photo, np.round(case.rgb_surface * 255).astype(np.uint8))
    maps = [tmp_path / "cu_map.tif", tmp_path / "ir.tif"]
    tifffile.imwrite(maps[0], case.rgb_surface[..., 0].astype(np.float32))
    tifffile.imwrite(maps[1], case.rgb_surface[..., 2].astype(np.float32))
    sides = ["--side", str(maps[0]), "--side", str(maps[1])]
    fit = ["--out", str(tmp_path / "fit"), "--steps", "2", "--quiet"]
    assert main(["separate", str(xray), str(photo), *sides, *fit]) == 0
    assert load_model(tmp_path / "fit" / "model.pt").side_names == ("cu_map", "ir")
    swapped = ["--side", str(maps[1]), "--side", str(maps[0])]
    model = str(tmp_path / "fit" / "model.pt")
    assert main(["apply", model, str(xray), str(photo), *swapped, "--out", str(tmp_path / "swapped"), "--quiet"]) == 2
    assert "another order than the model reads them (1 'cu_map', 2 'ir')" in capsys.readouterr().err
    assert main(["apply", model, str(xray), str(photo), *sides, "--out", str(tmp_path / "same"), "--quiet"]) == 0


def test_what_a_model_needs_in_words():
    from napari_xraysep.core.trained import TrainedModel

    unit = Normalisation(0, 1)
    assert TrainedModel(None, None, unit, unit, double_sided=True).needs() == "a double-sided panel's two photographs"
    sides = {"side_normalisations": (unit, unit), "side_names": ("cu", "ir")}
    named = TrainedModel(None, None, unit, unit, **sides, double_sided=False)
    assert named.needs() == "one photograph and 2 side channels in this order: 'cu', 'ir'"
    one = TrainedModel(None, None, unit, unit, side_normalisations=(unit,), side_names=("cu",), double_sided=False)
    assert one.needs() == "one photograph and 1 side channel ('cu')"
    unnamed = TrainedModel(None, None, unit, unit, side_normalisations=(unit, unit))  # saved before either was kept
    assert unnamed.needs() == "a photograph (or a double-sided panel's two: not recorded) and 2 side channels in this order"
