"""Pooling: ``max_pool`` and ``avg_pool`` over 1 to 3 trailing spatial dimensions.

Both run a loop over the window's taps (a handful), each step a whole-array operation
on a strided slice of the padded input: nothing loops over batch, channels or positions.

* ``window_sum`` is linear; its transpose ``window_sum_transpose`` adds each output's
  cotangent back over its window. Each is the other's VJP, and each its own JVP, so
  ``avg_pool`` (a window sum times a constant) has derivatives of every order.
* ``max_pool`` records, for each output, which tap of its window won: the first in
  row-major window order among those equal to the maximum. Its VJP scatters the
  cotangent to exactly that element (``pool_scatter``) and its JVP gathers the tangent
  from it (``pool_gather``); these two are linear in their first argument and each
  other's transposes, with the winners fixed. The winners are a residual: when reverse
  mode differentiates ``max_pool``, its forward runs as ``max_pool_winners``, which returns
  them with the result in the same pass, and the engine hands them to the VJP.
"""
from __future__ import annotations

import itertools
import math
from typing import Any, Iterator, Sequence

import numpy as np

from funcnn.extend import (
    Primitive, ShapeDtype, Tracer, def_abstract_eval, def_batch, def_jvp, def_jvp_joint, def_vjp, def_vjp_rule,
    dtype_of, leading_batch_rule, shape_of,
)
from funcnn.lax._windows import (
    Padding, check_spans, dilate_pad, out_size, positive_ints, resolve_padding,
)
from funcnn.numpy._elementwise import multiply

Pairs = tuple[tuple[int, int], ...]


def _tap_slices(window: tuple, strides: tuple, out_sp: Sequence[int]) -> Iterator[tuple]:
    """For each tap of the window in row-major order, the slice of the padded input it reads."""
    for tap in itertools.product(*(range(k) for k in window)):
        yield (Ellipsis,) + tuple(slice(t, t + s * (m - 1) + 1, s) for t, s, m in zip(tap, strides, out_sp))


def _out_spatial(in_sp: Sequence[int], window: tuple, strides: tuple, padding: Pairs) -> tuple[int, ...]:
    return tuple(out_size(n + lo + hi, k, s) for n, k, s, (lo, hi) in zip(in_sp, window, strides, padding))


def _crop(xp: np.ndarray, padding: Pairs, in_sp: Sequence[int]) -> np.ndarray:
    return xp[(Ellipsis,) + tuple(slice(lo, lo + n) for (lo, _), n in zip(padding, in_sp))]


def _padded_zeros(shape: tuple, padding: Pairs, nsp: int, dtype: Any) -> np.ndarray:
    lead, spatial = shape[:-nsp], shape[-nsp:]
    return np.zeros(lead + tuple(n + lo + hi for n, (lo, hi) in zip(spatial, padding)), dtype=dtype)


# --- window sums (average pooling) ------------------------------------------------------------


def _window_sum_impl(x: Any, *, window: tuple, strides: tuple, padding: Pairs) -> np.ndarray:
    x = np.asarray(x)
    nsp = len(window)
    xp = dilate_pad(x, x.ndim - nsp, (1,) * nsp, padding)
    out_sp = _out_spatial(x.shape[-nsp:], window, strides, padding)
    out = np.zeros(x.shape[:-nsp] + out_sp, dtype=x.dtype)
    for index in _tap_slices(window, strides, out_sp):
        out += xp[index]
    return out


def _window_sum_transpose_impl(g: Any, *, window: tuple, strides: tuple, padding: Pairs,
                               in_spatial: tuple) -> np.ndarray:
    g = np.asarray(g)
    nsp = len(window)
    gp = _padded_zeros(g.shape[:-nsp] + in_spatial, padding, nsp, g.dtype)
    for index in _tap_slices(window, strides, g.shape[-nsp:]):
        gp[index] += g
    return _crop(gp, padding, in_spatial)


def _pooled(x: ShapeDtype, *rest: Any, window: tuple, strides: tuple, padding: Pairs) -> ShapeDtype:
    """The abstract result of pooling ``x``: its spatial axes shrunk to the number of windows."""
    nsp = len(window)
    return ShapeDtype(x.shape[:-nsp] + _out_spatial(x.shape[-nsp:], window, strides, padding), x.dtype)


