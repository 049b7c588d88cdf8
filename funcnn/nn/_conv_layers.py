"""Convolution and pooling layers over the functional forms in ``funcnn.nn._conv``.

Feature maps are ``(batch, channels, *spatial)`` with 1 to 3 spatial axes (PyTorch's
layout); a layer's dimension is the length of its ``kernel_size`` when that is a tuple, or
else the number of spatial axes of the ``input_shape`` given to ``init``.
"""
from __future__ import annotations

from collections.abc import Sequence
from typing import Any, Callable

import numpy as np
from numpy.typing import DTypeLike

from funcnn import random
from funcnn.extend import shape_of
from funcnn.nn import _conv, initializers
from funcnn.nn._layer import (
    Config, ConfigurableLayer, Context, Layer, as_shape, configurable, describe, entry, layer_constructor,
    positive_int,
)

__all__ = ["AvgPool", "Conv", "ConvTranspose", "GlobalAvgPool", "MaxPool"]

IntOrSeq = int | Sequence[int]

_CONV = {1: _conv.conv1d, 2: _conv.conv2d, 3: _conv.conv3d}
_CONV_T = {1: _conv.conv_transpose1d, 2: _conv.conv_transpose2d, 3: _conv.conv_transpose3d}
_MAX_POOL = {1: _conv.max_pool1d, 2: _conv.max_pool2d, 3: _conv.max_pool3d}
_AVG_POOL = {1: _conv.avg_pool1d, 2: _conv.avg_pool2d, 3: _conv.avg_pool3d}
_SPATIAL = {1: "L", 2: "H, W", 3: "D, H, W"}


def _ints(value: Any, n: int, name: str, who: str, minimum: int) -> tuple[int, ...]:
    items = (value,) * n if isinstance(value, (int, np.integer)) else tuple(value)
    if len(items) != n or not all(isinstance(v, (int, np.integer)) and not isinstance(v, bool)
                                  and v >= minimum for v in items):
        raise ValueError(f"{who}: {name} must be an int or {n} ints, each at least {minimum}; got {value!r}")
    return tuple(int(v) for v in items)


def _declared_dims(kernel_size: IntOrSeq, who: str) -> int | None:
    """The dimension a tuple `kernel_size` declares (None for an int)."""
    if isinstance(kernel_size, (int, np.integer)):
        return None
    n = len(tuple(kernel_size))
    if n not in (1, 2, 3):
        raise ValueError(f"{who}: kernel_size must be an int or 1 to 3 ints; got {kernel_size!r}")
    return n


def _feature_map_shape(input_shape: Any, declared: int | None, who: str) -> tuple[tuple[int, ...], int]:
    """``input_shape`` checked to be ``(batch, channels, *spatial)``; returns it and its dimension."""
    shape = as_shape(input_shape, who)
    n = len(shape) - 2
    if n not in (1, 2, 3) or (declared is not None and n != declared):
        want = f"{declared + 2} dimensions" if declared is not None else "3 to 5 dimensions"
        raise ValueError(f"{who}: input_shape must be (batch, channels, *spatial) ({want}); got {shape}")
    return shape, n


def _check_map(x: Any, n: int, channels: int | None, who: str, w_shape: Any = None) -> None:
    """A feature map of `n` spatial dimensions (and `channels` channels, when given)."""
    xs = tuple(shape_of(x))
    if len(xs) != n + 2:
        raise ValueError(f"{who}: the input x must have shape (N, C, {_SPATIAL[n]}) ({n + 2} dimensions) "
                         f"for a {n}-d layer; got shape {xs}")
    if channels is not None and xs[1] != channels:
        raise ValueError(f"{who}: the input x has shape {xs}, with {xs[1]} channels on axis 1, but w has "
                         f"shape {w_shape}, which takes inputs with {channels} channels")


def _out_size(size: int, k: int, s: int, p: int, d: int) -> int:
    return -1 if size < 0 else (size + 2 * p - d * (k - 1) - 1) // s + 1


def _check_out(out: tuple[int, ...], shape: tuple[int, ...], who: str) -> None:
    if any(o == 0 or o < -1 for o in out):
        raise ValueError(f"{who}: the input_shape {shape} is too small for this kernel: the output "
                         f"would have spatial size {out}")


