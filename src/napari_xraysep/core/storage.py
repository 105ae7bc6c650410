"""The photograph's and side channels' storage at apply time: are they stored as the model's were?

A model reads its photograph through the normalisation of the photograph it was trained on. The same
colours stored as 16-bit instead of 8-bit (× 257), or as floats 0–1 (÷ 255), land far outside the
colours it knows: a tester's x2 fell from 35.9 to 24.1 dB, and the X-ray's unit check then blamed the
X-ray ("× 2.15e-08"). A photograph's storage says what full brightness is — 255, 65535, or 1.0 for
floats — so the model's normalisation is carried over to the new photograph's storage, and the user
told. A side channel (an XRF map in counts, an infrared image) has no full brightness: where its range
differs from the model's by more than the content of two paintings can (SIDE_UNITS_RATIO), it is
read by its own range. And the model keeps its side channels' names (files, layers): the same names
given in another order are refused (:func:`side_order`).
"""

from __future__ import annotations

import dataclasses
import warnings
from typing import Any

import numpy as np

from .data import Normalisation, robust_range
from .errors import InputError
from .trained import TrainedModel

# What full brightness is stored as: floats 0–1, 8-bit, 16-bit.
STORAGE_TOPS = (1.0, 255.0, 65535.0)
_NAMES = {1.0: "as floats 0–1", 255.0: "8-bit (0–255)", 65535.0: "16-bit (0–65535)"}
# Values of floats compared with a storage's top: rounding above it still reads as it.
_TOLERANCE = 1e-6
# A side channel whose robust span differs from the model's by more than this factor is stored in
# other units (an XRF map in counts where the model's was 0–1): the same map of another painting
# differs by its content only (1–3×).
SIDE_UNITS_RATIO = 16.0
# An image's storage is judged on SAMPLE_WINDOWS² windows of SAMPLE_SIDE² pixels spread over it.
SAMPLE_WINDOWS, SAMPLE_SIDE = 8, 64


def storage_top(dtype: Any, high: float) -> float | None:
    """Full brightness in an image stored as ``dtype`` whose robust high end is ``high``: 255 for
    8-bit; otherwise the first of STORAGE_TOPS that ``high`` does not exceed — integers at least 255 (a
    16-bit photograph as dark as an 8-bit one is read as it is), ``dtype`` None for a model's
    normalisation — and None above them all (floats in units of their own)."""
    if dtype is not None and np.dtype(dtype) == np.uint8:
        return 255.0
    tops = STORAGE_TOPS if dtype is None or np.dtype(dtype).kind == "f" else STORAGE_TOPS[1:]
    return next((top for top in tops if high <= top * (1 + _TOLERANCE)), None)


def _finite_values(image: Any) -> np.ndarray:
    """Finite values of SAMPLE_WINDOWS² windows of SAMPLE_SIDE² pixels spread evenly over ``image``
    (all of a smaller one): read window by window, so a whole painting's file is never read whole;
    colour channels only, float64, flat."""
    image = image if hasattr(image, "shape") else np.asarray(image)
    height, width = (*image.shape, 1, 1)[:2]
    rows = sorted({int(top) for top in np.linspace(0, max(0, height - SAMPLE_SIDE), SAMPLE_WINDOWS)})
    cols = sorted({int(left) for left in np.linspace(0, max(0, width - SAMPLE_SIDE), SAMPLE_WINDOWS)})
    windows = [np.asarray(image[top : top + SAMPLE_SIDE, left : left + SAMPLE_SIDE]) for top in rows for left in cols]
    colours = [window[..., :3] if window.ndim == 3 else window for window in windows]
    values = np.concatenate([np.asarray(window, np.float64).ravel() for window in colours])
    return values[np.isfinite(values)]


def in_storage_of(model: TrainedModel, sources: Any) -> tuple[TrainedModel, list[str]]:
    """``model`` with its photograph's and side channels' normalisations carried over to how the
    photograph and side channels of ``sources`` (:class:`~.sources.Sources`) are stored, and a sentence
    for each change (none: ``model`` itself). The photograph: scaled by the ratio of the storages'
    full brightness (:func:`storage_top` of the robust high ends; the model's read from its
    normalisation, so model files of every version are served). A side channel whose robust span is
    SIDE_UNITS_RATIO times the model's or more (or as far below): normalised by its own robust range.
    Raises nothing."""
    said: list[str] = []
    changes: dict[str, Any] = {}
    norm = model.rgb_normalisation
    trained = storage_top(None, norm.offset + norm.scale)
    photo = sources.rgb_surface
    values = _finite_values(photo)
    # By the robust high ends, the model's and this one's: a processed photograph overshoots 1 here and there.
    stored = storage_top(photo.dtype, robust_range(values)[1]) if values.size else None
    if trained is not None and stored is not None and trained != stored:
        factor = stored / trained
        changes["rgb_normalisation"] = Normalisation(offset=norm.offset * factor, scale=norm.scale * factor)
        said.append(
            f"The photograph is stored {_NAMES[stored]}, the model's was {_NAMES[trained]}: its values are read as "
            f"the same colours ({f'÷ {factor:.4g}' if factor > 1 else f'× {1 / factor:.4g}'})."
        )
    sides = list(model.side_normalisations)
    for index, (side, normalisation) in enumerate(zip(sources.side_channels, model.side_normalisations)):
        values = _finite_values(side)
        if not values.size:
            continue  # said by the separation's own checks
        own = Normalisation.fit(values)
        ratio = own.scale / normalisation.scale  # the spans: a map's content changes them 1–3×
        if not 1 / SIDE_UNITS_RATIO <= ratio <= SIDE_UNITS_RATIO:
            sides[index] = own
            changes["side_normalisations"] = tuple(sides)
            said.append(
                f"Side channel {index + 1} spans {own.scale:.4g}, the model's spanned {normalisation.scale:.4g}: "
                "stored in other units, it is read by its own range (give it as the model's training had it, "
                "for the same units)."
            )
    return (dataclasses.replace(model, **changes) if changes else model), said


def side_order(model: TrainedModel, sources: Any) -> str | None:
    """Whether ``sources``' side channels are given as ``model`` reads them, by their names (file or
    layer names, :attr:`~.trained.TrainedModel.side_names`): a sentence naming the model's order where
    the names differ (another painting's maps), None where they agree or either is unnamed. Raises
    :class:`~.errors.InputError` when they are the model's names in another order (swapped maps gave a
    tester x2 17.2 dB for 30.3, with no word)."""
    trained, given = tuple(model.side_names), tuple(getattr(sources, "side_names", ()))
    if not trained or len(given) != len(trained) or given == trained:
        return None
    listed = ", ".join(f"{index + 1} '{name}'" for index, name in enumerate(trained))
    if sorted(given) == sorted(trained):
        raise InputError(
            f"The side channels are given in another order than the model reads them ({listed}): give them in "
            "that order (in the dock, their order in the layer list)."
        )
    return f"The model reads its side channels as its training's: {listed} — check that the maps given are those."


def as_given(model: TrainedModel, sources: Any) -> TrainedModel:
    """``model`` ready for the photograph and side channels of ``sources`` as stored
    (:func:`in_storage_of`), each change and a side-channel order to check (:func:`side_order`) said as
    a UserWarning. Raises :class:`~.errors.InputError` for side channels given in another order."""
    model, said = in_storage_of(model, sources)
    for sentence in [*said, side_order(model, sources)]:
        if sentence:
            warnings.warn(sentence, UserWarning, stacklevel=3)
    return model
