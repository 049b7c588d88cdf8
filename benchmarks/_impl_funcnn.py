"""funcnn, written the way a user writes it: ``funcnn.nn`` layers as functions of a dict of
parameters, ``funcnn.losses.cross_entropy``, ``value_and_grad``, ``optim.sgd`` and
``apply_updates``, the training step as one function. No shortcut a user would not take.
``_impl_funcnn_jit.py`` runs the same functions under ``funcnn.jit``."""
from __future__ import annotations

import functools
import importlib.util
from pathlib import Path
from typing import Any

import numpy as np

import funcnn as fn
import funcnn.numpy as fnp
from funcnn import data as datasets
from funcnn import losses, nn, optim, random, tree_util

from benchmarks._workloads import (
    LEARNING_RATE, Case, Runner, Skip, chain, nest, per_example_check, train_check, unnest,
)


def versions() -> dict[str, str]:
    from importlib.metadata import version

    return {"funcnn": version("funcnn")}


def configure(threads: int) -> None:
    """NumPy's BLAS threads come from the environment the harness sets."""


def _identity(f: Any, **options: Any) -> Any:
    return f


def _training(loss_fn: Any, data: dict, compile: Any) -> Runner:
    """The training step as one function (value_and_grad, SGD update, new params), passed
    through ``compile`` (the identity here, ``fn.jit`` in ``_impl_funcnn_jit.py``, which
    donates the parameters and optimizer state: the update may land in their buffers)."""
    optimizer = optim.sgd(LEARNING_RATE)

    def train_step(params: Any, opt_state: Any, x: Any, labels: Any) -> tuple:
        loss, grads = fn.value_and_grad(loss_fn)(params, x, labels)
        updates, opt_state = optimizer.update(grads, opt_state, params)
        return optim.apply_updates(params, updates), opt_state, loss

    train_step, grad_fn = compile(train_step, donate_argnums=(0, 1)), compile(fn.grad(loss_fn))
    params = nest(data["params"])
    state = {"params": tree_util.tree_map(np.copy, params), "opt": optimizer.init(params)}
    x, labels = data["x"], data["labels"]

    def step() -> float:
        state["params"], state["opt"], loss = train_step(state["params"], state["opt"], x, labels)
        return float(loss)

    return Runner(step, lambda: train_check(step, lambda: unnest(grad_fn(params, x, labels))))


def _mlp_step(case: Case, data: dict, compile: Any) -> Runner:
    def predict(params: dict, x: Any) -> Any:
        *hidden, last = (params[f"dense_{i}"] for i in range(len(params)))
        for layer in hidden:
            x = nn.relu(nn.dense(x, layer["w"], layer["b"]))
        return nn.dense(x, last["w"], last["b"])

    return _training(lambda params, x, labels: losses.cross_entropy(predict(params, x), labels), data, compile)


def _lstm_step(case: Case, data: dict, compile: Any) -> Runner:
    """``nn.lstm`` (its loop a ``lax.scan``) on the shared weights, which are PyTorch's layout."""
    def predict(params: dict, x: Any) -> Any:
        last, _ = nn.lstm(x, {"l0": params["lstm"]}, return_sequences=False)  # the last h: (batch, hidden)
        return nn.dense(last, params["dense"]["w"], params["dense"]["b"])

    return _training(lambda params, x, labels: losses.cross_entropy(predict(params, x), labels), data, compile)


def _attention_step(case: Case, data: dict, compile: Any) -> Runner:
    """``nn.TransformerEncoderLayer`` (post-norm, ReLU, dropout off) on the shared weights, which
    carry its own parameter names; the mean over the sequence into ``nn.dense``."""
    s = case.sizes
    encoder = nn.TransformerEncoderLayer(s["width"], s["heads"], dim_feedforward=s["ff"], dropout=0.0)

    def predict(params: dict, x: Any) -> Any:
        pooled = fnp.mean(encoder.apply(params["encoder"], x), axis=1)  # (batch, width)
        return nn.dense(pooled, params["dense"]["w"], params["dense"]["b"])

    return _training(lambda params, x, labels: losses.cross_entropy(predict(params, x), labels), data, compile)


def _conv_ops() -> tuple[Any, Any]:
    conv2d, max_pool2d = getattr(nn, "conv2d", None), getattr(nn, "max_pool2d", None)
    if conv2d is None or max_pool2d is None:
        raise Skip("funcnn.nn.conv2d / max_pool2d are not available in this funcnn")
    return conv2d, max_pool2d


def _cnn_step(case: Case, data: dict, compile: Any) -> Runner:
    conv2d, max_pool2d = _conv_ops()

    def predict(params: dict, x: Any) -> Any:
        for name in ("conv_0", "conv_1"):
            x = max_pool2d(nn.relu(conv2d(x, params[name]["w"], params[name]["b"], padding=1)), 2)
        return nn.dense(nn.flatten(x), params["dense"]["w"], params["dense"]["b"])

    return _training(lambda params, x, labels: losses.cross_entropy(predict(params, x), labels), data, compile)


def _conv(case: Case, data: dict, compile: Any) -> Runner:
    conv2d, _ = _conv_ops()
    x, w, g = data["x"], data["w"], data["g"]

    def forward_backward(x: Any, w: Any, g: Any) -> tuple:
        out, conv_vjp = fn.vjp(lambda x, w: conv2d(x, w, padding=1), x, w)
        return (out, *conv_vjp(g))

    forward_backward = compile(forward_backward)

    def step() -> tuple:
        return forward_backward(x, w, g)

    def check() -> dict:
        out, dx, dw = step()
        return {"out": out, "grad x": dx, "grad w": dw}

    return Runner(step, check)


