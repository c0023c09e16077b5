"""Drawing a unit's receptive field (computed by ``guicnn.core.receptive``) over maps and the probe image.

Outside the window everything is darkened; inside its bounding box, positions the unit does
not read (dilation gaps, strides longer than the window) are tinted orange, so gaps show as
gaps; the positions it reads stay as they are. An orange outline marks the bounding box.
"""

from __future__ import annotations

import numpy as np
import pyqtgraph as pg
from PySide6.QtCore import QRectF, Qt
from PySide6.QtGui import QColor, QImage, QPainter, QPainterPath, QPen, QPixmap
from PySide6.QtWidgets import QGraphicsPathItem

from guicnn.core.receptive import MapWindow
from guicnn.ui.views.common import HIGHLIGHT_COLOUR, MosaicLayout, qimage_from_array, tile_mosaic, upscale_nearest

DIMMED = (16, 20, 26, 190)  # outside the window
GAP = (236, 132, 40, 150)  # inside the box, not read
UNIT = (255, 255, 255, 0)


def window_rgba(window: MapWindow, dim_outside: bool = True) -> np.ndarray:
    """(H, W, 4) uint8 overlay of one map: darkened outside, tinted gaps, clear where the unit reads."""
    h, w = window.shape[1:]
    rgba = np.zeros((h, w, 4), np.uint8)
    if dim_outside:
        rgba[...] = DIMMED
    r0, r1, c0, c1 = window.box
    rgba[r0:r1, c0:c1] = GAP
    rgba[window.mask()] = UNIT
    return rgba


def box_path(layout: MosaicLayout, box: tuple[int, int, int, int]) -> QPainterPath:
    """The window's bounding box in every tile of a mosaic (mosaic pixel coordinates)."""
    path = QPainterPath()
    r0, r1, c0, c1 = box
    if r1 <= r0 or c1 <= c0:
        return path
    s = layout.scale
    for index in range(layout.count):
        x, y, _, _ = layout.rect(index)
        path.addRect(QRectF(x + c0 * s, y + r0 * s, (c1 - c0) * s, (r1 - r0) * s))
    return path


class MosaicOverlay:
    """The receptive-field overlay of one mosaic in a ViewBox; its items are made once and updated."""

    def __init__(self, view_box: pg.ViewBox, z: float = 6.0) -> None:
        self.image = pg.ImageItem()
        self.image.setZValue(z)
        view_box.addItem(self.image, ignoreBounds=True)
        self.outline = QGraphicsPathItem()
        pen = QPen(QColor(HIGHLIGHT_COLOUR), 2.5)
        pen.setCosmetic(True)
        pen.setJoinStyle(Qt.PenJoinStyle.MiterJoin)
        self.outline.setPen(pen)
        self.outline.setZValue(z + 1)
        view_box.addItem(self.outline, ignoreBounds=True)
        self.window: MapWindow | None = None  # what is drawn (for tests and captions)
        self.clear()

    def show(self, window: MapWindow, layout: MosaicLayout, dim_outside: bool = True) -> None:
        """Draw ``window`` on each of the first ``layout.count`` tiles (every channel has the same window)."""
        if layout.count == 0:
            self.clear()
            return
        tile = upscale_nearest(window_rgba(window, dim_outside)[None], layout.scale)
        mosaic = tile_mosaic(np.repeat(tile, layout.count, axis=0), layout.cols, gap=layout.gap, fill=0)
        self.image.setImage(mosaic, autoLevels=False, levels=(0, 255))
        self.image.setVisible(True)
        self.outline.setPath(box_path(layout, window.box))
        self.outline.setVisible(True)
        self.window = window

    def clear(self) -> None:
        self.image.setVisible(False)
        self.outline.setPath(QPainterPath())
        self.outline.setVisible(False)
        self.window = None


def probe_pixmap(picture: np.ndarray, window: MapWindow | None, side: int) -> QPixmap:
    """The probe image (uint8 (H, W) or (H, W, 3)) blown up to ``side`` pixels, with the window drawn on it."""
    rgb = picture if picture.ndim == 3 else np.repeat(picture[:, :, None], 3, axis=2)
    h, w = rgb.shape[:2]
    if window is not None:
        overlay = window_rgba(window)
        alpha = overlay[:, :, 3:4].astype(np.float32) / 255.0
        rgb = np.rint(rgb * (1.0 - alpha) + overlay[:, :, :3] * alpha).astype(np.uint8)
    scale = max(1, side // max(h, w))
    image: QImage = qimage_from_array(np.repeat(np.repeat(rgb, scale, axis=0), scale, axis=1))
    pixmap = QPixmap.fromImage(image)
    if window is not None:
        r0, r1, c0, c1 = window.box
        if r1 > r0 and c1 > c0:
            painter = QPainter(pixmap)
            pen = QPen(QColor(HIGHLIGHT_COLOUR), max(2.0, scale / 4))
            pen.setJoinStyle(Qt.PenJoinStyle.MiterJoin)
            painter.setPen(pen)
            width = pen.widthF()
            painter.drawRect(QRectF(c0 * scale + width / 2, r0 * scale + width / 2,
                                    (c1 - c0) * scale - width, (r1 - r0) * scale - width))
            painter.end()
    return pixmap
