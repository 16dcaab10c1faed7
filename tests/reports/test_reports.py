"""Weekly and monthly reports in HTML (inline SVG, no external assets), XLSX (real numbers and
dates) and JSON, from the hand-worked ledger."""

from __future__ import annotations

import json
import os
import re
import stat
from datetime import date, datetime
from decimal import Decimal
from pathlib import Path

import pytest
from openpyxl import load_workbook

from claims.errors import InputError
from claims.reports.build import monthly_report, weekly_report
from claims.reports.kpis import KpiSettings
from claims.reports.render import to_html, write_report
from claims.store import Store
from tests.reports.conftest import AS_OF


def test_weekly_report_tables(aged_ledger: Store) -> None:
    report = weekly_report(aged_ledger.engine, AS_OF)
    tables = {t.key: t for t in report.tables}
    assert list(tables) == ["aging_by_customer", "aging_by_collector", "top_overdue",
                            "promises", "open_disputes", "unapplied_cash"]
    customers = {r["customer"]: r for r in tables["aging_by_customer"].rows}
    assert customers["Ministry of Works"]["current"] == Decimal("900000.00")
    assert customers["Ministry of Works"]["31-60"] == Decimal("400000.00")
    assert customers["Roads Authority"]["90+"] == Decimal("50000.00")
    collectors = {r["collector"]: r["total"] for r in tables["aging_by_collector"].rows}
    assert collectors == {"Dana": Decimal("2100000.00"), "Eli": Decimal("50000.00")}
    top = tables["top_overdue"].rows
    assert [(r["invoice"], r["days_overdue"]) for r in top] == [("F1", 19), ("J1", 50),
                                                                 ("O1", 151)]
    # the collections tables are read (issue #14, item 4): empty here, not "not available"
    assert tables["promises"].note is None and tables["promises"].rows == []
    assert tables["unapplied_cash"].rows == []


def test_monthly_report_tables(aged_ledger: Store) -> None:
    settings = KpiSettings(monthly_target=Decimal("250000"), trend_months=3)
    report = monthly_report(aged_ledger.engine, AS_OF, settings)
    tables = {t.key: t for t in report.tables}
    trends = tables["kpi_trends"].rows
    assert [t["month"] for t in trends] == ["2026-01", "2026-02", "2026-03"]  # oldest first
    collected = {r["month"]: (r["collected"], r["percent_of_target"])
                 for r in tables["collected_vs_target"].rows}
    assert collected["2026-03"] == (Decimal("200000.00"), Decimal("80.00"))
    assert collected["2026-02"] == (Decimal("100000.00"), Decimal("40.00"))
    rates = {r["month"]: r["auto_match_rate"] for r in tables["match_rate"].rows}
    assert rates["2026-03"] == Decimal("100.00") and rates["2026-02"] == Decimal("0.00")


def test_html_is_self_contained_with_charts(aged_ledger: Store, tmp_path: Path) -> None:
    out = write_report(monthly_report(aged_ledger.engine, AS_OF), "html", tmp_path / "m.html")
    page = out.read_text(encoding="utf-8")
    assert page.count("<svg") == 3 and "DSO and CEI" in page
    # with O1 (50,000) the receivables are 2,150,000: 450/700 × 31 + 59 = 78.93 days; CEI
    # (1,450,000 + 900,000 − 2,150,000) / (1,450,000 + 900,000 − 900,000) = 13.79 %
    assert "78.93" in page and "13.79 %" in page
    # no scripts, stylesheets or images from elsewhere
    assert "<script" not in page and "<link" not in page and "<img" not in page
    assert not re.search(r"(src|href)=\"https?:", page)
    weekly = to_html(weekly_report(aged_ledger.engine, AS_OF))
    assert "Aging by collector" in weekly and "400,000.00" in weekly
    assert "not available" not in weekly and "Promises due this week" in weekly


def test_html_escapes_names(store: Store) -> None:
    from tests.payments.conftest import invoice

    store.put_invoices([invoice("X<1>", "10.00", "<script>alert(1)</script>",
                                date(2026, 1, 1), date(2026, 1, 31))])
    from claims.collections.due import ensure_due_dates
    from claims.collections.settings import CollectionsConfig

    ensure_due_dates(store.engine, CollectionsConfig())
    page = to_html(weekly_report(store.engine, AS_OF))
    assert "<script>alert" not in page and "&lt;script&gt;" in page


