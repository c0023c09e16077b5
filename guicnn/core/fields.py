"""Field specs: the typed, ranged, documented settings of each layer type.

The registry exposes them so that the GUI palette and inspector, ``from_config``
validation and ``analyze`` all read one description of every setting.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

# Field kinds:
#   "int"      a whole number within [minimum, maximum]
#   "float"    a real number within [minimum, maximum] (exclusive ends via flags)
#   "bool"     true/false
#   "pair"     an int or a pair [h, w] of ints within [minimum, maximum]
#   "padding"  an int or pair >= 0, or one of "valid" / "same" (see `choices`)
#   "choice"   one of `choices`
#   "int_list" a non-empty list of ints within [minimum, maximum]
KINDS = ("int", "float", "bool", "pair", "padding", "choice", "int_list")


@dataclass(frozen=True)
class Field:
    """One setting of a layer type."""

    name: str
    kind: str
    default: Any
    help: str
    minimum: float | None = None
    maximum: float | None = None
    choices: tuple[str, ...] = ()
    required: bool = False
    exclusive_minimum: bool = False
    exclusive_maximum: bool = False
    # Shown instead of a default that depends on another field (pool stride = pool_size).
    default_text: str | None = None
    key: bool = field(default=False)  # shown on the layer card

    def __post_init__(self) -> None:
        if self.kind not in KINDS:
            raise ValueError(f"unknown field kind {self.kind!r}")

    def range_text(self) -> str:
        """Human-readable allowed range, e.g. '1 to 4096' or 'at least 0'."""
        lo, hi = self.minimum, self.maximum
        lo_txt = None if lo is None else (f"> {_fmt(lo)}" if self.exclusive_minimum else f"≥ {_fmt(lo)}")
        hi_txt = None if hi is None else (f"< {_fmt(hi)}" if self.exclusive_maximum else f"≤ {_fmt(hi)}")
        if lo_txt and hi_txt:
            return f"{lo_txt} and {hi_txt}"
        return lo_txt or hi_txt or "any value"

    def validate(self, value: Any) -> Any:
        """Return the value if valid (tuples become lists); raise ValueError saying why."""
        kind = self.kind
        if value is None and self.default is None:
            return None  # "use the default", e.g. a pool's stride = pool_size
        if kind == "bool":
            if not isinstance(value, bool):
                raise ValueError(f"{self.name} must be true or false, got {value!r}")
            return value
        if kind == "choice":
            if value not in self.choices:
                raise ValueError(f"{self.name} must be one of {', '.join(map(repr, self.choices))}, got {value!r}")
            return value
        if kind == "int":
            self._check_number(_as_int(value, self.name), self.name)
            return value
        if kind == "float":
            if isinstance(value, bool) or not isinstance(value, (int, float)):
                raise ValueError(f"{self.name} must be a number, got {value!r}")
            if not math.isfinite(value):
                raise ValueError(f"{self.name} must be a finite number, got {value!r}")
            self._check_number(float(value), self.name)
            return value
        if kind in ("pair", "padding"):
            if isinstance(value, str):
                if kind == "padding" and value in self.choices:
                    return value
                allowed = " or ".join(repr(c) for c in self.choices)
                raise ValueError(
                    f"{self.name} must be a whole number or a pair [h, w]"
                    + (f", or {allowed}" if kind == "padding" and allowed else "")
                    + f", got {value!r}"
                )
            if isinstance(value, (list, tuple)):
                if len(value) != 2:
                    raise ValueError(f"{self.name} must be a number or a pair [h, w], got {len(value)} values")
                for part in value:
                    self._check_number(_as_int(part, self.name), self.name)
                return list(value)
            self._check_number(_as_int(value, self.name), self.name)
            return value
        if kind == "int_list":
            if not isinstance(value, (list, tuple)) or not value:
                raise ValueError(f"{self.name} must be a non-empty list of whole numbers, got {value!r}")
            for part in value:
                self._check_number(_as_int(part, self.name), self.name)
            return list(value)
        raise AssertionError(kind)

    def _check_number(self, number: float, label: str) -> None:
        lo, hi = self.minimum, self.maximum
        too_low = lo is not None and (number <= lo if self.exclusive_minimum else number < lo)
        too_high = hi is not None and (number >= hi if self.exclusive_maximum else number > hi)
        if too_low or too_high:
            raise ValueError(f"{label} must be {self.range_text()}, got {_fmt(number)}")

    def to_dict(self) -> dict[str, Any]:
        """JSON-able description (used by the GUI and by `guicnn layers`)."""
        return {
            "name": self.name,
            "kind": self.kind,
            "default": self.default,
            "default_text": self.default_text,
            "help": self.help,
            "minimum": self.minimum,
            "maximum": self.maximum,
            "choices": list(self.choices),
            "required": self.required,
        }


def _as_int(value: Any, name: str) -> int:
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise ValueError(f"{name} must be a whole number, got {value!r}")
    if isinstance(value, float) and (not math.isfinite(value) or value != int(value)):
        raise ValueError(f"{name} must be a whole number, got {value!r}")
    return int(value)


def _fmt(number: float) -> str:
    return str(int(number)) if float(number).is_integer() else f"{number:g}"


def as_pair(value: Any) -> tuple[int, int]:
    """An int or [h, w] as a (h, w) tuple of ints."""
    if isinstance(value, (list, tuple)):
        return int(value[0]), int(value[1])
    return int(value), int(value)
