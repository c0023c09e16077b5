"""The inspector's "how these figures come out": a layer's formulas with its own numbers (from core.explain)."""

from __future__ import annotations

import re
from html import escape as _escape

from PySide6.QtCore import Qt, QTimer
from PySide6.QtWidgets import QLabel, QToolButton, QVBoxLayout, QWidget

from guicnn.core.explain import HEADINGS, TOPICS, Formula, LayerExplanation
from guicnn.ui import style


def escape(text: str) -> str:
    """HTML-escaped, with k_h, C_in, p_before written as subscripts."""
    return re.sub(r"\b([A-Za-z])_([A-Za-z]+)\b", r"\1<sub>\2</sub>", _escape(text))


def formula_html(formula: Formula) -> str:
    """One figure: its name, the formula, the user's numbers and the result, and the note below."""
    name = f"<b>{escape(formula.quantity)}</b>"
    if formula.symbols:
        steps = [escape(part) for part in (formula.numbers, formula.result) if part]
        body = (f"<span style='font-size:large'>{escape(formula.symbols)}</span><br>"
                f"<span style='font-size:large'>= {' = '.join(steps[:-1] + [f'<b>{steps[-1]}</b>'])}</span>")
        text = f"{name}<br>{body}"
    else:
        text = f"{name}: <span style='font-size:large'><b>{escape(formula.result)}</b></span>"
    if formula.note:
        text += f"<br><span style='color:{style.MUTED}'>{escape(formula.note)}</span>"
    return text


def explanation_html(explanation: LayerExplanation) -> str:
    """Every topic of a layer's explanation as rich text for the inspector."""
    blocks = []
    has_formulas = any(explanation.formulas(topic) for topic in TOPICS)
    if explanation.problem and not has_formulas:  # otherwise the inspector's red box says it already
        blocks.append(f"<p style='color:{style.MUTED}'>{escape(explanation.problem)}</p>")
    for topic in TOPICS:
        formulas = explanation.formulas(topic)
        if not formulas:
            continue
        items = "".join(f"<p style='margin-top:4px'>{formula_html(f)}</p>" for f in formulas)
        blocks.append(f"<p style='margin-top:10px'><u>{escape(HEADINGS[topic])}</u></p>{items}")
    if explanation.sees:
        blocks.append(f"<p style='margin-top:10px'><u>What does this layer see?</u></p><p>{escape(explanation.sees)}</p>")
    return "".join(blocks)


class _FormulaLabel(QLabel):
    """Rich text whose height for a width is measured once per text (Qt measures it on every relayout)."""

    def __init__(self) -> None:
        super().__init__()
        self._heights: dict[int, int] = {}

    def setText(self, text: str) -> None:  # noqa: N802 (Qt name)
        self._heights = {}
        super().setText(text)

    def heightForWidth(self, width: int) -> int:  # noqa: N802 (Qt name)
        if width not in self._heights:
            self._heights[width] = super().heightForWidth(width)
        return self._heights[width]


SETTLE_MS = 80  # a burst of edits (spin-box arrows) redraws the formulas once, after it


class ArithmeticPanel(QWidget):
    """A foldable section with a layer's arithmetic; folded or not is remembered across layers.

    Laying out the rich text costs ~10 ms, more than the rest of an edit: the first explanation
    is shown at once, later ones when the edits settle (the cards and the summary come first).
    """

    expanded = True  # shared by every page: a user who folds it once keeps it folded

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.toggle = QToolButton()
        self.toggle.setText("How these figures come out")
        self.toggle.setCheckable(True)
        self.toggle.setChecked(ArithmeticPanel.expanded)
        self.toggle.setToolButtonStyle(Qt.ToolButtonStyle.ToolButtonTextBesideIcon)
        self.toggle.setArrowType(Qt.ArrowType.DownArrow if ArithmeticPanel.expanded else Qt.ArrowType.RightArrow)
        self.toggle.setStyleSheet("QToolButton { border: none; font-weight: bold; }")
        self.toggle.toggled.connect(self._toggled)
        self.body = _FormulaLabel()
        self.body.setWordWrap(True)
        self.body.setTextFormat(Qt.TextFormat.RichText)
        self.body.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.body.setVisible(ArithmeticPanel.expanded)
        self.body.setStyleSheet(f"QLabel {{ background: #ffffff; border: 1px solid {style.BORDER}; "
                                "border-radius: 4px; padding: 6px; }")
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.setSpacing(4)
        layout.addWidget(self.toggle)
        layout.addWidget(self.body)
        self._plain = ""
        self._html = ""
        self._shown_once = False
        self._pending: LayerExplanation | None = None
        self._settle = QTimer(self)
        self._settle.setSingleShot(True)
        self._settle.setInterval(SETTLE_MS)
        self._settle.timeout.connect(self._show_pending)

    def show_explanation(self, explanation: LayerExplanation) -> None:
        self._plain = explanation.text()
        self._pending = explanation
        if self._shown_once:
            self._settle.start()
        else:
            self._show_pending()

    def _show_pending(self) -> None:
        explanation, self._pending = self._pending, None
        if explanation is None:
            return
        self._shown_once = True
        html = explanation_html(explanation)
        if html != self._html:
            self._html = html
            self.body.setText(html)
        self.setVisible(bool(explanation.text()))

    def plain_text(self) -> str:
        """The same arithmetic as plain text (what the tooltips and the CLI show)."""
        return self._plain

    def _toggled(self, on: bool) -> None:
        ArithmeticPanel.expanded = on
        self.toggle.setArrowType(Qt.ArrowType.DownArrow if on else Qt.ArrowType.RightArrow)
        self.body.setVisible(on)
