"""Loss functions, with the semantics of PyTorch's functional losses and JAX-style names.

Every loss is written with ``funcnn.numpy`` ops, so it is differentiable to any order,
and takes ``reduction``: ``"mean"`` (the default), ``"sum"`` or ``"none"`` (the loss per
element, or per example for the classification losses). Shapes are checked, never
broadcast silently: predictions and targets of different shapes, class labels outside
``[0, num_classes)`` and probabilities outside ``[0, 1]`` raise ``ValueError`` naming the
function, the argument and the shapes.

Examples
--------
>>> import numpy as np
>>> from funcnn import losses
>>> logits = np.array([[2.0, 0.0, -1.0], [0.0, 1.0, 0.0]])
>>> round(float(losses.cross_entropy(logits, np.array([0, 1]))), 6)
0.360645
"""
from __future__ import annotations

import math
from typing import Any

import numpy as np

import funcnn.numpy as fnp
from funcnn.extend import dtype_of, shape_of
from funcnn.nn._activations import log_softmax, relu, softplus
from funcnn.nn._checks import check_values

__all__ = [
    "binary_cross_entropy", "binary_cross_entropy_with_logits", "cross_entropy", "hinge", "huber",
    "kl_div", "l1", "mse", "nll",
]

_REDUCTIONS = ("mean", "sum", "none")
_LOG_FLOOR = -100.0  # PyTorch's binary_cross_entropy clamps log(p) and log(1 - p) here


# --- checks ------------------------------------------------------------------------------


def _check_reduction(reduction: str, who: str, allowed: tuple[str, ...] = _REDUCTIONS) -> None:
    if reduction not in allowed:
        raise ValueError(f"{who}: reduction must be one of {', '.join(map(repr, allowed))}; "
                         f"got {reduction!r}")


def _shape(x: Any) -> tuple[int, ...]:
    return tuple(shape_of(x))


def _arrays(*xs: Any) -> tuple[Any, ...]:
    """Lists and numbers as arrays; arrays and traced values unchanged."""
    return tuple(x if hasattr(x, "shape") else np.asarray(x) for x in xs)


def _mismatch(who: str, a_name: str, a: Any, b_name: str, b: Any, expected: str) -> ValueError:
    sa, sb = _shape(a), _shape(b)
    batch = ""
    if sa and sb and sa[0] != sb[0]:
        batch = f": their batch sizes differ ({sa[0]} vs {sb[0]})"
    return ValueError(f"{who}: {a_name} has shape {sa} but {b_name} has shape {sb}{batch}; "
                      f"{b_name} must have {expected}")


def _check_same_shape(who: str, a_name: str, a: Any, b_name: str, b: Any) -> None:
    if _shape(a) != _shape(b):
        raise _mismatch(who, a_name, a, b_name, b, f"the shape of {a_name} (no broadcasting)")


def _check_probabilities(who: str, name: str, p: Any) -> Any:
    """``p``, checked to hold probabilities (now, or when a graph of this is replayed)."""
    return check_values(p, "probabilities", f"{who}: {name} must hold probabilities in [0, 1]",
                        f" ({name} has shape {_shape(p)})")


def _class_axis_last(who: str, logits: Any, axis: int) -> Any:
    ndim = len(_shape(logits))
    if ndim == 0 or not -ndim <= axis < ndim:
        raise ValueError(f"{who}: axis {axis} is not an axis of logits of shape {_shape(logits)}")
    return logits if axis % ndim == ndim - 1 else fnp.moveaxis(logits, axis, -1)


