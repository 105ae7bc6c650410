"""The photograph's and side channels' storage at apply time: are they stored as the model's were?

A model reads its photograph through the normalisation of the photograph it was trained on. The same
colours stored as 16-bit instead of 8-bit (× 257), or as floats 0–1 (÷ 255), land far outside the
colours it knows: a tester's x2 fell from 35.9 to 24.1 dB, and the X-ray's unit check then blamed the
X-ray ("× 2.15e-08"). A photograph's storage says what full brightness is — an integer type's
largest value, or 1 (or 255) for floats, read from their high end — so where the photograph is stored
in another type than the model's, the model's normalisation is carried over to the new storage, and
the user told. A 16-bit file that never reaches 4096 may be a 12-bit camera's, unscaled, or a dark
photograph: that is said, not guessed. Models keep their photograph's storage (type and full
brightness) from 2026-12-06; for older ones it is read from the normalisation, and only a change of
storage by 15× or more is acted on.

A side channel (an XRF map in counts, an infrared image) has no full brightness, and its range is the
painting's content (a map of a painting with little lead spans a thirtieth of a lead-rich one's): a
map stored in another type than the model's is only said, never rescaled. The model also keeps its
side channels' names (files, layers): the same names in another order are said (:func:`side_order`).
"""

from __future__ import annotations

import dataclasses
import re
import warnings
from typing import Any

import numpy as np

from .data import Normalisation
from .trained import TrainedModel

# Floats: (full brightness, the highest value read as it) — a processed photograph overshoots 1.
FLOAT_TOPS = ((1.0, 1.5), (255.0, 300.0), (65535.0, 70000.0))
# A float photograph's high end is this percentile of its values: a hot pixel or two are not its storage.
HIGH_PERCENTILE = 99.9
# A model saved before its photograph's storage was kept: a storage read from its normalisation is
# acted on only when full brightness differs by this factor or more (255 against 65535, 1 against
# 255), never at a boundary the estimates could fall either side of.
OLD_MODEL_RATIO = 15.0
# A 16-bit photograph whose values stay below this is said to be perhaps a 12-bit camera's, unscaled.
LOW_16_BIT = 4096
# The values read to judge a photograph: every k-th row and column of one in memory (about
# SAMPLE_PIXELS), SAMPLE_WINDOWS² windows of SAMPLE_SIDE² pixels spread over a whole painting's file.
SAMPLE_PIXELS = 1 << 20
SAMPLE_WINDOWS, SAMPLE_SIDE = 8, 64


def storage_top(dtype: Any, high: float) -> float | None:
    """Full brightness of an image stored as ``dtype``: an integer type's largest value (255, 65535);
    for floats, whose high end is ``high``, 1, 255 or 65535 as FLOAT_TOPS say, None above them (floats
    in units of their own, or no finite value)."""
    dtype = np.dtype(dtype)
    if dtype.kind in "ui":
        return float(np.iinfo(dtype).max)
    return next((top for top, limit in FLOAT_TOPS if high <= limit), None)


def _values(image: Any) -> np.ndarray:
    """Finite values of ``image``'s colour channels, float64: of every k-th row and column of an array
    in memory, of SAMPLE_WINDOWS² windows spread over anything else (a whole painting's file is never
    read whole)."""
    if isinstance(image, np.ndarray):
        step = max(1, int(np.sqrt(image.shape[0] * image.shape[1] / SAMPLE_PIXELS))) if image.ndim >= 2 else 1
        values = image[::step, ::step] if image.ndim >= 2 else image
        values = values[..., :3] if values.ndim == 3 else values
    else:
        height, width = image.shape[:2]
        rows = sorted({int(top) for top in np.linspace(0, max(0, height - SAMPLE_SIDE), SAMPLE_WINDOWS)})
        cols = sorted({int(left) for left in np.linspace(0, max(0, width - SAMPLE_SIDE), SAMPLE_WINDOWS)})
        windows = [np.asarray(image[y : y + SAMPLE_SIDE, x : x + SAMPLE_SIDE]) for y in rows for x in cols]
        values = np.concatenate([(w[..., :3] if w.ndim == 3 else w).reshape(-1) for w in windows])
    values = np.asarray(values, dtype=np.float64).reshape(-1)
    return values[np.isfinite(values)]


def photograph_storage(rgb_surface: Any) -> tuple[str, float] | None:
    """(type, full brightness) of a photograph as stored (:func:`storage_top`; a float one's high end
    its HIGH_PERCENTILE, finite values only), what a model keeps of the photograph it is fitted to;
    None for floats in units of their own."""
    dtype = np.dtype(rgb_surface.dtype)
    high = 0.0
    if dtype.kind == "f":
        values = _values(rgb_surface)
        if not values.size:
            return None
        high = float(np.percentile(values, HIGH_PERCENTILE))
    top = storage_top(dtype, high)
    return None if top is None else (dtype.name, top)


def _named(dtype: str, top: float) -> str:
    if np.dtype(dtype).kind == "f":
        return f"as floats 0–{top:g}"
    return f"{np.dtype(dtype).itemsize * 8}-bit (0–{top:g})"


def _low_note(photograph: Any, stored: tuple[str, float]) -> str:
    """For a 16-bit photograph whose values stay below LOW_16_BIT: a 12-bit camera's file, unscaled,
    looks the same as a dark one, and only the user knows which (said, not guessed)."""
    if stored[1] != 65535.0:
        return ""
    values = _values(photograph)
    if not values.size or values.max() >= LOW_16_BIT:
        return ""
    return (
        f" Its values reach only {values.max():.0f}: if it is a 12-bit camera's file, not scaled to 16 bits, "
        "scale it (or save it as the model's photograph was) — read as 16-bit, its colours are 16× too dark."
    )


