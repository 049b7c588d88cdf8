"""Training loops: ``fit`` and ``evaluate`` over mini-batches, with progress output,
per-epoch history, callbacks (early stopping) and ``plot_history``.

``fit`` is the loop you would write by hand with ``value_and_grad``,
``optimizer.update`` and ``apply_updates`` (``docs/training.md`` shows it), plus the
bookkeeping. The training step (forward, backward, update) is one function, compiled
with ``funcnn.jit`` unless ``jit=False``. The loss function is called as ``loss_fn(params, x, y, **extras)`` where
``extras`` holds whichever of ``key`` (a fresh PRNG key per step, for dropout),
``train`` (True in ``fit``, False in ``evaluate``) and ``state`` (e.g. BatchNorm
statistics) its signature accepts. It returns the scalar loss, or ``(loss, aux)``
where ``aux`` is the model's outputs (for metrics) or a dict with ``"outputs"`` and,
when training with ``state``, the new ``"state"``.
"""
from __future__ import annotations

import inspect
import math
import sys
import time
import warnings
from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import Any

import numpy as np

from funcnn import jit as compile_with_jit
from funcnn import random
from funcnn import value_and_grad
from funcnn.extend import ConcretizationError, concrete
from funcnn.data import batches
from funcnn.optim import GradientTransformation, apply_updates

__all__ = ["EarlyStopping", "evaluate", "fit", "plot_history"]

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


class _Running:
    """Sample-weighted running means of the loss and the metrics."""

    def __init__(self) -> None:
        self.sums: dict[str, float] = {}
        self.count = 0

    def add(self, values: dict[str, float], n: int) -> None:
        for name, v in values.items():
            self.sums[name] = self.sums.get(name, 0.0) + float(v) * n
        self.count += n

    def means(self) -> dict[str, float]:
        return {name: s / max(self.count, 1) for name, s in self.sums.items()}


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

    def train_step(params: Any, opt_state: Any, state: Any, x: Any, y: Any, key: Any) -> tuple:
        (loss, (outputs, new_state)), grads = grad_fn(params, x, y, {"key": key, "train": True, "state": state})
        updates, opt_state = optimizer.update(grads, opt_state, params)
        return apply_updates(params, updates), opt_state, new_state, loss, outputs
    return train_step


# --- the loops -----------------------------------------------------------------------------


