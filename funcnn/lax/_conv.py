"""``conv_general_dilated``: N-d convolution with strides, padding, input (lhs) and kernel
(rhs) dilation and feature groups, as one primitive whose derivatives are convolutions.

The primitive works on a group-batched layout: ``lhs`` of shape ``(G, N, C, *S)``
(the ``G`` feature groups split off the channel axis and moved to the front), ``rhs`` of
shape ``(G, O, C, *K)``, result ``(G, N, O, *S_out)``; the public function reshapes to
and from PyTorch's layout with views. With the groups as a batch axis, both VJPs are
the same primitive applied to transposed (and, for the kernel, flipped) arguments:

* the cotangent of ``lhs`` convolves the output cotangent with the flipped kernel, its
  in and out features swapped; the forward strides become the input dilation and the
  forward input dilation becomes the strides (the usual transposed convolution);
* the cotangent of ``rhs`` convolves the input, batch and features swapped, with the
  output cotangent as kernel; the forward kernel dilation becomes the strides and the
  forward strides the kernel dilation.

Both padding amounts are worked out from the forward geometry and may be negative,
which crops. Since the rules are built from the primitive itself, derivatives of every
order are convolutions. The JVP uses linearity in each argument.

When reverse mode will want the kernel's gradient, its VJP rule runs the forward as
``conv_keep_unfolded``, which also returns the unfolded input (the residual) and its
layout; the kernel gradient is then ``conv_from_unfolded``, the same convolution computed
from that residual as one GEMM. Both are values of the graph, handed over by the engine.
"""
from __future__ import annotations

from typing import Any, Sequence

import numpy as np

from funcnn.extend import (
    Primitive, ShapeDtype, Tracer, def_abstract_eval, def_batch, def_jvp, def_jvp_joint, def_vjp, def_vjp_rule,
    dtype_of, move_axis, ndim_of, shape_of, unstack,
)
from funcnn.extend import reshape as engine_reshape
from funcnn.lax import _conv_kernels
from funcnn.lax._windows import Padding, check_spans, dilated_size, out_size, positive_ints, resolve_padding
from funcnn.numpy._shape import flip, reshape, swapaxes, transpose

Pairs = tuple[tuple[int, int], ...]


def _conv_impl(lhs: Any, rhs: Any, *, strides: tuple, padding: Pairs, lhs_dilation: tuple,
               rhs_dilation: tuple) -> np.ndarray:
    return _conv_kernels.conv(lhs, rhs, strides, padding, lhs_dilation, rhs_dilation)


def _conv_keep_impl(lhs: Any, rhs: Any, *, strides: tuple, padding: Pairs, lhs_dilation: tuple,
                    rhs_dilation: tuple) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    out, unfolded = _conv_kernels.conv_keep(lhs, rhs, strides, padding, lhs_dilation, rhs_dilation)
    return (out,) + _conv_kernels.flat_unfolded(unfolded)


def _conv_from_unfolded_impl(lhs: Any, rhs: Any, matrix: np.ndarray, layout: np.ndarray, *, strides: tuple,
                             padding: Pairs, lhs_dilation: tuple, rhs_dilation: tuple) -> np.ndarray:
    """The convolution of ``lhs`` with ``rhs`` (a kernel-gradient convolution: ``rhs`` is the forward's
    output cotangent), computed from the forward's unfolded input; ``lhs`` is not read."""
    rhs = np.asarray(rhs, dtype=matrix.dtype)
    kernel = _out_spatial(shape_of(lhs), shape_of(rhs), strides, padding, lhs_dilation, rhs_dilation)
    if rhs.size == 0 or matrix.size == 0:  # no features, or an empty batch: nothing to add up
        return np.zeros(shape_of(lhs)[:2] + rhs.shape[1:2] + kernel, dtype=matrix.dtype)
    n_pos = rhs.shape[2] * int(np.prod(rhs.shape[3:]))
    unfolded = _conv_kernels.unflat_unfolded(matrix, layout, shape_of(lhs)[1], kernel, n_pos)
    return _conv_kernels.kernel_gradient(unfolded, rhs)


