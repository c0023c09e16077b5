"""FeatureMapsView: mosaics of a real model's activations, hover text, bar charts for flat layers."""

from __future__ import annotations

import numpy as np
import pytest

from guicnn.core.designfile import load_preset
from guicnn.core.model import Sequential
from guicnn.ui.views import FeatureMapsView, layer_labels
from guicnn.ui.views.common import fmt_value
from guicnn.ui.views.feature_maps import OVERVIEW

DIGITS = [str(d) for d in range(10)]


@pytest.fixture(scope="module")
def lenet():
    """LeNet-5 with random weights and every layer's output for one random 1×28×28 image."""
    model = Sequential.from_config(load_preset("lenet5"), seed=3)
    image = np.random.default_rng(0).random((1, 1, 28, 28), dtype=np.float32)
    model.forward(image, training=False, keep=True)
    return model, image[0], [a[0] for a in model.activations]


@pytest.fixture
def view(qtbot, lenet):
    model, image, activations = lenet
    widget = FeatureMapsView()
    qtbot.addWidget(widget)
    widget.resize(1000, 700)
    widget.set_layers(layer_labels(model))
    return widget


def test_hint_until_activations_arrive_then_overview_of_every_layer(view, lenet, qtbot):
    model, image, activations = lenet
    assert view.current_page() == "hint"
    view.set_activations(image, activations, DIGITS)
    assert view.current_page() == "overview"
    assert view.selected_layer() == OVERVIEW
    qtbot.waitUntil(view.overview_complete)
    assert len(view._rows) == len(model.layers) + 1  # the input, then one row per layer
    assert view._rows[1].label.text.startswith("0 · Conv2D 6@5x5 s1 p2<br>")  # layer, then shape below
    assert "→ 6×28×28 · all 6 channels" in view._rows[1].label.text


def test_conv_layer_mosaic_has_one_tile_per_channel(view, lenet, qtbot):
    _, image, activations = lenet
    view.set_activations(image, activations, DIGITS)
    with qtbot.waitSignal(view.layerChanged) as signal:
        view.set_selected_layer(0)
    assert signal.args == [0]
    assert view.current_page() == "maps"
    rects = view.tile_rects()
    assert len(rects) == 6 and all((w, h) == (28, 28) for _, _, w, h in rects)
    mosaic = view.mosaic()
    a = activations[0]
    for channel, (x, y, w, h) in enumerate(rects):
        expected = (a[channel] - a[channel].min()) / (a[channel].max() - a[channel].min())
        np.testing.assert_allclose(mosaic[y : y + h, x : x + w], expected, rtol=1e-5, atol=1e-6)
    x0, _, w0, _ = rects[0]
    assert np.isnan(mosaic[:, x0 + w0]).all()  # a 1-pixel gap between tiles
    assert "Feature maps of layer 0 · Conv2D 6@5x5 s1 p2 · 6×28×28 for the probe image" in view.title.text()


def test_hovering_a_tile_names_its_channel_and_range(view, lenet):
    _, image, activations = lenet
    view.set_activations(image, activations)
    view.set_selected_layer(0)
    x, y, w, h = view.tile_rects()[5]
    text = view.hover_text_at(x + 3.5, y + 7.5)
    a = activations[0][5]
    assert text.startswith("channel 5 · ")
    assert f"min {fmt_value(a.min())}" in text and f"max {fmt_value(a.max())}" in text
    assert f"value at row 7, column 3: {fmt_value(a[7, 3])}" in text
    assert view.hover_label.text() == text and view.tile_frame.isVisible()
    assert view.hover_text_at(x + w + 0.5, y + 1) == ""  # the gap


def test_shared_layer_scale_shows_the_actual_values(view, lenet):
    _, image, activations = lenet
    view.set_activations(image, activations)
    view.set_selected_layer(3)
    view.set_per_channel(False)
    a = activations[3]
    x, y, w, h = view.tile_rects()[10]
    assert (w, h) == (20, 20)  # 10×10 maps are blown up ×2 so the 1-pixel gaps stay thin
    np.testing.assert_allclose(view.mosaic()[y : y + h : 2, x : x + w : 2], a[10])
    assert "row 9, column 0" in view.hover_text_at(x + 0.5, y + 19.5)
    lo, hi = view.colour_bar.levels()
    assert (lo, hi) == pytest.approx((float(a.min()), float(a.max())))


