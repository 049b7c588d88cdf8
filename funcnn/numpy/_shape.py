"""Shape primitives (``reshape``, ``transpose``, ``broadcast_to``, ``concatenate``, ``pad``) and
the shape functions composed from them. All are linear, so each JVP applies the op itself
to the tangent, and each VJP is the op's transpose."""
from __future__ import annotations

import builtins
import math
from typing import Any, Sequence

import numpy as np

from funcnn import extend
from funcnn.extend import (
    Primitive, ShapeDtype, def_abstract_eval, def_batch, move_axis, def_jvp, def_vjp, ndim_of, shape_of,
)
from funcnn.numpy._creation import (
    as_int, as_ints, as_sizes, asarray, items_of, normalize_axes, normalize_axis,
)
from funcnn.numpy._indexing import getitem, take

# --- reshape (the engine's primitive) --------------------------------------------------------


def _resolve_shape(old: tuple, new: Any) -> tuple[int, ...]:
    """``new`` with its one ``-1`` filled in, checked against the size of ``old``."""
    shape = list(as_ints(new, "shape", "reshape"))
    size = math.prod(old)
    unknown = [i for i, d in enumerate(shape) if d == -1]
    known = math.prod(d for d in shape if d != -1)
    bad = len(unknown) > 1 or builtins.any(d < -1 for d in shape) or (unknown and not known)
    if unknown and not bad and size % known == 0:
        shape[unknown[0]] = size // known
    if bad or math.prod(shape) != size:
        raise ValueError(f"reshape: cannot reshape an array of shape {old} into shape {tuple(shape)}")
    return tuple(shape)


def reshape(a: Any, shape: Any) -> Any:
    """``a`` with a new shape (one entry may be -1), in C order."""
    a = asarray(a)
    new = _resolve_shape(shape_of(a), shape)
    return extend.reshape(a, new)


def ravel(a: Any) -> Any:
    """``a`` flattened to one dimension, in C order."""
    return reshape(a, -1)


def expand_dims(a: Any, axis: Any) -> Any:
    """Insert size-1 axes at the positions ``axis`` of the result."""
    a = asarray(a)
    ndim = ndim_of(a) + len(items_of(axis))
    positions = normalize_axes(axis, ndim, "expand_dims")
    dims = iter(shape_of(a))
    return reshape(a, tuple(1 if i in positions else next(dims) for i in range(ndim)))


def squeeze(a: Any, axis: Any = None) -> Any:
    """Remove size-1 axes (all of them, or those in ``axis``, which must have size 1)."""
    a = asarray(a)
    shape = shape_of(a)
    if axis is None:
        return reshape(a, tuple(d for d in shape if d != 1))
    axes = normalize_axes(axis, len(shape), "squeeze")
    for ax in axes:
        if shape[ax] != 1:
            raise ValueError(f"squeeze: axis {ax} of shape {shape} has size {shape[ax]}, not 1")
    return reshape(a, tuple(d for i, d in enumerate(shape) if i not in axes))


# --- transpose ---------------------------------------------------------------------------

# (the transpose primitive is the engine's own: extend.transpose binds it)

def transpose(a: Any, axes: Sequence[int] | None = None) -> Any:
    """Permute the axes of ``a`` (reverse them when ``axes`` is None)."""
    a = asarray(a)
    ndim = ndim_of(a)
    perm = tuple(range(ndim))[::-1] if axes is None else normalize_axes(axes, ndim, "transpose", "axes")
    if len(perm) != ndim:
        raise ValueError(f"transpose: axes={axes!r} is not a permutation of the {ndim} axes")
    return extend.transpose(a, perm)


def moveaxis(a: Any, source: Any, destination: Any) -> Any:
    """Move axes of ``a`` from ``source`` to ``destination`` positions (NumPy's ``moveaxis``)."""
    a = asarray(a)
    ndim = ndim_of(a)
    src = normalize_axes(source, ndim, "moveaxis", "source")
    dst = normalize_axes(destination, ndim, "moveaxis", "destination")
    if len(src) != len(dst):
        raise ValueError("moveaxis: source and destination must have the same number of elements")
    order = [i for i in range(ndim) if i not in src]
    for d, s in sorted(zip(dst, src)):
        order.insert(d, s)
    return transpose(a, order)


def swapaxes(a: Any, axis1: int, axis2: int) -> Any:
    """Interchange two axes of ``a``."""
    a = asarray(a)
    ndim = ndim_of(a)
    order = list(range(ndim))
    i, j = normalize_axis(axis1, ndim, "swapaxes", "axis1"), normalize_axis(axis2, ndim, "swapaxes", "axis2")
    order[i], order[j] = order[j], order[i]
    return transpose(a, order)


# --- broadcast_to ------------------------------------------------------------------------


