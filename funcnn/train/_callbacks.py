"""Callbacks: code that ``fit`` calls at the end of each step and epoch, with the run.

A callback is an object with any of the methods of :class:`Callback`. Each receives the
current :class:`~funcnn.train.TrainState` and returns either ``None`` (nothing changed)
or a new run (``run._replace(...)``): that is how a callback stops training, changes the
learning rate or restores the best parameters, without hidden state in the loop.
A callback that must survive a resumed run keeps its counters in ``state_dict`` (saved
with the run by :class:`~funcnn.train.Checkpoint`) and takes them back in
``load_state_dict``.
"""
from __future__ import annotations

import csv
import io as text_io
import math
import os
from collections.abc import Callable
from typing import Any

import numpy as np

from funcnn import io, optim

from ._state import TrainState

__all__ = ["CSVLogger", "Callback", "EarlyStopping", "ModelCheckpoint", "ReduceLROnPlateau"]

Logs = dict[str, float]


class Callback:
    """The hooks ``fit`` calls, each a no-op here; subclass and override the ones you need.

    ``order``: callbacks run in increasing order (stable); checkpoints run last (order
    100), so that they save what the other callbacks decided at the same step.
    ``writes_files``: in a data-parallel run (``fit(..., distributed=True)``) such a
    callback runs in the main process only; the others run in every process, and see the
    same logs there.
    """

    order = 0
    writes_files = False  # True: in a data-parallel run, only the main process calls it

    def on_train_begin(self, run: TrainState) -> TrainState | None:
        """Before the first step (of this call of ``fit``; also when resuming)."""
        return None

    def on_step_end(self, run: TrainState, logs: Logs) -> TrainState | None:
        """After each optimizer step; ``logs`` are the epoch's running means so far."""
        return None

    def on_epoch_end(self, run: TrainState, logs: Logs) -> TrainState | None:
        """After each epoch and its validation; ``run.history`` already holds ``logs``."""
        return None

    def on_train_end(self, run: TrainState) -> TrainState | None:
        """After the last epoch, or after a callback stopped training."""
        return None

    def state_dict(self) -> Any:
        """The callback's own state, a pytree of arrays, saved with the run."""
        return None

    def load_state_dict(self, state: Any) -> None:
        """Take back a state returned by :meth:`state_dict` (when a run resumes)."""

    def state_like(self, saved: Any, run: TrainState) -> Any:
        """A template of the saved state for checking and rebuilding it (plain by default)."""
        return saved


class FunctionCallback(Callback):
    """A plain function ``fn(epoch, logs, params)`` used as ``on_epoch_end``; a true result stops."""

    def __init__(self, fn: Callable[[int, Logs, Any], Any]) -> None:
        self.fn = fn

    def on_epoch_end(self, run: TrainState, logs: Logs) -> TrainState | None:
        return run._replace(stop_training=True) if self.fn(run.epoch, logs, run.params) else None


class _Monitor:
    """The best value so far of a logged quantity, and whether a new value improves on it."""

    def __init__(self, who: str, monitor: str, mode: str, min_delta: float) -> None:
        if min_delta < 0:
            raise ValueError(f"{who}: min_delta must be >= 0, got {min_delta}")
        if mode == "auto":
            mode = "max" if any(w in monitor for w in ("acc", "auc", "f1", "precision", "recall")) else "min"
        if mode not in ("min", "max"):
            raise ValueError(f"{who}: mode must be 'min', 'max' or 'auto', got {mode!r}")
        self.who, self.monitor, self.mode, self.min_delta = who, monitor, mode, min_delta
        self.best = math.nan

    def value(self, logs: Logs) -> float:
        if self.monitor not in logs:
            raise ValueError(f"{self.who}: {self.monitor!r} is not among the logged values {sorted(logs)}"
                             + ("; pass val_data to fit" if self.monitor.startswith("val_") else ""))
        return float(logs[self.monitor])

    def improves(self, value: float) -> bool:
        """``value`` beats the best by more than ``min_delta`` (the first value always does; NaN never)."""
        if math.isnan(value):
            return False
        if math.isnan(self.best):
            return True
        gain = self.best - value if self.mode == "min" else value - self.best
        return gain > self.min_delta


def _check_patience(who: str, patience: int) -> int:
    if isinstance(patience, bool) or not isinstance(patience, (int, np.integer)) or patience < 0:
        raise ValueError(f"{who}: patience must be an integer >= 0, got {patience!r}")
    return int(patience)


