"""Hyper-parameters kept in the optimizer's state, so they can change between steps
(``inject_hyperparams``), and the helpers that read and replace them."""

from __future__ import annotations

import functools
import inspect
import numbers
from collections.abc import Callable, Iterable
from typing import Any, NamedTuple

import numpy as np

from funcnn import jit
from funcnn.extend import ConcretizationError, Tracer, dtype_of, shape_of

from ._base import GradientTransformation, OptState, Params, Updates
from ._checks import check_params, check_updates
from ._numerics import as_float64, new_count, next_count
from ._state_search import find_states, replace_states

__all__ = ["InjectHyperparamsState", "get_hyperparams", "inject_hyperparams", "set_hyperparams"]


class InjectHyperparamsState(NamedTuple):
    """State of a transformation made by :func:`inject_hyperparams`.

    ``count`` (int32) is the number of updates done; ``hyperparams`` maps each injected
    hyper-parameter's name to its value at the last update (a 0-d float64 array);
    ``inner_state`` is the inner transformation's state.
    """

    count: Any  # type: ignore[assignment]  # shadows tuple.count, as in optax
    hyperparams: Any
    inner_state: Any


def inject_hyperparams(
    inner_factory: Callable[..., GradientTransformation], static_args: str | Iterable[str] = ()
) -> Callable[..., GradientTransformation]:
    """Wrap an optimizer factory so that its float hyper-parameters live in the state (optax's).

    ``inject_hyperparams(adam)(learning_rate=0.01)`` behaves as ``adam(0.01)``, but its
    state is an :class:`InjectHyperparamsState` whose ``hyperparams["learning_rate"]``
    is a 0-d float64 array: change it between steps (with :func:`set_hyperparams`, or
    ``state._replace(hyperparams=...)``) and the next update uses the new value. At each
    update the factory is called again with the values in the state, and the inner
    update runs as a :func:`funcnn.jit`-compiled function of them: they are data, not
    constants, so a new value neither traces again (in this wrapper or in a jitted
    training step) nor changes which blocks the optimizer has (a schedule may reach 0,
    a weight decay be set to 0). Values set by hand go through the factory's checks
    at the next update, so an invalid one (a negative learning rate) raises there.

    The factory's arguments are sorted thus:

    - a nonzero float (Python, NumPy, 0-d array or traced scalar) is injected;
    - a callable is a schedule of the step count: it is evaluated at each update's
      ``count`` (0 first) and the value injected; overwriting it in the state has no
      effect, as the schedule's next value replaces it;
    - everything else (bools such as ``nesterov``, ints, strings, None, masks, and
      the arguments named in ``static_args``) is passed through unchanged, as is a
      float equal to 0 when the optimizer is built: funcnn's optimizers then leave out
      the block it is the coefficient of (weight decay, momentum).

    Parameters
    ----------
    inner_factory : callable
        A function returning a ``GradientTransformation``, such as :func:`adam`.
    static_args : str or iterable of str
        Names of arguments that are callables but not schedules (such as ``mask``).

    Returns
    -------
    callable
        Takes ``inner_factory``'s arguments (schedules allowed for the injected ones)
        and returns a ``GradientTransformation`` with state :class:`InjectHyperparamsState`.

    Examples
    --------
    >>> import numpy as np
    >>> from funcnn.optim import sgd
    >>> opt = inject_hyperparams(sgd)(learning_rate=0.1, momentum=0.9)
    >>> state = opt.init({"w": np.zeros(1)})
    >>> sorted(state.hyperparams), float(state.hyperparams["learning_rate"])
    (['learning_rate', 'momentum'], 0.1)
    >>> state = set_hyperparams(state, learning_rate=0.01)
    >>> updates, state = opt.update({"w": np.array([1.0])}, state)
    >>> updates["w"]
    array([-0.01])
    """
    name = getattr(inner_factory, "__name__", "inner_factory")
    signature = inspect.signature(inner_factory)
    static = {static_args} if isinstance(static_args, str) else set(static_args)
    if not static <= set(signature.parameters):
        raise ValueError(
            f"inject_hyperparams: static_args {sorted(static - set(signature.parameters))} are not "
            f"arguments of {name}, which takes {list(signature.parameters)}"
        )
    if any(p.kind is p.VAR_POSITIONAL for p in signature.parameters.values()):
        raise TypeError(f"inject_hyperparams: {name} takes *args; it must take its hyper-parameters by name")

    @functools.wraps(inner_factory)
    def factory(*args: Any, **kwargs: Any) -> GradientTransformation:
        bound = signature.bind(*args, **kwargs)
        bound.apply_defaults()
        fixed, values, schedules = _sort_arguments(_by_name(bound), static)
        what = f"inject_hyperparams({name})"

        def build(hyperparams: dict[str, Any]) -> GradientTransformation:
            return inner_factory(**fixed, **_as_arguments(hyperparams))

        # The inner update is a jitted function of the hyper-parameters, so they are always
        # traced there: the same blocks whatever their values (a schedule may reach 0, a
        # momentum be set to 0), and no new trace when they change.
        inner_update = jit(lambda hyperparams, *args: build(hyperparams).update(*args))

        initial = {k: as_float64(v) for k, v in values.items()}
        initial.update({k: _check_schedule(what, k, f) for k, f in schedules.items()})
        build(initial)  # bad values raise now, naming the argument

        def init_fn(params: Params) -> InjectHyperparamsState:
            check_params(params, what)
            return InjectHyperparamsState(new_count(), dict(initial), build(initial).init(params))

        def update_fn(
            updates: Updates, state: InjectHyperparamsState, params: Params | None = None
        ) -> tuple[Updates, InjectHyperparamsState]:
            check_updates(updates, params, what)
            stored = _stored(what, state.hyperparams, set(initial))
            if not any(isinstance(v, Tracer) for v in stored.values()):
                build({**stored, **{k: initial[k] for k in schedules}})  # values set by hand are checked
            hyperparams = {**stored, **{k: as_float64(f(state.count)) for k, f in schedules.items()}}
            updates, inner_state = inner_update(hyperparams, updates, state.inner_state, params)
            return updates, InjectHyperparamsState(next_count(state.count), hyperparams, inner_state)

        return GradientTransformation(init_fn, update_fn)

    return factory


