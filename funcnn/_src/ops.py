"""The few primitives the engine itself needs, with all their rules.

Reverse mode adds cotangents (``add_any``) and undoes broadcasting by summing a
cotangent down to its argument's shape (``sum_to_shape``); forward mode broadcasts
tangents up to the output's shape (``broadcast_to``); both cast to the right dtype
(``convert_element_type``) and make zeros for values that received no derivative
(``zeros_like``). The Jacobian transforms stack rows (``reshape``, ``concatenate``),
batching moves axes (``transpose``), and ``stop_gradient`` is the value no transform
differentiates. Each rule here is
written with these ops alone, so the set is closed: ``sum_to_shape`` and
``broadcast_to`` are each other's transposes, as are ``concatenate`` and ``split``, and
every order of derivative works. Op families reuse them (``funcnn.numpy.broadcast_to``,
``astype``, ``reshape``, ``concatenate``, ``split``, ``stop_gradient`` bind these
primitives) through ``funcnn.extend``.
"""
from __future__ import annotations

import math

from typing import Any

import numpy as np

from funcnn._src.abstract import ShapeDtype, def_abstract_eval, same_as_first
from funcnn._src.core import Primitive, dtype_of, shape_of
from funcnn._src.forward import def_jvp, def_jvp_joint
from funcnn._src.reverse import def_vjp, def_vjp_rule


def _sum_to_shape_impl(x: Any, shape: tuple) -> Any:
    lead = np.ndim(x) - len(shape)
    kept = tuple(lead + i for i, d in enumerate(shape) if d == 1 and np.shape(x)[lead + i] != 1)
    if not kept:  # only leading axes to remove (a bias's gradient): one sum, no reshape
        return np.sum(x, axis=tuple(range(lead))) if lead else x
    return np.sum(x, axis=tuple(range(lead)) + kept, keepdims=True).reshape(shape)


add_any_p = Primitive("add_any", np.add)
zeros_like_p = Primitive("zeros_like", lambda x: np.zeros(np.shape(x), dtype_of(x)))
sum_to_shape_p = Primitive("sum_to_shape", _sum_to_shape_impl)
broadcast_to_p = Primitive("broadcast_to", lambda x, shape: np.broadcast_to(x, shape))
convert_element_type_p = Primitive("convert_element_type", lambda x, dtype: np.asarray(x).astype(dtype))
stop_gradient_p = Primitive("stop_gradient", lambda x: x)
reshape_p = Primitive("reshape", lambda x, shape: np.reshape(x, shape))
transpose_p = Primitive("transpose", lambda x, axes: np.transpose(x, axes))
concatenate_p = Primitive("concatenate", lambda *arrays, axis, out=None: np.concatenate(arrays, axis=axis, out=out),
                          takes_out=True)


def _split_impl(x: Any, sizes: tuple, axis: int) -> tuple:
    """Views of consecutive pieces of ``x``: basic slices (``np.split`` costs several times more)."""
    x = np.asarray(x)
    lead = (slice(None),) * (axis % x.ndim)
    pieces, start = [], 0
    for n in sizes:
        pieces.append(x[lead + (slice(start, start + n),)])
        start += n
    return tuple(pieces)


split_p = Primitive("split", _split_impl, multiple_results=True)


def add_any(x: Any, y: Any) -> Any:
    """``x + y`` for two values of one shape and dtype (cotangents and tangents being summed)."""
    return add_any_p.bind(x, y)


def zeros_like(x: Any) -> Any:
    """Zeros with ``x``'s shape and dtype; ``x``'s value is not read (so a traced ``x`` is fine)."""
    return zeros_like_p.bind(x)


def sum_to_shape(x: Any, shape: tuple) -> Any:
    """Sum ``x`` down to ``shape``: the inverse of broadcasting ``shape`` up to ``x.shape``."""
    shape = tuple(shape)
    xshape = shape_of(x)
    if xshape == shape:
        return x
    lead = len(xshape) - len(shape)
    if lead < 0 or any(d not in (1, n) for d, n in zip(shape, xshape[lead:])):
        raise ValueError(f"cannot sum an array of shape {xshape} down to shape {shape}: {shape} does not "
                         f"broadcast to {xshape}")
    return sum_to_shape_p.bind(x, shape=shape)


def broadcast_to(x: Any, shape: tuple) -> Any:
    """``x`` broadcast to ``shape`` (a read-only view when no transform is active)."""
    shape = tuple(shape)
    return x if shape_of(x) == shape else broadcast_to_p.bind(x, shape=shape)


def convert_element_type(x: Any, dtype: Any) -> Any:
    """``x`` cast to ``dtype``; a cast to an integer or boolean type carries no derivative."""
    dtype = np.dtype(dtype)
    return x if dtype_of(x) == dtype and not getattr(x, "weak_type", False) else \
        convert_element_type_p.bind(x, dtype=dtype)


