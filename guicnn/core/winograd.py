"""Winograd F(2x2, 3x3) convolution: 3x3, stride 1, no dilation, on batch-last (C, H, W, N) arrays.

Each 2x2 output tile comes from a 4x4 input tile: Y = Aᵀ[(G g Gᵀ) ⊙ (Bᵀ d B)]A. The products
between channels become 16 matrix products ``U[ξ] (F×C) @ V[ξ] (C×tiles·N)`` with 16/36 of
im2col's multiplications (2.25x fewer). Backward uses the exact adjoints of the same linear
maps, so gradients equal im2col's up to float rounding (tests compare both paths and PyTorch).

Work is done one band of tile rows at a time (a few MB), so each band's transforms and
products stay in the L2 cache instead of streaming 16 full-size arrays through memory:
on the wide net's 32→64 28x28 layer that took forward from 37 ms (im2col) to ~18 ms.
Everything is written into reused scratch arrays (see ``functional.scratch``).
"""

from __future__ import annotations

import numpy as np

from .functional import scratch
from .parallel import products_on_pool, run_product_blocks, run_tasks

_G = np.array([[1.0, 0.0, 0.0], [0.5, 0.5, 0.5], [0.5, -0.5, 0.5], [0.0, 0.0, 1.0]])

# Where Winograd is chosen (measured against the row-blocked im2col of ``guicnn.core.blocked``,
# forward + backward at batch 64, same run, ms, Winograd vs blocks, 1 thread / 2 threads):
#   chosen      128→128 28x28 410 vs 463 / 239 vs 256   128→128 14x14 103 vs 118 / 65 vs 63
#               64→64 28x28 142 vs 153 / 88 vs 82
#   not chosen  32→64 28x28 95.5 vs 96.2 / 60 vs 49     64→64 14x14 41.6 vs 42.6 / 27.3 vs 21.8
#               32→32 32x32 83.5 vs 72.0 / 54 vs 41     16→16 32x32 34.3 vs 28.3 / 28.9 vs 17.2
# With fewer than 64 channels the 16 products are too thin to pay for the transforms, and
# their many small NumPy calls hold the GIL, so a second thread helps Winograd far less.
MIN_CHANNELS = 64
MIN_FILTERS = 64
MIN_OUTPUT = 16
# From this many channels and filters 12x12 outputs are enough.
MANY_CHANNELS = 128
SMALL_OUTPUT = 12
# Bands go to two threads from this output size on: each thread gets half a layer, so one
# hand-over per call pays off much earlier than for the element-wise passes.
MIN_PARALLEL_VALUES = 200_000
# Keep every band's V from forward for backward (True), or transform the bands again in
# backward from the padded input (False: 16-33 MB less per layer, but forward + backward
# 2-5 ms slower on 16→16 32x32 and 64→64 14x14, 9 ms faster on 32→64 28x28; one thread).
KEEP_TRANSFORMED_INPUT = True


def applicable(kernel, stride, dilation, channels: int, filters: int, out_hw: tuple[int, int]) -> bool:
    """Whether a convolution takes the Winograd path (chosen per layer shape, see MIN_CHANNELS)."""
    if not (tuple(kernel) == (3, 3) and tuple(stride) == (1, 1) and tuple(dilation) == (1, 1)):
        return False
    if channels < MIN_CHANNELS or filters < MIN_FILTERS:
        return False
    least = MIN_OUTPUT if min(channels, filters) < MANY_CHANNELS else SMALL_OUTPUT
    return min(out_hw) >= least


def tiles(out_hw: tuple[int, int]) -> tuple[int, int]:
    """Number of 2x2 output tiles per axis (the last may hang over an odd output)."""
    return (out_hw[0] + 1) // 2, (out_hw[1] + 1) // 2


