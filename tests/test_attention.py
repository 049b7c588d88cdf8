"""Attention and the Transformer layers: values against hand-written NumPy (always) and
PyTorch (float64, same weights, dropout off), derivatives by check_grads, masks, the
transforms, and bad inputs."""
import re

import numpy as np
import pytest

import funcnn as fn
from funcnn import nn, random, tree_util
from funcnn.testing import check_grads

RNG = np.random.default_rng(0)


def normal(*shape):
    return RNG.standard_normal(shape)


def mha_params(e, bias=True):
    params = {"in_proj": {"w": normal(e, 3 * e) / np.sqrt(e)}, "out_proj": {"w": normal(e, e) / np.sqrt(e)}}
    if bias:
        params["in_proj"]["b"] = normal(3 * e)
        params["out_proj"]["b"] = normal(e)
    return params


# --- NumPy references --------------------------------------------------------------------


def np_softmax(s):
    """Softmax over the last axis; a row of -inf gives zeros."""
    m = np.max(s, axis=-1, keepdims=True)
    m = np.where(np.isfinite(m), m, 0.0)
    e = np.exp(s - m)
    total = e.sum(axis=-1, keepdims=True)
    return e / np.where(total > 0, total, 1.0)


def np_mha(params, q, k, v, heads, attn_mask=None, key_padding_mask=None, causal=False):
    """Multi-head attention written out head by head, PyTorch's mask semantics."""
    e = q.shape[-1]
    d = e // heads
    w, b = params["in_proj"]["w"], params["in_proj"].get("b", np.zeros(3 * e))
    qp, kp, vp = q @ w[:, :e] + b[:e], k @ w[:, e:2 * e] + b[e:2 * e], v @ w[:, 2 * e:] + b[2 * e:]
    length, kv_length = q.shape[-2], k.shape[-2]
    outs, weights = [], []
    for h in range(heads):
        sl = slice(h * d, (h + 1) * d)
        s = qp[..., sl] @ np.swapaxes(kp[..., sl], -1, -2) / np.sqrt(d)
        if attn_mask is not None:
            s = np.where(attn_mask, -np.inf, s) if attn_mask.dtype == bool else s + attn_mask
        if key_padding_mask is not None:
            s = np.where(key_padding_mask[..., None, :], -np.inf, s)
        if causal:
            s = np.where(np.triu(np.ones((length, kv_length), bool), 1), -np.inf, s)
        p = np_softmax(s)
        weights.append(p)
        outs.append(p @ vp[..., sl])
    out = np.concatenate(outs, axis=-1) @ params["out_proj"]["w"] + params["out_proj"].get("b", 0.0)
    return out, np.mean(weights, axis=0)


def np_layer_norm(x, p, eps=1e-5):
    mu = x.mean(-1, keepdims=True)
    return (x - mu) / np.sqrt(x.var(-1, keepdims=True) + eps) * p["scale"] + p["bias"]


def np_encoder(params, x, heads, norm_first=False, **masks):
    def sa(h):
        return np_mha(params["self_attn"], h, h, h, heads, **masks)[0]

    def ff(h):
        h = np.maximum(h @ params["linear1"]["w"] + params["linear1"]["b"], 0.0)
        return h @ params["linear2"]["w"] + params["linear2"]["b"]

    if norm_first:
        x = x + sa(np_layer_norm(x, params["norm1"]))
        return x + ff(np_layer_norm(x, params["norm2"]))
    x = np_layer_norm(x + sa(x), params["norm1"])
    return np_layer_norm(x + ff(x), params["norm2"])


def additive(mask):
    """A bool PyTorch mask (True = masked) as the float mask PyTorch wants beside another float mask."""
    return np.where(mask, -np.inf, 0.0)


# --- dot_product_attention ---------------------------------------------------------------


def test_dot_product_attention_matches_numpy_with_mask_bias_and_causal():
    q, k, v = normal(2, 5, 3, 4), normal(2, 6, 3, 4), normal(2, 6, 3, 2)
    mask = RNG.random((2, 1, 5, 6)) > 0.3
    bias = normal(5, 6)
    out, weights = nn.dot_product_attention(q, k, v, mask=mask, bias=bias, is_causal=True, return_weights=True)
    s = np.einsum("blhd,bshd->bhls", q, k) / 2.0 + bias
    s = np.where(mask & np.tril(np.ones((5, 6), bool)), s, -np.inf)
    p = np_softmax(s)
    np.testing.assert_allclose(weights, p, atol=1e-12)
    np.testing.assert_allclose(out, np.einsum("bhls,bshd->blhd", p, v), atol=1e-12)
    assert out.shape == (2, 5, 3, 2)


