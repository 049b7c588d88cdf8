"""jit: compiled once per signature, replayed from a generated plan, bit for bit the eager result."""
import logging
import pathlib
import runpy

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

import funcnn as fn
import funcnn.numpy as fnp
from funcnn import losses, optim, random, tree_util
from funcnn._src import passes
from funcnn.extend import ConcretizationError

from test_activations import ALL as ACTIVATIONS
from test_graph import LAX, assert_same_bits
from test_losses import GRAD_CASES as LOSSES
from test_numpy_grads import TABLE

ROOT = pathlib.Path(__file__).resolve().parent.parent


def jits_exactly(f, *args):
    jitted = fn.jit(f)
    assert_same_bits(jitted(*args), f(*args))
    assert_same_bits(jitted(*args), f(*args))  # the cached plan, a second time
    return jitted


# --- bit for bit ----------------------------------------------------------------------------------


@pytest.mark.parametrize("name, f, args, reference, options", TABLE, ids=[row[0] for row in TABLE])
@given(data=st.data())
def test_jit_equals_eager_for_every_numpy_primitive(name, f, args, reference, options, data):
    drawn = data.draw(args)
    for dtype in (np.float64, np.float32):
        inputs = tuple(a.astype(dtype) for a in drawn)
        jits_exactly(f, *inputs)
        jits_exactly(fn.grad(lambda *a: fnp.sum(f(*a) ** 2), argnums=tuple(range(len(inputs)))), *inputs)


@pytest.mark.parametrize("name, f, shapes", LAX, ids=[row[0] for row in LAX])
def test_jit_equals_eager_for_lax(name, f, shapes):
    rng = np.random.default_rng(0)
    args = tuple(rng.standard_normal(s).astype(np.float32) for s in shapes)
    jits_exactly(f, *args)
    jits_exactly(fn.value_and_grad(lambda *a: fnp.sum(fnp.tanh(f(*a))), argnums=tuple(range(len(args)))), *args)


@pytest.mark.parametrize("name, f", ACTIVATIONS, ids=[a[0] for a in ACTIVATIONS])
def test_jit_equals_eager_for_every_activation(name, f):
    x = np.random.default_rng(5).standard_normal((3, 4)).astype(np.float32) * 3
    x[0, :2] = 0.0
    jits_exactly(fn.value_and_grad(lambda x: fnp.sum(f(x) ** 2)), x)


@pytest.mark.parametrize("name, f, x", LOSSES, ids=[c[0] for c in LOSSES])
def test_jit_equals_eager_for_every_loss(name, f, x):
    jits_exactly(fn.value_and_grad(lambda x: fnp.sum(f(x))), x)


@pytest.mark.parametrize("name", ["mlp", "cnn"])
def test_jit_equals_eager_for_the_example_models(name):
    model = runpy.run_path(str(ROOT / "examples" / "models.py"))[name]()
    _, params, state = model.init_with_state(random.key(0), (-1, 1, 28, 28))
    optimizer = optim.adam(1e-3)
    x = np.asarray(random.normal(random.key(1), (8, 1, 28, 28)))
    labels = np.arange(8) % 10

    def step(params, opt_state, state, key):
        key, sub = random.split(key)

        def loss(params):
            logits, new_state = model.apply(params, x, key=sub, train=True, state=state)
            return losses.cross_entropy(logits, labels), new_state

        (value, state), grads = fn.value_and_grad(loss, has_aux=True)(params)
        updates, opt_state = optimizer.update(grads, opt_state, params)
        return optim.apply_updates(params, updates), opt_state, state, key, value

    jitted = fn.jit(step)
    eager = jit_state = (params, optimizer.init(params), state, random.key(2))
    for _ in range(3):
        *eager, eager_loss = step(*eager)
        *jit_state, jit_loss = jitted(*jit_state)
        assert_same_bits((jit_state, jit_loss), (eager, eager_loss))
    assert jitted.cache_size() == 1


# --- the cache --------------------------------------------------------------------------------------


def _counting():
    traces = []

    def f(x, y):
        traces.append(1)
        return x * y + 1.0

    return f, traces


def test_one_trace_per_signature():
    f, traces = _counting()
    jitted = fn.jit(f)
    x = np.ones(3, np.float32)
    for _ in range(3):
        jitted(x, x)
    assert len(traces) == 1 and jitted.cache_size() == 1
    jitted(x, np.ones(3, np.float32) * 2)  # new values, same signature
    assert len(traces) == 1
    jitted(np.ones(4, np.float32), np.ones(4, np.float32))  # new shape
    jitted(x.astype(np.float64), x.astype(np.float64))  # new dtype
    jitted(x, 2.0)  # a Python number: weakly typed
    jitted(x, 3.0)  # another one: the same signature
    jitted(x, np.float64(2.0))  # a NumPy scalar is not weak
    assert len(traces) == jitted.cache_size() == 5
    assert jitted(x, 2.0).dtype == np.float32  # as eagerly: the Python number does not promote


