"""Right-click "Save image as PNG…", "Save image as SVG…" and "Copy to clipboard" for any plot.

Every view calls ``add_image_menu(widget, "file-stem")`` on the widgets it draws in. PNG is
rendered at twice the screen resolution; SVG keeps lines, bars and text as vectors (images
such as feature maps are embedded as pixels). Both go through Qt's painter, which draws
pyqtgraph scenes exactly as shown (pyqtgraph 0.14's own SVG exporter fails on these scenes).
"""

from __future__ import annotations

from pathlib import Path

from PySide6.QtCore import QObject, QPoint, QRect, QRectF, Qt
from PySide6.QtGui import QColor, QGuiApplication, QImage, QPainter
from PySide6.QtWidgets import QFileDialog, QGraphicsView, QMenu, QMessageBox, QWidget

from guicnn.core.designfile import atomic_write

#: PNG pixels per screen pixel (crisp when printed or shown on a high-resolution screen).
PNG_SCALE = 2.0
PNG_FILTER = "PNG image (*.png)"
SVG_FILTER = "SVG drawing (*.svg)"

_last_folder: list[Path] = []  # where the last image was saved, this session


def _area(widget: QWidget) -> QRect:
    """What is drawn: a graphics view's visible scene, or the whole widget."""
    return widget.viewport().rect() if isinstance(widget, QGraphicsView) else widget.rect()


def _paint(widget: QWidget, painter: QPainter) -> None:
    area = _area(widget)
    if isinstance(widget, QGraphicsView):
        widget.render(painter, QRectF(0, 0, area.width(), area.height()), area)
    else:
        widget.render(painter, QPoint(0, 0))


def render_image(widget: QWidget, scale: float = PNG_SCALE) -> QImage:
    """The widget's drawing as an image ``scale`` times its on-screen size."""
    area = _area(widget)
    image = QImage(max(1, round(area.width() * scale)), max(1, round(area.height() * scale)),
                   QImage.Format.Format_ARGB32_Premultiplied)
    image.setDevicePixelRatio(scale)
    image.fill(QColor("white"))
    painter = QPainter(image)
    painter.setRenderHint(QPainter.RenderHint.Antialiasing)
    painter.setRenderHint(QPainter.RenderHint.TextAntialiasing)
    _paint(widget, painter)
    painter.end()
    return image


def save_png(widget: QWidget, path: str | Path, scale: float = PNG_SCALE) -> None:
    """Write the widget's drawing as a PNG file (atomically); OSError when it cannot be written."""
    image = render_image(widget, scale)

    def write(tmp: Path) -> None:
        if not image.save(str(tmp), "PNG"):
            raise OSError(f"{Path(path).name}: the image could not be written")

    atomic_write(path, write)


def save_svg(widget: QWidget, path: str | Path, title: str = "") -> None:
    """Write the widget's drawing as an SVG file (atomically), at its on-screen size."""
    from PySide6.QtSvg import QSvgGenerator

    area = _area(widget)

    def write(tmp: Path) -> None:
        generator = QSvgGenerator()
        generator.setFileName(str(tmp))
        # The screen's resolution, so that items drawn in screen units (text labels) keep their place.
        generator.setResolution(widget.logicalDpiX())
        generator.setSize(area.size())
        generator.setViewBox(QRect(0, 0, area.width(), area.height()))
        generator.setTitle(title or Path(path).stem)
        generator.setDescription("Drawn by guicnn")
        painter = QPainter(generator)
        painter.fillRect(QRectF(0, 0, area.width(), area.height()), QColor("white"))
        _paint(widget, painter)
        if not painter.end():
            raise OSError(f"{Path(path).name}: the drawing could not be written")

    atomic_write(path, write)


def copy_image(widget: QWidget) -> QImage:
    """Put the widget's drawing on the clipboard (at the screen's resolution); return it."""
    image = render_image(widget, max(1.0, widget.devicePixelRatioF()))
    QGuiApplication.clipboard().setImage(image)
    return image


class ImageMenu(QObject):
    """The right-click menu of one plot widget."""

    def __init__(self, widget: QWidget, stem: str) -> None:
        super().__init__(widget)
        self.widget, self.stem = widget, stem
        self.menu = QMenu(widget)
        self.menu.addAction("Save image as PNG…", lambda: self.save_dialog("png"))
        self.menu.addAction("Save image as SVG…", lambda: self.save_dialog("svg"))
        self.menu.addSeparator()
        self.menu.addAction("Copy to clipboard", self.copy)
        widget.setContextMenuPolicy(Qt.ContextMenuPolicy.CustomContextMenu)
        widget.customContextMenuRequested.connect(self._show)

    def _show(self, position: QPoint) -> None:
        self.menu.popup(self.widget.mapToGlobal(position))

    def save_dialog(self, kind: str) -> Path | None:
        """Ask where, then save as ``kind`` ("png" or "svg"); the path written, or None."""
        folder = _last_folder[-1] if _last_folder else Path.home()
        start = str(folder / f"{self.stem}.{kind}")
        path, _ = QFileDialog.getSaveFileName(self.widget, f"Save image as {kind.upper()}", start,
                                              PNG_FILTER if kind == "png" else SVG_FILTER)
        if not path:
            return None
        path = Path(path)
        if path.suffix.lower() != f".{kind}":
            path = path.with_name(path.name + f".{kind}")
        try:
            if kind == "png":
                save_png(self.widget, path)
            else:
                save_svg(self.widget, path, self.stem)
        except OSError as exc:
            QMessageBox.critical(self.widget, "Cannot save the image", f"{path}: {exc.strerror or exc}")
            return None
        _last_folder[:] = [path.parent]
        return path

    def copy(self) -> None:
        copy_image(self.widget)


def add_image_menu(widget: QWidget, stem: str) -> ImageMenu:
    """Give ``widget`` the right-click menu; ``stem`` names the file the save dialogs suggest."""
    return ImageMenu(widget, stem)


__all__ = ["ImageMenu", "add_image_menu", "copy_image", "render_image", "save_png", "save_svg"]
