"""When one process fails, stop them all: an error in one rank would otherwise leave the
others waiting in their next collective forever."""
from __future__ import annotations

import contextlib
import sys
import traceback
from collections.abc import Iterator
from typing import Any

from ._mpi import communicator

__all__ = ["abort_on_error"]


@contextlib.contextmanager
def abort_on_error(comm: Any = None) -> Iterator[None]:
    """Run the block; if it raises on any process (with more than one), print the error with
    the failing rank and call ``MPI.Abort``, which ends every process of the job."""
    c = communicator(comm)
    try:
        yield
    except BaseException:
        if c.Get_size() == 1:
            raise
        sys.stderr.write(f"funcnn.distributed: rank {c.Get_rank()} of {c.Get_size()} failed; aborting all:\n"
                         + traceback.format_exc())
        sys.stderr.flush()
        c.Abort(1)
        raise
