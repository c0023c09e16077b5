"""Sequential, analyze and the registry: contract details and messages for bad input."""

import math
import time

import numpy as np
import pytest

from guicnn.core import ConfigError, Sequential, ShapeError, analyze, layer_class, layer_classes, layer_types
from guicnn.core.designfile import load_preset, preset_names
from guicnn.core.registry import GROUPS

LENET = {
    "name": "LeNet-5", "input_shape": [1, 28, 28],
    "layers": [
        {"type": "Conv2D", "filters": 6, "kernel_size": 5, "stride": 1, "padding": 2}, {"type": "ReLU"},
        {"type": "MaxPool2D", "pool_size": 2}, {"type": "Conv2D", "filters": 16, "kernel_size": 5},
        {"type": "ReLU"}, {"type": "MaxPool2D", "pool_size": 2}, {"type": "Flatten"},
        {"type": "Dense", "units": 120}, {"type": "ReLU"}, {"type": "Dense", "units": 84}, {"type": "ReLU"},
        {"type": "Dense", "units": 10},
    ],
}


def test_lenet_shapes_params_and_receptive_field():
    analysis = analyze(LENET)
    assert analysis.valid
    shapes = [info.output_shape for info in analysis.layers]
    assert shapes[0] == (6, 28, 28) and shapes[2] == (6, 14, 14) and shapes[3] == (16, 10, 10)
    assert shapes[6] == (400,) and shapes[-1] == (10,)
    assert analysis.total_params == 61706  # the well-known LeNet-5 (ReLU/max-pool variant) count
    assert analysis.layers[0].receptive_field == (5, 5)
    assert analysis.layers[3].receptive_field == (14, 14)  # 6 + (5-1)*2
    assert analysis.layers[5].receptive_field == (16, 16)
    assert analysis.layers[0].macs == 6 * 28 * 28 * 25


def test_config_round_trips_exactly_and_state_names_follow_torch():
    model = Sequential.from_config(LENET, seed=0)
    assert model.get_config() == LENET
    names = list(model.named_parameters())
    assert names == ["0.weight", "0.bias", "3.weight", "3.bias", "7.weight", "7.bias", "9.weight", "9.bias",
                     "11.weight", "11.bias"]
    assert model.named_parameters()["0.weight"].shape == (6, 1, 5, 5)
    assert model.named_parameters()["7.weight"].shape == (120, 400)


def test_seeded_initialisation_is_reproducible_and_he_scaled():
    a = Sequential.from_config(LENET, seed=7).state_dict()
    b = Sequential.from_config(LENET, seed=7).state_dict()
    c = Sequential.from_config(LENET, seed=8).state_dict()
    assert all(np.array_equal(a[k], b[k]) for k in a)
    assert not np.array_equal(a["0.weight"], c["0.weight"])
    w = a["7.weight"]
    assert w.dtype == np.float32
    assert np.std(w) == pytest.approx(math.sqrt(2 / 400), rel=0.05)


def test_named_parameters_are_live_and_load_state_dict_checks_shapes():
    model = Sequential.from_config(LENET)
    model.named_parameters()["11.bias"][...] = 3.0
    assert np.all(model.layers[11].params["bias"] == 3.0)
    state = model.state_dict()
    state["11.bias"] = np.zeros(9, np.float32)
    with pytest.raises(ValueError, match=r"11\.bias: expected shape \(10,\), got \(9,\)"):
        model.load_state_dict(state)
    assert np.all(model.layers[11].params["bias"] == 3.0)  # nothing changed on failure
    with pytest.raises(ValueError, match="missing 0.weight"):
        model.load_state_dict({k: v for k, v in model.state_dict().items() if k != "0.weight"})


def test_keep_stores_copies_of_every_activation():
    model = Sequential.from_config(LENET)
    x = np.random.default_rng(0).random((1, 1, 28, 28), dtype=np.float32)
    out = model.forward(x, keep=True)
    assert len(model.activations) == len(LENET["layers"])
    assert model.activations[0].shape == (1, 6, 28, 28)
    np.testing.assert_array_equal(model.activations[-1], out)
    before = model.activations[1].copy()
    model.forward(np.zeros_like(x))
    np.testing.assert_array_equal(model.activations[1], before)


