"""Data parallelism: every process computes gradients on its own part of each batch, and an
optimizer wrapper averages them before the update, so all processes take the same step
(Horovod's ``DistributedOptimizer``, as an optax-style transformation)."""
from __future__ import annotations

import hashlib
import json
from collections.abc import Iterator
from typing import Any

import numpy as np

from funcnn import tree_util
from funcnn.data import batches as data_batches
from funcnn.extend import dtype_of, shape_of
from funcnn.optim import GradientTransformation

from ._collectives import all_reduce_mean
from ._mpi import communicator
from ._packing import DEFAULT_BUCKET_BYTES

__all__ = ["batches", "check_same_structure", "data_parallel", "shard"]


def data_parallel(optimizer: GradientTransformation, comm: Any = None, *,
                  bucket_bytes: int = DEFAULT_BUCKET_BYTES) -> GradientTransformation:
    """``optimizer`` with its gradients averaged over all processes first.

    ``init`` checks once that every process has parameters of the same structure, shapes
    and dtypes (a mismatch raises on every process, naming the key path); ``update``
    averages the gradient tree with :func:`all_reduce_mean` (a few packed collectives)
    and hands the mean to ``optimizer``. The state is ``optimizer``'s own. Start every
    process from the same parameters (:func:`broadcast` them from rank 0).
    """
    def init_fn(params: Any) -> Any:
        check_same_structure(params, comm, "data_parallel: the parameters")
        return optimizer.init(params)

    def update_fn(updates: Any, state: Any, params: Any = None) -> tuple[Any, Any]:
        return optimizer.update(all_reduce_mean(updates, comm, bucket_bytes=bucket_bytes), state, params)

    return GradientTransformation(init_fn, update_fn)


def _describe(tree: Any) -> list[tuple[str, list[int], str]]:
    return [(tree_util.keystr(path), [int(d) for d in shape_of(leaf)], str(np.dtype(dtype_of(leaf))))
            for path, leaf in tree_util.tree_flatten_with_path(tree)[0]]


def check_same_structure(tree: Any, comm: Any = None, what: str = "the tree") -> None:
    """Raise ``ValueError`` on every process unless all processes hold trees of one structure,
    shapes and dtypes. Exchanges a short hash; the full descriptions only on a mismatch."""
    c = communicator(comm)
    mine = _describe(tree)
    digest = hashlib.sha256(json.dumps(mine).encode()).hexdigest()
    if len(set(c.allgather(digest))) == 1:
        return
    everyone = c.allgather(mine)
    for r, theirs in enumerate(everyone[1:], 1):
        if theirs != everyone[0]:
            raise ValueError(f"{what} differ between processes: {_difference(everyone[0], theirs, r)}")


def _difference(first: list, other: list, r: int) -> str:
    """The first leaf in which rank ``r``'s description differs from rank 0's."""
    for a, b in zip(first, other):
        if a != b:
            return f"rank 0 has {_leaf(a)}, rank {r} has {_leaf(b)}"
    return f"rank 0 has {len(first)} leaves, rank {r} has {len(other)}"


def _leaf(entry: tuple[str, list[int], str]) -> str:
    path, shape, dtype = entry
    return f"a leaf at {path or 'the root'} of shape {tuple(shape)} and dtype {dtype}"


def shard(arrays: Any, comm: Any = None) -> Any:
    """This process's contiguous part of a dataset (an array or a tuple of arrays sharing
    their first axis): the parts of all processes are disjoint, cover every sample, and
    differ in size by at most one (``numpy.array_split``'s rule)."""
    c = communicator(comm)
    group = arrays if isinstance(arrays, tuple) else (arrays,)
    n = len(group[0])
    start, stop = _part(n, c.Get_rank(), c.Get_size())
    parts = tuple(a[start:stop] for a in group)
    return parts if isinstance(arrays, tuple) else parts[0]


def _part(n: int, index: int, parts: int) -> tuple[int, int]:
    """Where part ``index`` of ``n`` items split into ``parts`` (sizes differing by <= 1) starts and stops."""
    q, r = divmod(n, parts)
    start = index * q + min(index, r)
    return start, start + q + (index < r)


def batches(arrays: Any, batch_size: int, key: Any = None, *, drop_last: bool = False,
            comm: Any = None) -> Iterator[tuple[Any, int]]:
    """This process's mini-batches of one epoch, with the size of the global batch each is part of.

    The samples are visited as ``funcnn.data.batches(arrays, batch_size * world_size(), key)``
    visits them on one process — same key, same order; each global batch is cut into
    ``world_size()`` contiguous parts (sizes differing by at most one), and this process gets
    its own part. So ``batch_size`` is the per-process batch, every process sees a disjoint,
    key-shuffled slice of every epoch, and averaging the processes' gradients weighted by
    their parts' sizes gives the gradient of the global batch. Pass the same ``key`` on
    every process.
    """
    c = communicator(comm)
    size, index = c.Get_size(), c.Get_rank()
    single = not isinstance(arrays, tuple)
    for batch in data_batches(arrays, batch_size * size, key=key, drop_last=drop_last):
        group = (batch,) if single else batch
        m = len(group[0])
        start, stop = _part(m, index, size)
        local = tuple(a[start:stop] for a in group)
        yield (local[0] if single else local), m
