"""Graph capture: run a function on abstract values and record the primitives it applies.

``make_graph(fun)(*args)`` pushes a :class:`GraphTrace` and calls ``fun`` on
:class:`GraphTracer` values, which hold a shape and a dtype (a ``ShapeDtype``) but no
data. Each primitive bound on them is processed by its abstract evaluation rule and
recorded as an :class:`Equation` ``outputs = prim[params] inputs``; no arithmetic runs.
The result is a :class:`Graph`: its inputs, constants, equations and outputs, with the
pytree structures of the arguments and results.

Values the function meets that are not traced become constants of the graph: Python
numbers and 0-d arrays inline (as :class:`Literal`), other arrays as constant variables.
Replaying a graph binds the same primitives with the same params on the same values in
the same order, so it gives the eager result bit for bit, and under ``grad`` or ``jvp``
it is differentiated like the code it came from. Printing and drawing are in
``graph_text.py``.
"""
from __future__ import annotations

import functools
from typing import Any, Callable, NamedTuple, Sequence

import numpy as np

from funcnn import tree_util
from funcnn._src.abstract import ShapeDtype, abstract_eval, aval_of
from funcnn._src.core import Primitive, Trace, Tracer, new_trace

_PYTHON_SCALARS = (bool, int, float, complex)


class Var:
    """A value of a graph: the result of one equation, an input or a constant."""

    __slots__ = ("aval",)

    def __init__(self, aval: ShapeDtype) -> None:
        self.aval = aval

    def __repr__(self) -> str:
        return f"Var({self.aval})"


class Literal:
    """A constant written inline: a Python number (weak) or a 0-d NumPy value."""

    __slots__ = ("value", "aval")

    def __init__(self, value: Any) -> None:
        self.value = value
        self.aval = aval_of(value)

    def __repr__(self) -> str:
        return f"Literal({self.value!r})"


Atom = Var | Literal


class Equation(NamedTuple):
    """One primitive application: ``outputs = prim[params] inputs``."""

    prim: Primitive
    inputs: tuple[Atom, ...]
    params: dict[str, Any]
    outputs: tuple[Var, ...]


class GraphTracer(Tracer):
    """A traced value with no data: a variable of the graph being recorded."""

    __slots__ = ("var", "aval")
    abstract = True

    def __init__(self, trace: "GraphTrace", var: Var) -> None:
        self._trace = trace
        self.primal = None
        self.var = var
        self.aval = var.aval

    @property
    def shape(self) -> tuple[int, ...]:
        return self.aval.shape

    @property
    def dtype(self) -> np.dtype:
        return self.aval.dtype

    @property
    def weak_type(self) -> bool:
        return self.aval.weak_type


class GraphTrace(Trace):
    """Records equations instead of computing."""

    __slots__ = ("equations", "consts", "finished")

    def __init__(self, level: int) -> None:
        super().__init__(level)
        self.equations: list[Equation] = []
        self.consts: dict[int, tuple[Any, Var]] = {}  # id(value) -> (value, its variable)
        self.finished = False

    def process(self, prim: Primitive, args: Sequence[Any], params: dict) -> Any:
        if self.finished:
            raise RuntimeError(
                f"a value traced by make_graph (or jit) was used after the trace ended, in {prim.name}; "
                "return values out of the traced function instead of storing them outside it")
        inputs = tuple(self.atom(a) for a in args)
        out = abstract_eval(prim, [x.aval for x in inputs], params)
        outputs = tuple(Var(a) for a in out) if prim.multiple_results else (Var(out),)
        self.equations.append(Equation(prim, inputs, params, outputs))
        tracers = tuple(GraphTracer(self, v) for v in outputs)
        return tracers if prim.multiple_results else tracers[0]

    def atom(self, x: Any) -> Atom:
        """How the graph refers to ``x``: its variable if traced here, else a constant."""
        if type(x) is GraphTracer and x._trace is self:
            return x.var
        if type(x) in _PYTHON_SCALARS or isinstance(x, np.generic):
            return Literal(x)
        if isinstance(x, np.ndarray) and x.ndim == 0:
            return Literal(x.copy())  # a copy: the caller may change its array later
        held = self.consts.get(id(x))
        if held is None:
            value = x if isinstance(x, (np.ndarray, Tracer)) else np.asarray(x)
            held = self.consts[id(x)] = (value, Var(aval_of(value)))
        return held[1]


