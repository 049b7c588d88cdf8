"""The state of a training run: everything ``fit`` needs to continue it exactly.

A :class:`TrainState` is a pytree (a NamedTuple of arrays, dicts and lists), so a run
is saved with ``funcnn.io.save`` like any other tree. :func:`run_record` turns it into
plain arrays for saving; :func:`restore_run` reads one back, using the run that ``fit``
was about to start as the template for the parts whose structure only the caller
knows (params, optimizer state, model state, callbacks' states).
"""
from __future__ import annotations

import os
from collections.abc import Sequence
from typing import Any, NamedTuple

import numpy as np

from funcnn import io

__all__ = ["TrainState"]


class TrainState(NamedTuple):
    """What a training run carries from one step to the next, and what a checkpoint saves.

    Callbacks receive it (``on_epoch_end(run, logs)``) and may return a changed copy
    (``run._replace(...)``): a new learning rate in ``opt_state``, other ``params``,
    ``stop_training=True``.

    Attributes
    ----------
    params, opt_state, model_state : pytrees
        The trained parameters, the optimizer's state, and the non-trained model state
        (BatchNorm statistics; ``None`` without).
    key : PRNG key
        The key the current epoch draws from: its shuffle and each step's key derive
        from it, so a run resumed mid-epoch sees the same batches and keys.
    step : int
        Optimizer steps taken since the run began.
    epoch : int
        Epochs completed.
    step_in_epoch : int
        Steps of the current epoch already taken (0 between epochs).
    history : dict of str to list of float
        Per-epoch logs of the completed epochs.
    running : dict
        ``{"count": samples, "sums": {name: sample-weighted sum}}`` of the current epoch.
    callbacks : dict
        Callbacks' own states (best value so far, patience counters), by callback name;
        filled when a checkpoint is saved.
    stop_training : bool
        Set by a callback to end training after the current epoch.
    """

    params: Any
    opt_state: Any
    model_state: Any
    key: Any
    step: int
    epoch: int
    step_in_epoch: int
    history: dict
    running: dict
    callbacks: dict
    stop_training: bool = False


def new_run(params: Any, opt_state: Any, model_state: Any, key: Any) -> TrainState:
    """A run before its first step."""
    return TrainState(params, opt_state, model_state, key, step=0, epoch=0, step_in_epoch=0, history={},
                      running=empty_running(), callbacks={})


def empty_running() -> dict:
    """The running sums of an epoch before its first step."""
    return {"count": 0, "sums": {}}


def run_record(run: TrainState) -> dict[str, Any]:
    """``run`` as a tree of arrays that ``funcnn.io.save`` stores exactly."""
    return {
        "params": run.params,
        "opt_state": run.opt_state,
        "model_state": run.model_state,
        "key": np.asarray(run.key),
        "counters": {name: np.int64(getattr(run, name)) for name in ("step", "epoch", "step_in_epoch")},
        "stop_training": np.bool_(run.stop_training),
        "history": {name: np.asarray(values, np.float64) for name, values in run.history.items()},
        "running": {"count": np.int64(run.running["count"]),
                    "sums": {name: np.float64(v) for name, v in run.running["sums"].items()}},
        "callbacks": run.callbacks,
    }


def restore_run(path: str, fresh: TrainState, callbacks: Sequence[Any]) -> TrainState:
    """The run saved at ``path``, its params, optimizer and model state checked against
    (and rebuilt in the structure of) those of ``fresh``, the run ``fit`` would start."""
    plain = io.load(path)
    if not (isinstance(plain, dict) and {"params", "counters", "history", "running"} <= set(plain)):
        raise ValueError(f"fit(resume=...): {path} is a checkpoint but not of a training run "
                         "(saved by funcnn.train.Checkpoint)")
    like = dict(plain, params=fresh.params, opt_state=fresh.opt_state, model_state=fresh.model_state,
                callbacks=_callback_templates(plain.get("callbacks") or {}, fresh, callbacks))
    try:
        record = io.load(path, like=like)
    except ValueError as err:
        raise ValueError(f"fit(resume=...): the run saved in {os.fspath(path)} does not match this model and "
                         f"optimizer: {err}") from err
    counters = {name: int(v) for name, v in record["counters"].items()}
    return TrainState(
        params=record["params"], opt_state=record["opt_state"], model_state=record["model_state"],
        key=record["key"], history={name: [float(v) for v in values] for name, values in record["history"].items()},
        running={"count": int(record["running"]["count"]),
                 "sums": {name: float(v) for name, v in record["running"]["sums"].items()}},
        callbacks=record["callbacks"], stop_training=bool(record["stop_training"]), **counters)


def _callback_templates(saved: dict, fresh: TrainState, callbacks: Sequence[Any]) -> dict:
    """Each saved callback state in the structure its callback expects (params-shaped
    entries need the model's structure, which only the live callback knows)."""
    by_name = dict(zip(callback_names(callbacks), callbacks))
    out = {}
    for name, state in saved.items():
        cb = by_name.get(name)
        out[name] = cb.state_like(state, fresh) if cb is not None and hasattr(cb, "state_like") else state
    return out


def callback_names(callbacks: Sequence[Any]) -> list[str]:
    """The keys of callbacks' states in a checkpoint: the class name, then ``_1``, ``_2``, ...
    for further callbacks of the same class (so adding a callback of another kind to a
    resumed run does not lose the others' states)."""
    seen: dict[str, int] = {}
    names = []
    for cb in callbacks:
        kind = type(cb).__name__
        names.append(kind if kind not in seen else f"{kind}_{seen[kind]}")
        seen[kind] = seen.get(kind, 0) + 1
    return names
