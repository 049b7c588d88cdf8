"""Structured control flow: cond, switch, while_loop, fori_loop, scan. Values and derivatives
against plain Python loops, replays and jit against eager bit for bit, errors, long loops,
and JAX's lax where it is installed."""
import tracemalloc

import numpy as np
import pytest

import funcnn as fn
import funcnn.numpy as fnp
from funcnn import lax
from funcnn.testing import check_grads

from test_graph import assert_same_bits

RNG = np.random.default_rng(0)


def rnn(w, u, xs, h0):
    """A small recurrent net as a scan: h = tanh(h W + x U), y = sum(h)."""
    def step(h, x):
        h = fnp.tanh(h @ w + x @ u)
        return h, fnp.sum(h ** 2)
    return lax.scan(step, h0, xs)


def rnn_by_hand(w, u, xs, h0):
    h, ys = h0, []
    for x in xs:
        h = fnp.tanh(h @ w + x @ u)
        ys.append(fnp.sum(h ** 2))
    return h, fnp.stack(ys)


W, U = RNG.standard_normal((3, 3)) * 0.5, RNG.standard_normal((2, 3)) * 0.5
XS, H0 = RNG.standard_normal((5, 2)), RNG.standard_normal(3) * 0.1


# --- scan ------------------------------------------------------------------------------------------


def test_scan_matches_a_python_loop_eagerly_traced_and_jitted():
    expected = rnn_by_hand(W, U, XS, H0)
    assert_same_bits(rnn(W, U, XS, H0), expected)
    assert_same_bits(fn.jit(rnn)(W, U, XS, H0), expected)
    assert_same_bits(fn.make_graph(rnn)(W, U, XS, H0)(W, U, XS, H0), expected)


def test_scan_derivatives_match_the_unrolled_loop():
    loss = lambda f: lambda w, u, xs, h0: fnp.sum(f(w, u, xs, h0)[1]) + fnp.sum(f(w, u, xs, h0)[0])  # noqa: E731
    args = (W, U, XS, H0)
    grads = fn.grad(loss(rnn), argnums=(0, 1, 2, 3))(*args)
    expected = fn.grad(loss(rnn_by_hand), argnums=(0, 1, 2, 3))(*args)
    for g, e in zip(grads, expected):
        np.testing.assert_allclose(g, e, rtol=1e-12, atol=1e-14)
    check_grads(loss(rnn), args, order=2, modes=("fwd", "rev"))
    assert_same_bits(fn.jit(fn.grad(loss(rnn), argnums=(0, 1)))(*args), fn.grad(loss(rnn), argnums=(0, 1))(*args))


def test_scan_gradient_reaches_closed_over_weights():
    """The body closes over ``w``, which ``grad`` traces: it becomes an operand of the loop."""
    def loss(w):
        carry, ys = lax.scan(lambda h, x: (fnp.tanh(h * w + x), h * w), np.zeros(3), XS[:, :1] * np.ones(3))
        return fnp.sum(ys) + fnp.sum(carry)

    def by_hand(w):
        h, total = np.zeros(3), 0.0
        for x in XS[:, :1] * np.ones(3):
            total = total + fnp.sum(h * w)
            h = fnp.tanh(h * w + x)
        return total + fnp.sum(h)

    w = np.array([0.5, -0.3, 0.8])
    np.testing.assert_allclose(fn.grad(loss)(w), fn.grad(by_hand)(w), rtol=1e-12)
    check_grads(loss, (w,), order=2)


def test_scan_reverse_pytrees_and_no_xs():
    xs = {"a": np.arange(4.0), "b": np.ones((4, 2))}
    carry, ys = lax.scan(lambda c, x: ((c[0] + x["a"], c[1] * 2), {"s": c[0] * x["b"]}), (0.0, 1.0), xs,
                         reverse=True)
    assert float(carry[0]) == 6.0 and float(carry[1]) == 16.0
    np.testing.assert_array_equal(ys["s"][:, 0], [6.0, 5.0, 3.0, 0.0])  # ys in the order of xs
    count, _ = lax.scan(lambda c, _: (c + 1, None), np.int32(0), None, length=7)
    assert int(count) == 7
    traced = fn.jit(lambda xs: lax.scan(lambda c, x: (c + x["a"], c * x["b"]), 0.0, xs, reverse=True))
    assert_same_bits(traced(xs), lax.scan(lambda c, x: (c + x["a"], c * x["b"]), 0.0, xs, reverse=True))


