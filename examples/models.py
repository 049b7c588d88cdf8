"""Two models built from ``funcnn.nn`` layers with ``serial``: a 784-256-128-32-10 MLP and a
small CNN for 28x28 grey images. Prints each model and its layer table (``nn.summary``), then
trains the CNN with ``funcnn.train.fit`` on MNIST for ``--epochs`` and prints its test accuracy.

    python examples/models.py --epochs 1
"""
from __future__ import annotations

import argparse

import numpy as np

from funcnn import data, losses, metrics, nn, optim, random
from funcnn.train import evaluate, fit

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


def describe(name: str, model: nn.Layer) -> int:
    """Print the model and its layer table; return its number of parameters."""
    print(f"{name}: {model!r}")
    return nn.summary(model, INPUT_SHAPE).total_params


def train(model: nn.Layer, args: argparse.Namespace) -> float:
    """Fit ``model`` on MNIST with Adam; return its test accuracy."""
    x_train, y_train, x_test, y_test = data.mnist(args.data_dir)
    x_train, y_train = x_train[: args.train_size, None], y_train[: args.train_size]  # add the channel axis
    x_test = x_test[:, None]
    key, init_key = random.split(random.key(args.seed))
    _, params, state = model.init_with_state(init_key, INPUT_SHAPE)

    def loss_fn(params, x, labels, *, key, train, state):
        logits, state = model.apply(params, x, key=key, train=train, state=state)
        return losses.cross_entropy(logits, labels), {"outputs": logits, "state": state}

    params, _, _, state = fit(loss_fn, params, optim.adam(1e-3), (x_train, y_train), epochs=args.epochs,
                              batch_size=args.batch_size, key=key, state=state, metrics={"acc": metrics.accuracy},
                              verbose=2)
    return evaluate(loss_fn, params, (x_test, y_test), state=state, metrics={"acc": metrics.accuracy})["acc"]


def main(argv: list[str] | None = None) -> dict[str, float]:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--epochs", type=int, default=1, help="epochs to train the CNN (0: only describe)")
    parser.add_argument("--batch-size", type=int, default=64)
    parser.add_argument("--train-size", type=int, default=None, help="use only the first N training images")
    parser.add_argument("--data-dir", default=None, help="folder with mnist/ (default: FUNCNN_DATA, then the cache)")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)
    counts: dict[str, float] = {"mlp": describe("MLP", mlp()), "cnn": describe("CNN", cnn())}
    if args.epochs > 0:
        counts["test_acc"] = accuracy = train(cnn(), args)
        print(f"final test accuracy: {accuracy:.4f}")
    return counts


if __name__ == "__main__":
    np.set_printoptions(precision=4)
    main()
