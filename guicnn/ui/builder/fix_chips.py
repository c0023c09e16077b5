"""Fix buttons painted on a red layer card: where they go, how they look (the stack handles clicks)."""

from __future__ import annotations

from PySide6.QtCore import QRect, QRectF, Qt
from PySide6.QtGui import QColor, QFont, QFontMetrics, QPainter, QPainterPath, QPen

from guicnn.ui import style

PAD_X, PAD_Y, GAP = 8, 4, 6
VALID_MARK = "✓"


def chip_text(description: str, makes_valid: bool, layer: int | None = None) -> str:
    """A card's button text: the fix's description without naming the card's own layer again."""
    if layer is not None:
        for own in (f" in layer {layer}", f" to layer {layer}", f" of layer {layer}"):
            description = description.replace(own, "")
    return f"{VALID_MARK} {description}" if makes_valid else f"→ {description}"


def chip_rects(metrics: QFontMetrics, texts: list[str], left: int, top: int, width: int) -> list[QRect]:
    """Chips laid out left to right, wrapping to a new line when the next one does not fit."""
    rects, x, y = [], left, top
    height = metrics.height() + 2 * PAD_Y
    for text in texts:
        chip_w = min(metrics.horizontalAdvance(text) + 2 * PAD_X + 6, width)  # slack: fallback-font glyphs
        if x > left and x + chip_w > left + width:
            x, y = left, y + height + GAP
        rects.append(QRect(x, y, chip_w, height))
        x += chip_w + GAP
    return rects


def chips_height(metrics: QFontMetrics, texts: list[str], width: int) -> int:
    rects = chip_rects(metrics, texts, 0, 0, width)
    return rects[-1].bottom() + 1 + GAP if rects else 0


def paint_chips(painter: QPainter, font: QFont, texts: list[str], rects: list[QRect], hovered: int | None) -> None:
    metrics = QFontMetrics(font)
    painter.save()
    painter.setRenderHint(QPainter.RenderHint.Antialiasing)
    painter.setFont(font)
    for index, (text, rect) in enumerate(zip(texts, rects)):
        path = QPainterPath()
        path.addRoundedRect(QRectF(rect).adjusted(0.5, 0.5, -0.5, -0.5), 4, 4)
        painter.fillPath(path, QColor("#fbd9d5") if index == hovered else QColor("#ffffff"))
        painter.setPen(QPen(QColor(style.ERROR), 1.2))
        painter.drawPath(path)
        painter.setPen(QColor(style.TEXT))
        inner = rect.adjusted(PAD_X, 0, -PAD_X, 0)
        shown = metrics.elidedText(text, Qt.TextElideMode.ElideRight, inner.width())
        painter.drawText(inner, int(Qt.AlignmentFlag.AlignVCenter | Qt.AlignmentFlag.AlignLeft), shown)
    painter.restore()
