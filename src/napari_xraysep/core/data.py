"""Input validation and normalisation: from whatever the scanner wrote to unit-range float arrays.

The network works on values in about [0, 1]; conservators work in their X-ray's own units. An
affine :class:`Normalisation` per image carries values there and back. Because the mixture is
additive (``x = x1 + x2``), the offset of the X-ray is shared evenly between the two components
when mapping back, so ``x1 + x2 == x`` holds in the user's units too.

Pixels that are NaN or infinite (the border of a flat-fielded or stitched mosaic) are *missing*:
they take no part in the normalisation or the training, are filled with :data:`MISSING_FILL` (unit
range) in the inputs prepared here (the fit gives them no weight; a forward pass fills them again
from their nearest pixels with data, :func:`~.inference.fill_missing`), and are NaN in every
result. So are, when asked for, the X-ray's clipped pixels and everything outside the painting's
support (:mod:`.defects`, :mod:`.support`); hot/dead pixels and scratches are repaired instead, and
with the support's rim left out of the fit (``fit_mask``).

The checks of the user's images are in :mod:`.checks`, the region and painting area in :mod:`.regions`;
:func:`prepare_inputs` calls both.
"""

from __future__ import annotations

import dataclasses
import functools
import warnings
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
from scipy import ndimage

from .checks import check_back, check_pair, check_side_channel, check_side_count, finite_pixels, side_list
from .defects import CLIP_DILATION, Defects, find_defects, neighbour_extreme, points_and_scratches, repair
from .errors import InputError
from .regions import PaintingArea, check_region, painting_support
from .support import SUPPORT_EROSION, Support, detect_support, trim_given, trim_to_photograph

# Robust intensity range: these percentiles of an image's values map to 0 and 1 (see robust_range).
LOW_PERCENTILE, HIGH_PERCENTILE = 0.5, 99.5
# The percentiles are estimated on a regular sample of at most this many values.
RANGE_SAMPLE = 1_000_000
# What a missing pixel reads as in unit range, for the forward pass only (its results are NaN).
MISSING_FILL = 0.5


