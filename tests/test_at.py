"""Functional index updates: ``fnp.at(x)[index].set/add/multiply/min/max(values)`` and ``x.at[...]``
on traced values.

Values against NumPy (``x[index] = values``, ``np.add.at`` and its kin) over drawn shapes and
indices (repeated and negative positions, slices, ``None``, ``Ellipsis``, masks, broadcast
values, float32 and float64); derivatives to order 2 in both modes against finite
differences, against JAX's ``.at`` and, for ``multiply`` with zeros, against ``prod``; the
ties of ``min``/``max``; ``jit``, ``vmap`` (with batched positions) and ``make_graph``; the
error for ``x[i] = v`` on a traced value and for bad inputs.

``ROWS`` is in the format of the op table of test_numpy_grads.py.
"""
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

import funcnn as fn
import funcnn.numpy as fnp
from funcnn.testing import check_grads
from funcnn.testing.strategies import arrays, distinct_arrays, shapes

OPS = ("set", "add", "multiply", "min", "max")
ALL = slice(None)


def update(x, index, values, op):
    return getattr(fnp.at(x)[index], op)(values)


def reference(x, index, values, op):
    """The same update with NumPy, on a copy."""
    out = np.array(x)
    values = np.asarray(values).astype(out.dtype)
    if op == "set":
        out[index] = values
    else:
        {"add": np.add, "multiply": np.multiply, "min": np.minimum, "max": np.maximum}[op].at(out, index, values)
    return out


# --- drawn indices --------------------------------------------------------------------------------


@st.composite
def indices(draw, shape):
    """An index into an array of ``shape``: ints, slices, integer arrays (repeats, negatives, with
    shapes that broadcast together), ``None``, ``Ellipsis``; trailing axes may be left out."""
    block = draw(shapes(min_dims=1, max_dims=2, max_side=3))
    items = []
    for n in shape:
        kind = draw(st.sampled_from(["int", "slice", "array", "array", "all"]))
        if kind == "int":
            items.append(draw(st.integers(-n, n - 1)))
        elif kind == "slice":
            items.append(slice(draw(st.none() | st.integers(-n - 1, n)), draw(st.none() | st.integers(-n - 1, n)),
                               draw(st.sampled_from([None, 1, 2, -1]))))
        elif kind == "array":
            own = tuple(draw(st.sampled_from([1, b])) for b in block)
            dtype = draw(st.sampled_from([np.int64, np.int32]))
            items.append(draw(hnp.arrays(dtype, own, elements=st.integers(-n, n - 1))))
        else:
            items.append(ALL)
    while items and items[-1] is ALL and draw(st.booleans()):
        items.pop()
    if draw(st.booleans()):
        items.insert(draw(st.integers(0, len(items))), None)
    # with every axis indexed, an Ellipsis in place of one ``:`` covers just that axis (after
    # trailing axes were left out, it would cover more and shift the items after it)
    if sum(item is not None for item in items) == len(shape) and draw(st.booleans()):
        spots = [i for i, item in enumerate(items) if item is ALL]
        if spots:
            items[draw(st.sampled_from(spots))] = Ellipsis
    return tuple(items)


@st.composite
def masks(draw, shape):
    """A boolean mask over the leading axes of ``shape`` (the rest follow as slices)."""
    k = draw(st.integers(1, len(shape)))
    return (draw(hnp.arrays(np.bool_, shape[:k])),)


def values_shape(draw, target):
    """A shape that broadcasts to ``target``: a suffix of it, some sides 1."""
    kept = target[draw(st.integers(0, len(target))):]
    return tuple(draw(st.sampled_from([1, n])) for n in kept)


@st.composite
def cases(draw, with_masks=True):
    """``(x_shape, index, values_shape)``."""
    shape = draw(shapes(min_dims=1, max_dims=3, max_side=4))
    index = draw(masks(shape) if with_masks and draw(st.integers(0, 4)) == 0 else indices(shape))
    target = np.empty(shape)[index].shape
    return shape, index, values_shape(draw, target)


# --- values ---------------------------------------------------------------------------------------


