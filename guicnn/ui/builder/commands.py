"""Undoable edits of a design: each stores the config before and after, so undo is exact."""

from __future__ import annotations

import time
from typing import TYPE_CHECKING, Any

from PySide6.QtGui import QUndoCommand

if TYPE_CHECKING:
    from guicnn.ui.builder.document import DesignDocument

# Consecutive edits of the same value within this time become one undo step
# (spin-box arrow clicks, typing then pressing Enter again).
MERGE_SECONDS = 1.5
_MERGE_ID = 0x6C6179  # any id other than -1 enables QUndoStack's merging


class ConfigEdit(QUndoCommand):
    """One edit of the design config; `redo` and `undo` each emit one ``changed``."""

    def __init__(self, document: DesignDocument, after: dict[str, Any], text: str, *,
                 select_after: int | None = None, merge_key: tuple | None = None) -> None:
        super().__init__(text)
        self._document = document
        # The document installs a private deep copy on every apply and never mutates it,
        # so holding references here is safe and saves a copy per edit.
        self._before = document.config
        self._after = after
        self._select_before = document.current
        self._select_after = document.current if select_after is None else select_after
        self._dropped_weights: dict | None = None
        self._merge_key = merge_key
        self._stamp = time.monotonic()

    def redo(self) -> None:
        dropped = self._document._apply(self._after, self._select_after)
        if dropped is not None:
            self._dropped_weights = dropped

    def undo(self) -> None:
        self._document._apply(self._before, self._select_before, restore_weights=self._dropped_weights)

    def id(self) -> int:
        return -1 if self._merge_key is None else _MERGE_ID

    def mergeWith(self, other: QUndoCommand) -> bool:
        if not isinstance(other, ConfigEdit) or other._merge_key != self._merge_key:
            return False
        if other._stamp - self._stamp > MERGE_SECONDS:
            return False
        self._after = other._after
        self._select_after = other._select_after
        self._stamp = other._stamp
        self.setText(other.text())
        if self._after == self._before and self._dropped_weights is None:
            self.setObsolete(True)  # back where it started: nothing left to undo
        return True


def with_layers(config: dict[str, Any], layers: list[dict[str, Any]]) -> dict[str, Any]:
    """A new config with another layer list (shallow: `DesignDocument._apply` copies deeply)."""
    return {**config, "layers": list(layers)}


def layer_label(index: int, layer_config: dict[str, Any]) -> str:
    """'layer 3 Conv2D' as used in undo texts and messages (indices as in `analyze`)."""
    return f"layer {index} {layer_config.get('type', '?')}"


def fmt_value(value: Any) -> str:
    if isinstance(value, list):
        return "[" + ", ".join(map(str, value)) + "]"
    if isinstance(value, bool):
        return "on" if value else "off"
    if value is None:
        return "default"
    return str(value)
