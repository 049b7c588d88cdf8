"""Tests for funcnn.optim: building blocks, optimizers, hand-written references, and a
convergence table. Schedules are in test_optim_schedules.py, PyTorch parity in
test_optim_torch.py."""

from __future__ import annotations

import copy
import math
import re

import numpy as np
import pytest

from funcnn import optim
from funcnn.tree_util import tree_leaves, tree_map, tree_structure

# ---------------------------------------------------------------------------
# fixtures and helpers


def make_params(dtype=np.float64, seed=0):
    rng = np.random.default_rng(seed)
    return {
        "dense_0": {
            "b": rng.normal(size=3).astype(dtype),
            "w": rng.normal(size=(2, 3)).astype(dtype),
        },
        "scale": np.asarray(rng.normal(), dtype=dtype),  # a 0-d leaf
    }


def make_grads(params, seed=1):
    rng = np.random.default_rng(seed)
    return tree_map(lambda p: rng.normal(size=p.shape).astype(p.dtype), params)


def run(opt, params, grads_seq):
    """Apply ``opt`` to a sequence of gradient trees; return the params after each step."""
    state = opt.init(params)
    history = []
    for grads in grads_seq:
        updates, state = opt.update(grads, state, params)
        params = optim.apply_updates(params, updates)
        history.append(params)
    return history, state


# Every ready-made optimizer, in configurations that exercise each of its branches.
OPTIMIZERS = {
    "sgd": lambda: optim.sgd(0.1),
    "sgd_momentum": lambda: optim.sgd(0.1, momentum=0.9),
    "sgd_nesterov_wd": lambda: optim.sgd(0.1, momentum=0.9, nesterov=True, weight_decay=0.01),
    "adam": lambda: optim.adam(0.01),
    "adam_wd": lambda: optim.adam(0.01, weight_decay=0.1),
    "adamw": lambda: optim.adamw(0.01),
    "rmsprop": lambda: optim.rmsprop(0.01),
    "rmsprop_centered_momentum": lambda: optim.rmsprop(0.01, momentum=0.5, centered=True),
    "adagrad": lambda: optim.adagrad(0.1, lr_decay=0.01, weight_decay=0.01),
    "adadelta": lambda: optim.adadelta(),
    "nadam": lambda: optim.nadam(),
    "nadam_decoupled": lambda: optim.nadam(weight_decay=0.1, decoupled_weight_decay=True),
    "lion": lambda: optim.lion(1e-3),
    "adam_schedule": lambda: optim.adam(optim.cosine_decay(0.01, 10)),
    "clipped_adamw": lambda: optim.chain(optim.clip_by_global_norm(1.0), optim.adamw(0.01)),
}


# ---------------------------------------------------------------------------
# GradientTransformation, chain, apply_updates


def test_gradient_transformation_is_a_named_tuple_of_init_and_update():
    opt = optim.sgd(0.1)
    init, update = opt
    assert init is opt.init and update is opt.update


def test_chain_applies_left_to_right_and_keeps_a_state_per_block():
    opt = optim.chain(optim.scale(2.0), optim.clip(1.0), optim.trace(0.5))
    state = opt.init({"w": np.zeros(2)})
    assert isinstance(state, tuple) and len(state) == 3
    assert isinstance(state[2], optim.TraceState)
    updates, state = opt.update({"w": np.array([0.25, 3.0])}, state)
    np.testing.assert_array_equal(updates["w"], [0.5, 1.0])  # scale, then clip, then trace
    updates, state = opt.update({"w": np.array([0.25, 3.0])}, state)
    np.testing.assert_array_equal(updates["w"], [0.75, 1.5])


def test_empty_chain_is_the_identity():
    opt = optim.chain()
    assert opt.init({"w": np.ones(2)}) == ()
    updates, state = opt.update({"w": np.ones(2)}, ())
    np.testing.assert_array_equal(updates["w"], np.ones(2))
    assert state == ()


def test_chain_rejects_an_uncalled_factory():
    with pytest.raises(TypeError, match=r"argument 1 .*function.*not a GradientTransformation"):
        optim.chain(optim.scale(1.0), optim.clip)


def test_chain_rejects_a_state_of_the_wrong_length():
    opt = optim.chain(optim.scale(1.0), optim.scale(2.0))
    with pytest.raises(ValueError, match="tuple of 2 states"):
        opt.update({"w": np.ones(1)}, (optim.EmptyState(),))


def test_apply_updates_keeps_each_param_dtype():
    params = {"a": np.ones(2, dtype=np.float32), "b": np.ones(2, dtype=np.float64)}
    updates = {"a": np.full(2, 0.5, dtype=np.float64), "b": np.full(2, 0.5, dtype=np.float32)}
    new = optim.apply_updates(params, updates)
    assert new["a"].dtype == np.float32 and new["b"].dtype == np.float64
    np.testing.assert_array_equal(new["a"], [1.5, 1.5])
    np.testing.assert_array_equal(params["a"], [1.0, 1.0])  # not modified