def test_scan_errors_name_the_problem():
    with pytest.raises(TypeError, match=r"carry at \[1\] goes in as f64\[\] but comes out of f as f64\[2\]"):
        lax.scan(lambda c, x: ((c[0], c[1] + x), None), (0.0, 0.0), np.ones((3, 2)))
    with pytest.raises(TypeError, match="f32"):
        fn.jit(lambda xs: lax.scan(lambda c, x: (c + x, None), np.float32(0), xs))(np.ones(3))
    with pytest.raises(ValueError, match=r"different leading lengths.*\['a'\]: \(3,\).*\['b'\]: \(4,\)"):
        lax.scan(lambda c, x: (c, None), 0.0, {"a": np.ones(3), "b": np.ones(4)})
    with pytest.raises(ValueError, match="length=5 but xs has leading length 3"):
        lax.scan(lambda c, x: (c, None), 0.0, np.ones(3), length=5)
    with pytest.raises(TypeError, match="pair"):
        lax.scan(lambda c, x: c, 0.0, np.ones(3))


def test_a_long_scan_runs_without_recursion_or_growing_memory():
    step = lambda c, x: (c * 0.9999 + x, None)  # noqa: E731
    xs = np.ones(10_000)
    tracemalloc.start()
    try:
        carry, _ = fn.jit(lambda xs: lax.scan(step, 0.0, xs))(xs)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert np.isclose(float(carry), (1 - 0.9999 ** 10_000) / 1e-4)
    assert peak < 4 << 20
    g = fn.grad(lambda s: lax.scan(lambda c, x: (c * s + x, None), 0.0, xs)[0])(0.9999)
    assert np.isfinite(g) and g > 0


# --- cond and switch ---------------------------------------------------------------------------------


def _branchy(x):
    return lax.cond(fnp.sum(x) > 0, lambda v: fnp.sin(v) * v, lambda v: -(v ** 3), x)


@pytest.mark.parametrize("sign", [1.0, -1.0])
def test_cond_values_derivatives_and_replays(sign):
    x = sign * np.array([0.4, 1.3])
    expected = np.sin(x) * x if sign > 0 else -(x ** 3)
    np.testing.assert_allclose(_branchy(x), expected)
    assert_same_bits(fn.jit(_branchy)(x), _branchy(x))
    assert_same_bits(fn.make_graph(_branchy)(np.ones(2))(x), _branchy(x))  # traced on one sign, run on the other
    check_grads(_branchy, (x,), order=2, modes=("fwd", "rev"))
    assert_same_bits(fn.jit(fn.grad(lambda x: fnp.sum(_branchy(x))))(x), fn.grad(lambda x: fnp.sum(_branchy(x)))(x))


def test_switch_clamps_and_closes_over_traced_values():
    branches = [lambda x: x + 1.0, lambda x: x * 2.0, lambda x: x ** 2]
    f = fn.jit(lambda i, x: lax.switch(i, branches, x))
    x = np.array([3.0])
    for i, want in [(-5, 4.0), (0, 4.0), (1, 6.0), (2, 9.0), (9, 9.0)]:
        assert float(f(np.int32(i), x)[0]) == want
    g = fn.grad(lambda s: fnp.sum(lax.switch(1, [lambda v: v * s, lambda v: v * s * s], x)))(3.0)
    assert float(g) == 18.0  # d/ds 3 s^2 at s = 3: the closed-over s is an operand of the switch


def test_cond_errors_name_the_difference():
    with pytest.raises(TypeError, match=r"true_fun returns f64\[\] at the output, but false_fun returns f64\[2\]"):
        fn.jit(lambda x: lax.cond(x[0] > 0, lambda v: fnp.sum(v), lambda v: v, x))(np.ones(2))
    with pytest.raises(TypeError, match="structure"):
        fn.jit(lambda x: lax.cond(x[0] > 0, lambda v: (v, v), lambda v: v, x))(np.ones(2))
    with pytest.raises(TypeError, match="pred must be a scalar"):
        lax.cond(np.ones(2) > 0, lambda v: v, lambda v: v, np.ones(2))
    with pytest.raises(TypeError, match="index must be an integer scalar"):
        lax.switch(np.array(1.5), [lambda v: v], np.ones(2))


# --- while_loop and fori_loop ------------------------------------------------------------------------


def test_while_loop_values_forward_derivative_and_its_reverse_mode_error():
    def power_until(x):
        return lax.while_loop(lambda c: c[0] < 5, lambda c: (c[0] + 1, c[1] * x), (np.array(0), np.array(1.0)))[1]

    x = np.array(1.5)
    assert float(power_until(x)) == 1.5 ** 5
    assert_same_bits(fn.jit(power_until)(x), power_until(x))
    np.testing.assert_allclose(fn.jvp(power_until, (x,), (np.array(1.0),))[1], 5 * 1.5 ** 4)
    with pytest.raises(TypeError, match="reverse-mode.*while_loop.*scan"):
        fn.grad(power_until)(x)
    with pytest.raises(TypeError, match="cond_fun must return a scalar"):
        fn.jit(lambda x: lax.while_loop(lambda v: v < 3, lambda v: v + 1, x))(np.zeros(2))
    with pytest.raises(TypeError, match="goes in as i64\\[\\] but body_fun returns f64\\[\\]"):
        lax.while_loop(lambda v: v < 3, lambda v: v + 0.5, np.array(0))


