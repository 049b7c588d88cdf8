"""optax's names for losses and schedules: hand-derived values always, optax's values (to
float32 precision, optax computing in float32) where optax is installed."""
import math

import numpy as np
import pytest

from funcnn import losses, optim
from funcnn.optim import schedules

RNG = np.random.default_rng(0)
LOGITS = RNG.normal(size=(6, 4)) * 2
PROBS = RNG.dirichlet(np.ones(4), 6)
INDICES = RNG.integers(0, 4, 6)
PRED = RNG.normal(size=(5, 3)) * 2
TARGET = RNG.normal(size=(5, 3))
BINARY = RNG.integers(0, 2, (5, 3)).astype(np.float64)
SIGNS = 2 * BINARY - 1


def _log_softmax(x):
    s = x - x.max(axis=-1, keepdims=True)
    return s - np.log(np.exp(s).sum(axis=-1, keepdims=True))


# --- losses: hand-derived values -----------------------------------------------------------------


def test_loss_aliases_by_hand():
    np.testing.assert_allclose(losses.softmax_cross_entropy(LOGITS, PROBS),
                               -(PROBS * _log_softmax(LOGITS)).sum(-1), rtol=1e-12)
    np.testing.assert_allclose(losses.softmax_cross_entropy_with_integer_labels(LOGITS, INDICES),
                               -_log_softmax(LOGITS)[np.arange(6), INDICES], rtol=1e-12)
    p = 1 / (1 + np.exp(-PRED))
    np.testing.assert_allclose(losses.sigmoid_binary_cross_entropy(PRED, BINARY),
                               -(BINARY * np.log(p) + (1 - BINARY) * np.log(1 - p)), rtol=1e-10)
    np.testing.assert_allclose(losses.squared_error(PRED, TARGET), (PRED - TARGET) ** 2, rtol=1e-15)
    np.testing.assert_allclose(losses.l2_loss(PRED, TARGET), 0.5 * (PRED - TARGET) ** 2, rtol=1e-15)
    np.testing.assert_allclose(losses.l2_loss(PRED), 0.5 * PRED ** 2, rtol=1e-15)
    d = np.abs(PRED - TARGET)
    np.testing.assert_allclose(losses.huber_loss(PRED, TARGET, delta=0.5),
                               np.where(d < 0.5, 0.5 * d ** 2, 0.5 * (d - 0.25)), rtol=1e-15)
    np.testing.assert_allclose(losses.hinge_loss(PRED, SIGNS), np.maximum(0, 1 - PRED * SIGNS))
    log_q = _log_softmax(LOGITS)
    np.testing.assert_allclose(losses.kl_divergence(log_q, PROBS),
                               (PROBS * (np.log(PROBS) - log_q)).sum(-1), rtol=1e-12)


def test_loss_aliases_small_cases():
    # one class certain: -log(e^2 / (e^2 + 1)) = log1p(e^-2)
    assert math.isclose(float(losses.softmax_cross_entropy(np.array([2.0, 0.0]), np.array([1.0, 0.0]))),
                        math.log1p(math.exp(-2)), rel_tol=1e-15)
    np.testing.assert_array_equal(losses.l2_loss(np.array([3.0, -1.0]), np.array([1.0, 0.0])), [2.0, 0.5])
    np.testing.assert_array_equal(losses.huber_loss(np.array([0.5, -3.0])), [0.125, 2.5])
    np.testing.assert_allclose(losses.sigmoid_binary_cross_entropy(np.zeros(2), np.array([0.0, 1.0])),
                               [math.log(2)] * 2, rtol=1e-15)


def test_loss_aliases_are_unreduced_and_take_the_class_axis():
    assert losses.softmax_cross_entropy(LOGITS, PROBS).shape == (6,)
    assert losses.softmax_cross_entropy_with_integer_labels(LOGITS, INDICES).shape == (6,)
    assert losses.squared_error(PRED, TARGET).shape == (5, 3)
    np.testing.assert_allclose(losses.softmax_cross_entropy(LOGITS.T, PROBS.T, axis=0),
                               losses.softmax_cross_entropy(LOGITS, PROBS), rtol=1e-15)
    np.testing.assert_allclose(losses.softmax_cross_entropy_with_integer_labels(LOGITS.T, INDICES, axis=0),
                               losses.softmax_cross_entropy_with_integer_labels(LOGITS, INDICES), rtol=1e-15)
    np.testing.assert_allclose(losses.kl_divergence(_log_softmax(LOGITS).T, PROBS.T, axis=0),
                               losses.kl_divergence(_log_softmax(LOGITS), PROBS), rtol=1e-15)


