"""Loops as primitives: ``scan``, ``while_loop``, ``fori_loop``.

A loop body is traced once into a graph over ``(*constants, *carry, *x)`` (constants: the
traced values it closes over) and the loop is one primitive with the graph as a param, so
a Python loop never unrolls into a graph, and ``jit`` replays the body's own plan each
step. The loop itself runs in Python, one step at a time, without recursion.

* ``scan`` is differentiable both ways. Forward mode scans the body's JVP graph over
  (carry, tangent carry). Reverse mode runs the forward scan keeping the values each step's
  backward pass needs (the residuals), then scans the backward half of the body's
  reverse mode over them from the other end, carrying the carry's cotangent and a running
  sum of the constants' cotangents (no step's forward is computed twice). A constant's
  cotangent that is a product of per-step values (a weight's ``h_t.T @ g_t``) leaves that
  sum: one product over all the steps' rows forms it after the loop (``funcnn/_src/step_sums.py``; the
  products register how, e.g. ``matmul`` in ``funcnn/numpy/_linalg.py``).
* ``while_loop`` is forward-differentiable; its number of steps is known only when it
  runs, so reverse mode raises, as in JAX (``fori_loop`` with static bounds is a ``scan``).
"""
from __future__ import annotations

from typing import Any, Callable, NamedTuple

import numpy as np

from funcnn import tree_util
from funcnn.extend import (
    Graph, Primitive, ShapeDtype, StepSums, Tracer, batch_graph, def_abstract_eval, def_batch, def_jvp_joint,
    def_vjp_rule, defer_step_sums, derived, dtype_of, front_or_none, jvp_graph, linearized_graphs, move_axis,
    run_graph, select_outputs, shape_of, trace_graph, transforming, zeros_like,
)
from funcnn.lax._structure import Leaves, as_arrays, flat_avals, traced_together


def _split(values: Any, *counts: int) -> list[list[Any]]:
    out, start = [], 0
    for n in counts:
        out.append(list(values[start:start + n]))
        start += n
    out.append(list(values[start:]))
    return out


# --- scan ------------------------------------------------------------------------------------


def _scan_impl(*operands: Any, body: Graph, length: int, reverse: bool, n_consts: int, n_carry: int) -> list:
    consts, carry, xs = _split(operands, n_consts, n_carry)
    ys = [np.empty((length,) + v.aval.shape, v.aval.dtype) for v in body.outputs[n_carry:]]
    rows = range(n_carry, len(body.outputs))
    for t in (range(length - 1, -1, -1) if reverse else range(length)):
        # each step writes its ys into row t of the results (no list of steps to stack after)
        into = dict(zip(rows, [y[t, ...] for y in ys]))
        carry = run_graph(body, consts + carry + [x[t] for x in xs], into)[:n_carry]
    return carry + ys


def _scan_rule(*avals: ShapeDtype, body: Graph, length: int, reverse: bool, n_consts: int,
               n_carry: int) -> tuple:
    outs = [v.aval for v in body.outputs]
    return tuple(outs[:n_carry]) + tuple(ShapeDtype((length,) + a.shape, a.dtype) for a in outs[n_carry:])


scan_p = Primitive("scan", _scan_impl, multiple_results=True)
def_abstract_eval(scan_p, _scan_rule)


def _regrouped(graph: Graph, groups: list[int], order: list[int], out_groups: list[int], out_order: list[int],
               avals: list[ShapeDtype], name: str) -> Graph:
    """``graph`` with its inputs and outputs regrouped: inputs come in the blocks of sizes
    ``groups`` listed in ``order`` (outputs likewise), e.g. (consts, tangents of consts,
    carry, tangents of carry, ...) for a graph that takes all primals before all tangents."""
    def blocks(values: list, sizes: list[int]) -> list[list[Any]]:
        return _split(values, *sizes)[:len(sizes)]

    def regrouped(*args: Any) -> list:
        given = blocks(list(args), [groups[k] for k in order])
        inputs: list[list[Any]] = [[] for _ in groups]
        for k, block in zip(order, given):
            inputs[k] = block
        out = blocks(graph.eval_flat([x for block in inputs for x in block]), out_groups)
        return [x for k in out_order for x in out[k]]

    return trace_graph(regrouped, avals, name)