def test_softmax_output_is_a_bar_chart_of_probabilities_with_class_names(view, lenet):
    model, image, activations = lenet
    view.set_activations(image, activations, DIGITS)
    view.set_selected_layer(len(model.layers) - 1)
    assert view.current_page() == "bars"
    assert view.bar_labels() == DIGITS
    np.testing.assert_allclose(view.bar_values(), activations[-1] * 100, rtol=1e-5)
    assert view.bar_values().sum() == pytest.approx(100, abs=1e-3)
    assert "probability" in view.bar_plot.getAxis("left").labelText
    assert "the network's answer" in view.explanation.text()


def test_flat_layer_without_matching_names_is_numbered(view, lenet):
    model, image, activations = lenet
    view.set_activations(image, activations, DIGITS)
    dense = [i for i, layer in enumerate(model.layers) if layer.type_name == "Dense"][0]  # 120 units
    view.set_selected_layer(dense)
    assert view.current_page() == "bars"
    assert view.bar_labels() == []
    np.testing.assert_allclose(view.bar_values(), activations[dense])


def test_overview_rows_are_made_a_few_per_event_loop_turn(view, lenet, qtbot, monkeypatch):
    """A deep design's rows (a plot each) made at once would freeze the window when training starts."""
    import guicnn.ui.views.feature_maps as feature_maps

    monkeypatch.setattr(feature_maps, "ROW_BUILD_BUDGET", 0.0)  # one row per turn
    model, image, activations = lenet
    view.set_activations(image, activations, DIGITS)
    assert len(view._rows) == 1 and not view.overview_complete()
    qtbot.waitUntil(view.overview_complete)
    assert len(view._rows) == len(model.layers) + 1
    # every row made later is drawn when it comes: labelled, with its layer's picture or bars
    assert view._rows[-1].label.text.startswith(f"{len(model.layers) - 1} · ")
    assert view._rows[1].image.image is not None


def test_updates_replace_data_without_new_plot_items(view, lenet, qtbot):
    model, image, activations = lenet
    view.set_activations(image, activations)
    view.set_selected_layer(OVERVIEW)
    qtbot.waitUntil(view.overview_complete)
    rows = list(view._rows)
    items = [row.plot.items[:] for row in rows]
    view.set_activations(image * 0.5, [a * 2 for a in activations])
    assert view._rows == rows
    assert [row.plot.items[:] for row in rows] == items
    view.set_selected_layer(0)
    image_item, added = view.map_image, list(view.map_view.addedItems)
    view.set_activations(image, activations)
    view.set_selected_layer(3)
    assert view.map_image is image_item and view.map_view.addedItems == added


def test_rgb_input_and_one_by_one_maps(qtbot):
    config = {"input_shape": [3, 12, 12], "layers": [
        {"type": "Conv2D", "filters": 4, "kernel_size": 3}, {"type": "ReLU"},
        {"type": "GlobalAvgPool2D"}, {"type": "Dense", "units": 3}, {"type": "Softmax"}]}
    model = Sequential.from_config(config)
    image = np.random.default_rng(1).random((1, 3, 12, 12), dtype=np.float32)
    model.forward(image, keep=True)
    view = FeatureMapsView()
    qtbot.addWidget(view)
    view.set_layers(layer_labels(model))
    view.set_activations(image[0], [a[0] for a in model.activations], ["red", "green", "blue"])
    qtbot.waitUntil(view.overview_complete)
    assert view._rows[0].image.image.shape == (12, 12, 3)
    view.set_selected_layer(2)  # global pool: a flat (4,) vector
    assert view.current_page() == "bars" and view.bar_values().shape == (4,)
    view.set_selected_layer(4)
    assert view.bar_labels() == ["red", "green", "blue"]


def test_probe_image_shrinks_in_a_short_view_so_the_layer_list_keeps_its_rows(view, lenet, qtbot):
    """At 1366x768 the Training tab gives the feature maps ~360 px: a 176 px probe left the list 3 rows."""
    from guicnn.ui.views.feature_maps import PROBE_SIDE, PROBE_SIDE_SHORT

    model, image, activations = lenet
    view.show()
    view.set_activations(image, activations, DIGITS)
    qtbot.waitUntil(lambda: view.probe_picture.pixmap() is not None and not view.probe_picture.pixmap().isNull())
    assert view.probe_picture.width() == PROBE_SIDE + 4
    view.resize(1000, 360)
    qtbot.waitUntil(lambda: view.probe_picture.width() == PROBE_SIDE_SHORT + 4)
    assert view.probe_picture.pixmap().width() <= PROBE_SIDE_SHORT  # drawn again at the small size
    qtbot.waitUntil(lambda: view.layer_list.height() >= 100)  # room for several rows, not a sliver
    view.resize(1000, 700)
    qtbot.waitUntil(lambda: view.probe_picture.width() == PROBE_SIDE + 4)
    assert view.probe_picture.pixmap().width() > PROBE_SIDE_SHORT
