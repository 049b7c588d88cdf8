"""The transforms on pytrees, their composition, and the conventions they promise."""
from typing import NamedTuple

import numpy as np
import pytest

import funcnn as fn
import funcnn.numpy as fnp
from funcnn.testing import assert_trees_allclose, check_grads, numerical_grad


def loss(params, x):
    hidden = fnp.tanh(x @ params["w"] + params["b"])
    return fnp.mean(hidden ** 2) + 0.1 * fnp.sum(params["w"] ** 2)


@pytest.fixture
def params():
    rng = np.random.default_rng(0)
    return {"w": rng.standard_normal((3, 2)), "b": rng.standard_normal(2)}


@pytest.fixture
def x():
    return np.random.default_rng(1).standard_normal((4, 3))


def test_grad_of_dict_params_matches_finite_differences(params, x):
    grads = fn.grad(loss)(params, x)
    assert set(grads) == {"w", "b"}
    assert_trees_allclose(grads, numerical_grad(loss, (params, x)), atol=1e-7, rtol=1e-6)


def test_argnums_tuple_and_value_and_grad(params, x):
    value, (g_params, g_x) = fn.value_and_grad(loss, argnums=(0, 1))(params, x)
    assert value == pytest.approx(loss(params, x))
    assert_trees_allclose(g_x, numerical_grad(loss, (params, x), argnum=1), atol=1e-7, rtol=1e-6)
    assert_trees_allclose(g_params, fn.grad(loss)(params, x))


def test_negative_argnums_and_kwargs(params, x):
    g = fn.grad(lambda x, params, scale=1.0: scale * loss(params, x), argnums=-1)(x, params, scale=2.0)
    assert_trees_allclose(g, fn.tree_util.tree_map(lambda a: 2 * a, fn.grad(loss)(params, x)))


def test_has_aux_returns_plain_aux(params, x):
    def with_aux(p, x):
        value = loss(p, x)
        return value, {"value": value, "n": 3}

    grads, aux = fn.grad(with_aux, has_aux=True)(params, x)
    assert isinstance(aux["value"], (np.ndarray, np.generic)) and aux["n"] == 3
    assert_trees_allclose(grads, fn.grad(loss)(params, x))
    (value, aux2), _ = fn.value_and_grad(with_aux, has_aux=True)(params, x)
    assert value == aux2["value"]


class Pair(NamedTuple):
    a: np.ndarray
    b: np.ndarray


def test_namedtuple_and_list_inputs_and_outputs():
    p = Pair(np.array([1.0, 2.0]), np.array(3.0))
    g = fn.grad(lambda p: fnp.sum(p.a * p.b))(p)
    assert isinstance(g, Pair)
    np.testing.assert_allclose(g.a, [3.0, 3.0])
    np.testing.assert_allclose(g.b, 3.0)
    out, f_vjp = fn.vjp(lambda xs: [xs[0] * 2, {"s": fnp.sin(xs[1])}], [np.array(1.0), np.array(0.0)])
    (ct,) = f_vjp([np.array(1.0), {"s": np.array(1.0)}])
    np.testing.assert_allclose(ct, [2.0, 1.0])


def test_jvp_on_pytrees(params, x):
    tangents = fn.tree_util.tree_map(np.ones_like, params)
    value, tangent = fn.jvp(lambda p: loss(p, x), (params,), (tangents,))
    g = fn.grad(loss)(params, x)
    expected = sum(np.sum(g[k]) for k in g)
    assert value == pytest.approx(loss(params, x))
    assert tangent == pytest.approx(expected)


def test_jacobians_agree_and_have_jax_layout():
    def f(x, y):
        return {"u": fnp.sin(x) * y[0], "v": fnp.stack([x.sum(), y.prod()])}

    x, y = np.array([0.3, -0.2, 0.5]), np.array([1.5, 2.0])
    jr = fn.jacrev(f, argnums=(0, 1))(x, y)
    jf = fn.jacfwd(f, argnums=(0, 1))(x, y)
    assert_trees_allclose(jr, jf, atol=1e-12)
    assert jr["u"][0].shape == (3, 3) and jr["u"][1].shape == (3, 2)
    assert jr["v"][0].shape == (2, 3) and jr["v"][1].shape == (2, 2)
    np.testing.assert_allclose(jr["u"][0], np.diag(np.cos(x) * y[0]))


def test_hessian_of_quadratic_form():
    a = np.array([[2.0, 1.0], [1.0, 3.0]])
    h = fn.hessian(lambda x: 0.5 * x @ a @ x + fnp.sum(x))(np.array([0.1, -0.3]))
    np.testing.assert_allclose(h, a, atol=1e-12)


