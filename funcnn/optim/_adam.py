"""Adam's family: bias-corrected moment estimates (Adam), their running maximum (AMSGrad) and
their Nesterov form (NAdam)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, NamedTuple

import numpy as np

import funcnn.numpy as fnp

from ..tree_util import tree_map
from ._base import GradientTransformation, Params, Scalar, Updates
from ._checks import check_decay_rate, check_non_negative, check_params, check_updates, may_be_nonzero
from ._numerics import as_float64, bias_correction, cast_like, ema, ema_of_square, full_like_tree, new_count, next_count

__all__ = [
    "ScaleByAdamState", "ScaleByAmsgradState", "ScaleByNadamState", "scale_by_adam", "scale_by_amsgrad",
    "scale_by_nadam",
]


class ScaleByAdamState(NamedTuple):
    """State of :func:`scale_by_adam`: step ``count`` (int32) and the moments ``mu``, ``nu``."""

    count: Any  # type: ignore[assignment]  # shadows tuple.count, as in optax
    mu: Any
    nu: Any


def scale_by_adam(
    b1: Scalar = 0.9, b2: Scalar = 0.999, eps: Scalar = 1e-8, eps_root: Scalar = 0.0
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
        check_params(params, "scale_by_adam")
        return ScaleByAdamState(count=new_count(), mu=full_like_tree(params), nu=full_like_tree(params))

    def update_fn(
        updates: Updates, state: ScaleByAdamState, params: Params | None = None
    ) -> tuple[Updates, ScaleByAdamState]:
        check_updates(updates, params, "scale_by_adam", state.mu)
        mu = tree_map(lambda g, m: ema(b1, m, g), updates, state.mu)
        nu = tree_map(lambda g, v: ema_of_square(b2, v, g), updates, state.nu)
        count = next_count(state.count)
        t = as_float64(count)
        bc1, bc2 = bias_correction(b1, t), bias_correction(b2, t)

        updates = tree_map(_corrected_step(bc1, bc2, eps, eps_root), mu, nu)
        return updates, ScaleByAdamState(count=count, mu=mu, nu=nu)

    return GradientTransformation(init_fn, update_fn)


def _corrected_step(bc1: Any, bc2: Any, eps: Any, eps_root: Any) -> Callable[[Any, Any], Any]:
    """``(m, v) -> (m / bc1) / (sqrt(v / bc2 + eps_root) + eps)`` in the leaves' dtype."""
    add_eps_root = may_be_nonzero(eps_root)

    def step(m: Any, v: Any) -> Any:
        v_hat = v / cast_like(bc2, v)
        if add_eps_root:
            v_hat = v_hat + cast_like(eps_root, v)
        return m / (fnp.sqrt(v_hat) + cast_like(eps, v)) / cast_like(bc1, m)

    return step


class ScaleByAmsgradState(NamedTuple):
    """State of :func:`scale_by_amsgrad`: step ``count`` (int32), the moments ``mu``, ``nu``
    and ``nu_max``, the running maximum of ``nu``."""

    count: Any  # type: ignore[assignment]  # shadows tuple.count, as in optax
    mu: Any
    nu: Any
    nu_max: Any


