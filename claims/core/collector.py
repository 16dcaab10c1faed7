"""The cyclic garbage collector paused around work that makes many short-lived objects.

A computation that builds tens or hundreds of thousands of small acyclic objects (rows,
amounts, accounts) and frees them by reference counting gains nothing from the cyclic
collector, yet allocating them triggers its collections, each walking every object alive
(the worklist: ~55 of ~250 ms at 100,000 invoices). Objects still alive when the collector is
switched back on are walked by its next collection, so what is only needed inside the block
should be freed inside it.
"""

from __future__ import annotations

import gc
from collections.abc import Iterator
from contextlib import contextmanager


@contextmanager
def collector_paused() -> Iterator[None]:
    """The cyclic garbage collector off for the block, then back as it was (also when the
    block raises). Another thread's block never switches it back on early for this one: only
    a block that found it on switches it on again."""
    was = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was:
            gc.enable()
