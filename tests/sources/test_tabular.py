# ruff: noqa: E501  (invoice data: XML, CSV rows and expected tables read best unwrapped)
"""Accounting exports: built-in QuickBooks / SAP / Oracle mappings, user mappings, locales,
errors per row and column, all or nothing."""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path

import pytest
from sqlalchemy import func, select

from claims.errors import InputError, UnknownName
from claims.sources.api import import_tabular, preview_tabular
from claims.sources.common import ImportRejected
from claims.store.tables.sources import InvoiceImportRow
from claims.store.tables import ContactRow, CustomerRow, InvoiceRow

D = Decimal

QB = """Date,Num,Customer,Email,Due Date,Currency,Memo/Description,Qty,Sales Price,Amount,Tax Amount
03/01/2026,1001,Ministry of Works,ap@works.gov,03/31/2026,USD,Consulting,10,"1,200.00","12,000.00",1800.00
03/01/2026,1001,Ministry of Works,ap@works.gov,03/31/2026,USD,Travel,1,350.50,350.50,52.58
03/05/2026,1002,City of Springfield,,04/04/2026,USD,Design,2,500,1000.00,0
"""

SAP = """Customer;Name 1;VAT Registration No.;Document Number;Document Date;Net Due Date;Document currency;Amount in doc. curr.;Tax amount;Assignment
100042;Bundesamt für Bau;DE123456789;90000017;15.03.2026;14.04.2026;EUR;11.900,00;1.900,00;C-77
100042;Bundesamt für Bau;DE123456789;90000018;16.03.2026;15.04.2026;EUR;1.190,00-;190,00-;C-77
"""


def write(tmp_path: Path, name: str, text: str) -> Path:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


def test_quickbooks_lines_become_one_invoice_each(ws, tmp_path) -> None:
    batch = import_tabular(ws, write(tmp_path, "qb.csv", QB), "quickbooks")
    assert batch.added == ["1001", "1002"] and batch.customers_added == 2
    inv = ws.store.get_invoice("1001")
    assert [ln.net for ln in inv.lines] == [D("12000.00"), D("350.50")]
    assert (inv.net, inv.vat, inv.total) == (D("12350.50"), D("1852.58"), D("14203.08"))
    assert str(inv.issue_date) == "2026-03-01" and inv.currency == "USD"
    with ws.store.session() as s:
        assert s.scalar(select(CustomerRow.email).where(
            CustomerRow.name == "Ministry of Works")) == "ap@works.gov"


def test_sap_german_locale_and_credit_memo(ws, tmp_path) -> None:
    batch = import_tabular(ws, write(tmp_path, "fbl5n.csv", SAP), "sap")
    # no Fiscal Year column: the document date's year makes SAP's number unique
    assert batch.added == ["2026/90000017", "2026/90000018"] and batch.customers_added == 1
    inv = ws.store.get_invoice("2026/90000017")
    assert (inv.net, inv.vat, inv.total) == (D("10000.00"), D("1900.00"), D("11900.00"))
    assert inv.contract_number == "C-77" and inv.customer == "Bundesamt für Bau"
    assert ws.store.get_invoice("2026/90000018").total == D("-1190.00")


def test_oracle_xlsx_with_numeric_and_date_cells(ws, tmp_path) -> None:
    import datetime as dt

    import openpyxl

    book = openpyxl.Workbook()
    sheet = book.active
    sheet.append(["Transaction Number", "Transaction Date", "Due Date", "Bill-to Customer Name",
                  "Bill-to Customer Number", "Taxpayer ID", "Currency", "Line Description",
                  "Quantity", "Unit Selling Price", "Line Amount", "Tax Rate", "Tax Amount",
                  "Contract Number"])
    sheet.append(["AR-1", dt.datetime(2026, 3, 15), "14-APR-2026", "Ministry of Health", "C9",
                  "300000000000003", "SAR", "Maintenance", 3, 0.1, 0.3, 15, 0.05, "C-1"])
    sheet.append(["AR-1", dt.datetime(2026, 3, 15), "14-APR-2026", "Ministry of Health", "C9",
                  "300000000000003", "SAR", "Parts", 1, "1,000.10", "1,000.10", 15, "150.02",
                  "C-1"])
    path = tmp_path / "ar.xlsx"
    book.save(path)
    batch = import_tabular(ws, path, "oracle")
    assert batch.source == "xlsx" and batch.added == ["AR-1"]
    inv = ws.store.get_invoice("AR-1")
    assert inv.lines[0].net == D("0.3") and inv.lines[0].unit_price == D("0.1")  # no float noise
    assert (inv.net, inv.vat, inv.total) == (D("1000.40"), D("150.07"), D("1150.47"))
    assert str(inv.due_date) == "2026-04-14"


