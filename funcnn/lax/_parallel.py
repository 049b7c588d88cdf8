"""A small thread pool for memory-bound array work: copies, adds and fills.

NumPy releases the GIL while it copies or runs a ufunc loop on large arrays, so splitting
one such operation into a chunk per core runs the chunks at once. BLAS calls need none of
this (the BLAS library has its own threads); the unfolding copies, padding and col2im adds
around them do.
"""
from __future__ import annotations

import os
from concurrent.futures import Future, ThreadPoolExecutor
from typing import Any, Callable

import numpy as np

# Below this many bytes an operation runs on the calling thread alone.
PARALLEL_BYTES = 2 << 20

_executor: ThreadPoolExecutor | None = None
_executor_pid = -1


def threads() -> int:
    """How many chunks a large operation is split into: the cores, at most 4."""
    return max(1, min(os.cpu_count() or 1, 4))


def _pool() -> ThreadPoolExecutor:
    """The shared worker threads, recreated after a fork (a child inherits no running threads)."""
    global _executor, _executor_pid
    if _executor is None or _executor_pid != os.getpid():
        _executor = ThreadPoolExecutor(max_workers=threads() - 1, thread_name_prefix="funcnn-lax")
        _executor_pid = os.getpid()
    return _executor


def _split(dst: np.ndarray, pieces: int) -> tuple[int, list[slice]] | None:
    """An axis of ``dst`` to split into ``pieces`` chunks, and the chunks; ``None`` to stay whole."""
    for axis, n in enumerate(dst.shape):
        if n >= pieces:
            bounds = [n * i // pieces for i in range(pieces + 1)]
            return axis, [slice(a, b) for a, b in zip(bounds[:-1], bounds[1:])]
    return None


def _in_parallel(op: Callable[[np.ndarray, Any], Any], dst: np.ndarray, src: Any) -> None:
    pieces = threads()
    split = _split(dst, pieces) if pieces > 1 and dst.nbytes >= PARALLEL_BYTES else None
    if split is None:
        op(dst, src)
        return
    axis, chunks = split
    src = np.broadcast_to(src, dst.shape)
    lead = (slice(None),) * axis
    futures: list[Future] = [_pool().submit(op, dst[lead + (c,)], src[lead + (c,)]) for c in chunks[1:]]
    op(dst[lead + (chunks[0],)], src[lead + (chunks[0],)])
    for f in futures:
        f.result()


def parallel_copy(dst: np.ndarray, src: Any) -> None:
    """``dst[...] = src`` (``src`` broadcasts), split across the worker threads when large."""
    _in_parallel(np.copyto, dst, src)


def parallel_add(dst: np.ndarray, src: np.ndarray) -> None:
    """``dst += src``, split across the worker threads when large."""
    _in_parallel(lambda d, s: np.add(d, s, out=d), dst, src)


def parallel_ranges(total: int, work: Callable[[int, int], Any], nbytes: int) -> None:
    """``work(start, stop)`` over ``[0, total)``, cut into one range per thread when the work
    touches ``nbytes`` of at least ``PARALLEL_BYTES``."""
    pieces = max(1, min(threads(), total)) if nbytes >= PARALLEL_BYTES else 1
    bounds = [total * i // pieces for i in range(pieces + 1)]
    futures = [_pool().submit(work, a, b) for a, b in zip(bounds[1:-1], bounds[2:])]
    work(bounds[0], bounds[1])
    for f in futures:
        f.result()
