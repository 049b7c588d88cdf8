"""``cond`` and ``switch``: choose a branch by a (possibly traced) value, as one primitive.

``switch(index, branches, *operands)`` traces every branch on the operands' shapes and
dtypes into a graph (their outputs must agree in structure, shapes and dtypes), all over
one input list (the values any branch closes over, then the operands), and binds the
primitive ``switch`` with the graphs as a param; ``cond`` is ``switch`` on a boolean. Only
the chosen branch runs. Its rules are switches too, among the branches' JVP graphs or
VJP graphs (a VJP graph recomputes its branch forward), so every order of derivative works.
"""
from __future__ import annotations

from typing import Any, Callable, Sequence

import numpy as np

from funcnn import tree_util
from funcnn.extend import (
    Primitive, batch_graph, def_abstract_eval, def_batch, def_jvp_joint, def_vjp_rule, dtype_of, front_or_none,
    jvp_graph, move_axis, ndim_of, run_graph, shape_of, transforming, vjp_graph, zeros_like,
)
from funcnn.numpy import clip, equal, reshape, where
from funcnn.lax._structure import Leaves, as_arrays, check_same_outputs, flat_avals, traced_together


def _pick(index: Any, n: int) -> int:
    """The branch an index selects, clamped to ``[0, n)`` as in JAX."""
    return int(np.clip(int(np.asarray(index)), 0, n - 1))


def _switch_impl(index: Any, *inputs: Any, branches: tuple) -> list:
    return run_graph(branches[_pick(index, len(branches))], inputs)


switch_p = Primitive("switch", _switch_impl, multiple_results=True)
def_abstract_eval(switch_p, lambda index, *inputs, branches: tuple(x.aval for x in branches[0].outputs))


def _switch_jvp(tangents: list, ans: tuple, index: Any, *inputs: Any, branches: tuple) -> tuple:
    nonzero = tuple(t is not None for t in tangents[1:])
    if not any(nonzero):
        return (None,) * len(ans)
    given = [t for t in tangents[1:] if t is not None]
    out = switch_p.bind(index, *inputs, *given, branches=tuple(jvp_graph(b, nonzero) for b in branches))
    return tuple(out[len(ans):])


def _switch_vjp(wanted: tuple, index: Any, *inputs: Any, branches: tuple) -> tuple:
    ans = switch_p.bind(index, *inputs, branches=branches)

    def pullback(g: tuple) -> list:
        cts = [zeros_like(a) if t is None else t for t, a in zip(g, ans)]
        return [None] + list(switch_p.bind(index, *inputs, *cts, branches=tuple(vjp_graph(b) for b in branches)))
    return ans, pullback


def_jvp_joint(switch_p, _switch_jvp)
def_vjp_rule(switch_p, _switch_vjp)


def _switch_batch(size: int, args: Sequence[Any], dims: tuple, branches: tuple) -> tuple[list, tuple]:
    """One branch for the whole batch when the index is shared: the branches batched alike (an
    output batched in any branch is batched in all). A batched index runs every branch on the
    whole batch and picks each example's result from its own branch, as JAX does."""
    index, inputs = args[0], [front_or_none(x, d) for x, d in zip(args[1:], dims[1:])]
    batched = tuple(d is not None for d in dims[1:])
    if dims[0] is None:
        outs = [batch_graph(b, size, batched)[1] for b in branches]
        force = tuple(any(flags) for flags in zip(*outs))
        graphs = tuple(batch_graph(b, size, batched, force)[0] for b in branches)
        out = switch_p.bind(index, *inputs, branches=graphs)
        return out, tuple(0 if f else None for f in force)
    every = (True,) * len(branches[0].outputs)
    results = [run_graph(batch_graph(b, size, batched, every)[0], inputs) for b in branches]
    chosen = clip(move_axis(index, dims[0], 0, size), 0, len(branches) - 1)
    picked = []
    for candidates in zip(*results):
        value = candidates[0]
        for j, other in enumerate(candidates[1:], start=1):
            here = reshape(equal(chosen, j), (size,) + (1,) * (ndim_of(other) - 1))
            value = where(here, other, value)
        picked.append(value)
    return picked, (0,) * len(picked)


def switch(index: Any, branches: Sequence[Callable[..., Any]], *operands: Any) -> Any:
    """Apply ``branches[index](*operands)``; ``index`` (an integer, possibly traced) is clamped
    to ``[0, len(branches) - 1]`` as in JAX. Every branch must return the same structure,
    shapes and dtypes; only the chosen one runs.

    >>> import numpy as np
    >>> from funcnn import lax
    >>> lax.switch(2, [lambda x: x, lambda x: -x, lambda x: 2 * x], np.array([1.0, 2.0]))
    array([2., 4.])
    """
    branches = list(branches)
    if not branches:
        raise ValueError("switch: branches must hold at least one function")
    if shape_of(index) != () or dtype_of(index).kind not in "iub":
        raise TypeError(f"switch: index must be an integer scalar; got shape {shape_of(index)}, dtype "
                        f"{dtype_of(index)}")
    operands = as_arrays(operands)
    flat, in_tree = tree_util.tree_flatten(operands)
    if not transforming():
        return branches[_pick(index, len(branches))](*operands)  # nothing traced: just call it
    funs = [Leaves(b, in_tree) for b in branches]
    for k, f in enumerate(funs):
        if f.__name__ == "<lambda>":
            f.__name__ = f"branch {k}"
    graphs, consts = traced_together(funs, flat_avals(flat))
    out_tree = check_same_outputs("switch", funs, graphs)
    out = switch_p.bind(index, *consts, *flat, branches=tuple(graphs))
    return tree_util.tree_unflatten(out_tree, out)


def cond(pred: Any, true_fun: Callable[..., Any], false_fun: Callable[..., Any], *operands: Any) -> Any:
    """``true_fun(*operands)`` if ``pred`` else ``false_fun(*operands)``, with ``pred`` a boolean
    scalar that may be traced (inside ``jit`` or ``make_graph``, where Python's ``if`` cannot
    look at it). Both branches must return the same structure, shapes and dtypes.

    >>> import numpy as np
    >>> from funcnn import lax
    >>> float(lax.cond(np.array(3.0) > 0, lambda x: x * 2, lambda x: -x, np.array(3.0)))
    6.0
    """
    if shape_of(pred) != ():
        raise TypeError(f"cond: pred must be a scalar; got shape {shape_of(pred)} (reduce it, e.g. with "
                        "funcnn.numpy.all or any)")
    if dtype_of(pred).kind not in "biuf":
        raise TypeError(f"cond: pred must be a boolean or number; got dtype {dtype_of(pred)}")
    operands = as_arrays(operands)
    if not transforming():
        return (true_fun if bool(pred) else false_fun)(*operands)  # nothing traced: just call it
    from funcnn.numpy import astype, not_equal

    false_fun = _named(false_fun, "false_fun")
    true_fun = _named(true_fun, "true_fun")
    return switch(astype(not_equal(pred, 0), np.int32), [false_fun, true_fun], *operands)


def_batch(switch_p, _switch_batch)


def _named(fun: Callable[..., Any], name: str) -> Callable[..., Any]:
    if getattr(fun, "__name__", "<lambda>") != "<lambda>":
        return fun

    def named(*args: Any) -> Any:
        return fun(*args)
    named.__name__ = name
    return named
