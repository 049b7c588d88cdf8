"""Division by the root of running squares: RMSprop, its centred form, Adagrad, Adadelta."""

from __future__ import annotations

from typing import Any, NamedTuple

import funcnn.numpy as fnp

from ..tree_util import tree_map
from ._base import GradientTransformation, Params, Scalar, Updates
from ._checks import check_decay_rate, check_non_negative, check_params, check_updates
from ._numerics import cast_like, ema, ema_of_square, full_like_tree, keep_dtype

__all__ = [
    "ScaleByAdadeltaState",
    "ScaleByRmsState",
    "ScaleByRssState",
    "ScaleByStddevState",
    "scale_by_adadelta",
    "scale_by_rms",
    "scale_by_rss",
    "scale_by_stddev",
]


class ScaleByRmsState(NamedTuple):
    """State of :func:`scale_by_rms`: ``nu``, the running mean of squared gradients."""

    nu: Any


def scale_by_rms(decay: Scalar = 0.9, eps: Scalar = 1e-8, initial_scale: Scalar = 0.0) -> GradientTransformation:
    """Divide updates by the root of a running mean of squared gradients (RMSprop).

    ::

        v_t = decay * v_{t-1} + (1 - decay) * g_t**2,   v_0 = initial_scale
        u_t = g_t / (sqrt(v_t) + eps)

    ``eps`` is added outside the square root, as PyTorch's RMSprop does.

    Parameters
    ----------
    decay : float
        Decay rate of the running mean, in [0, 1).
    eps : float
        Added to the denominator, >= 0.
    initial_scale : float
        Initial value of ``v``, >= 0.

    Returns
    -------
    GradientTransformation
        With state :class:`ScaleByRmsState`.

    Examples
    --------
    >>> import numpy as np
    >>> t = scale_by_rms(decay=0.75, eps=0.0)
    >>> updates, state = t.update({"w": np.array([2.0])}, t.init({"w": np.zeros(1)}))
    >>> updates["w"], state.nu["w"]   # v = 0.25 * 4, u = 2 / sqrt(1)
    (array([2.]), array([1.]))
    """
    decay = check_decay_rate("decay", decay)
    eps = check_non_negative("eps", eps)
    initial_scale = check_non_negative("initial_scale", initial_scale)

    def init_fn(params: Params) -> ScaleByRmsState:
        check_params(params, "scale_by_rms")
        return ScaleByRmsState(nu=full_like_tree(params, initial_scale))

    def update_fn(
        updates: Updates, state: ScaleByRmsState, params: Params | None = None
    ) -> tuple[Updates, ScaleByRmsState]:
        check_updates(updates, params, "scale_by_rms", state.nu)
        nu = tree_map(lambda g, v: ema_of_square(decay, v, g), updates, state.nu)
        updates = tree_map(lambda g, v: g / (fnp.sqrt(v) + cast_like(eps, v)), updates, nu)
        return updates, ScaleByRmsState(nu=nu)

    return GradientTransformation(init_fn, update_fn)


class ScaleByStddevState(NamedTuple):
    """State of :func:`scale_by_stddev`: running means of ``g`` (``mu``) and ``g**2`` (``nu``)."""

    mu: Any
    nu: Any


def scale_by_stddev(
    decay: Scalar = 0.9, eps: Scalar = 1e-8, initial_scale: Scalar = 0.0
) -> GradientTransformation:
    """Divide updates by a running estimate of the gradients' standard deviation (centered RMSprop).

    ::

        m_t = decay * m_{t-1} + (1 - decay) * g_t
        v_t = decay * v_{t-1} + (1 - decay) * g_t**2,   v_0 = initial_scale
        u_t = g_t / (sqrt(max(v_t - m_t**2, 0)) + eps)

    Parameters
    ----------
    decay : float
        Decay rate of the running means, in [0, 1).
    eps : float
        Added to the denominator, >= 0.
    initial_scale : float
        Initial value of ``v``, >= 0.

    Returns
    -------
    GradientTransformation
        With state :class:`ScaleByStddevState`.

    Examples
    --------
    >>> import numpy as np
    >>> t = scale_by_stddev(decay=0.75, eps=0.0)
    >>> updates, state = t.update({"w": np.array([4.0])}, t.init({"w": np.zeros(1)}))
    >>> updates["w"]   # m = 1, v = 4, u = 4 / sqrt(4 - 1)
    array([2.30940108])
    """
    decay = check_decay_rate("decay", decay)
    eps = check_non_negative("eps", eps)
    initial_scale = check_non_negative("initial_scale", initial_scale)

    def init_fn(params: Params) -> ScaleByStddevState:
        check_params(params, "scale_by_stddev")
        return ScaleByStddevState(mu=full_like_tree(params), nu=full_like_tree(params, initial_scale))

    def update_fn(
        updates: Updates, state: ScaleByStddevState, params: Params | None = None
    ) -> tuple[Updates, ScaleByStddevState]:
        check_updates(updates, params, "scale_by_stddev", state.mu)
        mu = tree_map(lambda g, m: ema(decay, m, g), updates, state.mu)
        nu = tree_map(lambda g, v: ema_of_square(decay, v, g), updates, state.nu)

        def step(g: Any, m: Any, v: Any) -> Any:
            # v - m**2 >= 0 in exact arithmetic; rounding can dip below zero
            variance = fnp.maximum(v - m * m, cast_like(0.0, v))
            return g / (fnp.sqrt(variance) + cast_like(eps, v))

        return tree_map(step, updates, mu, nu), ScaleByStddevState(mu=mu, nu=nu)

    return GradientTransformation(init_fn, update_fn)