def test_dot_product_attention_matches_torch_sdpa():
    torch = pytest.importorskip("torch")
    q, k, v = normal(2, 5, 3, 4), normal(2, 6, 3, 4), normal(2, 6, 3, 4)
    mask = RNG.random((2, 3, 5, 6)) > 0.2
    mask[..., 0] = True  # no fully masked row: PyTorch gives NaN there
    ours = nn.dot_product_attention(q, k, v, mask=mask, scale=0.3)
    t = [torch.tensor(np.swapaxes(a, 1, 2)) for a in (q, k, v)]
    theirs = torch.nn.functional.scaled_dot_product_attention(*t, attn_mask=torch.tensor(mask), scale=0.3)
    np.testing.assert_allclose(ours, np.swapaxes(theirs.numpy(), 1, 2), atol=1e-12)


def test_fully_masked_rows_give_zeros_and_finite_gradients():
    q, k, v = normal(1, 4, 2, 3), normal(1, 5, 2, 3), normal(1, 5, 2, 3)
    mask = np.ones((1, 2, 4, 5), bool)
    mask[0, 1, 2] = False  # head 1, query 2 may attend nothing
    out = nn.dot_product_attention(q, k, v, mask=mask)
    assert np.all(out[0, 2, 1] == 0.0) and np.all(np.isfinite(out))
    grads = fn.grad(lambda q, k, v: (nn.dot_product_attention(q, k, v, mask=mask) ** 2).sum(), argnums=(0, 1, 2))(
        q, k, v)
    assert all(np.all(np.isfinite(g)) for g in grads)
    assert np.all(grads[0][0, 2, 1] == 0.0)
    # an additive -inf mask (nn.causal_mask is one) behaves the same
    bias = np.where(mask, 0.0, -np.inf)
    np.testing.assert_array_equal(nn.dot_product_attention(q, k, v, bias=bias), out)
    check_grads(lambda q, k, v: nn.dot_product_attention(q, k, v, bias=bias), (q, k, v), order=1)


def test_dot_product_attention_derivatives_both_modes():
    q, k, v = normal(2, 3, 2, 2), normal(2, 4, 2, 2), normal(2, 4, 2, 3)
    mask = np.array([[True, True, False, True]])
    check_grads(lambda q, k, v: nn.dot_product_attention(q, k, v, mask=mask, is_causal=True), (q, k, v), order=2)


def test_dot_product_attention_dropout_uses_its_key():
    q = normal(2, 6, 2, 4)
    a = nn.dot_product_attention(q, q, q, dropout_rate=0.5, dropout_key=random.key(1))
    b = nn.dot_product_attention(q, q, q, dropout_rate=0.5, dropout_key=random.key(1))
    c = nn.dot_product_attention(q, q, q, dropout_rate=0.5, dropout_key=random.key(2))
    np.testing.assert_array_equal(a, b)
    assert not np.allclose(a, c)
    np.testing.assert_array_equal(nn.dot_product_attention(q, q, q, dropout_rate=0.5, train=False),
                                  nn.dot_product_attention(q, q, q))
    with pytest.raises(ValueError, match="needs a PRNG key"):
        nn.dot_product_attention(q, q, q, dropout_rate=0.5)


@pytest.mark.parametrize("kwargs, message", [
    ({"mask": np.ones((5, 7), bool)}, r"mask has shape \(5, 7\), which does not broadcast to \(2, 3, 5, 6\)"),
    ({"mask": np.ones((5, 6))}, "mask must be boolean"),
    ({"bias": np.ones((5, 6), bool)}, "bias must be floating"),
    ({"bias": np.ones((4, 5, 6))}, r"bias has shape \(4, 5, 6\)"),
])
def test_dot_product_attention_rejects_bad_masks(kwargs, message):
    q, k = normal(2, 5, 3, 4), normal(2, 6, 3, 4)
    with pytest.raises(ValueError, match=message):
        nn.dot_product_attention(q, k, k, **kwargs)


