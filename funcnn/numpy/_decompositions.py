"""Inverses, determinants and decompositions of stacks of matrices, as primitives.

Each primitive's implementation is NumPy's ``np.linalg`` function, which maps over leading
axes, so a batching rule only brings the batch axis to the front and binds the same
primitive. The derivative rules are written with ``funcnn.numpy`` ops on traced values,
so every order works:

* ``inv``: ``dX = -X dA X``; ``solve``: ``dx = A^-1 (db - dA x)``, its VJP a solve with ``A^T``.
* ``det`` and ``slogdet``: ``d log|det A| = tr(A^-1 dA)``.
* ``cholesky`` (Murray, 2016), ``eigh``, ``svd`` (Townsend, 2016) and ``qr``: the standard
  formulas, derived in the comments of each rule.
* ``pinv``: Golub and Pereyra's derivative, valid where the rank is locally constant.

``cholesky`` and ``eigh`` read one triangle of their operand, as NumPy's do, so they are
differentiated as functions of that triangle: a tangent enters as the symmetric matrix the
triangle stands for, and a cotangent leaves on the triangle (off-diagonal entries count
twice). At repeated eigenvalues (singular values), where eigenvectors (singular vectors)
have no derivative, pairs of exactly equal values contribute nothing (see docs/linalg.md).
"""
from __future__ import annotations

import functools
from typing import Any, Sequence

import numpy as np

from funcnn.extend import (
    Primitive, ShapeDtype, def_abstract_eval, def_batch, def_jvp, def_jvp_joint, def_vjp, def_vjp_rule, dtype_of,
    leading_batch_rule, ndim_of, shape_of, to_front,
)
from funcnn.extend import reshape as engine_reshape
from funcnn.extend import transpose as engine_transpose
from funcnn.numpy._elementwise import add, divide, multiply, negative, subtract
from funcnn.numpy._linalg import matmul
from funcnn.numpy._matrices import diagonal, tril, triu
from funcnn.numpy._reductions import sum as _sum


def _split(shape: Sequence[int]) -> tuple[tuple[int, ...], int, int]:
    """The stack's shape and the matrix sizes ``m``, ``n`` of a shape ``(..., m, n)``."""
    return tuple(shape[:-2]), shape[-2], shape[-1]


# --- helpers: stacks of matrices on the last two axes ---------------------------------------------


def mT(x: Any) -> Any:
    """The transposes of a stack of matrices (the rules use it often: no checks)."""
    n = ndim_of(x)
    return engine_transpose(x, (*range(n - 2), n - 1, n - 2))


def _diag(x: Any) -> Any:
    """The main diagonals, shape (..., k)."""
    return diagonal(x, 0, -2, -1)


def _embed(v: Any) -> Any:
    """Diagonal matrices with ``v`` (shape (..., k)) on their diagonals."""
    k = shape_of(v)[-1]
    return multiply(_col(v), np.eye(k, dtype=dtype_of(v)))


def _row(v: Any) -> Any:
    """Vectors (..., k) as rows (..., 1, k): scales the columns of a matrix."""
    return engine_reshape(v, shape_of(v)[:-1] + (1, shape_of(v)[-1]))


def _col(v: Any) -> Any:
    """Vectors (..., k) as columns (..., k, 1): scales the rows of a matrix."""
    return engine_reshape(v, shape_of(v) + (1,))


def _scalar_per_matrix(x: Any) -> Any:
    """Values (...) as (..., 1, 1), one per matrix of a stack."""
    return engine_reshape(x, shape_of(x) + (1, 1))


def _trace(x: Any) -> Any:
    return _sum(_diag(x), axis=-1)


@functools.lru_cache(maxsize=64)
def _half_diagonal_mask(n: int, dtype: np.dtype, lower: bool) -> np.ndarray:
    """The lower (upper) triangle of ones with halves on the diagonal."""
    mask = np.tri(n, dtype=dtype) - np.eye(n, dtype=dtype) / 2
    mask.flags.writeable = False
    return mask if lower else mask.T


def _phi(x: Any, lower: bool = True) -> Any:
    """The lower (upper) triangle of ``x`` with its diagonal halved: ``Phi`` in Murray (2016)."""
    return multiply(x, _half_diagonal_mask(shape_of(x)[-1], dtype_of(x), lower))


