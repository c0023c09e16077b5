"""Vectorised building blocks shared by the convolution and pooling layers.

Windows are taken with ``sliding_window_view`` (no copy); gradients are scattered back
with one strided add per kernel offset (kh*kw adds over whole batches, never per pixel).
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


def pad_nchw(x: np.ndarray, pads: Pads, value: float = 0.0) -> np.ndarray:
    """Pad H and W of an NCHW array (returns x itself when there is nothing to pad)."""
    top, bottom, left, right = pads
    if not (top or bottom or left or right):
        return x
    n, c, h, w = x.shape
    # Allocate in x's memory order so channel-last buffers stay channel-last.
    out = np.empty((n, h + top + bottom, w + left + right, c), dtype=x.dtype).transpose(0, 3, 1, 2)
    out.fill(value)
    out[:, :, top : top + h, left : left + w] = x
    return out


def windows(xp: np.ndarray, k_eff: tuple[int, int], stride: tuple[int, int], dilation: tuple[int, int]) -> np.ndarray:
    """View (N, C, OH, OW, kh, kw) of every window of a padded NCHW array."""
    view = sliding_window_view(xp, k_eff, axis=(2, 3))
    return view[:, :, :: stride[0], :: stride[1], :: dilation[0], :: dilation[1]]


def scatter_windows(
    dwin: np.ndarray,
    padded_hw: tuple[int, int],
    stride: tuple[int, int],
    dilation: tuple[int, int],
) -> np.ndarray:
    """Adjoint of `windows`: add window gradients (N, OH, OW, C, kh, kw) back into a padded input.

    Returns an array shaped (N, C, Hp, Wp) whose memory is channel-last.
    """
    n, oh, ow, c, kh, kw = dwin.shape
    sh, sw = stride
    dh, dw = dilation
    dxp = np.zeros((n, padded_hw[0], padded_hw[1], c), dtype=dwin.dtype)
    non_overlapping = sh >= dh * (kh - 1) + 1 and sw >= dw * (kw - 1) + 1
    for i in range(kh):
        rows = slice(i * dh, i * dh + sh * (oh - 1) + 1, sh)
        for j in range(kw):
            cols = slice(j * dw, j * dw + sw * (ow - 1) + 1, sw)
            if non_overlapping:
                dxp[:, rows, cols, :] = dwin[:, :, :, :, i, j]
            else:
                dxp[:, rows, cols, :] += dwin[:, :, :, :, i, j]
    return dxp.transpose(0, 3, 1, 2)


def crop(xp: np.ndarray, pads: Pads, hw: tuple[int, int]) -> np.ndarray:
    top, _, left, _ = pads
    return xp[:, :, top : top + hw[0], left : left + hw[1]]
