"""HistogramsView: weight/gradient histograms on sampled values and the dead-ReLU fractions."""

from __future__ import annotations

import numpy as np
import pytest

from guicnn.core.designfile import load_preset
from guicnn.core.health import dead_unit_fractions, layer_health
from guicnn.core.losses import SoftmaxCrossEntropy
from guicnn.core.model import Sequential
from guicnn.ui.views import HistogramsView
from guicnn.ui.views.histograms import MAX_SAMPLES


@pytest.fixture
def view(qtbot):
    widget = HistogramsView()
    qtbot.addWidget(widget)
    widget.resize(900, 600)
    return widget


class _Layer:
    def __init__(self, type_name):
        self.type_name = type_name


def test_dead_fraction_of_a_constructed_batch():  # the core's count, which the view shows
    relu = np.zeros((3, 4, 2, 2), np.float32)  # 3 samples, 4 feature maps
    relu[2, 0, 1, 0] = 1  # alive: the third sample fires once
    relu[:, 3] = 2  # alive everywhere; maps 1 and 2 are dead
    other = np.zeros((3, 4), np.float32)  # not a ReLU: ignored even though all zero
    flat_relu = np.array([[0, 1, 0, 0], [0, 2, 0, 3]], np.float32)  # 2 of 4 dead
    fractions = dead_unit_fractions([_Layer("ReLU"), _Layer("Dense"), _Layer("ReLU")], [relu, other, flat_relu])
    assert fractions == {0: pytest.approx(2 / 4), 2: pytest.approx(2 / 4)}


def test_histograms_of_a_real_model_count_every_value(view):
    model = Sequential.from_config(load_preset("lenet5"), seed=0)
    assert view.stack.showing_hint
    view.set_model(model)
    assert not view.stack.showing_hint
    counts, edges, sampled = view.histogram("weight")
    weight = model.layers[0].params["weight"]
    assert sampled == weight.size == counts.sum()
    assert edges[0] == pytest.approx(weight.min()) and edges[-1] == pytest.approx(weight.max())
    counts, _, sampled = view.histogram("gradient")  # no backward pass yet
    assert sampled == 0 and "No gradients yet" in view.gradients.note.toPlainText()


def test_gradients_and_dead_units_after_a_training_step(view):
    model = Sequential.from_config(load_preset("lenet5"), seed=0)
    rng = np.random.default_rng(0)
    x = rng.random((16, 1, 28, 28), dtype=np.float32)
    y = rng.integers(0, 10, 16)
    loss = SoftmaxCrossEntropy()
    logits = model.forward(x, training=True, keep=True, upto=len(model.layers) - 1)
    loss.forward(logits, y)
    model.backward(loss.backward(), start=len(model.layers) - 1)
    activations = model.activations
    view.update_from_model(model)
    assert view.dead_fractions() == {} and "after each epoch" in view.dead_note.toPlainText()
    view.set_health(layer_health(model, x))
    view.set_selected(3, "weight")
    counts, _, sampled = view.histogram("gradient")
    assert sampled == model.layers[3].grads["weight"].size == counts.sum()
    relus = [i for i, layer in enumerate(model.layers) if layer.type_name == "ReLU"]
    fractions = view.dead_fractions()
    assert sorted(fractions) == relus
    for i in relus:
        a = activations[i]
        alive = np.any(a.reshape(len(a), a.shape[1], -1) > 0, axis=(0, 2))  # feature maps / features
        assert fractions[i] == pytest.approx(1 - alive.mean())
    heights = view.dead_bars.opts["height"]
    np.testing.assert_allclose(heights, [100 * fractions[i] for i in relus])
    assert "16 probe images" in view.dead_plot.titleLabel.text
    ticks = view.dead_plot.getAxis("bottom")._tickLevels[0]
    assert [label for _, label in ticks] == [f"{i} · ReLU" for i in relus]


def test_big_arrays_are_sampled_and_non_finite_values_reported(view):
    model = Sequential.from_config({"input_shape": [1, 28, 28], "layers": [
        {"type": "Flatten"}, {"type": "Dense", "units": 200}, {"type": "ReLU"}]})
    weight = model.layers[1].params["weight"]  # 156,800 values
    weight[:10] = np.nan  # 7,840 of them: about 5,000 land in the sample
    view.set_model(model)
    view.set_selected(1, "weight")
    counts, _, sampled = view.histogram("weight")
    assert counts.sum() == sampled
    assert 90_000 < sampled < MAX_SAMPLES  # the sampled values minus the non-finite ones
    first = counts.copy()
    view.update_from_model(model)  # the same subset every time: identical counts
    np.testing.assert_array_equal(view.histogram("weight")[0], first)
    assert f"{MAX_SAMPLES - sampled:,} not finite" in view.weights.plot.titleLabel.text


def test_log_scale_and_design_without_parameters(view):
    model = Sequential.from_config(load_preset("lenet5"))
    view.set_model(model)
    view.set_log_counts(True)
    assert view.weights.plot.getAxis("left").logMode
    view.set_model(Sequential.from_config({"input_shape": [1, 4, 4], "layers": [{"type": "ReLU"}]}))
    assert view.stack.showing_hint and "no layer with weights" in view.stack.hint_label.text()
