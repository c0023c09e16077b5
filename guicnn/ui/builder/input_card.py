"""The input card at the top of the stack: the input shape as spin boxes."""

from __future__ import annotations

from PySide6.QtCore import QRectF, Qt
from PySide6.QtGui import QColor, QPainter, QPainterPath, QPen
from PySide6.QtWidgets import QFrame, QHBoxLayout, QLabel, QSpinBox, QVBoxLayout, QWidget

from guicnn.core.layers.common import fmt_shape
from guicnn.ui import style
from guicnn.ui.builder.card_view import PAD, TILE, card_rect
from guicnn.ui.builder.document import NO_LAYER, DesignDocument
from guicnn.ui.widgets.fix_buttons import FixButtons


class InputCard(QFrame):
    """The top card: the input shape as channels × height × width spin boxes."""

    def __init__(self, document: DesignDocument, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.document = document
        self.setAutoFillBackground(False)
        self.setCursor(Qt.CursorShape.PointingHandCursor)
        self.tile = QLabel()
        self.title = QLabel("Input")
        self.title.setFont(style.bold_font(self.font()))
        self.subtitle = QLabel()
        self.subtitle.setProperty("role", "caption")
        self.subtitle.setFont(style.small_font(self.font()))
        self.error = QLabel()
        self.error.setProperty("role", "error")
        self.error.setWordWrap(True)
        self.error.setFont(style.small_font(self.font()))
        self.error.hide()
        self.spins: list[QSpinBox] = []
        self.spin_row = QHBoxLayout()
        self.spin_row.setSpacing(4)
        text = QVBoxLayout()
        text.setSpacing(2)
        text.addWidget(self.title)
        text.addWidget(self.subtitle)
        head = QHBoxLayout()
        head.setSpacing(10)
        head.addWidget(self.tile, 0, Qt.AlignmentFlag.AlignTop)
        head.addLayout(text, 1)
        head.addLayout(self.spin_row)
        self.fix_buttons = FixButtons()
        self.fix_buttons.fixChosen.connect(document.apply_fix)
        self.outer = QVBoxLayout(self)
        self.outer.addLayout(head)
        self.outer.addWidget(self.error)
        self.outer.addWidget(self.fix_buttons)
        self._fit_margins()
        self.tile.setPixmap(style.glyph_pixmap("⊡", "Shape", TILE, self.font(), self.devicePixelRatioF()))
        self.selected = False

    def _fit_margins(self) -> None:
        """Keep the contents inside the painted card, which is centred like the layer cards."""
        card = card_rect(self.rect(), 6)
        self.outer.setContentsMargins(card.left() + PAD + 2, 6 + PAD, self.width() - card.right() + PAD, PAD + 4)

    def resizeEvent(self, event) -> None:
        self._fit_margins()
        super().resizeEvent(event)

    def refresh(self) -> None:
        shape = self.document.config.get("input_shape")
        dims = list(shape) if isinstance(shape, list) else []
        if len(self.spins) != len(dims):
            self._make_spins(len(dims))
        for spin, value in zip(self.spins, dims):
            spin.blockSignals(True)
            spin.setValue(int(value) if isinstance(value, int) else 1)
            spin.blockSignals(False)
        names = "channels × height × width" if len(dims) == 3 else "features"
        self.subtitle.setText(f"{names} · {fmt_shape(tuple(dims)) if dims else '?'}")
        self.show_error(self.document.analysis.input_error)
        fixes = self.document.fixes.get(None, []) if self.document.analysis.input_error else []
        self.fix_buttons.set_fixes(fixes, [self.document.fix_makes_valid(f) for f in fixes])
        self.selected = self.document.current == NO_LAYER
        self.update()

    def show_error(self, text: str | None) -> None:
        self.error.setText(f"✖ {text}" if text else "")
        self.error.setVisible(bool(text))

    def _make_spins(self, count: int) -> None:
        while self.spin_row.count():
            item = self.spin_row.takeAt(0)
            if item.widget():
                item.widget().deleteLater()
        self.spins = []
        tips = ("channels (1 grey, 3 colour)", "height in pixels", "width in pixels") if count == 3 else ("features",)
        for i, tip in enumerate(tips):
            if i:
                self.spin_row.addWidget(QLabel("×"))
            spin = QSpinBox()
            spin.setRange(1, 100_000)
            spin.setFixedWidth(spin.fontMetrics().horizontalAdvance("00000") + 36)
            spin.setKeyboardTracking(False)
            spin.setToolTip(tip)
            spin.setAccessibleName(tip)
            spin.valueChanged.connect(self._commit)
            self.spin_row.addWidget(spin)
            self.spins.append(spin)

    def _commit(self) -> None:
        reason = self.document.set_input_shape([spin.value() for spin in self.spins])
        if reason:
            self.refresh()
            self.show_error(reason)

    def mousePressEvent(self, event) -> None:
        self.document.set_current(NO_LAYER)
        super().mousePressEvent(event)

    def paintEvent(self, event) -> None:
        painter = QPainter(self)
        painter.setRenderHint(QPainter.RenderHint.Antialiasing)
        rect = card_rect(self.rect(), 6).adjusted(0, 0, 0, -4)
        error = bool(self.document.analysis.input_error)
        border = QColor(style.ERROR if error else (style.SELECTION if self.selected else style.BORDER))
        width = 1.6 if error else 1.0
        fill = QColor(style.ERROR_FILL if error else (style.SELECTION_FILL if self.selected else "#fafbfc"))
        if self.selected:
            painter.setPen(QPen(QColor(style.SELECTION), 2.5))
            painter.drawRoundedRect(QRectF(rect).adjusted(-2.5, -2.5, 2.5, 2.5), 8, 8)
        frame = QRectF(rect).adjusted(width / 2, width / 2, -width / 2, -width / 2)
        path = QPainterPath()
        path.addRoundedRect(frame, 6, 6)
        painter.fillPath(path, fill)
        painter.setPen(QPen(border, width))
        painter.drawPath(path)
