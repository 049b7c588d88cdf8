"""Combinators: names and nesting of params, shapes predicted by init, keys and state threaded
through sublayers, branching models, residual blocks and their errors."""
import numpy as np
import pytest

import funcnn as fn
import funcnn.numpy as fnp
from funcnn import nn, random, tree_util
from funcnn.testing import check_grads

KEY = random.key(0)


def rand(*shape, seed=1):
    return np.random.default_rng(seed).standard_normal(shape)


def shapes_of(tree):
    return tree_util.tree_map(np.shape, tree)


def test_serial_names_nesting_and_shapes():
    block = nn.serial(nn.Dense(4), nn.Relu)
    model = nn.serial(block, nn.Dropout(0.1), nn.serial(nn.Dense(3), nn.Tanh), nn.Dense(2))
    out_shape, params = model.init(KEY, (-1, 5))
    assert out_shape == (-1, 2)
    assert shapes_of(params) == {
        "serial_0": {"dense_0": {"w": (5, 4), "b": (4,)}, "relu_1": {}},
        "dropout_1": {},
        "serial_2": {"dense_0": {"w": (4, 3), "b": (3,)}, "tanh_1": {}},
        "dense_3": {"w": (3, 2), "b": (2,)},
    }
    x = rand(6, 5).astype(np.float32)
    y = model.apply(params, x)
    expected = np.tanh(np.maximum(x @ params["serial_0"]["dense_0"]["w"] + params["serial_0"]["dense_0"]["b"], 0)
                       @ params["serial_2"]["dense_0"]["w"] + params["serial_2"]["dense_0"]["b"])
    expected = expected @ params["dense_3"]["w"] + params["dense_3"]["b"]
    np.testing.assert_allclose(y, expected, rtol=1e-5)


def test_nested_error_names_the_full_key_path():
    model = nn.serial(nn.serial(nn.Dense(4), nn.Relu), nn.serial(nn.Dense(3)))
    _, params = model.init(KEY, (-1, 5))
    params["serial_1"]["dense_0"]["w"] = np.ones((7, 3), np.float32)
    with pytest.raises(ValueError, match=r"'dense_0' \(params\['serial_1'\]\['dense_0'\]\)"):
        model.apply(params, rand(2, 5))


def test_init_errors_name_the_layer():
    with pytest.raises(ValueError, match=r"Conv layer 'conv_1' \(params\['conv_1'\]\)"):
        nn.serial(nn.Flatten, nn.Conv(3, 3)).init(KEY, (-1, 1, 8, 8))


def test_empty_serial_is_the_identity():
    out_shape, params = nn.serial().init(KEY, (-1, 3))
    x = rand(2, 3)
    assert out_shape == (-1, 3) and params == {} and nn.serial().apply(params, x) is x


def test_named_layers_and_duplicate_names():
    model = nn.serial(nn.Dense(8).named("encoder"), nn.Relu, nn.Dense(2).named("head"))
    _, params = model.init(KEY, (-1, 3))
    assert sorted(params) == ["encoder", "head", "relu_1"]
    with pytest.raises(ValueError, match="both be stored under params\\['x'\\]"):
        nn.serial(nn.Dense(2).named("x"), nn.Dense(2).named("x"))
    with pytest.raises(ValueError, match="non-empty"):
        nn.Dense(2).named("")


def test_uncalled_constructors_and_non_layers_are_rejected_with_a_fix():
    with pytest.raises(TypeError, match=r"function Dense, not a layer; call it"):
        nn.serial(nn.Dense)
    with pytest.raises(TypeError, match="function fan_in_sum"):
        nn.serial(nn.fan_out(2), nn.parallel(nn.Identity, nn.Identity), nn.fan_in_sum)
    with pytest.raises(TypeError, match="int, not a layer"):
        nn.serial(3)


def test_stax_style_layers_without_parentheses():
    model = nn.serial(nn.Dense(4), nn.Relu, nn.Flatten, nn.Dense(2), nn.LogSoftmax)
    out_shape, params = model.init(KEY, (-1, 3))
    assert model.apply(params, rand(2, 3)).shape == (2, 2)


