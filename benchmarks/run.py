"""funcnn against its peers, side by side in one run.

    python -m benchmarks [--quick] [--only WORKLOAD,...] [--impls IMPL,...] [--json PATH]
    python benchmarks/run.py ...                      (the same)

Every implementation runs in its own worker process (so no library's threads can steal
the cores of another's) with the same thread count, from the same weights and data.
For each case the workers first compute check figures (the loss, the gradients, the
loss after one SGD step) that must agree to 1e-4 relative with the reference
implementation before anything is timed; then they take turns, one timed sample each
per round, the order rotating every round. The table reports the median over rounds
and, per implementation, the median over rounds of its time divided by PyTorch's time
in the same round, so that load from other jobs on the machine cancels out.
"""
from __future__ import annotations

import argparse
import gc
import importlib
import json
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import time
import traceback
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any, Sequence

if __package__ in (None, ""):  # run as a script: make the package importable
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from benchmarks import _workloads  # noqa: E402
from benchmarks._workloads import Case, Skip  # noqa: E402

ROOT = Path(__file__).resolve().parent.parent


@dataclass(frozen=True)
class Impl:
    module: str
    label: str
    package: str  # the import whose absence means "not installed"
    install: str


IMPLS = {
    "funcnn": Impl("benchmarks._impl_funcnn", "funcnn as a user writes it", "funcnn", "pip install -e ."),
    "funcnn_jit": Impl("benchmarks._impl_funcnn_jit", "the same under funcnn.jit", "funcnn", "pip install -e ."),
    "numpy": Impl("benchmarks._impl_numpy", "NumPy by hand", "numpy", "pip install numpy"),
    "torch": Impl("benchmarks._impl_torch", "PyTorch", "torch", "pip install torch==2.13.0"),
    "jax_jit": Impl("benchmarks._impl_jax_jit", "JAX jit", "jax", "pip install jax jaxlib"),
    "jax": Impl("benchmarks._impl_jax", "JAX eager", "jax", "pip install jax jaxlib"),
    "autograd": Impl("benchmarks._impl_autograd", "HIPS autograd", "autograd", "pip install autograd"),
}
# whose check figures others meet, in order of preference
REFERENCE_ORDER = ("torch", "numpy", "jax_jit", "jax", "autograd", "funcnn", "funcnn_jit")
# workloads that run on some implementations alone
ONLY = {"mnist_epoch": ("funcnn", "funcnn_jit"), "trace": ("funcnn", "jax")}


@dataclass(frozen=True)
class Settings:
    rounds: int
    warmup: float  # seconds of warm-up calls before timing
    target: float  # seconds one timed sample should last
    threads: int
    size: str  # "full" or "quick"
    redo: int  # rounds per case that may be taken again when other processes used the CPUs
    patience: float  # seconds to wait for the other processes to finish before a retake
    quiet: float = 0.1  # cores' worth of other processes' work during a sample that disturbs its round


FULL = Settings(rounds=15, warmup=0.5, target=0.2, threads=2, size="full", redo=15, patience=30.0)
QUICK = Settings(rounds=3, warmup=0.05, target=0.03, threads=2, size="quick", redo=0, patience=0.0)


# --- in a worker: build, check and time one implementation ------------------------------------------


def load(name: str) -> Any:
    """Import an implementation; ``ModuleNotFoundError`` of its own package means "not installed"."""
    impl = IMPLS[name]
    try:
        return importlib.import_module(impl.module)
    except ModuleNotFoundError as err:
        if err.name and err.name.split(".")[0] == impl.package:
            raise Skip(f"{impl.package} is not installed ({impl.install})") from None
        raise


def prepare(module: Any, case: Case) -> tuple[Any, dict, str]:
    """The case's runner, its check figures (summarised) and the fingerprint of its data."""
    factory = module.WORKLOADS.get(case.workload)
    if factory is None:
        raise Skip(f"no {case.workload} workload for this implementation")
    data = _workloads.make_data(case)
    runner = factory(case, data)
    figures = _workloads.summarize(runner.check()) if case.checked else {}
    return runner, figures, _workloads.fingerprint(data)


