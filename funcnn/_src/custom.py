"""``custom_vjp``: a function whose reverse-mode derivative is given by the user.

Called on traced values, a ``custom_vjp`` function binds the primitive
``custom_vjp_call``, whose params are three graphs traced from the user's functions on
the arguments' shapes and dtypes: ``fun`` (the function), ``fwd`` (returning the output
and the residuals, flattened) and ``bwd`` (residuals and output cotangents in, one
cotangent per input leaf out). It is an ordinary primitive, so every trace handles it
through its rule tables: evaluating it replays ``fun``; its abstract value is ``fun``'s
outputs; its VJP rule replays ``fwd`` one level down and ``bwd`` in the backward pass,
so outer transforms differentiate through both as ordinary code (as JAX does). Forward
mode cannot use a VJP rule and raises. Called on plain values it just calls ``fun``.
"""
from __future__ import annotations

import functools
from typing import Any, Callable, NamedTuple

import numpy as np

from funcnn import tree_util
from funcnn._src.abstract import ShapeDtype, aval_of, def_abstract_eval
from funcnn._src.batching import batch_graph, def_batch, to_front
from funcnn._src.core import Primitive, Tracer
from funcnn._src.forward import def_jvp_joint
from funcnn._src.graph import Graph, trace_to_graph
from funcnn._src.ops import zeros_like
from funcnn._src.reverse import def_vjp_rule


class LazyGraph:
    """A graph traced on first use: ``bwd`` is traced only when reverse mode needs it, so that
    a forward-only use never runs it (and its errors surface where JAX's do)."""

    def __init__(self, trace: Callable[[], Graph]) -> None:
        self._trace: Callable[[], Graph] | None = trace
        self._graph: Graph | None = None

    @property
    def graph(self) -> Graph:
        if self._graph is None:
            assert self._trace is not None
            self._graph, self._trace = self._trace(), None
        return self._graph

    def short(self) -> str:
        if self._graph is None:
            return "(traced when reverse mode needs it)"
        return f"<{len(self._graph.equations)} equations>"


class _Graphs(NamedTuple):
    fun: Graph
    fwd: Graph
    bwd: LazyGraph
    out_tree: Any  # the structure of the function's output


class custom_vjp:  # noqa: N801  (a decorator, named like JAX's)
    """Decorate ``fun`` and give its VJP with ``fun.defvjp(fwd, bwd)``.

    ``fwd(*args) -> (out, residuals)``; ``bwd(residuals, g) -> tuple`` with one cotangent
    (a pytree like the argument, or ``None`` for zero) per positional argument.

    >>> import numpy as np, funcnn as fn, funcnn.numpy as fnp
    >>> @fn.custom_vjp
    ... def clip_gradient(x):
    ...     return x
    >>> clip_gradient.defvjp(lambda x: (x, None), lambda res, g: (fnp.clip(g, -1.0, 1.0),))
    >>> fn.grad(lambda x: fnp.sum(5.0 * clip_gradient(x)))(np.array([1.0, 2.0]))
    array([1., 1.])
    """

    __name__: str

    def __init__(self, fun: Callable) -> None:
        functools.update_wrapper(self, fun)
        self.fun = fun
        self.fwd: Callable | None = None
        self.bwd: Callable | None = None
        self._cache: dict[Any, _Graphs] = {}

    def defvjp(self, fwd: Callable, bwd: Callable) -> None:
        """Set the forward function (returning ``(out, residuals)``) and the backward one."""
        self.fwd, self.bwd = fwd, bwd
        self._cache.clear()

    def __call__(self, *args: Any) -> Any:
        if self.fwd is None or self.bwd is None:
            raise TypeError(f"custom_vjp function {self.__name__}: call .defvjp(fwd, bwd) before using it")
        flat, in_tree = tree_util.tree_flatten(args)
        if not any(isinstance(x, Tracer) for x in flat):
            return self.fun(*args)
        graphs = self._graphs(flat, in_tree)
        out = custom_vjp_call_p.bind(*flat, fun=graphs.fun, fwd=graphs.fwd, bwd=graphs.bwd, name=self.__name__)
        return tree_util.tree_unflatten(graphs.out_tree, out)

    def _graphs(self, flat: list, in_tree: Any) -> _Graphs:
        """The three graphs for arguments of these shapes and dtypes, traced once and kept
        (unless they close over values of an enclosing transform)."""
        avals = tuple(aval_of(x).strong() for x in flat)
        key = (in_tree, avals)
        graphs = self._cache.get(key)
        if graphs is None:
            graphs = _trace(self, in_tree, avals)
            consts = graphs.fun.const_values + graphs.fwd.const_values
            if not any(isinstance(c, Tracer) for c in consts):
                self._cache[key] = graphs
        return graphs