def broadcast_to(array: Any, shape: Any) -> Any:
    """``array`` broadcast to ``shape`` (a read-only view when no transform is active)."""
    shape = as_sizes(shape, "shape", "broadcast_to")
    array = asarray(array)
    if len(shape) < ndim_of(array) or builtins.any(
            d not in (1, n) for d, n in zip(shape_of(array), shape[len(shape) - ndim_of(array):])):
        raise ValueError(f"broadcast_to: an array of shape {shape_of(array)} cannot be broadcast to shape {shape}")
    return extend.broadcast_to(array, shape)


# --- concatenate and split (the engine's primitives) ------------------------------------------


def concatenate(arrays: Sequence[Any], axis: int | None = 0) -> Any:
    """Join a sequence of arrays along an existing axis (``axis=None`` flattens them first)."""
    arrays = [asarray(a) for a in arrays]
    if not arrays:
        raise ValueError("concatenate: need at least one array")
    if axis is None:
        arrays, axis = [ravel(a) for a in arrays], 0
    axis = as_int(axis, "axis", "concatenate")
    ndim = ndim_of(arrays[0])
    if ndim == 0:
        raise ValueError("concatenate: zero-dimensional arrays cannot be concatenated")
    axis = normalize_axis(axis, ndim, "concatenate")
    first = shape_of(arrays[0])
    for i, a in enumerate(arrays):
        shape = shape_of(a)
        if len(shape) != ndim or builtins.any(m != n for k, (m, n) in enumerate(zip(shape, first)) if k != axis):
            raise ValueError(f"concatenate: the arrays must have the same shape except along axis {axis}; got "
                             f"{first} at position 0 and {shape} at position {i}")
    return extend.concatenate(arrays, axis)


def stack(arrays: Sequence[Any], axis: int = 0) -> Any:
    """Join arrays of one shape along a new axis."""
    arrays = [asarray(a) for a in arrays]
    if not arrays:
        raise ValueError("stack: need at least one array")
    shape = shape_of(arrays[0])
    for i, a in enumerate(arrays):
        if shape_of(a) != shape:
            raise ValueError(f"stack: all arrays must have the same shape; got {shape} at position 0 "
                             f"and {shape_of(a)} at position {i}")
    axis = normalize_axis(axis, len(shape) + 1, "stack")
    return concatenate([expand_dims(a, axis) for a in arrays], axis=axis)


def hstack(tup: Sequence[Any]) -> Any:
    """Concatenate along the second axis (the first for 1-d arrays); scalars count as 1-d."""
    arrays = [reshape(a, (1,)) if ndim_of(a) == 0 else a for a in tup]
    return concatenate(arrays, axis=0 if arrays and ndim_of(arrays[0]) == 1 else 1)


def vstack(tup: Sequence[Any]) -> Any:
    """Concatenate along the first axis, treating 1-d arrays as rows."""
    return concatenate([reshape(a, (1, -1)) if ndim_of(a) < 2 else a for a in tup], axis=0)


