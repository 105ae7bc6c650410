"""One way through a run: :func:`napari_xraysep.pipeline.iter_run`, which every face drives."""

import ast
import json
from pathlib import Path

import numpy as np
import pytest
import tifffile
from conftest import TINY, drain

import napari_xraysep
from napari_xraysep import separate
from napari_xraysep.core import RESULT_LAYERS, InputError, areas
from napari_xraysep.core.sources import Sources
from napari_xraysep.core.streaming import TileProgress
from napari_xraysep.core.training import TrainingProgress
from napari_xraysep.pipeline import AlignmentNote, PaintingResult, iter_run

PACKAGE = Path(napari_xraysep.__file__).parent


def test_an_image_in_memory_is_separated_as_separate_does_after_its_alignment_note(tiny_mixture):
    m = tiny_mixture
    events, result = drain(iter_run(Sources(m.x_mixed, m.rgb_surface), m.region_mask, **TINY))
    assert events[0] == AlignmentNote("")  # registered: nothing to say, said first
    training, applying = events[1 : 1 + TINY["steps"]], events[1 + TINY["steps"]:]
    assert all(isinstance(event, TrainingProgress) for event in training)
    assert [(event.what, event.done, event.total) for event in applying] == [("applying the model", k, 4) for k in range(1, 5)]
    reference = separate(m.x_mixed, m.rgb_surface, m.region_mask, **TINY)
    for name in RESULT_LAYERS:
        np.testing.assert_array_equal(getattr(result, name), getattr(reference, name))


def test_given_a_folder_the_run_is_written_there_as_one_set_with_its_record(tiny_mixture, tmp_path):
    m, out = tiny_mixture, tmp_path / "results"
    _, result = drain(iter_run(
        Sources(m.x_mixed, m.rgb_surface), m.region_mask, out=out, checkpoint=Path("model.pt"), record={"inputs": {"xray": "x.tif"}}, **TINY
    ))
    written = {p.name for p in out.iterdir()}
    assert written == {f"{name}.tif" for name in RESULT_LAYERS} | {"model.pt", "run.json"}
    np.testing.assert_array_equal(tifffile.imread(out / "x2.tif"), result.x2)
    record = json.loads((out / "run.json").read_text())
    assert record["inputs"] == {"xray": "x.tif"} and record["steps_trained"] == TINY["steps"]
    assert [p for p in tmp_path.iterdir() if p != out] == []  # no staging folder left beside it


def test_a_shifted_photograph_is_said_before_the_run_not_refused(tiny_mixture):
    m = tiny_mixture
    shifted = np.roll(m.rgb_surface, (4, -5), axis=(0, 1))
    steps = iter_run(Sources(m.x_mixed, shifted), m.region_mask, **TINY)
    note = next(steps)
    assert isinstance(note, AlignmentNote) and "align" in note.text
    steps.close()


def test_run_json_records_what_auto_settings_became_and_the_weave_apart_from_the_losses(tiny_mixture, tmp_path):
    """settings stay the user's (steps None, device auto: the model file round-trips); ``resolved``
    says what they became; the weave's threads have a key of their own, not among the losses."""
    m, out = tiny_mixture, tmp_path / "results"
    drain(iter_run(Sources(m.x_mixed, m.rgb_surface), None, out=out, method="colour_map"))
    record = json.loads((out / "run.json").read_text())
    assert record["settings"]["steps"] is None and record["settings"]["device"] == "auto"
    assert record["resolved"] == {"steps": 12, "device": "cpu"}  # the colour map's default steps; no GPU in tests
    assert record["steps_trained"] == len(record["loss_history"]) == 12
    assert all(set(losses) == {"total", "residual_scale"} for losses in record["loss_history"])
    assert set(record["final_losses"]) == {"total", "residual_scale"}
    threads = record["weave_threads"]
    assert threads["peaks"] == len(threads["frequencies_cycles_per_px"]) == len(threads["periods_px"]) == 2
    assert 5 < min(threads["periods_px"]) < max(threads["periods_px"]) < 10  # the sample's threads: 5.5–9 px
    assert threads["combinations"] == [False, False]  # warp and weft: no crossing, no harmonic
    assert record["alignment"] == {"warning": None}  # registered: nothing was said


def test_run_json_keeps_the_alignment_warning_said_on_screen(tiny_mixture, tmp_path):
    m, out = tiny_mixture, tmp_path / "results"
    shifted = np.roll(m.rgb_surface, (4, -5), axis=(0, 1))
    events, _ = drain(iter_run(Sources(m.x_mixed, shifted), m.region_mask, out=out, **TINY))
    record = json.loads((out / "run.json").read_text())
    assert "align the photograph" in events[0].text and record["alignment"] == {"warning": events[0].text}
    assert record["weave_threads"] is None  # the auto-encoder seeks no weave
    assert record["resolved"] == {"steps": TINY["steps"], "device": "cpu"}


