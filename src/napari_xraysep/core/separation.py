"""The whole two-step method as one call: validate → train (step 1) → infer → refine (step 2).

:func:`iter_separate` is the generator the CLI and the napari widget drive (progress events out, a
stop flag in, a :class:`SeparationResult` returned); :func:`separate` runs it to the end.
"""

from __future__ import annotations

import copy
import dataclasses
import functools
import time
import warnings
from collections.abc import Callable, Generator, Sequence
from typing import Any

import numpy as np

from .areas import region_for_method
from .calibration import (
    UnitFit, calibrate, inverted_warning, lightness_correlation, photograph_fit, recalibrated, unexplained,
)
from .checks import check_double_sided, unmasked
from .config import AUTOENCODER_NAMES, COLOUR_MAP_NAMES, AutoEncoderSettings, SeparationConfig
from .data import SeparationInputs, missing_inputs_warning, prepare_inputs, small_painting_warning
from .devices import resolve_device
from .errors import InputError, StoppedError, TrainingError
from .films import Films, KnownPixels, Seam, find_films, given_films
from .passages import find_passages, with_sides
from .fitting import train
from .inference import Components, iter_predict
from .progress import converted, drive
from .refine import refine
from .regions import PaintingArea
from .result import SeparationResult, components_in_units
from .sources import Sources
from .streaming import TileProgress
from .storage import as_given, photograph_storage
from .stretcher import find_stretcher_in
from .trained import TrainedModel
from .training import ShippedWeights, StopFlag, TrainingProgress, new_model_for

# Keeps a model while it trains and returns where, for messages (the io layer's checkpoint_to saves a
# model file): the core hands models out, it writes no files.
Checkpoint = Callable[[TrainedModel], object]
# A mosaic's film seams: "auto" (sought), "none", or the seams given (see check_seams).
FilmSeams = str | Sequence[Seam]


def unit_fit(inputs: SeparationInputs, unit: Components, spread: bool = False) -> UnitFit | None:
    """:class:`UnitFit` of the unit-range X-ray against the surface X-ray ``unit.x1_hat`` the model
    made from the photograph (for a double-sided panel too: the same measure whichever way a model
    is used); with ``spread`` (a training reference) the floor's spread over windows too."""
    x = inputs.x_mixed if inputs.valid is None else np.where(inputs.valid, inputs.x_mixed, np.nan)
    return UnitFit.measure([(x, unit.x1_hat)], spread=spread)


def say_ignored_settings(config: SeparationConfig, settings: dict[str, Any]) -> None:
    """Warn about auto-encoder names among a colour-map run's ``settings``: the settings check and
    drop them (one set may serve both methods), but a user who typed one expects it to act. Said by
    :func:`iter_separate` alone, so a face that resolves the settings early does not say it twice."""
    ignored = sorted(set(settings) & (AUTOENCODER_NAMES - COLOUR_MAP_NAMES) if config.method.name == "colour_map" else set())
    if ignored:
        one = len(ignored) == 1
        warnings.warn(
            f"{', '.join(ignored)} {'is an auto-encoder setting' if one else 'are auto-encoder settings'}: the colour map "
            f"(the default method) does not use {'it' if one else 'them'}; choose the auto-encoder (--preset autoencoder "
            f"or paper) to use {'it' if one else 'them'}.",
            UserWarning, stacklevel=3,
        )


def resolve_config(
    config: SeparationConfig | None, model: TrainedModel | None, settings: dict[str, Any]
) -> SeparationConfig:
    """Settings for a run: given ``config`` or the model's (or the default), with ``settings`` on top.

    A given model keeps its method and its shape (an auto-encoder's architecture, a colour map's
    clusters, degree, blur and smoothing); asking for another is an error, not a silent reset.
    """
    base = config or (model.config if model is not None else SeparationConfig())
    resolved = base.replace(**settings) if settings else base
    if model is None:
        return resolved
    made_by, asked = model.config.method, resolved.method
    if asked.name != made_by.name:
        raise InputError(
            f"The model was made by the {made_by.name} method, but the settings ask for "
            f"{asked.name}; start without the model to use another method."
        )
    if asked.shape() != made_by.shape():
        what = "architecture" if asked.name == "autoencoder" else "shape"
        raise InputError(
            f"The model was trained with {made_by.shape()}, but the settings ask for "
            f"{asked.shape()}; a trained model's {what} cannot change."
        )
    return resolved