def _symmetric_from(t: Any, lower: bool) -> Any:
    """The symmetric matrices whose lower (upper) triangle is ``t``'s: what NumPy's ``cholesky``
    and ``eigh`` see of their operand."""
    half = _phi(t, lower)
    return add(half, mT(half))


def _onto_triangle(twice_sym: Any, lower: bool) -> Any:
    """The cotangent of ``t`` in ``_symmetric_from(t)`` given ``K + K^T`` for a cotangent ``K`` of
    the symmetric matrix: its triangle, the diagonal counted once and the rest twice."""
    return _phi(twice_sym, lower)


def _one_operand(name: str, impl: Any, *, multiple_results: bool = False) -> Primitive:
    """A primitive of one stack of matrices: ``vmap`` brings the batch axis to the front, one more
    leading axis that ``np.linalg`` maps over."""
    prim = Primitive(name, impl, multiple_results=multiple_results)
    def_batch(prim, leading_batch_rule(prim))
    return prim


# --- inv -------------------------------------------------------------------------------------------

inv_p = _one_operand("inv", np.linalg.inv)
def_abstract_eval(inv_p, lambda a: ShapeDtype(a.shape, a.dtype))
def_jvp(inv_p, lambda t, x, a: negative(matmul(matmul(x, t), x)))
def_vjp(inv_p, lambda x, a: lambda g: negative(matmul(matmul(mT(x), g), mT(x))))


# --- inverse gaps: F[..., i, j] = 1 / (w_j - w_i), and 0 where w_i == w_j ---------------------------
# The factor of the eigenvector (singular vector) derivatives; one primitive, as it is on every
# backward pass of eigh and svd. dF_ij = -F_ij^2 (dw_j - dw_i), zero where F is.


def _inverse_gaps_impl(w: Any) -> np.ndarray:
    w = np.asarray(w)
    gap = w[..., None, :] - w[..., :, None]
    out = np.zeros_like(gap)
    np.divide(1, gap, out=out, where=gap != 0)
    return out


def _inverse_gaps_jvp(t: Any, f: Any, w: Any) -> Any:
    return multiply(negative(multiply(f, f)), subtract(_row(t), _col(t)))


def _inverse_gaps_vjp(f: Any, w: Any) -> Any:
    def vjp(g: Any) -> Any:
        weighted = multiply(g, multiply(f, f))
        return subtract(_sum(weighted, axis=-1), _sum(weighted, axis=-2))
    return vjp


inverse_gaps_p = _one_operand("inverse_gaps", _inverse_gaps_impl)
def_abstract_eval(inverse_gaps_p, lambda w: ShapeDtype(w.shape + w.shape[-1:], w.dtype))
def_jvp(inverse_gaps_p, _inverse_gaps_jvp)
def_vjp(inverse_gaps_p, _inverse_gaps_vjp)


def _gap_reciprocals(w: Any) -> Any:
    return inverse_gaps_p.bind(w)


# --- inverse of a lower triangle: X = inv(tril(L)), dX = -X tril(dL) X ---------------------------------
# By blocks, [[A, 0], [C, B]]^-1 = [[A^-1, 0], [-B^-1 C A^-1, B^-1]]: matrix products do most of the
# work, several times faster than NumPy's general inverse (LU and triangular solves), which is left
# the small diagonal blocks.

_TRIANGLE_BLOCK = 32


def _lower_inverse_impl(low: Any) -> np.ndarray:
    low = np.asarray(low)
    n = low.shape[-1]
    if n <= _TRIANGLE_BLOCK:
        mask = _lower_mask(n, low.dtype)  # np.tril, without its cost on small blocks
        out = np.linalg.inv(low * mask)
        out *= mask  # LU leaves rounding errors above the diagonal
        return out
    h = n // 2
    first, second = _lower_inverse_impl(low[..., :h, :h]), _lower_inverse_impl(low[..., h:, h:])
    out = np.zeros(low.shape, first.dtype)
    out[..., :h, :h] = first
    out[..., h:, h:] = second
    out[..., h:, :h] = -(second @ low[..., h:, :h] @ first)
    return out


@functools.lru_cache(maxsize=64)
def _lower_mask(n: int, dtype: np.dtype) -> np.ndarray:
    mask = np.tri(n, dtype=dtype)
    mask.flags.writeable = False
    return mask


