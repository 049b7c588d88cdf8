"""Elementwise primitives: arithmetic, transcendental functions, ``where``, ``clip``, casts.

An elementwise op has a diagonal Jacobian, so one rule per argument serves both
modes: ``partial(g, ans, *args)`` multiplies ``g`` by the partial derivative of
the output with respect to that argument. Reverse mode applies it to a cotangent,
forward mode to a tangent; the engine then sums or broadcasts the result to the
right shape (broadcasting is undone in ``reverse.coerce`` and ``forward.match_output``).
"""
from __future__ import annotations

from typing import Any, Callable

import numpy as np

from funcnn.extend import (
    Primitive, ShapeDtype, Tracer, broadcasting_rule, convert_element_type, def_abstract_eval, def_batch,
    def_elementwise, dtype_of, elementwise_batch_rule,
)
from funcnn.extend import stop_gradient as stop_gradient_op

Partial = Callable[..., Any]
Op = Callable[..., Any]


# NumPy 2 treats Python scalars as "weak" (NEP 50): float32 * 2.0 stays float32. NumPy 1.x
# does so too, except with 0-d arrays; there the scalar is cast to the array's dtype first.
_LEGACY_PROMOTION = int(np.__version__.split(".")[0]) < 2
_PYTHON_SCALARS = (int, float)


def weak_scalars(args: tuple) -> tuple:
    """``args`` with Python scalars cast to the first float array's dtype (NumPy 1.x only)."""
    if not _LEGACY_PROMOTION or not any(type(a) in _PYTHON_SCALARS for a in args):
        return args
    dtypes = [dtype_of(a) for a in args if type(a) not in _PYTHON_SCALARS]
    floats = [d for d in dtypes if d.kind == "f"]
    if not floats:
        return args
    return tuple(np.asarray(a, floats[0]) if type(a) in _PYTHON_SCALARS else a for a in args)


def _public(prim: Primitive, doc: str) -> Callable[..., Any]:
    """The public function of a primitive, named and documented like NumPy's."""
    bind = prim.binder()

    if _LEGACY_PROMOTION and prim.broadcasts:
        def op(*args: Any) -> Any:
            return bind(*weak_scalars(args))
    else:
        op = bind

    op.__name__ = op.__qualname__ = prim.name
    op.__doc__ = doc
    op.__module__ = "funcnn.numpy"
    return op


def elementwise_primitive(name: str, impl: Callable, *, broadcasts: bool = False) -> Primitive:
    """A primitive applied elementwise: its result's shape broadcasts, its dtype is NumPy's,
    and ``vmap`` lines up the batch axes of its operands."""
    prim = Primitive(name, impl, broadcasts=broadcasts)
    def_abstract_eval(prim, broadcasting_rule(prim))
    def_batch(prim, elementwise_batch_rule(prim))
    return prim


def unary(name: str, impl: Callable, partial: Partial | None, doc: str) -> Callable[..., Any]:
    """Define a one-argument elementwise primitive and return its public function."""
    prim = elementwise_primitive(name, impl)
    if partial is not None:
        def_elementwise(prim, partial)
    return _public(prim, doc)


def binary(name: str, impl: Callable, partials: tuple | None, doc: str) -> Callable[..., Any]:
    """Define a two-argument broadcasting primitive and return its public function."""
    prim = elementwise_primitive(name, impl, broadcasts=True)
    if partials is not None:
        def_elementwise(prim, *partials)
    return _public(prim, doc)


# --- arithmetic -------------------------------------------------------------------------

add: Op = binary("add", np.add, (lambda g, ans, x, y: g, lambda g, ans, x, y: g),
             "Elementwise ``x1 + x2`` with broadcasting.")
subtract: Op = binary("subtract", np.subtract, (lambda g, ans, x, y: g, lambda g, ans, x, y: negative(g)),
                  "Elementwise ``x1 - x2`` with broadcasting.")
multiply: Op = binary("multiply", np.multiply,
                  (lambda g, ans, x, y: multiply(g, y), lambda g, ans, x, y: multiply(x, g)),
                  "Elementwise ``x1 * x2`` with broadcasting.")