def band_rows(tile_cols: int, n: int, channels: int, filters: int) -> int:
    """Tile rows per band: the band's V and M (16 x (C + F) x cols) near 1.5 MB (L2 is 2 MB here)."""
    per_row = 16 * (channels + filters) * tile_cols * n * 4
    return max(1, int(1.5e6 // max(per_row, 1)))


def weight_transform(weight: np.ndarray) -> np.ndarray:
    """U = G g Gᵀ for every (filter, channel): (16, F, C), contiguous."""
    g = _G.astype(weight.dtype)
    u = np.einsum("ai,fcij,bj->abfc", g, weight, g, optimize=True)
    return np.ascontiguousarray(u.reshape(16, weight.shape[0], weight.shape[1]))


def weight_transform_adjoint(du: np.ndarray, kernel_shape: tuple[int, int, int, int]) -> np.ndarray:
    """Gradient of the weights from the gradient of U: Gᵀ dU G, (F, C, 3, 3)."""
    f, c = kernel_shape[:2]
    g = _G.astype(du.dtype)
    return np.einsum("ai,abfc,bj->fcij", g, du.reshape(4, 4, f, c), g, optimize=True)


def _input_transform(xp: np.ndarray, row0: int, rows: int, tile_cols: int, out: np.ndarray,
                     tmp: np.ndarray) -> None:
    """V = Bᵀ d B of tile rows [row0, row0+rows) of padded xp (C, Hp, Wp, N) into out (4, 4, C, rows, tw, N).

    tmp is (4, C, rows, 2, Wp/2, N): the row combinations are stored with even and odd columns
    apart, so that each of the 16 column combinations reads two runs of tw·N contiguous values
    instead of tw runs of N (input transform ~1.5x faster).
    """
    base = 2 * row0
    c, _, wp, n = xp.shape

    def rows_at(i):  # (C, rows, Wp/2, 2, N): column pairs, a free view
        return xp[:, base + i : base + i + 2 * rows - 1 : 2].reshape(c, rows, wp // 2, 2, n)

    def parted(a):  # tmp[a] seen as (C, rows, Wp/2, 2, N), to write the pairs apart
        return tmp[a].transpose(0, 1, 3, 2, 4)

    # Bᵀ = [[1, 0, -1, 0], [0, 1, 1, 0], [0, -1, 1, 0], [0, 1, 0, -1]], first along rows (whole width) ...
    np.subtract(rows_at(0), rows_at(2), out=parted(0))
    np.add(rows_at(1), rows_at(2), out=parted(1))
    np.subtract(rows_at(2), rows_at(1), out=parted(2))
    np.subtract(rows_at(1), rows_at(3), out=parted(3))
    # ... then along columns (column 2s+j of tile s is pair s + j//2, parity j%2), written
    # straight into the product's operand.
    tw = tile_cols
    for a in range(4):
        r = tmp[a]
        col0, col1, col2, col3 = r[:, :, 0, 0:tw], r[:, :, 1, 0:tw], r[:, :, 0, 1 : tw + 1], r[:, :, 1, 1 : tw + 1]
        np.subtract(col0, col2, out=out[a, 0])
        np.add(col1, col2, out=out[a, 1])
        np.subtract(col2, col1, out=out[a, 2])
        np.subtract(col1, col3, out=out[a, 3])


def _output_transform(m: np.ndarray, out: np.ndarray, row0: int, tmp: np.ndarray) -> None:
    """Y = Aᵀ M A of a band m (4, 4, F, rows, tw, N) into output rows 2·row0.. of out (F, 2th, 2tw, N)."""
    rows = m.shape[3]
    # Aᵀ = [[1, 1, 1, 0], [0, 1, -1, -1]]
    np.add(m[0], m[1], out=tmp[0])
    tmp[0] += m[2]
    np.subtract(m[1], m[2], out=tmp[1])
    tmp[1] -= m[3]
    for a in range(2):
        s = tmp[a]
        band = out[:, 2 * row0 + a : 2 * (row0 + rows) : 2]
        even, odd = band[:, :, 0::2], band[:, :, 1::2]
        np.add(s[0], s[1], out=even)
        even += s[2]
        np.subtract(s[1], s[2], out=odd)
        odd -= s[3]


def forward(owner, xp: np.ndarray, weight: np.ndarray, out_hw: tuple[int, int],
            keep: bool) -> tuple[np.ndarray, np.ndarray | None]:
    """Convolution of padded xp (C, 2th+2, 2tw+2, N): ((F, OH, OW, N) batch-last new array, V).

    With ``keep`` V holds every band's transformed input, for ``backward`` (else None). Bands
    are independent: with two threads allowed, each thread takes half of them (its own
    scratch arrays), transforms and products included.
    """
    c, _, _, n = xp.shape
    f = weight.shape[0]
    th, tw = tiles(out_hw)
    rows = min(band_rows(tw, n, c, f), th)
    u = weight_transform(weight)
    out = np.empty((f, 2 * th, 2 * tw, n), dtype=xp.dtype)
    bands = -(-th // rows)
    v_all = scratch(owner, "winograd_v", (bands, 4, 4, c, rows, tw, n), xp.dtype) if keep else None

    def run(first: int, stop: int) -> None:
        m = scratch(owner, "winograd_m", (16, f, rows * tw * n), xp.dtype)
        tmp_in = scratch(owner, "winograd_rows", (4, c, rows, 2, xp.shape[2] // 2, n), xp.dtype)
        tmp_out = scratch(owner, "winograd_cols", (2, 4, f, rows, tw, n), xp.dtype)
        v_band = None if keep else scratch(owner, "winograd_band", (4, 4, c, rows, tw, n), xp.dtype)
        for band in range(first, stop):
            row0 = band * rows
            count = min(rows, th - row0)
            v = v_all[band] if keep else v_band
            if count < rows:  # last, shorter band: work on the leading part (still contiguous per ξ)
                v = v.reshape(-1)[: 16 * c * count * tw * n].reshape(4, 4, c, count, tw, n)
            _input_transform(xp, row0, count, tw, v, tmp_in[:, :, :count])
            mb = m.reshape(-1)[: 16 * f * count * tw * n].reshape(16, f, count * tw * n)
            np.matmul(u, v.reshape(16, c, count * tw * n), out=mb)
            _output_transform(mb.reshape(4, 4, f, count, tw, n), out, row0, tmp_out[:, :, :, :count])

    run_product_blocks(run, bands, out.size, MIN_PARALLEL_VALUES)  # halves of the bands on two threads
    return out[:, : out_hw[0], : out_hw[1]], v_all


def backward(owner, dy_last: np.ndarray, weight: np.ndarray, v_all: np.ndarray,
             padded_shape: tuple[int, int, int, int], need_input_grad: bool) -> tuple[np.ndarray, np.ndarray | None]:
    """(weight gradient (F, C, 3, 3), padded input gradient (C, 2th+2, 2, tw+1, N), columns parted, or None).

    ``input_gradient`` turns the latter into the (C, H, W, N) input gradient.

    v_all is the V of ``forward(keep=True)``, or the padded input itself (then each band's V
    is computed again here); dy_last is (F, OH, OW, N). On two threads the
    bands before and after a middle band run at once (neighbouring bands add into two shared
    input rows, so the middle band, which touches both halves, runs after them).
    """
    f, oh, ow, n = dy_last.shape
    c = weight.shape[1]
    th, tw = tiles((oh, ow))
    recompute = v_all.ndim == 4  # given the padded input: transform each band again here
    if recompute:
        xp = v_all
        rows = min(band_rows(tw, n, c, f), th)
        bands = -(-th // rows)
    else:
        bands, rows = v_all.shape[0], v_all.shape[4]
    if (oh, ow) != (2 * th, 2 * tw):  # odd output: zero rows/columns for the overhanging tile
        padded_dy = scratch(owner, "winograd_dy", (f, 2 * th, 2 * tw, n), dy_last.dtype, fill=0.0)
        padded_dy[:, :oh, :ow] = dy_last
        dy_last = padded_dy
    u_t = weight_transform(weight).transpose(0, 2, 1) if need_input_grad else None
    cp, hp, wp, np_ = padded_shape
    dxp = np.zeros((cp, hp, 2, wp // 2, np_), dtype=dy_last.dtype) if need_input_grad else None

    def run(first: int, stop: int, du: np.ndarray) -> None:
        du_band = np.empty_like(du)
        dm = scratch(owner, "winograd_m", (16, f, rows * tw * n), dy_last.dtype)
        q = scratch(owner, "winograd_q", (2, f, rows, 2 * tw, n), dy_last.dtype)
        if need_input_grad:
            dv = scratch(owner, "winograd_dv", (16, c, rows * tw * n), dy_last.dtype)
            g = scratch(owner, "winograd_g", (4, c, rows, tw, n), dy_last.dtype)
        if recompute:
            v_band = scratch(owner, "winograd_band", (4, 4, c, rows, tw, n), dy_last.dtype)
            tmp_in = scratch(owner, "winograd_rows", (4, c, rows, 2, xp.shape[2] // 2, n), dy_last.dtype)
        for band in range(first, stop):
            row0 = band * rows
            count = min(rows, th - row0)
            size = count * tw * n
            if recompute:
                v = v_band.reshape(-1)[: 16 * c * size].reshape(4, 4, c, count, tw, n)
                _input_transform(xp, row0, count, tw, v, tmp_in[:, :, :count])
                v = v.reshape(16, c, size)
            else:
                v = v_all[band].reshape(-1)[: 16 * c * size].reshape(16, c, size)
            dmb = dm.reshape(-1)[: 16 * f * size].reshape(16, f, size)
            _output_adjoint(dy_last, row0, count, dmb.reshape(4, 4, f, count, tw, n), q[:, :, :count])
            np.matmul(dmb, v.transpose(0, 2, 1), out=du_band)
            du += du_band
            if need_input_grad:
                dvb = dv.reshape(-1)[: 16 * c * size].reshape(16, c, size)
                np.matmul(u_t, dmb, out=dvb)
                _input_adjoint(dvb.reshape(4, 4, c, count, tw, n), dxp, row0, g[:, :, :count])

    # The same order of additions on one thread as on two (bands before the middle, bands after
    # it, then the middle band), so both give bit-identical gradients.
    du_parts = [np.zeros((16, f, c), dtype=dy_last.dtype) for _ in range(2)]
    middle = bands // 2 if bands >= 3 else bands
    halves = [lambda: run(0, middle, du_parts[0]), lambda: run(middle + 1, bands, du_parts[1])]
    if bands >= 3 and products_on_pool() and dy_last.size >= MIN_PARALLEL_VALUES:
        run_tasks(halves)
    else:
        for half in halves:
            half()
    run(middle, min(middle + 1, bands), du_parts[0])
    return weight_transform_adjoint(du_parts[0] + du_parts[1], weight.shape), dxp


def _output_adjoint(dy: np.ndarray, row0: int, rows: int, dm: np.ndarray, q: np.ndarray) -> None:
    """dM = A dY Aᵀ for tile rows [row0, row0+rows) of dy (F, 2th, 2tw, N) into dm (4, 4, F, rows, tw, N)."""
    band = dy[:, 2 * row0 : 2 * (row0 + rows)]
    d0, d1 = band[:, 0::2], band[:, 1::2]  # output row a = 0, 1 of each tile
    # Along rows, the columns of Aᵀ are (1, 0), (1, 1), (1, -1), (0, -1): d0, d0 + d1, d0 - d1, -d1.
    np.add(d0, d1, out=q[0])
    np.subtract(d0, d1, out=q[1])
    for i, src in enumerate((d0, q[0], q[1])):
        e, o = src[:, :, 0::2], src[:, :, 1::2]  # output column b = 0, 1 of each tile
        np.copyto(dm[i, 0], e)
        np.add(e, o, out=dm[i, 1])
        np.subtract(e, o, out=dm[i, 2])
        np.negative(o, out=dm[i, 3])
    e, o = d1[:, :, 0::2], d1[:, :, 1::2]  # row 3 is -d1
    np.negative(e, out=dm[3, 0])
    np.add(e, o, out=dm[3, 1])
    np.negative(dm[3, 1], out=dm[3, 1])
    np.subtract(o, e, out=dm[3, 2])
    np.copyto(dm[3, 3], o)


def _input_adjoint(dv: np.ndarray, dxp: np.ndarray, row0: int, tmp: np.ndarray) -> None:
    """Add B dV Bᵀ of a band dv (4, 4, C, rows, tw, N) into the padded input gradient.

    dxp is (C, Hp, 2, Wp/2, N), even and odd columns apart, so every addition below runs over
    contiguous stretches of tw·N values.
    """
    rows, tw = dv.shape[3], dv.shape[4]
    # Columns of Bᵀ: i=0 (1,0,0,0), 1 (0,1,-1,1), 2 (-1,1,1,0), 3 (0,0,0,-1).
    base = 2 * row0
    for i in range(4):
        # g = Σ_i' Bᵀ[i', i] dV[i'] for this input row i, all four column taps j' at once
        g = tmp
        if i == 0:
            np.copyto(g, dv[0])
        elif i == 1:
            np.subtract(dv[1], dv[2], out=g)
            g += dv[3]
        elif i == 2:
            np.add(dv[1], dv[2], out=g)
            g -= dv[0]
        else:
            np.negative(dv[3], out=g)
        target = dxp[:, base + i : base + i + 2 * rows - 1 : 2]
        # then along columns: tap j (pair s + j//2, parity j%2) gets Σ_j' Bᵀ[j', j] g[j']
        t0, t1 = target[:, :, 0, 0:tw], target[:, :, 1, 0:tw]
        t2, t3 = target[:, :, 0, 1 : tw + 1], target[:, :, 1, 1 : tw + 1]
        t0 += g[0]
        t1 += g[1]
        t1 -= g[2]
        t1 += g[3]
        t2 -= g[0]
        t2 += g[1]
        t2 += g[2]
        t3 -= g[3]


def input_gradient(dxp: np.ndarray, pads, hw: tuple[int, int]) -> np.ndarray:
    """The (C, H, W, N) input gradient, new and contiguous, from the parted padded one (C, Hp, 2, Wp/2, N)."""
    c, _, _, _, n = dxp.shape
    top, left = pads[0], pads[2]
    h, w = hw
    dx = np.empty((c, h, w, n), dtype=dxp.dtype)
    for parity in range(2):  # input column x sits at padded column x + left = 2·pair + parity
        first = (parity - left) % 2  # first input column of this parity
        pair0 = (first + left) // 2
        count = len(range(first, w, 2))
        np.copyto(dx[:, :, first::2], dxp[:, top : top + h, parity, pair0 : pair0 + count])
    return dx
