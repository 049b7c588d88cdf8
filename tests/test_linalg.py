"""funcnn.numpy.linalg and the matrix-structure functions of funcnn.numpy (_matrices.py).

``ROWS`` is a table in the format of test_numpy_grads.py's (name, function, strategy for the
tuple of arrays, NumPy reference[, check_grads options]): joined to that table, each row is
also checked there (values, derivatives to order 2 in both modes, float32 kept), in
test_vmap.py and in test_graph.py. This file runs the rows itself on a few examples, and adds
values against NumPy over shapes and dtypes, derivatives against PyTorch and JAX, vmap, jit,
the conventions at degenerate points and the errors.

Inputs are built well conditioned: diagonally dominant matrices to invert, ``M M^T + n I`` to
factor, and ``Q diag(w) Q^T`` (``U diag(s) V^T``) with eigenvalues (singular values) at least
0.7 apart where eigenvectors (singular vectors) are differentiated. Functions of eigenvectors
and singular vectors are written so as not to depend on their signs.
"""
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import funcnn as fn
import funcnn.numpy as fnp
from funcnn.testing import check_grads
from funcnn.testing.strategies import arrays, shapes

la = fnp.linalg

# --- strategies --------------------------------------------------------------------------------------

STACKS = st.sampled_from([(), (2,), (2, 1)])


def _eye(m, n=None):
    return np.eye(m, n)


def square(build, min_n=1, max_n=4, stacks=STACKS):
    """``build(stack, n, draw-able x of shape stack + (n, n))`` for drawn stacks and sizes."""
    return st.tuples(stacks, st.integers(min_n, max_n)).flatmap(lambda sn: build(*sn))


def dominant(min_n=1, max_n=4, stacks=STACKS):
    """Diagonally dominant matrices: ``X + n I`` with ``|X| <= 0.5``."""
    return square(lambda s, n: arrays(s + (n, n), min_value=-0.5, max_value=0.5).map(lambda x: x + n * _eye(n)),
                  min_n, max_n, stacks)


def positive_definite(min_n=1, max_n=4, stacks=STACKS):
    """``X X^T + n I``."""
    return square(lambda s, n: arrays(s + (n, n), min_value=-1, max_value=1).map(
        lambda x: x @ np.swapaxes(x, -1, -2) + n * _eye(n)), min_n, max_n, stacks)


def _orthonormal(x, m, k):
    return np.linalg.qr(x + 2 * _eye(m, k))[0]


def symmetric_distinct(min_n=1, max_n=4, stacks=STACKS):
    """``Q diag(w) Q^T`` with ``w = 1, 2, ..., n`` (each moved by at most 0.3) and ``Q`` orthogonal."""
    def build(s, n):
        return st.tuples(arrays(s + (n, n), min_value=-1, max_value=1), arrays(s + (n,), min_value=0, max_value=0.3)
                         ).map(lambda t: _with_spectrum(_orthonormal(t[0], n, n), np.arange(1.0, n + 1) + t[1]))
    return square(build, min_n, max_n, stacks)


def _with_spectrum(q, w):
    return (q * w[..., None, :]) @ np.swapaxes(q, -1, -2)


def distinct_singular(m, n, stacks=STACKS):
    """``U diag(s) V^T`` of shape (..., m, n), ``s = k, k - 1, ..., 1`` each moved by at most 0.3."""
    k = min(m, n)

    def build(t):
        x, y, d = t
        u, v = _orthonormal(x, m, k), _orthonormal(y, n, k)
        return (u * (np.arange(k, 0, -1.0) + d)[..., None, :]) @ np.swapaxes(v, -1, -2)
    return stacks.flatmap(lambda s: st.tuples(arrays(s + (m, k), min_value=-1, max_value=1),
                                              arrays(s + (n, k), min_value=-1, max_value=1),
                                              arrays(s + (k,), min_value=0, max_value=0.3)).map(build))


def full_rank(m, n, stacks=STACKS):
    """(..., m, n): ``X`` in [0.2, 1.2] plus twice the identity's first columns (rows), of full rank.

    No entry is zero: NumPy's QR (Householder reflections, as LAPACK's) jumps in sign where a
    column is zero below the diagonal, so finite differences fail there, for NumPy's own values.
    """
    return stacks.flatmap(lambda s: arrays(s + (m, n), min_value=0.2, max_value=1.2).map(lambda x: x + 2 * _eye(m, n)))


def separated(shape):
    """Entries ``+-(x + 3 (i n + j))`` with ``x`` in [0.2, 1]: sums along either axis of a matrix, and
    magnitudes, are far apart (no ties for ``max``/``min``), and no entry is near zero."""
    size = int(np.prod(shape))
    offsets = 3.0 * np.arange(size).reshape(shape)
    signs = np.where(np.arange(size).reshape(shape) % 3 == 1, -1.0, 1.0)
    return arrays(shape, min_value=0.2, max_value=1.0).map(lambda x: signs * (x + offsets))


def one(strategy):
    return st.tuples(strategy)


def with_rhs(matrices_of_n, rhs_shape):
    """``(a, b)``: ``a`` drawn for a size ``n``, ``b`` of shape ``rhs_shape(n)``."""
    return st.integers(1, 4).flatmap(lambda n: st.tuples(matrices_of_n(n), arrays(rhs_shape(n))))


