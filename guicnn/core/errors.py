"""Exceptions raised by guicnn.core: every one says what was wrong and where."""

from __future__ import annotations


class GuicnnError(Exception):
    """Base class of guicnn's own errors."""


class ConfigError(GuicnnError, ValueError):
    """An invalid design: names the layer index, its type and the reason."""

    def __init__(self, message: str, *, index: int | None = None, layer_type: str | None = None):
        self.index = index
        self.layer_type = layer_type
        self.reason = message
        if index is not None:
            where = f"layer {index}" + (f" {layer_type}" if layer_type else "")
            message = f"{where}: {message}"
        super().__init__(message)


class ShapeError(GuicnnError, ValueError):
    """An array of the wrong shape was given to a model or layer."""


class DataError(GuicnnError, ValueError):
    """A data file or data set could not be read; the message names the file."""


class ModelFileError(GuicnnError, ValueError):
    """A model file is truncated, corrupt, foreign or of a newer format."""


class TrainingError(GuicnnError, RuntimeError):
    """Training could not go on (for example the loss became NaN)."""


class SaveError(GuicnnError, OSError):
    """A file could not be written; the message names it and says whether an older copy is intact."""


_CONTROL = {c: f"\\x{c:02x}" for c in (*range(0x00, 0x09), 0x0B, 0x0C, *range(0x0E, 0x20), *range(0x7F, 0xA0))}
# Bidirectional overrides can make a terminal show text in another order than it is.
_CONTROL.update({c: f"\\u{c:04x}" for c in (*range(0x202A, 0x202F), *range(0x2066, 0x206A))})
# Lone surrogates cannot be encoded; names read from the file system keep undecodable bytes
# as U+DC80..U+DCFF (PEP 383), shown here as the byte they stand for.
_CONTROL.update({c: f"\\u{c:04x}" for c in range(0xD800, 0xE000)})
_CONTROL.update({c: f"\\x{c - 0xDC00:02x}" for c in range(0xDC80, 0xDD00)})


def printable(text: object) -> str:
    """``text`` safe to print on any terminal and to encode as UTF-8.

    Control characters (terminal escape codes, carriage returns; newlines and tabs stay) and
    bidirectional overrides are shown as ``\\x1b``-style escapes, and bytes of a file name
    that are not valid UTF-8 as ``\\xe9``, so a design name or a folder name can neither
    repaint the terminal nor make printing fail.
    """
    return str(text).translate(_CONTROL)


class MissingDependencyError(GuicnnError, ImportError):
    """An optional package is needed for this feature; the message says how to install it."""


def require(module: str, purpose: str, extra: str) -> object:
    """Import an optional package, or raise MissingDependencyError saying how to get it."""
    import importlib

    try:
        return importlib.import_module(module)
    except ImportError:
        raise MissingDependencyError(
            f"{purpose} needs the '{module}' package, which is not installed; "
            f'install it with: pip install "guicnn[{extra}]"'
        ) from None
