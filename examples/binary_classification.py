"""Separate two ellipse-shaped classes with an MLP, logits-based binary cross-entropy and
L2 weight decay (``optim.adamw``), trained by ``funcnn.train.fit``.

    python examples/binary_classification.py [--epochs 60] [--weight-decay 1e-3]
"""
from __future__ import annotations

import argparse

from funcnn import data, losses, metrics, nn, optim, random
from funcnn.train import EarlyStopping, evaluate, fit


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--epochs", type=int, default=60)
    parser.add_argument("--weight-decay", type=float, default=1e-3)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)

    x, y = data.ellipses(n_samples=2000, noise=0.1, seed=args.seed)
    x_train, x_test, y_train, y_test = data.train_test_split(x, y, test_size=0.2, stratify=y, seed=args.seed)
    x_train, x_val, y_train, y_val = data.train_test_split(x_train, y_train, test_size=0.2, seed=args.seed)
    model = nn.serial(nn.Dense(32), nn.Relu, nn.Dense(32), nn.Relu, nn.Dense(1))
    _, params = model.init(random.key(args.seed), (-1, 2))

    def loss_fn(params, x, y):
        logits = model.apply(params, x)[:, 0]
        return losses.binary_cross_entropy_with_logits(logits, y.astype(logits.dtype)), logits

    def acc(logits, y):
        return metrics.accuracy(nn.sigmoid(logits), y)  # probabilities against the 0.5 threshold

    optimizer = optim.adamw(1e-2, weight_decay=args.weight_decay)
    params, _, history = fit(loss_fn, params, optimizer, (x_train, y_train), epochs=args.epochs, batch_size=64,
                             key=random.key(args.seed + 1), val_data=(x_val, y_val), metrics={"acc": acc},
                             callbacks=[EarlyStopping("val_loss", patience=10)],
                             verbose=2 if args.epochs <= 10 else 0)
    test = evaluate(loss_fn, params, (x_test, y_test), metrics={"acc": acc})
    print(f"trained {len(history['loss'])} epochs; final test accuracy: {test['acc']:.4f}")
    return test["acc"]


if __name__ == "__main__":
    main()
