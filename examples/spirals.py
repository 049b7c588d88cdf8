"""Classify three interleaved spirals with a small MLP trained by ``funcnn.train.fit``.

Saves a decision-boundary plot when matplotlib is installed.

    python examples/spirals.py [--epochs 200] [--plot spirals.png]
"""
from __future__ import annotations

import argparse

import numpy as np

from funcnn import data, losses, metrics, nn, optim, random
from funcnn.train import evaluate, fit


def build_model(hidden=64):
    return nn.serial(nn.Dense(hidden), nn.Tanh, nn.Dense(hidden), nn.Tanh, nn.Dense(3))


def plot_boundary(model, params, x, y, path):
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        print("matplotlib is not installed (pip install matplotlib): no plot saved")
        return
    lo, hi = x.min(0) - 0.3, x.max(0) + 0.3
    gx, gy = np.meshgrid(np.linspace(lo[0], hi[0], 300), np.linspace(lo[1], hi[1], 300))
    grid = np.stack([gx.ravel(), gy.ravel()], axis=1).astype(np.float32)
    classes = np.argmax(model.apply(params, grid), axis=1).reshape(gx.shape)
    fig, ax = plt.subplots(figsize=(5, 5))
    ax.contourf(gx, gy, classes, alpha=0.3, levels=[-0.5, 0.5, 1.5, 2.5], cmap="viridis")
    ax.scatter(x[:, 0], x[:, 1], c=y, s=8, cmap="viridis")
    ax.set_title("spirals: decision boundary")
    fig.savefig(path, dpi=100)
    print(f"saved the decision boundary to {path}")


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--epochs", type=int, default=200)
    parser.add_argument("--plot", default="spirals.png", help="where to save the plot ('' for none)")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)

    x, y = data.spirals(n_samples=1500, n_classes=3, noise=0.03, seed=args.seed, turns=1.25)
    x_train, x_test, y_train, y_test = data.train_test_split(x, y, test_size=0.2, stratify=y, seed=args.seed)
    model = build_model()
    _, params = model.init(random.key(args.seed), (-1, 2))

    def loss_fn(params, x, y):
        logits = model.apply(params, x)
        return losses.cross_entropy(logits, y), logits

    params, _, history = fit(loss_fn, params, optim.adam(1e-2), (x_train, y_train), epochs=args.epochs,
                             batch_size=64, key=random.key(args.seed + 1), metrics={"acc": metrics.accuracy},
                             verbose=2 if args.epochs <= 20 else 0)
    test = evaluate(loss_fn, params, (x_test, y_test), metrics={"acc": metrics.accuracy})
    print(f"train loss {history['loss'][-1]:.4f}, final test accuracy: {test['acc']:.4f}")
    if args.plot:
        plot_boundary(model, params, x, y, args.plot)
    return test["acc"]


if __name__ == "__main__":
    main()
