"""MNIST and Fashion-MNIST from their original IDX files."""

from __future__ import annotations

import os
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Optional, Union

import numpy as np
from numpy.typing import DTypeLike

from ._download import RemoteFile, cache_dir, find_or_download
from ._idx import read_idx

__all__ = ["FASHION_MNIST_MIRRORS", "MNIST_MIRRORS", "fashion_mnist", "mnist"]

PathLike = Union[str, "os.PathLike[str]"]
Arrays4 = tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]

#: Base URLs tried in order when MNIST files are missing locally.
MNIST_MIRRORS: tuple[str, ...] = (
    "https://ossci-datasets.s3.amazonaws.com/mnist/",
    "https://storage.googleapis.com/cvdf-datasets/mnist/",
)

#: Base URLs tried in order when Fashion-MNIST files are missing locally.
FASHION_MNIST_MIRRORS: tuple[str, ...] = ("http://fashion-mnist.s3-website.eu-central-1.amazonaws.com/",)

IMAGES_MAGIC = 2051
LABELS_MAGIC = 2049
NUM_CLASSES = 10
IMAGE_SHAPE = (28, 28)


@dataclass(frozen=True)
class _Dataset:
    title: str
    subfolder: str
    train_images: RemoteFile
    train_labels: RemoteFile
    test_images: RemoteFile
    test_labels: RemoteFile

    @property
    def files(self) -> list[RemoteFile]:
        return [self.train_images, self.train_labels, self.test_images, self.test_labels]


_MNIST = _Dataset(
    "MNIST",
    "mnist",
    RemoteFile("train-images-idx3-ubyte.gz", "sha256",
               "440fcabf73cc546fa21475e81ea370265605f56be210a4024d2ca8f203523609"),
    RemoteFile("train-labels-idx1-ubyte.gz", "sha256",
               "3552534a0a558bbed6aed32b30c495cca23d567ec52cac8be1a0730e8010255c"),
    RemoteFile("t10k-images-idx3-ubyte.gz", "sha256",
               "8d422c7b0a1c1c79245a5bcf07fe86e33eeafee792b84584aec276f5a2dbc4e6"),
    RemoteFile("t10k-labels-idx1-ubyte.gz", "sha256",
               "f7ae60f92e00ec6debd23a6088c31dbd2371eca3ffa0defaefb259924204aec6"),
)

# Only the published MD5s of the Fashion-MNIST image archives are known, so those are checked by MD5.
_FASHION_MNIST = _Dataset(
    "Fashion-MNIST",
    "fashion-mnist",
    RemoteFile("train-images-idx3-ubyte.gz", "md5",
               "8d4fb7e6c68d591d4c3dfef9ec88bf0d"),
    RemoteFile("train-labels-idx1-ubyte.gz", "sha256",
               "a04f17134ac03560a47e3764e11b92fc97de4d1bfaf8ba1a3aa29af54cc90845"),
    RemoteFile("t10k-images-idx3-ubyte.gz", "md5",
               "bef4ecab320f06d8554ea6380940ec79"),
    RemoteFile("t10k-labels-idx1-ubyte.gz", "sha256",
               "67da17c76eaffca5446c3361aaab5c3cd6d1c2608764d35dfb1850b086bf8dd5"),
)