def _out_spatial(lshape: tuple, rshape: tuple, strides: tuple, padding: Pairs, lhs_dilation: tuple,
                 rhs_dilation: tuple) -> tuple[int, ...]:
    return tuple(out_size(dilated_size(n, ld) + lo + hi, dilated_size(k, d), s) for n, ld, (lo, hi), k, d, s
                 in zip(lshape[3:], lhs_dilation, padding, rshape[3:], rhs_dilation, strides))


def _conv_rule(lhs: ShapeDtype, rhs: ShapeDtype, *rest: ShapeDtype, strides: tuple, padding: Pairs,
               lhs_dilation: tuple, rhs_dilation: tuple) -> ShapeDtype:
    sizes = _out_spatial(lhs.shape, rhs.shape, strides, padding, lhs_dilation, rhs_dilation)
    return ShapeDtype(lhs.shape[:2] + rhs.shape[1:2] + sizes, np.result_type(lhs.dtype, rhs.dtype))


def _conv_keep_rule(lhs: ShapeDtype, rhs: ShapeDtype, **geometry: Any) -> tuple[ShapeDtype, ...]:
    out = _conv_rule(lhs, rhs, **geometry)
    nsp = lhs.ndim - 3
    positions = lhs.shape[1] * int(np.prod(out.shape[3:]))
    contracted = lhs.shape[2] * int(np.prod(rhs.shape[3:]))
    return (out, ShapeDtype((lhs.shape[0], positions * contracted), out.dtype),
            ShapeDtype((3 + 2 * nsp,), np.int8))


_conv_p = Primitive("conv_general_dilated", _conv_impl)
_conv_keep_p = Primitive("conv_keep_unfolded", _conv_keep_impl, multiple_results=True)
_conv_from_unfolded_p = Primitive("conv_from_unfolded", _conv_from_unfolded_impl)
def_abstract_eval(_conv_p, _conv_rule)
def_abstract_eval(_conv_keep_p, _conv_keep_rule)
def_abstract_eval(_conv_from_unfolded_p, _conv_rule)


def _lhs_padding(in_sizes: Sequence[int], kernel: Sequence[int], out_sizes: Sequence[int], strides: tuple,
                 padding: Pairs, lhs_dilation: tuple, rhs_dilation: tuple) -> Pairs:
    """Padding of the (stride-dilated) output cotangent in the convolution that gives ``lhs``'s cotangent.

    Input position ``j`` (dilated) met kernel tap ``t`` in the window at output position ``p``
    when ``p * stride + t * dil - lo == j``; flipping the kernel turns that sum over ``p`` and
    ``t`` into a stride-1 window sum starting ``span - 1 - lo`` positions before ``j``.
    """
    pairs = []
    for n, k, m, s, (lo, _), ld, rd in zip(in_sizes, kernel, out_sizes, strides, padding, lhs_dilation,
                                           rhs_dilation):
        span = dilated_size(k, rd)
        before = span - 1 - lo
        after = dilated_size(n, ld) + span - 1 - dilated_size(m, s) - before
        pairs.append((before, after))
    return tuple(pairs)


def _rhs_padding(in_sizes: Sequence[int], kernel: Sequence[int], out_sizes: Sequence[int], strides: tuple,
                 padding: Pairs, lhs_dilation: tuple, rhs_dilation: tuple) -> Pairs:
    """Padding of the input in the convolution that gives ``rhs``'s cotangent: the same before,
    and after trimmed to the positions the forward windows reached."""
    pairs = []
    for n, k, m, s, (lo, _), ld, rd in zip(in_sizes, kernel, out_sizes, strides, padding, lhs_dilation,
                                           rhs_dilation):
        reach = dilated_size(k, rd) - 1 + dilated_size(m, s)
        pairs.append((lo, reach - dilated_size(n, ld) - lo))
    return tuple(pairs)


def _lhs_cotangent(g: Any, lhs: Any, rhs: Any, out_shape: tuple, strides: tuple, padding: Pairs,
                   lhs_dilation: tuple, rhs_dilation: tuple) -> Any:
    nsp = ndim_of(rhs) - 3
    pads = _lhs_padding(shape_of(lhs)[3:], shape_of(rhs)[3:], out_shape[3:], strides, padding, lhs_dilation,
                        rhs_dilation)
    kernel = flip(swapaxes(rhs, 1, 2), tuple(range(3, 3 + nsp)))
    return _conv_p.bind(g, kernel, strides=lhs_dilation, padding=pads, lhs_dilation=strides,
                        rhs_dilation=rhs_dilation)


