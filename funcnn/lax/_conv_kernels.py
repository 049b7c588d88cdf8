"""NumPy kernels behind the convolution primitive. Plain arrays in, plain arrays out.

Everything works on the group-batched layout of ``_conv.py``: ``lhs`` of shape
``(G, B, F, *S)`` (groups, batch, features), ``rhs`` of shape ``(G, O, F, *K)``, result
``(G, B, O, *S_out)``:

    out[g, b, o, P] = sum over f, T of x[g, b, f, P * stride + T * dilation - low] * rhs[g, o, f, T]

where ``x`` is the input after any input dilation, and positions outside it (the
padding) hold zeros. Two plans compute it, picked per call by a cost model
(:func:`choose`); the flops are nearly the same, the memory traffic is not:

* **unfold** (im2col): copy every window into a matrix of positions by ``F * K`` values
  and do one GEMM per group. The copy is gathered tap by tap from the unpadded input,
  laid out so its innermost axis is contiguous in the input (the result comes out in
  the input's layout), and built and multiplied in blocks of a few megabytes that stay
  in cache.
* **fold** (GEMM, then col2im): one GEMM gives every input position's product with every
  kernel tap, ``O * K`` values per position; shifted slices of it, one per tap, add up to
  the output. It wins when the output has far fewer features than the input (the
  input-gradient of a convolution with few input channels).

Neither loops in Python over batch, channels or positions: ``unfold`` loops over blocks
and kernel taps, ``fold`` over batch blocks and taps. The GEMMs use the BLAS library's
threads; the copies and adds run on the calling thread (splitting them over a thread pool
measured 2-8 % slower on two cores: the copy threads and BLAS's contend for them).

A forward pass that keeps its unfolded input (:func:`conv_keep`, used when reverse mode
will want the kernel's gradient) builds it in one block and returns it with the result,
flattened, with a small array describing its layout (:func:`flat_unfolded`); the
kernel-gradient convolution then reuses it (:func:`kernel_gradient`) and is a single GEMM.
Nothing else outlives a call but its results.
"""
from __future__ import annotations

import itertools
import math
from typing import NamedTuple, Sequence

import numpy as np
from numpy.lib.stride_tricks import as_strided

from funcnn.lax._windows import dilate_pad, dilated_size, out_size

# Unfolded copies are built and multiplied in blocks of about this many bytes.
_BLOCK_BYTES = 4 << 20
# Windows of kernels with more taps than this are copied from a padded input in one go.
_MAX_GATHERED_TAPS = 64
# Costs of moving one value, in multiply-adds of a float32 GEMM (fitted to timings of both plans
# at the benchmark shapes on a 2-core x86 machine): a strided gather into an unfolded copy, a
# GEMM's write of a product, an add of a product (long contiguous runs).
_GATHER_COST, _WRITE_COST, _ADD_COST = 20, 5, 8
# Kernel gradients with at most this many entries per group are summed over per-image GEMMs.
_SMALL_KERNEL_GRADIENT = 4096


class Unfolded(NamedTuple):
    """A forward pass's unfolded input, ``matrix`` of shape ``(G, rows, cols)``.

    The positions (``pos_axes``, output axes: 1 batch, 3... spatial) are the columns when
    ``positions_last`` and the rows otherwise; the contracted axes (``con_axes``, kernel
    axes: 2 features, 3... taps, of extents ``con_shape``) are the other side. Each is
    listed in the matrix's order.
    """

    matrix: np.ndarray
    positions_last: bool
    pos_axes: tuple[int, ...]
    con_axes: tuple[int, ...]
    con_shape: tuple[int, ...]


