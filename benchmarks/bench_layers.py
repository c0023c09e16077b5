"""Where a training step's time and memory go: every layer, forward and backward, guicnn vs PyTorch.

Usage: python benchmarks/bench_layers.py [--designs wide,vgg-ish] [--threads 1,2] [--batch 64]
                                         [--steps 15] [--no-memory] [--json]

guicnn's figures are taken inside real training steps (each layer's forward and backward
wrapped with a timer, so fused paths show where they really run: a ReLU whose backward is
folded into the pooling layer's shows ~0 and the pool carries it). PyTorch's come from each
module run alone on the same input shapes (forward with autograd on, then backward of its
output). Every figure is the fastest of --steps steps, in milliseconds.
The memory table gives the peak resident memory a training step adds, measured in a fresh
process per framework (Linux VmHWM, reset after the model and data exist; so buffers a layer
keeps from step to step count).
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from bench_core import thread_count  # noqa: E402
from designs import DESIGNS, batch, torch_twin  # noqa: E402

from guicnn.core import Sequential, make_optimizer  # noqa: E402
from guicnn.core.losses import SoftmaxCrossEntropy  # noqa: E402


def guicnn_profile(design: dict, x, y, steps: int) -> tuple[list[dict], float]:
    """Per-layer fastest forward/backward (ms) inside real training steps, and the fastest whole step."""
    model = Sequential.from_config(design, seed=0)
    optimizer = make_optimizer(model.named_parameters(), {"type": "sgd", "lr": 0.01, "momentum": 0.9})
    loss = SoftmaxCrossEntropy()
    rows = [{"layer": f"{i} {layer.describe()}", "fwd": float("inf"), "bwd": float("inf")}
            for i, layer in enumerate(model.layers)]

    def timed(row, key, method):
        def run(*args, **kwargs):
            start = time.perf_counter()
            result = method(*args, **kwargs)
            row[key] = min(row[key], (time.perf_counter() - start) * 1e3)
            return result
        return run

    for row, layer in zip(rows, model.layers):
        layer.forward = timed(row, "fwd", layer.forward)
        layer.backward = timed(row, "bwd", layer.backward)
        if hasattr(layer, "backward_through_relu"):  # the fused ReLU + pool backward counts as the pool's
            layer.backward_through_relu = timed(row, "bwd", layer.backward_through_relu)
    best = float("inf")
    for step in range(steps + 3):
        start = time.perf_counter()
        loss.forward(model.forward(x, training=True), y)
        model.backward(loss.backward())
        optimizer.step(model.named_gradients())
        if step >= 3:
            best = min(best, (time.perf_counter() - start) * 1e3)
        if step == 2:  # warm-up over: forget its times
            for row in rows:
                row["fwd"] = row["bwd"] = float("inf")
    for row, layer in zip(rows, model.layers):
        if row["bwd"] == float("inf"):
            row["bwd"] = 0.0  # never called: the step stopped before it (no input gradient needed)
    return rows, best


def torch_profile(design: dict, x, y, steps: int) -> tuple[list[dict], float]:
    """Each module alone on its real input: fastest forward and backward (ms); and the fastest whole step."""
    import torch

    model = Sequential.from_config(design, seed=0)
    net = torch_twin(design, model)
    net.train()
    inputs, h = [], torch.from_numpy(x)
    with torch.no_grad():
        for module in net:
            inputs.append(h)
            h = module(h)
    rows = []
    for i, (module, xin) in enumerate(zip(net, inputs)):
        xin = xin.clone().requires_grad_(i > 0)  # the first layer's input gradient is never needed
        fwd = bwd = float("inf")
        for _ in range(steps + 3):
            start = time.perf_counter()
            out = module(xin)
            fwd = min(fwd, time.perf_counter() - start)
            dy = torch.ones_like(out)
            start = time.perf_counter()
            torch.autograd.backward(out, dy)
            bwd = min(bwd, time.perf_counter() - start)
            module.zero_grad(set_to_none=True)
            xin.grad = None
        rows.append({"layer": f"{i} {type(module).__name__}", "fwd": fwd * 1e3, "bwd": bwd * 1e3})
    optimizer = torch.optim.SGD(net.parameters(), lr=0.01, momentum=0.9)
    tx, ty = torch.from_numpy(x), torch.from_numpy(y)
    best = float("inf")
    for step in range(steps + 3):
        start = time.perf_counter()
        optimizer.zero_grad()
        torch.nn.functional.cross_entropy(net(tx), ty).backward()
        optimizer.step()
        if step >= 3:
            best = min(best, (time.perf_counter() - start) * 1e3)
    return rows, best


def peak_memory(framework: str, name: str, threads: int, size: int) -> float:
    """MB of peak resident memory three training steps add, in a fresh process."""
    out = subprocess.run(
        [sys.executable, __file__, "--memory-child", framework, "--designs", name, "--threads", str(threads),
         "--batch", str(size)], capture_output=True, text=True, check=True)
    return float(out.stdout.strip().splitlines()[-1])


def _vm(key: str) -> int:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith(key + ":"):
            return int(line.split()[1])  # kB
    raise RuntimeError(f"no {key} in /proc/self/status (Linux only)")


def memory_child(framework: str, name: str, threads: int, size: int) -> None:
    design = DESIGNS[name]
    x, y = batch(design, size)
    with thread_count(threads):
        if framework == "guicnn":
            from bench_core import guicnn_steps
            _, step, _ = guicnn_steps(design, x, y)
        else:
            from bench_core import guicnn_steps, torch_steps
            model, _, _ = guicnn_steps(design, x, y)
            step, _ = torch_steps(design, model, x, y)
        Path("/proc/self/clear_refs").write_text("5")  # reset VmHWM to the current resident size
        base = _vm("VmRSS")
        for _ in range(3):
            step()
        print((_vm("VmHWM") - base) / 1024)


def print_profile(name: str, threads: int, ours: list[dict], theirs: list[dict] | None,
                  ours_step: float, theirs_step: float | None) -> None:
    print(f"\n{name}, {threads} thread{'s' if threads > 1 else ''} — fastest of the steps, ms")
    print(f"{'layer':28}{'fwd':>8}{'torch':>8}{'bwd':>8}{'torch':>8}")
    for i, row in enumerate(ours):
        t = theirs[i] if theirs else {"fwd": float("nan"), "bwd": float("nan")}
        print(f"{row['layer'][:27]:28}{row['fwd']:>8.2f}{t['fwd']:>8.2f}{row['bwd']:>8.2f}{t['bwd']:>8.2f}")
    fwd, bwd = sum(r["fwd"] for r in ours), sum(r["bwd"] for r in ours)
    tf = sum(r["fwd"] for r in theirs) if theirs else float("nan")
    tb = sum(r["bwd"] for r in theirs) if theirs else float("nan")
    print(f"{'sum of layers':28}{fwd:>8.1f}{tf:>8.1f}{bwd:>8.1f}{tb:>8.1f}")
    print(f"whole step (incl. loss and update): guicnn {ours_step:.1f} ms, PyTorch "
          f"{theirs_step if theirs_step else float('nan'):.1f} ms")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--designs", default="wide,vgg-ish")
    parser.add_argument("--threads", default="1,2")
    parser.add_argument("--batch", type=int, default=64)
    parser.add_argument("--steps", type=int, default=15)
    parser.add_argument("--no-memory", action="store_true", help="skip the peak-memory table")
    parser.add_argument("--json", action="store_true")
    parser.add_argument("--memory-child", help=argparse.SUPPRESS)
    args = parser.parse_args()
    names = [n for n in args.designs.split(",") if n]
    threads = [int(t) for t in args.threads.split(",")]
    if args.memory_child:
        memory_child(args.memory_child, names[0], threads[0], args.batch)
        return 0
    try:
        import torch  # noqa: F401
        have_torch = True
    except ImportError:
        have_torch = False
    results = []
    for name in names:
        design = DESIGNS[name]
        x, y = batch(design, args.batch)
        for t in threads:
            with thread_count(t):
                ours, ours_step = guicnn_profile(design, x, y, args.steps)
                time.sleep(0.05)  # let idle BLAS threads stop spinning before PyTorch's run
                theirs, theirs_step = torch_profile(design, x, y, args.steps) if have_torch else (None, None)
                time.sleep(0.05)
            result = {"design": name, "threads": t, "guicnn": ours, "torch": theirs,
                      "guicnn_step_ms": ours_step, "torch_step_ms": theirs_step}
            if not args.no_memory:
                result["guicnn_peak_mb"] = peak_memory("guicnn", name, t, args.batch)
                if have_torch:
                    result["torch_peak_mb"] = peak_memory("torch", name, t, args.batch)
            results.append(result)
            if not args.json:
                print_profile(name, t, ours, theirs, ours_step, theirs_step)
                if "guicnn_peak_mb" in result:
                    print(f"peak memory a training step adds: guicnn {result['guicnn_peak_mb']:.0f} MB, PyTorch "
                          f"{result.get('torch_peak_mb', float('nan')):.0f} MB")
    if args.json:
        for r in results:
            print(json.dumps(r))
    return 0


if __name__ == "__main__":
    sys.exit(main())
