"""One test group per layer: the output shape init predicted, parameter names and shapes,
gradients by check_grads on small float64 sizes, and errors naming the layer, the argument
and the shapes."""
import numpy as np
import pytest

import funcnn as fn
import funcnn.numpy as fnp
from funcnn import nn, random, tree_util
from funcnn.testing import check_grads

KEY = random.key(0)


def shapes_of(tree):
    return tree_util.tree_map(np.shape, tree)


def fits(predicted, actual):
    """The shape init predicted (with -1 for the batch) against the actual one."""
    return len(predicted) == len(actual) and all(p in (-1, a) for p, a in zip(predicted, actual))


def rand(*shape, seed=1):
    return np.random.default_rng(seed).standard_normal(shape)


# --- Dense -----------------------------------------------------------------------------------------


def test_dense_shapes_names_and_value():
    layer = nn.Dense(4)
    out_shape, params = layer.init(KEY, (-1, 3))
    assert out_shape == (-1, 4)
    assert shapes_of(params) == {"w": (3, 4), "b": (4,)}
    assert params["w"].dtype == params["b"].dtype == np.float32
    x = rand(5, 3).astype(np.float32)
    y = layer.apply(params, x)
    assert fits(out_shape, y.shape) and y.dtype == np.float32
    np.testing.assert_allclose(y, x @ params["w"] + params["b"], rtol=1e-6)


def test_dense_accepts_leading_axes_and_no_bias():
    layer = nn.Dense(2, use_bias=False)
    out_shape, params = layer.init(KEY, (-1, 7, 3))
    assert out_shape == (-1, 7, 2) and list(params) == ["w"]
    assert layer.apply(params, rand(4, 7, 3)).shape == (4, 7, 2)


def test_dense_gradients():
    layer = nn.Dense(3, dtype=np.float64)
    _, params = layer.init(KEY, (-1, 4))
    check_grads(lambda p, x: layer.apply(p, x), (params, rand(2, 4)), order=2)


def test_dense_in_a_model_rejects_wrong_width_naming_the_layer():
    model = nn.serial(nn.Dense(8), nn.Relu, nn.Dense(3))
    _, params = model.init(KEY, (-1, 5))
    with pytest.raises(ValueError) as err:
        model.apply(params, np.ones((2, 6), np.float32))
    message = str(err.value)
    assert "Dense layer 'dense_0'" in message and "params['dense_0']" in message
    assert "(2, 6)" in message and "(5, 8)" in message and "input x" in message


def test_dense_rejects_a_scalar_and_suggests_flatten_for_feature_maps():
    _, params = nn.Dense(3).init(KEY, (-1, 4))
    with pytest.raises(ValueError, match="scalar"):
        nn.Dense(3).apply(params, np.float32(1.0))
    with pytest.raises(ValueError, match=r"Flatten\(\)"):
        nn.Dense(3).apply(params, np.ones((2, 1, 5, 5)))


def test_dense_init_errors():
    with pytest.raises(ValueError, match="out_features"):
        nn.Dense(0)
    with pytest.raises(ValueError, match="in_features"):
        nn.Dense(3).init(KEY, (-1, -1))
    with pytest.raises(ValueError, match="input_shape"):
        nn.Dense(3).init(KEY, "batch")


def test_missing_params_entry_is_named():
    model = nn.serial(nn.Dense(2), nn.Dense(2))
    _, params = model.init(KEY, (-1, 2))
    del params["dense_1"]["b"]
    with pytest.raises(ValueError, match=r"params\['dense_1'\] has no entry 'b'"):
        model.apply(params, np.ones((1, 2)))
    with pytest.raises(ValueError, match="has no entry 'dense_0'"):
        model.apply({}, np.ones((1, 2)))


# --- Embedding -------------------------------------------------------------------------------------


def test_embedding_shapes_names_and_lookup():
    layer = nn.Embedding(10, 3)
    out_shape, params = layer.init(KEY, (-1, 5))
    assert out_shape == (-1, 5, 3) and shapes_of(params) == {"embeddings": (10, 3)}
    ids = np.array([[0, 9, 2, 2, 1]])
    y = layer.apply(params, ids)
    assert fits(out_shape, y.shape)
    np.testing.assert_array_equal(y, params["embeddings"][ids])


def test_embedding_gradients_accumulate_repeated_ids():
    layer = nn.Embedding(4, 2, dtype=np.float64)
    _, params = layer.init(KEY, (-1, 3))
    ids = np.array([[1, 1, 3]])
    check_grads(lambda p: layer.apply(p, ids), (params,), order=2)
    g = fn.grad(lambda p: fnp.sum(layer.apply(p, ids)))(params)
    np.testing.assert_array_equal(g["embeddings"], [[0, 0], [2, 2], [0, 0], [1, 1]])