def _targets(who: str, logits: Any, labels: Any, axis: int, name: str = "logits") -> tuple[Any, Any, str]:
    """``(logits, labels, kind)`` with the class axis last; ``kind`` is ``"index"`` for integer
    class labels (checked to lie in ``[0, C)``) or ``"dense"`` for one-hot/probability targets."""
    original = logits
    logits = _class_axis_last(who, logits, axis)
    shape = _shape(logits)
    lab_shape = _shape(labels)
    classes = shape[-1]
    integer = np.dtype(dtype_of(labels)).kind in "iu"
    if integer and lab_shape == shape[:-1]:
        index = check_values(labels, "indices", f"{who}: labels must be class indices in [0, {classes}) for "
                             f"{name} of shape {_shape(original)}", f" (labels shape {lab_shape})", hi=classes)
        return logits, index, "index"
    dense = labels if lab_shape == _shape(original) else None
    if dense is not None:
        targets = _class_axis_last(who, labels, axis)
        targets = _check_probabilities(who, "labels (probability or one-hot targets)", targets)
        if integer:
            targets = fnp.astype(targets, dtype_of(logits))
        return logits, targets, "dense"
    if lab_shape == shape[:-1]:
        raise ValueError(f"{who}: labels of shape {lab_shape} look like class indices but have dtype "
                         f"{dtype_of(labels)}; cast them with labels.astype(int)")
    expected = (f"shape {shape[:-1]} (integer class indices) or {_shape(original)} "
                "(probabilities or one-hot)")
    raise _mismatch(who, name, original, "labels", labels, expected)


def _reduce(loss: Any, reduction: str, count: int | None = None) -> Any:
    if reduction == "none":
        return loss
    total = fnp.sum(loss)
    if reduction == "sum":
        return total
    n = int(np.prod(_shape(loss))) if count is None else count
    return total / max(n, 1)


# --- regression --------------------------------------------------------------------------


def mse(predictions: Any, targets: Any, reduction: str = "mean") -> Any:
    """Squared error ``(predictions - targets)**2`` (``torch.nn.functional.mse_loss``).

    Parameters
    ----------
    predictions, targets : ndarray, one shape
    reduction : {"mean", "sum", "none"}, default "mean"

    Returns
    -------
    ndarray
        A scalar, or the shape of `predictions` with ``reduction="none"``.

    Examples
    --------
    >>> import numpy as np
    >>> from funcnn import losses
    >>> float(losses.mse(np.array([1.0, 2.0]), np.array([0.0, 4.0])))
    2.5
    """
    _check_reduction(reduction, "mse")
    predictions, targets = _arrays(predictions, targets)
    _check_same_shape("mse", "predictions", predictions, "targets", targets)
    return _reduce(fnp.square(predictions - targets), reduction)


def l1(predictions: Any, targets: Any, reduction: str = "mean") -> Any:
    """Absolute error ``|predictions - targets|`` (``torch.nn.functional.l1_loss``); its
    derivative where they are equal is 0.

    Parameters
    ----------
    predictions, targets : ndarray, one shape
    reduction : {"mean", "sum", "none"}, default "mean"

    Returns
    -------
    ndarray
        A scalar, or the shape of `predictions` with ``reduction="none"``.

    Examples
    --------
    >>> import numpy as np
    >>> from funcnn import losses
    >>> float(losses.l1(np.array([1.0, 2.0]), np.array([0.0, 4.0])))
    1.5
    """
    _check_reduction(reduction, "l1")
    predictions, targets = _arrays(predictions, targets)
    _check_same_shape("l1", "predictions", predictions, "targets", targets)
    return _reduce(fnp.abs(predictions - targets), reduction)


def huber(predictions: Any, targets: Any, delta: float = 1.0, reduction: str = "mean") -> Any:
    """Huber loss (``torch.nn.functional.huber_loss``): with ``d = predictions - targets``,
    ``d**2 / 2`` where ``|d| < delta`` and ``delta * (|d| - delta / 2)`` elsewhere.

    Parameters
    ----------
    predictions, targets : ndarray, one shape
    delta : float > 0, default 1.0
    reduction : {"mean", "sum", "none"}, default "mean"

    Returns
    -------
    ndarray
        A scalar, or the shape of `predictions` with ``reduction="none"``.

    Examples
    --------
    >>> import numpy as np
    >>> from funcnn import losses
    >>> losses.huber(np.array([0.5, 3.0]), np.zeros(2), reduction="none")
    array([0.125, 2.5  ])
    """
    _check_reduction(reduction, "huber")
    predictions, targets = _arrays(predictions, targets)
    _check_same_shape("huber", "predictions", predictions, "targets", targets)
    if not delta > 0:
        raise ValueError(f"huber: delta must be positive; got {delta!r}")
    delta = float(delta)
    d = predictions - targets
    size = fnp.abs(d)
    loss = fnp.where(size < delta, 0.5 * d * d, delta * (size - 0.5 * delta))
    return _reduce(loss, reduction)