def test_composition_to_depth_four():
    # d^4/dx^4 sin(x) = sin(x); any mix of modes gives the same answer
    x = 0.7
    g = fn.grad
    d4 = g(g(g(g(fnp.sin))))(x)
    mixed = fn.jacfwd(fn.jacrev(fn.jacfwd(g(fnp.sin))))(np.array(x))
    assert d4 == pytest.approx(np.sin(x))
    assert mixed == pytest.approx(np.sin(x))


def test_jvp_of_grad_is_hessian_vector_product(params, x):
    v = fn.tree_util.tree_map(np.ones_like, params)
    _, hvp = fn.jvp(lambda p: fn.grad(loss)(p, x), (params,), (v,))
    eps = 1e-6
    plus = fn.grad(loss)(fn.tree_util.tree_map(lambda a, t: a + eps * t, params, v), x)
    minus = fn.grad(loss)(fn.tree_util.tree_map(lambda a, t: a - eps * t, params, v), x)
    fd = fn.tree_util.tree_map(lambda p, m: (p - m) / (2 * eps), plus, minus)
    assert_trees_allclose(hvp, fd, atol=1e-6, rtol=1e-5)


def test_no_perturbation_confusion():
    # Siskind & Pearlmutter's example: d/dx [x * d/dy (x + y)] = 1, not 2
    assert fn.grad(lambda x: x * fn.grad(lambda y: x + y)(1.0))(3.0) == pytest.approx(1.0)
    # the inner transform closes over the outer traced value
    f = lambda x: fn.grad(lambda y: fnp.sin(x * y))(2.0)  # noqa: E731   = x cos(2x)
    assert fn.grad(f)(0.4) == pytest.approx(np.cos(0.8) - 0.8 * np.sin(0.8))
    # forward inside reverse and reverse inside forward
    h = lambda x: fn.jvp(lambda y: x * y ** 2, (np.array(1.5),), (np.array(1.0),))[1]  # noqa: E731
    assert fn.grad(h)(np.array(0.5)) == pytest.approx(3.0)


def test_stop_gradient_stops_every_order():
    f = lambda x: x ** 2 * fn.stop_gradient(x ** 3)  # noqa: E731
    assert fn.grad(f)(2.0) == pytest.approx(2 * 2.0 * 8)
    assert fn.grad(fn.grad(f))(2.0) == pytest.approx(2 * 8)
    assert fn.jvp(f, (np.array(2.0),), (np.array(1.0),))[1] == pytest.approx(32.0)


def test_custom_vjp_replaces_the_derivative_and_composes():
    @fn.custom_vjp
    def scaled_identity(x):
        return x

    scaled_identity.defvjp(lambda x: (x, None), lambda res, g: (3.0 * g,))
    assert fn.grad(lambda x: fnp.sum(scaled_identity(x) * 2))(np.ones(2)).tolist() == [6.0, 6.0]

    @fn.custom_vjp
    def safe_log_pair(x, y):
        return {"a": fnp.log(x), "b": x * y}

    safe_log_pair.defvjp(lambda x, y: (safe_log_pair.fun(x, y), (x, y)),
                         lambda res, g: (g["a"] / res[0] + g["b"] * res[1], g["b"] * res[0]))
    f = lambda x, y: fnp.sum(safe_log_pair(x, y)["a"] ** 2 + safe_log_pair(x, y)["b"])  # noqa: E731
    ref = lambda x, y: fnp.sum(fnp.log(x) ** 2 + x * y)  # noqa: E731
    args = (np.array([0.5, 2.0]), np.array([1.0, -1.0]))
    assert_trees_allclose(fn.grad(f, (0, 1))(*args), fn.grad(ref, (0, 1))(*args), atol=1e-12)
    # an outer transform differentiates through fwd and bwd
    assert_trees_allclose(fn.jacrev(fn.grad(lambda x: f(x, args[1])))(args[0]),
                          fn.jacrev(fn.grad(lambda x: ref(x, args[1])))(args[0]), atol=1e-10)


def test_custom_vjp_errors():
    @fn.custom_vjp
    def f(x):
        return x

    with pytest.raises(TypeError, match="defvjp"):
        f(1.0)
    f.defvjp(lambda x: (x, None), lambda res, g: g)
    with pytest.raises(TypeError, match="one cotangent per"):
        fn.grad(f)(1.0)
    with pytest.raises(TypeError, match="forward-mode"):
        fn.jvp(f, (np.array(1.0),), (np.array(1.0),))


# --- conventions ---------------------------------------------------------------------------


