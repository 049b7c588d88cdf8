"""Explicit pseudo-random number keys, in the style of ``jax.random``.

There is no global random state. Every sampler takes a *key* and is a pure
function of it: the same key gives bit-identical numbers on every run, machine
and NumPy version. New keys come from :func:`split` and :func:`fold_in`.

A key is a NumPy ``uint32`` array of shape ``(2,)``. Bits come from the
counter-based generator Threefry-2x32 with 20 rounds (Salmon et al., "Parallel
random numbers: as easy as 1, 2, 3", SC'11): word ``i`` of a key's stream is
half of the Threefry block that encrypts counter ``i // 2`` under the key, so
the stream is computed in vectorized ``uint32`` arithmetic, never in a loop
over elements. Float samplers turn those words into floats with exact bit
manipulation and IEEE-754 ``+ - * /`` and ``sqrt`` only (their own ``log``,
``exp`` and normal quantile), so no platform ``libm`` can change a result.

Examples
--------
>>> from funcnn import random
>>> key = random.key(0)
>>> key, sub = random.split(key)
>>> random.uniform(sub, (2, 3)).shape
(2, 3)
"""
from __future__ import annotations

import math
import operator
from collections.abc import Callable, Iterator, Sequence
from typing import Any

import numpy as np
from numpy.typing import ArrayLike, DTypeLike, NDArray

__all__ = [
    "Key",
    "PRNGKey",
    "bernoulli",
    "bits",
    "choice",
    "fold_in",
    "key",
    "normal",
    "permutation",
    "randint",
    "split",
    "truncated_normal",
    "uniform",
]

Key = NDArray[np.uint32]
"""A PRNG key: a ``uint32`` NumPy array of shape ``(2,)``."""

Shape = int | Sequence[int]

_MASK32 = 0xFFFFFFFF
_U32 = np.uint32
_U64 = np.uint64

# --------------------------------------------------------------------------
# Threefry-2x32
# --------------------------------------------------------------------------

_ROTATIONS = (13, 15, 26, 6, 17, 29, 16, 24)
_PARITY = 0x1BD11BDA  # Threefish key-schedule constant
_CHUNK = 1 << 15  # blocks per pass: keeps the working arrays in cache
_FEW = 8  # up to this many blocks, Python ints beat NumPy's per-call overhead


def _threefry2x32(
    k0: int, k1: int, x0: NDArray[np.uint32], x1: NDArray[np.uint32], rounds: int = 20
) -> tuple[NDArray[np.uint32], NDArray[np.uint32]]:
    """Encrypt counter pairs ``(x0, x1)`` under the key ``(k0, k1)``."""
    schedule = (k0, k1, k0 ^ k1 ^ _PARITY)
    y0 = x0 + _U32(k0)
    y1 = x1 + _U32(k1)
    tmp = np.empty_like(y1)
    for i in range(rounds):
        r = _ROTATIONS[i % 8]
        # y0 += y1; y1 = rotl(y1, r) ^ y0, written in place to stay in cache.
        np.add(y0, y1, out=y0)
        np.right_shift(y1, _U32(32 - r), out=tmp)
        np.left_shift(y1, _U32(r), out=y1)
        np.bitwise_or(y1, tmp, out=y1)
        np.bitwise_xor(y1, y0, out=y1)
        if i % 4 == 3:
            s = (i + 1) // 4
            np.add(y0, _U32(schedule[s % 3]), out=y0)
            np.add(y1, _U32((schedule[(s + 1) % 3] + s) & _MASK32), out=y1)
    return y0, y1


def _threefry_block(k0: int, k1: int, c0: int, c1: int, rounds: int = 20) -> tuple[int, int]:
    """:func:`_threefry2x32` of one counter in Python ints: far less call
    overhead for keys and other tiny draws."""
    schedule = (k0, k1, k0 ^ k1 ^ _PARITY)
    y0 = (c0 + k0) & _MASK32
    y1 = (c1 + k1) & _MASK32
    for i in range(rounds):
        r = _ROTATIONS[i % 8]
        y0 = (y0 + y1) & _MASK32
        y1 = (((y1 << r) | (y1 >> (32 - r))) & _MASK32) ^ y0
        if i % 4 == 3:
            s = (i + 1) // 4
            y0 = (y0 + schedule[s % 3]) & _MASK32
            y1 = (y1 + schedule[(s + 1) % 3] + s) & _MASK32
    return y0, y1


def _derive(words: tuple[int, int], c0: int, c1: int) -> tuple[int, int]:
    """One Threefry block of ``words`` at counter ``(c0, c1)``, as a new key."""
    return _threefry_block(*words, c0, c1)


# Counters with high word 0xFFFFFFFF are never reached by a key's stream (it
# would need about 2**64 blocks), so keys derived from them are independent of it.
_RESERVED = _MASK32


