"""LeNet-5 training and inference throughput: guicnn vs PyTorch in the same run, one thread each.

Usage: python benchmarks/bench_core.py [--batch 64] [--seconds 3]
Prints samples/s for both and the ratio guicnn / PyTorch (torch optional).
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from guicnn.core import Sequential, make_optimizer  # noqa: E402
from guicnn.core.losses import SoftmaxCrossEntropy  # noqa: E402

LENET = {
    "name": "LeNet-5", "input_shape": [1, 28, 28],
    "layers": [
        {"type": "Conv2D", "filters": 6, "kernel_size": 5, "padding": 2}, {"type": "ReLU"},
        {"type": "MaxPool2D", "pool_size": 2}, {"type": "Conv2D", "filters": 16, "kernel_size": 5},
        {"type": "ReLU"}, {"type": "MaxPool2D", "pool_size": 2}, {"type": "Flatten"},
        {"type": "Dense", "units": 120}, {"type": "ReLU"}, {"type": "Dense", "units": 84}, {"type": "ReLU"},
        {"type": "Dense", "units": 10},
    ],
}


def measure(step, batch: int, seconds: float) -> float:
    """Samples per second of `step()` after a warm-up, best of three timed blocks."""
    for _ in range(5):
        step()
    best = 0.0
    for _ in range(3):
        count, start = 0, time.perf_counter()
        while time.perf_counter() - start < seconds / 3:
            step()
            count += 1
        best = max(best, count * batch / (time.perf_counter() - start))
    return best


def bench_guicnn(x, y, seconds):
    model = Sequential.from_config(LENET, seed=0)
    optimizer = make_optimizer(model.named_parameters(), {"type": "sgd", "lr": 0.01, "momentum": 0.9})
    loss = SoftmaxCrossEntropy()
    grads = model.named_gradients()

    def train_step():
        loss.forward(model.forward(x, training=True), y)
        model.backward(loss.backward())
        optimizer.step(grads)

    def infer_step():
        model.forward(x, training=False)

    return measure(train_step, len(x), seconds), measure(infer_step, len(x), seconds)


def bench_torch(x, y, seconds):
    import torch

    torch.set_num_threads(1)
    net = torch.nn.Sequential(
        torch.nn.Conv2d(1, 6, 5, padding=2), torch.nn.ReLU(), torch.nn.MaxPool2d(2),
        torch.nn.Conv2d(6, 16, 5), torch.nn.ReLU(), torch.nn.MaxPool2d(2), torch.nn.Flatten(),
        torch.nn.Linear(400, 120), torch.nn.ReLU(), torch.nn.Linear(120, 84), torch.nn.ReLU(),
        torch.nn.Linear(84, 10),
    )
    optimizer = torch.optim.SGD(net.parameters(), lr=0.01, momentum=0.9)
    tx, ty = torch.from_numpy(x), torch.from_numpy(y)

    def train_step():
        optimizer.zero_grad()
        torch.nn.functional.cross_entropy(net(tx), ty).backward()
        optimizer.step()

    def infer_step():
        with torch.no_grad():
            net(tx)

    return measure(train_step, len(x), seconds), measure(infer_step, len(x), seconds)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--batch", type=int, default=64)
    parser.add_argument("--seconds", type=float, default=3.0, help="timed seconds per measurement")
    parser.add_argument("--json", action="store_true", help="print one JSON object instead of a table")
    args = parser.parse_args()

    rng = np.random.default_rng(0)
    x = rng.random((args.batch, 1, 28, 28), dtype=np.float32)
    y = rng.integers(0, 10, size=args.batch).astype(np.int64)

    from threadpoolctl import threadpool_info, threadpool_limits

    with threadpool_limits(limits=1):
        ours = bench_guicnn(x, y, args.seconds)
        try:
            theirs = bench_torch(x, y, args.seconds)
        except ImportError:
            theirs = None
    blas = ", ".join(f"{i.get('internal_api')} {i.get('version')} ({i.get('architecture')})"
                     for i in threadpool_info() if i.get("user_api") == "blas")
    result = {"batch": args.batch, "blas": blas,
              "guicnn_train": ours[0], "guicnn_infer": ours[1],
              "torch_train": theirs[0] if theirs else None, "torch_infer": theirs[1] if theirs else None}
    if args.json:
        print(json.dumps(result))
        return 0
    print(f"LeNet-5, 1x28x28, batch {args.batch}, 1 thread  (NumPy BLAS: {blas})")
    print(f"{'':10}{'train samples/s':>18}{'inference samples/s':>22}")
    print(f"{'guicnn':10}{ours[0]:>18,.0f}{ours[1]:>22,.0f}")
    if theirs:
        print(f"{'PyTorch':10}{theirs[0]:>18,.0f}{theirs[1]:>22,.0f}")
        print(f"{'ratio':10}{ours[0] / theirs[0]:>17.2f}x{ours[1] / theirs[1]:>21.2f}x")
        print("goal: training ratio >= 0.6x (aim 0.9x)")
    else:
        print("PyTorch not installed: no reference figures")
    return 0


if __name__ == "__main__":
    sys.exit(main())
