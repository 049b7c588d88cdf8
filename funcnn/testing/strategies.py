"""Hypothesis strategies for property-based derivative tests (requires ``hypothesis``).

Values are kept well-conditioned: bounded, optionally away from zero (for ``log``,
division, ``abs``) and, for ``distinct_arrays``, well separated (so ``max`` and ``sort``
have no near-ties where finite differences would cross a kink).
"""
from __future__ import annotations

from typing import Any

import numpy as np
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

__all__ = ["arrays", "broadcastable_shapes", "distinct_arrays", "float_dtypes", "pytrees", "shapes"]


def float_dtypes() -> st.SearchStrategy[np.dtype]:
    """float32 or float64."""
    return st.sampled_from([np.dtype(np.float32), np.dtype(np.float64)])


def shapes(min_dims: int = 0, max_dims: int = 3, min_side: int = 1, max_side: int = 4) -> st.SearchStrategy:
    """Array shapes with the given numbers of dimensions and sizes."""
    return hnp.array_shapes(min_dims=min_dims, max_dims=max_dims, min_side=min_side, max_side=max_side)


def broadcastable_shapes(num_shapes: int = 2, min_dims: int = 0, max_dims: int = 3,
                         max_side: int = 4) -> st.SearchStrategy[tuple]:
    """Tuples of ``num_shapes`` shapes that broadcast together (some with size-1 or missing axes)."""
    return hnp.mutually_broadcastable_shapes(
        num_shapes=num_shapes, min_dims=min_dims, max_dims=max_dims, max_side=max_side
    ).map(lambda b: b.input_shapes)


def arrays(shape: Any, dtype: Any = np.float64, min_value: float = -2.0, max_value: float = 2.0,
           min_magnitude: float = 0.0) -> st.SearchStrategy[np.ndarray]:
    """Float arrays of ``shape`` (a tuple or a strategy) with values in ``[min_value, max_value]``.

    With ``min_magnitude > 0`` every value has ``|x| >= min_magnitude``.
    """
    if min_magnitude > 0:
        elements = _away_from_zero(min_value, max_value, min_magnitude)
    else:
        elements = _floats(min_value, max_value)
    return hnp.arrays(np.float64, shape, elements=elements).map(lambda a: a.astype(dtype))


def _floats(lo: float, hi: float) -> st.SearchStrategy[float]:
    return st.floats(lo, hi, allow_nan=False, allow_infinity=False, width=64)


def _away_from_zero(lo: float, hi: float, magnitude: float) -> st.SearchStrategy[float]:
    """Floats in ``[lo, hi]`` with ``|x| >= magnitude``, drawn from the two ranges directly
    (filtering would reject the zeros hypothesis likes to draw, until it gives up)."""
    ranges = [(lo, min(hi, -magnitude)), (max(lo, magnitude), hi)]
    parts = [_floats(a, b) for a, b in ranges if a <= b]
    if not parts:
        raise ValueError(f"arrays: no value in [{lo}, {hi}] has magnitude >= {magnitude}")
    return st.one_of(*parts)


def distinct_arrays(shape: Any, dtype: Any = np.float64, gap: float = 0.1) -> st.SearchStrategy[np.ndarray]:
    """Arrays whose values differ pairwise by at least ``gap`` (no ties, no near-ties)."""
    def build(draw: Any) -> np.ndarray:
        shp = draw(shape) if isinstance(shape, st.SearchStrategy) else tuple(shape)
        n = int(np.prod(shp))
        order = draw(st.permutations(list(range(n))))
        jitter = draw(hnp.arrays(np.float64, (n,), elements=st.floats(0, gap / 2)))
        values = (np.asarray(order, dtype=np.float64) - n / 2) * gap * 2 + jitter
        return values.reshape(shp).astype(dtype)
    return st.composite(lambda draw: build(draw))()


def pytrees(leaves: st.SearchStrategy, max_leaves: int = 6) -> st.SearchStrategy[Any]:
    """Nested dicts, lists and tuples whose leaves are drawn from ``leaves``."""
    keys = st.text("abcdefgh_", min_size=1, max_size=4)
    return st.recursive(
        leaves,
        lambda children: st.one_of(
            st.lists(children, min_size=1, max_size=3),
            st.lists(children, min_size=1, max_size=3).map(tuple),
            st.dictionaries(keys, children, min_size=1, max_size=3),
        ),
        max_leaves=max_leaves,
    )
