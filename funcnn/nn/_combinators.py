"""Combinators: layers made of layers. ``serial`` chains them; ``fan_out``, ``parallel`` and
the ``fan_in_*`` layers build branching models; ``residual`` adds a skip connection.

A combinator stores each sublayer's params (and state) under the sublayer's key,
``f"{layer.name}_{i}"`` for the ``i``-th argument (or the exact name given with
``Layer.named``), and gives it the init key and apply key ``fold_in(key, i)``. It runs its
sublayers through ``init_sublayer`` and ``apply_sublayer``, so that ``nn.summary`` sees them.
"""
from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import funcnn.numpy as fnp
from funcnn.nn._layer import (
    Context, Layer, apply_sublayer, as_shape, check_layers, child_init_key, child_names, describe, entry,
    init_sublayer, layer_constructor, same_shape,
)

__all__ = ["fan_in_concat", "fan_in_sum", "fan_out", "parallel", "residual", "serial"]


def _sub(tree: Any, name: str, path: tuple[str, ...], what: str) -> Any:
    return None if tree is None else entry(tree, name, path, what)


def _run_children(layers: Sequence[Layer], names: Sequence[str], params: Any, state: Any,
                  inputs: Sequence[Any] | None, x: Any, ctx: Context) -> tuple[list[Any], Any]:
    """Apply each layer in turn (``inputs is None``: chained from ``x``) or each to its input."""
    new_state: dict[str, Any] | None = None if state is None else {}
    outputs = []
    for i, (name, layer) in enumerate(zip(names, layers)):
        sub_params = entry(params, name, ctx.path)
        sub_state = _sub(state, name, ctx.path, "state")
        x_in = x if inputs is None else inputs[i]
        y, s = apply_sublayer(layer, sub_params, sub_state, x_in, ctx.child(name, i))
        if new_state is not None:
            new_state[name] = s
        outputs.append(y)
        if inputs is None:
            x = y
    return outputs, new_state


@layer_constructor
def serial(*layers: Layer) -> Layer:
    """Layers applied one after another (the ``Sequential`` of other libraries).

    Parameters
    ----------
    *layers : Layer

    Returns
    -------
    Layer
        Its params map ``f"{layer.name}_{i}"`` to each layer's params.

    Examples
    --------
    >>> import numpy as np
    >>> from funcnn import nn, random
    >>> mlp = nn.serial(nn.Dense(16), nn.Relu, nn.Dense(3))
    >>> out_shape, params = mlp.init(random.key(0), (-1, 8))
    >>> out_shape, sorted(params), params["dense_0"]["w"].shape
    ((-1, 3), ['dense_0', 'dense_2', 'relu_1'], (8, 16))
    >>> mlp.apply(params, np.ones((5, 8), np.float32)).shape
    (5, 3)
    """
    check_layers("serial", layers)
    names = child_names("serial", layers)

    def init_fn(key: Any, input_shape: Any, path: tuple[str, ...]) -> tuple[Any, Any, Any]:
        params, state = {}, {}
        shape = input_shape
        for i, (name, layer) in enumerate(zip(names, layers)):
            shape, params[name], state[name] = init_sublayer(layer, child_init_key(key, i), shape, path + (name,))
        return shape, params, state

    def apply_fn(params: Any, state: Any, x: Any, ctx: Context) -> tuple[Any, Any]:
        outputs, new_state = _run_children(layers, names, params, state, None, x, ctx)
        return (outputs[-1] if outputs else x), new_state

    return Layer("serial", init_fn, apply_fn)


def _check_count(who: str, items: Any, n: int, what: str) -> None:
    if not isinstance(items, (tuple, list)) or len(items) != n:
        got = f"a {type(items).__name__} of length {len(items)}" if isinstance(items, (tuple, list)) \
            else f"a {type(items).__name__}"
        raise ValueError(f"{who}: {what} must be a tuple of {n} entries, one per branch; got {got}")


