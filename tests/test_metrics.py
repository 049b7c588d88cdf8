"""Metrics: accuracy in every input form, top-k, the confusion matrix, precision, recall
and F1 with each averaging, and ROC curves and their area, against hand-computed values (and
scikit-learn when installed)."""
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


def test_weighted_average_weights_classes_by_support():
    pred, true = np.argmax(LOGITS, axis=1), LABELS  # supports 1, 2, 2
    p, r, f = metrics.precision_recall_f1(pred, true, average="weighted")
    assert p == pytest.approx((1 * 0.5 + 2 * 0.5 + 2 * 1.0) / 5)
    assert r == pytest.approx((1 * 1.0 + 2 * 0.5 + 2 * 0.5) / 5)
    assert f == pytest.approx((1 * 2 / 3 + 2 * 0.5 + 2 * 2 / 3) / 5)
    # a class predicted but never true weighs nothing; with no support at all, the plain mean
    assert metrics.precision_recall_f1(np.array([0, 0, 1]), np.array([0, 0, 0]), average="weighted") == \
        pytest.approx((1.0, 2 / 3, 0.8))
    assert metrics.precision_recall_f1(np.zeros(0, np.int64), np.zeros(0, np.int64), num_classes=2,
                                       average="weighted", zero_division=1.0) == (1.0, 1.0, 1.0)


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
    for average in ("macro", "weighted", "micro", None):
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
        metrics.precision_recall_f1(LOGITS, LABELS, average="samples")
    with pytest.raises(ValueError, match="binary"):
        metrics.precision_recall_f1(LOGITS, LABELS, average="binary")


# --- ROC ------------------------------------------------------------------------------------------


def trapezoid(x, y):
    return float(np.sum(np.diff(x) * (y[1:] + y[:-1]) / 2))


def test_roc_auc_binary_by_hand():
    # positives 0.35, 0.8; negatives 0.1, 0.4: 3 of the 4 pairs are ordered
    assert metrics.roc_auc(np.array([0.1, 0.4, 0.35, 0.8]), np.array([0, 0, 1, 1])) == 0.75
    # positives 0.5, 0.8; negatives 0.5, 0.2: the tied pair counts one half
    assert metrics.roc_auc(np.array([0.5, 0.5, 0.2, 0.8]), np.array([1, 0, 0, 1])) == 3.5 / 4
    assert metrics.roc_auc(np.full(6, 0.3), np.array([0, 1, 0, 1, 1, 0])) == 0.5
    assert metrics.roc_auc(np.array([3, 1, 2]), np.array([True, False, False])) == 1.0
    assert metrics.roc_auc(np.array([0.0, 1.0]), np.array([1.0, 0.0])) == 0.0
    # infinities are ordered too; tied infinities are one tie
    assert metrics.roc_auc(np.array([-np.inf, np.inf, np.inf, 0.0]), np.array([0, 1, 0, 1])) == 2.5 / 4


def test_roc_auc_reads_every_binary_form():
    probs = np.array([0.9, 0.2, 0.6, 0.4, 0.7])
    labels = np.array([1, 0, 0, 1, 1])  # pairs ordered: 0.9 > all, 0.4 > 0.2, 0.7 > both -> 5 of 6
    assert metrics.roc_auc(probs, labels) == 5 / 6
    assert metrics.roc_auc(probs[:, None], labels) == 5 / 6
    assert metrics.roc_auc(probs[:, None], labels[:, None]) == 5 / 6
    assert metrics.roc_auc(np.stack([1 - probs, probs], axis=1), labels) == 5 / 6
    assert metrics.roc_auc(np.stack([1 - probs, probs], axis=1), np.eye(2)[labels]) == 5 / 6
    assert metrics.roc_auc(probs.astype(np.float32), labels.astype(np.float32)) == 5 / 6
    # two columns of logits rank by their difference, the log-odds (column 1 alone ranks otherwise)
    logits = np.array([[0.0, 1.0], [5.0, 5.5], [-3.0, -3.2]])
    assert metrics.roc_auc(logits, np.array([1, 0, 0])) == 1.0
    assert metrics.roc_auc(logits[:, 1], np.array([1, 0, 0])) == 0.5


def test_probabilities_keep_their_resolution():
    # 1 - p rounds these together in float32; column 1 of the probabilities keeps them apart
    p = np.array([1e-9, 2e-9, 3e-9], np.float32)
    assert metrics.roc_auc(np.stack([1 - p, p], axis=1), np.array([0, 0, 1])) == 1.0


