"""Parameter initializers, with the names and calling convention of ``jax.nn.initializers``.

An initializer is a function ``init(key, shape, dtype=float32) -> ndarray``. ``zeros`` and
``ones`` are initializers themselves; the others are factories that return one, configured
by their arguments: ``w = he_normal()(key, (784, 256))``.

Fan-in and fan-out
------------------
The variance-scaling family (Glorot/Xavier, He/Kaiming, LeCun) scales by the number of
inputs or outputs of a unit. By default the layout is read from the rank of ``shape``,
matching the layers of :mod:`funcnn.nn`:

* 2-d ``(in, out)``: a :class:`~funcnn.nn.Dense` weight, ``y = x @ w`` (JAX's layout);
* 3-d and more ``(out, in, *spatial)``: a convolution kernel (PyTorch's ``OIHW``), with the
  receptive field included: ``fan_in = in * prod(spatial)``, ``fan_out = out * prod(spatial)``;
* 1-d ``(n,)``: ``fan_in = fan_out = n``.

Pass ``in_axis`` and ``out_axis`` to use another layout, as in JAX: every axis that is
neither (nor a ``batch_axis``) counts as receptive field.

Examples
--------
>>> from funcnn import random
>>> from funcnn.nn import initializers
>>> w = initializers.glorot_uniform()(random.key(0), (64, 32))
>>> w.shape, w.dtype
((64, 32), dtype('float32'))
>>> initializers.compute_fans((16, 3, 5, 5))  # a conv kernel: 3 * 25 in, 16 * 25 out
(75, 400)
"""
from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any, Protocol

import numpy as np
from numpy.typing import DTypeLike, NDArray

from funcnn import random

__all__ = [
    "Initializer", "compute_fans", "constant", "glorot_normal", "glorot_uniform", "he_normal",
    "he_uniform", "kaiming_normal", "kaiming_uniform", "lecun_normal", "lecun_uniform", "normal",
    "ones", "orthogonal", "truncated_normal", "uniform", "variance_scaling", "xavier_normal",
    "xavier_uniform", "zeros",
]

# The standard deviation of a standard normal truncated to [-2, 2]: dividing by it makes the
# truncated samples have the requested variance (as JAX does).
_TRUNCATED_STD = 0.87962566103423978


class Initializer(Protocol):
    """``init(key, shape, dtype=float32) -> ndarray``."""

    def __call__(self, key: random.Key, shape: Sequence[int], dtype: DTypeLike = ...) -> NDArray[Any]:
        ...


def _shape(shape: Any, name: str) -> tuple[int, ...]:
    dims = (shape,) if isinstance(shape, (int, np.integer)) else tuple(shape)
    if not all(isinstance(d, (int, np.integer)) and d >= 0 for d in dims):
        raise ValueError(f"{name}: shape must be a tuple of non-negative ints; got {shape!r}")
    return tuple(int(d) for d in dims)


def _float_dtype(dtype: DTypeLike, name: str) -> np.dtype[Any]:
    dt = np.dtype(dtype)
    if dt.kind != "f":
        raise TypeError(f"{name}: parameters must have a floating dtype; got {dt}")
    return dt


def zeros(key: random.Key, shape: Sequence[int], dtype: DTypeLike = np.float32) -> NDArray[Any]:
    """An initializer of zeros (the key is not used).

    Examples
    --------
    >>> from funcnn import random
    >>> from funcnn.nn import initializers
    >>> initializers.zeros(random.key(0), (2,))
    array([0., 0.], dtype=float32)
    """
    return np.zeros(_shape(shape, "zeros"), _float_dtype(dtype, "zeros"))


def ones(key: random.Key, shape: Sequence[int], dtype: DTypeLike = np.float32) -> NDArray[Any]:
    """An initializer of ones (the key is not used).

    Examples
    --------
    >>> from funcnn import random
    >>> from funcnn.nn import initializers
    >>> initializers.ones(random.key(0), (2,))
    array([1., 1.], dtype=float32)
    """
    return np.ones(_shape(shape, "ones"), _float_dtype(dtype, "ones"))


