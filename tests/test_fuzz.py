"""Fuzzing the public functions as users find them: odd dtypes, shapes, values and arguments.

For every call, funcnn must give NumPy's result (same shape, dtype and values, NaN where
NumPy has NaN) or raise a clear error: one of the documented error types, with a
message, never an internal failure (ZeroDivisionError, StopIteration, AttributeError,
KeyError, ...) from deep inside. When NumPy rejects the input, funcnn must too: a
result where NumPy has none is a silently wrong number.
"""
import warnings

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

import funcnn.numpy as fnp

CLEAR_ERRORS = (ValueError, TypeError, IndexError, np.exceptions.AxisError)
DTYPES = [np.float16, np.float32, np.float64, np.int8, np.uint8, np.int64, np.bool_]
SPECIAL = [0.0, -0.0, 1.0, -1.0, np.nan, np.inf, -np.inf, 1e4, -1e4, 0.5, 250.0, 1e-8]


@st.composite
def odd_arrays(draw, min_dims=0):
    """Arrays of any dtype and shape (0-d and empty included), with special values."""
    dtype = draw(st.sampled_from(DTYPES))
    shape = tuple(draw(st.lists(st.integers(0, 3), min_size=min_dims, max_size=3)))
    size = int(np.prod(shape))
    values = draw(st.lists(st.sampled_from(SPECIAL) | st.floats(-3, 3), min_size=size, max_size=size))
    with warnings.catch_warnings(), np.errstate(all="ignore"):
        warnings.simplefilter("ignore")
        array = np.asarray(values, dtype=np.float64).reshape(shape)
        if np.dtype(dtype).kind in "iub":
            array = np.nan_to_num(array, nan=0.0, posinf=3, neginf=-3).clip(-100, 100)
        return array.astype(dtype)


axes = st.one_of(st.none(), st.integers(-4, 4), st.tuples(st.integers(-3, 3), st.integers(-3, 3)),
                 st.sampled_from([1.0, True, "0"]))


def numpy_result(fn, *args, **kwargs):
    with warnings.catch_warnings(), np.errstate(all="ignore"):
        warnings.simplefilter("ignore")
        try:
            return fn(*args, **kwargs), None
        except Exception as err:  # noqa: BLE001  (NumPy's verdict, whatever it is)
            return None, err


def agrees_or_refuses(ours, theirs, args, kwargs, name):
    """funcnn's call agrees with NumPy's, or both refuse (funcnn clearly)."""
    expected, numpy_error = numpy_result(theirs, *args, **kwargs)
    with warnings.catch_warnings(), np.errstate(all="ignore"):
        warnings.simplefilter("ignore")
        try:
            got = ours(*args, **kwargs)
        except CLEAR_ERRORS as err:
            assert str(err), f"{name}: an error without a message"
            return
        except Exception as err:  # noqa: BLE001
            pytest.fail(f"{name}{args_repr(args, kwargs)}: an internal error, not a clear one: "
                        f"{type(err).__name__}: {err}")
    assert numpy_error is None, (f"{name}{args_repr(args, kwargs)} returned {got!r} where NumPy raises "
                                 f"{type(numpy_error).__name__}: {numpy_error}")
    got, expected = np.asarray(got), np.asarray(expected)
    assert got.shape == expected.shape, f"{name}{args_repr(args, kwargs)}: shape {got.shape} vs {expected.shape}"
    if expected.dtype.kind in "fc" and got.dtype.kind in "fc":
        tol = 1e-2 if np.float16 in (got.dtype, expected.dtype) else 1e-5
        np.testing.assert_allclose(got.astype(np.float64), expected.astype(np.float64), rtol=tol, atol=tol,
                                   equal_nan=True, err_msg=f"{name}{args_repr(args, kwargs)}")
    else:
        np.testing.assert_array_equal(got, expected, err_msg=f"{name}{args_repr(args, kwargs)}")


def args_repr(args, kwargs):
    shown = [f"{a.dtype}{list(a.shape)}" if isinstance(a, np.ndarray) else repr(a) for a in args]
    shown += [f"{k}={v!r}" for k, v in kwargs.items()]
    return "(" + ", ".join(shown) + ")"


UNARY = ["abs", "negative", "square", "sqrt", "exp", "expm1", "log", "log1p", "sin", "cos", "tan", "tanh",
         "sinh", "cosh", "arctan", "sign", "floor", "ceil", "rint", "trunc", "reciprocal", "isnan", "isinf",
         "isfinite", "logical_not", "log2", "log10", "exp2", "arcsin", "arccos", "arcsinh", "arccosh", "arctanh",
         "sinc", "fabs", "nan_to_num"]
BINARY = ["add", "subtract", "multiply", "divide", "power", "maximum", "minimum", "equal", "less", "greater",
          "logical_and", "logical_or", "arctan2", "hypot", "fmax", "fmin", "logaddexp", "logaddexp2", "remainder",
          "fmod", "floor_divide"]
INTEGER_DIVISION = ("remainder", "fmod", "floor_divide")
REDUCTIONS = ["sum", "mean", "max", "min", "prod", "var", "std", "any", "all", "argmax", "argmin"]
AXIS_SHAPE = ["flip", "expand_dims", "squeeze", "sort", "argsort", "cumsum", "cumprod"]


@pytest.mark.parametrize("name", UNARY)
@given(x=odd_arrays())
def test_unary_functions_agree_with_numpy_or_refuse_clearly(name, x):
    if x.dtype.kind in "iub" and name in ("sqrt", "log", "log1p", "reciprocal", "exp", "expm1", "log2", "log10",
                                          "exp2", "arcsin", "arccos", "arcsinh", "arccosh", "arctanh", "sinc"):
        return  # promotion to float is covered by the numerics tests; integer overflow is NumPy's own
    agrees_or_refuses(getattr(fnp, name), getattr(np, name), (x,), {}, name)


