"""The gradient-transformation type, ``chain`` and ``apply_updates``, plus shared helpers."""

from __future__ import annotations

import numbers
from collections.abc import Callable
from typing import Any, NamedTuple, Protocol

import numpy as np

from .._src.config import config
from ..tree_util import (
    check_same_structure, keystr, tree_flatten, tree_flatten_with_path, tree_map, tree_unflatten,
)

__all__ = [
    "EmptyState",
    "GradientTransformation",
    "OptState",
    "Params",
    "ScalarOrSchedule",
    "Schedule",
    "TransformInitFn",
    "TransformUpdateFn",
    "Updates",
    "apply_updates",
    "chain",
]

Params = Any
"""A pytree of floating-point arrays (the trainable parameters)."""
Updates = Any
"""A pytree with the structure of the parameters: gradients on the way in, steps on the way out."""
OptState = Any
"""A pytree of arrays and scalars (NamedTuples, tuples) carried from one step to the next."""
Schedule = Callable[[Any], Any]
"""A function of the step count (0, 1, 2, ...) returning a float."""
ScalarOrSchedule = float | Schedule


class TransformInitFn(Protocol):
    """``init(params) -> state``."""

    def __call__(self, params: Params) -> OptState: ...


class TransformUpdateFn(Protocol):
    """``update(updates, state, params=None) -> (updates, state)``."""

    def __call__(
        self, updates: Updates, state: OptState, params: Params | None = None
    ) -> tuple[Updates, OptState]: ...


class GradientTransformation(NamedTuple):
    """A pair of pure functions that turns gradients into parameter updates.

    Attributes
    ----------
    init : callable, ``init(params) -> state``
        Builds the initial state (moments, step counts, ...) for a pytree of
        parameters. The state is itself a pytree of arrays, so it can be saved
        with the parameters.
    update : callable, ``update(updates, state, params=None) -> (updates, state)``
        Transforms a pytree of gradients (or of updates from an earlier
        transformation) and returns the new updates with the next state. It
        never modifies its arguments. ``params`` is needed only by
        transformations that read the parameters, such as weight decay.

    Examples
    --------
    >>> import numpy as np
    >>> from funcnn.optim import sgd, apply_updates
    >>> opt = sgd(learning_rate=0.1)
    >>> params = {"w": np.array([1.0, 2.0])}
    >>> state = opt.init(params)
    >>> updates, state = opt.update({"w": np.array([1.0, -1.0])}, state, params)
    >>> apply_updates(params, updates)["w"]
    array([0.9, 2.1])
    """

    init: TransformInitFn
    update: TransformUpdateFn


class EmptyState(NamedTuple):
    """The state of a transformation that keeps nothing between steps."""


def chain(*transforms: GradientTransformation) -> GradientTransformation:
    """Compose transformations, applying them left to right.

    The state of the chain is a tuple holding each transformation's state.

    Parameters
    ----------
    *transforms : GradientTransformation
        Applied in order: the updates returned by one are the input of the next.

    Returns
    -------
    GradientTransformation

    Examples
    --------
    >>> import numpy as np
    >>> from funcnn.optim import chain, clip, scale
    >>> opt = chain(clip(1.0), scale(-0.5))
    >>> state = opt.init({"w": np.zeros(3)})
    >>> updates, state = opt.update({"w": np.array([-4.0, 0.5, 2.0])}, state)
    >>> updates["w"]
    array([ 0.5 , -0.25, -0.5 ])
    """
    for i, t in enumerate(transforms):
        if not isinstance(t, GradientTransformation):
            raise TypeError(
                f"chain: argument {i} is a {type(t).__name__}, not a GradientTransformation "
                "(did you pass the factory instead of calling it, e.g. `clip` for `clip(1.0)`?)"
            )

    def init_fn(params: Params) -> tuple[OptState, ...]:
        return tuple(t.init(params) for t in transforms)

    def update_fn(
        updates: Updates, state: OptState, params: Params | None = None
    ) -> tuple[Updates, tuple[OptState, ...]]:
        if not isinstance(state, tuple) or len(state) != len(transforms):
            raise ValueError(
                f"chain of {len(transforms)} transformations got a state that is not a tuple "
                f"of {len(transforms)} states; pass the state returned by this chain's init"
            )
        new_state = []
        for t, s in zip(transforms, state):
            updates, s = t.update(updates, s, params)
            new_state.append(s)
        return updates, tuple(new_state)

    return GradientTransformation(init_fn, update_fn)


