"""Losses: values against hand-derived formulas (always) and PyTorch's functional losses (to
1e-6 relative in float64, values and gradients), derivatives by check_grads, stability for
large logits, and errors for mismatched shapes, bad labels and bad probabilities."""
import math

import numpy as np
import pytest

import funcnn as fn
import funcnn.numpy as fnp
from funcnn import losses
from funcnn.testing import check_grads

RNG = np.random.default_rng(0)
N, C = 6, 5
LOGITS = RNG.normal(size=(N, C)) * 2
LABELS = RNG.integers(0, C, N)
PROBS = RNG.dirichlet(np.ones(C), N)
PRED = RNG.normal(size=(N, 3))
TARGET = RNG.normal(size=(N, 3)) * 2
P01 = RNG.uniform(0.02, 0.98, size=(N, 3))
T01 = RNG.uniform(0, 1, size=(N, 3))


def log_softmax(x):
    x = x - x.max(axis=-1, keepdims=True)
    return x - np.log(np.exp(x).sum(axis=-1, keepdims=True))


def reduce(loss, reduction):
    return {"mean": np.mean, "sum": np.sum, "none": lambda v: v}[reduction](loss)


REDUCTIONS = ["mean", "sum", "none"]


# --- hand-derived formulas ---------------------------------------------------------------------------


@pytest.mark.parametrize("reduction", REDUCTIONS)
def test_regression_losses_match_their_formulas(reduction):
    d = PRED - TARGET
    np.testing.assert_allclose(losses.mse(PRED, TARGET, reduction), reduce(d ** 2, reduction))
    np.testing.assert_allclose(losses.l1(PRED, TARGET, reduction), reduce(np.abs(d), reduction))
    for delta in (0.5, 1.0, 2.0):
        h = np.where(np.abs(d) < delta, 0.5 * d ** 2, delta * (np.abs(d) - 0.5 * delta))
        np.testing.assert_allclose(losses.huber(PRED, TARGET, delta, reduction), reduce(h, reduction))


@pytest.mark.parametrize("reduction", REDUCTIONS)
@pytest.mark.parametrize("smoothing", [0.0, 0.1])
def test_cross_entropy_matches_its_formula(reduction, smoothing):
    lp = log_softmax(LOGITS)
    onehot = np.eye(C)[LABELS]
    expected = -np.sum(((1 - smoothing) * onehot + smoothing / C) * lp, axis=-1)
    np.testing.assert_allclose(losses.cross_entropy(LOGITS, LABELS, smoothing, reduction),
                               reduce(expected, reduction), rtol=1e-12)
    np.testing.assert_allclose(losses.cross_entropy(LOGITS, onehot, smoothing, reduction),
                               reduce(expected, reduction), rtol=1e-12)
    soft = -np.sum(((1 - smoothing) * PROBS + smoothing / C) * lp, axis=-1)
    np.testing.assert_allclose(losses.cross_entropy(LOGITS, PROBS, smoothing, reduction),
                               reduce(soft, reduction), rtol=1e-12)


def test_cross_entropy_class_axis_and_integer_one_hot():
    x = RNG.normal(size=(2, 4, 3, 3))
    y = RNG.integers(0, 4, (2, 3, 3))
    lp = log_softmax(np.moveaxis(x, 1, -1))
    expected = -np.take_along_axis(lp, y[..., None], -1)[..., 0]
    np.testing.assert_allclose(losses.cross_entropy(x, y, axis=1, reduction="none"), expected, rtol=1e-12)
    one_hot_ints = np.eye(C, dtype=np.int64)[LABELS]
    np.testing.assert_allclose(losses.cross_entropy(LOGITS, one_hot_ints), losses.cross_entropy(LOGITS, LABELS))


def test_nll_matches_its_formula():
    lp = log_softmax(LOGITS)
    np.testing.assert_allclose(losses.nll(lp, LABELS, "none"), -lp[np.arange(N), LABELS])
    np.testing.assert_allclose(losses.nll(lp, PROBS, "sum"), -np.sum(PROBS * lp))