# --- classification ----------------------------------------------------------------------


def cross_entropy(logits: Any, labels: Any, label_smoothing: float = 0.0, reduction: str = "mean",
                  axis: int = -1) -> Any:
    """Softmax cross-entropy between `logits` and class labels or target distributions
    (``torch.nn.functional.cross_entropy``), computed with a stable ``log_softmax``.

    Parameters
    ----------
    logits : ndarray, shape (..., num_classes)
        Unnormalised scores, classes along `axis`.
    labels : ndarray
        Integer class indices of shape ``logits.shape`` without the class axis, or
        probability (e.g. one-hot) targets of the shape of `logits`, entries in [0, 1].
    label_smoothing : float in [0, 1], default 0.0
        The targets become ``(1 - label_smoothing) * targets + label_smoothing / num_classes``.
    reduction : {"mean", "sum", "none"}, default "mean"
        ``"mean"`` averages over the examples (every position but the class axis).
    axis : int, default -1
        The class axis (``axis=1`` for PyTorch's ``(N, C, d1, ...)`` layout).

    Returns
    -------
    ndarray
        A scalar, or the loss per example with ``reduction="none"``.

    Examples
    --------
    >>> import numpy as np
    >>> from funcnn import losses
    >>> logits = np.array([[0.0, 0.0], [10.0, 0.0]])
    >>> losses.cross_entropy(logits, np.array([1, 0]), reduction="none").round(4)
    array([0.6931, 0.    ])
    >>> float(losses.cross_entropy(logits, np.array([[0.0, 1.0], [1.0, 0.0]]))) # doctest: +ELLIPSIS
    0.34659...
    """
    who = "cross_entropy"
    _check_reduction(reduction, who)
    logits, labels = _arrays(logits, labels)
    if not 0.0 <= label_smoothing <= 1.0:
        raise ValueError(f"{who}: label_smoothing must lie in [0, 1]; got {label_smoothing!r}")
    logits, targets, kind = _targets(who, logits, labels, axis)
    return _cross_entropy_from_log_probs(log_softmax(logits, axis=-1), targets, kind,
                                         float(label_smoothing), reduction)


def _cross_entropy_from_log_probs(log_probs: Any, targets: Any, kind: str, smoothing: float,
                                  reduction: str) -> Any:
    classes = _shape(log_probs)[-1]
    if kind == "index":
        picked = fnp.take_along_axis(log_probs, targets[..., None], axis=-1)[..., 0]
        loss = -picked
        if smoothing:
            loss = (1.0 - smoothing) * loss - (smoothing / classes) * fnp.sum(log_probs, axis=-1)
    else:
        if smoothing:
            targets = (1.0 - smoothing) * targets + smoothing / classes
        loss = -fnp.sum(targets * log_probs, axis=-1)
    return _reduce(loss, reduction)


def nll(log_probs: Any, labels: Any, reduction: str = "mean", axis: int = -1) -> Any:
    """Negative log-likelihood of class labels given log-probabilities
    (``torch.nn.functional.nll_loss``): ``-log_probs[label]``, or ``-sum(targets * log_probs)``
    for probability targets.

    Parameters
    ----------
    log_probs : ndarray, shape (..., num_classes)
        Log-probabilities (e.g. from :func:`funcnn.nn.log_softmax`), classes along `axis`.
    labels : ndarray
        Integer class indices (`log_probs`' shape without the class axis) or probability
        targets (the shape of `log_probs`).
    reduction : {"mean", "sum", "none"}, default "mean"
    axis : int, default -1

    Returns
    -------
    ndarray
        A scalar, or the loss per example with ``reduction="none"``.

    Examples
    --------
    >>> import numpy as np
    >>> from funcnn import losses
    >>> log_probs = np.log(np.array([[0.5, 0.5], [0.1, 0.9]]))
    >>> losses.nll(log_probs, np.array([0, 1]), reduction="none").round(6)
    array([0.693147, 0.105361])
    """
    who = "nll"
    _check_reduction(reduction, who)
    log_probs, labels = _arrays(log_probs, labels)
    log_probs, targets, kind = _targets(who, log_probs, labels, axis, name="log_probs")
    return _cross_entropy_from_log_probs(log_probs, targets, kind, 0.0, reduction)


