"""Threefry-2x32: the cipher, and a key's stream of 32-bit words.

Threefry-2x32 with 20 rounds (Salmon et al., "Parallel random numbers: as easy as
1, 2, 3", SC'11) encrypts a pair of 32-bit counter words under a pair of key words.
Word ``i`` of a key's *stream* is half of the block that encrypts counter ``i // 2``,
so any stretch of the stream is computed at once in vectorized ``uint32`` arithmetic,
a cache-sized piece at a time, never in a loop over elements. Tiny draws (keys,
scalars) run the same rounds on Python ints, which is faster than NumPy there.

Everything here works on concrete values: a key's two words as Python ints.
"""
from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import numpy as np
from numpy.typing import NDArray

MASK32 = 0xFFFFFFFF
U32 = np.uint32
U64 = np.uint64

Words = tuple[int, int]

_ROTATIONS = (13, 15, 26, 6, 17, 29, 16, 24)
_PARITY = 0x1BD11BDA  # Threefish key-schedule constant
_CHUNK = 1 << 15  # blocks per pass: keeps the working arrays in cache
_FEW = 8  # up to this many blocks, Python ints beat NumPy's per-call overhead


def threefry2x32(
    k0: int, k1: int, x0: NDArray[np.uint32], x1: NDArray[np.uint32], rounds: int = 20
) -> tuple[NDArray[np.uint32], NDArray[np.uint32]]:
    """Encrypt counter pairs ``(x0, x1)`` under the key ``(k0, k1)``."""
    schedule = (k0, k1, k0 ^ k1 ^ _PARITY)
    y0 = x0 + U32(k0)
    y1 = x1 + U32(k1)
    tmp = np.empty_like(y1)
    for i in range(rounds):
        r = _ROTATIONS[i % 8]
        # y0 += y1; y1 = rotl(y1, r) ^ y0, written in place to stay in cache.
        np.add(y0, y1, out=y0)
        np.right_shift(y1, U32(32 - r), out=tmp)
        np.left_shift(y1, U32(r), out=y1)
        np.bitwise_or(y1, tmp, out=y1)
        np.bitwise_xor(y1, y0, out=y1)
        if i % 4 == 3:
            s = (i + 1) // 4
            np.add(y0, U32(schedule[s % 3]), out=y0)
            np.add(y1, U32((schedule[(s + 1) % 3] + s) & MASK32), out=y1)
    return y0, y1


def threefry_block(k0: int, k1: int, c0: int, c1: int, rounds: int = 20) -> Words:
    """:func:`threefry2x32` of one counter in Python ints: far less call
    overhead for keys and other tiny draws."""
    schedule = (k0, k1, k0 ^ k1 ^ _PARITY)
    y0 = (c0 + k0) & MASK32
    y1 = (c1 + k1) & MASK32
    for i in range(rounds):
        r = _ROTATIONS[i % 8]
        y0 = (y0 + y1) & MASK32
        y1 = (((y1 << r) | (y1 >> (32 - r))) & MASK32) ^ y0
        if i % 4 == 3:
            s = (i + 1) // 4
            y0 = (y0 + schedule[s % 3]) & MASK32
            y1 = (y1 + schedule[(s + 1) % 3] + s) & MASK32
    return y0, y1


def words_of(key: Any) -> Words:
    """A concrete key's two words as Python ints."""
    return int(key[0]), int(key[1])


def derive(words: Words, c0: int, c1: int) -> Words:
    """One Threefry block of ``words`` at counter ``(c0, c1)``, as a new key."""
    return threefry_block(*words, c0, c1)


# Counters with high word 0xFFFFFFFF are never reached by a key's stream (it
# would need about 2**64 blocks), so keys derived from them are independent of it.
RESERVED = MASK32


def blocks(words: Words, start: int, stop: int) -> NDArray[np.uint32]:
    """Stream words ``2*start`` to ``2*stop`` (exclusive) of a key."""
    if stop - start <= _FEW:
        pairs = [threefry_block(*words, i >> 32, i & MASK32) for i in range(start, stop)]
        return np.array(pairs, U32).reshape(-1)
    if stop <= 1 << 32:
        lo = np.arange(start, stop, dtype=U32)
        hi = np.zeros_like(lo)
    else:
        index = np.arange(start, stop, dtype=U64)
        lo = index.astype(U32)
        hi = (index >> U64(32)).astype(U32)
    y0, y1 = threefry2x32(*words, hi, lo)
    out = np.empty(2 * (stop - start), U32)
    out[0::2] = y0
    out[1::2] = y1
    return out


def word_chunks(words: Words, n: int) -> Iterator[NDArray[np.uint32]]:
    """The first ``n`` words of a key's stream, in cache-sized pieces."""
    n_blocks = (n + 1) // 2
    for start in range(0, n_blocks, _CHUNK):
        stop = min(start + _CHUNK, n_blocks)
        yield blocks(words, start, stop)[: n - 2 * start]


def random_words(words: Words, n: int) -> NDArray[np.uint32]:
    """The first ``n`` words of a key's stream, as one array."""
    out = np.empty(n, U32)
    pos = 0
    for chunk in word_chunks(words, n):
        out[pos : pos + chunk.size] = chunk
        pos += chunk.size
    return out


def fill(
    words: Words,
    n: int,
    per_value: int,
    convert: Callable[[NDArray[np.uint32]], NDArray[Any]],
    dtype: np.dtype[Any],
) -> NDArray[Any]:
    """``n`` values, each made by ``convert`` from ``per_value`` stream words."""
    out = np.empty(n, dtype)
    pos = 0
    for chunk in word_chunks(words, n * per_value):
        count = chunk.size // per_value
        out[pos : pos + count] = convert(chunk)
        pos += count
    return out
