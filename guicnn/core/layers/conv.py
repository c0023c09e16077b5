"""Conv2D: Winograd F(2x2, 3x3) where it wins, row-blocked im2col (``core.blocked``) otherwise."""

from __future__ import annotations

import numpy as np

from .. import blocked, winograd
from ..fields import Field, as_pair
from ..functional import (
    WindowGeometry,
    as_batch_last,
    effective_kernel,
    padded_batch_last,
    release,
    window_geometry,
)
from ..init import INITIALISERS, init_weight
from ..registry import register
from .base import Layer, LayerShapeError, Shape, Window
from .common import check_image_input, dropped_lines_warning, fmt_padding, fmt_pair
from .torch_source import py_pair


@register
class Conv2D(Layer):
    """2-D convolution (cross-correlation, as PyTorch's ``Conv2d``) over NCHW input.

    Output size per axis, for input size n, padding p before and after, kernel k, dilation d
    and stride s: ``out = floor((n + 2p − d·(k−1) − 1) / s) + 1`` (with "same" padding,
    ``out = ceil(n / s)``; see ``functional.window_geometry``).

    3x3 kernels at stride 1 without dilation, with at least 64 input channels and 64 filters
    and an output of at least 16x16 (12x12 from 128), run as Winograd F(2x2, 3x3)
    (``guicnn.core.winograd``); the rest as row-blocked im2col (``guicnn.core.blocked``).
    Both give the same results to float rounding.
    """

    type_name = "Conv2D"
    group = "Convolution"
    palette_order = 0
    glyph = "▦"
    description = (
        "Slides a set of learned kernels over the input; each filter produces one feature map "
        "that responds to a local pattern such as an edge or a texture."
    )
    fields = (
        Field("filters", "int", 8, "Number of kernels, i.e. output channels (feature maps).",
              minimum=1, maximum=4096, required=True, key=True),
        Field("kernel_size", "pair", 3, "Height and width of each kernel window.",
              minimum=1, maximum=64, required=True, key=True),
        Field("stride", "pair", 1, "Step between window positions; 2 halves the output size.",
              minimum=1, maximum=64, key=True),
        Field("padding", "padding", 0,
              "Zeros added around the input: a number per side, 'valid' (none) or 'same' (keep size at stride 1).",
              minimum=0, maximum=64, choices=("valid", "same"), key=True),
        Field("dilation", "pair", 1, "Spacing between kernel taps; widens the view without more weights.",
              minimum=1, maximum=32),
        Field("use_bias", "bool", True, "Add a learned offset to every output channel."),
        Field("init", "choice", "he", "Weight initialisation: He (for ReLU) or Glorot (for sigmoid/tanh).",
              choices=INITIALISERS),
    )

    def check_settings(self) -> None:
        self.kernel = as_pair(self.settings["kernel_size"])
        self.stride = as_pair(self.settings["stride"])
        self.dilation = as_pair(self.settings["dilation"])
        self.k_eff = effective_kernel(self.kernel, self.dilation)

    def describe(self) -> str:
        s = self.settings
        padding = s["padding"]
        padding_text = f" {padding}" if isinstance(padding, str) else f" p{fmt_padding(padding)}"
        text = f"Conv2D {s['filters']}@{fmt_pair(self.kernel)} s{fmt_pair(self.stride, short=True)}{padding_text}"
        if self.dilation != (1, 1):
            text += f" d{fmt_pair(self.dilation, short=True)}"
        return text

    def _window_geometry(self, hw: tuple[int, int]) -> WindowGeometry:
        return window_geometry(tuple(hw), self.kernel, self.stride, self.settings["padding"], self.dilation)

    def geometry(self, input_shape: Shape) -> WindowGeometry:
        """Where the kernel goes over a C×H×W input (pads, span, padded and output size).

        Raises LayerShapeError, saying what to change, when the kernel does not fit.
        """
        _, h, w = check_image_input(self, input_shape)
        geometry = self._window_geometry((h, w))
        hp, wp = geometry.padded_hw
        if self.k_eff[0] > hp or self.k_eff[1] > wp:
            what = "dilated kernel" if self.dilation != (1, 1) else "kernel"
            raise LayerShapeError(
                f"{what} {fmt_pair(self.k_eff)} is larger than the padded {hp}x{wp} input; "
                "use a smaller kernel, more padding or fewer pooling layers before it"
            )
        return geometry

    def compute_output_shape(self, input_shape: Shape) -> Shape:
        return (int(self.settings["filters"]), *self.geometry(input_shape).out_hw)

    def param_shapes(self, input_shape: Shape) -> dict[str, Shape]:
        c = input_shape[0]
        shapes = {"weight": (int(self.settings["filters"]), c, *self.kernel)}
        if self.settings["use_bias"]:
            shapes["bias"] = (int(self.settings["filters"]),)
        return shapes

    def macs(self, input_shape: Shape, output_shape: Shape) -> int:
        f, oh, ow = output_shape
        return int(f * oh * ow * input_shape[0] * self.kernel[0] * self.kernel[1])

    def receptive(self, input_shape: Shape):
        return self.k_eff, self.stride

    def window(self, input_shape: Shape) -> Window:
        # No size check here: the explanation shows the arithmetic of a kernel that does not fit, too.
        _, h, w = check_image_input(self, input_shape)
        pads = self._window_geometry((h, w)).pads
        return Window(self.kernel, self.stride, self.dilation, tuple(int(p) for p in pads))

    def warnings(self, input_shape: Shape) -> list[str]:
        geometry = self.geometry(input_shape)
        pads = geometry.pads
        notes = []
        dropped = dropped_lines_warning(*geometry.padded_hw, self.k_eff, self.stride)
        if dropped:
            notes.append(dropped)
        if max(pads) >= max(self.k_eff):
            notes.append(f"padding {max(pads)} is at least the kernel size: border outputs see only zeros")
        return notes

    def init_params(self, input_shape: Shape, rng: np.random.Generator) -> dict[str, np.ndarray]:
        shapes = self.param_shapes(input_shape)
        f, c, kh, kw = shapes["weight"]
        params = {"weight": init_weight(shapes["weight"], c * kh * kw, f * kh * kw, self.settings["init"], rng)}
        if "bias" in shapes:
            params["bias"] = np.zeros(shapes["bias"], dtype=np.float32)
        return params

    def uses_winograd(self, input_shape: Shape) -> bool:
        """Whether this layer runs as Winograd F(2x2, 3x3) for that input shape (chosen per shape)."""
        c, h, w = (int(d) for d in input_shape)
        out_hw = self._window_geometry((h, w)).out_hw
        return winograd.applicable(self.kernel, self.stride, self.dilation, c, int(self.settings["filters"]), out_hw)

    def forward(self, x: np.ndarray, training: bool = False) -> np.ndarray:
        self.check_input(x)
        n, c, h, w = x.shape
        geometry = self._window_geometry((h, w))
        oh, ow = geometry.out_hw
        weight = self.params["weight"]
        bias = self.params.get("bias")
        if not self.uses_winograd((c, h, w)):
            xp = padded_batch_last(self, "padded", x, geometry.pads)
            out, kept = blocked.convolve(self, xp, weight, (oh, ow), self.stride, self.dilation, bias=bias,
                                         keep=training)
            self._cache = ("blocks", (xp, kept), (h, w), geometry, xp.shape)
            return out.transpose(3, 0, 1, 2)
        th, tw = winograd.tiles((oh, ow))
        xp = padded_batch_last(self, "padded", x, geometry.pads, size=(2 * th + 2, 2 * tw + 2))
        keep = training and winograd.KEEP_TRANSFORMED_INPUT
        out, v = winograd.forward(self, xp, weight, (oh, ow), keep=keep)
        self._cache = ("winograd", v if keep else xp, (h, w), geometry, xp.shape)
        if bias is not None:
            out += bias[:, None, None, None]
        return out.transpose(3, 0, 1, 2)

    def backward(self, dy: np.ndarray) -> np.ndarray | None:
        path, saved, (h, w), geometry, padded_shape = self._cache
        weight = self.params["weight"]
        dy_last = as_batch_last(dy)  # free for the batch-last gradients the layers pass along
        has_bias = "bias" in self.params
        if path == "winograd":
            if has_bias:
                self.grads["bias"][...] = dy_last.sum(axis=(1, 2, 3))
            dweight, dxp = winograd.backward(self, dy_last, weight, saved, padded_shape, self.needs_input_grad)
            self.grads["weight"][...] = dweight
            if dxp is None:
                return None
            # a new contiguous gradient (not a crop of the padded one): the layer before gets
            # batch-last memory it can run over in blocks
            return winograd.input_gradient(dxp, geometry.pads, (h, w)).transpose(3, 0, 1, 2)
        xp, kept = saved
        dweight, dbias = blocked.weight_gradient(self, xp, self.kernel, self.stride, self.dilation, dy_last, kept,
                                                 bias=has_bias)  # the bias gradient from the same product
        self.grads["weight"][...] = dweight.reshape(weight.shape)
        if has_bias:
            self.grads["bias"][...] = dbias
        if not self.needs_input_grad:
            return None
        dx = blocked.input_gradient(self, dy_last, weight, (h, w), geometry.pads, self.stride, self.dilation)
        return dx.transpose(3, 0, 1, 2)

    def clear_cache(self) -> None:
        super().clear_cache()
        release(self)

    # ---- export ----------------------------------------------------------------------------
    def _torch_pads(self, input_shape: Shape) -> tuple[int, int, int, int]:
        return self._window_geometry(tuple(input_shape[1:])).pads

    def torch_code(self, input_shape: Shape) -> str:
        s = self.settings
        top, bottom, left, right = self._torch_pads(input_shape)
        args = [f"{input_shape[0]}, {int(s['filters'])}", f"kernel_size={py_pair(self.kernel)}"]
        if self.stride != (1, 1):
            args.append(f"stride={py_pair(self.stride)}")
        symmetric = top == bottom and left == right
        if s["padding"] == "same" and self.stride == (1, 1) and symmetric:
            args.append('padding="same"')
        elif symmetric and (top or left):
            args.append(f"padding={py_pair((top, left))}")
        elif not symmetric:
            args.append(f"pads=({left}, {right}, {top}, {bottom})")
        if self.dilation != (1, 1):
            args.append(f"dilation={py_pair(self.dilation)}")
        if not s["use_bias"]:
            args.append("bias=False")
        return f"{'nn.Conv2d' if symmetric else 'PaddedConv2d'}({', '.join(args)})"

    def torch_helpers(self, input_shape: Shape) -> dict[str, str]:
        top, bottom, left, right = self._torch_pads(input_shape)
        return {} if top == bottom and left == right else {"PaddedConv2d": TORCH_PADDED_CONV}

    def onnx_nodes(self, graph, x: str) -> str:
        top, bottom, left, right = self._torch_pads(self.input_shape)
        inputs = [x, graph.tensor("weight", self.params["weight"])]
        if "bias" in self.params:
            inputs.append(graph.tensor("bias", self.params["bias"]))
        return graph.node("Conv", inputs, kernel_shape=list(self.kernel), strides=list(self.stride),
                          dilations=list(self.dilation), pads=[top, left, bottom, right])


TORCH_PADDED_CONV = '''
class PaddedConv2d(nn.Conv2d):
    """Conv2d with explicit, possibly unequal, zero padding (left, right, top, bottom)."""

    def __init__(self, *args, pads=(0, 0, 0, 0), **kwargs):
        super().__init__(*args, **kwargs)
        self.pads = tuple(pads)

    def forward(self, x):
        return super().forward(F.pad(x, self.pads))
'''
