"""funcnn.optim under the engine's transforms: every update and schedule captured by
make_graph replays bit for bit like the eager call, updates are differentiable (with
respect to the gradients, and to traced hyper-parameters such as the learning rate),
and nothing is modified in place."""

from __future__ import annotations

import copy

import numpy as np
import pytest

import funcnn as fn
import funcnn.numpy as fnp
from funcnn import optim
from funcnn.extend import ConcretizationError
from funcnn.testing import check_grads
from funcnn.tree_util import tree_leaves, tree_map, tree_structure

# ---------------------------------------------------------------------------
# fixtures and helpers


def make_params(dtype=np.float32, seed=0):
    rng = np.random.default_rng(seed)
    return {
        "dense_0": {"b": rng.normal(size=3).astype(dtype), "w": rng.normal(size=(2, 3)).astype(dtype)},
        "scale": np.asarray(rng.normal(), dtype=dtype),  # a 0-d leaf
    }


def make_grads(params, seed=1, size=1.0):
    rng = np.random.default_rng(seed)
    return tree_map(lambda p: np.asarray(size * rng.normal(size=np.shape(p)), p.dtype), params)


def not_bias(tree):
    return {"dense_0": {"b": False, "w": True}, "scale": True}


def assert_same_bits(actual, expected):
    """Same structure, and every leaf of the same dtype, shape and bytes."""
    assert tree_structure(actual) == tree_structure(expected)
    for a, e in zip(tree_leaves(actual), tree_leaves(expected)):
        a, e = np.asarray(a), np.asarray(e)
        assert a.dtype == e.dtype and a.shape == e.shape, (a.dtype, e.dtype, a.shape, e.shape)
        assert a.tobytes() == e.tobytes(), (a, e)


# Every optimizer alias and every building block, in configurations that reach each branch.
TRANSFORMS = {
    # aliases
    "sgd": lambda: optim.sgd(0.1),
    "sgd_momentum": lambda: optim.sgd(0.1, momentum=0.9),
    "sgd_nesterov_wd": lambda: optim.sgd(0.1, momentum=0.9, nesterov=True, weight_decay=0.01),
    "adam": lambda: optim.adam(0.01),
    "adam_wd": lambda: optim.adam(0.01, weight_decay=0.1),
    "adamw": lambda: optim.adamw(0.01),
    "adamw_mask": lambda: optim.adamw(0.01, weight_decay=0.1, mask=not_bias),
    "rmsprop": lambda: optim.rmsprop(0.01),
    "rmsprop_centered_momentum_wd": lambda: optim.rmsprop(0.01, momentum=0.5, centered=True, weight_decay=0.1),
    "adagrad": lambda: optim.adagrad(0.1, lr_decay=0.01, weight_decay=0.01, initial_accumulator_value=0.1),
    "adadelta": lambda: optim.adadelta(weight_decay=0.01),
    "nadam": lambda: optim.nadam(),
    "nadam_decoupled": lambda: optim.nadam(weight_decay=0.1, decoupled_weight_decay=True),
    "lion": lambda: optim.lion(1e-3),
    # learning-rate schedules driven by the traced step count
    "sgd_constant": lambda: optim.sgd(optim.constant(0.1)),
    "sgd_piecewise": lambda: optim.sgd(optim.piecewise_constant(0.1, {1: 0.5, 3: 0.1})),
    "adam_cosine": lambda: optim.adam(optim.cosine_decay(0.01, 3, alpha=0.1, exponent=2.0)),
    "adam_exponential": lambda: optim.adam(optim.exponential_decay(0.01, 2, 0.5, 1, True, 0.004)),
    "rmsprop_warmup": lambda: optim.rmsprop(optim.linear_warmup(0.0, 0.01, 3, 1)),
    "adamw_warmup_cosine": lambda: optim.adamw(optim.warmup_cosine_decay(0.0, 0.01, 2, 5)),
    "lion_one_cycle": lambda: optim.lion(optim.one_cycle(5, 0.01)),
    "adagrad_schedule_lr_decay": lambda: optim.adagrad(optim.cosine_decay(0.1, 4), lr_decay=0.1),
    # building blocks
    "scale": lambda: optim.scale(-0.5),
    "scale_by_schedule": lambda: optim.scale_by_schedule(optim.cosine_decay(1.0, 3)),
    "scale_by_learning_rate": lambda: optim.scale_by_learning_rate(0.1),
    "scale_by_learning_rate_schedule": lambda: optim.scale_by_learning_rate(
        optim.linear_warmup(0.0, 1.0, 2), flip_sign=False
    ),
    "trace": lambda: optim.trace(0.9),
    "trace_nesterov": lambda: optim.trace(0.9, nesterov=True),
    "scale_by_adam_eps_root": lambda: optim.scale_by_adam(b1=0.8, b2=0.9, eps_root=1e-6),
    "scale_by_nadam": lambda: optim.scale_by_nadam(momentum_decay=0.01),
    "scale_by_rms": lambda: optim.scale_by_rms(initial_scale=0.1),
    "scale_by_stddev": lambda: optim.scale_by_stddev(initial_scale=0.5),
    "scale_by_rss": lambda: optim.scale_by_rss(initial_accumulator_value=0.1),
    "scale_by_adadelta": lambda: optim.scale_by_adadelta(),
    "scale_by_lion": lambda: optim.scale_by_lion(),
    "add_decayed_weights": lambda: optim.add_decayed_weights(0.1),
    "add_decayed_weights_mask": lambda: optim.add_decayed_weights(0.1, mask=not_bias),
    "clip": lambda: optim.clip(0.5),
    "clip_by_global_norm_active": lambda: optim.clip_by_global_norm(0.5),
    "clip_by_global_norm_inactive": lambda: optim.clip_by_global_norm(100.0),
    "masked": lambda: optim.masked(optim.scale_by_adam(), {"dense_0": {"b": True, "w": False}, "scale": True}),
    "chain": lambda: optim.chain(optim.clip_by_global_norm(1.0), optim.clip(0.2), optim.adamw(0.01)),
}

