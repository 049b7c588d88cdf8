"""Matrix structure: ``diag``, ``diagonal``, ``trace``, ``tril``, ``triu``, ``kron``, ``cross``.

All are compositions of existing primitives, so they need no rules of their own: a diagonal
is an integer-array ``getitem`` (its VJP scatters back), a triangle is a ``where`` with a
constant mask operand, a Kronecker product is a broadcast ``multiply`` of two reshapes, a
cross product is products of gathered components.
"""
from __future__ import annotations

import builtins
import warnings
from typing import Any

import numpy as np

from funcnn.extend import dtype_of, ndim_of, shape_of
from funcnn.numpy._creation import as_int, asarray, normalize_axis
from funcnn.numpy._elementwise import multiply, subtract, where
from funcnn.numpy._indexing import getitem, take
from funcnn.numpy._reductions import sum as _sum
from funcnn.numpy._shape import moveaxis, pad, reshape, swapaxes


def diagonal(a: Any, offset: int = 0, axis1: int = 0, axis2: int = 1) -> Any:
    """The diagonal of ``a`` in the plane of ``axis1`` and ``axis2`` (NumPy's ``diagonal``).

    a : array, at least 2-d. The result drops both axes and appends the diagonal as the
    last axis: shape ``(..., k)``. ``offset > 0`` is above the main diagonal.

    >>> import numpy as np
    >>> diagonal(np.arange(9.0).reshape(3, 3), offset=1)
    array([1., 5.])
    """
    a = asarray(a)
    ndim = ndim_of(a)
    if ndim < 2:
        raise ValueError(f"diagonal: a must have at least 2 dimensions; got shape {shape_of(a)}")
    offset = as_int(offset, "offset", "diagonal")
    first = normalize_axis(axis1, ndim, "diagonal", "axis1")
    second = normalize_axis(axis2, ndim, "diagonal", "axis2")
    if first == second:
        raise ValueError(f"diagonal: axis1 and axis2 must differ; both are {first}")
    x = moveaxis(a, (first, second), (-2, -1))
    rows, cols = shape_of(x)[-2:]
    row0, col0 = builtins.max(0, -offset), builtins.max(0, offset)
    steps = np.arange(builtins.max(0, builtins.min(rows - row0, cols - col0)))
    return getitem(x, (Ellipsis, steps + row0, steps + col0))


def trace(a: Any, offset: int = 0, axis1: int = 0, axis2: int = 1, dtype: Any = None) -> Any:
    """Sum along a diagonal of ``a`` (NumPy's ``trace``); shape ``a``'s without both axes.

    >>> import numpy as np
    >>> trace(np.arange(9.0).reshape(3, 3))
    np.float64(12.0)
    """
    return _sum(diagonal(a, offset, axis1, axis2), axis=-1, dtype=dtype)


def diag(v: Any, k: int = 0) -> Any:
    """The ``k``-th diagonal of a 2-d ``v``, or a 2-d array with the 1-d ``v`` on its ``k``-th
    diagonal (NumPy's ``diag``): shape ``(n + |k|, n + |k|)`` for ``v`` of shape ``(n,)``.

    >>> import numpy as np
    >>> diag(np.array([1.0, 2.0]), k=1)
    array([[0., 1., 0.],
           [0., 0., 2.],
           [0., 0., 0.]])
    """
    v = asarray(v)
    k = as_int(k, "k", "diag")
    if ndim_of(v) == 2:
        return diagonal(v, k)
    if ndim_of(v) != 1:
        raise ValueError(f"diag: v must be 1-d or 2-d; got shape {shape_of(v)}")
    size = shape_of(v)[0] + builtins.abs(k)
    padded = pad(v, ((0, builtins.abs(k)),)) if k else v
    # entry (i, i + k) holds v[i]: broadcast v down the rows (k >= 0) or along the columns (k < 0)
    lined = reshape(padded, (size, 1) if k >= 0 else (1, size))
    return where(np.eye(size, k=k, dtype=bool), lined, np.zeros((), dtype_of(v)))


def tril(m: Any, k: int = 0) -> Any:
    """``m`` with the elements above the ``k``-th diagonal of its last two axes set to zero.

    >>> import numpy as np
    >>> tril(np.ones((2, 3)))
    array([[1., 0., 0.],
           [1., 1., 0.]])
    """
    m = asarray(m)
    k = as_int(k, "k", "tril")
    rows, cols = _plane(m, "tril")
    return _keep(m, np.tri(rows, cols, k=k, dtype=bool))


def triu(m: Any, k: int = 0) -> Any:
    """``m`` with the elements below the ``k``-th diagonal of its last two axes set to zero.

    >>> import numpy as np
    >>> triu(np.ones((2, 3)), k=1)
    array([[0., 1., 1.],
           [0., 0., 1.]])
    """
    m = asarray(m)
    k = as_int(k, "k", "triu")
    rows, cols = _plane(m, "triu")
    return _keep(m, ~np.tri(rows, cols, k=k - 1, dtype=bool))


