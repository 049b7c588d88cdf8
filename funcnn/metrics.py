"""Classification metrics. They read concrete values (no derivatives) and return Python floats,
or NumPy arrays for per-class results.

Predictions and labels may come in several forms, told apart by their shapes and dtypes:

=====================================  ============================  ===========================
predictions                            labels                        read as
=====================================  ============================  ===========================
scores (logits or probabilities),      integer class indices,        class = argmax of scores
shape (..., C)                         shape (...)
scores, shape (..., C), C >= 2         one-hot or probabilities,     both argmax
                                       shape (..., C)
floats, shape (...) or (..., 1)        0 or 1, shape (...) or        binary: class 1 where
                                       the shape of predictions      predictions > threshold
integer class indices, shape (...)     integer class indices         as given
=====================================  ============================  ===========================

For binary predictions, the default ``threshold=0.5`` suits probabilities; use
``threshold=0.0`` for logits. :func:`roc_auc` and :func:`roc_curve` rank the scores instead of
thresholding them; their docstrings give the forms they read.

Examples
--------
>>> import numpy as np
>>> from funcnn import metrics
>>> logits = np.array([[2.0, 0.1], [0.3, 0.9], [1.0, -1.0]])
>>> metrics.accuracy(logits, np.array([0, 1, 1]))  # doctest: +ELLIPSIS
0.666...
"""
from __future__ import annotations

from typing import Any, NamedTuple

import numpy as np

from funcnn.extend import concrete

__all__ = ["accuracy", "confusion_matrix", "precision_recall_f1", "roc_auc", "roc_curve", "top_k_accuracy"]


class _Classes(NamedTuple):
    predicted: np.ndarray  # int, flattened
    true: np.ndarray  # int, flattened
    num_classes: int | None  # known from the scores' class axis or binary mode


def _value(x: Any) -> np.ndarray:
    return np.asarray(concrete(x, "a metric (metrics read values; compute them outside make_graph)"))


def _mismatch(who: str, predictions: np.ndarray, labels: np.ndarray) -> ValueError:
    sp, sl = predictions.shape, labels.shape
    batch = f": their batch sizes differ ({sp[0]} vs {sl[0]})" if sp and sl and sp[0] != sl[0] else ""
    expected = f"{sp[:-1]} (class indices) or {sp}" if sp else f"{sp}"
    return ValueError(f"{who}: predictions has shape {sp} but labels has shape {sl}{batch}; labels "
                      f"must have shape {expected}")


def _check_indices(who: str, name: str, values: np.ndarray, num_classes: int | None) -> np.ndarray:
    if values.dtype.kind not in "iu":
        raise ValueError(f"{who}: {name} must be integer class indices; got dtype {values.dtype} "
                         f"(cast with .astype(int))")
    if values.size and values.min() < 0:
        raise ValueError(f"{who}: {name} must be class indices >= 0; got {values.min()} "
                         f"({name} shape {values.shape})")
    if num_classes is not None and values.size and values.max() >= num_classes:
        raise ValueError(f"{who}: {name} must be class indices in [0, {num_classes}); got "
                         f"{values.max()} ({name} shape {values.shape})")
    return values.astype(np.int64).ravel()


def _classes(who: str, predictions: Any, labels: Any, threshold: float) -> _Classes:
    """The predicted and true classes of each example, flattened."""
    p, y = _value(predictions), _value(labels)
    integer_p = p.dtype.kind in "iub"
    if not integer_p and p.ndim >= 1 and p.shape[-1] == 1 and y.shape == p.shape[:-1]:
        p = p[..., 0]  # one score per example (e.g. Dense(1) logits) against labels of shape (N,)
    if not integer_p and p.ndim >= 1 and y.shape == p.shape[:-1]:
        c = p.shape[-1]
        return _Classes(np.argmax(p, axis=-1).ravel(), _check_indices(who, "labels", y, c), c)
    if y.shape != p.shape:
        raise _mismatch(who, p, y)
    if integer_p:
        return _Classes(_check_indices(who, "predictions", p, None), _check_indices(who, "labels", y, None),
                        None)
    if p.ndim >= 2 and p.shape[-1] >= 2:
        if not (np.all(y >= 0) and np.all(y <= 1)):
            raise ValueError(f"{who}: labels of the shape of predictions ({p.shape}) must be one-hot or "
                             "probabilities in [0, 1]")
        return _Classes(np.argmax(p, axis=-1).ravel(), np.argmax(y, axis=-1).ravel(), p.shape[-1])
    if not np.all((y == 0) | (y == 1)):
        raise ValueError(f"{who}: binary labels (the shape of predictions, {p.shape}) must be 0 or 1")
    return _Classes((p > threshold).astype(np.int64).ravel(), y.astype(np.int64).ravel(), 2)