def test_apply_updates_names_the_path_of_a_structure_mismatch():
    params = {"dense_0": {"b": np.zeros(2), "w": np.zeros(2)}}
    with pytest.raises(ValueError, match=re.escape("['dense_0']['b']")):
        optim.apply_updates(params, {"dense_0": {"w": np.zeros(2)}})


def test_apply_updates_refuses_to_broadcast():
    params = {"dense_0": {"w": np.zeros((1, 3))}}
    with pytest.raises(ValueError, match=re.escape("param['dense_0']['w'] has shape (1, 3)")):
        optim.apply_updates(params, {"dense_0": {"w": np.zeros(3)}})


# ---------------------------------------------------------------------------
# building blocks


def test_scale_and_scale_by_learning_rate():
    g = {"w": np.array([1.0, -2.0])}
    updates, _ = optim.scale(3.0).update(g, optim.EmptyState())
    np.testing.assert_array_equal(updates["w"], [3.0, -6.0])
    t = optim.scale_by_learning_rate(0.5)
    updates, _ = t.update(g, t.init(g))
    np.testing.assert_array_equal(updates["w"], [-0.5, 1.0])
    t = optim.scale_by_learning_rate(0.5, flip_sign=False)
    updates, _ = t.update(g, t.init(g))
    np.testing.assert_array_equal(updates["w"], [0.5, -1.0])


def test_scale_by_learning_rate_evaluates_a_schedule_at_the_count():
    seen = []

    def schedule(count):
        seen.append(int(count))
        return 0.1 * (int(count) + 1)

    t = optim.scale_by_learning_rate(schedule)
    state = t.init({"w": np.ones(1)})
    assert isinstance(state, optim.ScaleByScheduleState)
    out = []
    for _ in range(3):
        updates, state = t.update({"w": np.ones(1)}, state)
        out.append(updates["w"][0])
    assert seen == [0, 1, 2]
    np.testing.assert_allclose(out, [-0.1, -0.2, -0.3])


def test_step_counts_are_int32_arrays():
    t = optim.scale_by_adam()
    state = t.init({"w": np.ones(1)})
    for _ in range(2):
        _, state = t.update({"w": np.ones(1)}, state)
    assert isinstance(state.count, np.ndarray) and state.count.dtype == np.int32
    assert int(state.count) == 2


def test_step_count_saturates_instead_of_wrapping():
    t = optim.scale_by_schedule(lambda count: 1.0)
    top = np.iinfo(np.int32).max
    _, state = t.update({"w": np.ones(1)}, optim.ScaleByScheduleState(np.asarray(top, np.int32)))
    assert int(state.count) == top


@pytest.mark.parametrize("nesterov", [False, True])
def test_trace(nesterov):
    t = optim.trace(0.5, nesterov=nesterov)
    state = t.init({"w": np.zeros(1)})
    outs = []
    for g in [1.0, 2.0, 3.0]:
        updates, state = t.update({"w": np.array([g])}, state)
        outs.append(updates["w"][0])
    buffers = [1.0, 2.5, 4.25]  # b = 0.5 b + g
    expected = [g + 0.5 * b for g, b in zip([1.0, 2.0, 3.0], buffers)] if nesterov else buffers
    np.testing.assert_allclose(outs, expected)
    np.testing.assert_allclose(state.trace["w"], [4.25])


def test_scale_by_adam_with_eps_root():
    t = optim.scale_by_adam(b1=0.0, b2=0.0, eps=0.0, eps_root=9.0)
    updates, _ = t.update({"w": np.array([4.0])}, t.init({"w": np.zeros(1)}))
    np.testing.assert_allclose(updates["w"], [4.0 / 5.0])  # 4 / sqrt(16 + 9)


def test_scale_by_stddev_matches_the_formula():
    t = optim.scale_by_stddev(decay=0.5, eps=0.0)
    state = t.init({"w": np.zeros(1)})
    _, state = t.update({"w": np.array([2.0])}, state)
    updates, state = t.update({"w": np.array([4.0])}, state)
    m, v = 0.5 * 1.0 + 0.5 * 4.0, 0.5 * 2.0 + 0.5 * 16.0  # m_1 = 1, v_1 = 2
    np.testing.assert_allclose(updates["w"], [4.0 / math.sqrt(v - m * m)])


