"""``where`` and the ``maximum``/``minimum`` tie masks on arrays large enough for their
branch-free path: the same bits as NumPy's ``where`` (NaN, infinities and signed zeros
included), the same dtype and shape, and the same derivatives."""
from __future__ import annotations

import numpy as np
import pytest

import funcnn as fn
import funcnn.numpy as fnp
from funcnn.numpy._elementwise import _SELECT_MIN_SIZE, _share_impl, _where_impl

SPECIAL = np.array([np.nan, -0.0, 0.0, np.inf, -np.inf, 1.5, -2.0, 3e-39])
BIG = (64, 80)
assert np.prod(BIG) >= _SELECT_MIN_SIZE

SHAPES = [  # condition, x, y: the condition decides the path, x and y broadcast against it
    (BIG, BIG, BIG),
    (BIG, (80,), ()),
    (BIG, (64, 1), (1, 80)),
    (BIG, (), BIG),
    ((80,), BIG, BIG),  # a small condition: NumPy's where
]


def _values(rng, shape, dtype):
    return rng.choice(SPECIAL, shape).astype(dtype)


def _same_bits(got, want):
    return got.dtype == want.dtype and got.shape == want.shape and np.array_equal(
        np.ascontiguousarray(got).view(np.uint8), np.ascontiguousarray(want).view(np.uint8))


@pytest.mark.parametrize("dtype", [np.float16, np.float32, np.float64])
@pytest.mark.parametrize("shapes", SHAPES)
def test_where_gives_numpys_bits(dtype, shapes):
    rng = np.random.default_rng(0)
    c_shape, x_shape, y_shape = shapes
    condition = rng.random(c_shape) < 0.5
    for x in (_values(rng, x_shape, dtype), 0.0, 2):
        for y in (_values(rng, y_shape, dtype), 0.0, -0.0, np.float64(3.0)):
            assert _same_bits(_where_impl(condition, x, y), np.where(condition, x, y)), (x, y)


def test_where_on_strided_views():
    rng = np.random.default_rng(4)
    x = _values(rng, (8, 20, 20, 16), np.float32).transpose(0, 3, 1, 2)  # NCHW view of NHWC data
    y = _values(rng, (16, 1, 20), np.float32)[:, :, ::-1]
    condition = rng.random(x.shape) < 0.5
    for c in (condition, np.asarray(x > 0)):
        assert _same_bits(_where_impl(c, x, 0.0), np.where(c, x, 0.0))
        assert _same_bits(_where_impl(c, x, y), np.where(c, x, y))
        assert _same_bits(_where_impl(c, y, x), np.where(c, y, x))


def test_where_leaves_other_kinds_to_numpy():
    rng = np.random.default_rng(1)
    condition = rng.random(BIG) < 0.5
    ints = rng.integers(-5, 5, BIG)
    assert _same_bits(_where_impl(condition, ints, 0), np.where(condition, ints, 0))
    as_ints = condition.astype(int)  # a non-boolean condition
    x = rng.standard_normal(BIG)
    assert _same_bits(_where_impl(as_ints, x, 1.0), np.where(as_ints, x, 1.0))


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_tie_masks_share_the_gradient_at_ties(dtype):
    rng = np.random.default_rng(2)
    x = rng.standard_normal(BIG).astype(dtype)
    x[::3, ::4] = 0.0
    for y in (0.0, np.zeros_like(x), rng.standard_normal(BIG[1]).astype(dtype)):
        want = np.where(x > y, 1.0, np.where(x == y, 0.5, 0.0)).astype(dtype)
        assert _same_bits(_share_impl(x, y, op="greater", dtype=np.dtype(dtype)), want)


def test_relu_and_maximum_gradients_on_large_arrays():
    rng = np.random.default_rng(3)
    x = rng.standard_normal(BIG).astype(np.float32)
    x[::5] = 0.0
    g = rng.standard_normal(BIG).astype(np.float32)
    relu_grad = fn.grad(lambda x: fnp.sum(fnp.where(x > 0, x, 0.0) * g))(x)
    assert _same_bits(relu_grad, np.where(x > 0, g, np.float32(0)))
    max_grad = fn.grad(lambda x: fnp.sum(fnp.maximum(x, 0.0) * g))(x)
    assert _same_bits(max_grad, g * np.where(x > 0, 1.0, np.where(x == 0, 0.5, 0.0)).astype(np.float32))