def split(ary: Any, indices_or_sections: Any, axis: int = 0) -> list[Any]:
    """Split into equal sections (an int) or at the given indices along ``axis``."""
    ary = asarray(ary)
    axis = normalize_axis(axis, ndim_of(ary), "split")
    n = shape_of(ary)[axis]
    if ndim_of(indices_or_sections) == 0:
        sections = as_int(indices_or_sections, "indices_or_sections", "split")
        if sections <= 0 or n % sections:
            raise ValueError(f"split: an axis of length {n} cannot be split into {sections} equal sections")
        bounds = list(range(0, n + 1, n // sections)) if n else [0] * (sections + 1)
    else:
        bounds = [0, *as_ints(indices_or_sections, "indices_or_sections", "split"), n]
    if all(0 <= lo <= hi <= n for lo, hi in zip(bounds[:-1], bounds[1:])):
        # consecutive pieces that cover the axis: one split, whose transpose is a concatenate
        return list(extend.split(ary, tuple(hi - lo for lo, hi in zip(bounds[:-1], bounds[1:])), axis))
    head = (slice(None),) * axis
    return [getitem(ary, head + (slice(lo, hi),)) for lo, hi in zip(bounds[:-1], bounds[1:])]


# --- pad ---------------------------------------------------------------------------------


def _pad_vjp(ans: Any, x: Any, pad_width: tuple, constant_values: Any) -> Any:
    index = tuple(slice(lo, lo + d) for (lo, _), d in zip(pad_width, shape_of(x)))
    return lambda g: getitem(g, index)


_pad_p = Primitive("pad", lambda x, pad_width, constant_values: np.pad(
    x, pad_width, mode="constant", constant_values=constant_values))
def_abstract_eval(_pad_p, lambda x, pad_width, constant_values: ShapeDtype(
    tuple(d + lo + hi for d, (lo, hi) in zip(x.shape, pad_width)), x.dtype))
def_batch(_pad_p, lambda size, args, dims, pad_width, constant_values: (_pad_p.bind(
    move_axis(args[0], dims[0], 0, size), pad_width=((0, 0),) + pad_width, constant_values=constant_values), 0))
def_vjp(_pad_p, _pad_vjp)
def_jvp(_pad_p, lambda t, ans, x, pad_width, constant_values: _pad_p.bind(
    t, pad_width=pad_width, constant_values=0))


def pad(array: Any, pad_width: Any, mode: str = "constant", constant_values: Any = 0) -> Any:
    """Pad ``array`` (NumPy's ``pad``) in mode ``constant``, ``edge``, ``reflect``, ``symmetric``
    or ``wrap``. ``pad_width`` is ``((before, after), ...)`` per axis, or broadcasts to it."""
    array = asarray(array)
    widths_t = _pad_widths(pad_width, ndim_of(array))
    if mode == "constant":
        return _pad_p.bind(array, pad_width=widths_t, constant_values=constant_values)
    if mode not in ("edge", "reflect", "symmetric", "wrap"):
        raise ValueError(f"pad: unsupported mode {mode!r}")
    for axis, (lo, hi) in enumerate(widths_t):
        if (lo or hi) and shape_of(array)[axis] == 0:
            raise ValueError(f"pad: cannot pad the empty axis {axis} of an array of shape {shape_of(array)} in "
                             f"mode {mode!r} (only 'constant' adds values)")
        if lo or hi:  # these modes only re-read existing elements: a gather along each axis
            source = np.pad(np.arange(shape_of(array)[axis]), (lo, hi), mode=mode)  # type: ignore[call-overload]
            array = take(array, source, axis=axis)
    return array


def _pad_widths(pad_width: Any, ndim: int) -> tuple[tuple[int, int], ...]:
    """``pad_width`` broadcast to one ``(before, after)`` pair of non-negative ints per axis."""
    try:
        given = np.asarray(pad_width)  # static: a traced pad_width raises here, saying why
        widths = np.broadcast_to(given, (ndim, 2))
    except ValueError:
        raise ValueError(f"pad: pad_width {pad_width!r} does not fit an array of dimension {ndim}: give one "
                         f"(before, after) pair per axis, one pair, or one int") from None
    if given.dtype.kind not in "iu":
        raise TypeError(f"pad: pad_width must be integers; got {pad_width!r}")
    if (given < 0).any():
        raise ValueError(f"pad: pad_width must be non-negative; got {pad_width!r}")
    return tuple((int(lo), int(hi)) for lo, hi in widths)


# --- composites --------------------------------------------------------------------------


def flip(m: Any, axis: Any = None) -> Any:
    """Reverse the order of elements along ``axis`` (all axes when None)."""
    m = asarray(m)
    ndim = ndim_of(m)
    axes = range(ndim) if axis is None else normalize_axes(axis, ndim, "flip")
    return getitem(m, tuple(slice(None, None, -1) if i in axes else slice(None) for i in range(ndim)))


def tile(A: Any, reps: Any) -> Any:
    """Repeat the whole of ``A`` ``reps`` times along each axis (NumPy's ``tile``)."""
    A = asarray(A)
    reps = as_sizes(reps, "reps", "tile")
    ndim = builtins.max(ndim_of(A), len(reps))
    shape = (1,) * (ndim - ndim_of(A)) + shape_of(A)
    reps = (1,) * (ndim - len(reps)) + reps
    interleaved = reshape(A, tuple(x for d in shape for x in (1, d)))
    tiled = broadcast_to(interleaved, tuple(x for r, d in zip(reps, shape) for x in (r, d)))
    return reshape(tiled, tuple(r * d for r, d in zip(reps, shape)))


def repeat(a: Any, repeats: Any, axis: int | None = None) -> Any:
    """Repeat each element ``repeats`` times along ``axis`` (flattening first when None).
    ``repeats`` is one count or one per element along ``axis``; it must be concrete."""
    a = asarray(a)
    if axis is None:
        a, axis = ravel(a), 0
    axis = normalize_axis(axis, ndim_of(a), "repeat")
    n = shape_of(a)[axis]
    return take(a, np.repeat(np.arange(n), _repeat_counts(repeats, n, axis)), axis=axis)


def _repeat_counts(repeats: Any, n: int, axis: int) -> np.ndarray:
    """``repeats`` as non-negative integer counts, one or ``n`` of them."""
    counts = np.asarray(repeats)  # static: traced counts raise here, saying why
    if counts.size == 0:
        counts = counts.astype(np.intp)
    if counts.dtype.kind not in "iu":
        raise TypeError(f"repeat: repeats must be integers; got {repeats!r}")
    if counts.ndim > 1 or counts.size not in (1, n):
        raise ValueError(f"repeat: repeats must be one count or {n} counts (one per element along axis {axis}); "
                         f"got shape {counts.shape}")
    if (counts < 0).any():
        raise ValueError(f"repeat: repeats must be non-negative; got {repeats!r}")
    return counts