divide: Op = binary("divide", np.divide,
                (lambda g, ans, x, y: divide(g, y),
                 lambda g, ans, x, y: negative(multiply(g, divide(ans, y)))),
                "Elementwise ``x1 / x2`` with broadcasting.")
true_divide = divide


def _power_base(g: Any, ans: Any, x: Any, y: Any) -> Any:
    # d/dx x**y = y * x**(y - 1), taken as 0 where y == 0 (x**0 is constant), as in PyTorch and
    # autograd: at x = 0 the formula would give 0 * inf = nan.
    if type(y) in _PYTHON_SCALARS:  # a Python exponent stays weak: float32 ** 2 differentiates in float32
        return multiply(g, 0) if y == 0 else multiply(g, multiply(y, power(x, y - 1)))
    # Only x = y = 0 needs the convention: elsewhere the formula is finite, and its derivative
    # in y (x**(y - 1) at y = 0) must survive for second derivatives.
    both_zero = multiply(x == 0, y == 0)  # a product of booleans: "and"
    safe_x = where(both_zero, 1, x)  # keeps the unused branch, and its own derivatives, finite
    return multiply(g, where(both_zero, 0, multiply(y, power(safe_x, subtract(y, 1)))))


def _power_exponent(g: Any, ans: Any, x: Any, y: Any) -> Any:
    positive = x > 0
    log_x = where(positive, log(where(positive, x, 1)), 0)  # d/dy is defined for x > 0 only
    return multiply(g, multiply(ans, log_x))


power: Op = binary("power", np.power, (_power_base, _power_exponent),
               "Elementwise ``x1 ** x2``. The derivative in ``x1`` is taken as 0 where ``x2 == 0`` "
               "(also at ``x1 = 0``), the derivative in ``x2`` as 0 where ``x1 <= 0``.")


def _share_impl(x: Any, y: Any, *, op: str, dtype: np.dtype, ignore_nan: bool = False) -> np.ndarray:
    """1 where ``x`` wins (``op`` is ``greater`` or ``less``), 1/2 where it ties with ``y``, else 0.
    With ``ignore_nan`` (``fmax``, ``fmin``) a number wins against NaN, and two NaN tie."""
    wins, ties = getattr(np, op)(x, y), np.equal(x, y)
    if ignore_nan:
        x_nan, y_nan = np.isnan(x), np.isnan(y)
        wins, ties = wins | (y_nan & ~x_nan), ties | (x_nan & y_nan)
    mask = np.asarray(wins, dtype=dtype)  # a new array: no np.where, which branches
    if ties.any():
        mask[np.broadcast_to(ties, mask.shape)] = 0.5
    return mask


# The share of the gradient ``maximum``/``minimum`` send to an argument: a function of the values,
# without derivative, computed by a primitive of its own (as one pass over the data).
_share_p = Primitive("extremum_share", _share_impl)
def_abstract_eval(_share_p, lambda x, y, op, dtype, ignore_nan=False: ShapeDtype(np.broadcast_shapes(x.shape, y.shape),
                                                                                dtype))
def_batch(_share_p, elementwise_batch_rule(_share_p))


def extremum_share(ans: Any, x: Any, y: Any, op: str, ignore_nan: bool = False) -> Any:
    params = {"ignore_nan": True} if ignore_nan else {}  # maximum's graphs list no flag
    return _share_p.bind(x, y, op=op, dtype=dtype_of(ans), **params)


maximum: Op = binary(
    "maximum", np.maximum,
    (lambda g, ans, x, y: multiply(g, extremum_share(ans, x, y, "greater")),
     lambda g, ans, x, y: multiply(g, extremum_share(ans, y, x, "greater"))),
    "Elementwise maximum. At a tie each argument gets half the gradient (as in JAX and PyTorch).")
minimum: Op = binary(
    "minimum", np.minimum,
    (lambda g, ans, x, y: multiply(g, extremum_share(ans, x, y, "less")),
     lambda g, ans, x, y: multiply(g, extremum_share(ans, y, x, "less"))),
    "Elementwise minimum. At a tie each argument gets half the gradient (as in JAX and PyTorch).")

