"""The Transformer layers of PyTorch, as funcnn layers: ``TransformerEncoderLayer`` and
``TransformerDecoderLayer``, with the same structure, defaults and parameter names, so a
PyTorch model's weights copy across one to one (each weight matrix transposed)."""
from __future__ import annotations

import dataclasses
from collections.abc import Callable
from typing import Any

import numpy as np
from numpy.typing import DTypeLike

from funcnn import random
from funcnn.nn import initializers
from funcnn.nn._activations import gelu, relu
from funcnn.nn._attention import (
    AttentionConfig, AttentionLayer, check_sequence_shapes, init_attention_params, linear, mha_forward,
)
from funcnn.extend import shape_of
from funcnn.nn._functional import check_rate, dropout_impl, layer_norm_impl
from funcnn.nn._layer import Context, as_shape, describe, entry, layer_constructor, positive_int

__all__ = ["TransformerDecoderLayer", "TransformerEncoderLayer"]

_ACTIVATIONS: dict[str, Callable[[Any], Any]] = {"relu": relu, "gelu": gelu}


@dataclasses.dataclass(frozen=True)
class _Block:
    """What a Transformer layer was built with, and the pieces every layer shares."""

    kind: str
    d_model: int
    nhead: int
    dim_feedforward: int
    dropout: float
    activation: Callable[[Any], Any]
    eps: float
    norm_first: bool
    bias: bool
    causal: bool

    def attention(self, causal: bool = False) -> AttentionConfig:
        return AttentionConfig(self.d_model, self.nhead, self.dropout, self.bias, causal)

    def norm(self, params: Any, name: str, x: Any, ctx: Context) -> Any:
        path = ctx.path + (name,)
        p = entry(params, name, ctx.path)
        scale = entry(p, "scale", path)
        bias = entry(p, "bias", path) if self.bias else None
        return layer_norm_impl(x, scale, bias, -1, self.eps, describe("LayerNorm", path))

    def linear(self, params: Any, name: str, x: Any, ctx: Context) -> Any:
        path = ctx.path + (name,)
        p = entry(params, name, ctx.path)
        w = entry(p, "w", path)
        b = entry(p, "b", path) if self.bias else None
        n_in, n_out = (self.d_model, self.dim_feedforward) if name == "linear1" else (self.dim_feedforward,
                                                                                      self.d_model)
        for what, value, shape in (("w", w, (n_in, n_out)), ("b", b, (n_out,))):
            if value is not None and tuple(shape_of(value)) != shape:
                raise ValueError(f"{describe('Dense', path)}: {what} must have shape {shape} for d_model="
                                 f"{self.d_model} and dim_feedforward={self.dim_feedforward}; got shape "
                                 f"{tuple(shape_of(value))}")
        return linear(x, w, b)

    def drop(self, x: Any, ctx: Context, site: int) -> Any:
        key = None if ctx.key is None else random.fold_in(ctx.key, site)
        return dropout_impl(x, self.dropout, key, ctx.train, describe(self.kind, ctx.path))

    def feed_forward(self, params: Any, x: Any, ctx: Context, site: int) -> Any:
        """``dropout(linear2(dropout(activation(linear1(x)))))``, PyTorch's ``_ff_block``."""
        h = self.drop(self.activation(self.linear(params, "linear1", x, ctx)), ctx, site)
        return self.drop(self.linear(params, "linear2", h, ctx), ctx, site + 1)

    def sublayer(self, params: Any, x: Any, norm: str, body: Callable[[Any], Any], ctx: Context) -> Any:
        """A residual sublayer: ``x + body(norm(x))`` (pre-norm) or ``norm(x + body(x))`` (post-norm)."""
        if self.norm_first:
            return x + body(self.norm(params, norm, x, ctx))
        return self.norm(params, norm, x + body(x), ctx)

    def init_params(self, key: Any, attention: tuple[str, ...], norms: int, dtype: DTypeLike) -> dict[str, Any]:
        keys = iter(random.split(key, len(attention) + 2))
        params: dict[str, Any] = {}
        for name in attention:
            params[name] = init_attention_params(next(keys), self.attention(), initializers.glorot_uniform(),
                                                 initializers.lecun_normal(), dtype)
        for name, (n_in, n_out) in (("linear1", (self.d_model, self.dim_feedforward)),
                                    ("linear2", (self.dim_feedforward, self.d_model))):
            params[name] = {"w": initializers.lecun_normal()(next(keys), (n_in, n_out), dtype)}
            if self.bias:
                params[name]["b"] = np.zeros(n_out, dtype)
        for i in range(1, norms + 1):
            params[f"norm{i}"] = {"scale": np.ones(self.d_model, dtype)}
            if self.bias:
                params[f"norm{i}"]["bias"] = np.zeros(self.d_model, dtype)
        return params