@pytest.mark.parametrize("reduction", REDUCTIONS)
def test_binary_losses_match_their_formulas(reduction):
    bce = -(T01 * np.log(P01) + (1 - T01) * np.log(1 - P01))
    np.testing.assert_allclose(losses.binary_cross_entropy(P01, T01, reduction), reduce(bce, reduction), rtol=1e-12)
    x = PRED * 3
    p = 1 / (1 + np.exp(-x))
    bce_logits = -(T01 * np.log(p) + (1 - T01) * np.log(1 - p))
    np.testing.assert_allclose(losses.binary_cross_entropy_with_logits(x, T01, reduction),
                               reduce(bce_logits, reduction), rtol=1e-10)
    pw = np.array([1.0, 2.0, 0.5])
    weighted = -(pw * T01 * np.log(p) + (1 - T01) * np.log(1 - p))
    np.testing.assert_allclose(losses.binary_cross_entropy_with_logits(x, T01, reduction, pos_weight=pw),
                               reduce(weighted, reduction), rtol=1e-10)


def test_binary_cross_entropy_clamps_log_at_minus_100():
    p = np.array([0.0, 1.0, 0.0, 1.0])
    t = np.array([1.0, 0.0, 0.0, 1.0])
    np.testing.assert_array_equal(losses.binary_cross_entropy(p, t, "none"), [100.0, 100.0, 0.0, 0.0])
    g = fn.grad(lambda p: losses.binary_cross_entropy(p, t))(np.array([0.0, 1.0, 0.5, 0.5]))
    assert np.all(np.isfinite(g))


def test_kl_div_matches_its_formula():
    q = RNG.dirichlet(np.ones(C), N)
    log_q = np.log(q)
    t = PROBS.copy()
    t[0, 0] = 0.0  # 0 * log 0 counts as 0
    pointwise = np.where(t > 0, t * np.log(np.where(t > 0, t, 1)), 0) - t * log_q
    np.testing.assert_allclose(losses.kl_div(log_q, t, "none"), pointwise, rtol=1e-12)
    np.testing.assert_allclose(losses.kl_div(log_q, t), pointwise.sum() / N, rtol=1e-12)
    np.testing.assert_allclose(losses.kl_div(log_q, t, "mean"), pointwise.mean(), rtol=1e-12)
    np.testing.assert_allclose(losses.kl_div(log_q, np.log(PROBS), "sum", log_target=True),
                               np.sum(PROBS * (np.log(PROBS) - log_q)), rtol=1e-12)
    assert float(losses.kl_div(log_q, q)) == pytest.approx(0.0, abs=1e-15)


def test_hinge_matches_its_formulas():
    y = np.where(RNG.uniform(size=(N, 3)) > 0.5, 1, -1)
    np.testing.assert_allclose(losses.hinge(PRED, y, reduction="none"), np.maximum(0, 1 - y * PRED))
    np.testing.assert_allclose(losses.hinge(PRED, y, margin=2.0), np.mean(np.maximum(0, 2 - y * PRED)))
    true = LOGITS[np.arange(N), LABELS][:, None]
    terms = np.maximum(0, 1 - true + LOGITS)
    terms[np.arange(N), LABELS] = 0
    np.testing.assert_allclose(losses.hinge(LOGITS, LABELS, reduction="none"), terms.sum(axis=1) / C)


# --- derivatives ------------------------------------------------------------------------------------

GRAD_CASES = [
    ("mse", lambda p: losses.mse(p, TARGET), PRED),
    ("l1", lambda p: losses.l1(p, TARGET), PRED),
    ("huber", lambda p: losses.huber(p, TARGET, 0.7), PRED),
    ("cross_entropy_index", lambda x: losses.cross_entropy(x, LABELS, 0.1), LOGITS),
    ("cross_entropy_probs", lambda x: losses.cross_entropy(x, PROBS), LOGITS),
    ("cross_entropy_none", lambda x: losses.cross_entropy(x, LABELS, reduction="none"), LOGITS),
    ("nll", lambda lp: losses.nll(lp, LABELS), log_softmax(LOGITS)),
    ("bce", lambda p: losses.binary_cross_entropy(p, T01), P01),
    ("bce_logits", lambda x: losses.binary_cross_entropy_with_logits(x, T01, pos_weight=2.0), PRED),
    ("kl_div", lambda lp: losses.kl_div(lp, PROBS), log_softmax(LOGITS)),
    ("hinge_binary", lambda s: losses.hinge(s, np.where(TARGET > 0, 1, -1)), PRED + 0.01),
    ("hinge_multiclass", lambda s: losses.hinge(s, LABELS), LOGITS),
]


@pytest.mark.parametrize("name, f, x", GRAD_CASES, ids=[c[0] for c in GRAD_CASES])
def test_gradients(name, f, x):
    check_grads(f, (x,), order=2)


