"""Python source fragments for the layers' PyTorch export methods (``torch_code``)."""

from __future__ import annotations

from typing import Any


def py_number(value: Any) -> str:
    """A number as Python source (floats round-trip exactly)."""
    return repr(float(value)) if isinstance(value, float) else repr(int(value))


def py_pair(pair: tuple[int, int]) -> str:
    """``3`` for (3, 3), ``(3, 2)`` otherwise: the way PyTorch arguments are usually written."""
    return str(pair[0]) if pair[0] == pair[1] else f"({pair[0]}, {pair[1]})"


def pool_arguments(kernel: tuple[int, int], stride: tuple[int, int], pad: tuple[int, int]) -> list[str]:
    """``kernel_size=...`` plus ``stride``/``padding`` where they differ from the defaults."""
    args = [f"kernel_size={py_pair(kernel)}"]
    if stride != kernel:
        args.append(f"stride={py_pair(stride)}")
    if pad != (0, 0):
        args.append(f"padding={py_pair(pad)}")
    return args
