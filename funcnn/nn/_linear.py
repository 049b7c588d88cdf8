"""Layers without a family of their own: ``Dense``, ``Embedding``, ``Flatten``, ``Identity``."""
from __future__ import annotations

import math
from typing import Any

import numpy as np
from numpy.typing import DTypeLike

from funcnn import random
from funcnn.nn import initializers
from funcnn.nn._functional import dense_impl, embedding_impl, flatten_impl
from funcnn.nn._layer import (
    Config, ConfigurableLayer, Context, Layer, as_shape, configurable, describe, entry, layer_constructor,
    positive_int,
)

__all__ = ["Dense", "Embedding", "Flatten", "Identity"]


@layer_constructor
def Dense(out_features: int, use_bias: bool = True, w_init: initializers.Initializer | None = None,
          b_init: initializers.Initializer | None = None, dtype: DTypeLike = np.float32) -> Layer:
    """A fully connected layer, ``y = x @ w + b``.

    Parameters
    ----------
    out_features : int
    use_bias : bool, default True
    w_init : initializer, default ``lecun_normal()``
        For ``w`` of shape ``(in_features, out_features)``. LeCun normal is the default
        of JAX's Flax; for PyTorch's default use ``variance_scaling(1/3, "fan_in", "uniform")``.
    b_init : initializer, default ``zeros``
    dtype : floating dtype, default float32
        The dtype of the parameters.

    Notes
    -----
    x : shape (..., in_features) -> y : shape (..., out_features)

    Params: ``{"w": (in_features, out_features), "b": (out_features,)}``.

    Examples
    --------
    >>> import numpy as np
    >>> from funcnn import nn, random
    >>> layer = nn.Dense(3)
    >>> out_shape, params = layer.init(random.key(0), (-1, 5))
    >>> out_shape, params["w"].shape, params["b"].shape
    ((-1, 3), (5, 3), (3,))
    >>> layer.apply(params, np.ones((2, 5), np.float32)).shape
    (2, 3)
    """
    out_features = positive_int(out_features, "Dense", "out_features")
    w_init = initializers.lecun_normal() if w_init is None else w_init
    b_init = initializers.zeros if b_init is None else b_init

    def init_fn(key: Any, input_shape: Any, path: tuple[str, ...]) -> tuple[Any, Any, Any]:
        who = describe("Dense", path)
        shape = as_shape(input_shape, who)
        if not shape or shape[-1] < 1:
            raise ValueError(f"{who}: input_shape must be (..., in_features) with a known number of "
                             f"features; got {shape}")
        k_w, k_b = random.split(key)
        params = {"w": w_init(k_w, (shape[-1], out_features), dtype)}
        if use_bias:
            params["b"] = b_init(k_b, (out_features,), dtype)
        return shape[:-1] + (out_features,), params, {}

    def apply_fn(params: Any, state: Any, x: Any, ctx: Context) -> tuple[Any, Any]:
        w = entry(params, "w", ctx.path)
        b = entry(params, "b", ctx.path) if use_bias else None
        return dense_impl(x, w, b, describe("Dense", ctx.path)), state

    return Layer("dense", init_fn, apply_fn)


@layer_constructor
def Embedding(num_embeddings: int, features: int, w_init: initializers.Initializer | None = None,
              dtype: DTypeLike = np.float32) -> Layer:
    """A lookup table of `num_embeddings` vectors of size `features`.

    Parameters
    ----------
    num_embeddings : int
    features : int
    w_init : initializer, default ``normal(1.0)``
        PyTorch's default (``N(0, 1)``).
    dtype : floating dtype, default float32

    Notes
    -----
    ids : int array, any shape, values in ``[0, num_embeddings)``
    -> y : shape ``ids.shape + (features,)``

    Params: ``{"embeddings": (num_embeddings, features)}``.

    Examples
    --------
    >>> import numpy as np
    >>> from funcnn import nn, random
    >>> layer = nn.Embedding(100, 8)
    >>> out_shape, params = layer.init(random.key(0), (-1, 12))
    >>> out_shape, params["embeddings"].shape
    ((-1, 12, 8), (100, 8))
    >>> layer.apply(params, np.zeros((2, 12), np.int64)).shape
    (2, 12, 8)
    """
    num_embeddings = positive_int(num_embeddings, "Embedding", "num_embeddings")
    features = positive_int(features, "Embedding", "features")
    w_init = initializers.normal(1.0) if w_init is None else w_init

    def init_fn(key: Any, input_shape: Any, path: tuple[str, ...]) -> tuple[Any, Any, Any]:
        shape = as_shape(input_shape, describe("Embedding", path))
        return shape + (features,), {"embeddings": w_init(key, (num_embeddings, features), dtype)}, {}

    def apply_fn(params: Any, state: Any, x: Any, ctx: Context) -> tuple[Any, Any]:
        table = entry(params, "embeddings", ctx.path)
        return embedding_impl(x, table, describe("Embedding", ctx.path)), state

    return Layer("embedding", init_fn, apply_fn)


def _flatten() -> Layer:
    def init_fn(key: Any, input_shape: Any, path: tuple[str, ...]) -> tuple[Any, Any, Any]:
        who = describe("Flatten", path)
        shape = as_shape(input_shape, who)
        if not shape or any(d < 0 for d in shape[1:]):
            raise ValueError(f"{who}: input_shape must be (batch, *rest) with every axis but the batch "
                             f"known; got {shape}")
        return (shape[0], math.prod(shape[1:])), {}, {}

    def apply_fn(params: Any, state: Any, x: Any, ctx: Context) -> tuple[Any, Any]:
        return flatten_impl(x, describe("Flatten", ctx.path)), state

    return Layer("flatten", init_fn, apply_fn, Config("Flatten"))


Flatten: ConfigurableLayer = configurable(_flatten)
"""Merge all axes but the batch axis: ``(batch, *rest) -> (batch, prod(rest))``.
``Flatten`` and ``Flatten()`` are the same layer; it has no params."""


def _identity() -> Layer:
    def init_fn(key: Any, input_shape: Any, path: tuple[str, ...]) -> tuple[Any, Any, Any]:
        return input_shape, {}, {}

    def apply_fn(params: Any, state: Any, x: Any, ctx: Context) -> tuple[Any, Any]:
        return x, state

    return Layer("identity", init_fn, apply_fn, Config("Identity"))


Identity: ConfigurableLayer = configurable(_identity)
"""The layer that returns its input (``Identity`` and ``Identity()`` are the same)."""