@pytest.mark.parametrize("op", OPS)
@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@settings(max_examples=60)
@given(data=st.data())
def test_values_equal_numpys(op, dtype, data):
    shape, index, vshape = data.draw(cases())
    x = data.draw(arrays(shape, dtype))
    values = data.draw(arrays(vshape, dtype))
    kept = x.copy()
    out = update(x, index, values, op)
    assert type(out) is np.ndarray and out.dtype == dtype and out.shape == x.shape
    np.testing.assert_allclose(out, reference(x, index, values, op), rtol=1e-6 if dtype == np.float32 else 1e-13)
    np.testing.assert_array_equal(x, kept)  # the input is untouched


def test_set_keeps_the_last_update_at_a_repeated_position():
    x = np.zeros(3)
    np.testing.assert_array_equal(fnp.at(x)[np.array([1, 0, 1, -2])].set(np.array([1.0, 2.0, 3.0, 4.0])),
                                  [2.0, 4.0, 0.0])
    # in C order of the indexed shape, whatever the memory layout of index and values
    index = np.asfortranarray(np.array([[1, 0], [0, 1]]))
    values = np.asfortranarray(np.array([[1.0, 2.0], [3.0, 4.0]]))
    np.testing.assert_array_equal(fnp.at(x)[index].set(values), [3.0, 4.0, 0.0])


def test_accumulating_ops_on_repeated_positions():
    x = np.array([1.0, 2.0, 3.0])
    index = np.array([0, 0, 2, -1])
    values = np.array([2.0, 3.0, -1.0, 4.0])
    np.testing.assert_array_equal(fnp.at(x)[index].add(values), [6.0, 2.0, 6.0])
    np.testing.assert_array_equal(fnp.at(x)[index].multiply(values), [6.0, 2.0, -12.0])
    np.testing.assert_array_equal(fnp.at(x)[index].min(values), [1.0, 2.0, -1.0])
    np.testing.assert_array_equal(fnp.at(x)[index].max(values), [3.0, 2.0, 4.0])
    np.testing.assert_array_equal(fnp.at(x)[index].get(), x[index])


def test_values_are_cast_to_xs_dtype_as_numpy_does():
    x = np.arange(4)
    out = fnp.at(x)[1:3].set(np.array([1.7, -2.7]))
    assert out.dtype == x.dtype
    np.testing.assert_array_equal(out, reference(x, slice(1, 3), [1.7, -2.7], "set"))
    x32 = np.ones(3, np.float32)
    assert fnp.at(x32)[0].add(np.float64(1e-3)).dtype == np.float32
    assert fnp.at(x32)[[0, 0]].max(2.0).dtype == np.float32
    np.testing.assert_array_equal(fnp.at([1.0, 2.0])[0].set(5), [5.0, 2.0])  # lists and Python numbers


def test_leading_size_one_axes_of_values_are_dropped_as_numpy_does():
    x = np.zeros((2, 3))
    np.testing.assert_array_equal(fnp.at(x)[0].set(np.ones((1, 1, 3))), reference(x, 0, np.ones((1, 1, 3)), "set"))


def test_a_large_update_is_vectorized():
    rng = np.random.default_rng(0)
    x = rng.standard_normal(1000)
    index = rng.integers(0, 1000, 200_000)
    values = rng.standard_normal(200_000)
    for op in OPS:
        np.testing.assert_allclose(update(x, index, values, op), reference(x, index, values, op), rtol=1e-9)


# --- derivatives ----------------------------------------------------------------------------------


@st.composite
def derivative_cases(draw, op):
    """``(index, x, values)`` with values where the derivatives are smooth: no ties for min/max,
    no zeros for multiply."""
    shape, index, vshape = draw(cases())
    if op in ("min", "max"):
        n, m = int(np.prod(shape)), int(np.prod(vshape))
        both = draw(distinct_arrays((n + m,)))
        return index, both[:n].reshape(shape), both[n:].reshape(vshape)
    options = dict(min_magnitude=0.5) if op == "multiply" else {}
    return index, draw(arrays(shape, **options)), draw(arrays(vshape, **options))


@pytest.mark.parametrize("op", OPS)
@settings(max_examples=15)
@given(data=st.data())
def test_derivatives_to_order_two(op, data):
    index, x, values = data.draw(derivative_cases(op))
    check_grads(lambda x, v: update(x, index, v, op), (x, values), order=2, modes=("fwd", "rev"))


