"""Normalisation layers: ``BatchNorm`` (running statistics threaded as explicit state),
``LayerNorm``, ``GroupNorm`` and ``RMSNorm``."""
from __future__ import annotations

from typing import Any

import numpy as np
from numpy.typing import DTypeLike

from funcnn import random
from funcnn.nn import initializers
from funcnn.nn._functional import (
    batch_norm_impl, group_norm_impl, layer_norm_impl, normalized_axes, rms_norm_impl,
)
from funcnn.nn._layer import Context, Layer, as_shape, describe, entry, layer_constructor, positive_int

__all__ = ["BatchNorm", "GroupNorm", "LayerNorm", "RMSNorm"]


def _check_eps(eps: float, who: str) -> None:
    if not eps > 0:
        raise ValueError(f"{who}: eps must be positive; got {eps!r}")


def _affine_params(key: Any, features: tuple[int, ...], dtype: DTypeLike, use_scale: bool, use_bias: bool,
                   scale_init: initializers.Initializer | None,
                   bias_init: initializers.Initializer | None) -> dict[str, Any]:
    """The learned ``scale`` (ones by default) and ``bias`` (zeros) a normalisation layer keeps."""
    k_scale, k_bias = random.split(key)
    params = {}
    if use_scale:
        params["scale"] = (initializers.ones if scale_init is None else scale_init)(k_scale, features, dtype)
    if use_bias:
        params["bias"] = (initializers.zeros if bias_init is None else bias_init)(k_bias, features, dtype)
    return params


def _affine(params: Any, path: tuple[str, ...], use_scale: bool, use_bias: bool) -> tuple[Any, Any]:
    """``(scale, bias)`` from a normalisation layer's params (None for those it does not learn)."""
    scale = entry(params, "scale", path) if use_scale else None
    bias = entry(params, "bias", path) if use_bias else None
    return scale, bias


def _normalized_features(axis: Any, shape: tuple[int, ...], who: str) -> tuple[int, ...]:
    """The sizes of ``shape`` along the normalised axes, which must be known."""
    axes = normalized_axes(axis, len(shape), who)
    features = tuple(shape[a] for a in axes)
    if any(d < 1 for d in features):
        raise ValueError(f"{who}: the normalised axes {axes} of input_shape {shape} must have known sizes")
    return features


