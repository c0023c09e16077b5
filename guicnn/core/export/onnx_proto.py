"""The ONNX protobuf wire format, written directly: a ModelProto's bytes without the ``onnx`` package.

Scoring through onnxruntime (``core.accelerate``) needs the model as ONNX bytes. The ``onnx``
package's helpers would build them, but importing ``onnx`` imports ``ml_dtypes``, whose
extension module takes ~0.6 s to load while holding the GIL: a 595 ms freeze of the window
when the first validation of a training run started. So the graph is encoded here, and
``onnx_export.onnx_model`` parses these same bytes with ``onnx`` for the file export, whose
checker and tests (onnxruntime output equals ``forward`` on random designs covering every
layer type) hold this writer to the specification.

Only what the exporter writes is covered: nodes with int, float, string and list attributes,
dense initializers as little-endian ``raw_data``, typed graph inputs and outputs, opset
imports and metadata. Field numbers are those of ``onnx/onnx.proto`` (proto2; repeated
scalars unpacked, as the reference implementation writes them).
"""

from __future__ import annotations

import struct
from dataclasses import dataclass, field
from typing import Any, Sequence

import numpy as np

# TensorProto.DataType
FLOAT, UINT8, INT8, INT32, INT64, BOOL, DOUBLE = 1, 2, 3, 6, 7, 9, 11
_DATA_TYPES = {np.dtype(np.float32): FLOAT, np.dtype(np.uint8): UINT8, np.dtype(np.int8): INT8,
               np.dtype(np.int32): INT32, np.dtype(np.int64): INT64, np.dtype(np.bool_): BOOL,
               np.dtype(np.float64): DOUBLE}
# AttributeProto.AttributeType
_ATTR_FLOAT, _ATTR_INT, _ATTR_STRING, _ATTR_FLOATS, _ATTR_INTS = 1, 2, 3, 6, 7


@dataclass
class Node:
    """One operator: ``op`` of the default domain, its input and output tensor names, attributes."""

    op: str
    inputs: list[str]
    outputs: list[str]
    name: str
    attributes: dict[str, Any] = field(default_factory=dict)


def _varint(value: int) -> bytes:
    value &= (1 << 64) - 1  # negative int64 values take ten bytes, as protobuf writes them
    out = bytearray()
    while True:
        byte = value & 0x7F
        value >>= 7
        if value:
            out.append(byte | 0x80)
        else:
            out.append(byte)
            return bytes(out)


def _key(number: int, wire: int) -> bytes:
    return _varint(number << 3 | wire)


def _int(number: int, value: int) -> bytes:
    return _key(number, 0) + _varint(int(value))


def _bytes(number: int, value: bytes) -> bytes:
    return _key(number, 2) + _varint(len(value)) + value


def _str(number: int, value: str) -> bytes:
    return _bytes(number, value.encode("utf-8"))


def _float(number: int, value: float) -> bytes:
    return _key(number, 5) + struct.pack("<f", float(value))


def _attribute(name: str, value: Any) -> bytes:
    """AttributeProto: name = 1, f = 2, i = 3, s = 4, floats = 7, ints = 8, type = 20."""
    out = _str(1, name)
    if isinstance(value, (bool, int, np.integer)):
        return out + _int(3, int(value)) + _int(20, _ATTR_INT)
    if isinstance(value, (float, np.floating)):
        return out + _float(2, value) + _int(20, _ATTR_FLOAT)
    if isinstance(value, (str, bytes)):
        return out + _bytes(4, value.encode("utf-8") if isinstance(value, str) else value) + _int(20, _ATTR_STRING)
    values = list(value)
    if values and all(isinstance(v, (bool, int, np.integer)) for v in values):
        return out + b"".join(_int(8, int(v)) for v in values) + _int(20, _ATTR_INTS)
    if values and all(isinstance(v, (int, float, np.integer, np.floating)) for v in values):
        return out + b"".join(_float(7, v) for v in values) + _int(20, _ATTR_FLOATS)
    raise TypeError(f"ONNX attribute {name!r}: cannot encode {value!r}")


