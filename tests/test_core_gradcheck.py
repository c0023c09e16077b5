"""Every layer type's backward against float64 finite differences (training and inference mode)."""

import numpy as np
import pytest
from gradcheck import check_layer_gradients, numeric_gradient

from guicnn.core import layer_class, layer_types
from guicnn.core.losses import MSE, SoftmaxCrossEntropy

IMAGE = (2, 7, 7)
CASES = [
    ("Conv2D", {"filters": 3, "kernel_size": 3}, IMAGE),
    ("Conv2D", {"filters": 3, "kernel_size": 3, "stride": 2}, IMAGE),
    ("Conv2D", {"filters": 2, "kernel_size": 3, "padding": "same"}, IMAGE),
    ("Conv2D", {"filters": 2, "kernel_size": 4, "stride": 2, "padding": "same"}, IMAGE),
    ("Conv2D", {"filters": 2, "kernel_size": [3, 2], "stride": [1, 2], "padding": [1, 0]}, IMAGE),
    ("Conv2D", {"filters": 2, "kernel_size": 3, "dilation": 2, "padding": 1}, IMAGE),
    ("Conv2D", {"filters": 2, "kernel_size": 1, "use_bias": False}, IMAGE),
    ("Dense", {"units": 4}, (6,)),
    ("Dense", {"units": 3, "use_bias": False}, (5,)),
    ("Flatten", {}, IMAGE),
    ("MaxPool2D", {"pool_size": 2}, IMAGE),
    ("MaxPool2D", {"pool_size": 3, "stride": 2}, IMAGE),
    ("MaxPool2D", {"pool_size": 3, "stride": 1, "padding": 1}, IMAGE),
    ("MinPool2D", {"pool_size": 3, "stride": 2, "padding": 1}, IMAGE),
    ("AvgPool2D", {"pool_size": 2}, IMAGE),
    ("AvgPool2D", {"pool_size": 3, "stride": 2, "padding": 1}, IMAGE),
    ("SumPool2D", {"pool_size": 3, "stride": 1}, IMAGE),
    ("GlobalAvgPool2D", {}, IMAGE),
    ("GlobalMaxPool2D", {}, IMAGE),
    ("SpatialPyramidPool2D", {}, IMAGE),
    ("SpatialPyramidPool2D", {"levels": [1, 3], "mode": "avg"}, IMAGE),
    ("ReLU", {}, IMAGE),
    ("LeakyReLU", {"negative_slope": 0.1}, IMAGE),
    ("PReLU", {}, IMAGE),
    ("PReLU", {"channelwise": True}, IMAGE),
    ("PReLU", {"channelwise": True}, (5,)),
    ("ELU", {"alpha": 0.7}, IMAGE),
    ("Sigmoid", {}, IMAGE),
    ("Tanh", {}, IMAGE),
    ("Softmax", {}, (6,)),
    ("Softmax", {}, IMAGE),
    ("Dropout", {"rate": 0.3}, IMAGE),
    ("BatchNorm", {}, IMAGE),
    ("BatchNorm", {}, (5,)),
]


def _id(case):
    type_name, settings, shape = case
    return f"{type_name}-{'-'.join(f'{k}{v}' for k, v in settings.items())}-{'x'.join(map(str, shape))}"


@pytest.mark.parametrize("case", CASES, ids=[_id(c) for c in CASES])
@pytest.mark.parametrize("training", [True, False], ids=["train", "eval"])
def test_layer_gradients_match_finite_differences(case, training):
    type_name, settings, shape = case
    layer = layer_class(type_name)(**settings)
    batch = 4 if type_name == "BatchNorm" else 2
    check_layer_gradients(layer, shape, batch=batch, training=training)


@pytest.mark.parametrize("training", [True, False], ids=["train", "eval"])
def test_stochastic_pool_gradients(training):
    # Stochastic pooling expects non-negative input (after ReLU); keep values away from 0.
    rng = np.random.default_rng(3)
    x = rng.uniform(0.2, 2.0, size=(2, 2, 6, 6))
    layer = layer_class("StochasticPool2D")(pool_size=2)
    check_layer_gradients(layer, (2, 6, 6), x=x, training=training)


def test_every_registered_type_is_gradchecked():
    checked = {case[0] for case in CASES} | {"StochasticPool2D"}
    assert set(layer_types()) <= checked


@pytest.mark.parametrize("loss_cls", [SoftmaxCrossEntropy, MSE])
def test_loss_gradients_match_finite_differences(loss_cls):
    rng = np.random.default_rng(0)
    logits = rng.normal(size=(5, 4))
    labels = rng.integers(0, 4, size=5)
    loss = loss_cls()
    loss.forward(logits, labels)
    analytic = loss.backward()
    numeric = numeric_gradient(lambda: loss_cls().forward(logits, labels), logits)
    np.testing.assert_allclose(analytic, numeric, rtol=1e-6, atol=1e-9)


def test_cross_entropy_is_stable_for_huge_logits():
    logits = np.array([[1e4, -1e4, 0.0], [-1e4, 1e4, 3.0]], dtype=np.float32)
    loss = SoftmaxCrossEntropy()
    assert loss.forward(logits, np.array([0, 0])) == pytest.approx(1e4, rel=1e-6)
    grad = loss.backward()
    assert np.all(np.isfinite(grad))
    np.testing.assert_allclose(grad[0], [0, 0, 0], atol=1e-7)
    np.testing.assert_allclose(grad[1], [-0.5, 0.5, 0], atol=1e-7)