@layer_constructor
def parallel(*layers: Layer) -> Layer:
    """Layers applied side by side: branch ``i`` runs on input ``i`` (the inputs, the shapes and
    the outputs are tuples).

    Parameters
    ----------
    *layers : Layer

    Returns
    -------
    Layer

    Examples
    --------
    >>> from funcnn import nn, random
    >>> model = nn.serial(nn.fan_out(2), nn.parallel(nn.Dense(4), nn.Identity), nn.fan_in_concat())
    >>> model.init(random.key(0), (-1, 3))[0]
    (-1, 7)
    """
    check_layers("parallel", layers)
    names = child_names("parallel", layers)
    n = len(layers)

    def init_fn(key: Any, input_shape: Any, path: tuple[str, ...]) -> tuple[Any, Any, Any]:
        who = describe("parallel", path)
        _check_count(who, input_shape, n, "input_shape")
        if not all(isinstance(s, (tuple, list)) for s in input_shape):
            raise ValueError(f"{who}: input_shape must be a tuple of {n} shapes, one per branch; got "
                             f"{input_shape!r}")
        params, state, shapes = {}, {}, []
        for i, (name, layer) in enumerate(zip(names, layers)):
            shape, params[name], state[name] = init_sublayer(layer, child_init_key(key, i), input_shape[i],
                                                             path + (name,))
            shapes.append(shape)
        return tuple(shapes), params, state

    def apply_fn(params: Any, state: Any, x: Any, ctx: Context) -> tuple[Any, Any]:
        _check_count(describe("parallel", ctx.path), x, n, "the input x")
        outputs, new_state = _run_children(layers, names, params, state, x, None, ctx)
        return tuple(outputs), new_state

    return Layer("parallel", init_fn, apply_fn)


@layer_constructor
def fan_out(num: int) -> Layer:
    """``num`` copies of the input, as a tuple (to feed :func:`parallel`).

    Examples
    --------
    >>> from funcnn import nn, random
    >>> nn.fan_out(2).init(random.key(0), (-1, 3))[0]
    ((-1, 3), (-1, 3))
    """
    if not isinstance(num, int) or num < 1:
        raise ValueError(f"fan_out: num must be a positive int; got {num!r}")

    def init_fn(key: Any, input_shape: Any, path: tuple[str, ...]) -> tuple[Any, Any, Any]:
        return (input_shape,) * num, {}, {}

    def apply_fn(params: Any, state: Any, x: Any, ctx: Context) -> tuple[Any, Any]:
        return (x,) * num, state

    return Layer("fan_out", init_fn, apply_fn)


def _branch_shapes(who: str, input_shape: Any) -> list[tuple[int, ...]]:
    if not isinstance(input_shape, (tuple, list)) or not input_shape or \
            not all(isinstance(s, (tuple, list)) for s in input_shape):
        raise ValueError(f"{who}: input_shape must be a tuple of shapes, one per branch; got {input_shape!r}")
    return [as_shape(s, who) for s in input_shape]


@layer_constructor
def fan_in_sum() -> Layer:
    """The sum of a tuple of inputs of one shape (no broadcasting).

    Examples
    --------
    >>> import numpy as np
    >>> from funcnn import nn
    >>> nn.fan_in_sum().apply({}, (np.ones(2), np.ones(2)))
    array([2., 2.])
    """
    def init_fn(key: Any, input_shape: Any, path: tuple[str, ...]) -> tuple[Any, Any, Any]:
        who = describe("fan_in_sum", path)
        shapes = _branch_shapes(who, input_shape)
        for s in shapes[1:]:
            if not (same_shape(shapes[0], s) or same_shape(s, shapes[0])):
                raise ValueError(f"{who}: all branches must have one shape; got {tuple(shapes)}")
        return shapes[0], {}, {}

    def apply_fn(params: Any, state: Any, x: Any, ctx: Context) -> tuple[Any, Any]:
        who = describe("fan_in_sum", ctx.path)
        if not isinstance(x, (tuple, list)) or not x:
            raise ValueError(f"{who}: the input must be a tuple of arrays; got a {type(x).__name__}")
        shapes = [tuple(fnp.shape(b)) for b in x]
        if any(s != shapes[0] for s in shapes):
            raise ValueError(f"{who}: all branches must have one shape; got {tuple(shapes)}")
        total = x[0]
        for branch in x[1:]:
            total = total + branch
        return total, state

    return Layer("fan_in_sum", init_fn, apply_fn)


