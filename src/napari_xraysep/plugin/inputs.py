"""The Inputs panel: which layers are the X-ray, the photograph, the region and, optionally, the back
side, side channels and the painting's area — and the arrays (or, for a whole painting, the lazy
sources) they give."""

from __future__ import annotations

from typing import Any

import numpy as np
from magicgui.widgets import CheckBox, ComboBox, Container, LineEdit, PushButton, Select
from napari.layers import Image
from qtpy.QtWidgets import QGroupBox, QLabel, QVBoxLayout

from .layers import (
    has_units,
    is_region_layer,
    is_rgb_layer,
    is_users_xray,
    layer_array,
    layer_on_grid,
    layer_source,
    check_units,
    grid_transform,
    placed_alike,
    made_here,
    reader_note,
    region_mask_from_layer,
    same_layer,
    spacing_record,
)
from ..core.checks import check_back, check_pair, check_side_channel
from ..core.errors import InputError
from ..core.threads import parse_pixel_size
from ..io.spacing import MM_PER_INCH, spacing_of
from ..core.sources import Sources
from ..core.areas import central_area, painting_area, region_for_method

REGION_LAYER_NAME = "region (hidden design)"
# A layer's metadata entries: the pixel size typed in the dock, and a photograph given the X-ray's spacing.
GIVEN_KEY, SHARED_KEY = "xraysep_pixel_size", "xraysep_spacing_of_xray"
# What the region does, as the settings stand: the colour map reads it only through Region weight
# (Advanced), which at 1 leaves it unused.
REGION_HINTS = {
    "ignored": "Region: not used — the colour map fits the whole image alike at Region weight 1 (Advanced); "
    "lower it to trust the pixels inside the region less.",
    "down-weighted": "Region: optional — the colour map trusts the pixels inside it less (Advanced ▸ Region weight {weight:.2f}).",
    "required": "Region: required by the auto-encoder presets — draw it where the hidden design shows most.",
    "unused": "Region: not needed — a double-sided panel is separated from both photographs.",
}


def _users_region(layer: Any) -> bool:
    """A Shapes or Labels layer of the user's: not one the plugin made (the curtain's divider, x2's
    passage outlines — a tester saw the divider picked as the region while the curtain was open)."""
    return is_region_layer(layer) and not made_here(layer)


def _placed_at(layer: Any, placed: dict[str, Any]) -> bool:
    """Whether ``layer`` still has the scale and translate recorded in ``placed``."""
    return np.allclose(layer.scale, placed["scale"]) and np.allclose(layer.translate, placed["translate"])


def _placed_like(layer: Any, reference: Any) -> bool:
    """Whether ``layer`` lies over ``reference`` pixel for pixel on screen (same scale, offset, units)."""
    return (
        np.allclose(layer.scale, reference.scale) and np.allclose(layer.translate, reference.translate)
        and tuple(map(str, layer.units)) == tuple(map(str, reference.units))
    )


def _moves_with(layer: Any, xray: Any) -> bool:
    """Whether ``layer`` (2-D, in the X-ray's units) is placed over the X-ray and so moves with it when its
    pixel size is given: shapes, points and labels placed like it, an image of its pixel count placed
    like it, or an image placed by its own scale or position over it (a photograph registered at
    another pixel size). An image of another size where napari put it (scale 1, no offset), or placed
    beside the X-ray, is another picture: a tester's second painting had been given this one's pixel size."""
    if layer.ndim != xray.ndim or tuple(map(str, layer.units)) != tuple(map(str, xray.units)):
        return False
    if not isinstance(layer, Image):
        return _placed_like(layer, xray)
    if _placed_like(layer, xray):
        return tuple(layer_source(layer).shape[:2]) == tuple(layer_source(xray).shape[:2])
    unplaced = np.allclose(layer.scale, 1) and not np.any(layer.translate)
    return not unplaced and _overlap(layer, xray) > 0.5


