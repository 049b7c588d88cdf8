"""The optimizer wrappers of funcnn.optim (MultiSteps, ema, ema_params with averaged_params,
inject_hyperparams with get/set_hyperparams, lookahead) and amsgrad, lamb: hand-derived
values first, then parity with optax and PyTorch where they are installed, under jit, and
their states saved and pickled. The input checks every transformation runs are tested
for these too, in test_optim_inputs.py."""

from __future__ import annotations

import os
import pickle
import re

import numpy as np
import pytest

import funcnn as fn
import funcnn.numpy as fnp
from funcnn import io, optim
from funcnn.tree_util import tree_leaves, tree_map, tree_structure


def make_params(dtype=np.float64, seed=0):
    rng = np.random.default_rng(seed)
    return {"b": rng.normal(size=3).astype(dtype), "w": rng.normal(size=(2, 3)).astype(dtype)}


def make_grads(params, seed):
    rng = np.random.default_rng(100 + seed)
    return tree_map(lambda p: rng.normal(size=p.shape).astype(p.dtype), params)


def run(opt, params, grads_list, state=None):
    """Apply ``opt`` to each gradient in turn; the params and state after each step."""
    state = opt.init(params) if state is None else state
    history = []
    for grads in grads_list:
        updates, state = opt.update(grads, state, params)
        params = optim.apply_updates(params, updates)
        history.append((params, state, updates))
    return history


def assert_trees_close(actual, expected, rtol=1e-12, atol=0.0):
    assert tree_structure(actual) == tree_structure(expected)
    for a, e in zip(tree_leaves(actual), tree_leaves(expected)):
        np.testing.assert_allclose(np.asarray(a), np.asarray(e), rtol=rtol, atol=atol)


def as_jax(tree):
    jnp = pytest.importorskip("jax.numpy")
    return tree_map(jnp.asarray, tree)


def against_optax(ours, theirs, steps, before=None, rtol=2e-5, atol=1e-8):
    """Give ``ours`` and its optax twin the same float32 gradients, comparing the updates;
    yield both states after each step. ``before(step, state, their_state)`` may change the
    states first."""
    params = make_params(np.float32)
    state, their_state = ours.init(params), theirs.init(as_jax(params))
    for step in range(steps):
        if before is not None:
            state, their_state = before(step, state, their_state)
        grads = make_grads(params, step)
        updates, state = ours.update(grads, state, params)
        their_updates, their_state = theirs.update(as_jax(grads), their_state, as_jax(params))
        assert all(u.dtype == np.float32 for u in tree_leaves(updates))
        assert_trees_close(updates, their_updates, rtol=rtol, atol=atol)
        params = optim.apply_updates(params, updates)
        yield state, their_state


# ---------------------------------------------------------------------------
# MultiSteps


@pytest.mark.parametrize("inner", ["sgd", "adam"])
def test_k_mini_steps_equal_one_step_of_the_mean_gradient(inner):
    k, lr = 3, 0.1
    make = {"sgd": lambda: optim.sgd(lr), "adam": lambda: optim.adam(lr)}[inner]
    opt = optim.MultiSteps(make(), every_k_schedule=k)
    params = make_params()
    state = opt.init(params)
    reference, ref_opt = params, make()
    ref_state = ref_opt.init(params)
    for step in range(2):  # two updates of the inner optimizer
        batches = [make_grads(params, 10 * step + i) for i in range(k)]
        for i, grads in enumerate(batches):
            updates, state = opt.update(grads, state, params)
            params = optim.apply_updates(params, updates)
            if i < k - 1:
                assert all(np.all(u == 0) for u in tree_leaves(updates))
        mean = tree_map(lambda *gs: sum(gs) / k, *batches)
        if inner == "sgd":  # by hand: one step of the mean gradient
            expected = tree_map(lambda p, g: p - lr * g, reference, mean)
        else:
            ref_updates, ref_state = ref_opt.update(mean, ref_state, reference)
            expected = optim.apply_updates(reference, ref_updates)
        assert_trees_close(params, expected)
        reference = expected
    assert int(state.gradient_step) == 2 and int(state.mini_step) == 0


def test_the_first_adam_step_of_accumulated_gradients_is_minus_lr_times_the_sign_of_their_mean():
    opt = optim.MultiSteps(optim.adam(0.1, eps=0.0), every_k_schedule=2)
    params = {"w": np.array([1.0, 1.0])}
    state = opt.init(params)
    _, state = opt.update({"w": np.array([3.0, 1.0])}, state, params)
    updates, state = opt.update({"w": np.array([-1.0, -5.0])}, state, params)
    np.testing.assert_allclose(updates["w"], [-0.1, 0.1])  # mean (1, -2)


def test_without_the_mean_the_gradients_are_summed():
    opt = optim.MultiSteps(optim.sgd(1.0), every_k_schedule=2, use_grad_mean=False)
    params = {"w": np.zeros(2)}
    state = opt.init(params)
    _, state = opt.update({"w": np.array([1.0, 2.0])}, state, params)
    np.testing.assert_array_equal(state.acc_grads["w"], [1.0, 2.0])
    updates, state = opt.update({"w": np.array([3.0, -1.0])}, state, params)
    np.testing.assert_array_equal(updates["w"], [-4.0, -1.0])
    np.testing.assert_array_equal(state.acc_grads["w"], [0.0, 0.0])


