"""Convolution and pooling layers: predicted shapes for 1-d, 2-d and 3-d inputs with every
geometry option, parameter names and shapes, values against PyTorch's layers, gradients by
check_grads, and errors naming the layer."""
import numpy as np
import pytest

from funcnn import nn, random, tree_util
from funcnn.testing import check_grads

KEY = random.key(0)


def rand(*shape, seed=1):
    return np.random.default_rng(seed).standard_normal(shape)


def shapes_of(tree):
    return tree_util.tree_map(np.shape, tree)


def run(layer, x):
    out_shape, params = layer.init(KEY, (-1,) + x.shape[1:])
    y = layer.apply(params, x)
    assert out_shape == (-1,) + y.shape[1:], f"init predicted {out_shape}, apply gave {y.shape}"
    return params, y


CONVS = [
    (dict(out_channels=4, kernel_size=3), (2, 3, 9)),
    (dict(out_channels=4, kernel_size=(3,), stride=2, padding=1), (2, 3, 10)),
    (dict(out_channels=4, kernel_size=3, padding="same", dilation=2), (1, 2, 7, 8)),
    (dict(out_channels=6, kernel_size=(3, 2), stride=(2, 1), padding=(1, 0), groups=3), (2, 3, 7, 6)),
    (dict(out_channels=4, kernel_size=3, padding="valid"), (1, 2, 5, 5)),
    (dict(out_channels=2, kernel_size=2, stride=2), (1, 2, 4, 4, 6)),
    (dict(out_channels=4, kernel_size=1, use_bias=False), (3, 5, 4, 4)),
]