def test_scale_by_rss_initial_accumulator():
    t = optim.scale_by_rss(initial_accumulator_value=16.0, eps=0.0)
    updates, state = t.update({"w": np.array([3.0])}, t.init({"w": np.zeros(1)}))
    np.testing.assert_allclose(updates["w"], [3.0 / 5.0])
    np.testing.assert_allclose(state.sum_of_squares["w"], [25.0])


def test_scale_by_lion_uses_the_old_momentum_for_the_sign():
    t = optim.scale_by_lion(b1=0.9, b2=0.5)
    state = t.init({"w": np.zeros(1)})
    _, state = t.update({"w": np.array([1.0])}, state)  # m = 0.5
    updates, state = t.update({"w": np.array([-2.0])}, state)  # 0.9 * 0.5 - 0.1 * 2 > 0
    np.testing.assert_array_equal(updates["w"], [1.0])
    np.testing.assert_allclose(state.mu["w"], [0.5 * 0.5 - 0.5 * 2.0])


def test_add_decayed_weights_needs_params():
    t = optim.add_decayed_weights(0.1)
    with pytest.raises(ValueError, match="needs the parameters"):
        t.update({"w": np.ones(1)}, t.init({"w": np.ones(1)}))


def test_add_decayed_weights_names_a_mismatched_path():
    t = optim.add_decayed_weights(0.1)
    params = {"dense_0": {"b": np.ones(1), "w": np.ones(1)}}
    with pytest.raises(ValueError, match=re.escape("['dense_0']['b']")):
        t.update({"dense_0": {"w": np.ones(1)}}, t.init(params), params)


def test_clip():
    updates, _ = optim.clip(0.5).update({"w": np.array([-2.0, 0.1, 0.7])}, optim.EmptyState())
    np.testing.assert_array_equal(updates["w"], [-0.5, 0.1, 0.5])


def test_clip_by_global_norm_scales_all_leaves_together():
    g = {"a": np.array([3.0, 0.0]), "b": {"c": np.array([[4.0]])}}
    assert float(optim.global_norm(g)) == 5.0
    updates, _ = optim.clip_by_global_norm(2.5).update(g, optim.EmptyState())
    np.testing.assert_allclose(updates["a"], [1.5, 0.0])
    np.testing.assert_allclose(updates["b"]["c"], [[2.0]])
    updates, _ = optim.clip_by_global_norm(10.0).update(g, optim.EmptyState())
    np.testing.assert_array_equal(updates["a"], g["a"])


def test_clip_by_global_norm_of_zero_gradients():
    updates, _ = optim.clip_by_global_norm(1.0).update({"a": np.zeros(3)}, optim.EmptyState())
    np.testing.assert_array_equal(updates["a"], np.zeros(3))


def test_masked_with_a_pytree_mask_keeps_no_state_for_masked_out_leaves():
    params = {"b": np.zeros(2), "w": np.zeros(2)}
    t = optim.masked(optim.trace(0.5), {"b": False, "w": True})
    state = t.init(params)
    assert isinstance(state, optim.MaskedState)
    assert state.inner_state.trace["b"] is None
    for _ in range(2):
        updates, state = t.update({"b": np.ones(2), "w": np.ones(2)}, state)
    np.testing.assert_array_equal(updates["b"], [1.0, 1.0])  # passed through
    np.testing.assert_array_equal(updates["w"], [1.5, 1.5])  # momentum applied


def test_masked_with_a_callable_mask():
    def mask_fn(tree):
        return {k: v.ndim > 1 for k, v in tree.items()}

    params = {"b": np.ones(2), "w": np.ones((2, 2))}
    t = optim.add_decayed_weights(0.5, mask=mask_fn)
    zeros = tree_map(np.zeros_like, params)
    updates, _ = t.update(zeros, t.init(params), params)
    np.testing.assert_array_equal(updates["b"], [0.0, 0.0])
    np.testing.assert_array_equal(updates["w"], np.full((2, 2), 0.5))


def test_masked_rejects_a_mask_of_the_wrong_shape_or_type():
    params = {"b": np.ones(2), "w": np.ones(2)}
    with pytest.raises(ValueError, match=re.escape("['w']")):
        optim.masked(optim.scale(0.0), {"b": True}).init(params)
    with pytest.raises(TypeError, match="mask leaves must be bools"):
        optim.masked(optim.scale(0.0), {"b": 1, "w": 0}).init(params)


def test_adamw_mask_exempts_leaves_from_decay():
    params = {"b": np.ones(1), "w": np.ones(1)}
    opt = optim.adamw(0.1, weight_decay=0.5, mask={"b": False, "w": True})
    updates, _ = opt.update({"b": np.zeros(1), "w": np.zeros(1)}, opt.init(params), params)
    new = optim.apply_updates(params, updates)
    np.testing.assert_allclose(new["b"], [1.0])
    np.testing.assert_allclose(new["w"], [0.95])


