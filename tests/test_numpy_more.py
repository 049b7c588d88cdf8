"""The functions of funcnn/numpy/_math.py, _cumulative.py, _sorting.py, _arrays.py and _einsum.py.

``ROWS`` joins the op table of test_numpy_grads.py, so each differentiable function is also
checked there (value against NumPy, derivatives to order 2 in both modes against finite
differences, float32 kept), in test_vmap.py (vmap equals stacking, with grad and jvp inside)
and in test_graph.py (a replayed graph equals the eager result bit for bit). This file adds
values against NumPy over dtypes, shapes, axes and special values, derivatives where the
domain is delicate (zeros, infinities, NaN, the ends of a domain), derivatives against JAX
and PyTorch, and vmap and jit for the functions without derivative.
"""
import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

import funcnn as fn
import funcnn.numpy as fnp
from funcnn.testing import check_grads
from funcnn.testing.strategies import arrays, broadcastable_shapes, distinct_arrays, shapes

# --- the rows of the op table ---------------------------------------------------------------------


def one(shape=None, **kw):
    return st.tuples(arrays(shapes() if shape is None else shape, **kw))


def pair(first=None, second=None):
    """Two arrays of broadcastable shapes, with the given value ranges."""
    return broadcastable_shapes(2).flatmap(lambda s: st.tuples(arrays(s[0], **(first or {})),
                                                               arrays(s[1], **(second or {}))))


def quotients():
    """``(x, y)`` with ``|y| >= 0.2`` and ``x / y`` at least 0.1 from an integer, where remainders jump."""
    def build(shape):
        return st.tuples(arrays(shape, min_magnitude=0.2), hnp.arrays(np.int64, shape, elements=st.integers(-3, 3)),
                         arrays(shape, min_value=0.1, max_value=0.9)).map(lambda t: (t[0] * (t[1] + t[2]), t[0]))
    return shapes().flatmap(build)


def with_zeros(shape):
    """Arrays holding zeros among other values (often several)."""
    return hnp.arrays(np.float64, shape, elements=st.sampled_from([0.0, 0.0, 0.5, -1.5, 2.0, 1.25]))


def pattern(shape, k):
    """A fixed boolean mask: every ``k``-th element."""
    return np.arange(math.prod(shape)).reshape(shape) % k == 0


def _sinc_slope(x):
    """The derivative of ``sin(pi x) / (pi x)`` away from 0: ``(cos(pi x) - sinc(x)) / x``."""
    return (np.cos(np.pi * x) - np.sinc(x)) / x


pos = dict(min_value=0.2, max_value=3.0)
away = dict(min_magnitude=0.2)
unit = dict(min_value=-0.7, max_value=0.7)
nd1 = shapes(min_dims=1)
nd2 = shapes(min_dims=2)

# (name, function of the drawn arrays, strategy for the tuple of arrays, NumPy reference[, check_grads options])
ROWS = [
    ("log2", fnp.log2, one(**pos), np.log2),
    ("log10", fnp.log10, one(**pos), np.log10),
    ("exp2", fnp.exp2, one(), np.exp2),
    ("arcsin", fnp.arcsin, one(**unit), np.arcsin),
    ("arccos", fnp.arccos, one(**unit), np.arccos),
    ("arcsinh", fnp.arcsinh, one(), np.arcsinh),
    ("arccosh", fnp.arccosh, one(min_value=1.5, max_value=3.0), np.arccosh),
    ("arctanh", fnp.arctanh, one(**unit), np.arctanh),
    ("arctan2", fnp.arctan2, pair(second=pos), np.arctan2),  # x2 > 0: away from the branch cut
    ("hypot", fnp.hypot, pair(away, away), np.hypot),
    ("sinc", fnp.sinc, one(), np.sinc),  # 0 is drawn often: derivatives of every order are exact there
    ("sinc_slope", lambda x: fn.jvp(fnp.sinc, (x,), (fnp.ones_like(x),))[1], one(**away), _sinc_slope),
    ("fabs", fnp.fabs, one(**away), np.fabs),
    ("fmax", fnp.fmax, st.tuples(distinct_arrays((2, 3)), distinct_arrays((3,))), np.fmax),
    ("fmin", fnp.fmin, st.tuples(distinct_arrays((2, 3)), distinct_arrays((3,))), np.fmin),
    ("logaddexp", fnp.logaddexp, pair(), np.logaddexp),
    ("logaddexp2", fnp.logaddexp2, pair(), np.logaddexp2),
    ("remainder", fnp.remainder, quotients(), np.remainder),
    ("mod_operator", lambda x, y: x % y, quotients(), np.remainder),
    ("fmod", fnp.fmod, quotients(), np.fmod),
    ("nan_to_num", fnp.nan_to_num, one(), np.nan_to_num),
    ("select", lambda x, y: fnp.select([pattern((2, 3), 3), pattern((2, 3), 2)], [x * y, fnp.sin(y)], x),
     st.tuples(arrays((2, 3)), arrays((3,))),
     lambda x, y: np.select([pattern((2, 3), 3), pattern((2, 3), 2)], [x * y, np.sin(y)], x)),
    ("cumsum", lambda x: fnp.cumsum(x, axis=0), one(nd1), lambda x: np.cumsum(x, axis=0)),
    ("cumsum_flat", fnp.cumsum, one(), np.cumsum),
    ("cumprod", lambda x: fnp.cumprod(x, axis=-1), one(nd1), lambda x: np.cumprod(x, axis=-1)),
    ("cumprod_zeros", lambda x: fnp.cumprod(x, axis=1), st.tuples(with_zeros((2, 5))),
     lambda x: np.cumprod(x, axis=1)),
    ("diff", lambda x: fnp.diff(x, n=2, axis=0), one(nd1), lambda x: np.diff(x, n=2, axis=0)),
    ("diff_prepend_append", lambda x, p: fnp.diff(x, axis=1, prepend=p, append=x),
     st.tuples(arrays((2, 3)), arrays((2, 1))), lambda x, p: np.diff(x, axis=1, prepend=p, append=x)),
    ("roll", lambda x: fnp.roll(x, (1, -3), axis=(0, -1)), one(nd1), lambda x: np.roll(x, (1, -3), axis=(0, -1))),
    ("roll_flat", lambda x: fnp.roll(x, 2), one(), lambda x: np.roll(x, 2)),
    ("partition", lambda x: fnp.partition(x, (0, 2), axis=-1), st.tuples(distinct_arrays((2, 4))),
     lambda x: np.partition(x, (0, 2), axis=-1)),
    ("atleast_2d", fnp.atleast_2d, one(), np.atleast_2d),
    ("atleast_3d", fnp.atleast_3d, one(), np.atleast_3d),
    ("dstack", lambda x, y: fnp.dstack([x, y]), st.tuples(arrays((2, 3)), arrays((2, 3))),
     lambda x, y: np.dstack([x, y])),
    ("column_stack", lambda x, y: fnp.column_stack([x, y]), st.tuples(arrays((3,)), arrays((3, 2))),
     lambda x, y: np.column_stack([x, y])),
    ("array_split", lambda x: fnp.concatenate(fnp.array_split(x, 3, axis=1)[::-1], axis=1), one((2, 5)),
     lambda x: np.concatenate(np.array_split(x, 3, axis=1)[::-1], axis=1)),
    ("rot90", lambda x: fnp.rot90(x), one(nd2), np.rot90),
    ("rot90_k3_axes", lambda x: fnp.rot90(x, 3, axes=(-1, 0)), one(nd2), lambda x: np.rot90(x, 3, axes=(-1, 0))),
    ("fliplr", fnp.fliplr, one(nd2), np.fliplr),
    ("flipud", fnp.flipud, one(nd1), np.flipud),
    ("linspace", lambda a, d: fnp.linspace(a, a + d, 5, axis=-1), pair(second=away),
     lambda a, d: np.linspace(a, a + d, 5, axis=-1)),
    ("einsum_sublist", lambda a, b: fnp.einsum(a, [0, 1], b, [1, 2], [0, 2]),
     st.tuples(arrays((2, 3)), arrays((3, 4))), lambda a, b: np.einsum(a, [0, 1], b, [1, 2], [0, 2])),
    ("einsum_sublist_ellipsis", lambda a, b: fnp.einsum(a, [Ellipsis, 0], b, [0]),
     st.tuples(arrays((2, 3)), arrays((3,))), lambda a, b: np.einsum(a, [Ellipsis, 0], b, [0])),
]