def test_a_long_while_loop_runs_without_recursion():
    count = fn.jit(lambda n: lax.while_loop(lambda c: c < n, lambda c: c + 1, np.array(0)))
    assert int(count(np.array(10_000))) == 10_000


def test_fori_loop_static_bounds_are_reverse_differentiable():
    f = lambda x: lax.fori_loop(0, 4, lambda i, v: v * x + i, np.array(1.0))  # noqa: E731
    by_hand = lambda x: (((x + 0) * x + 1) * x + 2) * x + 3  # noqa: E731
    x = np.array(0.7)
    assert float(f(x)) == pytest.approx(float(by_hand(x)))
    np.testing.assert_allclose(fn.grad(f)(x), fn.grad(by_hand)(x))
    assert_same_bits(fn.jit(f)(x), f(x))
    traced_bounds = fn.jit(lambda n, x: lax.fori_loop(0, n, lambda i, v: v * x, np.array(1.0)))
    assert float(traced_bounds(np.int32(3), x)) == pytest.approx(0.7 ** 3)


def test_every_control_flow_primitive_has_its_rules():
    from funcnn import extend
    from funcnn.lax import _cond, _loops

    for prim in (_cond.switch_p, _loops.scan_p, _loops.while_p):
        assert extend.has_abstract_eval(prim) and extend.has_jvp(prim) and extend.is_differentiable(prim)


# --- JAX as an oracle -------------------------------------------------------------------------------


def test_against_jax_lax():
    jax = pytest.importorskip("jax")
    jax.config.update("jax_enable_x64", True)
    jnp, jlax = jax.numpy, jax.lax

    def ours(w, xs):
        carry, ys = lax.scan(lambda h, x: (fnp.tanh(h * w + x), fnp.sin(h) * x), np.zeros(3), xs)
        branch = lax.cond(fnp.sum(carry) > 0, lambda v: v * 2.0, lambda v: v - 1.0, carry)
        return fnp.sum(ys) + fnp.sum(branch)

    def theirs(w, xs):
        carry, ys = jlax.scan(lambda h, x: (jnp.tanh(h * w + x), jnp.sin(h) * x), jnp.zeros(3), xs)
        branch = jlax.cond(jnp.sum(carry) > 0, lambda v: v * 2.0, lambda v: v - 1.0, carry)
        return jnp.sum(ys) + jnp.sum(branch)

    for seed in range(5):
        rng = np.random.default_rng(seed)
        w, xs = rng.standard_normal(3), rng.standard_normal((6, 3))
        np.testing.assert_allclose(ours(w, xs), theirs(w, xs), rtol=1e-12)
        for g, h in zip(fn.grad(ours, argnums=(0, 1))(w, xs), jax.grad(theirs, argnums=(0, 1))(w, xs)):
            np.testing.assert_allclose(g, np.asarray(h), rtol=1e-10, atol=1e-12)


def test_scan_reverse_mode_computes_each_step_once():
    """The forward scan keeps the residuals its backward pass needs, instead of the backward
    pass recomputing every step (a user primitive counts its calls)."""
    from funcnn import extend

    calls = []

    def impl(x):
        calls.append(1)
        return np.sin(x)

    counted = extend.Primitive("counted_sin", impl)
    extend.def_abstract_eval(counted, lambda x: x)
    extend.def_elementwise(counted, lambda g, ans, x: g * fnp.cos(x))

    def f(w, xs):
        carry, ys = lax.scan(lambda c, x: (counted.bind(c * w + x), c), np.array(0.3), xs)
        return carry + fnp.sum(ys)

    w, xs = np.array(0.9), np.linspace(-1.0, 1.0, 5)
    grads = fn.grad(f, argnums=(0, 1))(w, xs)
    assert len(calls) == 5
    eps = 1e-6
    numeric = (f(w + eps, xs) - f(w - eps, xs)) / (2 * eps)
    np.testing.assert_allclose(grads[0], numeric, rtol=1e-6)
    calls.clear()
    fn.jit(fn.grad(f))(w, xs)
    fn.jit(fn.grad(f))(w, xs)
    assert len(calls) == 10  # 5 per call of the compiled gradient
