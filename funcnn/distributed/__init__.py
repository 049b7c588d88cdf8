"""Data-parallel training over MPI (the optional extra ``funcnn[mpi]``: mpi4py and Open MPI).

Run the same script in several processes (``mpiexec -n 2 python train.py``); each trains on
its own part of every batch, and the gradients are averaged before each update, so all
processes keep the same parameters. ``funcnn.train.fit(..., distributed=True)`` does it all;
the pieces are here for loops of your own:

* ``rank()``, ``world_size()``, ``is_main()``, ``barrier()``, ``local_size()``;
* pytree collectives: ``all_reduce_sum``, ``all_reduce_mean`` (traceable, for jitted steps),
  ``broadcast``, ``all_gather``;
* ``data_parallel(optimizer)``: the gradient-averaging optimizer wrapper;
* ``batches(arrays, batch_size, key)`` and ``shard(arrays)``: each process's disjoint part
  of the data;
* ``abort_on_error()``: one failing process stops the job instead of hanging it.

Importing this module needs no MPI; the first call that does raises an ``ImportError``
naming the extra when mpi4py is missing. See ``docs/distributed.md``.
"""
from ._collectives import all_gather as all_gather
from ._collectives import all_reduce_max as all_reduce_max
from ._collectives import all_reduce_mean as all_reduce_mean
from ._collectives import all_reduce_sum as all_reduce_sum
from ._collectives import barrier as barrier
from ._collectives import broadcast as broadcast
from ._collectives import is_main as is_main
from ._collectives import local_size as local_size
from ._collectives import rank as rank
from ._collectives import warn_if_oversubscribed as warn_if_oversubscribed
from ._collectives import world_size as world_size
from ._data_parallel import batches as batches
from ._data_parallel import check_same_structure as check_same_structure
from ._data_parallel import data_parallel as data_parallel
from ._data_parallel import shard as shard
from ._faults import abort_on_error as abort_on_error
from ._packing import DEFAULT_BUCKET_BYTES as DEFAULT_BUCKET_BYTES

__all__ = ["DEFAULT_BUCKET_BYTES", "abort_on_error", "all_gather", "all_reduce_max", "all_reduce_mean",
           "all_reduce_sum", "barrier", "batches", "broadcast", "check_same_structure", "data_parallel", "is_main",
           "local_size", "rank", "shard", "warn_if_oversubscribed", "world_size"]
