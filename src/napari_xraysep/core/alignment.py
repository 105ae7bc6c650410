"""The alignment of a photograph to the X-ray: the transform type every registration step returns.

:class:`Alignment` is what the automatic estimates (:mod:`.registration`), point pairs
(:mod:`.pointpairs`) and the resampling (:mod:`.warp`) pass between them, with what a user reads of
it (:func:`offset_words`, :func:`moved_words`) and the point mapping (:func:`apply_transform`); it sits
below them all so that none of them imports another for the type.

Transforms are 3×3 matrices mapping (x, y, 1) of the *moving* image (the photograph) to the
*reference* (the X-ray) — scikit-image's convention, and napari's affine with axes swapped.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Literal

import numpy as np
from skimage.transform import ProjectiveTransform


TransformKind = Literal["translation", "similarity", "affine", "projective"]


@dataclass(frozen=True)
class Alignment:
    """A transform from the photograph's pixels to the X-ray's, and how well it fits.

    ``residual_px``: RMS distance, in X-ray pixels, left after the fit — of the kept point pairs, or
    for an automatic estimate of the regions that agree with it (see :func:`.edges.agreement`). ``confidence``: for an
    automatic estimate the share (0–1) of regions that agree (below :data:`.edges.CONFIDENT`: uncertain);
    1 for point pairs. ``rejected``: indices of the point pairs RANSAC left out. ``mirror_width``: for
    an automatic estimate of the mirrored photograph, the photograph's width (px): its shift is said of
    the mirror image (the matrix's own shift holds the mirroring's whole width: "moved 647 px").
    ``mirror_unsure``: the mirror image lined up as well (a nearly symmetric subject), and the
    photograph was kept as stored (:data:`.registration.MIRROR_UNSURE_NOTE` says so). ``corner_px``:
    for an automatic estimate, how far (X-ray px) the check's own region shifts say the worst corner of
    the area the photograph covers lies from where the transform puts it (:func:`.edges.agreement`);
    NaN where too few regions agree to tell, and for point pairs.
    """

    matrix: np.ndarray  # (3, 3), (x, y, 1) of the photograph → the X-ray's
    kind: TransformKind
    residual_px: float = 0.0
    confidence: float = 1.0
    rejected: tuple[int, ...] = ()
    mirror_width: int = 0
    mirror_unsure: bool = False
    corner_px: float = float("nan")

    @property
    def shift(self) -> tuple[float, float]:
        """(dy, dx) the photograph's origin moves by."""
        return float(self.matrix[1, 2]), float(self.matrix[0, 2])

    @property
    def mirrored(self) -> bool:
        """Whether the transform mirrors the photograph (a negative determinant)."""
        return bool(np.linalg.det(self.matrix[:2, :2]) < 0)

    @property
    def rotation_deg(self) -> float:
        """The turn, after mirroring the photograph left–right if :attr:`mirrored`."""
        matrix = self.matrix @ Mirrored.matrix(0) if self.mirrored else self.matrix
        return float(np.degrees(np.arctan2(matrix[1, 0], matrix[0, 0])))

    @property
    def scale(self) -> float:
        """X-ray pixels per photograph pixel (the photograph's pixel size over the X-ray's)."""
        return float(np.sqrt(abs(np.linalg.det(self.matrix[:2, :2]))))

    def _shift_said(self) -> tuple[float, float]:
        """(dy, dx) of :attr:`shift`, of the mirror image where the estimate was made of it."""
        if not (self.mirrored and self.mirror_width):
            return self.shift
        of_mirror = self.matrix @ Mirrored.matrix(self.mirror_width)  # the mirroring is its own inverse
        return float(of_mirror[1, 2]), float(of_mirror[0, 2])

    def describe(self) -> str:
        """One line for the user: what was done and how well it fits."""
        residual = "no region agrees" if np.isnan(self.residual_px) else f"residual {self.residual_px:.2f} px RMS"
        # A similarity of the regions' shifts cannot see a perspective's error: said of the others only.
        if np.isfinite(self.corner_px) and self.kind != "projective":
            residual += f", corners within about {self.corner_px:.1f} px by the regions' shifts"
        size = f"{self.scale:.3g}"
        text = (
            f"{self.kind}{' of the mirrored photograph' if self.mirrored else ''}: scale {self.scale:.4f} (a photograph pixel is {size} X-ray pixel{'' if size == '1' else 's'}), "
            f"rotation {self.rotation_deg:+.2f}°, {moved_words(*self._shift_said(), digits=2)}, {residual}"
        )
        return text + (f" ({self.confidence:.0%} of the regions agree)" if 0 < self.confidence < 1 else "")


