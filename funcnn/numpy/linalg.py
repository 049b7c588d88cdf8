"""Differentiable ``numpy.linalg``: ``import funcnn.numpy as fnp; fnp.linalg.solve(a, b)``.

Every function takes NumPy's arguments and maps over leading axes: ``a`` of shape
``(..., m, n)`` is a stack of matrices. Integers and booleans are computed in float64,
float32 stays float32; complex values raise ``TypeError``. A singular matrix raises NumPy's
``LinAlgError`` where NumPy does (``inv``, ``solve``, ``cholesky`` of a matrix that is not
positive definite); ``det`` and ``slogdet`` of one return 0 and ``(0, -inf)`` as NumPy does,
but their derivatives, which go through the inverse, raise.

Derivatives of every order, in both modes, and ``vmap`` work for all of them. Where a
derivative does not exist (repeated eigenvalues or singular values for the vectors, a norm
at zero) the convention is stated in the function's docstring and in docs/linalg.md.
"""
from __future__ import annotations

import math
import operator
from typing import Any, NamedTuple

import numpy as np

from funcnn.extend import dtype_of, ndim_of, shape_of
from funcnn.numpy import _matrices
from funcnn.numpy._creation import as_int, asarray, normalize_axes
from funcnn.numpy._decompositions import (
    cholesky_p, det_p, eigh_p, inv_p, pinv_p, qr_p, slogdet_p, solve_p, svd_p, svdvals_p,
)
from funcnn.numpy._elementwise import abs as _abs
from funcnn.numpy._elementwise import astype, power, square
from funcnn.numpy._linalg import matmul
from funcnn.numpy._logic import not_equal
from funcnn.numpy._matrices import matrix_transpose
from funcnn.numpy._matrix_input import LinAlgError, matrices, real_floats, square_matrices
from funcnn.numpy._reductions import max as _max
from funcnn.numpy._reductions import min as _min
from funcnn.numpy._reductions import root_flat_at_zero
from funcnn.numpy._reductions import sum as _sum
from funcnn.numpy._shape import moveaxis, ravel, reshape

__all__ = [
    "LinAlgError", "cholesky", "det", "eigh", "eigvalsh", "inv", "matrix_power", "matrix_transpose", "norm", "pinv",
    "qr", "slogdet", "solve", "svd", "svdvals", "trace",
]


class SlogdetResult(NamedTuple):
    sign: Any
    logabsdet: Any


class EighResult(NamedTuple):
    eigenvalues: Any
    eigenvectors: Any


class SVDResult(NamedTuple):
    U: Any
    S: Any
    Vh: Any


class QRResult(NamedTuple):
    Q: Any
    R: Any


# --- inverses and determinants ------------------------------------------------------------------


def inv(a: Any) -> Any:
    """The inverse of each matrix: ``a`` of shape (..., n, n), the result too.

    Derivative ``-X dA X`` with ``X = inv(a)``. A singular matrix raises ``LinAlgError``.

    >>> import numpy as np
    >>> inv(np.array([[2.0, 0.0], [0.0, 4.0]]))
    array([[0.5 , 0.  ],
           [0.  , 0.25]])
    """
    return inv_p.bind(square_matrices(a, "inv"))


def solve(a: Any, b: Any) -> Any:
    """The solution ``x`` of ``a @ x = b``: NumPy's ``solve`` semantics.

    a : array, shape (..., n, n). b : array, shape (n,) (one right-hand side for every matrix;
    the result has shape (..., n)) or (..., n, k) (the stacks broadcast; the result has shape
    (broadcast stack, n, k)). A singular ``a`` raises ``LinAlgError``. Reverse mode solves
    with ``a``'s transpose once for both operands.

    >>> import numpy as np
    >>> solve(np.array([[2.0, 0.0], [1.0, 1.0]]), np.array([2.0, 3.0]))
    array([1., 2.])
    """
    a = square_matrices(a, "solve")
    b = real_floats(b, "solve", "b")
    n = shape_of(a)[-1]
    if ndim_of(b) == 1:
        if shape_of(b)[0] != n:
            raise ValueError(f"solve: b of shape {shape_of(b)} does not match a of shape {shape_of(a)} (b must "
                             f"have {n} entries)")
        x = solve_p.bind(a, reshape(b, (n, 1)))
        return reshape(x, shape_of(x)[:-1])
    if ndim_of(b) == 0 or shape_of(b)[-2] != n:
        raise ValueError(f"solve: b of shape {shape_of(b)} does not match a of shape {shape_of(a)}: b must be "
                         f"({n},) or a stack of ({n}, k) matrices")
    try:
        np.broadcast_shapes(shape_of(a)[:-2], shape_of(b)[:-2])
    except ValueError:
        raise ValueError(f"solve: the stacks of a {shape_of(a)} and b {shape_of(b)} do not broadcast") from None
    return solve_p.bind(a, b)