def robust_range(values: Any, valid: np.ndarray | None = None) -> tuple[float, float]:
    """The intensity range an image's signal spans: the LOW_PERCENTILE and HIGH_PERCENTILE
    percentiles (0.5 % and 99.5 %) of its finite values (where ``valid``), leaving out the values
    equal to the exact minimum or maximum — clipped pixels: dead or hot pixels, a saturated or
    unexposed border — so that neither a few outliers nor a large clipped area can flatten the
    signal into a sliver of [0, 1]. If nothing is left (a two-level image), all finite values count.
    Estimated on a regular sample of at most RANGE_SAMPLE values. Raises InputError if no value is
    finite.
    """
    values = np.asarray(values)
    if valid is not None:
        values = values[np.broadcast_to(valid.reshape(valid.shape + (1,) * (values.ndim - valid.ndim)), values.shape)]
    values = values.reshape(-1)
    values = values[:: max(1, values.size // RANGE_SAMPLE)].astype(np.float64)
    values = values[np.isfinite(values)]
    if values.size == 0:
        raise InputError("The image has no finite pixel value (every pixel is NaN or infinite).")
    lowest, highest = values.min(), values.max()
    inner = values[(values > lowest) & (values < highest)]
    low, high = np.percentile(inner if inner.size else values, [LOW_PERCENTILE, HIGH_PERCENTILE])
    if not high > low:  # few distinct values: the whole range
        low, high = lowest, highest
    return float(low), float(high)


@functools.lru_cache(maxsize=16)
def _unit_levels(offset: float, scale: float, itemsize: int) -> np.ndarray:
    """(2^(8·itemsize),) float32: :meth:`Normalisation.to_unit` of every level of an unsigned image."""
    return ((np.arange(2 ** (8 * itemsize), dtype=np.float64) - offset) / scale).astype(np.float32)


@dataclass(frozen=True)
class Normalisation:
    """``unit = (value - offset) / scale``; stored in model files so new images map the same way."""

    offset: float
    scale: float

    @classmethod
    def fit(cls, image: np.ndarray, valid: np.ndarray | None = None) -> Normalisation:
        """The robust range of ``image``'s values (where ``valid``, (H, W) bool) mapped to [0, 1]
        (:func:`robust_range`): the signal fills about [0, 1], outliers and clipped pixels land
        outside it. Models saved by 0.1 stored min–max normalisations; they apply as stored."""
        low, high = robust_range(image, valid)
        return cls(offset=low, scale=(high - low) if high > low else 1.0)

    def to_unit(self, image: np.ndarray, out: np.ndarray | None = None) -> np.ndarray:
        """``image`` (any shape) as float32 ``(value − offset) / scale``, computed in float64; written
        into ``out`` (float32, ``image``'s shape) when given, and returned. An 8- or 16-bit unsigned
        image is looked up in a table of its levels computed by the same formula: the same values,
        in one pass instead of four (a tile's photograph and X-ray are converted this way)."""
        image = np.asarray(image)
        if image.dtype in (np.uint8, np.uint16):
            return np.take(_unit_levels(self.offset, self.scale, image.dtype.itemsize), image, out=out)
        unit = ((image.astype(np.float64, copy=False) - self.offset) / self.scale).astype(np.float32)
        if out is None:
            return unit
        out[...] = unit
        return out

    def from_unit(self, unit: np.ndarray, offset_share: float = 1.0) -> np.ndarray:
        """Back to the image's units; ``offset_share`` is the part of the offset this layer carries."""
        return (np.asarray(unit, dtype=np.float64) * self.scale + offset_share * self.offset).astype(
            np.float32
        )

    def to_dict(self) -> dict[str, float]:
        return {"offset": self.offset, "scale": self.scale}


@dataclass(frozen=True)
class SeparationInputs:
    """Validated, unit-range inputs for the core; produced by :func:`prepare_inputs`."""

    x_mixed: np.ndarray  # (H, W) float32, unit range
    rgb_surface: np.ndarray  # (3, H, W) float32, unit range
    region_mask: np.ndarray | None  # (H, W) bool; None when only applying a model or double-sided
    x_normalisation: Normalisation
    rgb_normalisation: Normalisation  # shared by both sides of a double-sided panel
    rgb_back: np.ndarray | None = None  # (3, H, W) float32, unit range, in the X-ray's orientation
    # Extra registered maps (infrared, XRF element maps) read by E_r after the RGB: rgb_surface is
    # then (3 + k, H, W); each map has its own normalisation.
    side_normalisations: tuple[Normalisation, ...] = ()
    # (H, W) bool, False where a pixel is missing (NaN or infinite in any input, clipped, outside
    # the support); None: none is. Missing pixels are NaN in every result.
    valid: np.ndarray | None = None
    # How many pixels inside the painting (where the X-ray has data) each other input misses (NaN or
    # infinite), by name: "photograph", "back photograph", "side channel 1" …; only those that miss some.
    missing_inputs: dict[str, int] = dataclasses.field(default_factory=dict)
    # (H, W) bool: the pixels the fit may use (valid, inside the eroded support, no defect near);
    # None: the valid ones.
    fit_mask: np.ndarray | None = None
    # What was found: the painting's support and the X-ray's defects (None: not looked for).
    support: Support | None = None
    defects: Defects | None = None
    # (H, W) float64: the X-ray in its own units with hot/dead pixels and scratches repaired (what
    # the results add up to); None when nothing was repaired.
    x_repaired: np.ndarray | None = None

    @property
    def double_sided(self) -> bool:
        return self.rgb_back is not None

    @property
    def fit_pixels(self) -> np.ndarray | None:
        """(H, W) bool of the pixels the fit uses, or None for all."""
        return self.valid if self.fit_mask is None else self.fit_mask

    @property
    def shape(self) -> tuple[int, int]:
        return self.x_mixed.shape  # type: ignore[return-value]


def missing_inputs_warning(missing: dict[str, int], side_names: Sequence[str] = (), fitted: bool = True) -> str | None:
    """The sentence for inputs that miss pixels inside the painting (``missing``: a
    :class:`SeparationInputs`'s ``missing_inputs``; a side channel named from ``side_names`` where it
    has one), None when none does: a side map with a strip missing left x1 and x2 empty there without a
    word (a new user's finding). ``fitted``: whether a fit left them out (not when a model is only applied)."""
    if not missing:
        return None

    def named(name: str) -> str:
        index = int(name.rsplit(" ", 1)[1]) - 1 if name.startswith("side channel") else -1
        return f"{name} ('{side_names[index]}')" if 0 <= index < len(side_names) else name

    parts = [f"the {named(name)} at {count:,} pixel{'s' * (count != 1)}".replace(",", " ") for name, count in missing.items()]
    left_out = ", and the fit left them out" if fitted else ""
    listed = parts[0] if len(parts) == 1 else f"{', '.join(parts[:-1])} and {parts[-1]}"
    return f"No value (NaN or infinite) in {listed} inside the painting: every result is empty there{left_out}."


# A painting under this many px a side is fitted, with a warning: a canvas's weave shows a few threads
# only, and the fit follows the few pixels there are (support.MIN_SIDE: too small to tell a margin either).
SMALL_PAINTING = 64


def small_painting_warning(valid: np.ndarray) -> str | None:
    """The warning for a fit on a painting whose pixels with data (``valid``, (H, W) bool) span under
    :data:`SMALL_PAINTING` px in either direction, or None. (A crop made by mistake: a tester's 20×24 px
    X-ray separated without a word.)"""
    if not valid.any():
        return None
    height, width = _span(valid)
    if min(height, width) >= SMALL_PAINTING:
        return None
    return (
        f"The painting is only {height}×{width} px: too small for the separation to mean much (a canvas's weave "
        "shows a few threads only, and the fit follows the few pixels there are). If it was cropped by mistake, "
        f"give the whole painting (at least {SMALL_PAINTING} px a side)."
    )


def _span(painting: np.ndarray) -> tuple[int, int]:
    """(height, width) of the box around the True pixels of ``painting`` ((H, W) bool, some True)."""
    rows, cols = np.flatnonzero(painting.any(axis=1)), np.flatnonzero(painting.any(axis=0))
    return int(rows[-1] + 1 - rows[0]), int(cols[-1] + 1 - cols[0])


def _check_painting_size(painting: np.ndarray, min_size: int, found: bool = False) -> None:
    """InputError when the painting's pixels with data (``painting``, (H, W) bool) span less than
    ``min_size`` in either direction or number fewer than ``min_size``²: a fit there would explain a few
    pixels and leave the rest of the frame empty (a box typed in the wrong units, a stray click; ``found``:
    the painting was found in the X-ray, not given, and the message says so)."""
    height, width = _span(painting)
    count = int(np.count_nonzero(painting))
    if min(height, width) < min_size or count < min_size * min_size:
        share = 100 * count / painting.size
        what, remedy = (
            ("The painting found in the X-ray", "or the whole frame (full), where the painting is larger") if found
            else ("The painting area", "or leave it out to have it found")
        )
        raise InputError(
            f"{what} holds {count} pixels with data ({height}×{width} px, {share:.2g} % of the "
            f"{painting.shape[0]}×{painting.shape[1]} frame): too few to fit the separation, which needs at least "
            f"{min_size}×{min_size}. Give the painting's whole area (a box Y0,X0,Y1,X1 in pixels), {remedy}."
        )


def missing_filled(image: np.ndarray) -> np.ndarray:
    """``image`` with its NaN or infinite values replaced by the median of the finite ones: for
    measurements that cannot skip pixels (the alignment check's Fourier transform)."""
    image = np.asarray(image)
    finite = np.isfinite(image) if np.issubdtype(image.dtype, np.floating) else None
    if finite is None or finite.all():
        return image
    return np.where(finite, image, np.median(image[finite]) if finite.any() else 0.0)


def _region_left_out(support: Support | None, optional: bool) -> None:
    """A region none of whose pixels is separated: refused in words that say why — it lies outside the
    painting ``support`` (found or given; a region on the film margin was called "only missing
    pixels"), else (None) where the images have no data — or, where the method needs no region
    (``optional``), run as no region with a warning. Raises InputError where the region is needed."""
    if support is not None:
        y0, y1, x0, x1 = support.bounds()
        message = (
            f"The region lies outside the painting {'found in the X-ray' if support.source == 'detected' else 'given'} "
            f"(rows {y0}–{y1}, columns {x0}–{x1}): draw it over the painting"
            + (", or give the painting's area." if support.source == "detected" else ".")
        )
    else:
        message = ("The region holds only missing pixels (NaN or infinite in the X-ray or the photograph); "
                   "draw it where the images have data.")
    if not optional:
        raise InputError(message)
    warnings.warn(f"{message} The colour map needs none: it fits the whole painting alike, as without a region.",
                  UserWarning, stacklevel=4)


# The search again reads the painting's box and this many px around it: beyond the reach of every
# filter of the search (SCRATCH_LENGTH, SLANT_ISOLATION), what lies further is never searched (filled
# with the median), so the marks are those a search of the whole frame makes.
SEARCH_PAD = 64


def _in_painting(valid: np.ndarray, support: Support | None) -> np.ndarray:
    """The ``valid`` pixels inside ``support`` (all of them without one): a defect on the painting's
    outline is repaired from the painting beside it, not from the film margin or backdrop."""
    return valid if support is None or support.full else valid & support.mask


def _sought_in_painting(
    defects: Defects, x_mixed: np.ndarray, valid: np.ndarray, rgb_surface: np.ndarray, support: Support | None
) -> Defects:
    """``defects``' clipped pixels with the hot/dead pixels and scratches of ``x_mixed`` (H, W) sought
    again (:func:`~.defects.points_and_scratches`) inside the painting ``support`` and counted there: a
    painting found with its holes closed (the support leaves clipped pixels out, a clipped passage is the
    painting's), a user's area as given (its holes are the user's). Sought against the painting's own
    noise: a flat film margin lowers the frame's (265 against 297 levels), and paint specks passed for
    hot pixels (1–13 per backdrop painting, 0–5 in its box). Stuck pixels (``defects.stuck``, taken out of
    the clipped ones as points) stay points: the painting's higher noise scale must not leave one neither
    clipped nor repaired."""
    painting = None
    if support is not None and not support.full:
        painting = ndimage.binary_fill_holes(support.mask) if support.source == "detected" else support.mask
    # A pixel alone at the detector's limit is judged again too, among the painting's pixels: on the
    # painting's outline one failed the point test against the film margin beside it and stayed
    # clipped (empty), where a whole painting's tiles, searched inside the painting, repaired it.
    # Alone among the painting's clipped pixels, as a tile searched inside the painting judges it: a stuck
    # pair across the painting's edge leaves the painting's one alone.
    clipped_inside = defects.clipped if painting is None else defects.clipped & painting
    alone = clipped_inside & ~neighbour_extreme(clipped_inside, largest=True)
    searched = (valid | alone) if painting is None else (valid | alone) & painting
    if not searched.any():
        return defects if painting is None else defects.within(painting, x_mixed)
    rows, cols = np.flatnonzero(searched.any(axis=1)), np.flatnonzero(searched.any(axis=0))
    area = (slice(max(rows[0] - SEARCH_PAD, 0), rows[-1] + 1 + SEARCH_PAD),
            slice(max(cols[0] - SEARCH_PAD, 0), cols[-1] + 1 + SEARCH_PAD))
    stuck = alone if defects.stuck is None else (defects.stuck & searched) | alone
    found = points_and_scratches(
        dataclasses.replace(defects, clipped=defects.clipped & ~alone).cropped(area), np.asarray(x_mixed)[area],
        searched[area], np.asarray(rgb_surface)[area], stuck=stuck[area],
    )
    points, scratches = np.zeros(searched.shape, bool), np.zeros(searched.shape, bool)
    points[area], scratches[area] = found.points, found.scratches
    stuck = (stuck & ~alone) | (alone & points)  # still stuck: found before, or a point now
    points |= stuck
    scratches &= ~stuck
    clipped, ring = defects.clipped, defects.clipped_ring
    if (alone & points).any():  # no longer clipped: repaired, and no ring of clipping around them
        clipped = clipped & ~points
        ring = ring & ndimage.binary_dilation(clipped, iterations=CLIP_DILATION) if clipped.any() else clipped
    again = dataclasses.replace(
        defects, clipped=clipped, clipped_ring=ring, points=points, scratches=scratches,
        scratch_count=found.scratch_count, stuck=stuck,
    )
    return again if painting is None else again.within(painting, x_mixed)


def prepare_inputs(
    x_mixed: np.ndarray,
    rgb_surface: np.ndarray,
    region_mask: np.ndarray | None,
    *,
    rgb_back: np.ndarray | None = None,
    mirror_back: bool = False,
    side_channels: Sequence[np.ndarray] | np.ndarray | None = (),
    min_size: int = 1,
    x_normalisation: Normalisation | None = None,
    rgb_normalisation: Normalisation | None = None,
    side_normalisations: Sequence[Normalisation] | None = None,
    painting_area: PaintingArea = None,
    detect: bool = False,
    mark_defects: bool = False,
    found: tuple[Support | None, Defects | None] | None = None,
    region_optional: bool = False,
) -> SeparationInputs:
    """Validate the user's arrays and bring them to unit range (float32, channels first for RGB).

    Pixels that are NaN or infinite in any image are missing (``valid`` is False there): left out of
    the normalisations and of the region, filled with MISSING_FILL. Raises InputError when no pixel,
    or no pixel of the region, has data.

    ``rgb_back`` makes it a double-sided panel (``mirror_back`` if that photograph was taken from
    behind); both photographs share one normalisation, since one encoder reads both.
    ``side_channels`` are extra registered maps the surface encoder reads after the RGB.
    ``min_size`` is the smallest side the chosen training/inference setting can handle (a patch);
    normalisations may be given, e.g. from a trained model, so new data maps into the same units.

    With ``mark_defects`` the X-ray's clipped pixels become missing too, its hot/dead pixels and
    scratches are repaired (``x_repaired``) and left out of the fit (:func:`~.defects.find_defects`).
    ``painting_area`` (see :func:`painting_support`) or, with ``detect``, the support found in the
    X-ray (:func:`~.support.detect_support`) makes everything outside the painting missing; the fit
    keeps inside its eroded edge (``fit_mask``). ``found`` (support, defects) of an earlier preparation
    of the same X-ray replaces both searches (an X-ray corrected in float keeps its clipped pixels).
    A region wholly outside the painting raises InputError naming where the painting is, or, with
    ``region_optional`` (the colour map, which needs no region), is run as no region with a warning.
    """
    x_mixed, rgb_surface = check_pair(x_mixed, rgb_surface)
    back = None if rgb_back is None else check_back(rgb_back, x_mixed, mirror_back)
    sides = [check_side_channel(side, x_mixed.shape, i) for i, side in enumerate(side_list(side_channels))]
    if sides and back is not None:
        raise InputError("Side channels are for the concealed-design separation; a double-sided panel takes none.")
    if side_normalisations is not None:
        check_side_count(len(side_normalisations), len(sides))
    height, width = x_mixed.shape
    if min(height, width) < min_size:
        raise InputError(
            f"The images are {height}×{width} pixels, smaller than the {min_size}×{min_size} patch the "
            "separation needs; use a larger area (or, for the auto-encoder, a smaller patch/crop size)."
        )
    region = None if region_mask is None else check_region(region_mask, x_mixed.shape)
    # The photographs' and side maps' missing pixels are said where the X-ray has data (its own are its
    # film margin, a flat-field border: what it means by NaN, said nowhere).
    named = {"photograph": rgb_surface, **({} if back is None else {"back photograph": back})}
    absent = {name: ~finite_pixels(image) for name, image in {**named, **{f"side channel {i + 1}": s for i, s in enumerate(sides)}}.items()}
    measured_x = finite_pixels(x_mixed)
    holes = np.logical_or.reduce([~measured_x, *absent.values()])
    valid = ~holes
    if not valid.any():
        raise InputError("No pixel has a finite value in every image (X-ray, photograph, side channels); nothing to separate.")
    if found is not None:  # the same X-ray, corrected (a mosaic's films): the painting and clipping hold
        support, defects = found
        if defects is not None:
            # Hot/dead pixels and scratches sought again in one exposure: a film seam's one-pixel step
            # read as a scratch in the films as stored (183 of the 438 scratch pixels marked on 12 mosaics).
            again = _sought_in_painting(defects, x_mixed, valid, rgb_surface, support)
            defects = dataclasses.replace(again, clipped_high=defects.clipped_high, clipped_low=defects.clipped_low)
    else:
        defects = find_defects(x_mixed, valid, rgb_surface) if mark_defects else None
    x_repaired, stored = None, x_mixed
    if defects is not None:
        valid &= ~defects.clipped
        if not valid.any():
            raise InputError("Every pixel of the mixed X-ray with data is clipped (at the detector's limit); nothing to separate.")
        if defects.repaired.any():
            x_repaired = repair(x_mixed, defects.repaired, _in_painting(valid, support if found is not None else None))
            x_mixed = x_repaired
    if found is None:
        support = painting_support(painting_area, x_mixed.shape)
        # Sought in the X-ray's own pixels, as a whole painting's is: a photograph of the painting alone
        # (NaN beyond it once aligned) hid the film margin around it, and the whole frame was taken.
        measured = finite_pixels(x_mixed) if defects is None else finite_pixels(x_mixed) & ~defects.clipped
        if support is None and detect:
            support = trim_to_photograph(detect_support(x_mixed, measured), rgb_surface, x_mixed, valid)
        elif support is not None and detect:  # drawn to the edge, an area takes in a line of margin
            support = trim_given(support, x_mixed, measured)
    fit_mask = None
    if support is not None and not support.full:
        if found is None and defects is not None:  # counted inside the painting, as a whole painting's tiles are
            clipped_before = defects.clipped
            defects = _sought_in_painting(defects, stored, valid, rgb_surface, support)
            valid |= clipped_before & defects.points  # stuck pixels judged again: repaired, not missing
            repaired = defects.repaired.any()
            x_repaired = repair(stored, defects.repaired, _in_painting(valid, support)) if repaired else None
            x_mixed = stored if x_repaired is None else x_repaired
        with_data = valid.copy()  # to tell a region outside the painting from one without data
        valid &= support.mask
        if not valid.any():
            raise InputError("The painting area holds only missing or clipped pixels; nothing to separate there.")
        _check_painting_size(valid, min_size, found=support.source == "detected")
    within = measured_x if support is None or support.full else support.mask & measured_x  # beyond: no matter
    counts = {name: int((hole & within).sum()) for name, hole in absent.items()}
    missing_inputs = {name: count for name, count in counts.items() if count}
    # Pixels beside a gap in the data see its fill through the fit's filters (a side map's missing patch
    # cost x2 2.5 dB over the whole painting): left out to the support rim's depth, as the support's edge
    # is — beside gaps wider than a speck only, and only where that leaves the fit half its pixels (a
    # breaker's 5 % of scattered NaN pixels left it 9 of 52 000: x2 22.6 → 15.0 dB).
    gaps = ndimage.binary_opening(holes, np.ones((3, 3), bool)) if holes.any() else None
    beside_gaps = None if gaps is None or not gaps.any() else ndimage.maximum_filter(gaps, size=2 * SUPPORT_EROSION + 1)
    if (support is not None and not support.full) or (defects is not None and defects.excluded.any()) or beside_gaps is not None:
        fit_mask = valid & (~defects.excluded if defects is not None else True)
        if support is not None:
            fit_mask &= support.fit_mask()
        if beside_gaps is not None and (fit_mask & ~beside_gaps).sum() >= 0.5 * fit_mask.sum():
            fit_mask &= ~beside_gaps
        if not fit_mask.any():  # a sliver of a painting: fit on what there is
            fit_mask = valid.copy()
    if region is not None:
        inside = region & valid
        if not inside.any():
            outside = support is not None and not support.full and bool((region & with_data).any())
            _region_left_out(support if outside else None, region_optional)
        region = inside if inside.any() else None
    x_norm = x_normalisation or Normalisation.fit(x_mixed, valid)
    rgb_norm = rgb_normalisation or Normalisation.fit(
        rgb_surface[valid] if back is None else np.stack([rgb_surface[valid], back[valid]])
    )
    side_norms = tuple(side_normalisations) if side_normalisations is not None else tuple(Normalisation.fit(s, valid) for s in sides)
    missing = None if valid.all() else ~valid

    def unit(normalisation: Normalisation, image: np.ndarray) -> np.ndarray:
        """Unit range, missing pixels filled (MISSING_FILL)."""
        scaled = normalisation.to_unit(image)
        if missing is not None:
            scaled[missing] = MISSING_FILL
        return scaled

    def channels_first(rgb: np.ndarray) -> np.ndarray:
        return np.ascontiguousarray(np.moveaxis(unit(rgb_norm, rgb), -1, 0))

    surface = channels_first(rgb_surface)
    if sides:
        surface = np.concatenate([surface, np.stack([unit(n, s) for n, s in zip(side_norms, sides)])])
    return SeparationInputs(
        x_mixed=unit(x_norm, x_mixed),
        rgb_surface=surface,
        region_mask=region,
        x_normalisation=x_norm,
        rgb_normalisation=rgb_norm,
        rgb_back=None if back is None else channels_first(back),
        side_normalisations=side_norms,
        valid=None if missing is None else valid,
        missing_inputs=missing_inputs,
        fit_mask=fit_mask,
        support=support,
        defects=defects,
        x_repaired=x_repaired,
    )
