"""Functional convolution and pooling with PyTorch's arguments and layouts.

Thin wrappers over :mod:`funcnn.lax`: ``conv1d``/``conv2d``/``conv3d`` and
``conv_transpose1d``/``2d``/``3d`` over ``conv_general_dilated``, the pools over
``lax.max_pool``/``lax.avg_pool``. Arguments mean what they mean in
``torch.nn.functional``: an int stands for the same value along every spatial
dimension, ``padding`` is symmetric (or ``"same"``/``"valid"`` for convolutions), pooling
strides default to the kernel size.
"""
from __future__ import annotations

from typing import Any, Sequence, Union

import numpy as np

from funcnn.extend import ndim_of, shape_of
from funcnn.lax import avg_pool, conv_general_dilated, max_pool
from funcnn.lax._windows import spatial_ints
from funcnn.numpy._reductions import mean
from funcnn.numpy._shape import flip, reshape, swapaxes
from funcnn.numpy._elementwise import add

IntOrSeq = Union[int, Sequence[int]]


def _check_input(fn: str, x: Any, nsp: int, name: str = "x") -> None:
    if ndim_of(x) != nsp + 2:
        dims = "".join("DHW"[3 - nsp:])
        raise ValueError(f"{fn}: {name} must have shape (N, C, {', '.join(dims)}) ({nsp + 2} dimensions); got "
                         f"shape {shape_of(x)} (add a batch axis with x[None] for a single example)")


def _add_bias(y: Any, b: Any, fn: str) -> Any:
    if b is None:
        return y
    if shape_of(b) != (shape_of(y)[1],):
        raise ValueError(f"{fn}: bias b must have shape ({shape_of(y)[1]},), one per output channel; got "
                         f"shape {shape_of(b)}")
    return add(y, reshape(b, (-1,) + (1,) * (ndim_of(y) - 2)))


def _conv(fn: str, nsp: int, x: Any, w: Any, b: Any, stride: IntOrSeq, padding: Any, dilation: IntOrSeq,
          groups: int) -> Any:
    _check_input(fn, x, nsp)
    strides = spatial_ints(stride, nsp, "stride", fn)
    dilations = spatial_ints(dilation, nsp, "dilation", fn)
    if isinstance(padding, str):
        mode = padding.lower()
        if mode not in ("same", "valid"):
            raise ValueError(f"{fn}: padding must be an int, {nsp} ints, 'same' or 'valid'; got {padding!r}")
        if mode == "same" and strides != (1,) * nsp:
            raise ValueError(f"{fn}: padding='same' needs stride 1 (as in PyTorch); got stride={stride!r}")
        pads: Any = mode.upper()
    else:
        pads = tuple((p, p) for p in spatial_ints(padding, nsp, "padding", fn, minimum=0))
    y = conv_general_dilated(x, w, strides, pads, rhs_dilation=dilations, feature_group_count=groups)
    return _add_bias(y, b, fn)


def conv1d(x: Any, w: Any, b: Any = None, stride: IntOrSeq = 1, padding: Any = 0, dilation: IntOrSeq = 1,
           groups: int = 1) -> Any:
    """1-d convolution (cross-correlation), as ``torch.nn.functional.conv1d``.

    Parameters
    ----------
    x : array, shape (N, C, W)
    w : array, shape (O, C // groups, kW)
    b : array, shape (O,), optional
    stride, dilation : int or (int,)
    padding : int, (int,), "same" or "valid"
        Zeros added on both sides; "same" keeps the length (stride 1 only).
    groups : int
        Split channels into groups, each with its own ``O // groups`` kernels.

    Returns
    -------
    array, shape (N, O, W_out)
        ``W_out = (W + 2 * padding - dilation * (kW - 1) - 1) // stride + 1``.

    Examples
    --------
    >>> import numpy as np
    >>> conv1d(np.arange(5.0).reshape(1, 1, 5), np.ones((1, 1, 2)), padding=1)
    array([[[0., 1., 3., 5., 7., 4.]]])
    """
    return _conv("conv1d", 1, x, w, b, stride, padding, dilation, groups)


