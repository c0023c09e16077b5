"""The data panel's pictures: a clickable mosaic of samples with labels, and a class-balance bar strip."""

from __future__ import annotations

from typing import NamedTuple, Sequence

import numpy as np
from PySide6.QtCore import QPoint, QRect, QSize, Qt, Signal
from PySide6.QtGui import QColor, QFont, QFontMetrics, QImage, QMouseEvent, QPainter, QPaintEvent, QPen, QResizeEvent
from PySide6.QtWidgets import QSizePolicy, QToolTip, QWidget

from guicnn.ui import style
from guicnn.ui.views.common import HIGHLIGHT_COLOUR, images_to_uint8, qimage_from_array, tile_mosaic

GAP = 3
MIN_TILE = 20
MAX_TILE = 84


def resample_nearest(tiles: np.ndarray, height: int, width: int) -> np.ndarray:
    """(N, H, W[, 3]) to (N, height, width[, 3]) by nearest neighbour: pixels stay crisp at any size."""
    h, w = tiles.shape[1:3]
    rows = (np.arange(height) * h) // height
    cols = (np.arange(width) * w) // width
    return tiles[:, rows][:, :, cols]


class Layout(NamedTuple):
    """Where the tiles of a PreviewGrid go at one width."""

    columns: int
    count: int  # tiles shown
    tile_h: int
    tile_w: int
    cell_h: int  # tile + label strip + gap
    cell_w: int  # tile + gap
    left: int  # margin that centres the grid once the tiles reach MAX_TILE


