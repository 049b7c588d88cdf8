"""Initializers: shapes, dtypes, determinism in the key, fans for dense and conv layouts, the
variance (or bounds) each family promises, orthogonality, and the layers' defaults."""
import math

import numpy as np
import pytest

from funcnn import nn, random
from funcnn.nn import initializers as init

KEY = random.key(0)

FACTORIES = {
    "constant": lambda: init.constant(0.5),
    "normal": lambda: init.normal(),
    "truncated_normal": lambda: init.truncated_normal(),
    "uniform": lambda: init.uniform(),
    "glorot_uniform": init.glorot_uniform,
    "glorot_normal": init.glorot_normal,
    "he_uniform": init.he_uniform,
    "he_normal": init.he_normal,
    "lecun_uniform": init.lecun_uniform,
    "lecun_normal": init.lecun_normal,
    "orthogonal": init.orthogonal,
    "variance_scaling": lambda: init.variance_scaling(1.0, "fan_avg", "normal"),
}
ALL = {"zeros": init.zeros, "ones": init.ones, **{k: f() for k, f in FACTORIES.items()}}


@pytest.mark.parametrize("name", sorted(ALL))
@pytest.mark.parametrize("shape", [(5, 3), (4, 2, 3, 3), (2, 3, 5)])
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_shape_dtype_and_determinism(name, shape, dtype):
    w = ALL[name](KEY, shape, dtype)
    assert w.shape == shape and w.dtype == dtype
    np.testing.assert_array_equal(w, ALL[name](KEY, shape, dtype))
    assert np.all(np.isfinite(w))


@pytest.mark.parametrize("name", sorted(ALL))
def test_default_dtype_is_float32_and_keys_matter(name):
    a = ALL[name](KEY, (6, 4))
    assert a.dtype == np.float32
    if name not in ("zeros", "ones", "constant"):
        assert not np.array_equal(a, ALL[name](random.key(1), (6, 4)))


def test_factory_dtype_is_the_default_of_its_initializer():
    assert init.normal(dtype=np.float64)(KEY, (2,)).dtype == np.float64
    assert init.he_normal(dtype=np.float64)(KEY, (2, 2)).dtype == np.float64


def test_zeros_ones_constant_values():
    np.testing.assert_array_equal(init.zeros(KEY, (2, 2)), np.zeros((2, 2)))
    np.testing.assert_array_equal(init.ones(KEY, (3,)), np.ones(3))
    np.testing.assert_array_equal(init.constant(-2.5)(KEY, (2,)), [-2.5, -2.5])


@pytest.mark.parametrize("shape, fans", [
    ((784, 256), (784, 256)),               # Dense (in, out)
    ((16, 3, 5, 5), (75, 400)),             # Conv2d (out, in, kh, kw)
    ((8, 4, 3), (12, 24)),                  # Conv1d (out, in, k)
    ((8, 4, 3, 3, 3), (108, 216)),          # Conv3d
    ((7,), (7, 7)),
    ((), (1, 1)),
])
def test_compute_fans_reads_the_layout_from_the_rank(shape, fans):
    assert init.compute_fans(shape) == fans


def test_compute_fans_with_explicit_axes():
    assert init.compute_fans((3, 3, 16, 32), in_axis=-2, out_axis=-1) == (144, 288)  # HWIO
    assert init.compute_fans((10, 4, 6), in_axis=1, out_axis=2, batch_axis=0) == (4, 6)
    assert init.compute_fans((2, 3, 4), in_axis=(0, 1), out_axis=2) == (6, 4)
    with pytest.raises(ValueError, match="both"):
        init.compute_fans((2, 3), in_axis=0)
    with pytest.raises(ValueError, match="different axes"):
        init.compute_fans((2, 3), in_axis=0, out_axis=0)
    with pytest.raises(ValueError, match="out of range"):
        init.compute_fans((2, 3), in_axis=0, out_axis=5)


# (initializer, expected variance as a function of (fan_in, fan_out))
VARIANCES = [
    (init.glorot_uniform, lambda i, o: 2.0 / (i + o)),
    (init.glorot_normal, lambda i, o: 2.0 / (i + o)),
    (init.he_uniform, lambda i, o: 2.0 / i),
    (init.he_normal, lambda i, o: 2.0 / i),
    (init.lecun_uniform, lambda i, o: 1.0 / i),
    (init.lecun_normal, lambda i, o: 1.0 / i),
]


@pytest.mark.parametrize("factory, variance", VARIANCES, ids=[f.__name__ for f, _ in VARIANCES])
@pytest.mark.parametrize("shape", [(400, 300), (64, 32, 3, 3)], ids=["dense", "conv"])
def test_variance_scaling_families_have_their_variance(factory, variance, shape):
    w = factory()(KEY, shape, np.float64)
    fan_in, fan_out = init.compute_fans(shape)
    expected = variance(fan_in, fan_out)
    assert abs(w.mean()) < 4 * math.sqrt(expected / w.size)
    assert w.var() == pytest.approx(expected, rel=0.03)


