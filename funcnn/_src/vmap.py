"""``vmap``: a function of one example, applied to a batch at once.

``vmap(fun, in_axes, out_axes)(*args)`` wraps the mapped leaves of ``args`` as
:class:`~funcnn._src.batching.BatchTracer` values (the batch axis moved out of sight),
runs ``fun`` once, and moves each output's batch axis to ``out_axes``. Every primitive
``fun`` applies is handled by its batching rule, so the batch is computed in whole-array
operations, not in a loop over examples.
"""
from __future__ import annotations

import functools
from typing import Any, Callable

from funcnn import tree_util
from funcnn._src import ops
from funcnn._src.batching import BatchTrace, BatchTracer, move_axis
from funcnn._src.core import dtype_of, new_trace, shape_of

Axes = Any  # an int, None, or a pytree prefix of them


def _leaf_axes(axes: Axes, tree: Any, what: str, path: str = "") -> list[int | None]:
    """``axes`` (an int, None, or a pytree prefix of ``tree``) spread to one entry per leaf of
    ``tree``, in ``tree_flatten``'s order."""
    if axes is None or isinstance(axes, int) and not isinstance(axes, bool):
        return [axes] * len(tree_util.tree_leaves(tree))
    if isinstance(axes, (tuple, list)) and isinstance(tree, (tuple, list)) and len(axes) == len(tree):
        inner = [f"argument {i}" if what == "in_axes" and not path else f"{path}[{i}]" for i in range(len(tree))]
        return [a for ax, sub, where in zip(axes, tree, inner) for a in _leaf_axes(ax, sub, what, where)]
    if isinstance(axes, dict) and isinstance(tree, dict) and set(axes) == set(tree):
        keys = tree_util.tree_unflatten(tree_util.tree_structure({k: 0 for k in tree}), list(range(len(tree))))
        ordered = sorted(keys.items(), key=lambda kv: kv[1])  # the order tree_flatten uses
        return [a for k, _ in ordered for a in _leaf_axes(axes[k], tree[k], what, f"{path}[{k!r}]")]
    whose = "arguments have" if what == "in_axes" else "output has"
    raise ValueError(f"vmap: {what} does not match the structure at {path or 'the top level'}: {what} has "
                     f"{_describe(axes)} where the {whose} {_describe(tree)}")


def _describe(x: Any) -> str:
    if isinstance(x, dict):
        return f"a dict with keys {sorted(map(str, x))}"
    if isinstance(x, (tuple, list)):
        return f"a {type(x).__name__} of {len(x)}"
    return repr(x) if isinstance(x, (int, type(None))) else f"a {type(x).__name__}"


def vmap(fun: Callable, in_axes: Axes = 0, out_axes: Axes = 0, axis_size: int | None = None) -> Callable:
    """``fun`` mapped over an axis of its arguments: JAX's ``vmap``.

    ``in_axes`` says, per argument (an int for all, or a pytree prefix of the positional
    arguments), which axis holds the examples (negative counts from the end) or ``None``
    for an argument shared by all examples; keyword arguments are mapped over axis 0.
    ``out_axes`` says where the examples go in the outputs. ``axis_size`` gives the batch
    size when no argument is mapped.

    >>> import numpy as np, funcnn as fn, funcnn.numpy as fnp
    >>> per_row_norm = fn.vmap(lambda v: fnp.sqrt(fnp.sum(v ** 2)))
    >>> per_row_norm(np.array([[3.0, 4.0], [6.0, 8.0]]))
    array([ 5., 10.])
    >>> fn.vmap(lambda w, x: x @ w, in_axes=(None, 0))(np.ones((2, 3)), np.ones((4, 2))).shape
    (4, 3)
    """
    @functools.wraps(fun)
    def mapped(*args: Any, **kwargs: Any) -> Any:
        axes = _leaf_axes(in_axes if isinstance(in_axes, (int, type(None))) else tuple(in_axes), args, "in_axes")
        with_path, tree = tree_util.tree_flatten_with_path((args, kwargs))
        axes += [0] * (len(with_path) - len(axes))  # keyword arguments: axis 0
        size = _axis_size(with_path, axes, axis_size)
        with new_trace(BatchTrace) as trace:
            trace.axis_size = size
            leaves = [leaf if ax is None else BatchTracer(trace, leaf, _normalize(ax, leaf))
                      for (_, leaf), ax in zip(with_path, axes)]
            a, k = tree_util.tree_unflatten(tree, leaves)
            out = fun(*a, **k)
        out_flat, out_tree = tree_util.tree_flatten(out)
        targets = _leaf_axes(out_axes, out, "out_axes")
        return tree_util.tree_unflatten(out_tree, [_output(o, ax, trace, size, i)
                                                   for i, (o, ax) in enumerate(zip(out_flat, targets))])
    return mapped


def _normalize(axis: int, leaf: Any) -> int:
    return axis % len(shape_of(leaf))


def _argument(path: tuple) -> str:
    """Where a leaf of ``(args, kwargs)`` is, in words: ``argument 0['w']``, ``keyword argument scale``."""
    positional, name, inner = path[0].idx == 0, path[1], tree_util.keystr(path[2:])
    return f"argument {name.idx}{inner}" if positional else f"keyword argument {name.key}{inner}"


def _axis_size(with_path: list, axes: list, axis_size: int | None) -> int:
    """The one batch size every mapped argument agrees on."""
    sizes = {}
    for (path, leaf), ax in zip(with_path, axes):
        if ax is not None:
            ndim = len(shape_of(leaf))
            if not -ndim <= ax < ndim:
                raise ValueError(f"vmap: in_axes {ax} is out of range for {_argument(path)} of shape "
                                 f"{shape_of(leaf)}")
            sizes[_argument(path)] = shape_of(leaf)[ax]
    if len(set(sizes.values())) > 1:
        listed = ", ".join(f"{where} has {n}" for where, n in sizes.items())
        raise ValueError(f"vmap: the mapped axes have different sizes ({listed})")
    if sizes:
        size = next(iter(sizes.values()))
        if axis_size is not None and axis_size != size:
            raise ValueError(f"vmap: axis_size={axis_size} but the mapped axes have size {size}")
        return size
    if axis_size is None:
        raise ValueError("vmap: no argument is mapped (every in_axes is None), so give axis_size")
    return int(axis_size)


def _output(out: Any, axis: int | None, trace: BatchTrace, size: int, i: int) -> Any:
    """An output with its batch axis at ``axis``; an output that does not depend on the batch is
    broadcast to it (``axis`` None keeps it as it is, and is an error for a batched output)."""
    batched = isinstance(out, BatchTracer) and out._trace is trace
    if axis is None:
        if batched:
            raise ValueError(f"vmap: out_axes is None for output {i}, but that output differs between examples")
        return out
    value, dim = (out.primal, out.dim) if batched else (out, None)
    ndim = len(shape_of(value)) + (dim is None)
    if not -ndim <= axis < ndim:
        raise ValueError(f"vmap: out_axes {axis} is out of range for output {i}, of {ndim - 1} dimensions per example")
    if not batched and type(value) in (bool, int, float, complex):
        value = ops.convert_element_type(value, dtype_of(value))  # an array, to broadcast
    return move_axis(value, dim, axis % ndim, size)