def test_has_updated_and_the_counts_follow_the_schedule():
    # one mini-step for the first update, then three per update
    opt = optim.MultiSteps(optim.sgd(0.1), every_k_schedule=lambda step: fnp.where(step < 1, 1, 3))
    params = {"w": np.zeros(1)}
    state = opt.init(params)
    assert not bool(opt.has_updated(state))
    flags, counts = [], []
    for _ in range(7):
        _, state = opt.update({"w": np.ones(1)}, state, params)
        flags.append(bool(opt.has_updated(state)))
        counts.append((int(state.mini_step), int(state.gradient_step)))
    assert flags == [True, False, False, True, False, False, True]
    assert counts == [(0, 1), (1, 1), (2, 1), (0, 2), (1, 2), (2, 2), (0, 3)]


def test_multisteps_in_a_chain_and_its_transformation():
    opt = optim.MultiSteps(optim.adam(0.01), 2)
    assert opt.inner_opt is not None
    chained = optim.chain(optim.clip_by_global_norm(1.0), opt.gradient_transformation())
    params = make_params()
    history = run(chained, params, [make_grads(params, i) for i in range(4)])
    assert int(history[-1][1][1].gradient_step) == 2


def test_multisteps_float32_stays_float32():
    opt = optim.MultiSteps(optim.adam(0.01), 2)
    params = make_params(np.float32)
    for params_t, state, updates in run(opt, params, [make_grads(params, i) for i in range(4)]):
        for leaf in tree_leaves((params_t, updates, state.acc_grads, state.inner_opt_state[0].mu)):
            assert leaf.dtype == np.float32


@pytest.mark.parametrize("use_grad_mean", [True, False])
def test_multisteps_matches_optax(use_grad_mean):
    optax = pytest.importorskip("optax")
    ours = optim.MultiSteps(optim.adam(0.01), 3, use_grad_mean=use_grad_mean)
    theirs = optax.MultiSteps(optax.adam(0.01), 3, use_grad_mean=use_grad_mean)
    for state, their_state in against_optax(ours, theirs, steps=9, atol=1e-7):
        assert bool(ours.has_updated(state)) == bool(theirs.has_updated(their_state))


def test_multisteps_under_jit_gives_the_eager_steps_and_traces_once():
    opt = optim.MultiSteps(optim.adam(0.01), 3)

    def step(params, state, grads):
        updates, state = opt.update(grads, state, params)
        return optim.apply_updates(params, updates), state

    jitted = fn.jit(step)
    params = make_params(np.float32)
    eager = jit_params = params
    eager_state = jit_state = opt.init(params)
    for i in range(7):
        grads = make_grads(params, i)
        eager, eager_state = step(eager, eager_state, grads)
        jit_params, jit_state = jitted(jit_params, jit_state, grads)
        for a, e in zip(tree_leaves((jit_params, jit_state)), tree_leaves((eager, eager_state))):
            assert np.asarray(a).dtype == np.asarray(e).dtype
            np.testing.assert_array_equal(a, e)
    assert jitted.cache_size() == 1


def test_multisteps_can_be_differentiated():
    opt = optim.MultiSteps(optim.sgd(0.5), 2)
    params = {"w": np.array([1.0, 2.0])}
    state = opt.init(params)
    _, state = opt.update({"w": np.array([1.0, 1.0])}, state, params)

    def moved(g):
        updates, _ = opt.update({"w": g}, state, params)
        return fnp.sum(updates["w"] * np.array([1.0, 3.0]))

    np.testing.assert_allclose(fn.grad(moved)(np.zeros(2)), [-0.25, -0.75])  # -0.5 * mean's 1/2


@pytest.mark.parametrize(
    "opt, k, error, message",
    [
        ("adam", 0, ValueError, "every_k_schedule must be >= 1, got 0"),
        ("adam", 2.0, TypeError, "every_k_schedule must be an int"),
        ("adam", True, TypeError, "every_k_schedule must be an int"),
        ("factory", 2, TypeError, "did you pass the factory"),
    ],
)
def test_multisteps_bad_arguments(opt, k, error, message):
    inner = optim.adam if opt == "factory" else optim.adam(0.1)
    with pytest.raises(error, match=re.escape(message)):
        optim.MultiSteps(inner, k)


# ---------------------------------------------------------------------------
# ema of the updates


def test_ema_by_hand():
    grads = [4.0, 1.0, -2.0]
    for debias in (True, False):
        t = optim.ema(0.5, debias=debias)
        state = t.init({"w": np.zeros(1)})
        avg = 0.0
        for step, g in enumerate(grads, start=1):
            updates, state = t.update({"w": np.array([g])}, state)
            avg = 0.5 * avg + 0.5 * g
            expected = avg / (1 - 0.5**step) if debias else avg
            np.testing.assert_allclose(updates["w"], [expected], rtol=1e-15)
            np.testing.assert_allclose(state.ema["w"], [avg], rtol=1e-15)


@pytest.mark.parametrize("debias", [True, False])
def test_ema_matches_optax(debias):
    optax = pytest.importorskip("optax")
    ours, theirs = optim.ema(0.9, debias=debias), optax.ema(0.9, debias=debias)
    for state, their_state in against_optax(ours, theirs, steps=5, rtol=2e-6, atol=1e-7):
        assert_trees_close(state.ema, their_state.ema, rtol=2e-6, atol=1e-7)


