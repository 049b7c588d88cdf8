"""The differentiable NumPy namespace: ``import funcnn.numpy as fnp``.

Functions keep NumPy's names and signatures. On plain arrays with no transform active
they return plain ``numpy.ndarray`` results; inside ``grad``, ``jvp`` and the other
transforms they accept traced values and record derivatives.
"""
from numpy import (  # noqa: F401  (dtypes and constants, re-exported for convenience)
    bool_, complex64, complex128, dtype, e, float16, float32, float64, inf, int8, int16, int32,
    int64, nan, ndarray, newaxis, pi, uint8, uint32, uint64,
)

from funcnn.numpy._creation import ndim, shape, size
from funcnn.numpy._creation import (
    arange, array, asarray, empty, eye, full, full_like, identity, linspace, ones, ones_like,
    zeros, zeros_like,
)
from funcnn.numpy._elementwise import (
    abs, absolute, add, arctan, around, astype, ceil, clip, cos, cosh, divide, exp, expm1, floor,
    log, log1p, logistic, maximum, minimum, multiply, negative, power, reciprocal, rint, round,
    sign, sin, sinh, sqrt, square, stop_gradient, subtract, tan, tanh, true_divide, trunc, where,
)
from funcnn.numpy._indexing import getitem, scatter_add, take, take_along_axis
from funcnn.numpy._linalg import dot, einsum, inner, matmul, outer, tensordot, vdot
from funcnn.numpy._logic import (
    allclose, argsort, array_equal, equal, greater, greater_equal, isfinite, isinf,
    isnan, less, less_equal, logical_and, logical_not, logical_or, logical_xor, not_equal, sort,
)
from funcnn.numpy._reductions import (
    all, amax, amin, any, argmax, argmin, logsumexp, max, mean, min, prod, std, sum, var,
)
from funcnn.numpy._shape import (
    broadcast_to, concatenate, expand_dims, flip, hstack, moveaxis, pad, ravel, repeat, reshape,
    split, squeeze, stack, swapaxes, tile, transpose, vstack,
)

__all__ = [name for name in dir() if not name.startswith("_")]

from funcnn.numpy import _tracer_methods  # noqa: E402

_tracer_methods.install()
