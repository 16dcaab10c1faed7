"""Huge amounts (``1e400``, 59 or 70 digits) at every door: one clean line naming the field and
the rule, exit 1, no traceback, nothing kept. They are refused by the one reading of an amount
(:func:`claims.core.money.to_decimal`), so every door below is fixed in one place."""

from __future__ import annotations

import json
from datetime import date as D
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import func, select

from claims.store.tables import InvoiceRow, PaymentRow
from claims.workspace import Workspace
from tests.collections.conftest import add_invoices

HUGE = ["9" * 59, "1" * 70, "9" * 12]  # 1e400: no exponents (pay29)


@pytest.fixture
def database_url(tmp_path: Path) -> str:
    """The doors only parse: SQLite is enough (the SQL is tested on both elsewhere)."""
    return f"sqlite:///{tmp_path / 'claims.db'}"


@pytest.fixture
def acme(ws: Workspace) -> Workspace:
    add_invoices(ws, "Acme Corp", [("A-1", D(2026, 1, 30), D(2026, 3, 1), "1000.00"),
                                   ("A-2", D(2026, 2, 3), D(2026, 3, 5), "250.50")])
    return ws


def _clean(result: Any, *needles: str) -> None:
    """Exit 1, one line, no traceback, and every needle in it."""
    assert result.exit_code == 1, result.output
    assert "Traceback" not in result.output and "InvalidOperation" not in result.output
    text = " ".join(result.output.split())
    for needle in needles:
        assert needle in text, result.output


@pytest.mark.parametrize("amount", HUGE)
def test_invoice_add_refuses_a_huge_total(cli: Any, acme: Workspace, tmp_path: Path,
                                          amount: str) -> None:
    path = tmp_path / "huge.json"
    path.write_text(json.dumps([{
        "number": "H-1", "issue_date": "2026-02-01", "currency": "USD", "customer": "Acme Corp",
        "net": amount, "vat": "0", "total": amount}]))
    _clean(cli("invoice", "add", str(path)), "exceeds the largest amount accepted")
    with acme.store.session() as s:
        assert s.scalar(select(func.count()).select_from(InvoiceRow)) == 2


@pytest.mark.parametrize("amount", HUGE)
def test_promise_and_plan_refuse_a_huge_amount(cli: Any, acme: Workspace, amount: str) -> None:
    promise = cli("promise", "add", "Acme Corp", "--amount", amount, "--currency", "USD",
                  "--date", "2026-03-20", "--by", "J. Doe", "--as-of", "2026-03-12")
    _clean(promise, "--amount", "exceeds the largest amount accepted")
    plan = cli("plan", "add", "Acme Corp", "--invoice", "A-1", "--instalment",
               f"2026-04-01={amount}", "--as-of", "2026-03-12")
    _clean(plan, "exceeds the largest amount accepted")
    assert json.loads(cli("promise", "list", "--json").stdout) == []


@pytest.mark.parametrize("amount", HUGE)
def test_review_change_and_statement_refuse_a_huge_amount(cli: Any, acme: Workspace,
                                                          tmp_path: Path, amount: str) -> None:
    header = "date,amount,currency,payer_name,payer_iban,reference,remittance,id\n"
    stmt = tmp_path / "stmt.csv"
    stmt.write_text(header + "2026-03-01,10.00,USD,Nobody Known,,,,T1\n")
    imported = json.loads(cli("payments", "import", str(stmt), "--json").stdout)
    [match] = imported["matches"]
    change = cli("payments", "review", "change", str(match["payment_id"]), "--invoice",
                 f"A-1={amount}")
    _clean(change, "invoice A-1", "exceeds the largest amount accepted")
    huge = tmp_path / "huge.csv"
    huge.write_text(header + f"2026-03-02,{amount},USD,Acme Corp,,,A-1,T2\n")
    _clean(cli("payments", "import", str(huge)), str(huge), "row 2: amount",
           "exceeds the largest amount accepted", "[rule: amount-range]")
    with acme.store.session() as s:
        assert s.scalar(select(func.count()).select_from(PaymentRow)) == 1

