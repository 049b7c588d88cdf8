"""Building blocks: each factory returns a GradientTransformation with its own state type.

All arithmetic is plain NumPy on the gradient arrays. Hyper-parameters are cast to
each leaf's dtype before use so float32 leaves stay float32. Step-dependent scalars
(bias corrections, schedule values) are computed in float64 first.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any, NamedTuple

import numpy as np

from ..tree_util import (
    check_same_structure,
    tree_flatten,
    tree_leaves,
    tree_map,
    tree_unflatten,
)
from ._base import (
    EmptyState,
    GradientTransformation,
    OptState,
    Params,
    ScalarOrSchedule,
    Schedule,
    Updates,
    cast_like,
    check_decay_rate,
    check_learning_rate,
    check_non_negative,
    check_state,
    new_count,
    next_count,
    zeros_like_tree,
)

__all__ = [
    "AddDecayedWeightsState",
    "ClipByGlobalNormState",
    "ClipState",
    "MaskedState",
    "ScaleByAdadeltaState",
    "ScaleByAdamState",
    "ScaleByLionState",
    "ScaleByNadamState",
    "ScaleByRmsState",
    "ScaleByRssState",
    "ScaleByScheduleState",
    "ScaleByStddevState",
    "ScaleState",
    "TraceState",
    "add_decayed_weights",
    "clip",
    "clip_by_global_norm",
    "global_norm",
    "masked",
    "scale",
    "scale_by_adadelta",
    "scale_by_adam",
    "scale_by_learning_rate",
    "scale_by_lion",
    "scale_by_nadam",
    "scale_by_rms",
    "scale_by_rss",
    "scale_by_schedule",
    "scale_by_stddev",
    "trace",
]

ScaleState = EmptyState
ClipState = EmptyState
ClipByGlobalNormState = EmptyState
AddDecayedWeightsState = EmptyState


def _stateless(fn: Callable[[Updates, Params | None], Updates]) -> GradientTransformation:
    def init_fn(params: Params) -> EmptyState:
        del params
        return EmptyState()

    def update_fn(
        updates: Updates, state: OptState, params: Params | None = None
    ) -> tuple[Updates, EmptyState]:
        return fn(updates, params), state

    return GradientTransformation(init_fn, update_fn)


# ---------------------------------------------------------------------------
# scaling


def scale(step_size: float) -> GradientTransformation:
    """Multiply every update by a constant.

    ``u <- step_size * u``

    Parameters
    ----------
    step_size : float
        The factor (negative to turn a gradient into a descent step).

    Returns
    -------
    GradientTransformation
        Stateless (its state is ``EmptyState()``).

    Examples
    --------
    >>> import numpy as np
    >>> t = scale(-0.1)
    >>> updates, _ = t.update({"w": np.array([1.0, 2.0])}, t.init(None))
    >>> updates["w"]
    array([-0.1, -0.2])
    """
    step_size = float(step_size)
    return _stateless(
        lambda updates, params: tree_map(lambda g: g * cast_like(step_size, g), updates)
    )


class ScaleByScheduleState(NamedTuple):
    """State of :func:`scale_by_schedule`: ``count`` is the number of updates done (int32)."""

    count: np.ndarray  # type: ignore[assignment]  # shadows tuple.count, as in optax


def scale_by_schedule(step_size_fn: Schedule) -> GradientTransformation:
    """Multiply the updates by a value that depends on the step count.

    ``u <- step_size_fn(count) * u``, with ``count`` = 0 at the first update.

    Parameters
    ----------
    step_size_fn : callable, ``step_size_fn(count) -> float``
        For example a schedule from :mod:`funcnn.optim.schedules`.

    Returns
    -------
    GradientTransformation
        With state :class:`ScaleByScheduleState`.

    Examples
    --------
    >>> import numpy as np
    >>> t = scale_by_schedule(lambda count: 1.0 / (1 + count))
    >>> state = t.init({"w": np.ones(2)})
    >>> for _ in range(3):
    ...     updates, state = t.update({"w": np.ones(2)}, state)
    >>> updates["w"], int(state.count)
    (array([0.33333333, 0.33333333]), 3)
    """
    if not callable(step_size_fn):
        raise TypeError(f"step_size_fn must be callable, got {step_size_fn!r}")

    def init_fn(params: Params) -> ScaleByScheduleState:
        del params
        return ScaleByScheduleState(count=new_count())

    def update_fn(
        updates: Updates, state: ScaleByScheduleState, params: Params | None = None
    ) -> tuple[Updates, ScaleByScheduleState]:
        del params
        step_size = np.float64(step_size_fn(state.count))
        updates = tree_map(lambda g: g * cast_like(step_size, g), updates)
        return updates, ScaleByScheduleState(count=next_count(state.count))

    return GradientTransformation(init_fn, update_fn)


def scale_by_learning_rate(
    learning_rate: ScalarOrSchedule, *, flip_sign: bool = True
) -> GradientTransformation:
    """Multiply the updates by ``-learning_rate`` (a float or a schedule).

    ``u <- -lr_t * u``; the sign flip turns a gradient into a descent direction.

    Parameters
    ----------
    learning_rate : float or callable
        A positive float, or a schedule ``count -> float`` evaluated at the
        number of updates done so far.
    flip_sign : bool, default True
        If False, multiply by ``+learning_rate`` instead.

    Returns
    -------
    GradientTransformation
        ``scale(-learning_rate)`` for a float, ``scale_by_schedule`` for a schedule.

    Raises
    ------
    ValueError
        If a float learning rate is not > 0.

    Examples
    --------
    >>> import numpy as np
    >>> t = scale_by_learning_rate(0.5)
    >>> updates, _ = t.update({"w": np.array([2.0])}, t.init(None))
    >>> updates["w"]
    array([-1.])
    """
    learning_rate = check_learning_rate(learning_rate)
    sign = -1.0 if flip_sign else 1.0
    if callable(learning_rate):
        schedule = learning_rate
        return scale_by_schedule(lambda count: sign * np.float64(schedule(count)))
    return scale(sign * learning_rate)


# ---------------------------------------------------------------------------
# momentum and adaptive scalings


class TraceState(NamedTuple):
    """State of :func:`trace`: the momentum buffer, shaped like the params."""

    trace: Any


def trace(decay: float, nesterov: bool = False) -> GradientTransformation:
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
        return TraceState(trace=zeros_like_tree(params))

    def update_fn(
        updates: Updates, state: TraceState, params: Params | None = None
    ) -> tuple[Updates, TraceState]:
        del params
        check_state(state.trace, updates, "trace")
        new_trace = tree_map(
            lambda g, b: _keep_dtype(g + cast_like(decay, b) * b, b), updates, state.trace
        )
        if nesterov:
            updates = tree_map(lambda g, b: g + cast_like(decay, b) * b, updates, new_trace)
        else:
            updates = new_trace
        return updates, TraceState(trace=new_trace)

    return GradientTransformation(init_fn, update_fn)


class ScaleByAdamState(NamedTuple):
    """State of :func:`scale_by_adam`: step ``count`` (int32) and the moments ``mu``, ``nu``."""

    count: np.ndarray  # type: ignore[assignment]  # shadows tuple.count, as in optax
    mu: Any
    nu: Any


def _ema(decay: float, avg: Any, x: Any) -> np.ndarray:
    """``decay * avg + (1 - decay) * x`` in ``avg``'s dtype (one new array, accumulated in place)."""
    out = avg * cast_like(decay, avg)
    out += cast_like(1.0 - decay, avg) * x
    return _keep_dtype(out, avg)


