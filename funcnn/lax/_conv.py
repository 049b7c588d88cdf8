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
"""
from __future__ import annotations

from typing import Any, Sequence

import numpy as np

from funcnn._src.core import Primitive, Tracer, defjvp, defvjp, dtype_of, ndim_of, shape_of
from funcnn.lax import _conv_kernels
from funcnn.lax._conv_kernels import Keep, Unfolded
from funcnn.lax._windows import Padding, check_spans, dilated_size, positive_ints, resolve_padding
from funcnn.numpy._shape import flip, reshape, swapaxes, transpose

Pairs = tuple[tuple[int, int], ...]


def _conv_impl(lhs: Any, rhs: Any, *, strides: tuple, padding: Pairs, lhs_dilation: tuple,
               rhs_dilation: tuple, keep: Keep | None = None, unfolded: Unfolded | None = None) -> np.ndarray:
    return _conv_kernels.conv(lhs, rhs, strides, padding, lhs_dilation, rhs_dilation, keep, unfolded)


_conv_p = Primitive("conv_general_dilated", _conv_impl)


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


def _lhs_vjp(ans: Any, lhs: Any, rhs: Any, *, strides: tuple, padding: Pairs, lhs_dilation: tuple,
             rhs_dilation: tuple, **_: Any) -> Any:
    nsp = ndim_of(rhs) - 3
    pads = _lhs_padding(shape_of(lhs)[3:], shape_of(rhs)[3:], shape_of(ans)[3:], strides, padding, lhs_dilation,
                        rhs_dilation)

    def vjp(g: Any) -> Any:
        kernel = flip(swapaxes(rhs, 1, 2), tuple(range(3, 3 + nsp)))
        return _conv_p.bind(g, kernel, strides=lhs_dilation, padding=pads, lhs_dilation=strides,
                            rhs_dilation=rhs_dilation)
    return vjp


def _rhs_vjp(ans: Any, lhs: Any, rhs: Any, *, strides: tuple, padding: Pairs, lhs_dilation: tuple,
             rhs_dilation: tuple, keep: Keep | None = None, **_: Any) -> Any:
    pads = _rhs_padding(shape_of(lhs)[3:], shape_of(rhs)[3:], shape_of(ans)[3:], strides, padding, lhs_dilation,
                        rhs_dilation)
    # the forward's unfolded input serves this convolution only while lhs is a constant here
    unfolded = keep.take() if keep is not None and not isinstance(lhs, Tracer) else None

    def vjp(g: Any) -> Any:
        ct = _conv_p.bind(swapaxes(lhs, 1, 2), swapaxes(g, 1, 2), strides=rhs_dilation, padding=pads,
                          lhs_dilation=lhs_dilation, rhs_dilation=strides, unfolded=unfolded)
        return swapaxes(ct, 1, 2)
    return vjp


def _geometric(params: dict) -> dict:
    """The static arguments that define the convolution (not the buffers passed along with it)."""
    return {k: params[k] for k in ("strides", "padding", "lhs_dilation", "rhs_dilation")}


defvjp(_conv_p, _lhs_vjp, _rhs_vjp)
defjvp(_conv_p, lambda t, ans, lhs, rhs, **params: _conv_p.bind(t, rhs, **_geometric(params)),
       lambda t, ans, lhs, rhs, **params: _conv_p.bind(lhs, t, **_geometric(params)))


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
    # when the kernel's gradient may be wanted, the forward keeps its unfolded input for it
    keep = _conv_kernels.Keep() if isinstance(rhs, Tracer) else None
    out = _conv_p.bind(x, w, strides=strides, padding=pads, lhs_dilation=ld, rhs_dilation=rd, keep=keep)
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
