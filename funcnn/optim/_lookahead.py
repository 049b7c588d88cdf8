"""Lookahead: k steps of a fast optimizer, then one step of the slow weights towards them."""

from __future__ import annotations

import numbers
from typing import Any, NamedTuple

import numpy as np

import funcnn.numpy as fnp
from funcnn.extend import Tracer

from ..tree_util import tree_map
from ._base import GradientTransformation, Params, Scalar, Updates
from ._checks import check_non_negative, check_params, check_updates
from ._numerics import cast_like, keep_dtype, new_count, next_count

__all__ = ["LookaheadState", "lookahead"]


class LookaheadState(NamedTuple):
    """State of :func:`lookahead`.

    ``fast_state`` is the fast optimizer's state, ``slow`` the slow weights (shaped like
    the parameters), and ``steps_since_sync`` (int32) the fast steps since they last met.
    """

    fast_state: Any
    slow: Any
    steps_since_sync: Any


def lookahead(
    fast_optimizer: GradientTransformation,
    sync_period: int,
    slow_step_size: Scalar,
    reset_state: bool = False,
) -> GradientTransformation:
    """Lookahead (Zhang et al., 2019) over plain parameters: "k steps forward, 1 step back".

    The parameters are the fast weights ``theta``; the state keeps the slow weights
    ``phi`` (``phi_0 = theta_0``). With ``k = sync_period``, ``alpha = slow_step_size``
    and ``u_t`` the fast optimizer's update at step ``t = 1, 2, ...``::

        theta'  = theta_{t-1} + u_t
        if t is a multiple of k:    phi_t = phi_{t-1} + alpha * (theta' - phi_{t-1}),   theta_t = phi_t
        else:                       phi_t = phi_{t-1},                                  theta_t = theta'

    The emitted update is ``theta_t - theta_{t-1}``: on a sync step it moves the
    parameters to the new slow weights. So the parameters stay one plain pytree, and
    any loss function and training loop work unchanged; evaluate them right after a sync
    step to evaluate the slow weights (``state.slow`` holds them at every step).

    optax's ``lookahead`` instead takes ``LookaheadParams(fast, slow)`` as the
    parameters, updating both; its ``slow`` equals this ``state.slow``.

    Parameters
    ----------
    fast_optimizer : GradientTransformation
        The inner optimizer; its state carries on across syncs unless ``reset_state``.
    sync_period : int
        ``k``, the fast steps between syncs, >= 1.
    slow_step_size : float
        ``alpha``, in [0, 1] (the paper uses 0.5).
    reset_state : bool, default False
        Restart the fast optimizer's state (its ``init``) after each sync.

    Returns
    -------
    GradientTransformation
        With state :class:`LookaheadState`; its ``update`` needs ``params``.

    Examples
    --------
    >>> import numpy as np
    >>> from funcnn.optim import apply_updates, sgd
    >>> opt = lookahead(sgd(1.0), sync_period=2, slow_step_size=0.5)
    >>> params = {"w": np.array([0.0])}
    >>> state = opt.init(params)
    >>> for _ in range(2):
    ...     updates, state = opt.update({"w": np.array([-1.0])}, state, params)
    ...     params = apply_updates(params, updates)
    >>> params["w"], state.slow["w"]   # the fast weights reach 2; 0 + 0.5 * (2 - 0)
    (array([1.]), array([1.]))
    """
    if not isinstance(fast_optimizer, GradientTransformation):
        raise TypeError(
            f"lookahead: fast_optimizer must be a GradientTransformation, got {type(fast_optimizer).__name__}"
        )
    if isinstance(sync_period, bool) or not isinstance(sync_period, numbers.Integral) or sync_period < 1:
        raise ValueError(f"lookahead: sync_period must be an int >= 1, got {sync_period!r}")
    period = np.int32(sync_period)
    alpha = _check_step_size(slow_step_size)

    def init_fn(params: Params) -> LookaheadState:
        check_params(params, "lookahead")
        slow = tree_map(lambda p: np.array(p, copy=True) if isinstance(p, np.ndarray) else p, params)
        return LookaheadState(fast_state=fast_optimizer.init(params), slow=slow, steps_since_sync=new_count())

    def update_fn(
        updates: Updates, state: LookaheadState, params: Params | None = None
    ) -> tuple[Updates, LookaheadState]:
        if params is None:
            raise ValueError("lookahead needs the parameters: call update(updates, state, params)")
        check_updates(updates, params, "lookahead", state.slow)
        fast_updates, fast_state = fast_optimizer.update(updates, state.fast_state, params)
        sync = state.steps_since_sync >= period - 1

        def slow_step(s: Any, p: Any, u: Any) -> Any:
            fast = keep_dtype(p + u, p)  # as apply_updates will compute it
            return fnp.where(sync, keep_dtype(s + cast_like(alpha, s) * (fast - s), s), s)

        slow = tree_map(slow_step, state.slow, params, fast_updates)
        emitted = tree_map(lambda s, p, u: fnp.where(sync, keep_dtype(s - p, u), u), slow, params, fast_updates)
        if reset_state:
            restart = fast_optimizer.init(params)
            fast_state = tree_map(lambda new, old: fnp.where(sync, new, old), restart, fast_state)
        steps = fnp.where(sync, new_count(), next_count(state.steps_since_sync))
        return emitted, LookaheadState(fast_state=fast_state, slow=slow, steps_since_sync=steps)

    return GradientTransformation(init_fn, update_fn)


def _check_step_size(value: Any) -> Any:
    alpha = check_non_negative("slow_step_size", value)
    if not isinstance(alpha, Tracer) and alpha > 1:
        raise ValueError(f"slow_step_size must be in [0, 1], got {value!r}")
    return alpha
