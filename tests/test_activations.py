"""Activations: values against formulas and PyTorch, derivatives to order 2 (and 3 for the
smooth ones) by check_grads, derivatives at kinks, stability at |x| = 1e4 in float32,
dtype preservation, and every activation as a layer."""
import math

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

import funcnn as fn
import funcnn.numpy as fnp
from funcnn import nn, random
from funcnn.testing import check_grads
from funcnn.testing.strategies import arrays, shapes

SELU_ALPHA = 1.6732632423543772
SELU_SCALE = 1.0507009873554805


def ndtr(x):
    return np.vectorize(lambda v: 0.5 * math.erfc(-v / math.sqrt(2.0)))(x)


def np_softmax(x, axis=-1):
    e = np.exp(x - x.max(axis=axis, keepdims=True))
    return e / e.sum(axis=axis, keepdims=True)


# (name, function, NumPy reference, smooth everywhere?)
ELEMENTWISE = [
    ("relu", nn.relu, lambda x: np.maximum(x, 0), False),
    ("relu6", nn.relu6, lambda x: np.clip(x, 0, 6), False),
    ("leaky_relu", nn.leaky_relu, lambda x: np.where(x > 0, x, 0.01 * x), False),
    ("leaky_relu_0.2", lambda x: nn.leaky_relu(x, 0.2), lambda x: np.where(x > 0, x, 0.2 * x), False),
    ("elu", nn.elu, lambda x: np.where(x > 0, x, np.expm1(np.minimum(x, 0))), False),
    ("elu_alpha", lambda x: nn.elu(x, 0.5), lambda x: np.where(x > 0, x, 0.5 * np.expm1(np.minimum(x, 0))), False),
    ("selu", nn.selu, lambda x: SELU_SCALE * np.where(x > 0, x, SELU_ALPHA * np.expm1(np.minimum(x, 0))), False),
    ("gelu", nn.gelu, lambda x: x * ndtr(x), True),
    ("gelu_tanh", lambda x: nn.gelu(x, approximate=True),
     lambda x: 0.5 * x * (1 + np.tanh(math.sqrt(2 / math.pi) * (x + 0.044715 * x ** 3))), True),
    ("sigmoid", nn.sigmoid, lambda x: 1 / (1 + np.exp(-x)), True),
    ("log_sigmoid", nn.log_sigmoid, lambda x: -np.log1p(np.exp(-x)), True),
    ("tanh", nn.tanh, np.tanh, True),
    ("softplus", nn.softplus, lambda x: np.log1p(np.exp(x)), True),
    ("silu", nn.silu, lambda x: x / (1 + np.exp(-x)), True),
    ("hard_tanh", nn.hard_tanh, lambda x: np.clip(x, -1, 1), False),
]
KINKS = {"relu": [0.0], "relu6": [0.0, 6.0], "leaky_relu": [0.0], "leaky_relu_0.2": [0.0], "elu": [0.0],
         "elu_alpha": [0.0], "selu": [0.0], "hard_tanh": [-1.0, 1.0]}
AXIS_WISE = [
    ("softmax", nn.softmax, np_softmax),
    ("log_softmax", nn.log_softmax, lambda x, axis=-1: np.log(np_softmax(x, axis))),
]
ALL = [(name, f) for name, f, _, _ in ELEMENTWISE] + [(name, f) for name, f, _ in AXIS_WISE] + [
    ("logsumexp", lambda x: nn.logsumexp(x, axis=-1))]


def away_from_kinks(name):
    """Values at least 0.05 from the activation's kinks, where finite differences are exact."""
    kinks = KINKS.get(name, [])
    elements = st.floats(-8.0, 8.0, allow_nan=False).filter(lambda v: all(abs(v - k) > 0.05 for k in kinks))
    return hnp.arrays(np.float64, shapes(min_dims=1, max_dims=2, max_side=4), elements=elements)


@pytest.mark.parametrize("name, f, ref, smooth", ELEMENTWISE, ids=[e[0] for e in ELEMENTWISE])
@given(data=st.data())
def test_elementwise_values_and_gradients(name, f, ref, smooth, data):
    x = data.draw(away_from_kinks(name))
    np.testing.assert_allclose(f(x), ref(x), rtol=1e-12, atol=1e-14)
    # the exact GELU composes a 28-term series: its third order is checked once, below
    check_grads(f, (x,), order=3 if smooth and name != "gelu" else 2)


