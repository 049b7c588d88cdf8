"""Orderings and picks: ``permutation`` and ``choice``.

The population size ``n`` fixes the shape of the result, so it is a static param: an
int, or the length of an array along ``axis``. The primitives draw ``int64`` indices
from the key; picking slices of an array is then ``funcnn.numpy.take``, a gather, so
the array may be traced and derivatives flow through the picks to it. ``choice``'s
probabilities ``p`` are an operand, whose values are checked in the implementation.
"""
from __future__ import annotations

import math
from typing import Any

import numpy as np
from numpy.typing import ArrayLike, NDArray

import funcnn.numpy as fnp
from funcnn.extend import def_batch, loop_batch_rule, Primitive, ShapeDtype, Tracer, def_abstract_eval, shape_of
from funcnn.random._checks import Shape, as_int, as_shape, check_key, real_array, real_operand
from funcnn.random._from_words import bounded, open_unit, sort_order, unit_float
from funcnn.random._ieee_math import log
from funcnn.random._keys import Key
from funcnn.random._threefry import Words, fill, words_of


def _population(x: Any, axis: int, fn: str) -> tuple[Any, int, int]:
    """``(array or None, size, axis)`` for an int ``n`` or an array argument."""
    if isinstance(x, (int, np.integer)) and not isinstance(x, bool):
        n = int(x)
        if n < 0:
            raise ValueError(f"{fn} needs a non-negative population size; got {n}")
        return None, n, 0
    arr = x if isinstance(x, Tracer) else np.asarray(x)
    shape = shape_of(arr)
    if not shape:
        message = f"{fn} needs an int or an array with at least one axis; got a scalar"
        if isinstance(arr, Tracer):
            message += "; a population size must be a Python int (it fixes the result's shape)"
        raise ValueError(message)
    ax = as_int(axis, "axis")
    if not -len(shape) <= ax < len(shape):
        raise ValueError(f"axis {ax} is out of range for an array of shape {shape}")
    ax %= len(shape)
    return arr, shape[ax], ax


# --- permutation -----------------------------------------------------------------------------


def _permutation_impl(key: Key, *, n: int) -> NDArray[np.int64]:
    return sort_order(words_of(key), n).astype(np.int64)


_permutation_p = Primitive("random_permutation", _permutation_impl)
def_abstract_eval(_permutation_p, lambda key, *, n: ShapeDtype((n,), np.int64))
def_batch(_permutation_p, loop_batch_rule(_permutation_p))  # one draw per example's key


def permutation(key: Key, x: ArrayLike, axis: int = 0) -> NDArray[Any]:
    """A random permutation of ``range(x)``, or of an array along `axis`.

    Every ordering is equally likely (ties among the 64-bit sort keys used
    have probability below ``n**2 / 2**65``).

    Parameters
    ----------
    key : ndarray of uint32, shape (2,)
    x : int or array
        An int ``n`` permutes ``arange(n)``; an array is shuffled along `axis`
        (a copy is returned).
    axis : int, default 0

    Returns
    -------
    out : ndarray
        Shape ``(n,)`` of int64 for an int, else the shape and dtype of `x`.

    Examples
    --------
    >>> from funcnn import random
    >>> order = random.permutation(random.key(0), 5)
    >>> sorted(order.tolist())
    [0, 1, 2, 3, 4]
    """
    key = check_key(key)
    arr, n, ax = _population(x, axis, "permutation")
    order = _permutation_p.bind(key, n=n)
    return order if arr is None else fnp.take(arr, order, axis=ax)


# --- choice ----------------------------------------------------------------------------------


def _choice_impl(key: Key, *p: Any, n: int, shape: tuple[int, ...], replace: bool) -> NDArray[np.int64]:
    """Indices into ``range(n)``; ``p``, when given, is one operand: the probabilities."""
    words, k = words_of(key), math.prod(shape)
    weights = _checked_weights(p[0], n) if p else None
    if k == 0:
        index = np.zeros(0, np.int64)
    elif replace:
        index = _pick_with_replacement(words, k, n, weights)
    else:
        index = _pick_without_replacement(words, k, n, weights)
    return np.reshape(index, shape)


_choice_p = Primitive("random_choice", _choice_impl)
def_abstract_eval(_choice_p, lambda key, *p, n, shape, replace: ShapeDtype(shape, np.int64))
def_batch(_choice_p, loop_batch_rule(_choice_p))  # one draw per example's key


