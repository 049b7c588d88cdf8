"""Resumable training: Checkpoint saves the whole run; a run killed with SIGKILL mid-epoch and
resumed ends bit for bit where an uninterrupted run ends."""
import os
import signal
import subprocess
import sys
import textwrap
import time

import numpy as np
import pytest

from funcnn import io, optim, random, tree_util
from funcnn.train import Checkpoint, EarlyStopping, TrainState, fit, latest_checkpoint

# A model with dropout (a key per step), BatchNorm (state), Adam with a schedule (a step
# count) and EarlyStopping (callback state): every part of a run that a resume must restore.
SCRIPT = textwrap.dedent('''
    import os, sys, time
    import numpy as np
    from funcnn import io, losses, nn, optim, random
    from funcnn.train import Callback, Checkpoint, EarlyStopping, fit

    folder, mode = sys.argv[1], sys.argv[2]
    rng = np.random.default_rng(0)
    x = rng.standard_normal((300, 6)).astype(np.float32)
    y = (x[:, 0] + x[:, 1] ** 2 > 1).astype(np.int64)
    model = nn.serial(nn.Dense(16), nn.BatchNorm(), nn.Relu, nn.Dropout(0.2), nn.Dense(2))
    _, params, state = model.init_with_state(random.key(1), (-1, 6))

    def loss_fn(params, x, y, *, key, train, state):
        logits, state = model.apply(params, x, key=key, train=train, state=state)
        return losses.cross_entropy(logits, y), {"outputs": logits, "state": state}

    class Hang(Callback):
        """Tells the parent it reached step 17 (mid-epoch 3), then waits to be killed."""
        def on_step_end(self, run, logs):
            if run.step == 17:
                open(os.path.join(folder, "ready"), "w").close()
                time.sleep(600)

    callbacks = [EarlyStopping("val_loss", patience=50), Checkpoint(os.path.join(folder, "run"), every=5,
                                                                    unit="step", keep=2)]
    if mode == "hang":
        callbacks.insert(0, Hang())
    schedule = optim.cosine_decay(0.05, 60)
    params, opt_state, history, state = fit(
        loss_fn, params, optim.adam(schedule), (x[:250], y[:250]), epochs=6, batch_size=32, key=random.key(2),
        val_data=(x[250:], y[250:]), state=state, callbacks=callbacks, verbose=0, resume=mode == "resume")
    io.save(os.path.join(folder, "result.npz"), {"params": params, "opt_state": opt_state, "state": state,
                                                 "val_loss": np.array(history["val_loss"])})
''')


def _run(folder, mode, timeout=300):
    return subprocess.run([sys.executable, str(folder / "train.py"), str(folder), mode], capture_output=True,
                          text=True, timeout=timeout, env=dict(os.environ, PYTHONHASHSEED="0"))


@pytest.mark.slow
def test_a_run_killed_mid_epoch_resumes_bit_for_bit(tmp_path):
    plain, killed = tmp_path / "plain", tmp_path / "killed"
    for folder in (plain, killed):
        folder.mkdir()
        (folder / "train.py").write_text(SCRIPT)
    done = _run(plain, "plain")
    assert done.returncode == 0, done.stderr

    with open(killed / "stderr.txt", "wb") as err:
        proc = subprocess.Popen([sys.executable, str(killed / "train.py"), str(killed), "hang"],
                                stdout=subprocess.DEVNULL, stderr=err)
        deadline = time.monotonic() + 300
        while not (killed / "ready").exists():
            assert proc.poll() is None, (killed / "stderr.txt").read_text()
            assert time.monotonic() < deadline, "the training subprocess never reached step 17"
            time.sleep(0.05)
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait()
    saved = latest_checkpoint(killed / "run")
    assert saved is not None and os.path.basename(saved) == "step-0000000015-epoch-000001.npz"
    assert not (killed / "result.npz").exists()

    resumed = _run(killed, "resume")
    assert resumed.returncode == 0, resumed.stderr
    expected, got = io.load(plain / "result.npz"), io.load(killed / "result.npz")
    for (path, a), b in zip(tree_util.tree_flatten_with_path(expected)[0], tree_util.tree_leaves(got)):
        assert a.dtype == b.dtype and np.array_equal(a, b), tree_util.keystr(path)
    assert len(os.listdir(killed / "run")) == 2  # keep=2


