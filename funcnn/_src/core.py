"""The engine's core: primitives, traces and tracers.

A :class:`Primitive` is a name and a NumPy implementation; nothing more. What each
transform needs to know about it (its abstract evaluation, its VJP, its JVP) lives in
one table per transform, next to that transform (``abstract.py``, ``reverse.py``,
``forward.py``), and is registered by the op family that defines the primitive. So the
core knows no transform, and a new transform is a new table.

Calling ``prim.bind(*args)`` looks for the innermost active transform among the
arguments (the tracer whose trace has the highest level) and lets that trace process
the call; with no tracer among the arguments it runs the NumPy implementation
directly. A trace handles a primitive by binding it again on the unwrapped values, so
the next trace down sees the call too: that is how transforms compose. The bottom
trace may be a graph capture (``graph.py``), whose tracers hold only an abstract value
(shape and dtype), never data.
"""
from __future__ import annotations

import sys
import threading
from contextlib import contextmanager
from typing import Any, Callable, Iterator, Sequence

import numpy as np

from funcnn._src.config import config

PRIMITIVES: list["Primitive"] = []


class Primitive:
    """An operation: a name and a NumPy implementation ``impl(*arrays, **params)``.

    Arrays (anything that may be traced) are positional operands; keyword ``params``
    are static: small, hashable and never traced (axes, shapes, dtypes). With
    ``multiple_results`` the implementation returns a tuple, and so does ``bind``.
    ``broadcasts`` marks elementwise primitives whose operands broadcast against each other.
    ``fresh`` promises that ``impl`` returns a new C-ordered array viewing none of its
    operands (as ``np.matmul`` does): ``jit`` may then reuse the result's buffer.
    ``takes_out`` promises that ``impl`` also accepts ``out=``, a C-ordered array of the
    result's shape and dtype overlapping no operand, and writes the same result there (as
    ufuncs do): a loop then writes a step's output straight into its stacked result.
    """

    __slots__ = ("name", "impl", "multiple_results", "broadcasts", "fresh", "takes_out", "module", "__weakref__")

    def __init__(self, name: str, impl: Callable[..., Any], *, multiple_results: bool = False,
                 broadcasts: bool = False, fresh: bool = False, takes_out: bool = False) -> None:
        self.name = name
        self.impl = impl
        self.multiple_results = multiple_results
        self.broadcasts = broadcasts
        self.fresh = fresh
        self.takes_out = takes_out
        self.module = sys._getframe(1).f_globals.get("__name__", "")  # the op family that defines it
        PRIMITIVES.append(self)

    def bind(self, *args: Any, **params: Any) -> Any:
        """Apply the primitive, letting the innermost active transform see it."""
        for arg in args:
            if isinstance(arg, Tracer):
                trace = top_trace(args) if len(args) > 1 else arg._trace
                return trace.process(self, args, params)  # type: ignore[union-attr]
        return self.evaluate(args, params)

    def evaluate(self, args: Sequence[Any], params: dict) -> Any:
        """Run the NumPy implementation on plain values, with readable errors."""
        try:
            ans = self.impl(*args, **params)
        except (ValueError, IndexError) as err:
            shapes = ", ".join(str(np.shape(a)) for a in args)
            family = self.module.split("._")[0] or "funcnn"  # e.g. funcnn.numpy, funcnn.lax
            raise type(err)(f"{family}.{self.name}: {err} (argument shapes: {shapes})") from None
        if config.debug_nans:
            for value in (ans if self.multiple_results else (ans,)):
                check_finite(value, f"the result of {self.name}")
        return ans

    # --- speed shortcut --------------------------------------------------------------------
    # ``bind`` above is the whole idea; this is the same loop without keyword handling, used
    # as the public function of elementwise ops (one Python call less per op).

    def binder(self) -> Callable[..., Any]:
        """``bind`` for calls with positional arguments only, as a plain function."""
        prim, evaluate = self, self.evaluate
        no_params: dict[str, Any] = {}  # shared by every call: nothing mutates it

        def bound(*args: Any) -> Any:
            for arg in args:
                if isinstance(arg, Tracer):
                    trace = top_trace(args) if len(args) > 1 else arg._trace
                    return trace.process(prim, args, no_params)  # type: ignore[union-attr]
            return evaluate(args, no_params)
        return bound

    def __repr__(self) -> str:
        return f"Primitive({self.name})"


