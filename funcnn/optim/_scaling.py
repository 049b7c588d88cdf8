"""Scalings by a constant, by a schedule of the step count, and by a learning rate."""

from __future__ import annotations

from typing import Any, NamedTuple

from funcnn.extend import Tracer

from ..tree_util import tree_map
from ._base import (
    EmptyState, GradientTransformation, Params, Scalar, ScalarOrSchedule, Schedule, Updates, stateless,
)
from ._checks import check_learning_rate, check_params, check_updates
from ._numerics import as_float64, cast_like, new_count, next_count

__all__ = ["ScaleByScheduleState", "ScaleState", "scale", "scale_by_learning_rate", "scale_by_schedule"]

ScaleState = EmptyState


def scale(step_size: Scalar) -> GradientTransformation:
    """Multiply every update by a constant.

    ``u <- step_size * u``

    Parameters
    ----------
    step_size : float or traced scalar
        The factor (negative to turn a gradient into a descent step).

    Returns
    -------
    GradientTransformation
        Stateless (its state is ``EmptyState()``).

    Examples
    --------
    >>> import numpy as np
    >>> t = scale(-0.1)
    >>> updates, _ = t.update({"w": np.array([1.0, 2.0])}, t.init(None))
    >>> updates["w"]
    array([-0.1, -0.2])
    """
    factor = step_size if isinstance(step_size, Tracer) else float(step_size)
    return stateless(lambda updates, params: tree_map(lambda g: g * cast_like(factor, g), updates), "scale")


class ScaleByScheduleState(NamedTuple):
    """State of :func:`scale_by_schedule`: ``count`` is the number of updates done (int32)."""

    count: Any  # type: ignore[assignment]  # shadows tuple.count, as in optax


def scale_by_schedule(step_size_fn: Schedule) -> GradientTransformation:
    """Multiply the updates by a value that depends on the step count.

    ``u <- step_size_fn(count) * u``, with ``count`` = 0 at the first update. The
    value is taken in float64, then cast to each leaf's dtype.

    Parameters
    ----------
    step_size_fn : callable, ``step_size_fn(count) -> float``
        For example a schedule from :mod:`funcnn.optim.schedules`. ``count`` is a 0-d
        int32 array, traced inside ``make_graph``: write the function with
        ``funcnn.numpy`` operations (as the schedules are) to trace it.

    Returns
    -------
    GradientTransformation
        With state :class:`ScaleByScheduleState`.

    Examples
    --------
    >>> import numpy as np
    >>> t = scale_by_schedule(lambda count: 1.0 / (1 + count))
    >>> state = t.init({"w": np.ones(2)})
    >>> for _ in range(3):
    ...     updates, state = t.update({"w": np.ones(2)}, state)
    >>> updates["w"], int(state.count)
    (array([0.33333333, 0.33333333]), 3)
    """
    if not callable(step_size_fn):
        raise TypeError(f"step_size_fn must be callable, got {step_size_fn!r}")

    def init_fn(params: Params) -> ScaleByScheduleState:
        check_params(params, "scale_by_schedule")
        return ScaleByScheduleState(count=new_count())

    def update_fn(
        updates: Updates, state: ScaleByScheduleState, params: Params | None = None
    ) -> tuple[Updates, ScaleByScheduleState]:
        check_updates(updates, params, "scale_by_schedule")
        step_size = as_float64(step_size_fn(state.count))
        updates = tree_map(lambda g: g * cast_like(step_size, g), updates)
        return updates, ScaleByScheduleState(count=next_count(state.count))

    return GradientTransformation(init_fn, update_fn)


def scale_by_learning_rate(learning_rate: ScalarOrSchedule, *, flip_sign: bool = True) -> GradientTransformation:
    """Multiply the updates by ``-learning_rate`` (a float, a traced scalar or a schedule).

    ``u <- -lr_t * u``; the sign flip turns a gradient into a descent direction.

    Parameters
    ----------
    learning_rate : float, traced scalar or callable
        A positive float; a traced scalar (to differentiate with respect to it);
        or a schedule ``count -> float`` evaluated at the number of updates done so far.
    flip_sign : bool, default True
        If False, multiply by ``+learning_rate`` instead.

    Returns
    -------
    GradientTransformation
        ``scale(-learning_rate)`` for a number, ``scale_by_schedule`` for a schedule.

    Raises
    ------
    ValueError
        If a float learning rate is not > 0.

    Examples
    --------
    >>> import numpy as np
    >>> t = scale_by_learning_rate(0.5)
    >>> updates, _ = t.update({"w": np.array([2.0])}, t.init(None))
    >>> updates["w"]
    array([-1.])
    """
    rate: Any = check_learning_rate(learning_rate)
    sign = -1.0 if flip_sign else 1.0
    if callable(rate):
        return scale_by_schedule(lambda count: sign * as_float64(rate(count)))
    return scale(sign * rate)
