"""Graph capture: make_graph traces on shapes and dtypes only, and a replayed graph gives the
eager result bit for bit, for every primitive, its derivatives, and whole models."""
import pathlib
import re
import tracemalloc

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import funcnn as fn
import funcnn.numpy as fnp
from funcnn import extend, lax, losses, nn, tree_util
from funcnn.extend import ConcretizationError, ShapeDtype

from test_activations import ALL as ACTIVATIONS
from test_losses import GRAD_CASES as LOSSES
from test_numpy_grads import PARTS as TABLE_PARTS
from test_numpy_grads import TABLE

ROOT = pathlib.Path(__file__).resolve().parent.parent


def assert_same_bits(actual, expected):
    """Same structure, and every leaf the same shape, dtype and bytes (NaNs and signed zeros included)."""
    tree_util.check_same_structure(actual, expected, what="replay vs eager")
    for a, b in zip(tree_util.tree_leaves(actual), tree_util.tree_leaves(expected)):
        a, b = np.asarray(a), np.asarray(b)
        assert a.dtype == b.dtype and a.shape == b.shape, f"{a.dtype}{a.shape} vs {b.dtype}{b.shape}"
        assert np.ascontiguousarray(a).tobytes() == np.ascontiguousarray(b).tobytes(), f"{a}\nvs\n{b}"


def replays_exactly(f, *args):
    graph = fn.make_graph(f)(*args)
    assert_same_bits(graph(*args), f(*args))
    return graph


# --- every primitive, its derivatives, both dtypes -----------------------------------------------


@pytest.mark.parametrize("name, f, args, reference, options", TABLE, ids=[row[0] for row in TABLE])
@given(data=st.data())
def test_replay_equals_eager_for_every_numpy_primitive(name, f, args, reference, options, data):
    drawn = data.draw(args)
    for dtype in (np.float64, np.float32):
        inputs = tuple(a.astype(dtype) for a in drawn)
        replays_exactly(f, *inputs)
        loss = lambda *a: fnp.sum(f(*a) ** 2)  # noqa: E731
        replays_exactly(fn.grad(loss, argnums=tuple(range(len(inputs)))), *inputs)
        replays_exactly(lambda *a: fn.jvp(f, a, a)[1], *inputs)


LAX = [
    ("conv", lambda x, w: lax.conv_general_dilated(x, w, (2, 1), "SAME", (1, 2), (2, 1), 2),
     ((2, 4, 5, 5), (6, 2, 3, 3))),
    ("conv_1d", lambda x, w: lax.conv_general_dilated(x, w, (1,), ((1, 0),)), ((3, 2, 7), (4, 2, 3))),
    ("max_pool", lambda x: lax.max_pool(x, (2, 2), (1, 1), "SAME"), ((2, 3, 5, 4),)),
    ("avg_pool", lambda x: lax.avg_pool(x, (3, 2), padding=((1, 1), (0, 1)), count_include_pad=False), ((1, 2, 5, 4),)),
]


@pytest.mark.parametrize("name, f, shapes", LAX, ids=[row[0] for row in LAX])
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_replay_equals_eager_for_lax(name, f, shapes, dtype):
    rng = np.random.default_rng(0)
    args = tuple(rng.standard_normal(s).astype(dtype) for s in shapes)
    replays_exactly(f, *args)
    everything = tuple(range(len(args)))
    graph = replays_exactly(fn.grad(lambda *a: fnp.sum(fnp.tanh(f(*a))), argnums=everything), *args)
    replays_exactly(lambda *a: fn.jvp(f, a, a)[1], *args)
    if name == "conv":  # the kernel's gradient reuses the forward's unfolded input, a value of the graph
        names = [eq.prim.name for eq in graph.equations]
        assert "conv_keep_unfolded" in names and "conv_from_unfolded" in names
    if name == "max_pool":
        assert "max_pool_winners" in [eq.prim.name for eq in graph.equations]


@pytest.mark.parametrize("name, f", ACTIVATIONS, ids=[a[0] for a in ACTIVATIONS])
def test_replay_equals_eager_for_every_activation(name, f):
    x = np.random.default_rng(5).standard_normal((3, 4)) * 3
    x[0, :2] = 0.0  # the kinks
    for dtype in (np.float64, np.float32):
        replays_exactly(f, x.astype(dtype))
        replays_exactly(fn.grad(lambda x: fnp.sum(f(x) ** 2)), x.astype(dtype))


