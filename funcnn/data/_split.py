"""Split arrays into train and test subsets (scikit-learn's ``train_test_split`` semantics)."""

from __future__ import annotations

import math
import numbers
from typing import Any, Optional, Union

import numpy as np

from ._seeding import Seed, as_generator
from ._validate import as_arrays, common_length

Size = Union[float, int, None]

__all__ = ["train_test_split"]


def train_test_split(
    *arrays: Any,
    test_size: Size = None,
    train_size: Size = None,
    shuffle: bool = True,
    stratify: Optional[Any] = None,
    seed: Seed = None,
) -> list[np.ndarray]:
    """Split arrays into random train and test subsets.

    Follows scikit-learn's ``train_test_split``: sizes are fractions or counts,
    rows stay aligned across arrays, and ``stratify`` keeps class proportions.

    Parameters
    ----------
    *arrays : array_like, each shape (n_samples, ...)
        Arrays that share their first axis (features, labels, weights, ...).
    test_size : float or int, optional
        A float in (0, 1) is the fraction of samples in the test set (rounded
        up); an int in [1, n_samples) is the count. When both sizes are None
        the test set gets 0.25; when only ``train_size`` is given the test set
        gets the rest.
    train_size : float or int, optional
        Like ``test_size`` (a float fraction is rounded down); None means the
        complement of ``test_size``.
    shuffle : bool, default True
        If False, the train set is the first rows and the test set the next
        rows, in their original order (``stratify`` must then be None).
    stratify : array_like, shape (n_samples,), optional
        Class labels; each class appears in train and test in (nearly) the same
        proportion as in the whole data. Every class needs at least 2 samples.
    seed : int or PRNG key, optional
        Source of randomness. The same seed gives the same split. None draws
        fresh entropy (not reproducible); NumPy's global state is never used.

    Returns
    -------
    splits : list of ndarray, length 2 * len(arrays)
        ``[a_train, a_test, b_train, b_test, ...]``; always NumPy arrays.

    Raises
    ------
    ValueError
        If no array is given, arrays differ in length, a size is out of range,
        or stratification is impossible.

    Examples
    --------
    >>> import numpy as np
    >>> x = np.arange(20, dtype=np.float32).reshape(10, 2)
    >>> y = np.array([0, 0, 0, 0, 0, 1, 1, 1, 1, 1])
    >>> x_train, x_test, y_train, y_test = train_test_split(x, y, test_size=0.4, stratify=y, seed=0)
    >>> x_train.shape, x_test.shape
    ((6, 2), (4, 2))
    >>> np.bincount(y_test).tolist()
    [2, 2]
    >>> bool(np.all(x_test[:, 0] // 2 // 5 == y_test))  # rows stay aligned
    True
    """
    if not arrays:
        raise ValueError("train_test_split needs at least one array")
    names = [f"array {i}" for i in range(len(arrays))]
    arrs = as_arrays(arrays, names)
    n_samples = common_length(arrs, names)
    n_train, n_test = _split_sizes(n_samples, test_size, train_size)
    if not shuffle:
        if stratify is not None:
            raise ValueError("stratify requires shuffle=True (a stratified split must reorder samples)")
        train_idx = np.arange(n_train)
        test_idx = np.arange(n_train, n_train + n_test)
    elif stratify is None:
        perm = as_generator(seed).permutation(n_samples)
        test_idx, train_idx = perm[:n_test], perm[n_test : n_test + n_train]
    else:
        labels = np.asarray(stratify)
        if labels.ndim == 0 or labels.shape[0] != n_samples:
            raise ValueError(
                f"stratify must have one label per sample: arrays have {n_samples} samples, "
                f"stratify has shape {labels.shape}"
            )
        train_idx, test_idx = _stratified_indices(labels, n_train, n_test, as_generator(seed))
    out = []
    for a in arrs:
        out += [a[train_idx], a[test_idx]]
    return out


