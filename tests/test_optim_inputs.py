"""funcnn.optim with inputs it cannot use: integer or bool gradients and parameters, and
gradients whose shape or structure differs from the parameters'. Every transformation
raises an error naming the key path instead of returning wrong numbers (NumPy would
cast ``1 - b1`` or ``-learning_rate`` to an integer dtype, or broadcast the gradient),
eagerly and while traced. Floating-point inputs keep working, in their own dtype, and
match optax in float32."""

from __future__ import annotations

import inspect
import re

import numpy as np
import pytest

import funcnn as fn
import funcnn.numpy as fnp
from funcnn import optim
from funcnn.tree_util import tree_leaves, tree_map

# ---------------------------------------------------------------------------
# every transformation the package exports


def not_bias(tree):
    return {"dense_0": {"b": False, "w": True}, "scale": True}


# One entry per public factory, under its own name (the coverage test below keeps it so).
TRANSFORMS = {
    # optimizers
    "adadelta": lambda: optim.adadelta(),
    "adagrad": lambda: optim.adagrad(0.1),
    "adam": lambda: optim.adam(0.01),
    "adamw": lambda: optim.adamw(0.01),
    "amsgrad": lambda: optim.amsgrad(0.01),
    "lamb": lambda: optim.lamb(0.01),
    "lion": lambda: optim.lion(1e-3),
    "nadam": lambda: optim.nadam(),
    "rmsprop": lambda: optim.rmsprop(0.01),
    "sgd": lambda: optim.sgd(0.1),
    # building blocks
    "add_decayed_weights": lambda: optim.add_decayed_weights(0.1),
    "chain": lambda: optim.chain(optim.clip_by_global_norm(1.0), optim.scale(-0.1)),
    "clip": lambda: optim.clip(0.5),
    "clip_by_global_norm": lambda: optim.clip_by_global_norm(1.0),
    "ema": lambda: optim.ema(0.9),
    "masked": lambda: optim.masked(optim.scale_by_adam(), not_bias),
    "scale": lambda: optim.scale(-0.5),
    "scale_by_adadelta": lambda: optim.scale_by_adadelta(),
    "scale_by_adam": lambda: optim.scale_by_adam(),
    "scale_by_amsgrad": lambda: optim.scale_by_amsgrad(),
    "scale_by_learning_rate": lambda: optim.scale_by_learning_rate(0.1),
    "scale_by_lion": lambda: optim.scale_by_lion(),
    "scale_by_nadam": lambda: optim.scale_by_nadam(),
    "scale_by_rms": lambda: optim.scale_by_rms(),
    "scale_by_rss": lambda: optim.scale_by_rss(),
    "scale_by_schedule": lambda: optim.scale_by_schedule(optim.cosine_decay(1.0, 10)),
    "scale_by_stddev": lambda: optim.scale_by_stddev(),
    "scale_by_trust_ratio": lambda: optim.scale_by_trust_ratio(),
    "trace": lambda: optim.trace(0.9),
    # wrappers
    "MultiSteps": lambda: optim.MultiSteps(optim.adam(0.01), every_k_schedule=2).gradient_transformation(),
    "ema_params": lambda: optim.ema_params(0.9),
    "inject_hyperparams": lambda: optim.inject_hyperparams(optim.adam)(learning_rate=0.01),
    "lookahead": lambda: optim.lookahead(optim.adam(0.01), sync_period=2, slow_step_size=0.5),
}

