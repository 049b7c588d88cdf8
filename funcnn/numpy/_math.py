"""More elementwise functions: base-2 and base-10 logarithms, inverse trigonometric and
hyperbolic functions, ``hypot``, ``sinc``, NaN-ignoring extrema, stable ``logaddexp``,
division with remainder; and ``nan_to_num`` and ``select``, composed from ``where``.

Each primitive is defined as in ``_elementwise.py``: one ``partial(g, ans, *args)`` per
argument, written with ``funcnn.numpy`` ops so that every order of derivative works.
Where a function has a kink or a pole, the derivative there is stated in its docstring.
"""
from __future__ import annotations

import math
from typing import Any, Sequence

import numpy as np

from funcnn.extend import (
    Tracer, broadcast_to, def_elementwise, dtype_of,
    shape_of,
)
from funcnn.numpy._elementwise import (
    add, astype, binary, divide, elementwise_primitive, extremum_share, logistic, multiply, negative, rint, sign,
    sqrt, square, subtract, unary, where,
)
from funcnn.numpy._logic import equal, greater, isfinite, isinf, isnan, logical_and

Op = Any
_LN2 = math.log(2.0)
_LN10 = math.log(10.0)


def _one_minus_square(x: Any) -> Any:
    """``1 - x**2`` as ``(1 - x) * (1 + x)``: accurate near ``|x| = 1``."""
    return multiply(subtract(1, x), add(1, x))


# --- logarithms and exponentials -------------------------------------------------------------

log2: Op = unary("log2", np.log2, lambda g, ans, x: divide(g, multiply(x, _LN2)),
                  "Elementwise base-2 logarithm.\n\n>>> log2(np.array([1.0, 8.0]))\narray([0., 3.])")
log10: Op = unary("log10", np.log10, lambda g, ans, x: divide(g, multiply(x, _LN10)),
                   "Elementwise base-10 logarithm.\n\n>>> log10(np.array([1.0, 100.0]))\narray([0., 2.])")
exp2: Op = unary("exp2", np.exp2, lambda g, ans, x: multiply(g, multiply(ans, _LN2)),
                  "Elementwise ``2**x``.\n\n>>> exp2(np.array([0.0, 3.0]))\narray([1., 8.])")

# --- inverse trigonometric and hyperbolic ----------------------------------------------------

arcsin: Op = unary("arcsin", np.arcsin, lambda g, ans, x: divide(g, sqrt(_one_minus_square(x))),
                    "Elementwise inverse sine, on ``[-1, 1]``; the derivative is infinite at the ends.")
arccos: Op = unary("arccos", np.arccos, lambda g, ans, x: negative(divide(g, sqrt(_one_minus_square(x)))),
                    "Elementwise inverse cosine, on ``[-1, 1]``; the derivative is infinite at the ends.")
arcsinh: Op = unary("arcsinh", np.arcsinh, lambda g, ans, x: divide(g, sqrt(add(square(x), 1))),
                     "Elementwise inverse hyperbolic sine.")
arccosh: Op = unary("arccosh", np.arccosh,
                     lambda g, ans, x: divide(g, sqrt(multiply(subtract(x, 1), add(x, 1)))),
                     "Elementwise inverse hyperbolic cosine, on ``[1, inf)``; the derivative is infinite at 1.")
arctanh: Op = unary("arctanh", np.arctanh, lambda g, ans, x: divide(g, _one_minus_square(x)),
                     "Elementwise inverse hyperbolic tangent, on ``(-1, 1)``.")


def _nonzero(r: Any) -> Any:
    """``r`` with zeros replaced by ones: a safe denominator where the numerator is zero too."""
    return where(equal(r, 0), 1, r)


def _radius_squared(x: Any, y: Any) -> Any:
    return add(square(x), square(y))


arctan2: Op = binary(
    "arctan2", np.arctan2,
    (lambda g, ans, y, x: divide(multiply(g, x), _nonzero(_radius_squared(x, y))),
     lambda g, ans, y, x: negative(divide(multiply(g, y), _nonzero(_radius_squared(x, y))))),
    "Elementwise angle of the point ``(x2, x1)``: ``arctan(x1 / x2)`` in the right quadrant.\n\n"
    "Its derivative at the origin, where the angle jumps, is taken as 0.")
hypot: Op = binary(
    "hypot", np.hypot,
    (lambda g, ans, x, y: divide(multiply(g, x), _nonzero(ans)),
     lambda g, ans, x, y: divide(multiply(g, y), _nonzero(ans))),
    "Elementwise ``sqrt(x1**2 + x2**2)`` without overflow; its derivative at the origin is taken as 0.\n\n"
    ">>> hypot(np.array([3.0, 0.0]), 4.0)\narray([5., 4.])")
fabs: Op = unary("fabs", np.fabs, lambda g, ans, x: multiply(g, sign(x)),
                  "Elementwise absolute value of real numbers (always a float result, as NumPy's); "
                  "the derivative at 0 is taken as 0.")


# --- sinc: its derivatives of every order, accurate near zero ---------------------------------