lower_inverse_p = _one_operand("lower_inverse", _lower_inverse_impl)
def_abstract_eval(lower_inverse_p, lambda a: ShapeDtype(a.shape, a.dtype))
def_jvp(lower_inverse_p, lambda t, x, a: negative(matmul(matmul(x, tril(t)), x)))
def_vjp(lower_inverse_p, lambda x, a: lambda g: tril(negative(matmul(matmul(mT(x), g), mT(x)))))


# --- solve: a (..., n, n), b (..., n, k), stacks broadcasting ------------------------------------


def _solve_rule(a: ShapeDtype, b: ShapeDtype) -> ShapeDtype:
    batch = np.broadcast_shapes(a.shape[:-2], b.shape[:-2])
    return ShapeDtype(tuple(batch) + tuple(b.shape[-2:]), np.result_type(a.dtype, b.dtype))


def _solve_vjp_rule(wanted: tuple, a: Any, b: Any) -> tuple[Any, Any]:
    """``x = A^-1 b``: ``b_bar = A^-T g`` and ``A_bar = -b_bar x^T``, one solve for both."""
    x = solve_p.bind(a, b)

    def pullback(g: Any) -> tuple[Any, Any]:
        b_bar = solve_p.bind(mT(a), g)
        return (negative(matmul(b_bar, mT(x))) if wanted[0] else None), (b_bar if wanted[1] else None)

    return x, pullback


def _solve_batch(size: int, args: Sequence[Any], dims: tuple) -> tuple[Any, int]:
    """Both operands with the batch first, their stack axes lined up from the right."""
    moved = [to_front(x, d, size) for x, d in zip(args, dims)]
    lead = max(ndim_of(x) for x in moved)
    lined = []
    for x in moved:
        shape = shape_of(x)
        lined.append(engine_reshape(x, shape[:1] + (1,) * (lead - len(shape)) + shape[1:]))
    return solve_p.bind(*lined), 0


solve_p = Primitive("solve", np.linalg.solve)
def_abstract_eval(solve_p, _solve_rule)
def_jvp(solve_p, lambda t, x, a, b: negative(solve_p.bind(a, matmul(t, x))), lambda t, x, a, b: solve_p.bind(a, t))
def_vjp_rule(solve_p, _solve_vjp_rule)
def_batch(solve_p, _solve_batch)


# --- det and slogdet: d log|det A| = tr(A^-1 dA) ---------------------------------------------------


def _log_det_tangent(t: Any, a: Any) -> Any:
    return _trace(solve_p.bind(a, t))


def _inverse_transposed(a: Any) -> Any:
    """``A^-T``: the gradient of ``log|det A|``. Raises ``LinAlgError`` at a singular ``A``."""
    return mT(inv_p.bind(a))


det_p = _one_operand("det", np.linalg.det)
def_abstract_eval(det_p, lambda a: ShapeDtype(a.shape[:-2], a.dtype))
def_jvp(det_p, lambda t, d, a: multiply(d, _log_det_tangent(t, a)))
def_vjp(det_p, lambda d, a: lambda g: multiply(_scalar_per_matrix(multiply(g, d)), _inverse_transposed(a)))


def _slogdet_jvp(tangents: list, ans: tuple, a: Any) -> tuple[Any, Any]:
    return None, _log_det_tangent(tangents[0], a)  # the sign is piecewise constant


def _slogdet_vjp(ans: tuple, a: Any) -> Any:
    def vjp(g: tuple) -> Any:
        if g[1] is None:
            return None
        return multiply(_scalar_per_matrix(g[1]), _inverse_transposed(a))
    return vjp


slogdet_p = _one_operand("slogdet", lambda a: tuple(np.linalg.slogdet(a)), multiple_results=True)
def_abstract_eval(slogdet_p, lambda a: (ShapeDtype(a.shape[:-2], a.dtype),) * 2)
def_jvp_joint(slogdet_p, _slogdet_jvp)
def_vjp(slogdet_p, _slogdet_vjp)


# --- cholesky: A = L L^T, dL = L Phi(L^-1 dA L^-T) --------------------------------------------------


def _cholesky_jvp(t: Any, factor: Any, a: Any, upper: bool) -> Any:
    low = mT(factor) if upper else factor
    low_inv = lower_inverse_p.bind(low)
    d_low = matmul(low, _phi(matmul(matmul(low_inv, _symmetric_from(t, not upper)), mT(low_inv))))
    return mT(d_low) if upper else d_low


