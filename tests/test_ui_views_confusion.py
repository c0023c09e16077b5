"""ConfusionView and MisclassifiedView: counts, per-class accuracy, clicking a cell, galleries."""

from __future__ import annotations

import numpy as np
import pytest
from PySide6.QtCore import QPointF, Qt
from PySide6.QtTest import QTest

from guicnn.core.data import load_digits
from guicnn.ui.views import ConfusionView, MisclassifiedView

NAMES = ["circle", "square", "triangle"]


@pytest.fixture
def examples():
    """40 real 8×8 digit images with made-up labels, predictions and confidences."""
    data = load_digits()
    rng = np.random.default_rng(0)
    true = rng.integers(0, 3, 40)
    predicted = np.where(rng.random(40) < 0.7, true, rng.integers(0, 3, 40))
    confidence = rng.uniform(0.34, 1.0, 40)
    matrix = np.zeros((3, 3), np.int64)
    np.add.at(matrix, (true, predicted), 1)
    return data.x[:40], true, predicted, confidence, matrix


@pytest.fixture
def view(qtbot):
    widget = ConfusionView()
    qtbot.addWidget(widget)
    widget.resize(1000, 600)
    return widget


def test_counts_in_cells_and_accuracy_per_class(view, examples):
    *_, matrix = examples
    assert view.stack.showing_hint
    view.set_confusion(matrix, NAMES, subtitle="validation set after epoch 2")
    assert view.cell_texts() == [str(v) for v in matrix.ravel()]
    np.testing.assert_allclose(view.class_accuracy(), np.diag(matrix) / matrix.sum(axis=1))
    assert f"{np.trace(matrix)} of {matrix.sum()} images" in view.title.text()
    texts = list(view._texts)
    view.set_confusion(matrix * 2, NAMES)  # same classes: the text items are reused
    assert view._texts == texts and view.cell_texts()[0] == str(2 * matrix[0, 0])


def test_clicking_a_cell_emits_its_classes_and_filters_the_gallery(view, examples, qtbot):
    images, true, predicted, confidence, matrix = examples
    view.set_confusion(matrix, NAMES)
    view.set_examples(images, true, predicted, confidence)
    view.show()
    qtbot.waitExposed(view)
    scene_point = view.matrix_plot.vb.mapViewToScene(QPointF(1.5, 2.5))  # column 1, row 2
    widget_point = view.graphics.mapFromScene(scene_point)
    with qtbot.waitSignal(view.cellClicked, timeout=2000) as signal:
        QTest.mouseClick(view.graphics.viewport(), Qt.MouseButton.LeftButton, pos=widget_point)
    assert signal.args == [2, 1]
    assert view.selected_cell() == (2, 1)
    chosen = np.flatnonzero((true == 2) & (predicted == 1))
    assert view.gallery.count() == len(chosen) == matrix[2, 1] > 0
    expected = chosen[np.argsort(-confidence[chosen], kind="stable")]
    assert view.gallery.indices() == list(expected)
    assert view.gallery.captions() == [f"p={confidence[i]:.2f}" for i in expected]
    assert "True triangle, predicted square" in view.gallery_title.text()


def test_select_cell_without_images_and_out_of_range(view, examples, qtbot):
    *_, matrix = examples
    view.set_confusion(matrix, NAMES)
    with qtbot.assertNotEmitted(view.cellClicked):
        view.select_cell(5, 0)
    view.select_cell(0, 0)
    assert "not provided" in view.gallery_title.text()


def test_many_classes_hide_the_counts(view):
    matrix = np.eye(25, dtype=np.int64) * 3
    view.set_confusion(matrix, [f"c{i}" for i in range(25)])
    assert all(text == "" for text in view.cell_texts())
    with pytest.raises(ValueError, match="square"):
        view.set_confusion(np.zeros((2, 3)), ["a", "b"])


def test_misclassified_gallery_most_confidently_wrong_first(qtbot, examples):
    images, true, predicted, confidence, _ = examples
    view = MisclassifiedView()
    qtbot.addWidget(view)
    assert view.stack.showing_hint
    view.set_examples(images, true, predicted, confidence, NAMES)
    wrong = np.flatnonzero(true != predicted)
    order = wrong[np.argsort(-confidence[wrong], kind="stable")]
    assert view.gallery.indices() == list(order)
    first = order[0]
    assert view.captions()[0] == f"{NAMES[true[first]]} → {NAMES[predicted[first]]}\n(p={confidence[first]:.2f})"
    assert view.gallery.iconSize().width() == 72  # 8×8 digits blown up ×9, nearest neighbour
    with qtbot.waitSignal(view.exampleActivated) as signal:
        view.gallery.itemDoubleClicked.emit(view.gallery.item(1))
    assert signal.args == [int(order[1])]
    view.set_examples(images[:3], true[:3], true[:3], confidence[:3])
    assert view.stack.showing_hint and "No mistakes" in view.stack.hint_label.text()
    view.clear()
    assert view.stack.showing_hint and "No predictions yet" in view.stack.hint_label.text()
