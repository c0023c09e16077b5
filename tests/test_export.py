"""PyTorch export: generated code builds an index-compatible nn.Sequential with equal outputs."""

from __future__ import annotations

import numpy as np
import pytest

from guicnn.core import ConfigError, layer_types
from guicnn.core.designfile import load_preset, preset_names
from guicnn.core.export import torch_code
from guicnn.core.modelfile import save_model
from guicnn.core.training import Trainer, TrainSettings

# Extra designs that together use every registered layer type and the unusual settings:
# asymmetric "same" padding at stride 2, even kernels, dilation, pairs, pool padding, no bias.
EXTRA = {
    "odd_layers": {
        "name": "odd layers",
        "input_shape": [2, 11, 10],
        "layers": [
            {"type": "Conv2D", "filters": 4, "kernel_size": 3, "stride": 2, "padding": "same", "dilation": 2,
             "use_bias": False},
            {"type": "LeakyReLU", "negative_slope": 0.1},
            {"type": "MinPool2D", "pool_size": 3, "stride": 1, "padding": 1},
            {"type": "PReLU", "channelwise": True, "init": 0.2},
            {"type": "SumPool2D", "pool_size": 2, "stride": 1},
            {"type": "ELU", "alpha": 0.5},
            {"type": "AvgPool2D", "pool_size": 3, "stride": 1, "padding": 1},
            {"type": "ReLU"},
            {"type": "StochasticPool2D", "pool_size": 2},
            {"type": "GlobalAvgPool2D"},
            {"type": "BatchNorm", "momentum": 0.3, "eps": 0.001},
            {"type": "Dense", "units": 6},
            {"type": "Tanh"},
            {"type": "Dropout", "rate": 0.3},
            {"type": "Dense", "units": 3, "use_bias": False},
            {"type": "Sigmoid"},
        ],
    },
    "pyramid": {
        "name": "pyramid",
        "input_shape": [3, 9, 9],
        "layers": [
            {"type": "Conv2D", "filters": 5, "kernel_size": 4, "padding": "same"},
            {"type": "BatchNorm"},
            {"type": "PReLU"},
            {"type": "MaxPool2D", "pool_size": 3, "stride": 2, "padding": 1},
            {"type": "SpatialPyramidPool2D", "levels": [1, 2], "mode": "avg"},
            {"type": "Dense", "units": 4},
            {"type": "Softmax"},
        ],
    },
    "pairs": {
        "name": "pairs",
        "input_shape": [1, 12, 9],
        "layers": [
            {"type": "Conv2D", "filters": 3, "kernel_size": [3, 2], "stride": [2, 1], "padding": [1, 0]},
            {"type": "ReLU"},
            {"type": "Conv2D", "filters": 3, "kernel_size": 2, "padding": "valid"},
            {"type": "SpatialPyramidPool2D", "levels": [1, 3], "mode": "max"},
            {"type": "Flatten"},
            {"type": "Dense", "units": 3},
        ],
    },
    "global_max": {
        "name": "global max",
        "input_shape": [1, 7, 7],
        "layers": [
            {"type": "Conv2D", "filters": 3, "kernel_size": 3},
            {"type": "GlobalMaxPool2D"},
            {"type": "Softmax"},
        ],
    },
}


def _designs() -> dict[str, dict]:
    designs = {name: load_preset(name) for name in preset_names()}
    designs.update(EXTRA)
    return designs


def test_designs_cover_every_layer_type():
    used = {layer["type"] for design in _designs().values() for layer in design["layers"]}
    assert set(layer_types()) <= used


@pytest.mark.parametrize("name", sorted(_designs()))
def test_generated_code_compiles_and_names_every_layer(name):
    design = _designs()[name]
    code = torch_code(design)
    compile(code, f"<{name}>", "exec")
    for index in range(len(design["layers"])):
        assert f"  # {index}:" in code


def test_invalid_design_is_refused_with_the_reason():
    bad = {"input_shape": [1, 4, 4], "layers": [{"type": "MaxPool2D", "pool_size": 8}]}
    with pytest.raises(ConfigError, match="layer 0 MaxPool2D: window 8x8 is larger"):
        torch_code(bad)


def _trained_file(design: dict, tmp_path, steps: int = 2) -> tuple[Trainer, object, np.ndarray]:
    """Train a couple of batches on random data (so batch-norm statistics move) and save."""
    rng = np.random.default_rng(0)
    shape = tuple(design["input_shape"])
    trainer = Trainer.from_config(design, TrainSettings(epochs=1, batch_size=8, seed=1, val_fraction=0.0,
                                                        normalize=False, optimizer={"type": "adam", "lr": 0.01}))
    outputs = int(np.prod(trainer.model.output_shape))
    x = rng.random((8 * steps,) + shape, dtype=np.float32)
    y = rng.integers(0, outputs, len(x))
    if len(shape) == 1:
        x = x.reshape(len(x), 1, 1, -1)
    assert trainer.fit((x, y)).reason == "finished"
    path = tmp_path / "model.safetensors"
    trainer.save(path)
    probe = rng.random((5,) + shape, dtype=np.float32)
    return trainer, path, probe


