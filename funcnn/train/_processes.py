"""What ``fit`` does differently when it trains in several processes (``distributed=True``):
whose part of each batch a process takes, and which numbers the processes must agree on.

``OneProcess`` is the plain case; ``Processes`` the data-parallel one over MPI (through
``funcnn.distributed``, imported only then). The loop calls the same methods on either.
"""
from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import numpy as np

from funcnn import random, tree_util
from funcnn.data import batches
from funcnn.extend import dtype_of

__all__ = ["OneProcess", "Processes"]


class OneProcess:
    """Training in this process alone."""

    rank, size, main = 0, 1, True

    def batches(self, data: tuple, batch_size: int, key: Any, drop_last: bool) -> Iterator[tuple[Any, Any, Any]]:
        """``(x, y, weight)`` per step; ``weight`` scales the local gradient (None: as it is)."""
        for x, y in batches(data, batch_size, key=key, drop_last=drop_last):
            yield x, y, None

    def step_key(self, key: Any) -> Any:
        return key

    def total(self, values: dict[str, float], n: int) -> tuple[dict[str, float], int]:
        """A batch's sample-weighted sums and size, summed over processes."""
        return {name: v * n for name, v in values.items()}, n

    def evaluate(self, evaluate_on: Callable[[tuple], dict[str, float]], data: tuple) -> dict[str, float]:
        return evaluate_on(data)

    def average_state(self, state: Any) -> Any:
        return state

    def agree(self, stop: bool) -> bool:
        return stop


class Processes(OneProcess):
    """Data parallelism over MPI: each process takes its part of every global batch (of
    ``batch_size * world_size`` samples), gradients are averaged weighted by the parts'
    sizes, and every logged number is summed over all processes."""

    def __init__(self, comm: Any = None) -> None:
        from funcnn import distributed

        self.dist, self.comm = distributed, comm
        self.rank, self.size = distributed.rank(comm), distributed.world_size(comm)
        self.main = self.rank == 0
        distributed.warn_if_oversubscribed(comm)

    def batches(self, data: tuple, batch_size: int, key: Any, drop_last: bool) -> Iterator[tuple[Any, Any, Any]]:
        for (x, y), global_size in self.dist.batches(data, batch_size, key, drop_last=drop_last, comm=self.comm):
            if global_size < self.size:  # some process would get no sample: the last, tiny global batch is left out
                continue
            # the mean over the global batch is the mean of (local mean * local share * processes)
            yield x, y, np.float64(len(y) * self.size / global_size)

    def step_key(self, key: Any) -> Any:
        return random.fold_in(key, self.rank)  # dropout masks differ between processes

    def total(self, values: dict[str, float], n: int) -> tuple[dict[str, float], int]:
        local = {"sums": {name: np.float64(v * n) for name, v in values.items()}, "count": np.int64(n)}
        summed = self.dist.all_reduce_sum(local, self.comm)
        return {name: float(summed["sums"][name]) for name in values}, int(summed["count"])  # in the logs' order

    def evaluate(self, evaluate_on: Callable[[tuple], dict[str, float]], data: tuple) -> dict[str, float]:
        if len(data[0]) < self.size:
            raise ValueError(f"fit: val_data has {len(data[0])} samples, fewer than the {self.size} processes")
        part = self.dist.shard(tuple(data), self.comm)
        sums, count = self.total(evaluate_on(part), len(part[0]))
        return {name: s / count for name, s in sums.items()}

    def average_state(self, state: Any) -> Any:
        """Model state (BatchNorm statistics) averaged over processes; integer leaves kept."""
        if state is None:
            return None
        leaves, treedef = tree_util.tree_flatten(state)
        floats = [i for i, leaf in enumerate(leaves) if np.dtype(dtype_of(leaf)).kind == "f"]
        averaged = self.dist.all_reduce_mean([leaves[i] for i in floats], self.comm)
        for i, leaf in zip(floats, averaged):
            leaves[i] = leaf
        return tree_util.tree_unflatten(treedef, leaves)

    def agree(self, stop: bool) -> bool:
        """Stop only together: if any process's callbacks stop, all do (no process waits alone)."""
        return bool(self.dist.all_reduce_max(np.int64(stop), self.comm))
