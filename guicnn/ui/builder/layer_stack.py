"""The layer stack: the design as a pipeline of cards from the input card down to the output.

Row 0 of the list is the input card (a real widget, for its shape spin boxes); row ``i + 1``
is layer ``i``. The view redraws from the document and edits only through it.
"""

from __future__ import annotations

from dataclasses import replace
from typing import Any

from PySide6.QtCore import (
    QAbstractListModel,
    QEvent,
    QMimeData,
    QModelIndex,
    QPoint,
    QRect,
    QRectF,
    QSize,
    Qt,
    QTimer,
    Signal,
)
from PySide6.QtGui import QAction, QColor, QDrag, QPainter, QPen, QPixmap
from PySide6.QtWidgets import (
    QAbstractItemView,
    QFrame,
    QListView,
    QMenu,
    QStyle,
    QStyleOptionViewItem,
    QToolTip,
    QVBoxLayout,
    QWidget,
)

from guicnn.core.explain import explain_layer, sees_phrases
from guicnn.core.fixes import Fix
from guicnn.core.health import LayerHealth, health_by_layer
from guicnn.core.walkthrough import can_walk
from guicnn.ui import style
from guicnn.ui.builder.card_view import CARD_ROLE, GAP, INPUT_ROW, CardDelegate, CardFonts, card_rect
from guicnn.ui.builder.cards import Card, make_cards
from guicnn.ui.builder.document import NO_LAYER, DesignDocument
from guicnn.ui.builder.fix_chips import chip_text
from guicnn.ui.builder.input_card import InputCard
from guicnn.ui.builder.palette import add_type_menu
from guicnn.ui.widgets.fix_buttons import fix_tooltip


def row_of(layer_index: int) -> int:
    return layer_index + 1


def layer_of(row: int) -> int:
    return row - 1


class LayerStackModel(QAbstractListModel):
    """Rows: the input, then one card per layer. Rows are only appended or removed at the end,
    so the input card's widget survives every edit."""

    def __init__(self, parent: Any = None) -> None:
        super().__init__(parent)
        self._cards: list[Card] = []

    def rowCount(self, parent: QModelIndex = QModelIndex()) -> int:
        return 0 if parent.isValid() else 1 + len(self._cards)

    def card(self, row: int) -> Card | None:
        return self._cards[layer_of(row)] if row > INPUT_ROW else None

    def data(self, index: QModelIndex, role: int = Qt.ItemDataRole.DisplayRole) -> Any:
        card = self.card(index.row())
        if card is None:
            return "Input" if role == Qt.ItemDataRole.DisplayRole else None
        if role == CARD_ROLE:
            return card
        if role == Qt.ItemDataRole.DisplayRole:
            return card.title
        if role == Qt.ItemDataRole.ToolTipRole:
            return card.tooltip
        if role == Qt.ItemDataRole.AccessibleTextRole:
            return f"{card.subtitle}: {card.title}, output {card.shape}"
        return None

    def flags(self, index: QModelIndex) -> Qt.ItemFlag:
        flags = Qt.ItemFlag.ItemIsEnabled | Qt.ItemFlag.ItemIsSelectable
        if index.row() > INPUT_ROW:
            flags |= Qt.ItemFlag.ItemIsDragEnabled
        return flags

    def set_cards(self, cards: list[Card]) -> bool:
        """Show new cards, repainting only rows that changed; True when row heights may differ."""
        old_cards, old, new = self._cards, len(self._cards), len(cards)
        if new > old:
            self.beginInsertRows(QModelIndex(), row_of(old), row_of(new - 1))
            self._cards = cards
            self.endInsertRows()
        elif new < old:
            self.beginRemoveRows(QModelIndex(), row_of(new), row_of(old - 1))
            self._cards = cards
            self.endRemoveRows()
        else:
            self._cards = cards
        changed = [i for i in range(min(old, new)) if old_cards[i] != cards[i]]
        if changed:
            self.dataChanged.emit(self.index(row_of(changed[0])), self.index(row_of(changed[-1])))
        return new != old or any(_messages(old_cards[i]) != _messages(cards[i]) for i in changed)