def _unpooled(g: ShapeDtype, *rest: Any, in_spatial: tuple, **p: Any) -> ShapeDtype:
    """The abstract result of a transposed pooling: the input's spatial shape back."""
    return ShapeDtype(g.shape[:-len(in_spatial)] + tuple(in_spatial), g.dtype)


_window_sum_p = Primitive("window_sum", _window_sum_impl)
_window_sum_transpose_p = Primitive("window_sum_transpose", _window_sum_transpose_impl)
def_abstract_eval(_window_sum_p, _pooled)
def_abstract_eval(_window_sum_transpose_p, _unpooled)
def_vjp(_window_sum_p, lambda ans, x, **p: lambda g: _window_sum_transpose_p.bind(
    g, **p, in_spatial=shape_of(x)[-len(p["window"]):]))
def_jvp(_window_sum_p, lambda t, ans, x, **p: _window_sum_p.bind(t, **p))
def_vjp(_window_sum_transpose_p, lambda ans, g, *, in_spatial, **p: lambda h: _window_sum_p.bind(h, **p))
def_jvp(_window_sum_transpose_p, lambda t, ans, g, **p: _window_sum_transpose_p.bind(t, **p))


# --- max pooling -----------------------------------------------------------------------------


def _max_pool_impl(x: Any, *, window: tuple, strides: tuple, padding: Pairs) -> np.ndarray:
    x = np.asarray(x)
    nsp = len(window)
    xp = dilate_pad(x, x.ndim - nsp, (1,) * nsp, padding, fill=_lowest(x.dtype))
    out_sp = _out_spatial(x.shape[-nsp:], window, strides, padding)
    taps = _tap_slices(window, strides, out_sp)
    out = xp[next(taps)].copy()
    for index in taps:
        np.maximum(out, xp[index], out=out)
    return out


def _max_pool_winners_impl(x: Any, *, window: tuple, strides: tuple, padding: Pairs) -> tuple:
    out = _max_pool_impl(x, window=window, strides=strides, padding=padding)
    return out, _winners_impl(x, out, window=window, strides=strides, padding=padding)


def _winners_impl(x: Any, ans: Any, *, window: tuple, strides: tuple, padding: Pairs) -> np.ndarray:
    """For each output, the row-major index of the first tap of its window that holds the maximum."""
    x, ans = np.asarray(x), np.asarray(ans)
    nsp = len(window)
    xp = dilate_pad(x, x.ndim - nsp, (1,) * nsp, padding, fill=_lowest(x.dtype))
    idx = np.zeros(ans.shape, dtype=_index_dtype(window))
    found = np.zeros(ans.shape, dtype=bool)
    hit, first = np.empty(ans.shape, dtype=bool), np.empty(ans.shape, dtype=bool)
    for t, index in enumerate(_tap_slices(window, strides, ans.shape[-nsp:])):
        np.equal(xp[index], ans, out=hit)
        np.greater(hit, found, out=first)  # a hit where nothing earlier hit
        if t:
            idx += first.astype(idx.dtype) * idx.dtype.type(t)
        found |= hit
    return idx


def _index_dtype(window: tuple) -> np.dtype:
    return np.dtype(np.int8 if math.prod(window) <= 127 else np.int32)


def _lowest(dtype: np.dtype) -> Any:
    return -np.inf if np.issubdtype(dtype, np.floating) else np.iinfo(dtype).min


def _pool_gather_impl(h: Any, winners: np.ndarray, *, window: tuple, strides: tuple,
                      padding: Pairs) -> np.ndarray:
    h = np.asarray(h)
    nsp = len(window)
    hp = dilate_pad(h, h.ndim - nsp, (1,) * nsp, padding)
    out = np.zeros(winners.shape, dtype=h.dtype)
    for t, index in enumerate(_tap_slices(window, strides, winners.shape[-nsp:])):
        out += hp[index] * (winners == t)
    return out


