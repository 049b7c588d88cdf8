"""Functional forms of the layers: plain functions of arrays, for models written as functions
of a params dict (``nn.dense(x, params["w"], params["b"])``).

Each public function checks its arguments and names them in its errors; the layers call the
same private implementations with a description of themselves (``who``) so that their errors
name the layer and its key in the params instead.
"""
from __future__ import annotations

import math
from typing import Any

import numpy as np

import funcnn.numpy as fnp
from funcnn import random
from funcnn.extend import dtype_of, shape_of
from funcnn.nn._checks import check_values
from funcnn.nn._layer import positive_int

__all__ = ["batch_norm", "dense", "dropout", "embedding", "flatten", "group_norm", "layer_norm", "rms_norm"]


def _check_vector(value: Any, name: str, size: int, who: str, why: str) -> None:
    if value is not None and tuple(shape_of(value)) != (size,):
        raise ValueError(f"{who}: {name} must have shape ({size},) {why}; got shape {shape_of(value)}")


def _axis(axis: int, ndim: int, who: str, what: str = "axis") -> int:
    if not -ndim <= axis < ndim:
        raise ValueError(f"{who}: {what} {axis} is out of range for an input of {ndim} dimensions")
    return axis % ndim


# --- dense -------------------------------------------------------------------------------


def dense_impl(x: Any, w: Any, b: Any, who: str) -> Any:
    xs, ws = tuple(shape_of(x)), tuple(shape_of(w))
    if len(ws) != 2:
        raise ValueError(f"{who}: w must have shape (in_features, out_features); got shape {ws}")
    if not xs:
        raise ValueError(f"{who}: the input x must have shape (..., {ws[0]}); got a scalar")
    if xs[-1] != ws[0]:
        hint = "; flatten feature maps first (Flatten())" if len(xs) > 2 else ""
        raise ValueError(f"{who}: the input x has shape {xs}, whose last axis has {xs[-1]} features, "
                         f"but w has shape {ws}, so x must have shape (..., {ws[0]}){hint}")
    y = fnp.matmul(x, w)
    if b is not None:
        _check_vector(b, "b", ws[1], who, f"to match w of shape {ws}")
        y = y + b
    return y


def dense(x: Any, w: Any, b: Any = None) -> Any:
    """The affine map ``x @ w + b``.

    Parameters
    ----------
    x : ndarray, shape (..., in_features)
    w : ndarray, shape (in_features, out_features)
    b : ndarray, shape (out_features,), optional

    Returns
    -------
    ndarray, shape (..., out_features)

    Examples
    --------
    >>> import numpy as np
    >>> from funcnn import nn
    >>> nn.dense(np.ones((2, 3)), np.ones((3, 4)), np.arange(4.0))
    array([[3., 4., 5., 6.],
           [3., 4., 5., 6.]])
    """
    return dense_impl(x, w, b, "dense")


# --- dropout -----------------------------------------------------------------------------


def check_rate(rate: Any, who: str) -> float:
    if isinstance(rate, (bool, np.bool_)) or not isinstance(rate, (int, float, np.integer, np.floating)):
        raise TypeError(f"{who}: rate must be a number in [0, 1]; got {rate!r}")
    if not 0.0 <= float(rate) <= 1.0:
        raise ValueError(f"{who}: rate is the probability of dropping a unit and must lie in [0, 1]; "
                         f"got {rate!r}")
    return float(rate)


def dropout_impl(x: Any, rate: float, key: Any, train: bool, who: str) -> Any:
    if not train or rate == 0.0:
        return x
    if key is None:
        raise ValueError(f"{who}: in training mode dropout needs a PRNG key; pass key=... "
                         "(e.g. apply(params, x, key=key, train=True)), or train=False to evaluate")
    if rate == 1.0:
        return x * 0.0
    keep = 1.0 - rate
    mask = random.bernoulli(key, keep, tuple(shape_of(x)))
    return fnp.where(mask, x / keep, 0.0)


def dropout(x: Any, rate: float, *, key: Any = None, train: bool = True) -> Any:
    """Inverted dropout: zero each entry with probability `rate`, scale the others by
    ``1 / (1 - rate)``, so that the expected value is unchanged.

    Parameters
    ----------
    x : ndarray, any shape
    rate : float in [0, 1]
        The probability of dropping an entry.
    key : PRNG key
        Required when `train` is True and ``rate > 0``.
    train : bool, default True
        False returns `x` unchanged (evaluation).

    Returns
    -------
    ndarray, the shape and dtype of `x`

    Examples
    --------
    >>> import numpy as np
    >>> from funcnn import nn, random
    >>> y = nn.dropout(np.ones(10_000, np.float32), 0.25, key=random.key(0))
    >>> sorted(set(y.tolist())), bool(abs(y.mean() - 1.0) < 0.05)
    ([0.0, 1.3333333730697632], True)
    >>> nn.dropout(np.ones(3), 0.5, train=False)
    array([1., 1., 1.])
    """
    return dropout_impl(x, check_rate(rate, "dropout"), key, train, "dropout")


