"""Special functions with SciPy's names, as primitives: ``erf``, ``erfc``, ``erfinv``, ``ndtr``,
``log_ndtr``, ``ndtri``, ``gammaln``, ``digamma``, ``logit``, ``xlogy``, ``xlog1py``, ``entr``; plus
``expit`` and ``logsumexp`` from ``funcnn.numpy``. NumPy only, vectorized, float64 inside.

NumPy has no ``erf``, so the implementation is written here: ``erfc(z)`` for ``z >= 0`` is
``t * exp(-z**2 + P(t))`` with ``t = 2 / (2 + z)`` and ``P`` a 28-term Chebyshev series
(the form of Numerical Recipes' ``erfccheb``; coefficients fitted for funcnn at 40
digits), accurate to a few ulp of float64 with the tails' relative accuracy kept (``z**2``
carries its rounding error); ``erf`` uses its Maclaurin series near 0, where ``1 - erfc``
would cancel. The same series without ``exp(-z**2)`` is ``erfcx``, which the far tail of
``log_ndtr`` and its derivative use. Each section below says how its functions are computed.

Derivatives are written with funcnn ops, so every order works: the Gaussian for erf, erfc
and ndtr, ``digamma`` for ``gammaln``, a private ``polygamma(n, x)`` primitive (its own
derivative is ``polygamma(n + 1, x)``) for ``digamma``, and the inverse functions' slopes
from their results.
"""
from __future__ import annotations

import fractions
import functools
import math
from typing import Any

import numpy as np

from funcnn.extend import def_elementwise
from funcnn.numpy import (
    add, divide, equal, exp, greater, greater_equal, log, log1p, logistic, logsumexp, maximum, multiply, negative,
    square, subtract, where,
)
from funcnn.numpy._elementwise import _public, elementwise_primitive, weak_scalars

__all__ = [
    "digamma", "entr", "erf", "erfc", "erfinv", "expit", "gammaln", "log_ndtr", "logit", "logsumexp", "ndtr",
    "ndtri", "xlog1py", "xlogy",
]

expit = logistic

_ERFC_CHEBYSHEV = np.array([
    -1.3026537197817094, 0.6419697923564902, 0.019476473204185836, -0.009561514786808632,
    -0.0009465953444820369, 0.00036683949785276145, 4.252332480690777e-05,
    -2.0278578112534242e-05, -1.6242900046470256e-06, 1.3036558355805232e-06,
    1.5626441722066142e-08, -8.523809591492654e-08, 6.5290544390988515e-09,
    5.059343495551469e-09, -9.91364156493033e-10, -2.273651222931836e-10,
    9.646791102015527e-11, 2.3940380830391146e-12, -6.886027526497553e-12,
    8.944879273090725e-13, 3.130921399342958e-13, -1.1270822361367252e-13,
    3.810905255189232e-16, 7.106097613609237e-15, -1.5230282014571043e-15,
    -9.457494571291233e-17, 1.210237189224279e-16, -2.816663087747177e-17,
])
# erf(x) = 2/sqrt(pi) * sum_n (-1)^n x^(2n+1) / (n! (2n+1)): 14 terms reach float64 for |x| < 0.5
_ERF_MACLAURIN = np.array([(-1) ** n / (math.factorial(n) * (2 * n + 1)) for n in range(14)]) * 2 / math.sqrt(math.pi)
_TWO_OVER_SQRT_PI = 2 / math.sqrt(math.pi)
_INV_SQRT_2PI = 1 / math.sqrt(2 * math.pi)
_SQRT_HALF = math.sqrt(0.5)


def _float(x: Any) -> np.ndarray:
    x = np.asarray(x)
    return x if x.dtype.kind == "f" else x.astype(np.float64)


