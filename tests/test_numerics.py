"""Numerical corner cases of activations, losses and reductions, each checked against
hand-derived values and, where installed, PyTorch, JAX and autograd: log-probabilities at
large logits, NaN propagation, derivatives at 0**0 and at zero spread, degrees of freedom,
float16 accumulation, integer promotion, empty batches and complex inputs."""
import math
import warnings

import numpy as np
import pytest

import funcnn as fn
import funcnn.numpy as fnp
from funcnn import losses, nn, random

RNG = np.random.default_rng(0)


def exact_log_softmax(x):
    """log_softmax of a vector in float64, the winner's term taken out of the sum so that its
    tiny log-probability keeps its relative accuracy (``x - max`` is exact for the inputs used)."""
    s = np.asarray(x, np.float64) - np.max(np.asarray(x, np.float64))
    k = int(np.argmax(s))
    rest = math.fsum(math.exp(v) for i, v in enumerate(s) if i != k)
    return s - math.log1p(rest)


def softmax64(x):
    s = np.asarray(x, np.float64) - np.max(np.asarray(x, np.float64), axis=-1, keepdims=True)
    return np.exp(s) / np.exp(s).sum(axis=-1, keepdims=True)


# --- 3: x - logsumexp(x) at large logits -----------------------------------------------------------


@pytest.mark.parametrize("dtype, value", [
    (np.float16, 1e3), (np.float16, -1e3), (np.float32, 1e4), (np.float32, 1e8), (np.float32, -1e8),
    (np.float64, 1e30), (np.float64, -1e30),
])
def test_log_softmax_of_equal_large_logits_is_minus_log_n(dtype, value):
    out = nn.log_softmax(np.full(4, value, dtype))
    assert out.dtype == dtype
    np.testing.assert_allclose(out.astype(np.float64), -math.log(4), rtol=np.finfo(dtype).eps)
    torch = pytest.importorskip("torch")
    expected = torch.log_softmax(torch.full((4,), value, dtype=torch.float64), -1).numpy()
    np.testing.assert_allclose(out.astype(np.float64), expected, rtol=np.finfo(dtype).eps)


def test_log_softmax_of_1e8_in_float32_is_minus_log_4():
    out = nn.log_softmax(np.full(4, 1e8, np.float32))
    np.testing.assert_allclose(out, np.full(4, -1.3862944, np.float32), rtol=1e-7)


@pytest.mark.parametrize("dtype, magnitude, spread, rtol", [
    (np.float16, 1e3, 8, 1e-3),
    (np.float32, 1e4, 8, 1e-6),
    (np.float32, 1e4, 40, 1e-6),
    (np.float32, 1e8, 64, 1e-6),
    (np.float64, 1e30, 1e15, 1e-15),
])
def test_log_softmax_relative_error_at_large_logits(dtype, magnitude, spread, rtol):
    tiny = np.finfo(dtype).tiny  # below it the exact value has no relative accuracy in dtype
    for sign in (1, -1):
        for _ in range(50):
            x = (sign * magnitude + RNG.uniform(-spread, spread, 5)).astype(dtype)
            exact = exact_log_softmax(x)
            got = nn.log_softmax(x).astype(np.float64)
            normal = np.abs(exact) >= tiny
            np.testing.assert_allclose(got[normal], exact[normal], rtol=rtol)
            np.testing.assert_array_less(np.abs(got[~normal]), 2 * tiny)


def test_log_softmax_agrees_with_torch_and_jax_at_large_logits():
    x = (1e4 + RNG.uniform(-8, 8, (20, 5))).astype(np.float32)
    ours = nn.log_softmax(x)
    torch = pytest.importorskip("torch")
    np.testing.assert_allclose(ours, torch.log_softmax(torch.from_numpy(x), -1).numpy(), atol=4e-6)
    jax = pytest.importorskip("jax")
    np.testing.assert_allclose(ours, np.asarray(jax.nn.log_softmax(x)), atol=4e-6)


