"""Learning-rate schedules: pure functions from the step count to a float.

Each factory returns ``schedule(count)``. ``count`` is the number of updates done
so far (0 at the first update); it may be an int, a 0-d integer array (as kept in
an optimizer's state) or an array of counts, in which case the result is an
array of the same shape. Results are float64.

Schedules are written with ``funcnn.numpy`` operations and no Python decision on the
count, so a traced count (inside ``make_graph``, e.g. an optimizer's int32 step count)
gives a traced value.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

import numpy as np

import funcnn.numpy as fnp
from funcnn.extend import Tracer

from ._base import Schedule
from ._checks import check_non_negative, check_positive

__all__ = [
    "constant",
    "cosine_decay",
    "exponential_decay",
    "linear_warmup",
    "one_cycle",
    "piecewise_constant",
    "polynomial",
    "warmup_cosine_decay",
    # optax's names
    "constant_schedule",
    "cosine_decay_schedule",
    "cosine_onecycle_schedule",
    "linear_schedule",
    "piecewise_constant_schedule",
    "polynomial_schedule",
    "warmup_cosine_decay_schedule",
]


def _counts(count: Any) -> Any:
    return fnp.asarray(count, np.float64)


def _out(value: Any) -> Any:
    """A float64 scalar for a scalar count, an array for an array of counts (traced if the count is)."""
    value = fnp.asarray(value, np.float64)
    return value if isinstance(value, Tracer) else value[()]


def _half_cosine(frac: Any) -> Any:
    """Goes from 1 at ``frac = 0`` down to 0 at ``frac = 1`` along half a cosine wave."""
    return 0.5 * (1.0 + fnp.cos(math.pi * frac))


def _power(x: Any, exponent: float) -> Any:
    """``x**exponent``; the common exponent 1 needs no work."""
    return x if exponent == 1.0 else fnp.power(x, exponent)


def _check_steps(name: str, value: Any) -> int:
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)):
        raise TypeError(f"{name} must be an int, got {value!r}")
    return int(value)


def constant(value: float) -> Schedule:
    """The same value at every step.

    ``f(count) = value``

    Parameters
    ----------
    value : float

    Returns
    -------
    callable, ``count -> float``

    Examples
    --------
    >>> schedule = constant(0.1)
    >>> print(schedule(0), schedule(1000))
    0.1 0.1
    """
    value = float(value)

    def schedule(count: Any) -> Any:
        return _out(fnp.full_like(count, value, dtype=np.float64))

    return schedule


def exponential_decay(
    init_value: float,
    transition_steps: int,
    decay_rate: float,
    transition_begin: int = 0,
    staircase: bool = False,
    end_value: float | None = None,
) -> Schedule:
    """Multiply by ``decay_rate`` every ``transition_steps`` steps, smoothly or in stairs.

    With ``k = max(count - transition_begin, 0) / transition_steps`` (rounded down
    when ``staircase``)::

        f(count) = init_value * decay_rate**k

    clipped at ``end_value`` if given (from below when ``decay_rate < 1``, from
    above when it is > 1).

    Parameters
    ----------
    init_value : float
        Value up to ``transition_begin``.
    transition_steps : int
        Steps for one factor of ``decay_rate``, > 0.
    decay_rate : float
        Factor per ``transition_steps`` steps, > 0.
    transition_begin : int, default 0
        Steps to hold ``init_value`` before decaying, >= 0.
    staircase : bool, default False
        Decay in discrete jumps instead of continuously.
    end_value : float, optional
        Bound that the value never passes.

    Returns
    -------
    callable, ``count -> float``

    Examples
    --------
    >>> schedule = exponential_decay(1.0, transition_steps=10, decay_rate=0.5)
    >>> print(schedule(0), schedule(10), schedule(15))
    1.0 0.5 0.3535533905932738
    >>> stairs = exponential_decay(1.0, 10, 0.5, staircase=True, end_value=0.2)
    >>> print(stairs(15), stairs(100))
    0.5 0.2
    """
    transition_steps = _check_steps("transition_steps", transition_steps)
    check_positive("transition_steps", transition_steps)
    decay_rate = check_positive("decay_rate", decay_rate)
    transition_begin = _check_steps("transition_begin", transition_begin)
    check_non_negative("transition_begin", transition_begin)
    init_value = float(init_value)
    bound = None if end_value is None else float(end_value)

    def schedule(count: Any) -> Any:
        k = fnp.maximum(_counts(count) - transition_begin, 0.0) / transition_steps
        if staircase:
            k = fnp.floor(k)
        value = init_value * fnp.power(decay_rate, k)
        if bound is not None:
            value = fnp.maximum(value, bound) if decay_rate < 1 else fnp.minimum(value, bound)
        return _out(value)

    return schedule


def piecewise_constant(
    init_value: float, boundaries_and_scales: Mapping[int, float] | None = None
) -> Schedule:
    """Start at ``init_value`` and multiply by a scale at each boundary step.

    ``f(count) = init_value * prod(scale for boundary, scale in boundaries_and_scales
    if count >= boundary)``

    Parameters
    ----------
    init_value : float
        Value before the first boundary.
    boundaries_and_scales : dict of int to float, optional
        ``{boundary_step: scale}``; from step ``boundary_step`` on, the value is
        multiplied by ``scale`` (the scales accumulate).

    Returns
    -------
    callable, ``count -> float``

    Examples
    --------
    >>> schedule = piecewise_constant(0.1, {100: 0.5, 200: 0.1})
    >>> print(schedule(99), schedule(100), schedule(250))
    0.1 0.05 0.005000000000000001
    """
    init_value = float(init_value)
    pairs = sorted((boundaries_and_scales or {}).items())
    for boundary, _ in pairs:
        check_non_negative("boundary", _check_steps("boundary", boundary))
    pairs = [(int(b), float(s)) for b, s in pairs]

    def schedule(count: Any) -> Any:
        c = _counts(count)
        value = fnp.full_like(c, init_value)
        for boundary, factor in pairs:
            value = fnp.where(c >= boundary, value * factor, value)
        return _out(value)

    return schedule


def cosine_decay(
    init_value: float, decay_steps: int, alpha: float = 0.0, exponent: float = 1.0
) -> Schedule:
    """Decay from ``init_value`` to ``alpha * init_value`` along half a cosine.

    With ``c = min(count, decay_steps)`` and ``k = 0.5 * (1 + cos(pi * c / decay_steps))``::

        f(count) = init_value * ((1 - alpha) * k**exponent + alpha)

    Parameters
    ----------
    init_value : float
        Value at step 0.
    decay_steps : int
        Steps to reach the final value, > 0.
    alpha : float, default 0
        Final value as a fraction of ``init_value``.
    exponent : float, default 1
        Power applied to the cosine factor.

    Returns
    -------
    callable, ``count -> float``

    Examples
    --------
    >>> schedule = cosine_decay(1.0, decay_steps=100, alpha=0.1)
    >>> print(schedule(0), schedule(50), schedule(100), schedule(500))
    1.0 0.55 0.1 0.1
    """
    init_value = float(init_value)
    decay_steps = _check_steps("decay_steps", decay_steps)
    check_positive("decay_steps", decay_steps)
    alpha, exponent = float(alpha), float(exponent)

    def schedule(count: Any) -> Any:
        frac = fnp.minimum(_counts(count), decay_steps) / decay_steps
        return _out(init_value * ((1.0 - alpha) * _power(_half_cosine(frac), exponent) + alpha))

    return schedule


def linear_warmup(
    init_value: float, end_value: float, transition_steps: int, transition_begin: int = 0
) -> Schedule:
    """Go linearly from ``init_value`` to ``end_value``, then stay there.

    With ``c = clip(count - transition_begin, 0, transition_steps)``::

        f(count) = init_value + (end_value - init_value) * c / transition_steps

    Also usable for a linear decay (``end_value < init_value``).

    Parameters
    ----------
    init_value : float
        Value up to ``transition_begin``.
    end_value : float
        Value from ``transition_begin + transition_steps`` on.
    transition_steps : int
        Length of the ramp, > 0.
    transition_begin : int, default 0
        Steps to hold ``init_value`` first, >= 0.

    Returns
    -------
    callable, ``count -> float``

    Examples
    --------
    >>> schedule = linear_warmup(0.0, 1.0, transition_steps=10)
    >>> print(schedule(0), schedule(5), schedule(10), schedule(20))
    0.0 0.5 1.0 1.0
    """
    init_value, end_value = float(init_value), float(end_value)
    transition_steps = _check_steps("transition_steps", transition_steps)
    check_positive("transition_steps", transition_steps)
    transition_begin = _check_steps("transition_begin", transition_begin)
    check_non_negative("transition_begin", transition_begin)

    def schedule(count: Any) -> Any:
        c = fnp.clip(_counts(count) - transition_begin, 0.0, transition_steps)
        return _out(init_value + (end_value - init_value) * (c / transition_steps))

    return schedule


def polynomial(
    init_value: float,
    end_value: float,
    power: float,
    transition_steps: int,
    transition_begin: int = 0,
) -> Schedule:
    """Go from ``init_value`` to ``end_value`` along a polynomial of degree ``power``, then stay.

    With ``c = clip(count - transition_begin, 0, transition_steps)``::

        f(count) = (init_value - end_value) * (1 - c / transition_steps)**power + end_value

    ``power=1`` is :func:`linear_warmup`; ``power=2`` falls fast at first, then levels off.

    Parameters
    ----------
    init_value : float
        Value up to ``transition_begin``.
    end_value : float
        Value from ``transition_begin + transition_steps`` on.
    power : float
        Degree of the polynomial, > 0.
    transition_steps : int
        Length of the transition, > 0.
    transition_begin : int, default 0
        Steps to hold ``init_value`` first, >= 0.

    Returns
    -------
    callable, ``count -> float``

    Examples
    --------
    >>> schedule = polynomial(1.0, 0.0, power=2, transition_steps=10)
    >>> print(schedule(0), schedule(5), schedule(10), schedule(20))
    1.0 0.25 0.0 0.0
    """
    init_value, end_value = float(init_value), float(end_value)
    power = check_positive("power", power)
    transition_steps = _check_steps("transition_steps", transition_steps)
    check_positive("transition_steps", transition_steps)
    transition_begin = _check_steps("transition_begin", transition_begin)
    check_non_negative("transition_begin", transition_begin)

    def schedule(count: Any) -> Any:
        c = fnp.clip(_counts(count) - transition_begin, 0.0, transition_steps)
        return _out((init_value - end_value) * _power(1.0 - c / transition_steps, power) + end_value)

    return schedule


def warmup_cosine_decay(
    init_value: float,
    peak_value: float,
    warmup_steps: int,
    decay_steps: int,
    end_value: float = 0.0,
    exponent: float = 1.0,
) -> Schedule:
    """Linear warm-up to ``peak_value``, then cosine decay to ``end_value``.

    ``decay_steps`` counts the warm-up too::

        f(count) = init_value + (peak_value - init_value) * count / warmup_steps
                                                       for count < warmup_steps
        f(count) = end_value + (peak_value - end_value)
                   * (0.5 * (1 + cos(pi * r)))**exponent  otherwise,

    with ``r = min((count - warmup_steps) / (decay_steps - warmup_steps), 1)``.

    Parameters
    ----------
    init_value : float
        Value at step 0.
    peak_value : float
        Value at the end of the warm-up.
    warmup_steps : int
        Length of the linear warm-up, >= 0.
    decay_steps : int
        Total length of warm-up and decay, > ``warmup_steps``.
    end_value : float, default 0
        Value from ``decay_steps`` on.
    exponent : float, default 1
        Power applied to the cosine factor.

    Returns
    -------
    callable, ``count -> float``

    Examples
    --------
    >>> schedule = warmup_cosine_decay(0.0, 1.0, warmup_steps=10, decay_steps=110)
    >>> print(schedule(5), schedule(10), schedule(60), schedule(110))
    0.5 1.0 0.5 0.0
    """
    init_value, peak_value, end_value = float(init_value), float(peak_value), float(end_value)
    warmup_steps = _check_steps("warmup_steps", warmup_steps)
    check_non_negative("warmup_steps", warmup_steps)
    decay_steps = _check_steps("decay_steps", decay_steps)
    if decay_steps <= warmup_steps:
        raise ValueError(
            f"decay_steps must be > warmup_steps (it includes the warm-up), got "
            f"decay_steps={decay_steps} and warmup_steps={warmup_steps}"
        )
    exponent = float(exponent)
    span = decay_steps - warmup_steps

    def schedule(count: Any) -> Any:
        c = _counts(count)
        ramp = init_value + (peak_value - init_value) * c / max(warmup_steps, 1)
        frac = fnp.clip((c - warmup_steps) / span, 0.0, 1.0)
        decay = end_value + (peak_value - end_value) * _power(_half_cosine(frac), exponent)
        return _out(fnp.where(c < warmup_steps, ramp, decay))

    return schedule


def one_cycle(
    transition_steps: int,
    peak_value: float,
    pct_start: float = 0.3,
    div_factor: float = 25.0,
    final_div_factor: float = 1e4,
) -> Schedule:
    """The one-cycle policy: cosine rise to ``peak_value``, then cosine fall far below the start.

    With ``a = peak_value / div_factor`` (start), ``z = a / final_div_factor`` (end)
    and ``s = pct_start * transition_steps``::

        f(count) = a + (peak_value - a) * (1 - 0.5 * (1 + cos(pi * count / s)))
                                                       for count <= s
        f(count) = z + (peak_value - z) * 0.5 * (1 + cos(pi * r))   otherwise,

    with ``r = min((count - s) / (transition_steps - s), 1)``.

    Parameters
    ----------
    transition_steps : int
        Length of the whole cycle, > 0.
    peak_value : float
        Highest value, reached at step ``s``.
    pct_start : float, default 0.3
        Fraction of the cycle spent rising, in (0, 1).
    div_factor : float, default 25
        Start value is ``peak_value / div_factor``; > 0.
    final_div_factor : float, default 1e4
        End value is the start value divided by this; > 0.

    Returns
    -------
    callable, ``count -> float``

    Examples
    --------
    >>> schedule = one_cycle(100, 1.0, pct_start=0.25, div_factor=10.0, final_div_factor=1.0)
    >>> print(schedule(0), schedule(25), schedule(100))
    0.1 1.0 0.1
    """
    transition_steps = _check_steps("transition_steps", transition_steps)
    check_positive("transition_steps", transition_steps)
    peak_value = float(peak_value)
    pct_start = float(pct_start)
    if not 0.0 < pct_start < 1.0:
        raise ValueError(f"pct_start must be in (0, 1), got {pct_start!r}")
    div_factor = check_positive("div_factor", div_factor)
    final_div_factor = check_positive("final_div_factor", final_div_factor)
    start = peak_value / div_factor
    end = start / final_div_factor
    rise = pct_start * transition_steps
    fall = transition_steps - rise

    def schedule(count: Any) -> Any:
        c = _counts(count)
        up = start + (peak_value - start) * (1.0 - _half_cosine(fnp.clip(c / rise, 0.0, 1.0)))
        down = end + (peak_value - end) * _half_cosine(fnp.clip((c - rise) / fall, 0.0, 1.0))
        return _out(fnp.where(c <= rise, up, down))

    return schedule


# --- optax's names -----------------------------------------------------------------------
#
# The names optax users type, with optax's signatures and values. Each is one of the schedules
# above, except ``cosine_onecycle_schedule``, whose rise ends on a whole step (optax rounds
# ``pct_start * transition_steps`` down), where :func:`one_cycle` lets it end between steps.

constant_schedule = constant
linear_schedule = linear_warmup
cosine_decay_schedule = cosine_decay
piecewise_constant_schedule = piecewise_constant
polynomial_schedule = polynomial
warmup_cosine_decay_schedule = warmup_cosine_decay


def _cosine_between(start: float, end: float, frac: Any) -> Any:
    """From ``start`` at ``frac = 0`` (exactly) to ``end`` at ``frac = 1`` along half a cosine wave."""
    return start + (end - start) * (1.0 - _half_cosine(frac))


def cosine_onecycle_schedule(
    transition_steps: int,
    peak_value: float,
    pct_start: float = 0.3,
    div_factor: float = 25.0,
    final_div_factor: float = 1e4,
) -> Schedule:
    """The one-cycle policy as ``optax.cosine_onecycle_schedule``: :func:`one_cycle` with the
    peak on the whole step ``s = int(pct_start * transition_steps)``.

    With ``a = peak_value / div_factor`` and ``z = a / final_div_factor``, the value rises
    from ``a`` to ``peak_value`` along half a cosine over steps ``[0, s)``, falls to ``z``
    over ``[s, transition_steps)``, and stays at ``z``.

    Parameters
    ----------
    transition_steps : int
        Length of the whole cycle, > 0.
    peak_value : float
        Highest value, at step ``s``.
    pct_start : float in [0, 1], default 0.3
        Fraction of the cycle spent rising (``s = 0``: no rise).
    div_factor : float, default 25
        Start value is ``peak_value / div_factor``; > 0.
    final_div_factor : float, default 1e4
        End value is the start value divided by this; > 0.

    Returns
    -------
    callable, ``count -> float``

    Examples
    --------
    >>> schedule = cosine_onecycle_schedule(10, 1.0, pct_start=0.25, div_factor=10.0,
    ...                                     final_div_factor=1.0)
    >>> print(schedule(0), schedule(1), schedule(2), schedule(10))
    0.1 0.55 1.0 0.1
    """
    transition_steps = _check_steps("transition_steps", transition_steps)
    check_positive("transition_steps", transition_steps)
    pct_start = float(pct_start)
    if not 0.0 <= pct_start <= 1.0:
        raise ValueError(f"pct_start must be in [0, 1], got {pct_start!r}")
    peak_value = float(peak_value)
    start = peak_value / check_positive("div_factor", div_factor)
    end = start / check_positive("final_div_factor", final_div_factor)
    rise = int(pct_start * transition_steps)
    fall = transition_steps - rise

    def schedule(count: Any) -> Any:
        c = _counts(count)
        up = _cosine_between(start, peak_value, c / max(rise, 1))
        down = _cosine_between(peak_value, end, (c - rise) / max(fall, 1))
        return _out(fnp.where(c < rise, up, fnp.where(c < transition_steps, down, end)))

    return schedule
