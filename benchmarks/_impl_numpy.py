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
             "per_example_grads": per_example_grads}