@layer_constructor
def Conv(out_channels: int, kernel_size: IntOrSeq, stride: IntOrSeq = 1, padding: IntOrSeq | str = 0,
         dilation: IntOrSeq = 1, groups: int = 1, use_bias: bool = True,
         w_init: initializers.Initializer | None = None, b_init: initializers.Initializer | None = None,
         dtype: DTypeLike = np.float32) -> Layer:
    """A 1-d, 2-d or 3-d convolution (cross-correlation), as PyTorch's ``Conv1d``/``Conv2d``.

    Parameters
    ----------
    out_channels : int
    kernel_size : int or tuple of 1 to 3 ints
        A tuple fixes the dimension; an int applies to every spatial axis of the input.
    stride, dilation : int or tuple, default 1
    padding : int, tuple, "same" or "valid", default 0
        Zeros on both sides of each spatial axis ("same" keeps the size; stride 1 only).
    groups : int, default 1
        Both channel counts must be divisible by it; ``groups = in_channels`` is depthwise.
    use_bias : bool, default True
    w_init : initializer, default ``lecun_normal()``
        For ``w`` of shape ``(out_channels, in_channels // groups, *kernel_size)``; the fans
        include the receptive field.
    b_init : initializer, default ``zeros``
    dtype : floating dtype, default float32

    Notes
    -----
    x : shape (N, in_channels, *spatial) -> y : shape (N, out_channels, *spatial_out), with
    ``out = (size + 2 * padding - dilation * (k - 1) - 1) // stride + 1``.
    Params ``{"w": (out_channels, in_channels // groups, *kernel_size), "b": (out_channels,)}``.

    Examples
    --------
    >>> import numpy as np
    >>> from funcnn import nn, random
    >>> conv = nn.Conv(16, (3, 3), padding=1)
    >>> out_shape, params = conv.init(random.key(0), (-1, 3, 28, 28))
    >>> out_shape, params["w"].shape
    ((-1, 16, 28, 28), (16, 3, 3, 3))
    >>> conv.apply(params, np.zeros((2, 3, 28, 28), np.float32)).shape
    (2, 16, 28, 28)
    """
    out_channels = positive_int(out_channels, "Conv", "out_channels")
    groups = positive_int(groups, "Conv", "groups")
    declared = _declared_dims(kernel_size, "Conv")
    if isinstance(padding, str) and padding.lower() not in ("same", "valid"):
        raise ValueError(f"Conv: padding must be an int, a tuple, 'same' or 'valid'; got {padding!r}")
    if out_channels % groups:
        raise ValueError(f"Conv: out_channels={out_channels} must be divisible by groups={groups}")
    w_init = initializers.lecun_normal() if w_init is None else w_init
    b_init = initializers.zeros if b_init is None else b_init

    def geometry(n: int, who: str) -> tuple[tuple[int, ...], ...]:
        k = _ints(kernel_size, n, "kernel_size", who, 1)
        s = _ints(stride, n, "stride", who, 1)
        d = _ints(dilation, n, "dilation", who, 1)
        if isinstance(padding, str):
            if padding.lower() == "same" and s != (1,) * n:
                raise ValueError(f"{who}: padding='same' needs stride 1; got stride={stride!r}")
            p = (0,) * n
        else:
            p = _ints(padding, n, "padding", who, 0)
        return k, s, p, d

    def init_fn(key: Any, input_shape: Any, path: tuple[str, ...]) -> tuple[Any, Any, Any]:
        who = describe("Conv", path)
        shape, n = _feature_map_shape(input_shape, declared, who)
        in_channels = shape[1]
        if in_channels < 1 or in_channels % groups:
            raise ValueError(f"{who}: the input's channels (axis 1 of input_shape {shape}) must be known "
                             f"and divisible by groups={groups}")
        k, s, p, d = geometry(n, who)
        if isinstance(padding, str) and padding.lower() == "same":
            spatial = shape[2:]
        else:
            spatial = tuple(_out_size(*args) for args in zip(shape[2:], k, s, p, d))
            _check_out(spatial, shape, who)
        k_w, k_b = random.split(key)
        params = {"w": w_init(k_w, (out_channels, in_channels // groups) + k, dtype)}
        if use_bias:
            params["b"] = b_init(k_b, (out_channels,), dtype)
        return (shape[0], out_channels) + spatial, params, {}

    def apply_fn(params: Any, state: Any, x: Any, ctx: Context) -> tuple[Any, Any]:
        who = describe("Conv", ctx.path)
        w = entry(params, "w", ctx.path)
        b = entry(params, "b", ctx.path) if use_bias else None
        ws = tuple(shape_of(w))
        n = len(ws) - 2
        _check_map(x, n, ws[1] * groups, who, ws)
        return _CONV[n](x, w, b, stride, padding, dilation, groups), state

    return Layer("conv", init_fn, apply_fn)


@layer_constructor
def ConvTranspose(out_channels: int, kernel_size: IntOrSeq, stride: IntOrSeq = 1, padding: IntOrSeq = 0,
                  output_padding: IntOrSeq = 0, dilation: IntOrSeq = 1, groups: int = 1,
                  use_bias: bool = True, w_init: initializers.Initializer | None = None,
                  b_init: initializers.Initializer | None = None, dtype: DTypeLike = np.float32) -> Layer:
    """A 1-d, 2-d or 3-d transposed convolution, as PyTorch's ``ConvTranspose2d``.

    Parameters
    ----------
    out_channels : int
    kernel_size : int or tuple of 1 to 3 ints
    stride, padding, output_padding, dilation : int or tuple
        As in PyTorch: ``padding`` trims the full output, ``output_padding`` (smaller than
        the stride or the dilation) adds positions at the end.
    groups : int, default 1
    use_bias : bool, default True
    w_init : initializer, default ``lecun_normal()``
        With ``fan_in = in_channels // groups * prod(kernel_size)`` (as Flax counts it).
    b_init : initializer, default ``zeros``
    dtype : floating dtype, default float32

    Notes
    -----
    x : shape (N, in_channels, *spatial) -> y : shape (N, out_channels, *spatial_out), with
    ``out = (size - 1) * stride - 2 * padding + dilation * (k - 1) + output_padding + 1``.
    Params ``{"w": (in_channels, out_channels // groups, *kernel_size), "b": (out_channels,)}``
    (PyTorch's layout).

    Examples
    --------
    >>> import numpy as np
    >>> from funcnn import nn, random
    >>> up = nn.ConvTranspose(8, 4, stride=2, padding=1)
    >>> out_shape, params = up.init(random.key(0), (-1, 16, 7, 7))
    >>> out_shape, params["w"].shape
    ((-1, 8, 14, 14), (16, 8, 4, 4))
    >>> up.apply(params, np.zeros((2, 16, 7, 7), np.float32)).shape
    (2, 8, 14, 14)
    """
    out_channels = positive_int(out_channels, "ConvTranspose", "out_channels")
    groups = positive_int(groups, "ConvTranspose", "groups")
    declared = _declared_dims(kernel_size, "ConvTranspose")
    if out_channels % groups:
        raise ValueError(f"ConvTranspose: out_channels={out_channels} must be divisible by groups={groups}")
    b_init = initializers.zeros if b_init is None else b_init

    def weight(key: Any, in_channels: int, k: tuple[int, ...]) -> Any:
        if w_init is not None:
            return w_init(key, (in_channels, out_channels // groups) + k, dtype)
        # Initialise per group, so that each output channel's fan-in is its group's inputs.
        per_group = (groups, in_channels // groups, out_channels // groups) + k
        w = initializers.lecun_normal(in_axis=1, out_axis=2, batch_axis=0)(key, per_group, dtype)
        return w.reshape((in_channels, out_channels // groups) + k)

    def init_fn(key: Any, input_shape: Any, path: tuple[str, ...]) -> tuple[Any, Any, Any]:
        who = describe("ConvTranspose", path)
        shape, n = _feature_map_shape(input_shape, declared, who)
        in_channels = shape[1]
        if in_channels < 1 or in_channels % groups:
            raise ValueError(f"{who}: the input's channels (axis 1 of input_shape {shape}) must be known "
                             f"and divisible by groups={groups}")
        k = _ints(kernel_size, n, "kernel_size", who, 1)
        s = _ints(stride, n, "stride", who, 1)
        p = _ints(padding, n, "padding", who, 0)
        op = _ints(output_padding, n, "output_padding", who, 0)
        d = _ints(dilation, n, "dilation", who, 1)
        spatial = tuple(-1 if size < 0 else (size - 1) * si - 2 * pi + di * (ki - 1) + opi + 1
                        for size, ki, si, pi, opi, di in zip(shape[2:], k, s, p, op, d))
        _check_out(spatial, shape, who)
        k_w, k_b = random.split(key)
        params = {"w": weight(k_w, in_channels, k)}
        if use_bias:
            params["b"] = b_init(k_b, (out_channels,), dtype)
        return (shape[0], out_channels) + spatial, params, {}

    def apply_fn(params: Any, state: Any, x: Any, ctx: Context) -> tuple[Any, Any]:
        who = describe("ConvTranspose", ctx.path)
        w = entry(params, "w", ctx.path)
        b = entry(params, "b", ctx.path) if use_bias else None
        ws = tuple(shape_of(w))
        n = len(ws) - 2
        _check_map(x, n, ws[0], who, ws)
        y = _CONV_T[n](x, w, b, stride, padding, output_padding, groups, dilation)
        return y, state

    return Layer("conv_transpose", init_fn, apply_fn)


def _pool(title: str, name: str, table: dict[int, Callable[..., Any]], kernel_size: IntOrSeq,
          stride: IntOrSeq | None, padding: IntOrSeq, **options: Any) -> Layer:
    declared = _declared_dims(kernel_size, title)

    def geometry(n: int, who: str) -> tuple[tuple[int, ...], ...]:
        k = _ints(kernel_size, n, "kernel_size", who, 1)
        s = k if stride is None else _ints(stride, n, "stride", who, 1)
        p = _ints(padding, n, "padding", who, 0)
        return k, s, p

    def init_fn(key: Any, input_shape: Any, path: tuple[str, ...]) -> tuple[Any, Any, Any]:
        who = describe(title, path)
        shape, n = _feature_map_shape(input_shape, declared, who)
        k, s, p = geometry(n, who)
        spatial = tuple(_out_size(size, ki, si, pi, 1) for size, ki, si, pi in zip(shape[2:], k, s, p))
        _check_out(spatial, shape, who)
        return shape[:2] + spatial, {}, {}

    def apply_fn(params: Any, state: Any, x: Any, ctx: Context) -> tuple[Any, Any]:
        who = describe(title, ctx.path)
        n = len(tuple(shape_of(x))) - 2
        if declared is not None:
            _check_map(x, declared, None, who)
        elif n not in (1, 2, 3):
            raise ValueError(f"{who}: the input x must have shape (N, C, *spatial) with 1 to 3 spatial "
                             f"axes; got shape {shape_of(x)}")
        return table[n](x, kernel_size, stride, padding, **options), state

    return Layer(name, init_fn, apply_fn)


@layer_constructor
def MaxPool(kernel_size: IntOrSeq, stride: IntOrSeq | None = None, padding: IntOrSeq = 0) -> Layer:
    """Max pooling over 1 to 3 spatial axes, as PyTorch's ``MaxPool2d``.

    Parameters
    ----------
    kernel_size : int or tuple of 1 to 3 ints
    stride : int or tuple, optional
        Defaults to `kernel_size` (non-overlapping windows).
    padding : int or tuple, default 0
        Implicit ``-inf`` on both sides, at most half the window.

    Notes
    -----
    x : shape (N, C, *spatial) -> y : shape (N, C, *spatial_out), with
    ``out = (size + 2 * padding - kernel_size) // stride + 1``. No params.

    Examples
    --------
    >>> from funcnn import nn, random
    >>> nn.MaxPool(2).init(random.key(0), (-1, 16, 28, 28))[0]
    (-1, 16, 14, 14)
    """
    return _pool("MaxPool", "max_pool", _MAX_POOL, kernel_size, stride, padding)


@layer_constructor
def AvgPool(kernel_size: IntOrSeq, stride: IntOrSeq | None = None, padding: IntOrSeq = 0,
            count_include_pad: bool = True) -> Layer:
    """Average pooling over 1 to 3 spatial axes, as PyTorch's ``AvgPool2d``.

    Parameters
    ----------
    kernel_size : int or tuple of 1 to 3 ints
    stride : int or tuple, optional
        Defaults to `kernel_size`.
    padding : int or tuple, default 0
        Zeros on both sides, at most half the window.
    count_include_pad : bool, default True
        Whether padded zeros count in each window's divisor.

    Notes
    -----
    x : shape (N, C, *spatial) -> y : shape (N, C, *spatial_out), as for :func:`MaxPool`.

    Examples
    --------
    >>> from funcnn import nn, random
    >>> nn.AvgPool((2,)).init(random.key(0), (-1, 4, 10))[0]
    (-1, 4, 5)
    """
    return _pool("AvgPool", "avg_pool", _AVG_POOL, kernel_size, stride, padding,
                 count_include_pad=count_include_pad)


def _global_avg_pool() -> Layer:
    def init_fn(key: Any, input_shape: Any, path: tuple[str, ...]) -> tuple[Any, Any, Any]:
        shape, _ = _feature_map_shape(input_shape, None, describe("GlobalAvgPool", path))
        return shape[:2], {}, {}

    def apply_fn(params: Any, state: Any, x: Any, ctx: Context) -> tuple[Any, Any]:
        if len(tuple(shape_of(x))) < 3:
            raise ValueError(f"{describe('GlobalAvgPool', ctx.path)}: the input x must have shape "
                             f"(N, C, *spatial); got shape {shape_of(x)}")
        return _conv.global_avg_pool(x), state

    return Layer("global_avg_pool", init_fn, apply_fn, Config("GlobalAvgPool"))


GlobalAvgPool: ConfigurableLayer = configurable(_global_avg_pool)
"""The mean over all spatial axes: ``(N, C, *spatial) -> (N, C)``. No params;
``GlobalAvgPool`` and ``GlobalAvgPool()`` are the same layer."""
