"""Turn a seed (an int, a funcnn PRNG key or None) into local NumPy randomness.

Nothing here touches NumPy's global random state: every call builds its own
``numpy.random.Generator``.
"""

from __future__ import annotations

import numbers
from typing import Any, Union

import numpy as np

#: What the data functions accept as a source of randomness.
Seed = Union[int, np.integer, np.ndarray, None]


def _key_bits(key: Any) -> np.ndarray:
    """The raw bits of a PRNG key (any array of unsigned or signed integers)."""
    bits = np.asarray(key)
    if bits.dtype.kind not in "ui" or bits.size == 0:
        raise ValueError(
            f"seed must be an int, a funcnn PRNG key (an array of unsigned integers) or None; "
            f"got {type(key).__name__} with dtype {bits.dtype} and shape {bits.shape}"
        )
    return bits.astype(np.uint64).ravel()


def _is_funcnn_key(key: Any) -> bool:
    """A key as ``funcnn.random.key`` makes it: a uint32 array of shape (2,)."""
    return isinstance(key, np.ndarray) and key.dtype == np.uint32 and key.shape == (2,)


def as_generator(seed: Seed) -> np.random.Generator:
    """A fresh ``numpy.random.Generator`` determined by ``seed``.

    ``None`` draws fresh entropy from the operating system (not reproducible).
    """
    if seed is None:
        return np.random.default_rng()
    if isinstance(seed, bool):
        raise ValueError(f"seed must be an int, a PRNG key or None; got the bool {seed!r}")
    if isinstance(seed, numbers.Integral):
        if int(seed) < 0:
            raise ValueError(f"seed must be a non-negative int; got {int(seed)}")
        return np.random.default_rng(int(seed))
    entropy = [int(b) for b in _key_bits(seed)]
    return np.random.default_rng(np.random.SeedSequence(entropy))


def permutation(seed: Seed, n: int) -> np.ndarray:
    """A permutation of ``range(n)`` (int64) determined by ``seed``.

    A funcnn PRNG key goes through ``funcnn.random.permutation``, so shuffling
    agrees with the rest of the library; other seeds use a local NumPy
    generator.
    """
    if _is_funcnn_key(seed):
        from funcnn import random as frandom

        return np.asarray(frandom.permutation(np.asarray(seed), n), dtype=np.int64)
    return as_generator(seed).permutation(n).astype(np.int64)
