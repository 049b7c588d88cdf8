"""Benchmark: funcnn.distributed's pytree all-reduce against mpi4py's raw ``Allreduce`` of one
NumPy buffer of the same size, and the data-parallel training step with 1 and N processes.

    python benchmarks/bench_distributed.py                 # launches mpiexec itself
    python benchmarks/bench_distributed.py --processes 2 --rounds 30

Needs mpi4py and an MPI (``pip install "funcnn[mpi]"``). The script starts ``mpiexec -n N``
(and ``-n 1`` for the one-process step) on this machine, with one BLAS thread per process,
and prints the table that rank 0 measured:

* ``allreduce``: ``all_reduce_mean`` of two gradient trees, the MNIST MLP's (238,314 float32
  in 8 leaves) and a 10M-parameter one (4 matrices of 2048 x 1024, an embedding of
  1600 x 1000 and 12 bias vectors), eager and under ``jit``, against ``comm.Allreduce`` of one
  contiguous float32 buffer of the same size (the floor: no packing, no mean). Each round
  times the three in turn, one collective each, started after a barrier; a figure is the
  median over rounds, a ratio the median of the ratios within rounds; bandwidth is the
  tree's bytes over the time.
* ``train_step``: one jitted step of the MLP (forward, backward, gradient all-reduce, Adam)
  with a global batch of 64 samples: 64 in one process, 64 / N in each of N.
"""
from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import time

MLP = [(784, 256), (256,), (256, 128), (128,), (128, 32), (32,), (32, 10), (10,)]
TEN_MILLION = [(2048, 1024)] * 4 + [(1600, 1000)] + [(1024,)] * 8 + [(2048,)] * 4


def _median(values: list[float]) -> float:
    ordered = sorted(values)
    return ordered[len(ordered) // 2]


def _timed(fun, comm, rounds: int, warm: bool = True) -> float:
    """Median seconds of ``fun()`` over ``rounds``, each started after a barrier (rank 0's clock)."""
    if warm:
        fun()  # warm-up: compiles, allocates, connects
    times = []
    for _ in range(rounds):
        comm.Barrier()
        start = time.perf_counter()
        fun()
        times.append(time.perf_counter() - start)
    return _median(times)


def _allreduce_rows(comm, rounds: int) -> list[dict]:
    """Each round times raw, eager and jitted in turn, so all three see the same machine;
    ratios are medians over rounds of the ratio within a round."""
    import numpy as np

    import funcnn as fn
    from funcnn import distributed

    rows = []
    mean = fn.jit(distributed.all_reduce_mean)
    for name, shapes in (("mlp 238k", MLP), ("10M", TEN_MILLION)):
        rng = np.random.default_rng(comm.Get_rank())
        tree = [rng.standard_normal(s).astype(np.float32) for s in shapes]
        size = sum(int(np.prod(s)) for s in shapes)
        send, out = rng.standard_normal(size).astype(np.float32), np.empty(size, np.float32)
        impls = {"mpi4py raw": lambda: comm.Allreduce(send, out),
                 "funcnn": lambda: distributed.all_reduce_mean(tree), "funcnn_jit": lambda: mean(tree)}
        times: dict[str, list[float]] = {impl: [] for impl in impls}
        for fun in impls.values():
            fun()  # warm-up: compiles, allocates, connects
        for _ in range(rounds):
            for impl, fun in impls.items():
                times[impl].append(_timed(fun, comm, 1, warm=False))
        for impl in impls:
            ratio = _median([t / r for t, r in zip(times[impl], times["mpi4py raw"])])
            seconds = _median(times[impl])
            rows.append({"case": f"allreduce {name}", "impl": impl, "seconds": seconds,
                         "gbytes_per_s": 4 * size / seconds / 1e9, "vs_raw": ratio})
    return rows


def _train_step_row(comm, rounds: int, global_batch: int = 64) -> dict:
    import numpy as np

    import funcnn as fn
    from funcnn import distributed, losses, nn, optim, random

    processes = comm.Get_size()
    model = nn.serial(nn.Dense(256), nn.Relu, nn.Dense(128), nn.Relu, nn.Dense(32), nn.Relu, nn.Dense(10))
    _, params = model.init(random.key(0), (-1, 784))
    optimizer = distributed.data_parallel(optim.adam(1e-3))
    opt_state = optimizer.init(params)
    rng = np.random.default_rng(comm.Get_rank())
    x = rng.random((global_batch // processes, 784), np.float32)
    y = rng.integers(0, 10, global_batch // processes)

    @fn.jit
    def step(params, opt_state, x, y):
        grads = fn.grad(lambda p: losses.cross_entropy(model.apply(p, x), y))(params)
        updates, opt_state = optimizer.update(grads, opt_state, params)
        return optim.apply_updates(params, updates), opt_state

    state = {"params": params, "opt_state": opt_state}

    def one_step():
        state["params"], state["opt_state"] = step(state["params"], state["opt_state"], x, y)

    seconds = _timed(one_step, comm, rounds)
    return {"case": f"train_step mlp, global batch {global_batch}", "impl": f"{processes} process(es)",
            "seconds": seconds, "steps_per_s": 1 / seconds}


def worker(rounds: int, with_allreduce: bool) -> None:
    from mpi4py import MPI

    comm = MPI.COMM_WORLD
    rows = (_allreduce_rows(comm, rounds) if with_allreduce else []) + [_train_step_row(comm, rounds)]
    if comm.Get_rank() == 0:
        print("ROWS " + json.dumps(rows))


def _launch(processes: int, rounds: int, with_allreduce: bool) -> list[dict]:
    mpiexec = shutil.which("mpiexec") or shutil.which("mpiexec", path=os.path.dirname(sys.executable))
    if mpiexec is None:
        raise SystemExit("mpiexec not found: pip install 'funcnn[mpi]'")
    root = ["--allow-run-as-root"] if hasattr(os, "geteuid") and os.geteuid() == 0 else []
    env = dict(os.environ, OMP_NUM_THREADS="1", OPENBLAS_NUM_THREADS="1", MKL_NUM_THREADS="1")
    command = [mpiexec, "-n", str(processes), "--oversubscribe", *root, sys.executable, __file__, "--worker",
               "--rounds", str(rounds)] + ([] if with_allreduce else ["--no-allreduce"])
    done = subprocess.run(command, capture_output=True, text=True, env=env, check=True)
    line = next(line for line in done.stdout.splitlines() if line.startswith("ROWS "))
    return list(json.loads(line[5:]))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--processes", type=int, default=2)
    parser.add_argument("--rounds", type=int, default=30)
    parser.add_argument("--worker", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--no-allreduce", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.worker:
        worker(args.rounds, not args.no_allreduce)
        return
    rows = _launch(args.processes, args.rounds, True) + _launch(1, args.rounds, False)
    print(f"{'case':<42} {'impl':<14} {'median':>11} {'GB/s':>7} {'vs raw':>7} {'steps/s':>8}")
    for row in rows:
        rate = f"{row['gbytes_per_s']:.2f}" if "gbytes_per_s" in row else "-"
        ratio = f"{row['vs_raw']:.2f}x" if "vs_raw" in row else "-"
        steps = f"{row['steps_per_s']:.0f}" if "steps_per_s" in row else "-"
        print(f"{row['case']:<42} {row['impl']:<14} {row['seconds'] * 1e3:>8.3f} ms {rate:>7} {ratio:>7} {steps:>8}")


if __name__ == "__main__":
    main()