# --- batch norm --------------------------------------------------------------------------


def batch_norm_impl(x: Any, mean: Any, var: Any, scale: Any, bias: Any, train: bool,
                    momentum: float, eps: float, axis: int, who: str) -> tuple[Any, Any, Any]:
    xs = tuple(shape_of(x))
    if len(xs) < 2:
        raise ValueError(f"{who}: the input x must have shape (batch, channels, *spatial); got shape {xs}")
    axis = _axis(axis, len(xs), who)
    channels = xs[axis]
    why = f"(one entry per channel: x has shape {xs} and the channel axis is {axis})"
    for name, value in (("mean", mean), ("var", var), ("scale", scale), ("bias", bias)):
        _check_vector(value, name, channels, who, why)
    reduce = tuple(i for i in range(len(xs)) if i != axis)
    along = tuple(channels if i == axis else 1 for i in range(len(xs)))
    if train:
        n = math.prod(xs[i] for i in reduce)
        if n < 2:
            raise ValueError(f"{who}: training mode needs more than one value per channel to compute "
                             f"batch statistics; x has shape {xs}")
        batch_mean = fnp.mean(x, axis=reduce, keepdims=True)
        batch_var = fnp.var(x, axis=reduce, keepdims=True)
        y = (x - batch_mean) / fnp.sqrt(batch_var + eps)
        if mean is not None:
            mean = _moving(mean, fnp.reshape(batch_mean, (channels,)), momentum)
        if var is not None:  # the running variance is unbiased, as in PyTorch
            var = _moving(var, fnp.reshape(batch_var, (channels,)) * (n / (n - 1)), momentum)
    else:
        if mean is None or var is None:
            raise ValueError(f"{who}: evaluation mode (train=False) normalises with the running "
                             "statistics, so mean and var (the layer's state) must be given")
        y = (x - fnp.reshape(mean, along)) / fnp.sqrt(fnp.reshape(var, along) + eps)
    if scale is not None:
        y = y * fnp.reshape(scale, along)
    if bias is not None:
        y = y + fnp.reshape(bias, along)
    return y, mean, var


def _moving(running: Any, batch: Any, momentum: float) -> Any:
    """``momentum * running + (1 - momentum) * batch``; no derivative, the dtype of `running`."""
    updated = momentum * fnp.stop_gradient(running) + (1.0 - momentum) * fnp.stop_gradient(batch)
    return fnp.astype(updated, dtype_of(running))


def batch_norm(x: Any, mean: Any = None, var: Any = None, scale: Any = None, bias: Any = None, *,
               train: bool = False, momentum: float = 0.9, eps: float = 1e-5,
               axis: int = 1) -> tuple[Any, Any, Any]:
    """Batch normalisation, returning the updated running statistics instead of mutating them.

    In training mode `x` is normalised with the mean and (biased) variance of the batch,
    per channel, and the running statistics move towards the batch's:
    ``mean <- momentum * mean + (1 - momentum) * batch_mean`` (and likewise ``var``, with
    the unbiased batch variance, as in PyTorch; ``momentum=0.9`` here is PyTorch's
    ``momentum=0.1``). In evaluation mode `x` is normalised with `mean` and `var`, which
    are returned unchanged. The running statistics carry no derivative.

    Parameters
    ----------
    x : ndarray, shape (batch, channels, *spatial)
    mean, var : ndarray, shape (channels,), optional in training mode
    scale, bias : ndarray, shape (channels,), optional
        The learned affine transform applied after normalising.
    train : bool, default False
    momentum : float, default 0.9
    eps : float, default 1e-5
        Added to the variance before the square root.
    axis : int, default 1
        The channel axis.

    Returns
    -------
    y : ndarray, the shape of `x`
    mean, var : ndarray, shape (channels,), or None if not given

    Examples
    --------
    >>> import numpy as np
    >>> from funcnn import nn
    >>> x = np.array([[1.0, 10.0], [3.0, 30.0]])
    >>> y, mean, var = nn.batch_norm(x, np.zeros(2), np.ones(2), train=True)
    >>> y.round(4)
    array([[-1., -1.],
           [ 1.,  1.]])
    >>> mean, var
    (array([0.2, 2. ]), array([ 1.1, 20.9]))
    """
    return batch_norm_impl(x, mean, var, scale, bias, train, momentum, eps, axis, "batch_norm")


