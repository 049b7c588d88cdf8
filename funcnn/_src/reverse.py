"""Reverse mode: record each primitive's VJP closures, then walk the graph backwards.

A :class:`VJPTracer` wraps the value one level down (``primal``) and a :class:`Node`.
A node holds its parents' nodes and the closures that map this node's cotangent to
theirs. :func:`backward_pass` visits nodes in reverse topological order with an explicit
stack (no recursion, so 100,000-op chains work) and accumulates cotangents with the
engine's ``add_any``, which is itself a primitive: an outer transform differentiates the
backward pass, which is how ``grad(grad(f))`` works. A node is released as soon as its
cotangent is used, so memory falls as the pass proceeds and nothing survives it.

VJP rules live in the table ``vjp_rules``, in one of two forms:

* **staged makers**, one per argument (``def_vjp``): ``maker(ans, *args, **params)`` runs
  during the forward pass and returns ``g -> cotangent``, keeping only what that needs;
* **a whole rule** (``def_vjp_rule``): ``rule(wanted, *args, **params) -> (ans, pullback)``
  runs *instead of* the primitive when reverse mode differentiates it, so it may compute
  residuals for its own VJP (a convolution's unfolded input, a max-pool's winners) by
  binding other primitives; ``pullback(g)`` returns every argument's cotangent at once.

An integer or boolean result carries no derivative: it is never wrapped.
"""
from __future__ import annotations

from typing import Any, Callable, NamedTuple, Sequence

import numpy as np

from funcnn._src import core
from funcnn._src.config import config
from funcnn._src.core import Primitive, Trace, Tracer, dtype_of, shape_of

VJPMaker = Callable[..., Callable[[Any], Any]]


class VJPRule(NamedTuple):
    """A primitive's whole VJP: ``rule(wanted, *args, **params) -> (ans, pullback)``."""

    rule: Callable[..., tuple[Any, Callable[[Any], Sequence[Any]]]]


class _ByArgnum:
    """Makers for a variadic primitive: ``maker(i, ans, *args, **params)`` for every ``i``."""

    __slots__ = ("maker",)

    def __init__(self, maker: Callable[..., Any]) -> None:
        self.maker = maker

    def __getitem__(self, i: int) -> VJPMaker:
        maker = self.maker
        return lambda ans, *args, **params: maker(i, ans, *args, **params)


vjp_rules: dict[Primitive, Any] = {}


def def_vjp(prim: Primitive, *makers: VJPMaker | None) -> None:
    """Register one staged VJP maker per argument of ``prim`` (``None``: no gradient)."""
    vjp_rules[prim] = makers


def def_vjp_argnum(prim: Primitive, maker: Callable[..., Any]) -> None:
    """Register one VJP maker ``maker(argnum, ans, *args, **params)`` for all arguments."""
    vjp_rules[prim] = _ByArgnum(maker)


def def_vjp_rule(prim: Primitive, rule: Callable[..., Any]) -> None:
    """Register ``rule(wanted, *args, **params) -> (ans, pullback)`` as ``prim``'s whole VJP.

    ``wanted[i]`` says whether argument ``i``'s cotangent is needed; ``pullback(g)``
    returns one cotangent (or ``None``) per argument. ``g`` is a tuple, with ``None`` for
    outputs that received no cotangent, when the primitive has multiple results.
    """
    vjp_rules[prim] = VJPRule(rule)


class Node:
    """One recorded result: how to reach its parents' cotangents, and its shape and dtype.

    ``parents[i]`` is a node and ``slots[i]`` which of its outputs this one read (``None``
    for a single-output parent; ``slots`` itself is ``None`` when all are). Per-parent
    closures are in ``vjps``, or one closure for all of them in ``joint``. A node with
    multiple outputs has ``outs``, their shapes and dtypes, instead of ``shape``/``dtype``.
    """

    __slots__ = ("parents", "slots", "vjps", "joint", "shape", "dtype", "outs", "prim", "__weakref__")
    vjps: Any
    slots: Any
    outs: Any

    def __init__(self, parents: Sequence, vjps: Sequence | None, shape: Any, dtype: Any, prim: Any,
                 slots: Sequence | None = None, joint: Callable | None = None, outs: list | None = None) -> None:
        self.parents = parents
        self.vjps = vjps
        self.shape = shape
        self.dtype = dtype
        self.prim = prim
        self.slots = slots
        self.joint = joint
        self.outs = outs


class VJPTracer(Tracer):
    __slots__ = ("node", "slot")

    def __init__(self, trace: Trace, primal: Any, node: Node, slot: int | None = None) -> None:
        self._trace = trace
        self.primal = primal
        self.node = node
        self.slot = slot


