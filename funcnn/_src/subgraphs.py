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

import math
from typing import Any, Callable, Sequence

import numpy as np

from funcnn import tree_util
from funcnn._src import ops
from funcnn._src.abstract import ShapeDtype
from funcnn._src.core import Tracer, dtype_of
from funcnn._src.graph import Equation, Graph, Var, trace_to_graph


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


def run_graph(graph: Graph, flat: Sequence[Any], into: dict[int, Any] | None = None) -> list[Any]:
    """``graph`` on flat values: a cached plan on plain arrays, ``bind`` on traced ones.

    ``into`` maps output indices to arrays of those outputs' shapes and dtypes: the plan
    writes those outputs there (a loop's stacked results: a view of one step's row), straight
    from the equation that makes them when it can. Plain arrays only.
    """
    if into is None and any(isinstance(x, Tracer) for x in flat):
        return graph.eval_flat(flat)
    from funcnn._src.jit import Plan

    layout = tuple(type(x) is np.ndarray and x.flags.c_contiguous for x in flat)
    key = layout if into is None else (layout, tuple(into))
    plans = _derived(graph, "plans", dict)
    plan = plans.get(key)
    if plan is None:
        c_inputs = [i for i, c in enumerate(layout) if c]
        plan = plans[key] = Plan(graph, c_inputs=c_inputs, into=() if into is None else tuple(into))
    return plan.run(list(flat), () if into is None else list(into.values()))


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


def linearized_graphs(graph: Graph, n_invariant: int) -> tuple[Graph, Graph]:
    """Reverse mode of ``graph`` in two halves, so that a loop keeps residuals instead of
    recomputing each step's forward pass in its backward pass:

    - ``forward(*primals) -> (*outputs, *residuals)``;
    - ``backward(*primals[:n_invariant], *residuals, *output cotangents) -> input cotangents``.

    The first ``n_invariant`` inputs are the same at every step (a loop's constants): values
    computed from them alone are recomputed by ``backward`` (a transpose of a weight) rather
    than kept once per step. Values only ``backward`` needs are computed there too when their
    inputs take no more memory to keep (a derivative ``1 - tanh(x)**2`` from ``tanh(x)``).
    Made once per graph, as :func:`vjp_graph` is.
    """
    def make() -> tuple[Graph, Graph]:
        from funcnn._src.api import vjp

        n, n_out = len(graph.in_vars), len(graph.outputs)
        differentiable = [v.aval.dtype.kind in "fc" for v in graph.in_vars]

        def both(*args: Any) -> list:
            primals, cts = list(args[:n]), list(args[n:])

            def fun(*diff: Any) -> list:
                it = iter(diff)
                return graph.eval_flat([next(it) if d else p for p, d in zip(primals, differentiable)])

            out, pull = vjp(fun, *[p for p, d in zip(primals, differentiable) if d])
            got = iter(pull([ct if _is_float(o) else ops.zeros_like(o) for ct, o in zip(cts, out)]))
            return [next(got) if d else ops.zeros_like(p) for p, d in zip(primals, differentiable)] + list(out)

        avals = [v.aval for v in graph.in_vars] + [_tangent_aval(v.aval) for v in graph.outputs]
        joint = trace_to_graph(both, tuple(avals), {})
        return _split_joint(joint, n, n_out, n_invariant, graph.name)
    return _derived(graph, ("linearized", n_invariant), make)


_INVARIANT, _VARYING, _COTANGENT = 0, 1, 2


def _split_joint(joint: Graph, n: int, n_out: int, n_invariant: int, name: str) -> tuple[Graph, Graph]:
    """Split ``joint`` (``(*primals, *cts) -> (*input cts, *outputs)``) by what each value depends on."""
    kind: dict[Var, int] = {v: _INVARIANT for v in joint.const_vars}
    kind.update({v: _INVARIANT if i < n_invariant else _VARYING for i, v in enumerate(joint.in_vars[:n])})
    kind.update({v: _COTANGENT for v in joint.in_vars[n:]})
    for eq in joint.equations:
        k = max((kind[x] for x in eq.inputs if type(x) is Var), default=_INVARIANT)
        kind.update({v: k for v in eq.outputs})
    input_cts, outputs = joint.outputs[:n], joint.outputs[n:]
    backward_eqs = [eq for eq in joint.equations if kind[eq.outputs[0]] == _COTANGENT]
    backward_eqs += _recomputed(joint, kind, outputs, backward_eqs, input_cts)
    # residuals: values of the forward half that vary per step and that the backward half reads
    made_backward = {v for eq in backward_eqs for v in eq.outputs}
    wanted = [x for eq in backward_eqs for x in eq.inputs] + list(input_cts)
    residuals = list(dict.fromkeys(x for x in wanted if type(x) is Var and kind[x] == _VARYING
                                   and x not in made_backward))
    forward = pruned_graph(joint, joint.in_vars[:n], list(outputs) + residuals, f"{name}_forward")
    backward = pruned_graph(joint, joint.in_vars[:n_invariant] + residuals + joint.in_vars[n:], list(input_cts),
                            f"{name}_backward")
    return forward, backward