def conv(lhs: np.ndarray, rhs: np.ndarray, strides: Sequence[int], padding: Sequence[tuple[int, int]],
         lhs_dilation: Sequence[int], rhs_dilation: Sequence[int]) -> np.ndarray:
    """The group-batched convolution: ``(G, B, F, *S)`` with ``(G, O, F, *K)`` -> ``(G, B, O, *S_out)``."""
    lhs, rhs = _common_dtype(lhs, rhs)
    if lhs.size == 0 or rhs.size == 0:  # an empty batch, or no features: nothing to add up
        return _empty_result(lhs, rhs, strides, padding, lhs_dilation, rhs_dilation)
    if choose(lhs, rhs, strides, padding, lhs_dilation, rhs_dilation) == "fold":
        return fold(lhs, rhs, padding, rhs_dilation)
    return unfold(Windows(lhs, rhs.shape[3:], strides, padding, lhs_dilation, rhs_dilation), rhs)[0]


def conv_keep(lhs: np.ndarray, rhs: np.ndarray, strides: Sequence[int], padding: Sequence[tuple[int, int]],
              lhs_dilation: Sequence[int], rhs_dilation: Sequence[int]) -> tuple[np.ndarray, Unfolded]:
    """The convolution and its unfolded input, for the kernel gradient to reuse (always the unfold plan)."""
    lhs, rhs = _common_dtype(lhs, rhs)
    win = Windows(lhs, rhs.shape[3:], strides, padding, lhs_dilation, rhs_dilation)
    if lhs.size == 0 or rhs.size == 0:
        out = _empty_result(lhs, rhs, strides, padding, lhs_dilation, rhs_dilation)
        nsp = rhs.ndim - 3
        positions = (1,) + tuple(range(3, 3 + nsp))
        kernel_axes = tuple(range(3, 3 + nsp)) + (2,)
        con_shape = tuple(rhs.shape[a] for a in kernel_axes)
        n_pos = math.prod(win.shape[a] for a in positions)
        matrix = np.zeros((lhs.shape[0], math.prod(con_shape), n_pos), dtype=lhs.dtype)
        return out, Unfolded(matrix, True, positions, kernel_axes, con_shape)
    out, unfolded = unfold(win, rhs, keep=True)
    assert unfolded is not None
    return out, unfolded