def test_dot_product_attention_rejects_bad_shapes():
    with pytest.raises(ValueError, match=r"query must have shape \(..., seq, heads, head_dim\); got shape \(5, 4\)"):
        nn.dot_product_attention(normal(5, 4), normal(5, 4), normal(5, 4))
    with pytest.raises(ValueError, match="same head_dim"):
        nn.dot_product_attention(normal(2, 5, 3, 4), normal(2, 6, 3, 5), normal(2, 6, 3, 5))
    with pytest.raises(ValueError, match="same batch axes and number of heads"):
        nn.dot_product_attention(normal(2, 5, 3, 4), normal(2, 6, 2, 4), normal(2, 6, 2, 4))


# --- MultiHeadAttention -------------------------------------------------------------------


def test_mha_matches_numpy_with_every_kind_of_mask():
    e, heads = 8, 2
    params = mha_params(e)
    mha = nn.MultiHeadAttention(e, heads)
    q, k, v = normal(3, 4, e), normal(3, 5, e), normal(3, 5, e)
    padding = np.zeros((3, 5), bool)
    padding[0, 3:] = True
    for attn_mask in (None, RNG.random((4, 5)) > 0.7, normal(4, 5)):
        for causal in (False, True):
            out, weights = mha.apply(params, q, k, v, key_padding_mask=padding, attn_mask=attn_mask,
                                     is_causal=causal, need_weights=True)
            ref, ref_weights = np_mha(params, q, k, v, heads, attn_mask, padding, causal)
            np.testing.assert_allclose(out, ref, atol=1e-12)
            np.testing.assert_allclose(weights, ref_weights, atol=1e-12)
    # self-attention takes the one-product path
    np.testing.assert_allclose(mha.apply(params, q), np_mha(params, q, q, q, heads)[0], atol=1e-12)


def test_mha_weights_per_head_and_unbatched_inputs():
    e, heads = 6, 3
    params = mha_params(e, bias=False)
    mha = nn.MultiHeadAttention(e, heads, bias=False)
    x = normal(4, e)  # no batch axis
    out, weights = mha.apply(params, x, need_weights=True, average_attn_weights=False)
    assert out.shape == (4, e) and weights.shape == (heads, 4, 4)
    np.testing.assert_allclose(weights.mean(0), np_mha(params, x, x, x, heads)[1], atol=1e-12)


def copy_mha(module):
    w = {name: p.detach().numpy().copy() for name, p in module.named_parameters()}
    return {"in_proj": {"w": w["in_proj_weight"].T, "b": w["in_proj_bias"]},
            "out_proj": {"w": w["out_proj.weight"].T, "b": w["out_proj.bias"]}}


def copy_transformer(module):
    return torch_to_params((name, p.detach().numpy().copy()) for name, p in module.named_parameters())


def torch_to_params(pairs):
    """PyTorch's (name, array) pairs as funcnn params: every weight matrix transposed."""
    params = {}
    for name, value in pairs:
        *path, leaf = name.replace("in_proj_", "in_proj.").split(".")
        leaf = {"weight": "w", "bias": "b"}[leaf]
        if path[0].startswith("norm"):
            leaf = {"w": "scale", "b": "bias"}[leaf]
        node = params
        for part in path:
            node = node.setdefault(part, {})
        node[leaf] = value.T if value.ndim == 2 else value
    return params


def test_mha_values_and_gradients_match_torch():
    torch = pytest.importorskip("torch")
    torch.manual_seed(0)
    e, heads = 12, 3
    module = torch.nn.MultiheadAttention(e, heads, batch_first=True, dtype=torch.float64)
    with torch.no_grad():
        module.in_proj_bias.normal_()
        module.out_proj.bias.normal_()
    params = copy_mha(module)
    q, k = normal(2, 4, e), normal(2, 6, e)
    padding = np.zeros((2, 6), bool)
    padding[1, 4:] = True
    attn_mask = normal(4, 6)
    g = normal(2, 4, e)
    mha = nn.MultiHeadAttention(e, heads)

    def f(params, q, k):
        return mha.apply(params, q, k, k, key_padding_mask=padding, attn_mask=attn_mask)

    out, vjp = fn.vjp(f, params, q, k)
    dparams, dq, dk = vjp(g)
    tq, tk = (torch.tensor(a, requires_grad=True) for a in (q, k))
    t_out, t_grads, (t_dq, t_dk) = _mha_torch_grads(module, tq, tk, padding, attn_mask, g)
    np.testing.assert_allclose(out, t_out, atol=1e-12)
    np.testing.assert_allclose(dq, t_dq, atol=1e-10)
    np.testing.assert_allclose(dk, t_dk, atol=1e-10)
    np.testing.assert_allclose(dparams["in_proj"]["w"], t_grads["in_proj_weight"].numpy().T, atol=1e-10)
    np.testing.assert_allclose(dparams["out_proj"]["b"], t_grads["out_proj.bias"].numpy(), atol=1e-10)
    # the head-averaged weights, and a boolean causal mask
    out, weights = mha.apply(params, q, need_weights=True, attn_mask=~np.tril(np.ones((4, 4), bool)))
    t_out, t_weights = module(*(torch.tensor(q),) * 3, is_causal=True,
                              attn_mask=torch.nn.Transformer.generate_square_subsequent_mask(4, dtype=torch.float64))
    np.testing.assert_allclose(out, t_out.detach().numpy(), atol=1e-12)
    np.testing.assert_allclose(weights, t_weights.detach().numpy(), atol=1e-12)


