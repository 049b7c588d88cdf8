"""Recurrent layers: ``SimpleRNN``, ``LSTM`` and ``GRU``, their one-step cells, and their
functional forms, with PyTorch's gate layouts and formulas (weights map one to one).

A sequence layer multiplies the inputs of every time step by ``w_ih`` at once, one matmul
before the loop; the loop is a ``funcnn.lax.scan`` whose step only adds ``h @ w_hh.T`` and
applies the gates, so ``jit`` and the derivatives see one loop primitive, never ``time``
copies of its body. Masking by ``lengths`` keeps the carry of a padded step and writes
zeros to its output; the reverse direction scans from the end under the same mask, so it
starts at each sequence's own last valid step, as PyTorch's packed sequences do.
"""
from __future__ import annotations

import dataclasses
import math
from typing import Any, Callable

import numpy as np
from numpy.typing import DTypeLike

import funcnn.numpy as fnp
from funcnn import lax, random
from funcnn.extend import dtype_of, shape_of
from funcnn.nn._activations import relu, sigmoid, tanh
from funcnn.nn._checks import check_values
from funcnn.nn._layer import Context, Layer, as_shape, describe, entry, keystr, layer_constructor, positive_int

__all__ = [
    "GRU", "GRUCell", "LSTM", "LSTMCell", "SimpleRNN", "SimpleRNNCell", "gru", "gru_cell", "lstm",
    "lstm_cell", "rnn_cell", "simple_rnn",
]


@dataclasses.dataclass(frozen=True)
class _Kind:
    """What distinguishes the three recurrences: the number of gates stacked in the weights,
    whether the carry holds a cell state beside ``h``, and the names used in messages."""

    title: str  # "LSTM", as errors name the layer
    name: str  # "lstm", the stem of the layer's key in a model's params
    gates: int
    with_cell: bool


_RNN = _Kind("SimpleRNN", "simple_rnn", 1, False)
_LSTM = _Kind("LSTM", "lstm", 4, True)
_GRU = _Kind("GRU", "gru", 3, False)
_ACTIVATIONS: dict[str, Callable[[Any], Any]] = {"tanh": tanh, "relu": relu}


def _activation(nonlinearity: str, who: str) -> Callable[[Any], Any]:
    if nonlinearity not in _ACTIVATIONS:
        raise ValueError(f"{who}: nonlinearity must be 'tanh' or 'relu'; got {nonlinearity!r}")
    return _ACTIVATIONS[nonlinearity]


# --- one step -------------------------------------------------------------------------------
# ``xw`` is the input's share of the gates, ``x @ w_ih.T`` plus the biases that can be added
# outside the loop; ``w_hh_t`` is ``w_hh.T``, transposed once outside the loop too.


def _lstm_step(xw: Any, h: Any, c: Any, w_hh_t: Any) -> tuple[Any, Any]:
    # split, not four slices: one primitive, whose transpose is one concatenate
    i, f, g, o = fnp.split(xw + fnp.matmul(h, w_hh_t), 4, axis=-1)
    c = sigmoid(f) * c + sigmoid(i) * tanh(g)
    return sigmoid(o) * tanh(c), c


def _gru_step(xw: Any, h: Any, w_hh_t: Any, b_hh: Any) -> Any:
    hw = fnp.matmul(h, w_hh_t)
    if b_hh is not None:  # inside the loop: b_hn is multiplied by the reset gate
        hw = hw + b_hh
    n = shape_of(h)[-1]
    x_rz, x_n = fnp.split(xw, [2 * n], axis=-1)
    h_rz, h_n = fnp.split(hw, [2 * n], axis=-1)
    r, z = fnp.split(sigmoid(x_rz + h_rz), 2, axis=-1)
    candidate = tanh(x_n + r * h_n)
    return candidate + z * (h - candidate)  # (1 - z) * candidate + z * h


def _rnn_step(xw: Any, h: Any, w_hh_t: Any, act: Callable[[Any], Any]) -> Any:
    return act(xw + fnp.matmul(h, w_hh_t))


def _input_bias(kind: _Kind, b_ih: Any, b_hh: Any) -> Any:
    """The biases added to ``x @ w_ih.T`` before the loop (GRU keeps ``b_hh`` inside)."""
    if kind is _GRU or b_hh is None:
        return b_ih
    return b_hh if b_ih is None else b_ih + b_hh


def _step_fn(kind: _Kind, w_hh: Any, b_hh: Any, act: Callable[[Any], Any]) -> Callable[[Any, Any], tuple[Any, Any]]:
    """``step(xw, carry) -> (new_carry, h)`` for one direction of one layer."""
    w_hh_t = fnp.transpose(w_hh)
    if kind is _LSTM:
        def step(xw: Any, carry: Any) -> tuple[Any, Any]:
            h, c = _lstm_step(xw, carry[0], carry[1], w_hh_t)
            return (h, c), h
    elif kind is _GRU:
        def step(xw: Any, carry: Any) -> tuple[Any, Any]:
            h = _gru_step(xw, carry, w_hh_t, b_hh)
            return h, h
    else:
        def step(xw: Any, carry: Any) -> tuple[Any, Any]:
            h = _rnn_step(xw, carry, w_hh_t, act)
            return h, h
    return step


