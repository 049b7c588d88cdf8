"""``custom_vjp``: a function whose reverse-mode derivative is given by the user.

Under reverse mode the innermost transform runs ``fwd`` on its unwrapped arguments and
records one node per output leaf whose VJP calls ``bwd(residuals, g)``. ``bwd`` is linear
in ``g``, so an output's node passes zeros for the other outputs and the backward pass
adds the pieces. Outer transforms see ``fwd`` and ``bwd`` as ordinary funcnn code and
differentiate through them, as JAX does. Forward mode cannot use a VJP rule and raises.
"""
from __future__ import annotations

import functools
from typing import Any, Callable

import numpy as np

from funcnn import tree_util
from funcnn._src.core import dtype_of, shape_of, top_trace
from funcnn._src.forward import ForwardTrace
from funcnn._src.reverse import Node, ReverseTrace, VJPTracer


class custom_vjp:  # noqa: N801  (a decorator, named like JAX's)
    """Decorate ``fun`` and give its VJP with ``fun.defvjp(fwd, bwd)``.

    ``fwd(*args) -> (out, residuals)``; ``bwd(residuals, g) -> tuple`` with one cotangent
    (a pytree like the argument, or ``None`` for zero) per positional argument.

    >>> import numpy as np, funcnn as fn, funcnn.numpy as fnp
    >>> @fn.custom_vjp
    ... def clip_gradient(x):
    ...     return x
    >>> clip_gradient.defvjp(lambda x: (x, None), lambda res, g: (fnp.clip(g, -1.0, 1.0),))
    >>> fn.grad(lambda x: fnp.sum(5.0 * clip_gradient(x)))(np.array([1.0, 2.0]))
    array([1., 1.])
    """

    __name__: str

    def __init__(self, fun: Callable) -> None:
        functools.update_wrapper(self, fun)
        self.fun = fun
        self.fwd: Callable | None = None
        self.bwd: Callable | None = None

    def defvjp(self, fwd: Callable, bwd: Callable) -> None:
        """Set the forward function (returning ``(out, residuals)``) and the backward one."""
        self.fwd, self.bwd = fwd, bwd

    def __call__(self, *args: Any) -> Any:
        if self.fwd is None or self.bwd is None:
            raise TypeError(f"custom_vjp function {self.__name__}: call .defvjp(fwd, bwd) before using it")
        flat, in_tree = tree_util.tree_flatten(args)
        trace = top_trace(flat)
        if trace is None:
            return self.fun(*args)
        if isinstance(trace, ForwardTrace):
            raise TypeError(f"can't apply forward-mode differentiation (jvp, jacfwd) to the custom_vjp "
                            f"function {self.__name__}; use reverse mode (grad, vjp, jacrev)")
        assert isinstance(trace, ReverseTrace)
        return _reverse(self, trace, flat, in_tree)


def _reverse(cv: custom_vjp, trace: ReverseTrace, flat: list, in_tree: Any) -> Any:
    """Run ``fwd`` one level down and record a node per output leaf that calls ``bwd``."""
    mine = [isinstance(x, VJPTracer) and x._trace is trace for x in flat]
    vals = [x.primal if m else x for x, m in zip(flat, mine)]
    out, residuals = cv.fwd(*tree_util.tree_unflatten(in_tree, vals))  # type: ignore[misc]
    out_flat, out_tree = tree_util.tree_flatten(out)
    parents = tuple(x.node for x, m in zip(flat, mine) if m)
    positions = [i for i, m in enumerate(mine) if m]
    results = []
    for k, o in enumerate(out_flat):
        vjps = _output_vjps(cv, residuals, k, out_flat, out_tree, in_tree, vals, positions)
        node = Node(parents, vjps, shape_of(o), dtype_of(o), cv)
        results.append(VJPTracer(trace, o, node))
    return tree_util.tree_unflatten(out_tree, results)


def _output_vjps(cv: custom_vjp, residuals: Any, k: int, out_flat: list, out_tree: Any, in_tree: Any,
                 vals: list, positions: list[int]) -> tuple:
    """The VJP closures from output leaf ``k`` to each traced input; ``bwd`` runs once per cotangent."""
    cache: list[Any] = [None, None]

    def all_cotangents(g: Any) -> list:
        if cache[0] is not g:
            cts = [g if j == k else np.zeros(shape_of(o), dtype_of(o)) for j, o in enumerate(out_flat)]
            cache[0], cache[1] = g, _flat_bwd(cv, residuals, tree_util.tree_unflatten(out_tree, cts), in_tree, vals)
        return cache[1]

    return tuple((lambda g, i=i: all_cotangents(g)[i]) for i in positions)


def _flat_bwd(cv: custom_vjp, residuals: Any, g: Any, in_tree: Any, vals: list) -> list:
    """``bwd``'s cotangents, flattened like the inputs; ``None`` entries become zeros."""
    cts = cv.bwd(residuals, g)  # type: ignore[misc]
    args = tree_util.tree_unflatten(in_tree, vals)
    if not isinstance(cts, (tuple, list)) or len(cts) != len(args):
        raise TypeError(f"custom_vjp function {cv.__name__}: bwd must return a tuple with one cotangent per "
                        f"positional argument ({len(args)}); it returned {type(cts).__name__}")
    flat = []
    for arg, ct in zip(args, cts):
        if ct is None:
            flat += [np.zeros(shape_of(x), dtype_of(x)) for x in tree_util.tree_leaves(arg)]
        else:
            tree_util.check_same_structure(arg, ct, what=f"custom_vjp {cv.__name__}: argument and its cotangent")
            flat += tree_util.tree_leaves(ct)
    return flat