def accuracy(predictions: Any, labels: Any, threshold: float = 0.5) -> float:
    """The fraction of examples whose predicted class is the label.

    Parameters
    ----------
    predictions : ndarray
        Scores of shape (..., C), binary scores of the shape of `labels`, or integer
        class indices (see the module's table).
    labels : ndarray
        Integer class indices, one-hot or probability targets, or 0/1 for binary.
    threshold : float, default 0.5
        Binary mode only: class 1 where ``predictions > threshold`` (0.0 for logits).

    Returns
    -------
    float

    Examples
    --------
    >>> import numpy as np
    >>> from funcnn import metrics
    >>> metrics.accuracy(np.array([[0.9, 0.1], [0.2, 0.8]]), np.array([[1, 0], [1, 0]]))
    0.5
    >>> metrics.accuracy(np.array([-2.0, 3.0, 0.5]), np.array([0, 1, 0]), threshold=0.0)  # doctest: +ELLIPSIS
    0.666...
    """
    c = _classes("accuracy", predictions, labels, threshold)
    return float(np.mean(c.predicted == c.true)) if c.true.size else 0.0


def top_k_accuracy(predictions: Any, labels: Any, k: int = 5) -> float:
    """The fraction of examples whose label is among the `k` highest scores.

    An example counts as a hit when fewer than `k` classes score strictly higher than its
    label (so a label tied with the k-th score counts).

    Parameters
    ----------
    predictions : ndarray, shape (..., C)
        Scores (logits or probabilities).
    labels : ndarray
        Integer class indices of shape (...), or one-hot targets of shape (..., C).
    k : int, default 5

    Returns
    -------
    float

    Examples
    --------
    >>> import numpy as np
    >>> from funcnn import metrics
    >>> scores = np.array([[0.5, 0.3, 0.2], [0.1, 0.2, 0.7]])
    >>> metrics.top_k_accuracy(scores, np.array([1, 0]), k=2)
    0.5
    """
    who = "top_k_accuracy"
    if isinstance(k, bool) or not isinstance(k, (int, np.integer)) or k < 1:
        raise ValueError(f"{who}: k must be a positive int; got {k!r}")
    p, y = _value(predictions), _value(labels)
    if p.ndim < 1 or p.dtype.kind not in "f":
        raise ValueError(f"{who}: predictions must be float scores of shape (..., num_classes); got "
                         f"dtype {p.dtype} and shape {p.shape}")
    if y.shape == p.shape and p.ndim >= 2:
        y = np.argmax(y, axis=-1)
    elif y.shape != p.shape[:-1]:
        raise _mismatch(who, p, y)
    index = _check_indices(who, "labels", y, p.shape[-1]).reshape(y.shape)
    true_score = np.take_along_axis(p, index[..., None], axis=-1)
    higher = np.sum(p > true_score, axis=-1)
    return float(np.mean(higher < k)) if higher.size else 0.0


def confusion_matrix(predictions: Any, labels: Any, num_classes: int | None = None,
                     threshold: float = 0.5) -> np.ndarray:
    """Counts of (true class, predicted class) pairs: entry ``[i, j]`` is the number of
    examples of class ``i`` predicted as class ``j`` (rows are labels, as in scikit-learn).

    Parameters
    ----------
    predictions, labels : ndarray
        As for :func:`accuracy`.
    num_classes : int, optional
        Defaults to the scores' class axis, 2 in binary mode, or one more than the
        largest class seen.
    threshold : float, default 0.5
        Binary mode only.

    Returns
    -------
    ndarray of int64, shape (num_classes, num_classes)

    Examples
    --------
    >>> import numpy as np
    >>> from funcnn import metrics
    >>> metrics.confusion_matrix(np.array([0, 2, 1, 2]), np.array([0, 1, 1, 2]))
    array([[1, 0, 0],
           [0, 1, 1],
           [0, 0, 1]])
    """
    who = "confusion_matrix"
    c = _classes(who, predictions, labels, threshold)
    n = _num_classes(who, c, num_classes)
    counts = np.bincount(c.true * n + c.predicted, minlength=n * n)
    return counts.reshape(n, n).astype(np.int64)