# --- checks ----------------------------------------------------------------------------------


def _name(where: tuple[str, ...] | None, leaf: str = "") -> str:
    """How an error names a weight: ``params['l0']['w_ih']``, or the argument ``w_ih`` of a
    functional cell (``where`` None)."""
    if where is None:
        return leaf or "the weights"
    return f"params{keystr(where + ((leaf,) if leaf else ()))}"


def _check_weights(kind: _Kind, p: dict, where: tuple[str, ...] | None, hidden: int | None,
                   who: str) -> tuple[int, int]:
    """``(input_size, hidden_size)`` of one direction's weights, after checking their shapes
    against each other (and against ``hidden`` when it is known)."""
    for name in ("w_ih", "w_hh"):
        if not isinstance(p, dict) or name not in p:
            entries = sorted(p) if isinstance(p, dict) else type(p).__name__
            raise ValueError(f"{who}: {_name(where)} must hold {kind.title} weights 'w_ih' and 'w_hh' "
                             f"(optionally 'b_ih', 'b_hh'); it holds {entries}")
    w_ih, w_hh = tuple(shape_of(p["w_ih"])), tuple(shape_of(p["w_hh"]))
    g = kind.gates
    h = w_hh[1] if len(w_hh) == 2 else -1
    if len(w_hh) != 2 or w_hh[0] != g * h or h < 1 or (hidden is not None and h != hidden):
        want = f"({g} * {hidden}, {hidden})" if hidden else f"({g} * hidden_size, hidden_size)"
        raise ValueError(f"{who}: {_name(where, 'w_hh')} must have shape {want}; got shape {w_hh}")
    if len(w_ih) != 2 or w_ih[0] != g * h:
        raise ValueError(f"{who}: {_name(where, 'w_ih')} must have shape ({g * h}, input_size) to match "
                         f"w_hh of shape {w_hh}; got shape {w_ih}")
    for name in ("b_ih", "b_hh"):
        if p.get(name) is not None and tuple(shape_of(p[name])) != (g * h,):
            raise ValueError(f"{who}: {_name(where, name)} must have shape ({g * h},) to match w_hh of "
                             f"shape {w_hh}; got shape {tuple(shape_of(p[name]))}")
    return w_ih[1], h


def _directions(kind: _Kind, params: Any, who: str, path: tuple[str, ...]) -> list[list[str]]:
    """The keys of the params, layer by layer: ``[["l0", "l0_reverse"], ["l1", "l1_reverse"]]``."""
    if not isinstance(params, dict) or "l0" not in params:
        entries = sorted(params) if isinstance(params, dict) else type(params).__name__
        raise ValueError(f"{who}: params{keystr(path)} must hold one dict per layer and direction, 'l0', "
                         f"'l0_reverse', 'l1', ... (PyTorch's suffixes); it holds {entries}")
    num_layers = 0
    while f"l{num_layers}" in params:
        num_layers += 1
    bidirectional = "l0_reverse" in params
    keys = [[f"l{k}", f"l{k}_reverse"][:1 + bidirectional] for k in range(num_layers)]
    expected = {key for layer in keys for key in layer}
    if set(params) != expected:
        raise ValueError(f"{who}: params{keystr(path)} holds {sorted(params)}; a {num_layers}-layer "
                         f"{'bidirectional ' if bidirectional else ''}{kind.title} holds {sorted(expected)}")
    return keys


def _check_x(x: Any, features: int, batch_first: bool, who: str, where: str) -> tuple[int, int]:
    """``(time, batch)`` of a sequence input ``x`` that ``w_ih`` (named by ``where``) can read."""
    xs = tuple(shape_of(x))
    layout = "(batch, time, features)" if batch_first else "(time, batch, features)"
    want = f"(batch, time, {features})" if batch_first else f"(time, batch, {features})"
    if len(xs) != 3:
        raise ValueError(f"{who}: the input x must have shape {want} (batch_first={batch_first}); got shape {xs}")
    if xs[-1] != features:
        raise ValueError(f"{who}: the input x has shape {xs}, whose last axis has {xs[-1]} features, but "
                         f"{where} reads {features}, so x must have shape {want} (the layout is {layout})")
    return (xs[1], xs[0]) if batch_first else (xs[0], xs[1])


def _check_lengths(lengths: Any, time: int, batch: int, x_shape: tuple, who: str) -> Any:
    lengths = fnp.asarray(lengths)
    shape = tuple(shape_of(lengths))
    if shape != (batch,) or not np.issubdtype(dtype_of(lengths), np.integer):
        raise ValueError(f"{who}: lengths must be an int array of shape ({batch},), one length per sequence "
                         f"of x (shape {x_shape}); got {dtype_of(lengths)} of shape {shape}")
    return check_values(lengths, "indices", f"{who}: every entry of lengths must lie in [0, {time}] (x has "
                        f"shape {x_shape}, so {time} steps)", hi=time + 1)


