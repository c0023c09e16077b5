"""Confusion matrix with per-class accuracy and the images of a clicked cell; the misclassified gallery."""

from __future__ import annotations

from typing import Sequence

import numpy as np
import pyqtgraph as pg
from PySide6.QtCore import QRectF, Qt, Signal
from PySide6.QtGui import QFont, QFontMetrics
from PySide6.QtWidgets import QGraphicsRectItem, QSplitter, QVBoxLayout, QWidget

from guicnn.core.metrics import per_class_accuracy
from guicnn.core.text import plural
from guicnn.ui.views.common import (
    BAR_COLOUR,
    BLUES,
    HIGHLIGHT_COLOUR,
    HintStack,
    caption_label,
    fmt_percent,
    lookup_table,
    set_category_ticks,
    shorten,
    show_grid,
    style_plot,
)
from guicnn.ui.views.gallery import ImageGallery
from guicnn.ui.widgets.image_export import add_image_menu

EMPTY_HINT = ("No confusion matrix yet.\n\nAfter each training epoch the validation images are counted here by "
              "true class (rows) and predicted class (columns).")
MAX_COUNT_LABELS = 20  # above this many classes the cells are too small for numbers
MAX_GALLERY = 300  # thumbnails shown at most (the most confident first)
SIDE_BY_SIDE_WIDTH = 860  # px from which the gallery sits beside the matrix rather than below it
COUNT_POINTS = 10  # font size of the counts in the cells, shrunk down to MIN_COUNT_POINTS for small cells
MIN_COUNT_POINTS = 7


def _examples(images, true, predicted, confidence) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    images = np.asarray(images)
    true = np.asarray(true, dtype=np.int64).ravel()
    predicted = np.asarray(predicted, dtype=np.int64).ravel()
    confidence = np.asarray(confidence, dtype=np.float64).ravel()
    if not (len(images) == len(true) == len(predicted) == len(confidence)):
        raise ValueError(f"examples need one true class, prediction and confidence per image, got "
                         f"{len(images)} images, {len(true)}, {len(predicted)}, {len(confidence)}")
    return images, true, predicted, confidence


def _class_name(names: Sequence[str], index: int) -> str:
    return names[index] if 0 <= index < len(names) else f"class {index}"