def with_tangent(strategy):
    """``(a, t)``: ``t`` a direction of ``a``'s shape."""
    return strategy.flatmap(lambda a: st.tuples(st.just(a), arrays(a.shape)))


# --- functions whose values do not depend on the signs of eigenvectors and singular vectors -------------


def eigh_parts(a, UPLO="L", eigh=la.eigh):
    """Each eigenvector times its first entry, plus its eigenvalue."""
    w, v = eigh(a, UPLO)
    return v * v[..., :1, :] + w[..., None, :]


def np_eigh_parts(a, UPLO="L"):
    return eigh_parts(a, UPLO, np.linalg.eigh)


def svd_left(u, s, vh):
    """``U`` times the first column of ``V`` (each pair of vectors' signs cancel) plus ``s``."""
    return u * vh[..., :, 0][..., None, :] + s[..., None, :]


def svd_right(u, s, vh):
    return vh * u[..., 0, :][..., :, None]


def qr_both(q, r):
    return np.concatenate([q, r], axis=-2) if isinstance(q, np.ndarray) else fnp.concatenate([q, r], axis=-2)


def mT(x):
    return np.swapaxes(x, -1, -2)


def cholesky_jvp(a, t):
    return fn.jvp(la.cholesky, (a,), (t,))[1]


def _np_cholesky_jvp(a, t):
    """``L Phi(L^-1 dA L^-T)`` with ``dA`` the symmetric matrix of ``t``'s lower triangle."""
    low = np.linalg.cholesky(a)
    d = np.tril(t) + mT(np.tril(t, -1))
    inv = np.linalg.inv(low)
    x = inv @ d @ mT(inv)
    return low @ (np.tril(x, -1) + np.eye(a.shape[-1]) * np.diagonal(x, 0, -2, -1)[..., None, :] / 2)


def eigh_jvp(a, t):
    return fn.jvp(eigh_parts, (a,), (t,))[1]


def _np_eigh_jvp(a, t):
    """With ``M = V^T dA V``: ``dw = diag(M)``, ``dV = V (F o M)``, ``F[i, j] = 1 / (w_j - w_i)``."""
    w, v = np.linalg.eigh(a)
    m = mT(v) @ (np.tril(t) + mT(np.tril(t, -1))) @ v
    gap = w[..., None, :] - w[..., :, None]
    f = np.divide(1.0, gap, out=np.zeros_like(gap), where=gap != 0)
    dw, dv = np.diagonal(m, 0, -2, -1), v @ (f * m)
    return dv * v[..., :1, :] + v * dv[..., :1, :] + dw[..., None, :]


F64 = dict(rtol=1e-12, atol=1e-12)

