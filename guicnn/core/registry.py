"""Layer registry: type name -> layer class (with its field specs, group and help).

A leaf module: layer classes register themselves with ``@register`` when ``guicnn.core``
imports ``guicnn.core.layers``, so nothing here imports them back.
"""

from __future__ import annotations

import difflib
from typing import TYPE_CHECKING

from .errors import ConfigError

if TYPE_CHECKING:
    from .layers.base import Layer

# Palette groups in the order the GUI shows them.
GROUPS = ("Convolution", "Pooling", "Activation", "Dense", "Regularisation", "Shape")

_REGISTRY: dict[str, type[Layer]] = {}


def register(cls: type[Layer]) -> type[Layer]:
    """Class decorator: make a layer type known by its ``type_name``."""
    name = cls.type_name
    if not name or name in _REGISTRY:
        raise ValueError(f"layer type {name!r} is empty or registered twice")
    if cls.group not in GROUPS:
        raise ValueError(f"layer type {name!r} has unknown group {cls.group!r}")
    _REGISTRY[name] = cls
    return cls


def layer_class(type_name: str, *, index: int | None = None) -> type[Layer]:
    """The class registered as ``type_name``; ConfigError (with a suggestion) if unknown."""
    try:
        return _REGISTRY[type_name]
    except (KeyError, TypeError):
        pass
    if not isinstance(type_name, str):
        raise ConfigError(f"layer type must be a string, got {type_name!r}", index=index)
    close = closest_type(type_name)
    hint = f"; did you mean {close!r}?" if close else f"; known types: {', '.join(sorted(_REGISTRY))}"
    raise ConfigError(f"unknown layer type {type_name!r}{hint}", index=index)


def closest_type(type_name: str) -> str | None:
    """The registered type a misspelt name most likely means ('conv2d' → 'Conv2D'), or None."""
    if not isinstance(type_name, str):
        return None
    close = difflib.get_close_matches(type_name, list(_REGISTRY), n=1, cutoff=0.5)
    if not close:
        close = [n for n in _REGISTRY if n.lower() == type_name.lower()]
    return close[0] if close else None


def layer_types() -> list[str]:
    """All registered type names, grouped in palette order."""
    order = {g: i for i, g in enumerate(GROUPS)}
    return [c.type_name for c in sorted(_REGISTRY.values(), key=lambda c: (order[c.group], c.palette_order))]


def layer_classes() -> list[type[Layer]]:
    """All registered layer classes in palette order."""
    return [_REGISTRY[name] for name in layer_types()]
