"""Indexing: ``x[index]`` as the ``getitem`` primitive, its transpose ``scatter_add``, and
``take`` / ``take_along_axis`` composed from ``getitem``.

An index splits into a static part (slices, integers, ``None``, ``Ellipsis``: a small
hashable :class:`Index`) and integer arrays, which are operands: they may be traced (class
labels inside a training step), and a graph records them as inputs, not as baked-in
constants. A boolean mask is turned into integer arrays (``nonzero``) first; its size
depends on its values, so it must be concrete. The VJP of ``getitem`` adds the cotangent
into zeros at the indexed positions (``np.add.at`` when an integer array may repeat a
position), and ``scatter_add``'s VJP is ``getitem`` again, so derivatives of any order work.
"""
from __future__ import annotations

import operator
from typing import Any, NamedTuple, Sequence

import numpy as np

from funcnn.extend import (
    Primitive, ShapeDtype, Tracer, concrete, def_abstract_eval, def_batch, def_jvp, def_vjp, dtype_of, move_axis,
    ndim_of, reshape, shape_of, to_front, transpose,
)
from funcnn.numpy._creation import as_sizes, asarray, normalize_axis


class Slice(NamedTuple):
    """A hashable ``slice``."""

    start: int | None
    stop: int | None
    step: int | None

    def short(self) -> str:
        text = ":".join("" if v is None else str(v) for v in self)
        return text[:-1] if self.step is None else text


class ArrayIndex:
    """Where an integer-array operand goes in an :class:`Index` (the ``k``-th such operand)."""

    __slots__ = ()

    def __repr__(self) -> str:
        return "#"

    def __eq__(self, other: object) -> bool:
        return isinstance(other, ArrayIndex)

    def __hash__(self) -> int:
        return hash(ArrayIndex)


ARRAY = ArrayIndex()


class Index(tuple):
    """The static part of an index: ints, :class:`Slice`, ``None``, ``Ellipsis`` and ``ARRAY``
    marks for integer-array operands, in order."""

    def short(self) -> str:
        parts = []
        for item in self:
            if isinstance(item, Slice):
                parts.append(item.short())
            elif item is Ellipsis:
                parts.append("...")
            else:
                parts.append(repr(item))
        return "[" + ", ".join(parts) + "]"


def split_index(index: Any) -> tuple[Index, list[Any]]:
    """``index`` as its static :class:`Index` and its integer-array operands."""
    items = index if isinstance(index, tuple) else (index,)
    static: list[Any] = []
    arrays: list[Any] = []
    for item in items:
        if item is None or item is Ellipsis:
            static.append(item)
        elif isinstance(item, slice):
            bounds = (item.start, item.stop, item.step)
            static.append(Slice(*(None if v is None else operator.index(v) for v in bounds)))
        elif isinstance(item, (bool, np.bool_)):
            raise IndexError("a boolean scalar is not a supported index; use a boolean array or None")
        elif isinstance(item, (int, np.integer)):
            static.append(int(item))
        else:
            _array_item(item, static, arrays)
    return Index(static), arrays


def _array_item(item: Any, static: list, arrays: list) -> None:
    """An integer array becomes an operand; a boolean mask the integer arrays of its ``nonzero``."""
    if not isinstance(item, Tracer):
        item = np.asarray(item)
    kind = dtype_of(item).kind
    if kind == "b":
        mask = concrete(item, "indexing with a boolean mask (the result's size depends on its values)")
        for positions in np.nonzero(mask):
            static.append(ARRAY)
            arrays.append(positions)
    elif kind in "iu":
        static.append(ARRAY)
        arrays.append(item)
    else:
        raise IndexError(f"arrays used as indices must be of integer or boolean type, not {dtype_of(item)}")


def _full_index(index: Index, arrays: tuple) -> tuple:
    """The NumPy index: slices for :class:`Slice`, the operands in place of ``ARRAY``."""
    operands = iter(arrays)
    return tuple(slice(*item) if isinstance(item, Slice) else next(operands) if item is ARRAY else item
                 for item in index)


