"""Recurrent layers (funcnn/nn/_recurrent.py): values and gradients against PyTorch's
nn.LSTM/GRU/RNN with the weights copied across, against a loop written out in NumPy,
finite differences on the cells, transforms, long sequences and bad inputs."""
from __future__ import annotations

import gc
import tracemalloc

import numpy as np
import pytest

import funcnn as fn
import funcnn.numpy as fnp
from funcnn import lax, losses, nn, random, tree_util
from funcnn.testing import check_grads

KINDS = {  # name: (layer, functional form, gates, PyTorch class name, extra options)
    "lstm": (nn.LSTM, nn.lstm, 4, "LSTM", {}),
    "gru": (nn.GRU, nn.gru, 3, "GRU", {}),
    "rnn_tanh": (nn.SimpleRNN, nn.simple_rnn, 1, "RNN", {"nonlinearity": "tanh"}),
    "rnn_relu": (nn.SimpleRNN, nn.simple_rnn, 1, "RNN", {"nonlinearity": "relu"}),
}


def make(kind, hidden, input_size, *, dtype=np.float64, seed=0, **options):
    layer_fn, _, _, _, extra = KINDS[kind]
    layer = layer_fn(hidden, dtype=dtype, **extra, **options)
    _, params = layer.init(random.key(seed), (-1, 5, input_size))
    return layer, params


def run(kind, x, params, initial_state=None, lengths=None, batch_first=True):
    _, function, _, _, extra = KINDS[kind]
    return function(x, params, initial_state, lengths=lengths, batch_first=batch_first, **extra)


# --- a reference written out in NumPy, one step at a time ---------------------------------------


def _sigmoid(v):
    return 1.0 / (1.0 + np.exp(-v))


def numpy_step(kind, p, x, h, c):
    """One step of PyTorch's formulas, written from the documentation."""
    gi = x @ p["w_ih"].T + p.get("b_ih", 0.0)
    gh = h @ p["w_hh"].T + p.get("b_hh", 0.0)
    n = h.shape[-1]
    if kind == "lstm":
        i, f = _sigmoid(gi[:, :n] + gh[:, :n]), _sigmoid(gi[:, n:2 * n] + gh[:, n:2 * n])
        g, o = np.tanh(gi[:, 2 * n:3 * n] + gh[:, 2 * n:3 * n]), _sigmoid(gi[:, 3 * n:] + gh[:, 3 * n:])
        c = f * c + i * g
        return o * np.tanh(c), c
    if kind == "gru":
        r, z = _sigmoid(gi[:, :n] + gh[:, :n]), _sigmoid(gi[:, n:2 * n] + gh[:, n:2 * n])
        cand = np.tanh(gi[:, 2 * n:] + r * gh[:, 2 * n:])
        return (1 - z) * cand + z * h, c
    pre = gi + gh
    return (np.tanh(pre) if kind == "rnn_tanh" else np.maximum(pre, 0.0)), c


def numpy_sequence(kind, params, x, lengths=None, h0=None, c0=None):
    """The whole layer, one sequence and one step at a time (batch first)."""
    batch, time, _ = x.shape
    lengths = np.full(batch, time) if lengths is None else np.asarray(lengths)
    num_layers = sum(1 for k in params if "reverse" not in k)
    directions = 2 if "l0_reverse" in params else 1
    hidden = params["l0"]["w_hh"].shape[1]
    h_n = np.zeros((num_layers * directions, batch, hidden))
    c_n = np.zeros_like(h_n)
    inputs = x.astype(np.float64)
    for k in range(num_layers):
        outs = np.zeros((batch, time, directions * hidden))
        for d in range(directions):
            p = params[f"l{k}" + ("_reverse" if d else "")]
            s = k * directions + d
            for b in range(batch):
                h = np.zeros((1, hidden)) if h0 is None else h0[s, b][None]
                c = np.zeros((1, hidden)) if c0 is None else c0[s, b][None]
                steps = range(lengths[b]) if d == 0 else reversed(range(lengths[b]))
                for t in steps:
                    h, c = numpy_step(kind, p, inputs[b, t][None], h, c)
                    outs[b, t, d * hidden:(d + 1) * hidden] = h[0]
                h_n[s, b], c_n[s, b] = h[0], c[0]
        inputs = outs
    return inputs, h_n, c_n


