"""Dropout (inverted) and BatchNorm (2D on NCHW, 1D on flat input) with running statistics."""

from __future__ import annotations

import math

import numpy as np

from ..errors import ShapeError
from ..fields import Field
from ..parallel import run_blocks
from ..registry import register
from .base import Layer, Shape
from .torch_source import py_number


@register
class Dropout(Layer):
    type_name = "Dropout"
    group = "Regularisation"
    palette_order = 0
    glyph = "⋰"
    has_training_mode = True
    description = (
        "In training, zeroes a random fraction of values and scales the rest up (inverted dropout), "
        "so the network cannot rely on any single unit. Does nothing in inference."
    )
    fields = (Field("rate", "float", 0.5, "Fraction of values dropped in training.", minimum=0.0, maximum=1.0,
                    exclusive_maximum=True, key=True),)

    def describe(self) -> str:
        return f"Dropout {self.settings['rate']:g}"

    def forward(self, x: np.ndarray, training: bool = False) -> np.ndarray:
        self.check_input(x)
        rate = float(self.settings["rate"])
        if not training or rate == 0.0:
            self._cache = None
            return x
        keep = self.rng.random(x.shape, dtype=np.float32) >= rate
        scale = x.dtype.type(1.0 / (1.0 - rate))
        self._cache = (keep, scale)
        return np.where(keep, x * scale, 0).astype(x.dtype, copy=False)

    def backward(self, dy: np.ndarray) -> np.ndarray:
        if self._cache is None:
            return dy
        keep, scale = self._cache
        return np.where(keep, dy * scale, 0).astype(dy.dtype, copy=False)

    # ---- export ----------------------------------------------------------------------------
    def torch_code(self, input_shape: Shape) -> str:
        return f"nn.Dropout(p={py_number(self.settings['rate'])})"

    def onnx_nodes(self, graph, x: str) -> str:
        return graph.node("Identity", [x])  # inference: dropout passes everything through


