"""funcnn.train: fit / evaluate loops, history, progress output, callbacks, errors."""
import numpy as np
import pytest

import funcnn.numpy as fnp
from funcnn import optim, random, tree_util
from funcnn.train import EarlyStopping, evaluate, fit, plot_history


def linear_data(n=200, seed=0):
    rng = np.random.default_rng(seed)
    x = rng.standard_normal((n, 3)).astype(np.float32)
    y = (x @ np.array([1.0, -2.0, 0.5], np.float32) + 0.3).astype(np.float32)
    return x, y


def mse_loss(params, x, y):
    pred = x @ params["w"] + params["b"]
    return fnp.mean((pred - y) ** 2), pred


def mae(pred, y):
    return float(np.mean(np.abs(pred - y)))


def init():
    return {"w": np.zeros(3, np.float32), "b": np.zeros((), np.float32)}


def test_fit_converges_and_records_history(capsys):
    x, y = linear_data()
    params, opt_state, history = fit(mse_loss, init(), optim.adam(0.05), (x, y), epochs=30, batch_size=32,
                                     key=random.key(0), val_data=linear_data(50, 1), metrics=[mae], verbose=0)
    np.testing.assert_allclose(params["w"], [1.0, -2.0, 0.5], atol=2e-2)
    assert params["w"].dtype == np.float32
    assert set(history) == {"loss", "mae", "val_loss", "val_mae", "seconds"}
    assert all(len(v) == 30 for v in history.values())
    assert history["loss"][-1] < 1e-3 < history["loss"][0]
    assert capsys.readouterr().err == ""
    assert int(opt_state[0].count) == 30 * 7  # 200 samples in batches of 32: 7 steps per epoch


def test_epoch_lines_without_a_terminal(capsys):
    x, y = linear_data(64)
    fit(mse_loss, init(), optim.sgd(0.1), (x, y), epochs=2, batch_size=16, key=random.key(1),
        val_data=(x, y), metrics={"mae": mae}, verbose=1)
    err = capsys.readouterr().err
    lines = err.strip().split("\n")
    assert len(lines) == 2 and "\r" not in err
    assert lines[1].startswith("Epoch 2/2 4/4") and "steps/s" in lines[1]
    assert "loss=" in lines[1] and "mae=" in lines[1] and "val_loss=" in lines[1] and "val_mae=" in lines[1]


def test_keys_train_flag_and_state_are_threaded():
    x, y = linear_data(40)
    seen = []

    def loss_fn(params, x, y, *, key, train, state):
        seen.append((None if key is None else tuple(key), train))
        pred = x @ params["w"] + params["b"]
        return fnp.mean((pred - y) ** 2), {"outputs": pred, "state": {"steps": state["steps"] + 1}}

    # jit=False: the loss function's Python side effects run every step (under jit, only when traced)
    params, _, history, state = fit(loss_fn, init(), optim.sgd(0.01), (x, y), epochs=3, batch_size=10,
                                    key=random.key(2), state={"steps": np.array(0)}, verbose=0, jit=False)
    assert int(state["steps"]) == 12
    train_keys = [k for k, train in seen if train]
    assert len(train_keys) == 12 and len(set(train_keys)) == 12
    evaluate(loss_fn, params, (x, y), batch_size=40, state=state, jit=False)
    assert seen[-1][1] is False


def test_epochs_reshuffle_but_a_key_replays():
    x, y = linear_data(32)
    orders = []

    def loss_fn(params, x, y):
        orders.append(np.asarray(y).copy())
        return mse_loss(params, x, y)[0]

    for _ in range(2):
        fit(loss_fn, init(), optim.sgd(0.0 + 1e-3), (x, y), epochs=2, batch_size=32, key=random.key(3), verbose=0,
            jit=False)
    assert not np.array_equal(orders[0], orders[1])      # a new order each epoch
    np.testing.assert_array_equal(orders[0], orders[2])  # the same key replays the run


def test_evaluate_weights_batches_by_size():
    x = np.arange(10, dtype=np.float64)
    result = evaluate(lambda p, x, y: fnp.mean(x * p), np.float64(1.0), (x, x), batch_size=4)
    assert result["loss"] == pytest.approx(4.5)


def test_early_stopping_restores_the_best_epoch():
    x, y = linear_data(64)
    val = linear_data(64, 5)
    stopper = EarlyStopping("val_loss", patience=2)
    # a learning rate this high diverges after a few epochs
    params, _, history = fit(mse_loss, init(), optim.sgd(1.2), (x, y), epochs=50, batch_size=64,
                             key=random.key(4), val_data=val, callbacks=[stopper], verbose=0)
    assert len(history["val_loss"]) < 50
    assert stopper.best == min(history["val_loss"])
    assert evaluate(mse_loss, params, val)["loss"] == pytest.approx(stopper.best, rel=1e-5)


