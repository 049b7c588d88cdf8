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
    arange, array, asarray, empty, eye, full, full_like, identity, ones, ones_like, zeros, zeros_like,
)
from funcnn.numpy._elementwise import (
    abs, absolute, add, arctan, around, astype, ceil, clip, cos, cosh, divide, exp, expm1, floor,
    log, log1p, logistic, maximum, minimum, multiply, negative, power, reciprocal, rint, round,
    sign, sin, sinh, sqrt, square, stop_gradient, subtract, tan, tanh, true_divide, trunc, where,
)
from funcnn.numpy._indexing import getitem, scatter_add, take, take_along_axis
from funcnn.numpy._at import at
from funcnn.numpy._linalg import dot, inner, matmul, outer, tensordot, vdot
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
from funcnn.numpy._math import (
    arccos, arccosh, arcsin, arcsinh, arctan2, arctanh, exp2, fabs, floor_divide, fmax, fmin, fmod, hypot,
    log2, log10, logaddexp, logaddexp2, mod, nan_to_num, remainder, select, sinc,
)
from funcnn.numpy._cumulative import cumprod, cumsum, diff
from funcnn.numpy._sorting import argpartition, partition, searchsorted
from funcnn.numpy._matrices import cross, diag, diagonal, kron, trace, tril, triu
from funcnn.numpy import linalg
from funcnn.numpy._arrays import (
    array_split, atleast_1d, atleast_2d, atleast_3d, column_stack, dstack, fliplr, flipud, linspace, roll, rot90,
)
from funcnn.numpy._einsum import einsum

# every public name, listed (not computed) so that type checkers see them: mypy --strict accepts fnp.sum
__all__ = [
    "abs", "absolute", "add", "all", "allclose", "amax", "amin", "any", "arange", "arccos",
    "arccosh", "arcsin", "arcsinh", "arctan", "arctan2", "arctanh", "argmax", "argmin",
    "argpartition", "argsort", "around", "array", "array_equal", "array_split", "asarray", "astype",
    "at", "atleast_1d", "atleast_2d", "atleast_3d", "bool_", "broadcast_to", "ceil", "clip",
    "column_stack", "complex128", "complex64", "concatenate", "cos", "cosh", "cross", "cumprod",
    "cumsum", "diag", "diagonal", "diff", "divide", "dot", "dstack", "dtype", "e", "einsum",
    "empty", "equal", "exp", "exp2", "expand_dims", "expm1", "eye", "fabs", "flip", "fliplr",
    "flipud", "float16", "float32", "float64", "floor", "floor_divide", "fmax", "fmin", "fmod",
    "full", "full_like", "getitem", "greater", "greater_equal", "hstack", "hypot", "identity",
    "inf", "inner", "int16", "int32", "int64", "int8", "isfinite", "isinf", "isnan", "kron", "less",
    "less_equal", "linalg", "linspace", "log", "log10", "log1p", "log2", "logaddexp", "logaddexp2",
    "logical_and", "logical_not", "logical_or", "logical_xor", "logistic", "logsumexp", "matmul",
    "max", "maximum", "mean", "min", "minimum", "mod", "moveaxis", "multiply", "nan", "nan_to_num",
    "ndarray", "ndim", "negative", "newaxis", "not_equal", "ones", "ones_like", "outer", "pad",
    "partition", "pi", "power", "prod", "ravel", "reciprocal", "remainder", "repeat", "reshape",
    "rint", "roll", "rot90", "round", "scatter_add", "searchsorted", "select", "shape", "sign",
    "sin", "sinc", "sinh", "size", "sort", "split", "sqrt", "square", "squeeze", "stack", "std",
    "stop_gradient", "subtract", "sum", "swapaxes", "take", "take_along_axis", "tan", "tanh",
    "tensordot", "tile", "trace", "transpose", "tril", "triu", "true_divide", "trunc", "uint32",
    "uint64", "uint8", "var", "vdot", "vstack", "where", "zeros", "zeros_like"
]

from funcnn.numpy import _tracer_methods  # noqa: E402

_tracer_methods.install()