def test_user_mapping_from_claims_toml(ws, tmp_path) -> None:
    with ws.config_path.open("a", encoding="utf-8") as f:
        f.write('\n[invoice_import.mappings.myerp]\ndate_format = "%d/%m/%Y"\ndecimal = ","\n'
                'thousands = " "\ncurrency = "SAR"\n'
                '[invoice_import.mappings.myerp.columns]\nnumber = "Facture"\n'
                'issue_date = "Date"\ncustomer = "Client"\ntotal = "TTC"\nvat = "TVA"\n'
                'contact_email = "Courriel"\n')
    ws.__dict__.pop("settings", None)
    path = write(tmp_path, "erp.csv", 'Facture,Date,Client,TTC,TVA,Courriel\n'
                 'F-1,31/01/2026,Agence,"1 150,00","150,00",compta@agence.sa\n')
    batch = import_tabular(ws, path, "myerp")
    assert batch.added == ["F-1"] and batch.contacts_added == 1
    assert ws.store.get_invoice("F-1").net == D("1000.00")
    again = import_tabular(ws, path, "myerp")
    assert again.unchanged == ["F-1"] and again.customers_added == 0 and again.contacts_added == 0
    with ws.store.session() as s:
        assert s.scalar(select(func.count()).select_from(ContactRow)) == 1


def test_every_bad_row_and_column_is_reported_and_nothing_is_imported(ws, tmp_path) -> None:
    bad = QB + ("13/45/2026,1003,X,,03/31/2026,USD,a,1,10,10,0\n"
                "03/01/2026,1004,Y,,03/31/2026,XYZ,a,1,10,ten,0\n")
    with pytest.raises(ImportRejected) as err:
        import_tabular(ws, write(tmp_path, "bad.csv", bad), "quickbooks")
    where = {f.field for f in err.value.findings}
    assert "row 5, column 'Date'" in where
    assert "row 6, column 'Currency'" in where and "row 6, column 'Amount'" in where
    assert "'13/45/2026' is not a date in the format %m/%d/%Y" in str(err.value)
    with ws.store.session() as s:
        assert s.scalar(select(func.count()).select_from(InvoiceRow)) == 0
        assert s.scalar(select(func.count()).select_from(InvoiceImportRow)) == 0


def test_wrong_mapping_names_the_missing_columns(ws, tmp_path) -> None:
    with pytest.raises(InputError) as err:
        import_tabular(ws, write(tmp_path, "qb.csv", QB), "sap")
    assert err.value.rule == "mapping-columns" and "'Document Number'" in str(err.value)
    with pytest.raises(UnknownName, match="did you mean quickbooks"):
        import_tabular(ws, write(tmp_path, "qb.csv", QB), "quickbook")


def test_a_total_that_is_not_net_plus_vat_is_an_error(ws, tmp_path) -> None:
    with ws.config_path.open("a", encoding="utf-8") as f:
        f.write('\n[invoice_import.mappings.lines]\ncurrency = "EUR"\n'
                '[invoice_import.mappings.lines.columns]\nnumber = "No"\nissue_date = "Date"\n'
                'customer = "Customer"\nline_net = "Net"\nline_vat = "VAT"\ntotal = "Total"\n')
    ws.__dict__.pop("settings", None)
    head = "No,Date,Customer,Net,VAT,Total\n"
    good = write(tmp_path, "g.csv", head + "A,2026-01-01,X,100,20,170\nA,2026-01-01,X,40,10,170\n")
    assert import_tabular(ws, good, "lines", dry_run=True).added == ["A"]
    bad = write(tmp_path, "b.csv", head + "A,2026-01-01,X,100,20,171\nA,2026-01-01,X,40,10,171\n")
    with pytest.raises(ImportRejected, match="total 171 is not net 140 \\+ VAT 30 = 170") as err:
        import_tabular(ws, bad, "lines")
    assert err.value.findings[0].field == "row 2, column 'Total'"


def test_a_bad_user_mapping_is_named(ws, tmp_path) -> None:
    with ws.config_path.open("a", encoding="utf-8") as f:
        f.write('\n[invoice_import.mappings.oops.columns]\nnumbr = "No"\n')
    ws.__dict__.pop("settings", None)
    with pytest.raises(UnknownName, match="did you mean number") as err:
        import_tabular(ws, write(tmp_path, "qb.csv", QB), "quickbooks")
    assert err.value.field == "invoice_import.mappings.oops.columns"