def _num_classes(who: str, c: _Classes, num_classes: int | None) -> int:
    seen = int(max(c.true.max(initial=-1), c.predicted.max(initial=-1))) + 1
    if num_classes is None:
        return c.num_classes if c.num_classes is not None else max(seen, 1)
    if isinstance(num_classes, bool) or not isinstance(num_classes, (int, np.integer)) or num_classes < 1:
        raise ValueError(f"{who}: num_classes must be a positive int; got {num_classes!r}")
    if seen > num_classes:
        raise ValueError(f"{who}: class {seen - 1} was seen but num_classes is {num_classes}; classes "
                         f"must lie in [0, {num_classes})")
    return int(num_classes)


def _ratio(num: np.ndarray, den: np.ndarray, zero_division: float) -> np.ndarray:
    out = np.full(num.shape, float(zero_division))
    np.divide(num, den, out=out, where=den > 0)
    return out


def precision_recall_f1(predictions: Any, labels: Any, average: str | None = "macro",
                        num_classes: int | None = None, threshold: float = 0.5,
                        zero_division: float = 0.0) -> tuple[Any, Any, Any]:
    """Precision, recall and F1 score, per class or averaged as in scikit-learn's
    ``precision_recall_fscore_support``.

    For class ``c``: precision ``tp / (tp + fp)``, recall ``tp / (tp + fn)``, F1
    ``2 tp / (2 tp + fp + fn)``; a zero denominator gives `zero_division`.

    Parameters
    ----------
    predictions, labels : ndarray
        As for :func:`accuracy`.
    average : {"macro", "weighted", "micro", "binary", None}, default "macro"
        ``"macro"``: the unweighted mean of the per-class scores. ``"weighted"``: their mean
        weighted by each class's support (its number of true examples; the unweighted mean
        if no class has any). ``"micro"``: the scores of the pooled counts (for single-label
        data all three equal the accuracy). ``"binary"``: the scores of class 1. ``None``:
        one score per class.
    num_classes : int, optional
        The classes are ``0 .. num_classes - 1`` when given or known from the scores' class
        axis (2 in binary mode); otherwise, as scikit-learn does by default, the classes
        seen in `labels` or `predictions`, in increasing order.
    threshold : float, default 0.5
        Binary mode only.
    zero_division : float, default 0.0

    Returns
    -------
    (precision, recall, f1)
        Floats, or arrays with one entry per class when ``average=None``.

    Examples
    --------
    >>> import numpy as np
    >>> from funcnn import metrics
    >>> pred, true = np.array([0, 1, 1, 2, 2, 2]), np.array([0, 1, 2, 2, 2, 1])
    >>> p, r, f = metrics.precision_recall_f1(pred, true, average=None)
    >>> p, r
    (array([1.        , 0.5       , 0.66666667]), array([1.        , 0.5       , 0.66666667]))
    >>> metrics.precision_recall_f1(pred, true, average="micro")  # doctest: +ELLIPSIS
    (0.666..., 0.666..., 0.666...)
    >>> metrics.precision_recall_f1(pred, true, average="weighted")  # supports 1, 2, 3 # doctest: +ELLIPSIS
    (0.666..., 0.666..., 0.666...)
    """
    who = "precision_recall_f1"
    if average not in ("macro", "weighted", "micro", "binary", None):
        raise ValueError(f"{who}: average must be 'macro', 'weighted', 'micro', 'binary' or None; got "
                         f"{average!r}")
    c = _classes(who, predictions, labels, threshold)
    n = _num_classes(who, c, num_classes)
    matrix = np.bincount(c.true * n + c.predicted, minlength=n * n).reshape(n, n)
    if num_classes is None and c.num_classes is None:
        classes = np.union1d(c.true, c.predicted)
    else:
        classes = np.arange(n)
    tp = np.diag(matrix)[classes].astype(np.float64)
    fp = matrix.sum(axis=0)[classes] - tp
    fn = matrix.sum(axis=1)[classes] - tp
    support = tp + fn
    if average == "binary":
        if n > 2 or 1 not in classes:
            raise ValueError(f"{who}: average='binary' needs classes 0 and 1 only; got {n} classes")
        pick = int(np.flatnonzero(classes == 1)[0])
        tp, fp, fn = tp[pick:pick + 1], fp[pick:pick + 1], fn[pick:pick + 1]
    elif average == "micro":
        tp, fp, fn = tp.sum(keepdims=True), fp.sum(keepdims=True), fn.sum(keepdims=True)
    precision = _ratio(tp, tp + fp, zero_division)
    recall = _ratio(tp, tp + fn, zero_division)
    f1 = _ratio(2 * tp, 2 * tp + fp + fn, zero_division)
    if average is None:
        return precision, recall, f1
    weights = support if average == "weighted" and support.sum() > 0 else None
    mean = lambda score: float(np.average(score, weights=weights))
    return mean(precision), mean(recall), mean(f1)


