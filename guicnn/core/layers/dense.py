"""Dense (fully connected) and Flatten."""

from __future__ import annotations

import math

import numpy as np

from ..fields import Field
from ..init import INITIALISERS, init_weight
from ..registry import register
from .base import Layer, LayerShapeError, Shape
from .common import fmt_shape


@register
class Dense(Layer):
    type_name = "Dense"
    group = "Dense"
    palette_order = 0
    glyph = "≡"
    description = "Connects every input value to every output unit with its own weight (a fully connected layer)."
    fields = (
        Field("units", "int", 10, "Number of output units (the number of classes for the last layer).",
              minimum=1, maximum=65536, required=True, key=True),
        Field("use_bias", "bool", True, "Add a learned offset to every unit."),
        Field("init", "choice", "he", "Weight initialisation: He (for ReLU) or Glorot (for sigmoid/tanh/softmax).",
              choices=INITIALISERS),
    )

    def describe(self) -> str:
        return f"Dense {self.settings['units']}"

    def compute_output_shape(self, input_shape: Shape) -> Shape:
        if len(input_shape) != 1:
            raise LayerShapeError(
                f"Dense needs a flat input but gets {fmt_shape(input_shape)}; add Flatten (or a global pooling "
                "layer) before it"
            )
        return (int(self.settings["units"]),)

    def param_shapes(self, input_shape: Shape) -> dict[str, Shape]:
        units = int(self.settings["units"])
        shapes = {"weight": (units, int(input_shape[0]))}
        if self.settings["use_bias"]:
            shapes["bias"] = (units,)
        return shapes

    def macs(self, input_shape: Shape, output_shape: Shape) -> int:
        return int(input_shape[0] * output_shape[0])

    def receptive(self, input_shape: Shape):
        return "global"

    def init_params(self, input_shape: Shape, rng: np.random.Generator) -> dict[str, np.ndarray]:
        shapes = self.param_shapes(input_shape)
        units, fan_in = shapes["weight"]
        params = {"weight": init_weight(shapes["weight"], fan_in, units, self.settings["init"], rng)}
        if "bias" in shapes:
            params["bias"] = np.zeros(shapes["bias"], dtype=np.float32)
        return params

    def forward(self, x: np.ndarray, training: bool = False) -> np.ndarray:
        self.check_input(x)
        self._cache = x
        y = x @ self.params["weight"].T
        if "bias" in self.params:
            y += self.params["bias"]
        return y

    def backward(self, dy: np.ndarray) -> np.ndarray | None:
        x = self._cache
        self.grads["weight"][...] = dy.T @ x
        if "bias" in self.params:
            self.grads["bias"][...] = dy.sum(axis=0)
        if not self.needs_input_grad:
            return None
        return dy @ self.params["weight"]

    # ---- export ----------------------------------------------------------------------------
    def torch_code(self, input_shape: Shape) -> str:
        bias = "" if self.settings["use_bias"] else ", bias=False"
        return f"nn.Linear({input_shape[0]}, {int(self.settings['units'])}{bias})"

    def onnx_nodes(self, graph, x: str) -> str:
        inputs = [x, graph.tensor("weight", self.params["weight"])]
        if "bias" in self.params:
            inputs.append(graph.tensor("bias", self.params["bias"]))
        return graph.node("Gemm", inputs, transB=1)


@register
class Flatten(Layer):
    type_name = "Flatten"
    group = "Shape"
    palette_order = 0
    glyph = "⇥"
    description = "Unrolls C×H×W feature maps into one vector (channel by channel, row by row) for Dense layers."

    def compute_output_shape(self, input_shape: Shape) -> Shape:
        return (int(math.prod(input_shape)),)

    def forward(self, x: np.ndarray, training: bool = False) -> np.ndarray:
        self.check_input(x)
        self._cache = x.shape
        return x.reshape(x.shape[0], -1)

    def backward(self, dy: np.ndarray) -> np.ndarray:
        return dy.reshape(self._cache)

    # ---- export ----------------------------------------------------------------------------
    def torch_code(self, input_shape: Shape) -> str:
        return "nn.Flatten()"

    def onnx_nodes(self, graph, x: str) -> str:
        return graph.node("Flatten", [x], axis=1)
