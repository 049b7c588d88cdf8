"""Exponential moving averages: of the updates (``ema``), and of the parameters for
evaluation (``ema_params`` with ``averaged_params``)."""

from __future__ import annotations

from typing import Any, NamedTuple

import numpy as np
import numpy.typing as npt

import funcnn.numpy as fnp

from ..tree_util import tree_map
from ._base import GradientTransformation, OptState, Params, Scalar, Updates
from ._checks import check_decay_rate, check_params, check_updates
from ._numerics import as_float64, bias_correction, cast_like, full_like_tree, keep_dtype, new_count, next_count
from ._numerics import ema as ema_step
from ._state_search import find_states

__all__ = ["EmaParamsState", "EmaState", "averaged_params", "ema", "ema_params"]


class EmaState(NamedTuple):
    """State of :func:`ema`: step ``count`` (int32) and the running average ``ema`` of the updates."""

    count: Any  # type: ignore[assignment]  # shadows tuple.count, as in optax
    ema: Any


def ema(decay: Scalar, debias: bool = True, accumulator_dtype: npt.DTypeLike | None = None) -> GradientTransformation:
    """Replace the updates by an exponential moving average of them (optax's ``ema``).

    With step ``t = 1, 2, ...`` and ``a_0 = 0``::

        a_t = decay * a_{t-1} + (1 - decay) * u_t
        u_t <- a_t / (1 - decay**t)    if debias    else    a_t

    Unlike :func:`trace` (``b_t = decay * b_{t-1} + u_t``), the new update is weighted
    by ``1 - decay``. For an average of the *parameters*, see :func:`ema_params`.

    Parameters
    ----------
    decay : float
        Decay rate, in [0, 1).
    debias : bool, default True
        Divide by ``1 - decay**t``, so early averages are not pulled towards zero.
    accumulator_dtype : dtype, optional
        Floating dtype of the stored average; by default each parameter's own. The
        updates keep the gradients' dtype either way.

    Returns
    -------
    GradientTransformation
        With state :class:`EmaState`.

    Examples
    --------
    >>> import numpy as np
    >>> t = ema(0.5)
    >>> state = t.init({"w": np.zeros(1)})
    >>> for g in [4.0, 1.0]:
    ...     updates, state = t.update({"w": np.array([g])}, state)
    >>> updates["w"], state.ema["w"]   # a = 0.5 * 2 + 0.5 * 1 = 1.5, debiased by 1 - 0.25
    (array([2.]), array([1.5]))
    """
    decay = check_decay_rate("decay", decay)
    dtype = _floating_dtype(accumulator_dtype)

    def init_fn(params: Params) -> EmaState:
        check_params(params, "ema")
        zeros = full_like_tree(params)
        if dtype is not None:
            zeros = tree_map(lambda z: z.astype(dtype), zeros)
        return EmaState(count=new_count(), ema=zeros)

    def update_fn(updates: Updates, state: EmaState, params: Params | None = None) -> tuple[Updates, EmaState]:
        check_updates(updates, params, "ema", state.ema)
        new_ema = tree_map(lambda g, a: ema_step(decay, a, g), updates, state.ema)
        count = next_count(state.count)
        if debias:
            correction = bias_correction(decay, as_float64(count))
            updates = tree_map(lambda g, a: cast_like(a / cast_like(correction, a), g), updates, new_ema)
        else:
            updates = tree_map(lambda g, a: cast_like(a, g), updates, new_ema)
        return updates, EmaState(count=count, ema=new_ema)

    return GradientTransformation(init_fn, update_fn)


def _floating_dtype(dtype: npt.DTypeLike | None) -> np.dtype | None:
    if dtype is None:
        return None
    result = np.dtype(dtype)
    if result.kind != "f":
        raise TypeError(f"accumulator_dtype must be a floating-point dtype, got {result}")
    return result


class EmaParamsState(NamedTuple):
    """State of :func:`ema_params`: step ``count`` (int32) and ``ema``, the averaged parameters."""

    count: Any  # type: ignore[assignment]  # shadows tuple.count, as in optax
    ema: Any


