"""PredictView: drawing with the mouse, area-averaged model input, loading images, top-k bars."""

from __future__ import annotations

import numpy as np
import pytest
from PIL import Image
from PySide6.QtCore import QPoint, Qt
from PySide6.QtTest import QTest

from guicnn.ui.views import PredictView
from guicnn.ui.views.predict import CANVAS_PIXELS, canvas_to_input


@pytest.fixture
def view(qtbot):
    widget = PredictView()
    qtbot.addWidget(widget)
    widget.resize(900, 560)
    widget.show()
    qtbot.waitExposed(widget)
    return widget


def _canvas_point(view, fx: float, fy: float) -> QPoint:
    """Widget coordinates of the fraction (fx, fy) of the drawing square."""
    rect = view.canvas._side_rect()
    return QPoint(int(rect.x() + fx * rect.width()), int(rect.y() + fy * rect.height()))


def _draw_line(view, qtbot, start, end, steps=8):
    canvas = view.canvas
    QTest.mousePress(canvas, Qt.MouseButton.LeftButton, pos=_canvas_point(view, *start))
    for t in np.linspace(0, 1, steps):
        point = _canvas_point(view, start[0] + t * (end[0] - start[0]), start[1] + t * (end[1] - start[1]))
        QTest.mouseMove(canvas, point)
    QTest.mouseRelease(canvas, Qt.MouseButton.LeftButton, pos=_canvas_point(view, *end))


@pytest.mark.parametrize("shape", [(1, 28, 28), (1, 8, 8), (3, 16, 16)])
def test_drawing_emits_the_input_shape_with_ink_where_drawn(view, qtbot, shape):
    view.set_input_shape(shape)
    with qtbot.waitSignal(view.imageReady, timeout=2000) as signal:
        _draw_line(view, qtbot, (0.1, 0.5), (0.9, 0.5))  # a horizontal stroke through the middle
    image = signal.args[0]
    c, h, w = shape
    assert image.shape == shape and image.dtype == np.float32
    assert image.min() >= 0 and image.max() <= 1
    assert image[:, h // 2, w // 2].min() > 0.5  # ink in the middle row
    assert image[:, 0, :].max() == 0 and image[:, -1, :].max() == 0  # nothing at the top and bottom
    np.testing.assert_array_equal(view.current_image(), image)


def test_drawing_is_sent_while_the_mouse_is_still_down(view, qtbot):
    QTest.mousePress(view.canvas, Qt.MouseButton.LeftButton, pos=_canvas_point(view, 0.3, 0.3))
    with qtbot.waitSignal(view.imageReady, timeout=1000):
        QTest.mouseMove(view.canvas, _canvas_point(view, 0.6, 0.6))
    QTest.mouseRelease(view.canvas, Qt.MouseButton.LeftButton, pos=_canvas_point(view, 0.6, 0.6))


def test_area_averaging_and_centring():
    rgb = np.zeros((CANVAS_PIXELS, CANVAS_PIXELS, 3), np.uint8)
    rgb[:, :145] = 255  # 14.5 of 28 columns white
    x = canvas_to_input(rgb, (1, 28, 28))
    np.testing.assert_allclose(x[0, :, :14], 1.0)
    np.testing.assert_allclose(x[0, :, 14], 0.5, atol=1 / 255)  # half covered: averaged
    np.testing.assert_allclose(x[0, :, 15:], 0.0)
    small = np.zeros_like(rgb)
    small[20:60, 200:240] = 255  # a small blob in a corner
    fitted = canvas_to_input(small, (1, 28, 28), fit=True)
    rows, cols = np.nonzero(fitted[0] > 0.5)
    assert abs(rows.mean() - 13.5) < 1.5 and abs(cols.mean() - 13.5) < 1.5
    assert 18 <= rows.max() - rows.min() + 1 <= 23  # fills about 3/4 of the frame


def test_loading_an_image_file_emits_it_inverted_for_dark_ink(view, qtbot, tmp_path):
    page = np.full((60, 40), 255, np.uint8)  # dark ink on a light page, not square
    page[25:35, 5:35] = 0
    path = tmp_path / "digit.png"
    Image.fromarray(page).save(path)
    with qtbot.waitSignal(view.imageReady) as signal:
        assert view.load_image(path)
    image = signal.args[0]
    assert image.shape == (1, 28, 28)
    assert view.invert_check.isChecked()
    assert image[0, 14, 14] > 0.9 and image[0, 2, 14] < 0.1  # ink bright, page dark (letterboxed)


def test_a_bad_file_shows_a_message_and_raises_nothing(view, qtbot, tmp_path):
    path = tmp_path / "notes.txt"
    path.write_text("not an image")
    with qtbot.assertNotEmitted(view.imageReady):
        assert not view.load_image(path)
    assert view.error_label.isVisible() and "notes.txt" in view.error_label.text()
    assert not view.load_image(tmp_path / "missing.png")


def test_top_k_probability_bars(view):
    names = [f"digit {i}" for i in range(10)]
    view.set_class_names(names)
    probs = np.array([0.01, 0.02, 0.6, 0.05, 0.1, 0.02, 0.1, 0.05, 0.03, 0.02])
    assert view.result_stack.showing_hint
    view.show_probabilities(probs)
    top = view.top_classes()
    assert [name for name, _ in top] == ["digit 2", "digit 4", "digit 6", "digit 3", "digit 7"]
    assert top[0][1] == pytest.approx(60.0)
    assert view.answer.text() == "digit 2 · 60.0%"
    bars = view.bars
    view.show_probabilities(probs[::-1])  # the same bar item is updated
    assert view.bars is bars and view.top_classes()[0][0] == "digit 7"
    view.clear()
    assert view.result_stack.showing_hint and view.current_image() is None


def test_set_image_round_trips_an_array(view, qtbot):
    image = np.random.default_rng(0).random((1, 28, 28), dtype=np.float32)
    with qtbot.waitSignal(view.imageReady) as signal:
        view.set_image(image)
    np.testing.assert_allclose(signal.args[0], image, atol=1 / 255 + 1e-6)