# --- ROC curves and the area under them ---------------------------------------------------------


def _scores(who: str, scores: Any) -> np.ndarray:
    """Real scores of shape (n,) or (n, C), without NaN; integers and bools become float64."""
    s = _value(scores)
    if s.dtype.kind not in "biuf":
        raise ValueError(f"{who}: scores must be real numbers; got dtype {s.dtype}")
    if s.ndim not in (1, 2) or (s.ndim == 2 and s.shape[1] == 0):
        raise ValueError(f"{who}: scores must have shape (n,), (n, 1), (n, 2) or (n, num_classes); got "
                         f"{s.shape} (flatten extra axes first)")
    s = s if s.dtype.kind == "f" else s.astype(np.float64)
    nan = np.isnan(s)
    if nan.any():
        first = tuple(int(i) for i in np.argwhere(nan)[0])
        raise ValueError(f"{who}: scores hold NaN ({int(nan.sum())} of {s.size}, the first at index "
                         f"{first[0] if s.ndim == 1 else first}); ROC needs every score ordered")
    return s


def _is_binary(s: np.ndarray) -> bool:
    return s.ndim == 1 or s.shape[1] <= 2


def _sums_to_one(s: np.ndarray) -> np.ndarray:
    """Whether each row of ``s`` sums to 1, within the rounding of its dtype."""
    tolerance = max(1e-5, float(np.sqrt(np.finfo(s.dtype).eps)))
    return np.abs(np.sum(s, axis=1, dtype=np.float64) - 1.0) <= tolerance


def _positive_scores(s: np.ndarray) -> np.ndarray:
    """One score per example ranking the examples as the probability of class 1 does: the
    scores themselves, column 1 of probabilities, or column 1 minus column 0 of logits (the
    log-odds; ``1 - p`` would round tiny probabilities together, so probabilities keep column 1)."""
    if s.ndim == 1 or s.shape[1] == 1:
        return s.reshape(-1)
    return s[:, 1] if np.all(_sums_to_one(s)) else s[:, 1] - s[:, 0]


def _auc_labels(who: str, labels: Any, s: np.ndarray) -> np.ndarray:
    """The class index of each example, from 0/1 labels, class indices or one-hot rows."""
    y = _value(labels)
    n = s.shape[0]
    if s.ndim == 2 and s.shape[1] >= 2 and y.shape == s.shape:
        if not (np.all((y == 0) | (y == 1)) and np.all(np.sum(y, axis=1) == 1)):
            raise ValueError(f"{who}: labels of the shape of scores ({s.shape}) must be one-hot rows")
        return np.argmax(y, axis=1)
    if y.shape == s.shape:
        y = y.reshape(-1)  # scores and labels of shape (n, 1)
    if y.shape != (n,):
        one_hot = f" or {s.shape} (one-hot)" if s.ndim == 2 and s.shape[1] >= 2 else ""
        raise ValueError(f"{who}: scores has shape {s.shape} but labels has shape {y.shape}; labels must have "
                         f"shape ({n},){one_hot}")
    if not _is_binary(s):
        return _check_indices(who, "labels", y, s.shape[1])
    if y.dtype.kind not in "biuf" or not np.all((y == 0) | (y == 1)):
        raise ValueError(f"{who}: binary labels must be 0 or 1; got values {np.unique(y)[:5].tolist()}")
    return y.astype(np.int64)