@layer_constructor
def BatchNorm(momentum: float = 0.9, eps: float = 1e-5, axis: int = 1, use_scale: bool = True,
              use_bias: bool = True, scale_init: initializers.Initializer | None = None,
              bias_init: initializers.Initializer | None = None,
              dtype: DTypeLike = np.float32) -> Layer:
    """Batch normalisation over every axis but the channel axis.

    Training mode (``train=True``) normalises with the batch's mean and biased variance
    per channel; evaluation mode normalises with the running statistics, which live in the
    layer's *state*, not in its params:

    * ``init_with_state`` makes ``state = {"mean": zeros(C), "var": ones(C)}``;
    * ``apply(params, x, train=True, state=state)`` returns ``(y, new_state)`` with
      ``new = momentum * old + (1 - momentum) * batch`` (the variance unbiased, as in
      PyTorch; ``momentum=0.9`` is PyTorch's ``momentum=0.1``);
    * ``apply(params, x, state=state)`` (evaluation) returns ``(y, state)`` unchanged.

    In training mode `state` may be omitted (batch statistics only, nothing to update);
    evaluation mode needs it.

    Parameters
    ----------
    momentum : float in [0, 1), default 0.9
    eps : float, default 1e-5
        Added to the variance before the square root (PyTorch's default).
    axis : int, default 1
        The channel axis: 1 for ``(batch, channels)`` and NCHW feature maps.
    use_scale, use_bias : bool, default True
        Learn a per-channel scale (initialised to ones) and bias (zeros).
    scale_init, bias_init : initializer, default ``ones`` and ``zeros``
    dtype : floating dtype, default float32

    Notes
    -----
    x : shape (batch, channels, *spatial) -> y : the shape of x.
    Params ``{"scale": (C,), "bias": (C,)}``; state ``{"mean": (C,), "var": (C,)}``.

    Examples
    --------
    >>> import numpy as np
    >>> from funcnn import nn, random
    >>> bn = nn.BatchNorm()
    >>> _, params, state = bn.init_with_state(random.key(0), (-1, 3))
    >>> x = np.array([[0.0, 1.0, 2.0], [2.0, 3.0, 6.0]], np.float32)
    >>> y, state = bn.apply(params, x, train=True, state=state)
    >>> state["mean"]
    array([0.1, 0.2, 0.4], dtype=float32)
    >>> y, _ = bn.apply(params, x, state=state)  # evaluation: uses the running statistics
    """
    if not 0.0 <= momentum < 1.0:
        raise ValueError(f"BatchNorm: momentum must lie in [0, 1) (0.9 keeps 90% of the running "
                         f"statistics at each step); got {momentum!r}")
    _check_eps(eps, "BatchNorm")

    def init_fn(key: Any, input_shape: Any, path: tuple[str, ...]) -> tuple[Any, Any, Any]:
        who = describe("BatchNorm", path)
        shape = as_shape(input_shape, who)
        if len(shape) < 2 or not -len(shape) <= axis < len(shape) or shape[axis] < 1:
            raise ValueError(f"{who}: input_shape must be (batch, channels, *spatial) with a known "
                             f"number of channels on axis {axis}; got {shape}")
        channels = shape[axis]
        params = _affine_params(key, (channels,), dtype, use_scale, use_bias, scale_init, bias_init)
        state = {"mean": np.zeros(channels, dtype), "var": np.ones(channels, dtype)}
        return shape, params, state

    def apply_fn(params: Any, state: Any, x: Any, ctx: Context) -> tuple[Any, Any]:
        who = describe("BatchNorm", ctx.path)
        if state is None and not ctx.train:
            raise ValueError(f"{who}: evaluation mode (train=False) normalises with the running "
                             "statistics, so it needs the layer's state: apply(params, x, state=state) "
                             "with state from init_with_state (or from the last training step)")
        mean = None if state is None else entry(state, "mean", ctx.path, "state")
        var = None if state is None else entry(state, "var", ctx.path, "state")
        scale, bias = _affine(params, ctx.path, use_scale, use_bias)
        y, mean, var = batch_norm_impl(x, mean, var, scale, bias, ctx.train, momentum, eps, axis, who)
        return y, (None if state is None else {"mean": mean, "var": var})

    return Layer("batch_norm", init_fn, apply_fn)


@layer_constructor
def LayerNorm(axis: Any = -1, eps: float = 1e-5, use_scale: bool = True, use_bias: bool = True,
              scale_init: initializers.Initializer | None = None,
              bias_init: initializers.Initializer | None = None,
              dtype: DTypeLike = np.float32) -> Layer:
    """Layer normalisation: each example normalised over `axis` (by default the features),
    with a learned scale and bias over those axes. No state; the same in both modes.

    Parameters
    ----------
    axis : int or tuple of int, default -1
        The normalised axes (e.g. ``(-3, -2, -1)`` for whole CHW feature maps).
    eps : float, default 1e-5
    use_scale, use_bias : bool, default True
    scale_init, bias_init : initializer, default ``ones`` and ``zeros``
    dtype : floating dtype, default float32

    Notes
    -----
    x : any shape -> y : the shape of x.
    Params ``{"scale": S, "bias": S}``, ``S`` the shape of x along `axis`.

    Examples
    --------
    >>> import numpy as np
    >>> from funcnn import nn, random
    >>> ln = nn.LayerNorm()
    >>> _, params = ln.init(random.key(0), (-1, 4))
    >>> params["scale"].shape
    (4,)
    >>> y = ln.apply(params, np.arange(8.0).reshape(2, 4))
    >>> np.allclose(y.mean(axis=-1), 0.0)
    True
    """
    _check_eps(eps, "LayerNorm")

    def init_fn(key: Any, input_shape: Any, path: tuple[str, ...]) -> tuple[Any, Any, Any]:
        who = describe("LayerNorm", path)
        shape = as_shape(input_shape, who)
        features = _normalized_features(axis, shape, who)
        return shape, _affine_params(key, features, dtype, use_scale, use_bias, scale_init, bias_init), {}

    def apply_fn(params: Any, state: Any, x: Any, ctx: Context) -> tuple[Any, Any]:
        who = describe("LayerNorm", ctx.path)
        scale, bias = _affine(params, ctx.path, use_scale, use_bias)
        return layer_norm_impl(x, scale, bias, axis, eps, who), state

    return Layer("layer_norm", init_fn, apply_fn)


