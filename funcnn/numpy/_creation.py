"""Array creation. New arrays carry no derivative, so these are NumPy's own functions;
the ``*_like`` forms and ``asarray`` also accept traced values (the ``*_like`` forms of a
traced value are primitives, so a graph records them instead of baking in a constant)."""
from __future__ import annotations

from typing import Any

import numpy as np

from funcnn import extend
from funcnn.extend import Tracer, dtype_of, ndim_of, shape_of
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


