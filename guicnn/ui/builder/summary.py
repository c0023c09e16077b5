"""The live summary: the Keras-style table of the document's analysis, with totals."""

from __future__ import annotations

from typing import Any, Callable

from PySide6.QtCore import QAbstractTableModel, QItemSelectionModel, QModelIndex, Qt
from PySide6.QtGui import QBrush, QColor
from PySide6.QtWidgets import (
    QAbstractItemView,
    QHeaderView,
    QStyle,
    QStyledItemDelegate,
    QStyleOptionViewItem,
    QTableView,
    QVBoxLayout,
    QWidget,
)

from guicnn.core import Analysis
from guicnn.core.explain import LayerExplanation, explain_layer
from guicnn.core.layers.common import fmt_shape
from guicnn.ui import style
from guicnn.ui.builder.document import NO_LAYER, DesignDocument
from guicnn.ui.widgets.elided_label import ElidedLabel

COLUMNS = ("#", "Layer", "Output shape", "Params", "Receptive field", "Mult-adds", "Notes")
NUMERIC = {0, 3, 5}
TOPIC_OF_COLUMN = {2: "output", 3: "parameters", 4: "receptive_field", 5: "macs"}  # their tooltips explain them
OK, WARNING, ERROR = "ok", "warning", "error"


def summary_rows(analysis: Analysis) -> list[tuple[tuple[str, ...], str, str]]:
    """(cells, state, full note) per row: the input first, then one per layer."""
    input_note = analysis.input_error or ""
    rows = [(("", "Input", fmt_shape(analysis.input_shape), "", "", "", input_note),
             ERROR if input_note else OK, input_note)]
    for info in analysis.layers:
        rf = fmt_shape(info.receptive_field, missing="")
        label = info.description if not info.name else f"{info.name} · {info.description}"
        shape = "error" if info.error else ("?" if info.output_shape is None else fmt_shape(info.output_shape))
        known = info.output_shape is not None
        note = info.error or "; ".join(info.warnings)
        state = ERROR if info.error else (WARNING if info.warnings else OK)
        cells = (str(info.index), label, shape, style.fmt_count(info.params) if known else "",
                 rf, style.fmt_count(info.macs) if known else "", note)
        rows.append((cells, state, note))
    return rows


class SummaryModel(QAbstractTableModel):
    """Rows of `summary_rows`, kept as plain strings so painting a row costs nothing."""

    def __init__(self, parent: Any = None) -> None:
        super().__init__(parent)
        self._rows: list[tuple[tuple[str, ...], str, str]] = []
        self._explain: Callable[[int], LayerExplanation] | None = None
        self._explanations: dict[int, LayerExplanation] = {}
        self._fills = {ERROR: QBrush(QColor(style.ERROR_FILL)), WARNING: QBrush(QColor(style.WARNING_FILL))}
        self._inks = {ERROR: QBrush(QColor(style.ERROR)), WARNING: QBrush(QColor(style.WARNING))}

    def rowCount(self, parent: QModelIndex = QModelIndex()) -> int:
        return 0 if parent.isValid() else len(self._rows)

    def columnCount(self, parent: QModelIndex = QModelIndex()) -> int:
        return 0 if parent.isValid() else len(COLUMNS)

    def headerData(self, section: int, orientation: Qt.Orientation, role: int = Qt.ItemDataRole.DisplayRole) -> Any:
        if orientation == Qt.Orientation.Horizontal and role == Qt.ItemDataRole.DisplayRole:
            return COLUMNS[section]
        if orientation == Qt.Orientation.Horizontal and role == Qt.ItemDataRole.TextAlignmentRole:
            return int(Qt.AlignmentFlag.AlignRight if section in NUMERIC else Qt.AlignmentFlag.AlignLeft) | int(
                Qt.AlignmentFlag.AlignVCenter)
        return None

    def data(self, index: QModelIndex, role: int = Qt.ItemDataRole.DisplayRole) -> Any:
        cells, state, note = self._rows[index.row()]
        column = index.column()
        if role == Qt.ItemDataRole.DisplayRole:
            return cells[column]
        if role == Qt.ItemDataRole.BackgroundRole:
            return self._fills.get(state)
        if role == Qt.ItemDataRole.ForegroundRole and (column == len(COLUMNS) - 1 or cells[column] == "error"):
            return self._inks.get(state)
        if role == Qt.ItemDataRole.ToolTipRole:
            explained = self.explanation_text(index.row(), column)
            return explained or note or None
        if role == Qt.ItemDataRole.TextAlignmentRole:
            horizontal = Qt.AlignmentFlag.AlignRight if column in NUMERIC else Qt.AlignmentFlag.AlignLeft
            return int(horizontal | Qt.AlignmentFlag.AlignVCenter)
        return None

    def state(self, row: int) -> str:
        return self._rows[row][1]

    def set_explainer(self, explain: Callable[[int], LayerExplanation] | None) -> None:
        """How to explain layer i's figures (asked lazily, once per layer until the rows change)."""
        self._explain = explain
        self._explanations = {}

    def explanation_text(self, row: int, column: int) -> str:
        """The arithmetic behind a figure of the table (row 0 is the input: nothing to explain)."""
        topic = TOPIC_OF_COLUMN.get(column)
        if topic is None or row == 0 or self._explain is None:
            return ""
        layer = row - 1
        if layer not in self._explanations:
            self._explanations[layer] = self._explain(layer)
        return self._explanations[layer].text(topic)

    def set_rows(self, rows: list[tuple[tuple[str, ...], str, str]]) -> None:
        if len(rows) != len(self._rows):
            self.beginResetModel()
            self._rows = rows
            self.endResetModel()
            return
        changed = [i for i, (old, new) in enumerate(zip(self._rows, rows)) if old != new]
        self._rows = rows
        if changed:
            self.dataChanged.emit(self.index(changed[0], 0), self.index(changed[-1], len(COLUMNS) - 1))


