"""receptive_box / receptive_field against the gradient support of one output unit."""

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from guicnn.core import Sequential, analyze
from guicnn.core.analysis import receptive_box
from guicnn.core.designfile import load_preset
from guicnn.core.receptive import receptive_field

# Every windowed pool has the geometry of average pooling; average pooling passes gradient to
# every element of its window, so it shows the dependency set of any of them (a max pool's
# gradient goes to the one winning element only).
SAME_GEOMETRY = {"MaxPool2D": "AvgPool2D", "MinPool2D": "AvgPool2D", "StochasticPool2D": "AvgPool2D",
                 "SumPool2D": "AvgPool2D"}

small = st.integers(1, 3)
pair = st.one_of(small, st.tuples(small, small).map(list))

SPATIAL = st.one_of(
    st.fixed_dictionaries(
        {"type": st.just("Conv2D"), "filters": st.integers(1, 3), "kernel_size": st.one_of(
            st.integers(1, 4), st.tuples(st.integers(1, 4), st.integers(1, 4)).map(list))},
        optional={"stride": pair, "dilation": st.one_of(st.integers(1, 3), st.tuples(small, small).map(list)),
                  "padding": st.one_of(st.sampled_from(["same", "valid"]), st.integers(0, 4),
                                       st.tuples(st.integers(0, 3), st.integers(0, 3)).map(list)),
                  "use_bias": st.booleans()},
    ),
    st.fixed_dictionaries(
        {"type": st.sampled_from(["MaxPool2D", "AvgPool2D", "MinPool2D", "SumPool2D", "StochasticPool2D"]),
         "pool_size": st.integers(1, 4)},
        optional={"stride": st.integers(1, 3), "padding": st.integers(0, 2)},
    ),
    st.fixed_dictionaries({"type": st.sampled_from(["ReLU", "Tanh", "Sigmoid", "LeakyReLU", "ELU", "Dropout"])}),
)


def _pool_padding_ok(layer):
    if "pool_size" in layer:
        layer = dict(layer)
        layer["padding"] = min(layer.get("padding", 0), layer["pool_size"] // 2)
    return layer


DESIGNS = st.fixed_dictionaries({
    "input_shape": st.tuples(st.integers(1, 2), st.integers(6, 24), st.integers(6, 24)).map(list),
    "layers": st.lists(SPATIAL.map(_pool_padding_ok), min_size=2, max_size=6),
})


def gradient_support(design, layer, row, col):
    """Input pixels whose gradient is non-zero for unit (row, col), summed over channels, of `layer`.

    Positive weights, biases and input in float64: every path adds a positive amount, nothing cancels.
    Weights are scaled by 1/fan-in so that Tanh and Sigmoid do not saturate to a zero derivative.
    """
    config = {**design, "layers": [{**cfg, "type": SAME_GEOMETRY.get(cfg["type"], cfg["type"])}
                                   for cfg in design["layers"][: layer + 1]]}
    model = Sequential.from_config(config, seed=0).astype(np.float64)
    rng = np.random.default_rng(1)
    for value in model.named_parameters().values():
        fan_in = value[0].size if value.ndim > 1 else 1
        value[...] = rng.uniform(0.5, 1.5, value.shape) / fan_in
    x = rng.uniform(0.5, 1.5, (1, *design["input_shape"]))
    out = model.forward(x)
    dy = np.zeros_like(out)
    if out.ndim == 4:
        dy[0, :, row, col] = 1.0
    else:
        dy[0] = 1.0
    dx = model.backward(dy, input_grad=True)
    return np.abs(dx[0]).sum(axis=0) > 0


def assert_box_bounds(box, support):
    """The box is the bounding box of the support (an empty range when the support is empty)."""
    rows, cols = np.flatnonzero(support.any(axis=1)), np.flatnonzero(support.any(axis=0))
    if rows.size == 0:
        assert box[0] == box[1] or box[2] == box[3], box
    else:
        assert box == (rows[0], rows[-1] + 1, cols[0], cols[-1] + 1)


@settings(max_examples=250, deadline=None, suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much])
@given(DESIGNS, st.data())
def test_receptive_field_is_the_gradient_support(design, data):
    analysis = analyze(design)
    valid = [i.index for i in analysis.layers if i.ok]
    if not analysis.layers[0].ok:
        return
    last = len(valid) - 1 if len(valid) == len(analysis.layers) else min(
        i.index for i in analysis.layers if not i.ok) - 1
    layer = data.draw(st.integers(0, last), label="layer")
    _, h, w = analysis.layers[layer].output_shape
    row, col = data.draw(st.integers(0, h - 1), label="row"), data.draw(st.integers(0, w - 1), label="col")

    support = gradient_support(design, layer, row, col)
    field = receptive_field(design, layer, row, col)
    # The exact pixel set, gaps included, not only its bounding box.
    np.testing.assert_array_equal(field.input.mask(), support)
    assert_box_bounds(receptive_box(design, layer, row, col), support)
    assert field.input.pixels == int(support.sum())


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(DESIGNS, st.sampled_from(["Flatten", "GlobalAvgPool2D", "GlobalMaxPool2D", "SpatialPyramidPool2D"]))
def test_after_flatten_or_global_pooling_the_box_is_what_the_layers_below_read(design, head):
    design = {**design, "layers": design["layers"] + [{"type": head}, {"type": "Dense", "units": 3}]}
    analysis = analyze(design)
    if not analysis.valid:
        return
    dense = len(design["layers"]) - 1
    expected_design = {**design, "layers": [{**cfg, "type": "GlobalAvgPool2D"} if cfg["type"] != "Dense" and
                                            i == dense - 1 else cfg for i, cfg in enumerate(design["layers"])]}
    support = gradient_support(expected_design, dense, 0, 0)
    field = receptive_field(design, dense, 5, 5)  # row and col are ignored for a flat layer
    assert field.whole and field.unit is None
    np.testing.assert_array_equal(field.input.mask(), support)
    assert_box_bounds(receptive_box(design, dense, 0, 0), support)