def _ema_of_square(decay: float, avg: Any, x: Any) -> np.ndarray:
    """``decay * avg + (1 - decay) * x**2`` in ``avg``'s dtype, with one temporary."""
    square = np.square(x)
    square *= cast_like(1.0 - decay, square)
    out = avg * cast_like(decay, avg)
    out += square
    return _keep_dtype(out, avg)


def _keep_dtype(x: Any, like: np.ndarray) -> np.ndarray:
    """State leaves keep the dtype they were created with, whatever the gradients' dtype."""
    return np.asarray(x, dtype=like.dtype)


def scale_by_adam(
    b1: float = 0.9, b2: float = 0.999, eps: float = 1e-8, eps_root: float = 0.0
) -> GradientTransformation:
    """Rescale updates by Adam's bias-corrected moment estimates.

    With step ``t = 1, 2, ...``::

        m_t = b1 * m_{t-1} + (1 - b1) * g_t
        v_t = b2 * v_{t-1} + (1 - b2) * g_t**2
        u_t = (m_t / (1 - b1**t)) / (sqrt(v_t / (1 - b2**t) + eps_root) + eps)

    Parameters
    ----------
    b1, b2 : float
        Decay rates of the first and second moments, in [0, 1).
    eps : float
        Added to the denominator outside the square root, >= 0.
    eps_root : float
        Added inside the square root, >= 0.

    Returns
    -------
    GradientTransformation
        With state :class:`ScaleByAdamState`.

    Examples
    --------
    >>> import numpy as np
    >>> t = scale_by_adam()
    >>> state = t.init({"w": np.zeros(2)})
    >>> updates, state = t.update({"w": np.array([0.1, -3.0])}, state)
    >>> np.round(updates["w"], 6)  # the first step is sign(g), up to eps
    array([ 1., -1.])
    """
    b1 = check_decay_rate("b1", b1)
    b2 = check_decay_rate("b2", b2)
    eps = check_non_negative("eps", eps)
    eps_root = check_non_negative("eps_root", eps_root)

    def init_fn(params: Params) -> ScaleByAdamState:
        return ScaleByAdamState(
            count=new_count(), mu=zeros_like_tree(params), nu=zeros_like_tree(params)
        )

    def update_fn(
        updates: Updates, state: ScaleByAdamState, params: Params | None = None
    ) -> tuple[Updates, ScaleByAdamState]:
        del params
        check_state(state.mu, updates, "scale_by_adam")
        mu = tree_map(lambda g, m: _ema(b1, m, g), updates, state.mu)
        nu = tree_map(lambda g, v: _ema_of_square(b2, v, g), updates, state.nu)
        count = next_count(state.count)
        t = int(count)
        bc1, bc2 = 1.0 - b1**t, 1.0 - b2**t

        def step(m: np.ndarray, v: np.ndarray) -> np.ndarray:
            denom = v / cast_like(bc2, v)  # one buffer, updated in place: Adam runs every step
            if eps_root:
                denom += cast_like(eps_root, v)
            denom = np.sqrt(denom)
            denom += cast_like(eps, v)
            out = m / denom
            out /= cast_like(bc1, out)
            return out

        return tree_map(step, mu, nu), ScaleByAdamState(count=count, mu=mu, nu=nu)

    return GradientTransformation(init_fn, update_fn)