@pytest.mark.parametrize("name, f, x", LOSSES, ids=[c[0] for c in LOSSES])
def test_replay_equals_eager_for_every_loss(name, f, x):
    replays_exactly(f, x)
    replays_exactly(fn.value_and_grad(lambda x: fnp.sum(f(x))), x)


def test_second_order_graphs_replay_exactly():
    rng = np.random.default_rng(1)
    x, w = rng.standard_normal((2, 2, 5, 5)), rng.standard_normal((3, 2, 3, 3))
    f = lambda x, w: fnp.sum(nn.relu(lax.conv_general_dilated(x, w, (1, 1), "SAME")) ** 2)  # noqa: E731
    replays_exactly(fn.grad(lambda x: fnp.sum(fn.grad(f, argnums=1)(x, w) ** 2)), x)
    replays_exactly(fn.hessian(lambda v: fnp.sum(fnp.sin(v) * v[::-1])), rng.standard_normal(4))


def test_every_primitive_has_an_abstract_rule():
    missing = [f"{p.name} ({p.module})" for p in extend.primitives()
               if not extend.has_abstract_eval(p) and not p.module.startswith(("test", "__main__"))]
    assert not missing, f"primitives that cannot be traced into a graph: {missing}"




def _all_graphs(data, rows, with_lax):
    """Graphs of table rows, forward and backward, for the checks on equations."""
    rng = np.random.default_rng(3)
    graphs = []
    for _name, f, args, *_ in rows:
        drawn = data.draw(args)
        graphs.append(fn.make_graph(f)(*drawn))
        graphs.append(fn.make_graph(fn.grad(lambda *a: fnp.sum(f(*a)), argnums=tuple(range(len(drawn)))))(*drawn))
    for _name, f, shapes in LAX if with_lax else ():
        args = tuple(rng.standard_normal(s) for s in shapes)
        graphs.append(fn.make_graph(fn.grad(lambda *a: fnp.sum(f(*a)), argnums=tuple(range(len(args)))))(*args))
    return graphs


@pytest.mark.parametrize("part", sorted(TABLE_PARTS))
@settings(max_examples=1, deadline=None)
@given(data=st.data())
def test_every_static_param_is_hashable(part, data):
    seen = set()
    for graph in _all_graphs(data, TABLE_PARTS[part], with_lax=part == "core"):
        for eq in graph.equations:
            hash(tuple(eq.params.items()))  # raises TypeError for an unhashable param
            seen.add(eq.prim.name)
    expected = {"core": {"getitem", "scatter_add", "conv_keep_unfolded", "conv_from_unfolded", "einsum", "pad"},
                "more": {"cumsum", "cumprod", "argpartition", "sinc", "sinc_derivative"},
                "at": {"scatter"}, "special": {"gammaln", "digamma", "erfinv"},
                "linalg": {"cholesky", "eigh", "svd", "qr", "solve", "lower_inverse", "inverse_gaps"}}.get(part, set())
    assert expected <= seen


def test_no_rule_reads_a_concrete_value():
    """Rules and ops compute with the values they are given (traced or not), never with the
    concrete value under every trace: ``concrete(`` may appear only where a Python value is the
    point (a result whose size depends on values, a Python bool, a metric)."""
    allowed = {
        "funcnn/numpy/_elementwise.py": 1,  # where(condition) with one argument: nonzero's size depends on values
        "funcnn/numpy/_indexing.py": 1,  # a boolean mask becomes integer indices: their number depends on values
        "funcnn/numpy/_logic.py": 4,  # allclose, array_equal return Python bools
        "funcnn/metrics.py": 1,  # metrics return Python floats
        "funcnn/train/_loop.py": 3,  # the training loop reports Python floats
        "funcnn/testing/_checks.py": 1,  # finite differences on concrete values
    }
    found = {}
    for path in sorted((ROOT / "funcnn").rglob("*.py")):
        rel = path.relative_to(ROOT).as_posix()
        if rel.startswith(("funcnn/_src/", "funcnn/extend.py")):
            continue
        count = len(re.findall(r"\bconcrete\(", path.read_text()))
        if count:
            found[rel] = count
    assert found == allowed


# --- listing, drawing ------------------------------------------------------------------------------


def test_a_dense_layer_reads_like_maths():
    x = np.ones((64, 784), np.float32)
    w, b = np.ones((784, 256), np.float32), np.ones(256, np.float32)
    graph = fn.make_graph(lambda x, w, b: nn.relu(nn.dense(x, w, b)))(x, w, b)
    assert str(graph) == (
        "{ lambda ; a:f32[64,784] b:f32[784,256] c:f32[256]. let\n"
        "    d:f32[64,256] = matmul a b\n"
        "    e:f32[64,256] = add d c\n"
        "    f:bool[64,256] = less_equal e 0\n"
        "    g:f32[64,256] = where f 0.0 e\n"
        "  in (g,) }")
    backward = str(fn.make_graph(fn.grad(lambda w, x: fnp.sum(nn.relu(nn.dense(x, w, b)))))(w, x))
    assert "transpose[axes=(1,0)]" in backward and backward.count("matmul") == 2


