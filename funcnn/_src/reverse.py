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


class _MultipleResults(NamedTuple):
    """Staged makers of a primitive with multiple results (each closure takes the tuple of cotangents)."""

    makers: Any


# One entry per differentiable primitive. A plain tuple of makers is the common case, which
# ``ReverseTrace.process`` meets first; every other form is a small wrapper type.
vjp_rules: dict[Primitive, Any] = {}


def def_vjp(prim: Primitive, *makers: VJPMaker | None) -> None:
    """Register one staged VJP maker per argument of ``prim`` (``None``: no gradient)."""
    vjp_rules[prim] = _MultipleResults(makers) if prim.multiple_results else makers


def def_vjp_argnum(prim: Primitive, maker: Callable[..., Any]) -> None:
    """Register one VJP maker ``maker(argnum, ans, *args, **params)`` for all arguments."""
    makers = _ByArgnum(maker)
    vjp_rules[prim] = _MultipleResults(makers) if prim.multiple_results else makers


def def_vjp_rule(prim: Primitive, rule: Callable[..., Any]) -> None:
    """Register ``rule(wanted, *args, **params) -> (ans, pullback)`` as ``prim``'s whole VJP.

    ``wanted[i]`` says whether argument ``i``'s cotangent is needed; ``pullback(g)``
    returns one cotangent (or ``None``) per argument. ``g`` is a tuple, with ``None`` for
    outputs that received no cotangent, when the primitive has multiple results.
    """
    vjp_rules[prim] = VJPRule(rule)


class Node:
    """One recorded result: its parents' nodes, the closures that map its cotangent to theirs
    (``vjps``, one per parent), and its shape and dtype.

    A primitive with multiple results or a whole VJP rule gets a :class:`JointNode`; each of
    its differentiable outputs is then an :class:`OutputNode` whose one parent is it.
    """

    __slots__ = ("parents", "vjps", "shape", "dtype", "prim", "__weakref__")

    def __init__(self, parents: Sequence, vjps: Any, shape: Any, dtype: Any, prim: Any) -> None:
        self.parents = parents
        self.vjps = vjps
        self.shape = shape
        self.dtype = dtype
        self.prim = prim


class JointNode(Node):
    """A node whose parents' cotangents are computed together: ``joint(g)`` returns one per
    parent. ``g`` is the tuple of the outputs' cotangents when ``outs`` (the shape and dtype of
    each output of a primitive with multiple results) is given."""

    __slots__ = ("joint", "outs")

    def __init__(self, parents: Sequence, joint: Callable, outs: list | None, shape: Any, dtype: Any,
                 prim: Any) -> None:
        super().__init__(parents, None, shape, dtype, prim)
        self.joint = joint
        self.outs = outs


class OutputNode(Node):
    """Output ``slot`` of a :class:`JointNode` with multiple results: its cotangent is that slot's."""

    __slots__ = ("slot",)

    def __init__(self, joint: JointNode, slot: int, shape: Any, dtype: Any) -> None:
        super().__init__((joint,), None, shape, dtype, joint.prim)
        self.slot = slot


class VJPTracer(Tracer):
    __slots__ = ("node",)

    def __init__(self, trace: Trace, primal: Any, node: Node) -> None:
        self._trace = trace
        self.primal = primal
        self.node = node


_DIFFERENTIABLE = frozenset(np.dtype(t) for t in (np.float32, np.float64))  # checked first: the usual dtypes


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
        if type(rule) is not tuple:  # no rule, or one of the rarer forms
            if type(rule) is VJPRule:
                return self._process_rule(prim, rule, args, vals, mine, params)
            if type(rule) is _MultipleResults:
                return self._process_multiple(prim, rule.makers, args, vals, mine, params, lower)
            if rule is None:
                return prim.bind(*vals, **params) if lower else prim.evaluate(vals, params)
        ans = prim.bind(*vals, **params) if lower else prim.evaluate(vals, params)
        if type(ans) is np.ndarray:  # the common case, without the generic lookups
            shape, dtype = ans.shape, ans.dtype
        else:
            shape, dtype = shape_of(ans), dtype_of(ans)
        if dtype not in _DIFFERENTIABLE and dtype.kind not in "fc":  # an integer or boolean result
            return ans  # carries no derivative
        parents, vjps = [], []
        for i in mine:
            maker = rule[i]
            if maker is not None:
                parents.append(args[i].node)
                vjps.append(maker(ans, *vals, **params))
        if not parents:
            return ans
        return VJPTracer(self, ans, Node(parents, vjps, shape, dtype, prim))

    def _process_multiple(self, prim: Primitive, makers: Any, args: Sequence[Any], vals: list, mine: list,
                          params: dict, lower: bool) -> Any:
        """A primitive with multiple results and staged makers: one joint node over the makers."""
        ans = prim.bind(*vals, **params) if lower else prim.evaluate(vals, params)
        kept = [i for i in mine if makers[i] is not None]
        vjps = [makers[i](ans, *vals, **params) for i in kept]
        return self._wrap_all(prim, ans, [args[i].node for i in kept], lambda g: [vjp(g) for vjp in vjps])

    def _process_rule(self, prim: Primitive, rule: VJPRule, args: Sequence[Any], vals: list, mine: list,
                      params: dict) -> Any:
        """A primitive with a whole VJP rule: run the rule's forward, keep its pullback."""
        wanted = tuple(i in mine for i in range(len(args)))
        ans, pullback = rule.rule(wanted, *vals, **params)
        if not mine:
            return ans

        def joint(g: Any) -> list:
            cts = pullback(g)
            return [cts[i] for i in mine]

        parents = [args[i].node for i in mine]
        if prim.multiple_results:
            return self._wrap_all(prim, ans, parents, joint)
        if not _differentiable(ans):
            return ans
        return VJPTracer(self, ans, JointNode(parents, joint, None, shape_of(ans), dtype_of(ans), prim))

    def _wrap_all(self, prim: Primitive, ans: tuple, parents: list, joint: Callable) -> tuple:
        """The results of a multiple-result primitive: one node, and an output node and a tracer
        per differentiable output."""
        if not parents:
            return ans
        outs = [(shape_of(a), dtype_of(a)) for a in ans]
        node = JointNode(parents, joint, outs, None, None, prim)
        return tuple(VJPTracer(self, a, OutputNode(node, k, *outs[k])) if _differentiable(a) else a
                     for k, a in enumerate(ans))

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