def test_roc_auc_multiclass_by_hand():
    probs = np.array([[0.5, 0.3, 0.2],
                      [0.2, 0.5, 0.3],
                      [0.3, 0.3, 0.4],
                      [0.4, 0.4, 0.2],
                      [0.1, 0.2, 0.7]])
    labels = np.array([0, 1, 2, 1, 0])
    # class 0: positives 0.5, 0.1 vs 0.2, 0.3, 0.4 -> 3 of 6; class 1: positives 0.5, 0.4 vs
    # 0.3, 0.3, 0.2 -> 6 of 6; class 2: positive 0.4 vs 0.2, 0.3, 0.2, 0.7 -> 3 of 4
    per_class = metrics.roc_auc(probs, labels, average=None)
    np.testing.assert_array_equal(per_class, [0.5, 1.0, 0.75])
    assert per_class.dtype == np.float64
    assert metrics.roc_auc(probs, labels) == pytest.approx(2.25 / 3)
    assert metrics.roc_auc(probs, labels, average="weighted") == pytest.approx((2 * 0.5 + 2 * 1.0 + 0.75) / 5)
    assert metrics.roc_auc(probs, np.eye(3)[labels], average="weighted") == pytest.approx(3.75 / 5)
    assert metrics.roc_auc(probs.astype(np.float32), labels) == pytest.approx(2.25 / 3)


def test_roc_curve_by_hand():
    scores, labels = np.array([0.1, 0.4, 0.35, 0.8]), np.array([0, 0, 1, 1])
    fpr, tpr, thresholds = metrics.roc_curve(scores, labels)
    np.testing.assert_array_equal(fpr, [0, 0, 0.5, 0.5, 1])
    np.testing.assert_array_equal(tpr, [0, 0.5, 0.5, 1, 1])
    np.testing.assert_array_equal(thresholds, [np.inf, 0.8, 0.4, 0.35, 0.1])
    # ties make one step; on a straight segment the middle point is dropped unless asked for
    scores, labels = np.array([0.9, 0.8, 0.8, 0.7, 0.3, 0.2]), np.array([1, 1, 0, 1, 0, 0])
    fpr, tpr, thresholds = metrics.roc_curve(scores, labels, drop_intermediate=False)
    np.testing.assert_array_equal(thresholds, [np.inf, 0.9, 0.8, 0.7, 0.3, 0.2])
    np.testing.assert_allclose(fpr, [0, 0, 1 / 3, 1 / 3, 2 / 3, 1])
    np.testing.assert_allclose(tpr, [0, 1 / 3, 2 / 3, 1, 1, 1])
    fpr, tpr, thresholds = metrics.roc_curve(scores, labels)
    np.testing.assert_array_equal(thresholds, [np.inf, 0.9, 0.8, 0.7, 0.2])
    assert trapezoid(fpr, tpr) == pytest.approx(metrics.roc_auc(scores, labels)) == pytest.approx(7.5 / 9)


def test_roc_curve_dtypes():
    scores = np.array([0.1, 0.4, 0.35, 0.8], np.float32)
    fpr, tpr, thresholds = metrics.roc_curve(scores, np.array([0, 0, 1, 1]))
    assert thresholds.dtype == np.float32 and fpr.dtype == tpr.dtype == np.float64
    assert thresholds[1] == scores[3]
    _, _, thresholds = metrics.roc_curve(np.array([3, 1, 2]), np.array([1, 0, 1]))
    assert thresholds.dtype == np.float64 and thresholds.tolist() == [np.inf, 3.0, 2.0, 1.0]