# ---------------------------------------------------------------------------
# scalar references written from the published update rules (no funcnn inside)


def ref_sgd(p, grads, lr, momentum=0.0, nesterov=False, weight_decay=0.0):
    out, buf = [], None
    for g in grads:
        g = g + weight_decay * p
        if momentum:
            buf = g if buf is None else momentum * buf + g
            g = g + momentum * buf if nesterov else buf
        p = p - lr * g
        out.append(p)
    return out


def ref_adam(p, grads, lr, b1=0.9, b2=0.999, eps=1e-8, weight_decay=0.0, decoupled=False):
    out, m, v = [], 0.0, 0.0
    for t, g in enumerate(grads, start=1):
        if decoupled:
            p = p * (1 - lr * weight_decay)
        else:
            g = g + weight_decay * p
        m = b1 * m + (1 - b1) * g
        v = b2 * v + (1 - b2) * g * g
        p = p - lr * (m / (1 - b1**t)) / (math.sqrt(v / (1 - b2**t)) + eps)
        out.append(p)
    return out


def ref_rmsprop(p, grads, lr, alpha=0.99, eps=1e-8, momentum=0.0, centered=False, weight_decay=0.0):
    out, sq, avg, buf = [], 0.0, 0.0, 0.0
    for g in grads:
        g = g + weight_decay * p
        sq = alpha * sq + (1 - alpha) * g * g
        if centered:
            avg = alpha * avg + (1 - alpha) * g
            denom = math.sqrt(sq - avg * avg) + eps
        else:
            denom = math.sqrt(sq) + eps
        if momentum:
            buf = momentum * buf + g / denom
            p = p - lr * buf
        else:
            p = p - lr * g / denom
        out.append(p)
    return out


def ref_adagrad(
    p, grads, lr, lr_decay=0.0, weight_decay=0.0, initial_accumulator_value=0.0, eps=1e-10
):
    out, total = [], initial_accumulator_value
    for t, g in enumerate(grads, start=1):
        g = g + weight_decay * p
        clr = lr / (1 + (t - 1) * lr_decay)
        total = total + g * g
        p = p - clr * g / (math.sqrt(total) + eps)
        out.append(p)
    return out


def ref_adadelta(p, grads, lr=1.0, rho=0.9, eps=1e-6, weight_decay=0.0):
    out, sq, acc = [], 0.0, 0.0
    for g in grads:
        g = g + weight_decay * p
        sq = rho * sq + (1 - rho) * g * g
        delta = math.sqrt(acc + eps) / math.sqrt(sq + eps) * g
        acc = rho * acc + (1 - rho) * delta * delta
        p = p - lr * delta
        out.append(p)
    return out


def ref_nadam(p, grads, lr=2e-3, b1=0.9, b2=0.999, eps=1e-8, weight_decay=0.0, momentum_decay=4e-3):
    out, m, v, prod = [], 0.0, 0.0, 1.0
    for t, g in enumerate(grads, start=1):
        g = g + weight_decay * p
        mu = b1 * (1 - 0.5 * 0.96 ** (t * momentum_decay))
        mu_next = b1 * (1 - 0.5 * 0.96 ** ((t + 1) * momentum_decay))
        prod = prod * mu
        m = b1 * m + (1 - b1) * g
        v = b2 * v + (1 - b2) * g * g
        denom = math.sqrt(v / (1 - b2**t)) + eps
        p = p - lr * (1 - mu) / (1 - prod) * g / denom
        p = p - lr * mu_next / (1 - prod * mu_next) * m / denom
        out.append(p)
    return out


def ref_lion(p, grads, lr, b1=0.9, b2=0.99, weight_decay=0.0):
    out, m = [], 0.0
    for g in grads:
        c = b1 * m + (1 - b1) * g
        direction = (c > 0) - (c < 0)
        p = p - lr * (direction + weight_decay * p)
        m = b2 * m + (1 - b2) * g
        out.append(p)
    return out


