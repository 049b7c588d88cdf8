"""Eager tracing overhead and graph memory: funcnn vs HIPS autograd, in one run.

Workload: ``grad`` of a chain of 200 elementwise ops on a 10-element vector, where the
NumPy work is tiny and the time is the engine's own. Implementations alternate and the
median over rounds is reported, with the ratio to autograd measured in the same run.
Then 10,000 ``grad`` calls in a loop, checking that memory does not grow.

    python benchmarks/bench_overhead.py [--rounds 15] [--calls 10000]
"""
from __future__ import annotations

import argparse
import gc
import statistics
import time
import tracemalloc

import numpy as np

import funcnn as fn
import funcnn.numpy as fnp

N_OPS = 200


def chain(m):
    """200 elementwise ops (50 x [sin, scale, tanh, shift]) and a sum, over namespace ``m``."""
    def f(x):
        for _ in range(N_OPS // 4):
            x = m.sin(x)
            x = x * 1.01
            x = m.tanh(x)
            x = x + 0.1
        return m.sum(x)
    return f


def implementations():
    impls = {"numpy (no derivative)": chain(np), "funcnn grad": fn.grad(chain(fnp))}
    try:
        import autograd
        import autograd.numpy as anp

        impls["autograd grad"] = autograd.grad(chain(anp))
    except ImportError:
        print("note: HIPS autograd is not installed (pip install autograd); its column is skipped")
    return impls


def time_per_op(fun, x, calls=20):
    start = time.perf_counter()
    for _ in range(calls):
        fun(x)
    return (time.perf_counter() - start) / calls / N_OPS


def overhead(rounds):
    x = np.linspace(-1.0, 1.0, 10)
    impls = implementations()
    for fun in impls.values():
        fun(x)  # warm-up
    samples = {name: [] for name in impls}
    for _ in range(rounds):
        for name, fun in impls.items():
            samples[name].append(time_per_op(fun, x))
    medians = {name: statistics.median(s) for name, s in samples.items()}
    print(f"grad of a chain of {N_OPS} elementwise ops on a 10-element vector; median of {rounds} rounds")
    print(f"{'implementation':<24}{'us per op':>12}{'vs autograd':>14}")
    ref = medians.get("autograd grad")
    for name, t in medians.items():
        ratio = f"{t / ref:.2f}x" if ref else "-"
        print(f"{name:<24}{t * 1e6:>12.2f}{ratio:>14}")
    return medians


def memory(calls):
    g = fn.grad(lambda w: fnp.sum(fnp.tanh(w @ w.T) ** 2))
    w = np.random.default_rng(0).standard_normal((32, 32))
    for _ in range(100):
        g(w)
    gc.collect()
    tracemalloc.start()
    base = tracemalloc.get_traced_memory()[0]
    for i in range(calls):
        g(w)
        if i == calls // 10:
            early = tracemalloc.get_traced_memory()[0]
    gc.collect()
    end = tracemalloc.get_traced_memory()[0]
    tracemalloc.stop()
    print(f"memory over {calls} grad calls: {(early - base) / 1e3:+.1f} kB after {calls // 10}, "
          f"{(end - base) / 1e3:+.1f} kB at the end (traced Python allocations)")
    return end - base


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=15)
    parser.add_argument("--calls", type=int, default=10_000)
    args = parser.parse_args()
    overhead(args.rounds)
    memory(args.calls)


if __name__ == "__main__":
    main()
