"""Checks of values that arrive as data (class labels, probability targets), as a primitive.

A class label outside ``[0, C)`` would silently pick the wrong class (a negative index
wraps around), so labels are checked. Labels are operands that may be traced (inside
``make_graph`` they have no values yet), so the check cannot be a Python ``if``: it is the
primitive ``check_values``, the identity on its operand, which raises when its
implementation meets a bad value. Called eagerly it checks at once; in a graph it is an
equation that checks each replay. Derivatives pass through it unchanged.
"""
from __future__ import annotations

from typing import Any

import numpy as np

from funcnn.extend import Primitive, def_abstract_eval, def_batch, def_jvp, def_vjp, same_as_first, unary_batch_rule


def _indices_message(values: np.ndarray, hi: int) -> str | None:
    if values.size and (values.min() < 0 or values.max() >= hi):
        return f"got values from {values.min()} to {values.max()}"
    return None


def _probabilities_message(values: np.ndarray, hi: int) -> str | None:
    bad = values[~((values >= 0.0) & (values <= 1.0))]
    if bad.size:
        return f"{bad.size} of its {values.size} entries are not (e.g. {bad.flat[0]!r})"
    return None


def _signs_message(values: np.ndarray, hi: int) -> str | None:
    if not np.all((values == 1) | (values == -1)):
        return "other values were given"
    return None


_KINDS = {"indices": _indices_message, "probabilities": _probabilities_message, "signs": _signs_message}


def _check_impl(x: Any, *, kind: str, hi: int, what: str, where: str) -> Any:
    problem = _KINDS[kind](np.asarray(x), hi)
    if problem is not None:
        raise ValueError(f"{what}; {problem}{where}")
    return x


_check_p = Primitive("check_values", _check_impl)
def_abstract_eval(_check_p, same_as_first)
def_vjp(_check_p, lambda ans, x, **params: lambda g: g)
def_jvp(_check_p, lambda t, ans, x, **params: t)
def_batch(_check_p, unary_batch_rule(_check_p))


def check_values(x: Any, kind: str, what: str, where: str = "", hi: int = 0) -> Any:
    """``x`` unchanged, after checking its values: ``kind`` ``"indices"`` (in ``[0, hi)``),
    ``"probabilities"`` (in ``[0, 1]``) or ``"signs"`` (-1 or +1). A bad value raises
    ``ValueError(f"{what}; <what was found>{where}")``, now or when a graph is replayed."""
    if kind not in _KINDS:
        raise ValueError(f"check_values: kind must be one of {sorted(_KINDS)}; got {kind!r}")
    return _check_p.bind(x, kind=kind, hi=int(hi), what=what, where=where)
