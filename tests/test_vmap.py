"""vmap: for every primitive and composition, mapping a function over a batch equals applying
it to each example and stacking the results; bad axes are errors that name what is wrong."""
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import funcnn as fn
import funcnn.numpy as fnp
from funcnn import extend, lax, losses, nn, random, tree_util

from test_activations import ALL as ACTIVATIONS
from test_losses import GRAD_CASES as LOSSES
from test_numpy_grads import TABLE
from test_oracles import build, programs

SCALES = (1.0, 0.75, 1.25)  # one example per scale: inputs that stay in every op's domain


def take(x, axis, b):
    return np.take(np.asarray(x), b, axis=axis)


def stacked(f, args, in_axes, size, out_axis=0):
    """The reference: ``f`` on each example, results stacked along ``out_axis``."""
    results = [f(*[a if ax is None else take(a, ax, b) for a, ax in zip(args, in_axes)]) for b in range(size)]
    return tree_util.tree_map(lambda *r: np.stack([np.asarray(v) for v in r], axis=out_axis), *results)


def assert_close(actual, expected, rtol=1e-11, atol=1e-12):
    tree_util.check_same_structure(actual, expected, what="vmap vs stacked")
    for a, e in zip(tree_util.tree_leaves(actual), tree_util.tree_leaves(expected)):
        a, e = np.asarray(a), np.asarray(e)
        assert a.shape == e.shape, f"shape {a.shape} vs {e.shape}"
        assert a.dtype == e.dtype, f"dtype {a.dtype} vs {e.dtype}"
        np.testing.assert_allclose(a, e, rtol=rtol, atol=atol)


def batch_of(drawn, axes):
    """The drawn arrays as a batch: each mapped one scaled per example and stacked along its axis."""
    out = []
    for a, ax in zip(drawn, axes):
        out.append(a if ax is None else np.stack([a * s for s in SCALES], axis=ax if ax >= 0 else a.ndim + 1 + ax))
    return tuple(out)


def check_vmap(f, batch, axes, **tol):
    size = next(np.shape(a)[ax] for a, ax in zip(batch, axes) if ax is not None)
    assert_close(fn.vmap(f, in_axes=axes)(*batch), stacked(f, batch, axes, size), **tol)


# --- every primitive of funcnn.numpy, with in_axes 0, 1, -1 and None mixed ---------------------


@pytest.mark.parametrize("name, f, args, reference, options", TABLE, ids=[row[0] for row in TABLE])
@given(data=st.data())
def test_vmap_equals_stacking_for_every_numpy_primitive(name, f, args, reference, options, data):
    drawn = data.draw(args)
    axes = tuple(data.draw(st.sampled_from([0, 1, -1, None] if a.ndim else [0, -1, None])) for a in drawn)
    if all(ax is None for ax in axes):
        axes = (0,) + axes[1:]
    for dtype in (np.float64, np.float32):
        batch = tuple(a.astype(dtype) for a in batch_of(drawn, axes))
        tol = dict(rtol=1e-11, atol=1e-12) if dtype == np.float64 else dict(rtol=2e-5, atol=2e-6)
        check_vmap(f, batch, axes, **tol)
        everything = tuple(range(len(batch)))
        check_vmap(fn.grad(lambda *a: fnp.sum(f(*a) ** 2), argnums=everything), batch, axes, **tol)
        check_vmap(lambda *a: fn.jvp(f, a, a)[1], batch, axes, **tol)


LAX = [
    ("conv", lambda x, w: lax.conv_general_dilated(x, w, (2, 1), "SAME", (1, 2), (2, 1), 2),
     ((2, 4, 5, 5), (6, 2, 3, 3))),
    ("conv_1d", lambda x, w: lax.conv_general_dilated(x, w, (1,), ((1, 0),)), ((3, 2, 7), (4, 2, 3))),
    ("max_pool", lambda x: lax.max_pool(x, (2, 2), (1, 1), "SAME"), ((2, 3, 5, 4),)),
    ("avg_pool", lambda x: lax.avg_pool(x, (3, 2), padding=((1, 1), (0, 1)), count_include_pad=False),
     ((1, 2, 5, 4),)),
]