class SummaryDelegate(QStyledItemDelegate):
    """Shows selection as a deeper tint of the row's state, so a selected failing row stays red."""

    SELECTED = {OK: "#d3e4f7", WARNING: "#f9e2a8", ERROR: "#f5cfcb"}

    def initStyleOption(self, option: QStyleOptionViewItem, index: QModelIndex) -> None:
        super().initStyleOption(option, index)
        if option.state & QStyle.StateFlag.State_Selected:
            option.state &= ~(QStyle.StateFlag.State_Selected | QStyle.StateFlag.State_HasFocus)
            state = index.model().state(index.row())
            option.backgroundBrush = QBrush(QColor(self.SELECTED[state]))


class QtSummary(QWidget):
    """The summary table plus a totals line; selecting a row selects that layer."""

    def __init__(self, document: DesignDocument, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.document = document
        self.model = SummaryModel(self)
        self.table = QTableView()
        self.table.setModel(self.model)
        self.table.setItemDelegate(SummaryDelegate(self.table))
        self.table.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        self.table.setSelectionMode(QAbstractItemView.SelectionMode.SingleSelection)
        self.table.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        self.table.setWordWrap(False)
        self.table.setShowGrid(False)
        self.table.setAlternatingRowColors(False)
        self.table.verticalHeader().hide()
        self.table.verticalHeader().setSectionResizeMode(QHeaderView.ResizeMode.Fixed)
        self.table.verticalHeader().setDefaultSectionSize(self.fontMetrics().height() + 8)
        self._size_columns()
        self.totals = ElidedLabel()
        layout = QVBoxLayout(self)
        layout.setContentsMargins(6, 4, 6, 6)
        layout.setSpacing(4)
        layout.addWidget(self.table, 1)
        layout.addWidget(self.totals)
        self._syncing = False
        self.table.selectionModel().currentRowChanged.connect(self._row_selected)
        document.changed.connect(self.refresh)
        document.current_changed.connect(self._show_current)
        self.refresh()

    def _size_columns(self) -> None:
        header = self.table.horizontalHeader()
        digit = self.fontMetrics().horizontalAdvance("0")
        widths = (3, 20, 11, 8, 13, 10)
        for column, chars in enumerate(widths):
            header.setSectionResizeMode(column, QHeaderView.ResizeMode.Interactive)
            header.resizeSection(column, digit * chars + 10)
        header.setMinimumSectionSize(digit * 3)
        header.setDefaultSectionSize(digit * 8)
        header.setStretchLastSection(True)
        header.setHighlightSections(False)

    def refresh(self) -> None:
        analysis = self.document.analysis
        self._syncing = True
        rows = summary_rows(analysis)
        document = self.document
        try:
            self.model.set_explainer(lambda layer: explain_layer(document.config, layer, document.analysis))
            self.model.set_rows(rows)
            self._show_current(self.document.current)
        finally:
            self._syncing = False
        self._fit_layer_column(rows)
        self.totals.setText(totals_text(analysis))

    def _fit_layer_column(self, rows) -> None:
        """Layer names decide their column's width; the notes column gets what is left."""
        metrics = self.table.fontMetrics()
        digit = metrics.horizontalAdvance("0")
        widest = max(metrics.horizontalAdvance(cells[1]) for cells, _, _ in rows)
        width = max(digit * 12, min(widest + 2 * digit, digit * 34))
        if width != self.table.horizontalHeader().sectionSize(1):
            self.table.horizontalHeader().resizeSection(1, width)

    def _show_current(self, layer: int) -> None:
        row = 0 if layer == NO_LAYER else layer + 1
        if self.table.currentIndex().row() == row:
            return
        was, self._syncing = self._syncing, True
        try:
            flags = QItemSelectionModel.SelectionFlag.ClearAndSelect | QItemSelectionModel.SelectionFlag.Rows
            self.table.selectionModel().setCurrentIndex(self.model.index(row, 0), flags)
        finally:
            self._syncing = was

    def _row_selected(self, current: QModelIndex, _previous: QModelIndex) -> None:
        if not self._syncing and current.isValid():
            self.document.set_current(current.row() - 1)


def totals_text(analysis: Analysis) -> str:
    total = analysis.total_macs
    macs = style.fmt_count(total) if total < 1_000_000 else style.fmt_compact(total)
    parts = [
        f"Total: {style.fmt_count(analysis.total_params)} parameters",
        f"weights {style.fmt_bytes(analysis.weight_bytes)}",
        f"{macs} mult-adds per image",
    ]
    if analysis.output_shape is not None:
        parts.append(f"output {fmt_shape(analysis.output_shape)}")
    elif not analysis.valid:
        parts.append("counted up to the first error")
    return "  ·  ".join(parts)
