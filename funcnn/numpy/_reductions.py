"""Reductions: ``sum``, ``max``, ``min``, ``prod`` as primitives; ``mean``, ``var``, ``std``,
``logsumexp`` composed from them; ``argmax``/``argmin``, ``all``/``any`` without derivative."""
from __future__ import annotations

import builtins
import math
from typing import Any

import numpy as np

from funcnn.extend import (
    Primitive, ShapeDtype, axes_batch_rule, def_abstract_eval, def_batch, def_jvp, def_vjp, move_axis, ndim_of,
    probe_dtype, shape_of,
    sum_to_shape,  # noqa: F401  (re-exported for the op families)
)
from funcnn.numpy._elementwise import (
    add, divide, exp, log, multiply, sqrt, square, stop_gradient, subtract, where,
)
from funcnn.numpy._logic import isfinite
from funcnn.numpy._shape import broadcast_to, reshape

Axis = Any  # None, an int or a tuple of ints


def normalize_axis(axis: Axis, ndim: int, name: str = "axis") -> tuple[int, ...] | None:
    """``axis`` as a sorted tuple of non-negative ints (``None`` stays ``None``), checked."""
    if axis is None:
        return None
    axes = (axis,) if ndim_of(axis) == 0 else tuple(axis)
    out = []
    for a in axes:
        a = int(a)
        if not -ndim <= a < builtins.max(ndim, 1) or (ndim == 0 and a not in (0, -1)):
            raise ValueError(f"{name} {a} is out of bounds for an array of dimension {ndim}")
        out.append(a % builtins.max(ndim, 1))
    if len(set(out)) != len(out):
        raise ValueError(f"repeated axis in {name}={axis!r}")
    return tuple(sorted(out))


def kept_shape(shape: tuple, axis: tuple | None) -> tuple[int, ...]:
    """``shape`` with the reduced axes set to 1, as ``keepdims=True`` leaves it."""
    if axis is None:
        return (1,) * len(shape)
    return tuple(1 if i in axis else d for i, d in enumerate(shape))


def _reduced_shape(shape: tuple, axis: tuple | None, keepdims: bool) -> tuple[int, ...]:
    if keepdims:
        return kept_shape(shape, axis)
    return () if axis is None else tuple(d for i, d in enumerate(shape) if i not in axis)


def reduction_primitive(name: str, impl: Any) -> Primitive:
    """A primitive reducing over ``axis`` (a sorted tuple or None) with ``keepdims``; its dtype is NumPy's."""
    prim = Primitive(name, lambda x, axis, keepdims: impl(x, axis=axis, keepdims=keepdims))

    def rule(x: ShapeDtype, axis: tuple | None, keepdims: bool) -> ShapeDtype:
        return ShapeDtype(_reduced_shape(x.shape, axis, keepdims), probe_dtype(prim.impl, [x], dict(
            axis=axis, keepdims=keepdims)))
    def_abstract_eval(prim, rule)
    def_batch(prim, axes_batch_rule(prim, "axis"))
    return prim


def reduce(prim: Primitive, a: Any, axis: Axis, keepdims: bool) -> Any:
    """Bind a reduction primitive with ``axis`` checked and normalized."""
    return prim.bind(a, axis=normalize_axis(axis, ndim_of(a)), keepdims=keepdims)


def _reduced_size(shape: tuple, axis: tuple | None) -> int:
    return math.prod(shape) if axis is None else math.prod(shape[i] for i in axis)


def _restore(g: Any, x: Any, axis: tuple | None, keepdims: bool) -> Any:
    """Broadcast a reduced cotangent back over the reduced axes of ``x``."""
    shape = shape_of(x)
    if not keepdims:
        g = reshape(g, kept_shape(shape, axis))
    return broadcast_to(g, shape)


# --- sum ---------------------------------------------------------------------------------

_sum_p = reduction_primitive("sum", np.sum)
def_vjp(_sum_p, lambda ans, x, axis, keepdims: lambda g: _restore(g, x, axis, keepdims))
def_jvp(_sum_p, lambda t, ans, x, axis, keepdims: _sum_p.bind(t, axis=axis, keepdims=keepdims))


