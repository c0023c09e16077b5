"""Exact receptive fields: which input pixels, and which units of every map below, one unit depends on.

A unit of a convolution or pooling reads, per axis, the input indices ``o·s − p + t·d``
(t = 0 … k − 1); indices in the padding are not pixels, and dilation leaves gaps. Rows and
columns are independent, so the support of a unit is the product of a row set and a column
set at every level. Walking down the stack maps those sets through each layer's window.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from .analysis import analyze
from .layers.base import Layer
from .layers.common import fmt_shape

Shape = tuple[int, ...]


@dataclass(frozen=True)
class AxisWindow:
    """The indices along one axis (rows or columns) of a map that a unit depends on."""

    indices: np.ndarray  # sorted, unique, within [0, size)
    size: int  # length of the map along this axis
    span: tuple[int, int]  # half-open range of every index read, padding included (may leave [0, size))

    @property
    def count(self) -> int:
        return int(self.indices.size)

    @property
    def start(self) -> int:
        """First index used (for an empty set: where the reads would start, clipped to the map)."""
        return int(self.indices[0]) if self.count else min(max(self.span[0], 0), self.size)

    @property
    def stop(self) -> int:
        return int(self.indices[-1]) + 1 if self.count else self.start

    @property
    def mask(self) -> np.ndarray:
        """Boolean mask of length ``size``: True where the index is used."""
        mask = np.zeros(self.size, dtype=bool)
        mask[self.indices] = True
        return mask

    @property
    def has_gaps(self) -> bool:
        """Whether some indices between start and stop are skipped (dilation, or stride > kernel)."""
        return self.count < self.stop - self.start

    @property
    def reaches_padding(self) -> bool:
        return self.span[0] < 0 or self.span[1] > self.size


@dataclass(frozen=True)
class MapWindow:
    """What one unit depends on in one map: the output of layer ``layer`` (-1 is the input image)."""

    layer: int
    shape: Shape  # (C, H, W) of the map
    rows: AxisWindow
    cols: AxisWindow

    @property
    def box(self) -> tuple[int, int, int, int]:
        """(row_start, row_stop, col_start, col_stop), half-open, as receptive_box returns it."""
        return self.rows.start, self.rows.stop, self.cols.start, self.cols.stop

    @property
    def pixels(self) -> int:
        """Positions actually used (gaps not counted)."""
        return self.rows.count * self.cols.count

    @property
    def has_gaps(self) -> bool:
        return self.rows.has_gaps or self.cols.has_gaps

    @property
    def whole(self) -> bool:
        """Whether every position of the map is used."""
        return self.rows.count == self.rows.size and self.cols.count == self.cols.size

    def mask(self) -> np.ndarray:
        """(H, W) boolean mask of the positions used, gaps as False."""
        return np.outer(self.rows.mask, self.cols.mask)


@dataclass(frozen=True)
class ReceptiveField:
    """One unit's dependencies through the stack, from the input (``maps[0]``) up to its own layer."""

    layer: int
    layer_type: str
    unit: tuple[int, int] | None  # None when the layer's output is flat (the whole layer is meant)
    whole: bool  # the layer comes after Flatten, Dense or global pooling: it depends on everything
    maps: tuple[MapWindow, ...]  # ordered by layer: the input first, then each spatial map below the unit

    @property
    def input(self) -> MapWindow:
        return self.maps[0]

    @property
    def box(self) -> tuple[int, int, int, int]:
        return self.input.box

    def map_for(self, layer: int) -> MapWindow | None:
        """The window in the output map of ``layer`` (-1: the input), or None if it is not drawn there."""
        for window in self.maps:
            if window.layer == layer:
                return window
        return None

    def caption(self) -> str:
        """'layer 3 unit (4, 7) sees rows 8–21, columns 20–33 of the input (14×14 pixels)'."""
        image = self.input
        h, w = image.shape[1:]
        if self.whole:
            who = f"layer {self.layer} {self.layer_type}"
            if self.layer_type == "Flatten":
                reason = "its vector holds every position of the maps below"
            else:
                reason = "every value it outputs depends, through the layers below, on every pixel"
            if image.whole:
                return f"{who} sees the whole {h}×{w} input: {reason}"
            if image.pixels == 0:
                return f"{who} sees no input pixel: the windows below it read only zero padding"
            return (f"{who} sees {_rows_cols(image)} of the {h}×{w} input — everything the layers below read; "
                    f"{_unread(image)}")
        who = f"layer {self.layer} unit {self.unit}"
        if image.pixels == 0:
            return f"{who} sees no input pixel: its window lies entirely in the zero padding"
        text = f"{who} sees {_rows_cols(image)} of the input"
        box_h, box_w = image.rows.stop - image.rows.start, image.cols.stop - image.cols.start
        if image.has_gaps:
            text += f" ({image.pixels:,} pixels spread over a {box_h}×{box_w} box, with gaps between them)"
        else:
            text += f" ({box_h}×{box_w} pixels)"
        return text


def _span_text(axis: AxisWindow, word: str) -> str:
    if axis.stop - axis.start == 1:
        return f"{word} {axis.start}"
    return f"{word}s {axis.start}–{axis.stop - 1}"


def _rows_cols(window: MapWindow) -> str:
    return f"{_span_text(window.rows, 'row')}, {_span_text(window.cols, 'column')}"


def _unread(window: MapWindow) -> str:
    lost_rows, lost_cols = window.rows.size - window.rows.count, window.cols.size - window.cols.count
    parts = []
    if lost_rows:
        parts.append(f"{lost_rows} row{'s' if lost_rows != 1 else ''}")
    if lost_cols:
        parts.append(f"{lost_cols} column{'s' if lost_cols != 1 else ''}")
    return f"{' and '.join(parts)} of the input are never read (the strides skip them)"


