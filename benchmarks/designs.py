"""The designs the speed benchmarks run (issue 15), and their PyTorch twins.

LeNet-5, the "wide" 28x28 net a learner builds next, and the "vgg-ish" CIFAR-sized net.
The PyTorch twin comes from guicnn's own exporter (``guicnn.core.export.torch_code``), so
module i is layer i and the same weights load into both.
"""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from guicnn.core import Sequential  # noqa: E402
from guicnn.core.allocator import keep_freed_memory  # noqa: E402

keep_freed_memory()  # as the window and the command line do (guicnn.core.allocator)


def _conv(filters: int, kernel: int = 3, padding: int = 1) -> dict:
    return {"type": "Conv2D", "filters": filters, "kernel_size": kernel, "padding": padding}


RELU, BN, FLAT = {"type": "ReLU"}, {"type": "BatchNorm"}, {"type": "Flatten"}
POOL = {"type": "MaxPool2D", "pool_size": 2}

DESIGNS = {
    "lenet": {
        "name": "LeNet-5", "input_shape": [1, 28, 28],
        "layers": [
            _conv(6, 5, 2), RELU, POOL, _conv(16, 5, 0), RELU, POOL, FLAT,
            {"type": "Dense", "units": 120}, RELU, {"type": "Dense", "units": 84}, RELU,
            {"type": "Dense", "units": 10},
        ],
    },
    # Issue 15: Conv 32 → ReLU → Conv 64 → ReLU → MaxPool → Conv 64 → ReLU → MaxPool → Dense 64 → ReLU → Dense 10.
    "wide": {
        "name": "wide", "input_shape": [1, 28, 28],
        "layers": [
            _conv(32), RELU, _conv(64), RELU, POOL, _conv(64), RELU, POOL, FLAT,
            {"type": "Dense", "units": 64}, RELU, {"type": "Dense", "units": 10},
        ],
    },
    # Issue 15: [Conv 16, BN, ReLU, Conv 16, ReLU, MaxPool] → [Conv 32, BN, ReLU, Conv 32, ReLU, MaxPool]
    # → [Conv 64, BN, ReLU, MaxPool] → Dense 128 → ReLU → Dense 10 (3x3, padding 1).
    "vgg-ish": {
        "name": "vgg-ish", "input_shape": [3, 32, 32],
        "layers": [
            _conv(16), BN, RELU, _conv(16), RELU, POOL,
            _conv(32), BN, RELU, _conv(32), RELU, POOL,
            _conv(64), BN, RELU, POOL, FLAT,
            {"type": "Dense", "units": 128}, RELU, {"type": "Dense", "units": 10},
        ],
    },
}

TITLES = {"lenet": "LeNet-5, 1x28x28", "wide": '"wide" 1x28x28', "vgg-ish": '"vgg-ish" 3x32x32'}

# Issue 15's figures before this work (guicnn / PyTorch samples/s, training, same harness).
BEFORE = {"lenet": (1.15, 0.94), "wide": (0.49, 0.47), "vgg-ish": (0.63, 0.39)}


def batch(design: dict, size: int, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    x = rng.random((size, *design["input_shape"]), dtype=np.float32)
    y = rng.integers(0, 10, size=size).astype(np.int64)
    return x, y


def torch_twin(design: dict, model: Sequential | None = None):
    """The design as torch.nn.Sequential (through guicnn's exporter), with `model`'s weights if given."""
    import torch

    from guicnn.core.export import torch_code

    namespace: dict = {}
    exec(compile(torch_code(design), "<torch_code>", "exec"), namespace)  # noqa: S102 - our own generated code
    net = namespace["build_model"]()
    if model is not None:
        net.load_state_dict({k: torch.from_numpy(v) for k, v in model.state_dict().items()}, strict=True)
    return net
