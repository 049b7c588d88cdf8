"""The samplers: raw bits, uniform, normal, truncated normal, Bernoulli and integers.

Each public function checks its arguments by shape and dtype, then binds one primitive
whose operands are the key and the array-valued arguments (bounds, probabilities) and
whose params are the static ones (``shape``, ``dtype``). The primitives carry no
derivative rules: random draws are constants to every transform. Their implementations
read the key's words, check the values they were given, and turn stream words into
numbers (``_from_words``, ``_ieee_math``).

The one differentiable part is uniform's ``minval + u * (maxval - minval)``: it is done
with ``funcnn.numpy`` ops outside the primitive, so gradients flow to the bounds, and it
computes exactly the NumPy operations it replaced, so the bits are the same.
"""
from __future__ import annotations

import math
from typing import Any

import numpy as np
from numpy.typing import ArrayLike, DTypeLike, NDArray

import funcnn.numpy as fnp
from funcnn.extend import (
    Primitive, ShapeDtype, Tracer, broadcasting_rule, convert_element_type, def_abstract_eval, def_batch,
    elementwise_batch_rule, loop_batch_rule, shape_of,
)
from funcnn.random._checks import (
    Shape, as_int, as_shape, check_broadcast, check_key, float_dtype, integer_scalar, real_array,
    real_operand,
)
from funcnn.random._from_words import bounded, open_unit, unit_float, wide, words_per_float
from funcnn.random._ieee_math import ndtr, ndtri
from funcnn.random._keys import Key
from funcnn.random._threefry import U64, fill, random_words, words_of


def _drawn(*operands: ShapeDtype, shape: tuple[int, ...], dtype: np.dtype[Any]) -> ShapeDtype:
    """The abstract rule of a sampler: ``shape`` and ``dtype`` are its params."""
    return ShapeDtype(shape, dtype)


# --- bits ------------------------------------------------------------------------------------


def _bits_impl(key: Key, *, shape: tuple[int, ...], dtype: np.dtype[Any]) -> NDArray[Any]:
    words, n = words_of(key), math.prod(shape)
    if dtype == np.uint32:
        return random_words(words, n).reshape(shape)
    return wide(random_words(words, 2 * n)).reshape(shape)


_bits_p = Primitive("random_bits", _bits_impl)
def_abstract_eval(_bits_p, _drawn)
def_batch(_bits_p, loop_batch_rule(_bits_p))  # one draw per example's key


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
    key = check_key(key)
    dims = as_shape(shape)
    dt = np.dtype(dtype)
    if dt not in (np.dtype(np.uint32), np.dtype(np.uint64)):
        raise TypeError(f"bits needs dtype uint32 or uint64; got {dt}")
    return _bits_p.bind(key, shape=dims, dtype=dt)


# --- uniform ---------------------------------------------------------------------------------


def _uniform_impl(key: Key, minval: Any, maxval: Any, *, shape: tuple[int, ...],
                  dtype: np.dtype[Any]) -> NDArray[Any]:
    """Uniforms on ``[0, 1)``. The bounds are operands only to be checked here, where their
    values exist; :func:`uniform` scales the result to them."""
    _check_uniform_bounds(minval, maxval, dtype)
    n, per_value = math.prod(shape), words_per_float(dtype)
    return fill(words_of(key), n, per_value, lambda w: unit_float(w, dtype), dtype).reshape(shape)


def _check_uniform_bounds(minval: Any, maxval: Any, dtype: np.dtype[Any]) -> None:
    """``minval`` and ``maxval`` must be finite in ``dtype``, ordered, and not too far apart."""
    bounds = []
    for name, value in (("minval", minval), ("maxval", maxval)):
        with np.errstate(over="ignore"):
            cast = real_array(value, name).astype(dtype)
        if not np.isfinite(cast).all():
            raise ValueError(f"{name} must be finite in {dtype}; got {value!r}")
        bounds.append(cast)
    lo, hi = bounds
    if not (lo < hi).all():
        raise ValueError(f"uniform needs minval < maxval; got minval={minval!r}, maxval={maxval!r}")
    with np.errstate(over="ignore"):
        if not np.isfinite(hi - lo).all():
            raise ValueError(f"maxval - minval overflows {dtype}; use a narrower interval")


