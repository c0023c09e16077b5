"""Readable at 1366×768 and after resizing: panels keep a readable width, pages scroll instead of
squeezing them, and no label, number or plot is cut off or runs into its neighbour."""

from __future__ import annotations

import numpy as np
import pytest
from PySide6.QtCore import QRectF, Qt
from PySide6.QtGui import QFontMetrics
from PySide6.QtWidgets import QMessageBox, QScrollArea

from guicnn.core.designfile import load_preset
from guicnn.core.model import Sequential
from guicnn.ui.builder.document import DesignDocument
from guicnn.ui.main_window import MainWindow
from guicnn.ui.settings import SettingsStore
from guicnn.ui.views import ConfusionView, CurvesView, FeatureMapsView, HistogramsView, PredictView, layer_labels


@pytest.fixture
def window(qtbot, monkeypatch):
    window = MainWindow(DesignDocument(load_preset("lenet5")))
    qtbot.addWidget(window)
    window.resize(1280, 768)
    window.show()
    qtbot.waitExposed(window)
    qtbot.wait(50)
    yield window
    monkeypatch.setattr(QMessageBox, "warning", lambda *a, **k: QMessageBox.StandardButton.Discard)


def _side_widths(window):
    shown = next(window.docks[n] for n in ("inspector", "data", "training") if window.docks[n].isVisible())
    return window.docks["palette"].width(), shown.width()


def test_the_widest_page_does_not_squeeze_the_side_panels(window):
    """Each tab of the centre scrolls when it is wider than its room (the step-through page alone
    wanted 861 px), so the panels beside it keep their width at 1280×768."""
    tabs = window.workbench.tabs
    assert all(isinstance(tabs.widget(i), QScrollArea) for i in range(tabs.count()))
    assert tabs.minimumSizeHint().width() < 200
    palette, right = _side_widths(window)
    char = window.fontMetrics().horizontalAdvance("0")
    assert palette >= 24 * char and right >= 40 * char  # as laid out, not squeezed
    assert window.palette.width() >= QFontMetrics(window.font()).horizontalAdvance("SpatialPyramidPool2D")


def test_shrinking_keeps_panels_readable_and_enlarging_gives_their_width_back(window, qtbot):
    before = _side_widths(window)
    window.resize(1000, 650)
    qtbot.wait(100)
    palette, right = _side_widths(window)
    assert palette >= window.readable_width("palette") and right >= window.readable_width("inspector")
    assert window.workbench.tabs.width() >= 400  # the centre is narrowed too, not only the panels
    window.resize(1280, 768)
    qtbot.wait(100)
    assert _side_widths(window) == pytest.approx(before, abs=4)


def test_a_layout_saved_on_a_small_screen_does_not_squeeze_the_panels(qtbot, monkeypatch):
    settings = SettingsStore()
    small = MainWindow(DesignDocument(load_preset("lenet5")), settings)
    qtbot.addWidget(small)
    small.resize(1000, 650)
    small.show()
    qtbot.waitExposed(small)
    small.resizeDocks([small.docks["palette"]], [10], Qt.Orientation.Horizontal)  # the user drags it narrow
    qtbot.wait(50)
    assert small.docks["palette"].width() >= small.readable_width("palette")  # never below readable
    settings.set_value("window/state", small.saveState())
    big = MainWindow(DesignDocument(load_preset("lenet5")), settings)
    qtbot.addWidget(big)
    big.resize(1600, 900)
    big.show()
    big.restore_layout()
    qtbot.wait(150)
    char = big.fontMetrics().horizontalAdvance("0")
    assert big.docks["palette"].width() >= 24 * char  # the saved squeeze is undone where there is room
    monkeypatch.setattr(QMessageBox, "warning", lambda *a, **k: QMessageBox.StandardButton.Discard)


def test_the_data_panel_is_never_cut_on_the_right(window, qtbot):
    window.docks["data"].raise_()
    window.resize(1000, 650)
    qtbot.wait(100)
    scroll = window.workbench.data_panel.findChild(QScrollArea)
    content = scroll.widget()
    assert content.width() <= scroll.viewport().width() or scroll.horizontalScrollBar().isVisible()
    assert content.minimumSizeHint().width() <= scroll.viewport().width()


def _tile_pixels(view: FeatureMapsView) -> float:
    rect = view.map_view.mapViewToDevice(QRectF(0, 0, 28, 28)).boundingRect()
    return rect.width()


def test_one_layers_feature_maps_keep_big_tiles_and_a_short_caption(qtbot):
    model = Sequential.from_config(load_preset("lenet5"), seed=0)
    image = np.random.default_rng(0).random((1, 1, 28, 28), dtype=np.float32)
    model.forward(image, training=False, keep=True)
    view = FeatureMapsView()
    qtbot.addWidget(view)
    view.resize(700, 500)
    view.show()
    view.set_layers(layer_labels(model))
    view.set_activations(image[0], [a[0] for a in model.activations])
    view.set_selected_layer(0)
    qtbot.wait(100)
    lines = view.explanation.height() / view.explanation.fontMetrics().lineSpacing()
    assert lines <= 4  # beside the colour chooser it wrapped one word per line
    assert _tile_pixels(view) >= 40  # it was ~20 px