def test_an_empty_region_is_no_region_for_the_colour_map_and_an_error_in_the_autoencoders_terms(tiny_mixture, monkeypatch, tmp_path):
    """The colour map needs no region (one only lowers its pixels' weight): an empty one is run as none,
    said in one warning; the auto-encoder, whose labeled surface X-ray needs it, refuses it in its terms."""
    m = tiny_mixture
    empty = np.zeros(m.x_mixed.shape, bool)
    settings = {"method": "colour_map", "steps": 2, "clusters": 8, "region_weight": 0.5, "device": "cpu"}
    with pytest.warns(UserWarning, match="^The region selects no pixel; the colour map needs none") as said:
        result = separate(m.x_mixed, m.rgb_surface, empty, **settings)
    assert sum("selects no pixel" in str(w.message) for w in said) == 1
    np.testing.assert_array_equal(result.x2, separate(m.x_mixed, m.rgb_surface, None, **settings).x2)
    with pytest.raises(InputError, match="labeled surface X-ray"):
        separate(m.x_mixed, m.rgb_surface, empty, **TINY)
    # a whole painting: trained where it would be without a region (in the middle), not refused
    monkeypatch.setattr(areas, "LARGE_IMAGE_PIXELS", 1000)
    with pytest.warns(UserWarning, match="selects no pixel"):
        _, painting = drain(iter_run(Sources(m.x_mixed, m.rgb_surface), empty, out=tmp_path / "whole", **settings))
    assert painting.area == areas.central_area(m.x_mixed.shape)


def test_a_whole_painting_is_trained_on_its_area_and_applied_into_the_folder(tiny_mixture, tmp_path, monkeypatch):
    monkeypatch.setattr(areas, "LARGE_IMAGE_PIXELS", 1000)  # 48×64 counts as a whole painting
    m = tiny_mixture
    with pytest.raises(InputError, match="give the folder"):
        next(iter_run(Sources(m.x_mixed, m.rgb_surface), m.region_mask, **TINY))
    events, result = drain(iter_run(Sources(m.x_mixed, m.rgb_surface), m.region_mask, out=tmp_path / "whole", **TINY))
    assert isinstance(events[0], AlignmentNote)
    assert any(isinstance(e, TrainingProgress) for e in events) and isinstance(events[-1], TileProgress)
    assert isinstance(result, PaintingResult) and set(result.paths) == set(RESULT_LAYERS)
    record = json.loads((tmp_path / "whole" / "run.json").read_text())
    assert record["software"]["napari-xraysep"] == napari_xraysep.__version__ and record["shape"] == list(m.x_mixed.shape)
    assert record["alignment"] == {"warning": None} and record["resolved"] == {"steps": TINY["steps"], "device": "cpu"}
    # measured on the training area, as in memory: its correlations and the warning given (or None)
    assert set(record["photograph_fit"]) == {"correlation", "warning", "lightness_correlation"}
    assert -1 <= record["photograph_fit"]["correlation"] <= 1


@pytest.mark.parametrize("face", ["cli/commands.py", "cli/demo.py", "plugin/runner.py"])
def test_the_faces_start_runs_only_through_iter_run(face):
    """No face calls the core's separation or the whole-painting path itself: the dispatch, the
    alignment check and the result set live once, in the pipeline."""
    tree = ast.parse((PACKAGE / face).read_text())
    called = {node.func.id for node in ast.walk(tree) if isinstance(node, ast.Call) and isinstance(node.func, ast.Name)}
    assert "iter_run" in called
    assert not called & {"iter_separate", "separate", "iter_separate_painting", "misalignment_warning", "write_results"}


def test_the_training_area_s_tiles_are_named_as_such_but_a_second_fit_keeps_its_name():
    from napari_xraysep.core.progress import drive
    from napari_xraysep.core.streaming import TileProgress
    from napari_xraysep.pipeline import AREA_TILES, _relabelled

    def events():
        yield TileProgress(1, 2, 0.5, "applying the model")
        yield TileProgress(1, 12, 0.1, "fitting again without the stretcher's bars", unit="step")
        yield "another event"
        return "the result"

    seen: list = []
    returned = drive(_relabelled(events(), AREA_TILES), seen.append)
    assert [getattr(event, "what", event) for event in seen] == [
        AREA_TILES, "fitting again without the stretcher's bars", "another event",
    ]
    assert seen[1].unit == "step" and returned == "the result"


def test_converted_passes_events_on_as_told_drops_nones_and_returns_the_result():
    from napari_xraysep.core.progress import converted, drive

    def counts():
        for number in range(1, 5):
            yield number
        return "done"

    seen: list = []
    assert drive(converted(counts(), lambda n: None if n % 2 else f"step {n}"), seen.append) == "done"
    assert seen == ["step 2", "step 4"]