@pytest.mark.parametrize("name, f, shapes", LAX, ids=[row[0] for row in LAX])
@pytest.mark.parametrize("axes", [(0, 0), (0, None), (None, 0), (-1, 2)], ids=str)
def test_vmap_equals_stacking_for_lax(name, f, shapes, axes):
    rng = np.random.default_rng(0)
    drawn = tuple(rng.standard_normal(s) for s in shapes)
    axes = axes[:len(drawn)]
    if all(ax is None for ax in axes):
        pytest.skip("nothing mapped")
    batch = tuple(a if ax is None else np.stack([rng.standard_normal(a.shape) for _ in SCALES], axis=ax % (a.ndim + 1))
                  for a, ax in zip(drawn, axes))
    everything = tuple(range(len(batch)))
    check_vmap(f, batch, axes)
    check_vmap(fn.grad(lambda *a: fnp.sum(fnp.tanh(f(*a))), argnums=everything), batch, axes)
    check_vmap(lambda *a: fn.jvp(f, a, a)[1], batch, axes)


@pytest.mark.parametrize("name, f", ACTIVATIONS, ids=[a[0] for a in ACTIVATIONS])
def test_vmap_equals_stacking_for_every_activation(name, f):
    x = np.random.default_rng(5).standard_normal((3, 2, 4)) * 3
    check_vmap(f, (x,), (0,))
    check_vmap(fn.grad(lambda x: fnp.sum(f(x) ** 2)), (x,), (1,))


@pytest.mark.parametrize("name, f, x", LOSSES, ids=[c[0] for c in LOSSES])
def test_vmap_equals_stacking_for_every_loss(name, f, x):
    batch = np.stack([x, x * 0.5, x[::-1]])
    check_vmap(f, (batch,), (0,))
    check_vmap(fn.value_and_grad(lambda x: fnp.sum(f(x))), (batch,), (0,))


def test_every_primitive_has_a_batching_rule():
    import importlib
    import pkgutil

    for module in pkgutil.walk_packages(fn.__path__, "funcnn."):
        importlib.import_module(module.name)
    missing = [f"{p.name} ({p.module})" for p in extend.primitives()
               if p.module.startswith("funcnn") and not extend.has_batch_rule(p)]
    assert not missing, f"primitives without a batching rule: {missing}"


# --- indexing with batched indices -------------------------------------------------------------

ALL = slice(None)
INDEXED = [  # fnp.getitem(x, index) is x[index], also for a NumPy x and traced indices
    ("slice_newaxis_int", lambda x: fnp.getitem(x, (slice(1, None), None, 2)), "x"),
    ("array_shared", lambda x: fnp.getitem(x, (ALL, ALL, [0, 2])), "x"),
    ("arrays_apart", lambda x: fnp.getitem(x, ([0, 1], ALL, [1, 2])), "x"),
    ("int_and_array_apart", lambda x: fnp.getitem(x, (0, ALL, [1, 2])), "x"),
    ("batched_index", lambda x, i: fnp.getitem(x, i), "xi"),
    ("batched_index_second", lambda x, j: fnp.getitem(x, (ALL, j)), "xj"),
    ("two_batched_apart", lambda x, i, j: fnp.getitem(x, (i, ALL, j)), "xij"),
    ("int_between", lambda x, i, j: fnp.getitem(x, (i, 1, j)), "xij"),
    ("ellipsis", lambda x, i, j: fnp.getitem(x, (Ellipsis, i, j[..., :1])), "xij"),
    ("newaxis_int_array", lambda x, j: fnp.getitem(x, (None, 1, j)), "xj"),
    ("slice_int_array", lambda x, j: fnp.getitem(x, (ALL, 0, j)), "xj"),
]


