"""funcnn.random under transforms: traced keys and operands, graph capture, abstract evaluation.

Every public function binds a primitive whose operands are the key and the array-valued
arguments, so it can be recorded by ``make_graph`` and replayed bit for bit; ``eval_shape``
runs it on shapes and dtypes alone; checks on values wait for the values.
"""
import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

import funcnn as fn
import funcnn.numpy as fnp
from funcnn import extend, nn, random

KEY = random.key(7)

# Every public sampler and key function as a function of a key: (name, draw).
DRAWS = [
    ("split", lambda k: random.split(k, 3)),
    ("split_none", lambda k: random.split(k, 0)),
    ("fold_in", lambda k: random.fold_in(k, 12345)),
    ("fold_in_negative", lambda k: random.fold_in(k, -3)),
    ("bits32", lambda k: random.bits(k, (3, 4))),
    ("bits64", lambda k: random.bits(k, (5,), np.uint64)),
    ("uniform16", lambda k: random.uniform(k, (40,), np.float16)),
    ("uniform32", lambda k: random.uniform(k, (4, 5))),
    ("uniform64", lambda k: random.uniform(k, (40,), np.float64)),
    ("uniform_scalar", lambda k: random.uniform(k)),
    ("uniform_bounds16", lambda k: random.uniform(k, (40,), np.float16, -2.0, 3.0)),
    ("uniform_bounds32", lambda k: random.uniform(k, (2, 20), np.float32, np.array([[0.0], [10.0]]), 11.0)),
    ("uniform_bounds64", lambda k: random.uniform(k, (), np.float64, 2.0, 3.0)),
    ("normal16", lambda k: random.normal(k, (40,), np.float16)),
    ("normal32", lambda k: random.normal(k, (3, 4))),
    ("normal64", lambda k: random.normal(k, (40,), np.float64)),
    ("truncated16", lambda k: random.truncated_normal(k, -2.0, 2.0, (40,), np.float16)),
    ("truncated32", lambda k: random.truncated_normal(k, -1.0, np.inf, (40,))),
    ("truncated64", lambda k: random.truncated_normal(k, np.array([-1.0, 0.0, 5.0]), 7.0, None, np.float64)),
    ("bernoulli", lambda k: random.bernoulli(k, 0.3, (5, 4))),
    ("bernoulli_array_p", lambda k: random.bernoulli(k, np.array([0.1, 0.5, 0.9]))),
    ("randint", lambda k: random.randint(k, (30,), -5, 2**31 + 7)),
    ("randint_uint8", lambda k: random.randint(k, (30,), 0, 256, np.uint8)),
    ("randint_uint64_full", lambda k: random.randint(k, (30,), 0, 2**64, np.uint64)),
    ("permutation", lambda k: random.permutation(k, 10)),
    ("gumbel", lambda k: random.gumbel(k, (3, 4))),
    ("categorical", lambda k: random.categorical(k, np.log(np.array([0.2, 0.3, 0.5])), shape=(6,))),
    ("permutation_array", lambda k: random.permutation(k, np.arange(12.0).reshape(3, 4), axis=1)),
    ("choice", lambda k: random.choice(k, 50, (10,))),
    ("choice_p", lambda k: random.choice(k, 4, (10,), p=[0.1, 0.2, 0.3, 0.4])),
    ("choice_no_replace", lambda k: random.choice(k, 10, (2, 3), replace=False)),
    ("choice_no_replace_p", lambda k: random.choice(k, 4, (3,), replace=False, p=[0.5, 0.0, 0.3, 0.2])),
    ("choice_array", lambda k: random.choice(k, np.arange(24).reshape(2, 3, 4), (5,), axis=1)),
]
IDS = [name for name, _ in DRAWS]

# Ways to get the key a draw uses: the graph's input itself, or one made inside the traced function.
KEY_MAKERS = [
    ("input", lambda k: k),
    ("split", lambda k: random.split(k)[1]),
    ("fold_in", lambda k: random.fold_in(k, 3)),
    ("split_of_fold_in", lambda k: random.split(random.fold_in(k, 9), 4)[2]),
]


def assert_same(got, want):
    assert np.asarray(got).dtype == np.asarray(want).dtype
    assert np.shape(got) == np.shape(want)
    assert np.array_equal(got, want)


def package_primitives():
    return [p for p in extend.primitives() if p.module.startswith("funcnn.random")]


def graph_params(graph):
    for eq in graph.equations:
        yield eq.prim, eq.params


# --------------------------------------------------------------------------
# Graph capture and replay
# --------------------------------------------------------------------------


