"""Special functions from the IEEE-754 basic operations only: ``+ - * /`` and ``sqrt``.

``log``, ``exp``, the standard normal CDF ``ndtr`` and its inverse ``ndtri``, written
with exact bit manipulation (``frexp``, ``ldexp``) and operations that every platform
rounds the same way, so that no ``libm`` can change a result by the last bit. NumPy's
own ``log`` or ``erf`` may differ between platforms and releases; these do not, which
is what makes the float samplers bit-identical everywhere.

All functions take and return ``float64`` NumPy arrays of any shape (plain values,
never traced): the samplers call them inside their primitives' implementations.
"""
from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np
from numpy.typing import NDArray

_LN2_HI = float.fromhex("0x1.62e42fefp-1")  # ln 2 with 20 trailing zero bits
_LN2_LO = float.fromhex("0x1.473de6af278edp-34")
_INV_LN2 = 1.4426950408889634
_SQRT_HALF = 0.7071067811865476
_SQRT_PI = 1.772453850905516
_LOG_SERIES = tuple(2.0 / (2 * k + 1) for k in range(11))  # 2 atanh(s) / s in s**2
_EXP_SERIES = tuple(1.0 / math.factorial(k) for k in range(14))


def polyval(coeffs: Sequence[float], t: NDArray[np.float64]) -> NDArray[np.float64]:
    """Horner's rule; ``coeffs`` in increasing order of power."""
    acc = np.full_like(t, coeffs[-1])
    for c in coeffs[-2::-1]:
        np.multiply(acc, t, out=acc)
        np.add(acc, c, out=acc)
    return acc


def log(x: NDArray[np.float64]) -> NDArray[np.float64]:
    """Natural log of positive finite ``x``, within about 2 ulp."""
    m, e = np.frexp(x)
    low = m < _SQRT_HALF
    m = np.where(low, m * 2.0, m)  # m in [sqrt(1/2), sqrt(2))
    n = e.astype(np.float64) - low
    s = (m - 1.0) / (m + 1.0)
    return n * _LN2_HI + (n * _LN2_LO + s * polyval(_LOG_SERIES, s * s))


def exp(x: NDArray[np.float64]) -> NDArray[np.float64]:
    """``e**x``, within about 2 ulp (0 below -745)."""
    x = np.clip(x, -746.0, 709.0)
    k = np.rint(x * _INV_LN2)
    r = (x - k * _LN2_HI) - k * _LN2_LO  # |r| <= ln(2) / 2
    return np.ldexp(polyval(_EXP_SERIES, r), k.astype(np.int32))


def exp_neg_half_square(z: NDArray[np.float64]) -> NDArray[np.float64]:
    """``exp(-z**2 / 2)`` for ``|z| <= 40``, with ``z**2`` carried exactly."""
    split = z * 134217729.0  # Veltkamp split: z == hi + lo, each 26 bits
    hi = split - (split - z)
    lo = z - hi
    square = z * z
    error = ((hi * hi - square) + 2.0 * hi * lo) + lo * lo
    return exp(-0.5 * square) * (1.0 - 0.5 * error)


def rational(
    num: Sequence[float], den: Sequence[float], t: NDArray[np.float64]
) -> NDArray[np.float64]:
    """``num(t) / den(t)``, both polynomials in increasing order of power."""
    return polyval(num, t) / polyval(den, t)


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
    """``r`` in ``[lo, hi]`` mapped onto ``[0, 1]``."""
    return (r - lo) * (1.0 / (hi - lo))


def ndtri(p: NDArray[np.float64]) -> NDArray[np.float64]:
    """Standard normal quantile of ``p`` in [0, 1], finite everywhere."""
    shape = p.shape
    p = p.reshape(-1)
    q = p - 0.5
    square = q * q
    # The centre formula runs on every element (cheaper than masking 85% of
    # them); the clip keeps it finite where the tail formula takes over.
    t = np.maximum(1.0 - square * _CENTRE_SCALE, 0.0)
    x = q * rational(_CENTRE_NUM, _CENTRE_DEN, t)
    tail = np.flatnonzero(square > 0.180625)
    if tail.size:
        qt = q[tail]
        smaller = np.where(qt < 0.0, p[tail], 0.5 - qt)  # min(p, 1 - p), exactly
        x[tail] = np.copysign(_ndtri_tail(smaller), qt)
    return x.reshape(shape)


def _ndtri_tail(p: NDArray[np.float64]) -> NDArray[np.float64]:
    """``-ndtri(p)`` for ``p <= 0.075``."""
    r = np.sqrt(-log(np.maximum(p, _TINY)))
    y = rational(_NEAR_NUM, _NEAR_DEN, _mapped(r, _NEAR_LO, _NEAR_HI))
    far = r > _NEAR_HI
    if far.any():
        y[far] = rational(_FAR_NUM, _FAR_DEN, _mapped(r[far], _FAR_LO, _FAR_HI))
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


def erfcx(t: NDArray[np.float64]) -> NDArray[np.float64]:
    """Scaled complementary error function for ``t >= 0``."""
    y = (t - 4.0) / (t + 4.0)
    b1 = np.zeros_like(y)
    b2 = np.zeros_like(y)
    for c in _ERFCX_CHEB[:0:-1]:  # Clenshaw recurrence
        b1, b2 = 2.0 * y * b1 - b2 + c, b1
    return (_ERFCX_CHEB[0] + y * b1 - b2) / (_SQRT_PI * (t + 4.0))


def ndtr(z: NDArray[np.float64]) -> NDArray[np.float64]:
    """Standard normal CDF, accurate in relative terms in the lower tail."""
    a = np.minimum(np.abs(z), 40.0)  # Phi(-40) underflows to 0 anyway
    lower = 0.5 * erfcx(a * _SQRT_HALF) * exp_neg_half_square(a)
    return np.where(z <= 0.0, lower, 1.0 - lower)
