"""Collectives over pytrees: which process am I, and all-reduce, broadcast, all-gather.

``all_reduce_sum`` and ``all_reduce_mean`` are made of one primitive, ``all_reduce``,
applied to packed buckets of leaves (see ``_packing``), so they work on concrete arrays
and inside ``grad``, ``jit`` and ``vmap`` alike: a jitted training step replays the
collective every step. Its derivative rules are those of a sum over processes (the
transpose of an all-reduce is an all-reduce). ``broadcast`` and ``all_gather`` move
concrete values (parameters at start, results at the end) and refuse traced ones.
"""
from __future__ import annotations

import os
import warnings
from typing import Any

import numpy as np

from funcnn import tree_util
from funcnn.extend import Primitive, Tracer, def_abstract_eval, def_batch, def_jvp, def_vjp, dtype_of, same_as_first

from ._mpi import by_id, comm_id, communicator, mpi
from ._packing import DEFAULT_BUCKET_BYTES, through_buckets

__all__ = ["all_gather", "all_reduce_mean", "all_reduce_sum", "barrier", "broadcast", "is_main", "rank",
           "world_size"]

_WIRE = {np.dtype(np.float16): np.dtype(np.float32)}  # MPI has no half type: reduce float16 in float32


def rank(comm: Any = None) -> int:
    """This process's index among the ``world_size()`` processes (0 is the main one)."""
    return int(communicator(comm).Get_rank())


def world_size(comm: Any = None) -> int:
    """The number of processes (1 when run without ``mpiexec``)."""
    return int(communicator(comm).Get_size())


def is_main(comm: Any = None) -> bool:
    """True on rank 0, the process that prints and writes files."""
    return rank(comm) == 0


def local_size(comm: Any = None) -> int:
    """How many of the processes run on this machine (share its memory)."""
    c = communicator(comm)
    local = c.Split_type(mpi().COMM_TYPE_SHARED)
    try:
        return int(local.Get_size())
    finally:
        local.Free()


