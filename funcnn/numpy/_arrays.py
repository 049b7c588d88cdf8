"""Stacking, splitting, rotating and rolling arrays, and a ``linspace`` whose ends may be traced.

All are compositions of shape primitives (``reshape``, ``transpose``, ``concatenate``,
``split``, ``getitem``), so they need no rules of their own; shifts, axes and counts are
static Python values, as in NumPy.
"""
from __future__ import annotations

from typing import Any, Sequence

import numpy as np

from funcnn.extend import Tracer, dtype_of, ndim_of, shape_of
from funcnn.numpy._creation import as_int, asarray, normalize_axis
from funcnn.numpy._elementwise import add, astype, divide, floor, multiply, subtract, where
from funcnn.numpy._logic import equal
from funcnn.numpy._reductions import any as any_true
from funcnn.numpy._indexing import getitem
from funcnn.numpy._shape import broadcast_to, concatenate, flip, moveaxis, ravel, reshape, split, transpose

# --- at least n dimensions ---------------------------------------------------------------------


def _at_least(arrays: tuple, shape_of_small: Any) -> Any:
    """Each array reshaped by ``shape_of_small(shape)`` when that gives a new shape; one array or a tuple."""
    out = []
    for a in arrays:
        a = asarray(a)
        shape = shape_of_small(shape_of(a))
        out.append(a if shape == shape_of(a) else reshape(a, shape))
    return out[0] if len(out) == 1 else tuple(out)


def atleast_1d(*arys: Any) -> Any:
    """Each input with at least one dimension (a 0-d array becomes shape ``(1,)``).

    >>> atleast_1d(np.array(2.0))
    array([2.])
    """
    return _at_least(arys, lambda s: s if len(s) >= 1 else (1,))


def atleast_2d(*arys: Any) -> Any:
    """Each input with at least two dimensions: ``()`` -> ``(1, 1)``, ``(n,)`` -> ``(1, n)``.

    >>> atleast_2d(np.array([1.0, 2.0])).shape
    (1, 2)
    """
    return _at_least(arys, lambda s: s if len(s) >= 2 else (1,) * (2 - len(s)) + s)


def atleast_3d(*arys: Any) -> Any:
    """Each input with at least three dimensions: ``()`` -> ``(1, 1, 1)``, ``(n,)`` -> ``(1, n, 1)``,
    ``(m, n)`` -> ``(m, n, 1)``.

    >>> atleast_3d(np.ones((2, 3))).shape
    (2, 3, 1)
    """
    return _at_least(arys, lambda s: s if len(s) >= 3 else {0: (1, 1, 1), 1: (1,) + s + (1,), 2: s + (1,)}[len(s)])


# --- stacking and splitting --------------------------------------------------------------------


def dstack(tup: Sequence[Any]) -> Any:
    """Concatenate along the third axis, after making every array at least 3-d (``atleast_3d``).

    >>> dstack([np.ones((2, 3)), np.zeros((2, 3))]).shape
    (2, 3, 2)
    """
    return concatenate([atleast_3d(a) for a in tup], axis=2)


def column_stack(tup: Sequence[Any]) -> Any:
    """Stack 1-d arrays as the columns of a 2-d array; 2-d arrays are joined as they are.

    >>> column_stack([np.array([1.0, 2.0]), np.array([3.0, 4.0])])
    array([[1., 3.],
           [2., 4.]])
    """
    def column(a: Any) -> Any:
        a = asarray(a)
        return reshape(a, (-1, 1)) if ndim_of(a) < 2 else a
    return concatenate([column(a) for a in tup], axis=1)


def array_split(ary: Any, indices_or_sections: Any, axis: int = 0) -> list[Any]:
    """Split like ``split``, but ``sections`` need not divide the axis: the first ``n % sections``
    pieces get one element more.

    >>> [p.tolist() for p in array_split(np.arange(5.0), 3)]
    [[0.0, 1.0], [2.0, 3.0], [4.0]]
    """
    ary = asarray(ary)
    if ndim_of(indices_or_sections) != 0:
        return split(ary, indices_or_sections, axis)
    sections = as_int(indices_or_sections, "indices_or_sections", "array_split")
    if sections <= 0:
        raise ValueError("array_split: number sections must be larger than 0")
    axis = normalize_axis(axis, ndim_of(ary), "array_split")
    each, extra = divmod(shape_of(ary)[axis], sections)
    bounds = np.cumsum([each + 1] * extra + [each] * (sections - extra))[:-1]
    return split(ary, [int(b) for b in bounds], axis)


# --- flips, rotations, rolls -------------------------------------------------------------------


def fliplr(m: Any) -> Any:
    """Reverse the order of the columns (axis 1) of an array with at least two dimensions.

    >>> fliplr(np.array([[1.0, 2.0]]))
    array([[2., 1.]])
    """
    m = asarray(m)
    if ndim_of(m) < 2:
        raise ValueError("fliplr: input must be >= 2-d")
    return flip(m, 1)