class Graph:
    """A captured computation: inputs, constants, equations and outputs.

    Call it like the function it came from (``graph(*args, **kwargs)``) to replay it;
    ``str(graph)`` is a listing, ``graph.to_dot()`` a Graphviz drawing.
    """

    def __init__(self, in_vars: list[Var], consts: list[tuple[Any, Var]], equations: list[Equation],
                 outputs: list[Atom], in_tree: Any, out_tree: Any, static: dict[int, Any], name: str) -> None:
        self.in_vars = in_vars
        self.const_values = [value for value, _ in consts]
        self.const_vars = [var for _, var in consts]
        self.equations = equations
        self.outputs = outputs
        self.in_tree = in_tree
        self.out_tree = out_tree
        self.static = static
        self.name = name
        self._drops: list[list[Var]] | None = None

    @property
    def in_avals(self) -> list[ShapeDtype]:
        return [v.aval for v in self.in_vars]

    @property
    def out_avals(self) -> list[ShapeDtype]:
        return [a.aval for a in self.outputs]

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        """Replay the graph on new arguments of the traced shapes and dtypes."""
        flat = self.flat_inputs(args, kwargs)
        return tree_util.tree_unflatten(self.out_tree, self.eval_flat(flat))

    def flat_inputs(self, args: tuple, kwargs: dict) -> list[Any]:
        """The dynamic leaves of a call, checked against what was traced."""
        for i, value in self.static.items():
            if i >= len(args) or not _same_static(args[i], value):
                given = "nothing" if i >= len(args) else repr(args[i])
                raise ValueError(f"{self.name}: static argument {i} was {value!r} when the graph was traced, "
                                 f"but {given} now; trace again for the new value")
        dyn = tuple(a for i, a in enumerate(args) if i not in self.static)
        with_path, tree = tree_util.tree_flatten_with_path((dyn, kwargs))
        if tree != self.in_tree:
            raise ValueError(f"{self.name}: the arguments' structure {tree} differs from the traced one "
                             f"{self.in_tree}")
        for (path, leaf), aval in zip(with_path, self.in_avals):
            _check_input(leaf, aval, path, self.name)
        return [leaf for _, leaf in with_path]

    def eval_flat(self, flat_args: Sequence[Any]) -> list[Any]:
        """Bind each equation's primitive in order; each value is dropped after its last use."""
        env: dict[Var, Any] = dict(zip(self.in_vars, flat_args))
        env.update(zip(self.const_vars, self.const_values))
        for eq, drops in zip(self.equations, self._last_uses()):
            vals = [env[x] if type(x) is Var else x.value for x in eq.inputs]  # type: ignore[union-attr]
            out = eq.prim.bind(*vals, **eq.params)
            if eq.prim.multiple_results:
                env.update(zip(eq.outputs, out))
            else:
                env[eq.outputs[0]] = out
            for var in drops:
                del env[var]
        return [_output_value(x, env, self.const_vars) for x in self.outputs]

    def _last_uses(self) -> list[list[Var]]:
        """For each equation, the variables no later equation or output needs."""
        if self._drops is None:
            keep = {x for x in self.outputs if type(x) is Var}
            seen: set[Var] = set()
            drops: list[list[Var]] = []
            for eq in reversed(self.equations):
                here = []
                for x in eq.inputs:
                    if type(x) is Var and x not in seen and x not in keep:
                        seen.add(x)
                        here.append(x)
                drops.append(here)
            self._drops = drops[::-1]
        return self._drops

    def __str__(self) -> str:
        from funcnn._src.graph_text import listing

        return listing(self)

    def __repr__(self) -> str:
        return f"<Graph {self.name}: {len(self.in_vars)} inputs, {len(self.equations)} equations>"

    def to_dot(self) -> str:
        """The graph as Graphviz DOT text (render it with ``dot -Tsvg``)."""
        from funcnn._src.graph_text import dot

        return dot(self)


def _same_static(given: Any, traced: Any) -> bool:
    if given is traced:
        return True
    try:
        return bool(given == traced)
    except Exception:  # an array compared elementwise, or a type that refuses: not the same
        return False


def _check_input(leaf: Any, aval: ShapeDtype, path: Any, name: str) -> None:
    where = tree_util.keystr(path) or "the top level"
    if aval.weak_type:
        if type(leaf) not in _PYTHON_SCALARS or np.result_type(leaf) != aval.dtype:
            raise TypeError(f"{name}: the input at {where} was traced as a Python number ({aval.dtype}); pass "
                            f"one again (got {type(leaf).__name__})")
        return
    got = aval_of(leaf)
    if got.shape != aval.shape or got.dtype != aval.dtype or got.weak_type:
        raise TypeError(f"{name}: the input at {where} is {got.short()} but the graph was traced for {aval.short()}; "
                        "trace again for new shapes or dtypes")


def _output_value(x: Atom, env: dict, const_vars: list[Var]) -> Any:
    if type(x) is Literal:
        return x.value
    value = env[x]
    if x in const_vars and isinstance(value, np.ndarray):
        return value.copy()  # never hand out the graph's own constant: the caller may write to it
    return value


# --- capture ---------------------------------------------------------------------------------


