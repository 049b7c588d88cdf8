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
    out = capsys.readouterr().out
    assert "final test accuracy" in out
    assert "  step 156/625" in out  # progress within an epoch, not only at its end


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


def test_private_gradient_clips_each_example_and_adds_noise_from_its_key():
    import numpy as np

    import funcnn as fn
    from funcnn import losses, random, tree_util

    module = runpy.run_path(str(EXAMPLES / "per_example_gradients.py"))
    rng = np.random.default_rng(0)
    x, labels = rng.random((6, 784)), rng.integers(0, 10, 6)
    for params in (module["init_params"](random.key(0)), module["init_cnn"](random.key(0))):
        params = tree_util.tree_map(lambda p: np.asarray(p, np.float64), params)
        clip = 0.5
        got = module["private_gradient"](params, x, labels, random.key(1), clip, 0.0)
        expected = None
        for i in range(6):  # one example at a time: its gradient, scaled to norm <= clip
            g = fn.grad(module["example_loss"])(params, x[i], labels[i])
            norm = np.sqrt(sum(np.sum(leaf ** 2) for leaf in tree_util.tree_leaves(g)))
            g = tree_util.tree_map(lambda leaf: leaf * min(1.0, clip / norm) / 6, g)
            expected = g if expected is None else tree_util.tree_map(np.add, expected, g)
        for a, b in zip(tree_util.tree_leaves(got), tree_util.tree_leaves(expected)):
            np.testing.assert_allclose(a, b, rtol=1e-9, atol=1e-12)
        unclipped = module["private_gradient"](params, x, labels, random.key(1), 1e9, 0.0)
        batch = fn.grad(lambda p: losses.cross_entropy(module["predict"](p, x), labels))(params)
        for a, b in zip(tree_util.tree_leaves(unclipped), tree_util.tree_leaves(batch)):
            np.testing.assert_allclose(a, b, rtol=1e-9, atol=1e-12)
        noisy = [module["private_gradient"](params, x, labels, random.key(k), clip, 1.0) for k in (1, 1, 2)]
        first, same, other = (tree_util.tree_leaves(n)[0] for n in noisy)
        assert np.array_equal(first, same) and not np.allclose(first, other)


def test_per_example_gradients_example_learns_privately():
    root = mnist_dir()
    accuracy = run_example("per_example_gradients.py", "--epochs", "1", "--train-size", "20000", "--no-baseline",
                           "--data-dir", root)
    assert accuracy > 0.6


def test_ensemble_trains_distinct_models_at_once(capsys):
    import numpy as np

    root = mnist_dir()
    each, together = run_example("ensemble.py", "--models", "3", "--epochs", "1", "--train-size", "6000",
                                 "--data-dir", root)
    assert len(each) == 3 and np.all(each > 0.85)
    assert together >= each.mean() - 0.01
    assert "ensemble" in capsys.readouterr().out
