"""Element-wise activations and Softmax; all overflow-safe for finite input."""

from __future__ import annotations

import math

import numpy as np

from ..fields import Field
from ..functional import memory_flat
from ..parallel import run_blocks
from ..registry import register
from .base import Layer, Shape
from .torch_source import py_number


class _Activation(Layer):
    group = "Activation"

    def macs(self, input_shape: Shape, output_shape: Shape) -> int:
        return int(math.prod(input_shape))


@register
class ReLU(_Activation):
    type_name = "ReLU"
    palette_order = 0
    glyph = "⌐"
    description = "max(0, x): passes positive values and zeroes the rest. The default non-linearity of CNNs."

    def forward(self, x: np.ndarray, training: bool = False) -> np.ndarray:
        self.check_input(x)
        y = np.empty_like(x)  # same memory order as x: batch-last stays batch-last, no transpose
        flat = memory_flat(x, y)
        if flat is None:
            np.maximum(x, 0, out=y)
        else:  # raw memory in blocks, over two threads when allowed
            run_blocks(lambda a, b: np.maximum(flat[0][a:b], 0, out=flat[1][a:b]), flat[0].size, flat[0].size)
        self._cache = y
        return y

    def backward(self, dy: np.ndarray) -> np.ndarray:
        # A multiply by the mask is ~2x faster than np.where. Before max/min pooling this backward
        # does not run at all: Sequential.backward folds it into the pool's (backward_through_relu).
        y = self._cache
        dx = np.empty_like(y)
        flat = memory_flat(dy, y, dx)
        if flat is None:
            np.multiply(dy, y > 0, out=dx)
            return dx
        d, yf, out = flat
        run_blocks(lambda a, b: np.multiply(d[a:b], yf[a:b] > 0, out=out[a:b]), d.size, d.size)
        return dx

    # ---- export ----------------------------------------------------------------------------
    def torch_code(self, input_shape: Shape) -> str:
        return "nn.ReLU()"

    def onnx_nodes(self, graph, x: str) -> str:
        return graph.node("Relu", [x])


@register
class LeakyReLU(_Activation):
    type_name = "LeakyReLU"
    palette_order = 1
    glyph = "╱"
    description = "Like ReLU, but negative inputs keep a small slope so units never die completely."
    fields = (Field("negative_slope", "float", 0.01, "Slope for negative inputs.", minimum=0.0, maximum=1.0,
                    key=True),)

    def describe(self) -> str:
        return f"LeakyReLU {self.settings['negative_slope']:g}"

    def forward(self, x: np.ndarray, training: bool = False) -> np.ndarray:
        self.check_input(x)
        self._cache = x > 0
        return np.where(self._cache, x, x * x.dtype.type(self.settings["negative_slope"]))

    def backward(self, dy: np.ndarray) -> np.ndarray:
        return np.where(self._cache, dy, dy * dy.dtype.type(self.settings["negative_slope"]))

    # ---- export ----------------------------------------------------------------------------
    def torch_code(self, input_shape: Shape) -> str:
        return f"nn.LeakyReLU(negative_slope={py_number(self.settings['negative_slope'])})"

    def onnx_nodes(self, graph, x: str) -> str:
        return graph.node("LeakyRelu", [x], alpha=float(self.settings["negative_slope"]))


@register
class PReLU(_Activation):
    type_name = "PReLU"
    palette_order = 2
    glyph = "∠"
    description = "Leaky ReLU whose negative slope is learned (one slope, or one per channel)."
    fields = (
        Field("init", "float", 0.25, "Initial negative slope.", minimum=0.0, maximum=1.0, key=True),
        Field("channelwise", "bool", False, "Learn one slope per channel instead of one for the layer."),
    )

    def describe(self) -> str:
        return "PReLU per channel" if self.settings["channelwise"] else "PReLU"

    def param_shapes(self, input_shape: Shape) -> dict[str, Shape]:
        return {"weight": (int(input_shape[0]) if self.settings["channelwise"] else 1,)}

    def init_params(self, input_shape: Shape, rng: np.random.Generator) -> dict[str, np.ndarray]:
        shape = self.param_shapes(input_shape)["weight"]
        return {"weight": np.full(shape, self.settings["init"], dtype=np.float32)}

    def _slope(self, ndim: int) -> np.ndarray:
        w = self.params["weight"]
        return w.reshape((1, -1) + (1,) * (ndim - 2)) if w.size > 1 else w.reshape((1,) * ndim)

    def forward(self, x: np.ndarray, training: bool = False) -> np.ndarray:
        self.check_input(x)
        positive = x > 0
        self._cache = (x, positive)
        return np.where(positive, x, x * self._slope(x.ndim))

    def backward(self, dy: np.ndarray) -> np.ndarray:
        x, positive = self._cache
        negative_part = np.where(positive, 0, dy * x)
        axes = tuple(i for i in range(dy.ndim) if not (i == 1 and self.params["weight"].size > 1))
        self.grads["weight"][...] = negative_part.sum(axis=axes).reshape(self.grads["weight"].shape)
        return np.where(positive, dy, dy * self._slope(dy.ndim))

    # ---- export ----------------------------------------------------------------------------
    def torch_code(self, input_shape: Shape) -> str:
        count = input_shape[0] if self.settings["channelwise"] else 1
        return f"nn.PReLU(num_parameters={count}, init={py_number(self.settings['init'])})"

    def onnx_nodes(self, graph, x: str) -> str:
        # The slope broadcasts over the channel axis: (C, 1, 1) for images, (C,) for vectors.
        slope = self.params["weight"].reshape((-1,) + (1,) * (len(self.input_shape) - 1))
        return graph.node("PRelu", [x, graph.tensor("weight", slope)])


