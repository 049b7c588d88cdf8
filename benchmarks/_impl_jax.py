"""JAX, eager (op by op, no ``jit``): ``jax.value_and_grad`` over a dict of parameters, SGD as a
``tree_map``, ``lax.conv_general_dilated`` and ``lax.reduce_window`` in PyTorch's NCHW layout.
``_impl_jax_jit.py`` runs the same functions under ``jax.jit``.

Every timed call waits for all its results (``block_until_ready`` on the new parameters,
the loss as a float), so asynchronous dispatch cannot hide work in the next sample.
"""
from __future__ import annotations

import functools
from typing import Any, Callable

import jax
import jax.numpy as jnp
import numpy as np
from jax import lax

from benchmarks._workloads import LEARNING_RATE, Case, Runner, chain, nest, per_example_check, train_check, unnest


def versions() -> dict[str, str]:
    import jaxlib

    return {"jax": jax.__version__, "jaxlib": jaxlib.__version__}


def configure(threads: int) -> None:
    """XLA sizes its thread pool from the CPUs the process may use; the harness pins those."""
    jax.config.update("jax_platforms", "cpu")
    jnp.zeros(1).block_until_ready()  # start the backend now, while the other workers start too


def _identity(f: Callable) -> Callable:
    return f


def _conv2d(x: Any, w: Any) -> Any:
    return lax.conv_general_dilated(x, w, (1, 1), ((1, 1), (1, 1)), dimension_numbers=("NCHW", "OIHW", "NCHW"))


def _max_pool2d(x: Any) -> Any:
    return lax.reduce_window(x, -jnp.inf, lax.max, (1, 1, 2, 2), (1, 1, 2, 2), "VALID")


def _cross_entropy(logits: Any, labels: Any) -> Any:
    log_probs = jax.nn.log_softmax(logits)
    return -jnp.mean(jnp.take_along_axis(log_probs, labels[:, None], axis=1))


def _mlp(params: dict, x: Any) -> Any:
    *hidden, last = (params[f"dense_{i}"] for i in range(len(params)))
    for layer in hidden:
        x = jax.nn.relu(x @ layer["w"] + layer["b"])
    return x @ last["w"] + last["b"]


def _cnn(params: dict, x: Any) -> Any:
    for name in ("conv_0", "conv_1"):
        x = _conv2d(x, params[name]["w"]) + params[name]["b"][:, None, None]
        x = _max_pool2d(jax.nn.relu(x))
    return x.reshape(x.shape[0], -1) @ params["dense"]["w"] + params["dense"]["b"]


def _lstm(params: dict, x: Any) -> Any:
    """An LSTM as JAX users write it: the input's share of the gates for all steps at once, then
    ``lax.scan`` over the steps; its last ``h`` into the dense head."""
    p = params["lstm"]
    xw = jnp.swapaxes(x, 0, 1) @ p["w_ih"].T + (p["b_ih"] + p["b_hh"])

    def step(carry: tuple, xw_t: Any) -> tuple:
        h, c = carry
        i, f, g, o = jnp.split(xw_t + h @ p["w_hh"].T, 4, axis=-1)
        c = jax.nn.sigmoid(f) * c + jax.nn.sigmoid(i) * jnp.tanh(g)
        return (jax.nn.sigmoid(o) * jnp.tanh(c), c), None

    zeros = jnp.zeros((x.shape[0], p["w_hh"].shape[1]), x.dtype)
    (h, _), _ = lax.scan(step, (zeros, zeros), xw)
    return h @ params["dense"]["w"] + params["dense"]["b"]


def _layer_norm(x: Any, p: dict, eps: float = 1e-5) -> Any:
    mean = jnp.mean(x, axis=-1, keepdims=True)
    var = jnp.mean(jnp.square(x - mean), axis=-1, keepdims=True)
    return (x - mean) * lax.rsqrt(var + eps) * p["scale"] + p["bias"]


