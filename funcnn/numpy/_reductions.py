"""Reductions: ``sum``, ``max``, ``min``, ``prod`` as primitives; ``mean``, ``var``, ``std``,
``logsumexp`` composed from them; ``argmax``/``argmin``, ``all``/``any`` without derivative."""
from __future__ import annotations

import builtins
import math
import operator
import warnings
from typing import Any

import numpy as np
from numpy.exceptions import AxisError

from funcnn.extend import (
    Primitive, ShapeDtype, axes_batch_rule, def_abstract_eval, def_batch, def_jvp, def_vjp, dtype_of,
    move_axis, ndim_of, probe_dtype, shape_of,
    sum_to_shape,  # noqa: F401  (re-exported for the op families)
)
from funcnn.numpy._creation import asarray
from funcnn.numpy._elementwise import (
    add, astype, divide, exp, log, multiply, power, sqrt, square, stop_gradient, subtract, where,
)
from funcnn.numpy._logic import isfinite
from funcnn.numpy._shape import broadcast_to, reshape

Axis = Any  # None, an int or a tuple of ints


def normalize_axis(axis: Axis, ndim: int, name: str = "axis", who: str = "reduction",
                   scalar_axis: bool = True) -> tuple[int, ...] | None:
    """``axis`` as a sorted tuple of non-negative ints (``None`` stays ``None``), checked as
    NumPy checks it: ``TypeError`` for anything but integers (bools included),
    ``numpy.exceptions.AxisError`` for an axis out of range, ``ValueError`` for a repeat.

    With ``scalar_axis`` (NumPy's ufunc reductions: ``sum``, ``max``...), axis 0 or -1 of a
    0-d array is accepted and reduces nothing (``()``); ``mean``, ``var`` and ``std`` refuse it,
    as NumPy's do.
    """
    if axis is None:
        return None
    entries = tuple(axis) if isinstance(axis, (tuple, list)) else (axis,)
    out = [_axis_index(a, axis, ndim, name, who, scalar_axis) for a in entries]
    if len(set(out)) != len(out):
        raise ValueError(f"{who}: repeated axis in {name}={axis!r}")
    return tuple(sorted(a for a in out if a < ndim))  # a 0-d array's axis 0 reduces nothing


def _axis_index(a: Any, axis: Axis, ndim: int, name: str, who: str, scalar_axis: bool) -> int:
    """One entry of ``axis`` as a non-negative int (``ndim`` itself for a 0-d array's axis 0)."""
    try:
        if isinstance(a, (bool, np.bool_)):
            raise TypeError
        index = operator.index(a)
    except TypeError:
        raise TypeError(f"{who}: {name} must be an integer, a tuple of integers or None; got "
                        f"{axis!r} (of type {type(a).__name__})") from None
    bound = builtins.max(ndim, 1) if scalar_axis else ndim
    if not -bound <= index < bound:
        raise AxisError(f"{who}: {name} {index} is out of bounds for an array of dimension {ndim}"
                        + ("" if a is axis else f" ({name}={axis!r})"))
    return index % bound if ndim else ndim


def refuse_complex(a: Any, who: str) -> None:
    """Raise ``TypeError`` if ``a`` is complex: for functions whose formula (an order, a
    variance, a log-probability) has no complex meaning, instead of a complex result."""
    if dtype_of(a).kind == "c":
        raise TypeError(f"complex values are not supported by {who} (got dtype {dtype_of(a)}); "
                        "pass the real and imaginary parts separately")


def float_operand(x: Any, who: str) -> Any:
    """``x`` as an array of a floating dtype, for a function that computes in floating point.

    Integers and booleans are converted first, to the dtype NumPy's ``exp`` gives them
    (bool, int8, uint8: float16; int16, uint16: float32; wider: float64), so that no
    subtraction or negation wraps around; complex values raise ``TypeError``.
    """
    x = asarray(x)
    dtype = dtype_of(x)
    refuse_complex(x, who)
    if dtype.kind in "biu":
        return astype(x, np.promote_types(dtype, np.float16))
    return x


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
    return prim.bind(a, axis=normalize_axis(axis, ndim_of(a), who=prim.name), keepdims=keepdims)


def _reduced_size(shape: tuple, axis: tuple | None) -> int:
    return math.prod(shape) if axis is None else math.prod(shape[i] for i in axis)


def _restore(g: Any, x: Any, axis: tuple | None, keepdims: bool) -> Any:
    """Broadcast a reduced cotangent back over the reduced axes of ``x``."""
    shape = shape_of(x)
    if not keepdims:
        g = reshape(g, kept_shape(shape, axis))
    return broadcast_to(g, shape)


# --- sum ---------------------------------------------------------------------------------

def _sum_impl(x: Any, axis: tuple | None = None, keepdims: bool = False) -> Any:
    """``np.sum``, accumulating float16 in float32 (as PyTorch does): NumPy's float16 sums
    lose whole units past 2048 and overflow in partial sums whose total fits."""
    if getattr(x, "dtype", None) == np.float16:
        return np.sum(x, axis=axis, keepdims=keepdims, dtype=np.float32).astype(np.float16)
    return np.sum(x, axis=axis, keepdims=keepdims)


