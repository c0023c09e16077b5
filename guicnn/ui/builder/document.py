"""DesignDocument: the design being edited, its undo stack, analysis, file and trained weights.

Views subscribe to its signals and redraw from it; it knows nothing about widgets, so the
builder and the training panel share one instance.
"""

from __future__ import annotations

import copy
from pathlib import Path
from typing import Any

import numpy as np
from PySide6.QtCore import QObject, Signal
from PySide6.QtGui import QUndoStack

from guicnn.core import Analysis, ConfigError, analyze, layer_class
from guicnn.core.analysis import check_input_shape, make_layer
from guicnn.core.fixes import Fix
from guicnn.core.layers.common import fmt_shape
from guicnn.core.modelfile import expected_state_shapes
from guicnn.core.repair import fixes_by_problem
from guicnn.ui.builder.commands import ConfigEdit, fmt_value, layer_label, with_layers

NO_LAYER = -1  # `current` when the design itself (input, name) is selected


def empty_design(name: str = "Untitled design") -> dict[str, Any]:
    return {"name": name, "input_shape": [1, 28, 28], "layers": []}


def new_layer_config(type_name: str, settings: dict[str, Any] | None = None) -> dict[str, Any]:
    """A config for a fresh layer: required fields at their defaults, so it is valid on its own."""
    cls = layer_class(type_name)
    layer = {"type": cls.type_name}
    layer.update({f.name: copy.deepcopy(f.default) for f in cls.fields if f.required})
    layer.update(settings or {})
    return layer