def timed(step: Any, calls: int) -> float:
    """Seconds per call of ``calls`` calls in a row."""
    start = time.perf_counter()
    for _ in range(calls):
        step()
    return (time.perf_counter() - start) / calls


def calibrate(step: Any, warmup: float, target: float) -> int:
    """Warm up for ``warmup`` seconds; return how many calls make a sample of about ``target`` seconds."""
    gc.collect()  # the check's garbage; a full collection can take 0.2 s with big libraries loaded
    per_call = timed(step, 1)
    spent = per_call
    while spent < warmup:
        calls = max(1, int(0.25 * warmup / per_call))
        per_call = timed(step, calls)
        spent += per_call * calls
    if per_call < target / 2:  # a first estimate can be far off: measure a sample's worth once more
        per_call = timed(step, round(target / per_call))
    return max(1, round(target / per_call))


def numpy_info() -> dict:
    """NumPy's version and BLAS, and its thread pools when threadpoolctl is installed."""
    import numpy as np

    info: dict[str, Any] = {"numpy": np.__version__}
    try:
        blas = np.show_config(mode="dicts")["Build Dependencies"]["blas"]
        info["blas"] = f"{blas.get('name')} {blas.get('version')}"
    except Exception:  # older NumPy: no dict mode
        info["blas"] = "unknown"
    try:
        from threadpoolctl import threadpool_info

        info["threadpools"] = [f"{p.get('internal_api')} {p.get('version')} x{p.get('num_threads')}"
                               for p in threadpool_info()]
    except ImportError:
        info["threadpools"] = None
    return info


class WorkerState:
    """One implementation inside its worker process, answering the parent's requests."""

    def __init__(self, name: str, threads: int) -> None:
        self.module = load(name)
        self.module.configure(threads)
        self.runner: Any = None
        self.case: Case | None = None

    def handle(self, request: dict) -> dict:
        command = request["cmd"]
        if command == "prepare":
            self.case = Case(**request["case"])
            self.runner, figures, fingerprint = prepare(self.module, self.case)
            return {"status": "ok", "check": figures, "fingerprint": fingerprint}
        if command == "calibrate":  # a case timed once per round needs no warm-up (one epoch)
            once = self.case is not None and self.case.rounds
            calls = 1 if once else calibrate(self.runner.step, request["warmup"], request["target"])
            return {"status": "ok", "calls": calls}
        if command == "time":
            seconds = timed(self.runner.step, request["calls"])
            return {"status": "ok", "seconds": seconds, "info": self.runner.info()}
        if command == "release":
            self.runner = None
            gc.collect()
            return {"status": "ok"}
        raise ValueError(f"unknown request {command!r}")


def _pin(threads: int) -> None:
    """Keep the process on ``threads`` CPUs: XLA sizes its pool by the CPUs it may use."""
    if hasattr(os, "sched_getaffinity"):
        cpus = sorted(os.sched_getaffinity(0))
        if len(cpus) > threads:
            os.sched_setaffinity(0, cpus[:threads])


def worker_main(name: str, threads: int) -> None:
    """Serve requests (one JSON object per line on stdin) until stdin closes."""
    replies = os.fdopen(os.dup(1), "w", buffering=1)
    os.dup2(2, 1)  # whatever the libraries print goes to stderr, not into the replies
    sys.stdout = sys.stderr
    _pin(threads)
    try:
        state = WorkerState(name, threads)
        hello = {"status": "ready", "versions": state.module.versions(), "numpy": numpy_info(),
                 "allocator": allocator_info()}
    except Skip as err:
        hello, state = {"status": "unavailable", "reason": str(err)}, None
    except Exception:
        hello, state = {"status": "error", "reason": _last_lines(traceback.format_exc())}, None
    replies.write(json.dumps(hello) + "\n")
    for line in sys.stdin:
        try:
            reply = state.handle(json.loads(line)) if state else {"status": "error", "message": "unavailable"}
        except Skip as err:
            reply = {"status": "skip", "message": str(err)}
        except Exception:
            reply = {"status": "error", "message": _last_lines(traceback.format_exc())}
        replies.write(json.dumps(reply) + "\n")


