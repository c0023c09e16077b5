"""Learned filters: the kernels of each Conv2D layer as a grid of small images, blue < 0 < red."""

from __future__ import annotations

import math
from typing import Any, Sequence

import numpy as np
import pyqtgraph as pg
from PySide6.QtCore import QRectF, Signal
from PySide6.QtGui import QFont
from PySide6.QtWidgets import QComboBox, QGraphicsRectItem, QHBoxLayout, QLabel, QVBoxLayout, QWidget

from guicnn.core.text import plural
from guicnn.ui.style import TEXT
from guicnn.ui.views.common import (
    DIVERGING,
    HIGHLIGHT_COLOUR,
    HintStack,
    MosaicLayout,
    TileLabels,
    build_mosaic,
    caption_label,
    fmt_value,
    grid_shape,
)
from guicnn.ui.widgets.image_export import add_image_menu

EMPTY_HINT = "No filters yet.\n\nTrain or load a model with a Conv2D layer to see its learned kernels here."
NO_CONV_HINT = ("This design has no Conv2D layer, so it has no filters to show.\n\n"
                "Add a Conv2D layer to the stack to see what its kernels learn.")
MODES = {
    "pairs": "Every input channel (row = filter, column = input channel)",
    "mean": "Mean over input channels (one tile per filter)",
    "rgb": "As colour (3 input channels = red, green, blue)",
}
MAX_AXIS_TICKS = 32  # filter numbers beside the rows
MAX_COLUMN_LABELS = 16  # input-channel numbers above the columns


