"""From stream words to numbers: unit floats, open-interval floats, unbiased bounded
integers and random orderings.

Floats are built by exact bit manipulation: random mantissa bits under the exponent
of 1, so every value on ``[0, 1)`` is ``k / 2**m`` exactly. Bounded integers reject
the few top values that would make ``% span`` favour some results, and redraw them
from keys no stream reaches. Like ``_threefry``, this works on concrete values only.
"""
from __future__ import annotations

from typing import Any

import numpy as np
from numpy.typing import NDArray

from funcnn.random._threefry import RESERVED, U32, U64, Words, derive, random_words


def words_per_float(dtype: np.dtype[Any]) -> int:
    """Stream words per float: two for float64 (52 mantissa bits), one otherwise."""
    return 2 if dtype == np.float64 else 1


def wide(pairs: NDArray[np.uint32]) -> NDArray[np.uint64]:
    """One 64-bit word from each pair of words, the first word high."""
    return (pairs[0::2].astype(U64) << U64(32)) | pairs[1::2].astype(U64)


def _mantissa52(pairs: NDArray[np.uint32]) -> NDArray[np.uint64]:
    """52 random bits from each pair of words: the top bits of :func:`wide`."""
    return wide(pairs) >> U64(12)


def unit_float(words: NDArray[np.uint32], dtype: np.dtype[Any]) -> NDArray[Any]:
    """Uniform floats in [0, 1): random mantissa bits under the exponent of 1."""
    if dtype == np.float64:
        one = _mantissa52(words) | U64(0x3FF0000000000000)
        return one.view(np.float64) - 1.0
    if dtype == np.float32:
        one32 = (words >> U32(9)) | U32(0x3F800000)
        return one32.view(np.float32) - np.float32(1.0)
    one16 = (words >> U32(22)).astype(np.uint16) | np.uint16(0x3C00)
    return one16.view(np.float16) - np.float16(1.0)


def open_unit(words: NDArray[np.uint32], dtype: np.dtype[Any]) -> NDArray[np.float64]:
    """Float64 uniforms in (0, 1), symmetric about 1/2: (m + 1/2) / 2**bits."""
    if dtype == np.float64:
        return (_mantissa52(words).astype(np.float64) + 0.5) * 2.0**-52
    return (words.astype(np.float64) + 0.5) * 2.0**-32


def bounded(words: Words, n: int, span: int) -> NDArray[np.uint64]:
    """``n`` unbiased integers in ``[0, span)``, ``1 <= span <= 2**64``."""
    width = 32 if span <= 1 << 32 else 64
    excess = (1 << width) % span  # the top `excess` values would bias `% span`

    def draw(source: Words, count: int) -> NDArray[np.uint64]:
        if width == 32:
            return random_words(source, count).astype(U64)
        return wide(random_words(source, 2 * count))

    values = draw(words, n)
    if excess:
        limit = U64((1 << width) - excess)
        redo = np.flatnonzero(values >= limit)
        attempt = 0
        while redo.size:  # each draw is kept with probability above 1/2
            fresh = draw(derive(words, RESERVED, attempt), redo.size)
            values[redo] = fresh
            redo = redo[fresh >= limit]
            attempt += 1
    if span == 1 << 64:
        return values
    return values % U64(span)


def sort_order(words: Words, n: int) -> NDArray[np.intp]:
    """A uniformly random ordering of ``range(n)``: argsort of 64-bit random keys."""
    return np.argsort(wide(random_words(words, 2 * n)), kind="stable")