def _cholesky_vjp(factor: Any, a: Any, upper: bool) -> Any:
    """``<L_bar, L Phi(X)> = <Phi(L^T L_bar), X>`` with ``X = L^-1 dA L^-T``, so the cotangent
    of the symmetric matrix is the symmetric part of ``L^-T Phi(L^T L_bar) L^-1``."""
    low = mT(factor) if upper else factor

    def vjp(g: Any) -> Any:
        low_bar = mT(g) if upper else g
        low_inv = lower_inverse_p.bind(low)
        k = matmul(matmul(mT(low_inv), _phi(matmul(mT(low), low_bar))), low_inv)
        return _onto_triangle(add(k, mT(k)), not upper)
    return vjp


cholesky_p = _one_operand("cholesky", lambda a, upper: np.linalg.cholesky(a, upper=upper))
def_abstract_eval(cholesky_p, lambda a, upper: ShapeDtype(a.shape, a.dtype))
def_jvp(cholesky_p, _cholesky_jvp)
def_vjp(cholesky_p, _cholesky_vjp)


# --- eigh: A V = V diag(w) ------------------------------------------------------------------------
# With M = V^T dA V: dw = diag(M) and dV = V (F o M), F[i, j] = 1 / (w_j - w_i) off the diagonal.


def _eigh_impl(a: Any, lower: bool) -> tuple[np.ndarray, np.ndarray]:
    return tuple(np.linalg.eigh(a, UPLO="L" if lower else "U"))  # type: ignore[return-value]


def _eigh_rule(a: ShapeDtype, lower: bool) -> tuple[ShapeDtype, ShapeDtype]:
    return ShapeDtype(a.shape[:-1], a.dtype), ShapeDtype(a.shape, a.dtype)


def _eigh_jvp(tangents: list, ans: tuple, a: Any, lower: bool) -> tuple[Any, Any]:
    w, v = ans
    m = matmul(matmul(mT(v), _symmetric_from(tangents[0], lower)), v)
    return _diag(m), matmul(v, multiply(_gap_reciprocals(w), m))


def _eigh_vjp(ans: tuple, a: Any, lower: bool) -> Any:
    """``A_bar = V (diag(w_bar) + F o (V^T V_bar)) V^T``, symmetrized onto the triangle read."""
    w, v = ans

    def vjp(g: tuple) -> Any:
        w_bar, v_bar = g
        inner = None if w_bar is None else _embed(w_bar)
        if v_bar is not None:
            rotation = multiply(_gap_reciprocals(w), matmul(mT(v), v_bar))
            inner = rotation if inner is None else add(inner, rotation)
        k = matmul(matmul(v, inner), mT(v))
        return _onto_triangle(add(k, mT(k)), lower)
    return vjp


eigh_p = _one_operand("eigh", _eigh_impl, multiple_results=True)
def_abstract_eval(eigh_p, _eigh_rule)
def_jvp_joint(eigh_p, _eigh_jvp)
def_vjp(eigh_p, _eigh_vjp)


# --- svd: A = U diag(s) V^T ------------------------------------------------------------------------
# With P = U^T dA V and F[i, j] = 1 / (s_j^2 - s_i^2) off the diagonal: ds = diag(P),
# U^T dU = F o (P S + S P^T), V^T dV = F o (S P + P^T S), and the parts of dU (dV) outside the
# span of U (V), which exist when A is tall (wide): (I - U U^T) dA V S^-1 ((I - V V^T) dA^T U S^-1).


def _svd_impl(a: Any, full_matrices: bool) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    return tuple(np.linalg.svd(a, full_matrices=full_matrices))  # type: ignore[return-value]


def _svd_rule(a: ShapeDtype, full_matrices: bool) -> tuple[ShapeDtype, ShapeDtype, ShapeDtype]:
    batch, m, n = _split(a.shape)
    k = min(m, n)
    u_cols, v_rows = (m, n) if full_matrices else (k, k)
    return (ShapeDtype(batch + (m, u_cols), a.dtype), ShapeDtype(batch + (k,), a.dtype),
            ShapeDtype(batch + (v_rows, n), a.dtype))


def _svd_derivable(a: Any, full_matrices: bool) -> tuple[int, int, int]:
    _, m, n = _split(shape_of(a))
    if full_matrices and m != n:
        raise NotImplementedError(
            f"svd: no derivative with full_matrices=True for a non-square matrix (shape {shape_of(a)}): the "
            "extra singular vectors are not unique; use full_matrices=False")
    return m, n, min(m, n)