def det(a: Any) -> Any:
    """The determinant of each matrix: ``a`` of shape (..., n, n), the result (...).

    Derivative ``det(a) tr(a^-1 da)``: at a singular matrix the value is 0, as in NumPy, and
    the derivative raises ``LinAlgError`` (it exists, the adjugate, but is not computed).

    >>> import numpy as np
    >>> float(det(np.array([[1.0, 2.0], [3.0, 4.0]])))  # doctest: +ELLIPSIS
    -2.0000000000000...
    """
    return det_p.bind(square_matrices(a, "det"))


def slogdet(a: Any) -> SlogdetResult:
    """The sign and the log of the absolute value of each determinant, ``(sign, logabsdet)``,
    both of shape (...) for ``a`` of shape (..., n, n); ``(0, -inf)`` for a singular matrix.

    ``logabsdet`` has derivative ``tr(a^-1 da)``; ``sign`` is piecewise constant (zero
    derivative).

    >>> import numpy as np
    >>> sign, logabsdet = slogdet(np.array([[0.0, 2.0], [3.0, 0.0]]))
    >>> float(sign), round(float(logabsdet), 6)
    (-1.0, 1.791759)
    """
    sign, logabsdet = slogdet_p.bind(square_matrices(a, "slogdet"))
    return SlogdetResult(sign, logabsdet)


def pinv(a: Any, rcond: Any = None, hermitian: bool = False, *, rtol: Any = None) -> Any:
    """The Moore-Penrose pseudo-inverse of each matrix: ``a`` of shape (..., m, n), the result
    (..., n, m). Singular values below ``rcond`` (or ``rtol``) times the largest count as zero,
    as in NumPy; ``rcond`` and ``rtol`` are Python numbers here.

    The derivative (Golub and Pereyra) is that of a matrix whose rank is constant nearby: it
    is exact for full-rank ``a``, and where small singular values are cut off it treats them
    as exactly zero.

    >>> import numpy as np
    >>> pinv(np.array([[1.0], [1.0]]))
    array([[0.5, 0.5]])
    """
    if rcond is not None and rtol is not None:
        raise ValueError("pinv: give rcond or rtol, not both")
    return pinv_p.bind(matrices(a, "pinv"), rcond=_static_float(rcond, "rcond", "pinv"),
                       rtol=_static_float(rtol, "rtol", "pinv"), hermitian=bool(hermitian))


def matrix_power(a: Any, n: int) -> Any:
    """``a`` raised to the integer power ``n``: repeated squaring with ``matmul``, through ``inv``
    for negative ``n``; the identity for ``n == 0``. ``a`` : shape (..., m, m).

    Integer matrices stay integer for ``n >= 0``, as in NumPy.

    >>> import numpy as np
    >>> matrix_power(np.array([[1.0, 1.0], [0.0, 1.0]]), 3)
    array([[1., 3.],
           [0., 1.]])
    """
    a = asarray(a)
    shape = shape_of(a)
    if len(shape) < 2 or shape[-1] != shape[-2]:
        raise LinAlgError(f"matrix_power: a must be a square matrix or a stack of them, shape (..., m, m); got "
                          f"shape {shape}")
    if dtype_of(a).kind == "c":
        real_floats(a, "matrix_power", "a")  # raises: complex values are not supported
    n = as_int(n, "n (the exponent)", "matrix_power")
    if n == 0:
        return np.broadcast_to(np.eye(shape[-1], dtype=dtype_of(a)), shape).copy()
    if n < 0:
        a, n = inv(a), -n
    result, square_power = None, None
    while n > 0:  # NumPy's order of products, so the values agree bit for bit
        square_power = a if square_power is None else matmul(square_power, square_power)
        n, bit = divmod(n, 2)
        if bit:
            result = square_power if result is None else matmul(result, square_power)
    return result