@pytest.mark.parametrize("name, f, operands", INDEXED, ids=[c[0] for c in INDEXED])
@pytest.mark.parametrize("x_mapped", [True, False])
def test_indexing_with_batched_and_shared_indices(name, f, operands, x_mapped):
    if operands == "x" and not x_mapped:
        pytest.skip("nothing mapped")
    rng = np.random.default_rng(1)
    values = {"x": rng.standard_normal((3, 3, 5, 6)), "i": rng.integers(0, 3, (3, 2, 4)),
              "j": rng.integers(-5, 5, (3, 2, 4))}
    args = tuple(values[k] for k in operands)
    axes = tuple(0 if (k != "x" or x_mapped) else None for k in operands)
    if not x_mapped:
        args = (args[0][0],) + args[1:]
    check_vmap(f, args, axes)
    check_vmap(lambda x, *idx: fn.grad(lambda x: fnp.sum(fnp.sin(f(x, *idx))))(x), args, axes)


def test_take_along_axis_picks_each_examples_labels():
    logits = np.random.default_rng(2).standard_normal((5, 10))
    labels = np.array([3, 0, 9, 9, 1])
    picked = fn.vmap(lambda z, y: fnp.take_along_axis(z, y[None], axis=0)[0])(logits, labels)
    np.testing.assert_array_equal(picked, logits[np.arange(5), labels])


# --- matmul and einsum in every rank combination ------------------------------------------------

MATMUL_SHAPES = [((4,), (4,)), ((4,), (4, 5)), ((2, 4), (4,)), ((2, 4), (4, 5)), ((6, 2, 4), (4, 5)),
                 ((2, 4), (6, 4, 5)), ((1, 2, 4), (6, 4, 5)), ((4,), (6, 4, 5)), ((6, 2, 4), (4,))]


@pytest.mark.parametrize("shapes", MATMUL_SHAPES, ids=str)
@pytest.mark.parametrize("axes", [(0, None), (None, 0), (0, 0), (-1, 1)], ids=str)
def test_matmul_in_every_rank_combination(shapes, axes):
    rng = np.random.default_rng(3)
    args = tuple(rng.standard_normal(s) if ax is None else
                 np.stack([rng.standard_normal(s) for _ in SCALES], axis=ax % (len(s) + 1))
                 for s, ax in zip(shapes, axes))
    check_vmap(fnp.matmul, args, axes)
    check_vmap(fn.grad(lambda a, b: fnp.sum(fnp.sin(a @ b)), argnums=(0, 1)), args, axes)


def test_einsum_gets_a_batch_letter():
    rng = np.random.default_rng(4)
    a, b, c = rng.standard_normal((3, 2, 4)), rng.standard_normal((4, 5)), rng.standard_normal((3, 5, 5))
    check_vmap(lambda a, b, c: fnp.einsum("ij,jk,kl->il", a, b, c), (a, b, c), (0, None, 0))
    check_vmap(lambda a, b: fnp.einsum("...j,jk", a, b), (a, b), (0, None))
    check_vmap(lambda c: fnp.einsum("ii->i", c), (c,), (0,))


# --- composition --------------------------------------------------------------------------------


def mlp_loss(params, x, y):
    h = fnp.tanh(x @ params["w1"] + params["b1"])
    return losses.cross_entropy((h @ params["w2"])[None], y[None])


def mlp_setup(batch=6):
    rng = np.random.default_rng(6)
    params = {"w1": rng.standard_normal((5, 7)) * 0.5, "b1": rng.standard_normal(7) * 0.1,
              "w2": rng.standard_normal((7, 3)) * 0.5}
    return params, rng.standard_normal((batch, 5)), rng.integers(0, 3, batch)


def test_per_example_gradients_equal_one_grad_per_example():
    params, x, y = mlp_setup()
    per_example = fn.vmap(fn.grad(mlp_loss), in_axes=(None, 0, 0))(params, x, y)
    expected = stacked(fn.grad(mlp_loss), (params, x, y), (None, 0, 0), len(x))
    assert_close(per_example, expected)
    mean = tree_util.tree_map(lambda g: g.mean(0), per_example)  # and they average to the batch gradient
    batch_grad = fn.grad(lambda p: fnp.mean(fn.vmap(mlp_loss, in_axes=(None, 0, 0))(p, x, y)))(params)
    assert_close(mean, batch_grad)


