"""Loss functions, with the semantics of PyTorch's functional losses and JAX-style names.

Every loss is written with ``funcnn.numpy`` ops, so it is differentiable to any order,
and takes ``reduction``: ``"mean"`` (the default), ``"sum"`` or ``"none"`` (the loss per
element, or per example for the classification losses). Shapes are checked, never
broadcast silently: predictions and targets of different shapes, class labels outside
``[0, num_classes)`` and probabilities outside ``[0, 1]`` raise ``ValueError`` naming the
function, the argument and the shapes.

Numerics, as in PyTorch where it defines them: an empty batch gives nan with
``reduction="mean"`` (the mean of no losses), 0 with ``"sum"`` and an empty array with
``"none"``; integer inputs are converted to floating point first, to the dtype NumPy's
``exp`` gives them (int8 and uint8 to float16, int16 to float32, wider to float64), so
nothing wraps around; complex inputs raise ``TypeError``. The optax names at the end
(``softmax_cross_entropy``, ``l2_loss``...) return unreduced losses, as optax's do.

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
from funcnn.numpy._reductions import float_operand, refuse_complex

__all__ = [
    "binary_cross_entropy", "binary_cross_entropy_with_logits", "cross_entropy", "hinge", "huber",
    "kl_div", "l1", "mse", "nll",
    # optax's names
    "hinge_loss", "huber_loss", "kl_divergence", "l2_loss", "sigmoid_binary_cross_entropy",
    "softmax_cross_entropy", "softmax_cross_entropy_with_integer_labels", "squared_error",
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


def _labels(who: str, labels: Any) -> tuple[Any]:
    """Labels as an array, integers kept (they may be class indices); complex values refused."""
    (labels,) = _arrays(labels)
    refuse_complex(labels, who)
    return (labels,)


def _floats(who: str, *xs: Any) -> tuple[Any, ...]:
    """Lists and numbers as arrays, integers converted to floats before any arithmetic (as
    ``np.exp`` converts them: int8 to float16, int64 to float64); complex values refused."""
    return tuple(float_operand(x, who) for x in xs)


def _reduce(loss: Any, reduction: str, count: int | None = None) -> Any:
    if reduction == "none":
        return loss
    total = fnp.sum(loss)
    if reduction == "sum":
        return total
    n = int(np.prod(_shape(loss))) if count is None else count
    if n == 0:  # the mean of no losses is undefined: nan, as in PyTorch (0 would hide an empty batch)
        return total * math.nan
    return total / n


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
    predictions, targets = _floats("mse", predictions, targets)
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
    predictions, targets = _floats("l1", predictions, targets)
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
    predictions, targets = _floats("huber", predictions, targets)
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
    logits, labels = _floats(who, logits) + _labels(who, labels)
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
    log_probs, labels = _floats(who, log_probs) + _labels(who, labels)
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
    probs, targets = _floats(who, probs, targets)
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
    logits, targets = _floats(who, logits, targets)
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
    log_predictions, targets = _floats(who, log_predictions, targets)
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
    scores, labels = _floats(who, scores) + _labels(who, labels)
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


# --- optax's names -----------------------------------------------------------------------
#
# The losses of ``optax.losses`` that map onto the ones above, with optax's names, argument
# names and orders, and its semantics: one loss per element or per example, never reduced
# (reduce with ``.mean()`` or ``fnp.mean``). Shapes are checked as above, not broadcast.


def _optional_targets(predictions: Any, targets: Any) -> tuple[Any, Any]:
    """``targets``, or zeros of the shape and dtype of `predictions` when None (as in optax)."""
    predictions = fnp.asarray(predictions)
    if targets is None:
        targets = np.zeros(_shape(predictions), dtype_of(predictions))
    return predictions, targets


def squared_error(predictions: Any, targets: Any = None) -> Any:
    """``(predictions - targets)**2`` per element, as ``optax.squared_error``: :func:`mse` with
    ``reduction="none"``; `targets` default to zeros.

    Parameters
    ----------
    predictions : ndarray, any shape
    targets : ndarray, the shape of `predictions`, optional

    Returns
    -------
    ndarray, the shape of `predictions`

    Examples
    --------
    >>> import numpy as np
    >>> from funcnn import losses
    >>> losses.squared_error(np.array([1.0, 2.0]), np.array([0.0, 4.0]))
    array([1., 4.])
    """
    return mse(*_optional_targets(predictions, targets), reduction="none")


def l2_loss(predictions: Any, targets: Any = None) -> Any:
    """``0.5 * (predictions - targets)**2`` per element, as ``optax.l2_loss`` (half of
    :func:`squared_error`); `targets` default to zeros.

    Parameters
    ----------
    predictions : ndarray, any shape
    targets : ndarray, the shape of `predictions`, optional

    Returns
    -------
    ndarray, the shape of `predictions`

    Examples
    --------
    >>> import numpy as np
    >>> from funcnn import losses
    >>> losses.l2_loss(np.array([1.0, 2.0]), np.array([0.0, 4.0]))
    array([0.5, 2. ])
    >>> losses.l2_loss(np.array([3.0]))
    array([4.5])
    """
    return 0.5 * squared_error(predictions, targets)


def huber_loss(predictions: Any, targets: Any = None, *, delta: float = 1.0) -> Any:
    """The Huber loss per element, as ``optax.huber_loss``: :func:`huber` with
    ``reduction="none"``; `targets` default to zeros.

    Parameters
    ----------
    predictions : ndarray, any shape
    targets : ndarray, the shape of `predictions`, optional
    delta : float > 0, default 1.0 (keyword only, as in optax)

    Returns
    -------
    ndarray, the shape of `predictions`

    Examples
    --------
    >>> import numpy as np
    >>> from funcnn import losses
    >>> losses.huber_loss(np.array([0.5, 3.0]))
    array([0.125, 2.5  ])
    """
    return huber(*_optional_targets(predictions, targets), delta=delta, reduction="none")


def softmax_cross_entropy(logits: Any, labels: Any, axis: int = -1) -> Any:
    """Cross-entropy of ``softmax(logits)`` against probability `labels` (e.g. one-hot), per
    example, as ``optax.softmax_cross_entropy``: ``-sum(labels * log_softmax(logits), axis)``.

    Parameters
    ----------
    logits : ndarray, shape (..., num_classes)
    labels : ndarray, the shape of `logits`
        Probabilities in [0, 1] along `axis`.
    axis : int, default -1
        The class axis.

    Returns
    -------
    ndarray, the shape of `logits` without `axis`

    Examples
    --------
    >>> import numpy as np
    >>> from funcnn import losses
    >>> logits = np.array([[1.2, -0.8, -0.5], [0.9, -1.2, 1.1]])
    >>> losses.softmax_cross_entropy(logits, np.array([[1.0, 0.0, 0.0], [0.0, 1.0, 0.0]])).round(4)
    array([0.2761, 2.9518])
    """
    who = "softmax_cross_entropy"
    (labels,) = _labels(who, labels)
    if _shape(labels) != _shape(logits):
        raise _mismatch(who, "logits", logits, "labels", labels,
                        "the shape of logits (probabilities; for class indices use "
                        "softmax_cross_entropy_with_integer_labels)")
    return cross_entropy(logits, labels, reduction="none", axis=axis)


def softmax_cross_entropy_with_integer_labels(logits: Any, labels: Any, axis: int = -1) -> Any:
    """Cross-entropy of ``softmax(logits)`` against integer class `labels`, per example, as
    ``optax.softmax_cross_entropy_with_integer_labels``: ``-log_softmax(logits)[label]``.

    Parameters
    ----------
    logits : ndarray, shape (..., num_classes)
    labels : ndarray of int, the shape of `logits` without `axis`
        Class indices in ``[0, num_classes)``.
    axis : int, default -1
        The class axis.

    Returns
    -------
    ndarray, the shape of `labels`

    Examples
    --------
    >>> import numpy as np
    >>> from funcnn import losses
    >>> logits = np.array([[1.2, -0.8, -0.5], [0.9, -1.2, 1.1]])
    >>> losses.softmax_cross_entropy_with_integer_labels(logits, np.array([0, 1])).round(4)
    array([0.2761, 2.9518])
    """
    who = "softmax_cross_entropy_with_integer_labels"
    (labels,) = _labels(who, labels)
    if dtype_of(labels).kind not in "iu":
        raise TypeError(f"{who}: labels must be integer class indices; got dtype {dtype_of(labels)} "
                        "(for probabilities use softmax_cross_entropy)")
    return cross_entropy(logits, labels, reduction="none", axis=axis)


def sigmoid_binary_cross_entropy(logits: Any, labels: Any) -> Any:
    """Binary cross-entropy of ``sigmoid(logits)`` per element, as
    ``optax.sigmoid_binary_cross_entropy``: :func:`binary_cross_entropy_with_logits` with
    ``reduction="none"``.

    Parameters
    ----------
    logits : ndarray, any shape
    labels : ndarray, the shape of `logits`
        Probabilities in [0, 1] (0 or 1 for hard labels).

    Returns
    -------
    ndarray, the shape of `logits`

    Examples
    --------
    >>> import numpy as np
    >>> from funcnn import losses
    >>> losses.sigmoid_binary_cross_entropy(np.array([0.0, 2.0]), np.array([1.0, 0.0])).round(4)
    array([0.6931, 2.1269])
    """
    return binary_cross_entropy_with_logits(logits, labels, reduction="none")


def hinge_loss(predictor_outputs: Any, targets: Any) -> Any:
    """``max(0, 1 - predictor_outputs * targets)`` per element, as ``optax.hinge_loss``:
    binary :func:`hinge` with ``reduction="none"``.

    Parameters
    ----------
    predictor_outputs : ndarray, any shape
    targets : ndarray, the shape of `predictor_outputs`, each -1 or +1

    Returns
    -------
    ndarray, the shape of `predictor_outputs`

    Examples
    --------
    >>> import numpy as np
    >>> from funcnn import losses
    >>> losses.hinge_loss(np.array([0.3, -2.0]), np.array([1.0, -1.0]))
    array([0.7, 0. ])
    """
    who = "hinge_loss"
    predictor_outputs, targets = _arrays(predictor_outputs, targets)
    _check_same_shape(who, "predictor_outputs", predictor_outputs, "targets", targets)
    return hinge(predictor_outputs, targets, reduction="none")


def kl_divergence(log_predictions: Any, targets: Any, axis: int = -1) -> Any:
    """``KL(targets || predictions)`` per example, as ``optax.kl_divergence``: the pointwise
    terms of :func:`kl_div` summed over `axis`.

    Parameters
    ----------
    log_predictions : ndarray, shape (..., num_classes)
        Log-probabilities.
    targets : ndarray, the shape of `log_predictions`
        Probabilities in [0, 1].
    axis : int, default -1

    Returns
    -------
    ndarray, the shape of `log_predictions` without `axis`

    Examples
    --------
    >>> import numpy as np
    >>> from funcnn import losses
    >>> losses.kl_divergence(np.log(np.array([[0.25, 0.75]])), np.array([[0.5, 0.5]])).round(4)
    array([0.1438])
    """
    return fnp.sum(kl_div(log_predictions, targets, reduction="none"), axis=axis)