@pytest.mark.parametrize("maker_name, make_key", KEY_MAKERS, ids=[m[0] for m in KEY_MAKERS])
@pytest.mark.parametrize("name, draw", DRAWS, ids=IDS)
def test_graph_replays_the_eager_bits(name, draw, maker_name, make_key):
    f = lambda k: draw(make_key(k))
    graph = fn.make_graph(f)(KEY)
    assert_same(graph(KEY), f(KEY))
    other = random.key(123)
    assert_same(graph(other), f(other))  # the key is an input, not a baked-in constant


@pytest.mark.parametrize("name, draw", DRAWS, ids=IDS)
def test_eval_shape_matches_the_eager_result(name, draw):
    want = draw(KEY)
    for key in (KEY, fn.ShapeDtype((2,), np.uint32)):
        got = fn.eval_shape(draw, key)
        assert got == fn.ShapeDtype(np.shape(want), np.asarray(want).dtype)


def test_eval_shape_of_normal():
    shape = fn.eval_shape(lambda k: random.normal(k, (3, 4)), random.key(0))
    assert shape == fn.ShapeDtype((3, 4), np.float32)
    assert repr(shape) == "ShapeDtype(shape=(3, 4), dtype=float32)"


def test_graph_records_one_primitive_per_draw():
    graph = fn.make_graph(lambda k: random.normal(random.split(k)[0], (3,)))(KEY)
    names = [eq.prim.name for eq in graph.equations]
    assert names == ["random_split", "getitem", "random_normal"]
    assert "random_normal[shape=(3,) dtype=float32]" in str(graph)


@given(seed=st.integers(-(2**63), 2**64 - 1), shape=st.lists(st.integers(0, 4), max_size=3),
       dtype=st.sampled_from([np.float16, np.float32, np.float64]), fold=st.integers(0, 2**64 - 1))
def test_graph_replay_property(seed, shape, dtype, fold):
    def draws(k, data):
        k1, k2 = random.split(random.fold_in(k, data))
        return random.uniform(k1, shape, dtype, -3.0, 2.0), random.normal(k2, shape, dtype)

    key, data = random.key(seed), np.uint64(fold)
    graph = fn.make_graph(draws)(key, data)
    for got, want in zip(graph(key, data), draws(key, data), strict=True):
        assert_same(got, want)


def test_key_from_a_traced_seed():
    graph = fn.make_graph(lambda seed: random.normal(random.key(seed), (4,)))(5)
    assert [eq.prim.name for eq in graph.equations] == ["random_seed", "random_normal"]
    for seed in (5, 2**40 + 1):
        assert_same(graph(seed), random.normal(random.key(seed), (4,)))
    assert_same(random.key(np.array(7)), random.key(7))
    assert_same(random.key(np.uint64(2**64 - 1)), random.key(-1))
    seeds = fn.make_graph(random.key)(np.int64(-1))
    assert_same(seeds(np.int64(-1)), random.key(-1))


# Functions of a key and traced array operands, with the operands to trace them on.
OPERAND_DRAWS = [
    ("fold_in_data", lambda k, d: random.fold_in(k, d), (5,)),
    ("fold_in_uint64_data", lambda k, d: random.fold_in(k, d), (np.uint64(2**64 - 1),)),
    ("uniform_bounds", lambda k, lo, hi: random.uniform(k, (3, 20), np.float32, lo, hi),
     (np.array([[-1.0], [0.0], [5.0]], np.float32), np.float32(6.0))),
    ("uniform_python_bounds", lambda k, lo, hi: random.uniform(k, (20,), np.float64, lo, hi), (-1.0, 2.0)),
    ("uniform_unit_bounds", lambda k, lo, hi: random.uniform(k, (20,), np.float16, lo, hi), (0.0, 1.0)),
    ("truncated_bounds", lambda k, lo, hi: random.truncated_normal(k, lo, hi, None, np.float64),
     (np.array([-1.0, 0.0, 30.0]), np.array([0.0, np.inf, 31.0]))),
    ("bernoulli_p", lambda k, p: random.bernoulli(k, p, (10, 3)), (np.array([0.0, 0.5, 1.0]),)),
    ("randint_bounds", lambda k, lo, hi: random.randint(k, (20,), lo, hi), (np.int64(-3), np.int64(4))),
    ("randint_python_bounds", lambda k, lo, hi: random.randint(k, (20,), lo, hi, np.int8), (-128, 128)),
    ("permutation_x", lambda k, x: random.permutation(k, x, axis=-1), (np.arange(12.0).reshape(3, 4),)),
    ("choice_a_p", lambda k, a, p: random.choice(k, a, (6,), p=p),
     (np.arange(8.0).reshape(4, 2), np.array([0.1, 0.2, 0.3, 0.4]))),
    ("choice_no_replace_p", lambda k, p: random.choice(k, 4, (3,), replace=False, p=p),
     (np.array([0.5, 0.0, 0.3, 0.2], np.float32),)),
]