def test_ema_accumulator_dtype():
    t = optim.ema(0.9, accumulator_dtype=np.float32)
    params = make_params()
    state = t.init(params)
    updates, state = t.update(make_grads(params, 0), state)
    assert all(a.dtype == np.float32 for a in tree_leaves(state.ema))
    assert all(u.dtype == np.float64 for u in tree_leaves(updates))
    with pytest.raises(TypeError, match="accumulator_dtype must be a floating-point dtype, got int32"):
        optim.ema(0.9, accumulator_dtype=np.int32)
    with pytest.raises(ValueError, match=re.escape("decay must be in [0, 1), got 1.0")):
        optim.ema(1.0)


# ---------------------------------------------------------------------------
# ema_params and averaged_params


def ema_by_hand(history, initial, decay, debias):
    """The running averages of ``history`` (the params after each step) as the docstring defines them."""
    average, out = initial, []
    for t, params in enumerate(history, start=1):
        weight = (1 - decay) / (1 - decay**t) if debias else (1.0 if t == 1 else 1 - decay)
        average = tree_map(lambda e, p: e + weight * (p - e), average, params)
        out.append(average)
    return out


@pytest.mark.parametrize("debias", [False, True])
def test_ema_params_averages_the_params_after_each_step(debias):
    decay = 0.8
    opt = optim.chain(optim.adam(0.1), optim.ema_params(decay, debias=debias))
    params = make_params()
    assert_trees_close(optim.averaged_params(opt.init(params)), params)
    history = run(opt, params, [make_grads(params, i) for i in range(6)])
    by_hand = ema_by_hand([p for p, _, _ in history], params, decay, debias)
    for (_, state, _), expected in zip(history, by_hand):
        assert_trees_close(optim.averaged_params(state), expected)
    if debias:  # the closed form: sum_s (1 - d) d**(t - s) theta_s / (1 - d**t)
        t = len(history)
        total = sum((1 - decay) * decay ** (t - s) * p["w"] for s, (p, _, _) in enumerate(history, start=1))
        np.testing.assert_allclose(by_hand[-1]["w"], total / (1 - decay**t), rtol=1e-12)


def test_ema_params_leaves_the_updates_unchanged():
    params = make_params()
    grads = [make_grads(params, i) for i in range(3)]
    with_ema = run(optim.chain(optim.adam(0.1), optim.ema_params(0.9)), params, grads)
    without = run(optim.adam(0.1), params, grads)
    for (a, _, ua), (b, _, ub) in zip(with_ema, without):
        assert all(np.array_equal(x, y) for x, y in zip(tree_leaves((a, ua)), tree_leaves((b, ub))))


@pytest.mark.parametrize("decay", [0.9, 0.5])
def test_ema_params_matches_torch_averaged_model(decay):
    torch = pytest.importorskip("torch")
    from torch.optim.swa_utils import AveragedModel, get_ema_multi_avg_fn

    model = torch.nn.Linear(3, 2).double()
    averaged = AveragedModel(model, multi_avg_fn=get_ema_multi_avg_fn(decay))
    torch_opt = torch.optim.SGD(model.parameters(), lr=0.1, momentum=0.9)
    params = {"w": model.weight.detach().numpy().copy(), "b": model.bias.detach().numpy().copy()}
    opt = optim.chain(optim.sgd(0.1, momentum=0.9), optim.ema_params(decay))
    state = opt.init(params)
    for step in range(8):
        grads = make_grads(params, step)
        model.weight.grad, model.bias.grad = torch.tensor(grads["w"]), torch.tensor(grads["b"])
        torch_opt.step()
        averaged.update_parameters(model)
        updates, state = opt.update(grads, state, params)
        params = optim.apply_updates(params, updates)
        ours = optim.averaged_params(state)
        np.testing.assert_allclose(ours["w"], averaged.module.weight.detach().numpy(), rtol=1e-12, atol=1e-14)
        np.testing.assert_allclose(ours["b"], averaged.module.bias.detach().numpy(), rtol=1e-12, atol=1e-14)


def test_ema_params_without_params_names_the_fix():
    opt = optim.chain(optim.sgd(0.1), optim.ema_params(0.9))
    params = make_params()
    message = "ema_params needs the parameters: call update(updates, state, params)"
    with pytest.raises(ValueError, match=re.escape(message)):
        opt.update(make_grads(params, 0), opt.init(params))


def ema_sgd(learning_rate):
    return optim.chain(optim.sgd(learning_rate), optim.ema_params(0.5))


@pytest.mark.parametrize(
    "make",
    [
        lambda: optim.chain(optim.clip(1.0), optim.chain(optim.adam(0.1), optim.ema_params(0.5))),
        lambda: optim.MultiSteps(optim.chain(optim.adam(0.1), optim.ema_params(0.5)), 2).gradient_transformation(),
        lambda: optim.inject_hyperparams(ema_sgd)(learning_rate=0.1),
        lambda: optim.chain(optim.lookahead(optim.adam(0.1), 2, 0.5), optim.ema_params(0.5)),
    ],
    ids=["nested_chain", "multisteps", "inject_hyperparams", "after_lookahead"],
)
def test_averaged_params_finds_the_average_at_any_depth(make):
    opt = make()
    params = make_params()
    history = run(opt, params, [make_grads(params, i) for i in range(4)])
    averages = [optim.averaged_params(state) for _, state, _ in history]
    assert tree_structure(averages[-1]) == tree_structure(params)
    assert not np.array_equal(averages[-1]["w"], params["w"])