def _by_name(bound: inspect.BoundArguments) -> dict[str, Any]:
    """The bound arguments by name, with those gathered by ``**kwargs`` spread out."""
    arguments: dict[str, Any] = {}
    for key, value in bound.arguments.items():
        kind = bound.signature.parameters[key].kind
        arguments.update(value if kind is inspect.Parameter.VAR_KEYWORD else {key: value})
    return arguments


def _sort_arguments(arguments: dict[str, Any], static: set[str]) -> tuple[dict, dict, dict]:
    """Split the factory's arguments into (passed through, injected values, schedules)."""
    fixed: dict[str, Any] = {}
    values: dict[str, Any] = {}
    schedules: dict[str, Any] = {}
    for key, value in arguments.items():
        if key in static:
            fixed[key] = value
        elif isinstance(value, Tracer):
            (values if shape_of(value) == () and dtype_of(value).kind == "f" else fixed)[key] = value
        elif callable(value):
            schedules[key] = value
        elif _is_float(value) and value != 0:
            values[key] = value
        else:
            fixed[key] = value
    return fixed, values, schedules


def _is_float(value: Any) -> bool:
    if isinstance(value, (float, np.floating)):
        return True
    return isinstance(value, np.ndarray) and value.shape == () and value.dtype.kind == "f"


def _check_schedule(what: str, key: str, schedule: Callable[[Any], Any]) -> Any:
    """The schedule's first value; a clear error if it is no schedule of the step count."""
    hint = f"if it is not a schedule, pass static_args=({key!r},)"
    try:
        value = schedule(new_count())
    except Exception as err:  # any error: the callable may be a mask or a loss
        raise TypeError(
            f"{what}: {key} is callable, so it is taken as a schedule of the step count, "
            f"but {key}(0) raised {type(err).__name__}: {err}; {hint}"
        ) from err
    if not _is_real(value) or shape_of(value) != ():
        raise TypeError(
            f"{what}: {key} is callable, so it is taken as a schedule of the step count, but "
            f"{key}(0) returned {value!r}, not a real scalar; {hint}"
        )
    return as_float64(value)


def _stored(what: str, hyperparams: Any, names: set[str]) -> dict[str, Any]:
    """The hyper-parameters kept in the state, checked, in float64."""
    if not isinstance(hyperparams, dict) or set(hyperparams) != names:
        keys = sorted(hyperparams) if isinstance(hyperparams, dict) else type(hyperparams).__name__
        raise ValueError(
            f"{what} update: the state's hyperparams are {keys}, but this optimizer injects "
            f"{sorted(names)}; change their values with set_hyperparams, keeping the names"
        )
    for key, value in hyperparams.items():
        if shape_of(value) != ():
            raise ValueError(f"{what} update: hyperparams[{key!r}] must be a scalar, got shape {shape_of(value)}")
    return {key: as_float64(value) for key, value in hyperparams.items()}


def _as_arguments(hyperparams: dict[str, Any]) -> dict[str, Any]:
    """Concrete 0-d arrays as Python floats (real numbers to the factory's checks); tracers as they are."""
    return {k: float(v) if isinstance(v, np.ndarray) else v for k, v in hyperparams.items()}