def _encoder_layer(p: dict, x: Any, heads: int) -> Any:
    """PyTorch's post-norm ``TransformerEncoderLayer`` (ReLU, no dropout) as JAX users write it:
    one product for q, k and v, the heads split off the last axis, ``einsum`` for the scores
    and the weighted values."""
    batch, seq, width = x.shape
    attn = p["self_attn"]
    qkv = (x @ attn["in_proj"]["w"] + attn["in_proj"]["b"]).reshape(batch, seq, 3 * heads, width // heads)
    q, k, v = jnp.split(qkv, 3, axis=2)  # each (batch, seq, heads, head_dim)
    scores = jnp.einsum("bqhd,bkhd->bhqk", q, k) / np.sqrt(width // heads).astype(np.float32)
    out = jnp.einsum("bhqk,bkhd->bqhd", jax.nn.softmax(scores, axis=-1), v).reshape(batch, seq, width)
    x = _layer_norm(x + out @ attn["out_proj"]["w"] + attn["out_proj"]["b"], p["norm1"])
    hidden = jax.nn.relu(x @ p["linear1"]["w"] + p["linear1"]["b"])
    return _layer_norm(x + hidden @ p["linear2"]["w"] + p["linear2"]["b"], p["norm2"])


def _attention(params: dict, x: Any, heads: int) -> Any:
    pooled = jnp.mean(_encoder_layer(params["encoder"], x, heads), axis=1)
    return pooled @ params["dense"]["w"] + params["dense"]["b"]


def _training(predict: Callable, data: dict, compile: Callable) -> Runner:
    def loss_fn(params: dict, x: Any, labels: Any) -> Any:
        return _cross_entropy(predict(params, x), labels)

    def train_step(params: dict, x: Any, labels: Any) -> tuple:
        loss, grads = jax.value_and_grad(loss_fn)(params, x, labels)
        return jax.tree_util.tree_map(lambda p, g: p - LEARNING_RATE * g, params, grads), loss

    train_step, grad_fn = compile(train_step), compile(jax.grad(loss_fn))
    initial = jax.tree_util.tree_map(jnp.asarray, nest(data["params"]))
    x, labels = jnp.asarray(data["x"]), jnp.asarray(data["labels"].astype(np.int32))
    state = {"params": initial}

    def step() -> float:
        state["params"], loss = train_step(state["params"], x, labels)
        jax.block_until_ready(state["params"])  # eager dispatch returns the loss before the backward has run
        return float(loss)

    def grads() -> dict:
        return {name: np.asarray(g) for name, g in unnest(grad_fn(initial, x, labels)).items()}

    return Runner(step, lambda: train_check(step, grads))


def _conv(case: Case, data: dict, compile: Callable) -> Runner:
    @compile
    def forward_backward(x: Any, w: Any, g: Any) -> tuple:
        out, conv_vjp = jax.vjp(_conv2d, x, w)
        return (out, *conv_vjp(g))

    x, w, g = (jnp.asarray(data[k]) for k in "xwg")

    def check() -> dict:
        out, dx, dw = (np.asarray(a) for a in forward_backward(x, w, g))
        return {"out": out, "grad x": dx, "grad w": dw}

    return Runner(lambda: jax.block_until_ready(forward_backward(x, w, g)), check)


def _overhead(case: Case, data: dict, compile: Callable) -> Runner:
    f = chain(jnp)
    value_and_grad = compile(jax.value_and_grad(f))
    x = jnp.asarray(data["x"])

    def check() -> dict:
        value, grad = value_and_grad(x)
        return {"value": float(value), "grad x": np.asarray(grad)}

    return Runner(lambda: jax.block_until_ready(value_and_grad(x)), check)


def _train_step() -> Callable:
    """A new mlp_step training step function (new function objects: no trace cache can serve it)."""
    def loss_fn(params: dict, x: Any, labels: Any) -> Any:
        return _cross_entropy(_mlp(params, x), labels)

    def train_step(params: dict, x: Any, labels: Any) -> tuple:
        loss, grads = jax.value_and_grad(loss_fn)(params, x, labels)
        return jax.tree_util.tree_map(lambda p, g: p - LEARNING_RATE * g, params, grads), loss
    return train_step


def _trace(data: dict) -> Runner:
    """``jax.make_jaxpr`` of the mlp_step training step: tracing only, no compilation."""
    params = jax.tree_util.tree_map(jnp.asarray, nest(data["params"]))
    x, labels = jnp.asarray(data["x"]), jnp.asarray(data["labels"].astype(np.int32))
    return Runner(lambda: jax.make_jaxpr(_train_step())(params, x, labels),
                  info=lambda: {"equations": len(jax.make_jaxpr(_train_step())(params, x, labels).eqns)})


def _per_example_grads(case: Case, data: dict, compile: Callable) -> Runner:
    """``jax.vmap(jax.grad(loss))`` of one example's loss, ``jax.jacrev`` of the per-example losses,
    or the batch's one gradient."""
    def example_loss(params: dict, x: Any, label: Any) -> Any:
        return _cross_entropy(_mlp(params, x[None]), label[None])

    def losses_of(params: dict, x: Any, labels: Any) -> Any:
        log_probs = jax.nn.log_softmax(_mlp(params, x))
        return -jnp.take_along_axis(log_probs, labels[:, None], axis=1)[:, 0]

    route = case.sizes["route"]
    if route == "vmap":
        grads = jax.vmap(jax.grad(example_loss), in_axes=(None, 0, 0))
    elif route == "jacrev":
        grads = jax.jacrev(losses_of)
    else:
        grads = jax.grad(lambda params, x, labels: _cross_entropy(_mlp(params, x), labels))
    grads = compile(grads)
    params = jax.tree_util.tree_map(jnp.asarray, nest(data["params"]))
    x, labels = jnp.asarray(data["x"]), jnp.asarray(data["labels"].astype(np.int32))

    def check() -> dict:
        return per_example_check(lambda: {k: np.asarray(v) for k, v in unnest(grads(params, x, labels)).items()})

    return Runner(lambda: jax.block_until_ready(grads(params, x, labels)), check)


def make_workloads(compile: Callable) -> dict[str, Callable[[Case, dict], Runner]]:
    """The workload factories, with every function that gets timed passed through ``compile``."""
    return {
        "mlp_step": lambda case, data: _training(_mlp, data, compile),
        "cnn_step": lambda case, data: _training(_cnn, data, compile),
        "lstm_step": lambda case, data: _training(_lstm, data, compile),
        "attention_step": lambda case, data: _training(
            functools.partial(_attention, heads=case.sizes["heads"]), data, compile),
        "conv": lambda case, data: _conv(case, data, compile),
        "overhead": lambda case, data: _overhead(case, data, compile),
        "trace": lambda case, data: _trace(data),
        "per_example_grads": lambda case, data: _per_example_grads(case, data, compile),
    }


WORKLOADS = make_workloads(_identity)
