"""Training and inference speed: guicnn vs PyTorch in the same run, on 1 and 2 threads.

Usage: python benchmarks/bench_core.py [--designs lenet,wide,vgg-ish] [--threads 1,2] [--batch 64]
                                       [--rounds 5] [--steps 6] [--json]

Designs (benchmarks/designs.py): LeNet-5, the "wide" 28x28 net and the "vgg-ish" 32x32 net of
issue 15. One training step = forward, softmax cross-entropy, backward, SGD (momentum) update;
inference = one forward pass in inference mode: "numpy" is the engine's own forward, "scoring"
what ``evaluate``/``predict_proba`` run (``guicnn.core.accelerate``: onnxruntime on the model's
ONNX export when onnxruntime is installed, else the same NumPy forward; which one is printed).
guicnn and PyTorch steps are timed one by one, interleaved in rounds so that load from other
programs hits both alike; each figure is the fastest step (min of rounds x steps).
ratio = guicnn samples/s / PyTorch samples/s (> 1: faster).
Threads are set with guicnn.core.parallel.set_threads (guicnn runs BLAS on one thread and
splits its products over its own pool) and torch.set_num_threads.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from contextlib import contextmanager
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from designs import BEFORE, DESIGNS, TITLES, batch, torch_twin  # noqa: E402

from guicnn.core import Sequential, make_optimizer  # noqa: E402
from guicnn.core.losses import SoftmaxCrossEntropy  # noqa: E402


@contextmanager
def thread_count(n: int):
    """n threads for guicnn's passes (``parallel.set_threads``; BLAS stays on one) and for PyTorch."""
    from guicnn.core import parallel

    try:
        import torch
    except ImportError:
        torch = None
    before = torch.get_num_threads() if torch else None
    parallel.set_threads(n)
    if torch:
        torch.set_num_threads(n)
    try:
        yield
    finally:
        parallel.set_threads(None)
        if torch:
            torch.set_num_threads(before)


def guicnn_steps(design: dict, x, y):
    model = Sequential.from_config(design, seed=0)
    optimizer = make_optimizer(model.named_parameters(), {"type": "sgd", "lr": 0.01, "momentum": 0.9})
    loss = SoftmaxCrossEntropy()
    grads = model.named_gradients()

    def train_step():
        loss.forward(model.forward(x, training=True), y)
        model.backward(loss.backward())
        optimizer.step(grads)

    def infer_step():
        model.forward(x, training=False)

    return model, train_step, infer_step


def scoring_step(model: Sequential, x):
    """(step, backend name): one batch through the forward that scoring a dataset uses."""
    from guicnn.core import accelerate

    forward = accelerate.inference(model, samples=accelerate.MIN_SAMPLES)  # built under the thread count

    def step():
        forward(x)

    return step, "onnxruntime" if isinstance(forward, accelerate.OnnxInference) else "numpy"


def torch_steps(design: dict, model: Sequential, x, y):
    import torch

    net = torch_twin(design, model)
    optimizer = torch.optim.SGD(net.parameters(), lr=0.01, momentum=0.9)
    tx, ty = torch.from_numpy(x), torch.from_numpy(y)

    def train_step():
        net.train()
        optimizer.zero_grad()
        torch.nn.functional.cross_entropy(net(tx), ty).backward()
        optimizer.step()

    def infer_step():
        net.eval()
        with torch.no_grad():
            net(tx)

    return train_step, infer_step


def fastest(steps: list, rounds: int, per_round: int) -> list[float]:
    """Fastest single call of each function, calls interleaved round by round (after a warm-up)."""
    for step in steps:
        for _ in range(3):
            step()
    best = [float("inf")] * len(steps)
    for _ in range(rounds):
        for i, step in enumerate(steps):
            # Let the other framework's idle threads stop spinning (OpenMP and OpenBLAS busy-wait
            # after a parallel region): without this pause, 2-thread figures dropped 3-10x.
            time.sleep(0.05)
            for _ in range(per_round):
                start = time.perf_counter()
                step()
                best[i] = min(best[i], time.perf_counter() - start)
    return best


