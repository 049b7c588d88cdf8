"""Forward mode: carry a tangent alongside each primal value.

A :class:`JVPTracer` holds the value one level down (``primal``) and its tangent.
Processing a primitive binds it on the primals (so lower transforms see it) and
sums each differentiable argument's JVP contribution. Tangents are computed with
``funcnn.numpy`` ops, so an outer transform differentiates them too.
"""
from __future__ import annotations

from typing import Any, Sequence


from funcnn._src import core
from funcnn._src.config import config
from funcnn._src.core import Primitive, Trace, Tracer, shape_of


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
        if prim.jvp_rules is None and prim.jvp_joint is None:
            return ans
        try:
            tangent = output_tangent(prim, tangents, ans, primals, params)
        except FloatingPointError as err:  # raised by debug_nans inside the rule
            raise FloatingPointError(f"{err}, in the JVP of {prim.name}") from None
        if tangent is None:
            return ans
        if config.debug_nans:
            core.check_finite(tangent, f"the tangent computed by the JVP of {prim.name}")
        return JVPTracer(self, ans, tangent)


def output_tangent(prim: Primitive, tangents: list, ans: Any, primals: list, params: dict) -> Any:
    """The output tangent of ``prim``, matched to the output's shape and dtype; ``None`` if zero."""
    add = _elementwise.add
    if prim.jvp_joint is not None:
        if all(t is None for t in tangents):
            return None
        out = prim.jvp_joint(tangents, ans, *primals, **params)
    else:
        out = None
        for rule, t in zip(prim.jvp_rules, tangents):  # type: ignore[arg-type]
            if t is not None and rule is not None:
                term = rule(t, ans, *primals, **params)
                out = term if out is None else add(out, term)
    return None if out is None else match_output(out, ans)


def match_output(tangent: Any, ans: Any) -> Any:
    """Broadcast a tangent contribution to the output's shape and cast it to its dtype."""
    shape = shape_of(ans)
    if shape_of(tangent) != shape:
        tangent = _shape.broadcast_to(tangent, shape)
    dtype = core.dtype_of(ans)
    if core.dtype_of(tangent) != dtype:
        tangent = _elementwise.astype(tangent, dtype)
    return tangent


from funcnn.numpy import _elementwise, _shape  # noqa: E402  (the ops tangents are matched with)
