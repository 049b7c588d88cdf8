"""Argument checks shared by the data functions; every failure is a ValueError naming the argument."""

from __future__ import annotations

import math
import numbers
from collections.abc import Sequence
from typing import Any

import numpy as np


def as_arrays(arrays: Sequence[Any], names: Sequence[str]) -> list[np.ndarray]:
    """Convert array-likes to arrays that have at least one axis."""
    out = []
    for name, a in zip(names, arrays):
        arr = np.asarray(a)
        if arr.ndim == 0:
            raise ValueError(f"{name} must have at least one axis (the sample axis); got a 0-d array")
        out.append(arr)
    return out


def common_length(arrays: Sequence[np.ndarray], names: Sequence[str]) -> int:
    """The shared length of ``arrays`` along axis 0, or a ValueError listing every length."""
    lengths = [a.shape[0] for a in arrays]
    if len(set(lengths)) > 1:
        listing = ", ".join(f"{name} has {n}" for name, n in zip(names, lengths))
        raise ValueError(f"arrays must have the same number of samples (axis 0): {listing}")
    return lengths[0]


def positive_int(value: Any, name: str) -> int:
    """``value`` as an int, or a ValueError unless it is an integer >= 1."""
    if isinstance(value, bool) or not isinstance(value, numbers.Integral) or value <= 0:
        raise ValueError(f"{name} must be a positive int; got {value!r}")
    return int(value)


def non_negative_float(value: Any, name: str) -> float:
    """``value`` as a float, or a ValueError unless it is a finite real >= 0."""
    if isinstance(value, bool) or not isinstance(value, numbers.Real) or not math.isfinite(value) or value < 0:
        raise ValueError(f"{name} must be a finite number >= 0; got {value!r}")
    return float(value)