def _common_dtype(lhs: np.ndarray, rhs: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    dtype = np.result_type(lhs, rhs)
    return np.asarray(lhs, dtype=dtype), np.asarray(rhs, dtype=dtype)


def _empty_result(lhs: np.ndarray, rhs: np.ndarray, strides: Sequence[int], padding: Sequence[tuple[int, int]],
                  lhs_dilation: Sequence[int], rhs_dilation: Sequence[int]) -> np.ndarray:
    sizes = tuple(out_size(dilated_size(n, ld) + lo + hi, dilated_size(k, d), s) for n, ld, (lo, hi), k, d, s
                  in zip(lhs.shape[3:], lhs_dilation, padding, rhs.shape[3:], rhs_dilation, strides))
    return np.zeros(lhs.shape[:2] + rhs.shape[1:2] + sizes, dtype=lhs.dtype)


def flat_unfolded(unfolded: Unfolded) -> tuple[np.ndarray, np.ndarray]:
    """The unfolded matrix as ``(G, rows * cols)`` and its layout as a small int array:
    ``[positions_last, *pos_axes, *con_axes]``. Its shapes depend on the convolution's
    shapes only (the layout's values on the input's memory order), so a graph can hold them."""
    layout = np.array((int(unfolded.positions_last),) + unfolded.pos_axes + unfolded.con_axes, dtype=np.int8)
    return unfolded.matrix.reshape(unfolded.matrix.shape[0], -1), layout


def unflat_unfolded(flat: np.ndarray, layout: np.ndarray, features: int, kernel: Sequence[int],
                    n_pos: int) -> Unfolded:
    """The inverse of :func:`flat_unfolded`, given the convolution's input features, kernel and positions."""
    nsp = len(kernel)
    positions_last = bool(layout[0])
    pos_axes = tuple(int(a) for a in layout[1:2 + nsp])
    con_axes = tuple(int(a) for a in layout[2 + nsp:])
    con_shape = tuple(features if a == 2 else kernel[a - 3] for a in con_axes)
    n_con = math.prod(con_shape)
    rows, cols = (n_con, n_pos) if positions_last else (n_pos, n_con)
    return Unfolded(flat.reshape(flat.shape[0], rows, cols), positions_last, pos_axes, con_axes, con_shape)


def choose(lhs: np.ndarray, rhs: np.ndarray, strides: Sequence[int], padding: Sequence[tuple[int, int]],
           lhs_dilation: Sequence[int], rhs_dilation: Sequence[int]) -> str:
    """``"fold"`` or ``"unfold"``, by a cost model counted in multiply-adds.

    Per kernel tap, unfolding gathers ``F`` values for each output position and multiplies
    them by ``O`` features; folding multiplies ``F`` values by ``O`` features at each
    input position, writes the ``O`` products, and adds ``O`` of them back for each
    output position. Folding needs stride 1 and no input dilation; it multiplies on the
    input grown by its padding.
    """
    if any(s != 1 for s in strides) or any(d != 1 for d in lhs_dilation):
        return "unfold"
    padded = [n + lo + hi for n, (lo, hi) in zip(lhs.shape[3:], padding)]
    cells = math.prod(n + max(lo, 0) + max(hi, 0) for n, (lo, hi) in zip(lhs.shape[3:], padding))
    n_out = math.prod(out_size(p, dilated_size(k, d), 1) for p, k, d in zip(padded, rhs.shape[3:], rhs_dilation))
    feats, out_feats = rhs.shape[2], rhs.shape[1]
    unfold_cost = n_out * feats * (out_feats + _GATHER_COST)
    fold_cost = cells * out_feats * (feats + _WRITE_COST) + n_out * out_feats * _ADD_COST
    return "fold" if fold_cost < unfold_cost else "unfold"


class Windows:
    """Every window of an input, ``(G, B, F, *S_out, *K)``, copied out a block at a time.

    With a few kernel taps, windows are gathered tap by tap straight from the input:
    each tap's values for the output positions whose window reaches inside the input are
    one strided copy, and positions whose window hangs over the padding get zeros, so
    the input is never padded. With many taps (a kernel-gradient convolution, whose
    "kernel" is an output cotangent) the input is padded once and each block is one
    strided copy of a view of it. A dilated input is always dilated and padded first.
    ``shape`` and ``strides`` describe the windows as a view of the padded input.
    """

    def __init__(self, lhs: np.ndarray, kernel: Sequence[int], strides: Sequence[int],
                 padding: Sequence[tuple[int, int]], lhs_dilation: Sequence[int], dilation: Sequence[int]) -> None:
        self.steps, self.dilation, self.kernel = tuple(strides), tuple(dilation), tuple(kernel)
        if any(d > 1 for d in lhs_dilation) or math.prod(kernel) > _MAX_GATHERED_TAPS:
            lhs = dilate_pad(lhs, 3, lhs_dilation, padding)
            padding = [(0, 0)] * len(kernel)
        self.x, self.padding = lhs, tuple(padding)
        sizes = tuple(out_size(n + lo + hi, dilated_size(k, d), s)
                      for n, (lo, hi), k, d, s in zip(lhs.shape[3:], padding, kernel, dilation, strides))
        self.shape = lhs.shape[:3] + sizes + self.kernel
        spatial = lhs.strides[3:]
        self.strides = (lhs.strides[:3] + tuple(st * s for st, s in zip(spatial, strides))
                        + tuple(st * d for st, d in zip(spatial, dilation)))
        self.dtype = lhs.dtype

    def copy_into(self, dst: np.ndarray, axis: int, start: int, stop: int) -> None:
        """Fill ``dst``, of shape ``shape`` but for indices ``start:stop`` along ``axis``."""
        nsp = len(self.kernel)
        ranges = [range(n) for n in self.shape]
        ranges[axis] = range(start, stop)
        if math.prod(self.kernel) > _MAX_GATHERED_TAPS:
            view = as_strided(self.x, shape=self.shape, strides=self.strides, writeable=False)
            dst[...] = view[tuple(slice(r.start, r.stop) for r in ranges)]
            return
        for tap in itertools.product(*ranges[3 + nsp:]):
            self._copy_tap(dst, tap, ranges)

    def _copy_tap(self, dst: np.ndarray, tap: tuple, ranges: list) -> None:
        nsp = len(self.kernel)
        here = dst[(slice(None),) * (3 + nsp) + tuple(t - r.start for t, r in zip(tap, ranges[3 + nsp:]))]
        src = [slice(None), slice(ranges[1].start, ranges[1].stop), slice(ranges[2].start, ranges[2].stop)]
        inside = []
        for i, (t, s, d, (lo, _), n) in enumerate(zip(tap, self.steps, self.dilation, self.padding, self.x.shape[3:])):
            held = ranges[3 + i]
            offset = t * d - lo  # output position p reads input index p * s + offset
            first = max(held.start, -(offset // s))
            last = min(held.stop, -((offset - n) // s))
            if first >= last:  # this tap only ever sees padding here
                here[...] = 0
                return
            src.append(slice(first * s + offset, (last - 1) * s + offset + 1, s))
            inside.append(slice(first - held.start, last - held.start))
        if not self._copy_rows(here, src, inside, offset):
            np.copyto(here[(slice(None),) * 3 + tuple(inside)], self.x[tuple(src)])
        for i, span in enumerate(inside):  # zeros where the window hangs over the padding
            before = (slice(None),) * (3 + i)
            here[before + (slice(0, span.start),)] = 0
            here[before + (slice(span.stop, None),)] = 0


    def _copy_rows(self, here: np.ndarray, src: list, inside: list, shift: int) -> bool:
        """Copy a tap's block of rows as one run per image and feature, when that is possible.

        With stride 1 along the last two axes and an output as wide as the input, the output
        rows ``inside[-2]`` read one contiguous stretch of the input's flattened rows, moved
        by ``shift`` columns. The values that wrap round from a neighbouring row land in the
        columns that hang over the padding, which the caller zeroes next. A run of a whole
        block of rows copies several times faster than one short run per row.
        """
        x, width = self.x, self.x.shape[-1]
        if (len(self.kernel) < 2 or self.steps[-2:] != (1, 1) or here.shape[-1] != width
                or here.strides[-2] != width * here.strides[-1] or x.strides[-2] != width * x.strides[-1]):
            return False
        dst = _merge_last_two(here[(slice(None),) * 3 + tuple(inside[:-1])])
        start = src[-2].start * width + shift  # where the first output row's run begins in the input
        source = _merge_last_two(x[tuple(src[:-2])])
        stop = start + dst.shape[-1]
        first, last = max(start, 0), min(stop, source.shape[-1])  # parts outside are wrapped columns
        np.copyto(dst[..., first - start:dst.shape[-1] - (stop - last)], source[..., first:last])
        return True


def _merge_last_two(a: np.ndarray) -> np.ndarray:
    """A view of ``a`` with its last two axes as one (they must be laid out row after row)."""
    return as_strided(a, a.shape[:-2] + (a.shape[-2] * a.shape[-1],), a.strides[:-2] + a.strides[-1:])


# --- unfold: im2col and GEMMs ---------------------------------------------------------------


def unfold(win: Windows, rhs: np.ndarray, keep: bool = False) -> tuple[np.ndarray, Unfolded | None]:
    """``out[g, b, o, P] = sum(windows[g, b, f, P, T] * rhs[g, o, f, T])`` through unfolded copies.

    The windows' axes split into output positions ``(b, *P)`` and the contracted
    ``(f, *T)``. The unfolded matrix is laid out so its innermost axis is the one with the
    longest contiguous run in the input, which fixes the side of the GEMM it lands on.
    Blocks (about ``_BLOCK_BYTES``) split the output positions, each writing its own slice
    of the result, unless the result is the smaller side (a kernel gradient): then they
    split the contraction and their products add up. With ``keep`` there is one block, and
    it is returned with the result.
    """
    nsp = rhs.ndim - 3
    shape, itemsize = win.shape, win.dtype.itemsize
    groups, out_feats = shape[0], rhs.shape[1]
    positions = [1] + list(range(3, 3 + nsp))
    contracted = [2] + list(range(3 + nsp, 3 + 2 * nsp))
    inner = max(positions + contracted, key=lambda ax: (_run(win, ax), ax in contracted))
    positions_last = inner in positions  # unfolded (contracted, positions): result (G, O, positions)
    if positions_last:
        # taps outermost, so that each tap's copy fills one contiguous slab of the matrix
        pos_axes, con_axes = _memory_sorted(win, positions, last=inner), contracted[1:] + contracted[:1]
        order = con_axes + pos_axes
    else:
        pos_axes, con_axes = _memory_sorted(win, positions), _memory_sorted(win, contracted, last=inner)
        order = pos_axes + con_axes
    n_pos = math.prod(shape[a] for a in pos_axes)
    kernel_axes = [a - nsp if a >= 3 + nsp else a for a in con_axes]  # window axis -> kernel axis
    kernel = _kernel_matrix(rhs, kernel_axes, positions_last)
    out = np.empty((groups, out_feats, n_pos) if positions_last else (groups, n_pos, out_feats), dtype=win.dtype)
    accumulate = not keep and n_pos < kernel[0].size // out_feats
    split = con_axes if accumulate else pos_axes
    lead = next((i for i, a in enumerate(split) if shape[a] > 1), 0)
    axis = split[lead]
    per_index = math.prod(shape[a] for a in split[lead + 1:])  # matrix entries per index of the split axis
    row_bytes = itemsize * math.prod(shape) // shape[axis]
    step = shape[axis] if keep else max(1, min(shape[axis], _BLOCK_BYTES // max(row_bytes, 1)))
    to_windows = np.argsort([0] + order)  # block axes -> window axes
    n_rows = len(con_axes) if positions_last else len(pos_axes)
    scratch = None
    for start in range(0, shape[axis], step):
        stop = min(start + step, shape[axis])
        block_shape = tuple(stop - start if a == axis else shape[a] for a in [0] + order)
        size = math.prod(block_shape)
        if scratch is None or scratch.size < size:
            scratch = np.empty(size, dtype=win.dtype)
        block = scratch[:size].reshape(block_shape)
        win.copy_into(block.transpose(to_windows), axis, start, stop)
        mat = block.reshape(groups, math.prod(block_shape[1:1 + n_rows]), -1)
        flat = slice(start * per_index, stop * per_index)
        if accumulate:
            k_part = kernel[:, :, flat] if positions_last else kernel[:, flat]
            product = np.matmul(k_part, mat) if positions_last else np.matmul(mat, k_part)
            if start == 0:
                out[...] = product
            else:
                out += product
        elif positions_last:
            np.matmul(kernel, mat, out=out[:, :, flat])
        else:
            np.matmul(mat, kernel, out=out[:, flat])
    kept = Unfolded(mat, positions_last, tuple(pos_axes), tuple(kernel_axes),
                    tuple(shape[a] for a in con_axes)) if keep else None
    sizes = tuple(shape[a] for a in pos_axes)
    if positions_last:
        return out.reshape((groups, out_feats) + sizes).transpose(np.argsort([0, 2] + pos_axes)), kept
    return out.reshape((groups,) + sizes + (out_feats,)).transpose(np.argsort([0] + pos_axes + [2])), kept


def _kernel_matrix(rhs: np.ndarray, con_axes: list[int], positions_last: bool) -> np.ndarray:
    """``rhs`` as ``(G, O, contracted)`` (positions last) or ``(G, contracted, O)``, contracted
    axes in the order ``con_axes`` (kernel axes: 2 features, 3... taps)."""
    groups, out_feats = rhs.shape[:2]
    if positions_last:
        return np.ascontiguousarray(rhs.transpose([0, 1] + con_axes)).reshape(groups, out_feats, -1)
    return np.ascontiguousarray(rhs.transpose([0] + con_axes + [1])).reshape(groups, -1, out_feats)


def kernel_gradient(unfolded: Unfolded, cotangent_t: np.ndarray) -> np.ndarray:
    """The kernel-gradient convolution from the forward's unfolded input: one GEMM per group.

    ``cotangent_t`` is the forward output's cotangent with features and batch swapped,
    ``(G, O, B, *S_out)``; the result is the kernel gradient with features and outputs
    swapped, ``(G, F, O, *K)``, as the convolution primitive returns it.
    """
    groups, out_feats = cotangent_t.shape[:2]
    # (G, O, positions) in the unfolded matrix's order of positions: output axis a is axis a of
    # the cotangent with its 1 and 2 swapped back, so batch (1) is axis 2 here and o is axis 1
    g_axes = [0, 1] + [2 if a == 1 else a for a in unfolded.pos_axes]
    g_mat = np.ascontiguousarray(cotangent_t.transpose(g_axes)).reshape(groups, out_feats, -1)
    mat = unfolded.matrix
    batch = cotangent_t.shape[2]
    if (unfolded.positions_last and unfolded.pos_axes[0] == 1 and batch > 1
            and mat.shape[1] * out_feats <= _SMALL_KERNEL_GRADIENT):
        # a long, thin contraction: one GEMM per image, then their sum, ran twice as fast in
        # OpenBLAS as the single GEMM, which it splits over threads badly
        per_image = np.matmul(mat.reshape(groups, mat.shape[1], batch, -1).transpose(0, 2, 1, 3),
                              g_mat.reshape(groups, out_feats, batch, -1).transpose(0, 2, 3, 1))
        grad = per_image.sum(axis=1).transpose(0, 2, 1)  # (G, O, contracted)
    elif unfolded.positions_last and mat.shape[1] > out_feats:
        # the same product with the larger operand first: OpenBLAS ran it 15-35 % faster
        grad = np.matmul(mat, g_mat.transpose(0, 2, 1)).transpose(0, 2, 1)  # (G, O, contracted)
    else:
        grad = np.matmul(g_mat, mat.transpose(0, 2, 1) if unfolded.positions_last else mat)
    grad = grad.reshape((groups, out_feats) + unfolded.con_shape)
    return grad.transpose(np.argsort([0, 1] + list(unfolded.con_axes))).swapaxes(1, 2)


def _run(win: Windows, axis: int) -> int:
    """How many elements a copy along ``axis`` reads contiguously."""
    n = win.shape[axis]
    return n if n > 1 and abs(win.strides[axis]) == win.dtype.itemsize else 1


def _memory_sorted(win: Windows, axes: list[int], last: int | None = None) -> list[int]:
    """``axes`` from the slowest-varying in the input to the fastest, with ``last`` forced last."""
    ordered = sorted((a for a in axes if a != last), key=lambda a: -abs(win.strides[a]))
    return ordered + ([last] if last is not None else [])


# --- fold: one GEMM, then a shifted sum over the taps ------------------------------------------


def fold(lhs: np.ndarray, rhs: np.ndarray, padding: Sequence[tuple[int, int]],
         dilation: Sequence[int]) -> np.ndarray:
    """Stride-1 convolution as products ``Y = rhs (K*O, F) @ lhs (F, positions)``, then
    ``out = sum over taps T`` of ``Y[T]`` shifted by ``T * dilation``.

    The products are taken on the input grown by its padding (zeros there) and flattened,
    with the output laid out on the same grid: output position ``P`` reads ``Y[T]`` at
    ``P + T * dilation``, which in flat indices is one shift per tap. So each tap is a
    single add of two long contiguous runs per image and feature; the output is the view
    of that grid at the output positions (the cells between them hold partial sums that
    nothing reads). Negative padding crops the input first. Batch elements go through in
    blocks of about ``_BLOCK_BYTES`` of products, which stay in cache.
    """
    groups, batch, feats = lhs.shape[:3]
    kernel, out_feats, dtype = rhs.shape[3:], rhs.shape[1], lhs.dtype
    lhs = lhs[(slice(None),) * 3 + tuple(slice(max(-lo, 0), n - max(-hi, 0))
                                         for n, (lo, hi) in zip(lhs.shape[3:], padding))]
    low = [max(lo, 0) for lo, _ in padding]
    grid = tuple(n + lo + max(hi, 0) for n, lo, (_, hi) in zip(lhs.shape[3:], low, padding))
    out_sp = tuple(out_size(g, dilated_size(k, d), 1) for g, k, d in zip(grid, kernel, dilation))
    if min(out_sp) <= 0:
        return np.zeros((groups, batch, out_feats) + tuple(max(n, 0) for n in out_sp), dtype=dtype)
    row = [math.prod(grid[i + 1:]) for i in range(len(grid))]  # flat index step of each grid axis
    span = sum((n - 1) * r for n, r in zip(out_sp, row)) + 1  # flat indices that hold an output position
    shifts = [sum(t * d * r for t, d, r in zip(tap, dilation, row)) for tap in np.ndindex(*kernel)]
    taps, cells = len(shifts), math.prod(grid)
    kernel_mat = np.ascontiguousarray(np.moveaxis(rhs.reshape(groups, out_feats, feats, taps), 3, 1))
    kernel_mat = kernel_mat.reshape(groups, taps * out_feats, feats)
    inside = tuple(slice(lo, lo + n) for lo, n in zip(low, lhs.shape[3:]))
    step = max(1, min(batch, _BLOCK_BYTES // max(1, groups * taps * out_feats * cells * lhs.itemsize)))
    # one block is the whole output; several are copied into it
    out = np.empty((groups, out_feats, batch, span), dtype=dtype) if step < batch else None
    for start in range(0, batch, step):
        images = slice(start, min(batch, start + step))
        source = np.empty((groups, feats, images.stop - start) + grid, dtype=dtype)
        source[(slice(None),) * 3 + inside] = lhs[:, images].swapaxes(1, 2)
        for i, held in enumerate(inside):  # zeros in the padding only: the rest was just written
            before = (slice(None),) * (3 + i)
            source[before + (slice(0, held.start),)] = 0
            source[before + (slice(held.stop, None),)] = 0
        products = np.matmul(kernel_mat, source.reshape(groups, feats, -1))
        products = products.reshape(groups, taps, out_feats, images.stop - start, cells)
        # several images' sums add up faster in a block of their own (copied into the output
        # after) than in a strided part of the output; one image's go straight in
        in_place = out is not None and images.stop - start == 1
        if out is not None and in_place:
            target = out[:, :, images]
        else:
            target = np.empty((groups,) + products.shape[2:4] + (span,), dtype=dtype)
        np.copyto(target, products[:, 0, ..., shifts[0]:shifts[0] + span])
        for t in range(1, taps):
            target += products[:, t, ..., shifts[t]:shifts[t] + span]
        if out is None:
            out = target
        elif not in_place:
            out[:, :, images] = target
    assert out is not None
    item = out.itemsize
    return as_strided(out, (groups, batch, out_feats) + out_sp,
                      (out.strides[0], out.strides[2], out.strides[1]) + tuple(r * item for r in row))