def test_averaged_params_without_or_with_two_averages_is_a_value_error():
    params = make_params()
    with pytest.raises(ValueError, match=re.escape("holds no EmaParamsState; build the optimizer with ema_params")):
        optim.averaged_params(optim.adam(0.1).init(params))
    two = optim.chain(optim.ema_params(0.5), optim.ema_params(0.9))
    with pytest.raises(ValueError, match="holds 2 EmaParamsStates"):
        optim.averaged_params(two.init(params))


# ---------------------------------------------------------------------------
# inject_hyperparams


def test_changing_the_learning_rate_mid_run_equals_two_runs():
    params = make_params()
    grads = [make_grads(params, i) for i in range(6)]
    opt = optim.inject_hyperparams(optim.adam)(learning_rate=0.1)
    first = run(opt, params, grads[:3])
    state = optim.set_hyperparams(first[-1][1], learning_rate=0.01)
    second = run(opt, first[-1][0], grads[3:], state)
    # by hand: Adam at 0.1 for three steps, then Adam at 0.01 from the same moments
    plain_first = run(optim.adam(0.1), params, grads[:3])
    plain_second = run(optim.adam(0.01), plain_first[-1][0], grads[3:], plain_first[-1][1])
    for (a, state_a, _), (b, state_b, _) in zip(first + second, plain_first + plain_second):
        assert all(np.array_equal(x, y) for x, y in zip(tree_leaves(a), tree_leaves(b)))
        assert all(np.array_equal(x, y) for x, y in zip(tree_leaves(state_a.inner_state), tree_leaves(state_b)))
    assert float(optim.get_hyperparams(second[-1][1])["learning_rate"]) == 0.01


def test_replacing_hyperparams_by_hand_works_too():
    opt = optim.inject_hyperparams(optim.sgd)(learning_rate=0.1)
    params = {"w": np.ones(2, np.float32)}
    state = opt.init(params)
    state = state._replace(hyperparams={**state.hyperparams, "learning_rate": np.asarray(0.5, np.float32)})
    updates, state = opt.update({"w": np.ones(2, np.float32)}, state, params)
    np.testing.assert_array_equal(updates["w"], np.float32(-0.5))
    assert updates["w"].dtype == np.float32 and state.hyperparams["learning_rate"].dtype == np.float64


def test_which_arguments_are_injected():
    opt = optim.inject_hyperparams(optim.sgd)(0.1, momentum=0.9, nesterov=True)
    state = opt.init({"w": np.zeros(2)})
    assert sorted(state.hyperparams) == ["learning_rate", "momentum"]  # nesterov and weight_decay=0 are static
    assert all(v.shape == () and v.dtype == np.float64 for v in state.hyperparams.values())
    plain = optim.sgd(0.1, momentum=0.9, nesterov=True)
    grads = [{"w": np.array([1.0, -2.0])}, {"w": np.array([0.5, 0.5])}]
    for (a, _, _), (b, _, _) in zip(run(opt, {"w": np.zeros(2)}, grads), run(plain, {"w": np.zeros(2)}, grads)):
        np.testing.assert_array_equal(a["w"], b["w"])


def test_a_schedule_is_evaluated_at_each_count():
    schedule = optim.cosine_decay(0.1, 4)
    opt = optim.inject_hyperparams(optim.sgd)(learning_rate=schedule)
    params = {"w": np.zeros(1)}
    history = run(opt, params, [{"w": np.ones(1)}] * 5)
    plain = run(optim.sgd(schedule), params, [{"w": np.ones(1)}] * 5)
    for count, ((a, state, updates), (b, _, _)) in enumerate(zip(history, plain)):
        np.testing.assert_allclose(state.hyperparams["learning_rate"], schedule(count), rtol=1e-15)
        np.testing.assert_allclose(updates["w"], [-schedule(count)], rtol=1e-15)
        np.testing.assert_array_equal(a["w"], b["w"])


def test_the_rate_is_data_under_jit_so_a_new_rate_does_not_trace_again():
    x = np.random.default_rng(0).normal(size=(16, 3)).astype(np.float32)
    y = x @ np.array([1.0, -2.0, 0.5], np.float32)
    opt = optim.inject_hyperparams(optim.adam)(learning_rate=0.05)

    def loss(params):
        return fnp.mean((x @ params["w"] - y) ** 2)

    def step(params, state):
        grads = fn.grad(loss)(params)
        updates, state = opt.update(grads, state, params)
        return optim.apply_updates(params, updates), state

    jitted = fn.jit(step)
    params = {"w": np.zeros(3, np.float32)}
    eager = jit_params = params
    eager_state = jit_state = opt.init(params)
    for i in range(6):
        if i == 3:
            eager_state = optim.set_hyperparams(eager_state, learning_rate=0.005)
            jit_state = optim.set_hyperparams(jit_state, learning_rate=0.005)
        eager, eager_state = step(eager, eager_state)
        jit_params, jit_state = jitted(jit_params, jit_state)
        np.testing.assert_allclose(jit_params["w"], eager["w"], rtol=1e-6)
    assert jitted.cache_size() == 1
    assert float(jit_state.hyperparams["learning_rate"]) == 0.005


