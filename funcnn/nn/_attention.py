"""Attention: scaled dot-product attention as a function, multi-head attention as a layer
with PyTorch's weights and mask semantics, positional encodings and the causal mask.

Shapes inside this module keep the heads in front of the sequence, ``(..., heads, seq,
head_dim)``, so that every product is one batched ``matmul`` (no loop over heads or over
the batch); the public functions and layers take PyTorch's and JAX's layouts and move the
axes once.

Masks are operands like any other array: they may be traced, and nothing here reads their
values. A masked score becomes ``-inf`` before the softmax, and the softmax divides by a
sum that is replaced by one when it is zero, so a query that may attend to nothing gets
zero weights (and finite derivatives) rather than ``0 / 0``.
"""
from __future__ import annotations

import dataclasses
import math
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np
from numpy.typing import DTypeLike

import funcnn.numpy as fnp
from funcnn import random
from funcnn.extend import dtype_of, shape_of
from funcnn.nn import initializers
from funcnn.nn._functional import check_rate, dropout_impl
from funcnn.nn._layer import Context, Layer, as_shape, describe, entry, layer_constructor, positive_int

__all__ = [
    "MultiHeadAttention", "PositionalEmbedding", "causal_mask", "dot_product_attention",
    "sinusoidal_positional_encoding",
]

Shape = tuple[int, ...]


# --- the core: scores, masks, a softmax that tolerates empty rows ------------------------


def _softmax_or_zeros(scores: Any) -> Any:
    """Softmax over the last axis; a row whose scores are all ``-inf`` gives zeros.

    The maximum is subtracted first (a constant, so no derivative flows through it, and 0
    when the row has no finite score); the sum of such a row is 0 and is divided as 1.
    """
    shift = fnp.stop_gradient(fnp.max(scores, axis=-1, keepdims=True))
    shift = fnp.where(fnp.isfinite(shift), shift, 0.0)
    unnormalized = fnp.exp(scores - shift)
    total = fnp.sum(unnormalized, axis=-1, keepdims=True)
    return unnormalized / fnp.where(total > 0.0, total, 1.0)


def attend(q: Any, k: Any, v: Any, *, scale: float, bias: Any = None, blocked: Any = None,
           dropout_rate: float = 0.0, key: Any = None, train: bool = False,
           who: str = "attention") -> tuple[Any, Any]:
    """``softmax(q k^T * scale + bias, masked) @ v`` with the heads in front of the sequence.

    q : (..., heads, L, d); k : (..., heads, S, d); v : (..., heads, S, dv);
    bias : float, broadcastable to (..., heads, L, S); blocked : bool, likewise, True where a
    query may not attend. Returns the output (..., heads, L, dv) and the weights
    (..., heads, L, S), after dropout.
    """
    scores = fnp.matmul(q * scale, fnp.swapaxes(k, -1, -2))
    if bias is not None:
        scores = scores + bias
    if blocked is not None:
        scores = fnp.where(blocked, -np.inf, scores)
    weights = _softmax_or_zeros(scores)
    weights = dropout_impl(weights, dropout_rate, key, train, who)
    return fnp.matmul(weights, v), weights


def _upper_triangle(length: int, kv_length: int) -> np.ndarray:
    """True above the diagonal: the keys after each query (PyTorch's ``is_causal``, aligned
    at the top left when the lengths differ)."""
    return ~np.tril(np.ones((length, kv_length), dtype=bool))


def _either(a: Any, b: Any) -> Any:
    return b if a is None else a if b is None else fnp.logical_or(a, b)


def _plus(a: Any, b: Any) -> Any:
    return b if a is None else a if b is None else a + b