def _recomputed(joint: Graph, kind: dict[Var, int], outputs: Sequence[Any], backward_eqs: list[Equation],
                input_cts: Sequence[Any]) -> list[Equation]:
    """The per-step equations the backward half computes itself rather than reading their
    results as residuals: those only the backward half needs (each still runs once a step)
    whose inputs cost no more to keep than their results. A derivative factor such as
    ``1 - tanh(x)**2`` then comes from the residual ``tanh(x)`` the backward half reads
    anyway, and ``h.T`` from ``h``: fewer and contiguous arrays to stack."""
    needed = {x for x in outputs if type(x) is Var}  # what the forward outputs need
    for eq in reversed(joint.equations):
        if any(v in needed for v in eq.outputs):
            needed.update(x for x in eq.inputs if type(x) is Var)
    readers: dict[Var, list[Equation]] = {}
    for eq in joint.equations:
        for x in eq.inputs:
            if type(x) is Var:
                readers.setdefault(x, []).append(eq)
    backward_ids = {id(eq) for eq in backward_eqs}
    stored = {x for eq in backward_eqs for x in eq.inputs if type(x) is Var and kind[x] == _VARYING}
    stored.update(x for x in input_cts if type(x) is Var and kind[x] == _VARYING)
    moved: list[Equation] = []
    for eq in reversed(joint.equations):
        if kind[eq.outputs[0]] != _VARYING or any(v in needed for v in eq.outputs):
            continue
        if not all(id(r) in backward_ids for v in eq.outputs for r in readers.get(v, [])):
            continue
        gained = {x for x in eq.inputs if type(x) is Var and kind[x] == _VARYING and x not in stored}
        lost = [v for v in eq.outputs if v in stored]
        if sum(_nbytes(x) for x in gained) <= sum(_nbytes(v) for v in lost):
            moved.append(eq)
            backward_ids.add(id(eq))
            stored.difference_update(lost)
            stored.update(gained)
    return moved[::-1]


def _nbytes(x: Var) -> int:
    return math.prod(x.aval.shape) * x.aval.dtype.itemsize


def pruned_graph(joint: Graph, in_vars: list[Var], outputs: list[Any], name: str) -> Graph:
    """The graph ``in_vars -> outputs`` (values of ``joint``): the equations of ``joint`` they need."""
    known = set(in_vars)
    needed = {x for x in outputs if type(x) is Var and x not in known}
    kept = []
    for eq in reversed(joint.equations):
        if any(v in needed for v in eq.outputs):
            kept.append(eq)
            needed.update(x for x in eq.inputs if type(x) is Var and x not in known)
    kept.reverse()
    in_tree = tree_util.tree_structure((tuple(range(len(in_vars))), {}))
    out_tree = tree_util.tree_structure(list(range(len(outputs))))
    consts = list(zip(joint.const_values, joint.const_vars))
    return Graph(list(in_vars), consts, kept, list(outputs), in_tree, out_tree, {}, name)


def select_outputs(graph: Graph, keep: Sequence[int], name: str | None = None) -> Graph:
    """``graph`` computing only its outputs at ``keep`` (and only the equations they need)."""
    return pruned_graph(graph, graph.in_vars, [graph.outputs[i] for i in keep], name or graph.name)


def _tangent_aval(aval: ShapeDtype) -> ShapeDtype:
    return ShapeDtype(aval.shape, aval.dtype)


def _is_float(x: Any) -> bool:
    return dtype_of(x).kind in "fc"


def is_var(x: Any) -> bool:
    return type(x) is Var