def _messages(card: Card) -> tuple:
    return card.error, card.warnings, card.sees, card.fixes  # what a card's height depends on


class LayerStackView(QListView):
    """The card list with drag-and-drop: palette types insert, cards reorder."""

    stepThroughRequested = Signal(int)  # layer index: open the walkthrough of that layer

    def __init__(self, document: DesignDocument, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.document = document
        self.fonts = CardFonts(self)
        self.input_card = InputCard(document)
        self.stack_model = LayerStackModel(self)
        self.setModel(self.stack_model)
        self.setItemDelegate(CardDelegate(self))
        self.setSelectionMode(QAbstractItemView.SelectionMode.SingleSelection)
        self.setVerticalScrollMode(QAbstractItemView.ScrollMode.ScrollPerPixel)
        self.setHorizontalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
        self.setResizeMode(QListView.ResizeMode.Adjust)
        self.setUniformItemSizes(False)
        self.setMouseTracking(True)
        self.setDragEnabled(True)
        self.setAcceptDrops(True)
        self.setDropIndicatorShown(False)
        self.setDragDropMode(QAbstractItemView.DragDropMode.DragDrop)
        self.setDefaultDropAction(Qt.DropAction.MoveAction)
        self.setFrameShape(QFrame.Shape.NoFrame)
        self.viewport().setAutoFillBackground(True)
        self.setIndexWidget(self.stack_model.index(INPUT_ROW), self.input_card)
        self._drop_row: int | None = None
        self.hovered_fix: tuple[int | None, int | None] = (None, None)  # (layer, fix) under the mouse
        self._pressed_fix: tuple[int, int] | None = None

    # ---- fix buttons and figure tooltips on the cards -------------------------------------
    def fix_at(self, pos: QPoint) -> tuple[int, int] | None:
        """(layer, fix index) of the fix button under viewport point ``pos``, if any."""
        index = self.indexAt(pos)
        card = self.stack_model.card(index.row()) if index.isValid() else None
        if card is None or not card.fixes:
            return None
        rects = self.itemDelegate().fix_rects(card_rect(self.visualRect(index), GAP), card)
        for number, rect in enumerate(rects):
            if rect.contains(pos):
                return card.index, number
        return None

    def fix_button_rect(self, layer: int, number: int) -> QRect:
        """Viewport rectangle of a card's fix button (for tests and keyboard users' tooltips)."""
        index = self.stack_model.index(row_of(layer))
        return self.itemDelegate().fix_rects(card_rect(self.visualRect(index), GAP),
                                             self.stack_model.card(row_of(layer)))[number]

    def _fix(self, layer: int, number: int) -> Fix | None:
        fixes = self.document.fixes.get(layer, [])
        return fixes[number] if 0 <= number < len(fixes) else None

    def mousePressEvent(self, event) -> None:
        hit = self.fix_at(event.position().toPoint()) if event.button() == Qt.MouseButton.LeftButton else None
        self._pressed_fix = hit
        if hit is None:
            super().mousePressEvent(event)
        else:
            event.accept()  # a fix button: no selection change, no drag

    def mouseReleaseEvent(self, event) -> None:
        pressed, self._pressed_fix = self._pressed_fix, None
        if pressed is None:
            super().mouseReleaseEvent(event)
            return
        event.accept()
        if self.fix_at(event.position().toPoint()) == pressed and not self.document.read_only:
            fix = self._fix(*pressed)
            if fix is not None:
                # After this event: applying the fix re-lays the rows out under the mouse.
                QTimer.singleShot(0, lambda: self.document.apply_fix(fix))

    def mouseMoveEvent(self, event) -> None:
        hit = self.fix_at(event.position().toPoint())
        hovered = hit if hit is not None else (None, None)
        if hovered != self.hovered_fix:
            self.hovered_fix = hovered
            self.viewport().setCursor(Qt.CursorShape.PointingHandCursor if hit else Qt.CursorShape.ArrowCursor)
            self.viewport().update()
        if self._pressed_fix is None:
            super().mouseMoveEvent(event)

    def tooltip_at(self, pos: QPoint) -> str | None:
        """The arithmetic behind a card's output shape or parameter count, a fix's effect, or None."""
        index = self.indexAt(pos)
        card = self.stack_model.card(index.row()) if index.isValid() else None
        if card is None:
            return None
        hit = self.fix_at(pos)
        if hit is not None:
            fix = self._fix(*hit)
            return None if fix is None else fix_tooltip(fix, self.document.fix_makes_valid(fix))
        rect = card_rect(self.visualRect(index), GAP)
        for topic, figure in self.itemDelegate().figure_rects(rect, card).items():
            if figure.contains(pos):
                document = self.document
                text = explain_layer(document.config, card.index, document.analysis).text(topic)
                return text or None
        return None

    # ---- drops: the same path for real drags and for tests ------------------------------
    def drop_row_at(self, pos: QPoint) -> int:
        """The row a drop at ``pos`` inserts before (1 = before layer 0, rowCount = append)."""
        index = self.indexAt(pos)
        rows = self.stack_model.rowCount()
        if not index.isValid():
            last = self.visualRect(self.stack_model.index(rows - 1))
            return rows if pos.y() > last.top() else row_of(0)
        if index.row() == INPUT_ROW:
            return row_of(0)
        rect = self.visualRect(index)
        middle = rect.top() + GAP + (rect.height() - GAP) / 2
        return index.row() + (1 if pos.y() > middle else 0)

    @staticmethod
    def accepts(mime: QMimeData) -> bool:
        return mime.hasFormat(style.MIME_LAYER_TYPE) or mime.hasFormat(style.MIME_LAYER_INDEX)

    def handle_drop(self, mime: QMimeData, row: int) -> bool:
        """Insert a palette type, or move a dragged card, so that it lands before ``row``."""
        target = layer_of(max(row, row_of(0)))
        if mime.hasFormat(style.MIME_LAYER_TYPE):
            type_name = bytes(mime.data(style.MIME_LAYER_TYPE)).decode()
            return self.document.add_layer(type_name, target) is None
        if mime.hasFormat(style.MIME_LAYER_INDEX):
            source = int(bytes(mime.data(style.MIME_LAYER_INDEX)).decode())
            final = target - 1 if target > source else target
            return self.document.move_layer(source, final) is None
        return False

    def dragEnterEvent(self, event) -> None:
        if self.accepts(event.mimeData()) and not self.document.read_only:
            event.acceptProposedAction()
        else:
            event.ignore()

    def dragMoveEvent(self, event) -> None:
        super().dragMoveEvent(event)  # keeps auto-scrolling near the edges
        if not self.accepts(event.mimeData()) or self.document.read_only:
            event.ignore()
            return
        self._drop_row = self.drop_row_at(event.position().toPoint())
        internal = event.mimeData().hasFormat(style.MIME_LAYER_INDEX)
        event.setDropAction(Qt.DropAction.MoveAction if internal else Qt.DropAction.CopyAction)
        event.accept()
        self.viewport().update()

    def dragLeaveEvent(self, event) -> None:
        self._drop_row = None
        self.viewport().update()
        super().dragLeaveEvent(event)

    def dropEvent(self, event) -> None:
        row = self.drop_row_at(event.position().toPoint())
        self._drop_row = None
        if self.handle_drop(event.mimeData(), row):
            # CopyAction: the view must not remove the source rows; the document already moved them.
            event.setDropAction(Qt.DropAction.CopyAction)
            event.accept()
        else:
            event.ignore()
        self.viewport().update()

    def startDrag(self, supported: Qt.DropAction) -> None:
        index = self.currentIndex()
        if not index.isValid() or index.row() == INPUT_ROW or self.document.read_only:
            return
        mime = QMimeData()
        mime.setData(style.MIME_LAYER_INDEX, str(layer_of(index.row())).encode())
        drag = QDrag(self)
        drag.setMimeData(mime)
        drag.setPixmap(self._card_pixmap(index))
        drag.setHotSpot(QPoint(20, GAP + 10))
        drag.exec(Qt.DropAction.MoveAction)

    def _card_pixmap(self, index: QModelIndex) -> QPixmap:
        rect = self.visualRect(index)
        ratio = self.devicePixelRatioF()
        pixmap = QPixmap(rect.size() * ratio)
        pixmap.setDevicePixelRatio(ratio)
        pixmap.fill(Qt.GlobalColor.transparent)
        painter = QPainter(pixmap)
        painter.setOpacity(0.85)
        option = QStyleOptionViewItem()
        option.rect = QRect(QPoint(0, 0), rect.size())
        option.state = QStyle.StateFlag.State_Selected
        self.itemDelegate().paint(painter, option, index)
        painter.end()
        return pixmap

    # ---- painting extras ----------------------------------------------------------------
    def paintEvent(self, event) -> None:
        super().paintEvent(event)
        painter = QPainter(self.viewport())
        painter.setRenderHint(QPainter.RenderHint.Antialiasing)
        if self.stack_model.rowCount() == 1:
            self._paint_empty_hint(painter)
        if self._drop_row is not None:
            self._paint_drop_line(painter, self._drop_row)

    def _paint_empty_hint(self, painter: QPainter) -> None:
        input_rect = self.visualRect(self.stack_model.index(INPUT_ROW))
        area = card_rect(QRect(0, input_rect.bottom() + GAP, self.viewport().width(), 110), 0)
        painter.setPen(QPen(QColor("#9aa3ab"), 1.4, Qt.PenStyle.DashLine))
        painter.drawRoundedRect(QRectF(area).adjusted(1, 1, -1, -1), 8, 8)
        painter.setPen(QColor(style.MUTED))
        painter.setFont(self.fonts.title)
        painter.drawText(area, Qt.AlignmentFlag.AlignCenter,
                         "Drag layers here from the palette\nor double-click one to add it")

    def _paint_drop_line(self, painter: QPainter, row: int) -> None:
        rows = self.stack_model.rowCount()
        if row < rows:
            y = self.visualRect(self.stack_model.index(row)).top() + GAP // 2
        else:
            y = self.visualRect(self.stack_model.index(rows - 1)).bottom() + GAP // 2
        line = card_rect(QRect(0, y, self.viewport().width(), 1), 0)
        painter.setPen(QPen(QColor(style.SELECTION), 3, Qt.PenStyle.SolidLine, Qt.PenCapStyle.RoundCap))
        painter.drawLine(line.left(), y, line.right(), y)

    def viewportEvent(self, event) -> bool:
        if event.type() == QEvent.Type.ToolTip:
            text = self.tooltip_at(event.pos())
            if text:
                QToolTip.showText(event.globalPos(), text, self.viewport())
                return True
        if event.type() == QEvent.Type.Leave and self.hovered_fix != (None, None):
            self.hovered_fix = (None, None)
            self.viewport().update()
        handled = super().viewportEvent(event)
        if event.type() == QEvent.Type.Resize:
            # Qt does not always re-fit index widgets when a scroll bar appears.
            self.input_card.resize(self.viewport().width(), self.input_card.height())
        return handled

    def viewportSizeHint(self) -> QSize:
        return super().viewportSizeHint() + QSize(0, GAP * 2)

    # ---- context menu -------------------------------------------------------------------
    def contextMenuEvent(self, event) -> None:
        index = self.indexAt(event.pos())
        menu = QMenu(self)
        if index.isValid() and index.row() > INPUT_ROW:
            layer = layer_of(index.row())
            self.document.set_current(layer)
            self.fill_layer_menu(menu, layer)
        else:
            self._add_type_menu(menu, "Add layer", len(self.document.layers))
        if self.document.read_only:  # while training: nothing that edits
            for action in menu.actions():
                action.setEnabled(False)
        if index.isValid() and index.row() > INPUT_ROW:
            self._add_explain_actions(menu, layer_of(index.row()))
        menu.exec(event.globalPos())

    def _add_explain_actions(self, menu: QMenu, layer: int) -> None:
        """Views that explain the layer (they never edit, so they work while training too)."""
        info = self.document.analysis.layers[layer]
        if can_walk(info.type):
            first = menu.actions()[0] if menu.actions() else None
            action = QAction("Step through the computation…", menu)
            action.setToolTip("See how each output value is computed from the window, the weights and the bias")
            action.setEnabled(info.output_shape is not None)
            action.triggered.connect(lambda: self.stepThroughRequested.emit(layer))
            menu.insertAction(first, action)
            menu.insertSeparator(first)

    def fill_layer_menu(self, menu: QMenu, layer: int) -> None:
        """The layer's fixes (if it has a problem), insert above/below, duplicate, move and delete."""
        fixes = self.document.fixes.get(layer, [])
        if fixes:
            fix_menu = menu.addMenu("Fix")
            for fix in fixes:
                fix_menu.addAction(fix.description, lambda fix=fix: self.document.apply_fix(fix))
            menu.addSeparator()
        self._add_type_menu(menu, "Insert above", layer)
        self._add_type_menu(menu, "Insert below", layer + 1)
        menu.addSeparator()
        menu.addAction("Duplicate", lambda: self.document.duplicate_layer(layer))
        up = menu.addAction("Move up", lambda: self.document.move_layer(layer, layer - 1))
        down = menu.addAction("Move down", lambda: self.document.move_layer(layer, layer + 1))
        up.setEnabled(layer > 0)
        down.setEnabled(layer < len(self.document.layers) - 1)
        menu.addSeparator()
        menu.addAction("Delete", lambda: self.document.remove_layer(layer))

    def _add_type_menu(self, menu: QMenu, title: str, position: int) -> None:
        add_type_menu(menu, title, lambda type_name: self.document.add_layer(type_name, position))


class QtLayerStack(QWidget):
    """The centre of the window: the card list, kept in step with the document.

    ``set_health`` puts a status badge on the cards (core.health figures from training);
    ``stepThroughRequested(layer)`` asks for the walkthrough of a layer (card context menu).
    """

    stepThroughRequested = Signal(int)

    def __init__(self, document: DesignDocument, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.document = document
        self.view = LayerStackView(document)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(self.view)
        self._syncing = False
        self._input_error: str | None = None
        self._health: dict[int, LayerHealth] = {}
        self.view.stepThroughRequested.connect(self.stepThroughRequested)
        self.view.selectionModel().currentChanged.connect(self._view_current_changed)
        document.changed.connect(self.refresh)
        document.current_changed.connect(self._show_current)
        document.read_only_changed.connect(self._read_only_changed)
        self.refresh()

    @property
    def input_card(self) -> InputCard:
        return self.view.input_card

    def card(self, layer: int) -> Card:
        return self.view.stack_model.card(row_of(layer))

    def refresh(self) -> None:
        self._syncing = True
        try:
            document = self.document
            input_error = document.analysis.input_error
            fixes = {layer: [chip_text(f.description, document.fix_makes_valid(f), layer) for f in group]
                     for layer, group in document.fixes.items() if layer is not None}
            cards = [replace(card, health=self._health.get(card.index))
                     for card in make_cards(document.analysis, sees_phrases(document.config, document.analysis), fixes)]
            resized = self.view.stack_model.set_cards(cards)
            self.view.input_card.refresh()
            if resized or input_error != self._input_error:
                # A card's height depends on its messages: lay the rows out again.
                self.view.scheduleDelayedItemsLayout()
            self._input_error = input_error
            self._show_current(self.document.current)
        finally:
            self._syncing = False

    def set_health(self, health) -> None:
        """Badges from a sequence of core LayerHealth (empty: none)."""
        self._health = health_by_layer(health)
        self.refresh()

    def _show_current(self, layer: int) -> None:
        row = INPUT_ROW if layer == NO_LAYER else row_of(layer)
        if self.view.input_card.selected != (layer == NO_LAYER):
            self.view.input_card.selected = layer == NO_LAYER
            self.view.input_card.update()
        index = self.view.stack_model.index(row)
        if self.view.currentIndex() != index:
            was, self._syncing = self._syncing, True
            try:
                self.view.setCurrentIndex(index)
            finally:
                self._syncing = was
            self.view.scrollTo(index)

    def _view_current_changed(self, current: QModelIndex, _previous: QModelIndex) -> None:
        if self._syncing or not current.isValid():
            return
        self.document.set_current(NO_LAYER if current.row() == INPUT_ROW else layer_of(current.row()))

    def _read_only_changed(self, locked: bool) -> None:
        self.view.setDragEnabled(not locked)
        self.view.input_card.setEnabled(not locked)