def constant(value: float, dtype: DTypeLike = np.float32) -> Initializer:
    """An initializer filling every entry with `value`.

    Examples
    --------
    >>> from funcnn import random
    >>> from funcnn.nn import initializers
    >>> initializers.constant(0.1)(random.key(0), (2,))
    array([0.1, 0.1], dtype=float32)
    """
    def init(key: random.Key, shape: Sequence[int], dtype: DTypeLike = dtype) -> NDArray[Any]:
        return np.full(_shape(shape, "constant"), value, _float_dtype(dtype, "constant"))

    return init


def normal(stddev: float = 1e-2, dtype: DTypeLike = np.float32) -> Initializer:
    """An initializer drawing from ``N(0, stddev**2)``.

    Examples
    --------
    >>> from funcnn import random
    >>> from funcnn.nn import initializers
    >>> w = initializers.normal(2.0)(random.key(0), (10_000,))
    >>> bool(abs(w.std() - 2.0) < 0.1)
    True
    """
    def init(key: random.Key, shape: Sequence[int], dtype: DTypeLike = dtype) -> NDArray[Any]:
        dt = _float_dtype(dtype, "normal")
        return (random.normal(key, _shape(shape, "normal"), dt) * stddev).astype(dt)

    return init


def truncated_normal(stddev: float = 1e-2, lower: float = -2.0, upper: float = 2.0,
                     dtype: DTypeLike = np.float32) -> Initializer:
    """An initializer drawing ``stddev * z`` with ``z`` standard normal truncated to
    ``[lower, upper]`` (so the standard deviation is somewhat below `stddev`, as in JAX).

    Examples
    --------
    >>> from funcnn import random
    >>> from funcnn.nn import initializers
    >>> w = initializers.truncated_normal(1.0)(random.key(0), (1000,))
    >>> bool(w.min() >= -2.0 and w.max() <= 2.0)
    True
    """
    def init(key: random.Key, shape: Sequence[int], dtype: DTypeLike = dtype) -> NDArray[Any]:
        dt = _float_dtype(dtype, "truncated_normal")
        z = random.truncated_normal(key, lower, upper, _shape(shape, "truncated_normal"), dt)
        return (z * stddev).astype(dt)

    return init


def uniform(scale: float = 1e-2, dtype: DTypeLike = np.float32) -> Initializer:
    """An initializer drawing from ``U[0, scale)`` (JAX's convention).

    Examples
    --------
    >>> from funcnn import random
    >>> from funcnn.nn import initializers
    >>> w = initializers.uniform(0.5)(random.key(0), (1000,))
    >>> bool(w.min() >= 0.0 and w.max() < 0.5)
    True
    """
    def init(key: random.Key, shape: Sequence[int], dtype: DTypeLike = dtype) -> NDArray[Any]:
        dt = _float_dtype(dtype, "uniform")
        return random.uniform(key, _shape(shape, "uniform"), dt, 0.0, scale)

    return init


def compute_fans(shape: Sequence[int], in_axis: int | Sequence[int] | None = None,
                 out_axis: int | Sequence[int] | None = None,
                 batch_axis: int | Sequence[int] = ()) -> tuple[int, int]:
    """``(fan_in, fan_out)`` of a weight of `shape`.

    Parameters
    ----------
    shape : tuple of int
    in_axis, out_axis : int, tuple of int or None
        The input and output feature axes. None (both) reads the layout from the rank: 2-d
        is ``(in, out)``, 3-d and more is ``(out, in, *spatial)``, 1-d counts its length as
        both fans.
    batch_axis : int or tuple of int, default ()
        Axes that hold independent weights and count in neither fan.

    Returns
    -------
    (int, int)
        Each fan includes the receptive field: the product of all remaining axes.

    Examples
    --------
    >>> from funcnn.nn.initializers import compute_fans
    >>> compute_fans((784, 256))
    (784, 256)
    >>> compute_fans((32, 16, 3, 3))
    (144, 288)
    >>> compute_fans((3, 3, 16, 32), in_axis=-2, out_axis=-1)  # JAX's HWIO kernels
    (144, 288)
    """
    dims = _shape(shape, "compute_fans")
    if (in_axis is None) != (out_axis is None):
        raise ValueError("compute_fans: give both in_axis and out_axis, or neither")
    if in_axis is None:
        if len(dims) <= 1:
            n = dims[0] if dims else 1
            return n, n
        in_axis, out_axis = (-2, -1) if len(dims) == 2 else (1, 0)
    ins, outs, batch = (_axes(a, len(dims)) for a in (in_axis, out_axis, batch_axis))
    if set(ins) & set(outs) or (set(ins) | set(outs)) & set(batch):
        raise ValueError(f"compute_fans: in_axis {in_axis}, out_axis {out_axis} and batch_axis "
                         f"{batch_axis} must be different axes")
    receptive = math.prod(d for i, d in enumerate(dims) if i not in set(ins) | set(outs) | set(batch))
    fan_in = math.prod(dims[i] for i in ins) * receptive
    fan_out = math.prod(dims[i] for i in outs) * receptive
    return fan_in, fan_out


