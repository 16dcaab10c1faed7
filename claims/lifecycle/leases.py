"""Leases: one worker holds a claim at a time, across processes and machines.

On PostgreSQL the next free claim is taken with ``SELECT … FOR UPDATE SKIP LOCKED``, so any
number of workers never take the same claim; on SQLite the take is one ``BEGIN IMMEDIATE``
write transaction (SQLite serialises writers). A lease expires, so a crashed worker's claim is
taken up again — and because its status then says SUBMITTING or UNKNOWN, the new holder
reconciles on the portal before anything else.
"""

from __future__ import annotations

import os
import socket
import uuid
from collections.abc import Iterable
from datetime import datetime, timedelta

from sqlalchemy import Engine, or_, select, update

from claims.store.tables import ClaimRow, utcnow

DEFAULT_TTL = timedelta(minutes=10)


def worker_id() -> str:
    """host:pid:random — unique per worker process."""
    return f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:6]}"


def _free(now: datetime):  # noqa: ANN202 - an SQL expression
    return or_(ClaimRow.lease_owner.is_(None), ClaimRow.lease_expires_at < now)


def take_next(engine: Engine, owner: str, statuses: Iterable[str], *,
              only: Iterable[int] | None = None, exclude: Iterable[int] = (),
              ttl: timedelta = DEFAULT_TTL) -> int | None:
    """Lease the lowest-numbered free claim in ``statuses`` (and ``only``, not ``exclude``)."""
    now = utcnow()
    query = (select(ClaimRow.id).where(ClaimRow.status.in_(list(statuses)), _free(now))
             .order_by(ClaimRow.id).limit(1))
    if only is not None:
        query = query.where(ClaimRow.id.in_(list(only)))
    excluded = list(exclude)
    if excluded:
        query = query.where(ClaimRow.id.not_in(excluded))
    with engine.connect() as conn:
        if engine.dialect.name == "sqlite":
            conn.exec_driver_sql("BEGIN IMMEDIATE")
        else:
            conn.begin()
            query = query.with_for_update(skip_locked=True)
        claim_id = conn.execute(query).scalar()
        if claim_id is not None:
            conn.execute(update(ClaimRow).where(ClaimRow.id == claim_id)
                         .values(lease_owner=owner, lease_expires_at=now + ttl))
        conn.commit()
    return claim_id


def release(engine: Engine, claim_id: int, owner: str) -> None:
    """Give the lease back (only if we still hold it)."""
    with engine.begin() as conn:
        conn.execute(update(ClaimRow).where(ClaimRow.id == claim_id,
                                            ClaimRow.lease_owner == owner)
                     .values(lease_owner=None, lease_expires_at=None))