@layer_constructor
def GroupNorm(num_groups: int, eps: float = 1e-5, use_scale: bool = True, use_bias: bool = True,
              scale_init: initializers.Initializer | None = None,
              bias_init: initializers.Initializer | None = None,
              dtype: DTypeLike = np.float32) -> Layer:
    """Group normalisation (PyTorch's ``GroupNorm``): each example's channels in ``num_groups``
    groups, each normalised over its channels and positions; a learned scale and bias per
    channel. No state, the same in both modes (see :func:`funcnn.nn.group_norm`).

    Notes
    -----
    x : shape (batch, channels, ...) -> y : the shape of x.
    Params ``{"scale": (channels,), "bias": (channels,)}``: PyTorch's ``weight`` and ``bias``.

    Examples
    --------
    >>> import numpy as np
    >>> from funcnn import nn, random
    >>> gn = nn.GroupNorm(2)
    >>> _, params = gn.init(random.key(0), (-1, 4, 8, 8))
    >>> params["scale"].shape
    (4,)
    >>> gn.apply(params, np.ones((2, 4, 8, 8), np.float32)).shape
    (2, 4, 8, 8)
    """
    num_groups = positive_int(num_groups, "GroupNorm", "num_groups")
    _check_eps(eps, "GroupNorm")

    def init_fn(key: Any, input_shape: Any, path: tuple[str, ...]) -> tuple[Any, Any, Any]:
        who = describe("GroupNorm", path)
        shape = as_shape(input_shape, who)
        if len(shape) < 2 or shape[1] < 1 or shape[1] % num_groups:
            raise ValueError(f"{who}: input_shape must be (batch, channels, ...) with a known number of "
                             f"channels that num_groups={num_groups} divides; got {shape}")
        return shape, _affine_params(key, (shape[1],), dtype, use_scale, use_bias, scale_init, bias_init), {}

    def apply_fn(params: Any, state: Any, x: Any, ctx: Context) -> tuple[Any, Any]:
        who = describe("GroupNorm", ctx.path)
        scale, bias = _affine(params, ctx.path, use_scale, use_bias)
        return group_norm_impl(x, num_groups, scale, bias, eps, who), state

    return Layer("group_norm", init_fn, apply_fn)


@layer_constructor
def RMSNorm(axis: Any = -1, eps: float | None = None, use_scale: bool = True,
            scale_init: initializers.Initializer | None = None, dtype: DTypeLike = np.float32) -> Layer:
    """Root-mean-square normalisation (PyTorch's ``RMSNorm``) over `axis`, with a learned scale
    (see :func:`funcnn.nn.rms_norm`); ``eps`` defaults to the machine epsilon of the input's dtype.

    Notes
    -----
    x : any shape -> y : the shape of x.
    Params ``{"scale": S}``, ``S`` the shape of x along `axis` (PyTorch's ``weight``).

    Examples
    --------
    >>> import numpy as np
    >>> from funcnn import nn, random
    >>> rms = nn.RMSNorm()
    >>> _, params = rms.init(random.key(0), (-1, 4))
    >>> y = rms.apply(params, np.arange(8.0).reshape(2, 4))
    >>> np.allclose((y ** 2).mean(axis=-1), 1.0)
    True
    """
    if eps is not None:
        _check_eps(eps, "RMSNorm")

    def init_fn(key: Any, input_shape: Any, path: tuple[str, ...]) -> tuple[Any, Any, Any]:
        who = describe("RMSNorm", path)
        shape = as_shape(input_shape, who)
        features = _normalized_features(axis, shape, who)
        return shape, _affine_params(key, features, dtype, use_scale, False, scale_init, None), {}

    def apply_fn(params: Any, state: Any, x: Any, ctx: Context) -> tuple[Any, Any]:
        scale, _ = _affine(params, ctx.path, use_scale, False)
        return rms_norm_impl(x, scale, axis, eps, describe("RMSNorm", ctx.path)), state

    return Layer("rms_norm", init_fn, apply_fn)