def linear_data(n=96, seed=0):
    rng = np.random.default_rng(seed)
    x = rng.standard_normal((n, 3)).astype(np.float32)
    return x, (x @ np.array([1.0, -2.0, 0.5], np.float32)).astype(np.float32)


def mse(params, x, y, *, key):
    noise = 0.0 if key is None else random.normal(key, np.shape(y)) * 0.01
    pred = x @ params["w"] + noise
    return ((pred - y) ** 2).mean(), pred


def start():
    return {"w": np.zeros(3, np.float32)}


def test_resuming_in_process_from_each_epoch_matches_one_run(tmp_path):
    data, val = linear_data(), linear_data(32, 1)
    args = dict(epochs=4, batch_size=20, key=random.key(0), val_data=val, verbose=0)
    p_all, s_all, h_all = fit(mse, start(), optim.adam(0.1), data, **args)
    for stop_at in (1, 2, 3):
        folder = tmp_path / f"stop{stop_at}"
        fit(mse, start(), optim.adam(0.1), data, **dict(args, epochs=stop_at),
            callbacks=[Checkpoint(folder)])
        params, opt_state, history = fit(mse, start(), optim.adam(0.1), data, **args,
                                         callbacks=[Checkpoint(folder)], resume=True)
        np.testing.assert_array_equal(params["w"], p_all["w"])
        assert int(opt_state[0].count) == int(s_all[0].count) == 20
        assert history["loss"] == h_all["loss"] and history["val_loss"] == h_all["val_loss"]


def test_a_finished_run_resumes_to_itself(tmp_path):
    data = linear_data()
    p1, _, h1 = fit(mse, start(), optim.sgd(0.1), data, epochs=2, batch_size=32, key=random.key(0), verbose=0,
                    callbacks=[Checkpoint(tmp_path)])
    p2, _, h2 = fit(mse, start(), optim.sgd(0.1), data, epochs=2, batch_size=32, key=random.key(0), verbose=0,
                    resume=tmp_path)
    np.testing.assert_array_equal(p1["w"], p2["w"])
    assert h1["loss"] == h2["loss"]


def test_the_saved_run_holds_everything(tmp_path):
    data = linear_data()
    fit(mse, start(), optim.adam(0.1), data, epochs=2, batch_size=32, key=random.key(0), verbose=0,
        callbacks=[EarlyStopping("loss", patience=3), Checkpoint(tmp_path, every=2, unit="step", keep=None)])
    names = sorted(os.listdir(tmp_path))
    assert names == ["step-0000000002-epoch-000000.npz", "step-0000000004-epoch-000001.npz",
                     "step-0000000006-epoch-000001.npz", "step-0000000006-epoch-000002.npz"]
    record = io.load(tmp_path / names[0])
    assert record["counters"] == {"epoch": 0, "step": 2, "step_in_epoch": 2}
    assert record["running"]["count"] == 64 and set(record["running"]["sums"]) == {"loss"}
    assert record["history"] == {}
    last = io.load(tmp_path / names[-1])
    assert set(last["history"]) == {"loss", "seconds"} and last["history"]["loss"].shape == (2,)
    assert set(last["callbacks"]) == {"EarlyStopping"}
    assert last["callbacks"]["EarlyStopping"]["best_params"]["w"].dtype == np.float32


