"""Inference through onnxruntime, when it is installed: the model's own ONNX export, run by MLAS.

Scoring a whole dataset (``training.evaluate``: ``guicnn evaluate``, validation after each
epoch, the test set, reports) and ``Sequential.predict_proba`` (``guicnn predict``) run the
model in inference mode over thousands of images. This engine's NumPy forward is the
reference — every layer is checked against PyTorch and by gradcheck — but its convolutions are
im2col products on OpenBLAS, and on wider networks PyTorch's oneDNN kernels are faster.
onnxruntime's MLAS kernels are faster still, so when ``onnxruntime`` is installed
(``pip install "guicnn[fast]"``; a prebuilt wheel, no compiler) a large enough scoring run
encodes the layers with ``export.onnx_export.onnx_model_bytes`` (the same graph that
``guicnn export --format onnx`` writes, held to this engine within 1e-4 by the tests; the
``onnx`` package is not needed) and runs them in an onnxruntime session.

Measured here (one thread, batch 64, ``benchmarks/bench_core.py``, medians of 5 runs, ms per
batch; ``evaluate`` on 10,000 vgg-ish images: 5.1-5.4 s → 1.2 s):

============  ======  =======  ===========
design        NumPy   PyTorch  onnxruntime
============  ======  =======  ===========
LeNet-5          2.7      3.2          1.1
wide            50.6     43.4         17.3
vgg-ish         30.4     20.0          7.6
============  ======  =======  ===========

Building a session costs a few ms (plus ~0.1 s to import onnxruntime the first time), so runs of
fewer than ``MIN_SAMPLES`` images stay on NumPy, as do float64 models and inputs (gradcheck),
models a layer of which has no ONNX export, and any run where onnxruntime fails (it is then
not asked again for that run). ``GUICNN_INFERENCE=numpy`` in the environment turns it off;
``set_backend`` does the same from code. Training always runs on this engine.

Both paths give the same class scores to about 1e-6 relative; predictions can differ only
where two classes tie to that precision.
"""

from __future__ import annotations

import os
import threading
from typing import Any, Callable

import numpy as np

from . import parallel

#: Environment variable: "numpy" keeps all inference on this engine; "auto" (default) uses
#: onnxruntime when it is installed and the run is large enough.
ENV = "GUICNN_INFERENCE"
BACKENDS = ("auto", "numpy")
#: Fewer images than this are scored with NumPy: building a session (export + graph
#: optimisation, 3-8 ms on the benchmark designs) would cost more than it saves.
MIN_SAMPLES = 256

_setting: str | None = None
_lock = threading.Lock()
_ort: Any = None  # the onnxruntime module, False when it cannot be imported


def set_backend(name: str | None) -> None:
    """"numpy" or "auto" for the whole process; None goes back to the environment's choice."""
    global _setting
    if name is not None and name not in BACKENDS:
        raise ValueError(f"inference backend must be one of {', '.join(BACKENDS)}, got {name!r}")
    _setting = name


def _onnxruntime() -> Any:
    """The onnxruntime module when it imports, else False (looked up once)."""
    global _ort
    with _lock:
        if _ort is None:
            try:
                import onnxruntime
            except Exception:  # not installed, or a broken install: the engine scores alone
                _ort = False
            else:
                _ort = onnxruntime
    return _ort


def backend() -> str:
    """What a large scoring run uses now: "onnxruntime" or "numpy"."""
    choice = _setting or os.environ.get(ENV, "auto").strip().lower() or "auto"
    if choice == "numpy" or not _onnxruntime():
        return "numpy"
    return "onnxruntime"


def describe() -> str:
    """One sentence for the user: what scores images now, and how to change it."""
    if backend() == "onnxruntime":
        return (f"Training runs on guicnn's own NumPy engine. Scoring {MIN_SAMPLES} images or more (validation, "
                f"the test set, evaluate, predict) runs through onnxruntime {_ort.__version__}, 2.5-3x faster; "
                f"{ENV}=numpy keeps it on the engine.")
    if _onnxruntime():
        return f"Training and scoring run on guicnn's own NumPy engine (onnxruntime is turned off by {ENV}=numpy)."
    return ("Training and scoring run on guicnn's own NumPy engine; pip install \"guicnn[fast]\" adds "
            "onnxruntime, which scores images 2.5-3x faster.")


class OnnxInference:
    """Layers ``[0, upto)`` of a model, with its weights as they are now, in an onnxruntime session.

    Calling it with an (N, *input_shape) float32 batch gives what
    ``model.forward(x, training=False, upto=upto)`` gives, to float32 rounding; any other
    batch, or any batch after onnxruntime failed once, goes through ``model.forward``.
    """

    def __init__(self, model: Any, upto: int | None, session: Any) -> None:
        self.model = model
        self.upto = upto
        self.session = session
        self.input_name = session.get_inputs()[0].name
        self.output_name = session.get_outputs()[0].name
        self.failed: Exception | None = None

    def __call__(self, x: np.ndarray) -> np.ndarray:
        x = np.asarray(x)
        if self.failed is None and x.dtype == np.float32 and len(x):
            try:
                return self.session.run([self.output_name], {self.input_name: np.ascontiguousarray(x)})[0]
            except Exception as exc:  # e.g. out of memory inside onnxruntime: the engine takes over
                self.failed = exc
        return self.model.forward(x, training=False, upto=self.upto)


def _session(model: Any, upto: int | None) -> Any:
    from .export.onnx_export import onnx_model_bytes

    ort = _onnxruntime()
    proto = onnx_model_bytes(model, upto=upto)
    options = ort.SessionOptions()
    options.intra_op_num_threads = parallel.threads()  # the GUI's workers: every core but one
    options.inter_op_num_threads = 1
    options.execution_mode = ort.ExecutionMode.ORT_SEQUENTIAL
    options.log_severity_level = 3  # errors only: no warnings on the console
    # A waiting pool thread must not spin on the core the window draws with.
    options.add_session_config_entry("session.intra_op.allow_spinning", "0")
    return ort.InferenceSession(proto, options, providers=["CPUExecutionProvider"])


def inference(model: Any, upto: int | None = None, samples: int = 0) -> Callable[[np.ndarray], np.ndarray]:
    """The fastest forward (inference mode, layers ``[0, upto)``) for scoring ``samples`` images.

    An ``OnnxInference`` when onnxruntime is installed and allowed, ``samples`` is at least
    MIN_SAMPLES and the model exports; otherwise ``model.forward`` itself.
    """
    def engine(x: np.ndarray) -> np.ndarray:
        return model.forward(x, training=False, upto=upto)

    layers = model.layers[:upto]
    if samples < MIN_SAMPLES or not layers or backend() != "onnxruntime":
        return engine
    if any(value.dtype != np.float32 for layer in layers
           for value in (*layer.params.values(), *layer.buffers.values()) if value.dtype.kind == "f"):
        return engine
    try:
        session = _session(model, upto)
    except Exception:  # a layer without ONNX export (ConfigError) or a graph onnxruntime refuses
        return engine
    return OnnxInference(model, upto, session)
