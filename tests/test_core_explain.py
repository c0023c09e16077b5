"""The written-out arithmetic: LeNet-5's numbers, and every formula evaluating to analyze's own figure."""

import re

import pytest
from hypothesis import HealthCheck, given, settings
from test_core_properties import CONFIGS
from test_core_receptive import DESIGNS as RECEPTIVE_DESIGNS

from guicnn.core import analyze
from guicnn.core.analysis import explain_design, explain_layer
from guicnn.core.designfile import load_preset
from guicnn.core.explain import sees_phrases
from guicnn.core.receptive import receptive_field


def evaluate(numbers: str) -> int:
    """Evaluate a formula's numbers as written ('⌊(14 + 2·0 − 1·4 − 1) / 1⌋ + 1')."""
    expression = (numbers.replace(",", "").replace("·", "*").replace("−", "-").replace("⌊", "(")
                  .replace("⌋", ")").replace("/", "//"))
    assert re.fullmatch(r"[0-9+\-*/() ]+", expression), expression
    return eval(expression)  # noqa: S307 — digits and operators only, checked above


def test_lenet_second_convolution():
    text = explain_layer(load_preset("lenet5"), 3).text()
    lines = text.splitlines()
    assert "Output height and width: ⌊(n + 2p − d·(k − 1) − 1) / s⌋ + 1 = ⌊(14 + 2·0 − 1·4 − 1) / 1⌋ + 1 = 10" in lines
    assert "Output channels: C_out = filters = 16 — one feature map per filter" in lines
    assert any(line.startswith("Parameters: k_h·k_w·C_in·C_out + C_out = 5·5·6·16 + 16 = 2,416 — ")
               for line in lines)
    assert ("the convolution uses the same 2,416 weights at all 100 positions (10×10); a Dense layer from the "
            "6×14×14 input to the 16×10×10 output would need 779× as many") in text
    assert "A Dense layer instead: n_in·n_out + n_out = 1,176·1,600 + 1,600 = 1,883,200" in text
    assert any(line.startswith("Receptive field: r = r_in + (k − 1)·d·j_in = 6 + (5 − 1)·1·2 = 14") for line in lines)
    assert any(line.startswith("Jump: j = j_in·s = 2·1 = 2") for line in lines)
    assert any(line.startswith("Multiply-adds: C_out·H_out·W_out·C_in·k_h·k_w = 16·10·10·6·5·5 = 240,000")
               for line in lines)
    assert "Each unit sees a 14×14 patch of the input; the next unit's patch starts 2 pixels further on." in lines


def test_the_issue_example_and_no_weight_layers():
    design = {"input_shape": [1, 28, 28], "layers": [
        {"type": "Conv2D", "filters": 6, "kernel_size": 5}, {"type": "MaxPool2D", "pool_size": 2},
        {"type": "ReLU"}, {"type": "BatchNorm"}, {"type": "PReLU"}, {"type": "Flatten"},
        {"type": "Dense", "units": 10}]}
    first, pool, relu, norm, prelu, flatten, dense = explain_design(design)
    assert first.output[0].numbers == "⌊(28 + 2·0 − 1·4 − 1) / 1⌋ + 1" and first.output[0].value == 24
    assert pool.parameters[0].text() == ("Parameters: 0 — no weights: MaxPool2D keeps the largest value of "
                                        "each window — a fixed rule, nothing to learn")
    assert pool.receptive_field[0].text().startswith("Receptive field: r = r_in + (k − 1)·j_in = 5 + (2 − 1)·1 = 6")
    assert relu.parameters[0].note.startswith("no weights: ReLU applies the same fixed function")
    assert norm.parameters[0].text().startswith("Parameters: 2·C = 2·6 = 12 — a learned scale γ and shift β")
    assert prelu.parameters[0].text() == "Parameters: 1 — one learned negative slope for the layer"
    assert flatten.output[0].text().startswith("Output length: C·H·W = 6·12·12 = 864")
    assert dense.parameters[0].text().startswith("Parameters: n_in·n_out + n_out = 864·10 + 10 = 8,650")
    assert dense.receptive_field[0].result == "the whole 28×28 input"
    assert dense.sees.startswith("The whole 28×28 input")