@pytest.mark.parametrize("factory, scale", [(init.glorot_uniform, 6.0), (init.he_uniform, 6.0),
                                            (init.lecun_uniform, 3.0)])
def test_uniform_families_have_the_right_bounds(factory, scale):
    shape = (50, 40)
    fan_in, fan_out = init.compute_fans(shape)
    n = (fan_in + fan_out) if factory is init.glorot_uniform else fan_in
    limit = math.sqrt(scale / n)
    w = factory()(KEY, shape, np.float64)
    assert w.min() >= -limit and w.max() <= limit
    assert w.max() > 0.95 * limit and w.min() < -0.95 * limit


def test_truncated_normal_families_stay_within_two_standard_deviations():
    w = init.he_normal()(KEY, (300, 200), np.float64)
    std = math.sqrt(2.0 / 300) / 0.87962566103423978
    assert np.abs(w).max() <= 2 * std * (1 + 1e-12)


def test_variance_scaling_modes_and_errors():
    w = init.variance_scaling(3.0, "fan_out", "normal")(KEY, (100, 600), np.float64)
    assert w.var() == pytest.approx(3.0 / 600, rel=0.05)
    with pytest.raises(ValueError, match="mode"):
        init.variance_scaling(1.0, "fan_sum", "normal")
    with pytest.raises(ValueError, match="distribution"):
        init.variance_scaling(1.0, "fan_in", "cauchy")
    with pytest.raises(ValueError, match="scale"):
        init.variance_scaling(0.0, "fan_in", "normal")


def test_normal_and_uniform_follow_jax_conventions():
    w = init.normal(0.5)(KEY, (20_000,), np.float64)
    assert w.std() == pytest.approx(0.5, rel=0.03)
    u = init.uniform(0.2)(KEY, (20_000,), np.float64)
    assert u.min() >= 0.0 and u.max() < 0.2 and u.mean() == pytest.approx(0.1, rel=0.03)


@pytest.mark.parametrize("shape", [(6, 4), (4, 6), (5, 5), (3, 2, 4)])
def test_orthogonal(shape):
    w = init.orthogonal(scale=2.0)(KEY, shape, np.float64)
    m = w.reshape(-1, shape[-1])
    if m.shape[0] >= m.shape[1]:
        np.testing.assert_allclose(m.T @ m, 4.0 * np.eye(m.shape[1]), atol=1e-12)
    else:
        np.testing.assert_allclose(m @ m.T, 4.0 * np.eye(m.shape[0]), atol=1e-12)


def test_orthogonal_column_axis():
    w = init.orthogonal(column_axis=0)(KEY, (3, 8), np.float64)
    np.testing.assert_allclose(w @ w.T, np.eye(3), atol=1e-12)
    with pytest.raises(ValueError, match="at least 2"):
        init.orthogonal()(KEY, (4,))


def test_bad_shapes_and_dtypes():
    with pytest.raises(ValueError, match="non-negative"):
        init.zeros(KEY, (2, -1))
    with pytest.raises(TypeError, match="floating"):
        init.normal()(KEY, (2,), np.int32)


def test_aliases():
    assert init.xavier_uniform is init.glorot_uniform and init.kaiming_normal is init.he_normal


# --- the layers' defaults -------------------------------------------------------------------------


def test_dense_default_is_lecun_normal_weights_and_zero_bias():
    _, params = nn.Dense(300).init(KEY, (-1, 500))
    np.testing.assert_array_equal(params["b"], np.zeros(300, np.float32))
    assert params["w"].var() == pytest.approx(1.0 / 500, rel=0.03)
    np.testing.assert_array_equal(params["w"], init.lecun_normal()(random.split(KEY)[0], (500, 300)))


def test_conv_default_fans_include_the_receptive_field_and_groups():
    _, params = nn.Conv(64, (3, 3), groups=2).init(KEY, (-1, 32, 8, 8))
    assert params["w"].shape == (64, 16, 3, 3)
    assert params["w"].var() == pytest.approx(1.0 / (16 * 9), rel=0.05)
    np.testing.assert_array_equal(params["b"], np.zeros(64, np.float32))


def test_conv_transpose_default_fan_in_is_per_group():
    _, params = nn.ConvTranspose(64, (3, 3), groups=4).init(KEY, (-1, 128, 8, 8))
    assert params["w"].shape == (128, 16, 3, 3)
    assert params["w"].var() == pytest.approx(1.0 / (32 * 9), rel=0.05)


def test_custom_initializers_are_used():
    _, params = nn.Dense(3, w_init=init.ones, b_init=init.constant(0.5)).init(KEY, (-1, 2))
    np.testing.assert_array_equal(params["w"], np.ones((2, 3)))
    np.testing.assert_array_equal(params["b"], [0.5, 0.5, 0.5])
    _, params = nn.Embedding(10, 4).init(KEY, (-1,))
    assert params["embeddings"].std() == pytest.approx(1.0, rel=0.3)
