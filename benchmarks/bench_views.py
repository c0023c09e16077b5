"""Time the update methods of the inspection views (GUI thread work per update).

    QT_QPA_PLATFORM=offscreen python benchmarks/bench_views.py

For each update: the median time of the call itself, and of the call plus the event-loop
pass that follows it, in which the shown widget repaints (offscreen, software raster).
"""

from __future__ import annotations

import os
import statistics
import sys
import time

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

import numpy as np  # noqa: E402
from PySide6.QtWidgets import QApplication  # noqa: E402

from guicnn.core.data import load_digits, make_shapes  # noqa: E402
from guicnn.core.designfile import load_preset  # noqa: E402
from guicnn.core.model import Sequential  # noqa: E402
from guicnn.ui.style import apply_style  # noqa: E402
from guicnn.ui.views import (  # noqa: E402
    ConfusionView,
    CurvesView,
    FeatureMapsView,
    FiltersView,
    HistogramsView,
    MisclassifiedView,
    PredictView,
    layer_labels,
)
from guicnn.ui.views.predict import CANVAS_PIXELS, canvas_to_input  # noqa: E402


def measure(call, widget=None, repeats: int = 30) -> tuple[float, float]:
    """Median milliseconds of ``call()`` and of ``call()`` + the repaint of the shown ``widget``."""
    app = QApplication.instance()
    call()
    app.processEvents()
    alone, painted = [], []
    for _ in range(repeats):
        t0 = time.perf_counter()
        call()
        alone.append(time.perf_counter() - t0)
        if widget is not None:
            t0 = time.perf_counter()
            call()
            app.processEvents()  # runs the deferred redraw and paints the shown widget once
            painted.append(time.perf_counter() - t0)
    return 1000 * statistics.median(alone), 1000 * statistics.median(painted) if painted else float("nan")


def report(name: str, times: tuple[float, float]) -> None:
    print(f"{name:<62} {times[0]:8.2f} ms {times[1]:9.2f} ms")


def main() -> int:
    app = QApplication.instance() or QApplication(sys.argv[:1])
    apply_style(app)
    print(f"{'update':<62} {'call':>11} {'+ repaint':>12}")

    curves = CurvesView()
    curves.resize(1100, 450)
    curves.show()
    rng = np.random.default_rng(0)
    for total in (1_000, 10_000, 50_000):
        curves.clear()
        x = np.arange(1, total + 1) / 500
        curves.add_steps(x, np.exp(-x) + rng.random(total) * 0.1, 1 - np.exp(-x))
        for epoch in range(1, int(x[-1]) + 1):
            curves.add_epoch(epoch, np.exp(-epoch), 1 - np.exp(-epoch))
        curves.flush()
        step = [x[-1]]

        def add_one(step=step):
            step[0] += 0.002
            curves.add_step(step[0], 0.1, 0.9)
            curves.flush()

        report(f"CurvesView.add_step + redraw, {total:,} steps shown", measure(add_one, curves))
    report("CurvesView.add_epoch", measure(lambda: curves.add_epoch(101, 0.2, 0.9), None))

    shapes = make_shapes(256, seed=0)
    for preset in ("shapes_cnn", "lenet5", "tiny_vgg"):
        config = load_preset(preset)
        model = Sequential.from_config(config)
        c, h, w = model.input_shape
        image = np.random.default_rng(0).random((1, c, h, w), dtype=np.float32)
        model.forward(image, keep=True)
        activations = [a[0] for a in model.activations]
        maps = FeatureMapsView()
        maps.resize(1100, 700)
        maps.show()
        maps.set_layers(layer_labels(model))
        maps.set_activations(image[0], activations)
        report(f"FeatureMapsView.set_activations, {preset}, overview",
               measure(lambda maps=maps, image=image, activations=activations:
                       maps.set_activations(image[0], activations), maps))
        widest = max(range(len(activations)), key=lambda i: activations[i].size if activations[i].ndim == 3 else 0)
        maps.set_selected_layer(widest)
        report(f"FeatureMapsView.set_activations, {preset}, layer {widest} "
               f"{'×'.join(map(str, activations[widest].shape))}",
               measure(lambda maps=maps, image=image, activations=activations:
                       maps.set_activations(image[0], activations), maps))
        maps.close()

    model = Sequential.from_config(load_preset("shapes_cnn"))
    filters = FiltersView()
    filters.resize(900, 600)
    filters.show()
    report("FiltersView.set_model, shapes_cnn (layer 0)", measure(lambda: filters.set_model(model), filters))
    filters.set_selected(1)
    report("FiltersView.refresh, shapes_cnn layer 3 (16×8 kernels)", measure(filters.refresh, filters))

    histograms = HistogramsView()
    histograms.resize(900, 600)
    histograms.show()
    batch = shapes.x[:128]
    model.forward(batch, keep=True)
    activations = model.activations
    histograms.set_model(model)
    histograms.set_selected(7, "weight")  # Dense 784→64: 50,176 weights
    report("HistogramsView.update_from_model, Dense 50k weights, 128 probes",
           measure(lambda: histograms.update_from_model(model, activations), histograms))
    big = Sequential.from_config({"input_shape": [1, 28, 28], "layers": [
        {"type": "Flatten"}, {"type": "Dense", "units": 1000}, {"type": "ReLU"}]})
    histograms.set_model(big)
    histograms.set_selected(1, "weight")
    report("HistogramsView.update_from_model, Dense 784k weights (sampled)",
           measure(lambda: histograms.update_from_model(big), histograms))

    digits = load_digits()
    n = 500
    true = digits.y[:n]
    predicted = np.where(rng.random(n) < 0.85, true, rng.integers(0, 10, n))
    confidence = rng.uniform(0.3, 1.0, n)
    matrix = np.zeros((10, 10), np.int64)
    np.add.at(matrix, (true, predicted), 1)
    confusion = ConfusionView()
    confusion.resize(1100, 650)
    confusion.show()
    names = [str(i) for i in range(10)]
    report("ConfusionView.set_confusion, 10 classes",
           measure(lambda: confusion.set_confusion(matrix, names), confusion))
    confusion.set_examples(digits.x[:n], true, predicted, confidence)
    report("ConfusionView.select_cell (gallery of one cell)", measure(lambda: confusion.select_cell(3, 3), confusion))
    wrong = MisclassifiedView()
    wrong.resize(1100, 650)
    wrong.show()
    report(f"MisclassifiedView.set_examples, {n} images ({int((true != predicted).sum())} wrong)",
           measure(lambda: wrong.set_examples(digits.x[:n], true, predicted, confidence, names), wrong))

    predict = PredictView()
    predict.resize(900, 560)
    predict.show()
    predict.set_class_names(names)
    probs = rng.dirichlet(np.ones(10))
    report("PredictView.show_probabilities, 10 classes", measure(lambda: predict.show_probabilities(probs), predict))
    canvas = (rng.random((CANVAS_PIXELS, CANVAS_PIXELS, 3)) * 255).astype(np.uint8)
    report("canvas_to_input 280×280 → 1×28×28 (per drawing update)",
           measure(lambda: canvas_to_input(canvas, (1, 28, 28)), None))
    return 0


if __name__ == "__main__":
    sys.exit(main())
