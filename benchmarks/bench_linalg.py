"""Benchmark: ``solve``, ``cholesky`` and ``eigh`` forward + backward, float64, funcnn against
PyTorch and JAX (jit), all in this one process.

    python benchmarks/bench_linalg.py
    python benchmarks/bench_linalg.py --rounds 40 --impls funcnn,torch --sizes 64,256

Each step is ``value_and_grad`` of a scalar function of the decomposition's result, the same
function in every library:

* solve:    ``sum(solve(A, B) ** 2)``, gradients with respect to ``A`` and ``B`` (n x n each);
* cholesky: ``sum(cholesky(S) ** 2)`` with ``S = (A + A^T) / 2`` (so that the libraries'
  conventions for the unread triangle do not matter), gradient with respect to ``A``;
* eigh:     ``sum(w ** 2) + sum((v * v) * (v * v))`` of ``eigh(S)``, ``S`` as above (``v ** 4``
  does not depend on the eigenvectors' signs; written with products, as ``power`` with an
  exponent other than 2 is a slow path of NumPy's).

Each round times every (workload, size, library) in turn, after a short idle gap; a
measurement is the mean of enough repetitions to last a few milliseconds. The table gives
medians over rounds, and each ratio as the median over rounds of the ratio of the two
libraries' times in that round. Libraries that are not installed are left out.

Every library computes on ``--threads`` threads (1 by default: NumPy's BLAS through
``OPENBLAS_NUM_THREADS``/``OMP_NUM_THREADS``, XLA through ``XLA_FLAGS``, PyTorch through
``torch.set_num_threads``), set before they load; on a small shared machine one thread each
gives steadier figures than threads that wait for a busy core.
"""
from __future__ import annotations

import argparse
import os
import platform
import sys
import time
from typing import Any, Callable



def _threads_from_argv(default: int = 1) -> int:
    """``--threads`` read before NumPy, PyTorch or JAX load: their thread pools start with them."""
    argv = sys.argv[1:]
    for i, arg in enumerate(argv):
        if arg.startswith("--threads="):
            return int(arg.split("=", 1)[1])
        if arg == "--threads" and i + 1 < len(argv):
            return int(argv[i + 1])
    return default


THREADS = _threads_from_argv()
for _name in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(_name, str(THREADS))
if THREADS == 1:
    os.environ.setdefault("XLA_FLAGS", "--xla_cpu_multi_thread_eigen=false intra_op_parallelism_threads=1")
os.environ.setdefault("OPENBLAS_THREAD_TIMEOUT", "22")  # idle BLAS threads stop spinning soon (see bench_conv.py)

import numpy as np  # noqa: E402

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

import funcnn as fn  # noqa: E402
import funcnn.numpy as fnp  # noqa: E402

WORKLOADS = ("solve", "cholesky", "eigh")
IMPLS = ("funcnn", "funcnn_jit", "torch", "jax")
Step = Callable[[], Any]


def operands(n: int) -> tuple[np.ndarray, np.ndarray]:
    """A well-conditioned (positive-definite) matrix, and a right-hand side."""
    rng = np.random.default_rng(n)
    m = rng.standard_normal((n, n))
    return m @ m.T / n + np.eye(n), rng.standard_normal((n, n))


def losses(ns: Any) -> dict[str, Callable[..., Any]]:
    """The three scalar functions, written once for any NumPy-like namespace ``ns``."""
    def sym(a: Any) -> Any:
        return (a + ns.transpose(a)) / 2

    def eigh_loss(a: Any) -> Any:
        w, v = ns.eigh(sym(a))
        v2 = v * v
        return ns.sum(w * w) + ns.sum(v2 * v2)

    return {"solve": lambda a, b: ns.sum(ns.solve(a, b) ** 2),
            "cholesky": lambda a: ns.sum(ns.cholesky(sym(a)) ** 2),
            "eigh": eigh_loss}


class _Funcnn:
    solve, cholesky, eigh = staticmethod(fnp.linalg.solve), staticmethod(fnp.linalg.cholesky), staticmethod(
        fnp.linalg.eigh)
    sum, transpose = staticmethod(fnp.sum), staticmethod(fnp.transpose)


def _args(workload: str, n: int) -> tuple:
    a, b = operands(n)
    return (a, b) if workload == "solve" else (a,)


def make_funcnn(workload: str, n: int, jit: bool = False) -> Step:
    f = losses(_Funcnn)[workload]
    args = _args(workload, n)
    step = fn.value_and_grad(f, argnums=tuple(range(len(args))))
    if jit:
        step = fn.jit(step)
    return lambda: step(*args)


def make_torch(workload: str, n: int, threads: int) -> Step:
    import torch

    torch.set_num_threads(threads)

    class ns:
        solve, cholesky, eigh, sum = torch.linalg.solve, torch.linalg.cholesky, torch.linalg.eigh, torch.sum
        transpose = staticmethod(lambda a: a.mT)

    f = losses(ns)[workload]
    args = [torch.from_numpy(x).requires_grad_() for x in _args(workload, n)]

    def step() -> Any:
        value = f(*args)
        return value, torch.autograd.grad(value, args)
    return step


