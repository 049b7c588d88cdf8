"""Neural-network building blocks: layers as pairs of pure functions, activations,
initializers and the functional forms of the layers.

A layer has ``init(key, input_shape) -> (output_shape, params)`` and
``apply(params, x, *, key=None, train=False, state=None)``, as in JAX's stax. Layers that
keep state (``BatchNorm``'s running statistics) get it from ``init_with_state`` and, when
``apply`` is given ``state``, return ``(y, new_state)``. See ``docs/nn.md``.

Examples
--------
>>> import numpy as np
>>> from funcnn import nn, random
>>> model = nn.serial(nn.Dense(32), nn.Relu, nn.Dropout(0.1), nn.Dense(10))
>>> out_shape, params = model.init(random.key(0), (-1, 784))
>>> out_shape, params["dense_0"]["w"].shape
((-1, 10), (784, 32))
>>> logits = model.apply(params, np.zeros((8, 784), np.float32), key=random.key(1), train=True)
>>> logits.shape
(8, 10)
"""
from importlib.util import find_spec

from funcnn.nn import initializers as initializers
from funcnn.nn._activation_layers import (
    Elu as Elu,
    Gelu as Gelu,
    HardTanh as HardTanh,
    LeakyRelu as LeakyRelu,
    LogSigmoid as LogSigmoid,
    LogSoftmax as LogSoftmax,
    Relu as Relu,
    Relu6 as Relu6,
    Selu as Selu,
    Sigmoid as Sigmoid,
    Silu as Silu,
    Softmax as Softmax,
    Softplus as Softplus,
    Swish as Swish,
    Tanh as Tanh,
    elementwise as elementwise,
)
from funcnn.nn._activations import (
    elu as elu,
    gelu as gelu,
    hard_tanh as hard_tanh,
    leaky_relu as leaky_relu,
    log_sigmoid as log_sigmoid,
    log_softmax as log_softmax,
    logsumexp as logsumexp,
    one_hot as one_hot,
    relu as relu,
    relu6 as relu6,
    selu as selu,
    sigmoid as sigmoid,
    silu as silu,
    softmax as softmax,
    softplus as softplus,
    swish as swish,
    tanh as tanh,
)
from funcnn.nn._combinators import (
    fan_in_concat as fan_in_concat,
    fan_in_sum as fan_in_sum,
    fan_out as fan_out,
    parallel as parallel,
    residual as residual,
    serial as serial,
)
from funcnn.nn._dropout import Dropout as Dropout
from funcnn.nn._functional import (
    batch_norm as batch_norm,
    dense as dense,
    dropout as dropout,
    embedding as embedding,
    flatten as flatten,
    layer_norm as layer_norm,
)
from funcnn.nn._layer import Config as Config
from funcnn.nn._layer import Layer as Layer
from funcnn.nn._layer import layer_constructor as layer_constructor
from funcnn.nn._linear import (
    Dense as Dense,
    Embedding as Embedding,
    Flatten as Flatten,
    Identity as Identity,
)
from funcnn.nn._summary import Summary as Summary
from funcnn.nn._summary import SummaryRow as SummaryRow
from funcnn.nn._summary import summary as summary
from funcnn.nn._normalization import BatchNorm as BatchNorm
from funcnn.nn._normalization import LayerNorm as LayerNorm
from funcnn.nn._normalization import GroupNorm as GroupNorm
from funcnn.nn._normalization import RMSNorm as RMSNorm
from funcnn.nn._functional import group_norm as group_norm
from funcnn.nn._functional import rms_norm as rms_norm
from funcnn.nn._attention import (
    MultiHeadAttention as MultiHeadAttention,
    PositionalEmbedding as PositionalEmbedding,
    causal_mask as causal_mask,
    dot_product_attention as dot_product_attention,
    sinusoidal_positional_encoding as sinusoidal_positional_encoding,
)
from funcnn.nn._transformer import (
    TransformerDecoderLayer as TransformerDecoderLayer,
    TransformerEncoderLayer as TransformerEncoderLayer,
)
from funcnn.nn._recurrent import (
    GRU as GRU,
    LSTM as LSTM,
    GRUCell as GRUCell,
    LSTMCell as LSTMCell,
    SimpleRNN as SimpleRNN,
    SimpleRNNCell as SimpleRNNCell,
    gru as gru,
    gru_cell as gru_cell,
    lstm as lstm,
    lstm_cell as lstm_cell,
    rnn_cell as rnn_cell,
    simple_rnn as simple_rnn,
)

__all__ = [
    "BatchNorm", "Dense", "Dropout", "Elu", "Embedding", "Flatten", "Gelu", "HardTanh", "Identity",
    "Layer", "LayerNorm", "LeakyRelu", "LogSigmoid", "LogSoftmax", "Relu", "Relu6", "Selu",
    "Sigmoid", "Silu", "Softmax", "Softplus", "Swish", "Tanh", "batch_norm", "dense", "dropout",
    "elementwise", "elu", "embedding", "fan_in_concat", "fan_in_sum", "fan_out", "flatten", "gelu",
    "hard_tanh", "initializers", "layer_norm", "leaky_relu", "log_sigmoid", "log_softmax",
    "logsumexp", "one_hot", "parallel", "relu", "relu6", "residual", "selu", "serial", "sigmoid",
    "silu", "softmax", "softplus", "swish", "tanh",
]
__all__ += ["GroupNorm", "RMSNorm", "group_norm", "rms_norm"]
__all__ += ["Config", "Summary", "SummaryRow", "layer_constructor", "summary"]
__all__ += [
    "MultiHeadAttention", "PositionalEmbedding", "TransformerDecoderLayer", "TransformerEncoderLayer",
    "causal_mask", "dot_product_attention", "sinusoidal_positional_encoding",
]
__all__ += [
    "GRU", "GRUCell", "LSTM", "LSTMCell", "SimpleRNN", "SimpleRNNCell", "gru", "gru_cell", "lstm", "lstm_cell",
    "rnn_cell", "simple_rnn",
]

# Convolution and pooling live in their own module; their layers are defined on top of it.
if find_spec("funcnn.nn._conv") is not None:
    from funcnn.nn._conv import (
        avg_pool1d as avg_pool1d,
        avg_pool2d as avg_pool2d,
        avg_pool3d as avg_pool3d,
        conv1d as conv1d,
        conv2d as conv2d,
        conv3d as conv3d,
        conv_transpose1d as conv_transpose1d,
        conv_transpose2d as conv_transpose2d,
        conv_transpose3d as conv_transpose3d,
        global_avg_pool as global_avg_pool,
        max_pool1d as max_pool1d,
        max_pool2d as max_pool2d,
        max_pool3d as max_pool3d,
    )
    from funcnn.nn._conv_layers import (
        AvgPool as AvgPool,
        Conv as Conv,
        ConvTranspose as ConvTranspose,
        GlobalAvgPool as GlobalAvgPool,
        MaxPool as MaxPool,
    )

    __all__ += [
        "AvgPool", "Conv", "ConvTranspose", "GlobalAvgPool", "MaxPool", "avg_pool1d", "avg_pool2d",
        "avg_pool3d", "conv1d", "conv2d", "conv3d", "conv_transpose1d", "conv_transpose2d",
        "conv_transpose3d", "global_avg_pool", "max_pool1d", "max_pool2d", "max_pool3d",
    ]
