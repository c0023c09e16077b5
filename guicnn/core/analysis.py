"""analyze(config): shapes, parameters, receptive fields, costs and readable problems per layer.

Never raises for a bad design: every problem is reported on the layer it belongs to, so
the editor, the summary table and the CLI can all show the same analysis.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

from .errors import ConfigError
from .layers.base import Layer, LayerShapeError
from .layers.common import fmt_shape
from .registry import layer_class

Shape = tuple[int, ...]


@dataclass
class LayerInfo:
    """What `analyze` found for one layer (shapes exclude the batch dimension)."""

    index: int
    type: str
    name: str | None
    description: str
    input_shape: Shape | None
    output_shape: Shape | None
    params: int = 0
    buffers: int = 0
    receptive_field: tuple[int, int] | None = None
    jump: tuple[int, int] | None = None
    macs: int = 0
    error: str | None = None
    warnings: list[str] = field(default_factory=list)
    # The layer object built from the config (None if it could not be built), for explanations.
    layer: Layer | None = field(default=None, repr=False, compare=False)

    @property
    def ok(self) -> bool:
        return self.error is None

    @property
    def label(self) -> str:
        return self.name or self.type

    def to_dict(self) -> dict[str, Any]:
        return {
            "index": self.index, "type": self.type, "name": self.name, "description": self.description,
            "input_shape": None if self.input_shape is None else list(self.input_shape),
            "output_shape": None if self.output_shape is None else list(self.output_shape),
            "params": self.params, "buffers": self.buffers,
            "receptive_field": None if self.receptive_field is None else list(self.receptive_field),
            "macs": self.macs, "error": self.error, "warnings": list(self.warnings),
        }


@dataclass
class Analysis:
    """Per-layer results plus totals; ``valid`` is True when no layer has an error."""

    input_shape: Shape | None
    layers: list[LayerInfo]
    input_error: str | None = None
    # Figures derived from this analysis by other modules (e.g. explain's gap flags), computed once.
    derived: dict[str, Any] = field(default_factory=dict, repr=False, compare=False)

    @property
    def valid(self) -> bool:
        return self.input_error is None and all(info.ok for info in self.layers)

    @property
    def errors(self) -> list[str]:
        """Every problem as one readable line ("layer 3 MaxPool2D: ...")."""
        lines = [f"input: {self.input_error}"] if self.input_error else []
        lines += [f"layer {i.index} {i.type}: {i.error}" for i in self.layers if i.error]
        return lines

    @property
    def warnings(self) -> list[str]:
        return [f"layer {i.index} {i.type}: {w}" for i in self.layers for w in i.warnings]

    @property
    def total_params(self) -> int:
        return sum(i.params for i in self.layers)

    @property
    def total_macs(self) -> int:
        return sum(i.macs for i in self.layers)

    @property
    def output_shape(self) -> Shape | None:
        if not self.valid:
            return None
        return self.layers[-1].output_shape if self.layers else self.input_shape

    @property
    def weight_bytes(self) -> int:
        """Memory of parameters and buffers as float32."""
        return 4 * sum(i.params + i.buffers for i in self.layers)

    def to_dict(self) -> dict[str, Any]:
        return {
            "input_shape": None if self.input_shape is None else list(self.input_shape),
            "input_error": self.input_error, "valid": self.valid,
            "total_params": self.total_params, "total_macs": self.total_macs,
            "layers": [i.to_dict() for i in self.layers],
        }


def check_input_shape(value: Any) -> Shape:
    """A valid C×H×W (or flat F) input shape, or ValueError saying why."""
    if not isinstance(value, (list, tuple)) or len(value) not in (1, 3):
        raise ValueError(f"input_shape must be [channels, height, width] (or [features]), got {value!r}")
    for dim in value:
        if isinstance(dim, bool) or not isinstance(dim, int) or dim < 1:
            raise ValueError(f"input_shape values must be whole numbers ≥ 1, got {value!r}")
        if dim > 100_000:
            raise ValueError(f"input_shape value {dim} is too large (at most 100000)")
    return tuple(int(d) for d in value)


def make_layer(layer_config: Any, index: int) -> Layer:
    """Instantiate one layer from its config dict; ConfigError naming index and type."""
    if not isinstance(layer_config, dict):
        raise ConfigError(f"each layer must be an object with a 'type', got {layer_config!r}", index=index)
    if "type" not in layer_config:
        raise ConfigError("the layer has no 'type'", index=index)
    cls = layer_class(layer_config["type"], index=index)
    try:
        return cls.from_config(layer_config)
    except ConfigError as exc:
        raise ConfigError(exc.reason, index=index, layer_type=cls.type_name) from None


def analyze(config: dict[str, Any]) -> Analysis:
    """Analyse a design config without allocating weights; problems are reported, not raised."""
    if not isinstance(config, dict):
        return Analysis(None, [], input_error=f"a design must be a JSON object, got {type(config).__name__}")
    input_error = None
    try:
        shape: Shape | None = check_input_shape(config.get("input_shape"))
    except ValueError as exc:
        shape, input_error = None, str(exc)
    layers_cfg = config.get("layers", [])
    if not isinstance(layers_cfg, list):
        return Analysis(shape, [], input_error=f"'layers' must be a list, got {type(layers_cfg).__name__}")

    image_hw = shape[1:] if shape is not None and len(shape) == 3 else None
    rf = (1, 1) if image_hw else None
    jump = (1, 1) if image_hw else None
    infos: list[LayerInfo] = []
    for index, layer_cfg in enumerate(layers_cfg):
        type_name = layer_cfg.get("type", "?") if isinstance(layer_cfg, dict) else "?"
        name = layer_cfg.get("name") if isinstance(layer_cfg, dict) else None
        info = LayerInfo(index, str(type_name), name if isinstance(name, str) else None, str(type_name), shape, None)
        infos.append(info)
        try:
            layer = make_layer(layer_cfg, index)
        except ConfigError as exc:
            info.error = exc.reason
            shape = None
            continue
        info.layer = layer
        info.description = layer.describe()
        if shape is None:
            # The input or a layer above is wrong (and reported there); nothing more to say here.
            continue
        try:
            out = layer.compute_output_shape(shape)
            info.warnings = layer.warnings(shape)
        except LayerShapeError as exc:
            info.error = str(exc)
            shape = None
            continue
        if any(d < 1 for d in out):
            info.error = f"output size {fmt_shape(out)} is below 1"
            shape = None
            continue
        info.output_shape = tuple(int(d) for d in out)
        info.params = sum(math.prod(s) for s in layer.param_shapes(shape).values())
        info.buffers = sum(math.prod(s) for s in layer.buffer_shapes(shape).values())
        info.macs = layer.macs(shape, info.output_shape)
        rf, jump = _next_receptive_field(layer.receptive(shape), rf, jump, image_hw)
        info.receptive_field, info.jump = rf, jump
        shape = info.output_shape
    return Analysis(check_shape_or_none(config.get("input_shape")), infos, input_error=input_error)


def check_shape_or_none(value: Any) -> Shape | None:
    try:
        return check_input_shape(value)
    except ValueError:
        return None


def _next_receptive_field(effect, rf, jump, image_hw):
    """Receptive field after a layer: r' = r + (k-1)·j, j' = j·s; 'global' covers the whole input."""
    if rf is None:
        return None, None
    if effect is None:
        return rf, jump
    if effect == "global":
        return tuple(image_hw), None
    if jump is None:  # already global
        return rf, None
    (kh, kw), (sh, sw) = effect
    return (rf[0] + (kh - 1) * jump[0], rf[1] + (kw - 1) * jump[1]), (jump[0] * sh, jump[1] * sw)


# The explanations build on `analyze`, so they live in their own modules and import this one;
# they are reachable from here too (DESIGN.md's contract names guicnn.core.analysis.*).
_EXPLAIN_EXPORTS = {
    "receptive_box": "receptive", "receptive_field": "receptive", "ReceptiveField": "receptive",
    "suggest_fixes": "repair", "fixes_by_problem": "repair",
    "explain_layer": "explain", "explain_design": "explain", "LayerExplanation": "explain", "Formula": "explain",
}


def __getattr__(name: str) -> Any:
    module = _EXPLAIN_EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    from importlib import import_module

    return getattr(import_module(f"{__package__}.{module}"), name)