def test_gradients_with_respect_to_targets():
    check_grads(lambda t: losses.cross_entropy(LOGITS, t, 0.2), (PROBS,), order=2)
    check_grads(lambda t: losses.binary_cross_entropy_with_logits(PRED, t), (T01,), order=2)
    check_grads(lambda t: losses.kl_div(np.log(PROBS), t), (PROBS,), order=2)


def test_mean_cross_entropy_gradient_is_softmax_minus_one_hot_over_n():
    g = fn.grad(lambda x: losses.cross_entropy(x, LABELS))(LOGITS)
    softmax = np.exp(log_softmax(LOGITS))
    np.testing.assert_allclose(g, (softmax - np.eye(C)[LABELS]) / N, rtol=1e-12, atol=1e-15)


# --- stability -----------------------------------------------------------------------------------------


def test_large_logits_give_finite_losses_and_gradients_in_float32():
    x = np.array([[1e4, -1e4, 0.0], [-1e4, 1e4, 5e3]], np.float32)
    for labels in (np.array([1, 0]), np.array([[0.0, 1.0, 0.0], [0.5, 0.0, 0.5]], np.float32)):
        value, g = fn.value_and_grad(lambda x: losses.cross_entropy(x, labels, 0.1))(x)
        assert np.isfinite(value) and np.all(np.isfinite(g)) and value.dtype == g.dtype == np.float32
    t = np.array([[1.0, 0.0, 1.0], [0.0, 1.0, 0.5]], np.float32)
    value, g = fn.value_and_grad(lambda x: losses.binary_cross_entropy_with_logits(x, t))(x)
    assert np.isfinite(value) and np.all(np.isfinite(g)) and value.dtype == np.float32
    np.testing.assert_allclose(losses.binary_cross_entropy_with_logits(x, t, "none"),
                               [[0.0, 0.0, math.log(2)], [0.0, 0.0, 2500.0]], rtol=1e-6)


def test_float32_in_float32_out():
    p, t = P01.astype(np.float32), T01.astype(np.float32)
    for value in (losses.mse(p, t), losses.l1(p, t), losses.huber(p, t), losses.binary_cross_entropy(p, t),
                  losses.cross_entropy(LOGITS.astype(np.float32), LABELS),
                  losses.kl_div(np.log(p), t), losses.hinge(p, np.where(t > 0.5, 1, -1).astype(np.float32))):
        assert value.dtype == np.float32


# --- errors ---------------------------------------------------------------------------------------------


def test_batch_size_mismatch_names_the_arguments_and_shapes():
    with pytest.raises(ValueError, match=r"mse: predictions has shape \(6, 3\) but targets has shape \(4, 3\)"
                                         r": their batch sizes differ \(6 vs 4\)"):
        losses.mse(PRED, TARGET[:4])
    with pytest.raises(ValueError, match=r"cross_entropy: logits has shape \(6, 5\) but labels has shape \(4,\)"
                                         r".*batch sizes differ"):
        losses.cross_entropy(LOGITS, LABELS[:4])
    with pytest.raises(ValueError, match="no broadcasting"):
        losses.binary_cross_entropy_with_logits(PRED, T01[:, :1])
    with pytest.raises(ValueError, match=r"hinge: scores has shape"):
        losses.hinge(LOGITS, LABELS[:2])


def test_labels_outside_the_classes_are_rejected():
    with pytest.raises(ValueError, match=r"cross_entropy: labels must be class indices in \[0, 5\).*5"):
        losses.cross_entropy(LOGITS, np.array([0, 1, 2, 3, 4, 5]))
    with pytest.raises(ValueError, match=r"\[0, 5\)"):
        losses.nll(LOGITS, np.array([-1, 1, 2, 3, 4, 0]))
    with pytest.raises(ValueError, match=r"\[0, 5\)"):
        losses.hinge(LOGITS, np.array([0, 1, 2, 3, 4, 9]))
    with pytest.raises(ValueError, match=r"astype\(int\)"):
        losses.cross_entropy(LOGITS, LABELS.astype(np.float64))
    with pytest.raises(ValueError, match="-1 or \\+1"):
        losses.hinge(PRED, (TARGET > 0).astype(np.float64))


