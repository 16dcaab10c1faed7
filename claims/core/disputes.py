"""When a dispute is open: the one rule that the worklist, the dunning pauses, the account
view and the KPIs read, so that no two of them disagree about a dispute on an ``--as-of`` date.

A dispute is open on a day when it was opened by the end of that day (UTC) and not resolved by
then: one resolved later was still open that day, one opened later did not exist yet.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta
from typing import Any

#: :func:`open_on` in SQL, on the ``collection_disputes`` row ``{d}``; the day's end is the
#: bind parameter ``:disputes_end`` (:func:`sql_params`).
OPEN_SQL = ("{d}.opened_at < :disputes_end "
            "AND ({d}.resolved_at IS NULL OR {d}.resolved_at >= :disputes_end)")


def day_end(day: date) -> datetime:
    """The first moment after ``day`` (midnight UTC of the next day)."""
    return datetime.combine(day + timedelta(days=1), time(0), tzinfo=UTC)


def open_sql(alias: str = "d") -> str:
    """:data:`OPEN_SQL` for the disputes row called ``alias``."""
    return OPEN_SQL.format(d=alias)


def sql_params(day: date) -> dict[str, Any]:
    """The bind parameters of :data:`OPEN_SQL` for ``day``."""
    return {"disputes_end": day_end(day)}


def _aware(value: Any) -> datetime:
    if isinstance(value, str):
        value = datetime.fromisoformat(value)
    if isinstance(value, datetime):
        return value if value.tzinfo else value.replace(tzinfo=UTC)
    return datetime.combine(value, time(0), tzinfo=UTC)


def open_on(opened_at: Any, resolved_at: Any, day: date) -> bool:
    """Whether a dispute opened at ``opened_at`` and resolved at ``resolved_at`` (None: not
    resolved) was open on ``day``."""
    end = day_end(day)
    return _aware(opened_at) < end and (resolved_at is None or _aware(resolved_at) >= end)
