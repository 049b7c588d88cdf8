"""The training loop ``fit`` and the evaluation loop ``evaluate``.

``fit`` is the loop you would write by hand with ``value_and_grad``,
``optimizer.update`` and ``apply_updates`` (``docs/training.md`` shows it), plus the
bookkeeping: progress, history, callbacks, checkpoints and resuming. The training step
(forward, backward, update) is one function, compiled with ``funcnn.jit`` unless
``jit=False``. The loss function is called as ``loss_fn(params, x, y, **extras)`` where
``extras`` holds whichever of ``key`` (a fresh PRNG key per step, for dropout),
``train`` (True in ``fit``, False in ``evaluate``) and ``state`` (e.g. BatchNorm
statistics) its signature accepts. It returns the scalar loss, or ``(loss, aux)``
where ``aux`` is the model's outputs (for metrics) or a dict with ``"outputs"`` and,
when training with ``state``, the new ``"state"``.
"""
from __future__ import annotations

import inspect
import itertools
import math
import warnings
from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import Any

import numpy as np

import funcnn.numpy as fnp
from funcnn import jit as compile_with_jit
from funcnn import optim, random, tree_util
from funcnn import value_and_grad
from funcnn.data import batches
from funcnn.extend import ConcretizationError, concrete, dtype_of
from funcnn.optim import GradientTransformation, apply_updates

from ._callbacks import Callback, FunctionCallback
from ._checkpoint import resume_from
from ._processes import OneProcess, Processes
from ._progress import Progress
from ._state import TrainState, callback_names, empty_running, new_run

__all__ = ["evaluate", "fit"]

Metric = Callable[[Any, Any], Any]
History = dict[str, list[float]]


# --- calling the loss function -----------------------------------------------------------


class _LossCall:
    """Calls ``loss_fn`` with the extras it accepts and splits its result into parts."""

    def __init__(self, loss_fn: Callable, with_state: bool) -> None:
        self.loss_fn = loss_fn
        self.with_state = with_state
        params = inspect.signature(loss_fn).parameters
        takes_all = any(p.kind is inspect.Parameter.VAR_KEYWORD for p in params.values())
        self.accepts = {name for name in ("key", "train", "state") if takes_all or name in params}
        if with_state and "state" not in self.accepts:
            raise ValueError("fit/evaluate: state was given, so loss_fn must accept a 'state' keyword argument")

    def __call__(self, params: Any, x: Any, y: Any, extras: dict) -> tuple[Any, tuple[Any, Any]]:
        out = self.loss_fn(params, x, y, **{k: v for k, v in extras.items() if k in self.accepts})
        loss, aux = out if isinstance(out, tuple) and len(out) == 2 else (out, None)
        if isinstance(aux, Mapping):
            outputs, new_state = aux.get("outputs"), aux.get("state")
        else:
            outputs, new_state = aux, None
        if self.with_state and new_state is None:
            raise ValueError("fit: training with state, so loss_fn must return (loss, {'state': new_state, ...})")
        return loss, (outputs, new_state)


def _named_metrics(metrics: Sequence[Metric] | Mapping[str, Metric]) -> dict[str, Metric]:
    if isinstance(metrics, Mapping):
        return dict(metrics)
    return {getattr(m, "__name__", f"metric_{i}"): m for i, m in enumerate(metrics)}


def _check_labels(outputs: Any, y: Any) -> None:
    """Integer labels must index the model's output width (checked on the first batch)."""
    outputs, y = concrete(outputs), np.asarray(y)
    if outputs is None or np.ndim(outputs) < 2 or y.dtype.kind not in "iu" or y.ndim != np.ndim(outputs) - 1:
        return
    width = np.shape(outputs)[-1]
    if y.size and (y.min() < 0 or y.max() >= width):
        raise ValueError(f"fit: labels range over [{y.min()}, {y.max()}] but the model's outputs have width "
                         f"{width} (shape {np.shape(outputs)}): labels must lie in [0, {width})")


