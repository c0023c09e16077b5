"""Designs and trained models leaving guicnn: PyTorch code, a PyTorch training script, ONNX,
and weights coming back in from PyTorch.

Each layer class exports itself (``Layer.torch_code`` / ``torch_helpers`` / ``onnx_nodes``);
these modules put the pieces together. ONNX needs the optional ``onnx`` package
(``pip install "guicnn[onnx]"``); nothing here needs PyTorch.
"""

from .onnx_export import ONNX_OPSET, export_model_onnx, onnx_model, save_onnx
from .torch_code import sequential_source, torch_code

__all__ = ["ONNX_OPSET", "export_model_onnx", "onnx_model", "save_onnx", "sequential_source", "torch_code"]
