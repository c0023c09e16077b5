"""Show every inspection view filled from a real model trained briefly on real data.

    python scripts/demo_views.py                      # shapes preset, all views in tabs
    python scripts/demo_views.py --data digits --tab confusion --cell 3 5
    python scripts/demo_views.py --live               # train while watching (in the GUI thread)

For screenshots under Xvfb (see /work/shared/tools/screenshot_app.sh) pick the tab with
``--tab``; ``--grab FILE`` saves the window itself and quits.
"""

from __future__ import annotations

import argparse
import sys
import time

import numpy as np
from PySide6.QtCore import QTimer
from PySide6.QtWidgets import QApplication, QMainWindow, QTabWidget

from guicnn.core.data import load_digits, make_shapes
from guicnn.core.designfile import load_preset
from guicnn.core.training import EpochReport, StepReport, Trainer, TrainSettings
from guicnn.ui.style import apply_style
from guicnn.ui.views import (
    ConfusionView,
    CurvesView,
    FeatureMapsView,
    FiltersView,
    HistogramsView,
    MisclassifiedView,
    PredictView,
    layer_labels,
)

TABS = ("curves", "feature_maps", "filters", "histograms", "confusion", "misclassified", "predict")
PRESETS = {"shapes": "shapes_cnn", "digits": "digits_small"}


def load_data(name: str, samples: int):
    data = make_shapes(samples, seed=0) if name == "shapes" else load_digits()
    return data


