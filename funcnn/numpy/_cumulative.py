"""Cumulative ops: ``cumsum`` and ``cumprod`` as primitives, ``diff`` composed from slices.

``cumsum`` is linear: its JVP is itself and its VJP the cumulative sum taken from the other
end. ``cumprod``'s derivatives are first-order linear recurrences (``h[j] = a[j] h[j-1] +
b[j]``), solved by a scan of ``log2(n)`` vectorized steps: no division by the input, so
they are exact where it holds zeros.
"""
from __future__ import annotations

from typing import Any

import numpy as np

from funcnn.extend import (
    Primitive, ShapeDtype, axes_batch_rule, broadcast_to, concatenate, def_abstract_eval, def_batch, def_jvp, def_vjp,
    dtype_of, ndim_of, probe_dtype, shape_of,
)
from funcnn.numpy._creation import as_int, asarray, normalize_axis
from funcnn.numpy._elementwise import add, astype, multiply, subtract
from funcnn.numpy._indexing import getitem
from funcnn.numpy._logic import not_equal
from funcnn.numpy._shape import flip, pad, ravel


def _along(axis: int, index: slice) -> tuple:
    """The index that applies ``index`` along ``axis`` and takes everything else."""
    return (slice(None),) * axis + (index,)


def _cumulative_primitive(name: str, impl: Any) -> Primitive:
    """A primitive computing along ``axis`` (an int), whose result has its operand's shape."""
    prim = Primitive(name, impl)
    def_abstract_eval(prim, lambda x, **params: ShapeDtype(x.shape, probe_dtype(prim.impl, [x], params)))
    def_batch(prim, axes_batch_rule(prim, "axis"))
    return prim


def _cumulative_axis(a: Any, axis: int | None, name: str) -> tuple[Any, int]:
    """``a`` and ``axis`` as a cumulative op takes them: flattened when ``axis`` is None or ``a`` is 0-d."""
    a = asarray(a)
    if axis is None or ndim_of(a) == 0:
        return ravel(a), normalize_axis(0 if axis is None else axis, 1, name)
    return a, normalize_axis(axis, ndim_of(a), name)


# --- cumsum ------------------------------------------------------------------------------------


def _cumsum_impl(x: Any, axis: int, reverse: bool) -> np.ndarray:
    if not reverse:
        return np.cumsum(x, axis=axis)
    return np.flip(np.cumsum(np.flip(x, axis), axis=axis), axis)


_cumsum_p = _cumulative_primitive("cumsum", _cumsum_impl)
def_vjp(_cumsum_p, lambda ans, x, axis, reverse: lambda g: _cumsum_p.bind(g, axis=axis, reverse=not reverse))
def_jvp(_cumsum_p, lambda t, ans, x, axis, reverse: _cumsum_p.bind(t, axis=axis, reverse=reverse))


def cumsum(a: Any, axis: int | None = None, dtype: Any = None) -> Any:
    """Cumulative sum along ``axis`` (of the flattened array when None), NumPy's ``cumsum``.

    ``a`` : array of any shape; the result has its shape (1-d when ``axis`` is None). Integer and
    boolean inputs are summed in NumPy's default integer, as NumPy does.

    >>> cumsum(np.array([[1.0, 2.0], [3.0, 4.0]]), axis=1)
    array([[1., 3.],
           [3., 7.]])
    """
    a, axis = _cumulative_axis(a, axis, "cumsum")
    if dtype is not None:
        a = astype(a, dtype)
    return _cumsum_p.bind(a, axis=axis, reverse=False)


# --- cumprod -----------------------------------------------------------------------------------


def _linear_scan(a: Any, b: Any, axis: int) -> Any:
    """``h`` with ``h[j] = a[j] * h[j-1] + b[j]`` along ``axis`` and ``h[0] = b[0]``.

    Each position holds the affine map ``h -> a h + b`` from an earlier ``h`` to its own; a step
    composes it with the map ``d`` positions back, doubling the span it covers (Hillis and
    Steele's scan): ``log2(n)`` steps, each a few vectorized primitives.
    """
    n = shape_of(b)[axis]
    a = broadcast_to(a, shape_of(b))
    d = 1
    while d < n:
        head, tail, back = _along(axis, slice(None, d)), _along(axis, slice(d, None)), _along(axis, slice(None, n - d))
        b = concatenate([getitem(b, head), add(getitem(b, tail), multiply(getitem(a, tail), getitem(b, back)))], axis)
        if 2 * d < n:
            a = concatenate([getitem(a, head), multiply(getitem(a, tail), getitem(a, back))], axis)
        d *= 2
    return b


