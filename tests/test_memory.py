"""``funcnn.config.keep_freed_memory``: glibc reuses freed blocks instead of faulting in fresh pages."""
import subprocess
import sys
import textwrap

import pytest

import funcnn
from funcnn._src import memory

needs_glibc = pytest.mark.skipif(memory._glibc() is None, reason="glibc's mallopt is not available here")

# A training step's pattern: many large arrays alive at once, then all freed together.
# Prints the minor page faults per step after warm-up, and the pages the arrays hold.
STEPS = textwrap.dedent("""
    import resource, sys
    import numpy as np
    import funcnn
    if len(sys.argv) > 1:
        funcnn.config.update("keep_freed_memory", sys.argv[1] == "on")
    x = np.ones((64, 32, 28, 28), np.float32)
    def step():
        live = [x + i for i in range(10)]
        del live
    for _ in range(3):
        step()
    before = resource.getrusage(resource.RUSAGE_SELF).ru_minflt
    for _ in range(20):
        step()
    faults = (resource.getrusage(resource.RUSAGE_SELF).ru_minflt - before) / 20
    print(funcnn.config.keep_freed_memory, faults, 10 * x.nbytes // 4096)
""")


def run_steps(*args, env=None):
    out = subprocess.run([sys.executable, "-c", STEPS, *args], capture_output=True, text=True, check=True,
                         env=env).stdout.split()
    return out[0] == "True", float(out[1]), int(out[2])


@needs_glibc
def test_on_by_default_with_glibc():
    assert funcnn.config.keep_freed_memory is True
    assert "keep_freed_memory=True" in repr(funcnn.config)


@needs_glibc
def test_a_step_of_large_temporaries_faults_in_no_fresh_pages():
    kept, faults, pages = run_steps()
    assert kept
    assert faults < 0.02 * pages  # without it glibc faults most of the pages in again each step


@needs_glibc
def test_turning_it_off_restores_glibc_behaviour():
    kept, faults, pages = run_steps("off")
    assert not kept
    assert faults > 0.1 * pages  # freed memory went back to the kernel and is faulted in again


def test_environment_variable_leaves_the_allocator_alone():
    import os

    env = dict(os.environ, FUNCNN_KEEP_FREED_MEMORY="0")
    kept = subprocess.run([sys.executable, "-c", "import funcnn; print(funcnn.config.keep_freed_memory)"],
                          capture_output=True, text=True, check=True, env=env).stdout.strip()
    assert kept == "False"


def test_update_reports_what_took_effect():
    try:
        funcnn.config.update("keep_freed_memory", False)
        assert funcnn.config.keep_freed_memory is False
        funcnn.config.update("keep_freed_memory", True)
        assert funcnn.config.keep_freed_memory is (memory._glibc() is not None)
    finally:
        funcnn.config.update("keep_freed_memory", True)
