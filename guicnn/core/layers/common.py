"""Small helpers shared by the layer modules (shape checks and card text)."""

from __future__ import annotations

from ..functional import unused_lines
from .base import LayerShapeError, Shape
from ..text import plural


def check_image_input(layer, input_shape: Shape) -> tuple[int, int, int]:
    """(C, H, W) of an image input, or a LayerShapeError that says what to do."""
    if len(input_shape) != 3:
        raise LayerShapeError(
            f"{layer.type_name} needs an image input C×H×W but gets the flat vector {fmt_shape(input_shape)}; "
            "move it before Flatten/Dense or remove it"
        )
    c, h, w = (int(d) for d in input_shape)
    return c, h, w


def fmt_shape(shape: Shape | None, missing: str = "?") -> str:
    """(1, 28, 28) -> '1×28×28' (the one shape format of the cards, tables, panels and CLI)."""
    if shape is None or len(shape) == 0:
        return missing
    return "×".join(str(int(d)) for d in shape)


def fmt_pair(pair: tuple[int, int], short: bool = False) -> str:
    if short and pair[0] == pair[1]:
        return str(pair[0])
    return f"{pair[0]}x{pair[1]}"


def fmt_padding(padding) -> str:
    if isinstance(padding, str):
        return padding
    if isinstance(padding, (list, tuple)):
        return str(padding[0]) if padding[0] == padding[1] else f"{padding[0]},{padding[1]}"
    return str(padding)


def dropped_lines_warning(hp: int, wp: int, k_eff: tuple[int, int], stride: tuple[int, int]) -> str | None:
    """Warn when the stride leaves trailing rows/columns of the padded input unused."""
    rows = unused_lines(hp, k_eff[0], stride[0])
    cols = unused_lines(wp, k_eff[1], stride[1])
    if not rows and not cols:
        return None
    parts = []
    if rows:
        parts.append(plural(rows, "row"))
    if cols:
        parts.append(plural(cols, "column"))
    return (
        f"stride {fmt_pair(stride, short=True)} leaves the last {' and '.join(parts)} of the padded "
        f"{hp}x{wp} input unused (output size is floored, as in PyTorch)"
    )