@pytest.mark.parametrize("kwargs, x_shape", CONVS, ids=[str(i) for i in range(len(CONVS))])
def test_conv_shapes_and_params(kwargs, x_shape):
    layer = nn.Conv(**kwargs)
    params, y = run(layer, rand(*x_shape).astype(np.float32))
    n = len(x_shape) - 2
    k = kwargs["kernel_size"]
    k = (k,) * n if isinstance(k, int) else k
    expected = {"w": (kwargs["out_channels"], x_shape[1] // kwargs.get("groups", 1)) + tuple(k)}
    if kwargs.get("use_bias", True):
        expected["b"] = (kwargs["out_channels"],)
    assert shapes_of(params) == expected
    assert y.dtype == np.float32


@pytest.mark.parametrize("kwargs, x_shape", CONVS, ids=[str(i) for i in range(len(CONVS))])
def test_conv_matches_pytorch(kwargs, x_shape):
    torch = pytest.importorskip("torch")
    F = torch.nn.functional
    layer = nn.Conv(**kwargs, dtype=np.float64)
    x = rand(*x_shape)
    params, y = run(layer, x)
    conv = {1: F.conv1d, 2: F.conv2d, 3: F.conv3d}[len(x_shape) - 2]
    b = params.get("b")
    expected = conv(torch.tensor(x), torch.tensor(params["w"]), None if b is None else torch.tensor(b),
                    stride=kwargs.get("stride", 1), padding=kwargs.get("padding", 0),
                    dilation=kwargs.get("dilation", 1), groups=kwargs.get("groups", 1))
    np.testing.assert_allclose(y, expected.numpy(), rtol=1e-10, atol=1e-12)


def test_conv_gradients():
    layer = nn.Conv(4, (3, 3), stride=2, padding=1, groups=2, dtype=np.float64)
    _, params = layer.init(KEY, (-1, 2, 5, 5))
    check_grads(lambda p, x: layer.apply(p, x), (params, rand(2, 2, 5, 5)), order=2)
    layer1d = nn.Conv(3, 2, dilation=2, dtype=np.float64)
    _, params = layer1d.init(KEY, (-1, 2, 6))
    check_grads(lambda p, x: layer1d.apply(p, x), (params, rand(2, 2, 6)), order=2)


def test_conv_errors_name_the_layer_argument_and_shapes():
    model = nn.serial(nn.Conv(8, 3, padding=1), nn.Relu, nn.Conv(4, 3))
    _, params = model.init(KEY, (-1, 3, 8, 8))
    with pytest.raises(ValueError) as err:
        model.apply(params, np.ones((2, 1, 8, 8), np.float32))
    message = str(err.value)
    assert "Conv layer 'conv_0'" in message and "params['conv_0']" in message
    assert "(2, 1, 8, 8)" in message and "(8, 3, 3, 3)" in message and "inputs with 3 channels" in message
    with pytest.raises(ValueError, match=r"Conv layer 'conv_0'.*\(N, C, H, W\).*\(2, 3, 8\)"):
        model.apply(params, np.ones((2, 3, 8), np.float32))
    with pytest.raises(ValueError, match=r"input_shape must be \(batch, channels, \*spatial\) \(4 dimensions\)"):
        nn.Conv(2, (3, 3)).init(KEY, (-1, 3, 8))
    with pytest.raises(ValueError, match="too small"):
        nn.Conv(2, 5).init(KEY, (-1, 3, 4, 4))
    with pytest.raises(ValueError, match="divisible by groups"):
        nn.Conv(4, 3, groups=2).init(KEY, (-1, 3, 8, 8))
    with pytest.raises(ValueError, match="stride 1"):
        nn.Conv(4, 3, stride=2, padding="same").init(KEY, (-1, 3, 8, 8))
    with pytest.raises(ValueError, match="padding"):
        nn.Conv(4, 3, padding="full")


TRANSPOSED = [
    (dict(out_channels=3, kernel_size=3, stride=2), (2, 4, 5)),
    (dict(out_channels=4, kernel_size=4, stride=2, padding=1), (1, 2, 5, 6)),
    (dict(out_channels=4, kernel_size=3, stride=2, padding=1, output_padding=1, groups=2), (1, 4, 3, 3)),
    (dict(out_channels=2, kernel_size=2, stride=2, dilation=1), (1, 3, 2, 2, 2)),
]


@pytest.mark.parametrize("kwargs, x_shape", TRANSPOSED, ids=[str(i) for i in range(len(TRANSPOSED))])
def test_conv_transpose_shapes_params_and_pytorch(kwargs, x_shape):
    torch = pytest.importorskip("torch")
    F = torch.nn.functional
    layer = nn.ConvTranspose(**kwargs, dtype=np.float64)
    x = rand(*x_shape)
    params, y = run(layer, x)
    n = len(x_shape) - 2
    groups = kwargs.get("groups", 1)
    assert shapes_of(params) == {"w": (x_shape[1], kwargs["out_channels"] // groups) + (kwargs["kernel_size"],) * n,
                                 "b": (kwargs["out_channels"],)}
    conv = {1: F.conv_transpose1d, 2: F.conv_transpose2d, 3: F.conv_transpose3d}[n]
    expected = conv(torch.tensor(x), torch.tensor(params["w"]), torch.tensor(params["b"]),
                    stride=kwargs.get("stride", 1), padding=kwargs.get("padding", 0),
                    output_padding=kwargs.get("output_padding", 0), groups=groups,
                    dilation=kwargs.get("dilation", 1))
    np.testing.assert_allclose(y, expected.numpy(), rtol=1e-10, atol=1e-12)


def test_conv_transpose_gradients_and_errors():
    layer = nn.ConvTranspose(2, 3, stride=2, padding=1, dtype=np.float64)
    _, params = layer.init(KEY, (-1, 3, 3, 3))
    check_grads(lambda p, x: layer.apply(p, x), (params, rand(1, 3, 3, 3)), order=2)
    with pytest.raises(ValueError, match=r"ConvTranspose layer.*2 channels.*inputs with 3 channels"):
        layer.apply(params, rand(1, 2, 3, 3))


POOLS = [
    (nn.MaxPool, dict(kernel_size=2), (2, 3, 8)),
    (nn.MaxPool, dict(kernel_size=3, stride=2, padding=1), (1, 2, 7, 7)),
    (nn.MaxPool, dict(kernel_size=(2, 2, 2)), (1, 2, 4, 4, 4)),
    (nn.AvgPool, dict(kernel_size=2), (2, 3, 8, 6)),
    (nn.AvgPool, dict(kernel_size=3, stride=1, padding=1, count_include_pad=False), (1, 2, 5, 5)),
    (nn.AvgPool, dict(kernel_size=(2,), stride=1), (2, 2, 5)),
]


@pytest.mark.parametrize("ctor, kwargs, x_shape", POOLS, ids=[str(i) for i in range(len(POOLS))])
def test_pools_shapes_no_params_and_pytorch(ctor, kwargs, x_shape):
    torch = pytest.importorskip("torch")
    F = torch.nn.functional
    layer = ctor(**kwargs)
    x = rand(*x_shape)
    params, y = run(layer, x)
    assert params == {}
    n = len(x_shape) - 2
    name = "max" if ctor is nn.MaxPool else "avg"
    fn = getattr(F, f"{name}_pool{n}d")
    expected = fn(torch.tensor(x), **kwargs)
    np.testing.assert_allclose(y, expected.numpy(), rtol=1e-12)


@pytest.mark.parametrize("layer", [nn.MaxPool(2), nn.AvgPool(3, stride=2, padding=1)], ids=["max", "avg"])
def test_pool_gradients(layer):
    x = np.random.default_rng(0).permutation(2 * 2 * 6 * 6).reshape(2, 2, 6, 6) / 10.0  # no ties
    check_grads(lambda x: layer.apply({}, x), (x,), order=2)


def test_global_avg_pool():
    for layer in (nn.GlobalAvgPool, nn.GlobalAvgPool()):
        params, y = run(layer, rand(2, 3, 4, 5))
        assert params == {} and y.shape == (2, 3)
    x = rand(2, 3, 4)
    np.testing.assert_allclose(nn.GlobalAvgPool.apply({}, x), x.mean(axis=2))
    check_grads(lambda x: nn.GlobalAvgPool.apply({}, x), (rand(2, 2, 3, 3),), order=2)
    with pytest.raises(ValueError, match="spatial"):
        nn.GlobalAvgPool.init(KEY, (-1, 3))


def test_pool_errors():
    with pytest.raises(ValueError, match=r"MaxPool layer 'max_pool_1'.*\(batch, channels, \*spatial\)"):
        nn.serial(nn.Flatten, nn.MaxPool(2)).init(KEY, (-1, 3, 4, 4))
    with pytest.raises(ValueError, match="too small"):
        nn.MaxPool(5).init(KEY, (-1, 1, 4, 4))
    with pytest.raises(ValueError, match=r"AvgPool layer.*\(N, C, H, W\)"):
        nn.AvgPool((2, 2)).apply({}, rand(2, 3, 4))


def test_a_small_cnn_end_to_end():
    model = nn.serial(
        nn.Conv(4, 3, padding=1, dtype=np.float64), nn.BatchNorm(dtype=np.float64), nn.Relu, nn.MaxPool(2),
        nn.Conv(4, 3, padding="same", dtype=np.float64), nn.Gelu, nn.AvgPool(2),
        nn.Flatten, nn.Dense(3, dtype=np.float64))
    out_shape, params, state = model.init_with_state(KEY, (-1, 1, 8, 8))
    assert out_shape == (-1, 3)
    x = rand(2, 1, 8, 8)
    check_grads(lambda p: model.apply(p, x, train=True), (params,), order=1)
    y, new_state = model.apply(params, x, train=True, state=state)
    assert y.shape == (2, 3) and new_state["batch_norm_1"]["mean"].shape == (4,)