def _pool_scatter_impl(g: Any, winners: np.ndarray, *, window: tuple, strides: tuple, padding: Pairs,
                       in_spatial: tuple) -> np.ndarray:
    g = np.asarray(g)
    nsp = len(window)
    overlapping = any(s < k for s, k in zip(strides, window))
    tiled = not overlapping and all(k == s and n == m * s and lo == hi == 0 for k, s, n, m, (lo, hi)
                                    in zip(window, strides, in_spatial, g.shape[-nsp:], padding))
    if tiled:  # the windows cover every input element exactly once: all of it is written below
        gp = np.empty(g.shape[:-nsp] + in_spatial, dtype=g.dtype)
    else:
        gp = _padded_zeros(g.shape[:-nsp] + in_spatial, padding, nsp, g.dtype)
    for t, index in enumerate(_tap_slices(window, strides, g.shape[-nsp:])):
        if overlapping:
            gp[index] += g * (winners == t)
        else:  # each input element is in at most one window: write, no need to add
            np.multiply(g, winners == t, out=gp[index])
    return _crop(gp, padding, in_spatial)


_max_pool_p = Primitive("max_pool", _max_pool_impl)
_max_pool_winners_p = Primitive("max_pool_winners", _max_pool_winners_impl, multiple_results=True)
_winners_p = Primitive("pool_winners", _winners_impl)
_pool_gather_p = Primitive("pool_gather", _pool_gather_impl)
_pool_scatter_p = Primitive("pool_scatter", _pool_scatter_impl)
def_abstract_eval(_max_pool_p, _pooled)
def_abstract_eval(_max_pool_winners_p, lambda x, **p: (_pooled(x, **p), _winners_aval(_pooled(x, **p), p["window"])))
def_abstract_eval(_winners_p, lambda x, ans, **p: _winners_aval(ans, p["window"]))
def_abstract_eval(_pool_gather_p, lambda h, winners, **p: ShapeDtype(winners.shape, h.dtype))
def_abstract_eval(_pool_scatter_p, _unpooled)
# every pooling primitive works on the trailing spatial axes and maps over the leading ones
for _prim in (_window_sum_p, _window_sum_transpose_p, _max_pool_p, _max_pool_winners_p, _winners_p, _pool_gather_p,
              _pool_scatter_p):
    def_batch(_prim, leading_batch_rule(_prim))


def _winners_aval(out: ShapeDtype, window: tuple) -> ShapeDtype:
    return ShapeDtype(out.shape, _index_dtype(window))


def _scatter(g: Any, winners: Any, x: Any, p: dict) -> Any:
    return _pool_scatter_p.bind(g, winners, **p, in_spatial=shape_of(x)[-len(p["window"]):])


def _max_pool_vjp_rule(wanted: tuple, x: Any, **p: Any) -> tuple:
    """Reverse mode's forward: the maximum and its winners in one pass; the VJP scatters to them."""
    out, winners = _max_pool_winners_p.bind(x, **p)
    return out, lambda g: (_scatter(g, winners, x, p),)


def_vjp_rule(_max_pool_p, _max_pool_vjp_rule)
def_jvp(_max_pool_p, lambda t, ans, x, **p: _pool_gather_p.bind(t, _winners_p.bind(x, ans, **p), **p))
def_vjp(_max_pool_winners_p, lambda ans, x, **p: lambda g: None if g[0] is None else _scatter(g[0], ans[1], x, p))
def_jvp_joint(_max_pool_winners_p, lambda tangents, ans, x, **p: (
    _pool_gather_p.bind(tangents[0], ans[1], **p), None))
def_vjp(_pool_gather_p, lambda ans, h, winners, **p: lambda g: _scatter(g, winners, h, p), None)
def_jvp(_pool_gather_p, lambda t, ans, h, winners, **p: _pool_gather_p.bind(t, winners, **p), None)
def_vjp(_pool_scatter_p, lambda ans, g, winners, *, in_spatial, **p: lambda h: _pool_gather_p.bind(
    h, winners, **p), None)
def_jvp(_pool_scatter_p, lambda t, ans, g, winners, **p: _pool_scatter_p.bind(t, winners, **p), None)


# --- public functions --------------------------------------------------------------------------


def _pool_args(fn: str, x: Any, window: Any, strides: Any, padding: Padding) -> tuple:
    """Checked ``window``, ``strides`` and explicit ``padding`` for a pool over ``x``'s spatial axes."""
    shape = shape_of(x)
    if not 3 <= len(shape) <= 5:
        raise ValueError(f"{fn}: x must have shape (N, C, *spatial) with 1 to 3 spatial dimensions; got "
                         f"shape {shape}")
    nsp = len(shape) - 2
    window = positive_ints(window, nsp, "window", fn)
    strides = window if strides is None else positive_ints(strides, nsp, "strides", fn)
    pads = resolve_padding(padding, shape[2:], window, strides, fn)
    if any(lo < 0 or hi < 0 for lo, hi in pads):
        raise ValueError(f"{fn}: padding must be non-negative; got {pads}")
    check_spans(fn, "window", [n + lo + hi for n, (lo, hi) in zip(shape[2:], pads)], window,
                f"x shape {shape}, window {window}, padding {pads}")
    return window, strides, pads


