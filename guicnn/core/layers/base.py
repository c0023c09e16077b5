"""The Layer base class: settings from field specs, shape inference, forward/backward."""

from __future__ import annotations

import copy
import difflib
from typing import Any, ClassVar, NamedTuple

import numpy as np

from ..errors import ConfigError, ShapeError
from ..fields import Field

Shape = tuple[int, ...]


class LayerShapeError(ValueError):
    """A layer cannot accept the input shape it is given (reason for `analyze`)."""


class Window(NamedTuple):
    """Where a sliding-window layer reads: output unit o of an axis reads the input indices
    ``o·stride − pad_before + t·dilation`` for t = 0 … kernel − 1 (those outside the input are padding)."""

    kernel: tuple[int, int]
    stride: tuple[int, int]
    dilation: tuple[int, int]
    pads: tuple[int, int, int, int]  # top, bottom, left, right


class Layer:
    """A layer of a Sequential model.

    Subclasses set the class attributes below and implement ``compute_output_shape``,
    ``forward`` and ``backward``; layers with weights also ``param_shapes`` and
    ``init_params``. ``params`` and ``grads`` are dicts keyed like PyTorch's names.
    Adding a layer type is adding one class: ``@register`` makes it known by ``type_name``
    to ``from_config``, ``analyze``, the palette and the inspector (its ``fields``).

    A complete layer with one learned weight per channel (``y = x · weight[c]``)::

        import numpy as np
        from guicnn.core import Field, Layer
        from guicnn.core.layers.base import LayerShapeError
        from guicnn.core.registry import register

        @register
        class ChannelScale(Layer):
            type_name = "ChannelScale"
            group = "Regularisation"          # the palette group (registry.GROUPS)
            glyph = "×"
            description = "Multiplies each channel by its own learned factor."
            fields = (Field("init", "float", 1.0, "Starting factor.", minimum=0.0, maximum=10.0, key=True),)

            def compute_output_shape(self, input_shape):
                if len(input_shape) != 3:
                    raise LayerShapeError("ChannelScale needs a C×H×W input")
                return tuple(input_shape)

            def param_shapes(self, input_shape):
                return {"weight": (input_shape[0],)}

            def init_params(self, input_shape, rng):
                return {"weight": np.full(input_shape[0], self.settings["init"], np.float32)}

            def forward(self, x, training=False):
                self.check_input(x)
                self._cache = x                                  # what backward needs
                return x * self.params["weight"][None, :, None, None]

            def backward(self, dy):
                x = self._cache
                self.grads["weight"][...] = (dy * x).sum(axis=(0, 2, 3))
                return dy * self.params["weight"][None, :, None, None]

        model = Sequential.from_config({"input_shape": [3, 8, 8], "layers": [
            {"type": "ChannelScale", "init": 0.5}, {"type": "Flatten"}, {"type": "Dense", "units": 2}]})

    ``tests/test_core_model.py`` runs this example and gradchecks it.
    """

    type_name: ClassVar[str] = ""
    group: ClassVar[str] = ""
    palette_order: ClassVar[int] = 0
    description: ClassVar[str] = ""
    glyph: ClassVar[str] = ""
    fields: ClassVar[tuple[Field, ...]] = ()
    # Whether forward behaves differently in training (dropout, batch norm, stochastic pool).
    has_training_mode: ClassVar[bool] = False

    def __init__(self, name: str | None = None, **settings: Any) -> None:
        if name is not None and not isinstance(name, str):
            raise ConfigError(f"name must be a string, got {name!r}", layer_type=self.type_name)
        self.name = name
        self._given = self.validate_settings(settings)
        self.settings: dict[str, Any] = {f.name: f.default for f in self.fields}
        self.settings.update(self._given)
        self.check_settings()
        self.params: dict[str, np.ndarray] = {}
        self.grads: dict[str, np.ndarray] = {}
        self.buffers: dict[str, np.ndarray] = {}
        self.input_shape: Shape | None = None
        self.output_shape: Shape | None = None
        self.needs_input_grad = True
        self.rng = np.random.default_rng(0)
        self._cache: Any = None

    # ---- settings -------------------------------------------------------------------
    @classmethod
    def field(cls, name: str) -> Field:
        for f in cls.fields:
            if f.name == name:
                return f
        raise KeyError(name)

    @classmethod
    def validate_settings(cls, settings: dict[str, Any]) -> dict[str, Any]:
        """Check every given setting against the field specs; ValueError naming the first bad one."""
        known = {f.name: f for f in cls.fields}
        given: dict[str, Any] = {}
        for key, value in settings.items():
            if key not in known:
                close = cls.closest_setting(key)
                if close:
                    hint = f"; did you mean {close!r}?"
                elif known:
                    hint = f"; {cls.type_name} takes {', '.join(known)}"
                else:
                    hint = f"; {cls.type_name} takes no settings"
                raise ConfigError(f"unknown setting {key!r}{hint}", layer_type=cls.type_name)
            try:
                given[key] = known[key].validate(value)
            except ValueError as exc:
                raise ConfigError(str(exc), layer_type=cls.type_name) from None
        for f in cls.fields:
            if f.required and f.name not in given:
                raise ConfigError(f"{f.name} is required ({f.help})", layer_type=cls.type_name)
        return given

    @classmethod
    def closest_setting(cls, key: str) -> str | None:
        """The setting a misspelt key most likely means ('kernal_size' → 'kernel_size'), or None."""
        close = difflib.get_close_matches(str(key), [f.name for f in cls.fields], n=1)
        return close[0] if close else None

    def check_settings(self) -> None:
        """Cross-field checks (raise ConfigError); most layers need none."""

    @classmethod
    def from_config(cls, config: dict[str, Any]) -> Layer:
        config = dict(config)
        config.pop("type", None)
        return cls(**config)

    def get_config(self) -> dict[str, Any]:
        """The settings exactly as given (defaults not written), with ``type`` first."""
        config: dict[str, Any] = {"type": self.type_name}
        if self.name is not None:
            config["name"] = self.name
        config.update(copy.deepcopy(self._given))
        return config

    def describe(self) -> str:
        """Short card text, e.g. ``Conv2D 6@5x5 s1 p2``."""
        return self.type_name

    # ---- shapes and costs (no allocation) -------------------------------------------
    def compute_output_shape(self, input_shape: Shape) -> Shape:
        """Output shape (without batch) for an input shape; LayerShapeError if impossible."""
        return tuple(input_shape)

    def param_shapes(self, input_shape: Shape) -> dict[str, Shape]:
        """Shapes of the trainable parameters for this input shape."""
        return {}

    def buffer_shapes(self, input_shape: Shape) -> dict[str, Shape]:
        """Shapes of non-trainable state (batch-norm running statistics)."""
        return {}

    def macs(self, input_shape: Shape, output_shape: Shape) -> int:
        """Multiply-accumulate operations for one sample (element-wise ops count one each)."""
        return 0

    def receptive(self, input_shape: Shape) -> tuple[tuple[int, int], tuple[int, int]] | str | None:
        """How this layer changes the receptive field.

        ``((kh, kw), (sh, sw))`` for a sliding window with effective kernel and stride,
        ``"global"`` when each output sees the whole input, ``None`` when it is unchanged.
        """
        return None

    def window(self, input_shape: Shape) -> Window | None:
        """The sliding window of a convolution or pooling for this input shape (None for other layers)."""
        return None

    def warnings(self, input_shape: Shape) -> list[str]:
        """Valid but probably unintended settings in this context (e.g. dropped rows)."""
        return []

    # ---- building and running ---------------------------------------------------------
    def build(self, input_shape: Shape, rng: np.random.Generator | None = None) -> Shape:
        """Fix the input shape, allocate parameters, return the output shape."""
        input_shape = tuple(int(d) for d in input_shape)
        output_shape = self.compute_output_shape(input_shape)
        self.input_shape, self.output_shape = input_shape, output_shape
        if rng is None:
            rng = np.random.default_rng(0)
        # Each layer gets its own stream so dropout masks do not depend on other layers.
        self.rng = np.random.default_rng(rng.integers(0, 2**63 - 1))
        self.params = {k: v.astype(np.float32) for k, v in self.init_params(input_shape, rng).items()}
        self.buffers = {k: v for k, v in self.init_buffers(input_shape).items()}
        self.grads = {k: np.zeros_like(v) for k, v in self.params.items()}
        return output_shape

    def init_params(self, input_shape: Shape, rng: np.random.Generator) -> dict[str, np.ndarray]:
        return {}

    def init_buffers(self, input_shape: Shape) -> dict[str, np.ndarray]:
        return {}

    def astype(self, dtype: Any) -> None:
        """Convert parameters, gradients and float buffers (float64 is used by gradcheck)."""
        self.params = {k: v.astype(dtype) for k, v in self.params.items()}
        self.grads = {k: np.zeros_like(v) for k, v in self.params.items()}
        self.buffers = {k: (v.astype(dtype) if v.dtype.kind == "f" else v) for k, v in self.buffers.items()}

    def check_input(self, x: np.ndarray) -> None:
        if self.input_shape is not None and tuple(x.shape[1:]) != self.input_shape:
            raise ShapeError(
                f"{self.type_name} expected input of shape (N, {', '.join(map(str, self.input_shape))}), "
                f"got {tuple(x.shape)}"
            )

    def forward(self, x: np.ndarray, training: bool = False) -> np.ndarray:
        raise NotImplementedError

    def backward(self, dy: np.ndarray) -> np.ndarray:
        raise NotImplementedError

    def zero_grad(self) -> None:
        for g in self.grads.values():
            g.fill(0)

    def clear_cache(self) -> None:
        self._cache = None

    def __repr__(self) -> str:
        args = ", ".join(f"{k}={v!r}" for k, v in self._given.items())
        return f"{self.type_name}({args})"

    # ---- export: PyTorch code and ONNX (each layer type exports itself) ----------------
    def torch_code(self, input_shape: Shape) -> str:
        """Constructor source of the equivalent PyTorch module for this input shape, e.g. ``nn.ReLU()``.

        The module must hold the same tensors as ``params`` and ``buffers`` under the same
        names and shapes: the exported ``nn.Sequential`` loads a model file strictly.
        """
        raise ConfigError(
            f"layer type {self.type_name} has no PyTorch export (its class defines no torch_code method)",
            layer_type=self.type_name,
        )

    def torch_helpers(self, input_shape: Shape) -> dict[str, str]:
        """Source of the module classes that ``torch_code`` uses beyond ``torch.nn``, by class name."""
        return {}

    def onnx_nodes(self, graph: Any, x: str) -> str:
        """Add this built layer's inference computation to ``graph``; return the output's name.

        ``graph`` is a :class:`guicnn.core.export.onnx_graph.OnnxGraph`: ``graph.node(op, inputs,
        **attributes)`` adds a standard operator and returns its output name;
        ``graph.tensor(name, array)`` adds a weight named like the state_dict (``"3.weight"``).
        ``self.input_shape`` is the (batchless) input shape.
        """
        raise ConfigError(
            f"layer type {self.type_name} has no ONNX export (its class defines no onnx_nodes method)",
            layer_type=self.type_name,
        )