def apply_updates(params: Params, updates: Updates) -> Params:
    """Add ``updates`` to ``params`` leaf by leaf, keeping each parameter's dtype.

    Parameters
    ----------
    params : pytree of ndarray
        Current parameters.
    updates : pytree of ndarray
        Same structure and leaf shapes as ``params`` (for example the output of
        an optimizer's ``update``).

    Returns
    -------
    pytree of ndarray
        New arrays ``params + updates``, each cast to its parameter's dtype. The
        inputs are not modified.

    Raises
    ------
    ValueError
        If the trees differ in structure, or a leaf's shape differs (naming the
        key path), instead of broadcasting silently.
    FloatingPointError
        With ``funcnn.config.update("debug_nans", True)``, if an update holds NaN
        or Inf (naming the key path). Otherwise NaNs propagate into the parameters.

    Examples
    --------
    >>> import numpy as np
    >>> params = {"b": np.zeros(2, dtype=np.float32), "w": np.ones((2, 2), dtype=np.float32)}
    >>> updates = {"b": np.array([0.5, -0.5]), "w": np.full((2, 2), 0.25)}
    >>> new = apply_updates(params, updates)
    >>> new["b"], new["w"].dtype
    (array([ 0.5, -0.5], dtype=float32), dtype('float32'))
    """
    p_leaves, treedef = tree_flatten(params)
    u_leaves, u_treedef = tree_flatten(updates)
    if u_treedef != treedef:
        check_same_structure(params, updates, "apply_updates", names=("params", "updates"))
    for i, (p, u) in enumerate(zip(p_leaves, u_leaves)):
        if np.shape(p) != np.shape(u):
            raise ValueError(
                f"apply_updates: param{_leaf_path(params, i)} has shape {np.shape(p)} but its "
                f"update has shape {np.shape(u)}"
            )
        if config.debug_nans and not np.all(np.isfinite(u)):
            raise FloatingPointError(
                f"debug_nans: the update for param{_leaf_path(params, i)} contains NaN or Inf")
    return tree_unflatten(treedef, [_add_keep_dtype(p, u) for p, u in zip(p_leaves, u_leaves)])


def _leaf_path(tree: Any, index: int) -> str:
    """The key path of ``tree``'s leaf number ``index``, for error messages."""
    return keystr(tree_flatten_with_path(tree)[0][index][0])


def _add_keep_dtype(p: Any, u: Any) -> np.ndarray:
    p = np.asarray(p)
    return np.asarray(p + u, dtype=p.dtype)


# ---------------------------------------------------------------------------
# helpers shared by the transformations, the aliases and the schedules


def cast_like(value: Any, leaf: Any) -> np.ndarray:
    """``value`` as a 0-d array of ``leaf``'s dtype (so float32 leaves stay float32)."""
    return np.asarray(value, dtype=np.asarray(leaf).dtype)


def zeros_like_tree(params: Params, fill: float = 0.0) -> Any:
    """A tree of arrays shaped and typed like ``params`` filled with ``fill``."""
    return tree_map(lambda p: np.full_like(np.asarray(p), fill), params)


def new_count() -> np.ndarray:
    """A step count of zero, as an int32 array so it is saved with the state."""
    return np.asarray(0, dtype=np.int32)


def next_count(count: Any) -> np.ndarray:
    """``count + 1``, stopping at the int32 maximum instead of wrapping round."""
    c = int(count)
    return np.asarray(min(c + 1, np.iinfo(np.int32).max), dtype=np.int32)


def check_state(state_tree: Any, updates: Updates, owner: str) -> None:
    """Raise ValueError (naming the key path) if ``updates`` does not fit the state."""
    check_same_structure(
        state_tree, updates, f"{owner} update", names=("the optimizer state", "the updates")
    )


def _as_real(name: str, value: Any) -> float:
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        raise TypeError(f"{name} must be a real number, got {value!r}")
    v = float(value)
    if np.isnan(v):
        raise ValueError(f"{name} must be a number, got {value!r}")
    return v


def check_positive(name: str, value: Any) -> float:
    """``value`` as a float; ValueError naming ``name`` unless it is > 0."""
    v = _as_real(name, value)
    if not v > 0:
        raise ValueError(f"{name} must be > 0, got {value!r}")
    return v


def check_non_negative(name: str, value: Any) -> float:
    """``value`` as a float; ValueError naming ``name`` unless it is >= 0."""
    v = _as_real(name, value)
    if not v >= 0:
        raise ValueError(f"{name} must be >= 0, got {value!r}")
    return v


def check_decay_rate(name: str, value: Any) -> float:
    """``value`` as a float; ValueError naming ``name`` unless 0 <= value < 1."""
    v = _as_real(name, value)
    if not 0 <= v < 1:
        raise ValueError(f"{name} must be in [0, 1), got {value!r}")
    return v


def check_learning_rate(value: Any, name: str = "learning_rate") -> ScalarOrSchedule:
    """A schedule is returned as is; a number must be > 0."""
    if callable(value):
        return value
    return check_positive(name, value)
