"""Loss and accuracy curves: training per batch (optionally smoothed), validation per epoch, best epoch."""

from __future__ import annotations

import math
import re
import time
from typing import Any, Mapping, Sequence

import numpy as np
import pyqtgraph as pg
from PySide6.QtCore import QRectF, Qt, QTimer
from PySide6.QtGui import QFont, QFontMetrics
from PySide6.QtWidgets import QCheckBox, QHBoxLayout, QLabel, QSlider, QVBoxLayout, QWidget

from guicnn.core.training import batch_positions
from guicnn.ui.views.common import (
    BEST_COLOUR,
    REFERENCE_COLOUR,
    TRAIN_COLOUR,
    VAL_COLOUR,
    HintStack,
    caption_label,
    fmt_percent,
    fmt_value,
    style_plot,
)
from guicnn.ui.widgets.image_export import add_image_menu

#: How far (in epochs) left of the first batch shown the readout still reads batches: further
#: left, in a loaded history that training continued, the per-epoch values answer.
STEP_READOUT_REACH = 0.5
TITLE = "Loss and accuracy"  # short: beside the smoothing controls a long title wrapped into a tall column
MIN_REDRAW_MS = 200  # at most 5 redraws a second: each costs ~15 ms of software painting
READOUT_HINT = "Training per batch, validation after each epoch. Hover over a plot to read the values at that epoch."
MIN_PLOT_HEIGHT = 190  # px of the two plots with their legend
LEGEND_ENTRY_EXTRA = 56  # px of a legend entry besides its text: the line sample and the spacing
EMPTY_HINT = ("No training yet.\n\nPress Train: the training loss and accuracy appear here after every "
              "batch, the validation loss and accuracy after every epoch.")


class GrowingColumns:
    """Float64 columns with amortised O(1) appends: the capacity doubles when full."""

    def __init__(self, columns: int, capacity: int = 1024) -> None:
        self._data = np.full((columns, capacity), np.nan)
        self.size = 0

    def extend(self, block: np.ndarray) -> None:
        """Append rows of ``block`` (k, columns)."""
        block = np.asarray(block, dtype=np.float64).reshape(-1, self._data.shape[0])
        needed = self.size + len(block)
        if needed > self._data.shape[1]:
            capacity = max(needed, 2 * self._data.shape[1])
            grown = np.full((self._data.shape[0], capacity), np.nan)
            grown[:, : self.size] = self._data[:, : self.size]
            self._data = grown
        self._data[:, self.size : needed] = block.T
        self.size = needed

    def set_column(self, index: int, values: np.ndarray) -> None:
        self._data[index, : self.size] = values

    def column(self, index: int) -> np.ndarray:
        """A view of the filled part of one column (do not keep it across appends)."""
        return self._data[index, : self.size]

    def clear(self) -> None:
        self.size = 0


def ema(values: np.ndarray, weight: float, state: float = 0.0, count: int = 0) -> tuple[np.ndarray, float, int]:
    """TensorBoard's debiased exponential moving average, vectorised, continuing from (state, count).

    ``s_t = w s_(t-1) + (1 - w) x_t`` reported as ``s_t / (1 - w^t)``. Non-finite values are
    skipped (their output is NaN). Returns (smoothed, new state, new count).
    """
    values = np.asarray(values, dtype=np.float64)
    out = np.full(values.shape, np.nan)
    finite = np.isfinite(values)
    x = values[finite]
    if weight <= 0.0:
        out[finite] = x
        return out, (float(x[-1]) if x.size else state), count + x.size
    smoothed = np.empty_like(x)
    # Within a chunk s_k = w^(k+1) s0 + (1-w) w^k cumsum(x_j w^-j); the chunk is short enough
    # that w^-j stays far from overflow.
    chunk = int(max(1, min(4096, 230.0 / -math.log(weight))))
    for start in range(0, x.size, chunk):
        part = x[start : start + chunk]
        k = np.arange(part.size)
        w_k = weight ** k
        s = weight * w_k * state + (1.0 - weight) * w_k * np.cumsum(part / w_k)
        smoothed[start : start + part.size] = s
        state = float(s[-1])
    steps = count + 1 + np.arange(x.size)
    out[finite] = smoothed / (1.0 - weight ** steps)
    return out, state, count + x.size