def _blocks(words: tuple[int, int], start: int, stop: int) -> NDArray[np.uint32]:
    """Stream words ``2*start`` to ``2*stop`` (exclusive) of a key."""
    if stop - start <= _FEW:
        blocks = [_threefry_block(*words, i >> 32, i & _MASK32) for i in range(start, stop)]
        return np.array(blocks, _U32).reshape(-1)
    if stop <= 1 << 32:
        lo = np.arange(start, stop, dtype=_U32)
        hi = np.zeros_like(lo)
    else:
        index = np.arange(start, stop, dtype=_U64)
        lo = index.astype(_U32)
        hi = (index >> _U64(32)).astype(_U32)
    y0, y1 = _threefry2x32(*words, hi, lo)
    out = np.empty(2 * (stop - start), _U32)
    out[0::2] = y0
    out[1::2] = y1
    return out


def _word_chunks(words: tuple[int, int], n: int) -> Iterator[NDArray[np.uint32]]:
    """The first ``n`` words of a key's stream, in cache-sized pieces."""
    n_blocks = (n + 1) // 2
    for start in range(0, n_blocks, _CHUNK):
        stop = min(start + _CHUNK, n_blocks)
        yield _blocks(words, start, stop)[: n - 2 * start]


def _random_words(words: tuple[int, int], n: int) -> NDArray[np.uint32]:
    """The first ``n`` words of a key's stream, as one array."""
    out = np.empty(n, _U32)
    pos = 0
    for chunk in _word_chunks(words, n):
        out[pos : pos + chunk.size] = chunk
        pos += chunk.size
    return out


def _fill(
    words: tuple[int, int],
    n: int,
    per_value: int,
    convert: Callable[[NDArray[np.uint32]], NDArray[Any]],
    dtype: np.dtype[Any],
) -> NDArray[Any]:
    """``n`` values, each made by ``convert`` from ``per_value`` stream words."""
    out = np.empty(n, dtype)
    pos = 0
    for chunk in _word_chunks(words, n * per_value):
        count = chunk.size // per_value
        out[pos : pos + count] = convert(chunk)
        pos += count
    return out


# --------------------------------------------------------------------------
# Argument checking
# --------------------------------------------------------------------------


def _describe(x: object) -> str:
    if isinstance(x, np.ndarray):
        return f"{x.dtype} array of shape {x.shape}"
    return f"{type(x).__name__} {x!r}"


def _key_words(key: object) -> tuple[int, int]:
    """Validate a key and return its two words as Python ints."""
    if (
        isinstance(key, np.ndarray)
        and key.dtype == np.uint32
        and key.shape == (2,)
    ):
        return int(key[0]), int(key[1])
    message = (
        "key must be a uint32 array of shape (2,) from funcnn.random.key(seed); "
        f"got {_describe(key)}"
    )
    if isinstance(key, np.ndarray) and key.ndim > 1 and key.shape[-1] == 2:
        message += "; this looks like a batch of keys from split: index one, e.g. keys[0]"
    elif isinstance(key, (int, np.integer)):
        message += "; make one with funcnn.random.key(seed)"
    raise TypeError(message)


def _as_int(value: object, name: str) -> int:
    if isinstance(value, (bool, np.bool_)):
        raise TypeError(f"{name} must be an integer; got {_describe(value)}")
    try:
        return operator.index(value)  # type: ignore[arg-type]
    except TypeError:
        raise TypeError(f"{name} must be an integer; got {_describe(value)}") from None


def _as_shape(shape: Shape, name: str = "shape") -> tuple[int, ...]:
    if isinstance(shape, (int, np.integer)):
        dims: tuple[int, ...] = (_as_int(shape, name),)
    else:
        try:
            dims = tuple(_as_int(d, name) for d in shape)
        except TypeError:
            raise TypeError(
                f"{name} must be an int or a sequence of ints; got {_describe(shape)}"
            ) from None
    if any(d < 0 for d in dims):
        raise ValueError(f"{name} must have non-negative sizes; got {dims}")
    return dims


def _float_dtype(dtype: DTypeLike, fn: str) -> np.dtype[Any]:
    dt = np.dtype(dtype)
    if dt not in (np.dtype(np.float16), np.dtype(np.float32), np.dtype(np.float64)):
        raise TypeError(
            f"{fn} needs a floating dtype (float16, float32 or float64); got {dt}"
        )
    return dt


def _real_array(value: ArrayLike, name: str) -> NDArray[np.float64]:
    arr = np.asarray(value)
    if arr.dtype.kind not in "biuf":
        raise TypeError(f"{name} must be real numbers; got {_describe(arr)}")
    out = arr.astype(np.float64)
    if np.isnan(out).any():
        raise ValueError(f"{name} must not be NaN")
    return out


