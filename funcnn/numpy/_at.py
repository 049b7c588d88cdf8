"""Functional index updates, as in JAX: ``fnp.at(x)[index].set(values)`` returns a new array.

A traced value cannot be assigned to (``x[i] = v`` raises); ``x.at[i].set(v)`` on a traced
value, or ``fnp.at(x)[i].set(v)`` on any array, is the update as a value. ``add``,
``multiply``, ``min`` and ``max`` combine ``values`` with what is there, accumulating over
repeated positions (``np.add.at`` and its kin).

All five are one primitive, ``scatter[op, index]``, with operands ``x``, ``values`` and the
integer arrays of the index (as for ``getitem``: the positions flow through the graph, so
they may be traced and batched). Its derivative rules are written with ``getitem``,
``scatter_add``, ``where`` and ``scatter`` itself:

* ``set``: ``x`` gets the cotangent outside the written positions; each position's winning
  update (the last in C order of the indexed shape, as ``x[index] = values`` does in NumPy)
  gets the cotangent there, and the updates it overwrote get none.
* ``add``: ``x`` gets the cotangent, each update the cotangent at its position.
* ``multiply``: ``x`` times ``P``, the product of the updates at each position; an update's
  partial is ``x`` times the product of the *other* updates at its position, computed
  without dividing by zero (one zero among them: the product of the rest; two or more: 0).
* ``min``/``max``: the gradient at a position is shared equally among the candidates that
  attain the result there (``x`` and the tied updates), as ``maximum`` shares it between its
  two arguments and JAX shares it in ``scatter_max``. A NaN result passes no gradient.
"""
from __future__ import annotations

import math
from typing import Any, Callable, Sequence

import numpy as np

from funcnn.extend import (
    Primitive, ShapeDtype, Tracer, def_abstract_eval, def_batch, def_jvp, def_vjp, dtype_of, move_axis, ndim_of,
    reshape, shape_of, to_front,
)
from funcnn.numpy._creation import asarray
from funcnn.numpy._elementwise import add, astype, divide, maximum, minimum, multiply, where
from funcnn.numpy._indexing import (
    _ALL, ARRAY, Index, _batch_positions, _block_to_front, _full_index, _getitem_p, _lined_up, _scatter_add_p,
    advanced_block, getitem, indexed_shape, split_index,
)
from funcnn.numpy._logic import equal
from funcnn.numpy._shape import broadcast_to

_UFUNCS = {"add": np.add, "multiply": np.multiply, "min": np.minimum, "max": np.maximum}
OPS = ("set", *_UFUNCS)


def _scatter_impl(x: Any, values: Any, *arrays: Any, index: Index, op: str) -> np.ndarray:
    out = np.array(x)  # a copy: the input is never written
    full = _full_index(index, arrays)
    if not arrays:  # basic indexing selects each position once: one vectorized assignment
        out[full] = values if op == "set" else _UFUNCS[op](out[full], values)
    elif op == "set":
        target = indexed_shape(out.shape, index, [a.shape for a in arrays])
        out[full] = _last_writes(out.shape, full, values, target)
    else:
        _UFUNCS[op].at(out, full, values)
    return out


def _last_writes(shape: tuple, full: tuple, values: Any, target: tuple) -> np.ndarray:
    """For each update, the value of the last update (in C order) that goes to its position.

    NumPy's ``out[full] = values`` keeps the last write in the order it iterates, which
    depends on the memory layout of the operands; assigning every update its winner's value
    makes the result independent of that order, and the same as the ``set`` rules assume.
    """
    ids = np.arange(math.prod(target), dtype=np.intp).reshape(target)
    last = np.full(shape, -1, dtype=np.intp)
    np.maximum.at(last, full, ids)
    return np.broadcast_to(values, target).reshape(-1)[last[full]]


_scatter_p = Primitive("scatter", _scatter_impl)
def_abstract_eval(_scatter_p, lambda x, values, *arrays, index, op: ShapeDtype(x.shape, x.dtype))


# --- derivative rules --------------------------------------------------------------------------


def _gather(a: Any, arrays: Sequence[Any], index: Index) -> Any:
    return _getitem_p.bind(a, *arrays, index=index)


def _spread(updates: Any, arrays: Sequence[Any], index: Index, shape: tuple) -> Any:
    return _scatter_add_p.bind(updates, *arrays, index=index, shape=shape)