def _axes(axis: int | Sequence[int] | None, ndim: int) -> tuple[int, ...]:
    axes = () if axis is None else (axis,) if isinstance(axis, (int, np.integer)) else tuple(axis)
    for a in axes:
        if not -ndim <= a < ndim:
            raise ValueError(f"compute_fans: axis {a} is out of range for a shape of {ndim} dimensions")
    return tuple(int(a) % ndim for a in axes)


def variance_scaling(scale: float, mode: str, distribution: str,
                     in_axis: int | Sequence[int] | None = None,
                     out_axis: int | Sequence[int] | None = None,
                     batch_axis: int | Sequence[int] = (), dtype: DTypeLike = np.float32) -> Initializer:
    """An initializer whose samples have variance ``scale / n``.

    Parameters
    ----------
    scale : float
    mode : {"fan_in", "fan_out", "fan_avg"}
        ``n`` is the fan-in, the fan-out or their mean (see :func:`compute_fans`).
    distribution : {"truncated_normal", "normal", "uniform"}
        ``truncated_normal`` is a normal truncated to two standard deviations and rescaled
        to the target variance (as in JAX); ``uniform`` is ``U(-limit, limit)`` with
        ``limit = sqrt(3 * scale / n)``.
    in_axis, out_axis, batch_axis
        As in :func:`compute_fans`.
    dtype : floating dtype, default float32

    Examples
    --------
    >>> from funcnn import random
    >>> from funcnn.nn import initializers
    >>> init = initializers.variance_scaling(2.0, "fan_in", "normal")
    >>> w = init(random.key(0), (500, 400))
    >>> bool(abs(w.var() * 500 - 2.0) < 0.05)
    True
    """
    if mode not in ("fan_in", "fan_out", "fan_avg"):
        raise ValueError(f"variance_scaling: mode must be 'fan_in', 'fan_out' or 'fan_avg'; got {mode!r}")
    if distribution not in ("truncated_normal", "normal", "uniform"):
        raise ValueError("variance_scaling: distribution must be 'truncated_normal', 'normal' or "
                         f"'uniform'; got {distribution!r}")
    if not scale > 0:
        raise ValueError(f"variance_scaling: scale must be positive; got {scale!r}")

    def init(key: random.Key, shape: Sequence[int], dtype: DTypeLike = dtype) -> NDArray[Any]:
        dims = _shape(shape, "variance_scaling")
        dt = _float_dtype(dtype, "variance_scaling")
        fan_in, fan_out = compute_fans(dims, in_axis, out_axis, batch_axis)
        n = {"fan_in": fan_in, "fan_out": fan_out, "fan_avg": (fan_in + fan_out) / 2}[mode]
        variance = scale / max(n, 1)
        if distribution == "uniform":
            limit = math.sqrt(3.0 * variance)
            return random.uniform(key, dims, dt, -limit, limit)
        if distribution == "normal":
            return (random.normal(key, dims, dt) * math.sqrt(variance)).astype(dt)
        z = random.truncated_normal(key, -2.0, 2.0, dims, dt)
        return (z * (math.sqrt(variance) / _TRUNCATED_STD)).astype(dt)

    return init


def _family(scale: float, mode: str, distribution: str, doc: str, name: str) -> Any:
    def factory(in_axis: int | Sequence[int] | None = None, out_axis: int | Sequence[int] | None = None,
                batch_axis: int | Sequence[int] = (), dtype: DTypeLike = np.float32) -> Initializer:
        return variance_scaling(scale, mode, distribution, in_axis, out_axis, batch_axis, dtype)

    factory.__name__ = factory.__qualname__ = name
    factory.__doc__ = doc
    return factory