_uniform_p = Primitive("random_uniform", _uniform_impl)
_nextafter_p = Primitive("nextafter", np.nextafter)  # the float next to x toward y: no derivative
def_abstract_eval(_uniform_p, _drawn)
def_batch(_uniform_p, loop_batch_rule(_uniform_p))  # one draw per example's key
def_abstract_eval(_nextafter_p, broadcasting_rule(_nextafter_p))
def_batch(_nextafter_p, elementwise_batch_rule(_nextafter_p))


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
    ``maxval`` when rounding would reach it; gradients flow to `minval` and
    `maxval` through that formula (not where the result is held below `maxval`).

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
    key = check_key(key)
    dims = as_shape(shape)
    dt = float_dtype(dtype, "uniform")
    lo = real_operand(minval, "minval")
    hi = real_operand(maxval, "maxval")
    check_broadcast(shape_of(lo), dims, "minval")
    check_broadcast(shape_of(hi), dims, "maxval")
    u = _uniform_p.bind(key, lo, hi, shape=dims, dtype=dt)
    if _unit_interval(lo, hi):  # speed shortcut: scaling to [0, 1) would change no bit
        return u
    return _array_unless_traced(_scaled(u, _cast(lo, dt), _cast(hi, dt)))


def _unit_interval(lo: Any, hi: Any) -> bool:
    """Whether the bounds are known, now, to be exactly 0 and 1."""
    known = not isinstance(lo, Tracer) and not isinstance(hi, Tracer) and shape_of(lo) == shape_of(hi) == ()
    return known and float(lo) == 0.0 and float(hi) == 1.0


def _array_unless_traced(x: Any) -> Any:
    """An eager result as an array (NumPy makes 0-d results scalars); a traced one as it is."""
    return x if isinstance(x, Tracer) else np.asarray(x)


def _cast(bound: Any, dtype: np.dtype[Any]) -> Any:
    """A bound in ``dtype``, by way of float64 as the bounds were always cast."""
    return convert_element_type(convert_element_type(bound, np.float64), dtype)


def _scaled(u: Any, lo: Any, hi: Any) -> Any:
    """``lo + u * (hi - lo)``, held below ``hi`` where rounding would reach it."""
    scaled = fnp.add(fnp.multiply(u, fnp.subtract(hi, lo)), lo)
    return fnp.minimum(scaled, _nextafter_p.bind(hi, lo))


# --- normal and truncated normal -------------------------------------------------------------


def _normal_impl(key: Key, *, shape: tuple[int, ...], dtype: np.dtype[Any]) -> NDArray[Any]:
    def convert(chunk: NDArray[np.uint32]) -> NDArray[Any]:
        return ndtri(open_unit(chunk, dtype)).astype(dtype)

    return fill(words_of(key), math.prod(shape), words_per_float(dtype), convert, dtype).reshape(shape)


_normal_p = Primitive("random_normal", _normal_impl)
def_abstract_eval(_normal_p, _drawn)
def_batch(_normal_p, loop_batch_rule(_normal_p))  # one draw per example's key


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
    key = check_key(key)
    dims = as_shape(shape)
    dt = float_dtype(dtype, "normal")
    return _normal_p.bind(key, shape=dims, dtype=dt)


def _truncated_normal_impl(key: Key, lower: Any, upper: Any, *, shape: tuple[int, ...],
                           dtype: np.dtype[Any]) -> NDArray[Any]:
    a = real_array(lower, "lower")
    b = real_array(upper, "upper")
    if not (a < b).all():
        raise ValueError(
            f"truncated_normal needs lower < upper; got lower={lower!r}, upper={upper!r}"
        )
    # Mirror intervals lying mostly above 0 so that Phi(lower) is a lower-tail value.
    with np.errstate(invalid="ignore"):
        mirror = a + b > 0.0
    lo = np.where(mirror, -b, a)
    hi = np.where(mirror, -a, b)
    p_lo = ndtr(lo)
    mass = ndtr(hi) - p_lo
    if not (mass > 1e-300).all():
        raise ValueError(
            "truncated_normal cannot sample an interval this far in the tail "
            f"(probability below 1e-300); got lower={lower!r}, upper={upper!r}"
        )
    n, per_value = math.prod(shape), words_per_float(dtype)
    v = fill(words_of(key), n, per_value, lambda w: open_unit(w, dtype), np.dtype(np.float64))
    v = v.reshape(shape)
    x = np.clip(ndtri(np.minimum(p_lo + mass * v, 1.0)), lo, hi)
    return np.asarray(np.where(mirror, -x, x), dtype=dtype)


