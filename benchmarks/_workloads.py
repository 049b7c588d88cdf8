"""The workloads every implementation runs: their sizes, their data and their check figures.

Data and initial weights are made here, in NumPy, from a fixed seed, so that every
implementation starts from the same bytes (the harness compares a fingerprint of them).
Weights are named the same way everywhere (``dense_0.w`` of shape ``(in, out)``,
``conv_0.w`` of shape ``(out, in, kh, kw)``); an implementation that stores them
differently converts on the way in and converts its gradients back for the check.

An implementation module (``_impl_<name>.py``) maps each workload name to a factory
``factory(case, data) -> Runner``; it raises :class:`Skip` when it cannot run a case.
"""
from __future__ import annotations

import hashlib
import zlib
from dataclasses import asdict, dataclass, field
from typing import Any, Callable

import numpy as np

SEED = 0
LEARNING_RATE = 0.01
MLP_SIZES = (784, 256, 128, 32, 10)
CNN_CHANNELS = (1, 32, 64)  # conv 3x3 1->32, conv 3x3 32->64, both padding 1
CHAIN_OPS = 200
LSTM_SIZES = {"batch": 64, "steps": 28, "features": 28, "hidden": 128, "classes": 10}  # MNIST read row by row
# one post-norm Transformer encoder layer (ReLU, no dropout), a mean over the sequence, a dense head
ATTENTION_SIZES = {"batch": 32, "seq": 128, "width": 128, "heads": 4, "ff": 256, "classes": 10}
RTOL = 1e-4  # how closely every implementation's check figures must agree


class Skip(Exception):
    """An implementation cannot run this case (a missing op or dataset); the reason is printed."""


@dataclass(frozen=True)
class Case:
    """One row of the table: a workload at one size.

    ``unit`` names what one timed call does; ``per`` divides its time for the figure
    reported (the overhead workload reports time per op, 200 ops per call); ``steps``
    is how many training steps (or gradient calls) one call makes, for steps/s.
    """

    workload: str
    label: str
    sizes: dict = field(default_factory=dict)
    unit: str = "step"
    per: int = 1
    steps: int = 1
    checked: bool = True
    rounds: int | None = None  # overrides the run's rounds (one epoch is long enough alone)

    def to_json(self) -> dict:
        return asdict(self)

    @property
    def title(self) -> str:
        return f"{self.workload} {self.label}"


@dataclass
class Runner:
    """What an implementation gives the harness for one case.

    ``check()`` is called first, on the initial weights, and returns the figures compared
    across implementations (floats, or arrays reduced by :func:`summarize`). ``step()`` is
    the timed call. ``info()`` returns extra figures for the table (a test accuracy).
    """

    step: Callable[[], Any]
    check: Callable[[], dict] = dict
    info: Callable[[], dict] = dict


# --- cases -------------------------------------------------------------------------------

CONV_SHAPES = ((64, 32, 14, 14, 64, 3), (32, 3, 32, 32, 16, 3), (8, 64, 56, 56, 64, 3))


def _mlp_cases(size: str) -> list[Case]:
    if size == "tiny":
        return [Case("mlp_step", "batch 5", {"batch": 5, "layers": (12, 8, 6, 4, 3)})]
    return [Case("mlp_step", f"batch {b}", {"batch": b, "layers": MLP_SIZES}) for b in (64, 512)]


def _cnn_cases(size: str) -> list[Case]:
    if size == "tiny":
        return [Case("cnn_step", "batch 2, 8x8", {"batch": 2, "side": 8, "channels": (1, 3, 4), "classes": 3})]
    return [Case("cnn_step", "batch 64", {"batch": 64, "side": 28, "channels": CNN_CHANNELS, "classes": 10})]


def _conv_cases(size: str) -> list[Case]:
    shapes = [(2, 3, 6, 6, 4, 3)] if size == "tiny" else CONV_SHAPES
    return [Case("conv", "N{} C{} {}x{} K{} k{}".format(*s), dict(zip("NCHWKk", s)), unit="fwd+bwd")
            for s in shapes]


def _overhead_cases(size: str) -> list[Case]:
    return [Case("overhead", f"{CHAIN_OPS} ops, 10 elements", {"ops": CHAIN_OPS, "length": 10}, unit="op",
                 per=CHAIN_OPS)]


