"""Activation functions, written with ``funcnn.numpy`` ops so that ``grad`` works to any order.

All of them are elementwise except ``softmax``, ``log_softmax`` and ``logsumexp``, keep the
dtype of a floating input (constants are Python floats, so float32 stays float32), and are
finite with finite derivatives for inputs of any magnitude a float32 can hold: branches
that could overflow (``exp`` of a large argument) only ever see safe arguments, because
the argument is chosen with ``where`` *before* the ``exp``. Integer and boolean inputs are
converted first to the floating dtype NumPy's ``exp`` gives them (int8 and uint8 to
float16, int16 to float32, wider to float64), so nothing wraps around; complex inputs raise
``TypeError``; NaN inputs give NaN (as ``np.maximum``, PyTorch and JAX do).

Derivatives at kinks follow PyTorch (and JAX where both define them):

========================  ==========================================================
``relu``                  ``relu'(0) = 0``
``relu6``                 derivative 0 at ``x = 0`` and at ``x = 6``
``leaky_relu``            derivative ``negative_slope`` at ``x = 0``
``hard_tanh``             derivative 0 at both bounds
``elu``, ``selu``         the left-hand derivative at 0 (``alpha``, ``scale * alpha``)
========================  ==========================================================

The smooth functions (``softplus``, ``gelu``, ``sigmoid``...) have their true
derivatives everywhere, including at 0, where a naive ``abs`` would break them.
"""
from __future__ import annotations

import math
from typing import Any

import numpy as np

import funcnn.numpy as fnp
from funcnn.extend import dtype_of, ndim_of, shape_of
from funcnn.nn._checks import check_values
from funcnn.numpy._reductions import float_operand, narrowed, widened
from funcnn.scipy.special import ndtr

__all__ = [
    "elu", "gelu", "hard_tanh", "leaky_relu", "log_sigmoid", "log_softmax", "logsumexp",
    "one_hot", "relu", "relu6", "selu", "sigmoid", "silu", "softmax", "softplus", "swish", "tanh",
]

_SELU_ALPHA = 1.6732632423543772848170429916717
_SELU_SCALE = 1.0507009873554804934193349852946
_SQRT_2_OVER_PI = math.sqrt(2.0 / math.pi)


def relu(x: Any) -> Any:
    """Rectified linear unit ``max(x, 0)``, with ``relu'(0) = 0``.

    Parameters
    ----------
    x : ndarray, any shape

    Returns
    -------
    ndarray, the shape and dtype of `x`

    Examples
    --------
    >>> import numpy as np
    >>> from funcnn import nn
    >>> nn.relu(np.array([-1.0, 0.0, 2.0]))
    array([0., 0., 2.])
    """
    x = float_operand(x, "relu")
    # "x <= 0" chooses the zeros rather than "x > 0" the values, so NaN stays NaN (a diverged
    # network must not report a finite loss)
    return fnp.where(x <= 0, 0.0, x)


def relu6(x: Any) -> Any:
    """``min(max(x, 0), 6)``; the derivative is 0 at both kinks.

    Parameters
    ----------
    x : ndarray, any shape

    Returns
    -------
    ndarray, the shape and dtype of `x`

    Examples
    --------
    >>> import numpy as np
    >>> from funcnn import nn
    >>> nn.relu6(np.array([-1.0, 3.0, 9.0]))
    array([0., 3., 6.])
    """
    return hard_tanh(float_operand(x, "relu6"), 0.0, 6.0)


def leaky_relu(x: Any, negative_slope: float = 0.01) -> Any:
    """``x`` for ``x > 0``, ``negative_slope * x`` otherwise (PyTorch's default slope).

    Parameters
    ----------
    x : ndarray, any shape
    negative_slope : float, default 0.01
        Also the derivative at 0, as in PyTorch.

    Returns
    -------
    ndarray, the shape and dtype of `x`

    Examples
    --------
    >>> import numpy as np
    >>> from funcnn import nn
    >>> nn.leaky_relu(np.array([-2.0, 3.0]), negative_slope=0.1)
    array([-0.2,  3. ])
    """
    x = float_operand(x, "leaky_relu")
    return fnp.where(x > 0, x, float(negative_slope) * x)