def _scan_jvp(tangents: list, ans: tuple, *operands: Any, body: Graph, length: int, reverse: bool,
              n_consts: int, n_carry: int) -> tuple:
    if all(t is None for t in tangents):
        return (None,) * len(ans)
    consts, carry, xs = _split(operands, n_consts, n_carry)
    t_consts, t_carry, t_xs = _split(tangents, n_consts, n_carry)
    # the carry's tangent is nonzero from the first step on if anything's is
    t_carry = [zeros_like(c) if t is None else t for t, c in zip(t_carry, carry)]
    nz_consts, nz_xs = [t is not None for t in t_consts], [t is not None for t in t_xs]
    nonzero = tuple(nz_consts + [True] * n_carry + nz_xs)
    given_consts = [t for t in t_consts if t is not None]
    given_xs = [t for t in t_xs if t is not None]

    def make() -> Graph:
        graph = jvp_graph(body, nonzero)
        n_y = len(body.outputs) - n_carry
        sizes = [n_consts, n_carry, len(xs), len(given_consts), n_carry, len(given_xs)]
        avals = [v.aval for v in graph.in_vars]
        parts = _split(avals, *sizes)
        order = [0, 3, 1, 4, 2, 5]  # (consts, their tangents, carry, its tangents, x, its tangents)
        return _regrouped(graph, sizes, order, [n_carry, n_y, n_carry, n_y], [0, 2, 1, 3],
                          [a for k in order for a in parts[k]], "scan_jvp_body")

    jvp_body = derived(body, ("scan_jvp", nonzero, n_consts, n_carry), make)
    out = scan_p.bind(*consts, *given_consts, *carry, *t_carry, *xs, *given_xs, body=jvp_body, length=length,
                      reverse=reverse, n_consts=n_consts + len(given_consts), n_carry=2 * n_carry)
    t_final = out[n_carry:2 * n_carry]
    n_y = len(ans) - n_carry
    t_ys = out[2 * n_carry + n_y:]
    return tuple(t_final) + tuple(t_ys)


def _forward(body: Graph, n_consts: int, n_carry: int) -> tuple[Graph, list[int | None]]:
    """The forward scan's body: the body's outputs, then the residuals to stack. A residual that
    is one of the step's ``xs`` is not stacked again: ``from_xs[i]`` says which ``xs`` residual
    ``i`` is (None: stacked by the forward scan, in order)."""
    def make() -> tuple[Graph, list[int | None]]:
        forward, _ = linearized_graphs(body, n_consts)
        n_out, x_vars = len(body.outputs), forward.in_vars[n_consts + n_carry:]
        from_xs = [next((j for j, x in enumerate(x_vars) if x is r), None) for r in forward.outputs[n_out:]]
        keep = [*range(n_out), *(n_out + i for i, j in enumerate(from_xs) if j is None)]
        return select_outputs(forward, keep), from_xs
    return derived(body, ("scan_forward", n_consts, n_carry), make)


class _Backward(NamedTuple):
    """The backward scan's body and what to do after it: ``sums`` (None when the body has no
    products to take out) forms the constants' cotangents from the loop's stacked values."""

    body: Graph
    sums: StepSums | None
    summed: tuple[int, ...]  # the constants whose cotangents the loop adds up (an accumulator each)


def _backward(body: Graph, n_consts: int, n_carry: int) -> _Backward:
    """One backward step: ``(consts, [acc, ct_carry], [residuals_t, ct_y_t])`` ->
    ``([acc + ct_consts_t, ct_carry_t], [ct_x_t, operands_t])``, through the backward half of
    the body's reverse mode (see :func:`linearized_graphs`). A constant's cotangent that is a
    product of per-step values (a weight's ``h_t.T @ g_t``) leaves the loop: the step emits
    its operands (``operands_t``, unless stacked already) and one product over all the steps
    follows the loop (:func:`defer_step_sums`); ``acc`` sums only the other terms."""
    def make() -> _Backward:
        forward, backward = linearized_graphs(body, n_consts)
        n_res = len(forward.outputs) - len(body.outputs)
        n_x = len(backward.outputs) - n_consts - n_carry
        stacked_in = [*range(n_consts, n_consts + n_res), *range(n_consts + n_res + n_carry, len(backward.in_vars))]
        stacked_out = range(n_consts + n_carry, n_consts + n_carry + n_x)
        sums = defer_step_sums(backward, n_consts, range(n_consts), stacked_in, stacked_out)
        graph = backward if sums is None else sums.graph
        summed = tuple(range(n_consts)) if sums is None else sums.remaining
        n_summed = len(summed)
        consts_a = [v.aval for v in backward.in_vars[:n_consts]]
        summed_a = [v.aval for v in graph.outputs[:n_summed]]
        res_a = [v.aval for v in backward.in_vars[n_consts:n_consts + n_res]]
        carry_a = [v.aval for v in body.outputs[:n_carry]]
        y_a = [v.aval for v in body.outputs[n_carry:]]

        def step(*args: Any) -> list:
            consts, acc, ct_carry, res_t, ct_y = _split(list(args), n_consts, n_summed, n_carry, n_res)
            cts = graph.eval_flat(consts + res_t + ct_carry + ct_y)
            return [a + d for a, d in zip(acc, cts[:n_summed])] + cts[n_summed:]

        avals = consts_a + summed_a + carry_a + res_a + y_a
        loop_body = trace_graph(step, [ShapeDtype(a.shape, a.dtype) for a in avals], "scan_backward_body")
        return _Backward(loop_body, sums, summed)
    return derived(body, ("scan_backward", n_consts, n_carry), make)


