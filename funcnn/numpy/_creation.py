"""Array creation. New arrays carry no derivative, so these are NumPy's own functions;
the ``*_like`` forms and ``asarray`` also accept traced values (the ``*_like`` forms of a
traced value are primitives, so a graph records them instead of baking in a constant).

Also the checks every op family makes at its public boundary: array-likes (nested lists)
become arrays with :func:`asarray`, and the static arguments (axes, sizes) become Python
ints with :func:`as_int`, :func:`as_ints`, :func:`as_sizes`, :func:`normalize_axis` and
:func:`normalize_axes`, which raise NumPy's error types with the function and argument named.
They read only static things, so they work on traced values inside ``jit``.
"""
from __future__ import annotations

import operator
from typing import Any

import numpy as np

from funcnn import extend
from funcnn.extend import ConcretizationError, Tracer, dtype_of, ndim_of, shape_of
from numpy import arange, empty, eye, full, identity, linspace, ones, zeros  # noqa: F401

__all__ = ["arange", "array", "asarray", "empty", "eye", "full", "full_like", "identity",
           "linspace", "ndim", "ones", "ones_like", "shape", "size", "zeros", "zeros_like"]


def shape(a: Any) -> tuple[int, ...]:
    """The shape of an array or traced value."""
    return shape_of(a)


def ndim(a: Any) -> int:
    """The number of dimensions of an array or traced value."""
    return ndim_of(a)


def size(a: Any) -> int:
    """The number of elements of an array or traced value."""
    return int(np.prod(shape_of(a)))


def zeros_like(a: Any, dtype: Any = None) -> Any:
    """Zeros with the shape and dtype of ``a`` (a traced value is fine; no derivative flows)."""
    return full_like(a, 0, dtype)


def ones_like(a: Any, dtype: Any = None) -> Any:
    """Ones with the shape and dtype of ``a``."""
    return full_like(a, 1, dtype)


def full_like(a: Any, fill_value: Any, dtype: Any = None) -> Any:
    """``fill_value`` everywhere, with the shape and dtype of ``a``."""
    a = asarray(a)
    dtype = dtype_of(a) if dtype is None else np.dtype(dtype)
    if not isinstance(a, Tracer):
        return np.full(shape_of(a), fill_value, dtype=dtype)
    from funcnn.numpy._elementwise import add

    zeros = extend.convert_element_type(extend.zeros_like(a), dtype)
    return zeros if np.all(np.asarray(fill_value) == 0) else add(zeros, np.asarray(fill_value, dtype))


def asarray(a: Any, dtype: Any = None) -> Any:
    """``a`` as an array; a traced value stays traced (cast when ``dtype`` is given)."""
    if isinstance(a, Tracer):
        from funcnn.numpy._elementwise import astype

        return a if dtype is None else astype(a, dtype)
    if isinstance(a, (list, tuple)) and any(isinstance(x, Tracer) for x in _flat(a)):
        from funcnn.numpy._shape import stack

        return stack([asarray(x, dtype) for x in a])
    return np.asarray(a, dtype=dtype)


def array(a: Any, dtype: Any = None) -> Any:
    """Like :func:`asarray`, but a plain array is copied."""
    out = asarray(a, dtype)
    return out.copy() if isinstance(out, np.ndarray) and out is a else out


def _flat(a: Any) -> list:
    return [y for x in a for y in (_flat(x) if isinstance(x, (list, tuple)) else [x])]


# --- checking static arguments at the public boundary --------------------------------------


def as_int(value: Any, name: str, fn: str) -> int:
    """``value`` as a Python int, or a TypeError naming ``fn`` and its argument ``name``.

    Python and NumPy integers (0-d integer arrays too) pass; floats, bools and strings do
    not, as in NumPy (``1.5`` would otherwise be truncated, ``True`` read as 1).
    """
    if not isinstance(value, (bool, np.bool_)):
        try:
            return operator.index(value)
        except ConcretizationError:
            raise  # a traced value: its own error says why it needs to be static
        except TypeError:
            pass
    raise TypeError(f"{fn}: {name} must be an integer; got {value!r} of type {type(value).__name__}")


def normalize_axis(axis: Any, ndim: int, fn: str, name: str = "axis") -> int:
    """``axis`` as an index in ``[0, ndim)``: a TypeError unless it is an integer, NumPy's
    ``AxisError`` unless ``-ndim <= axis < ndim``."""
    index = as_int(axis, name, fn)
    if not -ndim <= index < ndim:
        raise np.exceptions.AxisError(f"{fn}: {name}={index} is out of bounds for an array of dimension {ndim}")
    return index % ndim


def items_of(value: Any) -> tuple:
    """An int (or other scalar) as a 1-tuple, a sequence as a tuple: the forms ``axis`` and
    ``shape`` arguments take."""
    return tuple(value) if isinstance(value, (list, tuple)) or ndim_of(value) > 0 else (value,)


def normalize_axes(axis: Any, ndim: int, fn: str, name: str = "axis") -> tuple[int, ...]:
    """An int or a sequence of them as distinct indices in ``[0, ndim)``, in the order given;
    a ValueError when two name the same axis."""
    axes = tuple(normalize_axis(a, ndim, fn, name) for a in items_of(axis))
    if len(set(axes)) != len(axes):
        raise ValueError(f"{fn}: repeated axis in {name}={axis!r}")
    return axes


def as_ints(value: Any, name: str, fn: str) -> tuple[int, ...]:
    """An int or a sequence of them as a tuple of Python ints (a TypeError names anything else)."""
    return tuple(as_int(d, f"every entry of {name}", fn) for d in items_of(value))


def as_sizes(value: Any, name: str, fn: str) -> tuple[int, ...]:
    """An int or a sequence of them (a shape, repetitions) as non-negative Python ints."""
    sizes = as_ints(value, name, fn)
    if any(d < 0 for d in sizes):
        raise ValueError(f"{fn}: {name} must be non-negative; got {value!r}")
    return sizes