def backward_pass(roots: Sequence[tuple[Node, Any]], leaves: Sequence[Node]) -> list[Any]:
    """Propagate cotangents from ``(node, cotangent)`` roots to ``leaves``.

    Returns each leaf's cotangent, or ``None`` for a leaf no root depends on.
    """
    pending = _count_children(node for node, _ in roots)
    cts: dict[Node, Any] = {}
    for node, ct in roots:
        cts[node] = ops.add_any(cts[node], ct) if node in cts else ct
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
            vjps = node.vjps
            if vjps is None:  # an output node or a joint node: the rare cases
                _pull_joint(node, ct, cts)
            else:
                for parent, vjp in zip(node.parents, vjps):
                    try:
                        parent_ct = vjp(ct)
                    except FloatingPointError as err:  # raised by debug_nans inside the rule
                        raise FloatingPointError(f"{err}, in the VJP of {_name(node.prim)}") from None
                    if parent_ct is None:
                        continue
                    # speed: coerce's checks, inlined for the common plain array (one call less per edge)
                    if type(parent_ct) is not np.ndarray or parent_ct.shape != parent.shape \
                            or parent_ct.dtype != parent.dtype:
                        parent_ct = coerce(parent_ct, parent.shape, parent.dtype)
                    if config.debug_nans:
                        core.check_finite(parent_ct, f"the cotangent computed by the VJP of {_name(node.prim)}")
                    cts[parent] = add(cts[parent], parent_ct) if parent in cts else parent_ct
        for parent in node.parents:
            count = pending[parent] - 1
            if count:
                pending[parent] = count
            else:
                del pending[parent]
                ready.append(parent)
    return [results.get(leaf) for leaf in leaves]


def _pull_joint(node: Node, ct: Any, cts: dict) -> None:
    """Pass ``ct`` on from an output node (into its slot of the joint node's cotangents) or
    from a joint node (through its joint pullback, or each of its closures on the tuple of
    its outputs' cotangents)."""
    if type(node) is OutputNode:
        joint = node.parents[0]
        held = cts.get(joint)
        if held is None:
            held = cts[joint] = [None] * len(joint.outs)  # type: ignore[attr-defined]
        held[node.slot] = ct if held[node.slot] is None else ops.add_any(held[node.slot], ct)
        return
    assert isinstance(node, JointNode)
    if node.outs is not None:
        ct = tuple(ct)
    try:
        parent_cts = node.joint(ct)
    except FloatingPointError as err:  # raised by debug_nans inside the rule
        raise FloatingPointError(f"{err}, in the VJP of {_name(node.prim)}") from None
    for parent, parent_ct in zip(node.parents, parent_cts):
        if parent_ct is not None:
            parent_ct = coerce(parent_ct, parent.shape, parent.dtype)
            if config.debug_nans:
                core.check_finite(parent_ct, f"the cotangent computed by the VJP of {_name(node.prim)}")
            cts[parent] = ops.add_any(cts[parent], parent_ct) if parent in cts else parent_ct


def _name(prim: Any) -> str:
    return str(getattr(prim, "name", None) or getattr(prim, "__name__", repr(prim)))


def _count_children(roots: Any) -> dict[Node, int]:
    """For every node reachable from ``roots``: how many edges lead into it."""
    pending: dict[Node, int] = {}
    stack = list(dict.fromkeys(roots))  # a value returned twice is one node: walk it once
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