class ConfusionView(QWidget):
    """Confusion matrix (rows = true class, columns = predicted class) and the images of one cell.

    * ``set_confusion(matrix, class_names, subtitle="")``: counts, shape (K, K).
    * ``set_examples(images (N, C, H, W), true (N,), predicted (N,), confidence (N,))``:
      the images behind the counts (confidence = probability of the predicted class);
      the view filters them by cell itself.
    * ``select_cell(true_class, predicted_class)`` (what a click calls): emits
      ``cellClicked(true_class, predicted_class)`` and shows that cell's images, most confident first.
    * ``exampleActivated(index)``: an image of the gallery was double-clicked (index into ``set_examples``).

    Cells are coloured by the share of their row (so small classes are as visible as big
    ones) and show their counts up to 20 classes; a bar beside each row gives that class's accuracy.
    """

    cellClicked = Signal(int, int)
    exampleActivated = Signal(int)

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self._matrix = np.zeros((0, 0), np.int64)
        self._names: list[str] = []
        self._texts: list[pg.TextItem] = []
        self._selected: tuple[int, int] | None = None
        self._examples: tuple[np.ndarray, ...] | None = None
        self._accuracy = np.zeros(0)
        self._build_ui()

    def _build_ui(self) -> None:
        self.title = caption_label("", bold=True)
        self.explanation = caption_label(
            "Rows: the true class; columns: what the network predicted. The diagonal holds the correct "
            "answers; every other cell is a kind of mistake. Colour = share of the row. Click a cell to see "
            "its images.", muted=True)
        self.graphics = pg.GraphicsLayoutWidget()
        add_image_menu(self.graphics, "confusion-matrix")  # right-click: save as PNG/SVG, copy
        self.matrix_plot = self.graphics.addPlot(row=0, col=0)
        style_plot(self.matrix_plot, "", "predicted class", "true class", grid=False)
        self.matrix_plot.setAspectLocked(True)
        self.matrix_plot.invertY(True)
        self.matrix_plot.setMouseEnabled(False, False)
        self.image = pg.ImageItem()
        self.image.setLookupTable(lookup_table(BLUES))
        self.matrix_plot.addItem(self.image)
        self.cell_frame = QGraphicsRectItem()
        self.cell_frame.setPen(pg.mkPen(HIGHLIGHT_COLOUR, width=3, cosmetic=True))
        self.cell_frame.setZValue(10)
        self.cell_frame.setVisible(False)
        self.matrix_plot.addItem(self.cell_frame)

        self.accuracy_plot = self.graphics.addPlot(row=0, col=1)
        style_plot(self.accuracy_plot, "", "class accuracy (%)", "", grid=False)
        self.accuracy_plot.setMinimumWidth(160)
        show_grid(self.accuracy_plot, "bottom")
        self.accuracy_plot.hideAxis("left")
        self.accuracy_plot.invertY(True)
        self.accuracy_plot.setYLink(self.matrix_plot)
        self.accuracy_plot.setMouseEnabled(False, False)
        self.accuracy_plot.setXRange(0, 140, padding=0)
        self.accuracy_plot.getAxis("bottom").setTicks([[(v, str(v)) for v in (0, 50, 100)], []])
        self.accuracy_bars = pg.BarGraphItem(x0=[], y=[], width=[], height=0.7, brush=BAR_COLOUR, pen=pg.mkPen(None))
        self.accuracy_plot.addItem(self.accuracy_bars)
        self.accuracy_texts: list[pg.TextItem] = []
        self.graphics.ci.layout.setColumnStretchFactor(0, 3)
        self.graphics.ci.layout.setColumnStretchFactor(1, 1)
        self.graphics.scene().sigMouseClicked.connect(self._on_click)
        self.matrix_plot.vb.sigResized.connect(self._fit_labels)
        self._proxy = pg.SignalProxy(self.graphics.scene().sigMouseMoved, rateLimit=30,
                                     slot=lambda e: self._on_mouse(e[0]))
        self.hover_label = caption_label("", muted=True)

        self.gallery_title = caption_label("Click a cell of the matrix to see its images here.", bold=True)
        self.gallery = ImageGallery()
        self.gallery.imageActivated.connect(self.exampleActivated)
        lower = QWidget()
        lower_layout = QVBoxLayout(lower)
        lower_layout.setContentsMargins(6, 0, 0, 0)
        lower_layout.addWidget(self.gallery_title)
        lower_layout.addWidget(self.gallery, 1)
        upper = QWidget()
        upper_layout = QVBoxLayout(upper)
        upper_layout.setContentsMargins(0, 0, 0, 0)
        upper_layout.addWidget(self.title)
        upper_layout.addWidget(self.explanation)
        upper_layout.addWidget(self.graphics, 1)
        upper_layout.addWidget(self.hover_label)
        self.splitter = QSplitter(Qt.Orientation.Horizontal)
        self.splitter.addWidget(upper)
        self.splitter.addWidget(lower)
        self.splitter.setStretchFactor(0, 3)
        self.splitter.setStretchFactor(1, 2)
        self.splitter.setChildrenCollapsible(False)
        self.splitter.setSizes([620, 420])
        self.stack = HintStack(self.splitter, EMPTY_HINT)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(6, 6, 6, 6)
        layout.addWidget(self.stack)

    # ---- public API -----------------------------------------------------------------------
    def set_confusion(self, matrix: np.ndarray, class_names: Sequence[str], subtitle: str = "") -> None:
        """Show counts ``matrix[true, predicted]`` (K, K) with the K class names."""
        matrix = np.asarray(matrix, dtype=np.int64)
        k = matrix.shape[0]
        if matrix.ndim != 2 or matrix.shape[1] != k:
            raise ValueError(f"a confusion matrix must be square (K, K), got shape {matrix.shape}")
        names = [str(n) for n in class_names]
        if len(names) != k:
            names = [_class_name(names, i) for i in range(k)]
        resized = k != self._matrix.shape[0]
        self._matrix, self._names = matrix, names
        if resized:
            self._make_texts(k)
            self._selected = None
            self.cell_frame.setVisible(False)
        rows = matrix.sum(axis=1)
        share = matrix / np.maximum(rows, 1)[:, None]
        self.image.setImage(share.astype(np.float32), autoLevels=False, levels=(0.0, 1.0))
        for (i, j), text in zip(np.ndindex(k, k), self._texts):
            text.setText(str(matrix[i, j]))
            text.setColor("#ffffff" if share[i, j] > 0.5 else "#1f2933")
        accuracy = per_class_accuracy(matrix)
        self._accuracy = accuracy
        shown = np.nan_to_num(accuracy) * 100.0
        brushes = [pg.mkBrush(HIGHLIGHT_COLOUR if a < 0.5 else BAR_COLOUR) for a in np.nan_to_num(accuracy)]
        self.accuracy_bars.setOpts(x0=np.zeros(k), y=np.arange(k) + 0.5, width=shown, height=0.7, brushes=brushes)
        for i, text in enumerate(self.accuracy_texts):
            text.setText(fmt_percent(accuracy[i], 0))
            text.setPos(shown[i], i + 0.5)
        set_category_ticks(self.matrix_plot.getAxis("left"), names, max_chars=14, offset=0.5)
        if resized:
            self.matrix_plot.setRange(xRange=(0, k), yRange=(0, k), padding=0.02)
        self._fit_labels()
        total = int(matrix.sum())
        correct = int(np.trace(matrix))
        overall = (f"overall accuracy {fmt_percent(correct / total)} ({correct:,} of {plural(total, 'image')})"
                   if total else "no images")
        self.title.setText(f"Confusion matrix{' · ' + subtitle if subtitle else ''} · {overall}")
        self.stack.show_content()
        if self._selected is not None:
            self._show_cell(*self._selected)
        else:
            self.gallery_title.setText(self._unselected_title())

    def clear_selection(self) -> None:
        """No cell picked: the gallery is empty and its headline says what there is to pick."""
        self._selected = None
        self.cell_frame.setVisible(False)
        self.gallery.clear()
        self.gallery_title.setText(self._unselected_title())

    def _unselected_title(self) -> str:
        total = int(self._matrix.sum())
        if total and int(np.trace(self._matrix)) == total:
            return (f"No mistakes: all {plural(total, 'image')} are classified correctly. "
                    "Click a cell on the diagonal to see them.")
        return "Click a cell of the matrix to see its images here."

    def _fit_labels(self, *_ignored: object) -> None:
        """Counts and class names sized to the cells as drawn: a smaller font for small cells, no
        counts when even that does not fit (hovering still tells them), and the class names under
        the columns cut to what fits one cell — or their numbers — so they never run together."""
        k = self._matrix.shape[0]
        view = self.matrix_plot.vb
        if not k or view.width() <= 0:
            return
        cell = min(view.width(), view.height()) / (k * 1.04)  # the range has 2 % padding each side
        widest = str(int(self._matrix.max())) if self._matrix.size else "0"
        font = QFont(self.font())
        size = COUNT_POINTS if k <= 10 else COUNT_POINTS - 2
        font.setPointSizeF(size)
        while size > MIN_COUNT_POINTS and QFontMetrics(font).horizontalAdvance(widest) > cell - 4:
            size -= 1
            font.setPointSizeF(size)
        metrics = QFontMetrics(font)
        fits = metrics.horizontalAdvance(widest) <= cell - 2 and metrics.height() <= cell + 2
        for text in self._texts:
            text.setFont(font)
            text.setVisible(fits)
        axis = self.matrix_plot.getAxis("bottom")
        tick_metrics = QFontMetrics(axis.font())
        chars = next((n for n in range(12, 2, -1)
                      if max(tick_metrics.horizontalAdvance(shorten(name, n)) for name in self._names) <= cell - 4), 0)
        if chars:
            set_category_ticks(axis, self._names, max_chars=chars, offset=0.5)
            axis.setLabel("predicted class")
        else:  # not even three letters: the class numbers, with the names on hover
            axis.setTicks([[(i + 0.5, str(i)) for i in range(k)], []])
            axis.setLabel("predicted class (number)")

    def resizeEvent(self, event) -> None:
        super().resizeEvent(event)
        # Narrow: the gallery goes below the matrix, which then gets the whole width (beside it,
        # the cells were too small for their counts and the class names).
        wanted = Qt.Orientation.Horizontal if self.width() >= SIDE_BY_SIDE_WIDTH else Qt.Orientation.Vertical
        if self.splitter.orientation() != wanted:
            self.splitter.setOrientation(wanted)
            self.splitter.setSizes([600, 400] if wanted == Qt.Orientation.Horizontal else [650, 350])

    def column_labels(self) -> list[str]:
        """The labels under the matrix's columns, as drawn."""
        ticks = self.matrix_plot.getAxis("bottom")._tickLevels
        return [label for _, label in ticks[0]] if ticks else []

    def set_examples(self, images: np.ndarray, true: np.ndarray, predicted: np.ndarray,
                     confidence: np.ndarray) -> None:
        """The images behind the matrix, filtered by cell when one is clicked."""
        self._examples = _examples(images, true, predicted, confidence)
        if self._selected is not None:
            self._show_cell(*self._selected)

    def select_cell(self, true_class: int, predicted_class: int) -> None:
        """Highlight a cell, emit ``cellClicked`` and show its images."""
        k = self._matrix.shape[0]
        if not (0 <= true_class < k and 0 <= predicted_class < k):
            return
        self._selected = (true_class, predicted_class)
        self.cell_frame.setRect(QRectF(predicted_class, true_class, 1, 1))
        self.cell_frame.setVisible(True)
        self._show_cell(true_class, predicted_class)
        self.cellClicked.emit(true_class, predicted_class)

    def selected_cell(self) -> tuple[int, int] | None:
        return self._selected

    def clear(self) -> None:
        self._matrix = np.zeros((0, 0), np.int64)
        self._examples = None
        self.clear_selection()
        self.stack.show_hint()

    # ---- what is shown (used by tests) ----------------------------------------------------
    def cell_texts(self) -> list[str]:
        """The numbers written in the cells, row by row ('' when hidden for many classes)."""
        return [t.toPlainText() if t.isVisible() else "" for t in self._texts]

    def class_accuracy(self) -> np.ndarray:
        return self._accuracy.copy()

    def cell_at(self, x: float, y: float) -> tuple[int, int] | None:
        """(true class, predicted class) under matrix-plot point (x, y)."""
        k = self._matrix.shape[0]
        if 0 <= x < k and 0 <= y < k:
            return int(y), int(x)
        return None

    # ---- internals ------------------------------------------------------------------------
    def _make_texts(self, k: int) -> None:
        """Number labels, made only when the class count changes."""
        for text in self._texts:
            self.matrix_plot.removeItem(text)
        for text in self.accuracy_texts:
            self.accuracy_plot.removeItem(text)
        font = QFont()
        font.setPointSizeF(10 if k <= 10 else 8)
        self._texts = []
        if k <= MAX_COUNT_LABELS:
            for i, j in np.ndindex(k, k):
                text = pg.TextItem("", anchor=(0.5, 0.5))
                text.setFont(font)
                text.setPos(j + 0.5, i + 0.5)
                self.matrix_plot.addItem(text, ignoreBounds=True)
                self._texts.append(text)
        self.accuracy_texts = []
        for _ in range(k if k <= 40 else 0):
            text = pg.TextItem("", color="#1f2933", anchor=(0.0, 0.5))
            text.setFont(font)
            self.accuracy_plot.addItem(text, ignoreBounds=True)
            self.accuracy_texts.append(text)

    def _show_cell(self, true_class: int, predicted_class: int) -> None:
        t, p = _class_name(self._names, true_class), _class_name(self._names, predicted_class)
        count = int(self._matrix[true_class, predicted_class])
        kind = "correctly classified" if true_class == predicted_class else "misclassified"
        if count == 0:
            self.gallery.clear()
            self.gallery_title.setText(
                f"True {t}, predicted {p}: no images — no {t} is taken for {p}." if true_class != predicted_class
                else f"True {t}, predicted {t}: no images — no {t} is classified correctly.")
            return
        if self._examples is None:
            self.gallery.clear()
            self.gallery_title.setText(f"True {t}, predicted {p}: {plural(count, 'image')} ({kind}); "
                                       "their pictures were not provided.")
            return
        images, true, predicted, confidence = self._examples
        chosen = np.flatnonzero((true == true_class) & (predicted == predicted_class))
        chosen = chosen[np.argsort(-confidence[chosen], kind="stable")]
        shown = chosen[:MAX_GALLERY]
        self.gallery.set_images(images[shown], [f"p={confidence[i]:.2f}" for i in shown], indices=shown,
                                tooltips=[f"image {i}: true {t}, predicted {p} with probability {confidence[i]:.3f}"
                                          for i in shown])
        more = f" (the {len(shown)} most confident shown)" if len(chosen) > len(shown) else ""
        order = ", most confident first" if len(chosen) > 1 else ""
        self.gallery_title.setText(f"True {t}, predicted {p}: {plural(len(chosen), 'image')}, {kind}{order}{more}. "
                                   f"p = the network's probability for “{p}”.")

    def _on_click(self, event) -> None:
        if not self.matrix_plot.vb.sceneBoundingRect().contains(event.scenePos()):
            return
        point = self.matrix_plot.vb.mapSceneToView(event.scenePos())
        cell = self.cell_at(point.x(), point.y())
        if cell is not None:
            self.select_cell(*cell)

    def _on_mouse(self, pos) -> None:
        if not self.matrix_plot.vb.sceneBoundingRect().contains(pos):
            return
        point = self.matrix_plot.vb.mapSceneToView(pos)
        cell = self.cell_at(point.x(), point.y())
        if cell is None:
            self.hover_label.setText("")
            return
        i, j = cell
        row = int(self._matrix[i].sum())
        count = int(self._matrix[i, j])
        share = f" ({fmt_percent(count / row)} of the {_class_name(self._names, i)} images)" if row else ""
        verdict = "correct" if i == j else "mistake"
        self.hover_label.setText(f"true {_class_name(self._names, i)} → predicted {_class_name(self._names, j)}: "
                                 f"{plural(count, 'image')}{share}, {verdict}" + (" · click to see them" if count else ""))