def _scan_vjp(wanted: tuple, *operands: Any, body: Graph, length: int, reverse: bool, n_consts: int,
              n_carry: int) -> tuple:
    """Reverse mode: the forward scan also stacks each step's residuals (values its backward
    pass needs), then the backward scan runs over them from the other end, carrying the carry's
    cotangent and a running sum of the constants' cotangents (no step is computed twice).
    Products among those cotangents are formed after the backward scan, one over all steps."""
    consts, carry, xs = _split(operands, n_consts, n_carry)
    forward, from_xs = _forward(body, n_consts, n_carry)
    out = scan_p.bind(*operands, body=forward, length=length, reverse=reverse, n_consts=n_consts,
                      n_carry=n_carry)
    n_y = len(body.outputs) - n_carry
    ans, stacked = tuple(out[:n_carry + n_y]), iter(out[n_carry + n_y:])
    residuals = [next(stacked) if j is None else xs[j] for j in from_xs]

    def pullback(g: tuple) -> list:
        cts = [zeros_like(a) if t is None else t for t, a in zip(g, ans)]
        ct_carry, ct_ys = cts[:n_carry], cts[n_carry:]
        back = _backward(body, n_consts, n_carry)
        acc = [zeros_like(consts[k]) for k in back.summed]
        out = scan_p.bind(*consts, *acc, *ct_carry, *residuals, *ct_ys, body=back.body, length=length,
                          reverse=not reverse, n_consts=n_consts, n_carry=len(acc) + n_carry)
        sums, ct_init, rest = _split(list(out), len(acc), n_carry)
        ct_xs, emitted = rest[:len(xs)], rest[len(xs):]
        if back.sums is not None:
            stacked_in = [None] * n_consts + list(residuals) + [None] * n_carry + list(ct_ys)
            sums = back.sums.finish(sums, stacked_in, [None] * (n_consts + n_carry) + ct_xs, emitted)
        return sums + ct_init + ct_xs
    return ans, pullback


def_jvp_joint(scan_p, _scan_jvp)
def_vjp_rule(scan_p, _scan_vjp)


def _carry_fixpoint(body: Graph, size: int, batched_consts: list[bool], batched_carry: list[bool],
                    batched_rest: list[bool]) -> list[bool]:
    """Which carries are batched: those batched going in, and any the body makes batched (a carry
    that meets a batched value in one step is batched in every later one)."""
    n = len(batched_carry)
    while True:
        out = batch_graph(body, size, tuple(batched_consts + batched_carry + batched_rest))[1]
        grown = [b or o for b, o in zip(batched_carry, out[:n])]
        if grown == batched_carry:
            return batched_carry
        batched_carry = grown