def test_log_softmax_along_another_axis_and_of_a_scalar():
    x = np.array([[1e8, 0.0], [1e8, 0.0]], np.float32)
    np.testing.assert_allclose(nn.log_softmax(x, axis=0), np.full((2, 2), -math.log(2)), rtol=1e-7)
    assert float(nn.log_softmax(np.float64(3.0))) == 0.0


def test_log_softmax_keeps_the_winners_tiny_log_probability():
    # log_softmax([0, -30])[0] = -log1p(exp(-30)) = -9.357623e-14: log(1 + 9.4e-14) would be 0
    # in float32 (and PyTorch gives 0); the log-probability of the winner keeps its precision.
    out = nn.log_softmax(np.array([1e4, 1e4 - 30], np.float32))
    np.testing.assert_allclose(out, [-math.exp(-30), -30.0], rtol=1e-6)


def test_log_softmax_of_non_finite_logits_as_torch_and_jax():
    x = np.array([[np.inf, 1.0], [-np.inf, -np.inf], [np.nan, 1.0], [-np.inf, 0.0]])
    with np.errstate(all="ignore"):
        out = nn.log_softmax(x)
    np.testing.assert_array_equal(out, [[np.nan, np.nan], [np.nan, np.nan], [np.nan, np.nan], [-np.inf, 0.0]])
    torch = pytest.importorskip("torch")
    np.testing.assert_array_equal(out, torch.log_softmax(torch.from_numpy(x), -1).numpy())
    jax = pytest.importorskip("jax")
    np.testing.assert_array_equal(out, np.asarray(jax.nn.log_softmax(x.astype(np.float32))))


@pytest.mark.parametrize("dtype, magnitude, step", [(np.float32, 1e8, 8.0), (np.float32, -1e8, 8.0),
                                                     (np.float64, 1e4, 1.0)])
def test_cross_entropy_value_and_gradient_at_huge_logits(dtype, magnitude, step):
    # neighbouring representable logits: the differences are exact, softmax is O(1)
    logits = (magnitude + step * np.array([[0.0, 1.0, -1.0], [2.0, 0.0, 0.0]])).astype(dtype)
    labels = np.array([0, 2])
    loss = losses.cross_entropy(logits, labels)
    exact = -np.mean([exact_log_softmax(row)[y] for row, y in zip(logits, labels)])
    np.testing.assert_allclose(float(loss), exact, rtol=4 * np.finfo(dtype).eps)
    grads = fn.grad(lambda z: losses.cross_entropy(z, labels))(logits)
    assert grads.dtype == dtype and np.all(np.isfinite(grads))
    p_minus_y = (softmax64(logits) - np.eye(3)[labels]) / len(labels)
    np.testing.assert_allclose(grads, p_minus_y, atol=4 * np.finfo(dtype).eps)
    torch = pytest.importorskip("torch")
    t = torch.tensor(logits, requires_grad=True)
    torch.nn.functional.cross_entropy(t, torch.from_numpy(labels)).backward()
    np.testing.assert_allclose(grads, t.grad.numpy(), atol=8 * np.finfo(dtype).eps)


def test_cross_entropy_gradient_at_1e30_in_float64():
    logits = np.array([[1e30, 1e30, 1e30, -1e30]])
    loss, grads = fn.value_and_grad(lambda z: losses.cross_entropy(z, np.array([0])))(logits)
    np.testing.assert_allclose(float(loss), math.log(3), rtol=1e-15)
    np.testing.assert_allclose(grads, [[1 / 3 - 1, 1 / 3, 1 / 3, 0.0]], rtol=1e-15, atol=0)


# --- 4: NaN propagation ------------------------------------------------------------------------------