def get_hyperparams(opt_state: OptState) -> dict[str, Any]:
    """The injected hyper-parameters found anywhere in an optimizer state, by name.

    Parameters
    ----------
    opt_state : pytree
        A state holding one or more :class:`InjectHyperparamsState` at any depth.

    Returns
    -------
    dict of str to 0-d ndarray
        The values used by the last update (the initial values before the first);
        empty if nothing is injected (an optimizer not built with
        :func:`inject_hyperparams`).

    Raises
    ------
    ValueError
        If two injected states hold different values under one name.

    Examples
    --------
    >>> import numpy as np
    >>> from funcnn.optim import adam, chain, clip_by_global_norm
    >>> opt = chain(clip_by_global_norm(1.0), inject_hyperparams(adam)(learning_rate=1e-3))
    >>> hyperparams = get_hyperparams(opt.init({"w": np.zeros(2)}))
    >>> sorted(hyperparams), float(hyperparams["learning_rate"])
    (['b1', 'b2', 'eps', 'learning_rate'], 0.001)
    """
    merged: dict[str, Any] = {}
    for state in find_states(opt_state, InjectHyperparamsState):
        for key, value in state.hyperparams.items():
            if key in merged and not _same(merged[key], value):
                raise ValueError(
                    f"get_hyperparams: two injected states hold different values of {key!r} "
                    f"({merged[key]} and {value}); read each state's hyperparams directly"
                )
            merged.setdefault(key, value)
    return merged


def set_hyperparams(opt_state: OptState, **values: Any) -> OptState:
    """A copy of ``opt_state`` whose injected hyper-parameters ``values`` are replaced, wherever they are.

    Every :class:`InjectHyperparamsState` in the state (nested ones too) that holds a
    name gets the new value, as a 0-d float64 array, so a jitted step that takes the
    state does not trace again.

    Parameters
    ----------
    opt_state : pytree
        The state of an optimizer built with :func:`inject_hyperparams`.
    **values : float or 0-d array
        New values by name, such as ``learning_rate=1e-4``.

    Returns
    -------
    pytree
        The new state; ``opt_state`` is not modified.

    Raises
    ------
    ValueError
        If a name is not injected anywhere in the state (the message lists those that
        are), or a value is not a scalar.
    TypeError
        If a value is not a real number.

    Examples
    --------
    >>> import numpy as np
    >>> from funcnn.optim import adam
    >>> state = inject_hyperparams(adam)(learning_rate=1e-3).init({"w": np.zeros(2)})
    >>> state = set_hyperparams(state, learning_rate=5e-4)
    >>> get_hyperparams(state)["learning_rate"]
    array(0.0005)
    """
    found = find_states(opt_state, InjectHyperparamsState)
    if not found:
        raise ValueError(
            "set_hyperparams: the optimizer state holds no injected hyper-parameters; build the "
            "optimizer with inject_hyperparams, e.g. inject_hyperparams(adam)(learning_rate=1e-3)"
        )
    known = {k for s in found for k in s.hyperparams}
    unknown = sorted(set(values) - known)
    if unknown:
        raise ValueError(
            f"set_hyperparams: {unknown} not injected in this state; it injects {sorted(known)} "
            "(ints, bools, zeros and arguments in static_args are not injected: pass a nonzero "
            "float to inject_hyperparams's factory, e.g. learning_rate=1.0 rather than 1)"
        )
    new = {k: _as_hyperparam(k, v) for k, v in values.items()}

    def replace(state: InjectHyperparamsState) -> InjectHyperparamsState:
        hyperparams = {k: new.get(k, v) for k, v in state.hyperparams.items()}
        return state._replace(hyperparams=hyperparams)

    return replace_states(opt_state, InjectHyperparamsState, replace)


def _is_real(value: Any) -> bool:
    """Whether ``value`` is a real number or an array (maybe traced) of real numbers."""
    if isinstance(value, bool) or not isinstance(value, (numbers.Real, np.ndarray, np.generic, Tracer)):
        return False
    return dtype_of(value).kind in "iuf"


def _as_hyperparam(key: str, value: Any) -> Any:
    if not _is_real(value):
        raise TypeError(f"set_hyperparams: {key} must be a real number, got {value!r}")
    if shape_of(value) != ():
        raise ValueError(f"set_hyperparams: {key} must be a scalar, got shape {shape_of(value)}")
    return as_float64(value)


def _same(a: Any, b: Any) -> bool:
    try:
        return bool(a == b)
    except ConcretizationError:  # traced: no values to compare
        return a is b