def check_finite(value: Any, what: str) -> None:
    """Raise ``FloatingPointError`` when a floating ``value`` holds NaN or Inf (``debug_nans``)."""
    if _abstract_below(value):
        return  # a traced graph holds no numbers to check; its replay checks them
    while isinstance(value, Tracer):  # a batch of examples is checked whole
        value = value.primal
    if np.issubdtype(dtype_of(value), np.inexact) and not np.all(np.isfinite(value)):
        raise FloatingPointError(f"debug_nans: {what} contains NaN or Inf")


class Trace:
    """A transform in progress. ``level`` orders nested transforms: higher is inner."""

    __slots__ = ("level",)

    def __init__(self, level: int) -> None:
        self.level = level

    def process(self, prim: Primitive, args: Sequence[Any], params: dict) -> Any:
        raise NotImplementedError

    def __repr__(self) -> str:
        return f"{type(self).__name__}(level={self.level})"


class Tracer:
    """A value seen by a transform. ``primal`` is the value one level down.

    A tracer of a graph capture is ``abstract``: it has a shape and a dtype but no value,
    so anything that needs one (``bool``, ``float``, ``np.asarray``) raises a
    :class:`ConcretizationError`. Operators and array methods are installed by
    ``funcnn.numpy`` so that a tracer behaves like an ``ndarray`` inside user code.
    """

    __slots__ = ("_trace", "primal")
    __array_priority__ = 1000
    __hash__ = None  # type: ignore[assignment]  # like ndarray: == is elementwise
    abstract = False
    # set by tracers whose value is a batch of examples (vmap): one example has no value to read
    per_example = False

    def __init__(self, trace: Trace, primal: Any) -> None:
        self._trace = trace
        self.primal = primal

    @property
    def shape(self) -> tuple[int, ...]:
        return shape_of(self.primal)

    @property
    def dtype(self) -> np.dtype:
        return dtype_of(self.primal)

    @property
    def ndim(self) -> int:
        return len(self.shape)

    @property
    def size(self) -> int:
        return int(np.prod(self.shape))

    def __len__(self) -> int:
        if not self.shape:
            raise TypeError("len() of unsized object (a 0-d traced value)")
        return self.shape[0]

    def __bool__(self) -> bool:
        return bool(concrete(self, "bool() of a traced value (an `if`, `while`, `and` or `or` on it)"))

    def __float__(self) -> float:
        return float(concrete(self, "float() of a traced value"))

    def __int__(self) -> int:
        return int(concrete(self, "int() of a traced value"))

    def __index__(self) -> int:
        return int(concrete(self, "using a traced value as a Python index").__index__())

    def item(self) -> Any:
        """The value of a one-element traced array as a Python scalar (not inside a graph)."""
        return np.asarray(concrete(self, ".item() of a traced value")).item()

    def tolist(self) -> Any:
        """The value as nested Python lists (not inside a graph)."""
        return np.asarray(concrete(self, ".tolist() of a traced value")).tolist()

    def __array__(self, dtype: Any = None, copy: Any = None) -> np.ndarray:
        if _abstract_below(self):
            raise ConcretizationError(self, "converting a traced value to a NumPy array (np.asarray, np.X)")
        raise TypeError(
            f"a traced value (shape {self.shape}, dtype {self.dtype}) cannot become a NumPy array "
            "inside a transform: that would drop its derivative. Use funcnn.numpy (fnp.X for np.X) "
            "on traced values, or funcnn.stop_gradient if no derivative should flow."
        )

    def __repr__(self) -> str:
        if _abstract_below(self) or _per_example_below(self):
            return f"{type(self).__name__}<{self._trace!r}>(abstract {self.dtype}{list(self.shape)})"
        return f"{type(self).__name__}<{self._trace!r}>({concrete(self)!r})"


