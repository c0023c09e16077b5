"""Screenshots of every tab of the real window after a short training run (docs/screenshots/).

Run it on an X server of the screen size to show, e.g. with the screenshot tool (which waits
up to -w seconds and keeps going when the script quits by itself):
``screenshot_app.sh -k -w 240 -s 1366x768 /tmp/screen.png -- python scripts/screenshot_tour.py
--out docs/screenshots --suffix 1366 --resize --extras``. It opens the window as ``run_gui.py``
does for that screen (no saved layout), trains a preset on its built-in data, takes one
explained step, then saves ``<prefix>_<tab>_<suffix>.png`` for every tab, the feature maps of
one layer and the Data panel; ``--resize`` adds the window at 1000x650 and enlarged again,
``--extras`` the user guide and the Tiny VGG preset with the data it offers; then it quits.

    python scripts/screenshot_tour.py --preset shapes_cnn --epochs 6 --out /tmp/shots --suffix 1366
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

os.environ.setdefault("GUICNN_NO_SETTINGS", "1")
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from PySide6.QtCore import QEventLoop, QTimer  # noqa: E402
from PySide6.QtWidgets import QApplication  # noqa: E402


def settle(app: QApplication, ms: int = 400) -> None:
    loop = QEventLoop()
    QTimer.singleShot(ms, loop.quit)
    loop.exec()


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--preset", default="shapes_cnn")
    parser.add_argument("--epochs", type=int, default=6)
    parser.add_argument("--samples", type=int, default=3000)
    parser.add_argument("--out", default="docs/screenshots")
    parser.add_argument("--suffix", default="", help="added to every file name, e.g. the screen width")
    parser.add_argument("--size", help="window size WxH instead of fitting the screen")
    parser.add_argument("--layer", type=int, default=0, help="layer shown alone on the feature-map page")
    parser.add_argument("--predict-index", type=int, default=0, help="data set image put on the Predict canvas")
    parser.add_argument("--resize", action="store_true", help="also shrink to 1000x650 and enlarge again")
    parser.add_argument("--prefix", default="polish", help="file names start with this")
    parser.add_argument("--extras", action="store_true",
                        help="also the user guide and a colour preset with the data it offers")
    args = parser.parse_args()

    from guicnn.ui.app import build_window, parse_args
    from guicnn.ui.style import apply_style
    from guicnn.ui.training.workbench import TABS

    app = QApplication.instance() or QApplication(sys.argv[:1])
    app.setApplicationName("guicnn")
    apply_style(app)
    gui_args = ["--preset", args.preset, "--train", "--epochs", str(args.epochs)]
    if args.size:
        gui_args += ["--size", args.size]
    window = build_window(parse_args(gui_args))
    window.show()
    workbench = window.workbench
    if args.samples:
        workbench.data_panel.shapes_count.setValue(args.samples)
    done = QEventLoop()
    workbench.controller.finished.connect(lambda _report: QTimer.singleShot(300, done.quit))
    QTimer.singleShot(600_000, done.quit)
    done.exec()
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    suffix = f"_{args.suffix}" if args.suffix else ""

    def shot(name: str, widget=None) -> None:
        settle(app)
        path = out / f"{args.prefix}_{name}{suffix}.png"
        (widget or window).grab().save(str(path))
        print(path, flush=True)

    window.docks["training"].raise_()
    # One explained step (the Step button) for the "One step" tab, then Stop.
    stepped = QEventLoop()
    workbench.controller.explained.connect(lambda _explanation: QTimer.singleShot(300, stepped.quit))
    QTimer.singleShot(60_000, stepped.quit)
    if workbench.step_training(True):
        stepped.exec()
        stopped = QEventLoop()
        workbench.controller.finished.connect(lambda _report: QTimer.singleShot(300, stopped.quit))
        workbench.controller.stop()
        stopped.exec()
    data = workbench.data_panel.dataset()
    workbench.predict.set_image(data.x[int(args.predict_index)])  # Predict shows an answer, not a hint
    for title in TABS:
        workbench.show_tab(title)
        shot(title.lower().replace(" ", "_"))
    workbench.show_tab("Training")
    workbench.feature_maps.set_selected_layer(args.layer)
    shot("feature_maps_layer")
    workbench.feature_maps.set_selected_layer(-1)
    window.docks["data"].raise_()
    workbench.show_tab("Design")
    shot("data_panel")
    if args.resize:  # shrink to 1000x650 and back, as a user would: nothing may stay squeezed
        size = window.size()
        window.resize(1000, 650)
        workbench.show_tab("Training")
        shot("training_1000x650")
        window.resize(size)
        shot("training_after_resize")
        window.docks["data"].raise_()
        shot("data_after_resize")
    if args.extras:
        guide = window.show_guide("building.md")
        guide.resize(760, 620)
        shot("help_guide", guide)
        guide.close()
        from PySide6.QtWidgets import QMessageBox

        from guicnn.core.designfile import preset_paths

        QMessageBox.warning = lambda *a, **k: QMessageBox.StandardButton.Discard  # drop the trained weights
        window.new_from_preset(next(p for p in preset_paths() if p.stem == "tiny_vgg"))
        loaded = QEventLoop()
        workbench.data_panel.datasetChanged.connect(lambda _data: QTimer.singleShot(300, loaded.quit))
        QTimer.singleShot(60_000, loaded.quit)
        loaded.exec()
        window.docks["data"].raise_()
        workbench.show_tab("Design")
        shot("tiny_vgg_data_offer")
    workbench.shutdown()
    from PySide6.QtWidgets import QMessageBox

    QMessageBox.warning = lambda *a, **k: QMessageBox.StandardButton.Discard  # close without asking
    window.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
