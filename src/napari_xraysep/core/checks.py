"""Checks of the user's images: each a clear one-line :class:`~.errors.InputError`, never a traceback.

The mixed X-ray (2-D, numeric, not constant), the photographs (H×W×3, an alpha channel dropped),
their registration to the X-ray, a double-sided panel's back, side channels (registered 2-D maps, as
many as a trained model read) — checked on shapes alone where a file is read lazily
(:func:`check_xray_shape`, :func:`check_rgb_shape`, :func:`check_side_shape`), on the pixels
otherwise. Apart from :mod:`.data` because every face checks its inputs before anything is read or
prepared; the preparation (:func:`.data.prepare_inputs`) calls them too.
"""

from __future__ import annotations

import warnings
from collections.abc import Sequence
from typing import Any

import numpy as np

from .errors import InputError


def describe_shape(shape: Sequence[int]) -> str:
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
        raise InputError(f"The {what} is empty (shape {describe_shape(image.shape)}).")
    if not finite_pixels(image).any():
        raise InputError(f"Every pixel of the {what} is NaN or infinite (missing); there is nothing to separate.")


def check_xray_shape(shape: Sequence[int]) -> None:
    """A 2-D grayscale image's shape (checked without reading pixels, e.g. of a memory-mapped file)."""
    if len(shape) == 3 and shape[-1] in (3, 4):
        raise InputError(
            f"The mixed X-ray has shape {describe_shape(shape)}, which looks like a colour image; "
            "choose the grayscale radiograph (on the command line the X-ray comes first, then the photograph; "
            "a radiograph exported as RGB is read once saved as grayscale)."
        )
    if len(shape) != 2:
        raise InputError(
            f"The mixed X-ray must be a 2-D grayscale image; got {len(shape)} dimensions (shape {describe_shape(shape)})."
        )


def check_rgb_shape(
    shape: Sequence[int], what: str = "surface RGB image", needed_by: str = "the separation needs"
) -> None:
    """An H×W×3 (or ×4) photograph's shape; ``needed_by`` says, in a grayscale image's error, what
    needs the colour photograph (``xraysep align`` says its own)."""
    if len(shape) == 2:
        raise InputError(
            f"The {what} is grayscale (shape {describe_shape(shape)}); {needed_by} the colour photograph (H×W×3)."
        )
    if len(shape) != 3 or shape[-1] not in (3, 4):
        raise InputError(f"The {what} must be H×W×3 (or H×W×4 with alpha); got shape {describe_shape(shape)}.")


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
    """The photograph (or a side channel's map: ``what`` starts with "side channel") covers the X-ray
    pixel for pixel."""
    if tuple(x_shape) != tuple(rgb_shape[:2]):
        # `xraysep align` registers colour photographs; a map is placed as its photograph was.
        how = (
            "resample it onto the X-ray's grid with the transform that registers its photograph (in napari, a map "
            "placed over the X-ray by its layer's scale and translate is resampled so)"
            if what.startswith("side channel") else
            "resample it onto the X-ray's grid with `xraysep align` (or Plugins ▸ napari-xraysep ▸ Align photograph)"
        )
        raise InputError(
            f"The mixed X-ray is {describe_shape(x_shape)} pixels but the {what} is "
            f"{describe_shape(rgb_shape[:2])}; they must be registered (aligned pixel for pixel) and the same "
            f"size: {how}."
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


def check_side_shape(side_shape: Sequence[int], shape: Sequence[int], index: int, name: str | None = None) -> None:
    """A side channel's shape (checked without reading pixels): 2-D and registered to the X-ray; the
    error names it by ``name`` (its file or layer) when given."""
    what = f"side channel {index + 1}" + (f" ('{name}')" if name else "")
    if len(side_shape) != 2:
        raise InputError(f"The {what} must be a 2-D single-channel map; got shape {describe_shape(side_shape)}.")
    check_registered(shape, side_shape, what)


def check_side_count(expected: int, given: int) -> None:
    """A trained model reads exactly the maps it was trained with."""
    if expected == given:
        return
    if expected == 0:  # "give the same kinds of maps" read as a call for more (a new user's finding)
        raise InputError(f"The model was trained without side channels; {given} given: leave them out (--side, the dock's list).")
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
            f"Side channels must be a list of 2-D maps, one map or a (K, H, W) stack; got shape {describe_shape(side_channels.shape)}."
        )
    return list(side_channels)


def check_side_channel(side: np.ndarray, shape: tuple[int, int], index: int, name: str | None = None) -> np.ndarray:
    """An extra registered single-channel map (e.g. a macro-XRF element map) of the X-ray's size; errors
    name it by ``name`` when given."""
    side = np.asarray(side)
    check_side_shape(side.shape, shape, index, name)
    _check_numeric(side, f"side channel {index + 1}" + (f" ('{name}')" if name else ""))
    return side