def _rhs_cotangent(g: Any, lhs: Any, rhs: Any, out_shape: tuple, strides: tuple, padding: Pairs,
                   lhs_dilation: tuple, rhs_dilation: tuple, residuals: tuple = ()) -> Any:
    """The kernel's cotangent: a convolution of the input with the output cotangent, computed
    from the forward's unfolded input when ``residuals`` holds it."""
    pads = _rhs_padding(shape_of(lhs)[3:], shape_of(rhs)[3:], out_shape[3:], strides, padding, lhs_dilation,
                        rhs_dilation)
    prim = _conv_from_unfolded_p if residuals else _conv_p
    ct = prim.bind(swapaxes(lhs, 1, 2), swapaxes(g, 1, 2), *residuals, strides=rhs_dilation, padding=pads,
                   lhs_dilation=lhs_dilation, rhs_dilation=strides)
    return swapaxes(ct, 1, 2)


def _conv_vjp_rule(wanted: tuple, lhs: Any, rhs: Any, **geometry: Any) -> tuple:
    """Reverse mode's forward: keep the unfolded input when the kernel's gradient is wanted."""
    if wanted[1]:
        out, *residuals = _conv_keep_p.bind(lhs, rhs, **geometry)
    else:
        out, residuals = _conv_p.bind(lhs, rhs, **geometry), []
    out_shape = shape_of(out)

    def pullback(g: Any) -> tuple:
        return (_lhs_cotangent(g, lhs, rhs, out_shape, **geometry) if wanted[0] else None,
                _rhs_cotangent(g, lhs, rhs, out_shape, **geometry, residuals=tuple(residuals)) if wanted[1] else None)
    return out, pullback


def _staged(cotangent: Any) -> Any:
    """A staged VJP maker from ``cotangent(g, lhs, rhs, out_shape, **geometry)``."""
    return lambda ans, lhs, rhs, *_, **geometry: lambda g: cotangent(g, lhs, rhs, shape_of(ans), **geometry)


def _keep_cotangent(cotangent: Any) -> Any:
    """The same for ``conv_keep_unfolded``, whose cotangent is a tuple (the residuals get none)."""
    return lambda ans, lhs, rhs, **geometry: lambda g: None if g[0] is None else cotangent(
        g[0], lhs, rhs, shape_of(ans[0]), **geometry)


def _conv_keep_jvp(tangents: list, ans: tuple, lhs: Any, rhs: Any, **geometry: Any) -> tuple:
    t_lhs, t_rhs = tangents
    out = None if t_lhs is None else _conv_p.bind(t_lhs, rhs, **geometry)
    if t_rhs is not None:
        term = _conv_p.bind(lhs, t_rhs, **geometry)
        out = term if out is None else out + term
    return out, None, None


def_vjp_rule(_conv_p, _conv_vjp_rule)
def_jvp(_conv_p, lambda t, ans, lhs, rhs, **geometry: _conv_p.bind(t, rhs, **geometry),
        lambda t, ans, lhs, rhs, **geometry: _conv_p.bind(lhs, t, **geometry))
def_vjp(_conv_keep_p, _keep_cotangent(_lhs_cotangent), _keep_cotangent(_rhs_cotangent))
def_jvp_joint(_conv_keep_p, _conv_keep_jvp)
# conv_from_unfolded is the convolution of its first two operands: the same rules, none for the residuals
def_vjp(_conv_from_unfolded_p, _staged(_lhs_cotangent), _staged(_rhs_cotangent), None, None)
def_jvp(_conv_from_unfolded_p, lambda t, ans, lhs, rhs, *_, **geometry: _conv_p.bind(t, rhs, **geometry),
        lambda t, ans, lhs, rhs, *_, **geometry: _conv_p.bind(lhs, t, **geometry), None, None)


# --- batching: a batch of inputs joins the images, a batch of kernels the feature groups -------


def _fold(x: Any, dim: int | None, size: int, axis: int) -> Any:
    """``x`` with its batch axis merged into the next axis ``axis`` (broadcast there when unbatched)."""
    moved = move_axis(x, dim, axis, size)
    shape = shape_of(moved)
    return engine_reshape(moved, shape[:axis] + (shape[axis] * shape[axis + 1],) + shape[axis + 2:])


