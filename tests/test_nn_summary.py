"""Layer reprs (the call that rebuilds the layer) and nn.summary (rows, counts, the table)."""
import inspect

import numpy as np
import pytest

import funcnn.numpy as fnp
from funcnn import nn, random, tree_util
from funcnn.nn._layer import _WATCHER, Config

KEY = random.key(0)
NAMESPACE = vars(nn)

# Each call is what the layer it makes prints: eval(call) then repr gives the call back.
CALLS = [
    "Dense(128)", "Dense(10, use_bias=False, dtype='float64')", "Embedding(100, 8)", "Flatten", "Identity",
    "Dropout(0.1)", "Conv(16, 3)", "Conv(32, (3, 3), stride=(2, 2), padding=1, groups=2)",
    "ConvTranspose(8, 4, stride=2, padding=1)", "MaxPool(2)", "MaxPool((3, 3), stride=2, padding=1)",
    "AvgPool(2, count_include_pad=False)", "GlobalAvgPool", "BatchNorm()", "BatchNorm(momentum=0.99, eps=0.001)",
    "LayerNorm()", "LayerNorm(axis=(-2, -1), use_bias=False)", "GroupNorm(4)", "RMSNorm(eps=1e-06)",
    "MultiHeadAttention(16, 4, dropout=0.1, causal=True)", "PositionalEmbedding(32)",
    "TransformerEncoderLayer(16, 4, dim_feedforward=32, activation='gelu', norm_first=True)",
    "TransformerDecoderLayer(16, 4, dim_feedforward=32)", "LSTM(8, num_layers=2, bidirectional=True)",
    "GRU(8, return_state=True)", "SimpleRNN(8, nonlinearity='relu')", "LSTMCell(8)", "GRUCell(8, use_bias=False)",
    "SimpleRNNCell(8, nonlinearity='relu')", "Relu", "Relu6", "Selu", "Sigmoid", "LogSigmoid", "Tanh", "Softplus",
    "Silu", "LeakyRelu(negative_slope=0.2)", "Elu(alpha=0.5)", "Gelu(approximate=True)",
    "HardTanh(min_val=-2.0, max_val=2.0)", "Softmax(axis=1)", "LogSoftmax(axis=1)",
    "serial(Dense(3), Relu, Dense(1))", "parallel(Dense(4), Identity)", "fan_out(2)", "fan_in_sum()",
    "fan_in_concat(axis=1)", "residual(Dense(8), Relu, shortcut=Dense(8))", "elementwise(relu)",
    "elementwise(softmax, axis=0)", "Dense(8).named('hidden')", "serial(Dense(4), Relu).named('encoder')",
]
NOT_LAYERS = {"Layer", "Config", "Summary", "SummaryRow"}


def count(tree):
    return sum(np.size(leaf) for leaf in tree_util.tree_leaves(tree))


def at(tree, path):
    for name in path:
        tree = tree[name]
    return tree


# --- reprs -------------------------------------------------------------------------------


@pytest.mark.parametrize("call", CALLS)
def test_repr_is_the_call_that_made_the_layer(call):
    layer = eval(call, NAMESPACE)  # noqa: S307
    assert repr(layer) == call
    assert repr(eval(repr(layer), NAMESPACE)) == call  # noqa: S307


def test_every_public_layer_constructor_is_in_the_table():
    made_by_table = {call.split("(")[0].split(".")[0] for call in CALLS}
    public = set()
    for name in nn.__all__:
        obj = getattr(nn, name)
        returns = str(inspect.signature(obj).return_annotation) if inspect.isfunction(obj) else ""
        if isinstance(obj, nn.Layer) or (name not in NOT_LAYERS and "Layer" in returns):
            public.add(name)
    assert public - {"Swish"} <= made_by_table, public - made_by_table
    assert {"Dense", "Conv", "serial", "residual", "LSTM", "Relu", "TransformerEncoderLayer"} <= public
    assert nn.Swish is nn.Silu


@pytest.mark.parametrize("call", CALLS)
def test_every_layer_records_its_config(call):
    layer = eval(call, NAMESPACE)  # noqa: S307
    assert isinstance(layer.config, Config)
    assert layer.config.constructor == call.split("(")[0].split(".")[0]
    assert " object at " not in repr(layer)