def _mha_torch_grads(module, tq, tk, padding, attn_mask, g):
    import torch

    out, _ = module(tq, tk, tk, key_padding_mask=torch.tensor(additive(padding)), attn_mask=torch.tensor(attn_mask),
                    need_weights=False)
    names, params = zip(*module.named_parameters())
    grads = torch.autograd.grad(out, [*params, tq, tk], torch.tensor(g))
    return out.detach().numpy(), dict(zip(names, grads[:len(params)])), grads[len(params):]


def test_mha_derivatives_both_modes_with_a_fully_masked_query():
    e, heads = 4, 2
    params = mha_params(e)
    mha = nn.MultiHeadAttention(e, heads)
    x = normal(2, 3, e)
    attn_mask = np.zeros((2, heads, 3, 3), bool)
    attn_mask[1, 0, 2] = True  # example 1, head 0, query 2: nothing to attend
    out = mha.apply(params, x, attn_mask=attn_mask)
    assert np.all(np.isfinite(out))
    check_grads(lambda p, x: mha.apply(p, x, attn_mask=attn_mask, is_causal=True), (params, x), order=1)
    check_grads(lambda x: mha.apply(params, x, key_padding_mask=np.array([[False, False, True]] * 2)), (x,),
                order=2)


def test_mha_accepts_torch_per_head_masks():
    e, heads = 4, 2
    params = mha_params(e)
    mha = nn.MultiHeadAttention(e, heads)
    x = normal(3, 5, e)
    per_head = RNG.random((3 * heads, 5, 5)) > 0.5  # PyTorch's (N * num_heads, L, S)
    per_head[..., 0] = False
    ours = mha.apply(params, x, attn_mask=per_head)
    np.testing.assert_allclose(ours, mha.apply(params, x, attn_mask=per_head.reshape(3, heads, 5, 5)))
    np.testing.assert_allclose(ours[1], mha.apply(params, x[1], attn_mask=per_head[heads:2 * heads]), atol=1e-12)


def test_mha_dropout_on_the_weights():
    mha = nn.MultiHeadAttention(8, 2, dropout=0.5)
    _, params = mha.init(random.key(0), (-1, 6, 8))
    x = normal(2, 6, 8).astype(np.float32)
    _, w1 = mha.apply(params, x, key=random.key(1), train=True, need_weights=True, average_attn_weights=False)
    _, w2 = mha.apply(params, x, key=random.key(1), train=True, need_weights=True, average_attn_weights=False)
    np.testing.assert_array_equal(w1, w2)
    assert set(np.unique(w1 == 0)) == {False, True}
    evaluation = mha.apply(params, x)
    np.testing.assert_array_equal(evaluation, mha.apply(params, x, key=random.key(1)))
    with pytest.raises(ValueError, match="needs a PRNG key"):
        mha.apply(params, x, train=True)


def test_mha_init_shapes_names_and_dtype():
    mha = nn.MultiHeadAttention(16, 4)
    out_shape, params = mha.init(random.key(0), ((-1, 7, 16), (-1, 9, 16), (-1, 9, 16)))
    assert out_shape == (-1, 7, 16)
    assert {k: v.shape for k, v in params["in_proj"].items()} == {"w": (16, 48), "b": (48,)}
    assert params["out_proj"]["w"].dtype == np.float32
    y = mha.apply(params, np.ones((2, 7, 16), np.float32), np.ones((2, 9, 16), np.float32))
    assert y.shape == (2, 7, 16) and y.dtype == np.float32