def test_adding_a_layer_at_the_end_keeps_earlier_params():
    a = nn.serial(nn.Dense(4), nn.Dense(3)).init(KEY, (-1, 2))[1]
    b = nn.serial(nn.Dense(4), nn.Dense(3), nn.Dense(1)).init(KEY, (-1, 2))[1]
    tree_util.tree_map(np.testing.assert_array_equal, a, {k: b[k] for k in a})
    assert not np.array_equal(a["dense_0"]["w"][:, :3], a["dense_1"]["w"][:2])


def test_each_dropout_gets_its_own_key():
    model = nn.serial(nn.Dropout(0.5), nn.Identity, nn.Dropout(0.5))
    first = nn.serial(nn.Dropout(0.5))
    x = np.ones((1, 64))
    key = random.key(5)
    both = model.apply({"dropout_0": {}, "identity_1": {}, "dropout_2": {}}, x, key=key, train=True)
    one = first.apply({"dropout_0": {}}, x, key=key, train=True)
    # the first dropout sees fold_in(key, 0); the second a different key
    mask_0 = one != 0
    assert not np.array_equal((both != 0), mask_0)
    np.testing.assert_array_equal(
        one, nn.Dropout(0.5).apply({}, x, key=random.fold_in(key, 0), train=True))


def test_state_is_threaded_through_nested_combinators():
    model = nn.serial(nn.Dense(4), nn.serial(nn.BatchNorm(), nn.Relu), nn.residual(nn.Dense(4), nn.BatchNorm()))
    out_shape, params, state = model.init_with_state(KEY, (-1, 3))
    assert shapes_of(state) == {
        "dense_0": {},
        "serial_1": {"batch_norm_0": {"mean": (4,), "var": (4,)}, "relu_1": {}},
        "residual_2": {"dense_0": {}, "batch_norm_1": {"mean": (4,), "var": (4,)}},
    }
    x = rand(8, 3).astype(np.float32)
    y, new_state = model.apply(params, x, train=True, state=state)
    assert tree_util.tree_structure(new_state) == tree_util.tree_structure(state)
    assert not np.array_equal(new_state["serial_1"]["batch_norm_0"]["mean"], state["serial_1"]["batch_norm_0"]["mean"])
    y_eval, same = model.apply(params, x, state=new_state)
    tree_util.tree_map(np.testing.assert_array_equal, same, new_state)
    # a model without state-keeping layers returns its (empty) state unchanged
    mlp = nn.serial(nn.Dense(2), nn.Relu)
    _, p, s = mlp.init_with_state(KEY, (-1, 3))
    assert s == {"dense_0": {}, "relu_1": {}}
    y, s2 = mlp.apply(p, x, state=s)
    assert s2 == s and y.shape == (8, 2)


def test_missing_state_entry_is_named():
    model = nn.serial(nn.Dense(4), nn.BatchNorm())
    _, params, state = model.init_with_state(KEY, (-1, 3))
    del state["batch_norm_1"]
    with pytest.raises(ValueError, match=r"state has no entry 'batch_norm_1'.*init_with_state"):
        model.apply(params, rand(4, 3), state=state)


def test_parallel_fan_out_and_fan_in():
    model = nn.serial(nn.fan_out(3), nn.parallel(nn.Dense(4), nn.Dense(4), nn.Identity), nn.fan_in_concat())
    out_shape, params = model.init(KEY, (-1, 2))
    assert out_shape == (-1, 10)
    assert sorted(params) == ["fan_in_concat_2", "fan_out_0", "parallel_1"]
    assert sorted(params["parallel_1"]) == ["dense_0", "dense_1", "identity_2"]
    x = rand(5, 2)
    y = model.apply(params, x)
    p = params["parallel_1"]
    np.testing.assert_allclose(y, np.concatenate(
        [x @ p["dense_0"]["w"] + p["dense_0"]["b"], x @ p["dense_1"]["w"] + p["dense_1"]["b"], x], axis=1),
        rtol=1e-6)
    summed = nn.serial(nn.fan_out(2), nn.parallel(nn.Dense(3), nn.Dense(3)), nn.fan_in_sum())
    out_shape, params = summed.init(KEY, (-1, 2))
    assert out_shape == (-1, 3) and summed.apply(params, x).shape == (5, 3)


