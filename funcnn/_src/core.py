"""The engine's core: primitives, traces and tracers.

Every differentiable operation is a :class:`Primitive`. Calling ``prim.bind(*args)``
looks for the innermost active transform among the arguments (the tracer whose
trace has the highest level) and lets that trace process the call; with no tracer
among the arguments it runs the NumPy implementation directly. Transforms are
traces: reverse mode (``reverse.py``) records a graph of VJP closures, forward
mode (``forward.py``) carries tangents alongside primals. A trace handles a
primitive by binding it again on the unwrapped values, so the next trace down
sees the call too: that is how transforms compose.
"""
from __future__ import annotations

import sys
import threading
from contextlib import contextmanager
from typing import Any, Callable, Iterator, Sequence

import numpy as np

from funcnn._src.config import config

VJPMaker = Callable[..., Callable[[Any], Any]]
JVPRule = Callable[..., Any]

PRIMITIVES: list["Primitive"] = []


class Primitive:
    """An operation with a NumPy implementation and its derivative rules.

    ``vjp_makers[i](ans, *args, **params)`` returns the function ``g -> cotangent``
    of argument ``i`` (staged: it keeps only what the backward pass needs).
    ``jvp_rules[i](t, ans, *args, **params)`` returns argument ``i``'s contribution
    to the output tangent. A primitive with neither is not differentiable: its
    result carries no derivative (comparisons, ``argmax``, ``floor``).
    ``broadcasts`` marks elementwise primitives whose arguments broadcast; the
    engine undoes broadcasting of their cotangents and tangents in one place.
    """

    __slots__ = ("name", "impl", "vjp_makers", "jvp_rules", "jvp_joint", "broadcasts", "module", "__weakref__")

    def __init__(self, name: str, impl: Callable[..., Any], *, broadcasts: bool = False) -> None:
        self.name = name
        self.impl = impl
        self.vjp_makers: tuple[VJPMaker | None, ...] | None = None
        self.jvp_rules: tuple[JVPRule | None, ...] | None = None
        self.jvp_joint: Callable[..., Any] | None = None
        self.broadcasts = broadcasts
        self.module = sys._getframe(1).f_globals.get("__name__", "")  # the op family that defines it
        PRIMITIVES.append(self)

    @property
    def differentiable(self) -> bool:
        return self.vjp_makers is not None

    def bind(self, *args: Any, **params: Any) -> Any:
        """Apply the primitive, letting the innermost active transform see it."""
        for arg in args:
            if isinstance(arg, Tracer):
                trace = top_trace(args) if len(args) > 1 else arg._trace
                return trace.process(self, args, params)  # type: ignore[union-attr]
        return self.evaluate(args, params)

    def binder(self) -> Callable[..., Any]:
        """``bind`` for calls with positional arguments only, as a plain function: the body of
        an elementwise op's public function, one Python call shallower than ``bind``."""
        prim, evaluate = self, self.evaluate
        no_params: dict[str, Any] = {}  # shared by every call: nothing mutates it

        def bound(*args: Any) -> Any:
            for arg in args:
                if isinstance(arg, Tracer):
                    trace = top_trace(args) if len(args) > 1 else arg._trace
                    return trace.process(prim, args, no_params)  # type: ignore[union-attr]
            return evaluate(args, no_params)
        return bound

    def evaluate(self, args: Sequence[Any], params: dict) -> Any:
        """Run the NumPy implementation on plain values, with readable errors."""
        try:
            ans = self.impl(*args, **params)
        except (ValueError, IndexError) as err:
            shapes = ", ".join(str(np.shape(a)) for a in args)
            family = self.module.split("._")[0] or "funcnn"  # e.g. funcnn.numpy, funcnn.lax
            raise type(err)(f"{family}.{self.name}: {err} (argument shapes: {shapes})") from None
        if config.debug_nans:
            check_finite(ans, f"the result of {self.name}")
        return ans

    def __repr__(self) -> str:
        return f"Primitive({self.name})"


def defvjp(prim: Primitive, *makers: VJPMaker | None) -> None:
    """Register one staged VJP maker per argument of ``prim`` (``None``: no gradient)."""
    prim.vjp_makers = makers


class _ByArgnum:
    """Makers for a variadic primitive: ``maker(i, ans, *args, **params)`` for every ``i``."""

    __slots__ = ("maker",)

    def __init__(self, maker: Callable[..., Any]) -> None:
        self.maker = maker

    def __getitem__(self, i: int) -> VJPMaker:
        maker = self.maker
        return lambda ans, *args, **params: maker(i, ans, *args, **params)


def defvjp_argnum(prim: Primitive, maker: Callable[..., Any]) -> None:
    """Register one VJP maker ``maker(argnum, ans, *args, **params)`` for all arguments."""
    prim.vjp_makers = _ByArgnum(maker)  # type: ignore[assignment]


def defjvp(prim: Primitive, *rules: JVPRule | None) -> None:
    """Register one JVP rule per argument of ``prim`` (``None``: no tangent flows)."""
    prim.jvp_rules = rules


def defjvp_joint(prim: Primitive, rule: Callable[..., Any]) -> None:
    """Register a JVP rule that sees all tangents at once: ``rule(tangents, ans, *args, **params)``.

    Absent tangents are ``None``. Used where per-argument contributions would be wasteful
    (``concatenate``).
    """
    prim.jvp_joint = rule


def check_finite(value: Any, what: str) -> None:
    """Raise ``FloatingPointError`` when a floating ``value`` holds NaN or Inf (``debug_nans``)."""
    value = concrete(value)
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

    Operators and array methods are installed by ``funcnn.numpy`` so that a tracer
    behaves like an ``ndarray`` inside user code.
    """

    __slots__ = ("_trace", "primal")
    __array_priority__ = 1000
    __hash__ = None  # type: ignore[assignment]  # like ndarray: == is elementwise

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
        return bool(concrete(self))

    def __float__(self) -> float:
        return float(concrete(self))

    def __int__(self) -> int:
        return int(concrete(self))

    def __index__(self) -> int:
        return int(concrete(self).__index__())

    def __array__(self, dtype: Any = None, copy: Any = None) -> np.ndarray:
        raise TypeError(
            f"a traced value (shape {self.shape}, dtype {self.dtype}) cannot become a NumPy array "
            "inside a transform: that would drop its derivative. Use funcnn.numpy (fnp.X for np.X) "
            "on traced values, or funcnn.stop_gradient if no derivative should flow."
        )

    def __repr__(self) -> str:
        return f"{type(self).__name__}<{self._trace!r}>({concrete(self)!r})"


def concrete(x: Any) -> Any:
    """The plain NumPy value underneath any number of tracers."""
    while isinstance(x, Tracer):
        x = x.primal
    return x


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
    return np.result_type(x) if dtype is None else np.dtype(dtype)


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
        "returned; return values out of the function you differentiate instead of storing them "
        "outside it."
    )


class _TraceStack(threading.local):
    """The active transforms of this thread, innermost last."""

    def __init__(self) -> None:
        self.traces: list[Trace] = []


_stack = _TraceStack()


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