def _block(kind: str, d_model: int, nhead: int, dim_feedforward: int, dropout: float, activation: Any,
           layer_norm_eps: float, norm_first: bool, bias: bool, causal: bool) -> _Block:
    d_model = positive_int(d_model, kind, "d_model")
    nhead = positive_int(nhead, kind, "nhead")
    if d_model % nhead:
        raise ValueError(f"{kind}: nhead={nhead} must divide d_model={d_model} (each head gets d_model // nhead "
                         f"features)")
    if isinstance(activation, str):
        if activation not in _ACTIVATIONS:
            raise ValueError(f"{kind}: activation must be 'relu', 'gelu' or a function; got {activation!r}")
        activation = _ACTIVATIONS[activation]
    elif not callable(activation):
        raise ValueError(f"{kind}: activation must be 'relu', 'gelu' or a function; got {activation!r}")
    if not layer_norm_eps > 0:
        raise ValueError(f"{kind}: layer_norm_eps must be positive; got {layer_norm_eps!r}")
    return _Block(kind, d_model, nhead, positive_int(dim_feedforward, kind, "dim_feedforward"),
                  check_rate(dropout, kind), activation, float(layer_norm_eps), bool(norm_first), bool(bias),
                  bool(causal))


@dataclasses.dataclass(frozen=True, eq=False, repr=False)
class TransformerEncoderLayerType(AttentionLayer):
    """The layer made by :func:`TransformerEncoderLayer`."""

    def apply(self, params: Any, x: Any, *, key: Any = None, train: bool = False, state: Any = None,
              src_mask: Any = None, src_key_padding_mask: Any = None, is_causal: bool = False) -> Any:
        """Run the layer on `x` of shape (..., seq, d_model).

        Parameters
        ----------
        params : dict
        x : ndarray, shape (..., seq, d_model)
            PyTorch's ``src``.
        key : PRNG key, optional
            For dropout in training mode.
        train : bool, default False
        state : optional
            When given, the result is ``(y, state)``.
        src_mask : ndarray, shape (seq, seq), optional
            The self-attention's ``attn_mask``: bool True where attention is not allowed, or
            float added to the scores (``nn.causal_mask(seq)``).
        src_key_padding_mask : ndarray, shape (..., seq), optional
            Bool True marks padding.
        is_causal : bool, default False
            Mask the positions after each query.

        Returns
        -------
        ndarray, the shape of `x`
        """
        options = {"src_mask": src_mask, "src_key_padding_mask": src_key_padding_mask, "is_causal": is_causal}
        return self.run(params, x, key, train, state, options)