def test_inject_hyperparams_matches_optax_with_a_change_mid_run():
    optax = pytest.importorskip("optax")
    jnp = pytest.importorskip("jax.numpy")
    ours = optim.inject_hyperparams(optim.adam)(learning_rate=0.01, b1=0.8)
    theirs = optax.inject_hyperparams(optax.adam)(learning_rate=0.01, b1=0.8)

    def lower_the_rate_at_step_3(step, state, their_state):
        if step == 3:
            state = optim.set_hyperparams(state, learning_rate=0.002)
            their_state.hyperparams["learning_rate"] = jnp.asarray(0.002)
        return state, their_state

    states = list(against_optax(ours, theirs, steps=6, before=lower_the_rate_at_step_3))
    assert float(states[-1][0].hyperparams["learning_rate"]) == 0.002


def test_a_scheduled_hyperparam_matches_optax():
    optax = pytest.importorskip("optax")
    ours = optim.inject_hyperparams(optim.sgd)(learning_rate=optim.cosine_decay(0.1, 5), momentum=0.9)
    theirs = optax.inject_hyperparams(optax.sgd)(learning_rate=optax.cosine_decay_schedule(0.1, 5), momentum=0.9)
    for state, their_state in against_optax(ours, theirs, steps=7):
        ours_rate, their_rate = state.hyperparams["learning_rate"], their_state.hyperparams["learning_rate"]
        np.testing.assert_allclose(ours_rate, their_rate, rtol=1e-6, atol=1e-8)


def test_a_meta_gradient_reaches_an_injected_rate():
    def loss_after(lr, inject):
        opt = optim.inject_hyperparams(optim.sgd)(lr, momentum=0.5) if inject else optim.sgd(lr, momentum=0.5)
        params = {"w": np.array([1.0, 2.0])}
        history = run(opt, params, [{"w": 2 * params["w"]}] * 3)
        return fnp.sum(history[-1][0]["w"] ** 2)

    np.testing.assert_allclose(fn.grad(loss_after)(0.1, True), fn.grad(loss_after)(0.1, False), rtol=1e-14)

    def loss_after_set(lr):  # by hand: theta = (1 - 2 lr, 2 - 4 lr)
        opt = optim.inject_hyperparams(optim.sgd)(0.3)
        params = {"w": np.array([1.0, 2.0])}
        state = optim.set_hyperparams(opt.init(params), learning_rate=lr)
        updates, _ = opt.update({"w": np.array([2.0, 4.0])}, state, params)
        return fnp.sum(optim.apply_updates(params, updates)["w"] ** 2)

    np.testing.assert_allclose(fn.grad(loss_after_set)(0.1), -4 * 0.8 - 8 * 1.6)


def test_get_and_set_hyperparams_reach_nested_states():
    inner = optim.inject_hyperparams(optim.adam)(learning_rate=0.1)
    opt = optim.chain(
        optim.clip_by_global_norm(1.0),
        optim.MultiSteps(inner, 2).gradient_transformation(),
    )
    state = opt.init(make_params())
    hyperparams = optim.get_hyperparams(state)
    assert sorted(hyperparams) == ["b1", "b2", "eps", "learning_rate"]
    new = optim.set_hyperparams(state, learning_rate=0.02, b2=0.99)
    assert float(new[1].inner_opt_state.hyperparams["learning_rate"]) == 0.02
    assert float(optim.get_hyperparams(new)["b2"]) == 0.99
    assert float(optim.get_hyperparams(state)["learning_rate"]) == 0.1  # not modified
    assert tree_structure(new) == tree_structure(state)


def test_two_injected_optimizers_are_both_set():
    opt = optim.chain(
        optim.inject_hyperparams(optim.scale_by_adam)(b1=0.9),
        optim.inject_hyperparams(optim.scale_by_learning_rate)(learning_rate=0.1),
    )
    state = optim.set_hyperparams(opt.init(make_params()), learning_rate=0.3, b1=0.5)
    assert float(state[0].hyperparams["b1"]) == 0.5 and float(state[1].hyperparams["learning_rate"]) == 0.3
    clash = (state[0], state[1]._replace(hyperparams={"learning_rate": np.asarray(0.3)}),
             state[1]._replace(hyperparams={"learning_rate": np.asarray(0.2)}))
    with pytest.raises(ValueError, match="two injected states hold different values of 'learning_rate'"):
        optim.get_hyperparams(clash)


def test_hyperparam_errors_name_the_fix():
    state = optim.inject_hyperparams(optim.sgd)(learning_rate=0.1).init(make_params())
    message = "['momentum'] not injected in this state; it injects ['learning_rate']"
    with pytest.raises(ValueError, match=re.escape(message)):
        optim.set_hyperparams(state, momentum=0.9)
    with pytest.raises(ValueError, match="learning_rate must be a scalar, got shape"):
        optim.set_hyperparams(state, learning_rate=np.ones(2))
    with pytest.raises(TypeError, match="learning_rate must be a real number"):
        optim.set_hyperparams(state, learning_rate="0.1")
    plain = optim.sgd(0.1).init(make_params())
    assert optim.get_hyperparams(plain) == {}
    message = "holds no injected hyper-parameters; build the optimizer with inject_hyperparams"
    with pytest.raises(ValueError, match=re.escape(message)):
        optim.set_hyperparams(plain, learning_rate=0.1)


