"""A claim back with the supplier is never overdue on the day a command looks at.

The stopped clock (basis returned) was counted from a resubmission *today*, the real clock: a
report run ``--as-of`` a day more than 30 days after today showed the claim overdue, with
interest and a reminder. Now the one rule (claims.collections.due._row_due) counts it from a
resubmission on the later of today and the command's as-of day, so every command agrees.
Worked by hand: issued Jan 10 2026 (accepted Jan 17), returned Feb 3, 30 payment days; as of
Mon Jun 3 2030 (after today) the earliest due date is Jun 3 + 30 = Wed Jul 3 2030 (a business
day): not overdue, no interest, no reminder. Before, it fell due 30 days after today.

With ``--as-of`` the machine's clock plays no part: as of a day *before* today the stopped
clock counts from that day, not from today (it used the later of the two, so a report for a
past day changed with the day it was run on).
"""

from __future__ import annotations

import json
from datetime import UTC, date, datetime, timedelta
from typing import Any

from sqlalchemy import text

from claims.collections.dunning.plan import config_of
from claims.collections.due import ensure_due_dates
from claims.core.models import ClaimStatus
from claims.forecast.queries import load_ledger
from claims.workspace import Workspace
from tests.collections.conftest import at, customer, submitted_claim, write_config

D = date
AGENCY = {"Ministry of Works": {"rule": "prompt-payment", "interest_rate_percent": "4.625"}}
AS_OF = "2030-06-03"


def _json(result: Any) -> Any:
    assert result.exit_code == 0, result.output
    return json.loads(result.stdout)


def _returned_on_feb_3(ws: Workspace) -> None:
    """MW-1 (USD 10,000 to the Ministry of Works) submitted Jan 12 2026, returned Feb 3."""
    write_config(ws, None, agencies=AGENCY)
    claim = submitted_claim(ws, "MW-1", "Ministry of Works", issued=D(2026, 1, 10),
                            submitted=D(2026, 1, 12), total="10000.00")
    customer(ws, "Ministry of Works", "ap@mow.test")
    ws.store.record_event(claim, "status.changed", status=ClaimStatus.RETURNED)
    with ws.store.engine.begin() as conn:
        conn.execute(text("UPDATE claim_events SET at = :t WHERE claim_id = :c AND "
                          "status = 'RETURNED'"), {"t": at(D(2026, 2, 3)), "c": claim})


def test_a_returned_claim_is_not_overdue_as_of_a_day_after_today(cli: Any, ws: Workspace,
                                                                 smtp_server: Any) -> None:
    assert datetime.now(UTC).date() < D(2030, 5, 1)  # the as-of day is after today
    _returned_on_feb_3(ws)
    [item] = _json(cli("followup", "receivables", "--as-of", AS_OF, "--json"))
    assert item["due_date"] == "2030-07-03" and item["interest"] == "0.00"
    assert item["days_overdue"] <= 0
    # listed, if at all, for the claim stuck with the supplier, never for anything overdue
    for account in _json(cli("worklist", "--as-of", AS_OF, "--json"))["accounts"]:
        assert account["overdue"] == {} and account["days_overdue"] == 0
        assert account["interest_owed"] == {}
    preview = _json(cli("followup", "preview", "--as-of", AS_OF, "--json"))
    assert "MW-1" not in json.dumps(preview)
    assert smtp_server.messages == []
    # a command without --as-of counts from today again: the row is made each run
    [today] = _json(cli("followup", "receivables", "--json"))
    due = D.fromisoformat(today["due_date"])
    now = datetime.now(UTC).date()
    assert now + timedelta(days=30) <= due <= now + timedelta(days=34)
    assert today["interest"] == "0.00"


def test_a_returned_claim_as_of_a_past_day_counts_from_that_day_not_today(
        cli: Any, ws: Workspace, smtp_server: Any) -> None:
    """Returned Feb 3 2026; as of Fri Apr 17 2026 (before today) a resubmission that day is
    due Apr 17 + 30 = Sun May 17 → Mon May 18 2026 (the federal calendar), whatever today is.
    Before, the later of today and Apr 17 was used: 30 days after the day the test ran."""
    assert datetime.now(UTC).date() > D(2026, 4, 17)  # the as-of day is before today
    _returned_on_feb_3(ws)
    [item] = _json(cli("followup", "receivables", "--as-of", "2026-04-17", "--json"))
    assert item["due_date"] == "2026-05-18" and item["interest"] == "0.00"
    assert item["days_overdue"] <= 0
    [again] = _json(cli("followup", "receivables", "--as-of", "2026-05-20", "--json"))
    # May 20 + 30 = Fri Jun 19, Juneteenth (a federal holiday) → Mon Jun 22
    assert again["due_date"] == "2026-06-22"


def test_a_replay_as_of_past_days_uses_the_due_date_that_stood_on_each(ws: Workspace) -> None:
    """The backtest loads the ledger once (as of today) and replays past days. For a claim the
    agency still has back, every past day read the stopped clock counted from *today*: a due
    date no one could have known then. Now each day reads the one that stood on it, worked by
    hand (the federal calendar; acceptance 7 days, payment 30):

    - Jan 11 2026, before the claim reached the agency: the invoice's own, issue + 30 days =
      Mon Feb 9;
    - Jan 20, received Jan 12: accepted Jan 17 + 30 = Mon Feb 16, Washington's Birthday →
      Tue Feb 17 (statutory);
    - Apr 17, returned Feb 3: a resubmission that day, Apr 17 + 30 = Sun May 17 → Mon May 18;
    - today: today's stopped clock, as every other command counts it."""
    _returned_on_feb_3(ws)
    config = config_of(ws)
    ensure_due_dates(ws.store.engine, config, None)
    ledger = load_ledger(ws.store.engine, config)

    def due_on(day: date) -> date:
        [(item, _)] = ledger.open_items(day)
        return item.due_date

    assert due_on(D(2026, 1, 11)) == D(2026, 2, 9)
    assert due_on(D(2026, 1, 20)) == D(2026, 2, 17)
    assert due_on(D(2026, 4, 17)) == D(2026, 5, 18)
    assert due_on(D(2026, 5, 20)) == D(2026, 6, 22)  # Juneteenth → Mon Jun 22, as above
    now = datetime.now(UTC).date()
    assert now + timedelta(days=30) <= due_on(now) <= now + timedelta(days=34)
    # statutory interest runs from the statutory due date only, never from the others
    assert [ledger.open_items(d)[0][0].statutory_agency for d in
            (D(2026, 1, 11), D(2026, 1, 20), D(2026, 4, 17))] == [None, "Ministry of Works", None]
