"""Statement lines refused or held back at the door (issue pay28): a bank id met again with
other content, a bank id twice in one statement, value dates outside reason, and payments
dated before the invoice they would pay. Real statement files, a real store (SQLite and
PostgreSQL)."""

from __future__ import annotations

import json
from datetime import date
from decimal import Decimal
from pathlib import Path

import pytest
from sqlalchemy import func, select

from claims.collections.due import ensure_due_dates
from claims.collections.receivables import open_items
from claims.collections.settings import CollectionsConfig
from claims.errors import ConflictError, InputError
from claims.payments import reconcile, service
from claims.reports.kpis import kpis
from claims.store import Store
from claims.store.tables import PaymentRow
from claims.workspace import Workspace
from tests.payments.conftest import LEDGER
from tests.payments.statements import Tx, camt053

TODAY = date(2026, 12, 2)

HEADER = "date,amount,currency,payer_name,payer_iban,reference,remittance,id"


def statement(tmp_path: Path, name: str, *rows: str) -> Path:
    path = tmp_path / name
    path.write_text("\n".join([HEADER, *rows]) + "\n", encoding="utf-8")
    return path


def payments(store: Store) -> int:
    with store.session() as s:
        return s.scalar(select(func.count()).select_from(PaymentRow)) or 0


# -- item 4: the same bank id in a later file ----------------------------------------------------

def test_same_bank_id_same_content_is_known_other_content_is_a_conflict(
        ledger: Store, tmp_path: Path) -> None:
    first = statement(tmp_path, "first.csv",
                      "2026-11-20,1500.00,EUR,Ministry of Works,,,INV-2026-001,TX1")
    assert service.import_statement(ledger, first).added == 1
    # the same transaction again (its free text worded otherwise): known, the new line added
    again = statement(tmp_path, "again.csv",
                      "2026-11-20,1500.00,EUR,Ministry of Works,,,INV-2026-001 paid,TX1",
                      "2026-11-21,200.00,EUR,Ministry of Works,,,INV-2026-002,TX2")
    summary = service.import_statement(ledger, again)
    assert (summary.added, summary.already_known) == (1, 1)
    # the same id for other money from another payer on another day: a conflict, nothing kept
    other = statement(tmp_path, "other.csv",
                      "2026-11-22,300.00,EUR,Ministry of Works,,,INV-2026-003,TX3",
                      "2026-11-23,500.00,EUR,Health Agency,,,INV-2026-005,TX1")
    with pytest.raises(InputError) as err:
        service.import_statement(ledger, other)
    assert (err.value.rule, err.value.field) == ("bank-id-conflict", "row 3")
    message = str(err.value)
    for needle in (str(other), "csv:generic:TX1", "from first.csv", "amount 1500.00 ≠ 500.00",
                   "value date 2026-11-20 ≠ 2026-11-23",
                   "payer name Ministry of Works ≠ Health Agency", "nothing of this file"):
        assert needle in message, message
    assert "currency" not in message  # only the facts that differ
    assert payments(ledger) == 2  # TX3 of the refused file was not kept


def test_a_bank_id_conflict_through_the_cli_is_one_line(pay_cli, tmp_path: Path) -> None:
    first = statement(tmp_path, "first.csv", "2026-11-20,1500.00,EUR,A,,,x,TX1")
    assert pay_cli("payments", "import", str(first)).exit_code == 0
    other = statement(tmp_path, "other.csv", "2026-11-20,500.00,EUR,A,,,x,TX1")
    result = pay_cli("payments", "import", str(other))
    assert result.exit_code == 1 and "Traceback" not in result.output
    assert len(result.output.strip().splitlines()) == 1
    assert "[rule: bank-id-conflict]" in result.output


# -- item 5: one bank id twice in one statement ------------------------------------------------