@register
class BatchNorm(Layer):
    type_name = "BatchNorm"
    group = "Regularisation"
    palette_order = 1
    glyph = "β"
    has_training_mode = True
    description = (
        "Normalises each channel to zero mean and unit variance over the batch, then scales and shifts it "
        "by learned weights; keeps running statistics for inference. Speeds up and stabilises training."
    )
    fields = (
        Field("momentum", "float", 0.1, "Weight of the newest batch in the running statistics (PyTorch's convention).",
              minimum=0.0, maximum=1.0),
        Field("eps", "float", 1e-5, "Added to the variance to avoid dividing by zero.", minimum=0.0, maximum=1.0,
              exclusive_minimum=True),
    )

    def param_shapes(self, input_shape: Shape) -> dict[str, Shape]:
        return {"weight": (int(input_shape[0]),), "bias": (int(input_shape[0]),)}

    def buffer_shapes(self, input_shape: Shape) -> dict[str, Shape]:
        c = int(input_shape[0])
        return {"running_mean": (c,), "running_var": (c,), "num_batches_tracked": ()}

    def macs(self, input_shape: Shape, output_shape: Shape) -> int:
        return int(2 * math.prod(input_shape))

    def describe(self) -> str:
        return "BatchNorm"

    def init_params(self, input_shape: Shape, rng: np.random.Generator) -> dict[str, np.ndarray]:
        c = int(input_shape[0])
        return {"weight": np.ones(c, dtype=np.float32), "bias": np.zeros(c, dtype=np.float32)}

    def init_buffers(self, input_shape: Shape) -> dict[str, np.ndarray]:
        c = int(input_shape[0])
        return {
            "running_mean": np.zeros(c, dtype=np.float32),
            "running_var": np.ones(c, dtype=np.float32),
            "num_batches_tracked": np.zeros((), dtype=np.int64),
        }

    @staticmethod
    def _channel_rows(x: np.ndarray) -> np.ndarray | None:
        """(C, H·W·N) rows of a batch-last 4-D array (a free view), else None."""
        if x.ndim == 4:
            last = x.transpose(1, 2, 3, 0)
            if last.flags.c_contiguous:
                return last.reshape(x.shape[1], -1)
        return None

    def forward(self, x: np.ndarray, training: bool = False) -> np.ndarray:
        self.check_input(x)
        rows = self._channel_rows(x)
        if rows is None:
            return self._forward_axes(x, training)
        # Batch-last input (what convolutions produce): every channel is one contiguous row, so
        # the statistics are row reductions and the rest row-wise passes, split over two threads.
        # Forward 1.1-1.4x, backward 1.6-2.1x against reducing over axes (0, 2, 3).
        c, count = rows.shape
        eps = float(self.settings["eps"])
        if training and count < 2:
            raise ShapeError("BatchNorm needs more than one value per channel in training; use a batch size above 1")
        x_hat = np.empty_like(rows)
        out = np.empty_like(rows)
        mean = np.empty(c, dtype=x.dtype)
        var = np.empty(c, dtype=x.dtype)
        if not training:
            mean[...] = self.buffers["running_mean"]
            var[...] = self.buffers["running_var"]
        gamma, beta = self.params["weight"], self.params["bias"]
        inv_std = np.empty(c, dtype=x.dtype)

        def normalise(c0: int, c1: int) -> None:
            r, xh = rows[c0:c1], x_hat[c0:c1]
            if training:
                mean[c0:c1] = r.mean(axis=1, dtype=x.dtype)
            np.subtract(r, mean[c0:c1, None], out=xh)
            if training:
                var[c0:c1] = np.mean(xh * xh, axis=1, dtype=x.dtype)
            inv_std[c0:c1] = 1.0 / np.sqrt(var[c0:c1] + eps)
            xh *= inv_std[c0:c1, None]
            np.multiply(xh, gamma[c0:c1, None], out=out[c0:c1])
            out[c0:c1] += beta[c0:c1, None]

        run_blocks(normalise, c, rows.size)
        if training:
            self._update_running(mean, var, count)
        self._cache = ("rows", x_hat, inv_std, training, count)
        return out.reshape(x.shape[1], x.shape[2], x.shape[3], x.shape[0]).transpose(3, 0, 1, 2)

    def _update_running(self, mean: np.ndarray, var: np.ndarray, count: int) -> None:
        momentum = float(self.settings["momentum"])
        b = self.buffers
        b["running_mean"][...] = (1 - momentum) * b["running_mean"] + momentum * mean
        b["running_var"][...] = (1 - momentum) * b["running_var"] + momentum * var * (count / (count - 1))
        b["num_batches_tracked"][...] = b["num_batches_tracked"] + 1

    def _forward_axes(self, x: np.ndarray, training: bool) -> np.ndarray:
        """Any other layout (flat input, NCHW-stored images): reduce over the batch (and image) axes."""
        axes = (0, 2, 3) if x.ndim == 4 else (0,)
        shape = (1, -1, 1, 1) if x.ndim == 4 else (1, -1)
        count = x.size // x.shape[1]
        eps = float(self.settings["eps"])
        if training:
            if count < 2:
                raise ShapeError(
                    "BatchNorm needs more than one value per channel in training; use a batch size above 1"
                )
            mean = x.mean(axis=axes, dtype=x.dtype)
            centred = x - mean.reshape(shape)
            var = np.mean(centred * centred, axis=axes, dtype=x.dtype)
            self._update_running(mean, var, count)
        else:
            mean = self.buffers["running_mean"].astype(x.dtype, copy=False)
            var = self.buffers["running_var"].astype(x.dtype, copy=False)
            centred = x - mean.reshape(shape)
        inv_std = (1.0 / np.sqrt(var + eps)).astype(x.dtype, copy=False)
        x_hat = centred * inv_std.reshape(shape)
        self._cache = ("axes", x_hat, inv_std, training, axes, shape, count)
        return x_hat * self.params["weight"].reshape(shape) + self.params["bias"].reshape(shape)

    def backward(self, dy: np.ndarray) -> np.ndarray:
        if self._cache[0] == "rows":
            return self._backward_rows(dy)
        _, x_hat, inv_std, training, axes, shape, count = self._cache
        gamma = self.params["weight"]
        sum_dy = dy.sum(axis=axes)
        sum_dy_xhat = (dy * x_hat).sum(axis=axes)
        self.grads["weight"][...] = sum_dy_xhat
        self.grads["bias"][...] = sum_dy
        scale = (gamma * inv_std).reshape(shape)
        if not training:
            return dy * scale
        # d/dx of (x - mean)/std with batch statistics, all channels at once.
        return scale * (dy - (sum_dy.reshape(shape) + x_hat * sum_dy_xhat.reshape(shape)) / count)

    def _backward_rows(self, dy: np.ndarray) -> np.ndarray:
        _, x_hat, inv_std, training, count = self._cache
        c = x_hat.shape[0]
        dy_rows = np.ascontiguousarray(dy.transpose(1, 2, 3, 0)).reshape(c, -1)  # free for batch-last dy
        dx = np.empty_like(x_hat)
        gamma = self.params["weight"]
        grad_gamma, grad_beta = self.grads["weight"], self.grads["bias"]

        def rows_backward(c0: int, c1: int) -> None:
            d, xh, out = dy_rows[c0:c1], x_hat[c0:c1], dx[c0:c1]
            sum_dy = d.sum(axis=1)
            np.multiply(d, xh, out=out)  # out as scratch for dy·x̂
            sum_dy_xhat = out.sum(axis=1)
            grad_gamma[c0:c1] = sum_dy_xhat
            grad_beta[c0:c1] = sum_dy
            scale = gamma[c0:c1] * inv_std[c0:c1]
            if not training:
                np.multiply(d, scale[:, None], out=out)
                return
            # scale·(dy − (Σdy + x̂·Σdy·x̂)/count) as four in-place row passes, no temporary
            np.multiply(xh, (sum_dy_xhat / count)[:, None], out=out)
            out += (sum_dy / count)[:, None]
            np.subtract(d, out, out=out)
            out *= scale[:, None]

        run_blocks(rows_backward, c, dx.size)
        n, _, h, w = dy.shape
        return dx.reshape(c, h, w, n).transpose(3, 0, 1, 2)

    # ---- export ----------------------------------------------------------------------------
    def torch_code(self, input_shape: Shape) -> str:
        kind = "nn.BatchNorm2d" if len(input_shape) == 3 else "nn.BatchNorm1d"
        s = self.settings
        return f"{kind}({input_shape[0]}, eps={py_number(s['eps'])}, momentum={py_number(s['momentum'])})"

    def onnx_nodes(self, graph, x: str) -> str:
        # Inference: the running statistics. ONNX's momentum weighs the old value (1 - PyTorch's).
        inputs = [x] + [graph.tensor(name, source[name]) for name, source in (
            ("weight", self.params), ("bias", self.params),
            ("running_mean", self.buffers), ("running_var", self.buffers))]
        return graph.node("BatchNormalization", inputs, epsilon=float(self.settings["eps"]),
                          momentum=1.0 - float(self.settings["momentum"]))