def _last_lines(text: str, n: int = 6) -> str:
    return " | ".join(line.strip() for line in text.strip().splitlines()[-n:])


# --- in the parent: workers, rounds, checks ----------------------------------------------------------


def allocator_info() -> str:
    """Whether this worker's glibc keeps freed memory: funcnn turns that on when imported."""
    funcnn = sys.modules.get("funcnn")
    if "MALLOC_TRIM_THRESHOLD_" in os.environ:
        return "keeps freed memory (MALLOC_*_THRESHOLD_)"
    if funcnn is not None and funcnn.config.keep_freed_memory:
        return "keeps freed memory (funcnn.config.keep_freed_memory)"
    return "default"


def worker_env(threads: int, keep_freed_memory: bool = False) -> dict[str, str]:
    env = dict(os.environ)
    if keep_freed_memory:  # what funcnn does for itself (funcnn/_src/memory.py), for every worker
        env.setdefault("MALLOC_TRIM_THRESHOLD_", str(1 << 30))
        env.setdefault("MALLOC_MMAP_THRESHOLD_", str(32 << 20))
    for var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
        env[var] = str(threads)
    # OpenBLAS's idle threads spin for ~0.1 s after each call by default: that would take a core
    # from whichever worker runs next. A short spin keeps the pool warm within a step only.
    env.setdefault("OPENBLAS_THREAD_TIMEOUT", "22")
    env.setdefault("JAX_PLATFORMS", "cpu")
    env["PYTHONPATH"] = os.pathsep.join(p for p in (str(ROOT), env.get("PYTHONPATH")) if p)
    return env


class Worker:
    """A worker process serving one implementation, and its first message (versions, or why not)."""

    def __init__(self, name: str, threads: int, keep_freed_memory: bool = False) -> None:
        self.name = name
        self.log = tempfile.TemporaryFile(mode="w+")
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "benchmarks.run", "--worker", name, "--threads", str(threads)],
            stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=self.log, text=True,
            env=worker_env(threads, keep_freed_memory),
            cwd=ROOT)
        self.hello: dict | None = None

    def greeting(self) -> dict:
        if self.hello is None:
            self.hello = self.receive()
        return self.hello

    def send(self, **request: Any) -> None:
        assert self.proc.stdin is not None
        try:
            self.proc.stdin.write(json.dumps(request) + "\n")
            self.proc.stdin.flush()
        except BrokenPipeError:
            pass  # receive() reports it

    def receive(self) -> dict:
        assert self.proc.stdout is not None
        line = self.proc.stdout.readline()
        return json.loads(line) if line else self._died()

    def request(self, **request: Any) -> dict:
        self.send(**request)
        return self.receive()

    def _died(self) -> dict:
        self.log.seek(0)
        return {"status": "error", "message": f"the worker exited: {_last_lines(self.log.read())}"}

    def close(self) -> None:
        if self.proc.stdin:
            self.proc.stdin.close()
        try:
            self.proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
        if self.proc.stdout:
            self.proc.stdout.close()
        self.log.close()


