"""Open the app in one of the "explain the design" states, for screenshots and for trying them out.

    python scripts/demo_explain_design.py field                 # trained shapes CNN, a conv unit traced to the input
    python scripts/demo_explain_design.py field --dilated       # a dilated, strided design: gaps shown as gaps
    python scripts/demo_explain_design.py field --page layer    # the single-layer page instead of the overview
    python scripts/demo_explain_design.py arithmetic            # inspector: a strided, padded, dilated convolution
    python scripts/demo_explain_design.py fixes                 # a red card with its fix buttons
    python scripts/demo_explain_design.py predict               # Predict: a drawn shape, a unit traced on it

``--size 1366x768`` sets the window size; under Xvfb use /work/shared/tools/screenshot_app.sh.
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
from pathlib import Path

from PySide6.QtCore import Qt, QTimer
from PySide6.QtWidgets import QApplication

from guicnn import cli
from guicnn.core.designfile import load_preset
from guicnn.ui.main_window import MainWindow
from guicnn.ui.style import apply_style

DILATED = {
    "name": "Dilated and strided", "input_shape": [1, 28, 28], "layers": [
        {"type": "Conv2D", "filters": 8, "kernel_size": 3, "dilation": 2, "padding": 2},
        {"type": "ReLU"},
        {"type": "Conv2D", "filters": 8, "kernel_size": 3, "stride": 2, "dilation": 2, "padding": "same"},
        {"type": "ReLU"},
        {"type": "MaxPool2D", "pool_size": 3, "stride": 2},
        {"type": "Flatten"}, {"type": "Dense", "units": 5}, {"type": "Softmax"},
    ],
}

STRIDED_PADDED_DILATED = {
    "name": "Stride, padding and dilation", "input_shape": [3, 32, 32], "layers": [
        {"type": "Conv2D", "filters": 16, "kernel_size": 5, "padding": 2},
        {"type": "ReLU"},
        {"type": "Conv2D", "filters": 32, "kernel_size": 3, "stride": 2, "padding": 3, "dilation": 2},
        {"type": "ReLU"},
        {"type": "GlobalAvgPool2D"}, {"type": "Dense", "units": 10},
    ],
}

TOO_SMALL = {
    "name": "LeNet-5 on 8×8 digits", "input_shape": [1, 8, 8], "layers": [
        {"type": "Conv2D", "filters": 6, "kernel_size": 5, "padding": 2}, {"type": "ReLU"},
        {"type": "MaxPool2D", "pool_size": 2},
        {"type": "Conv2D", "filters": 16, "kernel_size": 5}, {"type": "ReLU"},
        {"type": "MaxPool2D", "pool_size": 2},
        {"type": "Flatten"}, {"type": "Dense", "units": 120}, {"type": "ReLU"}, {"type": "Dense", "units": 10},
    ],
}


def trained_model(design: dict, epochs: int, folder: Path) -> Path:
    """Train ``design`` on the built-in shapes for a few epochs with the CLI; the model file's path."""
    design_path, model_path = folder / "design.json", folder / "model.safetensors"
    design_path.write_text(json.dumps(design))
    code = cli.main(["train", str(design_path), "--data", "shapes", "--epochs", str(epochs), "--out",
                     str(model_path), "--quiet"])
    if code != 0:
        raise SystemExit("training the demo model failed")
    return model_path


def when(condition, action, interval: int = 100, tries: int = 300) -> None:
    """Run ``action`` once ``condition()`` holds (polled on the event loop)."""
    def poll(left: int) -> None:
        if condition():
            action()
        elif left:
            QTimer.singleShot(interval, lambda: poll(left - 1))
    poll(tries)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("state", choices=("field", "arithmetic", "fixes", "predict"))
    parser.add_argument("--size", default="1366x768")
    parser.add_argument("--page", choices=("overview", "layer"), default="overview")
    parser.add_argument("--dilated", action="store_true")
    parser.add_argument("--layer", type=int)
    parser.add_argument("--unit", type=int, nargs=2)
    parser.add_argument("--epochs", type=int, default=2)
    parser.add_argument("--model", type=Path, help="a trained model file to show (default: train one first)")
    args = parser.parse_args()

    app = QApplication.instance() or QApplication(sys.argv[:1])
    apply_style(app)
    window = MainWindow(initial_data="shapes" if args.state in ("field", "predict") else None)
    width, height = (int(v) for v in args.size.split("x"))
    window.resize(width, height)
    folder = Path(tempfile.mkdtemp(prefix="guicnn-demo-"))
    workbench, document = window.workbench, window.document

    if args.state in ("field", "predict"):
        design = DILATED if args.dilated else load_preset("shapes_cnn")
        window.open_file(args.model or trained_model(design, args.epochs, folder))
        layer = args.layer if args.layer is not None else (2 if args.dilated else 3)
        row, col = args.unit or ((3, 4) if args.dilated else (5, 8))
        if args.state == "field":
            workbench.show_tab("Training")
            view = workbench.feature_maps
            view.parentWidget().setSizes([140, 10_000])  # the curves small: the maps are the subject
            for dock in window.docks.values():  # as a teacher would before projecting it
                dock.hide()
            if args.page == "layer":
                view.set_selected_layer(layer)
        else:
            workbench.show_tab("Predict")
            view = workbench.predict.feature_maps
            for dock in window.docks.values():
                dock.hide()

            def draw() -> None:
                workbench.predict.canvas.draw_stroke([(0.2, 0.8), (0.5, 0.18), (0.8, 0.8), (0.2, 0.8)])
            when(lambda: workbench.data_panel.dataset() is not None, draw)
        when(lambda: view.current_page() in ("overview", "maps"), lambda: view.select_unit(layer, row, col))
    elif args.state == "arithmetic":
        document.load(STRIDED_PADDED_DILATED)
        QTimer.singleShot(300, lambda: window.resizeDocks([window.docks["inspector"]], [620],
                                                          Qt.Orientation.Horizontal))

        def show_arithmetic() -> None:  # scroll the inspector to its arithmetic
            inspector = window.inspector
            top = inspector.page.arithmetic.mapTo(inspector.widget(), inspector.page.arithmetic.rect().topLeft())
            inspector.verticalScrollBar().setValue(top.y() - 4)
        QTimer.singleShot(900, show_arithmetic)
        QTimer.singleShot(200, lambda: document.set_current(2))
    else:
        document.load(TOO_SMALL)
        QTimer.singleShot(200, lambda: document.set_current(3))
        stack = window.stack.view
        QTimer.singleShot(600, lambda: stack.scrollTo(stack.stack_model.index(4),
                                                      stack.ScrollHint.PositionAtCenter))
    window.show()
    return app.exec()


if __name__ == "__main__":
    sys.exit(main())