# --- values against NumPy: dtypes, shapes and special values ---------------------------------------

UNARY = ["log2", "log10", "exp2", "arcsin", "arccos", "arcsinh", "arccosh", "arctanh", "sinc", "fabs"]
BINARY = ["arctan2", "hypot", "fmax", "fmin", "logaddexp", "logaddexp2", "remainder", "mod", "fmod",
          "floor_divide"]
DTYPES = [np.float16, np.float32, np.float64, np.int8, np.uint8, np.int32, np.int64, np.bool_]
SPECIAL = [0.0, -0.0, 0.5, -0.5, 1.0, -1.0, 2.0, -3.0, 1e-300, 1e300, np.inf, -np.inf, np.nan]


def values(dtype, shape):
    """Arrays of ``dtype`` with special values (signed zeros, the ends of domains, NaN, infinities) mixed in."""
    dtype = np.dtype(dtype)
    if dtype.kind == "f":
        elements = st.one_of(st.sampled_from(SPECIAL), st.floats(-10, 10))
        return hnp.arrays(np.float64, shape, elements=elements).map(lambda a: _cast(a, dtype))
    return hnp.arrays(dtype, shape, elements=hnp.from_dtype(dtype))


def _cast(a, dtype):
    with np.errstate(over="ignore"):  # 1e300 becomes inf in float16 and float32
        return a.astype(dtype)


def assert_same(actual, expected):
    """Same shape, dtype and values (NaN equal to NaN)."""
    actual, expected = np.asarray(actual), np.asarray(expected)
    assert actual.dtype == expected.dtype, f"dtype {actual.dtype} vs {expected.dtype}"
    assert actual.shape == expected.shape, f"shape {actual.shape} vs {expected.shape}"
    np.testing.assert_array_equal(actual, expected)


def same_as_numpy(ours, theirs, *args, **kwargs):
    with np.errstate(all="ignore"):
        try:
            expected = theirs(*args, **kwargs)
        except Exception as err:  # NumPy refuses these arguments: so must we, with the same kind of error
            with pytest.raises(type(err)):
                ours(*args, **kwargs)
            return
        assert_same(ours(*args, **kwargs), expected)


@pytest.mark.parametrize("name", UNARY)
@given(data=st.data())
def test_unary_values_equal_numpy(name, data):
    x = data.draw(st.sampled_from(DTYPES).flatmap(lambda d: values(d, shapes(min_dims=0, max_dims=2, min_side=0))))
    same_as_numpy(getattr(fnp, name), getattr(np, name), x)


@pytest.mark.parametrize("name", BINARY)
@given(data=st.data())
def test_binary_values_equal_numpy(name, data):
    dtypes = data.draw(st.tuples(st.sampled_from(DTYPES), st.sampled_from(DTYPES)))
    s = data.draw(broadcastable_shapes(2, max_dims=2))
    x, y = data.draw(values(dtypes[0], s[0])), data.draw(values(dtypes[1], s[1]))
    same_as_numpy(getattr(fnp, name), getattr(np, name), x, y)
    same_as_numpy(getattr(fnp, name), getattr(np, name), x, 2.5)  # a Python float keeps float32 float32
    same_as_numpy(getattr(fnp, name), getattr(np, name), 3, y)