def iter_separate(
    sources: Sources,
    region_mask: np.ndarray | None = None,
    *,
    config: SeparationConfig | None = None,
    model: TrainedModel | None = None,
    stop: StopFlag | None = None,
    checkpoint: Checkpoint | None = None,
    checkpoint_every_s: float = 300.0,
    painting_area: PaintingArea = None,
    shipped_weights: ShippedWeights | None = None,
    seams: FilmSeams = "auto",
    **settings: Any,
) -> Generator[TrainingProgress | TileProgress, None, SeparationResult]:
    """Run both steps, yielding progress (previews in X-ray units); returns the result.

    Step 1 fits the method (the colour map by default, or the paper's connected auto-encoder) to
    explain the mixed X-ray from the photograph; step 2 shares the error map evenly between the two
    estimates (:func:`~napari_xraysep.core.refine.refine`), so ``x1 + x2 + weave == x_mixed``. Where
    the X-ray shows a stretcher's bars (:mod:`~napari_xraysep.core.stretcher`), they are taken out of
    x2 into a layer of their own: ``x1 + x2 + weave + stretcher == x_mixed``. Where the X-ray is a
    mosaic of films with their own exposures (:mod:`~napari_xraysep.core.films`), each film's gain and
    offset are taken out into the ``exposure`` layer and the model applied again to the corrected
    X-ray: ``x1 + x2 + weave + exposure (+ stretcher) == x_mixed``.

    Parameters
    ----------
    sources : Sources
        The images, in memory (:class:`~napari_xraysep.core.sources.Sources`): the mixed X-ray
        (H, W), the surface photograph (H, W, 3), for a double-sided panel the back's photograph
        (and whether it was taken from behind), and side channels; each as :func:`separate`
        describes it.
    region_mask : ndarray of bool, shape (H, W), optional
        Where the hidden design shows most. Needed by the auto-encoder (for x̄1) unless only
        applying ``model`` (``steps=0``); the colour map only down-weights its fit there
        (``region_weight``); a double-sided panel needs none.
    config : SeparationConfig, optional
        The settings; default: the model's, or the defaults.
    model : TrainedModel, optional
        A model to continue training (``steps`` > 0) or to apply (``steps=0``); it is copied, never
        changed.
    stop : threading.Event-like, optional
        When set during training, the model reached so far is applied and the result is marked
        ``stopped_early``.
    checkpoint : callable, optional
        Called with the model every ``checkpoint_every_s`` seconds of training; returns where it
        kept it (e.g. :func:`napari_xraysep.io.modelfile.checkpoint_to`). If training fails, the last
        good model is handed to it too and the error says where.
    checkpoint_every_s : float
        Seconds between checkpoints.
    shipped_weights : callable, optional
        Reads the warm start's weights (the auto-encoder's ``warm_start``; the core reads no file):
        :func:`napari_xraysep.io.warmstart.warm_start_state`, which ``napari_xraysep.separate`` and
        the pipeline hand in.
    painting_area : tuple or ndarray or "full", optional
        Where the painting is, when the user knows better than ``detect_support``: a
        ``(y0, x0, y1, x1)`` box in pixels, an (H, W) bool mask, or ``"full"``.
    seams : "auto", "none" or sequence of Seam
        A mosaic's film seams: sought in x2 after the fit (``"auto"``), not sought (``"none"``), or
        given (:class:`~napari_xraysep.core.films.Seam`, e.g. ``Seam("col", 1200)``), then fitted.
    **settings
        Fields of :class:`SeparationConfig` to override (e.g. ``steps=200``, ``device="cpu"``).

    Yields
    ------
    TrainingProgress or TileProgress
        One per training step (losses, and now and then a preview in X-ray units); then, while the
        model is applied to an image of more than one tile, one per tile
        (:class:`~napari_xraysep.core.streaming.TileProgress`, ``what`` "applying the model").

    Returns
    -------
    SeparationResult
        (The generator's return value.) Every image (H, W) float32 in the X-ray's units.

    Raises
    ------
    InputError
        Images that do not fit together (shapes, dtypes, a region outside the image, too small),
        settings that contradict the given model, or nothing to do (``steps=0`` without a model).
    TrainingError
        Training diverged or failed; ``error.model`` is the last good model.

    See Also
    --------
    separate : runs this generator to the end.
    napari_xraysep.pipeline.iter_run : the same for any face, whole paintings included.

    References
    ----------
    .. [1] W. Pu, J. Huang, B. Sober, N. Daly, C. Higgitt, P. L. Dragotti, I. Daubechies and
       M. R. D. Rodrigues, "A Learning Based Approach to Separate Mixed X-Ray Images Associated
       with Artwork with Concealed Designs" (the two steps, the connected auto-encoder and its
       losses, Eqs. 5–7; the even split of the error map).
    .. [2] W. Pu, B. Sober, N. Daly, C. Higgitt, I. Daubechies and M. Rodrigues, "A connected
       auto-encoders based approach for image separation with side information: with applications
       to art investigation", ICASSP 2020 (the double-sided panel).

    Examples
    --------
    >>> import numpy as np
    >>> from napari_xraysep.core import iter_separate
    >>> from napari_xraysep.core.progress import drive
    >>> from napari_xraysep.datasets.synthetic import make_mixture
    >>> case = make_mixture("concealed_portrait", (48, 64), seed=0)
    >>> from napari_xraysep.core.sources import Sources
    >>> run = iter_separate(Sources(case.x_mixed, case.rgb_surface), case.region_mask, steps=2, device="cpu")
    >>> events = []
    >>> result = drive(run, events.append)  # each event to the callback; the generator's return value
    >>> len(events), events[-1].step
    (2, 2)
    >>> result.x1.shape, result.x1.dtype
    ((48, 64), dtype('float32'))
    """
    begun = time.perf_counter()
    config = resolve_config(config, model, settings)
    say_ignored_settings(config, settings)
    region_mask = region_for_method(region_mask, config.method.name, sources.x_mixed.shape)
    training = config.training_steps > 0
    if model is not None and not training:
        check_double_sided(model.double_sided, sources.double_sided)
    elif model is not None and model.double_sided is not None and model.double_sided != sources.double_sided:
        # Allowed (the paper's warm start is a double-sided panel's model trained on one side), but said:
        # the run reads as the same model trained further, and it now answers another question.
        kinds = ("one photograph", "a double-sided panel (front and back photographs)")
        fitted, now = kinds[model.double_sided], kinds[sources.double_sided]
        warnings.warn(
            f"The model was fitted to {fitted} and is trained further on {now}: the result is a model of {now}, "
            "no longer the one it started from.",
            UserWarning, stacklevel=2,
        )
    given_seams = check_seams(seams, sources.x_mixed.shape)
    if model is not None:  # its photograph's storage carried over to this one's (said), as the X-ray's units are
        model = as_given(model, sources)
    prepare = functools.partial(
        prepare_inputs, rgb_surface=sources.rgb_surface, region_mask=region_mask, rgb_back=sources.rgb_back,
        mirror_back=sources.mirror_back, side_channels=list(sources.side_channels),
        min_size=config.min_image_size if training else 1,
        rgb_normalisation=model.rgb_normalisation if model else None,
        side_normalisations=model.side_normalisations if model else None,
        painting_area=painting_area,
        detect=config.detect_support,
        mark_defects=config.mark_defects,
        region_optional=config.method.name == "colour_map",
    )
    inputs: SeparationInputs = prepare(sources.x_mixed, x_normalisation=model.x_normalisation if model else None)
    if training:  # a model applied to a small crop is not warned about
        small = small_painting_warning(inputs.valid if inputs.valid is not None else np.ones(inputs.shape, bool))
        if small:
            warnings.warn(small, UserWarning, stacklevel=2)
    if missing := missing_inputs_warning(inputs.missing_inputs, sources.side_names, fitted=training):
        warnings.warn(missing, UserWarning, stacklevel=2)
    if model is not None:
        # Continue from a copy: the caller's model (and any result made with it) stays as it was.
        model = dataclasses.replace(
            model, network=copy.deepcopy(model.network), config=config, loss_history=list(model.loss_history)
        )
    # prepare_s: the painting's support, defects and normalisations; total_s: the whole run, what the
    # others leave out included (the unit check, the steps after training's).
    timings: dict[str, float] = {"prepare_s": time.perf_counter() - begun}
    stopped_early = False
    started = time.perf_counter()
    if training:
        # Made here, not inside train(), so checkpoints can save it while it trains.
        model = model or new_model_for(inputs, config, shipped_weights)
        # How its photograph and maps are stored, and the maps' names: a later one stored otherwise is
        # read as such (storage.py). Kept from the start, so that checkpoints carry them with the
        # normalisations they go with (a continued model's, carried over to this photograph's storage).
        model.side_names = tuple(sources.side_names)
        model.rgb_storage = photograph_storage(sources.rgb_surface)
        model.side_dtypes = tuple(np.dtype(side.dtype).name for side in sources.side_channels)
        # Where the model's record starts: a second fit (without a stretcher's bars) replaces this run's first.
        record_start = (model.steps_trained, list(model.loss_history))
        steps, done, last_saved = train(inputs, config, model, stop), 0, time.monotonic()
        try:
            while True:
                progress = next(steps)
                done += 1
                if checkpoint is not None and time.monotonic() - last_saved >= checkpoint_every_s:
                    checkpoint(model)
                    last_saved = time.monotonic()
                if progress.preview is not None:
                    progress = dataclasses.replace(
                        progress, preview=components_in_units(progress.preview, inputs.x_normalisation)
                    )
                yield progress
        except StopIteration as finished:
            model = finished.value
        except TrainingError as error:
            if checkpoint is None or error.model is None:
                raise
            kept = checkpoint(error.model)
            raise type(error)(f"{error} It is saved in {kept}.", error.model) from error
        stopped_early = done < config.training_steps
        if stopped_early and model.steps_trained == 0:  # an untrained model's "results" would mislead
            raise StoppedError("Stopped before the first training step: nothing was trained, so nothing was applied.")
    elif model is None:
        raise InputError("Nothing to do: with 0 training steps a trained model must be given.")
    timings["train_s"] = time.perf_counter() - started

    started = time.perf_counter()
    device = resolve_device(config.device)
    unit = yield from _applied(model, inputs, device)
    calibration = None
    fit = unit_fit(inputs, unit, spread=training)
    said = None  # what the user is told of a photograph that explains almost none of the X-ray
    if unexplained(fit):
        said = unexplained(fit, training_words(model, stopped_early))
        warnings.warn(said, UserWarning, stacklevel=2)
    lightness = None
    if training:
        model.x_reference, model.double_sided = fit, inputs.double_sided
        # An X-ray stored inverted is said here; applied, a model trained the right way round refuses one.
        use = inputs.valid
        if inputs.support is not None:  # inside the painting found: a film margin or backdrop reads otherwise
            use = inputs.support.mask if use is None else inputs.support.mask & use
        lightness = lightness_correlation(inputs.x_mixed, inputs.rgb_surface, use)
        inverted = inverted_warning(lightness)
        if inverted:
            warnings.warn(inverted, UserWarning, stacklevel=2)
            said = inverted if said is None else f"{said} {inverted}"
    else:  # a model applied to an X-ray perhaps stored in other units than it was trained on
        calibration = calibrate(model.x_reference, fit)
        if calibration is not None and calibration.recalibrated:
            warnings.warn(calibration.describe(model.x_normalisation), UserWarning, stacklevel=2)
            model.x_normalisation = recalibrated(model.x_normalisation, calibration)
            inputs = prepare(sources.x_mixed, x_normalisation=model.x_normalisation)
            unit = yield from _applied(model, inputs, device)
    estimates = components_in_units(unit, inputs.x_normalisation)
    del unit  # a whole painting's unit-range copy: not kept beside the results
    x_mixed = unmasked(sources.x_mixed)  # as stored: refine and the films read it in float64 themselves
    refined = refine(_x_units(inputs, x_mixed), estimates.x1_hat, estimates.x2_hat, estimates.weave)
    timings["inference_s"] = time.perf_counter() - started
    films, exposure = None, None
    x_one = x_mixed  # the X-ray as one exposure (a mosaic's films taken out, when found)
    if given_seams is None or given_seams:
        started = time.perf_counter()
        explained = estimates.x1_hat.astype(np.float64) + estimates.weave
        films = _films_of(inputs, x_mixed, refined.x2, given_seams, explained)
        if films is not None:  # the model applied again to the X-ray as one exposure (not refitted)
            exposure = films.layer(x_mixed)
            found = (inputs.support, inputs.defects)  # a float X-ray now: its clipped pixels stay marked
            inputs = prepare(films.corrected(x_mixed), x_normalisation=model.x_normalisation, found=found)
            estimates = components_in_units((yield from _applied(model, inputs, device)), inputs.x_normalisation)
            x_one = np.asarray(x_mixed, np.float64) - exposure
            refined = refine(_x_units(inputs, x_one), estimates.x1_hat, estimates.x2_hat, estimates.weave)
        timings["films_s"] = time.perf_counter() - started
    x2_hat, x2 = estimates.x2_hat, refined.x2
    # A double-sided panel's x2 is the back's painting, whose own edges may be straight. Sought as on a
    # whole painting (block means of at most 4 MP above that size): the same bars on either path.
    stretcher = find_stretcher_in(x2) if config.stretcher_bars and not inputs.double_sided else None
    if stretcher is not None and refits_without_bars(config, training, stopped_early):
        # The fit saw the bars (edges and grain the photograph cannot explain) and bent towards them:
        # the colour map is fitted again to the X-ray with their layer taken out, as the films are.
        started = time.perf_counter()
        del estimates, refined, x2_hat, x2  # the first fit's results: not kept beside the second's
        found = (inputs.support, inputs.defects)
        without_bars = prepare(
            np.asarray(x_one, np.float64) - stretcher.layer(), x_normalisation=model.x_normalisation, found=found
        )
        model.steps_trained, model.loss_history = record_start[0], list(record_start[1])
        model = yield from _refitted(without_bars, config, model, stop)
        del without_bars  # a second copy of the painting's inputs: not kept while the model is applied
        stopped_early = model.steps_trained - record_start[0] < config.training_steps
        # Then applied, and the bars sought, as applying the saved model to this X-ray does, so that it gives
        # these results again. (Keeping the first fit's bars and the second fit's weave of the X-ray without
        # them measured +0.38 dB against +0.24 on the benchmark's stretchers, but no model applied does that.)
        unit = yield from _applied(model, inputs, device)
        model.x_reference = unit_fit(inputs, unit, spread=True)
        estimates = components_in_units(unit, inputs.x_normalisation)
        del unit
        refined = refine(_x_units(inputs, x_one), estimates.x1_hat, estimates.x2_hat, estimates.weave)
        x2_hat, x2 = estimates.x2_hat, refined.x2
        stretcher = find_stretcher_in(x2)
        if stretcher is not None:
            bars = stretcher.layer()
            x2_hat, x2 = x2_hat - bars, x2 - bars
        timings["stretcher_refit_s"] = time.perf_counter() - started
    elif stretcher is not None:  # the bars are neither painting: x1 + x2 + weave + stretcher == x
        bars = stretcher.layer()
        x2_hat, x2 = x2_hat - bars, x2 - bars
    # A double-sided panel's x2 is the back's painting: its outlines are not the front photograph's.
    passages = None if inputs.double_sided else find_passages(x2, unmasked(sources.rgb_surface), x_mixed)
    passages = with_sides(passages, len(sources.side_channels), sources.side_names)
    return SeparationResult(
        x1_hat=estimates.x1_hat,
        x2_hat=x2_hat,
        x_hat=estimates.x_hat,
        error_map=refined.error_map,
        x1=refined.x1,
        x2=x2,
        weave=estimates.weave,
        model=model,
        timings={**timings, "total_s": time.perf_counter() - begun},
        stopped_early=stopped_early,
        double_sided=inputs.double_sided,
        mirror_back=inputs.double_sided and sources.mirror_back,
        calibration=calibration,
        photograph_fit=photograph_fit(fit, said, lightness),
        support=inputs.support,
        defects=inputs.defects,
        stretcher=stretcher,
        films=films,
        exposure=None if exposure is None else exposure.astype(np.float32),
        passages=passages,
        device=str(device),
        fitted=training,
    )