def bench_design(name: str, threads: int, size: int, rounds: int, per_round: int) -> dict:
    design = DESIGNS[name]
    x, y = batch(design, size)
    with thread_count(threads):
        model, train, infer = guicnn_steps(design, x, y)
        score, backend = scoring_step(model, x)
        steps = [train, infer, score]
        try:
            torch_train, torch_infer = torch_steps(design, model, x, y)
        except ImportError:
            pass
        else:
            steps += [torch_train, torch_infer]
        times = fastest(steps, rounds, per_round)
    result = {"design": name, "threads": threads, "batch": size, "scoring_backend": backend,
              "guicnn_train": size / times[0], "guicnn_infer": size / times[1], "guicnn_scoring": size / times[2]}
    if len(times) == 5:
        result.update(torch_train=size / times[3], torch_infer=size / times[4],
                      train_ratio=times[3] / times[0], infer_ratio=times[4] / times[1],
                      scoring_ratio=times[4] / times[2])
    return result


def blas_text() -> str:
    from threadpoolctl import threadpool_info

    return ", ".join(f"{i.get('internal_api')} {i.get('version')} ({i.get('architecture')})"
                     for i in threadpool_info() if i.get("user_api") == "blas")


def print_table(results: list[dict], size: int) -> None:
    print(f"batch {size}, one SGD step (forward, cross-entropy, backward, update); NumPy BLAS: {blas_text()}")
    backends = sorted({r["scoring_backend"] for r in results})
    print(f"scoring runs on: {', '.join(backends)}")
    print(f"{'design':22}{'threads':>8}{'guicnn train/s':>16}{'torch train/s':>15}{'ratio':>8}{'before':>8}"
          f"{'torch infer/s':>15}{'numpy infer/s':>15}{'ratio':>8}{'scoring/s':>12}{'ratio':>8}")

    def ratio(r: dict, key: str) -> str:
        return f"{r[key]:.2f}x" if key in r else "-"

    for r in results:
        before = BEFORE.get(r["design"], (None, None))[0 if r["threads"] == 1 else 1] if r["threads"] <= 2 else None
        print(f"{TITLES[r['design']]:22}{r['threads']:>8}{r['guicnn_train']:>16,.0f}"
              f"{r.get('torch_train', 0):>15,.0f}{ratio(r, 'train_ratio'):>8}"
              f"{(f'{before:.2f}x' if before else '-'):>8}{r.get('torch_infer', 0):>15,.0f}"
              f"{r['guicnn_infer']:>15,.0f}{ratio(r, 'infer_ratio'):>8}"
              f"{r['guicnn_scoring']:>12,.0f}{ratio(r, 'scoring_ratio'):>8}")
    print("ratio = guicnn / PyTorch samples/s (> 1: guicnn faster); 'before' = issue 15's training ratio;")
    print("numpy infer = the engine's forward (probe maps, Predict); scoring = evaluate/predict_proba's forward.")
    print("targets: training >= 0.75x at 1 thread on wide and vgg-ish (LeNet-5 >= 1.0x), >= 0.6x at 2 threads;"
          " inference >= 1.0x at 1 thread")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--designs", default="lenet,wide,vgg-ish")
    parser.add_argument("--threads", default="1,2")
    parser.add_argument("--batch", type=int, default=64)
    parser.add_argument("--rounds", type=int, default=5, help="interleaved rounds")
    parser.add_argument("--steps", type=int, default=6, help="timed steps per framework per round")
    parser.add_argument("--json", action="store_true", help="print one JSON object per line instead of a table")
    args = parser.parse_args()
    names = [n for n in args.designs.split(",") if n]
    unknown = [n for n in names if n not in DESIGNS]
    if unknown:
        parser.error(f"unknown design {unknown[0]!r}; choose from {', '.join(DESIGNS)}")
    results = [bench_design(name, int(t), args.batch, args.rounds, args.steps)
               for name in names for t in args.threads.split(",")]
    if args.json:
        for r in results:
            print(json.dumps(r))
    else:
        print_table(results, args.batch)
    return 0


if __name__ == "__main__":
    sys.exit(main())