def elu(x: Any, alpha: float = 1.0) -> Any:
    """Exponential linear unit: ``x`` for ``x > 0``, ``alpha * (exp(x) - 1)`` otherwise.

    Parameters
    ----------
    x : ndarray, any shape
    alpha : float, default 1.0

    Returns
    -------
    ndarray, the shape and dtype of `x`

    Examples
    --------
    >>> import numpy as np
    >>> from funcnn import nn
    >>> nn.elu(np.array([-1e4, 0.0, 2.0]))
    array([-1.,  0.,  2.])
    """
    x = float_operand(x, "elu")
    positive = x > 0
    negative_part = fnp.expm1(fnp.where(positive, 0.0, x))  # exp never sees a large argument
    return fnp.where(positive, x, float(alpha) * negative_part)


def selu(x: Any) -> Any:
    """Scaled ELU, ``scale * elu(x, alpha)`` with the self-normalising constants of
    Klambauer et al. (2017): ``alpha ~ 1.6733``, ``scale ~ 1.0507``.

    Parameters
    ----------
    x : ndarray, any shape

    Returns
    -------
    ndarray, the shape and dtype of `x`

    Examples
    --------
    >>> import numpy as np
    >>> from funcnn import nn
    >>> nn.selu(np.array([0.0, 1.0])).round(6)
    array([0.      , 1.050701])
    """
    return _SELU_SCALE * elu(float_operand(x, "selu"), _SELU_ALPHA)


def gelu(x: Any, approximate: bool = False) -> Any:
    """Gaussian error linear unit ``x * Phi(x)``, ``Phi`` the standard normal CDF.

    ``approximate=False`` (PyTorch's default) is exact: ``Phi`` is evaluated to float64
    precision, keeping its relative accuracy in the far negative tail. ``approximate=True``
    is the tanh form ``x/2 * (1 + tanh(sqrt(2/pi) * (x + 0.044715 x**3)))`` (the default of
    ``jax.nn.gelu``; PyTorch's ``approximate="tanh"``).

    Parameters
    ----------
    x : ndarray, any shape
    approximate : bool, default False

    Returns
    -------
    ndarray, the shape and dtype of `x`

    Examples
    --------
    >>> import numpy as np
    >>> from funcnn import nn
    >>> nn.gelu(np.array([-1.0, 0.0, 1.0])).round(6)
    array([-0.158655,  0.      ,  0.841345])
    >>> nn.gelu(np.array([1.0]), approximate=True).round(6)
    array([0.841192])
    """
    x = float_operand(x, "gelu")
    if approximate:
        inner = _SQRT_2_OVER_PI * (x + 0.044715 * (x * x * x))
        return 0.5 * x * (1.0 + fnp.tanh(inner))
    return x * ndtr(x)


def sigmoid(x: Any) -> Any:
    """The logistic function ``1 / (1 + exp(-x))``, stable at both tails.

    Parameters
    ----------
    x : ndarray, any shape

    Returns
    -------
    ndarray, the shape and dtype of `x`

    Examples
    --------
    >>> import numpy as np
    >>> from funcnn import nn
    >>> nn.sigmoid(np.array([-1e4, 0.0, 1e4]))
    array([0. , 0.5, 1. ])
    """
    return fnp.logistic(float_operand(x, "sigmoid"))


def tanh(x: Any) -> Any:
    """Hyperbolic tangent.

    Parameters
    ----------
    x : ndarray, any shape

    Returns
    -------
    ndarray, the shape and dtype of `x`

    Examples
    --------
    >>> import numpy as np
    >>> from funcnn import nn
    >>> nn.tanh(np.array([0.0, 1e4]))
    array([0., 1.])
    """
    return fnp.tanh(float_operand(x, "tanh"))


def softplus(x: Any) -> Any:
    """``log(1 + exp(x))``, computed as ``max(x, 0) + log1p(exp(-|x|))`` without overflow.

    Parameters
    ----------
    x : ndarray, any shape

    Returns
    -------
    ndarray, the shape and dtype of `x`

    Examples
    --------
    >>> import numpy as np
    >>> from funcnn import nn
    >>> nn.softplus(np.array([-1e4, 0.0, 3.0])).round(6)
    array([0.      , 0.693147, 3.048587])
    """
    x = float_operand(x, "softplus")
    positive = x > 0
    # -|x| written as a choice of two analytic branches, so that derivatives at 0 are exact.
    minus_abs = fnp.where(positive, -x, x)
    return fnp.where(positive, x, 0.0) + fnp.log1p(fnp.exp(minus_abs))