def _batch_values(loss: Any, outputs: Any, y: Any, metrics: dict[str, Metric]) -> dict[str, float]:
    values = {"loss": float(concrete(loss))}
    if metrics and outputs is None:
        raise ValueError("metrics need the model's outputs: return (loss, outputs) or (loss, {'outputs': ...}) "
                         "from loss_fn")
    for name, metric in metrics.items():
        values[name] = float(metric(concrete(outputs), y))
    return values


class _Compiled:
    """``fun`` under ``jit``, or plain: falls back to plain calls, with a warning, when ``fun``
    cannot be traced (Python control flow on values in ``loss_fn``)."""

    def __init__(self, fun: Callable, use_jit: bool, who: str) -> None:
        self.fun, self.who = fun, who
        self.jitted: Any = compile_with_jit(fun) if use_jit else None

    def __call__(self, *args: Any) -> Any:
        if self.jitted is None:
            return self.fun(*args)
        try:
            return self.jitted(*args)
        except ConcretizationError as err:
            warnings.warn(f"{self.who}: loss_fn cannot be compiled with jit ({str(err).split(':')[0]}); running it "
                          "without jit. Pass jit=False to say so, or use funcnn.numpy.where / funcnn.lax.cond "
                          "instead of Python control flow on values.", stacklevel=3)
            self.jitted = None
            return self.fun(*args)


def _train_step(call: _LossCall, optimizer: GradientTransformation) -> Callable:
    """One training step as one function: loss, gradients, update, new parameters."""
    grad_fn = value_and_grad(lambda p, x, y, extras: call(p, x, y, extras), has_aux=True)

    def train_step(params: Any, opt_state: Any, state: Any, x: Any, y: Any, key: Any, weight: Any) -> tuple:
        (loss, (outputs, new_state)), grads = grad_fn(params, x, y, {"key": key, "train": True, "state": state})
        if weight is not None:  # this process's share of a global batch (data-parallel training)
            grads = tree_util.tree_map(lambda g: g * fnp.astype(weight, dtype_of(g)), grads)
        updates, opt_state = optimizer.update(grads, opt_state, params)
        return apply_updates(params, updates), opt_state, new_state, loss, outputs
    return train_step


# --- the loops -----------------------------------------------------------------------------