# (name, function of the drawn arrays, strategy for the tuple of arrays, NumPy reference[, check_grads options])
ROWS = [
    # matrix structure, in funcnn.numpy
    ("diag_vector", lambda v: fnp.diag(v, k=1), one(arrays((3,))), lambda v: np.diag(v, k=1)),
    ("diag_vector_below", lambda v: fnp.diag(v, k=-2), one(arrays((2,))), lambda v: np.diag(v, k=-2)),
    ("diag_matrix", lambda m: fnp.diag(m, k=-1), one(arrays((3, 4))), lambda m: np.diag(m, k=-1)),
    ("diagonal", lambda a: fnp.diagonal(a, 1, 2, 0), one(arrays((3, 2, 4))), lambda a: np.diagonal(a, 1, 2, 0)),
    ("trace", lambda a: fnp.trace(a, -1, 0, 2), one(arrays((3, 2, 4))), lambda a: np.trace(a, -1, 0, 2)),
    ("tril", lambda m: fnp.tril(m, -1), one(arrays(shapes(min_dims=1))), lambda m: np.tril(m, -1)),
    ("triu", lambda m: fnp.triu(m, 1), one(arrays(shapes(min_dims=1))), lambda m: np.triu(m, 1)),
    ("kron", fnp.kron, st.tuples(arrays((2, 3)), arrays((2, 1, 2))), np.kron),
    ("cross", fnp.cross, st.tuples(arrays((2, 3)), arrays((3,))), np.cross),
    ("cross_axes", lambda a, b: fnp.cross(a, b, axisa=0, axisc=0), st.tuples(arrays((3, 2)), arrays((2, 3))),
     lambda a, b: np.cross(a, b, axisa=0, axisc=0)),
    # inverses and determinants
    ("inv", la.inv, one(dominant()), np.linalg.inv),
    ("solve", la.solve, with_rhs(lambda n: dominant(n, n), lambda n: (2, n, 3)), np.linalg.solve),
    ("solve_vector", la.solve, with_rhs(lambda n: dominant(n, n), lambda n: (n,)), np.linalg.solve),
    ("det", la.det, one(dominant()), np.linalg.det),
    ("slogdet", lambda a: (lambda r: r.sign * r.logabsdet)(la.slogdet(a)), one(dominant()),
     lambda a: (lambda r: r.sign * r.logabsdet)(np.linalg.slogdet(a))),
    ("pinv_tall", la.pinv, one(full_rank(3, 2)), np.linalg.pinv),
    ("pinv_wide", la.pinv, one(full_rank(2, 4)), np.linalg.pinv),
    ("matrix_power", lambda a: la.matrix_power(a, 3), one(dominant()), lambda a: np.linalg.matrix_power(a, 3)),
    ("matrix_power_negative", lambda a: la.matrix_power(a, -2), one(dominant()),
     lambda a: np.linalg.matrix_power(a, -2)),
    ("linalg_trace", lambda a: la.trace(a, offset=1), one(arrays((2, 3, 3))), lambda a: np.linalg.trace(a, offset=1)),
    # decompositions
    ("cholesky", la.cholesky, one(positive_definite()), np.linalg.cholesky),
    ("cholesky_upper", lambda a: la.cholesky(a, upper=True), one(positive_definite()),
     lambda a: np.linalg.cholesky(a, upper=True)),
    ("cholesky_jvp", cholesky_jvp, with_tangent(positive_definite(max_n=3)), _np_cholesky_jvp),
    ("eigh", eigh_parts, one(symmetric_distinct()), np_eigh_parts),
    ("eigh_upper", lambda a: eigh_parts(a, "U"),  # the lower triangle is not read
     one(symmetric_distinct().map(lambda a: a + np.tril(np.ones_like(a), -1))), lambda a: np_eigh_parts(a, "U")),
    ("eigh_jvp", eigh_jvp, with_tangent(symmetric_distinct(max_n=3)), _np_eigh_jvp),
    ("eigvalsh", la.eigvalsh, one(symmetric_distinct()), np.linalg.eigvalsh),
    ("svd_tall_left", lambda a: svd_left(*la.svd(a, full_matrices=False)), one(distinct_singular(4, 2)),
     lambda a: svd_left(*np.linalg.svd(a, full_matrices=False))),
    ("svd_tall_right", lambda a: svd_right(*la.svd(a, full_matrices=False)), one(distinct_singular(4, 2)),
     lambda a: svd_right(*np.linalg.svd(a, full_matrices=False))),
    ("svd_wide", lambda a: svd_left(*la.svd(a, full_matrices=False)), one(distinct_singular(2, 3)),
     lambda a: svd_left(*np.linalg.svd(a, full_matrices=False))),
    ("svd_square_full", lambda a: svd_right(*la.svd(a)), one(distinct_singular(3, 3)),
     lambda a: svd_right(*np.linalg.svd(a))),
    ("svdvals", lambda a: la.svd(a, compute_uv=False), one(distinct_singular(3, 2)),
     lambda a: np.linalg.svd(a, compute_uv=False)),
    ("qr", lambda a: qr_both(*la.qr(a)), one(full_rank(4, 3)), lambda a: qr_both(*np.linalg.qr(a))),
    ("qr_complete_square", lambda a: qr_both(*la.qr(a, mode="complete")), one(full_rank(3, 3)),
     lambda a: qr_both(*np.linalg.qr(a, mode="complete"))),
    ("qr_r", lambda a: la.qr(a, mode="r"), one(full_rank(3, 2)), lambda a: np.linalg.qr(a, mode="r")),
    # norms
    ("norm", la.norm, one(arrays(shapes(), min_magnitude=0.2)), np.linalg.norm),
    ("norm_vector_keepdims", lambda x: la.norm(x, axis=-1, keepdims=True), one(arrays((2, 3), min_magnitude=0.2)),
     lambda x: np.linalg.norm(x, axis=-1, keepdims=True)),
    ("norm_vector_p", lambda x: la.norm(x, 3, axis=0), one(arrays((3, 2), min_magnitude=0.2)),
     lambda x: np.linalg.norm(x, 3, axis=0)),
    ("norm_vector_negative_p", lambda x: la.norm(x, -1.5), one(arrays((4,), min_magnitude=0.2)),
     lambda x: np.linalg.norm(x, -1.5)),
    ("norm_vector_1", lambda x: la.norm(x, 1, axis=1), one(arrays((2, 3), min_magnitude=0.2)),
     lambda x: np.linalg.norm(x, 1, axis=1)),
    ("norm_vector_inf", lambda x: la.norm(x, np.inf), one(separated((4,))), lambda x: np.linalg.norm(x, np.inf)),
    ("norm_vector_minus_inf", lambda x: la.norm(x, -np.inf, axis=0), one(separated((3, 2))),
     lambda x: np.linalg.norm(x, -np.inf, axis=0)),
    ("norm_fro", lambda x: la.norm(x, "fro", axis=(2, 0)), one(arrays((2, 3, 3), min_magnitude=0.2)),
     lambda x: np.linalg.norm(x, "fro", axis=(2, 0))),
    ("norm_nuc", lambda x: la.norm(x, "nuc", axis=(-2, -1), keepdims=True), one(distinct_singular(3, 2)),
     lambda x: np.linalg.norm(x, "nuc", axis=(-2, -1), keepdims=True)),
    ("norm_2", lambda x: la.norm(x, 2, axis=(-1, -2)), one(distinct_singular(2, 3)),
     lambda x: np.linalg.norm(x, 2, axis=(-1, -2))),
    ("norm_minus_2", lambda x: la.norm(x, -2, axis=(-2, -1)), one(distinct_singular(3, 3)),
     lambda x: np.linalg.norm(x, -2, axis=(-2, -1))),
    ("norm_1", lambda x: la.norm(x, 1), one(separated((3, 4))), lambda x: np.linalg.norm(x, 1)),
    ("norm_minus_1", lambda x: la.norm(x, -1, keepdims=True), one(separated((3, 2))),
     lambda x: np.linalg.norm(x, -1, keepdims=True)),
    ("norm_inf", lambda x: la.norm(x, np.inf, axis=(1, 0)), one(separated((2, 3))),
     lambda x: np.linalg.norm(x, np.inf, axis=(1, 0))),
    ("norm_minus_inf", lambda x: la.norm(x, -np.inf), one(separated((3, 3))), lambda x: np.linalg.norm(x, -np.inf)),
]


