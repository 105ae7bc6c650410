"""The one guarded step loop (core/training.py) and both methods going through it."""

from __future__ import annotations

import math
import threading
from pathlib import Path

import pytest
import torch
from conftest import TINY, TINY_COLOUR_MAP, drain

from napari_xraysep.core import InputError, SeparationConfig, TrainingDiverged, TrainingFailed, prepare_inputs, train
from napari_xraysep.core import colourmap_fit, objectives
from napari_xraysep.core.colourmap_solve import FitProgress
from napari_xraysep.core.trained import TrainedModel
from napari_xraysep.core.training import UNIT, StepGuard, check_trainable, guarded_steps, new_model_for

GUARD = "out of memory at step {step}, model of step {kept} kept"
DIVERGED = "diverged at step {step} ({loss}), model of step {kept} kept"


def _toy(steps_trained: int = 0) -> TrainedModel:
    """A one-weight 'network' whose weight a step sets to the step's number."""
    network = torch.nn.Linear(1, 1, bias=False)
    network.weight.data.fill_(0.0)
    return TrainedModel(network, SeparationConfig(), UNIT, UNIT, steps_trained=steps_trained)


def _setting_weight(model: TrainedModel, bad_step: int = 0, error: BaseException | None = None):
    """A step that sets the weight to its number; at ``bad_step`` the loss is NaN, or ``error`` is raised."""

    def step(number: int) -> dict[str, float]:
        assert model.network.training  # steps run in train mode
        model.network.weight.data.fill_(float(number))
        if number == bad_step and error is not None:
            raise error
        return {"total": math.nan if number == bad_step else float(number)}

    return step


def _weight(model: TrainedModel) -> float:
    return float(model.network.weight.detach())


def test_the_loop_counts_steps_yields_progress_and_previews_and_leaves_eval_mode():
    model = _toy(steps_trained=10)
    previews = []

    def preview():
        previews.append(_weight(model))
        return None

    loop = guarded_steps(model, _setting_weight(model), 5, StepGuard(GUARD, DIVERGED), preview=preview, preview_every=2)
    events, _ = drain(loop)
    assert [e.step for e in events] == [1, 2, 3, 4, 5] and all(e.total_steps == 5 for e in events)
    assert [e.losses["total"] for e in events] == [1, 2, 3, 4, 5] and events[-1].eta_s == 0
    assert previews == [2, 4, 5]  # every 2nd step and the last
    assert model.steps_trained == 15 and [h["total"] for h in model.loss_history] == [1, 2, 3, 4, 5]
    assert not model.network.training


@pytest.mark.parametrize("condemns, kept", [(0, 2), (1, 1)])
def test_a_non_finite_loss_rolls_back_its_step_and_the_condemned_ones(condemns, kept):
    model = _toy(steps_trained=10)
    model.loss_history.append({"total": 0.5})  # from an earlier run: never trimmed
    loop = guarded_steps(model, _setting_weight(model, bad_step=3), 5, StepGuard(GUARD, DIVERGED, condemns))
    expected = f"diverged at step 3 \\(nan\\), model of step {10 + kept} kept"
    with pytest.raises(TrainingDiverged, match=expected) as failure:
        drain(loop)
    assert failure.value.model is model
    # The weight after step k is k: the kept model is the one after step `kept`, its count and history to match.
    assert _weight(model) == kept and model.steps_trained == 10 + kept
    assert [h["total"] for h in model.loss_history] == [0.5, *range(1, kept + 1)]
    assert not model.network.training


def test_a_step_out_of_memory_restores_the_weights_from_before_it():
    model = _toy()
    step = _setting_weight(model, bad_step=3, error=RuntimeError("CUDA out of memory. Tried to allocate 2.00 GiB"))
    with pytest.raises(TrainingFailed, match="out of memory at step 3, model of step 2 kept"):
        drain(guarded_steps(model, step, 5, StepGuard(GUARD, DIVERGED, condemns=1)))
    assert _weight(model) == 2 and model.steps_trained == 2 and not model.network.training


def test_any_other_failure_passes_through_with_the_weights_from_before_the_step():
    model = _toy()
    step = _setting_weight(model, bad_step=2, error=KeyboardInterrupt())
    with pytest.raises(KeyboardInterrupt):
        drain(guarded_steps(model, step, 5, StepGuard(GUARD, DIVERGED)))
    assert _weight(model) == 1 and model.steps_trained == 1