def _mnist_cases(size: str) -> list[Case]:
    if size == "tiny":
        return []
    return [Case("mnist_epoch", "60k images, batch 64", {"batch": 64}, unit="epoch", steps=-(-60_000 // 64),
                 checked=False, rounds=1 if size == "quick" else 3)]


def _trace_cases(size: str) -> list[Case]:
    if size == "tiny":
        return []
    return [Case("trace", "mlp_step graph, batch 64", {"batch": 64, "layers": MLP_SIZES}, unit="trace",
                 checked=False)]


PER_EXAMPLE_ROUTES = {
    "vmap": "vmap(grad)",  # the gradient of each example's loss, vectorized over the batch
    "jacrev": "jacrev of the losses",  # the Jacobian of the vector of per-example losses
    "batched": "one batched grad",  # the gradient of the mean loss: the scale per-example work is judged by
}


def _per_example_cases(size: str) -> list[Case]:
    batch, layers = (5, (12, 8, 6, 4, 3)) if size == "tiny" else (64, MLP_SIZES)
    return [Case("per_example_grads", f"batch {batch}, {label}", {"batch": batch, "layers": layers, "route": route},
                 unit="call") for route, label in PER_EXAMPLE_ROUTES.items()]


def _lstm_cases(size: str) -> list[Case]:
    if size == "tiny":  # the smoke test's list of tiny cases stays as it was; tests/test_recurrent.py checks it
        return []
    return [Case("lstm_step", "batch 64, 28 steps, hidden 128", dict(LSTM_SIZES))]


def _attention_cases(size: str) -> list[Case]:
    """Titled by the input's shape (batch, seq, width), the heads and dim_feedforward."""
    sizes = ({"batch": 2, "seq": 6, "width": 8, "heads": 2, "ff": 16, "classes": 3} if size == "tiny"
             else dict(ATTENTION_SIZES))
    label = "({batch}, {seq}, {width}), {heads} heads, ff {ff}".format(**sizes)
    return [Case("attention_step", label, sizes)]


WORKLOADS: dict[str, Callable[[str], list[Case]]] = {
    "mlp_step": _mlp_cases,
    "cnn_step": _cnn_cases,
    "conv": _conv_cases,
    "overhead": _overhead_cases,
    "mnist_epoch": _mnist_cases,
    "trace": _trace_cases,
    "per_example_grads": _per_example_cases,
    "lstm_step": _lstm_cases,
    "attention_step": _attention_cases,
}


def cases(workload: str, size: str = "full") -> list[Case]:
    """The cases of ``workload`` at ``size``: ``"full"``, ``"quick"`` (the same shapes) or ``"tiny"``."""
    return WORKLOADS[workload](size)


# --- data --------------------------------------------------------------------------------


def _uniform(rng: np.random.Generator, shape: tuple, bound: float) -> np.ndarray:
    return rng.uniform(-bound, bound, shape).astype(np.float32)


def _dense(rng: np.random.Generator, name: str, fan_in: int, fan_out: int) -> dict[str, np.ndarray]:
    """PyTorch's default ``Linear`` initialisation, stored as ``(in, out)``."""
    bound = 1.0 / np.sqrt(fan_in)
    return {f"{name}.w": _uniform(rng, (fan_in, fan_out), bound), f"{name}.b": _uniform(rng, (fan_out,), bound)}


def _conv(rng: np.random.Generator, name: str, c_in: int, c_out: int, k: int) -> dict[str, np.ndarray]:
    bound = 1.0 / np.sqrt(c_in * k * k)
    return {f"{name}.w": _uniform(rng, (c_out, c_in, k, k), bound), f"{name}.b": _uniform(rng, (c_out,), bound)}


def make_data(case: Case) -> dict[str, Any]:
    """Inputs and initial weights for ``case``: ``{"params": {name: array}, ...}``, float32."""
    rng = np.random.default_rng(SEED)
    s = case.sizes
    if case.workload in ("mlp_step", "trace", "per_example_grads"):  # trace: the graph of the mlp_step step
        layers = s["layers"]
        params: dict[str, np.ndarray] = {}
        for i, (fan_in, fan_out) in enumerate(zip(layers[:-1], layers[1:])):
            params.update(_dense(rng, f"dense_{i}", fan_in, fan_out))
        x = rng.random((s["batch"], layers[0]), dtype=np.float32)
        return {"params": params, "x": x, "labels": rng.integers(0, layers[-1], s["batch"])}
    if case.workload == "cnn_step":
        c0, c1, c2 = s["channels"]
        params = {**_conv(rng, "conv_0", c0, c1, 3), **_conv(rng, "conv_1", c1, c2, 3),
                  **_dense(rng, "dense", c2 * (s["side"] // 4) ** 2, s["classes"])}
        x = rng.random((s["batch"], c0, s["side"], s["side"]), dtype=np.float32)
        return {"params": params, "x": x, "labels": rng.integers(0, s["classes"], s["batch"])}
    if case.workload == "lstm_step":
        return _lstm_data(rng, s)
    if case.workload == "attention_step":
        return _attention_data(rng, s)
    if case.workload == "conv":
        x = rng.standard_normal((s["N"], s["C"], s["H"], s["W"]), dtype=np.float32)
        w = _uniform(rng, (s["K"], s["C"], s["k"], s["k"]), 1.0 / np.sqrt(s["C"] * s["k"] ** 2))
        g = rng.standard_normal((s["N"], s["K"], s["H"], s["W"]), dtype=np.float32)  # padding 1 keeps H, W
        return {"x": x, "w": w, "g": g}
    if case.workload == "overhead":
        return {"x": np.linspace(-1.0, 1.0, s["length"], dtype=np.float32)}
    return {}


def _lstm_data(rng: np.random.Generator, s: dict) -> dict[str, Any]:
    """PyTorch's default ``LSTM`` initialisation, in its layout: ``lstm.w_ih`` is ``weight_ih_l0``,
    ``(4 * hidden, features)`` with the gates stacked i, f, g, o; then a dense head on the last ``h``."""
    hidden, bound = s["hidden"], 1.0 / np.sqrt(s["hidden"])
    params = {"lstm.w_ih": _uniform(rng, (4 * hidden, s["features"]), bound),
              "lstm.w_hh": _uniform(rng, (4 * hidden, hidden), bound),
              "lstm.b_ih": _uniform(rng, (4 * hidden,), bound), "lstm.b_hh": _uniform(rng, (4 * hidden,), bound),
              **_dense(rng, "dense", hidden, s["classes"])}
    x = rng.random((s["batch"], s["steps"], s["features"]), dtype=np.float32)
    return {"params": params, "x": x, "labels": rng.integers(0, s["classes"], s["batch"])}


def _attention_data(rng: np.random.Generator, s: dict) -> dict[str, Any]:
    """PyTorch's default ``TransformerEncoderLayer`` initialisation under funcnn's names, every
    matrix ``(in, out)``: ``encoder.self_attn.in_proj.w`` (width, 3 width), columns q, k, v, Xavier
    uniform, and zero biases in the attention; ``Linear``'s default for ``out_proj``, ``linear1``
    and ``linear2``; LayerNorm scales one and biases zero. Then a dense head on the mean over the
    sequence, and an input of standard normal tokens."""
    e, ff = s["width"], s["ff"]
    attn = "encoder.self_attn"
    params = {f"{attn}.in_proj.w": _uniform(rng, (e, 3 * e), np.sqrt(6.0 / (e + 3 * e))),
              f"{attn}.in_proj.b": np.zeros(3 * e, np.float32),
              f"{attn}.out_proj.w": _uniform(rng, (e, e), 1.0 / np.sqrt(e)),
              f"{attn}.out_proj.b": np.zeros(e, np.float32),
              **_dense(rng, "encoder.linear1", e, ff), **_dense(rng, "encoder.linear2", ff, e)}
    for norm in ("norm1", "norm2"):
        params[f"encoder.{norm}.scale"] = np.ones(e, np.float32)
        params[f"encoder.{norm}.bias"] = np.zeros(e, np.float32)
    params.update(_dense(rng, "dense", e, s["classes"]))
    x = rng.standard_normal((s["batch"], s["seq"], e), dtype=np.float32)
    return {"params": params, "x": x, "labels": rng.integers(0, s["classes"], s["batch"])}


def fingerprint(data: dict[str, Any]) -> str:
    """A short hash of every array in ``data``: equal across processes iff the bytes are."""
    digest = hashlib.sha1()
    for name, value in sorted(data.items()):
        if isinstance(value, dict):
            value = fingerprint(value)
        digest.update(name.encode())
        digest.update(np.ascontiguousarray(value).tobytes() if isinstance(value, np.ndarray) else str(value).encode())
    return digest.hexdigest()[:12]


def nest(flat: dict[str, Any]) -> dict[str, Any]:
    """``{"dense_0.w": a}`` -> ``{"dense_0": {"w": a}}``, the layout users write; a name with more
    dots nests deeper (``"encoder.norm1.scale"`` -> ``tree["encoder"]["norm1"]["scale"]``)."""
    tree: dict[str, Any] = {}
    for name, value in flat.items():
        *path, leaf = name.split(".")
        node = tree
        for part in path:
            node = node.setdefault(part, {})
        node[leaf] = value
    return tree


def unnest(tree: dict[str, Any], prefix: str = "") -> dict[str, Any]:
    """The inverse of :func:`nest`."""
    flat: dict[str, Any] = {}
    for name, value in tree.items():
        if isinstance(value, dict):
            flat.update(unnest(value, f"{prefix}{name}."))
        else:
            flat[f"{prefix}{name}"] = value
    return flat


# --- the computations every implementation writes in its own way ------------------------------


def chain(m: Any) -> Callable[[Any], Any]:
    """``f(x) = sum(50 x [sin, * 1.01, tanh, + 0.1](x))``: 200 elementwise ops and a sum, in namespace ``m``."""
    def f(x: Any) -> Any:
        for _ in range(CHAIN_OPS // 4):
            x = m.tanh(m.sin(x) * 1.01) + 0.1
        return m.sum(x)
    return f


def per_example_check(grads: Callable[[], dict]) -> dict:
    """Check figures of a per_example_grads case: its gradients by canonical name (a leading batch
    axis for the per-example routes)."""
    return {f"grad {name}": value for name, value in grads().items()}


def train_check(step: Callable[[], float], grads: Callable[[], dict]) -> dict:
    """Check figures of a training step from the initial weights: the loss, the gradients (``grads()``
    is called after the first step and returns the gradients at the initial weights, by canonical
    name) and the loss after one SGD step."""
    loss = step()
    figures = {f"grad {name}": value for name, value in grads().items()}
    return {"loss": loss, **figures, "loss after one step": step()}


# --- comparing check figures -----------------------------------------------------------------


def _probe(name: str, shape: tuple) -> np.ndarray:
    """A fixed random direction per name, to compare arrays through one number."""
    return np.random.default_rng(zlib.crc32(name.encode())).standard_normal(shape)


def summarize(figures: dict[str, Any]) -> dict[str, list[float]]:
    """Each figure as ``[value, scale]`` in float64: a number and its magnitude, or an array's
    projection on a fixed random direction and its norm (so that a flipped kernel or a
    transposed gradient shows, not only a wrong size)."""
    out = {}
    for name, value in figures.items():
        a = np.asarray(value, dtype=np.float64)
        if a.ndim == 0:
            out[name] = [float(a), abs(float(a))]
        else:
            out[name] = [float(np.vdot(a, _probe(name, a.shape))), float(np.linalg.norm(a))]
    return out


def disagreement(mine: dict[str, list[float]], reference: dict[str, list[float]],
                 rtol: float = RTOL) -> str | None:
    """``None`` when every figure agrees with ``reference`` to ``rtol`` relative, else what differs."""
    if mine.keys() != reference.keys():
        return f"different check figures: {sorted(mine)} vs {sorted(reference)}"
    for name, (value, scale) in mine.items():
        ref_value, ref_scale = reference[name]
        bound = rtol * max(scale, ref_scale)
        for got, want in ((value, ref_value), (scale, ref_scale)):
            if not abs(got - want) <= bound:  # also catches NaN
                rel = abs(got - want) / max(scale, ref_scale, 1e-30)
                return f"{name}: {got:.7g} vs {want:.7g} (relative difference {rel:.1e} > {rtol:g})"
    return None