def alignment_record(alignment: Alignment) -> dict[str, Any]:
    """What the aligned photograph's file (``xraysep align``) or layer (the dock) records of ``alignment``:
    the transform, its parts and its check (``corner_px`` None where unknown); point pairs counted from 1."""
    return {
        "transform": alignment.kind, "matrix_xy": alignment.matrix.tolist(), "scale": alignment.scale,
        "rotation_deg": alignment.rotation_deg, "mirrored": alignment.mirrored,
        "mirror_unsure": alignment.mirror_unsure, "residual_px": alignment.residual_px,
        "regions_agreeing": alignment.confidence,
        "corner_px": float(alignment.corner_px) if np.isfinite(alignment.corner_px) else None,
        "rejected_pairs": [i + 1 for i in alignment.rejected],
    }


def _amount(value: float, digits: int) -> str | None:
    """``value``'s size in px at ``digits`` decimals; None when it rounds to zero."""
    text = f"{abs(value):.{digits}f}"
    return None if float(text) == 0 else f"{text} px"


def offset_words(dy: float, dx: float, digits: int = 1) -> str:
    """Where the photograph lies against the X-ray, in words, for the shift (dy, dx) that would move it
    into place (:attr:`Alignment.shift`): (−3, +2) → "3.0 px lower and 2.0 px to the left of the X-ray",
    (−3, 0) → "3.0 px lower than the X-ray"."""
    vertical, horizontal = _amount(dy, digits), _amount(dx, digits)
    parts = ([f"{vertical} {'lower' if dy < 0 else 'higher'}"] if vertical else []) + (
        [f"{horizontal} to the {'left' if dx > 0 else 'right'}"] if horizontal else []
    )
    if not parts:
        return "in place on the X-ray"
    return f"{parts[0]} than the X-ray" if not horizontal else f"{' and '.join(parts)} of the X-ray"  # not "lower of"


def moved_words(dy: float, dx: float, digits: int = 2) -> str:
    """What the shift (dy, dx) of an alignment did to the photograph, in words: "moved 3.00 px up and
    2.00 px to the right" (rows grow downwards)."""
    vertical, horizontal = _amount(dy, digits), _amount(dx, digits)
    parts = ([f"{vertical} {'down' if dy > 0 else 'up'}"] if vertical else []) + (
        [f"{horizontal} to the {'right' if dx > 0 else 'left'}"] if horizontal else []
    )
    return f"moved {' and '.join(parts)}" if parts else "not moved"


def similarity_fit(source: np.ndarray, target: np.ndarray) -> np.ndarray:
    """The least-squares similarity taking ``source`` points to ``target`` (each (N, 2) (y, x), N ≥ 2):
    a (3, 3) matrix on (x, y, 1), rotation and scale as ``[[a, −b], [b, a]]`` — linear in (a, b, tx,
    ty), so one least-squares solve (Umeyama's estimate without its reflection test)."""
    (y, x), (v, u) = np.asarray(source, float).T, np.asarray(target, float).T
    ones, zeros = np.ones_like(x), np.zeros_like(x)
    design = np.concatenate([np.stack([x, -y, ones, zeros], 1), np.stack([y, x, zeros, ones], 1)])
    (a, b, tx, ty), *_ = np.linalg.lstsq(design, np.concatenate([u, v]), rcond=None)
    return np.array([[a, -b, tx], [b, a, ty], [0.0, 0.0, 1.0]])


def translation_matrix(dy: float, dx: float) -> np.ndarray:
    return np.array([[1.0, 0.0, dx], [0.0, 1.0, dy], [0.0, 0.0, 1.0]])


class Mirrored:
    """A photograph mirrored left–right, read lazily like the photograph itself (``image[rows, cols]``
    with plain slices): what a photograph of a radiograph viewed from the back needs."""

    def __init__(self, image: Any) -> None:
        self.image, self.shape, self.dtype = image, tuple(image.shape), image.dtype

    def __getitem__(self, index: tuple[slice, slice]) -> np.ndarray:
        rows, cols = index if isinstance(index, tuple) else (index, slice(None))
        start, stop, step = cols.indices(self.shape[1])
        if step != 1:
            raise IndexError("a mirrored view is read in plain slices")
        width = self.shape[1]
        return np.asarray(self.image[rows, width - max(stop, start) : width - start])[:, ::-1]

    @staticmethod
    def matrix(width: int) -> np.ndarray:
        """(x, y, 1) of the photograph → of its mirror image."""
        return np.array([[-1.0, 0.0, width - 1.0], [0.0, 1.0, 0.0], [0.0, 0.0, 1.0]])


def apply_transform(matrix: np.ndarray, points: np.ndarray) -> np.ndarray:
    """(N, 2) (y, x) points mapped by a 3×3 (x, y, 1) matrix."""
    points = np.asarray(points, dtype=np.float64).reshape(-1, 2)
    return ProjectiveTransform(matrix=np.asarray(matrix, dtype=np.float64))(points[:, ::-1])[:, ::-1]


def size_words(shape: tuple[int, ...]) -> str:
    return f"{shape[0]}×{shape[1]}"