_sum_p = reduction_primitive("sum", _sum_impl)
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
#
# float16 statistics are computed in float32 and rounded once at the end (as PyTorch does):
# the sum of a few dozen float16 squares of size 50 already overflows float16's 65504.


def widened(a: Any) -> Any:
    """``a`` in float32 if it is float16, else unchanged: the dtype to accumulate it in."""
    return astype(a, np.float32) if dtype_of(a) == np.float16 else a


def narrowed(result: Any, a: Any) -> Any:
    """``result`` (computed from ``widened(a)``) rounded back to float16 if ``a`` is float16."""
    return astype(result, np.float16) if dtype_of(a) == np.float16 else result


def mean(a: Any, axis: Axis = None, keepdims: bool = False) -> Any:
    """Arithmetic mean over ``axis`` (float16 accumulated in float32)."""
    axes = normalize_axis(axis, ndim_of(a), who="mean", scalar_axis=False)
    total = _sum_p.bind(widened(a), axis=axes, keepdims=keepdims)
    return narrowed(divide(total, _reduced_size(shape_of(a), axes)), a)


def _wide_var(a: Any, axis: Axis, ddof: Any, keepdims: bool, who: str) -> Any:
    """The variance, in float32 for float16 ``a``; NumPy's divisor ``max(n - ddof, 0)``."""
    refuse_complex(a, who)
    axes = normalize_axis(axis, ndim_of(a), who=who, scalar_axis=False)
    dof = _reduced_size(shape_of(a), axes) - ddof
    if dof <= 0:  # NumPy's warning and result: inf, or nan where the spread is 0
        warnings.warn("Degrees of freedom <= 0 for slice", RuntimeWarning, stacklevel=3)
        dof = 0
    wide = widened(a)
    centered = subtract(wide, mean(wide, axes, keepdims=True))
    return divide(_sum_p.bind(square(centered), axis=axes, keepdims=keepdims), dof)


def var(a: Any, axis: Axis = None, ddof: int = 0, keepdims: bool = False) -> Any:
    """Variance over ``axis`` with ``ddof`` delta degrees of freedom (NumPy's ``var``).

    ``ddof >= n`` gives inf (nan at zero spread) with a ``RuntimeWarning``, as in NumPy;
    float16 is accumulated in float32; complex values raise ``TypeError``.
    """
    return narrowed(_wide_var(a, axis, ddof, keepdims, "var"), a)


def root_flat_at_zero(total: Any, p: float = 2) -> Any:
    """``total ** (1 / p)`` (a square root for ``p = 2``) whose derivatives at ``total == 0`` are
    taken as 0 instead of infinite, the convention of ``std`` and ``linalg.norm`` at zero spread
    (the inner ``where`` keeps the unused branch finite, so every order is finite there too)."""
    zero = total == 0
    safe = where(zero, 1.0, total)
    return where(zero, 0.0, sqrt(safe) if p == 2 else power(safe, 1.0 / p))


def std(a: Any, axis: Axis = None, ddof: int = 0, keepdims: bool = False) -> Any:
    """Standard deviation over ``axis`` (NumPy's ``std``).

    At zero spread (a constant slice, or a single element) its derivative is taken as 0, as
    in PyTorch and autograd, not the infinite one of ``sqrt`` at 0: normalising a batch of
    one then gives zero gradients, not NaN. Otherwise as :func:`var`.
    """
    return narrowed(root_flat_at_zero(_wide_var(a, axis, ddof, keepdims, "std")), a)


def logsumexp(a: Any, axis: Axis = None, b: Any = None, keepdims: bool = False) -> Any:
    """``log(sum(b * exp(a)))`` over ``axis``, computed without overflow (SciPy's signature).

    The largest element is subtracted first (as a constant, so the gradient is the exact
    softmax); slices that are all ``-inf`` give ``-inf``. Integer inputs are converted to
    floating point first (as ``np.exp`` converts them); complex ones raise ``TypeError``.
    """
    a = float_operand(a, "logsumexp")
    axes = normalize_axis(axis, ndim_of(a), who="logsumexp")
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


def _arg_axis(a: Any, axis: int | None, who: str) -> int | None:
    if axis is None:
        return None
    if isinstance(axis, (tuple, list)):
        raise TypeError(f"{who}: axis must be an integer or None (one axis); got {axis!r}")
    axes = normalize_axis(axis, ndim_of(a), who=who)
    return axes[0] if axes else None


def argmax(a: Any, axis: int | None = None, keepdims: bool = False) -> Any:
    """Index of the maximum (first on ties); an integer array, no derivative."""
    return _argmax_p.bind(a, axis=_arg_axis(a, axis, "argmax"), keepdims=keepdims)


def argmin(a: Any, axis: int | None = None, keepdims: bool = False) -> Any:
    """Index of the minimum (first on ties); an integer array, no derivative."""
    return _argmin_p.bind(a, axis=_arg_axis(a, axis, "argmin"), keepdims=keepdims)