def causal_mask(length: int, kv_length: int | None = None, dtype: DTypeLike = np.float32) -> np.ndarray:
    """The additive causal mask: 0 where query ``i`` may attend key ``j`` (``j <= i``),
    ``-inf`` above the diagonal.

    It is PyTorch's ``nn.Transformer.generate_square_subsequent_mask``: a float mask is
    added to the scores under both conventions of masks, so it is what ``attn_mask`` of
    :func:`MultiHeadAttention` and the Transformer layers expects, and it is a `bias` of
    :func:`dot_product_attention`. (``is_causal=True`` does the same without an array.)

    Parameters
    ----------
    length : int
        The number of queries.
    kv_length : int, optional
        The number of keys (default `length`).
    dtype : floating dtype, default float32

    Returns
    -------
    ndarray, shape (length, kv_length)

    Examples
    --------
    >>> from funcnn import nn
    >>> nn.causal_mask(3)
    array([[  0., -inf, -inf],
           [  0.,   0., -inf],
           [  0.,   0.,   0.]], dtype=float32)
    """
    length = positive_int(length, "causal_mask", "length")
    kv_length = length if kv_length is None else positive_int(kv_length, "causal_mask", "kv_length")
    if np.dtype(dtype).kind != "f":
        raise ValueError(f"causal_mask: dtype must be a floating dtype (the mask is added to the "
                         f"scores); got {np.dtype(dtype)}")
    allowed = np.tril(np.ones((length, kv_length), dtype=bool))
    return np.where(allowed, 0.0, -np.inf).astype(dtype)


# --- dot_product_attention: JAX's layout and mask convention -----------------------------


def _check_broadcast(value: Any, name: str, target: Shape, who: str, meaning: str) -> None:
    shape = tuple(shape_of(value))
    try:
        fits = len(shape) <= len(target) and np.broadcast_shapes(shape, target) == target
    except ValueError:
        fits = False
    if not fits:
        raise ValueError(f"{who}: {name} has shape {shape}, which does not broadcast to {target} "
                         f"(batch..., heads, query length, key length); {meaning}")


