"""Abstract values and abstract evaluation: what a primitive returns, in shape and dtype only.

A graph capture runs a function on :class:`ShapeDtype` values instead of arrays, so each
primitive needs a rule ``rule(*avals, **params) -> ShapeDtype`` (a tuple of them for a
primitive with multiple results) in the table ``abstract_rules``. No rule touches data.

Python numbers passed to a traced function stay *weak*: ``x * 2.0`` keeps ``x``'s float32,
as NumPy's own promotion does (NEP 50). A weak abstract value stands for such a number.
"""
from __future__ import annotations

import math
from typing import Any, Callable, Sequence

import numpy as np

from funcnn._src.core import Primitive, Tracer

AbstractRule = Callable[..., Any]

abstract_rules: dict[Primitive, AbstractRule] = {}

_PYTHON_SCALARS = (bool, int, float, complex)


class ShapeDtype:
    """An array without data: a shape and a dtype (JAX's ``ShapeDtypeStruct``).

    ``weak_type`` marks a Python number, which adopts the dtype of the arrays it meets.

    >>> ShapeDtype((64, 784), "float32")
    ShapeDtype(shape=(64, 784), dtype=float32)
    >>> ShapeDtype((64, 784), "float32").short()
    'f32[64,784]'
    """

    __slots__ = ("shape", "dtype", "weak_type")

    def __init__(self, shape: Sequence[int], dtype: Any, weak_type: bool = False) -> None:
        self.shape = tuple(int(d) for d in shape)
        self.dtype = np.dtype(dtype)
        self.weak_type = bool(weak_type)

    @property
    def ndim(self) -> int:
        return len(self.shape)

    @property
    def size(self) -> int:
        return math.prod(self.shape)

    def strong(self) -> "ShapeDtype":
        """This value with NumPy's own dtype (what an operation on a Python number returns)."""
        return ShapeDtype(self.shape, self.dtype) if self.weak_type else self

    def __eq__(self, other: object) -> bool:
        return (isinstance(other, ShapeDtype) and self.shape == other.shape and self.dtype == other.dtype
                and self.weak_type == other.weak_type)

    def __hash__(self) -> int:
        return hash((self.shape, self.dtype, self.weak_type))

    def __repr__(self) -> str:
        weak = ", weak_type=True" if self.weak_type else ""
        return f"ShapeDtype(shape={self.shape}, dtype={self.dtype}{weak})"

    def short(self) -> str:
        """The form of a graph listing: ``f32[64,784]``."""
        return f"{short_dtype(self.dtype)}[{','.join(map(str, self.shape))}]"


_SHORT = {"float": "f", "int": "i", "uint": "u", "complex": "c"}


def short_dtype(dtype: np.dtype) -> str:
    """``f32`` for float32, ``i64`` for int64, ``bool`` for bool: the names of a graph listing."""
    dtype = np.dtype(dtype)
    for long, short in _SHORT.items():
        if dtype.name.startswith(long) and dtype.name[len(long):].isdigit():
            return short + dtype.name[len(long):]
    return dtype.name


def aval_of(x: Any) -> ShapeDtype:
    """The abstract value of an array, a tracer, a Python number (weak) or a ``ShapeDtype``."""
    if isinstance(x, ShapeDtype):
        return x
    if type(x) in _PYTHON_SCALARS:
        return ShapeDtype((), np.result_type(x), weak_type=True)
    if isinstance(x, Tracer):
        aval = getattr(x, "aval", None)
        return aval if aval is not None else ShapeDtype(x.shape, x.dtype)
    x = x if isinstance(x, (np.ndarray, np.generic)) else np.asarray(x)
    return ShapeDtype(x.shape, x.dtype)


def def_abstract_eval(prim: Primitive, rule: AbstractRule) -> None:
    """Register ``rule(*avals, **params) -> ShapeDtype`` (a tuple with multiple results) for ``prim``."""
    abstract_rules[prim] = rule


def abstract_eval(prim: Primitive, avals: Sequence[ShapeDtype], params: dict) -> Any:
    """The abstract result of ``prim`` on ``avals``; the primitive's results are never weak."""
    rule = abstract_rules.get(prim)
    if rule is None:
        raise NotImplementedError(
            f"the primitive {prim.name} ({prim.module}) has no abstract evaluation rule, so it cannot be "
            "traced into a graph; register one with funcnn.extend.def_abstract_eval")
    out = rule(*avals, **params)
    if prim.multiple_results:
        return tuple(_checked(prim, o).strong() for o in out)
    return _checked(prim, out).strong()


def _checked(prim: Primitive, out: Any) -> ShapeDtype:
    if not isinstance(out, ShapeDtype):
        raise TypeError(f"the abstract evaluation rule of {prim.name} returned a {type(out).__name__}, "
                        "not a ShapeDtype")
    return out


# --- rules shared by many primitives ---------------------------------------------------------


def example(aval: ShapeDtype, shape: Sequence[int] | None = None) -> Any:
    """A stand-in value for dtype probing: ones of ``shape`` (default: one element per axis),
    or a Python number for a weak value."""
    if aval.weak_type:
        return aval.dtype.type(1).item()
    return np.ones((1,) * aval.ndim if shape is None else tuple(shape), aval.dtype)


def probe_dtype(impl: Callable[..., Any], avals: Sequence[ShapeDtype], params: dict) -> np.dtype:
    """The dtype ``impl`` returns for these dtypes, found by running it on one-element stand-ins:
    NumPy's own promotion rules, whatever they are, without touching data."""
    with np.errstate(all="ignore"):
        return np.result_type(impl(*(example(a) for a in avals), **params))


def broadcasting_rule(prim: Primitive) -> AbstractRule:
    """The abstract rule of an elementwise primitive: shapes broadcast, the dtype is NumPy's."""
    impl = prim.impl

    def rule(*avals: ShapeDtype, **params: Any) -> ShapeDtype:
        try:
            shape = np.broadcast_shapes(*(a.shape for a in avals))
        except ValueError:
            shapes = ", ".join(str(a.shape) for a in avals)
            raise ValueError(f"{prim.name}: operands could not be broadcast together (shapes {shapes})") from None
        return ShapeDtype(shape, probe_dtype(impl, avals, params))
    return rule


def same_as_first(aval: ShapeDtype, *rest: Any, **params: Any) -> ShapeDtype:
    """The abstract rule of a primitive returning an array like its first operand."""
    return aval
