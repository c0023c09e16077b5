"""GUI speed: (a) an inspector edit until the summary is repainted, on a 50-layer design;
(b) cold start of ``python run_gui.py`` until the window is shown.

    python benchmarks/bench_gui.py [--edits 50] [--starts 5]

Runs offscreen unless QT_QPA_PLATFORM is set. Goals: edit < 16 ms, start < 1.5 s.
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
os.environ.setdefault("GUICNN_NO_SETTINGS", "1")

ROOT = Path(__file__).resolve().parent.parent
EDIT_GOAL_MS = 16.0
START_GOAL_S = 1.5


def fifty_layer_design() -> dict:
    """A valid 50-layer VGG-like design (conv, batch norm, ReLU blocks with pooling)."""
    layers = []
    filters = 16
    while len(layers) < 44:
        for _ in range(3):
            layers += [{"type": "Conv2D", "filters": filters, "kernel_size": 3, "padding": "same"},
                       {"type": "BatchNorm"}, {"type": "ReLU"}]
        layers.append({"type": "MaxPool2D", "pool_size": 2})
        filters *= 2
    layers = layers[:44]
    layers += [{"type": "GlobalAvgPool2D"}, {"type": "Dense", "units": 64}, {"type": "ReLU"},
               {"type": "Dropout", "rate": 0.3}, {"type": "Dense", "units": 10}, {"type": "Softmax"}]
    assert len(layers) == 50
    return {"name": "Fifty layers", "input_shape": [3, 64, 64], "layers": layers}


class PaintWatch:
    """Notices paint events on the widgets whose repaint ends an edit."""

    def __init__(self, widgets) -> None:
        from PySide6.QtCore import QEvent, QObject

        class Filter(QObject):
            def __init__(self, painted: set) -> None:
                super().__init__()
                self.painted = painted

            def eventFilter(self, obj, event):  # noqa: N802 (Qt name)
                if event.type() == QEvent.Type.Paint:
                    self.painted.add(id(obj))
                return False

        self.painted: set[int] = set()
        self.widgets = list(widgets)
        self.filter = Filter(self.painted)
        for widget in self.widgets:
            widget.installEventFilter(self.filter)

    def wait(self, app, timeout_s: float = 2.0) -> None:
        deadline = time.perf_counter() + timeout_s
        while not all(id(w) in self.painted for w in self.widgets):
            app.processEvents()
            if time.perf_counter() > deadline:
                raise RuntimeError("the summary was not repainted within 2 s")


def bench_edit_ms(edits: int) -> list[float]:
    """Milliseconds from an inspector value commit until summary and stack are repainted."""
    from PySide6.QtWidgets import QApplication

    from guicnn.ui.main_window import MainWindow
    from guicnn.ui.style import apply_style

    app = QApplication.instance() or QApplication([])
    apply_style(app)
    window = MainWindow(initial_data=None)  # the whole application, as run_gui.py builds it
    window.resize(1280, 800)
    window.document.load(fifty_layer_design())
    window.show()
    window.document.set_current(20)  # a Conv2D in the middle: later shapes and params all change
    for _ in range(5):
        app.processEvents()
    spin = window.inspector.row("filters").editor.spin
    watch = PaintWatch([window.summary.table.viewport(), window.stack.view.viewport()])
    times = []
    for i in range(edits + 3):
        watch.painted.clear()
        start = time.perf_counter()
        spin.setValue(100 + (i % 2))  # what Enter in the spin box does: valueChanged -> command
        watch.wait(app)
        if i >= 3:  # the first edits warm caches
            times.append((time.perf_counter() - start) * 1000)
    assert window.document.analysis.valid
    window.document.undo_stack.setClean()
    window.close()
    return times


def bench_start(starts: int) -> list[float]:
    """Seconds from launching ``python run_gui.py`` until its window is shown."""
    env = dict(os.environ, GUICNN_STARTUP_PROBE="1", GUICNN_NO_SETTINGS="1")
    times = []
    for _ in range(starts):
        launched = time.time()
        result = subprocess.run([sys.executable, str(ROOT / "run_gui.py")], env=env, cwd=ROOT,
                                capture_output=True, text=True, timeout=60)
        line = next((ln for ln in result.stdout.splitlines() if ln.startswith("GUICNN_SHOWN")), None)
        if line is None:
            raise RuntimeError(f"run_gui.py did not report its start:\n{result.stdout}\n{result.stderr}")
        shown = float(line.split("epoch=")[1].split()[0])
        times.append(shown - launched)
    return times


def p95(values: list[float]) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(0.95 * (len(ordered) - 1)))]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--edits", type=int, default=50)
    parser.add_argument("--starts", type=int, default=5)
    args = parser.parse_args()
    print(f"platform: {os.environ['QT_QPA_PLATFORM']}, Python {sys.version.split()[0]}")
    edit = bench_edit_ms(args.edits)
    verdict = "ok" if statistics.median(edit) < EDIT_GOAL_MS else "SLOW"
    print(f"(a) inspector edit -> repainted summary, 50 layers, {len(edit)} edits: "
          f"median {statistics.median(edit):.1f} ms, p95 {p95(edit):.1f} ms, max {max(edit):.1f} ms "
          f"(goal < {EDIT_GOAL_MS:.0f} ms) {verdict}")
    start = bench_start(args.starts)
    verdict = "ok" if statistics.median(start) < START_GOAL_S else "SLOW"
    print(f"(b) cold start of run_gui.py until the window is shown, {len(start)} runs: "
          f"median {statistics.median(start):.2f} s, max {max(start):.2f} s (goal < {START_GOAL_S} s) {verdict}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