def test_grad_of_vmap_through_a_sum():
    params, x, y = mlp_setup()
    total = lambda p: fnp.sum(fn.vmap(mlp_loss, in_axes=(None, 0, 0))(p, x, y))  # noqa: E731
    expected = tree_util.tree_map(lambda *g: sum(g), *[fn.grad(mlp_loss)(params, x[b], y[b]) for b in range(len(x))])
    assert_close(fn.grad(total)(params), expected, rtol=1e-10)


def test_nested_vmaps_equal_a_double_loop():
    x = np.random.default_rng(7).standard_normal((3, 4, 5))
    f = lambda v: fnp.sum(fnp.sin(v) * v[::-1])  # noqa: E731
    inner_over_axis_1 = fn.vmap(fn.vmap(f), in_axes=1, out_axes=1)
    expected = np.array([[f(x[i, :, j]) for j in range(5)] for i in range(3)])
    assert_close(inner_over_axis_1(np.swapaxes(x, 1, 2)), expected)
    outer_product = fn.vmap(fn.vmap(lambda a, b: a * b, in_axes=(None, 0)), in_axes=(0, None))
    a, b = np.arange(3.0), np.arange(4.0)
    assert_close(outer_product(a, b), np.outer(a, b))


def test_jvp_of_vmap_and_vmap_of_jvp():
    x, t = np.random.default_rng(8).standard_normal((2, 4, 3))
    f = lambda v: fnp.tanh(v) * fnp.sum(v ** 2)  # noqa: E731
    out, tangent = fn.jvp(fn.vmap(f), (x,), (t,))
    assert_close(out, stacked(f, (x,), (0,), 4))
    assert_close(tangent, stacked(lambda v, u: fn.jvp(f, (v,), (u,))[1], (x, t), (0, 0), 4))
    assert_close(fn.vmap(lambda v, u: fn.jvp(f, (v,), (u,))[1])(x, t), tangent)


def test_vmap_of_jit_and_jit_of_vmap():
    params, x, y = mlp_setup()
    per_example = fn.vmap(fn.grad(mlp_loss), in_axes=(None, 0, 0))
    expected = per_example(params, x, y)
    assert_close(fn.jit(per_example)(params, x, y), expected)
    assert_close(fn.vmap(fn.jit(fn.grad(mlp_loss)), in_axes=(None, 0, 0))(params, x, y), expected)
    graph = fn.make_graph(per_example)(params, x, y)  # the batch is in the shapes, not in a loop
    assert all(eq.prim.name not in ("split",) for eq in graph.equations)
    assert_close(graph(params, x, y), expected)


def test_vmap_of_a_custom_vjp_function():
    @fn.custom_vjp
    def clipped_sin(x):
        return fnp.sin(x)

    clipped_sin.defvjp(lambda x: (fnp.sin(x), fnp.cos(x)), lambda c, g: (fnp.clip(g * c, -0.1, 0.1),))
    x = np.random.default_rng(9).standard_normal((4, 3))
    per_row = fn.vmap(fn.grad(lambda v: fnp.sum(3 * clipped_sin(v))))(x)
    np.testing.assert_allclose(per_row, np.clip(3 * np.cos(x), -0.1, 0.1))
    through = fn.grad(lambda v: fnp.sum(3 * fn.vmap(clipped_sin)(v)))(x)
    np.testing.assert_allclose(through, np.clip(3 * np.cos(x), -0.1, 0.1))
    assert_close(fn.vmap(clipped_sin)(x), np.sin(x))


