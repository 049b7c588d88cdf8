"""Checks of hyper-parameters and of the trees a transformation is given, with errors that
name the argument, the key path and the value.

A hyper-parameter given as a Python number is checked when the transformation is built.
A traced one (a ``Tracer``, e.g. a learning rate being differentiated) has no value to
check, so only its shape and dtype are checked, and it is returned as it is.

Parameters, gradients and states are checked by every transformation's ``init`` and
``update`` (:func:`check_params`, :func:`check_updates`). These checks run at every step,
so they read only the tree structure and each leaf's shape and dtype: that is cheap, and
it is all a traced leaf has.
"""

from __future__ import annotations

import numbers
from typing import Any

import numpy as np

from funcnn.extend import Tracer, dtype_of, shape_of

from ..tree_util import (
    PyTreeDef, check_same_structure, keystr, tree_flatten, tree_flatten_with_path, tree_leaves,
)

__all__ = [
    "check_decay_rate",
    "check_learning_rate",
    "check_non_negative",
    "check_params",
    "check_positive",
    "check_updates",
    "leaf_path",
    "may_be_nonzero",
]


def _as_real(name: str, value: Any) -> float:
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        raise TypeError(f"{name} must be a real number, got {value!r}")
    v = float(value)
    if np.isnan(v):
        raise ValueError(f"{name} must be a number, got {value!r}")
    return v


def _traced(name: str, value: Tracer) -> Tracer:
    """A traced hyper-parameter must be a real scalar; its value is not known here."""
    if shape_of(value) != ():
        raise ValueError(f"{name} must be a scalar, got a traced value of shape {shape_of(value)}")
    if dtype_of(value).kind not in "iuf":
        raise TypeError(f"{name} must be a real number, got a traced value of dtype {dtype_of(value)}")
    return value


def check_positive(name: str, value: Any) -> Any:
    """``value`` as a float (or a traced scalar); ValueError naming ``name`` unless it is > 0."""
    if isinstance(value, Tracer):
        return _traced(name, value)
    v = _as_real(name, value)
    if not v > 0:
        raise ValueError(f"{name} must be > 0, got {value!r}")
    return v


def check_non_negative(name: str, value: Any) -> Any:
    """``value`` as a float (or a traced scalar); ValueError naming ``name`` unless it is >= 0."""
    if isinstance(value, Tracer):
        return _traced(name, value)
    v = _as_real(name, value)
    if not v >= 0:
        raise ValueError(f"{name} must be >= 0, got {value!r}")
    return v


def check_decay_rate(name: str, value: Any) -> Any:
    """``value`` as a float (or a traced scalar); ValueError naming ``name`` unless 0 <= value < 1."""
    if isinstance(value, Tracer):
        return _traced(name, value)
    v = _as_real(name, value)
    if not 0 <= v < 1:
        raise ValueError(f"{name} must be in [0, 1), got {value!r}")
    return v


def check_learning_rate(value: Any, name: str = "learning_rate") -> Any:
    """A schedule is returned as is; a number must be > 0."""
    if callable(value):
        return value
    return check_positive(name, value)


def may_be_nonzero(value: Any) -> bool:
    """False only for a hyper-parameter known to be 0 (a traced one might be anything)."""
    return isinstance(value, Tracer) or value != 0


_NO_STATE: Any = object()  # check_updates' default: no part of the state to compare with


def check_params(params: Any, owner: str) -> None:
    """Raise TypeError (naming the key path) unless every leaf of ``params`` is floating-point.

    Called by every transformation's ``init``: a state built from integer parameters
    would have integer moments, and the updates would be silently wrong.
    """
    leaves = tree_leaves(params)
    _check_floating(leaves, params, "params", f"{owner} init")


def check_updates(updates: Any, params: Any, owner: str, state_tree: Any = _NO_STATE) -> None:
    """Raise unless ``updates`` (and ``params``, if not None) fit, leaf by leaf.

    Called first by every transformation's ``update``. NumPy would cast ``1 - b1`` or
    ``-learning_rate`` to an integer dtype, and would broadcast a gradient of the wrong
    shape against its moments; both give wrong numbers without an error, so:

    - every leaf of ``updates`` and of ``params`` must be a floating-point array
      (TypeError otherwise);
    - ``updates`` must have the structure of ``state_tree`` (a part of the state with one
      leaf per parameter, such as Adam's ``mu``; omitted by transformations without one)
      and of ``params``, and each leaf their shape (ValueError otherwise).

    Errors name the key path. Only structures, shapes and dtypes are read, so this works
    on tracers (inside ``grad``, ``jit`` or ``make_graph``) and costs a few flattenings.
    """
    what = f"{owner} update"
    leaves, treedef = tree_flatten(updates)
    _check_floating(leaves, updates, "updates", what)
    if state_tree is not _NO_STATE:
        _check_shapes(leaves, treedef, updates, state_tree, "the optimizer state", what)
    if params is not None:
        p_leaves = _check_shapes(leaves, treedef, updates, params, "params", what)
        _check_floating(p_leaves, params, "params", what)


def leaf_path(tree: Any, index: int) -> str:
    """The key path of ``tree``'s leaf number ``index`` (such as ``['dense_0']['w']``), for errors."""
    return keystr(tree_flatten_with_path(tree)[0][index][0])


def _check_floating(leaves: list[Any], tree: Any, name: str, what: str) -> None:
    """TypeError unless every leaf is floating-point (``leaves`` are ``tree``'s, flattened)."""
    for i, leaf in enumerate(leaves):
        dtype = dtype_of(leaf)
        if dtype.kind != "f":
            raise TypeError(
                f"{what}: {name}{leaf_path(tree, i)} has dtype {dtype}, but optimizers work on "
                "floating-point arrays (float16, float32 or float64); convert it, "
                "e.g. with x.astype(np.float32)"
            )


def _check_shapes(
    leaves: list[Any], treedef: PyTreeDef, updates: Any, ref: Any, ref_name: str, what: str
) -> list[Any]:
    """Compare ``updates`` (flattened as ``leaves``, ``treedef``) with ``ref``; return ``ref``'s leaves."""
    ref_leaves, ref_treedef = tree_flatten(ref)
    if ref_treedef != treedef:
        check_same_structure(ref, updates, what, names=(ref_name, "the updates"))
    for i, (u, r) in enumerate(zip(leaves, ref_leaves)):
        if shape_of(u) != shape_of(r):
            raise ValueError(
                f"{what}: updates{leaf_path(updates, i)} has shape {shape_of(u)} but {ref_name} "
                f"has shape {shape_of(r)} there; gradients must have the shape of their parameter "
                "(they are not broadcast)"
            )
    return ref_leaves