def _shift_in_ones(x: Any, axis: int) -> Any:
    """``x`` moved one place along ``axis``, a 1 entering first and the last entry dropped."""
    widths = tuple((1, 0) if i == axis else (0, 0) for i in range(ndim_of(x)))
    return pad(getitem(x, _along(axis, slice(None, -1))), widths, constant_values=1)


def _cumprod_jvp(t: Any, ans: Any, x: Any, axis: int) -> Any:
    """``dy[j] = x[j] dy[j-1] + y[j-1] t[j]``, with ``y[-1] = 1``."""
    if shape_of(x)[axis] == 0:
        return t
    return _linear_scan(x, multiply(_shift_in_ones(ans, axis), t), axis)


def _cumprod_vjp(ans: Any, x: Any, axis: int) -> Any:
    """``ct[i] = y[i-1] s[i]`` with ``s[i] = g[i] + x[i+1] s[i+1]``: a scan from the far end."""
    def vjp(g: Any) -> Any:
        if shape_of(x)[axis] == 0:
            return g
        s = flip(_linear_scan(_shift_in_ones(flip(x, axis), axis), flip(g, axis), axis), axis)
        return multiply(_shift_in_ones(ans, axis), s)
    return vjp


_cumprod_p = _cumulative_primitive("cumprod", lambda x, axis: np.cumprod(x, axis=axis))
def_vjp(_cumprod_p, _cumprod_vjp)
def_jvp(_cumprod_p, _cumprod_jvp)


def cumprod(a: Any, axis: int | None = None, dtype: Any = None) -> Any:
    """Cumulative product along ``axis`` (of the flattened array when None), NumPy's ``cumprod``.

    Its derivatives divide by nothing, so they are exact where ``a`` holds zeros.

    >>> cumprod(np.array([2.0, 0.0, 3.0]))
    array([2., 0., 0.])
    """
    a, axis = _cumulative_axis(a, axis, "cumprod")
    if dtype is not None:
        a = astype(a, dtype)
    return _cumprod_p.bind(a, axis=axis)


# --- diff --------------------------------------------------------------------------------------

_NO_VALUE: Any = object()


def diff(a: Any, n: int = 1, axis: int = -1, prepend: Any = _NO_VALUE, append: Any = _NO_VALUE) -> Any:
    """The ``n``-th discrete difference along ``axis``: ``a[1:] - a[:-1]``, ``n`` times (``!=`` for
    booleans), after joining ``prepend`` and ``append`` (scalars broadcast to one slice).

    ``a`` : array with at least one dimension; the result is ``n`` shorter along ``axis``.

    >>> diff(np.array([1.0, 4.0, 9.0, 16.0]), n=2)
    array([2., 2.])
    """
    n = as_int(n, "n", "diff")
    if n < 0:
        raise ValueError(f"diff: order n must be non-negative; got {n}")
    a = asarray(a)
    if ndim_of(a) == 0:
        raise ValueError("diff requires input that is at least one dimensional")
    if n == 0:
        return a
    axis = normalize_axis(axis, ndim_of(a), "diff")
    pieces = [_as_slices(p, a, axis) for p in (prepend,) if p is not _NO_VALUE]
    pieces += [a] + [_as_slices(p, a, axis) for p in (append,) if p is not _NO_VALUE]
    if len(pieces) > 1:
        a = concatenate(pieces, axis)
    difference = not_equal if dtype_of(a) == np.bool_ else subtract
    for _ in range(n):
        a = difference(getitem(a, _along(axis, slice(1, None))), getitem(a, _along(axis, slice(None, -1))))
    return a


def _as_slices(value: Any, a: Any, axis: int) -> Any:
    """``prepend`` or ``append`` as slices along ``axis``: a scalar becomes one slice of ``a``'s shape."""
    value = asarray(value)
    if ndim_of(value) == 0:
        shape = shape_of(a)
        return broadcast_to(value, shape[:axis] + (1,) + shape[axis + 1:])
    return value
