"""Sequential: a stack of layers built from a JSON-able config, PyTorch-compatible state names."""

from __future__ import annotations

import copy
from typing import Any, Iterable

import numpy as np

from .analysis import Analysis, analyze, check_input_shape, make_layer
from .errors import ConfigError, ShapeError
from .layers.base import Layer, LayerShapeError
from .layers.common import fmt_shape
from .parallel import model_threads


def _folds_relu(before: Layer, layer: Layer) -> bool:
    """Whether `layer` can run the backward of the plain ReLU `before` it (max/min pooling can)."""
    return before.type_name == "ReLU" and hasattr(layer, "backward_through_relu")


def _jsonable(value: Any) -> Any:
    """Tuples become lists so that configs compare equal after a JSON round trip."""
    if isinstance(value, dict):
        return {k: _jsonable(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_jsonable(v) for v in value]
    return value


class Sequential:
    """A feed-forward stack of layers over NCHW float32 input.

    Built from a design (the JSON the GUI edits), trained by hand in five lines::

        model = Sequential.from_config({"input_shape": [1, 8, 8], "layers": [
            {"type": "Conv2D", "filters": 4, "kernel_size": 3}, {"type": "ReLU"},
            {"type": "Flatten"}, {"type": "Dense", "units": 10}]}, seed=0)
        loss = SoftmaxCrossEntropy()
        optimizer = make_optimizer(model.named_parameters(), {"type": "sgd", "lr": 0.1})
        value = loss.forward(model.forward(x, training=True), y)   # x: (N, 1, 8, 8), y: (N,)
        model.backward(loss.backward())                            # fills model.named_gradients()
        optimizer.step(model.named_gradients())

    ``core.training.Trainer`` does the same with batches, validation, schedules and reports.
    """

    def __init__(self, layers: Iterable[Layer], input_shape: Iterable[int], name: str | None = None,
                 seed: int | None = 0) -> None:
        self.layers: list[Layer] = list(layers)
        try:
            self.input_shape = check_input_shape(list(input_shape))
        except ValueError as exc:
            raise ConfigError(str(exc)) from None
        self.name = name
        self.seed = seed
        self.activations: list[np.ndarray] | None = None
        rng = np.random.default_rng(seed)
        shape = self.input_shape
        for index, layer in enumerate(self.layers):
            try:
                shape = layer.build(shape, rng)
            except LayerShapeError as exc:
                raise ConfigError(str(exc), index=index, layer_type=layer.type_name) from None
            if any(d < 1 for d in shape):
                raise ConfigError(f"output size {fmt_shape(shape)} is below 1", index=index,
                                  layer_type=layer.type_name)
        self.output_shape = shape
        if self.layers:
            self.layers[0].needs_input_grad = False  # nothing upstream needs the image gradient

    # ---- config ----------------------------------------------------------------------
    @classmethod
    def from_config(cls, config: dict[str, Any], seed: int | None = 0) -> Sequential:
        """Build a model; ConfigError (a ValueError) names the layer index, type and reason."""
        if not isinstance(config, dict):
            raise ConfigError(f"a design must be a JSON object, got {type(config).__name__}")
        if "input_shape" not in config:
            raise ConfigError("the design has no 'input_shape' (e.g. [1, 28, 28])")
        layer_configs = config.get("layers", [])
        if not isinstance(layer_configs, list):
            raise ConfigError(f"'layers' must be a list, got {type(layer_configs).__name__}")
        layers = [make_layer(layer_config, index) for index, layer_config in enumerate(layer_configs)]
        model = cls(layers, config["input_shape"], name=config.get("name"), seed=seed)
        model._extra = {k: copy.deepcopy(v) for k, v in config.items() if k not in ("name", "input_shape", "layers")}
        return model

    def get_config(self) -> dict[str, Any]:
        """The design as given to ``from_config`` (exact round trip; defaults are not written)."""
        config: dict[str, Any] = {}
        if self.name is not None:
            config["name"] = self.name
        config["input_shape"] = list(self.input_shape)
        config["layers"] = [_jsonable(layer.get_config()) for layer in self.layers]
        config.update(copy.deepcopy(getattr(self, "_extra", {})))
        return config

    def analyze(self) -> Analysis:
        return analyze(self.get_config())

    # ---- running ---------------------------------------------------------------------
    def forward(self, x: np.ndarray, training: bool = False, keep: bool = False,
                upto: int | None = None) -> np.ndarray:
        """Run the layers ``[0, upto)`` (all by default).

        With ``keep=True`` every layer's output is stored (as independent copies) in
        ``self.activations`` for the feature-map view.
        """
        x = np.asarray(x)
        expected = (len(self.input_shape) + 1, self.input_shape)
        if x.ndim != expected[0] or tuple(x.shape[1:]) != self.input_shape:
            raise ShapeError(
                f"model expects input of shape (N, {', '.join(map(str, self.input_shape))}), got {tuple(x.shape)}"
            )
        if x.dtype not in (np.float32, np.float64):
            x = x.astype(np.float32)
        kept = [] if keep else None
        with model_threads():  # our own threads for the whole pass (BLAS single-threaded inside)
            for layer in self.layers[:upto]:
                x = layer.forward(x, training)
                if kept is not None:
                    kept.append(np.array(x, copy=True))
        if kept is not None:
            self.activations = kept
        return x

    def backward(self, dy: np.ndarray, start: int | None = None, input_grad: bool = False) -> np.ndarray | None:
        """Back-propagate from the output of layer ``start - 1`` (the last layer by default).

        Fills every layer's ``grads``; returns the input gradient only with ``input_grad=True``
        (skipping it saves the costliest step of the first convolution).
        """
        if self.layers:
            self.layers[0].needs_input_grad = input_grad
        layers = self.layers[:start]
        index = len(layers) - 1
        with model_threads():
            while index >= 0 and dy is not None:
                layer = layers[index]
                if index > 0 and _folds_relu(layers[index - 1], layer):
                    dy = layer.backward_through_relu(dy)  # the ReLU's backward is folded into the pool's
                    index -= 2
                else:
                    dy = layer.backward(dy)
                    index -= 1
        return dy

    def feature_maps(self, x: np.ndarray) -> list[np.ndarray]:
        """Every layer's activation for one input batch (inference mode), as copies."""
        self.forward(x, training=False, keep=True)
        return list(self.activations or [])

    def predict_proba(self, x: np.ndarray, batch_size: int = 256) -> np.ndarray:
        """Class probabilities (softmax of the logits, the final Softmax layer not applied twice)."""
        from .accelerate import inference

        outputs = []
        forward = inference(self, upto=self.logits_end, samples=len(x))  # onnxruntime when installed
        for start in range(0, len(x), batch_size):
            logits = forward(x[start : start + batch_size])
            outputs.append(self.probabilities(logits, upto=self.logits_end))
        return np.concatenate(outputs) if outputs else np.zeros((0,) + self.output_shape, np.float32)

    @property
    def ends_with_softmax(self) -> bool:
        return bool(self.layers) and self.layers[-1].type_name == "Softmax"

    @property
    def logits_end(self) -> int | None:
        """The ``upto`` of ``forward`` that gives the class scores (logits): before a final Softmax
        layer, so that softmax is never applied twice; None when the last layer gives them."""
        return len(self.layers) - 1 if self.ends_with_softmax else None

    def probabilities(self, output: np.ndarray, upto: int | None = None) -> np.ndarray:
        """Class probabilities (N, K) from a batch of outputs of ``forward(..., upto=upto)``: the
        output itself when it already passed the final Softmax layer, else its softmax."""
        from .layers.activations import softmax

        flat = np.asarray(output).reshape(len(output), -1)
        if upto is None and self.ends_with_softmax:
            return flat.astype(np.float32, copy=False)
        return softmax(flat, axis=1).astype(np.float32, copy=False)

    def clear_caches(self) -> None:
        for layer in self.layers:
            layer.clear_cache()

    # ---- parameters ------------------------------------------------------------------
    def named_parameters(self) -> dict[str, np.ndarray]:
        """Live trainable arrays keyed like PyTorch (``"0.weight"``); writing into them changes the model."""
        return {f"{i}.{k}": v for i, layer in enumerate(self.layers) for k, v in layer.params.items()}

    def named_gradients(self) -> dict[str, np.ndarray]:
        """Gradients from the last ``backward``, keyed like ``named_parameters``."""
        return {f"{i}.{k}": v for i, layer in enumerate(self.layers) for k, v in layer.grads.items()}

    def named_buffers(self) -> dict[str, np.ndarray]:
        return {f"{i}.{k}": v for i, layer in enumerate(self.layers) for k, v in layer.buffers.items()}

    def state_dict(self) -> dict[str, np.ndarray]:
        """Copies of parameters and buffers, named and shaped as ``torch.nn.Sequential.state_dict()``."""
        state = {}
        for i, layer in enumerate(self.layers):
            for k, v in list(layer.params.items()) + list(layer.buffers.items()):
                state[f"{i}.{k}"] = np.array(v, copy=True)
        return state

    def load_state_dict(self, state: dict[str, Any], strict: bool = True) -> None:
        """Copy arrays in (shapes checked); with ``strict`` every name must match both ways."""
        targets = {**self.named_parameters(), **self.named_buffers()}
        if strict:
            missing = sorted(set(targets) - set(state))
            unexpected = sorted(set(state) - set(targets))
            if missing or unexpected:
                parts = []
                if missing:
                    parts.append(f"missing {', '.join(missing)}")
                if unexpected:
                    parts.append(f"unexpected {', '.join(unexpected)}")
                raise ValueError(f"state does not match the model: {'; '.join(parts)}")
        checked = []
        for name, target in targets.items():
            if name not in state:
                continue
            value = np.asarray(state[name])
            if value.shape != target.shape:
                raise ValueError(f"{name}: expected shape {target.shape}, got {value.shape}")
            checked.append((target, value))
        for target, value in checked:  # copy only after every shape was checked
            target[...] = value

    def zero_grad(self) -> None:
        for layer in self.layers:
            layer.zero_grad()

    def astype(self, dtype: Any) -> Sequential:
        """Convert every parameter and buffer in place (float64 for gradient checks)."""
        for layer in self.layers:
            layer.astype(dtype)
        return self

    def parameter_count(self) -> int:
        return int(sum(v.size for v in self.named_parameters().values()))

    # ---- summary ---------------------------------------------------------------------
    def summary(self) -> str:
        """The Keras-style table: layer, output shape, parameters, receptive field, multiply-adds."""
        return format_summary(self.analyze(), title=self.name)


def format_summary(analysis: Analysis, title: str | None = None) -> str:
    """Render an Analysis as a fixed-width text table (shared by Sequential.summary and the CLI)."""
    headers = ("#", "Layer", "Output shape", "Params", "Receptive field", "Mult-adds")
    rows = [("", "Input", fmt_shape(analysis.input_shape), "", "", "")]
    notes = []
    for info in analysis.layers:
        rf = fmt_shape(info.receptive_field, missing="")
        rows.append((
            str(info.index), info.description or info.type,
            "ERROR" if info.error else fmt_shape(info.output_shape),
            f"{info.params:,}", rf, f"{info.macs:,}",
        ))
        if info.error:
            notes.append(f"  ! layer {info.index} {info.type}: {info.error}")
        notes.extend(f"  ~ layer {info.index} {info.type}: {w}" for w in info.warnings)
    widths = [max(len(r[c]) for r in rows + [headers]) for c in range(len(headers))]
    align = ("<", "<", "<", ">", ">", ">")
    line = "  ".join(f"{h:{a}{w}}" for h, a, w in zip(headers, align, widths))
    rule = "─" * len(line)
    out = []
    if title:
        out.append(f'Model "{title}"')
    out += [rule, line, rule]
    out += ["  ".join(f"{v:{a}{w}}" for v, a, w in zip(r, align, widths)) for r in rows]
    out.append(rule)
    out.append(f"Total params: {analysis.total_params:,} ({format_bytes(4 * analysis.total_params)})")
    out.append(f"Mult-adds per sample: {analysis.total_macs:,}")
    out.append("Design: valid" if analysis.valid else f"Design: {len(analysis.errors)} error(s)")
    if analysis.input_error:
        notes.insert(0, f"  ! input: {analysis.input_error}")
    out.extend(notes)
    return "\n".join(out)


def format_bytes(n: int) -> str:
    """1.2 KB, 3.4 MB: memory sizes for people."""
    for unit in ("B", "KB", "MB", "GB"):
        if n < 1024 or unit == "GB":
            return f"{n:.0f} {unit}" if unit == "B" else f"{n:.1f} {unit}"
        n /= 1024
    raise AssertionError("unreachable: the GB branch always returns")


__all__ = ["Sequential", "format_summary", "format_bytes"]