REFERENCE_CASES = [
    ("sgd", optim.sgd(0.1), ref_sgd, dict(lr=0.1)),
    ("sgd_momentum", optim.sgd(0.1, momentum=0.9), ref_sgd, dict(lr=0.1, momentum=0.9)),
    (
        "sgd_nesterov_wd",
        optim.sgd(0.1, momentum=0.8, nesterov=True, weight_decay=0.05),
        ref_sgd,
        dict(lr=0.1, momentum=0.8, nesterov=True, weight_decay=0.05),
    ),
    ("sgd_wd", optim.sgd(0.1, weight_decay=0.2), ref_sgd, dict(lr=0.1, weight_decay=0.2)),
    ("adam", optim.adam(0.05), ref_adam, dict(lr=0.05)),
    (
        "adam_l2",
        optim.adam(0.05, b1=0.8, b2=0.99, weight_decay=0.1),
        ref_adam,
        dict(lr=0.05, b1=0.8, b2=0.99, weight_decay=0.1),
    ),
    (
        "adamw",
        optim.adamw(0.05, weight_decay=0.1),
        ref_adam,
        dict(lr=0.05, weight_decay=0.1, decoupled=True),
    ),
    ("rmsprop", optim.rmsprop(0.01), ref_rmsprop, dict(lr=0.01)),
    (
        "rmsprop_centered",
        optim.rmsprop(0.01, decay=0.9, centered=True),
        ref_rmsprop,
        dict(lr=0.01, alpha=0.9, centered=True),
    ),
    (
        "rmsprop_momentum_wd",
        optim.rmsprop(0.01, momentum=0.7, weight_decay=0.1),
        ref_rmsprop,
        dict(lr=0.01, momentum=0.7, weight_decay=0.1),
    ),
    ("adagrad", optim.adagrad(0.1), ref_adagrad, dict(lr=0.1)),
    (
        "adagrad_all",
        optim.adagrad(0.1, lr_decay=0.1, weight_decay=0.1, initial_accumulator_value=0.5),
        ref_adagrad,
        dict(lr=0.1, lr_decay=0.1, weight_decay=0.1, initial_accumulator_value=0.5),
    ),
    ("adadelta", optim.adadelta(), ref_adadelta, dict()),
    (
        "adadelta_wd",
        optim.adadelta(0.5, rho=0.8, weight_decay=0.1),
        ref_adadelta,
        dict(lr=0.5, rho=0.8, weight_decay=0.1),
    ),
    ("nadam", optim.nadam(), ref_nadam, dict()),
    (
        "nadam_wd",
        optim.nadam(0.01, weight_decay=0.1, momentum_decay=0.01),
        ref_nadam,
        dict(lr=0.01, weight_decay=0.1, momentum_decay=0.01),
    ),
    ("lion", optim.lion(0.01, weight_decay=0.0), ref_lion, dict(lr=0.01)),
    (
        "lion_wd",
        optim.lion(0.01, b1=0.5, b2=0.9, weight_decay=0.5),
        ref_lion,
        dict(lr=0.01, b1=0.5, b2=0.9, weight_decay=0.5),
    ),
]


@pytest.mark.parametrize(
    "opt, ref, kwargs", [c[1:] for c in REFERENCE_CASES], ids=[c[0] for c in REFERENCE_CASES]
)
def test_matches_a_scalar_reference_for_8_steps(opt, ref, kwargs):
    params = make_params()
    grads_seq = [make_grads(params, seed=s) for s in range(8)]
    history, _ = run(opt, params, grads_seq)
    # run the scalar reference on every element of every leaf separately
    for leaf_index, p0 in enumerate(tree_leaves(params)):
        for idx in np.ndindex(p0.shape):
            gs = [float(tree_leaves(g)[leaf_index][idx]) for g in grads_seq]
            expected = ref(float(p0[idx]), gs, **kwargs)
            got = [float(tree_leaves(h)[leaf_index][idx]) for h in history]
            np.testing.assert_allclose(got, expected, rtol=1e-12, atol=1e-15)


def test_sgd_momentum_two_steps_by_hand():
    # p0 = 1, lr = 0.1, momentum = 0.9, g = 0.5 then -0.3
    # b1 = 0.5,                 p1 = 1 - 0.1 * 0.5 = 0.95
    # b2 = 0.9 * 0.5 - 0.3 = 0.15, p2 = 0.95 - 0.1 * 0.15 = 0.935
    history, state = run(
        optim.sgd(0.1, momentum=0.9),
        {"w": np.array([1.0])},
        [{"w": np.array([0.5])}, {"w": np.array([-0.3])}],
    )
    np.testing.assert_allclose([h["w"][0] for h in history], [0.95, 0.935], rtol=1e-14)
    np.testing.assert_allclose(state[0].trace["w"], [0.15], rtol=1e-14)


