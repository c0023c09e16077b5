"""Vectorised building blocks shared by the convolution and pooling layers.

Arrays are NCHW-shaped everywhere, but convolution and pooling *store* their results in
memory order C, H, W, N (returned as a transposed view), as cuda-convnet did. In that order
im2col is one matrix product ``(F, C·kh·kw) @ (C·kh·kw, OH·OW·N)`` whose result needs no
transpose, and each window offset of a whole batch is a few long contiguous runs
(OW·N values), so gathering and scattering windows costs little more than a memcpy.
Gradients are scattered back with one strided add per kernel offset over the whole
batch, never per pixel.

That one layout goes through the whole conv → BatchNorm → ReLU → pool chain without a
transpose: ReLU keeps its input's memory order, BatchNorm reduces each channel as one
contiguous row, pooling and the next convolution read the windows straight from it, and
the gradients come back in the same order. Also here: the single window-geometry rule of
Conv2D and the pools (``window_geometry``) and the reused scratch arrays (``scratch``).
"""

from __future__ import annotations

import threading
import weakref
from collections import OrderedDict
from typing import NamedTuple

import numpy as np
from numpy.lib.stride_tricks import sliding_window_view

from .parallel import run_blocks

Pads = tuple[int, int, int, int]  # top, bottom, left, right


def effective_kernel(kernel: tuple[int, int], dilation: tuple[int, int]) -> tuple[int, int]:
    """Span of a dilated kernel: d*(k-1)+1 per axis."""
    return (dilation[0] * (kernel[0] - 1) + 1, dilation[1] * (kernel[1] - 1) + 1)


