"""Export a design as readable PyTorch code whose ``nn.Sequential`` matches our state_dict names.

Every guicnn layer becomes exactly one module at the same index, so a model file's tensors
(minus ``optimizer.*``) load with ``load_state_dict(strict=True)``. Layers PyTorch lacks
(min/sum/stochastic pooling, global pools, spatial pyramid pooling, asymmetric "same"
padding) become small module classes written into the generated file.
"""

from __future__ import annotations

from typing import Any

from .analysis import analyze, make_layer
from .errors import ConfigError
from .functional import resolve_padding

# Helper modules, emitted only when a design uses them.
_HELPERS: dict[str, str] = {
    "PaddedConv2d": '''
class PaddedConv2d(nn.Conv2d):
    """Conv2d with explicit, possibly unequal, zero padding (left, right, top, bottom)."""

    def __init__(self, *args, pads=(0, 0, 0, 0), **kwargs):
        super().__init__(*args, **kwargs)
        self.pads = tuple(pads)

    def forward(self, x):
        return super().forward(F.pad(x, self.pads))
''',
    "MinPool2d": '''
class MinPool2d(nn.Module):
    """Minimum of each window (padding never wins), as -max_pool(-x)."""

    def __init__(self, kernel_size, stride=None, padding=0):
        super().__init__()
        self.kernel_size, self.stride, self.padding = kernel_size, stride or kernel_size, padding

    def forward(self, x):
        return -F.max_pool2d(-x, self.kernel_size, self.stride, self.padding)
''',
    "SumPool2d": '''
class SumPool2d(nn.Module):
    """Sum of each window (zero padding included): average pooling without the division."""

    def __init__(self, kernel_size, stride=None, padding=0):
        super().__init__()
        self.kernel_size, self.stride, self.padding = kernel_size, stride or kernel_size, padding

    def forward(self, x):
        return F.avg_pool2d(x, self.kernel_size, self.stride, self.padding, divisor_override=1)
''',
    "StochasticPool2d": '''
class StochasticPool2d(nn.Module):
    """Stochastic pooling of a = relu(x): in training one element per window drawn with
    probability a / sum(a); in inference the probability-weighted average sum(a²) / sum(a)."""

    def __init__(self, kernel_size, stride=None, padding=0):
        super().__init__()
        self.kernel_size, self.stride, self.padding = kernel_size, stride or kernel_size, padding

    def forward(self, x):
        a = F.relu(x)
        if not self.training:
            total = F.avg_pool2d(a, self.kernel_size, self.stride, self.padding, divisor_override=1)
            squares = F.avg_pool2d(a * a, self.kernel_size, self.stride, self.padding, divisor_override=1)
            return squares / torch.where(total > 0, total, torch.ones_like(total))
        n, c, h, w = a.shape
        kh, kw = _pair(self.kernel_size)
        sh, sw = _pair(self.stride)
        ph, pw = _pair(self.padding)
        oh, ow = (h + 2 * ph - kh) // sh + 1, (w + 2 * pw - kw) // sw + 1
        cols = F.unfold(a, (kh, kw), stride=(sh, sw), padding=(ph, pw)).view(n, c, kh * kw, oh * ow)
        total = cols.sum(dim=2, keepdim=True)
        u = torch.rand_like(total) * total
        index = (cols.cumsum(dim=2) < u).sum(dim=2, keepdim=True).clamp_max(kh * kw - 1)
        return cols.gather(2, index).view(n, c, oh, ow)


def _pair(value):
    return tuple(value) if isinstance(value, (tuple, list)) else (value, value)
''',
    "GlobalAvgPool2d": '''
class GlobalAvgPool2d(nn.Module):
    """Mean of each whole feature map: (N, C, H, W) -> (N, C)."""

    def forward(self, x):
        return x.mean(dim=(2, 3))
''',
    "GlobalMaxPool2d": '''
class GlobalMaxPool2d(nn.Module):
    """Maximum of each whole feature map: (N, C, H, W) -> (N, C)."""

    def forward(self, x):
        return x.amax(dim=(2, 3))
''',
    "SpatialPyramidPool2d": '''
class SpatialPyramidPool2d(nn.Module):
    """Adaptive max/avg pooling to each level's grid, flattened and concatenated."""

    def __init__(self, levels=(1, 2, 4), mode="max"):
        super().__init__()
        self.levels, self.mode = tuple(levels), mode

    def forward(self, x):
        pool = F.adaptive_max_pool2d if self.mode == "max" else F.adaptive_avg_pool2d
        return torch.cat([pool(x, level).flatten(1) for level in self.levels], dim=1)
''',
}


def _num(value: Any) -> str:
    """A number as Python source (floats round-trip exactly)."""
    return repr(float(value)) if isinstance(value, float) else repr(int(value))


def _pair_src(pair: tuple[int, int]) -> str:
    return str(pair[0]) if pair[0] == pair[1] else f"({pair[0]}, {pair[1]})"


def _conv(layer: Any, in_shape: tuple[int, ...]) -> tuple[str, str | None]:
    s = layer.settings
    c, h, w = in_shape
    top, bottom, left, right = resolve_padding(s["padding"], (h, w), layer.k_eff, layer.stride)
    args = [f"{c}, {int(s['filters'])}", f"kernel_size={_pair_src(layer.kernel)}"]
    if layer.stride != (1, 1):
        args.append(f"stride={_pair_src(layer.stride)}")
    helper = None
    symmetric = top == bottom and left == right
    if s["padding"] == "same" and layer.stride == (1, 1) and symmetric:
        args.append('padding="same"')
    elif symmetric:
        if top or left:
            args.append(f"padding={_pair_src((top, left))}")
    else:
        helper = "PaddedConv2d"
        args.append(f"pads=({left}, {right}, {top}, {bottom})")
    if layer.dilation != (1, 1):
        args.append(f"dilation={_pair_src(layer.dilation)}")
    if not s["use_bias"]:
        args.append("bias=False")
    return f"{helper or 'nn.Conv2d'}({', '.join(args)})", helper


