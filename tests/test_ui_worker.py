"""The one worker for long jobs: throttled progress, ordered reports, typed results, errors, join."""

import time

from guicnn.core.data import DownloadCancelled
from guicnn.core.errors import DataError
from guicnn.ui import worker


def _record(job):
    events = []
    job.progress.connect(lambda v: events.append(("progress", v)))
    job.reported.connect(lambda v: events.append(("report", v)))
    job.succeeded.connect(lambda v: events.append(("done", v)))
    job.failed.connect(lambda m, d, c: events.append(("failed", (m, d, c))))
    return events


def test_progress_is_throttled_reports_keep_their_order_and_the_result_arrives_last(qtbot):
    def run(context):
        for i in range(2000):
            context.progress(i)
            if i % 500 == 499:
                context.report(f"block {i // 500}")
        return "result"

    job = worker.Job(run, progress_interval=10.0)
    events = _record(job)
    with qtbot.waitSignal(job.succeeded, timeout=10_000):
        job.start()
    qtbot.waitUntil(lambda: worker.live_jobs() == 0, timeout=5000)
    progress = [v for kind, v in events if kind == "progress"]
    assert len(progress) < 20 and progress == sorted(progress)
    # the value held back before each report is delivered before it, so nothing arrives stale
    reports = [i for i, (kind, _) in enumerate(events) if kind == "report"]
    assert [events[i][1] for i in reports] == ["block 0", "block 1", "block 2", "block 3"]
    assert all(events[i - 1] == ("progress", 500 * k + 499) for k, i in enumerate(reports))
    assert events[-1] == ("done", "result")


def test_errors_arrive_as_failed_with_a_traceback_only_for_bugs(qtbot):
    def worded(context):
        raise DataError("digits.csv: line 3 has 5 columns, expected 65")

    def bug(context):
        return 1 / 0

    def cancelled(context):
        raise DownloadCancelled("cancelled")

    results = []
    for fn in (worded, bug, cancelled):
        job = worker.Job(fn)
        job.failed.connect(lambda m, d, c: results.append((m, bool(d), c)))
        with qtbot.waitSignal(job.failed, timeout=10_000):
            job.start()
    assert results == [("digits.csv: line 3 has 5 columns, expected 65", False, False),
                       ("ZeroDivisionError: division by zero", True, False), ("cancelled", False, True)]
    qtbot.waitUntil(lambda: worker.live_jobs() == 0, timeout=5000)


def test_pause_holds_the_job_and_shutdown_stops_and_joins_it(qtbot):
    ticks = []

    def run(context):
        while not context.stop_event.is_set():
            if context.pause_event.is_set():
                time.sleep(0.005)
                continue
            ticks.append(1)
            time.sleep(0.001)
        return len(ticks)

    job = worker.Job(run)
    job.start()
    qtbot.waitUntil(lambda: len(ticks) > 5, timeout=5000)
    job.set_paused(True)
    qtbot.wait(50)
    held = len(ticks)
    qtbot.wait(100)
    assert len(ticks) <= held + 1  # at most the tick that was under way
    assert job.shutdown(5000) and not job.is_running() and worker.live_jobs() == 0