# Configurations that put a different block first (the one that sees the gradients).
VARIANTS = {
    "sgd_momentum": lambda: optim.sgd(0.1, momentum=0.9),
    "sgd_nesterov_wd": lambda: optim.sgd(0.1, momentum=0.9, nesterov=True, weight_decay=0.01),
    "sgd_schedule": lambda: optim.sgd(optim.cosine_decay(0.1, 10)),
    "adam_wd": lambda: optim.adam(0.01, weight_decay=0.1),
    "adamw_mask": lambda: optim.adamw(0.01, mask=not_bias),
    "rmsprop_centered_momentum": lambda: optim.rmsprop(0.01, momentum=0.5, centered=True),
    "adagrad_lr_decay_wd": lambda: optim.adagrad(0.1, lr_decay=0.01, weight_decay=0.01),
    "nadam_decoupled": lambda: optim.nadam(weight_decay=0.1, decoupled_weight_decay=True),
    "lion_no_decay": lambda: optim.lion(1e-3, weight_decay=0.0),
    "trace_nesterov": lambda: optim.trace(0.9, nesterov=True),
    "masked_wd_first": lambda: optim.chain(optim.add_decayed_weights(0.1, not_bias), optim.adam(0.01)),
    "amsgrad_wd": lambda: optim.amsgrad(0.01, weight_decay=0.1),
    "lamb_wd_mask": lambda: optim.lamb(0.01, weight_decay=0.1, mask=not_bias),
    "ema_no_debias": lambda: optim.ema(0.9, debias=False),
    "adam_ema_params_debias": lambda: optim.chain(optim.adam(0.01), optim.ema_params(0.9, debias=True)),
    "multisteps_sum_schedule": lambda: optim.MultiSteps(
        optim.sgd(0.1, momentum=0.9), every_k_schedule=lambda step: 2, use_grad_mean=False
    ).gradient_transformation(),
    "inject_sgd_schedule": lambda: optim.inject_hyperparams(optim.sgd)(
        optim.cosine_decay(0.1, 10), momentum=0.9, nesterov=True
    ),
    "inject_adamw_mask": lambda: optim.inject_hyperparams(optim.adamw, static_args="mask")(0.01, mask=not_bias),
    "lookahead_reset": lambda: optim.lookahead(optim.sgd(0.1, momentum=0.9), 3, 0.5, reset_state=True),
}

ALL = {**TRANSFORMS, **VARIANTS}


def make_params(dtype=np.float64, seed=0):
    rng = np.random.default_rng(seed)
    return {
        "dense_0": {"b": rng.normal(size=3).astype(dtype), "w": rng.normal(size=(2, 3)).astype(dtype)},
        "scale": np.asarray(rng.normal(), dtype=dtype),  # a 0-d leaf
    }


def make_grads(params, seed=1):
    rng = np.random.default_rng(seed)
    return tree_map(lambda p: rng.normal(size=np.shape(p)).astype(p.dtype), params)


def checks_shapes_without_params(name):
    """Whether ``update`` runs without params (no weight decay first) and the state holds
    an array shaped like each parameter (Adam's mu, a momentum) to compare gradients with."""
    opt, params = ALL[name](), make_params()
    state = opt.init(params)
    try:
        opt.update(make_grads(params), state)
    except ValueError as e:
        assert "needs the parameters" in str(e)
        return False
    state_shapes = {np.shape(leaf) for leaf in tree_leaves(state)}
    return all(np.shape(p) in state_shapes for p in tree_leaves(params))


STATEFUL = [name for name in ALL if checks_shapes_without_params(name)]


def makes_transformations(obj):
    """A factory of transformations, a factory of such factories (``inject_hyperparams``), or a
    wrapper class with a ``gradient_transformation`` method (``MultiSteps``)."""
    if inspect.isclass(obj):
        return hasattr(obj, "gradient_transformation")
    return inspect.isfunction(obj) and "GradientTransformation" in str(inspect.signature(obj).return_annotation)


def test_every_transformation_factory_is_in_the_table():
    factories = {name for name in optim.__all__ if makes_transformations(getattr(optim, name))}
    assert factories == set(TRANSFORMS)
    assert {"sgd", "adam", "adamw", "nadam", "rmsprop", "adagrad", "adadelta", "lion"} <= factories


# ---------------------------------------------------------------------------
# integer and bool leaves

NOT_FLOATING = [np.int64, np.int32, np.uint8, np.bool_]


@pytest.mark.parametrize("dtype", NOT_FLOATING, ids=lambda d: np.dtype(d).name)
@pytest.mark.parametrize("name", ALL)
def test_integer_or_bool_gradients_are_a_type_error_naming_the_path(name, dtype):
    opt = ALL[name]()
    params = make_params()
    grads = make_grads(params)
    grads["dense_0"]["w"] = np.ones((2, 3), dtype)
    state = opt.init(params)
    expected = f"updates['dense_0']['w'] has dtype {np.dtype(dtype).name}"
    with pytest.raises(TypeError, match=re.escape(expected) + ".*floating-point"):
        opt.update(grads, state, params)
    if name in STATEFUL:  # the state is enough to compare with: params are optional
        with pytest.raises(TypeError, match=re.escape(expected)):
            opt.update(grads, state)


