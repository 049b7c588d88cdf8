"""Benchmark: conv2d forward + backward (gradients of input and kernel), float32, stride 1,
padding 1, funcnn against a hand-written NumPy im2col (``_numpy_conv.py``) and PyTorch.

    python benchmarks/bench_conv.py                 # each implementation in its own process
    python benchmarks/bench_conv.py --together      # all implementations in one process
    python benchmarks/bench_conv.py --rounds 40 --impls funcnn,torch
    python benchmarks/bench_conv.py --keep-freed-memory   # glibc keeps freed memory (see below)

Each round times one step of every implementation, in turn, for every shape, after a short
idle gap (``--gap``); the table gives medians over the rounds, and ratios as the median
over rounds of the two implementations' ratio within the round, all from the same run.
By default each implementation runs in a process of its own (the others wait on a pipe),
so that none sees another's threads or allocator state; ``--together`` runs them all in
one process instead.

OpenBLAS's worker threads busy-wait after each call (by default for 2**28 cycles, about
0.1 s) and would steal a core from whatever runs next, so ``OPENBLAS_THREAD_TIMEOUT`` is
set to 22 (2**22 cycles, about 1.6 ms: longer than the gaps between the GEMMs of one
step, much shorter than the idle gap before the next step) before NumPy loads; an
existing setting is kept. PyTorch gets the same thread count as the machine's cores, at
most 2 by default (``--threads``).

NumPy allocates its temporaries with ``malloc``; by default glibc hands large freed blocks
back to the kernel, so every call pays page faults for its fresh temporaries again (about
2 us per 4 KiB page on a small VM). Importing funcnn turns that off in its own process
(``funcnn.config.keep_freed_memory``); ``--keep-freed-memory`` reruns the benchmark with
``MALLOC_TRIM_THRESHOLD_`` and ``MALLOC_MMAP_THRESHOLD_`` raised for all implementations,
which shows the cost of the arithmetic and copies alone.
"""
from __future__ import annotations

import argparse
import os
import platform
import subprocess
import sys
import time
from typing import Callable

os.environ.setdefault("OPENBLAS_THREAD_TIMEOUT", "22")  # see the docstring

import numpy as np  # noqa: E402

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import _numpy_conv  # noqa: E402

import funcnn as fn  # noqa: E402
from funcnn.nn._conv import conv2d  # noqa: E402

SHAPES = [(64, 32, 14, 14, 64, 3), (32, 3, 32, 32, 16, 3), (8, 64, 56, 56, 64, 3)]  # (N, C, H, W, K, k)
IMPLS = ("funcnn", "numpy", "torch")


def operands(shape: tuple) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    n, c, h, w, k, ks = shape
    rng = np.random.default_rng(0)
    x = rng.standard_normal((n, c, h, w), dtype=np.float32)
    kernel = rng.standard_normal((k, c, ks, ks), dtype=np.float32)
    g = rng.standard_normal((n, k, h, w), dtype=np.float32)  # the output's cotangent
    return x, kernel, g


def make_funcnn(x: np.ndarray, w: np.ndarray, g: np.ndarray) -> Callable[[], object]:
    def step() -> object:
        out, f_vjp = fn.vjp(lambda x, w: conv2d(x, w, padding=1), x, w)
        return out, f_vjp(g)
    return step


def make_numpy(x: np.ndarray, w: np.ndarray, g: np.ndarray) -> Callable[[], object]:
    def step() -> object:
        out, dx, dw = _numpy_conv.conv2d_forward_backward(x, w, g, 1)
        return out, (dx, dw)
    return step


def make_torch(x: np.ndarray, w: np.ndarray, g: np.ndarray, threads: int) -> Callable[[], object]:
    import torch
    import torch.nn.functional as F

    torch.set_num_threads(threads)
    tx, tw, tg = (torch.from_numpy(a) for a in (x, w, g))
    tx.requires_grad_()
    tw.requires_grad_()

    def step() -> object:
        y = F.conv2d(tx, tw, padding=1)
        return y, torch.autograd.grad(y, (tx, tw), tg)
    return step