def _initial(kind: _Kind, initial_state: Any, states: int, batch: int, hidden: int, dtype: Any,
             who: str) -> tuple[Any, Any]:
    """``(h0, c0)`` of shape ``(states, batch, hidden)`` (``c0`` None without a cell state)."""
    shape = (states, batch, hidden)
    if initial_state is None:
        zeros = fnp.zeros(shape, dtype)
        return zeros, (zeros if kind.with_cell else None)
    if kind.with_cell:
        if not (isinstance(initial_state, (tuple, list)) and len(initial_state) == 2):
            raise ValueError(f"{who}: the initial state of an LSTM is a pair (h0, c0), each of shape {shape}; "
                             f"got a {type(initial_state).__name__}")
        named = list(zip(("h0", "c0"), initial_state))
    else:
        named = [("h0", initial_state)]
    for name, value in named:
        if tuple(shape_of(value)) != shape:
            raise ValueError(f"{who}: the initial state {name} must have shape {shape} (num_layers * "
                             f"num_directions, batch, hidden_size); got shape {tuple(shape_of(value))}")
    cast = [fnp.astype(value, dtype) for _, value in named]
    return cast[0], (cast[1] if kind.with_cell else None)


# --- a whole sequence ---------------------------------------------------------------------------


def _direction(kind: _Kind, p: dict, x_tm: Any, carry: Any, mask: Any, reverse: bool,
               act: Callable[[Any], Any], outputs: bool = True) -> tuple[Any, Any]:
    """One direction of one layer over the time-major input ``x_tm`` (time, batch, features):
    ``(final carry, outputs of shape (time, batch, hidden))``, or ``(final carry, None)``
    without `outputs` (the loop then stacks nothing and its backward adds no output cotangents)."""
    xw = fnp.matmul(x_tm, fnp.transpose(p["w_ih"]))  # every step's input share at once
    bias = _input_bias(kind, p.get("b_ih"), p.get("b_hh"))
    if bias is not None:
        xw = xw + bias
    cell = _step_fn(kind, p["w_hh"], p.get("b_hh"), act)
    if mask is None:
        def plain(carry: Any, xw_t: Any) -> tuple[Any, Any]:
            new, h = cell(xw_t, carry)
            return new, (h if outputs else None)
        return lax.scan(plain, carry, xw, reverse=reverse)

    def masked(carry: Any, inputs: tuple[Any, Any]) -> tuple[Any, Any]:
        xw_t, valid = inputs  # valid: (batch, 1), False at the padded steps
        new, h = cell(xw_t, carry)
        if kind.with_cell:
            new = (fnp.where(valid, new[0], carry[0]), fnp.where(valid, new[1], carry[1]))
        else:
            new = fnp.where(valid, new, carry)
        return new, (fnp.where(valid, h, 0.0) if outputs else None)

    return lax.scan(masked, carry, (xw, mask), reverse=reverse)


def _sequence(kind: _Kind, params: Any, x: Any, initial_state: Any, lengths: Any, batch_first: bool,
              act: Callable[[Any], Any], who: str, path: tuple[str, ...],
              return_sequences: bool = True) -> tuple[Any, Any]:
    layers = _directions(kind, params, who, path)
    hidden = None
    for k, keys in enumerate(layers):
        for key in keys:
            features, hidden = _check_weights(kind, params[key], path + (key,), hidden, who)
            if k and features != len(keys) * hidden:
                w_ih = tuple(shape_of(params[key]["w_ih"]))
                raise ValueError(f"{who}: params{keystr(path + (key, 'w_ih'))} has shape {w_ih}; layer {k} reads "
                                 f"the {len(keys) * hidden} outputs of layer {k - 1}")
    assert hidden is not None
    first = params["l0"]["w_ih"]
    where = f"params{keystr(path + ('l0', 'w_ih'))} of shape {tuple(shape_of(first))}"
    time, batch = _check_x(x, shape_of(first)[1], batch_first, who, where)
    x_tm = fnp.swapaxes(x, 0, 1) if batch_first else x
    mask = None
    if lengths is not None:
        lengths = _check_lengths(lengths, time, batch, tuple(shape_of(x)), who)
        mask = fnp.reshape(fnp.arange(time)[:, None] < lengths[None, :], (time, batch, 1))
    dtype = np.result_type(dtype_of(x), dtype_of(first))
    h0, c0 = _initial(kind, initial_state, len(layers) * len(layers[0]), batch, hidden, dtype, who)
    finals: list[Any] = []
    outputs = x_tm
    for k, keys in enumerate(layers):
        sequences = return_sequences or k < len(layers) - 1  # the top layer's only when asked for
        ys = []
        for key in keys:
            i = len(finals)
            carry = (h0[i], c0[i]) if kind.with_cell else h0[i]
            carry, y = _direction(kind, params[key], outputs, carry, mask, key.endswith("_reverse"), act, sequences)
            finals.append(carry)
            ys.append(y)
        if sequences:
            outputs = ys[0] if len(ys) == 1 else fnp.concatenate(ys, axis=-1)
    if return_sequences:
        y = fnp.swapaxes(outputs, 0, 1) if batch_first else outputs
    else:  # each sequence's last valid output: the top layer's final h, both directions'
        top = [f[0] if kind.with_cell else f for f in finals[-len(layers[-1]):]]
        y = top[0] if len(top) == 1 else fnp.concatenate(top, axis=-1)
    if kind.with_cell:
        return y, (fnp.stack([f[0] for f in finals]), fnp.stack([f[1] for f in finals]))
    return y, fnp.stack(finals)