@pytest.mark.parametrize("name", BINARY)
@given(x=odd_arrays(), y=odd_arrays())
def test_binary_functions_agree_with_numpy_or_refuse_clearly(name, x, y):
    if name == "power" and (x.dtype.kind in "iub" or y.dtype.kind in "iub"):
        return  # NumPy's integer power raises on negative exponents and overflows silently
    if name in INTEGER_DIVISION and x.dtype.kind in "iub" and y.dtype.kind in "iub":
        return  # NumPy's integer division by zero gives 0 with a warning; funcnn follows it, tested elsewhere
    agrees_or_refuses(getattr(fnp, name), getattr(np, name), (x, y), {}, name)


@pytest.mark.parametrize("name", REDUCTIONS)
@given(x=odd_arrays(), axis=axes, keepdims=st.booleans())
def test_reductions_agree_with_numpy_or_refuse_clearly(name, x, axis, keepdims):
    kwargs = {"axis": axis} if name in ("argmax", "argmin") else {"axis": axis, "keepdims": keepdims}
    if name in ("argmax", "argmin") and isinstance(axis, tuple):
        return  # NumPy itself takes one axis here
    if x.dtype == np.float16 and name in ("sum", "mean", "var", "std", "prod"):
        return  # float16 accumulation differs by design (funcnn accumulates in float32, as PyTorch)
    agrees_or_refuses(getattr(fnp, name), getattr(np, name), (x,), kwargs, name)


@pytest.mark.parametrize("name", [n for n in AXIS_SHAPE if hasattr(fnp, n)])
@given(x=odd_arrays(), axis=axes)
def test_axis_taking_functions_agree_with_numpy_or_refuse_clearly(name, x, axis):
    if name == "sort" and x.dtype == np.bool_:
        return
    theirs = (lambda x, axis: np.argsort(x, axis=axis, kind="stable")) if name == "argsort" else getattr(np, name)
    agrees_or_refuses(getattr(fnp, name), theirs, (x,), {"axis": axis}, name)  # funcnn's argsort is stable


@given(x=odd_arrays(min_dims=1), shape=st.lists(st.integers(-2, 4) | st.sampled_from([1.5, True]), max_size=3))
def test_reshape_agrees_with_numpy_or_refuses_clearly(x, shape):
    agrees_or_refuses(fnp.reshape, np.reshape, (x, tuple(shape)), {}, "reshape")


@given(data=st.data())
def test_nested_lists_work_where_numpy_takes_them(data):
    x = data.draw(odd_arrays(min_dims=1).filter(lambda a: a.dtype.kind == "f" and a.size > 0))
    as_list = x.tolist()
    for name in ("sum", "flip", "sort", "exp", "cumsum"):
        if hasattr(fnp, name):
            agrees_or_refuses(getattr(fnp, name), getattr(np, name), (as_list,), {}, name)


# --- activations: floating results, NaN kept, values of the formula, for any input ---------------

import math  # noqa: E402

from funcnn import nn  # noqa: E402


def _sigmoid(x):
    return 0.5 * (1 + np.tanh(0.5 * x))


def _erf(x):
    return np.vectorize(math.erf, otypes=[np.float64])(x)


def _log_softmax(x):
    if x.ndim == 0:
        return np.where(np.isnan(x), np.nan, 0.0 * x)
    if x.size == 0:
        return x
    shifted = x - np.max(x, axis=-1, keepdims=True)  # a slice whose maximum is not finite: NaN (PyTorch's)
    return shifted - np.log(np.sum(np.exp(shifted), axis=-1, keepdims=True))


ACTIVATIONS = {  # name: formula in float64 (NumPy's own functions propagate NaN)
    "relu": lambda x: np.maximum(x, 0.0),
    "relu6": lambda x: np.minimum(np.maximum(x, 0.0), 6.0),
    "leaky_relu": lambda x: np.where(x > 0, x, 0.01 * x),
    "elu": lambda x: np.where(x > 0, x, np.expm1(np.minimum(x, 0.0))),
    "sigmoid": _sigmoid,
    "tanh": np.tanh,
    "softplus": lambda x: np.logaddexp(0.0, x),
    "log_sigmoid": lambda x: -np.logaddexp(0.0, -x),
    "silu": lambda x: x * _sigmoid(x),
    "gelu": lambda x: 0.5 * x * (1 + _erf(x / np.sqrt(2.0))),
    "hard_tanh": lambda x: np.minimum(np.maximum(x, -1.0), 1.0),
    "log_softmax": _log_softmax,
    "softmax": lambda x: np.exp(_log_softmax(x)),
}


@pytest.mark.parametrize("name", sorted(ACTIVATIONS))
@given(x=odd_arrays())
def test_activations_give_the_formula_in_floating_point_for_any_input(name, x):
    """Integers promote as in NumPy's exp (no wrap-around), NaN stays NaN, values match the formula."""
    with warnings.catch_warnings(), np.errstate(all="ignore"):
        warnings.simplefilter("ignore")
        got = np.asarray(getattr(nn, name)(x))
        promoted = np.promote_types(x.dtype, np.float16) if x.dtype.kind in "biu" else x.dtype
        expected = ACTIVATIONS[name](x.astype(np.float64))
    assert got.shape == x.shape, name
    assert got.dtype == promoted, f"{name}: {x.dtype} gave {got.dtype}, expected {promoted}"
    tol = {np.float16: 2e-2, np.float32: 1e-5}.get(got.dtype.type, 1e-10)
    np.testing.assert_allclose(got.astype(np.float64), expected, rtol=tol, atol=tol, equal_nan=True,
                               err_msg=f"{name}{args_repr((x,), {})}")
