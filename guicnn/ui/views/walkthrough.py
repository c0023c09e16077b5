"""Step through a convolution or a pooling, value by value, with the layer's real numbers.

Left: the layer's input (one channel) with its padding hatched and the window at the current
output cell (taps outlined, so stride and dilation show). Middle: the window's arithmetic —
for a convolution every "value × weight = product" of the shown input channel, the subtotal
of each input channel, and sum + bias = output; for a pooling the window's values and the
chosen, averaged or summed result (stochastic pooling: each value's probability and the
inference-mode weighted average). Right: the output map filling in as the window moves.

Step, Play/Pause (speed slider), drag the window, click an output cell to jump there. The
arithmetic is core's (``guicnn.core.walkthrough``); the output value shown is the layer's
own ``forward`` value. The view asks for a layer with ``layerRequested``; its owner answers
with ``set_layer``.
"""

from __future__ import annotations

from typing import Any

import numpy as np
from PySide6.QtCore import Qt, QTimer, Signal
from PySide6.QtGui import QFont
from PySide6.QtWidgets import (
    QComboBox,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QPushButton,
    QSlider,
    QSpinBox,
    QSplitter,
    QVBoxLayout,
    QWidget,
)

from guicnn.core.layers.common import fmt_shape
from guicnn.core.walkthrough import Walkthrough, WindowStep, toy_input, toy_size

from ..style import MUTED
from .common import HintStack, caption_label
from .value_grid import ValueGrid, fmt_cell

EMPTY_HINT = ("Step through a convolution or a pooling.\n\nAdd a Conv2D or pooling layer to the design, "
              "then choose it here (or right-click its card ▸ Step through).")
SOURCES = {
    "real": "Layer's real input (probe image through the layers above)",
    "probe": "Probe image (fed straight into this layer)",
    "toy": "Toy input (double-click a cell to edit)",
}
MAX_PRODUCT_GRID = 5  # windows up to 5×5 show every "value × weight = product"
MAX_SUBTOTAL_ROWS = 8
SPEEDS = (1, 30)  # steps per second of Play


def _big_font(widget: QWidget, scale: float, bold: bool = False) -> QFont:
    font = QFont(widget.font())
    font.setPointSizeF(font.pointSizeF() * scale)
    font.setBold(bold)
    return font


def _num(value: float) -> str:
    """Four significant digits for the equations (−∞ and friends spelled out)."""
    if value == 0 or not np.isfinite(value):
        return fmt_cell(value)
    return f"{value:.4g}".replace("-", "−")