def trace(x: Any, /, *, offset: int = 0, dtype: Any = None) -> Any:
    """The sum along each matrix's ``offset`` diagonal: ``x`` of shape (..., m, n), the result (...).

    >>> import numpy as np
    >>> trace(np.arange(8.0).reshape(2, 2, 2))
    array([ 3., 11.])
    """
    x = asarray(x)
    if ndim_of(x) < 2:
        raise ValueError(f"trace: x must have at least 2 dimensions; got shape {shape_of(x)}")
    return _matrices.trace(x, offset, -2, -1, dtype)


# --- decompositions --------------------------------------------------------------------------------


def cholesky(a: Any, /, *, upper: bool = False) -> Any:
    """The Cholesky factor of each symmetric positive-definite matrix: ``L`` lower triangular
    with ``a = L @ L.T`` (``U = L.T`` with ``upper=True``). ``a`` : shape (..., n, n).

    As in NumPy only one triangle of ``a`` is read (the lower one, the upper one with
    ``upper=True``), so the derivative is taken with respect to that triangle: the gradient is
    zero on the other. A matrix that is not positive definite raises ``LinAlgError``.

    >>> import numpy as np
    >>> cholesky(np.array([[4.0, 2.0], [2.0, 2.0]]))
    array([[2., 0.],
           [1., 1.]])
    """
    return cholesky_p.bind(square_matrices(a, "cholesky"), upper=bool(upper))


def eigh(a: Any, UPLO: str = "L") -> EighResult:
    """Eigenvalues (ascending, shape (..., n)) and eigenvectors (the columns of an array of
    shape (..., n, n)) of each symmetric matrix of ``a`` (shape (..., n, n)).

    Only the triangle ``UPLO`` ('L' or 'U') of ``a`` is read, as in NumPy, and the derivative
    is taken with respect to that triangle. The eigenvalues are differentiable everywhere
    they are distinct, and their own derivative ignores the eigenvectors. The eigenvectors'
    derivative divides by differences of eigenvalues: near-equal eigenvalues give large
    values, and pairs of exactly equal ones contribute nothing (the right derivative for
    functions of the eigenspace, not of its basis).

    >>> import numpy as np
    >>> w, v = eigh(np.array([[2.0, 1.0], [1.0, 2.0]]))
    >>> w
    array([1., 3.])
    """
    lower = _uplo(UPLO, "eigh")
    w, v = eigh_p.bind(square_matrices(a, "eigh"), lower=lower)
    return EighResult(w, v)


def eigvalsh(a: Any, UPLO: str = "L") -> Any:
    """The eigenvalues of each symmetric matrix, ascending: ``eigh(a, UPLO)[0]``.

    >>> import numpy as np
    >>> eigvalsh(np.array([[2.0, 1.0], [1.0, 2.0]]))
    array([1., 3.])
    """
    return eigh(a, UPLO).eigenvalues


def svd(a: Any, full_matrices: bool = True, compute_uv: bool = True, hermitian: bool = False) -> Any:
    """Singular value decomposition ``a = U @ diag(S) @ Vh`` of each matrix of ``a`` (shape
    (..., m, n)), returned as ``(U, S, Vh)``: shapes (..., m, m), (..., k), (..., n, n) with
    ``k = min(m, n)``, or (..., m, k), (..., k), (..., k, n) with ``full_matrices=False``.
    Only ``S`` with ``compute_uv=False``. ``hermitian`` is accepted for NumPy's signature; the
    general algorithm is used either way.

    Derivatives: ``S`` everywhere (a subgradient at repeated values); ``U`` and ``Vh`` where
    the singular values are distinct (pairs of exactly equal values contribute nothing) and,
    for a non-square ``a``, nonzero; with ``full_matrices=True`` only for square ``a`` (the
    extra vectors of a non-square one are not unique: use ``full_matrices=False``).

    >>> import numpy as np
    >>> svd(np.array([[3.0, 0.0], [0.0, -2.0]]), compute_uv=False)
    array([3., 2.])
    """
    a = matrices(a, "svd")
    if not compute_uv:
        return svdvals_p.bind(a)
    u, s, vh = svd_p.bind(a, full_matrices=bool(full_matrices))
    return SVDResult(u, s, vh)


