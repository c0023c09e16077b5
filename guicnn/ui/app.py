"""Application entry point: ``guicnn-gui [options] [design.json | model.safetensors]`` (installed)
or ``python run_gui.py ...`` (from a checkout)."""

from __future__ import annotations

import argparse
import os
import sys
import time

_STARTED = time.perf_counter()

EPILOG = """examples:
  python run_gui.py                               an empty design
  python run_gui.py my_net.json                   open a design (or a trained .safetensors model)
  python run_gui.py --preset lenet5 --select 3    LeNet-5 with layer 3 (the second Conv2D) selected
  python run_gui.py --preset shapes_cnn --train   train the shapes CNN on the built-in shapes at once
  python run_gui.py --preset tiny_vgg --train     train Tiny VGG on built-in colour shapes (CIFAR-10 is a download)

environment:
  GUICNN_NO_SETTINGS=1    keep recent files and window layout in memory only
  GUICNN_STARTUP_PROBE=1  print the time until the window is shown, then quit (benchmarks)
"""


def parse_args(argv: list[str]) -> argparse.Namespace:
    from guicnn.core.data import BUILTIN_DATASETS

    parser = argparse.ArgumentParser(
        prog="guicnn-gui" if os.path.basename(sys.argv[0]).startswith("guicnn-gui") else "run_gui.py",
        description="guicnn: build a CNN by point and click and see what every setting does.",
        epilog=EPILOG, formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("file", nargs="?", help="a design .json or a trained .safetensors model to open")
    parser.add_argument("--preset", metavar="NAME",
                        help="start from a shipped preset by file stem or name (lenet5, digits_small, "
                             "shapes_cnn, tiny_vgg)")
    parser.add_argument("--select", metavar="INDEX", type=int,
                        help="select layer INDEX (0-based, as on the cards) in the inspector")
    parser.add_argument("--size", metavar="WxH", help="window size, e.g. 1280x800 (default: fit the screen)")
    parser.add_argument("--data", metavar="NAME", choices=BUILTIN_DATASETS,
                        help="built-in data set to load at start: " + ", ".join(BUILTIN_DATASETS)
                        + " (default: what the design trains on now, e.g. shapes-rgb for 3x32x32)")
    parser.add_argument("--tab", metavar="TITLE", choices=("Design", "Training", "One step", "Filters", "Weights",
                                                             "Confusion", "Misclassified", "Predict", "Step through"),
                        help="centre tab to show at start (with --train: when training ends)")
    parser.add_argument("--train", action="store_true", help="start training as soon as the data has loaded")
    parser.add_argument("--epochs", metavar="N", type=int, help="epochs for --train (default: the panel's)")
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    """Start the builder window; returns the process exit status."""
    args = parse_args(sys.argv[1:] if argv is None else list(argv))
    preset = _read_preset(args.preset) if args.preset else None
    if args.preset and preset is None:
        return 2
    from PySide6.QtCore import QTimer
    from PySide6.QtWidgets import QApplication

    from guicnn.core.allocator import keep_freed_memory
    from guicnn.ui.style import apply_style

    keep_freed_memory()  # training steps reuse what the last one freed (no page faults)

    app = QApplication.instance() or QApplication(sys.argv[:1])
    app.setApplicationName("guicnn")
    app.setOrganizationName("guicnn")
    apply_style(app)
    window = build_window(args, preset)
    window.show()
    if os.environ.get("GUICNN_STARTUP_PROBE") == "1":
        QTimer.singleShot(0, lambda: _report_startup(app))
    return app.exec()


def _read_preset(name: str) -> dict | None:
    """A shipped preset, or None after saying on stderr which ones exist."""
    from guicnn.core import GuicnnError
    from guicnn.core.designfile import load_preset

    try:
        return load_preset(name)
    except GuicnnError as exc:
        print(f"run_gui.py: {exc}", file=sys.stderr)
        return None


def build_window(args: argparse.Namespace, preset: dict | None = None):
    """The main window with the preset or file of the command line opened."""
    from PySide6.QtWidgets import QApplication

    from guicnn.ui.main_window import MainWindow

    window = MainWindow(initial_data=args.data or "auto")
    workbench = window.workbench
    if args.size:
        width, height = _parse_size(args.size)
        window.resize(width, height)
    else:
        screen = QApplication.primaryScreen().availableGeometry()
        # The whole of a laptop-sized screen (up to 1440x900: at 1366x768 every pixel counts),
        # 90% of a larger one but at least 1280x800.
        def fit(available: int, least: int, small: int) -> int:
            return available if available <= small else max(least, int(available * 0.9))

        window.resize(fit(screen.width(), 1280, 1440), fit(screen.height(), 800, 900))
        window.restore_layout()
    if preset is None and args.preset:
        preset = _read_preset(args.preset)
    if preset is not None:
        window.document.load(preset)
    if args.file:
        window.open_file(args.file)
    if args.select is not None:
        from PySide6.QtCore import QTimer

        window.document.set_current(args.select)
        # Again once the window is laid out, so the stack scrolls the card into view.
        QTimer.singleShot(100, lambda: (window.document.set_current(-1), window.document.set_current(args.select)))
    if args.tab:
        workbench.show_tab(args.tab)
    if args.train:
        _train_when_data_is_ready(workbench, args.epochs, args.tab)
    return window


def _train_when_data_is_ready(workbench, epochs: int | None, tab: str | None) -> None:
    """--train: press Train as soon as the data set has loaded, show ``tab`` when it ends."""
    if epochs:
        workbench.training_panel.epochs.setValue(epochs)
    if tab:
        workbench.controller.finished.connect(lambda _report: workbench.show_tab(tab))
    panel = workbench.data_panel

    def start(*_args) -> None:
        panel.datasetChanged.disconnect(start)
        workbench.start_training(False)

    panel.datasetChanged.connect(start)


def _parse_size(text: str) -> tuple[int, int]:
    try:
        width, height = (int(part) for part in text.lower().split("x"))
        return width, height
    except ValueError:
        raise SystemExit(f"run_gui.py: --size must look like 1280x800, got {text!r}") from None


def _report_startup(app) -> None:
    print(f"GUICNN_SHOWN epoch={time.time():.6f} in_process={time.perf_counter() - _STARTED:.3f}", flush=True)
    app.quit()