def fit(loss_fn: Callable, params: Any, optimizer: GradientTransformation, train_data: tuple, *, epochs: int,
        batch_size: int, key: Any, val_data: tuple | None = None,
        metrics: Sequence[Metric] | Mapping[str, Metric] = (), state: Any = None,
        callbacks: Iterable[Any] | None = None, verbose: int = 1, opt_state: Any = None,
        drop_last: bool = False, jit: bool = True) -> tuple:
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
        Number of passes and samples per step.
    key : PRNG key
        Shuffles every epoch and gives ``loss_fn`` a fresh ``key`` per step.
    metrics : sequence or dict of ``metric(outputs, y) -> float``
        Reported on training batches (running mean) and on ``val_data``.
    state : pytree, optional
        Non-trained state threaded through ``loss_fn`` (BatchNorm statistics).
    callbacks : iterable, optional
        Objects with ``on_epoch_end(epoch, logs, params)`` (returning True stops training) and
        optionally ``on_train_end(params)`` (returning replacement params), or plain functions
        used as ``on_epoch_end``. See :class:`EarlyStopping`.
    verbose : int
        0 silent, 1 a live progress bar per epoch on stderr (one line per epoch when stderr is
        not a terminal), 2 one line per epoch.
    opt_state : pytree, optional
        Resume from this optimizer state instead of ``optimizer.init(params)``.
    jit : bool, default True
        Compile the training step (forward, backward, update) and the evaluation step with
        ``funcnn.jit``; ``False`` runs them eagerly. A ``loss_fn`` that cannot be traced
        (Python ``if`` on a value) runs eagerly, with a warning.

    Returns
    -------
    (params, opt_state, history), or (params, opt_state, history, state) when ``state`` is given.
    ``history`` maps ``"loss"``, each metric, ``"val_loss"``, ``"val_<metric>"`` and
    ``"seconds"`` to per-epoch lists.

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
    if not isinstance(epochs, (int, np.integer)) or epochs < 1:
        raise ValueError(f"fit: epochs must be a positive integer, got {epochs!r}")
    call = _LossCall(loss_fn, state is not None)
    step = _Compiled(_train_step(call, optimizer), jit, "fit")
    named = _named_metrics(metrics)
    opt_state = optimizer.init(params) if opt_state is None else opt_state
    callbacks = [cb if hasattr(cb, "on_epoch_end") else _FunctionCallback(cb) for cb in (callbacks or [])]
    history: History = {}
    steps_per_epoch = _steps(train_data, batch_size, drop_last)
    for epoch in range(1, epochs + 1):
        key, shuffle_key, step_key = random.split(key, 3)
        progress = _Progress(epoch, epochs, steps_per_epoch, verbose)
        running = _Running()
        for i, (x, y) in enumerate(batches(tuple(train_data), batch_size, key=shuffle_key, drop_last=drop_last)):
            params, opt_state, new_state, loss, outputs = step(params, opt_state, state, x, y,
                                                                random.fold_in(step_key, i))
            if epoch == 1 and i == 0:
                _check_labels(outputs, y)
            state = new_state if state is not None else None
            running.add(_batch_values(loss, outputs, y, named), len(y))
            progress.update(running.means())
        logs = running.means()
        if val_data is not None:
            val = evaluate(loss_fn, params, val_data, batch_size=max(batch_size, 256), metrics=named, state=state,
                           jit=jit)
            logs.update({f"val_{name}": v for name, v in val.items()})
        logs["seconds"] = progress.close(logs)
        for name, v in logs.items():
            history.setdefault(name, []).append(v)
        if any([bool(cb.on_epoch_end(epoch, logs, params)) for cb in callbacks]):
            break
    for cb in callbacks:
        replacement = cb.on_train_end(params) if hasattr(cb, "on_train_end") else None
        params = params if replacement is None else replacement
    return (params, opt_state, history) if state is None else (params, opt_state, history, state)


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
    running = _Running()
    for x, y in batches(tuple(data), batch_size):
        loss, (outputs, _) = step(params, x, y, state)
        running.add(_batch_values(loss, outputs, y, named), len(y))
    return running.means()


def _steps(data: tuple, batch_size: int, drop_last: bool) -> int:
    n = len(data[0])
    return n // batch_size if drop_last else math.ceil(n / max(batch_size, 1))


class _FunctionCallback:
    def __init__(self, fn: Callable) -> None:
        self.on_epoch_end = fn


# --- callbacks -----------------------------------------------------------------------------


class EarlyStopping:
    """Stop when ``monitor`` has not improved by ``min_delta`` for ``patience`` epochs.

    With ``restore_best=True`` (default) ``fit`` returns the parameters of the best epoch.
    ``mode`` is ``"min"`` or ``"max"``; ``"auto"`` picks ``"max"`` for accuracy-like names.

    >>> stop = EarlyStopping("val_loss", patience=1)
    >>> [stop.on_epoch_end(e, {"val_loss": v}, {"w": e}) for e, v in enumerate([3.0, 2.0, 2.5, 2.4], 1)]
    [False, False, False, True]
    >>> stop.on_train_end({"w": 4})
    {'w': 2}
    """

    def __init__(self, monitor: str = "val_loss", patience: int = 5, min_delta: float = 0.0,
                 mode: str = "auto", restore_best: bool = True) -> None:
        if patience < 0 or min_delta < 0:
            raise ValueError(f"EarlyStopping: patience and min_delta must be >= 0, got {patience}, {min_delta}")
        if mode == "auto":
            mode = "max" if any(w in monitor for w in ("acc", "f1", "precision", "recall")) else "min"
        if mode not in ("min", "max"):
            raise ValueError(f"EarlyStopping: mode must be 'min', 'max' or 'auto', got {mode!r}")
        self.monitor, self.patience, self.min_delta, self.mode = monitor, patience, min_delta, mode
        self.restore_best = restore_best
        self.best: float | None = None
        self.best_params: Any = None
        self.best_epoch = 0
        self.wait = 0

    def on_epoch_end(self, epoch: int, logs: dict[str, float], params: Any) -> bool:
        if self.monitor not in logs:
            raise ValueError(f"EarlyStopping: {self.monitor!r} is not among the logged values {sorted(logs)}")
        value = logs[self.monitor]
        sign = 1.0 if self.mode == "min" else -1.0
        if self.best is None or sign * (self.best - value) > self.min_delta:
            self.best, self.best_params, self.best_epoch, self.wait = value, params, epoch, 0
            return False
        self.wait += 1
        return self.wait > self.patience

    def on_train_end(self, params: Any) -> Any:
        return self.best_params if self.restore_best and self.best_params is not None else None