class ScaleByNadamState(NamedTuple):
    """State of :func:`scale_by_nadam`.

    ``count`` (int32), ``mu_product`` (float64 product of the momentum
    coefficients so far) and the moments ``mu``, ``nu``.
    """

    count: np.ndarray  # type: ignore[assignment]  # shadows tuple.count, as in optax
    mu_product: np.ndarray
    mu: Any
    nu: Any


def scale_by_nadam(
    b1: float = 0.9, b2: float = 0.999, eps: float = 1e-8, momentum_decay: float = 4e-3
) -> GradientTransformation:
    """Rescale updates by NAdam's Nesterov-corrected moments (PyTorch's NAdam).

    With step ``t = 1, 2, ...`` and ``psi = momentum_decay``::

        c_t  = b1 * (1 - 0.5 * 0.96**(t * psi))        (momentum coefficient)
        P_t  = c_1 * c_2 * ... * c_t
        m_t  = b1 * m_{t-1} + (1 - b1) * g_t
        v_t  = b2 * v_{t-1} + (1 - b2) * g_t**2
        d_t  = sqrt(v_t / (1 - b2**t)) + eps
        u_t  = (1 - c_t) / (1 - P_t) * g_t / d_t + c_{t+1} / (1 - P_t * c_{t+1}) * m_t / d_t

    Parameters
    ----------
    b1, b2 : float
        Decay rates of the first and second moments, in [0, 1).
    eps : float
        Added to the denominator, >= 0.
    momentum_decay : float
        ``psi`` above, >= 0; 0 gives a constant momentum coefficient ``b1 / 2``.

    Returns
    -------
    GradientTransformation
        With state :class:`ScaleByNadamState`.

    Examples
    --------
    >>> import numpy as np
    >>> t = scale_by_nadam()
    >>> state = t.init({"w": np.zeros(1)})
    >>> updates, state = t.update({"w": np.array([2.0])}, state)
    >>> float(state.mu_product) == 0.9 * (1 - 0.5 * 0.96**0.004)
    True
    """
    b1 = check_decay_rate("b1", b1)
    b2 = check_decay_rate("b2", b2)
    eps = check_non_negative("eps", eps)
    momentum_decay = check_non_negative("momentum_decay", momentum_decay)

    def coefficient(t: int) -> float:
        return b1 * (1.0 - 0.5 * 0.96 ** (t * momentum_decay))

    def init_fn(params: Params) -> ScaleByNadamState:
        return ScaleByNadamState(
            count=new_count(),
            mu_product=np.asarray(1.0, dtype=np.float64),
            mu=zeros_like_tree(params),
            nu=zeros_like_tree(params),
        )

    def update_fn(
        updates: Updates, state: ScaleByNadamState, params: Params | None = None
    ) -> tuple[Updates, ScaleByNadamState]:
        del params
        check_state(state.mu, updates, "scale_by_nadam")
        mu = tree_map(lambda g, m: _ema(b1, m, g), updates, state.mu)
        nu = tree_map(lambda g, v: _ema_of_square(b2, v, g), updates, state.nu)
        count = next_count(state.count)
        t = int(count)
        c_now, c_next = coefficient(t), coefficient(t + 1)
        product = float(state.mu_product) * c_now
        coef_g = (1.0 - c_now) / (1.0 - product)
        coef_m = c_next / (1.0 - product * c_next)
        bc2 = 1.0 - b2**t

        def step(g: Any, m: np.ndarray, v: np.ndarray) -> np.ndarray:
            denom = np.sqrt(v / cast_like(bc2, v)) + cast_like(eps, v)
            return cast_like(coef_g, m) * g / denom + cast_like(coef_m, m) * m / denom

        new_state = ScaleByNadamState(
            count=count, mu_product=np.asarray(product, dtype=np.float64), mu=mu, nu=nu
        )
        return tree_map(step, updates, mu, nu), new_state

    return GradientTransformation(init_fn, update_fn)