def check_agreement(steps: dict[str, Callable[[], object]]) -> None:
    """All implementations compute the same output and gradients (float32 tolerance)."""
    results = {name: [np.asarray(a.detach() if hasattr(a, "detach") else a) for a in _flatten(step())]
               for name, step in steps.items()}
    first, *others = results
    for name in others:
        for a, b in zip(results[first], results[name]):
            np.testing.assert_allclose(a, b, rtol=2e-3, atol=2e-3 * float(np.max(np.abs(a))))


def _flatten(result: object) -> list:
    out, grads = result  # type: ignore[misc]
    return [out, *grads]


def build(impls: list[str], threads: int, check: bool = True) -> dict[tuple, dict[str, Callable[[], object]]]:
    """One step function per shape and implementation (checked to agree), warmed up."""
    steps = {}
    for shape in SHAPES:
        x, w, g = operands(shape)
        makers = {"funcnn": lambda: make_funcnn(x, w, g), "numpy": lambda: make_numpy(x, w, g),
                  "torch": lambda: make_torch(x, w, g, threads)}
        steps[shape] = {name: makers[name]() for name in impls}
        if check and len(impls) > 1:
            check_agreement(steps[shape])
        for step in steps[shape].values():
            for _ in range(3):
                step()
    return steps


def timed(step: Callable[[], object]) -> float:
    start = time.perf_counter()
    step()
    return time.perf_counter() - start


def run_together(impls: list[str], rounds: int, threads: int, gap: float) -> dict[tuple, dict[str, list[float]]]:
    """Seconds per step, ``times[shape][impl]``: every implementation in this process, in turn."""
    steps = build(impls, threads)
    times: dict[tuple, dict[str, list[float]]] = {s: {name: [] for name in impls} for s in SHAPES}
    for _ in range(rounds):
        for shape in SHAPES:
            for name, step in steps[shape].items():
                time.sleep(gap)
                times[shape][name].append(timed(step))
    return times


def run_separate(impls: list[str], rounds: int, threads: int, gap: float) -> dict[tuple, dict[str, list[float]]]:
    """Seconds per step, ``times[shape][impl]``: each implementation in a process of its own, the
    processes taking turns step by step (the others wait, idle, on a pipe)."""
    workers = {name: subprocess.Popen([sys.executable, __file__, "--worker", name, "--threads", str(threads)],
                                      stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True, bufsize=1)
               for name in impls}
    try:
        for worker in workers.values():
            assert worker.stdout is not None and worker.stdout.readline().strip() == "ready"
        times: dict[tuple, dict[str, list[float]]] = {s: {name: [] for name in impls} for s in SHAPES}
        for _ in range(rounds):
            for i, shape in enumerate(SHAPES):
                for name, worker in workers.items():
                    time.sleep(gap)
                    assert worker.stdin is not None and worker.stdout is not None
                    worker.stdin.write(f"{i}\n")
                    times[shape][name].append(float(worker.stdout.readline()))
        return times
    finally:
        for worker in workers.values():
            if worker.stdin is not None:
                worker.stdin.close()
            worker.wait()


def serve(name: str, threads: int) -> None:
    """Worker loop of ``run_separate``: read a shape's index, run its step once, print the seconds."""
    steps = build([name], threads, check=False)
    print("ready", flush=True)
    for line in sys.stdin:
        print(timed(steps[SHAPES[int(line)]][name]), flush=True)


class OtherLoad:
    """CPU time used by other processes while a block runs, in cores (Linux only; else None)."""

    def __enter__(self) -> "OtherLoad":
        self.start = (_busy_jiffies(), os.times(), time.perf_counter())
        return self

    def __exit__(self, *exc: object) -> None:
        busy0, times0, wall0 = self.start
        busy1, times1 = _busy_jiffies(), os.times()
        wall = time.perf_counter() - wall0
        if busy0 is None or busy1 is None:
            self.cores = None
            return
        ticks = os.sysconf("SC_CLK_TCK")
        ours = (times1.user + times1.system + times1.children_user + times1.children_system
                - times0.user - times0.system - times0.children_user - times0.children_system)
        self.cores = max(0.0, ((busy1 - busy0) / ticks - ours) / wall)


def _busy_jiffies() -> int | None:
    try:
        with open("/proc/stat") as f:
            fields = [int(v) for v in f.readline().split()[1:]]
    except OSError:
        return None
    return sum(fields) - fields[3] - fields[4]  # all but idle and iowait


