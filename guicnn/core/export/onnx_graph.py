"""OnnxGraph: what a layer's ``onnx_nodes`` writes into — operators and named tensors.

Names follow the PyTorch exporter's habits so that a graph reads the same in Netron:
weights keep their state_dict names (``"3.weight"``), operators are ``/3/Conv`` and their
outputs ``/3/Conv_output_0`` (layer 3 of the Sequential).
"""

from __future__ import annotations

from typing import Any

import numpy as np

from ..errors import require
from .onnx_proto import Node


def onnx_module() -> Any:
    """The ``onnx`` package, or MissingDependencyError with the install command."""
    return require("onnx", "ONNX export", "onnx")


class OnnxGraph:
    """Collects operators and initializers while the layers add themselves in order."""

    def __init__(self) -> None:
        self.nodes: list[Node] = []
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
        self.nodes.append(Node(op, list(inputs), [output], name, attributes))
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
            if current in node.outputs:
                node.outputs[node.outputs.index(current)] = name
                return name
        self.nodes.append(Node("Identity", [current], [name], f"/{name}/Identity"))
        return name


__all__ = ["OnnxGraph", "onnx_module"]
