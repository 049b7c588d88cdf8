"""Ready-made optimizers: chains of building blocks with PyTorch's semantics and defaults.

Notation in the update rules: ``theta_t`` are the parameters after step ``t``
(``t = 1, 2, ...``), ``g_t`` the gradient at ``theta_{t-1}``, ``lr_t`` the learning
rate (a schedule is evaluated at the step count ``t - 1``), ``wd`` the weight
decay. Operations on arrays are elementwise.

Every hyper-parameter may be a traced scalar (for example a learning rate being
differentiated with ``funcnn.grad``): its value is then not checked, and a block that a
zero would leave out (weight decay, momentum) is kept.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from ._adam import scale_by_adam, scale_by_amsgrad, scale_by_nadam
from ._base import GradientTransformation, Params, Scalar, ScalarOrSchedule, chain
from ._checks import check_learning_rate, check_non_negative, may_be_nonzero
from ._decay import add_decayed_weights
from ._momentum import scale_by_lion, trace
from ._numerics import as_float64
from ._rms import scale_by_adadelta, scale_by_rms, scale_by_rss, scale_by_stddev
from ._scaling import scale_by_learning_rate
from ._trust_ratio import scale_by_trust_ratio

__all__ = ["adadelta", "adagrad", "adam", "adamw", "amsgrad", "lamb", "lion", "nadam", "rmsprop", "sgd"]

Mask = Any | Callable[[Params], Any] | None


def _l2(weight_decay: Scalar) -> list[GradientTransformation]:
    """Weight decay added to the gradient, or nothing (so ``params`` stays optional)."""
    return [add_decayed_weights(weight_decay)] if may_be_nonzero(weight_decay) else []


def _decoupled(weight_decay: Scalar, mask: Mask = None) -> list[GradientTransformation]:
    return [add_decayed_weights(weight_decay, mask)] if may_be_nonzero(weight_decay) else []


def sgd(
    learning_rate: ScalarOrSchedule,
    momentum: Scalar = 0.0,
    nesterov: bool = False,
    weight_decay: Scalar = 0.0,
) -> GradientTransformation:
    """Stochastic gradient descent, with optional momentum and weight decay (``torch.optim.SGD``).

    Update rule (``mu`` is ``momentum``, ``b_0 = 0``)::

        h_t     = g_t + wd * theta_{t-1}
        b_t     = mu * b_{t-1} + h_t
        d_t     = h_t + mu * b_t    if nesterov    else    b_t
        theta_t = theta_{t-1} - lr_t * d_t

    With ``momentum=0`` this is ``theta_t = theta_{t-1} - lr_t * h_t``.

    Parameters
    ----------
    learning_rate : float or callable
        Positive float, traced scalar, or a schedule ``count -> float``.
    momentum : float, default 0
        Momentum coefficient, >= 0 (PyTorch's ``dampening`` is fixed at 0).
    nesterov : bool, default False
        Nesterov momentum; needs ``momentum > 0``.
    weight_decay : float, default 0
        L2 coefficient, >= 0, added to the gradient. When > 0, ``update``
        needs ``params``.

    Returns
    -------
    GradientTransformation

    Raises
    ------
    ValueError
        For a learning rate <= 0, a negative momentum or weight decay, or
        ``nesterov`` without momentum.

    Examples
    --------
    >>> import numpy as np
    >>> from funcnn.optim import apply_updates
    >>> opt = sgd(0.1, momentum=0.9)
    >>> params = {"w": np.array([1.0])}
    >>> state = opt.init(params)
    >>> for _ in range(2):
    ...     updates, state = opt.update({"w": np.array([1.0])}, state, params)
    ...     params = apply_updates(params, updates)
    >>> params["w"]   # 1 - 0.1 * 1 - 0.1 * (0.9 + 1)
    array([0.71])
    """
    learning_rate = check_learning_rate(learning_rate)
    momentum = check_non_negative("momentum", momentum)
    weight_decay = check_non_negative("weight_decay", weight_decay)
    if nesterov and not may_be_nonzero(momentum):
        raise ValueError("nesterov=True needs momentum > 0, got momentum=0")
    blocks = _l2(weight_decay)
    if may_be_nonzero(momentum):
        blocks.append(trace(momentum, nesterov=nesterov))
    return chain(*blocks, scale_by_learning_rate(learning_rate))


def adam(
    learning_rate: ScalarOrSchedule,
    b1: Scalar = 0.9,
    b2: Scalar = 0.999,
    eps: Scalar = 1e-8,
    weight_decay: Scalar = 0.0,
) -> GradientTransformation:
    """Adam (``torch.optim.Adam``); weight decay is L2 added to the gradient.

    Update rule (``m_0 = v_0 = 0``)::

        h_t     = g_t + wd * theta_{t-1}
        m_t     = b1 * m_{t-1} + (1 - b1) * h_t
        v_t     = b2 * v_{t-1} + (1 - b2) * h_t**2
        theta_t = theta_{t-1} - lr_t * (m_t / (1 - b1**t)) / (sqrt(v_t / (1 - b2**t)) + eps)

    Parameters
    ----------
    learning_rate : float or callable
        Positive float, traced scalar, or a schedule ``count -> float``.
    b1, b2 : float, default 0.9, 0.999
        Decay rates of the moment estimates (PyTorch's ``betas``), in [0, 1).
    eps : float, default 1e-8
        Added to the denominator, >= 0.
    weight_decay : float, default 0
        L2 coefficient, >= 0. For decoupled decay use :func:`adamw`.

    Returns
    -------
    GradientTransformation

    Examples
    --------
    >>> import numpy as np
    >>> from funcnn.optim import apply_updates
    >>> opt = adam(0.1)
    >>> params = {"w": np.array([1.0, 1.0])}
    >>> updates, state = opt.update({"w": np.array([5.0, -0.01])}, opt.init(params), params)
    >>> np.round(apply_updates(params, updates)["w"], 6)   # first step: -lr * sign(g)
    array([0.9, 1.1])
    """
    learning_rate = check_learning_rate(learning_rate)
    weight_decay = check_non_negative("weight_decay", weight_decay)
    return chain(
        *_l2(weight_decay),
        scale_by_adam(b1=b1, b2=b2, eps=eps),
        scale_by_learning_rate(learning_rate),
    )


def amsgrad(
    learning_rate: ScalarOrSchedule,
    b1: Scalar = 0.9,
    b2: Scalar = 0.999,
    eps: Scalar = 1e-8,
    weight_decay: Scalar = 0.0,
) -> GradientTransformation:
    """AMSGrad: Adam dividing by the running maximum of the second moment
    (``torch.optim.Adam(amsgrad=True)``); weight decay is L2 added to the gradient.

    Update rule (``m_0 = v_0 = vmax_0 = 0``)::

        h_t     = g_t + wd * theta_{t-1}
        m_t     = b1 * m_{t-1} + (1 - b1) * h_t
        v_t     = b2 * v_{t-1} + (1 - b2) * h_t**2
        vmax_t  = max(vmax_{t-1}, v_t)
        theta_t = theta_{t-1} - lr_t * (m_t / (1 - b1**t)) / (sqrt(vmax_t / (1 - b2**t)) + eps)

    This is PyTorch's rule. optax's ``amsgrad`` takes the maximum of the bias-corrected
    ``v_t / (1 - b2**t)`` instead (see :func:`scale_by_amsgrad`): the same steps while
    ``v_t`` grows, different ones after it shrinks.

    Parameters
    ----------
    learning_rate : float or callable
        Positive float, traced scalar, or a schedule ``count -> float``.
    b1, b2 : float, default 0.9, 0.999
        Decay rates of the moment estimates (PyTorch's ``betas``), in [0, 1).
    eps : float, default 1e-8
        Added to the denominator, >= 0.
    weight_decay : float, default 0
        L2 coefficient, >= 0.

    Returns
    -------
    GradientTransformation

    Examples
    --------
    >>> import numpy as np
    >>> from funcnn.optim import apply_updates
    >>> opt = amsgrad(0.1)
    >>> params = {"w": np.array([1.0, 1.0])}
    >>> updates, state = opt.update({"w": np.array([5.0, -0.01])}, opt.init(params), params)
    >>> np.round(apply_updates(params, updates)["w"], 6)   # first step: -lr * sign(g), as Adam
    array([0.9, 1.1])
    """
    learning_rate = check_learning_rate(learning_rate)
    weight_decay = check_non_negative("weight_decay", weight_decay)
    return chain(
        *_l2(weight_decay),
        scale_by_amsgrad(b1=b1, b2=b2, eps=eps),
        scale_by_learning_rate(learning_rate),
    )

def adamw(
    learning_rate: ScalarOrSchedule,
    b1: Scalar = 0.9,
    b2: Scalar = 0.999,
    eps: Scalar = 1e-8,
    weight_decay: Scalar = 0.01,
    mask: Mask = None,
) -> GradientTransformation:
    """Adam with decoupled weight decay (``torch.optim.AdamW``).

    Update rule (``m_0 = v_0 = 0``)::

        m_t     = b1 * m_{t-1} + (1 - b1) * g_t
        v_t     = b2 * v_{t-1} + (1 - b2) * g_t**2
        theta_t = theta_{t-1} * (1 - lr_t * wd)
                  - lr_t * (m_t / (1 - b1**t)) / (sqrt(v_t / (1 - b2**t)) + eps)

    Parameters
    ----------
    learning_rate : float or callable
        Positive float, traced scalar, or a schedule ``count -> float``.
    b1, b2 : float, default 0.9, 0.999
        Decay rates of the moment estimates, in [0, 1).
    eps : float, default 1e-8
        Added to the denominator, >= 0.
    weight_decay : float, default 0.01
        Decoupled decay coefficient, >= 0. When > 0, ``update`` needs ``params``.
    mask : pytree of bool or callable, optional
        Decay only the leaves where the mask is True (e.g. not biases).

    Returns
    -------
    GradientTransformation

    Examples
    --------
    >>> import numpy as np
    >>> from funcnn.optim import apply_updates
    >>> opt = adamw(0.1, weight_decay=0.5)
    >>> params = {"w": np.array([2.0])}
    >>> updates, _ = opt.update({"w": np.array([0.0])}, opt.init(params), params)
    >>> apply_updates(params, updates)["w"]   # 2 * (1 - 0.1 * 0.5)
    array([1.9])
    """
    learning_rate = check_learning_rate(learning_rate)
    weight_decay = check_non_negative("weight_decay", weight_decay)
    return chain(
        scale_by_adam(b1=b1, b2=b2, eps=eps),
        *_decoupled(weight_decay, mask),
        scale_by_learning_rate(learning_rate),
    )


def rmsprop(
    learning_rate: ScalarOrSchedule,
    decay: Scalar = 0.99,
    eps: Scalar = 1e-8,
    momentum: Scalar = 0.0,
    centered: bool = False,
    weight_decay: Scalar = 0.0,
) -> GradientTransformation:
    """RMSprop (``torch.optim.RMSprop``; its ``alpha`` is ``decay`` here).

    Update rule (``rho`` is ``decay``, ``mu`` is ``momentum``, ``v_0 = a_0 = b_0 = 0``)::

        h_t     = g_t + wd * theta_{t-1}
        v_t     = rho * v_{t-1} + (1 - rho) * h_t**2
        a_t     = rho * a_{t-1} + (1 - rho) * h_t      (only if centered)
        s_t     = sqrt(v_t - a_t**2) + eps  if centered  else  sqrt(v_t) + eps
        b_t     = mu * b_{t-1} + h_t / s_t
        theta_t = theta_{t-1} - lr_t * b_t

    With ``momentum=0``, ``b_t = h_t / s_t``.

    Parameters
    ----------
    learning_rate : float or callable
        Positive float, traced scalar, or a schedule ``count -> float``.
    decay : float, default 0.99
        Decay rate of the running means, in [0, 1).
    eps : float, default 1e-8
        Added to the denominator (outside the square root), >= 0.
    momentum : float, default 0
        Momentum coefficient, >= 0.
    centered : bool, default False
        Divide by an estimate of the gradient's standard deviation instead of its RMS.
    weight_decay : float, default 0
        L2 coefficient, >= 0, added to the gradient.

    Returns
    -------
    GradientTransformation

    Examples
    --------
    >>> import numpy as np
    >>> from funcnn.optim import apply_updates
    >>> opt = rmsprop(0.01, decay=0.75, eps=0.0)
    >>> params = {"w": np.array([1.0])}
    >>> updates, _ = opt.update({"w": np.array([2.0])}, opt.init(params), params)
    >>> apply_updates(params, updates)["w"]   # v = 0.25 * 4, step = 0.01 * 2 / 1
    array([0.98])
    """
    learning_rate = check_learning_rate(learning_rate)
    momentum = check_non_negative("momentum", momentum)
    weight_decay = check_non_negative("weight_decay", weight_decay)
    scaling = scale_by_stddev if centered else scale_by_rms
    blocks = [*_l2(weight_decay), scaling(decay=decay, eps=eps)]
    if may_be_nonzero(momentum):
        blocks.append(trace(momentum))
    return chain(*blocks, scale_by_learning_rate(learning_rate))


def adagrad(
    learning_rate: ScalarOrSchedule = 1e-2,
    lr_decay: Scalar = 0.0,
    weight_decay: Scalar = 0.0,
    initial_accumulator_value: Scalar = 0.0,
    eps: Scalar = 1e-10,
) -> GradientTransformation:
    """Adagrad (``torch.optim.Adagrad``).

    Update rule (``s_0 = initial_accumulator_value``)::

        h_t     = g_t + wd * theta_{t-1}
        s_t     = s_{t-1} + h_t**2
        theta_t = theta_{t-1} - lr_t / (1 + (t - 1) * lr_decay) * h_t / (sqrt(s_t) + eps)

    Parameters
    ----------
    learning_rate : float or callable, default 1e-2
        Positive float, traced scalar, or a schedule ``count -> float``.
    lr_decay : float, default 0
        Learning-rate decay, >= 0, applied on top of ``learning_rate``.
    weight_decay : float, default 0
        L2 coefficient, >= 0, added to the gradient.
    initial_accumulator_value : float, default 0
        Starting value of the sum of squares, >= 0.
    eps : float, default 1e-10
        Added to the denominator, >= 0.

    Returns
    -------
    GradientTransformation

    Examples
    --------
    >>> import numpy as np
    >>> from funcnn.optim import apply_updates
    >>> opt = adagrad(0.5)
    >>> params = {"w": np.array([1.0])}
    >>> updates, _ = opt.update({"w": np.array([-4.0])}, opt.init(params), params)
    >>> np.round(apply_updates(params, updates)["w"], 6)   # 1 + 0.5 * 4 / 4
    array([1.5])
    """
    learning_rate = check_learning_rate(learning_rate)
    lr_decay = check_non_negative("lr_decay", lr_decay)
    weight_decay = check_non_negative("weight_decay", weight_decay)
    if may_be_nonzero(lr_decay):
        base = learning_rate

        def decayed(count: Any) -> Any:
            lr = base(count) if callable(base) else base
            return lr / (1.0 + as_float64(count) * lr_decay)

        learning_rate = decayed
    return chain(
        *_l2(weight_decay),
        scale_by_rss(initial_accumulator_value=initial_accumulator_value, eps=eps),
        scale_by_learning_rate(learning_rate),
    )


def adadelta(
    learning_rate: ScalarOrSchedule = 1.0,
    rho: Scalar = 0.9,
    eps: Scalar = 1e-6,
    weight_decay: Scalar = 0.0,
) -> GradientTransformation:
    """Adadelta (``torch.optim.Adadelta``).

    Update rule (``v_0 = d_0 = 0``)::

        h_t     = g_t + wd * theta_{t-1}
        v_t     = rho * v_{t-1} + (1 - rho) * h_t**2
        u_t     = sqrt(d_{t-1} + eps) / sqrt(v_t + eps) * h_t
        d_t     = rho * d_{t-1} + (1 - rho) * u_t**2
        theta_t = theta_{t-1} - lr_t * u_t

    Parameters
    ----------
    learning_rate : float or callable, default 1.0
        Positive float, traced scalar, or a schedule ``count -> float``.
    rho : float, default 0.9
        Decay rate of the running means, in [0, 1).
    eps : float, default 1e-6
        Added inside the square roots, >= 0.
    weight_decay : float, default 0
        L2 coefficient, >= 0, added to the gradient.

    Returns
    -------
    GradientTransformation

    Examples
    --------
    >>> import numpy as np
    >>> from funcnn.optim import apply_updates
    >>> opt = adadelta(rho=0.0, eps=1.0)
    >>> params = {"w": np.array([1.0])}
    >>> updates, _ = opt.update({"w": np.array([3.0])}, opt.init(params), params)
    >>> apply_updates(params, updates)["w"]   # 1 - sqrt(1) / sqrt(10) * 3
    array([0.0513167])
    """
    learning_rate = check_learning_rate(learning_rate)
    weight_decay = check_non_negative("weight_decay", weight_decay)
    return chain(
        *_l2(weight_decay),
        scale_by_adadelta(rho=rho, eps=eps),
        scale_by_learning_rate(learning_rate),
    )


def nadam(
    learning_rate: ScalarOrSchedule = 2e-3,
    b1: Scalar = 0.9,
    b2: Scalar = 0.999,
    eps: Scalar = 1e-8,
    weight_decay: Scalar = 0.0,
    momentum_decay: Scalar = 4e-3,
    decoupled_weight_decay: bool = False,
) -> GradientTransformation:
    """NAdam: Adam with Nesterov momentum (``torch.optim.NAdam``).

    Update rule (``psi`` is ``momentum_decay``, ``m_0 = v_0 = 0``)::

        h_t     = g_t + wd * theta_{t-1}          (g_t if decoupled_weight_decay)
        c_t     = b1 * (1 - 0.5 * 0.96**(t * psi)),    P_t = c_1 * ... * c_t
        m_t     = b1 * m_{t-1} + (1 - b1) * h_t
        v_t     = b2 * v_{t-1} + (1 - b2) * h_t**2
        s_t     = sqrt(v_t / (1 - b2**t)) + eps
        theta_t = theta_{t-1} * (1 - lr_t * wd)   (only if decoupled_weight_decay)
                  - lr_t * ((1 - c_t) / (1 - P_t) * h_t + c_{t+1} / (1 - P_t * c_{t+1}) * m_t) / s_t

    Parameters
    ----------
    learning_rate : float or callable, default 2e-3
        Positive float, traced scalar, or a schedule ``count -> float``.
    b1, b2 : float, default 0.9, 0.999
        Decay rates of the moment estimates, in [0, 1).
    eps : float, default 1e-8
        Added to the denominator, >= 0.
    weight_decay : float, default 0
        Weight-decay coefficient, >= 0.
    momentum_decay : float, default 4e-3
        ``psi`` above, >= 0.
    decoupled_weight_decay : bool, default False
        Decay the parameters directly (as AdamW) instead of adding L2 to the gradient.

    Returns
    -------
    GradientTransformation

    Examples
    --------
    >>> import numpy as np
    >>> from funcnn.optim import apply_updates
    >>> opt = nadam(0.01)
    >>> params = {"w": np.array([1.0])}
    >>> updates, _ = opt.update({"w": np.array([3.0])}, opt.init(params), params)
    >>> bool(0.98 < apply_updates(params, updates)["w"][0] < 0.99)
    True
    """
    learning_rate = check_learning_rate(learning_rate)
    weight_decay = check_non_negative("weight_decay", weight_decay)
    scaling = scale_by_nadam(b1=b1, b2=b2, eps=eps, momentum_decay=momentum_decay)
    if decoupled_weight_decay:
        blocks = [scaling, *_decoupled(weight_decay)]
    else:
        blocks = [*_l2(weight_decay), scaling]
    return chain(*blocks, scale_by_learning_rate(learning_rate))


def lion(
    learning_rate: ScalarOrSchedule,
    b1: Scalar = 0.9,
    b2: Scalar = 0.99,
    weight_decay: Scalar = 1e-3,
    mask: Mask = None,
) -> GradientTransformation:
    """Lion, the sign-momentum optimizer of Chen et al. (2023), with decoupled weight decay.

    Update rule (``m_0 = 0``)::

        u_t     = sign(b1 * m_{t-1} + (1 - b1) * g_t)
        m_t     = b2 * m_{t-1} + (1 - b2) * g_t
        theta_t = theta_{t-1} - lr_t * (u_t + wd * theta_{t-1})

    Every step moves each parameter by exactly ``lr_t`` (plus decay), so Lion
    usually wants a learning rate 3-10x smaller than Adam's.

    Parameters
    ----------
    learning_rate : float or callable
        Positive float, traced scalar, or a schedule ``count -> float``.
    b1 : float, default 0.9
        Interpolation weight of the step direction, in [0, 1).
    b2 : float, default 0.99
        Decay rate of the momentum, in [0, 1).
    weight_decay : float, default 1e-3
        Decoupled decay coefficient, >= 0. When > 0, ``update`` needs ``params``.
    mask : pytree of bool or callable, optional
        Decay only the leaves where the mask is True.

    Returns
    -------
    GradientTransformation

    Examples
    --------
    >>> import numpy as np
    >>> from funcnn.optim import apply_updates
    >>> opt = lion(0.01, weight_decay=0.0)
    >>> params = {"w": np.array([1.0, 1.0])}
    >>> updates, _ = opt.update({"w": np.array([30.0, -1e-3])}, opt.init(params), params)
    >>> apply_updates(params, updates)["w"]
    array([0.99, 1.01])
    """
    learning_rate = check_learning_rate(learning_rate)
    weight_decay = check_non_negative("weight_decay", weight_decay)
    return chain(
        scale_by_lion(b1=b1, b2=b2),
        *_decoupled(weight_decay, mask),
        scale_by_learning_rate(learning_rate),
    )


def lamb(
    learning_rate: ScalarOrSchedule,
    b1: Scalar = 0.9,
    b2: Scalar = 0.999,
    eps: Scalar = 1e-6,
    weight_decay: Scalar = 0.0,
    mask: Mask = None,
) -> GradientTransformation:
    """LAMB (You et al., 2020): Adam's step with decoupled weight decay, rescaled per leaf
    by a trust ratio (optax's ``lamb``).

    Update rule (``m_0 = v_0 = 0``; norms over each parameter array, a leaf of the tree)::

        m_t     = b1 * m_{t-1} + (1 - b1) * g_t
        v_t     = b2 * v_{t-1} + (1 - b2) * g_t**2
        r_t     = (m_t / (1 - b1**t)) / (sqrt(v_t / (1 - b2**t)) + eps) + wd * theta_{t-1}
        theta_t = theta_{t-1} - lr_t * (||theta_{t-1}|| / ||r_t||) * r_t

    where the ratio is taken as 1 if either norm is 0. Every leaf thus moves by
    ``lr_t`` times its own norm, whatever the scale of its gradient.

    Parameters
    ----------
    learning_rate : float or callable
        Positive float, traced scalar, or a schedule ``count -> float``.
    b1, b2 : float, default 0.9, 0.999
        Decay rates of the moment estimates, in [0, 1).
    eps : float, default 1e-6
        Added to the denominator, >= 0.
    weight_decay : float, default 0
        Decoupled decay coefficient, >= 0.
    mask : pytree of bool or callable, optional
        Decay only the leaves where the mask is True (e.g. not biases).

    Returns
    -------
    GradientTransformation
        Its ``update`` needs ``params`` (for the trust ratio).

    Examples
    --------
    >>> import numpy as np
    >>> from funcnn.optim import apply_updates
    >>> opt = lamb(0.1)
    >>> params = {"w": np.array([3.0, 4.0])}
    >>> updates, _ = opt.update({"w": np.array([1e-3, 1e-3])}, opt.init(params), params)
    >>> np.round(apply_updates(params, updates)["w"], 6)   # r = (1, 1) up to eps; moves by 0.1 * 5
    array([2.646447, 3.646447])
    """
    learning_rate = check_learning_rate(learning_rate)
    weight_decay = check_non_negative("weight_decay", weight_decay)
    return chain(
        scale_by_adam(b1=b1, b2=b2, eps=eps),
        *_decoupled(weight_decay, mask),
        scale_by_trust_ratio(),
        scale_by_learning_rate(learning_rate),
    )
