"""Walkthrough: every explained output value equals what the engine's forward computes."""

import numpy as np
import pytest

from guicnn.core import Sequential, ShapeError
from guicnn.core.walkthrough import KINDS, Walkthrough, can_walk, layer_input, toy_input, toy_size

# A first layer producing a varied, signed 3-channel map feeds the layer under test (index 1),
# so its real input comes from model.forward(keep=True) as in the application.
LAYERS = {
    "conv strided": {"type": "Conv2D", "filters": 4, "kernel_size": 3, "stride": 2},
    "conv padded": {"type": "Conv2D", "filters": 2, "kernel_size": [3, 5], "padding": [1, 2]},
    "conv same strided": {"type": "Conv2D", "filters": 3, "kernel_size": 4, "stride": 3, "padding": "same"},
    "conv dilated": {"type": "Conv2D", "filters": 2, "kernel_size": 3, "dilation": [2, 3], "padding": 1},
    "conv no bias": {"type": "Conv2D", "filters": 2, "kernel_size": 2, "use_bias": False},
    "max overlapping padded": {"type": "MaxPool2D", "pool_size": 3, "stride": 2, "padding": 1},
    "min": {"type": "MinPool2D", "pool_size": 2},
    "average padded": {"type": "AvgPool2D", "pool_size": 3, "stride": 1, "padding": 1},
    "sum": {"type": "SumPool2D", "pool_size": [2, 3], "stride": [2, 1]},
    "stochastic": {"type": "StochasticPool2D", "pool_size": 2, "stride": 1},
    "stochastic padded": {"type": "StochasticPool2D", "pool_size": 3, "stride": 2, "padding": 1},
}


def _model(layer_config):
    design = {"input_shape": [2, 11, 13], "layers": [
        {"type": "Conv2D", "filters": 3, "kernel_size": 2, "padding": 1}, layer_config]}
    model = Sequential.from_config(design, seed=3)
    for value in model.named_parameters().values():  # non-zero biases, so the bias term is tested
        value += np.float32(0.1)
    return model


@pytest.mark.parametrize("name", list(LAYERS))
def test_every_explained_value_equals_the_real_layers_forward(name):
    model = _model(LAYERS[name])
    image = np.random.default_rng(1).standard_normal((2, 11, 13)).astype(np.float32)
    model.forward(image[None], training=False, keep=True)
    layer_in, layer_out = model.activations[0][0], model.activations[1][0]
    walk = Walkthrough(model.layers[1], layer_in)
    assert walk.output.shape == layer_out.shape
    assert np.array_equal(walk.output, layer_out)
    oh, ow = walk.output_hw
    for channel in range(walk.channels):
        for index in range(walk.cell_count):
            row, col = walk.cell(index)
            step = walk.step(row, col, channel)
            assert step.output == layer_out[channel, row, col]
            assert step.total == pytest.approx(float(layer_out[channel, row, col]), rel=1e-5, abs=1e-5)


@pytest.mark.parametrize("name", [n for n in LAYERS if n.startswith("conv")])
def test_convolution_products_subtotals_and_bias(name):
    model = _model(LAYERS[name])
    x = layer_input(model, 1, np.random.default_rng(2).standard_normal((2, 11, 13)).astype(np.float32))
    walk = Walkthrough(model.layers[1], x)
    layer = model.layers[1]
    row, col = walk.cell(walk.cell_count - 1)
    step = walk.step(row, col, walk.channels - 1)
    assert step.values.shape == step.weights.shape == step.products.shape == (3, *layer.kernel)
    assert np.array_equal(step.weights, layer.params["weight"][-1])
    assert np.allclose(step.products, step.values.astype(np.float64) * step.weights)
    assert np.allclose(step.subtotals, step.products.sum(axis=(1, 2)))
    assert step.bias == (float(layer.params["bias"][-1]) if "bias" in layer.params else 0.0)
    # taps follow stride and dilation; taps on padding read zeros
    assert list(step.tap_rows) == [row * walk.stride[0] + i * walk.dilation[0] for i in range(layer.kernel[0])]
    assert list(step.tap_cols) == [col * walk.stride[1] + j * walk.dilation[1] for j in range(layer.kernel[1])]
    assert np.all(step.values[:, step.in_padding] == 0)


def test_same_padding_is_resolved_and_marked():
    model = _model(LAYERS["conv same strided"])
    walk = Walkthrough(model.layers[1], model.forward(np.ones((1, 2, 11, 13), np.float32), upto=1)[0])
    # input 12×14, k 4, s 3: 'same' gives ceil(12/3)×ceil(14/3) = 4×5 outputs, which need
    # 3·3 + 4 - 12 = 1 extra row (after) and 3·4 + 4 - 14 = 2 extra columns (one each side)
    assert walk.output_hw == (4, 5)
    assert walk.pads == (0, 1, 1, 1)
    assert walk.padding_mask.shape == (13, 16)
    assert walk.padding_mask[-1].all() and walk.padding_mask[:, 0].all() and walk.padding_mask[:, -1].all()
    assert not walk.padding_mask[:12, 1:15].any()
    corner = walk.step(0, 0)
    assert corner.in_padding[:, 0].all() and not corner.in_padding[:, 1:].any()
    last = walk.step(3, 4)
    assert last.in_padding[-1].all() and last.in_padding[:, -1].all() and not last.in_padding[:3, :3].any()