def test_loss_aliases_check_shapes_and_label_kinds():
    with pytest.raises(ValueError, match="softmax_cross_entropy_with_integer_labels"):
        losses.softmax_cross_entropy(LOGITS, INDICES)
    with pytest.raises(TypeError, match="softmax_cross_entropy"):
        losses.softmax_cross_entropy_with_integer_labels(LOGITS, PROBS)
    with pytest.raises(ValueError, match="shape"):
        losses.squared_error(PRED, TARGET[:, :2])
    with pytest.raises(ValueError, match="shape"):
        losses.hinge_loss(PRED, SIGNS[:, 0])


def test_loss_aliases_of_an_empty_batch_are_empty():
    empty = np.zeros((0, 4))
    assert losses.softmax_cross_entropy(empty, empty).shape == (0,)
    assert losses.softmax_cross_entropy_with_integer_labels(empty, np.zeros(0, int)).shape == (0,)
    assert losses.l2_loss(np.zeros(0)).shape == (0,)


# --- losses: optax as oracle -----------------------------------------------------------------------

LOSS_CASES = {
    "softmax_cross_entropy": (LOGITS, PROBS),
    "softmax_cross_entropy_with_integer_labels": (LOGITS, INDICES),
    "sigmoid_binary_cross_entropy": (PRED, BINARY),
    "squared_error": (PRED, TARGET),
    "l2_loss": (PRED, TARGET),
    "huber_loss": (PRED, TARGET),
    "hinge_loss": (PRED, SIGNS),
    "kl_divergence": (_log_softmax(LOGITS), PROBS),
}


@pytest.mark.parametrize("name", sorted(LOSS_CASES))
def test_loss_aliases_match_optax(name):
    optax = pytest.importorskip("optax")
    args = [a.astype(np.float32) if a.dtype.kind == "f" else a for a in LOSS_CASES[name]]
    ours = getattr(losses, name)(*args)
    theirs = np.asarray(getattr(optax, name)(*args))
    assert ours.shape == theirs.shape and ours.dtype == np.float32
    np.testing.assert_allclose(ours, theirs, rtol=2e-6, atol=1e-6)


def test_optional_targets_and_delta_match_optax():
    optax = pytest.importorskip("optax")
    x = PRED.astype(np.float32)
    np.testing.assert_allclose(losses.l2_loss(x), np.asarray(optax.l2_loss(x)), rtol=1e-6)
    np.testing.assert_allclose(losses.squared_error(x), np.asarray(optax.squared_error(x)), rtol=1e-6)
    np.testing.assert_allclose(losses.huber_loss(x, delta=0.3), np.asarray(optax.huber_loss(x, delta=0.3)),
                               rtol=1e-6)


# --- schedules ------------------------------------------------------------------------------------

STEPS = np.arange(0, 320)
SCHEDULE_CASES = [
    ("constant_schedule", (0.3,), {}),
    ("linear_schedule", (1.0, 0.1, 100), {"transition_begin": 20}),
    ("linear_schedule", (0.0, 2.0, 7), {}),
    ("cosine_decay_schedule", (0.5, 150), {}),
    ("cosine_decay_schedule", (0.5, 150), {"alpha": 0.1, "exponent": 2.0}),
    ("exponential_decay", (1.0, 30, 0.7), {}),
    ("exponential_decay", (1.0, 30, 0.5), {"transition_begin": 10, "staircase": True, "end_value": 0.1}),
    ("exponential_decay", (0.1, 20, 1.5), {"end_value": 1.0}),
    ("piecewise_constant_schedule", (0.1, {50: 0.5, 120: 0.1, 200: 2.0}), {}),
    ("piecewise_constant_schedule", (0.1,), {}),
    ("warmup_cosine_decay_schedule", (0.0, 1.0, 25, 200), {}),
    ("warmup_cosine_decay_schedule", (0.1, 1.0, 25, 200), {"end_value": 0.05, "exponent": 1.5}),
    ("warmup_cosine_decay_schedule", (0.1, 1.0, 0, 200), {}),
    ("polynomial_schedule", (1.0, 0.01, 2.0, 100), {"transition_begin": 5}),
    ("polynomial_schedule", (0.0, 1.0, 0.5, 64), {}),
    ("cosine_onecycle_schedule", (233, 1.0), {}),
    ("cosine_onecycle_schedule", (10, 2.0), {"pct_start": 0.25, "div_factor": 10.0, "final_div_factor": 100.0}),
    ("cosine_onecycle_schedule", (3, 2.0), {}),
    ("cosine_onecycle_schedule", (300, 0.1), {"pct_start": 0.0}),
]


