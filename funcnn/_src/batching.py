"""Batching: ``vmap``'s trace, and the table of batching rules.

A :class:`BatchTracer` holds a value one level down and ``dim``, the axis of that value
along which the examples of the batch lie; the function sees one example (the value's
shape without that axis). A primitive applied to batched values is handled by its
*batching rule*, ``rule(axis_size, args, dims, **params) -> (out, out_dim)`` (tuples of
each for a primitive with multiple results): the rule applies primitives to the whole
batch at once and says where the batch axis of the result is. ``dims[i]`` is ``None`` for
an operand that is the same for every example.

Most primitives share a few generic rules, built here: elementwise (move batch axes to
the front, line up ranks), reductions and axis-taking ops (shift the axes by one), and a
last resort that loops over the batch and stacks the results (``loop_batch_rule``:
correct for any primitive, one call per example).
"""
from __future__ import annotations

from typing import Any, Callable, Sequence

from funcnn._src import ops
from funcnn._src.abstract import ShapeDtype
from funcnn._src.core import Primitive, Trace, Tracer, new_trace, shape_of
from funcnn._src.graph import Graph, trace_to_graph

BatchRule = Callable[..., tuple[Any, Any]]

batch_rules: dict[Primitive, BatchRule] = {}


def def_batch(prim: Primitive, rule: BatchRule) -> None:
    """Register ``rule(axis_size, args, dims, **params) -> (out, out_dim)`` for ``prim``."""
    batch_rules[prim] = rule


class BatchTracer(Tracer):
    """A batch of examples seen as one: ``primal`` holds them all along axis ``dim``, and
    ``shape`` is one example's. No one example's value can be read (``bool``, ``float``)."""

    __slots__ = ("dim",)
    per_example = True

    def __init__(self, trace: Trace, primal: Any, dim: int) -> None:
        self._trace = trace
        self.primal = primal
        self.dim = dim

    @property
    def shape(self) -> tuple[int, ...]:
        full = shape_of(self.primal)
        return full[:self.dim] + full[self.dim + 1:]


class BatchTrace(Trace):
    __slots__ = ("axis_size",)

    def __init__(self, level: int) -> None:
        super().__init__(level)
        self.axis_size = 0

    def process(self, prim: Primitive, args: Sequence[Any], params: dict) -> Any:
        vals: list[Any] = []
        dims: list[int | None] = []
        for arg in args:
            if type(arg) is BatchTracer and arg._trace is self:
                vals.append(arg.primal)
                dims.append(arg.dim)
            else:
                vals.append(arg)
                dims.append(None)
        rule = batch_rules.get(prim)
        if rule is None:
            raise NotImplementedError(
                f"vmap: the primitive {prim.name} ({prim.module}) has no batching rule; register one with "
                "funcnn.extend.def_batch (funcnn.extend.loop_batch_rule runs it once per example)")
        out, out_dim = rule(self.axis_size, vals, tuple(dims), **params)
        if prim.multiple_results:
            return tuple(self.wrap(o, d) for o, d in zip(out, out_dim))
        return self.wrap(out, out_dim)

    def wrap(self, value: Any, dim: int | None) -> Any:
        return value if dim is None else BatchTracer(self, value, dim)


# --- moving batch axes -------------------------------------------------------------------------


def move_axis(x: Any, src: int | None, dst: int, size: int) -> Any:
    """``x`` with its batch axis at ``dst``; an unbatched ``x`` (``src`` None) broadcast to ``size``
    examples there."""
    if src is None:
        shape = shape_of(x)
        expanded = ops.reshape(x, shape[:dst] + (1,) + shape[dst:])
        return ops.broadcast_to(expanded, shape[:dst] + (size,) + shape[dst:])
    return x if src == dst else ops.moveaxis(x, src, dst)


def to_front(x: Any, dim: int | None, size: int) -> Any:
    """``x`` with its batch axis first (broadcast there when unbatched)."""
    return move_axis(x, dim, 0, size)


def front_or_none(x: Any, dim: int | None) -> Any:
    """A batched ``x`` with its batch axis first; an unbatched one unchanged."""
    return x if dim is None else move_axis(x, dim, 0, 0)


# --- generic rules -----------------------------------------------------------------------------


def elementwise_batch_rule(prim: Primitive) -> BatchRule:
    """For elementwise primitives: batched operands get their batch axis first and, when their
    example rank is below the result's, size-1 axes after it, so broadcasting lines up the
    examples' axes; unbatched operands broadcast as they are."""
    def rule(size: int, args: Sequence[Any], dims: tuple, **params: Any) -> tuple[Any, Any]:
        ranks = [len(shape_of(a)) - (d is not None) for a, d in zip(args, dims)]
        rank = max(ranks, default=0)
        lined = []
        for a, d, r in zip(args, dims, ranks):
            if d is None:
                lined.append(a)
                continue
            a = move_axis(a, d, 0, size)
            if r < rank:
                shape = shape_of(a)
                a = ops.reshape(a, shape[:1] + (1,) * (rank - r) + shape[1:])
            lined.append(a)
        return prim.bind(*lined, **params), 0
    return rule


def unary_batch_rule(prim: Primitive) -> BatchRule:
    """For primitives that act on each element of one operand (casts, identities): the batch
    axis stays where it is."""
    def rule(size: int, args: Sequence[Any], dims: tuple, **params: Any) -> tuple[Any, Any]:
        return prim.bind(*args, **params), dims[0]
    return rule


