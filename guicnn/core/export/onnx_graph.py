"""OnnxGraph: what a layer's ``onnx_nodes`` writes into — operators and named tensors.

Names follow the PyTorch exporter's habits so that a graph reads the same in Netron:
weights keep their state_dict names (``"3.weight"``), operators are ``/3/Conv`` and their
outputs ``/3/Conv_output_0`` (layer 3 of the Sequential).
"""

from __future__ import annotations

from typing import Any

import numpy as np

from ..errors import require


def onnx_module() -> Any:
    """The ``onnx`` package, or MissingDependencyError with the install command."""
    return require("onnx", "ONNX export", "onnx")


class OnnxGraph:
    """Collects operators and initializers while the layers add themselves in order."""

    def __init__(self) -> None:
        self.onnx = onnx_module()
        self.nodes: list[Any] = []
        self.tensors: dict[str, np.ndarray] = {}
        self.scope = ""
        self._used: set[str] = set()

    def enter(self, scope: str) -> None:
        """Name what follows after ``scope``: a layer index (``"3"``) or a stage (``"normalization"``)."""
        self.scope = scope

    def node(self, op: str, inputs: list[str], **attributes: Any) -> str:
        """Add operator ``op`` of the default domain; return the name of its (single) output."""
        name = f"/{self.scope}/{op}"
        count = 1
        while name in self._used:
            name = f"/{self.scope}/{op}_{count}"
            count += 1
        self._used.add(name)
        output = f"{name}_output_0"
        self.nodes.append(self.onnx.helper.make_node(op, inputs, [output], name=name, **attributes))
        return output

    def tensor(self, name: str, array: np.ndarray) -> str:
        """Add a constant tensor named ``<scope>.<name>`` (float arrays are stored as float32)."""
        full = f"{self.scope}.{name}"
        array = np.asarray(array)
        if array.dtype.kind == "f":
            array = array.astype(np.float32)
        known = self.tensors.get(full)
        if known is not None:
            if known.shape != array.shape or not np.array_equal(known, array):
                raise ValueError(f"ONNX tensor {full} was added twice with different values")
            return full
        self.tensors[full] = np.ascontiguousarray(array)
        return full

    def name_output(self, current: str, name: str) -> str:
        """Give the tensor ``current`` the final name ``name`` (the graph input gets an Identity)."""
        for node in self.nodes:
            if current in node.output:
                node.output[list(node.output).index(current)] = name
                return name
        self.nodes.append(self.onnx.helper.make_node("Identity", [current], [name], name=f"/{name}/Identity"))
        return name

    def initializers(self) -> list[Any]:
        return [self.onnx.numpy_helper.from_array(array, name) for name, array in self.tensors.items()]


__all__ = ["OnnxGraph", "onnx_module"]