@pytest.mark.parametrize("width", [520, 700, 1000])
def test_confusion_counts_and_names_fit_their_cells(qtbot, width):
    names = ["T-shirt/top", "Trouser", "Pullover", "Dress", "Coat", "Sandal", "Shirt", "Sneaker", "Bag", "Ankle boot"]
    rng = np.random.default_rng(1)
    matrix = rng.integers(0, 40, (10, 10))
    np.fill_diagonal(matrix, rng.integers(900, 1000, 10))  # four-digit numbers on the diagonal
    view = ConfusionView()
    qtbot.addWidget(view)
    view.resize(width, 640)
    view.show()
    view.set_confusion(matrix, names)
    qtbot.wait(100)
    plot = view.matrix_plot
    cell = plot.vb.mapViewToDevice(QRectF(0, 0, 1, 1)).boundingRect().width()
    shown = [text for text in view._texts if text.isVisible()]
    for text in shown:  # the digits themselves (the item adds a margin around them)
        digits = QFontMetrics(text.textItem.font()).horizontalAdvance(text.toPlainText())
        assert digits <= cell - 2, (width, text.toPlainText(), cell)
    assert shown or width < 600  # hidden only when even the smallest font does not fit
    metrics = QFontMetrics(plot.getAxis("bottom").font())
    assert all(metrics.horizontalAdvance(label) <= cell for label in view.column_labels()), view.column_labels()
    assert len(view.column_labels()) == 10
    assert (view.splitter.orientation().name == "Vertical") == (width < 860)  # the gallery goes below


def test_the_best_epoch_label_stays_inside_its_plot(qtbot):
    view = CurvesView()
    qtbot.addWidget(view)
    view.resize(560, 360)
    view.show()
    epochs = np.arange(1, 294)
    accuracy = np.minimum(0.5 + epochs / 500, 0.99)
    accuracy[246] = 0.995  # best epoch 247, near the right end
    view.set_history({"epoch": list(epochs), "train_loss": list(1 / epochs), "train_accuracy": list(accuracy),
                      "val_loss": list(2 / epochs), "val_accuracy": list(accuracy)})
    qtbot.wait(100)
    for index, plot in enumerate((view.loss_plot, view.accuracy_plot)):
        rect = view.best_label_rect(index)
        assert rect.left() >= 0 and rect.right() <= plot.vb.width() + 1, (index, rect, plot.vb.width())
        assert view.best_label_text(index).startswith("best")  # not "est epoch 247"


def test_four_legend_entries_keep_the_accuracy_plot_inside_the_window(qtbot):
    view = CurvesView()
    qtbot.addWidget(view)
    view.resize(620, 360)
    view.show()
    view.set_history({"epoch": [1, 2, 3], "train_loss": [1.0, 0.6, 0.4], "train_accuracy": [0.5, 0.7, 0.8],
                      "val_loss": [0.9, 0.7, 0.5], "val_accuracy": [0.55, 0.7, 0.78]})
    view.add_steps([3.5, 4.0], [0.3, 0.25], [0.85, 0.9])  # Train more: all four legend entries
    view.flush()
    qtbot.wait(100)
    assert len(view._legend_names) == 4 and view.legend_columns() < 4
    right = view.accuracy_plot.sceneBoundingRect().right()
    assert right <= view.graphics.viewport().width() + 1


def test_a_long_bar_keeps_its_percentage_inside_the_plot(qtbot):
    view = PredictView()
    qtbot.addWidget(view)
    view.resize(700, 500)
    view.show()
    view.set_class_names(["circle", "square", "triangle"])
    view.show_probabilities(np.array([0.98, 0.015, 0.005]))
    qtbot.wait(100)
    text = view.bar_texts[0]
    assert text.toPlainText() == "98.0%"
    box = view.plot.vb.sceneBoundingRect()
    label = text.sceneBoundingRect()
    assert box.left() <= label.left() and label.right() <= box.right() + 1


def test_the_gradient_plot_is_not_cut_off_in_a_narrow_weights_tab(qtbot):
    model = Sequential.from_config(load_preset("lenet5"), seed=0)
    view = HistogramsView()
    qtbot.addWidget(view)
    view.resize(560, 520)
    view.show()
    view.update_from_model(model)
    qtbot.wait(100)
    visible = view.graphics.viewport().width()
    assert view.gradients.plot.sceneBoundingRect().right() <= visible + 1
    assert view.dead_plot.sceneBoundingRect().right() <= visible + 1