class CpuMeter:
    """How busy the CPUs were with other processes' work, from ``/proc`` (Linux; elsewhere
    :meth:`foreign` returns 0.0 and nothing is ever called disturbed)."""

    def __init__(self, pids: Sequence[int]) -> None:
        self.pids = [os.getpid(), *pids]
        self.cpus = os.cpu_count() or 1
        self.start = self._read()

    @staticmethod
    def _ticks(path: str, fields: slice) -> list[int]:
        with open(path) as f:
            return [int(v) for v in f.read().rsplit(")", 1)[-1].split()[fields]]

    def _read(self) -> tuple[int, int, int] | None:
        """Ticks of all CPUs busy, all CPUs in total, and our processes' own CPU time."""
        try:
            user, nice, system, idle, iowait, irq, softirq, steal = self._ticks("/proc/stat", slice(1, 9))
        except (OSError, ValueError):
            return None
        own = 0
        for pid in self.pids:
            try:
                own += sum(self._ticks(f"/proc/{pid}/stat", slice(11, 13)))  # utime + stime, all threads
            except (OSError, ValueError):
                pass  # a worker that has exited
        busy = user + nice + system + irq + softirq + steal  # steal: the hypervisor ran someone else
        return busy, busy + idle + iowait, own

    def restart(self) -> None:
        self.start = self._read()

    def foreign(self) -> float:
        """Cores' worth of other processes' work since the last restart (0.0 for a single tick,
        which is within the counters' resolution)."""
        end = self._read()
        if end is None or self.start is None or end[1] <= self.start[1]:
            return 0.0
        busy, total, own = (b - a for a, b in zip(self.start, end))
        return 0.0 if busy - own < 2 else (busy - own) / (total / self.cpus)

    def wait_quiet(self, threshold: float, limit: float) -> None:
        """Return once other processes use less than ``threshold`` cores over 0.5 s, or after ``limit`` s."""
        deadline = time.perf_counter() + limit
        while time.perf_counter() < deadline:
            self.restart()
            time.sleep(0.5)
            if self.foreign() < threshold:
                return


def reference_of(names: Sequence[str]) -> str | None:
    return next((n for n in REFERENCE_ORDER if n in names), None)


def compare(prepared: dict[str, dict]) -> dict[str, str | None]:
    """For every implementation with check figures: ``None`` if they agree with the reference's
    (and its data has the reference's fingerprint), else what differs."""
    reference = reference_of(list(prepared))
    if reference is None:
        return {}
    ref = prepared[reference]
    problems: dict[str, str | None] = {}
    for name, result in prepared.items():
        if result["fingerprint"] != ref["fingerprint"]:
            problems[name] = f"its data differs from {reference}'s (fingerprint {result['fingerprint']})"
        else:
            diff = _workloads.disagreement(result["check"], ref["check"])
            problems[name] = None if diff is None else f"{diff}, against {reference}"
    return problems


@dataclass
class Row:
    """One case's results: per implementation a status and, when timed, its samples."""

    case: Case
    status: dict[str, str] = field(default_factory=dict)  # "ok", "skip", "mismatch", "error"
    notes: dict[str, str] = field(default_factory=dict)
    samples: dict[str, list[float]] = field(default_factory=dict)
    calls: dict[str, int] = field(default_factory=dict)
    checks: dict[str, dict] = field(default_factory=dict)
    info: dict[str, dict] = field(default_factory=dict)
    reference: str | None = None
    wall: float = 0.0  # seconds spent on this case, checks and warm-up included
    prepare_wall: float = 0.0  # seconds the checks took (all workers at once)
    redone: int = 0  # rounds taken again because other processes used the CPUs meanwhile
    disturbed: int = 0  # rounds kept although other processes used the CPUs meanwhile

    def median(self, name: str) -> float:
        return statistics.median(self.samples[name]) / self.case.per

    def ratio(self, name: str, to: str = "torch") -> float | None:
        """The median over rounds of this implementation's time over ``to``'s in the same round."""
        mine, theirs = self.samples.get(name), self.samples.get(to)
        if not mine or not theirs or len(mine) != len(theirs):
            return None
        return statistics.median(a / b for a, b in zip(mine, theirs))

    def spread(self, name: str) -> float:
        """Half the interquartile range over the median: the noise of the samples."""
        s = self.samples[name]
        if len(s) < 4:
            return (max(s) - min(s)) / 2 / statistics.median(s)
        q1, _, q3 = statistics.quantiles(s, n=4)
        return (q3 - q1) / 2 / statistics.median(s)

    def to_json(self) -> dict:
        impls = {}
        for name, status in self.status.items():
            entry: dict[str, Any] = {"status": status, "note": self.notes.get(name)}
            if name in self.samples:
                entry.update(samples=self.samples[name], calls=self.calls[name], median=self.median(name),
                             ratio_to_torch=self.ratio(name), spread=self.spread(name))
            entry.update(check=self.checks.get(name), info=self.info.get(name))
            impls[name] = entry
        return {"workload": self.case.workload, "case": self.case.label, "sizes": self.case.sizes,
                "unit": self.case.unit, "reference": self.reference, "wall_seconds": self.wall,
                "check_seconds": self.prepare_wall, "rounds_redone": self.redone,
                "rounds_disturbed": self.disturbed, "impls": impls}