def max_pool(x: Any, window: Sequence[int], strides: Sequence[int] | None = None,
             padding: Padding = "VALID") -> Any:
    """Maximum over each window of the spatial dimensions.

    The gradient of each output flows to exactly one input element: the first in
    row-major window order among those equal to the window's maximum (so tied windows
    are deterministic, as in PyTorch). Padding never wins unless a window holds nothing
    else.

    Parameters
    ----------
    x : array, shape (N, C, *S)
        1 to 3 spatial dimensions.
    window : sequence of int
        Window size per spatial dimension (an int applies to all).
    strides : sequence of int, optional
        Step between windows; defaults to ``window`` (non-overlapping windows).
    padding : "SAME", "VALID" or sequence of (low, high) pairs
        Non-negative; padded positions count as ``-inf``.

    Returns
    -------
    array, shape (N, C, *S_out)
        ``S_out = (S + low + high - window) // strides + 1``.

    Examples
    --------
    >>> import numpy as np
    >>> from funcnn import lax
    >>> x = np.array([[[1.0, 3.0, 3.0, 0.0, 2.0, 5.0]]])
    >>> lax.max_pool(x, (2,))
    array([[[3., 3., 5.]]])
    >>> import funcnn as fn, funcnn.numpy as fnp
    >>> # windows [1 3 3] and [3 3 0] tie; each sends its gradient to the first 3
    >>> fn.grad(lambda x: fnp.sum(lax.max_pool(x, (3,), (1,))))(x)
    array([[[0., 2., 1., 0., 0., 1.]]])
    """
    x = x if isinstance(x, Tracer) else np.asarray(x)
    window, strides, pads = _pool_args("max_pool", x, window, strides, padding)
    return _max_pool_p.bind(x, window=window, strides=strides, padding=pads)


def avg_pool(x: Any, window: Sequence[int], strides: Sequence[int] | None = None, padding: Padding = "VALID",
             count_include_pad: bool = True) -> Any:
    """Mean over each window of the spatial dimensions.

    Parameters
    ----------
    x : array, shape (N, C, *S)
        1 to 3 spatial dimensions.
    window : sequence of int
        Window size per spatial dimension (an int applies to all).
    strides : sequence of int, optional
        Step between windows; defaults to ``window``.
    padding : "SAME", "VALID" or sequence of (low, high) pairs
        Non-negative; padded positions hold zeros.
    count_include_pad : bool, default True
        Divide by the full window size (True) or by the number of non-padding elements
        in each window (False).

    Returns
    -------
    array, shape (N, C, *S_out)

    Examples
    --------
    >>> import numpy as np
    >>> from funcnn import lax
    >>> x = np.arange(6.0).reshape(1, 1, 6)
    >>> lax.avg_pool(x, (2,))
    array([[[0.5, 2.5, 4.5]]])
    >>> lax.avg_pool(x, (2,), padding=((1, 1),), count_include_pad=False)
    array([[[0. , 1.5, 3.5, 5. ]]])
    """
    x = x if isinstance(x, Tracer) else np.asarray(x)
    window, strides, pads = _pool_args("avg_pool", x, window, strides, padding)
    total = _window_sum_p.bind(x, window=window, strides=strides, padding=pads)
    dtype = dtype_of(total) if np.issubdtype(dtype_of(total), np.inexact) else np.dtype(np.float64)
    if count_include_pad or all(lo == 0 and hi == 0 for lo, hi in pads):
        return multiply(total, np.asarray(1.0 / math.prod(window), dtype=dtype))
    nsp = len(window)
    ones = np.ones(shape_of(x)[-nsp:], dtype=dtype)
    counts = _window_sum_impl(ones, window=tuple(window), strides=tuple(strides), padding=pads)
    return multiply(total, (1.0 / counts).astype(dtype))