def _scan_batch(size: int, operands: Any, dims: tuple, body: Graph, length: int, reverse: bool, n_consts: int,
                n_carry: int) -> tuple[list, tuple]:
    """One scan over the whole batch: constants and carries with the batch first, each ``xs``
    with it second (after the steps), so every step's slice has it first."""
    consts, carry, xs = _split(operands, n_consts, n_carry)
    d_consts, d_carry, d_xs = _split(list(dims), n_consts, n_carry)
    b_consts, b_xs = [d is not None for d in d_consts], [d is not None for d in d_xs]
    b_carry = _carry_fixpoint(body, size, b_consts, [d is not None for d in d_carry], b_xs)
    force = tuple(b_carry) + (False,) * (len(body.outputs) - n_carry)
    graph, out_batched = batch_graph(body, size, tuple(b_consts + b_carry + b_xs), force)
    consts = [front_or_none(c, d) for c, d in zip(consts, d_consts)]
    carry = [move_axis(c, d, 0, size) if b else c for c, d, b in zip(carry, d_carry, b_carry)]
    xs = [x if d is None else move_axis(x, d, 1, size) for x, d in zip(xs, d_xs)]
    out = scan_p.bind(*consts, *carry, *xs, body=graph, length=length, reverse=reverse, n_consts=n_consts,
                      n_carry=n_carry)
    out_dims = [0 if b else None for b in b_carry] + [1 if b else None for b in out_batched[n_carry:]]
    return out, tuple(out_dims)


def_batch(scan_p, _scan_batch)


def scan(f: Callable[[Any, Any], tuple[Any, Any]], init: Any, xs: Any = None, length: int | None = None,
         reverse: bool = False, unroll: int = 1) -> tuple[Any, Any]:
    """Loop ``f`` over the leading axis of ``xs``, carrying a state: JAX's ``lax.scan``.

    ``f(carry, x) -> (carry, y)``; returns ``(final carry, ys)`` with the ``y`` of every step
    stacked along a new leading axis. In Python::

        def scan(f, init, xs, length=None):
            carry, ys = init, []
            for x in xs:
                carry, y = f(carry, x)
                ys.append(y)
            return carry, np.stack(ys)

    but as one primitive: ``f`` is traced once, and ``grad``, ``jvp``, ``jit`` and
    ``make_graph`` see a single loop, not ``length`` copies of its body.

    Parameters
    ----------
    f : callable ``(carry, x) -> (carry, y)``
        The new carry must have the structure, shapes and dtypes of ``carry``.
    init : pytree of arrays
        The initial carry.
    xs : pytree of arrays with a common leading axis, or None
        Sliced along axis 0, one slice a step; ``None`` gives ``x = None`` (then ``length``).
    length : int, optional
        The number of steps (checked against ``xs``).
    reverse : bool, default False
        Run from the last slice to the first (``ys`` stay in the order of ``xs``).
    unroll : int, default 1
        Accepted for JAX compatibility; the loop runs one step at a time.

    Examples
    --------
    >>> import numpy as np
    >>> from funcnn import lax
    >>> total, partial_sums = lax.scan(lambda c, x: (c + x, c + x), 0.0, np.arange(1.0, 5.0))
    >>> float(total), partial_sums
    (10.0, array([ 1.,  3.,  6., 10.]))
    """
    init, xs = as_arrays(init), as_arrays(xs)
    xs_flat, xs_tree = tree_util.tree_flatten(xs)
    n = _scan_length(xs_flat, xs, length)
    carry_flat, carry_tree = tree_util.tree_flatten(init)
    if not transforming():  # nothing traced (not even a value f closes over): run it in Python
        return _scan_eagerly(f, init, xs_flat, xs_tree, n, reverse)
    carry_avals = flat_avals(carry_flat)
    x_avals = [ShapeDtype(shape_of(x)[1:], dtype_of(x)) for x in xs_flat]

    y_tree: list[Any] = []

    def body(*flat: Any) -> list:
        carry = tree_util.tree_unflatten(carry_tree, flat[:len(carry_flat)])
        x = tree_util.tree_unflatten(xs_tree, flat[len(carry_flat):])
        new_carry, y = _pair(f(carry, x))
        _check_carry(new_carry, carry_tree, carry_avals)
        leaves, tree = tree_util.tree_flatten(y)
        y_tree[:] = [tree]
        return tree_util.tree_leaves(new_carry) + leaves

    fun = Leaves(body, tree_util.tree_structure(tuple(carry_avals + x_avals)))
    fun.__name__ = getattr(f, "__name__", "f")
    (graph,), consts = traced_together([fun], carry_avals + x_avals)
    out = scan_p.bind(*consts, *carry_flat, *xs_flat, body=graph, length=n, reverse=bool(reverse),
                      n_consts=len(consts), n_carry=len(carry_flat))
    k = len(carry_flat)
    return tree_util.tree_unflatten(carry_tree, out[:k]), tree_util.tree_unflatten(y_tree[0], out[k:])


