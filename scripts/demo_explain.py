"""The whole application after a short training run, showing the Step-through tab or the health badges.

    python scripts/demo_explain.py --show walkthrough      # conv 0 stepped part-way, filter 2
    python scripts/demo_explain.py --show health           # the stack with its health badges
    python scripts/demo_explain.py --show weights          # the Weights tab's dead-unit chart

Trains the shapes CNN for two epochs with Adam at a learning rate of 0.03 — high enough that
most feature maps of the second convolution die (a red badge), while the network still learns.
For screenshots run it under /work/shared/tools/screenshot_app.sh, or save the window itself
with ``--grab FILE`` (then it quits).
"""

from __future__ import annotations

import argparse
import sys

from PySide6.QtCore import QTimer
from PySide6.QtWidgets import QApplication

from guicnn.core.designfile import load_preset
from guicnn.ui.builder.document import DesignDocument
from guicnn.ui.main_window import MainWindow
from guicnn.ui.style import apply_style


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--show", choices=("walkthrough", "health", "weights"), default="walkthrough")
    parser.add_argument("--layer", type=int, default=0, help="layer to step through (default 0)")
    parser.add_argument("--filter", type=int, default=2)
    parser.add_argument("--steps", type=int, default=12 * 28 + 9, help="output cells computed so far")
    parser.add_argument("--size", default="1366x768")
    parser.add_argument("--grab", metavar="FILE", help="save the window to FILE and quit")
    args = parser.parse_args(argv)

    app = QApplication(sys.argv[:1])
    apply_style(app)
    window = MainWindow(DesignDocument(load_preset("shapes_cnn")), initial_data="shapes")
    width, height = (int(v) for v in args.size.split("x"))
    window.resize(width, height)
    window.show()
    workbench = window.workbench
    panel = workbench.training_panel

    def train() -> None:
        if workbench.data_panel.dataset() is None:
            QTimer.singleShot(200, train)
            return
        panel.optimizer.setCurrentIndex(panel.optimizer.findData("adam"))
        panel.lr.setValue(0.03)
        panel.epochs.setValue(2)
        workbench.controller.finished.connect(lambda _report: QTimer.singleShot(300, show))
        workbench.start_training(False)

    def show() -> None:
        if args.show == "walkthrough":
            workbench.show_walkthrough(args.layer)
            view = workbench.walkthrough
            view.set_channel(args.filter)
            for _ in range(args.steps):
                view.step_forward()
        elif args.show == "weights":
            workbench.show_tab("Weights")
        else:
            workbench.show_tab("Design")
            red = [h.index for h in workbench.health if h.status == "red"]
            window.document.set_current(red[0] if red else 0)
            window.docks["inspector"].raise_()
        if args.grab:
            QTimer.singleShot(500, lambda: (window.grab().save(args.grab), app.quit()))

    QTimer.singleShot(300, train)
    code = app.exec()
    workbench.shutdown()
    return code


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