# --- functional forms ---------------------------------------------------------------------------


def lstm(x: Any, params: Any, initial_state: Any = None, *, lengths: Any = None, batch_first: bool = True,
         return_sequences: bool = True) -> tuple[Any, tuple[Any, Any]]:
    """A (stacked, optionally bidirectional) LSTM over a batch of sequences, PyTorch's formulas.

    Parameters
    ----------
    x : ndarray, shape (batch, time, input_size), or (time, batch, input_size) when not `batch_first`
    params : dict
        One dict per layer and direction, keyed by PyTorch's suffixes: ``"l0"``, ``"l0_reverse"``
        (bidirectional), ``"l1"``, ... Each holds ``w_ih (4H, in)``, ``w_hh (4H, H)`` and
        optionally ``b_ih (4H,)``, ``b_hh (4H,)``, the gates stacked as i, f, g, o: PyTorch's
        ``weight_ih_l0_reverse`` is ``params["l0_reverse"]["w_ih"]``, unchanged. The number of
        layers and directions is read from the keys.
    initial_state : pair (h0, c0), each of shape (num_layers * num_directions, batch, H), optional
        Zeros by default.
    lengths : int array, shape (batch,), optional
        Each sequence's number of valid steps (in ``[0, time]``); the steps after it are
        padding: they keep the carry and output zeros.
    batch_first : bool, default True
    return_sequences : bool, default True
        False returns only each sequence's last output, ``(batch, num_directions * H)`` (the
        top layer's final ``h``), and the loop stacks no per-step outputs.

    Returns
    -------
    y : ndarray, shape (batch, time, num_directions * H) (time first when not `batch_first`)
        The last layer's outputs; the directions are concatenated (forward first).
    (h_n, c_n) : ndarrays, shape (num_layers * num_directions, batch, H)
        The final states, ordered as PyTorch's: layer 0 forward, layer 0 reverse, layer 1, ...

    Examples
    --------
    >>> import numpy as np
    >>> from funcnn import nn, random
    >>> _, params = nn.LSTM(16).init(random.key(0), (-1, 5, 3))
    >>> y, (h, c) = nn.lstm(np.ones((2, 5, 3), np.float32), params)
    >>> y.shape, h.shape, c.shape
    ((2, 5, 16), (1, 2, 16), (1, 2, 16))
    """
    return _sequence(_LSTM, params, x, initial_state, lengths, batch_first, tanh, "lstm", (), return_sequences)


def gru(x: Any, params: Any, initial_state: Any = None, *, lengths: Any = None, batch_first: bool = True,
        return_sequences: bool = True) -> tuple[Any, Any]:
    """A (stacked, optionally bidirectional) GRU over a batch of sequences, PyTorch's formulas.

    As :func:`lstm`, with the gates r, z, n stacked in ``w_ih (3H, in)`` and ``w_hh (3H, H)``,
    and a single state: returns ``(y, h_n)``, and `initial_state` is ``h0`` of shape
    ``(num_layers * num_directions, batch, H)``.

    Examples
    --------
    >>> import numpy as np
    >>> from funcnn import nn, random
    >>> _, params = nn.GRU(8, bidirectional=True).init(random.key(0), (-1, 5, 3))
    >>> y, h = nn.gru(np.ones((2, 5, 3)), params, lengths=np.array([5, 2]))
    >>> y.shape, h.shape, bool((y[1, 2:] == 0).all())
    ((2, 5, 16), (2, 2, 8), True)
    """
    return _sequence(_GRU, params, x, initial_state, lengths, batch_first, tanh, "gru", (), return_sequences)


def simple_rnn(x: Any, params: Any, initial_state: Any = None, *, lengths: Any = None, batch_first: bool = True,
               return_sequences: bool = True, nonlinearity: str = "tanh") -> tuple[Any, Any]:
    """An Elman RNN, ``h' = act(x @ w_ih.T + b_ih + h @ w_hh.T + b_hh)``: PyTorch's ``nn.RNN``.

    As :func:`gru`, with ``w_ih (H, in)``, ``w_hh (H, H)``; `nonlinearity` is ``"tanh"`` or
    ``"relu"``.

    Examples
    --------
    >>> import numpy as np
    >>> from funcnn import nn, random
    >>> _, params = nn.SimpleRNN(4, num_layers=2).init(random.key(0), (-1, 5, 3))
    >>> y, h = nn.simple_rnn(np.ones((2, 5, 3), np.float32), params, nonlinearity="relu")
    >>> y.shape, h.shape
    ((2, 5, 4), (2, 2, 4))
    """
    act = _activation(nonlinearity, "simple_rnn")
    return _sequence(_RNN, params, x, initial_state, lengths, batch_first, act, "simple_rnn", (), return_sequences)


