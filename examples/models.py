"""Two models built from ``funcnn.nn`` layers with ``serial``: a 784-256-128-32-10 MLP and a
small CNN for 28x28 grey images. Prints each model's parameters, layer by layer, and runs
one batch through it in training and in evaluation mode.

    python examples/models.py
"""
from __future__ import annotations

import numpy as np

from funcnn import nn, random, tree_util

INPUT_SHAPE = (-1, 1, 28, 28)  # (batch, channels, height, width); -1: any batch size


def mlp() -> nn.Layer:
    """784-256-128-32-10 with ReLU: 238,314 parameters."""
    return nn.serial(
        nn.Flatten,
        nn.Dense(256), nn.Relu,
        nn.Dense(128), nn.Relu,
        nn.Dense(32), nn.Relu,
        nn.Dense(10),
    )


def cnn() -> nn.Layer:
    """Two conv-batchnorm-relu-pool stages and a linear classifier: 20,586 parameters."""
    return nn.serial(
        nn.Conv(16, (3, 3), padding=1), nn.BatchNorm(), nn.Relu, nn.MaxPool(2),   # -> (16, 14, 14)
        nn.Conv(32, (3, 3), padding=1), nn.BatchNorm(), nn.Relu, nn.MaxPool(2),   # -> (32, 7, 7)
        nn.Flatten, nn.Dropout(0.25),
        nn.Dense(10),
    )


def count(params: dict) -> int:
    """The number of scalars in a pytree of arrays."""
    return sum(int(np.size(leaf)) for leaf in tree_util.tree_leaves(params))


def describe(name: str, model: nn.Layer, key: np.ndarray) -> int:
    """Print the parameters of `model` layer by layer; return their total."""
    out_shape, params, state = model.init_with_state(key, INPUT_SHAPE)
    print(f"{name}: input {INPUT_SHAPE} -> output {out_shape}")
    for layer, layer_params in params.items():
        shapes = ", ".join(f"{k} {v.shape}" for k, v in layer_params.items())
        if shapes:
            print(f"  {layer:<14} {count(layer_params):>8,}  {shapes}")
    total = count(params)
    print(f"  {'total':<14} {total:>8,}\n")

    x = random.normal(random.fold_in(key, 1), (8, 1, 28, 28))
    logits, state = model.apply(params, x, key=random.fold_in(key, 2), train=True, state=state)
    logits_eval, _ = model.apply(params, x, state=state)
    assert logits.shape == logits_eval.shape == (8, 10)
    return total


def main() -> dict[str, int]:
    key = random.key(0)
    return {"mlp": describe("MLP", mlp(), key), "cnn": describe("CNN", cnn(), key)}


if __name__ == "__main__":
    main()
