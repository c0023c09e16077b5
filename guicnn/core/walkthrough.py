"""Step through a convolution or a pooling: every tap, product and sum of one output value.

``Walkthrough(layer, x)`` takes a Conv2D or window-pooling layer (with its real weights) and
one input ``x`` (C, H, W) and explains each output cell ``(row, col)`` of one output channel:
the padded input (padding marked), the window's tap positions (stride and dilation), the
values under the taps, for a convolution their products with the kernel weights, per-channel
subtotals, the bias and the sum; for a pooling the chosen, averaged or summed value (for
stochastic pooling the probabilities of each tap and the inference-mode weighted average).

The explanation is computed tap by tap (in float64) and checked against the engine: the
layer's own ``forward`` gives the output map, ``WindowStep.output`` is that map's value and
``WindowStep.total`` the explained sum; they agree to float32 rounding.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import numpy as np

from .analysis import make_layer
from .errors import ShapeError
from .layers.base import Layer, LayerShapeError

#: Layer type -> what its window computes.
KINDS = {
    "Conv2D": "convolution", "MaxPool2D": "max", "MinPool2D": "min", "AvgPool2D": "average",
    "SumPool2D": "sum", "StochasticPool2D": "stochastic",
}
#: The side of the classic toy input every tutorial uses (a 6×6 image with a vertical edge).
TOY_SIZE = 6


def can_walk(type_name: str) -> bool:
    """Whether a layer type can be stepped through (Conv2D and the sliding-window pools)."""
    return type_name in KINDS


def toy_input(channels: int, size: int = TOY_SIZE) -> np.ndarray:
    """The tutorial example: a size×size image, left half 10, right half 0, in every channel."""
    x = np.zeros((channels, size, size), np.float32)
    x[:, :, : size // 2] = 10.0
    return x


def toy_size(layer: Layer, channels: int) -> int:
    """The smallest square side from 6 up on which ``layer``'s window fits (padding included)."""
    size = TOY_SIZE
    while True:
        try:
            shape = layer.compute_output_shape((channels, size, size))
        except LayerShapeError:
            shape = (0,)
        if min(shape) >= 1 or size >= 4096:
            return size
        size += 1


@dataclass(frozen=True)
class WindowStep:
    """How output value ``output[channel, row, col]`` comes about.

    ``tap_rows``/``tap_cols`` are the taps' positions in the *padded* input; ``in_padding``
    (kh, kw) marks taps on padding. ``values`` are the input values under the taps:
    (C_in, kh, kw) for a convolution (one slice per input channel), (1, kh, kw) for a
    pooling (its own channel). Convolution: ``weights`` and ``products`` (C_in, kh, kw),
    ``subtotals`` (C_in,), ``bias``. Max/min pooling: ``chosen`` is the (i, j) tap taken (the
    first extreme one, as the engine). Stochastic pooling: ``probabilities`` (kh, kw).
    ``total`` is the explained result, ``output`` the engine's forward value there.
    """

    kind: str
    row: int
    col: int
    channel: int
    tap_rows: np.ndarray
    tap_cols: np.ndarray
    in_padding: np.ndarray
    values: np.ndarray
    total: float
    output: float
    weights: np.ndarray | None = None
    products: np.ndarray | None = None
    subtotals: np.ndarray | None = None
    bias: float = 0.0
    chosen: tuple[int, int] | None = None
    probabilities: np.ndarray | None = None

    @property
    def origin(self) -> tuple[int, int]:
        """Padded-input position of the window's top-left tap."""
        return int(self.tap_rows[0]), int(self.tap_cols[0])


