"""Event-loop latency while the GUI trains, and GUI vs headless training throughput.

Two measurements (both by default; ``--only stalls`` or ``--only throughput``):

* **stalls** — what a user sees when pressing Train: the window opens on the Design tab with
  a mid-sized design (Conv 32 → Conv 64 → pool → Conv 64 → pool → Dense 64 → Dense 5 on
  1×28×28 shapes), the data loads, a second passes, Train is pressed, the first epoch ends, and
  Stop is pressed in the second. A 10 ms QTimer records how late each tick fires (the stall)
  and how much CPU the GUI thread itself used in between; every stall is put down to what
  happened in it (Train, a snapshot, an epoch's end, Stop, or nothing in particular). Run for
  3,000 and for 60,000 images. Goal: no stall over 100 ms on Train, epoch end, snapshot or Stop.
* **throughput** — trains the shapes preset in the full window while the timer runs, then the
  same design on the same data headless (as the CLI does) in the same process. Prints
  p50/p99/max stall and the samples/s of both. Goals: p99 stall < 50 ms; GUI >= 90 % of headless.

Offscreen unless QT_QPA_PLATFORM is set; for the figures a user sees, run under an X server
(``DISPLAY=:99 QT_QPA_PLATFORM=xcb``). Wall-clock stalls include time the GUI thread waits for
a core, so on a busy machine they are longer than the GUI thread's own CPU time.

Usage: python benchmarks/bench_gui_training.py [--only stalls|throughput] [--sizes 3000 60000]
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

STALL_GOAL_MS = 100.0

MID_DESIGN = {"name": "Mid-sized CNN", "input_shape": [1, 28, 28], "layers": [
    {"type": "Conv2D", "filters": 32, "kernel_size": 3, "padding": 1}, {"type": "ReLU"},
    {"type": "Conv2D", "filters": 64, "kernel_size": 3, "padding": 1}, {"type": "ReLU"},
    {"type": "MaxPool2D", "pool_size": 2},
    {"type": "Conv2D", "filters": 64, "kernel_size": 3, "padding": 1}, {"type": "ReLU"},
    {"type": "MaxPool2D", "pool_size": 2},
    {"type": "Flatten"}, {"type": "Dense", "units": 64}, {"type": "ReLU"}, {"type": "Dense", "units": 5}]}


class TickRecorder:
    """A 10 ms QTimer: lateness of every tick, the GUI thread's CPU time between ticks, and the
    events (Train, snapshot, ...) that happened between them."""

    def __init__(self) -> None:
        from PySide6.QtCore import QTimer

        self.ticks: list[tuple[float, float, float]] = []  # (time, late ms, GUI CPU ms)
        self.events: list[tuple[float, str]] = []
        self._timer = QTimer()
        self._timer.setInterval(10)
        self._timer.timeout.connect(self._tick)
        self._last = self._cpu = 0.0

    def start(self) -> None:
        self._last, self._cpu = time.monotonic(), time.thread_time()
        self._timer.start()

    def stop(self) -> None:
        self._timer.stop()

    def mark(self, name: str) -> None:
        self.events.append((time.monotonic(), name))

    def _tick(self) -> None:
        now, cpu = time.monotonic(), time.thread_time()
        self.ticks.append((now, max(0.0, (now - self._last) * 1000 - 10.0), (cpu - self._cpu) * 1000))
        self._last, self._cpu = now, cpu

    def delays(self) -> np.ndarray:
        return np.asarray([late for _, late, _ in self.ticks])

    def attributed(self) -> list[tuple[float, float, str]]:
        """(late ms, GUI CPU ms, what happened and when, in seconds after Train) of every tick interval."""
        result, previous = [], None
        began = self.events[0][0] if self.events else 0.0
        for now, late, cpu in self.ticks:
            start = now - (late + 10.0) / 1000 if previous is None else previous
            names = sorted({name for at, name in self.events if start <= at <= now})
            what = " + ".join(names) or "training (no GUI event)"
            result.append((late, cpu, f"{what} at {now - began:.1f} s"))
            previous = now
        return result


def _wait(app, condition, seconds: float, what: str) -> None:
    from PySide6.QtCore import QEventLoop

    deadline = time.monotonic() + seconds
    while not condition():
        app.processEvents(QEventLoop.ProcessEventsFlag.AllEvents, 50)
        if time.monotonic() > deadline:
            raise SystemExit(f"timed out waiting for {what}")


def _close(window) -> None:
    from PySide6.QtWidgets import QMessageBox

    window.workbench.shutdown()
    QMessageBox.warning = lambda *a, **k: QMessageBox.StandardButton.Discard  # close without asking
    window.close()


def stall_run(samples: int, batch: int, stop_after: float) -> TickRecorder:
    """Train the mid-sized design on ``samples`` shapes from the Design tab; Stop ``stop_after``
    seconds into the second epoch."""
    from PySide6.QtCore import QEventLoop, QTimer
    from PySide6.QtWidgets import QApplication

    from guicnn.ui.app import build_window, parse_args

    app = QApplication.instance() or QApplication([])
    window = build_window(parse_args(["--size", "1280x800", "--tab", "Design"]))
    window.document.load(MID_DESIGN)
    window.show()
    workbench = window.workbench
    workbench.data_panel.load_builtin("shapes", n=samples)
    _wait(app, lambda: workbench.data_panel.dataset() is not None and len(workbench.data_panel.dataset()) == samples,
          120, "the shapes data")
    workbench.training_panel.epochs.setValue(2)
    workbench.training_panel.batch_size.setValue(batch)
    pause = QEventLoop()
    QTimer.singleShot(1500, pause.quit)  # a person looks before pressing Train
    pause.exec()

    recorder = TickRecorder()
    controller = workbench.controller
    controller.snapshot.connect(lambda _snap: recorder.mark("snapshot"))
    controller.epoch.connect(lambda _report: recorder.mark("epoch end"))
    controller.finished.connect(lambda _report: recorder.mark("finished"))

    def stop() -> None:
        recorder.mark("Stop")
        workbench.training_panel.stop_button.click()

    def epoch_ended(report) -> None:
        if report.epoch == 1:
            QTimer.singleShot(int(stop_after * 1000), stop)

    controller.epoch.connect(epoch_ended)
    loop = QEventLoop()
    controller.finished.connect(lambda _report: QTimer.singleShot(500, loop.quit))  # and what follows
    recorder.start()
    recorder.mark("Train")
    workbench.training_panel.start_button.click()
    loop.exec()
    recorder.stop()
    _close(window)
    return recorder


def report_stalls(samples: int, recorder: TickRecorder) -> float:
    delays = recorder.delays()
    rows = recorder.attributed()
    p50, p99 = np.percentile(delays, [50, 99])
    print(f"\nmid-sized design, {samples:,} images: {len(delays)} ticks of a 10 ms timer · "
          f"stall p50 {p50:.0f} ms · p99 {p99:.0f} ms · max {delays.max():.0f} ms")
    for phase in ("Train", "snapshot", "epoch end", "Stop", "finished"):
        hits = [(late, cpu) for late, cpu, names in rows if phase in names.rsplit(" at ", 1)[0].split(" + ")]
        if hits:
            late, cpu = max(hits)
            print(f"  worst stall at {phase:<9}: {late:5.0f} ms (GUI thread busy {cpu:4.0f} ms of it)")
    worst = sorted(rows, reverse=True)[:5]
    print("  five worst: " + "; ".join(f"{late:.0f} ms ({cpu:.0f} busy) {names}" for late, cpu, names in worst))
    busiest = max(rows, key=lambda row: row[1])
    print(f"  most GUI-thread CPU between two ticks: {busiest[1]:.0f} ms ({busiest[2]})"
          f"   (goal: < {STALL_GOAL_MS:.0f} ms)")
    return float(delays.max())


def gui_run(epochs: int, samples: int, batch: int) -> tuple[np.ndarray, float, float]:
    """(tick delays in ms, mean samples/s over epochs, wall seconds) of a training run in the window."""
    from PySide6.QtCore import QEventLoop
    from PySide6.QtWidgets import QApplication

    from guicnn.ui.app import build_window, parse_args

    app = QApplication.instance() or QApplication([])
    window = build_window(parse_args(["--preset", "shapes_cnn", "--size", "1280x800", "--tab", "Training"]))
    window.show()
    workbench = window.workbench
    workbench.data_panel.load_builtin("shapes", n=samples)
    _wait(app, lambda: workbench.data_panel.dataset() is not None and len(workbench.data_panel.dataset()) == samples,
          30, "the shapes data")
    workbench.training_panel.epochs.setValue(epochs)
    workbench.training_panel.batch_size.setValue(batch)
    rates = []
    workbench.controller.epoch.connect(lambda r: rates.append(r.samples_per_sec))
    loop = QEventLoop()
    workbench.controller.finished.connect(lambda _report: loop.quit())
    recorder = TickRecorder()
    started = time.monotonic()
    workbench.start_training(False)
    recorder.start()
    loop.exec()  # the real event loop, as in the application
    recorder.stop()
    wall = time.monotonic() - started
    _close(window)
    return recorder.delays(), float(np.mean(rates)), wall


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


def throughput(args: argparse.Namespace) -> None:
    # Alternate the two so that a busy moment of the machine does not favour either.
    gui_runs, cli_runs = [], []
    for _ in range(args.repeat):
        cli_runs.append(headless_run(args.epochs, args.samples, args.batch))
        gui_runs.append(gui_run(args.epochs, args.samples, args.batch))
    delays = np.concatenate([run[0] for run in gui_runs])
    _, gui_rate, gui_wall = max(gui_runs, key=lambda run: run[1])
    cli_rate, cli_wall = max(cli_runs, key=lambda run: run[0])
    p50, p99 = np.percentile(delays, [50, 99])
    print(f"\nshapes preset, {args.samples} samples, {args.epochs} epochs, batch {args.batch}, "
          f"{os.environ['QT_QPA_PLATFORM']}")
    print(f"event-loop stall over {len(delays)} ticks of a 10 ms timer: "
          f"p50 {p50:.1f} ms · p99 {p99:.1f} ms · max {delays.max():.1f} ms   (goal: p99 < 50 ms)")
    print(f"training samples/s: GUI {gui_rate:,.0f} ({gui_wall:.1f} s) · headless {cli_rate:,.0f} "
          f"({cli_wall:.1f} s) · GUI/headless {gui_rate / cli_rate:.0%}   (goal: >= 90%)")


def main() -> int:
    from guicnn.core.allocator import keep_freed_memory

    keep_freed_memory()  # as the window and the command line do
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--only", choices=("stalls", "throughput"))
    parser.add_argument("--sizes", type=int, nargs="+", default=[3000, 60000], help="data set sizes for stalls")
    parser.add_argument("--stop-after", type=float, default=2.0, help="seconds into epoch 2 before Stop")
    parser.add_argument("--epochs", type=int, default=3)
    parser.add_argument("--samples", type=int, default=3000)
    parser.add_argument("--batch", type=int, default=32)
    parser.add_argument("--repeat", type=int, default=2, help="runs of each; the best throughput counts")
    args = parser.parse_args()
    print(f"platform {os.environ['QT_QPA_PLATFORM']}, load average {os.getloadavg()[0]:.1f} "
          f"on {os.cpu_count()} cores")
    if args.only != "throughput":
        worst = max(report_stalls(n, stall_run(n, args.batch, args.stop_after)) for n in args.sizes)
        print(f"\nworst stall of all runs: {worst:.0f} ms")
    if args.only != "stalls":
        throughput(args)
    return 0


if __name__ == "__main__":
    sys.exit(main())
