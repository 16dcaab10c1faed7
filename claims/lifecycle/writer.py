"""A worker's background writer: the writes that need not come before its next portal request.

A filed claim's last write (``submission.finished``: its evidence, SUBMITTED with the portal's
reference, the lease given back; ``claims.lifecycle.submission._finished``) decides nothing that
is sent afterwards: the intent before that claim's final request is what never-twice rests on,
and it is durable already. So a worker hands that write here and goes on with its next claim:
the write runs while the next claim's files are on their way to the portal (network waits), not
in front of them. Two rules keep it as safe as writing it in line:

- the worker's next fenced intent waits for it (:meth:`Writer.settle`), so at most one claim's
  last write is outstanding, and writes of one worker never wait on each other's locks;
- the claim's outcome is reported only once its write is done (the task reports it).

A process killed before the write is done leaves what a kill right after the portal's answer
always left: the claim SUBMITTING under a lease that runs out, reconciled by a lookup on the
portal, never filed again.
"""

from __future__ import annotations

from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor


class Writer:
    """One background thread running a worker's deferred writes in order."""

    def __init__(self) -> None:
        self._pool: ThreadPoolExecutor | None = None
        self._pending: list[Future[None]] = []

    def start(self, task: Callable[[], None]) -> None:
        """Run ``task`` in the background (after those started before it). ``task`` handles
        its own errors: one raised here is raised again by :meth:`settle`."""
        if self._pool is None:
            self._pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="claim-writer")
        self._pending.append(self._pool.submit(task))

    def settle(self) -> None:
        """Wait until every task started is done."""
        pending, self._pending = self._pending, []
        for future in pending:
            future.result()

    def close(self) -> None:
        """Wait for the tasks, then stop the thread."""
        try:
            self.settle()
        finally:
            if self._pool is not None:
                self._pool.shutdown(wait=True)
                self._pool = None