def test_probabilities_outside_zero_one_are_rejected():
    bad = P01.copy()
    bad[1, 1] = 1.5
    with pytest.raises(ValueError, match=r"binary_cross_entropy: probs must hold probabilities in \[0, 1\]"):
        losses.binary_cross_entropy(bad, T01)
    with pytest.raises(ValueError, match="targets must hold probabilities"):
        losses.binary_cross_entropy(P01, -T01 - 0.1)
    with pytest.raises(ValueError, match="targets must hold probabilities"):
        losses.binary_cross_entropy_with_logits(PRED, bad)
    with pytest.raises(ValueError, match="labels .* must hold probabilities"):
        losses.cross_entropy(LOGITS, PROBS * 2)
    with pytest.raises(ValueError, match="targets must hold probabilities"):
        losses.kl_div(LOGITS, -PROBS)


def test_bad_arguments():
    with pytest.raises(ValueError, match="reduction must be one of 'mean', 'sum', 'none'"):
        losses.mse(PRED, TARGET, reduction="avg")
    with pytest.raises(ValueError, match="batchmean"):
        losses.kl_div(LOGITS, PROBS, reduction="avg")
    with pytest.raises(ValueError, match="label_smoothing"):
        losses.cross_entropy(LOGITS, LABELS, label_smoothing=1.5)
    with pytest.raises(ValueError, match="delta"):
        losses.huber(PRED, TARGET, delta=0.0)
    with pytest.raises(ValueError, match="axis 2"):
        losses.cross_entropy(LOGITS, LABELS, axis=2)


def test_checks_work_on_traced_values():
    g = fn.grad(lambda p: losses.binary_cross_entropy(p, T01))(P01)
    assert g.shape == P01.shape
    with pytest.raises(ValueError, match="probs must hold probabilities"):
        fn.grad(lambda p: losses.binary_cross_entropy(p * 3.0, T01))(P01)


def test_lists_are_accepted():
    assert float(losses.mse([1.0, 2.0], [1.0, 4.0])) == 2.0
    assert float(losses.cross_entropy([[0.0, 0.0]], [1])) == pytest.approx(math.log(2))


# --- PyTorch parity -----------------------------------------------------------------------------------


def torch_pairs():
    torch = pytest.importorskip("torch")
    F = torch.nn.functional
    T = torch.tensor
    y01 = np.where(T01 > 0.5, 1.0, 0.0)
    return [
        ("mse", lambda r: losses.mse(PRED, TARGET, r), lambda p, r: F.mse_loss(p, T(TARGET), reduction=r), PRED),
        ("l1", lambda r: losses.l1(PRED, TARGET, r), lambda p, r: F.l1_loss(p, T(TARGET), reduction=r), PRED),
        ("huber", lambda r: losses.huber(PRED, TARGET, 0.8, r),
         lambda p, r: F.huber_loss(p, T(TARGET), reduction=r, delta=0.8), PRED),
        ("cross_entropy", lambda r: losses.cross_entropy(LOGITS, LABELS, 0.0, r),
         lambda x, r: F.cross_entropy(x, T(LABELS), reduction=r), LOGITS),
        ("cross_entropy_smoothed", lambda r: losses.cross_entropy(LOGITS, LABELS, 0.15, r),
         lambda x, r: F.cross_entropy(x, T(LABELS), reduction=r, label_smoothing=0.15), LOGITS),
        ("cross_entropy_probs", lambda r: losses.cross_entropy(LOGITS, PROBS, 0.1, r),
         lambda x, r: F.cross_entropy(x, T(PROBS), reduction=r, label_smoothing=0.1), LOGITS),
        ("nll", lambda r: losses.nll(log_softmax(LOGITS), LABELS, r),
         lambda x, r: F.nll_loss(x, T(LABELS), reduction=r), log_softmax(LOGITS)),
        ("bce", lambda r: losses.binary_cross_entropy(P01, T01, r),
         lambda p, r: F.binary_cross_entropy(p, T(T01), reduction=r), P01),
        ("bce_logits", lambda r: losses.binary_cross_entropy_with_logits(PRED * 5, y01, r),
         lambda x, r: F.binary_cross_entropy_with_logits(x, T(y01), reduction=r), PRED * 5),
        ("bce_logits_pos_weight", lambda r: losses.binary_cross_entropy_with_logits(
            PRED, T01, r, pos_weight=np.array([0.5, 1.0, 3.0])),
         lambda x, r: F.binary_cross_entropy_with_logits(x, T(T01), reduction=r,
                                                         pos_weight=T(np.array([0.5, 1.0, 3.0]))), PRED),
        ("kl_div", lambda r: losses.kl_div(log_softmax(LOGITS), PROBS, r),
         lambda x, r: F.kl_div(x, T(PROBS), reduction=r), log_softmax(LOGITS)),
        ("kl_div_log_target", lambda r: losses.kl_div(log_softmax(LOGITS), np.log(PROBS), r, log_target=True),
         lambda x, r: F.kl_div(x, T(np.log(PROBS)), reduction=r, log_target=True), log_softmax(LOGITS)),
        ("multi_margin", lambda r: losses.hinge(LOGITS, LABELS, 1.0, r),
         lambda x, r: F.multi_margin_loss(x, T(LABELS), reduction=r), LOGITS),
    ]


