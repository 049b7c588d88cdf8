"""Metrics: accuracy in every input form, top-k, the confusion matrix and precision, recall
and F1 with each averaging, against hand-computed values (and scikit-learn when installed)."""
import numpy as np
import pytest

import funcnn as fn
import funcnn.numpy as fnp
from funcnn import metrics

LOGITS = np.array([[2.0, 0.5, -1.0],
                   [0.1, 0.3, 0.2],
                   [-1.0, 0.0, 3.0],
                   [0.5, 0.4, 0.3],
                   [0.0, 2.0, 1.0]])
LABELS = np.array([0, 2, 2, 1, 1])        # predicted: 0, 1, 2, 0, 1 -> 3 of 5 right


def test_accuracy_from_logits_probabilities_and_one_hot():
    assert metrics.accuracy(LOGITS, LABELS) == pytest.approx(0.6)
    probs = np.exp(LOGITS) / np.exp(LOGITS).sum(axis=1, keepdims=True)
    assert metrics.accuracy(probs, LABELS) == pytest.approx(0.6)
    assert metrics.accuracy(LOGITS, np.eye(3)[LABELS]) == pytest.approx(0.6)
    assert metrics.accuracy(LOGITS, np.eye(3, dtype=np.int64)[LABELS]) == pytest.approx(0.6)
    assert metrics.accuracy(np.argmax(LOGITS, axis=1), LABELS) == pytest.approx(0.6)


def test_binary_accuracy_with_a_threshold():
    probs = np.array([0.9, 0.4, 0.6, 0.1])
    labels = np.array([1, 1, 0, 0])
    assert metrics.accuracy(probs, labels) == 0.5
    assert metrics.accuracy(probs, labels, threshold=0.3) == 0.75
    assert metrics.accuracy(probs, labels, threshold=0.65) == 0.75
    logits = np.array([[2.0], [-1.0], [0.5], [-3.0]])
    assert metrics.accuracy(logits, labels[:, None], threshold=0.0) == 0.5
    assert metrics.accuracy(logits, labels[:, None].astype(np.float32), threshold=0.0) == 0.5
    assert metrics.accuracy(logits, labels, threshold=0.0) == 0.5  # Dense(1) logits against (N,) labels
    np.testing.assert_array_equal(metrics.confusion_matrix(logits, labels, threshold=0.0), [[1, 1], [1, 1]])


def test_accuracy_over_extra_axes_and_traced_inputs():
    logits = np.stack([LOGITS, LOGITS[::-1]])
    labels = np.stack([LABELS, LABELS[::-1]])
    assert metrics.accuracy(logits, labels) == pytest.approx(0.6)

    seen = []

    def loss(x):
        seen.append(metrics.accuracy(x, LABELS))
        return fnp.sum(x)

    fn.grad(loss)(LOGITS)
    assert seen == [pytest.approx(0.6)]


def test_top_k_accuracy():
    assert metrics.top_k_accuracy(LOGITS, LABELS, k=1) == pytest.approx(0.6)
    # ranks of the labels: 0, 1, 0, 1, 0 classes score higher
    assert metrics.top_k_accuracy(LOGITS, LABELS, k=2) == pytest.approx(1.0)
    assert metrics.top_k_accuracy(LOGITS, np.array([2, 0, 1, 2, 0]), k=2) == pytest.approx(0.2)
    assert metrics.top_k_accuracy(LOGITS, np.eye(3)[LABELS], k=3) == 1.0
    ties = np.array([[1.0, 1.0, 0.0]])
    assert metrics.top_k_accuracy(ties, np.array([1]), k=1) == 1.0


def test_confusion_matrix():
    cm = metrics.confusion_matrix(LOGITS, LABELS)
    expected = np.array([[1, 0, 0],
                         [1, 1, 0],
                         [0, 1, 1]])
    np.testing.assert_array_equal(cm, expected)
    assert cm.dtype == np.int64 and cm.sum() == 5
    np.testing.assert_array_equal(metrics.confusion_matrix(np.array([1, 1]), np.array([0, 1]), num_classes=4),
                                  [[0, 1, 0, 0], [0, 1, 0, 0], [0, 0, 0, 0], [0, 0, 0, 0]])
    np.testing.assert_array_equal(metrics.confusion_matrix(np.array([0.9, 0.2, 0.7]), np.array([1, 1, 0])),
                                  [[0, 1], [1, 1]])


