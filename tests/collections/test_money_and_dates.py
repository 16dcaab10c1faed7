"""Issue #14: one due date, one rounding, one interest rule; each test names its source."""

from __future__ import annotations

from datetime import UTC, date as D, datetime
from decimal import Decimal

import pytest
from pydantic import ValidationError

from claims import api
from claims.collections.due import ensure_due_dates
from claims.collections.dunning import config_of
from claims.collections.interest import prompt_payment_interest, rate_on
from claims.core.due import BusinessCalendar, Terms, due_dates, us_federal_holidays
from claims.core.models import Invoice
from claims.core.money import amount_limit, check_amount, round_money, to_decimal
from claims.store.tables import InvoiceRow, PaymentApplicationRow, PaymentRow
from claims.store.tables.collections import ScheduleRow
from claims.workspace import Workspace
from tests.collections.conftest import add_invoices

# -- money: ISO 4217 minor units, half-up, one check at the door ---------------------------


def test_amounts_below_the_minor_unit_are_refused_not_rounded() -> None:
    """ISO 4217: USD has 2 decimals, JPY 0, KWD 3; an amount finer than that is an error."""
    assert check_amount("100.5", "USD") == Decimal("100.50")
    assert check_amount("1.125", "KWD") == Decimal("1.125")
    for value, currency in (("100.005", "USD"), ("1.5", "JPY"), ("0.0001", "KWD")):
        with pytest.raises(ValueError, match="below the minor unit"):
            check_amount(value, currency)


def test_amounts_above_the_documented_maximum_are_refused() -> None:
    """docs/kpis.md, Rounding: one amount ≤ 99,999,999,999.99 so 64-bit sums of 1/10,000
    units cannot overflow (9.22e18 / 1e4 = 9.2e14 per sum)."""
    assert check_amount("99999999999.99", "USD") == amount_limit("USD")
    with pytest.raises(ValueError, match="exceeds the largest amount"):
        check_amount("1000000000000000", "USD")
    with pytest.raises(ValidationError, match="exceeds the largest amount"):
        Invoice(number="X", issue_date=D(2026, 1, 1), currency="USD", net="1000000000000000",
                vat="0",
                total="1000000000000000")


def test_ambiguous_decimal_separators_are_refused() -> None:
    """'9,5' and '1.100,00' are 9.5 and 1100 to a European reader: never guess."""
    for text in ("9,5", "1.100,00", "1,100", "12,34,56.00"):
        with pytest.raises(ValueError, match="ambiguous|not a number"):
            to_decimal(text)
    assert to_decimal("1,100.00") == Decimal("1100.00")
    assert to_decimal("-2,500.5") == Decimal("-2500.5")


def test_the_invoice_door_refuses_a_sub_cent_total() -> None:
    with pytest.raises(ValidationError, match="net: 100.005 has a fraction below"):
        Invoice(number="X", issue_date=D(2026, 1, 1), currency="USD", net="100.005",
                vat="0", total="100.005")


def test_rounding_is_half_up_at_the_minor_unit() -> None:
    """The house policy (docs/kpis.md): half-up, not banker's: 89.985 → 89.99, 0.125 → 0.13."""
    assert round_money(Decimal("89.985"), "USD") == Decimal("89.99")
    assert round_money(Decimal("0.125"), "EUR") == Decimal("0.13")
    assert round_money(Decimal("2.5"), "JPY") == Decimal("3")


# -- due dates: one function ----------------------------------------------------------------


def test_federal_holidays_2026_as_observed() -> None:
    """5 U.S.C. 6103(a), observed per 6103(b): July 4, 2026 is a Saturday → Friday July 3."""
    days = us_federal_holidays(2026)
    assert {D(2026, 1, 1), D(2026, 1, 19), D(2026, 2, 16), D(2026, 5, 25), D(2026, 6, 19),
            D(2026, 7, 3), D(2026, 9, 7), D(2026, 10, 12), D(2026, 11, 11), D(2026, 11, 26),
            D(2026, 12, 25)} == days


def test_due_dates_rule_order_and_business_day_move() -> None:
    """Terms > statutory (31 U.S.C. 3903(a)(1)) > invoice due date > issue + default days;
    a due date on a weekend or holiday moves to the next business day (FAR 52.232-25(a)(4))."""
    total = Decimal("100.00")
    eom = due_dates(D(2026, 1, 15), total, terms=Terms(kind="eom", days=30))
    assert [(d.due_date, d.basis) for d in eom] == [(D(2026, 3, 2), "eom")]
    assert due_dates(D(2026, 1, 15), total, invoice_due=D(2026, 2, 1))[0].basis == "invoice"
    assert due_dates(D(2026, 1, 15), total, default_net_days=10)[0].due_date == D(2026, 1, 25)
    cal = BusinessCalendar(holidays=frozenset(us_federal_holidays(2026)))
    # 2026-01-25 is a Sunday → Monday 26 January
    moved = due_dates(D(2026, 1, 15), total, default_net_days=10, business_days=cal)
    assert moved[0].due_date == D(2026, 1, 26)


