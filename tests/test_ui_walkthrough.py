"""The Step-through view: stepping, playing, dragging, clicking cells, the toy input; opened from the window."""

from __future__ import annotations

import numpy as np
import pytest
from PySide6.QtCore import QPoint, Qt

from guicnn.core import Sequential
from guicnn.core.designfile import load_preset
from guicnn.core.walkthrough import layer_input
from guicnn.ui.builder.document import DesignDocument
from guicnn.ui.main_window import MainWindow
from guicnn.ui.views.walkthrough import WalkthroughView

DESIGN = {"input_shape": [2, 9, 9], "layers": [
    {"type": "Conv2D", "filters": 3, "kernel_size": 3, "stride": 2, "padding": 1, "dilation": 1},
    {"type": "ReLU"},
    {"type": "StochasticPool2D", "pool_size": 2, "stride": 1},
    {"type": "Conv2D", "filters": 2, "kernel_size": 2, "dilation": 2, "padding": "same"},
]}


@pytest.fixture
def model():
    model = Sequential.from_config(DESIGN, seed=4)
    model.layers[0].params["bias"][...] = [0.1, -0.2, 0.3]
    return model


@pytest.fixture
def image():
    return np.random.default_rng(0).random((2, 9, 9), dtype=np.float32)


@pytest.fixture
def view(qtbot, model, image):
    widget = WalkthroughView()
    qtbot.addWidget(widget)
    widget.resize(1200, 700)
    widget.set_layers([(0, "0 · Conv2D"), (2, "2 · StochasticPool2D"), (3, "3 · Conv2D")])
    widget.set_layer(0, model.layers[0], {"real": layer_input(model, 0, image), "probe": image})
    widget.show()
    qtbot.waitExposed(widget)
    return widget


def _forward(model, image, index):
    model.forward(image[None], keep=True)
    return model.activations[index][0]


def _click_cell(qtbot, grid, row, col):
    centre = grid.cell_rect(row, col).center().toPoint()
    qtbot.mouseClick(grid, Qt.MouseButton.LeftButton, pos=centre)


def test_steps_in_raster_order_and_shows_the_forward_value(qtbot, view, model, image):
    expected = _forward(model, image, 0)
    assert view.cell == (0, 0) and view.walk.output_hw == (5, 5)
    for _ in range(6):
        view.step_button.click()
    assert view.cell == (1, 1)
    value = float(expected[0, 1, 1])
    assert view.equation.text().endswith(f"= {value:.4g}".replace("-", "−"))
    assert f"gives {value:.4g}".replace("-", "−") in view.engine_line.text() and "✓" in view.engine_line.text()
    shown = view.shown_output()
    assert np.count_nonzero(~np.isnan(shown)) == 7  # (0, 0) to (1, 1) computed so far
    assert shown[1, 1] == pytest.approx(value) and np.isnan(shown[1, 2])
    # the input grid outlines the 3×3 taps of the window at padded rows/cols 2–4
    assert view.input_grid.taps == [(r, c) for r in (2, 3, 4) for c in (2, 3, 4)]
    assert view.input_grid.padding[0].all() and not view.input_grid.padding[1:10, 1:10].any()


def test_clicking_an_output_cell_jumps_there(qtbot, view, model, image):
    expected = _forward(model, image, 0)
    view.set_channel(2)
    _click_cell(qtbot, view.output_grid, 3, 4)
    assert view.cell == (3, 4)
    assert view.output_grid.current == (3, 4)
    value = float(expected[2, 3, 4])
    assert view.shown_output()[3, 4] == pytest.approx(value)
    assert f"= {value:.4g}".replace("-", "−") in view.equation.text()
    assert "Output (3, 4) of filter 2" in view.window_title.text()


def test_dragging_the_window_moves_it_to_the_nearest_cell(qtbot, view):
    grid = view.input_grid
    start = grid.cell_rect(1, 1).center().toPoint()  # inside the window of cell (0, 0)
    size = grid.cell_size()
    qtbot.mousePress(grid, Qt.MouseButton.LeftButton, pos=start)
    qtbot.mouseMove(grid, start + QPoint(int(4.2 * size), int(2.1 * size)))
    qtbot.mouseRelease(grid, Qt.MouseButton.LeftButton, pos=start + QPoint(int(4.2 * size), int(2.1 * size)))
    assert view.cell == (1, 2)  # moved by 2 rows and 4 columns: one and two strides of 2


def test_play_advances_on_a_timer_and_pause_stops(qtbot, view):
    view.speed.setValue(30)
    view.play_button.click()
    assert view.playing and view.play_button.text() == "Pause"
    qtbot.waitUntil(lambda: view.cell >= (0, 3), timeout=5_000)
    view.play_button.click()
    assert not view.playing
    stopped = view.cell
    qtbot.wait(150)
    assert view.cell == stopped