def test_xlsx_has_one_sheet_per_table_with_real_numbers_and_dates(aged_ledger: Store,
                                                                   tmp_path: Path) -> None:
    path = write_report(weekly_report(aged_ledger.engine, AS_OF), "xlsx", tmp_path / "w.xlsx")
    wb = load_workbook(path)
    assert wb.sheetnames[0] == "Summary" and "Top 20 overdue invoices" in wb.sheetnames
    top = wb["Top 20 overdue invoices"]
    assert [c.value for c in top[1]] == ["Invoice", "Customer", "Collector", "Due",
                                         "Days overdue", "Open"]
    assert top["A2"].value == "F1"
    assert isinstance(top["D2"].value, datetime) and top["D2"].value.date() == date(2026, 3, 12)
    assert isinstance(top["F2"].value, (int, float)) and top["F2"].value == 800000
    assert top["F2"].number_format == "#,##0.00" and top["D2"].number_format == "yyyy-mm-dd"
    summary = wb["Summary"]
    assert summary["B5"].value == 2150000 and summary["A5"].value == "Receivables"
    monthly = load_workbook(write_report(monthly_report(aged_ledger.engine, AS_OF), "xlsx",
                                         tmp_path / "m.xlsx"))
    trends = monthly["KPI trends, month over month"]
    header = [c.value for c in trends[1]]
    row = {h: c.value for h, c in zip(header, trends[trends.max_row], strict=True)}
    assert row["Month"] == "2026-03" and row["DSO countback"] == pytest.approx(78.93)


def test_json_report(aged_ledger: Store, tmp_path: Path) -> None:
    path = write_report(weekly_report(aged_ledger.engine, AS_OF), "json", tmp_path / "w.json")
    data = json.loads(path.read_text())
    assert data["kind"] == "weekly" and data["headline"]["Receivables"] == "2150000.00"
    assert data["tables"]["top_overdue"][0]["invoice"] == "F1"
    assert data["kpis"]["dso"]["countback"] is not None


def test_bad_output(aged_ledger: Store, tmp_path: Path) -> None:
    report = weekly_report(aged_ledger.engine, AS_OF)
    with pytest.raises(InputError) as err:
        write_report(report, "pdf", tmp_path / "w.pdf")
    assert err.value.rule == "report-format"
    with pytest.raises(InputError) as err:
        write_report(report, "html", tmp_path / "missing" / "w.html")
    assert err.value.rule == "output-folder"
    assert not (tmp_path / "missing").exists()
    # a FIFO (or a device) named as --out was replaced by the report, "wrote …", exit 0
    out = tmp_path / "out"
    out.mkdir()
    fifo = out / "pipe"
    os.mkfifo(fifo)
    for fmt in ("html", "xlsx", "json"):
        with pytest.raises(InputError, match="not a regular file") as err:
            write_report(report, fmt, fifo)
        assert err.value.rule == "output-file" and err.value.field == "--out"
        assert stat.S_ISFIFO(fifo.stat().st_mode)
    assert [p.name for p in out.iterdir()] == ["pipe"]  # no temporary file left


FORMULAS = ["=HYPERLINK(\"http://127.0.0.1/x\",\"click\")", "+1+1", "-2+3", "@SUM(A1:A2)",
            "\t=1+1", "\r=1+1"]


def test_xlsx_writes_formula_looking_text_as_text(store: Store, tmp_path: Path) -> None:
    """OWASP "CSV injection" (formula injection): a cell that starts with = + - @, tab or CR
    is data, never a formula, in every workbook the product writes."""
    import zipfile

    from claims.collections.due import ensure_due_dates
    from claims.collections.settings import CollectionsConfig
    from tests.payments.conftest import invoice

    store.put_invoices([invoice(f"INV-{n}", "10.00", name, date(2026, 1, 1), date(2026, 1, 31))
                        for n, name in enumerate(FORMULAS)]
                       + [invoice("=1+2", "10.00", "Plain Agency", date(2026, 1, 2),
                                  date(2026, 2, 1))])
    ensure_due_dates(store.engine, CollectionsConfig())
    path = write_report(weekly_report(store.engine, AS_OF), "xlsx", tmp_path / "w.xlsx")
    with zipfile.ZipFile(path) as z:
        sheets = [z.read(n).decode() for n in z.namelist() if n.startswith("xl/worksheets/")]
    assert sheets and not any("<f>" in x or "<f " in x for x in sheets)
    top = load_workbook(path)["Top 20 overdue invoices"]
    cells = {c.value: c for row in top.iter_rows(min_row=2) for c in row[:2]}
    for text in [*FORMULAS, "=1+2"]:
        # a bare CR comes back as CR or as LF, depending on how the writer escaped it
        cell = cells.get(text) or cells.get(text.replace("\r", "\n"))
        assert cell is not None, (text, [repr(k) for k in cells if "1+1" in str(k)])
        assert cell.data_type == "s" and cell.quotePrefix, text