def scale_by_amsgrad(
    b1: Scalar = 0.9, b2: Scalar = 0.999, eps: Scalar = 1e-8, eps_root: Scalar = 0.0
) -> GradientTransformation:
    """Rescale updates by Adam's moments, dividing by the running maximum of the second
    (AMSGrad, as ``torch.optim.Adam(amsgrad=True)``).

    With step ``t = 1, 2, ...``::

        m_t     = b1 * m_{t-1} + (1 - b1) * g_t
        v_t     = b2 * v_{t-1} + (1 - b2) * g_t**2
        vmax_t  = max(vmax_{t-1}, v_t)
        u_t     = (m_t / (1 - b1**t)) / (sqrt(vmax_t / (1 - b2**t) + eps_root) + eps)

    The maximum is taken over the raw ``v_t`` and then bias-corrected, as PyTorch does.
    optax's ``scale_by_amsgrad`` takes it over the corrected ``v_t / (1 - b2**t)``
    instead; the two agree while ``v_t`` grows, and differ once it shrinks (then
    optax's maximum keeps an older, larger correction).

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
        With state :class:`ScaleByAmsgradState`.

    Examples
    --------
    >>> import numpy as np
    >>> t = scale_by_amsgrad(b1=0.0, b2=0.5, eps=0.0)
    >>> state = t.init({"w": np.zeros(1)})
    >>> for g in [2.0, 1.0]:
    ...     updates, state = t.update({"w": np.array([g])}, state)
    >>> state.nu["w"], state.nu_max["w"], updates["w"]   # v: 2, then 1.5; u = 1 / sqrt(2 / 0.75)
    (array([1.5]), array([2.]), array([0.61237244]))
    """
    b1 = check_decay_rate("b1", b1)
    b2 = check_decay_rate("b2", b2)
    eps = check_non_negative("eps", eps)
    eps_root = check_non_negative("eps_root", eps_root)

    def init_fn(params: Params) -> ScaleByAmsgradState:
        check_params(params, "scale_by_amsgrad")
        mu, nu, nu_max = (full_like_tree(params) for _ in range(3))
        return ScaleByAmsgradState(count=new_count(), mu=mu, nu=nu, nu_max=nu_max)

    def update_fn(
        updates: Updates, state: ScaleByAmsgradState, params: Params | None = None
    ) -> tuple[Updates, ScaleByAmsgradState]:
        check_updates(updates, params, "scale_by_amsgrad", state.mu)
        mu = tree_map(lambda g, m: ema(b1, m, g), updates, state.mu)
        nu = tree_map(lambda g, v: ema_of_square(b2, v, g), updates, state.nu)
        nu_max = tree_map(fnp.maximum, state.nu_max, nu)
        count = next_count(state.count)
        t = as_float64(count)
        bc1, bc2 = bias_correction(b1, t), bias_correction(b2, t)

        new_state = ScaleByAmsgradState(count=count, mu=mu, nu=nu, nu_max=nu_max)
        return tree_map(_corrected_step(bc1, bc2, eps, eps_root), mu, nu_max), new_state

    return GradientTransformation(init_fn, update_fn)


class ScaleByNadamState(NamedTuple):
    """State of :func:`scale_by_nadam`.

    ``count`` (int32), ``mu_product`` (float64 product of the momentum
    coefficients so far) and the moments ``mu``, ``nu``.
    """

    count: Any  # type: ignore[assignment]  # shadows tuple.count, as in optax
    mu_product: Any
    mu: Any
    nu: Any


def scale_by_nadam(
    b1: Scalar = 0.9, b2: Scalar = 0.999, eps: Scalar = 1e-8, momentum_decay: Scalar = 4e-3
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

    def coefficient(t: Any) -> Any:
        """``c_t`` for a float64 step ``t``."""
        return b1 * (1.0 - 0.5 * fnp.power(0.96, t * momentum_decay))

    def init_fn(params: Params) -> ScaleByNadamState:
        check_params(params, "scale_by_nadam")
        return ScaleByNadamState(
            count=new_count(),
            mu_product=np.asarray(1.0, dtype=np.float64),
            mu=full_like_tree(params),
            nu=full_like_tree(params),
        )

    def update_fn(
        updates: Updates, state: ScaleByNadamState, params: Params | None = None
    ) -> tuple[Updates, ScaleByNadamState]:
        check_updates(updates, params, "scale_by_nadam", state.mu)
        mu = tree_map(lambda g, m: ema(b1, m, g), updates, state.mu)
        nu = tree_map(lambda g, v: ema_of_square(b2, v, g), updates, state.nu)
        count = next_count(state.count)
        t = as_float64(count)
        c_now, c_next = coefficient(t), coefficient(t + 1.0)
        product = as_float64(state.mu_product * c_now)
        coef_g = (1.0 - c_now) / (1.0 - product)
        coef_m = c_next / (1.0 - product * c_next)
        bc2 = bias_correction(b2, t)

        def step(g: Any, m: Any, v: Any) -> Any:
            denom = fnp.sqrt(v / cast_like(bc2, v)) + cast_like(eps, v)
            return cast_like(coef_g, m) * g / denom + cast_like(coef_m, m) * m / denom

        new_state = ScaleByNadamState(count=count, mu_product=product, mu=mu, nu=nu)
        return tree_map(step, updates, mu, nu), new_state

    return GradientTransformation(init_fn, update_fn)