def _check_broadcast(arr: NDArray[Any], shape: tuple[int, ...], name: str) -> None:
    try:
        ok = np.broadcast_shapes(arr.shape, shape) == shape
    except ValueError:
        ok = False
    if not ok:
        raise ValueError(f"{name} of shape {arr.shape} does not broadcast to shape {shape}")


# --------------------------------------------------------------------------
# Special functions from IEEE-754 basic operations only
# --------------------------------------------------------------------------

_LN2_HI = float.fromhex("0x1.62e42fefp-1")  # ln 2 with 20 trailing zero bits
_LN2_LO = float.fromhex("0x1.473de6af278edp-34")
_INV_LN2 = 1.4426950408889634
_SQRT_HALF = 0.7071067811865476
_SQRT_PI = 1.772453850905516
_LOG_SERIES = tuple(2.0 / (2 * k + 1) for k in range(11))  # 2 atanh(s) / s in s**2
_EXP_SERIES = tuple(1.0 / math.factorial(k) for k in range(14))


def _polyval(coeffs: Sequence[float], t: NDArray[np.float64]) -> NDArray[np.float64]:
    """Horner's rule; ``coeffs`` in increasing order of power."""
    acc = np.full_like(t, coeffs[-1])
    for c in coeffs[-2::-1]:
        np.multiply(acc, t, out=acc)
        np.add(acc, c, out=acc)
    return acc


def _log(x: NDArray[np.float64]) -> NDArray[np.float64]:
    """Natural log of positive finite ``x``, within about 2 ulp."""
    m, e = np.frexp(x)
    low = m < _SQRT_HALF
    m = np.where(low, m * 2.0, m)  # m in [sqrt(1/2), sqrt(2))
    n = e.astype(np.float64) - low
    s = (m - 1.0) / (m + 1.0)
    return n * _LN2_HI + (n * _LN2_LO + s * _polyval(_LOG_SERIES, s * s))


def _exp(x: NDArray[np.float64]) -> NDArray[np.float64]:
    """``e**x``, within about 2 ulp (0 below -745)."""
    x = np.clip(x, -746.0, 709.0)
    k = np.rint(x * _INV_LN2)
    r = (x - k * _LN2_HI) - k * _LN2_LO  # |r| <= ln(2) / 2
    return np.ldexp(_polyval(_EXP_SERIES, r), k.astype(np.int32))


def _exp_neg_half_square(z: NDArray[np.float64]) -> NDArray[np.float64]:
    """``exp(-z**2 / 2)`` for ``|z| <= 40``, with ``z**2`` carried exactly."""
    split = z * 134217729.0  # Veltkamp split: z == hi + lo, each 26 bits
    hi = split - (split - z)
    lo = z - hi
    square = z * z
    error = ((hi * hi - square) + 2.0 * hi * lo) + lo * lo
    return _exp(-0.5 * square) * (1.0 - 0.5 * error)


def _rational(
    num: Sequence[float], den: Sequence[float], t: NDArray[np.float64]
) -> NDArray[np.float64]:
    return _polyval(num, t) / _polyval(den, t)


# Rational fits of the normal quantile. Coefficients are in powers of a
# variable t in [0, 1] that maps the fitted interval (oriented so the sums do
# not cancel); they were computed offline by iteratively reweighted least
# squares in 50-digit arithmetic, and after rounding to float64 have relative
# error below 1e-16 on their interval.
# Centre, |q| = |p - 1/2| <= 0.425: x = q * R(t), t = 1 - q**2 / 0.425**2.
_CENTRE_NUM = (
    3.3871328727963665, 24.048664228879286, 64.32362300870358, 80.91968192943057,
    48.87945202168626, 12.932288688116858, 1.160912894248312, 0.015737799939490395,
)
_CENTRE_DEN = (
    1.0, 7.642830733786789, 22.419647482712936, 31.787551804264837,
    22.580046526884903, 7.55721676984149, 0.9976514553340401, 0.03278247813454528,
)
_CENTRE_SCALE = 1.0 / 0.180625
# Tails: with r = sqrt(-log(min(p, 1 - p))), |x| = R(t), t = (r - lo) / (hi - lo),
# on r in [sqrt(-log 0.075), 5] and on r in [5, sqrt(745)].
_NEAR_NUM = (
    1.439531470938456, 15.775405214690048, 66.3440897672105, 141.74054562297067,
    166.9250215383518, 107.45709266275051, 34.16341572074598, 3.938669638376631,
)
_NEAR_DEN = (
    1.0, 6.941831506091318, 19.1730919280303, 26.697501268466446,
    19.40211996116396, 6.737901007139597, 0.8212759539423063, 5.310557777618249e-06,
)
_NEAR_LO, _NEAR_HI = 1.6094306960679687, 5.0  # sqrt(-log 0.075); no libm at import
_FAR_NUM = (
    6.657904643501104, 121.7794158567502, 886.585185175586, 3282.6971753335242,
    6543.468785977115, 6826.395286556841, 3316.580346923311, 547.1775544365638,
)
_FAR_DEN = (
    1.0, 13.367970559086311, 68.00116439463996, 164.5838473691337,
    193.9108317643962, 101.29976471589882, 17.354377603244373, 5.50506946544954e-06,
)
_FAR_LO, _FAR_HI = 5.0, 27.294688127912362  # sqrt(745)
_TINY = 5e-324


