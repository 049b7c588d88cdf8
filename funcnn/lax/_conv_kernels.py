"""NumPy kernels behind the convolution primitive. Plain arrays in, plain arrays out.

Everything works on the group-batched layout of ``_conv.py``: ``lhs`` of shape
``(G, B, F, *S)`` (groups, batch, features), ``rhs`` of shape ``(G, O, F, *K)``, result
``(G, B, O, *S_out)``:

    out[g, b, o, P] = sum over f, T of xp[g, b, f, P * stride + T * dilation] * rhs[g, o, f, T]

where ``xp`` is the input dilated and padded. Two ways to evaluate it, picked per call
by the memory traffic they need (the flops are the same):

* **unfold** (im2col): copy every window into a matrix of positions by ``F * K`` values
  and do one GEMM per group. The copy runs along whichever axis is contiguous in the
  input, so the result comes out in the input's layout; it is built and multiplied in
  blocks that stay in cache, and each block's copy is split across threads (NumPy
  releases the GIL while copying).
* **fold** (GEMM, then col2im): one GEMM gives every input position's product with every
  kernel tap, ``O * K`` values per position; shifted slices of it, one per tap, add up to
  the output. It wins when the output has fewer features than the input (the
  input-gradient of a convolution with few input channels).

Neither loops in Python over batch, channels or positions: ``unfold`` loops over blocks
of a few megabytes, ``fold`` over the kernel taps.

A forward pass asked to ``keep`` its unfolded input builds it whole and leaves it in
the :class:`Keep`; the kernel-gradient convolution then reuses it (``unfolded=``) and is
a single GEMM. Nothing else outlives a call but its result.
"""
from __future__ import annotations

import math
from typing import NamedTuple, Sequence

import numpy as np
from numpy.lib.stride_tricks import as_strided

from funcnn.lax._parallel import parallel_add, parallel_copy
from funcnn.lax._windows import dilate_pad, dilated_size, out_size

# Unfolded copies are built and multiplied in blocks of about this many bytes.
_BLOCK_BYTES = 8 << 20


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


class Keep:
    """A request to a forward convolution: leave the unfolded input in ``unfolded``."""

    __slots__ = ("unfolded",)

    def __init__(self) -> None:
        self.unfolded: Unfolded | None = None

    def take(self) -> Unfolded | None:
        """The kept buffer (``None`` if the forward did not unfold), handed over once."""
        unfolded, self.unfolded = self.unfolded, None
        return unfolded


def conv(lhs: np.ndarray, rhs: np.ndarray, strides: Sequence[int], padding: Sequence[tuple[int, int]],
         lhs_dilation: Sequence[int], rhs_dilation: Sequence[int], keep: Keep | None = None,
         unfolded: Unfolded | None = None) -> np.ndarray:
    """The group-batched convolution: ``(G, B, F, *S)`` with ``(G, O, F, *K)`` -> ``(G, B, O, *S_out)``.

    ``unfolded``: this is the kernel gradient of the forward that kept it, ``rhs`` its
    output cotangent with features and batch swapped; ``lhs`` is not read.
    """
    dtype = np.result_type(lhs, rhs)
    rhs = np.asarray(rhs, dtype=dtype)
    if unfolded is not None:
        return kernel_gradient(unfolded, rhs)
    xp = dilate_pad(np.asarray(lhs, dtype=dtype), 3, lhs_dilation, padding)
    if choose(xp, rhs, strides, lhs_dilation) == "fold":
        return fold(xp, rhs, rhs_dilation)
    return unfold(windows(xp, rhs.shape[3:], strides, rhs_dilation), rhs, keep)


def choose(xp: np.ndarray, rhs: np.ndarray, strides: Sequence[int], lhs_dilation: Sequence[int]) -> str:
    """``"fold"`` or ``"unfold"``: whichever moves less memory for this geometry.

    Unfolding copies ``F * K`` values per output position; folding writes ``O * K`` products
    per input position and adds them back, so it pays when ``F > O``. It only applies with
    stride 1 and no input dilation, where input and output positions nearly coincide.
    """
    if any(s != 1 for s in strides) or any(d != 1 for d in lhs_dilation):
        return "unfold"
    return "fold" if rhs.shape[2] > rhs.shape[1] else "unfold"