def test_static_arguments():
    def f(x, n, mode="sum"):
        y = x ** n
        return fnp.sum(y) if mode == "sum" else fnp.max(y)

    jitted = fn.jit(f, static_argnums=1, static_argnames="mode")
    x = np.array([1.0, 2.0, 3.0])
    assert jitted(x, 2) == 14.0 and jitted(x, 3) == 36.0 and jitted(x, 2, mode="max") == 9.0
    assert jitted.cache_size() == 3
    with pytest.raises(TypeError, match="hashable.*\\[1, 2\\]"):
        jitted(x, [1, 2])
    with pytest.raises(ValueError, match="static_argnums names argument 1"):
        jitted(x)
    with pytest.raises(ValueError, match="both static and donated"):
        fn.jit(f, static_argnums=0, donate_argnums=(0,))
    with pytest.raises(ValueError, match="non-negative ints"):
        fn.jit(f, static_argnums=-1)


def test_log_compiles_says_why(caplog):
    f, _ = _counting()
    jitted = fn.jit(f)
    fn.config.update("log_compiles", True)
    try:
        with caplog.at_level(logging.WARNING, logger="funcnn.jit"):
            jitted(np.ones(3), np.ones(3))
            jitted(np.ones(3), np.ones(3))
            jitted(np.ones(4), np.ones(4))
    finally:
        fn.config.update("log_compiles", False)
    messages = [r.getMessage() for r in caplog.records]
    assert len(messages) == 2
    assert "first call" in messages[0] and "f64[4]" in messages[1] and "f64[3]" in messages[1]


# --- composition ---------------------------------------------------------------------------------


def test_composes_with_the_transforms_both_ways():
    f = lambda x: fnp.sum(fnp.sin(x) * x)  # noqa: E731
    x = np.array([0.3, 1.2, -2.0])
    assert_same_bits(fn.grad(fn.jit(f))(x), fn.grad(f)(x))
    assert_same_bits(fn.jit(fn.grad(f))(x), fn.grad(f)(x))
    assert_same_bits(fn.jvp(fn.jit(f), (x,), (np.ones(3),)), fn.jvp(f, (x,), (np.ones(3),)))
    assert_same_bits(fn.jit(fn.jit(f))(x), f(x))
    assert_same_bits(fn.hessian(fn.jit(f))(x), fn.hessian(f)(x))
    aux = lambda x: (fnp.sum(x ** 2), {"mean": fnp.mean(x)})  # noqa: E731
    assert_same_bits(fn.jit(fn.value_and_grad(aux, has_aux=True))(x), fn.value_and_grad(aux, has_aux=True)(x))
    graph = fn.make_graph(fn.jit(f))(x)  # a jitted function inside a graph is inlined
    assert "sin" in str(graph)


def test_a_jitted_function_closing_over_a_traced_value():
    x = np.array([0.5, 2.0])

    def outer(s):
        inner = fn.jit(lambda v: fnp.sum(fnp.exp(v * s)))
        return inner(x) + inner(x)

    np.testing.assert_allclose(fn.grad(outer)(1.0), 2 * np.sum(x * np.exp(x)))


def test_python_control_flow_under_jit_names_the_fix():
    jitted = fn.jit(lambda x: x if float(fnp.sum(x)) > 0 else -x)
    with pytest.raises(ConcretizationError, match="float\\(\\).*static_argnums"):
        jitted(np.ones(3))


def test_errors_at_replay_name_the_primitive():
    jitted = fn.jit(lambda x, i: x[i])
    x = np.arange(5.0)
    np.testing.assert_array_equal(jitted(x, np.array([1, 4])), [1.0, 4.0])
    with pytest.raises(IndexError, match="getitem"):
        jitted(x, np.array([1, 9]))
    checked = fn.jit(lambda logits, labels: losses.cross_entropy(logits, labels))
    checked(np.zeros((2, 3)), np.array([0, 2]))
    with pytest.raises(ValueError, match="class indices in \\[0, 3\\)"):
        checked(np.zeros((2, 3)), np.array([0, 3]))  # checked on every replay, never wrapped around


def test_constant_outputs_are_fresh_arrays():
    table = np.arange(4.0)
    jitted = fn.jit(lambda x: (x + 1.0, table * 2.0))
    _, doubled = jitted(np.ones(2))
    doubled[0] = 99.0
    np.testing.assert_array_equal(jitted(np.ones(2))[1], [0.0, 2.0, 4.0, 6.0])


# --- graph passes, each on a small graph ---------------------------------------------------------


def _count(graph, name):
    return sum(eq.prim.name == name for eq in graph.equations)


