"""Run a training iterator in a QThread: throttled, copy-only signals, stop/pause, clean shutdown."""

from __future__ import annotations

import threading
import time
import traceback
from typing import Any, Callable, Iterator

from PySide6.QtCore import QObject, QThread, Signal, Slot
from threadpoolctl import threadpool_limits

# Called in the worker thread between batches with epoch_end=True after each epoch;
# returns copies (never views of live buffers).
SnapshotFn = Callable[[bool], Any]
# Gets the stop, pause and step events (step: run one explained batch while paused).
IteratorFactory = Callable[[threading.Event, threading.Event, threading.Event], Iterator[Any]]


class TrainingWorker(QObject):
    """Consumes the core's report generator in a worker thread.

    Step reports are throttled to ``max_rate`` per second (the newest one wins); epoch and
    end reports are always delivered; ``snapshot()`` (probe feature maps, weights) runs in
    this thread between batches at ``snapshot_rate`` per second, so the GUI never reads
    arrays the optimizer is writing. A step asked for with ``request_step`` while paused is
    delivered at once: its report, a fresh snapshot, then ``explained`` with its explanation.
    """

    step = Signal(object)
    explained = Signal(object)  # StepExplanation of a step asked for with request_step
    epoch = Signal(object)
    snapshot = Signal(object)
    finished = Signal(object)
    failed = Signal(str, str)  # message, traceback text

    def __init__(self, make_iterator: IteratorFactory, snapshot_fn: SnapshotFn | None = None,
                 max_rate: float = 20.0, snapshot_rate: float = 4.0) -> None:
        super().__init__()
        self._make_iterator = make_iterator
        self._snapshot_fn = snapshot_fn
        self._step_interval = 1.0 / max_rate
        self._snapshot_interval = 1.0 / snapshot_rate if snapshot_rate > 0 else float("inf")
        self.stop_event = threading.Event()
        self.pause_event = threading.Event()
        self.step_event = threading.Event()
        self.emitted_steps = 0

    def request_stop(self) -> None:
        self.pause_event.clear()
        self.stop_event.set()

    def request_step(self) -> None:
        """Pause (if running) and train exactly one more batch, explained."""
        self.pause_event.set()
        self.step_event.set()

    def set_paused(self, paused: bool) -> None:
        if paused:
            self.pause_event.set()
        else:
            self.pause_event.clear()

    @Slot()
    def run(self) -> None:
        # One BLAS thread: the GUI thread needs the second core; measured faster *and* smoother
        # than letting BLAS and painting fight over two cores (benchmarks/bench_gui_training.py).
        with threadpool_limits(limits=1, user_api="blas"):
            self._run()

    def _run(self) -> None:
        last_step = last_snapshot = 0.0
        pending = None
        end = None
        try:
            for report in self._make_iterator(self.stop_event, self.pause_event, self.step_event):
                kind = getattr(report, "kind", None) or type(report).__name__
                now = time.monotonic()
                if getattr(report, "explanation", None) is not None:
                    self._emit_step(report)
                    pending, last_step = None, now
                    if self._snapshot_fn:
                        self.snapshot.emit(self._snapshot_fn(False))
                        last_snapshot = now
                    self.explained.emit(report.explanation)
                    continue
                if kind in ("step", "StepReport"):
                    pending = report
                    if now - last_step >= self._step_interval:
                        self._emit_step(pending)
                        pending, last_step = None, now
                    if self._snapshot_fn and now - last_snapshot >= self._snapshot_interval:
                        self.snapshot.emit(self._snapshot_fn(False))
                        last_snapshot = now
                    continue
                if pending is not None:
                    self._emit_step(pending)
                    pending = None
                if kind in ("epoch", "EpochReport"):
                    if self._snapshot_fn:
                        self.snapshot.emit(self._snapshot_fn(True))
                        last_snapshot = now
                    self.epoch.emit(report)
                else:
                    end = report
        except Exception as exc:  # a worker must never take the application down
            self.failed.emit(f"{type(exc).__name__}: {exc}", traceback.format_exc())
            return
        if pending is not None:
            self._emit_step(pending)
        self.finished.emit(end)

    def _emit_step(self, report: Any) -> None:
        self.emitted_steps += 1
        self.step.emit(report)


class TrainingThread:
    """Owns a TrainingWorker and its QThread; ``shutdown()`` always stops and joins."""

    def __init__(self, worker: TrainingWorker) -> None:
        self.worker = worker
        self.thread = QThread()
        self.thread.setObjectName("guicnn-training")
        worker.moveToThread(self.thread)
        self.thread.started.connect(worker.run)
        worker.finished.connect(self.thread.quit)
        worker.failed.connect(self.thread.quit)

    def start(self) -> None:
        self.thread.start()

    def is_running(self) -> bool:
        return self.thread.isRunning()

    def shutdown(self, timeout_ms: int = 30_000) -> bool:
        """Ask the worker to stop between batches, then quit and join the thread."""
        self.worker.request_stop()
        self.thread.quit()
        return self.thread.wait(timeout_ms)
