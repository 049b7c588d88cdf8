"""Sums over a loop's steps taken as one contraction after the loop.

A loop's reverse mode adds up, step by step, the cotangent of every value the body closes
over. For a weight ``W`` used as ``h @ W`` that is one small product a step,
``h_t.T @ g_t``, plus an add. The same total is one product over all the steps at once,
``H.T @ G`` with the ``h_t`` stacked into the rows of ``H`` and the ``g_t`` into those of
``G``: one large GEMM, which BLAS runs far faster than many small ones.

:func:`defer_step_sums` finds such terms in the graph of one step: an output the loop sums
over its steps is split at its ``add_any`` into terms, and a term that is a product of
per-step values (a primitive with a *step-sum rule*, possibly transposed) is taken out of
the step. The step emits the product's operands instead (unless the loop already holds
them stacked: its scanned inputs and stacked outputs), and :meth:`StepSums.finish` forms
each product once over the stacked operands, after the loop. The other terms are summed
in the loop as before.

Step-sum rules live in ``step_sum_rules``, one per primitive, registered with
:func:`def_step_sum` by the op family that knows the product (``matmul``, ``einsum``).
"""
from __future__ import annotations

import functools
from typing import Any, Callable, NamedTuple, Sequence

from funcnn._src import ops
from funcnn._src.abstract import ShapeDtype
from funcnn._src.core import Primitive, shape_of
from funcnn._src.graph import Atom, Equation, Graph, Var, trace_to_graph
from funcnn._src.subgraphs import pruned_graph

# rule(*operand avals at one step, **params) -> None (no single product for this case), or
# summed(*operands as Stacked) -> the sum over the steps of the primitive applied step by step
StepSumRule = Callable[..., Callable[..., Any] | None]
step_sum_rules: dict[Primitive, StepSumRule] = {}


def def_step_sum(prim: Primitive, rule: StepSumRule) -> None:
    """Register how to sum ``prim`` over a loop's steps in one call: ``rule(*avals, **params)``
    sees one step's operands (``ShapeDtype``) and returns ``None`` or a function of the
    operands stacked over the steps (:class:`Stacked`) that returns the sum."""
    step_sum_rules[prim] = rule


class Stacked(NamedTuple):
    """An operand of every step: step ``t``'s is ``transpose(value[t], axes)`` (``axes`` None:
    ``value[t]`` itself)."""

    value: Any
    axes: tuple[int, ...] | None


def steps_moved(operand: Stacked, position: int) -> Any:
    """The stacked operand with the step axis at ``position`` among one step's axes: shape
    ``step_shape[:position] + (steps,) + step_shape[position:]``.

    >>> import numpy as np
    >>> steps_moved(Stacked(np.zeros((5, 2, 3)), (1, 0)), 1).shape   # steps of shape (3, 2)
    (3, 5, 2)
    """
    n = len(shape_of(operand.value)) - 1
    axes = operand.axes if operand.axes is not None else tuple(range(n))
    order = [a + 1 for a in axes]
    order.insert(position, 0)
    return ops.transpose(operand.value, tuple(order))


class _Term(NamedTuple):
    """A product of per-step values, maybe transposed: ``transpose(product(*factors), axes)``;
    ``summed`` (from the product's step-sum rule) forms its sum over the steps."""

    summed: Callable[..., Any]
    factors: tuple[tuple[Var, tuple[int, ...] | None], ...]  # (value, axes) as in Stacked
    axes: tuple[int, ...] | None


class StepSums:
    """One step's graph with the products its summed outputs add up taken out (see the module).

    ``graph`` takes the inputs of the original and returns its outputs, except that a summed
    output is the sum of its remaining terms (dropped when none remain: ``remaining`` lists
    the summed outputs still there), then the operands the products need (``emitted``).
    """

    def __init__(self, graph: Graph, summed: Sequence[int], remaining: Sequence[int], terms: dict[int, list[_Term]],
                 sources: dict[Var, tuple[str, int]]) -> None:
        self.graph = graph
        self.summed = tuple(summed)
        self.remaining = tuple(remaining)
        self.terms = terms
        self.sources = sources  # where each operand is after the loop: ("in" | "out" | "emitted", index)

    def finish(self, in_loop: Sequence[Any], inputs: Sequence[Any], outputs: Sequence[Any],
               emitted: Sequence[Any]) -> list[Any]:
        """The totals of the summed outputs, in their order. ``in_loop``: the loop's sums of
        the ``remaining`` outputs; ``inputs``/``outputs``: the loop's stacked inputs and
        outputs by index into the step's (others may be None); ``emitted``: the stacked
        extra outputs."""
        looped = dict(zip(self.remaining, in_loop))
        stacks = {"in": inputs, "out": outputs, "emitted": emitted}
        totals = []
        for k in self.summed:
            total = looped.get(k)
            for term in self.terms.get(k, []):
                operands = [Stacked(stacks[where][i], axes) for (where, i), axes in
                            ((self.sources[v], axes) for v, axes in term.factors)]
                value = term.summed(*operands)
                if term.axes is not None:
                    value = ops.transpose(value, term.axes)
                total = value if total is None else ops.add_any(total, value)
            totals.append(total)
        return totals