@pytest.mark.parametrize("layer,message", [
    ({"type": "Conv2D", "filters": 0, "kernel_size": 3}, r"layer 0 Conv2D: filters must be ≥ 1 and ≤ 4096, got 0"),
    ({"type": "Conv2D", "filters": 4, "kernel_size": -1}, r"layer 0 Conv2D: kernel_size must be ≥ 1"),
    ({"type": "Conv2D", "filters": 4}, r"layer 0 Conv2D: kernel_size is required"),
    ({"type": "Conv2D", "filters": 4, "kernel_size": 3, "stride": 0}, r"stride must be ≥ 1"),
    ({"type": "Conv2D", "filters": 4, "kernel_size": 3, "padding": "full"}, r"padding must be .* 'valid' or 'same'"),
    ({"type": "Conv2D", "filters": 4, "kernel_size": 3, "filter": 2}, r"unknown setting 'filter'; did you mean 'filters'"),
    ({"type": "Conv2d", "filters": 4, "kernel_size": 3}, r"unknown layer type 'Conv2d'; did you mean 'Conv2D'"),
    ({"type": "Dropout", "rate": 1.0}, r"layer 0 Dropout: rate must be ≥ 0 and < 1, got 1"),
    ({"type": "MaxPool2D", "pool_size": 2, "padding": 2}, r"padding 2 is more than half the 2x2 window"),
    ({"type": "Conv2D", "filters": 4, "kernel_size": 31}, r"kernel 31x31 is larger than the padded 28x28 input"),
    ({"type": "Dense", "units": 10}, r"layer 0 Dense: Dense needs a flat input but gets 1×28×28; add Flatten"),
])
def test_invalid_layers_raise_config_error_naming_index_type_and_reason(layer, message):
    config = {"input_shape": [1, 28, 28], "layers": [layer]}
    with pytest.raises(ConfigError, match=message) as info:
        Sequential.from_config(config)
    assert isinstance(info.value, ValueError)
    analysis = analyze(config)
    assert not analysis.valid and analysis.layers[0].error == info.value.reason


def test_analyze_reports_error_on_the_offending_layer_and_keeps_going():
    config = {"input_shape": [1, 8, 8], "layers": [
        {"type": "MaxPool2D", "pool_size": 2}, {"type": "MaxPool2D", "pool_size": 2},
        {"type": "MaxPool2D", "pool_size": 3}, {"type": "ReLU"}, {"type": "Dense", "units": -3},
    ]}
    analysis = analyze(config)
    errors = [info.error for info in analysis.layers]
    assert errors[0] is None and errors[1] is None
    assert errors[2] == "window 3x3 is larger than the 2x2 input; use a smaller pool_size or remove a pooling layer before it"
    assert errors[3] is None and analysis.layers[3].output_shape is None
    assert errors[4].startswith("units must be ≥ 1")
    assert analysis.errors[0].startswith("layer 2 MaxPool2D: window 3x3 is larger than the 2x2 input")


def test_stride_that_drops_rows_is_a_warning_not_an_error():
    analysis = analyze({"input_shape": [1, 28, 28], "layers": [
        {"type": "Conv2D", "filters": 2, "kernel_size": 3, "stride": 2}]})
    assert analysis.valid
    assert analysis.layers[0].output_shape == (2, 13, 13)
    assert analysis.layers[0].warnings == [
        "stride 2 leaves the last 1 row and 1 column of the padded 28x28 input unused "
        "(output size is floored, as in PyTorch)"]


def test_analyze_bad_input_shape_and_malformed_designs():
    assert analyze({"input_shape": [1, 0, 28], "layers": []}).input_error.startswith("input_shape values must be")
    assert not analyze({"input_shape": [1, 28, 28], "layers": "Conv2D"}).valid
    assert not analyze([1, 2, 3]).valid
    bad = analyze({"input_shape": [1, 28, 28], "layers": [42]})
    assert bad.layers[0].error.startswith("each layer must be an object")