def _target(shape: tuple, arrays: Sequence[Any], index: Index) -> tuple[int, ...]:
    return indexed_shape(shape, index, [shape_of(a) for a in arrays])


def _winners(shape: tuple, arrays: Sequence[Any], index: Index) -> Any:
    """True for the updates a ``set`` keeps: the last (in C order) at each position."""
    target = _target(shape, arrays, index)
    ids = np.arange(math.prod(target), dtype=np.intp).reshape(target)
    last = _scatter_p.bind(np.full(shape, -1, dtype=np.intp), ids, *arrays, index=index, op="max")
    return equal(_gather(last, arrays, index), ids)


def _products(values: Any, arrays: Sequence[Any], index: Index, shape: tuple) -> Any:
    """The product of the updates at each position (1 where there are none)."""
    return _scatter_p.bind(np.ones(shape, dtype_of(values)), values, *arrays, index=index, op="multiply")


def _others(values: Any, arrays: Sequence[Any], index: Index, shape: tuple) -> Any:
    """For each update, the product of the other updates at its position, without dividing by zero."""
    dtype = dtype_of(values)
    if not arrays:  # no position repeats: there are no others
        return np.ones((), dtype)
    values = broadcast_to(values, _target(shape, arrays, index))  # each broadcast copy is an update
    zero = equal(values, 0)
    safe = where(zero, 1, values)
    nonzero = _gather(_products(safe, arrays, index, shape), arrays, index)
    zeros_here = _gather(_spread(astype(zero, dtype), arrays, index, shape), arrays, index)
    return where(zero, where(equal(zeros_here, 1), nonzero, 0), where(equal(zeros_here, 0), divide(nonzero, safe), 0))


def _shares(ans: Any, x: Any, values: Any, arrays: Sequence[Any], index: Index) -> tuple[Any, Any]:
    """The shares of the gradient that ``x`` and each update get from ``min``/``max``: equal
    among the candidates that attain the result."""
    dtype = dtype_of(ans)
    x_wins = astype(equal(x, ans), dtype)
    values_win = astype(equal(values, _gather(ans, arrays, index)), dtype)
    count = maximum(add(x_wins, _spread(values_win, arrays, index, shape_of(ans))), 1)  # NaN: no candidate
    return divide(x_wins, count), divide(values_win, _gather(count, arrays, index))


def _set_x_vjp(ans: Any, x: Any, values: Any, *arrays: Any, index: Index) -> Callable[[Any], Any]:
    zero = np.zeros((), dtype_of(x))
    return lambda g: _scatter_p.bind(g, zero, *arrays, index=index, op="set")


def _set_values_vjp(ans: Any, x: Any, values: Any, *arrays: Any, index: Index) -> Callable[[Any], Any]:
    if not arrays:
        return lambda g: _gather(g, arrays, index)
    kept = _winners(shape_of(x), arrays, index)
    return lambda g: where(kept, _gather(g, arrays, index), 0)


def _multiply_x_vjp(ans: Any, x: Any, values: Any, *arrays: Any, index: Index) -> Callable[[Any], Any]:
    product = _products(values, arrays, index, shape_of(x))
    return lambda g: multiply(g, product)


def _multiply_values_vjp(ans: Any, x: Any, values: Any, *arrays: Any, index: Index) -> Callable[[Any], Any]:
    others = _others(values, arrays, index, shape_of(x))
    return lambda g: multiply(_gather(multiply(g, x), arrays, index), others)


def _extremum_x_vjp(ans: Any, x: Any, values: Any, *arrays: Any, index: Index) -> Callable[[Any], Any]:
    share, _ = _shares(ans, x, values, arrays, index)
    return lambda g: multiply(g, share)


def _extremum_values_vjp(ans: Any, x: Any, values: Any, *arrays: Any, index: Index) -> Callable[[Any], Any]:
    _, share = _shares(ans, x, values, arrays, index)
    return lambda g: multiply(_gather(g, arrays, index), share)


_X_VJPS = {"set": _set_x_vjp, "add": lambda *args, index: lambda g: g, "multiply": _multiply_x_vjp,
           "min": _extremum_x_vjp, "max": _extremum_x_vjp}
_VALUES_VJPS = {"set": _set_values_vjp, "add": lambda ans, x, v, *arrays, index: lambda g: _gather(g, arrays, index),
                "multiply": _multiply_values_vjp, "min": _extremum_values_vjp, "max": _extremum_values_vjp}


