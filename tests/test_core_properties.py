"""Property tests: analyze() agrees with what forward() really produces; configs round-trip."""

import json

import numpy as np
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from guicnn.core import ConfigError, Sequential, analyze

small = st.integers(1, 3)
pair_or_int = st.one_of(small, st.tuples(small, small).map(list))

LAYERS = st.one_of(
    st.fixed_dictionaries(
        {"type": st.just("Conv2D"), "filters": st.integers(1, 4), "kernel_size": pair_or_int},
        optional={"stride": pair_or_int, "padding": st.one_of(st.integers(0, 2), st.sampled_from(["same", "valid"])),
                  "dilation": st.integers(1, 2), "use_bias": st.booleans()},
    ),
    st.fixed_dictionaries(
        {"type": st.sampled_from(["MaxPool2D", "AvgPool2D", "MinPool2D", "SumPool2D", "StochasticPool2D"]),
         "pool_size": st.integers(1, 3)},
        optional={"stride": st.integers(1, 3), "padding": st.integers(0, 1)},
    ),
    st.fixed_dictionaries({"type": st.sampled_from(
        ["ReLU", "Sigmoid", "Tanh", "Softmax", "ELU", "LeakyReLU", "PReLU", "BatchNorm", "Dropout", "Flatten",
         "GlobalAvgPool2D", "GlobalMaxPool2D"])}),
    st.fixed_dictionaries({"type": st.just("Dense"), "units": st.integers(1, 6)}),
    st.fixed_dictionaries({"type": st.just("SpatialPyramidPool2D")},
                          optional={"levels": st.lists(st.integers(1, 3), min_size=1, max_size=3)}),
)

CONFIGS = st.fixed_dictionaries({
    "input_shape": st.tuples(st.integers(1, 3), st.integers(3, 12), st.integers(3, 12)).map(list),
    "layers": st.lists(LAYERS, max_size=7),
})


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(CONFIGS)
def test_analyze_shapes_equal_forward_shapes(config):
    analysis = analyze(config)
    try:
        model = Sequential.from_config(config, seed=0)
    except ConfigError as exc:
        # analyze must report the same problem on the same layer instead of raising.
        assert not analysis.valid
        assert exc.index is not None and analysis.layers[exc.index].error is not None
        return
    assert analysis.valid, analysis.errors
    x = np.random.default_rng(0).random((2, *config["input_shape"]), dtype=np.float32)
    model.forward(x, training=False, keep=True)
    for info, activation in zip(analysis.layers, model.activations):
        assert activation.shape[1:] == info.output_shape, info
        assert np.all(np.isfinite(activation))
    assert sum(v.size for v in model.named_parameters().values()) == analysis.total_params


@settings(max_examples=100, deadline=None)
@given(CONFIGS)
def test_valid_configs_round_trip_exactly(config):
    if not analyze(config).valid:
        return
    model = Sequential.from_config(config)
    assert model.get_config() == config
    assert json.loads(json.dumps(model.get_config())) == config
    assert Sequential.from_config(model.get_config()).get_config() == config