def test_preview_shows_the_first_rows_as_mapped(ws, tmp_path) -> None:
    out = preview_tabular(ws, write(tmp_path, "qb.csv", QB), "quickbooks", rows=2)
    assert [r["row"] for r in out["rows"]] == [2, 3]
    assert out["rows"][1]["line_net"] == "350.50" and out["rows"][0]["customer"] == "Ministry of Works"


def test_ragged_csv_and_empty_files(ws, tmp_path) -> None:
    with pytest.raises(InputError, match="row 2: has 3 fields"):
        import_tabular(ws, write(tmp_path, "r.csv", QB.splitlines()[0] + "\n1,2,3\n"), "quickbooks")
    with pytest.raises(InputError, match="is empty"):
        import_tabular(ws, write(tmp_path, "e.csv", ""), "quickbooks")
    junk = tmp_path / "junk.xlsx"
    junk.write_bytes(b"not a zip")
    with pytest.raises(InputError, match="not a readable XLSX"):
        import_tabular(ws, junk, "oracle")


def test_the_header_is_found_below_title_lines(ws, tmp_path) -> None:
    titled = "Acme Ltd\nInvoice lines,,,\n\n" + QB
    batch = import_tabular(ws, write(tmp_path, "t.csv", titled), "quickbooks", dry_run=True)
    assert batch.added == ["1001", "1002"]


def test_skip_rows_gives_the_header_row(ws, tmp_path) -> None:
    path = write(tmp_path, "t.csv", "Report\nDate,Num\n" + QB)   # a decoy header first
    with pytest.raises(InputError, match="expects column"):
        import_tabular(ws, path, "quickbooks", skip_rows=1)
    assert import_tabular(ws, path, "quickbooks", skip_rows=2).added == ["1001", "1002"]
    out = preview_tabular(ws, path, "quickbooks", rows=1, skip_rows=2)
    assert out["rows"][0]["row"] == 4


def test_skip_rows_past_the_last_row_says_so_not_that_the_file_is_empty(ws, tmp_path) -> None:
    """--skip-rows 1000000 on a file of 4 rows: the file is not empty; the skip passed it."""
    path = write(tmp_path, "t.csv", "Report\nDate,Num\n" + QB)
    rows = len(("Report\nDate,Num\n" + QB).splitlines())
    for skip in (rows, 10**6):
        with pytest.raises(InputError) as err:
            import_tabular(ws, path, "quickbooks", skip_rows=skip)
        assert str(err.value) == (f"{path}: --skip-rows: has {rows} row(s); skipping {skip} "
                                  "(--skip-rows or the mapping's skip_rows) skips them all, "
                                  "leaving no header row [rule: skip-rows]")
    with pytest.raises(InputError, match=f"has {rows} row"):
        preview_tabular(ws, path, "quickbooks", rows=1, skip_rows=10**6)
    with pytest.raises(InputError, match="is empty"):  # an empty file is still empty
        import_tabular(ws, write(tmp_path, "e.csv", ""), "quickbooks", skip_rows=3)
    import openpyxl

    book = openpyxl.Workbook()
    book.active.append(["Title"])
    book.active.append(["Transaction Number", "Amount"])
    book.save(tmp_path / "short.xlsx")
    with pytest.raises(InputError, match=r"short.xlsx: --skip-rows: has 2 row\(s\); skipping 9"):
        import_tabular(ws, tmp_path / "short.xlsx", "oracle", skip_rows=9)


def test_oracle_without_the_optional_contract_number_column(ws, tmp_path) -> None:
    import openpyxl

    book = openpyxl.Workbook()
    sheet = book.active
    sheet.append(["Receivables transactions"])                      # a title row
    sheet.append(["Transaction Number", "Transaction Date", "Due Date", "Bill-to Customer Name",
                  "Currency", "Line Description", "Quantity", "Unit Selling Price",
                  "Line Amount", "Tax Rate", "Tax Amount"])
    sheet.append(["AR-2", "15-MAR-2026", "14-APR-2026", "Ministry", "SAR", "Parts", 1, 100,
                  100, 15, 15])
    path = tmp_path / "ar.xlsx"
    book.save(path)
    batch = import_tabular(ws, path, "oracle")
    assert batch.added == ["AR-2"] and ws.store.get_invoice("AR-2").contract_number is None
    assert batch.invoices == 1
