"""The forecast on a real store (SQLite and PostgreSQL): no look-ahead, bulk loading with
terms, the CLI and the reports."""

from __future__ import annotations

import json
from datetime import date
from decimal import Decimal
from pathlib import Path

import pytest
from sqlalchemy import select

from claims import api
from claims.core.models import Invoice
from claims.store.tables import InvoiceRow, PaymentApplicationRow, PaymentRow
from claims.workspace import Workspace, init_workspace

AS_OF = date(2025, 9, 30)


@pytest.fixture
def history_ws(tmp_path: Path, database_url: str) -> Workspace:
    ws = init_workspace(tmp_path / "ws", database_url=database_url)
    api.load_synthetic_history(ws, invoices=1500, customers=60, known_by=AS_OF)
    yield ws
    ws.close()


def _open_invoice(ws: Workspace) -> tuple[int, Decimal, int | None]:
    fc = api.cash_forecast(ws, AS_OF)
    ref = next(ln for ln in fc.lines if ln.source == "invoice").ref
    with ws.store.session() as s:
        row = s.scalar(select(InvoiceRow).where(InvoiceRow.number == ref))
        return row.id, row.total, row.customer_id


def test_a_payment_after_the_as_of_date_is_not_used(history_ws: Workspace) -> None:
    """A payment valued the week after the as-of date changes the forecast as of a day after
    it, and leaves the forecast as of the as-of date exactly as it was."""
    before = api.cash_forecast(history_ws, AS_OF).to_json(drill_limit=None)
    invoice_id, total, customer_id = _open_invoice(history_ws)
    with history_ws.store.session() as s:
        p = PaymentRow(source="csv", external_id="LATE-1", value_date=date(2025, 10, 6),
                       amount=total, currency="EUR", customer_id=customer_id)
        s.add(p)
        s.flush()
        s.add(PaymentApplicationRow(payment_id=p.id, invoice_id=invoice_id, amount=total,
                                    reason="planted"))
    after = api.cash_forecast(history_ws, AS_OF).to_json(drill_limit=None)
    assert json.dumps(after, default=str) == json.dumps(before, default=str)
    later = api.cash_forecast(history_ws, date(2025, 10, 7)).to_json(drill_limit=None)
    refs = {ln["ref"] for w in later["forecast"] for ln in w["drilldown"]}
    number = history_ws.store.list_invoices()[invoice_id - 1].number
    assert number not in refs


def test_invoices_added_in_bulk_carry_their_terms(tmp_path: Path) -> None:
    """Customers created with segments in one call; invoices added with eom + 30 terms fall
    due at the end of the issue month + 30 days (the collections schedule)."""
    ws = init_workspace(tmp_path / "ws")
    assert api.add_customers(ws, [{"name": "Roads", "segment": "agency"},
                                  {"name": "Shop", "segment": "private"}]) == 2
    invoices = [Invoice(number=f"B{k}", issue_date=date(2026, 1, 10 + k), currency="EUR",
                        customer="Roads" if k % 2 else "Shop", net=Decimal(100),
                        vat=Decimal(0), total=Decimal(100)) for k in range(4)]
    counts = api.add_invoices_with_terms(ws, invoices, api.Terms(kind="eom", days=30))
    assert counts == {"added": 4, "changed": 0, "terms": 4}
    items = api.receivables(ws, date(2026, 1, 31))
    assert {i.due_date if hasattr(i, "due_date") else i["due_date"] for i in items} == {
        date(2026, 3, 2)}
    ws.close()


def test_cli_forecast_explain_and_backtest(history_ws: Workspace, cli) -> None:
    root = str(history_ws.root)
    out = cli("forecast", "--as-of", "2025-09-30", "--json", workspace=Path(root))
    assert out.exit_code == 0, out.output
    data = json.loads(out.output)
    assert len(data["forecast"]) == 13
    first = data["forecast"][0]
    assert {"p10", "p50", "p90", "drilldown"} <= set(first)
    assert all("assumption" in ln for ln in first["drilldown"])
    out = cli("forecast", "--as-of", "2025-09-30", "--explain", "2", workspace=Path(root))
    assert out.exit_code == 0 and out.output.startswith("week 2 (2025-10-08")
    out = cli("forecast", "backtest", "--from", "2025-05-01", "--to", "2025-06-01", "--json",
              workspace=Path(root))
    scores = json.loads(out.output)["scores"]["EUR"]
    assert set(scores) == {"weeks 1-4", "weeks 5-13"}
    assert set(scores["weeks 1-4"]) == {"naive", "lag", "model"}
    out = cli("forecast", "--format", "pdf", workspace=Path(root))
    assert out.exit_code == 2  # an unknown --format is a usage error (README, exit codes)
    html = Path(root) / "fc.html"
    out = cli("forecast", "--as-of", "2025-09-30", "--format", "html", "--out", str(html),
              workspace=Path(root))
    assert out.exit_code == 0 and "<svg" in html.read_text()


def test_weekly_report_has_the_forecast(history_ws: Workspace, tmp_path: Path) -> None:
    report, _ = api.write_collection_report(history_ws, "weekly", "json", tmp_path / "w.json",
                                            as_of=AS_OF)
    table = next(t for t in report.tables if t.key == "cash_forecast")
    assert len(table.rows) == 13 and table.chart and "<svg" in table.chart