class PreviewGrid(QWidget):
    """Samples drawn as one mosaic QImage, a label under each; a click picks a sample.

    The mosaic is rebuilt (vectorised, nearest neighbour) whenever the width changes, so the
    tiles fill the width exactly and 8x8 digits are as sharp as 32x32 pictures. The grid has
    ``rows`` rows and the first of ``column_choices`` under which every label fits its tile
    (fewer, larger tiles for long class names).
    """

    sampleClicked = Signal(int)  # index into the data set

    def __init__(self, rows: int = 6, column_choices: Sequence[int] = (8, 6), parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.rows = rows
        self.column_choices = tuple(column_choices)
        self._pixels = np.zeros((0, 1, 1), dtype=np.uint8)  # (N, H, W[, 3]) uint8
        self._indices: list[int] = []
        self._labels: list[str] = []
        self._label_width = 0
        self._highlight: int | None = None
        self._image: QImage | None = None
        self._image_key: tuple = ()
        self.setSizePolicy(QSizePolicy.Policy.Preferred, QSizePolicy.Policy.Fixed)
        self.setMouseTracking(True)
        self.setCursor(Qt.CursorShape.PointingHandCursor)
        self.setMinimumWidth(max(self.column_choices) * (MIN_TILE + GAP))

    # ---- content -------------------------------------------------------------------------

    def capacity(self) -> int:
        """The most samples the grid can show."""
        return self.rows * max(self.column_choices)

    def set_samples(self, images: np.ndarray, indices: Sequence[int], labels: Sequence[str]) -> None:
        """``images`` (N, C, H, W) in [0, 1]; ``indices`` their places in the data set; ``labels`` their class names."""
        self._pixels = images_to_uint8(images) if len(images) else np.zeros((0, 1, 1), dtype=np.uint8)
        self._indices = [int(i) for i in indices]
        self._labels = [str(s) for s in labels]
        metrics = QFontMetrics(self._label_font())
        self._label_width = max((metrics.horizontalAdvance(s) for s in set(self._labels)), default=0)
        self._image_key = ()
        self._fit_height()
        self.update()

    def clear(self) -> None:
        self.set_samples(np.zeros((0, 1, 1, 1), dtype=np.float32), [], [])

    def shown_indices(self) -> list[int]:
        """Data-set indices of the samples drawn at the current width, in grid order."""
        return self._indices[: self.layout_for(self.width()).count]

    def set_highlight(self, index: int | None) -> None:
        """Frame the tile showing data-set sample ``index`` (if it is shown)."""
        self._highlight = index
        self.update()

    # ---- geometry ------------------------------------------------------------------------

    def _label_font(self) -> QFont:
        return style.small_font(self.font(), -1.0)

    def layout_for(self, width: int) -> Layout:
        label_h = QFontMetrics(self._label_font()).height() + 1
        h, w = self._pixels.shape[1:3]
        for columns in self.column_choices:
            tile_w = max(MIN_TILE, min(MAX_TILE, (width - (columns - 1) * GAP) // columns))
            if self._label_width <= tile_w:
                break
        count = min(len(self._indices), self.rows * columns)
        tile_h = max(1, round(tile_w * h / w))
        left = max(0, (width - (columns * (tile_w + GAP) - GAP)) // 2)
        return Layout(columns, count, tile_h, tile_w, tile_h + label_h + GAP, tile_w + GAP, left)

    def heightForWidth(self, width: int) -> int:
        grid = self.layout_for(width)
        rows = -(-grid.count // grid.columns) or 1
        return rows * grid.cell_h - GAP

    def sizeHint(self) -> QSize:
        width = max(self.column_choices) * (44 + GAP) - GAP
        return QSize(width, self.heightForWidth(width))

    def resizeEvent(self, event: QResizeEvent) -> None:
        super().resizeEvent(event)
        self._fit_height()

    def _fit_height(self) -> None:
        """The height follows the width (square-ish tiles), so the layout never squeezes the grid."""
        height = self.heightForWidth(max(self.width(), 1))
        if self.height() != height or self.minimumHeight() != height:
            self.setFixedHeight(height)

    def tile_rect(self, position: int) -> QRect:
        """Where the ``position``-th shown sample is drawn (its picture, without the label)."""
        grid = self.layout_for(self.width())
        row, col = divmod(position, grid.columns)
        return QRect(grid.left + col * grid.cell_w, row * grid.cell_h, grid.tile_w, grid.tile_h)

    def position_at(self, point: QPoint) -> int | None:
        """Which shown sample (0-based position in the grid) is under ``point``, if any."""
        grid = self.layout_for(self.width())
        x, y = point.x() - grid.left, point.y()
        if x < 0 or y < 0:
            return None
        row, col = y // grid.cell_h, x // grid.cell_w
        if col >= grid.columns or x - col * grid.cell_w >= grid.tile_w or y - row * grid.cell_h >= grid.cell_h - GAP:
            return None
        position = row * grid.columns + col
        return position if position < grid.count else None

    # ---- drawing -------------------------------------------------------------------------

    def _mosaic(self, grid: Layout) -> QImage | None:
        """The whole grid as one RGB image: tiles resampled, a label strip under each, gaps between."""
        if grid.count == 0:
            return None
        dpr = self.devicePixelRatioF()
        key = (grid, dpr)
        if self._image is not None and self._image_key == key:
            return self._image
        pixels = self._pixels[: grid.count]
        if pixels.ndim == 3:
            pixels = np.repeat(pixels[..., None], 3, axis=3)
        tiles = resample_nearest(pixels, round(grid.tile_h * dpr), round(grid.tile_w * dpr))
        n, th, tw = tiles.shape[:3]
        strip = round((grid.cell_h - grid.tile_h - GAP) * dpr)  # the label is painted over this background
        gap = round(GAP * dpr)
        cells = np.zeros((n, th + strip, tw, 3), np.uint8)
        cells[:, :th] = tiles
        inside = np.zeros((n, th + strip, tw), bool)
        inside[:, :th] = True
        mosaic = tile_mosaic(cells, grid.columns, gap=gap, fill=0)
        mosaic[~tile_mosaic(inside, grid.columns, gap=gap, fill=False)] = QColor(style.WINDOW).getRgb()[:3]
        image = qimage_from_array(mosaic)
        image.setDevicePixelRatio(dpr)
        self._image, self._image_key = image, key
        return image

    def mosaic_array(self) -> np.ndarray:
        """The drawn mosaic as an (H, W, 3) uint8 array (for tests)."""
        image = self._mosaic(self.layout_for(self.width()))
        if image is None:
            return np.zeros((0, 0, 3), np.uint8)
        image = image.convertToFormat(QImage.Format.Format_RGB888)
        rows = np.frombuffer(image.constBits(), np.uint8, image.sizeInBytes()).reshape(image.height(), -1)
        return rows[:, : image.width() * 3].reshape(image.height(), image.width(), 3).copy()

    def paintEvent(self, event: QPaintEvent) -> None:
        grid = self.layout_for(self.width())
        image = self._mosaic(grid)
        if image is None:
            return
        painter = QPainter(self)
        painter.drawImage(QPoint(grid.left, 0), image)
        painter.setFont(self._label_font())
        painter.setPen(QColor(style.TEXT))
        metrics = painter.fontMetrics()
        for position, label in enumerate(self._labels[: grid.count]):
            rect = self.tile_rect(position)
            text_rect = QRect(rect.left() - GAP, rect.bottom() + 1, rect.width() + 2 * GAP, metrics.height() + 1)
            text = metrics.elidedText(label, Qt.TextElideMode.ElideRight, text_rect.width())
            painter.drawText(text_rect, Qt.AlignmentFlag.AlignHCenter | Qt.AlignmentFlag.AlignTop, text)
        shown = self._indices[: grid.count]
        if self._highlight in shown:
            rect = self.tile_rect(shown.index(self._highlight)).adjusted(-1, -1, 0, 0)
            painter.setPen(QPen(QColor(HIGHLIGHT_COLOUR), 3))
            painter.setBrush(Qt.BrushStyle.NoBrush)
            painter.drawRect(rect)
        painter.end()

    # ---- mouse ---------------------------------------------------------------------------

    def mousePressEvent(self, event: QMouseEvent) -> None:
        position = self.position_at(event.position().toPoint())
        if event.button() == Qt.MouseButton.LeftButton and position is not None:
            self.sampleClicked.emit(self._indices[position])
            event.accept()
            return
        super().mousePressEvent(event)

    def mouseMoveEvent(self, event: QMouseEvent) -> None:
        position = self.position_at(event.position().toPoint())
        if position is None:
            QToolTip.hideText()
        else:
            text = f"sample {self._indices[position]:,} · {self._labels[position]}\nclick to use it as the probe image"
            QToolTip.showText(event.globalPosition().toPoint(), text, self)
        super().mouseMoveEvent(event)


class BalanceBars(QWidget):
    """One thin bar per class, height proportional to its sample count; hover names the class."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self._counts = np.zeros(0, dtype=np.int64)
        self._names: list[str] = []
        self.setMinimumHeight(28)
        self.setMaximumHeight(28)
        self.setMouseTracking(True)
        self.setSizePolicy(QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Fixed)

    def set_counts(self, counts: np.ndarray, names: Sequence[str]) -> None:
        self._counts = np.asarray(counts, dtype=np.int64)
        self._names = [str(n) for n in names]
        self.update()

    def sizeHint(self) -> QSize:
        return QSize(160, 28)

    def _bar_at(self, x: float) -> int | None:
        n = len(self._counts)
        if n == 0 or not 0 <= x < self.width():
            return None
        return min(n - 1, int(x * n / self.width()))

    def paintEvent(self, event: QPaintEvent) -> None:
        n = len(self._counts)
        if n == 0:
            return
        painter = QPainter(self)
        peak = max(int(self._counts.max()), 1)
        width = self.width() / n
        gap = 1 if width >= 4 else 0
        h = self.height() - 1
        painter.setPen(Qt.PenStyle.NoPen)
        painter.setBrush(QColor("#5b8fc7"))
        for i, count in enumerate(self._counts.tolist()):
            bar_h = max(1, round(h * count / peak)) if count else 0
            x0, x1 = round(i * width), round((i + 1) * width) - gap
            painter.drawRect(x0, h - bar_h, max(1, x1 - x0), bar_h)
        painter.setPen(QColor(style.BORDER))
        painter.drawLine(0, h, self.width(), h)
        painter.end()

    def mouseMoveEvent(self, event: QMouseEvent) -> None:
        i = self._bar_at(event.position().x())
        if i is None:
            QToolTip.hideText()
        else:
            name = self._names[i] if i < len(self._names) else str(i)
            QToolTip.showText(event.globalPosition().toPoint(), f"class {i} · {name}: {int(self._counts[i]):,} samples",
                              self)
        super().mouseMoveEvent(event)
