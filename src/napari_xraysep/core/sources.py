"""The images one separation reads, as one value: :class:`Sources`.

A whole painting is read lazily, so each image is anything with ``.shape``, ``.dtype`` and numpy
slicing — a numpy array, a memory-mapped TIFF, an :class:`~napari_xraysep.io.ImageSource`, a zarr or
dask array. The streaming and whole-painting functions take a ``Sources`` instead of five arguments
passed by hand, and it knows the one subtle thing about them: a back photograph taken from behind
is mirrored, so its block under X-ray columns [a, b) lies at columns [W − b, W − a).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from .checks import check_dtype, check_registered, check_rgb_shape, check_side_shape, check_xray_shape, side_list
from .errors import InputError
from .trained import TrainedModel

Area = tuple[slice, slice]


@dataclass(frozen=True)
class Sources:
    """The mixed X-ray (H, W), the surface photograph (H, W, 3 or 4; a 4th channel is ignored), the
    back side's photograph of a double-sided panel (same shape, or None) — ``mirror_back`` if it was
    taken from behind and must be flipped left–right to face the front — and side channels (maps of
    (H, W) beside the photograph, e.g. a Cu-K XRF map; a list, one map, or a (K, H, W) stack)."""

    x_mixed: Any
    rgb_surface: Any
    rgb_back: Any = None
    mirror_back: bool = False
    side_channels: Sequence[Any] = ()
    # The side channels' names (file or layer names), in order, for the model to keep: () for none known.
    side_names: Sequence[str] = ()

    def __post_init__(self) -> None:
        object.__setattr__(self, "side_channels", tuple(side_list(self.side_channels)))
        object.__setattr__(self, "side_names", tuple(self.side_names))

    @property
    def double_sided(self) -> bool:
        return self.rgb_back is not None

    def check(self) -> tuple[int, int]:
        """Shapes and pixel types checked without reading a pixel; returns (H, W).

        Raises InputError naming the image at fault: wrong dimensions, a pixel type that is no
        image's, photographs not registered to the X-ray, side channels on a double-sided panel,
        or ``mirror_back`` without a back photograph.
        """
        check_xray_shape(self.x_mixed.shape)
        check_dtype(self.x_mixed.dtype, "mixed X-ray")
        for source, what, short in ((self.rgb_surface, "surface RGB image", "surface RGB"), (self.rgb_back, "back side RGB image", "back side RGB")):
            if source is None:
                continue
            check_rgb_shape(source.shape, what)
            check_dtype(source.dtype, what)
            check_registered(self.x_mixed.shape, source.shape, short)
        if self.mirror_back and self.rgb_back is None:
            raise InputError("Mirroring the back side needs the back side's photograph.")
        if self.side_channels and self.double_sided:
            raise InputError("Side channels are for the concealed-design separation; a double-sided panel takes none.")
        names = [*self.side_names, *[None] * len(self.side_channels)]
        for index, side in enumerate(self.side_channels):
            check_side_shape(side.shape, self.x_mixed.shape, index, names[index])
            check_dtype(side.dtype, f"side channel {index + 1}" + (f" ('{names[index]}')" if names[index] else ""))
        return tuple(self.x_mixed.shape)  # type: ignore[return-value]

    def _back_columns(self, cols: slice) -> slice:
        if not self.mirror_back:
            return cols
        width = self.x_mixed.shape[1]
        start, stop, _ = cols.indices(width)
        return slice(width - stop, width - start)

    def crop(self, area: Area) -> Sources:
        """The images under ``area`` (rows, columns of the X-ray) read into memory, as iter_separate
        takes them: a mirrored back is read from the mirrored columns and still flagged to be
        flipped, so that flipped it lies under the same X-ray pixels."""
        rows, cols = area
        back = None if self.rgb_back is None else np.asarray(self.rgb_back[rows, self._back_columns(cols)])
        return Sources(
            np.asarray(self.x_mixed[rows, cols]), np.asarray(self.rgb_surface[rows, cols]), back, self.mirror_back,
            tuple(np.asarray(side[rows, cols]) for side in self.side_channels), self.side_names,
        )

    def network_input(
        self, model: TrainedModel, area: Area, x_mixed: np.ndarray | None = None, rgb_surface: np.ndarray | None = None
    ) -> np.ndarray:
        """The (C, h, w) float32 input of ``model`` under ``area``, in the channel order and units it was
        trained with: surface RGB, side channels, back RGB (facing the front), X-ray (``x_mixed`` and
        ``rgb_surface``: the X-ray and photograph under ``area`` where the caller has read them already).
        Missing pixels stay NaN (:func:`~.inference.decode_block` fills them and makes their results NaN)."""
        rows, cols = area
        x = np.asarray(self.x_mixed[rows, cols] if x_mixed is None else x_mixed)
        surface = np.asarray(self.rgb_surface[rows, cols] if rgb_surface is None else rgb_surface)
        back = None if self.rgb_back is None else np.asarray(self.rgb_back[rows, self._back_columns(cols)])
        if back is not None and self.mirror_back:
            back = back[:, ::-1]
        sides = [
            (np.asarray(side[rows, cols]), normalisation)
            for side, normalisation in zip(self.side_channels, model.side_normalisations)
        ]
        block = np.empty((3 + len(sides) + (0 if back is None else 3) + 1, *x.shape), dtype=np.float32)
        # Each channel converted into its place (moving the photograph's channel axis first and
        # concatenating copied a tile twice more).
        for channel in range(3):
            model.rgb_normalisation.to_unit(surface[..., channel], out=block[channel])
        for index, (side, normalisation) in enumerate(sides):
            normalisation.to_unit(side, out=block[3 + index])
        if back is not None:
            for channel in range(3):
                model.rgb_normalisation.to_unit(back[..., channel], out=block[3 + len(sides) + channel])
        model.x_normalisation.to_unit(x, out=block[-1])
        return block
