"""Every activation as a layer (stax style): ready-made layers without params that are
called to configure them, ``LeakyRelu(0.2)``, ``Gelu(approximate=True)``, ``Softmax(axis=1)``.
``Relu`` and ``Relu()`` are the same layer."""
from __future__ import annotations

import inspect
from collections.abc import Callable
from typing import Any

from funcnn.nn import _activations as act
from funcnn.nn._layer import Config, ConfigurableLayer, Context, Layer, configurable, layer_constructor

__all__ = [
    "Elu", "Gelu", "HardTanh", "LeakyRelu", "LogSigmoid", "LogSoftmax", "Relu", "Relu6", "Selu",
    "Sigmoid", "Silu", "Softmax", "Softplus", "Swish", "Tanh", "elementwise",
]


@layer_constructor
def elementwise(fn: Callable[..., Any], name: str | None = None, **fn_kwargs: Any) -> Layer:
    """A layer without params that applies ``fn(x, **fn_kwargs)`` and keeps the input's shape.

    Parameters
    ----------
    fn : callable
        Written with ``funcnn.numpy`` ops so that it is differentiable.
    name : str, optional
        The stem of the layer's params key; ``fn.__name__`` by default.
    **fn_kwargs
        Passed to `fn` on every call.

    Examples
    --------
    >>> import numpy as np
    >>> import funcnn.numpy as fnp
    >>> from funcnn import nn, random
    >>> square = nn.elementwise(fnp.square)
    >>> square.apply({}, np.array([1.0, -2.0]))
    array([1., 4.])
    >>> sorted(nn.serial(nn.Dense(2), square).init(random.key(0), (-1, 3))[1])
    ['dense_0', 'square_1']
    """
    stem = str(name or getattr(fn, "__name__", "elementwise"))

    def init_fn(key: Any, input_shape: Any, path: tuple[str, ...]) -> tuple[Any, Any, Any]:
        return input_shape, {}, {}

    def apply_fn(params: Any, state: Any, x: Any, ctx: Context) -> tuple[Any, Any]:
        return fn(x, **fn_kwargs), state

    return Layer(stem, init_fn, apply_fn)


def _activation(fn: Callable[..., Any], title: str, **fn_kwargs: Any) -> Layer:
    layer = elementwise(fn, **fn_kwargs)
    # The activation's own signature, without its input: its options and their defaults.
    options = inspect.signature(fn).replace(parameters=list(inspect.signature(fn).parameters.values())[1:])
    return Layer(layer.name, layer.init_fn, layer.apply_fn, Config.of_call(title, options, (), fn_kwargs))


def _activation_layer(fn: Callable[..., Any], title: str, doc: str, names: tuple[str, ...]) -> ConfigurableLayer:
    """A layer whose activation takes arguments, positionally (in `names` order) or by keyword."""
    def factory(*args: Any, **kwargs: Any) -> Layer:
        if len(args) > len(names):
            raise TypeError(f"{title} takes at most {len(names)} argument(s) ({', '.join(names)})")
        kwargs = {**dict(zip(names, args)), **kwargs}
        unknown = set(kwargs) - set(names)
        if unknown:
            raise TypeError(f"{title} got unexpected argument(s) {sorted(unknown)}; it takes {names}")
        return _activation(fn, title, **kwargs)

    made = configurable(factory)
    object.__setattr__(made, "__doc__", doc)
    return made


Relu = _activation_layer(act.relu, "Relu", "The layer of :func:`relu`.", ())
Relu6 = _activation_layer(act.relu6, "Relu6", "The layer of :func:`relu6`.", ())
Selu = _activation_layer(act.selu, "Selu", "The layer of :func:`selu`.", ())
Sigmoid = _activation_layer(act.sigmoid, "Sigmoid", "The layer of :func:`sigmoid`.", ())
LogSigmoid = _activation_layer(act.log_sigmoid, "LogSigmoid", "The layer of :func:`log_sigmoid`.", ())
Tanh = _activation_layer(act.tanh, "Tanh", "The layer of :func:`tanh`.", ())
Softplus = _activation_layer(act.softplus, "Softplus", "The layer of :func:`softplus`.", ())
Silu = _activation_layer(act.silu, "Silu", "The layer of :func:`silu`.", ())
Swish = Silu
LeakyRelu = _activation_layer(act.leaky_relu, "LeakyRelu", "The layer of :func:`leaky_relu`: "
                       "``LeakyRelu`` (slope 0.01) or ``LeakyRelu(negative_slope)``.", ("negative_slope",))
Elu = _activation_layer(act.elu, "Elu", "The layer of :func:`elu`: ``Elu`` or ``Elu(alpha)``.", ("alpha",))
Gelu = _activation_layer(act.gelu, "Gelu", "The layer of :func:`gelu`: ``Gelu`` (exact) or "
                  "``Gelu(approximate=True)`` (tanh form).", ("approximate",))
HardTanh = _activation_layer(act.hard_tanh, "HardTanh", "The layer of :func:`hard_tanh`: ``HardTanh`` or "
                      "``HardTanh(min_val, max_val)``.", ("min_val", "max_val"))
Softmax = _activation_layer(act.softmax, "Softmax", "The layer of :func:`softmax`: ``Softmax`` (last axis) "
                     "or ``Softmax(axis=1)``.", ("axis",))
LogSoftmax = _activation_layer(act.log_softmax, "LogSoftmax", "The layer of :func:`log_softmax`: "
                        "``LogSoftmax`` or ``LogSoftmax(axis=1)``.", ("axis",))
