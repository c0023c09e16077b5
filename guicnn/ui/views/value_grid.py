"""ValueGrid: a 2-D array drawn as coloured cells with their numbers, for explaining arithmetic.

Cells are coloured blue (negative) – white (0) – red (positive), centred at 0. Numbers are
written in the cells when they are large enough to read (the font grows with the cell, for
a projector). Padding cells are hatched grey; cells not yet revealed stay blank. Overlays:
the taps of a window (thick outline), the window's span (dashed), the current cell and a
chosen cell. Mouse: click a cell, drag the window, double-click a cell.
"""

from __future__ import annotations

import math
from typing import Callable, Sequence

import numpy as np
from PySide6.QtCore import QPointF, QRectF, QSize, Qt, Signal
from PySide6.QtGui import QBrush, QColor, QFont, QFontMetrics, QImage, QMouseEvent, QPainter, QPen
from PySide6.QtWidgets import QSizePolicy, QToolTip, QWidget

from ..style import MUTED, SELECTION, TEXT
from .common import qimage_from_array

NEGATIVE = np.array([33, 102, 172], float)
ZERO = np.array([247, 247, 247], float)
POSITIVE = np.array([178, 24, 43], float)
PADDING_FILL = QColor("#e4e7eb")
PADDING_HATCH = QColor("#b9c0c7")
BLANK_FILL = QColor("#fbfcfd")
WINDOW_COLOUR = QColor("#f2a900")
CHOSEN_COLOUR = QColor("#1b9e3e")
MIN_TEXT_CELL = 26  # pixels: below this, cells show colour only
MAX_CELL = 86


def fmt_cell(value: float) -> str:
    """A cell's number in about five characters: 10, 0.512, −0.062, 12.3, 1.2e+03, −∞."""
    value = float(value)
    if math.isnan(value):
        return "–"
    if math.isinf(value):
        return "∞" if value > 0 else "−∞"
    if value == 0:
        return "0"  # also −0.0, a product with a zero input
    magnitude = abs(value)
    if value == int(value) and magnitude < 10_000:
        text = f"{value:.0f}"
    elif magnitude >= 1000 or magnitude < 0.001:
        text = f"{value:.1e}"
    elif magnitude >= 100:
        text = f"{value:.0f}"
    elif magnitude >= 10:
        text = f"{value:.1f}"
    elif magnitude >= 1:
        text = f"{value:.2f}"
    else:
        text = f"{value:.3f}"
    return text.replace("-", "−")


def colours(values: np.ndarray, scale: float) -> np.ndarray:
    """uint8 RGB (..., 3) blue–white–red for values / scale in [-1, 1] (clipped; not finite: white)."""
    values = np.asarray(values, dtype=np.float64)
    with np.errstate(invalid="ignore"):
        t = np.clip(np.nan_to_num(values / scale if scale > 0 else values * 0, nan=0.0, posinf=0.0, neginf=0.0),
                    -1.0, 1.0)[..., None]
    rgb = np.where(t >= 0, ZERO + (POSITIVE - ZERO) * t, ZERO + (NEGATIVE - ZERO) * (-t))
    return np.rint(rgb).astype(np.uint8)


