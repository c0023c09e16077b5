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