def log_sigmoid(x: Any) -> Any:
    """``log(sigmoid(x)) = -softplus(-x)``, finite for any input.

    Parameters
    ----------
    x : ndarray, any shape

    Returns
    -------
    ndarray, the shape and dtype of `x`

    Examples
    --------
    >>> import numpy as np
    >>> from funcnn import nn
    >>> nn.log_sigmoid(np.array([-50.0, 0.0])).round(6)
    array([-50.      ,  -0.693147])
    """
    return -softplus(-float_operand(x, "log_sigmoid"))


def silu(x: Any) -> Any:
    """Sigmoid linear unit ``x * sigmoid(x)`` (also called swish).

    Parameters
    ----------
    x : ndarray, any shape

    Returns
    -------
    ndarray, the shape and dtype of `x`

    Examples
    --------
    >>> import numpy as np
    >>> from funcnn import nn
    >>> nn.silu(np.array([-1e4, 0.0, 1.0])).round(6)
    array([-0.      ,  0.      ,  0.731059])
    """
    x = float_operand(x, "silu")
    return x * fnp.logistic(x)


swish = silu


def hard_tanh(x: Any, min_val: float = -1.0, max_val: float = 1.0) -> Any:
    """``x`` clipped to ``[min_val, max_val]``; the derivative is 0 at the bounds (as in PyTorch).

    Parameters
    ----------
    x : ndarray, any shape
    min_val, max_val : float, default -1.0 and 1.0

    Returns
    -------
    ndarray, the shape and dtype of `x`

    Examples
    --------
    >>> import numpy as np
    >>> from funcnn import nn
    >>> nn.hard_tanh(np.array([-3.0, 0.5, 3.0]))
    array([-1. ,  0.5,  1. ])
    """
    x = float_operand(x, "hard_tanh")
    lo, hi = float(min_val), float(max_val)
    if not lo < hi:
        raise ValueError(f"hard_tanh: min_val must be below max_val; got {lo} and {hi}")
    return fnp.where(x <= lo, lo, fnp.where(x >= hi, hi, x))


def _stable_shift(x: Any, axis: int) -> Any:
    """The maximum along ``axis``, as a constant. A slice whose maximum is not finite then gives
    NaN throughout (inf - inf), as in PyTorch and as ``log_softmax`` does."""
    return fnp.stop_gradient(fnp.max(x, axis=axis, keepdims=True))


def softmax(x: Any, axis: int = -1) -> Any:
    """``exp(x) / sum(exp(x))`` along `axis`, computed after subtracting the maximum.

    Parameters
    ----------
    x : ndarray, at least one dimension
    axis : int, default -1

    Returns
    -------
    ndarray, the shape and dtype of `x`; entries along `axis` sum to 1

    Examples
    --------
    >>> import numpy as np
    >>> from funcnn import nn
    >>> nn.softmax(np.array([1e4, 1e4, -1e4], dtype=np.float32))
    array([0.5, 0.5, 0. ], dtype=float32)
    """
    x = float_operand(x, "softmax")
    if fnp.size(x) == 0:  # nothing to normalise (and no maximum to shift by): empty, as in PyTorch
        return x
    unnormalized = fnp.exp(x - _stable_shift(x, axis))
    return unnormalized / fnp.sum(unnormalized, axis=axis, keepdims=True)


