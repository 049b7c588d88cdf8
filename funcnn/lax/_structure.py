"""Shared by the control-flow primitives: user functions of pytrees as graphs of flat values.

A branch or loop body is traced into a graph whose inputs are flat leaves. The values it
closes over that are traced by an enclosing transform become leading inputs (see
``funcnn.extend.closed_graph``); several functions traced for one primitive (the branches
of a ``switch``) are given one shared input list, so that their graphs have the same
signature and the primitive's rules can treat them alike.
"""
from __future__ import annotations

from typing import Any, Callable, Sequence

import numpy as np

from funcnn import tree_util
from funcnn.extend import Graph, ShapeDtype, closed_graph, dtype_of, shape_of, trace_graph


def as_arrays(tree: Any) -> Any:
    """``tree`` with Python numbers made NumPy arrays: the loop or branch then sees the same
    types whether it runs eagerly or traced (a traced input is an array)."""
    return tree_util.tree_map(lambda x: np.asarray(x) if type(x) in (bool, int, float, complex) else x, tree)


def flat_avals(flat: Sequence[Any]) -> list[ShapeDtype]:
    """The abstract values of leaves (Python numbers as NumPy would make them arrays)."""
    return [ShapeDtype(shape_of(x), dtype_of(x)) for x in flat]


class Leaves:
    """``fun`` of a pytree made a function of flat leaves; remembers its output's structure."""

    def __init__(self, fun: Callable[..., Any], in_tree: Any) -> None:
        self.fun, self.in_tree = fun, in_tree
        self.out_tree: Any = None
        self.__name__ = getattr(fun, "__name__", "fun")

    def __call__(self, *flat: Any) -> list:
        leaves, self.out_tree = tree_util.tree_flatten(self.fun(*tree_util.tree_unflatten(self.in_tree, flat)))
        return leaves


def traced_together(funs: Sequence[Leaves], avals: Sequence[ShapeDtype]) -> tuple[list[Graph], list[Any]]:
    """Each function's graph over one shared input list ``(*constants, *flat)``, and the
    constants: the traced values any of the functions closes over."""
    closed = [closed_graph(f, avals, f.__name__) for f in funs]
    consts: list[Any] = []
    for _, cs in closed:
        for c in cs:
            if not any(c is d for d in consts):
                consts.append(c)
    const_avals = flat_avals(consts)
    graphs = []
    for graph, cs in closed:
        if [id(c) for c in cs] == [id(c) for c in consts]:
            graphs.append(graph)
            continue
        positions = [next(i for i, d in enumerate(consts) if d is c) for c in cs]
        n = len(consts)

        def widened(*args: Any, graph: Graph = graph, positions: list = positions) -> list:
            return graph.eval_flat([args[p] for p in positions] + list(args[n:]))

        graphs.append(trace_graph(widened, const_avals + list(avals), graph.name))
    return graphs, consts


def describe_outputs(graph: Graph, tree: Any) -> list[tuple[str, str]]:
    paths = [tree_util.keystr(p) or "the output" for p, _ in tree_util.tree_flatten_with_path(
        tree_util.tree_unflatten(tree, [0] * tree.num_leaves))[0]]
    return [(path, v.aval.short()) for path, v in zip(paths, graph.outputs)]


def check_same_outputs(what: str, funs: Sequence[Leaves], graphs: Sequence[Graph]) -> Any:
    """The common output structure of ``funs``; an error naming the first difference otherwise."""
    first, tree = funs[0], funs[0].out_tree
    for fun, graph in zip(funs[1:], graphs[1:]):
        if fun.out_tree != tree:
            raise TypeError(f"{what}: {fun.__name__} returns the structure {fun.out_tree}, but {first.__name__} "
                            f"returns {tree}; every branch must return the same structure")
        for (path, mine), (_, theirs) in zip(describe_outputs(graph, tree), describe_outputs(graphs[0], tree)):
            if mine != theirs:
                raise TypeError(f"{what}: {fun.__name__} returns {mine} at {path}, but {first.__name__} returns "
                                f"{theirs}; every branch must return the same shapes and dtypes")
    return tree
