"""ONNX export of a Sequential in inference mode (encoded by ``onnx_proto``, checked by ``onnx``).

``save_onnx(model, path)`` writes the network itself: output equals
``model.forward(x, training=False)``. ``export_model_onnx(model_file, path)`` writes what a
deployed classifier needs: the input is a batch of images scaled to [0, 1] exactly as the
data loaders give them, the graph applies the stored normalisation itself and outputs class
probabilities (never a second softmax after a final Softmax layer); the class names and the
design travel in the model's metadata.
"""

from __future__ import annotations

import json
import os
from typing import Any, Sequence

import numpy as np

from ... import __version__
from ..designfile import atomic_write
from ..errors import ConfigError
from ..layers.common import fmt_shape
from ..model import Sequential
from .onnx_graph import OnnxGraph, onnx_module
from .onnx_proto import model_bytes

#: Operator set: ONNX 1.12 (2022), run by every onnxruntime since 1.12.
ONNX_OPSET = 17
#: The IR version that goes with opset 17.
IR_VERSION = 8
INPUT_NAME = "input"


def onnx_model(model: Sequential, **options: Any) -> Any:
    """The ``onnx.ModelProto`` of ``model``: ``onnx_model_bytes`` parsed by the ``onnx`` package
    (MissingDependencyError when it is not installed). ``options`` are those of ``onnx_model_bytes``."""
    return onnx_module().load_from_string(onnx_model_bytes(model, **options))


def onnx_model_bytes(model: Sequential, *, normalization: Any = None, class_names: Sequence[str] | None = None,
                     probabilities: bool = False, image_shape: Sequence[int] | None = None,
                     metadata: dict[str, str] | None = None, upto: int | None = None) -> bytes:
    """The serialised ONNX ModelProto of ``model`` (inference mode; batch size left open as ``N``),
    written without the ``onnx`` package (``onnx_proto``).

    ``normalization`` (a ``Normalization``) is applied to the input first; ``image_shape`` is
    the C×H×W of the input images when the model takes them flattened; with ``probabilities``
    the output is the softmax of the logits, named ``probabilities`` (else ``output``).
    ``upto`` keeps the layers ``[0, upto)`` only, as ``model.forward(x, upto=upto)`` runs them.
    """
    graph = OnnxGraph()
    model_shape = tuple(int(d) for d in model.input_shape)
    input_shape = tuple(int(d) for d in image_shape) if image_shape is not None else model_shape
    if int(np.prod(input_shape)) != int(np.prod(model_shape)):
        raise ConfigError(f"images of shape {list(input_shape)} cannot feed a model whose input is {list(model_shape)}")
    x = INPUT_NAME
    if normalization is not None:
        x = _normalize(graph, x, normalization, input_shape)
    if input_shape != model_shape:
        graph.enter("input")
        x = graph.node("Flatten", [x], axis=1)
    # Probabilities are the softmax of the logits: a final Softmax layer is not applied twice.
    if probabilities and upto is not None:
        raise ValueError("probabilities and upto do not go together")
    layers = model.layers[:model.logits_end if probabilities else upto]
    for index, layer in enumerate(layers):
        graph.enter(str(index))
        try:
            x = layer.onnx_nodes(graph, x)
        except ConfigError as exc:
            raise ConfigError(exc.reason, index=index, layer_type=layer.type_name) from None
    output_name = "output"
    last = layers[-1].output_shape if layers else model.input_shape
    output_shape: list[Any] = ["N", *(last if upto is not None else model.output_shape)]
    if probabilities:
        graph.enter("probabilities")
        if len(model.output_shape) > 1:
            x = graph.node("Flatten", [x], axis=1)
        x = graph.node("Softmax", [x], axis=1)
        output_name, output_shape = "probabilities", ["N", int(np.prod(model.output_shape))]
    graph.name_output(x, output_name)
    props = {"guicnn_architecture": json.dumps(model.get_config())}
    if class_names:
        props["class_names"] = json.dumps([str(n) for n in class_names])
    if normalization is not None:
        props["normalization"] = json.dumps(normalization.to_dict())
    props.update(metadata or {})
    return model_bytes(
        nodes=graph.nodes, initializers=graph.tensors, graph_name=model.name or "guicnn design",
        inputs=[(INPUT_NAME, ["N", *input_shape])], outputs=[(output_name, output_shape)],
        ir_version=IR_VERSION, opset=ONNX_OPSET, producer_name="guicnn", producer_version=__version__,
        doc_string=_doc_string(model, input_shape, normalization, probabilities), metadata=props)


def _normalize(graph: OnnxGraph, x: str, normalization: Any, input_shape: tuple[int, ...]) -> str:
    """(x - mean) / std per channel, as the trainer does."""
    graph.enter("normalization")
    channels = len(normalization.mean)
    if len(input_shape) == 3 and channels == input_shape[0]:
        shape: tuple[int, ...] = (channels, 1, 1)
    elif channels == 1:
        shape = (1,) * len(input_shape)
    else:
        raise ConfigError(f"a normalisation for {channels} channels cannot apply to inputs of shape "
                          f"{list(input_shape)}")
    mean = graph.tensor("mean", np.asarray(normalization.mean, np.float32).reshape(shape))
    std = graph.tensor("std", np.asarray(normalization.std, np.float32).reshape(shape))
    return graph.node("Div", [graph.node("Sub", [x, mean]), std])


def _doc_string(model: Sequential, input_shape: tuple[int, ...], normalization: Any, probabilities: bool) -> str:
    shape = fmt_shape(input_shape)
    text = f'guicnn design "{model.name or "design"}". Input: float32 N×{shape}'
    if normalization is not None:
        text += " images scaled to [0, 1] (the graph normalises them itself)"
    text += ". Output: class probabilities." if probabilities else ". Output: the last layer's values."
    return text


def save_onnx(model: Sequential, path: str | os.PathLike, **options: Any) -> None:
    """Write ``model`` (inference mode) as an ONNX file, checked by ``onnx.checker``, atomically.

    ``options`` are those of :func:`onnx_model`. MissingDependencyError when ``onnx`` is not
    installed; ConfigError naming the layer when a layer type has no ONNX export.
    """
    proto = onnx_model(model, **options)
    onnx_module().checker.check_model(proto, full_check=True)
    data = proto.SerializeToString()
    atomic_write(path, lambda tmp: tmp.write_bytes(data))


def export_model_onnx(source: Any, path: str | os.PathLike) -> None:
    """Export a trained model file (a path or a ``LoadedModel``) as a classifier for deployment:
    images in [0, 1] in, normalisation inside, class probabilities out, class names in metadata."""
    from ..modelfile import LoadedModel, load_model

    loaded = source if isinstance(source, LoadedModel) else load_model(source)
    image_shape = loaded.dataset.get("input_shape")
    if image_shape is not None and int(np.prod(image_shape)) != int(np.prod(loaded.model.input_shape)):
        image_shape = None
    save_onnx(loaded.model, path, normalization=loaded.normalization, class_names=loaded.class_names,
              probabilities=True, image_shape=image_shape)


__all__ = ["ONNX_OPSET", "onnx_model", "onnx_model_bytes", "save_onnx", "export_model_onnx"]