def ema_params(decay: Scalar, debias: bool = False) -> GradientTransformation:
    """Keep an exponential moving average of the parameters, for evaluation.

    Put it **last** in a :func:`chain`: it passes the updates through unchanged and
    averages ``theta_t = theta_{t-1} + u_t``, the parameters after this step (so its
    ``update`` needs ``params``). With ``E_0 = theta_0`` (the parameters given to
    ``init``) and step ``t = 1, 2, ...``::

        E_t = E_{t-1} + w_t * (theta_t - E_{t-1})
        w_t = 1 if t == 1 else 1 - decay           (debias=False)
        w_t = (1 - decay) / (1 - decay**t)         (debias=True)

    ``debias=False`` is PyTorch's ``AveragedModel(get_ema_multi_avg_fn(decay))``: the
    first average is the parameters themselves. ``debias=True`` gives the debiased
    average of a zero-started EMA, ``sum_s (1 - decay) decay**(t-s) theta_s / (1 - decay**t)``.
    Read the average with :func:`averaged_params`.

    Parameters
    ----------
    decay : float
        Decay rate, in [0, 1); 0.999 averages over roughly the last 1000 steps.
    debias : bool, default False
        Weight the steps as a debiased EMA instead of starting from the first step's
        parameters.

    Returns
    -------
    GradientTransformation
        With state :class:`EmaParamsState`, whose ``ema`` has the parameters'
        structure and dtypes.

    Raises
    ------
    ValueError
        From ``update``, if ``params`` is not given.

    Examples
    --------
    >>> import numpy as np
    >>> from funcnn.optim import apply_updates, chain, sgd
    >>> opt = chain(sgd(1.0), ema_params(0.5))
    >>> params = {"w": np.array([0.0])}
    >>> state = opt.init(params)
    >>> for g in [-4.0, -2.0]:
    ...     updates, state = opt.update({"w": np.array([g])}, state, params)
    ...     params = apply_updates(params, updates)
    >>> params["w"], averaged_params(state)["w"]   # 4, then 4 + 0.5 * (6 - 4)
    (array([6.]), array([5.]))
    """
    decay = check_decay_rate("decay", decay)

    def init_fn(params: Params) -> EmaParamsState:
        check_params(params, "ema_params")
        return EmaParamsState(count=new_count(), ema=tree_map(_copy, params))

    def update_fn(
        updates: Updates, state: EmaParamsState, params: Params | None = None
    ) -> tuple[Updates, EmaParamsState]:
        if params is None:
            raise ValueError(
                "ema_params needs the parameters: call update(updates, state, params), with "
                "ema_params last in the chain (it averages params + updates)"
            )
        check_updates(updates, params, "ema_params", state.ema)
        count = next_count(state.count)
        weight = _weight(decay, debias, count)

        def average(e: Any, p: Any, u: Any) -> Any:
            new = keep_dtype(p + u, p)  # as apply_updates will compute it
            return keep_dtype(e + cast_like(weight, e) * (new - e), e)

        return updates, EmaParamsState(count=count, ema=tree_map(average, state.ema, params, updates))

    return GradientTransformation(init_fn, update_fn)


def _copy(p: Any) -> Any:
    return np.array(p, copy=True) if isinstance(p, np.ndarray) else p


def _weight(decay: Any, debias: bool, count: Any) -> Any:
    """``w_t`` of :func:`ema_params`, in float64; it is 1 at the first step either way."""
    t = as_float64(count)
    if debias:
        return (1.0 - decay) / bias_correction(decay, t)
    return fnp.where(count == 1, 1.0, 1.0 - as_float64(decay))


def averaged_params(opt_state: OptState) -> Params:
    """The parameters averaged by :func:`ema_params`, found anywhere in an optimizer state.

    Parameters
    ----------
    opt_state : pytree
        The state of an optimizer holding one :class:`EmaParamsState`, at any depth
        (in a chain, under :func:`inject_hyperparams`, :class:`MultiSteps`, ...).

    Returns
    -------
    pytree of ndarray
        The averaged parameters, with the parameters' structure and dtypes (before
        the first step, the initial parameters).

    Raises
    ------
    ValueError
        If the state holds no :class:`EmaParamsState`, or more than one.

    Examples
    --------
    >>> import numpy as np
    >>> from funcnn.optim import adam, chain
    >>> opt = chain(adam(1e-3), ema_params(0.999))
    >>> averaged_params(opt.init({"w": np.ones(2)}))["w"]
    array([1., 1.])
    """
    found = find_states(opt_state, EmaParamsState)
    if not found:
        raise ValueError(
            "averaged_params: the optimizer state holds no EmaParamsState; build the optimizer "
            "with ema_params last, e.g. chain(adam(1e-3), ema_params(0.999))"
        )
    if len(found) > 1:
        raise ValueError(
            f"averaged_params: the optimizer state holds {len(found)} EmaParamsStates, so which "
            "average is meant is ambiguous; keep one ema_params, last in the chain"
        )
    return found[0].ema