def test_a_schedule_advances_through_the_loop():
    x, y = linear_data(64)
    schedule = optim.exponential_decay(0.1, transition_steps=1, decay_rate=0.5)
    _, opt_state, _ = fit(mse_loss, init(), optim.adam(schedule), (x, y), epochs=3, batch_size=16,
                          key=random.key(5), verbose=0)
    from funcnn.tree_util import tree_leaves

    counts = [int(leaf) for leaf in tree_leaves(opt_state) if np.asarray(leaf).dtype.kind in "iu"]
    assert counts and all(c == 12 for c in counts)


def test_bad_input_is_named():
    x, y = linear_data(20)
    with pytest.raises(ValueError, match="20.*19|19.*20"):
        fit(mse_loss, init(), optim.sgd(0.1), (x, y[:-1]), epochs=1, batch_size=4, key=random.key(0), verbose=0)
    with pytest.raises(ValueError, match="batch_size"):
        fit(mse_loss, init(), optim.sgd(0.1), (x, y), epochs=1, batch_size=0, key=random.key(0), verbose=0)
    with pytest.raises(ValueError, match="epochs"):
        fit(mse_loss, init(), optim.sgd(0.1), (x, y), epochs=0, batch_size=4, key=random.key(0), verbose=0)

    def classifier(params, x, y):
        logits = x @ params["w"]
        return fnp.mean(logits), logits

    labels = np.array([0, 1, 2, 3] * 5)
    with pytest.raises(ValueError, match=r"labels range over \[0, 3\].*width 2"):
        fit(classifier, {"w": np.zeros((3, 2), np.float32)}, optim.sgd(0.1), (x, labels), epochs=1,
            batch_size=20, key=random.key(0), verbose=0)
    with pytest.raises(ValueError, match="outputs"):
        fit(lambda p, x, y: mse_loss(p, x, y)[0], init(), optim.sgd(0.1), (x, y), epochs=1, batch_size=4,
            key=random.key(0), metrics=[mae], verbose=0)


def test_plot_history(tmp_path, monkeypatch):
    history = {"loss": [1.0, 0.5], "val_loss": [1.1, 0.7], "acc": [0.5, 0.8], "seconds": [1.0, 1.0]}
    import sys

    monkeypatch.setitem(sys.modules, "matplotlib", None)
    with pytest.raises(ImportError, match="pip install matplotlib"):
        plot_history(history, str(tmp_path / "h.png"))
    monkeypatch.undo()
    pytest.importorskip("matplotlib", reason="matplotlib is not installed")
    import matplotlib.pyplot as plt

    figures = []
    monkeypatch.setattr(plt, "close", figures.append)  # keep the figure to look at its axes
    path = plot_history(history, str(tmp_path / "h.png"))
    assert (tmp_path / "h.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and path.endswith("h.png")
    for ax in figures[0].axes:  # epochs are whole numbers: no tick at 1.5
        ticks = [t for t in ax.get_xticks() if 1 <= t <= 2]
        assert ticks == [1.0, 2.0]


def test_jit_trains_exactly_as_eagerly():
    x, y = linear_data(50)

    def loss_fn(params, x, y, *, key, state):
        noise = 0.0 if key is None else random.normal(key, np.shape(y)) * 0.01  # evaluation: no key
        pred = x @ params["w"] + params["b"] + noise
        return fnp.mean((pred - y) ** 2), {"outputs": pred, "state": {"steps": state["steps"] + 1}}

    runs = [fit(loss_fn, init(), optim.adam(0.05), (x, y), epochs=3, batch_size=16, key=random.key(4),
                state={"steps": np.array(0)}, val_data=(x, y), verbose=0, jit=jit) for jit in (True, False)]
    (p1, s1, h1, st1), (p2, s2, h2, st2) = runs
    for a, b in zip(tree_util.tree_leaves((p1, s1, st1)), tree_util.tree_leaves((p2, s2, st2))):
        np.testing.assert_array_equal(a, b)
    assert h1["loss"] == h2["loss"] and h1["val_loss"] == h2["val_loss"]


def test_a_loss_that_cannot_be_traced_runs_eagerly_with_a_warning():
    x, y = linear_data(20)

    def loss_fn(params, x, y):
        scale = 2.0 if float(fnp.sum(x)) > 0 else 1.0  # Python control flow on a value
        return fnp.mean((x @ params["w"] * scale - y) ** 2)

    with pytest.warns(UserWarning, match="cannot be compiled with jit.*jit=False"):
        params, _, history = fit(loss_fn, init(), optim.sgd(0.01), (x, y), epochs=2, batch_size=10,
                                 key=random.key(0), verbose=0)
    assert len(history["loss"]) == 2
