"""Keys: making one from a seed (``key``), and new keys from a key (``split``, ``fold_in``).

A key is a ``uint32`` array of shape ``(2,)``: two words of Threefry key material.
``split`` takes words from the key's own stream; ``fold_in`` derives keys from counters
in a reserved range that no stream reaches, so folded keys, split keys and drawn numbers
are all independent. Each function binds a primitive whose operands are the key and
fold_in's data, so keys may be traced (made and split inside a traced training step);
a seed given as a Python int needs no primitive.
"""
from __future__ import annotations

from typing import Any

import numpy as np
from numpy.typing import NDArray

from funcnn.extend import def_batch, loop_batch_rule, Primitive, ShapeDtype, Tracer, def_abstract_eval
from funcnn.random._checks import as_int, check_key, integer_scalar, modulo_2_64
from funcnn.random._threefry import MASK32, RESERVED, U32, derive, random_words, words_of

Key = NDArray[np.uint32]
"""A PRNG key: a ``uint32`` NumPy array of shape ``(2,)``."""

_KEY = ShapeDtype((2,), np.uint32)


def _key_array(value: int) -> Key:
    """The key of a seed in ``[0, 2**64)``: its high and low words."""
    return np.array([value >> 32, value & MASK32], dtype=U32)


def _seed_impl(seed: Any) -> Key:
    return _key_array(modulo_2_64(int(seed), "seed"))


def _split_impl(key: Key, *, num: int) -> Key:
    return random_words(words_of(key), 2 * num).reshape(num, 2)


def _fold_in_impl(key: Key, data: Any) -> Key:
    value = modulo_2_64(int(data), "data")
    folding = derive(words_of(key), RESERVED, RESERVED)
    return np.array(derive(folding, value >> 32, value & MASK32), dtype=U32)


_seed_p = Primitive("random_seed", _seed_impl)
_split_p = Primitive("random_split", _split_impl)
_fold_in_p = Primitive("random_fold_in", _fold_in_impl)
def_abstract_eval(_seed_p, lambda seed: _KEY)
def_batch(_seed_p, loop_batch_rule(_seed_p))  # one draw per example's key
def_abstract_eval(_split_p, lambda key, *, num: ShapeDtype((num, 2), np.uint32))
def_batch(_split_p, loop_batch_rule(_split_p))  # one draw per example's key
def_abstract_eval(_fold_in_p, lambda key, data: _KEY)
def_batch(_fold_in_p, loop_batch_rule(_fold_in_p))  # one draw per example's key


def key(seed: int) -> Key:
    """Make a PRNG key from an integer seed.

    Parameters
    ----------
    seed : int
        Any integer in ``[-2**63, 2**64)``; it is taken modulo ``2**64``. An
        integer array of shape ``()``, traced or not, is accepted too.

    Returns
    -------
    key : ndarray of uint32, shape (2,)
        ``[seed // 2**32, seed % 2**32]``, as in ``jax.random.PRNGKey``.

    Examples
    --------
    >>> from funcnn import random
    >>> random.key(42)
    array([ 0, 42], dtype=uint32)
    """
    if isinstance(seed, (np.ndarray, Tracer)):
        return _seed_p.bind(integer_scalar(seed, "seed"))
    return _key_array(modulo_2_64(as_int(seed, "seed"), "seed"))


PRNGKey = key


def split(key: Key, num: int = 2) -> NDArray[np.uint32]:
    """Split a key into ``num`` new, independent keys.

    Use the new keys and drop the old one: a key should feed one sampler or
    one ``split`` only.

    Parameters
    ----------
    key : ndarray of uint32, shape (2,)
    num : int, default 2
        Number of keys to make, ``>= 0``.

    Returns
    -------
    keys : ndarray of uint32, shape (num, 2)
        ``keys[i]`` is a key.

    Examples
    --------
    >>> from funcnn import random
    >>> key, sub = random.split(random.key(0))
    >>> random.split(key, 3).shape
    (3, 2)
    """
    key = check_key(key)
    count = as_int(num, "num")
    if count < 0:
        raise ValueError(f"num must be >= 0; got {count}")
    return _split_p.bind(key, num=count)


def fold_in(key: Key, data: int) -> Key:
    """Derive a new key from ``key`` and an integer, such as a step number.

    Distinct ``data`` give independent keys, which are also independent of
    the keys from ``split(key)`` and of the numbers drawn with ``key``.

    Parameters
    ----------
    key : ndarray of uint32, shape (2,)
    data : int
        Any integer in ``[-2**63, 2**64)``, taken modulo ``2**64``. An integer
        array of shape ``()``, traced or not, is accepted too.

    Returns
    -------
    key : ndarray of uint32, shape (2,)

    Examples
    --------
    >>> from funcnn import random
    >>> base = random.key(0)
    >>> step_keys = [random.fold_in(base, step) for step in range(3)]
    >>> bool((step_keys[0] == step_keys[1]).all())
    False
    """
    key = check_key(key)
    if isinstance(data, (np.ndarray, Tracer)):
        return _fold_in_p.bind(key, integer_scalar(data, "data"))
    value = modulo_2_64(as_int(data, "data"), "data")
    return _fold_in_p.bind(key, np.array(value, np.uint64))