def test_a_callable_that_is_not_a_schedule_needs_static_args():
    def not_bias(tree):
        return {"b": False, "w": True}

    with pytest.raises(TypeError, match=re.escape("pass static_args=('mask',)")):
        optim.inject_hyperparams(optim.adamw)(0.01, mask=not_bias)
    opt = optim.inject_hyperparams(optim.adamw, static_args="mask")(0.01, weight_decay=0.5, mask=not_bias)
    params = make_params()
    updates, _ = opt.update(tree_map(np.zeros_like, params), opt.init(params), params)
    np.testing.assert_array_equal(updates["b"], 0.0)
    np.testing.assert_allclose(updates["w"], -0.01 * 0.5 * params["w"])
    with pytest.raises(ValueError, match=re.escape("static_args ['masks'] are not arguments of adamw")):
        optim.inject_hyperparams(optim.adamw, static_args=["masks"])


def test_bad_values_raise_when_built_or_at_the_next_update():
    with pytest.raises(ValueError, match=re.escape("learning_rate must be > 0, got -1.0")):
        optim.inject_hyperparams(optim.adam)(learning_rate=-1.0)
    opt = optim.inject_hyperparams(optim.adam)(learning_rate=0.1)
    params = make_params()
    state = optim.set_hyperparams(opt.init(params), learning_rate=-1.0)
    with pytest.raises(ValueError, match=re.escape("learning_rate must be > 0, got -1.0")):
        opt.update(make_grads(params, 0), state, params)


def test_a_coefficient_set_to_zero_keeps_its_block_and_a_schedule_may_reach_zero():
    params = make_params()
    grads = [make_grads(params, i) for i in range(4)]
    opt = optim.inject_hyperparams(optim.adamw)(0.01, weight_decay=0.1)
    state = optim.set_hyperparams(opt.init(params), weight_decay=0.0)
    ours = run(opt, params, grads, state)
    plain = run(optim.adamw(0.01, weight_decay=0.0), params, grads)
    for (a, _, _), (b, _, _) in zip(ours, plain):
        assert_trees_close(a, b, rtol=1e-15)
    to_zero = optim.inject_hyperparams(optim.sgd)(optim.linear_schedule(0.1, 0.0, 2), momentum=0.9)
    history = run(to_zero, params, grads)
    assert float(history[-1][1].hyperparams["learning_rate"]) == 0.0
    assert_trees_close(history[-1][0], history[-2][0], rtol=0.0)  # a zero step


# ---------------------------------------------------------------------------
# amsgrad


def amsgrad_by_hand(grads, lr, b1, b2, eps, corrected_max):
    """Updates of AMSGrad with the maximum over raw ``v`` (PyTorch) or over ``v / (1 - b2**t)`` (optax)."""
    m = v = vmax = np.zeros_like(grads[0])
    out = []
    for t, g in enumerate(grads, start=1):
        m = b1 * m + (1 - b1) * g
        v = b2 * v + (1 - b2) * g**2
        if corrected_max:
            vmax = np.maximum(vmax, v / (1 - b2**t))
            denominator = np.sqrt(vmax) + eps
        else:
            vmax = np.maximum(vmax, v)
            denominator = np.sqrt(vmax / (1 - b2**t)) + eps
        out.append(-lr * m / (1 - b1**t) / denominator)
    return out


SHRINKING = [np.array([3.0, -1.0]), np.array([0.1, -2.0]), np.array([0.05, 0.2]), np.array([0.01, 0.0])]


def test_amsgrad_by_hand_follows_pytorch_where_the_two_rules_differ():
    opt = optim.amsgrad(0.1, b1=0.9, b2=0.9, eps=1e-8)
    params = {"w": np.zeros(2)}
    history = run(opt, params, [{"w": g} for g in SHRINKING])
    ours = amsgrad_by_hand(SHRINKING, 0.1, 0.9, 0.9, 1e-8, corrected_max=False)
    other = amsgrad_by_hand(SHRINKING, 0.1, 0.9, 0.9, 1e-8, corrected_max=True)
    for (_, _, updates), expected in zip(history, ours):
        np.testing.assert_allclose(updates["w"], expected, rtol=1e-12)
    assert not np.allclose(ours[-1], other[-1], rtol=1e-3)  # the rules do differ here


@pytest.mark.parametrize("weight_decay", [0.0, 0.1])
def test_amsgrad_matches_torch(weight_decay):
    torch = pytest.importorskip("torch")
    params = make_params()
    tensors = {k: torch.tensor(v, requires_grad=True) for k, v in params.items()}
    torch_opt = torch.optim.Adam(
        [tensors["b"], tensors["w"]], lr=0.01, betas=(0.8, 0.9), eps=1e-6, weight_decay=weight_decay, amsgrad=True
    )
    opt = optim.amsgrad(0.01, b1=0.8, b2=0.9, eps=1e-6, weight_decay=weight_decay)
    state = opt.init(params)
    for step in range(30):
        grads = make_grads(params, step % 7)  # repeats, so the second moment also shrinks
        grads = tree_map(lambda g: g * (1 + 10 * (step % 3 == 0)), grads)
        for key, tensor in tensors.items():
            tensor.grad = torch.tensor(grads[key])
        torch_opt.step()
        updates, state = opt.update(grads, state, params)
        params = optim.apply_updates(params, updates)
        for key, tensor in tensors.items():
            np.testing.assert_allclose(params[key], tensor.detach().numpy(), rtol=1e-10, atol=1e-12)