def test_adam_two_steps_by_hand():
    # p0 = 1, lr = 0.1, b1 = 0.9, b2 = 0.999, eps = 1e-8, g = 0.5 then -0.3
    # step 1: m = 0.05, v = 0.00025, m_hat = 0.5, v_hat = 0.25
    #         p1 = 1 - 0.1 * 0.5 / (0.5 + 1e-8) = 0.900000002
    # step 2: m = 0.045 - 0.03 = 0.015, v = 0.00024975 + 0.00009 = 0.00033975
    #         m_hat = 0.015 / 0.19 = 0.078947368..., v_hat = 0.00033975 / 0.001999 = 0.16995998...
    #         p2 = p1 - 0.1 * 0.078947368 / (0.41226203 + 1e-8) = 0.88085020
    history, state = run(
        optim.adam(0.1), {"w": np.array([1.0])}, [{"w": np.array([0.5])}, {"w": np.array([-0.3])}]
    )
    np.testing.assert_allclose([h["w"][0] for h in history], [0.900000002, 0.8808501989], rtol=1e-9)
    adam_state = state[0]
    np.testing.assert_allclose(adam_state.mu["w"], [0.015], rtol=1e-12)
    np.testing.assert_allclose(adam_state.nu["w"], [0.00033975], rtol=1e-12)


def test_learning_rate_schedule_drives_sgd():
    schedule = optim.piecewise_constant(1.0, {2: 0.5})
    history, _ = run(optim.sgd(schedule), {"w": np.array([0.0])}, [{"w": np.array([1.0])}] * 4)
    np.testing.assert_allclose([h["w"][0] for h in history], [-1.0, -2.0, -2.5, -3.0])


def test_adagrad_lr_decay_composes_with_a_schedule():
    opt = optim.adagrad(optim.constant(0.1), lr_decay=0.5, eps=0.0)
    history, _ = run(opt, {"w": np.array([0.0])}, [{"w": np.array([1.0])}] * 3)
    expected = ref_adagrad(0.0, [1.0] * 3, lr=0.1, lr_decay=0.5, eps=0.0)
    np.testing.assert_allclose([h["w"][0] for h in history], expected, rtol=1e-14)


# ---------------------------------------------------------------------------
# properties every optimizer must have


@pytest.mark.parametrize("name", OPTIMIZERS)
def test_update_does_not_mutate_its_inputs(name):
    opt = OPTIMIZERS[name]()
    params = make_params()
    state = opt.init(params)
    _, state = opt.update(make_grads(params, 5), state, params)  # a state with non-zero moments
    grads = make_grads(params)
    before = copy.deepcopy((params, grads, state))
    for leaf in tree_leaves((params, grads, state)):
        if isinstance(leaf, np.ndarray):
            leaf.flags.writeable = False  # any in-place write would raise
    updates, new_state = opt.update(grads, state, params)
    optim.apply_updates(params, updates)
    for old, new in zip(tree_leaves(before), tree_leaves((params, grads, state))):
        np.testing.assert_array_equal(old, new)
    assert tree_structure(new_state) == tree_structure(before[2])


@pytest.mark.parametrize("name", OPTIMIZERS)
def test_state_is_a_pytree_of_arrays(name):
    opt = OPTIMIZERS[name]()
    params = make_params()
    state = opt.init(params)
    for _ in range(2):
        _, state = opt.update(make_grads(params), state, params)
    for leaf in tree_leaves(state):
        assert isinstance(leaf, np.ndarray), type(leaf)


@pytest.mark.parametrize("name", OPTIMIZERS)
def test_float32_stays_float32(name):
    opt = OPTIMIZERS[name]()
    params = make_params(np.float32)
    state = opt.init(params)
    for s in range(3):
        updates, state = opt.update(make_grads(params, s), state, params)
        params = optim.apply_updates(params, updates)
        for leaf in tree_leaves((updates, params)):
            assert leaf.dtype == np.float32
    for leaf in tree_leaves(state):
        assert leaf.dtype in (np.float32, np.int32, np.float64), leaf.dtype
        if leaf.dtype == np.float64:  # only NAdam's scalar momentum product
            assert leaf.shape == ()
            assert name.startswith("nadam")


@pytest.mark.parametrize("name", OPTIMIZERS)
def test_nan_in_the_gradient_propagates(name):
    opt = OPTIMIZERS[name]()
    params = make_params()
    grads = make_grads(params)
    grads["dense_0"]["w"][0, 1] = np.nan
    updates, _ = opt.update(grads, opt.init(params), params)
    new = optim.apply_updates(params, updates)
    assert np.isnan(new["dense_0"]["w"][0, 1])
    if "clipped" in name:  # the global norm is NaN, so everything is
        assert np.all(np.isnan(new["dense_0"]["b"]))
    else:
        assert np.all(np.isfinite(new["dense_0"]["b"]))


STATEFUL = [n for n in OPTIMIZERS if n != "sgd"]


@pytest.mark.parametrize("name", STATEFUL)
def test_gradients_of_the_wrong_structure_name_the_path(name):
    opt = OPTIMIZERS[name]()
    params = make_params()
    state = opt.init(params)
    grads = make_grads(params)
    del grads["dense_0"]["b"]
    with pytest.raises(ValueError, match=re.escape("['dense_0']['b']")):
        opt.update(grads, state, params)


