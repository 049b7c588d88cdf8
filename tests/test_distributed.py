"""funcnn.distributed: packing without MPI; collectives, data-parallel fit, agreement and
faults in real 2-process MPI jobs (skipped when mpi4py or mpiexec is missing)."""
import os
import pathlib
import shutil
import subprocess
import sys

import numpy as np
import pytest

import funcnn.numpy as fnp
from funcnn import io
from funcnn.distributed._data_parallel import _part
from funcnn.distributed._packing import buckets

PROGRAMS = pathlib.Path(__file__).resolve().parent / "mpi" / "programs.py"


# --- no MPI needed ------------------------------------------------------------------------


def test_buckets_pack_small_leaves_by_dtype_and_leave_large_ones_alone():
    leaves = [np.zeros(3, np.float32), np.zeros(2), np.zeros(5, np.float32), np.zeros(100), np.zeros(20, np.float32)]
    assert buckets(leaves, 64) == [[0, 2], [1], [3], [4]]  # 12 + 20 bytes fit; 80 more would not
    assert buckets(leaves, 10_000) == [[0, 2, 4], [1, 3]]
    assert buckets([], 64) == []


def test_parts_are_disjoint_cover_and_differ_by_at_most_one():
    for n in range(0, 30):
        for parts in range(1, 5):
            bounds = [_part(n, i, parts) for i in range(parts)]
            assert bounds[0][0] == 0 and bounds[-1][1] == n
            assert all(bounds[i][1] == bounds[i + 1][0] for i in range(parts - 1))
            sizes = [b - a for a, b in bounds]
            assert max(sizes) - min(sizes) <= 1
            assert [len(p) for p in np.array_split(np.arange(n), parts)] == sizes


def test_a_missing_mpi4py_names_the_extra(monkeypatch):
    import funcnn.distributed as dist

    monkeypatch.setitem(sys.modules, "mpi4py", None)
    with pytest.raises(ImportError, match=r"funcnn\[mpi\]"):
        dist.rank()


# --- one process (mpi4py installed, no mpiexec) ---------------------------------------------


def test_one_process_collectives_are_identities():
    pytest.importorskip("mpi4py", reason="mpi4py is not installed (pip install 'funcnn[mpi]')")
    import funcnn as fn
    import funcnn.distributed as dist

    tree = {"a": np.arange(6.0).reshape(2, 3), "b": np.ones(2, np.float32)}
    assert dist.world_size() == 1 and dist.rank() == 0 and dist.is_main()
    for got in (dist.all_reduce_mean(tree), dist.all_reduce_sum(tree), dist.broadcast(tree),
                fn.jit(dist.all_reduce_mean)(tree)):
        assert all(np.array_equal(got[k], tree[k]) and got[k].dtype == tree[k].dtype for k in tree)
    assert dist.all_gather(tree)["a"].shape == (1, 2, 3)
    graph = fn.make_graph(dist.all_reduce_mean)(tree)
    assert [eq.prim.name for eq in graph.equations].count("all_reduce") == 2  # one per dtype
    with pytest.raises(TypeError, match="concrete arrays.*outside jit"):
        fn.jit(dist.broadcast)(tree)
    with pytest.raises(TypeError, match=r"\['n'\].*int64"):
        dist.all_reduce_mean({"n": np.arange(3)})
    fn.testing.check_grads(lambda x: fnp.sin(dist.all_reduce_mean(x)), (np.arange(3.0),), order=2)


# --- two processes ----------------------------------------------------------------------------


def mpiexec():
    pytest.importorskip("mpi4py", reason="mpi4py is not installed (pip install 'funcnn[mpi]')")
    found = shutil.which("mpiexec") or shutil.which("mpiexec", path=os.path.dirname(sys.executable))
    if not found:
        pytest.skip("mpiexec is not on PATH (pip install 'funcnn[mpi]' brings Open MPI's)")
    root = ["--allow-run-as-root"] if hasattr(os, "geteuid") and os.geteuid() == 0 else []
    return [found, "-n", "2", "--oversubscribe", *root]