def stop_gradient(x: Any) -> Any:
    """``x`` unchanged, but no derivative flows through it (in any mode, at any order)."""
    return stop_gradient_p.bind(x)


def reshape(x: Any, shape: tuple) -> Any:
    """``x`` with a new shape of the same size, in C order; one size may be -1 (the rest)."""
    shape = tuple(int(d) for d in shape)
    if -1 in shape:
        known = math.prod(d for d in shape if d != -1)
        rest = math.prod(shape_of(x)) // known if known else 0
        shape = tuple(rest if d == -1 else d for d in shape)
    return x if shape_of(x) == shape else reshape_p.bind(x, shape=shape)


def transpose(x: Any, axes: tuple) -> Any:
    """``x`` with its axes permuted (``axes`` a permutation of ``range(ndim)``)."""
    axes = tuple(int(a) for a in axes)
    return x if axes == tuple(range(len(axes))) else transpose_p.bind(x, axes=axes)


def moveaxis(x: Any, src: int, dst: int) -> Any:
    """``x`` with axis ``src`` moved to position ``dst`` (both non-negative)."""
    order = [i for i in range(len(shape_of(x))) if i != src]
    order.insert(dst, src)
    return transpose(x, tuple(order))


def concatenate(arrays: Any, axis: int) -> Any:
    """Arrays of one shape but along ``axis`` joined along it (``axis`` non-negative)."""
    return concatenate_p.bind(*arrays, axis=axis)


def split(x: Any, sizes: tuple, axis: int) -> tuple:
    """``x`` cut along ``axis`` into consecutive pieces of ``sizes`` (which add up to its length)."""
    return split_p.bind(x, sizes=tuple(int(n) for n in sizes), axis=axis)


def _concatenate_rule(*arrays: ShapeDtype, axis: int) -> ShapeDtype:
    first = arrays[0].shape
    for a in arrays:
        if a.ndim != len(first) or any(d != e for i, (d, e) in enumerate(zip(a.shape, first)) if i != axis):
            shapes = ", ".join(str(x.shape) for x in arrays)
            raise ValueError(f"concatenate: all arrays must match except along axis {axis}; got shapes {shapes}")
    size = sum(a.shape[axis] for a in arrays)
    return ShapeDtype(first[:axis] + (size,) + first[axis + 1:], np.result_type(*(a.dtype for a in arrays)))


def _split_rule(x: ShapeDtype, sizes: tuple, axis: int) -> tuple[ShapeDtype, ...]:
    if sum(sizes) != x.shape[axis]:
        raise ValueError(f"split: pieces of sizes {sizes} do not add up to axis {axis} of shape {x.shape}")
    return tuple(ShapeDtype(x.shape[:axis] + (n,) + x.shape[axis + 1:], x.dtype) for n in sizes)


def _concatenate_vjp(wanted: tuple, *arrays: Any, axis: int) -> tuple:
    """One ``split`` of the cotangent gives every argument its piece."""
    ans = concatenate_p.bind(*arrays, axis=axis)
    sizes = tuple(shape_of(a)[axis] for a in arrays)
    return ans, lambda g: split(g, sizes, axis)


def _concatenate_jvp(tangents: list, ans: Any, *arrays: Any, axis: int) -> Any:
    if all(t is None for t in tangents):
        return None
    dtype = dtype_of(ans)
    return concatenate([zeros_like(convert_element_type(a, dtype)) if t is None else convert_element_type(t, dtype)
                        for t, a in zip(tangents, arrays)], axis)


def _split_vjp(ans: tuple, x: Any, sizes: tuple, axis: int) -> Any:
    return lambda g: concatenate([zeros_like(a) if c is None else c for c, a in zip(g, ans)], axis)


def _broadcast_rule(x: ShapeDtype, shape: tuple) -> ShapeDtype:
    try:
        np.broadcast_shapes(x.shape, shape)
        if len(shape) < x.ndim or np.broadcast_shapes(x.shape, shape) != shape:
            raise ValueError
    except ValueError:
        raise ValueError(f"broadcast_to: cannot broadcast an array of shape {x.shape} to shape {shape}") from None
    return ShapeDtype(shape, x.dtype)


def_abstract_eval(add_any_p, same_as_first)
def_abstract_eval(zeros_like_p, same_as_first)
def_abstract_eval(sum_to_shape_p, lambda x, shape: ShapeDtype(shape, x.dtype))
def_abstract_eval(broadcast_to_p, _broadcast_rule)
def_abstract_eval(convert_element_type_p, lambda x, dtype: ShapeDtype(x.shape, dtype))
def_abstract_eval(stop_gradient_p, same_as_first)
def _reshape_rule(x: ShapeDtype, shape: tuple) -> ShapeDtype:
    if any(d < 0 for d in shape) or math.prod(shape) != math.prod(x.shape):
        raise ValueError(f"reshape: cannot reshape {x.short()} to {shape}")
    return ShapeDtype(shape, x.dtype)