def svdvals(x: Any, /) -> Any:
    """The singular values of each matrix of ``x`` (shape (..., m, n)), descending, shape
    (..., min(m, n)): ``svd(x, compute_uv=False)``.

    >>> import numpy as np
    >>> svdvals(np.array([[0.0, 2.0], [1.0, 0.0]]))
    array([2., 1.])
    """
    return svdvals_p.bind(matrices(x, "svdvals", "x"))


_QR_MODES = ("reduced", "complete", "r", "raw")


def qr(a: Any, mode: str = "reduced") -> Any:
    """QR decomposition ``a = Q @ R`` of each matrix of ``a`` (shape (..., m, n)), with ``k =
    min(m, n)``: ``(Q, R)`` of shapes (..., m, k) and (..., k, n) for ``mode='reduced'``,
    (..., m, m) and (..., m, n) for ``'complete'``; ``R`` alone for ``'r'``. Derivatives exist
    for ``m >= n`` (and for ``'complete'`` only when square) where ``R`` is invertible.

    >>> import numpy as np
    >>> q, r = qr(np.array([[3.0], [4.0]]))
    >>> r
    array([[-5.]])
    """
    if mode not in _QR_MODES:
        raise ValueError(f"qr: mode must be one of {_QR_MODES[:3]}; got {mode!r}")
    if mode == "raw":
        raise ValueError("qr: mode='raw' (Householder reflectors) is not supported; use 'reduced', 'complete' or "
                         "'r'")
    q, r = qr_p.bind(matrices(a, "qr"), complete=mode == "complete")
    return r if mode == "r" else QRResult(q, r)


# --- norms -----------------------------------------------------------------------------------------


def norm(x: Any, ord: Any = None, axis: Any = None, keepdims: bool = False) -> Any:  # noqa: A002
    """Vector or matrix norm, NumPy's ``norm``.

    x : array. With ``axis`` None, ``x`` is a vector (1-d) or a matrix (2-d); with ``ord`` None
    too, the 2-norm of ``x`` flattened, whatever its shape. ``axis`` : an int (vector norms
    along it) or a pair (matrix norms in that plane, the others a stack). ``keepdims`` keeps
    the reduced axes with size 1.

    Vector ``ord``: None or 2 (Euclidean), ``inf``/``-inf`` (largest/smallest ``|x|``), 0 (number of
    nonzeros, no derivative), any other number ``p`` (``sum(|x|**p)**(1/p)``). Matrix ``ord``:
    None or 'fro' (Frobenius), 'nuc' (sum of singular values), 2/-2 (largest/smallest
    singular value), 1/-1 (largest/smallest column sum of ``|x|``), ``inf``/``-inf`` (row sums).

    At zero the derivative of the 2-norm and of the ``p``-norms is taken as 0 (a subgradient),
    not NaN; ties among the largest (smallest) entries or sums share the gradient equally.

    >>> import numpy as np
    >>> float(norm(np.array([3.0, 4.0]))), float(norm(np.array([[1.0, -2.0], [3.0, 4.0]]), ord=1))
    (5.0, 6.0)
    """
    x = _norm_input(x)
    ndim = ndim_of(x)
    if axis is None:
        if ord is None:
            total = _euclidean(ravel(x), (0,), False)
            return reshape(total, (1,) * ndim) if keepdims else total
        if ndim not in (1, 2):
            raise ValueError(f"norm: improper number of dimensions to norm: ord={ord!r} with axis=None needs a 1-d "
                             f"or 2-d x; got shape {shape_of(x)} (give axis)")
        axes = tuple(range(ndim))
    else:
        if not isinstance(axis, (tuple, list)):
            axis = (axis,)
        if len(axis) not in (1, 2):
            raise ValueError(f"norm: axis must be an int or a pair of ints; got {axis!r}")
        axes = normalize_axes(axis, ndim, "norm", "axis")
    if len(axes) == 1:
        return _vector_norm(x, ord, axes, keepdims)
    return _matrix_norm(x, ord, axes, keepdims)


def _norm_input(x: Any) -> Any:
    """``x`` as floats: integers and booleans in float64, as NumPy's ``norm`` does."""
    x = asarray(x)
    kind = dtype_of(x).kind
    if kind == "c":
        raise TypeError(f"norm: complex values are not supported (x has dtype {dtype_of(x)})")
    if kind in "biu":
        return astype(x, np.float64)
    if kind != "f":
        raise TypeError(f"norm: x must hold numbers; got dtype {dtype_of(x)}")
    return x