def test_the_loop_ends_at_the_stop_flag_or_when_the_method_has_no_more_steps():
    model, stop = _toy(), threading.Event()
    loop = guarded_steps(model, _setting_weight(model), 5, StepGuard(GUARD, DIVERGED), stop=stop)
    next(loop)
    stop.set()
    assert drain(loop)[0] == [] and model.steps_trained == 1

    def two_steps(number: int) -> dict[str, float] | None:
        return None if number == 3 else {"total": 1.0}

    model = _toy()
    events, _ = drain(guarded_steps(model, two_steps, 5, StepGuard(GUARD, DIVERGED)))
    assert len(events) == 2 and model.steps_trained == 2


# ---------------------------------------------------------------- both methods, one loop

METHODS = {"colour_map": {**TINY_COLOUR_MAP, "method": "colour_map"}, "autoencoder": TINY}


def _nan_at_step_3(monkeypatch, method: str) -> None:
    """Make the method's own 3rd step give a NaN loss: the colour map's solve (which also leaves NaN
    parameters, as a failed solve would), the auto-encoder's loss."""
    if method == "colour_map":
        real_fit = colourmap_fit.fit_colour_map

        def fit(model, *args, **kwargs):
            for solve, progress in enumerate(real_fit(model, *args, **kwargs), 1):
                if solve == 3:
                    model.beta.fill_(math.nan)
                    progress = FitProgress(progress.step, progress.total, {**progress.losses, "total": math.nan})
                yield progress

        monkeypatch.setattr(colourmap_fit, "fit_colour_map", fit)
    else:
        real_loss, calls = objectives.separation_loss, {"n": 0}

        def loss(*args, **kwargs):
            calls["n"] += 1
            terms = real_loss(*args, **kwargs)
            if calls["n"] == 3:
                terms["total"] = terms["total"] * math.nan
            return terms

        monkeypatch.setattr(objectives, "separation_loss", loss)


@pytest.mark.parametrize("method, kept", [("colour_map", 2), ("autoencoder", 1)])
def test_both_methods_diverge_through_the_one_loop(tiny_mixture, monkeypatch, method, kept):
    """The same rollback for both: a colour-map solve judges the parameters it made (the fit of step 2
    is kept), an Adam step the weights it started from (those after step 1 are kept)."""
    _nan_at_step_3(monkeypatch, method)
    inputs = prepare_inputs(tiny_mixture.x_mixed, tiny_mixture.rgb_surface, tiny_mixture.region_mask)
    config = SeparationConfig(**{**METHODS[method], "steps": 5, "preview_every": 0})
    model = new_model_for(inputs, config)
    generator = train(inputs, config, model=model)
    after = []  # the weights after each step
    with pytest.raises(TrainingDiverged, match="at step 3 \\(the loss became nan\\)") as failure:
        for _ in generator:
            after.append({k: v.clone() for k, v in model.network.state_dict().items()})
    assert failure.value.model is model and len(after) == 2
    assert model.steps_trained == len(model.loss_history) == kept and not model.network.training
    for name, value in model.network.state_dict().items():
        torch.testing.assert_close(value, after[kept - 1][name], rtol=0, atol=0)


@pytest.mark.parametrize("method", METHODS)
def test_both_methods_stop_within_one_step(tiny_mixture, method):
    inputs = prepare_inputs(tiny_mixture.x_mixed, tiny_mixture.rgb_surface, tiny_mixture.region_mask)
    stop = threading.Event()
    generator = train(inputs, SeparationConfig(**{**METHODS[method], "steps": 50, "preview_every": 0}), stop=stop)
    next(generator), next(generator)
    stop.set()
    events, model = drain(generator)
    assert events == [] and model.steps_trained == 2 and len(model.loss_history) == 2 and not model.network.training


def test_only_the_loop_raises_training_failures_or_counts_steps():
    """Pins the single loop: no method module raises the training errors or keeps the count itself."""
    core = Path(colourmap_fit.__file__).parent
    twins = {
        path.name: needle
        for path in core.glob("*.py")
        if path.name != "training.py"
        for needle in ("raise TrainingDiverged", "raise TrainingFailed", "loss_history.append", "steps_trained +=")
        if needle in path.read_text(encoding="utf-8")
    }
    assert twins == {}


def test_an_image_too_small_for_the_method_is_one_clear_error():
    check_trainable((16, 40), SeparationConfig(), "the colour map needs to fit")  # the colour map's 16 px: fine
    with pytest.raises(InputError, match="15×40 pixels, smaller than the 16×16 the colour map needs to fit"):
        check_trainable((15, 40), SeparationConfig(), "the colour map needs to fit")
    with pytest.raises(InputError, match="49×60 pixels, smaller than the 50×50 patch training needs"):
        check_trainable((49, 60), SeparationConfig.paper(), "patch training needs")
