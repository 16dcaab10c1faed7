# ruff: noqa: E501  (report rows read best unwrapped)
"""The built-in mappings against the reports they name (tests/fixtures/exports, see SOURCE.md):
QuickBooks Online's Sales by Customer Detail (CSV and XLSX), SAP GUI's FBL5N spreadsheet export."""

from __future__ import annotations

import csv
import shutil
from decimal import Decimal
from pathlib import Path

import openpyxl
import pytest
from sqlalchemy import select

from claims.sources.api import import_tabular, preview_tabular
from claims.sources.common import ImportRejected
from claims.store.tables import InvoiceRow
from claims.store.tables.sources import InvoiceOriginRow

D = Decimal
FIXTURES = Path(__file__).parents[1] / "fixtures" / "exports"
QBO = FIXTURES / "qbo-sales-by-customer-detail.csv"
SAP_GUI = FIXTURES / "sap-fbl5n-gui-export.txt"


def _kinds(ws) -> dict[str, str]:
    with ws.store.session() as s:
        return dict(s.execute(select(InvoiceRow.number, InvoiceOriginRow.kind)
                              .join(InvoiceOriginRow, InvoiceOriginRow.invoice_id == InvoiceRow.id)).all())


def test_quickbooks_sales_by_customer_detail_csv(ws) -> None:
    batch = import_tabular(ws, QBO, "quickbooks")
    assert sorted(batch.added) == ["1001", "1002", "1003", "1005"]
    inv = ws.store.get_invoice("1001")
    assert inv.customer == "Ministry of Works" and inv.currency == "USD"
    assert [ln.net for ln in inv.lines] == [D("12000.00"), D("350.50")] and inv.total == D("12350.50")
    assert ws.store.get_invoice("1005").customer == "Total Quality Logistics"   # a group, not a total
    assert ws.store.get_invoice("1003").total == D("-250.00")
    assert _kinds(ws)["1003"] == "credit-note" and _kinds(ws)["1002"] == "invoice"
    skipped = [f for f in batch.findings if f.code == "W-ROW-SKIPPED"]
    assert [(f.field, f.severity) for f in skipped] == [("row 9, column 'Transaction Type'", "warning")]
    assert "'Sales Receipt'" in skipped[0].message


def test_quickbooks_report_as_xlsx(ws, tmp_path) -> None:
    book = openpyxl.Workbook()
    sheet = book.active
    with QBO.open(encoding="utf-8") as f:
        for values in csv.reader(f):
            sheet.append([v if v else None for v in values])
    path = tmp_path / "sales.xlsx"
    book.save(path)
    batch = import_tabular(ws, path, "quickbooks", dry_run=True)
    assert sorted(batch.added) == ["1001", "1002", "1003", "1005"]
    out = preview_tabular(ws, path, "quickbooks", rows=1)
    assert out["rows"][0]["customer"] == "City of Springfield" and out["rows"][0]["row"] == 7


def test_a_quickbooks_line_above_any_customer_row_is_named(ws, tmp_path) -> None:
    text = QBO.read_text(encoding="utf-8").replace(
        "City of Springfield,,,,,,,,,\n", "", 1)
    path = tmp_path / "nogroup.csv"
    path.write_text(text, encoding="utf-8")
    with pytest.raises(ImportRejected, match="no group row above names the customer") as err:
        import_tabular(ws, path, "quickbooks")
    assert err.value.findings[0].field == "row 6, customer"    # the file has no Customer column


def test_sap_gui_spreadsheet_export(ws, tmp_path) -> None:
    assert SAP_GUI.read_bytes()[:2] == b"\xff\xfe"
    batch = import_tabular(ws, SAP_GUI, "sap")
    assert sorted(batch.added) == ["2025/1800000123", "2026/1800000123", "2026/1800000124"]
    assert ws.store.get_invoice("2026/1800000123").total == D("14875.00")
    assert ws.store.get_invoice("2025/1800000123").total == D("1190.00")
    assert ws.store.get_invoice("2026/1800000124").total == D("-1190.00")
    kinds = _kinds(ws)
    assert kinds["2026/1800000124"] == "credit-note" and kinds["2026/1800000123"] == "invoice"
    # the payment is not stored as a credit note: left out, the row named
    assert all("1400000007" not in n for n in kinds)
    (skip,) = [f for f in batch.findings if f.code == "W-ROW-SKIPPED"]
    assert skip.field == "row 7, column 'Document Type'" and "'DZ'" in skip.message
    with ws.store.session() as s:
        ext = s.scalar(select(InvoiceOriginRow.external_id).join(
            InvoiceRow, InvoiceOriginRow.invoice_id == InvoiceRow.id).where(
            InvoiceRow.number == "2026/1800000123"))
    assert ext == "1000/2026/1800000123"           # company code, fiscal year, number
    again = import_tabular(ws, SAP_GUI, "sap")
    assert sorted(again.unchanged) == sorted(batch.added)


def test_an_unknown_sap_document_type_is_named(ws, tmp_path) -> None:
    path = tmp_path / "fbl5n.txt"
    shutil.copy(SAP_GUI, path)
    path.write_bytes(path.read_bytes().decode("utf-16").replace("\tDG\t", "\tXX\t").encode("utf-16"))
    with pytest.raises(ImportRejected, match="document type 'XX' is not one the mapping knows") as err:
        import_tabular(ws, path, "sap")
    assert err.value.findings[0].field == "row 6, column 'Document Type'"