def test_amsgrad_matches_optax_while_the_second_moment_grows():
    optax = pytest.importorskip("optax")
    grads = [np.array([1.0, -0.5], np.float32) * (1 + t) for t in range(8)]
    ours, theirs = optim.amsgrad(0.01), optax.amsgrad(0.01)
    params = {"w": np.zeros(2, np.float32)}
    state, their_state = ours.init(params), theirs.init(as_jax(params))
    for g in grads:
        updates, state = ours.update({"w": g}, state, params)
        their_updates, their_state = theirs.update(as_jax({"w": g}), their_state)
        np.testing.assert_allclose(updates["w"], their_updates["w"], rtol=2e-5)
    # and optax's rule is the corrected maximum (checked by hand where they differ)
    their_state = theirs.init(as_jax(params))
    for g, expected in zip(SHRINKING, amsgrad_by_hand(SHRINKING, 0.01, 0.9, 0.999, 1e-8, corrected_max=True)):
        their_updates, their_state = theirs.update(as_jax({"w": g.astype(np.float32)}), their_state)
        np.testing.assert_allclose(their_updates["w"], expected, rtol=5e-5)


# ---------------------------------------------------------------------------
# lamb and scale_by_trust_ratio


def test_lamb_one_step_by_hand():
    lr, b1, b2, eps, wd = 0.1, 0.9, 0.999, 1e-6, 0.01
    params = {"b": np.array([0.5, -0.5]), "w": np.array([[1.0, 2.0], [-2.0, 0.0]]), "z": np.zeros(2)}
    grads = {"b": np.array([0.2, 0.1]), "w": np.array([[0.3, -0.1], [0.0, 2.0]]), "z": np.array([1.0, -1.0])}
    mask = {"b": False, "w": True, "z": True}
    opt = optim.lamb(lr, b1, b2, eps, weight_decay=wd, mask=mask)
    updates, _ = opt.update(grads, opt.init(params), params)
    for key in params:
        g, p = grads[key], params[key]
        m_hat, v_hat = g, g**2  # the first step's bias-corrected moments
        r = m_hat / (np.sqrt(v_hat) + eps) + (wd * p if mask[key] else 0.0)
        ratio = np.linalg.norm(p) / np.linalg.norm(r) if np.linalg.norm(p) > 0 else 1.0
        np.testing.assert_allclose(updates[key], -lr * ratio * r, rtol=1e-12)


def test_lamb_matches_optax():
    optax = pytest.importorskip("optax")
    ours, theirs = optim.lamb(0.01, weight_decay=0.1), optax.lamb(0.01, weight_decay=0.1)
    assert len(list(against_optax(ours, theirs, steps=5))) == 5


def test_trust_ratio_options_and_zero_norms():
    params = {"a": np.array([3.0, 4.0]), "z": np.zeros(2)}
    t = optim.scale_by_trust_ratio(min_norm=1.0, trust_coefficient=0.5, eps=0.5)
    updates, _ = t.update({"a": np.array([0.0, 0.1]), "z": np.array([0.0, 0.0])}, t.init(params), params)
    np.testing.assert_allclose(updates["a"], [0.0, 0.1 * 0.5 * 5 / (1.0 + 0.5)])  # ||u|| = 0.1 raised to 1
    np.testing.assert_array_equal(updates["z"], 0.0)
    with pytest.raises(ValueError, match="scale_by_trust_ratio needs the parameters"):
        t.update(params, t.init(params))

    def moved(u):  # finite derivatives at a zero update
        return fnp.sum(optim.scale_by_trust_ratio().update({"a": u}, None, {"a": params["a"]})[0]["a"])

    assert np.all(np.isfinite(fn.grad(moved)(np.zeros(2))))


# ---------------------------------------------------------------------------
# lookahead


def test_lookahead_follows_the_papers_algorithm():
    """Zhang et al.'s loop, by hand: k steps of SGD with momentum on the fast weights, then
    phi <- phi + alpha * (theta - phi) and theta <- phi; the momentum buffer carries on."""
    k, alpha, lr, mu = 3, 0.5, 0.1, 0.9
    scale = np.array([1.0, 4.0, 0.5])

    def grad(theta):  # of 0.5 * sum(scale * theta**2)
        return scale * theta

    theta0 = np.array([1.0, -1.0, 2.0])
    opt = optim.lookahead(optim.sgd(lr, momentum=mu), sync_period=k, slow_step_size=alpha)
    params = {"w": theta0}
    state = opt.init(params)
    theta, phi, buffer = theta0.copy(), theta0.copy(), np.zeros(3)
    for t in range(1, 11):
        buffer = mu * buffer + grad(theta)
        theta = theta - lr * buffer
        if t % k == 0:
            phi = phi + alpha * (theta - phi)
            theta = phi.copy()
        updates, state = opt.update({"w": grad(params["w"])}, state, params)
        params = optim.apply_updates(params, updates)
        np.testing.assert_allclose(params["w"], theta, rtol=1e-12, atol=1e-15)
        np.testing.assert_allclose(state.slow["w"], phi, rtol=1e-12, atol=1e-15)
        assert int(state.steps_since_sync) == t % k


