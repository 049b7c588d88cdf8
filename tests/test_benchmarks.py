"""Smoke test of the peer benchmarks' correctness checks (``benchmarks/run.py``), on tiny
sizes and in this process: nothing here is timed."""
from __future__ import annotations

import pathlib
import sys

import numpy as np
import pytest

ROOT = pathlib.Path(__file__).resolve().parent.parent


@pytest.fixture(scope="module")
def harness():
    with pytest.MonkeyPatch.context() as mp:
        mp.syspath_prepend(str(ROOT))
        from benchmarks import _workloads, run

        yield run, _workloads


def test_funcnn_agrees_with_numpy_by_hand_on_every_workload(harness):
    run, workloads = harness
    results = run.check_agreement(["funcnn", "numpy"], size="tiny")
    assert [r["case"].split()[0] for r in results] == ["mlp_step", "cnn_step", "conv", "overhead"] + [
        "per_example_grads"] * 3 + ["attention_step"]
    for result in results:
        assert "numpy" not in result["skipped"], result
        expected = {name: None for name in ("funcnn", "numpy") if name not in result["skipped"]}
        assert result["problems"] == expected, result


def _figures(harness):
    run, workloads = harness
    case = workloads.cases("mlp_step", "tiny")[0]
    _, figures, fingerprint = run.prepare(run.load("numpy"), case)
    return figures, fingerprint


def test_a_figure_off_by_more_than_the_tolerance_is_a_mismatch(harness):
    run, workloads = harness
    figures, fingerprint = _figures(harness)
    for name in ("loss", "loss after one step", "grad dense_0.w"):
        off = {k: list(v) for k, v in figures.items()}
        off[name][0] *= 1 + 10 * workloads.RTOL
        problems = run.compare({"numpy": {"check": figures, "fingerprint": fingerprint},
                                "funcnn": {"check": off, "fingerprint": fingerprint}})
        assert problems["numpy"] is None
        assert problems["funcnn"] is not None and name in problems["funcnn"]
    close = {k: [v[0] * (1 + workloads.RTOL / 10), v[1]] for k, v in figures.items()}
    assert workloads.disagreement(close, figures) is None


def test_a_transposed_gradient_and_nan_are_mismatches(harness):
    _, workloads = harness
    g = np.random.default_rng(0).standard_normal((5, 5))
    assert workloads.disagreement(workloads.summarize({"grad w": g.T}), workloads.summarize({"grad w": g}))
    assert workloads.disagreement(workloads.summarize({"loss": np.nan}), workloads.summarize({"loss": 1.0}))


def test_different_data_is_a_mismatch(harness):
    run, _ = harness
    figures, fingerprint = _figures(harness)
    problems = run.compare({"numpy": {"check": figures, "fingerprint": fingerprint},
                            "funcnn": {"check": figures, "fingerprint": "0" * 12}})
    assert "data differs" in problems["funcnn"]


def test_a_missing_peer_is_skipped_with_a_note(harness, monkeypatch):
    run, _ = harness
    monkeypatch.setitem(sys.modules, "autograd", None)  # as if not installed
    monkeypatch.delitem(sys.modules, "benchmarks._impl_autograd", raising=False)
    with pytest.raises(run.Skip, match="autograd is not installed"):
        run.load("autograd")


def test_a_worker_process_reports_the_same_check_figures(harness):
    run, workloads = harness
    case = workloads.cases("mlp_step", "tiny")[0]
    _, figures, fingerprint = run.prepare(run.load("numpy"), case)
    worker = run.Worker("numpy", threads=1)
    try:
        assert worker.greeting()["status"] == "ready"
        reply = worker.request(cmd="prepare", case=case.to_json())
    finally:
        worker.close()
    assert reply == {"status": "ok", "check": figures, "fingerprint": fingerprint}


def test_workers_report_their_allocator_and_can_all_keep_freed_memory(harness):
    run, _ = harness
    env = run.worker_env(2, keep_freed_memory=True)
    assert int(env["MALLOC_TRIM_THRESHOLD_"]) >= 1 << 30 and int(env["MALLOC_MMAP_THRESHOLD_"]) == 32 << 20
    worker = run.Worker("numpy", threads=1, keep_freed_memory=True)
    try:
        assert worker.greeting()["allocator"].startswith("keeps freed memory")
    finally:
        worker.close()
