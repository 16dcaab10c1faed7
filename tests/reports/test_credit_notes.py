"""An unapplied credit note is not overdue (claims.reports.sql.due_basis): the KPIs count it
current, the weekly report's aging tables add up to its headline receivables, and reconcile
lists it as an unused credit, not as an over-applied or unclaimed invoice. The SAP FBL5N
export the tester used: DR 1.190,00 due 15.12.2026 and DG 119,00- due 20.11.2026."""

from __future__ import annotations

import json
from decimal import Decimal
from pathlib import Path

import pytest

from tests.payments.conftest import pay_cli  # noqa: F401  (the fixture)

FBL5N = """Kundeneinzelposten anzeigen

Company Code;Customer;Name 1;Document Type;Document Number;Fiscal Year;Document Date;\
Net Due Date;Document currency;Amount in doc. curr.;Tax amount;Assignment
1000;100077;"Kunde; Mueller & Co";DR;1800000123;2026;15.11.2026;15.12.2026;EUR;1.190,00;\
190,00;PO-1
1000;100077;"Kunde; Mueller & Co";DG;1700000004;2026;20.11.2026;20.11.2026;EUR;119,00-;\
19,00-;PO-1
"""
AS_OF = "2026-12-03"


@pytest.fixture
def credited(pay_cli, tmp_path: Path):  # noqa: F811
    path = tmp_path / "fbl5n.csv"
    path.write_text(FBL5N, encoding="utf-8")
    result = pay_cli("invoice", "import", "csv", str(path), "-m", "sap")
    assert result.exit_code == 0, result.output
    return pay_cli


def _json(cli, *args: str):
    result = cli(*args, "--json")
    assert result.exit_code == 0, result.output
    return json.loads(result.output)


def test_an_unapplied_credit_is_current_not_overdue(credited) -> None:
    kpi = _json(credited, "kpi", "--currency", "EUR", "--as-of", AS_OF)
    assert (kpi["receivables"], kpi["current"], kpi["overdue"]) == ("1071.00", "1071.00",
                                                                    "0.00")
    assert kpi["percent_current"] == "100.00"
    assert kpi["average_days_delinquent"] == "0.00"
    assert {b["bucket"]: b["amount"] for b in kpi["aging"]["buckets"]} == {
        "current": "1071.00", "1-30": "0.00", "31-60": "0.00", "61-90": "0.00", "90+": "0.00"}
    assert kpi["at_risk"]["amount"] == "0.00"


def test_weekly_aging_tables_add_up_to_the_headline(credited, tmp_path: Path) -> None:
    out = tmp_path / "weekly.json"
    result = credited("report", "weekly", "--as-of", AS_OF, "--currency", "EUR", "--format",
                      "json", "--out", str(out))
    assert result.exit_code == 0, result.output
    report = json.loads(out.read_text())
    assert report["headline"]["Receivables"] == "1071.00"
    [row] = report["tables"]["aging_by_customer"]
    assert (row["current"], row["1-30"], row["total"]) == ("1071.00", "0.00", "1071.00")
    [row] = report["tables"]["aging_by_collector"]
    assert row["total"] == "1071.00"
    assert report["tables"]["top_overdue"] == []


def test_reconcile_lists_an_unused_credit(credited) -> None:
    [entry] = _json(credited, "payments", "reconcile", "--as-of", AS_OF)
    assert (entry["invoiced"], entry["open"]) == ("1071.00", "1071.00")
    assert [(d["kind"], d["invoice"], Decimal(d["amount"])) for d in entry["differences"]] == [
        ("not-claimed", "2026/1800000123", Decimal("1190.00")),
        ("unused-credit", "2026/1700000004", Decimal("119.00"))]
