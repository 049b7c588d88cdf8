"""Momentum: heavy-ball and Nesterov (``trace``) and sign momentum (Lion)."""

from __future__ import annotations

from typing import Any, NamedTuple

import funcnn.numpy as fnp

from ..tree_util import tree_map
from ._base import GradientTransformation, Params, Scalar, Updates
from ._checks import check_decay_rate, check_non_negative, check_params, check_updates
from ._numerics import cast_like, ema, full_like_tree, keep_dtype

__all__ = ["ScaleByLionState", "TraceState", "scale_by_lion", "trace"]


class TraceState(NamedTuple):
    """State of :func:`trace`: the momentum buffer, shaped like the params."""

    trace: Any


def trace(decay: Scalar, nesterov: bool = False) -> GradientTransformation:
    """Heavy-ball momentum (PyTorch's SGD momentum buffer, without dampening).

    ``b_t = decay * b_{t-1} + g_t`` with ``b_0 = 0``; the output is ``b_t``, or
    ``g_t + decay * b_t`` when ``nesterov`` is True.

    Parameters
    ----------
    decay : float
        Momentum coefficient, >= 0.
    nesterov : bool, default False
        Use Nesterov's look-ahead form.

    Returns
    -------
    GradientTransformation
        With state :class:`TraceState`.

    Examples
    --------
    >>> import numpy as np
    >>> t = trace(0.5)
    >>> state = t.init({"w": np.zeros(1)})
    >>> for g in [1.0, 1.0, 1.0]:
    ...     updates, state = t.update({"w": np.array([g])}, state)
    >>> updates["w"]
    array([1.75])
    """
    decay = check_non_negative("decay", decay)

    def init_fn(params: Params) -> TraceState:
        check_params(params, "trace")
        return TraceState(trace=full_like_tree(params))

    def update_fn(
        updates: Updates, state: TraceState, params: Params | None = None
    ) -> tuple[Updates, TraceState]:
        check_updates(updates, params, "trace", state.trace)
        new_trace = tree_map(lambda g, b: keep_dtype(g + cast_like(decay, b) * b, b), updates, state.trace)
        if nesterov:
            updates = tree_map(lambda g, b: g + cast_like(decay, b) * b, updates, new_trace)
        else:
            updates = new_trace
        return updates, TraceState(trace=new_trace)

    return GradientTransformation(init_fn, update_fn)


class ScaleByLionState(NamedTuple):
    """State of :func:`scale_by_lion`: the momentum ``mu``."""

    mu: Any


def scale_by_lion(b1: Scalar = 0.9, b2: Scalar = 0.99) -> GradientTransformation:
    """Replace updates by the sign of an interpolated momentum (Lion).

    ::

        u_t = sign(b1 * m_{t-1} + (1 - b1) * g_t)
        m_t = b2 * m_{t-1} + (1 - b2) * g_t

    Parameters
    ----------
    b1 : float
        Interpolation weight of the step direction, in [0, 1).
    b2 : float
        Decay rate of the momentum, in [0, 1).

    Returns
    -------
    GradientTransformation
        With state :class:`ScaleByLionState`.

    Examples
    --------
    >>> import numpy as np
    >>> t = scale_by_lion()
    >>> updates, state = t.update({"w": np.array([0.3, -2.0, 0.0])}, t.init({"w": np.zeros(3)}))
    >>> updates["w"]
    array([ 1., -1.,  0.])
    """
    b1 = check_decay_rate("b1", b1)
    b2 = check_decay_rate("b2", b2)

    def init_fn(params: Params) -> ScaleByLionState:
        check_params(params, "scale_by_lion")
        return ScaleByLionState(mu=full_like_tree(params))

    def update_fn(
        updates: Updates, state: ScaleByLionState, params: Params | None = None
    ) -> tuple[Updates, ScaleByLionState]:
        check_updates(updates, params, "scale_by_lion", state.mu)
        directions = tree_map(lambda g, m: fnp.sign(ema(b1, m, g)), updates, state.mu)
        mu = tree_map(lambda g, m: ema(b2, m, g), updates, state.mu)
        return directions, ScaleByLionState(mu=mu)

    return GradientTransformation(init_fn, update_fn)