def make_graph(fun: Callable, static_argnums: int | Sequence[int] = ()) -> Callable[..., Graph]:
    """A function that traces ``fun`` on its arguments' shapes and dtypes and returns the :class:`Graph`.

    Array arguments (and ``ShapeDtype`` stand-ins) become graph inputs, as do Python
    numbers (weakly typed, as NumPy treats them); arguments at ``static_argnums`` are
    fixed at the values given. Nothing is computed: only shapes and dtypes flow.

    >>> import numpy as np, funcnn as fn, funcnn.numpy as fnp
    >>> graph = fn.make_graph(lambda x, w: fnp.tanh(x @ w))(np.ones((2, 3), np.float32), np.ones((3, 4), np.float32))
    >>> print(graph)
    { lambda ; a:f32[2,3] b:f32[3,4]. let
        c:f32[2,4] = matmul a b
        d:f32[2,4] = tanh c
      in (d,) }
    >>> graph(np.ones((2, 3), np.float32), np.ones((3, 4), np.float32))[0, 0]
    np.float32(0.9950548)
    """
    static = _static_argnums(static_argnums)

    @functools.wraps(fun)
    def graph_of(*args: Any, **kwargs: Any) -> Graph:
        return trace_to_graph(fun, args, kwargs, static)
    return graph_of


def trace_to_graph(fun: Callable, args: tuple, kwargs: dict, static: tuple[int, ...] = ()) -> Graph:
    """Trace ``fun(*args, **kwargs)`` into a :class:`Graph` (``static``: positions fixed as given)."""
    name = getattr(fun, "__name__", type(fun).__name__)
    for i in static:
        if i >= len(args):
            raise ValueError(f"make_graph({name}): static_argnums names argument {i}, but the call has "
                             f"{len(args)} positional argument(s)")
    dyn = tuple(a for i, a in enumerate(args) if i not in static)
    with_path, in_tree = tree_util.tree_flatten_with_path((dyn, kwargs))
    avals = [_input_aval(leaf, path, name) for path, leaf in with_path]
    in_vars = [Var(a) for a in avals]
    with new_trace(GraphTrace) as trace:
        try:
            tracers = iter([GraphTracer(trace, v) for v in in_vars])
            dyn_in, kwargs_in = tree_util.tree_unflatten(in_tree, tracers)
            dyn_iter = iter(dyn_in)
            full = [args[i] if i in static else next(dyn_iter) for i in range(len(args))]
            out_flat, out_tree = tree_util.tree_flatten(fun(*full, **kwargs_in))
            outputs = [_output_atom(trace, o, i, name) for i, o in enumerate(out_flat)]
        finally:
            trace.finished = True
    return Graph(in_vars, list(trace.consts.values()), trace.equations, outputs, in_tree, out_tree,
                 {i: args[i] for i in static}, name)


def _static_argnums(static_argnums: int | Sequence[int]) -> tuple[int, ...]:
    nums = (static_argnums,) if isinstance(static_argnums, int) else tuple(static_argnums)
    for n in nums:
        if not isinstance(n, int) or n < 0:
            raise ValueError(f"static_argnums must be non-negative ints; got {static_argnums!r}")
    return tuple(sorted(set(nums)))


def _input_aval(leaf: Any, path: Any, name: str) -> ShapeDtype:
    if isinstance(leaf, (ShapeDtype, Tracer, np.ndarray, np.generic)) or type(leaf) in _PYTHON_SCALARS:
        return aval_of(leaf)
    where = tree_util.keystr(path) or "the top level"
    raise TypeError(f"make_graph({name}): the argument leaf at {where} is a {type(leaf).__name__}, not an array "
                    "or number; pass it through static_argnums (or close over it) if it is not data")


def _output_atom(trace: GraphTrace, out: Any, i: int, name: str) -> Atom:
    if isinstance(out, (Tracer, np.ndarray, np.generic)) or type(out) in _PYTHON_SCALARS:
        return trace.atom(out)
    raise TypeError(f"make_graph({name}): output leaf {i} is a {type(out).__name__}, not an array or number")


def eval_graph(graph: Graph, *args: Any, **kwargs: Any) -> Any:
    """Replay ``graph`` on ``args`` (the same as ``graph(*args, **kwargs)``)."""
    return graph(*args, **kwargs)


def eval_shape(fun: Callable, *args: Any, **kwargs: Any) -> Any:
    """The shapes and dtypes ``fun(*args, **kwargs)`` would return, as ``ShapeDtype`` leaves,
    computed without running it on data (arguments may be ``ShapeDtype`` stand-ins).

    >>> import numpy as np, funcnn as fn
    >>> fn.eval_shape(lambda x: x.sum(axis=0), fn.ShapeDtype((100_000, 784), np.float32))
    ShapeDtype(shape=(784,), dtype=float32)
    """
    graph = trace_to_graph(fun, args, kwargs)
    return tree_util.tree_unflatten(graph.out_tree, graph.out_avals)
