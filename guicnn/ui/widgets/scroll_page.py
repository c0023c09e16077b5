"""A page that scrolls rather than push the window's panels aside."""

from __future__ import annotations

from PySide6.QtCore import Qt
from PySide6.QtWidgets import QFrame, QScrollArea, QWidget


class ScrollPage(QScrollArea):
    """Holds one page (a tab of the centre): the page gets the whole viewport, and scroll bars
    appear only when the viewport is smaller than the page's minimum size. Without it, the
    widest page's minimum width becomes the centre's, and a small window squeezes the side
    panels until their names are cut ("Con", "Max")."""

    def __init__(self, page: QWidget, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setWidget(page)
        self.setWidgetResizable(True)
        self.setFrameShape(QFrame.Shape.NoFrame)
        self.setHorizontalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAsNeeded)
        self.setVerticalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAsNeeded)

    def page(self) -> QWidget:
        return self.widget()