def test_multiply_derivatives_with_zero_factors_match_prod():
    """One zero factor at a position: the others' product; two: zero (first order, against
    the same update written with ``prod``)."""
    index = np.array([0, 0, 0, 1, 1, 2, 3, 3])
    x = np.array([1.5, -2.0, 0.5, 3.0])
    values = np.array([0.0, 2.0, -3.0, 0.0, 0.0, 0.0, 1.5, 2.5])

    def with_prod(x, v):
        factors = [fnp.prod(fnp.where(index == p, v, 1.0)) for p in range(4)]
        return x * fnp.stack(factors)

    w = np.array([1.0, 2.0, -1.0, 0.5])
    ours = fn.grad(lambda x, v: fnp.sum(w * update(x, index, v, "multiply")), argnums=(0, 1))(x, values)
    theirs = fn.grad(lambda x, v: fnp.sum(w * with_prod(x, v)), argnums=(0, 1))(x, values)
    np.testing.assert_allclose(ours[0], theirs[0], rtol=1e-14)
    np.testing.assert_allclose(ours[1], theirs[1], rtol=1e-14)
    tangent = np.linspace(-1.0, 1.0, 8)
    np.testing.assert_allclose(fn.jvp(lambda v: update(x, index, v, "multiply"), (values,), (tangent,))[1],
                               fn.jvp(lambda v: with_prod(x, v), (values,), (tangent,))[1], rtol=1e-14)


def test_ties_share_the_gradient_equally():
    """Among ``x`` and the updates that attain a min or max, as ``maximum`` shares between two."""
    x = np.array([1.0, 2.0, 5.0])
    index = np.array([0, 0, 1, 2])
    values = np.array([3.0, 3.0, 2.0, 1.0])
    w = np.array([1.0, 10.0, 100.0])
    dx, dv = fn.grad(lambda x, v: fnp.sum(w * update(x, index, v, "max")), argnums=(0, 1))(x, values)
    np.testing.assert_array_equal(dx, [0.0, 5.0, 100.0])
    np.testing.assert_array_equal(dv, [0.5, 0.5, 5.0, 0.0])
    np.testing.assert_array_equal(fn.grad(lambda a, b: fnp.sum(w[:2] * fnp.maximum(a, b)), argnums=(0, 1))(
        x[:2], np.array([1.0, 3.0]))[0], [0.5, 0.0])  # maximum's own tie convention
    dx, dv = fn.grad(lambda x, v: fnp.sum(w * update(x, index, v, "min")), argnums=(0, 1))(x, -values)
    np.testing.assert_array_equal(dx, [0.0, 0.0, 0.0])
    np.testing.assert_array_equal(dv, [0.5, 0.5, 10.0, 100.0])


def test_set_gradient_goes_to_the_winning_update_only():
    x = np.array([1.0, 2.0, 3.0])
    w = np.array([1.0, 10.0, 100.0])
    dx, dv = fn.grad(lambda x, v: fnp.sum(w * update(x, np.array([2, 0, 2]), v, "set")), argnums=(0, 1))(
        x, np.array([4.0, 5.0, 6.0]))
    np.testing.assert_array_equal(dx, [0.0, 10.0, 0.0])
    np.testing.assert_array_equal(dv, [0.0, 1.0, 100.0])
    # a scalar broadcast to repeated positions: every copy is the same value
    assert fn.grad(lambda v: fnp.sum(w * update(x, np.array([1, 1, 2]), v, "set")))(7.0) == 110.0


JAX_CASES = [  # (x shape, index, values shape, unique positions)
    ((5,), np.array([0, 3, 3, -1, 1, 3]), (6,), False),
    ((4, 3), (np.array([[0, 2], [2, 2]]), ALL), (2, 2, 3), False),
    ((4, 3), (ALL, np.array([1, -1, 1])), (3,), False),
    ((3, 4, 2), (1, slice(None, None, -1), np.array([0, 1, 1, 0])), (4, 4), False),
    ((4, 5), (np.array([0, 3, 1]), np.array([4, 0, 2])), (3,), True),
    ((3, 4), (slice(1, None), None, 2), (2, 1), True),
]