def _scan_length(xs_flat: list, xs: Any, length: int | None) -> int:
    lengths = [shape_of(x)[0] if shape_of(x) else None for x in xs_flat]
    if any(n is None for n in lengths):
        where = [tree_util.keystr(p) or "xs" for p, x in tree_util.tree_flatten_with_path(xs)[0] if not shape_of(x)]
        raise ValueError(f"scan: every leaf of xs needs a leading axis to scan over; {where[0]} is a scalar")
    if len(set(lengths)) > 1:
        shapes = ", ".join(f"{tree_util.keystr(p) or 'xs'}: {shape_of(x)}"
                           for p, x in tree_util.tree_flatten_with_path(xs)[0])
        raise ValueError(f"scan: the leaves of xs have different leading lengths ({shapes})")
    if length is not None:
        if not isinstance(length, (int, np.integer)) or length < 0:
            raise ValueError(f"scan: length must be a non-negative int; got {length!r}")
        if lengths and lengths[0] != length:
            raise ValueError(f"scan: length={length} but xs has leading length {lengths[0]}")
        return int(length)
    if not lengths:
        raise ValueError("scan: give xs (arrays to scan over) or length (the number of steps)")
    return int(lengths[0])  # type: ignore[arg-type]


def _pair(result: Any) -> tuple[Any, Any]:
    if not (isinstance(result, tuple) and len(result) == 2):
        raise TypeError(f"scan: f must return a pair (carry, y); it returned a {type(result).__name__}")
    return result[0], result[1]


def _check_carry(new: Any, tree: Any, avals: list[ShapeDtype]) -> None:
    """The carry ``f`` returns must have the structure, shapes and dtypes of the one it got."""
    leaves, new_tree = tree_util.tree_flatten(new)
    if new_tree != tree:
        raise TypeError(f"scan: f must return a carry of the structure it was given ({tree}); it returned {new_tree}")
    for (path, leaf), aval in zip(tree_util.tree_flatten_with_path(new)[0], avals):
        if shape_of(leaf) != aval.shape or dtype_of(leaf) != aval.dtype:
            out = ShapeDtype(shape_of(leaf), dtype_of(leaf)).short()
            raise TypeError(f"scan: the carry at {tree_util.keystr(path) or 'the top level'} goes in as "
                            f"{aval.short()} but comes out of f as {out}; the carry must keep its shape and "
                            "dtype (cast it, e.g. with .astype)")


def _scan_eagerly(f: Callable, init: Any, xs_flat: list, xs_tree: Any, n: int, reverse: bool) -> tuple[Any, Any]:
    """Nothing is traced: run the loop in Python, as the primitive would."""
    carry, steps = init, [None] * n
    carry_tree = tree_util.tree_structure(init)
    carry_avals = flat_avals(tree_util.tree_leaves(init))
    for t in (range(n - 1, -1, -1) if reverse else range(n)):
        carry, y = _pair(f(carry, tree_util.tree_unflatten(xs_tree, [x[t] for x in xs_flat])))
        _check_carry(carry, carry_tree, carry_avals)
        steps[t] = y
    if n == 0:
        return _scan_traced_empty(f, init, xs_flat, xs_tree)
    y_leaves = [tree_util.tree_leaves(y) for y in steps]
    stacked = [np.stack([leaves[k] for leaves in y_leaves]) for k in range(len(y_leaves[0]))]
    return carry, tree_util.tree_unflatten(tree_util.tree_structure(steps[0]), stacked)


def _scan_traced_empty(f: Callable, init: Any, xs_flat: list, xs_tree: Any) -> tuple[Any, Any]:
    """Zero steps: the shapes of ``ys`` come from tracing ``f`` once, as the primitive's do."""
    from funcnn import eval_shape

    x = tree_util.tree_unflatten(xs_tree, [ShapeDtype(shape_of(v)[1:], dtype_of(v)) for v in xs_flat])
    _, y = eval_shape(lambda c, x: _pair(f(c, x)), init, x)
    return init, tree_util.tree_map(lambda a: np.zeros((0,) + a.shape, a.dtype), y)


# --- while_loop -----------------------------------------------------------------------------


def _while_impl(*operands: Any, cond: Graph, body: Graph, n_consts: int) -> list:
    consts, carry = _split(operands, n_consts)
    while bool(np.asarray(run_graph(cond, consts + carry)[0])):
        carry = run_graph(body, consts + carry)
    return carry