def _support(who: str, y: np.ndarray, num_classes: int) -> np.ndarray:
    """The number of examples of each class, when every class has some."""
    counts = np.bincount(y, minlength=num_classes)
    if np.any(counts == 0):
        present, absent = np.flatnonzero(counts).tolist(), np.flatnonzero(counts == 0).tolist()
        raise ValueError(f"{who}: labels hold no example of class {', '.join(map(str, absent))} (classes present: "
                         f"{present or 'none'}, in {y.size} labels); the ROC AUC of a class needs examples of the "
                         "class and of the rest")
    return counts


def _roc_counts(score: np.ndarray, positive: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The false and true positives above each distinct score, in decreasing order of score.

    Returns ``(fps, tps, thresholds)``: with class 1 predicted where ``score >= thresholds[i]``,
    ``fps[i]`` negatives and ``tps[i]`` positives are predicted positive. Tied scores form one step.
    """
    order = np.argsort(score, kind="stable")[::-1]
    ranked = score[order]
    # comparing neighbours (not np.diff) keeps tied infinities together
    ends = np.append(np.flatnonzero(ranked[1:] != ranked[:-1]), ranked.size - 1)
    tps = np.cumsum(positive[order], dtype=np.int64)[ends]
    return ends + 1 - tps, tps, ranked[ends]


def _binary_auc(score: np.ndarray, positive: np.ndarray) -> float:
    """The trapezoidal area under the ROC curve, with integer sums: a tie between a positive
    and a negative counts one half, so this is the Mann-Whitney U over ``P * N``."""
    fps, tps, _ = _roc_counts(score, positive)
    fps, tps = np.append(0, fps), np.append(0, tps)
    twice_area = np.sum(np.diff(fps) * (tps[1:] + tps[:-1]))
    return float(twice_area / (2 * fps[-1] * tps[-1]))


def _check_probabilities(who: str, s: np.ndarray) -> None:
    bad = np.flatnonzero(~_sums_to_one(s))
    if bad.size:
        i = int(bad[0])
        raise ValueError(f"{who}: one-vs-rest scores must be probabilities summing to 1 over the {s.shape[1]} "
                         f"classes, but row {i} sums to {float(np.sum(s[i], dtype=np.float64)):.6g}; pass "
                         "funcnn.nn.softmax(logits) (scikit-learn requires probabilities too)")


def roc_auc(scores: Any, labels: Any, *, multi_class: str = "ovr", average: str | None = "macro") -> Any:
    """The area under the ROC curve, as scikit-learn's ``roc_auc_score``.

    The chance that a random positive scores above a random negative, a tie counting one half:
    the trapezoidal area under :func:`roc_curve` with tied scores as one step, which is the
    Mann-Whitney U statistic (with mid-ranks) over ``P * N``, computed exactly in integers.

    Parameters
    ----------
    scores : ndarray, shape (n,), (n, 1), (n, 2) or (n, C)
        Binary: one score per example (a probability or logit of class 1, any real number), or
        two columns, read as probabilities (column 1) when every row sums to 1 and as logits
        otherwise (column 1 minus column 0, the log-odds); both rank the examples as the
        probability of class 1 does. ``C >= 3``: probabilities of each class, each row summing
        to 1 (as scikit-learn requires; pass ``softmax(logits)``). Infinite scores are allowed
        (scikit-learn refuses them); NaN is an error.
    labels : ndarray, shape (n,) or (n, C)
        0 or 1 for binary scores, integer class indices in ``[0, C)``, or one-hot rows.
    multi_class : {"ovr"}, default "ovr"
        One-vs-rest: class ``c``'s AUC ranks the examples by ``scores[:, c]``, class ``c``
        positive and every other class negative.
    average : {"macro", "weighted", None}, default "macro"
        Multiclass only: the unweighted mean of the per-class AUCs, their mean weighted by
        each class's support (number of examples), or ``None`` for one AUC per class.

    Returns
    -------
    float, or ndarray of float64, shape (C,), for ``average=None`` with ``C >= 3``

    Raises
    ------
    ValueError
        When a class has no examples (the AUC is undefined), on NaN scores, shapes that do
        not match, or multiclass scores that are not probabilities.

    Examples
    --------
    >>> import numpy as np
    >>> from funcnn import metrics
    >>> metrics.roc_auc(np.array([0.1, 0.4, 0.35, 0.8]), np.array([0, 0, 1, 1]))
    0.75
    >>> metrics.roc_auc(np.array([0.5, 0.5, 0.2, 0.8]), np.array([1, 0, 0, 1]))  # a tied pair counts 1/2
    0.875
    >>> probs = np.array([[0.6, 0.3, 0.1], [0.2, 0.5, 0.3], [0.1, 0.2, 0.7], [0.3, 0.4, 0.3]])
    >>> metrics.roc_auc(probs, np.array([0, 1, 2, 1]), average=None)
    array([1., 1., 1.])
    """
    who = "roc_auc"
    if multi_class != "ovr":
        raise ValueError(f"{who}: multi_class must be 'ovr' (one-vs-rest; 'ovo' is not implemented); got "
                         f"{multi_class!r}")
    if average not in ("macro", "weighted", None):
        raise ValueError(f"{who}: average must be 'macro', 'weighted' or None; got {average!r}")
    s = _scores(who, scores)
    y = _auc_labels(who, labels, s)
    if _is_binary(s):
        _support(who, y, 2)
        return _binary_auc(_positive_scores(s), y == 1)
    _check_probabilities(who, s)
    support = _support(who, y, s.shape[1])
    per_class = np.array([_binary_auc(s[:, c], y == c) for c in range(s.shape[1])])
    if average is None:
        return per_class
    return float(np.average(per_class, weights=support if average == "weighted" else None))


def roc_curve(scores: Any, labels: Any, *, drop_intermediate: bool = True
              ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The receiver operating characteristic of binary scores, as scikit-learn's ``roc_curve``.

    Predicting class 1 where ``score >= thresholds[i]`` gives false positive rate ``fpr[i]``
    and true positive rate ``tpr[i]``. The thresholds are the distinct scores in decreasing
    order, after a first threshold ``inf`` for the point (0, 0).

    Parameters
    ----------
    scores : ndarray, shape (n,), (n, 1) or (n, 2)
        As for a binary :func:`roc_auc`; for two columns of logits the thresholds are
        differences of logits (column 1 minus column 0).
    labels : ndarray, shape (n,) or (n, 2)
        0 or 1, or one-hot rows; both classes must occur.
    drop_intermediate : bool, default True
        Drop the thresholds whose point lies on a straight (horizontal or vertical) segment
        between its neighbours, as scikit-learn does: the curve, and so its area, is unchanged.

    Returns
    -------
    fpr, tpr : ndarray of float64, shape (m,)
        Non-decreasing, from 0 to 1.
    thresholds : ndarray, shape (m,)
        Decreasing, in the scores' floating dtype (float64 for integer scores).

    Examples
    --------
    >>> import numpy as np
    >>> from funcnn import metrics
    >>> fpr, tpr, thresholds = metrics.roc_curve(np.array([0.1, 0.4, 0.35, 0.8]), np.array([0, 0, 1, 1]))
    >>> fpr, tpr
    (array([0. , 0. , 0.5, 0.5, 1. ]), array([0. , 0.5, 0.5, 1. , 1. ]))
    >>> thresholds
    array([ inf, 0.8 , 0.4 , 0.35, 0.1 ])
    """
    who = "roc_curve"
    s = _scores(who, scores)
    if not _is_binary(s):
        raise ValueError(f"{who}: scores of shape {s.shape} are multiclass; the curve is binary: pass scores[:, c] "
                         "and labels == c for class c against the rest")
    y = _auc_labels(who, labels, s)
    _support(who, y, 2)
    fps, tps, thresholds = _roc_counts(_positive_scores(s), y == 1)
    if drop_intermediate and fps.size > 2:
        corner = (np.diff(fps, 2) != 0) | (np.diff(tps, 2) != 0)
        keep = np.concatenate([[True], corner, [True]])
        fps, tps, thresholds = fps[keep], tps[keep], thresholds[keep]
    fpr = np.append(0, fps) / fps[-1]
    tpr = np.append(0, tps) / tps[-1]
    return fpr, tpr, np.concatenate([np.full(1, np.inf, thresholds.dtype), thresholds])