REBUILD = [
    ("Dense(10, use_bias=False, dtype='float64')", (-1, 5)),
    ("Conv(32, (3, 3), stride=(2, 2), padding=1, groups=2)", (-1, 4, 9, 9)),
    ("ConvTranspose(8, 4, stride=2, padding=1)", (-1, 3, 5, 5)),
    ("BatchNorm(momentum=0.99, eps=0.001)", (-1, 3, 4, 4)),
    ("LayerNorm(axis=(-2, -1), use_bias=False)", (-1, 3, 4)),
    ("TransformerEncoderLayer(16, 4, dim_feedforward=32, activation='gelu', norm_first=True)", (-1, 6, 16)),
    ("LSTM(8, num_layers=2, bidirectional=True)", (-1, 5, 3)),
    ("residual(Dense(8), Relu, shortcut=Dense(8))", (-1, 3)),
]


@pytest.mark.parametrize("call, input_shape", REBUILD)
def test_the_rebuilt_layer_has_the_same_params_and_outputs(call, input_shape):
    """eval(repr(layer)) is a layer of the same configuration: same params from the same key,
    same outputs."""
    layer = eval(call, NAMESPACE)  # noqa: S307
    rebuilt = eval(repr(layer), NAMESPACE)  # noqa: S307
    shape, params, state = layer.init_with_state(KEY, input_shape)
    shape2, params2, state2 = rebuilt.init_with_state(KEY, input_shape)
    assert shape == shape2
    tree_util.tree_map(np.testing.assert_array_equal, (params, state), (params2, state2))
    dtype = tree_util.tree_leaves(params)[0].dtype
    x = random.normal(random.key(1), tuple(2 if d == -1 else d for d in input_shape), dtype)
    np.testing.assert_array_equal(layer.apply(params, x, state=state)[0], rebuilt.apply(params2, x, state=state2)[0])


def test_only_arguments_that_differ_from_the_defaults_are_shown():
    assert repr(nn.Dense(3, use_bias=True, dtype=np.float32)) == "Dense(3)"
    assert repr(nn.Dense(out_features=3, dtype=np.dtype("float64"))) == "Dense(3, dtype='float64')"
    assert repr(nn.Conv(8, 3, stride=1, padding=0, groups=1)) == "Conv(8, 3)"
    assert repr(nn.LeakyRelu(0.01)) == "LeakyRelu" and repr(nn.Relu()) == "Relu"
    assert repr(nn.BatchNorm(momentum=np.float64(0.5))) == "BatchNorm(momentum=0.5)"


def test_long_reprs_put_each_argument_on_an_indented_line():
    block = nn.residual(nn.Conv(16, 3, padding=1), nn.BatchNorm(momentum=0.99), nn.Relu, nn.Conv(16, 3, padding=1))
    model = nn.serial(block, nn.Relu, nn.GlobalAvgPool, nn.Dense(10).named("head"))
    assert repr(model) == """serial(
  residual(
    Conv(16, 3, padding=1),
    BatchNorm(momentum=0.99),
    Relu,
    Conv(16, 3, padding=1),
  ),
  Relu,
  GlobalAvgPool,
  Dense(10).named('head'),
)"""
    assert repr(eval(repr(model), NAMESPACE)) == repr(model)  # noqa: S307
    assert all(len(line) <= 80 for line in repr(model).splitlines())
    short = nn.serial(nn.residual(nn.Dense(8), nn.Relu), nn.Dense(2))
    assert repr(short) == "serial(residual(Dense(8), Relu), Dense(2))"
    # A layer that is no combinator stays on one line, however long.
    assert "\n" not in repr(nn.TransformerEncoderLayer(16, 4, dim_feedforward=32, activation="gelu",
                                                       norm_first=True, layer_norm_eps=1e-6, bias=False))


def test_arguments_that_cannot_be_written_back_are_still_shown():
    layer = nn.Dense(4, w_init=nn.initializers.he_normal(), b_init=nn.initializers.zeros)
    text = repr(layer)
    assert text.startswith("Dense(4, w_init=<function ") and text.endswith(", b_init=zeros)")
    assert " at 0x" not in text  # no addresses: the repr is the same from run to run
    assert repr(nn.elementwise(fnp.square)) == "elementwise(square)"
    assert repr(nn.elementwise(fnp.square, name="sq")) == "elementwise(square, name='sq')"


