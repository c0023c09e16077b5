"""The stated limits every reader checks *before* allocating: memory, layers, classes, nesting.

A small file can declare a huge array (a forged header, a zero-filled archive, one label of
10⁹, a design of 745 GiB of weights). Readers compute what a declared size would cost and
compare it with :func:`memory_budget` first, so such a file is refused with the numbers
instead of exhausting the machine.
"""

from __future__ import annotations

import os
import re

from .model import format_bytes

#: Environment variable that sets the memory budget, e.g. ``8G``, ``512M`` or a number of bytes.
BUDGET_ENV = "GUICNN_MEMORY_BUDGET"
#: Default budget: half of the machine's memory, and at most this.
DEFAULT_BUDGET_CAP = 4 * 1024**3
#: Budget when the machine's memory cannot be read.
FALLBACK_BUDGET = 2 * 1024**3
#: Most layers a design may have (real CNNs have tens to a few hundred).
MAX_LAYERS = 1000
#: Most classes a data set or a model may have (labels are class indices 0..K-1).
MAX_CLASSES = 100_000
#: A compressed array this large (bytes, inflated) ...
SUSPECT_INFLATED_BYTES = 64 * 1024**2
#: ... that compresses better than this is near-constant: no real image set does.
MAX_PLAUSIBLE_RATIO = 200

_UNITS = {"": 1, "B": 1, "K": 1024, "KB": 1024, "KIB": 1024, "M": 1024**2, "MB": 1024**2, "MIB": 1024**2,
          "G": 1024**3, "GB": 1024**3, "GIB": 1024**3, "T": 1024**4, "TB": 1024**4, "TIB": 1024**4}


def _physical_memory() -> int | None:
    try:
        return int(os.sysconf("SC_PAGE_SIZE")) * int(os.sysconf("SC_PHYS_PAGES"))
    except (ValueError, OSError, AttributeError):
        return None


def parse_bytes(text: str) -> int:
    """``"8G"`` → 8589934592; ValueError saying what is accepted."""
    match = re.fullmatch(r"\s*(\d+(?:\.\d+)?)\s*([A-Za-z]*)\s*", text)
    unit = match.group(2).upper() if match else ""
    if not match or unit not in _UNITS:
        raise ValueError(f"{BUDGET_ENV} must be a size such as 8G, 512M or 1000000000, got {text!r}")
    return int(float(match.group(1)) * _UNITS[unit])


def memory_budget() -> int:
    """Bytes one data set, model or design may take: ``$GUICNN_MEMORY_BUDGET``, else half
    of the machine's memory capped at 4 GiB."""
    text = os.environ.get(BUDGET_ENV)
    if text:
        return parse_bytes(text)
    physical = _physical_memory()
    return min(physical // 2, DEFAULT_BUDGET_CAP) if physical else FALLBACK_BUDGET


def budget_text() -> str:
    """How the limit is stated in messages."""
    source = f"set by {BUDGET_ENV}" if os.environ.get(BUDGET_ENV) else (
        f"half of this machine's memory, at most {format_bytes(DEFAULT_BUDGET_CAP)}")
    return f"{format_bytes(memory_budget())} ({source}; set {BUDGET_ENV}, e.g. 8G, to change it)"


def over_budget(nbytes: int, what: str) -> str | None:
    """A sentence refusing ``what`` when it needs more than the budget, else None."""
    if nbytes <= memory_budget():
        return None
    return f"{what} would need {format_bytes(nbytes)} of memory, more than the limit of {budget_text()}"


def implausible_compression(inflated: int, compressed: int, what: str) -> str | None:
    """A sentence refusing a large compressed array that only near-constant data could fit in."""
    if inflated < SUSPECT_INFLATED_BYTES or inflated <= MAX_PLAUSIBLE_RATIO * max(compressed, 1):
        return None
    return (f"{what}: {format_bytes(inflated)} compressed into {format_bytes(compressed)} "
            f"({inflated // max(compressed, 1):,}:1); only nearly constant data compresses better than "
            f"{MAX_PLAUSIBLE_RATIO}:1, so this is no real image set (a forged or padded file)")


def class_count_problem(largest_label: float) -> str | None:
    """A sentence refusing labels that would make more than MAX_CLASSES classes, else None."""
    if largest_label < MAX_CLASSES:
        return None
    if largest_label < 1e15:
        label, count = f"{int(largest_label):,}", f"{int(largest_label) + 1:,}"
    else:
        label = count = f"{largest_label:g}"
    return (f"label {label} would make {count} classes; labels are class indices 0..K-1 and "
            f"guicnn supports at most {MAX_CLASSES:,} classes")


__all__ = [
    "BUDGET_ENV", "MAX_CLASSES", "MAX_LAYERS", "budget_text", "class_count_problem", "implausible_compression",
    "memory_budget", "over_budget", "parse_bytes",
]
