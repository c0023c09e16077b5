"""Pooling layers: windowed max/min/average/sum/stochastic, global and pyramid pooling."""

from __future__ import annotations

import math

import numpy as np

from ..errors import ConfigError
from ..fields import Field, as_pair
from ..functional import (
    WindowGeometry,
    crop,
    offset_view,
    pad_nchw,
    scatter_windows,
    window_geometry,
    windows,
)
from ..parallel import run_blocks
from ..registry import register
from .base import Layer, LayerShapeError, Shape, Window
from .common import check_image_input, dropped_lines_warning, fmt_pair
from .torch_source import pool_arguments


class _WindowPool(Layer):
    """Shared geometry of the pools that slide a window (stride defaults to pool_size).

    Output size per axis, for input size n, padding p on each side, window k and stride s:
    ``out = floor((n + 2p − k) / s) + 1`` — the rule Conv2D uses with dilation 1
    (``functional.window_geometry``); windows overlap when s < k.
    """

    group = "Pooling"
    pad_value = 0.0
    fields = (
        Field("pool_size", "pair", 2, "Height and width of the pooling window.", minimum=1, maximum=64,
              required=True, key=True),
        Field("stride", "pair", None, "Step between windows; smaller than pool_size gives overlapping pooling.",
              minimum=1, maximum=64, default_text="= pool_size", key=True),
        Field("padding", "pair", 0, "Border added on each side (at most half the window).", minimum=0, maximum=32),
    )

    def check_settings(self) -> None:
        self.kernel = as_pair(self.settings["pool_size"])
        stride = self.settings["stride"]
        self.stride = self.kernel if stride is None else as_pair(stride)
        self.pad = as_pair(self.settings["padding"])
        if self.pad[0] > self.kernel[0] // 2 or self.pad[1] > self.kernel[1] // 2:
            raise ConfigError(
                f"padding {fmt_pair(self.pad, short=True)} is more than half the {fmt_pair(self.kernel)} window "
                f"(at most {fmt_pair((self.kernel[0] // 2, self.kernel[1] // 2), short=True)}, as in PyTorch)",
                layer_type=self.type_name,
            )

    def describe(self) -> str:
        text = f"{self.type_name} {fmt_pair(self.kernel)}"
        if self.stride != self.kernel:
            text += f" s{fmt_pair(self.stride, short=True)}"
        if self.pad != (0, 0):
            text += f" p{fmt_pair(self.pad, short=True)}"
        return text

    def geometry(self, input_shape: Shape) -> WindowGeometry:
        """Where the window goes over a C×H×W input (pads, span, padded and output size).

        Raises LayerShapeError, saying what to change, when the window does not fit.
        """
        _, h, w = check_image_input(self, input_shape)
        geometry = window_geometry((h, w), self.kernel, self.stride, self.pad)
        hp, wp = geometry.padded_hw
        if self.kernel[0] > hp or self.kernel[1] > wp:
            raise LayerShapeError(
                f"window {fmt_pair(self.kernel)} is larger than the {hp}x{wp} input"
                + (" (after padding)" if self.pad != (0, 0) else "")
                + "; use a smaller pool_size or remove a pooling layer before it"
            )
        return geometry

    def compute_output_shape(self, input_shape: Shape) -> Shape:
        return (int(input_shape[0]), *self.geometry(input_shape).out_hw)

    def macs(self, input_shape: Shape, output_shape: Shape) -> int:
        return int(math.prod(output_shape) * self.kernel[0] * self.kernel[1])

    def receptive(self, input_shape: Shape):
        return self.kernel, self.stride

    def window(self, input_shape: Shape) -> Window:
        check_image_input(self, input_shape)
        return Window(self.kernel, self.stride, (1, 1), (self.pad[0], self.pad[0], self.pad[1], self.pad[1]))

    def warnings(self, input_shape: Shape) -> list[str]:
        hp, wp = self.geometry(input_shape).padded_hw
        note = dropped_lines_warning(hp, wp, self.kernel, self.stride)
        return [note] if note else []

    def _pad(self, x: np.ndarray) -> tuple[np.ndarray, tuple]:
        """Padded input and the geometry backward needs."""
        self.check_input(x)
        pads, _, _, out_hw = window_geometry(x.shape[2:], self.kernel, self.stride, self.pad)
        xp = pad_nchw(x, pads, self.pad_value)
        return xp, (pads, xp.shape, x.shape[2:], out_hw)

    def _offsets(self, xp: np.ndarray, out_hw: tuple[int, int]):
        """(k, (C, OH, OW, N) view) for every offset k of the pooling window."""
        kh, kw = self.kernel
        for k in range(kh * kw):
            yield k, offset_view(xp, k // kw, k % kw, out_hw, self.stride)

    def _scatter(self, dcols: np.ndarray, geometry: tuple) -> np.ndarray:
        """Window gradients (C, kh, kw, OH, OW, N) back to the input's gradient."""
        pads, padded_shape, hw, _ = geometry
        return crop(scatter_windows(dcols, padded_shape, self.stride, (1, 1)), pads, hw)

    # ---- export ----------------------------------------------------------------------------
    def _torch_arguments(self) -> str:
        return ", ".join(pool_arguments(self.kernel, self.stride, self.pad))

    def _onnx_window(self) -> dict[str, list[int]]:
        """ONNX pooling attributes: window, strides and pads (top, left, bottom, right)."""
        return {"kernel_shape": list(self.kernel), "strides": list(self.stride),
                "pads": [self.pad[0], self.pad[1], self.pad[0], self.pad[1]]}


class _ArgPool(_WindowPool):
    """Max or min pooling: the gradient goes to the first extreme element, as in PyTorch."""

    better = np.greater
    pick = np.maximum

    def forward(self, x: np.ndarray, training: bool = False) -> np.ndarray:
        xp, geometry = self._pad(x)
        out_hw = geometry[3]
        kh, kw = self.kernel
        c, n = x.shape[1], x.shape[0]
        best = np.empty((c,) + tuple(out_hw) + (n,), dtype=x.dtype)  # batch-last
        index = np.zeros(best.shape, dtype=np.int8 if kh * kw < 128 else np.int16)

        def pool(c0: int, c1: int) -> None:  # channels [c0, c1): the two halves run on two threads
            views = [offset_view(xp, k // kw, k % kw, out_hw, self.stride)[c0:c1] for k in range(kh * kw)]
            top, idx = best[c0:c1], index[c0:c1]
            np.copyto(top, views[0])
            step = np.empty_like(idx)
            for k, candidate in enumerate(views[1:], start=1):
                wins = self.better(candidate, top)  # strict: ties keep the first, as PyTorch
                # index = where(wins, k, index) by arithmetic: np.where/copyto(where=) are ~10x slower here.
                np.subtract(idx.dtype.type(k), idx, out=step)
                step *= wins
                idx += step
                self.pick(top, candidate, out=top)

        run_blocks(pool, c, x.size)
        self._cache = (index, best, geometry)
        return best.transpose(3, 0, 1, 2)

    def backward(self, dy: np.ndarray) -> np.ndarray:
        return self._backward(dy, through_relu=False)

    def backward_through_relu(self, dy: np.ndarray) -> np.ndarray:
        """Gradient at the input of the ReLU right before this pool (that ReLU's backward folded in).

        The gradient reaches only each window's extreme element, whose ReLU output is this
        pool's output, so the ReLU's mask there is just ``output > 0``: one pass over the
        pooled (quarter-size) gradient replaces a full-size ReLU backward. Wide net: ReLU +
        pool backward 10.9 → ~5 ms. Used by ``Sequential.backward``.
        """
        return self._backward(dy, through_relu=True)

    def _backward(self, dy: np.ndarray, through_relu: bool) -> np.ndarray:
        index, best, geometry = self._cache
        pads, padded_shape, hw, out_hw = geometry
        kh, kw = self.kernel
        dy_last = dy.transpose(1, 2, 3, 0)
        if through_relu:
            dy_last = dy_last * (best > 0)
        c, oh, ow, n = index.shape
        if self.stride[0] >= kh and self.stride[1] >= kw and pads == (0, 0, 0, 0):
            # Windows do not overlap: each offset writes its own input positions directly, with a
            # per-offset mask the size of the output (no full-size mask, no scatter): 1.4-1.8x.
            tiled = self.stride == self.kernel and (oh * kh, ow * kw) == tuple(hw)
            dx = (np.empty if tiled else np.zeros)((c,) + tuple(hw) + (n,), dtype=dy.dtype)
            dx_nchw = dx.transpose(3, 0, 1, 2)

            def scatter(c0: int, c1: int) -> None:
                for k in range(kh * kw):
                    target = offset_view(dx_nchw, k // kw, k % kw, out_hw, self.stride)[c0:c1]
                    np.multiply(dy_last[c0:c1], index[c0:c1] == k, out=target)

            run_blocks(scatter, c, dx.size)
            return dx_nchw
        dcols = np.empty((kh * kw,) + index.shape, dtype=dy.dtype)
        for k in range(kh * kw):
            np.multiply(dy_last, index == k, out=dcols[k])
        return self._scatter(dcols.reshape(kh, kw, c, oh, ow, n).transpose(2, 0, 1, 3, 4, 5), geometry)


@register
class MaxPool2D(_ArgPool):
    type_name = "MaxPool2D"
    palette_order = 0
    glyph = "⊞"
    description = (
        "Keeps the largest value in each window: shrinks the feature maps and makes them "
        "tolerant to small shifts of the pattern."
    )
    pad_value = -np.inf
    better = np.greater
    pick = np.maximum

    # ---- export ----------------------------------------------------------------------------
    def torch_code(self, input_shape: Shape) -> str:
        return f"nn.MaxPool2d({self._torch_arguments()})"

    def onnx_nodes(self, graph, x: str) -> str:
        return graph.node("MaxPool", [x], **self._onnx_window())  # ONNX max pooling never picks padding


@register
class MinPool2D(_ArgPool):
    type_name = "MinPool2D"
    palette_order = 2
    glyph = "⊟"
    description = "Keeps the smallest value in each window; useful to see what max pooling throws away."
    pad_value = np.inf
    better = np.less
    pick = np.minimum

    # ---- export ----------------------------------------------------------------------------
    def torch_code(self, input_shape: Shape) -> str:
        return f"MinPool2d({self._torch_arguments()})"

    def torch_helpers(self, input_shape: Shape) -> dict[str, str]:
        return {"MinPool2d": TORCH_MIN_POOL}

    def onnx_nodes(self, graph, x: str) -> str:
        # min(x) = -max(-x); padding never wins either way.
        pooled = graph.node("MaxPool", [graph.node("Neg", [x])], **self._onnx_window())
        return graph.node("Neg", [pooled])


@register
class AvgPool2D(_WindowPool):
    type_name = "AvgPool2D"
    palette_order = 1
    glyph = "▣"
    description = (
        "Averages each window (zero padding counts in the average, as in PyTorch): a smoother "
        "down-sampling than max pooling."
    )
    scale_by_area = True

    def forward(self, x: np.ndarray, training: bool = False) -> np.ndarray:
        xp, geometry = self._pad(x)
        offsets = self._offsets(xp, geometry[3])
        out = np.array(next(offsets)[1])
        for _, view in offsets:
            out += view
        if self.scale_by_area:
            out *= out.dtype.type(1.0 / (self.kernel[0] * self.kernel[1]))
        self._cache = geometry
        return out.transpose(3, 0, 1, 2)

    def backward(self, dy: np.ndarray) -> np.ndarray:
        geometry = self._cache
        kh, kw = self.kernel
        scale = dy.dtype.type(1.0 / (kh * kw)) if self.scale_by_area else dy.dtype.type(1)
        dy_last = (dy * scale).transpose(1, 2, 3, 0)
        dcols = np.broadcast_to(dy_last[:, None, None], (dy_last.shape[0], kh, kw) + dy_last.shape[1:])
        return self._scatter(dcols, geometry)

    # ---- export ----------------------------------------------------------------------------
    def torch_code(self, input_shape: Shape) -> str:
        return f"nn.AvgPool2d({self._torch_arguments()}, count_include_pad=True)"

    def onnx_nodes(self, graph, x: str) -> str:
        return graph.node("AveragePool", [x], count_include_pad=1, **self._onnx_window())


@register
class SumPool2D(AvgPool2D):
    type_name = "SumPool2D"
    palette_order = 3
    glyph = "Σ"
    description = "Adds up each window (average pooling times the window area)."
    scale_by_area = False

    # ---- export ----------------------------------------------------------------------------
    def torch_code(self, input_shape: Shape) -> str:
        return f"SumPool2d({self._torch_arguments()})"

    def torch_helpers(self, input_shape: Shape) -> dict[str, str]:
        return {"SumPool2d": TORCH_SUM_POOL}

    def onnx_nodes(self, graph, x: str) -> str:
        # The sum is the average (zero padding counted) times the window area.
        average = graph.node("AveragePool", [x], count_include_pad=1, **self._onnx_window())
        area = np.array(self.kernel[0] * self.kernel[1], dtype=np.float32)
        return graph.node("Mul", [average, graph.tensor("window_area", area)])


@register
class StochasticPool2D(_WindowPool):
    type_name = "StochasticPool2D"
    palette_order = 4
    glyph = "⚄"
    has_training_mode = True
    description = (
        "In training picks one element per window at random, with probability proportional to its "
        "activation; in inference takes the probability-weighted average. Expects non-negative "
        "inputs (put it after ReLU); negative values count as 0."
    )

    def forward(self, x: np.ndarray, training: bool = False) -> np.ndarray:
        xp, geometry = self._pad(x)
        win = windows(xp, self.kernel, self.stride, (1, 1))
        n, c, oh, ow, kh, kw = win.shape
        act = np.maximum(win, 0).reshape(n, c, oh, ow, kh * kw)
        total = act.sum(axis=-1, keepdims=True)
        positive = act > 0
        if training:
            u = self.rng.random(total.shape, dtype=np.float64) * total
            index = (np.cumsum(act, axis=-1) < u).sum(axis=-1, keepdims=True)
            # All-zero windows: any element will do, their value is 0.
            index = np.minimum(index, kh * kw - 1)
            out = np.take_along_axis(act, index, axis=-1)[..., 0]
            self._cache = ("train", index, positive, geometry)
            return out.astype(x.dtype, copy=False)
        safe = np.where(total > 0, total, 1)
        out = ((act * act).sum(axis=-1, keepdims=True) / safe)[..., 0]
        self._cache = ("eval", (act, safe), positive, geometry)
        return out.astype(x.dtype, copy=False)

    def backward(self, dy: np.ndarray) -> np.ndarray:
        mode, state, positive, geometry = self._cache
        kh, kw = self.kernel
        if mode == "train":
            dact = np.zeros(positive.shape, dtype=dy.dtype)
            np.put_along_axis(dact, state, dy[..., None], axis=-1)
        else:
            act, safe = state
            q = (act * act).sum(axis=-1, keepdims=True)
            dact = dy[..., None] * (2 * act * safe - q) / (safe * safe)
        # Only elements that were positive pass gradient (negative values count as 0).
        dwin = np.where(positive, dact, 0).astype(dy.dtype, copy=False)
        dwin = dwin.reshape(dwin.shape[:-1] + (kh, kw))  # (N, C, OH, OW, kh, kw)
        return self._scatter(dwin.transpose(1, 4, 5, 2, 3, 0), geometry)

    # ---- export ----------------------------------------------------------------------------
    def torch_code(self, input_shape: Shape) -> str:
        return f"StochasticPool2d({self._torch_arguments()})"

    def torch_helpers(self, input_shape: Shape) -> dict[str, str]:
        return {"StochasticPool2d": TORCH_STOCHASTIC_POOL}

    def onnx_nodes(self, graph, x: str) -> str:
        # Inference: sum(a²) / sum(a) per window for a = relu(x), 0 where the window is all zero.
        # Both sums come from average pools, whose common 1/area cancels in the ratio.
        active = graph.node("Relu", [x])
        squares = graph.node("Mul", [active, active])
        window = self._onnx_window()
        total = graph.node("AveragePool", [active], count_include_pad=1, **window)
        weighted = graph.node("AveragePool", [squares], count_include_pad=1, **window)
        zero, one = graph.tensor("zero", np.array(0, np.float32)), graph.tensor("one", np.array(1, np.float32))
        safe = graph.node("Where", [graph.node("Greater", [total, zero]), total, one])
        return graph.node("Div", [weighted, safe])


class _GlobalPool(Layer):
    group = "Pooling"

    def compute_output_shape(self, input_shape: Shape) -> Shape:
        c, _, _ = check_image_input(self, input_shape)
        return (c,)

    def receptive(self, input_shape: Shape):
        return "global"

    def macs(self, input_shape: Shape, output_shape: Shape) -> int:
        return int(math.prod(input_shape))


@register
class GlobalAvgPool2D(_GlobalPool):
    type_name = "GlobalAvgPool2D"
    palette_order = 5
    glyph = "◎"
    description = "Averages each whole feature map to one number: C×H×W becomes a vector of C values."

    def forward(self, x: np.ndarray, training: bool = False) -> np.ndarray:
        self.check_input(x)
        self._cache = x.shape
        return x.mean(axis=(2, 3), dtype=x.dtype)

    def backward(self, dy: np.ndarray) -> np.ndarray:
        n, c, h, w = self._cache
        return np.broadcast_to((dy / (h * w))[:, :, None, None], (n, c, h, w)).copy()

    # ---- export ----------------------------------------------------------------------------
    def torch_code(self, input_shape: Shape) -> str:
        return "GlobalAvgPool2d()"

    def torch_helpers(self, input_shape: Shape) -> dict[str, str]:
        return {"GlobalAvgPool2d": TORCH_GLOBAL_AVG_POOL}

    def onnx_nodes(self, graph, x: str) -> str:
        return graph.node("Flatten", [graph.node("GlobalAveragePool", [x])], axis=1)


@register
class GlobalMaxPool2D(_GlobalPool):
    type_name = "GlobalMaxPool2D"
    palette_order = 6
    glyph = "◉"
    description = "Keeps the largest value of each whole feature map: C×H×W becomes a vector of C values."

    def forward(self, x: np.ndarray, training: bool = False) -> np.ndarray:
        self.check_input(x)
        n, c, h, w = x.shape
        flat = x.reshape(n, c, h * w)
        index = flat.argmax(axis=-1)[..., None]
        self._cache = (index, x.shape)
        return np.take_along_axis(flat, index, axis=-1)[..., 0]

    def backward(self, dy: np.ndarray) -> np.ndarray:
        index, (n, c, h, w) = self._cache
        dx = np.zeros((n, c, h * w), dtype=dy.dtype)
        np.put_along_axis(dx, index, dy[..., None], axis=-1)
        return dx.reshape(n, c, h, w)

    # ---- export ----------------------------------------------------------------------------
    def torch_code(self, input_shape: Shape) -> str:
        return "GlobalMaxPool2d()"

    def torch_helpers(self, input_shape: Shape) -> dict[str, str]:
        return {"GlobalMaxPool2d": TORCH_GLOBAL_MAX_POOL}

    def onnx_nodes(self, graph, x: str) -> str:
        return graph.node("Flatten", [graph.node("GlobalMaxPool", [x])], axis=1)


def adaptive_bins(size: int, bins: int) -> list[tuple[int, int]]:
    """PyTorch's adaptive pooling bins: [floor(i*size/bins), ceil((i+1)*size/bins))."""
    return [((i * size) // bins, -(-((i + 1) * size) // bins)) for i in range(bins)]


@register
class SpatialPyramidPool2D(Layer):
    type_name = "SpatialPyramidPool2D"
    group = "Pooling"
    palette_order = 7
    glyph = "△"
    description = (
        "Pools each feature map into fixed grids (e.g. 1x1, 2x2 and 4x4) and concatenates them, "
        "giving a fixed-length vector whatever the input size."
    )
    fields = (
        Field("levels", "int_list", [1, 2, 4], "Grid sizes of the pyramid; output has C×Σ(level²) values.",
              minimum=1, maximum=32, key=True),
        Field("mode", "choice", "max", "Pool each grid cell by its maximum or its average.",
              choices=("max", "avg"), key=True),
    )

    def describe(self) -> str:
        return f"SPP {self.settings['mode']} {','.join(str(int(v)) for v in self.settings['levels'])}"

    def compute_output_shape(self, input_shape: Shape) -> Shape:
        c, _, _ = check_image_input(self, input_shape)
        return (c * sum(int(level) ** 2 for level in self.settings["levels"]),)

    def receptive(self, input_shape: Shape):
        return "global"

    def macs(self, input_shape: Shape, output_shape: Shape) -> int:
        return int(math.prod(input_shape) * len(self.settings["levels"]))

    def _cells(self, h: int, w: int):
        for level in (int(v) for v in self.settings["levels"]):
            for r0, r1 in adaptive_bins(h, level):
                for c0, c1 in adaptive_bins(w, level):
                    yield level, r0, r1, c0, c1

    def forward(self, x: np.ndarray, training: bool = False) -> np.ndarray:
        self.check_input(x)
        n, c, h, w = x.shape
        # One column per grid cell (at most a few dozen), each vectorised over batch and channels.
        cells = list(self._cells(h, w))
        out = np.empty((n, c, len(cells)), dtype=x.dtype)
        arg = []
        for k, (_, r0, r1, c0, c1) in enumerate(cells):
            region = x[:, :, r0:r1, c0:c1].reshape(n, c, -1)
            if self.settings["mode"] == "max":
                index = region.argmax(axis=-1)[..., None]
                arg.append(index)
                out[:, :, k] = np.take_along_axis(region, index, axis=-1)[..., 0]
            else:
                out[:, :, k] = region.mean(axis=-1)
        self._cache = (cells, arg, x.shape)
        # Per level: channel-major (C, level, level) then the next level, as torch.cat of flattened levels.
        pieces, start = [], 0
        for level in (int(v) for v in self.settings["levels"]):
            pieces.append(out[:, :, start : start + level * level].reshape(n, -1))
            start += level * level
        return np.concatenate(pieces, axis=1)

    def backward(self, dy: np.ndarray) -> np.ndarray:
        cells, arg, (n, c, h, w) = self._cache
        # Undo the per-level channel-major layout into (N, C, cells).
        parts, start = [], 0
        for level in (int(v) for v in self.settings["levels"]):
            size = c * level * level
            parts.append(dy[:, start : start + size].reshape(n, c, level * level))
            start += size
        dcell = np.concatenate(parts, axis=2)
        dx = np.zeros((n, c, h, w), dtype=dy.dtype)
        batch_idx, chan_idx = np.meshgrid(np.arange(n), np.arange(c), indexing="ij")
        for k, (_, r0, r1, c0, c1) in enumerate(cells):
            if self.settings["mode"] == "max":
                width = c1 - c0
                index = arg[k][..., 0]
                rows, cols = r0 + index // width, c0 + index % width
                # Each (sample, channel) appears once per cell, so a fancy-index add is exact.
                dx[batch_idx, chan_idx, rows, cols] += dcell[:, :, k]
            else:
                dx[:, :, r0:r1, c0:c1] += (dcell[:, :, k] / ((r1 - r0) * (c1 - c0)))[:, :, None, None]
        return dx

    # ---- export ----------------------------------------------------------------------------
    def torch_code(self, input_shape: Shape) -> str:
        levels = ", ".join(str(int(v)) for v in self.settings["levels"])
        return f"SpatialPyramidPool2d(levels=({levels},), mode={self.settings['mode']!r})"

    def torch_helpers(self, input_shape: Shape) -> dict[str, str]:
        return {"SpatialPyramidPool2d": TORCH_PYRAMID_POOL}

    def onnx_nodes(self, graph, x: str) -> str:
        # Per level: one pooling operator when the adaptive bins form a regular window grid
        # (the usual case), else one slice and reduction per cell; then flattened and joined.
        _, h, w = self.input_shape
        pool, reduce = ("MaxPool", "ReduceMax") if self.settings["mode"] == "max" else ("AveragePool", "ReduceMean")
        flat = []
        for level in (int(v) for v in self.settings["levels"]):
            rows, cols = _regular_bins(h, level), _regular_bins(w, level)
            if rows and cols:
                grid = graph.node(pool, [x], kernel_shape=[rows[0], cols[0]], strides=[rows[1], cols[1]])
            else:
                grid_rows = []
                for r0, r1 in adaptive_bins(h, level):
                    cells = [self._onnx_cell(graph, x, reduce, (r0, c0), (r1, c1))
                             for c0, c1 in adaptive_bins(w, level)]
                    grid_rows.append(graph.node("Concat", cells, axis=3))
                grid = graph.node("Concat", grid_rows, axis=2)
            flat.append(graph.node("Flatten", [grid], axis=1))
        return graph.node("Concat", flat, axis=1) if len(flat) > 1 else flat[0]

    def _onnx_cell(self, graph, x: str, reduce: str, start: tuple[int, int], stop: tuple[int, int]) -> str:
        """One adaptive-pooling cell: rows and columns [start, stop) reduced to (N, C, 1, 1)."""
        name = f"cell_{start[0]}_{start[1]}_{stop[0]}_{stop[1]}"
        window = graph.node("Slice", [x, graph.tensor(name + "_start", np.array(start, np.int64)),
                                      graph.tensor(name + "_stop", np.array(stop, np.int64)),
                                      graph.tensor("axes_hw", np.array([2, 3], np.int64))])
        return graph.node(reduce, [window], axes=[2, 3], keepdims=1)


def _regular_bins(size: int, level: int) -> tuple[int, int] | None:
    """(window, stride) when the adaptive bins of ``size`` into ``level`` are a regular sliding window."""
    bins = adaptive_bins(size, level)
    window = bins[0][1] - bins[0][0]
    stride = bins[1][0] - bins[0][0] if level > 1 else 1
    if stride < 1 or any(b != (i * stride, i * stride + window) for i, b in enumerate(bins)):
        return None
    return window, stride


# Module classes PyTorch lacks, written into exported code by the pools' torch_helpers.
TORCH_MIN_POOL = '''
class MinPool2d(nn.Module):
    """Minimum of each window (padding never wins), as -max_pool(-x)."""

    def __init__(self, kernel_size, stride=None, padding=0):
        super().__init__()
        self.kernel_size, self.stride, self.padding = kernel_size, stride or kernel_size, padding

    def forward(self, x):
        return -F.max_pool2d(-x, self.kernel_size, self.stride, self.padding)
'''

TORCH_SUM_POOL = '''
class SumPool2d(nn.Module):
    """Sum of each window (zero padding included): average pooling without the division."""

    def __init__(self, kernel_size, stride=None, padding=0):
        super().__init__()
        self.kernel_size, self.stride, self.padding = kernel_size, stride or kernel_size, padding

    def forward(self, x):
        return F.avg_pool2d(x, self.kernel_size, self.stride, self.padding, divisor_override=1)
'''

TORCH_STOCHASTIC_POOL = '''
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
'''

TORCH_GLOBAL_AVG_POOL = '''
class GlobalAvgPool2d(nn.Module):
    """Mean of each whole feature map: (N, C, H, W) -> (N, C)."""

    def forward(self, x):
        return x.mean(dim=(2, 3))
'''

TORCH_GLOBAL_MAX_POOL = '''
class GlobalMaxPool2d(nn.Module):
    """Maximum of each whole feature map: (N, C, H, W) -> (N, C)."""

    def forward(self, x):
        return x.amax(dim=(2, 3))
'''

TORCH_PYRAMID_POOL = '''
class SpatialPyramidPool2d(nn.Module):
    """Adaptive max/avg pooling to each level's grid, flattened and concatenated."""

    def __init__(self, levels=(1, 2, 4), mode="max"):
        super().__init__()
        self.levels, self.mode = tuple(levels), mode

    def forward(self, x):
        pool = F.adaptive_max_pool2d if self.mode == "max" else F.adaptive_avg_pool2d
        return torch.cat([pool(x, level).flatten(1) for level in self.levels], dim=1)
'''


__all__ = [
    "MaxPool2D", "MinPool2D", "AvgPool2D", "SumPool2D", "StochasticPool2D",
    "GlobalAvgPool2D", "GlobalMaxPool2D", "SpatialPyramidPool2D",
]