_truncated_normal_p = Primitive("random_truncated_normal", _truncated_normal_impl)
def_abstract_eval(_truncated_normal_p, _drawn)
def_batch(_truncated_normal_p, loop_batch_rule(_truncated_normal_p))  # one draw per example's key


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
    in `dtype`). The whole computation is one primitive, so no derivative
    flows to `lower` and `upper`.

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
    key = check_key(key)
    dt = float_dtype(dtype, "truncated_normal")
    a = real_operand(lower, "lower")
    b = real_operand(upper, "upper")
    if shape is None:
        try:
            dims = np.broadcast_shapes(shape_of(a), shape_of(b))
        except ValueError:
            raise ValueError(
                f"lower of shape {shape_of(a)} and upper of shape {shape_of(b)} do not broadcast"
            ) from None
    else:
        dims = as_shape(shape)
        check_broadcast(shape_of(a), dims, "lower")
        check_broadcast(shape_of(b), dims, "upper")
    return _truncated_normal_p.bind(key, a, b, shape=dims, dtype=dt)


# --- bernoulli -------------------------------------------------------------------------------


def _bernoulli_impl(key: Key, p: Any, *, shape: tuple[int, ...]) -> NDArray[np.bool_]:
    prob = real_array(p, "p")
    if not ((prob >= 0.0) & (prob <= 1.0)).all():
        raise ValueError(f"p must be in [0, 1]; got {p!r}")
    draws = random_words(words_of(key), math.prod(shape)).reshape(shape).astype(np.float64)
    return np.asarray(draws < prob * 2.0**32)


_bernoulli_p = Primitive("random_bernoulli", _bernoulli_impl)
def_abstract_eval(_bernoulli_p, lambda key, p, *, shape: ShapeDtype(shape, np.bool_))
def_batch(_bernoulli_p, loop_batch_rule(_bernoulli_p))  # one draw per example's key


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
    key = check_key(key)
    prob = real_operand(p, "p")
    dims = tuple(shape_of(prob)) if shape is None else as_shape(shape)
    check_broadcast(shape_of(prob), dims, "p")
    return _bernoulli_p.bind(key, prob, shape=dims)


# --- randint ---------------------------------------------------------------------------------


def _randint_impl(key: Key, minval: Any, maxval: Any, *, shape: tuple[int, ...],
                  dtype: np.dtype[Any]) -> NDArray[Any]:
    low, high = int(minval), int(maxval)
    _check_int_bounds(low, high, dtype)
    offsets = bounded(words_of(key), math.prod(shape), high - low)
    # Two's-complement wraparound in uint64 gives low + offset exactly.
    values = offsets + U64(low % (1 << 64))
    if dtype.kind == "i":
        return values.view(np.int64).astype(dtype).reshape(shape)
    return values.astype(dtype).reshape(shape)


def _check_int_bounds(low: int, high: int, dtype: np.dtype[Any]) -> None:
    if low >= high:
        raise ValueError(f"randint needs minval < maxval; got minval={low}, maxval={high}")
    info = np.iinfo(dtype)
    if low < int(info.min) or high > int(info.max) + 1:
        raise ValueError(
            f"randint bounds must fit {dtype} ([{info.min}, {int(info.max) + 1}]); "
            f"got minval={low}, maxval={high}"
        )


_randint_p = Primitive("random_randint", _randint_impl)
def_abstract_eval(_randint_p, _drawn)
def_batch(_randint_p, loop_batch_rule(_randint_p))  # one draw per example's key


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
        `dtype` (``maxval`` may be one past its largest value). Integer arrays
        of shape ``()``, traced or not, are accepted too.
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
    key = check_key(key)
    dims = as_shape(shape)
    dt = np.dtype(dtype)
    if dt.kind not in "iu":
        raise TypeError(f"randint needs an integer dtype; got {dt}")
    low = _int_bound(minval, "minval")
    high = _int_bound(maxval, "maxval")
    if isinstance(low, int) and isinstance(high, int):  # known now: fail before drawing
        _check_int_bounds(low, high, dt)
    return _randint_p.bind(key, low, high, shape=dims, dtype=dt)


def _int_bound(value: Any, name: str) -> Any:
    """A bound of :func:`randint`: an integer array (maybe traced) as it is, else a Python int."""
    if isinstance(value, (np.ndarray, Tracer)):
        return integer_scalar(value, name)
    return as_int(value, name)

