"""Global switches, read by the engine; set them with ``funcnn.config.update(name, value)``."""
from __future__ import annotations

import os
from typing import Any

from funcnn._src import memory


class Config:
    """Engine options.

    ``debug_nans``: raise at the first primitive whose result is NaN/Inf.
    ``log_compiles``: log (``logging.getLogger("funcnn.jit")``, level WARNING) each time a
    ``jit``-compiled function traces, with the reason (first call, or what changed).
    ``keep_freed_memory``: glibc keeps memory the process frees for reuse, so the
    temporaries of each training step do not page-fault again (see ``docs/design.md``).
    On by default where glibc is the C library; ``FUNCNN_KEEP_FREED_MEMORY=0`` in the
    environment leaves the allocator alone. It reads ``False`` where it cannot apply.
    """

    def __init__(self) -> None:
        self.debug_nans = False
        self.log_compiles = False
        self.keep_freed_memory = os.environ.get("FUNCNN_KEEP_FREED_MEMORY", "1") != "0" and \
            memory.keep_freed_memory(True)

    def update(self, name: str, value: Any) -> None:
        """Set option ``name`` to ``value``; an unknown name raises ``AttributeError``.

        >>> import funcnn
        >>> funcnn.config.update("debug_nans", False)
        """
        if name not in vars(self):
            known = ", ".join(sorted(vars(self)))
            raise AttributeError(f"funcnn.config has no option {name!r}; known options: {known}")
        if name == "keep_freed_memory":
            value = memory.keep_freed_memory(bool(value))
        setattr(self, name, value)

    def __repr__(self) -> str:
        items = ", ".join(f"{k}={v!r}" for k, v in sorted(vars(self).items()))
        return f"Config({items})"


config = Config()
