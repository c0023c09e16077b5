"""A list of core ``Problem`` s, each in a warning box with a button per one-click fix."""

from __future__ import annotations

from typing import Callable, Sequence

from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import QFrame, QLabel, QPushButton, QSizePolicy, QVBoxLayout, QWidget

from guicnn.core.checks import Problem
from guicnn.core.fixes import Fix

#: Extra buttons for a kind of problem that are not design edits: (button text, action).
Actions = dict[str, list[tuple[str, Callable[[], None]]]]


class ProblemList(QWidget):
    """Shows what is wrong and what would fix it; ``fixChosen(Fix)`` when a fix button is pressed.

    The boxes take the application's ``QFrame[role="warning"]`` style. ``actions`` add buttons
    that act elsewhere (e.g. "Read the images at 8×8" in the data panel) to problems of a kind.
    """

    fixChosen = Signal(object)

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self._layout = QVBoxLayout(self)
        self._layout.setContentsMargins(0, 0, 0, 0)
        self._layout.setSpacing(6)
        self._problems: list[Problem] = []
        self._buttons: list[QPushButton] = []
        self._enabled = True

    def set_problems(self, problems: Sequence[Problem], actions: Actions | None = None) -> None:
        while self._layout.count():
            item = self._layout.takeAt(0)
            if item.widget() is not None:
                item.widget().hide()
                item.widget().deleteLater()
        self._problems = list(problems)
        self._buttons = []
        for problem in self._problems:
            self._layout.addWidget(self._box(problem, (actions or {}).get(problem.kind, [])))
        self.setVisible(bool(self._problems))

    def _box(self, problem: Problem, extra: list[tuple[str, Callable[[], None]]]) -> QFrame:
        box = QFrame()
        box.setProperty("role", "warning")
        column = QVBoxLayout(box)
        column.setContentsMargins(8, 6, 8, 6)
        column.setSpacing(4)
        text = problem.message[:1].upper() + problem.message[1:] + "."
        if problem.hint and not problem.fixes and not extra:
            text += f" ({problem.hint[:1].upper() + problem.hint[1:]}.)"
        label = QLabel(text)
        label.setWordWrap(True)
        label.setTextFormat(Qt.TextFormat.PlainText)  # names from files are shown, never interpreted
        label.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        column.addWidget(label)
        buttons = [(fix.description, self._chooser(fix)) for fix in problem.fixes] + list(extra)
        for text, action in buttons:  # one under the other: a side dock is narrow
            button = QPushButton(text)
            button.setSizePolicy(QSizePolicy.Policy.Maximum, QSizePolicy.Policy.Fixed)
            button.clicked.connect(action)
            button.setEnabled(self._enabled)
            column.addWidget(button, 0, Qt.AlignmentFlag.AlignLeft)
            self._buttons.append(button)
        return box

    def _chooser(self, fix: Fix) -> Callable[[], None]:
        return lambda: self.fixChosen.emit(fix)

    def problems(self) -> list[Problem]:
        return list(self._problems)

    def messages(self) -> list[str]:
        return [problem.text() for problem in self._problems]

    def buttons(self) -> list[QPushButton]:
        """Every fix and action button, in the order shown."""
        return list(self._buttons)

    def set_buttons_enabled(self, enabled: bool) -> None:
        self._enabled = bool(enabled)
        for button in self._buttons:
            button.setEnabled(self._enabled)
