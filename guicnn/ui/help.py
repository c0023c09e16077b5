"""Help: the user guide in a viewer, the keyboard shortcuts of the window's own actions, About."""

from __future__ import annotations

import html
import platform
from pathlib import Path

from PySide6 import __version__ as PYSIDE_VERSION
from PySide6.QtCore import QUrl
from PySide6.QtGui import QKeySequence, QTextDocument
from PySide6.QtWidgets import (
    QDialog,
    QDialogButtonBox,
    QHBoxLayout,
    QHeaderView,
    QMenu,
    QMenuBar,
    QPushButton,
    QTableWidget,
    QTableWidgetItem,
    QTextBrowser,
    QVBoxLayout,
    QWidget,
)

from guicnn import __license__, __version__
from guicnn.core import accelerate
from guicnn.core.data import data_credits
from guicnn.resources import guide_dir


class GuideViewer(QDialog):
    """The Markdown pages of the user guide, with links between them, Back, Forward and Contents."""

    def __init__(self, parent: QWidget | None = None, folder: Path | None = None) -> None:
        super().__init__(parent)
        self.setWindowTitle("guicnn user guide")
        self.folder = folder or guide_dir()
        self.browser = QTextBrowser()
        self.browser.setOpenLinks(True)
        self.browser.setOpenExternalLinks(True)  # web links go to the browser
        self.browser.setSearchPaths([str(self.folder)])
        self.browser.document().setDefaultStyleSheet("pre, code { font-size: 9pt; }")
        self.back_button = QPushButton("◀ Back")
        self.forward_button = QPushButton("Forward ▶")
        self.home_button = QPushButton("Contents")
        self.back_button.clicked.connect(self.browser.backward)
        self.forward_button.clicked.connect(self.browser.forward)
        self.home_button.clicked.connect(self.browser.home)
        self.browser.backwardAvailable.connect(self.back_button.setEnabled)
        self.browser.forwardAvailable.connect(self.forward_button.setEnabled)
        self.back_button.setEnabled(False)
        self.forward_button.setEnabled(False)
        buttons = QHBoxLayout()
        for button in (self.back_button, self.forward_button, self.home_button):
            buttons.addWidget(button)
        buttons.addStretch(1)
        close = QDialogButtonBox(QDialogButtonBox.StandardButton.Close)
        close.rejected.connect(self.reject)
        buttons.addWidget(close)
        layout = QVBoxLayout(self)
        layout.addLayout(buttons)
        layout.addWidget(self.browser, 1)
        self.show_page("index.md")
        char = self.fontMetrics().horizontalAdvance("0")
        self.resize(min(char * 100, 900), 640)

    def show_page(self, name: str) -> None:
        """Open one page of the guide by file name, e.g. ``"training.md"``."""
        self.browser.setSource(QUrl.fromLocalFile(str(self.folder / name)),
                               QTextDocument.ResourceType.MarkdownResource)

    def page(self) -> str:
        """The file name of the page shown."""
        return self.browser.source().fileName()

    def text(self) -> str:
        return self.browser.toPlainText()


def shortcut_rows(menu_bar: QMenuBar) -> list[tuple[str, str, str]]:
    """(menu path, command, shortcuts) of every action with a shortcut, read from the menus
    themselves, so the list always says what the keys really do."""
    rows: list[tuple[str, str, str]] = []

    def visit(menu: QMenu, path: str) -> None:
        for action in menu.actions():
            if action.isSeparator():
                continue
            name = _plain(action.text())
            if action.menu() is not None:
                visit(action.menu(), f"{path} ▸ {name}")
                continue
            keys = [k.toString(QKeySequence.SequenceFormat.NativeText) for k in action.shortcuts() if not k.isEmpty()]
            if keys:
                rows.append((path, name, " or ".join(keys)))

    for action in menu_bar.actions():
        if action.menu() is not None:
            visit(action.menu(), _plain(action.text()))
    return rows


def _plain(text: str) -> str:
    """Menu text without its mnemonic '&' (and '&&' as '&') or the trailing tab part."""
    return text.split("\t")[0].replace("&&", "\0").replace("&", "").replace("\0", "&")


class ShortcutsDialog(QDialog):
    """A table of the window's keyboard shortcuts (Help ▸ Keyboard shortcuts)."""

    def __init__(self, menu_bar: QMenuBar, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setWindowTitle("Keyboard shortcuts")
        rows = shortcut_rows(menu_bar)
        self.table = QTableWidget(len(rows), 3)
        self.table.setHorizontalHeaderLabels(["Menu", "Command", "Keys"])
        self.table.verticalHeader().hide()
        self.table.setEditTriggers(QTableWidget.EditTrigger.NoEditTriggers)
        self.table.setSelectionMode(QTableWidget.SelectionMode.NoSelection)
        for row, values in enumerate(rows):
            for column, value in enumerate(values):
                self.table.setItem(row, column, QTableWidgetItem(value))
        header = self.table.horizontalHeader()
        header.setSectionResizeMode(QHeaderView.ResizeMode.ResizeToContents)
        header.setStretchLastSection(True)
        close = QDialogButtonBox(QDialogButtonBox.StandardButton.Close)
        close.rejected.connect(self.reject)
        layout = QVBoxLayout(self)
        layout.addWidget(self.table, 1)
        layout.addWidget(close)
        self.resize(520, min(640, 80 + 30 * len(rows)))

    def rows(self) -> list[tuple[str, str, str]]:
        return [tuple(self.table.item(r, c).text() for c in range(3)) for r in range(self.table.rowCount())]


def about_html() -> str:
    """About guicnn: what it is, version, licence, the libraries it runs on and the data sets' credits."""
    import numpy
    import pyqtgraph

    credits = "".join(
        f"<li><b>{html.escape(title)}</b>: {html.escape(credit)}"
        + (f" (<a href='{html.escape(url)}'>{html.escape(url)}</a>)" if url else "") + "</li>"
        for title, credit, url in data_credits())
    return (
        f"<h3>guicnn {__version__}</h3>"
        "<p>Build a convolutional neural network by point and click, train it with a NumPy core on "
        "your own machine, and watch it learn.</p>"
        f"<p>Licence: {__license__}. Runs on Python {platform.python_version()}, NumPy {numpy.__version__}, "
        f"PySide6 {PYSIDE_VERSION} (Qt) and pyqtgraph {pyqtgraph.__version__}.</p>"
        f"<p><b>Engine</b><br>{html.escape(accelerate.describe())}</p>"
        f"<p><b>Data sets</b></p><ul>{credits}</ul>"
        "<p>Help ▸ User guide (F1) walks through building, training and reading every view.</p>"
    )