def mnist(
    data_dir: Optional[PathLike] = None,
    *,
    normalize: bool = True,
    flatten: bool = False,
    channel_axis: bool = False,
    dtype: DTypeLike = np.float32,
    download: bool = True,
    mirrors: Optional[Sequence[str]] = None,
) -> Arrays4:
    """Load MNIST handwritten digits (60,000 train and 10,000 test images, 28x28).

    Files are the original IDX files (``train-images-idx3-ubyte.gz``,
    ``train-labels-idx1-ubyte.gz``, ``t10k-images-idx3-ubyte.gz``,
    ``t10k-labels-idx1-ubyte.gz``; each may also be stored uncompressed,
    without ``.gz``), in a ``mnist/`` subfolder of a data root. Each file is
    looked for in:

    1. ``data_dir/mnist/`` when ``data_dir`` is given (and only there);
    2. otherwise ``$FUNCNN_DATA/mnist/``, then ``mnist/`` in the user cache
       folder :func:`funcnn.data.cache_dir` (``~/.cache/funcnn/`` on Linux).

    Missing files are downloaded (into ``data_dir/mnist/``, or the cache when
    no ``data_dir`` is given) from ``mirrors``, verified by SHA-256 and moved
    into place atomically. Without network, the ``FileNotFoundError`` lists
    the files to put in place and where to get them.

    Parameters
    ----------
    data_dir : str or path-like, optional
        Data root holding a ``mnist/`` subfolder.
    normalize : bool, default True
        Scale pixels from [0, 255] to [0, 1] (needs a floating ``dtype``).
    flatten : bool, default False
        Return images as rows of 784 pixels, shape (N, 784).
    channel_axis : bool, default False
        Return images shaped (N, 1, 28, 28), as convolutions expect.
        Cannot be combined with ``flatten``.
    dtype : dtype, default float32
        dtype of the images (``np.uint8`` with ``normalize=False`` gives the
        raw bytes).
    download : bool, default True
        Whether missing files may be downloaded.
    mirrors : sequence of str, optional
        Base URLs to download from, tried in order; default ``MNIST_MIRRORS``.

    Returns
    -------
    x_train : ndarray, shape (60000, 28, 28), (60000, 784) or (60000, 1, 28, 28)
    y_train : ndarray of int64, shape (60000,)
        Digit labels 0-9.
    x_test : ndarray, shape (10000, ...)
        Like ``x_train``.
    y_test : ndarray of int64, shape (10000,)

    Raises
    ------
    ValueError
        If a file is corrupt, truncated or not the expected IDX kind, if the
        images are not 28x28, if image and label counts differ, or if the
        options conflict. The message names the file and the shapes found.
    FileNotFoundError
        If files are missing and cannot be downloaded.

    Examples
    --------
    With the files in place (or a network connection):

    >>> x_train, y_train, x_test, y_test = mnist(flatten=True)  # doctest: +SKIP
    >>> x_train.shape, x_train.dtype, y_train.shape, y_train.dtype  # doctest: +SKIP
    ((60000, 784), dtype('float32'), (60000,), dtype('int64'))

    Without them, and with downloads switched off, the error says what is missing:

    >>> import tempfile
    >>> with tempfile.TemporaryDirectory() as root:
    ...     try:
    ...         mnist(root, download=False)
    ...     except FileNotFoundError as err:
    ...         print(str(err).splitlines()[0][:50])
    MNIST: missing file(s) train-images-idx3-ubyte.gz,
    """
    return _load(_MNIST, data_dir, normalize, flatten, channel_axis, dtype, download, mirrors, MNIST_MIRRORS)


def fashion_mnist(
    data_dir: Optional[PathLike] = None,
    *,
    normalize: bool = True,
    flatten: bool = False,
    channel_axis: bool = False,
    dtype: DTypeLike = np.float32,
    download: bool = True,
    mirrors: Optional[Sequence[str]] = None,
) -> Arrays4:
    """Load Fashion-MNIST (Zalando's clothing images; same layout as MNIST).

    Works exactly like :func:`mnist`, with the subfolder ``fashion-mnist/``
    and default mirrors ``FASHION_MNIST_MIRRORS``. Downloads are verified by
    SHA-256 for the label files and by the published MD5 for the image files.
    Classes: 0 T-shirt/top, 1 Trouser, 2 Pullover, 3 Dress, 4 Coat, 5 Sandal,
    6 Shirt, 7 Sneaker, 8 Bag, 9 Ankle boot.

    Parameters
    ----------
    data_dir, normalize, flatten, channel_axis, dtype, download, mirrors
        As for :func:`mnist`.

    Returns
    -------
    x_train : ndarray, shape (60000, 28, 28), (60000, 784) or (60000, 1, 28, 28)
    y_train : ndarray of int64, shape (60000,)
    x_test : ndarray, shape (10000, ...)
    y_test : ndarray of int64, shape (10000,)

    Raises
    ------
    ValueError
        If a file is corrupt, truncated or not the expected IDX kind, if the
        images are not 28x28, if image and label counts differ, or if the
        options conflict. The message names the file and the shapes found.
    FileNotFoundError
        If files are missing and cannot be downloaded.

    Examples
    --------
    A tiny stand-in dataset in the original format, written to a temporary
    folder, loads like the real one:

    >>> import gzip, os, tempfile
    >>> import numpy as np
    >>> def idx(magic, shape, values):
    ...     dims = b"".join(n.to_bytes(4, "big") for n in shape)
    ...     return magic.to_bytes(4, "big") + dims + bytes(values)
    >>> with tempfile.TemporaryDirectory() as root:
    ...     os.makedirs(os.path.join(root, "fashion-mnist"))
    ...     for split, n in (("train", 3), ("t10k", 2)):
    ...         files = {f"{split}-images-idx3-ubyte.gz": idx(2051, (n, 28, 28), [255] * n * 784),
    ...                  f"{split}-labels-idx1-ubyte.gz": idx(2049, (n,), range(n))}
    ...         for name, data in files.items():
    ...             with gzip.open(os.path.join(root, "fashion-mnist", name), "wb") as f:
    ...                 _ = f.write(data)
    ...     x_train, y_train, x_test, y_test = fashion_mnist(root, channel_axis=True, download=False)
    >>> x_train.shape, x_train.dtype, float(x_train.max()), y_train.tolist()
    ((3, 1, 28, 28), dtype('float32'), 1.0, [0, 1, 2])
    """
    return _load(
        _FASHION_MNIST, data_dir, normalize, flatten, channel_axis, dtype, download, mirrors,
        FASHION_MNIST_MIRRORS,
    )