def _svd_jvp(tangents: list, ans: tuple, a: Any, full_matrices: bool) -> tuple[Any, Any, Any]:
    m, n, k = _svd_derivable(a, full_matrices)
    u, s, vh = ans
    v, t = mT(vh), tangents[0]
    t_v = matmul(t, v)
    p = matmul(mT(u), t_v)
    f = _gap_reciprocals(multiply(s, s))
    s_row, s_col = _row(s), _col(s)
    d_u = matmul(u, multiply(f, add(multiply(p, s_row), multiply(s_col, mT(p)))))
    d_v = matmul(v, multiply(f, add(multiply(s_col, p), multiply(mT(p), s_row))))
    if m > k:  # the part of dU outside the span of U
        d_u = add(d_u, divide(subtract(t_v, matmul(u, p)), s_row))
    if n > k:
        d_v = add(d_v, divide(subtract(matmul(mT(t), u), matmul(v, mT(p))), s_row))
    return d_u, _diag(p), mT(d_v)


def _svd_vjp(ans: tuple, a: Any, full_matrices: bool) -> Any:
    """``A_bar = U P_bar V^T`` plus the parts for tall (wide) ``A``, where ``P_bar = diag(s_bar)
    + (J + J^T) S + S (K + K^T)`` with ``J = F o (U^T U_bar)``, ``K = F o (V^T V_bar)``."""
    m, n, k = _svd_derivable(a, full_matrices)
    u, s, vh = ans
    v = mT(vh)

    def vjp(g: tuple) -> Any:
        u_bar, s_bar, vh_bar = g
        f = _gap_reciprocals(multiply(s, s))
        terms = [] if s_bar is None else [_embed(s_bar)]
        outside = []
        if u_bar is not None:
            u_u_bar = matmul(mT(u), u_bar)
            j = multiply(f, u_u_bar)
            terms.append(multiply(add(j, mT(j)), _row(s)))
            if m > k:
                outside.append(matmul(divide(subtract(u_bar, matmul(u, u_u_bar)), _row(s)), vh))
        if vh_bar is not None:
            v_bar = mT(vh_bar)
            v_v_bar = matmul(vh, v_bar)
            kk = multiply(f, v_v_bar)
            terms.append(multiply(_col(s), add(kk, mT(kk))))
            if n > k:
                outside.append(matmul(u, mT(divide(subtract(v_bar, matmul(v, v_v_bar)), _row(s)))))
        total = matmul(matmul(u, functools.reduce(add, terms)), vh)
        return functools.reduce(add, outside, total)
    return vjp


svd_p = _one_operand("svd", _svd_impl, multiple_results=True)
def_abstract_eval(svd_p, _svd_rule)
def_jvp_joint(svd_p, _svd_jvp)
def_vjp(svd_p, _svd_vjp)


# --- singular values alone: ds = diag(U^T dA V), A_bar = U diag(s_bar) V^T -------------------------


def _vectors(a: Any) -> tuple[Any, Any]:
    u, _, vh = svd_p.bind(a, full_matrices=False)
    return u, vh


def _svdvals_jvp(t: Any, s: Any, a: Any) -> Any:
    u, vh = _vectors(a)
    return _sum(multiply(u, matmul(t, mT(vh))), axis=-2)


def _svdvals_vjp(s: Any, a: Any) -> Any:
    u, vh = _vectors(a)
    return lambda g: matmul(multiply(u, _row(g)), vh)


svdvals_p = _one_operand("svdvals", lambda a: np.linalg.svd(a, compute_uv=False))
def_abstract_eval(svdvals_p, lambda a: ShapeDtype(a.shape[:-2] + (min(a.shape[-2:]),), a.dtype))
def_jvp(svdvals_p, _svdvals_jvp)
def_vjp(svdvals_p, _svdvals_vjp)


# --- qr: A = Q R, for m >= n -----------------------------------------------------------------------
# With B = dA R^-1 and X = Q^T B: Q^T dQ = X_low - X_low^T (X_low: X below its diagonal), which is
# antisymmetric, and dR R^-1 = X - (X_low - X_low^T), which is upper triangular. So dR = Y R and
# dQ = B - Q Y with Y = X - X_low + X_low^T.


def _qr_impl(a: Any, complete: bool) -> tuple[np.ndarray, np.ndarray]:
    return tuple(np.linalg.qr(a, mode="complete" if complete else "reduced"))  # type: ignore[return-value]


