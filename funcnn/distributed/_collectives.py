"""Collectives over pytrees: which process am I, and all-reduce, broadcast, all-gather.

``all_reduce_sum`` and ``all_reduce_mean`` are made of one primitive, ``all_reduce``,
applied to buckets of leaves (see ``_packing``), so they work on concrete arrays
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
from funcnn.extend import (
    Primitive, Tracer, def_abstract_eval, def_batch, def_jvp_joint, def_vjp_rule, dtype_of, zeros_like,
)

from ._mpi import by_id, comm_id, communicator, mpi
from ._packing import DEFAULT_BUCKET_BYTES, buckets

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


def _all_reduce_impl(*leaves: Any, op: str, comm: int) -> tuple[np.ndarray, ...]:
    """One collective for a bucket of leaves: each leaf is written (divided by the number of
    processes, for a mean) into its slot of one buffer, the buffer is reduced in place, and
    the results are views of it. A single leaf summed needs no buffer."""
    c, size = by_id(comm), by_id(comm).Get_size()
    arrays = [np.asarray(x) for x in leaves]
    wire = _WIRE.get(arrays[0].dtype, arrays[0].dtype)
    reduce_op = mpi().MAX if op == "max" else mpi().SUM
    if len(arrays) == 1 and op != "mean" and wire == arrays[0].dtype and size > 1:
        out = np.empty_like(arrays[0], order="C")
        c.Allreduce(np.asarray(arrays[0], order="C"), out, op=reduce_op)
        return (out,)
    ends = np.cumsum([a.size for a in arrays])
    buffer = np.empty(int(ends[-1]) if arrays else 0, wire)
    # a mean divides on the way in, then sums; by 2, 4, 8, ... processes a product by the
    # reciprocal is the exact quotient, and cheaper
    scale = wire.type(1 / size) if size & (size - 1) == 0 else None
    for a, stop in zip(arrays, ends):
        slot = buffer[stop - a.size:stop].reshape(a.shape)
        if op != "mean":
            slot[...] = a
        elif scale is not None:
            np.multiply(a, scale, out=slot)
        else:
            np.divide(a, size, out=slot)
    if size > 1:
        c.Allreduce(mpi().IN_PLACE, buffer, op=reduce_op)
    return tuple(buffer[stop - a.size:stop].reshape(a.shape).astype(a.dtype, copy=False)
                 for a, stop in zip(arrays, ends))


all_reduce_p = Primitive("all_reduce", _all_reduce_impl, multiple_results=True)
def_abstract_eval(all_reduce_p, lambda *avals, **params: tuple(avals))


def _filled(values: Any, like: Any) -> list[Any]:
    """``values`` with each missing (None) entry replaced by zeros shaped as in ``like``."""
    return [zeros_like(x) if v is None else v for v, x in zip(values, like)]


def _all_reduce_jvp(tangents: Any, ans: Any, *leaves: Any, **params: Any) -> tuple:
    return tuple(all_reduce_p.bind(*_filled(tangents, leaves), **params))


def _all_reduce_vjp(wanted: Any, *leaves: Any, **params: Any) -> tuple:
    # each process's output is the sum (or mean) of every process's input: the transpose sums the cotangents
    def pullback(g: Any) -> list:
        return list(all_reduce_p.bind(*_filled(g, leaves), **params))
    return all_reduce_p.bind(*leaves, **params), pullback


def _all_reduce_batch(size: int, args: Any, dims: tuple, **params: Any) -> tuple:
    return all_reduce_p.bind(*args, **params), tuple(dims)  # elementwise in every leaf: batch axes stay


def_jvp_joint(all_reduce_p, _all_reduce_jvp)
def_vjp_rule(all_reduce_p, _all_reduce_vjp)
def_batch(all_reduce_p, _all_reduce_batch)


def _all_reduce(tree: Any, op: str, comm: Any, bucket_bytes: int) -> Any:
    leaves, treedef = tree_util.tree_flatten(tree)
    if op == "mean":
        for path, leaf in tree_util.tree_flatten_with_path(tree)[0]:
            if np.dtype(dtype_of(leaf)).kind not in "fc":
                raise TypeError(f"all_reduce_mean: the leaf at {tree_util.keystr(path) or 'the root'} has dtype "
                                f"{np.dtype(dtype_of(leaf))}; a mean needs floating-point leaves "
                                "(use all_reduce_sum for counts)")
    cid = comm_id(comm)
    reduced: list[Any] = [None] * len(leaves)
    for bucket in buckets(leaves, bucket_bytes):
        for i, out in zip(bucket, all_reduce_p.bind(*(leaves[i] for i in bucket), op=op, comm=cid)):
            reduced[i] = out
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
    are replaced); the result holds new arrays. Moves one buffer of bytes.
    """
    c = communicator(comm)
    leaves, treedef = _concrete_leaves(tree, "broadcast")
    ends = np.cumsum([a.nbytes for a in leaves], dtype=np.int64)
    buffer = np.empty(int(ends[-1]) if leaves else 0, np.uint8)
    for a, stop in zip(leaves, ends):
        buffer[stop - a.nbytes:stop] = np.asarray(a, order="C").reshape(-1).view(np.uint8)
    if c.Get_size() > 1:
        c.Bcast(buffer, root=root)  # as bytes: any dtype, float16 too
    out = [buffer[stop - a.nbytes:stop].view(a.dtype).reshape(a.shape) for a, stop in zip(leaves, ends)]
    return tree_util.tree_unflatten(treedef, out)


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
