"""A small live plot of a run's loss terms, with a legend saying which line is which term."""

from __future__ import annotations

from typing import Any

import numpy as np
from qtpy.QtCore import QPointF, Qt
from qtpy.QtGui import QColor, QPainter, QPen, QPolygonF
from qtpy.QtWidgets import QLabel, QSizePolicy, QVBoxLayout, QWidget

# The terms each method reports that are worth a line (the colour map: total and the spread of what the
# photograph cannot explain; the auto-encoder: total, exclusion, mixture), in drawing order:
# name → (label in the legend, colour, meaning in its tooltip).
LOSS_TERMS = {
    "total": ("total", "#e0e0e0", "the loss the method minimises (dashed line)"),
    "residual_scale": ("unexplained X-ray", "#7fd97f", "typical size of the X-ray the photograph cannot explain (robust spread)"),
    "exclusion": ("exclusion", "#ff9f40", "edges shared by x̂1 and x̂2 (weighted by λ in the total)"),
    "mixture": ("mixture", "#5ab4ff", "x − (x̂1 + x̂2): how far the parts are from adding up"),
}


class LossCanvas(QWidget):
    """The lines, drawn with QPainter (no plotting library): each term on a log scale of its own range."""

    def __init__(self) -> None:
        super().__init__()
        self.history: list[dict[str, float]] = []
        self.terms: list[str] = []
        self.setMinimumHeight(70)
        self.setSizePolicy(QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Fixed)

    def paintEvent(self, event: Any) -> None:
        painter = QPainter(self)
        painter.fillRect(self.rect(), QColor("#262930"))
        if len(self.history) < 2:
            return
        width, height = self.width() - 4, self.height() - 4
        for name in reversed(self.terms):  # the total last, dashed: on top, and the term under it still shows
            values = np.log10(np.maximum([h.get(name, np.nan) for h in self.history], 1e-12))
            finite = values[np.isfinite(values)]
            if finite.size < 2:
                continue
            low, high = float(finite.min()), float(finite.max())
            xs = np.linspace(2, 2 + width, len(values))
            ys = 2 + height * (1 - (values - low) / (high - low or 1.0))
            pen = QPen(QColor(LOSS_TERMS[name][1]), 1.5)
            if name == "total":
                pen.setStyle(Qt.PenStyle.DashLine)
            painter.setPen(pen)
            points = [QPointF(float(x), float(y)) for x, y in zip(xs, ys) if np.isfinite(y)]
            painter.drawPolyline(QPolygonF(points))


class LossPlot(QWidget):
    """The canvas and, under it, a legend of the terms the running method reports."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.canvas = LossCanvas()
        self.legend = QLabel("")
        self.legend.setWordWrap(True)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(self.canvas)
        layout.addWidget(self.legend)

    @property
    def history(self) -> list[dict[str, float]]:
        return self.canvas.history

    @property
    def terms(self) -> list[str]:
        """The terms drawn, in drawing order."""
        return self.canvas.terms

    def set_history(self, history: list[dict[str, float]]) -> None:
        """Draw ``history`` (one dict of loss terms per step); the legend follows its terms."""
        terms = [name for name in LOSS_TERMS if history and name in history[0]]
        if terms != self.canvas.terms:
            self.legend.setText(
                "  ".join(f'<span style="color:{LOSS_TERMS[n][1]}">{"┅" if n == "total" else "━"} {LOSS_TERMS[n][0]}</span>' for n in terms)
                + ('  <span style="color:#a0a4ab">(log scale, each line its own range)</span>' if terms else "")
            )
            self.setToolTip("\n".join(f"{LOSS_TERMS[n][0]}: {LOSS_TERMS[n][2]}" for n in terms))
        self.canvas.history, self.canvas.terms = list(history), terms
        self.canvas.update()
