"""Argument checks: by shape and dtype when a function is called, by value where values exist.

A sampler may be called on traced keys and bounds, which inside ``make_graph`` have a
shape and a dtype but no value. So the public functions check only what shapes and
dtypes tell (the key's shape and dtype, the dtypes of bounds, that bounds broadcast to
``shape``, the static ints), and the checks that need values (NaN, the order of two
bounds, probabilities in ``[0, 1]``) run in each primitive's implementation, where the
values are concrete. Both kinds raise the same messages, naming the argument.
"""
from __future__ import annotations

import operator
from collections.abc import Sequence
from typing import Any

import numpy as np
from numpy.typing import ArrayLike, DTypeLike, NDArray

from funcnn.extend import Tracer, dtype_of, shape_of

Shape = int | Sequence[int]

_PYTHON_NUMBERS = (bool, int, float)


def describe(x: object) -> str:
    """How an error message shows a bad argument."""
    if isinstance(x, Tracer):
        return f"traced {dtype_of(x)} array of shape {shape_of(x)}"
    if isinstance(x, np.ndarray):
        return f"{x.dtype} array of shape {x.shape}"
    return f"{type(x).__name__} {x!r}"


def _is_array(x: object) -> bool:
    return isinstance(x, (np.ndarray, Tracer))


def check_key(key: Any) -> Any:
    """``key`` unchanged if its shape and dtype are a key's (it may be traced); else a
    ``TypeError`` that says how to make or pick one."""
    if _is_array(key) and shape_of(key) == (2,) and dtype_of(key) == np.uint32:
        return key
    message = (
        "key must be a uint32 array of shape (2,) from funcnn.random.key(seed); "
        f"got {describe(key)}"
    )
    if _is_array(key) and len(shape_of(key)) > 1 and shape_of(key)[-1] == 2:
        message += "; this looks like a batch of keys from split: index one, e.g. keys[0]"
    elif isinstance(key, (int, np.integer)):
        message += "; make one with funcnn.random.key(seed)"
    raise TypeError(message)


class TracedStaticError(TypeError):
    """A static argument (a count, a size, an axis) was given as a traced value."""


def as_int(value: object, name: str) -> int:
    """A static integer argument (a count, a size, an axis) as a Python int."""
    if isinstance(value, Tracer):
        raise TracedStaticError(
            f"{name} must be an integer known when tracing (it is a static parameter), not a "
            f"traced value; got {describe(value)}. Close over it or pass it through static_argnums"
        )
    if isinstance(value, (bool, np.bool_)):
        raise TypeError(f"{name} must be an integer; got {describe(value)}")
    try:
        return operator.index(value)  # type: ignore[arg-type]
    except TypeError:
        raise TypeError(f"{name} must be an integer; got {describe(value)}") from None


def as_shape(shape: Shape, name: str = "shape") -> tuple[int, ...]:
    """A checked shape: a tuple of non-negative Python ints."""
    if isinstance(shape, (int, np.integer, Tracer)):
        dims: tuple[int, ...] = (as_int(shape, name),)
    else:
        try:
            dims = tuple(as_int(d, name) for d in shape)
        except TracedStaticError:
            raise
        except TypeError:
            raise TypeError(
                f"{name} must be an int or a sequence of ints; got {describe(shape)}"
            ) from None
    if any(d < 0 for d in dims):
        raise ValueError(f"{name} must have non-negative sizes; got {dims}")
    return dims


def float_dtype(dtype: DTypeLike, fn: str) -> np.dtype[Any]:
    """``dtype`` as a NumPy float dtype that the float samplers support."""
    dt = np.dtype(dtype)
    if dt not in (np.dtype(np.float16), np.dtype(np.float32), np.dtype(np.float64)):
        raise TypeError(
            f"{fn} needs a floating dtype (float16, float32 or float64); got {dt}"
        )
    return dt


def real_operand(value: Any, name: str) -> Any:
    """``value`` as an operand, checked to hold real numbers (by dtype only).

    Traced values, arrays and Python numbers pass as they are (a Python number stays a
    literal of a graph); anything else (a list) becomes an array.
    """
    if not isinstance(value, (Tracer, np.ndarray, np.generic, *_PYTHON_NUMBERS)):
        value = np.asarray(value)
    if dtype_of(value).kind not in "biuf":
        shown = value if _is_array(value) else np.asarray(value)
        raise TypeError(f"{name} must be real numbers; got {describe(shown)}")
    return value


def integer_scalar(value: Any, name: str) -> Any:
    """An array or traced integer scalar, unchanged; a ``TypeError`` naming ``name`` if not."""
    if dtype_of(value).kind in "iu" and shape_of(value) == ():
        return value
    raise TypeError(f"{name} must be an integer; got {describe(value)}")


def check_broadcast(shape: tuple[int, ...], target: tuple[int, ...], name: str) -> None:
    """Raise unless an operand of ``shape`` broadcasts to ``target`` (not the other way)."""
    try:
        ok = np.broadcast_shapes(shape, target) == target
    except ValueError:
        ok = False
    if not ok:
        raise ValueError(f"{name} of shape {shape} does not broadcast to shape {target}")


# --- checks on values, run where the values are concrete --------------------------------------


def real_array(value: ArrayLike, name: str) -> NDArray[np.float64]:
    """``value`` as float64, checked not to be NaN."""
    out = np.asarray(value).astype(np.float64)
    if np.isnan(out).any():
        raise ValueError(f"{name} must not be NaN")
    return out


def modulo_2_64(value: int, name: str) -> int:
    """An integer in ``[-2**63, 2**64)`` (a seed, fold_in's data) taken modulo ``2**64``."""
    if not -(1 << 63) <= value < 1 << 64:
        raise ValueError(f"{name} must be an integer in [-2**63, 2**64); got {value}")
    return value % (1 << 64)
