"""A backtest as of a day before a resubmission uses the due date that stood on that day.

The claim of MW-1 reached the agency, was returned, and was resubmitted: its statutory due
date is made from the resubmission. As of a day before it, the ledger used the invoice's own
(default) due date — right before the first submission, but wrong after it: the first
receipt's statutory due date stood then, and while the agency had the claim back the stopped
clock's. Worked by hand (Prompt Payment: acceptance 7 days, 30 payment days, the federal
calendar):

- issued Sat Jan 10 2026: default due Jan 10 + 30 = Mon Feb 9;
- submitted Mon Jan 12: due max(Jan 12, Jan 17) + 30 = Mon Feb 16, Presidents' Day → Tue Feb 17;
- returned Tue Feb 3: as of day d the earliest due is d + 30 (Feb 3 → Thu Mar 5; Mar 10 →
  Thu Apr 9), never overdue;
- resubmitted Wed Apr 1: due Fri May 1 (known from Apr 1 on).
"""

from __future__ import annotations

from datetime import date
from pathlib import Path

from sqlalchemy import text

from claims.collections.due import ensure_due_dates
from claims.collections.dunning.plan import config_of
from claims.core.models import ClaimStatus
from claims.forecast.backtest import baselines
from claims.forecast.history import learn
from claims.forecast.queries import load_ledger
from claims.workspace import init_workspace
from tests.collections.conftest import at, submitted_claim, write_config

D = date
AGENCY = "Ministry of Works"


def _event(ws, claim: int, status: ClaimStatus, day: date) -> None:
    ws.store.record_event(claim, "status.changed", status=status)
    with ws.store.engine.begin() as conn:
        conn.execute(text("UPDATE claim_events SET at = :t WHERE id = (SELECT MAX(id) FROM "
                          "claim_events WHERE claim_id = :c)"), {"t": at(day), "c": claim})


def test_as_of_a_day_before_the_resubmission_the_due_date_of_that_day_stands(
        tmp_path: Path) -> None:
    ws = init_workspace(tmp_path / "ws")
    try:
        write_config(ws, None, agencies={AGENCY: {"rule": "prompt-payment",
                                                  "interest_rate_percent": "4.625"}})
        claim = submitted_claim(ws, "MW-1", AGENCY, issued=D(2026, 1, 10),
                                submitted=D(2026, 1, 12), total="10000.00")
        _event(ws, claim, ClaimStatus.RETURNED, D(2026, 2, 3))
        _event(ws, claim, ClaimStatus.SUBMITTED, D(2026, 4, 1))
        ensure_due_dates(ws.store.engine, config_of(ws))
        ledger = load_ledger(ws.store.engine, config_of(ws))
        (item,) = ledger.items
        assert (item.due_date, item.known_from, item.due_before) == (
            D(2026, 5, 1), D(2026, 4, 1), D(2026, 2, 9))
        known = {day: ledger.open_items(day)[0][0] for day in (
            D(2026, 1, 11), D(2026, 1, 12), D(2026, 1, 20), D(2026, 2, 2), D(2026, 2, 3),
            D(2026, 3, 10), D(2026, 3, 31), D(2026, 4, 1))}
        assert {day: (i.due_date, i.statutory_agency) for day, i in known.items()} == {
            D(2026, 1, 11): (D(2026, 2, 9), None),       # before any receipt: the default
            D(2026, 1, 12): (D(2026, 2, 17), AGENCY),    # the first receipt's, with interest
            D(2026, 1, 20): (D(2026, 2, 17), AGENCY),
            D(2026, 2, 2): (D(2026, 2, 17), AGENCY),
            D(2026, 2, 3): (D(2026, 3, 5), None),        # back with the supplier: stopped
            D(2026, 3, 10): (D(2026, 4, 9), None),
            D(2026, 3, 31): (D(2026, 4, 30), None),      # Mar 31 + 30
            D(2026, 4, 1): (D(2026, 5, 1), AGENCY)}      # the resubmission's
        # the backtest's naive forecast (paid on its due date) as of Jan 20: Feb 17 is 28
        # days on, week 4 (before: Feb 9, week 3); as of Mar 10: Apr 9, week 5 (before:
        # Feb 9, overdue, week 1)
        for day, week in ((D(2026, 1, 20), 4), (D(2026, 3, 10), 5)):
            naive = baselines(ledger, learn(ledger, day), day, 13)["naive"]["USD"]
            assert naive[week - 1] == 10000.0 and sum(naive) == 10000.0, (day, naive)
    finally:
        ws.close()