def same_padding(size: int, k_eff: int, stride: int) -> tuple[int, int]:
    """TensorFlow/PyTorch 'same': output ceil(size/stride); odd extra padding goes after."""
    out = -(-size // stride)
    total = max((out - 1) * stride + k_eff - size, 0)
    return total // 2, total - total // 2


def resolve_padding(padding, in_hw: tuple[int, int], k_eff: tuple[int, int], stride: tuple[int, int]) -> Pads:
    """Padding setting (int, pair, 'valid', 'same') as explicit (top, bottom, left, right)."""
    if padding == "valid":
        return (0, 0, 0, 0)
    if padding == "same":
        top, bottom = same_padding(in_hw[0], k_eff[0], stride[0])
        left, right = same_padding(in_hw[1], k_eff[1], stride[1])
        return (top, bottom, left, right)
    if isinstance(padding, (list, tuple)):
        ph, pw = int(padding[0]), int(padding[1])
    else:
        ph = pw = int(padding)
    return (ph, ph, pw, pw)


def output_size(size: int, pad_total: int, k_eff: int, stride: int) -> int:
    """floor((size + pad - k_eff) / stride) + 1, as PyTorch."""
    return (size + pad_total - k_eff) // stride + 1


class WindowGeometry(NamedTuple):
    """Where a sliding window (convolution kernel or pooling window) goes over an H×W input."""

    pads: Pads                   # top, bottom, left, right
    k_eff: tuple[int, int]       # span of the (dilated) window: d·(k−1)+1
    padded_hw: tuple[int, int]   # H + top + bottom, W + left + right
    out_hw: tuple[int, int]      # floor((padded − k_eff) / stride) + 1 per axis


def window_geometry(in_hw: tuple[int, int], kernel: tuple[int, int], stride: tuple[int, int],
                    padding, dilation: tuple[int, int] = (1, 1)) -> WindowGeometry:
    """The one geometry rule of Conv2D and the window pools.

    out = floor((n + p_before + p_after − d·(k−1) − 1) / s) + 1 per axis (PyTorch's rule);
    window (oh, ow) covers padded rows oh·s + i·d for kernel offsets i (``offset_view``).
    ``padding`` is an int, a pair, "valid" or "same". The output may be < 1: callers check.
    """
    k_eff = effective_kernel(kernel, dilation)
    pads = resolve_padding(padding, in_hw, k_eff, stride)
    padded = (in_hw[0] + pads[0] + pads[1], in_hw[1] + pads[2] + pads[3])
    out = (output_size(in_hw[0], pads[0] + pads[1], k_eff[0], stride[0]),
           output_size(in_hw[1], pads[2] + pads[3], k_eff[1], stride[1]))
    return WindowGeometry(pads, k_eff, padded, out)


# ---- scratch arrays reused from call to call ------------------------------------------------
# A layer's large temporaries (im2col columns, padded inputs, Winograd bands) are kept between
# calls instead of allocated afresh: the wide net's 58 MB column matrix was mapped anew by the
# kernel on every step (mmap above glibc's threshold: ~1,300 page faults, 7-21 ms a step).
# One set per layer instance *and* per thread, so two models, or two threads on one model,
# never share an array; at most two threads' sets are kept per layer (the training worker and
# the GUI thread), and a set is dropped as soon as a shape changes. Outputs and input
# gradients are never scratch arrays: callers may keep them.
_MAX_THREAD_SETS = 2
_workspaces: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()
_workspaces_lock = threading.Lock()


def scratch(owner, name: str, shape: tuple[int, ...], dtype, fill: float | None = None) -> np.ndarray:
    """The scratch array `name` of `owner` for this thread, (re)allocated when shape or dtype changed.

    ``fill`` sets the value of a *newly allocated* array (e.g. the zero border of a padded
    input, which later calls leave untouched); a reused array keeps whatever it holds.
    """
    thread = threading.get_ident()
    dtype = np.dtype(dtype)
    with _workspaces_lock:
        sets = _workspaces.get(owner)
        if sets is None:
            sets = _workspaces[owner] = OrderedDict()
        arrays = sets.get(thread)
        if arrays is None:
            arrays = sets[thread] = {}
            while len(sets) > _MAX_THREAD_SETS:
                sets.popitem(last=False)  # arrays still in use elsewhere stay alive through their references
        sets.move_to_end(thread)
        array = arrays.get(name)
        if array is None or array.shape != tuple(shape) or array.dtype != dtype:
            array = np.empty(shape, dtype) if fill is None else np.full(shape, fill, dtype)
            arrays[name] = array
    return array


def release(owner) -> None:
    """Drop every scratch array of `owner` (all threads)."""
    with _workspaces_lock:
        _workspaces.pop(owner, None)


def scratch_bytes(owner) -> int:
    """Bytes held in `owner`'s scratch arrays (all threads)."""
    with _workspaces_lock:
        sets = _workspaces.get(owner, {})
        return int(sum(a.nbytes for arrays in sets.values() for a in arrays.values()))


def unused_lines(padded_size: int, k_eff: int, stride: int) -> int:
    """Trailing rows (or columns) of the padded input that no window reaches (the floor above drops them)."""
    return (padded_size - k_eff) % stride if padded_size >= k_eff else 0


def batch_last(shape: tuple[int, int, int, int], dtype, fill: float | None = None) -> np.ndarray:
    """A new NCHW-shaped array stored batch-last (memory order C, H, W, N)."""
    n, c, h, w = shape
    out = np.empty((c, h, w, n), dtype=dtype) if fill is None else np.full((c, h, w, n), fill, dtype=dtype)
    return out.transpose(3, 0, 1, 2)


def pad_nchw(x: np.ndarray, pads: Pads, value: float = 0.0) -> np.ndarray:
    """Pad H and W of an NCHW array (returns x itself when there is nothing to pad)."""
    top, bottom, left, right = pads
    if not (top or bottom or left or right):
        return x
    n, c, h, w = x.shape
    out = batch_last((n, c, h + top + bottom, w + left + right), x.dtype, fill=value)
    out[:, :, top : top + h, left : left + w] = x
    return out


def as_batch_last(x: np.ndarray) -> np.ndarray:
    """(C, H, W, N) view of an NCHW-shaped array (free; contiguous when x is stored batch-last)."""
    return x.transpose(1, 2, 3, 0)


def padded_batch_last(owner, name: str, x: np.ndarray, pads: Pads, value: float = 0.0,
                      size: tuple[int, int] | None = None) -> np.ndarray:
    """x (NCHW-shaped) padded into `owner`'s scratch array (C, Hp, Wp, N), Hp×Wp = size or the padded size.

    Only the interior is written on each call: the border (and any extra rows/columns up to
    ``size``) keeps the pad value it got when the array was allocated.
    """
    n, c, h, w = x.shape
    top, bottom, left, right = pads
    hp, wp = size if size is not None else (h + top + bottom, w + left + right)
    if (hp, wp) == (h, w) and x.transpose(1, 2, 3, 0).flags.c_contiguous:
        return x.transpose(1, 2, 3, 0)  # nothing to pad and already batch-last: no copy at all
    xp = scratch(owner, name, (c, hp, wp, n), x.dtype, fill=value)
    xp[:, top : top + h, left : left + w] = x.transpose(1, 2, 3, 0)
    return xp


def memory_flat(*arrays: np.ndarray) -> list[np.ndarray] | None:
    """1-D views of arrays that are each one contiguous block in the *same* axis order, else None.

    Lets element-wise passes run over raw memory (and be cut into blocks for two threads)
    whatever the order is: NCHW, or the batch-last order convolutions produce.
    """
    first = arrays[0]
    order = tuple(int(a) for a in np.argsort(first.strides, kind="stable")[::-1])
    flats = []
    for array in arrays:
        if array.shape != first.shape:
            return None
        view = array.transpose(order)
        if not view.flags.c_contiguous:
            return None
        flats.append(view.reshape(-1))
    return flats


def windows(xp: np.ndarray, k_eff: tuple[int, int], stride: tuple[int, int], dilation: tuple[int, int]) -> np.ndarray:
    """View (N, C, OH, OW, kh, kw) of every window of a padded NCHW array."""
    view = sliding_window_view(xp, k_eff, axis=(2, 3))
    return view[:, :, :: stride[0], :: stride[1], :: dilation[0], :: dilation[1]]


def offset_view(xp: np.ndarray, i: int, j: int, out_hw: tuple[int, int], stride: tuple[int, int],
                dilation: tuple[int, int] = (1, 1)) -> np.ndarray:
    """(C, OH, OW, N) view of the input element at kernel offset (i, j) of every window."""
    rows = slice(i * dilation[0], i * dilation[0] + stride[0] * (out_hw[0] - 1) + 1, stride[0])
    cols = slice(j * dilation[1], j * dilation[1] + stride[1] * (out_hw[1] - 1) + 1, stride[1])
    return xp.transpose(1, 2, 3, 0)[:, rows, cols, :]


def scatter_windows(dcols: np.ndarray, padded_shape: tuple[int, int, int, int], stride: tuple[int, int],
                    dilation: tuple[int, int]) -> np.ndarray:
    """Adjoint of im2col: add window gradients (C, kh, kw, OH, OW, N) into a padded NCHW gradient."""
    c, kh, kw, oh, ow, n = dcols.shape
    dxp = batch_last(padded_shape, dcols.dtype, fill=0)
    non_overlapping = stride[0] >= dilation[0] * (kh - 1) + 1 and stride[1] >= dilation[1] * (kw - 1) + 1
    for i in range(kh):
        for j in range(kw):
            target = offset_view(dxp, i, j, (oh, ow), stride, dilation)
            if non_overlapping:
                target[...] = dcols[:, i, j]
            else:
                target += dcols[:, i, j]
    return dxp


def col2im(dcols: np.ndarray, in_hw: tuple[int, int], pads: Pads, stride: tuple[int, int],
           dilation: tuple[int, int]) -> np.ndarray:
    """Adjoint of im2col straight into a new unpadded (C, H, W, N) gradient (no padded copy, no crop).

    dcols is (C, kh, kw, OH, OW, N). Each offset adds into the part of the input it reaches;
    an offset that reaches every input pixel once (the centre tap of a "same" convolution)
    is written first instead of zero-filling: 9-13 ms of col2im became ~6 ms on the wide net.
    """
    c, kh, kw, oh, ow, n = dcols.shape
    h, w = in_hw
    top, left = pads[0], pads[2]

    def span(offset, count, size, before, step):
        # output positions o with 0 <= offset + step*o - before < size
        first = max(0, -(-(before - offset) // step))
        last = min(count - 1, (size - 1 + before - offset) // step)
        return first, last, offset + step * first - before

    parts = []
    for i in range(kh):
        r_first, r_last, r0 = span(i * dilation[0], oh, h, top, stride[0])
        for j in range(kw):
            c_first, c_last, c0 = span(j * dilation[1], ow, w, left, stride[1])
            if r_last < r_first or c_last < c_first:
                continue  # this offset only ever sees padding
            rows = slice(r0, r0 + stride[0] * (r_last - r_first) + 1, stride[0])
            cols = slice(c0, c0 + stride[1] * (c_last - c_first) + 1, stride[1])
            source = dcols[:, i, j, r_first : r_last + 1, c_first : c_last + 1]
            covers_all = (r0, c0) == (0, 0) and source.shape[1:3] == (h, w) and stride == (1, 1)
            parts.append((not covers_all, rows, cols, source))
    parts.sort(key=lambda part: part[0])  # a covering offset first
    covered = bool(parts) and not parts[0][0]
    dx = (np.empty if covered else np.zeros)((c, h, w, n), dtype=dcols.dtype)

    def scatter(c0: int, c1: int) -> None:  # channel blocks: one per thread
        for k, (_, rows, cols, source) in enumerate(parts):
            if k == 0 and covered:
                np.copyto(dx[c0:c1], source[c0:c1])
            else:
                dx[c0:c1, rows, cols] += source[c0:c1]

    run_blocks(scatter, c, dx.size)
    return dx


def crop(xp: np.ndarray, pads: Pads, hw: tuple[int, int]) -> np.ndarray:
    top, _, left, _ = pads
    return xp[:, :, top : top + hw[0], left : left + hw[1]]