# --- layer norm --------------------------------------------------------------------------


def normalized_axes(axis: Any, ndim: int, who: str) -> tuple[int, ...]:
    axes = (axis,) if isinstance(axis, (int, np.integer)) else tuple(axis)
    if not axes:
        raise ValueError(f"{who}: axis must name at least one axis")
    out = sorted({_axis(int(a), ndim, who) for a in axes})
    if len(out) != len(axes):
        raise ValueError(f"{who}: repeated axis in {axis!r}")
    return tuple(out)


def layer_norm_impl(x: Any, scale: Any, bias: Any, axis: Any, eps: float, who: str) -> Any:
    xs = tuple(shape_of(x))
    axes = normalized_axes(axis, len(xs), who)
    feature_shape = tuple(xs[a] for a in axes)
    along = tuple(xs[i] if i in axes else 1 for i in range(len(xs)))
    mean = fnp.mean(x, axis=axes, keepdims=True)
    var = fnp.var(x, axis=axes, keepdims=True)
    y = (x - mean) / fnp.sqrt(var + eps)
    for name, value in (("scale", scale), ("bias", bias)):
        if value is None:
            continue
        if tuple(shape_of(value)) != feature_shape:
            raise ValueError(f"{who}: {name} must have shape {feature_shape} (the normalised axes "
                             f"{axes} of x, whose shape is {xs}); got shape {shape_of(value)}")
        term = fnp.reshape(value, along)
        y = y * term if name == "scale" else y + term
    return y


def layer_norm(x: Any, scale: Any = None, bias: Any = None, *, axis: Any = -1,
               eps: float = 1e-5) -> Any:
    """Layer normalisation: each example normalised over `axis` to zero mean and unit
    (biased) variance, then scaled and shifted.

    Parameters
    ----------
    x : ndarray, any shape with the normalised axes
    scale, bias : ndarray, the shape of `x` along `axis`, optional
    axis : int or tuple of int, default -1
    eps : float, default 1e-5
        Added to the variance before the square root (PyTorch's default).

    Returns
    -------
    ndarray, the shape of `x`

    Examples
    --------
    >>> import numpy as np
    >>> from funcnn import nn
    >>> nn.layer_norm(np.array([[1.0, 3.0], [0.0, 10.0]]), eps=0.0)
    array([[-1.,  1.],
           [-1.,  1.]])
    """
    return layer_norm_impl(x, scale, bias, axis, eps, "layer_norm")


# --- group norm and RMS norm ------------------------------------------------------------


def _affine(y: Any, value: Any, name: str, shape: tuple, along: tuple, who: str, why: str) -> Any:
    """``y`` scaled (``name == "scale"``) or shifted by ``value`` of ``shape``, reshaped to ``along``."""
    if value is None:
        return y
    if tuple(shape_of(value)) != shape:
        raise ValueError(f"{who}: {name} must have shape {shape} ({why}); got shape {shape_of(value)}")
    term = fnp.reshape(value, along)
    return y * term if name == "scale" else y + term


