"""Issue 14, item 7 ("Smaller"): one test per fix, each naming the item it settles."""

from __future__ import annotations

from datetime import UTC, date, datetime
from pathlib import Path
from decimal import Decimal
from types import SimpleNamespace

import pytest
from sqlalchemy import text

from claims.collections import dunning, records
from claims.collections.dunning.render import wording
from claims.collections.due import invoice_dues
from claims.collections.settings import AgencyRule, CollectionsConfig
from claims.payments.matching import Book, MatchSettings, OpenItem, match_line
from claims.payments.parsers import StatementLine
from claims.reports import kpis
from claims.workspace import Workspace
from tests.collections.conftest import SmtpServer, add_invoices, at, pay
from tests.collections.test_dunning import setup_two_customers, text_part

D = date


# -- "the courtesy e-mail says items 'fall due soon' when they are 4–6 days overdue" ----------

def test_item7_wording_follows_the_items_not_the_level() -> None:
    assert wording([-5, -3]) == "due"
    assert wording([0]) == "due"            # due today is not overdue yet
    assert wording([4, 6]) == "overdue"
    assert wording([4, -2]) == "mixed"


def test_item7_a_courtesy_message_to_overdue_items_does_not_say_they_fall_due_soon(
        ws: Workspace, smtp_server: SmtpServer) -> None:
    setup_two_customers(ws)
    # 5 March: A-1 (due 1 March) is 4 days overdue, A-2 is due today; W-1 3 days overdue —
    # every item's first level is the courtesy one (−5 days), never sent before
    result = dunning.run(ws, D(2026, 3, 5))
    assert result.ok
    by_to = {m["To"]: m for m in smtp_server.messages}
    acme = by_to["ap@acme.test"]
    assert acme["X-Claimwright-Level"] == "courtesy"
    body = " ".join(text_part(acme).split())
    assert "fall due soon:" not in body.replace("the others fall due soon:", "")
    assert "some of the following items are overdue and the others fall due soon" in body
    assert not acme["Subject"].startswith("Upcoming payments")
    water = " ".join(text_part(by_to["finance@mow.gov.test"]).split())
    assert "تستحق قريبًا" not in water and "متأخرة السداد" in water


# -- "a promise pauses reminders for items due before the promise was made" ------------------

def test_item7_a_promise_covers_the_items_open_when_it_was_made_not_later_ones(
        ws: Workspace, smtp_server: SmtpServer) -> None:
    setup_two_customers(ws)
    records.add_promise(ws.store, "Acme Corp", amount=Decimal("1200.00"), currency="USD",
                        promised_date=D(2026, 3, 20), promised_by="J. Doe (AP)",
                        channel="call", actor="maria", at=at(D(2026, 3, 10)))
    # issued after the promise was made: the promise was not about it
    add_invoices(ws, "Acme Corp", [("A-3", D(2026, 3, 11), D(2026, 3, 16), "300.00")])
    # another currency: not the balance the promise named
    add_invoices(ws, "Acme Corp", [("A-E", D(2026, 2, 1), D(2026, 3, 2), "80.00")],
                 currency="EUR")
    dunning.run(ws, D(2026, 3, 12))
    acme = [m for m in smtp_server.messages if m["To"] == "ap@acme.test"]
    bodies = " ".join(text_part(m) for m in acme)
    assert "A-3" in bodies and "A-E" in bodies          # reminded as usual
    assert "A-1" not in bodies and "A-2" not in bodies  # covered by the unbroken promise


# -- "the receipt date is the UTC date, not the agency's" -------------------------------------

def _row(received: datetime) -> SimpleNamespace:
    return SimpleNamespace(issue_date=D(2026, 2, 1), due_date=None, total=1_000_000,
                           currency="USD", agency="DOT", received=received)


@pytest.mark.parametrize("zone, due", [("America/New_York", D(2026, 4, 1)),
                                       ("UTC", D(2026, 4, 2))])
def test_item7_the_receipt_is_dated_on_the_agencys_calendar_day(zone: str, due: date) -> None:
    config = CollectionsConfig(agencies={"DOT": AgencyRule(
        rule="prompt-payment", payment_days=30, acceptance_days=7, calendar="none",
        timezone=zone)})
    # 04:30 UTC on 3 March is 23:30 on 2 March in Washington: received on 2 March there
    received = datetime(2026, 3, 3, 4, 30, tzinfo=UTC)
    [only] = invoice_dues(_row(received), config)
    assert only.due_date == due and only.basis == "statutory"


def test_item7_an_unknown_agency_time_zone_is_refused() -> None:
    with pytest.raises(ValueError, match="unknown time zone 'Mars/Olympus'"):
        AgencyRule(timezone="Mars/Olympus")


# -- "match reasons print 66.6700" -----------------------------------------------------------

@pytest.mark.parametrize("paid, reason", [
    ("33.33", "short payment: 66.67 stays open"),
    ("99.50", "0.50 short, within tolerance"),
    ("120.50", "overpaid by 20.50: credit on account")])
def test_item7_match_reasons_print_amounts_at_the_currency_minor_unit(paid: str,
                                                                     reason: str) -> None:
    book = Book([OpenItem(1, "INV-1", 1, "EUR", Decimal("100.0000"), D(2026, 1, 1),
                          D(2026, 2, 1))])  # the store keeps four places
    line = StatementLine("x", D(2026, 3, 1), Decimal(paid), "EUR", reference="INV-1")
    assert reason in match_line(book, line, MatchSettings()).reason
    assert "0000" not in match_line(Book([OpenItem(1, "INV-1", 1, "EUR", Decimal("100.0000"),
                                                   D(2026, 1, 1), D(2026, 2, 1))]),
                                     line, MatchSettings()).reason




# -- "the auto-match rate counts unmatched lines differently from what the docs say" ----------

def test_item7_the_auto_match_rate_has_one_definition_in_docs_and_code() -> None:
    root = Path(__file__).resolve().parents[2]
    row = next(line for line in (root / "docs" / "kpis.md").read_text().splitlines()
               if line.startswith("| Auto-match rate |"))
    assert "unmatched" in row and "kpis._match_rates" in row
    assert "unmatched ones included" in (root / "docs" / "payments.md").read_text()
    assert "unmatched" in (kpis._match_rates.__doc__ or "")
    # the behaviour (5 auto of 7: 1 in review, 1 unmatched → 71.43 %) is asserted in
    # tests/payments/test_cli.py::test_kpi_and_reports


# -- item 6: "two rounding modes then disagree" — records round half-up like everything else --

def test_item6_records_round_half_up_at_the_minor_unit(ws: Workspace) -> None:
    setup_two_customers(ws)
    records.add_promise(ws.store, "Acme Corp", amount=Decimal("10.00"), currency="USD",
                        promised_date=D(2026, 3, 20), promised_by="J. Doe", channel="email",
                        actor="maria", at=at(D(2026, 3, 10)))
    pay(ws, "A-1", "10.00", at(D(2026, 3, 12)))
    with ws.store.engine.begin() as conn:  # the store keeps 1/10,000: 10.0050 after a split
        conn.execute(text("UPDATE payment_applications SET amount = amount + 50 "
                          "WHERE amount = 100000"))
    [state] = records.promise_states(ws.store, D(2026, 3, 25))
    assert state.paid_since == Decimal("10.01")  # half-up (banker's rounding gave 10.00)
