"""A curtain between two layers: A on the left of a divider, B on the right, in one view.

napari draws 2-D images without clipping, so B is shown through a layer of its own — B's columns
right of the divider (a view of B's data, not a copy), placed where they lie — over A, with the
other layers hidden while the curtain is open. The divider is a line (a Shapes layer that is not
edited) labelled with both names; it moves with the slider, by dragging it in the canvas, and
:data:`CURTAIN_KEY` puts it at 0 or 100 % (all B, all A). It lives in the viewer, so it pans and
zooms with everything else.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import numpy as np
from magicgui.widgets import ComboBox, Container, Label, PushButton, Slider
from napari.layers import Image
from qtpy.QtWidgets import QFrame, QVBoxLayout

from .compare import viewer_grid
from .layers import METADATA_KEY, placement, same_layer

CURTAIN_KEY = "C"
DIVIDER_COLOR = "#ffd54f"
GRAB_PX = 10  # a press this close to the divider (screen pixels) drags it instead of panning


def camera_of(viewer: Any) -> Any:
    """The viewer's camera: ``viewer.scene.camera`` since napari 0.9, ``viewer.camera`` before."""
    scene = getattr(viewer, "scene", None)
    return scene.camera if scene is not None and hasattr(scene, "camera") else viewer.camera


def column_axis(layer: Any) -> int:
    """The data axis of ``layer``'s columns (an RGB image's colours come after them)."""
    return -2 if layer.rgb else -1


def width_of(layer: Any) -> int:
    """Columns of ``layer``'s full-resolution data."""
    data = layer.data[0] if layer.multiscale else layer.data
    return int(data.shape[column_axis(layer)])


