"""When the stored due dates of an invoice go stale: its schedule rows are dropped so that the
one due-date rule (:func:`claims.collections.due.ensure_due_dates`, run before anything reads
due dates) writes them again. Pure SQL on the caller's session or connection."""

from __future__ import annotations

from typing import Any

from sqlalchemy import Connection, bindparam, delete, select
from sqlalchemy.orm import Session

from claims.core.due import CLOCK_STATUSES, COMPUTED_BASES
from claims.store.tables import ClaimRow
from claims.store.tables.collections import ScheduleRow

#: An invoice's fields its due dates and amounts are made from: a change to one of them makes
#: its stored schedule stale. The first three also decide explicit terms' dates and amounts.
_TERMS_FIELDS = ("issue_date", "total", "currency")
_DUE_FIELDS = (*_TERMS_FIELDS, "due_date", "contract_number")


def reschedule_changed(s: Session, changed: dict[int, dict[str, tuple[Any, Any]]]) -> list[int]:
    """Drop the schedule rows a change made stale, so that the one due-date rule
    (:func:`claims.collections.due.ensure_due_dates`, run before anything reads due dates)
    writes them again from the new content: computed rows when a field they are made from
    changed; explicit terms too when the issue date, total or currency changed (their dates
    and amounts were made from the old ones, and the terms themselves are not kept apart).
    ``changed``: invoice id → its differences. Returns the ids whose explicit terms went."""
    computed = [iid for iid, diff in changed.items() if any(f in diff for f in _DUE_FIELDS)]
    terms = [iid for iid, diff in changed.items() if any(f in diff for f in _TERMS_FIELDS)]
    removed: list[int] = []
    for start in range(0, len(terms), 500):
        chunk = terms[start:start + 500]
        removed += s.scalars(select(ScheduleRow.invoice_id).where(
            ScheduleRow.invoice_id.in_(chunk), ScheduleRow.basis.not_in(COMPUTED_BASES))
            .distinct())
        s.execute(delete(ScheduleRow).where(ScheduleRow.invoice_id.in_(chunk)))
    for start in range(0, len(computed), 500):
        s.execute(delete(ScheduleRow).where(ScheduleRow.invoice_id.in_(
            computed[start:start + 500]), ScheduleRow.basis.in_(COMPUTED_BASES)))
    return removed


def reschedule_on_clock(conn: Connection, claim_id: int, status: str | None) -> None:
    """A status that starts or stops the statutory clock (:data:`CLOCK_STATUSES`: the claim
    reached the agency, or the agency returned it) makes the claim's invoice's computed due
    dates stale: they are dropped (explicit terms are kept), in the caller's transaction."""
    if status in CLOCK_STATUSES:
        conn.execute(_DROP_COMPUTED, {"claim_id": claim_id})


#: :func:`reschedule_on_clock`'s statement, built once (it runs once per claim submitted).
_DROP_COMPUTED = delete(ScheduleRow).where(
    ScheduleRow.invoice_id == select(ClaimRow.invoice_id)
    .where(ClaimRow.id == bindparam("claim_id")).scalar_subquery(),
    ScheduleRow.basis.in_(COMPUTED_BASES))
