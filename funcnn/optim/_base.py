"""The gradient-transformation type, ``chain``, ``apply_updates`` and the type aliases."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, NamedTuple, Protocol

import funcnn.numpy as fnp
from funcnn import config
from funcnn.extend import ConcretizationError, Tracer, dtype_of, shape_of

from ..tree_util import check_same_structure, tree_flatten, tree_unflatten
from ._checks import check_params, check_updates, leaf_path

__all__ = [
    "EmptyState",
    "GradientTransformation",
    "OptState",
    "Params",
    "Scalar",
    "ScalarOrSchedule",
    "Schedule",
    "TransformInitFn",
    "TransformUpdateFn",
    "Updates",
    "apply_updates",
    "chain",
    "stateless",
]

Params = Any
"""A pytree of floating-point arrays (the trainable parameters)."""
Updates = Any
"""A pytree with the structure of the parameters: gradients on the way in, steps on the way out."""
OptState = Any
"""A pytree of arrays and scalars (NamedTuples, tuples) carried from one step to the next."""
Schedule = Callable[[Any], Any]
"""A function of the step count (0, 1, 2, ...) returning a float (traced if the count is)."""
Scalar = float | Tracer
"""A hyper-parameter: a Python float, or a traced 0-d value (under ``grad`` or ``make_graph``)."""
ScalarOrSchedule = Scalar | Schedule


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

    The ``init`` and ``update`` of every transformation in ``funcnn.optim`` check
    their arguments first, reading only structures, shapes and dtypes: an integer
    or bool leaf raises ``TypeError``, and a gradient whose tree or shape differs
    from the parameters' (or the state's) raises ``ValueError``, each naming the
    key path, instead of returning wrong numbers.

    Attributes
    ----------
    init : callable, ``init(params) -> state``
        Builds the initial state (moments, step counts, ...) for a pytree of
        parameters. The state is itself a pytree of arrays, so it can be saved
        with the parameters.
    update : callable, ``update(updates, state, params=None) -> (updates, state)``
        Transforms a pytree of gradients (or of updates from an earlier
        transformation) and returns the new updates with the next state. It
        never modifies its arguments, and is written with ``funcnn.numpy``
        operations, so it can be differentiated (``funcnn.grad``) and captured
        in a graph (``funcnn.make_graph``). ``params`` is needed only by
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


def stateless(fn: Callable[[Updates, Params | None], Updates], name: str) -> GradientTransformation:
    """A transformation with no state whose update is ``fn(updates, params)``.

    ``name`` starts its error messages: its ``init`` and ``update`` check their
    arguments as every transformation's do (see ``check_updates``).
    """

    def init_fn(params: Params) -> EmptyState:
        check_params(params, name)
        return EmptyState()

    def update_fn(
        updates: Updates, state: OptState, params: Params | None = None
    ) -> tuple[Updates, EmptyState]:
        check_updates(updates, params, name)
        return fn(updates, params), state

    return GradientTransformation(init_fn, update_fn)


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

    ``theta <- theta + u``, then cast to the dtype of ``theta``.

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
        Inside ``make_graph`` there are no values to check yet: the replay checks
        each operation's result instead.

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
        if shape_of(p) != shape_of(u):
            raise ValueError(
                f"apply_updates: param{leaf_path(params, i)} has shape {shape_of(p)} but its "
                f"update has shape {shape_of(u)}"
            )
        if config.debug_nans and _holds_non_finite(u):
            raise FloatingPointError(
                f"debug_nans: the update for param{leaf_path(params, i)} contains NaN or Inf")
    return tree_unflatten(treedef, [fnp.asarray(p + u, dtype_of(p)) for p, u in zip(p_leaves, u_leaves)])


def _holds_non_finite(u: Any) -> bool:
    all_finite = fnp.all(fnp.isfinite(u))
    try:
        return not all_finite
    except ConcretizationError:  # no data while tracing a graph: the replay checks each result
        return False
