"""Benchmark: forward + backward of one Transformer encoder layer (post-norm, ReLU,
dim_feedforward 2048, dropout off), float32, funcnn under ``jit`` against PyTorch.

    python benchmarks/bench_attention.py                     # batch 32, seq 128, width 128, 4 heads
    python benchmarks/bench_attention.py --rounds 20 --threads 2
    python benchmarks/bench_attention.py --batch 8 --seq 64 --width 64 --heads 2

One step computes the layer's output and the gradients of every parameter and of the
input for a fixed output cotangent. Both implementations run in this process, in turn,
round after round, after a short idle gap; the table gives medians over the rounds, and
the ratio is the median over rounds of funcnn's time over PyTorch's within the round.
PyTorch is imported only when it is installed (otherwise funcnn alone is timed), gets the
same weights (each matrix transposed) and is checked to compute the same numbers.

OpenBLAS's worker threads busy-wait after each call and would steal a core from whatever
runs next, so ``OPENBLAS_THREAD_TIMEOUT`` is set short before NumPy loads (an existing
setting is kept), as in the other benchmarks.
"""
from __future__ import annotations

import argparse
import importlib.util
import os
import platform
import statistics
import time
from typing import Any, Callable

os.environ.setdefault("OPENBLAS_THREAD_TIMEOUT", "22")  # see the docstring

import numpy as np  # noqa: E402

import funcnn as fn  # noqa: E402
from funcnn import nn, random, tree_util  # noqa: E402


def operands(batch: int, seq: int, width: int) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(0)
    x = rng.standard_normal((batch, seq, width), dtype=np.float32)
    g = rng.standard_normal((batch, seq, width), dtype=np.float32)  # the output's cotangent
    return x, g


def make_funcnn(layer: Any, params: Any, x: np.ndarray, g: np.ndarray) -> Callable[[], Any]:
    def step(params: Any, x: np.ndarray) -> Any:
        out, f_vjp = fn.vjp(lambda p, x: layer.apply(p, x), params, x)
        return out, f_vjp(g)

    jitted = fn.jit(step)
    return lambda: jitted(params, x)


def torch_copy(params: Any, width: int, heads: int, threads: int) -> Any:
    """A ``torch.nn.TransformerEncoderLayer`` holding the same weights as `params`."""
    import torch

    torch.set_num_threads(threads)
    layer = torch.nn.TransformerEncoderLayer(width, heads, dropout=0.0, batch_first=True)
    names = {"self_attn.in_proj_weight": ("self_attn", "in_proj", "w"),
             "self_attn.in_proj_bias": ("self_attn", "in_proj", "b"),
             "self_attn.out_proj.weight": ("self_attn", "out_proj", "w"),
             "self_attn.out_proj.bias": ("self_attn", "out_proj", "b"),
             "linear1.weight": ("linear1", "w"), "linear1.bias": ("linear1", "b"),
             "linear2.weight": ("linear2", "w"), "linear2.bias": ("linear2", "b"),
             "norm1.weight": ("norm1", "scale"), "norm1.bias": ("norm1", "bias"),
             "norm2.weight": ("norm2", "scale"), "norm2.bias": ("norm2", "bias")}
    state = {}
    for name, path in names.items():
        value = params
        for part in path:
            value = value[part]
        state[name] = torch.from_numpy(np.ascontiguousarray(value.T if value.ndim == 2 else value))
    layer.load_state_dict(state)
    return layer


def make_torch(layer: Any, x: np.ndarray, g: np.ndarray) -> Callable[[], Any]:
    import torch

    tx = torch.from_numpy(x).requires_grad_()
    tg = torch.from_numpy(g)
    inputs = [tx, *layer.parameters()]

    def step() -> Any:
        out = layer(tx)
        return out, torch.autograd.grad(out, inputs, tg)

    return step


def check_agreement(ours: Any, theirs: Any) -> None:
    """The outputs and the input's gradients agree to float32 accuracy, in norm: a ReLU unit
    within rounding of zero can switch sides between the two, changing one token's gradient
    by a few hundredths."""
    (out, (_, dx)), (t_out, t_grads) = ours, theirs
    for name, a, b in (("output", out, t_out), ("input gradient", dx, t_grads[0])):
        b = b.detach().numpy()
        error = float(np.linalg.norm(a - b) / np.linalg.norm(b))
        if error > 1e-3:
            raise AssertionError(f"funcnn and PyTorch disagree: the {name}s differ by {error:.2e} in relative norm")


def timed(step: Callable[[], Any]) -> float:
    start = time.perf_counter()
    step()
    return time.perf_counter() - start


def main(argv: list[str] | None = None) -> dict[str, list[float]]:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--batch", type=int, default=32)
    parser.add_argument("--seq", type=int, default=128)
    parser.add_argument("--width", type=int, default=128)
    parser.add_argument("--heads", type=int, default=4)
    parser.add_argument("--rounds", type=int, default=10)
    parser.add_argument("--threads", type=int, default=min(2, os.cpu_count() or 1),
                        help="PyTorch's intra-op threads (NumPy's BLAS uses its own default)")
    parser.add_argument("--gap", type=float, default=0.2, help="idle seconds before each timed step")
    args = parser.parse_args(argv)

    layer = nn.TransformerEncoderLayer(args.width, args.heads, dropout=0.0)
    _, params = layer.init(random.key(0), (-1, args.seq, args.width))
    x, g = operands(args.batch, args.seq, args.width)
    steps = {"funcnn jit": make_funcnn(layer, params, x, g)}
    if importlib.util.find_spec("torch") is not None:
        steps["torch"] = make_torch(torch_copy(params, args.width, args.heads, args.threads), x, g)
        check_agreement(steps["funcnn jit"](), steps["torch"]())
    else:
        print("PyTorch is not installed: timing funcnn alone")
    for step in steps.values():  # warm up: traces, plans, allocator, thread pools
        for _ in range(2):
            step()

    times: dict[str, list[float]] = {name: [] for name in steps}
    for _ in range(args.rounds):
        for name, step in steps.items():
            time.sleep(args.gap)
            times[name].append(timed(step))

    n_params = sum(leaf.size for leaf in tree_util.tree_leaves(params))
    print(f"encoder layer forward+backward: batch {args.batch}, seq {args.seq}, width {args.width}, "
          f"{args.heads} heads, dim_feedforward 2048, {n_params:,} params, float32")
    print(f"{platform.processor() or platform.machine()}, {os.cpu_count()} cores, {args.rounds} rounds")
    for name, values in times.items():
        print(f"  {name:12s} median {statistics.median(values) * 1e3:8.1f} ms   min {min(values) * 1e3:8.1f} ms")
    if "torch" in times:
        ratios = [a / b for a, b in zip(times["funcnn jit"], times["torch"])]
        print(f"  funcnn jit / torch: median ratio {statistics.median(ratios):.2f} "
              f"(min {min(ratios):.2f}, max {max(ratios):.2f})")
    return times


if __name__ == "__main__":
    main()
