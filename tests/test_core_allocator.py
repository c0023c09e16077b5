"""keep_freed_memory: a training step's freed arrays stay mapped for the next one (glibc only).

Always in a subprocess: the setting is process-wide, and the test process keeps glibc's defaults."""

from __future__ import annotations

import subprocess
import sys

import pytest

# Five 4 MB arrays written and freed, ten times: glibc's adaptive thresholds (mmap 4 MB after the
# first free, trim 8 MB) hand the 20 MB back to the kernel each time and take it back one page
# fault per 4 KB page; with keep_freed_memory() the pages stay.
CYCLES = """
import resource, sys
import numpy as np
from guicnn.core.allocator import keep_freed_memory
applied = keep_freed_memory() if sys.argv[1] == "keep" else None
assert applied is None or keep_freed_memory() is applied  # a second call changes nothing
def cycle():
    arrays = [np.empty(1 << 20, np.float32) for _ in range(5)]
    for a in arrays:
        a.fill(1.0)
    del arrays
cycle(); cycle()
before = resource.getrusage(resource.RUSAGE_SELF).ru_minflt
for _ in range(10):
    cycle()
print(applied, (resource.getrusage(resource.RUSAGE_SELF).ru_minflt - before) // 10)
"""


def _faults_per_cycle(mode: str) -> tuple[str, int]:
    result = subprocess.run([sys.executable, "-c", CYCLES, mode], capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr
    applied, faults = result.stdout.split()
    return applied, int(faults)


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="glibc's malloc only")
def test_freed_arrays_are_reused_without_page_faults():
    applied, faults = _faults_per_cycle("keep")
    if applied != "True":
        pytest.skip("this C library has no mallopt (not glibc)")
    assert faults < 100, f"{faults} page faults per cycle of five 4 MB arrays"  # 3,044 here without it
