"""Persistent preferences (recent files, window layout); in memory when GUICNN_NO_SETTINGS=1."""

from __future__ import annotations

import os
from typing import Any

from PySide6.QtCore import QSettings

MAX_RECENT_FILES = 8


class SettingsStore:
    """QSettings for the user, or a plain dict so tests never touch the user's settings."""

    def __init__(self) -> None:
        self._memory: dict[str, Any] | None = None
        self._qsettings: QSettings | None = None
        if os.environ.get("GUICNN_NO_SETTINGS") == "1":
            self._memory = {}
        else:
            self._qsettings = QSettings("guicnn", "guicnn")

    def value(self, key: str, default: Any = None) -> Any:
        if self._memory is not None:
            return self._memory.get(key, default)
        return self._qsettings.value(key, default)

    def set_value(self, key: str, value: Any) -> None:
        if self._memory is not None:
            self._memory[key] = value
        else:
            self._qsettings.setValue(key, value)

    def recent_files(self) -> list[str]:
        value = self.value("recent_files", [])
        if isinstance(value, str):  # QSettings returns a one-item list as a plain string
            value = [value]
        return [str(v) for v in value or []]

    def add_recent_file(self, path: str) -> None:
        path = os.path.abspath(path)
        files = [path] + [f for f in self.recent_files() if f != path]
        self.set_value("recent_files", files[:MAX_RECENT_FILES])

    def remove_recent_file(self, path: str) -> None:
        self.set_value("recent_files", [f for f in self.recent_files() if f != path])

    def clear_recent_files(self) -> None:
        self.set_value("recent_files", [])
