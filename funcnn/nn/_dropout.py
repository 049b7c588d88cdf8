"""The ``Dropout`` layer: random in training mode (with the key given to ``apply``), the
identity in evaluation mode."""
from __future__ import annotations

from typing import Any

from funcnn.nn._functional import check_rate, dropout_impl
from funcnn.nn._layer import Context, Layer, describe, layer_constructor

__all__ = ["Dropout"]


@layer_constructor
def Dropout(rate: float) -> Layer:
    """Inverted dropout: in training mode each entry is zeroed with probability `rate` and the
    others are scaled by ``1 / (1 - rate)``; in evaluation mode the layer is the identity.

    ``apply(params, x, key=key, train=True)`` needs a key; combinators give each dropout
    layer its own (``fold_in(key, index)``), so two dropout layers never share a mask.

    Parameters
    ----------
    rate : float in [0, 1]
        The probability of dropping an entry (PyTorch's ``p``).

    Notes
    -----
    x : any shape -> y : the shape of x. No params.

    Examples
    --------
    >>> import numpy as np
    >>> from funcnn import nn, random
    >>> layer = nn.Dropout(0.5)
    >>> _, params = layer.init(random.key(0), (-1, 4))
    >>> x = np.ones((2, 4), np.float32)
    >>> layer.apply(params, x)  # evaluation mode: the identity
    array([[1., 1., 1., 1.],
           [1., 1., 1., 1.]], dtype=float32)
    >>> y = layer.apply(params, x, key=random.key(1), train=True)
    >>> sorted(set(y.ravel().tolist())) in ([0.0, 2.0], [0.0], [2.0])
    True
    """
    rate = check_rate(rate, "Dropout")

    def init_fn(key: Any, input_shape: Any, path: tuple[str, ...]) -> tuple[Any, Any, Any]:
        return input_shape, {}, {}

    def apply_fn(params: Any, state: Any, x: Any, ctx: Context) -> tuple[Any, Any]:
        return dropout_impl(x, rate, ctx.key, ctx.train, describe("Dropout", ctx.path)), state

    return Layer("dropout", init_fn, apply_fn)
