"""funcnn: a functional, JAX-style neural-network library in pure Python on NumPy.

>>> import numpy as np, funcnn as fn, funcnn.numpy as fnp
>>> fn.grad(lambda w: fnp.sum(w ** 2))(np.array([1.0, -2.0]))
array([ 2., -4.])

Submodules (``funcnn.nn``, ``funcnn.optim``, ...) are imported on first use.
"""
import importlib
from typing import Any

from funcnn import numpy, tree_util
from funcnn._src.abstract import ShapeDtype
from funcnn._src.api import grad, hessian, jacfwd, jacrev, jvp, stop_gradient, value_and_grad, vjp
from funcnn._src.config import config
from funcnn._src.custom import custom_vjp
from funcnn._src.graph import Graph, eval_graph, eval_shape, make_graph
from funcnn._src.jit import jit
from funcnn._src.vmap import vmap

__version__ = "0.1.0"

_SUBMODULES = ("data", "extend", "io", "lax", "losses", "metrics", "nn", "optim", "random", "scipy", "testing",
               "train", "tree")

__all__ = [
    "Graph", "ShapeDtype", "config", "custom_vjp", "eval_graph", "eval_shape", "grad", "hessian", "jacfwd",
    "jacrev", "jit", "jvp", "make_graph", "numpy", "stop_gradient", "tree_util", "value_and_grad", "vjp", "vmap",
    *_SUBMODULES,
]


def __getattr__(name: str) -> Any:
    if name in _SUBMODULES:
        return importlib.import_module(f"funcnn.{name}")
    raise AttributeError(f"module 'funcnn' has no attribute {name!r}")