def test_the_example_from_the_report_no_longer_gives_minus_1e5():
    params = {"w": np.array([1.0, 2.0, 3.0])}
    opt = optim.adam(1e-3)
    state = opt.init(params)
    with pytest.raises(TypeError, match=re.escape("updates['w'] has dtype int64")):
        opt.update({"w": np.array([1, 2, 3])}, state, params)
    updates, _ = opt.update({"w": np.array([1.0, 2.0, 3.0])}, state, params)
    np.testing.assert_allclose(updates["w"], -1e-3, rtol=1e-6)


@pytest.mark.parametrize("name", ALL)
def test_a_python_int_gradient_is_a_type_error(name):
    opt = ALL[name]()
    params = make_params()
    grads = make_grads(params)
    grads["scale"] = 0
    with pytest.raises(TypeError, match=re.escape("updates['scale'] has dtype int")):
        opt.update(grads, opt.init(params), params)


@pytest.mark.parametrize("dtype", NOT_FLOATING, ids=lambda d: np.dtype(d).name)
@pytest.mark.parametrize("name", ALL)
def test_integer_or_bool_params_are_a_type_error_in_init(name, dtype):
    opt = ALL[name]()
    params = make_params()
    params["dense_0"]["b"] = np.zeros(3, dtype)
    with pytest.raises(TypeError, match=re.escape(f"params['dense_0']['b'] has dtype {np.dtype(dtype).name}")):
        opt.init(params)


@pytest.mark.parametrize("name", ALL)
def test_integer_params_are_a_type_error_in_update(name):
    opt = ALL[name]()
    params = make_params()
    state = opt.init(params)
    int_params = tree_map(lambda p: np.round(p).astype(np.int64), params)
    with pytest.raises(TypeError, match=re.escape("params['dense_0']['b'] has dtype int64")):
        opt.update(make_grads(params), state, int_params)


def test_sgd_with_integer_params_no_longer_returns_zeros():
    params = {"w": np.array([1, 2, 3])}
    with pytest.raises(TypeError, match=re.escape("params['w'] has dtype int64")):
        optim.sgd(0.1).init(params)
    state = optim.sgd(0.1).init({"w": np.zeros(3)})
    with pytest.raises(TypeError, match=re.escape("params['w'] has dtype int64")):
        optim.sgd(0.1).update({"w": np.ones(3)}, state, params)


# ---------------------------------------------------------------------------
# shapes and structures

# (key path of the leaf, its shape, a wrong gradient shape): broadcastable or not
BAD_SHAPES = [
    (("dense_0", "w"), (2, 3), (1, 3)),
    (("dense_0", "w"), (2, 3), (3,)),
    (("dense_0", "w"), (2, 3), ()),
    (("dense_0", "w"), (2, 3), (3, 2)),
    (("dense_0", "w"), (2, 3), (1, 2, 3)),
    (("dense_0", "b"), (3,), ()),
    (("dense_0", "b"), (3,), (3, 1)),
    (("scale",), (), (1,)),
]
BAD_SHAPE_IDS = [f"{'.'.join(path)}{good}<-{bad}" for path, good, bad in BAD_SHAPES]


def with_leaf(tree, path, leaf):
    tree = tree_map(lambda x: x, tree)  # a copy of the containers
    node = tree
    for key in path[:-1]:
        node = node[key]
    node[path[-1]] = leaf
    return tree


def shape_error(path, good, bad):
    keys = "".join(f"[{k!r}]" for k in path)
    return re.escape(f"updates{keys} has shape {bad}") + ".*" + re.escape(f"has shape {good}")


# With params every transformation compares gradients with them; without, a state that
# holds a moment per parameter is enough.
SHAPE_CASES = [(name, True) for name in ALL] + [(name, False) for name in STATEFUL]
SHAPE_CASE_IDS = [name if with_params else f"{name}-without_params" for name, with_params in SHAPE_CASES]


@pytest.mark.parametrize("path, good, bad", BAD_SHAPES, ids=BAD_SHAPE_IDS)
@pytest.mark.parametrize("name, with_params", SHAPE_CASES, ids=SHAPE_CASE_IDS)
def test_a_gradient_of_another_shape_than_its_param_is_a_value_error(name, with_params, path, good, bad):
    opt = ALL[name]()
    params = make_params()
    grads = with_leaf(make_grads(params), path, np.ones(bad))
    with pytest.raises(ValueError, match=shape_error(path, good, bad)):
        opt.update(grads, opt.init(params), params if with_params else None)