def test_embedding_rejects_out_of_range_and_float_ids():
    model = nn.serial(nn.Embedding(5, 2), nn.Flatten)
    _, params = model.init(KEY, (-1, 3))
    with pytest.raises(ValueError, match=r"Embedding layer 'embedding_0'.*\[0, 5\)"):
        model.apply(params, np.array([[0, 5, 1]]))
    with pytest.raises(ValueError, match="integers"):
        model.apply(params, np.array([[0.0, 1.0, 1.0]]))


# --- Flatten and Identity --------------------------------------------------------------------------


def test_flatten():
    for layer in (nn.Flatten, nn.Flatten()):
        out_shape, params = layer.init(KEY, (-1, 2, 3, 4))
        assert out_shape == (-1, 24) and params == {}
        x = rand(5, 2, 3, 4)
        np.testing.assert_array_equal(layer.apply(params, x), x.reshape(5, 24))
    check_grads(lambda x: nn.Flatten.apply({}, x), (rand(2, 3, 2),), order=2)
    with pytest.raises(ValueError, match="known"):
        nn.Flatten.init(KEY, (-1, -1, 3))


def test_identity():
    out_shape, params = nn.Identity.init(KEY, (-1, 3))
    x = rand(2, 3)
    assert out_shape == (-1, 3) and params == {} and nn.Identity().apply(params, x) is x


# --- Dropout ---------------------------------------------------------------------------------------


def test_dropout_is_the_identity_in_evaluation_mode():
    layer = nn.Dropout(0.5)
    out_shape, params = layer.init(KEY, (-1, 8))
    assert out_shape == (-1, 8) and params == {}
    x = rand(4, 8)
    assert layer.apply(params, x) is x
    assert layer.apply(params, x, key=KEY) is x


def test_dropout_drops_at_its_rate_and_rescales():
    x = np.ones((200, 500), np.float32)
    y = nn.Dropout(0.3).apply({}, x, key=random.key(3), train=True)
    assert y.dtype == np.float32
    assert set(np.unique(y).tolist()) == {0.0, np.float32(1 / 0.7).item()}
    assert np.mean(y == 0) == pytest.approx(0.3, abs=0.01)
    assert y.mean() == pytest.approx(1.0, abs=0.02)


def test_dropout_masks_are_functions_of_the_key():
    layer = nn.Dropout(0.5)
    x = rand(4, 16)
    a = layer.apply({}, x, key=random.key(1), train=True)
    np.testing.assert_array_equal(a, layer.apply({}, x, key=random.key(1), train=True))
    assert not np.array_equal(a, layer.apply({}, x, key=random.key(2), train=True))


def test_dropout_gradient_is_the_scaled_mask():
    layer = nn.Dropout(0.25)
    x = rand(3, 5)
    key = random.key(7)
    y = layer.apply({}, x, key=key, train=True)
    g = fn.grad(lambda x: fnp.sum(layer.apply({}, x, key=key, train=True)))(x)
    np.testing.assert_allclose(g, np.where(y != 0, 1 / 0.75, 0.0))
    check_grads(lambda x: layer.apply({}, x, key=key, train=True), (x,), order=2)


def test_dropout_extreme_rates_and_errors():
    x = rand(2, 3)
    assert nn.Dropout(0.0).apply({}, x, train=True) is x
    np.testing.assert_array_equal(nn.Dropout(1.0).apply({}, x, key=KEY, train=True), np.zeros((2, 3)))
    with pytest.raises(ValueError, match=r"\[0, 1\]"):
        nn.Dropout(1.5)
    model = nn.serial(nn.Dense(3), nn.Dropout(0.5))
    _, params = model.init(KEY, (-1, 3))
    with pytest.raises(ValueError, match=r"Dropout layer 'dropout_1'.*needs a PRNG key"):
        model.apply(params, x, train=True)
    with pytest.raises(TypeError, match="train"):
        model.apply(params, x, train="yes")


# --- BatchNorm -------------------------------------------------------------------------------------


def test_batch_norm_shapes_names_and_state():
    layer = nn.BatchNorm()
    out_shape, params, state = layer.init_with_state(KEY, (-1, 3, 4, 4))
    assert out_shape == (-1, 3, 4, 4)
    assert shapes_of(params) == {"scale": (3,), "bias": (3,)}
    assert shapes_of(state) == {"mean": (3,), "var": (3,)}
    np.testing.assert_array_equal(state["mean"], np.zeros(3, np.float32))
    np.testing.assert_array_equal(state["var"], np.ones(3, np.float32))
    tree_util.tree_map(np.testing.assert_array_equal, layer.init(KEY, (-1, 3, 4, 4))[1], params)


