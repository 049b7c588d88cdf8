"""Graphs as parameters of primitives: what control flow (``cond``, ``scan``, ...) needs.

A primitive that carries a function as a param carries its :class:`Graph`. Three things
make that work:

* :func:`closed_graph` traces a function of flat values and turns every *traced* value
  it closes over (a weight inside ``grad``, an outer graph's value) into an extra leading
  input, returned with the graph. The primitive takes those as operands, so every
  transform sees them: a gradient reaches a closed-over weight, a graph records the use.
* :func:`run_graph` evaluates a graph on flat values: through ``bind`` when any is traced,
  else through a compiled plan (generated once per graph and argument layouts).
* :func:`jvp_graph` and :func:`vjp_graph` are the graphs of a graph's derivatives, traced
  once per graph, so the rules of control-flow primitives are control-flow primitives
  over them (and derivatives of every order follow).
"""
from __future__ import annotations

from typing import Any, Callable, Sequence

import numpy as np

from funcnn._src import ops
from funcnn._src.abstract import ShapeDtype
from funcnn._src.core import Tracer, dtype_of
from funcnn._src.graph import Graph, Var, trace_to_graph


def closed_graph(fun: Callable[..., Sequence[Any]], avals: Sequence[ShapeDtype],
                 name: str = "fun") -> tuple[Graph, list[Any]]:
    """Trace ``fun(*flat) -> list of leaves`` on ``avals``; traced constants become leading inputs.

    Returns the graph, whose inputs are ``(*traced_constants, *flat)``, and those constants.
    """
    graph = trace_to_graph(fun, tuple(avals), {})
    graph.name = name
    traced = [(v, c) for c, v in zip(graph.const_values, graph.const_vars) if isinstance(c, Tracer)]
    if not traced:
        return graph, []
    kept = [(c, v) for c, v in zip(graph.const_values, graph.const_vars) if not isinstance(c, Tracer)]
    moved = Graph([v for v, _ in traced] + graph.in_vars, kept, graph.equations, graph.outputs,
                  graph.in_tree, graph.out_tree, graph.static, name)
    return moved, [c for _, c in traced]


def run_graph(graph: Graph, flat: Sequence[Any]) -> list[Any]:
    """``graph`` on flat values: a cached plan on plain arrays, ``bind`` on traced ones."""
    if any(isinstance(x, Tracer) for x in flat):
        return graph.eval_flat(flat)
    from funcnn._src.jit import Plan

    layout = tuple(type(x) is np.ndarray and x.flags.c_contiguous for x in flat)
    plans = _derived(graph, "plans", dict)
    plan = plans.get(layout)
    if plan is None:
        plan = plans[layout] = Plan(graph, c_inputs=[i for i, c in enumerate(layout) if c])
    return plan.run(list(flat))


def trace_graph(fun: Callable[..., Sequence[Any]], avals: Sequence[ShapeDtype], name: str = "fun") -> Graph:
    """The graph of ``fun(*flat) -> list of leaves`` on ``avals`` (closed-over values stay constants)."""
    graph = trace_to_graph(fun, tuple(avals), {})
    graph.name = name
    return graph


def derived(graph: Graph, what: Any, make: Callable[[], Any]) -> Any:
    """A value derived from ``graph`` (a plan, a derivative's graph), made once and kept on it."""
    return _derived(graph, what, make)


def _derived(graph: Graph, what: Any, make: Callable[[], Any]) -> Any:
    """A value derived from ``graph`` (its plans, its derivatives' graphs), made once and kept on it."""
    store = graph.__dict__.setdefault("_derived", {})
    if what not in store:
        store[what] = make()
    return store[what]


def jvp_graph(graph: Graph, nonzero: tuple[bool, ...]) -> Graph:
    """The graph ``(*primals, *tangents of the nonzero inputs) -> (*outputs, *output tangents)``
    (an integer input's tangent, if given, is ignored; an integer output's tangent is zeros)."""
    def make() -> Graph:
        from funcnn._src.api import jvp

        n = len(graph.in_vars)
        moving = [nz and v.aval.dtype.kind in "fc" for v, nz in zip(graph.in_vars, nonzero)]

        def forward(*args: Any) -> list:
            primals = list(args[:n])
            given = iter(args[n:])
            tangents = [next(given) if nz else None for nz in nonzero]
            chosen = [p for p, m in zip(primals, moving) if m]

            def fun(*diff: Any) -> list:
                it = iter(diff)
                return graph.eval_flat([next(it) if m else p for p, m in zip(primals, moving)])

            outs, out_tangents = jvp(fun, chosen, [t for t, m in zip(tangents, moving) if m])
            return list(outs) + [t if _is_float(o) else ops.zeros_like(o) for t, o in zip(out_tangents, outs)]

        avals = [v.aval for v in graph.in_vars]
        tangent_avals = [_tangent_aval(a) for a, nz in zip(avals, nonzero) if nz]
        return trace_to_graph(forward, tuple(avals + tangent_avals), {})
    return _derived(graph, ("jvp", nonzero), make)


def vjp_graph(graph: Graph) -> Graph:
    """The graph ``(*primals, *output cotangents) -> input cotangents`` (zeros for inputs that
    get none; integer inputs get integer zeros)."""
    def make() -> Graph:
        from funcnn._src.api import vjp

        n = len(graph.in_vars)
        differentiable = [v.aval.dtype.kind in "fc" for v in graph.in_vars]

        def backward(*args: Any) -> list:
            primals, cts = list(args[:n]), list(args[n:])
            chosen = [p for p, d in zip(primals, differentiable) if d]

            def fun(*diff: Any) -> list:
                full, it = [], iter(diff)
                for p, d in zip(primals, differentiable):
                    full.append(next(it) if d else p)
                return graph.eval_flat(full)

            out, pull = vjp(fun, *chosen)
            got = iter(pull([ct if _is_float(o) else ops.zeros_like(o) for ct, o in zip(cts, out)]))
            return [next(got) if d else ops.zeros_like(p) for p, d in zip(primals, differentiable)]

        avals = [v.aval for v in graph.in_vars] + [_tangent_aval(v.aval) for v in graph.outputs]
        return trace_to_graph(backward, tuple(avals), {})
    return _derived(graph, "vjp", make)


def _tangent_aval(aval: ShapeDtype) -> ShapeDtype:
    return ShapeDtype(aval.shape, aval.dtype)


def _is_float(x: Any) -> bool:
    return dtype_of(x).kind in "fc"


def is_var(x: Any) -> bool:
    return type(x) is Var