class ScaleByRssState(NamedTuple):
    """State of :func:`scale_by_rss`: the running sum of squared gradients."""

    sum_of_squares: Any


def scale_by_rss(initial_accumulator_value: Scalar = 0.0, eps: Scalar = 1e-10) -> GradientTransformation:
    """Divide updates by the root of the sum of all squared gradients so far (Adagrad).

    ::

        s_t = s_{t-1} + g_t**2,   s_0 = initial_accumulator_value
        u_t = g_t / (sqrt(s_t) + eps)

    Parameters
    ----------
    initial_accumulator_value : float
        Initial value of ``s``, >= 0.
    eps : float
        Added to the denominator, >= 0.

    Returns
    -------
    GradientTransformation
        With state :class:`ScaleByRssState`.

    Examples
    --------
    >>> import numpy as np
    >>> t = scale_by_rss(eps=0.0)
    >>> state = t.init({"w": np.zeros(1)})
    >>> for g in [3.0, 4.0]:
    ...     updates, state = t.update({"w": np.array([g])}, state)
    >>> updates["w"]   # 4 / sqrt(9 + 16)
    array([0.8])
    """
    initial_accumulator_value = check_non_negative("initial_accumulator_value", initial_accumulator_value)
    eps = check_non_negative("eps", eps)

    def init_fn(params: Params) -> ScaleByRssState:
        check_params(params, "scale_by_rss")
        return ScaleByRssState(sum_of_squares=full_like_tree(params, initial_accumulator_value))

    def update_fn(
        updates: Updates, state: ScaleByRssState, params: Params | None = None
    ) -> tuple[Updates, ScaleByRssState]:
        check_updates(updates, params, "scale_by_rss", state.sum_of_squares)
        sums = tree_map(lambda g, s: keep_dtype(s + g * g, s), updates, state.sum_of_squares)
        updates = tree_map(lambda g, s: g / (fnp.sqrt(s) + cast_like(eps, s)), updates, sums)
        return updates, ScaleByRssState(sum_of_squares=sums)

    return GradientTransformation(init_fn, update_fn)


class ScaleByAdadeltaState(NamedTuple):
    """State of :func:`scale_by_adadelta`: running means of squared gradients and squared steps."""

    grad_sq_avg: Any
    delta_sq_avg: Any


def scale_by_adadelta(rho: Scalar = 0.9, eps: Scalar = 1e-6) -> GradientTransformation:
    """Rescale updates by the ratio of running RMS of past steps and of gradients (Adadelta).

    ::

        v_t = rho * v_{t-1} + (1 - rho) * g_t**2
        u_t = sqrt(d_{t-1} + eps) / sqrt(v_t + eps) * g_t
        d_t = rho * d_{t-1} + (1 - rho) * u_t**2

    Parameters
    ----------
    rho : float
        Decay rate of both running means, in [0, 1).
    eps : float
        Added inside both square roots, >= 0.

    Returns
    -------
    GradientTransformation
        With state :class:`ScaleByAdadeltaState`.

    Examples
    --------
    >>> import numpy as np
    >>> t = scale_by_adadelta(rho=0.0, eps=1.0)
    >>> updates, state = t.update({"w": np.array([3.0])}, t.init({"w": np.zeros(1)}))
    >>> updates["w"]   # sqrt(0 + 1) / sqrt(9 + 1) * 3
    array([0.9486833])
    """
    rho = check_decay_rate("rho", rho)
    eps = check_non_negative("eps", eps)

    def init_fn(params: Params) -> ScaleByAdadeltaState:
        check_params(params, "scale_by_adadelta")
        return ScaleByAdadeltaState(grad_sq_avg=full_like_tree(params), delta_sq_avg=full_like_tree(params))

    def update_fn(
        updates: Updates, state: ScaleByAdadeltaState, params: Params | None = None
    ) -> tuple[Updates, ScaleByAdadeltaState]:
        check_updates(updates, params, "scale_by_adadelta", state.grad_sq_avg)
        grad_sq = tree_map(lambda g, v: ema_of_square(rho, v, g), updates, state.grad_sq_avg)

        def step(g: Any, v: Any, d: Any) -> Any:
            e = cast_like(eps, v)
            return fnp.sqrt(d + e) / fnp.sqrt(v + e) * g

        updates = tree_map(step, updates, grad_sq, state.delta_sq_avg)
        delta_sq = tree_map(lambda u, d: ema_of_square(rho, d, u), updates, state.delta_sq_avg)
        return updates, ScaleByAdadeltaState(grad_sq_avg=grad_sq, delta_sq_avg=delta_sq)

    return GradientTransformation(init_fn, update_fn)