def _sinc_derivative_impl(x: Any, order: int) -> np.ndarray:
    """The ``order``-th derivative of ``sin(pi x) / (pi x)``, in NumPy's dtype for ``sinc``.

    With ``t = pi x``, ``sin(t) / t`` is the integral of ``cos(s t)`` over ``s`` in ``[0, 1]``, so its
    k-th derivative is ``C_k(t) = integral of s**k cos(s t + k pi / 2)``. A power series gives it for
    small ``|t|``; above that, integration by parts gives ``C_k`` from ``C_(k-1)`` without loss.
    """
    x = np.asarray(x)
    dtype = x.dtype if x.dtype.kind == "f" else np.dtype(np.float64)
    t = np.pi * x.astype(np.float64)
    small = np.abs(t) < order + 3.0
    out = np.where(small, _sinc_series(np.where(small, t, 0.0), order),
                   _sinc_recurrence(np.where(small, 1.0, t), order))
    return (out * np.pi ** order).astype(dtype)


def _sinc_series(t: np.ndarray, k: int) -> np.ndarray:
    """``sum over m of cos^(k+m)(0) t**m / (m! (k + m + 1))`` for ``|t| < k + 3``: 60 terms are plenty."""
    total = np.zeros_like(t)
    power = np.ones_like(t)  # t**m / m!
    for m in range(60):
        c = (1.0, 0.0, -1.0, 0.0)[(k + m) % 4]
        if c:
            total += c * power / (k + m + 1)
        power = power * t / (m + 1)
    return total


def _sinc_recurrence(t: np.ndarray, k: int) -> np.ndarray:
    """``C_k(t)`` for ``|t| >= k + 3`` from the integrals of ``s**j cos(s t)`` and ``s**j sin(s t)``:
    ``c_j = sin(t)/t - j s_(j-1)/t`` and ``s_j = -cos(t)/t + j c_(j-1)/t``."""
    s_t, c_t = np.sin(t), np.cos(t)
    c, s = s_t / t, (1 - c_t) / t
    for j in range(1, k + 1):
        c, s = s_t / t - j * s / t, -c_t / t + j * c / t
    return (c, -s, -c, s)[k % 4]


_sinc_derivative_p = elementwise_primitive("sinc_derivative", _sinc_derivative_impl)
def_elementwise(_sinc_derivative_p, lambda g, ans, x, order: multiply(
    g, _sinc_derivative_p.bind(x, order=order + 1)))

sinc: Op = unary(
    "sinc", np.sinc, lambda g, ans, x: multiply(g, _sinc_derivative_p.bind(x, order=1)),
    "Elementwise ``sin(pi x) / (pi x)``, 1 at 0 (NumPy's normalized ``sinc``). Its derivatives of every\n"
    "order are accurate at and near 0.\n\n"
    ">>> sinc(np.array([0.0, 0.5, 1.0])).round(4)\narray([1.    , 0.6366, 0.    ])")


# --- extrema that ignore NaN -----------------------------------------------------------------


def _nan_share(ans: Any, x: Any, y: Any, op: str) -> Any:
    return extremum_share(ans, x, y, op, ignore_nan=True)


fmax: Op = binary(
    "fmax", np.fmax,
    (lambda g, ans, x, y: multiply(g, _nan_share(ans, x, y, "greater")),
     lambda g, ans, x, y: multiply(g, _nan_share(ans, y, x, "greater"))),
    "Elementwise maximum that ignores NaN: where one argument is NaN the other is returned (and gets\n"
    "the gradient). At a tie each argument gets half the gradient, as with ``maximum``.\n\n"
    ">>> fmax(np.array([1.0, np.nan, np.nan]), np.array([2.0, 3.0, np.nan]))\narray([ 2.,  3., nan])")
fmin: Op = binary(
    "fmin", np.fmin,
    (lambda g, ans, x, y: multiply(g, _nan_share(ans, x, y, "less")),
     lambda g, ans, x, y: multiply(g, _nan_share(ans, y, x, "less"))),
    "Elementwise minimum that ignores NaN (see ``fmax``).\n\n"
    ">>> fmin(np.array([1.0, np.nan]), np.array([2.0, 3.0]))\narray([1., 3.])")


# --- log of sums of exponentials --------------------------------------------------------------


def _gap(x: Any, y: Any) -> Any:
    """``x - y``, but 0 where both are the same infinity (instead of NaN): a tie."""
    same_infinity = logical_and(equal(x, y), isinf(x))
    return subtract(where(same_infinity, 0, x), where(same_infinity, 0, y))


logaddexp: Op = binary(
    "logaddexp", np.logaddexp,
    (lambda g, ans, x, y: multiply(g, logistic(_gap(x, y))),
     lambda g, ans, x, y: multiply(g, logistic(_gap(y, x)))),
    "Elementwise ``log(exp(x1) + exp(x2))`` without overflow. Its derivative in ``x1`` is\n"
    "``logistic(x1 - x2)``, 1/2 each where both are the same infinity.\n\n"
    ">>> logaddexp(np.array([1000.0, -np.inf]), np.array([1000.0, 0.0]))\narray([1000.69314718,    0.        ])")
