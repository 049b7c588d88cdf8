"""GroupNorm and RMSNorm: against hand-written NumPy always, against PyTorch's layers with the
weights copied across where PyTorch is installed; derivatives in both modes; bad input."""
import numpy as np
import pytest

import funcnn as fn
import funcnn.numpy as fnp
from funcnn import nn, random
from funcnn.testing import check_grads

RNG = np.random.default_rng(0)


def group_norm_by_hand(x, groups, scale, bias, eps):
    n, c = x.shape[:2]
    g = x.reshape(n, groups, -1)
    y = (g - g.mean(-1, keepdims=True)) / np.sqrt(g.var(-1, keepdims=True) + eps)
    shape = (1, c) + (1,) * (x.ndim - 2)
    return y.reshape(x.shape) * scale.reshape(shape) + bias.reshape(shape)


def rms_norm_by_hand(x, scale, eps):
    return x / np.sqrt((x ** 2).mean(-1, keepdims=True) + eps) * scale


@pytest.mark.parametrize("shape, groups", [((2, 6, 5), 3), ((3, 4, 2, 2), 1), ((2, 4, 3, 3), 4), ((2, 4), 2)])
def test_group_norm_matches_the_formula(shape, groups):
    x = RNG.standard_normal(shape) * 3 + 1
    scale, bias = RNG.standard_normal(shape[1]), RNG.standard_normal(shape[1])
    np.testing.assert_allclose(nn.group_norm(x, groups, scale, bias), group_norm_by_hand(x, groups, scale, bias, 1e-5),
                               rtol=1e-12, atol=1e-12)
    layer = nn.GroupNorm(groups, dtype=np.float64)
    out_shape, params = layer.init(random.key(0), (-1,) + shape[1:])
    assert out_shape == (-1,) + shape[1:]
    params = {"scale": scale, "bias": bias}
    np.testing.assert_allclose(layer.apply(params, x), group_norm_by_hand(x, groups, scale, bias, 1e-5), rtol=1e-12)


def test_rms_norm_matches_the_formula_and_its_default_eps():
    x = RNG.standard_normal((3, 5)).astype(np.float32)
    scale = RNG.standard_normal(5).astype(np.float32)
    got = nn.rms_norm(x, scale)
    assert got.dtype == np.float32
    np.testing.assert_allclose(got, rms_norm_by_hand(x, scale, np.finfo(np.float32).eps), rtol=1e-6)
    layer = nn.RMSNorm(eps=1e-3, dtype=np.float64)
    _, params = layer.init(random.key(0), (-1, 5))
    np.testing.assert_array_equal(params["scale"], np.ones(5))
    x64 = x.astype(np.float64)
    np.testing.assert_allclose(layer.apply(params, x64), rms_norm_by_hand(x64, 1.0, 1e-3), rtol=1e-12)


def test_derivatives_in_both_modes():
    x = RNG.standard_normal((2, 4, 3))
    scale, bias = RNG.standard_normal(4), RNG.standard_normal(4)
    check_grads(lambda x, s, b: nn.group_norm(x, 2, s, b), (x, scale, bias), order=2, modes=("fwd", "rev"))
    check_grads(lambda x, s: nn.rms_norm(x, s, eps=1e-6), (x, RNG.standard_normal(3)), order=2, modes=("fwd", "rev"))


def test_against_pytorch():
    torch = pytest.importorskip("torch")
    x = RNG.standard_normal((2, 6, 4, 4))
    gn = torch.nn.GroupNorm(3, 6).double()
    with torch.no_grad():
        gn.weight.copy_(torch.tensor(RNG.standard_normal(6)))
        gn.bias.copy_(torch.tensor(RNG.standard_normal(6)))
    xt = torch.tensor(x, requires_grad=True)
    yt = gn(xt)
    (yt ** 3).sum().backward()
    params = {"scale": gn.weight.detach().numpy(), "bias": gn.bias.detach().numpy()}

    def loss(params, x):
        return fnp.sum(nn.GroupNorm(3).apply(params, x) ** 3)

    np.testing.assert_allclose(nn.GroupNorm(3).apply(params, x), yt.detach().numpy(), rtol=1e-10, atol=1e-12)
    g_params, g_x = fn.grad(loss, argnums=(0, 1))(params, x)
    np.testing.assert_allclose(g_x, xt.grad.numpy(), rtol=1e-9, atol=1e-10)
    np.testing.assert_allclose(g_params["scale"], gn.weight.grad.numpy(), rtol=1e-9, atol=1e-10)
    np.testing.assert_allclose(g_params["bias"], gn.bias.grad.numpy(), rtol=1e-9, atol=1e-10)

    rms = torch.nn.RMSNorm(5).double()
    with torch.no_grad():
        rms.weight.copy_(torch.tensor(RNG.standard_normal(5)))
    x = RNG.standard_normal((3, 5))
    xt = torch.tensor(x, requires_grad=True)
    (rms(xt) ** 3).sum().backward()
    w = rms.weight.detach().numpy()
    np.testing.assert_allclose(nn.rms_norm(x, w), rms(torch.tensor(x)).detach().numpy(), rtol=1e-10)
    np.testing.assert_allclose(fn.grad(lambda x: fnp.sum(nn.rms_norm(x, w) ** 3))(x), xt.grad.numpy(), rtol=1e-9)


def test_under_jit_and_vmap():
    x = RNG.standard_normal((3, 2, 4, 5))
    f = lambda x: nn.group_norm(x, 2)  # noqa: E731
    np.testing.assert_allclose(fn.jit(f)(x), f(x), rtol=1e-12)
    np.testing.assert_allclose(fn.vmap(f)(x), np.stack([f(e) for e in x]), rtol=1e-12)


@pytest.mark.parametrize("call, words", [
    (lambda: nn.group_norm(np.ones((2, 6, 3)), 4), ["group_norm", "num_groups=4", "6 channels"]),
    (lambda: nn.group_norm(np.ones(6), 2), ["group_norm", "(batch, channels, ...)"]),
    (lambda: nn.group_norm(np.ones((2, 4)), 2, np.ones(3)), ["scale", "(4,)", "(3,)"]),
    (lambda: nn.group_norm(np.ones((2, 4)), 1.5), ["num_groups", "1.5"]),
    (lambda: nn.GroupNorm(3).init(random.key(0), (-1, 4, 2)), ["GroupNorm", "num_groups=3", "(-1, 4, 2)"]),
    (lambda: nn.rms_norm(np.ones((2, 4)), np.ones(3)), ["rms_norm", "scale", "(4,)", "(3,)"]),
    (lambda: nn.RMSNorm(eps=-1.0), ["RMSNorm", "eps"]),
])
def test_bad_input_is_named(call, words):
    with pytest.raises(ValueError) as info:
        call()
    for word in words:
        assert word in str(info.value), f"{word!r} not in {info.value}"
