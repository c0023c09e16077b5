"""Every layer type's backward against float64 finite differences (training and inference mode)."""

import numpy as np
import pytest
from gradcheck import batch_last, check_layer_gradients, numeric_gradient

from guicnn.core import Sequential, layer_class, layer_types
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


# ---- the fast paths (issue 15) ----------------------------------------------------------------

@pytest.mark.parametrize("shape,padding", [((16, 5, 5), 1), ((16, 6, 4), 0)], ids=["odd-p1", "even-valid"])
@pytest.mark.parametrize("training", [True, False], ids=["train", "eval"])
def test_winograd_convolution_gradients(shape, padding, training, monkeypatch):
    from guicnn.core import winograd

    monkeypatch.setattr(winograd, "MIN_OUTPUT", 1)  # small maps and few channels, so that the check stays quick
    monkeypatch.setattr(winograd, "MIN_CHANNELS", 16)
    monkeypatch.setattr(winograd, "MIN_FILTERS", 16)
    layer = layer_class("Conv2D")(filters=16, kernel_size=3, padding=padding)
    assert layer.uses_winograd(shape)
    check_layer_gradients(layer, shape, batch=2, training=training)


@pytest.mark.parametrize("settings", [{"filters": 8, "kernel_size": 3, "padding": 1},
                                      {"filters": 4, "kernel_size": 3, "dilation": 2, "padding": "same"},
                                      {"filters": 9, "kernel_size": 3, "padding": 1}],
                         ids=["flipped", "flipped-dilated", "columns"])
@pytest.mark.parametrize("training", [True, False], ids=["train", "eval"])
def test_row_blocked_convolution_gradients(settings, training, monkeypatch):
    """Both input-gradient routes of the blocked im2col path, with one output row per block."""
    from guicnn.core import blocked

    monkeypatch.setattr(blocked, "BLOCK_BYTES", 1)
    layer = layer_class("Conv2D")(**settings)
    check_layer_gradients(layer, (8, 5, 4), batch=2, training=training)


@pytest.mark.parametrize("training", [True, False], ids=["train", "eval"])
def test_batchnorm_channel_rows_gradients(training):
    x = batch_last(np.random.default_rng(7).normal(size=(4, 3, 4, 5)))
    layer = layer_class("BatchNorm")()
    assert layer._channel_rows(x) is not None
    check_layer_gradients(layer, (3, 4, 5), batch=4, x=x, training=training)


@pytest.mark.parametrize("pool", ["MaxPool2D", "MinPool2D"])
def test_relu_folded_into_pooling_backward(pool):
    """Sequential.backward runs the ReLU's backward inside the pool's: same input gradient as finite differences."""
    design = {"input_shape": [2, 6, 6], "layers": [
        {"type": "Conv2D", "filters": 3, "kernel_size": 3, "padding": 1}, {"type": "ReLU"},
        {"type": pool, "pool_size": 2}, {"type": "Flatten"}]}
    model = Sequential.from_config(design, seed=0).astype(np.float64)
    rng = np.random.default_rng(1)
    x = rng.normal(size=(2, 2, 6, 6))
    weights = rng.normal(size=(2, 27))
    calls = []
    relu = model.layers[1]
    original = relu.backward
    relu.backward = lambda dy: calls.append(1) or original(dy)
    model.forward(x, training=True)
    dx = model.backward(weights.copy(), input_grad=True)
    assert calls == []  # folded: the ReLU's own backward never ran
    numeric = numeric_gradient(lambda: float(np.sum(model.forward(x, training=True) * weights)), x)
    np.testing.assert_allclose(dx, numeric, rtol=1e-5, atol=1e-7)