# -- interest: 5 CFR 1315.10 ------------------------------------------------------------------


def test_interest_uses_the_rate_in_effect_the_day_after_the_due_date() -> None:
    """5 CFR 1315.10(a)(1): due 2024-12-31 → the rate of 2025-01-01 (4 5/8 %, 90 FR 10678)."""
    assert rate_on(D(2025, 1, 1)).percent == Decimal("4.625")
    owed = prompt_payment_interest(Decimal("10000.00"), D(2024, 12, 31), D(2025, 3, 1), "USD")
    # 60 days: (1 + 0.04625·30/360)² − 1 = 0.0077227… → 77.23
    assert owed.days == 60 and owed.amount == Decimal("77.23")
    assert owed.rate is not None and "90 FR 10678" in owed.rate.source


def test_interest_stops_after_one_year() -> None:
    """5 CFR 1315.10(a)(5)(ii): no accrual for more than one year (365 days)."""
    a_year = prompt_payment_interest(Decimal("1000.00"), D(2024, 6, 30), D(2025, 6, 30), "USD")
    later = prompt_payment_interest(Decimal("1000.00"), D(2024, 6, 30), D(2026, 6, 30), "USD")
    assert a_year.amount == later.amount and a_year.amount > 0


def test_penalty_under_one_dollar_is_optional() -> None:
    """5 CFR 1315.10(a)(7): interest penalties of less than one dollar need not be paid."""
    small = prompt_payment_interest(Decimal("100.00"), D(2025, 1, 10), D(2025, 1, 20), "USD")
    assert small.amount == Decimal("0.13") and small.optional


def test_no_sourced_rate_means_no_invented_interest() -> None:
    """A period missing from the shipped table (2022-H1) yields None, not a guess."""
    owed = prompt_payment_interest(Decimal("1000.00"), D(2022, 3, 1), D(2022, 4, 1), "USD")
    assert owed.amount is None and owed.rate is None


# -- one due date in every command; --as-of is the world as known then ----------------------


def test_kpi_and_followup_receivables_agree_on_an_end_of_month_invoice(ws: Workspace) -> None:
    """Issue #14 item 1: eom + 30 from 15 Jan is 2 March (31 Jan + 30 days); before that date
    both `claims kpi` and `claims followup receivables` see it current, after it both overdue."""
    add_invoices(ws, "Acme Corp", [("E-1", D(2026, 1, 15), None, "1000.00")])
    api.set_invoice_terms(ws, "E-1", Terms(kind="eom", days=30))
    before = api.receivables(ws, D(2026, 2, 28))
    assert before[0]["due_date"] == D(2026, 3, 2) and before[0]["days_overdue"] == 0
    k = api.compute_kpis(ws, D(2026, 2, 28), currency="USD")
    assert k["current"] == Decimal("1000.00") and k["overdue"] == Decimal("0.00")
    after = api.receivables(ws, D(2026, 3, 31))
    assert after[0]["days_overdue"] == 29
    k = api.compute_kpis(ws, D(2026, 3, 31), currency="USD")
    assert k["current"] == Decimal("0.00") and k["overdue"] == Decimal("1000.00")


def test_receivables_as_of_ignores_later_payments_and_later_invoices(ws: Workspace) -> None:
    """Issue #14 item 2: as of 10 Feb a payment valued 20 Feb is not yet there, an invoice
    issued 1 March does not exist yet."""
    add_invoices(ws, "Acme Corp", [("A-1", D(2026, 1, 1), D(2026, 1, 31), "500.00"),
                                   ("A-2", D(2026, 3, 1), D(2026, 3, 31), "200.00")])
    with ws.store.session() as s:
        inv = s.query(InvoiceRow).filter(InvoiceRow.number == "A-1").one()
        pay = PaymentRow(source="csv", external_id="P1", value_date=D(2026, 2, 20),
                         amount=Decimal("500.00"), currency="USD")
        s.add(pay)
        s.flush()
        s.add(PaymentApplicationRow(payment_id=pay.id, invoice_id=inv.id,
                                    amount=Decimal("500.00"), kind="payment", actor="t",
                                    applied_at=datetime(2026, 2, 21, tzinfo=UTC)))
    then = api.receivables(ws, D(2026, 2, 10))
    assert [(r["invoice"], r["open"]) for r in then] == [("A-1", "500.00")]
    now = api.receivables(ws, D(2026, 3, 15))
    assert [(r["invoice"], r["open"]) for r in now] == [("A-2", "200.00")]


