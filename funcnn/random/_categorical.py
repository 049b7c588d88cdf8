"""Gumbel noise and categorical draws by the Gumbel-max trick.

``gumbel`` is one primitive: ``-log(-log(u))`` of open-interval uniforms, with the exact
``log`` of ``_ieee_math``, so the draws are bit-identical everywhere. ``categorical`` is
composed of it: adding independent standard Gumbel noise to logits and taking the argmax
picks index ``i`` with probability ``softmax(logits)[i]`` (the max of Gumbels shifted by
``l_i`` is Gumbel shifted by ``logsumexp(l)``, and the argmax is independent of it). The
logits may be traced; the draw, an integer, carries no derivative.
"""
from __future__ import annotations

import math
from typing import Any

import numpy as np
from numpy.typing import ArrayLike, DTypeLike, NDArray

import funcnn.numpy as fnp
from funcnn.extend import Primitive, Tracer, def_abstract_eval, def_batch, dtype_of, loop_batch_rule, shape_of
from funcnn.random._checks import Shape, as_int, as_shape, check_key, describe, float_dtype
from funcnn.random._from_words import open_unit, words_per_float
from funcnn.random._ieee_math import log
from funcnn.random._keys import Key
from funcnn.random._samplers import _drawn
from funcnn.random._threefry import fill, words_of


def _gumbel_impl(key: Key, *, shape: tuple[int, ...], dtype: np.dtype[Any]) -> NDArray[Any]:
    def convert(chunk: NDArray[np.uint32]) -> NDArray[Any]:
        return (-log(-log(open_unit(chunk, dtype)))).astype(dtype)

    return fill(words_of(key), math.prod(shape), words_per_float(dtype), convert, dtype).reshape(shape)


_gumbel_p = Primitive("random_gumbel", _gumbel_impl)
def_abstract_eval(_gumbel_p, _drawn)
def_batch(_gumbel_p, loop_batch_rule(_gumbel_p))  # one draw per example's key


def gumbel(key: Key, shape: Shape = (), dtype: DTypeLike = np.float32) -> NDArray[Any]:
    """Standard Gumbel floats: ``-log(-log(u))``, CDF ``exp(-exp(-x))``.

    ``u`` is uniform on the open interval ``(0, 1)`` (52 random bits for float64, 32
    otherwise, computed in float64 and rounded once), so samples are finite: from about
    -3.6 to 36.7 in float64 (-3.1 to 22.9 for float32 and float16).

    Parameters
    ----------
    key : ndarray of uint32, shape (2,)
    shape : int or tuple of int, default ()
    dtype : float16, float32 or float64, default float32

    Returns
    -------
    out : ndarray of dtype, shape `shape`

    Examples
    --------
    >>> from funcnn import random
    >>> g = random.gumbel(random.key(0), (10_000,), dtype="float64")
    >>> bool(abs(g.mean() - 0.5772) < 0.05), g.dtype
    (True, dtype('float64'))
    """
    key = check_key(key)
    dims = as_shape(shape)
    dt = float_dtype(dtype, "gumbel")
    return _gumbel_p.bind(key, shape=dims, dtype=dt)


def categorical(key: Key, logits: ArrayLike, axis: int = -1, shape: Shape | None = None) -> NDArray[Any]:
    """Random indices along `axis`, drawn with probabilities ``softmax(logits, axis)``.

    By the Gumbel-max trick: ``argmax(logits + gumbel_noise, axis)``, the noise in the
    logits' dtype. An index whose logit is ``-inf`` is never drawn (unless all are).

    Parameters
    ----------
    key : ndarray of uint32, shape (2,)
    logits : array of float
        Unnormalized log-probabilities; the categories lie along `axis`, the other axes
        are a batch of independent distributions (``batch_shape``).
    axis : int, default -1
        The axis of categories.
    shape : int, tuple of int or None, default None
        The result's shape: ``None`` means ``batch_shape``; otherwise ``batch_shape``
        must broadcast to it (leading axes draw more samples from each distribution),
        as in JAX.

    Returns
    -------
    out : ndarray of int64, shape `shape`

    Examples
    --------
    >>> import numpy as np
    >>> from funcnn import random
    >>> logits = np.array([0.0, -np.inf, 2.0])
    >>> draws = random.categorical(random.key(0), logits, shape=(1000,))
    >>> draws.shape, sorted(set(draws.tolist()))
    ((1000,), [0, 2])
    """
    key = check_key(key)
    logits = _logits_operand(logits)
    rank = len(shape_of(logits))
    ax = _category_axis(axis, rank)
    size = shape_of(logits)[ax]
    if size == 0:
        raise ValueError(f"categorical needs at least one category along axis {axis}; logits have shape "
                         f"{shape_of(logits)}")
    batch = tuple(shape_of(logits)[:ax] + shape_of(logits)[ax + 1:])
    dims = batch if shape is None else _sample_shape(shape, batch)
    prefix = dims[:len(dims) - len(batch)]
    trailing = list(dims[len(dims) - len(batch):])
    trailing.insert(ax, size)
    noise = gumbel(key, (*prefix, *trailing), dtype_of(logits))
    return fnp.argmax(fnp.add(noise, logits), axis=ax - rank)  # counted from the end: prefix axes come first


def _logits_operand(logits: Any) -> Any:
    if not isinstance(logits, Tracer):
        logits = np.asarray(logits)
    if dtype_of(logits).kind != "f":
        raise TypeError(f"categorical needs floating-point logits; got {describe(logits)}. Cast them, "
                        "e.g. logits.astype(np.float32), or take log of probabilities")
    if not shape_of(logits):
        raise ValueError("categorical needs logits with at least one axis (the categories); got a scalar")
    return logits


def _category_axis(axis: Any, rank: int) -> int:
    ax = as_int(axis, "axis")
    if not -rank <= ax < rank:
        raise np.exceptions.AxisError(ax, rank, "categorical: axis")
    return ax % rank


def _sample_shape(shape: Shape, batch: tuple[int, ...]) -> tuple[int, ...]:
    dims = as_shape(shape)
    try:
        ok = len(dims) >= len(batch) and np.broadcast_shapes(dims, batch) == dims
    except ValueError:
        ok = False
    if not ok:
        raise ValueError(f"categorical: shape {dims} is not broadcast-compatible with the logits' batch shape "
                         f"{batch} (the logits' shape without axis); the shape must end with the batch shape")
    return dims