class EarlyStopping(Callback):
    """Stop when ``monitor`` has not improved by more than ``min_delta`` for ``patience`` epochs.

    As in Keras: with ``patience=3`` training stops at the third epoch in a row without
    improvement. With ``restore_best=True`` (default) ``fit`` returns the parameters *and*
    the model state (BatchNorm statistics) of the best epoch. ``mode`` is ``"min"``,
    ``"max"``, or ``"auto"`` (``"max"`` for accuracy-like names). ``start_from_epoch``
    epochs are trained before stopping is considered.

    >>> stop = EarlyStopping("val_loss", patience=1)
    >>> from funcnn.train import TrainState
    >>> run = TrainState({"w": 0}, None, None, None, 0, 0, 0, {}, {}, {})
    >>> for epoch, v in enumerate([3.0, 2.0, 2.5, 2.4], 1):
    ...     run = stop.on_epoch_end(run._replace(epoch=epoch, params={"w": epoch}), {"val_loss": v}) or run
    ...     print(epoch, run.stop_training)
    1 False
    2 False
    3 True
    4 True
    >>> stop.on_train_end(run).params
    {'w': 2}
    """

    def __init__(self, monitor: str = "val_loss", patience: int = 5, min_delta: float = 0.0,
                 mode: str = "auto", restore_best: bool = True, start_from_epoch: int = 0) -> None:
        self.patience = _check_patience("EarlyStopping", patience)
        self.track = _Monitor("EarlyStopping", monitor, mode, min_delta)
        self.restore_best, self.start_from_epoch = restore_best, start_from_epoch
        self.wait = self.best_epoch = 0
        self.best_params: Any = None
        self.best_model_state: Any = None

    @property
    def best(self) -> float:
        return self.track.best

    def on_epoch_end(self, run: TrainState, logs: Logs) -> TrainState | None:
        value = self.track.value(logs)
        if self.track.improves(value):
            self.track.best, self.best_epoch, self.wait = value, run.epoch, 0
            self.best_params, self.best_model_state = run.params, run.model_state
            return None
        if run.epoch <= self.start_from_epoch:
            return None
        self.wait += 1
        return run._replace(stop_training=True) if self.wait >= self.patience else None

    def on_train_end(self, run: TrainState) -> TrainState | None:
        if not self.restore_best or self.best_params is None:
            return None
        return run._replace(params=self.best_params, model_state=self.best_model_state)

    def state_dict(self) -> Any:
        return {"best": np.float64(self.track.best), "wait": np.int64(self.wait),
                "best_epoch": np.int64(self.best_epoch), "best_params": self.best_params,
                "best_model_state": self.best_model_state}

    def load_state_dict(self, state: Any) -> None:
        self.track.best, self.wait, self.best_epoch = float(state["best"]), int(state["wait"]), int(state["best_epoch"])
        self.best_params, self.best_model_state = state["best_params"], state["best_model_state"]

    def state_like(self, saved: Any, run: TrainState) -> Any:
        kept = saved["best_params"] is not None
        return dict(saved, best_params=run.params if kept else None,
                    best_model_state=run.model_state if kept else None)


class ReduceLROnPlateau(Callback):
    """Multiply the learning rate by ``factor`` when ``monitor`` stops improving (as in Keras).

    After ``patience`` epochs without an improvement larger than ``min_delta`` the rate
    becomes ``max(rate * factor, min_lr)``; then ``cooldown`` epochs pass before waiting
    starts again. The rate lives in the optimizer state, so the optimizer must expose it:
    build it with ``optim.inject_hyperparams(optim.adam)(learning_rate=1e-3)``; ``fit``
    then logs the rate of each epoch as ``"lr"``. The rate is part of the run, so a
    checkpoint saves it and a resumed run continues with it.
    """

    def __init__(self, monitor: str = "val_loss", factor: float = 0.1, patience: int = 10,
                 min_delta: float = 1e-4, mode: str = "auto", cooldown: int = 0, min_lr: float = 0.0,
                 hyperparam: str = "learning_rate", verbose: bool = False) -> None:
        if not 0.0 < factor < 1.0:
            raise ValueError(f"ReduceLROnPlateau: factor must lie in (0, 1), got {factor}")
        self.patience = _check_patience("ReduceLROnPlateau", patience)
        self.cooldown = _check_patience("ReduceLROnPlateau (cooldown)", cooldown)
        self.track = _Monitor("ReduceLROnPlateau", monitor, mode, min_delta)
        self.factor, self.min_lr, self.hyperparam, self.verbose = factor, min_lr, hyperparam, verbose
        self.wait = self.cooling = 0

    def on_train_begin(self, run: TrainState) -> TrainState | None:
        self._rate(run)  # fail before the first epoch if the optimizer has no such hyper-parameter
        return None

    def on_epoch_end(self, run: TrainState, logs: Logs) -> TrainState | None:
        value = self.track.value(logs)
        if self.cooling:
            self.cooling, self.wait = self.cooling - 1, 0
        if self.track.improves(value):
            self.track.best, self.wait = value, 0
            return None
        if self.cooling:
            return None
        self.wait += 1
        rate = self._rate(run)
        if self.wait < self.patience or rate <= self.min_lr:
            return None
        self.wait, self.cooling = 0, self.cooldown
        new_rate = max(rate * self.factor, self.min_lr)
        if self.verbose:
            print(f"Epoch {run.epoch}: ReduceLROnPlateau sets {self.hyperparam} to {new_rate:.4g}")
        return run._replace(opt_state=optim.set_hyperparams(run.opt_state, **{self.hyperparam: new_rate}))

    def _rate(self, run: TrainState) -> float:
        found = optim.get_hyperparams(run.opt_state)
        if self.hyperparam not in found:
            raise ValueError(
                f"ReduceLROnPlateau: the optimizer state has no hyper-parameter {self.hyperparam!r} "
                f"(it has {sorted(found)}); build the optimizer with "
                f"optim.inject_hyperparams(optim.adam)({self.hyperparam}=...) so the rate can change")
        return float(np.asarray(found[self.hyperparam]))

    def state_dict(self) -> Any:
        return {"best": np.float64(self.track.best), "wait": np.int64(self.wait), "cooling": np.int64(self.cooling)}

    def load_state_dict(self, state: Any) -> None:
        self.track.best, self.wait, self.cooling = float(state["best"]), int(state["wait"]), int(state["cooling"])