def choice(
    key: Key,
    a: ArrayLike,
    shape: Shape = (),
    replace: bool = True,
    p: ArrayLike | None = None,
    axis: int = 0,
) -> NDArray[Any]:
    """Random picks from ``range(a)``, or from an array along `axis`.

    Parameters
    ----------
    key : ndarray of uint32, shape (2,)
    a : int or array
        An int ``n`` picks from ``arange(n)``; an array picks slices along
        `axis`.
    shape : int or tuple of int, default ()
        Shape of the picks.
    replace : bool, default True
        Without replacement, no index is picked twice; the order of picks is
        random.
    p : array of shape (n,), optional
        Probabilities in ``[0, 1]`` summing to 1; uniform if omitted. Without
        replacement, each pick is drawn from the remaining items in proportion
        to `p`.
    axis : int, default 0

    Returns
    -------
    out : ndarray
        For an int, int64 of shape `shape`; for an array,
        ``a.shape[:axis] + shape + a.shape[axis + 1:]``.

    Examples
    --------
    >>> from funcnn import random
    >>> picks = random.choice(random.key(0), 3, (1000,), p=[0.0, 0.2, 0.8])
    >>> sorted(set(picks.tolist()))
    [1, 2]
    """
    key = check_key(key)
    arr, n, ax = _population(a, axis, "choice")
    dims = as_shape(shape)
    k = math.prod(dims)
    if k > 0 and n == 0:
        raise ValueError("choice cannot pick from an empty population")
    weights = () if p is None else (_weights_operand(p, n),)
    if p is None and not replace and k > n:
        raise ValueError(f"choice without replacement cannot pick {k} items from a population of {n}")
    index = _choice_p.bind(key, *weights, n=n, shape=dims, replace=bool(replace))
    return index if arr is None else fnp.take(arr, index, axis=ax)


def _weights_operand(p: Any, n: int) -> Any:
    """``p`` checked by dtype and shape; its values are checked by :func:`_checked_weights`."""
    weights = real_operand(p, "p")
    if tuple(shape_of(weights)) != (n,):
        raise ValueError(f"p must have shape ({n},) to match the population; got {shape_of(weights)}")
    return weights


def _checked_weights(p: Any, n: int) -> NDArray[np.float64]:
    raw = np.asarray(p)
    weights = real_array(raw, "p")
    if not ((weights >= 0.0) & (weights <= 1.0)).all():
        raise ValueError("p must be in [0, 1]")
    eps = np.finfo(raw.dtype).eps if raw.dtype.kind == "f" else np.finfo(np.float64).eps
    total = float(np.cumsum(weights)[-1]) if n else 0.0
    if abs(total - 1.0) > max(1e-8, math.sqrt(float(eps))):
        raise ValueError(f"p must sum to 1; it sums to {total!r}")
    return weights


def _pick_with_replacement(
    words: Words, k: int, n: int, weights: NDArray[np.float64] | None
) -> NDArray[np.int64]:
    if weights is None:
        return bounded(words, k, n).astype(np.int64)
    cdf = np.cumsum(weights)
    v = fill(words, k, 2, lambda w: unit_float(w, np.dtype(np.float64)), np.dtype(np.float64))
    index = np.searchsorted(cdf, v * cdf[-1], side="right")
    # v * total can round up to total; fall back to the last item with weight.
    last = int(np.flatnonzero(weights)[-1])
    out: NDArray[np.int64] = np.minimum(index, last).astype(np.int64)
    return out


def _pick_without_replacement(
    words: Words, k: int, n: int, weights: NDArray[np.float64] | None
) -> NDArray[np.int64]:
    """``k`` distinct indices (``k <= n``, as :func:`choice` checked)."""
    if weights is None:
        return sort_order(words, n)[:k].astype(np.int64)
    available = int(np.count_nonzero(weights))
    if k > available:
        raise ValueError(
            f"choice without replacement cannot pick {k} items: only {available} "
            "entries of p are non-zero"
        )
    # Exponential race: item i finishes at E_i / p_i; the first k finishers are
    # a weighted sample without replacement, in order of being picked.
    v = fill(words, n, 2, lambda w: open_unit(w, np.dtype(np.float64)), np.dtype(np.float64))
    with np.errstate(divide="ignore"):
        finish = -log(v) / weights
    return np.argsort(finish, kind="stable")[:k].astype(np.int64)