def refits_without_bars(config: SeparationConfig, training: bool, stopped_early: bool) -> bool:
    """Whether a separation that found a stretcher fits its model again without the bars: a colour map
    trained to the end in this run (an auto-encoder's second training would double a long run; a model
    only applied, or a stopped run, is kept as it is)."""
    return training and not stopped_early and config.method.name == "colour_map"


def _refitted(
    inputs: SeparationInputs, config: SeparationConfig, model: TrainedModel, stop: StopFlag | None
) -> Generator[TileProgress, None, TrainedModel]:
    """``model``'s colour map fitted again from scratch to ``inputs`` (the X-ray without the stretcher's
    bars), a TileProgress of steps ("fitting again without the stretcher's bars") after each solve."""
    started = time.perf_counter()

    def steps(progress: TrainingProgress) -> TileProgress:
        what = "fitting again without the stretcher's bars"
        return TileProgress(progress.step, progress.total_steps, time.perf_counter() - started, what, unit="step")

    return (yield from converted(train(inputs, config.replace(preview_every=0), model, stop), steps))


def _films_of(
    inputs: SeparationInputs,
    x_stored: np.ndarray,
    x2: np.ndarray,
    given: tuple[Seam, ...] | None,
    explained: np.ndarray,
) -> Films | None:
    """A mosaic's films: sought in ``x2`` (``given`` None) or fitted to the ``given`` seams, on the
    X-ray's measured pixels (repaired ones are invented: no evidence of a seam), with what the model
    ``explained`` of them (x̂1 + weave, the X-ray's units) taken out of the fit, and the film margin's
    runs across the seams in it (they pin the films' offsets); a sought seam must step beyond the
    painting too, where the film margin around it was measured. Given seams that
    cannot be fitted, or that the films do not explain, are warned about."""
    known = np.where(_measured(inputs), KnownPixels(x_stored)[:, :], np.nan)
    support = None if inputs.support is None or inputs.support.full else inputs.support.mask
    beyond = None if support is None else KnownPixels(x_stored, support, beyond=True)[:, :]
    if given is not None:
        return given_films(known, given, stacklevel=4, explained=explained, beyond=beyond)
    return find_films(known, x2, beyond=beyond, explained=explained)


