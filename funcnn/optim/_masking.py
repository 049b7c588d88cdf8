"""Masking: apply a transformation to some leaves of the tree and pass the others through."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, NamedTuple

import numpy as np

from ..tree_util import check_same_structure, tree_flatten, tree_leaves, tree_unflatten
from ._base import GradientTransformation, Params, Updates
from ._checks import check_params, check_updates

__all__ = ["MaskedState", "masked"]


class MaskedState(NamedTuple):
    """State of :func:`masked`: the inner transformation's state over the masked-in leaves."""

    inner_state: Any


def masked(inner: GradientTransformation, mask: Any | Callable[[Params], Any]) -> GradientTransformation:
    """Apply ``inner`` only to the leaves where ``mask`` is True; pass the rest through.

    ``u_i <- inner(u)_i`` where ``mask_i``, else ``u_i``. The mask is static (Python
    bools), so which leaves are transformed is decided when tracing, not per value.

    Parameters
    ----------
    inner : GradientTransformation
        Sees a copy of the tree in which masked-out leaves are replaced by None
        (an empty subtree), so its state holds nothing for them.
    mask : pytree of bool, or callable
        A tree with the structure of the params and a bool per leaf, or a
        function returning one; it is called with the params in ``init`` and
        with the updates in ``update``.

    Returns
    -------
    GradientTransformation
        With state :class:`MaskedState`.

    Examples
    --------
    >>> import numpy as np
    >>> from funcnn.optim import scale
    >>> params = {"b": np.zeros(2), "w": np.zeros((2, 2))}
    >>> not_bias = lambda tree: {"b": False, "w": True}
    >>> t = masked(scale(0.0), not_bias)
    >>> updates, _ = t.update({"b": np.ones(2), "w": np.ones((2, 2))}, t.init(params))
    >>> updates["b"], float(updates["w"].sum())
    (array([1., 1.]), 0.0)
    """
    if not isinstance(inner, GradientTransformation):
        raise TypeError(f"masked: inner must be a GradientTransformation, got {type(inner).__name__}")

    def split(tree: Any) -> tuple[list[bool], list[Any], Any, Any]:
        """Return the mask flags, the tree's leaves, its treedef and the masked tree."""
        mask_tree = mask(tree) if callable(mask) else mask
        check_same_structure(tree, mask_tree, "masked", names=("the tree", "the mask"))
        flags = [_as_flag(m) for m in tree_leaves(mask_tree)]
        leaves, treedef = tree_flatten(tree)
        kept = tree_unflatten(treedef, [x if f else None for f, x in zip(flags, leaves)])
        return flags, leaves, treedef, kept

    def init_fn(params: Params) -> MaskedState:
        check_params(params, "masked")
        *_, kept = split(params)
        return MaskedState(inner_state=inner.init(kept))

    def update_fn(
        updates: Updates, state: MaskedState, params: Params | None = None
    ) -> tuple[Updates, MaskedState]:
        check_updates(updates, params, "masked")
        flags, leaves, treedef, kept = split(updates)
        kept_params = None
        if params is not None:
            p_leaves = tree_leaves(params)
            kept_params = tree_unflatten(treedef, [p if f else None for f, p in zip(flags, p_leaves)])
        new_kept, inner_state = inner.update(kept, state.inner_state, kept_params)
        new_iter = iter(tree_leaves(new_kept))
        out = [next(new_iter) if f else x for f, x in zip(flags, leaves)]
        return tree_unflatten(treedef, out), MaskedState(inner_state=inner_state)

    return GradientTransformation(init_fn, update_fn)


def _as_flag(m: Any) -> bool:
    if isinstance(m, (bool, np.bool_)):
        return bool(m)
    if isinstance(m, np.ndarray) and m.shape == () and m.dtype == np.bool_:
        return bool(m)
    raise TypeError(f"mask leaves must be bools (one per parameter array), got {m!r}")