@pytest.mark.parametrize("name, draw, operands", OPERAND_DRAWS, ids=[d[0] for d in OPERAND_DRAWS])
def test_traced_operands_replay_the_eager_bits(name, draw, operands):
    graph = fn.make_graph(draw)(KEY, *operands)
    assert_same(graph(KEY, *operands), draw(KEY, *operands))
    got = fn.eval_shape(draw, KEY, *operands)
    want = draw(KEY, *operands)
    assert got == fn.ShapeDtype(np.shape(want), np.asarray(want).dtype)


def test_every_primitive_has_an_abstract_rule_and_no_derivative():
    prims = package_primitives()
    names = {p.name for p in prims}
    assert {"random_seed", "random_split", "random_fold_in", "random_bits", "random_uniform", "random_normal",
            "random_truncated_normal", "random_bernoulli", "random_randint", "random_permutation",
            "random_choice"} <= names
    for prim in prims:
        assert extend.has_abstract_eval(prim), prim
        assert not extend.is_differentiable(prim), prim
        assert not extend.has_jvp(prim), prim


def test_every_primitive_is_recorded_with_hashable_params():
    graphs = [fn.make_graph(draw)(KEY) for _, draw in DRAWS]
    graphs += [fn.make_graph(draw)(KEY, *operands) for _, draw, operands in OPERAND_DRAWS]
    graphs.append(fn.make_graph(random.key)(3))
    seen = set()
    for graph in graphs:
        for prim, params in graph_params(graph):
            hash(tuple(params.items()))
            seen.add(prim)
    assert set(package_primitives()) <= seen  # the tables above reach every primitive


# --------------------------------------------------------------------------
# Transforms: draws are constants, uniform's bounds are differentiable
# --------------------------------------------------------------------------


def test_draws_are_constants_under_grad():
    w = np.ones(5)
    grad = fn.grad(lambda w: fnp.sum(w * random.normal(KEY, (5,), np.float64)))(w)
    assert_same(grad, random.normal(KEY, (5,), np.float64))


def test_gradient_flows_to_uniform_bounds():
    u = random.uniform(KEY, (50,), np.float64)
    loss = lambda lo, hi: fnp.sum(random.uniform(KEY, (50,), np.float64, lo, hi))
    d_lo, d_hi = fn.grad(loss, argnums=(0, 1))(np.float64(-1.0), np.float64(2.0))
    np.testing.assert_allclose([d_lo, d_hi], [np.sum(1.0 - u), np.sum(u)], rtol=1e-12)
    _, tangent = fn.jvp(lambda hi: random.uniform(KEY, (50,), np.float64, -1.0, hi), (np.float64(2.0),),
                        (np.float64(1.0),))
    np.testing.assert_allclose(tangent, u, rtol=1e-12)


def test_gradient_flows_through_a_shuffle():
    x = np.arange(6.0)
    order = random.permutation(KEY, 6)
    grad = fn.grad(lambda x: fnp.sum(random.permutation(KEY, x) * np.arange(6.0)))(x)
    np.testing.assert_array_equal(grad[order], np.arange(6.0))


def test_a_training_step_with_dropout_is_one_graph():
    model = nn.serial(nn.Dense(4), nn.Dropout(0.5), nn.Dense(2))
    _, params = model.init(random.key(0), (-1, 3))
    x = np.ones((5, 3), np.float32)

    def loss(params, x, key, step):
        key = random.fold_in(key, step)
        return fnp.sum(model.apply(params, x, key=key, train=True) ** 2)

    def train_step(params, x, key, step):
        return fn.value_and_grad(loss)(params, x, key, step)

    graph = fn.make_graph(train_step)(params, x, KEY, 0)
    for step in (0, 1):
        value, grads = graph(params, x, KEY, step)
        want_value, want_grads = train_step(params, x, KEY, step)
        assert_same(value, want_value)
        for name in grads:
            for leaf in grads[name]:
                assert_same(grads[name][leaf], want_grads[name][leaf])


# --------------------------------------------------------------------------
# Errors: from shapes and dtypes when called, from values where values exist
# --------------------------------------------------------------------------

KEY_MESSAGE = r"key must be a uint32 array of shape \(2,\) from funcnn.random.key\(seed\); got"

BAD_KEYS = [
    (np.zeros(3, np.uint32), r"uint32 array of shape \(3,\)"),
    (np.zeros(2, np.int32), r"int32 array of shape \(2,\)"),
    (np.zeros((4, 2), np.uint32), r"uint32 array of shape \(4, 2\); this looks like a batch of keys from split: "
                                  r"index one, e.g. keys\[0\]"),
]


