"""NumPy by hand: forward and backward written out, float32 throughout, SGD in place.

The floor a NumPy library can reach: no tracing, no graph, no checks, every
intermediate reused or updated in place where that is safe. Convolutions use the
im2col kernel of ``_numpy_conv.py``.
"""
from __future__ import annotations

from typing import Any

import numpy as np

from benchmarks import _numpy_conv
from benchmarks._workloads import per_example_check, CHAIN_OPS, LEARNING_RATE, Case, Runner, train_check


def versions() -> dict[str, str]:
    return {"numpy": np.__version__}


def configure(threads: int) -> None:
    """NumPy's BLAS threads come from the environment the harness sets."""


# --- pieces shared by the two networks -----------------------------------------------------------


def _softmax_cross_entropy(logits: np.ndarray, labels: np.ndarray) -> tuple[float, np.ndarray]:
    """Mean cross-entropy of integer ``labels`` and its gradient with respect to ``logits``."""
    rows = np.arange(len(labels))
    shifted = logits - logits.max(axis=1, keepdims=True)
    exp = np.exp(shifted)
    total = exp.sum(axis=1, keepdims=True)
    loss = float(np.mean(np.log(total[:, 0]) - shifted[rows, labels]))
    exp /= total
    exp[rows, labels] -= 1.0
    exp /= np.float32(len(labels))
    return loss, exp


def _sgd(params: dict[str, np.ndarray], grads: dict[str, np.ndarray]) -> None:
    lr = np.float32(LEARNING_RATE)
    for name, g in grads.items():
        params[name] -= lr * g


def _training(forward_backward: Any, data: dict) -> Runner:
    params = {name: p.copy() for name, p in data["params"].items()}
    x, labels = data["x"], data["labels"]
    last: dict[str, Any] = {}

    def step() -> float:
        loss, grads = forward_backward(params, x, labels)
        _sgd(params, grads)
        last["grads"] = grads
        return loss

    return Runner(step, lambda: train_check(step, lambda: last["grads"]))


# --- mlp -------------------------------------------------------------------------------------


def _mlp_forward(params: dict, x: np.ndarray) -> tuple[list[np.ndarray], np.ndarray]:
    """Every layer's input (for the backward pass) and the logits."""
    layers = len(params) // 2
    acts = [x]
    for i in range(layers - 1):
        h = acts[-1] @ params[f"dense_{i}.w"]
        h += params[f"dense_{i}.b"]
        acts.append(np.maximum(h, 0.0, out=h))
    return acts, acts[-1] @ params[f"dense_{layers - 1}.w"] + params[f"dense_{layers - 1}.b"]


def _mlp_forward_backward(params: dict, x: np.ndarray, labels: np.ndarray) -> tuple[float, dict]:
    layers = len(params) // 2
    acts, logits = _mlp_forward(params, x)
    loss, d = _softmax_cross_entropy(logits, labels)
    grads = {}
    for i in reversed(range(layers)):
        grads[f"dense_{i}.w"] = acts[i].T @ d
        grads[f"dense_{i}.b"] = d.sum(axis=0)
        if i:
            d = d @ params[f"dense_{i}.w"].T
            d *= acts[i] > 0
    return loss, grads


def mlp_step(case: Case, data: dict) -> Runner:
    return _training(_mlp_forward_backward, data)


def _mlp_per_example_grads(params: dict, x: np.ndarray, labels: np.ndarray) -> dict:
    """Each example's gradient by hand: the backward pass of the batch with each example's loss
    unaveraged, and outer products per example instead of one product summed over the batch."""
    layers = len(params) // 2
    acts, logits = _mlp_forward(params, x)
    d = _softmax_cross_entropy(logits, labels)[1] * np.float32(len(labels))  # each example's own loss
    grads = {}
    for i in reversed(range(layers)):
        grads[f"dense_{i}.w"] = acts[i][:, :, None] * d[:, None, :]
        grads[f"dense_{i}.b"] = d.copy()
        if i:
            d = d @ params[f"dense_{i}.w"].T
            d *= acts[i] > 0
    return grads


def per_example_grads(case: Case, data: dict) -> Runner:
    params, x, labels = data["params"], data["x"], data["labels"]
    if case.sizes["route"] == "batched":
        def grads() -> dict:
            return _mlp_forward_backward(params, x, labels)[1]
    else:  # by hand there is one way to get per-example gradients, whichever route a library takes
        def grads() -> dict:
            return _mlp_per_example_grads(params, x, labels)
    return Runner(grads, lambda: per_example_check(grads))


# --- cnn -------------------------------------------------------------------------------------