def _applied(model: TrainedModel, inputs: SeparationInputs, device: Any) -> Generator[TileProgress, None, Components]:
    """The model applied to ``inputs`` (:func:`~.inference.iter_predict`), with a TileProgress
    ("applying the model") after each tile when there is more than one: a large image takes minutes."""
    started = time.perf_counter()

    def tiles(count: tuple[int, int]) -> TileProgress | None:
        done, total = count
        return TileProgress(done, total, time.perf_counter() - started, "applying the model") if total > 1 else None

    return (yield from converted(iter_predict(model, inputs, device), tiles))


def _measured(inputs: SeparationInputs) -> np.ndarray:
    """(H, W) bool: the X-ray's pixels that hold a measurement (valid, and not repaired)."""
    measured = np.ones(inputs.x_mixed.shape[-2:], bool) if inputs.valid is None else inputs.valid.copy()
    if inputs.defects is not None:
        measured &= ~inputs.defects.repaired
    return measured


def _x_units(inputs: SeparationInputs, x_mixed: np.ndarray) -> np.ndarray:
    """The X-ray the results add up to: ``x_mixed`` (X-ray units, any dtype), with the hot/dead pixels
    and scratches repaired when they were marked."""
    return inputs.x_repaired if inputs.x_repaired is not None else x_mixed