def _cell_input(kind: _Kind, x: Any, h: Any, c: Any, w_ih: Any, w_hh: Any, b_ih: Any, b_hh: Any,
                who: str, where: tuple[str, ...] | None) -> Any:
    """``x @ w_ih.T`` plus the input biases, after checking the shapes of one step's arguments."""
    p = {"w_ih": w_ih, "w_hh": w_hh, "b_ih": b_ih, "b_hh": b_hh}
    features, hidden = _check_weights(kind, p, where, None, who)
    xs = tuple(shape_of(x))
    if not xs or xs[-1] != features:
        raise ValueError(f"{who}: the input x has shape {xs}, but {_name(where, 'w_ih')} has shape "
                         f"{tuple(shape_of(w_ih))}, so x must have shape (batch, {features})")
    for name, value in (("h", h), ("c", c)):
        if value is not None and (tuple(shape_of(value))[-1:] != (hidden,)
                                  or tuple(shape_of(value))[:-1] != xs[:-1]):
            raise ValueError(f"{who}: the state {name} must have shape {xs[:-1] + (hidden,)} to go with x of "
                             f"shape {xs} and w_hh of shape {tuple(shape_of(w_hh))}; got shape "
                             f"{tuple(shape_of(value))}")
    xw = fnp.matmul(x, fnp.transpose(w_ih))
    bias = _input_bias(kind, b_ih, b_hh)
    return xw if bias is None else xw + bias


def lstm_cell(x: Any, h: Any, c: Any, w_ih: Any, w_hh: Any, b_ih: Any = None, b_hh: Any = None) -> tuple[Any, Any]:
    """One LSTM step, PyTorch's ``LSTMCell``: returns the new ``(h, c)``.

    ``gates = x @ w_ih.T + b_ih + h @ w_hh.T + b_hh``, split into i, f, g, o (in that
    order); ``c' = sigmoid(f) * c + sigmoid(i) * tanh(g)``, ``h' = sigmoid(o) * tanh(c')``.

    Parameters
    ----------
    x : ndarray, shape (batch, input_size)
    h, c : ndarray, shape (batch, H)
    w_ih : ndarray, shape (4H, input_size)
    w_hh : ndarray, shape (4H, H)
    b_ih, b_hh : ndarray, shape (4H,), optional

    Examples
    --------
    >>> import numpy as np
    >>> from funcnn import lax, nn
    >>> w_ih, w_hh = np.full((8, 3), 0.1), np.full((8, 2), 0.1)
    >>> def step(carry, x):
    ...     carry = nn.lstm_cell(x, *carry, w_ih, w_hh)
    ...     return carry, carry[0]
    >>> (h, c), hs = lax.scan(step, (np.zeros((1, 2)), np.zeros((1, 2))), np.ones((4, 1, 3)))
    >>> hs.shape, h.round(4)
    ((4, 1, 2), array([[0.2183, 0.2183]]))
    """
    xw = _cell_input(_LSTM, x, h, c, w_ih, w_hh, b_ih, b_hh, "lstm_cell", None)
    return _lstm_step(xw, h, c, fnp.transpose(w_hh))


def gru_cell(x: Any, h: Any, w_ih: Any, w_hh: Any, b_ih: Any = None, b_hh: Any = None) -> Any:
    """One GRU step, PyTorch's ``GRUCell``: returns the new ``h``.

    With the gates r, z, n stacked in that order in the weights:
    ``r = sigmoid(x W_ir.T + b_ir + h W_hr.T + b_hr)``, ``z`` likewise,
    ``n = tanh(x W_in.T + b_in + r * (h W_hn.T + b_hn))``, ``h' = (1 - z) * n + z * h``.

    Parameters
    ----------
    x : ndarray, shape (batch, input_size)
    h : ndarray, shape (batch, H)
    w_ih : ndarray, shape (3H, input_size)
    w_hh : ndarray, shape (3H, H)
    b_ih, b_hh : ndarray, shape (3H,), optional

    Examples
    --------
    >>> import numpy as np
    >>> from funcnn import nn
    >>> nn.gru_cell(np.ones((1, 3)), np.zeros((1, 2)), np.full((6, 3), 0.1), np.full((6, 2), 0.1)).round(4)
    array([[0.124, 0.124]])
    """
    xw = _cell_input(_GRU, x, h, None, w_ih, w_hh, b_ih, b_hh, "gru_cell", None)
    return _gru_step(xw, h, fnp.transpose(w_hh), b_hh)


def rnn_cell(x: Any, h: Any, w_ih: Any, w_hh: Any, b_ih: Any = None, b_hh: Any = None,
             nonlinearity: str = "tanh") -> Any:
    """One Elman RNN step, PyTorch's ``RNNCell``: ``act(x @ w_ih.T + b_ih + h @ w_hh.T + b_hh)``.

    Parameters
    ----------
    x : ndarray, shape (batch, input_size)
    h : ndarray, shape (batch, H)
    w_ih : ndarray, shape (H, input_size)
    w_hh : ndarray, shape (H, H)
    b_ih, b_hh : ndarray, shape (H,), optional
    nonlinearity : "tanh" or "relu"

    Examples
    --------
    >>> import numpy as np
    >>> from funcnn import nn
    >>> nn.rnn_cell(np.ones((1, 3)), np.ones((1, 2)), np.full((2, 3), 0.5), -np.eye(2), nonlinearity="relu")
    array([[0.5, 0.5]])
    """
    act = _activation(nonlinearity, "rnn_cell")
    xw = _cell_input(_RNN, x, h, None, w_ih, w_hh, b_ih, b_hh, "rnn_cell", None)
    return _rnn_step(xw, h, fnp.transpose(w_hh), act)


