"""Indexing: ``x[index]`` as the ``getitem`` primitive, its transpose ``scatter_add``, and
``take`` / ``take_along_axis`` composed from ``getitem``.

Indices are static: they are concrete NumPy values, not traced. The VJP of ``getitem``
adds the cotangent into zeros at the indexed positions (``np.add.at`` when integer
arrays may repeat an index), and ``scatter_add``'s VJP is ``getitem`` again, so
derivatives of any order work.
"""
from __future__ import annotations

from typing import Any

import numpy as np

from funcnn._src.core import Primitive, Tracer, concrete, defjvp, defvjp, ndim_of, shape_of


def normalize_index(index: Any) -> tuple:
    """``index`` as a tuple of slices, ints, None, Ellipsis and concrete arrays."""
    items = index if isinstance(index, tuple) else (index,)
    out = []
    for item in items:
        if isinstance(item, Tracer):
            item = concrete(item)
        if isinstance(item, (list, np.ndarray)) or ndim_of(item) > 0:
            item = np.asarray(item)
            if item.dtype.kind not in "iub":
                raise IndexError(f"arrays used as indices must be of integer or boolean type, not {item.dtype}")
        out.append(item)
    return tuple(out)


def _is_simple(index: tuple) -> bool:
    """True when no position can be selected twice (no integer arrays), so assignment suffices."""
    return not any(isinstance(i, np.ndarray) and i.dtype != bool for i in index)


def _scatter_add_impl(updates: Any, index: tuple, shape: tuple) -> np.ndarray:
    out = np.zeros(shape, dtype=np.result_type(updates))
    if _is_simple(index):
        out[index] = updates
    else:
        np.add.at(out, index, updates)
    return out


_getitem_p = Primitive("getitem", lambda x, index: x[index])
_scatter_add_p = Primitive("scatter_add", _scatter_add_impl)

defvjp(_getitem_p, lambda ans, x, index: lambda g: _scatter_add_p.bind(g, index=index, shape=shape_of(x)))
defjvp(_getitem_p, lambda t, ans, x, index: _getitem_p.bind(t, index=index))
defvjp(_scatter_add_p, lambda ans, u, index, shape: lambda g: _getitem_p.bind(g, index=index))
defjvp(_scatter_add_p, lambda t, ans, u, index, shape: _scatter_add_p.bind(t, index=index, shape=shape))


def getitem(x: Any, index: Any) -> Any:
    """``x[index]`` with NumPy's basic and advanced indexing; repeated indices accumulate gradient."""
    return _getitem_p.bind(x, index=normalize_index(index))


def scatter_add(updates: Any, index: Any, shape: tuple) -> Any:
    """An array of zeros of ``shape`` with ``updates`` added at ``index`` (repeats accumulate)."""
    return _scatter_add_p.bind(updates, index=normalize_index(index), shape=tuple(shape))


def take(a: Any, indices: Any, axis: int | None = None) -> Any:
    """Elements of ``a`` at ``indices`` along ``axis`` (of the flattened array when None)."""
    if axis is None:
        from funcnn.numpy._shape import ravel

        return getitem(ravel(a), indices)
    ndim = ndim_of(a)
    if not -ndim <= axis < ndim:
        raise ValueError(f"take: axis {axis} is out of bounds for an array of dimension {ndim}")
    return getitem(a, (slice(None),) * (axis % ndim) + (np.asarray(concrete(indices)),))


def take_along_axis(arr: Any, indices: Any, axis: int) -> Any:
    """Pick values from ``arr`` by matching 1-d slices of ``indices`` along ``axis``."""
    indices = np.asarray(concrete(indices))
    shape = shape_of(arr)
    if indices.ndim != len(shape):
        raise ValueError(f"take_along_axis: indices of shape {indices.shape} must have as many "
                         f"dimensions as arr of shape {shape}")
    axis = axis % len(shape)
    index = tuple(
        indices if d == axis else np.arange(n).reshape((-1,) + (1,) * (len(shape) - d - 1))
        for d, n in enumerate(shape)
    )
    return getitem(arr, index)
