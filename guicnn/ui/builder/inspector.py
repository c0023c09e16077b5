"""The inspector: the selected layer's settings as typed editors built from the registry's fields."""

from __future__ import annotations

import html
from typing import Any

from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import (
    QFormLayout,
    QFrame,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QPushButton,
    QScrollArea,
    QSizePolicy,
    QVBoxLayout,
    QWidget,
)

from guicnn.core import ConfigError, Field, layer_class
from guicnn.core.explain import explain_layer
from guicnn.core.health import LayerHealth, health_by_layer
from guicnn.core.layers.common import fmt_shape
from guicnn.core.walkthrough import can_walk
from guicnn.ui import style
from guicnn.ui.builder.arithmetic import ArithmeticPanel
from guicnn.ui.builder.document import NO_LAYER, DesignDocument
from guicnn.ui.builder.field_editors import FieldEditor, make_editor
from guicnn.ui.widgets.elided_label import ElidedLabel
from guicnn.ui.widgets.fix_buttons import FixButtons


def caption(text: str = "", role: str = "caption") -> QLabel:
    label = QLabel(text)
    label.setWordWrap(True)
    label.setProperty("role", role)
    label.setFont(style.small_font(label.font()))
    label.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
    return label


class FieldRow(QWidget):
    """One setting: its label and default, the editor, the help caption and a refusal reason."""

    def __init__(self, field: Field, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.field = field
        label_text = style.humanise(field.name)
        self.editor: FieldEditor = make_editor(field, label_text)
        tip = f"<b>{field.name}</b>: {field.help}<br>Allowed: {field.range_text()} · default: {default_text(field)}"
        self.editor.setToolTip(tip)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 4, 0, 4)
        layout.setSpacing(3)
        if field.kind != "bool":
            head = QHBoxLayout()
            name = QLabel(label_text)
            name.setFont(style.bold_font(name.font()))
            name.setToolTip(f"config key: {field.name}")
            head.addWidget(name)
            head.addStretch(1)
            default = caption(f"default {default_text(field)}")
            default.setWordWrap(False)
            head.addWidget(default)
            layout.addLayout(head)
        layout.addWidget(self.editor)
        self.help = caption(field.help)
        layout.addWidget(self.help)
        self.error = caption(role="error")
        self.error.hide()
        layout.addWidget(self.error)
        self.editor.typing_error.connect(self.show_error)

    def show_error(self, reason: str | None) -> None:
        self.error.setText(f"✖ {reason}" if reason else "")
        self.error.setVisible(bool(reason))


def default_text(field: Field) -> str:
    if field.default is None:
        return field.default_text or "automatic"
    if isinstance(field.default, bool):
        return "on" if field.default else "off"
    if isinstance(field.default, list):
        return ", ".join(map(str, field.default))
    return f"{field.default:g}" if isinstance(field.default, float) else str(field.default)