ELEMENTWISE = {
    "relu": nn.relu, "relu6": nn.relu6, "leaky_relu": nn.leaky_relu, "elu": nn.elu, "selu": nn.selu,
    "gelu": nn.gelu, "gelu_tanh": lambda x: nn.gelu(x, approximate=True), "sigmoid": nn.sigmoid,
    "tanh": nn.tanh, "softplus": nn.softplus, "log_sigmoid": nn.log_sigmoid, "silu": nn.silu,
    "hard_tanh": nn.hard_tanh, "clip": lambda x: fnp.clip(x, -1.0, 1.0),
    "maximum": lambda x: fnp.maximum(x, 0.0), "minimum": lambda x: fnp.minimum(x, 0.0),
}


def test_relu_propagates_nan_as_numpy_torch_and_jax():
    x = np.array([np.nan, -1.0, 0.0, 2.0, -np.inf, np.inf])
    expected = np.array([np.nan, 0.0, 0.0, 2.0, 0.0, np.inf])  # np.maximum(x, 0)
    np.testing.assert_array_equal(nn.relu(x), expected)
    np.testing.assert_array_equal(nn.relu(x), np.maximum(x, 0.0))
    torch = pytest.importorskip("torch")
    np.testing.assert_array_equal(nn.relu(x), torch.relu(torch.from_numpy(x)).numpy())
    jax = pytest.importorskip("jax")
    np.testing.assert_array_equal(nn.relu(x.astype(np.float32)), np.asarray(jax.nn.relu(x.astype(np.float32))))


@pytest.mark.parametrize("name", sorted(ELEMENTWISE))
def test_elementwise_functions_propagate_nan(name):
    x = np.array([np.nan, -7.0, 0.0, 7.0], np.float32)
    out = ELEMENTWISE[name](x)
    assert np.isnan(out[0]) and np.all(np.isfinite(out[1:])), out


@pytest.mark.parametrize("fun", [nn.softmax, nn.log_softmax, lambda x: fnp.max(x, axis=-1, keepdims=True),
                                 lambda x: nn.logsumexp(x, axis=-1, keepdims=True)])
def test_slice_functions_propagate_nan(fun):
    x = np.array([[np.nan, 1.0, 2.0], [0.0, 1.0, 2.0]])
    out = np.broadcast_to(fun(x), x.shape)
    assert np.all(np.isnan(out[0])) and np.all(np.isfinite(out[1]))


def test_max_pool_propagates_nan():
    x = np.arange(16.0).reshape(1, 1, 4, 4)
    x[0, 0, 0, 1] = np.nan
    out = fn.lax.max_pool(x, (2, 2), strides=(2, 2))
    np.testing.assert_array_equal(out, [[[[np.nan, 7.0], [13.0, 15.0]]]])
    torch = pytest.importorskip("torch")
    expected = torch.nn.functional.max_pool2d(torch.from_numpy(x), 2).numpy()
    np.testing.assert_array_equal(out, expected)


@pytest.mark.parametrize("fun, x, slope", [
    (nn.relu, 0.0, 0.0), (nn.relu6, 0.0, 0.0), (nn.relu6, 6.0, 0.0), (nn.hard_tanh, 1.0, 0.0),
    (nn.hard_tanh, -1.0, 0.0), (lambda x: nn.leaky_relu(x, 0.1), 0.0, 0.1), (nn.elu, 0.0, 1.0),
])
def test_derivatives_at_kinks_unchanged(fun, x, slope):
    assert float(fn.grad(fun)(x)) == slope


# --- 5: derivatives at 0**0 and at zero spread -----------------------------------------------------


def test_power_with_exponent_zero_has_derivative_zero_at_zero():
    x = np.array([0.0, 2.0, -3.0], np.float32)
    for exponent in (0, 0.0, np.zeros(3, np.float32)):
        g = fn.grad(lambda a: fnp.sum(fnp.power(a, exponent)))(x)
        assert g.dtype == np.float32
        np.testing.assert_array_equal(g, [0.0, 0.0, 0.0])
        _, tangent = fn.jvp(lambda a: fnp.power(a, exponent), (x,), (np.ones(3, np.float32),))
        np.testing.assert_array_equal(tangent, [0.0, 0.0, 0.0])
    torch = pytest.importorskip("torch")
    t = torch.tensor(x, requires_grad=True)
    torch.pow(t, 0).sum().backward()
    np.testing.assert_array_equal(t.grad.numpy(), [0.0, 0.0, 0.0])