def _x_jvp(t: Any, ans: Any, x: Any, values: Any, *arrays: Any, index: Index, op: str) -> Any:
    if op == "set":
        return _scatter_p.bind(t, np.zeros((), dtype_of(t)), *arrays, index=index, op="set")
    if op == "add":
        return t
    if op == "multiply":
        return multiply(t, _products(values, arrays, index, shape_of(x)))
    return multiply(t, _shares(ans, x, values, arrays, index)[0])


def _values_jvp(t: Any, ans: Any, x: Any, values: Any, *arrays: Any, index: Index, op: str) -> Any:
    shape = shape_of(x)
    t = broadcast_to(t, _target(shape, arrays, index))  # one tangent per update, as scatter_add's vmap needs
    if op == "set":
        return _scatter_p.bind(np.zeros(shape, dtype_of(t)), t, *arrays, index=index, op="set")
    if op == "add":
        return _spread(t, arrays, index, shape)
    if op == "multiply":
        return multiply(x, _spread(multiply(t, _others(values, arrays, index, shape)), arrays, index, shape))
    return _spread(multiply(t, _shares(ans, x, values, arrays, index)[1]), arrays, index, shape)


def_vjp(_scatter_p, lambda ans, *args, index, op: _X_VJPS[op](ans, *args, index=index),
        lambda ans, *args, index, op: _VALUES_VJPS[op](ans, *args, index=index))
def_jvp(_scatter_p, _x_jvp, _values_jvp)


# --- batching: as for scatter_add, the batch becomes one more index ------------------------------


def _values_in_front(values: Any, dim: int | None, rank: int) -> Any:
    """``values`` with its batch axis first (size 1 when unbatched) and one example's axes
    padded with leading size-1 axes to ``rank``, so it lines up with the indexed block."""
    shape = shape_of(values)
    if dim is None:
        return reshape(values, (1,) * (1 + rank - len(shape)) + shape)
    values = move_axis(values, dim, 0, 0)
    shape = shape_of(values)
    return reshape(values, shape[:1] + (1,) * (1 + rank - len(shape)) + shape[1:])


def _scatter_batch(size: int, args: Sequence[Any], dims: tuple, index: Index, op: str) -> tuple[Any, int]:
    x, values, arrays = to_front(args[0], dims[0], size), args[1], args[2:]
    shape, d_arrays = shape_of(x)[1:], dims[2:]
    if all(d is None for d in d_arrays):  # the same positions in every example: a slice over the batch
        array_shapes = [shape_of(a) for a in arrays]
        values = _values_in_front(values, dims[1], len(indexed_shape(shape, index, array_shapes)))
        _, rank, in_place = advanced_block(shape, index, array_shapes)
        values = move_axis(values, 0, 0 if in_place else rank, 0)
        return _scatter_p.bind(x, values, *arrays, index=Index((_ALL,) + index), op=op), 0
    lined, rank, array_shapes = _lined_up(arrays, d_arrays, size)
    position, _, _ = advanced_block(shape, index, array_shapes)
    values = _values_in_front(values, dims[1], len(indexed_shape(shape, index, array_shapes)))
    values = _block_to_front(values, position, rank)
    return _scatter_p.bind(x, values, _batch_positions(size, rank), *lined, index=Index((ARRAY,) + index),
                           op=op), 0


def_batch(_scatter_p, _scatter_batch)


# --- the public interface --------------------------------------------------------------------


class IndexUpdate:
    """``at(x)[index]``: the updates of ``x`` at ``index``, each returning a new array."""

    __slots__ = ("x", "index")

    def __init__(self, x: Any, index: Any) -> None:
        self.x = x
        self.index = index

    def get(self) -> Any:
        """``x[index]``."""
        return getitem(self.x, self.index)

    def set(self, values: Any) -> Any:
        """A copy of ``x`` with ``x[index] = values``; at a repeated position the last update
        (in C order of the indexed shape) wins, as in NumPy."""
        return _update(self.x, self.index, values, "set")

    def add(self, values: Any) -> Any:
        """A copy of ``x`` with ``values`` added at ``index``; repeats accumulate (``np.add.at``)."""
        return _update(self.x, self.index, values, "add")

    def multiply(self, values: Any) -> Any:
        """A copy of ``x`` multiplied by ``values`` at ``index``; repeats accumulate (``np.multiply.at``)."""
        return _update(self.x, self.index, values, "multiply")

    def min(self, values: Any) -> Any:
        """A copy of ``x`` with ``minimum(x[index], values)`` at ``index``; repeats accumulate."""
        return _update(self.x, self.index, values, "min")

    def max(self, values: Any) -> Any:
        """A copy of ``x`` with ``maximum(x[index], values)`` at ``index``; repeats accumulate."""
        return _update(self.x, self.index, values, "max")