@pytest.mark.parametrize("x", [np.float32(1.5), 2, 0.25, [1.0, 2.0]])
def test_scalars_and_lists(x):
    for name in UNARY:
        same_as_numpy(getattr(fnp, name), getattr(np, name), x)


@given(x=st.sampled_from([np.float16, np.float32, np.float64, np.int32, np.bool_]).flatmap(
    lambda d: values(d, shapes(max_dims=2, min_side=0))), posinf=st.sampled_from([None, 7.0]),
    nan=st.sampled_from([0.0, -1.0]))
def test_nan_to_num_equals_numpy(x, posinf, nan):
    same_as_numpy(fnp.nan_to_num, np.nan_to_num, x, nan=nan, posinf=posinf, neginf=None if posinf is None else -7.0)


def test_nan_to_num_gradient_flows_to_finite_elements():
    x = np.array([1.0, np.nan, np.inf, -np.inf, -2.0])
    grad = fn.grad(lambda x: fnp.sum(fnp.nan_to_num(x, posinf=5.0, neginf=-5.0) * 3))(x)
    np.testing.assert_array_equal(grad, [3.0, 0.0, 0.0, 0.0, 3.0])


@given(data=st.data())
def test_select_equals_numpy(data):
    s = data.draw(broadcastable_shapes(4, max_dims=2))
    dtype = data.draw(st.sampled_from([np.float32, np.float64, np.int8]))
    conds = [data.draw(hnp.arrays(np.bool_, s[0])), data.draw(hnp.arrays(np.bool_, s[1]))]
    choices = [data.draw(values(dtype, s[2])), data.draw(values(dtype, s[3]))]
    for default in (0, 1.5, np.float64(-2.0)):
        same_as_numpy(fnp.select, np.select, conds, choices, default)


def test_select_gradient_goes_to_the_first_true_choice():
    x = np.array([-2.0, 0.5, 3.0])
    grads = fn.grad(lambda a, b: fnp.sum(fnp.select([x < 0, x < 1], [a, b], default=10 * a)), argnums=(0, 1))(x, x)
    np.testing.assert_array_equal(grads[0], [1.0, 0.0, 10.0])
    np.testing.assert_array_equal(grads[1], [0.0, 1.0, 0.0])
    with pytest.raises(TypeError, match="boolean"):
        fnp.select([x], [x])
    with pytest.raises(ValueError, match="same length"):
        fnp.select([x < 0], [x, x])


# --- elementwise derivatives where the domain is delicate ----------------------------------------


def test_inverse_functions_near_the_ends_of_their_domains():
    x = np.array([-0.999, -0.5, 0.0, 0.999])
    np.testing.assert_allclose(fn.grad(lambda x: fnp.sum(fnp.arcsin(x)))(x), 1 / np.sqrt(1 - x ** 2), rtol=1e-13)
    np.testing.assert_allclose(fn.grad(lambda x: fnp.sum(fnp.arccos(x)))(x), -1 / np.sqrt(1 - x ** 2), rtol=1e-13)
    np.testing.assert_allclose(fn.grad(lambda x: fnp.sum(fnp.arctanh(x)))(x), 1 / (1 - x ** 2), rtol=1e-12)
    z = np.array([1.0 + 1e-9, 1.001, 10.0, 1e10])
    np.testing.assert_allclose(fn.grad(lambda z: fnp.sum(fnp.arccosh(z)))(z),
                               1 / np.sqrt((z - 1) * (z + 1)), rtol=1e-12)
    for f, arg in [(fnp.arcsin, x), (fnp.arccos, x), (fnp.arctanh, x), (fnp.arccosh, z[1:]), (fnp.arcsinh, z)]:
        check_grads(f, (arg,), order=2, eps=1e-7)


def test_hypot_and_arctan2_at_the_origin_have_zero_derivative():
    zero = np.zeros(3)
    for f in (fnp.hypot, fnp.arctan2):
        grads = fn.grad(lambda x, y: fnp.sum(f(x, y)), argnums=(0, 1))(zero, zero)
        np.testing.assert_array_equal(grads, np.zeros((2, 3)))
    big = np.array([1e200, 3e-200])
    np.testing.assert_allclose(fn.grad(lambda x: fnp.sum(fnp.hypot(x, x)))(big), [2 ** 0.5] * 2, rtol=1e-15)


def test_arctan2_in_every_quadrant():
    rng = np.random.default_rng(0)
    y = rng.choice([-1.0, 1.0], 20) * rng.uniform(0.2, 2, 20)
    x = rng.choice([-1.0, 1.0], 20) * rng.uniform(0.2, 2, 20)
    check_grads(fnp.arctan2, (y, x), order=2)


def test_logaddexp_at_infinities_and_large_values():
    x = np.array([-np.inf, -np.inf, np.inf, np.inf, 1000.0, 0.0])
    y = np.array([-np.inf, 0.0, np.inf, 5.0, 1000.0, -800.0])
    for f, base in ((fnp.logaddexp, np.logaddexp), (fnp.logaddexp2, np.logaddexp2)):
        assert_same(f(x, y), base(x, y))
        dx, dy = fn.vjp(f, x, y)[1](np.ones(6))
        np.testing.assert_array_equal(dx, [0.5, 0.0, 0.5, 1.0, 0.5, 1.0])
        np.testing.assert_array_equal(dy, [0.5, 1.0, 0.5, 0.0, 0.5, 0.0])
    check_grads(fnp.logaddexp, (np.array([1000.0, -3.0]), np.array([999.0, -700.0])), order=2)