def _plane(m: Any, fn: str) -> tuple[int, int]:
    """The rows and columns of the mask: a 1-d ``m`` broadcasts against a square one, as in NumPy."""
    shape = shape_of(m)
    if not shape:
        raise ValueError(f"{fn}: m must have at least 1 dimension; got a 0-d array")
    return (shape[-2], shape[-1]) if len(shape) > 1 else (shape[0], shape[0])


def _keep(m: Any, mask: np.ndarray) -> Any:
    """``m`` where the constant ``mask`` holds, zero (of ``m``'s dtype) elsewhere."""
    return where(mask, m, np.zeros((), dtype_of(m)))


def kron(a: Any, b: Any) -> Any:
    """Kronecker product: blocks ``a[i, j] * b`` (NumPy's ``kron``, any ranks).

    >>> import numpy as np
    >>> kron(np.eye(2), np.array([[1.0, 2.0]]))
    array([[1., 2., 0., 0.],
           [0., 0., 1., 2.]])
    """
    a, b = asarray(a), asarray(b)
    if ndim_of(a) == 0 or ndim_of(b) == 0:
        return multiply(a, b)
    ndim = builtins.max(ndim_of(a), ndim_of(b))
    sa = (1,) * (ndim - ndim_of(a)) + shape_of(a)
    sb = (1,) * (ndim - ndim_of(b)) + shape_of(b)
    # a as (a0, 1, a1, 1, ...) times b as (1, b0, 1, b1, ...): each axis pair merges into one
    spread_a = reshape(a, tuple(x for d in sa for x in (d, 1)))
    spread_b = reshape(b, tuple(x for d in sb for x in (1, d)))
    return reshape(multiply(spread_a, spread_b), tuple(x * y for x, y in zip(sa, sb)))


_NEXT, _AFTER = np.array([1, 2, 0]), np.array([2, 0, 1])


def cross(a: Any, b: Any, axisa: int = -1, axisb: int = -1, axisc: int = -1, axis: int | None = None) -> Any:
    """Cross product of 3-vectors along ``axisa`` of ``a`` and ``axisb`` of ``b``, broadcasting
    over the other axes; the result's vectors lie along ``axisc`` (NumPy's ``cross``).

    2-vectors are taken to have a zero third component (two 2-vectors give the scalar third
    component); NumPy 2 deprecates them, and so does this function.

    >>> import numpy as np
    >>> cross(np.array([1.0, 0.0, 0.0]), np.array([0.0, 1.0, 0.0]))
    array([0., 0., 1.])
    """
    if axis is not None:
        axisa = axisb = axisc = axis
    a, b = asarray(a), asarray(b)
    a = moveaxis(a, normalize_axis(axisa, ndim_of(a), "cross", "axisa"), -1)
    b = moveaxis(b, normalize_axis(axisb, ndim_of(b), "cross", "axisb"), -1)
    da, db = shape_of(a)[-1], shape_of(b)[-1]
    if da not in (2, 3) or db not in (2, 3):
        raise ValueError(f"cross: incompatible dimensions for cross product (dimension must be 2 or 3); got "
                         f"{da} and {db}")
    if da == 2 or db == 2:
        warnings.warn("cross: arrays of 2-dimensional vectors are deprecated (as in NumPy 2.0); use arrays of "
                      "3-dimensional vectors", DeprecationWarning, stacklevel=2)
    if da == 2 and db == 2:
        return subtract(multiply(a[..., 0], b[..., 1]), multiply(a[..., 1], b[..., 0]))
    a, b = _three(a), _three(b)
    # c_i = a_{i+1} b_{i+2} - a_{i+2} b_{i+1}, indices mod 3
    c = subtract(multiply(take(a, _NEXT, axis=-1), take(b, _AFTER, axis=-1)),
                 multiply(take(a, _AFTER, axis=-1), take(b, _NEXT, axis=-1)))
    return moveaxis(c, -1, normalize_axis(axisc, ndim_of(c), "cross", "axisc"))


def _three(v: Any) -> Any:
    """Vectors along the last axis with a zero third component added to 2-vectors."""
    return v if shape_of(v)[-1] == 3 else pad(v, ((0, 0),) * (ndim_of(v) - 1) + ((0, 1),))


def matrix_transpose(x: Any) -> Any:
    """``x`` with its last two axes swapped: the transposes of a stack of matrices, shape (..., n, m).

    >>> import numpy as np
    >>> matrix_transpose(np.arange(6.0).reshape(1, 2, 3)).shape
    (1, 3, 2)
    """
    x = asarray(x)
    if ndim_of(x) < 2:
        raise ValueError(f"matrix_transpose: x must have at least 2 dimensions; got shape {shape_of(x)}")
    return swapaxes(x, -1, -2)