def test_analyze_fifty_layers_is_fast():
    config = {"input_shape": [3, 64, 64], "layers": [
        {"type": "Conv2D", "filters": 8, "kernel_size": 3, "padding": "same"}, {"type": "ReLU"}] * 25}
    analyze(config)
    start = time.perf_counter()
    for _ in range(20):
        analyze(config)
    # A loose bound (the goal is < 10 ms); the benchmark measures it properly.
    assert (time.perf_counter() - start) / 20 < 0.05


def test_forward_rejects_wrong_input_shape_with_expected_shape():
    model = Sequential.from_config(LENET)
    with pytest.raises(ShapeError, match=r"model expects input of shape \(N, 1, 28, 28\), got \(2, 28, 28\)"):
        model.forward(np.zeros((2, 28, 28), np.float32))


@pytest.mark.parametrize("type_name", ["Sigmoid", "Softmax", "ELU", "Tanh", "BatchNorm"])
def test_no_nan_for_huge_finite_input(type_name):
    config = {"input_shape": [4], "layers": [{"type": type_name}]}
    model = Sequential.from_config(config)
    x = np.array([[1e30, -1e30, 3e38, -3e38], [88.8, -104.0, 1e4, -1e4]], dtype=np.float32)
    y = model.forward(x, training=False)
    assert np.all(np.isfinite(y)), y
    model.backward(np.ones_like(y), input_grad=True)


def test_registry_field_specs_drive_everything():
    assert set(layer_types()) >= {
        "Conv2D", "Dense", "Flatten", "ReLU", "LeakyReLU", "PReLU", "ELU", "Sigmoid", "Tanh", "Softmax",
        "MaxPool2D", "AvgPool2D", "MinPool2D", "SumPool2D", "StochasticPool2D", "GlobalAvgPool2D",
        "GlobalMaxPool2D", "SpatialPyramidPool2D", "Dropout", "BatchNorm"}
    for cls in layer_classes():
        assert cls.group in GROUPS and cls.description and cls.glyph
        for field in cls.fields:
            assert field.help, (cls.type_name, field.name)
            field.validate(field.default) if field.default is not None else None
        # Every layer can be created from its defaults (what the palette does).
        defaults = {f.name: f.default for f in cls.fields if f.required}
        cls(**defaults)
    conv = layer_class("Conv2D")
    assert conv.field("kernel_size").minimum == 1
    assert conv.field("padding").choices == ("valid", "same")


def test_pool_stride_defaults_to_pool_size():
    analysis = analyze({"input_shape": [1, 9, 9], "layers": [{"type": "AvgPool2D", "pool_size": 3}]})
    assert analysis.layers[0].output_shape == (1, 3, 3)
    overlapping = analyze({"input_shape": [1, 9, 9], "layers": [
        {"type": "MaxPool2D", "pool_size": 3, "stride": 2}]})
    assert overlapping.layers[0].output_shape == (1, 4, 4)


@pytest.mark.parametrize("name", preset_names())
def test_presets_are_valid_and_build(name):
    config = load_preset(name)
    assert analyze(config).valid
    assert Sequential.from_config(config).get_config() == config


def test_stochastic_pool_samples_in_training_and_averages_in_inference():
    layer = layer_class("StochasticPool2D")(pool_size=2)
    layer.build((1, 2, 2))
    x = np.array([[[[1.0, 3.0], [0.0, 0.0]]]], dtype=np.float32)
    assert layer.forward(x, training=False)[0, 0, 0, 0] == pytest.approx((1 + 9) / 4)
    samples = np.array([layer.forward(x, training=True)[0, 0, 0, 0] for _ in range(400)])
    assert set(np.unique(samples)) <= {1.0, 3.0}
    assert np.mean(samples == 3.0) == pytest.approx(0.75, abs=0.08)