def as_numpy(params):
    return tree_util.tree_map(lambda a: np.asarray(a, np.float64), params)


@pytest.mark.parametrize("kind", list(KINDS))
@pytest.mark.parametrize("options", [{}, {"bidirectional": True, "num_layers": 2}])
def test_matches_a_loop_written_out_in_numpy(kind, options):
    _, params = make(kind, 5, 3, **options)
    rng = np.random.default_rng(1)
    x = rng.standard_normal((4, 6, 3))
    lengths = np.array([6, 3, 0, 1])
    for given in (None, lengths):
        y, state = run(kind, x, params, lengths=given)
        want_y, want_h, want_c = numpy_sequence(kind, as_numpy(params), x, given)
        np.testing.assert_allclose(y, want_y, rtol=1e-12, atol=1e-12)
        h = state[0] if kind == "lstm" else state
        np.testing.assert_allclose(h, want_h, rtol=1e-12, atol=1e-12)
        if kind == "lstm":
            np.testing.assert_allclose(state[1], want_c, rtol=1e-12, atol=1e-12)


def test_initial_state_and_time_major_layout_match_the_loop():
    _, params = make("lstm", 4, 3, bidirectional=True)
    rng = np.random.default_rng(2)
    x = rng.standard_normal((3, 5, 3))
    h0, c0 = rng.standard_normal((2, 2, 3, 4))
    y, (h, c) = nn.lstm(np.swapaxes(x, 0, 1), params, (h0, c0), lengths=np.array([5, 2, 4]), batch_first=False)
    want_y, want_h, want_c = numpy_sequence("lstm", as_numpy(params), x, [5, 2, 4], h0, c0)
    np.testing.assert_allclose(np.swapaxes(y, 0, 1), want_y, rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose(h, want_h, rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose(c, want_c, rtol=1e-12, atol=1e-12)


def test_cells_match_one_step_of_the_loop():
    rng = np.random.default_rng(3)
    x, h, c = rng.standard_normal((2, 3)), rng.standard_normal((2, 4)), rng.standard_normal((2, 4))
    for kind, cell, gates in (("lstm", nn.LSTMCell, 4), ("gru", nn.GRUCell, 3), ("rnn_relu", nn.SimpleRNNCell, 1)):
        options = {"nonlinearity": "relu"} if kind == "rnn_relu" else {}
        layer = cell(4, dtype=np.float64, **options)
        out_shape, params = layer.init(random.key(0), (-1, 3))
        assert params["w_ih"].shape == (gates * 4, 3) and params["w_hh"].shape == (gates * 4, 4)
        want_h, want_c = numpy_step(kind, params, x, h, c)
        if kind == "lstm":
            assert out_shape == ((-1, 4), (-1, 4))
            got_h, got_c = layer.apply(params, (x, (h, c)))
            np.testing.assert_allclose(got_c, want_c, rtol=1e-13)
            np.testing.assert_allclose(nn.lstm_cell(x, h, c, **params)[0], want_h, rtol=1e-13)
        else:
            assert out_shape == (-1, 4)
            got_h = layer.apply(params, (x, h))
            functional = nn.gru_cell(x, h, **params) if kind == "gru" else nn.rnn_cell(x, h, **params, **options)
            np.testing.assert_allclose(functional, want_h, rtol=1e-13)
        np.testing.assert_allclose(got_h, want_h, rtol=1e-13)


# --- against PyTorch ------------------------------------------------------------------------------


def torch_module(torch, kind, params, input_size, hidden, **options):
    _, _, _, name, extra = KINDS[kind]
    num_layers = sum(1 for k in params if "reverse" not in k)
    module = getattr(torch.nn, name)(input_size, hidden, num_layers=num_layers, batch_first=True,
                                     bidirectional="l0_reverse" in params, **extra).double()
    with torch.no_grad():
        for name, tensor in module.named_parameters():  # weight_ih_l0_reverse -> params["l0_reverse"]["w_ih"]
            prefix, which, suffix = name.split("_", 2)
            tensor.copy_(torch.from_numpy(np.asarray(params[suffix][f"{prefix[0]}_{which}"])))
    return module


def torch_grads(module):
    out = {}
    for name, tensor in module.named_parameters():
        prefix, which, suffix = name.split("_", 2)
        out.setdefault(suffix, {})[f"{prefix[0]}_{which}"] = tensor.grad.numpy()
    return out


@pytest.mark.parametrize("kind", list(KINDS))
@pytest.mark.parametrize("options", [{}, {"bidirectional": True}, {"num_layers": 2, "bidirectional": True}])
@pytest.mark.parametrize("masked", [False, True])
def test_values_and_gradients_match_pytorch(kind, options, masked):
    torch = pytest.importorskip("torch")
    batch, time, features, hidden = 4, 7, 3, 5
    _, params = make(kind, hidden, features, **options)
    rng = np.random.default_rng(4)
    x = rng.standard_normal((batch, time, features))
    lengths = np.array([7, 2, 5, 1]) if masked else None
    states = len(params)
    h0 = rng.standard_normal((states, batch, hidden))
    c0 = rng.standard_normal((states, batch, hidden))
    g_y = rng.standard_normal((batch, time, hidden * (2 if options.get("bidirectional") else 1)))
    g_h, g_c = rng.standard_normal((2, states, batch, hidden))
    if masked:
        g_y[np.arange(time)[None, :] >= lengths[:, None]] = 0.0  # PyTorch's padded outputs carry no gradient
    initial = (h0, c0) if kind == "lstm" else h0

    def objective(params, x, initial):
        y, state = run(kind, x, params, initial, lengths)
        h = state[0] if kind == "lstm" else state
        total = fnp.sum(y * g_y) + fnp.sum(h * g_h)
        return total + fnp.sum(state[1] * g_c) if kind == "lstm" else total

    value, grads = fn.value_and_grad(objective, argnums=(0, 1, 2))(params, x, initial)

    module = torch_module(torch, kind, params, features, hidden)
    tx = torch.from_numpy(x).requires_grad_()
    t_initial = tuple(torch.from_numpy(a).requires_grad_() for a in (h0, c0))
    t_init_arg = t_initial if kind == "lstm" else t_initial[0]
    if masked:
        packed = torch.nn.utils.rnn.pack_padded_sequence(tx, torch.from_numpy(lengths), batch_first=True,
                                                         enforce_sorted=False)
        t_out, t_state = module(packed, t_init_arg)
        t_y, _ = torch.nn.utils.rnn.pad_packed_sequence(t_out, batch_first=True, total_length=time)
    else:
        t_y, t_state = module(tx, t_init_arg)
    t_h = t_state[0] if kind == "lstm" else t_state
    t_total = (t_y * torch.from_numpy(g_y)).sum() + (t_h * torch.from_numpy(g_h)).sum()
    if kind == "lstm":
        t_total = t_total + (t_state[1] * torch.from_numpy(g_c)).sum()
    t_total.backward()

    np.testing.assert_allclose(value, t_total.item(), rtol=1e-11)
    y, _ = run(kind, x, params, initial, lengths)
    np.testing.assert_allclose(y, t_y.detach().numpy(), rtol=1e-11, atol=1e-13)
    g_params, g_x, g_initial = grads
    for key, leaves in torch_grads(module).items():
        for leaf, expected in leaves.items():
            np.testing.assert_allclose(g_params[key][leaf], expected, rtol=1e-10, atol=1e-12, err_msg=f"{key}.{leaf}")
    np.testing.assert_allclose(g_x, tx.grad.numpy(), rtol=1e-10, atol=1e-12)
    if kind == "lstm":
        np.testing.assert_allclose(g_initial[0], t_initial[0].grad.numpy(), rtol=1e-10, atol=1e-12)
        np.testing.assert_allclose(g_initial[1], t_initial[1].grad.numpy(), rtol=1e-10, atol=1e-12)
    else:
        np.testing.assert_allclose(g_initial, t_initial[0].grad.numpy(), rtol=1e-10, atol=1e-12)


def test_cells_match_pytorch_cells():
    torch = pytest.importorskip("torch")
    rng = np.random.default_rng(5)
    x, h, c = rng.standard_normal((3, 4)), rng.standard_normal((3, 6)), rng.standard_normal((3, 6))
    for layer, module in ((nn.LSTMCell(6, dtype=np.float64), torch.nn.LSTMCell(4, 6)),
                          (nn.GRUCell(6, dtype=np.float64), torch.nn.GRUCell(4, 6)),
                          (nn.SimpleRNNCell(6, "relu", dtype=np.float64), torch.nn.RNNCell(4, 6, nonlinearity="relu"))):
        _, params = layer.init(random.key(1), (-1, 4))
        module = module.double()
        with torch.no_grad():
            for name, tensor in module.named_parameters():  # weight_ih -> w_ih
                prefix, which = name.split("_")
                tensor.copy_(torch.from_numpy(params[f"{prefix[0]}_{which}"]))
        carry = (h, c) if isinstance(module, torch.nn.LSTMCell) else h
        t_carry = tuple(map(torch.from_numpy, carry)) if isinstance(carry, tuple) else torch.from_numpy(carry)
        got, want = layer.apply(params, (x, carry)), module(torch.from_numpy(x), t_carry)
        for a, b in zip(tree_util.tree_leaves(got), tree_util.tree_leaves(tuple(want) if isinstance(want, tuple)
                                                                           else (want,))):
            np.testing.assert_allclose(a, b.detach().numpy(), rtol=1e-12)


def test_default_init_is_pytorchs_uniform_and_follows_the_key():
    layer = nn.LSTM(64, num_layers=2, bidirectional=True)
    _, params = layer.init(random.key(0), (-1, 10, 20))
    bound = 1 / np.sqrt(64)
    assert params["l1"]["w_ih"].shape == (256, 128) and params["l1_reverse"]["b_hh"].shape == (256,)
    for leaf in tree_util.tree_leaves(params):
        assert leaf.dtype == np.float32 and np.abs(leaf).max() <= bound
    w = params["l0"]["w_ih"]
    assert abs(w.std() - bound / np.sqrt(3)) < 0.05 * bound
    again = layer.init(random.key(0), (-1, 10, 20))[1]
    other = layer.init(random.key(1), (-1, 10, 20))[1]
    assert np.array_equal(again["l0"]["w_ih"], w) and not np.array_equal(other["l0"]["w_ih"], w)
    assert not np.array_equal(params["l0"]["w_ih"], params["l0_reverse"]["w_ih"])


# --- the layers' options ----------------------------------------------------------------------------


@pytest.mark.parametrize("kind", list(KINDS))
def test_init_predicts_the_shapes_apply_returns(kind):
    x = np.ones((3, 5, 2), np.float32)
    for options in ({}, {"return_sequences": False}, {"bidirectional": True, "return_state": True},
                    {"num_layers": 3, "return_sequences": False, "return_state": True}):
        layer, params = make(kind, 4, 2, dtype=np.float32, **options)
        out_shape = layer.init(random.key(0), (-1, 5, 2))[0]
        out = layer.apply(params, x)
        shapes = tree_util.tree_map(lambda a: a.shape, out)
        expected = tree_util.tree_map(lambda d: 3 if d == -1 else d, out_shape, is_leaf=lambda v: isinstance(v, int))
        assert shapes == expected, (options, shapes, out_shape)
        assert all(leaf.dtype == np.float32 for leaf in tree_util.tree_leaves(out))


def test_time_major_layout_and_tuple_inputs():
    layer, params = make("gru", 4, 2, batch_first=False, return_state=True)
    (y_shape, h_shape), _ = layer.init(random.key(0), ((7, -1, 2), (-1,)))
    assert y_shape == (7, -1, 4) and h_shape == (1, -1, 4)
    x = np.random.default_rng(0).standard_normal((7, 3, 2))
    h0 = np.full((1, 3, 4), 0.5)
    y, h = layer.apply(params, (x, np.array([7, 2, 4]), h0))
    want_y, want_h, _ = numpy_sequence("gru", as_numpy(params), np.swapaxes(x, 0, 1), [7, 2, 4], h0)
    np.testing.assert_allclose(np.swapaxes(y, 0, 1), want_y, rtol=1e-12)
    np.testing.assert_allclose(h, want_h, rtol=1e-12)


def test_last_output_respects_lengths_in_both_directions():
    layer, params = make("lstm", 4, 2, bidirectional=True, return_sequences=False)
    full, _ = make("lstm", 4, 2, bidirectional=True)
    x = np.random.default_rng(0).standard_normal((3, 6, 2))
    lengths = np.array([6, 2, 4])
    last = layer.apply(params, (x, lengths))
    y = full.apply(params, (x, lengths))
    np.testing.assert_allclose(last[:, :4], y[np.arange(3), lengths - 1, :4], rtol=1e-13)
    np.testing.assert_allclose(last[:, 4:], y[:, 0, 4:], rtol=1e-13)  # the reverse direction ends at step 0
    # the loop without per-step outputs has the gradients of the one with them, in two layers too
    for options in ({"bidirectional": True}, {"num_layers": 2}):
        _, p = make("gru", 4, 2, **options)
        d = 8 if options.get("bidirectional") else 4

        def from_sequences(p):
            y, _ = nn.gru(x, p, lengths=lengths)
            return fnp.concatenate([y[np.arange(3), lengths - 1, :4], y[:, 0, 4:]], axis=-1) if d == 8 else \
                y[np.arange(3), lengths - 1]

        def from_last(p):
            return nn.gru(x, p, lengths=lengths, return_sequences=False)[0]

        weights = np.arange(3 * d).reshape(3, d) / 10
        g_last = fn.grad(lambda p: fnp.sum(from_last(p) * weights))(p)
        g_seq = fn.grad(lambda p: fnp.sum(from_sequences(p) * weights))(p)
        tree_util.tree_map(lambda a, b: np.testing.assert_allclose(a, b, rtol=1e-12, atol=1e-14), g_last, g_seq)


def test_padding_never_reaches_the_valid_steps():
    _, params = make("gru", 3, 2, bidirectional=True, num_layers=2)
    rng = np.random.default_rng(0)
    x = rng.standard_normal((2, 6, 2))
    lengths = np.array([4, 6])
    y, h = nn.gru(x, params, lengths=lengths)
    noisy = x.copy()
    noisy[0, 4:] = 1e3  # garbage in the padding
    y2, h2 = nn.gru(noisy, params, lengths=lengths)
    np.testing.assert_array_equal(y, y2)
    np.testing.assert_array_equal(h, h2)
    assert np.all(y[0, 4:] == 0.0)
    g = fn.grad(lambda x: fnp.sum(nn.gru(x, params, lengths=lengths)[0] ** 2))(x)
    assert np.all(g[0, 4:] == 0.0) and np.all(g[0, :4] != 0.0)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_dtype_is_kept_through_values_states_and_gradients(dtype):
    for kind in ("lstm", "gru", "rnn_tanh"):
        _, params = make(kind, 4, 3, dtype=dtype, bidirectional=True)
        x = np.ones((2, 5, 3), dtype)
        y, state = run(kind, x, params, lengths=np.array([5, 3]))
        grads = fn.grad(lambda p: fnp.sum(run(kind, x, p, lengths=np.array([5, 3]))[0]))(params)
        for leaf in tree_util.tree_leaves((y, state, grads)):
            assert leaf.dtype == dtype


# --- derivatives and transforms ---------------------------------------------------------------------


def _cell_args(cell, gates, with_b_hh=True):
    rng = np.random.default_rng(6)
    x, h, c = rng.standard_normal((2, 3)), rng.standard_normal((2, 2)), rng.standard_normal((2, 2))
    w_ih, w_hh = rng.standard_normal((gates * 2, 3)) * 0.5, rng.standard_normal((gates * 2, 2)) * 0.5
    b_ih, b_hh = rng.standard_normal((2, gates * 2)) * 0.5
    weights = (w_ih, w_hh, b_ih) + ((b_hh,) if with_b_hh else ())
    if cell is nn.lstm_cell:
        return (lambda *a: nn.lstm_cell(*a)[1] + nn.lstm_cell(*a)[0]), (x, h, c) + weights
    return cell, (x, h) + weights


CELLS = [(nn.lstm_cell, 4), (nn.gru_cell, 3), (nn.rnn_cell, 1)]


@pytest.mark.parametrize("cell, gates", CELLS)
def test_cells_pass_check_grads_in_both_modes(cell, gates):
    check_grads(*_cell_args(cell, gates), order=2)


def test_a_scan_returning_its_carry_as_output_differentiates():
    """A step that returns the same value as carry and as output (reverse mode once lost its
    cotangent when a function returned one value twice)."""
    def f(x):
        carry, ys = lax.scan(lambda c, _: (fnp.sin(c), fnp.sin(c)), x, None, length=3)
        return fnp.sum(ys) + carry
    check_grads(f, (np.array(0.3),), order=2, modes=("fwd", "rev"))
    out, pull = fn.vjp(lambda x: [fnp.tanh(x)] * 2, np.array([0.5]))
    np.testing.assert_allclose(pull([np.ones(1), np.ones(1)])[0], 2 * (1 - np.tanh(0.5) ** 2))


@pytest.mark.parametrize("kind", ["lstm", "gru"])
def test_sequences_pass_check_grads_with_masking(kind):
    _, params = make(kind, 2, 2, bidirectional=True)
    x = np.random.default_rng(7).standard_normal((2, 3, 2))
    lengths = np.array([3, 2])
    check_grads(lambda p, x: run(kind, x, p, lengths=lengths)[0], (params, x), order=1)


def test_jit_grad_and_vmap_compose():
    model = nn.serial(nn.LSTM(6, return_sequences=False), nn.Dense(3))
    _, params = model.init(random.key(0), (-1, 5, 4))
    params = as_numpy(params)
    rng = np.random.default_rng(8)
    x, labels = rng.standard_normal((4, 5, 4)), np.array([0, 2, 1, 2])

    def loss(params, x, labels):
        return losses.cross_entropy(model.apply(params, x), labels)

    eager = fn.value_and_grad(loss)(params, x, labels)
    for compiled in (fn.jit(fn.value_and_grad(loss)), fn.value_and_grad(fn.jit(loss))):
        tree_util.tree_map(lambda a, b: np.testing.assert_allclose(a, b, rtol=1e-12), compiled(params, x, labels),
                           eager)
    # per-example gradients by vmap(grad) equal one grad per example
    per_example = fn.vmap(fn.grad(lambda p, x, y: loss(p, x[None], y[None])), in_axes=(None, 0, 0))(params, x, labels)
    for i in range(4):
        one = fn.grad(loss)(params, x[i:i + 1], labels[i:i + 1])
        tree_util.tree_map(lambda a, b: np.testing.assert_allclose(a[i], b, rtol=1e-10, atol=1e-13), per_example, one)
    # an ensemble: vmap over stacked params
    stacked = tree_util.tree_map(lambda a: np.stack([a, 2 * a]), params)
    outs = fn.vmap(lambda p: model.apply(p, x))(stacked)
    np.testing.assert_allclose(outs[1], model.apply(tree_util.tree_map(lambda a: 2 * a, params), x), rtol=1e-12)
    # a jitted step with lengths as a traced argument gives the eager values
    _, seq = make("lstm", 3, 4, bidirectional=True)
    f = fn.jit(lambda p, x, n: nn.lstm(x, p, lengths=n))
    for n in (np.array([5, 1, 3, 0]), np.array([2, 2, 5, 4])):
        tree_util.tree_map(lambda a, b: np.testing.assert_allclose(a, b, rtol=1e-13), f(seq, x, n),
                           nn.lstm(x, seq, lengths=n))


def test_the_sequence_is_one_scan_in_a_graph():
    _, params = make("lstm", 4, 3, bidirectional=True, num_layers=2)
    graph = fn.make_graph(lambda p, x: nn.lstm(x, p)[0])(params, np.ones((2, 50, 3)))
    names = [eq.prim.name for eq in graph.equations]
    assert names.count("scan") == 4  # one per layer and direction, whatever the number of steps
    assert names.count("matmul") == 4  # each direction's input share, for all steps at once


def test_a_thousand_steps_without_recursion_or_memory_growth():
    _, params = make("lstm", 8, 4, dtype=np.float32)
    x = np.random.default_rng(9).standard_normal((2, 1000, 4)).astype(np.float32)
    grad = fn.jit(fn.value_and_grad(lambda p, x: fnp.sum(nn.lstm(x, p)[0][:, -1])))
    value, g = grad(params, x)
    assert np.isfinite(value) and all(np.isfinite(leaf).all() for leaf in tree_util.tree_leaves(g))
    np.testing.assert_allclose(value, np.sum(nn.lstm(x, params)[0][:, -1]), rtol=1e-5)  # eager, no transform
    gc.collect()
    tracemalloc.start()
    try:
        grad(params, x)
        gc.collect()
        first = tracemalloc.get_traced_memory()[0]
        for _ in range(2):
            grad(params, x)
        gc.collect()
        grown = tracemalloc.get_traced_memory()[0] - first
    finally:
        tracemalloc.stop()
    assert grown < 100_000, f"{grown} bytes kept after two more calls"


def test_cells_in_a_user_scan_match_the_layer():
    cell = nn.GRUCell(4, dtype=np.float64)
    _, params = cell.init(random.key(0), (-1, 3))
    x = np.random.default_rng(10).standard_normal((2, 6, 3))

    def layer_like(params, x):
        def step(h, x_t):
            h = cell.apply(params, (x_t, h))
            return h, h
        return lax.scan(step, np.zeros((2, 4)), fnp.swapaxes(x, 0, 1))

    h, ys = fn.jit(layer_like)(params, x)
    y, h_n = nn.gru(x, {"l0": params})
    np.testing.assert_allclose(np.swapaxes(ys, 0, 1), y, rtol=1e-13)
    np.testing.assert_allclose(h, h_n[0], rtol=1e-13)


# --- bad inputs -------------------------------------------------------------------------------------


def test_wrong_inputs_name_the_layer_the_argument_and_the_shapes():
    model = nn.serial(nn.LSTM(8, num_layers=2), nn.Dense(2))
    _, params = model.init(random.key(0), (-1, 5, 3))
    with pytest.raises(ValueError, match=r"LSTM layer 'lstm_0' \(params\['lstm_0'\]\): the input x has shape "
                                         r"\(2, 5, 4\).*params\['lstm_0'\]\['l0'\]\['w_ih'\] of shape \(32, 3\)"):
        model.apply(params, np.ones((2, 5, 4), np.float32))
    with pytest.raises(ValueError, match=r"the input x must have shape \(batch, time, 3\).*got shape \(5, 3\)"):
        model.apply(params, np.ones((5, 3), np.float32))
    layer, params = make("lstm", 8, 3, num_layers=2)
    x = np.ones((2, 5, 3))
    with pytest.raises(ValueError, match=r"every entry of lengths must lie in \[0, 5\].*from 2 to 6"):
        layer.apply(params, (x, np.array([2, 6])))
    with pytest.raises(ValueError, match=r"lengths must lie in \[0, 5\].*from -1 to 3"):
        fn.jit(lambda p, x, n: nn.lstm(x, p, lengths=n))(params, x, np.array([3, -1]))
    with pytest.raises(ValueError, match=r"lengths must be an int array of shape \(2,\).*shape \(3,\)"):
        layer.apply(params, (x, np.array([1, 2, 3])))
    with pytest.raises(ValueError, match=r"lengths must be an int array.*float64"):
        layer.apply(params, (x, np.array([1.0, 2.0])))
    with pytest.raises(ValueError, match=r"initial state c0 must have shape \(2, 2, 8\).*got shape \(1, 2, 8\)"):
        nn.lstm(x, params, (np.zeros((2, 2, 8)), np.zeros((1, 2, 8))))
    with pytest.raises(ValueError, match=r"initial state of an LSTM is a pair \(h0, c0\)"):
        nn.lstm(x, params, np.zeros((2, 2, 8)))
    with pytest.raises(ValueError, match=r"initial state h0 must have shape \(1, 2, 8\).*got shape \(1, 3, 8\)"):
        nn.gru(x, make("gru", 8, 3)[1], np.zeros((1, 3, 8)))
    with pytest.raises(ValueError, match=r"params\['l1'\]\['w_hh'\] must have shape \(4 \* 8, 8\); got shape"):
        nn.lstm(x, {**params, "l1": {**params["l1"], "w_hh": np.zeros((32, 7))}})
    with pytest.raises(ValueError, match=r"a 2-layer LSTM holds \['l0', 'l1'\]"):
        nn.lstm(x, {**params, "l1_reverse": params["l1"]})
    with pytest.raises(ValueError, match=r"w_ih has shape \(8, 5\), so x must have shape \(batch, 5\)"):
        nn.rnn_cell(np.ones((2, 3)), np.zeros((2, 8)), np.zeros((8, 5)), np.zeros((8, 8)))
    with pytest.raises(ValueError, match=r"the state c must have shape \(2, 8\).*got shape \(2, 7\)"):
        nn.lstm_cell(np.ones((2, 3)), np.zeros((2, 8)), np.zeros((2, 7)), np.zeros((32, 3)), np.zeros((32, 8)))
    with pytest.raises(ValueError, match=r"LSTMCell layer: the input must be a pair \(x, \(h, c\)\)"):
        nn.LSTMCell(4).apply(nn.LSTMCell(4).init(random.key(0), (-1, 3))[1], np.ones((2, 3)))
    with pytest.raises(ValueError, match="nonlinearity must be 'tanh' or 'relu'"):
        nn.SimpleRNN(4, nonlinearity="sigmoid")
    with pytest.raises(ValueError, match=r"input_shape must be \(batch, time, features\)"):
        nn.GRU(4).init(random.key(0), (-1, 3))


def test_the_lstm_step_benchmark_agrees_with_numpy_by_hand(monkeypatch):
    import pathlib

    monkeypatch.syspath_prepend(str(pathlib.Path(__file__).resolve().parent.parent))
    from benchmarks import run as harness

    (result,) = harness.check_agreement(["numpy", "funcnn"], size="quick", workloads=["lstm_step"])
    assert result["problems"] == {"numpy": None, "funcnn": None}, result