def test_mha_in_serial_with_causal_construction_and_the_tuple_input():
    model = nn.serial(nn.Dense(8), nn.MultiHeadAttention(8, 2, causal=True).named("attn"))
    out_shape, params = model.init(random.key(0), (-1, 5, 3))
    x = normal(2, 5, 3).astype(np.float32)
    y = model.apply(params, x)
    assert out_shape == (-1, 5, 8) and y.shape == (2, 5, 8)
    h = nn.dense(x, params["dense_0"]["w"], params["dense_0"]["b"])
    mha = nn.MultiHeadAttention(8, 2)
    np.testing.assert_allclose(y, mha.apply(params["attn"], h, is_causal=True), rtol=1e-6)
    np.testing.assert_allclose(mha.apply(params["attn"], (h, h, h)), mha.apply(params["attn"], h))


# --- masks as operands: jit, vmap, grad ---------------------------------------------------


def test_mha_under_jit_vmap_and_grad():
    e, heads = 8, 2
    params = mha_params(e)
    mha = nn.MultiHeadAttention(e, heads)
    x = normal(3, 5, e)
    padding = np.zeros((3, 5), bool)
    padding[2, 2:] = True

    def f(params, x, padding):
        return mha.apply(params, x, key_padding_mask=padding, is_causal=True)

    eager = f(params, x, padding)
    jitted = fn.jit(f)
    np.testing.assert_array_equal(jitted(params, x, padding), eager)
    other = padding.copy()
    other[0, 4] = True  # a new mask value: the same plan, new numbers
    np.testing.assert_array_equal(jitted(params, x, other), f(params, x, other))
    assert jitted.cache_size() == 1
    per_example = fn.vmap(f, in_axes=(None, 0, 0))(params, x, padding)
    np.testing.assert_allclose(per_example, eager, atol=1e-12)
    loss = lambda p: (f(p, x, padding) ** 2).sum()  # noqa: E731
    tree_util.tree_map(lambda a, b: np.testing.assert_allclose(a, b, atol=1e-10),
                       fn.jit(fn.grad(loss))(params), fn.grad(loss)(params))
    per_example_grads = fn.vmap(fn.grad(lambda p, x, m: (f(p, x, m) ** 2).sum()), in_axes=(None, 0, 0))(
        params, x, padding)
    np.testing.assert_allclose(per_example_grads["in_proj"]["w"].sum(0), fn.grad(loss)(params)["in_proj"]["w"],
                               atol=1e-10)


def test_dot_product_attention_under_vmap_and_jit():
    q, k = normal(4, 5, 2, 3), normal(4, 6, 2, 3)
    mask = RNG.random((4, 2, 5, 6)) > 0.3
    batched = nn.dot_product_attention(q, k, k, mask=mask)
    f = lambda q, k, m: nn.dot_product_attention(q, k, k, mask=m)  # noqa: E731
    np.testing.assert_allclose(fn.vmap(f)(q, k, mask), batched, atol=1e-12)
    np.testing.assert_array_equal(fn.jit(f)(q, k, mask), batched)


# --- Transformer layers -------------------------------------------------------------------


@pytest.mark.parametrize("norm_first", [False, True])
def test_encoder_layer_matches_numpy(norm_first):
    layer = nn.TransformerEncoderLayer(8, 2, dim_feedforward=16, norm_first=norm_first, dtype=np.float64)
    _, params = layer.init(random.key(0), (-1, 5, 8))
    params = tree_util.tree_map(lambda a: a + 0.1 * normal(*a.shape), params)  # nonzero biases
    x = normal(3, 5, 8)
    padding = np.zeros((3, 5), bool)
    padding[1, 3:] = True
    out = layer.apply(params, x, src_key_padding_mask=padding, is_causal=True, train=False)
    ref = np_encoder(params, x, 2, norm_first, key_padding_mask=padding, causal=True)
    np.testing.assert_allclose(out, ref, atol=1e-12)