@pytest.mark.parametrize("op", OPS)
@pytest.mark.parametrize("shape, index, vshape, unique", JAX_CASES, ids=[str(i) for i in range(len(JAX_CASES))])
def test_gradients_match_jax(op, shape, index, vshape, unique):
    jax = pytest.importorskip("jax")
    jax.config.update("jax_enable_x64", True)
    jnp = jax.numpy
    if op == "multiply" and not unique:
        pytest.skip("JAX differentiates scatter_mul only with unique indices")
    rng = np.random.default_rng(len(vshape))
    x, values = rng.standard_normal(shape), rng.standard_normal(vshape)
    w = rng.standard_normal(shape)
    options = {"unique_indices": True} if op == "multiply" else {}
    jax_index = tuple(jnp.asarray(i) if isinstance(i, np.ndarray) else i for i in
                      (index if isinstance(index, tuple) else (index,)))

    def theirs(x, v):
        return jnp.sum(w * jnp.sin(getattr(jnp.asarray(x).at[jax_index], op)(v, **options)))

    def ours(x, v):
        return fnp.sum(w * fnp.sin(update(x, index, v, op)))

    np.testing.assert_allclose(ours(x, values), theirs(x, values), rtol=1e-13)
    for got, want in zip(fn.grad(ours, argnums=(0, 1))(x, values), jax.grad(theirs, argnums=(0, 1))(x, values)):
        np.testing.assert_allclose(got, want, rtol=1e-12, atol=1e-14)
    u = rng.standard_normal(shape), rng.standard_normal(vshape)
    hvp = fn.jvp(fn.grad(ours, argnums=(0, 1)), (x, values), u)[1]
    jax_hvp = jax.jvp(jax.grad(theirs, argnums=(0, 1)), (x, values), u)[1]
    for got, want in zip(hvp, jax_hvp):
        np.testing.assert_allclose(got, want, rtol=1e-11, atol=1e-13)


# --- transforms -------------------------------------------------------------------------------


def test_traced_values_have_an_at_property():
    x = np.array([1.0, 2.0, 3.0])
    index = np.array([0, 0])

    def f(x):  # x traced
        y = x.at[index].add(x[1:])
        return fnp.sum(y.at[1:].multiply(y[:2]) ** 2)

    def same(x):  # x traced or not
        y = fnp.at(x)[index].add(x[1:])
        return fnp.sum(fnp.at(y)[1:].multiply(y[:2]) ** 2)

    check_grads(same, (x,), order=2, modes=("fwd", "rev"))
    assert fn.jit(f)(x) == same(x)
    np.testing.assert_array_equal(fn.grad(f)(x), fn.grad(same)(x))
    np.testing.assert_array_equal(fn.hessian(f)(x), fn.hessian(same)(x))


def test_a_traced_mask_with_a_scalar_is_a_where():
    x = np.array([-1.0, 2.0, -3.0, 4.0])
    for op in OPS:
        f = fn.jit(lambda x, op=op: update(x, x > 0, 0.5, op))
        np.testing.assert_array_equal(f(x), reference(x, x > 0, 0.5, op))
    g = fn.grad(lambda x: fnp.sum(x.at[x < 0].set(0.0) * np.arange(4.0)))(x)
    np.testing.assert_array_equal(g, [0.0, 1.0, 0.0, 3.0])


@pytest.mark.parametrize("op", OPS)
def test_jit_and_graphs_equal_eager(op):
    rng = np.random.default_rng(5)
    x, values, index = rng.standard_normal((4, 3)), rng.standard_normal((5, 3)), np.array([0, 3, 3, -1, 2])

    def f(x, v, i):
        return update(x, i, v, op)

    eager = f(x, values, index)
    np.testing.assert_array_equal(fn.jit(f)(x, values, index), eager)
    graph = fn.make_graph(f)(x, values, index)
    assert f"scatter[index=[#] op={op}]" in str(graph)
    np.testing.assert_array_equal(graph(x, values, index), eager)
    loss = lambda x, v, i: fnp.sum(fnp.tanh(f(x, v, i)))  # noqa: E731
    eager_grads = fn.grad(loss, argnums=(0, 1))(x, values, index)
    for got, want in zip(fn.jit(fn.grad(loss, argnums=(0, 1)))(x, values, index), eager_grads):
        np.testing.assert_allclose(got, want, rtol=1e-14)
    replayed = fn.make_graph(fn.grad(loss, argnums=(0, 1)))(x, values, index)(x, values, index)
    for got, want in zip(replayed, eager_grads):
        np.testing.assert_array_equal(got, want)