# --- the rows, on a few examples each (test_numpy_grads.py runs them on more) ------------------------------


CASES = [row if len(row) == 5 else row + ({},) for row in ROWS]


@pytest.mark.parametrize("name, f, args, reference, options", CASES, ids=[row[0] for row in CASES])
@settings(max_examples=4, deadline=None)
@given(data=st.data())
def test_value_and_derivatives(name, f, args, reference, options, data):
    drawn = data.draw(args)
    np.testing.assert_allclose(f(*drawn), reference(*drawn), **F64)
    check_grads(f, drawn, order=2, modes=("fwd", "rev"), **options)
    drawn32 = tuple(a.astype(np.float32) for a in drawn)
    assert np.result_type(f(*drawn32)) == np.float32
    check_grads(f, drawn32, order=1, modes=("fwd", "rev"), eps=options.get("eps", 1e-3))


# --- values against NumPy over shapes and dtypes ---------------------------------------------------------

SHAPES = [(1, 1), (3, 3), (2, 4, 4), (2, 1, 3, 3), (0, 2, 2)]
RNG = np.random.default_rng(0)


def _dominant(shape, dtype):
    n = shape[-1]
    return (RNG.uniform(-0.5, 0.5, shape) + n * np.eye(n)).astype(dtype)


def _spd(shape, dtype):
    x = RNG.uniform(-1, 1, shape)
    return (x @ mT(x) + shape[-1] * np.eye(shape[-1])).astype(dtype)


SQUARE_FUNCTIONS = [
    ("inv", la.inv, np.linalg.inv, _dominant),
    ("det", la.det, np.linalg.det, _dominant),
    ("slogdet", la.slogdet, np.linalg.slogdet, _dominant),
    ("cholesky", la.cholesky, np.linalg.cholesky, _spd),
    ("eigh", la.eigh, np.linalg.eigh, _spd),
    ("eigvalsh", la.eigvalsh, np.linalg.eigvalsh, _spd),
    ("svd", la.svd, np.linalg.svd, _dominant),
    ("qr", la.qr, np.linalg.qr, _dominant),
    ("pinv", la.pinv, np.linalg.pinv, _dominant),
    ("matrix_power", lambda a: la.matrix_power(a, -3), lambda a: np.linalg.matrix_power(a, -3), _dominant),
    ("trace", la.trace, np.linalg.trace, _dominant),
    ("norm_nuc", lambda a: la.norm(a, "nuc", axis=(-2, -1)), lambda a: np.linalg.norm(a, "nuc", axis=(-2, -1)),
     _dominant),
]


@pytest.mark.parametrize("name, f, reference, build", SQUARE_FUNCTIONS, ids=[r[0] for r in SQUARE_FUNCTIONS])
@pytest.mark.parametrize("shape", SHAPES, ids=str)
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_values_match_numpy_over_shapes_and_dtypes(name, f, reference, build, shape, dtype):
    a = build(shape, dtype)
    got, want = f(a), reference(a)
    got_leaves = got if isinstance(got, tuple) else (got,)
    want_leaves = want if isinstance(want, tuple) else (want,)
    assert type(got).__name__ == type(want).__name__  # the same named tuples as NumPy's
    tol = dict(rtol=1e-5, atol=1e-5) if dtype == np.float32 else dict(rtol=1e-12, atol=1e-12)
    for g, w in zip(got_leaves, want_leaves):
        assert np.shape(g) == np.shape(w) and np.result_type(g) == np.result_type(w), name
        np.testing.assert_allclose(g, w, **tol)


@pytest.mark.parametrize("shapes", [((3, 3), (3,)), ((2, 3, 3), (3,)), ((2, 3, 3), (3, 2)), ((3, 3), (4, 3, 2)),
                                    ((2, 1, 3, 3), (5, 3, 1)), ((1, 1), (1,))], ids=str)
def test_solve_broadcasts_like_numpy(shapes):
    a = _dominant(shapes[0], np.float64)
    b = RNG.standard_normal(shapes[1])
    np.testing.assert_allclose(la.solve(a, b), np.linalg.solve(a, b), **F64)
    check_grads(la.solve, (a, b), order=1)


def test_integers_become_float64_and_float32_mixes_like_numpy():
    a = np.array([[2, 1], [1, 3]])
    for f in (la.inv, la.det, la.cholesky, la.pinv, lambda a: la.eigh(a)[0], lambda a: la.norm(a, 2), la.norm):
        assert np.result_type(f(a)) == np.float64
    assert la.matrix_power(a, 2).dtype == np.int64  # as NumPy's: no cast for n >= 0
    mixed = la.solve(a.astype(np.float32), np.ones(2))
    assert mixed.dtype == np.linalg.solve(a.astype(np.float32), np.ones(2)).dtype == np.float64