@pytest.mark.parametrize("norm_first, activation", [(False, "relu"), (True, "gelu")])
def test_encoder_layer_values_and_gradients_match_torch(norm_first, activation):
    torch = pytest.importorskip("torch")
    torch.manual_seed(1)
    module = torch.nn.TransformerEncoderLayer(8, 2, dim_feedforward=16, dropout=0.0, activation=activation,
                                              norm_first=norm_first, batch_first=True, dtype=torch.float64)
    with torch.no_grad():
        for p in module.parameters():
            p.add_(0.1 * torch.randn_like(p))
    params = copy_transformer(module)
    layer = nn.TransformerEncoderLayer(8, 2, dim_feedforward=16, activation=activation, norm_first=norm_first)
    x, g = normal(2, 6, 8), normal(2, 6, 8)
    padding = np.zeros((2, 6), bool)
    padding[0, 4:] = True
    mask = nn.causal_mask(6, dtype=np.float64)
    out, vjp = fn.vjp(lambda p, x: layer.apply(p, x, src_mask=mask, src_key_padding_mask=padding), params, x)
    dparams, dx = vjp(g)
    tx = torch.tensor(x, requires_grad=True)
    t_out = module(tx, src_mask=torch.tensor(mask), src_key_padding_mask=torch.tensor(additive(padding)))
    names, tensors = zip(*module.named_parameters())
    t_grads = torch.autograd.grad(t_out, [*tensors, tx], torch.tensor(g))
    np.testing.assert_allclose(out, t_out.detach().numpy(), atol=1e-11)
    np.testing.assert_allclose(dx, t_grads[-1].numpy(), atol=1e-10)
    expected = torch_to_params((n, t.numpy()) for n, t in zip(names, t_grads[:-1]))
    tree_util.tree_map(lambda a, b: np.testing.assert_allclose(a, b, atol=1e-10), dparams, expected)


@pytest.mark.parametrize("norm_first", [False, True])
def test_decoder_layer_values_and_gradients_match_torch(norm_first):
    torch = pytest.importorskip("torch")
    torch.manual_seed(2)
    module = torch.nn.TransformerDecoderLayer(8, 4, dim_feedforward=12, dropout=0.0, norm_first=norm_first,
                                              batch_first=True, dtype=torch.float64)
    with torch.no_grad():
        for p in module.parameters():
            p.add_(0.1 * torch.randn_like(p))
    params = copy_transformer(module)
    assert sorted(params) == ["linear1", "linear2", "multihead_attn", "norm1", "norm2", "norm3", "self_attn"]
    layer = nn.TransformerDecoderLayer(8, 4, dim_feedforward=12, norm_first=norm_first)
    tgt, memory, g = normal(2, 5, 8), normal(2, 7, 8), normal(2, 5, 8)
    memory_padding = np.zeros((2, 7), bool)
    memory_padding[1, 5:] = True
    tgt_mask = nn.causal_mask(5, dtype=np.float64)

    def f(p, tgt, memory):
        return layer.apply(p, tgt, memory, tgt_mask=tgt_mask, memory_key_padding_mask=memory_padding)

    out, vjp = fn.vjp(f, params, tgt, memory)
    dparams, dtgt, dmemory = vjp(g)
    t_tgt, t_mem = (torch.tensor(a, requires_grad=True) for a in (tgt, memory))
    t_out = module(t_tgt, t_mem, tgt_mask=torch.tensor(tgt_mask),
                   memory_key_padding_mask=torch.tensor(additive(memory_padding)))
    names, tensors = zip(*module.named_parameters())
    t_grads = torch.autograd.grad(t_out, [*tensors, t_tgt, t_mem], torch.tensor(g))
    np.testing.assert_allclose(out, t_out.detach().numpy(), atol=1e-11)
    np.testing.assert_allclose(dtgt, t_grads[-2].numpy(), atol=1e-10)
    np.testing.assert_allclose(dmemory, t_grads[-1].numpy(), atol=1e-10)
    expected = torch_to_params((n, t.numpy()) for n, t in zip(names, t_grads[:-2]))
    tree_util.tree_map(lambda a, b: np.testing.assert_allclose(a, b, atol=1e-10), dparams, expected)


def test_transformer_layers_derivatives_both_modes():
    enc = nn.TransformerEncoderLayer(4, 2, dim_feedforward=6, activation="gelu", dtype=np.float64)
    _, params = enc.init(random.key(0), (-1, 3, 4))
    x = normal(2, 3, 4)
    check_grads(lambda p, x: enc.apply(p, x, is_causal=True), (params, x), order=1)
    dec = nn.TransformerDecoderLayer(4, 2, dim_feedforward=6, norm_first=True, dtype=np.float64)
    _, params = dec.init(random.key(1), ((-1, 3, 4), (-1, 2, 4)))
    check_grads(lambda x, m: dec.apply(params, x, m, tgt_is_causal=True), (x, normal(2, 2, 4)), order=1)