def test_power_derivative_elsewhere_and_second_derivative():
    # d/dx x**y = y x**(y - 1) off the convention's point; d2/dx2 of x**0 is 0 at 0 too
    x, y = np.array([0.0, 2.0, 0.5]), np.array([2.0, 0.0, 3.0])
    np.testing.assert_allclose(fn.grad(lambda a: fnp.sum(fnp.power(a, y)))(x), [0.0, 0.0, 0.75])
    assert float(fn.grad(fn.grad(lambda a: fnp.power(a, 0.0)))(0.0)) == 0.0
    autograd = pytest.importorskip("autograd")
    anp = pytest.importorskip("autograd.numpy")
    assert float(autograd.grad(lambda a: anp.power(a, 0.0))(0.0)) == 0.0


@pytest.mark.parametrize("x", [np.array([3.0]), np.array([3.0, 3.0, 3.0]), np.zeros((1, 4))])
def test_std_gradient_at_zero_spread_is_zero_as_torch(x):
    g = fn.grad(lambda a: fnp.std(a))(x)
    np.testing.assert_array_equal(g, np.zeros_like(x))
    torch = pytest.importorskip("torch")
    t = torch.tensor(x, requires_grad=True)
    t.std(correction=0).backward()
    np.testing.assert_array_equal(t.grad.numpy(), g)


def test_std_gradient_of_a_constant_vector_with_ddof_1_is_zero_as_torch():
    x = np.full(4, 2.5)
    g = fn.grad(lambda a: fnp.std(a, ddof=1))(x)
    np.testing.assert_array_equal(g, np.zeros(4))
    torch = pytest.importorskip("torch")
    t = torch.tensor(x, requires_grad=True)
    t.std().backward()
    np.testing.assert_array_equal(t.grad.numpy(), g)


def test_normalising_a_batch_of_one_gives_finite_gradients():
    x = np.array([[1.0, -2.0, 3.0]])
    w = np.array([[0.5, 1.0, -1.0]])

    def loss(a):
        z = (a - fnp.mean(a, axis=0)) / (fnp.std(a, axis=0) + 1e-5)
        return fnp.sum(w * z)
    np.testing.assert_array_equal(fn.grad(loss)(x), np.zeros((1, 3)))


def test_std_gradient_away_from_zero_spread_unchanged():
    x = RNG.normal(size=7)
    g = fn.grad(lambda a: fnp.std(a, ddof=1))(x)
    np.testing.assert_allclose(g, (x - x.mean()) / ((len(x) - 1) * np.std(x, ddof=1)), rtol=1e-12)


# --- 6: degrees of freedom, empty arrays --------------------------------------------------------------


@pytest.mark.parametrize("ddof", [3, 4, 10])
@pytest.mark.parametrize("x", [np.array([1.0, 2.0, 4.0]), np.array([2.0, 2.0, 2.0])])
def test_var_with_ddof_at_least_n_as_numpy(x, ddof):
    with pytest.warns(RuntimeWarning):
        expected = np.var(x, ddof=ddof)  # inf, or nan at zero spread
    with pytest.warns(RuntimeWarning, match="Degrees of freedom"), np.errstate(all="ignore"):
        got = fnp.var(x, ddof=ddof)
        np.testing.assert_array_equal(fnp.std(x, ddof=ddof), np.sqrt(expected))
    np.testing.assert_array_equal(got, expected)
    assert np.isinf(got) if x[0] != x[1] else np.isnan(got)