def run_mpi(case, out, n=2, timeout=240):
    command = mpiexec()
    command[2] = str(n)
    env = dict(os.environ, OMP_NUM_THREADS="1", OPENBLAS_NUM_THREADS="1")
    return subprocess.run([*command, sys.executable, str(PROGRAMS), case, str(out)], capture_output=True, text=True,
                          timeout=timeout, env=env)


def test_collectives_between_two_processes(tmp_path):
    done = run_mpi("collectives", tmp_path / "out")
    assert done.returncode == 0, done.stderr
    assert (tmp_path / "out").read_text() == "ok"


def test_different_trees_are_reported_with_the_key_path_on_every_process(tmp_path):
    done = run_mpi("mismatch", tmp_path / "out")
    assert done.returncode == 0, done.stderr
    for r in (0, 1):
        message = (tmp_path / f"out.{r}").read_text()
        assert "['dense']['w']" in message and "(3, 4)" in message and "(3, 5)" in message and "rank 1" in message


def test_an_error_in_one_process_ends_the_job(tmp_path):
    done = run_mpi("failure", tmp_path / "out", timeout=120)
    assert done.returncode != 0
    assert "rank 1 of 2 failed" in done.stderr and "rank 1 cannot go on" in done.stderr


def test_stopping_checkpoints_and_logs_are_agreed(tmp_path):
    done = run_mpi("agreement", tmp_path / "out")
    assert done.returncode == 0, done.stderr
    # one set of progress lines (rank 0 only) and one checkpoint per epoch plus the end, written once
    assert done.stderr.count("Epoch 1/6") == 1 and done.stderr.count("Epoch 2/6") == 1
    assert list(io.load(tmp_path / "out")["files"]) == ["step-0000000006-epoch-000001.npz",
                                                        "step-0000000012-epoch-000002.npz"]


def mnist_dir():
    root = os.environ.get("FUNCNN_DATA")
    if not root or not (pathlib.Path(root) / "mnist" / "train-images-idx3-ubyte.gz").exists():
        pytest.skip("MNIST not found: set FUNCNN_DATA to a folder with mnist/ holding the original .gz files")
    return root


@pytest.mark.slow
@pytest.mark.parametrize("optimizer", ["sgd", "adam"])
def test_two_processes_of_batch_32_train_as_one_of_batch_64(tmp_path, optimizer):
    """One epoch of the MNIST MLP: the same global batches in the same order give the same
    parameters, up to float32 round-off (each process sums 32 rows where one sums 64)."""
    mnist_dir()
    two = run_mpi(f"mnist_{optimizer}", tmp_path / "two.npz", timeout=600)
    assert two.returncode == 0, two.stderr
    one = run_mpi(f"mnist_{optimizer}", tmp_path / "one.npz", n=1, timeout=600)
    assert one.returncode == 0, one.stderr
    a, b = io.load(tmp_path / "one.npz"), io.load(tmp_path / "two.npz")
    for layer in a["params"]:
        for name in a["params"][layer]:
            expected, got = a["params"][layer][name], b["params"][layer][name]
            assert np.linalg.norm(got - expected) <= 1e-5 * np.linalg.norm(expected)
            # elementwise: Adam's steps for the weights of pixels that are almost never lit
            # divide tiny gradients by their tiny RMS, which magnifies round-off
            np.testing.assert_allclose(got, expected, rtol=1e-5, atol=1e-6 if optimizer == "sgd" else 5e-6)
    np.testing.assert_allclose(b["loss"], a["loss"], rtol=1e-5)


@pytest.mark.slow
def test_the_distributed_example_trains(tmp_path):
    root = mnist_dir()
    command = mpiexec()
    example = pathlib.Path(__file__).resolve().parent.parent / "examples" / "mnist_distributed.py"
    done = subprocess.run([*command, sys.executable, str(example), "--epochs", "1", "--train-size", "10000",
                           "--data-dir", root, "--checkpoint", str(tmp_path / "run")], capture_output=True, text=True,
                          timeout=600)
    assert done.returncode == 0, done.stderr
    accuracy = float(done.stdout.strip().split()[-1])
    assert done.stdout.count("final test accuracy") == 1 and accuracy > 0.88
    assert done.stderr.count("Epoch 1/1") == 1  # rank 0 alone reports
    assert sorted(os.listdir(tmp_path / "run")) == ["step-0000000157-epoch-000001.npz"]