class CurvesView(QWidget):
    """Loss (left) and accuracy (right) against epochs.

    * ``add_step(epoch, loss, accuracy)``: one training batch; ``epoch`` is fractional, the
      epochs completed so far (batch b of B in 1-based epoch e is ``e - 1 + b / B``); it must
      not decrease, so call ``clear()`` (or ``set_history``) when training restarts.
    * ``add_steps(epochs, losses, accuracies)``: many batches at once (arrays).
    * ``add_epoch(epoch, val_loss, val_accuracy, train_loss=None, train_accuracy=None)``:
      after epoch ``epoch`` (1-based); values may be None (no validation split).
    * ``set_history(history)``: a loaded model's per-epoch history (keys ``train_loss``,
      ``train_accuracy``, ``val_loss``, ``val_accuracy``, optional ``epoch``); replaces everything.
    * ``clear()``; ``flush()`` redraws now (appends are redrawn together, at most 20 times a second).
    * ``set_reference(history, label, summary)`` / ``clear_reference()``: a pinned model's per-epoch
      history drawn over the curves in its own colour, dashed, with legend entries (A/B comparison);
      ``clear()`` leaves it.

    Accuracies are fractions 0..1 and shown in percent. Appends cost microseconds; the
    coalesced redraw is one ``setData`` per curve with the filled slice of growing buffers.
    """

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self._steps = GrowingColumns(5)  # x, loss, accuracy %, smoothed loss, smoothed accuracy %
        self._epochs = GrowingColumns(5)  # x, val loss, val accuracy %, train loss, train accuracy %
        self._ema_state = [0.0, 0.0]
        self._ema_count = [0, 0]
        self._weight = 0.6
        self._legend_key: tuple | None = None
        self._legend_names: list[str] = []
        self._best_text = ""
        self._reference: tuple[str, str] | None = None  # (label, summary) of the pinned model
        self._best_index: int | None = None
        self._steps_dirty = self._epochs_dirty = True
        self._covered = -1
        self._last_flush = 0.0
        self._build_ui()
        self._redraw_timer = QTimer(self)
        self._redraw_timer.setSingleShot(True)
        self._redraw_timer.timeout.connect(self.flush)

    # ---- construction ---------------------------------------------------------------------
    def _build_ui(self) -> None:
        self.title = caption_label(TITLE, bold=True)
        self.title.setToolTip("Training per batch (faint: raw, dark: smoothed), validation after each epoch")
        self.smoothing_slider = QSlider(Qt.Orientation.Horizontal)
        self.smoothing_slider.setRange(0, 99)
        self.smoothing_slider.setValue(round(self._weight * 100))
        self.smoothing_slider.setFixedWidth(140)
        self.smoothing_slider.setToolTip(
            "Exponential moving average of the per-batch training values (as in TensorBoard).\n"
            "0 = raw values; 0.99 = very smooth. Validation values are never smoothed.")
        self.smoothing_value = QLabel(f"{self._weight:.2f}")
        self.smoothing_value.setMinimumWidth(32)
        self.smoothing_slider.valueChanged.connect(self._on_smoothing)
        self.log_loss = QCheckBox("Log-scale loss")
        self.log_loss.setToolTip("Show the loss on a logarithmic axis: small late improvements become visible.")
        self.log_loss.toggled.connect(self._on_log_loss)
        header = QHBoxLayout()
        header.addWidget(self.title, 1)
        header.addWidget(QLabel("Smoothing"))
        header.addWidget(self.smoothing_slider)
        header.addWidget(self.smoothing_value)
        header.addSpacing(12)
        header.addWidget(self.log_loss)

        self.readout = caption_label(READOUT_HINT, muted=True)
        self.readout.setTextFormat(Qt.TextFormat.RichText)
        self.readout.setMinimumHeight(self.readout.fontMetrics().height() * 2 + 4)

        self.graphics = pg.GraphicsLayoutWidget()
        self.graphics.setMinimumHeight(MIN_PLOT_HEIGHT)  # lower, the curves collapse to flat lines
        add_image_menu(self.graphics, "training-curves")  # right-click: save as PNG/SVG, copy
        self.graphics.ci.setContentsMargins(4, 4, 8, 4)
        self.loss_plot = self.graphics.addPlot(row=0, col=0)
        self.accuracy_plot = self.graphics.addPlot(row=0, col=1)
        style_plot(self.loss_plot, "Loss (lower is better)", "epoch", "loss")
        style_plot(self.accuracy_plot, "Accuracy (higher is better)", "epoch", "accuracy (%)")
        self.accuracy_plot.setXLink(self.loss_plot)
        for plot in (self.loss_plot, self.accuracy_plot):
            plot.setClipToView(True)
            plot.setDownsampling(auto=True, mode="peak")
            plot.setLimits(xMin=0)
            plot.getAxis("bottom").setTickDensity(1.6)  # a tick per epoch for short runs
        self.accuracy_plot.setLimits(yMin=-5, yMax=105)

        faint = pg.mkColor(TRAIN_COLOUR)
        faint.setAlpha(70)
        self.curves: dict[str, dict[str, pg.PlotDataItem]] = {}
        for key, plot in (("loss", self.loss_plot), ("accuracy", self.accuracy_plot)):
            self.curves[key] = {
                "raw": plot.plot(pen=pg.mkPen(faint, width=1)),
                "smooth": plot.plot(pen=pg.mkPen(TRAIN_COLOUR, width=1)),
                "train_epoch": plot.plot(pen=pg.mkPen(TRAIN_COLOUR, width=2, style=Qt.PenStyle.DashLine),
                                         symbol="o", symbolSize=6, symbolPen=pg.mkPen(TRAIN_COLOUR, width=1.5),
                                         symbolBrush=pg.mkBrush("w")),
                "val": plot.plot(pen=pg.mkPen(VAL_COLOUR, width=2), symbol="o", symbolSize=7,
                                 symbolPen=pg.mkPen(VAL_COLOUR), symbolBrush=pg.mkBrush(VAL_COLOUR),
                                 connect="finite"),
            }
        # A pinned model (A/B): its own colour, dashed validation and dotted training-per-epoch.
        self.reference_curves: dict[str, dict[str, pg.PlotDataItem]] = {}
        for key, plot in (("loss", self.loss_plot), ("accuracy", self.accuracy_plot)):
            self.reference_curves[key] = {
                "val": plot.plot(pen=pg.mkPen(REFERENCE_COLOUR, width=2, style=Qt.PenStyle.DashLine),
                                 symbol="t", symbolSize=7, symbolPen=pg.mkPen(REFERENCE_COLOUR),
                                 symbolBrush=pg.mkBrush(REFERENCE_COLOUR), connect="finite"),
                "train": plot.plot(pen=pg.mkPen(REFERENCE_COLOUR, width=1.5, style=Qt.PenStyle.DotLine),
                                   connect="finite"),
            }
        self.best_lines = []
        self.crosshairs = []
        # The best-epoch label sits where curves rarely are: high in the loss plot, low in the accuracy plot.
        for plot, height in ((self.loss_plot, 0.93), (self.accuracy_plot, 0.07)):
            best = pg.InfiniteLine(angle=90, movable=False, pen=pg.mkPen(BEST_COLOUR, width=1.5,
                                                                          style=Qt.PenStyle.DashLine),
                                   label="", labelOpts={"position": height, "color": BEST_COLOUR,
                                                        "fill": pg.mkBrush(255, 255, 255, 200)})
            best.setVisible(False)
            best.setZValue(5)
            plot.addItem(best, ignoreBounds=True)
            self.best_lines.append(best)
            plot.vb.sigResized.connect(self._place_best_labels)
            plot.vb.sigXRangeChanged.connect(self._place_best_labels)
            cross = pg.InfiniteLine(angle=90, movable=False, pen=pg.mkPen("#8a949e", width=1))
            cross.setVisible(False)
            plot.addItem(cross, ignoreBounds=True)
            self.crosshairs.append(cross)
        # One legend for both plots, under them, so it never hides a curve.
        self.legend = pg.LegendItem(colCount=4, horSpacing=24)
        self.legend.setLabelTextColor("#333a40")
        self.graphics.addItem(self.legend, row=1, col=0, colspan=2)
        self._mouse_proxy = pg.SignalProxy(self.graphics.scene().sigMouseMoved, rateLimit=30, slot=self._on_mouse)

        content = QWidget()
        column = QVBoxLayout(content)
        column.setContentsMargins(0, 0, 0, 0)
        column.addWidget(self.readout)
        column.addWidget(self.graphics, 1)
        self.stack = HintStack(content, EMPTY_HINT)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(6, 6, 6, 6)
        layout.addLayout(header)
        layout.addWidget(self.stack, 1)

    # ---- public API -----------------------------------------------------------------------
    def add_step(self, epoch: float, loss: float, accuracy: float) -> None:
        """One training batch (``epoch`` fractional, ``accuracy`` 0..1)."""
        self.add_steps([epoch], [loss], [accuracy])

    def add_steps(self, epochs: Sequence[float], losses: Sequence[float], accuracies: Sequence[float]) -> None:
        """Many training batches at once (equal-length sequences)."""
        x = np.asarray(epochs, dtype=np.float64).ravel()
        loss = np.asarray(losses, dtype=np.float64).ravel()
        acc = 100.0 * np.asarray(accuracies, dtype=np.float64).ravel()
        if not (len(x) == len(loss) == len(acc)):
            raise ValueError(f"add_steps needs equal lengths, got {len(x)}, {len(loss)}, {len(acc)}")
        smooth_loss, self._ema_state[0], self._ema_count[0] = ema(loss, self._weight, self._ema_state[0],
                                                                  self._ema_count[0])
        smooth_acc, self._ema_state[1], self._ema_count[1] = ema(acc, self._weight, self._ema_state[1],
                                                                 self._ema_count[1])
        self._steps.extend(np.column_stack([x, loss, acc, smooth_loss, smooth_acc]))
        self._steps_dirty = True
        self._schedule()

    def add_epoch(self, epoch: float, val_loss: float | None, val_accuracy: float | None,
                  train_loss: float | None = None, train_accuracy: float | None = None) -> None:
        """Results after epoch ``epoch``; the best-epoch marker moves if validation accuracy improved."""
        row = [epoch, _num(val_loss), 100.0 * _num(val_accuracy), _num(train_loss), 100.0 * _num(train_accuracy)]
        self._epochs.extend(np.array([row]))
        self._epochs_dirty = True
        self._update_best()
        self._schedule()

    def set_history(self, history: Mapping[str, Sequence[Any]]) -> None:
        """Show a saved history instead of whatever is shown: per epoch, and per batch when it
        has ``batch_loss`` and ``batch_epoch`` (``batch_accuracy`` too since it is saved)."""
        self.clear()
        losses, epochs_of = list(history.get("batch_loss") or ()), list(history.get("batch_epoch") or ())
        if losses and len(losses) == len(epochs_of):
            accuracies = list(history.get("batch_accuracy") or ())
            if len(accuracies) != len(losses):
                accuracies = [None] * len(losses)  # saved before per-batch accuracy was
            self.add_steps(batch_positions(epochs_of), [_num(v) for v in losses], [_num(v) for v in accuracies])
        keys = ("val_loss", "val_accuracy", "train_loss", "train_accuracy")
        n = max((len(history.get(k) or ()) for k in keys), default=0)
        if n == 0:
            return
        columns = [np.array([_num(v) for v in (history.get(k) or ())] + [np.nan] * n)[:n] for k in keys]
        epochs = history.get("epoch")
        given = epochs is not None and len(epochs) >= n
        x = np.asarray(epochs, dtype=np.float64)[:n] if given else np.arange(1, n + 1.0)
        columns[1] *= 100.0
        columns[3] *= 100.0
        self._epochs.extend(np.column_stack([x] + columns))
        self._epochs_dirty = True
        self._update_best()
        self.flush()

    def clear(self) -> None:
        """Forget everything and show the empty-state hint."""
        self._steps.clear()
        self._epochs.clear()
        self._ema_state = [0.0, 0.0]
        self._ema_count = [0, 0]
        self._best_index = None
        self._steps_dirty = self._epochs_dirty = True
        for line in self.best_lines + self.crosshairs:
            line.setVisible(False)
        self.readout.setText(READOUT_HINT)
        self.flush()

    def flush(self) -> None:
        """Redraw now (appends are otherwise redrawn together, at most every MIN_REDRAW_MS)."""
        self._redraw_timer.stop()
        self._last_flush = time.monotonic()
        steps, epochs = self._steps, self._epochs
        if steps.size == 0 and epochs.size == 0 and self._reference is None:
            self.stack.show_hint()
        else:
            self.stack.show_content()
        smoothing = self._weight > 0
        x = steps.column(0)
        # Per-epoch training values only where no per-batch curve covers them (a loaded history
        # before the batches of a continued run).
        covered = np.searchsorted(epochs.column(0), x[0] - 1e-9) if steps.size else epochs.size
        ex = epochs.column(0)
        # Only the series that changed get new data: a step leaves the epoch curves alone.
        for key, step_col, val_col, train_col in (("loss", 1, 1, 3), ("accuracy", 2, 2, 4)):
            curves = self.curves[key]
            if self._steps_dirty:
                curves["raw"].setData(x, steps.column(step_col))
                curves["smooth"].setData(x, steps.column(step_col + 2) if smoothing else x[:0])
            if self._epochs_dirty or (self._steps_dirty and covered != self._covered):
                curves["train_epoch"].setData(ex[:covered], epochs.column(train_col)[:covered])
            if self._epochs_dirty:
                curves["val"].setData(ex, epochs.column(val_col))
        self._covered = covered
        self._steps_dirty = self._epochs_dirty = False
        self._sync_legend(steps.size > 0, smoothing and steps.size > 0,
                          covered > 0 and bool(np.isfinite(epochs.column(3)[:covered]).any()),
                          bool(np.isfinite(epochs.column(1)).any()))

    def set_smoothing(self, weight: float) -> None:
        """EMA weight 0..0.99 for the per-batch training curves (0 = raw)."""
        self.smoothing_slider.setValue(round(min(max(weight, 0.0), 0.99) * 100))

    def set_reference(self, history: Mapping[str, Sequence[Any]], label: str = "A", summary: str = "") -> None:
        """Overlay a pinned model's per-epoch history (validation dashed, training mean dotted)."""
        n = max((len(history.get(k) or ()) for k in ("val_loss", "train_loss")), default=0)
        epochs = history.get("epoch")
        x = np.asarray(epochs, dtype=np.float64)[:n] if epochs is not None and len(epochs) >= n else np.arange(1, n + 1.0)

        def column(key: str, scale: float = 1.0) -> np.ndarray:
            return scale * np.array(([_num(v) for v in (history.get(key) or ())] + [np.nan] * n)[:n])

        for key, scale in (("loss", 1.0), ("accuracy", 100.0)):
            self.reference_curves[key]["val"].setData(x, column(f"val_{key}", scale))
            self.reference_curves[key]["train"].setData(x, column(f"train_{key}", scale))
        self._reference = (label, summary)
        self.title.setText(f"Loss and accuracy · B, the current run (solid) against {label} (purple)")
        self.title.setToolTip(f"{label}: {summary}" if summary else "")
        self._legend_key = None
        self.stack.show_content()
        self.flush()

    def clear_reference(self) -> None:
        for curves in self.reference_curves.values():
            for curve in curves.values():
                curve.setData([], [])
        self._reference = None
        self.title.setText(TITLE)
        self.title.setToolTip("")
        self._legend_key = None
        self.flush()

    def reference_data(self, key: str = "accuracy", which: str = "val") -> tuple[np.ndarray, np.ndarray]:
        """The pinned model's curve as drawn (x, y); empty without one."""
        curve = self.reference_curves[key][which]  # the data given, not the part clipped to the view
        x, y = curve.xData, curve.yData
        return (np.zeros(0), np.zeros(0)) if x is None else (np.asarray(x), np.asarray(y))

    def legend_texts(self) -> list[str]:
        return [label.text for _, label in self.legend.items]

    # ---- what is shown (also used by tests) ----------------------------------------------
    @property
    def step_count(self) -> int:
        return self._steps.size

    @property
    def epoch_count(self) -> int:
        return self._epochs.size

    def best_epoch(self) -> float | None:
        """The marked epoch: highest validation accuracy (first of ties); without validation, lowest training loss."""
        return None if self._best_index is None else float(self._epochs.column(0)[self._best_index])

    def readout_at(self, epoch: float) -> str:
        """Move the crosshair to ``epoch`` and return (and show) the values there as plain text."""
        parts = []
        steps, epochs = self._steps, self._epochs
        # Left of the first batch shown (a loaded history, then Train more) the per-epoch values answer.
        per_batch = bool(steps.size) and epoch >= steps.column(0)[0] - STEP_READOUT_REACH
        if per_batch:
            x = steps.column(0)
            i = int(np.clip(np.searchsorted(x, epoch), 0, steps.size - 1))
            if i > 0 and abs(x[i - 1] - epoch) < abs(x[i] - epoch):
                i -= 1
            loss, acc = steps.column(1)[i], steps.column(2)[i]
            text = f"<b style='color:{TRAIN_COLOUR}'>training batch</b> at epoch {x[i]:.2f}: loss {fmt_value(loss)}"
            if self._weight > 0:
                text += f" (smoothed {fmt_value(steps.column(3)[i])})"
            text += f", accuracy {acc:.1f}%"
            if self._weight > 0:
                text += f" (smoothed {steps.column(4)[i]:.1f}%)"
            parts.append(text)
            epoch = x[i]
        if epochs.size:
            ex = epochs.column(0)
            j = int(np.argmin(np.abs(ex - epoch)))
            val_loss, val_acc, train_loss, train_acc = (epochs.column(c)[j] for c in (1, 2, 3, 4))
            if np.isfinite(val_loss) or np.isfinite(val_acc):
                parts.append(f"<b style='color:{VAL_COLOUR}'>validation</b> after epoch {ex[j]:g}: "
                             f"loss {fmt_value(val_loss)}, accuracy {fmt_percent(val_acc / 100.0)}")
            if not per_batch and (np.isfinite(train_loss) or np.isfinite(train_acc)):
                parts.insert(0, f"<b style='color:{TRAIN_COLOUR}'>training</b> in epoch {ex[j]:g}: "
                                f"loss {fmt_value(train_loss)}, accuracy {fmt_percent(train_acc / 100.0)}")
            if not per_batch:
                epoch = ex[j]
        if not parts:
            return ""
        for cross in self.crosshairs:
            cross.setValue(epoch)
            cross.setVisible(True)
        html = "<br>".join(parts)
        self.readout.setText(html)
        return _plain(html)

    # ---- internals ------------------------------------------------------------------------
    def _schedule(self) -> None:
        """Redraw soon, at most every MIN_REDRAW_MS: appends in a burst cost one redraw."""
        if not self._redraw_timer.isActive():
            since = (time.monotonic() - self._last_flush) * 1000.0
            self._redraw_timer.start(int(max(0.0, MIN_REDRAW_MS - since)))

    def _update_best(self) -> None:
        epochs = self._epochs
        val_acc = epochs.column(2)
        train_loss = epochs.column(3)
        if np.isfinite(val_acc).any():
            self._best_index = int(np.nanargmax(val_acc))
            text = f"best epoch {epochs.column(0)[self._best_index]:g}: validation {val_acc[self._best_index]:.1f}%"
        elif np.isfinite(train_loss).any():
            self._best_index = int(np.nanargmin(train_loss))
            text = f"lowest training loss: epoch {epochs.column(0)[self._best_index]:g}"
        else:
            self._best_index = None
        self._best_text = text if self._best_index is not None else ""
        for line in self.best_lines:
            line.setVisible(self._best_index is not None)
            if self._best_index is not None:
                line.setValue(float(epochs.column(0)[self._best_index]))
                line.label.setFormat(text)
        self._place_best_labels()

    def _place_best_labels(self, *_ignored: object) -> None:
        """Put each best-epoch label on the side of its line with room for it (shortened when
        neither side has room), so no letter is cut at a plot's edge."""
        for plot, line in zip((self.loss_plot, self.accuracy_plot), self.best_lines):
            if not line.isVisible() or not self._best_text:
                continue
            (x0, x1), _ = plot.vb.viewRange()
            width = plot.vb.width()
            if x1 <= x0 or width <= 0:
                continue
            at = (line.value() - x0) / (x1 - x0) * width
            room_left, room_right = at, width - at
            metrics = QFontMetrics(line.label.textItem.font())
            text = self._best_text
            if metrics.horizontalAdvance(text) + 8 > max(room_left, room_right):
                text = self._best_short_text()
            line.label.setFormat(text)
            needed = metrics.horizontalAdvance(text) + 8
            anchor = (0.0, 0.5) if room_right >= needed or room_right >= room_left else (1.0, 0.5)
            line.label.anchors = [anchor, anchor]
            line.label.valueChanged()

    def _best_short_text(self) -> str:
        epochs = self._epochs
        x = epochs.column(0)[self._best_index]
        val = epochs.column(2)[self._best_index]
        return f"best {x:g}: {val:.1f}%" if np.isfinite(val) else f"lowest loss: {x:g}"

    def best_label_text(self, plot_index: int = 0) -> str:
        """The best-epoch label as drawn on the loss (0) or accuracy (1) plot."""
        return self.best_lines[plot_index].label.toPlainText()

    def best_label_rect(self, plot_index: int = 0) -> QRectF:
        """The best-epoch label's rectangle in its plot's view-box pixels (to check it is inside)."""
        label, view = self.best_lines[plot_index].label, (self.loss_plot, self.accuracy_plot)[plot_index].vb
        return view.mapRectFromItem(label, label.boundingRect())

    def _sync_legend(self, raw: bool, smooth: bool, train_epoch: bool, val: bool) -> None:
        key = (raw, smooth, train_epoch, val, self._reference)
        if key == self._legend_key:
            return
        self._legend_key = key
        names = {"raw": "training, per batch" + (" (raw)" if smooth else ""), "smooth": "training, smoothed",
                 "train_epoch": "training, mean per epoch", "val": "validation, after each epoch"}
        shown = {"raw": raw, "smooth": smooth, "train_epoch": train_epoch, "val": val}
        self.legend.clear()
        self._legend_names = [names[name] for name, visible in shown.items() if visible]
        for name, visible in shown.items():
            if visible:
                self.legend.addItem(self.curves["loss"][name], names[name])
        if self._reference is not None:
            label = self._reference[0]
            for key, text in (("val", f"{label}: validation (dashed)"), ("train", f"{label}: training (dotted)")):
                self.legend.addItem(self.reference_curves["loss"][key], text)
                self._legend_names.append(text)
        self._fit_legend()

    def _fit_legend(self) -> None:
        """As many legend columns as fit the width: four entries in one row pushed the accuracy
        plot off the right edge of a narrow window."""
        if not self._legend_names:
            return
        font = QFont(self.font())
        font.setPointSizeF(9)  # the legend's label size
        metrics = QFontMetrics(font)
        widths = [metrics.horizontalAdvance(name) + LEGEND_ENTRY_EXTRA for name in self._legend_names]
        room = self.graphics.width() - 24

        def width_with(columns: int) -> int:  # entries go row by row; a column is as wide as its widest
            return sum(max(widths[i::columns]) for i in range(columns))

        columns = next((c for c in range(len(widths), 1, -1) if width_with(c) <= room), 1)
        if columns != self.legend.columnCount:
            self.legend.setColumnCount(columns)

    def legend_columns(self) -> int:
        return self.legend.columnCount

    def resizeEvent(self, event) -> None:
        super().resizeEvent(event)
        self._fit_legend()

    def _on_smoothing(self, value: int) -> None:
        self._weight = value / 100.0
        self.smoothing_value.setText(f"{self._weight:.2f}")
        faint = pg.mkColor(TRAIN_COLOUR)
        faint.setAlpha(70 if self._weight > 0 else 255)
        for key, col in (("loss", 1), ("accuracy", 2)):
            self.curves[key]["raw"].setPen(pg.mkPen(faint, width=1))
            smoothed, state, count = ema(self._steps.column(col), self._weight)
            self._steps.set_column(col + 2, smoothed)
            self._ema_state[col - 1], self._ema_count[col - 1] = state, count
        self._steps_dirty = True
        self.flush()

    def _on_log_loss(self, on: bool) -> None:
        self.loss_plot.setLogMode(x=False, y=on)
        self.loss_plot.setLabel("left", "loss (log scale)" if on else "loss")

    def _on_mouse(self, event: tuple) -> None:
        pos = event[0]
        for plot in (self.loss_plot, self.accuracy_plot):
            if plot.vb.sceneBoundingRect().contains(pos):
                self.readout_at(plot.vb.mapSceneToView(pos).x())
                return
        for cross in self.crosshairs:
            cross.setVisible(False)


def _plain(html: str) -> str:
    """Plain text of the small HTML the readout uses."""
    return re.sub(r"<[^>]+>", "", html.replace("<br>", "\n"))


def _num(value: Any) -> float:
    """A float, NaN for None or non-numbers."""
    try:
        return float(value) if value is not None else math.nan
    except (TypeError, ValueError):
        return math.nan
