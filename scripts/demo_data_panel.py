"""Show the Data panel on its own with the built-in digits loaded.

    python scripts/demo_data_panel.py [--source digits|shapes] [--design C,H,W:UNITS] [--width 360]
                                      [--screenshot PATH]

``--design 1,28,28:10`` pretends the design expects that input shape and output size, so the
design check has something to say. ``--screenshot PATH`` saves a picture of the whole panel
once the data is shown, then quits (run it under Xvfb for real fonts).
"""

from __future__ import annotations

import argparse
import sys


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--source", default="digits", choices=("digits", "shapes"))
    parser.add_argument("--design", metavar="C,H,W:UNITS", help="a design to check the data against")
    parser.add_argument("--width", type=int, default=360, help="panel width in pixels (a side dock: 320-380)")
    parser.add_argument("--height", type=int, default=780)
    parser.add_argument("--screenshot", metavar="PATH", help="save a picture of the whole panel, then quit")
    args = parser.parse_args(argv)

    from PySide6.QtCore import QTimer
    from PySide6.QtWidgets import QApplication, QScrollArea

    from guicnn.ui.data.panel import DataPanel
    from guicnn.ui.style import apply_style

    app = QApplication.instance() or QApplication(sys.argv[:1])
    apply_style(app)
    panel = DataPanel()
    panel.setWindowTitle("guicnn — Data")
    panel.resize(args.width, args.height)
    if args.design:
        # Stand in for the main window: keep a design, apply the panel's fixes to it, send it back.
        shape_text, _, units = args.design.partition(":")
        layers = [{"type": "Flatten"}, {"type": "Dense", "units": int(units)}] if units else []
        design = {"name": "demo", "input_shape": [int(v) for v in shape_text.split(",")], "layers": layers}
        panel.fixRequested.connect(lambda fix: panel.set_design(fix.design))
        panel.set_design(design)
    panel.datasetChanged.connect(lambda ds: print(f"datasetChanged: {ds!r}", flush=True))
    panel.probeChanged.connect(lambda i: print(f"probeChanged: {i}", flush=True))
    if args.screenshot:
        def save(_dataset) -> None:
            # the whole content, however tall, not just what fits the window: lay it out at the
            # width first (the preview's height follows its width), then fit the height to it
            panel.resize(args.width, 2000)
            QTimer.singleShot(200, fit)

        def fit() -> None:
            content = panel.findChild(QScrollArea).widget()
            panel.resize(args.width, content.heightForWidth(content.width()))
            QTimer.singleShot(200, lambda: (panel.grab().save(args.screenshot), app.quit()))

        panel.datasetChanged.connect(save)
    panel.load_builtin(args.source)
    panel.move(0, 0)
    panel.show()
    code = app.exec()
    panel.shutdown()
    return code


if __name__ == "__main__":
    raise SystemExit(main())
