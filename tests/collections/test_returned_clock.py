"""Prompt payment: a claim the agency returned stops the clock; its resubmission starts it again.

The due date was made once from the claim's first SUBMITTED event: a RETURNED claim kept
accruing late-payment interest and got reminders, and its resubmission was counted late from
the first submission. 5 CFR 1315.9: an improper invoice is returned and the payment clock runs
from the receipt of the proper one (docs/kpis.md, "Due dates", rule 2).
"""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from decimal import Decimal

from sqlalchemy import text

from claims.collections.dunning.plan import config_of
from claims.collections import dunning, worklist
from claims.collections.due import ensure_due_dates
from claims.core.due import StatutoryRule, business_calendar, computed_due
from claims.core.models import ClaimStatus
from claims.forecast.queries import load_ledger
from claims.store.tables import InvoiceRow
from claims.store.tables.collections import ScheduleRow
from claims.workspace import Workspace
from tests.collections.conftest import at, customer, submitted_claim, write_config

D = date
AGENCY = {"Ministry of Works": {"rule": "prompt-payment", "interest_rate_percent": "4.625"}}


def schedule(ws: Workspace, number: str) -> tuple[str, date]:
    ensure_due_dates(ws.store.engine, config_of(ws))
    with ws.store.session() as s:
        [row] = (s.query(ScheduleRow).join(InvoiceRow, InvoiceRow.id == ScheduleRow.invoice_id)
                 .filter(InvoiceRow.number == number).all())
        return row.basis, row.due_date


def resubmit(ws: Workspace, claim_id: int, day: date) -> None:
    ws.store.record_event(claim_id, "submitted", status=ClaimStatus.SUBMITTED)
    with ws.store.engine.begin() as conn:
        conn.execute(text("UPDATE claim_events SET at = :t WHERE id = (SELECT MAX(id) FROM "
                          "claim_events WHERE claim_id = :c)"), {"t": at(day), "c": claim_id})


def test_a_returned_claim_is_not_due_and_its_resubmission_starts_the_clock(
        ws: Workspace, smtp_server) -> None:
    write_config(ws, None, agencies=AGENCY)
    # issued Jan 10, submitted Jan 12 → due Feb 16, Presidents' Day → Feb 17 (as before)
    claim = submitted_claim(ws, "MW-1", "Ministry of Works", issued=D(2026, 1, 10),
                            submitted=D(2026, 1, 12), total="10000.00")
    customer(ws, "Ministry of Works", "ap@mow.test")
    assert schedule(ws, "MW-1") == ("statutory", D(2026, 2, 17))
    # returned for correction on Feb 3: the clock stopped; as of Apr 17 (59 days after the old
    # due date: 75.94 of interest before) nothing is due, no interest, no reminder
    ws.store.record_event(claim, "status.changed", status=ClaimStatus.RETURNED)
    with ws.store.engine.begin() as conn:
        conn.execute(text("UPDATE claim_events SET at = :t WHERE claim_id = :c AND "
                          "status = 'RETURNED'"), {"t": at(D(2026, 2, 3)), "c": claim})
    basis, due = schedule(ws, "MW-1")
    # counted from a resubmission today at the earliest: today + 30 days or later
    assert basis == "returned" and due >= datetime.now(UTC).date() + timedelta(days=30)
    day = D(2026, 4, 17)
    assert worklist.worklist(ws, day) == []  # no account to work on: nothing overdue
    [entry] = worklist.receivables(ws, day, customer="Ministry of Works")
    assert entry["interest"] == "0.00" and entry["claim_status"] == "RETURNED"
    assert dunning.plan_messages(ws, day) == []
    assert dunning.run(ws, day).sent == [] and smtp_server.messages == []
    # resubmitted Apr 1: due 30 days after the new receipt, May 1 2026 (a Friday), not Feb 17
    resubmit(ws, claim, D(2026, 4, 1))
    assert schedule(ws, "MW-1") == ("statutory", D(2026, 5, 1))
    assert ensure_due_dates(ws.store.engine, config_of(ws)) == 0  # made once, not every run
    [entry] = worklist.receivables(ws, D(2026, 4, 17), customer="Ministry of Works")
    assert entry["due_date"] == D(2026, 5, 1) and entry["interest"] == "0.00"
    # as of Jun 15: 45 days late: 10,000 × (1.0038541667 × (1 + 0.04625 × 15/360) − 1) = 57.89
    [mow] = worklist.worklist(ws, D(2026, 6, 15))
    assert mow.interest == {"USD": Decimal("57.89")}
    # the forecast reads the same due date and the receipt it was made from
    [item] = [i for i in load_ledger(ws.store.engine, config_of(ws)).items
              if i.number == "MW-1"]
    assert item.due_date == D(2026, 5, 1) and item.known_from == D(2026, 4, 1)


def test_the_one_rule_counts_a_stopped_clock_from_the_day_and_a_receipt_first() -> None:
    """computed_due by hand: issued Jan 10 (accepted Jan 17), 30 payment days."""
    rule = StatutoryRule(acceptance_days=7, payment_days=30)
    federal = business_calendar("us-federal", years=[2026])
    # back with the supplier on Apr 17: a resubmission that day is due May 17, a Sunday → 18
    assert computed_due(D(2026, 1, 10), rule=rule, returned_on=D(2026, 4, 17),
                        business_days=federal) == (D(2026, 5, 18), "returned")
    # before the deemed acceptance the acceptance counts: Jan 17 + 30 = Feb 16 → Feb 17
    assert computed_due(D(2026, 1, 10), rule=rule, returned_on=D(2026, 1, 12),
                        business_days=federal) == (D(2026, 2, 17), "returned")
    # a receipt (the resubmission) is the clock's start; without a rule neither counts
    assert computed_due(D(2026, 1, 10), rule=rule, received=D(2026, 4, 1),
                        returned_on=D(2026, 4, 17)) == (D(2026, 5, 1), "statutory")
    assert computed_due(D(2026, 1, 10), returned_on=D(2026, 4, 17)) == (
        D(2026, 2, 9), "default")