STEPS = 4


# ---------------------------------------------------------------------------
# make_graph: replay equals the eager update, bit for bit


@pytest.mark.parametrize("dtype", [np.float32, np.float64], ids=["float32", "float64"])
@pytest.mark.parametrize("name", TRANSFORMS)
def test_replayed_graph_equals_eager_update_over_several_steps(name, dtype):
    opt = TRANSFORMS[name]()
    params = make_params(dtype)
    state = opt.init(params)
    graph = fn.make_graph(opt.update)(make_grads(params), state, params)  # traced once, count included
    for step in range(STEPS):
        grads = make_grads(params, seed=step)
        eager = opt.update(grads, state, params)
        assert_same_bits(graph(grads, state, params), eager)
        updates, state = eager
        params = optim.apply_updates(params, updates)


@pytest.mark.parametrize("name", TRANSFORMS)
def test_float32_stays_float32_through_make_graph(name):
    opt = TRANSFORMS[name]()
    params = make_params(np.float32)
    state = opt.init(params)
    graph = fn.make_graph(opt.update)(make_grads(params), state, params)
    updates_avals = graph.out_avals[: len(tree_leaves(params))]
    assert all(aval.dtype == np.float32 for aval in updates_avals)
    for aval, leaf in zip(graph.out_avals[len(updates_avals):], tree_leaves(state)):
        assert aval.dtype == leaf.dtype and aval.shape == leaf.shape  # int32 counts, float32 moments


def test_the_step_count_is_a_graph_input_and_saturates():
    opt = optim.adam(optim.cosine_decay(0.1, 10))
    params = {"w": np.ones(2, np.float32)}
    state = opt.init(params)
    graph = fn.make_graph(opt.update)(params, state, params)
    top = np.iinfo(np.int32).max
    late = (optim.ScaleByAdamState(np.asarray(top, np.int32), *state[0][1:]), optim.ScaleByScheduleState(
        np.asarray(top, np.int32)))
    updates, new_state = graph(params, late, params)
    eager_updates, eager_state = opt.update(params, late, params)
    assert_same_bits((updates, new_state), (eager_updates, eager_state))
    counts = [new_state[0].count, new_state[1].count]
    assert all(np.asarray(c).dtype == np.int32 and int(c) == top for c in counts)


def test_a_whole_training_step_is_one_graph():
    rng = np.random.default_rng(0)
    x = rng.normal(size=(16, 3)).astype(np.float32)
    y = (x @ np.array([1.0, -2.0, 0.5], np.float32) + 0.3).astype(np.float32)
    params = {"b": np.zeros((), np.float32), "w": np.zeros(3, np.float32)}
    opt = optim.chain(optim.clip_by_global_norm(1.0), optim.adamw(optim.warmup_cosine_decay(0.0, 0.1, 5, 50)))

    def loss(params, x, y):
        return fnp.mean((x @ params["w"] + params["b"] - y) ** 2)

    def train_step(params, state, x, y):
        value, grads = fn.value_and_grad(loss)(params, x, y)
        updates, state = opt.update(grads, state, params)
        return optim.apply_updates(params, updates), state, value

    state = opt.init(params)
    graph = fn.make_graph(train_step)(params, state, x, y)
    eager_params, eager_state = params, state
    for _ in range(20):
        params, state, value = graph(params, state, x, y)
        eager_params, eager_state, eager_value = train_step(eager_params, eager_state, x, y)
        assert_same_bits((params, state, value), (eager_params, eager_state, eager_value))
    assert float(value) < 0.5 * float(loss(tree_map(np.zeros_like, params), x, y))


