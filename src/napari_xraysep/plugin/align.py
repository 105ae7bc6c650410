"""The "Align photograph" dock widget: check that the photograph is registered to the X-ray, and align
it — automatically (shift, or rotation + scale + shift for a photograph of any pixel size) or from
point pairs in two Points layers (a misplaced pair is left out and named) — resampled onto the X-ray's grid.

Only translation: layers in, :mod:`napari_xraysep.core.registration` does the work (in a worker thread when it takes
seconds), and the aligned photograph comes back as a new layer; nothing is overwritten.
"""

from __future__ import annotations

import warnings
from collections.abc import Generator
from typing import Any

import numpy as np
from magicgui.widgets import ComboBox, Container, PushButton
from napari.layers import Points
from napari.qt.threading import create_worker
from qtpy.QtCore import Qt
from qtpy.QtWidgets import QFrame, QLabel, QMessageBox, QScrollArea, QSizePolicy, QVBoxLayout, QWidget

from .layers import (
    grid_transform, is_rgb_layer, is_users_xray, layer_array, layer_on_grid, mm_per_pixel, placed_alike, placement,
    points_in_pixels_of, same_layer,
)
from ..core import XraySepError
from ..core.alignment import Alignment, alignment_record, offset_words, size_words
from ..core.edges import CONFIDENT
from ..core.pointpairs import fit_transform
from ..core.registration import (
    MIRROR_UNSURE_NOTE,
    PERSPECTIVE_NOTE,
    check_alignment,
    check_scale_prior,
    corner_note,
    estimate_any_way_round,
    estimate_automatic,
    estimate_similarity,
    estimate_translation,
    misalignment_warning,
    refusal_hint,
    scale_prior_note,
)
from ..core.warp import aligned_photo

# Point pairs are named to the user as in the layers' tables: from 1.
FIRST_PAIR = 1

TRANSFORMS = ("translation", "similarity", "affine", "projective")
AUTOMATIC = ("auto", "similarity", "translation")


def is_points_layer(layer: Any) -> bool:
    return isinstance(layer, Points)