def _overhead(case: Case, data: dict, compile: Any) -> Runner:
    f, x = chain(fnp), data["x"]
    grad = compile(fn.grad(f))
    return Runner(lambda: grad(x), lambda: {"value": f(x), "grad x": grad(x)})


def _example() -> Any:
    """``examples/mnist_mlp.py`` as a module: the model, loss and accuracy the epoch uses."""
    path = Path(__file__).resolve().parent.parent / "examples" / "mnist_mlp.py"
    spec = importlib.util.spec_from_file_location("mnist_mlp", path)
    if spec is None or spec.loader is None:
        raise Skip("examples/mnist_mlp.py not found")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _mnist_epoch(case: Case, data: dict, compile: Any) -> Runner:
    """The first epoch of the example's default training (Adam with a one-cycle schedule over
    10 epochs, shuffled batches), from its initial weights."""
    try:
        x_train, y_train, x_test, y_test = datasets.mnist(flatten=True, download=False)
    except FileNotFoundError:
        raise Skip("MNIST not found: set FUNCNN_DATA to a folder holding mnist/ (see docs/data.md)") from None
    example = _example()
    result: dict[str, Any] = {}
    steps = -(-len(x_train) // case.sizes["batch"])
    optimizer = optim.adam(optim.one_cycle(10 * steps, 1e-3))

    def train_step(params: Any, opt_state: Any, xb: Any, yb: Any) -> tuple:
        loss, grads = fn.value_and_grad(example.loss_fn)(params, xb, yb)
        updates, opt_state = optimizer.update(grads, opt_state, params)
        return optim.apply_updates(params, updates), opt_state, loss

    train_step = compile(train_step, donate_argnums=(0, 1))

    def epoch() -> None:
        key, init_key = random.split(random.key(0))
        params = example.init_params(init_key)
        opt_state = optimizer.init(params)
        losses_ = []
        for xb, yb in datasets.batches((x_train, y_train), case.sizes["batch"], key=key):
            params, opt_state, loss = train_step(params, opt_state, xb, yb)
            losses_.append(float(loss))
        result.update(params=params, loss=float(np.mean(losses_)))

    def info() -> dict:
        return {"test accuracy": example.accuracy(result["params"], x_test, y_test),
                "mean training loss": result["loss"]}

    return Runner(epoch, info=info)


def _trace(case: Case, data: dict, compile: Any) -> Runner:
    """``make_graph`` of the mlp_step training step (value_and_grad, SGD, apply_updates): tracing
    on shapes and dtypes only, as ``jax.make_jaxpr`` does."""
    optimizer = optim.sgd(LEARNING_RATE)
    params = nest(data["params"])
    opt_state = optimizer.init(params)

    def loss_fn(params: dict, x: Any, labels: Any) -> Any:
        *hidden, last = (params[f"dense_{i}"] for i in range(len(params)))
        for layer in hidden:
            x = nn.relu(nn.dense(x, layer["w"], layer["b"]))
        return losses.cross_entropy(nn.dense(x, last["w"], last["b"]), labels)

    def train_step(params: dict, opt_state: Any, x: Any, labels: Any) -> tuple:
        loss, grads = fn.value_and_grad(loss_fn)(params, x, labels)
        updates, opt_state = optimizer.update(grads, opt_state, params)
        return optim.apply_updates(params, updates), opt_state, loss

    args = (params, opt_state, data["x"], data["labels"])
    return Runner(lambda: fn.make_graph(train_step)(*args),
                  info=lambda: {"equations": len(fn.make_graph(train_step)(*args).equations)})


def _mlp(params: dict, x: Any) -> Any:
    *hidden, last = (params[f"dense_{i}"] for i in range(len(params)))
    for layer in hidden:
        x = nn.relu(nn.dense(x, layer["w"], layer["b"]))
    return nn.dense(x, last["w"], last["b"])


def _per_example_grads(case: Case, data: dict, compile: Any) -> Runner:
    """Per-example gradients as JAX users write them (``vmap(grad(loss), in_axes=(None, 0, 0))``
    of one example's loss), or as the Jacobian of the per-example losses, or (for scale) the
    one gradient of the batch's mean loss."""
    def example_loss(params: dict, x: Any, label: Any) -> Any:
        return losses.cross_entropy(_mlp(params, x[None]), label[None])

    def losses_of(params: dict, x: Any, labels: Any) -> Any:
        return losses.cross_entropy(_mlp(params, x), labels, reduction="none")

    route = case.sizes["route"]
    if route == "vmap":
        grads = fn.vmap(fn.grad(example_loss), in_axes=(None, 0, 0))
    elif route == "jacrev":
        grads = fn.jacrev(losses_of)
    else:
        grads = fn.grad(lambda params, x, labels: losses.cross_entropy(_mlp(params, x), labels))
    grads = compile(grads)
    params, x, labels = nest(data["params"]), data["x"], data["labels"]
    return Runner(lambda: grads(params, x, labels), lambda: per_example_check(lambda: unnest(grads(params, x, labels))))


def make_workloads(compile: Any) -> dict[str, Any]:
    """The workload factories, with every timed function passed through ``compile``."""
    factories = {"mlp_step": _mlp_step, "cnn_step": _cnn_step, "conv": _conv, "overhead": _overhead,
                 "mnist_epoch": _mnist_epoch, "trace": _trace, "per_example_grads": _per_example_grads,
                 "lstm_step": _lstm_step, "attention_step": _attention_step}
    return {name: functools.partial(factory, compile=compile) for name, factory in factories.items()}


WORKLOADS = make_workloads(_identity)
