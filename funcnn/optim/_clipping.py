"""Clipping: of each element, and of all updates together by their global norm."""

from __future__ import annotations

import functools
import operator
from typing import Any

import numpy as np

import funcnn.numpy as fnp
from funcnn.extend import Tracer

from ..tree_util import tree_leaves, tree_map
from ._base import EmptyState, GradientTransformation, Params, Scalar, Updates, stateless
from ._checks import check_non_negative
from ._numerics import as_float64, cast_like

__all__ = ["ClipByGlobalNormState", "ClipState", "clip", "clip_by_global_norm", "global_norm"]

ClipState = EmptyState
ClipByGlobalNormState = EmptyState


def clip(max_delta: Scalar) -> GradientTransformation:
    """Clip every update element to ``[-max_delta, max_delta]``.

    ``u <- min(max(u, -max_delta), max_delta)`` elementwise.

    Parameters
    ----------
    max_delta : float
        Largest absolute value kept, >= 0.

    Returns
    -------
    GradientTransformation
        Stateless.

    Examples
    --------
    >>> import numpy as np
    >>> t = clip(1.0)
    >>> updates, _ = t.update({"w": np.array([-3.0, 0.5, 2.0])}, t.init(None))
    >>> updates["w"]
    array([-1. ,  0.5,  1. ])
    """
    max_delta = check_non_negative("max_delta", max_delta)

    def clip_leaf(g: Any) -> Any:
        limit = cast_like(max_delta, g)
        return fnp.clip(g, -limit, limit)

    return stateless(lambda updates, params: tree_map(clip_leaf, updates), "clip")


def global_norm(updates: Updates) -> Any:
    """The Euclidean norm of all leaves taken together, computed in float64.

    ``||u|| = sqrt(sum over leaves of sum(u**2))``; its derivative at zero is taken as 0.

    Parameters
    ----------
    updates : pytree of ndarray

    Returns
    -------
    float64 scalar (traced if the updates are)

    Examples
    --------
    >>> import numpy as np
    >>> float(global_norm({"a": np.array([3.0]), "b": np.array([[4.0]])}))
    5.0
    """
    squares = [fnp.sum(fnp.square(as_float64(g))) for g in tree_leaves(updates)]
    if not squares:
        return np.float64(0.0)
    total = functools.reduce(operator.add, squares)
    # at zero, the norm's derivative is taken as 0 (as linalg.norm's), not sqrt's infinite one
    zero = total == 0
    return fnp.where(zero, 0.0, fnp.sqrt(fnp.where(zero, 1.0, total)))


def clip_by_global_norm(max_norm: Scalar) -> GradientTransformation:
    """Rescale all updates together so that their global norm is at most ``max_norm``.

    ``u <- u * min(1, max_norm / ||u||)`` with ``||u||`` from :func:`global_norm`.
    A NaN anywhere makes the norm NaN and so every update NaN: it is not hidden.

    Parameters
    ----------
    max_norm : float
        Largest global norm kept, >= 0.

    Returns
    -------
    GradientTransformation
        Stateless.

    Examples
    --------
    >>> import numpy as np
    >>> t = clip_by_global_norm(1.0)
    >>> updates, _ = t.update({"a": np.array([3.0]), "b": np.array([4.0])}, t.init(None))
    >>> updates["a"], updates["b"]
    (array([0.6]), array([0.8]))
    """
    max_norm = check_non_negative("max_norm", max_norm)

    def clip_tree(updates: Updates, params: Params | None) -> Updates:
        norm = global_norm(updates)
        if not isinstance(norm, Tracer) and not isinstance(max_norm, Tracer) and norm <= max_norm:
            return updates  # fast path for plain values: nothing to rescale
        within = norm <= max_norm
        # NaN when the norm is NaN, on purpose; the inner where keeps 0 / 0 out of sight
        factor = fnp.where(within, 1.0, max_norm / fnp.where(within, 1.0, norm))
        return tree_map(lambda g: g * cast_like(factor, g), updates)

    return stateless(clip_tree, "clip_by_global_norm")