def_abstract_eval(reshape_p, _reshape_rule)
def_abstract_eval(transpose_p, lambda x, axes: ShapeDtype(tuple(x.shape[a] for a in axes), x.dtype))
def_abstract_eval(concatenate_p, _concatenate_rule)
def_abstract_eval(split_p, _split_rule)

def_vjp(add_any_p, lambda ans, x, y: lambda g: g, lambda ans, x, y: lambda g: g)
def_jvp(add_any_p, lambda t, ans, x, y: t, lambda t, ans, x, y: t)
def_vjp(sum_to_shape_p, lambda ans, x, shape: lambda g: broadcast_to(g, shape_of(x)))
def_jvp(sum_to_shape_p, lambda t, ans, x, shape: sum_to_shape(t, shape))
def_vjp(broadcast_to_p, lambda ans, x, shape: lambda g: sum_to_shape(g, shape_of(x)))
def_jvp(broadcast_to_p, lambda t, ans, x, shape: broadcast_to(t, shape))
def_vjp(convert_element_type_p, lambda ans, x, dtype: lambda g: convert_element_type(g, dtype_of(x)))
def_jvp(convert_element_type_p, lambda t, ans, x, dtype: convert_element_type(t, dtype))
def_vjp(reshape_p, lambda ans, x, shape: lambda g: reshape(g, shape_of(x)))
def_jvp(reshape_p, lambda t, ans, x, shape: reshape(t, shape))
def_vjp(transpose_p, lambda ans, x, axes: lambda g: transpose(g, tuple(int(i) for i in np.argsort(axes))))
def_jvp(transpose_p, lambda t, ans, x, axes: transpose(t, axes))
def_vjp_rule(concatenate_p, _concatenate_vjp)
def_jvp_joint(concatenate_p, _concatenate_jvp)
def_vjp(split_p, _split_vjp)
def_jvp_joint(split_p, lambda tangents, ans, x, sizes, axis: split(tangents[0], sizes, axis))


# --- batching rules (vmap) ---------------------------------------------------------------------


def _batch_add_any(size: int, args: Any, dims: tuple) -> tuple[Any, int]:
    # both operands batched in front: add_any adds values of one shape (an unbatched one, a
    # carry's cotangent every example starts from, is broadcast to the batch)
    x, y = (batching.to_front(a, d, size) for a, d in zip(args, dims))
    return add_any(x, y), 0


def _batch_sum_to_shape(size: int, args: Any, dims: tuple, shape: tuple) -> tuple[Any, int]:
    x = batching.to_front(args[0], dims[0], size)
    lead = len(shape_of(x)) - 1 - len(shape)
    summed = sum_to_shape(x, (size,) + (1,) * lead + tuple(shape))
    return reshape(summed, (size,) + tuple(shape)), 0


def _batch_broadcast_to(size: int, args: Any, dims: tuple, shape: tuple) -> tuple[Any, int]:
    x = batching.to_front(args[0], dims[0], size)
    rest = shape_of(x)[1:]
    lined = reshape(x, (size,) + (1,) * (len(shape) - len(rest)) + rest)
    return broadcast_to(lined, (size,) + tuple(shape)), 0


def _batch_reshape(size: int, args: Any, dims: tuple, shape: tuple) -> tuple[Any, int]:
    return reshape(batching.to_front(args[0], dims[0], size), (size,) + tuple(shape)), 0


def _batch_transpose(size: int, args: Any, dims: tuple, axes: tuple) -> tuple[Any, int]:
    return transpose(batching.to_front(args[0], dims[0], size), (0,) + tuple(a + 1 for a in axes)), 0


def _batch_concatenate(size: int, args: Any, dims: tuple, axis: int) -> tuple[Any, int]:
    return concatenate([batching.to_front(a, d, size) for a, d in zip(args, dims)], axis + 1), 0


def _batch_split(size: int, args: Any, dims: tuple, sizes: tuple, axis: int) -> tuple[Any, tuple]:
    pieces = split(batching.to_front(args[0], dims[0], size), sizes, axis + 1)
    return pieces, (0,) * len(pieces)


from funcnn._src import batching  # noqa: E402  (batching moves axes with this module's primitives)

batching.def_batch(add_any_p, _batch_add_any)
for _prim in (zeros_like_p, convert_element_type_p, stop_gradient_p):
    batching.def_batch(_prim, batching.unary_batch_rule(_prim))
batching.def_batch(sum_to_shape_p, _batch_sum_to_shape)
batching.def_batch(broadcast_to_p, _batch_broadcast_to)
batching.def_batch(reshape_p, _batch_reshape)
batching.def_batch(transpose_p, _batch_transpose)
batching.def_batch(concatenate_p, _batch_concatenate)
batching.def_batch(split_p, _batch_split)