def test_plain_sgd_catches_wrong_structure_in_apply_updates():
    opt = optim.sgd(0.1)
    params = make_params()
    grads = make_grads(params)
    grads["extra"] = np.ones(1)
    updates, _ = opt.update(grads, opt.init(params))
    with pytest.raises(ValueError, match=re.escape("['extra']")):
        optim.apply_updates(params, updates)


def test_params_are_optional_without_weight_decay():
    params = make_params()
    for opt in [
        optim.sgd(0.1, momentum=0.9),
        optim.adam(0.1),
        optim.rmsprop(0.1),
        optim.adagrad(),
        optim.adadelta(),
        optim.nadam(),
        optim.lion(0.1, weight_decay=0.0),
    ]:
        opt.update(make_grads(params), opt.init(params))


# ---------------------------------------------------------------------------
# bad hyper-parameters


BAD_ARGUMENTS = [
    (optim.sgd, dict(learning_rate=0.0), "learning_rate", "0.0"),
    (optim.sgd, dict(learning_rate=-0.1), "learning_rate", "-0.1"),
    (optim.sgd, dict(learning_rate=0.1, momentum=-0.5), "momentum", "-0.5"),
    (optim.sgd, dict(learning_rate=0.1, weight_decay=-1e-4), "weight_decay", "-0.0001"),
    (optim.sgd, dict(learning_rate=0.1, nesterov=True), "momentum", "0"),
    (optim.adam, dict(learning_rate=-1.0), "learning_rate", "-1.0"),
    (optim.adam, dict(learning_rate=0.1, b1=1.0), "b1", "1.0"),
    (optim.adam, dict(learning_rate=0.1, b1=-0.1), "b1", "-0.1"),
    (optim.adam, dict(learning_rate=0.1, b2=1.5), "b2", "1.5"),
    (optim.adam, dict(learning_rate=0.1, eps=-1e-8), "eps", "-1e-08"),
    (optim.adam, dict(learning_rate=0.1, weight_decay=-0.1), "weight_decay", "-0.1"),
    (optim.adamw, dict(learning_rate=0.1, weight_decay=-0.1), "weight_decay", "-0.1"),
    (optim.adamw, dict(learning_rate=0.0), "learning_rate", "0.0"),
    (optim.rmsprop, dict(learning_rate=0.1, decay=1.0), "decay", "1.0"),
    (optim.rmsprop, dict(learning_rate=0.1, momentum=-0.9), "momentum", "-0.9"),
    (optim.rmsprop, dict(learning_rate=0.1, eps=-1.0), "eps", "-1.0"),
    (optim.adagrad, dict(learning_rate=-0.01), "learning_rate", "-0.01"),
    (optim.adagrad, dict(lr_decay=-0.01), "lr_decay", "-0.01"),
    (optim.adagrad, dict(initial_accumulator_value=-1.0), "initial_accumulator_value", "-1.0"),
    (optim.adadelta, dict(rho=1.2), "rho", "1.2"),
    (optim.adadelta, dict(learning_rate=0), "learning_rate", "0"),
    (optim.nadam, dict(b2=1.0), "b2", "1.0"),
    (optim.nadam, dict(momentum_decay=-1.0), "momentum_decay", "-1.0"),
    (optim.lion, dict(learning_rate=0.1, b1=2.0), "b1", "2.0"),
    (optim.lion, dict(learning_rate=0.1, weight_decay=-1.0), "weight_decay", "-1.0"),
    (optim.add_decayed_weights, dict(weight_decay=-1.0), "weight_decay", "-1.0"),
    (optim.trace, dict(decay=-0.1), "decay", "-0.1"),
    (optim.clip, dict(max_delta=-1.0), "max_delta", "-1.0"),
    (optim.clip_by_global_norm, dict(max_norm=-1.0), "max_norm", "-1.0"),
    (optim.scale_by_learning_rate, dict(learning_rate=-3.0), "learning_rate", "-3.0"),
    (optim.scale_by_adam, dict(eps_root=-1.0), "eps_root", "-1.0"),
]


@pytest.mark.parametrize(
    "factory, kwargs, name, value",
    BAD_ARGUMENTS,
    ids=[f"{f.__name__}-{n}={v}" for f, _, n, v in BAD_ARGUMENTS],
)
def test_bad_hyper_parameters_raise_naming_argument_and_value(factory, kwargs, name, value):
    with pytest.raises(ValueError, match=rf"\b{name}\b.*{re.escape(value)}"):
        factory(**kwargs)


def test_non_numeric_learning_rate_is_a_type_error():
    with pytest.raises(TypeError, match="learning_rate"):
        optim.sgd("0.1")  # type: ignore[arg-type]