class ScaleByRmsState(NamedTuple):
    """State of :func:`scale_by_rms`: ``nu``, the running mean of squared gradients."""

    nu: Any


def scale_by_rms(
    decay: float = 0.9, eps: float = 1e-8, initial_scale: float = 0.0
) -> GradientTransformation:
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
        return ScaleByRmsState(nu=zeros_like_tree(params, initial_scale))

    def update_fn(
        updates: Updates, state: ScaleByRmsState, params: Params | None = None
    ) -> tuple[Updates, ScaleByRmsState]:
        del params
        check_state(state.nu, updates, "scale_by_rms")
        nu = tree_map(lambda g, v: _ema_of_square(decay, v, g), updates, state.nu)
        updates = tree_map(lambda g, v: g / (np.sqrt(v) + cast_like(eps, v)), updates, nu)
        return updates, ScaleByRmsState(nu=nu)

    return GradientTransformation(init_fn, update_fn)


class ScaleByStddevState(NamedTuple):
    """State of :func:`scale_by_stddev`: running means of ``g`` (``mu``) and ``g**2`` (``nu``)."""

    mu: Any
    nu: Any


def scale_by_stddev(
    decay: float = 0.9, eps: float = 1e-8, initial_scale: float = 0.0
) -> GradientTransformation:
    """Divide updates by a running estimate of the gradients' standard deviation (centered RMSprop).

    ::

        m_t = decay * m_{t-1} + (1 - decay) * g_t
        v_t = decay * v_{t-1} + (1 - decay) * g_t**2,   v_0 = initial_scale
        u_t = g_t / (sqrt(v_t - m_t**2) + eps)

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
        return ScaleByStddevState(
            mu=zeros_like_tree(params), nu=zeros_like_tree(params, initial_scale)
        )

    def update_fn(
        updates: Updates, state: ScaleByStddevState, params: Params | None = None
    ) -> tuple[Updates, ScaleByStddevState]:
        del params
        check_state(state.mu, updates, "scale_by_stddev")
        mu = tree_map(lambda g, m: _ema(decay, m, g), updates, state.mu)
        nu = tree_map(lambda g, v: _ema_of_square(decay, v, g), updates, state.nu)

        def step(g: Any, m: np.ndarray, v: np.ndarray) -> np.ndarray:
            # v - m**2 >= 0 in exact arithmetic; rounding can dip below zero
            var = np.maximum(v - m * m, cast_like(0.0, v))
            return g / (np.sqrt(var) + cast_like(eps, v))

        return tree_map(step, updates, mu, nu), ScaleByStddevState(mu=mu, nu=nu)

    return GradientTransformation(init_fn, update_fn)


class ScaleByRssState(NamedTuple):
    """State of :func:`scale_by_rss`: the running sum of squared gradients."""

    sum_of_squares: Any


def scale_by_rss(
    initial_accumulator_value: float = 0.0, eps: float = 1e-10
) -> GradientTransformation:
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
    initial_accumulator_value = check_non_negative(
        "initial_accumulator_value", initial_accumulator_value
    )
    eps = check_non_negative("eps", eps)

    def init_fn(params: Params) -> ScaleByRssState:
        return ScaleByRssState(sum_of_squares=zeros_like_tree(params, initial_accumulator_value))

    def update_fn(
        updates: Updates, state: ScaleByRssState, params: Params | None = None
    ) -> tuple[Updates, ScaleByRssState]:
        del params
        check_state(state.sum_of_squares, updates, "scale_by_rss")
        sums = tree_map(lambda g, s: _keep_dtype(s + g * g, s), updates, state.sum_of_squares)
        updates = tree_map(lambda g, s: g / (np.sqrt(s) + cast_like(eps, s)), updates, sums)
        return updates, ScaleByRssState(sum_of_squares=sums)

    return GradientTransformation(init_fn, update_fn)


class ScaleByAdadeltaState(NamedTuple):
    """State of :func:`scale_by_adadelta`: running means of squared gradients and squared steps."""

    grad_sq_avg: Any
    delta_sq_avg: Any


def scale_by_adadelta(rho: float = 0.9, eps: float = 1e-6) -> GradientTransformation:
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
        return ScaleByAdadeltaState(
            grad_sq_avg=zeros_like_tree(params), delta_sq_avg=zeros_like_tree(params)
        )

    def update_fn(
        updates: Updates, state: ScaleByAdadeltaState, params: Params | None = None
    ) -> tuple[Updates, ScaleByAdadeltaState]:
        del params
        check_state(state.grad_sq_avg, updates, "scale_by_adadelta")
        grad_sq = tree_map(lambda g, v: _ema_of_square(rho, v, g), updates, state.grad_sq_avg)

        def step(g: Any, v: np.ndarray, d: np.ndarray) -> np.ndarray:
            e = cast_like(eps, v)
            return np.sqrt(d + e) / np.sqrt(v + e) * g

        updates = tree_map(step, updates, grad_sq, state.delta_sq_avg)
        delta_sq = tree_map(lambda u, d: _ema_of_square(rho, d, u), updates, state.delta_sq_avg)
        return updates, ScaleByAdadeltaState(grad_sq_avg=grad_sq, delta_sq_avg=delta_sq)

    return GradientTransformation(init_fn, update_fn)


class ScaleByLionState(NamedTuple):
    """State of :func:`scale_by_lion`: the momentum ``mu``."""

    mu: Any


def scale_by_lion(b1: float = 0.9, b2: float = 0.99) -> GradientTransformation:
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
        return ScaleByLionState(mu=zeros_like_tree(params))

    def update_fn(
        updates: Updates, state: ScaleByLionState, params: Params | None = None
    ) -> tuple[Updates, ScaleByLionState]:
        del params
        check_state(state.mu, updates, "scale_by_lion")
        updates_out = tree_map(lambda g, m: np.sign(_ema(b1, m, g)), updates, state.mu)
        mu = tree_map(lambda g, m: _ema(b2, m, g), updates, state.mu)
        return updates_out, ScaleByLionState(mu=mu)

    return GradientTransformation(init_fn, update_fn)


# ---------------------------------------------------------------------------
# weight decay, clipping, masking


def add_decayed_weights(
    weight_decay: float = 0.0, mask: Any | Callable[[Params], Any] | None = None
) -> GradientTransformation:
    """Add ``weight_decay * params`` to the updates.

    ``u <- u + weight_decay * theta``. Placed before an adaptive scaling this is
    L2 regularisation; placed after it (just before the learning rate) it is
    decoupled weight decay as in AdamW.

    Parameters
    ----------
    weight_decay : float
        Coefficient, >= 0.
    mask : pytree of bool or callable, optional
        Decay only the leaves where the mask is True (see :func:`masked`).

    Returns
    -------
    GradientTransformation
        Stateless; its ``update`` needs ``params``.

    Examples
    --------
    >>> import numpy as np
    >>> params = {"b": np.array([1.0]), "w": np.array([2.0])}
    >>> t = add_decayed_weights(0.1, mask={"b": False, "w": True})
    >>> updates, _ = t.update({"b": np.zeros(1), "w": np.zeros(1)}, t.init(params), params)
    >>> updates["b"], updates["w"]
    (array([0.]), array([0.2]))
    """
    weight_decay = check_non_negative("weight_decay", weight_decay)

    def decay(updates: Updates, params: Params | None) -> Updates:
        if params is None:
            raise ValueError(
                "add_decayed_weights needs the parameters: call update(updates, state, params)"
            )
        check_same_structure(params, updates, "add_decayed_weights", names=("params", "updates"))

        def add(u: Any, p: Any) -> np.ndarray:
            u = np.asarray(u)
            return np.asarray(u + cast_like(weight_decay, u) * p, dtype=u.dtype)

        return tree_map(add, updates, params)

    inner = _stateless(decay)
    return inner if mask is None else masked(inner, mask)


def clip(max_delta: float) -> GradientTransformation:
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

    def clip_leaf(g: Any) -> np.ndarray:
        limit = cast_like(max_delta, g)
        return np.clip(g, -limit, limit)

    return _stateless(lambda updates, params: tree_map(clip_leaf, updates))


def global_norm(updates: Updates) -> np.float64:
    """The Euclidean norm of all leaves taken together, computed in float64.

    ``||u|| = sqrt(sum over leaves of sum(u**2))``

    Parameters
    ----------
    updates : pytree of ndarray

    Returns
    -------
    numpy.float64

    Examples
    --------
    >>> import numpy as np
    >>> float(global_norm({"a": np.array([3.0]), "b": np.array([[4.0]])}))
    5.0
    """
    squares = (
        float(np.sum(np.square(np.asarray(g, dtype=np.float64)))) for g in tree_leaves(updates)
    )
    return np.float64(math.sqrt(math.fsum(squares)))


def clip_by_global_norm(max_norm: float) -> GradientTransformation:
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
        if norm <= max_norm:
            return updates
        factor = max_norm / norm  # NaN when the norm is NaN, on purpose
        return tree_map(lambda g: g * cast_like(factor, g), updates)

    return _stateless(clip_tree)


class MaskedState(NamedTuple):
    """State of :func:`masked`: the inner transformation's state over the masked-in leaves."""

    inner_state: Any