_FAMILY_DOC = """{summary}

``variance_scaling({scale}, "{mode}", "{distribution}")``: samples have variance
``{scale} / {n}``.

Parameters
----------
in_axis, out_axis, batch_axis : see :func:`compute_fans`
dtype : floating dtype, default float32

Examples
--------
>>> from funcnn import random
>>> from funcnn.nn import initializers
>>> w = initializers.{name}()(random.key(0), (256, 128))
>>> w.shape, w.dtype
((256, 128), dtype('float32'))
"""


def _define(name: str, summary: str, scale: float, mode: str, distribution: str) -> Any:
    n = {"fan_in": "fan_in", "fan_out": "fan_out", "fan_avg": "((fan_in + fan_out) / 2)"}[mode]
    doc = _FAMILY_DOC.format(summary=summary, scale=scale, mode=mode, distribution=distribution,
                             n=n, name=name)
    return _family(scale, mode, distribution, doc, name)


glorot_uniform = _define("glorot_uniform", "Glorot (Xavier) uniform: ``U(-a, a)``, "
                         "``a = sqrt(6 / (fan_in + fan_out))``.", 1.0, "fan_avg", "uniform")
glorot_normal = _define("glorot_normal", "Glorot (Xavier) normal, truncated at two standard "
                        "deviations.", 1.0, "fan_avg", "truncated_normal")
he_uniform = _define("he_uniform", "He (Kaiming) uniform for ReLU networks: ``U(-a, a)``, "
                     "``a = sqrt(6 / fan_in)``.", 2.0, "fan_in", "uniform")
he_normal = _define("he_normal", "He (Kaiming) normal for ReLU networks, truncated at two "
                    "standard deviations.", 2.0, "fan_in", "truncated_normal")
lecun_uniform = _define("lecun_uniform", "LeCun uniform: ``U(-a, a)``, ``a = sqrt(3 / fan_in)``.",
                        1.0, "fan_in", "uniform")
lecun_normal = _define("lecun_normal", "LeCun normal, truncated at two standard deviations "
                       "(the default weight initializer of Dense and Conv).", 1.0, "fan_in",
                       "truncated_normal")
xavier_uniform, xavier_normal = glorot_uniform, glorot_normal
kaiming_uniform, kaiming_normal = he_uniform, he_normal


def orthogonal(scale: float = 1.0, column_axis: int = -1, dtype: DTypeLike = np.float32) -> Initializer:
    """An initializer of (semi-)orthogonal matrices, scaled by `scale` (Saxe et al., 2014).

    The weight is viewed as a matrix with ``shape[column_axis]`` columns and the product
    of the other axes as rows; its rows or its columns, whichever are fewer, are
    orthonormal. As in JAX, the matrix is the Q of a QR decomposition of a Gaussian
    matrix, with signs fixed so that the result is uniformly distributed.

    Examples
    --------
    >>> import numpy as np
    >>> from funcnn import random
    >>> from funcnn.nn import initializers
    >>> w = initializers.orthogonal()(random.key(0), (6, 4), np.float64)
    >>> np.allclose(w.T @ w, np.eye(4))
    True
    """
    def init(key: random.Key, shape: Sequence[int], dtype: DTypeLike = dtype) -> NDArray[Any]:
        dims = _shape(shape, "orthogonal")
        dt = _float_dtype(dtype, "orthogonal")
        if len(dims) < 2:
            raise ValueError(f"orthogonal: needs a shape of at least 2 dimensions; got {dims}")
        axis = _axes(column_axis, len(dims))[0]
        n_cols = dims[axis]
        n_rows = math.prod(dims) // max(n_cols, 1)
        tall = (max(n_rows, n_cols), min(n_rows, n_cols))
        a = random.normal(key, tall, np.float64)
        q, r = np.linalg.qr(a)
        q = q * np.where(np.diag(r) < 0, -1.0, 1.0)
        if n_rows < n_cols:
            q = q.T
        moved = dims[:axis] + dims[axis + 1:] + (n_cols,)
        return np.moveaxis((scale * q).reshape(moved), -1, axis).astype(dt)

    return init