def dot_product_attention(query: Any, key: Any, value: Any, *, bias: Any = None, mask: Any = None,
                          scale: float | None = None, is_causal: bool = False,
                          dropout_rate: float = 0.0, dropout_key: Any = None, train: bool = True,
                          return_weights: bool = False) -> Any:
    """Scaled dot-product attention, ``softmax(q k^T / sqrt(d) + bias, masked) v``, per head.

    The layout and the meaning of `mask` are JAX's (``jax.nn.dot_product_attention``):
    the heads come after the sequence, and ``mask`` is True where a query may attend.

    Parameters
    ----------
    query : ndarray, shape (..., L, heads, d)
    key : ndarray, shape (..., S, heads, d)
    value : ndarray, shape (..., S, heads, dv)
        The leading (batch) axes of the three must be equal; there may be none.
    bias : float ndarray, broadcastable to (..., heads, L, S), optional
        Added to the scores (``nn.causal_mask(L)`` is one).
    mask : bool ndarray, broadcastable to (..., heads, L, S), optional
        True where a query may attend to a key.
    scale : float, default ``1 / sqrt(d)``
    is_causal : bool, default False
        Query ``i`` attends only keys ``j <= i``.
    dropout_rate : float in [0, 1], default 0
        Dropout on the attention weights, in training mode.
    dropout_key : PRNG key
        Needed when ``dropout_rate > 0`` and `train`. (``key`` is the keys' array here.)
    train : bool, default True
        False turns dropout off, as in :func:`funcnn.nn.dropout`.
    return_weights : bool, default False
        Also return the attention weights, shape (..., heads, L, S).

    Returns
    -------
    ndarray, shape (..., L, heads, dv); with `return_weights`, ``(out, weights)``

    Notes
    -----
    A query whose keys are all masked gets zero weights and a zero output (JAX gives the
    mean of the values there, PyTorch NaN); its derivatives are finite.

    Examples
    --------
    >>> import numpy as np
    >>> from funcnn import nn
    >>> q = np.ones((2, 5, 4, 8))                      # (batch, seq, heads, head_dim)
    >>> v = np.arange(2 * 5 * 4 * 3.0).reshape(2, 5, 4, 3)
    >>> out = nn.dot_product_attention(q, q, v, is_causal=True)
    >>> out.shape
    (2, 5, 4, 3)
    >>> bool(np.allclose(out[:, 0], v[:, 0]))          # the first query sees only itself
    True
    """
    who = "dot_product_attention"
    query, key, value = fnp.asarray(query), fnp.asarray(key), fnp.asarray(value)
    qs, ks, vs = (tuple(shape_of(a)) for a in (query, key, value))
    for name, shape in (("query", qs), ("key", ks), ("value", vs)):
        if len(shape) < 3:
            raise ValueError(f"{who}: {name} must have shape (..., seq, heads, head_dim); got shape {shape}")
    if not (qs[:-3] == ks[:-3] == vs[:-3] and qs[-2] == ks[-2] == vs[-2]):
        raise ValueError(f"{who}: query, key and value must have the same batch axes and number of heads "
                         f"(shape (..., seq, heads, head_dim)); got shapes {qs}, {ks} and {vs}")
    if qs[-1] != ks[-1] or ks[-3] != vs[-3]:
        raise ValueError(f"{who}: query and key must have the same head_dim, and key and value the same "
                         f"sequence length; got shapes {qs}, {ks} and {vs}")
    for name, value_ in (("query", query), ("key", key), ("value", value)):
        if dtype_of(value_).kind != "f":
            raise ValueError(f"{who}: {name} must be floating; got dtype {dtype_of(value_)}")
    target = qs[:-3] + (qs[-2], qs[-3], ks[-3])
    blocked = None
    if mask is not None:
        mask = fnp.asarray(mask)
        if dtype_of(mask) != np.bool_:
            raise ValueError(f"{who}: mask must be boolean (True where a query may attend); got dtype "
                             f"{dtype_of(mask)}; pass an additive float mask as bias instead")
        _check_broadcast(mask, "mask", target, who, "True where a query may attend")
        blocked = fnp.logical_not(mask)
    if bias is not None:
        bias = fnp.asarray(bias)
        if dtype_of(bias).kind != "f":
            raise ValueError(f"{who}: bias must be floating (it is added to the scores); got dtype "
                             f"{dtype_of(bias)}; pass a boolean mask as mask instead")
        _check_broadcast(bias, "bias", target, who, "it is added to the scores")
        bias = fnp.astype(bias, np.result_type(dtype_of(query), dtype_of(key)))
    if is_causal:
        blocked = _either(blocked, _upper_triangle(qs[-3], ks[-3]))
    rate = check_rate(dropout_rate, who)
    if train and rate > 0.0 and dropout_key is None:
        raise ValueError(f"{who}: dropout_rate={rate} in training mode needs a PRNG key: pass dropout_key=..., "
                         "or train=False to evaluate")
    scale = 1.0 / math.sqrt(qs[-1]) if scale is None else float(scale)
    out, weights = attend(fnp.swapaxes(query, -3, -2), fnp.swapaxes(key, -3, -2), fnp.swapaxes(value, -3, -2),
                          scale=scale, bias=bias, blocked=blocked, dropout_rate=rate,
                          key=dropout_key, train=train, who=who)
    out = fnp.swapaxes(out, -3, -2)
    return (out, weights) if return_weights else out


# --- multi-head attention: PyTorch's weights and masks -----------------------------------