def test_matrix_structure_values_over_shapes_and_dtypes():
    for dtype in (np.float32, np.float64, np.int64):
        x = RNG.integers(-5, 5, (2, 3, 4)).astype(dtype)
        for k in (-2, 0, 1, 5):
            assert np.array_equal(fnp.tril(x, k), np.tril(x, k)) and fnp.tril(x, k).dtype == dtype
            assert np.array_equal(fnp.triu(x, k), np.triu(x, k))
            assert np.array_equal(fnp.diag(x[0], k), np.diag(x[0], k))
            assert np.array_equal(fnp.diag(x[0, 0], k), np.diag(x[0, 0], k))
            assert np.array_equal(fnp.diagonal(x, k, 0, 2), np.diagonal(x, k, 0, 2))
            assert np.array_equal(fnp.trace(x, k, -1, 1), np.trace(x, k, -1, 1))
        assert np.array_equal(fnp.tril(x[0, 0]), np.tril(x[0, 0]))  # 1-d: NumPy makes it square
        assert np.array_equal(fnp.kron(x, x[0, :2]), np.kron(x, x[0, :2]))
        assert np.array_equal(fnp.kron(x[0], 3), np.kron(x[0], 3))
        assert np.array_equal(fnp.cross(x[..., :3], x[0, 0, 1:]), np.cross(x[..., :3], x[0, 0, 1:]))
    assert fnp.trace(np.ones((2, 2), np.int32), dtype=np.float32).dtype == np.float32


def test_cross_of_2_vectors_is_deprecated_as_in_numpy():
    a, b = np.array([1.0, 2.0]), np.array([3.0, 4.0, 5.0])
    with pytest.warns(DeprecationWarning, match="2-dimensional vectors"):
        value = fnp.cross(a, b)
    with pytest.warns(DeprecationWarning):
        expected = np.cross(a, b)
    np.testing.assert_array_equal(value, expected)
    with pytest.warns(DeprecationWarning):
        assert float(fnp.cross(a, a[::-1])) == -3.0


# --- derivatives against PyTorch and JAX ------------------------------------------------------------------


def _torch_cases(torch):
    tl = torch.linalg

    def sym(a):
        return (a + a.mT) / 2

    def t_eigh_parts(a):
        w, v = tl.eigh(a)
        return v * v[..., :1, :] + w[..., None, :]

    def t_svd(a):
        u, s, vh = tl.svd(a, full_matrices=False)
        return u * vh[..., :, 0][..., None, :] + s[..., None, :]

    n = 4
    dom, spd = _dominant((2, n, n), np.float64), _spd((2, n, n), np.float64)
    sym_distinct = _with_spectrum(_orthonormal(RNG.uniform(-1, 1, (2, n, n)), n, n), np.arange(1.0, n + 1))
    rect = RNG.standard_normal((2, 5, 3))
    b = RNG.standard_normal((2, n, 2))
    return [
        ("inv", la.inv, tl.inv, (dom,)),
        ("solve", la.solve, tl.solve, (dom, b)),
        ("det", la.det, tl.det, (dom,)),
        ("slogdet", lambda a: la.slogdet(a)[1], lambda a: tl.slogdet(a)[1], (dom,)),
        ("cholesky", lambda a: la.cholesky((a + fnp.swapaxes(a, -1, -2)) / 2), lambda a: tl.cholesky(sym(a)), (spd,)),
        ("eigh", lambda a: eigh_parts((a + fnp.swapaxes(a, -1, -2)) / 2), lambda a: t_eigh_parts(sym(a)),
         (sym_distinct,)),
        ("svd", lambda a: svd_left(*la.svd(a, full_matrices=False)), t_svd, (rect,)),
        ("qr", lambda a: qr_both(*la.qr(a)), lambda a: torch.cat(tl.qr(a), dim=-2), (rect,)),
        ("pinv", la.pinv, tl.pinv, (rect,)),
        ("matrix_power", lambda a: la.matrix_power(a, -2), lambda a: tl.matrix_power(a, -2), (dom,)),
        ("norm_nuc", lambda a: la.norm(a, "nuc", axis=(-2, -1)), lambda a: tl.matrix_norm(a, "nuc"), (rect,)),
        ("norm_2", lambda a: la.norm(a, 2, axis=(-2, -1)), lambda a: tl.matrix_norm(a, 2), (rect,)),
        ("norm_p", lambda a: la.norm(a, 3, axis=-1), lambda a: tl.vector_norm(a, 3, dim=-1), (rect,)),
    ]


def test_gradients_match_pytorch():
    torch = pytest.importorskip("torch", reason="PyTorch is not installed")
    for name, ours, theirs, args in _torch_cases(torch):
        weight = RNG.standard_normal(np.shape(ours(*args)))
        loss = lambda *a: fnp.sum(ours(*a) * weight)  # noqa: E731
        expected_value = None
        targs = [torch.tensor(a, requires_grad=True) for a in args]
        out = theirs(*targs)
        expected_value = (out * torch.tensor(weight)).sum()
        expected = torch.autograd.grad(expected_value, targs)
        value, grads = fn.value_and_grad(loss, argnums=tuple(range(len(args))))(*args)
        np.testing.assert_allclose(value, expected_value.item(), rtol=1e-10, err_msg=name)
        for g, e in zip(grads, expected):
            np.testing.assert_allclose(g, e.numpy(), rtol=1e-8, atol=1e-10, err_msg=name)


