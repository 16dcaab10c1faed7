"""A base currency with dated exchange rates: the worklist score and the escalation thresholds
work in it and show the original beside it; what has no rate is listed apart with the reason;
a promise is kept only by payments in its currency. Figures are computed by hand below."""

from __future__ import annotations

from datetime import date
from decimal import Decimal
from pathlib import Path

import pytest

from claims.collections import escalation, rates, records, worklist
from claims.errors import InputError
from claims.workspace import Workspace
from tests.collections.conftest import add_invoices, at, pay, write_config

D = date
AS_OF = D(2026, 6, 30)
RATES = "date,currency,rate\n2026-06-01,USD,3.75\n2026-06-01,JPY,0.025\n2026-06-01,EUR,4.10\n"


def days_before(n: int) -> date:
    return D.fromordinal(AS_OF.toordinal() - n)


@pytest.fixture
def sar(ws: Workspace, tmp_path: Path) -> Workspace:
    write_config(ws, None, base_currency="SAR")
    path = tmp_path / "rates.csv"
    path.write_text(RATES, encoding="utf-8")
    assert rates.import_rates(ws.store, path, "SAR")["added"] == 3
    return ws


def invoice(ws: Workspace, customer: str, number: str, days_late: int, total: str,
            currency: str) -> None:
    due = days_before(days_late)
    add_invoices(ws, customer, [(number, D.fromordinal(due.toordinal() - 30), due, total)],
                 currency)


def test_the_worklist_ranks_in_the_base_currency(sar: Workspace) -> None:
    ws = sar
    invoice(ws, "Tokyo", "JP-1", 10, "3000000", "JPY")     # SAR 75,000:   75.00 +   5 =  80.00
    invoice(ws, "Riyadh", "SA-1", 200, "138000.00", "SAR")  # 138.00 + 100           = 238.00
    invoice(ws, "Boston", "US-1", 60, "30000.00", "USD")    # SAR 112,500: 112.50 + 30 = 142.50
    invoice(ws, "Jeddah", "SA-2", 60, "60000.00", "SAR")    # 60.00 + 30             =  90.00
    invoice(ws, "Zurich", "CH-1", 60, "1000.00", "CHF")     # no rate: 0 + 30         =  30.00
    accounts = worklist.worklist(ws, AS_OF)
    assert [(a.customer, a.score) for a in accounts] == [
        ("Riyadh", Decimal("238.00")), ("Boston", Decimal("142.50")),
        ("Jeddah", Decimal("90.00")), ("Tokyo", Decimal("80.00")),
        ("Zurich", Decimal("30.00"))]
    tokyo = {a.customer: a for a in accounts}["Tokyo"].to_json()
    assert tokyo["overdue"] == {"JPY": "3000000"} and tokyo["overdue_base"] == "75000.00"
    assert tokyo["base_currency"] == "SAR"
    zurich = {a.customer: a for a in accounts}["Zurich"]
    assert zurich.overdue == {"CHF": Decimal("1000.00")}  # never dropped
    assert zurich.unconverted == {
        "CHF": "no CHF→SAR rate on or before 2026-06-30 (claims rates import)"}


def test_escalation_thresholds_are_in_the_base_currency(sar: Workspace) -> None:
    ws = sar
    invoice(ws, "Boston", "US-1", 400, "1400.00", "USD")   # SAR 5,250: legal, not write-off
    invoice(ws, "Tokyo", "JP-1", 400, "15000", "JPY")      # SAR 375: write-off
    invoice(ws, "Zurich", "CH-1", 400, "100.00", "CHF")    # no rate: listed apart
    found = {c.invoice: c for c in escalation.escalation_candidates(ws, AS_OF)}
    assert found["US-1"].action == "legal"
    assert found["US-1"].reasons == [
        "400 days overdue (policy: 120)",
        "open USD 1400.00 = SAR 5250.00 at 3.75 (2026-06-01) ≥ 5000"]
    assert found["JP-1"].action == "write-off"
    assert found["JP-1"].reasons[1] == "open JPY 15000 = SAR 375.00 at 0.025 (2026-06-01) ≤ 500"
    assert found["CH-1"].action == "unconverted"
    assert found["CH-1"].reasons == [
        "no CHF→SAR rate on or before 2026-06-30 (claims rates import)"]