def indexed_shape(shape: tuple, index: Index, array_shapes: list[tuple]) -> tuple[int, ...]:
    """The shape of ``x[index]`` for ``x`` of ``shape``, by NumPy's rules for basic and advanced indexing."""
    items = _expanded(index, shape)
    advanced = any(item is ARRAY for item in items)
    out: list[Any] = []
    group: list[int] = []  # positions in ``items`` of the advanced indices
    shapes = iter(array_shapes)
    broadcast: list[tuple] = []
    dim = 0
    for pos, item in enumerate(items):
        if item is None:
            out.append(1)
            continue
        n = shape[dim]
        dim += 1
        if isinstance(item, Slice):
            out.append(len(range(*slice(*item).indices(n))))
        elif item is ARRAY or advanced:
            if not group:
                out.append(ARRAY)  # where the advanced dimensions go if they are adjacent
            group.append(pos)
            broadcast.append(next(shapes) if item is ARRAY else ())
            if item is not ARRAY:
                _check_bound(item, n, dim - 1)
        else:
            _check_bound(item, n, dim - 1)
    if not group:
        return tuple(out)
    try:
        block = list(np.broadcast_shapes(*broadcast))
    except ValueError:
        raise IndexError(f"shape mismatch: indexing arrays could not be broadcast together with shapes "
                         f"{' '.join(str(s) for s in broadcast)}") from None
    where = out.index(ARRAY)
    rest = out[:where] + out[where + 1:]
    if group == list(range(group[0], group[-1] + 1)):
        return tuple(rest[:where] + block + rest[where:])
    return tuple(block + rest)


def _expanded(index: Index, shape: tuple) -> list[Any]:
    """The items of ``index`` with its ``Ellipsis`` (or the missing trailing items) spelled out as slices."""
    consuming = sum(1 for item in index if item is not None and item is not Ellipsis)
    if sum(1 for item in index if item is Ellipsis) > 1:
        raise IndexError("an index can only have a single ellipsis ('...')")
    if consuming > len(shape):
        raise IndexError(f"too many indices for an array of shape {shape}: {consuming} were given")
    fill = (Slice(None, None, None),) * (len(shape) - consuming)
    items = [y for item in index for y in (fill if item is Ellipsis else (item,))]
    return items if Ellipsis in index else items + list(fill)


def advanced_block(shape: tuple, index: Index, array_shapes: list[tuple]) -> tuple[int, int, bool]:
    """Where the axes of the integer-array indices go in ``x[index]``: their position, their
    number, and whether they stay in place (adjacent advanced indices) or move to the front."""
    items = _expanded(index, shape)
    positions = [p for p, item in enumerate(items) if item is ARRAY or isinstance(item, int)]
    rank = len(np.broadcast_shapes(*array_shapes)) if array_shapes else 0
    if not array_shapes:
        return 0, 0, True
    in_place = positions == list(range(positions[0], positions[-1] + 1))
    before = sum(1 for item in items[:positions[0]] if item is None or isinstance(item, Slice))
    return (before if in_place else 0), rank, in_place


def _check_bound(i: int, n: int, axis: int) -> None:
    if not -n <= i < n:
        raise IndexError(f"index {i} is out of bounds for axis {axis} with size {n}")


def _getitem_impl(x: Any, *arrays: Any, index: Index) -> Any:
    return np.asarray(x)[_full_index(index, arrays)]


def _scatter_add_impl(updates: Any, *arrays: Any, index: Index, shape: tuple) -> np.ndarray:
    out = np.zeros(shape, dtype=np.result_type(updates))
    full = _full_index(index, arrays)
    if arrays:  # an integer array may select a position twice: add, do not assign
        np.add.at(out, full, updates)
    else:
        out[full] = updates
    return out


_getitem_p = Primitive("getitem", _getitem_impl)
_scatter_add_p = Primitive("scatter_add", _scatter_add_impl)
def_abstract_eval(_getitem_p, lambda x, *arrays, index: ShapeDtype(
    indexed_shape(x.shape, index, [a.shape for a in arrays]), x.dtype))
def_abstract_eval(_scatter_add_p, lambda u, *arrays, index, shape: ShapeDtype(shape, u.dtype))

def_vjp(_getitem_p, lambda ans, x, *arrays, index: lambda g: _scatter_add_p.bind(
    g, *arrays, index=index, shape=shape_of(x)))
