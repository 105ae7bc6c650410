"""Input validation and normalisation: from whatever the scanner wrote to unit-range float arrays.

The network works on values in about [0, 1]; conservators work in their X-ray's own units. An
affine :class:`Normalisation` per image carries values there and back. Because the mixture is
additive (``x = x1 + x2``), the offset of the X-ray is shared evenly between the two components
when mapping back, so ``x1 + x2 == x`` holds in the user's units too.

Pixels that are NaN or infinite (the border of a flat-fielded or stitched mosaic) are *missing*:
they take no part in the normalisation or the training, are filled with :data:`MISSING_FILL` (unit
range) for the forward pass, and are NaN in every result. So are, when asked for, the X-ray's
clipped pixels and everything outside the painting's support (:mod:`.defects`, :mod:`.support`);
hot/dead pixels and scratches are repaired instead, and with the support's rim left out of the fit
(``fit_mask``).
"""

from __future__ import annotations

import math
import warnings
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from .defects import Defects, find_defects, repair
from .errors import InputError
from .masks import user_mask
from .support import Support, detect_support, support_from_mask, whole_frame

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

    def to_unit(self, image: np.ndarray) -> np.ndarray:
        return ((np.asarray(image, dtype=np.float64) - self.offset) / self.scale).astype(np.float32)

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


def _describe(shape: Sequence[int]) -> str:
    return "×".join(str(s) for s in shape)


def check_dtype(dtype: np.dtype, what: str) -> None:
    """8/16-bit (any integer) or float pixels; anything else is named."""
    dtype = np.dtype(dtype)
    if dtype == bool or not (np.issubdtype(dtype, np.integer) or np.issubdtype(dtype, np.floating)):
        raise InputError(f"The {what} has pixel type {dtype}; expected 8/16-bit integers or floats.")


def finite_pixels(image: np.ndarray) -> np.ndarray:
    """(H, W) bool: pixels whose every channel is finite ((H, W) or (H, W, C) ``image``)."""
    image = np.asarray(image)
    if not np.issubdtype(image.dtype, np.floating):
        return np.ones(image.shape[:2], dtype=bool)
    finite = np.isfinite(image)
    return finite.all(axis=-1) if image.ndim == 3 else finite


def missing_filled(image: np.ndarray) -> np.ndarray:
    """``image`` with its NaN or infinite values replaced by the median of the finite ones: for
    measurements that cannot skip pixels (the alignment check's Fourier transform)."""
    image = np.asarray(image)
    finite = np.isfinite(image) if np.issubdtype(image.dtype, np.floating) else None
    if finite is None or finite.all():
        return image
    return np.where(finite, image, np.median(image[finite]) if finite.any() else 0.0)


def unmasked(image: Any) -> np.ndarray:
    """``image`` as a plain array; a NumPy masked array's masked values become NaN (missing data, as
    the separation treats NaN) — ``np.asarray`` alone would keep the values under the mask and
    separate them as if they were measured. Integer images with masked values become float32."""
    if not np.ma.isMaskedArray(image):
        return np.asarray(image)
    if not np.ma.getmask(image).any():
        return np.ma.getdata(image)
    return np.ma.filled(np.ma.asarray(image).astype(np.result_type(image.dtype, np.float32)), np.nan)


def _check_numeric(image: np.ndarray, what: str) -> None:
    check_dtype(image.dtype, what)
    if image.size == 0:
        raise InputError(f"The {what} is empty (shape {_describe(image.shape)}).")
    if not finite_pixels(image).any():
        raise InputError(f"Every pixel of the {what} is NaN or infinite (missing); there is nothing to separate.")


def check_xray_shape(shape: Sequence[int]) -> None:
    """A 2-D grayscale image's shape (checked without reading pixels, e.g. of a memory-mapped file)."""
    if len(shape) == 3 and shape[-1] in (3, 4):
        raise InputError(
            f"The mixed X-ray has shape {_describe(shape)}, which looks like a colour image; "
            "choose the grayscale radiograph."
        )
    if len(shape) != 2:
        raise InputError(
            f"The mixed X-ray must be a 2-D grayscale image; got {len(shape)} dimensions (shape {_describe(shape)})."
        )


def check_rgb_shape(shape: Sequence[int], what: str = "surface RGB image") -> None:
    """An H×W×3 (or ×4) photograph's shape."""
    if len(shape) == 2:
        raise InputError(
            f"The {what} is grayscale (shape {_describe(shape)}); the separation needs the colour photograph (H×W×3)."
        )
    if len(shape) != 3 or shape[-1] not in (3, 4):
        raise InputError(f"The {what} must be H×W×3 (or H×W×4 with alpha); got shape {_describe(shape)}.")


