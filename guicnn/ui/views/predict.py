"""Predict: draw on a canvas or load an image file, and see the network's top-k class probabilities."""

from __future__ import annotations

import os
from typing import Sequence

import numpy as np
import pyqtgraph as pg
from PIL import Image
from PySide6.QtCore import QPointF, QRectF, QSize, Qt, QTimer, Signal
from PySide6.QtGui import QColor, QImage, QMouseEvent, QPainter, QPaintEvent, QPen, QPixmap
from PySide6.QtWidgets import (
    QCheckBox,
    QComboBox,
    QFileDialog,
    QHBoxLayout,
    QLabel,
    QPushButton,
    QSizePolicy,
    QSplitter,
    QVBoxLayout,
    QWidget,
)

from guicnn.core.data.images import read_rgb, resize_rgb, to_channels
from guicnn.core.errors import GuicnnError
from guicnn.ui.style import ERROR
from guicnn.ui.views.common import (
    BAR_COLOUR,
    HIGHLIGHT_COLOUR,
    REFERENCE_COLOUR,
    HintStack,
    caption_label,
    fmt_shape,
    qimage_from_array,
    set_category_ticks,
    show_grid,
    style_plot,
)
from guicnn.ui.views.feature_maps import FeatureMapsView
from guicnn.ui.widgets.image_export import add_image_menu

CANVAS_PIXELS = 280  # the drawing's own resolution; it is averaged down to the model's input size
EMIT_INTERVAL_MS = 100  # while the mouse draws, the image is sent at most this often
PEN_SCALES = {"Thin pen": 0.7, "Medium pen": 1.0, "Thick pen": 1.4}
INK_THRESHOLD = 0.1
FIT_FRACTION = 0.75  # "centre and scale" makes the drawing fill this share of the frame (MNIST: 20/28)
MAX_TOP_K = 10
LABEL_INSIDE_FROM = 60.0  # % from which a bar's label goes inside the bar (room to its right is short)


def canvas_to_input(rgb: np.ndarray, shape: tuple[int, int, int], fit: bool = False,
                    invert: bool = False) -> np.ndarray:
    """A uint8 (S, S, 3) picture as the model's (C, H, W) float32 input in [0, 1].

    Area averaging (Pillow's box filter) to H×W; grey for one channel, RGB for three, grey
    repeated otherwise. With ``fit`` the ink's bounding box is centred and scaled to fill
    ``FIT_FRACTION`` of the frame, as MNIST digits are.
    """
    c, h, w = shape
    if fit:
        rgb = _fit_ink(rgb)
    picture = Image.fromarray(np.ascontiguousarray(rgb), "RGB")
    if c != 3:
        picture = picture.convert("L")
    small = np.asarray(picture.resize((w, h), Image.Resampling.BOX), dtype=np.float32) / 255.0
    x = small.transpose(2, 0, 1) if c == 3 else np.repeat(small[None], c, axis=0)
    if invert:
        x = 1.0 - x
    return np.ascontiguousarray(x, dtype=np.float32)


def loaded_to_input(rgb: np.ndarray, shape: tuple[int, int, int], invert: bool = False) -> np.ndarray:
    """A loaded file's (H, W, 3) pixels as the model's (C, H, W) input, by the core's resize and
    channel rules (exactly ``core.data.images.read_image``); grey repeated for other channel counts."""
    c, h, w = shape
    small = resize_rgb(rgb, (h, w))
    x = to_channels(small, c) if c in (1, 3) else np.repeat(to_channels(small, 1), c, axis=0)
    return 1.0 - x if invert else x


def _fit_ink(rgb: np.ndarray) -> np.ndarray:
    """Crop a square around the ink's bounding box (ink fills FIT_FRACTION of it), padded with black."""
    ink = rgb.max(axis=2) > INK_THRESHOLD * 255
    rows, cols = np.flatnonzero(ink.any(axis=1)), np.flatnonzero(ink.any(axis=0))
    if rows.size == 0:
        return rgb
    top, bottom, left, right = rows[0], rows[-1] + 1, cols[0], cols[-1] + 1
    side = int(np.ceil(max(bottom - top, right - left) / FIT_FRACTION))
    cy, cx = (top + bottom) // 2, (left + right) // 2
    y0, x0 = cy - side // 2, cx - side // 2
    out = np.zeros((side, side, 3), np.uint8)
    sy0, sx0 = max(y0, 0), max(x0, 0)
    sy1, sx1 = min(y0 + side, rgb.shape[0]), min(x0 + side, rgb.shape[1])
    out[sy0 - y0 : sy1 - y0, sx0 - x0 : sx1 - x0] = rgb[sy0:sy1, sx0:sx1]
    return out