def warn_if_oversubscribed(comm: Any = None) -> None:
    """Warn when this machine's processes together run more BLAS threads than it has cores.

    NumPy's BLAS starts one thread per core in every process unless ``OMP_NUM_THREADS``
    (or ``OPENBLAS_NUM_THREADS``, ``MKL_NUM_THREADS``) says otherwise; two processes on two
    cores then fight over them and a training step took 40 times longer.
    """
    processes = local_size(comm)
    if processes == 1:
        return
    cores = os.cpu_count() or 1
    given = [os.environ.get(v) for v in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS")]
    threads = min((int(v) for v in given if v and v.isdigit()), default=cores)
    if processes * threads > cores and rank(comm) == 0:
        warnings.warn(f"funcnn.distributed: {processes} processes on this machine, each letting BLAS run "
                      f"{threads} threads, on {cores} cores: set OMP_NUM_THREADS={max(cores // processes, 1)} "
                      f"(mpiexec -x OMP_NUM_THREADS={max(cores // processes, 1)} ...); oversubscribed threads "
                      "can make each step many times slower", RuntimeWarning, stacklevel=3)


def barrier(comm: Any = None) -> None:
    """Wait until every process has reached this call."""
    communicator(comm).Barrier()


# --- all-reduce: one primitive --------------------------------------------------------------


def _all_reduce_impl(x: Any, *, op: str, comm: int) -> np.ndarray:
    c, x = by_id(comm), np.asarray(x, order="C")  # not ascontiguousarray: it makes 0-d arrays 1-d
    wire = x.astype(_WIRE.get(x.dtype, x.dtype), copy=False)
    size = c.Get_size()
    if op == "mean":  # divide on the way in (exact for 2, 4, ... processes), then sum in place
        out = np.divide(wire, size, dtype=wire.dtype)
        if size > 1:
            c.Allreduce(mpi().IN_PLACE, out, op=mpi().SUM)
    elif size == 1:
        out = wire.copy()
    else:
        out = np.empty_like(wire)
        c.Allreduce(wire, out, op=mpi().MAX if op == "max" else mpi().SUM)
    return out.astype(x.dtype, copy=False)


all_reduce_p = Primitive("all_reduce", _all_reduce_impl)
def_abstract_eval(all_reduce_p, same_as_first)
def_jvp(all_reduce_p, lambda t, ans, x, **params: all_reduce_p.bind(t, **params))
def_vjp(all_reduce_p, lambda ans, x, **params: lambda g: all_reduce_p.bind(g, **params))
def_batch(all_reduce_p, lambda size, args, dims, **params: (all_reduce_p.bind(args[0], **params), dims[0]))


def _all_reduce(tree: Any, op: str, comm: Any, bucket_bytes: int) -> Any:
    leaves, treedef = tree_util.tree_flatten(tree)
    if op == "mean":
        for path, leaf in tree_util.tree_flatten_with_path(tree)[0]:
            if np.dtype(dtype_of(leaf)).kind not in "fc":
                raise TypeError(f"all_reduce_mean: the leaf at {tree_util.keystr(path) or 'the root'} has dtype "
                                f"{np.dtype(dtype_of(leaf))}; a mean needs floating-point leaves "
                                "(use all_reduce_sum for counts)")
    cid = comm_id(comm)
    reduced = through_buckets(leaves, lambda buffer: all_reduce_p.bind(buffer, op=op, comm=cid), bucket_bytes)
    return tree_util.tree_unflatten(treedef, reduced)


def all_reduce_sum(tree: Any, comm: Any = None, *, bucket_bytes: int = DEFAULT_BUCKET_BYTES) -> Any:
    """Every leaf summed over all processes; each process gets the sums.

    Leaves of one dtype are packed into buckets of up to ``bucket_bytes`` (a larger leaf
    travels alone, without a copy), so a gradient tree moves in one or a few collectives.
    Works on concrete arrays and on traced values (inside ``jit``, ``grad``, ``vmap``).
    """
    return _all_reduce(tree, "sum", comm, bucket_bytes)


def all_reduce_mean(tree: Any, comm: Any = None, *, bucket_bytes: int = DEFAULT_BUCKET_BYTES) -> Any:
    """Every leaf averaged over all processes (floating-point leaves; see :func:`all_reduce_sum`)."""
    return _all_reduce(tree, "mean", comm, bucket_bytes)


def all_reduce_max(tree: Any, comm: Any = None) -> Any:
    """Every leaf's elementwise maximum over all processes (e.g. to agree on a flag)."""
    return _all_reduce(tree, "max", comm, DEFAULT_BUCKET_BYTES)


# --- broadcast and all-gather: concrete values ----------------------------------------------


def _concrete_leaves(tree: Any, who: str) -> tuple[list[np.ndarray], Any]:
    leaves, treedef = tree_util.tree_flatten(tree)
    if any(isinstance(leaf, Tracer) for leaf in leaves):
        raise TypeError(f"{who} moves concrete arrays; call it outside jit/grad/vmap (e.g. on the parameters "
                        "before training), or use all_reduce_sum/all_reduce_mean, which trace")
    return [np.asarray(leaf) for leaf in leaves], treedef


def broadcast(tree: Any, root: int = 0, comm: Any = None) -> Any:
    """Rank ``root``'s tree on every process (e.g. the initial parameters, so all start equal).

    Every process must pass a tree of the same structure, shapes and dtypes (its values
    are replaced); the result holds new arrays.
    """
    c = communicator(comm)
    leaves, treedef = _concrete_leaves(tree, "broadcast")

    def move(buffer: np.ndarray) -> np.ndarray:
        out = np.array(buffer, copy=True, order="C")
        if c.Get_size() > 1:
            c.Bcast(out.reshape(-1).view(np.uint8), root=root)  # as bytes: any dtype, float16 too
        return out

    return tree_util.tree_unflatten(treedef, through_buckets(leaves, move))


def all_gather(tree: Any, comm: Any = None) -> Any:
    """Every process's tree, stacked: each leaf gains a leading axis of size ``world_size()``
    holding the processes' values in rank order."""
    c = communicator(comm)
    leaves, treedef = _concrete_leaves(tree, "all_gather")
    size = c.Get_size()
    gathered = []
    for leaf in leaves:
        out = np.empty((size,) + leaf.shape, leaf.dtype)
        c.Allgather(np.asarray(leaf, order="C").reshape(-1).view(np.uint8), out.reshape(-1).view(np.uint8))
        gathered.append(out)
    return tree_util.tree_unflatten(treedef, gathered)
