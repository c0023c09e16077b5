"""Typed editors for the registry's Field specs (one per field kind).

Every editor emits ``proposed(value)`` when the user commits a value and shows what the
document holds through ``set_value``. Editors accept any number the user types; the
inspector asks the document, which refuses values outside the field's range with the
reason, so the limit is explained rather than silently clamped. Arrow steps stop at the
allowed range.
"""

from __future__ import annotations

import math
import re
from typing import Any

from PySide6.QtCore import QSize, Signal
from PySide6.QtWidgets import (
    QAbstractSpinBox,
    QCheckBox,
    QComboBox,
    QDoubleSpinBox,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QSpinBox,
    QVBoxLayout,
    QWidget,
)

from guicnn.core import Field

_TYPED_LIMIT = 10_000_000  # how far beyond a field's range a typed number may go before Qt blocks it


class FieldEditor(QWidget):
    """Base of the typed editors: ``proposed`` carries a committed value, ``typing_error`` a parse problem."""

    proposed = Signal(object)
    typing_error = Signal(str)

    def __init__(self, field: Field, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.field = field
        self._outer = QVBoxLayout(self)
        self._outer.setContentsMargins(0, 0, 0, 0)
        self._outer.setSpacing(4)
        self._layout = QHBoxLayout()
        self._layout.setSpacing(6)
        self._outer.addLayout(self._layout)

    def set_value(self, value: Any, effective: Any = None) -> None:
        """Show the document's value (``effective`` is what a ``None`` default stands for)."""
        raise NotImplementedError

    def _propose(self, value: Any) -> None:
        self.proposed.emit(value)


class BoundedSpinBox(QSpinBox):
    """A spin box whose arrows stop at the field's range but which accepts any typed number."""

    def __init__(self, field: Field, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self._low = int(field.minimum) if field.minimum is not None else -_TYPED_LIMIT
        self._high = int(field.maximum) if field.maximum is not None else _TYPED_LIMIT
        self.setRange(-_TYPED_LIMIT, _TYPED_LIMIT)
        self.setKeyboardTracking(False)  # one value per Enter/focus change, not per keystroke
        self.setAccelerated(True)
        # Sized for the allowed range, not for the wide range that lets typos be explained.
        digits = max(3, len(str(self._high)))
        self._width = self.fontMetrics().horizontalAdvance("0" * digits) + 34
        self.setFixedWidth(self._width)

    def sizeHint(self) -> QSize:
        return QSize(self._width, super().sizeHint().height())

    def minimumSizeHint(self) -> QSize:
        return QSize(self._width, super().minimumSizeHint().height())

    def stepBy(self, steps: int) -> None:
        self.setValue(max(self._low, min(self._high, self.value() + steps)))

    def stepEnabled(self) -> QAbstractSpinBox.StepEnabledFlag:
        flags = QAbstractSpinBox.StepEnabledFlag.StepNone
        if self.value() > self._low:
            flags |= QAbstractSpinBox.StepEnabledFlag.StepDownEnabled
        if self.value() < self._high:
            flags |= QAbstractSpinBox.StepEnabledFlag.StepUpEnabled
        return flags


class IntEditor(FieldEditor):
    """A whole number (filters, units)."""

    def __init__(self, field: Field, parent: QWidget | None = None) -> None:
        super().__init__(field, parent)
        self.spin = BoundedSpinBox(field)
        self.spin.valueChanged.connect(self._propose)
        self._layout.addWidget(self.spin)
        self._layout.addStretch(1)

    def set_value(self, value: Any, effective: Any = None) -> None:
        if self.spin.value() != int(value):  # an unchanged spin box must not repaint
            with _blocked(self.spin):
                self.spin.setValue(int(value))


class FloatEditor(FieldEditor):
    """A real number with decimals and steps suited to its default (rate 0.5, eps 1e-5)."""

    def __init__(self, field: Field, parent: QWidget | None = None) -> None:
        super().__init__(field, parent)
        self.spin = QDoubleSpinBox()
        self.spin.setDecimals(_decimals_for(field))
        self.spin.setRange(-_TYPED_LIMIT, _TYPED_LIMIT)
        self.spin.setStepType(QAbstractSpinBox.StepType.AdaptiveDecimalStepType)
        self.spin.setKeyboardTracking(False)
        self.spin.setMaximumWidth(120)
        self.spin.valueChanged.connect(self._propose)
        self._layout.addWidget(self.spin)
        self._layout.addStretch(1)

    def set_value(self, value: Any, effective: Any = None) -> None:
        if self.spin.value() != float(value):
            with _blocked(self.spin):
                self.spin.setValue(float(value))


class BoolEditor(FieldEditor):
    """On/off (use_bias)."""

    def __init__(self, field: Field, label: str, parent: QWidget | None = None) -> None:
        super().__init__(field, parent)
        self.check = QCheckBox(label)
        self.check.toggled.connect(self._propose)
        self._layout.addWidget(self.check)
        self._layout.addStretch(1)

    def set_value(self, value: Any, effective: Any = None) -> None:
        with _blocked(self.check):
            self.check.setChecked(bool(value))


class ChoiceEditor(FieldEditor):
    """One of a few named options (mode, init)."""

    def __init__(self, field: Field, parent: QWidget | None = None) -> None:
        super().__init__(field, parent)
        self.combo = QComboBox()
        self.combo.addItems(list(field.choices))
        self.combo.currentTextChanged.connect(self._propose)
        self._layout.addWidget(self.combo)
        self._layout.addStretch(1)

    def set_value(self, value: Any, effective: Any = None) -> None:
        with _blocked(self.combo):
            self.combo.setCurrentText(str(value))


class PairEditor(FieldEditor):
    """Height × width with a 'square' link; a linked pair is written as one number.

    Fields whose default depends on another field (pool stride = pool_size) get an
    'auto' check box that writes ``None``.
    """

    def __init__(self, field: Field, parent: QWidget | None = None) -> None:
        super().__init__(field, parent)
        self.auto: QCheckBox | None = None
        if field.default is None:
            self.auto = QCheckBox(field.default_text or "auto")
            self.auto.setToolTip("Use the default that follows the other settings")
            self.auto.toggled.connect(self._auto_toggled)
            self._outer.insertWidget(0, self.auto)
        self.height_spin = BoundedSpinBox(field)
        self.width_spin = BoundedSpinBox(field)
        self.height_spin.setToolTip("height")
        self.width_spin.setToolTip("width")
        self.link = QCheckBox("square")
        self.link.setToolTip("Keep height and width equal (written as one number)")
        self.link.toggled.connect(self._link_toggled)
        self._layout.addWidget(self.height_spin)
        self._layout.addWidget(QLabel("×"))
        self._layout.addWidget(self.width_spin)
        self._layout.addWidget(self.link)
        self._layout.addStretch(1)
        self.height_spin.valueChanged.connect(lambda v: self._spin_changed(self.height_spin, v))
        self.width_spin.valueChanged.connect(lambda v: self._spin_changed(self.width_spin, v))

    def set_value(self, value: Any, effective: Any = None) -> None:
        is_auto = value is None
        shown = effective if is_auto else value
        if shown is None:
            shown = self.field.minimum if self.field.minimum is not None else 1
        height, width = (shown[0], shown[1]) if isinstance(shown, (list, tuple)) else (shown, shown)
        toggles = [self.link] + ([self.auto] if self.auto is not None else [])
        with _blocked(self.height_spin, self.width_spin, *toggles):
            for spin, number in ((self.height_spin, int(height)), (self.width_spin, int(width))):
                if spin.value() != number:  # an unchanged spin box must not repaint
                    spin.setValue(number)
            self.link.setChecked(not isinstance(shown, (list, tuple)))
            if self.auto is not None:
                self.auto.setChecked(is_auto)
        self._update_enabled()

    def pair_value(self) -> int | list[int]:
        height, width = self.height_spin.value(), self.width_spin.value()
        return height if self.link.isChecked() and height == width else [height, width]

    def _spin_changed(self, spin: QSpinBox, value: int) -> None:
        if self.link.isChecked():
            other = self.width_spin if spin is self.height_spin else self.height_spin
            with _blocked(other):
                other.setValue(value)
        self._propose(self.pair_value())

    def _link_toggled(self, square: bool) -> None:
        # Unlinking changes nothing yet; the next edit of one side writes a [h, w] pair.
        if square:
            with _blocked(self.width_spin):
                self.width_spin.setValue(self.height_spin.value())
            self._propose(self.pair_value())

    def _auto_toggled(self, is_auto: bool) -> None:
        self._update_enabled()
        self._propose(None if is_auto else self.pair_value())

    def _update_enabled(self) -> None:
        manual = self.auto is None or not self.auto.isChecked()
        for widget in (self.height_spin, self.width_spin, self.link):
            widget.setEnabled(manual)


class PaddingEditor(FieldEditor):
    """A number of pixels per side (or a pair), or one of the named modes 'valid' / 'same'."""

    NUMBER = "pixels"

    def __init__(self, field: Field, parent: QWidget | None = None) -> None:
        super().__init__(field, parent)
        self.mode = QComboBox()
        self.mode.addItems([self.NUMBER, *field.choices])
        self.mode.setToolTip("pixels: zeros added on each side · valid: none · same: keep the size (stride 1)")
        self.pair = PairEditor(field)
        self._layout.addWidget(self.mode)
        self._layout.addStretch(1)
        self._outer.addWidget(self.pair)
        self.mode.currentTextChanged.connect(self._mode_changed)
        self.pair.proposed.connect(self._propose)

    def set_value(self, value: Any, effective: Any = None) -> None:
        named = isinstance(value, str)
        with _blocked(self.mode):
            self.mode.setCurrentText(value if named else self.NUMBER)
        if not named:
            self.pair.set_value(value)
        self.pair.setEnabled(not named)

    def _mode_changed(self, mode: str) -> None:
        self.pair.setEnabled(mode == self.NUMBER)
        self._propose(self.pair.pair_value() if mode == self.NUMBER else mode)


class IntListEditor(FieldEditor):
    """A list of whole numbers typed as '1, 2, 4' (pyramid levels)."""

    def __init__(self, field: Field, parent: QWidget | None = None) -> None:
        super().__init__(field, parent)
        self.line = QLineEdit()
        self.line.setPlaceholderText(", ".join(map(str, field.default or [1, 2, 4])))
        self.line.editingFinished.connect(self._commit)
        self._layout.addWidget(self.line, 1)
        self._shown = ""

    def set_value(self, value: Any, effective: Any = None) -> None:
        self._shown = ", ".join(str(v) for v in value)
        self.line.setText(self._shown)

    def _commit(self) -> None:
        text = self.line.text().strip()
        if text == self._shown:
            return
        try:
            self._propose(parse_int_list(text, self.field.name))
        except ValueError as exc:
            self.typing_error.emit(str(exc))


def parse_int_list(text: str, name: str) -> list[int]:
    """'1, 2, 4' -> [1, 2, 4]; ValueError saying what is expected."""
    parts = [p for p in re.split(r"[,\s;]+", text.strip().strip("[]")) if p]
    if not parts:
        raise ValueError(f"{name} needs at least one whole number, e.g. 1, 2, 4")
    try:
        return [int(p) for p in parts]
    except ValueError:
        raise ValueError(f"{name} must be whole numbers separated by commas, e.g. 1, 2, 4; got {text!r}") from None


def make_editor(field: Field, label: str) -> FieldEditor:
    """The editor for a field's kind; adding a layer type needs no new editor."""
    kinds = {
        "int": IntEditor, "float": FloatEditor, "choice": ChoiceEditor, "pair": PairEditor,
        "padding": PaddingEditor, "int_list": IntListEditor,
    }
    if field.kind == "bool":
        return BoolEditor(field, label)
    return kinds[field.kind](field)


def _decimals_for(field: Field) -> int:
    """Enough decimals to show the default and the smallest sensible step (eps 1e-5 -> 7)."""
    candidates = [abs(v) for v in (field.default, field.minimum, field.maximum)
                  if isinstance(v, (int, float)) and v not in (0, None)]
    smallest = min(candidates, default=1.0)
    return max(2, min(8, 2 - math.floor(math.log10(smallest))))


class _blocked:
    """Context manager: silence widgets' signals while showing the document's value."""

    def __init__(self, *widgets: QWidget) -> None:
        self._widgets = widgets
        self._previous: list[bool] = []

    def __enter__(self) -> None:
        self._previous = [w.blockSignals(True) for w in self._widgets]

    def __exit__(self, *exc: object) -> None:
        for widget, previous in zip(self._widgets, self._previous):
            widget.blockSignals(previous)
