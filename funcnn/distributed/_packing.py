"""Which leaves of a pytree travel together: small leaves of one dtype share a bucket, so that
one collective moves many of them (the ``all_reduce`` primitive writes a bucket's leaves into
one buffer and gives back views of it); a leaf as large as a bucket travels alone."""
from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from funcnn.extend import dtype_of, shape_of

__all__ = ["DEFAULT_BUCKET_BYTES", "buckets"]

DEFAULT_BUCKET_BYTES = 4 * 2**20
"""Leaves smaller than this are packed together, up to this many bytes a bucket; larger ones
travel alone (a copy into a bucket would cost more than the extra collective saves)."""


def _nbytes(leaf: Any) -> int:
    return int(np.prod(shape_of(leaf), dtype=np.int64)) * np.dtype(dtype_of(leaf)).itemsize


def buckets(leaves: Sequence[Any], bucket_bytes: int = DEFAULT_BUCKET_BYTES) -> list[list[int]]:
    """Indices of ``leaves`` grouped into buckets: one dtype each, in leaf order, at most
    ``bucket_bytes`` each except for a single larger leaf.

    >>> buckets([np.zeros(3, np.float32), np.zeros(2), np.zeros(5, np.float32), np.zeros(100)], 64)
    [[0, 2], [1], [3]]
    """
    out: list[list[int]] = []
    open_bucket: dict[np.dtype, tuple[list[int], int]] = {}
    for i, leaf in enumerate(leaves):
        size, dtype = _nbytes(leaf), np.dtype(dtype_of(leaf))
        if size >= bucket_bytes:
            out.append([i])
            continue
        members, used = open_bucket.get(dtype, ([], 0))
        if members and used + size > bucket_bytes:
            members, used = [], 0
        if not members:
            out.append(members)
        members.append(i)
        open_bucket[dtype] = (members, used + size)
    return out
