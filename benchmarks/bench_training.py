"""Train the shapes and digits presets end to end and print wall time and validation accuracy.

Usage: python benchmarks/bench_training.py [--threads N] [--json]

Rows: preset, data, epochs, wall time (model build + data + training + per-epoch
validation), training samples/s, final and best validation accuracy. A last section
measures the training loop's own cost per step against the raw
forward + loss + backward + optimizer step it wraps (goal: under 5 %).
Goal for the shapes preset: > 95 % validation accuracy in < 60 s on 2 cores.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from contextlib import nullcontext
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from guicnn.core.data import load_digits, make_shapes  # noqa: E402
from guicnn.core.designfile import load_preset  # noqa: E402
from guicnn.core.training import EpochReport, Trainer, TrainSettings  # noqa: E402

RUNS = [
    # preset, data name, data loader, settings
    ("shapes_cnn", "shapes (3,000)", lambda: make_shapes(n=3000, seed=0),
     TrainSettings(epochs=5, batch_size=32, optimizer={"type": "adam", "lr": 0.002}, seed=0)),
    ("digits_small", "digits (1,797)", load_digits,
     TrainSettings(epochs=15, batch_size=32, optimizer={"type": "adam", "lr": 0.002}, seed=0)),
]


def train_preset(preset: str, load, settings: TrainSettings) -> dict:
    """Build, load data, train with per-epoch validation; wall time covers all of it."""
    start = time.perf_counter()
    data = load()
    trainer = Trainer.from_config(load_preset(preset), settings)
    epochs = [r for r in trainer.fit_iter(data) if isinstance(r, EpochReport)]
    wall = time.perf_counter() - start
    train_seconds = sum(trainer.history["seconds"])
    samples = len(trainer.split_data(data)[0]) * len(epochs)
    return {
        "preset": preset, "epochs": len(epochs), "wall_s": wall,
        "samples_per_s": samples / train_seconds if train_seconds else 0.0,
        "final_val_acc": epochs[-1].val_accuracy, "best_val_acc": max(e.val_accuracy for e in epochs),
    }


def loop_overhead(preset: str, load, settings: TrainSettings, repeats: int = 5) -> dict:
    """Per-step cost of Trainer.fit_iter beyond the raw forward + loss + backward + optimizer step.

    Both are timed in the same run (the raw part by wrapping ``Trainer.train_step``), so load
    from other programs on the machine affects both alike; median over ``repeats`` epochs.
    Batch gathering, normalisation, snapshots and reports all count as overhead.
    """
    settings = TrainSettings(**{**settings.to_dict(), "epochs": 1, "val_fraction": 0.0})
    config = load_preset(preset)
    train, _ = Trainer.from_config(config, settings).split_data(load())
    ratios, raw_steps, loop_steps = [], [], []
    for _ in range(repeats):
        trainer = Trainer.from_config(config, settings)
        inner = trainer.train_step
        spent = [0.0]

        def timed(*args, inner=inner, spent=spent):
            began = time.perf_counter()
            result = inner(*args)
            spent[0] += time.perf_counter() - began
            return result

        trainer.train_step = timed
        reports = trainer.fit_iter(train)  # data checks and normalisation fit happen here, once
        began = time.perf_counter()
        for _ in reports:
            pass
        total = time.perf_counter() - began
        ratios.append((total - spent[0]) / spent[0])
        raw_steps.append(spent[0] / trainer.step)
        loop_steps.append(total / trainer.step)
    return {"preset": preset, "steps": trainer.step, "raw_ms_per_step": 1e3 * float(np.median(raw_steps)),
            "loop_ms_per_step": 1e3 * float(np.median(loop_steps)),
            "overhead_pct": 100 * float(np.median(ratios))}


def main(argv: list[str] | None = None) -> int:
    from guicnn.core.allocator import keep_freed_memory

    keep_freed_memory()  # as the window and the command line do
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--threads", type=int, help="threads for guicnn's passes (parallel.set_threads)")
    parser.add_argument("--json", action="store_true", help="print the results as JSON")
    args = parser.parse_args(argv)
    limit = nullcontext()
    if args.threads:
        from guicnn.core.parallel import thread_limit

        limit = thread_limit(args.threads)
    with limit:
        rows = [train_preset(preset, load, settings) for preset, _, load, settings in RUNS]
        overhead = [loop_overhead(preset, load, settings) for preset, _, load, settings in RUNS]
    if args.json:
        print(json.dumps({"training": rows, "loop_overhead": overhead}, indent=2))
        return 0
    print(f"{'preset':<14} {'data':<15} {'epochs':>6} {'wall s':>7} {'samples/s':>10} {'final val acc':>14} "
          f"{'best val acc':>13}")
    for (preset, data, _, _), row in zip(RUNS, rows):
        print(f"{preset:<14} {data:<15} {row['epochs']:>6} {row['wall_s']:>7.1f} {row['samples_per_s']:>10,.0f} "
              f"{100 * row['final_val_acc']:>13.1f}% {100 * row['best_val_acc']:>12.1f}%")
    print()
    print(f"{'loop overhead':<14} {'steps':>6} {'raw ms/step':>12} {'loop ms/step':>13} {'overhead':>9}")
    for row in overhead:
        print(f"{row['preset']:<14} {row['steps']:>6} {row['raw_ms_per_step']:>12.2f} "
              f"{row['loop_ms_per_step']:>13.2f} {row['overhead_pct']:>8.1f}%")
    shapes = rows[0]
    ok = shapes["final_val_acc"] > 0.95 and shapes["wall_s"] < 60
    print(f"\nshapes goal (> 95% validation accuracy in < 60 s): {'met' if ok else 'NOT met'}")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