def test_lookahead_matches_optax_slow_and_fast_params():
    optax = pytest.importorskip("optax")
    ours = optim.lookahead(optim.adam(0.05), sync_period=3, slow_step_size=0.4)
    theirs = optax.lookahead(optax.adam(0.05), sync_period=3, slow_step_size=0.4)
    params = make_params(np.float32)
    their_params = optax.LookaheadParams.init_synced(as_jax(params))
    state, their_state = ours.init(params), theirs.init(their_params)
    for step in range(10):
        grads = make_grads(params, step)
        updates, state = ours.update(grads, state, params)
        params = optim.apply_updates(params, updates)
        their_updates, their_state = theirs.update(as_jax(grads), their_state, their_params)
        their_params = optax.apply_updates(their_params, their_updates)
        assert_trees_close(state.slow, their_params.slow, rtol=1e-5, atol=1e-6)
        assert_trees_close(params, their_params.fast, rtol=1e-5, atol=1e-6)


def test_lookahead_reset_state_restarts_the_fast_optimizer():
    opt = optim.lookahead(optim.sgd(0.1, momentum=0.9), 2, 0.5, reset_state=True)
    params = {"w": np.ones(2)}
    history = run(opt, params, [{"w": np.ones(2)}] * 3)
    buffers = [state.fast_state[0].trace["w"] for _, state, _ in history]
    np.testing.assert_array_equal(buffers[0], 1.0)
    np.testing.assert_array_equal(buffers[1], 0.0)  # reset at the sync
    np.testing.assert_array_equal(buffers[2], 1.0)


@pytest.mark.parametrize(
    "kwargs, error, message",
    [
        (dict(sync_period=0, slow_step_size=0.5), ValueError, "sync_period must be an int >= 1, got 0"),
        (dict(sync_period=2.0, slow_step_size=0.5), ValueError, "sync_period must be an int >= 1, got 2.0"),
        (dict(sync_period=2, slow_step_size=1.5), ValueError, "slow_step_size must be in [0, 1], got 1.5"),
        (dict(sync_period=2, slow_step_size=-0.1), ValueError, "slow_step_size must be >= 0, got -0.1"),
    ],
)
def test_lookahead_bad_arguments(kwargs, error, message):
    with pytest.raises(error, match=re.escape(message)):
        optim.lookahead(optim.sgd(0.1), **kwargs)


def test_lookahead_without_params_names_the_fix():
    opt = optim.lookahead(optim.sgd(0.1), 2, 0.5)
    params = make_params()
    message = "lookahead needs the parameters: call update(updates, state, params)"
    with pytest.raises(ValueError, match=re.escape(message)):
        opt.update(make_grads(params, 0), opt.init(params))


# ---------------------------------------------------------------------------
# every wrapper: under jit, saved, pickled


WRAPPERS = {
    "MultiSteps": lambda: optim.MultiSteps(optim.adam(0.01), 3).gradient_transformation(),
    "MultiSteps_schedule": lambda: optim.MultiSteps(
        optim.sgd(0.1), lambda step: fnp.where(step < 1, 1, 2)
    ).gradient_transformation(),
    "MultiSteps_inject_hyperparams": lambda: optim.MultiSteps(
        optim.inject_hyperparams(optim.adam)(learning_rate=0.01), 2
    ).gradient_transformation(),
    "ema": lambda: optim.ema(0.9),
    "ema_params": lambda: optim.chain(optim.adam(0.1), optim.ema_params(0.9, debias=True)),
    "inject_hyperparams": lambda: optim.inject_hyperparams(optim.adam)(optim.cosine_decay(0.1, 10), b1=0.8),
    "lookahead": lambda: optim.lookahead(optim.sgd(0.1, momentum=0.9), 2, 0.5, reset_state=True),
    "amsgrad": lambda: optim.amsgrad(0.01, weight_decay=0.1),
    "lamb": lambda: optim.lamb(0.01, weight_decay=0.1),
}


@pytest.mark.parametrize("name", WRAPPERS)
def test_under_jit_the_steps_are_the_eager_ones(name):
    opt = WRAPPERS[name]()

    def step(params, state, grads):
        updates, state = opt.update(grads, state, params)
        return optim.apply_updates(params, updates), state

    jitted = fn.jit(step)
    params = make_params(np.float32)
    eager, jit_params = params, params
    eager_state = jit_state = opt.init(params)
    for i in range(6):
        grads = make_grads(params, i)
        eager, eager_state = step(eager, eager_state, grads)
        jit_params, jit_state = jitted(jit_params, jit_state, grads)
    assert tree_structure(jit_state) == tree_structure(eager_state)
    for a, e in zip(tree_leaves((jit_params, jit_state)), tree_leaves((eager, eager_state))):
        assert np.asarray(a).dtype == np.asarray(e).dtype
        np.testing.assert_array_equal(a, e)
    assert jitted.cache_size() == 1


@pytest.mark.parametrize("name", WRAPPERS)
def test_the_state_is_saved_and_pickled_as_arrays(name, tmp_path):
    opt = WRAPPERS[name]()
    params = make_params(np.float32)
    state = run(opt, params, [make_grads(params, i) for i in range(4)])[-1][1]
    path = os.path.join(tmp_path, "state.npz")
    io.save(path, state)
    for restored in (io.load(path, like=opt.init(params)), pickle.loads(pickle.dumps(state))):
        assert tree_structure(restored) == tree_structure(state)
        for a, e in zip(tree_leaves(restored), tree_leaves(state)):
            assert isinstance(a, (np.ndarray, np.generic)) and a.dtype == e.dtype
            np.testing.assert_array_equal(a, e)