def columns_from(layer: Any, column: int) -> tuple[Any, np.ndarray]:
    """``layer``'s data from column ``column`` on (every pyramid level, each at its own scale), and the
    translate that keeps those columns where they are in the world (through its scale, rotation and
    shear: :func:`.layers.placement`)."""
    axis = column_axis(layer)

    def cut(data: Any, start: int) -> Any:
        index = [slice(None)] * data.ndim
        index[axis] = slice(start, None)
        return data[tuple(index)]

    if layer.multiscale:
        full = width_of(layer)
        data = [cut(level, column * level.shape[axis] // full) for level in layer.data]
    else:
        data = cut(layer.data, column)
    return data, placement(layer, (0, column))["translate"]


class Curtain:
    """The curtain between layers ``a`` (left) and ``b`` (right) in ``viewer``, at ``fraction`` of B's
    width (0: all B, 1: all A). :meth:`close` removes its layers and shows the others as they were."""

    def __init__(self, viewer: Any, a: Any, b: Any, fraction: float = 0.5) -> None:
        self.viewer, self.a, self.b, self.fraction = viewer, a, b, float(fraction)
        self._visible = [(layer, layer.visible) for layer in viewer.layers]
        grid = viewer_grid(viewer)
        self._grid_was = bool(grid.enabled)
        grid.enabled = False  # one view: A and B on top of each other
        self.layer: Any = None  # B's columns right of the divider
        self.divider: Any = None
        self._build()

    # ------------------------------------------------------------------ layers

    def _build(self) -> None:
        a, b = self.a, self.b
        step = 2 ** (len(b.data) - 1) if b.multiscale else 1  # a cut every level can make
        self._step = step
        data, translate = columns_from(b, 0)
        style = {"rgb": b.rgb} if b.rgb else {"colormap": b.colormap, "contrast_limits": b.contrast_limits, "gamma": b.gamma}
        self.layer = self.viewer.add_image(
            data, name=f"curtain B: {b.name}", multiscale=b.multiscale, metadata={METADATA_KEY: {"curtain": "B"}},
            **{**placement(b), "translate": translate}, **style,
        )
        height = (b.data[0] if b.multiscale else b.data).shape[0]
        self.divider = self.viewer.add_shapes(
            [[[0, 0], [height, 0]]], shape_type="line", name="curtain divider", **placement(b),
            edge_color=DIVIDER_COLOR, edge_width=2,
            features={"label": [f"◀ {a.name}   |   {b.name} ▶"]},
            # centred over the line's top end (the anchor is the line's middle)
            text={"string": "{label}", "anchor": "center", "translation": [-0.5 * height - 0.03 * height, 0],
                  "color": DIVIDER_COLOR, "size": 10},
            metadata={METADATA_KEY: {"curtain": "divider"}},
        )
        self.divider.editable = False
        for layer in self.viewer.layers:
            layer.visible = any(same_layer(layer, shown) for shown in (a, self.layer, self.divider))
        self.set_fraction(self.fraction)

    def _remove_own(self) -> None:
        own, self.layer, self.divider = (self.layer, self.divider), None, None  # gone before napari says so
        for layer in own:
            if layer is not None and layer in self.viewer.layers:
                self.viewer.layers.remove(layer)

    def owns(self, layer: Any) -> bool:
        """Whether ``layer`` is one the curtain shows: A, B, B's columns or the divider."""
        return any(own is not None and same_layer(layer, own) for own in (self.layer, self.divider, self.a, self.b))

    # ------------------------------------------------------------------ moving

    @property
    def column(self) -> int:
        """The first of B's columns shown (B's width: none of B)."""
        width = width_of(self.b)
        return min(width, int(round(self.fraction * width / self._step)) * self._step)

    def set_fraction(self, fraction: float) -> None:
        """Put the divider at ``fraction`` (0–1) of B's width: A left of it, B right."""
        self.fraction = min(1.0, max(0.0, float(fraction)))
        column = self.column
        if column >= width_of(self.b):
            self.layer.visible = False  # nothing of B: an empty image is no image to napari
        else:
            self.layer.data, self.layer.translate = columns_from(self.b, column)
            self.layer.visible = True
        line = self.divider.data[0].copy()
        line[:, 1] = column
        self.divider.data = [line]

    def toggle(self) -> float:
        """All A (100 %) from anywhere but 100 %; all B (0 %) from 100 %. Returns the new fraction."""
        self.set_fraction(0.0 if self.fraction >= 1.0 else 1.0)
        return self.fraction

    def set_layers(self, a: Any, b: Any) -> None:
        """Curtain between ``a`` and ``b`` instead, at the same place."""
        self._remove_own()
        self.a, self.b = a, b
        self._build()

    def swap(self) -> None:
        self.set_layers(self.b, self.a)

    def fraction_at(self, position: Any) -> float:
        """The fraction of B's width under the world ``position`` (B placed any way: rotated too)."""
        return self._column_at(position) / width_of(self.b)

    def _column_at(self, position: Any) -> float:
        """B's data column under the world ``position``."""
        return float(np.asarray(self.b.world_to_data(position), dtype=float)[-1])

    def drag(self, viewer: Any, event: Any) -> Iterator[None]:
        """A mouse drag callback: a press within GRAB_PX of the divider drags it (the view does not pan
        meanwhile); any other press is left to napari."""
        if self.layer is None or event.button != 1:
            return
        camera = camera_of(viewer)
        if abs(self._column_at(event.position) - self.column) * abs(float(self.b.scale[-1])) * camera.zoom > GRAB_PX:
            return
        panning = camera.mouse_pan
        camera.mouse_pan = False
        try:
            yield
            while event.type == "mouse_move":
                self.set_fraction(self.fraction_at(event.position))
                yield
        finally:
            camera.mouse_pan = panning

    def close(self) -> None:
        """Remove the curtain's layers; the others shown as they were, the grid as it was."""
        self._remove_own()
        for layer, visible in self._visible:
            if layer in self.viewer.layers:
                layer.visible = visible
        viewer_grid(self.viewer).enabled = self._grid_was


class CurtainControl(QFrame):
    """The curtain's controls, framed inside the Results panel while it is open: A and B, the
    divider's place (0–100 %), Swap A/B; ``say`` is the dock's message line. :meth:`open` shows the
    curtain, :meth:`close` ends it."""

    def __init__(self, viewer: Any, say: Callable[..., None], alive: Callable[[], bool] = lambda: True) -> None:
        super().__init__()
        self.setFrameShape(QFrame.Shape.StyledPanel)
        self.viewer, self.say, self.alive = viewer, say, alive
        self.curtain: Curtain | None = None
        self.a = ComboBox(label="A (left)", choices=self._choices, nullable=True, tooltip="the layer left of the divider")
        self.b = ComboBox(label="B (right)", choices=self._choices, nullable=True, tooltip="the layer right of the divider")
        self.slider = Slider(label="divider %", min=0, max=100, value=50, tracking=True,
                             tooltip="where the divider is across B: A left of it, B right; drag the line in the canvas too")
        self.swap_button = PushButton(text="Swap A/B")
        self.hint = Label(value=f"{CURTAIN_KEY} in the viewer: all A / all B")
        form = Container(widgets=[self.a, self.b, self.slider, self.swap_button, self.hint])
        form.native.layout().setContentsMargins(0, 0, 0, 0)
        QVBoxLayout(self).addWidget(form.native)
        self.slider.changed.connect(self._on_slider)
        self.swap_button.changed.connect(lambda *_: self.swap())
        self.a.changed.connect(self._on_pick)
        self.b.changed.connect(self._on_pick)
        viewer.layers.events.removed.connect(self._on_removed)
        self.hide()

    def _choices(self, *_: Any) -> list[tuple[str, Any]]:
        """Every image layer but the curtain's own."""
        return [
            (layer.name, layer) for layer in self.viewer.layers
            if isinstance(layer, Image) and "curtain" not in layer.metadata.get(METADATA_KEY, {})
        ]

    @property
    def active(self) -> bool:
        return self.curtain is not None

    def open(self, a: Any, b: Any) -> bool:
        """The curtain between ``a`` and ``b`` (each an Image layer); False, said, when either is missing
        or they are one layer."""
        if a is None or b is None or same_layer(a, b):
            self.say("The curtain needs two image layers, A and B.", error=True)
            return False
        self.close()
        self.curtain = Curtain(self.viewer, a, b, self.slider.value / 100)
        self.viewer.mouse_drag_callbacks.append(self._drag)
        self._show_names()
        self.show()
        self.say(f"Curtain: {a.name} left, {b.name} right. Drag the yellow line or the slider; {CURTAIN_KEY} shows all A or all B.")
        return True

    def close(self) -> None:
        if self.curtain is None:
            return
        curtain, self.curtain = self.curtain, None
        if self._drag in self.viewer.mouse_drag_callbacks:
            self.viewer.mouse_drag_callbacks.remove(self._drag)
        curtain.close()
        self.hide()

    def _drag(self, viewer: Any, event: Any) -> Iterator[None]:
        if self.curtain is not None and self.alive():
            yield from self.curtain.drag(viewer, event)
            self._follow_curtain()

    def _follow_curtain(self) -> None:
        if self.curtain is not None:
            with self.slider.changed.blocked():
                self.slider.value = int(round(self.curtain.fraction * 100))

    def _show_names(self) -> None:
        self.a.reset_choices()
        self.b.reset_choices()
        with self.a.changed.blocked(), self.b.changed.blocked():
            self.a.value, self.b.value = self.curtain.a, self.curtain.b

    def _on_slider(self, value: int) -> None:
        if self.curtain is not None:
            self.curtain.set_fraction(value / 100)

    def _on_pick(self, *_: Any) -> None:
        a, b = self.a.value, self.b.value
        if self.curtain is None or a is None or b is None or same_layer(a, b):
            return
        if not (same_layer(a, self.curtain.a) and same_layer(b, self.curtain.b)):
            self.curtain.set_layers(a, b)
            self._show_names()

    def toggle(self) -> None:
        """The key: all A or all B."""
        if self.curtain is not None:
            self.curtain.toggle()
            self._follow_curtain()

    def swap(self) -> None:
        if self.curtain is not None:
            self.curtain.swap()
            self._show_names()

    def _on_removed(self, event: Any) -> None:
        if self.alive() and self.curtain is not None and self.curtain.owns(event.value):
            self.close()
            self.say("A layer of the curtain was removed: the curtain is closed.")
