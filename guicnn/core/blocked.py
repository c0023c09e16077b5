"""Row-blocked im2col convolution on batch-last (C, H, W, N) arrays, for every kernel, stride and dilation.

im2col as one whole matrix ``cols (C·kh·kw, OH·OW·N)`` followed by one product streams tens
of MB through memory twice (written by the gather, read back by BLAS) and hands OpenBLAS a
product whose operand is far larger than the cache. Here the output is cut into blocks of
whole output rows (about ``BLOCK_BYTES`` each) and each block is gathered with
*one* strided copy and multiplied while it is still in the L2 cache. With a bias the columns
get a last row of ones (written once, when the scratch block is made) and the weights a last
column, the bias: the product adds it (inference of 32→64 channels at 28x28: 27.6 → 24.7 ms,
no separate pass over the output), and in backward the same row sums the bias gradient.

- **Forward:** block by block, ``out[:, rows] = W @ cols_block``. Training keeps the blocks of
  a small column matrix for the weight gradient (block-major, so each stays one contiguous
  matrix); a large one is gathered again in backward.
- **Weight gradient:** ``Σ_blocks (cols_block @ dy_blockᵀ)ᵀ``: OpenBLAS runs this orientation
  1.2-1.6x faster than ``dy @ colsᵀ`` on these long, thin products.
- **Input gradient:** at stride 1 with no more filters than channels, the correlation of the
  zero-padded output gradient with the flipped, transposed kernel
  (``dx = conv(pad(dy), flip(W)ᵀ)``) — the same blocked forward again, with no scatter-adds
  (``flipped_applies`` has the rule and its figures). Otherwise the columns' gradient
  ``Wᵀ @ dy`` is scattered back with ``functional.col2im``.

Blocks are independent, so on two threads each thread takes a contiguous half of them (its
own scratch block; copies and products release the GIL). Every value is computed by the same
operations whatever the thread count; the weight gradient is always summed as two fixed
halves, so one and two threads give bit-identical results.

Figures (one thread, batch 64, forward + backward, same run, against the whole-matrix im2col
or the Winograd path it replaced) are in the comments below, above ``winograd.MIN_CHANNELS``
and in the README's Speed section (``benchmarks/bench_layers.py`` measures every layer).
"""

from __future__ import annotations

import numpy as np
from numpy.lib.stride_tricks import as_strided

from .functional import Pads, col2im, scratch
from .parallel import blocks, matmul, run_product_blocks

# Bytes of one gathered block (C·kh·kw rows × rows·OW·N columns of float32): small enough to
# stay in the L2 cache while BLAS reads it, large enough that thin products (few channels)
# still get long rows (16→16 channels at 32x32, batch 64: forward 11.7 ms with Winograd,
# 12.3 ms as one whole im2col product, 10.3 ms in blocks; one thread).
BLOCK_BYTES = 2 << 20
# A whole column matrix up to this size is kept from forward for the weight gradient (in cache,
# writing it costs little); larger ones are gathered again block by block (see ``convolve``).
# Kept, LeNet-5's convolutions (5 and 3.8 MB) took 1.68 → 1.46 ms and 2.98 → 2.50 ms forward +
# backward (one thread); gathered again, the wide net's 58 MB one saved 8 ms a step.
KEEP_BYTES = 8 << 20
# Fewer channels than this take the columns-gradient route for the input gradient: the
# flipped correlation's product has as many rows as the layer has input channels, and with
# 1-3 channels it is too thin for BLAS (1→32 at 28x28: forward + backward 3.9 ms → 9.1 ms).
MIN_FLIPPED_CHANNELS = 8
# Below this many output values a layer stays on the calling thread.
MIN_PARALLEL_VALUES = 100_000