def test_lenet_unit_caption_and_chain():
    design = load_preset("lenet5")
    field = receptive_field(design, 3, 4, 7)
    # conv2 unit (4, 7): pool window rows 4..8 → conv1 rows 8..17 → input rows 6..19 (padding 2, kernel 5)
    assert field.box == (6, 20, 12, 26)
    assert field.caption() == "layer 3 unit (4, 7) sees rows 6–19, columns 12–25 of the input (14×14 pixels)"
    assert [m.layer for m in field.maps] == [-1, 0, 1, 2, 3]
    assert field.map_for(2).box == (4, 9, 7, 12)
    assert field.map_for(0).box == field.map_for(1).box == (8, 18, 14, 24)
    assert field.map_for(3).box == (4, 5, 7, 8)

    dense = receptive_field(design, 9, 0, 0)
    assert dense.whole and dense.box == (0, 28, 0, 28)
    assert dense.caption().startswith("layer 9 Dense sees the whole 28×28 input")


def test_dilation_leaves_gaps_and_padding_gives_no_pixels():
    design = {"input_shape": [1, 12, 12],
              "layers": [{"type": "Conv2D", "filters": 1, "kernel_size": 3, "dilation": 3, "padding": 3}]}
    corner = receptive_field(design, 0, 0, 0)
    assert corner.input.rows.indices.tolist() == [0, 3] and corner.input.rows.span == (-3, 4)
    assert corner.box == (0, 4, 0, 4) and corner.input.has_gaps and corner.input.pixels == 4
    assert "4 pixels spread over a 4×4 box" in corner.caption()

    only_padding = {"input_shape": [1, 4, 4],
                    "layers": [{"type": "Conv2D", "filters": 1, "kernel_size": 2, "padding": 3}]}
    empty = receptive_field(only_padding, 0, 0, 0)
    assert empty.input.pixels == 0 and empty.box[0] == empty.box[1]
    assert "no input pixel" in empty.caption()
    assert not gradient_support(only_padding, 0, 0, 0).any()


def test_strides_that_skip_pixels_are_said_in_words():
    design = {"input_shape": [1, 9, 9], "layers": [
        {"type": "Conv2D", "filters": 1, "kernel_size": 1, "stride": 2}, {"type": "Flatten"},
        {"type": "Dense", "units": 2}]}
    field = receptive_field(design, 2)
    assert field.box == (0, 9, 0, 9) and field.input.pixels == 25
    assert "4 rows and 4 columns of the input are never read" in field.caption()


@pytest.mark.parametrize("args, message", [
    ((0, 28, 0), "outside layer 0's 28×28"),
    ((13, 0, 0), "layer 13 does not exist"),
    ((0, -1, 0), "row -1"),
])
def test_bad_requests_say_what_is_wrong(args, message):
    with pytest.raises(ValueError, match=message):
        receptive_box(load_preset("lenet5"), *args)


def test_invalid_layers_below_the_unit_are_refused():
    design = {"input_shape": [1, 4, 4], "layers": [{"type": "Conv2D", "filters": 1, "kernel_size": 5},
                                                   {"type": "ReLU"}]}
    with pytest.raises(ValueError, match="layer 0 Conv2D is invalid"):
        receptive_box(design, 1, 0, 0)
    with pytest.raises(ValueError, match="image input"):
        receptive_box({"input_shape": [10], "layers": [{"type": "Dense", "units": 2}]}, 0, 0, 0)