def test_fmax_fmin_send_the_gradient_past_nan():
    x = np.array([1.0, np.nan, 3.0, np.nan, 2.0])
    y = np.array([2.0, 5.0, np.nan, np.nan, 2.0])
    for f, base in ((fnp.fmax, np.fmax), (fnp.fmin, np.fmin)):
        assert_same(f(x, y), base(x, y))
        dx, dy = fn.grad(lambda x, y: fnp.sum(f(x, y)), argnums=(0, 1))(x, y)
        winner_x = 0.0 if f is fnp.fmax else 1.0  # at position 0, where neither is NaN
        np.testing.assert_array_equal(dx, [winner_x, 0.0, 1.0, 0.5, 0.5])  # both NaN or equal: half each
        np.testing.assert_array_equal(dy, [1 - winner_x, 1.0, 0.0, 0.5, 0.5])
        np.testing.assert_array_equal(fn.jvp(lambda x: f(x, y), (x,), (np.ones(5),))[1][[0, 2, 4]],
                                      [winner_x, 1.0, 0.5])


def test_sinc_derivatives_of_every_order_match_high_precision():
    mpmath = pytest.importorskip("mpmath")
    mpmath.mp.dps = 40

    def exact(x, k):
        f = lambda t: mpmath.sin(mpmath.pi * t) / (mpmath.pi * t) if t != 0 else mpmath.mpf(1)  # noqa: E731
        return float(mpmath.diff(lambda t: mpmath.sinc(mpmath.pi * t), 0, k) if x == 0 else mpmath.diff(f, x, k))

    f = fnp.sinc
    for k in range(1, 5):
        f = fn.grad(f)
        for x in [0.0, 1e-12, 1e-6, 0.01, 0.5, (k + 3) / np.pi, 1.7, -4.2, 30.5]:
            np.testing.assert_allclose(f(x), exact(x, k), rtol=1e-12, atol=1e-12 * np.pi ** k, err_msg=f"order {k}")


def test_sinc_float32():
    x = np.array([0.0, 1e-4, 0.3, 2.5], np.float32)
    g = fn.grad(lambda x: fnp.sum(fnp.sinc(x)))(x)
    assert g.dtype == np.float32
    check_grads(fnp.sinc, (x,), order=2, eps=1e-3)


def test_division_with_remainder_derivatives_follow_jax():
    x = np.array([7.5, -7.5, 7.5, -7.5, 0.3])
    y = np.array([2.0, 2.0, -2.0, -2.0, 5.0])
    dx, dy = fn.grad(lambda x, y: fnp.sum(fnp.mod(x, y)), argnums=(0, 1))(x, y)
    np.testing.assert_array_equal(dx, np.ones(5))
    np.testing.assert_array_equal(dy, -np.floor(x / y))
    dx, dy = fn.grad(lambda x, y: fnp.sum(fnp.fmod(x, y)), argnums=(0, 1))(x, y)
    np.testing.assert_array_equal(dx, np.ones(5))
    np.testing.assert_array_equal(dy, -np.trunc(x / y))
    dx, dy = fn.grad(lambda x, y: fnp.sum(fnp.floor_divide(x, y) * x), argnums=(0, 1))(x, y)
    np.testing.assert_array_equal(dx, np.floor(x / y))  # floor_divide itself contributes nothing
    np.testing.assert_array_equal(dy, np.zeros(5))