class AlignmentWidget(QWidget):
    """Dock widget; see docs/usage.md ("Align the photograph")."""

    def __init__(self, napari_viewer: Any) -> None:
        super().__init__()
        self.viewer = napari_viewer
        self.worker = None
        self.xray_layer = ComboBox(label="Mixed X-ray", choices=self._choices(is_users_xray), nullable=True)
        self.rgb_layer = ComboBox(label="Photograph", choices=self._choices(is_rgb_layer), nullable=True)
        self.check_button = PushButton(text="Check alignment")
        self.auto_transform = ComboBox(label="Automatic", choices=list(AUTOMATIC), value="auto")
        self.auto_transform.tooltip = (
            "auto: similarity (rotation, scale, shift: any pixel size), and the perspective of a photograph taken at a "
            "slight angle where the painting shows one; similarity alone; translation (same size and pixel size)"
        )
        self.auto_button = PushButton(text="Align automatically")
        self.photo_points = ComboBox(label="Points on photo", choices=self._choices(is_points_layer), nullable=True, value=None)
        self.xray_points = ComboBox(label="Points on X-ray", choices=self._choices(is_points_layer), nullable=True, value=None)
        self.add_points_button = PushButton(text="Add point layers")
        self.transform = ComboBox(label="Transform", choices=list(TRANSFORMS), value="similarity")  # as align --points
        self.points_button = PushButton(text="Align from points")
        form = Container(
            widgets=[
                self.xray_layer, self.rgb_layer, self.check_button, self.auto_transform, self.auto_button,
                self.add_points_button, self.photo_points, self.xray_points, self.transform, self.points_button,
            ]
        )
        self.message = QLabel("")
        self.message.setWordWrap(True)
        self.message.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        # The report scrolls within what is left: a long one squeezed the buttons, their labels cut through.
        report = QScrollArea()
        report.setWidgetResizable(True)
        report.setFrameShape(QFrame.Shape.NoFrame)
        report.setHorizontalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
        report.setWidget(self.message)
        form.native.setMinimumHeight(form.native.sizeHint().height())
        layout = QVBoxLayout(self)
        layout.addWidget(form.native)
        layout.addWidget(report)
        # Docked under the separation dock, take only the rows it needs (the message wraps within
        # them): the rest of the column stays the separation dock's.
        self.setSizePolicy(QSizePolicy.Policy.Preferred, QSizePolicy.Policy.Maximum)
        self.check_button.changed.connect(self.check)
        self.auto_button.changed.connect(self.align_automatically)
        self.add_points_button.changed.connect(self.add_point_layers)
        self.points_button.changed.connect(self.align_from_points)
        for event in (self.viewer.layers.events.inserted, self.viewer.layers.events.removed):
            event.connect(self._refresh)
        self._refresh()

    def _choices(self, accept):
        return lambda *_: [(layer.name, layer) for layer in self.viewer.layers if accept(layer)]

    def _refresh(self, *_: Any) -> None:
        for combo in (self.xray_layer, self.rgb_layer, self.photo_points, self.xray_points):
            current = combo.value
            combo.reset_choices()
            if current is not None and current not in combo.choices:
                combo.value = None
            elif current is None and combo in (self.xray_layer, self.rgb_layer):
                combo.value = next((c for c in combo.choices if c is not None), None)

    def _images(self) -> tuple[np.ndarray, np.ndarray]:
        if self.xray_layer.value is None or self.rgb_layer.value is None:
            raise XraySepError("Choose the mixed X-ray and the photograph to align.")
        return layer_array(self.xray_layer.value), layer_array(self.rgb_layer.value)

    def check(self) -> str:
        """Say whether the photograph, as the viewer shows it over the X-ray, looks shifted against it."""
        try:
            x_mixed, photo = self._images()
            shown = ""
            if not placed_alike(grid_transform(self.rgb_layer.value, self.xray_layer.value)):
                # Placed by its own scale, position or rotation: checked as it lies over the X-ray (the
                # separation reads it so), not as stored (a photograph shown at half size was "aligned").
                with warnings.catch_warnings(record=True) as caught:
                    warnings.simplefilter("always")
                    photo = layer_on_grid(self.rgb_layer.value, self.xray_layer.value)
                said = [str(shown.message) for shown in caught]
                shown = " ".join(["As the viewer shows it (its own scale and position):", *said]) + " "
            if x_mixed.shape != photo.shape[:2]:
                raise XraySepError(
                    f"The X-ray is {x_mixed.shape[0]}×{x_mixed.shape[1]} and the photograph "
                    f"{photo.shape[0]}×{photo.shape[1]}: align it automatically (similarity finds its scale) or "
                    "from point pairs, to resample it onto the X-ray's grid."
                )
            warning = misalignment_warning(x_mixed, photo)
            dy, dx, confidence = check_alignment(x_mixed, photo)
        except XraySepError as error:
            return self.show_message(str(error), error=True)
        if warning:
            return self.show_message(shown + warning, error=True)
        if confidence < CONFIDENT:  # no verdict: the regions do not agree on any shift
            return self.show_message(
                f"{shown}Not aligned, or not this painting: only {confidence:.0%} of the regions agree on a shift. "
                "Align it automatically, or from point pairs.", error=True,
            )
        return self.show_message(
            f"{shown}Aligned to within a pixel (the photograph is {offset_words(dy, dx, digits=2)}; "
            f"{confidence:.0%} of the regions agree)."
        )

    def align_automatically(self):
        """Estimate the transform in a worker thread; the aligned photograph arrives as a new layer. One at
        a time: pressed again meanwhile, it says so (two would each add an aligned copy)."""
        if self.worker is not None:
            self.show_message("An alignment is under way: its aligned photograph is on its way.", error=True)
            return None
        try:
            x_mixed, photo = self._images()
        except XraySepError as error:
            self.show_message(str(error), error=True)
            return None
        source, reference, kind = self.rgb_layer.value, self.xray_layer.value, self.auto_transform.value
        prior = self._scale_prior()
        if kind != "translation":
            try:
                check_scale_prior(prior, photo.shape, x_mixed.shape)
            except XraySepError as error:
                self.show_message(str(error), error=True)
                return None

        def run() -> Generator[str, None, tuple[Alignment, np.ndarray]]:
            if kind == "translation":
                alignment = estimate_any_way_round(x_mixed, photo, estimate_translation)
            else:
                found = estimate_automatic if kind == "auto" else estimate_similarity
                alignment = estimate_any_way_round(x_mixed, photo, lambda x, p: found(x, p, prior))
            # Each stage said as it begins (as `xraysep align` does): a 600-megapixel pair is minutes of each.
            yield f"Resampling the photograph onto the X-ray's grid ({size_words(x_mixed.shape)})…"
            return alignment, aligned_photo(photo, alignment, x_mixed.shape[:2])

        self.show_message("Estimating the alignment…")
        self.worker = create_worker(
            run, _start_thread=False,
            _connect={
                "yielded": self.show_message,
                "returned": lambda out: self._add_aligned(
                    source, *out, automatic=True, reference=reference, prior=prior
                ),
                "errored": self._on_error,
                "finished": self._on_finished,
            },
        )
        self.worker.start()
        return self.worker

    def _on_finished(self) -> None:
        self.worker = None

    def add_point_layers(self) -> None:
        """Two Points layers to place matching points in: one over the photograph, one over the X-ray, in
        the X-ray's units (points in pixels over images in mm: napari stops showing units, and says so)."""
        units = {} if self.xray_layer.value is None else {"units": self.xray_layer.value.units}
        photo_layer = self.viewer.add_points(name="points on photo", face_color="#ffcc00", size=12, **units)
        xray_layer = self.viewer.add_points(name="points on X-ray", face_color="#00ccff", size=12, **units)
        self.photo_points.value, self.xray_points.value = photo_layer, xray_layer
        self.show_message(
            "Click the same features (a corner, a highlight) in the same order: first in 'points on photo' "
            "over the photograph, then in 'points on X-ray' over the X-ray. 2 pairs for a similarity (the default), "
            "3 for affine, 4 for projective; two more let a misplaced pair be found and left out."
        )

    def align_from_points(self) -> Any:
        try:
            x_mixed, photo = self._images()
            if self.photo_points.value is None or self.xray_points.value is None:
                raise XraySepError("Choose the two Points layers (Add point layers), one on each image.")
            # in each image's pixels, whatever its scale (mm) and the Points layers' own
            photo_points = points_in_pixels_of(self.photo_points.value.data, self.photo_points.value, self.rgb_layer.value)
            xray_points = points_in_pixels_of(self.xray_points.value.data, self.xray_points.value, self.xray_layer.value)
            alignment = fit_transform(photo_points, xray_points, self.transform.value)
        except XraySepError as error:
            self.show_message(str(error), error=True)
            return None
        return self._add_aligned(
            self.rgb_layer.value, alignment, aligned_photo(photo, alignment, x_mixed.shape[:2]), prior=self._scale_prior()
        )

    def _scale_prior(self) -> float | None:
        """The layers' pixel sizes' scale (X-ray pixels per photograph pixel) where both are in mm (their
        files' pixel spacings): the automatic alignment's first guess, and what any alignment is checked
        against (:func:`scale_prior_note`, as ``xraysep align`` does with or without --points)."""
        source, reference = self.rgb_layer.value, self.xray_layer.value
        photo_mm, xray_mm = (mm_per_pixel(layer.scale, layer.units) for layer in (source, reference))
        if photo_mm is None or xray_mm is None:
            return None
        return float(np.sqrt(np.prod(photo_mm) / np.prod(xray_mm)))

    def confirm_uncertain(self, alignment: Alignment, prior: float | None = None) -> bool:
        """Ask before adding an automatic alignment that failed its check (fewer than half the regions agree);
        ``prior``: the layers' pixel sizes' scale (:func:`refusal_hint`)."""
        hint = refusal_hint(alignment, prior)
        answer = QMessageBox.question(
            self, "Uncertain alignment",
            f"Only {alignment.confidence:.0%} of the regions of the painting agree with this alignment "
            f"({alignment.describe()}): it may be wrong.{' ' + hint if hint else ''} "
            "Add the aligned photograph anyway?",
            QMessageBox.StandardButton.Yes | QMessageBox.StandardButton.No, QMessageBox.StandardButton.No,
        )
        return answer == QMessageBox.StandardButton.Yes

    def _add_aligned(
        self, source: Any, alignment: Alignment, aligned: np.ndarray, automatic: bool = False, reference: Any = None,
        prior: float | None = None,
    ) -> Any:
        """Add the photograph resampled onto the grid of ``reference`` (the X-ray it was aligned to; the
        chosen one by default), placed as that X-ray is; nothing where either was removed meanwhile.
        ``prior``: the layers' pixel sizes' scale, said to be wrong where the alignment found another."""
        reference = self.xray_layer.value if reference is None else reference
        kept = list(self.viewer.layers)
        gone = [layer.name for layer in (reference, source) if not any(same_layer(layer, other) for other in kept)]
        if gone:
            self.show_message(
                f"Nothing added: '{gone[0]}' was removed from the viewer while the alignment was estimated.", error=True
            )
            return None
        if alignment.confidence < CONFIDENT and not self.confirm_uncertain(alignment, prior):
            self.show_message(
                f"Nothing added: only {alignment.confidence:.0%} of the regions of the painting agree with the automatic "
                "alignment. Align from point pairs instead (Add point layers).", error=True,
            )
            return None
        record = alignment_record(alignment)
        stored = np.dtype(getattr(source.data, "dtype", aligned.dtype))
        # Where the photograph does not reach, the aligned copy is float with NaN (missing data), in
        # the photograph's own units: shown with the photograph's range, not stretched to its own.
        uncovered = aligned.dtype.kind == "f" and bool(np.isnan(aligned).any())
        limits = {"contrast_limits": (0, float(np.iinfo(stored).max))} if uncovered and stored.kind in "ui" else {}
        layer = self.viewer.add_image(  # on the X-ray's grid, placed as it is (scale, position, rotation, units)
            aligned, name=f"{source.name} · aligned", rgb=True, metadata={"xraysep_alignment": record},
            **placement(reference), **limits,
        )
        rejected = ", ".join(str(i + FIRST_PAIR) for i in alignment.rejected)
        left_out = f" Pair{'s' if len(alignment.rejected) > 1 else ''} {rejected} did not fit the others and {'were' if len(alignment.rejected) > 1 else 'was'} left out." if rejected else ""
        uncertain = " Added as you asked, though the check failed: compare it with the X-ray, or align from point pairs." if alignment.confidence < CONFIDENT else ""
        notes = " The photograph matches mirrored left–right (seen from the back?): the aligned copy is mirrored." if alignment.mirrored else ""
        notes += f" {MIRROR_UNSURE_NOTE}" if alignment.mirror_unsure else ""
        notes += " The photograph does not cover all the X-ray: the rest is missing data (NaN)." if uncovered else ""
        notes += f" Note: {PERSPECTIVE_NOTE}" if automatic and alignment.kind == "projective" else ""
        corners_off = corner_note(alignment) if automatic else None
        notes += f" Note: {corners_off}" if corners_off else ""
        wrong_size = scale_prior_note(alignment, prior)
        notes += f" {wrong_size}" if wrong_size else ""
        self.show_message(
            f"Added '{layer.name}' on the grid of the X-ray '{reference.name}' ({alignment.describe()})."
            f"{left_out}{uncertain}{notes} Choose it as the separation's Photograph.",
            error=bool(uncertain or corners_off),
        )
        return layer

    def _on_error(self, error: BaseException) -> None:
        self.show_message(str(error) if isinstance(error, XraySepError) else f"Alignment failed: {error}", error=True)

    def show_message(self, text: str, error: bool = False) -> str:
        self.message.setText(text)
        self.message.setStyleSheet("color: #ff6b6b;" if error else "")
        return text