def _euclidean(x: Any, axes: tuple, keepdims: bool) -> Any:
    return root_flat_at_zero(_sum(square(x), axis=axes, keepdims=keepdims), 2)


def _vector_norm(x: Any, ord: Any, axes: tuple, keepdims: bool) -> Any:  # noqa: A002
    if ord is None or _is(ord, 2):
        return _euclidean(x, axes, keepdims)
    if isinstance(ord, str) or not _is_number(ord):
        raise ValueError(f"norm: invalid norm order {ord!r} for vectors (use None, an int, a float, inf or -inf)")
    if _is(ord, math.inf):
        return _max(_abs(x), axis=axes, keepdims=keepdims)
    if _is(ord, -math.inf):
        return _min(_abs(x), axis=axes, keepdims=keepdims)
    if _is(ord, 0):
        return _sum(astype(not_equal(x, 0), dtype_of(x)), axis=axes, keepdims=keepdims)
    if _is(ord, 1):
        return _sum(_abs(x), axis=axes, keepdims=keepdims)
    p = float(ord)
    return root_flat_at_zero(_sum(power(_abs(x), p), axis=axes, keepdims=keepdims), p)


def _matrix_norm(x: Any, ord: Any, axes: tuple, keepdims: bool) -> Any:  # noqa: A002
    row, col = axes
    if ord is None or (isinstance(ord, str) and ord == "fro"):
        return _euclidean(x, axes, keepdims)
    if isinstance(ord, str) and ord == "nuc":
        return _keep(_sum(_singular_values(x, row, col), axis=-1), x, axes, keepdims)
    if not isinstance(ord, str) and _is_number(ord):
        if _is(ord, 2) or _is(ord, -2):
            values = _singular_values(x, row, col)
            return _keep(_max(values, axis=-1) if ord > 0 else _min(values, axis=-1), x, axes, keepdims)
        pick = {1: (row, col, _max), -1: (row, col, _min), math.inf: (col, row, _max), -math.inf: (col, row, _min)}
        for value, (summed, picked, extreme) in pick.items():
            if _is(ord, value):
                sums = _sum(_abs(x), axis=summed, keepdims=True)
                return _keep(extreme(sums, axis=picked, keepdims=True), x, axes, keepdims, kept=True)
    raise ValueError(f"norm: invalid norm order {ord!r} for matrices (use None, 'fro', 'nuc', 1, -1, 2, -2, inf or "
                     "-inf)")


def _singular_values(x: Any, row: int, col: int) -> Any:
    return svdvals_p.bind(real_floats(moveaxis(x, (row, col), (-2, -1)), "norm", "x"))


def _keep(result: Any, x: Any, axes: tuple, keepdims: bool, kept: bool = False) -> Any:
    """A matrix norm's result shaped as NumPy's: both axes dropped, or kept with size 1."""
    shape = shape_of(x)
    if keepdims:
        return reshape(result, tuple(1 if i in axes else d for i, d in enumerate(shape)))
    if kept:
        return reshape(result, tuple(d for i, d in enumerate(shape) if i not in axes))
    return result


def _is_number(value: Any) -> bool:
    try:
        operator.index(value)
        return True
    except TypeError:
        pass
    try:
        float(value)
        return True
    except (TypeError, ValueError):
        return False


def _is(ord: Any, value: float) -> bool:  # noqa: A002
    return not isinstance(ord, str) and _is_number(ord) and float(ord) == value


# --- argument checks --------------------------------------------------------------------------------


def _uplo(uplo: Any, fn: str) -> bool:
    """Whether ``UPLO`` names the lower triangle."""
    if not isinstance(uplo, str) or uplo.upper() not in ("L", "U"):
        raise ValueError(f"{fn}: UPLO must be 'L' or 'U'; got {uplo!r}")
    return uplo.upper() == "L"


def _static_float(value: Any, name: str, fn: str) -> float | None:
    """An optional Python float param (it is static: a traced or array value is refused)."""
    if value is None:
        return None
    if isinstance(value, (bool, np.bool_)) or np.ndim(value) != 0:
        raise TypeError(f"{fn}: {name} must be a number (or None); got {value!r}")
    return float(value)