def test_schedules_are_accepted_as_learning_rates_everywhere():
    schedule = optim.constant(0.1)
    for factory in [
        optim.sgd,
        optim.adam,
        optim.adamw,
        optim.rmsprop,
        optim.adagrad,
        optim.adadelta,
        optim.nadam,
        optim.lion,
    ]:
        opt = factory(schedule)
        params = make_params()
        opt.update(make_grads(params), opt.init(params), params)


# ---------------------------------------------------------------------------
# convergence table: optimizers x objectives x dtypes


def quadratic(params):
    """0.5 * sum(a * (w - 1)**2) + (s + 0.5)**2; minimum 0 at w = 1, s = -0.5."""
    curvature = np.array([1.0, 3.0, 10.0])
    w, s = params["w"], params["s"]
    loss = 0.5 * np.sum(curvature * (w - 1.0) ** 2) + (s + 0.5) ** 2
    grads = {"s": (2.0 * (s + 0.5)).astype(s.dtype), "w": (w - 1.0) * curvature.astype(w.dtype)}
    return float(loss), grads


def rosenbrock(params):
    """sum((1 - x)**2 + 5 * (y - x**2)**2) over two (x, y) pairs; minimum 0 at x = y = 1."""
    x, y = params["x"], params["y"]
    loss = np.sum((1.0 - x) ** 2 + 5.0 * (y - x * x) ** 2)
    grads = {"x": -2.0 * (1.0 - x) - 20.0 * x * (y - x * x), "y": 10.0 * (y - x * x)}
    return float(loss), grads


OBJECTIVES = {
    "quadratic": (quadratic, {"s": np.asarray(2.0), "w": np.zeros(3)}),
    "rosenbrock": (rosenbrock, {"x": np.array([-0.5, 0.5]), "y": np.array([0.5, -0.5])}),
}

CONVERGENCE = {
    "sgd": lambda: optim.sgd(0.03),
    "sgd_momentum": lambda: optim.sgd(0.02, momentum=0.9),
    "sgd_nesterov": lambda: optim.sgd(0.02, momentum=0.9, nesterov=True, weight_decay=1e-5),
    "adam": lambda: optim.adam(0.05),
    "adamw": lambda: optim.adamw(0.05, weight_decay=1e-4),
    "rmsprop": lambda: optim.rmsprop(0.01),
    "rmsprop_centered": lambda: optim.rmsprop(0.01, momentum=0.5, centered=True),
    "adagrad": lambda: optim.adagrad(0.5),
    "adadelta": lambda: optim.adadelta(optim.cosine_decay(1.0, 1000), eps=1e-5),
    "nadam": lambda: optim.nadam(0.05),
    "lion": lambda: optim.lion(optim.cosine_decay(0.02, 1000), weight_decay=0.0),
    "clipped_adam": lambda: optim.chain(optim.clip_by_global_norm(1.0), optim.adam(0.05)),
}


@pytest.mark.parametrize("dtype", [np.float32, np.float64], ids=["float32", "float64"])
@pytest.mark.parametrize("objective", OBJECTIVES)
@pytest.mark.parametrize("name", CONVERGENCE)
def test_convergence_table(name, objective, dtype):
    loss_and_grads, start = OBJECTIVES[objective]
    opt = CONVERGENCE[name]()
    params = tree_map(lambda x: np.asarray(x, dtype=dtype), start)
    initial_loss, _ = loss_and_grads(params)
    state = opt.init(params)
    structure, state_dtypes = tree_structure(state), [x.dtype for x in tree_leaves(state)]
    for _ in range(1000):
        _, grads = loss_and_grads(params)
        updates, state = opt.update(grads, state, params)
        params = optim.apply_updates(params, updates)
        assert tree_structure(state) == structure
        assert [x.dtype for x in tree_leaves(state)] == state_dtypes
        assert all(x.dtype == dtype for x in tree_leaves((updates, params)))
    final_loss, _ = loss_and_grads(params)
    assert final_loss < 1e-2 * initial_loss, (initial_loss, final_loss)


def test_debug_nans_raises_at_apply_updates_naming_the_key_path():
    import funcnn

    params = {"dense_0": {"w": np.ones(2), "b": np.zeros(2)}}
    grads = {"dense_0": {"w": np.array([np.nan, 1.0]), "b": np.zeros(2)}}
    opt = optim.adam(0.1)
    updates, _ = opt.update(grads, opt.init(params), params)
    assert np.isnan(optim.apply_updates(params, updates)["dense_0"]["w"][0])  # propagates by default
    funcnn.config.update("debug_nans", True)
    try:
        with pytest.raises(FloatingPointError, match=r"\['dense_0'\]\['w'\]"):
            optim.apply_updates(params, updates)
    finally:
        funcnn.config.update("debug_nans", False)