def _mapped(r: NDArray[np.float64], lo: float, hi: float) -> NDArray[np.float64]:
    return (r - lo) * (1.0 / (hi - lo))


def _ndtri(p: NDArray[np.float64]) -> NDArray[np.float64]:
    """Standard normal quantile of ``p`` in [0, 1], finite everywhere."""
    shape = p.shape
    p = p.reshape(-1)
    q = p - 0.5
    square = q * q
    # The centre formula runs on every element (cheaper than masking 85% of
    # them); the clip keeps it finite where the tail formula takes over.
    t = np.maximum(1.0 - square * _CENTRE_SCALE, 0.0)
    x = q * _rational(_CENTRE_NUM, _CENTRE_DEN, t)
    tail = np.flatnonzero(square > 0.180625)
    if tail.size:
        qt = q[tail]
        smaller = np.where(qt < 0.0, p[tail], 0.5 - qt)  # min(p, 1 - p), exactly
        x[tail] = np.copysign(_ndtri_tail(smaller), qt)
    return x.reshape(shape)


def _ndtri_tail(p: NDArray[np.float64]) -> NDArray[np.float64]:
    """``-ndtri(p)`` for ``p <= 0.075``."""
    r = np.sqrt(-_log(np.maximum(p, _TINY)))
    y = _rational(_NEAR_NUM, _NEAR_DEN, _mapped(r, _NEAR_LO, _NEAR_HI))
    far = r > _NEAR_HI
    if far.any():
        y[far] = _rational(_FAR_NUM, _FAR_DEN, _mapped(r[far], _FAR_LO, _FAR_HI))
    return y


# Chebyshev series in y = (t - 4) / (t + 4) of sqrt(pi) * (t + 4) * erfcx(t),
# t >= 0, where erfcx(t) = exp(t**2) * erfc(t), by interpolation at Chebyshev
# nodes in 40-digit arithmetic (first term halved); truncation error below 1e-18.
_ERFCX_CHEB = (
    2.8928181692641544, -2.668310416578333, 1.0463174711181569, -0.3514514934381562,
    0.10086756630743722, -0.0244137315762835, 0.0048370562178311335,
    -0.0007331189569813043, 6.897359494526484e-05, 8.499776747400548e-07,
    -1.5418765845831117e-06, 2.1476304149757362e-07, 6.721086557885459e-09,
    -6.120929522095776e-09, 4.872232048482478e-10, 1.207742853469704e-10,
    -2.4049580394579964e-11, -1.8545601288171297e-12, 8.598298271901422e-13,
    1.4992758497575556e-14, -2.919118717161259e-14, 4.48694049394126e-16,
    1.0204449995650465e-15, -3.234015608441675e-17, -3.7853192711603494e-17,
    1.2301482051824065e-18, 1.4951539018896809e-18,
)


def _erfcx(t: NDArray[np.float64]) -> NDArray[np.float64]:
    """Scaled complementary error function for ``t >= 0``."""
    y = (t - 4.0) / (t + 4.0)
    b1 = np.zeros_like(y)
    b2 = np.zeros_like(y)
    for c in _ERFCX_CHEB[:0:-1]:  # Clenshaw recurrence
        b1, b2 = 2.0 * y * b1 - b2 + c, b1
    return (_ERFCX_CHEB[0] + y * b1 - b2) / (_SQRT_PI * (t + 4.0))


def _ndtr(z: NDArray[np.float64]) -> NDArray[np.float64]:
    """Standard normal CDF, accurate in relative terms in the lower tail."""
    a = np.minimum(np.abs(z), 40.0)  # Phi(-40) underflows to 0 anyway
    lower = 0.5 * _erfcx(a * _SQRT_HALF) * _exp_neg_half_square(a)
    return np.where(z <= 0.0, lower, 1.0 - lower)


# --------------------------------------------------------------------------
# From words to numbers
# --------------------------------------------------------------------------


def _words_per_float(dtype: np.dtype[Any]) -> int:
    return 2 if dtype == np.float64 else 1


def _wide(pairs: NDArray[np.uint32]) -> NDArray[np.uint64]:
    """One 64-bit word from each pair of words, the first word high."""
    return (pairs[0::2].astype(_U64) << _U64(32)) | pairs[1::2].astype(_U64)


