"""The MNIST loaders check that images are 28x28 and match their labels, and accept empty splits."""

import gzip
import os
import re

import numpy as np
import pytest

from funcnn import data


def idx_file(path, magic, shape, values=None):
    """A gzipped IDX file of uint8 data with the given header."""
    values = np.zeros(shape, np.uint8) if values is None else values
    header = magic.to_bytes(4, "big") + b"".join(int(n).to_bytes(4, "big") for n in shape)
    with gzip.open(path, "wb") as f:
        f.write(header + np.asarray(values, np.uint8).tobytes())


def fake_mnist(root, train_shape=(5, 28, 28), test_shape=(3, 28, 28), n_train_labels=None, n_test_labels=None,
               subfolder="mnist"):
    """The four MNIST files in ``root/subfolder``; returns that folder."""
    folder = os.path.join(root, subfolder)
    os.makedirs(folder, exist_ok=True)
    rng = np.random.default_rng(0)
    for split, shape, n_labels in (("train", train_shape, n_train_labels), ("t10k", test_shape, n_test_labels)):
        idx_file(os.path.join(folder, f"{split}-images-idx3-ubyte.gz"), 2051, shape,
                 rng.integers(0, 256, shape))
        n = shape[0] if n_labels is None else n_labels
        idx_file(os.path.join(folder, f"{split}-labels-idx1-ubyte.gz"), 2049, (n,), rng.integers(0, 10, n))
    return folder


@pytest.mark.parametrize("loader, subfolder", [(data.mnist, "mnist"), (data.fashion_mnist, "fashion-mnist")],
                         ids=["mnist", "fashion_mnist"])
@pytest.mark.parametrize("split", ["train", "t10k"])
@pytest.mark.parametrize("dims", [(28, 27), (27, 28), (784, 1), (1, 784), (0, 0), (56, 14)], ids=str)
def test_images_that_are_not_28x28_are_refused(tmp_path, loader, subfolder, split, dims):
    shapes = {"train_shape": (4, 28, 28), "test_shape": (2, 28, 28)}
    shapes["train_shape" if split == "train" else "test_shape"] = (4, *dims)
    folder = fake_mnist(tmp_path, subfolder=subfolder, **shapes)
    path = os.path.join(folder, f"{split}-images-idx3-ubyte.gz")
    expected = (rf"^{re.escape(path)}: images of shape \({dims[0]}, {dims[1]}\) \(the file holds \(4, {dims[0]}, "
                rf"{dims[1]}\)\); expected 28x28 images, shape \(N, 28, 28\)$")
    for flatten in (False, True):
        with pytest.raises(ValueError, match=expected):
            loader(tmp_path, download=False, flatten=flatten)


@pytest.mark.parametrize("split, counts", [("train", {"n_train_labels": 4}), ("t10k", {"n_test_labels": 5})])
def test_image_and_label_counts_must_agree(tmp_path, split, counts):
    folder = fake_mnist(tmp_path, **counts)
    images = os.path.join(folder, f"{split}-images-idx3-ubyte.gz")
    labels = os.path.join(folder, f"{split}-labels-idx1-ubyte.gz")
    n = 5 if split == "train" else 3
    m = counts.get("n_train_labels", counts.get("n_test_labels"))
    with pytest.raises(ValueError) as info:
        data.mnist(tmp_path, download=False)
    message = str(info.value)
    assert f"{images} has {n} images but {labels} has {m} labels" in message
    assert f"shapes ({n}, 28, 28) and ({m},); expected labels of shape ({n},)" in message


@pytest.mark.parametrize("options, image_shape", [
    ({}, (28, 28)),
    ({"flatten": True}, (784,)),
    ({"channel_axis": True}, (1, 28, 28)),
    ({"normalize": False, "dtype": np.uint8, "flatten": True}, (784,)),
], ids=["default", "flatten", "channel_axis", "raw flatten"])
def test_an_empty_split_loads_with_every_layout(tmp_path, options, image_shape):
    fake_mnist(tmp_path, train_shape=(0, 28, 28), test_shape=(0, 28, 28))
    x_train, y_train, x_test, y_test = data.mnist(tmp_path, download=False, **options)
    for x, y in ((x_train, y_train), (x_test, y_test)):
        assert x.shape == (0, *image_shape) and x.dtype == np.dtype(options.get("dtype", np.float32))
        assert y.shape == (0,) and y.dtype == np.int64


def test_an_empty_test_set_next_to_a_full_training_set(tmp_path):
    fake_mnist(tmp_path, train_shape=(3, 28, 28), test_shape=(0, 28, 28))
    x_train, _, x_test, y_test = data.mnist(tmp_path, download=False, flatten=True, dtype=np.float64)
    assert x_train.shape == (3, 784) and x_test.shape == (0, 784) and x_test.dtype == np.float64
    assert y_test.shape == (0,)


def test_flattened_rows_are_the_images_in_row_major_order(tmp_path):
    folder = fake_mnist(tmp_path, train_shape=(2, 28, 28))
    x = data.mnist(tmp_path, download=False, normalize=False, dtype=np.uint8)[0]
    rows = data.mnist(tmp_path, download=False, normalize=False, dtype=np.uint8, flatten=True)[0]
    np.testing.assert_array_equal(rows, x.reshape(2, 784))
    raw = data.read_idx(os.path.join(folder, "train-images-idx3-ubyte.gz"))
    np.testing.assert_array_equal(rows[1, 28:56], raw[1, 1])