def measure(case: Case, workers: dict[str, Worker], settings: Settings, meter: CpuMeter) -> Row:
    """Check, then time, ``case`` on every worker that can run it."""
    row = Row(case)
    names = [n for n in workers if case.workload not in ONLY or n in ONLY[case.workload]]
    began = time.perf_counter()
    for name in names:  # the checks (compilation included) run in all workers at once
        workers[name].send(cmd="prepare", case=case.to_json())
    replies = {name: workers[name].receive() for name in names}
    row.prepare_wall = time.perf_counter() - began
    loaded = [name for name in names if replies[name]["status"] == "ok"]
    for name in names:
        row.status[name], row.notes[name] = replies[name]["status"], replies[name].get("message", "")
        row.checks[name] = replies[name].get("check", {})
    checked = {name: replies[name] for name in loaded if case.checked}
    row.reference = reference_of(list(checked))
    for name, problem in compare(checked).items():
        if problem:
            row.status[name], row.notes[name] = "mismatch", problem
    timing = [name for name in names if row.status[name] == "ok"]
    for name in timing:  # warm-up one at a time, so that each has the cores to itself
        reply = workers[name].request(cmd="calibrate", warmup=settings.warmup, target=settings.target)
        row.calls[name] = reply["calls"]
    rounds = case.rounds or settings.rounds
    while timing and len(row.samples.get(timing[0], ())) < rounds:
        turn = len(row.samples.get(timing[0], ())) % len(timing)
        samples, load = {}, 0.0
        for name in timing[turn:] + timing[:turn]:
            meter.restart()
            reply = workers[name].request(cmd="time", calls=row.calls[name])
            load = max(load, meter.foreign())  # per sample: PyTorch's threads suffer from a short burst
            if reply["status"] != "ok":
                row.status[name], row.notes[name] = "error", reply["message"]
                row.samples.pop(name, None)
                continue
            samples[name] = reply["seconds"]
            row.info[name] = reply["info"]
        timing = [name for name in timing if row.status[name] == "ok"]
        if load > settings.quiet:
            if row.redone < settings.redo:  # other processes took CPU time: wait for quiet, then retake
                row.redone += 1
                meter.wait_quiet(settings.quiet, settings.patience)
                continue
            row.disturbed += 1
        for name in timing:
            row.samples.setdefault(name, []).append(samples[name])
    for name in loaded:
        workers[name].send(cmd="release")
    for name in loaded:
        workers[name].receive()
    return row


# --- the table --------------------------------------------------------------------------------


def _seconds(t: float) -> str:
    if t < 1e-3:
        return f"{t * 1e6:.2f} us"
    if t < 1.0:
        return f"{t * 1e3:.3f} ms"
    return f"{t:.2f} s"


def _ratio(r: float | None) -> str:
    return "-" if r is None else f"{r:.2f}x"


CASE_WIDTH = 50  # the longest case title, "per_example_grads batch 64, jacrev of the losses", and a gap
HEADER = f"{'case':<{CASE_WIDTH}}{'impl':<10}{'median':>13}{'steps/s':>11}{'vs torch':>10}{'spread':>8}  note"


def format_row(row: Row) -> list[str]:
    lines = []
    title = row.case.title
    for name, status in row.status.items():
        if status != "ok":
            loud = "MISMATCH: " if status == "mismatch" else f"{status}: "
            lines.append(f"{title:<{CASE_WIDTH}}{name:<10}{'-':>13}{'-':>11}{'-':>10}{'':>8}  "
                         f"{loud}{row.notes[name]}")
        else:
            per = row.median(name)
            unit = f"/{row.case.unit}" if row.case.per > 1 else ""
            rate = row.case.steps / (per * row.case.per)
            note = ", ".join(f"{k} {v:.4f}" for k, v in row.info.get(name, {}).items())
            if name == row.reference:
                note = ", ".join(filter(None, [note, "check reference"]))
            lines.append(f"{title:<{CASE_WIDTH}}{name:<10}{_seconds(per) + unit:>13}{rate:>11.1f}"
                         f"{_ratio(row.ratio(name)):>10}{'±' + format(row.spread(name), '.0%'):>8}  {note}")
        title = ""
    if row.redone or row.disturbed:
        lines.append(f"{'':<{CASE_WIDTH}}({row.redone} rounds taken again and {row.disturbed} kept while other "
                     "processes used the CPUs)")
    return lines