class ConcretizationError(TypeError):
    """A Python-level decision or conversion needed the value of an abstract traced value."""

    def __init__(self, tracer: Tracer, what: str) -> None:
        if tracer.per_example:
            super().__init__(
                f"{what} needs a concrete value, but inside vmap a value (shape {tuple(tracer.shape)}, dtype "
                f"{tracer.dtype} per example) differs between examples, so it has no one value to read. "
                "Express the choice with array operations (funcnn.numpy.where, funcnn.numpy.maximum, ...) or "
                "funcnn.lax.cond / while_loop, which vmap batches.")
            return
        super().__init__(
            f"{what} needs a concrete value, but here the value is traced abstractly (shape "
            f"{tuple(tracer.shape)}, dtype {tracer.dtype}): inside make_graph (or jit) a function runs "
            "on shapes and dtypes only, so its data does not exist yet. Either mark the argument "
            "static (static_argnums) so that its value is known while tracing, or express the choice "
            "with array operations (funcnn.numpy.where, funcnn.numpy.maximum, ...; funcnn.lax.cond "
            "once control flow lands).")


def concrete(x: Any, what: str = "this operation") -> Any:
    """The plain NumPy value underneath any number of tracers.

    Raises :class:`ConcretizationError`, naming ``what`` needed the value, when the value
    is traced abstractly (inside ``make_graph``).
    """
    top = x
    while isinstance(x, Tracer):
        if x.abstract or x.per_example:
            raise ConcretizationError(x if x.per_example else top, what)
        x = x.primal
    return x


def _per_example_below(x: Any) -> bool:
    return _below(x, "per_example")


def _abstract_below(x: Any) -> bool:
    return _below(x, "abstract")


def _below(x: Any, flag: str) -> bool:
    """Whether ``x`` or a tracer under it has ``flag`` set."""
    while isinstance(x, Tracer):
        if getattr(x, flag):
            return True
        x = x.primal
    return False


def shape_of(x: Any) -> tuple[int, ...]:
    """The shape of an array, tracer or Python number."""
    shape = getattr(x, "shape", None)
    return np.shape(x) if shape is None else shape


def ndim_of(x: Any) -> int:
    """The number of dimensions of an array, tracer or Python number."""
    return len(shape_of(x))


def dtype_of(x: Any) -> np.dtype:
    """The dtype of an array, tracer or Python number, without converting it."""
    dtype = getattr(x, "dtype", None)
    if isinstance(dtype, np.dtype):  # arrays, NumPy scalars and tracers: the common case
        return dtype
    if dtype is not None:
        return np.dtype(dtype)
    if isinstance(x, (list, tuple)):  # a nested list: the dtype NumPy would give it
        return np.asarray(x).dtype
    return np.result_type(x)


def top_trace(args: Sequence[Any]) -> Trace | None:
    """The innermost trace among ``args``' tracers, or ``None`` when there are no tracers."""
    top = None
    for arg in args:
        if isinstance(arg, Tracer):
            trace = arg._trace
            if top is None or trace.level > top.level:
                top = trace
            elif trace.level == top.level and trace is not top:
                raise_escaped(trace)
    return top


def raise_escaped(trace: Trace) -> None:
    raise RuntimeError(
        f"a traced value from a finished transform ({trace!r}) was used after that transform "
        "returned; return values out of the function you transform instead of storing them "
        "outside it."
    )


class _TraceStack(threading.local):
    """The active transforms of this thread, innermost last."""

    def __init__(self) -> None:
        self.traces: list[Trace] = []


_stack = _TraceStack()


def transforming() -> bool:
    """Whether any transform is active in this thread (a function closing over a traced value
    must then be traced too, even when its arguments are plain)."""
    return bool(_stack.traces)


@contextmanager
def new_trace(trace_type: type) -> Iterator[Any]:
    """Push a fresh trace one level above every active one (in this thread); pop it on exit."""
    traces = _stack.traces
    trace = trace_type(len(traces))
    traces.append(trace)
    try:
        yield trace
    finally:
        traces.pop()
