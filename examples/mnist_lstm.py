"""Classify MNIST digits with an LSTM that reads each image row by row (28 steps of 28 pixels).

The model is ``nn.serial(nn.LSTM(128, return_sequences=False), nn.Dense(10))``: the LSTM's
last output goes to a dense head. The training step (loss, gradients, gradient clipping,
Adam with a warm-up and cosine decay) is one function compiled with ``funcnn.jit``, whose
loop over the 28 rows is a single ``funcnn.lax.scan``. After every epoch the parameters,
the optimizer state and the epoch are saved with ``funcnn.io``; ``--resume`` continues
from that checkpoint (with the same ``--epochs``, the schedule goes on where it stopped).

    python examples/mnist_lstm.py [--epochs 6] [--batch-size 128] [--lr 2e-3] [--checkpoint PATH] [--resume]
        [--stop-after EPOCH] [--train-size N] [--test-size N] [--hidden 128] [--data-dir DIR]
"""
from __future__ import annotations

import argparse
import os
import time

import numpy as np

import funcnn as fn
from funcnn import data, io, losses, nn, optim, random

HIDDEN = 128


def build_model(hidden=HIDDEN):
    """(batch, 28 rows, 28 pixels) -> LSTM(hidden), its last output -> dense 10."""
    return nn.serial(nn.LSTM(hidden, return_sequences=False), nn.Dense(10))


def make_steps(model, optimizer):
    """The jitted training step and the jitted prediction of a batch."""
    def loss_fn(params, x, labels):
        return losses.cross_entropy(model.apply(params, x), labels)

    def train_step(params, opt_state, x, labels):
        loss, grads = fn.value_and_grad(loss_fn)(params, x, labels)
        updates, opt_state = optimizer.update(grads, opt_state, params)
        return optim.apply_updates(params, updates), opt_state, loss

    # donated: the update may overwrite the old parameters' and moments' buffers, which the loop drops
    return fn.jit(train_step, donate_argnums=(0, 1)), fn.jit(model.apply)


def accuracy(predict, params, x, labels, batch_size=1000):
    hits = sum(int(np.sum(np.argmax(predict(params, xb), axis=1) == yb))
               for xb, yb in data.batches((x, labels), batch_size))
    return hits / len(labels)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--epochs", type=int, default=6)
    parser.add_argument("--batch-size", type=int, default=128)
    parser.add_argument("--lr", type=float, default=2e-3, help="peak learning rate (after a short warm-up)")
    parser.add_argument("--hidden", type=int, default=HIDDEN, help="LSTM hidden units")
    parser.add_argument("--train-size", type=int, default=None, help="use only the first N training images")
    parser.add_argument("--test-size", type=int, default=None, help="evaluate on the first N test images only")
    parser.add_argument("--data-dir", default=None, help="folder with mnist/ (default: FUNCNN_DATA, then the cache)")
    parser.add_argument("--checkpoint", default="mnist_lstm.npz", help="where to save after every epoch ('' for "
                        "nowhere)")
    parser.add_argument("--resume", action="store_true", help="continue from --checkpoint")
    parser.add_argument("--stop-after", type=int, default=None, metavar="EPOCH",
                        help="end the run after this epoch, as if interrupted (--resume continues it)")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)

    x_train, y_train, x_test, y_test = data.mnist(args.data_dir)  # (N, 28, 28): 28 rows of 28 pixels
    if args.train_size:
        x_train, y_train = x_train[: args.train_size], y_train[: args.train_size]
    if args.test_size:
        x_test, y_test = x_test[: args.test_size], y_test[: args.test_size]
    model = build_model(args.hidden)
    _, params = model.init(random.key(args.seed), (-1, 28, 28))
    steps_per_epoch = -(-len(x_train) // args.batch_size)
    total = args.epochs * steps_per_epoch
    schedule = optim.warmup_cosine_decay(0.0, args.lr, min(300, total // 10), total)
    optimizer = optim.chain(optim.clip_by_global_norm(1.0), optim.adam(schedule))
    opt_state = optimizer.init(params)
    train_step, predict = make_steps(model, optimizer)

    first_epoch = 1
    if args.resume:
        template = {"params": params, "opt_state": opt_state, "epoch": np.array(0)}
        saved = io.load(args.checkpoint, like=template)
        params, opt_state, first_epoch = saved["params"], saved["opt_state"], int(saved["epoch"]) + 1
        print(f"resumed from {args.checkpoint} after epoch {first_epoch - 1}", flush=True)

    test_acc = accuracy(predict, params, x_test, y_test)
    shuffle_key = random.key(args.seed + 1)
    last_epoch = args.epochs if args.stop_after is None else min(args.epochs, args.stop_after)
    for epoch in range(first_epoch, last_epoch + 1):
        start, losses_ = time.perf_counter(), []
        batches = data.batches((x_train, y_train), args.batch_size, key=random.fold_in(shuffle_key, epoch))
        for xb, yb in batches:
            params, opt_state, loss = train_step(params, opt_state, xb, yb)
            losses_.append(float(loss))
        seconds = time.perf_counter() - start
        test_acc = accuracy(predict, params, x_test, y_test)
        print(f"Epoch {epoch}/{args.epochs}  {seconds:.1f} s/epoch  loss={np.mean(losses_):.4f}  "
              f"test_acc={test_acc:.4f}", flush=True)
        if args.checkpoint:
            folder = os.path.dirname(os.path.abspath(args.checkpoint))
            os.makedirs(folder, exist_ok=True)
            io.save(args.checkpoint, {"params": params, "opt_state": opt_state, "epoch": np.array(epoch)})
    print(f"final test accuracy: {test_acc:.4f}")
    return test_acc


if __name__ == "__main__":
    main()
