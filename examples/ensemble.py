"""Train an ensemble of MLPs on MNIST at once: ``vmap`` over stacked parameters.

``vmap(init_params)`` over a batch of keys makes ``--models`` independent networks whose
parameters are stacked along a new leading axis. The training step is the gradient of the
summed losses of ``vmap(loss_fn, in_axes=(0, None, None))``: every model sees the same
mini-batch, each gets its own gradient (the sum separates), and Adam, which acts on each
coordinate alone, updates all of them as one pytree. Prints each model's test accuracy
and that of the ensemble (the mean of the models' predicted probabilities): after the
default 3 epochs, 97.0-97.3 % for the models and 97.35 % for the ensemble, about 6 s per
epoch for all eight on two cores.

    python examples/ensemble.py [--models 8] [--epochs 3] [--batch-size 128] [--lr 1e-3]
"""
from __future__ import annotations

import argparse
import time

import numpy as np

import funcnn as fn
import funcnn.numpy as fnp
from funcnn import data, losses, nn, optim, random, tree_util

SIZES = (784, 256, 10)


def init_params(key, sizes=SIZES):
    """One model: He-uniform weights and zero biases."""
    params = {}
    for i, (fan_in, fan_out) in enumerate(zip(sizes[:-1], sizes[1:])):
        key, sub = random.split(key)
        bound = np.sqrt(6.0 / fan_in)
        params[f"dense_{i}"] = {"w": random.uniform(sub, (fan_in, fan_out), np.float32, -bound, bound),
                                "b": fnp.zeros(fan_out, np.float32)}
    return params


def predict(params, x):
    """One model's logits for a batch of flattened images."""
    layers = [params[f"dense_{i}"] for i in range(len(params))]
    for layer in layers[:-1]:
        x = nn.relu(x @ layer["w"] + layer["b"])
    return x @ layers[-1]["w"] + layers[-1]["b"]


def loss_fn(params, x, labels):
    return losses.cross_entropy(predict(params, x), labels)


predict_all = fn.vmap(predict, in_axes=(0, None))  # (models, batch, 10)


def make_train_step(optimizer):
    def total_loss(stacked, x, labels):
        return fnp.sum(fn.vmap(loss_fn, in_axes=(0, None, None))(stacked, x, labels))

    def train_step(stacked, opt_state, x, labels):
        loss, grads = fn.value_and_grad(total_loss)(stacked, x, labels)  # grads stacked like the params
        updates, opt_state = optimizer.update(grads, opt_state, stacked)
        return optim.apply_updates(stacked, updates), opt_state, loss
    return fn.jit(train_step, donate_argnums=(0, 1))


def accuracies(stacked, x, labels, batch_size=2000):
    """Each model's accuracy, and the ensemble's (mean of the models' probabilities)."""
    hits, ensemble_hits = 0, 0
    for xb, yb in data.batches((x, labels), batch_size):
        logits = np.asarray(predict_all(stacked, xb))
        hits = hits + np.sum(np.argmax(logits, axis=2) == yb, axis=1)
        probs = np.asarray(nn.softmax(logits, axis=-1)).mean(axis=0)
        ensemble_hits += int(np.sum(np.argmax(probs, axis=1) == yb))
    return hits / len(labels), ensemble_hits / len(labels)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--models", type=int, default=8)
    parser.add_argument("--epochs", type=int, default=3)
    parser.add_argument("--batch-size", type=int, default=128)
    parser.add_argument("--lr", type=float, default=1e-3)
    parser.add_argument("--train-size", type=int, default=None, help="use only the first N training images")
    parser.add_argument("--data-dir", default=None, help="folder with mnist/ (default: FUNCNN_DATA, then the cache)")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)

    x_train, y_train, x_test, y_test = data.mnist(args.data_dir, flatten=True)
    if args.train_size:
        x_train, y_train = x_train[: args.train_size], y_train[: args.train_size]
    key, init_key = random.split(random.key(args.seed))
    stacked = fn.vmap(init_params)(random.split(init_key, args.models))  # every leaf: (models, ...)
    print("parameters:", tree_util.tree_map(np.shape, stacked))
    optimizer = optim.adam(args.lr)
    opt_state = optimizer.init(stacked)
    train_step = make_train_step(optimizer)
    for epoch in range(1, args.epochs + 1):
        key, epoch_key = random.split(key)
        start, total = time.perf_counter(), []
        for xb, yb in data.batches((x_train, y_train), args.batch_size, key=epoch_key):
            stacked, opt_state, loss = train_step(stacked, opt_state, xb, yb)
            total.append(float(loss) / args.models)
        each, together = accuracies(stacked, x_test, y_test)
        print(f"epoch {epoch}/{args.epochs}  {time.perf_counter() - start:.1f}s  mean loss={np.mean(total):.4f}  "
              f"models' test_acc {each.min():.4f}-{each.max():.4f}  ensemble {together:.4f}", flush=True)
    each, together = accuracies(stacked, x_test, y_test)
    print("test accuracy of each model:", " ".join(f"{a:.4f}" for a in each))
    print(f"mean of the models: {each.mean():.4f}   ensemble: {together:.4f}")
    return each, together


if __name__ == "__main__":
    main()
