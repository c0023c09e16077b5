"""How a layer card looks: geometry shared by the stack and the input card, and the painter."""

from __future__ import annotations

from typing import TYPE_CHECKING

from PySide6.QtCore import QModelIndex, QRect, QRectF, QSize, Qt
from PySide6.QtGui import QColor, QFontMetrics, QPainter, QPainterPath, QPen
from PySide6.QtWidgets import QStyle, QStyledItemDelegate, QStyleOptionViewItem, QWidget

from guicnn.ui import style
from guicnn.ui.builder.cards import Card
from guicnn.ui.builder.fix_chips import chip_rects, chips_height, paint_chips

if TYPE_CHECKING:
    from guicnn.ui.builder.layer_stack import LayerStackView

CARD_ROLE = Qt.ItemDataRole.UserRole + 1
INPUT_ROW = 0
MAX_CARD_WIDTH = 720
SIDE_MARGIN = 12
GAP = 18  # room above each layer card for the connector arrow
PAD = 8
TILE = 32


def card_rect(row_rect: QRect, top_gap: int) -> QRect:
    """The card inside its row: centred, at most MAX_CARD_WIDTH wide, below the connector gap."""
    width = min(row_rect.width() - 2 * SIDE_MARGIN, MAX_CARD_WIDTH)
    left = row_rect.left() + max(SIDE_MARGIN, (row_rect.width() - width) // 2)
    return QRect(left, row_rect.top() + top_gap, width, row_rect.height() - top_gap)


class CardDelegate(QStyledItemDelegate):
    """Paints a layer card: group stripe, glyph tile, card text, output shape, params, problems."""

    def __init__(self, view: LayerStackView) -> None:
        super().__init__(view)
        self.view = view
        self._heights: dict[tuple, int] = {}

    # ---- geometry ---------------------------------------------------------------------------
    def sizeHint(self, option: QStyleOptionViewItem, index: QModelIndex) -> QSize:
        width = self.view.viewport().width()
        if index.row() == INPUT_ROW:
            return QSize(width, self.view.input_card.sizeHint().height())
        card = index.data(CARD_ROLE)
        base = self._base_height()
        messages = self._messages_height(card, card_rect(QRect(0, 0, width, 100), GAP).width())
        return QSize(width, GAP + base + messages)

    def _base_height(self) -> int:
        fonts = self.view.fonts
        return PAD + max(TILE, fonts.title_metrics.height() + 2 + fonts.small_metrics.height()) + PAD

    def _message_width(self, card_width: int) -> int:
        return card_width - (PAD + TILE + 12) - PAD

    def _messages_height(self, card: Card, card_width: int) -> int:
        key = (card.error, card.warnings, card.sees, card.fixes, card_width)
        height = self._heights.get(key)
        if height is None:  # measuring wrapped text is the costly part of a relayout: once per text
            if len(self._heights) > 2048:
                self._heights.clear()
            height = self._heights[key] = self._measure_messages(card, card_width)
        return height

    def _measure_messages(self, card: Card, card_width: int) -> int:
        texts = self._messages(card)
        if not texts and not card.fixes:
            return 0
        metrics = self.view.fonts.small_metrics
        width = max(80, self._message_width(card_width))
        flags = int(Qt.TextFlag.TextWordWrap)
        height = sum(metrics.boundingRect(QRect(0, 0, width, 10_000), flags, text).height() + 3
                     for _, text in texts) + 4
        return height + chips_height(metrics, list(card.fixes), width)

    @staticmethod
    def _messages(card: Card) -> list[tuple[str, str]]:
        texts = [(style.ERROR, f"✖ {card.error}")] if card.error else []
        texts += [(style.WARNING, f"⚠ {w}") for w in card.warnings]
        return texts + ([(style.SEES, f"◎ {card.sees}")] if card.sees else [])

    def fix_rects(self, rect: QRect, card: Card) -> list[QRect]:
        """Where the card's fix buttons are (for painting and for clicks)."""
        if not card.fixes:
            return []
        fonts = self.view.fonts
        width = max(80, self._message_width(rect.width()))
        flags = int(Qt.TextFlag.TextWordWrap)
        y = rect.top() + self._base_height() - 2
        y += sum(fonts.small_metrics.boundingRect(QRect(0, 0, width, 10_000), flags, text).height() + 3
                 for _, text in self._messages(card)) + 2
        return chip_rects(fonts.small_metrics, list(card.fixes), self._text_left(rect), y, width)

    def figure_rects(self, rect: QRect, card: Card) -> dict[str, QRect]:
        """Where the output shape and the parameter count are drawn (their tooltips explain them)."""
        fonts = self.view.fonts
        right = rect.right() - PAD - 2
        title_h, small_h = fonts.title_metrics.height(), fonts.small_metrics.height()
        top = rect.top() + PAD + max(0, (TILE - title_h - 2 - small_h) // 2)
        side_w = self._side_width(card)
        return {"output": QRect(right - side_w, top, side_w, title_h),
                "parameters": QRect(right - side_w, top + title_h + 2, side_w, small_h)}

    def _side_width(self, card: Card) -> int:
        fonts = self.view.fonts
        shape_w = max(fonts.title_metrics.horizontalAdvance(card.shape), 70)
        params_w = fonts.small_metrics.horizontalAdvance(card.params)
        return max(shape_w, params_w) + 8

    @staticmethod
    def _text_left(rect: QRect) -> int:
        return int(rect.left() + PAD + 2 + TILE) + 10

    # ---- painting ---------------------------------------------------------------------------
    def paint(self, painter: QPainter, option: QStyleOptionViewItem, index: QModelIndex) -> None:
        card = index.data(CARD_ROLE)
        if card is None:
            return
        painter.save()
        painter.setRenderHint(QPainter.RenderHint.Antialiasing)
        rect = card_rect(option.rect, GAP)
        self._paint_connector(painter, rect)
        selected = bool(option.state & QStyle.StateFlag.State_Selected)
        hovered = bool(option.state & QStyle.StateFlag.State_MouseOver)
        self._paint_frame(painter, rect, card, selected, hovered)
        self._paint_text(painter, rect, card)
        painter.restore()

    def _paint_connector(self, painter: QPainter, rect: QRect) -> None:
        x = rect.left() + PAD + TILE / 2
        top, bottom = rect.top() - GAP + 1, rect.top() - 1
        painter.setPen(QPen(QColor("#a7b1bb"), 1.5))
        painter.drawLine(int(x), top, int(x), bottom - 3)
        head = QPainterPath()
        head.moveTo(x - 4, bottom - 5)
        head.lineTo(x + 4, bottom - 5)
        head.lineTo(x, bottom)
        head.closeSubpath()
        painter.fillPath(head, QColor("#a7b1bb"))

    def _paint_frame(self, painter: QPainter, rect: QRect, card: Card, selected: bool, hovered: bool) -> None:
        fill, border, width = QColor(style.CARD), QColor(style.BORDER), 1.0
        if card.error:
            fill, border, width = QColor(style.ERROR_FILL), QColor(style.ERROR), 1.6
        elif card.warnings:
            fill, border, width = QColor(style.WARNING_FILL), QColor(style.WARNING_BORDER), 1.4
        elif hovered:
            border = QColor("#aab6c2")
        if selected:
            # Selection is a blue halo, so a selected card still shows its red or amber state.
            painter.setPen(QPen(QColor(style.SELECTION), 2.5))
            painter.setBrush(Qt.BrushStyle.NoBrush)
            painter.drawRoundedRect(QRectF(rect).adjusted(-2.5, -2.5, 2.5, 2.5), 8, 8)
            if not card.error and not card.warnings:
                fill, border = QColor(style.SELECTION_FILL), QColor(style.SELECTION)
        frame = QRectF(rect).adjusted(width / 2, width / 2, -width / 2, -width / 2)
        path = QPainterPath()
        path.addRoundedRect(frame, 6, 6)
        painter.fillPath(path, fill)
        painter.save()
        painter.setClipPath(path)
        painter.fillRect(QRectF(frame.left(), frame.top(), 4, frame.height()), style.group_colour(card.group))
        painter.restore()
        painter.setPen(QPen(border, width))
        painter.drawPath(path)

    def _paint_text(self, painter: QPainter, rect: QRect, card: Card) -> None:
        fonts = self.view.fonts
        tile = QRectF(rect.left() + PAD + 2, rect.top() + PAD, TILE, TILE)
        ratio = painter.device().devicePixelRatioF()
        pixmap = style.glyph_pixmap(card.glyph, card.group, TILE, fonts.base, ratio, card.type_name[:1])
        painter.drawPixmap(tile.topLeft(), pixmap)
        left = int(tile.right()) + 10
        right = rect.right() - PAD - 2
        title_h, small_h = fonts.title_metrics.height(), fonts.small_metrics.height()
        top = rect.top() + PAD + max(0, (TILE - title_h - 2 - small_h) // 2)
        side_w = self._side_width(card)
        # Title and subtitle on the left, output shape and parameter count on the right.
        painter.setFont(fonts.title)
        painter.setPen(QColor(style.TEXT))
        title = fonts.title_metrics.elidedText(card.title, Qt.TextElideMode.ElideRight, right - left - side_w)
        painter.drawText(QRect(left, top, right - left - side_w, title_h), Qt.AlignmentFlag.AlignLeft, title)
        painter.setPen(QColor(style.ERROR) if card.error else QColor(style.TEXT))
        painter.drawText(QRect(right - side_w, top, side_w, title_h), Qt.AlignmentFlag.AlignRight, card.shape)
        painter.setFont(fonts.small)
        painter.setPen(QColor(style.MUTED))
        painter.drawText(QRect(left, top + title_h + 2, right - left - side_w, small_h), Qt.AlignmentFlag.AlignLeft,
                         card.subtitle)
        painter.drawText(QRect(right - side_w, top + title_h + 2, side_w, small_h), Qt.AlignmentFlag.AlignRight,
                         card.params)
        if card.health is not None:
            x = left + fonts.small_metrics.horizontalAdvance(card.subtitle) + 10
            self._paint_health_badge(painter, card, x, top + title_h + 2, right - side_w - x)
        self._paint_messages(painter, rect, card, left)
        if card.fixes:
            hovered = self.view.hovered_fix[1] if self.view.hovered_fix[0] == card.index else None
            paint_chips(painter, fonts.small, list(card.fixes), self.fix_rects(rect, card), hovered)

    def _paint_health_badge(self, painter: QPainter, card: Card, x: int, y: int, room: int) -> None:
        """A pill in the status colour with the deciding figure ("42% dead"); its meaning is in the tooltip."""
        fonts = self.view.fonts
        font = style.bold_font(fonts.small)
        metrics = QFontMetrics(font)
        text = f"● {card.health.badge}"
        width = metrics.horizontalAdvance(text) + 12
        if width > room:  # a narrow card: the dot alone
            text, width = "●", metrics.horizontalAdvance("●") + 12
            if width > room:
                return
        height = fonts.small_metrics.height() + 2
        pill = QRectF(x, y - 1, width, height)
        path = QPainterPath()
        path.addRoundedRect(pill, height / 2, height / 2)
        painter.fillPath(path, QColor(style.HEALTH_COLOURS[card.health.status]))
        painter.setFont(font)
        painter.setPen(QColor("#ffffff"))
        painter.drawText(pill, Qt.AlignmentFlag.AlignCenter, text)

    def _paint_messages(self, painter: QPainter, rect: QRect, card: Card, left: int) -> None:
        fonts = self.view.fonts
        y = rect.top() + self._base_height() - 2
        width = max(80, self._message_width(rect.width()))
        flags = int(Qt.TextFlag.TextWordWrap)
        painter.setFont(fonts.small)
        for colour, text in self._messages(card):
            height = fonts.small_metrics.boundingRect(QRect(0, 0, width, 10_000), flags, text).height()
            painter.setPen(QColor(colour))
            painter.drawText(QRect(left, y, width, height), flags, text)
            y += height + 3


class CardFonts:
    """Fonts (and metrics) shared by the delegate and drag pixmaps, made once per view."""

    def __init__(self, widget: QWidget) -> None:
        self.base = widget.font()
        self.title = style.bold_font(self.base)
        self.small = style.small_font(self.base)
        self.title_metrics = QFontMetrics(self.title)
        self.small_metrics = QFontMetrics(self.small)


