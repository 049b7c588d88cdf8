"""The functional forms of the layers, and a model written as a plain function of a params
dict with them."""
import numpy as np
import pytest

import funcnn as fn
import funcnn.numpy as fnp
from funcnn import losses, nn, random
from funcnn.testing import check_grads


def rand(*shape, seed=1):
    return np.random.default_rng(seed).standard_normal(shape)


def test_dense():
    x, w, b = rand(4, 3), rand(3, 2, seed=2), rand(2, seed=3)
    np.testing.assert_allclose(nn.dense(x, w, b), x @ w + b)
    np.testing.assert_allclose(nn.dense(x, w), x @ w)
    check_grads(nn.dense, (x, w, b), order=2)
    with pytest.raises(ValueError, match=r"dense: the input x has shape \(4, 3\).*w has shape \(4, 2\)"):
        nn.dense(x, rand(4, 2))
    with pytest.raises(ValueError, match=r"dense: b must have shape \(2,\)"):
        nn.dense(x, w, np.zeros(3))


def test_dropout():
    x = rand(3, 4)
    assert nn.dropout(x, 0.5, train=False) is x
    y = nn.dropout(x, 0.5, key=random.key(0))
    np.testing.assert_allclose(y[y != 0], 2 * x[y != 0])
    with pytest.raises(ValueError, match="needs a PRNG key"):
        nn.dropout(x, 0.5)
    with pytest.raises(ValueError, match=r"\[0, 1\]"):
        nn.dropout(x, -0.1, key=random.key(0))
    with pytest.raises(TypeError, match="rate"):
        nn.dropout(x, None, key=random.key(0))


def test_batch_norm_train_and_eval():
    x = rand(6, 3, 2)
    mean, var = np.zeros(3), np.ones(3)
    y, new_mean, new_var = nn.batch_norm(x, mean, var, train=True)
    m, v = x.mean(axis=(0, 2)), x.var(axis=(0, 2))
    np.testing.assert_allclose(y, (x - m[:, None]) / np.sqrt(v[:, None] + 1e-5))
    np.testing.assert_allclose(new_mean, 0.1 * m)
    np.testing.assert_allclose(new_var, 0.9 + 0.1 * v * 12 / 11)
    y, same_mean, same_var = nn.batch_norm(x, new_mean, new_var, scale=np.full(3, 2.0), bias=np.ones(3))
    assert same_mean is new_mean and same_var is new_var
    np.testing.assert_allclose(y, 2 * (x - new_mean[:, None]) / np.sqrt(new_var[:, None] + 1e-5) + 1)
    y, none_mean, none_var = nn.batch_norm(x, train=True)
    assert none_mean is None and none_var is None
    check_grads(lambda x, s, b: nn.batch_norm(x, scale=s, bias=b, train=True)[0],
                (x, rand(3, seed=2), rand(3, seed=3)), order=2)


def test_batch_norm_channels_last_and_errors():
    x = rand(5, 4)
    y, _, _ = nn.batch_norm(x, train=True, axis=-1)
    np.testing.assert_allclose(y.mean(axis=0), 0, atol=1e-12)
    with pytest.raises(ValueError, match=r"mean must have shape \(3,\)"):
        nn.batch_norm(rand(2, 3), np.zeros(4), np.ones(3), train=True)
    with pytest.raises(ValueError, match="mean and var"):
        nn.batch_norm(rand(2, 3))
    with pytest.raises(ValueError, match="channels"):
        nn.batch_norm(rand(3), train=True)


def test_layer_norm():
    x = rand(2, 3, 4)
    y = nn.layer_norm(x)
    np.testing.assert_allclose(y, (x - x.mean(-1, keepdims=True)) / np.sqrt(x.var(-1, keepdims=True) + 1e-5))
    y = nn.layer_norm(x, axis=(1, 2), eps=0.0)
    np.testing.assert_allclose(y.reshape(2, -1).std(axis=1), 1.0)
    check_grads(lambda x, s, b: nn.layer_norm(x, s, b), (x, rand(4, seed=2), rand(4, seed=3)), order=2)
    with pytest.raises(ValueError, match="repeated"):
        nn.layer_norm(x, axis=(1, -2))


def test_embedding_and_flatten():
    table = rand(5, 2)
    np.testing.assert_array_equal(nn.embedding(np.array([4, 0]), table), table[[4, 0]])
    with pytest.raises(ValueError, match=r"embedding: ids must lie in \[0, 5\)"):
        nn.embedding(np.array([-1]), table)
    with pytest.raises(ValueError, match="table"):
        nn.embedding(np.array([0]), np.ones(3))
    assert nn.flatten(np.zeros((0, 3, 2))).shape == (0, 6)


def test_a_model_as_a_plain_function_of_a_params_dict():
    keys = random.split(random.key(0), 2)
    params = {
        "hidden": {"w": nn.initializers.he_normal()(keys[0], (4, 8), np.float64), "b": np.zeros(8)},
        "out": {"w": nn.initializers.glorot_normal()(keys[1], (8, 3), np.float64), "b": np.zeros(3)},
        "norm": {"scale": np.ones(8), "bias": np.zeros(8)},
    }

    def model(params, x, key=None, train=False):
        h = nn.relu(nn.dense(x, params["hidden"]["w"], params["hidden"]["b"]))
        h = nn.layer_norm(h, params["norm"]["scale"], params["norm"]["bias"])
        h = nn.dropout(h, 0.25, key=key, train=train)
        return nn.dense(h, params["out"]["w"], params["out"]["b"])

    x, labels = rand(16, 4), np.arange(16) % 3
    grads = fn.grad(lambda p: losses.cross_entropy(model(p, x, random.key(1), True), labels))(params)
    assert set(grads) == set(params) and grads["hidden"]["w"].shape == (4, 8)
    check_grads(lambda p: model(p, x), (params,), order=1)
    before = float(losses.cross_entropy(model(params, x), labels))
    for _ in range(50):
        grads = fn.grad(lambda p: losses.cross_entropy(model(p, x), labels))(params)
        params = fn.tree_util.tree_map(lambda p, g: p - 0.1 * g, params, grads)
    assert float(losses.cross_entropy(model(params, x), labels)) < 0.5 * before
    assert fnp.shape(model(params, x)) == (16, 3)