def axes_batch_rule(prim: Primitive, *names: str) -> BatchRule:
    """For primitives with axis params (reductions, sorts): the batch axis goes first and each
    named param (an int, a tuple of ints, or ``None`` for all axes) shifts by one. Every
    operand gets the batch axis first (broadcast when unbatched)."""
    def rule(size: int, args: Sequence[Any], dims: tuple, **params: Any) -> tuple[Any, Any]:
        moved = [to_front(a, d, size) for a, d in zip(args, dims)]
        rank = len(shape_of(args[0])) - (dims[0] is not None)
        for name in names:
            params[name] = _shift(params[name], rank)
        return prim.bind(*moved, **params), 0
    return rule


def _shift(axis: Any, rank: int) -> Any:
    if axis is None:
        return tuple(range(1, rank + 1))
    if isinstance(axis, tuple):
        return tuple(a + 1 for a in axis)
    return axis + 1


def loop_batch_rule(prim: Primitive) -> BatchRule:
    """The last resort: apply ``prim`` to each example and stack the results along a new first
    axis. Correct for any primitive, but one call per example."""
    def rule(size: int, args: Sequence[Any], dims: tuple, **params: Any) -> tuple[Any, Any]:
        examples = [None if d is None else unstack(a, d, size) for a, d in zip(args, dims)]
        results = []
        for b in range(size):
            one = [a if e is None else e[b] for a, e in zip(args, examples)]
            results.append(prim.bind(*one, **params))
        if prim.multiple_results:
            n = len(results[0]) if results else 0
            return tuple(_stack([r[k] for r in results]) for k in range(n)), (0,) * n
        return _stack(results), 0
    return rule


def unstack(x: Any, dim: int, size: int) -> list[Any]:
    """The ``size`` examples of ``x`` along axis ``dim``, that axis removed."""
    shape = shape_of(x)
    pieces = ops.split(x, (1,) * size, dim) if size else ()
    return [ops.reshape(p, shape[:dim] + shape[dim + 1:]) for p in pieces]


def _stack(values: list) -> Any:
    return ops.concatenate([ops.reshape(v, (1,) + tuple(shape_of(v))) for v in values], 0)


def leading_batch_rule(prim: Primitive) -> BatchRule:
    """For primitives that work on trailing axes and map over any leading ones (pooling): every
    operand gets the batch axis first (broadcast when unbatched), and so do the results."""
    def rule(size: int, args: Sequence[Any], dims: tuple, **params: Any) -> tuple[Any, Any]:
        out = prim.bind(*[to_front(a, d, size) for a, d in zip(args, dims)], **params)
        return out, ((0,) * len(out) if prim.multiple_results else 0)
    return rule


# --- batching whole functions and graphs -------------------------------------------------------


def batch_flat(fun: Callable[..., Sequence[Any]], size: int, flat: Sequence[Any],
               dims: Sequence[int | None]) -> tuple[list[Any], list[int | None]]:
    """Run ``fun(*flat) -> list`` on one example at a time, vectorized: ``dims[i]`` is the batch
    axis of ``flat[i]`` (None: shared). Returns the outputs and their batch axes (None: the
    output is the same for every example)."""
    with new_trace(BatchTrace) as trace:
        trace.axis_size = size
        args = [x if d is None else BatchTracer(trace, x, d) for x, d in zip(flat, dims)]
        outs = fun(*args)
    values: list[Any] = []
    out_dims: list[int | None] = []
    for o in outs:
        if isinstance(o, BatchTracer) and o._trace is trace:
            values.append(o.primal)
            out_dims.append(o.dim)
        else:
            values.append(o)
            out_dims.append(None)
    return values, out_dims


def batch_graph(graph: Graph, size: int, batched: Sequence[bool],
                force: Sequence[bool] | None = None) -> tuple[Graph, list[bool]]:
    """The graph of ``graph`` applied to a batch of ``size`` examples, inputs with ``batched[i]``
    carrying the batch on axis 0. Outputs that differ between examples, and those ``force``
    names, have it on axis 0 too. Returns the graph and which outputs are batched."""
    from funcnn._src.subgraphs import derived

    force = (False,) * len(graph.outputs) if force is None else tuple(force)
    return derived(graph, ("batch", size, tuple(batched), force), lambda: _batch_graph(graph, size, batched, force))


def _batch_graph(graph: Graph, size: int, batched: Sequence[bool], force: tuple) -> tuple[Graph, list[bool]]:
    avals = [ShapeDtype((size,) + v.aval.shape, v.aval.dtype) if b else v.aval
             for v, b in zip(graph.in_vars, batched)]
    out_batched: list[bool] = []

    def batched_fun(*flat: Any) -> list:
        outs, dims = batch_flat(lambda *xs: graph.eval_flat(list(xs)), size, flat, [0 if b else None for b in batched])
        out_batched[:] = [d is not None or f for d, f in zip(dims, force)]
        return [move_axis(o, d, 0, size) if b else o for o, d, b in zip(outs, dims, out_batched)]

    new = trace_to_graph(batched_fun, tuple(avals), {})
    new.name = f"{graph.name}_batched"
    return new, out_batched