logaddexp2: Op = binary(
    "logaddexp2", np.logaddexp2,
    (lambda g, ans, x, y: multiply(g, logistic(multiply(_gap(x, y), _LN2))),
     lambda g, ans, x, y: multiply(g, logistic(multiply(_gap(y, x), _LN2)))),
    "Elementwise ``log2(2**x1 + 2**x2)`` without overflow (see ``logaddexp``).\n\n"
    ">>> logaddexp2(np.array([3.0]), np.array([3.0]))\narray([4.])")


# --- division with remainder -----------------------------------------------------------------

floor_divide: Op = binary(
    "floor_divide", np.floor_divide, None,
    "Elementwise ``x1 // x2``, rounded down (Python's and NumPy's convention); zero gradient.\n\n"
    ">>> floor_divide(np.array([7.0, -7.0]), 2.0)\narray([ 3., -4.])")
remainder: Op = binary(
    "remainder", np.remainder,
    (lambda g, ans, x, y: g, lambda g, ans, x, y: negative(multiply(g, floor_divide(x, y)))),
    "Elementwise ``x1 % x2`` with the sign of ``x2`` (Python's and NumPy's ``mod``).\n\n"
    "Derivatives as in JAX: 1 in ``x1`` and ``-floor(x1 / x2)`` in ``x2`` (``x1 - x2 * floor(x1 / x2)``\n"
    "with the quotient held constant).\n\n>>> remainder(np.array([7.0, -7.0]), 2.0)\narray([1., 1.])")
mod = remainder


def _truncated_quotient(ans: Any, x: Any, y: Any) -> Any:
    """The integer ``q`` with ``x = q y + fmod(x, y)``: exact, where ``trunc(x / y)`` may round up."""
    return rint(divide(subtract(x, ans), y))


fmod: Op = binary(
    "fmod", np.fmod,
    (lambda g, ans, x, y: g, lambda g, ans, x, y: negative(multiply(g, _truncated_quotient(ans, x, y)))),
    "Elementwise remainder of ``x1 / x2`` with the sign of ``x1`` (C's ``fmod``).\n\n"
    "Derivatives as in JAX: 1 in ``x1`` and ``-trunc(x1 / x2)`` in ``x2``.\n\n"
    ">>> fmod(np.array([7.0, -7.0]), 2.0)\narray([ 1., -1.])")


# --- composites --------------------------------------------------------------------------------


def nan_to_num(x: Any, copy: bool = True, nan: float = 0.0, posinf: float | None = None,
               neginf: float | None = None) -> Any:
    """``x`` with NaN replaced by ``nan`` and infinities by ``posinf`` and ``neginf`` (by default the
    largest and smallest finite values of its dtype). The gradient flows to the finite elements.

    ``x`` : a real array of any shape; integer and boolean arrays are returned as they are.

    >>> import numpy as np
    >>> nan_to_num(np.array([1.0, np.nan, np.inf, -np.inf]), posinf=9.0, neginf=-9.0)
    array([ 1.,  0.,  9., -9.])
    """
    if not isinstance(x, Tracer):
        x = np.array(x) if copy else np.asarray(x)
    dtype = dtype_of(x)
    if dtype.kind == "c":
        raise TypeError("nan_to_num: complex arrays are not supported")
    if dtype.kind != "f":
        return x
    info = np.finfo(dtype)
    high = info.max if posinf is None else posinf
    low = info.min if neginf is None else neginf
    replaced = where(isnan(x), nan, where(greater(x, 0), high, low))
    return where(isfinite(x), x, astype(replaced, dtype))


def select(condlist: Sequence[Any], choicelist: Sequence[Any], default: Any = 0) -> Any:
    """Elementwise, the entry of the first choice whose condition holds, else ``default``.

    Conditions and choices broadcast together; conditions are boolean arrays (no derivative),
    and the gradient flows to the choice taken at each position.

    >>> import numpy as np
    >>> x = np.array([-2.0, 0.5, 3.0])
    >>> select([x < 0, x > 1], [-x, x ** 2], default=x)
    array([2. , 0.5, 9. ])
    """
    condlist, choicelist = list(condlist), list(choicelist)
    if len(condlist) != len(choicelist):
        raise ValueError("select: list of cases must be same length as list of conditions")
    if not condlist:
        raise ValueError("select with an empty condition list is not possible")
    for i, cond in enumerate(condlist):
        if dtype_of(cond) != np.bool_:
            raise TypeError(f"select: invalid entry {i} in condlist: should be boolean ndarray "
                            f"(got dtype {dtype_of(cond)})")
    values = [*choicelist, default]
    dtype = np.result_type(*(v if type(v) in (int, float, complex) else dtype_of(v) for v in values))
    shape = np.broadcast_shapes(*(shape_of(v) for v in [*condlist, *values]))
    out = default
    for cond, choice in zip(reversed(condlist), reversed(choicelist)):
        out = where(cond, choice, out)
    return broadcast_to(astype(out, dtype), shape)

