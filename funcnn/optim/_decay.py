"""Weight decay: add a multiple of the parameters to the updates."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from ..tree_util import tree_map
from ._base import EmptyState, GradientTransformation, Params, Scalar, Updates, stateless
from ._checks import check_non_negative
from ._masking import masked
from ._numerics import cast_like, keep_dtype

__all__ = ["AddDecayedWeightsState", "add_decayed_weights"]

AddDecayedWeightsState = EmptyState


def add_decayed_weights(
    weight_decay: Scalar = 0.0, mask: Any | Callable[[Params], Any] | None = None
) -> GradientTransformation:
    """Add ``weight_decay * params`` to the updates.

    ``u <- u + weight_decay * theta``. Placed before an adaptive scaling this is
    L2 regularisation; placed after it (just before the learning rate) it is
    decoupled weight decay as in AdamW.

    Parameters
    ----------
    weight_decay : float
        Coefficient, >= 0.
    mask : pytree of bool or callable, optional
        Decay only the leaves where the mask is True (see :func:`masked`).

    Returns
    -------
    GradientTransformation
        Stateless; its ``update`` needs ``params``.

    Examples
    --------
    >>> import numpy as np
    >>> params = {"b": np.array([1.0]), "w": np.array([2.0])}
    >>> t = add_decayed_weights(0.1, mask={"b": False, "w": True})
    >>> updates, _ = t.update({"b": np.zeros(1), "w": np.zeros(1)}, t.init(params), params)
    >>> updates["b"], updates["w"]
    (array([0.]), array([0.2]))
    """
    weight_decay = check_non_negative("weight_decay", weight_decay)

    def decay(updates: Updates, params: Params | None) -> Updates:
        if params is None:
            raise ValueError("add_decayed_weights needs the parameters: call update(updates, state, params)")
        return tree_map(lambda u, p: keep_dtype(u + cast_like(weight_decay, u) * p, u), updates, params)

    inner = stateless(decay, "add_decayed_weights")
    return inner if mask is None else masked(inner, mask)