negative: Op = unary("negative", np.negative, lambda g, ans, x: negative(g), "Elementwise ``-x``.")
square: Op = unary("square", np.square, lambda g, ans, x: multiply(g, multiply(2, x)), "Elementwise ``x**2``.")
sqrt: Op = unary("sqrt", np.sqrt, lambda g, ans, x: divide(g, multiply(2, ans)), "Elementwise square root.")
reciprocal: Op = unary("reciprocal", np.reciprocal,
                   lambda g, ans, x: negative(multiply(g, square(ans))), "Elementwise ``1 / x``.")
abs: Op = unary("abs", np.abs, lambda g, ans, x: multiply(g, sign(x)),  # noqa: A001
            "Elementwise absolute value; its derivative at 0 is taken as 0 (as in JAX and PyTorch).")
absolute = abs

# --- transcendental ----------------------------------------------------------------------

exp: Op = unary("exp", np.exp, lambda g, ans, x: multiply(g, ans), "Elementwise ``e**x``.")
expm1: Op = unary("expm1", np.expm1, lambda g, ans, x: multiply(g, add(ans, 1)),
              "Elementwise ``e**x - 1``, accurate for small ``x``.")
log: Op = unary("log", np.log, lambda g, ans, x: divide(g, x), "Elementwise natural logarithm.")
log1p: Op = unary("log1p", np.log1p, lambda g, ans, x: divide(g, add(x, 1)),
              "Elementwise ``log(1 + x)``, accurate for small ``x``.")
sin: Op = unary("sin", np.sin, lambda g, ans, x: multiply(g, cos(x)), "Elementwise sine.")
cos: Op = unary("cos", np.cos, lambda g, ans, x: negative(multiply(g, sin(x))), "Elementwise cosine.")
tan: Op = unary("tan", np.tan, lambda g, ans, x: multiply(g, add(square(ans), 1)), "Elementwise tangent.")
tanh: Op = unary("tanh", np.tanh, lambda g, ans, x: multiply(g, subtract(1, square(ans))),
             "Elementwise hyperbolic tangent.")
sinh: Op = unary("sinh", np.sinh, lambda g, ans, x: multiply(g, cosh(x)), "Elementwise hyperbolic sine.")
cosh: Op = unary("cosh", np.cosh, lambda g, ans, x: multiply(g, sinh(x)), "Elementwise hyperbolic cosine.")
arctan: Op = unary("arctan", np.arctan, lambda g, ans, x: divide(g, add(square(x), 1)),
               "Elementwise inverse tangent.")


def _logistic(x: Any) -> Any:
    x = np.asarray(x)
    half = (x.dtype if x.dtype.kind == "f" else np.dtype(np.float64)).type(0.5)
    t = np.multiply(half, x)
    if not isinstance(t, np.ndarray):  # a 0-d input gives a scalar
        return half * np.tanh(t) + half
    np.tanh(t, out=t)  # tanh saturates cleanly at both tails: no overflow
    t *= half  # in place: one buffer instead of four (the LSTM's gates spend most time here)
    t += half
    return t


logistic: Op = unary("logistic", _logistic,
                 lambda g, ans, x: multiply(g, multiply(ans, subtract(1, ans))),
                 "The logistic sigmoid ``1 / (1 + e**-x)``, stable at both tails.")

# --- non-differentiable: their results carry no derivative ---------------------------------

sign: Op = unary("sign", np.sign, None, "Elementwise sign (-1, 0 or 1); not differentiable (zero gradient).")
floor: Op = unary("floor", np.floor, None, "Elementwise floor; zero gradient.")
ceil: Op = unary("ceil", np.ceil, None, "Elementwise ceiling; zero gradient.")
rint: Op = unary("rint", np.rint, None, "Round to the nearest integer; zero gradient.")
trunc: Op = unary("trunc", np.trunc, None, "Round towards zero; zero gradient.")
stop_gradient: Op = stop_gradient_op  # the engine's own primitive


