"""Look of the application: the light palette, group colours, status colours and number formats."""

from __future__ import annotations

from PySide6.QtCore import QRectF, Qt
from PySide6.QtGui import QColor, QFont, QFontMetrics, QPainter, QPalette, QPixmap
from PySide6.QtWidgets import QApplication

from guicnn.core.model import format_bytes

# One accent colour per palette group, so a card's stripe tells what kind of layer it is.
GROUP_COLOURS = {
    "Convolution": "#2f6fb3",
    "Pooling": "#22867a",
    "Activation": "#c77418",
    "Dense": "#7a4fb0",
    "Regularisation": "#8a6d3b",
    "Shape": "#5b6b7a",
}
FALLBACK_GROUP_COLOUR = "#6b7280"

TEXT = "#1f2933"
MUTED = "#66707a"
BORDER = "#d5dbe1"
CARD = "#ffffff"
WINDOW = "#f3f5f7"
SELECTION = "#2f6fb3"
SELECTION_FILL = "#e8f1fb"
ERROR = "#c62828"
ERROR_FILL = "#fdecea"
WARNING = "#a35f00"
WARNING_BORDER = "#e0a030"
WARNING_FILL = "#fff6e0"
OK = "#2e7d32"
SEES = "#2a5f93"  # the "what does this layer see?" line on the cards
# Layer health (core.health statuses): the badge on the cards and the dead-unit bars.
HEALTH_COLOURS = {"green": "#2e9d4a", "amber": "#e39b16", "red": "#d32f2f"}

MIME_LAYER_TYPE = "application/x-guicnn-layer-type"
MIME_LAYER_INDEX = "application/x-guicnn-layer-index"


def group_colour(group: str) -> QColor:
    return QColor(GROUP_COLOURS.get(group, FALLBACK_GROUP_COLOUR))


def apply_style(app: QApplication) -> None:
    """Fusion with a neutral light palette, whatever the desktop theme is."""
    app.setStyle("Fusion")
    palette = QPalette()
    colours = {
        QPalette.ColorRole.Window: WINDOW,
        QPalette.ColorRole.WindowText: TEXT,
        QPalette.ColorRole.Base: CARD,
        QPalette.ColorRole.AlternateBase: "#f7f9fb",
        QPalette.ColorRole.Text: TEXT,
        QPalette.ColorRole.Button: "#eef1f4",
        QPalette.ColorRole.ButtonText: TEXT,
        QPalette.ColorRole.Highlight: SELECTION,
        QPalette.ColorRole.HighlightedText: "#ffffff",
        QPalette.ColorRole.ToolTipBase: "#fffdf5",
        QPalette.ColorRole.ToolTipText: TEXT,
        QPalette.ColorRole.PlaceholderText: "#9aa3ab",
        QPalette.ColorRole.Link: SELECTION,
    }
    for role, colour in colours.items():
        palette.setColor(role, QColor(colour))
    palette.setColor(QPalette.ColorGroup.Disabled, QPalette.ColorRole.Text, QColor("#9aa3ab"))
    palette.setColor(QPalette.ColorGroup.Disabled, QPalette.ColorRole.WindowText, QColor("#9aa3ab"))
    palette.setColor(QPalette.ColorGroup.Disabled, QPalette.ColorRole.ButtonText, QColor("#9aa3ab"))
    app.setPalette(palette)
    font = app.font()
    if font.pointSizeF() < 10:
        font.setPointSizeF(10)
        app.setFont(font)
    app.setStyleSheet(STYLE_SHEET)


STYLE_SHEET = f"""
QDockWidget::title {{ padding: 5px 8px; background: #e6eaee; font-weight: bold; }}
QToolTip {{ padding: 4px; }}
QLabel[role="caption"] {{ color: {MUTED}; }}
QLabel[role="error"] {{ color: {ERROR}; }}
QLabel[role="heading"] {{ font-weight: bold; }}
QFrame[role="problem"] {{ background: {ERROR_FILL}; border: 1px solid {ERROR}; border-radius: 4px; }}
QFrame[role="warning"] {{ background: {WARNING_FILL}; border: 1px solid {WARNING_BORDER}; border-radius: 4px; }}
QLabel[role="fix-title"] {{ color: {ERROR}; font-weight: bold; }}
QPushButton[role="fix"] {{ border: 1px solid {ERROR}; border-radius: 4px; background: #ffffff; color: {TEXT}; }}
QPushButton[role="fix"]:hover {{ background: {ERROR_FILL}; }}
QPushButton[role="fix"]:pressed {{ background: #f8d7d3; }}
QPushButton[role="fix"]:disabled {{ color: #9aa3ab; border-color: {BORDER}; }}
"""


