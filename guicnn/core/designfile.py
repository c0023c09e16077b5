"""Design files (architecture-only JSON) and the atomic write shared by every saver."""

from __future__ import annotations

import json
import os
import tempfile
from pathlib import Path
from typing import Any, Callable

from ..resources import resource_dir
from .analysis import check_input_shape
from .errors import ConfigError

MAX_DESIGN_BYTES = 10 * 1024 * 1024


def atomic_write(path: str | os.PathLike, write: Callable[[Path], None]) -> None:
    """Write through a temporary file in the same folder, then ``os.replace`` it into place.

    ``write(tmp_path)`` produces the content; on any failure the original file is untouched.
    """
    path = Path(path)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent or ".")
    os.close(fd)
    tmp_path = Path(tmp)
    try:
        write(tmp_path)
        with open(tmp_path, "rb+") as handle:
            os.fsync(handle.fileno())
        os.replace(tmp_path, path)
    except BaseException:
        tmp_path.unlink(missing_ok=True)
        raise


def save_design(path: str | os.PathLike, config: dict[str, Any]) -> None:
    """Save a design config as pretty JSON (atomically)."""
    text = json.dumps(config, indent=2) + "\n"
    atomic_write(path, lambda tmp: tmp.write_text(text, encoding="utf-8"))


def load_design(path: str | os.PathLike) -> dict[str, Any]:
    """Read a design JSON file; ConfigError naming the file when it is not a design.

    Only the outer form is checked here (an object with ``input_shape`` and a ``layers``
    list); layer problems are left to ``analyze`` so the editor can show and fix them.
    """
    path = Path(path)
    name = path.name
    try:
        size = path.stat().st_size
    except OSError as exc:
        raise ConfigError(f"{name}: cannot open ({exc.strerror or exc})") from None
    if size > MAX_DESIGN_BYTES:
        raise ConfigError(f"{name}: {size:,} bytes is too large for a design file")
    try:
        text = path.read_text(encoding="utf-8")
    except UnicodeDecodeError:
        raise ConfigError(f"{name}: not a design file (not UTF-8 text)") from None
    except OSError as exc:
        raise ConfigError(f"{name}: cannot read ({exc.strerror or exc})") from None
    if not text.strip():
        raise ConfigError(f"{name}: the file is empty")
    try:
        config = json.loads(text)
    except json.JSONDecodeError as exc:
        raise ConfigError(f"{name}: not valid JSON (line {exc.lineno}, column {exc.colno}: {exc.msg})") from None
    if not isinstance(config, dict):
        raise ConfigError(f"{name}: a design must be a JSON object with 'input_shape' and 'layers'")
    if "layers" not in config or not isinstance(config["layers"], list):
        raise ConfigError(f"{name}: the design has no 'layers' list")
    if "input_shape" not in config:
        raise ConfigError(f"{name}: the design has no 'input_shape' (e.g. [1, 28, 28])")
    try:
        check_input_shape(config["input_shape"])
    except ValueError as exc:
        raise ConfigError(f"{name}: {exc}") from None
    for index, layer in enumerate(config["layers"]):
        if not isinstance(layer, dict) or not isinstance(layer.get("type"), str):
            raise ConfigError(f"{name}: layer {index} must be an object with a 'type' string")
    return config


def preset_paths() -> list[Path]:
    """The shipped preset files, in file-name order (the one listing the CLI and the GUI use)."""
    return sorted((resource_dir() / "presets").glob("*.json"))


def preset_names() -> list[str]:
    """File stems of the shipped presets (``lenet5``, ``digits_small``, ...)."""
    return [p.stem for p in preset_paths()]


def load_preset(stem: str) -> dict[str, Any]:
    """A shipped preset design by file stem or by display name."""
    folder = resource_dir() / "presets"
    path = folder / f"{stem}.json"
    if not path.exists():
        for candidate in preset_paths():
            if load_design(candidate).get("name", "").lower() == stem.lower():
                path = candidate
                break
        else:
            raise ConfigError(f"no preset {stem!r}; available: {', '.join(preset_names())}")
    return load_design(path)