def make_jax(workload: str, n: int) -> Step:
    import jax

    jax.config.update("jax_enable_x64", True)
    import jax.numpy as jnp

    class ns:
        solve, cholesky, eigh, sum = jnp.linalg.solve, jnp.linalg.cholesky, jnp.linalg.eigh, jnp.sum
        transpose = staticmethod(jnp.transpose)

    f = losses(ns)[workload]
    args = [jnp.asarray(x) for x in _args(workload, n)]
    step = jax.jit(jax.value_and_grad(f, argnums=tuple(range(len(args)))))
    return lambda: jax.block_until_ready(step(*args))


def as_numpy(result: Any) -> list[np.ndarray]:
    value, grads = result
    return [np.asarray(x.detach() if hasattr(x, "detach") else x, dtype=np.float64) for x in (value, *grads)]


def build(impls: list[str], sizes: list[int], threads: int) -> dict[tuple[str, int], dict[str, Step]]:
    """One step per (workload, size) and library, checked to agree with funcnn's, warmed up."""
    makers = {"funcnn": lambda w, n: make_funcnn(w, n), "funcnn_jit": lambda w, n: make_funcnn(w, n, jit=True),
              "torch": lambda w, n: make_torch(w, n, threads), "jax": make_jax}
    steps = {}
    for workload in WORKLOADS:
        for n in sizes:
            steps[workload, n] = {name: makers[name](workload, n) for name in impls}
            reference = as_numpy(steps[workload, n][impls[0]]())
            for name, step in steps[workload, n].items():
                for got, want in zip(as_numpy(step()), reference):
                    np.testing.assert_allclose(got, want, rtol=1e-6, atol=1e-8 * float(np.max(np.abs(want))),
                                               err_msg=f"{workload} n={n}: {name} disagrees with {impls[0]}")
                for _ in range(3):
                    step()
    return steps


def repetitions(step: Step) -> int:
    """How many calls make a measurement of about 5 ms."""
    start = time.perf_counter()
    step()
    return max(1, min(200, int(0.005 / max(time.perf_counter() - start, 1e-6))))


def run(steps: dict, rounds: int, gap: float) -> dict[tuple, dict[str, list[float]]]:
    """Seconds per step, ``times[(workload, n)][impl]``, every library in turn within a round."""
    reps = {key: {name: repetitions(step) for name, step in by_impl.items()} for key, by_impl in steps.items()}
    times: dict[tuple, dict[str, list[float]]] = {key: {name: [] for name in by_impl} for key, by_impl in steps.items()}
    for _ in range(rounds):
        for key, by_impl in steps.items():
            for name, step in by_impl.items():
                time.sleep(gap)
                count = reps[key][name]
                start = time.perf_counter()
                for _ in range(count):
                    step()
                times[key][name].append((time.perf_counter() - start) / count)
    return times


def table(times: dict[tuple, dict[str, list[float]]], impls: list[str]) -> str:
    others = [name for name in impls if name != "torch"] if "torch" in impls else []
    head = "| workload | n | " + " | ".join(f"{name} (ms)" for name in impls)
    head += "".join(f" | {name} / torch" for name in others) + " |"
    rows = [head, "|" + " --- |" * (2 + len(impls) + len(others))]
    for (workload, n), by_impl in times.items():
        cells = [f"{1e3 * float(np.median(by_impl[name])):.3f}" for name in impls]
        cells += [f"{float(np.median(np.array(by_impl[name]) / np.array(by_impl['torch']))):.2f}" for name in others]
        rows.append(f"| {workload} | {n} | " + " | ".join(cells) + " |")
    return "\n".join(rows)


def available(impls: list[str]) -> list[str]:
    kept = []
    for name in impls:
        module = {"torch": "torch", "jax": "jax"}.get(name)
        if module is not None:
            try:
                __import__(module)
            except ImportError:
                print(f"{module} is not installed: leaving it out")
                continue
        kept.append(name)
    return kept


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--impls", default=",".join(IMPLS), help="comma-separated subset of " + ",".join(IMPLS))
    parser.add_argument("--sizes", default="64,256", help="comma-separated matrix sizes")
    parser.add_argument("--rounds", type=int, default=20)
    parser.add_argument("--threads", type=int, default=THREADS, help="threads per library (default 1)")
    parser.add_argument("--gap", type=float, default=0.01, help="idle seconds before each measurement")
    args = parser.parse_args()
    impls = available([name for name in args.impls.split(",") if name])
    sizes = [int(s) for s in args.sizes.split(",") if s]
    times = run(build(impls, sizes, args.threads), args.rounds, args.gap)
    print(f"{platform.processor() or platform.machine()}, {os.cpu_count()} cores; Python "
          f"{platform.python_version()}, NumPy {np.__version__}; {args.threads} thread(s) per library; float64; "
          f"median of {args.rounds} interleaved rounds")
    print(table(times, impls))


if __name__ == "__main__":
    main()
