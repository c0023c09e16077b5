"""What a data-loading job computes in the worker thread (see ``guicnn.ui.worker``): the data set
and the figures the data panel shows, so the GUI thread never scans the data."""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass
from typing import Callable

import numpy as np

from guicnn.core.data import Dataset, DownloadCancelled, ImageSizeError
from guicnn.core.errors import printable
from guicnn.ui.worker import Job, JobContext

#: ``progress(done_bytes, total_bytes, file_name)``, called from the worker thread.
ProgressFn = Callable[[int, int, str], None]
#: What a job runs in the worker thread: ``load(progress, stop_event) -> Dataset``.
LoadFn = Callable[[ProgressFn, threading.Event], Dataset]


@dataclass(frozen=True)
class DataStats:
    """What the info section shows, computed in the worker thread."""

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
class LoadProgress:
    done: int
    total: int
    file_name: str


@dataclass(frozen=True)
class LoadResult:
    dataset: Dataset
    stats: DataStats
    seconds: float


@dataclass(frozen=True)
class SizeChoice:
    """Not a data set but a question: the folder's images differ in size, which one to read them at?

    ``sizes`` maps (height, width) to image counts, most common first; ``examples`` one file of each.
    """

    folder: str
    message: str
    sizes: dict[tuple[int, int], int]
    examples: dict[tuple[int, int], str]


def load_job(load: LoadFn, name: str = "data") -> Job:
    """A job that runs ``load`` and delivers a LoadResult, or a SizeChoice when an image folder's
    images differ in size (a load finished after Cancel counts as cancelled)."""

    def run(context: JobContext) -> LoadResult | SizeChoice:
        started = time.perf_counter()
        try:
            dataset = load(lambda done, total, file_name: context.progress(LoadProgress(int(done), int(total),
                                                                                       str(file_name))),
                           context.stop_event)
        except ImageSizeError as exc:
            folder, _, message = str(exc).partition(": ")
            return SizeChoice(printable(folder), message, dict(exc.sizes), dict(exc.examples))
        if context.stop_event.is_set():
            raise DownloadCancelled("cancelled")
        return LoadResult(dataset, DataStats.of(dataset), time.perf_counter() - started)

    return Job(run, name=name)
