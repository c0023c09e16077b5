"""How every figure of a layer comes out: the formulas of `analyze`, written out with the user's numbers.

Each result shown is `analyze`'s own figure (output shape, parameters, receptive field, jump,
multiply-adds); the written-out arithmetic is checked against it before it is shown, so a
formula that does not give the figure is replaced by the bare number instead of misleading.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import numpy as np

from .analysis import Analysis, LayerInfo, analyze
from .functional import output_size, unused_lines
from .layers.base import Layer, LayerShapeError, Shape, Window
from .layers.common import fmt_shape

MINUS = "−"
TOPICS = ("output", "parameters", "receptive_field", "macs")
HEADINGS = {"output": "Output size", "parameters": "Parameters", "receptive_field": "Receptive field",
            "macs": "Multiply-adds"}

# Why a layer has nothing to learn, in one line.
_POOL_RULES = {
    "MaxPool2D": "keeps the largest value of each window", "MinPool2D": "keeps the smallest value of each window",
    "AvgPool2D": "takes the mean of each window", "SumPool2D": "adds up each window",
    "StochasticPool2D": "picks a value of each window by chance (by activation) or averages by probability",
    "GlobalAvgPool2D": "takes the mean of each whole feature map",
    "GlobalMaxPool2D": "keeps the largest value of each whole feature map",
    "SpatialPyramidPool2D": "pools each cell of fixed grids",
}
_NO_WEIGHTS = {
    "Flatten": "Flatten only rearranges the values into one vector",
    "Dropout": "Dropout only zeroes random values during training (and does nothing in inference)",
    "Softmax": "Softmax turns each position's channel values into probabilities by a fixed formula",
}


def fmt_int(value: int) -> str:
    """2416 → '2,416'; negative numbers with a real minus sign."""
    text = f"{abs(int(value)):,}"
    return f"{MINUS}{text}" if value < 0 else text


@dataclass(frozen=True)
class Formula:
    """One figure and how it comes out: ``quantity: symbols = numbers = result — note``."""

    quantity: str  # "Output height"
    symbols: str  # "⌊(n + 2p − d·(k − 1) − 1) / s⌋ + 1"; "" when there is nothing to compute
    numbers: str  # "⌊(28 + 2·0 − 1·4 − 1) / 1⌋ + 1"; "" when the symbols are the whole story
    result: str  # "24", or words ("the whole 28×28 input")
    value: int | None = None
    note: str = ""

    def text(self) -> str:
        parts = [part for part in (self.symbols, self.numbers, self.result) if part]
        line = f"{self.quantity}: {' = '.join(parts)}"
        return f"{line} — {self.note}" if self.note else line


@dataclass(frozen=True)
class LayerExplanation:
    """The arithmetic behind one layer's figures, grouped by topic (see TOPICS), plus a one-line view."""

    index: int
    type: str
    output: tuple[Formula, ...] = ()
    parameters: tuple[Formula, ...] = ()
    receptive_field: tuple[Formula, ...] = ()
    macs: tuple[Formula, ...] = ()
    sees: str | None = None  # "What does this layer see?" in one phrase
    problem: str | None = None  # why there is no arithmetic to show (the layer or one above is invalid)

    def formulas(self, topic: str) -> tuple[Formula, ...]:
        if topic not in TOPICS:
            raise ValueError(f"unknown topic {topic!r}; one of {', '.join(TOPICS)}")
        return getattr(self, topic)

    def text(self, topic: str | None = None) -> str:
        """Ready text: one topic's lines (a tooltip), or every topic under its heading (the inspector)."""
        if topic is not None:
            lines = [f.text() for f in self.formulas(topic)]
            return "\n".join(lines) if lines else (self.problem or "")
        blocks = [self.problem] if self.problem else []
        for name in TOPICS:
            lines = [f.text() for f in self.formulas(name)]
            if lines:
                blocks.append(HEADINGS[name] + "\n" + "\n".join(lines))
        if self.sees:
            blocks.append(f"What does this layer see?\n{self.sees}")
        return "\n\n".join(blocks)


# ---- entry points ----------------------------------------------------------------------------

def explain_design(design: dict[str, Any], analysis: Analysis | None = None) -> list[LayerExplanation]:
    """An explanation for every layer of a design (invalid layers get their problem instead)."""
    analysis = analysis if analysis is not None else analyze(design)
    context = _Context(design, analysis)
    return [context.explain(i) for i in range(len(analysis.layers))]