@layer_constructor
def fan_in_concat(axis: int = -1) -> Layer:
    """A tuple of inputs joined along `axis` (use ``axis=1`` for channels of NCHW feature maps).

    Examples
    --------
    >>> from funcnn import nn, random
    >>> nn.fan_in_concat(axis=1).init(random.key(0), ((-1, 3, 8, 8), (-1, 5, 8, 8)))[0]
    (-1, 8, 8, 8)
    """
    def init_fn(key: Any, input_shape: Any, path: tuple[str, ...]) -> tuple[Any, Any, Any]:
        who = describe("fan_in_concat", path)
        shapes = _branch_shapes(who, input_shape)
        ndim = len(shapes[0])
        if not -ndim <= axis < ndim or any(len(s) != ndim for s in shapes):
            raise ValueError(f"{who}: cannot join shapes {tuple(shapes)} along axis {axis}")
        ax = axis % ndim
        for s in shapes[1:]:
            if not same_shape(shapes[0][:ax] + shapes[0][ax + 1:], s[:ax] + s[ax + 1:]):
                raise ValueError(f"{who}: shapes {tuple(shapes)} differ off the joined axis {axis}")
        sizes = [s[ax] for s in shapes]
        joined = -1 if -1 in sizes else sum(sizes)
        return shapes[0][:ax] + (joined,) + shapes[0][ax + 1:], {}, {}

    def apply_fn(params: Any, state: Any, x: Any, ctx: Context) -> tuple[Any, Any]:
        if not isinstance(x, (tuple, list)) or not x:
            raise ValueError(f"{describe('fan_in_concat', ctx.path)}: the input must be a tuple of "
                             f"arrays; got a {type(x).__name__}")
        return fnp.concatenate(list(x), axis=axis), state

    return Layer("fan_in_concat", init_fn, apply_fn)


@layer_constructor
def residual(*layers: Layer, shortcut: Layer | None = None) -> Layer:
    """``y = body(x) + x``, with ``body = serial(*layers)``; or ``body(x) + shortcut(x)``.

    The body's layers are stored directly in the residual's params, as in :func:`serial`;
    a shortcut (e.g. a 1x1 convolution that matches the channels) is stored under
    ``"shortcut"``.

    Parameters
    ----------
    *layers : Layer
        The body. Its output must have the shape of the input (or of the shortcut's output).
    shortcut : Layer, optional

    Returns
    -------
    Layer

    Examples
    --------
    >>> from funcnn import nn, random
    >>> block = nn.residual(nn.Dense(8), nn.Relu, nn.Dense(8))
    >>> out_shape, params = block.init(random.key(0), (-1, 8))
    >>> out_shape, sorted(params)
    ((-1, 8), ['dense_0', 'dense_2', 'relu_1'])
    >>> nn.residual(nn.Dense(4), shortcut=nn.Dense(4)).init(random.key(0), (-1, 8))[0]
    (-1, 4)
    """
    check_layers("residual", layers)
    if shortcut is not None:
        check_layers("residual (shortcut)", [shortcut])
    body = serial(*layers)
    names = child_names("residual", layers)
    if shortcut is not None and "shortcut" in names:
        raise ValueError("residual: a body layer is named 'shortcut', which is the shortcut's key")
    cut = len(layers)

    def init_fn(key: Any, input_shape: Any, path: tuple[str, ...]) -> tuple[Any, Any, Any]:
        who = describe("residual", path)
        # The body's layers sit directly in the residual's params, so the body is no sublayer.
        out_shape, params, state = body.init_fn(key, input_shape, path)
        skip_shape = input_shape
        if shortcut is not None:
            skip_shape, params["shortcut"], state["shortcut"] = init_sublayer(
                shortcut, child_init_key(key, cut), input_shape, path + ("shortcut",))
        if not same_shape(tuple(skip_shape), tuple(out_shape)):
            what = "the shortcut's output" if shortcut is not None else "the input"
            raise ValueError(f"{who}: the body's output shape {tuple(out_shape)} differs from {what} "
                             f"shape {tuple(skip_shape)}, so they cannot be added; give a shortcut layer "
                             "that matches them (e.g. residual(..., shortcut=Dense(n)))")
        return out_shape, params, state

    def apply_fn(params: Any, state: Any, x: Any, ctx: Context) -> tuple[Any, Any]:
        y, new_state = body.apply_fn(params, state, x, ctx)
        skip = x
        if shortcut is not None:
            skip, s = apply_sublayer(shortcut, entry(params, "shortcut", ctx.path),
                                     _sub(state, "shortcut", ctx.path, "state"), x, ctx.child("shortcut", cut))
            if new_state is not None:
                new_state["shortcut"] = s
        if tuple(fnp.shape(y)) != tuple(fnp.shape(skip)):
            raise ValueError(f"{describe('residual', ctx.path)}: the body's output shape {fnp.shape(y)} "
                             f"differs from the skip connection's shape {fnp.shape(skip)}")
        return y + skip, new_state

    return Layer("residual", init_fn, apply_fn)
