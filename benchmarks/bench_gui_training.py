"""Event-loop latency while the GUI trains, and GUI vs headless training throughput.

Trains the shapes preset in the full main window (offscreen) while a 10 ms QTimer records
how late each tick fires; then trains the same design on the same data headless (as the
CLI does) in the same process. Prints p50/p99/max stall and the samples/s of both.

Usage: python benchmarks/bench_gui_training.py [--epochs 3] [--samples 3000]
Goals: p99 stall < 50 ms; GUI samples/s >= 90 % of headless.
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
os.environ.setdefault("GUICNN_NO_SETTINGS", "1")
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import numpy as np  # noqa: E402


def gui_run(epochs: int, samples: int, batch: int) -> tuple[np.ndarray, float, float]:
    """(tick delays in ms, mean samples/s over epochs, wall seconds) of a training run in the window."""
    from PySide6.QtCore import QElapsedTimer, QEventLoop, QTimer
    from PySide6.QtWidgets import QApplication, QMessageBox

    from guicnn.ui.app import build_window, parse_args

    app = QApplication.instance() or QApplication([])
    window = build_window(parse_args(["--preset", "shapes_cnn", "--size", "1280x800", "--tab", "Training"]))
    window.show()
    workbench = window.workbench
    workbench.data_panel.load_builtin("shapes", n=samples)
    deadline = time.monotonic() + 30
    while workbench.data_panel.dataset() is None or len(workbench.data_panel.dataset()) != samples:
        app.processEvents(QEventLoop.ProcessEventsFlag.AllEvents, 50)
        if time.monotonic() > deadline:
            raise SystemExit("the shapes data did not load")
    workbench.training_panel.epochs.setValue(epochs)
    workbench.training_panel.batch_size.setValue(batch)
    rates = []
    workbench.controller.epoch.connect(lambda r: rates.append(r.samples_per_sec))
    loop = QEventLoop()
    workbench.controller.finished.connect(lambda _report: loop.quit())

    delays: list[float] = []
    clock = QElapsedTimer()
    timer = QTimer()
    timer.setInterval(10)
    last = [0]

    def tick() -> None:
        now = clock.elapsed()
        delays.append(max(0.0, now - last[0] - 10.0))
        last[0] = now

    timer.timeout.connect(tick)
    started = time.monotonic()
    workbench.start_training(False)
    clock.start()
    timer.start()
    loop.exec()  # the real event loop, as in the application
    timer.stop()
    wall = time.monotonic() - started
    workbench.shutdown()
    QMessageBox.warning = lambda *a, **k: QMessageBox.StandardButton.Discard  # close without asking
    window.close()
    return np.asarray(delays[1:]), float(np.mean(rates)), wall


def headless_run(epochs: int, samples: int, batch: int) -> tuple[float, float]:
    """(mean samples/s, wall seconds) of the same training without any GUI (what the CLI runs)."""
    from guicnn.core.data import make_shapes, train_val_split
    from guicnn.core.designfile import load_preset
    from guicnn.core.training import Trainer, TrainSettings

    train, val = train_val_split(make_shapes(samples, seed=0), 0.2, seed=0)
    trainer = Trainer.from_config(load_preset("shapes_cnn"), TrainSettings(batch_size=batch, epochs=epochs))
    rates = []
    started = time.monotonic()
    for report in trainer.fit_iter(train, val):
        if type(report).__name__ == "EpochReport":
            rates.append(report.samples_per_sec)
    return float(np.mean(rates)), time.monotonic() - started


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--epochs", type=int, default=3)
    parser.add_argument("--samples", type=int, default=3000)
    parser.add_argument("--batch", type=int, default=32)
    parser.add_argument("--repeat", type=int, default=2, help="runs of each; the best throughput counts")
    args = parser.parse_args()
    # Alternate the two so that a busy moment of the machine does not favour either.
    gui_runs, cli_runs = [], []
    for _ in range(args.repeat):
        cli_runs.append(headless_run(args.epochs, args.samples, args.batch))
        gui_runs.append(gui_run(args.epochs, args.samples, args.batch))
    delays = np.concatenate([run[0] for run in gui_runs])
    _, gui_rate, gui_wall = max(gui_runs, key=lambda run: run[1])
    cli_rate, cli_wall = max(cli_runs, key=lambda run: run[0])
    p50, p99 = np.percentile(delays, [50, 99])
    print(f"shapes preset, {args.samples} samples, {args.epochs} epochs, batch {args.batch}, offscreen")
    print(f"event-loop stall over {len(delays)} ticks of a 10 ms timer: "
          f"p50 {p50:.1f} ms · p99 {p99:.1f} ms · max {delays.max():.1f} ms   (goal: p99 < 50 ms)")
    print(f"training samples/s: GUI {gui_rate:,.0f} ({gui_wall:.1f} s) · headless {cli_rate:,.0f} "
          f"({cli_wall:.1f} s) · GUI/headless {gui_rate / cli_rate:.0%}   (goal: >= 90%)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
