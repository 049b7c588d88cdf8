"""Pooling: ``lax.max_pool`` / ``lax.avg_pool`` and the ``nn`` wrappers.

Values against a loop over windows, derivatives to order 2 in both modes, the tie rule
of max pooling, PyTorch as a peer oracle, and input checking.
"""
import itertools

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

import funcnn as fn
import funcnn.numpy as fnp
from funcnn import lax
from funcnn.nn._conv import avg_pool1d, avg_pool2d, avg_pool3d, global_avg_pool, max_pool1d, max_pool2d, max_pool3d
from funcnn.testing import check_grads
from funcnn.testing.strategies import distinct_arrays


def reference_pool(x, window, strides, padding, reduce, count_include_pad=True):
    """Each output from its own window: a list of the values inside, padding skipped."""
    batch, chans, *spatial = x.shape
    if padding == "VALID":
        padding = [(0, 0)] * len(spatial)
    elif padding == "SAME":
        padding = []
        for n, k, s in zip(spatial, window, strides):
            total = max((-(-n // s) - 1) * s + k - n, 0)
            padding.append((total // 2, total - total // 2))
    out_sp = [(n + lo + hi - k) // s + 1 for n, (lo, hi), k, s in zip(spatial, padding, window, strides)]
    out = np.zeros((batch, chans, *out_sp))
    for n, c in itertools.product(range(batch), range(chans)):
        for pos in itertools.product(*map(range, out_sp)):
            values = []
            for tap in itertools.product(*map(range, window)):
                index = [p * s + t - lo for p, s, t, (lo, _) in zip(pos, strides, tap, padding)]
                if all(0 <= i < m for i, m in zip(index, spatial)):
                    values.append(x[(n, c) + tuple(index)])
            if reduce == "max":
                out[(n, c) + pos] = max(values)
            else:
                out[(n, c) + pos] = sum(values) / (np.prod(window) if count_include_pad else len(values))
    return out


@st.composite
def pool_configs(draw):
    nsp = draw(st.integers(1, 3))
    window = tuple(draw(st.integers(1, 3)) for _ in range(nsp))
    strides = draw(st.one_of(st.none(), st.tuples(*[st.integers(1, 3)] * nsp)))
    # padding smaller than the window, so that no window holds padding only
    padding = draw(st.one_of(st.sampled_from(["SAME", "VALID"]),
                             st.tuples(*[st.tuples(st.integers(0, k - 1), st.integers(0, k - 1)) for k in window])))
    limit = {1: 7, 2: 5, 3: 3}[nsp]
    spatial = tuple(draw(st.integers(k, max(k, limit))) for k in window)
    shape = (draw(st.integers(1, 2)), draw(st.integers(1, 2)), *spatial)
    return shape, window, strides, padding


def strides_of(window, strides):
    return window if strides is None else strides


@given(config=pool_configs(), data=st.data())
def test_max_pool_matches_reference_and_derivatives(config, data):
    shape, window, strides, padding = config
    x = data.draw(distinct_arrays(shape))
    f = lambda x: lax.max_pool(x, window, strides, padding)
    np.testing.assert_array_equal(f(x), reference_pool(x, window, strides_of(window, strides), padding, "max"))
    check_grads(f, (x,), order=2, modes=("fwd", "rev"))


@given(config=pool_configs(), count_include_pad=st.booleans(), data=st.data())
def test_avg_pool_matches_reference_and_derivatives(config, count_include_pad, data):
    shape, window, strides, padding = config
    x = np.random.default_rng(data.draw(st.integers(0, 2**32 - 1))).standard_normal(shape)
    f = lambda x: lax.avg_pool(x, window, strides, padding, count_include_pad)
    expected = reference_pool(x, window, strides_of(window, strides), padding, "avg", count_include_pad)
    np.testing.assert_allclose(f(x), expected, rtol=1e-12, atol=1e-12)
    check_grads(f, (x,), order=2, modes=("fwd", "rev"))


@given(config=pool_configs(), data=st.data())
def test_float32_stays_float32(config, data):
    shape, window, strides, padding = config
    x = data.draw(distinct_arrays(shape, dtype=np.float32))
    for f in (lambda x: lax.max_pool(x, window, strides, padding), lambda x: lax.avg_pool(x, window, strides, padding)):
        assert f(x).dtype == np.float32
        assert fn.grad(lambda x: fnp.sum(f(x) ** 2))(x).dtype == np.float32
        assert fn.jvp(f, (x,), (x,))[1].dtype == np.float32


def test_max_pool_sends_a_tied_gradient_to_the_first_element_in_row_major_order():
    x = np.zeros((1, 1, 3, 3))
    x[0, 0, 0, 2] = x[0, 0, 1, 0] = x[0, 0, 2, 1] = 1.0  # three maxima in the one window
    g = fn.grad(lambda x: fnp.sum(lax.max_pool(x, (3, 3))))(x)
    expected = np.zeros_like(x)
    expected[0, 0, 0, 2] = 1.0
    np.testing.assert_array_equal(g, expected)
    # all equal: the top-left corner of each window; overlapping windows add up
    g = fn.grad(lambda x: fnp.sum(lax.max_pool(x, (2, 2), (1, 1))))(np.ones((1, 1, 3, 3)))
    np.testing.assert_array_equal(g[0, 0], [[1, 1, 0], [1, 1, 0], [0, 0, 0]])
    _, t = fn.jvp(lambda x: lax.max_pool(x, (2, 2), (1, 1)), (np.ones((1, 1, 3, 3)),),
                  (np.arange(9.0).reshape(1, 1, 3, 3),))
    np.testing.assert_array_equal(t[0, 0], [[0, 1], [3, 4]])


def test_max_pool_second_derivatives_with_ties():
    x = np.round(np.random.default_rng(0).standard_normal((2, 2, 4, 4)))  # integers: many ties
    v = np.random.default_rng(1).standard_normal((2, 2, 2, 2))
    first = lambda x: fn.vjp(lambda x: lax.max_pool(x, (2, 2)), x)[1](v)[0]
    # the cotangent is linear in v with fixed winners: its own derivative in x is zero
    np.testing.assert_array_equal(fn.jacfwd(lambda x: fnp.sum(first(x) ** 2))(x), np.zeros_like(x))
    check_grads(lambda v: fn.vjp(lambda x: lax.max_pool(x, (2, 2)), x)[1](v)[0], (v,), order=2)


def test_global_avg_pool():
    x = np.random.default_rng(2).standard_normal((2, 3, 4, 5))
    np.testing.assert_allclose(global_avg_pool(x), x.mean(axis=(2, 3)), rtol=1e-12)
    assert global_avg_pool(x, keepdims=True).shape == (2, 3, 1, 1)
    check_grads(global_avg_pool, (x,), order=2)


# --- PyTorch as a peer ---------------------------------------------------------------------------


@st.composite
def torch_pool_configs(draw):
    kernel = (draw(st.integers(1, 3)), draw(st.integers(1, 3)))
    stride = draw(st.one_of(st.none(), st.tuples(st.integers(1, 3), st.integers(1, 3))))
    padding = tuple(draw(st.integers(0, k // 2)) for k in kernel)
    size = tuple(draw(st.integers(k, 6)) for k in kernel)
    return (draw(st.integers(1, 2)), draw(st.integers(1, 3)), *size), kernel, stride, padding


def compare_with_torch(ours, theirs, x, rtol=1e-12):
    torch = pytest.importorskip("torch")
    out, f_vjp = fn.vjp(ours, x)
    v = np.random.default_rng(3).standard_normal(out.shape)
    tx = torch.tensor(x, requires_grad=True)
    t_out = theirs(tx)
    (t_out * torch.tensor(v)).sum().backward()
    np.testing.assert_allclose(out, t_out.detach().numpy(), rtol=rtol)
    np.testing.assert_allclose(f_vjp(v)[0], tx.grad.numpy(), rtol=rtol, atol=1e-12)


@given(config=torch_pool_configs(), integer_valued=st.booleans(), data=st.data())
def test_max_pool2d_matches_torch_including_ties(config, integer_valued, data):
    F = pytest.importorskip("torch.nn.functional")
    shape, kernel, stride, padding = config
    x = np.random.default_rng(data.draw(st.integers(0, 2**32 - 1))).standard_normal(shape)
    if integer_valued:
        x = np.round(x)  # many tied windows: both libraries pick the first maximum in row-major order
    compare_with_torch(lambda x: max_pool2d(x, kernel, stride, padding),
                       lambda x: F.max_pool2d(x, kernel, stride, padding), x)


@given(config=torch_pool_configs(), count_include_pad=st.booleans(), data=st.data())
def test_avg_pool2d_matches_torch(config, count_include_pad, data):
    F = pytest.importorskip("torch.nn.functional")
    shape, kernel, stride, padding = config
    x = np.random.default_rng(data.draw(st.integers(0, 2**32 - 1))).standard_normal(shape)
    compare_with_torch(lambda x: avg_pool2d(x, kernel, stride, padding, count_include_pad),
                       lambda x: F.avg_pool2d(x, kernel, stride, padding, count_include_pad=count_include_pad), x)


def test_1d_and_3d_pools_match_torch():
    F = pytest.importorskip("torch.nn.functional")
    rng = np.random.default_rng(4)
    x1, x3 = np.round(rng.standard_normal((2, 3, 9))), rng.standard_normal((1, 2, 5, 4, 6))
    compare_with_torch(lambda x: max_pool1d(x, 3, 2, 1), lambda x: F.max_pool1d(x, 3, 2, 1), x1)
    compare_with_torch(lambda x: avg_pool1d(x, 2, 1, 1, False),
                       lambda x: F.avg_pool1d(x, 2, 1, 1, count_include_pad=False), x1)
    compare_with_torch(lambda x: max_pool3d(x, (2, 3, 2), 1, (1, 1, 0)),
                       lambda x: F.max_pool3d(x, (2, 3, 2), 1, (1, 1, 0)), x3)
    compare_with_torch(lambda x: avg_pool3d(x, 2, padding=1), lambda x: F.avg_pool3d(x, 2, padding=1), x3)


# --- bad input ----------------------------------------------------------------------------------


@pytest.mark.parametrize("call, words", [
    (lambda: lax.max_pool(np.zeros((1, 1, 4, 4)), (5, 2)), ["window spans 5", "spatial axis 0", "(1, 1, 4, 4)"]),
    (lambda: lax.avg_pool(np.zeros((1, 1, 4, 4)), (2, 2), (0, 1)), ["strides", "positive"]),
    (lambda: lax.avg_pool(np.zeros((1, 1, 4, 4)), (2, 2, 2)), ["window", "3 entries", "2 spatial"]),
    (lambda: lax.max_pool(np.zeros((1, 1, 4, 4)), (2, 2), padding=((1, 1),)), ["padding", "2 (low, high)"]),
    (lambda: lax.max_pool(np.zeros((1, 1, 4, 4)), (2, 2), padding=((1, -1), (0, 0))), ["non-negative"]),
    (lambda: lax.max_pool(np.zeros((4, 4)), (2, 2)), ["(N, C, *spatial)", "(4, 4)"]),
    (lambda: max_pool2d(np.zeros((1, 1, 4, 4)), 2, padding=2), ["at most half", "kernel_size=2"]),
    (lambda: avg_pool2d(np.zeros((1, 4, 4)), 2), ["avg_pool2d", "(1, 4, 4)"]),
    (lambda: global_avg_pool(np.zeros((2, 3))), ["global_avg_pool", "(2, 3)"]),
])
def test_bad_input_raises(call, words):
    with pytest.raises(ValueError) as info:
        call()
    for word in words:
        assert word in str(info.value), f"{word!r} missing from: {info.value}"
