"""funcnn under ``funcnn.jit``: the functions of ``_impl_funcnn.py``, each timed call one
replay of a compiled plan (a whole training step: forward, backward, update). Compilation
happens in the check, before any timing."""
from __future__ import annotations

import funcnn as fn
from benchmarks._impl_funcnn import configure as configure
from benchmarks._impl_funcnn import make_workloads
from benchmarks._impl_funcnn import versions as versions

WORKLOADS = make_workloads(fn.jit)