def summary(rows: list[Row], names: list[str]) -> list[str]:
    """Ratios to PyTorch, one line per case, one column per implementation."""
    shown = [n for n in names if n != "torch"]
    if not any("torch" in row.samples for row in rows):
        return ["", "no ratios: PyTorch was not measured (add torch to --impls, or install torch==2.13.0)"]
    width = max([10] + [len(n) + 2 for n in shown])
    lines = ["", "time relative to PyTorch (median over rounds of the per-round ratio; lower is faster)",
             f"{'case':<{CASE_WIDTH}}" + "".join(f"{n:>{width}}" for n in shown)]
    for row in rows:
        if "torch" not in row.samples:
            continue
        cells = []
        for n in shown:
            status = row.status.get(n)
            cells.append(_ratio(row.ratio(n)) if status == "ok" else {"mismatch": "MISMATCH", None: "-"}.get(
                status, status or "-"))
        lines.append(f"{row.case.title:<{CASE_WIDTH}}" + "".join(f"{c:>{width}}" for c in cells))
    return lines


def machine(hellos: dict[str, dict], settings: Settings) -> dict:
    cpu = platform.processor() or platform.machine()
    try:
        with open("/proc/cpuinfo") as f:
            cpu = next(line.split(":", 1)[1].strip() for line in f if line.startswith("model name"))
    except (OSError, StopIteration):
        pass
    ready = [h for h in hellos.values() if h["status"] == "ready"]
    versions: dict[str, str] = {}
    for h in ready:
        versions.update(h["versions"])
    return {
        "cpu": cpu, "cpus": os.cpu_count(), "threads": settings.threads, "platform": platform.platform(),
        "python": platform.python_version(), "numpy": ready[0]["numpy"] if ready else None, "versions": versions,
        "allocator": {name: h["allocator"] for name, h in hellos.items() if h["status"] == "ready"},
    }


def machine_lines(m: dict) -> list[str]:
    np_info = m["numpy"] or {}
    pools = np_info.get("threadpools")
    pools = "; ".join(pools) if pools else "threadpoolctl not installed"
    versions = ", ".join(f"{k} {v}" for k, v in m["versions"].items())
    return [f"machine: {m['cpu']}, {m['cpus']} CPUs, {m['platform']}; {m['threads']} threads per implementation",
            f"python {m['python']}, numpy {np_info.get('numpy')} (BLAS {np_info.get('blas')}; {pools}); {versions}"]


# --- in-process checks (the smoke test) ---------------------------------------------------------


def check_agreement(names: Sequence[str], size: str = "tiny", workloads: Sequence[str] | None = None) -> list[dict]:
    """Run every case's check for ``names`` in this process and compare, without timing anything.

    Returns one ``{"case", "problems", "skipped"}`` per case: ``problems[name]`` is ``None``
    when ``name`` agrees with the reference, else what differs.
    """
    modules = {name: load(name) for name in names}
    out = []
    for workload in workloads or list(_workloads.WORKLOADS):
        for case in _workloads.cases(workload, size):
            prepared, skipped = {}, {}
            for name, module in modules.items():
                try:
                    _, figures, fingerprint = prepare(module, case)
                except Skip as err:
                    skipped[name] = str(err)
                    continue
                prepared[name] = {"check": figures, "fingerprint": fingerprint}
            out.append({"case": case.title, "problems": compare(prepared), "skipped": skipped})
    return out


# --- command line ----------------------------------------------------------------------------


