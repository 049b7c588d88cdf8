"""Parity of funcnn.optim with torch.optim: same initial params, same 50 gradients,
params after every step equal to 1e-6 relative in float64."""

from __future__ import annotations

import numpy as np
import pytest

from funcnn import optim
from funcnn.tree_util import tree_leaves

torch = pytest.importorskip("torch", reason="torch.optim is the reference for optimizer parity")

STEPS = 50

# (funcnn factory, its kwargs, torch.optim class name, torch kwargs)
CASES = {
    "sgd": (optim.sgd, dict(learning_rate=0.1), "SGD", dict(lr=0.1)),
    "sgd_momentum": (
        optim.sgd,
        dict(learning_rate=0.05, momentum=0.9),
        "SGD",
        dict(lr=0.05, momentum=0.9),
    ),
    "sgd_nesterov": (
        optim.sgd,
        dict(learning_rate=0.05, momentum=0.9, nesterov=True),
        "SGD",
        dict(lr=0.05, momentum=0.9, nesterov=True),
    ),
    "sgd_weight_decay": (
        optim.sgd,
        dict(learning_rate=0.1, weight_decay=0.05),
        "SGD",
        dict(lr=0.1, weight_decay=0.05),
    ),
    "sgd_momentum_weight_decay": (
        optim.sgd,
        dict(learning_rate=0.05, momentum=0.8, nesterov=True, weight_decay=0.05),
        "SGD",
        dict(lr=0.05, momentum=0.8, nesterov=True, weight_decay=0.05),
    ),
    "adam": (optim.adam, dict(learning_rate=0.01), "Adam", dict(lr=0.01)),
    "adam_betas_weight_decay": (
        optim.adam,
        dict(learning_rate=0.01, b1=0.8, b2=0.99, eps=1e-6, weight_decay=0.1),
        "Adam",
        dict(lr=0.01, betas=(0.8, 0.99), eps=1e-6, weight_decay=0.1),
    ),
    "adamw": (optim.adamw, dict(learning_rate=0.01), "AdamW", dict(lr=0.01)),
    "adamw_strong_decay": (
        optim.adamw,
        dict(learning_rate=0.01, weight_decay=0.5),
        "AdamW",
        dict(lr=0.01, weight_decay=0.5),
    ),
    "rmsprop": (optim.rmsprop, dict(learning_rate=0.01), "RMSprop", dict(lr=0.01)),
    "rmsprop_centered": (
        optim.rmsprop,
        dict(learning_rate=0.01, decay=0.9, centered=True),
        "RMSprop",
        dict(lr=0.01, alpha=0.9, centered=True),
    ),
    "rmsprop_momentum": (
        optim.rmsprop,
        dict(learning_rate=0.01, momentum=0.9),
        "RMSprop",
        dict(lr=0.01, momentum=0.9),
    ),
    "rmsprop_centered_momentum_weight_decay": (
        optim.rmsprop,
        dict(learning_rate=0.01, momentum=0.5, centered=True, weight_decay=0.1),
        "RMSprop",
        dict(lr=0.01, momentum=0.5, centered=True, weight_decay=0.1),
    ),
    "adagrad": (optim.adagrad, dict(learning_rate=0.1), "Adagrad", dict(lr=0.1)),
    "adagrad_all_options": (
        optim.adagrad,
        dict(
            learning_rate=0.1,
            lr_decay=0.01,
            weight_decay=0.05,
            initial_accumulator_value=0.1,
            eps=1e-8,
        ),
        "Adagrad",
        dict(lr=0.1, lr_decay=0.01, weight_decay=0.05, initial_accumulator_value=0.1, eps=1e-8),
    ),
    "adadelta": (optim.adadelta, dict(), "Adadelta", dict()),
    "adadelta_options": (
        optim.adadelta,
        dict(learning_rate=0.5, rho=0.8, eps=1e-5, weight_decay=0.1),
        "Adadelta",
        dict(lr=0.5, rho=0.8, eps=1e-5, weight_decay=0.1),
    ),
    "nadam": (optim.nadam, dict(learning_rate=0.01), "NAdam", dict(lr=0.01)),
    "nadam_weight_decay": (
        optim.nadam,
        dict(learning_rate=0.01, weight_decay=0.1, momentum_decay=0.01),
        "NAdam",
        dict(lr=0.01, weight_decay=0.1, momentum_decay=0.01),
    ),
    "nadam_decoupled": (
        optim.nadam,
        dict(learning_rate=0.01, weight_decay=0.1, decoupled_weight_decay=True),
        "NAdam",
        dict(lr=0.01, weight_decay=0.1, decoupled_weight_decay=True),
    ),
}


@pytest.fixture
def float64_default():
    """NAdam keeps its momentum product in torch's default dtype; make that float64."""
    previous = torch.get_default_dtype()
    torch.set_default_dtype(torch.float64)
    yield
    torch.set_default_dtype(previous)


def _problem(seed=0):
    rng = np.random.default_rng(seed)

    def tree():
        return {
            "dense_0": {"b": rng.normal(size=4), "w": rng.normal(size=(3, 4))},
            "out": {"b": rng.normal(size=2), "w": rng.normal(size=(4, 2))},
        }

    return tree(), [tree() for _ in range(STEPS)]


@pytest.mark.parametrize("case", CASES)
def test_matches_torch_optim_for_50_steps(case, float64_default):
    factory, kwargs, torch_name, torch_kwargs = CASES[case]
    params, grads_seq = _problem()

    tensors = [
        torch.tensor(p, dtype=torch.float64, requires_grad=True) for p in tree_leaves(params)
    ]
    torch_opt = getattr(torch.optim, torch_name)(tensors, **torch_kwargs)
    opt = factory(**kwargs)
    state = opt.init(params)

    for step, grads in enumerate(grads_seq, start=1):
        updates, state = opt.update(grads, state, params)
        params = optim.apply_updates(params, updates)

        for t, g in zip(tensors, tree_leaves(grads)):
            t.grad = torch.tensor(g, dtype=torch.float64)
        torch_opt.step()

        for ours, theirs in zip(tree_leaves(params), tensors):
            np.testing.assert_allclose(
                ours, theirs.detach().numpy(), rtol=1e-6, atol=1e-12, err_msg=f"step {step}"
            )