class ValueGrid(QWidget):
    """See the module docstring. Feed it with ``set_values`` and the ``set_*`` overlays."""

    cellClicked = Signal(int, int)
    cellDoubleClicked = Signal(int, int)
    windowDragged = Signal(float, float)  # new top-left of the window, in (fractional) cells

    def __init__(self, parent: QWidget | None = None, *, max_cell: int = MAX_CELL) -> None:
        super().__init__(parent)
        self.values = np.zeros((0, 0), np.float32)
        self.padding: np.ndarray | None = None
        self.shown: np.ndarray | None = None
        self.texts: Sequence[Sequence[str]] | None = None
        self.scale = 1.0
        self.taps: list[tuple[int, int]] = []
        self.window: tuple[int, int, int, int] | None = None  # row0, col0, row1, col1 (inclusive)
        self.current: tuple[int, int] | None = None
        self.chosen: tuple[int, int] | None = None
        self.tooltip_fn: Callable[[int, int], str] | None = None
        self.max_cell = max_cell
        self._drag: tuple[QPointF, int, int] | None = None  # press point, window origin at press
        self._rgb = None  # the cells' colours (rows, cols, 3), made once per set_values
        self._image = None  # the cells as one picture, for grids too fine for numbers
        self.setMouseTracking(True)
        self.setSizePolicy(QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Expanding)
        self.setMinimumSize(120, 120)

    # ---- data ---------------------------------------------------------------------------
    def set_values(self, values: np.ndarray, *, padding: np.ndarray | None = None, shown: np.ndarray | None = None,
                   texts: Sequence[Sequence[str]] | None = None, scale: float | None = None) -> None:
        """The numbers (colour and text), the padding mask, the revealed mask and custom cell texts."""
        self.values = np.asarray(values, dtype=np.float64)
        self.padding = padding
        self.shown = shown
        self.texts = texts
        finite = self.values[np.isfinite(self.values)] if self.values.size else self.values
        self.scale = float(scale) if scale else (float(np.abs(finite).max()) if finite.size else 1.0) or 1.0
        self._rgb = None
        self._image = None
        self.update()

    def set_shown(self, shown: np.ndarray | None) -> None:
        """Only the revealed mask changed (the output map filling in): the colours are kept."""
        self.shown = shown
        self._image = None
        self.update()

    def set_overlay(self, *, taps: list[tuple[int, int]] | None = None,
                    window: tuple[int, int, int, int] | None = None, current: tuple[int, int] | None = None,
                    chosen: tuple[int, int] | None = None) -> None:
        self.taps = list(taps or [])
        self.window, self.current, self.chosen = window, current, chosen
        self.update()

    # ---- geometry -----------------------------------------------------------------------
    def cell_size(self) -> float:
        rows, cols = self.values.shape if self.values.ndim == 2 else (0, 0)
        if not rows or not cols:
            return 0.0
        return max(2.0, min((self.width() - 2) / cols, (self.height() - 2) / rows, float(self.max_cell)))

    def _origin(self) -> QPointF:
        rows, cols = self.values.shape
        size = self.cell_size()
        return QPointF((self.width() - cols * size) / 2, (self.height() - rows * size) / 2)

    def cell_rect(self, row: float, col: float, rows: float = 1, cols: float = 1) -> QRectF:
        size = self.cell_size()
        origin = self._origin()
        return QRectF(origin.x() + col * size, origin.y() + row * size, cols * size, rows * size)

    def cell_at(self, point: QPointF) -> tuple[float, float] | None:
        """(row, col) as fractional cells under a widget point; None outside the grid."""
        size = self.cell_size()
        if not size:
            return None
        origin = self._origin()
        row, col = (point.y() - origin.y()) / size, (point.x() - origin.x()) / size
        rows, cols = self.values.shape
        return (row, col) if 0 <= row < rows and 0 <= col < cols else None

    def sizeHint(self) -> QSize:
        return QSize(320, 320)

    # ---- painting -----------------------------------------------------------------------
    def paintEvent(self, event) -> None:
        if self.values.ndim != 2 or not self.values.size:
            return
        painter = QPainter(self)
        painter.setRenderHint(QPainter.RenderHint.Antialiasing, False)
        size = self.cell_size()
        if size < MIN_TEXT_CELL:
            self._paint_picture(painter)
        else:
            self._paint_cells(painter, size)
        self._paint_overlay(painter, size)
        painter.end()

    def _paint_picture(self, painter: QPainter) -> None:
        """Cells too small for numbers: one image, drawn scaled without smoothing (any grid size)."""
        if self._image is None:
            if self._rgb is None:
                self._rgb = colours(self.values, self.scale)
            rgb = self._rgb.copy()
            if self.padding is not None:
                rgb[self.padding] = (PADDING_FILL.red(), PADDING_FILL.green(), PADDING_FILL.blue())
            if self.shown is not None:
                rgb[~self.shown] = (BLANK_FILL.red(), BLANK_FILL.green(), BLANK_FILL.blue())
            # RGB32 is the raster engine's own format: scaling it is ~5x cheaper than RGB888.
            self._image = qimage_from_array(rgb).convertToFormat(QImage.Format.Format_RGB32)
        rows, cols = self.values.shape
        painter.drawImage(self.cell_rect(0, 0, rows, cols), self._image)

    def _paint_cells(self, painter: QPainter, size: float) -> None:
        rows, cols = self.values.shape
        painter.setFont(self._cell_font(size))
        hatch = QBrush(PADDING_HATCH, Qt.BrushStyle.BDiagPattern)
        grid_pen = QPen(QColor(255, 255, 255), 1)
        hidden_pen = QPen(QColor("#dde2e7"), 1)
        fills = colours(self.values, self.scale)
        for r in range(rows):
            for c in range(cols):
                rect = self.cell_rect(r, c)
                padded = self.padding is not None and bool(self.padding[r, c])
                hidden = self.shown is not None and not bool(self.shown[r, c])
                value = self.values[r, c]
                if hidden:
                    painter.fillRect(rect, BLANK_FILL)
                elif padded:
                    painter.fillRect(rect, PADDING_FILL)
                    painter.fillRect(rect, hatch)
                else:
                    painter.fillRect(rect, QColor(*(int(v) for v in fills[r, c])))
                painter.setPen(hidden_pen if hidden else grid_pen)
                painter.drawRect(rect)
                if not hidden:
                    text = str(self.texts[r][c]) if self.texts is not None else fmt_cell(value)
                    strong = abs(value) > 0.6 * self.scale and math.isfinite(value) and not padded
                    painter.setPen(QColor("#ffffff") if strong else QColor(MUTED if padded else TEXT))
                    painter.drawText(rect, Qt.AlignmentFlag.AlignCenter, text)

    def _cell_font(self, size: float) -> QFont:
        """The largest font (up to ~30 % of the cell) in which every cell's text fits its cell."""
        if self.texts is not None:
            texts = [str(t) for row in self.texts for t in row]
        else:
            texts = [fmt_cell(v) for v in self.values.ravel()[:4096]]
        lines = max((t.count("\n") + 1 for t in texts), default=1)
        font = QFont(self.font())
        font.setPixelSize(max(7, int(min(size * 0.34, size * 0.7 / lines))))
        widest = max((QFontMetrics(font).horizontalAdvance(line) for t in set(texts) for line in t.split("\n")),
                     default=0)
        if widest > size * 0.74:  # room for the frames drawn inside a cell
            font.setPixelSize(max(7, int(font.pixelSize() * size * 0.74 / widest)))
        return font

    def _paint_overlay(self, painter: QPainter, size: float) -> None:
        painter.setRenderHint(QPainter.RenderHint.Antialiasing, True)
        painter.setBrush(Qt.BrushStyle.NoBrush)
        if self.window is not None:
            r0, c0, r1, c1 = self.window
            painter.setPen(QPen(WINDOW_COLOUR, max(1.5, size * 0.06), Qt.PenStyle.DashLine))
            painter.drawRect(self.cell_rect(r0, c0, r1 - r0 + 1, c1 - c0 + 1))
        if self.taps:
            width = max(2.0, size * 0.09)
            painter.setPen(QPen(WINDOW_COLOUR, width))
            inset = width / 2
            for r, c in self.taps:
                painter.drawRect(self.cell_rect(r, c).adjusted(inset, inset, -inset, -inset))
        if self.chosen is not None:
            width = max(2.5, size * 0.045)
            inset = width
            painter.setPen(QPen(CHOSEN_COLOUR, width))
            painter.drawRoundedRect(self.cell_rect(*self.chosen).adjusted(inset, inset, -inset, -inset),
                                    size * 0.2, size * 0.2)
        if self.current is not None:
            width = max(2.0, size * 0.1)
            rect = self.cell_rect(*self.current)
            grow = max(0.0, (16 - size) / 2)  # a tiny cell gets a marker big enough to find
            painter.setPen(QPen(QColor(SELECTION), width))
            painter.drawRect(rect.adjusted(width / 2 - grow, width / 2 - grow, grow - width / 2, grow - width / 2))

    # ---- mouse --------------------------------------------------------------------------
    def mousePressEvent(self, event: QMouseEvent) -> None:
        if event.button() != Qt.MouseButton.LeftButton:
            return super().mousePressEvent(event)
        hit = self.cell_at(event.position())
        if hit is None:
            return
        row, col = int(hit[0]), int(hit[1])
        if self.window is not None and self.window[0] <= row <= self.window[2] and self.window[1] <= col <= self.window[3]:
            self._drag = (event.position(), self.window[0], self.window[1])
            self.setCursor(Qt.CursorShape.ClosedHandCursor)
        else:
            self.cellClicked.emit(row, col)

    def mouseMoveEvent(self, event: QMouseEvent) -> None:
        if self._drag is not None:
            start, row0, col0 = self._drag
            size = self.cell_size() or 1.0
            delta = event.position() - start
            self.windowDragged.emit(row0 + delta.y() / size, col0 + delta.x() / size)
            return
        hit = self.cell_at(event.position())
        inside = hit is not None and self.window is not None and \
            self.window[0] <= int(hit[0]) <= self.window[2] and self.window[1] <= int(hit[1]) <= self.window[3]
        self.setCursor(Qt.CursorShape.OpenHandCursor if inside else Qt.CursorShape.PointingHandCursor
                       if hit is not None else Qt.CursorShape.ArrowCursor)

    def mouseReleaseEvent(self, event: QMouseEvent) -> None:
        if self._drag is not None:
            self._drag = None
            self.setCursor(Qt.CursorShape.OpenHandCursor)
        super().mouseReleaseEvent(event)

    def mouseDoubleClickEvent(self, event: QMouseEvent) -> None:
        hit = self.cell_at(event.position())
        if hit is not None:
            self.cellDoubleClicked.emit(int(hit[0]), int(hit[1]))

    def event(self, event) -> bool:
        if event.type() == event.Type.ToolTip and self.tooltip_fn is not None:
            hit = self.cell_at(event.position() if hasattr(event, "position") else QPointF(event.pos()))
            text = self.tooltip_fn(int(hit[0]), int(hit[1])) if hit is not None else ""
            if text:
                QToolTip.showText(event.globalPos(), text, self)
            else:
                QToolTip.hideText()
            return True
        return super().event(event)