@pytest.mark.parametrize("shape, axis", [((0,), None), ((0, 3), 0), ((2, 0), 0), ((0, 3), None)])
def test_mean_and_var_of_empty_arrays_as_numpy(shape, axis):
    x = np.zeros(shape)
    for ours, theirs in ((fnp.mean, np.mean), (fnp.var, np.var), (fnp.std, np.std)):
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", RuntimeWarning)  # both warn of the empty slices
            got, expected = ours(x, axis=axis), theirs(x, axis=axis)
        assert np.shape(got) == np.shape(expected)
        np.testing.assert_array_equal(got, expected)  # nan for each empty slice


def test_mean_and_var_of_an_empty_array_are_nan_with_a_warning():
    for fun in (fnp.mean, fnp.var, fnp.std):
        with pytest.warns(RuntimeWarning):
            assert np.isnan(fun(np.zeros(0, np.float32)))


# --- 7: float16 accumulates in float32 ------------------------------------------------------------


def test_float16_var_std_of_spread_50_do_not_overflow():
    x = RNG.normal(10.0, 50.0, 2000).astype(np.float16)
    wide = x.astype(np.float64)
    for ours, theirs in ((fnp.var, np.var), (fnp.std, np.std), (fnp.mean, np.mean)):
        got = ours(x)
        assert got.dtype == np.float16
        np.testing.assert_allclose(float(got), theirs(wide), rtol=1e-3)


def test_float16_sum_and_mean_of_large_values():
    x = np.array([6e4, 6e4, -6e4, -6e4], np.float16)  # float16 partial sums overflow at 65504
    assert fnp.sum(x).dtype == np.float16 and float(fnp.sum(x)) == 0.0
    assert float(fnp.mean(np.array([6e4, 6e4], np.float16))) == 6e4
    ones = np.ones(5000, np.float16)
    assert float(fnp.sum(ones)) == 5000.0 and float(fnp.mean(ones)) == 1.0


def _f16_batch():
    return RNG.normal(20.0, 50.0, (64, 3, 4, 4)).astype(np.float16)


def test_float16_batch_norm_matches_torch():
    torch = pytest.importorskip("torch")
    x = _f16_batch()
    bn = nn.BatchNorm(dtype=np.float16)
    _, params, state = bn.init_with_state(random.key(0), (-1, 3, 4, 4))
    y, state = bn.apply(params, x, train=True, state=state)
    module = torch.nn.BatchNorm2d(3).half()
    expected = module(torch.from_numpy(x)).detach().numpy()
    assert y.dtype == np.float16 and np.all(np.isfinite(y)) and float(np.std(y.astype(np.float32))) > 0.9
    np.testing.assert_allclose(y.astype(np.float32), expected.astype(np.float32), atol=8e-3)
    np.testing.assert_allclose(state["mean"], module.running_mean.numpy(), rtol=2e-3)
    np.testing.assert_allclose(state["var"], module.running_var.numpy(), rtol=2e-3)
    y_eval, _ = bn.apply(params, x, state=state)
    expected_eval = module.eval()(torch.from_numpy(x)).detach().numpy()
    np.testing.assert_allclose(y_eval.astype(np.float32), expected_eval.astype(np.float32), rtol=4e-3, atol=4e-3)


def test_float16_layer_norm_matches_torch():
    torch = pytest.importorskip("torch")
    x = _f16_batch()
    ln = nn.LayerNorm(axis=(-3, -2, -1), dtype=np.float16)
    _, params = ln.init(random.key(0), (-1, 3, 4, 4))
    y = ln.apply(params, x)
    expected = torch.nn.functional.layer_norm(torch.from_numpy(x), (3, 4, 4)).numpy()
    assert y.dtype == np.float16
    np.testing.assert_allclose(y.astype(np.float32), expected.astype(np.float32), atol=8e-3)


# --- 8: integer inputs promote as NumPy's exp promotes them ---------------------------------------