def round(x: Any, decimals: int = 0) -> Any:  # noqa: A001
    """Round to ``decimals`` decimals (NumPy's ``round``); zero gradient."""
    return _round_p.bind(x, decimals=int(decimals))


_round_p = elementwise_primitive("round", np.round)
around = round

# --- three-argument ------------------------------------------------------------------------

_SAME_SIZE_INTS = {2: np.int16, 4: np.int32, 8: np.int64}
_SELECT_MIN_SIZE = 1 << 12  # below this, np.where's own speed and fewer calls win


def _where_impl(condition: Any, x: Any, y: Any) -> Any:
    """``np.where``, without branches for large float arrays.

    NumPy's ``where`` branches per element: on an unpredictable condition (a ReLU mask)
    it runs at about 4 ns per element, several times slower than a multiply. Multiplying
    the bit patterns by 1 or 0 as integers gives the same bits (NaNs and signed zeros
    included) without branches.
    """
    if not isinstance(condition, np.ndarray) or condition.dtype != bool or condition.size < _SELECT_MIN_SIZE:
        return np.where(condition, x, y)
    dtype = np.result_type(x, y)
    bits = _SAME_SIZE_INTS.get(dtype.itemsize)
    if dtype.kind != "f" or bits is None:
        return np.where(condition, x, y)
    xb, yb = np.asarray(x, dtype).view(bits), np.asarray(y, dtype).view(bits)
    # bit patterns times 1 or 0, as integers: exact, one pass, and the output keeps the
    # inputs' memory order (a convolution's output is often an NHWC-strided view)
    out = np.multiply(xb, condition, dtype=bits)
    if yb.ndim or yb != 0:  # where(c, x, 0) is the common case: nothing to add for y
        other = np.multiply(yb, np.logical_not(condition), dtype=bits)
        in_place = np.broadcast_shapes(out.shape, other.shape) == out.shape
        out = np.add(out, other, out=out if in_place else None)  # one of the two is 0 everywhere
    return out.view(dtype)


_where_p = elementwise_primitive("where", _where_impl, broadcasts=True)
def_elementwise(_where_p, None,
                lambda g, ans, c, x, y: where(c, g, 0), lambda g, ans, c, x, y: where(c, 0, g))


def where(condition: Any, x: Any = None, y: Any = None) -> Any:
    """Choose ``x`` where ``condition`` holds, else ``y``; the gradient flows to the chosen one.

    ``condition`` is an operand (it may be traced) and carries no derivative. With one
    argument, returns ``nonzero(condition)``, whose size depends on the values: that form
    needs a concrete condition.
    """
    if x is None and y is None:
        from funcnn.extend import concrete

        return np.nonzero(concrete(condition, "where(condition) with one argument (nonzero)"))
    if not isinstance(condition, (np.ndarray, Tracer)):
        condition = np.asarray(condition)
    return _where_p.bind(condition, *weak_scalars((x, y)))


_clip_p = elementwise_primitive("clip", np.clip, broadcasts=True)
def_elementwise(
    _clip_p,
    lambda g, ans, x, lo, hi: multiply(g, multiply(x >= lo, x <= hi)),  # a product of booleans: "and"
    lambda g, ans, x, lo, hi: multiply(g, x < lo),
    lambda g, ans, x, lo, hi: multiply(g, x > hi),
)


def clip(a: Any, a_min: Any = None, a_max: Any = None) -> Any:
    """Limit ``a`` to ``[a_min, a_max]``; the gradient flows to ``a`` inside the range (bounds
    included, as in PyTorch) and to the bound that is active outside it."""
    if a_min is None and a_max is None:
        raise ValueError("clip: give at least one of a_min and a_max")
    lo = -np.inf if a_min is None else a_min
    hi = np.inf if a_max is None else a_max
    return _clip_p.bind(*weak_scalars((a, lo, hi)))


# --- casts ---------------------------------------------------------------------------------


def astype(x: Any, dtype: Any) -> Any:
    """``x`` cast to ``dtype``. A cast to an integer or boolean type carries no derivative."""
    return convert_element_type(x, dtype)