def check_seams(seams: FilmSeams, shape: tuple[int, ...]) -> tuple[Seam, ...] | None:
    """The given seams, checked against the X-ray's ``shape`` (None for ``"auto"``, () for ``"none"``).
    Raises InputError for another word, a seam that is not a :class:`Seam` (or ``("col", 800)``), or
    one outside the X-ray or on its outer two pixels."""
    if isinstance(seams, str):
        if seams not in ("auto", "none"):
            raise InputError(f"Film seams are 'auto', 'none' or a list of seams (row:N, col:N), not {seams!r}.")
        return None if seams == "auto" else ()
    if not isinstance(seams, (list, tuple, Seam)):
        raise InputError(f"Film seams are 'auto', 'none' or a list of seams (row:N, col:N), not {seams!r}.")
    if isinstance(seams, Seam) or (len(seams) == 2 and isinstance(seams[0], str)):
        one = seams if isinstance(seams, Seam) else tuple(seams)
        raise InputError(f"Film seams are a list of seams: [{one!r}], not one seam.")
    checked = []
    for seam in seams:
        try:
            seam = seam if isinstance(seam, Seam) else Seam(*seam)
        except (TypeError, ValueError) as error:
            raise InputError(f"A film seam is ('row', N) or ('col', N): {seam!r} is not ({error}).") from None
        length = shape[0] if seam.axis == "row" else shape[1]
        if not 2 <= seam.position <= length - 2:
            raise InputError(
                f"The film seam at {seam.axis} {seam.position} is outside the X-ray ({length} {seam.axis}s) or on its "
                "outer two pixels."
            )
        checked.append(seam)
    return tuple(checked)