def _split_sizes(n_samples: int, test_size: Size, train_size: Size) -> tuple[int, int]:
    """Numbers of train and test samples, with scikit-learn's rounding and checks."""
    if test_size is None and train_size is None:
        test_size = 0.25
    _check_size(test_size, "test_size", n_samples)
    _check_size(train_size, "train_size", n_samples)
    if isinstance(test_size, float) and isinstance(train_size, float) and test_size + train_size > 1:
        raise ValueError(
            f"test_size + train_size must be at most 1 as fractions; got {test_size} + {train_size}"
        )
    n_test = _count(test_size, n_samples, math.ceil)
    n_train = _count(train_size, n_samples, math.floor)
    if n_test is None:
        n_test = n_samples - n_train  # type: ignore[operator]
    if n_train is None:
        n_train = n_samples - n_test
    if n_train + n_test > n_samples:
        raise ValueError(
            f"train_size ({n_train} samples) + test_size ({n_test} samples) exceeds the "
            f"{n_samples} samples available"
        )
    if n_train == 0 or n_test == 0:
        which = "train" if n_train == 0 else "test"
        raise ValueError(
            f"with n_samples={n_samples}, test_size={test_size!r} and train_size={train_size!r} "
            f"the {which} set would be empty; adjust the sizes"
        )
    return n_train, n_test


def _check_size(size: Size, name: str, n_samples: int) -> None:
    if size is None:
        return
    if isinstance(size, (bool, np.bool_)):
        raise ValueError(f"{name} must be a float in (0, 1) or an int in [1, {n_samples}); got {size!r}")
    if isinstance(size, numbers.Integral):
        if not 0 < size < n_samples:
            raise ValueError(f"{name}={size} must be an int in [1, {n_samples}) for {n_samples} samples")
    elif isinstance(size, numbers.Real):
        if not 0.0 < size < 1.0:
            raise ValueError(f"{name}={size} must be a float in the open interval (0, 1)")
    else:
        raise ValueError(f"{name} must be a float, an int or None; got {type(size).__name__}")


def _count(size: Size, n_samples: int, rounding: Any) -> Optional[int]:
    if size is None:
        return None
    if isinstance(size, numbers.Integral):
        return int(size)
    return int(rounding(float(size) * n_samples))


def _stratified_indices(
    labels: np.ndarray, n_train: int, n_test: int, rng: np.random.Generator
) -> tuple[np.ndarray, np.ndarray]:
    """Per-class draws whose counts follow the class proportions, then shuffled together."""
    classes, class_of = np.unique(labels, return_inverse=True, axis=0 if labels.ndim > 1 else None)
    class_of = class_of.reshape(-1)
    counts = np.bincount(class_of)
    n_classes = len(classes)
    if counts.min() < 2:
        rare = classes[int(np.argmin(counts))]
        raise ValueError(
            f"stratify: class {rare!r} has only 1 sample; every class needs at least 2 to appear "
            f"in both train and test"
        )
    for n, name in ((n_train, "train"), (n_test, "test")):
        if n < n_classes:
            raise ValueError(
                f"stratify: the {name} set has {n} samples, fewer than the {n_classes} classes"
            )
    train_counts = _apportion(counts, n_train, rng)
    test_counts = _apportion(counts - train_counts, n_test, rng)
    members = np.split(np.argsort(class_of, kind="stable"), np.cumsum(counts)[:-1])
    train, test = [], []
    for idx, k_train, k_test in zip(members, train_counts, test_counts):
        idx = rng.permutation(idx)
        train.append(idx[:k_train])
        test.append(idx[k_train : k_train + k_test])
    return rng.permutation(np.concatenate(train)), rng.permutation(np.concatenate(test))


def _apportion(counts: np.ndarray, n_draws: int, rng: np.random.Generator) -> np.ndarray:
    """Split ``n_draws`` over classes in proportion to ``counts`` (largest remainders first).

    Ties between equal remainders are broken at random, so no class is
    systematically favoured.
    """
    scaled = counts.astype(np.int64) * n_draws  # exact integer arithmetic: no rounding drift
    total = int(counts.sum())
    drawn, remainder = scaled // total, scaled % total
    missing = n_draws - int(drawn.sum())
    order = np.lexsort((rng.random(len(counts)), -remainder))
    drawn[order[:missing]] += 1
    return drawn