class DesignDocument(QObject):
    """The design config plus undo stack, analysis, file path, trained weights and read-only flag.

    Every edit method pushes one undoable command; each command (and each undo/redo)
    re-runs ``analyze`` and emits ``changed`` exactly once. Edit methods return ``None``
    when applied (or when nothing changed) and the reason as text when refused.
    """

    changed = Signal()
    current_changed = Signal(int)
    history_changed = Signal()
    file_changed = Signal()
    modified_changed = Signal(bool)
    read_only_changed = Signal(bool)
    refused = Signal(str)
    message = Signal(str)
    weights_changed = Signal(str)  # an edit dropped the trained weights (the reason) or undo restored them ("")

    def __init__(self, config: dict[str, Any] | None = None, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self._config = copy.deepcopy(config) if config is not None else empty_design()
        self._analysis = analyze(self._config)
        self._fixes: dict[int | None, list[Fix]] | None = None
        self._current = NO_LAYER
        self._path: Path | None = None
        self._weights: dict[str, np.ndarray] | None = None
        self._model_info: dict[str, Any] = {}
        self._weights_unsaved = False
        self._read_only = False
        self.undo_stack = QUndoStack(self)
        self.undo_stack.cleanChanged.connect(self._clean_changed)
        self.undo_stack.indexChanged.connect(self._history_moved)

    # ---- state ---------------------------------------------------------------------------
    @property
    def config(self) -> dict[str, Any]:
        """The live config; treat it as read-only (edit through the methods below)."""
        return self._config

    @property
    def analysis(self) -> Analysis:
        return self._analysis

    @property
    def fixes(self) -> dict[int | None, list[Fix]]:
        """One-click fixes of the current design by problem (None: the input; i: layer i), computed once per edit."""
        if self._fixes is None:
            self._fixes = {} if self._analysis.valid else fixes_by_problem(self._config)
        return self._fixes

    def fix_makes_valid(self, fix: Fix) -> bool:
        return analyze(fix.design).valid

    @property
    def name(self) -> str:
        name = self._config.get("name")
        return name if isinstance(name, str) and name else "Untitled design"

    @property
    def layers(self) -> list[dict[str, Any]]:
        return self._config["layers"]

    @property
    def current(self) -> int:
        return self._current

    def set_current(self, index: int) -> None:
        """Select a layer (``NO_LAYER`` for the design itself); not an edit."""
        index = index if 0 <= index < len(self.layers) else NO_LAYER
        if index != self._current:
            self._current = index
            self.current_changed.emit(index)

    @property
    def path(self) -> Path | None:
        return self._path

    @property
    def modified(self) -> bool:
        return not self.undo_stack.isClean() or self._weights_unsaved

    @property
    def weights(self) -> dict[str, np.ndarray] | None:
        """Trained parameters and buffers keyed like ``Sequential.state_dict()``, if any."""
        return self._weights

    @property
    def model_info(self) -> dict[str, Any]:
        """What a model file says besides weights: training, history, dataset, optimizer_state."""
        return self._model_info

    @property
    def read_only(self) -> bool:
        return self._read_only

    def set_read_only(self, read_only: bool) -> None:
        """Lock the design (e.g. while training); edits are then refused with a message."""
        if read_only != self._read_only:
            self._read_only = read_only
            self.read_only_changed.emit(read_only)

    # ---- whole documents -----------------------------------------------------------------
    def load(self, config: dict[str, Any], path: str | Path | None = None,
             weights: dict[str, np.ndarray] | None = None, model_info: dict[str, Any] | None = None) -> None:
        """Start over with a new design (opening a file or a preset); clears undo history."""
        self._config = copy.deepcopy(config)
        self._analysis = analyze(self._config)
        self._fixes = None
        self._weights = weights
        self._model_info = dict(model_info or {})
        self._weights_unsaved = False
        self._path = Path(path) if path is not None else None
        self._current = NO_LAYER
        self.undo_stack.clear()
        self.undo_stack.setClean()
        self.changed.emit()
        self.current_changed.emit(NO_LAYER)
        self.file_changed.emit()
        self._emit_modified()

    def mark_saved(self, path: str | Path) -> None:
        self._path = Path(path)
        self._weights_unsaved = False
        self.undo_stack.setClean()
        self.file_changed.emit()
        self._emit_modified()

    def set_trained_weights(self, weights: dict[str, np.ndarray] | None, model_info: dict[str, Any] | None = None) -> None:
        """Attach weights from training (not undoable; makes the document modified)."""
        self._weights = weights
        if model_info is not None:
            self._model_info = dict(model_info)
        self._weights_unsaved = True
        self._emit_modified()

    # ---- edits ---------------------------------------------------------------------------
    def add_layer(self, type_name: str, index: int | None = None,
                  settings: dict[str, Any] | None = None) -> str | None:
        """Insert a new layer of a registered type at ``index`` (the end by default)."""
        try:
            layer = new_layer_config(type_name, settings)
        except ConfigError as exc:
            return str(exc)
        layers = list(self.layers)
        index = len(layers) if index is None else max(0, min(index, len(layers)))
        layers.insert(index, layer)
        return self._push(with_layers(self._config, layers), f"Add {layer_label(index, layer)}", index)

    def add_after_current(self, type_name: str) -> str | None:
        """Append after the selected layer, or at the end when nothing is selected."""
        index = self._current + 1 if self._current != NO_LAYER else len(self.layers)
        return self.add_layer(type_name, index)

    def remove_layer(self, index: int) -> str | None:
        layers = list(self.layers)
        removed = layers.pop(index)
        select = min(index, len(layers) - 1) if layers else NO_LAYER
        return self._push(with_layers(self._config, layers), f"Delete {layer_label(index, removed)}", select)

    def move_layer(self, source: int, target: int) -> str | None:
        """Move a layer so that it ends up at index ``target``."""
        layers = list(self.layers)
        target = max(0, min(target, len(layers) - 1))
        if source == target:
            return None
        layer = layers.pop(source)
        layers.insert(target, layer)
        text = f"Move {layer_label(source, layer)} to position {target}"
        return self._push(with_layers(self._config, layers), text, target)

    def duplicate_layer(self, index: int) -> str | None:
        layers = list(self.layers)
        layers.insert(index + 1, copy.deepcopy(layers[index]))
        return self._push(with_layers(self._config, layers), f"Duplicate {layer_label(index, layers[index])}", index + 1)

    def set_field(self, index: int, name: str, value: Any) -> str | None:
        """Set one setting of a layer; a value equal to the default is left out of the config."""
        layer = self.layers[index]
        try:
            field = layer_class(layer.get("type")).field(name)
            value = field.validate(value)
        except KeyError:
            return f"{layer.get('type')} has no setting {name!r}"
        except (ConfigError, ValueError) as exc:
            return str(exc)
        updated = dict(layer)
        if value == field.default and not field.required:
            updated.pop(name, None)
        else:
            updated[name] = value
        if updated == layer:
            return None
        reason = self._new_layer_problem(index, layer, updated)
        if reason:
            return reason
        shown = field.default_text if value is None and field.default_text else fmt_value(value)
        text = f"Set {name} of {layer_label(index, layer)} to {shown}"
        return self._replace_layer(index, updated, text, merge_key=("field", index, name))

    def set_layer_name(self, index: int, name: str) -> str | None:
        """Give a layer an optional display name ('' removes it)."""
        layer = self.layers[index]
        updated = dict(layer)
        if name.strip():
            updated["name"] = name.strip()
        else:
            updated.pop("name", None)
        if updated == layer:
            return None
        text = f"Name {layer_label(index, layer)} '{name.strip()}'" if name.strip() else f"Unname {layer_label(index, layer)}"
        return self._replace_layer(index, updated, text, merge_key=("name", index))

    def set_input_shape(self, shape: list[int]) -> str | None:
        try:
            shape = list(check_input_shape(list(shape)))
        except ValueError as exc:
            return str(exc)
        if shape == self._config.get("input_shape"):
            return None
        after = {**self._config, "input_shape": shape}
        return self._push(after, f"Set input shape to {fmt_shape(tuple(shape))}", merge_key=("input_shape",))

    def rename(self, name: str) -> str | None:
        """Set the design's name (shown in the title bar and saved in the file)."""
        name = name.strip()
        if not name:
            return "the design needs a name"
        if name == self._config.get("name"):
            return None
        after = {**self._config, "name": name}
        return self._push(after, f"Rename design to '{name}'", merge_key=("design_name",))

    def apply_fix(self, fix: Fix) -> str | None:
        """Apply a one-click fix as one undoable edit named by its description (Edit ▸ Undo <description>)."""
        layers = fix.design.get("layers") if isinstance(fix.design, dict) else None
        if not isinstance(layers, list):
            return "the fix has no design to apply"
        if fix.layer is not None and 0 <= fix.layer < len(layers):
            select = fix.layer
        elif self._current < len(layers):
            select = self._current
        else:
            select = NO_LAYER
        return self._push(copy.deepcopy(fix.design), fix.description, select)

    def undo(self) -> str | None:
        return self._refuse_if_read_only() or self.undo_stack.undo()

    def redo(self) -> str | None:
        return self._refuse_if_read_only() or self.undo_stack.redo()

    # ---- machinery -----------------------------------------------------------------------
    def _replace_layer(self, index: int, layer: dict[str, Any], text: str, merge_key: tuple) -> str | None:
        layers = list(self.layers)
        layers[index] = layer
        return self._push(with_layers(self._config, layers), text, index, merge_key=merge_key)

    @staticmethod
    def _new_layer_problem(index: int, old: dict[str, Any], new: dict[str, Any]) -> str | None:
        """The reason a change breaks a layer that was valid on its own (e.g. pool padding > half window)."""
        try:
            make_layer(old, index)
        except ConfigError:
            return None  # already broken; let analyze show it rather than block every edit
        try:
            make_layer(new, index)
        except ConfigError as exc:
            return exc.reason
        return None

    def _refuse_if_read_only(self) -> str | None:
        if not self._read_only:
            return None
        reason = "The design is locked while training runs; stop training to edit it."
        self.refused.emit(reason)
        return reason

    def _push(self, after: dict[str, Any], text: str, select_after: int | None = None,
              merge_key: tuple | None = None) -> str | None:
        reason = self._refuse_if_read_only()
        if reason:
            return reason
        self.undo_stack.push(ConfigEdit(self, after, text, select_after=select_after, merge_key=merge_key))
        return None

    def _apply(self, config: dict[str, Any], current: int,
               restore_weights: dict[str, np.ndarray] | None = None) -> dict[str, np.ndarray] | None:
        """Called by commands: install a config, re-analyse, emit once. Returns weights it dropped."""
        self._config = copy.deepcopy(config)
        self._analysis = analyze(self._config)
        self._fixes = None
        if restore_weights is not None:
            self._weights = restore_weights
            self.message.emit("Trained weights restored: the parameter shapes match them again.")
        dropped = self._drop_mismatched_weights()
        if restore_weights is not None and self._weights is restore_weights:
            self.weights_changed.emit("")
        old_current = self._current
        self._current = current if 0 <= current < len(self.layers) else NO_LAYER
        self.changed.emit()
        if self._current != old_current:
            self.current_changed.emit(self._current)
        return dropped

    def _drop_mismatched_weights(self) -> dict[str, np.ndarray] | None:
        if self._weights is None:
            return None
        reason = weight_mismatch(self._config, self._analysis, self._weights)
        if reason is None:
            return None
        dropped, self._weights = self._weights, None
        self.message.emit(f"Trained weights dropped: {reason}. Undo brings them back.")
        self.weights_changed.emit(reason)
        return dropped

    def _history_moved(self, _index: int) -> None:
        self.history_changed.emit()

    def _clean_changed(self, clean: bool) -> None:
        # Uses only the argument: the stack emits this while it is being destroyed too.
        self.modified_changed.emit(not clean or self._weights_unsaved)

    def _emit_modified(self) -> None:
        self.modified_changed.emit(self.modified)


def parameter_shapes(config: dict[str, Any], analysis: Analysis) -> dict[str, tuple[int, ...]] | None:
    """Shapes of every parameter and buffer, keyed like ``state_dict``; None if the design is invalid."""
    if not analysis.valid:
        return None
    return expected_state_shapes(config)


def weight_mismatch(config: dict[str, Any], analysis: Analysis, weights: dict[str, np.ndarray]) -> str | None:
    """Why trained weights no longer fit the design, or None when every shape still matches."""
    expected = parameter_shapes(config, analysis)
    if expected is None:
        return "the design has errors"
    actual = {key: tuple(np.shape(value)) for key, value in weights.items()}
    for key in list(expected) + [key for key in actual if key not in expected]:  # in layer order
        if expected.get(key) != actual.get(key):
            if key not in expected:
                return f"the design no longer has parameter {key}"
            if key not in actual:
                return f"the design now has a new parameter {key}"
            return f"{key} is now {fmt_shape(expected[key])} instead of {fmt_shape(actual[key])}"
    return None
