"""Defining new primitives: the public interface to the engine.

Every op in funcnn (``funcnn.numpy``, ``funcnn.lax``, ``funcnn.scipy``, ``funcnn.random``)
is defined through this module, and so can yours. A primitive is a name and a NumPy
implementation; each transform learns about it from a rule you register:

* ``def_abstract_eval(prim, rule)``: the shape and dtype of the result, from those of
  the operands (``ShapeDtype`` values). Needed to trace it into a graph.
* ``def_vjp(prim, *makers)``: reverse mode, one staged maker per operand,
  ``maker(ans, *args, **params) -> (g -> cotangent)``; or ``def_vjp_rule`` for a
  primitive that computes residuals for its own VJP.
* ``def_jvp(prim, *rules)``: forward mode, ``rule(t, ans, *args, **params)`` per operand.
* ``def_elementwise(prim, *partials)``: both derivative rules of an elementwise op from
  one ``partial(g, ans, *args)`` per operand ("``g`` times the partial derivative").
* ``def_step_sum(prim, rule)``: for a product (``matmul``, ``einsum``), how to sum it over
  a loop's steps in one call, so a loop's reverse mode forms a weight's gradient after the
  loop in one product instead of one per step.
* ``def_batch(prim, rule)``: ``vmap``, ``rule(axis_size, args, dims, **params) -> (out,
  out_dim)``; ``elementwise_batch_rule(prim)`` and the other ``*_batch_rule`` helpers build
  the common ones.

Rules must be written with funcnn ops (``funcnn.numpy``) or other primitives, never with
NumPy on their arguments: then an outer transform differentiates them (higher orders)
and a graph capture records them. Operands are arrays; keyword params are static
(hashable, small, never traced).

Examples
--------
>>> import numpy as np, funcnn as fn, funcnn.numpy as fnp
>>> from funcnn import extend
>>> softsign_p = extend.Primitive("softsign", lambda x: x / (1 + np.abs(x)))
>>> extend.def_abstract_eval(softsign_p, lambda x: x)
>>> extend.def_elementwise(softsign_p, lambda g, ans, x: g / (1 + fnp.abs(x)) ** 2)
>>> fn.grad(lambda x: fnp.sum(softsign_p.bind(x)))(np.array([0.0, 1.0]))
array([1.  , 0.25])
>>> print(fn.make_graph(softsign_p.bind)(np.zeros(3)))
{ lambda ; a:f64[3]. let
    b:f64[3] = softsign a
  in (b,) }
"""
from __future__ import annotations

from typing import Any, Callable

from funcnn._src.abstract import (
    ShapeDtype, abstract_rules, broadcasting_rule, def_abstract_eval, probe_dtype, same_as_first,
)
from funcnn._src.core import (
    PRIMITIVES, ConcretizationError, Primitive, Tracer, concrete, dtype_of, ndim_of, shape_of, transforming,
)
from funcnn._src.forward import def_jvp, def_jvp_joint, jvp_rules
from funcnn._src.batching import (
    axes_batch_rule, batch_flat, batch_graph, def_batch, elementwise_batch_rule, front_or_none, leading_batch_rule,
    loop_batch_rule, move_axis, to_front, unary_batch_rule, unstack,
)
from funcnn._src.graph import Graph
from funcnn._src.subgraphs import (
    closed_graph, derived, jvp_graph, linearized_graphs, run_graph, select_outputs, trace_graph, vjp_graph,
)
from funcnn._src.ops import (
    add_any, broadcast_to, concatenate, convert_element_type, moveaxis, reshape, split, stop_gradient, sum_to_shape,
    transpose, zeros_like,
)
from funcnn._src.reverse import def_vjp, def_vjp_argnum, def_vjp_rule, vjp_rules
from funcnn._src.step_sums import Stacked, StepSums, def_step_sum, defer_step_sums, steps_moved

__all__ = [
    "ConcretizationError", "Graph", "Primitive", "ShapeDtype", "Tracer", "add_any", "axes_batch_rule",
    "batch_flat", "batch_graph", "def_batch", "elementwise_batch_rule", "front_or_none", "has_batch_rule",
    "leading_batch_rule", "loop_batch_rule", "move_axis", "to_front", "unary_batch_rule", "unstack", "broadcast_to",
    "broadcasting_rule", "closed_graph", "concatenate", "concrete", "derived", "jvp_graph", "run_graph",
    "trace_graph", "vjp_graph", "linearized_graphs", "Stacked", "StepSums", "def_step_sum", "defer_step_sums",
    "steps_moved", "select_outputs",
    "convert_element_type", "def_abstract_eval", "def_elementwise", "def_jvp",
    "def_jvp_joint", "def_vjp", "def_vjp_argnum", "def_vjp_rule", "dtype_of", "has_abstract_eval", "has_jvp",
    "is_differentiable", "ndim_of", "primitives", "probe_dtype", "reshape", "same_as_first", "shape_of", "split",
    "moveaxis", "stop_gradient", "sum_to_shape", "transforming", "transpose", "zeros_like",
]

Partial = Callable[..., Any]


def def_elementwise(prim: Primitive, *partials: Partial | None) -> None:
    """Give ``prim`` VJP and JVP rules from one ``partial(g, ans, *args, **params)`` per operand.

    An elementwise op has a diagonal Jacobian, so ``g`` times the partial derivative serves
    both modes: applied to a cotangent in reverse mode, to a tangent in forward mode. The
    engine sums or broadcasts the result to the operand's or output's shape. ``None``: no
    derivative flows to that operand.
    """
    def_vjp(prim, *(None if p is None else _staged(p) for p in partials))
    def_jvp(prim, *(None if p is None else _tangent_rule(p) for p in partials))


def _staged(partial: Partial) -> Callable[..., Callable[[Any], Any]]:
    return lambda ans, *args, **params: lambda g: partial(g, ans, *args, **params)


def _tangent_rule(partial: Partial) -> Callable[..., Any]:
    return lambda t, ans, *args, **params: partial(t, ans, *args, **params)


def is_differentiable(prim: Primitive) -> bool:
    """Whether reverse mode has a rule for ``prim`` (comparisons, ``argmax`` and casts to
    integers carry no derivative)."""
    return prim in vjp_rules


def has_abstract_eval(prim: Primitive) -> bool:
    """Whether ``prim`` can be traced into a graph."""
    return prim in abstract_rules


def primitives() -> list[Primitive]:
    """Every primitive defined so far, funcnn's own and yours, in order of definition."""
    return list(PRIMITIVES)


def has_batch_rule(prim: Primitive) -> bool:
    """Whether ``vmap`` has a rule for ``prim``."""
    from funcnn._src.batching import batch_rules

    return prim in batch_rules


def has_jvp(prim: Primitive) -> bool:
    """Whether forward mode has a rule for ``prim``."""
    return prim in jvp_rules
