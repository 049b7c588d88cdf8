"""Checks of hyper-parameters and states, with errors that name the argument and the value.

A hyper-parameter given as a Python number is checked when the transformation is built.
A traced one (a ``Tracer``, e.g. a learning rate being differentiated) has no value to
check, so only its shape and dtype are checked, and it is returned as it is.
"""

from __future__ import annotations

import numbers
from typing import Any

import numpy as np

from funcnn.extend import Tracer, dtype_of, shape_of

from ..tree_util import check_same_structure
from ._base import Updates

__all__ = [
    "check_decay_rate",
    "check_learning_rate",
    "check_non_negative",
    "check_positive",
    "check_state",
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


def check_state(state_tree: Any, updates: Updates, owner: str) -> None:
    """Raise ValueError (naming the key path) if ``updates`` does not fit the state."""
    check_same_structure(
        state_tree, updates, f"{owner} update", names=("the optimizer state", "the updates")
    )