def test_a_layer_without_config_and_a_custom_constructor():
    def init_fn(key, input_shape, path):
        return input_shape, {"scale": np.ones(input_shape[-1], np.float32)}, {}

    def apply_fn(params, state, x, ctx):
        return x * params["scale"], state

    plain = nn.Layer("scale", init_fn, apply_fn)
    assert plain.config is None and repr(plain) == "Layer('scale')"

    @nn.layer_constructor
    def Scale(features, init=1.0, *, trainable=True):
        return nn.Layer("scale", init_fn, apply_fn)

    assert repr(Scale(4)) == "Scale(4)"
    assert repr(Scale(features=4, init=2.0, trainable=False)) == "Scale(4, init=2.0, trainable=False)"
    assert Scale.__name__ == "Scale" and "features" in str(inspect.signature(Scale))
    with pytest.raises(TypeError):
        Scale(4, 5, 6)


def test_calling_a_layer_names_it_in_the_error():
    with pytest.raises(TypeError, match=r"use Dense\(3\)\.apply\(params, x\)"):
        nn.Dense(3)(np.ones(3))


# --- summary -----------------------------------------------------------------------------


def cnn():
    return nn.serial(nn.Conv(8, (3, 3), padding=1), nn.BatchNorm(), nn.Relu, nn.MaxPool(2),
                     nn.Flatten, nn.Dropout(0.25), nn.Dense(10))


def tiny_transformer():
    return nn.serial(nn.Embedding(50, 16), nn.PositionalEmbedding(12),
                     nn.TransformerEncoderLayer(16, 4, dim_feedforward=32), nn.Dense(50))


def branching():
    block = nn.residual(nn.Conv(8, 3, padding=1), nn.BatchNorm(), nn.Relu, nn.Conv(16, 3, padding=1),
                        shortcut=nn.Conv(16, 1))
    inception = nn.serial(nn.fan_out(2), nn.parallel(nn.Conv(4, 1), nn.serial(nn.Conv(4, 3, padding=1), nn.Relu)),
                          nn.fan_in_concat(axis=1))
    return nn.serial(block, nn.Relu, inception, nn.GlobalAvgPool, nn.Dense(3))


MODELS = [
    ("mlp", lambda: nn.serial(nn.Flatten, nn.Dense(128), nn.Relu, nn.Dense(10)), (-1, 1, 28, 28), np.float32),
    ("cnn_batch_norm", cnn, (-1, 1, 28, 28), np.float32),
    ("lstm", lambda: nn.serial(nn.LSTM(8, num_layers=2, return_sequences=False), nn.Dense(3)), (-1, 5, 3),
     np.float32),
    ("transformer_encoder_layer", lambda: nn.TransformerEncoderLayer(16, 4, dim_feedforward=32), (-1, 6, 16),
     np.float32),
    ("transformer_lm", tiny_transformer, (-1, 12), np.int64),
    ("branching", branching, (-1, 3, 8, 8), np.float32),
    ("float64", lambda: nn.serial(nn.Dense(4, dtype=np.float64), nn.LayerNorm(dtype=np.float64)), (-1, 3),
     np.float64),
]


@pytest.mark.parametrize("name, make, input_shape, dtype", MODELS, ids=[m[0] for m in MODELS])
def test_summary_counts_match_the_params_init_makes(name, make, input_shape, dtype):
    model = make()
    table = nn.summary(model, input_shape, dtype=dtype, print_fn=None)
    out_shape, params, state = model.init_with_state(random.key(0), input_shape)
    assert table.total_params == count(params)
    assert table.total_state == count(state)
    leaves = tree_util.tree_leaves((params, state))
    assert table.total_bytes == sum(leaf.nbytes for leaf in leaves)
    root = table.rows[0]
    assert root.path == () and root.depth == 0 and root.output_shape == out_shape
    assert root.num_params == table.total_params
    for row in table.rows:
        assert row.num_params == count(at(params, row.path)), row
        assert row.num_state == count(at(state, row.path)), row
        assert row.dtypes == tuple(sorted({leaf.dtype.name for leaf in tree_util.tree_leaves(at(params, row.path))}))
        assert row.depth == len(row.path) and row.name == (row.path[-1] if row.path else model.name)