def _erfc_series(z: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """``(t, P(t))`` with ``erfc(z) = t * exp(-z**2 + P(t))`` for ``z >= 0``: Clenshaw's
    recurrence on the Chebyshev series (float64)."""
    t = 2.0 / (2.0 + z)
    ty = 4.0 * t - 2.0
    d, dd = np.full_like(z, _ERFC_CHEBYSHEV[-1]), np.zeros_like(z)
    for c in _ERFC_CHEBYSHEV[-2:0:-1]:
        d, dd = ty * d - dd + c, d
    return t, 0.5 * (_ERFC_CHEBYSHEV[0] + ty * d) - dd


def _erfc_nonnegative(z: np.ndarray) -> np.ndarray:
    """``erfc(z)`` for ``z >= 0`` (float64)."""
    t, series = _erfc_series(z)
    return t * np.exp(series) * _exp_neg_square(np.minimum(z, 28.0), 1.0)  # erfc(28) underflows to 0


def _exp_neg_square(z: np.ndarray, c: float) -> np.ndarray:
    """``exp(-c z**2)`` for ``c`` 1 or 1/2, with the rounding error of ``z**2`` put back: where
    ``z**2`` is in the hundreds, that error alone would cost a relative 1e-13."""
    split = z * 134217729.0  # Veltkamp: z == high + low, 26 bits each, so high * high is exact
    high = split - (split - z)
    low = z - high
    square = z * z
    error = ((high * high - square) + 2.0 * high * low) + low * low
    return np.exp(-c * square) * (1.0 - c * error)


def _normal_tail(a: np.ndarray) -> np.ndarray:
    """``Phi(-a) = erfcx(a / sqrt 2) exp(-a**2 / 2) / 2`` for ``a >= 0``: the square is taken of
    ``a`` itself, since rounding ``a / sqrt 2`` would cost a relative ``a**2`` ulp (float64)."""
    a = np.minimum(a, 40.0)  # Phi(-40) underflows to 0
    return 0.5 * _erfcx_nonnegative(a * _SQRT_HALF) * _exp_neg_square(a, 0.5)


def _erfcx_nonnegative(z: np.ndarray) -> np.ndarray:
    """The scaled ``erfcx(z) = exp(z**2) erfc(z)`` for ``z >= 0``: no underflow (float64)."""
    t, series = _erfc_series(z)
    return t * np.exp(series)


def _erfc_impl(x: Any) -> np.ndarray:
    x = _float(x)
    z = np.abs(x.astype(np.float64))
    tail = _erfc_nonnegative(z)
    return np.where(x >= 0, tail, 2.0 - tail).astype(x.dtype)


def _erf_impl(x: Any) -> np.ndarray:
    x = _float(x)
    x64 = x.astype(np.float64)
    small = np.abs(x64) < 0.5
    x2 = x64 * x64
    with np.errstate(all="ignore"):  # the series overflows at infinities, where it is not used
        series = np.polyval(_ERF_MACLAURIN[::-1], x2) * x64
    tail = 1.0 - _erfc_nonnegative(np.abs(x64))
    return np.where(small, series, np.copysign(tail, x64)).astype(x.dtype)


def _ndtr_impl(x: Any) -> np.ndarray:
    x = _float(x)
    half_tail = _normal_tail(np.abs(x.astype(np.float64)))
    return np.where(x >= 0, 1.0 - half_tail, half_tail).astype(x.dtype)


def _gaussian(g: Any, x: Any, scale: float, width: float) -> Any:
    """``g * scale * exp(-x**2 / width)``: the derivative of erf, erfc and ndtr."""
    return multiply(g, multiply(scale, exp(negative(square(x)) / width)))


_erf_p = elementwise_primitive("erf", _erf_impl)
_erfc_p = elementwise_primitive("erfc", _erfc_impl)
_ndtr_p = elementwise_primitive("ndtr", _ndtr_impl)
def_elementwise(_erf_p, lambda g, ans, x: _gaussian(g, x, _TWO_OVER_SQRT_PI, 1.0))
def_elementwise(_erfc_p, lambda g, ans, x: _gaussian(g, x, -_TWO_OVER_SQRT_PI, 1.0))
def_elementwise(_ndtr_p, lambda g, ans, x: _gaussian(g, x, _INV_SQRT_2PI, 2.0))

erf = _public(_erf_p, """The error function ``2/sqrt(pi) * integral_0^x exp(-t**2) dt``.

>>> import numpy as np
>>> from funcnn.scipy.special import erf
>>> erf(np.array([0.0, 0.5, 3.0])).round(6)
array([0.      , 0.5205  , 0.999978])
""")
erfc = _public(_erfc_p, """The complementary error function ``1 - erf(x)``, accurate in the upper tail.

>>> import numpy as np
>>> from funcnn.scipy.special import erfc
>>> float(erfc(np.array(10.0)))
2.088487583762545e-45
""")
ndtr = _public(_ndtr_p, """The standard normal CDF ``Phi(x)``, accurate in both tails.

>>> import numpy as np
>>> from funcnn.scipy.special import ndtr
>>> ndtr(np.array([-1.0, 0.0, 1.0])).round(6)
array([0.158655, 0.5     , 0.841345])
""")


# === Gamma family: gammaln, digamma and (privately) polygamma ==================================
#
# All three rest on the Hurwitz zeta function zeta(s, a) = sum_k (a + k)**-s, summed term by term
# until a + k >= 20 and finished by the Euler-Maclaurin formula. gammaln is a Taylor series about
# 2 (coefficients zeta(k, 2)) on [1.5, 2.5), reached by exact recurrences, and Stirling's series
# from 10 on; digamma is that series' derivative, the same recurrences and its own asymptotic
# series, and a Taylor series about its positive root, where the recurrences would cancel.
# Negative arguments use the reflection formulas, with sin(pi x) reduced exactly.

# Bernoulli numbers B_2, B_4, ..., B_20.
_BERNOULLI = (1 / 6, -1 / 30, 1 / 42, -1 / 30, 5 / 66, -691 / 2730, 7 / 6, -3617 / 510, 43867 / 798,
              -174611 / 330)
_EULER_GAMMA = 0.5772156649015329
_HALF_LOG_2PI = 0.9189385332046728
_LOG_PI = 1.1447298858494002
_ZETA_SHIFT = 20.0


def _hurwitz_zeta(s: int, a: np.ndarray) -> np.ndarray:
    """``zeta(s, a)`` for an integer ``s >= 2`` and ``a > 0`` (float64; ``inf`` at ``a = 0``)."""
    total = np.zeros_like(a)
    y = a.copy()
    for _ in range(int(_ZETA_SHIFT)):
        near = y < _ZETA_SHIFT
        total += np.where(near, y ** -s, 0.0)
        y = np.where(near, y + 1.0, y)
    # Euler-Maclaurin: integral + half the first term + sum_j B_2j / (2j)! (s)_(2j-1) y**(-s-2j+1)
    tail = y ** (1 - s) / (s - 1) + 0.5 * y ** -s
    term = s * y ** (-s - 1.0)
    inverse_square = 1.0 / (y * y)
    for j, b in enumerate(_BERNOULLI, start=1):
        tail += b / math.factorial(2 * j) * term
        term = term * ((s + 2 * j - 1) * (s + 2 * j)) * inverse_square
    return total + tail


def _sinpi_cospi(x: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """``sin(pi x)`` and ``cos(pi x)`` with the argument reduced exactly: zero at the integers."""
    n = np.rint(x)
    r = x - n  # exact, |r| <= 1/2
    sign = 1.0 - 2.0 * np.remainder(n, 2.0)
    return sign * np.sin(np.pi * r), sign * np.sin(np.pi * (0.5 - np.abs(r)))  # 0 at half-integers


# lgamma(2 + z) = (1 - gamma) z + sum_{k >= 2} (-1)**k zeta(k, 2) / k z**k, for |z| <= 1/2.
_LGAMMA2_SERIES = np.array([1.0 - _EULER_GAMMA] + [
    (-1) ** k * float(_hurwitz_zeta(k, np.array(2.0))) / k for k in range(2, 32)])
# Stirling: lgamma(x) = (x - 1/2)(log x - 1) + (log(2 pi) - 1) / 2 + sum_k B_2k / (2k (2k-1) x**(2k-1)).
_STIRLING = np.array([b / ((2 * k) * (2 * k - 1)) for k, b in enumerate(_BERNOULLI[:8], start=1)])


def _polyval(coeffs: np.ndarray, t: np.ndarray) -> np.ndarray:
    """Horner's rule, ``coeffs`` in increasing order of power."""
    acc = np.full_like(t, coeffs[-1])
    for c in coeffs[-2::-1]:
        acc = acc * t + c
    return acc


def _lgamma2(z: np.ndarray) -> np.ndarray:
    """``lgamma(2 + z)`` for ``|z| <= 1/2``, exact in relative terms near ``z = 0``."""
    return z * _polyval(_LGAMMA2_SERIES, z)


def _gammaln_above(x: np.ndarray) -> np.ndarray:
    """``lgamma(x)`` for ``x >= 1.5``: down to [1.5, 2.5) by ``lgamma(x) = log(x - 1) + lgamma(x - 1)``
    below 10 (each step exact), Stirling's series from 10 on."""
    y, product = np.minimum(x, 10.0), np.ones_like(x)
    for _ in range(8):
        step = y >= 2.5
        y = np.where(step, y - 1.0, y)
        product = np.where(step, product * y, product)
    low = np.log(product) + _lgamma2(y - 2.0)
    big = np.maximum(x, 10.0)
    inverse = 1.0 / big
    stirling = (big - 0.5) * (np.log(big) - 1.0) + (_HALF_LOG_2PI - 0.5) + inverse * _polyval(
        _STIRLING, inverse * inverse)
    return np.where(x < 10.0, low, stirling)


def _gammaln_impl(x: Any) -> np.ndarray:
    x = _float(x)
    v = x.astype(np.float64)
    with np.errstate(all="ignore"):
        small = np.where(np.abs(v) < 0.5, v, 0.25)  # lgamma(v) = lgamma(2 + v) - log(1 + v) - log|v|
        near_one = np.clip(v - 1.0, -0.5, 0.5)  # lgamma(1 + z) = lgamma(2 + z) - log(1 + z)
        sin, _ = _sinpi_cospi(np.where(v <= -0.5, v, 0.5))
        out = np.select(
            [np.abs(v) < 0.5, (v >= 0.5) & (v < 1.5), v >= 1.5, v == -np.inf],
            [_lgamma2(small) - np.log1p(small) - np.log(np.abs(small)),
             _lgamma2(near_one) - np.log1p(near_one),
             _gammaln_above(np.maximum(v, 1.5)),
             -np.inf],  # as SciPy
            # reflection: lgamma(x) = log(pi / |sin(pi x)|) - lgamma(1 - x)
            _LOG_PI - np.log(np.abs(sin)) - _gammaln_above(np.maximum(1.0 - v, 1.5)))
        out = np.where(np.isnan(v), v, out)
    return out.astype(x.dtype)


# Taylor series of digamma about its positive root x0: psi(x0 + h) = sum_k (-1)**(k+1) zeta(k+1, x0) h**k.
_DIGAMMA_ROOT = fractions.Fraction("1.4616321449683623412626595423257213284681962040064463512959884086")
_ROOT_HI = float(_DIGAMMA_ROOT)
_ROOT_LO = float(_DIGAMMA_ROOT - fractions.Fraction(_ROOT_HI))
_ROOT_SERIES = np.array([(-1) ** (k + 1) * float(_hurwitz_zeta(k + 1, np.array(_ROOT_HI))) for k in range(1, 28)])
# psi(2 + z) = d/dz lgamma(2 + z), for |z| <= 1/2.
_DIGAMMA2_SERIES = _LGAMMA2_SERIES * np.arange(1, len(_LGAMMA2_SERIES) + 1)
# Asymptotic series: psi(x) = log x - 1/(2x) - sum_k B_2k / (2k x**2k).
_DIGAMMA_ASYMPTOTIC = np.array([b / (2 * k) for k, b in enumerate(_BERNOULLI[:9], start=1)])


def _digamma_positive(x: np.ndarray) -> np.ndarray:
    """``psi(x)`` for ``x > 0``: its series about 2 on [1.5, 2.5), reached by exact steps down
    (``psi(x) = psi(x - 1) + 1/(x - 1)``, all terms positive) or by at most two steps up; the
    asymptotic series from 10 on; the series about the root near it."""
    y, total = np.minimum(x, 10.0), np.zeros_like(x)
    for _ in range(8):
        step = y >= 2.5
        y = np.where(step, y - 1.0, y)
        total += np.where(step, 1.0 / y, 0.0)
    for _ in range(2):
        step = y < 1.5
        total -= np.where(step, 1.0 / y, 0.0)
        y = np.where(step, y + 1.0, y)
    near = _polyval(_DIGAMMA2_SERIES, y - 2.0) + total
    big = np.maximum(x, 10.0)
    inverse_square = 1.0 / (big * big)
    far = np.log(big) - 0.5 / big - inverse_square * _polyval(_DIGAMMA_ASYMPTOTIC, inverse_square)
    h = np.clip(x - _ROOT_HI, -0.25, 0.25) - _ROOT_LO  # x - _ROOT_HI is exact here
    root = h * _polyval(_ROOT_SERIES, h)
    return np.where(np.abs(x - _ROOT_HI) <= 0.25, root, np.where(x < 10.0, near, far))


def _digamma_impl(x: Any) -> np.ndarray:
    x = _float(x)
    v = x.astype(np.float64)
    with np.errstate(all="ignore"):
        positive = _digamma_positive(np.where(v > 0, v, 1.0 - v))
        sin, cos = _sinpi_cospi(v)
        reflected = positive - np.pi * cos / sin  # psi(x) = psi(1 - x) - pi cot(pi x)
        out = np.where(v > 0, positive, reflected)
        out = np.where((v < 0) & (v == np.rint(v)), np.nan, out)  # poles at negative integers (and -inf): NaN
        out = np.where(v == 0, np.copysign(np.inf, -v), out)  # -inf at +0, inf at -0
    return out.astype(x.dtype)


@functools.lru_cache(maxsize=None)
def _cot_derivative(n: int) -> np.ndarray:
    """Coefficients of ``P_n`` with ``d^n/du^n cot(u) = P_n(cot u)``: ``P_(k+1) = -(1 + c**2) P_k'``."""
    poly = np.array([0.0, 1.0])
    for _ in range(n):
        poly = -np.polynomial.polynomial.polymul([1.0, 0.0, 1.0], np.polynomial.polynomial.polyder(poly))
    return poly


def _polygamma_impl(x: Any, *, n: int) -> np.ndarray:
    """``psi^(n)(x) = (-1)**(n+1) n! zeta(n + 1, x)``, reflected for ``x <= 0``:
    ``psi^(n)(x) = (-1)**n psi^(n)(1 - x) - pi**(n+1) P_n(cot(pi x))``."""
    x = _float(x)
    v = x.astype(np.float64)
    with np.errstate(all="ignore"):
        positive = (-1) ** (n + 1) * math.factorial(n) * _hurwitz_zeta(n + 1, np.where(v > 0, v, 1.0 - v))
        sin, cos = _sinpi_cospi(v)
        cot = np.polynomial.polynomial.polyval(cos / sin, _cot_derivative(n))
        out = np.where(v > 0, positive, (-1) ** n * positive - np.pi ** (n + 1) * cot)
    return out.astype(x.dtype)


_gammaln_p = elementwise_primitive("gammaln", _gammaln_impl)
_digamma_p = elementwise_primitive("digamma", _digamma_impl)
_polygamma_p = elementwise_primitive("polygamma", _polygamma_impl)


def _polygamma(n: int, x: Any) -> Any:
    """The ``n``-th derivative of digamma (``n >= 1``), for the derivative rules: accurate to
    a few ulp for small ``n`` (the Euler-Maclaurin tail loses digits as ``n`` grows past 10)."""
    return _polygamma_p.bind(x, n=n)


def_elementwise(_gammaln_p, lambda g, ans, x: multiply(g, _digamma_p.bind(x)))
def_elementwise(_digamma_p, lambda g, ans, x: multiply(g, _polygamma(1, x)))
def_elementwise(_polygamma_p, lambda g, ans, x, *, n: multiply(g, _polygamma(n + 1, x)))


def gammaln(x: Any) -> Any:
    """``log|Gamma(x)|``, accurate near its zeros at 1 and 2 and for large ``x``.

    ``inf`` at the poles ``0, -1, -2, ...`` and at ``+inf``; ``-inf`` at ``-inf``, as in
    SciPy. The derivative is :func:`digamma` (for negative ``x`` too).

    Parameters
    ----------
    x : array_like of float
        Any shape; float32 stays float32, integers give float64.

    Returns
    -------
    out : ndarray, same shape as ``x``

    Examples
    --------
    >>> import numpy as np
    >>> from funcnn.scipy.special import gammaln
    >>> gammaln(np.array([0.5, 1.0, 10.0, -0.5]))
    array([ 0.57236494,  0.        , 12.80182748,  1.26551212])
    """
    return _gammaln_p.bind(x)


def digamma(x: Any) -> Any:
    """The digamma function ``psi(x) = d/dx log Gamma(x)``.

    NaN at the negative integers; ``-inf`` at ``+0`` and ``+inf`` at ``-0``, as in SciPy.
    Accurate in relative terms near its positive root 1.4616...; near its negative roots
    only in absolute terms. The derivative is the trigamma function ``polygamma(1, x)``.

    Parameters
    ----------
    x : array_like of float
        Any shape; float32 stays float32.

    Returns
    -------
    out : ndarray, same shape as ``x``

    Examples
    --------
    >>> import numpy as np
    >>> from funcnn.scipy.special import digamma
    >>> digamma(np.array([1.0, 0.5, 100.0]))
    array([-0.57721566, -1.96351003,  4.60016185])
    """
    return _digamma_p.bind(x)


# === Logits, entropies and x log y ===========================================================


def _common_float(*args: Any) -> np.dtype:
    dtype = np.result_type(*args)
    return dtype if dtype.kind == "f" else np.dtype(np.float64)


def _logit_impl(p: Any) -> np.ndarray:
    p = _float(p)
    v = p.astype(np.float64)
    with np.errstate(all="ignore"):
        centre = np.log1p((2.0 * v - 1.0) / (1.0 - v))  # 2p - 1 is exact on [1/4, 1]
        low = np.log(v) - np.log1p(-v)
        high = np.log(v / (1.0 - v))  # 1 - p is exact on [1/2, 1]
        out = np.where(v < 0.25, low, np.where(v <= 0.75, centre, high))
    return out.astype(p.dtype)


def _xlogy_impl(x: Any, y: Any) -> np.ndarray:
    dtype = _common_float(x, y)
    with np.errstate(all="ignore"):
        out = np.where((np.asarray(x) == 0) & ~np.isnan(y), 0.0, x * np.log(np.asarray(y, np.float64)))
    return np.asarray(out, dtype)


def _xlog1py_impl(x: Any, y: Any) -> np.ndarray:
    dtype = _common_float(x, y)
    with np.errstate(all="ignore"):
        out = np.where((np.asarray(x) == 0) & ~np.isnan(y), 0.0, x * np.log1p(np.asarray(y, np.float64)))
    return np.asarray(out, dtype)


def _entr_impl(x: Any) -> np.ndarray:
    x = _float(x)
    v = x.astype(np.float64)
    with np.errstate(all="ignore"):
        out = np.where(v > 0, -v * np.log(v), np.where(v == 0, 0.0, -np.inf))
    return np.where(np.isnan(v), v, out).astype(x.dtype)


def _where_zero(x: Any, value: Any, otherwise: Any) -> Any:
    return where(equal(x, 0), value, otherwise)


def _x_over(x: Any, y: Any) -> Any:
    """``x / y``, and 0 where ``x == 0`` (however ``y`` is), with no NaN in any derivative."""
    return _where_zero(x, 0.0, divide(x, _where_zero(x, 1.0, y)))


def _entr_slope(g: Any, x: Any) -> Any:
    """``g * -(1 + log x)`` for ``x >= 0``; 0 where ``x < 0`` (entr is constant there)."""
    inside = greater_equal(x, 0)
    return multiply(g, where(inside, negative(add(1.0, log(where(inside, x, 1.0)))), 0.0))


_logit_p = elementwise_primitive("logit", _logit_impl)
_xlogy_p = elementwise_primitive("xlogy", _xlogy_impl, broadcasts=True)
_xlog1py_p = elementwise_primitive("xlog1py", _xlog1py_impl, broadcasts=True)
_entr_p = elementwise_primitive("entr", _entr_impl)
def_elementwise(_logit_p, lambda g, ans, p: divide(g, multiply(p, subtract(1.0, p))))
def_elementwise(_xlogy_p, lambda g, ans, x, y: multiply(g, log(y)), lambda g, ans, x, y: multiply(g, _x_over(x, y)))
def_elementwise(_xlog1py_p, lambda g, ans, x, y: multiply(g, log1p(y)),
                lambda g, ans, x, y: multiply(g, _x_over(x, add(1.0, y))))
def_elementwise(_entr_p, lambda g, ans, x: _entr_slope(g, x))


def logit(p: Any) -> Any:
    """The log-odds ``log(p / (1 - p))``, inverse of :func:`expit`.

    ``-inf`` at 0, ``inf`` at 1, NaN outside ``[0, 1]``; accurate near 0, 1/2 and 1.
    The derivative is ``1 / (p (1 - p))``.

    Parameters
    ----------
    p : array_like of float
        Probabilities, any shape.

    Returns
    -------
    out : ndarray, same shape as ``p``

    Examples
    --------
    >>> import numpy as np
    >>> from funcnn.scipy.special import logit
    >>> logit(np.array([0.0, 0.25, 0.5, 1.0]))
    array([       -inf, -1.09861229,  0.        ,         inf])
    """
    return _logit_p.bind(p)


def xlogy(x: Any, y: Any) -> Any:
    """``x * log(y)``, defined as 0 where ``x == 0`` (for any ``y`` but NaN), as in SciPy.

    Derivatives: ``d/dx = log(y)`` everywhere (so ``-inf`` at ``y = 0``), and ``d/dy = x / y``
    except ``d/dy = 0`` where ``x == 0``, where the function is constant in ``y``.

    Parameters
    ----------
    x, y : array_like of float
        Broadcast together.

    Returns
    -------
    out : ndarray of the broadcast shape

    Examples
    --------
    >>> import numpy as np
    >>> from funcnn.scipy.special import xlogy
    >>> xlogy(np.array([0.0, 0.0, 2.0]), np.array([0.0, 3.0, np.e]))
    array([0., 0., 2.])
    """
    return _xlogy_p.bind(*_weak(x, y))


def xlog1py(x: Any, y: Any) -> Any:
    """``x * log1p(y)``, defined as 0 where ``x == 0`` (for any ``y`` but NaN), as in SciPy.

    Derivatives: ``d/dx = log1p(y)``; ``d/dy = x / (1 + y)``, and 0 where ``x == 0``.

    Parameters
    ----------
    x, y : array_like of float
        Broadcast together.

    Returns
    -------
    out : ndarray of the broadcast shape

    Examples
    --------
    >>> import numpy as np
    >>> from funcnn.scipy.special import xlog1py
    >>> xlog1py(np.array([0.0, 2.0]), np.array([-1.0, 1e-20]))
    array([0.e+00, 2.e-20])
    """
    return _xlog1py_p.bind(*_weak(x, y))


def entr(x: Any) -> Any:
    """The entropy term ``-x log x``: 0 at 0, ``-inf`` for ``x < 0``, as in SciPy.

    The derivative is ``-(1 + log x)`` (``inf`` at 0) and 0 for ``x < 0``.

    Parameters
    ----------
    x : array_like of float

    Returns
    -------
    out : ndarray, same shape as ``x``

    Examples
    --------
    >>> import numpy as np
    >>> from funcnn.scipy.special import entr
    >>> entr(np.array([0.0, 0.5, 1.0, -1.0]))
    array([ 0.        ,  0.34657359, -0.        ,        -inf])
    """
    return _entr_p.bind(x)


# === Quantiles and the log of the normal CDF ==================================================
#
# erfinv is its Maclaurin series for |y| <= 1/2 (coefficients by the standard recurrence) and,
# beyond, the normal quantile of funcnn.random (rational fits, accurate to a few ulp) at the
# tail probability (1 - |y|) / 2, which is exact there, polished by one Newton step on erfc.
# ndtri is that quantile, polished by one Newton step on ndtr in the tails. log_ndtr uses
# log Phi(x) = log(erfcx(-x / sqrt 2) / 2) - x**2 / 2 for x < 0, so the far tail neither
# underflows nor cancels, and log1p(-Phi(-x)) for x >= 0.


def _erfinv_series(terms: int) -> np.ndarray:
    """Coefficients of ``erfinv(y) = sum_k c_k / (2k + 1) z**(2k + 1)``, ``z = sqrt(pi) y / 2``,
    with ``c_0 = 1`` and ``c_k = sum_m c_m c_(k-1-m) / ((m + 1)(2m + 1))``."""
    c = [1.0]
    for k in range(1, terms):
        c.append(sum(c[m] * c[k - 1 - m] / ((m + 1) * (2 * m + 1)) for m in range(k)))
    return np.array([ck / (2 * k + 1) for k, ck in enumerate(c)])


_ERFINV_SERIES = _erfinv_series(32)
_SQRT_PI_OVER_2 = math.sqrt(math.pi) / 2
_SQRT_2PI = math.sqrt(2 * math.pi)
_SQRT_2_OVER_PI = math.sqrt(2 / math.pi)


def _erfinv_impl(y: Any) -> np.ndarray:
    y = _float(y)
    v = y.astype(np.float64)
    a = np.abs(v)
    with np.errstate(all="ignore"):
        z = _SQRT_PI_OVER_2 * np.minimum(a, 0.5)
        centre = z * _polyval(_ERFINV_SERIES, z * z)
        q = np.where((a > 0.5) & (a < 1.0), 1.0 - a, 0.5)  # exact: 1 - |y| for |y| >= 1/2
        x = -_quantile(0.5 * q) * _SQRT_HALF
        x = x + (_erfc_nonnegative(x) - q) * _SQRT_PI_OVER_2 * np.exp(x * x)  # Newton on erfc(x) = q
        out = np.select([a <= 0.5, a < 1.0, a == 1.0], [centre, x, np.inf], np.nan)
    return np.copysign(out, v).astype(y.dtype)


def _ndtri_impl(p: Any) -> np.ndarray:
    p = _float(p)
    v = p.astype(np.float64)
    with np.errstate(all="ignore"):
        inside = (v > 0.0) & (v < 1.0)
        tail = np.where(inside, np.minimum(v, 1.0 - v), 0.25)  # 1 - p is exact where it is the smaller
        x = _quantile(tail)  # <= 0
        lower = _normal_tail(-x)  # Phi(x), x <= 0
        newton = x + (tail - lower) * _SQRT_2PI * np.exp(0.5 * x * x)  # on Phi(x) = tail
        x = np.where(tail < 0.075, newton, x)  # in the centre Phi's rounding would cost more than it gains
        x = np.where(v > 0.5, -x, x)
        out = np.select([inside, v == 0.0, v == 1.0], [x, -np.inf, np.inf], np.nan)
    return out.astype(p.dtype)


def _log_ndtr_impl(x: Any) -> np.ndarray:
    x = _float(x)
    v = x.astype(np.float64)
    with np.errstate(all="ignore"):
        t = np.where(v < 0, -v * _SQRT_HALF, 0.0)
        lower = np.log(0.5 * _erfcx_nonnegative(t)) - 0.5 * v * v
        upper = np.log1p(-_normal_tail(np.where(v >= 0, v, 0.0)))
        out = np.where(v < 0, lower, np.where(np.isnan(v), v, upper))
    return out.astype(x.dtype)


def _erfcx_impl(x: Any) -> np.ndarray:
    """``exp(x**2) erfc(x)`` for every ``x`` (overflowing to ``inf`` below about -26.6)."""
    x = _float(x)
    v = x.astype(np.float64)
    with np.errstate(all="ignore"):
        tail = _erfcx_nonnegative(np.abs(v))
        out = np.where(v >= 0, tail, 2.0 * np.exp(v * v) - tail)
    return np.where(np.isnan(v), v, out).astype(x.dtype)


def _quantile(p: np.ndarray) -> np.ndarray:
    """The standard normal quantile of float64 ``p`` in ``(0, 1)``, to a few ulp."""
    from funcnn.random._ieee_math import ndtri as quantile

    return quantile(p)


_erfinv_p = elementwise_primitive("erfinv", _erfinv_impl)
_ndtri_p = elementwise_primitive("ndtri", _ndtri_impl)
_log_ndtr_p = elementwise_primitive("log_ndtr", _log_ndtr_impl)
_erfcx_p = elementwise_primitive("erfcx", _erfcx_impl)


def _normal_hazard(x: Any) -> Any:
    """``pdf(x) / cdf(x) = sqrt(2/pi) / erfcx(-x / sqrt 2)`` of the standard normal, the slope of
    log_ndtr. Zero above ``x = 37.5`` (where it is below 1e-305), and ``erfcx`` is never given
    an argument where it overflows, so no derivative of this meets an infinity."""
    hazard = divide(_SQRT_2_OVER_PI, _erfcx_p.bind(maximum(multiply(x, -_SQRT_HALF), -26.5)))
    return where(greater(x, 37.5), 0.0, hazard)


def_elementwise(_erfinv_p, lambda g, ans, y: multiply(g, multiply(_SQRT_PI_OVER_2, exp(square(ans)))))
def_elementwise(_ndtri_p, lambda g, ans, p: multiply(g, multiply(_SQRT_2PI, exp(multiply(0.5, square(ans))))))
def_elementwise(_log_ndtr_p, lambda g, ans, x: multiply(g, _normal_hazard(x)))
def_elementwise(_erfcx_p, lambda g, ans, x: multiply(g, subtract(multiply(multiply(2.0, x), ans), _TWO_OVER_SQRT_PI)))


def erfinv(y: Any) -> Any:
    """The inverse error function: ``erf(erfinv(y)) == y`` on ``[-1, 1]``.

    ``±inf`` at ``±1``, NaN outside ``[-1, 1]``. The derivative is
    ``sqrt(pi) / 2 * exp(erfinv(y)**2)``.

    Parameters
    ----------
    y : array_like of float

    Returns
    -------
    out : ndarray, same shape as ``y``

    Examples
    --------
    >>> import numpy as np
    >>> from funcnn.scipy.special import erfinv
    >>> erfinv(np.array([-1.0, 0.0, 0.5, 0.999999]))
    array([      -inf, 0.        , 0.47693628, 3.45891074])
    """
    return _erfinv_p.bind(y)


def ndtri(p: Any) -> Any:
    """The standard normal quantile, inverse of :func:`ndtr`.

    ``-inf`` at 0, ``inf`` at 1, NaN outside ``[0, 1]``; accurate in both tails down to
    the smallest subnormal. The derivative is ``sqrt(2 pi) * exp(ndtri(p)**2 / 2)``.

    Parameters
    ----------
    p : array_like of float

    Returns
    -------
    out : ndarray, same shape as ``p``

    Examples
    --------
    >>> import numpy as np
    >>> from funcnn.scipy.special import ndtri
    >>> ndtri(np.array([0.0, 0.025, 0.5, 1.0]))
    array([       -inf, -1.95996398,  0.        ,         inf])
    """
    return _ndtri_p.bind(p)


def log_ndtr(x: Any) -> Any:
    """``log(ndtr(x))``, the log of the standard normal CDF, accurate in both tails.

    For very negative ``x`` it is about ``-x**2 / 2`` (no underflow); for large ``x`` about
    ``-ndtr(-x)``. The derivative is ``pdf(x) / cdf(x)``, computed as
    ``sqrt(2 / pi) / erfcx(-x / sqrt(2))``, which neither overflows nor cancels.

    Parameters
    ----------
    x : array_like of float

    Returns
    -------
    out : ndarray, same shape as ``x``

    Examples
    --------
    >>> import numpy as np
    >>> from funcnn.scipy.special import log_ndtr
    >>> log_ndtr(np.array([-40.0, 0.0, 10.0]))
    array([-8.04608442e+02, -6.93147181e-01, -7.61985302e-24])
    """
    return _log_ndtr_p.bind(x)


def _weak(x: Any, y: Any) -> tuple[Any, Any]:
    """The operands of a binary function, with NumPy 1.x's promotion of Python scalars fixed."""
    return weak_scalars((x, y))  # type: ignore[return-value]