def test_jacobians_are_vectorized_and_keep_their_values():
    rng = np.random.default_rng(10)
    w = rng.standard_normal((4, 3))
    f = lambda v: fnp.tanh(v @ w) * fnp.sum(v)  # noqa: E731
    v = rng.standard_normal(4)
    rows = np.stack([fn.grad(lambda u: f(u)[k])(v) for k in range(3)])
    assert_close(fn.jacrev(f)(v), rows)
    assert_close(fn.jacfwd(f)(v), rows)
    scalar = lambda v: fnp.sum(fnp.sin(v) * v[::-1])  # noqa: E731
    hess = np.stack([fn.grad(lambda u: fn.grad(scalar)(u)[k])(v) for k in range(4)])
    assert_close(fn.hessian(scalar)(v), hess, rtol=1e-10)
    graph = fn.make_graph(fn.jacrev(f))(v)  # one backward pass, not one per row
    assert sum(eq.prim.name == "matmul" for eq in graph.equations) <= 3


def test_jacobians_of_pytrees_and_empty_outputs():
    params, x, y = mlp_setup()
    jac = fn.jacrev(lambda p: fnp.tanh(x[0] @ p["w1"]))(params)
    assert jac["w1"].shape == (7, 5, 7) and not np.any(jac["w2"])
    assert fn.jacrev(lambda v: v[:0])(np.ones(3)).shape == (0, 3)
    assert fn.jacfwd(lambda v: v * 2)(np.ones(0)).shape == (0, 0)


# --- control flow, random, and keyword arguments ------------------------------------------------


def test_cond_with_a_shared_and_a_batched_predicate():
    x, s = np.random.default_rng(11).standard_normal((5, 3)), np.array([-1.0, 0.5, 2.0, -0.1, 0.0])
    f = lambda x, s: lax.cond(s > 0, lambda x: fnp.sin(x) * s, lambda x: x * 2.0, x)  # noqa: E731
    check = lambda args, axes: assert_close(fn.vmap(f, in_axes=axes)(*args), stacked(f, args, axes, 5))  # noqa: E731
    check((x, s), (0, 0))
    check((x[0], s), (None, 0))
    check((x, np.float64(0.3)), (0, None))
    check((x, np.float64(-0.3)), (0, None))
    per_example = fn.vmap(fn.grad(lambda x, s: fnp.sum(f(x, s))))(x, s)
    assert_close(per_example, stacked(fn.grad(lambda x, s: fnp.sum(f(x, s))), (x, s), (0, 0), 5))


def test_switch_with_a_batched_index_picks_each_examples_branch():
    x = np.random.default_rng(12).standard_normal((5, 3))
    index = np.array([0, 1, 2, 7, -3])  # clamped, as in JAX
    g = lambda x, i: lax.switch(i, [lambda x: x, lambda x: -x, lambda x: fnp.exp(x)], x)  # noqa: E731
    assert_close(fn.vmap(g)(x, index), stacked(g, (x, index), (0, 0), 5))


def test_scan_with_batched_carry_xs_and_constants():
    x, s = np.random.default_rng(13).standard_normal((4, 6)), np.array([0.5, -1.0, 0.9, 0.1])

    def cumulative(x, s):
        def body(c, xt):
            c = c * s + xt
            return c, c ** 2
        return lax.scan(body, fnp.zeros(()), x)

    for args, axes in [((x, s), (0, 0)), ((x.T.copy(), np.float64(0.5)), (1, None)), ((x[0], s), (None, 0))]:
        size = 4
        assert_close(fn.vmap(cumulative, in_axes=axes)(*args), stacked(cumulative, args, axes, size))
    per_example = fn.vmap(fn.grad(lambda x, s: fnp.sum(cumulative(x, s)[1]), argnums=(0, 1)))(x, s)
    expected = stacked(fn.grad(lambda x, s: fnp.sum(cumulative(x, s)[1]), argnums=(0, 1)), (x, s), (0, 0), 4)
    assert_close(per_example, expected)


