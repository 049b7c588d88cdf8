"""Low-level primitives that layers build on: convolution and pooling, and structured control
flow (``cond``, ``switch``, ``while_loop``, ``fori_loop``, ``scan``) with JAX's signatures.

``conv_general_dilated`` follows JAX's ``lax`` signature with PyTorch's layout (batch,
channels, then 1 to 3 spatial dimensions). ``max_pool`` and ``avg_pool`` pool over the
same layout. All are differentiable to any order in both modes; see ``docs/conv.md``.

Examples
--------
>>> import numpy as np
>>> from funcnn import lax
>>> x = np.ones((2, 3, 8, 8), dtype=np.float32)
>>> w = np.ones((4, 3, 3, 3), dtype=np.float32)
>>> y = lax.conv_general_dilated(x, w, (1, 1), "SAME")
>>> y.shape, y.dtype
((2, 4, 8, 8), dtype('float32'))
>>> lax.max_pool(y, (2, 2)).shape
(2, 4, 4, 4)
"""
from funcnn.lax._cond import cond as cond
from funcnn.lax._cond import switch as switch
from funcnn.lax._conv import conv_general_dilated as conv_general_dilated
from funcnn.lax._loops import fori_loop as fori_loop
from funcnn.lax._loops import scan as scan
from funcnn.lax._loops import while_loop as while_loop
from funcnn.lax._pool import avg_pool as avg_pool
from funcnn.lax._pool import max_pool as max_pool

__all__ = ["avg_pool", "cond", "conv_general_dilated", "fori_loop", "max_pool", "scan", "switch", "while_loop"]
