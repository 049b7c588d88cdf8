"""Finding MPI: ``mpi4py`` imported on first use, never at ``import funcnn``, and the
communicators that collectives name by a small integer (a primitive's params must be
hashable, and an ``MPI.Comm`` is not)."""
from __future__ import annotations

from typing import Any

__all__ = ["comm_id", "communicator", "mpi"]

_MISSING = ("funcnn.distributed needs mpi4py and an MPI library, which are not installed: "
            'pip install "funcnn[mpi]" (mpi4py and Open MPI from the package index)')

_communicators: list[Any] = []


def mpi() -> Any:
    """The ``mpi4py.MPI`` module, or an ImportError naming the extra to install."""
    try:
        from mpi4py import MPI
    except ImportError as err:
        raise ImportError(_MISSING) from err
    return MPI


def communicator(comm: Any = None) -> Any:
    """``comm``, or ``MPI.COMM_WORLD`` when it is None."""
    return mpi().COMM_WORLD if comm is None else comm


def comm_id(comm: Any = None) -> int:
    """A small integer standing for ``comm`` in a primitive's params."""
    comm = communicator(comm)
    for i, known in enumerate(_communicators):
        if known is comm:
            return i
    _communicators.append(comm)
    return len(_communicators) - 1


def by_id(index: int) -> Any:
    """The communicator that :func:`comm_id` numbered ``index``."""
    return _communicators[index]
