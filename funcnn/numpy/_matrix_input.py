"""Checks at the boundary of ``funcnn.numpy.linalg``: real floating input, stacks of (square)
matrices. They read only shapes and dtypes, so they work on traced values; each error names
the function, the argument and what it got."""
from __future__ import annotations

from typing import Any

import numpy as np

from funcnn.extend import dtype_of, ndim_of, shape_of
from funcnn.numpy._creation import asarray

LinAlgError = np.linalg.LinAlgError  # a ValueError, as in NumPy


def real_floats(x: Any, fn: str, name: str) -> Any:
    """``x`` as an array of float32 or float64: integers and booleans become float64 (as in
    NumPy's linalg); complex and other float widths are a TypeError."""
    x = asarray(x)
    dtype = dtype_of(x)
    if dtype.kind == "c":
        raise TypeError(f"{fn}: complex values are not supported ({name} has dtype {dtype}); "
                        "funcnn.numpy.linalg takes real float32 and float64 input")
    if dtype.kind in "biu":
        from funcnn.numpy._elementwise import astype

        return astype(x, np.float64)
    if dtype not in (np.dtype(np.float32), np.dtype(np.float64)):
        raise TypeError(f"{fn}: {name} has dtype {dtype}; funcnn.numpy.linalg supports float32 and float64 "
                        "(cast with astype)")
    return x


def matrices(x: Any, fn: str, name: str = "a") -> Any:
    """``x`` as real floats with at least two axes: a matrix or a stack of them, shape (..., m, n)."""
    x = real_floats(x, fn, name)
    if ndim_of(x) < 2:
        raise LinAlgError(f"{fn}: {name} must be a matrix or a stack of matrices, shape (..., m, n); got shape "
                          f"{shape_of(x)}")
    return x


def square_matrices(x: Any, fn: str, name: str = "a") -> Any:
    """``x`` as real floats of shape (..., n, n)."""
    x = real_floats(x, fn, name)
    shape = shape_of(x)
    if len(shape) < 2 or shape[-1] != shape[-2]:
        raise LinAlgError(f"{fn}: {name} must be a square matrix or a stack of them, shape (..., n, n); got "
                          f"shape {shape}")
    return x