class At:
    """``at(x)``: index it to pick the positions to update, ``at(x)[index]``."""

    __slots__ = ("x",)

    def __init__(self, x: Any) -> None:
        self.x = x

    def __getitem__(self, index: Any) -> IndexUpdate:
        return IndexUpdate(self.x, index)


def at(x: Any) -> At:
    """Functional index updates: ``at(x)[index].set(values)`` is a copy of ``x`` with
    ``x[index] = values``; ``.add``, ``.multiply``, ``.min`` and ``.max`` combine ``values``
    with ``x[index]`` (repeated positions accumulate); ``.get()`` is ``x[index]``.

    On a traced value, ``x.at[index]`` is the same. ``index`` is any index ``x[index]``
    accepts; integer arrays may be traced. ``values`` broadcasts to the shape of
    ``x[index]`` and is cast to ``x``'s dtype; the result has ``x``'s shape and dtype.
    Derivatives flow to ``x`` and ``values``, see the module notes for ties.

    >>> import numpy as np, funcnn.numpy as fnp
    >>> x = np.zeros(4)
    >>> fnp.at(x)[np.array([0, 2, 2])].add(1.0)
    array([1., 0., 2., 0.])
    >>> fnp.at(x)[1:].set(np.array([5.0, 6.0, 7.0]))
    array([0., 5., 6., 7.])
    >>> x
    array([0., 0., 0., 0.])
    """
    return At(asarray(x))


def _update(x: Any, index: Any, values: Any, op: str) -> Any:
    x, values = asarray(x), asarray(values)
    for name, a in (("x", x), ("values", values)):
        if dtype_of(a).kind == "c":
            raise TypeError(f"at[...].{op}: complex {name} (dtype {dtype_of(a)}) is not supported; "
                            "update the real and imaginary parts as separate real arrays")
    if dtype_of(values) != dtype_of(x):
        values = astype(values, dtype_of(x))  # as NumPy's x[index] = values casts
    mask = _full_mask(index, x)
    if mask is not None and ndim_of(values) == 0:
        return _masked_update(x, mask, values, op)
    static, arrays = split_index(index)
    target = indexed_shape(shape_of(x), static, [shape_of(a) for a in arrays])
    values = _fitted(values, target, shape_of(x), op)
    return _scatter_p.bind(x, values, *arrays, index=static, op=op)


def _full_mask(index: Any, x: Any) -> Any:
    """``index`` if it is one boolean array of ``x``'s shape (which may be traced), else None."""
    if isinstance(index, tuple) and len(index) == 1:
        index = index[0]
    if isinstance(index, (np.ndarray, Tracer)) and dtype_of(index) == np.bool_ and shape_of(index) == shape_of(x):
        return index
    return None


_COMBINE: dict[str, Callable[[Any, Any], Any]] = {
    "set": lambda x, values: values, "add": add, "multiply": multiply, "min": minimum, "max": maximum}


def _masked_update(x: Any, mask: Any, values: Any, op: str) -> Any:
    """A scalar update under a boolean mask of ``x``'s shape is a ``where``: the mask need not be
    concrete (the number of positions it selects does not matter)."""
    return where(mask, _COMBINE[op](x, values), x)


def _fitted(values: Any, target: tuple, shape: tuple, op: str) -> Any:
    """``values`` checked to broadcast to ``target``; leading size-1 axes beyond its rank dropped, as NumPy does."""
    given = have = shape_of(values)
    extra = len(have) - len(target)
    if extra > 0 and all(n == 1 for n in have[:extra]):
        have = have[extra:]
        values = reshape(values, have)
    try:
        fits = np.broadcast_shapes(have, target) == tuple(target)
    except ValueError:
        fits = False
    if not fits:
        raise ValueError(f"at[...].{op}: values of shape {given} cannot be broadcast to the shape "
                         f"{tuple(target)} that the index selects in x of shape {shape}")
    return values