def _qr_rule(a: ShapeDtype, complete: bool) -> tuple[ShapeDtype, ShapeDtype]:
    batch, m, n = _split(a.shape)
    k = m if complete else min(m, n)
    return ShapeDtype(batch + (m, k), a.dtype), ShapeDtype(batch + (k, n), a.dtype)


def _qr_derivable(a: Any, complete: bool) -> None:
    _, m, n = _split(shape_of(a))
    if m < n or (complete and m != n):
        raise NotImplementedError(
            f"qr: derivatives exist here for m >= n (and mode='reduced' unless square); got shape {shape_of(a)}"
            + (" with mode='complete', whose extra columns of q are not unique" if complete and m > n else ""))


def _times_r_inverse(x: Any, r: Any) -> Any:
    """``x R^-1`` for upper triangular ``R``."""
    return matmul(x, mT(lower_inverse_p.bind(mT(r))))


def _qr_jvp(tangents: list, ans: tuple, a: Any, complete: bool) -> tuple[Any, Any]:
    _qr_derivable(a, complete)
    q, r = ans
    b = _times_r_inverse(tangents[0], r)
    x = matmul(mT(q), b)
    below = tril(x, -1)
    y = add(subtract(x, below), mT(below))
    return subtract(b, matmul(q, y)), matmul(y, r)


def _qr_vjp(ans: tuple, a: Any, complete: bool) -> Any:
    """``A_bar = (Q_bar + Q D) R^-T`` where ``D`` is the symmetric matrix with the upper triangle
    of ``C = R_bar R^T - Q^T Q_bar`` (the adjoint of the map ``X -> Y`` above)."""
    _qr_derivable(a, complete)
    q, r = ans

    def vjp(g: tuple) -> Any:
        q_bar, r_bar = g
        c = None if r_bar is None else matmul(r_bar, mT(r))
        if q_bar is not None:
            q_q_bar = matmul(mT(q), q_bar)
            c = negative(q_q_bar) if c is None else subtract(c, q_q_bar)
        d = add(triu(c), mT(triu(c, 1)))
        total = matmul(q, d) if q_bar is None else add(q_bar, matmul(q, d))
        return matmul(total, lower_inverse_p.bind(mT(r)))  # (Q_bar + Q D) R^-T
    return vjp


qr_p = _one_operand("qr", _qr_impl, multiple_results=True)
def_abstract_eval(qr_p, _qr_rule)
def_jvp_joint(qr_p, _qr_jvp)
def_vjp(qr_p, _qr_vjp)


# --- pinv: where the rank is locally constant (Golub and Pereyra, 1973) ----------------------------
# dX = -X dA X + X X^T dA^T (I - A X) + (I - X A) dA^T X^T X


def _pinv_impl(a: Any, rcond: float | None, rtol: float | None, hermitian: bool) -> np.ndarray:
    if rtol is not None:
        return np.linalg.pinv(a, hermitian=hermitian, rtol=rtol)
    return np.linalg.pinv(a, rcond=rcond, hermitian=hermitian)


def _pinv_jvp(t: Any, x: Any, a: Any, **params: Any) -> Any:
    t_t = mT(t)
    first = negative(matmul(matmul(x, t), x))
    second = matmul(matmul(x, mT(x)), subtract(t_t, matmul(matmul(t_t, a), x)))
    third = matmul(subtract(t_t, matmul(x, matmul(a, t_t))), matmul(mT(x), x))
    return add(add(first, second), third)


def _pinv_vjp(x: Any, a: Any, **params: Any) -> Any:
    def vjp(g: Any) -> Any:
        g_t = mT(g)
        first = negative(matmul(matmul(mT(x), g), mT(x)))
        second = matmul(subtract(g_t, matmul(a, matmul(x, g_t))), matmul(x, mT(x)))
        third = matmul(matmul(mT(x), x), subtract(g_t, matmul(matmul(g_t, x), a)))
        return add(add(first, second), third)
    return vjp


pinv_p = _one_operand("pinv", _pinv_impl)
def_abstract_eval(pinv_p, lambda a, **params: ShapeDtype(a.shape[:-2] + (a.shape[-1], a.shape[-2]), a.dtype))
def_jvp(pinv_p, _pinv_jvp)
def_vjp(pinv_p, _pinv_vjp)
