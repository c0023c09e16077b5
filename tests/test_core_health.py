"""Layer health: figures against hand-computed ones on tiny networks, and the trainer's reports."""

from __future__ import annotations

import math
import threading

import numpy as np
import pytest

from guicnn.core import Sequential
from guicnn.core.data import Dataset
from guicnn.core.health import (
    AMBER,
    GREEN,
    RED,
    dead_share,
    dead_unit_fractions,
    health_by_layer,
    layer_health,
    saturated_share,
    update_ratio,
)
from guicnn.core.training import EndReport, EpochReport, Trainer, TrainSettings


def _dense_relu(bias):
    model = Sequential.from_config({"input_shape": [2], "layers": [
        {"type": "Dense", "units": len(bias)}, {"type": "ReLU"}]})
    dense = model.layers[0]
    dense.params["weight"][...] = np.array([[1, 0]] * len(bias), np.float32)  # each unit sees x0
    dense.params["bias"][...] = np.asarray(bias, np.float32)
    return model


def test_dead_share_counts_units_never_positive_over_the_batch():
    x = np.array([[-1, 0], [2, 0], [0.5, 0]], np.float32)  # x0 from -1 to 2
    # unit biases: 0 fires for x0 = 2 and 0.5; -1.5 only for 2; -2 never (2 - 2 = 0 is not positive); -100 never
    model = _dense_relu([0, -1.5, -2, -100])
    health = health_by_layer(layer_health(model, x))
    relu = health[1]
    assert relu.dead_share == 0.5 and relu.status == RED
    assert relu.badge == "50% dead"
    assert "50% of this layer's units (2 of 4) never fire" in relu.explanation
    assert "dying-ReLU" in relu.explanation
    assert "LeakyReLU" in relu.explanation and "learning rate" in relu.explanation
    # one dead of four: amber; none dead: green
    assert health_by_layer(layer_health(_dense_relu([0, 0, 0, -100]), x))[1].status == AMBER
    assert health_by_layer(layer_health(_dense_relu([0, 0, 0, 0]), x))[1].status == GREEN


def test_a_conv_relu_forced_dead_by_a_large_negative_bias():
    model = Sequential.from_config({"input_shape": [1, 5, 5], "layers": [
        {"type": "Conv2D", "filters": 3, "kernel_size": 3, "padding": 1}, {"type": "ReLU"},
        {"type": "Flatten"}, {"type": "Dense", "units": 2}]}, seed=0)
    model.layers[0].params["bias"][...] = [0.0, -1e3, -1e3]
    x = np.random.default_rng(0).random((16, 1, 5, 5), dtype=np.float32)
    model.forward(x, keep=True)
    expected = dead_unit_fractions(model.layers, model.activations)
    relu = health_by_layer(layer_health(model, x))[1]
    # a unit of a conv layer is a feature map: filters 1 and 2 never fire, filter 0 does somewhere
    assert np.any(model.activations[1][:, 0] > 0)
    assert relu.dead_share == pytest.approx(2 / 3)
    assert expected == {1: relu.dead_share}
    assert relu.status == RED and "67% of this layer's units (2 of 3 feature maps) never fire" in relu.explanation
    assert model.layers[0]._cache is None  # caches cleared after the probe pass


def test_a_feature_map_dark_at_some_positions_is_alive():
    a = np.zeros((2, 3, 2, 2), np.float32)
    a[0, 0, 1, 1] = 1.0  # channel 0 fires at one position of one image: alive
    a[1, 2, 0, 0] = 0.5  # channel 2 too; channel 1 never: dead
    assert dead_share(a) == pytest.approx(1 / 3)
    assert dead_share(np.array([[0, 1, 0, 0], [0, 2, 0, 3]], np.float32)) == 0.5  # flat: per feature


def test_leaky_variants_are_never_worse_than_amber():
    model = Sequential.from_config({"input_shape": [2], "layers": [
        {"type": "Dense", "units": 2}, {"type": "LeakyReLU"}]})
    model.layers[0].params["bias"][...] = -1e3
    entry = health_by_layer(layer_health(model, np.ones((4, 2), np.float32)))[1]
    assert entry.dead_share == 1.0 and entry.status == AMBER and "recover" in entry.explanation


def test_saturated_share_of_sigmoid_and_tanh_by_hand():
    # σ slope 4σ(1−σ) < 0.05 ⇔ σ < 0.0126 or σ > 0.9874
    assert saturated_share("Sigmoid", np.array([[0.5, 0.99, 0.005, 0.9]])) == 0.5
    # tanh slope 1 − y² < 0.05 ⇔ |y| > 0.9747
    assert saturated_share("Tanh", np.array([[0.0, -0.99, 0.97, 0.98]])) == 0.5
    with pytest.raises(ValueError, match="does not saturate"):
        saturated_share("ReLU", np.zeros(2))
    model = Sequential.from_config({"input_shape": [1], "layers": [
        {"type": "Dense", "units": 4, "use_bias": False}, {"type": "Sigmoid"}]})
    model.layers[0].params["weight"][...] = np.array([[0.0], [1.0], [10.0], [-10.0]], np.float32)
    entry = health_by_layer(layer_health(model, np.ones((3, 1), np.float32)))[1]
    # outputs σ(0) = 0.5, σ(1) = 0.73, σ(10) ≈ 1, σ(−10) ≈ 0: half saturated
    assert entry.saturated_share == 0.5 and entry.status == RED and "vanishing-gradient" in entry.explanation