def test_a_long_graph_prints_and_replays():
    def chain(x):
        for _ in range(2500):
            x = fnp.sin(x) * 1.0001
        return x

    graph = replays_exactly(chain, np.linspace(0, 1, 5))
    text = str(graph)
    assert len(graph.equations) == 5000 and text.count("\n") == 5001
    assert "sin" in text and "multiply" in text


def test_nested_graphs_are_indented():
    @fn.custom_vjp
    def scaled(x):
        return 2.0 * x

    scaled.defvjp(lambda x: (2.0 * x, None), lambda res, g: (3.0 * g,))
    graph = fn.make_graph(lambda x: fnp.sum(scaled(x)))(np.ones(3))
    text = str(graph)
    assert "custom_vjp_call[\n      fun={ lambda ; a:f64[3]. let\n          b:f64[3] = multiply 2.0 a\n" in text
    np.testing.assert_array_equal(graph(np.ones(3)), 6.0)
    np.testing.assert_array_equal(fn.grad(graph)(np.ones(3)), np.full(3, 3.0))  # the replay keeps the custom rule
    backward = fn.make_graph(fn.grad(lambda x: fnp.sum(scaled(x) * x)))(np.ones(3))
    np.testing.assert_array_equal(backward(np.full(3, 2.0)), fn.grad(lambda x: fnp.sum(scaled(x) * x))(np.full(3, 2.0)))


def test_to_dot_draws_every_equation_and_value():
    graph = fn.make_graph(lambda x, w: fnp.tanh(x @ w))(np.ones((2, 3)), np.ones((3, 4)))
    dot = graph.to_dot()
    assert dot.startswith("digraph") and dot.rstrip().endswith("}")
    assert dot.count("shape=box") == 2 and "matmul" in dot and "tanh" in dot
    assert dot.count("->") == 4  # a -> matmul, b -> matmul, matmul -> tanh, tanh -> output


def test_printing_names_values_in_order_of_appearance():
    names = re.findall(r"\b([a-z]+):", str(fn.make_graph(lambda x: x * 2.0 + 1.0)(np.ones(2))))
    assert names == ["a", "b", "c"]


# --- composition with the transforms ---------------------------------------------------------------


def test_grad_and_jvp_of_a_replayed_graph():
    f = lambda x: fnp.sum(fnp.sin(x) * x)  # noqa: E731
    x = np.array([0.3, 1.2, -2.0])
    graph = fn.make_graph(f)(x)
    np.testing.assert_array_equal(fn.grad(graph)(x), fn.grad(f)(x))
    np.testing.assert_array_equal(fn.jvp(graph, (x,), (np.ones(3),))[1], fn.jvp(f, (x,), (np.ones(3),))[1])
    second = [fn.grad(fn.grad(lambda s, h=h: h(s * x)))(1.5) for h in (graph, f)]
    np.testing.assert_array_equal(*second)


def test_make_graph_inside_grad_closes_over_traced_values():
    x = np.array([0.5, 2.0])

    def outer(s):
        inner = fn.make_graph(lambda v: fnp.sum(fnp.exp(v * s)))(x)
        return inner(x)

    np.testing.assert_allclose(fn.grad(outer)(1.0), np.sum(x * np.exp(x)))


def test_pytrees_static_arguments_and_python_numbers():
    def f(params, x, scale, mode):
        y = x @ params["w"] + params["b"]
        return {"out": fnp.tanh(y) * scale if mode == "tanh" else y, "n": fnp.sum(y)}

    params = {"w": np.ones((3, 2), np.float32), "b": np.zeros(2, np.float32)}
    x = np.ones((4, 3), np.float32)
    graph = fn.make_graph(f, static_argnums=3)(params, x, 2.0, "tanh")
    out = graph(params, x, 0.5, "tanh")
    assert_same_bits(out, f(params, x, 0.5, "tanh"))
    assert out["out"].dtype == np.float32  # a Python number stays weak, as NumPy treats it
    with pytest.raises(ValueError, match="static argument 3"):
        graph(params, x, 0.5, "linear")
    with pytest.raises(TypeError, match=r"\['w'\].*f32\[3,2\]"):
        graph({"w": np.ones((3, 3), np.float32), "b": params["b"]}, x, 0.5, "tanh")
    with pytest.raises(TypeError, match="traced as a Python number"):
        graph(params, x, np.float64(0.5), "tanh")