# --- layers -----------------------------------------------------------------------------------


def _init_direction(key: Any, kind: _Kind, features: int, hidden: int, use_bias: bool, dtype: DTypeLike) -> dict:
    """PyTorch's default: every weight and bias uniform on ``[-1/sqrt(H), 1/sqrt(H))``."""
    bound = 1.0 / math.sqrt(hidden)
    k_ih, k_hh, k_bih, k_bhh = random.split(key, 4)
    rows = kind.gates * hidden
    p = {"w_ih": random.uniform(k_ih, (rows, features), dtype, -bound, bound),
         "w_hh": random.uniform(k_hh, (rows, hidden), dtype, -bound, bound)}
    if use_bias:
        p["b_ih"] = random.uniform(k_bih, (rows,), dtype, -bound, bound)
        p["b_hh"] = random.uniform(k_bhh, (rows,), dtype, -bound, bound)
    return p


def _shapes(input_shape: Any, who: str) -> tuple[tuple[int, ...], tuple[Any, ...]]:
    """``x``'s shape and the rest, from ``input_shape``: a shape, or a tuple of shapes whose first
    is ``x``'s (the layer's input is then a tuple, ``(x, lengths)`` or ``(x, lengths, state)``)."""
    if isinstance(input_shape, (tuple, list)) and input_shape and isinstance(input_shape[0], (tuple, list)):
        return as_shape(input_shape[0], who), tuple(input_shape[1:])
    return as_shape(input_shape, who), ()


def _unpack(x: Any, who: str) -> tuple[Any, Any, Any]:
    """A sequence layer's input: ``x``, ``(x, lengths)`` or ``(x, lengths, initial_state)``."""
    if not isinstance(x, (tuple, list)):
        return x, None, None
    if len(x) not in (2, 3):
        raise ValueError(f"{who}: the input must be x, (x, lengths) or (x, lengths, initial_state); got a "
                         f"{type(x).__name__} of {len(x)} items")
    return x[0], x[1], (x[2] if len(x) == 3 else None)


def _sequence_layer(kind: _Kind, hidden_size: int, num_layers: int, bidirectional: bool, batch_first: bool,
                    return_sequences: bool, return_state: bool, use_bias: bool, dtype: DTypeLike,
                    nonlinearity: str = "tanh") -> Layer:
    hidden_size = positive_int(hidden_size, kind.title, "hidden_size")
    num_layers = positive_int(num_layers, kind.title, "num_layers")
    act = _activation(nonlinearity, kind.title)
    directions = 2 if bidirectional else 1

    def init_fn(key: Any, input_shape: Any, path: tuple[str, ...]) -> tuple[Any, Any, Any]:
        who = describe(kind.title, path)
        shape, _ = _shapes(input_shape, who)
        if len(shape) != 3 or shape[-1] < 1:
            layout = "(batch, time, features)" if batch_first else "(time, batch, features)"
            raise ValueError(f"{who}: input_shape must be {layout} with a known number of features; got {shape}")
        batch = shape[0] if batch_first else shape[1]
        params, features = {}, shape[-1]
        for k in range(num_layers):
            for d, suffix in enumerate(["", "_reverse"][:directions]):
                sub = random.fold_in(key, k * directions + d)
                params[f"l{k}{suffix}"] = _init_direction(sub, kind, features, hidden_size, use_bias, dtype)
            features = directions * hidden_size
        out = directions * hidden_size
        y_shape = (shape[0], shape[1], out) if return_sequences else (batch, out)
        h_shape = (num_layers * directions, batch, hidden_size)
        if return_state:
            return (y_shape, (h_shape, h_shape) if kind.with_cell else h_shape), params, {}
        return y_shape, params, {}

    def apply_fn(params: Any, state: Any, x: Any, ctx: Context) -> tuple[Any, Any]:
        who = describe(kind.title, ctx.path)
        x, lengths, initial_state = _unpack(x, who)
        y, final = _sequence(kind, params, x, initial_state, lengths, batch_first, act, who, ctx.path,
                             return_sequences)
        return ((y, final) if return_state else y), state

    return Layer(kind.name, init_fn, apply_fn)