def test_summary_rows_of_a_cnn_derived_by_hand():
    table = nn.summary(cnn(), (-1, 1, 28, 28), print_fn=None)
    rows = [(r.name, r.kind, r.output_shape, r.num_params, r.num_state) for r in table.rows]
    assert rows == [
        ("serial", "serial", (-1, 10), 80 + 16 + 8 * 14 * 14 * 10 + 10, 16),
        ("conv_0", "Conv", (-1, 8, 28, 28), 8 * 1 * 3 * 3 + 8, 0),
        ("batch_norm_1", "BatchNorm", (-1, 8, 28, 28), 8 + 8, 8 + 8),
        ("relu_2", "Relu", (-1, 8, 28, 28), 0, 0),
        ("max_pool_3", "MaxPool", (-1, 8, 14, 14), 0, 0),
        ("flatten_4", "Flatten", (-1, 8 * 14 * 14), 0, 0),
        ("dropout_5", "Dropout", (-1, 8 * 14 * 14), 0, 0),
        ("dense_6", "Dense", (-1, 10), 8 * 14 * 14 * 10 + 10, 0),
    ]
    assert all(r.output_dtype == np.float32 for r in table.rows)
    assert table.total_bytes == 4 * (15786 + 16)


def test_summary_table_text():
    model = nn.serial(nn.Dense(8), nn.BatchNorm(), nn.Relu, nn.Dense(2, dtype=np.float64))
    printed = []
    table = nn.summary(model, (-1, 4), print_fn=printed.append)
    assert printed == [str(table)]
    assert str(table) == """\
Layer           Kind       Output     Params  State  Dtype
---------------------------------------------------------------------
serial          serial     f64[-1,2]      74     16  float32, float64
  dense_0       Dense      f32[-1,8]      40      0  float32
  batch_norm_1  BatchNorm  f32[-1,8]      16     16  float32
  relu_2        Relu       f32[-1,8]       0      0
  dense_3       Dense      f64[-1,2]      18      0  float64
---------------------------------------------------------------------
Total params: 74
Total state: 16
Total bytes: 432"""
    assert table.total_bytes == 4 * (40 + 16 + 16) + 8 * 18
    assert repr(table) == "Summary(5 rows, total_params=74, total_state=16, total_bytes=432)"


def test_summary_of_several_outputs_and_inputs():
    model = nn.serial(nn.fan_out(2), nn.parallel(nn.Dense(3), nn.LSTM(4, return_state=True)))
    table = nn.summary(model, (-1, 5, 2), print_fn=None)
    fan_out, parallel = table.rows[1], table.rows[2]
    assert fan_out.output_shape == ((-1, 5, 2), (-1, 5, 2))
    assert parallel.output_shape == ((-1, 5, 3), ((-1, 5, 4), ((1, -1, 4), (1, -1, 4))))
    assert parallel.output_dtype == (np.float32, (np.float32, (np.float32, np.float32)))
    assert "(f32[-1,5,3], (f32[-1,5,4], (f32[1,-1,4], f32[1,-1,4])))" in str(table)
    decoder = nn.TransformerDecoderLayer(8, 2, dim_feedforward=16)
    table = nn.summary(decoder, ((-1, 6, 8), (-1, 4, 8)), print_fn=None)
    assert table.rows[0].output_shape == (-1, 6, 8)
    cell = nn.summary(nn.LSTMCell(4), ((-1, 3), ((-1, 4), (-1, 4))), dtype=(np.float64, (np.float64, np.float64)),
                      print_fn=None)
    assert cell.rows[0].output_dtype == (np.float64, np.float64)