VMAPPED = [  # (name, update at (x, values, *positions), per-example x shape, values shape, position arrays)
    ("slice_newaxis_int", lambda x, v, op: update(x, (slice(1, None), None, 2), v, op), (3, 5, 6), (2, 1, 6), ""),
    ("shared_array", lambda x, v, op: update(x, (ALL, ALL, [0, 2, 0]), v, op), (3, 5, 6), (5, 3), ""),
    ("arrays_apart", lambda x, v, op: update(x, ([0, 1, 1], ALL, [1, 2, 2]), v, op), (3, 5, 6), (3, 5), ""),
    ("int_and_array_apart", lambda x, v, op: update(x, (0, ALL, [1, 2, 1]), v, op), (3, 5, 6), (3, 5), ""),
    ("batched_index", lambda x, v, op, i: update(x, i, v, op), (3, 5, 6), (2, 4, 5, 6), "i"),
    ("batched_second", lambda x, v, op, j: update(x, (ALL, j), v, op), (3, 5, 6), (6,), "j"),
    ("two_batched_apart", lambda x, v, op, i, j: update(x, (i, ALL, j), v, op), (3, 5, 6), (2, 4, 5), "ij"),
    ("int_between", lambda x, v, op, i, j: update(x, (i, 1, j), v, op), (3, 5, 6), (4,), "ij"),
    ("ellipsis", lambda x, v, op, i, j: update(x, (Ellipsis, i, j[..., :1]), v, op), (3, 5, 6), (3, 2, 4), "ij"),
    ("newaxis_int_array", lambda x, v, op, j: update(x, (None, 1, j), v, op), (3, 5, 6), (2, 4, 1), "j"),
]


def stacked(f, args, in_axes):
    size = next(np.shape(a)[ax] for a, ax in zip(args, in_axes) if ax is not None)
    return np.stack([np.asarray(f(*[a if ax is None else np.take(a, b, axis=ax) for a, ax in zip(args, in_axes)]))
                     for b in range(size)])


@pytest.mark.parametrize("op", OPS)
@pytest.mark.parametrize("name, f, xshape, vshape, positions", VMAPPED, ids=[c[0] for c in VMAPPED])
def test_vmap_equals_stacking(op, name, f, xshape, vshape, positions):
    rng = np.random.default_rng(1)
    size = 3
    pool = {"i": rng.integers(0, 3, (size, 2, 4)), "j": rng.integers(-5, 5, (size, 2, 4))}
    x, values = rng.standard_normal((size, *xshape)), rng.standard_normal((size, *vshape))
    for x_axis, v_axis in [(0, 0), (None, 0), (0, None), (None, None)] if positions else [(0, 0), (None, 0), (0, None)]:
        args = (x if x_axis == 0 else x[0], values if v_axis == 0 else values[0], *(pool[k] for k in positions))
        axes = (x_axis, v_axis, *(0 for _ in positions))
        g = lambda x, v, *idx: f(x, v, op, *idx)  # noqa: E731
        np.testing.assert_allclose(fn.vmap(g, in_axes=axes)(*args), stacked(g, args, axes), rtol=1e-14)
        loss = lambda x, v, *idx: fnp.sum(fnp.sin(g(x, v, *idx)))  # noqa: E731
        grads = lambda x, v, *idx: fn.grad(loss, argnums=(0, 1))(x, v, *idx)  # noqa: E731
        batched = fn.vmap(grads, in_axes=axes)(*args)
        for k in range(2):
            np.testing.assert_allclose(batched[k], stacked(lambda *a: grads(*a)[k], args, axes), rtol=1e-12)