def _mantissa52(pairs: NDArray[np.uint32]) -> NDArray[np.uint64]:
    """52 random bits from each pair of words: the top bits of :func:`_wide`."""
    return _wide(pairs) >> _U64(12)


def _unit_float(words: NDArray[np.uint32], dtype: np.dtype[Any]) -> NDArray[Any]:
    """Uniform floats in [0, 1): random mantissa bits under the exponent of 1."""
    if dtype == np.float64:
        one = _mantissa52(words) | _U64(0x3FF0000000000000)
        return one.view(np.float64) - 1.0
    if dtype == np.float32:
        one32 = (words >> _U32(9)) | _U32(0x3F800000)
        return one32.view(np.float32) - np.float32(1.0)
    one16 = (words >> _U32(22)).astype(np.uint16) | np.uint16(0x3C00)
    return one16.view(np.float16) - np.float16(1.0)


def _open_unit(words: NDArray[np.uint32], dtype: np.dtype[Any]) -> NDArray[np.float64]:
    """Float64 uniforms in (0, 1), symmetric about 1/2: (m + 1/2) / 2**bits."""
    if dtype == np.float64:
        return (_mantissa52(words).astype(np.float64) + 0.5) * 2.0**-52
    return (words.astype(np.float64) + 0.5) * 2.0**-32


def _bounded(words: tuple[int, int], n: int, span: int) -> NDArray[np.uint64]:
    """``n`` unbiased integers in ``[0, span)``, ``1 <= span <= 2**64``."""
    width = 32 if span <= 1 << 32 else 64
    excess = (1 << width) % span  # the top `excess` values would bias `% span`

    def draw(source: tuple[int, int], count: int) -> NDArray[np.uint64]:
        if width == 32:
            return _random_words(source, count).astype(_U64)
        return _wide(_random_words(source, 2 * count))

    values = draw(words, n)
    if excess:
        limit = _U64((1 << width) - excess)
        redo = np.flatnonzero(values >= limit)
        attempt = 0
        while redo.size:  # each draw is kept with probability above 1/2
            fresh = draw(_derive(words, _RESERVED, attempt), redo.size)
            values[redo] = fresh
            redo = redo[fresh >= limit]
            attempt += 1
    if span == 1 << 64:
        return values
    return values % _U64(span)


def _sort_order(words: tuple[int, int], n: int) -> NDArray[np.intp]:
    """A uniformly random ordering of ``range(n)``: argsort of 64-bit random keys."""
    return np.argsort(_wide(_random_words(words, 2 * n)), kind="stable")


# --------------------------------------------------------------------------
# Keys
# --------------------------------------------------------------------------


def key(seed: int) -> Key:
    """Make a PRNG key from an integer seed.

    Parameters
    ----------
    seed : int
        Any integer in ``[-2**63, 2**64)``; it is taken modulo ``2**64``.

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
    value = _as_int(seed, "seed")
    if not -(1 << 63) <= value < 1 << 64:
        raise ValueError(f"seed must be an integer in [-2**63, 2**64); got {value}")
    value %= 1 << 64
    return np.array([value >> 32, value & _MASK32], dtype=_U32)


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
    words = _key_words(key)
    count = _as_int(num, "num")
    if count < 0:
        raise ValueError(f"num must be >= 0; got {count}")
    return _random_words(words, 2 * count).reshape(count, 2)


def fold_in(key: Key, data: int) -> Key:
    """Derive a new key from ``key`` and an integer, such as a step number.

    Distinct ``data`` give independent keys, which are also independent of
    the keys from ``split(key)`` and of the numbers drawn with ``key``.

    Parameters
    ----------
    key : ndarray of uint32, shape (2,)
    data : int
        Any integer in ``[-2**63, 2**64)``, taken modulo ``2**64``.

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
    words = _key_words(key)
    value = _as_int(data, "data")
    if not -(1 << 63) <= value < 1 << 64:
        raise ValueError(f"data must be an integer in [-2**63, 2**64); got {value}")
    value %= 1 << 64
    folding = _derive(words, _RESERVED, _RESERVED)
    return np.array(_derive(folding, value >> 32, value & _MASK32), dtype=_U32)


# --------------------------------------------------------------------------
# Samplers
# --------------------------------------------------------------------------


def bits(key: Key, shape: Shape = (), dtype: DTypeLike = np.uint32) -> NDArray[Any]:
    """Uniformly random unsigned integers: the raw bits of the key's stream.

    Parameters
    ----------
    key : ndarray of uint32, shape (2,)
    shape : int or tuple of int, default ()
    dtype : uint32 or uint64, default uint32

    Returns
    -------
    out : ndarray of dtype, shape `shape`

    Examples
    --------
    >>> from funcnn import random
    >>> random.bits(random.key(0), (2,))
    array([1797259609, 2579123966], dtype=uint32)
    """
    words = _key_words(key)
    dims = _as_shape(shape)
    dt = np.dtype(dtype)
    n = math.prod(dims)
    if dt == np.uint32:
        return _random_words(words, n).reshape(dims)
    if dt == np.uint64:
        return _wide(_random_words(words, 2 * n)).reshape(dims)
    raise TypeError(f"bits needs dtype uint32 or uint64; got {dt}")