@pytest.mark.parametrize("bad, detail", BAD_KEYS, ids=["shape", "dtype", "batch"])
@pytest.mark.parametrize("name, draw", DRAWS, ids=IDS)
def test_bad_key_is_named_traced_or_not(name, draw, bad, detail):
    with pytest.raises(TypeError, match=KEY_MESSAGE + " " + detail):
        draw(bad)
    with pytest.raises(TypeError, match=KEY_MESSAGE + " traced " + detail):
        fn.make_graph(draw)(bad)
    with pytest.raises(TypeError, match=KEY_MESSAGE + " traced " + detail):
        fn.eval_shape(draw, fn.ShapeDtype(bad.shape, bad.dtype))


def test_static_arguments_cannot_be_traced():
    for draw in (lambda k, n: random.split(k, n), lambda k, n: random.normal(k, (n,)),
                 lambda k, n: random.choice(k, np.zeros((5, 2)), (3,), axis=n)):
        with pytest.raises(TypeError, match="must be an integer known when tracing .* static"):
            fn.make_graph(draw)(KEY, 3)
    with pytest.raises(ValueError, match="a population size must be a Python int"):
        fn.make_graph(lambda k, n: random.permutation(k, n))(KEY, 3)


def test_bad_dtypes_of_traced_operands():
    cases = [
        (lambda k, d: random.fold_in(k, d), np.float32(1.0), "data must be an integer; got traced float32"),
        (lambda k, d: random.fold_in(k, d), np.arange(2), r"data must be an integer; got traced int64 array of "
                                                          r"shape \(2,\)"),
        (lambda k, s: random.key(s), np.float64(0.0), "seed must be an integer"),
        (lambda k, lo: random.randint(k, (2,), lo, 5), np.float64(0.0), "minval must be an integer"),
        (lambda k, lo: random.uniform(k, (2,), minval=lo), np.complex64(0.0), "minval must be real numbers"),
        (lambda k, p: random.bernoulli(k, p), np.array(["a"]), "p must be real numbers"),
    ]
    for draw, operand, message in cases:
        with pytest.raises(TypeError, match=message):
            fn.make_graph(draw)(KEY, operand)


def test_bad_shapes_of_traced_operands():
    with pytest.raises(ValueError, match=r"minval of shape \(2,\) does not broadcast to shape \(3,\)"):
        fn.make_graph(lambda k, lo: random.uniform(k, (3,), minval=lo))(KEY, np.zeros(2))
    with pytest.raises(ValueError, match=r"p of shape \(2,\) does not broadcast to shape \(3,\)"):
        fn.make_graph(lambda k, p: random.bernoulli(k, p, (3,)))(KEY, np.zeros(2))
    with pytest.raises(ValueError, match=r"p must have shape \(3,\) to match the population"):
        fn.make_graph(lambda k, p: random.choice(k, 3, p=p))(KEY, np.ones(2) / 2)
    with pytest.raises(ValueError, match="lower of shape .* and upper of shape .* do not broadcast"):
        fn.make_graph(lambda k, a, b: random.truncated_normal(k, a, b, None))(KEY, np.zeros(2), np.ones(3))


def test_value_checks_run_when_the_graph_replays():
    cases = [
        (lambda k, p: random.bernoulli(k, p, (3,)), (np.float64(0.5),), (np.float64(1.5),),
         r"p must be in \[0, 1\]"),
        (lambda k, lo, hi: random.uniform(k, (3,), minval=lo, maxval=hi), (0.0, 1.0), (1.0, 1.0),
         "uniform needs minval < maxval"),
        (lambda k, lo: random.uniform(k, (3,), minval=lo), (0.0,), (np.nan,), "minval must not be NaN"),
        (lambda k, a, b: random.truncated_normal(k, a, b), (0.0, 1.0), (40.0, 41.0), "interval this far in the tail"),
        (lambda k, lo, hi: random.randint(k, (3,), lo, hi), (np.int64(0), np.int64(5)), (np.int64(5), np.int64(1)),
         "randint needs minval < maxval; got minval=5, maxval=1"),
        (lambda k, lo, hi: random.randint(k, (3,), lo, hi, np.uint8), (np.int64(0), np.int64(5)),
         (np.int64(0), np.int64(300)), r"randint bounds must fit uint8"),
        (lambda k, p: random.choice(k, 3, (3,), p=p), (np.ones(3) / 3,), (np.full(3, 0.2),), "p must sum to 1"),
        (lambda k, p: random.choice(k, 3, (3,), replace=False, p=p), (np.ones(3) / 3,),
         (np.array([0.5, 0.5, 0.0]),), "only 2 entries of p are non-zero"),
    ]
    for draw, good, bad, message in cases:
        graph = fn.make_graph(draw)(KEY, *good)
        assert_same(graph(KEY, *good), draw(KEY, *good))
        with pytest.raises(ValueError, match=message):
            graph(KEY, *bad)
        with pytest.raises(ValueError, match=message):
            draw(KEY, *bad)