def test_debug_nans_is_left_to_the_replay_inside_make_graph():
    params = {"w": np.ones(2)}
    graph = fn.make_graph(optim.apply_updates)(params, params)  # no values to check while tracing
    fn.config.update("debug_nans", True)
    try:
        with pytest.raises(FloatingPointError):
            graph(params, {"w": np.array([np.nan, 1.0])})
    finally:
        fn.config.update("debug_nans", False)


# ---------------------------------------------------------------------------
# schedules with a traced count

SCHEDULES = {
    "constant": optim.constant(0.5),
    "exponential_decay": optim.exponential_decay(1.0, 10, 0.9),
    "exponential_decay_staircase": optim.exponential_decay(1.0, 4, 0.5, 3, staircase=True, end_value=0.1),
    "exponential_growth": optim.exponential_decay(1.0, 2, 2.0, end_value=8.0),
    "piecewise_constant": optim.piecewise_constant(1.0, {3: 0.1, 7: 0.5}),
    "cosine_decay": optim.cosine_decay(1.0, 10, alpha=0.1),
    "cosine_decay_exponent": optim.cosine_decay(1.0, 10, exponent=2.0),
    "linear_warmup": optim.linear_warmup(0.0, 1.0, 10, 2),
    "warmup_cosine_decay": optim.warmup_cosine_decay(0.0, 1.0, 3, 10),
    "warmup_cosine_decay_no_warmup": optim.warmup_cosine_decay(0.5, 1.0, 0, 10, end_value=0.1, exponent=0.5),
    "one_cycle": optim.one_cycle(10, 1.0),
}


@pytest.mark.parametrize("name", SCHEDULES)
def test_schedule_of_a_traced_count_equals_the_eager_value(name):
    schedule = SCHEDULES[name]
    graph = fn.make_graph(schedule)(np.asarray(0, np.int32))
    assert graph.equations, "the value should depend on the traced count"
    assert graph.out_avals[0].dtype == np.float64 and graph.out_avals[0].shape == ()
    late = [1000] if name == "exponential_growth" else [1000, np.iinfo(np.int32).max]  # 2.0**1e9 overflows
    for count in [*range(16), *late]:
        c = np.asarray(count, np.int32)
        assert_same_bits(graph(c), schedule(c))


@pytest.mark.parametrize("name", SCHEDULES)
def test_schedule_of_a_traced_array_of_counts(name):
    schedule = SCHEDULES[name]
    counts = np.arange(16, dtype=np.int32)
    assert_same_bits(fn.make_graph(schedule)(counts)(counts), schedule(counts))


def test_a_schedule_that_decides_in_python_names_the_problem():
    opt = optim.sgd(lambda count: 0.1 if count < 5 else 0.01)
    params = {"w": np.ones(2)}
    with pytest.raises(ConcretizationError, match="bool"):
        fn.make_graph(opt.update)(params, opt.init(params), params)


# ---------------------------------------------------------------------------
# differentiating through updates

rng_target = np.random.default_rng(7)
TARGET = {"b": np.asarray(0.5), "w": rng_target.normal(size=3)}
START = {"b": np.asarray(-0.2), "w": rng_target.normal(size=3)}


def quadratic(params):
    return fnp.sum((params["w"] - TARGET["w"]) ** 2) + 3.0 * (params["b"] - TARGET["b"]) ** 2


def loss_after_training(make_opt, steps):
    """The loss after ``steps`` updates of ``make_opt()``, as a function of a hyper-parameter."""

    def run(hyper):
        opt = make_opt(hyper)
        params, state = START, opt.init(START)
        for _ in range(steps):
            updates, state = opt.update(fn.grad(quadratic)(params), state, params)
            params = optim.apply_updates(params, updates)
        return quadratic(params)

    return run


def central_difference(f, x, h=1e-6):
    return (float(f(x + h)) - float(f(x - h))) / (2 * h)


