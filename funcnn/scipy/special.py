"""Special functions with SciPy's names: ``erf``, ``erfc``, ``ndtr`` (the normal CDF) as
primitives, plus ``expit`` and ``logsumexp`` from ``funcnn.numpy``.

NumPy has no ``erf``, so the implementation is written here: ``erfc(z)`` for ``z >= 0`` is
``t * exp(-z**2 + P(t))`` with ``t = 2 / (2 + z)`` and ``P`` a 28-term Chebyshev series
(the form of Numerical Recipes' ``erfccheb``; coefficients fitted for funcnn at 40
digits), accurate to a few ulp of float64 with the tails' relative accuracy kept; ``erf``
uses its Maclaurin series near 0, where ``1 - erfc`` would cancel. The derivatives are the
Gaussian ``2 / sqrt(pi) * exp(-x**2)``, written with funcnn ops so every order works.
"""
from __future__ import annotations

import math
from typing import Any

import numpy as np

from funcnn.extend import def_elementwise
from funcnn.numpy import exp, logistic, logsumexp, multiply, negative, square
from funcnn.numpy._elementwise import _public, elementwise_primitive

__all__ = ["erf", "erfc", "expit", "logsumexp", "ndtr"]

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


def _float(x: Any) -> np.ndarray:
    x = np.asarray(x)
    return x if x.dtype.kind == "f" else x.astype(np.float64)


def _erfc_nonnegative(z: np.ndarray) -> np.ndarray:
    """``erfc(z)`` for ``z >= 0``, by Clenshaw's recurrence on the Chebyshev series (float64)."""
    t = 2.0 / (2.0 + z)
    ty = 4.0 * t - 2.0
    d, dd = np.full_like(z, _ERFC_CHEBYSHEV[-1]), np.zeros_like(z)
    for c in _ERFC_CHEBYSHEV[-2:0:-1]:
        d, dd = ty * d - dd + c, d
    return t * np.exp(-z * z + 0.5 * (_ERFC_CHEBYSHEV[0] + ty * d) - dd)


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
    series = np.polyval(_ERF_MACLAURIN[::-1], x2) * x64
    tail = 1.0 - _erfc_nonnegative(np.abs(x64))
    return np.where(small, series, np.copysign(tail, x64)).astype(x.dtype)


def _ndtr_impl(x: Any) -> np.ndarray:
    x = _float(x)
    z = np.abs(x.astype(np.float64)) / math.sqrt(2.0)
    half_tail = 0.5 * _erfc_nonnegative(z)
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
