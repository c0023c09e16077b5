"""A small thread pool for the work outside BLAS: element-wise passes split into channel blocks.

NumPy releases the GIL inside ufuncs and copies on large arrays, so two threads running the
same pass over two halves of the channels use both cores. The split is along the channel
axis, which is the outermost axis of the batch-last (C, H, W, N) arrays the layers pass along,
so each half is one contiguous block, and every value is computed by exactly the same
operations as on one thread: threaded and single-threaded results are bit-for-bit equal.

How many threads: ``set_threads(n)`` fixes it for the whole process; by default (``None``) it
follows NumPy's BLAS thread limit, so ``threadpoolctl.threadpool_limits(1)`` — which the GUI's
training worker sets so that the window keeps a core for drawing — also keeps this pool out.
"""

from __future__ import annotations

import os
import threading
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from typing import Callable, Iterator

_setting: int | None = None
_pool: ThreadPoolExecutor | None = None
_pool_lock = threading.Lock()
_blas = None  # threadpoolctl's controller of NumPy's BLAS, looked up once
_local = threading.local()

# Below this many values per pass the hand-over to a second thread (~30 µs) costs more than it saves.
MIN_PARALLEL_VALUES = 200_000


def set_threads(count: int | None) -> None:
    """Threads for guicnn's own passes: a number, or None to follow NumPy's BLAS limit (default)."""
    global _setting
    if count is not None and int(count) < 1:
        raise ValueError(f"thread count must be at least 1, got {count}")
    _setting = None if count is None else int(count)


def _blas_threads() -> int:
    global _blas
    if _blas is None:
        try:
            from threadpoolctl import ThreadpoolController

            controllers = ThreadpoolController().select(user_api="blas").lib_controllers
            _blas = controllers[0] if controllers else False
        except Exception:  # threadpoolctl missing or unable to read the library: stay on one thread
            _blas = False
    return int(_blas.get_num_threads()) if _blas else 1


def threads() -> int:
    """Threads a pass may use now (1 inside a pool thread: no nested hand-overs)."""
    if getattr(_local, "worker", False):
        return 1
    count = _setting if _setting is not None else _blas_threads()
    return max(1, min(count, os.cpu_count() or 1))


def _executor() -> ThreadPoolExecutor:
    global _pool
    with _pool_lock:
        if _pool is None:
            _pool = ThreadPoolExecutor(max_workers=max(1, (os.cpu_count() or 2) - 1),
                                       thread_name_prefix="guicnn-pass",
                                       initializer=lambda: setattr(_local, "worker", True))
        return _pool


def blocks(length: int, parts: int) -> list[tuple[int, int]]:
    """[start, stop) ranges splitting range(length) into `parts` near-equal blocks (none empty)."""
    parts = max(1, min(parts, length))
    edges = [length * k // parts for k in range(parts + 1)]
    return [(edges[k], edges[k + 1]) for k in range(parts)]


def run_tasks(tasks: list[Callable[[], None]]) -> None:
    """Run independent tasks: the first on the calling thread, the others on the pool; wait for all.

    The caller decides whether several threads are allowed (``threads()``). Exceptions from
    any task are raised here (the first one's first).
    """
    if len(tasks) == 1:
        tasks[0]()
        return
    futures = [_executor().submit(task) for task in tasks[1:]]
    try:
        tasks[0]()
    finally:
        for future in futures:
            future.result()


def run_blocks(work: Callable[[int, int], None], length: int, values: int) -> None:
    """Call ``work(start, stop)`` over blocks of range(length), on several threads when worth it.

    ``values`` is the size of the pass (to leave small passes on the calling thread).
    """
    count = threads() if values >= MIN_PARALLEL_VALUES else 1
    if count == 1 or length < 2:
        work(0, length)
        return
    run_tasks([lambda start=start, stop=stop: work(start, stop) for start, stop in blocks(length, count)])


_single_lock = threading.Lock()
_single_depth = 0
_single_saved = 1


@contextmanager
def blas_single_threaded() -> Iterator[None]:
    """NumPy's BLAS on one thread while our own threads each run matrix products.

    Two threads each calling a 2-thread BLAS ask for four threads on two cores: measured
    20x slower (a wide-net inference step 59 ms → 1.2 s). Nesting and concurrent use are
    counted, so the limit in force before the first entry comes back after the last exit.
    """
    global _single_depth, _single_saved
    _blas_threads()
    if not _blas:
        yield
        return
    with _single_lock:
        if _single_depth == 0:
            _single_saved = int(_blas.get_num_threads())
            _blas.set_num_threads(1)
        _single_depth += 1
    try:
        yield
    finally:
        with _single_lock:
            _single_depth -= 1
            if _single_depth == 0:
                _blas.set_num_threads(_single_saved)
