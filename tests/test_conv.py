"""Convolution: ``lax.conv_general_dilated`` and the ``nn`` wrappers.

Forward values against a direct loop over output positions and kernel taps, derivatives
to order 2 in both modes against finite differences, PyTorch as a peer oracle when it is
installed, input checking, dtypes and memory.
"""
import contextlib
import itertools
import tracemalloc

import numpy as np
import pytest
from hypothesis import assume, given
from hypothesis import strategies as st

import funcnn as fn
import funcnn.numpy as fnp
from funcnn import lax
from funcnn.lax import _conv, _conv_kernels
from funcnn.nn._conv import conv1d, conv2d, conv3d, conv_transpose1d, conv_transpose2d, conv_transpose3d
from funcnn.testing import check_grads


# --- a plain reference -----------------------------------------------------------------------


def same_padding(size, span, stride):
    out = -(-size // stride)
    total = max((out - 1) * stride + span - size, 0)
    return total // 2, total - total // 2


def reference_conv(x, w, strides, padding, lhs_dilation, rhs_dilation, groups):
    """Direct definition: every output element is a sum over its window, one term at a time."""
    batch, chans, *spatial = x.shape
    out_feats, per_group, *kernel = w.shape
    dilated = [(n - 1) * d + 1 for n, d in zip(spatial, lhs_dilation)]
    spans = [(k - 1) * d + 1 for k, d in zip(kernel, rhs_dilation)]
    if padding == "VALID":
        padding = [(0, 0)] * len(spatial)
    elif padding == "SAME":
        padding = [same_padding(n, k, s) for n, k, s in zip(dilated, spans, strides)]
    out_sp = [(n + lo + hi - k) // s + 1 for n, (lo, hi), k, s in zip(dilated, padding, spans, strides)]
    out = np.zeros((batch, out_feats, *out_sp))
    feats_per_group = out_feats // groups
    for n, o in itertools.product(range(batch), range(out_feats)):
        group = o // feats_per_group
        for pos in itertools.product(*map(range, out_sp)):
            total = 0.0
            for i, tap in itertools.product(range(per_group), itertools.product(*map(range, kernel))):
                # position in the dilated input, then back to an input index if it holds one
                where = [p * s + t * d - lo for p, s, t, d, (lo, _) in zip(pos, strides, tap, rhs_dilation, padding)]
                if all(0 <= j < m and j % ld == 0 for j, m, ld in zip(where, dilated, lhs_dilation)):
                    index = tuple(j // ld for j, ld in zip(where, lhs_dilation))
                    total += x[(n, group * per_group + i) + index] * w[(o, i) + tap]
            out[(n, o) + pos] = total
    return out


# --- random configurations -----------------------------------------------------------------------


@st.composite
def conv_configs(draw, max_nsp=3):
    """Shapes and static arguments of a small convolution whose kernel fits its padded input."""
    nsp = draw(st.integers(1, max_nsp))
    groups = draw(st.integers(1, 2))
    per_group, feats = draw(st.integers(1, 2)), draw(st.integers(1, 2))
    top = {1: 3, 2: 3, 3: 2}[nsp]
    kernel = tuple(draw(st.integers(1, top)) for _ in range(nsp))
    strides = tuple(draw(st.integers(1, 3)) for _ in range(nsp))
    lhs_dil = tuple(draw(st.integers(1, 2)) for _ in range(nsp))
    rhs_dil = tuple(draw(st.integers(1, 2)) for _ in range(nsp))
    pair = st.tuples(st.integers(-1, 2), st.integers(-1, 2))
    padding = draw(st.one_of(st.sampled_from(["SAME", "VALID"]), st.tuples(*[pair] * nsp)))
    spatial = []
    for axis in range(nsp):
        span = (kernel[axis] - 1) * rhs_dil[axis] + 1
        extra = 0 if isinstance(padding, str) else sum(padding[axis])
        need = max(span - extra, 1)  # the dilated input must cover at least this much
        smallest = -(-(need - 1) // lhs_dil[axis]) + 1
        spatial.append(max(draw(st.integers(1, {1: 6, 2: 4, 3: 3}[nsp])), smallest))
    batch = draw(st.integers(1, 2))
    return dict(lhs_shape=(batch, groups * per_group, *spatial), rhs_shape=(groups * feats, per_group, *kernel),
                window_strides=strides, padding=padding, lhs_dilation=lhs_dil, rhs_dilation=rhs_dil,
                feature_group_count=groups)


def draw_operands(data, config, dtype=np.float64):
    rng = np.random.default_rng(data.draw(st.integers(0, 2**32 - 1)))
    x = rng.standard_normal(config["lhs_shape"]).astype(dtype)
    w = rng.standard_normal(config["rhs_shape"]).astype(dtype)
    return x, w


def conv_of(config):
    kw = {k: v for k, v in config.items() if k not in ("lhs_shape", "rhs_shape")}
    return lambda x, w: lax.conv_general_dilated(x, w, **kw)


@given(config=conv_configs(), data=st.data())
def test_matches_loop_reference(config, data):
    x, w = draw_operands(data, config)
    expected = reference_conv(x, w, config["window_strides"], config["padding"], config["lhs_dilation"],
                              config["rhs_dilation"], config["feature_group_count"])
    np.testing.assert_allclose(conv_of(config)(x, w), expected, rtol=1e-12, atol=1e-12)


@given(config=conv_configs(), data=st.data())
def test_derivatives_to_order_two(config, data):
    x, w = draw_operands(data, config)
    check_grads(conv_of(config), (x, w), order=2, modes=("fwd", "rev"))


@given(config=conv_configs(max_nsp=2), data=st.data())
def test_float32_stays_float32(config, data):
    x, w = draw_operands(data, config, np.float32)
    f = conv_of(config)
    y = f(x, w)
    assert y.dtype == np.float32
    gx, gw = fn.grad(lambda x, w: fnp.sum(f(x, w) ** 2), argnums=(0, 1))(x, w)
    assert gx.dtype == np.float32 and gw.dtype == np.float32
    _, ty = fn.jvp(f, (x, w), (x, w))
    assert ty.dtype == np.float32
    check_grads(f, (x, w), order=1, modes=("fwd", "rev"), eps=1e-3)


def fold_where_possible(lhs, rhs, strides, padding, lhs_dilation, rhs_dilation):
    return "fold" if all(s == 1 for s in strides) and all(d == 1 for d in lhs_dilation) else "unfold"


# module attributes of the kernels to override: each row forces a path the cost model and the
# sizes used in tests would not otherwise take
PLANS = [
    ("unfold", _conv_kernels, dict(choose=lambda *args: "unfold")),
    ("fold", _conv_kernels, dict(choose=fold_where_possible)),
    ("padded_windows", _conv_kernels, dict(_MAX_GATHERED_TAPS=0)),
    ("tiny_blocks", _conv_kernels, dict(_BLOCK_BYTES=64)),
    ("per_image_kernel_gradients", _conv_kernels, dict(_SMALL_KERNEL_GRADIENT=1 << 60)),
    ("single_kernel_gradients", _conv_kernels, dict(_SMALL_KERNEL_GRADIENT=0)),
]


@contextlib.contextmanager
def overridden(module, values):
    saved = {name: getattr(module, name) for name in values}
    for name, value in values.items():
        setattr(module, name, value)
    try:
        yield
    finally:
        for name, value in saved.items():
            setattr(module, name, value)


@pytest.mark.parametrize("name, module, values", PLANS, ids=[row[0] for row in PLANS])
@given(config=conv_configs(max_nsp=2), channels_last=st.booleans(), data=st.data())
def test_every_plan_matches_reference(name, module, values, config, channels_last, data):
    """Each way of computing a convolution (and its derivatives), on inputs in either layout."""
    x, w = draw_operands(data, config)
    if channels_last:  # the same values, laid out with the channels innermost
        x = np.moveaxis(np.ascontiguousarray(np.moveaxis(x, 1, -1)), -1, 1)
    expected = reference_conv(x, w, config["window_strides"], config["padding"], config["lhs_dilation"],
                              config["rhs_dilation"], config["feature_group_count"])
    with overridden(module, values):
        np.testing.assert_allclose(conv_of(config)(x, w), expected, rtol=1e-12, atol=1e-12)
        check_grads(conv_of(config), (x, w), order=1, modes=("fwd", "rev"))


def test_a_large_kernel():
    rng = np.random.default_rng(8)
    x, w = rng.standard_normal((2, 2, 12, 11)), rng.standard_normal((3, 2, 9, 10))  # 90 taps
    f = lambda x, w: lax.conv_general_dilated(x, w, (1, 1), ((1, 2), (0, 3)))
    expected = reference_conv(x, w, (1, 1), [(1, 2), (0, 3)], (1, 1), (1, 1), 1)
    np.testing.assert_allclose(f(x, w), expected, rtol=1e-12, atol=1e-12)
    check_grads(f, (x, w), order=1)


@pytest.mark.parametrize("lhs_shape, rhs_shape", [((2, 3, 5, 5), (0, 3, 3, 3)), ((2, 0, 5, 5), (4, 0, 3, 3)),
                                                   ((0, 3, 5, 5), (4, 3, 3, 3))])
def test_empty_batch_features_or_outputs(lhs_shape, rhs_shape):
    f = lambda x, w: lax.conv_general_dilated(x, w, (2, 1), "SAME", rhs_dilation=(1, 2))
    x, w = np.ones(lhs_shape), np.ones(rhs_shape)
    y = f(x, w)
    assert y.shape == (lhs_shape[0], rhs_shape[0], 3, 5) and not y.any()
    gx, gw = fn.grad(lambda x, w: fnp.sum(f(x, w)), argnums=(0, 1))(x, w)
    assert gx.shape == x.shape and gw.shape == w.shape and not gx.any() and not gw.any()


def test_one_by_one_kernel_is_a_matmul():
    rng = np.random.default_rng(0)
    x, w = rng.standard_normal((2, 3, 4, 5)), rng.standard_normal((6, 3, 1, 1))
    y = lax.conv_general_dilated(x, w, (1, 1), "VALID")
    np.testing.assert_allclose(y, np.einsum("nchw,oc->nohw", x, w[:, :, 0, 0]), rtol=1e-12)


def test_every_derivative_is_a_convolution():
    """The backward pass of a convolution runs one convolution per argument (the kernel's from
    the unfolded input the forward kept and handed over as a residual); higher derivatives are
    convolutions too."""
    calls = []
    prims = (_conv._conv_p, _conv._conv_keep_p, _conv._conv_from_unfolded_p)
    originals = {p: p.impl for p in prims}

    def counting(prim):
        def impl(*args, **params):
            calls.append(prim.name)
            return originals[prim](*args, **params)
        return impl

    rng = np.random.default_rng(1)
    x, w = rng.standard_normal((2, 4, 5, 5)), rng.standard_normal((6, 2, 3, 3))
    f = lambda x, w: fnp.sum(lax.conv_general_dilated(x, w, (2, 1), "SAME", (1, 2), (2, 1), 2) ** 2)
    expected = fn.grad(f, argnums=(0, 1))(x, w)
    for p in prims:
        p.impl = counting(p)
    try:
        gx, gw = fn.grad(f, argnums=(0, 1))(x, w)
        assert calls == ["conv_keep_unfolded", "conv_general_dilated", "conv_from_unfolded"]
        calls.clear()
        fn.grad(f)(x, w)  # no kernel gradient wanted: nothing kept
        assert calls == ["conv_general_dilated", "conv_general_dilated"]
        calls.clear()
        second = lambda x: fnp.sum(fn.grad(f, argnums=1)(x, w) ** 2)
        check_grads(second, (x,), order=1, modes=("rev",))
        assert calls and set(calls) <= {p.name for p in prims}
    finally:
        for p, impl in originals.items():
            p.impl = impl
    np.testing.assert_allclose(gx, expected[0], rtol=1e-12)
    np.testing.assert_allclose(gw, expected[1], rtol=1e-12)
    x_only = fn.grad(f)(x, w)
    np.testing.assert_allclose(x_only, expected[0], rtol=1e-12)


def test_every_lax_primitive_is_exercised():
    """Each differentiable primitive of funcnn.lax runs under both transforms, as the derivative
    checks of this file and test_pool.py make it run."""
    from funcnn._src import core
    from funcnn._src.forward import ForwardTrace
    from funcnn._src.reverse import ReverseTrace
    from funcnn.extend import is_differentiable

    seen = set()
    originals = {cls: cls.process for cls in (ForwardTrace, ReverseTrace)}

    def recording(original):
        def process(self, prim, args, params):
            seen.add((type(self), prim.name))
            return original(self, prim, args, params)
        return process

    rng = np.random.default_rng(9)
    x, w = rng.standard_normal((1, 2, 5, 5)), rng.standard_normal((2, 2, 3, 3))
    calls = [(lambda x: lax.conv_general_dilated(x, w, (1, 1), "SAME"), x),
             (lambda w: lax.conv_general_dilated(x, w, (1, 1), "SAME"), w),
             (lambda x: lax.max_pool(x, (2, 2)), x), (lambda x: lax.avg_pool(x, (2, 2)), x)]
    for cls, original in originals.items():
        cls.process = recording(original)
    try:
        for f, a in calls:  # second order reaches the rules' primitives; traced (co)tangents, their transposes
            check_grads(f, (a,), order=2, modes=("fwd", "rev"))
            v = rng.standard_normal(np.shape(f(a)))
            check_grads(lambda v: fn.vjp(f, a)[1](v)[0], (v,), order=2, modes=("fwd", "rev"))
            check_grads(lambda t: fn.jvp(f, (a,), (t,))[1], (a,), order=2, modes=("fwd", "rev"))
    finally:
        for cls, original in originals.items():
            cls.process = original
    kernels = ("funcnn.lax._conv", "funcnn.lax._pool")  # control flow is covered in test_control_flow.py
    wanted = {p.name for p in core.PRIMITIVES if is_differentiable(p) and p.module.startswith(kernels)}
    assert wanted == {"conv_general_dilated", "conv_keep_unfolded", "conv_from_unfolded", "window_sum",
                      "window_sum_transpose", "max_pool", "max_pool_winners", "pool_gather",
                      "pool_scatter"}, f"new lax primitives need tests: {sorted(wanted)}"
    for cls in (ForwardTrace, ReverseTrace):
        missing = {name for name in wanted if (cls, name) not in seen}
        assert not missing, f"not run under {cls.__name__}: {sorted(missing)}"


# --- the nn wrappers ----------------------------------------------------------------------------


def test_padding_modes_of_the_wrappers():
    rng = np.random.default_rng(2)
    x, w = rng.standard_normal((1, 2, 7, 6)), rng.standard_normal((3, 2, 4, 3))
    assert conv2d(x, w, padding="same").shape == (1, 3, 7, 6)
    assert conv2d(x, w, padding="valid").shape == (1, 3, 4, 4)
    np.testing.assert_allclose(conv2d(x, w, padding=(1, 2)),
                               reference_conv(x, w, (1, 1), [(1, 1), (2, 2)], (1, 1), (1, 1), 1), rtol=1e-12)
    b = rng.standard_normal(3)
    np.testing.assert_allclose(conv2d(x, w, b), conv2d(x, w) + b[:, None, None], rtol=1e-12)


@pytest.mark.parametrize("stride, padding, output_padding, dilation, groups",
                         [(1, 0, 0, 1, 1), (2, 1, 1, 1, 1), (3, 2, 2, 2, 2), (2, 0, 1, 3, 1), (1, 1, 0, 2, 2)])
def test_conv_transpose_is_the_input_gradient_of_conv(stride, padding, output_padding, dilation, groups):
    rng = np.random.default_rng(3)
    y = rng.standard_normal((2, 4, 4, 3))
    w = rng.standard_normal((4, 3, 3, 2))
    out = conv_transpose2d(y, w, stride=stride, padding=padding, output_padding=output_padding, groups=groups,
                           dilation=dilation)
    expected_sp = [(n - 1) * stride - 2 * padding + dilation * (k - 1) + output_padding + 1
                   for n, k in zip(y.shape[2:], w.shape[2:])]
    assert out.shape == (2, 3 * groups, *expected_sp)
    # <conv(x), y> = <x, conv_transpose(y)>: the transposed convolution is conv2d's adjoint
    x = rng.standard_normal(out.shape)
    forward = conv2d(x, w, stride=stride, padding=padding, dilation=dilation, groups=groups)
    assert forward.shape == y.shape
    np.testing.assert_allclose(np.sum(forward * y), np.sum(x * out), rtol=1e-10)


def test_conv_transpose_1d_and_3d_derivatives():
    rng = np.random.default_rng(4)
    check_grads(lambda x, w: conv_transpose1d(x, w, stride=2, padding=1, output_padding=1),
                (rng.standard_normal((2, 2, 3)), rng.standard_normal((2, 3, 3))), order=2)
    check_grads(lambda x, w: conv_transpose3d(x, w, stride=(1, 2, 1), groups=2),
                (rng.standard_normal((1, 2, 2, 2, 2)), rng.standard_normal((2, 1, 2, 1, 2))), order=2)


# --- PyTorch as a peer ------------------------------------------------------------------------


def torch_value_and_grads(torch_fn, v, *arrays):
    torch = pytest.importorskip("torch")
    tensors = [torch.tensor(a, requires_grad=True) for a in arrays]
    out = torch_fn(*tensors)
    (out * torch.tensor(v)).sum().backward()
    return out.detach().numpy(), [t.grad.numpy() for t in tensors]


def ours_value_and_grads(f, v, *arrays):
    out, f_vjp = fn.vjp(f, *arrays)
    return out, list(f_vjp(v))


def assert_same_as_torch(f, torch_fn, arrays, rtol=1e-10, atol=1e-10):
    ours = f(*arrays)
    v = np.random.default_rng(5).standard_normal(np.shape(ours)).astype(ours.dtype)
    out, grads = ours_value_and_grads(f, v, *arrays)
    t_out, t_grads = torch_value_and_grads(torch_fn, v, *arrays)
    np.testing.assert_allclose(out, t_out, rtol=rtol, atol=atol)
    assert out.dtype == t_out.dtype
    for g, tg in zip(grads, t_grads):
        np.testing.assert_allclose(g, tg, rtol=rtol, atol=atol)
        assert g.dtype == tg.dtype


@st.composite
def torch_conv_configs(draw):
    nsp = draw(st.integers(1, 3))
    groups = draw(st.integers(1, 3))
    kernel = tuple(draw(st.integers(1, 3)) for _ in range(nsp))
    stride = tuple(draw(st.integers(1, 3)) for _ in range(nsp))
    dilation = tuple(draw(st.integers(1, 2)) for _ in range(nsp))
    padding = draw(st.one_of(st.just("valid"), st.tuples(*[st.integers(0, 2)] * nsp)))
    spans = [(k - 1) * d + 1 for k, d in zip(kernel, dilation)]
    pads = (0,) * nsp if padding == "valid" else padding
    spatial = tuple(max(draw(st.integers(1, 7 - nsp)), s - 2 * p) for s, p in zip(spans, pads))
    shape = (draw(st.integers(1, 3)), groups * draw(st.integers(1, 2)), *spatial)
    w_shape = (groups * draw(st.integers(1, 2)), shape[1] // groups, *kernel)
    return nsp, shape, w_shape, dict(stride=stride, padding=padding, dilation=dilation, groups=groups)


@given(config=torch_conv_configs(), with_bias=st.booleans(), data=st.data())
def test_conv_matches_torch(config, with_bias, data):
    F = pytest.importorskip("torch.nn.functional")
    nsp, shape, w_shape, kw = config
    rng = np.random.default_rng(data.draw(st.integers(0, 2**32 - 1)))
    arrays = [rng.standard_normal(shape), rng.standard_normal(w_shape)]
    if with_bias:
        arrays.append(rng.standard_normal(w_shape[0]))
    ours = {1: conv1d, 2: conv2d, 3: conv3d}[nsp]
    theirs = {1: F.conv1d, 2: F.conv2d, 3: F.conv3d}[nsp]
    assert_same_as_torch(lambda *a: ours(*a, **kw), lambda *a: theirs(*a, **kw), arrays)


@given(stride=st.integers(1, 3), padding=st.integers(0, 2), dilation=st.integers(1, 2), groups=st.integers(1, 2),
       size=st.tuples(st.integers(1, 4), st.integers(1, 4)), kernel=st.tuples(st.integers(1, 3), st.integers(1, 3)),
       op_seed=st.tuples(st.integers(0, 2), st.integers(0, 2**32 - 1)), with_bias=st.booleans())
def test_conv_transpose2d_matches_torch(stride, padding, dilation, groups, size, kernel, op_seed, with_bias):
    F = pytest.importorskip("torch.nn.functional")
    output_padding = op_seed[0] % max(stride, dilation)
    out_sp = [(n - 1) * stride - 2 * padding + dilation * (k - 1) + output_padding + 1 for n, k in zip(size, kernel)]
    assume(min(out_sp) >= 1)
    rng = np.random.default_rng(op_seed[1])
    arrays = [rng.standard_normal((2, 2 * groups, *size)), rng.standard_normal((2 * groups, 3, *kernel))]
    if with_bias:
        arrays.append(rng.standard_normal(3 * groups))
    kw = dict(stride=stride, padding=padding, output_padding=output_padding, groups=groups, dilation=dilation)
    assert_same_as_torch(lambda *a: conv_transpose2d(*a, **kw), lambda *a: F.conv_transpose2d(*a, **kw), arrays)


def test_float32_matches_torch():
    F = pytest.importorskip("torch.nn.functional")
    rng = np.random.default_rng(6)
    arrays = [rng.standard_normal(shape).astype(np.float32) for shape in ((4, 6, 9, 8), (8, 3, 3, 3), (8,))]
    kw = dict(stride=(2, 1), padding=1, groups=2)
    assert_same_as_torch(lambda *a: conv2d(*a, **kw), lambda *a: F.conv2d(*a, **kw), arrays, rtol=1e-4, atol=1e-4)


# --- bad input -------------------------------------------------------------------------------


def conv_call(lhs_shape=(2, 4, 6, 6), rhs_shape=(3, 4, 3, 3), strides=(1, 1), padding="VALID", **kw):
    return lambda: lax.conv_general_dilated(np.zeros(lhs_shape), np.zeros(rhs_shape), strides, padding, **kw)


@pytest.mark.parametrize("call, words", [
    (conv_call(rhs_shape=(3, 2, 3, 3)), ["4 channels", "(3, 2, 3, 3)", "feature_group_count=1"]),
    (conv_call(rhs_shape=(4, 4, 3, 3), feature_group_count=2), ["4 channels", "(4, 4, 3, 3)", "= 8"]),
    (conv_call(rhs_shape=(3, 2, 3, 3), feature_group_count=2), ["must divide", "3 output features"]),
    (conv_call(rhs_shape=(3, 4, 7, 3)), ["spans 7", "spatial axis 0", "(2, 4, 6, 6)"]),
    (conv_call(rhs_shape=(3, 4, 3, 3), rhs_dilation=(1, 3)), ["spans 7", "spatial axis 1"]),
    (conv_call(padding=((0, 0), (-2, -2))), ["spans 3", "padded input"]),
    (conv_call(strides=(1, 0)), ["window_strides", "positive"]),
    (conv_call(strides=(1, 1, 1)), ["window_strides", "3 entries", "2 spatial"]),
    (conv_call(lhs_dilation=(0, 1)), ["lhs_dilation", "positive"]),
    (conv_call(rhs_dilation=(-1, 1)), ["rhs_dilation", "positive"]),
    (conv_call(padding=((1, 1),)), ["padding", "2 (low, high) pair"]),
    (conv_call(padding=(1, 1)), ["padding", "(low, high) pairs"]),
    (conv_call(padding="FULL"), ["padding", "'FULL'"]),
    (conv_call(lhs_shape=(4, 6)), ["lhs", "(4, 6)", "(N, C, *spatial)"]),
    (conv_call(lhs_shape=(4, 6, 6)), ["rhs shape (3, 4, 3, 3)", "lhs shape (4, 6, 6)", "as many dimensions"]),
    (conv_call(lhs_shape=(1, 1, 2, 2, 2, 2), rhs_shape=(1, 1, 1, 1, 1, 1)), ["1 to 3 spatial"]),
    (conv_call(rhs_shape=(3, 4, 3)), ["rhs", "(3, 4, 3)", "as many dimensions"]),
    (conv_call(feature_group_count=0), ["feature_group_count", "positive"]),
    (lambda: conv2d(np.zeros((2, 4, 6, 6)), np.zeros((3, 4, 3, 3)), np.zeros(4)), ["bias", "(3,)", "(4,)"]),
    (lambda: conv2d(np.zeros((4, 6, 6)), np.zeros((3, 4, 3, 3))), ["conv2d", "(4, 6, 6)", "x[None]"]),
    (lambda: conv2d(np.zeros((1, 4, 6, 6)), np.zeros((3, 4, 3, 3)), stride=2, padding="same"), ["stride 1"]),
    (lambda: conv1d(np.zeros((1, 4, 6)), np.zeros((3, 4, 3)), padding=-1), ["padding", "at least 0"]),
    (lambda: conv_transpose2d(np.zeros((1, 4, 3, 3)), np.zeros((3, 2, 3, 3))), ["in_channels = 4", "(3, 2, 3, 3)"]),
    (lambda: conv_transpose2d(np.zeros((1, 4, 3, 3)), np.zeros((4, 2, 3, 3)), stride=2, output_padding=2),
     ["output_padding", "smaller"]),
    (lambda: conv_transpose2d(np.zeros((1, 4, 3, 3)), np.zeros((4, 2, 3, 3)), padding=3), ["spatial size (-1, -1)"]),
])
def test_bad_input_raises_naming_shapes_and_argument(call, words):
    with pytest.raises(ValueError) as info:
        call()
    for word in words:
        assert word in str(info.value), f"{word!r} missing from: {info.value}"


# --- memory ------------------------------------------------------------------------------------


def held_after(build):
    """Bytes still allocated after ``build()`` returns, while its result is alive."""
    tracemalloc.start()
    try:
        before = tracemalloc.get_traced_memory()[0]
        result = build()
        held = tracemalloc.get_traced_memory()[0] - before
    finally:
        tracemalloc.stop()
    del result
    return held


def test_memory_held_by_a_forward_pass():
    """No transform: only the output survives the call. Under ``vjp``: the output and at most one
    unfolded input (25 times the input here), kept for the kernel's gradient; none when only the
    input's gradient is wanted."""
    rng = np.random.default_rng(7)
    x = rng.standard_normal((4, 16, 24, 24)).astype(np.float32)
    w = rng.standard_normal((16, 16, 5, 5)).astype(np.float32)
    unfolded = x.nbytes * 25
    out_bytes = 4 * 16 * 24 * 24 * 4
    slack = 64_000
    f = lambda x, w: lax.conv_general_dilated(x, w, (1, 1), "SAME")
    assert held_after(lambda: f(x, w)) < out_bytes + slack
    assert held_after(lambda: fn.vjp(f, x, w)) < out_bytes + unfolded + slack
    assert held_after(lambda: fn.vjp(lambda x: f(x, w), x)) < out_bytes + slack


@pytest.mark.parametrize("padding, dilation", [
    (((-1, 2), (0, -2)), (1, 1)), (((2, -1), (-1, 0)), (2, 1)), (((0, 0), (3, 3)), (1, 2)),
    (((1, 1),), (3,)), (((0, 1), (1, 0), (-1, 1)), (1, 1, 2)),
])
def test_fold_on_a_grown_grid_matches_reference(padding, dilation):
    """The fold plan crops for negative padding and grows the grid for positive, in 1-3 dims."""
    rng = np.random.default_rng(3)
    nsp = len(padding)
    x = rng.standard_normal((1, 2, 3) + (7, 8, 5)[:nsp])
    w = rng.standard_normal((1, 4, 3) + (3, 2, 2)[:nsp])
    expected = reference_conv(x[0], w[0], (1,) * nsp, list(padding), (1,) * nsp, dilation, 1)
    np.testing.assert_allclose(_conv_kernels.fold(x, w, padding, dilation)[0], expected, rtol=1e-12, atol=1e-12)


def test_fold_in_blocks_of_several_images_and_of_one():
    """Batch blocks of two images (summed apart, then copied in) and a last block of one (in place)."""
    rng = np.random.default_rng(4)
    x, w = rng.standard_normal((1, 5, 3, 6, 7)), rng.standard_normal((1, 4, 3, 3, 3))
    padding, dilation = ((1, 1), (2, 0)), (1, 2)
    per_image = w.shape[1] * 9 * (6 + 2) * (7 + 2) * x.itemsize
    expected = np.stack([reference_conv(x[0], w[0], (1, 1), list(padding), (1, 1), dilation, 1)])
    with overridden(_conv_kernels, dict(_BLOCK_BYTES=2 * per_image)):
        np.testing.assert_allclose(_conv_kernels.fold(x, w, padding, dilation), expected, rtol=1e-12, atol=1e-12)