# --- progress output -----------------------------------------------------------------------


def _format(logs: dict[str, float]) -> str:
    return " ".join(f"{name}={value:.4g}" for name, value in logs.items() if name != "seconds")


class _Progress:
    """A per-epoch progress bar on stderr: tqdm when installed, a small built-in bar otherwise.

    The bar is drawn only when stderr is a terminal; otherwise (and with ``verbose=2``) each
    epoch prints one summary line.
    """

    def __init__(self, epoch: int, epochs: int, total: int, verbose: int) -> None:
        self.prefix = f"Epoch {epoch}/{epochs}"
        self.total, self.verbose, self.done = total, verbose, 0
        self.start = self.last_draw = time.perf_counter()
        self.live = verbose == 1 and sys.stderr.isatty()
        self.tqdm = _tqdm_bar(self.prefix, total) if self.live else None

    def update(self, logs: dict[str, float]) -> None:
        self.done += 1
        if not self.live:
            return
        if self.tqdm is not None:
            self.tqdm.update(1)
            self.tqdm.set_postfix_str(_format(logs), refresh=False)
            return
        now = time.perf_counter()
        if now - self.last_draw >= 0.1 or self.done == self.total:
            self.last_draw = now
            filled = int(20 * self.done / max(self.total, 1))
            rate = self.done / max(now - self.start, 1e-9)
            sys.stderr.write(f"\r{self.prefix} [{'=' * filled:<20}] {self.done}/{self.total} "
                             f"{rate:.1f} steps/s {_format(logs)}\x1b[K")
            sys.stderr.flush()

    def close(self, logs: dict[str, float]) -> float:
        seconds = time.perf_counter() - self.start
        if self.tqdm is not None:
            self.tqdm.close()
        if self.verbose:
            rate = self.done / max(seconds, 1e-9)
            line = f"{self.prefix} {self.done}/{self.total} {seconds:.1f}s {rate:.1f} steps/s {_format(logs)}"
            sys.stderr.write(("\r" if self.live else "") + line + ("\x1b[K" if self.live else "") + "\n")
            sys.stderr.flush()
        return seconds


def _tqdm_bar(prefix: str, total: int) -> Any:
    try:
        from tqdm import tqdm
    except ImportError:
        return None
    return tqdm(total=total, desc=prefix, leave=False, file=sys.stderr, unit="step")


def plot_history(history: History, path: str) -> str:
    """Plot each logged quantity per epoch (train and validation together) into a PNG at ``path``.

    Needs matplotlib (``pip install matplotlib``); without it, raises ``ImportError`` saying so.
    """
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        raise ImportError("plot_history needs matplotlib, which is not installed: pip install matplotlib") from None
    names = [n for n in history if not n.startswith("val_") and n != "seconds"]
    fig, axes = plt.subplots(1, len(names), figsize=(4 * len(names), 3), squeeze=False)
    for ax, name in zip(axes[0], names):
        epochs = range(1, len(history[name]) + 1)
        ax.plot(epochs, history[name], label="train")
        if f"val_{name}" in history:
            ax.plot(epochs, history[f"val_{name}"], label="validation")
        ax.set_xlabel("epoch")
        ax.set_title(name)
        ax.legend()
    fig.tight_layout()
    fig.savefig(path)
    plt.close(fig)
    return path