def _clamped_log(p: Any) -> Any:
    """``max(log(p), -100)``, without evaluating ``log(0)``."""
    ok = p > math.exp(_LOG_FLOOR)
    return fnp.where(ok, fnp.log(fnp.where(ok, p, 1.0)), _LOG_FLOOR)


def _clamped_log1m(p: Any) -> Any:
    """``max(log(1 - p), -100)``, without evaluating ``log(0)``."""
    ok = 1.0 - p > math.exp(_LOG_FLOOR)
    return fnp.where(ok, fnp.log1p(-fnp.where(ok, p, 0.0)), _LOG_FLOOR)


def binary_cross_entropy(probs: Any, targets: Any, reduction: str = "mean") -> Any:
    """Binary cross-entropy of probabilities (``torch.nn.functional.binary_cross_entropy``):
    ``-(t * log(p) + (1 - t) * log(1 - p))``, each log clamped below at -100 as in PyTorch,
    so ``p = 0`` or ``1`` gives a finite loss (and, where a clamp is active, a zero
    derivative). Prefer
    :func:`binary_cross_entropy_with_logits`, which is stable without clamping.

    Parameters
    ----------
    probs : ndarray, entries in [0, 1]
    targets : ndarray, the shape of `probs`, entries in [0, 1]
    reduction : {"mean", "sum", "none"}, default "mean"

    Returns
    -------
    ndarray
        A scalar, or the shape of `probs` with ``reduction="none"``.

    Examples
    --------
    >>> import numpy as np
    >>> from funcnn import losses
    >>> losses.binary_cross_entropy(np.array([0.9, 0.0]), np.array([1.0, 1.0]), reduction="none").round(6)
    array([  0.105361, 100.      ])
    """
    who = "binary_cross_entropy"
    _check_reduction(reduction, who)
    probs, targets = _arrays(probs, targets)
    _check_same_shape(who, "probs", probs, "targets", targets)
    probs = _check_probabilities(who, "probs", probs)
    targets = _check_probabilities(who, "targets", targets)
    loss = -(targets * _clamped_log(probs) + (1.0 - targets) * _clamped_log1m(probs))
    return _reduce(loss, reduction)


def binary_cross_entropy_with_logits(logits: Any, targets: Any, reduction: str = "mean",
                                     pos_weight: Any = None) -> Any:
    """Binary cross-entropy of ``sigmoid(logits)``, computed from the logits
    (``torch.nn.functional.binary_cross_entropy_with_logits``):
    ``pos_weight * t * softplus(-x) + (1 - t) * softplus(x)``, finite for any logit.

    Parameters
    ----------
    logits : ndarray
    targets : ndarray, the shape of `logits`, entries in [0, 1]
    reduction : {"mean", "sum", "none"}, default "mean"
    pos_weight : ndarray broadcastable to `logits`, optional
        The weight of positive examples (per class, along the last axis).

    Returns
    -------
    ndarray
        A scalar, or the shape of `logits` with ``reduction="none"``.

    Examples
    --------
    >>> import numpy as np
    >>> from funcnn import losses
    >>> x = np.array([1e4, -1e4, 0.0], np.float32)
    >>> losses.binary_cross_entropy_with_logits(x, np.array([1.0, 1.0, 0.0], np.float32), reduction="none")
    array([0.000000e+00, 1.000000e+04, 6.931472e-01], dtype=float32)
    """
    who = "binary_cross_entropy_with_logits"
    _check_reduction(reduction, who)
    logits, targets = _arrays(logits, targets)
    _check_same_shape(who, "logits", logits, "targets", targets)
    targets = _check_probabilities(who, "targets", targets)
    positive = targets * softplus(-logits)
    if pos_weight is not None:
        positive = pos_weight * positive
    loss = positive + (1.0 - targets) * softplus(logits)
    return _reduce(loss, reduction)


