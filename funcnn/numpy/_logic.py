"""Comparisons, logic, tests and sorting (``all`` and ``any`` are with the reductions). Their
results carry no derivative: they are primitives without rules, so every transform passes
them through as constants."""
from __future__ import annotations

from typing import Any

import numpy as np

from funcnn.extend import Primitive, ShapeDtype, axes_batch_rule, concrete, def_abstract_eval, def_batch, ndim_of
from funcnn.numpy._creation import asarray, normalize_axis
from funcnn.numpy._elementwise import _public, elementwise_primitive

_DOC = "Elementwise ``{}`` with broadcasting; a boolean array, no derivative."


def _nondiff(name: str, impl: Any, doc: str) -> Any:
    return _public(elementwise_primitive(name, impl, broadcasts=True), doc)


equal = _nondiff("equal", np.equal, _DOC.format("x1 == x2"))
not_equal = _nondiff("not_equal", np.not_equal, _DOC.format("x1 != x2"))
less = _nondiff("less", np.less, _DOC.format("x1 < x2"))
less_equal = _nondiff("less_equal", np.less_equal, _DOC.format("x1 <= x2"))
greater = _nondiff("greater", np.greater, _DOC.format("x1 > x2"))
greater_equal = _nondiff("greater_equal", np.greater_equal, _DOC.format("x1 >= x2"))
logical_and = _nondiff("logical_and", np.logical_and, _DOC.format("x1 and x2"))
logical_or = _nondiff("logical_or", np.logical_or, _DOC.format("x1 or x2"))
logical_xor = _nondiff("logical_xor", np.logical_xor, _DOC.format("x1 xor x2"))
logical_not = _nondiff("logical_not", np.logical_not, _DOC.format("not x"))
isfinite = _nondiff("isfinite", np.isfinite, "True where ``x`` is neither NaN nor infinite.")
isnan = _nondiff("isnan", np.isnan, "True where ``x`` is NaN.")
isinf = _nondiff("isinf", np.isinf, "True where ``x`` is infinite.")

_argsort_p = Primitive("argsort", lambda a, axis: np.argsort(a, axis=axis, kind="stable"))
def_abstract_eval(_argsort_p, lambda a, axis: ShapeDtype(a.shape, np.intp))
def_batch(_argsort_p, axes_batch_rule(_argsort_p, "axis"))


def argsort(a: Any, axis: int | None = -1) -> Any:
    """Indices that sort ``a`` along ``axis`` (of the flattened array when None; stable); no derivative."""
    a, axis = _sort_axis(a, axis, "argsort")
    return _argsort_p.bind(a, axis=axis)


def sort(a: Any, axis: int | None = -1) -> Any:
    """``a`` sorted along ``axis`` (the flattened array when None); the gradient follows each
    element to its sorted place."""
    from funcnn.numpy._indexing import take_along_axis

    a, axis = _sort_axis(a, axis, "sort")
    return take_along_axis(a, _argsort_p.bind(a, axis=axis), axis)


def _sort_axis(a: Any, axis: Any, fn: str) -> tuple[Any, int]:
    """``a`` (flattened when ``axis`` is None) and the axis to sort along, checked."""
    a = asarray(a)
    if axis is None:
        from funcnn.numpy._shape import ravel

        a, axis = ravel(a), 0
    return a, normalize_axis(axis, ndim_of(a), fn)


def allclose(a: Any, b: Any, rtol: float = 1e-05, atol: float = 1e-08, equal_nan: bool = False) -> bool:
    """Whether ``a`` and ``b`` are equal within tolerance (a Python bool)."""
    return bool(np.allclose(concrete(a), concrete(b), rtol=rtol, atol=atol, equal_nan=equal_nan))


def array_equal(a1: Any, a2: Any) -> bool:
    """Whether ``a1`` and ``a2`` have the same shape and elements (a Python bool)."""
    return bool(np.array_equal(concrete(a1), concrete(a2)))