def training_words(model: TrainedModel, stopped_early: bool = False) -> str | None:
    """How an auto-encoder was trained, for a warning ("200 steps at learning rate 1e-06, not
    warm-started"); None for the colour map, whose few solves are fitted to the end."""
    settings = model.config.method
    if not isinstance(settings, AutoEncoderSettings):
        return None
    steps = model.steps_trained
    words = f"{steps} training step{'s' * (steps != 1)} at learning rate {settings.learning_rate:g}"
    words += "" if settings.warm_start else ", not warm-started"
    return words + (", stopped early" if stopped_early else "")


def separate(
    x_mixed: np.ndarray,
    rgb_surface: np.ndarray,
    region_mask: np.ndarray | None = None,
    *,
    rgb_back: np.ndarray | None = None,
    mirror_back: bool = False,
    side_channels: Sequence[np.ndarray] | np.ndarray | None = (),
    config: SeparationConfig | None = None,
    model: TrainedModel | None = None,
    stop: StopFlag | None = None,
    on_progress: Callable[[TrainingProgress], None] | None = None,
    checkpoint: Checkpoint | None = None,
    checkpoint_every_s: float = 300.0,
    painting_area: PaintingArea = None,
    shipped_weights: ShippedWeights | None = None,
    seams: FilmSeams = "auto",
    **settings: Any,
) -> SeparationResult:
    """Separate a mixed X-ray into the surface's X-ray, the hidden design's and the canvas weave.

    :func:`iter_separate` run to the end; the parameters, references and errors are its own.

    Parameters
    ----------
    x_mixed : ndarray, shape (H, W)
        The mixed X-ray, in any 8/16-bit integer or float units (results come back in them).
        NaN or infinite pixels are missing data: NaN in every result.
    rgb_surface : ndarray, shape (H, W, 3)
        The photograph of the surface, registered to the X-ray pixel for pixel, any 8/16-bit or
        float units (an alpha channel is dropped).
    region_mask : ndarray of bool, shape (H, W), optional
        Where the hidden design shows most. Needed by the auto-encoder (for x̄1) unless only
        applying ``model`` (``steps=0``); the colour map only down-weights its fit there
        (``region_weight``); a double-sided panel needs none.
    rgb_back : ndarray, shape (H, W, 3), optional
        The back side's photograph, for a double-sided panel.
    mirror_back : bool
        ``rgb_back`` was taken from behind (not yet flipped to the X-ray's orientation).
    side_channels : sequence of ndarray (H, W), or ndarray (K, H, W)
        Extra registered maps (infrared, macro-XRF element maps) read beside the RGB; a model trained
        with them needs the same maps again.
    on_progress : callable, optional
        Called with each :class:`~napari_xraysep.core.training.TrainingProgress`, and each
        :class:`~napari_xraysep.core.streaming.TileProgress` while the model is applied.
    config, model, stop, checkpoint, checkpoint_every_s, painting_area, shipped_weights, seams, **settings
        As for :func:`iter_separate`.

    Returns
    -------
    SeparationResult
        ``x1_hat``, ``x2_hat`` (step 1), ``x1``, ``x2`` (step 2), ``weave``, ``error_map``: each
        (H, W) float32 in the X-ray's units, ``x1 + x2 + weave (+ stretcher) == x_mixed``; the trained ``model``.

    Raises
    ------
    InputError
        Images or settings the separation cannot work with (see :func:`iter_separate`).
    TrainingError
        Training diverged or failed.

    Examples
    --------
    >>> import numpy as np
    >>> from napari_xraysep import separate
    >>> from napari_xraysep.datasets.synthetic import make_mixture
    >>> case = make_mixture("concealed_portrait", (48, 64), seed=0)
    >>> result = separate(case.x_mixed, case.rgb_surface, case.region_mask, steps=2, device="cpu")
    >>> result.x1.shape, result.x2.shape, result.weave.shape
    ((48, 64), (48, 64), (48, 64))
    >>> bool(np.allclose(result.x1 + result.x2 + result.weave, case.x_mixed, atol=1e-4))
    True
    >>> result.model.steps_trained
    2
    """
    steps = iter_separate(
        Sources(x_mixed, rgb_surface, rgb_back, mirror_back, side_channels), region_mask, config=config, model=model, stop=stop, checkpoint=checkpoint, checkpoint_every_s=checkpoint_every_s,
        painting_area=painting_area, shipped_weights=shipped_weights, seams=seams, **settings,
    )
    return drive(steps, on_progress)
