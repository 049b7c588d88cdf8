"""Let the process keep memory it frees, so that NumPy's fresh temporaries do not page-fault.

Every NumPy operation allocates its result with ``malloc``. A training step keeps its
forward activations alive until the backward pass, then frees them all at once. glibc
returns such a large freed stretch at the top of its heap to the kernel (and serves
blocks above its mmap threshold with fresh pages), so the next step touches brand-new
pages again: one page fault per 4 KiB, every step. On a small virtual machine a fault
costs about 2 us, which is nearly half of a small CNN's training step. Raising glibc's
mmap threshold to its maximum (32 MiB) and its trim threshold to 1 GiB makes it reuse
the freed blocks instead, much as PyTorch's caching allocator reuses its tensors' memory.
The price: up to 1 GiB of memory the process has freed stays mapped to it.

Only glibc (Linux) has these switches; elsewhere :func:`keep_freed_memory` does nothing
and returns ``False``.
"""
from __future__ import annotations

import ctypes
import ctypes.util
import sys
from typing import Any

# mallopt(3) parameters, our settings and glibc's initial ones.
_M_TRIM_THRESHOLD, _M_MMAP_THRESHOLD = -1, -3
_KEPT = {_M_MMAP_THRESHOLD: 32 << 20, _M_TRIM_THRESHOLD: 1 << 30}
_DEFAULT = {_M_MMAP_THRESHOLD: 128 << 10, _M_TRIM_THRESHOLD: 128 << 10}


def _glibc() -> Any:
    """The C library when it is glibc (it has ``mallopt`` and ``gnu_get_libc_version``), else ``None``."""
    if not sys.platform.startswith("linux"):
        return None
    try:
        libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6")
    except OSError:
        return None
    if not hasattr(libc, "gnu_get_libc_version") or not hasattr(libc, "mallopt"):
        return None
    return libc


def keep_freed_memory(enable: bool) -> bool:
    """Make glibc keep freed memory for reuse (``True``) or return it eagerly (``False``).

    ``False`` restores glibc's initial thresholds (128 KiB), though not its habit of
    raising them as the program runs, which any explicit setting turns off. Returns
    whether the allocator now keeps freed memory: always ``False`` without glibc.
    """
    libc = _glibc()
    if libc is None:
        return False
    settings = _KEPT if enable else _DEFAULT
    applied = all(libc.mallopt(param, value) == 1 for param, value in settings.items())
    return bool(enable and applied)