def test_batch_norm_training_normalises_each_channel():
    layer = nn.BatchNorm()
    _, params, state = layer.init_with_state(KEY, (-1, 3, 5, 5))
    x = rand(8, 3, 5, 5) * np.array([1.0, 5.0, 0.5])[:, None, None] + np.array([3.0, -2.0, 0.0])[:, None, None]
    y, new_state = layer.apply(params, x, train=True, state=state)
    assert fits((-1, 3, 5, 5), y.shape)
    np.testing.assert_allclose(y.mean(axis=(0, 2, 3)), 0.0, atol=1e-6)
    np.testing.assert_allclose(y.var(axis=(0, 2, 3)), 1.0, rtol=1e-3)
    assert set(new_state) == {"mean", "var"}
    assert new_state["mean"].dtype == new_state["var"].dtype == np.float32


def test_batch_norm_evaluation_is_deterministic_and_uses_running_statistics():
    layer = nn.BatchNorm(dtype=np.float64)
    _, params, state = layer.init_with_state(KEY, (-1, 2))
    state = {"mean": np.array([1.0, -1.0]), "var": np.array([4.0, 0.25])}
    x = rand(5, 2)
    y1, s1 = layer.apply(params, x, state=state)
    y2, _ = layer.apply(params, x[:2], state=state)
    np.testing.assert_array_equal(y1[:2], y2)  # each example independent of the batch
    np.testing.assert_allclose(y1, (x - state["mean"]) / np.sqrt(state["var"] + 1e-5))
    assert s1 is state or all(s1[k] is state[k] for k in state)


def test_batch_norm_running_statistics_converge_to_the_data_moments():
    layer = nn.BatchNorm(momentum=0.9)
    _, params, state = layer.init_with_state(KEY, (-1, 2, 3))
    mean, std = np.array([2.0, -3.0]), np.array([0.5, 3.0])
    rng = np.random.default_rng(0)
    for _ in range(300):
        x = (rng.standard_normal((32, 2, 3)) * std[:, None] + mean[:, None]).astype(np.float32)
        _, state = layer.apply(params, x, train=True, state=state)
    np.testing.assert_allclose(state["mean"], mean, atol=0.1)
    np.testing.assert_allclose(state["var"], std ** 2, rtol=0.1)


def test_batch_norm_gradients_in_both_modes():
    layer = nn.BatchNorm(dtype=np.float64)
    _, params, state = layer.init_with_state(KEY, (-1, 2, 3))
    params = {"scale": np.array([1.5, 0.5]), "bias": np.array([0.1, -0.2])}
    state = {"mean": np.array([0.3, -0.1]), "var": np.array([2.0, 0.5])}
    x = rand(4, 2, 3)
    check_grads(lambda p, x: layer.apply(p, x, train=True), (params, x), order=2)
    check_grads(lambda p, x: layer.apply(p, x, state=state)[0], (params, x), order=2)


def test_batch_norm_state_carries_no_derivative_out_of_grad():
    model = nn.serial(nn.Dense(3), nn.BatchNorm())
    _, params, state = model.init_with_state(KEY, (-1, 2))

    def loss(params, state):
        y, state = model.apply(params, rand(6, 2).astype(np.float32), train=True, state=state)
        return fnp.sum(y ** 2), state

    (value, new_state), grads = fn.value_and_grad(loss, has_aux=True)(params, state)
    for leaf in tree_util.tree_leaves(new_state):
        assert type(leaf) is np.ndarray and leaf.dtype == np.float32


def test_batch_norm_errors_name_the_layer():
    model = nn.serial(nn.Dense(3), nn.BatchNorm())
    _, params, state = model.init_with_state(KEY, (-1, 2))
    with pytest.raises(ValueError, match=r"BatchNorm layer 'batch_norm_1'.*state"):
        model.apply(params, rand(4, 2))
    with pytest.raises(ValueError, match="more than one value per channel"):
        model.apply(params, rand(1, 2), train=True, state=state)
    with pytest.raises(ValueError, match=r"state\['batch_norm_1'\] has no entry 'var'"):
        model.apply(params, rand(4, 2), state={"dense_0": {}, "batch_norm_1": {"mean": np.zeros(3)}})
    with pytest.raises(ValueError, match="momentum"):
        nn.BatchNorm(momentum=1.0)
    with pytest.raises(ValueError, match="channels"):
        nn.BatchNorm().init(KEY, (-1,))


