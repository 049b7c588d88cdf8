"""Datasets, splitting, batching and preprocessing for funcnn.

Everything returns plain NumPy arrays: features as float32, class labels as
int64. Randomness always comes from an explicit ``seed`` or ``key`` argument
(an int or a funcnn PRNG key); NumPy's global random state is never touched.
"""

from ._batching import batches as batches
from ._download import cache_dir as cache_dir
from ._idx import read_idx as read_idx
from ._mnist import FASHION_MNIST_MIRRORS as FASHION_MNIST_MIRRORS
from ._mnist import MNIST_MIRRORS as MNIST_MIRRORS
from ._mnist import fashion_mnist as fashion_mnist
from ._mnist import mnist as mnist
from ._preprocessing import one_hot as one_hot
from ._preprocessing import standardize as standardize
from ._split import train_test_split as train_test_split
from ._synthetic import ellipses as ellipses
from ._synthetic import moons as moons
from ._synthetic import regression as regression
from ._synthetic import spirals as spirals

__all__ = [
    "FASHION_MNIST_MIRRORS",
    "MNIST_MIRRORS",
    "batches",
    "cache_dir",
    "ellipses",
    "fashion_mnist",
    "mnist",
    "moons",
    "one_hot",
    "read_idx",
    "regression",
    "spirals",
    "standardize",
    "train_test_split",
]