def row_blocks(out_rows: int, row_columns: int, taps: int, itemsize: int = 4) -> list[tuple[int, int]]:
    """[r0, r1) output-row ranges of the blocks: whole rows, ~BLOCK_BYTES each, an even count when > 1.

    ``taps`` is the height of the column matrix (C·kh·kw); an output row is ``row_columns``
    (OW·N) columns of it. The count is even so that two threads get equal halves; it
    depends on the shapes only, so the result never depends on the thread count.
    """
    per_row = max(1, taps * row_columns * itemsize)
    count = max(1, -(-out_rows * per_row // BLOCK_BYTES))
    if out_rows >= 2:
        count = max(2, count + count % 2)
    return blocks(out_rows, min(count, out_rows))


def window_block(xp: np.ndarray, kernel: tuple[int, int], stride: tuple[int, int], dilation: tuple[int, int],
                 r0: int, r1: int, out_w: int) -> np.ndarray:
    """(C, kh, kw, rows, OW, N) strided view: every window of output rows [r0, r1) of padded xp (C, Hp, Wp, N).

    Element (c, i, j, r, o, n) is xp[c, (r0 + r)·sh + i·dh, o·sw + j·dw, n], the im2col
    entry of tap (c, i, j) for output (r0 + r, o) of sample n. Needs xp's last axis contiguous
    (a free view, copied once into a block).
    """
    c, _, _, n = xp.shape
    sc, sh, sw, sn = xp.strides
    return as_strided(xp[:, r0 * stride[0]:], shape=(c, kernel[0], kernel[1], r1 - r0, out_w, n),
                      strides=(sc, sh * dilation[0], sw * dilation[1], sh * stride[0], sw * stride[1], sn),
                      writeable=False)


def convolve(owner, xp: np.ndarray, weight: np.ndarray, out_hw: tuple[int, int], stride: tuple[int, int],
             dilation: tuple[int, int], bias: np.ndarray | None = None, keep: bool = False,
             name: str = "block") -> tuple[np.ndarray, np.ndarray | None]:
    """Convolution of padded batch-last xp (C, Hp, Wp, N): (new (F, OH, OW, N) array, kept blocks or None).

    Each thread gathers into its own block (``owner``'s scratch ``{name}_col``), reused from
    call to call. With ``keep``, a column matrix of at most KEEP_BYTES is kept instead
    (block-major, (blocks, C·kh·kw, rows·OW·N)) for ``weight_gradient``; larger ones are not:
    ``weight_gradient`` gathers them again from xp, which costs less than writing them all
    out here (32→64 channels at 28x28: forward 32.1 ms keeping a 58 MB matrix, 24.5 ms not;
    backward the same ±1 ms).
    """
    c, _, _, n = xp.shape
    f, _, kh, kw = weight.shape
    oh, ow = out_hw
    k = c * kh * kw
    spans = row_blocks(oh, ow * n, k, xp.itemsize)
    width = max(r1 - r0 for r0, r1 in spans) * ow * n
    rows = k + (bias is not None)  # with a bias, a last row of ones: the product adds it
    w_rows = weight.reshape(f, k) if bias is None else np.concatenate([weight.reshape(f, k), bias[:, None]], axis=1)
    out = np.empty((f, oh, ow, n), dtype=xp.dtype)
    out_rows = out.reshape(f, oh, ow * n)
    kept = None
    if keep and len(spans) * rows * width * xp.itemsize <= KEEP_BYTES:
        kept = scratch(owner, f"{name}_kept", (len(spans), rows, width), xp.dtype, fill=1.0)

    def work(first: int, stop: int) -> None:
        own = None if kept is not None else scratch(owner, f"{name}_col", (rows, width), xp.dtype, fill=1.0)
        for b in range(first, stop):
            r0, r1 = spans[b]
            size = (r1 - r0) * ow * n
            cols = (kept[b] if kept is not None else own)[:, :size]
            # the gather writes the first k rows; the row of ones stays from allocation
            np.copyto(cols[:k].reshape(c, kh, kw, r1 - r0, ow, n),
                      window_block(xp, (kh, kw), stride, dilation, r0, r1, ow))
            np.matmul(w_rows, cols, out=out_rows[:, r0:r1].reshape(f, size))  # a view: rows of OW·N values

    run_product_blocks(work, len(spans), out.size, MIN_PARALLEL_VALUES)
    return out, kept


def weight_gradient(owner, xp: np.ndarray, kernel: tuple[int, int], stride: tuple[int, int],
                    dilation: tuple[int, int], dy_last: np.ndarray, kept: np.ndarray | None = None,
                    bias: bool = False) -> tuple[np.ndarray, np.ndarray | None]:
    """(weight gradient (F, C·kh·kw), bias gradient (F,) or None) from padded input xp and the
    (F, OH, OW, N) output gradient; ``bias`` as the forward ``convolve`` had one.

    Each block of columns is the one ``convolve`` kept, or gathered again from xp and
    multiplied while in cache; with a bias, the row of ones gives the bias gradient in the same
    product. Summed as two fixed halves of the blocks (run on two threads when allowed), so
    the result does not depend on the thread count.
    """
    f, oh, ow, n = dy_last.shape
    c = xp.shape[0]
    k = c * kernel[0] * kernel[1]
    rows = k + bias
    dy_rows = np.ascontiguousarray(dy_last).reshape(f, oh, ow * n)
    spans = row_blocks(oh, ow * n, k, xp.itemsize)
    halves = blocks(len(spans), 2)
    sums: list = [None] * len(halves)

    def work(first: int, stop: int) -> None:  # whole halves: one per thread, or both in turn
        own = None if kept is not None else scratch(owner, "block_col",
                                                    (rows, max(r1 - r0 for r0, r1 in spans) * ow * n), xp.dtype,
                                                    fill=1.0)
        for h in range(first, stop):
            total = None
            for b in range(*halves[h]):
                r0, r1 = spans[b]
                size = (r1 - r0) * ow * n
                if kept is not None:
                    cols = kept[b, :, :size]
                else:
                    cols = own[:, :size]
                    np.copyto(cols[:k].reshape(c, kernel[0], kernel[1], r1 - r0, ow, n),
                              window_block(xp, kernel, stride, dilation, r0, r1, ow))
                part = np.matmul(cols, dy_rows[:, r0:r1].reshape(f, size).T)  # (C·kh·kw [+ 1], F)
                if total is None:
                    total = part
                else:
                    total += part
            sums[h] = total

    run_product_blocks(work, len(halves), dy_last.size, MIN_PARALLEL_VALUES)
    total = sums[0]
    for extra in sums[1:]:
        total += extra
    return total[:k].T, (total[k].copy() if bias else None)


def flipped_applies(channels: int, filters: int, stride: tuple[int, int], pads: Pads, k_eff: tuple[int, int]) -> bool:
    """Whether the input gradient is the flipped correlation: stride 1, no padding beyond the
    window, and no more filters than input channels.

    The flipped product is (C × F·kh·kw) @ (F·kh·kw × columns), the columns' gradient one
    (C·kh·kw × F) @ (F × columns) plus a scatter over C·kh·kw rows; the flops are equal,
    but the scatter grows with C and the flipped product thins out with few C (backward input
    gradient, one thread, batch 64: 32→16 at 32x32 33.2 → 10.8 ms, 16→16 14.1 → 8.4 ms,
    64→64 at 14x14 12.4 vs 13.6 ms, 32→64 at 28x28 36.2 vs 43.8 ms, 16→64 4.3 vs 9.2 ms).
    """
    top, bottom, left, right = pads
    return (tuple(stride) == (1, 1) and MIN_FLIPPED_CHANNELS <= channels and filters <= channels
            and max(top, bottom) <= k_eff[0] - 1 and max(left, right) <= k_eff[1] - 1)


def input_gradient(owner, dy_last: np.ndarray, weight: np.ndarray, in_hw: tuple[int, int], pads: Pads,
                   stride: tuple[int, int], dilation: tuple[int, int]) -> np.ndarray:
    """The (C, H, W, N) input gradient, a new array, from the (F, OH, OW, N) output gradient."""
    f, oh, ow, n = dy_last.shape
    c, kh, kw = weight.shape[1:]
    h, w = in_hw
    k_eff = (dilation[0] * (kh - 1) + 1, dilation[1] * (kw - 1) + 1)
    if flipped_applies(c, f, stride, pads, k_eff):
        # dx[c, y, x] = Σ W[f, c, i, j] dy[f, y + top − i·dh, x + left − j·dw]: a stride-1
        # correlation of dy, padded by k_eff − 1 − pad, with the kernel flipped and transposed.
        top, left = k_eff[0] - 1 - pads[0], k_eff[1] - 1 - pads[2]
        dyp = scratch(owner, "flipped_dy", (f, h + k_eff[0] - 1, w + k_eff[1] - 1, n), dy_last.dtype, fill=0.0)
        dyp[:, top : top + oh, left : left + ow] = dy_last  # the border stays zero from allocation
        flipped = np.ascontiguousarray(weight[:, :, ::-1, ::-1].transpose(1, 0, 2, 3))
        return convolve(owner, dyp, flipped, (h, w), (1, 1), dilation, name="flipped")[0]
    dy_rows = np.ascontiguousarray(dy_last).reshape(f, -1)
    dcols = scratch(owner, "dcols", (c * kh * kw, dy_rows.shape[1]), dy_last.dtype)
    matmul(weight.reshape(f, -1).T, dy_rows, out=dcols)
    return col2im(dcols.reshape(c, kh, kw, oh, ow, n), in_hw, pads, stride, dilation)