@pytest.mark.parametrize("dtype", [np.bool_, np.int8, np.uint8, np.int16, np.uint16, np.int32, np.int64])
@pytest.mark.parametrize("fun", [nn.relu, nn.softplus, nn.sigmoid, nn.log_softmax, nn.elu])
def test_integer_inputs_promote_like_numpy_exp(fun, dtype):
    x = np.array([0, 1, 1], dtype)
    expected_dtype = np.exp(x).dtype
    out = fun(x)
    assert out.dtype == expected_dtype
    np.testing.assert_array_equal(out, fun(x.astype(expected_dtype)))


def test_log_softmax_of_int8_equals_the_float_result():
    x = np.array([-128, 0, 127], np.int8)
    out = nn.log_softmax(x)
    assert out.dtype == np.float16  # np.exp(int8) is float16
    np.testing.assert_array_equal(out, nn.log_softmax(x.astype(np.float16)))
    np.testing.assert_array_equal(out, [-255.0, -127.0, 0.0])  # exactly: -255, -127, -7e-56


def test_logsumexp_and_softplus_of_uint8_do_not_wrap():
    lse = fnp.logsumexp(np.array([0, 250, 255], np.uint8))
    exact = 255 + math.log1p(math.exp(-5) + math.exp(-255))  # 255.0067
    assert lse.dtype == np.float16
    np.testing.assert_allclose(float(lse), exact, rtol=1e-3)
    np.testing.assert_allclose(float(fnp.logsumexp(np.array([0, 250, 255]))), exact, rtol=1e-15)
    np.testing.assert_allclose(nn.softplus(np.array([250], np.uint8)), [250.0], rtol=1e-3)
    np.testing.assert_allclose(nn.softplus(np.array([-128], np.int8)), [0.0], atol=1e-7)


def test_losses_of_integer_inputs_do_not_wrap():
    lo, hi = np.array([-128], np.int8), np.array([127], np.int8)
    assert float(losses.l1(lo, hi)) == 255.0  # int8 subtraction would give 1
    assert float(losses.huber(lo, hi)) == 254.5
    assert float(losses.mse(np.array([-30000], np.int16), np.array([30000], np.int16))) == 3.6e9
    logits = np.array([[-128, 0, 127]], np.int8)
    np.testing.assert_array_equal(losses.cross_entropy(logits, np.array([0])),
                                  losses.cross_entropy(logits.astype(np.float16), np.array([0])))
    np.testing.assert_allclose(float(losses.cross_entropy(logits, np.array([0]))), 255.0, rtol=1e-3)


def test_reductions_of_small_integers_do_not_wrap():
    x = np.array([-128, 127, 127], np.int8)
    assert int(fnp.sum(x)) == 126
    np.testing.assert_allclose(float(fnp.mean(x)), 42.0)
    np.testing.assert_allclose(float(fnp.var(x)), np.var(x.astype(np.float64)))
    np.testing.assert_allclose(float(fnp.std(np.array([0, 255], np.uint8))), 127.5)


# --- 9: empty batches --------------------------------------------------------------------------------

_E = np.zeros((0,), np.float32)
_E3 = np.zeros((0, 3), np.float32)
_I = np.zeros((0,), np.int64)
EMPTY_LOSSES = {
    "mse": (lambda r: losses.mse(_E, _E, reduction=r), (0,)),
    "l1": (lambda r: losses.l1(_E, _E, reduction=r), (0,)),
    "huber": (lambda r: losses.huber(_E, _E, reduction=r), (0,)),
    "cross_entropy": (lambda r: losses.cross_entropy(_E3, _I, reduction=r), (0,)),
    "cross_entropy_dense": (lambda r: losses.cross_entropy(_E3, _E3, reduction=r), (0,)),
    "cross_entropy_smoothed": (lambda r: losses.cross_entropy(_E3, _I, 0.1, reduction=r), (0,)),
    "nll": (lambda r: losses.nll(_E3, _I, reduction=r), (0,)),
    "binary_cross_entropy": (lambda r: losses.binary_cross_entropy(_E, _E, reduction=r), (0,)),
    "binary_cross_entropy_with_logits": (
        lambda r: losses.binary_cross_entropy_with_logits(_E, _E, reduction=r), (0,)),
    "kl_div": (lambda r: losses.kl_div(_E3, _E3, reduction=r), (0, 3)),
    "hinge": (lambda r: losses.hinge(_E, _E, reduction=r), (0,)),
    "hinge_multiclass": (lambda r: losses.hinge(_E3, _I, reduction=r), (0,)),
}


