"""Load or download a data set in a QThread: throttled progress, cancel, and a join that always happens.

Every running job is also held in a module-level registry until its thread has finished, so
a QThread is never garbage-collected while it runs (which would abort the process), even
when the panel that started it is gone; ``shutdown_all()`` stops and joins whatever is left.
"""

from __future__ import annotations

import threading
import time
import traceback
from dataclasses import dataclass
from typing import Callable

import numpy as np
from PySide6.QtCore import QCoreApplication, QObject, Qt, QThread, Signal, Slot

from guicnn.core.data import Dataset, DownloadCancelled
from guicnn.core.errors import GuicnnError

#: ``progress(done_bytes, total_bytes, file_name)``, called from the worker thread.
ProgressFn = Callable[[int, int, str], None]
#: What a job runs in the worker thread: ``load(progress, stop_event) -> Dataset``.
LoadFn = Callable[[ProgressFn, threading.Event], Dataset]

#: Seconds between two progress signals (the newest one wins; the last one always arrives).
PROGRESS_INTERVAL = 0.05
#: How long ``shutdown`` waits for a loader that cannot be interrupted (reading a large file).
JOIN_TIMEOUT_MS = 60_000


@dataclass(frozen=True)
class DataStats:
    """What the info section shows, computed in the worker thread so the GUI never scans the data."""

    minimum: float
    maximum: float
    mean: float
    class_counts: np.ndarray

    @classmethod
    def of(cls, ds: Dataset) -> DataStats:
        if len(ds) == 0:
            return cls(0.0, 0.0, 0.0, ds.class_counts())
        return cls(float(ds.x.min()), float(ds.x.max()), float(ds.x.mean(dtype=np.float64)), ds.class_counts())


@dataclass(frozen=True)
class LoadResult:
    dataset: Dataset
    stats: DataStats
    seconds: float


class DataLoadWorker(QObject):
    """Runs one ``LoadFn`` in its thread and reports back with the job's id."""

    progress = Signal(int, object, object, str)  # job id, done bytes, total bytes, file name
    succeeded = Signal(int, object)  # job id, LoadResult
    failed = Signal(int, str, bool)  # job id, message, cancelled

    def __init__(self, job_id: int, load: LoadFn) -> None:
        super().__init__()
        self.job_id = job_id
        self._load = load
        self.stop_event = threading.Event()
        self._last_progress = 0.0

    def _report(self, done: int, total: int, file_name: str) -> None:
        now = time.monotonic()
        if done >= total or now - self._last_progress >= PROGRESS_INTERVAL:
            self._last_progress = now
            self.progress.emit(self.job_id, int(done), int(total), str(file_name))

    @Slot()
    def run(self) -> None:
        started = time.perf_counter()
        try:
            dataset = self._load(self._report, self.stop_event)
            if self.stop_event.is_set():
                raise DownloadCancelled("cancelled")
            result = LoadResult(dataset, DataStats.of(dataset), time.perf_counter() - started)
        except DownloadCancelled as exc:
            self.failed.emit(self.job_id, str(exc), True)
        except GuicnnError as exc:  # DataError and friends: the message names the file
            self.failed.emit(self.job_id, str(exc), False)
        except Exception as exc:  # a loader bug must never take the application down
            traceback.print_exc()
            self.failed.emit(self.job_id, f"{type(exc).__name__}: {exc}", False)
        else:
            self.succeeded.emit(self.job_id, result)


_LIVE: set[LoadJob] = set()


class LoadJob(QObject):
    """One worker in its own QThread. Lives in the GUI thread; forgets itself once joined."""

    def __init__(self, job_id: int, load: LoadFn) -> None:
        super().__init__()
        self.worker = DataLoadWorker(job_id, load)
        self.thread = QThread()
        self.thread.setObjectName(f"guicnn-data-{job_id}")
        self.worker.moveToThread(self.thread)
        self.thread.started.connect(self.worker.run)
        # Direct: quit from the worker thread itself, without waiting for the GUI's event loop.
        self.worker.succeeded.connect(self.thread.quit, Qt.ConnectionType.DirectConnection)
        self.worker.failed.connect(self.thread.quit, Qt.ConnectionType.DirectConnection)
        self.thread.finished.connect(self._forget)

    @property
    def job_id(self) -> int:
        return self.worker.job_id

    def start(self) -> None:
        _LIVE.add(self)
        self.thread.start()

    def cancel(self) -> None:
        """Ask the worker to stop; downloads stop between chunks, file reads when they are done."""
        self.worker.stop_event.set()

    def is_running(self) -> bool:
        return self.thread.isRunning()

    def shutdown(self, timeout_ms: int = JOIN_TIMEOUT_MS) -> bool:
        """Cancel, quit and join; True when the thread has ended."""
        self.cancel()
        self.thread.quit()
        joined = self.thread.wait(timeout_ms)
        if joined:
            _LIVE.discard(self)
        return joined

    @Slot()
    def _forget(self) -> None:
        self.thread.wait()  # `finished` comes just before the thread really ends
        _LIVE.discard(self)


def live_jobs() -> int:
    """How many load threads are still running or not yet joined."""
    return len(_LIVE)


def shutdown_all(timeout_ms: int = JOIN_TIMEOUT_MS) -> bool:
    """Stop and join every data-loading thread; True when all have ended."""
    return all([job.shutdown(timeout_ms) for job in list(_LIVE)])


def _join_at_exit() -> None:
    shutdown_all()


def join_on_quit() -> None:
    """Join the loaders when the application quits (hooked once per application object)."""
    app = QCoreApplication.instance()
    if app is not None and not app.property("guicnnJoinsDataLoaders"):
        app.aboutToQuit.connect(_join_at_exit)
        app.setProperty("guicnnJoinsDataLoaders", True)
