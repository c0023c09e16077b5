"""The layer palette: every registered layer type, grouped, to drag onto the stack or double-click."""

from __future__ import annotations

from PySide6.QtCore import QMimeData, QSize, Qt
from PySide6.QtGui import QIcon
from PySide6.QtWidgets import (
    QAbstractItemView,
    QLabel,
    QLineEdit,
    QMenu,
    QTreeWidget,
    QTreeWidgetItem,
    QVBoxLayout,
    QWidget,
)

from guicnn.core import GROUPS, layer_classes
from guicnn.ui.builder.document import DesignDocument
from guicnn.ui.style import MIME_LAYER_TYPE, bold_font, glyph_pixmap

TYPE_ROLE = Qt.ItemDataRole.UserRole + 1


class PaletteTree(QTreeWidget):
    """The grouped list; dragging an entry carries its type name as MIME_LAYER_TYPE."""

    def mimeTypes(self) -> list[str]:
        return [MIME_LAYER_TYPE]

    def mimeData(self, items: list[QTreeWidgetItem]) -> QMimeData:
        mime = QMimeData()
        types = [item.data(0, TYPE_ROLE) for item in items if item.data(0, TYPE_ROLE)]
        if types:
            mime.setData(MIME_LAYER_TYPE, types[0].encode())
            mime.setText(types[0])
        return mime


class QtLayerPalette(QWidget):
    """Layer types from the registry, grouped in palette order, with glyphs and explanations."""

    def __init__(self, document: DesignDocument, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.document = document
        self.filter = QLineEdit()
        self.filter.setPlaceholderText("Filter layers…")
        self.filter.setClearButtonEnabled(True)
        self.filter.textChanged.connect(self._apply_filter)
        self.tree = PaletteTree()
        self.tree.setHeaderHidden(True)
        self.tree.setRootIsDecorated(False)
        self.tree.setIndentation(8)
        self.tree.setDragEnabled(True)
        self.tree.setDragDropMode(QAbstractItemView.DragDropMode.DragOnly)
        self.tree.setDefaultDropAction(Qt.DropAction.CopyAction)  # a move would remove the entry
        self.tree.setIconSize(self.tree.iconSize().expandedTo(self._icon_size()))
        self.tree.itemActivated.connect(self._activated)
        hint = QLabel("Drag onto the stack, or double-click to add after the selected layer.")
        hint.setWordWrap(True)
        hint.setProperty("role", "caption")
        layout = QVBoxLayout(self)
        layout.setContentsMargins(6, 6, 6, 6)
        layout.setSpacing(6)
        layout.addWidget(self.filter)
        layout.addWidget(self.tree, 1)
        layout.addWidget(hint)
        self._populate()
        document.read_only_changed.connect(self._read_only_changed)

    def _read_only_changed(self, locked: bool) -> None:
        self.tree.setEnabled(not locked)

    def _icon_size(self) -> QSize:
        side = self.fontMetrics().height() + 8
        return QSize(side, side)

    def _populate(self) -> None:
        side = self._icon_size().width()
        ratio = self.devicePixelRatioF()
        groups: dict[str, QTreeWidgetItem] = {}
        for group in GROUPS:
            item = QTreeWidgetItem([group])
            item.setFlags(Qt.ItemFlag.ItemIsEnabled)
            item.setFont(0, bold_font(self.font()))
            groups[group] = item
        for cls in layer_classes():
            item = QTreeWidgetItem([cls.type_name])
            item.setData(0, TYPE_ROLE, cls.type_name)
            item.setIcon(0, QIcon(glyph_pixmap(cls.glyph, cls.group, side, self.font(), ratio, cls.type_name[:1])))
            item.setToolTip(0, f"<b>{cls.type_name}</b><br>{cls.description}")
            item.setStatusTip(0, cls.description)
            item.setFlags(Qt.ItemFlag.ItemIsEnabled | Qt.ItemFlag.ItemIsSelectable | Qt.ItemFlag.ItemIsDragEnabled)
            groups[cls.group].addChild(item)
        for group in GROUPS:
            if groups[group].childCount():
                self.tree.addTopLevelItem(groups[group])
                groups[group].setExpanded(True)

    def type_items(self) -> list[QTreeWidgetItem]:
        """Every layer-type entry (group headers excluded)."""
        root = self.tree.invisibleRootItem()
        return [root.child(g).child(i) for g in range(root.childCount()) for i in range(root.child(g).childCount())]

    def item_for(self, type_name: str) -> QTreeWidgetItem:
        return next(item for item in self.type_items() if item.data(0, TYPE_ROLE) == type_name)

    def _activated(self, item: QTreeWidgetItem, _column: int = 0) -> None:
        type_name = item.data(0, TYPE_ROLE)
        if type_name:
            self.document.add_after_current(type_name)

    def _apply_filter(self, text: str) -> None:
        needle = text.strip().lower()
        root = self.tree.invisibleRootItem()
        for g in range(root.childCount()):
            group = root.child(g)
            visible = 0
            for i in range(group.childCount()):
                item = group.child(i)
                match = not needle or needle in item.text(0).lower() or needle in group.text(0).lower()
                item.setHidden(not match)
                visible += match
            group.setHidden(visible == 0)


def add_type_menu(menu: QMenu, title: str, choose) -> QMenu:
    """A submenu of every layer type by group; ``choose(type_name)`` is called on a pick."""
    sub = menu.addMenu(title)
    classes = layer_classes()
    for group in GROUPS:
        members = [cls for cls in classes if cls.group == group]
        if not members:
            continue
        group_menu = sub.addMenu(group)
        for cls in members:
            action = group_menu.addAction(f"{cls.glyph}  {cls.type_name}")
            action.setStatusTip(cls.description)
            action.setToolTip(cls.description)
            action.triggered.connect(lambda _checked=False, name=cls.type_name: choose(name))
    return sub
