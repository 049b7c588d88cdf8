"""PyTorch on the CPU, written idiomatically: ``nn`` modules, ``F.cross_entropy``,
``loss.backward()`` and ``torch.optim.SGD``. Weights are loaded from the shared NumPy
ones (dense weights transposed to PyTorch's ``(out, in)``)."""
from __future__ import annotations

import importlib
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from benchmarks._workloads import LEARNING_RATE, Case, Runner, chain, per_example_check, train_check


def versions() -> dict[str, str]:
    return {"torch": torch.__version__}


def configure(threads: int) -> None:
    torch.set_num_threads(threads)
    importlib.import_module("torch._dynamo")  # torch.optim imports it at its first step (1-2 s): do it now


Layer = nn.Linear | nn.Conv2d


def _bias(module: Layer) -> torch.Tensor:
    assert module.bias is not None, "every layer here has a bias"
    return module.bias


def _load(module: Layer, w: np.ndarray, b: np.ndarray) -> None:
    """Copy shared weights into a layer; dense weights arrive as ``(in, out)``."""
    with torch.no_grad():
        module.weight.copy_(torch.from_numpy(w.T if isinstance(module, nn.Linear) else w))
        _bias(module).copy_(torch.from_numpy(b))


def _grads(named: dict[str, Layer]) -> dict[str, np.ndarray]:
    """The layers' gradients under the shared names, dense weights back to ``(in, out)``."""
    out = {}
    for name, module in named.items():
        w, b = module.weight.grad, _bias(module).grad
        assert w is not None and b is not None, "no gradient yet: call step() first"
        out[f"{name}.w"] = (w.T if isinstance(module, nn.Linear) else w).numpy().copy()
        out[f"{name}.b"] = b.numpy().copy()
    return out


def _training(model: nn.Module, named: dict[str, Layer], data: dict) -> Runner:
    for name, module in named.items():
        _load(module, data["params"][f"{name}.w"], data["params"][f"{name}.b"])
    optimizer = torch.optim.SGD(model.parameters(), lr=LEARNING_RATE)
    x, labels = torch.from_numpy(data["x"]), torch.from_numpy(data["labels"])

    def step() -> float:
        optimizer.zero_grad()
        loss = F.cross_entropy(model(x), labels)
        loss.backward()
        optimizer.step()
        return loss.item()

    return Runner(step, lambda: train_check(step, lambda: _grads(named)))


def mlp_step(case: Case, data: dict) -> Runner:
    layers = case.sizes["layers"]
    dense = [nn.Linear(a, b) for a, b in zip(layers[:-1], layers[1:])]
    model = nn.Sequential(*[m for layer in dense[:-1] for m in (layer, nn.ReLU())], dense[-1])
    return _training(model, {f"dense_{i}": layer for i, layer in enumerate(dense)}, data)


