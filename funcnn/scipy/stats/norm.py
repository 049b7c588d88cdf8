"""The normal distribution, as ``scipy.stats.norm`` and ``jax.scipy.stats.norm``: functions of
``x`` (or ``q``) with ``loc`` and ``scale``, composed of funcnn ops, so they are differentiable
in all three arguments and work under every transform.

>>> import numpy as np
>>> from funcnn.scipy.stats import norm
>>> norm.cdf(np.array([-1.0, 0.0, 1.0])).round(6)
array([0.158655, 0.5     , 0.841345])
"""
from __future__ import annotations

import math
from typing import Any

import funcnn.numpy as fnp
from funcnn.scipy.special import log_ndtr, ndtr, ndtri

__all__ = ["cdf", "isf", "logcdf", "logpdf", "logsf", "pdf", "ppf", "sf"]

_HALF_LOG_2PI = 0.5 * math.log(2 * math.pi)


def _standard(x: Any, loc: Any, scale: Any) -> Any:
    return fnp.divide(fnp.subtract(x, loc), scale)


def logpdf(x: Any, loc: Any = 0, scale: Any = 1) -> Any:
    """``log pdf(x) = -((x - loc) / scale)**2 / 2 - log(scale) - log(2 pi) / 2``.

    Parameters
    ----------
    x, loc, scale : array_like of float
        Broadcast together; ``scale > 0``.

    Returns
    -------
    out : ndarray of the broadcast shape

    Examples
    --------
    >>> from funcnn.scipy.stats import norm
    >>> round(float(norm.logpdf(1.0, loc=1.0, scale=2.0)), 6)
    -1.612086
    """
    z = _standard(x, loc, scale)
    return fnp.subtract(fnp.multiply(-0.5, fnp.square(z)), fnp.add(fnp.log(scale), _HALF_LOG_2PI))


def pdf(x: Any, loc: Any = 0, scale: Any = 1) -> Any:
    """The density ``exp(logpdf(x, loc, scale))``.

    Examples
    --------
    >>> from funcnn.scipy.stats import norm
    >>> round(float(norm.pdf(0.0)), 6)
    0.398942
    """
    return fnp.exp(logpdf(x, loc, scale))


def cdf(x: Any, loc: Any = 0, scale: Any = 1) -> Any:
    """``P(X <= x) = ndtr((x - loc) / scale)``, accurate in both tails.

    Examples
    --------
    >>> from funcnn.scipy.stats import norm
    >>> round(float(norm.cdf(3.0, loc=1.0, scale=2.0)), 6)
    0.841345
    """
    return ndtr(_standard(x, loc, scale))


def logcdf(x: Any, loc: Any = 0, scale: Any = 1) -> Any:
    """``log P(X <= x) = log_ndtr((x - loc) / scale)``; finite far into the lower tail.

    Examples
    --------
    >>> from funcnn.scipy.stats import norm
    >>> round(float(norm.logcdf(-40.0)), 3)
    -804.608
    """
    return log_ndtr(_standard(x, loc, scale))


def sf(x: Any, loc: Any = 0, scale: Any = 1) -> Any:
    """The survival function ``P(X > x) = ndtr(-(x - loc) / scale)``.

    Examples
    --------
    >>> from funcnn.scipy.stats import norm
    >>> float(norm.sf(10.0))
    7.619853024160527e-24
    """
    return ndtr(fnp.negative(_standard(x, loc, scale)))


def logsf(x: Any, loc: Any = 0, scale: Any = 1) -> Any:
    """``log P(X > x) = log_ndtr(-(x - loc) / scale)``.

    Examples
    --------
    >>> from funcnn.scipy.stats import norm
    >>> round(float(norm.logsf(40.0)), 3)
    -804.608
    """
    return log_ndtr(fnp.negative(_standard(x, loc, scale)))


def ppf(q: Any, loc: Any = 0, scale: Any = 1) -> Any:
    """The quantile (inverse of :func:`cdf`): ``loc + scale * ndtri(q)``.

    Examples
    --------
    >>> from funcnn.scipy.stats import norm
    >>> round(float(norm.ppf(0.975)), 6)
    1.959964
    """
    return fnp.add(loc, fnp.multiply(scale, ndtri(q)))


def isf(q: Any, loc: Any = 0, scale: Any = 1) -> Any:
    """The inverse survival function: ``loc - scale * ndtri(q)``.

    Examples
    --------
    >>> from funcnn.scipy.stats import norm
    >>> round(float(norm.isf(0.025)), 6)
    1.959964
    """
    return fnp.subtract(loc, fnp.multiply(scale, ndtri(q)))
