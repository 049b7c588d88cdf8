"""``Checkpoint``: save the whole training run every few steps or epochs, to resume it exactly.

A run is saved as one ``funcnn.io`` file per save, ``step-<step>-epoch-<epoch>.npz`` in
the checkpoint folder, written atomically (a killed save leaves the previous files as
they were); only the newest ``keep`` files stay. ``fit(..., resume=...)`` reads the
newest file that loads.
"""
from __future__ import annotations

import os
import re
import warnings
from collections.abc import Sequence
from typing import Any

from funcnn import io

from ._callbacks import Callback
from ._state import TrainState, callback_names, restore_run, run_record

__all__ = ["Checkpoint", "latest_checkpoint"]

_NAME = re.compile(r"^step-(\d+)-epoch-(\d+)\.npz$")


class Checkpoint(Callback):
    """Save the whole run — params, model and optimizer state, step, PRNG key, history and
    callbacks' states — to the folder ``directory`` every ``every`` epochs (``unit="epoch"``)
    or steps (``unit="step"``), and at the end of training.

    Pass it to ``fit`` among the callbacks; ``fit(..., resume=True)`` then continues from
    its newest file when there is one (and starts afresh otherwise), so that the same
    command, run again after an interruption, finishes the run. A resumed run ends with
    the same parameters, bit for bit, as one that was never interrupted.

    Parameters
    ----------
    directory : str or path-like
        The folder of the run's checkpoints (created if missing).
    every : int, default 1
        Save every ``every`` epochs or steps.
    unit : {"epoch", "step"}
        What ``every`` counts.
    keep : int or None, default 3
        How many of the newest files to keep (``None``: all).
    compress : bool, default False
        Deflate the files (smaller, slower).
    """

    order = 100  # after every other callback: the saved run holds their decisions
    writes_files = True

    def __init__(self, directory: str | os.PathLike[str], every: int = 1, unit: str = "epoch",
                 keep: int | None = 3, compress: bool = False) -> None:
        if unit not in ("epoch", "step"):
            raise ValueError(f"Checkpoint: unit must be 'epoch' or 'step', got {unit!r}")
        for name, value in (("every", every), ("keep", 1 if keep is None else keep)):
            if isinstance(value, bool) or not isinstance(value, int) or value < 1:
                raise ValueError(f"Checkpoint: {name} must be a positive integer, got {value!r}")
        self.directory, self.every, self.unit = os.fspath(directory), every, unit
        self.keep, self.compress = keep, compress
        self.last_saved: str | None = None

    def on_train_begin(self, run: TrainState) -> TrainState | None:
        # saves of this run that were killed left their temporaries under other names than the next saves'
        io.discard_temporaries(self.directory, "step-")
        return None

    def on_step_end(self, run: TrainState, logs: dict[str, float]) -> TrainState | None:
        if self.unit == "step" and run.step % self.every == 0:
            self.save(run)
        return None

    def on_epoch_end(self, run: TrainState, logs: dict[str, float]) -> TrainState | None:
        if self.unit == "epoch" and run.epoch % self.every == 0:
            self.save(run)
        return None

    def on_train_end(self, run: TrainState) -> TrainState | None:
        if self.last_saved != self._path(run):
            self.save(run)
        return None

    def save(self, run: TrainState) -> str:
        """Write ``run`` now; return the file's path."""
        os.makedirs(self.directory, exist_ok=True)
        path = self._path(run)
        io.save(path, run_record(run), compress=self.compress)
        self.last_saved = path
        self._prune()
        return path

    def _path(self, run: TrainState) -> str:
        return os.path.join(self.directory, f"step-{run.step:010d}-epoch-{run.epoch:06d}.npz")

    def _prune(self) -> None:
        if self.keep is None:
            return
        for old in _saved_runs(self.directory)[:-self.keep]:
            try:
                os.remove(old)
            except FileNotFoundError:
                pass


def _saved_runs(directory: str) -> list[str]:
    """The run files in ``directory``, oldest first (by step, then epoch)."""
    try:
        names = os.listdir(directory)
    except FileNotFoundError:
        return []
    found = [(int(m.group(1)), int(m.group(2)), name) for name in names if (m := _NAME.match(name))]
    return [os.path.join(directory, name) for _, _, name in sorted(found)]


def latest_checkpoint(directory: str | os.PathLike[str]) -> str | None:
    """The newest run file that ``Checkpoint`` wrote in ``directory``, or ``None``."""
    runs = _saved_runs(os.fspath(directory))
    return runs[-1] if runs else None


def resume_from(resume: Any, fresh: TrainState, callbacks: Sequence[Any]) -> TrainState:
    """The run ``fit(..., resume=resume)`` continues: ``fresh`` when there is nothing to resume."""
    if resume is None or resume is False:
        return fresh
    if resume is True:
        folders = [cb.directory for cb in callbacks if isinstance(cb, Checkpoint)]
        if not folders:
            raise ValueError("fit: resume=True needs a Checkpoint among the callbacks (or pass resume=path)")
        candidates = _saved_runs(folders[0])
    else:
        path = os.fspath(resume)
        if os.path.isdir(path):
            candidates = _saved_runs(path)
            if not candidates:
                raise FileNotFoundError(f"fit(resume={path!r}): the folder holds no run saved by Checkpoint")
        elif os.path.exists(path):
            candidates = [path]
        else:
            raise FileNotFoundError(f"fit(resume={path!r}): no such file or folder")
    return _newest_that_loads(candidates, fresh, callbacks)


def _newest_that_loads(candidates: list[str], fresh: TrainState, callbacks: Sequence[Any]) -> TrainState:
    """The newest candidate run, skipping damaged files (a save cut short by a full disk);
    a run that does not fit this model is an error, not a reason to go further back."""
    for i, path in enumerate(reversed(candidates)):
        try:
            run = restore_run(path, fresh, callbacks)
        except io.CorruptCheckpointError as err:
            if i == len(candidates) - 1:
                raise
            warnings.warn(f"fit: skipping the unreadable checkpoint {path} ({err}); trying an older one",
                          stacklevel=3)
            continue
        for name, cb in zip(callback_names(callbacks), callbacks):
            state = run.callbacks.get(name)
            if state is not None:
                cb.load_state_dict(state)
        return run
    return fresh
