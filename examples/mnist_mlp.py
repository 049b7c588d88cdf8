"""Train a 784-256-128-32-10 ReLU MLP on MNIST with softmax cross-entropy and Adam.

The model is a plain function of a dict of parameters; the training step is
``value_and_grad`` + ``optimizer.update`` + ``apply_updates``, as one function compiled
with ``funcnn.jit`` (``--no-jit`` runs it eagerly). The learning rate follows a
one-cycle schedule (warm up to ``--lr``, then anneal), which reaches 98% test accuracy
in 10 epochs where a constant rate stops near 97.7%.

    python examples/mnist_mlp.py [--epochs 10] [--batch-size 64] [--lr 1e-3] [--constant-lr] [--no-jit]
"""
from __future__ import annotations

import argparse
import time

import numpy as np

import funcnn as fn
import funcnn.numpy as fnp
from funcnn import data, optim, random

SIZES = (784, 256, 128, 32, 10)


def init_params(key, sizes=SIZES):
    """He-uniform weights and zero biases, as in PyTorch's defaults for ReLU nets."""
    params = {}
    for i, (fan_in, fan_out) in enumerate(zip(sizes[:-1], sizes[1:])):
        key, sub = random.split(key)
        bound = np.sqrt(6.0 / fan_in)
        params[f"dense_{i}"] = {
            "w": random.uniform(sub, (fan_in, fan_out), np.float32, -bound, bound),
            "b": np.zeros(fan_out, np.float32),
        }
    return params


def predict(params, x):
    """Logits of shape (batch, 10) for images of shape (batch, 784)."""
    layers = [params[f"dense_{i}"] for i in range(len(params))]
    for layer in layers[:-1]:
        x = fnp.maximum(x @ layer["w"] + layer["b"], 0.0)
    return x @ layers[-1]["w"] + layers[-1]["b"]


def loss_fn(params, x, labels):
    """Mean softmax cross-entropy on logits, with integer labels."""
    logits = predict(params, x)
    picked = fnp.take_along_axis(logits, labels[:, None], axis=1)[:, 0]
    return fnp.mean(fnp.logsumexp(logits, axis=1) - picked)


def accuracy(params, x, labels, batch_size=2000):
    hits = sum(int(np.sum(np.argmax(predict(params, xb), axis=1) == yb))
               for xb, yb in data.batches((x, labels), batch_size))
    return hits / len(labels)


def make_train_step(optimizer):
    """One step: loss and gradients, the optimizer's update, the new parameters."""
    def train_step(params, opt_state, x, labels):
        loss, grads = fn.value_and_grad(loss_fn)(params, x, labels)
        updates, opt_state = optimizer.update(grads, opt_state, params)
        return optim.apply_updates(params, updates), opt_state, loss
    return train_step


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--epochs", type=int, default=10)
    parser.add_argument("--batch-size", type=int, default=64)
    parser.add_argument("--lr", type=float, default=1e-3, help="peak learning rate")
    parser.add_argument("--constant-lr", action="store_true", help="keep the learning rate at --lr throughout")
    parser.add_argument("--train-size", type=int, default=None, help="use only the first N training images")
    parser.add_argument("--data-dir", default=None, help="folder with mnist/ (default: FUNCNN_DATA, then the cache)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--no-jit", action="store_true", help="run the training step eagerly, without funcnn.jit")
    args = parser.parse_args(argv)

    x_train, y_train, x_test, y_test = data.mnist(args.data_dir, flatten=True)
    if args.train_size:
        x_train, y_train = x_train[: args.train_size], y_train[: args.train_size]
    key = random.key(args.seed)
    key, init_key = random.split(key)
    params = init_params(init_key)
    steps = args.epochs * -(-len(x_train) // args.batch_size)
    optimizer = optim.adam(args.lr if args.constant_lr else optim.one_cycle(steps, args.lr))
    opt_state = optimizer.init(params)
    train_step = make_train_step(optimizer)
    # donated: the update may overwrite the old parameters' and moments' buffers, which this loop drops
    step = train_step if args.no_jit else fn.jit(train_step, donate_argnums=(0, 1))

    for epoch in range(1, args.epochs + 1):
        key, epoch_key = random.split(key)
        start, losses = time.perf_counter(), []
        steps_per_epoch = -(-len(x_train) // args.batch_size)
        for i, (xb, yb) in enumerate(data.batches((x_train, y_train), args.batch_size, key=epoch_key), 1):
            params, opt_state, loss = step(params, opt_state, xb, yb)
            losses.append(float(loss))
            if i % max(steps_per_epoch // 4, 1) == 0 and i < steps_per_epoch:  # progress within the epoch
                print(f"  step {i}/{steps_per_epoch}  loss={np.mean(losses):.4f}  "
                      f"{i / (time.perf_counter() - start):.0f} steps/s", flush=True)
        seconds = time.perf_counter() - start
        print(f"Epoch {epoch}/{args.epochs}  {seconds:.1f}s  loss={np.mean(losses):.4f}  "
              f"test_acc={accuracy(params, x_test, y_test):.4f}", flush=True)
    test_acc = accuracy(params, x_test, y_test)
    print(f"final test accuracy: {test_acc:.4f}")
    return test_acc


if __name__ == "__main__":
    main()
