"""ONNX export: checker-valid graphs whose onnxruntime output equals forward(x, training=False),
and a trained model file exported as a deployable classifier (normalisation inside, probabilities out)."""

from __future__ import annotations

import json
import re
import sys

import numpy as np
import pytest

from guicnn import cli
from guicnn.core import ConfigError, Sequential, analyze, layer_types
from guicnn.core.data import load_digits
from guicnn.core.errors import MissingDependencyError
from guicnn.core.export import export_model_onnx, save_onnx
from guicnn.core.modelfile import load_model
from guicnn.core.training import Trainer, TrainSettings, evaluate

onnx = pytest.importorskip("onnx")
ort = pytest.importorskip("onnxruntime")


# ---- random designs ---------------------------------------------------------------------------

def _pair_or_int(rng, low, high):
    a = int(rng.integers(low, high + 1))
    return [a, int(rng.integers(low, high + 1))] if rng.random() < 0.3 else a


def _window_pool(rng, kind):
    size = _pair_or_int(rng, 1, 3)
    layer = {"type": kind, "pool_size": size}
    if rng.random() < 0.5:
        layer["stride"] = _pair_or_int(rng, 1, 2)
    smallest = min(size) if isinstance(size, list) else size
    if smallest >= 2 and rng.random() < 0.5:
        layer["padding"] = 1
    return layer


def _image_layer(rng):
    kind = rng.choice(["Conv2D", "Conv2D", "MaxPool2D", "AvgPool2D", "MinPool2D", "SumPool2D", "StochasticPool2D",
                       "ReLU", "LeakyReLU", "PReLU", "ELU", "Sigmoid", "Tanh", "Softmax", "BatchNorm", "Dropout"])
    if kind == "Conv2D":
        layer = {"type": "Conv2D", "filters": int(rng.integers(1, 5)), "kernel_size": _pair_or_int(rng, 1, 4),
                 "stride": _pair_or_int(rng, 1, 2), "use_bias": bool(rng.random() < 0.7)}
        layer["padding"] = [0, 1, [1, 0], "same", "valid"][int(rng.integers(0, 5))]
        if rng.random() < 0.3:
            layer["dilation"] = _pair_or_int(rng, 1, 2)
        return layer
    if kind.endswith("Pool2D"):
        return _window_pool(rng, kind)
    return _flat_layer(rng, kind)


def _flat_layer(rng, kind=None):
    kind = kind or rng.choice(["Dense", "Dense", "ReLU", "LeakyReLU", "PReLU", "ELU", "Sigmoid", "Tanh",
                               "BatchNorm", "Dropout"])
    if kind == "Dense":
        return {"type": "Dense", "units": int(rng.integers(2, 9)), "use_bias": bool(rng.random() < 0.8)}
    if kind == "LeakyReLU":
        return {"type": kind, "negative_slope": float(np.round(rng.uniform(0, 0.5), 3))}
    if kind == "PReLU":
        return {"type": kind, "channelwise": bool(rng.random() < 0.5), "init": float(np.round(rng.uniform(0, 0.5), 3))}
    if kind == "ELU":
        return {"type": kind, "alpha": float(np.round(rng.uniform(0.1, 2), 3))}
    if kind == "BatchNorm":
        return {"type": kind, "eps": 1e-3}
    if kind == "Dropout":
        return {"type": kind, "rate": 0.4}
    return {"type": kind}


def _transition(rng):
    kind = rng.choice(["Flatten", "GlobalAvgPool2D", "GlobalMaxPool2D", "SpatialPyramidPool2D"])
    if kind == "SpatialPyramidPool2D":
        levels = sorted(rng.choice([1, 2, 3, 4], size=int(rng.integers(1, 4)), replace=False).tolist())
        return {"type": kind, "levels": levels, "mode": str(rng.choice(["max", "avg"]))}
    return {"type": kind}


def random_design(seed: int) -> dict:
    """A valid random design: image layers, a way to a vector, vector layers, maybe Softmax."""
    rng = np.random.default_rng(seed)
    while True:
        layers = [_image_layer(rng) for _ in range(int(rng.integers(1, 6)))]
        layers.append(_transition(rng))
        layers += [_flat_layer(rng) for _ in range(int(rng.integers(0, 4)))]
        layers.append({"type": "Dense", "units": int(rng.integers(2, 6))})
        if rng.random() < 0.5:
            layers.append({"type": "Softmax"})
        design = {"name": f"random {seed}", "input_shape": [int(rng.integers(1, 4)), int(rng.integers(5, 13)),
                                                            int(rng.integers(5, 13))], "layers": layers}
        if analyze(design).valid:
            return design


