"""Label encoding and feature scaling."""

from __future__ import annotations

from typing import Any, Optional, Union

import numpy as np
from numpy.typing import DTypeLike

from ._validate import positive_int

__all__ = ["one_hot", "standardize"]

Axis = Union[int, tuple[int, ...], None]


def one_hot(labels: Any, num_classes: int, dtype: DTypeLike = np.float32) -> np.ndarray:
    """Encode integer class labels as one-hot vectors.

    Parameters
    ----------
    labels : array_like of int, shape (...)
        Class indices in ``[0, num_classes)``.
    num_classes : int
        Number of classes (>= 1).
    dtype : dtype, default float32
        dtype of the result.

    Returns
    -------
    onehot : ndarray, shape (..., num_classes)
        ``onehot[..., k] == 1`` where ``labels == k`` and 0 elsewhere.

    Raises
    ------
    ValueError
        If ``labels`` are not integers or lie outside ``[0, num_classes)``, or
        ``num_classes`` is not a positive int.

    Examples
    --------
    >>> one_hot([0, 2, 1], num_classes=3)
    array([[1., 0., 0.],
           [0., 0., 1.],
           [0., 1., 0.]], dtype=float32)
    """
    n = positive_int(num_classes, "num_classes")
    labels_arr = np.asarray(labels)
    if labels_arr.dtype.kind not in "iu":
        raise ValueError(
            f"labels must be integers; got dtype {labels_arr.dtype} (cast with labels.astype(np.int64))"
        )
    bad = (labels_arr < 0) | (labels_arr >= n)
    if np.any(bad):
        values = np.unique(labels_arr[bad])
        shown = ", ".join(str(int(v)) for v in values[:5]) + (", ..." if len(values) > 5 else "")
        raise ValueError(
            f"labels must lie in [0, num_classes={n}); found {int(bad.sum())} labels outside it, "
            f"with values {shown}"
        )
    return np.asarray(labels_arr[..., None] == np.arange(n), dtype=dtype)


def standardize(
    x: Any,
    mean: Optional[Any] = None,
    std: Optional[Any] = None,
    *,
    axis: Axis = 0,
    eps: float = 1e-8,
) -> np.ndarray:
    """Shift and scale ``x`` to zero mean and unit standard deviation.

    Without ``mean`` and ``std`` the statistics come from ``x`` itself. To
    scale test data with the training statistics (as scikit-learn's
    ``StandardScaler`` does with fit/transform), compute them once from the
    training data and pass them to both calls::

        mean, std = x_train.mean(axis=0), x_train.std(axis=0)
        x_train = standardize(x_train, mean, std)
        x_test = standardize(x_test, mean, std)

    Parameters
    ----------
    x : array_like, shape (n_samples, ...)
        Data to scale.
    mean, std : array_like, optional
        Statistics to use, given together or not at all. Either shaped like a
        reduction of ``x`` over ``axis`` (e.g. ``(n_features,)`` for
        ``axis=0``), or with ``keepdims`` shape, or scalars.
    axis : int, tuple of int or None, default 0
        Axes the statistics are taken over (e.g. ``(0, 2, 3)`` for per-channel
        statistics of images shaped (N, C, H, W)); None means all axes.
    eps : float, default 1e-8
        Features whose ``std`` is at most ``eps`` are only centred, not
        divided, so constant features become 0 instead of inf or nan.

    Returns
    -------
    x_std : ndarray, same shape as ``x``
        ``(x - mean) / std``. Floating inputs keep their dtype; integer inputs
        are promoted (uint8 -> float32, int64 -> float64).

    Raises
    ------
    ValueError
        If only one of ``mean``/``std`` is given, or their shapes do not fit.

    Examples
    --------
    >>> import numpy as np
    >>> x_train = np.array([[1.0, 10.0], [3.0, 10.0]], dtype=np.float32)
    >>> standardize(x_train)
    array([[-1.,  0.],
           [ 1.,  0.]], dtype=float32)
    >>> mean, std = x_train.mean(axis=0), x_train.std(axis=0)
    >>> standardize(np.array([[5.0, 12.0]], dtype=np.float32), mean, std)
    array([[3., 2.]], dtype=float32)
    """
    x_arr = np.asarray(x)
    dtype = np.result_type(x_arr.dtype, np.float32)
    x_arr = x_arr.astype(dtype, copy=False)
    axes = _normalize_axes(axis, x_arr.ndim)
    if (mean is None) != (std is None):
        raise ValueError("mean and std must be given together (or both left as None)")
    if mean is None:
        # Accumulate in at least float64 so float32 data gets accurate statistics.
        acc = np.result_type(dtype, np.float64)
        mean_k = x_arr.mean(axis=axes, keepdims=True, dtype=acc).astype(dtype)
        std_k = x_arr.std(axis=axes, keepdims=True, dtype=acc).astype(dtype)
    else:
        mean_k = _keepdims_stat(mean, "mean", x_arr.shape, axes, dtype)
        std_k = _keepdims_stat(std, "std", x_arr.shape, axes, dtype)
    scale = np.where(std_k > eps, std_k, np.ones_like(std_k))
    return ((x_arr - mean_k) / scale).astype(dtype, copy=False)


def _normalize_axes(axis: Axis, ndim: int) -> tuple[int, ...]:
    if axis is None:
        return tuple(range(ndim))
    raw = (axis,) if isinstance(axis, (int, np.integer)) else tuple(axis)
    axes = []
    for a in raw:
        if not -ndim <= a < ndim:
            raise ValueError(f"axis {a} is out of range for an array with {ndim} dimensions")
        axes.append(int(a) % ndim)
    if len(set(axes)) != len(axes):
        raise ValueError(f"axis has repeated entries: {axis!r}")
    return tuple(sorted(axes))


def _keepdims_stat(
    stat: Any, name: str, shape: tuple[int, ...], axes: tuple[int, ...], dtype: np.dtype
) -> np.ndarray:
    """Reshape a statistic so it broadcasts against data of ``shape`` reduced over ``axes``."""
    arr = np.asarray(stat, dtype=dtype)
    keep_shape = tuple(1 if i in axes else n for i, n in enumerate(shape))
    reduced_shape = tuple(n for i, n in enumerate(shape) if i not in axes)
    if arr.shape == keep_shape or arr.ndim == 0:
        return arr
    if arr.shape == reduced_shape:
        return arr.reshape(keep_shape)
    raise ValueError(
        f"{name} has shape {arr.shape}; for x of shape {shape} reduced over axes {axes} "
        f"it must have shape {reduced_shape} or {keep_shape} (or be a scalar)"
    )
