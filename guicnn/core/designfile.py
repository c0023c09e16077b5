"""Design files (architecture-only JSON) and the atomic write shared by every saver."""

from __future__ import annotations

import errno
import json
import os
import re
import shutil
import stat
import tempfile
from pathlib import Path
from typing import Any, Callable

from ..resources import resource_dir
from .analysis import check_input_shape
from .errors import ConfigError, SaveError, printable
from .limits import MAX_LAYERS

MAX_DESIGN_BYTES = 10 * 1024 * 1024


_ERRNO_REASONS = {
    errno.ENOSPC: "no space left on device",
    errno.EFBIG: "file too large (over the size limit for files)",
    errno.EDQUOT: "disk quota exceeded",
    errno.EROFS: "the file system is read-only",
    errno.EACCES: "permission denied",
    errno.EPERM: "permission denied",
    errno.ENOENT: "the folder does not exist",
    errno.ENOTDIR: "the folder does not exist",
    errno.EISDIR: "it is a folder",
    errno.EIO: "input/output error (a failing disk or a lost network drive?)",
}


def _io_errno(exc: BaseException) -> int | None:
    """The errno behind an exception from a writer (an OSError, or a library's "(os error N)")."""
    if isinstance(exc, OSError) and exc.errno:
        return exc.errno
    match = re.search(r"os error (\d+)", str(exc))
    return int(match.group(1)) if match else None


def io_reason(exc: BaseException) -> str:
    """A short, plain reason for a failed write ("no space left on device")."""
    number = _io_errno(exc)
    if number in _ERRNO_REASONS:
        return _ERRNO_REASONS[number]
    if number is not None:
        return os.strerror(number).lower()
    return str(exc) or type(exc).__name__


def _current_umask() -> int:
    """The process umask, read without changing it (changing it races with other threads)."""
    try:
        with open("/proc/self/status", encoding="ascii") as status:
            for line in status:
                if line.startswith("Umask:"):
                    return int(line.split()[1], 8)
    except (OSError, ValueError, IndexError):
        pass
    return 0o022


def _new_file_mode(path: Path) -> int:
    """The mode a replaced file keeps, or what a new file gets under the umask (0644 under 022)."""
    try:
        return stat.S_IMODE(path.stat().st_mode)
    except OSError:
        return 0o666 & ~_current_umask()


def check_writable(path: str | os.PathLike, need_bytes: int = 0) -> None:
    """SaveError (naming the file) unless ``path`` can be written now: its folder exists and
    takes a new file, and has at least ``need_bytes`` free. Call before long work."""
    path = Path(path)
    name = printable(path)
    if path.is_dir():
        raise SaveError(f"cannot save to {name}: it is a folder; give a file name")
    folder = path.parent if str(path.parent) else Path(".")
    if not folder.is_dir():
        what = "is not a folder" if folder.exists() else "does not exist"
        raise SaveError(f"cannot save {printable(path.name)}: the folder {printable(folder)} {what}")
    try:
        fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=folder)
        os.close(fd)
        os.unlink(tmp)
    except OSError as exc:
        raise SaveError(f"cannot save {name}: {io_reason(exc)} (in {printable(folder)})") from None
    if need_bytes:
        try:
            free = shutil.disk_usage(folder).free
        except OSError:
            return
        if free < need_bytes:
            from .model import format_bytes

            raise SaveError(f"cannot save {name}: it needs about {format_bytes(need_bytes)} but only "
                            f"{format_bytes(free)} are free in {printable(folder)}")


def atomic_write(path: str | os.PathLike, write: Callable[[Path], None]) -> None:
    """Write through a temporary file in the same folder, then ``os.replace`` it into place.

    ``write(tmp_path)`` produces the content; on any failure (or an interrupt) the temporary
    file is removed and the original file is untouched. A failed write becomes a SaveError
    saying why ("no space left on device while saving X; the existing X is unchanged"). A new
    file gets the usual permissions (0644 under umask 022); a replaced one keeps its own.
    """
    path = Path(path)
    existed = path.exists()
    unchanged = (f"the existing {printable(path.name)} is unchanged" if existed
                 else f"{printable(path.name)} was not written")
    try:
        fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent or ".")
    except OSError as exc:
        raise SaveError(f"{io_reason(exc)} while saving {printable(path)}; {unchanged}") from None
    os.close(fd)
    tmp_path = Path(tmp)
    try:
        try:
            write(tmp_path)
            os.chmod(tmp_path, _new_file_mode(path))
            with open(tmp_path, "rb+") as handle:
                os.fsync(handle.fileno())
            os.replace(tmp_path, path)
        except Exception as exc:
            if _io_errno(exc) is None:
                raise
            raise SaveError(f"{io_reason(exc)} while saving {printable(path)}; {unchanged}") from exc
    except BaseException:
        tmp_path.unlink(missing_ok=True)
        raise


def parse_json(text: str, name: str) -> Any:
    """``json.loads`` with errors that name the file (ConfigError), deep nesting included."""
    try:
        return json.loads(text)
    except json.JSONDecodeError as exc:
        raise ConfigError(f"{name}: not valid JSON (line {exc.lineno}, column {exc.colno}: {exc.msg})") from None
    except RecursionError:
        raise ConfigError(f"{name}: the JSON is nested too deeply to be a design (a design is an object "
                          "with a list of layer objects)") from None


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
    name = printable(path.name)
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
    config = parse_json(text, name)
    if not isinstance(config, dict):
        raise ConfigError(f"{name}: a design must be a JSON object with 'input_shape' and 'layers'")
    if "layers" not in config or not isinstance(config["layers"], list):
        raise ConfigError(f"{name}: the design has no 'layers' list")
    if len(config["layers"]) > MAX_LAYERS:
        raise ConfigError(f"{name}: the design has {len(config['layers']):,} layers; guicnn builds at most "
                          f"{MAX_LAYERS:,}")
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
