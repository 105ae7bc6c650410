"""Compare that explains itself: a run's x, x1, x2, error map and weave in napari's grid, each titled,
contrast shared where they share units; one key flips x, x1 and x2 in one view; and the titled grid
exported as a PNG with the run's provenance beside it — a scale bar on each panel when the X-ray's
pixel spacing is known, and, once they were counted on a canvas, the thread counts: a density map per
family of threads placed as on the weave's panel, each with its colour bar, and the counts in a line."""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
from napari.utils.colormaps import ensure_colormap
from qtpy.QtCore import QRect, QRectF, Qt
from qtpy.QtGui import QColor, QFont, QImage, QPainter

from .layers import METADATA_KEY, layer_title, mm_per_pixel, same_layer, shared_contrast
from ..core.errors import OutputError
from ..core.threads import ThreadCount, signed_angle
from ..io.files import atomic_write
from ..io import to_display
from .threads import GIVE_SPACING, MAP_COLORMAP, map_limits

FLIP_KEY = "Q"
FLIPPED = ("x", "x1", "x2")
# Layers that share units and a zero (x = x1 + x2 + weave) share contrast; the two residual layers,
# both around zero, share symmetric limits.
SHARED = (("x", "x1", "x2"), ("error_map", "weave"))
EXPORT_SIDE = 1024  # longest side of a panel in the exported PNG
TITLE_HEIGHT, GAP, COLUMNS = 26, 6, 3
BAR_HEIGHT, BAR_MARGIN = 4, 8  # px of the exported panels' scale bars
BAR_FRACTION = 0.2  # a scale bar about a fifth of its panel wide
COLOUR_BAR_HEIGHT, COLOUR_BAR_BAND = 10, 34  # px of a thread map's colour bar, and of the band it and its labels fill
# The grid and its titles while comparing: a gap between cells, and titles small enough that the
# part that says what a panel is ("x2 hidden · run 1 · …") fits its cell.
GRID_STYLE = {"enabled": True, "spacing": 0.03}
TITLE_STYLE = {"visible": True, "font_size": 8}


@dataclass(frozen=True)
class Panel:
    """One cell of the comparison: ``role`` is "x" or a result layer's name."""

    role: str
    title: str
    layer: Any


def viewer_grid(viewer: Any) -> Any:
    """The grid settings: ``viewer.canvas.grid`` since napari 0.9, ``viewer.grid`` before."""
    canvas = getattr(viewer, "canvas", None)
    return canvas.grid if canvas is not None and hasattr(canvas, "grid") else viewer.grid