class ProblemBox(QFrame):
    """A calm red (error) or amber (warning) box with the reason as text."""

    def __init__(self, role: str, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setProperty("role", role)
        self.label = QLabel()
        self.label.setWordWrap(True)
        self.label.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        colour = style.ERROR if role == "problem" else style.WARNING
        self.label.setStyleSheet(f"color: {colour}; background: transparent; border: none;")
        layout = QVBoxLayout(self)
        layout.setContentsMargins(8, 6, 8, 6)
        layout.addWidget(self.label)
        self.hide()

    def show_lines(self, lines: list[str], symbol: str) -> None:
        self.label.setText("\n".join(f"{symbol} {line}" for line in lines))
        self.setVisible(bool(lines))


class HealthBox(QFrame):
    """The layer's health after the last epoch (core.health): status, figures' meaning and advice."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("health")
        self.label = QLabel()
        self.label.setWordWrap(True)
        self.label.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(8, 6, 8, 6)
        layout.addWidget(self.label)
        self.hide()

    def show_health(self, health: LayerHealth | None) -> None:
        if health is None:
            self.hide()
            return
        colour = style.HEALTH_COLOURS[health.status]
        self.setStyleSheet(f"QFrame#health {{ border: 1px solid {colour}; border-left: 5px solid {colour}; "
                           "border-radius: 4px; background: #ffffff; }")
        title = {"green": "Healthy", "amber": "Worth watching", "red": "A problem"}[health.status]
        body = html.escape(health.explanation).replace("\n", "<br>")
        self.label.setText(f"<b style='color:{colour}'>● {title}: {html.escape(health.badge)}</b>"
                           f"<br>{body}")
        self.show()


class FactsForm(QFormLayout):
    """Label/value pairs ('Output', '6×28×28') that update in place."""

    def __init__(self) -> None:
        super().__init__()
        self.setContentsMargins(0, 0, 0, 0)
        self.setHorizontalSpacing(12)
        self.setVerticalSpacing(3)
        self.values: dict[str, ElidedLabel] = {}

    def add(self, name: str) -> None:
        value = ElidedLabel(auto_tooltip=False)  # the tooltip explains the figure (see ``set``)
        label = QLabel(name)
        label.setProperty("role", "caption")
        self.addRow(label, value)
        self.values[name] = value

    def set(self, name: str, text: str, tooltip: str = "") -> None:
        """Show a value; ``tooltip`` (how it comes out) is shown on hover, else the value itself."""
        self.values[name].setText(text)
        self.values[name].setToolTip(tooltip or text)


class InspectorPage(QWidget):
    """Header, description, facts in context and problems; subclasses add the editable part."""

    def __init__(self, title: str, subtitle: str, description: str, glyph: str, group: str) -> None:
        super().__init__()
        self.body = QVBoxLayout(self)
        self.body.setContentsMargins(10, 10, 10, 10)
        self.body.setSpacing(8)
        head = QHBoxLayout()
        tile = QLabel()
        tile.setPixmap(style.glyph_pixmap(glyph, group, 38, self.font(), self.devicePixelRatioF(), title[:1]))
        names = QVBoxLayout()
        names.setSpacing(0)
        self.title = QLabel(title)
        self.title.setFont(style.bold_font(self.font(), 3))
        self.subtitle = caption(subtitle)
        names.addWidget(self.title)
        names.addWidget(self.subtitle)
        head.addWidget(tile)
        head.addLayout(names, 1)
        self.body.addLayout(head)
        self.description = caption(description)
        self.body.addWidget(self.description)
        self.facts = FactsForm()
        self.problem = ProblemBox("problem")
        self.warning = ProblemBox("warning")
        self.fix_buttons = FixButtons()

    def add_facts(self, names: tuple[str, ...]) -> None:
        for name in names:
            self.facts.add(name)
        self.body.addLayout(self.facts)

    def add_heading(self, text: str) -> None:
        rule = QFrame()
        rule.setFrameShape(QFrame.Shape.HLine)
        rule.setStyleSheet(f"color: {style.BORDER};")
        self.body.addWidget(rule)
        heading = QLabel(text)
        heading.setProperty("role", "heading")
        self.body.addWidget(heading)


class LayerPage(InspectorPage):
    """The settings of one layer."""

    def __init__(self, document: DesignDocument, index: int) -> None:
        layer_config = document.layers[index]
        self.document, self.index = document, index
        try:
            self.cls = layer_class(layer_config.get("type"))
            glyph, group, description = self.cls.glyph, self.cls.group, self.cls.description
        except ConfigError as exc:
            self.cls, glyph, group, description = None, "?", "", str(exc)
        super().__init__(str(layer_config.get("type")), f"Layer {index} · {group or 'unknown type'}",
                         description, glyph, group)
        self.add_facts(("Input", "Output", "Parameters", "Receptive field", "Mult-adds"))
        self.body.addWidget(self.problem)
        self.body.addWidget(self.fix_buttons)
        self.fix_buttons.fixChosen.connect(document.apply_fix)
        self.body.addWidget(self.warning)
        self.arithmetic = ArithmeticPanel()
        self.body.addWidget(self.arithmetic)
        self.health = HealthBox()
        self.body.addWidget(self.health)
        self.step_through: QPushButton | None = None
        if self.cls is not None and can_walk(self.cls.type_name):
            self.step_through = QPushButton("▶  Step through the computation")
            self.step_through.setToolTip("Open the Step-through tab: how each output value of this layer comes "
                                         "from its window, weights and bias, value by value")
            self.body.addWidget(self.step_through)
        self.rows: dict[str, FieldRow] = {}
        if self.cls is not None and self.cls.fields:
            self.add_heading("Settings")
            for field in self.cls.fields:
                row = FieldRow(field)
                row.editor.proposed.connect(lambda value, name=field.name: self._propose(name, value))
                self.rows[field.name] = row
                self.body.addWidget(row)
        elif self.cls is not None:
            self.body.addWidget(caption(f"{self.cls.type_name} has no settings."))
        self.add_heading("Name (optional)")
        self.name_edit = QLineEdit()
        self.name_edit.setPlaceholderText("e.g. conv1 — shown on the card")
        self.name_edit.editingFinished.connect(self._rename)
        self.body.addWidget(self.name_edit)
        self.body.addStretch(1)

    def refresh(self) -> None:
        layer_config = self.document.layers[self.index]
        document = self.document
        info = document.analysis.layers[self.index]
        explanation = explain_layer(document.config, self.index, document.analysis)
        self.facts.set("Input", fmt_shape(info.input_shape))
        self.facts.set("Output", "—" if info.output_shape is None else fmt_shape(info.output_shape),
                       explanation.text("output"))
        self.facts.set("Parameters", style.fmt_count(info.params), explanation.text("parameters"))
        rf = info.receptive_field
        self.facts.set("Receptive field", "—" if rf is None else f"{rf[0]}×{rf[1]} input pixels",
                       explanation.text("receptive_field"))
        self.facts.set("Mult-adds", style.fmt_count(info.macs), explanation.text("macs"))
        self.arithmetic.show_explanation(explanation)
        fixes = document.fixes.get(self.index, [])
        self.fix_buttons.set_fixes(fixes, [document.fix_makes_valid(f) for f in fixes])
        self.problem.show_lines([info.error] if info.error else [], "✖")
        self.warning.show_lines(info.warnings, "⚠")
        if self.step_through is not None:
            self.step_through.setEnabled(self.document.analysis.valid)
        for name, row in self.rows.items():
            value = layer_config.get(name, row.field.default)
            row.editor.set_value(value, self._effective(row.field, layer_config))
        if not self.name_edit.hasFocus():
            self.name_edit.setText(layer_config.get("name", "") if isinstance(layer_config.get("name"), str) else "")

    def _effective(self, field: Field, layer_config: dict[str, Any]) -> Any:
        """What a None default stands for: default_text '= pool_size' names the field it copies."""
        if field.default is not None or not (field.default_text or "").startswith("= "):
            return None
        other = field.default_text[2:].strip()
        if other in self.rows:
            return layer_config.get(other, self.rows[other].field.default)
        return None

    def _propose(self, name: str, value: Any) -> None:
        row = self.rows[name]
        reason = self.document.set_field(self.index, name, value)
        row.show_error(reason)
        if reason:
            layer_config = self.document.layers[self.index]
            row.editor.set_value(layer_config.get(name, row.field.default), self._effective(row.field, layer_config))

    def _rename(self) -> None:
        self.document.set_layer_name(self.index, self.name_edit.text())


class DesignPage(InspectorPage):
    """The design itself: its name, description and totals (shown when no layer is selected)."""

    def __init__(self, document: DesignDocument) -> None:
        self.document = document
        super().__init__("Design", "the whole network", "", "⊡", "Shape")
        self.add_heading("Name")
        self.name_edit = QLineEdit()
        self.name_edit.editingFinished.connect(self._rename)
        self.name_error = caption(role="error")
        self.name_error.hide()
        self.body.addWidget(self.name_edit)
        self.body.addWidget(self.name_error)
        self.add_heading("Totals")
        self.add_facts(("Input", "Output", "Layers", "Parameters", "Weights", "Mult-adds", "Trained weights"))
        self.body.addWidget(self.problem)
        self.body.addWidget(self.fix_buttons)
        self.fix_buttons.fixChosen.connect(document.apply_fix)
        self.body.addWidget(self.warning)
        self.body.addWidget(caption("Select a layer card to edit its settings; "
                                    "edit the input shape on the input card."))
        self.body.addStretch(1)

    def refresh(self) -> None:
        analysis = self.document.analysis
        if not self.name_edit.hasFocus():
            self.name_edit.setText(self.document.name)
        description = self.document.config.get("description")
        self.description.setText(description if isinstance(description, str) else "")
        self.description.setVisible(bool(self.description.text()))
        self.facts.set("Input", fmt_shape(analysis.input_shape))
        self.facts.set("Output", "—" if analysis.output_shape is None else fmt_shape(analysis.output_shape))
        self.facts.set("Layers", str(len(analysis.layers)))
        self.facts.set("Parameters", style.fmt_count(analysis.total_params))
        self.facts.set("Weights", style.fmt_bytes(analysis.weight_bytes) + " (float32)")
        self.facts.set("Mult-adds", f"{style.fmt_count(analysis.total_macs)} per image")
        self.facts.set("Trained weights", "kept from the model file" if self.document.weights else "none (untrained)")
        self.problem.show_lines(analysis.errors, "✖")
        self.warning.show_lines(analysis.warnings, "⚠")
        fixes = [fix for group in self.document.fixes.values() for fix in group]
        self.fix_buttons.set_fixes(fixes, [self.document.fix_makes_valid(f) for f in fixes])

    def _rename(self) -> None:
        reason = self.document.rename(self.name_edit.text())
        self.name_error.setText(f"✖ {reason}" if reason else "")
        self.name_error.setVisible(bool(reason))


class QtInspector(QScrollArea):
    """Shows the selected layer (or the design) and turns edits into document commands."""

    stepThroughRequested = Signal(int)  # layer index: open the walkthrough of that layer

    def set_health(self, health) -> None:
        """Layer health from training (a sequence of core LayerHealth; empty: none) for the layer pages."""
        self._health = health_by_layer(health)
        if isinstance(self.page, LayerPage):
            self.page.health.show_health(self._health.get(self.page.index))

    def __init__(self, document: DesignDocument, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.document = document
        self.setWidgetResizable(True)
        self.setFrameShape(QFrame.Shape.NoFrame)
        self.setHorizontalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
        self.setSizePolicy(QSizePolicy.Policy.Preferred, QSizePolicy.Policy.Expanding)
        self.page: InspectorPage | None = None
        self._page_key: tuple | None = None
        self._health: dict[int, LayerHealth] = {}
        document.changed.connect(self.refresh)
        document.current_changed.connect(self._current_changed)
        document.read_only_changed.connect(self._read_only_changed)
        self.refresh()

    def _current_changed(self, _index: int) -> None:
        self.refresh()

    def _read_only_changed(self, locked: bool) -> None:
        if self.page is not None:
            self.page.setEnabled(not locked)

    def refresh(self) -> None:
        index = self.document.current
        key = ("design",) if index == NO_LAYER else ("layer", index, self.document.layers[index].get("type"))
        if key != self._page_key:
            self.page = DesignPage(self.document) if index == NO_LAYER else LayerPage(self.document, index)
            if isinstance(self.page, LayerPage) and self.page.step_through is not None:
                self.page.step_through.clicked.connect(lambda _=False, i=index: self.stepThroughRequested.emit(i))
            self.page.setEnabled(not self.document.read_only)
            self._page_key = key
            self.setWidget(self.page)  # the old page is deleted by the scroll area
        if isinstance(self.page, LayerPage):
            self.page.health.show_health(self._health.get(index))
        self.page.refresh()

    def row(self, name: str) -> FieldRow:
        """The row of a setting of the selected layer (for tests and keyboard focus)."""
        return self.page.rows[name]