@pytest.mark.parametrize("name", ALL)
def test_gradients_of_another_structure_than_the_params_name_the_path(name):
    opt = ALL[name]()
    params = make_params()
    state = opt.init(params)
    extra = {**make_grads(params), "extra": np.ones(1)}
    with pytest.raises(ValueError, match=re.escape("['extra']")):
        opt.update(extra, state, params)
    as_list = {**make_grads(params), "dense_0": [np.ones(3), np.ones((2, 3))]}
    with pytest.raises(ValueError, match=re.escape("['dense_0']")):
        opt.update(as_list, state, params)


def test_params_of_another_structure_than_the_state_name_the_path():
    opt = optim.adam(0.1)
    params = make_params()
    state = opt.init(params)
    with pytest.raises(ValueError, match=re.escape("['dense_0']['w']")):
        opt.update(make_grads(params), state, {"dense_0": {"b": np.ones(3)}, "scale": np.ones(())})


# ---------------------------------------------------------------------------
# traced: the checks read only shapes and dtypes


@pytest.mark.parametrize("name", ALL)
def test_the_checks_work_inside_make_graph(name):
    opt = ALL[name]()
    params = make_params(np.float32)
    state = opt.init(params)
    update = fn.make_graph(opt.update)
    grads = make_grads(params)
    grads["dense_0"]["w"] = np.ones((2, 3), np.int32)
    with pytest.raises(TypeError, match=re.escape("updates['dense_0']['w'] has dtype int32")):
        update(grads, state, params)
    grads["dense_0"]["w"] = np.ones((1, 3), np.float32)
    with pytest.raises(ValueError, match=shape_error(("dense_0", "w"), (2, 3), (1, 3))):
        update(grads, state, params)


def test_the_checks_work_inside_jit_and_a_valid_step_still_compiles():
    opt = optim.adamw(0.01)
    params = make_params(np.float32)
    state = opt.init(params)
    step = fn.jit(opt.update)
    grads = make_grads(params)
    expected = opt.update(grads, state, params)
    for _ in range(2):  # the second call replays the plan
        for a, e in zip(tree_leaves(step(grads, state, params)), tree_leaves(expected)):
            assert np.asarray(a).dtype == np.asarray(e).dtype
            np.testing.assert_allclose(a, e, rtol=1e-6)
    with pytest.raises(TypeError, match="floating-point"):
        step(tree_map(lambda g: g.astype(np.int32), grads), state, params)
    with pytest.raises(ValueError, match=re.escape("updates['scale'] has shape (1,)")):
        step({**grads, "scale": np.ones(1, np.float32)}, state, params)


def test_the_checks_work_under_grad_with_respect_to_the_gradients():
    opt = optim.adam(0.1)
    params = make_params()
    state = opt.init(params)

    def total(w):
        grads = with_leaf(make_grads(params), ("dense_0", "w"), w)
        return fnp.sum(opt.update(grads, state, params)[0]["dense_0"]["w"])

    assert fn.grad(total)(np.ones((2, 3))).shape == (2, 3)
    with pytest.raises(ValueError, match=shape_error(("dense_0", "w"), (2, 3), (1, 3))):
        fn.grad(total)(np.ones((1, 3)))


# ---------------------------------------------------------------------------
# floating-point inputs keep working, in their own dtype


@pytest.mark.parametrize("dtype", [np.float16, np.float32, np.float64], ids=lambda d: np.dtype(d).name)
@pytest.mark.parametrize("name", ALL)
def test_floating_inputs_keep_their_dtype_and_agree_with_float64(name, dtype):
    opt = ALL[name]()
    params, reference = make_params(dtype), make_params()
    state, ref_state = opt.init(params), opt.init(reference)
    for step in range(3):
        updates, state = opt.update(make_grads(params, step), state, params)
        ref_updates, ref_state = opt.update(make_grads(reference, step), ref_state, reference)
        params = optim.apply_updates(params, updates)
        reference = optim.apply_updates(reference, ref_updates)
        for leaf in tree_leaves((updates, params)):
            assert leaf.dtype == dtype
        for leaf in tree_leaves(state):
            if np.shape(leaf) != ():  # moments; scalars are int32 counts or float64 products
                assert leaf.dtype == dtype
    # the gradients were rounded to ``dtype`` first, so compare loosely
    rtol = {np.float16: 2e-2, np.float32: 1e-5, np.float64: 1e-12}[dtype]
    for a, e in zip(tree_leaves(params), tree_leaves(reference)):
        np.testing.assert_allclose(a.astype(np.float64), e, rtol=rtol, atol=rtol)