def test_the_bulk_fill_stores_each_invoice_what_the_rule_gives_it(ws: Workspace) -> None:
    """The fill computes a due date once per distinct set of dates and keeps amounts already at
    their minor unit as read: each invoice still gets the rule's date and its total rounded
    half-up at its currency (JPY 1,234.5678 → 1,235; KWD 10.1235 → 10.124; USD 10.005 →
    10.01; USD 10.50 as is), whichever invoices share dates."""
    add_invoices(ws, "Acme Corp", [("U-1", D(2026, 1, 15), None, "10.00"),
                                   ("U-2", D(2026, 1, 15), None, "10.50"),
                                   ("U-3", D(2026, 1, 15), D(2026, 3, 1), "10.00")])
    add_invoices(ws, "Acme Corp", [("J-1", D(2026, 1, 15), None, "1234")], currency="JPY")
    add_invoices(ws, "Acme Corp", [("K-1", D(2026, 1, 16), D(2026, 3, 1), "10")],
                 currency="KWD")
    with ws.store.session() as s:  # totals as an older import stored them, finer than the unit
        for number, total in (("U-1", "10.005"), ("J-1", "1234.5678"), ("K-1", "10.1235")):
            s.query(InvoiceRow).filter(InvoiceRow.number == number).one().total = Decimal(total)
    assert ensure_due_dates(ws.store.engine, config_of(ws)) == 5
    with ws.store.session() as s:
        got = {n: (r.seq, r.due_date, r.amount, r.basis) for n, r in s.query(
            InvoiceRow.number, ScheduleRow).join(ScheduleRow,
                                                 ScheduleRow.invoice_id == InvoiceRow.id)}
    assert got == {"U-1": (0, D(2026, 2, 14), Decimal("10.01"), "default"),
                   "U-2": (0, D(2026, 2, 14), Decimal("10.50"), "default"),
                   "U-3": (0, D(2026, 3, 1), Decimal("10.00"), "invoice"),
                   "J-1": (0, D(2026, 2, 14), Decimal("1235"), "default"),
                   "K-1": (0, D(2026, 3, 1), Decimal("10.124"), "invoice")}


def test_the_due_date_check_counts_first_and_still_finds_what_needs_rows(ws: Workspace) -> None:
    """ensure_due_dates answers "nothing to write" from two counts (invoices, invoices with
    rows) without the anti-join over every invoice; an invoice without rows, and (with a
    statutory agency) one whose claim reached the agency while its rows have a non-statutory
    computed basis, are still found and written, alone or together."""
    from sqlalchemy import text

    from tests.collections.conftest import submitted_claim, write_config

    write_config(ws, None, agencies={"Ministry of Works": {"rule": "prompt-payment"}})
    add_invoices(ws, "Acme Corp", [("A-1", D(2026, 1, 15), None, "10.00"),
                                   ("A-2", D(2026, 1, 15), D(2026, 3, 1), "20.00")])
    submitted_claim(ws, "MW-1", "Ministry of Works", issued=D(2026, 1, 10),
                    submitted=D(2026, 1, 12), total="100.00")
    config = config_of(ws)
    ensure_due_dates(ws.store.engine, config)
    assert ensure_due_dates(ws.store.engine, config) == 0  # every invoice has its rows

    def bases() -> dict[str, tuple[str, D]]:
        with ws.store.session() as s:
            return {n: (r.basis, r.due_date) for n, r in s.query(InvoiceRow.number, ScheduleRow)
                    .join(ScheduleRow, ScheduleRow.invoice_id == InvoiceRow.id)}

    written = bases()
    assert written["MW-1"] == ("statutory", D(2026, 2, 17))  # Feb 16 is a federal holiday

    def forget(number: str) -> None:  # the rows of an invoice gone (as before its first fill)
        with ws.store.engine.begin() as conn:
            conn.execute(text("DELETE FROM collection_schedule WHERE invoice_id = "
                              "(SELECT id FROM invoices WHERE number = :n)"), {"n": number})

    def unsubmitted(number: str) -> None:  # rows computed before the claim reached the agency
        with ws.store.engine.begin() as conn:
            conn.execute(text("UPDATE collection_schedule SET basis = 'default', due_date = "
                              ":d WHERE invoice_id = (SELECT id FROM invoices WHERE number = :n)"),
                         {"n": number, "d": D(2026, 2, 9)})

    forget("A-2")  # missing rows only
    assert ensure_due_dates(ws.store.engine, config) == 1 and bases() == written
    unsubmitted("MW-1")  # none missing: the statutory look alone finds it
    assert ensure_due_dates(ws.store.engine, config) == 1 and bases() == written
    forget("A-1")
    unsubmitted("MW-1")  # both at once
    assert ensure_due_dates(ws.store.engine, config) == 2 and bases() == written
    assert ensure_due_dates(ws.store.engine, config) == 0
    write_config(ws, None, agencies={"Ministry of Works": {"rule": "none"}})
    forget("A-1")  # without a statutory agency: the missing ones only
    assert ensure_due_dates(ws.store.engine, config_of(ws)) == 1
    assert ensure_due_dates(ws.store.engine, config_of(ws)) == 0