# Irregular adaptive bins (3 cells over 5 pixels, 4 over 3) take the slice-per-cell path.
PYRAMIDS = [
    {"name": "irregular max pyramid", "input_shape": [2, 5, 5], "layers": [
        {"type": "SpatialPyramidPool2D", "levels": [1, 3], "mode": "max"}, {"type": "Dense", "units": 3}]},
    {"name": "irregular avg pyramid", "input_shape": [2, 3, 7], "layers": [
        {"type": "Conv2D", "filters": 3, "kernel_size": 1},
        {"type": "SpatialPyramidPool2D", "levels": [4, 2], "mode": "avg"}, {"type": "Dense", "units": 3}]},
]
SEEDS = range(24)


def _designs() -> list[dict]:
    return [random_design(seed) for seed in SEEDS] + PYRAMIDS


def test_random_designs_cover_every_layer_type():
    used = {layer["type"] for design in _designs() for layer in design["layers"]}
    assert set(layer_types()) <= used, set(layer_types()) - used


def _model_with_moved_statistics(design: dict, seed: int) -> Sequential:
    """A model whose batch-norm statistics and PReLU slopes are not the initial ones."""
    rng = np.random.default_rng(seed)
    model = Sequential.from_config(design, seed=seed)
    for layer in model.layers:
        if layer.type_name == "BatchNorm":
            layer.buffers["running_mean"][...] = rng.normal(0, 0.5, layer.buffers["running_mean"].shape)
            layer.buffers["running_var"][...] = rng.uniform(0.3, 2.0, layer.buffers["running_var"].shape)
            layer.params["weight"][...] = rng.uniform(0.5, 1.5, layer.params["weight"].shape)
            layer.params["bias"][...] = rng.normal(0, 0.3, layer.params["bias"].shape)
        if layer.type_name == "PReLU":
            layer.params["weight"][...] = rng.uniform(0, 0.5, layer.params["weight"].shape)
    return model


def _run(path, x: np.ndarray) -> np.ndarray:
    session = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    (name,) = [i.name for i in session.get_inputs()]
    return session.run(None, {name: x})[0]


@pytest.mark.parametrize("index", range(len(SEEDS) + len(PYRAMIDS)))
def test_onnxruntime_equals_forward_in_inference(index, tmp_path):
    design = _designs()[index]
    model = _model_with_moved_statistics(design, index)
    path = tmp_path / "model.onnx"
    save_onnx(model, path)
    proto = onnx.load(str(path))
    onnx.checker.check_model(proto, full_check=True)
    x = np.random.default_rng(100 + index).normal(0, 1, (4, *model.input_shape)).astype(np.float32)
    expected = model.forward(x, training=False)
    got = _run(path, x)
    assert got.shape == expected.shape
    np.testing.assert_allclose(got, expected, rtol=1e-4, atol=1e-4)


def test_graph_follows_onnx_conventions(tmp_path):
    design = {"name": "conventions", "input_shape": [1, 6, 6], "layers": [
        {"type": "Conv2D", "filters": 2, "kernel_size": 3}, {"type": "BatchNorm"}, {"type": "Flatten"},
        {"type": "Dense", "units": 3}]}
    model = Sequential.from_config(design)
    path = tmp_path / "m.onnx"
    save_onnx(model, path)
    proto = onnx.load(str(path))
    assert proto.opset_import[0].version == 17 and proto.producer_name == "guicnn"
    graph = proto.graph
    assert graph.name == "conventions"
    assert [i.name for i in graph.input] == ["input"] and [o.name for o in graph.output] == ["output"]
    batch = graph.input[0].type.tensor_type.shape.dim[0]
    assert batch.dim_param == "N"  # any batch size
    # Weights keep the state_dict names, so they can be matched to a PyTorch model one to one.
    names = {t.name for t in graph.initializer}
    assert set(model.state_dict()) - {"1.num_batches_tracked"} <= names
    assert [n.op_type for n in graph.node] == ["Conv", "BatchNormalization", "Flatten", "Gemm"]
    x = np.random.default_rng(0).random((7, 1, 6, 6), dtype=np.float32)
    assert _run(path, x).shape == (7, 3)


# ---- a trained model file ---------------------------------------------------------------------

DIGITS_DESIGN = {
    "name": "onnx digits", "input_shape": [1, 8, 8],
    "layers": [
        {"type": "Conv2D", "filters": 8, "kernel_size": 3, "padding": 1}, {"type": "BatchNorm"}, {"type": "ReLU"},
        {"type": "MaxPool2D", "pool_size": 2}, {"type": "Flatten"}, {"type": "Dense", "units": 10},
        {"type": "Softmax"},
    ],
}


@pytest.fixture(scope="module")
def trained_digits(tmp_path_factory):
    data = load_digits()
    trainer = Trainer.from_config(DIGITS_DESIGN, TrainSettings(epochs=2, batch_size=64, seed=3))
    trainer.dataset_info = {"name": data.name, "spec": "digits", "input_shape": list(data.input_shape),
                            "class_names": list(data.class_names)}
    assert trainer.fit(data).reason == "finished"
    path = tmp_path_factory.mktemp("onnx") / "digits.safetensors"
    trainer.save(path)
    return path, data


