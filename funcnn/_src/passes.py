"""Graph optimizations: each takes a :class:`Graph` and returns an equivalent one.

* :func:`fold_constants` computes, once, the equations whose inputs are all constants
  (the seed of a backward pass, masks of closed-over arrays), so no replay repeats them.
* :func:`eliminate_common` merges equations that apply the same primitive with the same
  params to the same inputs (a ``relu`` mask recomputed by its derivative, ``x.T`` taken
  twice): the later one reuses the earlier one's outputs.
* :func:`eliminate_dead` drops equations no output depends on: the loss value ``grad``
  discards, the keys ``serial`` derives for layers that draw nothing.

Primitives are pure functions of their operands and params (random ones too: a draw is a
function of its key), so these rewrites never change a result. ``check_values`` is pure
as well: it is the identity on its operand, so it stays exactly where its output is used.
"""
from __future__ import annotations

from typing import Any

import numpy as np

from funcnn._src.abstract import aval_of
from funcnn._src.core import Tracer
from funcnn._src.graph import Atom, Equation, Graph, Literal, Var

# a folded result larger than this stays an equation: holding it would cost more memory than it saves time
_FOLD_LIMIT_BYTES = 1 << 22


def optimize(graph: Graph) -> Graph:
    """The passes in the order that lets each help the next."""
    return eliminate_dead(eliminate_common(fold_constants(graph)))


def _rebuild(graph: Graph, equations: list[Equation], replace: dict[Var, Atom],
             consts: list[tuple[Any, Var]] | None = None) -> Graph:
    """``graph`` with new equations, its atoms renamed by ``replace``, and maybe new constants."""
    def atom(x: Atom) -> Atom:
        return replace.get(x, x) if type(x) is Var else x

    new_eqs = [eq._replace(inputs=tuple(atom(x) for x in eq.inputs)) for eq in equations]
    outputs = [atom(x) for x in graph.outputs]
    old = list(zip(graph.const_values, graph.const_vars))
    result = Graph(graph.in_vars, old + (consts or []), new_eqs, outputs, graph.in_tree, graph.out_tree,
                   graph.static, graph.name)
    return _without_unused_consts(result)


def _without_unused_consts(graph: Graph) -> Graph:
    used = {x for eq in graph.equations for x in eq.inputs if type(x) is Var}
    used |= {x for x in graph.outputs if type(x) is Var}
    kept = [(v, c) for v, c in zip(graph.const_values, graph.const_vars) if c in used]
    if len(kept) == len(graph.const_vars):
        return graph
    return Graph(graph.in_vars, kept, graph.equations, graph.outputs, graph.in_tree, graph.out_tree,
                 graph.static, graph.name)


# --- constant folding --------------------------------------------------------------------------


def fold_constants(graph: Graph) -> Graph:
    """Evaluate, at compile time, every equation whose inputs are all constants."""
    known: dict[Var, Any] = {v: c for v, c in zip(graph.const_vars, graph.const_values)
                             if not isinstance(c, Tracer)}
    replace: dict[Var, Atom] = {}
    consts: list[tuple[Any, Var]] = []
    kept: list[Equation] = []
    for eq in graph.equations:
        inputs = [replace.get(x, x) if type(x) is Var else x for x in eq.inputs]
        if not all(type(x) is Literal or x in known for x in inputs):  # type: ignore[operator]
            kept.append(eq)
            continue
        values = [x.value if type(x) is Literal else known[x] for x in inputs]  # type: ignore[index, union-attr]
        out = eq.prim.bind(*values, **eq.params)
        outs = out if eq.prim.multiple_results else (out,)
        if any(np.asarray(o).nbytes > _FOLD_LIMIT_BYTES for o in outs):
            kept.append(eq)
            continue
        for var, value in zip(eq.outputs, outs):
            known[var] = value
            if np.ndim(value) == 0:
                replace[var] = Literal(np.asarray(value))
            else:
                new = Var(aval_of(value))
                consts.append((value, new))
                replace[var] = new
                known[new] = value
    return _rebuild(graph, kept, replace, consts)


# --- common subexpressions ----------------------------------------------------------------------


def _key(eq: Equation, inputs: tuple) -> Any:
    """What makes two equations compute the same thing, or ``None`` when it cannot be told cheaply."""
    parts: list[tuple] = []
    for x in inputs:
        if type(x) is Var:
            parts.append(("var", id(x)))
        else:
            value = np.asarray(x.value)
            if value.ndim or value.dtype == object:
                return None
            parts.append(("lit", type(x.value).__name__, value.dtype.str, value.tobytes()))
    try:
        params = tuple(sorted(eq.params.items()))
        hash(params)
    except TypeError:
        return None
    return eq.prim, tuple(parts), params


def eliminate_common(graph: Graph) -> Graph:
    """Replace an equation by an earlier identical one (same primitive, params and inputs)."""
    seen: dict[Any, Equation] = {}
    replace: dict[Var, Atom] = {}
    kept: list[Equation] = []
    for eq in graph.equations:
        inputs = tuple(replace.get(x, x) if type(x) is Var else x for x in eq.inputs)
        key = _key(eq, inputs)
        earlier = seen.get(key) if key is not None else None
        if earlier is not None:
            replace.update(zip(eq.outputs, earlier.outputs))
            continue
        new = eq._replace(inputs=inputs)
        if key is not None:
            seen[key] = new
        kept.append(new)
    return _rebuild(graph, kept, replace)


# --- dead code ----------------------------------------------------------------------------------


def eliminate_dead(graph: Graph) -> Graph:
    """Keep only the equations some output depends on."""
    live = {x for x in graph.outputs if type(x) is Var}
    kept: list[Equation] = []
    for eq in reversed(graph.equations):
        if any(v in live for v in eq.outputs):
            kept.append(eq)
            live.update(x for x in eq.inputs if type(x) is Var)
    return _rebuild(graph, kept[::-1], {})