@layer_constructor
def TransformerEncoderLayer(d_model: int, nhead: int, dim_feedforward: int = 2048, dropout: float = 0.1,
                            activation: Any = "relu", layer_norm_eps: float = 1e-5, norm_first: bool = False,
                            bias: bool = True, causal: bool = False,
                            dtype: DTypeLike = np.float32) -> TransformerEncoderLayerType:
    """PyTorch's ``TransformerEncoderLayer``: self-attention then a feed-forward block, each
    with dropout, a residual connection and LayerNorm.

    Post-norm (``norm_first=False``, the default, as in PyTorch and the original paper)::

        x = norm1(x + dropout1(self_attn(x)))
        x = norm2(x + dropout2(linear2(dropout(activation(linear1(x))))))

    Pre-norm (``norm_first=True``) normalises the input of each block instead:
    ``x = x + dropout1(self_attn(norm1(x)))`` and likewise for the feed-forward block.

    Parameters
    ----------
    d_model : int
        The width of the input and output.
    nhead : int
        The number of attention heads; must divide `d_model`.
    dim_feedforward : int, default 2048
    dropout : float, default 0.1
        On the attention weights, after each block and after the activation (training mode).
    activation : "relu", "gelu" or a function, default "relu"
        ``"gelu"`` is the exact GELU, as in PyTorch.
    layer_norm_eps : float, default 1e-5
    norm_first : bool, default False
    bias : bool, default True
        Biases in the linear layers and the LayerNorms.
    causal : bool, default False
        Always mask the positions after each query (as if ``is_causal=True`` were passed).
    dtype : floating dtype, default float32

    Notes
    -----
    x : shape (..., seq, d_model) -> y : the shape of x (PyTorch's ``batch_first=True``).

    Params (PyTorch's ``state_dict`` names; every ``w`` is the transpose of PyTorch's
    ``weight``): ``self_attn`` (``in_proj``, ``out_proj``, as in :func:`MultiHeadAttention`),
    ``linear1 {"w": (d_model, dim_feedforward), "b"}``, ``linear2 {"w": (dim_feedforward,
    d_model), "b"}``, ``norm1`` and ``norm2`` ``{"scale", "bias"}`` (PyTorch's ``weight``
    and ``bias``). Dropout sites draw from ``fold_in(key, i)``.

    Examples
    --------
    >>> import numpy as np
    >>> from funcnn import nn, random
    >>> layer = nn.TransformerEncoderLayer(16, 4, dim_feedforward=32)
    >>> out_shape, params = layer.init(random.key(0), (-1, 10, 16))
    >>> out_shape, sorted(params)
    ((-1, 10, 16), ['linear1', 'linear2', 'norm1', 'norm2', 'self_attn'])
    >>> x = np.ones((2, 10, 16), np.float32)
    >>> layer.apply(params, x, key=random.key(1), train=True, is_causal=True).shape
    (2, 10, 16)
    """
    kind = "TransformerEncoderLayer"
    block = _block(kind, d_model, nhead, dim_feedforward, dropout, activation, layer_norm_eps, norm_first,
                   bias, causal)

    def init_fn(key: Any, input_shape: Any, path: tuple[str, ...]) -> tuple[Any, Any, Any]:
        shape = as_shape(input_shape, describe(kind, path))
        check_sequence_shapes([shape], block.d_model, describe(kind, path))
        return shape, block.init_params(key, ("self_attn",), 2, dtype), {}

    def forward(params: Any, x: Any, ctx: Context, *, src_mask: Any = None, src_key_padding_mask: Any = None,
                is_causal: bool = False) -> Any:
        attn_ctx = ctx.child("self_attn", 0)

        def self_attention(h: Any) -> Any:
            out = mha_forward(entry(params, "self_attn", ctx.path), h, h, h, block.attention(block.causal),
                              attn_ctx, key_padding_mask=src_key_padding_mask, attn_mask=src_mask,
                              is_causal=is_causal)
            return block.drop(out, ctx, 1)

        x = block.sublayer(params, x, "norm1", self_attention, ctx)
        return block.sublayer(params, x, "norm2", lambda h: block.feed_forward(params, h, ctx, 2), ctx)

    def apply_fn(params: Any, state: Any, x: Any, ctx: Context) -> tuple[Any, Any]:
        return forward(params, x, ctx), state

    return TransformerEncoderLayerType("transformer_encoder_layer", init_fn, apply_fn, forward=forward)


@dataclasses.dataclass(frozen=True, eq=False, repr=False)
class TransformerDecoderLayerType(AttentionLayer):
    """The layer made by :func:`TransformerDecoderLayer`."""

    def apply(self, params: Any, x: Any, memory: Any = None, *, key: Any = None,
              train: bool = False, state: Any = None, tgt_mask: Any = None, memory_mask: Any = None,
              tgt_key_padding_mask: Any = None, memory_key_padding_mask: Any = None,
              tgt_is_causal: bool = False, memory_is_causal: bool = False) -> Any:
        """Run the layer on the target `x` (..., T, d_model), attending to `memory` (..., S, d_model).

        Parameters
        ----------
        params : dict
        x : ndarray, shape (..., T, d_model)
            PyTorch's ``tgt``; or a tuple ``(tgt, memory)``.
        memory : ndarray, shape (..., S, d_model)
            The encoder's output.
        key, train, state
            As for every layer.
        tgt_mask : ndarray, shape (T, T), optional
            The self-attention's ``attn_mask`` (bool True = not allowed, or float added).
        memory_mask : ndarray, shape (T, S), optional
            The cross-attention's ``attn_mask``.
        tgt_key_padding_mask : ndarray, shape (..., T), optional
        memory_key_padding_mask : ndarray, shape (..., S), optional
        tgt_is_causal, memory_is_causal : bool, default False
            Causal masks for the self- and the cross-attention.

        Returns
        -------
        ndarray, the shape of `x`
        """
        inputs = x if memory is None else (x, memory)
        options = {"tgt_mask": tgt_mask, "memory_mask": memory_mask, "tgt_key_padding_mask": tgt_key_padding_mask,
                   "memory_key_padding_mask": memory_key_padding_mask, "tgt_is_causal": tgt_is_causal,
                   "memory_is_causal": memory_is_causal}
        return self.run(params, inputs, key, train, state, options)