@pytest.mark.parametrize("name", sorted(_designs()))
def test_torch_module_loads_our_file_strictly_and_matches(name, tmp_path):
    torch = pytest.importorskip("torch")
    from safetensors.torch import load_file

    design = _designs()[name]
    trainer, path, probe = _trained_file(design, tmp_path, steps=1 if name == "tiny_vgg" else 2)
    namespace: dict = {}
    exec(compile(torch_code(design), "<export>", "exec"), namespace)
    module = namespace["build_model"]()
    state = {k: v for k, v in load_file(str(path)).items() if not k.startswith("optimizer.")}
    module.load_state_dict(state, strict=True)
    module.eval()
    with torch.no_grad():
        expected = module(torch.from_numpy(probe)).numpy()
    ours = trainer.model.forward(probe, training=False)
    assert ours.shape == expected.shape
    np.testing.assert_allclose(ours, expected, rtol=1e-5, atol=1e-5)


def test_torch_stochastic_pool_trains_by_sampling_window_elements():
    torch = pytest.importorskip("torch")
    namespace: dict = {}
    exec(compile(torch_code(EXTRA["odd_layers"]), "<export>", "exec"), namespace)
    pool = namespace["StochasticPool2d"](2)
    x = torch.rand(2, 3, 4, 4)
    out = pool.train()(x)
    windows = torch.nn.functional.unfold(x, 2, stride=2).view(2, 3, 4, 4)
    # every sampled value is one of its window's four values
    assert torch.isclose(windows, out.reshape(2, 3, 1, 4)).any(dim=2).all()


def test_model_without_bias_saves_no_bias(tmp_path):
    design = {"input_shape": [1, 4, 4], "layers": [
        {"type": "Conv2D", "filters": 2, "kernel_size": 3, "use_bias": False}, {"type": "Flatten"},
        {"type": "Dense", "units": 2, "use_bias": False}]}
    trainer = Trainer.from_config(design)
    save_model(tmp_path / "m.safetensors", trainer.model)
    assert "bias=False" in torch_code(design)


def _scale_layer_class(with_export: bool):
    """A layer type defined outside guicnn: multiplies by a constant."""
    from guicnn.core import Field, Layer

    class Scale(Layer):
        type_name = "Scale"
        group = "Shape"
        fields = (Field("factor", "float", 2.0, "The constant.", minimum=0.0, maximum=10.0, key=True),)

        def forward(self, x, training=False):
            return x * np.float32(self.settings["factor"])

        if with_export:
            def torch_code(self, input_shape):
                return f"Scale({self.settings['factor']!r})"

            def torch_helpers(self, input_shape):
                return {"Scale": "class Scale(nn.Module):\n    def __init__(self, factor):\n"
                                 "        super().__init__()\n        self.factor = factor\n\n"
                                 "    def forward(self, x):\n        return x * self.factor\n"}

            def onnx_nodes(self, graph, x):
                factor = graph.tensor("factor", np.array(self.settings["factor"], np.float32))
                return graph.node("Mul", [x, factor])

    return Scale


SCALED = {"input_shape": [1, 5, 5], "layers": [
    {"type": "Conv2D", "filters": 2, "kernel_size": 3}, {"type": "Scale", "factor": 3.0}, {"type": "Flatten"}]}


def test_a_new_layer_type_exports_through_its_own_methods(monkeypatch, tmp_path):
    from guicnn.core import Sequential, registry

    monkeypatch.setitem(registry._REGISTRY, "Scale", _scale_layer_class(with_export=True))
    code = torch_code(SCALED)
    assert "Scale(3.0),  # 1:" in code and "class Scale(nn.Module)" in code
    model = Sequential.from_config(SCALED)
    x = np.random.default_rng(0).random((2, 1, 5, 5), dtype=np.float32)
    torch = pytest.importorskip("torch")
    namespace: dict = {}
    exec(compile(code, "<export>", "exec"), namespace)
    module = namespace["build_model"]()
    module.load_state_dict({k: torch.from_numpy(v) for k, v in model.state_dict().items()}, strict=True)
    np.testing.assert_allclose(module(torch.from_numpy(x)).detach().numpy(), model.forward(x), atol=1e-6)
    ort = pytest.importorskip("onnxruntime")
    pytest.importorskip("onnx")
    from guicnn.core.export import save_onnx

    save_onnx(model, tmp_path / "scaled.onnx")
    session = ort.InferenceSession(str(tmp_path / "scaled.onnx"), providers=["CPUExecutionProvider"])
    np.testing.assert_allclose(session.run(None, {"input": x})[0], model.forward(x), atol=1e-6)


def test_a_new_layer_type_without_export_methods_is_named(monkeypatch):
    from guicnn.core import registry

    monkeypatch.setitem(registry._REGISTRY, "Scale", _scale_layer_class(with_export=False))
    with pytest.raises(ConfigError, match="layer 1 Scale: layer type Scale has no PyTorch export"):
        torch_code(SCALED)