def cnn_step(case: Case, data: dict) -> Runner:
    c0, c1, c2 = case.sizes["channels"]
    conv0, conv1 = nn.Conv2d(c0, c1, 3, padding=1), nn.Conv2d(c1, c2, 3, padding=1)
    dense = nn.Linear(c2 * (case.sizes["side"] // 4) ** 2, case.sizes["classes"])
    model = nn.Sequential(conv0, nn.ReLU(), nn.MaxPool2d(2), conv1, nn.ReLU(), nn.MaxPool2d(2), nn.Flatten(), dense)
    return _training(model, {"conv_0": conv0, "conv_1": conv1, "dense": dense}, data)


def conv(case: Case, data: dict) -> Runner:
    x = torch.from_numpy(data["x"]).requires_grad_()
    w = torch.from_numpy(data["w"]).requires_grad_()
    g = torch.from_numpy(data["g"])

    def step() -> tuple:
        out = F.conv2d(x, w, padding=1)
        return (out, *torch.autograd.grad(out, (x, w), g))

    def check() -> dict:
        out, dx, dw = (t.detach().numpy() for t in step())
        return {"out": out, "grad x": dx, "grad w": dw}

    return Runner(step, check)


def overhead(case: Case, data: dict) -> Runner:
    f = chain(torch)
    x = torch.from_numpy(data["x"]).requires_grad_()

    def value_and_grad() -> tuple[Any, Any]:
        value = f(x)
        return value, torch.autograd.grad(value, x)[0]

    def check() -> dict:
        value, grad = value_and_grad()
        return {"value": value.item(), "grad x": grad.numpy()}

    return Runner(value_and_grad, check)


def _functional_mlp(params: dict[str, torch.Tensor], x: torch.Tensor) -> torch.Tensor:
    layers = len(params) // 2
    for i in range(layers - 1):
        x = F.relu(x @ params[f"dense_{i}.w"] + params[f"dense_{i}.b"])
    return x @ params[f"dense_{layers - 1}.w"] + params[f"dense_{layers - 1}.b"]


def per_example_grads(case: Case, data: dict) -> Runner:
    """``torch.func``: ``vmap(grad(loss))`` of one example's loss, ``jacrev`` of the per-example
    losses, or (for scale) the batch's one gradient; weights as a dict of tensors."""
    from torch import func

    def example_loss(params: dict, x: torch.Tensor, label: torch.Tensor) -> torch.Tensor:
        return F.cross_entropy(_functional_mlp(params, x[None]), label[None])

    def losses_of(params: dict, x: torch.Tensor, labels: torch.Tensor) -> torch.Tensor:
        return F.cross_entropy(_functional_mlp(params, x), labels, reduction="none")

    route = case.sizes["route"]
    if route == "vmap":
        grads = func.vmap(func.grad(example_loss), in_dims=(None, 0, 0))
    elif route == "jacrev":
        grads = func.jacrev(losses_of)
    else:
        grads = func.grad(lambda params, x, labels: F.cross_entropy(_functional_mlp(params, x), labels))
    params = {name: torch.from_numpy(p) for name, p in data["params"].items()}
    x, labels = torch.from_numpy(data["x"]), torch.from_numpy(data["labels"])

    def check() -> dict:
        return per_example_check(lambda: {k: v.numpy() for k, v in grads(params, x, labels).items()})

    return Runner(lambda: grads(params, x, labels), check)


def lstm_step(case: Case, data: dict) -> Runner:
    """``nn.LSTM(batch_first=True)``, its last ``h`` into ``nn.Linear``; the shared LSTM weights
    are PyTorch's own layout (``lstm.w_ih`` is ``weight_ih_l0``)."""
    s, p = case.sizes, data["params"]
    lstm, dense = nn.LSTM(s["features"], s["hidden"], batch_first=True), nn.Linear(s["hidden"], s["classes"])
    names = {"w_ih": "weight_ih_l0", "w_hh": "weight_hh_l0", "b_ih": "bias_ih_l0", "b_hh": "bias_hh_l0"}
    with torch.no_grad():
        for ours, theirs in names.items():
            getattr(lstm, theirs).copy_(torch.from_numpy(p[f"lstm.{ours}"]))
    _load(dense, p["dense.w"], p["dense.b"])
    optimizer = torch.optim.SGD([*lstm.parameters(), *dense.parameters()], lr=LEARNING_RATE)
    x, labels = torch.from_numpy(data["x"]), torch.from_numpy(data["labels"])

    def step() -> float:
        optimizer.zero_grad()
        _, (h, _) = lstm(x)
        loss = F.cross_entropy(dense(h[-1]), labels)
        loss.backward()
        optimizer.step()
        return loss.item()

    def grads() -> dict[str, np.ndarray]:
        out = _grads({"dense": dense})
        for ours, theirs in names.items():
            grad = getattr(lstm, theirs).grad
            assert grad is not None, "no gradient yet: call step() first"
            out[f"lstm.{ours}"] = grad.numpy().copy()
        return out

    return Runner(step, lambda: train_check(step, grads))


def _torch_name(name: str) -> str:
    """A shared encoder weight's name in ``TransformerEncoderLayer.state_dict()``:
    ``encoder.self_attn.in_proj.w`` -> ``self_attn.in_proj_weight``, ``encoder.norm1.scale`` ->
    ``norm1.weight``, ``encoder.linear1.b`` -> ``linear1.bias``."""
    *path, leaf = name.removeprefix("encoder.").split(".")
    leaf = {"w": "weight", "b": "bias", "scale": "weight", "bias": "bias"}[leaf]
    if path[-1] == "in_proj":
        return ".".join(path[:-1]) + f".in_proj_{leaf}"
    return ".".join([*path, leaf])


def attention_step(case: Case, data: dict) -> Runner:
    """``nn.TransformerEncoderLayer(batch_first=True, dropout=0.0)`` (post-norm, ReLU), the mean
    over the sequence into ``nn.Linear``; the shared weights loaded into its ``state_dict``
    (every matrix transposed)."""
    s, p = case.sizes, data["params"]
    encoder = nn.TransformerEncoderLayer(s["width"], s["heads"], s["ff"], dropout=0.0, batch_first=True)
    dense = nn.Linear(s["width"], s["classes"])
    names = {_torch_name(name): name for name in p if name.startswith("encoder.")}
    encoder.load_state_dict({theirs: torch.from_numpy(np.ascontiguousarray(p[ours].T if p[ours].ndim == 2
                                                                           else p[ours]))
                             for theirs, ours in names.items()})
    _load(dense, p["dense.w"], p["dense.b"])
    optimizer = torch.optim.SGD([*encoder.parameters(), *dense.parameters()], lr=LEARNING_RATE)
    x, labels = torch.from_numpy(data["x"]), torch.from_numpy(data["labels"])

    def step() -> float:
        optimizer.zero_grad()
        loss = F.cross_entropy(dense(encoder(x).mean(dim=1)), labels)
        loss.backward()
        optimizer.step()
        return loss.item()

    def grads() -> dict[str, np.ndarray]:
        out = _grads({"dense": dense})
        for theirs, param in encoder.named_parameters():
            assert param.grad is not None, "no gradient yet: call step() first"
            grad = param.grad.numpy()
            out[names[theirs]] = (grad.T if grad.ndim == 2 else grad).copy()
        return out

    return Runner(step, lambda: train_check(step, grads))


WORKLOADS = {"mlp_step": mlp_step, "cnn_step": cnn_step, "conv": conv, "overhead": overhead,
             "per_example_grads": per_example_grads, "lstm_step": lstm_step, "attention_step": attention_step}
