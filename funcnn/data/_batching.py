"""Aligned mini-batches over one or several arrays."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any, Union

import numpy as np

from ._seeding import Seed, permutation
from ._validate import as_arrays, common_length, positive_int

__all__ = ["batches"]

Batch = Union[np.ndarray, tuple[np.ndarray, ...]]


def batches(
    arrays: Any,
    batch_size: int,
    key: Seed = None,
    drop_last: bool = False,
) -> Iterator[Batch]:
    """Iterate over aligned mini-batches of one array or a tuple (or list) of arrays.

    Parameters
    ----------
    arrays : array_like, or tuple or list of array_like, each shape (n_samples, ...)
        A single array, or a tuple of arrays sharing their first axis. A list
        of arrays (every item an array of at least one axis) is taken like a
        tuple; any other list (of numbers, of nested lists) is one array-like.
    batch_size : int
        Number of samples per batch (>= 1). The last batch may be smaller.
    key : PRNG key or int, optional
        If given, the samples are visited in a random order drawn from
        ``key`` (by ``funcnn.random.permutation`` for a funcnn key; an int or
        other integer array seeds a local NumPy generator); otherwise in their
        stored order. One key gives one epoch's order: split a fresh key per
        epoch (``key, sub = funcnn.random.split(key)``) to reshuffle every
        epoch, or pass the same key to replay an epoch.
    drop_last : bool, default False
        Skip the final batch when it has fewer than ``batch_size`` samples.

    Yields
    ------
    batch : ndarray or tuple of ndarray
        A single array of shape (batch, ...) for a single array, or a tuple of
        such arrays, rows aligned across arrays, for a tuple or list of arrays.

    Raises
    ------
    ValueError
        If ``batch_size`` is not a positive int or the arrays differ in length.
        Checked when ``batches`` is called, before iteration starts.

    Examples
    --------
    >>> import numpy as np
    >>> x = np.arange(10).reshape(5, 2)
    >>> y = np.arange(5)
    >>> [yb.tolist() for _, yb in batches((x, y), batch_size=2)]
    [[0, 1], [2, 3], [4]]
    >>> [xb.shape for xb in batches(x, batch_size=2, drop_last=True)]
    [(2, 2), (2, 2)]
    >>> sorted(int(v) for _, yb in batches((x, y), 2, key=0) for v in yb)
    [0, 1, 2, 3, 4]
    >>> [yb.tolist() for _, yb in batches([x, y], batch_size=3)]
    [[0, 1, 2], [3, 4]]
    """
    single = not (isinstance(arrays, tuple) or _is_list_of_arrays(arrays))
    group = (arrays,) if single else tuple(arrays)
    if not group:
        raise ValueError("arrays must be an array or a non-empty tuple of arrays")
    names = ["arrays"] if single else [f"arrays[{i}]" for i in range(len(group))]
    try:
        arrs = as_arrays(group, names)
    except ValueError as err:
        if isinstance(arrays, list):  # a ragged list: one array was not meant
            raise ValueError(f"arrays: a list that is not a list of arrays is taken as one array, and this one "
                             f"is not ({err}); pass a tuple (x, y) for several arrays") from None
        raise
    n_samples = common_length(arrs, names)
    size = positive_int(batch_size, "batch_size")
    order = None if key is None else permutation(key, n_samples)
    return _iterate(arrs, n_samples, size, order, drop_last, single)


def _is_list_of_arrays(arrays: Any) -> bool:
    """A list whose items are all arrays with a sample axis (not numbers or nested lists)."""
    return isinstance(arrays, list) and bool(arrays) and all(getattr(a, "ndim", 0) >= 1 for a in arrays)


def _iterate(
    arrs: list[np.ndarray],
    n_samples: int,
    size: int,
    order: Union[np.ndarray, None],
    drop_last: bool,
    single: bool,
) -> Iterator[Batch]:
    stop = n_samples - n_samples % size if drop_last else n_samples
    for start in range(0, stop, size):
        if order is None:
            picked = [a[start : start + size] for a in arrs]
        else:
            idx = order[start : start + size]
            picked = [a[idx] for a in arrs]
        yield picked[0] if single else tuple(picked)
