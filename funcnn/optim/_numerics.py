"""Traceable arithmetic shared by the transformations: casts, step counts, running averages.

Everything here is written with ``funcnn.numpy`` operations and Python operators, which
work the same on arrays (eagerly), under ``grad`` and inside ``make_graph``. On plain
arrays the operators also let NumPy reuse a temporary for the next operation
(``a * b + c`` allocates one array, not two), which keeps an eager update as fast as
hand-written in-place code.
"""

from __future__ import annotations

from typing import Any

import numpy as np

import funcnn.numpy as fnp
from funcnn.extend import Tracer, dtype_of, shape_of

from ..tree_util import tree_map
from ._base import Params

__all__ = [
    "as_float64",
    "bias_correction",
    "cast_like",
    "ema",
    "ema_of_square",
    "full_like_tree",
    "keep_dtype",
    "new_count",
    "next_count",
]

_COUNT_DTYPE = np.dtype(np.int32)
_COUNT_MAX = np.int32(np.iinfo(np.int32).max)


def cast_like(value: Any, leaf: Any) -> Any:
    """``value`` as an array of ``leaf``'s dtype (so float32 leaves stay float32)."""
    dtype = leaf.dtype if isinstance(leaf, _HAS_DTYPE) else dtype_of(leaf)
    if isinstance(value, Tracer):
        return fnp.astype(value, dtype)
    return np.asarray(value, dtype)


_HAS_DTYPE = (np.ndarray, np.generic, Tracer)  # the usual leaves: their dtype is read directly


def keep_dtype(x: Any, like: Any) -> Any:
    """``x`` in ``like``'s dtype: state leaves keep the dtype they were created with."""
    return cast_like(x, like)


def as_float64(x: Any) -> Any:
    """``x`` (a step count, a schedule's value) as float64, for step-dependent scalars."""
    return fnp.asarray(x, np.float64)


def full_like_tree(params: Params, fill: Any = 0.0) -> Any:
    """A tree of arrays shaped and typed like ``params``, filled with ``fill``.

    Only the shapes and dtypes of ``params`` are read, so they may be traced; a traced
    ``fill`` gives traced leaves.
    """
    if isinstance(fill, Tracer):
        return tree_map(lambda p: _full_like(p, 0.0) + cast_like(fill, p), params)
    return tree_map(lambda p: _full_like(p, fill), params)


def _full_like(p: Any, fill: float) -> np.ndarray:
    if isinstance(p, np.ndarray):
        return np.full_like(p, fill)  # keeps p's memory order
    return np.full(shape_of(p), fill, dtype_of(p))


def new_count() -> np.ndarray:
    """A step count of zero, as an int32 array so it is saved with the state."""
    return np.asarray(0, dtype=_COUNT_DTYPE)


def next_count(count: Any) -> Any:
    """``min(count + 1, int32 max)``: the count saturates instead of wrapping round."""
    return fnp.asarray(fnp.minimum(count, _COUNT_MAX - 1) + np.int32(1), _COUNT_DTYPE)


def bias_correction(decay: Any, t: Any) -> Any:
    """``1 - decay**t`` for a float64 step ``t`` (see :func:`as_float64`)."""
    return 1.0 - fnp.power(decay, t)


def ema(decay: Any, avg: Any, x: Any) -> Any:
    """``decay * avg + (1 - decay) * x`` in ``avg``'s dtype."""
    return keep_dtype(avg * cast_like(decay, avg) + cast_like(1.0 - decay, avg) * x, avg)


def ema_of_square(decay: Any, avg: Any, x: Any) -> Any:
    """``decay * avg + (1 - decay) * x**2`` in ``avg``'s dtype."""
    return keep_dtype(avg * cast_like(decay, avg) + fnp.square(x) * cast_like(1.0 - decay, x), avg)
