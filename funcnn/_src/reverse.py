"""Reverse mode: record each primitive's VJP closures, then walk the graph backwards.

A :class:`VJPTracer` wraps the value one level down (``primal``) and a :class:`Node`.
A node holds its parents' nodes and, for each, the staged VJP closure that maps this
node's cotangent to the parent's. :func:`backward_pass` visits nodes in reverse
topological order with an explicit stack (no recursion, so 100,000-op chains work)
and accumulates cotangents with ``funcnn.numpy.add``, which is itself traced: an
outer transform differentiates the backward pass, which is how ``grad(grad(f))``
works. A node is released as soon as its cotangent is used, so memory falls as the
pass proceeds and nothing survives it.
"""
from __future__ import annotations

from typing import Any, Sequence

import numpy as np

from funcnn._src import core
from funcnn._src.config import config
from funcnn._src.core import Primitive, Trace, Tracer, dtype_of, shape_of


class Node:
    """One recorded value: its shape and dtype, and how to reach its parents' cotangents."""

    __slots__ = ("parents", "vjps", "shape", "dtype", "prim", "__weakref__")

    def __init__(self, parents: Sequence, vjps: Sequence, shape: tuple, dtype: np.dtype, prim: Any) -> None:
        self.parents = parents
        self.vjps = vjps
        self.shape = shape
        self.dtype = dtype
        self.prim = prim


class VJPTracer(Tracer):
    __slots__ = ("node",)

    def __init__(self, trace: Trace, primal: Any, node: Node) -> None:
        self._trace = trace
        self.primal = primal
        self.node = node


class ReverseTrace(Trace):
    __slots__ = ()

    def process(self, prim: Primitive, args: Sequence[Any], params: dict) -> Any:
        vals = list(args)
        mine = []
        lower = False  # whether an outer transform's tracer remains among the values
        for i, arg in enumerate(args):
            if type(arg) is VJPTracer and arg._trace is self:
                arg = vals[i] = arg.primal
                mine.append(i)
            if isinstance(arg, Tracer):
                lower = True
        ans = prim.bind(*vals, **params) if lower else prim.evaluate(vals, params)
        makers = prim.vjp_makers
        if makers is None:
            return ans
        parents = []
        vjps = []
        for i in mine:
            maker = makers[i]
            if maker is not None:
                parents.append(args[i].node)
                vjps.append(maker(ans, *vals, **params))
        if not parents:
            return ans
        if type(ans) is np.ndarray:  # the common case, without the generic lookups
            return VJPTracer(self, ans, Node(parents, vjps, ans.shape, ans.dtype, prim))
        return VJPTracer(self, ans, Node(parents, vjps, shape_of(ans), dtype_of(ans), prim))

    def new_input(self, value: Any) -> VJPTracer:
        """Wrap an input of the differentiated function as a leaf of the graph."""
        return VJPTracer(self, value, Node((), (), shape_of(value), dtype_of(value), None))


def coerce(ct: Any, shape: tuple, dtype: np.dtype) -> Any:
    """Sum a cotangent down to ``shape`` (undoing broadcasting) and cast it to ``dtype``."""
    if shape_of(ct) != shape:
        ct = _reductions.sum_to_shape(ct, shape)
    if dtype_of(ct) != dtype:
        ct = _elementwise.astype(ct, dtype)
    return ct


def backward_pass(roots: Sequence[tuple[Node, Any]], leaves: Sequence[Node]) -> list[Any]:
    """Propagate cotangents from ``(node, cotangent)`` roots to ``leaves``.

    Returns each leaf's cotangent, or ``None`` for a leaf no root depends on.
    """
    add = _elementwise.add
    pending = _count_children(node for node, _ in roots)
    cts: dict[Node, Any] = {}
    for node, ct in roots:
        cts[node] = add(cts[node], ct) if node in cts else ct
    ready = [node for node in cts if node not in pending]
    leaf_set = set(leaves)
    results: dict[Node, Any] = {}
    while ready:
        node = ready.pop()
        ct = cts.pop(node, None)
        if node in leaf_set:
            results[node] = ct
        for parent, vjp in zip(node.parents, node.vjps):
            if ct is not None:
                try:
                    parent_ct = vjp(ct)
                except FloatingPointError as err:  # raised by debug_nans inside the rule
                    raise FloatingPointError(f"{err}, in the VJP of {_name(node.prim)}") from None
                if type(parent_ct) is not np.ndarray or parent_ct.shape != parent.shape \
                        or parent_ct.dtype != parent.dtype:
                    parent_ct = coerce(parent_ct, parent.shape, parent.dtype)
                if config.debug_nans:
                    core.check_finite(parent_ct, f"the cotangent computed by the VJP of {_name(node.prim)}")
                cts[parent] = add(cts[parent], parent_ct) if parent in cts else parent_ct
            count = pending[parent] - 1
            if count:
                pending[parent] = count
            else:
                del pending[parent]
                ready.append(parent)
    return [results.get(leaf) for leaf in leaves]


def _name(prim: Any) -> str:
    return str(getattr(prim, "name", None) or getattr(prim, "__name__", repr(prim)))


def _count_children(roots: Any) -> dict[Node, int]:
    """For every node reachable from ``roots``: how many edges lead into it."""
    pending: dict[Node, int] = {}
    stack = list(roots)
    seen = set(stack)
    while stack:
        node = stack.pop()
        for parent in node.parents:
            pending[parent] = pending.get(parent, 0) + 1
            if parent not in seen:
                seen.add(parent)
                stack.append(parent)
    return pending


from funcnn.numpy import _elementwise, _reductions  # noqa: E402  (the ops the backward pass uses)
