"""A model applied to a photograph or side channel stored otherwise than its training's (core/storage.py)."""

import dataclasses
import warnings

import numpy as np
import pytest
import tifffile

from napari_xraysep import separate
from napari_xraysep.cli import main
from napari_xraysep.core.data import Normalisation
from napari_xraysep.core.sources import Sources
from napari_xraysep.core.storage import in_storage_of, side_order, storage_top
from napari_xraysep.datasets.synthetic import make_mixture


@pytest.mark.parametrize(
    ("dtype", "high", "top"),
    [
        (np.uint8, 3.0, 255.0),  # an integer type's full scale, however dark
        (np.uint16, 4000.0, 65535.0),  # a 12-bit camera's file or a dark one: only the user knows (said)
        (np.float32, 0.97, 1.0),
        (np.float32, 1.12, 1.0),  # a processed photograph overshoots 1
        (np.float64, 240.0, 255.0),
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
    assert model.rgb_storage == ("uint8", 255.0)  # kept by the fit
    same, said = in_storage_of(model, Sources(case.x_mixed, photo8))
    assert same is model and said == []
    twelve = (photo8.astype(np.int32) * 4095 // 255).astype(np.uint16)  # a 12-bit camera's file, unscaled
    for stored, factor, words in [
        (photo8.astype(np.uint16) * 257, 257.0, "stored 16-bit (0–65535), the model's was 8-bit (0–255)"),
        (twelve, 257.0, "if it is a 12-bit camera's file, not scaled to 16 bits, scale it"),
        (photo8 / np.float32(255), 1 / 255, "stored as floats 0–1, the model's was 8-bit (0–255)"),
    ]:
        carried, said = in_storage_of(model, Sources(case.x_mixed, stored))
        assert len(said) == 1 and words in said[0], said
        assert carried.rgb_normalisation.offset == pytest.approx(model.rgb_normalisation.offset * factor)
        assert carried.rgb_normalisation.scale == pytest.approx(model.rgb_normalisation.scale * factor)
        if stored is not twelve:  # the same unit-range photograph (8-bit levels × 257 are exact)
            np.testing.assert_allclose(
                carried.rgb_normalisation.to_unit(stored), model.rgb_normalisation.to_unit(photo8), atol=1e-6
            )
    assert model.rgb_normalisation == painting[2].rgb_normalisation  # the caller's model unchanged


def test_a_float_photograph_applied_to_itself_is_never_rescaled():
    # A breaker's: a float photograph overshooting 1 here and there, its model's robust range just under 1.
    case = make_mixture("concealed_portrait", (96, 128), seed=4)
    over = (case.rgb_surface * 1.12).astype(np.float32)
    model = separate(case.x_mixed, over, steps=2, device="cpu").model
    assert model.rgb_storage == ("float32", 1.0)
    assert in_storage_of(model, Sources(case.x_mixed, over)) == (model, [])
    old = dataclasses.replace(model, rgb_storage=None)  # a model file from before: read from its normalisation
    assert in_storage_of(old, Sources(case.x_mixed, over)) == (old, [])
    assert in_storage_of(old, Sources(case.x_mixed, np.round(np.clip(over, 0, 1) * 255).astype(np.uint8)))[1]


def test_a_side_channel_stored_otherwise_is_said_not_changed():
    from napari_xraysep.core.trained import TrainedModel

    unit = Normalisation(0, 1)
    sides = {"side_normalisations": (Normalisation(-0.05, 0.98),), "side_dtypes": ("float32",)}
    model = TrainedModel(None, None, unit, Normalisation(0, 255), **sides, rgb_storage=("uint8", 255.0))
    rng = np.random.default_rng(0)
    x, photo = rng.random((64, 64)), (rng.random((64, 64, 3)) * 255).astype(np.uint8)
    sparse_map = np.zeros((64, 64), np.float32)  # another painting with hardly any of the element: not said
    assert in_storage_of(model, Sources(x, photo, side_channels=[sparse_map]))[1] == []
    counts = np.round(rng.random((64, 64)) * 5000).astype(np.uint16)
    kept, said = in_storage_of(model, Sources(x, photo, side_channels=[counts]))
    assert kept.side_normalisations == model.side_normalisations  # units of a map cannot be known: not changed
    assert len(said) == 1 and "Side channel 1 is stored as uint16, the model's was float32" in said[0]


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


def test_side_channels_with_the_models_names_in_another_order_are_said():
    from napari_xraysep.core.trained import TrainedModel

    model = TrainedModel(None, None, Normalisation(0, 1), Normalisation(0, 255), side_names=("cu_map", "ir"))
    x, photo, maps = np.zeros((8, 8)), np.zeros((8, 8, 3), np.uint8), [np.zeros((8, 8))] * 2

    def said(names):
        return side_order(model, Sources(x, photo, side_channels=maps, side_names=names))

    assert said(["cu_map", "ir"]) is None
    swapped, other = said(["ir", "cu_map"]), said(["p2_cu", "p2_ir"])
    assert swapped.startswith(
        "The side channels given (1 'ir', 2 'cu_map') carry the model's names in another order (it read 1 'cu_map', 2 'ir')"
    )
    assert other.startswith("The model reads its side channels as its training's: 1 'cu_map', 2 'ir'; given: 1 'p2_cu'")
    # Another painting's maps: told apart by the words their names do not share (a tester's swapped Cu
    # and Fe maps of a second painting were only to be "checked"); maps of other elements are never
    # taken for the same (a breaker's Cu_K, Cu_L for Fe_K, Fe_L passed silently, letter by letter).
    def given(trained, names):
        model = TrainedModel(None, None, Normalisation(0, 1), Normalisation(0, 255), side_names=trained)
        return side_order(model, Sources(x, photo, side_channels=maps, side_names=names))

    swapped = given(("p_s0_Cu-K", "p_s0_Fe-K"), ("q_s1_fe-k", "q_s1_cu-k"))
    assert "(1 'q_s1_fe-k', 2 'q_s1_cu-k') look like the model's in another order" in swapped
    assert "differ in 'fe', 'cu' where the model's read 'cu', 'fe'" in swapped
    for trained, names in (
        (("p_s0_Cu-K", "p_s0_Fe-K"), ("q_s1_Cu-K", "q_s1_Fe-K")),  # the same kinds in order: still to check
        (("Cu_K", "Cu_L"), ("Fe_K", "Fe_L")), (("Pb-L", "Pb-M"), ("Hg-L", "Hg-M")), (("Sn", "Zn"), ("Sr", "Zr")),
        (("Sn", "Zn"), ("Zr", "Sr")),
    ):
        assert given(trained, names).startswith("The model reads its side channels as its training's"), names
    assert "look like the model's in another order" in given(("İ_Cu", "İ_Fe"), ("J_Fe", "J_Cu"))
    assert said([]) is None and said(["map", "map"]) is None  # no names, or names that tell nothing
    unnamed = TrainedModel(None, None, Normalisation(0, 1), Normalisation(0, 255))  # a model saved before names
    assert side_order(unnamed, Sources(x, photo, side_channels=maps, side_names=["ir", "cu_map"])) is None


def test_the_cli_keeps_the_side_channels_names_in_the_model_and_says_them_swapped(tmp_path, capsys):
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
    kept = load_model(tmp_path / "fit" / "model.pt")  # names and storage saved, and read back
    assert kept.side_names == ("cu_map", "ir") and kept.side_dtypes == ("float32", "float32")
    assert kept.rgb_storage == ("uint8", 255.0)
    swapped = ["--side", str(maps[1]), "--side", str(maps[0])]
    model = str(tmp_path / "fit" / "model.pt")
    # another painting's maps may be named the other way round: said, not refused
    assert main(["apply", model, str(xray), str(photo), *swapped, "--out", str(tmp_path / "swapped"), "--quiet"]) == 0
    assert "carry the model's names in another order (it read 1 'cu_map', 2 'ir')" in capsys.readouterr().err
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
    needs = "a photograph (or a double-sided panel's two: not recorded) and 2 side channels in this order"
    assert unnamed.needs() == needs


def test_a_float_photographs_storage_is_not_its_outliers_and_checkpoints_carry_it(painting):
    case, photo8, model = painting
    from napari_xraysep.core.storage import photograph_storage

    floats = photo8 / np.float32(255)
    floats[3, 4, 0], floats[5, 6, 1], floats[7, 8, 2] = 1.6, np.inf, np.nan  # a hot pixel, an infinity, a gap
    assert photograph_storage(floats) == ("float32", 1.0)  # a breaker's: one pixel at 1.6 read it as 0–255
    carried, said = in_storage_of(model, Sources(case.x_mixed, floats))
    assert carried.rgb_normalisation.scale == pytest.approx(model.rgb_normalisation.scale / 255) and said
    # Continued on a 16-bit photograph, every checkpoint says the storage its normalisation is in.
    kept = []
    photo16 = photo8.astype(np.uint16) * 257
    separate(case.x_mixed, photo16, model=model, steps=3, device="cpu", checkpoint=kept.append, checkpoint_every_s=0)
    assert kept and all(checkpoint.rgb_storage == ("uint16", 65535.0) for checkpoint in kept)
    assert in_storage_of(kept[0], Sources(case.x_mixed, photo16)) == (kept[0], [])
    back, said = in_storage_of(kept[0], Sources(case.x_mixed, photo8))
    assert back.rgb_normalisation.scale == pytest.approx(model.rgb_normalisation.scale) and said