def explain_layer(design: dict[str, Any], index: int, analysis: Analysis | None = None) -> LayerExplanation:
    """The explanation of layer ``index`` (0-based, as on the cards)."""
    analysis = analysis if analysis is not None else analyze(design)
    if not 0 <= index < len(analysis.layers):
        raise ValueError(f"layer {index} does not exist (the design has {len(analysis.layers)} layers)")
    return _Context(design, analysis).explain(index)


def sees_phrases(design: dict[str, Any], analysis: Analysis | None = None) -> list[str | None]:
    """"What does this layer see?" per layer, for the stack's cards: every layer with an image output,
    and the layer where the view becomes the whole input (None for the others and for invalid ones)."""
    analysis = analysis if analysis is not None else analyze(design)
    context = _Context(design, analysis)
    phrases: list[str | None] = []
    for info in analysis.layers:
        previous = analysis.layers[info.index - 1] if info.index else None
        becomes_whole = info.jump is None and (previous is None or previous.jump is not None)
        spatial = info.output_shape is not None and len(info.output_shape) == 3
        shown = info.ok and info.output_shape is not None and (spatial or becomes_whole)
        phrases.append(context.sees(info.index) if shown else None)
    return phrases


class _Context:
    """The design's layers built once, for explaining any of them."""

    def __init__(self, design: dict[str, Any], analysis: Analysis) -> None:
        self.analysis = analysis
        self.layers: list[Layer | None] = [info.layer for info in analysis.layers]  # built by analyze
        shape = analysis.input_shape
        self.image = tuple(shape[1:]) if shape is not None and len(shape) == 3 else None

    def explain(self, index: int) -> LayerExplanation:
        info = self.analysis.layers[index]
        layer = self.layers[index] if index < len(self.layers) else None
        if layer is None:
            return LayerExplanation(index, info.type, problem=f"No arithmetic to show: {info.error}")
        if info.input_shape is None:
            return LayerExplanation(index, info.type, problem="No arithmetic to show until the layers above "
                                                              "(or the input) are fixed.")
        in_shape = tuple(info.input_shape)
        try:
            # A window that does not fit still has arithmetic worth showing (it explains the error);
            # a layer that cannot take this kind of input (an image after Flatten) has none.
            if not info.ok and layer.window(in_shape) is None:
                raise LayerShapeError(info.error)
            output = _output(layer, in_shape, info)
        except LayerShapeError:
            return LayerExplanation(index, info.type, problem=f"No arithmetic to show: {info.error}")
        parameters = _parameters(layer, in_shape, info)
        if not info.ok:
            return LayerExplanation(index, info.type, output=output, parameters=parameters,
                                    problem=f"This layer is invalid: {info.error}")
        previous = self.analysis.layers[index - 1] if index else None
        return LayerExplanation(
            index, info.type, output=output, parameters=parameters,
            receptive_field=_receptive(layer, in_shape, info, previous, self.image),
            macs=_macs(layer, in_shape, info), sees=self.sees(index),
        )

    def sees(self, index: int) -> str | None:
        """'Each unit sees a 14×14 patch of the input; the next unit's patch starts 2 pixels further on.'"""
        info = self.analysis.layers[index]
        if self.image is None or info.receptive_field is None:
            return None
        h, w = self.image
        rf, jump = info.receptive_field, info.jump
        if jump is None:
            return f"The whole {h}×{w} input: every value here depends on every pixel below."
        patch = f"{rf[0]}×{rf[1]}"
        if len(info.output_shape) == 1:  # Flatten: each value is one position of the maps below
            return f"Each value sees a {patch} patch of the input (Flatten only moves the values into a vector)."
        if rf[0] >= h and rf[1] >= w:
            if rf == (h, w):
                return f"Each unit sees the whole {h}×{w} input."
            return f"Each unit's view spans {patch} pixels — wider than the whole {h}×{w} input (padding included)."
        gaps = " with gaps between its pixels" if self._gaps(index) else ""
        if jump[0] == jump[1]:
            step = f"{jump[0]} pixel{'s' if jump[0] != 1 else ''} further on"
        else:
            step = f"{jump[0]} rows down or {jump[1]} columns across"
        return f"Each unit sees a {patch} patch of the input{gaps}; the next unit's patch starts {step}."

    def _gaps(self, index: int) -> bool:
        """Whether a unit away from the borders depends on pixels with gaps between them."""
        flags = self.analysis.derived.get("interior_gaps")
        if flags is None:
            flags = self.analysis.derived["interior_gaps"] = self._interior_gaps()
        return flags[index]

    def _interior_gaps(self) -> list[bool]:
        """Per layer: does an interior unit's support have gaps (dilation, or strides longer than windows)?

        Away from the borders the support of unit o is o·j + S per axis, with a fixed offset set S;
        a window layer makes it S' = {t·d·j : t < k} + S (every sum) and j' = j·s. While no window
        can leave gaps, S is the whole range 0 … r − 1 and nothing needs computing.
        """
        flags: list[bool] = []
        offsets: list[np.ndarray] | None = None  # None: S is still a whole range
        jump = [1, 1]
        shape = self.analysis.input_shape
        for info, layer in zip(self.analysis.layers, self.layers):
            window = None
            if layer is not None and info.ok and shape is not None and len(shape) == 3 and info.jump is not None:
                window = layer.window(shape)
            if window is not None:
                spread = window.dilation != (1, 1) or any(s > k for s, k in zip(window.stride, window.kernel))
                if offsets is None and spread:
                    offsets = [np.arange(r, dtype=np.int64) for r in self._rf_before(info)]
                if offsets is not None:
                    for axis in (0, 1):
                        taps = np.arange(window.kernel[axis], dtype=np.int64) * window.dilation[axis] * jump[axis]
                        offsets[axis] = np.unique(taps[:, None] + offsets[axis][None, :])
                jump = [jump[0] * window.stride[0], jump[1] * window.stride[1]]
            flags.append(offsets is not None and any(o.size < int(o[-1] - o[0]) + 1 for o in offsets))
            shape = info.output_shape
        return flags

    def _rf_before(self, info: LayerInfo) -> tuple[int, int]:
        """The receptive field (a whole range) of the map a layer reads."""
        previous = self.analysis.layers[info.index - 1] if info.index else None
        return (1, 1) if previous is None else previous.receptive_field