while_p = Primitive("while_loop", _while_impl, multiple_results=True)
def_abstract_eval(while_p, lambda *avals, cond, body, n_consts: tuple(avals[n_consts:]))


def _while_jvp(tangents: list, ans: tuple, *operands: Any, cond: Graph, body: Graph, n_consts: int) -> tuple:
    if all(t is None for t in tangents):
        return (None,) * len(ans)
    consts, carry = _split(operands, n_consts)
    t_consts, t_carry = _split(tangents, n_consts)
    t_carry = [zeros_like(c) if t is None else t for t, c in zip(t_carry, carry)]
    given = [t for t in t_consts if t is not None]
    n_carry = len(carry)
    nonzero = tuple([t is not None for t in t_consts] + [True] * n_carry)

    def make() -> tuple[Graph, Graph]:
        graph = jvp_graph(body, nonzero)
        sizes = [n_consts, n_carry, len(given), n_carry]
        avals = [v.aval for v in graph.in_vars]
        parts = _split(avals, *sizes)
        order = [0, 2, 1, 3]  # (consts, their tangents, carry, its tangents)
        grouped_avals = [a for k in order for a in parts[k]]
        new_body = _regrouped(graph, sizes, order, [n_carry, n_carry], [0, 1], grouped_avals, "while_jvp_body")

        def new_cond(*args: Any) -> list:
            c, _, k, _ = _split(list(args), n_consts, len(given), n_carry)
            return cond.eval_flat(c + k)
        return trace_graph(new_cond, grouped_avals, "while_jvp_cond"), new_body

    new_cond, new_body = derived(body, ("while_jvp", nonzero, n_consts, id(cond)), make)
    out = while_p.bind(*consts, *given, *carry, *t_carry, cond=new_cond, body=new_body,
                       n_consts=n_consts + len(given))
    return tuple(out[n_carry:])


def _while_vjp(wanted: tuple, *operands: Any, **params: Any) -> tuple:
    raise TypeError("reverse-mode differentiation (grad, vjp) of while_loop is not supported: its number of "
                    "steps is known only when it runs, so there is nothing to store residuals in. Use "
                    "funcnn.lax.scan, or fori_loop with Python int bounds (a scan); jvp works.")


def_jvp_joint(while_p, _while_jvp)
def_vjp_rule(while_p, _while_vjp)


def _while_batch(size: int, operands: Any, dims: tuple, cond: Graph, body: Graph, n_consts: int) -> tuple:
    """With a shared predicate, one loop over the batched body. With a predicate that differs
    between examples, the loop runs while any example's holds, and an example whose predicate
    is false keeps its value (every carry is then batched)."""
    consts, carry = _split(operands, n_consts)
    d_consts, d_carry = _split(list(dims), n_consts)
    b_consts = [d is not None for d in d_consts]
    b_carry = _carry_fixpoint(body, size, b_consts, [d is not None for d in d_carry], [])
    if batch_graph(cond, size, tuple(b_consts + b_carry))[1][0]:
        b_carry = [True] * len(carry)
    consts = [front_or_none(c, d) for c, d in zip(consts, d_consts)]
    carry = [move_axis(c, d, 0, size) if b else c for c, d, b in zip(carry, d_carry, b_carry)]
    in_batched = tuple(b_consts + b_carry)
    cond_b = batch_graph(cond, size, in_batched)[0]
    body_b = batch_graph(body, size, in_batched, tuple(b_carry))[0]
    if batch_graph(cond, size, in_batched)[1][0]:
        cond_b, body_b = _while_each(cond_b, body_b, n_consts, size)
    out = while_p.bind(*consts, *carry, cond=cond_b, body=body_b, n_consts=n_consts)
    return out, tuple(0 if b else None for b in b_carry)


def _while_each(cond: Graph, body: Graph, n_consts: int, size: int) -> tuple[Graph, Graph]:
    """The loop of a batch whose predicates differ: go on while any holds; step only those."""
    from funcnn.numpy import any as any_, reshape, where

    avals = [v.aval for v in body.in_vars]

    def any_cond(*args: Any) -> list:
        return [any_(cond.eval_flat(list(args))[0])]

    def masked_body(*args: Any) -> list:
        going = cond.eval_flat(list(args))[0]
        new = body.eval_flat(list(args))
        old = args[n_consts:]
        return [where(reshape(going, (size,) + (1,) * (len(shape_of(o)) - 1)), n, o) for n, o in zip(new, old)]

    return trace_graph(any_cond, avals, "while_any_cond"), trace_graph(masked_body, avals, "while_masked_body")