def test_one_bank_id_twice_in_one_statement(ledger: Store, tmp_path: Path) -> None:
    """Identical lines with one id are one transaction (the second a duplicate); different
    ones are refused naming both lines, never a database UNIQUE error."""
    twice = statement(tmp_path, "twice.csv",
                      "2026-11-20,200.00,EUR,Ministry of Works,,,INV-2026-002,TX9",
                      "2026-11-20,200.00,EUR,Ministry of Works,,,INV-2026-002,TX9")
    summary = service.import_statement(ledger, twice)
    assert (summary.lines, summary.added, summary.already_known) == (2, 1, 1)
    clash = statement(tmp_path, "clash.csv",
                      "2026-11-21,300.00,EUR,Ministry of Works,,,INV-2026-003,TX8",
                      "2026-11-21,450.00,EUR,Ministry of Works,,,INV-2026-004,TX8")
    with pytest.raises(InputError) as err:
        service.import_statement(ledger, clash)
    assert (err.value.rule, err.value.field) == ("bank-id-repeated", "row 3")
    assert "also on row 2" in str(err.value) and "amount 300.00 ≠ 450.00" in str(err.value)
    assert "UNIQUE" not in str(err.value)
    camt = tmp_path / "twice.xml"
    camt.write_bytes(camt053([Tx("300.00", bank_ref="REF-1"), Tx("450.00", bank_ref="REF-1")]))
    with pytest.raises(InputError) as err:
        service.import_statement(ledger, camt)
    assert (err.value.rule, err.value.field) == ("bank-id-repeated", "Stmt[1]/Ntry[2]")
    assert "also on Stmt[1]/Ntry[1]" in str(err.value)
    assert payments(ledger) == 1


def test_json_counts_a_repeated_line_as_already_known(pay_cli, tmp_path: Path) -> None:
    twice = statement(tmp_path, "twice.csv", "2026-11-20,5.00,EUR,A,,,x,T1",
                      "2026-11-20,5.00,EUR,A,,,x,T1")
    data = json.loads(pay_cli("payments", "import", str(twice), "--json").stdout)
    assert (data["lines"], data["added"], data["already_known"]) == (2, 1, 1)


# -- item 6: value dates outside reason; paid as of a date by one rule -----------------------

@pytest.mark.parametrize(("day", "rule"), [("2199-12-16", "value-date-future"),
                                           ("0001-01-01", "date-range"),
                                           ("2026-12-10", "value-date-future")])
def test_value_dates_outside_reason_are_refused(ledger: Store, tmp_path: Path, day: str,
                                                rule: str) -> None:
    """Before 1970 (the one range of dates, claims.core.moments.check_date) or more than a week
    after today: refused naming the file, the line and the rule; nothing kept."""
    path = statement(tmp_path, "dated.csv",
                     "2026-11-20,200.00,EUR,Ministry of Works,,,INV-2026-002,OK1",
                     f"{day},1500.00,EUR,Ministry of Works,,,INV-2026-001,D1")
    with pytest.raises(InputError) as err:
        service.import_statement(ledger, path, today=TODAY)
    assert (err.value.rule, err.value.field) == (rule, "row 3: value date")
    assert str(err.value).startswith(f"{path}: row 3: value date: ")
    camt = tmp_path / "dated.xml"
    camt.write_bytes(camt053([Tx("10.00", value_date=date.fromisoformat(day))]))
    with pytest.raises(InputError) as err:
        service.import_statement(ledger, camt, today=TODAY)
    assert (err.value.rule, err.value.field) == (rule, "Stmt[1]/Ntry[1]: value date")
    assert payments(ledger) == 0


def test_far_dates_through_the_cli_are_one_line(pay_cli, tmp_path: Path) -> None:
    for day in ("2199-12-16", "0001-01-01", "1900-01-01", "2999-12-16"):
        path = statement(tmp_path, "far.csv", f"{day},10.00,EUR,A,,,x,T1")
        result = pay_cli("payments", "import", str(path))
        assert result.exit_code == 1 and "Traceback" not in result.output
        assert len(result.output.strip().splitlines()) == 1
        assert "row 2: value date" in result.output