def _unfold(x: Any, size: int, axis: int) -> Any:
    """The inverse of :func:`_fold`: axis ``axis`` split into the batch and the rest."""
    shape = shape_of(x)
    return engine_reshape(x, shape[:axis] + (size, shape[axis] // size) + shape[axis + 1:])


def _conv_batch(size: int, args: Sequence[Any], dims: tuple, **geometry: Any) -> tuple[Any, int]:
    """Batched inputs against one kernel are more images (one convolution over ``B * N``); a batch
    of kernels is ``B`` times as many feature groups, each example's input in its own."""
    (lhs, rhs), (dl, dr) = args, dims
    if dr is None:
        out = _conv_p.bind(_fold(lhs, dl, size, 1), rhs, **geometry)
        return _unfold(out, size, 1), 1
    out = _conv_p.bind(_fold(lhs, dl, size, 0), _fold(rhs, dr, size, 0), **geometry)
    return _unfold(out, size, 0), 0


def _conv_keep_batch(size: int, args: Sequence[Any], dims: tuple, **geometry: Any) -> tuple[tuple, tuple]:
    """As groups, always: each example's unfolded input is then its own block of the result (one
    layout for all), which is what the kernel gradient of each example reads."""
    (lhs, rhs), (dl, dr) = args, dims
    out, matrix, layout = _conv_keep_p.bind(_fold(lhs, dl, size, 0), _fold(rhs, dr, size, 0), **geometry)
    return (_unfold(out, size, 0), _unfold(matrix, size, 0), layout), (0, 0, None)


def _conv_from_unfolded_batch(size: int, args: Sequence[Any], dims: tuple, **geometry: Any) -> tuple[Any, int]:
    if dims[3] is not None:  # the layout is a function of shapes only, the same in every example
        args, dims = (*args[:3], unstack(args[3], dims[3], size)[0]), (*dims[:3], None)
    folded = [_fold(x, d, size, 0) for x, d in zip(args[:3], dims[:3])]
    out = _conv_from_unfolded_p.bind(*folded, args[3], **geometry)
    return _unfold(out, size, 0), 0


def_batch(_conv_p, _conv_batch)
def_batch(_conv_keep_p, _conv_keep_batch)
def_batch(_conv_from_unfolded_p, _conv_from_unfolded_batch)


def conv_general_dilated(lhs: Any, rhs: Any, window_strides: Sequence[int], padding: Padding,
                         lhs_dilation: Sequence[int] | None = None, rhs_dilation: Sequence[int] | None = None,
                         feature_group_count: int = 1) -> Any:
    """General N-d convolution (cross-correlation, as in deep learning), JAX's ``lax`` signature
    with PyTorch's layout.

    Parameters
    ----------
    lhs : array, shape (N, C, *S)
        The input: batch, channels, then 1 to 3 spatial dimensions (NCW, NCHW, NCDHW).
    rhs : array, shape (O, C // feature_group_count, *K)
        The kernel: output features, input features per group, then one size per spatial
        dimension (OIW, OIHW, OIDHW).
    window_strides : sequence of int
        Step between windows along each spatial dimension (an int applies to all).
    padding : "SAME", "VALID" or sequence of (low, high) int pairs
        ``"VALID"`` pads nothing; ``"SAME"`` pads so that there are ``ceil(S / stride)``
        outputs per dimension (any odd amount goes after); explicit pairs apply to the
        dilated input, and negative amounts crop it.
    lhs_dilation : sequence of int, optional
        Spacing between input elements (zeros are inserted): ``lhs_dilation = s`` with
        stride 1 is the transposed convolution of a stride-``s`` convolution.
    rhs_dilation : sequence of int, optional
        Spacing between kernel taps (atrous convolution).
    feature_group_count : int, default 1
        Split the channels into this many groups, each convolved with its own slice of
        ``O // feature_group_count`` kernels; ``feature_group_count = C`` is a depthwise
        convolution.

    Returns
    -------
    array, shape (N, O, *S_out)
        ``S_out = (dilated S + low + high - dilated K) // stride + 1`` per dimension.

    Raises
    ------
    ValueError
        Naming the argument and the shapes, for wrong ranks, channel counts that do not fit
        ``feature_group_count``, non-positive strides or dilations, padding of the wrong
        length, or a dilated kernel longer than the padded input.

    Examples
    --------
    >>> import numpy as np
    >>> from funcnn import lax
    >>> x = np.arange(16.0).reshape(1, 1, 4, 4)
    >>> w = np.ones((1, 1, 2, 2))
    >>> lax.conv_general_dilated(x, w, (2, 2), "VALID")
    array([[[[10., 18.],
             [42., 50.]]]])
    >>> lax.conv_general_dilated(x, w, (1, 1), "SAME").shape
    (1, 1, 4, 4)
    """
    fn = "conv_general_dilated"
    lhs, rhs = (x if isinstance(x, Tracer) else np.asarray(x) for x in (lhs, rhs))
    nsp, groups = _check_layout(lhs, rhs, feature_group_count, fn)
    strides = positive_ints(window_strides, nsp, "window_strides", fn)
    ld = positive_ints(lhs_dilation, nsp, "lhs_dilation", fn)
    rd = positive_ints(rhs_dilation, nsp, "rhs_dilation", fn)
    lshape, rshape = shape_of(lhs), shape_of(rhs)
    sizes = [dilated_size(n, d) for n, d in zip(lshape[2:], ld)]
    spans = [dilated_size(k, d) for k, d in zip(rshape[2:], rd)]
    pads = resolve_padding(padding, sizes, spans, strides, fn)
    shapes = f"lhs shape {lshape}, rhs shape {rshape}, padding {pads}, lhs_dilation {ld}, rhs_dilation {rd}"
    check_spans(fn, "dilated kernel", [n + lo + hi for n, (lo, hi) in zip(sizes, pads)], spans, shapes)
    batch, chans, out_feats = lshape[0], lshape[1], rshape[0]
    if groups == 1:
        x = reshape(lhs, (1,) + lshape)
        w = reshape(rhs, (1,) + rshape)
    else:
        x = transpose(reshape(lhs, (batch, groups, chans // groups) + lshape[2:]), (1, 0) + tuple(range(2, nsp + 3)))
        w = reshape(rhs, (groups, out_feats // groups) + rshape[1:])
    out = _conv_p.bind(x, w, strides=strides, padding=pads, lhs_dilation=ld, rhs_dilation=rd)
    out_sp = shape_of(out)[3:]
    if groups != 1:
        out = transpose(out, (1, 0) + tuple(range(2, nsp + 3)))
    return reshape(out, (batch, out_feats) + out_sp)


def _check_layout(lhs: Any, rhs: Any, feature_group_count: int, fn: str) -> tuple[int, int]:
    """The number of spatial dimensions and of groups, after checking ranks and channel counts."""
    lshape, rshape = shape_of(lhs), shape_of(rhs)
    if not 3 <= len(lshape) <= 5:
        raise ValueError(f"{fn}: lhs must have shape (N, C, *spatial) with 1 to 3 spatial dimensions; got "
                         f"shape {lshape}")
    if len(rshape) != len(lshape):
        raise ValueError(f"{fn}: rhs must have shape (O, I, *kernel) with as many dimensions as lhs; got "
                         f"rhs shape {rshape} for lhs shape {lshape}")
    groups = feature_group_count
    if not isinstance(groups, (int, np.integer)) or isinstance(groups, bool) or groups < 1:
        raise ValueError(f"{fn}: feature_group_count must be a positive integer; got {groups!r}")
    chans, out_feats = lshape[1], rshape[0]
    if chans % groups or out_feats % groups:
        raise ValueError(f"{fn}: feature_group_count={groups} must divide both the {chans} input channels "
                         f"(lhs shape {lshape}) and the {out_feats} output features (rhs shape {rshape})")
    if rshape[1] * groups != chans:
        raise ValueError(f"{fn}: lhs has {chans} channels but rhs of shape {rshape} expects {rshape[1]} per "
                         f"group x feature_group_count={groups} = {rshape[1] * groups} (lhs shape {lshape})")
    for name, x in (("lhs", lhs), ("rhs", rhs)):
        if not np.issubdtype(dtype_of(x), np.number) or np.issubdtype(dtype_of(x), np.complexfloating):
            raise TypeError(f"{fn}: {name} must be a real numeric array; got dtype {dtype_of(x)}")
    return len(lshape) - 2, int(groups)