def sum(a: Any, axis: Axis = None, dtype: Any = None, keepdims: bool = False) -> Any:  # noqa: A001
    """Sum of elements over ``axis`` (NumPy's ``sum``)."""
    if dtype is not None:
        from funcnn.numpy._elementwise import astype

        a = astype(a, dtype)
    return reduce(_sum_p, a, axis, keepdims)


# --- max / min ---------------------------------------------------------------------------


def _share_impl(x: Any, ans: Any, *, axis: tuple | None, keepdims: bool) -> np.ndarray:
    """1/k at each of the k positions that attain the extremum ``ans`` of their slice, 0 elsewhere."""
    if not keepdims:
        ans = np.reshape(ans, kept_shape(np.shape(x), axis))
    hits = x == ans
    share = hits / np.sum(hits, axis=axis, keepdims=True)
    return share.astype(np.result_type(ans), copy=False)


# Which elements a max/min reduction's gradient goes to: a function of the values, without
# derivative, computed by a primitive of its own.
_share_p = Primitive("reduction_share", _share_impl)
def_abstract_eval(_share_p, lambda x, ans, axis, keepdims: ShapeDtype(x.shape, ans.dtype))
def_batch(_share_p, axes_batch_rule(_share_p, "axis"))


def _tie_share(ans: Any, x: Any, axis: tuple | None, keepdims: bool) -> Any:
    return _share_p.bind(x, ans, axis=axis, keepdims=keepdims)


def _extremum(name: str, impl: Any) -> Primitive:
    prim = reduction_primitive(name, impl)
    def_vjp(prim, lambda ans, x, axis, keepdims: lambda g: multiply(
        _restore(g, x, axis, keepdims), _tie_share(ans, x, axis, keepdims)))
    def_jvp(prim, lambda t, ans, x, axis, keepdims: _sum_p.bind(
        multiply(t, _tie_share(ans, x, axis, keepdims)), axis=axis, keepdims=keepdims))
    return prim


_max_p = _extremum("max", np.max)
_min_p = _extremum("min", np.min)


def max(a: Any, axis: Axis = None, keepdims: bool = False) -> Any:  # noqa: A001
    """Maximum over ``axis``. Tied maxima share the gradient equally (as in JAX)."""
    return reduce(_max_p, a, axis, keepdims)


def min(a: Any, axis: Axis = None, keepdims: bool = False) -> Any:  # noqa: A001
    """Minimum over ``axis``. Tied minima share the gradient equally (as in JAX)."""
    return reduce(_min_p, a, axis, keepdims)


amax, amin = max, min

# --- prod --------------------------------------------------------------------------------


def _product_of_others(ans: Any, x: Any, axis: tuple | None) -> Any:
    """For each element, the product of the other elements of its slice; exact with zeros."""
    is_zero = x == 0
    zeros = _sum_p.bind(is_zero, axis=axis, keepdims=True)
    nonzero_x = where(is_zero, 1, x)
    nonzero_prod = _prod_p.bind(nonzero_x, axis=axis, keepdims=True)
    at_zero = where(zeros == 1, nonzero_prod, 0)
    elsewhere = where(zeros == 0, divide(nonzero_prod, nonzero_x), 0)
    return where(is_zero, at_zero, elsewhere)


_prod_p = reduction_primitive("prod", np.prod)
def_vjp(_prod_p, lambda ans, x, axis, keepdims: lambda g: multiply(
    _restore(g, x, axis, keepdims), _product_of_others(ans, x, axis)))
def_jvp(_prod_p, lambda t, ans, x, axis, keepdims: _sum_p.bind(
    multiply(t, _product_of_others(ans, x, axis)), axis=axis, keepdims=keepdims))


def prod(a: Any, axis: Axis = None, keepdims: bool = False) -> Any:
    """Product of elements over ``axis``; its gradient is exact when elements are zero."""
    return reduce(_prod_p, a, axis, keepdims)


# --- composites --------------------------------------------------------------------------


def mean(a: Any, axis: Axis = None, keepdims: bool = False) -> Any:
    """Arithmetic mean over ``axis``."""
    axes = normalize_axis(axis, ndim_of(a))
    return divide(_sum_p.bind(a, axis=axes, keepdims=keepdims), _reduced_size(shape_of(a), axes))