def test_summary_depth_and_printing(capsys):
    model = branching()
    full = nn.summary(model, (-1, 3, 8, 8), print_fn=None)
    assert capsys.readouterr().out == ""
    assert max(r.depth for r in full.rows) == 4
    for depth in range(4):
        table = nn.summary(model, (-1, 3, 8, 8), depth=depth)
        assert capsys.readouterr().out == str(table) + "\n"
        assert [r.path for r in table.rows] == [r.path for r in full.rows if r.depth <= depth]
        assert (table.total_params, table.total_state, table.total_bytes) == \
            (full.total_params, full.total_state, full.total_bytes)
    assert [r.name for r in full.rows if r.depth == 2][:5] == ["conv_0", "batch_norm_1", "relu_2", "conv_3",
                                                               "shortcut"]


def test_summary_leaves_no_watcher_behind():
    nn.summary(cnn(), (-1, 1, 8, 8), print_fn=None)
    with pytest.raises(ValueError):
        nn.summary(cnn(), (-1, 1, 8), print_fn=None)
    assert _WATCHER.get() is None


@pytest.mark.parametrize("input_shape", [(-1, 1, 28), "x", (-1, 1, 28, 2.5), ((-1, 1, 8, 8),)])
def test_a_bad_input_shape_gives_the_error_init_gives(input_shape):
    with pytest.raises(ValueError) as from_init:
        cnn().init(KEY, input_shape)
    with pytest.raises(ValueError) as from_summary:
        nn.summary(cnn(), input_shape, print_fn=None)
    assert str(from_summary.value) == str(from_init.value)
    assert "conv_0" in str(from_init.value)


def test_summary_argument_errors():
    with pytest.raises(TypeError, match="model must be a layer; got a function; call it"):
        nn.summary(nn.Dense, (-1, 3))
    with pytest.raises(ValueError, match="depth must be None or a non-negative int"):
        nn.summary(nn.Dense(2), (-1, 3), depth=-1)
    with pytest.raises(ValueError, match="dtype must be a NumPy dtype"):
        nn.summary(nn.Dense(2), (-1, 3), dtype="not a dtype")
    with pytest.raises(ValueError, match=r"dtype must be one dtype, or one per input \(2\)"):
        nn.summary(nn.parallel(nn.Dense(2), nn.Dense(2)), ((-1, 3), (-1, 3)), dtype=(np.float32,))
    # Token ids need an integer dtype; the error says how summary ran the model.
    with pytest.raises(ValueError, match=r"(?s)ids must be integers.*dtype=np.int64 for token ids"):
        nn.summary(tiny_transformer(), (-1, 12), print_fn=None)


def test_summary_reports_a_layer_whose_init_and_apply_disagree():
    def init_fn(key, input_shape, path):
        return input_shape, {}, {}

    def apply_fn(params, state, x, ctx):
        return fnp.concatenate([x, x], axis=-1), state

    liar = nn.Layer("liar", init_fn, apply_fn)
    with pytest.raises(ValueError, match=r"'liar_1'.*init predicts the output shape \(-1, 4\), but apply returns "
                                         r"\(1, 8\)"):
        nn.summary(nn.serial(nn.Dense(4), liar), (-1, 3), print_fn=None)


# --- oracles -----------------------------------------------------------------------------


def test_counts_match_pytorch():
    torch = pytest.importorskip("torch")
    tnn = torch.nn

    def numel(module):
        return sum(p.numel() for p in module.parameters())

    def running(module):
        return sum(b.numel() for name, b in module.named_buffers() if "running" in name)

    torch_cnn = tnn.Sequential(tnn.Conv2d(1, 8, 3, padding=1), tnn.BatchNorm2d(8), tnn.ReLU(), tnn.MaxPool2d(2),
                               tnn.Flatten(), tnn.Dropout(0.25), tnn.Linear(8 * 14 * 14, 10))
    table = nn.summary(cnn(), (-1, 1, 28, 28), print_fn=None)
    assert (table.total_params, table.total_state) == (numel(torch_cnn), running(torch_cnn))

    table = nn.summary(nn.LSTM(8, num_layers=2, bidirectional=True), (-1, 5, 3), print_fn=None)
    assert table.total_params == numel(tnn.LSTM(3, 8, num_layers=2, bidirectional=True, batch_first=True))

    table = nn.summary(nn.TransformerEncoderLayer(16, 4, dim_feedforward=32), (-1, 6, 16), print_fn=None)
    assert table.total_params == numel(tnn.TransformerEncoderLayer(16, 4, dim_feedforward=32, batch_first=True))