class Demo(QMainWindow):
    def __init__(self, args: argparse.Namespace) -> None:
        super().__init__()
        self.args = args
        self.setWindowTitle(f"guicnn views · {args.data}")
        self.data = load_data(args.data, args.samples)
        settings = TrainSettings(epochs=args.epochs, batch_size=32, seed=args.seed,
                                 optimizer={"type": "adam", "lr": args.lr}, val_fraction=0.25)
        self.trainer = Trainer.from_config(load_preset(PRESETS[args.data]), settings)
        self.train_set, self.val_set = self.trainer.split_data(self.data)
        self.views = {
            "curves": CurvesView(), "feature_maps": FeatureMapsView(), "filters": FiltersView(),
            "histograms": HistogramsView(), "confusion": ConfusionView(), "misclassified": MisclassifiedView(),
            "predict": PredictView(),
        }
        titles = {"curves": "Curves", "feature_maps": "Feature maps", "filters": "Filters",
                  "histograms": "Histograms", "confusion": "Confusion matrix", "misclassified": "Misclassified",
                  "predict": "Predict"}
        self.tabs = QTabWidget()
        for key, view in self.views.items():
            self.tabs.addTab(view, titles[key])
        self.setCentralWidget(self.tabs)
        self.views["feature_maps"].set_layers(layer_labels(self.trainer.model))
        predict = self.views["predict"]
        predict.set_input_shape(self.data.input_shape)
        predict.set_class_names(self.data.class_names)
        predict.imageReady.connect(self.predict)
        self.views["confusion"].exampleActivated.connect(self.use_as_probe)
        self.views["misclassified"].exampleActivated.connect(self.use_as_probe)
        self.probe_index = args.probe
        self.iterator = None
        self.steps_per_epoch = 1

    # ---- training ---------------------------------------------------------------------------
    def train(self) -> None:
        """Train to the end now, feeding the curves as the GUI would."""
        for report in self.trainer.fit_iter(self.train_set, self.val_set):
            self.on_report(report)
        self.refresh_all()

    def start_live(self) -> None:
        self.iterator = self.trainer.fit_iter(self.train_set, self.val_set)
        self.timer = QTimer(self)
        self.timer.timeout.connect(self.live_tick)
        self.timer.start(30)
        self.last_maps = 0.0

    def live_tick(self) -> None:
        for _ in range(2):
            report = next(self.iterator, None)
            if report is None:
                self.timer.stop()
                self.refresh_all()
                return
            self.on_report(report)
        if time.monotonic() - self.last_maps > 0.3:
            self.last_maps = time.monotonic()
            self.refresh_feature_maps()

    def on_report(self, report) -> None:
        curves = self.views["curves"]
        if isinstance(report, StepReport):
            self.steps_per_epoch = report.batches_per_epoch
            curves.add_step(report.epoch - 1 + report.batch / report.batches_per_epoch, report.loss, report.accuracy)
        elif isinstance(report, EpochReport):
            curves.add_epoch(report.epoch, report.val_loss, report.val_accuracy, report.train_loss,
                             report.train_accuracy)
            if self.iterator is not None:
                self.refresh_all()

    # ---- inspection -----------------------------------------------------------------------------
    def normalised(self, x: np.ndarray) -> np.ndarray:
        norm = self.trainer.normalization
        return norm.apply(x) if norm is not None else x

    def refresh_feature_maps(self) -> None:
        model = self.trainer.model
        x = self.val_set.x[self.probe_index : self.probe_index + 1]
        model.forward(self.normalised(x), training=False, keep=True)
        label = self.val_set.class_names[int(self.val_set.y[self.probe_index])]
        self.views["feature_maps"].set_activations(x[0], [a[0] for a in model.activations],
                                                   self.data.class_names, probe_caption=f"true class: {label}")
        model.clear_caches()

    def refresh_all(self) -> None:
        model = self.trainer.model
        self.refresh_feature_maps()
        self.views["filters"].set_model(model)
        probe = self.normalised(self.val_set.x[:128])
        model.forward(probe, training=False, keep=True)
        self.views["histograms"].update_from_model(model, model.activations)
        model.clear_caches()
        result = self.trainer.evaluate(self.val_set.x, self.val_set.y)
        confidence = result.probabilities.max(axis=1)
        names = self.data.class_names
        epoch = self.trainer.epoch
        confusion = self.views["confusion"]
        confusion.set_confusion(result.confusion, names, subtitle=f"validation set after epoch {epoch}")
        confusion.set_examples(self.val_set.x, self.val_set.y, result.predictions, confidence)
        self.views["misclassified"].set_examples(self.val_set.x, self.val_set.y, result.predictions, confidence, names)
        if self.args.cell:
            confusion.select_cell(*self.args.cell)
        else:
            off = result.confusion - np.diag(np.diag(result.confusion))
            if off.any():
                confusion.select_cell(*np.unravel_index(int(np.argmax(off)), off.shape))

    def use_as_probe(self, index: int) -> None:
        self.probe_index = int(index)
        self.refresh_feature_maps()
        self.tabs.setCurrentWidget(self.views["feature_maps"])

    def predict(self, image: np.ndarray) -> None:
        model = self.trainer.model
        probs = model.predict_proba(self.normalised(image[None]))[0]
        self.views["predict"].show_probabilities(probs)
        model.forward(self.normalised(image[None]), training=False, keep=True)
        self.views["feature_maps"].set_activations(image, [a[0] for a in model.activations], self.data.class_names,
                                                   probe_caption="your drawing")
        model.clear_caches()

    def draw_example(self) -> None:
        """Draw on the predict canvas (so its screenshot is not empty): a filled disk for shapes, a 7 for digits."""
        canvas = self.views["predict"].canvas
        if self.args.data == "shapes":
            turns = np.linspace(0, 6 * np.pi, 240)  # a spiral scribble, as a person fills a circle
            radius = 0.04 + 0.26 * turns / turns[-1]
            canvas.draw_stroke(list(zip(0.5 + radius * np.cos(turns), 0.5 + radius * np.sin(turns))))
        else:
            canvas.draw_stroke([(0.2, 0.15), (0.8, 0.15), (0.45, 0.9)])

    def select_biggest_weights(self) -> None:
        model = self.trainer.model
        sizes = [(layer.params["weight"].size, i) for i, layer in enumerate(model.layers) if "weight" in layer.params]
        self.views["histograms"].set_selected(max(sizes)[1], "weight")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--data", choices=sorted(PRESETS), default="shapes")
    parser.add_argument("--samples", type=int, default=1000, help="shapes to generate (default 1000)")
    parser.add_argument("--epochs", type=int, default=6)
    parser.add_argument("--lr", type=float, default=0.001)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--probe", type=int, default=0, help="index of the probe image in the validation set")
    parser.add_argument("--tab", choices=TABS, default="feature_maps")
    parser.add_argument("--layer", type=int, default=None, help="feature-map layer to select (-1 = overview)")
    parser.add_argument("--cell", type=int, nargs=2, metavar=("TRUE", "PREDICTED"), help="confusion cell to open")
    parser.add_argument("--live", action="store_true", help="train while the window is open")
    parser.add_argument("--size", default="1280x800")
    parser.add_argument("--hover", type=float, help="show the curves' read-out at this epoch (for screenshots)")
    parser.add_argument("--grab", help="save a picture of the window to this file after --grab-after ms, then quit")
    parser.add_argument("--grab-after", type=int, default=1500)
    args = parser.parse_args(argv)

    app = QApplication.instance() or QApplication(sys.argv[:1])
    apply_style(app)
    demo = Demo(args)
    width, height = (int(v) for v in args.size.split("x"))
    demo.setGeometry(0, 0, width, height)
    demo.tabs.setCurrentIndex(TABS.index(args.tab))
    if args.live:
        demo.start_live()
    else:
        demo.train()
        demo.draw_example()
        demo.refresh_feature_maps()  # the probe, not the predict image
        demo.select_biggest_weights()
    if args.layer is not None:
        demo.views["feature_maps"].set_selected_layer(args.layer)
    if args.hover is not None:
        QTimer.singleShot(500, lambda: demo.views["curves"].readout_at(args.hover))
    demo.show()
    if args.grab:
        QTimer.singleShot(args.grab_after, lambda: (demo.grab().save(args.grab), app.quit()))
    return app.exec()


if __name__ == "__main__":
    sys.exit(main())
