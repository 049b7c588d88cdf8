"""Reductions: ``sum``, ``max``, ``min``, ``prod`` as primitives; ``mean``, ``var``, ``std``,
``logsumexp`` composed from them; ``argmax``/``argmin`` without derivative."""
from __future__ import annotations

import builtins
import math
from typing import Any

import numpy as np

from funcnn._src.core import Primitive, concrete, defjvp, defvjp, dtype_of, ndim_of, shape_of
from funcnn.numpy._elementwise import (
    add, divide, exp, log, multiply, sqrt, square, stop_gradient, subtract, where,
)
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


def _reduced_size(shape: tuple, axis: tuple | None) -> int:
    return math.prod(shape) if axis is None else math.prod(shape[i] for i in axis)


def _restore(g: Any, x: Any, axis: tuple | None, keepdims: bool) -> Any:
    """Broadcast a reduced cotangent back over the reduced axes of ``x``."""
    shape = shape_of(x)
    if not keepdims:
        g = reshape(g, kept_shape(shape, axis))
    return broadcast_to(g, shape)


# --- sum ---------------------------------------------------------------------------------

_sum_p = Primitive("sum", lambda x, axis, keepdims: np.sum(x, axis=axis, keepdims=keepdims))
defvjp(_sum_p, lambda ans, x, axis, keepdims: lambda g: _restore(g, x, axis, keepdims))
defjvp(_sum_p, lambda t, ans, x, axis, keepdims: _sum_p.bind(t, axis=axis, keepdims=keepdims))


def sum(a: Any, axis: Axis = None, dtype: Any = None, keepdims: bool = False) -> Any:  # noqa: A001
    """Sum of elements over ``axis`` (NumPy's ``sum``)."""
    if dtype is not None:
        from funcnn.numpy._elementwise import astype

        a = astype(a, dtype)
    return _sum_p.bind(a, axis=normalize_axis(axis, ndim_of(a)), keepdims=keepdims)


def sum_to_shape(x: Any, shape: tuple) -> Any:
    """Sum ``x`` down to ``shape``: the inverse of broadcasting ``shape`` up to ``x.shape``."""
    xshape = shape_of(x)
    lead = len(xshape) - len(shape)
    if lead < 0:
        raise ValueError(f"cannot sum an array of shape {xshape} down to the larger shape {shape}")
    kept = tuple(lead + i for i, d in enumerate(shape) if d == 1 and xshape[lead + i] != 1)
    if not kept:  # only leading axes to remove (a bias's gradient): one sum, no reshape
        return _sum_p.bind(x, axis=tuple(range(lead)), keepdims=False) if lead else x
    x = _sum_p.bind(x, axis=tuple(range(lead)) + kept, keepdims=True)
    return reshape(x, shape) if shape_of(x) != shape else x


# --- max / min ---------------------------------------------------------------------------


def _tie_share(ans: Any, x: Any, axis: tuple | None, keepdims: bool) -> np.ndarray:
    """1/k at each of the k positions that attain the extremum of their slice, 0 elsewhere."""
    cx, cans = concrete(x), concrete(ans)
    if not keepdims:
        cans = np.reshape(cans, kept_shape(shape_of(cx), axis))
    hits = cx == cans
    share = hits / np.sum(hits, axis=axis, keepdims=True)
    return share.astype(dtype_of(ans), copy=False)


def _extremum(name: str, impl: Any) -> Primitive:
    prim = Primitive(name, lambda x, axis, keepdims: impl(x, axis=axis, keepdims=keepdims))
    defvjp(prim, lambda ans, x, axis, keepdims: lambda g: multiply(
        _restore(g, x, axis, keepdims), _tie_share(ans, x, axis, keepdims)))
    defjvp(prim, lambda t, ans, x, axis, keepdims: _sum_p.bind(
        multiply(t, _tie_share(ans, x, axis, keepdims)), axis=axis, keepdims=keepdims))
    return prim


_max_p = _extremum("max", np.max)
_min_p = _extremum("min", np.min)


def max(a: Any, axis: Axis = None, keepdims: bool = False) -> Any:  # noqa: A001
    """Maximum over ``axis``. Tied maxima share the gradient equally (as in JAX)."""
    return _max_p.bind(a, axis=normalize_axis(axis, ndim_of(a)), keepdims=keepdims)


def min(a: Any, axis: Axis = None, keepdims: bool = False) -> Any:  # noqa: A001
    """Minimum over ``axis``. Tied minima share the gradient equally (as in JAX)."""
    return _min_p.bind(a, axis=normalize_axis(axis, ndim_of(a)), keepdims=keepdims)


amax, amin = max, min

# --- prod --------------------------------------------------------------------------------


def _product_of_others(ans: Any, x: Any, axis: tuple | None) -> Any:
    """For each element, the product of the other elements of its slice; exact with zeros."""
    is_zero = concrete(x) == 0
    zeros = np.sum(is_zero, axis=axis, keepdims=True)
    nonzero_x = where(is_zero, 1, x)
    nonzero_prod = _prod_p.bind(nonzero_x, axis=axis, keepdims=True)
    at_zero = where(zeros == 1, nonzero_prod, 0)
    elsewhere = where(zeros == 0, divide(nonzero_prod, nonzero_x), 0)
    return where(is_zero, at_zero, elsewhere)


_prod_p = Primitive("prod", lambda x, axis, keepdims: np.prod(x, axis=axis, keepdims=keepdims))
defvjp(_prod_p, lambda ans, x, axis, keepdims: lambda g: multiply(
    _restore(g, x, axis, keepdims), _product_of_others(ans, x, axis)))
defjvp(_prod_p, lambda t, ans, x, axis, keepdims: _sum_p.bind(
    multiply(t, _product_of_others(ans, x, axis)), axis=axis, keepdims=keepdims))


def prod(a: Any, axis: Axis = None, keepdims: bool = False) -> Any:
    """Product of elements over ``axis``; its gradient is exact when elements are zero."""
    return _prod_p.bind(a, axis=normalize_axis(axis, ndim_of(a)), keepdims=keepdims)


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
    shift = where(np.isfinite(concrete(shift)), shift, 0)
    terms = exp(subtract(a, shift))
    if b is not None:
        terms = multiply(b, terms)
    total = _sum_p.bind(terms, axis=axes, keepdims=True)
    out = add(log(total), shift)
    return out if keepdims else reshape(out, _drop_axes(shape_of(out), axes))


def _drop_axes(shape: tuple, axis: tuple | None) -> tuple[int, ...]:
    return () if axis is None else tuple(d for i, d in enumerate(shape) if i not in axis)


# --- without derivative ------------------------------------------------------------------

_argmax_p = Primitive("argmax", lambda x, axis, keepdims: np.argmax(x, axis=axis, keepdims=keepdims))
_argmin_p = Primitive("argmin", lambda x, axis, keepdims: np.argmin(x, axis=axis, keepdims=keepdims))


def argmax(a: Any, axis: int | None = None, keepdims: bool = False) -> Any:
    """Index of the maximum (first on ties); an integer array, no derivative."""
    return _argmax_p.bind(a, axis=axis, keepdims=keepdims)


def argmin(a: Any, axis: int | None = None, keepdims: bool = False) -> Any:
    """Index of the minimum (first on ties); an integer array, no derivative."""
    return _argmin_p.bind(a, axis=axis, keepdims=keepdims)