def flipud(m: Any) -> Any:
    """Reverse the order of the rows (axis 0) of an array with at least one dimension.

    >>> flipud(np.array([1.0, 2.0]))
    array([2., 1.])
    """
    m = asarray(m)
    if ndim_of(m) < 1:
        raise ValueError("flipud: input must be >= 1-d")
    return flip(m, 0)


def rot90(m: Any, k: int = 1, axes: Sequence[int] = (0, 1)) -> Any:
    """Rotate by 90 degrees ``k`` times in the plane of ``axes``, from the first axis towards the second.

    >>> rot90(np.array([[1.0, 2.0], [3.0, 4.0]]))
    array([[2., 4.],
           [1., 3.]])
    """
    m = asarray(m)
    axes = tuple(axes)
    ndim = ndim_of(m)
    if len(axes) != 2:
        raise ValueError("rot90: len(axes) must be 2")
    if axes[0] == axes[1] or abs(axes[0] - axes[1]) == ndim:
        raise ValueError("rot90: axes must be different")
    first, second = normalize_axis(axes[0], ndim, "rot90", "axes"), normalize_axis(axes[1], ndim, "rot90", "axes")
    k = as_int(k, "k", "rot90") % 4
    if k == 0:
        return m
    if k == 2:
        return flip(flip(m, first), second)
    order = list(range(ndim))
    order[first], order[second] = order[second], order[first]
    return transpose(flip(m, second), order) if k == 1 else flip(transpose(m, order), second)


def roll(a: Any, shift: Any, axis: Any = None) -> Any:
    """Shift elements along ``axis`` by ``shift`` places, those pushed off one end coming back at the
    other (the flattened array when ``axis`` is None). ``shift`` and ``axis`` may be sequences.

    >>> roll(np.array([1.0, 2.0, 3.0, 4.0]), 1)
    array([4., 1., 2., 3.])
    """
    a = asarray(a)
    if axis is None:
        return reshape(roll(ravel(a), shift, 0), shape_of(a))
    ndim = ndim_of(a)
    totals = dict.fromkeys(range(ndim), 0)
    for s, ax in np.broadcast(np.asarray(shift), np.asarray(axis)):
        totals[normalize_axis(ax, ndim, "roll")] += as_int(s, "shift", "roll")
    for ax, s in totals.items():
        n = shape_of(a)[ax]
        if n and s % n:
            head, tail = split(a, [n - s % n], ax)
            a = concatenate([tail, head], axis=ax)
    return a


# --- linspace ----------------------------------------------------------------------------------


def linspace(start: Any, stop: Any, num: int = 50, endpoint: bool = True, retstep: bool = False,
             dtype: Any = None, axis: int = 0) -> Any:
    """``num`` evenly spaced values from ``start`` to ``stop`` (NumPy's ``linspace``), differentiable
    in ``start`` and ``stop``, which may be traced (arrays give one sequence per element, along ``axis``).

    >>> linspace(0.0, 1.0, 5)
    array([0.  , 0.25, 0.5 , 0.75, 1.  ])
    """
    if not isinstance(start, Tracer) and not isinstance(stop, Tracer):
        return np.linspace(start, stop, num, endpoint, retstep, dtype, axis)  # type: ignore[call-overload]
    num = as_int(num, "num", "linspace")
    if num < 0:
        raise ValueError(f"linspace: number of samples, {num}, must be non-negative")
    div = num - 1 if endpoint else num
    inexact = np.result_type(*(v if type(v) in (int, float) else dtype_of(v) for v in (start, stop)), 0.0)
    start, stop = astype(start, inexact), astype(stop, inexact)
    delta = subtract(stop, start)
    rank = ndim_of(delta)
    steps = np.arange(0, num, dtype=inexact).reshape((-1,) + (1,) * rank)
    if div > 0:
        step = divide(delta, div)
        # NumPy's own branch, taken on the values: where a step underflows to 0 (a subnormal
        # ``delta``), it scales by ``delta`` after dividing; both forms are computed, one chosen
        scaled = where(any_true(equal(step, 0)), multiply(steps / div, delta), multiply(steps, step))
    else:  # fewer than two points to span: no step, as in NumPy
        step, scaled = np.nan, multiply(steps, delta)
    y = add(scaled, start)
    if endpoint and num > 1:  # the last value is exactly ``stop``
        last = reshape(broadcast_to(stop, shape_of(delta)), (1,) + shape_of(delta))
        y = concatenate([getitem(y, slice(None, -1)), last], axis=0)
    if axis != 0:
        y = moveaxis(y, 0, axis)
    if dtype is not None:
        y = astype(floor(y) if np.issubdtype(dtype, np.integer) else y, dtype)
    return (y, step) if retstep else y