def test_dropout_is_inverted_and_identity_in_inference():
    layer = layer_class("Dropout")(rate=0.25)
    layer.build((1000,), np.random.default_rng(0))
    x = np.ones((4, 1000), np.float32)
    np.testing.assert_array_equal(layer.forward(x, training=False), x)
    y = layer.forward(x, training=True)
    kept = np.unique(y[y != 0])
    assert kept.size == 1 and kept[0] == pytest.approx(1 / 0.75)
    assert np.mean(y == 0) == pytest.approx(0.25, abs=0.03)


def test_per_class_accuracy_is_the_recall_of_each_true_class():
    from guicnn.core.metrics import per_class_accuracy

    confusion = np.array([[3, 1, 0], [0, 0, 0], [2, 2, 4]])
    got = per_class_accuracy(confusion)
    assert got[0] == 0.75 and np.isnan(got[1]) and got[2] == 0.5


def _docstring_code(doc: str) -> str:
    """The indented code block after the first '::' of a docstring, dedented."""
    import textwrap

    block = doc.split("::", 1)[1].split("\n\n    ``", 1)[0]
    return textwrap.dedent(block)


def test_the_layer_docstring_example_is_a_working_layer(monkeypatch):
    """The minimal layer in Layer's docstring registers, builds, runs and passes gradcheck."""
    from gradcheck import check_layer_gradients

    from guicnn.core import Layer, Sequential, registry

    monkeypatch.setattr(registry, "_REGISTRY", dict(registry._REGISTRY))  # forget it afterwards
    namespace = {"Sequential": Sequential}
    exec(_docstring_code(Layer.__doc__), namespace)
    model = namespace["model"]
    assert [type(layer).__name__ for layer in model.layers] == ["ChannelScale", "Flatten", "Dense"]
    assert model.named_parameters()["0.weight"].tolist() == [0.5, 0.5, 0.5]
    assert model.forward(np.ones((2, 3, 8, 8), np.float32)).shape == (2, 2)
    check_layer_gradients(namespace["ChannelScale"](init=0.7), (3, 4, 4))


def test_the_sequential_docstring_example_trains(monkeypatch):
    from guicnn.core import Sequential, SoftmaxCrossEntropy, make_optimizer

    rng = np.random.default_rng(0)
    x = rng.random((16, 1, 8, 8)).astype(np.float32)
    y = rng.integers(0, 10, 16)
    namespace = {"Sequential": Sequential, "SoftmaxCrossEntropy": SoftmaxCrossEntropy,
                 "make_optimizer": make_optimizer, "x": x, "y": y}
    exec(_docstring_code(Sequential.__doc__), namespace)
    before = namespace["value"]
    model, loss = namespace["model"], namespace["loss"]
    assert loss.forward(model.forward(x), y) < before  # one SGD step lowered the loss on its batch


def test_window_layers_tell_their_geometry_and_refuse_a_window_that_does_not_fit():
    """The public geometry the step-through and the explanations read (one rule: window_geometry)."""
    from guicnn.core.layers.base import LayerShapeError

    conv = layer_class("Conv2D")(filters=4, kernel_size=3, stride=2, padding="same", dilation=2)
    geometry = conv.geometry((3, 9, 8))
    assert geometry.k_eff == (5, 5)
    assert geometry.out_hw == conv.compute_output_shape((3, 9, 8))[1:] == (5, 4)
    assert geometry.padded_hw == (9 + geometry.pads[0] + geometry.pads[1], 8 + geometry.pads[2] + geometry.pads[3])
    pool = layer_class("MaxPool2D")(pool_size=3, stride=2, padding=1)
    assert pool.geometry((2, 7, 6)) == (((1, 1, 1, 1)), (3, 3), (9, 8), (4, 3))
    with pytest.raises(LayerShapeError, match="larger than the padded 4x4 input"):
        layer_class("Conv2D")(filters=1, kernel_size=5).geometry((1, 4, 4))
    with pytest.raises(LayerShapeError, match="window 3x3 is larger than the 2x2 input"):
        layer_class("MaxPool2D")(pool_size=3).geometry((1, 2, 2))