@layer_constructor
def LSTM(hidden_size: int, num_layers: int = 1, bidirectional: bool = False, batch_first: bool = True,
         return_sequences: bool = True, return_state: bool = False, use_bias: bool = True,
         dtype: DTypeLike = np.float32) -> Layer:
    """A long short-term memory layer (PyTorch's ``nn.LSTM``), looped with ``funcnn.lax.scan``.

    Parameters
    ----------
    hidden_size : int
        ``H``, the size of ``h`` and ``c``.
    num_layers : int, default 1
        Stacked layers: each reads the outputs of the one below.
    bidirectional : bool, default False
        Also run each layer from the end of the sequences; its outputs are concatenated
        after the forward direction's (``2H`` features).
    batch_first : bool, default True
        Inputs and outputs are ``(batch, time, features)``, funcnn's usual layout (PyTorch's
        default is time first); False for ``(time, batch, features)``.
    return_sequences : bool, default True
        Return every step's output; False returns each sequence's last output,
        ``(batch, num_directions * H)`` (with `lengths`, the output at its last valid step;
        for the reverse direction, its output at step 0).
    return_state : bool, default False
        Also return the final state ``(h_n, c_n)``: the output is ``(y, (h_n, c_n))``.
    use_bias : bool, default True
    dtype : floating dtype, default float32

    Notes
    -----
    The input is ``x``, or ``(x, lengths)`` to mask padded steps (``lengths``: int, shape
    (batch,)), or ``(x, lengths, (h0, c0))`` with an initial state (``lengths`` may be
    None); states have shape ``(num_layers * num_directions, batch, H)``. ``init`` takes
    ``x``'s shape, or a tuple of shapes whose first is ``x``'s.

    Params: ``{"l0": {"w_ih": (4H, in), "w_hh": (4H, H), "b_ih": (4H,), "b_hh": (4H,)},
    "l0_reverse": ..., "l1": ...}``: PyTorch's ``weight_ih_l1_reverse`` is
    ``params["l1_reverse"]["w_ih"]``, same shape, gates stacked i, f, g, o. Initialised as
    PyTorch does: uniform on ``[-1/sqrt(H), 1/sqrt(H))``. See ``docs/sequence.md``.

    Examples
    --------
    >>> import numpy as np
    >>> from funcnn import nn, random
    >>> model = nn.serial(nn.LSTM(32, return_sequences=False), nn.Dense(10))
    >>> out_shape, params = model.init(random.key(0), (-1, 28, 28))
    >>> out_shape, params["lstm_0"]["l0"]["w_ih"].shape, params["lstm_0"]["l0"]["w_hh"].shape
    ((-1, 10), (128, 28), (128, 32))
    >>> model.apply(params, np.zeros((4, 28, 28), np.float32)).shape
    (4, 10)
    """
    return _sequence_layer(_LSTM, hidden_size, num_layers, bidirectional, batch_first, return_sequences,
                           return_state, use_bias, dtype)


@layer_constructor
def GRU(hidden_size: int, num_layers: int = 1, bidirectional: bool = False, batch_first: bool = True,
        return_sequences: bool = True, return_state: bool = False, use_bias: bool = True,
        dtype: DTypeLike = np.float32) -> Layer:
    """A gated recurrent unit layer (PyTorch's ``nn.GRU``), looped with ``funcnn.lax.scan``.

    As :func:`LSTM`, with gates r, z, n stacked in ``w_ih (3H, in)`` and ``w_hh (3H, H)``,
    and a single state ``h``: ``return_state=True`` gives ``(y, h_n)``, and the input
    ``(x, lengths, h0)`` takes an initial state.

    Examples
    --------
    >>> import numpy as np
    >>> from funcnn import nn, random
    >>> layer = nn.GRU(8, return_state=True)
    >>> (y_shape, h_shape), params = layer.init(random.key(0), (-1, 7, 3))
    >>> y_shape, h_shape, params["l0"]["w_hh"].shape
    ((-1, 7, 8), (1, -1, 8), (24, 8))
    >>> y, h = layer.apply(params, (np.ones((2, 7, 3), np.float32), np.array([7, 3])))
    >>> bool(np.allclose(h[0], y[np.arange(2), [6, 2]]))
    True
    """
    return _sequence_layer(_GRU, hidden_size, num_layers, bidirectional, batch_first, return_sequences,
                           return_state, use_bias, dtype)


@layer_constructor
def SimpleRNN(hidden_size: int, nonlinearity: str = "tanh", num_layers: int = 1, bidirectional: bool = False,
              batch_first: bool = True, return_sequences: bool = True, return_state: bool = False,
              use_bias: bool = True, dtype: DTypeLike = np.float32) -> Layer:
    """An Elman RNN layer (PyTorch's ``nn.RNN``): ``h' = act(x @ w_ih.T + b_ih + h @ w_hh.T + b_hh)``.

    As :func:`GRU`, with ``w_ih (H, in)``, ``w_hh (H, H)`` and `nonlinearity` ``"tanh"``
    or ``"relu"``.

    Examples
    --------
    >>> import numpy as np
    >>> from funcnn import nn, random
    >>> layer = nn.SimpleRNN(6, nonlinearity="relu", bidirectional=True, return_sequences=False)
    >>> out_shape, params = layer.init(random.key(0), (-1, 5, 2))
    >>> out_shape, sorted(params), sorted(params["l0"])
    ((-1, 12), ['l0', 'l0_reverse'], ['b_hh', 'b_ih', 'w_hh', 'w_ih'])
    """
    return _sequence_layer(_RNN, hidden_size, num_layers, bidirectional, batch_first, return_sequences,
                           return_state, use_bias, dtype, nonlinearity)