def test_while_loop_with_a_batched_predicate_runs_until_all_are_done():
    x = np.array([0.1, 3.0, 20.0, 1.0])
    f = lambda x: lax.while_loop(lambda c: c[0] < 10.0, lambda c: (c[0] * 2.0 + 0.5, c[1] + 1), (x, 0))  # noqa: E731
    value, steps = fn.vmap(f)(x)
    expected = stacked(f, (x,), (0,), 4)
    assert_close((value, steps), expected)
    np.testing.assert_array_equal(steps, [5, 2, 0, 3])  # 0.1 -> 0.7, 1.9, 4.3, 9.1, 18.7
    count = lambda x, n: lax.fori_loop(0, n, lambda i, v: v * 1.5, x)  # noqa: E731
    assert_close(fn.vmap(count)(np.ones(5), np.arange(5)), 1.5 ** np.arange(5.0))


def test_random_draws_follow_each_examples_key():
    keys = random.split(random.key(0), 4)
    draws = fn.vmap(lambda k: random.normal(k, (3,)))(keys)
    np.testing.assert_array_equal(draws, np.stack([random.normal(k, (3,)) for k in keys]))
    shared = fn.vmap(lambda p: random.bernoulli(random.key(1), p, (5,)))(np.array([0.0, 1.0]))
    np.testing.assert_array_equal(shared, [[False] * 5, [True] * 5])
    x = np.ones((4, 10))
    dropped = fn.vmap(lambda k, x: nn.dropout(x, 0.5, key=k))(keys, x)
    np.testing.assert_array_equal(dropped, np.stack([nn.dropout(v, 0.5, key=k) for k, v in zip(keys, x)]))


def test_ensemble_init_and_apply_with_stacked_params():
    init, apply = nn.serial(nn.Dense(8), nn.Relu, nn.Dense(3))
    keys = random.split(random.key(3), 4)
    _, params = fn.vmap(lambda k: init(k, (-1, 5)), out_axes=(None, 0))(keys)
    x = np.random.default_rng(14).standard_normal((2, 5))
    outs = fn.vmap(apply, in_axes=(0, None))(params, x)
    for m in range(4):
        one = tree_util.tree_map(lambda p: p[m], params)
        assert_close(outs[m], apply(one, x), rtol=1e-6, atol=1e-6)
        assert_close(one, init(keys[m], (-1, 5))[1])


def test_keyword_arguments_are_mapped_over_axis_0_and_axes_follow_prefixes():
    f = lambda x, scale: x * scale  # noqa: E731
    out = fn.vmap(f)(np.ones((3, 2)), scale=np.arange(3.0))
    np.testing.assert_array_equal(out, np.ones((3, 2)) * np.arange(3.0)[:, None])
    tree = {"a": np.ones((2, 4)), "b": (np.ones((4, 3)), np.ones(3))}
    g = lambda t: t["a"].sum() + t["b"][0].sum() + t["b"][1].sum()  # noqa: E731
    out = fn.vmap(g, in_axes=({"a": 1, "b": (0, None)},))(tree)
    assert out.shape == (4,) and np.all(out == 2 + 3 + 3)
    pair = fn.vmap(lambda x: (x, x.sum()), out_axes=(1, 0))(np.ones((3, 2)))
    assert pair[0].shape == (2, 3) and pair[1].shape == (3,)
    const = fn.vmap(lambda x: 1.0, axis_size=None)(np.ones(4))
    np.testing.assert_array_equal(const, np.ones(4))
    np.testing.assert_array_equal(fn.vmap(lambda: fnp.ones(2), axis_size=3)(), np.ones((3, 2)))


# --- bad input ----------------------------------------------------------------------------------