def small_font(base: QFont, delta: float = -1.0) -> QFont:
    font = QFont(base)
    font.setPointSizeF(max(7.0, base.pointSizeF() + delta))
    return font


def bold_font(base: QFont, delta: float = 0.0) -> QFont:
    font = QFont(base)
    font.setBold(True)
    if delta:
        font.setPointSizeF(base.pointSizeF() + delta)
    return font


def fmt_count(n: int) -> str:
    """61706 -> '61,706'."""
    return f"{n:,}"


def fmt_compact(n: int) -> str:
    """Large counts in a few characters: 416520 -> '417 K', 2300000 -> '2.3 M'."""
    for unit, size in (("G", 1e9), ("M", 1e6), ("K", 1e3)):
        if n >= size:
            value = n / size
            return f"{value:.1f} {unit}" if value < 10 else f"{value:.0f} {unit}"
    return str(n)


fmt_bytes = format_bytes  # memory size: 246824 -> '241.0 KB' (one formatter for core and GUI)


def humanise(key: str) -> str:
    """Config key to a label: 'kernel_size' -> 'Kernel size'."""
    return key.replace("_", " ").capitalize()


_TILES: dict[tuple, QPixmap] = {}


def glyph_pixmap(glyph: str, group: str, size: int, font: QFont, ratio: float = 1.0, fallback: str = "?") -> QPixmap:
    """A rounded tile in the group's colour with the layer's glyph, for the palette and cards (cached)."""
    key = (glyph, group, size, font.key(), ratio, fallback)
    if key not in _TILES:
        _TILES[key] = _make_glyph_pixmap(glyph, group, size, font, ratio, fallback)
    return _TILES[key]


def _make_glyph_pixmap(glyph: str, group: str, size: int, font: QFont, ratio: float, fallback: str) -> QPixmap:
    pixmap = QPixmap(int(size * ratio), int(size * ratio))
    pixmap.setDevicePixelRatio(ratio)
    pixmap.fill(Qt.GlobalColor.transparent)
    painter = QPainter(pixmap)
    paint_glyph_tile(painter, QRectF(0, 0, size, size), glyph, group, font, fallback)
    painter.end()
    return pixmap


def paint_glyph_tile(painter: QPainter, rect: QRectF, glyph: str, group: str, font: QFont,
                     fallback: str = "?") -> None:
    colour = group_colour(group)
    fill = QColor(colour)
    fill.setAlpha(34)
    painter.save()
    painter.setRenderHint(QPainter.RenderHint.Antialiasing)
    painter.setPen(Qt.PenStyle.NoPen)
    painter.setBrush(fill)
    painter.drawRoundedRect(rect.adjusted(0.5, 0.5, -0.5, -0.5), 5, 5)
    glyph_font = QFont(font)
    glyph_font.setPixelSize(max(8, int(rect.height() * 0.58)))
    painter.setFont(glyph_font)
    painter.setPen(colour)
    painter.drawText(rect, Qt.AlignmentFlag.AlignCenter, drawable_glyph(glyph, glyph_font, fallback))
    painter.restore()


_DRAWABLE: dict[tuple[str, str], bool] = {}


def drawable_glyph(glyph: str, font: QFont, fallback: str) -> str:
    """The glyph, or the fallback letter when the font has no such character (no tofu boxes)."""
    key = (glyph, font.family())
    if key not in _DRAWABLE:
        metrics = QFontMetrics(font)
        _DRAWABLE[key] = bool(glyph) and all(metrics.inFontUcs4(ord(char)) for char in glyph)
    return glyph if _DRAWABLE[key] else fallback
