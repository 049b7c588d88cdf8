"""Train the MNIST MLP data-parallel over MPI: every process takes its part of each batch.

    mpiexec -n 2 python examples/mnist_distributed.py [--epochs 10] [--batch-size 64]
    # as root, and with more processes than cores, Open MPI wants:
    mpiexec --allow-run-as-root --oversubscribe -n 2 python examples/mnist_distributed.py

Needs ``pip install "funcnn[mpi]"`` (mpi4py and Open MPI). ``--batch-size`` is the global
batch: each of the N processes trains on batch-size / N samples a step, and the gradients
are averaged, so the run takes the steps a single process with the global batch would
take. Run without ``mpiexec`` it trains in one process. Only rank 0 prints.
"""
from __future__ import annotations

import argparse
import os

# One BLAS thread per core: N processes on one machine share its cores (set before NumPy loads).
_LOCAL_PROCESSES = int(os.environ.get("OMPI_COMM_WORLD_LOCAL_SIZE") or os.environ.get("MPI_LOCALNRANKS") or 1)
os.environ.setdefault("OMP_NUM_THREADS", str(max((os.cpu_count() or 1) // _LOCAL_PROCESSES, 1)))

from funcnn import data, distributed, losses, metrics, nn, optim, random  # noqa: E402
from funcnn.train import Checkpoint, evaluate, fit  # noqa: E402


def build_model() -> nn.Layer:
    """784-256-128-32-10 with ReLU, as examples/mnist_mlp.py."""
    return nn.serial(nn.Dense(256), nn.Relu, nn.Dense(128), nn.Relu, nn.Dense(32), nn.Relu, nn.Dense(10))


def main(argv: list[str] | None = None) -> float:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--epochs", type=int, default=10)
    parser.add_argument("--batch-size", type=int, default=64, help="global batch, over all processes")
    parser.add_argument("--lr", type=float, default=1e-3, help="peak learning rate")
    parser.add_argument("--train-size", type=int, default=None, help="use only the first N training images")
    parser.add_argument("--data-dir", default=None, help="folder with mnist/ (default: FUNCNN_DATA, then the cache)")
    parser.add_argument("--checkpoint", default=None, help="folder to save the run in, and to resume it from")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)

    processes = distributed.world_size()
    if args.batch_size % processes:
        raise SystemExit(f"--batch-size {args.batch_size} must be a multiple of the {processes} processes")
    x_train, y_train, x_test, y_test = data.mnist(args.data_dir, flatten=True)
    x_train, y_train = x_train[: args.train_size], y_train[: args.train_size]
    model = build_model()
    _, params = model.init(random.key(args.seed), (-1, 784))  # every process the same; fit broadcasts rank 0's

    def loss_fn(params, x, labels):
        logits = model.apply(params, x)
        return losses.cross_entropy(logits, labels), logits

    steps = args.epochs * -(-len(x_train) // args.batch_size)
    callbacks = [Checkpoint(args.checkpoint)] if args.checkpoint else []
    params, _, _ = fit(loss_fn, params, optim.adam(optim.one_cycle(steps, args.lr)), (x_train, y_train),
                       epochs=args.epochs, batch_size=args.batch_size // processes, key=random.key(args.seed + 1),
                       val_data=(x_test, y_test), metrics={"acc": metrics.accuracy}, callbacks=callbacks,
                       resume=bool(args.checkpoint), verbose=2, distributed=True)
    accuracy = evaluate(loss_fn, params, (x_test, y_test), metrics={"acc": metrics.accuracy})["acc"]
    if distributed.is_main():
        print(f"{processes} processes, global batch {args.batch_size}: final test accuracy {accuracy:.4f}")
    return accuracy


if __name__ == "__main__":
    main()