def _differentiable(x: Any) -> bool:
    return dtype_of(x).kind in "fc"


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
        rule = vjp_rules.get(prim)
        if type(rule) is VJPRule:
            return self._process_rule(prim, rule, args, vals, mine, params)
        ans = prim.bind(*vals, **params) if lower else prim.evaluate(vals, params)
        if rule is None:
            return ans
        if not prim.multiple_results:
            if type(ans) is np.ndarray:  # the common case, without the generic lookups
                shape, dtype = ans.shape, ans.dtype
            else:
                shape, dtype = shape_of(ans), dtype_of(ans)
            if dtype.kind not in "fc":
                return ans
        parents, vjps, slots = [], [], []
        for i in mine:
            maker = rule[i]
            if maker is not None:
                parents.append(args[i].node)
                slots.append(args[i].slot)
                vjps.append(maker(ans, *vals, **params))
        if not parents:
            return ans
        slots_or_none = None if all(s is None for s in slots) else slots
        if prim.multiple_results:
            return self._wrap_all(prim, ans, parents, slots_or_none, vjps, None)
        return VJPTracer(self, ans, Node(parents, vjps, shape, dtype, prim, slots_or_none))

    def _process_rule(self, prim: Primitive, rule: VJPRule, args: Sequence[Any], vals: list, mine: list,
                      params: dict) -> Any:
        """A primitive with a whole VJP rule: run the rule's forward, keep its pullback."""
        wanted = tuple(i in mine for i in range(len(args)))
        ans, pullback = rule.rule(wanted, *vals, **params)
        if not mine:
            return ans
        parents = [args[i].node for i in mine]
        slots = [args[i].slot for i in mine]
        slots_or_none = None if all(s is None for s in slots) else slots

        def joint(g: Any) -> list:
            cts = pullback(g)
            return [cts[i] for i in mine]

        if prim.multiple_results:
            return self._wrap_all(prim, ans, parents, slots_or_none, None, joint)
        if not _differentiable(ans):
            return ans
        return VJPTracer(self, ans, Node(parents, None, shape_of(ans), dtype_of(ans), prim, slots_or_none, joint))

    def _wrap_all(self, prim: Primitive, ans: tuple, parents: list, slots: list | None, vjps: list | None,
                  joint: Callable | None) -> tuple:
        """The results of a multiple-result primitive: one node, a tracer per differentiable output."""
        outs = [(shape_of(a), dtype_of(a)) for a in ans]
        node = Node(parents, vjps, None, None, prim, slots, joint, outs)
        return tuple(VJPTracer(self, a, node, k) if _differentiable(a) else a for k, a in enumerate(ans))

    def new_input(self, value: Any) -> VJPTracer:
        """Wrap an input of the differentiated function as a leaf of the graph."""
        return VJPTracer(self, value, Node((), (), shape_of(value), dtype_of(value), None))


def coerce(ct: Any, shape: tuple, dtype: np.dtype) -> Any:
    """Sum a cotangent down to ``shape`` (undoing broadcasting) and cast it to ``dtype``."""
    if shape_of(ct) != shape:
        ct = ops.sum_to_shape(ct, shape)
    if dtype_of(ct) != dtype:
        ct = ops.convert_element_type(ct, dtype)
    return ct


Root = tuple[Node, Any, Any]  # (node, slot, cotangent)


def backward_pass(roots: Sequence[Root], leaves: Sequence[Node]) -> list[Any]:
    """Propagate cotangents from ``(node, slot, cotangent)`` roots to ``leaves``.

    Returns each leaf's cotangent, or ``None`` for a leaf no root depends on.
    """
    pending = _count_children(node for node, _, _ in roots)
    cts: dict[Node, Any] = {}
    for node, slot, ct in roots:
        _accumulate(cts, node, slot, ct)
    ready = [node for node in cts if node not in pending]
    leaf_set = set(leaves)
    results: dict[Node, Any] = {}
    add = ops.add_any
    while ready:
        node = ready.pop()
        ct = cts.pop(node, None)
        if node in leaf_set:
            results[node] = ct
        if ct is not None:
            if node.outs is not None:
                ct = tuple(ct)
            parent_cts = _call(node.joint, ct, node) if node.joint is not None else None
            slots = node.slots
            for i, parent in enumerate(node.parents):
                parent_ct = parent_cts[i] if parent_cts is not None else _call(node.vjps[i], ct, node)
                if parent_ct is None:
                    continue
                if slots is None or slots[i] is None:
                    if type(parent_ct) is not np.ndarray or parent_ct.shape != parent.shape \
                            or parent_ct.dtype != parent.dtype:
                        parent_ct = coerce(parent_ct, parent.shape, parent.dtype)
                    if config.debug_nans:
                        core.check_finite(parent_ct, f"the cotangent computed by the VJP of {_name(node.prim)}")
                    cts[parent] = add(cts[parent], parent_ct) if parent in cts else parent_ct
                else:
                    shape, dtype = parent.outs[slots[i]]
                    _accumulate(cts, parent, slots[i], coerce(parent_ct, shape, dtype))
        for parent in node.parents:
            count = pending[parent] - 1
            if count:
                pending[parent] = count
            else:
                del pending[parent]
                ready.append(parent)
    return [results.get(leaf) for leaf in leaves]


def _call(vjp: Callable, ct: Any, node: Node) -> Any:
    try:
        return vjp(ct)
    except FloatingPointError as err:  # raised by debug_nans inside the rule
        raise FloatingPointError(f"{err}, in the VJP of {_name(node.prim)}") from None


def _accumulate(cts: dict, node: Node, slot: int | None, ct: Any) -> None:
    """Add ``ct`` into the cotangent of ``node`` (of its output ``slot`` for a multiple-result node)."""
    if slot is None:
        cts[node] = ops.add_any(cts[node], ct) if node in cts else ct
        return
    held = cts.get(node)
    if held is None:
        held = cts[node] = [None] * len(node.outs)
    held[slot] = ct if held[slot] is None else ops.add_any(held[slot], ct)


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


from funcnn._src import ops  # noqa: E402  (the engine's own primitives, whose rules are registered here)