def test_forward_derivatives_match_jax():
    jax = pytest.importorskip("jax", reason="JAX is not installed")
    jax.config.update("jax_enable_x64", True)
    import jax.numpy as jnp

    def j_eigh(a):
        w, v = jnp.linalg.eigh(a)
        return v * v[..., :1, :] + w[..., None, :]

    a = _with_spectrum(_orthonormal(RNG.uniform(-1, 1, (4, 4)), 4, 4), np.arange(1.0, 5))
    rect = RNG.standard_normal((5, 3))
    cases = [
        (eigh_parts, j_eigh, a, mT(RNG.standard_normal((4, 4))) + RNG.standard_normal((4, 4))),
        (lambda x: qr_both(*la.qr(x)), lambda x: jnp.concatenate(jnp.linalg.qr(x), axis=-2), rect, None),
        (lambda x: svd_right(*la.svd(x, full_matrices=False)),
         lambda x: (lambda u, s, vh: vh * u[..., 0, :][..., :, None])(*jnp.linalg.svd(x, full_matrices=False)),
         rect, None),
        (lambda x: la.cholesky(x), jnp.linalg.cholesky, a + 4 * np.eye(4), None),
    ]
    for ours, theirs, x, t in cases:
        if t is None:
            t = RNG.standard_normal(x.shape)
        if ours is eigh_parts or theirs is jnp.linalg.cholesky:
            t = (t + mT(t)) / 2  # JAX differentiates these for symmetric perturbations
        np.testing.assert_allclose(fn.jvp(ours, (x,), (t,))[1], jax.jvp(theirs, (x,), (t,))[1], rtol=1e-8,
                                   atol=1e-10)


# --- vmap and jit ------------------------------------------------------------------------------------------


def _stacked(f, *xs):
    return np.stack([np.asarray(f(*x)) for x in zip(*xs)])


VMAPPED = [
    ("inv", la.inv, _dominant),
    ("det", la.det, _dominant),
    ("cholesky", la.cholesky, _spd),
    ("eigh", eigh_parts, _spd),
    ("svd", lambda a: svd_left(*la.svd(a)), _dominant),
    ("qr", lambda a: qr_both(*la.qr(a)), _dominant),
    ("pinv", la.pinv, _dominant),
    ("slogdet", lambda a: la.slogdet(a)[1], _dominant),
    ("norm_2", lambda a: la.norm(a, 2, axis=(-2, -1)), _dominant),
]


@pytest.mark.parametrize("name, f, build", VMAPPED, ids=[r[0] for r in VMAPPED])
def test_vmap_equals_stacking_with_derivatives(name, f, build):
    batch = build((3, 2, 3, 3), np.float64)  # each example a stack of two matrices
    np.testing.assert_allclose(fn.vmap(f)(batch), _stacked(f, batch), rtol=1e-11, atol=1e-12)
    moved = np.moveaxis(batch, 0, 2)
    np.testing.assert_allclose(fn.vmap(f, in_axes=2)(moved), _stacked(f, batch), rtol=1e-11, atol=1e-12)
    grad = fn.grad(lambda a: fnp.sum(f(a) ** 2))
    np.testing.assert_allclose(fn.vmap(grad)(batch), _stacked(grad, batch), rtol=1e-10, atol=1e-12)
    tangent = lambda a: fn.jvp(f, (a,), (a,))[1]  # noqa: E731
    np.testing.assert_allclose(fn.vmap(tangent)(batch), _stacked(tangent, batch), rtol=1e-10, atol=1e-12)


def test_vmap_of_solve_with_shared_and_batched_operands():
    """Examples of different stack ranks: (2, 4, 4) against (5, 1, 4, 2), batched or shared."""
    a, b = _dominant((3, 2, 4, 4), np.float64), RNG.standard_normal((3, 5, 1, 4, 2))
    value_and_grad = fn.value_and_grad(lambda a, b: fnp.sum(la.solve(a, b) ** 2), argnums=(0, 1))
    for axes in [(0, None), (None, 0), (0, 0), (2, -1)]:
        args = [x if ax is None or ax == 0 else np.moveaxis(x, 0, ax) for x, ax in zip((a, b), axes)]
        args = [x[0] if ax is None else x for x, ax in zip(args, axes)]
        examples = [[x if ax is None else np.take(x, i, axis=ax) for x, ax in zip(args, axes)] for i in range(3)]
        expected = np.stack([np.linalg.solve(*ex) for ex in examples])
        np.testing.assert_allclose(fn.vmap(la.solve, in_axes=axes)(*args), expected, rtol=1e-12)
        got = fn.vmap(value_and_grad, in_axes=axes)(*args)
        want = [value_and_grad(*ex) for ex in examples]
        np.testing.assert_allclose(got[0], [w[0] for w in want], rtol=1e-10)
        for k in range(2):
            np.testing.assert_allclose(got[1][k], np.stack([w[1][k] for w in want]), rtol=1e-10)


