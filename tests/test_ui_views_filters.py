"""FiltersView: a Conv2D layer's kernels as tiles on a symmetric blue-white-red scale."""

from __future__ import annotations

import numpy as np
import pytest

from guicnn.core.designfile import load_preset
from guicnn.core.model import Sequential
from guicnn.ui.views import FiltersView
from guicnn.ui.views.filters import NO_CONV_HINT


@pytest.fixture
def view(qtbot):
    widget = FiltersView()
    qtbot.addWidget(widget)
    widget.resize(900, 600)
    return widget


@pytest.fixture
def lenet():
    return Sequential.from_config(load_preset("lenet5"), seed=1)


def test_hint_before_a_model(view):
    assert view.stack.showing_hint and "Conv2D" in view.stack.hint_label.text()


def test_first_layer_one_tile_per_filter_on_a_symmetric_scale(view, lenet):
    view.set_model(lenet)
    assert view.layer_combo.count() == 2  # LeNet has two Conv2D layers
    assert view.layer_combo.itemText(0).startswith("0 · Conv2D 6@5x5")
    weight = lenet.layers[0].params["weight"]  # (6, 1, 5, 5)
    rects = view.tile_rects()
    assert len(rects) == 6
    limit = float(np.abs(weight).max())
    assert view.levels() == pytest.approx((-limit, limit))
    x, y, w, h = rects[4]
    factor = w // 5
    tile = view.mosaic()[y : y + h : factor, x : x + w : factor]
    np.testing.assert_allclose(tile, weight[4, 0])
    assert not view.mode_combo.isVisibleTo(view)  # one input channel: nothing to choose


def test_second_layer_grid_of_filters_by_input_channels_and_hover(view, lenet):
    view.set_model(lenet)
    view.set_selected(1)
    weight = lenet.layers[3].params["weight"]  # (16, 6, 5, 5)
    assert view.shown_mode() == "pairs"
    rects = view.tile_rects()
    assert len(rects) == 16 * 6
    x, y, w, h = rects[2 * 6 + 3]  # filter 2, input channel 3
    factor = w // 5
    text = view.hover_text_at(x + 1 * factor + 0.5, y + 4 * factor + 0.5)
    assert text.startswith("filter 2 · input channel 3")
    assert f"weight at row 4, column 1: {weight[2, 3, 4, 1]:.3g}" in text
    view.set_mode("mean")
    assert len(view.tile_rects()) == 16
    x, y, w, h = view.tile_rects()[7]
    np.testing.assert_allclose(view.mosaic()[y : y + h : factor, x : x + w : factor], weight[7].mean(axis=0),
                               rtol=1e-6, atol=1e-7)
    with pytest.raises(ValueError, match="unknown filter display mode"):
        view.set_mode("sideways")


def test_rgb_first_layer_shows_colour_kernels(view):
    model = Sequential.from_config({"input_shape": [3, 16, 16], "layers": [
        {"type": "Conv2D", "filters": 5, "kernel_size": 3}, {"type": "ReLU"}]})
    view.set_model(model)
    assert view.shown_mode() == "rgb"
    assert view.mosaic().ndim == 3 and view.mosaic().shape[2] == 3
    assert np.nanmin(view.mosaic()) >= 0 and np.nanmax(view.mosaic()) <= 1
    assert "R " in view.hover_text_at(0.5, 0.5)


def test_weights_are_copied_until_refresh(view, lenet):
    view.set_model(lenet)
    before = view.mosaic().copy()
    lenet.layers[0].params["weight"] *= 2
    np.testing.assert_array_equal(view.mosaic(), before)
    view.refresh()
    assert view.levels()[1] == pytest.approx(float(np.abs(lenet.layers[0].params["weight"]).max()))


def test_set_filters_and_a_design_without_convolutions(view):
    view.set_filters([("custom", np.ones((2, 2, 3, 3), np.float32))])
    assert len(view.tile_rects()) == 4
    view.set_model(Sequential.from_config({"input_shape": [4], "layers": [{"type": "Dense", "units": 2}]}))
    assert view.stack.showing_hint and view.stack.hint_label.text() == NO_CONV_HINT