class MisclassifiedView(QWidget):
    """The validation images the network gets wrong, most confidently wrong first.

    * ``set_examples(images (N, C, H, W), true (N,), predicted (N,), confidence (N,), class_names=None)``:
      all validation images (or only the wrong ones); the view keeps those with ``true != predicted``.
    * ``exampleActivated(index)``: a thumbnail was double-clicked (index into the given arrays).
    """

    exampleActivated = Signal(int)

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self._names: list[str] = []
        self.title = caption_label("", bold=True)
        self.gallery = ImageGallery()
        self.gallery.imageActivated.connect(self.exampleActivated)
        content = QWidget()
        column = QVBoxLayout(content)
        column.setContentsMargins(0, 0, 0, 0)
        column.addWidget(self.title)
        column.addWidget(self.gallery, 1)
        self._empty_hint = ("No predictions yet.\n\nAfter each training epoch the validation images the network "
                            "gets wrong appear here, most confidently wrong first.")
        self.stack = HintStack.fill(self, content, self._empty_hint)

    def set_class_names(self, class_names: Sequence[str]) -> None:
        self._names = [str(n) for n in class_names]

    def set_examples(self, images: np.ndarray, true: np.ndarray, predicted: np.ndarray, confidence: np.ndarray,
                     class_names: Sequence[str] | None = None) -> None:
        if class_names is not None:
            self.set_class_names(class_names)
        images, true, predicted, confidence = _examples(images, true, predicted, confidence)
        wrong = np.flatnonzero(true != predicted)
        wrong = wrong[np.argsort(-confidence[wrong], kind="stable")]
        shown = wrong[:MAX_GALLERY]
        if not len(wrong):
            self.gallery.clear()
            every = "the only validation image" if len(true) == 1 else f"all {len(true):,} validation images"
            self.stack.show_hint(f"No mistakes: the network classifies {every} correctly." if len(true) else
                                 "No validation images were given.")
            return
        names = self._names
        captions = [f"{_class_name(names, true[i])} → {_class_name(names, predicted[i])}\n(p={confidence[i]:.2f})"
                    for i in shown]
        tips = [f"image {i}: true {_class_name(names, true[i])}, predicted {_class_name(names, predicted[i])} "
                f"with probability {confidence[i]:.3f}" for i in shown]
        self.gallery.set_images(images[shown], captions, indices=shown, tooltips=tips)
        more = f"; the {len(shown)} most confident shown" if len(wrong) > len(shown) else ""
        self.title.setText(f"{len(wrong):,} of {plural(len(true), 'validation image')} misclassified, most confidently "
                           f"wrong first{more}. Caption: true class → predicted class (p = the network's "
                           "probability for its wrong answer).")
        self.stack.show_content()

    def clear(self) -> None:
        self.gallery.clear()
        self.stack.show_hint(self._empty_hint)

    def captions(self) -> list[str]:
        return self.gallery.captions()
