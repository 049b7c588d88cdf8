"""HIPS autograd: ``autograd.numpy`` over a dict of parameters, ``value_and_grad``, SGD by hand.

autograd has no convolution for deep learning, so the convolution is what a user writes
with it: pad, stack the nine shifted views (im2col), one ``tensordot``. Max-pooling is a
reshape and a ``max`` over the window axes.
"""
from __future__ import annotations

import functools
from typing import Any, Callable

import autograd
import autograd.numpy as anp
import numpy as np
from autograd.scipy.special import logsumexp

from benchmarks._workloads import LEARNING_RATE, Case, Runner, chain, nest, train_check, unnest


def versions() -> dict[str, str]:
    from importlib.metadata import version

    return {"autograd": version("autograd")}


def configure(threads: int) -> None:
    """autograd runs on NumPy, whose BLAS threads come from the environment the harness sets."""


def _conv2d(x: Any, w: Any) -> Any:
    """Stride 1, padding 1 (``w`` of shape ``(out, in, k, k)``)."""
    n, c, h, width = x.shape
    k = w.shape[2]
    xp = anp.pad(x, ((0, 0), (0, 0), (1, 1), (1, 1)), "constant")
    cols = anp.stack([xp[:, :, i:i + h, j:j + width] for i in range(k) for j in range(k)], axis=2)
    out = anp.tensordot(cols, anp.reshape(w, (w.shape[0], c, k * k)), axes=([1, 2], [1, 2]))  # (n, h, w, out)
    return anp.transpose(out, (0, 3, 1, 2))


def _max_pool2d(x: Any) -> Any:
    n, c, h, w = x.shape
    return anp.max(anp.reshape(x, (n, c, h // 2, 2, w // 2, 2)), axis=(3, 5))


def _cross_entropy(logits: Any, labels: Any) -> Any:
    picked = logits[np.arange(len(labels)), labels]
    return anp.mean(logsumexp(logits, axis=1) - picked)


def _relu(x: Any) -> Any:
    return anp.maximum(x, 0.0)


def _mlp(params: dict, x: Any) -> Any:
    *hidden, last = (params[f"dense_{i}"] for i in range(len(params)))
    for layer in hidden:
        x = _relu(anp.dot(x, layer["w"]) + layer["b"])
    return anp.dot(x, last["w"]) + last["b"]


def _cnn(params: dict, x: Any) -> Any:
    for name in ("conv_0", "conv_1"):
        x = _conv2d(x, params[name]["w"]) + anp.reshape(params[name]["b"], (-1, 1, 1))
        x = _max_pool2d(_relu(x))
    return anp.dot(anp.reshape(x, (x.shape[0], -1)), params["dense"]["w"]) + params["dense"]["b"]


def _layer_norm(x: Any, p: dict, eps: float = 1e-5) -> Any:
    centred = x - anp.mean(x, axis=-1, keepdims=True)
    return centred / anp.sqrt(anp.mean(centred * centred, axis=-1, keepdims=True) + eps) * p["scale"] + p["bias"]


def _softmax(x: Any) -> Any:
    return anp.exp(x - logsumexp(x, axis=-1, keepdims=True))


def _attention(params: dict, x: Any, heads: int) -> Any:
    """PyTorch's post-norm ``TransformerEncoderLayer`` (ReLU, no dropout) on ``(batch, seq, width)``,
    written with ``autograd.numpy`` on the ``batch * seq`` rows (``np.dot`` of a 3-d array by a
    matrix does not reach BLAS); the mean over the sequence into the dense head."""
    p, (batch, seq, width) = params["encoder"], x.shape
    attn, head_dim = p["self_attn"], width // heads
    rows = anp.reshape(x, (batch * seq, width))
    qkv = anp.dot(rows, attn["in_proj"]["w"]) + attn["in_proj"]["b"]
    q, k, v = (anp.transpose(anp.reshape(qkv[:, i * width:(i + 1) * width], (batch, seq, heads, head_dim)),
                             (0, 2, 1, 3)) for i in range(3))  # (batch, heads, seq, head_dim)
    weights = _softmax(anp.matmul(q, anp.transpose(k, (0, 1, 3, 2))) / np.sqrt(head_dim))
    out = anp.reshape(anp.transpose(anp.matmul(weights, v), (0, 2, 1, 3)), (batch * seq, width))
    h = _layer_norm(rows + anp.dot(out, attn["out_proj"]["w"]) + attn["out_proj"]["b"], p["norm1"])
    hidden = _relu(anp.dot(h, p["linear1"]["w"]) + p["linear1"]["b"])
    h = _layer_norm(h + anp.dot(hidden, p["linear2"]["w"]) + p["linear2"]["b"], p["norm2"])
    pooled = anp.mean(anp.reshape(h, (batch, seq, width)), axis=1)
    return anp.dot(pooled, params["dense"]["w"]) + params["dense"]["b"]


def _sgd(params: dict, grads: dict, lr: Any) -> dict:
    return {name: _sgd(p, grads[name], lr) if isinstance(p, dict) else p - lr * grads[name]
            for name, p in params.items()}


def _training(predict: Callable, data: dict) -> Runner:
    value_and_grad = autograd.value_and_grad(lambda params, x, labels: _cross_entropy(predict(params, x), labels))
    state: dict[str, Any] = {"params": nest(data["params"])}
    x, labels = data["x"], data["labels"]
    lr = np.float32(LEARNING_RATE)

    def step() -> float:
        loss, grads = value_and_grad(state["params"], x, labels)
        state["params"] = _sgd(state["params"], grads, lr)
        state["grads"] = grads
        return float(loss)

    return Runner(step, lambda: train_check(step, lambda: unnest(state["grads"])))


def conv(case: Case, data: dict) -> Runner:
    x, w, g = data["x"], data["w"], data["g"]

    def step() -> tuple:
        conv_vjp, out = autograd.make_vjp(lambda xw: _conv2d(*xw))((x, w))
        return (out, *conv_vjp(g))

    def check() -> dict:
        out, dx, dw = step()
        return {"out": out, "grad x": dx, "grad w": dw}

    return Runner(step, check)


def overhead(case: Case, data: dict) -> Runner:
    f, x = chain(anp), data["x"]
    grad = autograd.grad(f)
    return Runner(lambda: grad(x), lambda: {"value": f(x), "grad x": grad(x)})


WORKLOADS = {
    "mlp_step": lambda case, data: _training(_mlp, data),
    "cnn_step": lambda case, data: _training(_cnn, data),
    "conv": conv,
    "overhead": overhead,
    "attention_step": lambda case, data: _training(functools.partial(_attention, heads=case.sizes["heads"]), data),
}