def test_update_ratio_and_gradient_norm_by_hand():
    model = _dense_relu([0.0, 0.0])
    dense = model.layers[0]
    dense.params["weight"][...] = [[3.0, 0.0], [0.0, 4.0]]  # ‖w‖ = 5
    before = {"0.weight": np.array([[3.0, 0.0], [0.0, 4.0]], np.float32) - np.float32(0.003)}
    dense.grads["weight"][...] = [[1.0, 2.0], [2.0, 0.0]]
    dense.grads["bias"][...] = [4.0, 0.0]  # ‖∇‖ = √(1 + 4 + 4 + 16) = 5
    entry = health_by_layer(layer_health(model, np.ones((2, 2), np.float32), before))[0]
    expected = math.sqrt(4 * 0.003 ** 2) / np.linalg.norm(before["0.weight"].astype(np.float64))
    assert entry.update_ratio == pytest.approx(expected, rel=1e-4)
    assert entry.grad_norm == pytest.approx(5.0)
    assert entry.status == GREEN and entry.badge == f"Δw {expected:.1%}"
    assert "0.12%" in entry.explanation and "‖∇‖ = 5" in entry.explanation
    # no gradient at all: red, said so
    dense.grads["weight"][...] = 0
    dense.grads["bias"][...] = 0
    frozen = health_by_layer(layer_health(model, np.ones((2, 2), np.float32), before))[0]
    assert frozen.status == RED and "no gradient reaches this layer" in frozen.explanation
    # no gradient and no step known: an untrained layer, nothing to rate
    assert 0 not in health_by_layer(layer_health(model, np.ones((2, 2), np.float32)))
    assert update_ratio(np.zeros(3), np.ones(3)) is None
    assert dead_share(np.zeros((0, 3))) == 0.0


def _blobs(n=60):
    rng = np.random.default_rng(0)
    y = np.arange(n) % 2
    x = rng.random((n, 1, 4, 4), dtype=np.float32)
    x[y == 0, :, :2] += 1.0
    return Dataset(x, y, ["top", "bottom"], name="blobs")


def test_the_trainer_reports_health_after_every_epoch_and_at_the_end():
    design = {"input_shape": [1, 4, 4], "layers": [
        {"type": "Flatten"}, {"type": "Dense", "units": 6}, {"type": "ReLU"}, {"type": "Dense", "units": 2}]}
    trainer = Trainer.from_config(design, TrainSettings(epochs=2, batch_size=16, seed=1, normalize=False,
                                                        optimizer={"type": "sgd", "lr": 0.1}))
    trainer.model.layers[1].params["bias"][:3] = -1e3  # half the hidden units can never fire
    reports = list(trainer.fit_iter(_blobs()))
    epochs = [r for r in reports if isinstance(r, EpochReport)]
    end = reports[-1]
    assert isinstance(end, EndReport) and len(epochs) == 2
    health = health_by_layer(epochs[-1].health)
    assert sorted(health) == [1, 2, 3]
    assert health[2].dead_share == pytest.approx(0.5) and health[2].status == RED
    assert end.health == epochs[-1].health
    # plain SGD: the last update is lr · gradient, so the ratio is known from the live figures
    dense = trainer.model.layers[3]
    grad = dense.grads["weight"].astype(np.float64)
    before = dense.params["weight"].astype(np.float64) + 0.1 * grad
    assert health[3].update_ratio == pytest.approx(0.1 * np.linalg.norm(grad) / np.linalg.norm(before), rel=1e-4)
    assert health[3].grad_norm == pytest.approx(math.sqrt(sum(float((g.astype(np.float64) ** 2).sum())
                                                             for g in dense.grads.values())), rel=1e-6)


def test_stopping_mid_epoch_rates_the_weights_as_they_are():
    design = {"input_shape": [1, 4, 4], "layers": [{"type": "Flatten"}, {"type": "Dense", "units": 2}]}
    trainer = Trainer.from_config(design, TrainSettings(epochs=3, batch_size=8, seed=1))
    stop = threading.Event()
    reports = []
    for report in trainer.fit_iter(_blobs(), stop=stop):
        reports.append(report)
        if len(reports) == 2:
            stop.set()
    end = reports[-1]
    assert isinstance(end, EndReport) and end.reason == "stopped"
    assert not any(isinstance(r, EpochReport) for r in reports)
    assert [h.index for h in end.health] == [1] and end.health[0].update_ratio is not None
