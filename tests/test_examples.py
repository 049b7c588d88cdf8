"""The examples run and reach their targets on real data (skipped when MNIST is absent)."""
import os
import pathlib
import runpy

import pytest

EXAMPLES = pathlib.Path(__file__).resolve().parent.parent / "examples"


def mnist_dir():
    root = os.environ.get("FUNCNN_DATA")
    if not root or not (pathlib.Path(root) / "mnist" / "train-images-idx3-ubyte.gz").exists():
        pytest.skip("MNIST not found: set FUNCNN_DATA to a folder with mnist/ holding the original .gz files")
    return root


def test_mnist_mlp_reaches_95_percent_on_10k_images_in_two_epochs(capsys):
    root = mnist_dir()
    module = runpy.run_path(str(EXAMPLES / "mnist_mlp.py"))
    accuracy = module["main"](["--epochs", "2", "--train-size", "10000", "--batch-size", "16", "--lr", "3e-3",
                               "--one-cycle", "--data-dir", root])
    assert accuracy >= 0.95
    assert "final test accuracy" in capsys.readouterr().out
