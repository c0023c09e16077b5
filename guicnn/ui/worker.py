"""One worker for every long job (loading and downloading data, training): a function run in
its own QThread with stop and pause, throttled progress, typed results, and one shutdown policy.

A job is ``fn(context) -> result``. In the worker thread it reads ``context.stop_event`` and
``context.pause_event``, calls ``context.progress(value)`` as often as it likes (at most one
signal per ``progress_interval`` arrives in the GUI thread, the newest value winning and the
last one always delivered) and ``context.report(value)`` for what must never be dropped
(an epoch's figures, a snapshot). Its return value arrives as ``succeeded``; an exception as
``failed`` with the message, the traceback (empty for the errors guicnn words for people)
and whether it was a cancel.

Every started job is held in a module-level registry until its thread has ended, so a QThread
is never garbage-collected while it runs (which would abort the process), even when the
panel that started it is gone; ``shutdown_all()`` stops and joins whatever is left, and runs
when the application quits and, as a last resort, at interpreter exit.
"""

from __future__ import annotations

import atexit
import os
import sys
import threading
import time
import traceback
from typing import Any, Callable

from PySide6.QtCore import QCoreApplication, QObject, Qt, QThread, Signal, Slot

from guicnn.core.data import DownloadCancelled
from guicnn.core.errors import GuicnnError
from guicnn.core.parallel import thread_limit

#: How much nicer (Linux ``nice``) a training thread is than the GUI thread: when other programs
#: keep the cores busy, the window gets one first (benchmarks/bench_gui_training.py: p99 stall
#: 22 ms instead of 38–43 ms at load 7 on 2 cores); on an idle machine it changes nothing.
WORKER_NICENESS = 5

#: Seconds between two progress signals.
PROGRESS_INTERVAL = 0.05
#: How long ``shutdown`` waits for a job that cannot be interrupted (reading a large file).
JOIN_TIMEOUT_MS = 60_000


def lower_thread_priority() -> None:
    """Make the calling worker thread yield to the GUI thread when cores are scarce.

    Linux schedules threads one by one, so ``setpriority`` on the thread id touches only this
    thread (and ends with it); elsewhere Qt's LowPriority does it.
    """
    QThread.currentThread().setPriority(QThread.Priority.LowPriority)
    if sys.platform.startswith("linux"):
        thread = threading.get_native_id()
        try:
            os.setpriority(os.PRIO_PROCESS, thread, os.getpriority(os.PRIO_PROCESS, thread) + WORKER_NICENESS)
        except OSError:
            pass  # not allowed here (a container's policy): run at the normal priority


class JobContext:
    """The worker-thread side of a job: its stop/pause events and its ways to report."""

    def __init__(self, worker: Worker, interval: float) -> None:
        self._worker = worker
        self._interval = interval
        self._last = 0.0
        self._pending: Any = None
        self._has_pending = False
        self.stop_event = threading.Event()
        self.pause_event = threading.Event()

    def progress(self, value: Any) -> None:
        """Throttled: the newest value wins; ``flush`` (and the job's end) delivers the last one."""
        now = time.monotonic()
        if now - self._last >= self._interval:
            self._last = now
            self._has_pending, self._pending = False, None
            self._worker.progress.emit(value)
        else:
            self._pending, self._has_pending = value, True

    def flush(self) -> None:
        """Deliver a held-back progress value now (before a report that must follow it)."""
        if self._has_pending:
            value, self._pending, self._has_pending = self._pending, None, False
            self._last = time.monotonic()
            self._worker.progress.emit(value)

    def report(self, value: Any) -> None:
        """Always delivered, in order, after any progress held back before it."""
        self.flush()
        self._worker.reported.emit(value)


class Worker(QObject):
    """Runs one job function in the thread it was moved to."""

    progress = Signal(object)
    reported = Signal(object)
    succeeded = Signal(object)
    failed = Signal(str, str, bool)  # message, traceback ("" for worded errors), cancelled

    def __init__(self, fn: Callable[[JobContext], Any], *, progress_interval: float = PROGRESS_INTERVAL,
                 threads: int | None = None) -> None:
        super().__init__()
        self._fn = fn
        self._threads = threads
        self.context = JobContext(self, progress_interval)

    @Slot()
    def run(self) -> None:
        with thread_limit(self._threads):  # per thread (None: no cap); never the process-wide BLAS limit
            self._run()

    def _run(self) -> None:
        try:
            result = self._fn(self.context)
            self.context.flush()
        except DownloadCancelled as exc:
            self.failed.emit(str(exc), "", True)
        except GuicnnError as exc:  # DataError and friends: the message names the file
            self.failed.emit(str(exc), "", False)
        except Exception as exc:  # a job's bug must never take the application down
            self.failed.emit(f"{type(exc).__name__}: {exc}", traceback.format_exc(), False)
        else:
            self.succeeded.emit(result)


_LIVE: set[Job] = set()


class Job(QObject):
    """A worker in its own QThread. Lives in the GUI thread; forgets itself once joined.

    Its signals repeat the worker's in the GUI thread (connect to them before ``start()``).
    """

    progress = Signal(object)
    reported = Signal(object)
    succeeded = Signal(object)
    failed = Signal(str, str, bool)

    def __init__(self, fn: Callable[[JobContext], Any], *, name: str = "job",
                 progress_interval: float = PROGRESS_INTERVAL, threads: int | None = None) -> None:
        super().__init__()
        self.worker = Worker(fn, progress_interval=progress_interval, threads=threads)
        self.thread = QThread()
        self.thread.setObjectName(f"guicnn-{name}")
        self.worker.moveToThread(self.thread)
        self.thread.started.connect(self.worker.run)
        for name in ("progress", "reported", "succeeded", "failed"):  # queued into the GUI thread
            getattr(self.worker, name).connect(getattr(self, name))
        # Direct: quit from the worker thread itself, without waiting for the GUI's event loop.
        self.worker.succeeded.connect(self.thread.quit, Qt.ConnectionType.DirectConnection)
        self.worker.failed.connect(self.thread.quit, Qt.ConnectionType.DirectConnection)
        self.thread.finished.connect(self._forget)

    def start(self) -> None:
        _join_on_quit()
        _LIVE.add(self)
        self.thread.start()

    def cancel(self) -> None:
        """Ask the job to stop at its next check (a paused job is woken first)."""
        self.worker.context.pause_event.clear()
        self.worker.context.stop_event.set()

    def set_paused(self, paused: bool) -> None:
        if paused:
            self.worker.context.pause_event.set()
        else:
            self.worker.context.pause_event.clear()

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
    """How many job threads are still running or not yet joined."""
    return len(_LIVE)


def shutdown_all(timeout_ms: int = JOIN_TIMEOUT_MS) -> bool:
    """Stop and join every job thread; True when all have ended."""
    return all([job.shutdown(timeout_ms) for job in list(_LIVE)])


def _join_on_quit() -> None:
    """Join the jobs when the application quits (hooked once per application object)."""
    app = QCoreApplication.instance()
    if app is not None and not app.property("guicnnJoinsJobs"):
        app.aboutToQuit.connect(shutdown_all)
        app.setProperty("guicnnJoinsJobs", True)


atexit.register(shutdown_all)  # last resort: never let Python tear down a running QThread
