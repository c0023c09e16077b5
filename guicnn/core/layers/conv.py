"""Conv2D: im2col through a strided window view and one matrix product."""

from __future__ import annotations

import numpy as np

from ..fields import Field, as_pair
from ..functional import crop, effective_kernel, im2col, output_size, pad_nchw, resolve_padding, scatter_windows
from ..init import INITIALISERS, init_weight
from ..registry import register
from .base import Layer, LayerShapeError, Shape, Window
from .common import check_image_input, dropped_lines_warning, fmt_padding, fmt_pair
from .torch_source import py_pair


@register
class Conv2D(Layer):
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

    def _geometry(self, input_shape: Shape):
        c, h, w = check_image_input(self, input_shape)
        pads = resolve_padding(self.settings["padding"], (h, w), self.k_eff, self.stride)
        hp, wp = h + pads[0] + pads[1], w + pads[2] + pads[3]
        if self.k_eff[0] > hp or self.k_eff[1] > wp:
            what = "dilated kernel" if self.dilation != (1, 1) else "kernel"
            raise LayerShapeError(
                f"{what} {fmt_pair(self.k_eff)} is larger than the padded {hp}x{wp} input; "
                "use a smaller kernel, more padding or fewer pooling layers before it"
            )
        oh = output_size(h, pads[0] + pads[1], self.k_eff[0], self.stride[0])
        ow = output_size(w, pads[2] + pads[3], self.k_eff[1], self.stride[1])
        return c, h, w, pads, oh, ow

    def compute_output_shape(self, input_shape: Shape) -> Shape:
        _, _, _, _, oh, ow = self._geometry(input_shape)
        return (int(self.settings["filters"]), oh, ow)

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
        pads = resolve_padding(self.settings["padding"], (h, w), self.k_eff, self.stride)
        return Window(self.kernel, self.stride, self.dilation, tuple(int(p) for p in pads))

    def warnings(self, input_shape: Shape) -> list[str]:
        c, h, w, pads, oh, ow = self._geometry(input_shape)
        notes = []
        dropped = dropped_lines_warning(h + pads[0] + pads[1], w + pads[2] + pads[3], self.k_eff, self.stride)
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

    def forward(self, x: np.ndarray, training: bool = False) -> np.ndarray:
        self.check_input(x)
        n, c, h, w = x.shape
        pads = resolve_padding(self.settings["padding"], (h, w), self.k_eff, self.stride)
        xp = pad_nchw(x, pads)
        oh = output_size(h, pads[0] + pads[1], self.k_eff[0], self.stride[0])
        ow = output_size(w, pads[2] + pads[3], self.k_eff[1], self.stride[1])
        weight = self.params["weight"]
        filters = weight.shape[0]
        cols = im2col(xp, self.kernel, self.stride, self.dilation)
        out = weight.reshape(filters, -1) @ cols  # (F, OH·OW·N): already batch-last
        if "bias" in self.params:
            out += self.params["bias"][:, None]
        self._cache = (cols, (n, c, h, w), pads, xp.shape, (oh, ow))
        return out.reshape(filters, oh, ow, n).transpose(3, 0, 1, 2)

    def backward(self, dy: np.ndarray) -> np.ndarray | None:
        cols, (n, c, h, w), pads, padded_shape, (oh, ow) = self._cache
        weight = self.params["weight"]
        filters = weight.shape[0]
        dy_rows = dy.transpose(1, 2, 3, 0).reshape(filters, oh * ow * n)  # free for batch-last dy
        self.grads["weight"][...] = (dy_rows @ cols.T).reshape(weight.shape)
        if "bias" in self.params:
            self.grads["bias"][...] = dy_rows.sum(axis=1)
        if not self.needs_input_grad:
            return None
        dcols = weight.reshape(filters, -1).T @ dy_rows
        dxp = scatter_windows(dcols.reshape(c, *self.kernel, oh, ow, n), padded_shape, self.stride, self.dilation)
        return crop(dxp, pads, (h, w))

    # ---- export ----------------------------------------------------------------------------
    def _torch_pads(self, input_shape: Shape) -> tuple[int, int, int, int]:
        return resolve_padding(self.settings["padding"], tuple(input_shape[1:]), self.k_eff, self.stride)

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