def overview(layer: Any, side: int = EXPORT_SIDE) -> np.ndarray:
    """The layer's image with its longer side at most ``side`` (a pyramid's level, then strides)."""
    levels = list(layer.data) if layer.multiscale else [layer.data]
    image = next((level for level in levels if max(level.shape[:2]) <= side), levels[-1])
    step = -(-max(image.shape[:2]) // side)
    return np.asarray(image[::step, ::step], dtype=np.float32)


# A run's layers a comparison needs one of; the weave joins them where there is one.
COMPARED = ("x1", "x2", "error_map")


def comparison_panels(viewer: Any, source: Any, run: int) -> list[Panel]:
    """The X-ray ``source`` and run ``run``'s x1, x2, error map and weave (the weave only where the
    method found one: the auto-encoder's is zero) that are still in the viewer. Empty if x1, x2 and
    the error map are all gone (a user who removed two layers was told all were)."""
    by_role = {
        layer.metadata[METADATA_KEY]["layer"]: layer
        for layer in viewer.layers
        if layer.metadata.get(METADATA_KEY, {}).get("run") == run and "layer" in layer.metadata[METADATA_KEY]
    }
    kept = [by_role[role] for role in COMPARED if role in by_role]
    if not kept:
        return []
    double_sided = bool(kept[0].metadata[METADATA_KEY].get("double_sided"))
    panels = [Panel("x", "x mixed X-ray", source)] if source is not None and source in viewer.layers else []
    for role in ("x1", "x2", "error_map", "weave"):
        if role in by_role and (role != "weave" or np.any(overview(by_role[role], 256))):
            panels.append(Panel(role, layer_title(role, double_sided), by_role[role]))
    return panels


def shared_limits(panels: list[Panel]) -> dict[str, tuple[float, float]]:
    """Contrast limits per role: one set for x, x1 and x2; symmetric ones for error map and weave."""
    limits: dict[str, tuple[float, float]] = {}
    images = {panel.role: overview(panel.layer, 512) for panel in panels}
    xrays = [role for role in SHARED[0] if role in images]
    painting = next((images[role] for role in ("x2", "x1") if role in images), None)
    if "x" in images and painting is not None and painting.shape == images["x"].shape and np.isfinite(painting).any():
        # The results are NaN outside the painting found: the X-ray's film margin, lead rulers and a
        # colour chart's shadow there set no contrast (a tester's framed painting showed dim).
        images["x"] = np.where(np.isfinite(painting), images["x"], np.nan)
    low, high = shared_contrast([images[role] for role in xrays])
    limits.update(dict.fromkeys(xrays, (low, high)))
    residuals = [role for role in SHARED[1] if role in images]
    if residuals:
        # Finite values only: outside a painting found in a larger frame the results are NaN.
        finite = [np.abs(images[role][np.isfinite(images[role])]) for role in residuals]
        extent = max((float(np.percentile(values, 99.5)) for values in finite if values.size), default=0.0) or 1.0
        limits.update(dict.fromkeys(residuals, (-extent, extent)))
    return limits


@dataclass(frozen=True)
class ThreadMapPanel:
    """A family's density map on the sheet: ``box`` (top, left, height, width) is where it lies on
    the weave's panel, in the panel's pixels; ``limits`` its colour bar's ends, in ``unit``."""

    title: str
    density_map: np.ndarray
    limits: tuple[float, float]
    unit: str
    box: tuple[float, float, float, float]


def thread_map_panels(threads: ThreadCount | None, panels: list[Panel], corner: tuple[int, int] = (0, 0)) -> list[ThreadMapPanel]:
    """One :class:`ThreadMapPanel` per family of ``threads`` (counted on the weave layer from its pixel
    ``corner`` on), placed as on the sheet's weave panel; none without counts, a weave found in them,
    or a weave panel."""
    weave = next((p for p in panels if p.role == "weave"), None)
    if threads is None or not threads.found or weave is None:
        return []
    full = (weave.layer.data[0] if weave.layer.multiscale else weave.layer.data).shape[:2]
    shown = overview(weave.layer).shape[:2]
    zoom_y, zoom_x = shown[0] / full[0], shown[1] / full[1]
    per = threads.unit.split("/")[-1]
    digits = ".1f" if threads.pixel_size_mm is not None else ".3g"
    maps = []
    for family in threads.families:
        rows, columns = family.density_map.shape
        # Map cell (i, j) is the window centred on pixel corner + step // 2 + step · (i, j): it covers step pixels.
        box = (corner[0] * zoom_y, corner[1] * zoom_x, rows * family.step * zoom_y, columns * family.step * zoom_x)
        title = f"{family.name}/{per}: {family.density:{digits}} ± {family.density_std:{digits}}"
        maps.append(ThreadMapPanel(title, family.density_map, map_limits(family.density_map, family.density), threads.unit, box))
    return maps


def _viridis(values: np.ndarray, limits: tuple[float, float]) -> np.ndarray:
    """(…) values → (…, 4) RGBA uint8 on the maps' colour map between ``limits``; NaN transparent."""
    low, high = limits
    scaled = np.clip((values - low) / ((high - low) or 1.0), 0.0, 1.0)
    rgba = ensure_colormap(MAP_COLORMAP).map(np.nan_to_num(scaled).ravel()).reshape(*values.shape, 4)
    rgba[..., 3] = np.isfinite(values)
    return np.ascontiguousarray((rgba * 255).round().astype(np.uint8))


def _draw_thread_map(painter: QPainter, left: int, top: int, width: int, height: int, panel: ThreadMapPanel) -> None:
    """The map in its place on a ``width`` × ``height`` panel at (left, top) (each window one block of
    colour: no smoothing), and under the panel its colour bar with the counts at its ends."""
    colours = _viridis(panel.density_map, panel.limits)
    rows, columns = colours.shape[:2]
    box_top, box_left, box_height, box_width = panel.box
    painter.save()
    painter.setClipRect(QRect(left, top, width, height))  # the last windows may reach past the painting's edge
    painter.drawImage(QRectF(left + box_left, top + box_top, box_width, box_height),
                      QImage(colours.data, columns, rows, 4 * columns, QImage.Format.Format_RGBA8888))
    painter.restore()
    ramp = _viridis(np.linspace(*panel.limits, 256)[None, :], panel.limits)
    bar_top = top + height + 4
    painter.drawImage(QRectF(left + BAR_MARGIN, bar_top, width - 2 * BAR_MARGIN, COLOUR_BAR_HEIGHT),
                      QImage(ramp.data, 256, 1, 4 * 256, QImage.Format.Format_RGBA8888))
    painter.setPen(QColor("#f0f1f2"))
    labels = QRect(left + BAR_MARGIN, bar_top + COLOUR_BAR_HEIGHT, width - 2 * BAR_MARGIN, COLOUR_BAR_BAND - COLOUR_BAR_HEIGHT - 4)
    low, high = panel.limits
    digits = ".1f" if panel.unit == "threads/cm" else ".3g"
    ends = ((f"{low:{digits}}", Qt.AlignmentFlag.AlignLeft), (panel.unit, Qt.AlignmentFlag.AlignHCenter),
            (f"{high:{digits}}", Qt.AlignmentFlag.AlignRight))
    for text, align in ends:
        painter.drawText(labels, int(align | Qt.AlignmentFlag.AlignVCenter), text)


class Comparison:
    """The panels shown together (:meth:`grid`) or one of x, x1, x2 at a time (:meth:`flip`);
    :meth:`end` puts visibility, order, contrast, titles and the grid back as they were."""

    def __init__(self, viewer: Any, panels: list[Panel]) -> None:
        self.viewer, self.panels = viewer, panels
        self.shown: str | None = None  # the role flip shows; None in the grid
        # napari hands plugins proxies of its layers, a new one each time: compare them with same_layer
        self._visible = [(layer, layer.visible) for layer in viewer.layers]
        grid = viewer_grid(viewer)
        self._grid = {name: getattr(grid, name) for name in GRID_STYLE if hasattr(grid, name)}
        self._panel_state = [(p.layer.contrast_limits, _title_style(p.layer)) for p in panels]
        limits = shared_limits(panels)
        for index, panel in enumerate(panels):  # bottom of the list first: napari's grid reads it row by row
            viewer.layers.move(viewer.layers.index(panel.layer), index)
            panel.layer.contrast_limits = limits[panel.role]
            _style_title(panel.layer, TITLE_STYLE)

    def _show(self, roles: set[str]) -> None:
        for layer in self.viewer.layers:
            layer.visible = any(same_layer(layer, p.layer) and p.role in roles for p in self.panels)

    def grid(self) -> None:
        self.shown = None
        self._show({p.role for p in self.panels})
        viewer_grid(self.viewer).update({name: GRID_STYLE[name] for name in self._grid})
        self.viewer.reset_view()

    def flip(self) -> str:
        """Show the next of x, x1, x2 alone (x first, from the grid) of those still in the viewer; returns
        its title ("" where none is left: a tester deleted x2 and was told "Showing x2")."""
        roles = [p.role for p in self.panels if p.role in FLIPPED and p.layer in self.viewer.layers]
        if not roles:
            return ""
        self.shown = roles[(roles.index(self.shown) + 1) % len(roles)] if self.shown in roles else roles[0]
        if viewer_grid(self.viewer).enabled:
            viewer_grid(self.viewer).enabled = False
            self.viewer.reset_view()
        self._show({self.shown})
        return next(p.title for p in self.panels if p.role == self.shown)

    def end(self) -> None:
        present = [(layer, visible) for layer, visible in self._visible if layer in self.viewer.layers]
        for index, (layer, visible) in enumerate(present):
            self.viewer.layers.move(self.viewer.layers.index(layer), index)
            layer.visible = visible
        for panel, (limits, title) in zip(self.panels, self._panel_state):
            if panel.layer in self.viewer.layers:
                panel.layer.contrast_limits = limits
                _style_title(panel.layer, title)
        viewer_grid(self.viewer).update(self._grid)


def _title_style(layer: Any) -> dict[str, Any] | None:
    """The layer's title (name overlay, drawn in its grid cell since napari 0.6) as it is; None before."""
    overlay = getattr(layer, "name_overlay", None)
    return None if overlay is None else {name: getattr(overlay, name) for name in TITLE_STYLE}


def _style_title(layer: Any, style: dict[str, Any] | None) -> None:
    overlay = getattr(layer, "name_overlay", None)
    if overlay is not None and style is not None:
        overlay.update(style)


def scale_bar_length(mm_per_px: float, width_px: int, fraction: float = BAR_FRACTION) -> tuple[float, str]:
    """A scale bar for a panel ``width_px`` pixels wide at ``mm_per_px``: the round length (1, 2 or 5
    × a power of ten, in mm) nearest below ``fraction`` of its width, and its label ("5 mm", "2 cm")."""
    target = fraction * width_px * mm_per_px
    power = 10.0 ** np.floor(np.log10(target))
    length = max(m * power for m in (1, 2, 5) if m * power <= target)
    centimetres = length / 10
    label = f"{centimetres:g} cm" if length >= 10 and centimetres == round(centimetres) else f"{length:g} mm"
    return float(length), label


def panel_mm_per_px(layer: Any, image: np.ndarray) -> float | None:
    """Millimetres per pixel of ``image`` (the layer's :func:`overview`) across; None for a layer in pixels."""
    spacing = mm_per_pixel(layer.scale, layer.units)
    if spacing is None:
        return None
    full = (layer.data[0] if layer.multiscale else layer.data).shape[1]
    return spacing[1] * full / image.shape[1]


def _draw_scale_bar(painter: QPainter, left: int, bottom: int, width: int, mm_per_px: float) -> None:
    """A white bar with a dark edge and its length above it, in the panel's bottom-left corner."""
    length_mm, label = scale_bar_length(mm_per_px, width)
    length = int(round(length_mm / mm_per_px))
    top = bottom - BAR_MARGIN - BAR_HEIGHT
    painter.fillRect(left + BAR_MARGIN - 1, top - 1, length + 2, BAR_HEIGHT + 2, QColor("#000000"))
    painter.fillRect(left + BAR_MARGIN, top, length, BAR_HEIGHT, QColor("#ffffff"))
    painter.setPen(QColor("#000000"))  # the label's shadow, then the label: readable on any gray
    painter.drawText(left + BAR_MARGIN + 1, top - 3, label)
    painter.setPen(QColor("#ffffff"))
    painter.drawText(left + BAR_MARGIN, top - 4, label)


def titled_grid(panels: list[Panel], footer: str = "", maps: list[ThreadMapPanel] | tuple[()] = ()) -> QImage:
    """The panels as one image: gray at their shared contrast, each under its title, three a row, each
    with a scale bar when its layer is in mm; then a row of thread ``maps`` (:func:`thread_map_panels`),
    each with its colour bar; ``footer`` (one line, e.g. the thread counts) under them."""
    limits = shared_limits(panels)
    overviews = [overview(p.layer) for p in panels]
    images = [to_display(image, limits[p.role]) for p, image in zip(panels, overviews)]
    height, width = images[0].shape
    rows = -(-len(images) // COLUMNS)
    columns = min(COLUMNS, len(images))
    footer_height = TITLE_HEIGHT if footer else 0
    maps_top = GAP + rows * (height + TITLE_HEIGHT + GAP)
    maps_height = TITLE_HEIGHT + height + COLOUR_BAR_BAND + GAP if maps else 0
    sheet = QImage(
        max(columns, len(maps)) * (width + GAP) + GAP, maps_top + maps_height + footer_height, QImage.Format.Format_RGB32
    )
    sheet.fill(QColor("#262930"))
    painter = QPainter(sheet)
    font = QFont()
    font.setPixelSize(TITLE_HEIGHT - 10)
    painter.setFont(font)
    for index, (panel, image, values) in enumerate(zip(panels, images, overviews)):
        row, column = divmod(index, COLUMNS)
        left, top = GAP + column * (width + GAP), GAP + row * (height + TITLE_HEIGHT + GAP)
        painter.setPen(QColor("#f0f1f2"))
        painter.drawText(QRect(left, top, width, TITLE_HEIGHT), int(Qt.AlignmentFlag.AlignCenter), panel.title)
        gray = np.ascontiguousarray(image)
        painter.drawImage(left, top + TITLE_HEIGHT, QImage(gray.data, width, height, width, QImage.Format.Format_Grayscale8))
        mm_per_px = panel_mm_per_px(panel.layer, values)
        if mm_per_px is not None:
            _draw_scale_bar(painter, left, top + TITLE_HEIGHT + height, width, mm_per_px)
    for index, panel in enumerate(maps):
        left = GAP + index * (width + GAP)
        painter.setPen(QColor("#f0f1f2"))
        painter.drawText(QRect(left, maps_top, width, TITLE_HEIGHT), int(Qt.AlignmentFlag.AlignCenter), panel.title)
        _draw_thread_map(painter, left, maps_top + TITLE_HEIGHT, width, height, panel)
    if footer:
        painter.setPen(QColor("#f0f1f2"))
        band = QRect(GAP, sheet.height() - footer_height - GAP // 2, sheet.width() - 2 * GAP, footer_height)
        painter.drawText(band, int(Qt.AlignmentFlag.AlignLeft | Qt.AlignmentFlag.AlignVCenter), footer)
    painter.end()
    return sheet


def threads_line(threads: ThreadCount) -> str:
    """The thread counts in one short line, for the sheet's footer: "Threads: vertical 15.7 ± 0.1 /cm
    at 89.2°, horizontal …" (the full sentences are in the JSON)."""
    if not threads.found:
        return "Threads: no canvas weave was found."
    per = "/" + threads.unit.split("/")[-1]
    return "Threads: " + ", ".join(
        f"{f.name.split()[0]} {f.density:.1f} ± {f.density_std:.1f} {per} at {signed_angle(f.angle_deg):.1f}°"
        for f in threads.families
    ) + ("" if threads.pixel_size_mm is not None else " (per pixel: the pixel spacing is unknown)")


def export_comparison(
    panels: list[Panel], folder: Path, run: int, threads: ThreadCount | None = None, threads_corner: tuple[int, int] = (0, 0)
) -> tuple[Path, Path]:
    """Write ``comparison-run<N>.png`` (the titled grid, scale bars on panels in mm, and when ``threads``
    are given — counted on the weave layer from pixel ``threads_corner`` on — their density maps with
    colour bars and the counts on a line under it) and ``.json`` (what each panel is, its contrast, the
    run's provenance and the thread counts) into ``folder``, never over an existing file.
    Raises :class:`OutputError`."""
    stem = f"comparison-run{run}"
    for attempt in range(1, 1000):
        name = stem if attempt == 1 else f"{stem}-{attempt}"
        if not (folder / f"{name}.png").exists() and not (folder / f"{name}.json").exists():
            break
    png, record_path = folder / f"{name}.png", folder / f"{name}.json"
    maps = thread_map_panels(threads, panels, threads_corner)
    sheet = titled_grid(panels, threads_line(threads) if threads is not None else "", maps)
    limits = shared_limits(panels)

    def save(temporary: str) -> None:
        if not sheet.save(temporary, "PNG"):
            raise OSError(f"Qt could not write a PNG to {temporary}")

    atomic_write(png, save)
    provenance = next(
        ({k: v for k, v in p.layer.metadata[METADATA_KEY].items() if k != "layer"} for p in panels if p.role == "x2"), {}
    )
    record = {
        "png": png.name,
        "run": run,
        "panels": [{"title": p.title, "layer": p.layer.name, "contrast_limits": list(limits[p.role])} for p in panels],
        "provenance": provenance,
    }
    if threads is not None:
        record["thread_counts"] = {**threads.to_dict(), "summary": threads.summary(GIVE_SPACING)}
        record["thread_maps"] = [{"title": m.title, "colour_bar": [*m.limits], "unit": m.unit} for m in maps]
    try:
        atomic_write(record_path, lambda temporary: Path(temporary).write_text(json.dumps(record, indent=2, default=str)))
    except OutputError:
        png.unlink(missing_ok=True)
        raise
    return png, record_path
