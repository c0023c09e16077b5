"""Screenshots of explained training: the Step tab, the time machine on the Filters tab, and A/B.

    python scripts/demo_explain_training.py step|timemachine|ab|ab_predict OUT.png [--size 1366x768]

Builds the main window with a preset and a built-in data set, drives it as a user would
(Train, Step, drag the time-machine slider, Pin as A, train B, draw in Predict), saves a
picture of the window, then quits. Run it under Xvfb (``/work/shared/tools/screenshot_app.sh``)
for real fonts.
"""

from __future__ import annotations

import argparse
import sys


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("shot", choices=("step", "timemachine", "ab", "ab_predict"))
    parser.add_argument("out")
    parser.add_argument("--size", default="1366x768")
    parser.add_argument("--preset", default="shapes_cnn")
    parser.add_argument("--data", default="shapes", choices=("digits", "shapes"))
    args = parser.parse_args(argv)

    from PySide6.QtCore import QTimer
    from PySide6.QtWidgets import QApplication

    from guicnn.ui.app import build_window, parse_args
    from guicnn.ui.style import apply_style

    app = QApplication.instance() or QApplication(sys.argv[:1])
    apply_style(app)
    window = build_window(parse_args(["--preset", args.preset, "--data", args.data, "--size", args.size]))
    window.show()
    workbench = window.workbench
    panel, controller = workbench.training_panel, workbench.controller

    def later(ms: int, action) -> None:
        QTimer.singleShot(ms, action)

    def save() -> None:
        window.grab().save(args.out)
        print(f"saved {args.out}", flush=True)
        workbench.shutdown()
        app.quit()

    def train(epochs: int, then, lr: float = 0.003) -> None:
        panel.epochs.setValue(epochs)
        panel.lr.setValue(lr)

        def done(_report) -> None:
            controller.finished.disconnect(done)
            later(300, then)

        controller.finished.connect(done)
        panel.start_button.click()

    def step_shot() -> None:
        def explained(_explanation) -> None:
            workbench.step_view.select_layer(0)
            later(600, save)

        controller.explained.connect(explained)
        panel.step_button.click()

    def time_machine_shot() -> None:
        workbench.show_tab("Filters")
        later(300, lambda: (workbench.time_bars["Filters"].slider.setValue(1), later(500, save)))

    def pin_and_train_b() -> None:
        panel.pin_button.click()
        window.document.set_field(0, "filters", 4)  # B: fewer first-layer filters
        panel.mode.setCurrentIndex(1)
        train(3, ab_done, lr=0.01)

    def ab_done() -> None:
        if args.shot == "ab":
            workbench.show_tab("Training")
            splitter = workbench.curves.parentWidget()
            splitter.setSizes([3 * splitter.height() // 4, splitter.height() // 4])  # as a user comparing curves would
            later(500, save)
            return
        workbench.show_tab("Predict")
        val = workbench.data_panel.train_val()[1]
        workbench.predict.set_image(val.x[5])
        later(800, save)

    def start(_dataset=None) -> None:
        if args.shot == "step":
            train(2, step_shot)
        elif args.shot == "timemachine":
            train(6, time_machine_shot)
        else:
            train(3, pin_and_train_b)

    if workbench.data_panel.dataset() is not None:
        later(0, start)
    else:
        workbench.data_panel.datasetChanged.connect(start)
    return app.exec()


if __name__ == "__main__":
    sys.exit(main())
