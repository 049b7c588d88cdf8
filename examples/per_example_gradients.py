"""Differentially private SGD (DP-SGD) on MNIST, with per-example gradients from ``vmap``.

Each step takes the gradient of every example's loss separately,
``vmap(grad(example_loss), in_axes=(None, 0, 0))``, scales each down to an L2 norm of at
most ``--clip`` (so that no one example can move the model much), adds them up, adds
Gaussian noise of standard deviation ``--noise * --clip`` drawn from an explicit key, and
divides by the batch size (Abadi et al., 2016). The same model is then trained without
privacy (one batched gradient per step, SGD with momentum) for comparison.

The default model is a small tanh CNN (26,000 parameters: the noise grows with their
number); on standardized pixels, with clip 1.0, noise multiplier 1.0 and batch 256, five
epochs reach 96.6 % test accuracy privately and 98.5 % without (about 20 s per epoch on
two cores). ``--model mlp`` trains a 784-128-10 MLP instead, which stalls near 91 %.
The privacy budget (epsilon) is not computed here; an accountant for the sampled Gaussian
mechanism gives it from the sampling rate, the noise multiplier and the number of steps.

    python examples/per_example_gradients.py [--epochs 5] [--batch-size 256] [--clip 1.0] [--noise 1.0] [--model cnn]
"""
from __future__ import annotations

import argparse
import time

import numpy as np

import funcnn as fn
import funcnn.numpy as fnp
from funcnn import data, losses, nn, optim, random, tree_util

SIZES = (784, 128, 10)  # the MLP; the CNN (the default) is below


def init_params(key, sizes=SIZES):
    """He-uniform weights and zero biases."""
    params = {}
    for i, (fan_in, fan_out) in enumerate(zip(sizes[:-1], sizes[1:])):
        key, sub = random.split(key)
        bound = np.sqrt(6.0 / fan_in)
        params[f"dense_{i}"] = {"w": random.uniform(sub, (fan_in, fan_out), np.float32, -bound, bound),
                                "b": np.zeros(fan_out, np.float32)}
    return params


def predict(params, x):
    """Logits of the CNN or the MLP, whichever ``params`` are for."""
    return predict_cnn(params, x) if "conv_0" in params else predict_mlp(params, x)


def predict_mlp(params, x):
    """Logits for a batch of flattened images (or for one image, of shape (784,))."""
    layers = [params[f"dense_{i}"] for i in range(len(params))]
    for layer in layers[:-1]:
        x = fnp.tanh(x @ layer["w"] + layer["b"])
    return x @ layers[-1]["w"] + layers[-1]["b"]


def init_cnn(key):
    """A small CNN for private training (few parameters: less noise in all): conv 16 8x8 /2,
    pool, conv 32 4x4 /2, pool, dense 32, dense 10, as in Opacus's MNIST example."""
    shapes = {"conv_0": (16, 1, 8, 8), "conv_1": (32, 16, 4, 4), "dense_0": (512, 32), "dense_1": (32, 10)}
    params = {}
    for name, shape in shapes.items():
        key, sub = random.split(key)
        fan_in = int(np.prod(shape[1:])) if name.startswith("conv") else shape[0]
        bound = 1 / np.sqrt(fan_in)
        params[name] = {"w": random.uniform(sub, shape, np.float32, -bound, bound),
                        "b": np.zeros(shape[0] if name.startswith("conv") else shape[1], np.float32)}
    return params


def predict_cnn(params, x):
    """Logits for images of shape (batch, 784), or (784,) for one."""
    single = x.ndim == 1
    x = fnp.reshape(x, (-1, 1, 28, 28))
    x = fnp.tanh(nn.conv2d(x, params["conv_0"]["w"], params["conv_0"]["b"], stride=2, padding=3))
    x = nn.max_pool2d(x, 2, stride=1)
    x = fnp.tanh(nn.conv2d(x, params["conv_1"]["w"], params["conv_1"]["b"], stride=2))
    x = fnp.reshape(nn.max_pool2d(x, 2, stride=1), (x.shape[0], -1))
    x = fnp.tanh(x @ params["dense_0"]["w"] + params["dense_0"]["b"])
    logits = x @ params["dense_1"]["w"] + params["dense_1"]["b"]
    return logits[0] if single else logits


def example_loss(params, x, label):
    """The loss of ONE example: an image of shape (784,) and its label, a scalar."""
    return losses.cross_entropy(predict(params, x)[None], label[None])


per_example_grads = fn.vmap(fn.grad(example_loss), in_axes=(None, 0, 0))