def test_mismatched_axes_and_sizes_are_errors_that_name_them():
    x, y = np.ones((3, 2)), np.ones((4, 2))
    with pytest.raises(ValueError, match=r"different sizes \(argument 0 has 3, argument 1 has 4\)"):
        fn.vmap(lambda a, b: a + b)(x, y)
    with pytest.raises(ValueError, match=r"argument 0\['w'\] has 3, keyword argument scale has 4"):
        fn.vmap(lambda p, scale: p["w"] * scale)({"w": x}, scale=np.ones(4))
    with pytest.raises(ValueError, match=r"in_axes 2 is out of range for argument 0 of shape \(3, 2\)"):
        fn.vmap(lambda a: a, in_axes=2)(x)
    with pytest.raises(ValueError, match=r"in_axes does not match the structure at argument 0: .*dict"):
        fn.vmap(lambda t: t["a"], in_axes=({"b": 0},))({"a": x})
    with pytest.raises(ValueError, match=r"in_axes does not match.*tuple of 3.*tuple of 1"):
        fn.vmap(lambda a: a, in_axes=(0, 0, 0))(x)
    with pytest.raises(ValueError, match=r"out_axes is None for output 0, but that output differs"):
        fn.vmap(lambda a: a * 2, out_axes=None)(x)
    with pytest.raises(ValueError, match=r"out_axes 3 is out of range for output 0, of 1 dimensions"):
        fn.vmap(lambda a: a, out_axes=3)(x)
    with pytest.raises(ValueError, match="no argument is mapped.*axis_size"):
        fn.vmap(lambda a: a, in_axes=None)(x)
    with pytest.raises(ValueError, match="axis_size=5 but the mapped axes have size 3"):
        fn.vmap(lambda a: a, axis_size=5)(x)
    with pytest.raises(ValueError, match=r"in_axes 0 is out of range .*shape \(\)"):
        fn.vmap(lambda a: a)(np.float64(1.0))


def test_a_primitive_without_a_rule_is_named():
    prim = extend.Primitive("no_batch_rule_here", lambda x: x * 2)
    extend.def_abstract_eval(prim, extend.same_as_first)
    with pytest.raises(NotImplementedError, match="no_batch_rule_here.*def_batch"):
        fn.vmap(prim.bind)(np.ones((2, 3)))
    extend.def_batch(prim, extend.loop_batch_rule(prim))
    np.testing.assert_array_equal(fn.vmap(prim.bind)(np.ones((2, 3))), np.full((2, 3), 2.0))


def test_out_of_range_indices_inside_vmap_are_errors():
    with pytest.raises(IndexError):
        fn.vmap(lambda x, i: fnp.getitem(x, i), in_axes=(None, 0))(np.ones(3), np.array([0, 5]))


# --- oracles ------------------------------------------------------------------------------------


@settings(max_examples=15)
@given(program=programs(), seed=st.integers(0, 2**31 - 1), y_mapped=st.booleans())
def test_random_programs_match_jax_vmap(program, seed, y_mapped):
    jax = pytest.importorskip("jax", reason="JAX is not installed; pip install jax jaxlib to run this oracle")
    jax.config.update("jax_enable_x64", True)
    import jax.numpy as jnp

    rng = np.random.default_rng(seed)
    x = rng.uniform(-1.5, 1.5, (5, 3, 4))
    y = rng.uniform(-1.5, 1.5, (5, 3, 4) if y_mapped else (3, 4))
    axes = (0, 0 if y_mapped else None)
    f, g = build(program, fnp), build(program, jnp)
    np.testing.assert_allclose(fn.vmap(f, axes)(x, y), jax.vmap(g, axes)(x, y), rtol=1e-10, atol=1e-10)
    ours = fn.vmap(fn.grad(f, argnums=(0, 1)), axes)(x, y)
    theirs = jax.vmap(jax.grad(g, argnums=(0, 1)), axes)(x, y)
    for a, b in zip(ours, theirs):
        np.testing.assert_allclose(a, b, rtol=1e-9, atol=1e-9)


def test_per_example_gradients_match_torch_func():
    torch = pytest.importorskip("torch", reason="PyTorch is not installed; pip install torch==2.13.0")
    params, x, y = mlp_setup(8)

    def torch_loss(p, xb, yb):
        h = torch.tanh(xb @ p["w1"] + p["b1"])
        return torch.nn.functional.cross_entropy((h @ p["w2"])[None], yb[None])

    tp = {k: torch.tensor(v) for k, v in params.items()}
    theirs = torch.func.vmap(torch.func.grad(torch_loss), in_dims=(None, 0, 0))(tp, torch.tensor(x), torch.tensor(y))
    ours = fn.vmap(fn.grad(mlp_loss), in_axes=(None, 0, 0))(params, x, y)
    for k in params:
        np.testing.assert_allclose(ours[k], theirs[k].numpy(), rtol=1e-10, atol=1e-12)