def check_xray(x_mixed: np.ndarray) -> np.ndarray:
    """The mixed X-ray as a 2-D numeric array (a masked array's masked pixels missing: NaN), or an
    :class:`InputError` saying why not."""
    x_mixed = unmasked(x_mixed)
    check_xray_shape(x_mixed.shape)
    _check_numeric(x_mixed, "mixed X-ray")
    values = x_mixed[finite_pixels(x_mixed)]
    if float(np.min(values)) == float(np.max(values)):
        raise InputError(
            f"The mixed X-ray is constant (every pixel is {np.min(values)}); there is nothing to separate."
        )
    return x_mixed


def check_rgb(rgb_surface: np.ndarray, what: str = "surface RGB image") -> np.ndarray:
    """A photograph as H×W×3 (a masked array's masked values missing: NaN); an alpha channel is
    dropped with a warning."""
    rgb_surface = unmasked(rgb_surface)
    check_rgb_shape(rgb_surface.shape, what)
    if rgb_surface.shape[-1] == 4:
        warnings.warn(f"The {what} has an alpha channel; it is ignored.", UserWarning, stacklevel=3)
        rgb_surface = rgb_surface[..., :3]
    _check_numeric(rgb_surface, what)
    return rgb_surface


def check_registered(x_shape: Sequence[int], rgb_shape: Sequence[int], what: str) -> None:
    """The photograph covers the X-ray pixel for pixel."""
    if tuple(x_shape) != tuple(rgb_shape[:2]):
        raise InputError(
            f"The mixed X-ray is {_describe(x_shape)} pixels but the {what} is "
            f"{_describe(rgb_shape[:2])}; they must be registered (aligned pixel for pixel) "
            "and the same size: resample it onto the X-ray's grid with `xraysep align` (or Plugins ▸ napari-xraysep ▸ Align photograph)."
        )


