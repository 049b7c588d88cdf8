"""Partial sorts and searches in sorted arrays. ``argpartition`` and ``searchsorted`` return
indices, which carry no derivative; ``partition`` gathers with ``argpartition``'s indices, so
its gradient follows each element to its place, as ``sort``'s does."""
from __future__ import annotations

from typing import Any

import numpy as np

from funcnn.extend import (
    Primitive, ShapeDtype, axes_batch_rule, def_abstract_eval, def_batch, ndim_of, shape_of, to_front,
)
from funcnn.numpy._creation import as_int, asarray, normalize_axis
from funcnn.numpy._indexing import take, take_along_axis
from funcnn.numpy._shape import ravel

# --- partition ---------------------------------------------------------------------------------

_argpartition_p = Primitive("argpartition", lambda a, kth, axis: np.argpartition(a, kth, axis=axis))
def_abstract_eval(_argpartition_p, lambda a, kth, axis: ShapeDtype(a.shape, np.intp))
def_batch(_argpartition_p, axes_batch_rule(_argpartition_p, "axis"))


def _partition_args(a: Any, kth: Any, axis: int | None, name: str) -> tuple[Any, tuple[int, ...], int]:
    """``a`` (flattened when ``axis`` is None), ``kth`` as a tuple of ints, checked, and ``axis``."""
    a = asarray(a)
    if axis is None:
        a, axis = ravel(a), 0
    axis = normalize_axis(axis, ndim_of(a), name)
    n = shape_of(a)[axis]
    ks = tuple(as_int(k, "kth", name) for k in np.atleast_1d(kth))
    for k in ks:
        if not -n <= k < n:
            raise ValueError(f"{name}: kth(={k}) out of bounds ({n})")
    return a, ks, axis  # as given: NumPy's arrangement of the parts depends on them


def argpartition(a: Any, kth: Any, axis: int | None = -1) -> Any:
    """Indices that partition ``a`` along ``axis``: the element at each ``kth`` position is where a
    sort would put it, smaller ones before, larger ones after. An integer array, no derivative.

    >>> argpartition(np.array([3.0, 1.0, 2.0]), 0)[0]
    np.int64(1)
    """
    a, ks, axis = _partition_args(a, kth, axis, "argpartition")
    return _argpartition_p.bind(a, kth=ks, axis=axis)


def partition(a: Any, kth: Any, axis: int | None = -1) -> Any:
    """``a`` partially sorted along ``axis`` around the positions ``kth`` (NumPy's ``partition``).

    The order within each part is unspecified, as in NumPy. The gradient follows each element
    to its place.

    >>> partition(np.array([5.0, 1.0, 4.0, 2.0]), 1)[1]
    np.float64(2.0)
    """
    a, ks, axis = _partition_args(a, kth, axis, "partition")
    return take_along_axis(a, _argpartition_p.bind(a, kth=ks, axis=axis), axis)


# --- searchsorted ------------------------------------------------------------------------------


def _sorts_before(a: np.ndarray, v: np.ndarray, side: str) -> np.ndarray:
    """Whether ``a`` belongs before ``v`` in NumPy's sort order (NaN last): ``a < v`` for side
    ``left``, ``a <= v`` for ``right``."""
    before = np.less(a, v) if side == "left" else np.less_equal(a, v)
    if a.dtype.kind not in "fc" and v.dtype.kind not in "fc":
        return before
    return before | (np.isnan(v) & ~np.isnan(a) if side == "left" else np.isnan(v))


def _searchsorted_impl(a: Any, v: Any, side: str, batch_dims: int) -> np.ndarray:
    """NumPy's ``searchsorted`` of ``v`` in ``a``, for each of ``batch_dims`` leading axes they share.

    With batch axes, a binary search runs on all of them at once: ``n.bit_length()`` vectorized
    halvings of each ``[lo, hi)`` interval.
    """
    if batch_dims == 0:
        return np.searchsorted(a, v, side=side)  # type: ignore[call-overload]
    a, v = np.asarray(a), np.asarray(v)
    n = a.shape[-1]
    rows = a.reshape(-1, n)
    flat_v = v.reshape(rows.shape[0], -1)
    lo = np.zeros(flat_v.shape, np.intp)
    hi = np.full(flat_v.shape, n, np.intp)
    row = np.arange(rows.shape[0])[:, None]
    with np.errstate(invalid="ignore"):
        for _ in range(n.bit_length()):
            mid = (lo + hi) // 2
            right = _sorts_before(rows[row, np.minimum(mid, n - 1)], flat_v, side) & (lo < hi)
            lo, hi = np.where(right, mid + 1, lo), np.where(right | (lo >= hi), hi, mid)
    return lo.reshape(v.shape)


def _searchsorted_batch(size: int, args: Any, dims: tuple, side: str, batch_dims: int) -> tuple[Any, int]:
    (a, v), (da, dv) = args, dims
    if da is None and batch_dims == 0:  # one sorted array, a batch of values: NumPy's own search
        return _searchsorted_p.bind(a, v, side=side, batch_dims=0), dv
    return _searchsorted_p.bind(to_front(a, da, size), to_front(v, dv, size), side=side,
                                batch_dims=batch_dims + 1), 0


_searchsorted_p = Primitive("searchsorted", _searchsorted_impl)
def_abstract_eval(_searchsorted_p, lambda a, v, side, batch_dims: ShapeDtype(v.shape, np.intp))
def_batch(_searchsorted_p, _searchsorted_batch)


def searchsorted(a: Any, v: Any, side: str = "left", sorter: Any = None) -> Any:
    """Indices where the values ``v`` would be inserted into the sorted 1-d ``a`` to keep it sorted
    (NumPy's ``searchsorted``; NaN sorts last). An integer array of ``v``'s shape, no derivative.

    ``side`` : ``"left"`` gives the first suitable index, ``"right"`` the last.
    ``sorter`` : optional indices that sort ``a``.

    >>> searchsorted(np.array([1.0, 2.0, 3.0]), np.array([2.0, 2.5]))
    array([1, 2])
    """
    if side not in ("left", "right"):
        raise ValueError(f"searchsorted: side must be 'left' or 'right', not {side!r}")
    a, v = asarray(a), asarray(v)
    if ndim_of(a) != 1:
        raise ValueError(f"searchsorted: a must be 1-d, not of shape {shape_of(a)}")
    if sorter is not None:
        a = take(a, sorter)
    return _searchsorted_p.bind(a, v, side=side, batch_dims=0)
