"""One training step, explained: what a single batch's forward, backward and update changed.

Shows a core :class:`~guicnn.core.step_explanation.StepExplanation`: the loss on the batch
before and after the update, a table with every layer's activation statistics, gradient norm
and update, the first filter of the chosen layer before and after (and their difference), and
the optimizer's formula for one of its weights with the real numbers.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import pyqtgraph as pg
from PySide6.QtCore import Qt
from PySide6.QtGui import QFont
from PySide6.QtWidgets import (
    QAbstractItemView,
    QHeaderView,
    QLabel,
    QSplitter,
    QTableWidget,
    QTableWidgetItem,
    QVBoxLayout,
    QWidget,
)

from guicnn.core.layers.common import fmt_shape
from guicnn.core.optim import OPTIMIZERS
from guicnn.ui.style import ERROR, MUTED, OK
from guicnn.ui.views.common import DIVERGING, HintStack, build_mosaic, caption_label, fmt_value, grid_shape

EMPTY_HINT = ("No step yet.\n\nPress Step in the Train panel: one batch is trained (forward, loss, backward, "
              "update) and what it changed in every layer appears here.\nTraining then stays paused: Step "
              "again, or Resume to train on exactly as if it had never paused.")
COLUMNS = ("Layer", "Output", "Activation mean", "std", "Zeros", "‖gradient‖", "‖update‖", "‖update‖ / ‖weight‖")
COLUMN_TIPS = (
    "The layer (0-based, as in the summary)",
    "The layer's output shape for one image",
    "Mean of the layer's outputs over the whole batch, in this step's forward pass (training mode)",
    "Standard deviation of those outputs",
    "Share of outputs that are exactly 0 (after ReLU: units that did not fire)",
    "Length of the gradient of the loss with respect to the layer's weights (all its parameters)",
    "Length of the change the optimizer applied to the weights in this step",
    "How big the change is relative to the weights; around 1e-3 is a healthy rule of thumb",
)
MAX_FILTER_TILES = 16  # input channels of a first filter drawn side by side


def _tiles(weights: np.ndarray) -> np.ndarray:
    """A filter as (n, h, w) tiles: a Conv2D kernel per input channel; a Dense row as a square-ish image."""
    w = np.asarray(weights, dtype=np.float32)
    if w.ndim == 3:
        return w[:MAX_FILTER_TILES]
    flat = w.reshape(-1)
    side = max(1, math.ceil(math.sqrt(flat.size)))
    rows = math.ceil(flat.size / side)
    padded = np.full(rows * side, np.nan, np.float32)
    padded[: flat.size] = flat
    return padded.reshape(1, rows, side)


def _optimizer_title(config: dict) -> str:
    cls = OPTIMIZERS.get(str(config.get("type", "")))
    return cls.title if cls is not None else str(config.get("type", "the optimizer"))


def _norm_text(value: float) -> str:
    return fmt_value(value) if value else "0"


class _FilterPicture:
    """One titled mosaic (before, after or change) in a shared GraphicsLayoutWidget."""

    def __init__(self, layout: pg.GraphicsLayout, column: int, title: str) -> None:
        self.title = title
        self.label = layout.addLabel(title, row=0, col=column, color="#1f2933", size="9pt")
        self.view = layout.addViewBox(row=1, col=column, lockAspect=True, invertY=True, enableMenu=False)
        self.view.setMouseEnabled(False, False)
        self.image = pg.ImageItem()
        self.image.setLookupTable(DIVERGING.getLookupTable(nPts=256))
        self.view.addItem(self.image)
        self.mosaic: np.ndarray | None = None

    def show(self, tiles: np.ndarray, limit: float, caption: str) -> None:
        cols = grid_shape(len(tiles), *tiles.shape[1:], aspect=1.0)[1]
        self.mosaic, _ = build_mosaic(tiles, cols)
        self.image.setImage(self.mosaic, levels=(-limit, limit), autoLevels=False)
        self.view.autoRange(padding=0.04)
        self.label.setText(f"{self.title}<br><span style='color:{MUTED}'>{caption}</span>")


class StepView(QWidget):
    """The last explained training step.

    * ``set_explanation(explanation)``: a StepExplanation (arrays are the explanation's own copies).
    * ``select_layer(index)`` / ``selected_layer()``: the layer whose filter and formula are shown
      (the first layer with weights by default; a layer without weights shows the nearest one after it).
    * ``clear()``.
    """

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self._explanation: Any = None
        self._selected: int | None = None
        self._build_ui()

    def _build_ui(self) -> None:
        self.title = caption_label("", bold=True)
        self.loss_label = QLabel("")
        self.loss_label.setTextFormat(Qt.TextFormat.RichText)
        self.loss_label.setStyleSheet("font-size: 12pt;")
        self.loss_label.setWordWrap(True)

        self.table = QTableWidget(0, len(COLUMNS))
        self.table.setHorizontalHeaderLabels(COLUMNS)
        for column, tip in enumerate(COLUMN_TIPS):
            self.table.horizontalHeaderItem(column).setToolTip(tip)
        self.table.verticalHeader().setVisible(False)
        self.table.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        self.table.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        self.table.setSelectionMode(QAbstractItemView.SelectionMode.SingleSelection)
        self.table.setAlternatingRowColors(True)
        self.table.verticalHeader().setDefaultSectionSize(self.table.fontMetrics().height() + 6)
        header = self.table.horizontalHeader()
        header.setSectionResizeMode(0, QHeaderView.ResizeMode.Stretch)
        for column in range(1, len(COLUMNS)):
            header.setSectionResizeMode(column, QHeaderView.ResizeMode.ResizeToContents)
        self.table.itemSelectionChanged.connect(self._on_selection)

        self.filter_title = caption_label("", bold=True)
        self.graphics = pg.GraphicsLayoutWidget()
        self.graphics.setBackground("w")
        self.pictures = [_FilterPicture(self.graphics.ci, i, title)
                         for i, title in enumerate(("before", "after", "change (after − before)"))]
        for column in range(len(self.pictures)):  # three equal columns, so the pictures have one size
            self.graphics.ci.layout.setColumnStretchFactor(column, 1)
            self.graphics.ci.layout.setColumnPreferredWidth(column, 10)
        self.filter_note = caption_label("", muted=True)
        filters = QWidget()
        filter_column = QVBoxLayout(filters)
        filter_column.setContentsMargins(0, 0, 0, 0)
        filter_column.addWidget(self.filter_title)
        filter_column.addWidget(self.graphics, 1)
        filter_column.addWidget(self.filter_note)

        self.formula_title = caption_label("", bold=True)
        self.formula = QLabel("")
        self.formula.setTextFormat(Qt.TextFormat.PlainText)
        self.formula.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.formula.setAlignment(Qt.AlignmentFlag.AlignTop | Qt.AlignmentFlag.AlignLeft)
        self.formula.setWordWrap(True)
        mono = QFont("DejaVu Sans Mono")
        mono.setStyleHint(QFont.StyleHint.Monospace)
        mono.setPointSizeF(9.5)
        self.formula.setFont(mono)
        self.formula_note = caption_label("", muted=True)
        formula = QWidget()
        formula_column = QVBoxLayout(formula)
        formula_column.setContentsMargins(0, 0, 0, 0)
        formula_column.addWidget(self.formula_title)
        formula_column.addWidget(self.formula)
        formula_column.addWidget(self.formula_note)
        formula_column.addStretch(1)

        lower = QSplitter(Qt.Orientation.Horizontal)
        lower.addWidget(filters)
        lower.addWidget(formula)
        lower.setStretchFactor(0, 2)
        lower.setStretchFactor(1, 3)
        split = QSplitter(Qt.Orientation.Vertical)
        split.addWidget(self.table)
        split.addWidget(lower)
        split.setStretchFactor(0, 1)
        split.setStretchFactor(1, 1)

        content = QWidget()
        column = QVBoxLayout(content)
        column.setContentsMargins(0, 0, 0, 0)
        column.addWidget(self.title)
        column.addWidget(self.loss_label)
        column.addWidget(split, 1)
        self.stack = HintStack.fill(self, content, EMPTY_HINT)

    # ---- public API -----------------------------------------------------------------------
    def set_explanation(self, explanation: Any) -> None:
        self._explanation = explanation
        e = explanation
        optimizer = _optimizer_title(e.optimizer)
        self.title.setText(f"Step {e.step} · epoch {e.epoch}, batch {e.batch} of {e.batches_per_epoch} · "
                           f"{e.batch_size} images · {optimizer}, learning rate {e.lr:g}")
        self.loss_label.setText(self._loss_text(e))
        self._fill_table(e)
        layers_with_weights = [layer.index for layer in e.layers if layer.update is not None]
        if self._selected not in layers_with_weights:
            self._selected = layers_with_weights[0] if layers_with_weights else None
        self.stack.show_content()
        if self._selected is not None:
            self.table.selectRow(self._selected)  # shows its filter and formula
        self._show_layer()

    def selected_layer(self) -> int | None:
        return self._selected

    def select_layer(self, index: int) -> None:
        self.table.selectRow(index)

    def clear(self) -> None:
        self._explanation = None
        self.table.setRowCount(0)
        self.stack.show_hint()

    # ---- what is shown (used by tests) ----------------------------------------------------
    def row_texts(self, row: int) -> list[str]:
        return [self.table.item(row, column).text() for column in range(self.table.columnCount())]

    def filter_mosaics(self) -> list[np.ndarray | None]:
        """The before, after and change mosaics as drawn (NaN in the gaps)."""
        return [picture.mosaic for picture in self.pictures]

    def formula_text(self) -> str:
        return self.formula.text()

    # ---- internals ------------------------------------------------------------------------
    @staticmethod
    def _loss_text(e: Any) -> str:
        change = e.loss_after - e.loss_before
        relative = change / e.loss_before if e.loss_before else 0.0
        colour = OK if change < 0 else ERROR
        word = "down" if change < 0 else "up"
        return (f"Loss on this batch <b>{e.loss_before:.4f}</b> → <b>{e.loss_after:.4f}</b> "
                f"<span style='color:{colour}'>({word} {abs(100 * relative):.1f}%)</span> · "
                f"accuracy on it {100 * e.accuracy_before:.1f}% → {100 * e.accuracy_after:.1f}%"
                f"<br><span style='color:{MUTED}; font-size: 9pt'>Both measured on the same images with the same "
                f"dropout draws: before is the step's own forward pass, after uses the updated weights.</span>")

    def _fill_table(self, e: Any) -> None:
        self.table.blockSignals(True)
        self.table.setRowCount(len(e.layers))
        for row, layer in enumerate(e.layers):
            stats, weight = layer.activation, layer.params
            grad = math.sqrt(sum(p.grad_norm ** 2 for p in weight))
            update = math.sqrt(sum(p.update_norm ** 2 for p in weight))
            size = math.sqrt(sum(p.weight_norm ** 2 for p in weight))
            values = [
                f"{layer.index} · {layer.description}", fmt_shape(layer.output_shape),
                "–" if stats is None else fmt_value(stats.mean), "–" if stats is None else fmt_value(stats.std),
                "–" if stats is None else f"{100 * stats.zero_share:.0f}%",
                _norm_text(grad) if weight else "", _norm_text(update) if weight else "",
                (fmt_value(update / size) if size else "–") if weight else "",
            ]
            for column, text in enumerate(values):
                item = QTableWidgetItem(text)
                if column >= 2:
                    item.setTextAlignment(Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter)
                if stats is None and column == 2:
                    item.setToolTip("Not run in training: the cross-entropy loss applies the softmax itself.")
                elif weight and column >= 5:
                    item.setToolTip("\n".join(f"{p.name}: ‖gradient‖ {fmt_value(p.grad_norm)}, ‖update‖ "
                                              f"{fmt_value(p.update_norm)}, ‖weight‖ {fmt_value(p.weight_norm)}"
                                              + "".join(f", ‖{slot}‖ {fmt_value(v)}" for slot, v in p.slot_norms.items())
                                              for p in weight))
                self.table.setItem(row, column, item)
        self.table.blockSignals(False)

    def _on_selection(self) -> None:
        rows = self.table.selectionModel().selectedRows() if self.table.selectionModel() else []
        if not rows or self._explanation is None:
            return
        row = rows[0].row()
        layers = self._explanation.layers
        following = [layer.index for layer in layers[row:] if layer.update is not None]
        self._selected = following[0] if following else row
        self._show_layer()

    def _show_layer(self) -> None:
        e = self._explanation
        layer = e.layers[self._selected] if e is not None and self._selected is not None else None
        if layer is None or layer.update is None:
            self.filter_title.setText("This network has no layer with weights.")
            self.formula_title.setText("")
            self.formula.setText("")
            self.formula_note.setText("")
            return
        self._show_filter(layer)
        self._show_formula(e, layer)

    def _show_filter(self, layer: Any) -> None:
        before, after = layer.first_filter_before, layer.first_filter_after
        self.graphics.setVisible(before is not None)
        if before is None:
            self.filter_title.setText(f"Layer {layer.index} {layer.description} has one weight per channel "
                                      "(no filter to draw).")
            self.filter_note.setText("")
            return
        kind = "kernel per input channel" if before.ndim == 3 else "weights, one per input value"
        self.filter_title.setText(f"First filter of layer {layer.index} · {layer.description} ({kind})")
        tiles_before, tiles_after = _tiles(before), _tiles(after)
        change = tiles_after - tiles_before
        limit = float(np.nanmax(np.abs(np.concatenate([tiles_before.ravel(), tiles_after.ravel()])))) or 1.0
        change_limit = float(np.nanmax(np.abs(change))) or 1.0
        self.pictures[0].show(tiles_before, limit, f"±{fmt_value(limit)}")
        self.pictures[1].show(tiles_after, limit, f"±{fmt_value(limit)}")
        self.pictures[2].show(change, change_limit, f"±{fmt_value(change_limit)} (own scale)")
        shown = "" if before.ndim != 3 or len(before) <= MAX_FILTER_TILES else \
            f" The first {MAX_FILTER_TILES} of {len(before)} input channels are drawn."
        self.filter_note.setText("Blue negative, white 0, red positive; before and after share one scale, the "
                                 "change has its own so that small updates stay visible." + shown)

    def _show_formula(self, e: Any, layer: Any) -> None:
        update = layer.update
        where = ", ".join(str(i) for i in update.index)
        self.formula_title.setText(f"How {_optimizer_title(e.optimizer)} moved one weight: "
                                   f"{update.param}[{where}]")
        self.formula.setText("\n".join(update.formula.lines))
        moved = update.after - update.before
        which = "of the first filter" if layer.first_filter_before is not None else "of this layer"
        self.formula_note.setText(
            f"The weight {which} that moved most: {update.before:.6g} → {update.after:.6g} "
            f"(change {moved:+.3g}). The formula is evaluated in double precision; training works in "
            "float32, so the last digit may differ.")


__all__ = ["StepView"]