def test_exact_gelu_third_derivatives():
    check_grads(nn.gelu, (np.linspace(-6.0, 6.0, 9),), order=3)


@pytest.mark.parametrize("name, f, ref", AXIS_WISE, ids=[a[0] for a in AXIS_WISE])
@given(x=arrays(shapes(min_dims=1, max_dims=3, max_side=4), min_value=-5, max_value=5),
       axis=st.integers(-1, 0))
def test_softmax_family_values_and_gradients(name, f, ref, x, axis):
    np.testing.assert_allclose(f(x, axis=axis), ref(x, axis=axis), rtol=1e-12, atol=1e-14)
    check_grads(lambda x: f(x, axis=axis), (x,), order=2)


@given(x=arrays(shapes(min_dims=1, max_dims=3, max_side=4), min_value=-50, max_value=50))
def test_softmax_rows_sum_to_one_and_logsumexp_matches(x):
    np.testing.assert_allclose(np.sum(nn.softmax(x), axis=-1), 1.0, rtol=1e-12)
    np.testing.assert_allclose(nn.logsumexp(x, axis=-1), np.log(np.sum(np.exp(x), axis=-1)), rtol=1e-12,
                               atol=1e-14)
    np.testing.assert_allclose(np.exp(nn.log_softmax(x)), nn.softmax(x), rtol=1e-10, atol=1e-300)


@pytest.mark.parametrize("name, f", ALL, ids=[a[0] for a in ALL])
@given(x=arrays(shapes(min_dims=1, max_dims=2, max_side=5), np.float32, min_value=-1e4, max_value=1e4))
def test_finite_values_and_gradients_up_to_1e4_in_float32(name, f, x):
    x = np.concatenate([x.ravel(), np.array([-1e4, 1e4, 0.0, -88.0, 89.0], np.float32)])
    y = f(x)
    weights = np.linspace(-1.0, 1.0, np.size(y), dtype=np.float32).reshape(np.shape(y))
    g = fn.grad(lambda x: fnp.sum(f(x) * weights))(x)
    assert np.all(np.isfinite(y)), f"{name}({x}) = {y}"
    assert np.all(np.isfinite(g)), f"{name}'s gradient at {x} is {g}"
    assert y.dtype == np.float32 and g.dtype == np.float32


@pytest.mark.parametrize("name, f", ALL, ids=[a[0] for a in ALL])
def test_float32_preserved_under_second_order(name, f):
    x = np.array([-2.0, -0.3, 0.7, 3.0], np.float32)
    h = fn.grad(lambda x: fnp.sum(fn.grad(lambda x: fnp.sum(f(x)))(x)))(x)
    assert h.dtype == np.float32 and np.all(np.isfinite(h))


def test_large_logits_keep_their_exact_values():
    x = np.array([[1e4, 0.0, -1e4]], np.float32)
    np.testing.assert_array_equal(nn.log_softmax(x), [[0.0, -1e4, -2e4]])
    np.testing.assert_array_equal(nn.softmax(x), [[1.0, 0.0, 0.0]])
    np.testing.assert_array_equal(nn.softplus(np.array([1e4, -1e4], np.float32)), [1e4, 0.0])
    np.testing.assert_array_equal(nn.log_sigmoid(np.array([-1e4], np.float32)), [-1e4])
    np.testing.assert_array_equal(nn.sigmoid(np.array([-1e4, 1e4], np.float32)), [0.0, 1.0])


def test_softmax_handles_minus_infinity_masks():
    x = np.array([[0.0, -np.inf, 0.0], [-np.inf, -np.inf, 1.0]])
    np.testing.assert_array_equal(nn.softmax(x), [[0.5, 0.0, 0.5], [0.0, 0.0, 1.0]])
    g = fn.grad(lambda x: fnp.sum(nn.softmax(x)[:, 0]))(x)
    assert np.all(np.isfinite(g))


def derivative(f, x):
    return float(fn.grad(lambda v: fnp.sum(f(v)))(np.array([x]))[0])