def test_encoder_layer_dropout_sites_and_modes():
    layer = nn.TransformerEncoderLayer(8, 2, dim_feedforward=16, dropout=0.3)
    _, params = layer.init(random.key(0), (-1, 5, 8))
    x = normal(2, 5, 8).astype(np.float32)
    a = layer.apply(params, x, key=random.key(1), train=True)
    np.testing.assert_array_equal(a, layer.apply(params, x, key=random.key(1), train=True))
    assert not np.allclose(a, layer.apply(params, x, key=random.key(2), train=True))
    evaluation = layer.apply(params, x)
    no_dropout = nn.TransformerEncoderLayer(8, 2, dim_feedforward=16, dropout=0.0)
    np.testing.assert_array_equal(evaluation, no_dropout.apply(params, x, train=True))
    with pytest.raises(ValueError, match="needs a PRNG key"):
        layer.apply(params, x, train=True)


def test_a_small_causal_language_model_composes():
    model = nn.serial(nn.Embedding(11, 8), nn.PositionalEmbedding(16),
                      nn.TransformerEncoderLayer(8, 2, dim_feedforward=16, causal=True),
                      nn.TransformerEncoderLayer(8, 2, dim_feedforward=16, causal=True, norm_first=True),
                      nn.LayerNorm(), nn.Dense(11))
    out_shape, params = model.init(random.key(0), (-1, 6))
    ids = RNG.integers(0, 11, (3, 6))
    logits = model.apply(params, ids, key=random.key(1), train=True)
    assert out_shape == (-1, 6, 11) and logits.shape == (3, 6, 11)
    assert sorted(params["transformer_encoder_layer_2"]) == ["linear1", "linear2", "norm1", "norm2", "self_attn"]
    # causal: changing the last token leaves the earlier positions' outputs alone
    changed = ids.copy()
    changed[:, -1] = (changed[:, -1] + 1) % 11
    np.testing.assert_allclose(model.apply(params, changed)[:, :-1], model.apply(params, ids)[:, :-1], rtol=1e-5)
    decoder = nn.TransformerDecoderLayer(8, 2, dim_feedforward=16, causal=True)
    out_shape, dparams = decoder.init(random.key(2), ((-1, 6, 8), (-1, 4, 8)))
    assert out_shape == (-1, 6, 8)
    tgt = np.ones((3, 6, 8), np.float32)
    np.testing.assert_allclose(decoder.apply(dparams, (tgt, np.ones((3, 4, 8), np.float32))),
                               decoder.apply(dparams, tgt, np.ones((3, 4, 8), np.float32), tgt_is_causal=True))


# --- positions and the causal mask ---------------------------------------------------------


def test_sinusoidal_positional_encoding_formula():
    pe = nn.sinusoidal_positional_encoding(7, 5, dtype=np.float64)
    pos, i = np.arange(7)[:, None], np.arange(5)[None, :]
    angle = pos / 10000.0 ** ((i - i % 2) / 5)
    np.testing.assert_allclose(pe, np.where(i % 2 == 0, np.sin(angle), np.cos(angle)), atol=1e-15)


def test_positional_embedding_adds_the_first_rows():
    layer = nn.PositionalEmbedding(10)
    _, params = layer.init(random.key(0), (-1, 4, 3))
    x = normal(2, 4, 3).astype(np.float32)
    np.testing.assert_allclose(layer.apply(params, x), x + params["embeddings"][:4])
    np.testing.assert_allclose(layer.apply(params, x[:, :2]), x[:, :2] + params["embeddings"][:2])
    with pytest.raises(ValueError, match=r"seq <= 10"):
        layer.apply(params, normal(2, 11, 3))
    with pytest.raises(ValueError, match=r"max_length=10; got \(-1, 12, 3\)"):
        layer.init(random.key(0), (-1, 12, 3))


def test_causal_mask_is_pytorchs_square_subsequent_mask():
    np.testing.assert_array_equal(nn.causal_mask(3), [[0, -np.inf, -np.inf], [0, 0, -np.inf], [0, 0, 0]])
    assert nn.causal_mask(2, 4).shape == (2, 4) and nn.causal_mask(2).dtype == np.float32
    torch = pytest.importorskip("torch")
    np.testing.assert_array_equal(nn.causal_mask(5), torch.nn.Transformer.generate_square_subsequent_mask(5).numpy())