@pytest.mark.parametrize("name, args, kwargs", SCHEDULE_CASES)
def test_schedule_aliases_match_optax_at_every_step(name, args, kwargs):
    optax = pytest.importorskip("optax")
    ours = getattr(optim, name)(*args, **kwargs)
    theirs = getattr(optax, name)(*args, **kwargs)
    expected = np.array([float(theirs(s)) for s in STEPS])
    got = np.array([ours(int(s)) for s in STEPS])
    scale = np.max(np.abs(expected))
    np.testing.assert_allclose(got, expected, rtol=2e-6, atol=2e-7 * scale)
    np.testing.assert_array_equal(ours(STEPS), got)  # an array of counts gives the same values


def test_schedule_aliases_by_hand():
    linear = optim.linear_schedule(1.0, 0.0, transition_steps=4, transition_begin=2)
    assert [linear(c) for c in (0, 2, 3, 6, 9)] == [1.0, 1.0, 0.75, 0.0, 0.0]
    poly = optim.polynomial_schedule(1.0, 0.0, power=2, transition_steps=10)
    assert [poly(c) for c in (0, 5, 10, 20)] == [1.0, 0.25, 0.0, 0.0]
    cycle = optim.cosine_onecycle_schedule(10, 1.0, pct_start=0.25, div_factor=10.0, final_div_factor=1.0)
    assert [round(float(cycle(c)), 12) for c in (0, 1, 2, 6, 10, 50)] == [0.1, 0.55, 1.0, 0.55, 0.1, 0.1]
    warm = optim.warmup_cosine_decay_schedule(0.0, 1.0, warmup_steps=10, decay_steps=110)
    assert [warm(c) for c in (5, 10, 60, 110)] == [0.5, 1.0, 0.5, 0.0]
    pieces = optim.piecewise_constant_schedule(1.0, {3: 0.5, 5: 0.5})
    assert [pieces(c) for c in (2, 3, 5)] == [1.0, 0.5, 0.25]


def test_schedule_aliases_are_the_schedules_where_the_maths_agree():
    assert optim.constant_schedule is schedules.constant_schedule is optim.constant
    assert optim.linear_schedule is optim.linear_warmup
    assert optim.cosine_decay_schedule is optim.cosine_decay
    assert optim.piecewise_constant_schedule is optim.piecewise_constant
    assert optim.warmup_cosine_decay_schedule is optim.warmup_cosine_decay
    assert optim.polynomial_schedule is optim.polynomial
    for name in ("constant_schedule", "linear_schedule", "cosine_decay_schedule", "cosine_onecycle_schedule",
                 "piecewise_constant_schedule", "polynomial_schedule", "warmup_cosine_decay_schedule"):
        assert name in optim.__all__ and name in schedules.__all__


def test_onecycle_alias_peaks_on_a_whole_step():
    # optax rounds pct_start * transition_steps down; one_cycle peaks at 0.3 * 15 = 4.5
    alias, ours = optim.cosine_onecycle_schedule(15, 1.0), optim.one_cycle(15, 1.0)
    assert alias(4) == 1.0 and ours(4) < 1.0
    assert math.isclose(alias(0), 0.04, rel_tol=1e-14) and math.isclose(ours(0), 0.04, rel_tol=1e-14)


def test_schedule_aliases_check_their_arguments():
    with pytest.raises(ValueError, match="pct_start"):
        optim.cosine_onecycle_schedule(100, 1.0, pct_start=1.5)
    with pytest.raises(ValueError, match="transition_steps"):
        optim.polynomial_schedule(1.0, 0.0, 1.0, transition_steps=0)
    with pytest.raises(ValueError, match="power"):
        optim.polynomial_schedule(1.0, 0.0, 0.0, transition_steps=10)
    with pytest.raises(TypeError, match="transition_steps"):
        optim.cosine_onecycle_schedule(10.5, 1.0)


def test_schedule_aliases_drive_an_optimizer():
    opt = optim.sgd(optim.warmup_cosine_decay_schedule(0.0, 0.1, warmup_steps=2, decay_steps=10))
    params = {"w": np.array([1.0])}
    state = opt.init(params)
    seen = []
    for _ in range(3):
        updates, state = opt.update({"w": np.array([1.0])}, state, params)
        seen.append(float(-updates["w"][0]))
    np.testing.assert_allclose(seen, [0.0, 0.05, 0.1])