def conv2d(x: Any, w: Any, b: Any = None, stride: IntOrSeq = 1, padding: Any = 0, dilation: IntOrSeq = 1,
           groups: int = 1) -> Any:
    """2-d convolution (cross-correlation), as ``torch.nn.functional.conv2d``.

    Parameters
    ----------
    x : array, shape (N, C, H, W)
    w : array, shape (O, C // groups, kH, kW)
    b : array, shape (O,), optional
    stride, dilation : int or (int, int)
    padding : int, (int, int), "same" or "valid"
        Zeros added on both sides of each spatial dimension; "same" keeps the size
        (stride 1 only; an odd total puts the extra zero after).
    groups : int
        Split channels into groups, each with its own ``O // groups`` kernels;
        ``groups = C`` is a depthwise convolution.

    Returns
    -------
    array, shape (N, O, H_out, W_out)
        ``H_out = (H + 2 * padding - dilation * (kH - 1) - 1) // stride + 1``, likewise ``W_out``.

    Examples
    --------
    >>> import numpy as np
    >>> x = np.ones((2, 3, 5, 5), dtype=np.float32)
    >>> w = np.ones((4, 3, 3, 3), dtype=np.float32)
    >>> y = conv2d(x, w, np.zeros(4, np.float32), padding=1)
    >>> y.shape, y.dtype, float(y[0, 0, 0, 0]), float(y[0, 0, 2, 2])
    ((2, 4, 5, 5), dtype('float32'), 12.0, 27.0)
    """
    return _conv("conv2d", 2, x, w, b, stride, padding, dilation, groups)


def conv3d(x: Any, w: Any, b: Any = None, stride: IntOrSeq = 1, padding: Any = 0, dilation: IntOrSeq = 1,
           groups: int = 1) -> Any:
    """3-d convolution (cross-correlation), as ``torch.nn.functional.conv3d``.

    Parameters
    ----------
    x : array, shape (N, C, D, H, W)
    w : array, shape (O, C // groups, kD, kH, kW)
    b : array, shape (O,), optional
    stride, dilation : int or (int, int, int)
    padding : int, (int, int, int), "same" or "valid"
    groups : int

    Returns
    -------
    array, shape (N, O, D_out, H_out, W_out)

    Examples
    --------
    >>> import numpy as np
    >>> conv3d(np.ones((1, 2, 4, 4, 4)), np.ones((3, 2, 2, 2, 2)), stride=2).shape
    (1, 3, 2, 2, 2)
    """
    return _conv("conv3d", 3, x, w, b, stride, padding, dilation, groups)