def test_a_payment_value_dated_later_is_paid_from_that_day_in_every_view(
        ledger: Store, tmp_path: Path) -> None:
    """A credit value-dated six days ahead (within the tolerance) is applied, but neither the
    reconciliation nor the KPIs count it as paid before its value date: one rule
    (claims.store.asof)."""
    path = statement(tmp_path, "ahead.csv",
                     "2026-12-08,1500.00,EUR,Ministry of Works,,,INV-2026-001,F1")
    assert service.import_statement(ledger, path, today=TODAY).applied == 1
    ensure_due_dates(ledger.engine, CollectionsConfig())
    invoiced = sum((i.total for i in LEDGER), Decimal(0))
    for as_of, paid in ((TODAY, Decimal(0)), (date(2026, 12, 8), Decimal("1500.00"))):
        entries = reconcile.reconciliation(ledger, as_of=as_of)
        [works] = [e for e in entries if e["customer"] == "Ministry of Works"]
        assert (works["paid"], works["received"]) == (paid, paid)
        open_total = sum((e["open"] for e in entries), Decimal(0))
        assert open_total == invoiced - paid
        assert kpis(ledger.engine, as_of, currency="EUR")["receivables"] == open_total
        with ledger.engine.connect() as conn:  # claims followup receivables, account show
            items = open_items(conn, CollectionsConfig(), as_of=as_of)
        assert sum((i.open_amount for i in items), Decimal(0)) == open_total
    # invoices issued after the as-of date are not invoiced yet
    early = reconcile.reconciliation(ledger, as_of=date(2026, 9, 1))
    assert sum((e["invoiced"] for e in early), Decimal(0)) == Decimal("1500.00")


# -- item 1: a payment dated before the invoice ------------------------------------------------

def test_a_payment_dated_before_the_invoice_goes_to_review(ledger: Store, tmp_path: Path) -> None:
    """Not applied automatically (review, the reason names the dates), not applicable by hand
    to that invoice, and the receivables as of any date never go negative."""
    early = statement(tmp_path, "early.csv",
                      "2026-03-01,1500.00,EUR,Ministry of Works,,,INV-2026-001,EARLY1")
    summary = service.import_statement(ledger, early, today=TODAY)
    assert (summary.added, summary.applied, summary.review) == (1, 0, 1)
    [queued] = service.review_queue(ledger)
    assert queued["flags"] == ["before-issue"] and queued["proposal"] == []
    assert "value date 2026-03-01 is before the invoice's issue date" in queued["reason"]
    with pytest.raises(ConflictError, match="no proposal"):
        service.accept(ledger, queued["payment_id"])
    with pytest.raises(ConflictError) as err:
        service.change(ledger, queued["payment_id"], [("INV-2026-001", None)])
    assert "INV-2026-001 was issued on 2026-09-01, after the payment's value date 2026-03-01" \
        in str(err.value)
    ensure_due_dates(ledger.engine, CollectionsConfig())
    for as_of in (date(2026, 6, 1), date(2026, 9, 1), TODAY):
        assert kpis(ledger.engine, as_of, currency="EUR")["receivables"] >= 0
    assert kpis(ledger.engine, date(2026, 6, 1), currency="EUR")["receivables"] == 0


def test_the_testers_early_payment_through_the_cli(pay_cli, tmp_path: Path) -> None:
    """The report as given: imported, left in review, kpi as of 2026-06-01 not negative."""
    ws = Workspace(pay_cli.root)
    ws.store.put_invoices(LEDGER)
    ws.close()
    early = statement(tmp_path, "early.csv",
                      "2026-03-01,1500.00,EUR,Ministry of Works,,,INV-2026-001,EARLY1")
    data = json.loads(pay_cli("payments", "import", str(early), "--json").stdout)
    assert (data["applied"], data["review"]) == (0, 1)
    kpi = json.loads(pay_cli("kpi", "--as-of", "2026-06-01", "--currency", "EUR",
                             "--json").stdout)
    assert Decimal(kpi["receivables"]) == 0


def test_control_characters_in_a_statement_s_text_are_blanks(ledger: Store,
                                                             tmp_path: Path) -> None:
    """A NUL in a payer's name was kept as is, and PostgreSQL's text refuses it (the import
    failed with the database's words): control characters read as blanks, like tabs."""
    path = statement(tmp_path, "nul.csv",
                     "2026-11-20,10.00,EUR,Ministry\x00of\x07Works,,,INV-2026-002,N1")
    service.import_statement(ledger, path, today=TODAY)
    with ledger.session() as s:
        assert s.scalar(select(PaymentRow.payer_name)) == "Ministry of Works"