def test_resume_errors_name_the_problem(tmp_path):
    data = linear_data()
    args = dict(epochs=2, batch_size=32, key=random.key(0), verbose=0)
    with pytest.raises(FileNotFoundError, match="no such file"):
        fit(mse, start(), optim.sgd(0.1), data, **args, resume=tmp_path / "missing")
    with pytest.raises(FileNotFoundError, match="holds no run"):
        fit(mse, start(), optim.sgd(0.1), data, **args, resume=tmp_path)
    with pytest.raises(ValueError, match="needs a Checkpoint"):
        fit(mse, start(), optim.sgd(0.1), data, **args, resume=True)
    fit(mse, start(), optim.sgd(0.1), data, **args, callbacks=[Checkpoint(tmp_path)])
    with pytest.raises(ValueError, match=r"does not match.*\['w'\].*shape \(3,\).*shape \(4,\)"):
        fit(mse, {"w": np.zeros(4, np.float32)}, optim.sgd(0.1), data, **args, resume=tmp_path)
    with pytest.raises(ValueError, match="does not match"):
        fit(mse, start(), optim.adam(0.1), data, **args, resume=tmp_path)
    io.save(tmp_path / "params.npz", start())
    with pytest.raises(ValueError, match="not of a training run"):
        fit(mse, start(), optim.sgd(0.1), data, **args, resume=tmp_path / "params.npz")
    with pytest.raises(ValueError, match="unit"):
        Checkpoint(tmp_path, unit="batch")
    with pytest.raises(ValueError, match="every"):
        Checkpoint(tmp_path, every=0)


def test_resume_true_without_a_checkpoint_starts_afresh(tmp_path):
    data = linear_data()
    p1, _, _ = fit(mse, start(), optim.sgd(0.1), data, epochs=2, batch_size=32, key=random.key(0), verbose=0)
    p2, _, _ = fit(mse, start(), optim.sgd(0.1), data, epochs=2, batch_size=32, key=random.key(0), verbose=0,
                   callbacks=[Checkpoint(tmp_path / "new")], resume=True)
    np.testing.assert_array_equal(p1["w"], p2["w"])


def test_an_unreadable_newest_checkpoint_falls_back_to_the_one_before(tmp_path):
    data = linear_data()
    args = dict(batch_size=32, key=random.key(0), verbose=0)
    fit(mse, start(), optim.sgd(0.1), data, epochs=2, callbacks=[Checkpoint(tmp_path)], **args)
    newest = latest_checkpoint(tmp_path)
    with open(newest, "r+b") as f:
        f.truncate(100)
    with pytest.warns(UserWarning, match="skipping the unreadable checkpoint"):
        _, _, history = fit(mse, start(), optim.sgd(0.1), data, epochs=2, resume=tmp_path, **args)
    assert len(history["loss"]) == 2


def test_callbacks_receive_the_run_and_can_change_it():
    seen = []

    def stop_after_two(epoch, logs, params):
        seen.append((epoch, sorted(logs), params["w"].shape))
        return epoch == 2

    _, _, history = fit(mse, start(), optim.sgd(0.1), linear_data(), epochs=5, batch_size=32, key=random.key(0),
                        verbose=0, callbacks=[stop_after_two])
    assert [s[0] for s in seen] == [1, 2] and len(history["loss"]) == 2
    assert seen[0][1] == ["loss", "seconds"] and seen[0][2] == (3,)

    class Halve:
        def on_epoch_end(self, run, logs):
            assert isinstance(run, TrainState) and run.step == 3 * run.epoch
            return run._replace(params={"w": run.params["w"] * 0})

    params, _, _ = fit(mse, start(), optim.sgd(0.1), linear_data(), epochs=2, batch_size=32, key=random.key(0),
                       verbose=0, callbacks=[Halve()])
    assert not params["w"].any()


def test_a_resumed_run_removes_temporaries_of_killed_saves(tmp_path):
    from funcnn.io import _temporary_prefix

    left = tmp_path / (_temporary_prefix("step-0000000005-epoch-000000.npz") + "0123abcd.funcnn-tmp")
    left.write_bytes(b"half a checkpoint")
    other = tmp_path / (_temporary_prefix("notes.npz") + "0123abcd.funcnn-tmp")
    other.write_bytes(b"someone else's save")
    fit(mse, start(), optim.sgd(0.1), linear_data(), epochs=1, batch_size=32, key=random.key(0), verbose=0,
        callbacks=[Checkpoint(tmp_path)], resume=True)
    assert not left.exists() and other.exists()