def test_mod_and_floordiv_operators_on_traced_values():
    x, y = np.array([7.5, -7.5, 3.25]), np.array([2.0, -3.0, 0.5])
    f = lambda x, y: fnp.sum(x % y + (x // y) * 0.5 + 10.0 % y + y // 2 + 11 % x)  # noqa: E731
    assert np.allclose(fn.jit(f)(x, y), f(x, y))
    dx, dy = fn.grad(f, argnums=(0, 1))(x, y)
    np.testing.assert_allclose(dx, 1 - np.floor(11 / x))
    np.testing.assert_allclose(dy, -np.floor(x / y) - np.floor(10.0 / y))
    q, r = fn.jit(lambda x, y: divmod(x, y))(x, y)
    np.testing.assert_array_equal(q, x // y)
    np.testing.assert_array_equal(r, x % y)
    q, r = fn.jit(lambda y: divmod(7.0, y))(y)
    np.testing.assert_array_equal(q, 7.0 // y)
    assert fn.make_graph(lambda x: np.remainder(x, 2.0))(x).equations[0].prim.name == "remainder"


JAX_PAIRS = [  # (name, domain of the first argument, of the second)
    ("log2", pos, None), ("log10", pos, None), ("exp2", {}, None), ("arcsin", unit, None), ("arccos", unit, None),
    ("arcsinh", {}, None), ("arccosh", dict(min_value=1.5, max_value=3.0), None), ("arctanh", unit, None),
    ("sinc", {}, None), ("fabs", away, None), ("arctan2", {}, pos), ("hypot", away, away),
    ("logaddexp", {}, {}), ("logaddexp2", {}, {}), ("fmax", {}, {}), ("fmin", {}, {}),
]


@pytest.mark.parametrize("name, first, second", JAX_PAIRS, ids=[p[0] for p in JAX_PAIRS])
@settings(max_examples=10)
@given(data=st.data())
def test_first_and_second_derivatives_match_jax(name, first, second, data):
    jax = pytest.importorskip("jax", reason="JAX is not installed")
    jax.config.update("jax_enable_x64", True)
    import jax.numpy as jnp

    args = (data.draw(arrays((5,), **first)),) + (() if second is None else (data.draw(arrays((5,), **second)),))
    if name == "sinc":  # near 0 JAX's derivatives lose all accuracy (ours are checked against mpmath above)
        args = (args[0] + np.where(args[0] < 0, -0.2, 0.2),)
    if name in ("fmax", "fmin"):  # at a tie JAX gives one argument the whole gradient, we give each half;
        # and JAX flushes subnormals to zero, so a gap of 5e-324 is a tie to it
        args = (args[0], args[1] + (np.abs(args[0] - args[1]) < 1e-6) * 0.5)
    if name == "hypot":  # JAX computes hypot through max and min of |x1|, |x2|: its second derivative
        # is wrong where they tie (half the true 2 for hypot**2), so ties are moved apart
        args = (args[0], args[1] + (np.abs(args[0]) == np.abs(args[1])) * 0.5)
    ours, theirs = getattr(fnp, name), getattr(jnp, name)
    argnums = tuple(range(len(args)))
    loss = lambda m, f: lambda *a: m.sum(f(*a) ** 2)  # noqa: E731
    grads = fn.grad(loss(fnp, ours), argnums=argnums)(*args)
    expected = jax.grad(loss(jnp, theirs), argnums=argnums)(*args)
    np.testing.assert_allclose(grads, np.asarray(expected), rtol=1e-10, atol=1e-12)
    v = np.linspace(-1.0, 1.0, 5)
    hvp = fn.jvp(lambda x: fn.grad(loss(fnp, ours))(x, *args[1:]), (args[0],), (v,))[1]
    expected = jax.jvp(lambda x: jax.grad(loss(jnp, theirs))(x, *args[1:]), (args[0],), (v,))[1]
    np.testing.assert_allclose(hvp, np.asarray(expected), rtol=1e-9, atol=1e-10)


# --- cumulative ops ------------------------------------------------------------------------------


def axes_for(shape):
    return st.sampled_from([None, *range(-len(shape), len(shape))] if shape else [None, 0, -1])


@given(data=st.data())
def test_cumulative_values_equal_numpy(data):
    dtype = data.draw(st.sampled_from(DTYPES))
    x = data.draw(values(dtype, shapes(max_dims=3, min_side=0)))
    axis = data.draw(axes_for(x.shape))
    for name in ("cumsum", "cumprod"):
        same_as_numpy(getattr(fnp, name), getattr(np, name), x, axis=axis)
        same_as_numpy(getattr(fnp, name), getattr(np, name), x, axis=axis, dtype=np.float32)
    if x.ndim:
        n = data.draw(st.integers(0, 3))
        same_as_numpy(fnp.diff, np.diff, x, n=n, axis=axis or 0)
        same_as_numpy(fnp.diff, np.diff, x, n=n, axis=axis or 0, prepend=x.dtype.type(1), append=x)


def test_cumulative_errors_match_numpy():
    x = np.ones((2, 3))
    for bad in (lambda: fnp.cumsum(x, axis=2), lambda: fnp.diff(x, n=-1), lambda: fnp.diff(np.float64(1.0)),
                lambda: fnp.cumprod(x, axis=1.0)):
        with pytest.raises((ValueError, TypeError)):
            bad()


@settings(max_examples=25)
@given(x=st.tuples(st.integers(1, 3), st.integers(1, 6)).flatmap(with_zeros), axis=st.sampled_from([0, 1, None]))
def test_cumprod_derivatives_with_zeros(x, axis):
    check_grads(lambda x: fnp.cumprod(x, axis=axis), (x,), order=2)


def test_cumprod_gradient_with_zeros_matches_torch():
    torch = pytest.importorskip("torch", reason="PyTorch is not installed")
    x = np.array([[2.0, 0.0, 3.0, 0.0, 1.5], [0.5, -1.0, 0.0, 4.0, 2.0], [1.0, 2.0, 3.0, 4.0, 5.0]])
    w = np.random.default_rng(1).standard_normal(x.shape)
    f = lambda x: fnp.sum(w * fnp.cumprod(x, axis=1) ** 2)  # noqa: E731
    t = torch.tensor(x, requires_grad=True)
    tf = lambda t: (torch.tensor(w) * torch.cumprod(t, dim=1) ** 2).sum()  # noqa: E731
    (expected,) = torch.autograd.grad(tf(t), t)
    np.testing.assert_allclose(fn.grad(f)(x), expected.numpy(), rtol=1e-12)
    hessian = torch.autograd.functional.hessian(tf, torch.tensor(x)).numpy()
    np.testing.assert_allclose(fn.hessian(f)(x), hessian, rtol=1e-10, atol=1e-12)


def test_cumsum_and_diff_gradients_match_torch():
    torch = pytest.importorskip("torch", reason="PyTorch is not installed")
    x = np.random.default_rng(2).standard_normal((3, 5))
    w = np.random.default_rng(3).standard_normal((3, 5))

    def ours(x):
        return fnp.sum(w[:, 1:] * fnp.diff(fnp.sin(fnp.cumsum(x, axis=1)), axis=1)) + fnp.sum(fnp.roll(x, 2, 1) * w)

    def theirs(t):
        w_t = torch.tensor(w)
        return (w_t[:, 1:] * torch.diff(torch.sin(torch.cumsum(t, dim=1)), dim=1)).sum() + \
            (torch.roll(t, 2, 1) * w_t).sum()

    t = torch.tensor(x, requires_grad=True)
    (expected,) = torch.autograd.grad(theirs(t), t)
    np.testing.assert_allclose(fn.grad(ours)(x), expected.numpy(), rtol=1e-12)


# --- partition and searchsorted ------------------------------------------------------------------


@given(data=st.data())
def test_partition_equals_numpy(data):
    x = data.draw(values(data.draw(st.sampled_from([np.float32, np.float64, np.int32])), shapes(min_dims=1)))
    axis = data.draw(axes_for(x.shape))
    n = x.size if axis is None else x.shape[axis]
    kth = data.draw(st.lists(st.integers(-n, n - 1), min_size=1, max_size=3))
    # NumPy leaves the order within each side of a kth element unspecified, and its partition and
    # argpartition may order them differently: compare what is specified
    flat, along = (x.ravel(), -1) if axis is None else (x, axis)
    got = fnp.partition(x, kth, axis=axis)
    assert_partitioned(got, flat, kth, along)
    assert got.dtype == x.dtype and got.shape == np.partition(x, kth, axis=axis).shape
    order = fnp.argpartition(x, kth, axis=axis)
    np.testing.assert_array_equal(np.sort(order, axis=along), np.sort(np.argsort(flat, axis=along), axis=along))
    assert_partitioned(np.take_along_axis(flat, order, axis=along), flat, kth, along)
    with pytest.raises(ValueError):
        fnp.partition(x, n, axis=axis)


def assert_partitioned(got, x, kth, axis):
    """Each kth element of ``got`` is in its sorted place, with the elements before it and after
    it (NaN sorting last) those of the sorted array, in any order."""
    got, ordered = np.moveaxis(got, axis, -1), np.moveaxis(np.sort(x, axis=axis), axis, -1)
    n = ordered.shape[-1]
    for k in sorted({k % n for k in kth}):
        np.testing.assert_array_equal(got[..., k], ordered[..., k])
        np.testing.assert_array_equal(np.sort(got[..., :k], axis=-1), ordered[..., :k])
        np.testing.assert_array_equal(np.sort(got[..., k + 1:], axis=-1), ordered[..., k + 1:])


def test_partition_gradient_follows_the_elements():
    x = np.array([[3.0, -1.0, 2.0, 0.5], [0.0, 4.0, -2.0, 1.0]])
    w = np.arange(4.0)
    grad = fn.grad(lambda x: fnp.sum(fnp.partition(x, 1) * w))(x)
    np.testing.assert_array_equal(np.take_along_axis(grad, np.argpartition(x, 1), axis=-1), np.broadcast_to(w, x.shape))


def sorted_with_nans(size=None):
    return hnp.arrays(np.float64, st.integers(0, 8) if size is None else size, elements=st.one_of(
        st.sampled_from([0.0, 1.0, 1.0, np.nan, np.inf, -np.inf]), st.floats(-3, 3))).map(np.sort)


@given(a=sorted_with_nans(), v=hnp.arrays(np.float64, shapes(max_dims=2, min_side=0), elements=st.one_of(
    st.sampled_from([0.0, 1.0, np.nan, np.inf, -np.inf]), st.floats(-4, 4))), side=st.sampled_from(["left", "right"]))
def test_searchsorted_equals_numpy(a, v, side):
    same_as_numpy(fnp.searchsorted, np.searchsorted, a, v, side=side)
    order = np.argsort(a[::-1], kind="stable")
    same_as_numpy(fnp.searchsorted, np.searchsorted, a[::-1], v, side=side, sorter=order)
    same_as_numpy(fnp.searchsorted, np.searchsorted, a.astype(np.float32), 1.0, side=side)


@settings(max_examples=20)
@given(data=st.data())
def test_searchsorted_under_vmap_equals_stacking(data):
    batch = data.draw(st.integers(1, 4))
    rows = data.draw(st.lists(sorted_with_nans(5), min_size=batch, max_size=batch))
    a = np.stack(rows)
    v = data.draw(hnp.arrays(np.float64, (batch, 3), elements=st.one_of(st.sampled_from([1.0, np.nan, np.inf]),
                                                                        st.floats(-4, 4))))
    side = data.draw(st.sampled_from(["left", "right"]))
    f = lambda a, v: fnp.searchsorted(a, v, side=side)  # noqa: E731
    assert_same(fn.vmap(f)(a, v), np.stack([np.searchsorted(a[i], v[i], side=side) for i in range(batch)]))
    assert_same(fn.vmap(f, in_axes=(None, 1))(a[0], v), np.stack([np.searchsorted(a[0], v[:, j], side=side)
                                                                   for j in range(3)]))
    assert_same(fn.vmap(f, in_axes=(0, None))(a, v[0]), np.stack([np.searchsorted(a[i], v[0], side=side)
                                                                  for i in range(batch)]))
    nested = fn.vmap(fn.vmap(f, in_axes=(None, 0)), in_axes=(0, None))(a, v)
    assert_same(nested, np.stack([np.stack([np.searchsorted(a[i], v[j], side=side) for j in range(batch)])
                                  for i in range(batch)]))


def test_searchsorted_carries_no_derivative_and_jits():
    a = np.array([0.0, 1.0, 2.0, 3.0])
    v = np.array([0.5, 2.5, -1.0])
    np.testing.assert_array_equal(fn.grad(lambda v: fnp.sum(fnp.searchsorted(a, v) * v))(v), [1.0, 3.0, 0.0])
    np.testing.assert_array_equal(fn.grad(lambda a: fnp.sum(a[fnp.searchsorted(a, v) % 4]))(a), [1.0, 1.0, 0.0, 1.0])
    assert_same(fn.jit(fnp.searchsorted)(a, v), np.searchsorted(a, v))
    with pytest.raises(ValueError, match="1-d"):
        fnp.searchsorted(np.ones((2, 2)), v)
    with pytest.raises(ValueError, match="side"):
        fnp.searchsorted(a, v, side="middle")


# --- shapes --------------------------------------------------------------------------------------


@given(x=hnp.arrays(np.float32, shapes(max_dims=4, min_side=0)), y=hnp.arrays(np.int8, shapes(max_dims=2)))
def test_atleast_nd_equals_numpy(x, y):
    for name in ("atleast_1d", "atleast_2d", "atleast_3d"):
        same_as_numpy(getattr(fnp, name), getattr(np, name), x)
        ours, theirs = getattr(fnp, name)(x, y), getattr(np, name)(x, y)
        assert type(ours) is type(theirs) and len(ours) == 2
        for a, b in zip(ours, theirs):
            assert_same(a, b)


@given(data=st.data())
def test_stacks_equal_numpy(data):
    rows = data.draw(st.integers(1, 3))
    shape = data.draw(st.sampled_from([(), (rows,), (rows, 2), (rows, 1, 3)]))
    arrays_ = [data.draw(hnp.arrays(np.float64, shape)) for _ in range(data.draw(st.integers(1, 3)))]
    same_as_numpy(fnp.dstack, np.dstack, arrays_)
    same_as_numpy(fnp.column_stack, np.column_stack, arrays_)
    same_as_numpy(fnp.column_stack, np.column_stack, [np.ones(rows), np.zeros((rows, 2)), np.arange(rows)])


@given(x=hnp.arrays(np.float64, shapes(min_dims=1, max_dims=3, min_side=0, max_side=7)), data=st.data())
def test_array_split_equals_numpy(x, data):
    axis = data.draw(st.integers(-x.ndim, x.ndim - 1))
    how = data.draw(st.one_of(st.integers(1, 8), st.lists(st.integers(-2, 9), max_size=4)))
    ours, theirs = fnp.array_split(x, how, axis=axis), np.array_split(x, how, axis=axis)
    assert len(ours) == len(theirs)
    for a, b in zip(ours, theirs):
        assert_same(a, b)
    with pytest.raises(ValueError):
        fnp.array_split(x, 0)


@given(x=hnp.arrays(np.float64, shapes(min_dims=2, max_dims=4, min_side=0)), k=st.integers(-5, 5), data=st.data())
def test_rot90_and_flips_equal_numpy(x, k, data):
    axes = data.draw(st.lists(st.integers(-x.ndim, x.ndim - 1), min_size=2, max_size=2, unique=True))
    same_as_numpy(fnp.rot90, np.rot90, x, k, axes)
    same_as_numpy(fnp.fliplr, np.fliplr, x)
    same_as_numpy(fnp.flipud, np.flipud, x)
    for bad in ((0, 0), (0,), (0, x.ndim)):
        with pytest.raises(ValueError):
            fnp.rot90(x, 1, bad)
    with pytest.raises(ValueError):
        fnp.fliplr(np.ones(3))
    with pytest.raises(ValueError):
        fnp.flipud(np.float64(1.0))


@given(x=hnp.arrays(np.float64, shapes(max_dims=3, min_side=0)), data=st.data())
def test_roll_equals_numpy(x, data):
    shift = data.draw(st.one_of(st.integers(-7, 7), st.lists(st.integers(-7, 7), min_size=1, max_size=3)))
    if x.ndim == 0:
        axis = None
    else:
        axis = data.draw(st.one_of(st.none(), st.lists(st.integers(-x.ndim, x.ndim - 1), min_size=1, max_size=3)))
    if axis is not None and not isinstance(shift, int) and len(shift) != len(axis):
        axis = axis[:1]
        shift = shift if len(shift) == 1 else shift[:1]
    same_as_numpy(fnp.roll, np.roll, x, shift, axis)


# --- linspace ------------------------------------------------------------------------------------

LINSPACE_CASES = [dict(num=7), dict(num=0), dict(num=1), dict(num=2), dict(num=6, endpoint=False),
                  dict(num=5, retstep=True), dict(num=4, endpoint=False, retstep=True), dict(num=4, axis=-1),
                  dict(num=5, dtype=np.int64), dict(num=3, dtype=np.float32), dict(num=1, retstep=True, endpoint=False)]


@pytest.mark.parametrize("options", LINSPACE_CASES, ids=str)
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_linspace_with_traced_ends_equals_numpy(options, dtype):
    start = np.array([0.5, -2.0], dtype)
    stop = np.array([[3.0, 1.0], [-1.0, -2.0]], dtype)
    expected = np.linspace(start, stop, **options)
    traced = fn.jit(lambda a, b: fnp.linspace(a, b, **options))(start, stop)
    for ours, theirs in zip(*((traced, expected) if options.get("retstep") else ((traced,), (expected,)))):
        with np.errstate(invalid="ignore"):
            assert_same(ours, theirs)
    scalar = fn.jit(lambda a: fnp.linspace(a, 2.0, **options))(dtype(0.25))
    assert_same(scalar[0] if options.get("retstep") else scalar, np.linspace(dtype(0.25), 2.0, **options)[0]
                if options.get("retstep") else np.linspace(dtype(0.25), 2.0, **options))


def test_linspace_derivatives():
    num = 6
    ratio = np.arange(num) / (num - 1)
    d_start, d_stop = fn.jacfwd(lambda a, b: fnp.linspace(a, b, num), argnums=(0, 1))(0.5, 2.0)
    np.testing.assert_allclose(d_start, 1 - ratio, atol=1e-15)
    np.testing.assert_allclose(d_stop, ratio, atol=1e-15)
    check_grads(lambda a, b: fnp.linspace(a, b, 5, endpoint=False, axis=-1), (np.ones((2, 1)), np.arange(3.0)),
                order=2)
    y, step = fnp.linspace(np.float32(1.0), np.float32(2.0), 5, retstep=True)
    assert y.dtype == np.float32
    grad = fn.grad(lambda b: fnp.linspace(1.0, b, 5, retstep=True)[1])(2.0)
    assert grad == 0.25


# --- einsum with sublists ------------------------------------------------------------------------

SUBLISTS = [
    ("ij,jk->ik", [[0, 1], [1, 2], [0, 2]], ((2, 3), (3, 4))),
    ("ij,jk", [[0, 1], [1, 2]], ((2, 3), (3, 4))),
    ("...i,i->...", [[Ellipsis, 8], [8], [Ellipsis]], ((2, 5, 3), (3,))),
    ("bij,bjk->bki", [[30, 0, 1], [30, 1, 51], [30, 51, 0]], ((2, 3, 4), (2, 4, 2))),
    ("ii->i", [[0, 0], [0]], ((3, 3),)),
    ("ij->", [[0, 1], []], ((2, 3),)),
]


@pytest.mark.parametrize("spec, sublists, shapes_", SUBLISTS, ids=[s[0] for s in SUBLISTS])
def test_einsum_sublists_equal_numpy_and_subscripts(spec, sublists, shapes_):
    rng = np.random.default_rng(4)
    ops = [rng.standard_normal(s) for s in shapes_]
    args = [x for pair_ in zip(ops, sublists) for x in pair_] + sublists[len(ops):]
    np.testing.assert_allclose(fnp.einsum(*args), np.einsum(*args), rtol=1e-12)
    np.testing.assert_allclose(fnp.einsum(*args), fnp.einsum(spec, *ops), rtol=1e-12)
    if spec != "ii->i":
        check_grads(lambda *o: fnp.einsum(*[x for pair_ in zip(o, sublists) for x in pair_], *sublists[len(o):]),
                    tuple(ops), order=2)


def test_einsum_bad_sublists():
    for bad in ([0, 52], [0, -1], [0, 1.5], ["a", 0]):
        with pytest.raises(ValueError, match="labels"):
            fnp.einsum(np.ones((2, 3)), bad)
    with pytest.raises(ValueError):
        fnp.einsum()


# --- vmap and jit for the functions without derivative, and a program of everything --------------


def stacked(f, args, in_axes):
    size = next(np.shape(a)[ax] for a, ax in zip(args, in_axes) if ax is not None)
    return np.stack([np.asarray(f(*[a if ax is None else np.take(a, b, axis=ax) for a, ax in zip(args, in_axes)]))
                     for b in range(size)])


NONDIFF = [
    ("floor_divide", fnp.floor_divide, ((3, 4), (3, 4))),
    ("argpartition", lambda x: fnp.argpartition(x, (1, -1), axis=0), ((4, 3, 3),)),
    ("partition_flat", lambda x: fnp.partition(x, 2, axis=None), ((4, 3),)),
    ("fmax_nan", lambda x, y: fnp.fmax(x, fnp.where(y > 0, np.nan, y)), ((3, 4), (3, 4))),
    ("nan_to_num", lambda x: fnp.nan_to_num(fnp.log(x)), ((3, 4),)),
    ("cumsum_int", lambda x: fnp.cumsum(fnp.astype(x > 0, np.int32), axis=-1), ((3, 4),)),
]


@pytest.mark.parametrize("name, f, arg_shapes", NONDIFF, ids=[c[0] for c in NONDIFF])
@pytest.mark.parametrize("in_axis", [0, 1, -1])
def test_vmap_equals_stacking(name, f, arg_shapes, in_axis):
    rng = np.random.default_rng(5)
    args = tuple(rng.standard_normal(s) * 3 for s in arg_shapes)
    axes = (in_axis,) * len(args)
    with np.errstate(invalid="ignore", divide="ignore"):
        assert_same(fn.vmap(f, in_axes=axes)(*args), stacked(f, args, axes))


def program(x, y):
    """Every new function, in one differentiable program."""
    a = fnp.log2(fnp.exp2(x) + 1) + fnp.log10(fnp.hypot(x, y) + 1) + fnp.arcsinh(y) * fnp.sinc(x)
    b = fnp.arctan2(y, fnp.fabs(x) + 1) + fnp.logaddexp(x, y) - fnp.logaddexp2(y, x)
    c = fnp.arcsin(fnp.tanh(x) * 0.9) + fnp.arccos(fnp.tanh(y) * 0.9) + fnp.arctanh(fnp.tanh(x) * 0.5)
    d = fnp.arccosh(x * x + 1.5) + fnp.fmax(x, y) - fnp.fmin(x, y) + x % 0.7 + fnp.fmod(y, 0.3) + x // 2
    e = fnp.select([x > 0], [a], b) + fnp.nan_to_num(c) + d
    f = fnp.cumsum(e, axis=0) + fnp.cumprod(fnp.tanh(e), axis=1) + fnp.roll(e, 1, 1) + fnp.rot90(e, 2)
    g = fnp.concatenate([fnp.diff(f, axis=1, prepend=f[:, :1]), fnp.partition(f, 1, axis=1)], axis=1)
    h = fnp.dstack([g, g])[..., 0] + fnp.column_stack([fnp.fliplr(g)]) + fnp.flipud(g)
    lin = fnp.linspace(fnp.sum(h[0]), fnp.sum(h[1]), 3)
    return fnp.einsum(h, [0, 1], h, [0, 1], []) + fnp.sum(fnp.atleast_3d(lin)) + fnp.sum(fnp.array_split(h, 3)[1])


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_jit_replay_equals_eager(dtype):
    rng = np.random.default_rng(6)
    x, y = rng.standard_normal((3, 4)).astype(dtype), rng.standard_normal((3, 4)).astype(dtype)
    for f in (program, fn.grad(program, argnums=(0, 1)), lambda x, y: fn.jvp(program, (x, y), (y, x))[1]):
        eager, replayed = f(x, y), fn.jit(f)(x, y)
        for a, b in zip(*((eager, replayed) if isinstance(eager, tuple) else ((eager,), (replayed,)))):
            assert np.asarray(a).dtype == np.asarray(b).dtype == dtype
            np.testing.assert_array_equal(a, b)
    check_grads(program, (x.astype(np.float64), y.astype(np.float64)), order=2)


def test_vmap_of_the_program_equals_stacking():
    rng = np.random.default_rng(7)
    x, y = rng.standard_normal((2, 3, 4)), rng.standard_normal((3, 4))
    np.testing.assert_allclose(fn.vmap(program, in_axes=(0, None))(x, y), [program(x[0], y), program(x[1], y)],
                               rtol=1e-12)
    np.testing.assert_allclose(fn.vmap(fn.grad(program))(x, np.stack([y, y])),
                               [fn.grad(program)(x[0], y), fn.grad(program)(x[1], y)], rtol=1e-12)
