"""Peak memory of the current process, as tests and benchmarks measure it."""

from __future__ import annotations

import resource
from pathlib import Path


def peak_rss_mb() -> float:
    """This process's peak resident set size in MiB.

    Linux's ``VmHWM`` belongs to the process's own address space, which ``exec`` replaces;
    ``ru_maxrss`` instead survives ``fork``+``exec``, so a child of a large process (pytest after
    hundreds of tests) would report its parent's peak. Elsewhere fall back to ``ru_maxrss``.
    """
    status = Path("/proc/self/status")
    if status.exists():
        for line in status.read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
