"""JAX under ``jax.jit``: the functions of ``_impl_jax.py``, each timed call one compiled
computation (a whole training step, forward + backward + update). Compilation happens
in the check, before any timing."""
from __future__ import annotations

import jax

from benchmarks._impl_jax import configure as configure
from benchmarks._impl_jax import make_workloads
from benchmarks._impl_jax import versions as versions

WORKLOADS = make_workloads(jax.jit)
