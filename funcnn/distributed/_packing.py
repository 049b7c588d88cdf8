"""Packing a pytree's leaves into few contiguous buffers, so that one collective moves many
leaves: small leaves of one dtype share a bucket (concatenated, then split back into views);
a leaf as large as a bucket travels alone, without a copy. Written with ``funcnn.numpy`` so
it traces like any other code (it runs inside a jitted training step)."""
from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

import funcnn.numpy as fnp
from funcnn.extend import dtype_of, shape_of

__all__ = ["DEFAULT_BUCKET_BYTES", "buckets", "through_buckets"]

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


def through_buckets(leaves: Sequence[Any], reduce: Callable[[Any], Any],
                    bucket_bytes: int = DEFAULT_BUCKET_BYTES) -> list[Any]:
    """``reduce`` applied to each bucket's packed 1-D buffer, the results split back into
    leaves of the original shapes (in order)."""
    results: list[Any] = [None] * len(leaves)
    for bucket in buckets(leaves, bucket_bytes):
        if len(bucket) == 1:
            results[bucket[0]] = reduce(leaves[bucket[0]])
            continue
        flat = reduce(fnp.concatenate([fnp.ravel(leaves[i]) for i in bucket]))
        ends = np.cumsum([int(np.prod(shape_of(leaves[i]), dtype=np.int64)) for i in bucket])
        for i, part in zip(bucket, fnp.split(flat, [int(e) for e in ends[:-1]])):
            results[i] = fnp.reshape(part, shape_of(leaves[i]))
    return results