def_batch(while_p, _while_batch)


def while_loop(cond_fun: Callable[[Any], Any], body_fun: Callable[[Any], Any], init_val: Any) -> Any:
    """``while cond_fun(val): val = body_fun(val)``, as one primitive: JAX's ``lax.while_loop``.

    ``cond_fun(val)`` returns a boolean scalar (it may be traced); ``body_fun`` must return a
    value of the structure, shapes and dtypes of ``val``. Forward-differentiable (``jvp``);
    reverse mode raises (use ``scan``).

    >>> import numpy as np
    >>> from funcnn import lax
    >>> int(lax.while_loop(lambda v: v < 100, lambda v: v * 3, np.array(1)))
    243
    """
    init_val = as_arrays(init_val)
    flat, tree = tree_util.tree_flatten(init_val)
    if not transforming():
        val = init_val
        while bool(np.asarray(cond_fun(val))):
            val = body_fun(val)
            _check_while_carry(val, tree, flat_avals(flat))
        return val
    avals = flat_avals(flat)
    cond_leaves = Leaves(lambda *a: [_scalar_pred(cond_fun(*a))], tree_util.tree_structure((init_val,)))
    cond_leaves.__name__ = "cond_fun"

    def body(*a: Any) -> Any:
        new = body_fun(*a)
        _check_while_carry(new, tree, avals)
        return new

    body_leaves = Leaves(body, tree_util.tree_structure((init_val,)))
    body_leaves.__name__ = "body_fun"
    (cond_graph, body_graph), consts = traced_together([cond_leaves, body_leaves], avals)
    out = while_p.bind(*consts, *flat, cond=cond_graph, body=body_graph, n_consts=len(consts))
    return tree_util.tree_unflatten(tree, out)


def _scalar_pred(pred: Any) -> Any:
    if shape_of(pred) != ():
        raise TypeError(f"while_loop: cond_fun must return a scalar; it returned shape {shape_of(pred)}")
    return pred


def _check_while_carry(new: Any, tree: Any, avals: list[ShapeDtype]) -> None:
    leaves, new_tree = tree_util.tree_flatten(new)
    if new_tree != tree:
        raise TypeError(f"while_loop: body_fun must return a value of the structure it was given ({tree}); it "
                        f"returned {new_tree}")
    for (path, leaf), aval in zip(tree_util.tree_flatten_with_path(new)[0], avals):
        if shape_of(leaf) != aval.shape or dtype_of(leaf) != aval.dtype:
            raise TypeError(f"while_loop: the value at {tree_util.keystr(path) or 'the top level'} goes in as "
                            f"{aval.short()} but body_fun returns {ShapeDtype(shape_of(leaf), dtype_of(leaf)).short()}")


# --- fori_loop -------------------------------------------------------------------------------


def fori_loop(lower: Any, upper: Any, body_fun: Callable[[Any, Any], Any], init_val: Any) -> Any:
    """``for i in range(lower, upper): val = body_fun(i, val)``: JAX's ``lax.fori_loop``.

    With Python int bounds it is a ``scan`` (reverse-differentiable); with traced bounds a
    ``while_loop``. ``i`` is an int32 scalar.

    >>> import numpy as np
    >>> from funcnn import lax
    >>> int(lax.fori_loop(0, 5, lambda i, total: total + i, np.array(0)))
    10
    """
    init_val = as_arrays(init_val)
    static = all(not isinstance(b, Tracer) and np.ndim(b) == 0 for b in (lower, upper))
    if static:
        lo, hi = int(lower), int(upper)
        if not transforming():
            val = init_val
            for i in range(lo, hi):
                val = body_fun(np.int32(i), val)
            return val
        (_, val), _ = scan(lambda c, _: ((c[0] + np.int32(1), body_fun(c[0], c[1])), None),
                           (np.int32(lo), init_val), None, length=max(hi - lo, 0))
        return val
    _, _, val = while_loop(lambda c: c[0] < c[1], lambda c: (c[0] + np.int32(1), c[1], body_fun(c[0], c[2])),
                           (np.asarray(lower).astype(np.int32) if not isinstance(lower, Tracer) else lower,
                            upper, init_val))
    return val