def test_vmap_with_batched_positions_on_other_axes():
    rng = np.random.default_rng(2)
    x, values, index = rng.standard_normal(5), rng.standard_normal((4, 2)), rng.integers(-5, 5, (2, 4))
    g = lambda x, v, i: update(x, i, v, "set")  # noqa: E731
    axes = (None, 0, 1)
    np.testing.assert_array_equal(fn.vmap(g, in_axes=axes)(x, values, index), stacked(g, (x, values, index), axes))
    jac = fn.jacfwd(lambda v: update(x, index[:, 0], v, "max"))(values[0])
    np.testing.assert_allclose(jac, fn.jacrev(lambda v: update(x, index[:, 0], v, "max"))(values[0]))


# --- errors -----------------------------------------------------------------------------------


def test_assigning_into_a_traced_value_says_to_use_at():
    def f(x):
        x[0] = 1.0
        return x

    for transform in (fn.grad(lambda x: fnp.sum(f(x))), fn.jit(f), fn.vmap(f)):
        with pytest.raises(TypeError, match=r"immutable.*x\.at\[index\]\.set\(values\).*at\(x\)\[index\]"):
            transform(np.ones((2, 3)))


def test_bad_inputs_raise_clearly():
    x = np.zeros((3, 4))
    with pytest.raises(ValueError, match=r"shape \(5,\).*\(3, 4\).*\(3, 4\)"):
        fnp.at(x)[:].add(np.ones(5))
    with pytest.raises(ValueError, match=r"shape \(2, 4\).*\(4,\)"):
        fnp.at(x)[0].set(np.ones((2, 4)))
    with pytest.raises(TypeError, match="complex values"):
        fnp.at(x)[0].set(1j)
    with pytest.raises(TypeError, match="complex x"):
        fnp.at(np.zeros(2, complex))[0].set(1.0)
    with pytest.raises(IndexError, match="out of bounds"):
        fnp.at(x)[3].set(1.0)
    with pytest.raises(IndexError):
        fnp.at(x)[np.array([0, 7])].add(1.0)
    with pytest.raises(IndexError, match="integer or boolean"):
        fnp.at(x)[np.array([0.5])].add(1.0)
    with pytest.raises(IndexError, match="too many indices"):
        fnp.at(x)[0, 0, 0].set(1.0)


# --- rows for the op table of test_numpy_grads.py ----------------------------------------------------

_REPEATED = (np.array([2, 0, 2]), ALL)
_PAIRS = np.array([[0, 1], [1, 4]])
_MASK = np.array([[True, False, True], [False, False, True]])


def _distinct_pair(x_shape, v_shape):
    """``(x, values)`` with all values distinct (no ties for min and max)."""
    n = int(np.prod(x_shape))
    return distinct_arrays((n + int(np.prod(v_shape)),)).map(
        lambda a: (a[:n].reshape(x_shape), a[n:].reshape(v_shape)))


def _row(name, op, index, x_shape, v_shape, args=None):
    return (f"at_{name}", lambda x, v: update(x, index, v, op),
            st.tuples(arrays(x_shape), arrays(v_shape)) if args is None else args,
            lambda x, v: reference(x, index, v, op))


ROWS = [
    _row("set_repeated", "set", _REPEATED, (4, 3), (3, 3)),
    _row("set_basic", "set", (1, slice(None, None, 2)), (3, 4), (2,)),
    _row("add_broadcast", "add", (ALL, np.array([1, 1, -1])), (4, 3), (3,)),
    _row("multiply", "multiply", _PAIRS, (5,), (2, 2),
         st.tuples(arrays((5,)), arrays((2, 2), min_magnitude=0.2))),
    _row("min", "min", (np.array([0, 2, 0]),), (3, 2), (3, 2), _distinct_pair((3, 2), (3, 2))),
    _row("max", "max", (ALL, np.array([1, 0, 1])), (2, 3), (3,), _distinct_pair((2, 3), (3,))),
    _row("mask_scalar", "add", _MASK, (2, 3), ()),
]


@pytest.mark.parametrize("name, f, args, ref", ROWS, ids=[row[0] for row in ROWS])
@settings(max_examples=10)
@given(data=st.data())
def test_rows(name, f, args, ref, data):
    drawn = data.draw(args)
    np.testing.assert_allclose(f(*drawn), ref(*drawn), rtol=1e-13)
    check_grads(f, drawn, order=2, modes=("fwd", "rev"))
