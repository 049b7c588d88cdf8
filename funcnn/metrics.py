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
``threshold=0.0`` for logits.

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

__all__ = ["accuracy", "confusion_matrix", "precision_recall_f1", "top_k_accuracy"]


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
    average : {"macro", "micro", "binary", None}, default "macro"
        ``"macro"``: the unweighted mean of the per-class scores. ``"micro"``: the scores of
        the pooled counts (for single-label data all three equal the accuracy).
        ``"binary"``: the scores of class 1. ``None``: one score per class.
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
    """
    who = "precision_recall_f1"
    if average not in ("macro", "micro", "binary", None):
        raise ValueError(f"{who}: average must be 'macro', 'micro', 'binary' or None; got {average!r}")
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
    return float(np.mean(precision)), float(np.mean(recall)), float(np.mean(f1))