def fit(loss_fn: Callable, params: Any, optimizer: GradientTransformation, train_data: tuple, *, epochs: int,
        batch_size: int, key: Any, val_data: tuple | None = None,
        metrics: Sequence[Metric] | Mapping[str, Metric] = (), state: Any = None,
        callbacks: Iterable[Any] | None = None, verbose: int = 1, opt_state: Any = None,
        drop_last: bool = False, jit: bool = True, resume: Any = None, use_ema: bool = False,
        distributed: bool = False) -> tuple:
    """Train ``params`` on ``train_data = (x, y)`` for ``epochs`` passes of mini-batches.

    Parameters
    ----------
    loss_fn : callable
        ``loss_fn(params, x, y, **extras) -> loss`` or ``(loss, aux)``; see the module docstring.
    params : pytree of ndarray
        Initial parameters.
    optimizer : GradientTransformation
        E.g. ``funcnn.optim.adam(1e-3)``; schedules advance with its step count.
    train_data, val_data : tuple (x, y)
        Arrays sharing their first axis (samples).
    epochs, batch_size : int
        Number of passes (in all, counting those of a resumed run) and samples per step.
    key : PRNG key
        Shuffles every epoch and gives ``loss_fn`` a fresh ``key`` per step.
    metrics : sequence or dict of ``metric(outputs, y) -> float``
        Reported on training batches (running mean) and on ``val_data``.
    state : pytree, optional
        Non-trained state threaded through ``loss_fn`` (BatchNorm statistics).
    callbacks : iterable, optional
        :class:`Callback` objects (``EarlyStopping``, ``ModelCheckpoint``, ``Checkpoint``,
        ``ReduceLROnPlateau``, ``CSVLogger``, your own), called with the
        :class:`TrainState` after each step and epoch; or plain functions
        ``fn(epoch, logs, params)`` (a true result stops training).
    verbose : int
        0 silent, 1 a live progress bar per epoch on stderr (one line per epoch when stderr is
        not a terminal), 2 one line per epoch.
    opt_state : pytree, optional
        Start from this optimizer state instead of ``optimizer.init(params)``.
    jit : bool, default True
        Compile the training step (forward, backward, update) and the evaluation step with
        ``funcnn.jit``; ``False`` runs them eagerly. A ``loss_fn`` that cannot be traced
        (Python ``if`` on a value) runs eagerly, with a warning.
    resume : True, str or path-like, optional
        Continue a run saved by :class:`Checkpoint`: a file, a checkpoint folder (its
        newest run), or ``True`` for the folder of the ``Checkpoint`` among the callbacks
        (starting afresh when it holds nothing yet). ``params`` and ``opt_state`` then
        serve as templates: the saved ones must have their structure, shapes and dtypes.
    use_ema : bool, default False
        Evaluate ``val_data`` with the averaged parameters of an ``optim.ema_params`` in the
        optimizer chain (``optim.averaged_params(opt_state)`` returns them after training).
    distributed : bool, default False
        Train data-parallel in all the processes of an MPI job (``mpiexec -n 4 python
        train.py``; needs ``funcnn[mpi]``): every process runs this same call, rank 0's
        ``params`` are broadcast, each step each process takes its part of a global batch of
        ``batch_size * world_size`` samples and gradients are averaged
        (``funcnn.distributed.data_parallel``); logs are over all processes; only rank 0
        prints and runs callbacks that write files; a stop by any process stops all; an
        error in one process ends the job. See ``docs/distributed.md``.

    Returns
    -------
    (params, opt_state, history), or (params, opt_state, history, state) when ``state`` is given.
    ``history`` maps ``"loss"``, each metric, ``"val_loss"``, ``"val_<metric>"``, ``"lr"``
    (for an optimizer with an injected learning rate) and ``"seconds"`` to per-epoch lists.

    Examples
    --------
    >>> import numpy as np, funcnn.numpy as fnp
    >>> from funcnn import optim, random
    >>> x = np.linspace(-1, 1, 64, dtype=np.float32)[:, None]; y = 3 * x
    >>> loss = lambda p, x, y: fnp.mean((x * p["w"] - y) ** 2)
    >>> p, _, hist = fit(loss, {"w": np.zeros(1, np.float32)}, optim.sgd(0.5), (x, y),
    ...                  epochs=20, batch_size=16, key=random.key(0), verbose=0)
    >>> round(float(p["w"][0]), 3), len(hist["loss"])
    (3.0, 20)
    """
    if isinstance(epochs, bool) or not isinstance(epochs, (int, np.integer)) or epochs < 1:
        raise ValueError(f"fit: epochs must be a positive integer, got {epochs!r}")
    if not distributed:
        return _fit(loss_fn, params, optimizer, train_data, OneProcess(), epochs=int(epochs), batch_size=batch_size,
                    key=key, val_data=val_data, metrics=metrics, state=state, callbacks=callbacks, verbose=verbose,
                    opt_state=opt_state, drop_last=drop_last, jit=jit, resume=resume, use_ema=use_ema)
    from funcnn import distributed as dist

    procs = Processes()
    with dist.abort_on_error():
        return _fit(loss_fn, dist.broadcast(params), dist.data_parallel(optimizer), train_data, procs,
                    epochs=int(epochs), batch_size=batch_size, key=dist.broadcast(key), val_data=val_data,
                    metrics=metrics, state=state, callbacks=callbacks, verbose=verbose if procs.main else 0,
                    opt_state=opt_state, drop_last=drop_last, jit=jit, resume=resume, use_ema=use_ema)


def _fit(loss_fn: Callable, params: Any, optimizer: GradientTransformation, train_data: tuple, procs: OneProcess, *,
         epochs: int, batch_size: int, key: Any, val_data: tuple | None, metrics: Any, state: Any, callbacks: Any,
         verbose: int, opt_state: Any, drop_last: bool, jit: bool, resume: Any, use_ema: bool) -> tuple:
    loop = _Loop(loss_fn, optimizer, train_data, val_data, batch_size, metrics, state is not None, callbacks,
                 verbose, drop_last, jit, use_ema, procs)
    fresh = new_run(params, optimizer.init(params) if opt_state is None else opt_state, state, key)
    run = loop.run(resume_from(resume, fresh, loop.callbacks), epochs)
    history = {name: list(values) for name, values in run.history.items()}
    if state is None:
        return run.params, run.opt_state, history
    return run.params, run.opt_state, history, run.model_state