def _load(
    spec: _Dataset,
    data_dir: Optional[PathLike],
    normalize: bool,
    flatten: bool,
    channel_axis: bool,
    dtype: DTypeLike,
    download: bool,
    mirrors: Optional[Sequence[str]],
    default_mirrors: Sequence[str],
) -> Arrays4:
    out_dtype = np.dtype(dtype)
    if flatten and channel_axis:
        raise ValueError("flatten=True and channel_axis=True exclude each other; choose one image layout")
    if normalize and out_dtype.kind not in "fc":
        raise ValueError(
            f"normalize=True scales pixels to [0, 1] and needs a floating dtype; got dtype={out_dtype}"
        )
    search_dirs, download_dir = _folders(spec.subfolder, data_dir)
    paths = find_or_download(
        spec.files,
        search_dirs,
        download_dir,
        tuple(default_mirrors if mirrors is None else mirrors),
        download,
        spec.title,
    )
    train_images, train_labels, test_images, test_labels = paths
    x_train, y_train = _read_pair(train_images, train_labels)
    x_test, y_test = _read_pair(test_images, test_labels)
    return (
        _convert(x_train, normalize, flatten, channel_axis, out_dtype),
        y_train,
        _convert(x_test, normalize, flatten, channel_axis, out_dtype),
        y_test,
    )


def _folders(subfolder: str, data_dir: Optional[PathLike]) -> tuple[list[str], str]:
    """Folders to search, in order, and the folder that downloads go to."""
    if data_dir is not None:
        own = os.path.join(os.fspath(data_dir), subfolder)
        return [own], own
    cached = os.path.join(cache_dir(), subfolder)
    env = os.environ.get("FUNCNN_DATA")
    search = [os.path.join(env, subfolder)] if env else []
    return search + [cached], cached


def _read_pair(images_path: str, labels_path: str) -> tuple[np.ndarray, np.ndarray]:
    """Images (N, 28, 28) and their N labels, after checking that the two files fit together."""
    images = read_idx(images_path, expect_magic=IMAGES_MAGIC)
    labels = read_idx(labels_path, expect_magic=LABELS_MAGIC)
    if images.shape[1:] != IMAGE_SHAPE:
        raise ValueError(
            f"{images_path}: images of shape {images.shape[1:]} (the file holds {images.shape}); "
            f"expected {IMAGE_SHAPE[0]}x{IMAGE_SHAPE[1]} images, shape (N, {IMAGE_SHAPE[0]}, {IMAGE_SHAPE[1]})"
        )
    if images.shape[0] != labels.shape[0]:
        raise ValueError(
            f"{images_path} has {images.shape[0]} images but {labels_path} has {labels.shape[0]} labels "
            f"(shapes {images.shape} and {labels.shape}; expected labels of shape ({images.shape[0]},)): "
            f"the files do not belong together"
        )
    if labels.size and labels.max() >= NUM_CLASSES:
        raise ValueError(
            f"{labels_path}: label {int(labels.max())} is outside the classes 0-{NUM_CLASSES - 1}"
        )
    return images, labels.astype(np.int64)


def _convert(
    images: np.ndarray, normalize: bool, flatten: bool, channel_axis: bool, dtype: np.dtype
) -> np.ndarray:
    """Images (N, 28, 28) in the requested dtype, scale and layout."""
    x = images.astype(dtype)
    if normalize:
        x /= dtype.type(255)
    if flatten:
        return x.reshape(len(x), IMAGE_SHAPE[0] * IMAGE_SHAPE[1])  # explicit, so that N = 0 works too
    if channel_axis:
        return x[:, None, :, :]
    return x
