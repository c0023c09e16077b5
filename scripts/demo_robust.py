"""Show the window in one of the robustness scenes, for screenshots (docs/screenshots/robust_*.png).

  python scripts/demo_robust.py refused   # 20 outputs for 10 classes: Train is refused, with the fix button
  python scripts/demo_robust.py size      # a folder of 32x32 pictures and an 8x8 design: size row, fixes
  python scripts/demo_robust.py test      # trained on a folder, scored on its test/ part: the confusion matrix
"""

from __future__ import annotations

import argparse
import sys
import tempfile
from pathlib import Path

import numpy as np
from PIL import Image


def digit_folder(root: Path, per_class: int, scale: int, test: int = 0) -> Path:
    """PNGs of the built-in digits, one folder per class, optionally with a test/ part."""
    from guicnn.core.data import load_digits

    digits = load_digits()
    for c in range(10):
        rows = np.flatnonzero(digits.y == c)
        for part, picked in (("", rows[:per_class]), ("test", rows[per_class:per_class + test])):
            folder = root / part / str(c)
            folder.mkdir(parents=True, exist_ok=True)
            for i in picked:
                pixels = (digits.x[i, 0] * 255).astype(np.uint8)
                Image.fromarray(pixels).resize((8 * scale, 8 * scale), Image.BILINEAR).save(folder / f"{i}.png")
    return root


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("scene", choices=("refused", "size", "test"))
    args = parser.parse_args(argv)

    from PySide6.QtCore import QTimer
    from PySide6.QtWidgets import QApplication

    from guicnn.ui.app import build_window, parse_args
    from guicnn.ui.style import apply_style

    app = QApplication.instance() or QApplication(sys.argv[:1])
    apply_style(app)
    window = build_window(parse_args(["--preset", "digits_small", "--data", "digits", "--size", "1366x768"]))
    workbench, data = window.workbench, window.workbench.data_panel
    scratch = Path(tempfile.mkdtemp(prefix="guicnn-demo-"))

    def once(signal, slot) -> None:
        def run(*values) -> None:
            signal.disconnect(run)
            slot(*values)
        signal.connect(run)

    if args.scene == "refused":
        def refuse(_dataset) -> None:
            dense = max(i for i, layer in enumerate(window.document.layers) if layer["type"] == "Dense")
            window.document.set_field(dense, "units", 20)
            workbench.training_panel.start_button.click()
        once(data.datasetChanged, refuse)
    elif args.scene == "size":
        folder = digit_folder(scratch / "handwriting", per_class=12, scale=4)
        once(data.datasetChanged, lambda _ds: (once(data.datasetChanged, lambda _d: window.docks["data"].raise_()),
                                               data.load_path(folder)))
    else:
        folder = digit_folder(scratch / "handwriting", per_class=60, scale=1, test=20)

        def train(_dataset) -> None:
            workbench.training_panel.epochs.setValue(8)
            workbench.training_panel.lr.setValue(0.01)
            once(workbench.controller.finished, lambda _report: workbench.evaluate_test_set())
            workbench.training_panel.start_button.click()

        once(data.datasetChanged, lambda _ds: (once(data.datasetChanged, train), data.load_path(folder)))
    window.show()
    QTimer.singleShot(0, window.raise_)
    code = app.exec()
    workbench.shutdown()
    return code


if __name__ == "__main__":
    sys.exit(main())