def test_conv_subtotals_per_input_channel_and_switching_channel(qtbot, view):
    view.jump_to(2, 2)
    assert "channel 0: Σ" in view.subtotals.text() and "channel 1: Σ" in view.subtotals.text()
    step = view._step
    assert view.products_grid.values == pytest.approx(step.products[0])
    view.set_input_channel(1)
    assert view.products_grid.values == pytest.approx(step.products[1])
    text = view.products_grid.texts[0][0]
    assert text.count("\n") == 2 and "×" in text and "=" in text  # value, × weight, = product


def test_pooling_shows_probabilities_and_the_inference_average(qtbot, view, model, image):
    expected = _forward(model, image, 2)
    view.set_layer(2, model.layers[2], {"real": layer_input(model, 2, image), "probe": None})
    view.set_channel(1)
    view.jump_to(1, 3)
    step = view._step
    assert step.probabilities is not None
    assert "p = " in view.products_grid.texts[0][0]
    value = float(expected[1, 1, 3])
    assert view.equation.text() == f"Σ p·a = {value:.4g}"
    # the probe image has 2 channels but this layer gets 3: that source is not offered
    assert not view.source_combo.model().item(1).isEnabled()


def test_the_toy_input_can_be_edited(qtbot, view, model):
    view.set_source("toy")
    assert view.walk.input.shape == (2, 6, 6)
    before = view.walk.output.copy()
    view.set_toy_value(1, 0, 5, -7.0)
    assert view.walk.input[1, 0, 5] == -7.0
    fresh = model.layers[0]
    assert not np.array_equal(view.walk.output, before)
    twin = Sequential.from_config({"input_shape": [2, 6, 6], "layers": [DESIGN["layers"][0]]})
    twin.load_state_dict({"0.weight": fresh.params["weight"], "0.bias": fresh.params["bias"]})
    assert np.array_equal(view.walk.output, twin.forward(view.walk.input[None])[0])
    # double-clicking a cell opens an editor; Enter commits
    view.set_input_channel(0)
    centre = view.input_grid.cell_rect(2, 2).center().toPoint()  # padded (2, 2) = toy (1, 1)
    qtbot.mouseDClick(view.input_grid, Qt.MouseButton.LeftButton, pos=centre)
    editor = view._editor
    assert editor is not None
    editor.setText("3.5")
    qtbot.keyClick(editor, Qt.Key.Key_Return)
    assert view.walk.input[0, 1, 1] == 3.5


def test_a_dilated_same_padded_conv_marks_its_taps_apart(qtbot, view, model, image):
    view.set_layer(3, model.layers[3], {"real": layer_input(model, 3, image)})
    step = view._step
    assert list(step.tap_cols[1:] - step.tap_cols[:-1]) == [2]  # dilation 2
    assert view.walk.pads == (1, 1, 1, 1)
    assert f"{view.walk.output_hw[0]}×{view.walk.output_hw[1]}" in view.output_title.text()


def test_step_through_from_the_card_menu_and_the_inspector(qtbot):
    window = MainWindow(DesignDocument(load_preset("shapes_cnn")), initial_data=None)
    qtbot.addWidget(window)
    window.resize(1280, 800)
    window.show()
    workbench = window.workbench
    probe = np.random.default_rng(1).random((1, 28, 28), dtype=np.float32)
    workbench.predict.set_image(probe)  # becomes the probe
    window.document.set_current(3)
    window.inspector.page.step_through.click()
    assert workbench.tabs.tabText(workbench.tabs.currentIndex()) == "Step through"
    view = workbench.walkthrough
    assert view.layer_index == 3 and view.layer_combo.currentText().startswith("3 · Conv2D")
    model = Sequential.from_config(window.document.config, seed=0)  # the untrained preview's weights
    model.forward(workbench.predict.current_image()[None], keep=True)  # the probe as the pane holds it
    view.jump_to(4, 5)
    assert view.shown_output()[4, 5] == pytest.approx(float(model.activations[3][0][0, 4, 5]))
    assert "Untrained" in view.note.text()
    # the card's context menu offers the same for a pooling layer
    workbench.show_tab("Design")
    window.stack.stepThroughRequested.emit(2)
    assert workbench.tabs.tabText(workbench.tabs.currentIndex()) == "Step through"
    assert view.layer_index == 2 and view.walk.kind == "max"
    # the layer chooser lists the convolutions and poolings only
    assert [view.layer_combo.itemText(i).split(" · ")[0] for i in range(view.layer_combo.count())] == \
        ["0", "2", "3", "5"]
    window.workbench.shutdown()
