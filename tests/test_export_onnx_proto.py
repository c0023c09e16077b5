"""The hand-written ONNX protobuf encoder (export.onnx_proto) against the onnx package's own helpers."""

from __future__ import annotations

import subprocess
import sys

import numpy as np
import pytest

from guicnn.core import Sequential
from guicnn.core.export.onnx_export import onnx_model_bytes
from guicnn.core.export.onnx_proto import Node, node_bytes, tensor_bytes, value_info_bytes

onnx = pytest.importorskip("onnx")


@pytest.mark.parametrize("attributes", [
    {},
    {"axis": 1},
    {"axis": -1},  # negative int64: ten-byte varint
    {"alpha": 0.125, "transB": 1},
    {"kernel_shape": [3, 2], "pads": [0, 1, 1, 0], "strides": [2, 2], "dilations": [1, 1]},
    {"axes": [-2, -1], "keepdims": 1},
    {"scales": [0.5, 2.0]},
    {"mode": "constant", "epsilon": 1e-5, "skipped": None},
    {"count_include_pad": np.int64(1), "momentum": np.float32(0.9)},
])
def test_nodes_parse_as_the_onnx_helper_builds_them(attributes):
    node = Node("Conv", ["x", "3.weight", ""], ["/3/Conv_output_0"], "/3/Conv", attributes)
    parsed = onnx.NodeProto.FromString(node_bytes(node))
    expected = onnx.helper.make_node("Conv", ["x", "3.weight", ""], ["/3/Conv_output_0"], name="/3/Conv",
                                     **attributes)
    assert parsed == expected


def test_unsupported_attribute_is_refused():
    with pytest.raises(TypeError, match="'weird'"):
        node_bytes(Node("Foo", ["x"], ["y"], "/0/Foo", {"weird": [object()]}))


@pytest.mark.parametrize("array", [
    np.arange(24, dtype=np.float32).reshape(2, 3, 4) - 7.5,
    np.array([-3, 0, 2**40], dtype=np.int64),
    np.array([[True, False]]),
    np.array(2.5, dtype=np.float64),  # a scalar: no dims
    np.zeros((0, 3), dtype=np.float32),
    np.array([1, -2], dtype=np.int32),
    np.arange(4, dtype=np.float32)[::-1],  # not contiguous
    np.arange(3, dtype=">f4"),  # big-endian input is written little-endian
])
def test_tensors_round_trip_through_onnx(array):
    parsed = onnx.TensorProto.FromString(tensor_bytes("t", array))
    assert parsed.name == "t"
    back = onnx.numpy_helper.to_array(parsed)
    assert back.shape == array.shape and back.dtype == array.dtype.newbyteorder("=")
    assert np.array_equal(back, array)


def test_unsupported_tensor_dtype_is_refused():
    with pytest.raises(TypeError, match="complex64"):
        tensor_bytes("c", np.zeros(2, np.complex64))


def test_value_info_matches_the_helper():
    parsed = onnx.ValueInfoProto.FromString(value_info_bytes("input", onnx.TensorProto.FLOAT, ["N", 3, 32, 32]))
    assert parsed == onnx.helper.make_tensor_value_info("input", onnx.TensorProto.FLOAT, ["N", 3, 32, 32])


def test_model_bytes_pass_the_full_checker_with_metadata():
    model = Sequential.from_config({"name": "tiny ünïcode", "input_shape": [1, 6, 6], "layers": [
        {"type": "Conv2D", "filters": 2, "kernel_size": 3}, {"type": "ReLU"}, {"type": "Flatten"},
        {"type": "Dense", "units": 3}, {"type": "Softmax"}]})
    proto = onnx.load_from_string(onnx_model_bytes(model, metadata={"note": "hello"}, upto=4))
    onnx.checker.check_model(proto, full_check=True)
    assert proto.ir_version == 8 and proto.opset_import[0].version == 17 and proto.opset_import[0].domain == ""
    assert proto.graph.name == "tiny ünïcode" and proto.producer_name == "guicnn"
    assert {p.key: p.value for p in proto.metadata_props}["note"] == "hello"
    assert [n.op_type for n in proto.graph.node] == ["Conv", "Relu", "Flatten", "Gemm"]  # upto=4: no Softmax
    output = proto.graph.output[0]
    assert output.name == "output"
    assert [d.dim_param or d.dim_value for d in output.type.tensor_type.shape.dim] == ["N", 3]


def test_scoring_never_imports_onnx():
    """Importing onnx loads ml_dtypes, ~0.6 s holding the GIL: the window froze at the first validation."""
    pytest.importorskip("onnxruntime")
    code = (
        "import sys\n"
        "from guicnn.core import Sequential, accelerate\n"
        "m = Sequential.from_config({'input_shape': [1, 8, 8], 'layers': [{'type': 'Conv2D', 'filters': 2,"
        " 'kernel_size': 3}, {'type': 'Flatten'}, {'type': 'Dense', 'units': 3}]})\n"
        "f = accelerate.inference(m, samples=accelerate.MIN_SAMPLES)\n"
        "assert type(f).__name__ == 'OnnxInference', f\n"
        "print(sorted(name for name in ('onnx', 'ml_dtypes') if name in sys.modules))\n"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120,
                            env={"GUICNN_INFERENCE": "auto", "PATH": "", "PYTHONPATH": ":".join(sys.path)})
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "[]"