def _cell_layer(kind: _Kind, hidden_size: int, use_bias: bool, dtype: DTypeLike, nonlinearity: str = "tanh") -> Layer:
    title = f"{kind.title}Cell"
    hidden_size = positive_int(hidden_size, title, "hidden_size")
    act = _activation(nonlinearity, title)

    def init_fn(key: Any, input_shape: Any, path: tuple[str, ...]) -> tuple[Any, Any, Any]:
        who = describe(title, path)
        shape, _ = _shapes(input_shape, who)
        if not shape or shape[-1] < 1:
            raise ValueError(f"{who}: input_shape must be x's shape, (batch, features) with a known number of "
                             f"features (or a tuple of shapes whose first is x's); got {shape}")
        h_shape = shape[:-1] + (hidden_size,)
        params = _init_direction(key, kind, shape[-1], hidden_size, use_bias, dtype)
        return ((h_shape, h_shape) if kind.with_cell else h_shape), params, {}

    def apply_fn(params: Any, state: Any, x: Any, ctx: Context) -> tuple[Any, Any]:
        who = describe(title, ctx.path)
        carry_name = "(h, c)" if kind.with_cell else "h"
        if not (isinstance(x, (tuple, list)) and len(x) == 2):
            raise ValueError(f"{who}: the input must be a pair (x, {carry_name}), one step's input and carry; "
                             f"got a {type(x).__name__}")
        x, carry = x
        if kind.with_cell and not (isinstance(carry, (tuple, list)) and len(carry) == 2):
            raise ValueError(f"{who}: the carry of an LSTM cell is a pair (h, c); got a {type(carry).__name__}")
        h, c = (carry[0], carry[1]) if kind.with_cell else (carry, None)
        w_ih, w_hh = entry(params, "w_ih", ctx.path), entry(params, "w_hh", ctx.path)
        b_ih, b_hh = params.get("b_ih"), params.get("b_hh")
        xw = _cell_input(kind, x, h, c, w_ih, w_hh, b_ih, b_hh, who, ctx.path)
        new_carry, _ = _step_fn(kind, w_hh, b_hh, act)(xw, (h, c) if kind.with_cell else h)
        return new_carry, state

    return Layer(f"{kind.name}_cell", init_fn, apply_fn)


@layer_constructor
def LSTMCell(hidden_size: int, use_bias: bool = True, dtype: DTypeLike = np.float32) -> Layer:
    """One LSTM step as a layer (PyTorch's ``nn.LSTMCell``), for loops written by hand.

    The input is ``(x, (h, c))``, the output the new ``(h, c)``; ``x`` has shape
    ``(batch, input_size)``, ``h`` and ``c`` ``(batch, H)``. ``init`` takes ``x``'s shape.
    Params ``{"w_ih": (4H, in), "w_hh": (4H, H), "b_ih": (4H,), "b_hh": (4H,)}``, PyTorch's
    ``weight_ih``, ``weight_hh``, ``bias_ih``, ``bias_hh``. See :func:`lstm_cell`.

    Examples
    --------
    >>> import numpy as np
    >>> from funcnn import lax, nn, random
    >>> cell = nn.LSTMCell(4)
    >>> _, params = cell.init(random.key(0), (-1, 3))
    >>> def step(carry, x):
    ...     carry = cell.apply(params, (x, carry))
    ...     return carry, carry[0]
    >>> zeros = np.zeros((2, 4), np.float32)
    >>> (h, c), hs = lax.scan(step, (zeros, zeros), np.ones((6, 2, 3), np.float32))
    >>> hs.shape, h.dtype
    ((6, 2, 4), dtype('float32'))
    """
    return _cell_layer(_LSTM, hidden_size, use_bias, dtype)


@layer_constructor
def GRUCell(hidden_size: int, use_bias: bool = True, dtype: DTypeLike = np.float32) -> Layer:
    """One GRU step as a layer (PyTorch's ``nn.GRUCell``): the input is ``(x, h)``, the output
    the new ``h``. Params as :func:`LSTMCell`'s with ``3H`` rows (gates r, z, n). See
    :func:`gru_cell`.

    Examples
    --------
    >>> import numpy as np
    >>> from funcnn import nn, random
    >>> out_shape, params = nn.GRUCell(4).init(random.key(0), (-1, 3))
    >>> out_shape, params["w_ih"].shape
    ((-1, 4), (12, 3))
    """
    return _cell_layer(_GRU, hidden_size, use_bias, dtype)


@layer_constructor
def SimpleRNNCell(hidden_size: int, nonlinearity: str = "tanh", use_bias: bool = True,
                  dtype: DTypeLike = np.float32) -> Layer:
    """One Elman RNN step as a layer (PyTorch's ``nn.RNNCell``): the input is ``(x, h)``, the
    output the new ``h``. See :func:`rnn_cell`.

    Examples
    --------
    >>> import numpy as np
    >>> from funcnn import nn, random
    >>> cell = nn.SimpleRNNCell(4, nonlinearity="relu")
    >>> _, params = cell.init(random.key(0), (-1, 3))
    >>> cell.apply(params, (np.ones((2, 3), np.float32), np.zeros((2, 4), np.float32))).shape
    (2, 4)
    """
    return _cell_layer(_RNN, hidden_size, use_bias, dtype, nonlinearity)
