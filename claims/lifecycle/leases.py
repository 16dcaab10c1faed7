"""Leases: one worker holds a claim at a time, across processes and machines.

On PostgreSQL the next free claim is taken with ``SELECT … FOR UPDATE SKIP LOCKED``, so any
number of workers never take the same claim; on SQLite the take is one ``BEGIN IMMEDIATE``
write transaction (SQLite serialises writers). A lease expires, so a crashed worker's claim is
taken up again — and because its status then says SUBMITTING or UNKNOWN, the new holder
reconciles on the portal before anything else.

A lease cannot lapse under a live worker, and a worker that lost one cannot act as its holder:

- every take adds one to the claim's ``lease_version`` (a fencing token); the holder knows
  (owner, version);
- a :class:`Heartbeat` thread renews the lease every third of its length while the worker works
  on the claim; when a renewal finds the lease gone (taken over after a pause longer than the
  lease) it marks it lost, and the worker stops at its next check;
- the write that matters (the SUBMITTING intent before the final click) is fenced: it renews
  ``WHERE id AND lease_owner AND lease_version`` in the same transaction and writes nothing
  when no row matches (:class:`~claims.errors.LeaseLost`).
"""

from __future__ import annotations

import functools
import os
import socket
import threading
import time
import uuid
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from sqlalchemy import Connection, Engine, Select, bindparam, or_, select, update
from sqlalchemy.exc import SQLAlchemyError

from claims.core.models import Claim
from claims.errors import LeaseLost, StoreError
from claims.store import Fence, brief_claim
from claims.store.tables import ClaimRow, utcnow

DEFAULT_TTL = timedelta(minutes=10)


def worker_id() -> str:
    """host:pid:random — unique per worker process."""
    return f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:6]}"


@dataclass
class Lease:
    """A held lease: the claim, its holder and the fencing token it was taken with."""

    claim_id: int
    owner: str
    version: int
    ttl: timedelta = DEFAULT_TTL
    #: monotonic time by which the lease, as last renewed, runs out (this process's view)
    deadline: float = field(default=0.0)
    #: the claim's submission attempts when the lease was taken (read in the same transaction;
    #: only the lease holder's fenced intent changes it)
    attempts: int = 0
    #: given back already (with the claim's last write), so no separate release is needed
    released: bool = False
    #: the claim as read in the transaction that took the lease (``take_lease(read=True)``),
    #: without its documents and history
    claim: Claim | None = None

    def fence(self) -> Fence:
        """What a fenced write compares (and the expiry it renews to)."""
        return Fence(self.owner, self.version, utcnow() + self.ttl)


@contextmanager
def _database() -> Iterator[None]:
    """A database error here is one clear StoreError, like everywhere else."""
    try:
        yield
    except SQLAlchemyError as err:
        raise StoreError(f"database error while handling a lease: {err}") from err


@functools.lru_cache(maxsize=16)
def _next_free(only: bool, exclude: bool, for_update: bool) -> Select[tuple[int]]:
    """:func:`take_lease`'s query, built once per shape (it runs once per claim submitted):
    the lowest id in ``statuses`` whose lease is free at ``now`` (and in ``only``, not in
    ``exclude``), all bound at execution."""
    free = or_(ClaimRow.lease_owner.is_(None),
               ClaimRow.lease_expires_at < bindparam("now", type_=ClaimRow.lease_expires_at.type))
    query = (select(ClaimRow.id).where(ClaimRow.status.in_(bindparam("statuses", expanding=True)),
                                       free).order_by(ClaimRow.id).limit(1))
    if only:
        query = query.where(ClaimRow.id.in_(bindparam("only", expanding=True)))
    if exclude:
        query = query.where(ClaimRow.id.not_in(bindparam("exclude", expanding=True)))
    return query.with_for_update(skip_locked=True) if for_update else query


_TAKE = (update(ClaimRow).where(ClaimRow.id == bindparam("claim_id"))
         .values(lease_owner=bindparam("owner"),
                 lease_expires_at=bindparam("until", type_=ClaimRow.lease_expires_at.type),
                 lease_version=ClaimRow.lease_version + 1))
_TAKE_RETURNING = _TAKE.returning(ClaimRow.lease_version, ClaimRow.attempts)
_LEASE_ROW = select(ClaimRow.lease_version, ClaimRow.attempts).where(
    ClaimRow.id == bindparam("claim_id"))


def take_lease(engine: Engine, owner: str, statuses: Iterable[str], *,
               only: Iterable[int] | None = None, exclude: Iterable[int] = (),
               ttl: timedelta = DEFAULT_TTL, read: bool = False) -> Lease | None:
    """Lease the lowest-numbered free claim in ``statuses`` (and ``only``, not ``exclude``);
    ``read``: with the claim as it is once leased (``Lease.claim``, read in the same
    transaction, so a worker needs no second one to read it)."""
    started = time.monotonic()
    now = utcnow()
    params: dict[str, object] = {"statuses": list(statuses), "now": now}
    excluded = list(exclude)
    if only is not None:
        # the ids asked for, less those excluded: one short IN list, not an IN and a NOT IN
        # growing with every claim a run has handled
        left = set(excluded)
        params["only"] = [i for i in only if i not in left]
        excluded = []
        if not params["only"]:
            return None
    if excluded:
        params["exclude"] = excluded
    sqlite = engine.dialect.name == "sqlite"
    query = _next_free(only is not None, bool(excluded), not sqlite)
    with _database(), engine.connect() as conn:
        if sqlite:
            conn.exec_driver_sql("BEGIN IMMEDIATE")
        else:
            conn.begin()
        claim_id = conn.execute(query, params).scalar()
        version = attempts = claim = None
        if claim_id is not None:
            version, attempts = _lease_row(conn, claim_id, owner, now + ttl)
            claim = brief_claim(conn, claim_id) if read else None
        conn.commit()
    if claim_id is None:
        return None
    return Lease(claim_id, owner, version, ttl, started + ttl.total_seconds(), attempts or 0,
                 claim=claim)