def kl_div(log_predictions: Any, targets: Any, reduction: str = "batchmean",
           log_target: bool = False) -> Any:
    """Kullback-Leibler divergence ``KL(targets || predictions)``, as
    ``torch.nn.functional.kl_div``: pointwise ``t * (log(t) - log_predictions)``, 0 where
    ``t = 0``.

    Parameters
    ----------
    log_predictions : ndarray, shape (batch, ...)
        Log-probabilities.
    targets : ndarray, the shape of `log_predictions`
        Probabilities in [0, 1], or log-probabilities with ``log_target=True``.
    reduction : {"batchmean", "mean", "sum", "none"}, default "batchmean"
        ``"batchmean"`` (the sum divided by the batch size) is the divergence per example;
        it is the default here, where PyTorch's default ``"mean"`` divides by the number of
        elements.
    log_target : bool, default False

    Returns
    -------
    ndarray
        A scalar, or the pointwise terms with ``reduction="none"``.

    Examples
    --------
    >>> import numpy as np
    >>> from funcnn import losses
    >>> p = np.array([[0.5, 0.5]])
    >>> float(losses.kl_div(np.log(np.array([[0.25, 0.75]])), p))  # doctest: +ELLIPSIS
    0.1438...
    """
    who = "kl_div"
    _check_reduction(reduction, who, ("batchmean",) + _REDUCTIONS)
    log_predictions, targets = _arrays(log_predictions, targets)
    _check_same_shape(who, "log_predictions", log_predictions, "targets", targets)
    if log_target:
        loss = fnp.exp(targets) * (targets - log_predictions)
    else:
        targets = _check_probabilities(who, "targets", targets)
        positive = targets > 0
        t_log_t = fnp.where(positive, targets * fnp.log(fnp.where(positive, targets, 1.0)), 0.0)
        loss = t_log_t - targets * log_predictions
    if reduction == "batchmean":
        shape = _shape(loss)
        return _reduce(loss, "mean", count=shape[0] if shape else 1)
    return _reduce(loss, reduction)


def hinge(scores: Any, labels: Any, margin: float = 1.0, reduction: str = "mean") -> Any:
    """Hinge loss, binary or multiclass.

    * Binary: `labels` of the shape of `scores`, each -1 or +1; the loss is
      ``max(0, margin - labels * scores)`` per element.
    * Multiclass (``torch.nn.functional.multi_margin_loss``): integer `labels` of shape
      ``scores.shape[:-1]``; per example ``sum over j != y of max(0, margin - s_y + s_j)``,
      divided by the number of classes.

    The derivative at the hinge is 0 (as for :func:`funcnn.nn.relu`).

    Parameters
    ----------
    scores : ndarray, shape (...) or (..., num_classes)
    labels : ndarray
    margin : float, default 1.0
    reduction : {"mean", "sum", "none"}, default "mean"

    Returns
    -------
    ndarray
        A scalar, or the loss per element (binary) or per example (multiclass).

    Examples
    --------
    >>> import numpy as np
    >>> from funcnn import losses
    >>> losses.hinge(np.array([0.3, -2.0]), np.array([1, -1]), reduction="none")
    array([0.7, 0. ])
    >>> float(losses.hinge(np.array([[1.0, 0.5, -1.0]]), np.array([0])))  # (0.5 + 0) / 3 classes
    0.16666666666666666
    """
    who = "hinge"
    _check_reduction(reduction, who)
    scores, labels = _arrays(scores, labels)
    margin = float(margin)
    s_shape, l_shape = _shape(scores), _shape(labels)
    if s_shape == l_shape:
        labels = check_values(labels, "signs", f"{who}: binary labels (the shape of scores, {s_shape}) must be "
                              "-1 or +1; for 0/1 labels pass 2 * labels - 1")
        return _reduce(relu(margin - labels * scores), reduction)
    if not s_shape or l_shape != s_shape[:-1]:
        raise _mismatch(who, "scores", scores, "labels", labels,
                        f"shape {s_shape} (binary, -1 or +1) or {s_shape[:-1]} (class indices)")
    _, index, kind = _targets(who, scores, labels, -1, name="scores")
    if kind != "index":
        raise ValueError(f"{who}: multiclass labels must be integer class indices; got dtype "
                         f"{dtype_of(labels)}")
    classes = s_shape[-1]
    true_score = fnp.take_along_axis(scores, index[..., None], axis=-1)
    violations = relu(margin - true_score + scores)
    others = fnp.not_equal(index[..., None], np.arange(classes))  # the true class does not count
    loss = fnp.sum(fnp.where(others, violations, 0.0), axis=-1) / classes
    return _reduce(loss, reduction)