class Walkthrough:
    """One layer applied to one input, explained output cell by output cell.

    ``layer`` is a built Conv2D or window pool (its settings and weights are used; the layer
    itself is never run, a twin built for ``x``'s shape is, so a model being trained in
    another thread is not disturbed). ``x`` is (C, H, W) with the layer's input channels;
    its height and width may differ from the layer's (a toy input).
    """

    def __init__(self, layer: Layer, x: np.ndarray) -> None:
        if not can_walk(layer.type_name):
            raise ValueError(f"{layer.type_name} has no sliding window to step through; "
                             f"choose one of {', '.join(KINDS)}")
        x = np.asarray(x, dtype=np.float32)
        expected = layer.input_shape[0] if layer.input_shape else None
        if x.ndim != 3 or (expected is not None and x.shape[0] != expected):
            raise ShapeError(f"{layer.type_name} steps through a C×H×W input with {expected} channel(s), "
                             f"got shape {x.shape}")
        self.kind = KINDS[layer.type_name]
        self.layer = twin_layer(layer, x.shape)
        self.input = x
        c, h, w = x.shape
        geometry = self.layer.geometry(x.shape)
        oh, ow = geometry.out_hw
        self.pads = tuple(int(p) for p in geometry.pads)  # top, bottom, left, right
        self.kernel = tuple(self.layer.kernel)
        self.stride = tuple(self.layer.stride)
        self.dilation = tuple(getattr(self.layer, "dilation", (1, 1)))
        top, bottom, left, right = self.pads
        self.padding_mask = np.ones((h + top + bottom, w + left + right), dtype=bool)
        self.padding_mask[top : top + h, left : left + w] = False
        self.pad_value = float(getattr(self.layer, "pad_value", 0.0))
        self.padded = np.full((c,) + self.padding_mask.shape, self.pad_value, dtype=np.float32)
        self.padded[:, top : top + h, left : left + w] = x
        with np.errstate(all="ignore"):
            self.output = np.array(self.layer.forward(x[None], training=False)[0], copy=True)
        self.layer.clear_cache()
        self.output_hw = (int(oh), int(ow))

    @classmethod
    def from_config(cls, layer_config: dict[str, Any], params: dict[str, np.ndarray], x: np.ndarray,
                    input_shape: tuple[int, ...] | None = None) -> Walkthrough:
        """A walkthrough of the layer described by ``layer_config`` with weights ``params``
        (``{"weight": ..., "bias": ...}``), e.g. from a design and a state dict."""
        return cls(build_layer(layer_config, params, input_shape or tuple(np.shape(x))), x)

    # ---- geometry -------------------------------------------------------------------------
    @property
    def channels(self) -> int:
        """Output channels: filters of a convolution, the input's channels for a pooling."""
        return int(self.output.shape[0])

    @property
    def effective_kernel(self) -> tuple[int, int]:
        return (self.dilation[0] * (self.kernel[0] - 1) + 1, self.dilation[1] * (self.kernel[1] - 1) + 1)

    @property
    def cell_count(self) -> int:
        return self.output_hw[0] * self.output_hw[1]

    def cell(self, index: int) -> tuple[int, int]:
        """The output cell at position ``index`` of raster order (row by row), wrapping around."""
        index %= self.cell_count
        return divmod(index, self.output_hw[1])

    def cell_index(self, row: int, col: int) -> int:
        return row * self.output_hw[1] + col

    def next_cell(self, row: int, col: int) -> tuple[int, int]:
        """The cell after (row, col) in raster order; after the last comes the first."""
        return self.cell(self.cell_index(row, col) + 1)

    def window_origin(self, row: int, col: int) -> tuple[int, int]:
        """Padded-input position of the top-left tap of output cell (row, col)'s window."""
        return row * self.stride[0], col * self.stride[1]

    def nearest_cell(self, origin_row: float, origin_col: float) -> tuple[int, int]:
        """The output cell whose window's top-left tap is nearest to a (dragged) padded-input position."""
        oh, ow = self.output_hw
        row = min(max(math.floor(origin_row / self.stride[0] + 0.5), 0), oh - 1)
        col = min(max(math.floor(origin_col / self.stride[1] + 0.5), 0), ow - 1)
        return int(row), int(col)

    def cell_for_pixel(self, row: float, col: float) -> tuple[int, int]:
        """The output cell whose window is centred nearest to padded-input position (row, col)."""
        kh, kw = self.effective_kernel
        return self.nearest_cell(row - (kh - 1) / 2, col - (kw - 1) / 2)

    # ---- one output value -----------------------------------------------------------------
    def step(self, row: int, col: int, channel: int = 0) -> WindowStep:
        """Explain output value ``[channel, row, col]``."""
        oh, ow = self.output_hw
        if not (0 <= row < oh and 0 <= col < ow):
            raise IndexError(f"output cell ({row}, {col}) is outside the {oh}×{ow} output")
        if not 0 <= channel < self.channels:
            raise IndexError(f"channel {channel} is outside 0..{self.channels - 1}")
        r0, c0 = self.window_origin(row, col)
        tap_rows = r0 + self.dilation[0] * np.arange(self.kernel[0])
        tap_cols = c0 + self.dilation[1] * np.arange(self.kernel[1])
        in_padding = self.padding_mask[np.ix_(tap_rows, tap_cols)]
        common = dict(kind=self.kind, row=row, col=col, channel=channel, tap_rows=tap_rows, tap_cols=tap_cols,
                      in_padding=in_padding, output=float(self.output[channel, row, col]))
        if self.kind == "convolution":
            values = self.padded[:, tap_rows][:, :, tap_cols]
            weights = np.array(self.layer.params["weight"][channel], copy=True)
            products = values.astype(np.float64) * weights.astype(np.float64)
            subtotals = products.sum(axis=(1, 2))
            bias = float(self.layer.params["bias"][channel]) if "bias" in self.layer.params else 0.0
            return WindowStep(values=values, weights=weights, products=products, subtotals=subtotals, bias=bias,
                              total=float(subtotals.sum() + bias), **common)
        values = self.padded[channel][np.ix_(tap_rows, tap_cols)]
        return self._pool_step(values, common)

    def _pool_step(self, values: np.ndarray, common: dict[str, Any]) -> WindowStep:
        flat = values.astype(np.float64).ravel()
        kw = values.shape[1]
        if self.kind in ("max", "min"):
            pick = int(np.argmax(flat) if self.kind == "max" else np.argmin(flat))  # first extreme, as the engine
            return WindowStep(values=values[None], total=float(flat[pick]), chosen=divmod(pick, kw), **common)
        if self.kind == "stochastic":
            act = np.maximum(flat, 0.0)
            mass = act.sum()
            probabilities = act / mass if mass > 0 else np.zeros_like(act)
            return WindowStep(values=values[None], total=float((probabilities * act).sum()),
                              probabilities=probabilities.reshape(values.shape), **common)
        total = flat.sum() / (flat.size if self.kind == "average" else 1)
        return WindowStep(values=values[None], total=float(total), **common)