@pytest.mark.parametrize("f, x, expected", [
    (nn.relu, 0.0, 0.0),
    (nn.relu6, 0.0, 0.0),
    (nn.relu6, 6.0, 0.0),
    (nn.leaky_relu, 0.0, 0.01),
    (lambda x: nn.leaky_relu(x, 0.3), 0.0, 0.3),
    (nn.hard_tanh, -1.0, 0.0),
    (nn.hard_tanh, 1.0, 0.0),
    (nn.elu, 0.0, 1.0),
    (lambda x: nn.elu(x, 0.5), 0.0, 0.5),
    (nn.selu, 0.0, SELU_SCALE * SELU_ALPHA),
    (nn.softplus, 0.0, 0.5),
    (nn.gelu, 0.0, 0.5),
    (nn.silu, 0.0, 0.5),
    (nn.sigmoid, 0.0, 0.25),
], ids=["relu", "relu6_0", "relu6_6", "leaky", "leaky_0.3", "hard_tanh_lo", "hard_tanh_hi", "elu",
        "elu_0.5", "selu", "softplus", "gelu", "silu", "sigmoid"])
def test_derivatives_at_kinks_follow_pytorch(f, x, expected):
    assert derivative(f, x) == pytest.approx(expected, abs=1e-15)


@pytest.mark.parametrize("f, second", [
    (nn.softplus, 0.25),                          # sigmoid'(0)
    (nn.gelu, 2.0 / math.sqrt(2 * math.pi)),      # 2 * phi(0)
    (nn.silu, 0.5),                               # 2 * sigmoid'(0)
], ids=["softplus", "gelu", "silu"])
def test_smooth_activations_have_true_second_derivatives_at_zero(f, second):
    d2 = fn.grad(lambda v: fn.grad(lambda u: fnp.sum(f(u)))(v)[0])(np.array([0.0]))
    assert float(d2[0]) == pytest.approx(second, rel=1e-12)


def test_exact_gelu_keeps_relative_accuracy_in_the_negative_tail():
    x = np.array([-5.0, -10.0, -20.0, -30.0])
    expected = x * ndtr(x)
    np.testing.assert_allclose(nn.gelu(x), expected, rtol=1e-12)


def test_one_hot():
    np.testing.assert_array_equal(nn.one_hot(np.array([[1], [0]]), 2), [[[0, 1]], [[1, 0]]])
    with pytest.raises(ValueError, match=r"\[0, 3\)"):
        nn.one_hot(np.array([3]), 3)
    with pytest.raises(ValueError, match="integers"):
        nn.one_hot(np.array([1.0]), 3)


def test_hard_tanh_rejects_empty_interval():
    with pytest.raises(ValueError, match="min_val"):
        nn.hard_tanh(np.zeros(2), 1.0, -1.0)


# --- PyTorch parity ------------------------------------------------------------------------------


def torch_cases():
    torch = pytest.importorskip("torch")
    F = torch.nn.functional
    return {
        "relu": (nn.relu, F.relu),
        "relu6": (nn.relu6, F.relu6),
        "leaky_relu": (lambda x: nn.leaky_relu(x, 0.2), lambda t: F.leaky_relu(t, 0.2)),
        "elu": (lambda x: nn.elu(x, 0.7), lambda t: F.elu(t, 0.7)),
        "selu": (nn.selu, F.selu),
        "gelu": (nn.gelu, F.gelu),
        "gelu_tanh": (lambda x: nn.gelu(x, approximate=True), lambda t: F.gelu(t, approximate="tanh")),
        "sigmoid": (nn.sigmoid, torch.sigmoid),
        "log_sigmoid": (nn.log_sigmoid, F.logsigmoid),
        "tanh": (nn.tanh, torch.tanh),
        "softplus": (nn.softplus, F.softplus),
        "silu": (nn.silu, F.silu),
        "hard_tanh": (nn.hard_tanh, F.hardtanh),
        "softmax": (nn.softmax, lambda t: F.softmax(t, dim=-1)),
        "log_softmax": (nn.log_softmax, lambda t: F.log_softmax(t, dim=-1)),
        "logsumexp": (lambda x: nn.logsumexp(x, axis=-1), lambda t: torch.logsumexp(t, dim=-1)),
    }


TORCH_NAMES = ["relu", "relu6", "leaky_relu", "elu", "selu", "gelu", "gelu_tanh", "sigmoid", "log_sigmoid",
               "tanh", "softplus", "silu", "hard_tanh", "softmax", "log_softmax", "logsumexp"]