def test_jit_equals_eager_forward_and_backward():
    a, spd = _dominant((2, 3, 3), np.float64), _spd((2, 3, 3), np.float64)
    b = RNG.standard_normal((2, 3, 2))

    def loss(a, b, spd):
        w, v = la.eigh(spd)
        u, s, vh = la.svd(a)
        q, r = la.qr(a)
        return (fnp.sum(la.solve(a, b) ** 2) + fnp.sum(la.cholesky(spd)) + fnp.sum(w)
                + fnp.sum(v ** 2 * w[..., None, :]) + fnp.sum(s) + fnp.sum(r ** 2) + fnp.sum(la.slogdet(a)[1])
                + fnp.sum(la.det(a)) + fnp.sum(la.inv(a))
                + la.norm(a, "nuc", axis=(1, 2)).sum() + fnp.sum(la.pinv(a)))

    step = fn.value_and_grad(loss, argnums=(0, 1, 2))
    eager = step(a, b, spd)
    jitted = fn.jit(step)(a, b, spd)
    for x, y in zip(fn.tree_util.tree_leaves(eager), fn.tree_util.tree_leaves(jitted)):
        np.testing.assert_allclose(x, y, rtol=1e-12, atol=1e-12)


def test_eval_shape_of_every_decomposition():
    sd = fn.ShapeDtype((5, 4, 3), np.float32)
    shapes_of = lambda out: [(x.shape, x.dtype) for x in fn.tree_util.tree_leaves(out)]  # noqa: E731
    f32 = np.dtype(np.float32)
    assert shapes_of(fn.eval_shape(lambda a: la.svd(a), sd)) == [((5, 4, 4), f32), ((5, 3), f32), ((5, 3, 3), f32)]
    assert shapes_of(fn.eval_shape(lambda a: la.qr(a), sd)) == [((5, 4, 3), f32), ((5, 3, 3), f32)]
    assert shapes_of(fn.eval_shape(lambda a: la.qr(a, "complete"), sd)) == [((5, 4, 4), f32), ((5, 4, 3), f32)]
    assert shapes_of(fn.eval_shape(la.pinv, sd)) == [((5, 3, 4), f32)]
    square_sd = fn.ShapeDtype((2, 3, 3), np.float64)
    assert shapes_of(fn.eval_shape(la.slogdet, square_sd)) == [((2,), np.dtype(np.float64))] * 2
    assert shapes_of(fn.eval_shape(la.solve, square_sd, fn.ShapeDtype((3,), np.float32))) == [
        ((2, 3), np.dtype(np.float64))]


# --- conventions at degenerate points -----------------------------------------------------------------------


def test_norm_has_zero_derivative_at_zero():
    for f, x in [(la.norm, np.zeros(3)), (lambda x: la.norm(x, 3), np.zeros(3)),
                 (lambda x: la.norm(x, "fro"), np.zeros((2, 2)))]:
        assert np.array_equal(fn.grad(f)(x), np.zeros_like(x))
        assert np.all(np.isfinite(fn.hessian(f)(x)))


def test_eigenvalue_functions_are_differentiable_at_repeated_eigenvalues():
    eye = np.eye(3)
    # sum(w) = trace: its gradient is the identity, read on the lower triangle
    np.testing.assert_array_equal(fn.grad(lambda a: fnp.sum(la.eigh(a)[0]))(eye), eye)
    # sum(w^2) = |A|_F^2 of the symmetric matrix: 2 A on the diagonal, 4 A below it
    a = 2 * eye
    a[2, 0] = a[0, 2] = 0.0
    expected = 2 * a * (2 * np.tri(3) - eye)
    np.testing.assert_allclose(fn.grad(lambda a: fnp.sum(la.eigh(a)[0] ** 2))(a), expected)


def test_eigenspace_projector_is_differentiable_at_repeated_eigenvalues():
    """The projector onto the eigenspace of a repeated eigenvalue does not depend on the chosen
    basis; pairs of equal eigenvalues contribute nothing and the derivative is exact."""
    a = np.diag([1.0, 1.0, 3.0])
    projector = lambda a: (lambda v: v[:, :2] @ fnp.transpose(v[:, :2]))(la.eigh(a)[1])  # noqa: E731
    check_grads(lambda a: projector((a + fnp.transpose(a)) / 2), (a,), order=1)
    assert np.all(np.isfinite(fn.jacrev(projector)(a)))


def test_determinant_derivative_at_a_singular_matrix_raises():
    singular = np.array([[1.0, 2.0], [2.0, 4.0]])
    assert la.det(singular) == 0.0
    with pytest.raises(la.LinAlgError):
        fn.grad(la.det)(singular)


# --- errors ------------------------------------------------------------------------------------------------

SQUARE_ONLY = [la.inv, la.det, la.slogdet, la.cholesky, la.eigh, la.eigvalsh, lambda a: la.matrix_power(a, 2),
               lambda a: la.solve(a, np.ones(2))]


@pytest.mark.parametrize("f", SQUARE_ONLY)
def test_square_matrices_are_required(f):
    with pytest.raises(la.LinAlgError, match="square"):
        f(np.ones((2, 3)))
    with pytest.raises(la.LinAlgError):
        f(np.ones(3))


@pytest.mark.parametrize("f", [la.inv, la.det, la.cholesky, la.eigh, la.svd, la.qr, la.pinv, la.norm, la.svdvals,
                               lambda a: la.solve(a, np.ones(2)), lambda a: la.matrix_power(a, 2)])