def var(a: Any, axis: Axis = None, ddof: int = 0, keepdims: bool = False) -> Any:
    """Variance over ``axis`` with ``ddof`` delta degrees of freedom (NumPy's ``var``)."""
    axes = normalize_axis(axis, ndim_of(a))
    n = _reduced_size(shape_of(a), axes)
    centered = subtract(a, mean(a, axes, keepdims=True))
    return divide(_sum_p.bind(square(centered), axis=axes, keepdims=keepdims), n - ddof)


def std(a: Any, axis: Axis = None, ddof: int = 0, keepdims: bool = False) -> Any:
    """Standard deviation over ``axis`` (NumPy's ``std``). Its gradient is infinite at zero spread."""
    return sqrt(var(a, axis, ddof=ddof, keepdims=keepdims))


def logsumexp(a: Any, axis: Axis = None, b: Any = None, keepdims: bool = False) -> Any:
    """``log(sum(b * exp(a)))`` over ``axis``, computed without overflow (SciPy's signature).

    The largest element is subtracted first (as a constant, so the gradient is the exact
    softmax); slices that are all ``-inf`` give ``-inf``.
    """
    axes = normalize_axis(axis, ndim_of(a))
    shift = stop_gradient(_max_p.bind(a, axis=axes, keepdims=True))
    shift = where(isfinite(shift), shift, 0)
    terms = exp(subtract(a, shift))
    if b is not None:
        terms = multiply(b, terms)
    total = _sum_p.bind(terms, axis=axes, keepdims=True)
    out = add(log(total), shift)
    return out if keepdims else reshape(out, _drop_axes(shape_of(out), axes))


def _drop_axes(shape: tuple, axis: tuple | None) -> tuple[int, ...]:
    return () if axis is None else tuple(d for i, d in enumerate(shape) if i not in axis)


# --- without derivative ------------------------------------------------------------------


def _arg_primitive(name: str, impl: Any) -> Primitive:
    prim = Primitive(name, lambda x, axis, keepdims: impl(x, axis=axis, keepdims=keepdims))

    def rule(x: ShapeDtype, axis: int | None, keepdims: bool) -> ShapeDtype:
        axes = None if axis is None else (axis,)
        return ShapeDtype(_reduced_shape(x.shape, axes, keepdims), np.intp)

    def batch(size: int, args: Any, dims: tuple, axis: int | None, keepdims: bool) -> tuple[Any, int]:
        x = move_axis(args[0], dims[0], 0, size)
        rank = len(shape_of(x)) - 1
        if axis is not None:
            return prim.bind(x, axis=axis + 1, keepdims=keepdims), 0
        flat = prim.bind(reshape(x, (size, -1)), axis=1, keepdims=False)  # over each example's elements
        return (reshape(flat, (size,) + (1,) * rank) if keepdims else flat), 0
    def_abstract_eval(prim, rule)
    def_batch(prim, batch)
    return prim


_all_p = reduction_primitive("all", np.all)
_any_p = reduction_primitive("any", np.any)


def all(a: Any, axis: Axis = None, keepdims: bool = False) -> Any:  # noqa: A001
    """Whether all elements along ``axis`` are true; no derivative."""
    return reduce(_all_p, a, axis, keepdims)


def any(a: Any, axis: Axis = None, keepdims: bool = False) -> Any:  # noqa: A001
    """Whether any element along ``axis`` is true; no derivative."""
    return reduce(_any_p, a, axis, keepdims)


_argmax_p = _arg_primitive("argmax", np.argmax)
_argmin_p = _arg_primitive("argmin", np.argmin)


def _arg_axis(a: Any, axis: int | None) -> int | None:
    if axis is None:
        return None
    axes = normalize_axis(int(axis), ndim_of(a))
    return axes[0] if axes else None


def argmax(a: Any, axis: int | None = None, keepdims: bool = False) -> Any:
    """Index of the maximum (first on ties); an integer array, no derivative."""
    return _argmax_p.bind(a, axis=_arg_axis(a, axis), keepdims=keepdims)


def argmin(a: Any, axis: int | None = None, keepdims: bool = False) -> Any:
    """Index of the minimum (first on ties); an integer array, no derivative."""
    return _argmin_p.bind(a, axis=_arg_axis(a, axis), keepdims=keepdims)