@register
class ELU(_Activation):
    type_name = "ELU"
    palette_order = 3
    glyph = "⌒"
    description = "x for x > 0, alpha·(eˣ − 1) below: smooth, with negative outputs that keep means near zero."
    fields = (Field("alpha", "float", 1.0, "Value the output approaches for very negative inputs (−alpha).",
                    minimum=0.0, maximum=10.0, exclusive_minimum=True, key=True),)

    def describe(self) -> str:
        return "ELU" if self.settings["alpha"] == 1.0 else f"ELU α={self.settings['alpha']:g}"

    def forward(self, x: np.ndarray, training: bool = False) -> np.ndarray:
        self.check_input(x)
        alpha = x.dtype.type(self.settings["alpha"])
        # expm1 of min(x, 0) never overflows.
        y = np.where(x > 0, x, alpha * np.expm1(np.minimum(x, 0)))
        self._cache = (x > 0, y)
        return y

    def backward(self, dy: np.ndarray) -> np.ndarray:
        positive, y = self._cache
        return np.where(positive, dy, dy * (y + dy.dtype.type(self.settings["alpha"])))

    # ---- export ----------------------------------------------------------------------------
    def torch_code(self, input_shape: Shape) -> str:
        return f"nn.ELU(alpha={py_number(self.settings['alpha'])})"

    def onnx_nodes(self, graph, x: str) -> str:
        return graph.node("Elu", [x], alpha=float(self.settings["alpha"]))


def sigmoid(x: np.ndarray) -> np.ndarray:
    """Logistic function without overflow: exp is only taken of non-positive numbers."""
    e = np.exp(-np.abs(x))
    return np.where(x >= 0, 1 / (1 + e), e / (1 + e)).astype(x.dtype, copy=False)


@register
class Sigmoid(_Activation):
    type_name = "Sigmoid"
    palette_order = 4
    glyph = "∫"
    description = "Squashes values into (0, 1). Saturates for large |x|, which slows learning in deep stacks."

    def forward(self, x: np.ndarray, training: bool = False) -> np.ndarray:
        self.check_input(x)
        y = sigmoid(x)
        self._cache = y
        return y

    def backward(self, dy: np.ndarray) -> np.ndarray:
        y = self._cache
        return dy * y * (1 - y)

    # ---- export ----------------------------------------------------------------------------
    def torch_code(self, input_shape: Shape) -> str:
        return "nn.Sigmoid()"

    def onnx_nodes(self, graph, x: str) -> str:
        return graph.node("Sigmoid", [x])


@register
class Tanh(_Activation):
    type_name = "Tanh"
    palette_order = 5
    glyph = "∿"
    description = "Squashes values into (−1, 1), centred on zero."

    def forward(self, x: np.ndarray, training: bool = False) -> np.ndarray:
        self.check_input(x)
        y = np.tanh(x)
        self._cache = y
        return y

    def backward(self, dy: np.ndarray) -> np.ndarray:
        y = self._cache
        return dy * (1 - y * y)

    # ---- export ----------------------------------------------------------------------------
    def torch_code(self, input_shape: Shape) -> str:
        return "nn.Tanh()"

    def onnx_nodes(self, graph, x: str) -> str:
        return graph.node("Tanh", [x])


def softmax(x: np.ndarray, axis: int = 1) -> np.ndarray:
    """Numerically stable softmax (the maximum is subtracted first)."""
    with np.errstate(over="ignore"):  # a difference beyond float range is -inf: exp gives the right 0
        z = x - x.max(axis=axis, keepdims=True)
    e = np.exp(z)
    return e / e.sum(axis=axis, keepdims=True)


@register
class Softmax(_Activation):
    type_name = "Softmax"
    palette_order = 6
    glyph = "%"
    description = (
        "Turns scores into class probabilities that sum to 1 (over channels). With cross-entropy "
        "loss the trainer fuses it into the loss, so it is never applied twice."
    )

    def forward(self, x: np.ndarray, training: bool = False) -> np.ndarray:
        self.check_input(x)
        y = softmax(x, axis=1)
        self._cache = y
        return y

    def backward(self, dy: np.ndarray) -> np.ndarray:
        y = self._cache
        return y * (dy - (dy * y).sum(axis=1, keepdims=True))

    # ---- export ----------------------------------------------------------------------------
    def torch_code(self, input_shape: Shape) -> str:
        return "nn.Softmax(dim=1)"

    def onnx_nodes(self, graph, x: str) -> str:
        return graph.node("Softmax", [x], axis=1)