def _pool(layer: Any, torch_name: str, extra: str = "") -> str:
    args = [f"kernel_size={_pair_src(layer.kernel)}"]
    if layer.stride != layer.kernel:
        args.append(f"stride={_pair_src(layer.stride)}")
    if layer.pad != (0, 0):
        args.append(f"padding={_pair_src(layer.pad)}")
    if extra:
        args.append(extra)
    return f"{torch_name}({', '.join(args)})"


def _module(layer: Any, in_shape: tuple[int, ...]) -> tuple[str, str | None]:
    """(constructor source, helper class it needs or None) for one layer."""
    t, s = layer.type_name, layer.settings
    if t == "Conv2D":
        return _conv(layer, in_shape)
    if t == "Dense":
        bias = "" if s["use_bias"] else ", bias=False"
        return f"nn.Linear({in_shape[0]}, {int(s['units'])}{bias})", None
    if t == "BatchNorm":
        kind = "nn.BatchNorm2d" if len(in_shape) == 3 else "nn.BatchNorm1d"
        return f"{kind}({in_shape[0]}, eps={_num(s['eps'])}, momentum={_num(s['momentum'])})", None
    if t == "PReLU":
        count = in_shape[0] if s["channelwise"] else 1
        return f"nn.PReLU(num_parameters={count}, init={_num(s['init'])})", None
    simple = {
        "Flatten": "nn.Flatten()", "ReLU": "nn.ReLU()", "Sigmoid": "nn.Sigmoid()", "Tanh": "nn.Tanh()",
        "Softmax": "nn.Softmax(dim=1)", "GlobalAvgPool2D": "GlobalAvgPool2d()", "GlobalMaxPool2D": "GlobalMaxPool2d()",
    }
    if t in simple:
        return simple[t], ("GlobalAvgPool2d" if t == "GlobalAvgPool2D" else "GlobalMaxPool2d" if t == "GlobalMaxPool2D"
                           else None)
    if t == "LeakyReLU":
        return f"nn.LeakyReLU(negative_slope={_num(s['negative_slope'])})", None
    if t == "ELU":
        return f"nn.ELU(alpha={_num(s['alpha'])})", None
    if t == "Dropout":
        return f"nn.Dropout(p={_num(s['rate'])})", None
    if t == "MaxPool2D":
        return _pool(layer, "nn.MaxPool2d"), None
    if t == "AvgPool2D":
        return _pool(layer, "nn.AvgPool2d", "count_include_pad=True"), None
    if t in ("MinPool2D", "SumPool2D", "StochasticPool2D"):
        helper = t[:-1] + "d"
        return _pool(layer, helper), helper
    if t == "SpatialPyramidPool2D":
        levels = ", ".join(str(int(v)) for v in s["levels"])
        return f"SpatialPyramidPool2d(levels=({levels},), mode={s['mode']!r})", "SpatialPyramidPool2d"
    raise ConfigError(f"layer type {t} has no PyTorch export yet", layer_type=t)


def _shape_text(shape: Any) -> str:
    return "x".join(str(d) for d in shape)


def torch_code(config: dict[str, Any], *, weights_file: str = "model.safetensors") -> str:
    """Python source defining ``build_model()``: the design as a ``torch.nn.Sequential``.

    Module ``i`` is layer ``i``, so our model file loads into it with ``strict=True``
    (``weights_file`` is only named in the usage note). ConfigError if the design is invalid.
    """
    analysis = analyze(config)
    if not analysis.valid:
        raise ConfigError("cannot export an invalid design: " + "; ".join(analysis.errors))
    lines, helpers = [], []
    for index, (layer_config, info) in enumerate(zip(config["layers"], analysis.layers)):
        layer = make_layer(layer_config, index)
        source, helper = _module(layer, tuple(info.input_shape))
        if helper and helper not in helpers:
            helpers.append(helper)
        label = f" {layer.name}," if layer.name else ""
        lines.append(f"        {source},  # {index}:{label} output {_shape_text(info.output_shape)}")
    title = config.get("name") or "design"
    input_shape = tuple(int(d) for d in config["input_shape"])
    out = [
        f'"""PyTorch version of the guicnn design "{title}" (generated by guicnn).',
        "",
        "Module i is guicnn layer i, so a guicnn model file loads with strict=True:",
        "",
        "    from safetensors.torch import load_file",
        f'    state = {{k: v for k, v in load_file("{weights_file}").items() if not k.startswith("optimizer.")}}',
        "    model = build_model()",
        "    model.load_state_dict(state, strict=True)",
        "    model.eval()",
        "",
        "Inputs are float32 NCHW, normalised as during training (see the model file's dataset metadata).",
        '"""',
        "",
        "import torch",
        "import torch.nn.functional as F",
        "from torch import nn",
        "",
        f"INPUT_SHAPE = {input_shape!r}",
    ]
    for helper in helpers:
        out.append("")
        out.append(_HELPERS[helper].rstrip("\n"))
    out += [
        "",
        "",
        "def build_model() -> nn.Sequential:",
        f'    """{title}: input {_shape_text(input_shape)}, output {_shape_text(analysis.output_shape)}."""',
        "    return nn.Sequential(",
        *lines,
        "    )",
        "",
        "",
        'if __name__ == "__main__":',
        "    model = build_model().eval()",
        "    print(model)",
        "    print(model(torch.zeros((1,) + INPUT_SHAPE)).shape)",
        "",
    ]
    return "\n".join(out)


__all__ = ["torch_code"]