def_jvp(_getitem_p, lambda t, ans, x, *arrays, index: _getitem_p.bind(t, *arrays, index=index))
def_vjp(_scatter_add_p, lambda ans, u, *arrays, index, shape: lambda g: _getitem_p.bind(g, *arrays, index=index))
def_jvp(_scatter_add_p, lambda t, ans, u, *arrays, index, shape: _scatter_add_p.bind(
    t, *arrays, index=index, shape=shape))


# --- batching: the batch becomes one more index ------------------------------------------------


_ALL = Slice(None, None, None)


def _lined_up(arrays: Sequence[Any], dims: Sequence[Any], size: int) -> tuple[list[Any], int, list[tuple]]:
    """Batched index arrays with the batch first and size-1 axes after it, so all broadcast to
    ``(size, *block)``; unbatched ones as they are. Also returns the rank of one example's block
    and the arrays' shapes in one example."""
    per_example = [shape_of(a) if d is None else shape_of(a)[:d] + shape_of(a)[d + 1:] for a, d in zip(arrays, dims)]
    rank = len(np.broadcast_shapes(*per_example))
    lined = []
    for a, d, shape in zip(arrays, dims, per_example):
        if d is not None:
            a = reshape(move_axis(a, d, 0, size), (size,) + (1,) * (rank - len(shape)) + shape)
        lined.append(a)
    return lined, rank, per_example


def _batch_positions(size: int, block_rank: int) -> np.ndarray:
    """The index array ``0 .. size-1`` shaped to broadcast against ``(size, *block)``."""
    return np.arange(size, dtype=np.intp).reshape((size,) + (1,) * block_rank)


def _block_to_place(value: Any, position: int, rank: int) -> Any:
    """``(B, *block, *rest)`` -> ``(B, *rest[:position], *block, *rest[position:])``."""
    n = ndim_of(value)
    order = [0, *range(1 + rank, 1 + rank + position), *range(1, 1 + rank), *range(1 + rank + position, n)]
    return transpose(value, tuple(order))


def _block_to_front(value: Any, position: int, rank: int) -> Any:
    """The inverse of :func:`_block_to_place`."""
    n = ndim_of(value)
    order = [0, *range(1 + position, 1 + position + rank), *range(1, 1 + position), *range(1 + position + rank, n)]
    return transpose(value, tuple(order))


def _getitem_batch(size: int, args: Sequence[Any], dims: tuple, index: Index) -> tuple[Any, int]:
    x, arrays = args[0], args[1:]
    dx, d_arrays = dims[0], dims[1:]
    if all(d is None for d in d_arrays):  # the same positions in every example: a slice over the batch
        x = to_front(x, dx, size)
        _, rank, in_place = advanced_block(shape_of(x)[1:], index, [shape_of(a) for a in arrays])
        return _getitem_p.bind(x, *arrays, index=Index((_ALL,) + index)), (0 if in_place else rank)
    lined, rank, shapes = _lined_up(arrays, d_arrays, size)
    if dx is None:  # one array indexed by a batch of positions: the batch joins the advanced block
        position, _, _ = advanced_block(shape_of(x), index, shapes)
        return _getitem_p.bind(x, *lined, index=index), position
    x = to_front(x, dx, size)
    position, _, _ = advanced_block(shape_of(x)[1:], index, shapes)
    out = _getitem_p.bind(x, _batch_positions(size, rank), *lined, index=Index((ARRAY,) + index))
    return _block_to_place(out, position, rank), 0


def _updates_in_front(updates: Any, du: int | None, size: int, rank: int) -> Any:
    """``updates`` with the batch axis first and one example's axes padded with leading size-1
    axes to ``rank`` (updates may broadcast against the indexed shape)."""
    updates = to_front(updates, du, size)
    shape = shape_of(updates)
    return reshape(updates, shape[:1] + (1,) * (1 + rank - len(shape)) + shape[1:])


