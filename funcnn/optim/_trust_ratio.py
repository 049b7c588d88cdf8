"""Layer-wise trust ratio: rescale each leaf's update by ``||theta|| / ||u||`` (LAMB, LARS)."""

from __future__ import annotations

from typing import Any

import funcnn.numpy as fnp

from ..tree_util import tree_map
from ._base import EmptyState, GradientTransformation, Params, Scalar, Updates, stateless
from ._checks import check_non_negative
from ._clipping import global_norm
from ._numerics import cast_like

__all__ = ["ScaleByTrustRatioState", "scale_by_trust_ratio"]

ScaleByTrustRatioState = EmptyState


def scale_by_trust_ratio(
    min_norm: Scalar = 0.0, trust_coefficient: Scalar = 1.0, eps: Scalar = 0.0
) -> GradientTransformation:
    """Scale each leaf's update by the ratio of the parameter's norm to the update's.

    For each leaf, with norms over all its elements (computed in float64)::

        p = max(||theta||, min_norm),   q = max(||u||, min_norm)
        u <- u * (trust_coefficient * p / (q + eps))    if p > 0 and q > 0,   else u

    Parameters
    ----------
    min_norm : float, default 0
        Lower bound of both norms, >= 0.
    trust_coefficient : float, default 1
        Multiplies the ratio, >= 0.
    eps : float, default 0
        Added to the update's norm, >= 0.

    Returns
    -------
    GradientTransformation
        Stateless; its ``update`` needs ``params``.

    Examples
    --------
    >>> import numpy as np
    >>> t = scale_by_trust_ratio()
    >>> params = {"a": np.array([3.0, 4.0]), "b": np.zeros(2)}
    >>> updates, _ = t.update({"a": np.array([0.0, 0.5]), "b": np.ones(2)}, t.init(params), params)
    >>> updates["a"], updates["b"]   # ||a|| / ||u_a|| = 5 / 0.5; b's norm is 0: unchanged
    (array([0., 5.]), array([1., 1.]))
    """
    min_norm = check_non_negative("min_norm", min_norm)
    trust_coefficient = check_non_negative("trust_coefficient", trust_coefficient)
    eps = check_non_negative("eps", eps)

    def scale_leaf(u: Any, p: Any) -> Any:
        p_norm = fnp.maximum(global_norm(p), min_norm)
        u_norm = fnp.maximum(global_norm(u), min_norm)
        trusted = fnp.logical_and(p_norm > 0, u_norm > 0)
        # the inner where keeps 0 / 0 out of sight (and out of the derivatives)
        ratio = fnp.where(trusted, trust_coefficient * p_norm / fnp.where(trusted, u_norm + eps, 1.0), 1.0)
        return u * cast_like(ratio, u)

    def scale_tree(updates: Updates, params: Params | None) -> Updates:
        if params is None:
            raise ValueError("scale_by_trust_ratio needs the parameters: call update(updates, state, params)")
        return tree_map(scale_leaf, updates, params)

    return stateless(scale_tree, "scale_by_trust_ratio")