def test_batch_norm_training_without_state_returns_only_y():
    layer = nn.BatchNorm()
    _, params = layer.init(KEY, (-1, 3))
    y = layer.apply(params, rand(4, 3).astype(np.float32), train=True)
    assert y.shape == (4, 3)


def test_batch_norm_matches_pytorch():
    torch = pytest.importorskip("torch")
    F = torch.nn.functional
    layer = nn.BatchNorm(momentum=0.9, eps=1e-5, dtype=np.float64)
    _, params, state = layer.init_with_state(KEY, (-1, 3, 4, 4))
    params = {"scale": np.array([1.0, 2.0, 0.5]), "bias": np.array([0.0, -1.0, 0.3])}
    x = rand(6, 3, 4, 4) * 2 + 1
    running_mean, running_var = torch.zeros(3, dtype=torch.float64), torch.ones(3, dtype=torch.float64)
    for step in range(3):
        xs = x + step
        expected = F.batch_norm(torch.tensor(xs), running_mean, running_var, torch.tensor(params["scale"]),
                                torch.tensor(params["bias"]), training=True, momentum=0.1, eps=1e-5)
        y, state = layer.apply(params, xs, train=True, state=state)
        np.testing.assert_allclose(y, expected.numpy(), rtol=1e-10, atol=1e-12)
        np.testing.assert_allclose(state["mean"], running_mean.numpy(), rtol=1e-12)
        np.testing.assert_allclose(state["var"], running_var.numpy(), rtol=1e-12)
    expected = F.batch_norm(torch.tensor(x), running_mean, running_var, torch.tensor(params["scale"]),
                            torch.tensor(params["bias"]), training=False, eps=1e-5)
    y, _ = layer.apply(params, x, state=state)
    np.testing.assert_allclose(y, expected.numpy(), rtol=1e-10, atol=1e-12)


# --- LayerNorm -------------------------------------------------------------------------------------


def test_layer_norm_shapes_names_and_normalisation():
    layer = nn.LayerNorm()
    out_shape, params = layer.init(KEY, (-1, 6, 5))
    assert out_shape == (-1, 6, 5) and shapes_of(params) == {"scale": (5,), "bias": (5,)}
    x = rand(3, 6, 5) * 4 + 2
    y = layer.apply(params, x)
    np.testing.assert_allclose(y.mean(axis=-1), 0.0, atol=1e-6)
    np.testing.assert_allclose(y.var(axis=-1), 1.0, rtol=1e-3)


def test_layer_norm_over_several_axes_and_gradients():
    layer = nn.LayerNorm(axis=(-2, -1), dtype=np.float64)
    out_shape, params = layer.init(KEY, (-1, 3, 4))
    assert shapes_of(params) == {"scale": (3, 4), "bias": (3, 4)}
    params = {"scale": rand(3, 4, seed=2), "bias": rand(3, 4, seed=3)}
    check_grads(lambda p, x: layer.apply(p, x), (params, rand(2, 3, 4)), order=2)


def test_layer_norm_matches_pytorch():
    torch = pytest.importorskip("torch")
    x, scale, bias = rand(4, 7, 6), rand(6, seed=2), rand(6, seed=3)
    expected = torch.nn.functional.layer_norm(torch.tensor(x), (6,), torch.tensor(scale), torch.tensor(bias))
    y = nn.LayerNorm().apply({"scale": scale, "bias": bias}, x)
    np.testing.assert_allclose(y, expected.numpy(), rtol=1e-10, atol=1e-12)


def test_layer_norm_errors():
    with pytest.raises(ValueError, match="out of range"):
        nn.LayerNorm(axis=3).init(KEY, (-1, 4))
    with pytest.raises(ValueError, match="scale must have shape"):
        nn.LayerNorm().apply({"scale": np.ones(3), "bias": np.zeros(4)}, rand(2, 4))


# --- the layer type --------------------------------------------------------------------------------


def test_a_layer_unpacks_like_a_stax_pair():
    init_fn, apply_fn = nn.Dense(2)
    out_shape, params = init_fn(KEY, (-1, 3))
    assert apply_fn(params, rand(4, 3)).shape == (4, 2)


def test_a_layer_is_not_called_directly():
    with pytest.raises(TypeError, match=r"\.apply\(params, x\)"):
        nn.Dense(2)(np.ones(3))


def test_params_do_not_depend_on_the_batch_size():
    a = nn.Dense(3).init(KEY, (-1, 4))[1]
    b = nn.Dense(3).init(KEY, (32, 4))[1]
    tree_util.tree_map(np.testing.assert_array_equal, a, b)