def windows(xp: np.ndarray, kernel: Sequence[int], strides: Sequence[int],
            dilation: Sequence[int]) -> np.ndarray:
    """The read-only view ``(G, B, F, *S_out, *K)`` of every window of the padded input ``xp``."""
    steps = xp.strides[3:]
    sizes = tuple(out_size(p, dilated_size(k, d), s) for p, k, d, s in zip(xp.shape[3:], kernel, dilation, strides))
    return as_strided(xp, shape=xp.shape[:3] + sizes + tuple(kernel),
                      strides=xp.strides[:3] + tuple(st * s for st, s in zip(steps, strides))
                      + tuple(st * d for st, d in zip(steps, dilation)), writeable=False)


# --- unfold: im2col and GEMMs ---------------------------------------------------------------


def unfold(win: np.ndarray, rhs: np.ndarray, keep: Keep | None = None) -> np.ndarray:
    """``out[g, b, o, P] = sum(win[g, b, f, P, T] * rhs[g, o, f, T])`` through unfolded copies.

    The windows' axes split into output positions ``(b, *P)`` and the contracted
    ``(f, *T)``. The unfolded matrix is laid out so its innermost axis is the one with the
    longest contiguous run in the input, which fixes the side of the GEMM it lands on.
    Blocks (about ``_BLOCK_BYTES``) split the output positions, each writing its own slice
    of the result, unless the result is the smaller side (a kernel gradient): then they
    split the contraction and their products add up. With ``keep`` there is one block.
    """
    nsp = rhs.ndim - 3
    groups, out_feats = win.shape[0], rhs.shape[1]
    positions = [1] + list(range(3, 3 + nsp))
    contracted = [2] + list(range(3 + nsp, 3 + 2 * nsp))
    inner = max(positions + contracted, key=lambda ax: (_run(win, ax), ax in contracted))
    positions_last = inner in positions  # unfolded (contracted, positions): result (G, O, positions)
    if positions_last:
        pos_axes, con_axes = _memory_sorted(win, positions, last=inner), contracted
        order = con_axes + pos_axes
    else:
        pos_axes, con_axes = _memory_sorted(win, positions), _memory_sorted(win, contracted, last=inner)
        order = pos_axes + con_axes
    n_pos = math.prod(win.shape[a] for a in pos_axes)
    kernel_axes = [a - nsp if a >= 3 + nsp else a for a in con_axes]  # window axis -> kernel axis
    kernel = _kernel_matrix(rhs, kernel_axes, positions_last)
    out = np.empty((groups, out_feats, n_pos) if positions_last else (groups, n_pos, out_feats), dtype=win.dtype)
    accumulate = keep is None and n_pos < kernel[0].size // out_feats
    split = con_axes if accumulate else pos_axes
    lead = next((i for i, a in enumerate(split) if win.shape[a] > 1), 0)
    per_index = math.prod(win.shape[a] for a in split[lead + 1:])  # matrix entries per index of the split axis
    extent = win.shape[split[lead]]
    row_bytes = win.itemsize * win.size // extent
    step = extent if keep is not None else max(1, min(extent, _BLOCK_BYTES // max(row_bytes, 1)))
    source = win.transpose([0] + order)
    buf_axis = 1 + order.index(split[lead])
    n_rows = len(con_axes) if positions_last else len(pos_axes)
    scratch = None
    for start in range(0, extent, step):
        stop = min(start + step, extent)
        part = source[(slice(None),) * buf_axis + (slice(start, stop),)]
        if scratch is None or scratch.size < part.size:
            scratch = np.empty(part.size, dtype=win.dtype)
        block = scratch[:part.size].reshape(part.shape)
        parallel_copy(block, part)
        mat = block.reshape(groups, math.prod(part.shape[1:1 + n_rows]), -1)
        flat = slice(start * per_index, stop * per_index)
        if accumulate:
            k_part = kernel[:, :, flat] if positions_last else kernel[:, flat]
            product = np.matmul(k_part, mat) if positions_last else np.matmul(mat, k_part)
            if start == 0:
                out[...] = product
            else:
                parallel_add(out, product)
        elif positions_last:
            np.matmul(kernel, mat, out=out[:, :, flat])
        else:
            np.matmul(mat, kernel, out=out[:, flat])
    if keep is not None:
        keep.unfolded = Unfolded(mat, positions_last, tuple(pos_axes), tuple(kernel_axes),
                                 tuple(win.shape[a] for a in con_axes))
    sizes = tuple(win.shape[a] for a in pos_axes)
    if positions_last:
        return out.reshape((groups, out_feats) + sizes).transpose(np.argsort([0, 2] + pos_axes))
    return out.reshape((groups,) + sizes + (out_feats,)).transpose(np.argsort([0] + pos_axes + [2]))


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
    grad = np.matmul(g_mat, mat.transpose(0, 2, 1) if unfolded.positions_last else mat)  # (G, O, contracted)
    grad = grad.reshape((groups, out_feats) + unfolded.con_shape)
    return grad.transpose(np.argsort([0, 1] + list(unfolded.con_axes))).swapaxes(1, 2)


def _run(win: np.ndarray, axis: int) -> int:
    """How many elements a copy along ``axis`` reads contiguously."""
    return win.shape[axis] if win.shape[axis] > 1 and abs(win.strides[axis]) == win.itemsize else 1


def _memory_sorted(win: np.ndarray, axes: list[int], last: int | None = None) -> list[int]:
    """``axes`` from the slowest-varying in the input to the fastest, with ``last`` forced last."""
    ordered = sorted((a for a in axes if a != last), key=lambda a: -abs(win.strides[a]))
    return ordered + ([last] if last is not None else [])


# --- fold: one GEMM, then a shifted sum over the taps ------------------------------------------


def fold(xp: np.ndarray, rhs: np.ndarray, dilation: Sequence[int]) -> np.ndarray:
    """Stride-1 convolution as ``Y = rhs (K*O, F) @ xp (F, B*positions)``, then ``out = sum over
    taps T`` of ``Y[T]`` shifted by ``T * dilation``.

    The input is laid out features-first, ``(G, F, B, *S)`` (one copy unless it already is), so
    that each group is one GEMM; the result comes out ``(G, O, B, *S_out)`` in memory.
    """
    groups, batch, feats = xp.shape[:3]
    spatial, kernel = xp.shape[3:], rhs.shape[3:]
    taps, out_feats = math.prod(kernel), rhs.shape[1]
    out_sp = tuple(out_size(p, dilated_size(k, d), 1) for p, k, d in zip(spatial, kernel, dilation))
    kernel_mat = np.ascontiguousarray(np.moveaxis(rhs.reshape(groups, out_feats, feats, taps), 3, 1))
    features_first = xp.transpose((0, 2, 1) + tuple(range(3, xp.ndim)))
    if not features_first[0].flags.c_contiguous:
        copy = np.empty(features_first.shape, dtype=xp.dtype)
        parallel_copy(copy, features_first)
        features_first = copy
    products = np.matmul(kernel_mat.reshape(groups, taps * out_feats, feats),
                         features_first.reshape(groups, feats, -1))
    products = products.reshape((groups, taps, out_feats, batch) + spatial)
    out = np.empty((groups, out_feats, batch) + out_sp, dtype=xp.dtype)
    for t, tap in enumerate(np.ndindex(*kernel)):
        index = (slice(None), t, slice(None), slice(None)) + tuple(
            slice(i * d, i * d + m) for i, d, m in zip(tap, dilation, out_sp))
        (parallel_copy if t == 0 else parallel_add)(out, products[index])
    return out.swapaxes(1, 2)