def uniform(
    key: Key,
    shape: Shape = (),
    dtype: DTypeLike = np.float32,
    minval: ArrayLike = 0.0,
    maxval: ArrayLike = 1.0,
) -> NDArray[Any]:
    """Uniform floats in ``[minval, maxval)``.

    On ``[0, 1)`` the values are ``k / 2**m`` for a uniformly random integer
    ``k``, with ``m`` the mantissa width (10, 23 or 52 bits), so every value is
    exact. Other intervals are ``minval + u * (maxval - minval)``, kept below
    ``maxval`` when rounding would reach it.

    Parameters
    ----------
    key : ndarray of uint32, shape (2,)
    shape : int or tuple of int, default ()
    dtype : float16, float32 or float64, default float32
    minval, maxval : float or array broadcastable to `shape`
        Finite bounds with ``minval < maxval``, cast to `dtype`.

    Returns
    -------
    out : ndarray of dtype, shape `shape`

    Examples
    --------
    >>> from funcnn import random
    >>> x = random.uniform(random.key(0), (1000,), minval=-1.0, maxval=1.0)
    >>> x.dtype, bool(x.min() >= -1.0), bool(x.max() < 1.0)
    (dtype('float32'), True, True)
    """
    words = _key_words(key)
    dims = _as_shape(shape)
    dt = _float_dtype(dtype, "uniform")
    lo, hi = _float_bounds(minval, maxval, dt, dims)
    u = _fill(words, math.prod(dims), _words_per_float(dt), lambda w: _unit_float(w, dt), dt)
    u = u.reshape(dims)
    if lo.shape == hi.shape == () and lo == 0.0 and hi == 1.0:
        return u
    scaled = u * (hi - lo) + lo
    return np.asarray(np.minimum(scaled, np.nextafter(hi, lo)), dtype=dt)


def _float_bounds(
    minval: ArrayLike, maxval: ArrayLike, dtype: np.dtype[Any], shape: tuple[int, ...]
) -> tuple[NDArray[Any], NDArray[Any]]:
    """``minval`` and ``maxval`` of :func:`uniform`, checked and cast to `dtype`."""
    bounds = []
    for name, value in (("minval", minval), ("maxval", maxval)):
        arr = _real_array(value, name)
        _check_broadcast(arr, shape, name)
        with np.errstate(over="ignore"):
            cast = arr.astype(dtype)
        if not np.isfinite(cast).all():
            raise ValueError(f"{name} must be finite in {dtype}; got {value!r}")
        bounds.append(cast)
    lo, hi = bounds
    if not (lo < hi).all():
        raise ValueError(f"uniform needs minval < maxval; got minval={minval!r}, maxval={maxval!r}")
    with np.errstate(over="ignore"):
        if not np.isfinite(hi - lo).all():
            raise ValueError(f"maxval - minval overflows {dtype}; use a narrower interval")
    return lo, hi


def normal(key: Key, shape: Shape = (), dtype: DTypeLike = np.float32) -> NDArray[Any]:
    """Standard normal floats, by the inverse CDF of an open-interval uniform.

    The uniform has 52 random bits for float64 and 32 for float16 and
    float32 (computed in float64, then rounded once), so samples are finite and
    reach about 8.3 (float64) or 6.4 (float32) standard deviations.

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
    >>> z = random.normal(random.key(0), (10_000,), dtype="float64")
    >>> bool(abs(z.mean()) < 0.05), bool(abs(z.std() - 1.0) < 0.05)
    (True, True)
    """
    words = _key_words(key)
    dims = _as_shape(shape)
    dt = _float_dtype(dtype, "normal")

    def convert(chunk: NDArray[np.uint32]) -> NDArray[Any]:
        return _ndtri(_open_unit(chunk, dt)).astype(dt)

    return _fill(words, math.prod(dims), _words_per_float(dt), convert, dt).reshape(dims)


