"""Callbacks of funcnn.train: EarlyStopping (best params and state, Keras's patience),
ModelCheckpoint, ReduceLROnPlateau, CSVLogger, and their errors."""
import csv

import numpy as np
import pytest

from funcnn import io, losses, nn, optim, random
from funcnn.train import (CSVLogger, EarlyStopping, ModelCheckpoint, ReduceLROnPlateau, TrainState, evaluate,
                          fit)


def run_at(epoch, params=None, opt_state=None):
    return TrainState(params, opt_state, None, None, step=epoch, epoch=epoch, step_in_epoch=0, history={},
                      running={"count": 0, "sums": {}}, callbacks={})


def feed(callback, values, opt_state=None):
    """Epochs 1, 2, ... logging ``values``; returns the epochs at which training stopped, and the run."""
    run, stopped = run_at(0, opt_state=opt_state), []
    for epoch, value in enumerate(values, 1):
        run = run._replace(epoch=epoch, params={"epoch": epoch}, stop_training=False)
        run = callback.on_epoch_end(run, {"val_loss": value}) or run
        if run.stop_training:
            stopped.append(epoch)
    return stopped, run


def test_early_stopping_counts_patience_as_keras_does():
    # best at epoch 2, then 3 epochs without improvement: patience=3 stops at epoch 5
    stopped, _ = feed(EarlyStopping(patience=3), [1.0, 0.5, 0.6, 0.7, 0.8, 0.9])
    assert stopped[0] == 5
    stopped, _ = feed(EarlyStopping(patience=0), [1.0, 0.5, 0.6])
    assert stopped[0] == 3
    # min_delta: an improvement of 0.05 does not count with min_delta=0.1
    stopped, _ = feed(EarlyStopping(patience=2, min_delta=0.1), [1.0, 0.95, 0.9, 0.85])
    assert stopped[0] == 3
    # start_from_epoch: no stopping during the first epochs
    stopped, _ = feed(EarlyStopping(patience=1, start_from_epoch=3), [1.0, 2.0, 3.0, 4.0])
    assert stopped[0] == 4
    # NaN never improves
    stopped, _ = feed(EarlyStopping(patience=1), [1.0, float("nan")])
    assert stopped == [2]


def test_early_stopping_mode_max_and_restore():
    stop = EarlyStopping("val_acc", patience=1)
    assert stop.track.mode == "max"
    run = run_at(0)
    for epoch, acc in enumerate([0.5, 0.9, 0.8], 1):
        run = stop.on_epoch_end(run._replace(epoch=epoch, params={"e": epoch}), {"val_acc": acc}) or run
    assert run.stop_training and stop.on_train_end(run).params == {"e": 2}
    assert EarlyStopping(restore_best=False).on_train_end(run) is None
    with pytest.raises(ValueError, match="'val_loss' is not among the logged values.*pass val_data"):
        EarlyStopping().on_epoch_end(run, {"loss": 1.0})
    with pytest.raises(ValueError, match="patience"):
        EarlyStopping(patience=-1)
    with pytest.raises(ValueError, match="mode"):
        EarlyStopping(mode="up")


def bn_problem():
    rng = np.random.default_rng(0)
    x = (rng.standard_normal((400, 5)) * [1, 2, 3, 4, 5] + 3).astype(np.float32)
    y = (x[:, 0] - x[:, 1] / 2 > 2).astype(np.int64)
    model = nn.serial(nn.Dense(32), nn.BatchNorm(), nn.Relu, nn.Dense(2))
    _, params, state = model.init_with_state(random.key(0), (-1, 5))

    def loss_fn(params, x, y, *, train, state):
        logits, state = model.apply(params, x, train=train, state=state)
        return losses.cross_entropy(logits, y), {"outputs": logits, "state": state}
    return loss_fn, params, state, (x[:300], y[:300]), (x[300:], y[300:])


def test_early_stopping_returns_the_best_epochs_params_and_state():
    # regression: the best epoch's params came back with the last epoch's BatchNorm statistics
    loss_fn, params, state, train, val = bn_problem()
    stop = EarlyStopping("val_loss", patience=3)
    # a rate this high makes the validation loss bounce, so the best epoch is not the last
    params, _, history, state = fit(loss_fn, params, optim.sgd(0.8), train, epochs=40, batch_size=32,
                                    key=random.key(1), val_data=val, state=state, callbacks=[stop], verbose=0)
    assert stop.best_epoch < len(history["val_loss"])
    assert stop.best == min(history["val_loss"])
    assert evaluate(loss_fn, params, val, state=state)["loss"] == stop.best