def _pool_forward(a: np.ndarray) -> tuple[np.ndarray, tuple]:
    """2x2 max-pool, stride 2: the output and the mask of the winners."""
    n, c, h, w = a.shape
    windows = a.reshape(n, c, h // 2, 2, w // 2, 2)
    out = windows.max(axis=(3, 5))
    return out, (windows == out[:, :, :, None, :, None], a.shape)


def _pool_backward(g: np.ndarray, saved: tuple) -> np.ndarray:
    winners, shape = saved
    return (winners * g[:, :, :, None, :, None]).reshape(shape)


def _conv_block(x: np.ndarray, w: np.ndarray, b: np.ndarray) -> tuple[np.ndarray, tuple]:
    """conv 3x3 (padding 1) + bias + ReLU + 2x2 max-pool, and what the backward needs."""
    h, conv_saved = _numpy_conv.conv2d_forward(x, w, 1)
    h += b[:, None, None]
    np.maximum(h, 0.0, out=h)
    out, pool_saved = _pool_forward(h)
    return out, (conv_saved, h, pool_saved)


def _conv_block_backward(g: np.ndarray, saved: tuple, input_grad: bool = True) -> tuple:
    """Gradients of the block's input (``None`` unless ``input_grad``), kernel and bias."""
    conv_saved, h, pool_saved = saved
    g = _pool_backward(g, pool_saved)
    g *= h > 0
    if input_grad:
        dx, dw = _numpy_conv.conv2d_backward(g, conv_saved)
    else:  # the first layer: only the kernel's gradient, one GEMM with the saved unfolded input
        cols, _, w, _ = conv_saved
        dx, dw = None, (g.transpose(0, 2, 3, 1).reshape(-1, w.shape[0]).T @ cols).reshape(w.shape)
    return dx, dw, g.sum(axis=(0, 2, 3))


def _cnn_forward_backward(params: dict, x: np.ndarray, labels: np.ndarray) -> tuple[float, dict]:
    h0, saved0 = _conv_block(x, params["conv_0.w"], params["conv_0.b"])
    h1, saved1 = _conv_block(h0, params["conv_1.w"], params["conv_1.b"])
    flat = h1.reshape(len(h1), -1)
    loss, d = _softmax_cross_entropy(flat @ params["dense.w"] + params["dense.b"], labels)
    grads = {"dense.w": flat.T @ d, "dense.b": d.sum(axis=0)}
    g = (d @ params["dense.w"].T).reshape(h1.shape)
    g, grads["conv_1.w"], grads["conv_1.b"] = _conv_block_backward(g, saved1)
    _, grads["conv_0.w"], grads["conv_0.b"] = _conv_block_backward(g, saved0, input_grad=False)
    return loss, grads


def cnn_step(case: Case, data: dict) -> Runner:
    return _training(_cnn_forward_backward, data)


# --- lstm ------------------------------------------------------------------------------------


def _sigmoid(a: np.ndarray) -> np.ndarray:
    """In place; ``0.5 tanh(a / 2) + 0.5`` cannot overflow."""
    a *= 0.5
    np.tanh(a, out=a)
    a *= 0.5
    a += 0.5
    return a


def _lstm_forward(p: dict, xs: np.ndarray) -> tuple:
    """The LSTM over the time-major input ``xs`` (steps, batch, features): every step's ``h`` and
    ``c`` (from the zeros at index 0), its gates after their nonlinearities and ``tanh(c)``."""
    w_hh_t = p["lstm.w_hh"].T
    xw = xs @ p["lstm.w_ih"].T
    xw += p["lstm.b_ih"] + p["lstm.b_hh"]
    steps, batch, _ = xs.shape
    n = w_hh_t.shape[0]
    hs = np.zeros((steps + 1, batch, n), np.float32)
    cs = np.zeros_like(hs)
    tanh_c = np.empty((steps, batch, n), np.float32)
    for t in range(steps):
        a = xw[t]  # the gates i, f, g, o, turned into their activations in place
        a += hs[t] @ w_hh_t
        _sigmoid(a[:, :2 * n])
        np.tanh(a[:, 2 * n:3 * n], out=a[:, 2 * n:3 * n])
        _sigmoid(a[:, 3 * n:])
        np.multiply(a[:, n:2 * n], cs[t], out=cs[t + 1])
        cs[t + 1] += a[:, :n] * a[:, 2 * n:3 * n]
        np.tanh(cs[t + 1], out=tanh_c[t])
        np.multiply(a[:, 3 * n:], tanh_c[t], out=hs[t + 1])
    return hs, cs, xw, tanh_c


def _lstm_forward_backward(params: dict, x: np.ndarray, labels: np.ndarray) -> tuple[float, dict]:
    xs = np.ascontiguousarray(x.transpose(1, 0, 2))
    hs, cs, gates, tanh_c = _lstm_forward(params, xs)
    n = hs.shape[-1]
    loss, d = _softmax_cross_entropy(hs[-1] @ params["dense.w"] + params["dense.b"], labels)
    grads = {"dense.w": hs[-1].T @ d, "dense.b": d.sum(axis=0)}
    dh, dc = d @ params["dense.w"].T, np.zeros_like(hs[0])
    d_gates = np.empty_like(gates)
    w_hh = params["lstm.w_hh"]
    for t in reversed(range(len(xs))):
        i, f, g, o = (gates[t][:, k * n:(k + 1) * n] for k in range(4))
        di, df, dg, do = (d_gates[t][:, k * n:(k + 1) * n] for k in range(4))
        np.multiply(dh, tanh_c[t], out=do)
        do *= o * (1.0 - o)
        dc += dh * o * (1.0 - tanh_c[t] * tanh_c[t])
        np.multiply(dc, g * i * (1.0 - i), out=di)
        np.multiply(dc, cs[t] * f * (1.0 - f), out=df)
        np.multiply(dc, i * (1.0 - g * g), out=dg)
        dc *= f
        dh = d_gates[t] @ w_hh
    flat = d_gates.reshape(-1, 4 * n)
    grads["lstm.w_ih"] = flat.T @ xs.reshape(-1, xs.shape[-1])
    grads["lstm.w_hh"] = flat.T @ hs[:-1].reshape(-1, n)
    grads["lstm.b_ih"] = flat.sum(axis=0)
    grads["lstm.b_hh"] = grads["lstm.b_ih"].copy()
    return loss, grads


def lstm_step(case: Case, data: dict) -> Runner:
    return _training(_lstm_forward_backward, data)


# --- attention ---------------------------------------------------------------------------------


def _layer_norm_forward(h: np.ndarray, scale: np.ndarray, bias: np.ndarray, eps: float = 1e-5) -> tuple:
    """LayerNorm over the last axis of the rows ``h`` (overwritten by the normalised rows)."""
    h -= h.mean(axis=-1, keepdims=True)
    rstd = np.mean(h * h, axis=-1, keepdims=True)
    rstd += np.float32(eps)
    np.sqrt(rstd, out=rstd)
    np.reciprocal(rstd, out=rstd)
    h *= rstd  # x hat
    return h * scale + bias, (h, rstd)


def _layer_norm_backward(dy: np.ndarray, scale: np.ndarray, saved: tuple) -> tuple:
    """The gradients of the input, the scale and the bias, from the output's ``dy``."""
    xhat, rstd = saved
    d_scale, d_bias = np.einsum("ij,ij->j", dy, xhat), dy.sum(axis=0)
    g = dy * scale
    dx = g - g.mean(axis=-1, keepdims=True)
    dx -= xhat * np.einsum("ij,ij->i", g, xhat)[:, None] / np.float32(xhat.shape[-1])
    dx *= rstd
    return dx, d_scale, d_bias


def _attention_forward_backward(params: dict, x: np.ndarray, labels: np.ndarray, heads: int) -> tuple[float, dict]:
    """The post-norm encoder layer, its mean over the sequence and the dense head, forward and
    backward written out on the ``batch * seq`` rows (one matrix product per projection), the
    heads as one batched product for the scores and one for the weighted values."""
    p = {name.removeprefix("encoder.").removeprefix("self_attn."): value for name, value in params.items()}
    batch, seq, width = x.shape
    head_dim = width // heads
    scale = np.float32(1.0 / np.sqrt(head_dim))
    rows = x.reshape(-1, width)

    # forward
    qkv = rows @ p["in_proj.w"]
    qkv += p["in_proj.b"]
    q, k, v = qkv.reshape(batch, seq, 3, heads, head_dim).transpose(2, 0, 3, 1, 4)  # (batch, heads, seq, head_dim)
    weights = q @ k.swapaxes(-1, -2)
    weights *= scale
    weights -= weights.max(axis=-1, keepdims=True)
    np.exp(weights, out=weights)
    weights /= weights.sum(axis=-1, keepdims=True)
    attended = (weights @ v).transpose(0, 2, 1, 3).reshape(-1, width)  # heads merged back: (rows, width)
    h = attended @ p["out_proj.w"]
    h += p["out_proj.b"]
    h += rows
    y1, norm1 = _layer_norm_forward(h, p["norm1.scale"], p["norm1.bias"])
    hidden = y1 @ p["linear1.w"]
    hidden += p["linear1.b"]
    np.maximum(hidden, 0.0, out=hidden)
    h = hidden @ p["linear2.w"]
    h += p["linear2.b"]
    h += y1
    y2, norm2 = _layer_norm_forward(h, p["norm2.scale"], p["norm2.bias"])
    pooled = y2.reshape(batch, seq, width).mean(axis=1)
    loss, d = _softmax_cross_entropy(pooled @ params["dense.w"] + params["dense.b"], labels)

    # backward
    grads = {"dense.w": pooled.T @ d, "dense.b": d.sum(axis=0)}
    d_pooled = d @ params["dense.w"].T
    d_pooled /= np.float32(seq)
    dy = np.repeat(d_pooled, seq, axis=0)  # each row of an example gets its share of the mean
    dh, grads["encoder.norm2.scale"], grads["encoder.norm2.bias"] = _layer_norm_backward(dy, p["norm2.scale"], norm2)
    grads["encoder.linear2.w"], grads["encoder.linear2.b"] = hidden.T @ dh, dh.sum(axis=0)
    d_hidden = dh @ p["linear2.w"].T
    d_hidden *= hidden > 0
    grads["encoder.linear1.w"], grads["encoder.linear1.b"] = y1.T @ d_hidden, d_hidden.sum(axis=0)
    dy = d_hidden @ p["linear1.w"].T
    dy += dh  # the residual
    dh, grads["encoder.norm1.scale"], grads["encoder.norm1.bias"] = _layer_norm_backward(dy, p["norm1.scale"], norm1)
    attn = "encoder.self_attn"
    grads[f"{attn}.out_proj.w"], grads[f"{attn}.out_proj.b"] = attended.T @ dh, dh.sum(axis=0)
    d_attended = (dh @ p["out_proj.w"].T).reshape(batch, seq, heads, head_dim).transpose(0, 2, 1, 3)
    d_qkv = np.empty((batch, seq, 3, heads, head_dim), np.float32)
    dq, dk, dv = d_qkv.transpose(2, 0, 3, 1, 4)  # views: written below in place
    np.matmul(weights.swapaxes(-1, -2), d_attended, out=dv)
    d_weights = d_attended @ v.swapaxes(-1, -2)
    d_weights -= np.einsum("bhqk,bhqk->bhq", d_weights, weights)[..., None]  # through the softmax
    d_weights *= weights
    d_weights *= scale
    np.matmul(d_weights, k, out=dq)
    np.matmul(d_weights.swapaxes(-1, -2), q, out=dk)
    d_qkv = d_qkv.reshape(-1, 3 * width)
    grads[f"{attn}.in_proj.w"], grads[f"{attn}.in_proj.b"] = rows.T @ d_qkv, d_qkv.sum(axis=0)
    return loss, grads


def attention_step(case: Case, data: dict) -> Runner:
    heads = case.sizes["heads"]
    return _training(lambda params, x, labels: _attention_forward_backward(params, x, labels, heads), data)


# --- conv and overhead -------------------------------------------------------------------------


def conv(case: Case, data: dict) -> Runner:
    x, w, g = data["x"], data["w"], data["g"]

    def step() -> tuple:
        return _numpy_conv.conv2d_forward_backward(x, w, g, 1)

    def check() -> dict:
        out, dx, dw = step()
        return {"out": out, "grad x": dx, "grad w": dw}

    return Runner(step, check)


def _chain_value_and_grad(x: np.ndarray) -> tuple[float, np.ndarray]:
    """The chain of ``_workloads.chain`` and its gradient, the derivatives kept on the way forward."""
    partials = []
    for _ in range(CHAIN_OPS // 4):
        partials.append(np.cos(x))
        x = np.tanh(np.sin(x) * 1.01)
        partials.append(1.0 - x * x)
        x = x + 0.1
    g = np.ones_like(x)
    for i in reversed(range(0, len(partials), 2)):
        g = g * partials[i + 1] * 1.01 * partials[i]
    return float(np.sum(x)), g


def overhead(case: Case, data: dict) -> Runner:
    x = data["x"]

    def check() -> dict:
        value, grad = _chain_value_and_grad(x)
        return {"value": value, "grad x": grad}

    return Runner(lambda: _chain_value_and_grad(x), check)


WORKLOADS = {"mlp_step": mlp_step, "cnn_step": cnn_step, "conv": conv, "overhead": overhead,
             "per_example_grads": per_example_grads, "lstm_step": lstm_step, "attention_step": attention_step}