def test_a_promise_is_kept_only_by_payments_in_its_currency(sar: Workspace) -> None:
    ws = sar
    invoice(ws, "Multi", "M-SAR", 30, "10000.00", "SAR")
    invoice(ws, "Multi", "M-USD", 30, "10000.00", "USD")
    for currency in ("USD", "SAR"):
        records.add_promise(ws.store, "Multi", amount=Decimal("10000"), currency=currency,
                            promised_date=D(2026, 6, 20), promised_by="CFO", channel="call",
                            actor="maria", at=at(D(2026, 6, 10)))
    # nothing is open in EUR: a EUR promise would pause reminders on nothing owed
    with pytest.raises(InputError, match="EUR 10000 is more than Multi has open in EUR"):
        records.add_promise(ws.store, "Multi", amount=Decimal("10000"), currency="EUR",
                            promised_date=D(2026, 6, 20), promised_by="CFO", channel="call",
                            actor="maria", at=at(D(2026, 6, 10)))
    pay(ws, "M-SAR", "10000.00", at(D(2026, 6, 15)))
    states = {p.currency: p.state for p in records.promise_states(ws.store, AS_OF)}
    assert states == {"USD": "broken", "SAR": "kept"}
    [multi] = worklist.worklist(ws, AS_OF)
    assert multi.broken_promises == 1


@pytest.mark.parametrize("body, message", [
    ("date,currency,rate\n2026-06-01,XYZ,1.5\n",
     "rates.csv line 2: currency 'XYZ' is not a known ISO 4217 code"),
    ("date,currency,rate\n2026-06-01,SAR,1\n",
     "rates.csv line 2: currency 'SAR' is the base currency"),
    ("date,currency,rate\n01/06/2026,USD,3.75\n",
     "rates.csv line 2: date '01/06/2026' is not a date (YYYY-MM-DD)"),
    ("date,currency,rate\n2026-06-01,USD,-3\n",
     "rates.csv line 2: rate '-3' is not a positive number"),
    ("day,code,value\n", "rates.csv: the header must be date,currency,rate"),
])
def test_bad_rates_are_refused_whole_with_the_line(ws: Workspace, tmp_path: Path, body: str,
                                                   message: str) -> None:
    path = tmp_path / "rates.csv"
    path.write_text("date,currency,rate\n2026-05-01,USD,3.75\n" + body.split("\n", 1)[1]
                    if body.startswith("date,") else body, encoding="utf-8")
    with pytest.raises(InputError, match=message.replace("(", r"\(").replace(")", r"\)")
                       .replace("line 2", "line 3" if body.startswith("date,") else "line 2")):
        rates.import_rates(ws.store, path, "SAR")
    assert rates.Rates.load(ws.store, "SAR").by_currency == {}  # nothing stored


def test_a_raw_sql_amount_reads_as_the_one_rounding_would_give_it() -> None:
    """``receivables.money`` makes an amount already at the minor unit without rounding it;
    value and written form are what the house rounding gives, and a finer amount still rounds
    (half-up) at the currency's minor unit."""
    import random

    from claims.collections.receivables import money
    from claims.core.money import round_money
    from claims.store.tables import money_from_sql

    rng = random.Random(14)
    raws = [None, 0, 1, 49, 50, -50, 5000, -5000, 123_456_789, 10**18, -(10**15)]
    raws += [rng.randint(-10**12, 10**12) for _ in range(500)]
    raws += [rng.randint(-10**8, 10**8) * 100 for _ in range(500)]  # whole cents
    for currency in ("USD", "JPY", "KWD", "EUR", "SAR"):
        for raw in raws:
            expected = round_money(money_from_sql(raw), currency)
            got = money(raw, currency)
            assert (got, str(got)) == (expected, str(expected)), (currency, raw)
    assert str(money(1_005_000, "USD")) == "100.50" and str(money(1_000_050, "USD")) == "100.01"
    assert str(money(12_345, "JPY")) == "1" and str(money(15_000, "JPY")) == "2"