def test_eval_shape_runs_nothing():
    x = ShapeDtype((100_000, 784), np.float32)
    w = ShapeDtype((784, 10), np.float32)
    out = fn.eval_shape(lambda x, w: {"logits": x @ w, "mean": fnp.mean(x @ w, axis=0)}, x, w)
    assert out == {"logits": ShapeDtype((100_000, 10), np.float32), "mean": ShapeDtype((10,), np.float32)}


# --- bad input ---------------------------------------------------------------------------------------


@pytest.mark.parametrize("use, what, aval", [
    (lambda x: 1.0 if x.sum() > 0 else 0.0, "bool()", "shape (), dtype bool"),
    (lambda x: float(x.sum()), "float()", "shape (), dtype float32"),
    (lambda x: np.asarray(x), "NumPy array", "shape (2, 3), dtype float32"),
    (lambda x: x[0].item(), ".item()", "shape (3,), dtype float32"),
    (lambda x: list(range(10))[fnp.argmax(x)], "index", "shape (), dtype int64"),
])
def test_python_control_flow_on_a_traced_value_names_the_fix(use, what, aval):
    with pytest.raises(ConcretizationError) as info:
        fn.make_graph(use)(np.ones((2, 3), np.float32))
    message = str(info.value)
    assert what in message and aval in message and "static_argnums" in message and "where" in message


def test_control_flow_under_eager_transforms_still_works():
    f = lambda x: fnp.sum(x ** 2) if float(fnp.sum(x)) > 0 else fnp.sum(x)  # noqa: E731
    np.testing.assert_array_equal(fn.grad(f)(np.array([1.0, 2.0])), [2.0, 4.0])
    with pytest.raises(ConcretizationError, match=r"shape \(\), dtype float64"):
        fn.make_graph(fn.grad(f))(np.array([1.0, 2.0]))


def test_a_primitive_without_an_abstract_rule_is_named():
    mystery = extend.Primitive("mystery_op", np.sin)
    try:
        assert mystery.bind(0.0) == 0.0
        with pytest.raises(NotImplementedError, match="mystery_op.*def_abstract_eval"):
            fn.make_graph(mystery.bind)(np.ones(2))
    finally:
        from funcnn._src.core import PRIMITIVES

        PRIMITIVES.remove(mystery)


def test_a_traced_value_used_after_the_trace_ended_raises():
    kept = []
    fn.make_graph(lambda x: kept.append(x) or x)(np.ones(2))
    with pytest.raises(RuntimeError, match="after the trace ended"):
        fnp.sin(kept[0])


def test_boolean_masks_need_concrete_values_inside_a_graph():
    x = np.array([1.0, -2.0, 3.0])
    np.testing.assert_array_equal(fn.make_graph(lambda x: x[np.array([True, False, True])])(x)(x), [1.0, 3.0])
    with pytest.raises(ConcretizationError, match="boolean mask"):
        fn.make_graph(lambda x: x[x > 0])(x)


def test_bad_leaves_are_named():
    with pytest.raises(TypeError, match=r"\['name'\].*static_argnums"):
        fn.make_graph(lambda d: d["x"])({"x": np.ones(2), "name": "dense"})
    with pytest.raises(TypeError, match="output leaf 0 is a str"):
        fn.make_graph(lambda x: "done")(np.ones(2))


# --- defining a primitive through funcnn.extend -----------------------------------------------------


def test_a_user_primitive_works_in_every_transform():
    cube_p = extend.Primitive("cube", lambda x: x * x * x)
    try:
        extend.def_abstract_eval(cube_p, lambda x: x)
        extend.def_elementwise(cube_p, lambda g, ans, x: g * 3.0 * x ** 2)
        x = np.array([1.0, -2.0])
        np.testing.assert_array_equal(fn.grad(lambda x: fnp.sum(cube_p.bind(x)))(x), [3.0, 12.0])
        np.testing.assert_array_equal(fn.jvp(cube_p.bind, (x,), (np.ones(2),))[1], [3.0, 12.0])
        graph = replays_exactly(fn.grad(lambda x: fnp.sum(cube_p.bind(x))), x)
        assert "cube" in str(graph)
        from funcnn.testing import check_grads

        check_grads(cube_p.bind, (x,), order=2)
    finally:
        from funcnn._src.core import PRIMITIVES

        PRIMITIVES.remove(cube_p)