def group_norm_impl(x: Any, num_groups: int, scale: Any, bias: Any, eps: float, who: str) -> Any:
    xs = tuple(shape_of(x))
    if len(xs) < 2:
        raise ValueError(f"{who}: x must have shape (batch, channels, ...); got shape {xs}")
    channels = xs[1]
    if channels % num_groups:
        raise ValueError(f"{who}: num_groups={num_groups} must divide the {channels} channels of x "
                         f"(shape {xs})")
    grouped = fnp.reshape(x, (xs[0], num_groups, channels // num_groups) + xs[2:])
    axes = tuple(range(2, len(xs) + 1))
    mean = fnp.mean(grouped, axis=axes, keepdims=True)
    var = fnp.var(grouped, axis=axes, keepdims=True)
    y = fnp.reshape((grouped - mean) / fnp.sqrt(var + eps), xs)
    along = (1, channels) + (1,) * (len(xs) - 2)
    why = f"one per channel of x, whose shape is {xs}"
    y = _affine(y, scale, "scale", (channels,), along, who, why)
    return _affine(y, bias, "bias", (channels,), along, who, why)


def group_norm(x: Any, num_groups: int, scale: Any = None, bias: Any = None, *, eps: float = 1e-5) -> Any:
    """Group normalisation (PyTorch's ``GroupNorm``): the channels of each example split into
    ``num_groups`` groups, each group normalised over its channels and every spatial position
    to zero mean and unit (biased) variance; then a per-channel scale and bias.

    ``num_groups=1`` normalises whole examples (LayerNorm over C, H, W); ``num_groups=C`` is
    instance normalisation. Unlike BatchNorm it does not depend on the batch.

    Parameters
    ----------
    x : ndarray, shape (batch, channels, ...)
    num_groups : int, dividing ``channels``
    scale, bias : ndarray, shape (channels,), optional
    eps : float, default 1e-5

    Examples
    --------
    >>> import numpy as np
    >>> from funcnn import nn
    >>> x = np.array([[[1.0, 3.0], [10.0, 30.0]]])       # 1 example, 2 channels, 2 positions
    >>> nn.group_norm(x, 2, eps=0.0)
    array([[[-1.,  1.],
            [-1.,  1.]]])
    """
    return group_norm_impl(x, positive_int(num_groups, "group_norm", "num_groups"), scale, bias, eps, "group_norm")


def rms_norm_impl(x: Any, scale: Any, axis: Any, eps: float | None, who: str) -> Any:
    xs = tuple(shape_of(x))
    axes = normalized_axes(axis, len(xs), who)
    if eps is None:  # PyTorch's default: the machine epsilon of x's dtype
        kind = dtype_of(x)
        eps = float(np.finfo(kind if kind.kind == "f" else np.float32).eps)
    y = x / fnp.sqrt(fnp.mean(fnp.square(x), axis=axes, keepdims=True) + eps)
    along = tuple(xs[i] if i in axes else 1 for i in range(len(xs)))
    features = tuple(xs[a] for a in axes)
    return _affine(y, scale, "scale", features, along, who, f"the normalised axes {axes} of x, whose shape is {xs}")


def rms_norm(x: Any, scale: Any = None, *, axis: Any = -1, eps: float | None = None) -> Any:
    """Root-mean-square normalisation (PyTorch's ``RMSNorm``): ``x / sqrt(mean(x**2) + eps)``
    over ``axis``, times ``scale``. No centring and no bias: cheaper than LayerNorm, and the
    norm used by many recent Transformers.

    Parameters
    ----------
    x : ndarray, any shape with the normalised axes
    scale : ndarray, the shape of `x` along `axis`, optional
    axis : int or tuple of int, default -1
    eps : float, optional
        Added to the mean square; by default the machine epsilon of x's dtype (PyTorch's default).

    Examples
    --------
    >>> import numpy as np
    >>> from funcnn import nn
    >>> nn.rms_norm(np.array([[3.0, 4.0]]), eps=0.0).round(6)   # the root mean square is sqrt(12.5)
    array([[0.848528, 1.131371]])
    """
    return rms_norm_impl(x, scale, axis, eps, "rms_norm")


# --- embedding ---------------------------------------------------------------------------


def embedding_impl(ids: Any, table: Any, who: str) -> Any:
    ts = tuple(shape_of(table))
    if len(ts) != 2:
        raise ValueError(f"{who}: the table must have shape (num_embeddings, features); got shape {ts}")
    ids = fnp.asarray(ids)
    if dtype_of(ids).kind not in "iu":
        raise ValueError(f"{who}: ids must be integers; got dtype {dtype_of(ids)} (shape {shape_of(ids)})")
    ids = check_values(ids, "indices", f"{who}: ids must lie in [0, {ts[0]}) for a table of shape {ts}",
                       f" (ids shape {shape_of(ids)})", hi=ts[0])
    return fnp.take(table, ids, axis=0)


def embedding(ids: Any, table: Any) -> Any:
    """Rows of `table` looked up by integer `ids`.

    Parameters
    ----------
    ids : ndarray of int, any shape
        Values in ``[0, num_embeddings)``.
    table : ndarray, shape (num_embeddings, features)

    Returns
    -------
    ndarray, shape ``ids.shape + (features,)``

    Examples
    --------
    >>> import numpy as np
    >>> from funcnn import nn
    >>> nn.embedding(np.array([[2, 0]]), np.arange(6.0).reshape(3, 2))
    array([[[4., 5.],
            [0., 1.]]])
    """
    return embedding_impl(ids, table, "embedding")


# --- flatten -----------------------------------------------------------------------------


def flatten_impl(x: Any, who: str) -> Any:
    xs = tuple(shape_of(x))
    if not xs:
        raise ValueError(f"{who}: the input x must have a batch axis; got a scalar")
    return fnp.reshape(x, (xs[0], math.prod(xs[1:])))


def flatten(x: Any) -> Any:
    """All axes but the first (the batch) merged into one, in C order.

    Parameters
    ----------
    x : ndarray, shape (batch, *rest)

    Returns
    -------
    ndarray, shape (batch, prod(rest))

    Examples
    --------
    >>> import numpy as np
    >>> from funcnn import nn
    >>> nn.flatten(np.zeros((8, 1, 28, 28))).shape
    (8, 784)
    """
    return flatten_impl(x, "flatten")