# ---- output size ----------------------------------------------------------------------------

# (quantity, the line in singular and plural) per axis, and for both axes when they agree.
_AXES = (("height", "row", "rows"), ("width", "column", "columns"))
_BOTH_AXES = ("height and width", "row and column", "rows and columns")


def _plural(count: int, word: str, words: str | None = None) -> str:
    return f"{count} {word if count == 1 else (words or word + 's')}"


def _output(layer: Layer, in_shape: Shape, info: LayerInfo) -> tuple[Formula, ...]:
    window = layer.window(in_shape)
    if window is not None:
        return _window_output(layer, window, in_shape)
    out = info.output_shape
    if out is None:
        return ()
    if layer.type_name == "Flatten" and len(in_shape) == 3:
        c, h, w = in_shape
        return (Formula("Output length", "C·H·W", f"{c}·{h}·{w}", fmt_int(out[0]), out[0],
                        "every value of every feature map, one after the other"),)
    if layer.type_name == "Dense":
        return (Formula("Output length", "units", "", fmt_int(out[0]), out[0],
                        "one value per unit; the number of units is the layer's setting"),)
    if layer.type_name in ("GlobalAvgPool2D", "GlobalMaxPool2D"):
        return (Formula("Output length", "C", "", fmt_int(out[0]), out[0],
                        f"one number per feature map (each {in_shape[1]}×{in_shape[2]} map becomes one value)"),)
    if layer.type_name == "SpatialPyramidPool2D":
        levels = [int(v) for v in layer.settings["levels"]]
        numbers = f"{in_shape[0]}·({' + '.join(str(v * v) for v in levels)})"
        if in_shape[0] * sum(v * v for v in levels) == out[0]:
            return (Formula("Output length", "C·Σ level²", numbers, fmt_int(out[0]), out[0],
                            "each feature map pooled into " + ", ".join(f"{v}×{v}" for v in levels) + " grids"),)
    if tuple(out) == tuple(in_shape):
        return (Formula("Output", "", "", fmt_shape(out), None,
                        f"the same shape as the input: {layer.type_name} works on each value on its own"
                        if layer.type_name != "Softmax" else
                        "the same shape as the input: the values at each position are turned into probabilities"),)
    return (Formula("Output", "", "", fmt_shape(out)),)