def build_layer(layer_config: dict[str, Any], params: dict[str, np.ndarray], input_shape: tuple[int, ...]) -> Layer:
    """A layer built for ``input_shape`` from its config, holding copies of ``params``
    (missing ones keep their initial values; a wrong shape raises ShapeError)."""
    layer = make_layer(layer_config, 0)
    layer.build(tuple(int(d) for d in input_shape))
    for name, value in params.items():
        if name in layer.params:
            if np.shape(value) != layer.params[name].shape:
                raise ShapeError(f"{layer.type_name} {name}: expected shape {layer.params[name].shape}, "
                                 f"got {np.shape(value)}")
            layer.params[name][...] = value
    return layer


def twin_layer(layer: Layer, input_shape: tuple[int, ...]) -> Layer:
    """A new layer with ``layer``'s settings and a copy of its weights, built for ``input_shape``."""
    return build_layer(layer.get_config(), layer.params, input_shape)


def layer_input(model: Any, index: int, x: np.ndarray) -> np.ndarray:
    """What layer ``index`` of ``model`` receives for one model input ``x`` (C, H, W), as a copy."""
    if index == 0:
        return np.array(x, dtype=np.float32, copy=True)
    with np.errstate(all="ignore"):
        out = model.forward(np.asarray(x, np.float32)[None], training=False, upto=index)
    return np.array(out[0], copy=True)


__all__ = ["KINDS", "TOY_SIZE", "Walkthrough", "WindowStep", "build_layer", "can_walk", "layer_input", "toy_input", "toy_size",
           "twin_layer"]