class ModelCheckpoint(Callback):
    """Save the parameters (and model state) to ``path`` at the end of each epoch, or only when
    ``monitor`` improves with ``save_best_only=True``, as Keras's ``ModelCheckpoint``.

    The file is a ``funcnn.io`` checkpoint of ``{"params": ..., "model_state": ...,
    "epoch": ..., monitor: value}``, written atomically; read it back with
    ``funcnn.io.load(path)["params"]`` (or ``like=`` for exact structures). ``path`` may
    hold ``{epoch}`` and any logged name as format fields, e.g.
    ``"model-{epoch:02d}-{val_loss:.3f}.npz"``. With ``averaged=True`` the averaged
    parameters of ``optim.ema_params`` are saved instead of the trained ones.
    """

    order = 90
    writes_files = True

    def __init__(self, path: str | os.PathLike[str], monitor: str = "val_loss", save_best_only: bool = False,
                 mode: str = "auto", min_delta: float = 0.0, averaged: bool = False) -> None:
        self.path, self.save_best_only, self.averaged = os.fspath(path), save_best_only, averaged
        self.track = _Monitor("ModelCheckpoint", monitor, mode, min_delta)
        self.last_saved: str | None = None

    def on_epoch_end(self, run: TrainState, logs: Logs) -> TrainState | None:
        if self.save_best_only:
            value = self.track.value(logs)
            if not self.track.improves(value):
                return None
            self.track.best = value
        else:
            value = logs.get(self.track.monitor, math.nan)
        path = self.path.format(epoch=run.epoch, **logs)
        params = optim.averaged_params(run.opt_state) if self.averaged else run.params
        io.save(path, {"params": params, "model_state": run.model_state, "epoch": np.int64(run.epoch),
                       self.track.monitor: np.float64(value)})
        self.last_saved = path
        return None

    def state_dict(self) -> Any:
        return {"best": np.float64(self.track.best)}

    def load_state_dict(self, state: Any) -> None:
        self.track.best = float(state["best"])


class CSVLogger(Callback):
    """Write the history to a CSV file after each epoch: one row per epoch, one column per log.

    The file is rewritten from the run's history each time (atomically), so after a resumed
    run it holds exactly the epochs of the run, never a row twice.
    """

    writes_files = True

    def __init__(self, path: str | os.PathLike[str], separator: str = ",") -> None:
        self.path, self.separator = os.fspath(path), separator

    def on_epoch_end(self, run: TrainState, logs: Logs) -> TrainState | None:
        names = list(run.history)
        out = text_io.StringIO()
        writer = csv.writer(out, delimiter=self.separator, lineterminator="\n")
        writer.writerow(["epoch", *names])
        for i in range(run.epoch):
            writer.writerow([i + 1, *(repr(run.history[n][i]) if i < len(run.history[n]) else "" for n in names)])
        temporary = f"{self.path}.part"
        with open(temporary, "w", encoding="utf-8", newline="") as f:
            f.write(out.getvalue())
        os.replace(temporary, self.path)
        return None
