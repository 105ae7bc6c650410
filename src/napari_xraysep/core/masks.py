"""A mask the user gives (a region, a painting area): checked once, the same way for each."""

from __future__ import annotations

import numpy as np

from .errors import InputError


def user_mask(mask: np.ndarray, shape: tuple[int, int], what: str, when_empty: str) -> np.ndarray:
    """``mask`` (H, W), non-zero inside, as bool. Raises InputError naming ``what`` ("The region
    mask") when it is not the images' ``shape``, and saying ``when_empty`` when it holds no pixel."""
    mask = np.asarray(mask)
    if mask.shape != tuple(shape):
        size = "×".join(map(str, mask.shape))
        raise InputError(f"{what} is {size} but the images are {shape[0]}×{shape[1]}.")
    mask = mask.astype(bool)
    if not mask.any():
        raise InputError(when_empty)
    return mask