def check_pair(x_mixed: np.ndarray, rgb_surface: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Both images checked, and registered to the same height and width."""
    x_mixed, rgb_surface = check_xray(x_mixed), check_rgb(rgb_surface)
    check_registered(x_mixed.shape, rgb_surface.shape, "surface RGB")
    return x_mixed, rgb_surface


def check_back(rgb_back: np.ndarray, x_mixed: np.ndarray, mirror: bool) -> np.ndarray:
    """The back side's photograph, mirrored left–right first if it was taken from behind."""
    rgb_back = check_rgb(rgb_back, "back side RGB image")
    if mirror:
        rgb_back = rgb_back[:, ::-1]
    check_registered(x_mixed.shape, rgb_back.shape, "back side RGB")
    return rgb_back


def check_region(region_mask: np.ndarray, shape: tuple[int, int]) -> np.ndarray:
    """A boolean H×W mask with at least one pixel set (non-zero values count as inside)."""
    return user_mask(
        region_mask, shape, "The region mask",
        "The region is empty: draw the area where the hidden design shows most (it is replaced "
        "by the grayscale photograph in the labeled surface X-ray).",
    )


def clip_boxes(
    boxes: Sequence[Sequence[float]], shape: tuple[int, int], what: str = "region box"
) -> list[tuple[int, int, int, int]]:
    """``(y0, x0, y1, x1)`` rectangles (end exclusive) rounded and clipped to an image of ``shape``.

    A box partly outside is clipped with a warning; one wholly outside, or empty, is an error,
    because silently dropping it would train on a region the user did not mean; so is a coordinate
    that is not a finite number (NaN, infinity). ``what`` names the box in the messages ("region
    box", "painting area").
    """
    height, width = shape
    clipped = []
    for box in boxes:
        if len(box) != 4:
            raise InputError(f"A {what} needs four numbers Y0,X0,Y1,X1; got {list(box)}.")
        try:
            values = [float(v) for v in box]
        except (TypeError, ValueError) as error:
            raise InputError(f"A {what} needs four numbers Y0,X0,Y1,X1; got {list(box)}.") from error
        if not all(math.isfinite(v) for v in values):  # round() would fail on them with a traceback
            raise InputError(f"A {what} needs four finite numbers Y0,X0,Y1,X1 in pixels; got {','.join(map(str, box))}.")
        y0, x0, y1, x1 = (round(v) for v in values)
        if y1 <= y0 or x1 <= x0:
            raise InputError(f"The {what} {y0},{x0},{y1},{x1} is empty: Y1 must exceed Y0 and X1 exceed X0.")
        cy0, cx0, cy1, cx1 = max(y0, 0), max(x0, 0), min(y1, height), min(x1, width)
        if cy1 <= cy0 or cx1 <= cx0:
            raise InputError(
                f"The {what} {y0},{x0},{y1},{x1} lies wholly outside the {height}×{width} image."
            )
        if (cy0, cx0, cy1, cx1) != (y0, x0, y1, x1):
            warnings.warn(
                f"The {what} {y0},{x0},{y1},{x1} reaches outside the {height}×{width} image; "
                f"clipped to {cy0},{cx0},{cy1},{cx1}.",
                UserWarning,
                stacklevel=3,
            )
        clipped.append((cy0, cx0, cy1, cx1))
    if not clipped:
        raise InputError(f"No {what} given.")
    return clipped


def region_from_boxes(boxes: Sequence[Sequence[float]], shape: tuple[int, int], what: str = "region box") -> np.ndarray:
    """Union of ``(y0, x0, y1, x1)`` rectangles (end exclusive), clipped to the image, as an (H, W)
    bool mask (see :func:`clip_boxes`, ``what`` naming the box; :class:`BoxRegion` is the same,
    computed per block)."""
    mask = np.zeros(shape, dtype=bool)
    for y0, x0, y1, x1 in clip_boxes(boxes, shape, what):
        mask[y0:y1, x0:x1] = True
    return check_region(mask, shape)


PaintingArea = Any  # None, "full", a (y0, x0, y1, x1) box or an (H, W) mask


def painting_support(area: PaintingArea, shape: tuple[int, int]) -> Support | None:
    """The user's painting area as a :class:`~.support.Support`: ``"full"`` the whole frame, a
    ``(y0, x0, y1, x1)`` box (end exclusive, clipped to the frame) or an (H, W) mask (non-zero
    inside); None when not given (the support is then found, or not sought). Raises InputError if
    it is empty, the wrong size or not one of these."""
    if area is None:
        return None
    if isinstance(area, str):
        if area.strip().lower() != "full":
            raise InputError(f"The painting area must be 'full', a box Y0,X0,Y1,X1 or a mask; got {area!r}.")
        return whole_frame(shape, "given")
    array = np.asarray(area)
    if array.ndim == 2 and array.shape != (1, 4):
        return support_from_mask(array, shape)
    if array.size != 4:
        raise InputError(f"The painting area must be a box Y0,X0,Y1,X1 or an H×W mask; got shape {_describe(array.shape)}.")
    mask = region_from_boxes([array.reshape(-1).tolist()], shape, "painting area")
    return support_from_mask(mask, shape)


class BoxRegion:
    """The mask of :func:`region_from_boxes` as a lazy (H, W) bool array: ``region[rows, cols]``
    computes only that block (a whole painting's mask would take a byte a pixel)."""

    def __init__(self, boxes: Sequence[Sequence[float]], shape: tuple[int, int], what: str = "region box") -> None:
        self.boxes, self.shape, self.dtype, self.ndim = clip_boxes(boxes, shape, what), tuple(shape), np.dtype(bool), 2

    def __getitem__(self, index: slice | tuple[slice, slice]) -> np.ndarray:
        index = (index if isinstance(index, tuple) else (index,)) + (slice(None),) * 2
        rows, cols = (range(*i.indices(n)) for i, n in zip(index[:2], self.shape))
        ys, xs = np.asarray(rows)[:, None], np.asarray(cols)[None, :]
        block = np.zeros((len(rows), len(cols)), dtype=bool)
        for y0, x0, y1, x1 in self.boxes:
            block |= (ys >= y0) & (ys < y1) & (xs >= x0) & (xs < x1)
        return block

    def __array__(self, dtype: Any = None, copy: Any = None) -> np.ndarray:
        return np.asarray(self[:, :], dtype=dtype)


def check_side_shape(side_shape: Sequence[int], shape: Sequence[int], index: int) -> None:
    """A side channel's shape (checked without reading pixels): 2-D and registered to the X-ray."""
    what = f"side channel {index + 1}"
    if len(side_shape) != 2:
        raise InputError(f"The {what} must be a 2-D single-channel map; got shape {_describe(side_shape)}.")
    check_registered(shape, side_shape, what)


def check_side_count(expected: int, given: int) -> None:
    """A trained model reads exactly the maps it was trained with."""
    if expected != given:
        raise InputError(
            f"The model was trained with {expected} side channel(s); {given} given. "
            "Give the same kinds of maps, in the same order."
        )


def check_double_sided(fitted: bool | None, given: bool) -> None:
    """A trained model is applied as it was fitted: with a back side's photograph if and only if it
    was fitted to a double-sided panel (``fitted`` None: not known, not checked)."""
    if fitted is None or fitted == given:
        return
    if fitted:
        raise InputError(
            "The model was fitted to a double-sided panel (front and back photographs): "
            "give the back side's photograph too, or use a model fitted to the front alone."
        )
    raise InputError(
        "The model was fitted to a single photograph, not a double-sided panel: apply it without the back "
        "side's photograph, or fit a model to both sides."
    )


def side_list(side_channels: Any) -> list[Any]:
    """The side channels as a list of maps. ``None`` means none; one 2-D map (an easy slip for a list
    of one) counts as that map, not as a list of its rows; a (K, H, W) stack as its K maps. Lazy
    arrays (dask, zarr, memory maps) stay lazy."""
    if side_channels is None:
        return []
    if hasattr(side_channels, "ndim") and hasattr(side_channels, "shape"):
        if side_channels.ndim == 2:
            return [side_channels]
        if side_channels.ndim == 3:
            return [side_channels[index] for index in range(side_channels.shape[0])]
        raise InputError(
            f"Side channels must be a list of 2-D maps, one map or a (K, H, W) stack; got shape {_describe(side_channels.shape)}."
        )
    return list(side_channels)


def check_side_channel(side: np.ndarray, shape: tuple[int, int], index: int) -> np.ndarray:
    """An extra registered single-channel map (e.g. a macro-XRF element map) of the X-ray's size."""
    side = np.asarray(side)
    check_side_shape(side.shape, shape, index)
    _check_numeric(side, f"side channel {index + 1}")
    return side


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
    keeps inside its eroded edge (``fit_mask``).
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
            "separation needs; use a larger area or a smaller patch/crop size."
        )
    region = None if region_mask is None else check_region(region_mask, x_mixed.shape)
    valid = finite_pixels(x_mixed) & finite_pixels(rgb_surface)
    for other in ([] if back is None else [back]) + sides:
        valid &= finite_pixels(other)
    if not valid.any():
        raise InputError("No pixel has a finite value in every image (X-ray, photograph, side channels); nothing to separate.")
    defects = find_defects(x_mixed, valid, rgb_surface) if mark_defects else None
    x_repaired = None
    if defects is not None:
        valid &= ~defects.clipped
        if not valid.any():
            raise InputError("Every pixel of the mixed X-ray with data is clipped (at the detector's limit); nothing to separate.")
        if defects.repaired.any():
            x_repaired = repair(x_mixed, defects.repaired, valid)
            x_mixed = x_repaired
    support = painting_support(painting_area, x_mixed.shape)
    if support is None and detect:
        support = detect_support(x_mixed, valid)
    fit_mask = None
    if support is not None and not support.full:
        valid &= support.mask
        if not valid.any():
            raise InputError("The painting area holds only missing or clipped pixels; nothing to separate there.")
    if (support is not None and not support.full) or (defects is not None and defects.excluded.any()):
        fit_mask = valid & (~defects.excluded if defects is not None else True)
        if support is not None:
            fit_mask &= support.fit_mask()
        if not fit_mask.any():  # a sliver of a painting: fit on what there is
            fit_mask = valid.copy()
    if region is not None:
        if not (region & valid).any():
            raise InputError(
                "The region holds only missing pixels (NaN or infinite in the X-ray or the photograph); "
                "draw it where the images have data."
            )
        region = region & valid
    x_norm = x_normalisation or Normalisation.fit(x_mixed, valid)
    rgb_norm = rgb_normalisation or Normalisation.fit(
        rgb_surface[valid] if back is None else np.stack([rgb_surface[valid], back[valid]])
    )
    side_norms = tuple(side_normalisations) if side_normalisations is not None else tuple(Normalisation.fit(s, valid) for s in sides)
    missing = None if valid.all() else ~valid

    def unit(normalisation: Normalisation, image: np.ndarray) -> np.ndarray:
        """Unit range, missing pixels filled (MISSING_FILL) for the forward pass."""
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
        fit_mask=fit_mask,
        support=support,
        defects=defects,
        x_repaired=x_repaired,
    )