def in_storage_of(model: TrainedModel, sources: Any) -> tuple[TrainedModel, list[str]]:
    """``model`` with its photograph's normalisation carried over to how the photograph of ``sources``
    (:class:`~.sources.Sources`) is stored, and a sentence for each thing said (none: ``model``
    itself). The photograph is rescaled by the ratio of full brightness where it is stored in another
    type than the model's (:attr:`~.trained.TrainedModel.rgb_storage`; for a model saved before it
    was kept, read from the normalisation, only by OLD_MODEL_RATIO or more). A side channel stored in
    another type than the model's (:attr:`~.trained.TrainedModel.side_dtypes`) is said, not changed.
    Raises nothing."""
    said: list[str] = []
    model_storage = model.rgb_storage
    norm = model.rgb_normalisation
    if model_storage is None:  # a model file from before: its photograph's high end
        high = norm.offset + norm.scale
        top = next((t for t, limit in FLOAT_TOPS if high <= limit), None)
        kind = {1.0: "float32", 255.0: "uint8"}.get(top, "uint16")
        model_storage = None if top is None else (kind, top)
    stored = photograph_storage(sources.rgb_surface)
    changed = model
    if model_storage is not None and stored is not None and stored[0] != model_storage[0]:
        factor = stored[1] / model_storage[1]
        if factor != 1.0 and (model.rgb_storage is not None or max(factor, 1 / factor) >= OLD_MODEL_RATIO):
            changed = dataclasses.replace(
                model, rgb_normalisation=Normalisation(offset=norm.offset * factor, scale=norm.scale * factor)
            )
            said.append(
                f"The photograph is stored {_named(*stored)}, the model's was {_named(*model_storage)}: its values "
                f"are read as the same colours ({f'÷ {factor:.4g}' if factor > 1 else f'× {1 / factor:.4g}'})."
                + _low_note(sources.rgb_surface, stored)
            )
    for index, (side, dtype) in enumerate(zip(sources.side_channels, model.side_dtypes)):
        if np.dtype(side.dtype).name != dtype:
            said.append(
                f"Side channel {index + 1} is stored as {np.dtype(side.dtype).name}, the model's was {dtype}: if its "
                "values are in other units (counts against 0–1), the model misreads it — give it as the "
                "model's training had it."
            )
    return changed, said


def side_order(model: TrainedModel, sources: Any) -> str | None:
    """A sentence when ``sources``' side channels carry the names the model's had (file or layer names,
    :attr:`~.trained.TrainedModel.side_names`) in another order — swapped maps gave a tester x2 17.2 dB
    for 30.3, with no word — or other names (another painting's maps): the model's order, to check.
    None where they agree, or either side's names are missing or not unique (a name tells nothing)."""
    trained, given = tuple(model.side_names), tuple(getattr(sources, "side_names", ()))
    if not trained or len(given) != len(trained) or given == trained:
        return None
    if len(set(trained)) != len(trained) or len(set(given)) != len(given):
        return None
    listed = ", ".join(f"{index + 1} '{name}'" for index, name in enumerate(trained))
    shown = ", ".join(f"{index + 1} '{name}'" for index, name in enumerate(given))
    if sorted(given) == sorted(trained):
        return (
            f"The side channels given ({shown}) carry the model's names in another order (it read {listed}): if "
            "they are the same maps, give them in that order (in the dock, their order in the layer list)."
        )
    # Another painting's maps differ in the painting's part of their names ("s1_Cu" for "s0_Cu"): what
    # tells the maps apart is the rest (a tester's swapped Cu and Fe maps were only told to be checked).
    own, theirs = distinct_parts(trained), distinct_parts(given)
    if own != theirs and sorted(own) == sorted(theirs) and all(own):
        return (
            f"The side channels given ({shown}) look like the model's in another order: their names differ in "
            f"{', '.join(map(repr, theirs))} where the model's read {', '.join(map(repr, own))} ({listed}); if they "
            "are the same kinds of maps, give them in the model's order (in the dock, their order in the layer list)."
        )
    return (
        f"The model reads its side channels as its training's: {listed}; given: {shown} — check that they are "
        "maps of the same kinds, in that order."
    )


def distinct_parts(names: tuple[str, ...]) -> tuple[str, ...]:
    """What tells ``names`` apart: each cut into words (at spaces, "_", "-", "."; case folded) without
    the words they all begin and end with ("p_s0_Cu-K", "p_s0_Fe-K" → "cu", "fe"); whole words only, so
    that "Sn" and "Zn" stay themselves. A single name is kept whole (folded)."""
    words = [[word for word in re.split(r"[\s_.\-]+", name.casefold()) if word] for name in names]
    if len(words) < 2:
        return tuple(" ".join(w) for w in words)
    start = 0
    while all(len(w) > start for w in words) and len({w[start] for w in words}) == 1:
        start += 1
    end = 0
    while all(len(w) - start > end for w in words) and len({w[len(w) - 1 - end] for w in words}) == 1:
        end += 1
    return tuple(" ".join(w[start : len(w) - end]) for w in words)


def as_given(model: TrainedModel, sources: Any) -> TrainedModel:
    """``model`` ready for the photograph and side channels of ``sources`` as stored
    (:func:`in_storage_of`), each change and a side-channel order to check (:func:`side_order`) said as
    a UserWarning."""
    model, said = in_storage_of(model, sources)
    for sentence in [*said, side_order(model, sources)]:
        if sentence:
            warnings.warn(sentence, UserWarning, stacklevel=3)
    return model