def _overlap(layer: Any, reference: Any) -> float:
    """The share of ``layer``'s world extent (its bounding box) that lies over ``reference``'s."""
    mine, theirs = np.asarray(layer.extent.world, float)[:, -2:], np.asarray(reference.extent.world, float)[:, -2:]
    common = np.clip(np.minimum(mine[1], theirs[1]) - np.maximum(mine[0], theirs[0]), 0, None)
    area = np.prod(mine[1] - mine[0])
    return float(np.prod(common) / area) if area > 0 else 0.0


class InputsPanel(QGroupBox):
    """Layer pickers that follow the layer list; ``viewer`` is the napari viewer."""

    def __init__(self, viewer: Any) -> None:
        super().__init__("Inputs")
        self.viewer = viewer
        self.xray = ComboBox(
            label="X-ray", choices=self._choices(is_users_xray), nullable=True,
            tooltip="the mixed radiograph: a 2-D grayscale layer",
        )
        self.pixel_size = LineEdit(
            label="Pixel size", tooltip="the X-ray's pixel size (0.085mm, 85um, 300dpi), over its file's: the layers are then in mm"
        )
        self.photo = ComboBox(
            label="Photograph", choices=self._choices(is_rgb_layer), nullable=True,
            tooltip="the surface's colour photograph, registered to the X-ray pixel for pixel (Plugins ▸ napari-xraysep ▸ Align photograph)",
        )
        self.region = ComboBox(
            label="Region", choices=self._choices(_users_region), nullable=True,
            tooltip="a Shapes or Labels layer over the part of the X-ray where the hidden design shows most",
        )
        self.draw_button = PushButton(text="Draw region", tooltip="add a Shapes layer in rectangle mode to draw the region on")
        self.back = ComboBox(
            label="Back side", choices=self._choices(is_rgb_layer), nullable=True, value=None,
            tooltip="double-sided panel only: the back's photograph (then no region is needed)",
        )
        self.painting = ComboBox(
            label="Painting area", choices=self._choices(_users_region), nullable=True, value=None,
            tooltip="optional: a Shapes or Labels layer over the painting itself, when the frame holds more (film margin, "
            "backdrop, colour chart); without it the painting is found in the X-ray. Outside it the results are empty.",
        )
        self.mirror_back = CheckBox(label="Mirror back side", value=False, tooltip="the back photograph was taken from behind")
        self.film_seams = CheckBox(
            label="Find film seams", value=True,
            tooltip="a mosaic of films: seek the seams where each film's exposure begins and take the films' exposures "
            "out into an 'exposure' layer (off: the X-ray is separated as it is — for a hidden design of pixel-sharp "
            "straight lines taken for films). A whole painting found to hold films is applied twice.",
        )
        self.side_channels = Select(
            label="Side channels", choices=self._side_choices, value=[],
            tooltip="optional: extra registered maps (infrared, XRF element maps such as Cu-K) read beside the photograph; Ctrl-click for several",
        )
        self.side_channels.native.setMaximumHeight(70)
        self.units_hint = QLabel("")
        self.units_hint.setWordWrap(True)
        self.units_hint.setStyleSheet("color: #a0a4ab;")
        self.region_hint = QLabel(REGION_HINTS["ignored"])
        self.region_hint.setWordWrap(True)
        self.region_hint.setStyleSheet("color: #a0a4ab;")
        form = Container(widgets=[
            self.xray, self.pixel_size, self.photo, self.region, self.draw_button, self.back, self.mirror_back,
            self.side_channels, self.painting, self.film_seams,
        ])
        layout = QVBoxLayout(self)
        layout.addWidget(form.native)
        layout.addWidget(self.units_hint)
        layout.addWidget(self.region_hint)
        self.draw_button.changed.connect(self.draw_region)
        # "No region" chosen by the user stays chosen: refresh() picks a region only for a user who has
        # not said they want none (a run's result layers, a new layer, must not re-pick it).
        self.no_region_chosen, self._refreshing = False, False
        self.region.changed.connect(self._region_chosen)
        self.pixel_size.native.editingFinished.connect(self.give_pixel_size)  # once typed, not at every key
        self.xray.changed.connect(lambda *_: self.refresh_side_channels())
        for combo in (self.xray, self.photo, self.back, self.side_channels):
            combo.changed.connect(lambda *_: self.share_spacing())

    def _choices(self, accept: Any) -> Any:
        return lambda *_: [(layer.name, layer) for layer in self.viewer.layers if accept(layer)]

    def _side_choices(self, *_: Any) -> list[tuple[str, Any]]:
        """Grayscale maps that could inform the surface: not the X-ray itself, nor what the plugin made
        (results, previews, a sample's ground truth)."""
        xray = self.xray.value
        return [
            (layer.name, layer)
            for layer in self.viewer.layers
            if is_users_xray(layer) and not same_layer(layer, xray)
        ]

    def _region_chosen(self, value: Any) -> None:
        """The region picker changed: by the user (not by :meth:`refresh`), None is their "no region"."""
        if not self._refreshing:
            self.no_region_chosen = value is None

    def refresh(self) -> None:
        """After the layer list changed: keep the choices that remain, pick the first X-ray, photograph and
        region when none is chosen (the back side is optional, so never picked for the user, nor a region
        once the user chose none)."""
        chosen_sides = list(self.side_channels.value)  # reset_choices below would forget them
        self._refreshing = True
        try:
            for combo in (self.xray, self.photo, self.region, self.back, self.painting):
                current = combo.value
                # Qt's combo box may move to "None" as the choices change (a run's result layers
                # arriving cleared the back side: the next run was of one side, silently).
                combo.reset_choices()
                kept = current if current is not None and current in combo.choices else None
                optional = combo in (self.back, self.painting) or (combo is self.region and self.no_region_chosen)
                if kept is None and not optional:
                    kept = next((c for c in combo.choices if c is not None), None)
                if combo.value is not kept:
                    combo.value = kept
        finally:
            self._refreshing = False
        self.refresh_side_channels(chosen_sides)
        self.share_spacing()

    def give_pixel_size(self) -> None:
        """The typed pixel size (:func:`~..core.threads.parse_pixel_size`) becomes the X-ray layer's scale,
        in mm; a text that is no pixel size is said under the field, and changes nothing."""
        xray, text = self.xray.value, self.pixel_size.value.strip()
        if xray is None or not text:
            return
        try:
            size = parse_pixel_size(text)
        except InputError as error:
            self.units_hint.setText(str(error))
            return
        xray.metadata[GIVEN_KEY] = f"given by the user as {text}"
        in_mm = all(str(unit) in ("mm", "millimeter") for unit in list(xray.units)[-2:])
        if in_mm and np.allclose(np.asarray(xray.scale[-2:], float), size, rtol=1e-9, atol=0):
            # The size it has (Enter pressed again, '100um' for '0.1mm'): nothing moves, nor does the view
            # (a user zoomed onto a detail lost it).
            self.share_spacing()
            return
        # Every layer placed over the X-ray (the region's shapes, a registered photograph, labels, one
        # placed by its own scale) moves with it, about the X-ray's origin: what was aligned on screen
        # stays aligned. Another painting's image where napari put it is left alone.
        factor = size / np.asarray(xray.scale[-2:], float)
        origin = np.asarray(xray.translate[-2:], float)
        moved = [layer for layer in self.viewer.layers if layer is not xray and _moves_with(layer, xray)]
        for layer in moved:
            layer.scale = np.asarray(layer.scale[-2:], float) * factor
            layer.translate = origin + (np.asarray(layer.translate[-2:], float) - origin) * factor
            layer.units = ("mm", "mm")
        xray.scale, xray.units = (size, size), ("mm", "mm")
        self.share_spacing()
        self.viewer.reset_view()  # the scene's size changed by the factor: look at the painting again

    def spacing_source(self, layer: Any) -> str | None:
        """Where a layer's pixel spacing came from: typed in the dock, else its file's tag where the
        layer is placed at its file's spacing (not where it was given another X-ray's)."""
        own = spacing_of(layer.metadata.get("file", {}))
        as_filed = own is not None and np.allclose(layer.scale[-2:], own.mm)
        filed = layer.metadata["file"].get("pixel_spacing_tag") if as_filed else None
        return layer.metadata.get(GIVEN_KEY) or filed

    def share_spacing(self) -> None:
        """Say under the pixel size what the X-ray is in (mm, and where that came from, or pixels); with
        an X-ray in mm, napari's scale bar shown. A photograph (front or back) or side channel of the
        X-ray's pixel count is registered pixel for pixel — as ``xraysep separate`` reads the files —
        so where it has no pixel size of its own, or its file's (a JPEG's nominal 300 dpi: a printing
        size, not the painting's), it is given the X-ray's scale and units, with any layer placed like
        it (a region painted over it); else napari would draw it at another size over the X-ray and
        the run read it so (a tester's registered 300-dpi JPEG was shrunk to 85 %: x2 14.7 against
        28.0 dB). A scale the user set is the user's: left as it is. The line says what was moved."""
        xray = self.xray.value
        if xray is None:
            self.units_hint.setText("")
            return
        if has_units(xray):
            record = spacing_record(xray.scale, xray.units, self.spacing_source(xray))
            hint = f"In mm: {record['mm_per_pixel'][0]:.4g} mm per pixel ({record['source']})." if record else ""
            canvas = getattr(self.viewer, "canvas", None)  # napari ≥ 0.9: the scale bar is a canvas overlay
            (canvas.overlays.scale_bar if canvas is not None else self.viewer.scale_bar).visible = True
        elif reader_note(xray):  # read by another reader: what its file gives is not known here
            hint = "The X-ray is in pixels."
        else:
            hint = "The X-ray is in pixels: its file gives no pixel size."
        chosen = (self.photo.value, self.back.value, *self.side_channels.value)
        for layer in dict.fromkeys(layer for layer in chosen if layer is not None and layer is not xray):
            if layer_source(layer).shape[:2] != layer_source(xray).shape[:2]:
                continue
            own = spacing_of(layer.metadata.get("file", {}))
            as_filed = own is not None and np.allclose(layer.scale[-2:], own.mm) and not np.any(layer.translate)
            unplaced = not has_units(layer) and np.allclose(layer.scale, 1) and not np.any(layer.translate)
            shared = layer.metadata.get(SHARED_KEY)
            # Shared before and left where it was put: it follows the X-ray (a pixel size typed since);
            # moved since, by hand, it is the user's.
            kept = isinstance(shared, dict) and "scale" in shared and _placed_at(layer, shared)
            if shared and not kept and not _placed_like(layer, xray):
                del layer.metadata[SHARED_KEY]
                shared = None
            if not _placed_like(layer, xray) and (kept or as_filed or unplaced):
                followers = [
                    other for other in self.viewer.layers
                    if other not in (layer, xray) and other.ndim == layer.ndim and _placed_like(other, layer)
                ]
                for moved in (layer, *followers):
                    moved.scale, moved.translate, moved.units = xray.scale, xray.translate, xray.units
                moving = f", with {', '.join(repr(other.name) for other in followers)}" if followers else ""
                said = shared["said"] if kept else ""
                if as_filed:
                    dpi = dict.fromkeys(f"{MM_PER_INCH / float(mm):.0f}" for mm in own.mm)
                    said = f"its file's {' × '.join(dpi)} dpi set aside{moving}"
                shared = layer.metadata[SHARED_KEY] = {"said": said}
            if isinstance(shared, dict) and _placed_like(layer, xray):  # where it is followed from next time
                shared["scale"], shared["translate"] = list(map(float, layer.scale)), list(map(float, layer.translate))
                if shared["said"]:  # said while it holds
                    hint += f" '{layer.name}' has the X-ray's pixel count: shown pixel for pixel over it"
                    hint += f" ({shared['said']})."
        if note := reader_note(xray):  # first: an inverted X-ray spoils the run, whatever its units
            hint = f"{note} {hint}"
        self.units_hint.setText(hint.strip())

    def refresh_side_channels(self, chosen: list[Any] | None = None) -> None:
        """After the X-ray's picker: the X-ray is never its own side channel."""
        chosen = list(self.side_channels.value) if chosen is None else chosen
        self.side_channels.reset_choices()
        self.side_channels.value = [layer for layer in chosen if layer in self.side_channels.choices]

    def set_region_need(self, need: str, weight: float = 1.0) -> None:
        """Say what the region does: ``need`` is a key of REGION_HINTS, ``weight`` the colour map's Region weight."""
        self.region_hint.setText(REGION_HINTS[need].format(weight=weight))

    def draw_region(self) -> Any:
        """A Shapes layer named for its purpose, selected, in rectangle mode, aligned with the X-ray."""
        reference = self.xray.value
        kwargs = {"scale": reference.scale, "translate": reference.translate, "units": reference.units} if reference is not None else {}
        layer = self.viewer.add_shapes(name=REGION_LAYER_NAME, edge_color="#ff5050", face_color="#ff505033", edge_width=3, **kwargs)
        self.viewer.layers.selection.active = layer
        layer.mode = "add_rectangle"
        self.region.value = layer
        return layer

    # ---------------------------------------------------------------- layers → arrays

    def layers(self) -> list[Any]:
        """Every chosen layer: removing one of them during a run stops it."""
        return [self.xray.value, self.photo.value, self.region.value, self.back.value, self.painting.value, *self.side_channels.value]

    def provenance(self) -> dict[str, Any]:
        """What a whole painting's run.json records of its inputs, as ``xraysep separate`` does: the files
        the chosen layers were opened from ("inputs"; None for a layer made in napari), what our reader read
        of each and how ("input_files": format, compression, pixel spacing …) and the layers' names
        ("input_layers") — a result folder in Documents said neither (a new user's finding)."""
        xray, photo, back = self.xray.value, self.photo.value, self.back.value
        sides = list(self.side_channels.value)
        roles = {"xray": xray, "rgb": photo, "rgb_back": back, **{f"side_channel_{i + 1}": s for i, s in enumerate(sides)}}

        def path(layer: Any) -> str | None:
            return None if layer is None or layer.source.path is None else str(layer.source.path)

        return {
            "inputs": {
                "xray": path(xray), "rgb": path(photo), "rgb_back": path(back),
                "side_channels": [path(side) for side in sides],
            },
            "input_files": {
                role: layer.metadata["file"] for role, layer in roles.items()
                if layer is not None and isinstance(layer.metadata.get("file"), dict)
            },
            "input_layers": {
                role: layer.name for role, layer in
                {**roles, "region": self.region.value, "painting_area": self.painting.value}.items() if layer is not None
            },
        }

    def side_names(self) -> list[str]:
        """The chosen side channels' names, in the order a run reads them (the layer list's)."""
        return [layer.name for layer in self.side_channels.value]

    def chosen(self) -> tuple[Any, Any, Any]:
        """The X-ray, photograph and back side layers, or an error naming what is missing."""
        xray, photo, back = self.xray.value, self.photo.value, self.back.value
        if xray is None:
            raise InputError(
                "Choose the mixed X-ray: a 2-D grayscale image layer (open one, or File ▸ Open Sample); a radiograph "
                "exported as RGB is not offered: save it as grayscale."
            )
        if text := self.pixel_size.value.strip():
            try:  # said under the field when typed; a run in pixels after it would pass for one in mm
                parse_pixel_size(text)
            except InputError as error:
                raise InputError(f"{error} Or clear the Pixel size to work in the X-ray's own units.") from error
        if photo is None:
            raise InputError("Choose the photograph: a colour image layer registered to the X-ray.")
        if back is not None and same_layer(back, photo):
            raise InputError("The back side is the photograph of the front; choose the back's photograph, or none.")
        if back is None and self.mirror_back.value:
            raise InputError(
                "Mirror back side is ticked, but no Back side is chosen: choose the back's photograph for a "
                "double-sided panel, or untick Mirror back side."
            )
        return xray, photo, back

    def region_mask(self, shape: tuple[int, int], required: bool) -> np.ndarray | None:
        """The region as an (H, W) mask over the X-ray as shown; None if none is chosen and the
        method can do without one (then an empty one is the run's to say: it fits without it)."""
        if self.region.value is None:
            if not required:
                return None
            raise InputError("Choose or draw the region where the hidden design shows most (Draw region): the auto-encoder needs it.")
        return region_mask_from_layer(self.region.value, shape, self.xray.value, empty_ok=not required)

    def arrays(self, training: bool, region_required: bool) -> tuple[dict[str, Any], dict[str, Any]]:
        """The chosen layers in memory, checked with the core's messages, as
        :func:`~napari_xraysep.pipeline.iter_run`'s arguments, and the checked X-ray and photograph:
        every layer as the viewer shows it over the X-ray (:func:`layer_on_grid` — a photograph moved,
        scaled or turned into place by its layer transform is resampled so)."""
        xray, photo, back = self.chosen()
        x_mixed, rgb_surface = check_pair(layer_array(xray), layer_on_grid(photo, xray))
        rgb_back, mirror = (None, False) if back is None else (layer_on_grid(back, xray), bool(self.mirror_back.value))
        if rgb_back is not None:
            check_back(rgb_back, x_mixed, mirror)
        region = self.region_mask(x_mixed.shape, region_required) if training and back is None else None
        sides = [
            # refused before the run starts
            check_side_channel(layer_on_grid(side, xray), x_mixed.shape, index, side.name)
            for index, side in enumerate(self.side_channels.value)
        ]
        arguments = {
            "sources": Sources(x_mixed, rgb_surface, rgb_back, mirror, sides, self.side_names()), "region_mask": region,
            "painting_area": self.painting_mask(x_mixed.shape), "seams": "auto" if self.film_seams.value else "none",
        }
        return arguments, {"x_mixed": x_mixed, "rgb_surface": rgb_surface}

    def painting_mask(self, shape: tuple[int, int]) -> np.ndarray | None:
        """The painting's area as an (H, W) mask, or None to find it."""
        if self.painting.value is None:
            return None
        return region_mask_from_layer(self.painting.value, shape, self.xray.value, role="painting area")

    def painting_sources(self, training: bool, region_required: bool) -> tuple[dict[str, Any], dict[str, Any], tuple[int, int]]:
        """A whole painting's layers as lazy sources with the region and the training area
        (:func:`~napari_xraysep.pipeline.iter_run`'s arguments), the area's X-ray and photograph in memory
        (checked as in :meth:`arrays`), and the area's top-left pixel."""
        xray, photo, back = self.chosen()
        for layer in (photo, back, *self.side_channels.value):
            if layer is not None:
                check_units(layer, xray)
            if layer is not None and not placed_alike(grid_transform(layer, xray)):
                raise InputError(
                    f"The layer '{layer.name}' is placed over the X-ray by its own transform (scale, translate or rotate); "
                    "a whole painting is read as stored: align it to the X-ray's pixels (Plugins ▸ napari-xraysep ▸ Align photograph)."
                )
        sources = Sources(
            layer_source(xray), layer_source(photo), None if back is None else layer_source(back),
            back is not None and bool(self.mirror_back.value), [layer_source(side) for side in self.side_channels.value],
            self.side_names(),
        )
        shape = sources.check()  # the side channels' shapes too
        region = self.region_mask(shape, region_required) if training and back is None else None
        if region is not None and not region_required:  # an empty one: trained in the middle, as without one
            region = region_for_method(region, "colour_map", shape)
        if training:  # the area iter_separate_painting trains on
            area = painting_area(shape, region, sources.double_sided)
        else:  # only applying: check a screenful in the middle
            area = central_area(shape, 2048)
        offset = (area[0].start, area[1].start) if training else (0, 0)
        cropped = sources.crop(area)
        # The photograph's alpha (if any) is dropped, and said, by the separation of the area, not here too.
        x_area, rgb_area = check_pair(cropped.x_mixed, cropped.rgb_surface[..., :3])
        spacing = spacing_record(xray.scale, xray.units, self.spacing_source(xray))
        arguments = {
            "sources": sources, "region_mask": region, "area": area if training else None,
            "record": {"pixel_spacing": spacing, **self.provenance()},  # into the result TIFFs' tags too
            "painting_area": self.painting_mask(shape),
        }
        return arguments, {"x_mixed": x_area, "rgb_surface": rgb_area}, offset