def test_same_padding_dropped_rows_and_dilation_are_explained():
    design = {"input_shape": [3, 32, 30], "layers": [
        {"type": "Conv2D", "filters": 8, "kernel_size": 3, "stride": 2, "padding": "same", "dilation": 2},
        {"type": "Conv2D", "filters": 4, "kernel_size": 3, "stride": 2, "padding": 1}]}
    strided, dropped = explain_design(design)
    height, width = strided.output[:2]
    assert height.text() == ("Output height: ⌊(n + p_before + p_after − d·(k − 1) − 1) / s⌋ + 1 = "
                             "⌊(32 + 1 + 2 − 2·2 − 1) / 2⌋ + 1 = 16 — 'same' chose padding 1 before and 2 after "
                             "so that the output is ⌈n / s⌉ = ⌈32 / 2⌉ = 16")
    assert width.value == 15
    assert "the dilated kernel adds (k − 1)·d·j_in = 4 input pixels" in strided.text("receptive_field")
    assert "with gaps between its pixels" in strided.sees
    # Its input is 16×15: 16 + 2 − 3 = 15 is odd, so stride 2 leaves the padded input's last row unused.
    assert dropped.output[0].quantity == "Output height"
    assert dropped.output[0].note == ("the last 1 row of the padded input is never reached by a window "
                                      "(the division is rounded down)")
    assert dropped.output[1].quantity == "Output width" and dropped.output[1].note == ""


def test_an_invalid_layer_shows_the_arithmetic_that_fails():
    design = load_preset("lenet5")
    design["input_shape"] = [1, 8, 8]
    explanation = explain_layer(design, 3)
    assert explanation.problem.startswith("This layer is invalid: kernel 5x5 is larger")
    assert explanation.output[0].text() == (
        "Output height and width: ⌊(n + 2p − d·(k − 1) − 1) / s⌋ + 1 = ⌊(4 + 2·0 − 1·4 − 1) / 1⌋ + 1 = 0 — "
        "below 1: the window is 5 rows and columns but the padded input has only 4")
    assert explanation.text("macs") == explanation.problem
    assert explain_layer(design, 6).problem.startswith("No arithmetic to show until the layers above")


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(CONFIGS)
def test_every_formula_gives_analyzes_figure(config):
    analysis = analyze(config)
    for info, explanation in zip(analysis.layers, explain_design(config, analysis)):
        for topic in ("output", "parameters", "receptive_field", "macs"):
            for formula in explanation.formulas(topic):
                if formula.numbers:
                    assert evaluate(formula.numbers) == formula.value, formula
        if not info.ok or info.output_shape is None:  # invalid, or below an invalid layer
            continue
        sizes = [f.value for f in explanation.output if f.quantity.startswith("Output ") and f.value is not None]
        if len(info.output_shape) == 3 and explanation.output[0].quantity.startswith("Output height"):
            expected = ([info.output_shape[1]] if explanation.output[0].quantity == "Output height and width"
                        else list(info.output_shape[1:])) + [info.output_shape[0]]
            assert sizes == expected
        elif len(info.output_shape) == 1 and sizes:
            assert sizes == [info.output_shape[0]]
        assert explanation.parameters[0].value == info.params
        assert explanation.macs[0].value == info.macs
        rf = [f.value for f in explanation.receptive_field
              if f.quantity.startswith("Receptive field") and f.value is not None]
        if rf:  # one formula for both axes, or one per axis
            assert tuple(rf * 2 if len(rf) == 1 else rf) == info.receptive_field


def test_unknown_topic_and_layer():
    explanation = explain_layer(load_preset("lenet5"), 0)
    with pytest.raises(ValueError, match="unknown topic"):
        explanation.text("colour")
    with pytest.raises(ValueError, match="layer 40 does not exist"):
        explain_layer(load_preset("lenet5"), 40)


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much])
@given(RECEPTIVE_DESIGNS)
def test_the_seen_phrase_says_gaps_exactly_when_an_interior_unit_has_them(design):
    analysis = analyze(design)
    phrases = sees_phrases(design, analysis)
    for info, phrase in zip(analysis.layers, phrases):
        if not info.ok or info.output_shape is None or len(info.output_shape) != 3:
            break
        _, h, w = info.output_shape
        field = receptive_field(design, info.index, h // 2, w // 2)
        interior = all(0 <= m.rows.span[0] and m.rows.span[1] <= m.rows.size and 0 <= m.cols.span[0]
                       and m.cols.span[1] <= m.cols.size for m in field.maps)
        if interior and phrase and "whole" not in phrase and "wider" not in phrase:
            assert ("with gaps" in phrase) == field.input.has_gaps, (info.index, phrase)