@pytest.mark.parametrize("name", sorted(EMPTY_LOSSES))
def test_losses_of_an_empty_batch(name):
    loss, shape = EMPTY_LOSSES[name]
    assert np.isnan(loss("mean"))  # PyTorch: nan, the mean of no losses
    assert float(loss("sum")) == 0.0
    none = loss("none")
    assert none.shape == shape and none.dtype == np.float32


def test_kl_div_batchmean_of_an_empty_batch_is_nan_as_torch():
    assert np.isnan(losses.kl_div(_E3, _E3))
    torch = pytest.importorskip("torch")
    assert torch.isnan(torch.nn.functional.kl_div(torch.zeros(0, 3), torch.zeros(0, 3), reduction="batchmean"))


def test_empty_batch_matches_torch_and_differentiates():
    torch = pytest.importorskip("torch")
    f = torch.nn.functional
    assert np.isnan(float(f.mse_loss(torch.zeros(0), torch.zeros(0))))
    assert np.isnan(float(f.cross_entropy(torch.zeros(0, 3), torch.zeros(0, dtype=torch.long))))
    assert float(f.mse_loss(torch.zeros(0), torch.zeros(0), reduction="sum")) == 0.0
    grads = fn.grad(lambda z: losses.cross_entropy(z, _I, reduction="sum"))(_E3)
    assert grads.shape == (0, 3)


# --- 11: complex inputs ------------------------------------------------------------------------------

_Z = np.array([1.0 + 2.0j, 3.0 - 1.0j])
COMPLEX_REFUSED = {
    "var": lambda: fnp.var(_Z), "std": lambda: fnp.std(_Z), "logsumexp": lambda: fnp.logsumexp(_Z),
    "relu": lambda: nn.relu(_Z), "softmax": lambda: nn.softmax(_Z), "log_softmax": lambda: nn.log_softmax(_Z),
    "sigmoid": lambda: nn.sigmoid(_Z), "gelu": lambda: nn.gelu(_Z), "softplus": lambda: nn.softplus(_Z),
    "layer_norm": lambda: nn.layer_norm(_Z[None]),
    "mse": lambda: losses.mse(_Z, _Z), "l1": lambda: losses.l1(_Z, _Z),
    "cross_entropy": lambda: losses.cross_entropy(_Z[None], np.array([0])),
    "cross_entropy_labels": lambda: losses.cross_entropy(np.zeros((1, 2)), _Z[None]),
    "hinge_labels": lambda: losses.hinge(np.zeros(2), _Z),
    "binary_cross_entropy_with_logits": lambda: losses.binary_cross_entropy_with_logits(_Z, np.ones(2)),
}


@pytest.mark.parametrize("name", sorted(COMPLEX_REFUSED))
def test_complex_inputs_are_refused(name):
    with pytest.raises(TypeError, match="complex values are not supported"):
        COMPLEX_REFUSED[name]()


def test_complex_arithmetic_and_mean_still_work():
    np.testing.assert_array_equal(fnp.add(_Z, _Z), 2 * _Z)
    np.testing.assert_array_equal(fnp.mean(_Z), np.mean(_Z))
    np.testing.assert_array_equal(fnp.sum(_Z), np.sum(_Z))