def log_softmax(x: Any, axis: int = -1) -> Any:
    """``x - logsumexp(x)`` along `axis`: log-probabilities, finite for large logits.

    Computed as ``s - log1p(rest)`` with ``s = x - max(x)`` (exact) and ``rest`` the sum of
    ``exp(s)`` over all but the first maximum, so every entry keeps its relative precision at
    any logit magnitude (``log_softmax(full(4, 1e8))`` is ``-log(4)`` in float32). float16 is
    computed in float32 after the shift; a slice with a non-finite maximum gives nan.

    Parameters
    ----------
    x : ndarray, at least one dimension
    axis : int, default -1

    Returns
    -------
    ndarray, the shape and dtype of `x`

    Examples
    --------
    >>> import numpy as np
    >>> from funcnn import nn
    >>> nn.log_softmax(np.array([1e4, 0.0], dtype=np.float32))
    array([     0., -10000.], dtype=float32)
    >>> nn.log_softmax(np.full(4, 1e8, dtype=np.float32))
    array([-1.3862944, -1.3862944, -1.3862944, -1.3862944], dtype=float32)
    """
    x = float_operand(x, "log_softmax")
    if fnp.size(x) == 0:  # nothing to normalise (and no maximum to shift by): empty, as in PyTorch
        return x
    # x - logsumexp(x) would round away the small term at large logits (1e8 in float32 gives 0,
    # not -log(n)): the difference is formed while the values are still small, after the shift.
    # The shift is exact; float16 continues in float32. A slice whose maximum is not finite
    # gives nan throughout, as in PyTorch and JAX.
    shifted = widened(x - fnp.stop_gradient(fnp.max(x, axis=axis, keepdims=True)))
    return narrowed(shifted - _log_sum_exp_shifted(shifted, axis), x)


def _log_sum_exp_shifted(shifted: Any, axis: int) -> Any:
    """``log(sum(exp(shifted)))`` along ``axis`` (kept), where each slice's maximum is 0.

    The maximum's term ``exp(0) = 1`` is taken out and the rest summed into ``log1p``, so
    that the winning class's log-probability, ``-log1p(rest)``, keeps full relative accuracy
    when ``rest`` is tiny (``log(1 + rest)`` would round it to 0). Subtracting the one-hot
    mask of the first maximum removes that 1 exactly and keeps the term's derivative.
    """
    ndim = ndim_of(shifted)
    size = shape_of(shifted)[axis] if ndim else 1
    positions = np.arange(size).reshape([size if i == axis % ndim else 1 for i in range(ndim)])
    first = fnp.equal(fnp.argmax(shifted, axis=axis, keepdims=True), positions)
    return fnp.log1p(fnp.sum(fnp.exp(shifted) - first, axis=axis, keepdims=True))


def logsumexp(x: Any, axis: Any = None, keepdims: bool = False) -> Any:
    """``log(sum(exp(x)))`` over `axis` (all axes when None), without overflow.

    Parameters
    ----------
    x : ndarray, any shape
    axis : int, tuple of int or None, default None
    keepdims : bool, default False

    Returns
    -------
    ndarray
        `x`'s shape without the reduced axes (kept with size 1 when `keepdims`).

    Examples
    --------
    >>> import numpy as np
    >>> from funcnn import nn
    >>> float(nn.logsumexp(np.array([1e4, 1e4])))  # doctest: +ELLIPSIS
    10000.693...
    """
    return fnp.logsumexp(float_operand(x, "logsumexp"), axis=axis, keepdims=keepdims)


def one_hot(labels: Any, num_classes: int, dtype: Any = np.float32) -> Any:
    """Integer class labels as one-hot vectors along a new last axis.

    Parameters
    ----------
    labels : ndarray of int, any shape
        Values in ``[0, num_classes)``.
    num_classes : int
    dtype : dtype, default float32

    Returns
    -------
    ndarray of `dtype`, shape ``labels.shape + (num_classes,)``

    Examples
    --------
    >>> import numpy as np
    >>> from funcnn import nn
    >>> nn.one_hot(np.array([2, 0]), 3)
    array([[0., 0., 1.],
           [1., 0., 0.]], dtype=float32)
    """
    labels = fnp.asarray(labels)
    if dtype_of(labels).kind not in "iu":
        raise ValueError(f"one_hot: labels must be integers; got dtype {dtype_of(labels)}")
    if isinstance(num_classes, (bool, np.bool_)) or not isinstance(num_classes, (int, np.integer)):
        raise TypeError(f"one_hot: num_classes must be an integer; got {num_classes!r}")
    if num_classes < 1:
        raise ValueError(f"one_hot: num_classes must be at least 1; got {num_classes}")
    num_classes = int(num_classes)
    labels = check_values(labels, "indices", f"one_hot: labels must lie in [0, {num_classes})",
                          f" (labels shape {fnp.shape(labels)})", hi=num_classes)
    return fnp.astype(fnp.equal(labels[..., None], np.arange(num_classes)), dtype)
