"""Fit a linear model to noisy linear data with ``funcnn.train.fit`` and compare the learned
coefficients with the true ones.

    python examples/regression.py [--epochs 50]
"""
from __future__ import annotations

import argparse

import numpy as np

from funcnn import data, losses, nn, optim, random
from funcnn.train import evaluate, fit


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--epochs", type=int, default=50)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)

    x, y, coef = data.regression(n_samples=2000, n_features=5, noise=0.1, seed=args.seed, bias=0.5,
                                 return_coef=True)
    y = y.astype(np.float32)[:, None]
    x_train, x_test, y_train, y_test = data.train_test_split(x, y, test_size=0.2, seed=args.seed)
    x_train, mean, std = data.standardize(x_train), x_train.mean(0), x_train.std(0)
    x_test = data.standardize(x_test, mean, std)

    model = nn.Dense(1)
    _, params = model.init(random.key(args.seed), (-1, 5))

    def loss_fn(params, x, y):
        return losses.mse(model.apply(params, x), y)

    params, _, history = fit(loss_fn, params, optim.adam(0.05), (x_train, y_train), epochs=args.epochs,
                             batch_size=64, key=random.key(args.seed + 1), verbose=2 if args.epochs <= 10 else 0)
    test_mse = evaluate(loss_fn, params, (x_test, y_test))["loss"]
    learned = params["w"][:, 0] / std  # undo the standardisation to compare with the true coefficients
    r2 = 1 - test_mse / float(np.var(y_test))
    print("true coefficients:   ", np.round(coef, 3))
    print("learned coefficients:", np.round(learned, 3))
    print(f"final test MSE: {test_mse:.4f} (noise variance 0.01), R^2 = {r2:.4f}")
    return test_mse


if __name__ == "__main__":
    main()