def _split_heads(x: Any, heads: int) -> Any:
    """(..., T, E) -> (..., heads, T, E // heads)."""
    shape = tuple(shape_of(x))
    return fnp.swapaxes(fnp.reshape(x, shape[:-1] + (heads, shape[-1] // heads)), -3, -2)


def _merge_heads(x: Any) -> Any:
    """(..., heads, T, d) -> (..., T, heads * d)."""
    x = fnp.swapaxes(x, -3, -2)
    shape = tuple(shape_of(x))
    return fnp.reshape(x, shape[:-2] + (shape[-2] * shape[-1],))


def _torch_mask(mask: Any, name: str, shape: Shape, who: str) -> tuple[Any, Any]:
    """A PyTorch mask as ``(bias, blocked)``: a bool mask is True where attention is *not*
    allowed; a float mask is added to the scores. `shape` is the shape it must broadcast to."""
    mask = fnp.asarray(mask)
    dtype = dtype_of(mask)
    if dtype == np.bool_:
        return None, mask
    if dtype.kind == "f":
        return mask, None
    raise ValueError(f"{who}: {name} must be boolean (True where attention is not allowed, as in "
                     f"PyTorch) or floating (added to the scores); got dtype {dtype} (shape {shape_of(mask)})")


def _attn_mask(mask: Any, batch: Shape, heads: int, length: int, kv_length: int, who: str,
               name: str = "attn_mask") -> Any:
    """``attn_mask`` of shape (L, S), PyTorch's (N * heads, L, S), or (*batch, heads, L, S)
    with any axis 1, reshaped to broadcast against the scores (*batch, heads, L, S)."""
    shape = tuple(shape_of(mask))
    full = batch + (heads, length, kv_length)
    if shape == (length, kv_length):
        return mask
    if len(batch) == 1 and shape == (batch[0] * heads, length, kv_length):
        return fnp.reshape(mask, full)
    if len(shape) == len(full) and all(d in (1, f) for d, f in zip(shape, full)):
        return mask
    accepted: list[Shape] = [(length, kv_length)]
    if len(batch) == 1:
        accepted.append((batch[0] * heads, length, kv_length))
    raise ValueError(f"{who}: {name} has shape {shape}, but for a query of length {length}, "
                     f"{kv_length} keys and {heads} heads it must have shape "
                     f"{' or '.join(map(str, accepted))} or {full} (any axis may be 1)")


def _padding_mask(mask: Any, batch: Shape, kv_length: int, who: str, name: str = "key_padding_mask") -> Any:
    """``key_padding_mask`` of shape (*batch, S), reshaped to (*batch, 1, 1, S)."""
    shape = tuple(shape_of(mask))
    if shape != batch + (kv_length,):
        raise ValueError(f"{who}: {name} has shape {shape}, but it must have shape {batch + (kv_length,)} "
                         f"(batch..., key length), one entry per key")
    return fnp.reshape(mask, batch + (1, 1, kv_length))


@dataclasses.dataclass(frozen=True)
class AttentionConfig:
    """What a :func:`MultiHeadAttention` layer was built with."""

    embed_dim: int
    num_heads: int
    dropout: float
    bias: bool
    causal: bool


def _check_input(x: Any, name: str, embed_dim: int, params_w: Any, who: str) -> Shape:
    shape = tuple(shape_of(x))
    if len(shape) < 2 or shape[-1] != embed_dim:
        raise ValueError(f"{who}: the {name} must have shape (..., seq, {embed_dim}) to match in_proj w of shape "
                         f"{tuple(shape_of(params_w))} (embed_dim={embed_dim}); got shape {shape}")
    if dtype_of(x).kind != "f":
        raise ValueError(f"{who}: the {name} must be floating; got dtype {dtype_of(x)}")
    return shape


def linear(x: Any, w: Any, b: Any) -> Any:
    """``x @ w + b`` over the last axis of `x`, as one product of all its rows.

    NumPy multiplies a stack ``(..., n, k) @ (k, m)`` matrix by matrix, two to three times
    slower than one ``(rows, k) @ (k, m)`` product, and the weight's gradient would be a
    stack of products summed afterwards; flattening the rows first avoids both.
    """
    shape = tuple(shape_of(x))
    y = fnp.matmul(fnp.reshape(x, (-1, shape[-1])), w)
    if b is not None:
        y = y + b
    return fnp.reshape(y, shape[:-1] + tuple(shape_of(w))[-1:])


def mha_forward(params: Any, query: Any, keys: Any, values: Any, config: AttentionConfig, ctx: Context, *,
                key_padding_mask: Any = None, attn_mask: Any = None, is_causal: bool = False,
                need_weights: bool = False, average_attn_weights: bool = True) -> Any:
    """Multi-head attention on (..., L, E) queries and (..., S, E) keys and values; the output
    (..., L, E), or ``(output, weights)`` when `need_weights`."""
    who = describe("MultiHeadAttention", ctx.path)
    e, heads = config.embed_dim, config.num_heads
    in_proj = entry(params, "in_proj", ctx.path)
    out_proj = entry(params, "out_proj", ctx.path)
    path_in, path_out = ctx.path + ("in_proj",), ctx.path + ("out_proj",)
    w_in = entry(in_proj, "w", path_in)
    b_in = entry(in_proj, "b", path_in) if config.bias else None
    w_out = entry(out_proj, "w", path_out)
    b_out = entry(out_proj, "b", path_out) if config.bias else None
    for name, value, shape in (("in_proj w", w_in, (e, 3 * e)), ("in_proj b", b_in, (3 * e,)),
                               ("out_proj w", w_out, (e, e)), ("out_proj b", b_out, (e,))):
        if value is not None and tuple(shape_of(value)) != shape:
            raise ValueError(f"{who}: params {name} must have shape {shape} for embed_dim={e}; got shape "
                             f"{tuple(shape_of(value))}")
    qs = _check_input(query, "query", e, w_in, who)
    ks = _check_input(keys, "keys", e, w_in, who)
    vs = _check_input(values, "values", e, w_in, who)
    if not (qs[:-2] == ks[:-2] == vs[:-2] and ks[-2] == vs[-2]):
        raise ValueError(f"{who}: the query, keys and values must have the same batch axes, and the keys and "
                         f"values the same length (shape (..., seq, {e})); got shapes {qs}, {ks} and {vs}")
    batch, length, kv_length = qs[:-2], qs[-2], ks[-2]

    bias = blocked = None
    if attn_mask is not None:
        add, block = _torch_mask(attn_mask, "attn_mask", qs, who)
        bias, blocked = (_attn_mask(m, batch, heads, length, kv_length, who) if m is not None else None
                         for m in (add, block))
    if key_padding_mask is not None:
        add, block = _torch_mask(key_padding_mask, "key_padding_mask", ks, who)
        bias = _plus(bias, None if add is None else _padding_mask(add, batch, kv_length, who))
        blocked = _either(blocked, None if block is None else _padding_mask(block, batch, kv_length, who))
    if is_causal or config.causal:
        blocked = _either(blocked, _upper_triangle(length, kv_length))
    if bias is not None:
        bias = fnp.astype(bias, dtype_of(query))

    if query is keys and keys is values:  # self-attention: one product for q, k and v
        q, k, v = fnp.split(linear(query, w_in, b_in), 3, axis=-1)
    else:
        q, k, v = (linear(x, w_in[:, i * e:(i + 1) * e], None if b_in is None else b_in[i * e:(i + 1) * e])
                   for i, x in enumerate((query, keys, values)))
    out, weights = attend(_split_heads(q, heads), _split_heads(k, heads), _split_heads(v, heads),
                          scale=1.0 / math.sqrt(e // heads), bias=bias, blocked=blocked,
                          dropout_rate=config.dropout, key=ctx.key, train=ctx.train, who=who)
    out = linear(_merge_heads(out), w_out, b_out)
    if not need_weights:
        return out
    return out, (fnp.mean(weights, axis=-3) if average_attn_weights else weights)


def _unpack(x: Any, who: str) -> tuple[Any, Any, Any]:
    """One array (self-attention) or a tuple ``(query, keys, values)``."""
    if isinstance(x, (tuple, list)):
        if len(x) != 3:
            raise ValueError(f"{who}: the input must be one array (self-attention) or a tuple (query, keys, "
                             f"values); got a {type(x).__name__} of length {len(x)}")
        return x[0], x[1], x[2]
    return x, x, x


@dataclasses.dataclass(frozen=True, eq=False, repr=False)
class AttentionLayer(Layer):
    """A :class:`Layer` whose ``apply`` also takes masks (and, for the decoder, the memory)
    as keyword arguments; inside a combinator it runs with the masks it was built with."""

    forward: Callable[..., Any] | None = dataclasses.field(default=None, repr=False)

    def run(self, params: Any, inputs: Any, key: Any, train: bool, state: Any, options: dict[str, Any]) -> Any:
        if not isinstance(train, (bool, np.bool_)):
            raise TypeError(f"apply: train must be True or False; got {train!r}")
        assert self.forward is not None
        y = self.forward(params, inputs, Context(key, bool(train), ()), **options)
        return y if state is None else (y, state)


@dataclasses.dataclass(frozen=True, eq=False, repr=False)
class MultiHeadAttentionLayer(AttentionLayer):
    """The layer made by :func:`MultiHeadAttention`."""

    def apply(self, params: Any, x: Any, keys: Any = None, values: Any = None, *, key: Any = None,
              train: bool = False, state: Any = None, key_padding_mask: Any = None, attn_mask: Any = None,
              is_causal: bool = False, need_weights: bool = False, average_attn_weights: bool = True) -> Any:
        """Attend from the query `x` to `keys` and `values` (both default to `x`).

        Parameters
        ----------
        params : dict
            From ``init``.
        x : ndarray, shape (..., L, embed_dim)
            The query; or a tuple ``(query, keys, values)``.
        keys, values : ndarray, shape (..., S, embed_dim), optional
            Self-attention when omitted. (``key`` is the PRNG key, as everywhere in funcnn.)
        key : PRNG key, optional
            For dropout on the attention weights in training mode.
        train : bool, default False
        state : optional
            When given, the result is ``(y, state)``, as for every layer.
        key_padding_mask : ndarray, shape (..., S), optional
            Bool: True marks a key to ignore (padding), as in PyTorch. Float: added.
        attn_mask : ndarray, shape (L, S), (N * num_heads, L, S) or (..., num_heads, L, S), optional
            Bool: True where attention is *not* allowed, as in PyTorch. Float: added to the
            scores (``nn.causal_mask(L)``).
        is_causal : bool, default False
            Query ``i`` attends only keys ``j <= i`` (also set by ``causal=True`` at construction).
        need_weights : bool, default False
            Also return the attention weights (after dropout): ``(out, weights)``.
        average_attn_weights : bool, default True
            The weights averaged over heads, (..., L, S); else (..., num_heads, L, S).

        Returns
        -------
        ndarray, shape (..., L, embed_dim); or ``(out, weights)``
        """
        if keys is None and values is None:
            x, keys, values = _unpack(x, repr(self))
        keys = x if keys is None else keys
        values = keys if values is None else values
        options = {"key_padding_mask": key_padding_mask, "attn_mask": attn_mask, "is_causal": is_causal,
                   "need_weights": need_weights, "average_attn_weights": average_attn_weights}
        return self.run(params, (x, keys, values), key, train, state, options)


@layer_constructor
def MultiHeadAttention(embed_dim: int, num_heads: int, dropout: float = 0.0, bias: bool = True,
                       causal: bool = False, w_init: initializers.Initializer | None = None,
                       out_w_init: initializers.Initializer | None = None,
                       dtype: DTypeLike = np.float32) -> MultiHeadAttentionLayer:
    """Multi-head attention with the weights, masks and defaults of ``torch.nn.MultiheadAttention``.

    The inputs are ``(batch, seq, embed_dim)`` (PyTorch's ``batch_first=True``; any number
    of leading axes, or none, is allowed). Per head ``h`` of ``d = embed_dim / num_heads``
    features, ``head_h = softmax(q_h k_h^T / sqrt(d) + mask) v_h`` with
    ``q = query @ w_q + b_q``, ``k = keys @ w_k + b_k``, ``v = values @ w_v + b_v``; the heads
    are concatenated and projected, ``out = concat(heads) @ out_w + out_b``.

    Parameters
    ----------
    embed_dim : int
        The features of the query, keys and values, and of the output.
    num_heads : int
        Must divide `embed_dim`.
    dropout : float in [0, 1], default 0
        Dropout on the attention weights in training mode (needs ``key=`` in ``apply``).
    bias : bool, default True
        Biases in the input and output projections.
    causal : bool, default False
        Always mask the keys after each query (as if ``is_causal=True`` were passed).
    w_init : initializer, default ``glorot_uniform()``
        For ``in_proj w``, PyTorch's Xavier uniform over the whole (E, 3E) matrix.
    out_w_init : initializer, default ``lecun_normal()``
        For ``out_proj w`` (funcnn's ``Dense`` default).
    dtype : floating dtype, default float32

    Notes
    -----
    Params, and the ``torch.nn.MultiheadAttention`` weights they equal:

    ======================  ==========================  ==========================
    params                  shape                       PyTorch
    ======================  ==========================  ==========================
    ``in_proj["w"]``        (E, 3E), columns q | k | v  ``in_proj_weight.T``
    ``in_proj["b"]``        (3E,)                       ``in_proj_bias``
    ``out_proj["w"]``       (E, E)                      ``out_proj.weight.T``
    ``out_proj["b"]``       (E,)                        ``out_proj.bias``
    ======================  ==========================  ==========================

    ``init`` takes the query's shape, or a tuple of the (query, keys, values) shapes; the
    output shape is the query's. ``apply`` takes masks as keywords (see
    :meth:`MultiHeadAttentionLayer.apply`); in a combinator the input is the query
    (self-attention) or a tuple ``(query, keys, values)``.

    Examples
    --------
    >>> import numpy as np
    >>> from funcnn import nn, random
    >>> mha = nn.MultiHeadAttention(16, num_heads=4)
    >>> out_shape, params = mha.init(random.key(0), (-1, 10, 16))
    >>> out_shape, params["in_proj"]["w"].shape
    ((-1, 10, 16), (16, 48))
    >>> x = np.ones((2, 10, 16), np.float32)
    >>> y, weights = mha.apply(params, x, is_causal=True, need_weights=True)
    >>> y.shape, weights.shape
    ((2, 10, 16), (2, 10, 10))
    """
    embed_dim = positive_int(embed_dim, "MultiHeadAttention", "embed_dim")
    num_heads = positive_int(num_heads, "MultiHeadAttention", "num_heads")
    if embed_dim % num_heads:
        raise ValueError(f"MultiHeadAttention: num_heads={num_heads} must divide embed_dim={embed_dim} "
                         f"(each head gets embed_dim // num_heads features)")
    config = AttentionConfig(embed_dim, num_heads, check_rate(dropout, "MultiHeadAttention"), bool(bias),
                             bool(causal))
    w_init = initializers.glorot_uniform() if w_init is None else w_init
    out_w_init = initializers.lecun_normal() if out_w_init is None else out_w_init

    def init_fn(key: Any, input_shape: Any, path: tuple[str, ...]) -> tuple[Any, Any, Any]:
        who = describe("MultiHeadAttention", path)
        shapes = _input_shapes(input_shape, who)
        for name, shape in zip(("query", "keys", "values"), shapes):
            if len(shape) < 2 or shape[-1] != embed_dim:
                raise ValueError(f"{who}: the {name} shape must be (..., seq, {embed_dim}) for "
                                 f"embed_dim={embed_dim}; got {shape}")
        return shapes[0], init_attention_params(key, config, w_init, out_w_init, dtype), {}

    def forward(params: Any, inputs: Any, ctx: Context, **options: Any) -> Any:
        query, keys, values = _unpack(inputs, describe("MultiHeadAttention", ctx.path))
        return mha_forward(params, query, keys, values, config, ctx, **options)

    def apply_fn(params: Any, state: Any, x: Any, ctx: Context) -> tuple[Any, Any]:
        return forward(params, x, ctx), state

    return MultiHeadAttentionLayer("multi_head_attention", init_fn, apply_fn, forward=forward)


def _input_shapes(input_shape: Any, who: str) -> list[Shape]:
    """The query's shape, or a tuple of the (query, keys, values) shapes."""
    if isinstance(input_shape, (tuple, list)) and input_shape and all(
            isinstance(s, (tuple, list)) for s in input_shape):
        if len(input_shape) != 3:
            raise ValueError(f"{who}: input_shape must be the query's shape or a tuple of three shapes "
                             f"(query, keys, values); got {input_shape!r}")
        return [as_shape(s, who) for s in input_shape]
    return [as_shape(input_shape, who)] * 3


def init_attention_params(key: Any, config: AttentionConfig, w_init: initializers.Initializer,
                          out_w_init: initializers.Initializer, dtype: DTypeLike) -> dict[str, Any]:
    """``{"in_proj": {"w", "b"}, "out_proj": {"w", "b"}}``, biases zero as in PyTorch."""
    e = config.embed_dim
    k_in, k_out = random.split(key)
    in_proj = {"w": w_init(k_in, (e, 3 * e), dtype)}
    out_proj = {"w": out_w_init(k_out, (e, e), dtype)}
    if config.bias:
        in_proj["b"] = np.zeros(3 * e, dtype)
        out_proj["b"] = np.zeros(e, dtype)
    return {"in_proj": in_proj, "out_proj": out_proj}


# --- positions ---------------------------------------------------------------------------


def sinusoidal_positional_encoding(length: int, features: int, base: float = 10000.0,
                                   dtype: DTypeLike = np.float32) -> np.ndarray:
    """The fixed positional encoding of "Attention is all you need": for position ``p`` and
    ``i < features / 2``, ``pe[p, 2i] = sin(p / base**(2i / features))`` and
    ``pe[p, 2i + 1] = cos(p / base**(2i / features))``.

    Parameters
    ----------
    length : int
        The number of positions.
    features : int
        The model width (an odd width drops the last cosine column).
    base : float, default 10000
    dtype : floating dtype, default float32

    Returns
    -------
    ndarray, shape (length, features)
        A constant; add it to the embedded tokens, ``x + pe`` for ``x`` of shape
        (batch, length, features).

    Examples
    --------
    >>> from funcnn import nn
    >>> pe = nn.sinusoidal_positional_encoding(4, 6)
    >>> pe.shape, pe.dtype
    ((4, 6), dtype('float32'))
    >>> pe[0]
    array([0., 1., 0., 1., 0., 1.], dtype=float32)
    """
    length = positive_int(length, "sinusoidal_positional_encoding", "length")
    features = positive_int(features, "sinusoidal_positional_encoding", "features")
    pairs = (features + 1) // 2
    angle = np.arange(length, dtype=np.float64)[:, None] / base ** (2.0 * np.arange(pairs) / features)
    pe = np.empty((length, 2 * pairs), np.float64)
    pe[:, 0::2] = np.sin(angle)
    pe[:, 1::2] = np.cos(angle)
    return pe[:, :features].astype(dtype)


@layer_constructor
def PositionalEmbedding(max_length: int, w_init: initializers.Initializer | None = None,
                        dtype: DTypeLike = np.float32) -> Layer:
    """A learned position vector added to each position: ``y[..., t, :] = x[..., t, :] + table[t]``.

    Parameters
    ----------
    max_length : int
        The longest sequence it accepts.
    w_init : initializer, default ``normal(0.02)``
    dtype : floating dtype, default float32

    Notes
    -----
    x : shape (..., seq, features), ``seq <= max_length`` -> y : the shape of x.
    Params: ``{"embeddings": (max_length, features)}``; a shorter sequence uses the first rows.

    Examples
    --------
    >>> import numpy as np
    >>> from funcnn import nn, random
    >>> layer = nn.PositionalEmbedding(32)
    >>> out_shape, params = layer.init(random.key(0), (-1, 10, 8))
    >>> out_shape, params["embeddings"].shape
    ((-1, 10, 8), (32, 8))
    >>> layer.apply(params, np.zeros((2, 10, 8), np.float32)).shape
    (2, 10, 8)
    """
    max_length = positive_int(max_length, "PositionalEmbedding", "max_length")
    w_init = initializers.normal(0.02) if w_init is None else w_init

    def init_fn(key: Any, input_shape: Any, path: tuple[str, ...]) -> tuple[Any, Any, Any]:
        who = describe("PositionalEmbedding", path)
        shape = as_shape(input_shape, who)
        if len(shape) < 2 or shape[-1] < 1 or shape[-2] > max_length:
            raise ValueError(f"{who}: input_shape must be (..., seq, features) with known features and "
                             f"seq <= max_length={max_length}; got {shape}")
        return shape, {"embeddings": w_init(key, (max_length, shape[-1]), dtype)}, {}

    def apply_fn(params: Any, state: Any, x: Any, ctx: Context) -> tuple[Any, Any]:
        who = describe("PositionalEmbedding", ctx.path)
        table = entry(params, "embeddings", ctx.path)
        xs, ts = tuple(shape_of(x)), tuple(shape_of(table))
        if len(xs) < 2 or len(ts) != 2 or xs[-1] != ts[1] or xs[-2] > ts[0]:
            raise ValueError(f"{who}: the input x has shape {xs}, but with embeddings of shape {ts} it must "
                             f"have shape (..., seq, {ts[-1]}) with seq <= {ts[0]}")
        return x + table[:xs[-2]], state

    return Layer("positional_embedding", init_fn, apply_fn)


def check_sequence_shapes(shapes: Sequence[Shape], width: int, who: str) -> None:
    """Every shape is (..., seq, width)."""
    for shape in shapes:
        if len(shape) < 2 or shape[-1] != width:
            raise ValueError(f"{who}: input_shape must be (..., seq, {width}); got {shape}")