def masked(
    inner: GradientTransformation, mask: Any | Callable[[Params], Any]
) -> GradientTransformation:
    """Apply ``inner`` only to the leaves where ``mask`` is True; pass the rest through.

    Parameters
    ----------
    inner : GradientTransformation
        Sees a copy of the tree in which masked-out leaves are replaced by None
        (an empty subtree), so its state holds nothing for them.
    mask : pytree of bool, or callable
        A tree with the structure of the params and a bool per leaf, or a
        function returning one; it is called with the params in ``init`` and
        with the updates in ``update``.

    Returns
    -------
    GradientTransformation
        With state :class:`MaskedState`.

    Examples
    --------
    >>> import numpy as np
    >>> params = {"b": np.zeros(2), "w": np.zeros((2, 2))}
    >>> not_bias = lambda tree: {"b": False, "w": True}
    >>> t = masked(scale(0.0), not_bias)
    >>> updates, _ = t.update({"b": np.ones(2), "w": np.ones((2, 2))}, t.init(params))
    >>> updates["b"], float(updates["w"].sum())
    (array([1., 1.]), 0.0)
    """
    if not isinstance(inner, GradientTransformation):
        raise TypeError(
            f"masked: inner must be a GradientTransformation, got {type(inner).__name__}"
        )

    def split(tree: Any) -> tuple[list[bool], list[Any], Any, Any]:
        """Return the mask flags, the tree's leaves, its treedef and the masked tree."""
        mask_tree = mask(tree) if callable(mask) else mask
        check_same_structure(tree, mask_tree, "masked", names=("the tree", "the mask"))
        flags = [_as_flag(m) for m in tree_leaves(mask_tree)]
        leaves, treedef = tree_flatten(tree)
        kept = tree_unflatten(treedef, [x if f else None for f, x in zip(flags, leaves)])
        return flags, leaves, treedef, kept

    def init_fn(params: Params) -> MaskedState:
        *_, kept = split(params)
        return MaskedState(inner_state=inner.init(kept))

    def update_fn(
        updates: Updates, state: MaskedState, params: Params | None = None
    ) -> tuple[Updates, MaskedState]:
        flags, leaves, treedef, kept = split(updates)
        kept_params = None
        if params is not None:
            check_same_structure(params, updates, "masked", names=("params", "updates"))
            p_leaves = tree_leaves(params)
            kept_params = tree_unflatten(
                treedef, [p if f else None for f, p in zip(flags, p_leaves)]
            )
        new_kept, inner_state = inner.update(kept, state.inner_state, kept_params)
        new_iter = iter(tree_leaves(new_kept))
        out = [next(new_iter) if f else x for f, x in zip(flags, leaves)]
        return tree_unflatten(treedef, out), MaskedState(inner_state=inner_state)

    return GradientTransformation(init_fn, update_fn)


def _as_flag(m: Any) -> bool:
    if isinstance(m, (bool, np.bool_)):
        return bool(m)
    if isinstance(m, np.ndarray) and m.shape == () and m.dtype == np.bool_:
        return bool(m)
    raise TypeError(f"mask leaves must be bools (one per parameter array), got {m!r}")