@layer_constructor
def TransformerDecoderLayer(d_model: int, nhead: int, dim_feedforward: int = 2048, dropout: float = 0.1,
                            activation: Any = "relu", layer_norm_eps: float = 1e-5, norm_first: bool = False,
                            bias: bool = True, causal: bool = False,
                            dtype: DTypeLike = np.float32) -> TransformerDecoderLayerType:
    """PyTorch's ``TransformerDecoderLayer``: self-attention, cross-attention to the memory
    (the encoder's output), then a feed-forward block, each with dropout, a residual
    connection and LayerNorm.

    Post-norm (the default)::

        x = norm1(x + dropout1(self_attn(x)))
        x = norm2(x + dropout2(multihead_attn(x, memory)))
        x = norm3(x + dropout3(linear2(dropout(activation(linear1(x))))))

    Pre-norm (``norm_first=True``) normalises each block's input instead.

    Parameters
    ----------
    d_model, nhead, dim_feedforward, dropout, activation, layer_norm_eps, norm_first, bias
        As for :func:`TransformerEncoderLayer` (PyTorch's defaults).
    causal : bool, default False
        Always mask the self-attention causally (as ``tgt_is_causal=True``).
    dtype : floating dtype, default float32

    Notes
    -----
    Input: a tuple ``(tgt, memory)`` of shapes (..., T, d_model) and (..., S, d_model), or
    ``apply(params, tgt, memory)``; output: the shape of tgt. ``init`` takes the tuple of
    the two shapes.

    Params as in :func:`TransformerEncoderLayer`, plus ``multihead_attn`` (the
    cross-attention) and ``norm3``.

    Examples
    --------
    >>> import numpy as np
    >>> from funcnn import nn, random
    >>> layer = nn.TransformerDecoderLayer(16, 4, dim_feedforward=32)
    >>> out_shape, params = layer.init(random.key(0), ((-1, 7, 16), (-1, 10, 16)))
    >>> out_shape, sorted(params)[:3]
    ((-1, 7, 16), ['linear1', 'linear2', 'multihead_attn'])
    >>> tgt, memory = np.ones((2, 7, 16), np.float32), np.ones((2, 10, 16), np.float32)
    >>> layer.apply(params, tgt, memory, tgt_is_causal=True).shape
    (2, 7, 16)
    """
    kind = "TransformerDecoderLayer"
    block = _block(kind, d_model, nhead, dim_feedforward, dropout, activation, layer_norm_eps, norm_first,
                   bias, causal)

    def init_fn(key: Any, input_shape: Any, path: tuple[str, ...]) -> tuple[Any, Any, Any]:
        who = describe(kind, path)
        if not (isinstance(input_shape, (tuple, list)) and len(input_shape) == 2
                and all(isinstance(s, (tuple, list)) for s in input_shape)):
            raise ValueError(f"{who}: input_shape must be a tuple of two shapes (tgt, memory); got {input_shape!r}")
        shapes = [as_shape(s, who) for s in input_shape]
        check_sequence_shapes(shapes, block.d_model, who)
        return shapes[0], block.init_params(key, ("self_attn", "multihead_attn"), 3, dtype), {}

    def forward(params: Any, inputs: Any, ctx: Context, *, tgt_mask: Any = None, memory_mask: Any = None,
                tgt_key_padding_mask: Any = None, memory_key_padding_mask: Any = None, tgt_is_causal: bool = False,
                memory_is_causal: bool = False) -> Any:
        if not (isinstance(inputs, (tuple, list)) and len(inputs) == 2):
            raise ValueError(f"{describe(kind, ctx.path)}: the input must be a tuple (tgt, memory), or pass "
                             "apply(params, tgt, memory)")
        x, memory = inputs

        def self_attention(h: Any) -> Any:
            out = mha_forward(entry(params, "self_attn", ctx.path), h, h, h, block.attention(block.causal),
                              ctx.child("self_attn", 0), key_padding_mask=tgt_key_padding_mask,
                              attn_mask=tgt_mask, is_causal=tgt_is_causal)
            return block.drop(out, ctx, 1)

        def cross_attention(h: Any) -> Any:
            out = mha_forward(entry(params, "multihead_attn", ctx.path), h, memory, memory, block.attention(),
                              ctx.child("multihead_attn", 2), key_padding_mask=memory_key_padding_mask,
                              attn_mask=memory_mask, is_causal=memory_is_causal)
            return block.drop(out, ctx, 3)

        x = block.sublayer(params, x, "norm1", self_attention, ctx)
        x = block.sublayer(params, x, "norm2", cross_attention, ctx)
        return block.sublayer(params, x, "norm3", lambda h: block.feed_forward(params, h, ctx, 4), ctx)

    def apply_fn(params: Any, state: Any, x: Any, ctx: Context) -> tuple[Any, Any]:
        return forward(params, x, ctx), state

    return TransformerDecoderLayerType("transformer_decoder_layer", init_fn, apply_fn, forward=forward)