def machine_line(threads: int) -> str:
    import numpy

    blas = "?"
    try:
        config = numpy.show_config(mode="dicts")  # type: ignore[call-arg]
        info = config["Build Dependencies"]["blas"]
        blas = f"{info['name']} {info.get('version', '')}".strip()
    except Exception:  # older NumPy: no dict mode
        pass
    cpu = platform.processor() or platform.machine()
    try:
        with open("/proc/cpuinfo") as f:
            cpu = next(line.split(":", 1)[1].strip() for line in f if line.startswith("model name"))
    except (OSError, StopIteration):
        pass
    torch_version = "not installed"
    try:
        import torch

        torch_version = torch.__version__
    except ImportError:
        pass
    malloc = ", ".join(f"{k}={os.environ[k]}" for k in ("MALLOC_TRIM_THRESHOLD_", "MALLOC_MMAP_THRESHOLD_")
                       if k in os.environ)
    return (f"{cpu}, {os.cpu_count()} cores; Python {platform.python_version()}, NumPy {numpy.__version__} "
            f"({blas}), PyTorch {torch_version} with {threads} threads; "
            f"OPENBLAS_THREAD_TIMEOUT={os.environ.get('OPENBLAS_THREAD_TIMEOUT')}" + (f"; {malloc}" if malloc else ""))


def table(times: dict[tuple, dict[str, list[float]]], impls: list[str]) -> str:
    """Medians per implementation, and each ratio as the median over rounds of the ratio of the
    two implementations' times in that round (load from other jobs then mostly cancels out)."""
    ratios = [(a, b) for a, b in (("funcnn", "numpy"), ("funcnn", "torch")) if a in impls and b in impls]
    head = "| (N, C, H, W, K, k) | " + " | ".join(f"{name} (ms)" for name in impls)
    head += "".join(f" | {a} / {b}" for a, b in ratios) + " |"
    rows = [head, "|" + " --- |" * (1 + len(impls) + len(ratios))]
    for shape, by_impl in times.items():
        cells = [f"{1e3 * float(np.median(by_impl[name])):.1f}" for name in impls]
        cells += [f"{float(np.median(np.array(by_impl[a]) / np.array(by_impl[b]))):.2f}" for a, b in ratios]
        rows.append(f"| {shape} | " + " | ".join(cells) + " |")
    return "\n".join(rows)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--impls", default=",".join(IMPLS), help="comma-separated subset of funcnn,numpy,torch")
    parser.add_argument("--rounds", type=int, default=30)
    parser.add_argument("--threads", type=int, default=min(2, os.cpu_count() or 1), help="PyTorch threads")
    parser.add_argument("--together", action="store_true", help="all implementations in this one process")
    parser.add_argument("--gap", type=float, default=0.02, help="idle seconds before each timed step")
    parser.add_argument("--keep-freed-memory", action="store_true",
                        help="rerun with glibc's trim and mmap thresholds raised")
    parser.add_argument("--worker", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.worker:
        serve(args.worker, args.threads)
        return
    if args.keep_freed_memory and "MALLOC_TRIM_THRESHOLD_" not in os.environ:
        env = dict(os.environ, MALLOC_TRIM_THRESHOLD_=str(1 << 31), MALLOC_MMAP_THRESHOLD_=str(1 << 31))
        argv = [a for a in sys.argv[1:] if a != "--keep-freed-memory"]
        raise SystemExit(subprocess.run([sys.executable, __file__, *argv], env=env).returncode)
    impls = [name for name in args.impls.split(",") if name]
    if "torch" in impls:
        try:
            import torch  # noqa: F401
        except ImportError:
            print("PyTorch is not installed: leaving it out")
            impls.remove("torch")
    if not args.together and len(impls) > 1:
        build(impls, args.threads)  # check once, here, that the implementations agree
    run = run_together if args.together else run_separate
    with OtherLoad() as load:
        times = run(impls, args.rounds, args.threads, args.gap)
    print(machine_line(args.threads))
    where = "all in one process" if args.together else "each in its own process"
    print(f"{where}, taking turns step by step; median of {args.rounds} rounds")
    if load.cores is not None:
        print(f"other processes used {load.cores:.2f} cores on average during the run"
              + (" -- the machine was busy: these figures are unreliable" if load.cores > 0.2 else ""))
    print(table(times, impls))


if __name__ == "__main__":
    main()
