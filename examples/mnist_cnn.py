"""Train a small CNN (conv-relu-pool x2, then dense) on MNIST or Fashion-MNIST.

    python examples/mnist_cnn.py [--epochs 5] [--dataset mnist|fashion] [--batch-size 64] [--train-size N]
"""
from __future__ import annotations

import argparse

from funcnn import data, losses, metrics, nn, optim, random
from funcnn.train import evaluate, fit


def build_model():
    """(N, 1, 28, 28) -> conv 3x3 1->32, ReLU, max-pool 2 -> conv 3x3 32->64, ReLU, max-pool 2 -> dense 10."""
    return nn.serial(
        nn.Conv(32, 3, padding=1), nn.Relu, nn.MaxPool(2),
        nn.Conv(64, 3, padding=1), nn.Relu, nn.MaxPool(2),
        nn.Flatten, nn.Dense(10),
    )


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--epochs", type=int, default=5)
    parser.add_argument("--dataset", choices=("mnist", "fashion"), default="mnist")
    parser.add_argument("--batch-size", type=int, default=64)
    parser.add_argument("--lr", type=float, default=1e-3)
    parser.add_argument("--train-size", type=int, default=None, help="use only the first N training images")
    parser.add_argument("--data-dir", default=None, help="folder with mnist/ or fashion-mnist/")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--verbose", type=int, default=1)
    args = parser.parse_args(argv)

    load = data.mnist if args.dataset == "mnist" else data.fashion_mnist
    x_train, y_train, x_test, y_test = load(args.data_dir, channel_axis=True)
    if args.train_size:
        x_train, y_train = x_train[: args.train_size], y_train[: args.train_size]
    model = build_model()
    _, params = model.init(random.key(args.seed), (-1, 1, 28, 28))

    def loss_fn(params, x, labels):
        logits = model.apply(params, x)
        return losses.cross_entropy(logits, labels), logits

    steps = args.epochs * -(-len(x_train) // args.batch_size)
    optimizer = optim.adam(optim.warmup_cosine_decay(0.0, args.lr, min(200, steps // 10), steps))
    params, _, _ = fit(loss_fn, params, optimizer, (x_train, y_train), epochs=args.epochs,
                       batch_size=args.batch_size, key=random.key(args.seed + 1),
                       metrics={"acc": metrics.accuracy}, verbose=args.verbose)
    test = evaluate(loss_fn, params, (x_test, y_test), batch_size=500, metrics={"acc": metrics.accuracy})
    print(f"final test accuracy ({args.dataset}): {test['acc']:.4f}")
    return test["acc"]


if __name__ == "__main__":
    main()
