"""Forward mode: carry a tangent alongside each primal value.

A :class:`JVPTracer` holds the value one level down (``primal``) and its tangent.
Processing a primitive binds it on the primals (so lower transforms see it) and sums
each differentiable argument's JVP contribution. Tangents are computed with primitives,
so an outer transform differentiates them too.

JVP rules live in the table ``jvp_rules``: either one rule per argument (``def_jvp``),
``rule(t, ans, *args, **params)`` giving that argument's contribution to the output
tangent, or one joint rule (``def_jvp_joint``) that sees all tangents at once
(``None`` for absent ones). A primitive with multiple results has a joint rule that
returns a tuple of tangents. An integer or boolean result carries no tangent.
"""
from __future__ import annotations

from typing import Any, Callable, NamedTuple, Sequence

from funcnn._src import core
from funcnn._src.config import config
from funcnn._src.core import Primitive, Trace, Tracer, dtype_of, shape_of

JVPRule = Callable[..., Any]


class JointJVP(NamedTuple):
    """A JVP rule that sees all tangents at once: ``rule(tangents, ans, *args, **params)``."""

    rule: Callable[..., Any]


jvp_rules: dict[Primitive, Any] = {}


def def_jvp(prim: Primitive, *rules: JVPRule | None) -> None:
    """Register one JVP rule per argument of ``prim`` (``None``: no tangent flows)."""
    jvp_rules[prim] = rules


def def_jvp_joint(prim: Primitive, rule: Callable[..., Any]) -> None:
    """Register a JVP rule that sees all tangents at once: ``rule(tangents, ans, *args, **params)``.

    Absent tangents are ``None``; the rule may return ``None`` for a zero tangent. Used where
    per-argument contributions would be wasteful (``concatenate``) and for primitives with
    multiple results, whose rule returns a tuple of tangents.
    """
    jvp_rules[prim] = JointJVP(rule)


class JVPTracer(Tracer):
    __slots__ = ("tangent",)

    def __init__(self, trace: Trace, primal: Any, tangent: Any) -> None:
        self._trace = trace
        self.primal = primal
        self.tangent = tangent


class ForwardTrace(Trace):
    __slots__ = ()

    def process(self, prim: Primitive, args: Sequence[Any], params: dict) -> Any:
        primals = list(args)
        tangents: list[Any] = [None] * len(args)
        for i, arg in enumerate(args):
            if type(arg) is JVPTracer and arg._trace is self:
                primals[i] = arg.primal
                tangents[i] = arg.tangent
        ans = prim.bind(*primals, **params)
        rule = jvp_rules.get(prim)
        if rule is None:
            return ans
        try:
            tangent = output_tangent(prim, rule, tangents, ans, primals, params)
        except FloatingPointError as err:  # raised by debug_nans inside the rule
            raise FloatingPointError(f"{err}, in the JVP of {prim.name}") from None
        if prim.multiple_results:
            return tuple(self._wrap(prim, a, t) for a, t in zip(ans, tangent or (None,) * len(ans)))
        return self._wrap(prim, ans, tangent)

    def _wrap(self, prim: Primitive, ans: Any, tangent: Any) -> Any:
        if tangent is None or dtype_of(ans).kind not in "fc":
            return ans
        tangent = match_output(tangent, ans)
        if config.debug_nans:
            core.check_finite(tangent, f"the tangent computed by the JVP of {prim.name}")
        return JVPTracer(self, ans, tangent)


def output_tangent(prim: Primitive, rule: Any, tangents: list, ans: Any, primals: list, params: dict) -> Any:
    """The output tangent of ``prim`` (a tuple for multiple results); ``None`` if zero."""
    if type(rule) is JointJVP:
        return rule.rule(tangents, ans, *primals, **params)
    out = None
    for one, t in zip(rule, tangents):
        if t is not None and one is not None:
            term = match_output(one(t, ans, *primals, **params), ans)
            out = term if out is None else ops.add_any(out, term)
    return out


def match_output(tangent: Any, ans: Any) -> Any:
    """Broadcast a tangent contribution to the output's shape and cast it to its dtype."""
    shape = shape_of(ans)
    if shape_of(tangent) != shape:
        tangent = ops.broadcast_to(tangent, shape)
    dtype = dtype_of(ans)
    if dtype_of(tangent) != dtype:
        tangent = ops.convert_element_type(tangent, dtype)
    return tangent


from funcnn._src import ops  # noqa: E402  (the engine's own primitives, whose rules are registered here)