def truncated_normal(
    key: Key,
    lower: ArrayLike,
    upper: ArrayLike,
    shape: Shape | None = (),
    dtype: DTypeLike = np.float32,
) -> NDArray[Any]:
    """Standard normal floats conditioned on ``lower <= x <= upper``.

    Sampled by the inverse CDF: ``x = Phi^-1(Phi(lower) + u * (Phi(upper) -
    Phi(lower)))``, working in the lower tail (mirroring the interval when it
    lies mostly above 0) so that far tails keep their precision. Results are
    clipped to the bounds, so they always lie in ``[lower, upper]`` (compared
    in `dtype`).

    Parameters
    ----------
    key : ndarray of uint32, shape (2,)
    lower, upper : float or array broadcastable to `shape`
        Bounds with ``lower < upper``; may be infinite. The interval must hold
        some probability in float64: it must reach within about 37 standard
        deviations of 0.
    shape : int, tuple of int or None, default ()
        ``None`` means the broadcast shape of `lower` and `upper`.
    dtype : float16, float32 or float64, default float32

    Returns
    -------
    out : ndarray of dtype, shape `shape`

    Examples
    --------
    >>> from funcnn import random
    >>> w = random.truncated_normal(random.key(0), -2.0, 2.0, (256, 128))
    >>> bool(w.min() >= -2.0), bool(w.max() <= 2.0), w.dtype
    (True, True, dtype('float32'))
    """
    words = _key_words(key)
    dt = _float_dtype(dtype, "truncated_normal")
    a = _real_array(lower, "lower")
    b = _real_array(upper, "upper")
    if shape is None:
        try:
            dims = np.broadcast_shapes(a.shape, b.shape)
        except ValueError:
            raise ValueError(
                f"lower of shape {a.shape} and upper of shape {b.shape} do not broadcast"
            ) from None
    else:
        dims = _as_shape(shape)
        _check_broadcast(a, dims, "lower")
        _check_broadcast(b, dims, "upper")
    if not (a < b).all():
        raise ValueError(
            f"truncated_normal needs lower < upper; got lower={lower!r}, upper={upper!r}"
        )
    # Mirror intervals lying mostly above 0 so that Phi(lower) is a lower-tail value.
    with np.errstate(invalid="ignore"):
        mirror = a + b > 0.0
    lo = np.where(mirror, -b, a)
    hi = np.where(mirror, -a, b)
    p_lo = _ndtr(lo)
    mass = _ndtr(hi) - p_lo
    if not (mass > 1e-300).all():
        raise ValueError(
            "truncated_normal cannot sample an interval this far in the tail "
            f"(probability below 1e-300); got lower={lower!r}, upper={upper!r}"
        )
    n = math.prod(dims)
    v = _fill(words, n, _words_per_float(dt), lambda w: _open_unit(w, dt), np.dtype(np.float64))
    v = v.reshape(dims)
    x = np.clip(_ndtri(np.minimum(p_lo + mass * v, 1.0)), lo, hi)
    return np.asarray(np.where(mirror, -x, x), dtype=dt)


def bernoulli(key: Key, p: ArrayLike = 0.5, shape: Shape | None = None) -> NDArray[np.bool_]:
    """Random booleans that are True with probability `p`.

    The probability is exact up to rounding ``p`` to a multiple of ``2**-32``.

    Parameters
    ----------
    key : ndarray of uint32, shape (2,)
    p : float or array, default 0.5
        Probabilities in ``[0, 1]``.
    shape : int, tuple of int or None, default None
        ``None`` means the shape of `p`; otherwise `p` must broadcast to it.

    Returns
    -------
    out : ndarray of bool, shape `shape`

    Examples
    --------
    >>> from funcnn import random
    >>> keep = random.bernoulli(random.key(0), 0.9, (4, 5))
    >>> keep.shape, keep.dtype
    ((4, 5), dtype('bool'))
    """
    words = _key_words(key)
    prob = _real_array(p, "p")
    if not ((prob >= 0.0) & (prob <= 1.0)).all():
        raise ValueError(f"p must be in [0, 1]; got {p!r}")
    dims = prob.shape if shape is None else _as_shape(shape)
    _check_broadcast(prob, dims, "p")
    n = math.prod(dims)
    draws = _random_words(words, n).reshape(dims).astype(np.float64)
    return np.asarray(draws < prob * 2.0**32)


def randint(
    key: Key, shape: Shape, minval: int, maxval: int, dtype: DTypeLike = np.int64
) -> NDArray[Any]:
    """Uniformly random integers in ``[minval, maxval)``, without modulo bias.

    Parameters
    ----------
    key : ndarray of uint32, shape (2,)
    shape : int or tuple of int
    minval, maxval : int
        Bounds with ``minval < maxval``; ``maxval`` is excluded. Both must fit
        `dtype` (``maxval`` may be one past its largest value).
    dtype : integer dtype, default int64

    Returns
    -------
    out : ndarray of dtype, shape `shape`

    Examples
    --------
    >>> from funcnn import random
    >>> dice = random.randint(random.key(0), (1000,), 1, 7)
    >>> sorted(set(dice.tolist()))
    [1, 2, 3, 4, 5, 6]
    """
    words = _key_words(key)
    dims = _as_shape(shape)
    dt = np.dtype(dtype)
    if dt.kind not in "iu":
        raise TypeError(f"randint needs an integer dtype; got {dt}")
    low = _as_int(minval, "minval")
    high = _as_int(maxval, "maxval")
    if low >= high:
        raise ValueError(f"randint needs minval < maxval; got minval={low}, maxval={high}")
    info = np.iinfo(dt)
    if low < int(info.min) or high > int(info.max) + 1:
        raise ValueError(
            f"randint bounds must fit {dt} ([{info.min}, {int(info.max) + 1}]); "
            f"got minval={low}, maxval={high}"
        )
    offsets = _bounded(words, math.prod(dims), high - low)
    # Two's-complement wraparound in uint64 gives low + offset exactly.
    values = offsets + _U64(low % (1 << 64))
    if dt.kind == "i":
        return values.view(np.int64).astype(dt).reshape(dims)
    return values.astype(dt).reshape(dims)