def node_bytes(node: Node) -> bytes:
    """NodeProto: input = 1, output = 2, name = 3, op_type = 4, attribute = 5, domain = 7.
    Attributes sorted by name and None ones left out, as ``onnx.helper.make_node`` does."""
    out = b"".join(_str(1, name) for name in node.inputs) + b"".join(_str(2, name) for name in node.outputs)
    out += _str(3, node.name) + _str(4, node.op)
    out += b"".join(_bytes(5, _attribute(key, value)) for key, value in sorted(node.attributes.items())
                    if value is not None)
    return out


def _tensor_parts(name: str, array: np.ndarray) -> list[Any]:
    """TensorProto: dims = 1, data_type = 2, name = 8, raw_data = 9 (little-endian), as pieces:
    the data is a view of the array, copied once, when the whole model is joined."""
    array = np.asarray(array)
    kind = _DATA_TYPES.get(array.dtype.newbyteorder("="))
    if kind is None:
        raise TypeError(f"ONNX tensor {name!r}: cannot encode dtype {array.dtype}")
    data = np.ascontiguousarray(array, dtype=array.dtype.newbyteorder("<")).reshape(-1).view(np.uint8)
    head = b"".join(_int(1, d) for d in array.shape) + _int(2, kind) + _str(8, name)
    return [head, _key(9, 2), _varint(data.size), memoryview(data)]


def _delimited(number: int, parts: list[Any]) -> list[Any]:
    """Field ``number`` holding the message made of ``parts`` (length first), still in pieces."""
    return [_key(number, 2), _varint(sum(len(part) for part in parts)), *parts]


def tensor_bytes(name: str, array: np.ndarray) -> bytes:
    """A serialised TensorProto (see ``_tensor_parts``)."""
    return b"".join(_tensor_parts(name, array))


def value_info_bytes(name: str, elem_type: int, shape: Sequence[int | str]) -> bytes:
    """ValueInfoProto(name = 1, type = 2) → TypeProto(tensor_type = 1) → Tensor(elem_type = 1,
    shape = 2) → TensorShapeProto(dim = 1) → Dimension(dim_value = 1 | dim_param = 2)."""
    dims = b"".join(_bytes(1, _str(2, d) if isinstance(d, str) else _int(1, int(d))) for d in shape)
    tensor = _int(1, elem_type) + _bytes(2, dims)
    return _str(1, name) + _bytes(2, _bytes(1, tensor))


def model_bytes(*, nodes: Sequence[Node], initializers: dict[str, np.ndarray], graph_name: str,
                inputs: Sequence[tuple[str, Sequence[int | str]]], outputs: Sequence[tuple[str, Sequence[int | str]]],
                ir_version: int, opset: int, producer_name: str, producer_version: str, doc_string: str = "",
                metadata: dict[str, str] | None = None) -> bytes:
    """A serialised ModelProto of float32 inputs and outputs.

    ModelProto: ir_version = 1, producer_name = 2, producer_version = 3, doc_string = 6,
    graph = 7, opset_import = 8, metadata_props = 14. GraphProto: node = 1, name = 2,
    initializer = 5, input = 11, output = 12.
    """
    graph: list[Any] = []
    for node in nodes:
        graph += _delimited(1, [node_bytes(node)])
    graph.append(_str(2, graph_name))
    for name, array in initializers.items():
        graph += _delimited(5, _tensor_parts(name, array))
    graph += [_bytes(11, value_info_bytes(name, FLOAT, shape)) for name, shape in inputs]
    graph += [_bytes(12, value_info_bytes(name, FLOAT, shape)) for name, shape in outputs]
    parts = [_int(1, ir_version), _str(2, producer_name), _str(3, producer_version)]
    if doc_string:
        parts.append(_str(6, doc_string))
    parts += _delimited(7, graph)
    parts.append(_bytes(8, _str(1, "") + _int(2, opset)))
    parts += [_bytes(14, _str(1, key) + _str(2, value)) for key, value in (metadata or {}).items()]
    return b"".join(parts)  # the one copy of the weights


__all__ = ["Node", "model_bytes", "node_bytes", "tensor_bytes", "value_info_bytes"]
