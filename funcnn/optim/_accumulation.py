"""Gradient accumulation: ``MultiSteps`` runs an optimizer once every k mini-steps."""

from __future__ import annotations

import numbers
from collections.abc import Callable
from typing import Any, NamedTuple

import funcnn.numpy as fnp
from funcnn import lax

from ..tree_util import tree_map
from ._base import GradientTransformation, Params, Updates
from ._checks import check_params, check_updates
from ._numerics import as_float64, cast_like, full_like_tree, keep_dtype, new_count, next_count

__all__ = ["MultiSteps", "MultiStepsState"]


class MultiStepsState(NamedTuple):
    """State of :class:`MultiSteps`.

    ``mini_step`` (int32) counts the gradients accumulated since the last update;
    ``gradient_step`` (int32) counts the updates of the inner optimizer, whose state is
    ``inner_opt_state``; ``acc_grads`` holds the accumulated gradients.
    """

    mini_step: Any
    gradient_step: Any
    inner_opt_state: Any
    acc_grads: Any


class MultiSteps:
    """Accumulate gradients over ``k`` mini-steps and update once with their mean (optax's ``MultiSteps``).

    With ``k = every_k_schedule(gradient_step)``, mini-step ``n = 0, 1, ..., k - 1``
    and ``A_0 = 0``::

        A_{n+1} = A_n + (g_n - A_n) / (n + 1)      (use_grad_mean: the running mean)
        A_{n+1} = A_n + g_n                        (otherwise: the sum)
        u_n     = 0                                for n < k - 1
        u_n     = opt.update(A_k, ...)             for n = k - 1, then A and n restart at 0

    So ``k`` mini-batches of size ``b`` give the step one batch of size ``k * b`` would
    (for a loss that is a mean over the batch). The inner optimizer runs only on the
    last mini-step, inside :func:`funcnn.lax.cond`, so this traces under ``jit``.

    Parameters
    ----------
    opt : GradientTransformation
        The optimizer to run on the accumulated gradients.
    every_k_schedule : int or callable
        The number of mini-steps per update, ``>= 1``; or a function of the number of
        updates done so far (a 0-d int32 array, traced under ``jit``) returning it,
        to grow the effective batch during training.
    use_grad_mean : bool, default True
        Average the gradients (True) or sum them.

    Examples
    --------
    >>> import numpy as np
    >>> from funcnn.optim import apply_updates, sgd
    >>> opt = MultiSteps(sgd(0.1), every_k_schedule=2)
    >>> params = {"w": np.array([1.0])}
    >>> state = opt.init(params)
    >>> updates, state = opt.update({"w": np.array([1.0])}, state, params)
    >>> updates["w"], bool(opt.has_updated(state))
    (array([0.]), False)
    >>> updates, state = opt.update({"w": np.array([3.0])}, state, params)
    >>> updates["w"], bool(opt.has_updated(state))   # -0.1 * mean(1, 3)
    (array([-0.2]), True)
    """

    def __init__(
        self,
        opt: GradientTransformation,
        every_k_schedule: int | Callable[[Any], Any],
        use_grad_mean: bool = True,
    ) -> None:
        if not isinstance(opt, GradientTransformation):
            raise TypeError(
                f"MultiSteps: opt must be a GradientTransformation, got {type(opt).__name__} "
                "(did you pass the factory instead of calling it, e.g. `adam` for `adam(1e-3)`?)"
            )
        self._opt = opt
        self._every_k = _every_k(every_k_schedule)
        self._use_grad_mean = bool(use_grad_mean)

    @property
    def inner_opt(self) -> GradientTransformation:
        """The wrapped optimizer."""
        return self._opt

    def init(self, params: Params) -> MultiStepsState:
        """Zero counts and accumulator, and the inner optimizer's initial state."""
        check_params(params, "MultiSteps")
        return MultiStepsState(
            mini_step=new_count(),
            gradient_step=new_count(),
            inner_opt_state=self._opt.init(params),
            acc_grads=full_like_tree(params),
        )

    def update(
        self, updates: Updates, state: MultiStepsState, params: Params | None = None
    ) -> tuple[Updates, MultiStepsState]:
        """Accumulate ``updates``; on the last mini-step, return the inner optimizer's update."""
        check_updates(updates, params, "MultiSteps", state.acc_grads)
        acc = tree_map(self._accumulate(state.mini_step), updates, state.acc_grads)
        last = state.mini_step >= self._every_k(state.gradient_step) - 1
        zeros = full_like_tree(updates)

        def final_step(acc: Any, state: MultiStepsState, params: Any) -> tuple[Updates, MultiStepsState]:
            inner_updates, inner_state = self._opt.update(acc, state.inner_opt_state, params)
            restart = full_like_tree(state.acc_grads)
            new_state = MultiStepsState(new_count(), next_count(state.gradient_step), inner_state, restart)
            return tree_map(keep_dtype, inner_updates, zeros), new_state  # both branches: the gradients' dtypes

        def mid_step(acc: Any, state: MultiStepsState, params: Any) -> tuple[Updates, MultiStepsState]:
            new_state = MultiStepsState(next_count(state.mini_step), state.gradient_step, state.inner_opt_state, acc)
            return zeros, new_state

        return lax.cond(last, final_step, mid_step, acc, state, params)  # type: ignore[no-any-return]

    def has_updated(self, state: MultiStepsState) -> Any:
        """Whether the last ``update`` that gave ``state`` ran the inner optimizer (a bool array)."""
        return fnp.logical_and(state.mini_step == 0, state.gradient_step > 0)

    def gradient_transformation(self) -> GradientTransformation:
        """This wrapper as a ``GradientTransformation(init, update)``, to put in a :func:`chain`."""
        return GradientTransformation(self.init, self.update)

    def _accumulate(self, mini_step: Any) -> Callable[[Any, Any], Any]:
        if not self._use_grad_mean:
            return lambda g, a: keep_dtype(a + g, a)
        count = as_float64(mini_step) + 1.0  # a running mean (Welford's): no sum that grows with k
        return lambda g, a: keep_dtype(a + (g - a) / cast_like(count, a), a)


def _every_k(every_k_schedule: Any) -> Callable[[Any], Any]:
    if callable(every_k_schedule):
        return every_k_schedule  # type: ignore[no-any-return]
    if isinstance(every_k_schedule, bool) or not isinstance(every_k_schedule, numbers.Integral):
        raise TypeError(
            f"MultiSteps: every_k_schedule must be an int or a function of the gradient step, "
            f"got {every_k_schedule!r}"
        )
    k = int(every_k_schedule)
    if k < 1:
        raise ValueError(f"MultiSteps: every_k_schedule must be >= 1, got {k}")
    return lambda gradient_step: k