def _population(x: ArrayLike, axis: int, fn: str) -> tuple[NDArray[Any] | None, int, int]:
    """``(array or None, size, axis)`` for an int ``n`` or an array argument."""
    if isinstance(x, (int, np.integer)) and not isinstance(x, bool):
        n = int(x)
        if n < 0:
            raise ValueError(f"{fn} needs a non-negative population size; got {n}")
        return None, n, 0
    arr = np.asarray(x)
    if arr.ndim == 0:
        raise ValueError(f"{fn} needs an int or an array with at least one axis; got a scalar")
    ax = _as_int(axis, "axis")
    if not -arr.ndim <= ax < arr.ndim:
        raise ValueError(f"axis {ax} is out of range for an array of shape {arr.shape}")
    ax %= arr.ndim
    return arr, arr.shape[ax], ax


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
    words = _key_words(key)
    arr, n, ax = _population(x, axis, "permutation")
    order = _sort_order(words, n).astype(np.int64)
    if arr is None:
        return order
    return np.take(arr, order, axis=ax)


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
    words = _key_words(key)
    arr, n, ax = _population(a, axis, "choice")
    dims = _as_shape(shape)
    k = math.prod(dims)
    if k > 0 and n == 0:
        raise ValueError("choice cannot pick from an empty population")
    weights = None if p is None else _choice_weights(p, n)
    if k == 0:
        index = np.zeros(0, np.int64)
    elif replace:
        index = _pick_with_replacement(words, k, n, weights)
    else:
        index = _pick_without_replacement(words, k, n, weights)
    index = np.reshape(index, dims)
    if arr is None:
        return index
    return np.take(arr, index, axis=ax)


def _choice_weights(p: ArrayLike, n: int) -> NDArray[np.float64]:
    raw = np.asarray(p)
    weights = _real_array(raw, "p")
    if weights.shape != (n,):
        raise ValueError(f"p must have shape ({n},) to match the population; got {weights.shape}")
    if not ((weights >= 0.0) & (weights <= 1.0)).all():
        raise ValueError("p must be in [0, 1]")
    eps = np.finfo(raw.dtype).eps if raw.dtype.kind == "f" else np.finfo(np.float64).eps
    total = float(np.cumsum(weights)[-1]) if n else 0.0
    if abs(total - 1.0) > max(1e-8, math.sqrt(float(eps))):
        raise ValueError(f"p must sum to 1; it sums to {total!r}")
    return weights


def _pick_with_replacement(
    words: tuple[int, int], k: int, n: int, weights: NDArray[np.float64] | None
) -> NDArray[np.int64]:
    if weights is None:
        return _bounded(words, k, n).astype(np.int64)
    cdf = np.cumsum(weights)
    v = _fill(words, k, 2, lambda w: _unit_float(w, np.dtype(np.float64)), np.dtype(np.float64))
    index = np.searchsorted(cdf, v * cdf[-1], side="right")
    # v * total can round up to total; fall back to the last item with weight.
    last = int(np.flatnonzero(weights)[-1])
    out: NDArray[np.int64] = np.minimum(index, last).astype(np.int64)
    return out


def _pick_without_replacement(
    words: tuple[int, int], k: int, n: int, weights: NDArray[np.float64] | None
) -> NDArray[np.int64]:
    if weights is None:
        if k > n:
            raise ValueError(
                f"choice without replacement cannot pick {k} items from a population of {n}"
            )
        return _sort_order(words, n)[:k].astype(np.int64)
    available = int(np.count_nonzero(weights))
    if k > available:
        raise ValueError(
            f"choice without replacement cannot pick {k} items: only {available} "
            "entries of p are non-zero"
        )
    # Exponential race: item i finishes at E_i / p_i; the first k finishers are
    # a weighted sample without replacement, in order of being picked.
    v = _fill(words, n, 2, lambda w: _open_unit(w, np.dtype(np.float64)), np.dtype(np.float64))
    with np.errstate(divide="ignore"):
        finish = -_log(v) / weights
    return np.argsort(finish, kind="stable")[:k].astype(np.int64)
