"""Operators and ``ndarray``-like methods of traced values, so user code reads like NumPy.

NumPy functions called on a tracer (``np.exp(t)``, ``np.sum(t)``) are routed to the
``funcnn.numpy`` function of the same name through ``__array_ufunc__`` and
``__array_function__``; one that ``funcnn.numpy`` lacks raises a ``TypeError`` naming it.
"""
from __future__ import annotations

from typing import Any

import numpy as np

import funcnn.numpy as fnp
from funcnn.extend import Tracer, dtype_of


def _swap(fn: Any) -> Any:
    return lambda self, other: fn(other, self)


def _boolean(logical: Any, symbol: str) -> Any:
    """``&``, ``|``, ``^`` on traced values: the logical op, for boolean operands only."""
    def op(*operands: Any) -> Any:
        if not all(dtype_of(x) == np.bool_ for x in operands):
            kinds = ", ".join(str(dtype_of(x)) for x in operands)
            raise TypeError(f"{symbol} on traced values is defined for booleans only (got {kinds}); use "
                            "funcnn.numpy.logical_and / logical_or / logical_xor / logical_not on comparisons")
        return logical(*operands)
    return op


def _divmod(x: Any, y: Any) -> tuple[Any, Any]:
    return fnp.floor_divide(x, y), fnp.remainder(x, y)


def _setitem(self: Tracer, index: Any, values: Any) -> None:
    raise TypeError("arrays being traced are immutable: `x[index] = values` cannot change a traced value. "
                    "Write `x = x.at[index].set(values)` (or `x = funcnn.numpy.at(x)[index].set(values)`) for a "
                    "new array with the update; .add, .multiply, .min and .max combine instead of replacing")


def _methods() -> dict[str, Any]:
    return {
        "__add__": fnp.add, "__radd__": _swap(fnp.add),
        "__sub__": fnp.subtract, "__rsub__": _swap(fnp.subtract),
        "__mul__": fnp.multiply, "__rmul__": _swap(fnp.multiply),
        "__truediv__": fnp.divide, "__rtruediv__": _swap(fnp.divide),
        "__pow__": fnp.power, "__rpow__": _swap(fnp.power),
        "__mod__": fnp.remainder, "__rmod__": _swap(fnp.remainder),
        "__floordiv__": fnp.floor_divide, "__rfloordiv__": _swap(fnp.floor_divide),
        "__divmod__": _divmod, "__rdivmod__": _swap(_divmod),
        "__matmul__": fnp.matmul, "__rmatmul__": _swap(fnp.matmul),
        "__neg__": fnp.negative, "__pos__": lambda self: self, "__abs__": fnp.abs,
        "__and__": _boolean(fnp.logical_and, "&"), "__rand__": _swap(_boolean(fnp.logical_and, "&")),
        "__or__": _boolean(fnp.logical_or, "|"), "__ror__": _swap(_boolean(fnp.logical_or, "|")),
        "__xor__": _boolean(fnp.logical_xor, "^"), "__rxor__": _swap(_boolean(fnp.logical_xor, "^")),
        "__invert__": _boolean(fnp.logical_not, "~"),
        "__lt__": fnp.less, "__le__": fnp.less_equal, "__gt__": fnp.greater,
        "__ge__": fnp.greater_equal, "__eq__": fnp.equal, "__ne__": fnp.not_equal,
        "__getitem__": fnp.getitem,
        "__setitem__": _setitem, "at": property(lambda self: fnp.at(self)),
        "__iter__": lambda self: (self[i] for i in range(len(self))),
        "T": property(lambda self: fnp.transpose(self)),
        "mT": property(lambda self: fnp.swapaxes(self, -1, -2)),
        "reshape": lambda self, *shape: fnp.reshape(self, shape[0] if len(shape) == 1 else shape),
        "transpose": lambda self, *axes: fnp.transpose(self, (axes[0] if len(axes) == 1 else axes) or None),
        "sum": fnp.sum, "mean": fnp.mean, "max": fnp.max, "min": fnp.min, "prod": fnp.prod,
        "var": fnp.var, "std": fnp.std, "argmax": fnp.argmax, "argmin": fnp.argmin,
        "astype": fnp.astype, "squeeze": fnp.squeeze, "ravel": fnp.ravel, "flatten": fnp.ravel,
        "clip": fnp.clip, "dot": fnp.dot, "swapaxes": fnp.swapaxes, "take": fnp.take,
        "cumsum": fnp.cumsum, "cumprod": fnp.cumprod,
        "__array_ufunc__": _array_ufunc, "__array_function__": _array_function,
    }


def _array_ufunc(self: Tracer, ufunc: Any, method: str, *inputs: Any, **kwargs: Any) -> Any:
    fn = getattr(fnp, ufunc.__name__, None)
    if method != "__call__" or kwargs or fn is None:
        raise TypeError(f"numpy.{ufunc.__name__} (method {method!r}, options {sorted(kwargs)}) cannot "
                        "take a traced value; use the funcnn.numpy function of that name")
    return fn(*inputs)


def _array_function(self: Tracer, func: Any, types: Any, args: Any, kwargs: Any) -> Any:
    in_linalg = getattr(func, "__module__", "") == "numpy.linalg"  # np.linalg.solve -> fnp.linalg.solve
    namespace, prefix = (fnp.linalg, "linalg.") if in_linalg else (fnp, "")
    fn = getattr(namespace, func.__name__, None)
    if fn is None or fn is func or func.__name__ not in namespace.__all__:
        raise TypeError(f"numpy.{prefix}{func.__name__} cannot take a traced value and funcnn.numpy has no "
                        f"{prefix}{func.__name__}; write it with funcnn.numpy functions")
    return fn(*args, **kwargs)


def install() -> None:
    for name, method in _methods().items():
        setattr(Tracer, name, method)