def _conv_transpose(fn: str, nsp: int, x: Any, w: Any, b: Any, stride: IntOrSeq, padding: IntOrSeq,
                    output_padding: IntOrSeq, groups: int, dilation: IntOrSeq) -> Any:
    _check_input(fn, x, nsp)
    _check_input(fn, w, nsp, "w")
    strides = spatial_ints(stride, nsp, "stride", fn)
    dilations = spatial_ints(dilation, nsp, "dilation", fn)
    pads = spatial_ints(padding, nsp, "padding", fn, minimum=0)
    extra = spatial_ints(output_padding, nsp, "output_padding", fn, minimum=0)
    for op, s, d in zip(extra, strides, dilations):
        if op >= max(s, d):
            raise ValueError(f"{fn}: output_padding={output_padding!r} must be smaller than stride or dilation "
                             f"(stride={stride!r}, dilation={dilation!r})")
    in_chans, kernel = shape_of(x)[1], shape_of(w)[2:]
    if not isinstance(groups, (int, np.integer)) or isinstance(groups, bool) or groups < 1 or in_chans % groups:
        raise ValueError(f"{fn}: groups={groups!r} must be a positive divisor of the {in_chans} input channels "
                         f"(x shape {shape_of(x)})")
    if shape_of(w)[0] != in_chans:
        raise ValueError(f"{fn}: w must have shape (in_channels, out_channels // groups, *kernel) with "
                         f"in_channels = {in_chans} (x shape {shape_of(x)}); got w shape {shape_of(w)}")
    out_sp = [(n - 1) * s - 2 * p + d * (k - 1) + op + 1
              for n, s, p, d, k, op in zip(shape_of(x)[2:], strides, pads, dilations, kernel, extra)]
    if min(out_sp) < 1:
        raise ValueError(f"{fn}: the output would have spatial size {tuple(out_sp)} for x shape {shape_of(x)}, "
                         f"w shape {shape_of(w)}, stride={stride!r}, padding={padding!r}, dilation={dilation!r}; "
                         "reduce the padding")
    # the transposed convolution is the input-gradient of a convolution: a stride-1 convolution of the
    # stride-dilated input with the flipped kernel, its in and out features swapped within each group
    per_group = (groups, in_chans // groups) + shape_of(w)[1:]
    rhs = swapaxes(reshape(w, per_group), 1, 2)
    rhs = reshape(rhs, (groups * shape_of(w)[1], in_chans // groups) + kernel)
    rhs = flip(rhs, tuple(range(2, nsp + 2)))
    lax_pads = tuple((d * (k - 1) - p, d * (k - 1) - p + op)
                     for k, d, p, op in zip(kernel, dilations, pads, extra))
    y = conv_general_dilated(x, rhs, (1,) * nsp, lax_pads, lhs_dilation=strides, rhs_dilation=dilations,
                             feature_group_count=groups)
    return _add_bias(y, b, fn)


def conv_transpose1d(x: Any, w: Any, b: Any = None, stride: IntOrSeq = 1, padding: IntOrSeq = 0,
                     output_padding: IntOrSeq = 0, groups: int = 1, dilation: IntOrSeq = 1) -> Any:
    """1-d transposed convolution, as ``torch.nn.functional.conv_transpose1d``.

    Parameters
    ----------
    x : array, shape (N, C_in, W)
    w : array, shape (C_in, C_out // groups, kW)
        PyTorch's transposed-convolution weight layout.
    b : array, shape (C_out,), optional
    stride, padding, output_padding, dilation : int or (int,)
    groups : int

    Returns
    -------
    array, shape (N, C_out, W_out)
        ``W_out = (W - 1) * stride - 2 * padding + dilation * (kW - 1) + output_padding + 1``.

    Examples
    --------
    >>> import numpy as np
    >>> conv_transpose1d(np.array([[[1.0, 2.0]]]), np.ones((1, 1, 3)), stride=2)
    array([[[1., 1., 3., 2., 2.]]])
    """
    return _conv_transpose("conv_transpose1d", 1, x, w, b, stride, padding, output_padding, groups, dilation)


def conv_transpose2d(x: Any, w: Any, b: Any = None, stride: IntOrSeq = 1, padding: IntOrSeq = 0,
                     output_padding: IntOrSeq = 0, groups: int = 1, dilation: IntOrSeq = 1) -> Any:
    """2-d transposed convolution ("deconvolution"), as ``torch.nn.functional.conv_transpose2d``.

    It is the gradient of ``conv2d`` with respect to its input: each input element
    scatters a copy of the kernel, scaled by its value, into the output, ``stride`` apart.

    Parameters
    ----------
    x : array, shape (N, C_in, H, W)
    w : array, shape (C_in, C_out // groups, kH, kW)
        PyTorch's transposed-convolution weight layout.
    b : array, shape (C_out,), optional
    stride, padding, output_padding, dilation : int or (int, int)
        ``padding`` trims that many positions from both ends of each spatial dimension of
        the full output; ``output_padding`` (smaller than the stride or the dilation) adds
        positions at the end, to choose among the input sizes a strided ``conv2d`` maps
        to the same output size.
    groups : int

    Returns
    -------
    array, shape (N, C_out, H_out, W_out)
        ``H_out = (H - 1) * stride - 2 * padding + dilation * (kH - 1) + output_padding + 1``.

    Examples
    --------
    >>> import numpy as np
    >>> y = conv_transpose2d(np.ones((1, 2, 3, 3)), np.ones((2, 5, 3, 3)), stride=2, padding=1, output_padding=1)
    >>> y.shape
    (1, 5, 6, 6)
    """
    return _conv_transpose("conv_transpose2d", 2, x, w, b, stride, padding, output_padding, groups, dilation)


def conv_transpose3d(x: Any, w: Any, b: Any = None, stride: IntOrSeq = 1, padding: IntOrSeq = 0,
                     output_padding: IntOrSeq = 0, groups: int = 1, dilation: IntOrSeq = 1) -> Any:
    """3-d transposed convolution, as ``torch.nn.functional.conv_transpose3d``.

    Parameters
    ----------
    x : array, shape (N, C_in, D, H, W)
    w : array, shape (C_in, C_out // groups, kD, kH, kW)
    b : array, shape (C_out,), optional
    stride, padding, output_padding, dilation : int or (int, int, int)
    groups : int

    Returns
    -------
    array, shape (N, C_out, D_out, H_out, W_out)

    Examples
    --------
    >>> import numpy as np
    >>> conv_transpose3d(np.ones((1, 1, 2, 2, 2)), np.ones((1, 2, 2, 2, 2)), stride=2).shape
    (1, 2, 4, 4, 4)
    """
    return _conv_transpose("conv_transpose3d", 3, x, w, b, stride, padding, output_padding, groups, dilation)


# --- pooling ---------------------------------------------------------------------------------


def _pool_geometry(fn: str, nsp: int, x: Any, kernel_size: IntOrSeq, stride: IntOrSeq | None,
                   padding: IntOrSeq) -> tuple:
    _check_input(fn, x, nsp)
    window = spatial_ints(kernel_size, nsp, "kernel_size", fn)
    strides = window if stride is None else spatial_ints(stride, nsp, "stride", fn)
    pads = spatial_ints(padding, nsp, "padding", fn, minimum=0)
    if any(2 * p > k for p, k in zip(pads, window)):
        raise ValueError(f"{fn}: padding={padding!r} must be at most half of kernel_size={kernel_size!r} "
                         "(as in PyTorch)")
    return window, strides, tuple((p, p) for p in pads)


def max_pool1d(x: Any, kernel_size: IntOrSeq, stride: IntOrSeq | None = None, padding: IntOrSeq = 0) -> Any:
    """1-d max pooling, as ``torch.nn.functional.max_pool1d``.

    The gradient of a window flows to its first maximal element (see ``lax.max_pool``).

    Parameters
    ----------
    x : array, shape (N, C, W)
    kernel_size : int or (int,)
    stride : int or (int,), optional
        Defaults to ``kernel_size``.
    padding : int or (int,)
        Implicit ``-inf`` on both sides, at most half the kernel size.

    Returns
    -------
    array, shape (N, C, W_out)
        ``W_out = (W + 2 * padding - kernel_size) // stride + 1``.

    Examples
    --------
    >>> import numpy as np
    >>> max_pool1d(np.array([[[1.0, 4.0, 2.0, 3.0, 0.0]]]), 2)
    array([[[4., 3.]]])
    """
    return max_pool(x, *_pool_geometry("max_pool1d", 1, x, kernel_size, stride, padding))


def max_pool2d(x: Any, kernel_size: IntOrSeq, stride: IntOrSeq | None = None, padding: IntOrSeq = 0) -> Any:
    """2-d max pooling, as ``torch.nn.functional.max_pool2d``.

    The gradient of a window flows to its first maximal element in row-major order
    (see ``lax.max_pool``).

    Parameters
    ----------
    x : array, shape (N, C, H, W)
    kernel_size : int or (int, int)
    stride : int or (int, int), optional
        Defaults to ``kernel_size``.
    padding : int or (int, int)
        Implicit ``-inf`` on both sides, at most half the kernel size.

    Returns
    -------
    array, shape (N, C, H_out, W_out)
        ``H_out = (H + 2 * padding - kernel_size) // stride + 1``, likewise ``W_out``.

    Examples
    --------
    >>> import numpy as np
    >>> max_pool2d(np.arange(16.0).reshape(1, 1, 4, 4), 2)
    array([[[[ 5.,  7.],
             [13., 15.]]]])
    """
    return max_pool(x, *_pool_geometry("max_pool2d", 2, x, kernel_size, stride, padding))


def max_pool3d(x: Any, kernel_size: IntOrSeq, stride: IntOrSeq | None = None, padding: IntOrSeq = 0) -> Any:
    """3-d max pooling, as ``torch.nn.functional.max_pool3d``.

    Parameters
    ----------
    x : array, shape (N, C, D, H, W)
    kernel_size : int or (int, int, int)
    stride : int or (int, int, int), optional
        Defaults to ``kernel_size``.
    padding : int or (int, int, int)

    Returns
    -------
    array, shape (N, C, D_out, H_out, W_out)

    Examples
    --------
    >>> import numpy as np
    >>> max_pool3d(np.arange(8.0).reshape(1, 1, 2, 2, 2), 2)
    array([[[[[7.]]]]])
    """
    return max_pool(x, *_pool_geometry("max_pool3d", 3, x, kernel_size, stride, padding))


def avg_pool1d(x: Any, kernel_size: IntOrSeq, stride: IntOrSeq | None = None, padding: IntOrSeq = 0,
               count_include_pad: bool = True) -> Any:
    """1-d average pooling, as ``torch.nn.functional.avg_pool1d``.

    Parameters
    ----------
    x : array, shape (N, C, W)
    kernel_size : int or (int,)
    stride : int or (int,), optional
        Defaults to ``kernel_size``.
    padding : int or (int,)
        Zeros on both sides, at most half the kernel size.
    count_include_pad : bool, default True
        Whether padded zeros count in each window's divisor.

    Returns
    -------
    array, shape (N, C, W_out)

    Examples
    --------
    >>> import numpy as np
    >>> avg_pool1d(np.array([[[1.0, 3.0, 5.0]]]), 2, stride=1, padding=1, count_include_pad=False)
    array([[[1., 2., 4., 5.]]])
    """
    window, strides, pads = _pool_geometry("avg_pool1d", 1, x, kernel_size, stride, padding)
    return avg_pool(x, window, strides, pads, count_include_pad)


def avg_pool2d(x: Any, kernel_size: IntOrSeq, stride: IntOrSeq | None = None, padding: IntOrSeq = 0,
               count_include_pad: bool = True) -> Any:
    """2-d average pooling, as ``torch.nn.functional.avg_pool2d``.

    Parameters
    ----------
    x : array, shape (N, C, H, W)
    kernel_size : int or (int, int)
    stride : int or (int, int), optional
        Defaults to ``kernel_size``.
    padding : int or (int, int)
        Zeros on both sides, at most half the kernel size.
    count_include_pad : bool, default True
        Whether padded zeros count in each window's divisor.

    Returns
    -------
    array, shape (N, C, H_out, W_out)

    Examples
    --------
    >>> import numpy as np
    >>> avg_pool2d(np.arange(16.0).reshape(1, 1, 4, 4), 2)
    array([[[[ 2.5,  4.5],
             [10.5, 12.5]]]])
    """
    window, strides, pads = _pool_geometry("avg_pool2d", 2, x, kernel_size, stride, padding)
    return avg_pool(x, window, strides, pads, count_include_pad)


def avg_pool3d(x: Any, kernel_size: IntOrSeq, stride: IntOrSeq | None = None, padding: IntOrSeq = 0,
               count_include_pad: bool = True) -> Any:
    """3-d average pooling, as ``torch.nn.functional.avg_pool3d``.

    Parameters
    ----------
    x : array, shape (N, C, D, H, W)
    kernel_size : int or (int, int, int)
    stride : int or (int, int, int), optional
    padding : int or (int, int, int)
    count_include_pad : bool, default True

    Returns
    -------
    array, shape (N, C, D_out, H_out, W_out)

    Examples
    --------
    >>> import numpy as np
    >>> avg_pool3d(np.arange(8.0).reshape(1, 1, 2, 2, 2), 2)
    array([[[[[3.5]]]]])
    """
    window, strides, pads = _pool_geometry("avg_pool3d", 3, x, kernel_size, stride, padding)
    return avg_pool(x, window, strides, pads, count_include_pad)


def global_avg_pool(x: Any, keepdims: bool = False) -> Any:
    """Mean over all spatial dimensions.

    Parameters
    ----------
    x : array, shape (N, C, *S)
        At least one spatial dimension.
    keepdims : bool, default False
        Keep the spatial dimensions with size 1 (like ``adaptive_avg_pool2d(x, 1)``).

    Returns
    -------
    array, shape (N, C), or (N, C, 1, ...) with ``keepdims``

    Examples
    --------
    >>> import numpy as np
    >>> global_avg_pool(np.arange(8.0).reshape(1, 2, 2, 2))
    array([[1.5, 5.5]])
    """
    if ndim_of(x) < 3:
        raise ValueError(f"global_avg_pool: x must have shape (N, C, *spatial) with at least one spatial "
                         f"dimension; got shape {shape_of(x)}")
    return mean(x, axis=tuple(range(2, ndim_of(x))), keepdims=keepdims)