def defer_step_sums(graph: Graph, n_invariant: int, summed: Sequence[int], stacked_inputs: Sequence[int],
                    stacked_outputs: Sequence[int]) -> StepSums | None:
    """Take the products out of the outputs at ``summed`` of one step's ``graph`` (see the
    module); ``None`` when there are none. The first ``n_invariant`` inputs are the same at
    every step; the loop holds the inputs at ``stacked_inputs`` and the outputs at
    ``stacked_outputs`` stacked over the steps, so a product's operand among them is not
    emitted again.

    A step whose one output, summed over 5 steps, is ``h.T @ g`` (``h`` and ``g`` stacked
    inputs): nothing is left in the loop, and ``finish`` forms the sum as one product.

    >>> import numpy as np, funcnn as fn
    >>> from funcnn import lax  # registers matmul's step-sum rule
    >>> step = fn.make_graph(lambda w, h, g: [h.T @ g])(np.ones((3, 4)), np.ones((2, 3)), np.ones((2, 4)))
    >>> sums = defer_step_sums(step, 1, [0], [1, 2], [])
    >>> sums.remaining, sums.graph.outputs
    ((), [])
    >>> sums.finish([], [None, np.ones((5, 2, 3)), np.ones((5, 2, 4))], [], [])[0]
    array([[10., 10., 10., 10.],
           [10., 10., 10., 10.],
           [10., 10., 10., 10.]])
    """
    producers = {v: eq for eq in graph.equations for v in eq.outputs}
    varying = set(graph.in_vars[n_invariant:])
    for eq in graph.equations:
        if any(type(x) is Var and x in varying for x in eq.inputs):
            varying.update(eq.outputs)
    terms: dict[int, list[_Term]] = {}
    kept: dict[int, list[Atom]] = {}
    for k in summed:
        found, rest = _split_terms(graph.outputs[k], producers, varying)
        if found:
            terms[k], kept[k] = found, rest
    if not terms:
        return None
    sources: dict[Var, tuple[str, int]] = {}
    for i in stacked_inputs:
        sources.setdefault(graph.in_vars[i], ("in", i))
    for j in stacked_outputs:
        if type(graph.outputs[j]) is Var:
            sources.setdefault(graph.outputs[j], ("out", j))  # type: ignore[arg-type]
    emitted: list[Var] = []
    for found in terms.values():
        for term in found:
            for var, _ in term.factors:
                if var not in sources:
                    sources[var] = ("emitted", len(emitted))
                    emitted.append(var)
    new, remaining = _rewritten(graph, summed, terms, kept, emitted)
    return StepSums(new, summed, remaining, terms, sources)


def _split_terms(out: Atom, producers: dict[Var, Equation], varying: set[Var]) -> tuple[list[_Term], list[Atom]]:
    """The terms of ``out`` (split at ``add_any``) that are products of per-step values, and the rest."""
    found: list[_Term] = []
    rest: list[Atom] = []
    pending = [out]
    while pending:
        x = pending.pop()
        eq = producers.get(x) if type(x) is Var else None  # type: ignore[arg-type]
        if eq is not None and eq.prim is ops.add_any_p:
            pending.extend(reversed(eq.inputs))
            continue
        term = _product(x, producers, varying)
        if term is None:
            rest.append(x)
        else:
            found.append(term)
    return found, rest


def _product(x: Atom, producers: dict[Var, Equation], varying: set[Var]) -> _Term | None:
    """``x`` as a product of per-step values with a step-sum rule, maybe transposed, or None."""
    eq = producers.get(x) if type(x) is Var else None  # type: ignore[arg-type]
    axes = None
    if eq is not None and eq.prim is ops.transpose_p:
        axes = eq.params["axes"]
        eq = producers.get(eq.inputs[0]) if type(eq.inputs[0]) is Var else None  # type: ignore[arg-type]
    if eq is None or eq.prim not in step_sum_rules or eq.prim.multiple_results:
        return None
    if not all(type(v) is Var and v in varying for v in eq.inputs):
        return None  # a product with a constant factor: summing its other factor saves nothing
    factors = tuple(_looked_through(v, producers, varying) for v in eq.inputs)  # type: ignore[arg-type]
    summed = step_sum_rules[eq.prim](*(v.aval for v in eq.inputs), **eq.params)
    if summed is None:
        return None
    return _Term(summed, factors, axes)


def _looked_through(v: Var, producers: dict[Var, Equation], varying: set[Var]) -> tuple[Var, tuple[int, ...] | None]:
    """An operand as (value, axes): a transposed per-step value is emitted untransposed (a
    transpose of a stacked input is then no copy at all)."""
    eq = producers.get(v)
    if eq is not None and eq.prim is ops.transpose_p and type(eq.inputs[0]) is Var and eq.inputs[0] in varying:
        return eq.inputs[0], eq.params["axes"]  # type: ignore[return-value]
    return v, None


def _rewritten(graph: Graph, summed: Sequence[int], terms: dict[int, list[_Term]], kept: dict[int, list[Atom]],
               emitted: list[Var]) -> tuple[Graph, list[int]]:
    """The step without the deferred products: each summed output the sum of its other terms
    (dropped if none), then the ``emitted`` operands."""
    groups: list[range] = []  # each output of the new step: the sum of these values of the old one
    atoms: list[Atom] = []
    for j, out in enumerate(graph.outputs):
        parts = kept[j] if j in terms else [out]
        groups.append(range(len(atoms), len(atoms) + len(parts)))
        atoms.extend(parts)
    groups += [range(len(atoms) + i, len(atoms) + i + 1) for i in range(len(emitted))]
    atoms.extend(emitted)
    groups = [g for g in groups if len(g)]  # a summed output with no terms left
    needed = pruned_graph(graph, graph.in_vars, atoms, f"{graph.name}_deferred")

    def step(*args: Any) -> list:
        values = needed.eval_flat(list(args))
        return [functools.reduce(ops.add_any, [values[i] for i in group]) for group in groups]

    avals = [ShapeDtype(v.aval.shape, v.aval.dtype) for v in graph.in_vars]
    new = trace_to_graph(step, tuple(avals), {})
    new.name = graph.name
    return new, [k for k in summed if k not in terms or kept[k]]
