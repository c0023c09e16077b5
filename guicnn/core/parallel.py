"""A small thread pool for the work outside BLAS: element-wise passes split into channel blocks.

NumPy releases the GIL inside ufuncs and copies on large arrays, so two threads running the
same pass over two halves of the channels use both cores. The split is along the channel
axis, which is the outermost axis of the batch-last (C, H, W, N) arrays the layers pass along,
so each half is one contiguous block, and every value is computed by exactly the same
operations as on one thread: threaded and single-threaded results are bit-for-bit equal.

How many threads: ``set_threads(n)`` fixes it for the whole process; by default (``None``) it
is NumPy's BLAS thread count (OPENBLAS_NUM_THREADS, OMP_NUM_THREADS or the cores), as found
when the first model pass takes BLAS to one thread (see ``blas_single_threaded``).
``thread_limit(n)`` caps it for the calling thread only: the GUI's training and scoring workers
run under ``thread_limit(job_threads())``, every core but one, so that the window keeps a core
for drawing.
"""

from __future__ import annotations

import os
import threading
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from typing import Callable, Iterator

import numpy as np

_setting: int | None = None
# True: a model pass runs BLAS on one thread and splits the products over this pool (robust
# when other programs hold the cores); False: OpenBLAS threads its own products (5 % faster
# on an idle machine, up to 7x slower on a busy one) and this pool only takes the large
# element-wise passes. Same-run ratios to PyTorch at 2 threads on the shared machine: wide
# 0.51-0.68 (True) vs 0.39-0.45 (False), LeNet-5 0.54-0.65 vs 0.44-0.58.
OWN_PRODUCT_THREADS = True
_pool: ThreadPoolExecutor | None = None
_pool_lock = threading.Lock()
_blas = None  # threadpoolctl's controller of NumPy's BLAS, looked up once
_local = threading.local()

# Below this many values per pass the hand-over to a second thread costs more than it saves:
# ~30 µs on an idle machine, but up to a scheduler tick when other programs hold the cores
# (LeNet-5 on two threads was *slower* than on one with a 200,000-value threshold).
MIN_PARALLEL_VALUES = 1_000_000


def set_threads(count: int | None) -> None:
    """Threads for guicnn's own passes: a number, or None for NumPy's BLAS thread count (default)."""
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
    granted = getattr(_local, "granted", None)
    if granted is not None:
        return granted
    count = _setting if _setting is not None else (_found if _found is not None else _blas_threads())
    limit = getattr(_local, "limit", None)
    if limit is not None:
        count = min(count, limit)
    return max(1, min(count, os.cpu_count() or 1))


def job_threads() -> int:
    """Threads for a job that runs beside a window (training, scoring): every core but one.

    The window's thread keeps a core for drawing: on this project's 2-core machine one
    training thread was faster *and* smoother than two fighting the painting for both cores
    (``benchmarks/bench_gui_training.py``); on 4 or 8 cores the other 3 or 7 train. Applied
    with ``thread_limit``, so it never exceeds the default (``set_threads``, or the BLAS
    thread count such as ``OPENBLAS_NUM_THREADS``). Results do not depend on it: every split
    computes each value the same way (see the module docstring).
    """
    return max(1, (os.cpu_count() or 1) - 1)


@contextmanager
def thread_limit(count: int | None) -> Iterator[None]:
    """At most `count` threads for the passes the calling thread runs (None: no cap).

    Thread-local, unlike a BLAS limit, which is one setting for the whole process: a window
    and a training worker that each set and restored it around their passes read each
    other's values mid-pass (and this OpenBLAS ignores a thread's change while another live
    thread's change stands).
    """
    before = getattr(_local, "limit", None)
    _local.limit = None if count is None else max(1, int(count))
    try:
        yield
    finally:
        _local.limit = before