def test_roc_auc_is_vectorized_over_examples():
    rng = np.random.default_rng(0)
    n = 200_000
    labels = rng.integers(0, 2, n)
    scores = labels + rng.normal(size=n)
    # the AUC of two unit normals one apart is Phi(1 / sqrt(2))
    assert metrics.roc_auc(scores, labels) == pytest.approx(0.7602, abs=0.005)
    fpr, tpr, _ = metrics.roc_curve(scores, labels)
    assert trapezoid(fpr, tpr) == pytest.approx(metrics.roc_auc(scores, labels), abs=1e-12)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_roc_against_scikit_learn(dtype):
    sk = pytest.importorskip("sklearn.metrics")
    rng = np.random.default_rng(1)
    for n in (2, 7, 50, 1000):
        labels = np.r_[0, 1, rng.integers(0, 2, n - 2)]
        scores = np.round(rng.normal(size=n), 1).astype(dtype)  # many ties
        assert metrics.roc_auc(scores, labels) == pytest.approx(sk.roc_auc_score(labels, scores), rel=1e-12)
        for drop in (True, False):
            ours, theirs = metrics.roc_curve(scores, labels, drop_intermediate=drop), \
                sk.roc_curve(labels, scores, drop_intermediate=drop)
            for a, b in zip(ours, theirs):
                np.testing.assert_allclose(a, b, rtol=1e-12)
    for num_classes in (3, 10, 60):
        n = 20 * num_classes
        labels = np.r_[np.arange(num_classes), rng.integers(0, num_classes, n - num_classes)]
        weights = np.round(rng.random((n, num_classes)), 1) + 0.05
        probs = (weights / weights.sum(axis=1, keepdims=True)).astype(dtype)
        probs[: n // 4] = probs[0]  # tied rows
        for average in ("macro", "weighted", None):
            np.testing.assert_allclose(metrics.roc_auc(probs, labels, average=average),
                                       sk.roc_auc_score(labels, probs, multi_class="ovr", average=average),
                                       rtol=1e-12)
    logits = rng.normal(size=(300, 2)).astype(dtype)
    labels = rng.integers(0, 2, 300)
    probs = np.exp(logits) / np.exp(logits).sum(axis=1, keepdims=True)
    assert metrics.roc_auc(logits, labels) == pytest.approx(sk.roc_auc_score(labels, probs[:, 1]), rel=1e-12)


def test_roc_errors():
    scores, labels = np.array([0.2, 0.7, 0.4]), np.array([0, 1, 1])
    with pytest.raises(ValueError, match=r"no example of class 0 \(classes present: \[1\], in 3 labels\)"):
        metrics.roc_auc(scores, np.ones(3, np.int64))
    with pytest.raises(ValueError, match=r"no example of class 1 "):
        metrics.roc_curve(scores, np.zeros(3))
    with pytest.raises(ValueError, match=r"no example of class 2 \(classes present: \[0, 1\]"):
        metrics.roc_auc(np.full((4, 3), 1 / 3), np.array([0, 1, 1, 0]))
    with pytest.raises(ValueError, match=r"scores has shape \(3,\) but labels has shape \(4,\); labels must have "
                                         r"shape \(3,\)"):
        metrics.roc_auc(scores, np.array([0, 1, 1, 0]))
    with pytest.raises(ValueError, match=r"\(3,\) \(class indices\)|\(3, 3\) \(one-hot\)"):
        metrics.roc_auc(np.full((3, 3), 1 / 3), np.array([0, 1]))
    with pytest.raises(ValueError, match=r"scores hold NaN \(1 of 3, the first at index 1\)"):
        metrics.roc_auc(np.array([0.2, np.nan, 0.4]), labels)
    with pytest.raises(ValueError, match=r"the first at index \(1, 0\)"):
        metrics.roc_auc(np.array([[1.0, 0.0], [np.nan, 0.5]]), np.array([0, 1]))
    with pytest.raises(ValueError, match=r"row 1 sums to 2.*softmax"):
        metrics.roc_auc(np.array([[0.2, 0.3, 0.5], [1.0, 0.5, 0.5]]), np.array([0, 1]))
    with pytest.raises(ValueError, match="binary labels must be 0 or 1; got values \\[-1, 1\\]"):
        metrics.roc_auc(scores, np.array([-1, 1, 1]))
    with pytest.raises(ValueError, match=r"astype\(int\)"):
        metrics.roc_auc(np.full((3, 3), 1 / 3), np.array([0.0, 1.0, 2.0]))
    with pytest.raises(ValueError, match="one-hot rows"):
        metrics.roc_auc(np.full((2, 3), 1 / 3), np.array([[1, 1, 0], [0, 0, 1]]))
    with pytest.raises(ValueError, match="multi_class must be 'ovr'"):
        metrics.roc_auc(scores, labels, multi_class="ovo")
    with pytest.raises(ValueError, match="average must be 'macro', 'weighted' or None"):
        metrics.roc_auc(scores, labels, average="micro")
    with pytest.raises(ValueError, match="flatten extra axes"):
        metrics.roc_auc(np.zeros((2, 2, 2)), np.zeros((2, 2)))
    with pytest.raises(ValueError, match="real numbers"):
        metrics.roc_auc(scores.astype(complex), labels)
    with pytest.raises(ValueError, match=r"scores\[:, c\] and labels == c"):
        metrics.roc_curve(np.full((3, 3), 1 / 3), np.array([0, 1, 2]))
