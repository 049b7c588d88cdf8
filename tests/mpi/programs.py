"""Programs that tests/test_distributed.py runs under ``mpiexec -n 2``: ``python programs.py CASE OUT``.

Each case checks what it can in every process and writes its results (rank 0) to the file
OUT for the test to compare with a single-process run.
"""
import os
import sys

import numpy as np

import funcnn as fn
import funcnn.numpy as fnp
from funcnn import distributed as dist
from funcnn import io, losses, nn, optim, random
from funcnn.train import Callback, Checkpoint, EarlyStopping, fit


def collectives(out):
    r, size = dist.rank(), dist.world_size()
    assert size == 2 and dist.is_main() == (r == 0)
    tree = {"w": np.full((3, 2), r + 1, np.float32), "b": np.arange(4.0) * (r + 1), "n": np.int64(r + 5),
            "h": np.full(5, 0.5 * (r + 1), np.float16), "big": np.full(300_000, r + 1.0, np.float32)}
    summed = dist.all_reduce_sum(tree)
    assert summed["w"].dtype == np.float32 and np.all(summed["w"] == 3) and summed["n"] == 11
    assert np.array_equal(summed["b"], np.arange(4.0) * 3) and summed["h"].dtype == np.float16
    assert np.all(summed["h"] == 1.5) and np.all(summed["big"] == 3)
    floats = {k: v for k, v in tree.items() if k != "n"}
    mean = dist.all_reduce_mean(floats, bucket_bytes=64)  # small buckets: several collectives
    assert np.all(mean["w"] == 1.5) and np.all(mean["big"] == 1.5)
    jitted = fn.jit(lambda t: dist.all_reduce_mean(t))(floats)
    assert all(np.array_equal(jitted[k], mean[k]) for k in floats)
    # d/dx of sum over processes of sum(mean(x)^2): 2 * mean(x) on each process
    grad = fn.grad(lambda x: fnp.sum(dist.all_reduce_mean(x) ** 2))(np.arange(3.0) * (r + 1))
    assert np.allclose(grad, 2 * np.arange(3.0) * 1.5), grad
    batched = fn.vmap(lambda x: dist.all_reduce_sum(x))(np.ones((4, 3)) * (r + 1))
    assert np.all(batched == 3)
    got = dist.broadcast({"p": np.full(3, float(r)), "h": np.full(2, r, np.float16)}, root=1)
    assert np.all(got["p"] == 1.0) and got["h"].dtype == np.float16 and np.all(got["h"] == 1)
    gathered = dist.all_gather({"r": np.array([r, 10 * r])})
    assert np.array_equal(gathered["r"], [[0, 0], [1, 10]])
    try:
        dist.all_reduce_mean({"n": np.int64(1)})
    except TypeError as err:
        assert "['n']" in str(err) and "floating-point" in str(err)
    else:
        raise AssertionError("a mean of integers was accepted")
    dist.barrier()
    if dist.is_main():
        with open(out, "w") as f:
            f.write("ok")


def mismatch(out):
    params = {"dense": {"w": np.zeros((3, 4 + dist.rank()), np.float32)}}
    try:
        dist.data_parallel(optim.sgd(0.1)).init(params)
    except ValueError as err:
        with open(f"{out}.{dist.rank()}", "w") as f:
            f.write(str(err))
    else:
        raise AssertionError("different parameters on the two processes were accepted")


def failure(out):
    if dist.rank() == 1:
        with dist.abort_on_error():
            raise RuntimeError("rank 1 cannot go on")
    dist.barrier()  # rank 0 would wait here forever without the abort


def mnist_mlp():
    x_train, y_train, _, _ = __import__("funcnn").data.mnist(flatten=True)
    model = nn.serial(nn.Dense(128), nn.Relu, nn.Dense(10))
    _, params = model.init(random.key(0), (-1, 784))

    def loss_fn(params, x, y):
        logits = model.apply(params, x)
        return losses.cross_entropy(logits, y), logits
    return loss_fn, params, (x_train, y_train)


def mnist(out, optimizer):
    """One epoch on MNIST: per-process batch 32 here, batch 64 in the single-process run."""
    loss_fn, params, data = mnist_mlp()
    batch = 32 if dist.world_size() == 2 else 64
    params, _, history = fit(loss_fn, params, optimizer, data, epochs=1, batch_size=batch,
                             key=random.key(1), verbose=0, distributed=dist.world_size() == 2)
    if dist.is_main():
        io.save(out, {"params": params, "loss": np.array(history["loss"])})


def mnist_sgd(out):
    mnist(out, optim.sgd(0.05, momentum=0.9))


def mnist_adam(out):
    mnist(out, optim.adam(1e-3))


class StopOnRankOne(Callback):
    """Stops training at epoch 2 in process 1 only: both must stop together."""

    def on_epoch_end(self, run, logs):
        if dist.rank() == 1 and run.epoch == 2:
            return run._replace(stop_training=True)
        return None


def agreement(out):
    rng = np.random.default_rng(0)
    x = rng.standard_normal((203, 4)).astype(np.float32)  # 181 to train: a last global batch of 21, split 11 + 10
    y = (x @ np.array([1.0, -1.0, 0.5, 2.0], np.float32)).astype(np.float32)
    model = nn.serial(nn.Dense(8), nn.BatchNorm(), nn.Relu, nn.Dense(1))
    _, params, state = model.init_with_state(random.key(2), (-1, 4))

    def loss_fn(params, x, y, *, train, state):
        pred, state = model.apply(params, x, train=train, state=state)
        return fnp.mean((pred[:, 0] - y) ** 2), {"outputs": pred, "state": state}

    folder = os.path.join(os.path.dirname(out), "run")
    callbacks = [StopOnRankOne(), EarlyStopping("val_loss", patience=20), Checkpoint(folder)]
    params, _, history, state = fit(loss_fn, params, optim.adam(0.01), (x[:181], y[:181]), epochs=6,
                                    batch_size=16, key=random.key(3), val_data=(x[181:], y[181:]), state=state,
                                    callbacks=callbacks, verbose=1, distributed=True)
    assert len(history["loss"]) == 2, history
    everyone = dist.all_gather({"p": params, "s": state, "loss": np.array(history["val_loss"])})
    for leaf in fn.tree_util.tree_leaves(everyone):
        assert np.array_equal(leaf[0], leaf[1]), "the processes ended with different values"
    if dist.is_main():
        io.save(out, {"files": np.array(sorted(os.listdir(folder)))})


if __name__ == "__main__":
    case, out = sys.argv[1], sys.argv[2]
    globals()[case](out)