def test_dead_code_is_dropped():
    graph = fn.make_graph(fn.grad(lambda x: fnp.sum(fnp.exp(x)) * 3.0))(np.ones(3))
    assert _count(graph, "sum") == 1  # the loss value is computed: grad throws it away
    assert _count(passes.eliminate_dead(graph), "sum") == 0


def test_common_subexpressions_are_merged():
    graph = fn.make_graph(lambda x: fnp.sin(x) * 2.0 + fnp.sin(x) * 2.0)(np.ones(3))
    merged = passes.eliminate_common(graph)
    assert _count(graph, "sin") == 2 and _count(merged, "sin") == 1 and _count(merged, "multiply") == 1
    assert_same_bits(merged(np.arange(3.0)), graph(np.arange(3.0)))


def test_constants_are_folded():
    table = np.arange(6.0).reshape(2, 3)
    graph = fn.make_graph(lambda x: x @ fnp.transpose(table * 2.0), static_argnums=())(np.ones((4, 3)))
    folded = passes.fold_constants(graph)
    assert len(folded.equations) == 1 and folded.equations[0].prim.name == "matmul"
    assert_same_bits(folded(np.ones((4, 3))), graph(np.ones((4, 3))))


def test_the_plan_reads_like_the_computation_and_reuses_buffers():
    dense = fn.jit(lambda x, w, b: fnp.tanh(x @ w + b) * 2.0)
    args = np.ones((4, 3), np.float32), np.ones((3, 2), np.float32), np.ones(2, np.float32)
    source = str(dense.lower(*args))
    assert source.splitlines()[1:] == [
        "    t0 = matmul(v0, v1)",
        "    t1 = add(t0, v2, out=t0)",  # matmul's result is the plan's own: the bias lands in it
        "    del t0",
        "    t2 = tanh(t1)",  # transcendental: a vectorized loop may not run in place, so no reuse
        "    del t1",
        "    t3 = multiply(t2, 2.0, out=t2)",
        "    del t2",
        "    return [t3]",
    ]
    assert_same_bits(dense(*args), fnp.tanh(args[0] @ args[1] + args[2]) * 2.0)


def test_buffers_that_may_be_viewed_are_never_written():
    def f(x):
        y = fnp.exp(x)
        z = fnp.reshape(y, (-1,))  # z views y's buffer
        return fnp.sin(y) + 1.0, z

    x = np.linspace(0, 1, 6).reshape(2, 3)
    jitted = jits_exactly(f, x)
    assert "exp" in str(jitted.lower(x)) and "sin(t0, out=t0)" not in str(jitted.lower(x))


def test_donated_arguments_take_the_results():
    step = fn.jit(lambda params, grads: tree_util.tree_map(lambda p, g: p - 0.5 * g, params, grads),
                  donate_argnums=0)
    params = {"w": np.ones(3), "b": np.zeros(2)}
    grads = {"w": np.ones(3), "b": np.ones(2)}
    new = step(params, grads)
    np.testing.assert_array_equal(new["w"], [0.5, 0.5, 0.5])
    assert np.shares_memory(new["w"], params["w"])  # the update landed in the donated buffer
    shared = np.ones(3)
    out = step({"w": shared, "b": np.zeros(2)}, {"w": shared, "b": np.ones(2)})  # donated and read again
    np.testing.assert_array_equal(out["w"], [0.5, 0.5, 0.5])
    np.testing.assert_array_equal(shared, [1.0, 1.0, 1.0])  # copied first, so the other argument holds
    frozen = np.ones(3)
    frozen.flags.writeable = False
    np.testing.assert_array_equal(step({"w": frozen, "b": np.zeros(2)}, grads)["w"], [0.5, 0.5, 0.5])


def test_closed_over_arrays_are_captured_when_traced():
    table = np.array([1.0, 2.0])
    jitted = fn.jit(lambda x: x * (table * 2.0) + table)  # table * 2.0 is folded when compiled
    np.testing.assert_array_equal(jitted(np.ones(2)), [3.0, 6.0])
    table[:] = 10.0  # a later change does not reach the compiled function at all, not even half of it
    np.testing.assert_array_equal(jitted(np.ones(2)), [3.0, 6.0])


def test_a_transposed_constant_keeps_its_layout_so_jit_matches_eager_bit_for_bit():
    # regression: constants were copied in C order, so x.T reached BLAS through another kernel
    rng = np.random.default_rng(0)
    x = rng.standard_normal((16, 3)).astype(np.float32)
    y = rng.standard_normal(16).astype(np.float32)
    w = np.array([0.1, -0.1, 0.1], np.float32)
    g = fn.grad(lambda w: fnp.mean((x @ w - y) ** 2))
    np.testing.assert_array_equal(fn.jit(g)(w), g(w))
    xt = x.T
    f = lambda m: xt @ fnp.reshape(m, (16, 1))  # noqa: E731
    np.testing.assert_array_equal(fn.jit(f)(y), f(y))