def test_trained_model_classifies_digits_like_evaluate(trained_digits, tmp_path, capsys):
    path, data = trained_digits
    loaded = load_model(path)
    out = tmp_path / "digits.onnx"
    assert cli.main(["export", str(path), "--format", "onnx", "-o", str(out)]) == 0
    proto = onnx.load(str(out))
    onnx.checker.check_model(proto, full_check=True)
    assert [o.name for o in proto.graph.output] == ["probabilities"]
    meta = {p.key: p.value for p in proto.metadata_props}
    assert json.loads(meta["class_names"]) == list(data.class_names)
    assert json.loads(meta["normalization"]) == loaded.normalization.to_dict()
    # Raw images in [0, 1], exactly as the loader gives them: the graph normalises itself.
    probabilities = _run(out, data.x)
    reference = evaluate(loaded.model, data.x, data.y, normalization=loaded.normalization)
    np.testing.assert_allclose(probabilities, reference.probabilities, atol=1e-4)
    np.testing.assert_allclose(probabilities.sum(axis=1), 1.0, atol=1e-5)  # one softmax, not two
    predictions = probabilities.argmax(axis=1)
    assert (predictions == reference.predictions).mean() > 0.999
    capsys.readouterr()
    assert cli.main(["evaluate", str(path), "--data", "digits"]) == 0
    printed = re.search(r"accuracy (\d+\.\d\d)%", capsys.readouterr().out).group(1)
    assert printed == f"{100 * (predictions == data.y).mean():.2f}"


def test_flat_input_model_takes_images_and_flattens_them_itself(tmp_path):
    data = load_digits()
    design = {"name": "flat", "input_shape": [64], "layers": [
        {"type": "Dense", "units": 16}, {"type": "ReLU"}, {"type": "Dense", "units": 10}]}
    trainer = Trainer.from_config(design, TrainSettings(epochs=1, batch_size=128))
    trainer.dataset_info = {"name": "digits", "input_shape": [1, 8, 8], "class_names": list(data.class_names)}
    trainer.fit(data)
    path = tmp_path / "flat.safetensors"
    trainer.save(path)
    export_model_onnx(path, tmp_path / "flat.onnx")
    session = ort.InferenceSession(str(tmp_path / "flat.onnx"), providers=["CPUExecutionProvider"])
    assert [d for d in session.get_inputs()[0].shape] == ["N", 1, 8, 8]
    got = _run(tmp_path / "flat.onnx", data.x[:50])
    expected = evaluate(trainer.model, data.x[:50], data.y[:50], normalization=trainer.normalization).probabilities
    np.testing.assert_allclose(got, expected, atol=1e-4)


def test_an_untrained_design_exports_with_a_note(tmp_path, capsys):
    design = tmp_path / "d.json"
    design.write_text(json.dumps(DIGITS_DESIGN))
    assert cli.main(["export", str(design), "--format", "onnx", "-o", str(tmp_path / "d.onnx")]) == 0
    assert "untrained" in capsys.readouterr().err
    onnx.checker.check_model(onnx.load(str(tmp_path / "d.onnx")))
    assert cli.main(["export", str(design), "--format", "onnx"]) == 1
    assert "-o model.onnx" in capsys.readouterr().err


def test_missing_onnx_package_gives_the_install_command(monkeypatch, tmp_path, capsys):
    monkeypatch.setitem(sys.modules, "onnx", None)  # import onnx now raises ImportError
    model = Sequential.from_config(DIGITS_DESIGN)
    with pytest.raises(MissingDependencyError, match=r'pip install "guicnn\[onnx\]"'):
        save_onnx(model, tmp_path / "m.onnx")
    assert not (tmp_path / "m.onnx").exists()
    design = tmp_path / "d.json"
    design.write_text(json.dumps(DIGITS_DESIGN))
    assert cli.main(["export", str(design), "--format", "onnx", "-o", str(tmp_path / "m.onnx")]) == 1
    err = capsys.readouterr().err
    assert err.startswith("guicnn: error: ONNX export needs the 'onnx' package") and "Traceback" not in err


def test_a_layer_type_without_onnx_export_is_named(monkeypatch, tmp_path):
    from guicnn.core import Layer, registry

    class Mystery(Layer):
        type_name = "Mystery"
        group = "Shape"

        def forward(self, x, training=False):
            return x

    monkeypatch.setitem(registry._REGISTRY, "Mystery", Mystery)
    design = {"input_shape": [4], "layers": [{"type": "Dense", "units": 3}, {"type": "Mystery"}]}
    with pytest.raises(ConfigError, match="layer 1 Mystery: layer type Mystery has no ONNX export"):
        save_onnx(Sequential.from_config(design), tmp_path / "m.onnx")
    assert not (tmp_path / "m.onnx").exists()
