"""The few primitives the engine itself needs, with all their rules.

Reverse mode adds cotangents (``add_any``) and undoes broadcasting by summing a
cotangent down to its argument's shape (``sum_to_shape``); forward mode broadcasts
tangents up to the output's shape (``broadcast_to``); both cast to the right dtype
(``convert_element_type``) and make zeros for values that received no derivative
(``zeros_like``). Each rule here is written with these ops alone, so the set is closed:
``sum_to_shape`` and ``broadcast_to`` are each other's transposes, and every order of
derivative works. Op families reuse them (``funcnn.numpy.broadcast_to`` and ``astype``
bind these primitives) through ``funcnn.extend``.
"""
from __future__ import annotations

from typing import Any

import numpy as np

from funcnn._src.abstract import ShapeDtype, def_abstract_eval, same_as_first
from funcnn._src.core import Primitive, dtype_of, shape_of
from funcnn._src.forward import def_jvp
from funcnn._src.reverse import def_vjp


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

def_vjp(add_any_p, lambda ans, x, y: lambda g: g, lambda ans, x, y: lambda g: g)
def_jvp(add_any_p, lambda t, ans, x, y: t, lambda t, ans, x, y: t)
def_vjp(sum_to_shape_p, lambda ans, x, shape: lambda g: broadcast_to(g, shape_of(x)))
def_jvp(sum_to_shape_p, lambda t, ans, x, shape: sum_to_shape(t, shape))
def_vjp(broadcast_to_p, lambda ans, x, shape: lambda g: sum_to_shape(g, shape_of(x)))
def_jvp(broadcast_to_p, lambda t, ans, x, shape: broadcast_to(t, shape))
def_vjp(convert_element_type_p, lambda ans, x, dtype: lambda g: convert_element_type(g, dtype_of(x)))
def_jvp(convert_element_type_p, lambda t, ans, x, dtype: convert_element_type(t, dtype))