@contextmanager
def model_threads() -> Iterator[int]:
    """One model pass; with ``OWN_PRODUCT_THREADS`` on our own threads only, BLAS single-threaded inside.

    OpenBLAS's own threads busy-wait for each other: on a machine whose cores are also busy
    with other programs a 2-thread OpenBLAS step took 2-7x *longer* than a 1-thread one
    (wide net 160 ms → 1.1 s), while with the products split over this pool (which waits on
    locks) it stayed at the 1-thread time. On an idle machine OpenBLAS's threads are a little
    faster (wide net 128 vs 135 ms), and NumPy's many small calls in a Winograd band hold the
    GIL too long for our threads to overlap much. Yields the thread count.
    """
    if getattr(_local, "granted", None) is not None or getattr(_local, "worker", False):
        yield threads()  # already inside a pass
        return
    count = threads()
    if not OWN_PRODUCT_THREADS:
        yield count
        return
    # Even on one thread: BLAS single-threaded and the count fixed for the whole pass, so that
    # the same products run the same way whatever other threads do meanwhile.
    blas_single_threaded()
    _local.granted = count
    try:
        yield count
    finally:
        _local.granted = None


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


def products_on_pool() -> bool:
    """Whether matrix products go to this pool: several threads allowed while BLAS runs on one."""
    return threads() > 1 and _blas_threads() == 1


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


def run_product_blocks(work: Callable[[int, int], None], length: int, values: int, min_values: int) -> None:
    """Call ``work(start, stop)`` over shares of range(length) whose work is mostly matrix products.

    On several threads only while BLAS runs on one (inside a model pass) and the pass has at
    least ``min_values`` values; each share is contiguous, so every unit is computed alike.
    """
    count = threads() if values >= min_values and products_on_pool() else 1
    if count == 1 or length < 2:
        work(0, length)
        return
    run_tasks([lambda start=start, stop=stop: work(start, stop) for start, stop in blocks(length, count)])


_single_lock = threading.Lock()
_found: int | None = None  # NumPy's BLAS thread count before guicnn took it to one thread


def blas_single_threaded() -> None:
    """Put NumPy's BLAS on one thread (and leave it there): our own threads run the matrix products.

    Two threads each calling a 2-thread BLAS ask for four threads on two cores: measured
    20x slower (a wide-net inference step 59 ms → 1.2 s). The first pass takes BLAS to one
    thread and leaves it there (later passes only put it back if something raised it); the
    count it had becomes the default of ``threads()``. Setting and restoring it around each
    pass, as before, raced between threads: OpenBLAS's thread count is one setting for the
    whole process, and OpenBLAS ignores one thread's change while another live thread's
    change stands, so a training worker's products ran on two BLAS threads mid-pass, and
    OpenBLAS rounds many products differently on two threads (K x 1,256 @ 1,256 x F for most
    K and F: not bit-identical), which made results depend on timing.
    """
    global _found
    _blas_threads()
    if _blas:
        with _single_lock:
            current = int(_blas.get_num_threads())
            if current != 1:
                if _found is None:
                    _found = current
                _blas.set_num_threads(1)


# Products smaller than this (multiply-adds), or with fewer columns per block, are not split.
MIN_SPLIT_MACS = 50_000_000
MIN_SPLIT_COLUMNS = 2048


def _split(m: int, k: int, t: int, parts: int) -> bool:
    """Whether a product of that shape is computed in `parts` blocks of t (by shape only)."""
    return t >= parts * MIN_SPLIT_COLUMNS and m * k * t >= MIN_SPLIT_MACS


def matmul(a: np.ndarray, b: np.ndarray, out: np.ndarray | None = None, parts: int = 2) -> np.ndarray:
    """a (M, K) @ b (K, T), as `parts` products over blocks of b's columns when T is long.

    Always the same blocks whatever the thread count (OpenBLAS picks its kernel by block
    shape, so another split could round differently); the blocks run on two threads when
    allowed, so one and two threads give identical results.
    """
    if out is None:
        out = np.empty((a.shape[0], b.shape[1]), dtype=np.result_type(a, b))
    if not _split(a.shape[0], a.shape[1], b.shape[1], parts):
        return np.matmul(a, b, out=out)
    tasks = [lambda start=start, stop=stop: np.matmul(a, b[:, start:stop], out=out[:, start:stop])
             for start, stop in blocks(b.shape[1], parts)]
    if products_on_pool():
        run_tasks(tasks)
    else:
        for task in tasks:
            task()
    return out
