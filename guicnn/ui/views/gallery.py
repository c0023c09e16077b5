"""A grid of crisp image thumbnails with captions (a QListWidget in icon mode)."""

from __future__ import annotations

import math
from typing import Sequence

import numpy as np
from PySide6.QtCore import QSize, Qt, Signal
from PySide6.QtGui import QIcon, QPixmap
from PySide6.QtWidgets import QAbstractItemView, QListView, QListWidget, QListWidgetItem, QWidget

from guicnn.ui.views.common import images_to_uint8, qimage_from_array, upscale_nearest

THUMBNAIL_PIXELS = 72  # thumbnails are blown up by a whole factor to about this size


class ImageGallery(QListWidget):
    """Thumbnails of (N, C, H, W) images, scaled up with nearest neighbour so 8×8 digits stay sharp.

    ``set_images(images, captions, indices=None, tooltips=None)``; double-clicking a thumbnail
    emits ``imageActivated(index)`` with the caller's index of that image.
    """

    imageActivated = Signal(int)

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setViewMode(QListView.ViewMode.IconMode)
        self.setResizeMode(QListView.ResizeMode.Adjust)
        self.setMovement(QListView.Movement.Static)
        self.setUniformItemSizes(True)
        self.setWordWrap(True)
        self.setSpacing(4)
        self.setSelectionMode(QAbstractItemView.SelectionMode.SingleSelection)
        self.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        self.itemDoubleClicked.connect(lambda item: self.imageActivated.emit(int(item.data(Qt.ItemDataRole.UserRole))))

    def set_images(self, images: np.ndarray, captions: Sequence[str], indices: Sequence[int] | None = None,
                   tooltips: Sequence[str] | None = None) -> None:
        """Replace the thumbnails; ``indices`` (default 0..N-1) are what ``imageActivated`` reports."""
        images = np.asarray(images)
        self.setUpdatesEnabled(False)
        try:
            self.clear()
            if len(images):
                h, w = images.shape[-2:]
                factor = max(1, math.ceil(THUMBNAIL_PIXELS / max(h, w)))
                pixels = upscale_nearest(images_to_uint8(images), factor)
                icon = QSize(w * factor, h * factor)
                self.setIconSize(icon)
                metrics = self.fontMetrics()
                lines = max((c.count("\n") + 1 for c in captions), default=1)
                widest = max((metrics.horizontalAdvance(line) for c in captions for line in c.split("\n")), default=0)
                width = max(icon.width(), widest) + 14
                cell = QSize(width, icon.height() + 10 + lines * metrics.lineSpacing())
                self.setGridSize(cell)
                indices = range(len(images)) if indices is None else indices
                for i, (picture, caption, index) in enumerate(zip(pixels, captions, indices)):
                    item = QListWidgetItem(QIcon(QPixmap.fromImage(qimage_from_array(picture))), caption)
                    item.setData(Qt.ItemDataRole.UserRole, int(index))
                    item.setSizeHint(cell)  # the caption is laid out in the whole cell, not the icon's width
                    item.setTextAlignment(Qt.AlignmentFlag.AlignHCenter | Qt.AlignmentFlag.AlignTop)
                    if tooltips is not None:
                        item.setToolTip(tooltips[i])
                    self.addItem(item)
        finally:
            self.setUpdatesEnabled(True)

    def captions(self) -> list[str]:
        return [self.item(i).text() for i in range(self.count())]

    def indices(self) -> list[int]:
        return [int(self.item(i).data(Qt.ItemDataRole.UserRole)) for i in range(self.count())]