class _Loop:
    """The pieces of one ``fit`` call that stay fixed while the run changes."""

    def __init__(self, loss_fn: Callable, optimizer: GradientTransformation, train_data: tuple,
                 val_data: tuple | None, batch_size: int, metrics: Any, with_state: bool, callbacks: Any,
                 verbose: int, drop_last: bool, jit: bool, use_ema: bool, procs: OneProcess) -> None:
        self.procs = procs
        self.loss_fn, self.call = loss_fn, _LossCall(loss_fn, with_state)
        self.step = _Compiled(_train_step(self.call, optimizer), jit, "fit")
        self.train_data, self.val_data = tuple(train_data), val_data
        self.batch_size, self.drop_last, self.verbose, self.jit = batch_size, drop_last, verbose, jit
        self.metrics = _named_metrics(metrics)
        self.use_ema = use_ema
        given = [cb if _is_callback(cb) else FunctionCallback(cb) for cb in (callbacks or [])]
        self.callbacks = sorted(given, key=lambda cb: getattr(cb, "order", 0))
        # callbacks that write files run in one process only
        self.active = [cb for cb in self.callbacks if procs.main or not getattr(cb, "writes_files", False)]
        self.steps_per_epoch = _steps(self.train_data, batch_size * procs.size, drop_last)

    def run(self, run: TrainState, epochs: int) -> TrainState:
        run = self.dispatch("on_train_begin", run)
        while run.epoch < epochs and not run.stop_training:
            run = self.epoch(run, epochs)
        return self.dispatch("on_train_end", run)

    def epoch(self, run: TrainState, epochs: int) -> TrainState:
        """One epoch (or its rest, for a run resumed mid-epoch), its validation and its logs."""
        next_key, shuffle_key, step_key = random.split(run.key, 3)
        progress = Progress(run.epoch + 1, epochs, self.steps_per_epoch, self.verbose, done=run.step_in_epoch)
        order = self.procs.batches(self.train_data, self.batch_size, shuffle_key, self.drop_last)
        for i, (x, y, weight) in itertools.islice(enumerate(order), run.step_in_epoch, None):
            run = self.train_step(run, x, y, self.procs.step_key(random.fold_in(step_key, i)), weight)
            logs = _means(run.running)
            progress.update(logs)
            run = self.dispatch("on_step_end", run, logs)
        run = run._replace(model_state=self.procs.average_state(run.model_state))
        logs = _means(run.running)
        logs.update(self.validation(run))
        logs.update(_injected_rate(run.opt_state))
        logs["seconds"] = progress.close(logs)
        history = {name: list(values) for name, values in run.history.items()}
        for name, v in logs.items():
            history.setdefault(name, []).append(v)
        run = run._replace(epoch=run.epoch + 1, step_in_epoch=0, key=next_key, history=history,
                           running=empty_running())
        run = self.dispatch("on_epoch_end", run, logs, late=False)
        # before the checkpoints save it: a stop in any process is a stop in all
        run = run._replace(stop_training=self.procs.agree(run.stop_training))
        return self.dispatch("on_epoch_end", run, logs, late=True)

    def train_step(self, run: TrainState, x: Any, y: Any, step_key: Any, weight: Any) -> TrainState:
        params, opt_state, new_state, loss, outputs = self.step(run.params, run.opt_state, run.model_state, x, y,
                                                                step_key, weight)
        if run.step == 0:
            _check_labels(outputs, y)
        running = _accumulate(run.running, *self.procs.total(_batch_values(loss, outputs, y, self.metrics), len(y)))
        return run._replace(params=params, opt_state=opt_state,
                            model_state=new_state if run.model_state is not None else None,
                            step=run.step + 1, step_in_epoch=run.step_in_epoch + 1, running=running)

    def validation(self, run: TrainState) -> dict[str, float]:
        if self.val_data is None:
            return {}
        params = optim.averaged_params(run.opt_state) if self.use_ema else run.params
        val = self.procs.evaluate(
            lambda data: evaluate(self.loss_fn, params, data, batch_size=max(self.batch_size, 256),
                                  metrics=self.metrics, state=run.model_state, jit=self.jit), tuple(self.val_data))
        return {f"val_{name}": v for name, v in val.items()}

    def dispatch(self, hook: str, run: TrainState, *logs: Any, late: bool | None = None) -> TrainState:
        """Call ``hook`` of every callback in order, each seeing the run its predecessors returned
        (``late``: only the checkpoints, which run last, or only the others)."""
        for cb in self.active:
            method = getattr(cb, hook, None)
            is_late = getattr(cb, "order", 0) >= _LATE
            if method is None or (late is not None and late != is_late):
                continue
            if is_late:  # a checkpoint: it saves the callbacks' states too
                run = run._replace(callbacks=self.callback_states())
            changed = method(run, *logs)
            run = run if changed is None else changed
        return run

    def callback_states(self) -> dict[str, Any]:
        states = {name: cb.state_dict() for name, cb in zip(callback_names(self.callbacks), self.callbacks)
                  if hasattr(cb, "state_dict")}
        return {name: state for name, state in states.items() if state is not None}


