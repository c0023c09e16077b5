"""Scoring through onnxruntime (guicnn.core.accelerate): the same scores as the NumPy engine,
NumPy whenever onnxruntime cannot or should not take a run, and the switch that turns it off."""

from __future__ import annotations

import numpy as np
import pytest

from guicnn.core import ConfigError, Sequential, accelerate, parallel
from guicnn.core.training import evaluate

pytest.importorskip("onnx")
pytest.importorskip("onnxruntime")

CONV_NET = {"name": "scored", "input_shape": [3, 12, 12], "layers": [
    {"type": "Conv2D", "filters": 8, "kernel_size": 3, "padding": 1}, {"type": "BatchNorm"}, {"type": "ReLU"},
    {"type": "MaxPool2D", "pool_size": 2}, {"type": "Conv2D", "filters": 6, "kernel_size": 3, "stride": 2},
    {"type": "ReLU"}, {"type": "Dropout", "rate": 0.3}, {"type": "Flatten"}, {"type": "Dense", "units": 5},
    {"type": "Softmax"}]}
MANY = accelerate.MIN_SAMPLES


@pytest.fixture(autouse=True)
def _auto_backend(monkeypatch):
    monkeypatch.delenv(accelerate.ENV, raising=False)
    accelerate.set_backend(None)
    yield
    accelerate.set_backend(None)


def _trained_looking(design: dict = CONV_NET) -> Sequential:
    """A model whose batch-norm statistics are not the initial ones (inference uses them)."""
    model = Sequential.from_config(design, seed=3)
    rng = np.random.default_rng(4)
    for layer in model.layers:
        if layer.type_name == "BatchNorm":
            layer.buffers["running_mean"][...] = rng.normal(0, 0.5, layer.buffers["running_mean"].shape)
            layer.buffers["running_var"][...] = rng.uniform(0.3, 2.0, layer.buffers["running_var"].shape)
    return model


def _data(model: Sequential, n: int, classes: int = 5):
    rng = np.random.default_rng(n)
    return rng.random((n, *model.input_shape), dtype=np.float32), rng.integers(0, classes, n)


def test_large_run_goes_through_onnxruntime_and_equals_the_engine():
    model = _trained_looking()
    x, _ = _data(model, 64)
    forward = accelerate.inference(model, upto=model.logits_end, samples=MANY)
    assert isinstance(forward, accelerate.OnnxInference)
    got = forward(x)
    expected = model.forward(x, training=False, upto=model.logits_end)
    assert got.shape == expected.shape == (64, 5)
    np.testing.assert_allclose(got, expected, rtol=1e-4, atol=1e-5)
    # the whole model, final Softmax included
    np.testing.assert_allclose(accelerate.inference(model, samples=MANY)(x), model.forward(x), rtol=1e-4, atol=1e-6)


def test_evaluate_gives_the_engines_scores_on_either_backend():
    model = _trained_looking()
    x, y = _data(model, MANY + 40)
    accelerate.set_backend("numpy")
    reference = evaluate(model, x, y, batch_size=100)
    accelerate.set_backend("auto")
    assert accelerate.backend() == "onnxruntime"
    fast = evaluate(model, x, y, batch_size=100)
    np.testing.assert_allclose(fast.probabilities, reference.probabilities, rtol=1e-4, atol=1e-6)
    assert fast.loss == pytest.approx(reference.loss, rel=1e-5)
    assert np.array_equal(fast.predictions, reference.predictions)
    assert np.array_equal(fast.confusion, reference.confusion) and fast.accuracy == reference.accuracy


def test_predict_proba_matches_the_engine():
    model = _trained_looking()
    x, _ = _data(model, MANY)
    accelerate.set_backend("numpy")
    reference = model.predict_proba(x, batch_size=96)
    accelerate.set_backend(None)
    fast = model.predict_proba(x, batch_size=96)
    np.testing.assert_allclose(fast, reference, rtol=1e-4, atol=1e-6)
    np.testing.assert_allclose(fast.sum(axis=1), 1.0, rtol=1e-5)


def test_flat_input_model_is_accelerated_too():
    design = {"input_shape": [20], "layers": [{"type": "Dense", "units": 7}, {"type": "Tanh"},
                                              {"type": "Dense", "units": 3}]}
    model = Sequential.from_config(design, seed=1)
    x = np.random.default_rng(0).normal(size=(MANY, 20)).astype(np.float32)
    forward = accelerate.inference(model, samples=MANY)
    assert isinstance(forward, accelerate.OnnxInference)
    np.testing.assert_allclose(forward(x), model.forward(x), rtol=1e-5, atol=1e-6)


