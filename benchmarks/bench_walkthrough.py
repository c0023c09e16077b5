"""Time the Step-through view's GUI-thread work: opening a layer, one step, one drag, with repaint.

    QT_QPA_PLATFORM=offscreen python benchmarks/bench_walkthrough.py

Layers of the tiny_vgg preset (3×32×32 input, the biggest preset) and a 3×128×128 input:
opening computes the layer's real input (the model up to the layer) and the walkthrough
(the layer's forward) — with one BLAS thread, as the workbench does; a step or a drag
recomputes one window and repaints the three grids.
"""

from __future__ import annotations

import os
import sys

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

import numpy as np  # noqa: E402
from PySide6.QtWidgets import QApplication  # noqa: E402
from guicnn.core.parallel import thread_limit  # noqa: E402

from guicnn.core.designfile import load_preset  # noqa: E402
from guicnn.core.model import Sequential  # noqa: E402
from guicnn.core.walkthrough import layer_input  # noqa: E402
from guicnn.ui.style import apply_style  # noqa: E402
from guicnn.ui.views.walkthrough import WalkthroughView  # noqa: E402

sys.path.insert(0, os.path.dirname(__file__))
from bench_views import measure, report  # noqa: E402


def main() -> int:
    app = QApplication.instance() or QApplication(sys.argv[:1])
    apply_style(app)
    print(f"{'update':<62} {'call':>11} {'+ repaint':>12}")
    view = WalkthroughView()
    view.resize(1100, 650)
    view.show()
    for size in (32, 128):
        design = load_preset("tiny_vgg")
        design["input_shape"] = [3, size, size]
        model = Sequential.from_config(design, seed=0)
        image = np.random.default_rng(0).random((3, size, size), dtype=np.float32)
        for index in (0, 3, 5):
            layer = model.layers[index]
            name = f"{size}×{size} · layer {index} {layer.describe()}"

            def open_layer() -> None:
                view.layer_index = None  # a different layer each time: the full set-up
                with thread_limit(1):  # as the window does
                    view.set_layer(index, layer, {"real": layer_input(model, index, image), "probe": image})

            report(f"open {name}", measure(open_layer, view, repeats=10))
            report(f"step {name}", measure(view.step_forward, view))
            spots = iter([(2, 3), (7, 5)] * 100)  # alternate, so every drag moves the window

            def drag() -> None:
                row, col = next(spots)
                view._window_dragged(row * view.walk.stride[0], col * view.walk.stride[1])

            report(f"drag {name}", measure(drag, view))
    return 0


if __name__ == "__main__":
    sys.exit(main())