def test_dtypes_are_preserved_and_scalars_do_not_upcast():
    x = np.array([0.5, -1.5], dtype=np.float32)
    f = lambda x: fnp.sum(fnp.exp(x * 2.0 + 1) / 3.0)  # noqa: E731
    assert f(x).dtype == np.float32
    assert fn.grad(f)(x).dtype == np.float32
    assert fn.grad(fn.grad(lambda s: s ** 3.0))(np.float32(2.0)).dtype == np.float32
    mixed = fn.grad(lambda a, b: fnp.sum(a * b), argnums=(0, 1))(x, x.astype(np.float64))
    assert mixed[0].dtype == np.float32 and mixed[1].dtype == np.float64
    _, t = fn.jvp(f, (x,), (np.ones(2, np.float32),))
    assert t.dtype == np.float32


def test_integer_inputs_are_refused_by_name():
    with pytest.raises(TypeError, match=r"\['b'\].*int64"):
        fn.grad(lambda p: fnp.sum(p["w"]))({"w": np.ones(2), "b": np.arange(2)})
    with pytest.raises(TypeError, match="bool"):
        fn.jvp(lambda x: x, (np.array([True]),), (np.array([True]),))


def test_non_differentiable_ops_give_zero_gradient():
    x = np.array([0.3, -1.2, 2.5])
    f = lambda x: fnp.sum(fnp.floor(x) + fnp.sign(x) + (x > 0) + fnp.argmax(x) + fnp.round(x))  # noqa: E731
    np.testing.assert_array_equal(fn.grad(f)(x), np.zeros(3))


def test_documented_conventions_at_ties_and_kinks():
    np.testing.assert_allclose(fn.grad(lambda x: fnp.sum(fnp.abs(x)))(np.array([0.0, -2.0])), [0.0, -1.0])
    np.testing.assert_allclose(fn.grad(lambda x: fnp.max(x))(np.array([1.0, 3.0, 3.0])), [0.0, 0.5, 0.5])
    np.testing.assert_allclose(fn.grad(lambda x: fnp.maximum(x, 0.0))(np.array(0.0)), 0.5)
    np.testing.assert_allclose(fn.grad(lambda x: fnp.sum(fnp.clip(x, 0.0, 1.0)))(np.array([0.0, 1.0, 2.0])),
                               [1.0, 1.0, 0.0])
    np.testing.assert_allclose(fn.grad(lambda x: fnp.prod(x))(np.array([0.0, 2.0, 3.0])), [6.0, 0.0, 0.0])


def test_repeated_indices_accumulate():
    g = fn.grad(lambda x: fnp.sum(x[np.array([0, 0, 2, 0])] * np.array([1.0, 2.0, 3.0, 4.0])))(np.zeros(3))
    np.testing.assert_allclose(g, [7.0, 0.0, 3.0])


def test_numpy_functions_dispatch_on_traced_values():
    f = lambda x: np.sum(np.exp(x) * np.ones(2))  # noqa: E731
    np.testing.assert_allclose(fn.grad(f)(np.array([0.0, 1.0])), np.exp([0.0, 1.0]))
    with pytest.raises(TypeError, match="cannot become a NumPy array"):
        fn.grad(lambda x: np.asarray(x).sum())(np.ones(2))


def test_control_flow_on_concrete_values():
    def f(x):
        while fnp.sum(x) < 10:
            x = x * 2
        return fnp.sum(x) if x[0] > 0 else -fnp.sum(x)

    np.testing.assert_allclose(fn.grad(f)(np.array([1.0, 2.0])), [4.0, 4.0])


# --- errors ----------------------------------------------------------------------------------


def test_grad_of_non_scalar_names_the_shape():
    with pytest.raises(TypeError, match=r"scalar output.*\(3,\).*jacrev"):
        fn.grad(lambda x: x * 2)(np.ones(3))


def test_argnums_out_of_range():
    with pytest.raises(ValueError, match="argnums 2 is out of range.*2 positional"):
        fn.grad(lambda a, b: a * b, argnums=2)(1.0, 2.0)


def test_leaf_that_is_not_an_array():
    with pytest.raises(TypeError, match=r"\['name'\] is a str"):
        fn.grad(lambda p: p["w"] ** 2)({"w": 1.0, "name": "layer"})


def test_shape_mismatch_errors_show_both_shapes():
    with pytest.raises(ValueError, match=r"matmul.*\(2, 3\) and \(4, 5\)"):
        fn.grad(lambda a: fnp.sum(a @ np.ones((4, 5))))(np.ones((2, 3)))
    with pytest.raises(ValueError, match=r"add.*\(3,\), \(4,\)"):
        fnp.add(np.ones(3), np.ones(4))


