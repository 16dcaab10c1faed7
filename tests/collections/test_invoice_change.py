"""An invoice updated by a later import keeps one truth for its due dates and amounts: every
command (receivables, KPIs, the forecast) reads the schedule the one due-date rule writes, so a
change to the issue date, due date, total or currency must make that schedule again.

Found by an independent tester: after `claims invoice add` reported "changed 1" for a new due
date (or total), `followup receivables`, `kpi`, `worklist` and the forecast kept the old ones.
"""

from __future__ import annotations

import json
from datetime import date as D
from decimal import Decimal
from pathlib import Path

from typer.testing import CliRunner

from claims import api
from claims.cli import app
from claims.core.due import Terms
from claims.core.models import Invoice
from claims.workspace import Workspace
from tests.collections.conftest import add_invoices


def _put(ws: Workspace, number: str, issued: D, due: D | None, total: str,
         currency: str = "USD", description: str = "") -> None:
    amount = Decimal(total)
    ws.store.put_invoices([Invoice(number=number, issue_date=issued, due_date=due,
                                   currency=currency, customer="Acme Corp", net=amount,
                                   vat=Decimal(0), total=amount,
                                   **({"period_start": issued} if description else {}))])


def _open(ws: Workspace, as_of: D) -> list[tuple[str, D, str]]:
    return [(r["invoice"], r["due_date"], r["open"]) for r in api.receivables(ws, as_of)]


def test_a_new_due_date_reaches_receivables_and_kpis(ws: Workspace) -> None:
    add_invoices(ws, "Acme Corp", [("C-1", D(2026, 11, 1), D(2026, 12, 1), "500.00")])
    assert _open(ws, D(2027, 1, 15)) == [("C-1", D(2026, 12, 1), "500.00")]  # rows written
    _put(ws, "C-1", D(2026, 11, 1), D(2027, 3, 1), "500.00")
    assert _open(ws, D(2027, 1, 15)) == [("C-1", D(2027, 3, 1), "500.00")]
    k = api.compute_kpis(ws, D(2027, 1, 15), currency="USD")
    assert k["overdue"] == Decimal("0.00") and k["current"] == Decimal("500.00")


def test_a_new_total_reaches_receivables_and_kpis(ws: Workspace) -> None:
    add_invoices(ws, "Acme Corp", [("C-2", D(2026, 11, 1), D(2026, 12, 1), "500.00")])
    assert _open(ws, D(2026, 11, 15))[0][2] == "500.00"
    _put(ws, "C-2", D(2026, 11, 1), D(2026, 12, 1), "250.00")
    assert _open(ws, D(2026, 11, 15)) == [("C-2", D(2026, 12, 1), "250.00")]
    assert api.compute_kpis(ws, D(2026, 11, 15), currency="USD")["receivables"] == \
        Decimal("250.00")


def test_explicit_terms_that_no_longer_fit_are_removed_and_reported(ws: Workspace) -> None:
    add_invoices(ws, "Acme Corp", [("C-3", D(2026, 1, 15), None, "1000.00")])
    api.set_invoice_terms(ws, "C-3", Terms(kind="eom", days=30))
    assert _open(ws, D(2026, 2, 1))[0][1] == D(2026, 3, 2)
    # a field the terms do not depend on: the terms stay
    _put(ws, "C-3", D(2026, 1, 15), None, "1000.00", description="period added")
    assert _open(ws, D(2026, 2, 1))[0][1] == D(2026, 3, 2)
    # a new total: instalments and amounts made from the old one would not add up
    result = ws.store.put_invoices([Invoice(
        number="C-3", issue_date=D(2026, 1, 15), currency="USD", customer="Acme Corp",
        net=Decimal("800.00"), vat=Decimal(0), total=Decimal("800.00"))])
    assert result.changed == ["C-3"] and result.terms_removed == ["C-3"]
    default_days = ws.settings.followup.default_net_days
    rows = _open(ws, D(2026, 2, 1))
    assert rows == [("C-3", D.fromordinal(D(2026, 1, 15).toordinal() + default_days),
                     "800.00")]
    # given again, the terms apply to the new total
    api.set_invoice_terms(ws, "C-3", Terms(kind="eom", days=30))
    assert _open(ws, D(2026, 2, 1)) == [("C-3", D(2026, 3, 2), "800.00")]


def test_invoice_add_prints_what_changed_and_the_terms_removed(ws: Workspace,
                                                              tmp_path: Path) -> None:
    add_invoices(ws, "Acme Corp", [("C-4", D(2026, 1, 15), None, "1000.00")])
    api.set_invoice_terms(ws, "C-4", Terms(kind="net", days=45))
    path = tmp_path / "changed.json"
    path.write_text(json.dumps([{
        "number": "C-4", "issue_date": "2026-01-20", "currency": "USD",
        "customer": "Acme Corp", "net": "1000.00", "vat": "0", "total": "1000.00"}]))
    result = CliRunner().invoke(app, ["--workspace", str(ws.root), "invoice", "add",
                                      str(path)])
    assert result.exit_code == 0, result.output
    assert "changed 1" in result.output
    assert "issue_date: 2026-01-15 → 2026-01-20" in result.output
    assert "terms removed: C-4" in result.output
    assert _open(ws, D(2026, 1, 31))[0][1] == D.fromordinal(
        D(2026, 1, 20).toordinal() + ws.settings.followup.default_net_days)