def test_complex_values_are_refused(f):
    with pytest.raises(TypeError, match="complex values are not supported"):
        f(np.eye(2) * (1 + 1j))


def test_matrices_with_fewer_than_two_axes_are_refused():
    for f in (la.svd, la.qr, la.pinv, la.svdvals):
        with pytest.raises(la.LinAlgError, match="stack of matrices"):
            f(np.ones(3))


def test_singular_and_indefinite_matrices_raise_numpys_error():
    singular = np.array([[1.0, 2.0], [2.0, 4.0]])
    for f in (la.inv, lambda a: la.solve(a, np.ones(2)), lambda a: la.matrix_power(a, -1)):
        with pytest.raises(np.linalg.LinAlgError, match="Singular"):
            f(singular)
    with pytest.raises(np.linalg.LinAlgError, match="positive definite"):
        la.cholesky(-np.eye(2))
    with pytest.raises(np.linalg.LinAlgError):  # inside a transform too
        fn.grad(lambda a: fnp.sum(la.inv(a)))(singular)


def test_bad_arguments_name_the_function_and_argument():
    x = np.ones((3, 3))
    cases = [
        (lambda: la.norm(np.ones(3), "fro"), ValueError, "norm: invalid norm order 'fro' for vectors"),
        (lambda: la.norm(x, 3), ValueError, "norm: invalid norm order 3 for matrices"),
        (lambda: la.norm(x, "bad", axis=1), ValueError, "invalid norm order 'bad'"),
        (lambda: la.norm(np.ones((2, 2, 2)), 2), ValueError, "improper number of dimensions"),
        (lambda: la.norm(x, axis=(0, 1, 1)), ValueError, "norm: axis must be an int or a pair"),
        (lambda: la.norm(x, axis=(0, 0)), ValueError, "repeated axis"),
        (lambda: la.norm(x, axis=2), np.exceptions.AxisError, "norm: axis=2"),
        (lambda: la.norm(x, axis=1.0), TypeError, "norm: axis must be an integer"),
        (lambda: la.eigh(x, UPLO="X"), ValueError, "eigh: UPLO must be 'L' or 'U'"),
        (lambda: la.qr(x, mode="economic"), ValueError, "qr: mode must be one of"),
        (lambda: la.qr(x, mode="raw"), ValueError, "qr: mode='raw'"),
        (lambda: la.matrix_power(x, 1.5), TypeError, "matrix_power: n"),
        (lambda: la.pinv(x, rcond=np.ones(3)), TypeError, "pinv: rcond must be a number"),
        (lambda: la.pinv(x, rcond=1e-3, rtol=1e-3), ValueError, "pinv: give rcond or rtol"),
        (lambda: la.solve(x, np.ones(4)), ValueError, "solve: b of shape"),
        (lambda: la.solve(x, np.ones((2, 4, 1))), ValueError, "solve: b of shape"),
        (lambda: la.solve(np.ones((2, 3, 3)), np.ones((3, 3, 1))), ValueError, "do not broadcast"),
        (lambda: la.inv(np.eye(2, dtype=np.float16)), TypeError, "float16"),
        (lambda: la.trace(np.ones(3)), ValueError, "trace: x must have at least 2 dimensions"),
        (lambda: fnp.diag(np.ones((2, 2, 2))), ValueError, "diag: v must be 1-d or 2-d"),
        (lambda: fnp.diagonal(np.ones(3)), ValueError, "diagonal: a must have at least 2 dimensions"),
        (lambda: fnp.diagonal(x, 0, 1, -1), ValueError, "axis1 and axis2 must differ"),
        (lambda: fnp.tril(np.float64(1.0)), ValueError, "tril: m must have at least 1 dimension"),
        (lambda: fnp.tril(x, 0.5), TypeError, "tril: k must be an integer"),
        (lambda: fnp.cross(np.ones(4), np.ones(3)), ValueError, "cross: incompatible dimensions"),
    ]
    for call, error, message in cases:
        with pytest.raises(error, match=message.replace("(", r"\(").replace(")", r"\)")):
            call()


def test_derivatives_that_do_not_exist_say_so():
    tall, wide = np.ones((3, 2)) + np.eye(3, 2), np.ones((2, 3)) + np.eye(2, 3)
    with pytest.raises(NotImplementedError, match="full_matrices=False"):
        fn.grad(lambda a: fnp.sum(la.svd(a)[0]))(tall)
    with pytest.raises(NotImplementedError, match="qr: derivatives exist here for m >= n"):
        fn.grad(lambda a: fnp.sum(la.qr(a)[1]))(wide)
    with pytest.raises(NotImplementedError, match="not unique"):
        fn.jvp(lambda a: la.qr(a, "complete")[0], (tall,), (tall,))


def test_numpy_linalg_functions_on_traced_values_route_to_funcnn():
    a, b = np.array([[3.0, 1.0], [1.0, 2.0]]), np.array([1.0, 1.0])
    got = fn.grad(lambda a: np.sum(np.linalg.solve(a, b)))(a)
    np.testing.assert_allclose(got, fn.grad(lambda a: fnp.sum(fnp.linalg.solve(a, b)))(a))
    with pytest.raises(TypeError, match="numpy.linalg.lstsq cannot take a traced value"):
        fn.grad(lambda a: np.sum(np.linalg.lstsq(a, b)[0]))(a)