def test_vjp_cotangent_checks():
    _, f_vjp = fn.vjp(lambda x: x * 2, np.ones(3))
    with pytest.raises(ValueError, match=r"shape \(2,\).*shape \(3,\)"):
        f_vjp(np.ones(2))


def test_debug_nans_names_the_primitive_forward_and_backward():
    fn.config.update("debug_nans", True)
    try:
        with pytest.raises(FloatingPointError, match="result of log"):
            with np.errstate(all="ignore"):
                fnp.log(np.array([-1.0]))
        with pytest.raises(FloatingPointError, match="VJP of sqrt"):
            with np.errstate(all="ignore"):
                fn.grad(lambda x: fnp.sum(fnp.sqrt(x)))(np.array([0.0, 1.0]))
    finally:
        fn.config.update("debug_nans", False)
    with pytest.raises(AttributeError, match="debug_nans"):
        fn.config.update("debug_nan", True)


def test_escaped_tracer_is_reported():
    leaked = []
    fn.grad(lambda x: leaked.append(x * 2) or x)(1.0)
    with pytest.raises(RuntimeError, match="finished transform"):
        fn.grad(lambda y: leaked[0] * y)(1.0)


# --- scale -----------------------------------------------------------------------------------


def test_ten_thousand_op_chain_in_both_modes():
    def chain(x):
        for _ in range(10_000):
            x = x * 1.0001 + 1e-5
        return fnp.sum(x)

    x = np.ones(3)
    np.testing.assert_allclose(fn.grad(chain)(x), np.full(3, 1.0001 ** 10_000), rtol=1e-9)
    np.testing.assert_allclose(fn.jvp(chain, (x,), (np.ones(3),))[1], 3 * 1.0001 ** 10_000, rtol=1e-9)


def test_graph_is_freed_after_the_backward_pass():
    import gc
    import weakref

    from funcnn._src import reverse

    nodes = []
    original = reverse.Node.__init__

    def recording_init(self, *args):
        original(self, *args)
        nodes.append(weakref.ref(self))

    reverse.Node.__init__ = recording_init
    try:
        fn.grad(lambda x: fnp.sum(fnp.tanh(x @ x.T)))(np.ones((3, 3)))
    finally:
        reverse.Node.__init__ = original
    assert nodes and all(ref() is None for ref in nodes), "graph nodes survived the gradient call"
    gc.collect()


def test_check_grads_catches_a_wrong_rule():
    from funcnn.extend import Primitive, def_jvp, def_vjp

    bad = Primitive("bad_sin", np.sin)
    def_vjp(bad, lambda ans, x: lambda g: g * fnp.cos(x) * 1.01)
    def_jvp(bad, lambda t, ans, x: t * fnp.cos(x))
    check_grads(bad.bind, (np.array([0.3, 1.0]),), order=1, modes=("fwd",))
    with pytest.raises(AssertionError, match="reverse mode"):
        check_grads(bad.bind, (np.array([0.3, 1.0]),), order=1, modes=("rev",))
    from funcnn._src.core import PRIMITIVES

    PRIMITIVES.remove(bad)


def test_transforms_in_threads_do_not_interfere():
    from concurrent.futures import ThreadPoolExecutor

    def work(seed):
        x = np.random.default_rng(seed).standard_normal(5)
        f = lambda x: fnp.sum(fnp.sin(x) ** 2)  # noqa: E731
        for _ in range(200):
            g = fn.grad(fn.grad(lambda s: f(x * s)))(1.0)
        return g, x

    with ThreadPoolExecutor(4) as pool:
        results = list(pool.map(work, range(8)))
    for g, x in results:
        # d^2/ds^2 sum sin(s x)^2 at s = 1 is sum(2 x^2 cos(2x))
        assert g == pytest.approx(np.sum(2 * x ** 2 * np.cos(2 * x)))


def test_errors_name_the_primitive_by_its_public_module():
    from funcnn.lax._conv import _conv_p

    with pytest.raises(ValueError, match=r"^funcnn\.numpy\.add:"):
        fnp.add(np.ones(3), np.ones(4))
    assert _conv_p.module.split("._")[0] == "funcnn.lax"


def test_a_value_returned_twice_gets_both_cotangents():
    same = fn.vjp(lambda x: [fnp.tanh(x)] * 3, np.array([0.5]))[1]
    np.testing.assert_allclose(same([np.ones(1)] * 3)[0], 3 * (1 - np.tanh(0.5) ** 2))
    np.testing.assert_allclose(fn.grad(lambda x: sum(fnp.sum(y) for y in [fnp.sin(x)] * 2))(np.array([0.2])),
                               2 * np.cos([0.2]))