def _is_engine(forward) -> bool:
    return not isinstance(forward, accelerate.OnnxInference)


def test_small_runs_float64_models_and_switched_off_stay_on_numpy(monkeypatch):
    model = _trained_looking()
    assert _is_engine(accelerate.inference(model, samples=MANY - 1))
    assert _is_engine(accelerate.inference(model, upto=0, samples=MANY))  # nothing to run
    doubled = _trained_looking()
    for layer in doubled.layers:
        for name, value in layer.params.items():
            layer.params[name] = value.astype(np.float64)
    assert _is_engine(accelerate.inference(doubled, samples=MANY))
    monkeypatch.setenv(accelerate.ENV, "numpy")
    assert accelerate.backend() == "numpy"
    assert _is_engine(accelerate.inference(model, samples=MANY))
    monkeypatch.setenv(accelerate.ENV, "auto")
    assert accelerate.backend() == "onnxruntime"
    accelerate.set_backend("numpy")  # the code's choice wins over the environment's
    assert accelerate.backend() == "numpy"
    with pytest.raises(ValueError, match="numpy"):
        accelerate.set_backend("cuda")


def test_without_onnxruntime_everything_stays_on_numpy(monkeypatch):
    monkeypatch.setattr(accelerate, "_ort", False)
    model = _trained_looking()
    assert accelerate.backend() == "numpy"
    assert _is_engine(accelerate.inference(model, samples=MANY))
    x, y = _data(model, MANY)
    assert evaluate(model, x, y).probabilities.shape == (MANY, 5)


def test_a_layer_without_onnx_export_keeps_the_engine(monkeypatch):
    model = _trained_looking()

    def refuse(graph, x):
        raise ConfigError("layer type MaxPool2D has no ONNX export")

    monkeypatch.setattr(model.layers[3], "onnx_nodes", refuse)
    assert _is_engine(accelerate.inference(model, samples=MANY))


def test_a_failing_session_hands_the_run_to_the_engine():
    model = _trained_looking()
    x, _ = _data(model, 16)
    forward = accelerate.inference(model, samples=MANY)
    assert isinstance(forward, accelerate.OnnxInference)

    class Broken:
        def run(self, *args, **kwargs):
            raise RuntimeError("onnxruntime: failed to allocate memory")

    forward.session = Broken()
    assert np.array_equal(forward(x), model.forward(x, training=False))
    assert isinstance(forward.failed, RuntimeError)
    # a float64 batch never reaches onnxruntime
    fresh = accelerate.inference(model, samples=MANY)
    assert np.array_equal(fresh(x.astype(np.float64)), model.forward(x.astype(np.float64), training=False))


def test_session_uses_the_callers_thread_count():
    model = _trained_looking()
    with parallel.thread_limit(1):
        forward = accelerate.inference(model, samples=MANY)
    assert forward.session.get_session_options().intra_op_num_threads == 1
    parallel.set_threads(2)
    try:
        forward = accelerate.inference(model, samples=MANY)
    finally:
        parallel.set_threads(None)
    assert forward.session.get_session_options().intra_op_num_threads == 2


def test_session_keeps_the_weights_it_was_built_with():
    """A session is a snapshot: scoring during a run sees the weights of when it started."""
    model = _trained_looking()
    x, _ = _data(model, 8)
    forward = accelerate.inference(model, samples=MANY)
    before = forward(x).copy()
    model.layers[-2].params["weight"] *= 2.0
    assert np.array_equal(forward(x), before)
    np.testing.assert_allclose(accelerate.inference(model, samples=MANY)(x), model.forward(x), rtol=1e-4, atol=1e-6)


def test_describe_says_what_scores_and_how_to_change_it(monkeypatch):
    assert "onnxruntime" in accelerate.describe() and "GUICNN_INFERENCE=numpy" in accelerate.describe()
    accelerate.set_backend("numpy")
    assert "turned off" in accelerate.describe()
    monkeypatch.setattr(accelerate, "_ort", False)
    assert 'pip install "guicnn[fast]"' in accelerate.describe()