# --- models ----------------------------------------------------------------------------------------


def _models():
    import runpy

    return runpy.run_path(str(ROOT / "examples" / "models.py"))


@pytest.mark.parametrize("name", ["mlp", "cnn"])
@pytest.mark.parametrize("train", [False, True])
def test_example_models_replay_exactly(name, train):
    from funcnn import random

    model = _models()[name]()
    key = random.key(0)
    _, params, state = model.init_with_state(key, (-1, 1, 28, 28))
    x = random.normal(random.key(1), (8, 1, 28, 28))
    labels = np.arange(8) % 10

    def loss(params, x, key):
        logits, new_state = model.apply(params, x, key=key, train=train, state=state)
        return losses.cross_entropy(logits, labels), new_state

    step = fn.value_and_grad(loss, has_aux=True)
    replays_exactly(step, params, x, random.key(2))


def test_mnist_examples_loss_functions_replay_exactly():
    import runpy

    mlp = runpy.run_path(str(ROOT / "examples" / "mnist_mlp.py"))
    from funcnn import random

    params = mlp["init_params"](random.key(0))
    x = np.asarray(random.uniform(random.key(1), (32, 784)))
    labels = np.arange(32) % 10
    replays_exactly(fn.value_and_grad(mlp["loss_fn"]), params, x, labels)


def test_tracing_never_touches_data():
    """A graph of a training step on 100,000 MNIST-sized images allocates nothing of that size."""
    w1, b1 = ShapeDtype((784, 256), np.float32), ShapeDtype((256,), np.float32)
    w2, b2 = ShapeDtype((256, 10), np.float32), ShapeDtype((10,), np.float32)
    x, labels = ShapeDtype((100_000, 784), np.float32), ShapeDtype((100_000,), np.int64)

    def loss(params, x, labels):
        h = nn.relu(nn.dense(x, params["w1"], params["b1"]))
        return losses.cross_entropy(nn.dense(h, params["w2"], params["b2"]), labels)

    params = {"w1": w1, "b1": b1, "w2": w2, "b2": b2}
    tracemalloc.start()
    try:
        graph = fn.make_graph(fn.value_and_grad(loss))(params, x, labels)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert graph.out_avals[0] == ShapeDtype((), np.float32)
    assert peak < 8 << 20, f"tracing allocated {peak / 2**20:.1f} MiB at its peak"  # the data: 300 MiB


def _cnn_training_step():
    """A whole training step as one function: a CNN with Dropout (its key split inside), the
    loss's value and gradient, an Adam update and the new parameters."""
    from funcnn import optim, random

    model = nn.serial(nn.Conv(4, (3, 3), padding=1), nn.Relu, nn.MaxPool(2), nn.Flatten, nn.Dropout(0.5),
                      nn.Dense(10))
    optimizer = optim.adam(1e-2)

    def loss_fn(params, x, labels, key):
        logits = model.apply(params, x, key=key, train=True)
        return losses.cross_entropy(logits, labels)

    def step(params, opt_state, x, labels, key):
        key, dropout_key = random.split(key)
        loss, grads = fn.value_and_grad(loss_fn)(params, x, labels, dropout_key)
        updates, opt_state = optimizer.update(grads, opt_state, params)
        return optim.apply_updates(params, updates), opt_state, loss, key

    _, params = model.init(random.key(0), (-1, 1, 8, 8))
    return step, params, optimizer.init(params)


def test_a_whole_training_step_is_one_graph():
    from funcnn import random

    step, params, opt_state = _cnn_training_step()
    x = np.asarray(random.normal(random.key(1), (16, 1, 8, 8)))
    labels = np.arange(16) % 10
    graph = fn.make_graph(step)(params, opt_state, x, labels, random.key(2))
    names = {eq.prim.name for eq in graph.equations}
    assert {"conv_keep_unfolded", "max_pool_winners", "matmul", "sqrt"} <= names
    assert any(name.startswith(("split", "random")) or "bits" in name or "bernoulli" in name for name in names)
    key = random.key(2)
    eager_state = replay_state = (params, opt_state)
    for _ in range(3):  # the replay carries parameters, optimizer state and key exactly as the eager loop
        *eager_state, eager_loss, eager_key = step(*eager_state, x, labels, key)
        *replay_state, replay_loss, replay_key = graph(*replay_state, x, labels, key)
        assert_same_bits((replay_state, replay_loss, replay_key), (eager_state, eager_loss, eager_key))
        key = eager_key