@pytest.mark.parametrize("steps", [1, 3])
def test_meta_gradient_of_adam_with_respect_to_the_learning_rate(steps):
    f = loss_after_training(lambda lr: optim.adam(lr), steps)
    lr = 0.05
    meta = fn.grad(f)(lr)
    assert float(meta) != 0.0
    np.testing.assert_allclose(float(meta), central_difference(f, lr), rtol=1e-6)


# (factory of one hyper-parameter, value): the meta-gradient with respect to it
HYPER = {
    "sgd_lr": (lambda h: optim.sgd(h, momentum=0.9), 0.05),
    "sgd_momentum": (lambda h: optim.sgd(0.05, momentum=h, nesterov=True), 0.8),
    "adam_b1": (lambda h: optim.adam(0.05, b1=h), 0.9),
    "adam_b2": (lambda h: optim.adam(0.05, b2=h), 0.99),
    "adam_eps": (lambda h: optim.adam(0.05, eps=h), 0.1),
    "adamw_weight_decay": (lambda h: optim.adamw(0.05, weight_decay=h), 0.1),
    "rmsprop_decay": (lambda h: optim.rmsprop(0.01, decay=h, centered=True), 0.9),
    "adagrad_lr_decay": (lambda h: optim.adagrad(0.1, lr_decay=h), 0.1),
    "adadelta_rho": (lambda h: optim.adadelta(1.0, rho=h), 0.9),
    "nadam_momentum_decay": (lambda h: optim.nadam(0.05, momentum_decay=h), 0.5),
    "lion_lr": (lambda h: optim.lion(h), 0.01),
    "clip_max_norm": (lambda h: optim.chain(optim.clip_by_global_norm(h), optim.sgd(0.1)), 0.5),
    "clip_max_delta": (lambda h: optim.chain(optim.clip(h), optim.sgd(0.1)), 0.5),
    "scale_by_rms_initial_scale": (lambda h: optim.chain(optim.scale_by_rms(initial_scale=h), optim.scale(-0.01)), 0.5),
}


@pytest.mark.parametrize("name", HYPER)
def test_meta_gradient_with_respect_to_a_hyper_parameter(name):
    make_opt, value = HYPER[name]
    f = loss_after_training(make_opt, 3)
    meta = fn.grad(f)(value)
    assert float(meta) != 0.0
    np.testing.assert_allclose(float(meta), central_difference(f, value), rtol=1e-5, atol=1e-9)


def test_meta_gradient_can_itself_be_captured_in_a_graph():
    f = loss_after_training(lambda lr: optim.adam(lr), 2)
    graph = fn.make_graph(fn.grad(f))(0.05)
    assert_same_bits(graph(0.05), fn.grad(f)(0.05))
    assert_same_bits(graph(0.1), fn.grad(f)(0.1))


def test_a_traced_hyper_parameter_must_be_a_real_scalar():
    with pytest.raises(ValueError, match="learning_rate must be a scalar"):
        fn.make_graph(lambda lr: optim.adam(lr).init({"w": np.ones(2)}))(np.ones(2))
    with pytest.raises(TypeError, match="b1 must be a real number"):
        fn.make_graph(lambda b1: optim.adam(0.1, b1=b1).init({"w": np.ones(2)}))(np.asarray(True))


@pytest.mark.parametrize(
    "make_opt",
    [lambda: optim.sgd(0.1, momentum=0.9, nesterov=True), lambda: optim.adam(0.1)],
    ids=["sgd_nesterov", "adam"],
)
def test_updates_are_differentiable_with_respect_to_the_gradients(make_opt):
    opt = make_opt()
    params = make_params(np.float64)
    _, state = opt.update(make_grads(params, seed=5), opt.init(params), params)  # non-zero moments
    check_grads(lambda grads: opt.update(grads, state, params)[0], (make_grads(params),), order=2)


def test_apply_updates_is_differentiable():
    params, updates = make_params(np.float64), make_grads(make_params(np.float64))
    check_grads(optim.apply_updates, (params, updates), order=1)


# ---------------------------------------------------------------------------
# purity


@pytest.mark.parametrize("name", TRANSFORMS)
def test_updates_do_not_modify_their_inputs(name):
    opt = TRANSFORMS[name]()
    params = make_params()
    _, state = opt.update(make_grads(params, seed=5), opt.init(params), params)
    grads = make_grads(params)
    before = copy.deepcopy((grads, state, params))
    for leaf in tree_leaves((grads, state, params)):
        leaf.flags.writeable = False  # any in-place write would raise
    updates, _ = opt.update(grads, state, params)
    optim.apply_updates(params, updates)
    fn.make_graph(opt.update)(grads, state, params)(grads, state, params)
    assert_same_bits((grads, state, params), before)