_LATE = 100  # callbacks of this order or more are checkpoints: they save what the others decided


def _is_callback(cb: Any) -> bool:
    return isinstance(cb, Callback) or any(hasattr(cb, hook) for hook in (
        "on_train_begin", "on_step_end", "on_epoch_end", "on_train_end"))


def _accumulate(running: dict, batch_sums: dict[str, float], n: int) -> dict:
    """The running sums with one more batch of ``n`` samples, whose sample-weighted sums are ``batch_sums``."""
    sums = dict(running["sums"])
    for name, v in batch_sums.items():
        sums[name] = sums.get(name, 0.0) + float(v)
    return {"count": running["count"] + n, "sums": sums}


def _means(running: dict) -> dict[str, float]:
    return {name: s / max(running["count"], 1) for name, s in running["sums"].items()}


def _injected_rate(opt_state: Any) -> dict[str, float]:
    """``{"lr": rate}`` when the optimizer's learning rate is an injected hyper-parameter."""
    rate = optim.get_hyperparams(opt_state).get("learning_rate")
    return {} if rate is None else {"lr": float(np.asarray(rate))}


def evaluate(loss_fn: Callable, params: Any, data: tuple, *, batch_size: int = 256,
             metrics: Sequence[Metric] | Mapping[str, Metric] = (), state: Any = None,
             jit: bool = True) -> dict[str, float]:
    """Mean loss and metrics of ``params`` over ``data = (x, y)``, in batches, in eval mode.

    ``loss_fn`` gets ``train=False``, ``key=None`` and ``state`` when it accepts them:
    evaluation is deterministic. Means are weighted by batch size. ``jit`` compiles the
    evaluation step.

    >>> import numpy as np, funcnn.numpy as fnp
    >>> loss = lambda p, x, y: fnp.mean((x * p - y) ** 2)
    >>> evaluate(loss, np.float64(2.0), (np.ones(10), np.ones(10)), batch_size=4)
    {'loss': 1.0}
    """
    call = _LossCall(loss_fn, False)
    step = _Compiled(lambda p, x, y, s: call(p, x, y, {"key": None, "train": False, "state": s}), jit, "evaluate")
    named = _named_metrics(metrics)
    running = empty_running()
    for x, y in batches(tuple(data), batch_size):
        loss, (outputs, _) = step(params, x, y, state)
        running = _accumulate(running, *OneProcess().total(_batch_values(loss, outputs, y, named), len(y)))
    return _means(running)


def _steps(data: tuple, batch_size: int, drop_last: bool) -> int:
    n = len(data[0])
    return n // batch_size if drop_last else math.ceil(n / max(batch_size, 1))