def test_precision_recall_f1_per_class_and_averaged():
    pred, true = np.argmax(LOGITS, axis=1), LABELS
    # per class: tp = [1, 1, 1]; predicted counts = [2, 2, 1]; true counts = [1, 2, 2]
    p, r, f = metrics.precision_recall_f1(pred, true, average=None)
    np.testing.assert_allclose(p, [0.5, 0.5, 1.0])
    np.testing.assert_allclose(r, [1.0, 0.5, 0.5])
    np.testing.assert_allclose(f, [2 / 3, 0.5, 2 / 3])
    p, r, f = metrics.precision_recall_f1(pred, true, average="macro")
    assert (p, r, f) == pytest.approx((2 / 3, 2 / 3, (2 / 3 + 0.5 + 2 / 3) / 3))
    assert metrics.precision_recall_f1(pred, true, average="micro") == pytest.approx((0.6, 0.6, 0.6))
    assert metrics.precision_recall_f1(LOGITS, LABELS) == pytest.approx((p, r, f))


def test_precision_recall_f1_binary_and_zero_division():
    probs = np.array([0.9, 0.8, 0.2, 0.4, 0.7])
    labels = np.array([1, 0, 1, 0, 1])  # predicted 1, 1, 0, 0, 1: tp = 2, fp = 1, fn = 1
    assert metrics.precision_recall_f1(probs, labels, average="binary") == pytest.approx((2 / 3, 2 / 3, 2 / 3))
    p, r, f = metrics.precision_recall_f1(np.array([0, 0]), np.array([0, 1]), average=None, num_classes=3)
    np.testing.assert_allclose(p, [0.5, 0.0, 0.0])
    np.testing.assert_allclose(r, [1.0, 0.0, 0.0])
    p, r, f = metrics.precision_recall_f1(np.array([0, 0]), np.array([0, 1]), average=None, num_classes=3,
                                          zero_division=1.0)
    np.testing.assert_allclose(p, [0.5, 1.0, 1.0])
    np.testing.assert_allclose(r, [1.0, 0.0, 1.0])


def test_macro_average_uses_classes_seen_unless_num_classes_is_given():
    pred, true = np.array([0, 2, 2]), np.array([0, 2, 0])  # class 1 never appears
    seen = metrics.precision_recall_f1(pred, true)
    assert seen == pytest.approx(((1 + 0.5) / 2, (0.5 + 1) / 2, (2 / 3 + 2 / 3) / 2))
    all_three = metrics.precision_recall_f1(pred, true, num_classes=3)
    assert all_three == pytest.approx(((1 + 0 + 0.5) / 3, (0.5 + 0 + 1) / 3, (2 / 3 + 0 + 2 / 3) / 3))


def test_against_scikit_learn():
    sk = pytest.importorskip("sklearn.metrics")
    rng = np.random.default_rng(0)
    pred, true = rng.integers(0, 4, 200), rng.integers(0, 4, 200)
    for average in ("macro", "micro", None):
        ours = metrics.precision_recall_f1(pred, true, average=average)
        theirs = sk.precision_recall_fscore_support(true, pred, average=average, zero_division=0.0)[:3]
        for a, b in zip(ours, theirs):
            np.testing.assert_allclose(a, b)
    np.testing.assert_array_equal(metrics.confusion_matrix(pred, true), sk.confusion_matrix(true, pred))


def test_errors():
    with pytest.raises(ValueError, match=r"accuracy: predictions has shape \(5, 3\) but labels has shape \(4,\)"
                                         r": their batch sizes differ"):
        metrics.accuracy(LOGITS, LABELS[:4])
    with pytest.raises(ValueError, match=r"\[0, 3\)"):
        metrics.accuracy(LOGITS, np.array([0, 1, 2, 3, 0]))
    with pytest.raises(ValueError, match=r"astype\(int\)"):
        metrics.accuracy(LOGITS, LABELS.astype(float))
    with pytest.raises(ValueError, match="0 or 1"):
        metrics.accuracy(np.array([0.2, 0.9]), np.array([0, 2]))
    with pytest.raises(ValueError, match="k must be"):
        metrics.top_k_accuracy(LOGITS, LABELS, k=0)
    with pytest.raises(ValueError, match="num_classes is 2"):
        metrics.confusion_matrix(np.array([0, 2]), np.array([0, 1]), num_classes=2)
    with pytest.raises(ValueError, match="average"):
        metrics.precision_recall_f1(LOGITS, LABELS, average="weighted")
    with pytest.raises(ValueError, match="binary"):
        metrics.precision_recall_f1(LOGITS, LABELS, average="binary")