PARITY_NAMES = ["mse", "l1", "huber", "cross_entropy", "cross_entropy_smoothed", "cross_entropy_probs", "nll",
                "bce", "bce_logits", "bce_logits_pos_weight", "kl_div", "kl_div_log_target", "multi_margin"]


@pytest.mark.parametrize("reduction", REDUCTIONS)
@pytest.mark.parametrize("name", PARITY_NAMES)
def test_values_and_gradients_match_pytorch(name, reduction):
    torch = pytest.importorskip("torch")
    _, ours, theirs, x = next(case for case in torch_pairs() if case[0] == name)
    if name.startswith("kl_div") and reduction == "mean":
        reduction = "batchmean"
    t = torch.tensor(x, requires_grad=True)
    expected = theirs(t, reduction)
    weights = np.random.default_rng(1).standard_normal(tuple(expected.shape))
    (expected * torch.tensor(weights)).sum().backward()
    np.testing.assert_allclose(ours(reduction), expected.detach().numpy(), rtol=1e-6, atol=1e-15)

    # the gradient with respect to the first argument, by rebuilding the loss around it
    def as_function(v):
        case = {
            "mse": lambda: losses.mse(v, TARGET, reduction),
            "l1": lambda: losses.l1(v, TARGET, reduction),
            "huber": lambda: losses.huber(v, TARGET, 0.8, reduction),
            "cross_entropy": lambda: losses.cross_entropy(v, LABELS, 0.0, reduction),
            "cross_entropy_smoothed": lambda: losses.cross_entropy(v, LABELS, 0.15, reduction),
            "cross_entropy_probs": lambda: losses.cross_entropy(v, PROBS, 0.1, reduction),
            "nll": lambda: losses.nll(v, LABELS, reduction),
            "bce": lambda: losses.binary_cross_entropy(v, T01, reduction),
            "bce_logits": lambda: losses.binary_cross_entropy_with_logits(v, np.where(T01 > 0.5, 1.0, 0.0), reduction),
            "bce_logits_pos_weight": lambda: losses.binary_cross_entropy_with_logits(
                v, T01, reduction, pos_weight=np.array([0.5, 1.0, 3.0])),
            "kl_div": lambda: losses.kl_div(v, PROBS, reduction),
            "kl_div_log_target": lambda: losses.kl_div(v, np.log(PROBS), reduction, log_target=True),
            "multi_margin": lambda: losses.hinge(v, LABELS, 1.0, reduction),
        }[name]
        return fnp.sum(case() * weights)

    np.testing.assert_allclose(fn.grad(as_function)(x), t.grad.numpy(), rtol=1e-6, atol=1e-15)


def test_cross_entropy_with_a_class_axis_matches_pytorch():
    torch = pytest.importorskip("torch")
    F = torch.nn.functional
    x = RNG.normal(size=(3, 4, 2, 5))
    y = RNG.integers(0, 4, (3, 2, 5))
    p = RNG.dirichlet(np.ones(4), (3, 2, 5)).transpose(0, 3, 1, 2)
    for labels in (y, p):
        for smoothing in (0.0, 0.2):
            expected = F.cross_entropy(torch.tensor(x), torch.tensor(labels), label_smoothing=smoothing)
            ours = float(losses.cross_entropy(x, labels, smoothing, axis=1))
            assert ours == pytest.approx(expected.item(), rel=1e-12)


def test_binary_cross_entropy_clamping_matches_pytorch():
    torch = pytest.importorskip("torch")
    p = np.array([0.0, 1.0, 1e-50, 1.0 - 1e-16, 0.3])
    t = np.array([1.0, 0.0, 1.0, 0.0, 0.7])
    expected = torch.nn.functional.binary_cross_entropy(torch.tensor(p), torch.tensor(t), reduction="none")
    np.testing.assert_allclose(losses.binary_cross_entropy(p, t, "none"), expected.numpy(), rtol=1e-6)