def _window_output(layer: Layer, window: Window, in_shape: Shape) -> tuple[Formula, ...]:
    c, h, w = in_shape
    dilated_form = any(f.name == "dilation" for f in layer.fields)
    padding_setting = layer.settings.get("padding")
    per_axis = [(size, *pads, window.kernel[axis], window.stride[axis], window.dilation[axis])
                for axis, (size, pads) in enumerate(((h, window.pads[:2]), (w, window.pads[2:])))]
    names = [_BOTH_AXES] if per_axis[0] == per_axis[1] else list(_AXES)
    formulas = [_axis_formula(name, *geometry, dilated_form, padding_setting)
                for name, geometry in zip(names, per_axis)]
    if "filters" in layer.settings:
        filters = int(layer.settings["filters"])
        formulas.append(Formula("Output channels", "C_out = filters", "", fmt_int(filters), filters,
                                "one feature map per filter"))
    else:
        formulas.append(Formula("Output channels", "C = C_in", "", fmt_int(c), c,
                                "each channel is pooled on its own"))
    return tuple(formulas)


def _axis_formula(names: tuple[str, str, str], size: int, before: int, after: int, k: int, s: int, d: int,
                  dilated_form: bool, padding_setting: Any) -> Formula:
    quantity, line, lines = f"Output {names[0]}", names[1], names[2]
    k_eff = d * (k - 1) + 1
    value = output_size(size, before + after, k_eff, s)
    if before == after:
        pad_symbols, pad_numbers = "2p", f"2·{before}"
    else:
        pad_symbols, pad_numbers = "p_before + p_after", f"{before} + {after}"
    if dilated_form:
        symbols = f"⌊(n + {pad_symbols} {MINUS} d·(k {MINUS} 1) {MINUS} 1) / s⌋ + 1"
        numbers = f"⌊({size} + {pad_numbers} {MINUS} {d}·{k - 1} {MINUS} 1) / {s}⌋ + 1"
    else:
        symbols = f"⌊(n + {pad_symbols} {MINUS} k) / s⌋ + 1"
        numbers = f"⌊({size} + {pad_numbers} {MINUS} {k}) / {s}⌋ + 1"
    notes = []
    padded = size + before + after
    if value < 1:
        what = f"dilated window spans {_plural(k_eff, line, lines)}" if d > 1 else f"window is {_plural(k, line, lines)}"
        notes.append(f"below 1: the {what} but the padded input has only {padded}")
    else:
        dropped = unused_lines(padded, k_eff, s)
        if dropped:
            notes.append(f"the last {_plural(dropped, line, lines)} of the padded input {'is' if dropped == 1 else 'are'} "
                         f"never reached by a window (the division is rounded down)")
    if padding_setting == "same":
        target = -(-size // s)
        notes.insert(0, f"'same' chose padding {before} before and {after} after so that the output is "
                        f"⌈n / s⌉ = ⌈{size} / {s}⌉ = {target}")
    return Formula(quantity, symbols, numbers, fmt_int(value), value, "; ".join(notes))


# ---- parameters -----------------------------------------------------------------------------

def _parameters(layer: Layer, in_shape: Shape, info: LayerInfo) -> tuple[Formula, ...]:
    shapes = layer.param_shapes(in_shape)
    count = sum(math.prod(s) for s in shapes.values())
    if not shapes:
        return (Formula("Parameters", "", "", "0", 0, f"no weights: {_why_no_weights(layer)}"),)
    name = layer.type_name
    formula: Formula | None = None
    if name == "Conv2D":
        filters, c_in, kh, kw = shapes["weight"]
        symbols, numbers = "k_h·k_w·C_in·C_out", f"{kh}·{kw}·{c_in}·{filters}"
        if "bias" in shapes:
            symbols, numbers = symbols + " + C_out", numbers + f" + {filters}"
        formula = Formula("Parameters", symbols, numbers, fmt_int(count), count,
                          f"{kh}×{kw} weights for each of the {c_in} input channels, for each of the "
                          f"{filters} filters" + (", plus one bias per filter" if "bias" in shapes else ""))
    elif name == "Dense":
        units, n_in = shapes["weight"]
        symbols, numbers = "n_in·n_out", f"{fmt_int(n_in)}·{fmt_int(units)}"
        if "bias" in shapes:
            symbols, numbers = symbols + " + n_out", numbers + f" + {fmt_int(units)}"
        formula = Formula("Parameters", symbols, numbers, fmt_int(count), count,
                          f"one weight from each of the {fmt_int(n_in)} inputs to each of the {fmt_int(units)} units"
                          + (", plus one bias per unit" if "bias" in shapes else ""))
    elif name == "BatchNorm":
        channels = shapes["weight"][0]
        buffers = 2 * channels
        formula = Formula("Parameters", "2·C", f"2·{channels}", fmt_int(count), count,
                          f"a learned scale γ and shift β per channel; plus {fmt_int(buffers)} running statistics "
                          "(mean and variance per channel) that are updated, not trained")
    elif name == "PReLU":
        formula = (Formula("Parameters", "C", "", fmt_int(count), count, "one learned negative slope per channel")
                   if layer.settings.get("channelwise") else
                   Formula("Parameters", "", "", fmt_int(count), count, "one learned negative slope for the layer"))
    if formula is None or (info.ok and formula.value != info.params):
        formula = Formula("Parameters", "", "", fmt_int(count), count)
    formulas = [formula]
    if name == "Conv2D" and info.output_shape is not None:
        formulas.append(_sharing(in_shape, info.output_shape, count, "bias" in shapes))
    return tuple(formulas)


def _sharing(in_shape: Shape, out_shape: Shape, count: int, bias: bool) -> Formula:
    """What a Dense layer from the same input to the same output would need (parameter sharing)."""
    n_in, n_out = math.prod(in_shape), math.prod(out_shape)
    dense = n_in * n_out + (n_out if bias else 0)
    positions = out_shape[1] * out_shape[2]
    symbols = "n_in·n_out" + (" + n_out" if bias else "")
    numbers = f"{fmt_int(n_in)}·{fmt_int(n_out)}" + (f" + {fmt_int(n_out)}" if bias else "")
    ratio = dense / count
    note = (f"parameter sharing: the convolution uses the same {fmt_int(count)} weights at all "
            f"{fmt_int(positions)} positions ({out_shape[1]}×{out_shape[2]}); a Dense layer from the "
            f"{fmt_shape(in_shape)} input to the {fmt_shape(out_shape)} output would need "
            + (f"{ratio:,.0f}× as many" if ratio >= 1.5 else "about as many"))
    return Formula("A Dense layer instead", symbols, numbers, fmt_int(dense), dense, note)


def _why_no_weights(layer: Layer) -> str:
    name = layer.type_name
    if name in _NO_WEIGHTS:
        return _NO_WEIGHTS[name]
    if name in _POOL_RULES:
        return f"{name} {_POOL_RULES[name]} — a fixed rule, nothing to learn"
    if layer.group == "Pooling":
        return f"{name} summarises each window by a fixed rule — nothing to learn"
    if layer.group == "Activation":
        return f"{name} applies the same fixed function to every value on its own"
    return f"{name} computes its output by a fixed rule"


# ---- receptive field and jump -----------------------------------------------------------------

def _receptive(layer: Layer, in_shape: Shape, info: LayerInfo, previous: LayerInfo | None,
               image: tuple[int, int] | None) -> tuple[Formula, ...]:
    if image is None or info.receptive_field is None:
        return ()
    h, w = image
    rf, jump = info.receptive_field, info.jump
    if previous is None:
        rf_in, jump_in = (1, 1), (1, 1)
    else:
        rf_in, jump_in = previous.receptive_field, previous.jump
    if jump is None:
        if jump_in is None:
            note = "as for the layer before it: after Flatten, Dense or global pooling everything is connected"
        else:
            note = (f"{layer.type_name} combines every position of its {in_shape[1]}×{in_shape[2]} input maps"
                    if len(in_shape) == 3 else f"{layer.type_name} combines all of its inputs")
        return (Formula("Receptive field", "", "", f"the whole {h}×{w} input", None, note),)
    window = layer.window(in_shape) if len(in_shape) == 3 else None
    if window is None:
        how = ("each value of the vector still comes from one position: Flatten only moves values"
               if layer.type_name == "Flatten" else f"{layer.type_name} works on each position on its own")
        return (Formula("Receptive field", "", "", f"{rf[0]}×{rf[1]} (unchanged)", None,
                        f"{how}; jump stays {_pair_text(jump)}"),)
    formulas = []
    is_conv = any(f.name == "dilation" for f in layer.fields)
    first = " (r_in = 1 and j_in = 1 at the input: a pixel sees itself)" if previous is None else ""
    axes = [0] if (window.kernel[0], window.dilation[0], window.stride[0], rf_in[0], jump_in[0]) == (
        window.kernel[1], window.dilation[1], window.stride[1], rf_in[1], jump_in[1]) else [0, 1]
    for axis in axes:
        k, d, s = window.kernel[axis], window.dilation[axis], window.stride[axis]
        suffix = "" if len(axes) == 1 else f" ({_AXES[axis][0]})"
        if is_conv:
            symbols = f"r = r_in + (k {MINUS} 1)·d·j_in"
            numbers = f"{rf_in[axis]} + ({k} {MINUS} 1)·{d}·{jump_in[axis]}"
            grows = f"the {'dilated ' if d > 1 else ''}kernel adds (k {MINUS} 1)·d·j_in = "
            added = (k - 1) * d * jump_in[axis]
        else:
            symbols = f"r = r_in + (k {MINUS} 1)·j_in"
            numbers = f"{rf_in[axis]} + ({k} {MINUS} 1)·{jump_in[axis]}"
            grows = f"pooling widens the view by (k {MINUS} 1)·j_in = "
            added = (k - 1) * jump_in[axis]
        unit = ("input pixel", "input pixels") if len(axes) == 1 else (
            ("input row", "input rows") if axis == 0 else ("input column", "input columns"))
        formulas.append(Formula(f"Receptive field{suffix}", symbols, numbers, fmt_int(rf[axis]), rf[axis],
                                f"{grows}{_plural(added, *unit)}{first}"))
        formulas.append(Formula(f"Jump{suffix}", "j = j_in·s", f"{jump_in[axis]}·{s}", fmt_int(jump[axis]), jump[axis],
                                f"neighbouring units of this layer are {_plural(jump[axis], 'input pixel')} apart"
                                + (" — the stride multiplies the spacing" if s > 1 else "")))
    return tuple(formulas)


def _pair_text(pair: tuple[int, int]) -> str:
    return str(pair[0]) if pair[0] == pair[1] else f"{pair[0]}×{pair[1]}"


# ---- multiply-adds ----------------------------------------------------------------------------

def _macs(layer: Layer, in_shape: Shape, info: LayerInfo) -> tuple[Formula, ...]:
    out = info.output_shape
    name = layer.type_name
    spatial = len(in_shape) == 3
    dims = (list(zip(("C", "H", "W"), in_shape)) if spatial else [("n", in_shape[0])])
    factors: list[tuple[str, int]] | None = None
    note = ""
    if info.macs == 0:
        reason = _NO_WEIGHTS.get(name, f"{name} does no arithmetic")
        return (Formula("Multiply-adds", "", "", "0", 0, f"no arithmetic: {reason}"),)
    if name == "Conv2D":
        kh, kw = layer.window(in_shape).kernel
        factors = [("C_out", out[0]), ("H_out", out[1]), ("W_out", out[2]), ("C_in", in_shape[0]),
                   ("k_h", kh), ("k_w", kw)]
        note = "one multiply-add per weight at every output position (bias additions not counted)"
    elif name == "Dense":
        factors = [("n_in", in_shape[0]), ("n_out", out[0])]
        note = "one multiply-add per weight"
    elif spatial and layer.window(in_shape) is not None:
        kh, kw = layer.window(in_shape).kernel
        factors = [("C", out[0]), ("H_out", out[1]), ("W_out", out[2]), ("k_h", kh), ("k_w", kw)]
        note = "one operation per element of every window"
    elif name == "BatchNorm":
        factors = [("2", 2)] + dims
        note = "a multiply and an add per value"
    elif name == "SpatialPyramidPool2D":
        factors = dims + [("levels", len(layer.settings["levels"]))]
        note = "every value is read once per pyramid level"
    else:
        factors = dims
        note = "one operation per value"
    if math.prod(v for _, v in factors) != info.macs:
        return (Formula("Multiply-adds", "", "", fmt_int(info.macs), info.macs),)
    symbols = "·".join(s for s, _ in factors)
    numbers = "·".join(fmt_int(v) for _, v in factors) if len(factors) > 1 else ""
    return (Formula("Multiply-adds", symbols, numbers, fmt_int(info.macs), info.macs, note),)


__all__ = ["Formula", "LayerExplanation", "TOPICS", "HEADINGS", "explain_design", "explain_layer", "sees_phrases",
           "fmt_int"]
