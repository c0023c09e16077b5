"""A one-line label that elides instead of growing its panel."""

from __future__ import annotations

from PySide6.QtCore import QSize, Qt
from PySide6.QtGui import QPainter
from PySide6.QtWidgets import QSizePolicy, QToolTip, QWidget


class ElidedLabel(QWidget):
    """One line of text, elided to fit, with the full text as tooltip when it is cut.

    A QLabel asks its layout to re-measure on every new text, which repaints its whole
    panel, and a long text widens the window. This label keeps a fixed size hint (so a new
    value repaints only itself) unless ``fit_text`` asks it to want room for its text, up to
    ``max_width`` — for rare, long messages in the status bar.
    """

    def __init__(self, parent: QWidget | None = None, *, fit_text: bool = False, max_width: int = 600,
                 auto_tooltip: bool = True) -> None:
        super().__init__(parent)
        self._text = ""
        self._fit_text = fit_text
        self._max_width = max_width
        self._auto_tooltip = auto_tooltip
        self.setSizePolicy(QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Fixed)

    def text(self) -> str:
        return self._text

    def setText(self, text: str) -> None:  # noqa: N802 (QLabel's name, so callers read alike)
        if text == self._text:
            return
        self._text = text
        if self._fit_text:
            self.updateGeometry()
        self._update_tooltip()
        self.update()

    def clear(self) -> None:
        self.setText("")

    def set_max_width(self, width: int) -> None:
        """The most room a ``fit_text`` label asks for."""
        if width != self._max_width:
            self._max_width = width
            self.updateGeometry()

    def is_cut(self) -> bool:
        """Whether the text is longer than the label shows (it then ends in "…")."""
        return self.fontMetrics().horizontalAdvance(self._text) > self.width()

    def mousePressEvent(self, event) -> None:
        """A click shows the whole text at once (hovering does too, after a moment)."""
        whole = self.toolTip() or self._text
        if whole:
            QToolTip.showText(event.globalPosition().toPoint(), whole, self)
        super().mousePressEvent(event)

    def sizeHint(self) -> QSize:
        width = self.fontMetrics().horizontalAdvance(self._text) + 4 if self._fit_text else 120
        return QSize(min(width, self._max_width), self.fontMetrics().height() + 2)

    def minimumSizeHint(self) -> QSize:
        return QSize(0, self.fontMetrics().height() + 2)

    def resizeEvent(self, event) -> None:
        self._update_tooltip()
        super().resizeEvent(event)

    def paintEvent(self, event) -> None:
        painter = QPainter(self)
        painter.setPen(self.palette().color(self.foregroundRole()))
        shown = self.fontMetrics().elidedText(self._text, Qt.TextElideMode.ElideRight, self.width())
        painter.drawText(self.rect(), int(Qt.AlignmentFlag.AlignLeft | Qt.AlignmentFlag.AlignVCenter), shown)

    def _update_tooltip(self) -> None:
        if self._auto_tooltip:
            self.setToolTip(self._text if self.is_cut() else "")