def _layers_upto(design: dict[str, Any], layer: int) -> tuple[list[Layer], list[Shape]]:
    """Layer objects 0..layer and their input shapes; ValueError if any of them is invalid."""
    analysis = analyze(design)
    if analysis.input_error:
        raise ValueError(f"the design's input is invalid: {analysis.input_error}")
    if isinstance(layer, bool) or not isinstance(layer, (int, np.integer)):
        raise ValueError(f"layer must be a layer index, got {layer!r}")
    if not 0 <= layer < len(analysis.layers):
        raise ValueError(f"layer {layer} does not exist (the design has {len(analysis.layers)} layers)")
    if len(analysis.input_shape) != 3:
        raise ValueError(f"the input is the flat vector {fmt_shape(analysis.input_shape)}: "
                         "receptive fields need an image input C×H×W")
    for info in analysis.layers[: layer + 1]:
        if info.error:
            raise ValueError(f"layer {info.index} {info.type} is invalid ({info.error}); fix it first")
    layers = [info.layer for info in analysis.layers[: layer + 1]]  # built (and checked) by analyze
    shapes = [analysis.input_shape] + [info.output_shape for info in analysis.layers[: layer + 1]]
    return layers, shapes


def _is_image(shape: Shape) -> bool:
    return len(shape) == 3


def receptive_field(design: dict[str, Any], layer: int, row: int = 0, col: int = 0) -> ReceptiveField:
    """Exact dependencies of unit (row, col) — any channel — of layer ``layer``'s output.

    For a layer at or after the first one whose output is flat or global (Flatten, Dense,
    global pooling, pyramid pooling) ``row`` and ``col`` are ignored and the result is what the
    layer as a whole depends on. ValueError if the design is invalid up to that layer, the input
    is not an image or the unit is outside the map.
    """
    layers, shapes = _layers_upto(design, layer)
    # First layer whose output is no longer a spatial map of the one below.
    first_global = next((i for i, lyr in enumerate(layers)
                         if not _is_image(shapes[i + 1]) or lyr.receptive(shapes[i]) == "global"), None)
    whole = first_global is not None
    if whole:
        top = first_global - 1  # the last spatial map: all of it is used
        h, w = shapes[top + 1][1:]
        rows = AxisWindow(np.arange(h), h, (0, h))
        cols = AxisWindow(np.arange(w), w, (0, w))
        unit = None
    else:
        top = layer
        h, w = shapes[layer + 1][1:]
        row, col = _check_unit(row, col, h, w, layer)
        rows, cols = unit_window(h, row), unit_window(w, col)
        unit = (row, col)
    maps = walk_down(layers, shapes, top, rows, cols)
    return ReceptiveField(layer, layers[layer].type_name, unit, whole, maps)


def walk_down(layers: list[Layer], shapes: list[Shape], top: int, rows: AxisWindow,
              cols: AxisWindow) -> tuple[MapWindow, ...]:
    """The windows in every map from the output of layer ``top`` (given) down to the input, input first.

    ``shapes[i]`` is layer i's input shape (``shapes[i + 1]`` its output); every layer up to
    ``top`` must map images to images.
    """
    maps = [MapWindow(top, tuple(shapes[top + 1]), rows, cols)]
    for index in range(top, -1, -1):
        window = layers[index].window(shapes[index])
        in_h, in_w = shapes[index][1:]
        if window is None:  # works value by value (activation, normalisation, dropout): same positions
            rows = AxisWindow(rows.indices, in_h, (rows.start, rows.stop))
            cols = AxisWindow(cols.indices, in_w, (cols.start, cols.stop))
        else:
            top_pad, _, left_pad, _ = window.pads
            rows = _read(rows.indices, in_h, window.kernel[0], window.stride[0], window.dilation[0], top_pad)
            cols = _read(cols.indices, in_w, window.kernel[1], window.stride[1], window.dilation[1], left_pad)
        maps.append(MapWindow(index - 1, tuple(shapes[index]), rows, cols))
    return tuple(reversed(maps))


def unit_window(size: int, index: int) -> AxisWindow:
    """One position of an axis, as the starting point of a walk down the stack."""
    return AxisWindow(np.array([index]), size, (index, index + 1))


def _check_unit(row: Any, col: Any, h: int, w: int, layer: int) -> tuple[int, int]:
    for name, value, size in (("row", row, h), ("col", col, w)):
        if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or not 0 <= value < size:
            raise ValueError(f"{name} {value!r} is outside layer {layer}'s {h}×{w} output map")
    return int(row), int(col)


def _read(indices: np.ndarray, size: int, kernel: int, stride: int, dilation: int, pad_before: int) -> AxisWindow:
    """Input indices read by the output indices ``indices`` of one axis of a sliding window."""
    if indices.size == 0:
        return AxisWindow(indices, size, (0, 0))
    taps = np.arange(kernel) * dilation
    reads = (indices[:, None] * stride - pad_before + taps[None, :]).ravel()
    span = (int(reads.min()), int(reads.max()) + 1)
    inside = reads[(reads >= 0) & (reads < size)]
    return AxisWindow(np.unique(inside), size, span)


def receptive_box(design: dict[str, Any], layer: int, row: int, col: int) -> tuple[int, int, int, int]:
    """Half-open (row_start, row_stop, col_start, col_stop) of the input pixels unit (row, col) of
    ``layer`` depends on — exact: padding and dilation gaps contribute no pixels (an empty range
    when the unit sees only padding)."""
    return receptive_field(design, layer, row, col).box


__all__ = ["AxisWindow", "MapWindow", "ReceptiveField", "receptive_field", "receptive_box"]