@pytest.mark.parametrize("name", TORCH_NAMES)
def test_values_and_gradients_match_pytorch_in_float64(name):
    torch = pytest.importorskip("torch")
    ours, theirs = torch_cases()[name]
    # a grid over [-5, 5] that includes every kink (0, 6, +-1) exactly
    x = np.concatenate([np.linspace(-5.0, 5.0, 201), [6.0, 7.5, -7.5]]).reshape(12, 17)
    t = torch.tensor(x, requires_grad=True)
    out = theirs(t)
    weights = np.random.default_rng(0).standard_normal(out.shape)
    (out * torch.tensor(weights)).sum().backward()
    y = ours(x)
    g = fn.grad(lambda v: fnp.sum(ours(v) * weights))(x)
    np.testing.assert_allclose(y, out.detach().numpy(), rtol=1e-6, atol=1e-12)
    np.testing.assert_allclose(g, t.grad.numpy(), rtol=1e-6, atol=1e-12)


@pytest.mark.parametrize("name", ["sigmoid", "log_sigmoid", "softplus", "softmax", "log_softmax", "silu",
                                  "gelu", "gelu_tanh", "elu", "selu", "tanh"])
def test_large_inputs_match_pytorch_in_float32(name):
    torch = pytest.importorskip("torch")
    ours, theirs = torch_cases()[name]
    x = np.array([[-1e4, -100.0, -20.0, 0.0, 20.0, 100.0, 1e4]], np.float32)
    t = torch.tensor(x, requires_grad=True)
    theirs(t).sum().backward()
    g = fn.grad(lambda v: fnp.sum(ours(v)))(x)
    np.testing.assert_allclose(ours(x), theirs(torch.tensor(x)).numpy(), rtol=1e-6, atol=1e-6)
    np.testing.assert_allclose(g, t.grad.numpy(), rtol=1e-5, atol=1e-6)


# --- activations as layers -----------------------------------------------------------------------

LAYERS = [
    (nn.Relu, nn.relu), (nn.Relu6, nn.relu6), (nn.LeakyRelu, nn.leaky_relu), (nn.Elu, nn.elu),
    (nn.Selu, nn.selu), (nn.Gelu, nn.gelu), (nn.Sigmoid, nn.sigmoid), (nn.LogSigmoid, nn.log_sigmoid),
    (nn.Tanh, nn.tanh), (nn.Softplus, nn.softplus), (nn.Silu, nn.silu), (nn.Swish, nn.swish),
    (nn.HardTanh, nn.hard_tanh), (nn.Softmax, nn.softmax), (nn.LogSoftmax, nn.log_softmax),
]


@pytest.mark.parametrize("layer, f", LAYERS, ids=[repr(layer) for layer, _ in LAYERS])
def test_activation_layers_apply_their_function_and_have_no_params(layer, f):
    x = np.linspace(-3, 3, 12).reshape(3, 4)
    for made in (layer, layer()):
        out_shape, params = made.init(random.key(0), (-1, 4))
        assert out_shape == (-1, 4) and params == {}
        np.testing.assert_array_equal(made.apply(params, x), f(x))


def test_configured_activation_layers():
    x = np.linspace(-3, 3, 12).reshape(3, 4)
    np.testing.assert_array_equal(nn.LeakyRelu(0.2).apply({}, x), nn.leaky_relu(x, 0.2))
    np.testing.assert_array_equal(nn.LeakyRelu(negative_slope=0.2).apply({}, x), nn.leaky_relu(x, 0.2))
    np.testing.assert_array_equal(nn.Gelu(approximate=True).apply({}, x), nn.gelu(x, approximate=True))
    np.testing.assert_array_equal(nn.Softmax(axis=0).apply({}, x), nn.softmax(x, axis=0))
    np.testing.assert_array_equal(nn.HardTanh(-2.0, 2.0).apply({}, x), nn.hard_tanh(x, -2.0, 2.0))
    assert repr(nn.LeakyRelu(0.2)) == "LeakyRelu(negative_slope=0.2)"
    with pytest.raises(TypeError, match="Relu takes at most 0"):
        nn.Relu(0.1)
    with pytest.raises(TypeError, match="unexpected"):
        nn.Softmax(dim=1)


def test_activation_layer_names_in_a_model():
    model = nn.serial(nn.Dense(3), nn.Gelu, nn.Dense(3), nn.LeakyRelu(0.1), nn.Softmax)
    _, params = model.init(random.key(0), (-1, 2))
    assert sorted(params) == ["dense_0", "dense_2", "gelu_1", "leaky_relu_3", "softmax_4"]