def _lease_row(conn: Connection, claim_id: int, owner: str, until: datetime) -> tuple[int, int]:
    """Take ``claim_id``'s lease (in the caller's transaction); returns the new fencing token and
    the claim's attempts: one ``UPDATE … RETURNING`` where the database has it (SQLite 3.35+,
    PostgreSQL), else the update and a select."""
    params = {"claim_id": claim_id, "owner": owner, "until": until}
    if conn.dialect.update_returning:
        version, attempts = conn.execute(_TAKE_RETURNING, params).one()
    else:
        conn.execute(_TAKE, params)
        version, attempts = conn.execute(_LEASE_ROW, {"claim_id": claim_id}).one()
    return int(version), int(attempts or 0)


def take_next(engine: Engine, owner: str, statuses: Iterable[str], *,
              only: Iterable[int] | None = None, exclude: Iterable[int] = (),
              ttl: timedelta = DEFAULT_TTL) -> int | None:
    """The id of the claim :func:`take_lease` leased, or None."""
    lease = take_lease(engine, owner, statuses, only=only, exclude=exclude, ttl=ttl)
    return lease.claim_id if lease else None


def renew(engine: Engine, lease: Lease) -> bool:
    """Extend ``lease`` by its ttl if this worker still holds it (same owner and version)."""
    started = time.monotonic()
    fence = lease.fence()
    with _database(), engine.begin() as conn:
        result = conn.execute(update(ClaimRow).where(ClaimRow.id == lease.claim_id,
                                                     ClaimRow.lease_owner == fence.owner,
                                                     ClaimRow.lease_version == fence.version)
                              .values(lease_expires_at=fence.until))
    if result.rowcount == 1:
        lease.deadline = started + lease.ttl.total_seconds()
        return True
    return False


def holder(engine: Engine, claim_id: int) -> tuple[str, datetime] | None:
    """Who holds ``claim_id``'s lease and until when (None when it is free)."""
    with _database(), engine.connect() as conn:
        row = conn.execute(select(ClaimRow.lease_owner, ClaimRow.lease_expires_at)
                           .where(ClaimRow.id == claim_id)).first()
    if row is None or row[0] is None or row[1] is None or row[1] < utcnow():
        return None
    return row[0], row[1]


def release(engine: Engine, claim_id: int, owner: str) -> None:
    """Give the lease back (only if we still hold it)."""
    with _database(), engine.begin() as conn:
        conn.execute(update(ClaimRow).where(ClaimRow.id == claim_id,
                                            ClaimRow.lease_owner == owner)
                     .values(lease_owner=None, lease_expires_at=None))


class Heartbeat:
    """Renews a lease every ``ttl/3`` in a daemon thread while the worker works on its claim.

    ``with Heartbeat(engine, lease) as beat: … beat.check()``: :meth:`check` raises
    :class:`LeaseLost` once a renewal found the lease taken over, or once this process's own
    clock says the lease ran out without a renewal (a paused process, an unreachable database).

    One heartbeat serves a worker's claims one after another (one thread per worker, not per
    claim): ``Heartbeat(engine, ttl=…)``, then :meth:`watch` each new lease (``None`` between
    claims). A renewal that fails for a lease the worker has moved on from marks nothing.
    """

    def __init__(self, engine: Engine, lease: Lease | None = None, *,
                 ttl: timedelta | None = None) -> None:
        if lease is None and ttl is None:
            raise ValueError("a heartbeat needs a lease or a ttl")
        self.engine, self.lease = engine, lease
        self.interval = (ttl or lease.ttl).total_seconds() / 3  # type: ignore[union-attr]
        self.lost = threading.Event()
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True, name="lease-heartbeat")

    def watch(self, lease: Lease | None) -> None:
        """Renew ``lease`` from now on (None: no claim held); forgets the last one's loss."""
        with self._lock:
            self.lease = lease
            self.lost.clear()

    def _run(self) -> None:
        while not self._stop.wait(self.interval):
            lease = self.lease
            if lease is None or lease.released:
                continue
            try:
                renewed = renew(self.engine, lease)
            except StoreError:
                continue  # the database is away: retry; check() trusts only the deadline
            if not renewed:
                with self._lock:
                    if self.lease is lease:
                        self.lost.set()

    def check(self) -> None:
        lease = self.lease
        if lease is None:
            return
        if self.lost.is_set():
            raise LeaseLost(lease.claim_id, lease.owner, "a renewal found it taken")
        if time.monotonic() >= lease.deadline:
            raise LeaseLost(lease.claim_id, lease.owner, "it ran out unrenewed")

    def __enter__(self) -> Heartbeat:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()