def _trace(cv: custom_vjp, in_tree: Any, avals: tuple[ShapeDtype, ...]) -> _Graphs:
    name = cv.__name__
    res_tree = out_tree = None

    def fun(*flat: Any) -> list:
        nonlocal out_tree
        leaves, out_tree = tree_util.tree_flatten(cv.fun(*tree_util.tree_unflatten(in_tree, flat)))
        return leaves

    def fwd(*flat: Any) -> list:
        nonlocal res_tree
        out, residuals = _pair(cv.fwd(*tree_util.tree_unflatten(in_tree, flat)), name)  # type: ignore[misc]
        res_leaves, res_tree = tree_util.tree_flatten(residuals)
        return tree_util.tree_leaves(out) + res_leaves

    fun_graph = trace_to_graph(fun, avals, {})
    fwd_graph = trace_to_graph(fwd, avals, {})
    out_avals = fun_graph.out_avals
    res_avals = fwd_graph.out_avals[len(out_avals):]

    def bwd(*flat: Any) -> list:
        assert res_tree is not None and out_tree is not None
        residuals = tree_util.tree_unflatten(res_tree, flat[:len(res_avals)])
        g = tree_util.tree_unflatten(out_tree, flat[len(res_avals):])
        return _flat_cotangents(cv, cv.bwd(residuals, g), in_tree, avals)  # type: ignore[misc]

    bwd_graph = LazyGraph(lambda: trace_to_graph(bwd, tuple(res_avals) + tuple(out_avals), {}))
    return _Graphs(fun_graph, fwd_graph, bwd_graph, out_tree)


def _pair(result: Any, name: str) -> tuple[Any, Any]:
    if not (isinstance(result, (tuple, list)) and len(result) == 2):
        raise TypeError(f"custom_vjp function {name}: fwd must return a pair (output, residuals); it returned "
                        f"a {type(result).__name__}")
    return result[0], result[1]


def _flat_cotangents(cv: custom_vjp, cts: Any, in_tree: Any, avals: tuple[ShapeDtype, ...]) -> list:
    """``bwd``'s cotangents, flattened like the inputs; ``None`` entries become zeros."""
    args = tree_util.tree_unflatten(in_tree, avals)
    if not isinstance(cts, (tuple, list)) or len(cts) != len(args):
        raise TypeError(f"custom_vjp function {cv.__name__}: bwd must return a tuple with one cotangent per "
                        f"positional argument ({len(args)}); it returned {type(cts).__name__}")
    flat = []
    for arg, ct in zip(args, cts):
        if ct is None:
            flat += [np.zeros(a.shape, a.dtype) for a in tree_util.tree_leaves(arg)]
        else:
            tree_util.check_same_structure(arg, ct, what=f"custom_vjp {cv.__name__}: argument and its cotangent")
            flat += tree_util.tree_leaves(ct)
    return flat


# --- the primitive -----------------------------------------------------------------------------


def _impl(*flat: Any, fun: Graph, fwd: Graph, bwd: LazyGraph, name: str) -> list:
    return fun.eval_flat(flat)


def _vjp_rule(wanted: tuple, *flat: Any, fun: Graph, fwd: Graph, bwd: LazyGraph, name: str) -> tuple:
    n_out = len(fun.outputs)
    results = fwd.eval_flat(flat)
    out, residuals = tuple(results[:n_out]), results[n_out:]

    def pullback(g: tuple) -> list:
        cts = [zeros_like(o) if t is None else t for t, o in zip(g, out)]
        return bwd.graph.eval_flat(list(residuals) + cts)
    return out, pullback


def _no_jvp(tangents: list, ans: Any, *flat: Any, name: str, **graphs: Any) -> Any:
    raise TypeError(f"can't apply forward-mode differentiation (jvp, jacfwd) to the custom_vjp function {name}; "
                    "use reverse mode (grad, vjp, jacrev)")


custom_vjp_call_p = Primitive("custom_vjp_call", _impl, multiple_results=True)
def_abstract_eval(custom_vjp_call_p, lambda *avals, fun, fwd, bwd, name: tuple(fun.out_avals))
def_vjp_rule(custom_vjp_call_p, _vjp_rule)
def_jvp_joint(custom_vjp_call_p, _no_jvp)


def _batch_rule(size: int, flat: Any, dims: tuple, fun: Graph, fwd: Graph, bwd: LazyGraph, name: str) -> tuple:
    """A batch of calls is one call of the batched graphs: every input, output, residual and
    cotangent gets the batch axis first (those shared by all examples are broadcast), so the
    user's ``bwd`` keeps seeing one example's values."""
    every_in = (True,) * len(flat)
    fun_b, _ = batch_graph(fun, size, every_in, (True,) * len(fun.outputs))
    fwd_b, _ = batch_graph(fwd, size, every_in, (True,) * len(fwd.outputs))
    n_bwd_in = len(fwd.outputs)  # residuals and output cotangents
    bwd_b = LazyGraph(lambda: batch_graph(bwd.graph, size, (True,) * n_bwd_in, every_in)[0])
    moved = [to_front(x, d, size) for x, d in zip(flat, dims)]
    out = custom_vjp_call_p.bind(*moved, fun=fun_b, fwd=fwd_b, bwd=bwd_b, name=name)
    return out, (0,) * len(out)


def_batch(custom_vjp_call_p, _batch_rule)