class FiltersView(QWidget):
    """The kernels of every Conv2D layer.

    * ``set_model(model)``: read the Conv2D layers' ``params["weight"]`` (out, in, kh, kw) as copies.
      While training, pass a copy of the model made in the worker (``copy.deepcopy``), or use
    * ``set_filters([(label, weight), ...])`` with weight arrays you own;
    * ``refresh()``: re-read the weights of the model given to ``set_model``.
    * ``set_selected(index)`` / ``selected()`` (index into the Conv2D layers), ``set_mode(mode)``
      with mode "pairs" (a tile per filter and input channel), "mean" (a tile per filter) or
      "rgb" (a colour tile per filter; only for 3 input channels).

    One colour scale per layer, symmetric about 0 (blue negative, white 0, red positive),
    so kernels of a layer can be compared; the scale is printed on the colour bar.
    """

    selectionChanged = Signal(int)

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self._model: Any = None
        self._filters: list[tuple[str, np.ndarray]] = []
        self._selected = 0
        self._mode: str | None = None  # None: the best mode for the layer
        self._mosaic: np.ndarray | None = None
        self._layout = MosaicLayout()
        self._shown_mode = "pairs"
        self._build_ui()

    def _build_ui(self) -> None:
        self.layer_combo = QComboBox()
        # Long item texts must not set the view's minimum width (the window shares it with docks).
        self.layer_combo.setSizeAdjustPolicy(QComboBox.SizeAdjustPolicy.AdjustToMinimumContentsLengthWithIcon)
        self.layer_combo.setMinimumContentsLength(16)
        self.layer_combo.currentIndexChanged.connect(self._on_layer)
        self.mode_combo = QComboBox()
        self.mode_combo.setSizeAdjustPolicy(QComboBox.SizeAdjustPolicy.AdjustToMinimumContentsLengthWithIcon)
        self.mode_combo.setMinimumContentsLength(16)
        for key, text in MODES.items():
            self.mode_combo.addItem(text, key)
        self.mode_combo.setToolTip("A Conv2D filter has one kh×kw kernel per input channel.")
        self.mode_combo.activated.connect(lambda i: self.set_mode(self.mode_combo.itemData(i)))
        header = QHBoxLayout()
        header.addWidget(QLabel("Layer"))
        header.addWidget(self.layer_combo, 1)
        header.addSpacing(12)
        self.mode_label = QLabel("Show")
        header.addWidget(self.mode_label)
        header.addWidget(self.mode_combo, 1)
        self.title = caption_label("", bold=True)
        self.explanation = caption_label("", muted=True)

        self.graphics = pg.GraphicsLayoutWidget()
        add_image_menu(self.graphics, "filters")  # right-click: save as PNG/SVG, copy
        self.plot = self.graphics.addPlot(row=0, col=0)
        self.plot.hideButtons()
        self.plot.setMenuEnabled(False)
        self.plot.setAspectLocked(True)
        self.plot.invertY(True)
        self.plot.hideAxis("left")
        self.plot.hideAxis("bottom")
        # Grey behind the mosaic shows through its gaps, so white (zero) kernels keep their outline.
        self.backdrop = QGraphicsRectItem()
        self.backdrop.setBrush(pg.mkBrush("#aab3bc"))
        self.backdrop.setPen(pg.mkPen(None))
        self.backdrop.setZValue(-1)
        self.plot.addItem(self.backdrop)
        self.image = pg.ImageItem()
        self.plot.addItem(self.image)
        self.tile_labels = TileLabels(self.plot)
        small = QFont()
        small.setPointSizeF(8)
        self.row_labels = [pg.TextItem("", color=TEXT, anchor=(1.0, 0.5)) for _ in range(MAX_AXIS_TICKS)]
        self.column_labels = [pg.TextItem("", color=TEXT, anchor=(0.5, 1.0)) for _ in range(MAX_COLUMN_LABELS)]
        self.corner_label = pg.TextItem("filter ↓   input channel →", color=TEXT, anchor=(1.0, 1.0))
        for item in self.row_labels + self.column_labels + [self.corner_label]:
            item.setFont(small)
            item.setVisible(False)
            self.plot.addItem(item, ignoreBounds=True)
        self.corner_label.setPos(-1.5, -1.5)
        self.tile_frame = QGraphicsRectItem()
        self.tile_frame.setPen(pg.mkPen(HIGHLIGHT_COLOUR, width=2, cosmetic=True))
        self.tile_frame.setZValue(10)
        self.tile_frame.setVisible(False)
        self.plot.addItem(self.tile_frame)
        self.colour_bar = pg.ColorBarItem(values=(-1, 1), colorMap=DIVERGING, interactive=False, width=16,
                                          label="weight value", colorMapMenu=False)
        self.colour_bar.setImageItem(self.image)
        self.graphics.addItem(self.colour_bar, row=0, col=1)
        self._proxy = pg.SignalProxy(self.graphics.scene().sigMouseMoved, rateLimit=30,
                                     slot=lambda e: self._on_mouse(e[0]))
        self.hover_label = caption_label("", muted=True)
        self.hover_label.setMinimumHeight(self.hover_label.fontMetrics().height() + 6)

        content = QWidget()
        column = QVBoxLayout(content)
        column.setContentsMargins(0, 0, 0, 0)
        column.addLayout(header)
        column.addWidget(self.title)
        column.addWidget(self.explanation)
        column.addWidget(self.graphics, 1)
        column.addWidget(self.hover_label)
        self.stack = HintStack.fill(self, content, EMPTY_HINT)

    # ---- public API -----------------------------------------------------------------------
    def set_model(self, model: Any) -> None:
        """Show the Conv2D kernels of ``model`` (copied now; see :meth:`refresh`)."""
        self._model = model
        self.refresh()

    def refresh(self) -> None:
        """Re-read the weights of the model given to :meth:`set_model`."""
        if self._model is None:
            return
        filters = []
        for index, layer in enumerate(self._model.layers):
            weight = layer.params.get("weight") if layer.type_name == "Conv2D" else None
            if weight is not None and weight.ndim == 4:
                filters.append((f"{index} · {layer.describe()}", np.array(weight, dtype=np.float32, copy=True)))
        if not filters:
            self._filters = []
            self.stack.show_hint(NO_CONV_HINT)
            return
        self.set_filters(filters)

    def set_filters(self, filters: Sequence[tuple[str, np.ndarray]]) -> None:
        """``[(label, weight (out, in, kh, kw)), ...]``, one entry per Conv2D layer."""
        filters = [(str(label), np.asarray(weight, dtype=np.float32)) for label, weight in filters]
        labels = [self._combo_text(label, weight) for label, weight in filters]
        if labels != [self.layer_combo.itemText(i) for i in range(self.layer_combo.count())]:
            self.layer_combo.blockSignals(True)
            self.layer_combo.clear()
            self.layer_combo.addItems(labels)
            self._selected = min(self._selected, max(len(filters) - 1, 0))
            self.layer_combo.setCurrentIndex(self._selected)
            self.layer_combo.blockSignals(False)
        self._filters = filters
        if not filters:
            self.stack.show_hint(EMPTY_HINT)
            return
        self.stack.show_content()
        self._render()

    def selected(self) -> int:
        return self._selected

    def set_selected(self, index: int) -> None:
        self.layer_combo.setCurrentIndex(index)

    def set_mode(self, mode: str | None) -> None:
        """"pairs", "mean", "rgb", or None for the best one for the layer."""
        if mode is not None and mode not in MODES:
            raise ValueError(f"unknown filter display mode {mode!r}; use one of {', '.join(MODES)}")
        self._mode = mode
        self._render()

    def clear(self) -> None:
        self._model = None
        self._filters = []
        self.layer_combo.clear()
        self.stack.show_hint(EMPTY_HINT)

    # ---- what is shown (used by tests) ----------------------------------------------------
    def shown_mode(self) -> str:
        return self._shown_mode

    def mosaic(self) -> np.ndarray | None:
        """The mosaic as drawn: weights (or RGB in 0..1), NaN in the gaps."""
        return self._mosaic

    def tile_rects(self) -> list[tuple[int, int, int, int]]:
        return [self._layout.rect(i) for i in range(self._layout.count)]

    def levels(self) -> tuple[float, float]:
        return tuple(self.colour_bar.levels())

    def hover_text_at(self, x: float, y: float) -> str:
        """Describe the kernel under mosaic point (x, y); '' over a gap."""
        hit = self._layout.tile_at(x, y)
        if hit is None or not self._filters:
            self.tile_frame.setVisible(False)
            self.hover_label.setText("")
            return ""
        tile, ty, tx = hit
        weight = self._filters[self._selected][1]
        n_in = weight.shape[1]
        if self._shown_mode == "pairs":
            out, inp = divmod(tile, n_in)
            kernel = weight[out, inp]
            what = f"filter {out} · input channel {inp}"
            value = f"weight at row {ty}, column {tx}: {fmt_value(kernel[ty, tx])}"
        elif self._shown_mode == "mean":
            kernel = weight[tile].mean(axis=0)
            what = f"filter {tile} · mean over {n_in} input channels"
            value = f"mean weight at row {ty}, column {tx}: {fmt_value(kernel[ty, tx])}"
        else:
            kernel = weight[tile]
            what = f"filter {tile} (red, green, blue inputs)"
            red, green, blue = (fmt_value(v) for v in kernel[:, ty, tx])
            value = f"weights at row {ty}, column {tx}: R {red} G {green} B {blue}"
        text = f"{what} · min {fmt_value(kernel.min())} · max {fmt_value(kernel.max())} · {value}"
        rx, ry, rw, rh = self._layout.rect(tile)
        self.tile_frame.setRect(QRectF(rx - 0.5, ry - 0.5, rw + 1, rh + 1))
        self.tile_frame.setVisible(True)
        self.hover_label.setText(text)
        return text

    # ---- rendering ------------------------------------------------------------------------
    @staticmethod
    def _combo_text(label: str, weight: np.ndarray) -> str:
        out, n_in = weight.shape[:2]
        return f"{label} — {plural(out, 'filter')} × {plural(n_in, 'input channel')}"

    def _render(self) -> None:
        if not self._filters:
            return
        label, weight = self._filters[self._selected]
        out, n_in, kh, kw = weight.shape
        mode = self._mode or ("rgb" if n_in == 3 else "pairs" if out * n_in <= 1024 else "mean")
        if mode == "rgb" and n_in != 3:
            mode = "pairs"
        self._shown_mode = mode
        rgb_item = self.mode_combo.model().item(list(MODES).index("rgb"))
        rgb_item.setEnabled(n_in == 3)
        self.mode_combo.setCurrentIndex(list(MODES).index(mode))
        self.mode_combo.setVisible(n_in > 1)
        self.mode_label.setVisible(n_in > 1)

        limit = float(np.abs(weight).max()) or 1.0
        if mode == "pairs":
            tiles = weight.reshape(out * n_in, kh, kw)
            cols = n_in if n_in > 1 else grid_shape(out, aspect=1.6)[1]
        elif mode == "mean":
            tiles = weight.mean(axis=1)
            cols = grid_shape(out, aspect=1.6)[1]
        else:
            tiles = (0.5 + 0.5 * weight / limit).transpose(0, 2, 3, 1)  # grey = 0
            cols = grid_shape(out, aspect=1.6)[1]
        self._mosaic, layout = build_mosaic(tiles, cols)
        if mode == "rgb":
            self.image.setImage(self._mosaic, autoLevels=False, levels=(0.0, 1.0), lut=None)
            self.colour_bar.setVisible(False)
        else:
            self.colour_bar.setVisible(True)
            self.image.setImage(self._mosaic, autoLevels=False)
            self.colour_bar.setLevels((-limit, limit))
        height, width = self._mosaic.shape[:2]
        self.backdrop.setRect(QRectF(-1, -1, width + 2, height + 2))
        self._set_axes(mode, out, n_in, layout)
        if mode == "pairs" and n_in > 1:
            self.tile_labels.hide()  # the axes number rows and columns
        else:
            self.tile_labels.show(layout)
        if layout != self._layout:
            self._layout = layout
            margin = 0.1 * max(height, width) if mode == "pairs" and n_in > 1 else 0.02 * max(height, width)
            self.plot.setRange(xRange=(-margin, width + 2), yRange=(-margin, height + 2), padding=0)
        self.tile_frame.setVisible(False)
        size = f"{kh}×{kw}"
        self.title.setText(f"Learned {size} kernels of layer {label} ({plural(out, 'filter')} × "
                           f"{plural(n_in, 'input channel')})")
        if mode == "rgb":
            self.explanation.setText("Each tile is one filter, its three input kernels shown as red, green and blue; "
                                     "grey = 0, brighter = positive, darker = negative. Hover for the weights.")
        else:
            where = {"pairs": "rows are filters, columns their input channels" if n_in > 1
                     else "one numbered tile per filter",
                     "mean": "one numbered tile per filter (the mean of its input kernels)"}[mode]
            self.explanation.setText(f"Blue = negative weight, white = 0, red = positive, on one scale for the layer "
                                     f"(±{fmt_value(limit)}); {where}. A blue band beside a red band is an edge "
                                     "detector. Filter i makes channel i of the layer's feature maps. "
                                     "Hover over a kernel for its weights.")

    def _set_axes(self, mode: str, out: int, n_in: int, layout: MosaicLayout) -> None:
        """Number the rows (filters) and columns (input channels) right beside the grid."""
        grid = mode == "pairs" and n_in > 1
        step_out = max(1, math.ceil(out / MAX_AXIS_TICKS))
        step_in = max(1, math.ceil(n_in / MAX_COLUMN_LABELS))
        rows = list(range(0, out, step_out)) if grid else []
        cols = list(range(0, n_in, step_in)) if grid else []
        for k, item in enumerate(self.row_labels):
            item.setVisible(k < len(rows))
            if k < len(rows):
                item.setText(str(rows[k]))
                item.setPos(-1.5, rows[k] * (layout.tile_h + 1) + layout.tile_h / 2)
        for k, item in enumerate(self.column_labels):
            item.setVisible(k < len(cols))
            if k < len(cols):
                item.setText(str(cols[k]))
                item.setPos(cols[k] * (layout.tile_w + 1) + layout.tile_w / 2, -1.5)
        self.corner_label.setVisible(grid)

    # ---- interaction ----------------------------------------------------------------------
    def _on_layer(self, index: int) -> None:
        if index < 0:
            return
        self._selected = index
        self._render()
        self.selectionChanged.emit(index)

    def _on_mouse(self, pos) -> None:
        if self._mosaic is None or not self.plot.vb.sceneBoundingRect().contains(pos):
            return
        point = self.plot.vb.mapSceneToView(pos)
        self.hover_text_at(point.x(), point.y())