def _scatter_add_batch(size: int, args: Sequence[Any], dims: tuple, index: Index, shape: tuple) -> tuple[Any, int]:
    updates, arrays = args[0], args[1:]
    du, d_arrays = dims[0], dims[1:]
    if all(d is None for d in d_arrays):
        array_shapes = [shape_of(a) for a in arrays]
        _, rank, in_place = advanced_block(shape, index, array_shapes)
        updates = _updates_in_front(updates, du, size, len(indexed_shape(shape, index, array_shapes)))
        updates = move_axis(updates, 0, 0 if in_place else rank, 0)
        return _scatter_add_p.bind(updates, *arrays, index=Index((_ALL,) + index), shape=(size,) + shape), 0
    lined, rank, shapes = _lined_up(arrays, d_arrays, size)
    position, _, _ = advanced_block(shape, index, shapes)
    updates = _block_to_front(_updates_in_front(updates, du, size, len(indexed_shape(shape, index, shapes))),
                              position, rank)
    return _scatter_add_p.bind(updates, _batch_positions(size, rank), *lined, index=Index((ARRAY,) + index),
                               shape=(size,) + shape), 0


def_batch(_getitem_p, _getitem_batch)
def_batch(_scatter_add_p, _scatter_add_batch)


def getitem(x: Any, index: Any) -> Any:
    """``x[index]`` with NumPy's basic and advanced indexing; repeated indices accumulate gradient."""
    static, arrays = split_index(index)
    x = asarray(x)
    indexed_shape(shape_of(x), static, [shape_of(a) for a in arrays])  # bad indices raise here, named
    return _getitem_p.bind(x, *arrays, index=static)


def scatter_add(updates: Any, index: Any, shape: tuple) -> Any:
    """An array of zeros of ``shape`` with ``updates`` added at ``index`` (repeats accumulate)."""
    shape = as_sizes(shape, "shape", "scatter_add")
    updates = asarray(updates)
    static, arrays = split_index(index)
    target = indexed_shape(shape, static, [shape_of(a) for a in arrays])
    try:
        fits = np.broadcast_shapes(shape_of(updates), target) == target
    except ValueError:
        fits = False
    if not fits:
        raise ValueError(f"scatter_add: updates of shape {shape_of(updates)} do not broadcast to the shape "
                         f"{target} that index selects in an array of shape {shape}")
    return _scatter_add_p.bind(updates, *arrays, index=static, shape=shape)


def take(a: Any, indices: Any, axis: int | None = None) -> Any:
    """Elements of ``a`` at ``indices`` along ``axis`` (of the flattened array when None)."""
    a = asarray(a)
    if axis is None:
        from funcnn.numpy._shape import ravel

        return getitem(ravel(a), _integer_indices(indices, "take"))
    axis = normalize_axis(axis, ndim_of(a), "take")
    return getitem(a, (slice(None),) * axis + (_integer_indices(indices, "take"),))


def _integer_indices(indices: Any, fn: str) -> Any:
    if not isinstance(indices, Tracer):
        indices = np.asarray(indices)
        if indices.size == 0:
            indices = indices.astype(np.intp)
    if dtype_of(indices).kind not in "iu":
        raise IndexError(f"{fn}: indices must be integers; got dtype {dtype_of(indices)}")
    return indices


def take_along_axis(arr: Any, indices: Any, axis: int | None) -> Any:
    """Pick values from ``arr`` by matching 1-d slices of ``indices`` along ``axis`` (with
    ``axis=None``, 1-d ``indices`` into the flattened ``arr``)."""
    arr = asarray(arr)
    indices = _integer_indices(indices, "take_along_axis")
    if axis is None:
        from funcnn.numpy._shape import ravel

        if ndim_of(indices) != 1:
            raise ValueError(f"take_along_axis: with axis=None, indices must be 1-d; got shape {shape_of(indices)}")
        arr, axis = ravel(arr), 0
    shape = shape_of(arr)
    axis = normalize_axis(axis, len(shape), "take_along_axis")
    if ndim_of(indices) != len(shape):
        raise ValueError(f"take_along_axis: indices of shape {shape_of(indices)} must have as many "
                         f"dimensions as arr of shape {shape}")
    index = tuple(
        indices if d == axis else np.arange(n).reshape((-1,) + (1,) * (len(shape) - d - 1))
        for d, n in enumerate(shape)
    )
    return getitem(arr, index)
