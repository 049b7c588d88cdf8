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
                               "--data-dir", root])
    assert accuracy >= 0.95
    assert "final test accuracy" in capsys.readouterr().out


def run_example(name, *args):
    return runpy.run_path(str(EXAMPLES / name))["main"](list(args))


def test_regression_recovers_the_noise_floor():
    assert run_example("regression.py", "--epochs", "20") < 0.02  # noise variance is 0.01


def test_binary_classification_with_weight_decay():
    assert run_example("binary_classification.py", "--epochs", "30") > 0.97


def test_spirals_are_separated(tmp_path):
    assert run_example("spirals.py", "--epochs", "100", "--plot", str(tmp_path / "s.png")) > 0.95


def test_mnist_cnn_learns_on_a_small_subset():
    root = mnist_dir()
    # 1,000 images and one epoch: well above the 10% of chance, in seconds
    assert run_example("mnist_cnn.py", "--epochs", "1", "--train-size", "1000", "--batch-size", "32",
                       "--data-dir", root, "--verbose", "0") > 0.6