def private_gradient(params, x, labels, key, clip, noise):
    """The DP-SGD gradient: per-example gradients clipped to L2 norm ``clip``, summed, plus
    N(0, (noise * clip)^2) noise on every coordinate, divided by the batch size."""
    grads = per_example_grads(params, x, labels)  # each leaf: (batch, *its shape)
    leaves, tree = tree_util.tree_flatten(grads)
    norms = fnp.sqrt(sum(fnp.sum(fnp.reshape(g, (g.shape[0], -1)) ** 2, axis=1) for g in leaves))
    scale = fnp.minimum(1.0, clip / (norms + 1e-12))  # one factor per example
    keys = random.split(key, len(leaves))
    noisy = []
    for g, k in zip(leaves, keys):
        clipped_sum = fnp.tensordot(scale, g, axes=1)  # sum over the batch of scale_i * g_i
        noisy.append((clipped_sum + noise * clip * random.normal(k, g.shape[1:], g.dtype)) / g.shape[0])
    return tree_util.tree_unflatten(tree, noisy)


def accuracy(params, x, labels, batch_size=2000):
    hits = sum(int(np.sum(np.argmax(predict(params, xb), axis=1) == yb))
               for xb, yb in data.batches((x, labels), batch_size))
    return hits / len(labels)


def make_private_step(optimizer, clip, noise):
    """One DP-SGD step, compiled with ``jit``."""
    def private_step(params, opt_state, x, labels, key):
        grads = private_gradient(params, x, labels, key, clip, noise)
        updates, opt_state = optimizer.update(grads, opt_state, params)
        return optim.apply_updates(params, updates), opt_state
    return fn.jit(private_step, donate_argnums=(0, 1))


def make_plain_step(optimizer):
    """The ordinary step (one batched gradient, no clipping, no noise), for comparison."""
    def plain_step(params, opt_state, x, labels, key):
        grads = fn.grad(lambda p: losses.cross_entropy(predict(p, x), labels))(params)
        updates, opt_state = optimizer.update(grads, opt_state, params)
        return optim.apply_updates(params, updates), opt_state
    return fn.jit(plain_step, donate_argnums=(0, 1))


def train(step, params, optimizer, x_train, y_train, x_test, y_test, args, key, name):
    opt_state = optimizer.init(params)
    for epoch in range(1, args.epochs + 1):
        key, epoch_key = random.split(key)
        start = time.perf_counter()
        for xb, yb in data.batches((x_train, y_train), args.batch_size, key=epoch_key, drop_last=True):
            key, step_key = random.split(key)
            params, opt_state = step(params, opt_state, xb, yb, step_key)
        print(f"{name} epoch {epoch}/{args.epochs}  {time.perf_counter() - start:.1f}s  "
              f"test_acc={accuracy(params, x_test, y_test):.4f}", flush=True)
    return accuracy(params, x_test, y_test)


MNIST_MEAN, MNIST_STD = 0.1307, 0.3081


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", choices=("cnn", "mlp"), default="cnn")
    parser.add_argument("--epochs", type=int, default=5)
    parser.add_argument("--batch-size", type=int, default=256)
    parser.add_argument("--lr", type=float, default=0.5, help="SGD learning rate of the private run")
    parser.add_argument("--baseline-lr", type=float, default=0.05, help="SGD learning rate of the non-private run")
    parser.add_argument("--clip", type=float, default=1.0, help="the L2 norm each example's gradient is clipped to")
    parser.add_argument("--noise", type=float, default=1.0, help="noise standard deviation, in units of --clip")
    parser.add_argument("--train-size", type=int, default=None, help="use only the first N training images")
    parser.add_argument("--no-baseline", action="store_true", help="skip the non-private run")
    parser.add_argument("--data-dir", default=None, help="folder with mnist/ (default: FUNCNN_DATA, then the cache)")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)

    x_train, y_train, x_test, y_test = data.mnist(args.data_dir, flatten=True)
    x_train, x_test = (x_train - MNIST_MEAN) / MNIST_STD, (x_test - MNIST_MEAN) / MNIST_STD
    if args.train_size:
        x_train, y_train = x_train[: args.train_size], y_train[: args.train_size]
    key, init_key = random.split(random.key(args.seed))
    init = init_cnn if args.model == "cnn" else init_params
    print(f"DP-SGD on a {args.model}: clip {args.clip}, noise multiplier {args.noise}, sampling rate "
          f"{args.batch_size / len(x_train):.4f}, {args.epochs * (len(x_train) // args.batch_size)} steps")
    optimizer = optim.sgd(args.lr)
    private_step = make_private_step(optimizer, args.clip, args.noise)
    private = train(private_step, init(init_key), optimizer, x_train, y_train, x_test, y_test, args, key, "private")
    print(f"private test accuracy: {private:.4f}")
    if not args.no_baseline:
        optimizer = optim.sgd(args.baseline_lr, momentum=0.9)
        plain = train(make_plain_step(optimizer), init(init_key), optimizer, x_train, y_train, x_test, y_test, args,
                      key, "non-private")
        print(f"non-private test accuracy: {plain:.4f}")
    return private


if __name__ == "__main__":
    main()
