"""One button per one-click fix (any list of ``guicnn.core.fixes.Fix``), for red cards and panels."""

from __future__ import annotations

from typing import Sequence

from PySide6.QtCore import QSize, Qt, Signal
from PySide6.QtWidgets import QHBoxLayout, QLabel, QPushButton, QSizePolicy, QVBoxLayout, QWidget

from guicnn.core.fixes import Fix

VALID_MARK = "✓"
ROLE = "fix"  # the application's style sheet draws widgets of this role (guicnn.ui.style)


def fix_label(fix: Fix, makes_valid: bool) -> str:
    """Button text: the fix's description, marked when it makes the whole design valid."""
    return f"{VALID_MARK} {fix.description}" if makes_valid else f"→ {fix.description}"


def fix_tooltip(fix: Fix, makes_valid: bool) -> str:
    after = ("After it the whole design is valid." if makes_valid
             else "It removes this problem; another one further down remains.")
    return f"{fix.description}\n{after}\nOne undoable edit (Edit ▸ Undo)."


class WrapButton(QPushButton):
    """A push button whose text wraps to the width it is given (fix descriptions can be long)."""

    def __init__(self, text: str, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.label = QLabel(text)
        self.label.setWordWrap(True)
        self.label.setAttribute(Qt.WidgetAttribute.WA_TransparentForMouseEvents)
        layout = QHBoxLayout(self)
        layout.setContentsMargins(8, 4, 8, 4)
        layout.addWidget(self.label)
        policy = QSizePolicy(QSizePolicy.Policy.Preferred, QSizePolicy.Policy.Preferred)
        policy.setHeightForWidth(True)
        self.setSizePolicy(policy)

    def text(self) -> str:  # the button's text is its label's
        return self.label.text()

    def hasHeightForWidth(self) -> bool:
        return True

    def heightForWidth(self, width: int) -> int:
        return self.label.heightForWidth(max(1, width - 16)) + 8

    def sizeHint(self) -> QSize:
        hint = self.label.sizeHint()
        return QSize(min(hint.width(), 360) + 16, self.heightForWidth(min(hint.width(), 360) + 16))

    def minimumSizeHint(self) -> QSize:
        return QSize(80, self.label.fontMetrics().height() + 8)


class FixButtons(QWidget):
    """A titled column of fix buttons; ``fixChosen(Fix)`` when one is pressed.

    ``set_fixes(fixes, valid)`` shows any list of fixes (shape fixes, data-check fixes, ...);
    ``valid`` says, per fix, whether it makes the whole design valid (marked with ✓).
    """

    fixChosen = Signal(object)

    def __init__(self, title: str = "One-click fixes", parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.title = QLabel(title)
        self.title.setProperty("role", "fix-title")
        self._layout = QVBoxLayout(self)
        self._layout.setContentsMargins(0, 2, 0, 2)
        self._layout.setSpacing(4)
        self._layout.addWidget(self.title)
        self.buttons: list[WrapButton] = []
        self._fixes: list[Fix] = []
        self.hide()

    def fixes(self) -> list[Fix]:
        return list(self._fixes)

    def set_fixes(self, fixes: Sequence[Fix], valid: Sequence[bool] | None = None) -> None:
        fixes = list(fixes)
        valid = list(valid) if valid is not None else [False] * len(fixes)
        shown = [(b.text(), b.toolTip()) for b in self.buttons]
        wanted = [(fix_label(f, v), fix_tooltip(f, v)) for f, v in zip(fixes, valid)]
        self._fixes = fixes
        if shown != wanted:
            for button in self.buttons:
                self._layout.removeWidget(button)
                button.deleteLater()
            self.buttons = []
            for index, (text, tip) in enumerate(wanted):
                button = WrapButton(text)
                button.setToolTip(tip)
                button.setProperty("role", ROLE)
                button.setCursor(Qt.CursorShape.PointingHandCursor)
                # Queued: the fix may replace the page this button is on, which must not happen
                # while the button is still handling its own click.
                button.clicked.connect(lambda _=False, i=index: self._chosen(i), Qt.ConnectionType.QueuedConnection)
                self._layout.addWidget(button)
                self.buttons.append(button)
        self.setVisible(bool(fixes))

    def _chosen(self, index: int) -> None:
        if 0 <= index < len(self._fixes):
            self.fixChosen.emit(self._fixes[index])