# ---------------------------------------------------------------------------
# parity with optax in float32 (the PyTorch parity tests run in float64)


def optax_pairs(optax):
    """funcnn optimizer and its optax twin, with the settings that make their rules equal."""
    return {
        "sgd": (optim.sgd(0.1), optax.sgd(0.1)),
        "sgd_nesterov": (optim.sgd(0.1, momentum=0.9, nesterov=True), optax.sgd(0.1, momentum=0.9, nesterov=True)),
        "adam": (optim.adam(0.01), optax.adam(0.01)),
        "adamw": (optim.adamw(0.01, weight_decay=0.1), optax.adamw(0.01, weight_decay=0.1)),
        "rmsprop": (optim.rmsprop(0.01, decay=0.9), optax.rmsprop(0.01, decay=0.9, eps=1e-8, eps_in_sqrt=False)),
        "adagrad": (
            optim.adagrad(0.1, initial_accumulator_value=0.1, eps=0.0),
            optax.adagrad(0.1, initial_accumulator_value=0.1, eps=0.0),
        ),
        "adadelta": (optim.adadelta(1.0, rho=0.9, eps=1e-6), optax.adadelta(1.0, rho=0.9, eps=1e-6)),
        "lion": (optim.lion(1e-3, weight_decay=0.01), optax.lion(1e-3, weight_decay=0.01)),
        "clipped_adam": (
            optim.chain(optim.clip_by_global_norm(1.0), optim.adam(0.01)),
            optax.chain(optax.clip_by_global_norm(1.0), optax.adam(0.01)),
        ),
        "lamb": (optim.lamb(0.01, weight_decay=0.1), optax.lamb(0.01, weight_decay=0.1)),
        "ema": (optim.ema(0.9), optax.ema(0.9)),
        "inject_hyperparams_adam": (
            optim.inject_hyperparams(optim.adam)(learning_rate=0.01),
            optax.inject_hyperparams(optax.adam)(learning_rate=0.01),
        ),
        "multisteps_adam": (
            optim.MultiSteps(optim.adam(0.01), 2).gradient_transformation(),
            optax.MultiSteps(optax.adam(0.01), 2).gradient_transformation(),
        ),
    }


OPTAX_CASES = [
    "sgd", "sgd_nesterov", "adam", "adamw", "rmsprop", "adagrad", "adadelta", "lion", "clipped_adam",
    "lamb", "ema", "inject_hyperparams_adam", "multisteps_adam",
]


@pytest.mark.parametrize("case", OPTAX_CASES)
def test_float32_updates_match_optax(case):
    optax = pytest.importorskip("optax")
    ours, theirs = optax_pairs(optax)[case]
    params = make_params(np.float32)
    state, their_state = ours.init(params), theirs.init(params)
    for step in range(5):
        grads = make_grads(params, step)
        updates, state = ours.update(grads, state, params)
        their_updates, their_state = theirs.update(grads, their_state, params)
        for a, e in zip(tree_leaves(updates), tree_leaves(their_updates)):
            assert a.dtype == np.float32 and np.asarray(e).dtype == np.float32
            np.testing.assert_allclose(a, np.asarray(e), rtol=2e-5, atol=1e-7)
        params = optim.apply_updates(params, updates)


def test_global_norm_has_a_finite_derivative_at_zero():
    zeros = {"a": np.zeros(3), "b": np.zeros((2, 2))}
    grads = fn.grad(optim.global_norm)(zeros)
    for leaf in tree_leaves(grads):
        np.testing.assert_array_equal(leaf, 0.0)
    np.testing.assert_allclose(fn.grad(optim.global_norm)({"a": np.array([3.0, 4.0])})["a"], [0.6, 0.8])
