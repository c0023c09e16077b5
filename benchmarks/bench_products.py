"""How much of a training step is the matrix products themselves, and what that leaves to win.

Usage: python benchmarks/bench_products.py [--designs lenet,wide,vgg-ish] [--batch 64] [--steps 12]

Runs real one-thread training steps of each design (benchmarks/designs.py) and times every
``np.matmul`` the convolutions make (forward, weight gradient, input gradient: the BLAS calls
of ``guicnn.core.blocked``, ``winograd`` and ``parallel``) inside them, and the window gathers
(``np.copyto`` in ``guicnn.core.blocked``). Prints per step, as the
fastest of --steps steps: the whole guicnn step, the time inside those products, PyTorch's
whole step measured in the same run, and the best ratio guicnn could reach against PyTorch
if everything outside the products took no time at all (PyTorch step ÷ products). When that
bound is below a speed target, no work outside BLAS can meet the target: only faster
products can (another GEMM, or fewer multiplications).
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))

from bench_core import guicnn_steps, thread_count, torch_steps  # noqa: E402
from designs import DESIGNS, TITLES, batch  # noqa: E402

from guicnn.core import blocked, parallel, winograd  # noqa: E402


class _TimedNumpy:
    """Stands in for ``np`` in the modules that call BLAS: times matmul, forwards the rest."""

    def __init__(self) -> None:
        self.seconds = 0.0
        self.copies = 0.0

    def matmul(self, *args, **kwargs):
        start = time.perf_counter()
        try:
            return np.matmul(*args, **kwargs)
        finally:
            self.seconds += time.perf_counter() - start

    def copyto(self, *args, **kwargs):  # the window gathers of guicnn.core.blocked
        start = time.perf_counter()
        try:
            return np.copyto(*args, **kwargs)
        finally:
            self.copies += time.perf_counter() - start

    def __getattr__(self, name):
        return getattr(np, name)


def measure(name: str, batch_size: int, steps: int) -> dict:
    design = DESIGNS[name]
    x, y = batch(design, batch_size)
    timed = _TimedNumpy()
    modules = (blocked, winograd, parallel)
    with thread_count(1):
        model, train_step, _ = guicnn_steps(design, x, y)
        torch_step = torch_steps(design, model, x, y)[0] if _have_torch() else None
        whole = products = gathers = torch_best = float("inf")
        for _ in range(steps):
            for module in modules:
                module.np = timed
            timed.seconds = timed.copies = 0.0
            start = time.perf_counter()
            train_step()
            elapsed = time.perf_counter() - start
            for module in modules:
                module.np = np
            products = min(products, timed.seconds)
            gathers = min(gathers, timed.copies)
            start = time.perf_counter()
            train_step()  # the same step unwrapped, for the whole-step figure
            whole = min(whole, time.perf_counter() - start, elapsed)
            if torch_step:
                start = time.perf_counter()
                torch_step()
                torch_best = min(torch_best, time.perf_counter() - start)
    return {"design": TITLES[name], "step_ms": whole * 1e3, "products_ms": products * 1e3,
            "gathers_ms": gathers * 1e3,
            "torch_ms": torch_best * 1e3 if torch_step else None}


def _have_torch() -> bool:
    try:
        import torch  # noqa: F401
    except ImportError:
        return False
    return True


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--designs", default="lenet,wide,vgg-ish")
    parser.add_argument("--batch", type=int, default=64)
    parser.add_argument("--steps", type=int, default=12)
    args = parser.parse_args(argv)
    print(f"batch {args.batch}, one thread, fastest of {args.steps} training steps, ms")
    print(f"{'design':<22} {'guicnn step':>12} {'products':>9} {'gathers':>8} {'rest':>7} {'torch step':>11} "
          f"{'ratio now':>10} {'bound':>7}")
    for name in args.designs.split(","):
        row = measure(name.strip(), args.batch, args.steps)
        torch_ms = row["torch_ms"]
        now = f"{torch_ms / row['step_ms']:.2f}x" if torch_ms else "-"
        bound = f"{torch_ms / row['products_ms']:.2f}x" if torch_ms else "-"
        rest = row["step_ms"] - row["products_ms"] - row["gathers_ms"]
        print(f"{row['design']:<22} {row['step_ms']:>12.1f} {row['products_ms']:>9.1f} {row['gathers_ms']:>8.1f} "
              f"{rest:>7.1f} {torch_ms or float('nan'):>11.1f} {now:>10} {bound:>7}")
    print("gathers = the convolutions' window copies into column blocks; rest = everything else")
    print("bound = PyTorch step / guicnn's products alone: the ratio if everything else took no time")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