def test_conv_per_example_gradients_match_jax():
    jax = pytest.importorskip("jax", reason="JAX is not installed; pip install jax jaxlib to run this oracle")
    jax.config.update("jax_enable_x64", True)
    rng = np.random.default_rng(15)
    x, w = rng.standard_normal((4, 1, 2, 6, 6)), rng.standard_normal((3, 2, 3, 3))

    def loss(m, w, x):
        out = m.conv_general_dilated(x, w, (2, 1), ((1, 1), (0, 2)), rhs_dilation=(1, 2))
        return (m.tanh(out) ** 2).sum() if m is not lax else fnp.sum(fnp.tanh(out) ** 2)

    ours = fn.vmap(fn.grad(lambda w, x: loss(lax, w, x)), in_axes=(None, 0))(w, x)
    theirs = jax.vmap(jax.grad(lambda w, x: loss(jax.lax, w, x)), in_axes=(None, 0))(w, x)
    np.testing.assert_allclose(ours, theirs, rtol=1e-10, atol=1e-10)


@settings(max_examples=10)
@given(program=programs(), seed=st.integers(0, 2**31 - 1))
def test_random_programs_match_torch_func_vmap(program, seed):
    torch = pytest.importorskip("torch", reason="PyTorch is not installed; pip install torch==2.13.0")
    from test_oracles import TorchNamespace

    rng = np.random.default_rng(seed)
    x, y = rng.uniform(-1.5, 1.5, (2, 5, 3, 4))
    f, g = build(program, fnp), build(program, TorchNamespace(torch))
    ours = fn.vmap(fn.grad(f, argnums=(0, 1)))(x, y)
    theirs = torch.func.vmap(torch.func.grad(g, argnums=(0, 1)))(torch.tensor(x), torch.tensor(y))
    for a, b in zip(ours, theirs):
        np.testing.assert_allclose(a, b.numpy(), rtol=1e-9, atol=1e-9)


def test_reading_one_examples_value_inside_vmap_is_an_error():
    from funcnn.extend import ConcretizationError

    with pytest.raises(ConcretizationError, match=r"bool\(\).*inside vmap.*differs between examples.*lax.cond"):
        fn.vmap(lambda x: x if x.sum() > 0 else -x)(np.ones((3, 2)))
    with pytest.raises(ConcretizationError, match="boolean mask.*inside vmap"):
        fn.vmap(lambda x, m: x[m])(np.ones((3, 2)), np.ones((3, 2), bool))
    with pytest.raises(ConcretizationError, match=r"float\(\).*inside vmap"):
        fn.vmap(lambda x: float(x))(np.ones(3))
    shared = fn.vmap(lambda x, s: x * 2 if s > 0 else x, in_axes=(0, None))(np.ones(3), np.float64(1.0))
    np.testing.assert_array_equal(shared, [2.0, 2.0, 2.0])  # a shared value is still an ordinary value


@pytest.mark.parametrize("dims", [(0, None), (0, 0), (None, 0)])
def test_scatter_add_with_broadcast_updates_batches(dims):
    """Updates of fewer axes than the indexed block broadcast, batched or not, as without vmap."""
    def f(u, i):
        return fnp.scatter_add(u, (slice(None), i), (4, 3))

    rng = np.random.default_rng(0)
    u, idx = rng.standard_normal((2, 3)), np.array([[1, 1, 2], [0, 2, 2]])
    us = u if dims[0] == 0 else [u[0]] * 2
    ids = idx if dims[1] == 0 else [idx[0]] * 2
    expected = np.stack([f(a, b) for a, b in zip(us, ids)])
    got = fn.vmap(f, in_axes=dims)(u if dims[0] == 0 else u[0], idx if dims[1] == 0 else idx[0])
    np.testing.assert_allclose(got, expected)