def test_the_tutorial_edge_detector_on_the_toy_input():
    """The classic example: a vertical-edge kernel on the 6×6 image gives 0 30 30 0 in every row."""
    model = Sequential.from_config({"input_shape": [1, 6, 6], "layers": [
        {"type": "Conv2D", "filters": 1, "kernel_size": 3}]})
    layer = model.layers[0]
    layer.params["weight"][...] = np.array([[1, 0, -1]] * 3, np.float32)
    layer.params["bias"][...] = 0
    walk = Walkthrough(layer, toy_input(1))
    assert np.array_equal(walk.output[0], np.array([[0, 30, 30, 0]] * 4, np.float32))
    step = walk.step(2, 1)
    assert np.array_equal(step.values[0], [[10, 10, 0]] * 3)
    assert np.array_equal(step.products[0], [[10, 0, 0]] * 3)
    assert step.subtotals[0] == 30 and step.total == 30 and step.output == 30


def test_pooling_window_results_by_hand():
    model = Sequential.from_config({"input_shape": [1, 2, 4], "layers": [{"type": "MaxPool2D", "pool_size": 2}]})
    x = np.array([[[1, 5, 0, 3], [5, 2, 3, 3]]], np.float32)
    expected = {"max": (5.0, (0, 1)), "min": (1.0, (0, 0)), "average": (13 / 4, None), "sum": (13.0, None),
                "stochastic": ((1 + 25 + 25 + 4) / 13, None)}
    for type_name, kind in KINDS.items():
        if type_name == "Conv2D":
            continue
        layer = Sequential.from_config({"input_shape": [1, 2, 4], "layers": [
            {"type": type_name, "pool_size": 2}]}).layers[0]
        step = Walkthrough(layer, x).step(0, 0)
        total, chosen = expected[kind]
        assert step.total == pytest.approx(total) and step.output == pytest.approx(total)
        assert step.chosen == chosen
        if kind == "stochastic":
            assert np.allclose(step.probabilities, np.array([[1, 5], [5, 2]]) / 13)
            # the second window (0, 3 / 3, 3) has a zero that can never be picked
            assert Walkthrough(layer, x).step(0, 1).probabilities[0, 0] == 0
    assert model.layers[0].type_name == "MaxPool2D"


def test_max_pool_padding_is_minus_infinity_and_never_chosen():
    layer = Sequential.from_config({"input_shape": [1, 4, 4], "layers": [
        {"type": "MaxPool2D", "pool_size": 3, "stride": 2, "padding": 1}]}).layers[0]
    x = -np.arange(16, dtype=np.float32).reshape(1, 4, 4) - 1  # all negative: padding must still lose
    step = Walkthrough(layer, x).step(0, 0)
    assert np.all(np.isneginf(step.values[0][step.in_padding]))
    assert not step.in_padding[step.chosen] and step.total == -1.0


def test_raster_order_stepping_and_inverse_mapping():
    layer = Sequential.from_config({"input_shape": [1, 9, 9], "layers": [
        {"type": "Conv2D", "filters": 1, "kernel_size": 3, "stride": 2, "padding": 1}]}).layers[0]
    walk = Walkthrough(layer, np.zeros((1, 9, 9), np.float32))
    assert walk.output_hw == (5, 5)
    assert [walk.cell(i) for i in range(7)] == [(0, 0), (0, 1), (0, 2), (0, 3), (0, 4), (1, 0), (1, 1)]
    assert walk.next_cell(4, 4) == (0, 0) and walk.next_cell(0, 4) == (1, 0)
    assert walk.window_origin(2, 3) == (4, 6)
    assert walk.nearest_cell(4.2, 6.9) == (2, 3)  # dragged near (4, 6): that window
    assert walk.nearest_cell(5.1, 7.1) == (3, 4)  # past half a stride: the next
    assert walk.nearest_cell(-3, 40) == (0, 4)  # clamped to the output
    assert walk.cell_for_pixel(5, 7) == (2, 3)  # pixel (5, 7) is the centre of window (4, 6)


def test_toy_input_grows_until_the_window_fits_and_bad_input_is_refused():
    layer = Sequential.from_config({"input_shape": [3, 20, 20], "layers": [
        {"type": "Conv2D", "filters": 2, "kernel_size": 5, "dilation": 2}]}).layers[0]
    size = toy_size(layer, 3)
    assert size == 9  # the dilated kernel spans 9 pixels
    walk = Walkthrough(layer, toy_input(3, size))
    assert walk.output_hw == (1, 1)
    step = walk.step(0, 0)
    assert step.total == pytest.approx(walk.output[0, 0, 0], rel=1e-5)
    with pytest.raises(ShapeError, match="3 channel"):
        Walkthrough(layer, np.zeros((1, 9, 9), np.float32))
    with pytest.raises(IndexError, match="outside"):
        walk.step(1, 0)
    dense = Sequential.from_config({"input_shape": [4], "layers": [{"type": "Dense", "units": 2}]}).layers[0]
    assert not can_walk("Dense")
    with pytest.raises(ValueError, match="no sliding window"):
        Walkthrough(dense, np.zeros((4, 1, 1), np.float32))


def test_from_config_uses_the_given_weights():
    model = _model(LAYERS["conv padded"])
    x = layer_input(model, 1, np.ones((2, 11, 13), np.float32))
    state = model.state_dict()
    walk = Walkthrough.from_config(LAYERS["conv padded"], {"weight": state["1.weight"], "bias": state["1.bias"]}, x)
    assert np.array_equal(walk.output, model.forward(np.ones((1, 2, 11, 13), np.float32))[0])
