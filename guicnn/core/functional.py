"""Vectorised building blocks shared by the convolution and pooling layers.

Arrays are NCHW-shaped everywhere, but convolution and pooling *store* their results in
memory order C, H, W, N (returned as a transposed view), as cuda-convnet did. In that order
im2col is one matrix product ``(F, C·kh·kw) @ (C·kh·kw, OH·OW·N)`` whose result needs no
transpose, and each window offset of a whole batch is a few long contiguous runs
(OW·N values), so gathering and scattering windows costs little more than a memcpy.
Gradients are scattered back with one strided add per kernel offset over the whole
batch, never per pixel.
"""

from __future__ import annotations

import numpy as np
from numpy.lib.stride_tricks import sliding_window_view

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


def im2col(xp: np.ndarray, kernel: tuple[int, int], stride: tuple[int, int], dilation: tuple[int, int]) -> np.ndarray:
    """Columns (C·kh·kw, OH·OW·N) of a padded NCHW input: one copy, rows ordered like conv weights."""
    win = windows(xp, effective_kernel(kernel, dilation), stride, dilation)
    n, c, oh, ow, kh, kw = win.shape
    return np.ascontiguousarray(win.transpose(1, 4, 5, 2, 3, 0)).reshape(c * kh * kw, oh * ow * n)


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


def crop(xp: np.ndarray, pads: Pads, hw: tuple[int, int]) -> np.ndarray:
    top, _, left, _ = pads
    return xp[:, :, top : top + hw[0], left : left + hw[1]]