class WalkthroughView(QWidget):
    """See the module docstring. ``set_layers`` lists the layers; ``set_layer`` shows one."""

    layerRequested = Signal(int)  # layer index the user chose

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.walk: Walkthrough | None = None
        self.layer_index: int | None = None
        self._layer: Any = None
        self._inputs: dict[str, np.ndarray | None] = {}
        self._toy: np.ndarray | None = None
        self._source = "real"
        self.cell = (0, 0)
        self.channel = 0
        self.input_channel = 0
        self._done = np.zeros((0, 0), bool)
        self._step: WindowStep | None = None
        self._entries: list[tuple[int, str]] = []
        self._timer = QTimer(self)
        self._timer.timeout.connect(self._tick)
        self._editor: QLineEdit | None = None
        self._input_key: tuple | None = None  # (walkthrough, channel) the input grid shows
        self._output_key: tuple | None = None
        self._build_ui()
        self._set_speed(self.speed.value())

    # ---- layout -------------------------------------------------------------------------
    def _build_ui(self) -> None:
        self.layer_combo = QComboBox()
        self.layer_combo.setMinimumContentsLength(16)
        self.layer_combo.activated.connect(self._layer_chosen)
        self.source_combo = QComboBox()
        for key, text in SOURCES.items():
            self.source_combo.addItem(text, key)
        self.source_combo.activated.connect(lambda row: self.set_source(self.source_combo.itemData(row)))
        # Sized by a few characters, not by its longest choice: at 1366x768 that row alone was
        # wider than the centre of the window (the list still shows whole choices).
        for combo in (self.layer_combo, self.source_combo):
            combo.setSizeAdjustPolicy(QComboBox.SizeAdjustPolicy.AdjustToMinimumContentsLengthWithIcon)
        self.source_combo.setMinimumContentsLength(16)
        self.channel_label = QLabel("Filter")
        self.channel_spin = QSpinBox()
        self.channel_spin.valueChanged.connect(self.set_channel)
        self.step_button = QPushButton("Step ▶")
        self.step_button.setToolTip("Move the window to the next output cell (row by row)")
        self.step_button.clicked.connect(self.step_forward)
        self.play_button = QPushButton("Play")
        self.play_button.setCheckable(True)
        self.play_button.toggled.connect(self.set_playing)
        self.speed = QSlider(Qt.Orientation.Horizontal)
        self.speed.setRange(*SPEEDS)
        self.speed.setValue(3)
        self.speed.setFixedWidth(110)
        self.speed.valueChanged.connect(self._set_speed)
        self.speed_label = QLabel()
        self.clear_button = QPushButton("Clear output")
        self.clear_button.setToolTip("Start again: hide the output values computed so far")
        self.clear_button.clicked.connect(self.restart)
        self.fill_button = QPushButton("Fill all")
        self.fill_button.setToolTip("Show every output value at once")
        self.fill_button.clicked.connect(self.fill_all)

        top = QHBoxLayout()
        top.addWidget(QLabel("Layer"))
        top.addWidget(self.layer_combo, 2)
        top.addWidget(QLabel("Input"))
        top.addWidget(self.source_combo, 2)
        top.addWidget(self.channel_label)
        top.addWidget(self.channel_spin)
        controls = QHBoxLayout()
        for widget in (self.step_button, self.play_button):
            controls.addWidget(widget)
        controls.addWidget(QLabel("Speed"))
        controls.addWidget(self.speed)
        controls.addWidget(self.speed_label)
        controls.addStretch(1)
        controls.addWidget(self.clear_button)
        controls.addWidget(self.fill_button)
        self.note = caption_label(muted=True)

        self.input_title = caption_label(bold=True)
        self.input_channel_combo = QComboBox()
        self.input_channel_combo.activated.connect(self.set_input_channel)
        self.input_grid = ValueGrid()
        self.input_grid.windowDragged.connect(self._window_dragged)
        self.input_grid.cellClicked.connect(self._input_clicked)
        self.input_grid.cellDoubleClicked.connect(self._edit_toy_cell)
        self.input_grid.tooltip_fn = self._input_tooltip
        input_panel = self._panel(self.input_title, self.input_channel_combo, self.input_grid)

        self.window_title = caption_label(bold=True)
        self.products_grid = ValueGrid(max_cell=118)
        self.products_grid.tooltip_fn = self._window_tooltip
        self.subtotals = QLabel()
        self.subtotals.setWordWrap(True)
        self.subtotals.setFont(_big_font(self, 1.15))
        self.subtotals.linkActivated.connect(lambda link: self.set_input_channel(int(link)))
        self.equation = QLabel()
        self.equation.setWordWrap(True)
        self.equation.setFont(_big_font(self, 1.6, bold=True))
        self.equation.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.engine_line = caption_label(muted=True)
        window_panel = self._panel(self.window_title, self.products_grid, self.subtotals, self.equation,
                                   self.engine_line, stretch_index=1)

        self.output_title = caption_label(bold=True)
        self.output_grid = ValueGrid()
        self.output_grid.cellClicked.connect(self.jump_to)
        self.output_grid.tooltip_fn = self._output_tooltip
        output_panel = self._panel(self.output_title, self.output_grid)

        self.splitter = QSplitter(Qt.Orientation.Horizontal)
        for panel in (input_panel, window_panel, output_panel):
            self.splitter.addWidget(panel)
        self.splitter.setStretchFactor(0, 4)
        self.splitter.setStretchFactor(1, 4)
        self.splitter.setStretchFactor(2, 3)
        self.explanation = caption_label(muted=True)

        content = QWidget()
        column = QVBoxLayout(content)
        column.setContentsMargins(0, 0, 0, 0)
        column.addLayout(top)
        column.addLayout(controls)
        column.addWidget(self.note)
        column.addWidget(self.splitter, 1)
        column.addWidget(self.explanation)
        self.stack = HintStack.fill(self, content, EMPTY_HINT)

    @staticmethod
    def _panel(*widgets: QWidget, stretch_index: int | None = None) -> QWidget:
        panel = QWidget()
        column = QVBoxLayout(panel)
        column.setContentsMargins(4, 0, 4, 0)
        for index, widget in enumerate(widgets):
            grows = isinstance(widget, ValueGrid) if stretch_index is None else index == stretch_index
            column.addWidget(widget, 1 if grows else 0)
        return panel

    # ---- what to show -------------------------------------------------------------------
    def set_layers(self, entries: list[tuple[int, str]]) -> None:
        """The layers that can be stepped through: (layer index, label)."""
        self._entries = list(entries)
        self.layer_combo.blockSignals(True)
        self.layer_combo.clear()
        for _, label in entries:
            self.layer_combo.addItem(label)
        indices = [index for index, _ in entries]
        if self.layer_index in indices:
            self.layer_combo.setCurrentIndex(indices.index(self.layer_index))
        self.layer_combo.blockSignals(False)
        if not entries:
            self.clear()

    def requested_layer(self) -> int | None:
        """The layer shown or chosen (the first walkable one when none was chosen yet)."""
        indices = [index for index, _ in self._entries]
        if self.layer_index in indices:
            return self.layer_index
        return indices[0] if indices else None

    def set_layer(self, index: int, layer: Any, inputs: dict[str, np.ndarray | None], note: str = "") -> None:
        """Show layer ``index`` (a built core layer with its weights). ``inputs``: "real" — what the
        layer receives for the probe image; "probe" — the probe image itself (either may be None)."""
        same_layer = index == self.layer_index and self._layer is not None and \
            self._layer.get_config() == layer.get_config()
        self.layer_index, self._layer, self._inputs = index, layer, dict(inputs)
        if not same_layer:
            channels = layer.input_shape[0]
            self._toy = toy_input(channels, toy_size(layer, channels))
            self.channel = self.input_channel = 0
            self._done = np.zeros((0, 0), bool)
        indices = [i for i, _ in self._entries]
        if index in indices:
            self.layer_combo.setCurrentIndex(indices.index(index))
        self.note.setText(note)
        source = self._source if self._source_available(self._source) else \
            next(key for key in SOURCES if self._source_available(key))
        self._use_source(source, keep_position=same_layer)
        self.stack.show_content()

    def clear(self, hint: str | None = None) -> None:
        self.set_playing(False)
        self.walk, self._layer, self.layer_index, self._step = None, None, None, None
        self.stack.show_hint(hint or EMPTY_HINT)

    def _source_available(self, source: str) -> bool:
        if source == "toy":
            return True
        x = self._inputs.get(source)
        return x is not None and self._layer is not None and np.ndim(x) == 3 and \
            np.shape(x)[0] == self._layer.input_shape[0]

    def set_source(self, source: str) -> None:
        """Step through the "real" input, the "probe" image or the "toy" input."""
        if self._layer is None or not self._source_available(source):
            self._sync_source_combo()
            return
        self._use_source(source, keep_position=False)

    def _use_source(self, source: str, keep_position: bool) -> None:
        self._source = source
        x = self._toy if source == "toy" else self._inputs[source]
        self.walk = Walkthrough(self._layer, x)
        oh, ow = self.walk.output_hw
        if not keep_position or self._done.shape != (oh, ow):
            self._done = np.zeros((oh, ow), bool)
            self.cell = (0, 0)
        self.cell = (min(self.cell[0], oh - 1), min(self.cell[1], ow - 1))
        self.channel = min(self.channel, self.walk.channels - 1)
        self._sync_controls()
        self._show_cell(self.cell)

    def _sync_source_combo(self) -> None:
        model = self.source_combo.model()
        for row in range(self.source_combo.count()):
            model.item(row).setEnabled(self._source_available(self.source_combo.itemData(row)))
        self.source_combo.setCurrentIndex(list(SOURCES).index(self._source))

    def _sync_controls(self) -> None:
        walk = self.walk
        conv = walk.kind == "convolution"
        self._sync_source_combo()
        self.channel_label.setText("Filter" if conv else "Channel")
        self.channel_spin.blockSignals(True)
        self.channel_spin.setRange(0, walk.channels - 1)
        self.channel_spin.setValue(self.channel)
        self.channel_spin.blockSignals(False)
        self.channel_spin.setToolTip("Which filter's output to compute" if conv else "Pooling works on each channel alone")
        in_channels = walk.input.shape[0]
        self.input_channel = self.input_channel if conv and self.input_channel < in_channels else \
            (0 if conv else self.channel)
        self.input_channel_combo.blockSignals(True)
        self.input_channel_combo.clear()
        self.input_channel_combo.addItems([f"input channel {c}" for c in range(in_channels)])
        self.input_channel_combo.setCurrentIndex(self.input_channel)
        self.input_channel_combo.blockSignals(False)
        self.input_channel_combo.setVisible(conv and in_channels > 1)
        self.explanation.setText(self._explanation())

    # ---- stepping -----------------------------------------------------------------------
    def step_forward(self) -> None:
        """The next output cell in raster order (after the last: the first)."""
        if self.walk is not None:
            self._show_cell(self.walk.next_cell(*self.cell))

    def jump_to(self, row: int, col: int) -> None:
        """Move the window to output cell (row, col)."""
        if self.walk is not None:
            oh, ow = self.walk.output_hw
            self._show_cell((min(max(row, 0), oh - 1), min(max(col, 0), ow - 1)))

    def set_playing(self, on: bool) -> None:
        if self.play_button.isChecked() != on:
            self.play_button.setChecked(on)  # comes back here through toggled
            return
        self.play_button.setText("Pause" if on else "Play")
        if on and self.walk is not None:
            if self._done.all():
                self.restart()
            self._timer.start()
        else:
            self._timer.stop()

    @property
    def playing(self) -> bool:
        return self._timer.isActive()

    def _tick(self) -> None:
        if self.walk is None:
            self.set_playing(False)
            return
        if self._done.all():
            self.set_playing(False)
            return
        self.step_forward()

    def _set_speed(self, steps_per_second: int) -> None:
        self._timer.setInterval(int(1000 / max(steps_per_second, 1)))
        self.speed_label.setText(f"{steps_per_second} step{'s' if steps_per_second > 1 else ''}/s")

    def restart(self) -> None:
        """Hide the computed output values and put the window back at the first cell."""
        if self.walk is not None:
            self._done[...] = False
            self._show_cell((0, 0))

    def fill_all(self) -> None:
        if self.walk is not None:
            self._done[...] = True
            self._show_output()

    def set_channel(self, channel: int) -> None:
        """The output channel (the filter of a convolution) to compute."""
        if self.walk is None or not 0 <= channel < self.walk.channels or channel == self.channel:
            return
        self.channel = channel
        if self.walk.kind != "convolution":
            self.input_channel = channel
        self.channel_spin.setValue(channel)
        self._show_cell(self.cell)

    def set_input_channel(self, channel: int) -> None:
        """Which input channel the input grid and the products show (convolution)."""
        if self.walk is None or self.walk.kind != "convolution" or not 0 <= channel < self.walk.input.shape[0]:
            return
        self.input_channel = channel
        self.input_channel_combo.setCurrentIndex(channel)
        self._show_cell(self.cell)

    def _layer_chosen(self, row: int) -> None:
        if 0 <= row < len(self._entries):
            self.set_playing(False)
            self.layerRequested.emit(self._entries[row][0])

    def _window_dragged(self, origin_row: float, origin_col: float) -> None:
        if self.walk is not None:
            cell = self.walk.nearest_cell(origin_row, origin_col)
            if cell != self.cell:
                self._show_cell(cell)

    def _input_clicked(self, row: int, col: int) -> None:
        if self.walk is not None:
            self._show_cell(self.walk.cell_for_pixel(row, col))

    # ---- the toy input ------------------------------------------------------------------
    def set_toy_value(self, channel: int, row: int, col: int, value: float) -> None:
        """Change one pixel of the toy input (unpadded coordinates) and recompute."""
        if self._toy is None:
            return
        self._toy[channel, row, col] = value
        if self._source == "toy":
            self._use_source("toy", keep_position=True)

    def _edit_toy_cell(self, row: int, col: int) -> None:
        walk = self.walk
        if walk is None or self._source != "toy" or walk.padding_mask[row, col]:
            return
        top, _, left, _ = walk.pads
        editor = QLineEdit(self.input_grid)
        editor.setAlignment(Qt.AlignmentFlag.AlignCenter)
        editor.setText(f"{float(walk.padded[self.input_channel, row, col]):g}")
        editor.setGeometry(self.input_grid.cell_rect(row, col).toRect().adjusted(-12, 0, 12, 0))
        editor.selectAll()
        channel = self.input_channel

        def commit() -> None:
            try:
                value = float(editor.text().replace("−", "-"))
            except ValueError:
                value = None
            editor.deleteLater()
            self._editor = None
            if value is not None and np.isfinite(value):
                self.set_toy_value(channel, row - top, col - left, value)

        editor.editingFinished.connect(commit)
        editor.show()
        editor.setFocus()
        self._editor = editor

    # ---- drawing ------------------------------------------------------------------------
    def _show_cell(self, cell: tuple[int, int]) -> None:
        walk = self.walk
        self.cell = cell
        self._done[cell] = True
        step = self._step = walk.step(cell[0], cell[1], self.channel)
        self._show_input(step)
        self._show_window(step)
        self._show_output()

    def _show_input(self, step: WindowStep) -> None:
        walk = self.walk
        channel = self.input_channel
        if self._input_key != (id(walk), channel):  # a step only moves the window
            self._input_key = (id(walk), channel)
            self.input_grid.set_values(walk.padded[channel], padding=walk.padding_mask)
        kh, kw = walk.effective_kernel
        r0, c0 = step.origin
        chosen = None if step.chosen is None else (int(step.tap_rows[step.chosen[0]]), int(step.tap_cols[step.chosen[1]]))
        self.input_grid.set_overlay(taps=[(int(r), int(c)) for r in step.tap_rows for c in step.tap_cols],
                                    window=(r0, c0, r0 + kh - 1, c0 + kw - 1), chosen=chosen)
        c, h, w = walk.input.shape
        top, bottom, left, right = walk.pads
        pads = "no padding" if not any(walk.pads) else (
            f"padding {top}" if len(set(walk.pads)) == 1 else f"padding top {top}, bottom {bottom}, left {left}, right {right}")
        pad_value = {"max": "−∞", "min": "+∞"}.get(walk.kind, "0")
        where = f"channel {channel} of {c}" if c > 1 else "1 channel"
        self.input_title.setText(f"Input {h}×{w} ({where}) · {pads}"
                                 + (f" (hatched, value {pad_value})" if any(walk.pads) else ""))

    def _show_window(self, step: WindowStep) -> None:
        walk = self.walk
        kh, kw = walk.kernel
        r0, c0 = step.origin
        top, _, left, _ = walk.pads
        rows = f"{r0 - top}–{r0 - top + walk.effective_kernel[0] - 1}"
        cols = f"{c0 - left}–{c0 - left + walk.effective_kernel[1] - 1}"
        what = f"filter {step.channel}" if walk.kind == "convolution" else f"channel {step.channel}"
        self.window_title.setText(f"Output ({step.row}, {step.col}) of {what}: window on input rows {rows}, "
                                  f"columns {cols} (stride {_pair(walk.stride)}"
                                  + (f", dilation {_pair(walk.dilation)}" if walk.dilation != (1, 1) else "") + ")")
        if walk.kind == "convolution":
            self._show_convolution(step, kh, kw)
        else:
            self._show_pooling(step, kh, kw)
        output = _num(step.output)
        agree = "✓" if np.isclose(step.total, step.output, rtol=1e-5, atol=1e-5) else "✗"
        self.engine_line.setText(f"The engine's forward() gives {output} at this position {agree}")

    def _show_convolution(self, step: WindowStep, kh: int, kw: int) -> None:
        channel = self.input_channel
        values, weights, products = step.values[channel], step.weights[channel], step.products[channel]
        texts = None
        if kh <= MAX_PRODUCT_GRID and kw <= MAX_PRODUCT_GRID:
            texts = [[f"{fmt_cell(values[i, j])}\n× {fmt_cell(weights[i, j])}\n= {fmt_cell(products[i, j])}"
                      for j in range(kw)] for i in range(kh)]
        self.products_grid.set_values(products, padding=step.in_padding, texts=texts)
        self.products_grid.set_overlay()
        self.subtotals.setText(self._subtotal_text(step))
        count = len(step.subtotals)
        summed = float(step.subtotals.sum())
        head = f"Σ {kh * kw} products" if count == 1 else f"Σ over {count} channels"
        bias = f" + bias {_num(step.bias)}" if "bias" in self.walk.layer.params else " (no bias)"
        self.equation.setText(f"{head} = {_num(summed)}{bias} = {_num(step.total)}")

    def _subtotal_text(self, step: WindowStep) -> str:
        count = len(step.subtotals)
        chosen = self.input_channel
        if count == 1:
            return "Each cell: input value × the filter's weight = product."
        start = max(0, min(chosen - MAX_SUBTOTAL_ROWS // 2, count - MAX_SUBTOTAL_ROWS))
        shown = range(start, min(count, start + MAX_SUBTOTAL_ROWS))
        lines = []
        for c in shown:
            text = f"channel {c}: Σ = {_num(step.subtotals[c])}"
            lines.append(f"<b>▶ {text}</b>" if c == chosen else f"<a href='{c}'>{text}</a>")
        hidden = count - len(shown)
        if hidden:
            lines.append(f"<span style='color:{MUTED}'>… {hidden} more channel{'s' if hidden > 1 else ''} "
                         f"(pick one above the input)</span>")
        return "Per input channel (click one to see its products):<br>" + "<br>".join(lines)

    def _show_pooling(self, step: WindowStep, kh: int, kw: int) -> None:
        walk = self.walk
        values = step.values[0].astype(np.float64)
        texts = [[fmt_cell(values[i, j]) for j in range(kw)] for i in range(kh)]
        if step.probabilities is not None:
            texts = [[f"{fmt_cell(values[i, j])}\np = {step.probabilities[i, j]:.2f}" for j in range(kw)]
                     for i in range(kh)]
        self.products_grid.set_values(values, padding=step.in_padding, texts=texts)
        self.products_grid.set_overlay(chosen=step.chosen)
        n = kh * kw
        total = _num(step.total)
        if walk.kind == "max":
            text, detail = f"max of {n} values = {total}", "The largest value (green frame) is kept; the others are dropped."
        elif walk.kind == "min":
            text, detail = f"min of {n} values = {total}", "The smallest value (green frame) is kept."
        elif walk.kind == "average":
            text = f"({_num(float(values.sum()))}) ÷ {n} = {total}"
            detail = "The average of the window (padding counts as 0 in the average, as in PyTorch)."
        elif walk.kind == "sum":
            text, detail = f"Σ {n} values = {total}", "The window's values added up."
        else:
            mass = float(np.maximum(values, 0).sum())
            text = f"Σ p·a = {total}"
            detail = (f"Probabilities p = a ÷ Σa with Σa = {_num(mass)} (negative values count as 0). Training "
                      "picks one value at random with these probabilities; inference (shown) takes the "
                      "probability-weighted average.")
        self.subtotals.setText(detail)
        self.equation.setText(text)

    def _show_output(self) -> None:
        walk = self.walk
        if self._output_key != (id(walk), self.channel):
            self._output_key = (id(walk), self.channel)
            self.output_grid.set_values(walk.output[self.channel], shown=self._done)
        else:  # only more of it is computed
            self.output_grid.set_shown(self._done)
        self.output_grid.set_overlay(current=self.cell)
        c, oh, ow = walk.output.shape
        done = int(self._done.sum())
        what = f"filter {self.channel} of {c}" if walk.kind == "convolution" else f"channel {self.channel} of {c}"
        self.output_title.setText(f"Output {oh}×{ow} ({what}) · {done} of {oh * ow} computed")

    # ---- texts --------------------------------------------------------------------------
    def _explanation(self) -> str:
        walk = self.walk
        stride = _pair(walk.stride)
        move = (f"Stride {stride}: the window moves {stride} pixel{'s' if stride != '1' else ''} per output cell. ")
        if walk.kind == "convolution":
            text = ("Each output value is the sum, over every input channel, of the window's values times the "
                    "filter's weights, plus the filter's bias. The same weights are used at every position. ")
            text += move
            if walk.dilation != (1, 1):
                text += f"Dilation {_pair(walk.dilation)}: the taps are spread apart, leaving gaps the kernel skips. "
        else:
            text = {"max": "Max pooling keeps the largest value of each window, channel by channel. ",
                    "min": "Min pooling keeps the smallest value of each window, channel by channel. ",
                    "average": "Average pooling takes the mean of each window, channel by channel. ",
                    "sum": "Sum pooling adds up each window, channel by channel. ",
                    "stochastic": "Stochastic pooling picks a value with probability proportional to it "
                                  "(training) or takes the probability-weighted average (inference). "}[walk.kind]
            text += move
        if any(walk.pads):
            text += "Hatched cells are padding."
        return text + " Drag the window or click an output cell to jump."

    def _input_tooltip(self, row: int, col: int) -> str:
        walk = self.walk
        if walk is None:
            return ""
        top, _, left, _ = walk.pads
        if walk.padding_mask[row, col]:
            return "padding"
        return f"input ({row - top}, {col - left}) = {float(walk.padded[self.input_channel, row, col]):.6g}"

    def _window_tooltip(self, row: int, col: int) -> str:
        step = self._step
        if step is None or row >= step.values.shape[1] or col >= step.values.shape[2]:
            return ""
        if step.products is not None:
            c = self.input_channel
            return (f"{float(step.values[c, row, col]):.6g} × {float(step.weights[c, row, col]):.6g} = "
                    f"{float(step.products[c, row, col]):.6g}")
        return f"{float(step.values[0, row, col]):.6g}"

    def _output_tooltip(self, row: int, col: int) -> str:
        if self.walk is None:
            return ""
        if not self._done[row, col]:
            return f"output ({row}, {col}): not computed yet — click to compute it"
        return f"output ({row}, {col}) = {float(self.walk.output[self.channel, row, col]):.6g}"

    # ---- for tests and owners -----------------------------------------------------------
    def shown_output(self) -> np.ndarray:
        """The output map as drawn: NaN where not computed yet."""
        out = np.array(self.walk.output[self.channel], dtype=np.float64)
        out[~self._done] = np.nan
        return out

    def input_shape_text(self) -> str:
        return fmt_shape(self.walk.input.shape) if self.walk is not None else ""

    def hideEvent(self, event) -> None:
        self.set_playing(False)  # nothing ticks in a hidden tab
        super().hideEvent(event)


def _pair(pair: tuple[int, int]) -> str:
    return str(pair[0]) if pair[0] == pair[1] else f"{pair[0]}×{pair[1]}"