def _names(text: str | None, known: Sequence[str], what: str) -> list[str]:
    if not text:
        return list(known)
    names = [n.strip() for n in text.split(",") if n.strip()]
    unknown = [n for n in names if n not in known]
    if unknown:
        raise SystemExit(f"unknown {what}: {', '.join(unknown)} (choose from {', '.join(known)})")
    return names


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m benchmarks", description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="fewer, shorter rounds (under a minute)")
    parser.add_argument("--only", metavar="WORKLOAD,...", help=f"workloads to run ({', '.join(_workloads.WORKLOADS)})")
    parser.add_argument("--impls", metavar="IMPL,...", help=f"implementations to run ({', '.join(IMPLS)})")
    parser.add_argument("--json", metavar="PATH", help="write the raw figures (every sample) to PATH")
    parser.add_argument("--rounds", type=int, help="rounds per case (default 15, or 5 with --quick)")
    parser.add_argument("--threads", type=int, default=2, help="threads per implementation (default 2)")
    parser.add_argument("--keep-freed-memory", action="store_true",
                        help="let glibc keep freed memory in every worker, as funcnn does in its own")
    parser.add_argument("--worker", help=argparse.SUPPRESS)
    return parser.parse_args(argv)


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    if args.worker:
        worker_main(args.worker, args.threads)
        return 0
    base = QUICK if args.quick else FULL
    settings = replace(base, rounds=args.rounds or base.rounds, threads=args.threads)
    workloads = _names(args.only, list(_workloads.WORKLOADS), "workload")
    names = _names(args.impls, list(IMPLS), "implementation")
    start = time.perf_counter()
    broken: list[str] = []
    workers = {name: Worker(name, settings.threads, args.keep_freed_memory) for name in names}
    try:
        hellos = {name: w.greeting() for name, w in workers.items()}
        m = machine(hellos, settings)
        retake = (f"a round in which other processes used over {settings.quiet} of a core during a sample is "
                  f"taken again (up to {settings.redo} per case)" if settings.redo else
                  "rounds during which other processes used the CPUs are counted, not taken again")
        print(f"funcnn benchmarks: median of {settings.rounds} rounds, implementations taking turns, each in its "
              f"own process; {retake}")
        print("\n".join(machine_lines(m)))
        print("implementations: " + "; ".join(f"{n} = {IMPLS[n].label}" for n in names))
        print("allocator: " + "; ".join(f"{n} {a}" for n, a in m["allocator"].items()))
        for name, hello in hellos.items():
            if hello["status"] == "unavailable":
                print(f"note: {name} skipped: {hello['reason']}")
            elif hello["status"] != "ready":
                print(f"ERROR: {name} failed to start: {hello['reason']}", file=sys.stderr)
                broken.append(f"{name}: failed to start")
            if hello["status"] != "ready":
                workers.pop(name).close()
        print("\n" + HEADER, flush=True)
        rows = []
        meter = CpuMeter([w.proc.pid for w in workers.values()])
        for workload in workloads:
            for case in _workloads.cases(workload, settings.size):
                began = time.perf_counter()
                rows.append(measure(case, workers, settings, meter))
                rows[-1].wall = time.perf_counter() - began
                print("\n".join(format_row(rows[-1])), flush=True)
        print("\n".join(summary(rows, list(workers))))
        print(f"\n{time.perf_counter() - start:.0f} s in all")
    finally:
        for w in workers.values():
            w.close()
    if args.json:
        record = {"machine": m, "settings": settings.__dict__, "rows": [r.to_json() for r in rows]}
        Path(args.json).write_text(json.dumps(record, indent=1))
    disturbed = sum(r.disturbed for r in rows)
    if disturbed:
        print(f"\nwarning: {disturbed} rounds ran while other processes used the CPUs; their times are "
              "unreliable (run without --quick to retake them, or on a quiet machine)", file=sys.stderr)
    bad = broken + [f"{r.case.title}: {n}" for r in rows for n, s in r.status.items() if s in ("mismatch", "error")]
    if bad:
        print("\nFAILED CHECKS OR ERRORS (no time reported for these):\n  " + "\n  ".join(bad), file=sys.stderr)
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())