class DrawingCanvas(QWidget):
    """A square black canvas on which the mouse draws thick white strokes, like MNIST digits.

    ``changed`` is emitted every ``EMIT_INTERVAL_MS`` while drawing and once on release;
    ``rgb()`` returns the drawing as uint8 (S, S, 3).
    """

    changed = Signal()

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self._image = QImage(CANVAS_PIXELS, CANVAS_PIXELS, QImage.Format.Format_RGB32)
        self._image.fill(QColor("black"))
        self._last: QPointF | None = None
        self._dirty = False
        self.pen_width = 28.0
        self.setMinimumSize(200, 200)
        sizing = QSizePolicy(QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Expanding)
        sizing.setHeightForWidth(True)
        self.setSizePolicy(sizing)
        self.setCursor(Qt.CursorShape.CrossCursor)
        self.setToolTip("Draw with the mouse (left button). White ink on black, like the training images.")
        self._timer = QTimer(self)
        self._timer.setInterval(EMIT_INTERVAL_MS)
        self._timer.timeout.connect(self._emit_if_dirty)

    # ---- API ----------------------------------------------------------------------------------
    def clear(self) -> None:
        self._image.fill(QColor("black"))
        self._dirty = False
        self.update()

    def set_picture(self, image: QImage, smooth: bool = True) -> None:
        """Replace the drawing with ``image``, scaled to fit (aspect kept) on black.

        ``smooth=False`` scales with nearest neighbour, so averaging back down to the original
        size gives the original pixels again.
        """
        self._image.fill(QColor("black"))
        mode = Qt.TransformationMode.SmoothTransformation if smooth else Qt.TransformationMode.FastTransformation
        scaled = image.scaled(CANVAS_PIXELS, CANVAS_PIXELS, Qt.AspectRatioMode.KeepAspectRatio, mode)
        painter = QPainter(self._image)
        painter.drawImage((CANVAS_PIXELS - scaled.width()) // 2, (CANVAS_PIXELS - scaled.height()) // 2, scaled)
        painter.end()
        self.update()

    def draw_stroke(self, points: Sequence[tuple[float, float]]) -> None:
        """Draw a stroke through ``points`` given as fractions (0..1) of the square, as the mouse would."""
        scaled = [QPointF(x * CANVAS_PIXELS, y * CANVAS_PIXELS) for x, y in points]
        for start, end in zip(scaled, scaled[1:] or scaled):
            self._stroke(start, end)
        self._emit_if_dirty()

    def rgb(self) -> np.ndarray:
        """The drawing as uint8 (S, S, 3) RGB."""
        image = self._image
        buffer = np.frombuffer(image.constBits(), np.uint8).reshape(image.height(), image.bytesPerLine())
        bgra = buffer[:, : image.width() * 4].reshape(image.height(), image.width(), 4)
        return bgra[..., 2::-1].copy()  # Format_RGB32 is B, G, R, A in memory (little-endian)

    def has_ink(self) -> bool:
        return bool(self.rgb().max() > INK_THRESHOLD * 255)

    # ---- painting -----------------------------------------------------------------------------
    def hasHeightForWidth(self) -> bool:
        return True

    def heightForWidth(self, width: int) -> int:
        return width

    def sizeHint(self) -> QSize:
        return QSize(280, 280)

    def _side_rect(self) -> QRectF:
        side = min(self.width(), self.height())
        return QRectF((self.width() - side) / 2, (self.height() - side) / 2, side, side)

    def paintEvent(self, event: QPaintEvent) -> None:
        painter = QPainter(self)
        painter.fillRect(self.rect(), self.palette().window())
        rect = self._side_rect()
        painter.drawImage(rect, self._image)
        painter.setPen(QPen(QColor("#8a949e"), 1))
        painter.drawRect(rect.adjusted(0, 0, -1, -1))
        painter.end()

    def _to_canvas(self, pos: QPointF) -> QPointF:
        rect = self._side_rect()
        scale = CANVAS_PIXELS / max(rect.width(), 1.0)
        return QPointF((pos.x() - rect.x()) * scale, (pos.y() - rect.y()) * scale)

    def _stroke(self, start: QPointF, end: QPointF) -> None:
        painter = QPainter(self._image)
        painter.setRenderHint(QPainter.RenderHint.Antialiasing)
        painter.setPen(QPen(QColor("white"), self.pen_width, Qt.PenStyle.SolidLine, Qt.PenCapStyle.RoundCap,
                            Qt.PenJoinStyle.RoundJoin))
        painter.drawLine(start, end)
        painter.end()
        self._dirty = True
        self.update()

    def mousePressEvent(self, event: QMouseEvent) -> None:
        if event.button() != Qt.MouseButton.LeftButton:
            return
        self._last = self._to_canvas(event.position())
        self._stroke(self._last, self._last)
        self._timer.start()

    def mouseMoveEvent(self, event: QMouseEvent) -> None:
        if self._last is None:
            return
        point = self._to_canvas(event.position())
        self._stroke(self._last, point)
        self._last = point

    def mouseReleaseEvent(self, event: QMouseEvent) -> None:
        if self._last is None:
            return
        self._last = None
        self._timer.stop()
        self._emit_if_dirty()

    def _emit_if_dirty(self) -> None:
        if self._dirty:
            self._dirty = False
            self.changed.emit()


class PredictView(QWidget):
    """Draw or load an input, send it to whoever runs the model, show the class probabilities.

    * ``set_input_shape((C, H, W))``, ``set_class_names(names)``.
    * ``imageReady(np.ndarray)``: the input as (C, H, W) float32 in [0, 1], emitted while
      drawing (every 100 ms), on mouse release, and after an image is loaded.
    * ``show_probabilities(probs, reference=None)``: probabilities (K,) for the last image; the top k
      are shown as bars. With ``set_reference(label)`` (a pinned model, A/B) ``reference`` holds
      that model's probabilities for the same image, drawn as a second bar under each class.
    * ``load_image(path) -> bool``: what "Load image…" does after its file dialog; problems
      are shown in the view, never raised. ``current_image()`` -> the last emitted array.
    * ``feature_maps``: a FeatureMapsView of the drawing (fed by whoever runs the model), where
      clicking a unit shows the part of the drawing it depends on.
    """

    imageReady = Signal(object)

    def __init__(self, parent: QWidget | None = None, top_k: int = 5) -> None:
        super().__init__(parent)
        self._shape: tuple[int, int, int] = (1, 28, 28)
        self._names: list[str] = []
        self._top_k = max(1, min(top_k, MAX_TOP_K))
        self._current: np.ndarray | None = None
        self._loaded: np.ndarray | None = None  # a loaded file's RGB pixels, until the user draws over them
        self._top_names: list[str] = []
        self._reference: str | None = None
        self._reference_values: np.ndarray | None = None
        self._build_ui()
        self._update_pen()

    def _build_ui(self) -> None:
        self.canvas = DrawingCanvas()
        self.canvas.changed.connect(self._on_canvas_changed)
        self.clear_button = QPushButton("Clear")
        self.clear_button.clicked.connect(self.clear)
        self.load_button = QPushButton("Load image…")
        self.load_button.clicked.connect(self._choose_file)
        self.pen_combo = QComboBox()
        self.pen_combo.addItems(list(PEN_SCALES))
        self.pen_combo.setCurrentText("Medium pen")
        self.pen_combo.currentTextChanged.connect(lambda _: self._update_pen())
        buttons = QHBoxLayout()
        buttons.addWidget(self.clear_button)
        buttons.addWidget(self.load_button)
        buttons.addWidget(self.pen_combo)
        buttons.addStretch(1)
        self.fit_check = QCheckBox("Centre and scale the drawing (as MNIST digits are)")
        self.fit_check.setToolTip("Crops the drawing to its ink, centred, filling 3/4 of the frame.")
        self.fit_check.toggled.connect(lambda _: self._send())
        self.invert_check = QCheckBox("Invert colours (for dark ink on a light background)")
        self.invert_check.toggled.connect(lambda _: self._send())
        self.error_label = caption_label("")
        self.error_label.setStyleSheet(f"color: {ERROR};")
        self.error_label.setVisible(False)
        self.seen_picture = QLabel()
        self.seen_picture.setFixedSize(116, 116)
        self.seen_picture.setAlignment(Qt.AlignmentFlag.AlignCenter)
        self.seen_picture.setStyleSheet("background: #ffffff; border: 1px solid #d5dbe1;")
        self.seen_caption = caption_label("", muted=True)
        seen = QHBoxLayout()
        seen.addWidget(self.seen_picture)
        seen.addWidget(self.seen_caption, 1)
        left = QVBoxLayout()
        left.addWidget(caption_label("Draw here, or load an image", bold=True))
        left.addWidget(self.canvas, 1)
        left.addLayout(buttons)
        left.addWidget(self.fit_check)
        left.addWidget(self.invert_check)
        left.addWidget(self.error_label)

        self.answer = QLabel("")
        self.answer.setStyleSheet("font-size: 15pt; font-weight: bold;")
        self.answer.setWordWrap(True)
        self.graphics = pg.GraphicsLayoutWidget()
        add_image_menu(self.graphics, "prediction")  # right-click: save as PNG/SVG, copy
        self.plot = self.graphics.addPlot()
        style_plot(self.plot, "", "probability (%)", "", grid=False)
        show_grid(self.plot, "bottom")
        self.plot.setMouseEnabled(False, False)
        self.plot.invertY(True)
        self.plot.setXRange(0, 112, padding=0)
        self.plot.getAxis("bottom").setTicks([[(v, str(v)) for v in range(0, 101, 25)], []])
        self.bars = pg.BarGraphItem(x0=[], y=[], width=[], height=0.7, brush=BAR_COLOUR, pen=pg.mkPen(None))
        self.plot.addItem(self.bars)
        self.bar_texts = [pg.TextItem("", color="#1f2933", anchor=(0.0, 0.5)) for _ in range(MAX_TOP_K)]
        for text in self.bar_texts:
            self.plot.addItem(text, ignoreBounds=True)
        self.reference_bars = pg.BarGraphItem(x0=[], y=[], width=[], height=0.34, brush=REFERENCE_COLOUR,
                                              pen=pg.mkPen(None))
        self.reference_bars.setVisible(False)
        self.plot.addItem(self.reference_bars)
        self.reference_texts = [pg.TextItem("", color=REFERENCE_COLOUR, anchor=(0.0, 0.5)) for _ in range(MAX_TOP_K)]
        for text in self.reference_texts:
            text.setVisible(False)
            self.plot.addItem(text, ignoreBounds=True)
        right_content = QWidget()
        right_layout = QVBoxLayout(right_content)
        right_layout.setContentsMargins(0, 0, 0, 0)
        right_layout.addWidget(self.answer)
        right_layout.addWidget(self.graphics, 1)
        self.result_stack = HintStack(right_content, "Draw a digit or shape on the black square, or load an "
                                                     "image file.\n\nThe network's most likely classes appear here.")
        right = QVBoxLayout()
        right.addWidget(caption_label("The network's answer", bold=True))
        right.addWidget(self.result_stack, 1)
        right.addLayout(seen)

        top = QWidget()
        columns = QHBoxLayout(top)
        columns.setContentsMargins(0, 0, 0, 0)
        columns.addLayout(left, 1)
        columns.addLayout(right, 1)
        # Below, the drawing's feature maps across the whole width: click a unit to see which
        # part of the drawing it looks at.
        self.feature_maps = FeatureMapsView()
        self.splitter = QSplitter(Qt.Orientation.Vertical)
        self.splitter.addWidget(top)
        self.splitter.addWidget(self.feature_maps)
        self.splitter.setStretchFactor(0, 1)
        self.splitter.setStretchFactor(1, 1)
        self.splitter.setChildrenCollapsible(True)

        layout = QVBoxLayout(self)
        layout.setContentsMargins(6, 6, 6, 6)
        layout.addWidget(self.splitter)
        self._update_seen()

    # ---- public API -----------------------------------------------------------------------
    def set_input_shape(self, shape: Sequence[int]) -> None:
        """The model's input (C, H, W): drawings are averaged down to it."""
        c, h, w = (int(v) for v in shape)
        self._shape = (c, h, w)
        self._update_pen()
        if self.canvas.has_ink():
            self._send()
        else:
            self._update_seen()

    def set_class_names(self, names: Sequence[str]) -> None:
        self._names = [str(n) for n in names]

    def set_reference(self, label: str | None) -> None:
        """Compare with a pinned model called ``label`` (None: no comparison)."""
        self._reference = label
        if label is None:
            self._reference_values = None
            self.reference_bars.setVisible(False)
            for text in self.reference_texts:
                text.setVisible(False)

    def show_probabilities(self, probs: np.ndarray, reference: np.ndarray | None = None, who: str = "") -> None:
        """Probabilities (K,) of the classes for the last emitted image; shows the top k (and, when
        comparing, the pinned model's ``reference`` probabilities of the same classes). ``who``
        names the model whose answer this is, when that is not obvious."""
        p = np.clip(np.asarray(probs, dtype=np.float64).ravel(), 0.0, 1.0)
        if p.size == 0:
            return
        k = min(self._top_k, p.size)
        order = np.argsort(-p, kind="stable")[:k]
        names = [self._name(i) for i in order]
        values = p[order] * 100.0
        q = None
        if self._reference is not None and reference is not None and np.asarray(reference).size == p.size:
            q = np.clip(np.asarray(reference, dtype=np.float64).ravel(), 0.0, 1.0)
        paired = q is not None
        rows = np.arange(k, dtype=float) - (0.18 if paired else 0.0)
        brushes = [pg.mkBrush(HIGHLIGHT_COLOUR)] + [pg.mkBrush(BAR_COLOUR)] * (k - 1)
        self.bars.setOpts(x0=np.zeros(k), y=rows, width=values, height=0.34 if paired else 0.7, brushes=brushes)
        for i, text in enumerate(self.bar_texts):
            text.setVisible(i < k)
            if i < k:
                # A long bar carries its figure inside its end: beside it, "98.0%" was cut off
                # by the plot's right edge (paired bars are thin: theirs stay beside them).
                inside = not paired and values[i] >= LABEL_INSIDE_FROM
                text.setText(f"{'B ' if paired else ''}{values[i]:.1f}%")
                text.setColor("#ffffff" if inside else "#1f2933")
                text.setAnchor((1.0, 0.5) if inside else (0.0, 0.5))
                text.setPos(values[i] - 1.0 if inside else values[i] + 1.0, rows[i])
        self._reference_values = None if q is None else q[order] * 100.0
        self.reference_bars.setVisible(paired)
        for i, text in enumerate(self.reference_texts):
            text.setVisible(paired and i < k)
        if paired:
            ref = self._reference_values
            self.reference_bars.setOpts(x0=np.zeros(k), y=rows + 0.36, width=ref, height=0.34)
            for i in range(k):
                self.reference_texts[i].setText(f"{self._reference} {ref[i]:.1f}%")
                self.reference_texts[i].setPos(ref[i] + 1.0, rows[i] + 0.36)
        self._top_names = names
        set_category_ticks(self.plot.getAxis("left"), names, max_chars=16)
        self.plot.setYRange(-0.6, max(k, 3) - 0.4, padding=0)
        self.plot.setXRange(0, 128 if paired else 112, padding=0)  # room for "B 100.0%" after a full bar
        self.plot.setTitle(f"Top {k} of {p.size} classes" + (f" · B (orange/blue) and {self._reference} (purple)"
                                                             if paired else ""), color="#1f2933", size="10pt")
        if paired:
            best = int(np.argmax(q))
            self.answer.setText(f"B: {names[0]} · {values[0]:.1f}%<br>"
                                f"<span style='color:{REFERENCE_COLOUR}'>{self._reference}: {self._name(best)} · "
                                f"{100 * q[best]:.1f}%</span>")
        else:
            self.answer.setText(f"{who + ': ' if who else ''}{names[0]} · {values[0]:.1f}%")
        self.result_stack.show_content()

    def reference_classes(self) -> list[tuple[str, float]]:
        """(class name, the pinned model's probability in %) for the classes shown; empty without one."""
        if self._reference_values is None:
            return []
        return list(zip(self._top_names, (float(v) for v in self._reference_values)))

    def top_classes(self) -> list[tuple[str, float]]:
        """(class name, probability in %) of the bars shown, most likely first."""
        return list(zip(self._top_names, (float(v) for v in self.bars.opts["width"])))

    def current_image(self) -> np.ndarray | None:
        return None if self._current is None else self._current.copy()

    def clear(self) -> None:
        """Empty the canvas and the probabilities."""
        self._loaded = None
        self.canvas.clear()
        self.invert_check.blockSignals(True)
        self.invert_check.setChecked(False)
        self.invert_check.blockSignals(False)
        self._current = None
        self.error_label.setVisible(False)
        self.answer.setText("")
        self.result_stack.show_hint()
        self._update_seen()

    def set_image(self, image: np.ndarray) -> None:
        """Put a (C, H, W) array in [0, 1] (e.g. a validation image) on the canvas and emit it."""
        x = np.clip(np.asarray(image, dtype=np.float32), 0.0, 1.0)
        picture = x.transpose(1, 2, 0) if x.shape[0] == 3 else np.repeat(x[0][:, :, None], 3, axis=2)
        self._loaded = None
        self.error_label.setVisible(False)
        self.canvas.set_picture(qimage_from_array(np.rint(picture * 255.0).astype(np.uint8)), smooth=False)
        self._send()

    def load_image(self, path: str | os.PathLike) -> bool:
        """Put an image file on the canvas and emit it; a problem is shown in the view and gives False.

        The file is read by the core's image reader (the one of ``guicnn predict`` and of image
        folders: same transparency handling, same resampling), so the window, the command line
        and training see the same input array for the same file.
        """
        try:
            rgb = read_rgb(path)
        except GuicnnError as exc:
            self._show_error(f"{exc}. Choose a PNG, JPEG, BMP or GIF image.")
            return False
        self.error_label.setVisible(False)
        self._loaded = rgb
        self.canvas.set_picture(qimage_from_array(rgb))
        if self._shape[0] != 3:
            # Grey training sets (MNIST, shapes, digits) are white on black: a light page is probably
            # dark ink on paper, so invert it (the user can untick the box).
            border = np.concatenate([rgb[0], rgb[-1], rgb[:, 0], rgb[:, -1]]).mean() / 255.0
            self.invert_check.blockSignals(True)
            self.invert_check.setChecked(bool(border > 0.5))
            self.invert_check.blockSignals(False)
        self._send()
        return True

    # ---- internals ------------------------------------------------------------------------
    def _name(self, index: int) -> str:
        return self._names[index] if index < len(self._names) else f"class {index}"

    def _update_pen(self) -> None:
        c, h, w = self._shape
        stroke = min(max(w / 10.0, 1.2), 3.0)  # input pixels: ~2.8 for 28×28, 1.2 for 8×8 digits
        self.canvas.pen_width = CANVAS_PIXELS / w * stroke * PEN_SCALES[self.pen_combo.currentText()]

    def _on_canvas_changed(self) -> None:
        self._loaded = None  # drawn over: the canvas is the input now
        self._send()

    def _send(self) -> None:
        if self._loaded is not None:
            self._current = loaded_to_input(self._loaded, self._shape, invert=self.invert_check.isChecked())
            self._update_seen()
            self.imageReady.emit(self._current.copy())
            return
        if not self.canvas.has_ink():
            self._current = None
            self._update_seen()
            return
        self._current = canvas_to_input(self.canvas.rgb(), self._shape, fit=self.fit_check.isChecked(),
                                        invert=self.invert_check.isChecked())
        self._update_seen()
        self.imageReady.emit(self._current.copy())

    def _update_seen(self) -> None:
        c, h, w = self._shape
        source = "resized from the file" if self._loaded is not None else "averaged down from the canvas"
        self.seen_caption.setText(f"What the network sees: {fmt_shape(self._shape)} "
                                  f"({'colour' if c == 3 else 'grey'}, {source})")
        if self._current is None:
            self.seen_picture.clear()
            return
        x = self._current
        pixels = np.rint(255.0 * (x.transpose(1, 2, 0) if c == 3 else x[0])).astype(np.uint8)
        self.seen_picture.setPixmap(QPixmap.fromImage(qimage_from_array(pixels)).scaled(
            112, 112, Qt.AspectRatioMode.KeepAspectRatio, Qt.TransformationMode.FastTransformation))

    def _choose_file(self) -> None:
        path, _ = QFileDialog.getOpenFileName(
            self, "Load an image", "", "Images (*.png *.jpg *.jpeg *.bmp *.gif *.tif *.tiff *.webp);;All files (*)")
        if path:
            self.load_image(path)

    def _show_error(self, text: str) -> None:
        self.error_label.setText(text)
        self.error_label.setVisible(True)
