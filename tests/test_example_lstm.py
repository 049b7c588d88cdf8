"""examples/mnist_lstm.py runs on a small MNIST subset, saves a checkpoint after every epoch,
and --resume continues exactly where it stopped (skipped when MNIST is absent)."""
import os
import pathlib
import runpy

import numpy as np
import pytest

from funcnn import io

EXAMPLE = pathlib.Path(__file__).resolve().parent.parent / "examples" / "mnist_lstm.py"


def mnist_dir():
    root = os.environ.get("FUNCNN_DATA")
    if not root or not (pathlib.Path(root) / "mnist" / "train-images-idx3-ubyte.gz").exists():
        pytest.skip("MNIST not found: set FUNCNN_DATA to a folder with mnist/ holding the original .gz files")
    return root


def run(*args):
    return runpy.run_path(str(EXAMPLE))["main"](list(args))


def test_mnist_lstm_trains_saves_and_resumes(tmp_path, capsys):
    root = mnist_dir()
    small = ["--train-size", "640", "--test-size", "200", "--batch-size", "32", "--hidden", "64", "--lr", "1e-2",
             "--data-dir", root]
    straight = run(*small, "--epochs", "2", "--checkpoint", str(tmp_path / "straight.npz"))
    out = capsys.readouterr().out
    assert "Epoch 2/2" in out and "s/epoch" in out and "final test accuracy" in out
    assert straight > 0.3  # 40 steps on 640 images: well above the 10% of chance

    path = str(tmp_path / "split.npz")
    run(*small, "--epochs", "2", "--stop-after", "1", "--checkpoint", path)  # as if interrupted after epoch 1
    saved = io.load(path)
    assert int(saved["epoch"]) == 1 and saved["params"]["lstm_0"]["l0"]["w_hh"].shape == (256, 64)
    resumed = run(*small, "--epochs", "2", "--checkpoint", path, "--resume")
    assert "resumed from" in capsys.readouterr().out
    assert int(io.load(path)["epoch"]) == 2
    final = io.load(path)["params"]
    again = io.load(str(tmp_path / "straight.npz"))["params"]
    # one epoch, saved, then resumed for the second: the same parameters as two epochs in one go
    for a, b in zip(np.ravel(final["dense_1"]["w"]), np.ravel(again["dense_1"]["w"])):
        assert a == b
    assert resumed == straight