def test_parallel_takes_tuples():
    model = nn.parallel(nn.Dense(2), nn.Flatten)
    out_shape, params = model.init(KEY, ((-1, 3), (-1, 2, 2)))
    assert out_shape == ((-1, 2), (-1, 4))
    y = model.apply(params, (rand(1, 3), rand(1, 2, 2)))
    assert isinstance(y, tuple) and [a.shape for a in y] == [(1, 2), (1, 4)]
    with pytest.raises(ValueError, match="tuple of 2"):
        model.apply(params, rand(1, 3))
    with pytest.raises(ValueError, match="tuple of 2"):
        model.init(KEY, (-1, 3))


def test_fan_in_errors():
    with pytest.raises(ValueError, match="one shape"):
        nn.fan_in_sum().init(KEY, ((-1, 3), (-1, 4)))
    with pytest.raises(ValueError, match="one shape"):
        nn.fan_in_sum().apply({}, (np.ones((2, 3)), np.ones((1, 3))))
    with pytest.raises(ValueError, match="differ off the joined axis"):
        nn.fan_in_concat(axis=1).init(KEY, ((-1, 3, 4), (-1, 3, 5)))
    assert nn.fan_in_concat(axis=1).init(KEY, ((-1, 3, 4), (-1, 2, 4)))[0] == (-1, 5, 4)
    with pytest.raises(ValueError, match="positive"):
        nn.fan_out(0)


def test_residual():
    block = nn.residual(nn.Dense(3), nn.Relu, nn.Dense(3))
    out_shape, params = block.init(KEY, (-1, 3))
    assert out_shape == (-1, 3) and sorted(params) == ["dense_0", "dense_2", "relu_1"]
    x = rand(4, 3)
    body = nn.serial(nn.Dense(3), nn.Relu, nn.Dense(3))
    np.testing.assert_allclose(block.apply(params, x), body.apply(params, x) + x)


def test_residual_with_shortcut_and_shape_errors():
    block = nn.residual(nn.Dense(5), nn.Relu, shortcut=nn.Dense(5, use_bias=False))
    out_shape, params = block.init(KEY, (-1, 3))
    assert out_shape == (-1, 5) and sorted(params) == ["dense_0", "relu_1", "shortcut"]
    x = rand(2, 3)
    expected = np.maximum(x @ params["dense_0"]["w"] + params["dense_0"]["b"], 0) + x @ params["shortcut"]["w"]
    np.testing.assert_allclose(block.apply(params, x), expected, rtol=1e-6)
    with pytest.raises(ValueError, match=r"residual layer 'residual_1'.*\(-1, 4\).*\(-1, 3\).*shortcut"):
        nn.serial(nn.Identity, nn.residual(nn.Dense(4))).init(KEY, (-1, 3))


def test_gradients_through_a_branching_model():
    model = nn.serial(
        nn.Dense(4, dtype=np.float64), nn.Tanh,
        nn.fan_out(2), nn.parallel(nn.Dense(3, dtype=np.float64), nn.serial(nn.Dense(3, dtype=np.float64), nn.Gelu)),
        nn.fan_in_sum(), nn.residual(nn.LayerNorm(dtype=np.float64), nn.Dense(3, dtype=np.float64)),
        nn.Softplus)
    _, params = model.init(KEY, (-1, 2))
    check_grads(lambda p, x: model.apply(p, x), (params, rand(3, 2)), order=2)


def test_gradient_of_a_training_loss_has_the_params_structure():
    model = nn.serial(nn.Dense(4), nn.BatchNorm(), nn.Relu, nn.Dropout(0.2), nn.Dense(2))
    _, params, state = model.init_with_state(KEY, (-1, 3))

    def loss(params, state, key):
        y, state = model.apply(params, rand(8, 3).astype(np.float32), key=key, train=True, state=state)
        return fnp.mean(y ** 2), state

    (value, state), grads = fn.value_and_grad(loss, has_aux=True)(params, state, random.key(1))
    assert tree_util.tree_structure(grads) == tree_util.tree_structure(params)
    for g, p in zip(tree_util.tree_leaves(grads), tree_util.tree_leaves(params)):
        assert g.shape == p.shape and g.dtype == p.dtype


def test_repr_describes_the_model():
    model = nn.serial(nn.Dense(3), nn.Relu, nn.residual(nn.Dense(3)))
    assert repr(model) == "serial(Dense(3), Relu, residual(Dense(3)))"