def test_model_checkpoint_saves_the_best(tmp_path):
    loss_fn, params, state, train, val = bn_problem()
    path = tmp_path / "best.npz"
    every = str(tmp_path / "epoch-{epoch:02d}-{val_loss:.3f}.npz")
    params, _, history, state = fit(
        loss_fn, params, optim.sgd(0.8), train, epochs=8, batch_size=32, key=random.key(1), val_data=val,
        state=state, verbose=0, callbacks=[ModelCheckpoint(path, save_best_only=True), ModelCheckpoint(every)])
    best = int(np.argmin(history["val_loss"])) + 1
    saved = io.load(path)
    assert int(saved["epoch"]) == best and float(saved["val_loss"]) == min(history["val_loss"])
    assert evaluate(loss_fn, saved["params"], val, state=saved["model_state"])["loss"] == min(history["val_loss"])
    files = sorted(p.name for p in tmp_path.glob("epoch-*.npz"))
    assert len(files) == 8 and files[0] == f"epoch-01-{history['val_loss'][0]:.3f}.npz"


def test_reduce_lr_on_plateau_follows_keras():
    opt = optim.inject_hyperparams(optim.sgd)(learning_rate=1.0)
    state = opt.init({"w": np.zeros(2, np.float32)})
    reduce = ReduceLROnPlateau(factor=0.5, patience=2, cooldown=2, min_lr=0.2, min_delta=0.0)
    run = run_at(0, opt_state=state)
    rates = []
    # improvement, then a plateau: reductions at the 2nd epoch without improvement, then after the cooldown
    for epoch, value in enumerate([1.0, 1.0, 1.0, 1.0, 1.0, 1.0, 1.0, 1.0, 1.0], 1):
        run = reduce.on_epoch_end(run._replace(epoch=epoch), {"val_loss": value}) or run
        rates.append(float(optim.get_hyperparams(run.opt_state)["learning_rate"]))
    # Keras's order: the cooldown counter drops at the start of an epoch, so cooldown=2 skips one epoch:
    # wait 1, 2 -> 0.5; skip; wait 1, 2 -> 0.25; skip; wait 1, 2 -> 0.2 (min_lr)
    assert rates == [1.0, 1.0, 0.5, 0.5, 0.5, 0.25, 0.25, 0.25, 0.2]


def test_reduce_lr_on_plateau_in_fit_and_its_errors():
    loss_fn, params, state, train, val = bn_problem()
    with pytest.raises(ValueError, match="no hyper-parameter 'learning_rate'.*inject_hyperparams"):
        fit(loss_fn, params, optim.sgd(0.1), train, epochs=2, batch_size=64, key=random.key(1), val_data=val,
            state=state, verbose=0, callbacks=[ReduceLROnPlateau()])
    _, _, history, _ = fit(loss_fn, params, optim.inject_hyperparams(optim.sgd)(learning_rate=0.8), train,
                           epochs=10, batch_size=32, key=random.key(1), val_data=val, state=state, verbose=0,
                           callbacks=[ReduceLROnPlateau(factor=0.5, patience=1)])
    assert history["lr"][0] == pytest.approx(0.8) and history["lr"][-1] < 0.8
    with pytest.raises(ValueError, match="factor"):
        ReduceLROnPlateau(factor=1.5)


def test_csv_logger_writes_the_history(tmp_path):
    loss_fn, params, state, train, val = bn_problem()
    path = tmp_path / "log.csv"
    _, _, history, _ = fit(loss_fn, params, optim.sgd(0.1), train, epochs=3, batch_size=64, key=random.key(1),
                           val_data=val, state=state, verbose=0, callbacks=[CSVLogger(path)])
    with open(path) as f:
        rows = list(csv.reader(f))
    assert rows[0] == ["epoch", "loss", "val_loss", "seconds"]
    assert [int(r[0]) for r in rows[1:]] == [1, 2, 3]
    assert [float(r[1]) for r in rows[1:]] == history["loss"]