# --- bad inputs ---------------------------------------------------------------------------


def test_num_heads_must_divide_the_width():
    with pytest.raises(ValueError, match="num_heads=3 must divide embed_dim=8"):
        nn.MultiHeadAttention(8, 3)
    with pytest.raises(ValueError, match="nhead=3 must divide d_model=8"):
        nn.TransformerEncoderLayer(8, 3)
    with pytest.raises(ValueError, match="activation must be 'relu', 'gelu' or a function"):
        nn.TransformerDecoderLayer(8, 2, activation="tanh")


def test_errors_name_the_params_key_and_the_shapes():
    model = nn.serial(nn.TransformerEncoderLayer(8, 2, dim_feedforward=16).named("block"))
    _, params = model.init(random.key(0), (-1, 5, 8))
    with pytest.raises(ValueError, match=re.escape(
            "MultiHeadAttention layer 'self_attn' (params['block']['self_attn']): the query must have shape "
            "(..., seq, 8) to match in_proj w of shape (8, 24) (embed_dim=8); got shape (2, 5, 7)")):
        model.apply(params, np.zeros((2, 5, 7), np.float32))
    with pytest.raises(ValueError, match=re.escape("TransformerEncoderLayer layer 'block' (params['block']): "
                                                   "input_shape must be (..., seq, 8); got (-1, 5, 6)")):
        model.init(random.key(0), (-1, 5, 6))
    bad = tree_util.tree_map(lambda a: a, params)
    bad["block"]["linear1"]["w"] = np.zeros((8, 15), np.float32)
    with pytest.raises(ValueError, match=re.escape("Dense layer 'linear1' (params['block']['linear1']): w must "
                                                   "have shape (8, 16)")):
        model.apply(params | bad, np.zeros((2, 5, 8), np.float32))
    with pytest.raises(ValueError, match="the query must have shape .*; got shape \\(8,\\)"):
        nn.MultiHeadAttention(8, 2).apply(params["block"]["self_attn"], np.zeros(8, np.float32))


@pytest.mark.parametrize("kwargs, message", [
    ({"key_padding_mask": np.zeros((2, 4), bool)},
     r"key_padding_mask has shape \(2, 4\), but it must have shape \(2, 5\)"),
    ({"attn_mask": np.zeros((5, 4), bool)}, r"attn_mask has shape \(5, 4\), but .* must have shape \(5, 5\) or "
                                           r"\(4, 5, 5\) or \(2, 2, 5, 5\)"),
    ({"attn_mask": np.zeros((5, 5), np.int64)}, "attn_mask must be boolean .* or floating .*; got dtype int64"),
    ({"key_padding_mask": np.zeros((2, 5), np.int32)}, "key_padding_mask must be boolean"),
])
def test_mha_rejects_bad_masks(kwargs, message):
    mha = nn.MultiHeadAttention(8, 2)
    _, params = mha.init(random.key(0), (-1, 5, 8))
    with pytest.raises(ValueError, match=message):
        mha.apply(params, np.zeros((2, 5, 8), np.float32), **kwargs)


def test_mha_rejects_mismatched_inputs():
    mha = nn.MultiHeadAttention(8, 2)
    _, params = mha.init(random.key(0), (-1, 5, 8))
    x = np.zeros((2, 5, 8), np.float32)
    with pytest.raises(ValueError, match=r"the keys and values the same length .* got shapes \(2, 5, 8\), "
                                         r"\(2, 6, 8\) and \(2, 7, 8\)"):
        mha.apply(params, x, np.zeros((2, 6, 8), np.float32), np.zeros((2, 7, 8), np.float32))
    with pytest.raises(ValueError, match=r"the query must be floating"):
        mha.apply(params, np.zeros((2, 5, 8), np.int64))
    with pytest.raises(ValueError, match=r"in_proj w must have shape \(8, 24\)"):
        mha.apply({"in_proj": {"w": np.zeros((8, 8)), "b": np.zeros(24)}, "out_proj": params["out_proj"]}, x)
    with pytest.raises(ValueError, match=r"the keys shape must be \(..., seq, 8\)"):
        mha.init(random.key(0), ((-1, 5, 8), (-1, 5, 4), (-1, 5, 8)))
    dec = nn.TransformerDecoderLayer(8, 2)
    with pytest.raises(ValueError, match="input_shape must be a tuple of two shapes"):
        dec.init(random.key(0), (-1, 5, 8))
