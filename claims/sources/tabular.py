"""Accounting exports (CSV / XLSX) through saved column mappings.

A :class:`Mapping` names which column holds which invoice field, and how the export writes dates
and numbers (locale). Built-in mappings cover typical QuickBooks, SAP (FBL5N) and Oracle
Receivables exports; users add their own in ``claims.toml``::

    [invoice_import.mappings.my-erp]
    date_format = "%d/%m/%Y"
    decimal = ","
    thousands = " "
    [invoice_import.mappings.my-erp.columns]
    number = "Invoice"
    issue_date = "Date"
    customer = "Client"
    total = "Total"
    vat = "VAT"

Every row is checked; all problems are reported at once, each naming its row and column, and
nothing is imported unless every row is good.
"""

from __future__ import annotations

import csv
import difflib
import io
import re
from collections.abc import Iterator, Sequence
from datetime import date, datetime
from decimal import Decimal, InvalidOperation
from pathlib import Path
from typing import Any

from claims.core.importers import regular_file
from claims.errors import InputError, UnknownName
from claims.core.models import InvoiceLine
from claims.core.money import CURRENCIES
from claims.sources.common import (
    ContactRef, CustomerRef, ImportFinding, ImportRejected, SourceInvoice, make_invoice, money2,
)
from claims.sources.settings import InvoiceImportSettings, Mapping

REQUIRED = ("number", "issue_date", "customer")
_HEADER_FIELDS = ("issue_date", "due_date", "currency", "customer", "customer_id", "tax_id",
                  "customer_email", "contact_name", "contact_email", "contract_number",
                  "period_start", "period_end")


BUILTIN: dict[str, Mapping] = {
    "quickbooks": Mapping(
        description="QuickBooks Online: Sales by customer detail / invoice lines export",
        columns={"number": "Num", "issue_date": "Date", "due_date": "Due Date",
                 "customer": "Customer", "currency": "Currency", "description": "Memo/Description",
                 "quantity": "Qty", "unit_price": "Sales Price", "line_net": "Amount",
                 "line_vat": "Tax Amount", "customer_email": "Email"},
        date_format="%m/%d/%Y", decimal=".", thousands=","),
    "sap": Mapping(
        description="SAP FBL5N customer line items (German locale)",
        columns={"number": "Document Number", "issue_date": "Document Date",
                 "due_date": "Net Due Date", "customer_id": "Customer", "customer": "Name 1",
                 "tax_id": "VAT Registration No.", "currency": "Document currency",
                 "total": "Amount in doc. curr.", "vat": "Tax amount",
                 "contract_number": "Assignment"},
        date_format="%d.%m.%Y", decimal=",", thousands=".", delimiter=";"),
    "oracle": Mapping(
        description="Oracle Receivables transactions export (one row per line)",
        columns={"number": "Transaction Number", "issue_date": "Transaction Date",
                 "due_date": "Due Date", "customer": "Bill-to Customer Name",
                 "customer_id": "Bill-to Customer Number", "tax_id": "Taxpayer ID",
                 "currency": "Currency", "description": "Line Description",
                 "quantity": "Quantity", "unit_price": "Unit Selling Price",
                 "line_net": "Line Amount", "vat_percent": "Tax Rate", "line_vat": "Tax Amount",
                 "contract_number": "Contract Number"},
        optional=["contract_number", "tax_id", "customer_id"],
        date_format="%d-%b-%Y", decimal=".", thousands=","),
}


def mappings(section: InvoiceImportSettings) -> dict[str, Mapping]:
    """Built-in mappings plus the user's (``[invoice_import.mappings.<name>]``, which win)."""
    return {**BUILTIN, **section.mappings}


def get_mapping(name: str, section: InvoiceImportSettings) -> Mapping:
    """The mapping called ``name`` (a did-you-mean error if there is none)."""
    known = mappings(section)
    if name not in known:
        raise UnknownName("mapping", name, known, field="--mapping")
    return known[name]


# -- reading rows ---------------------------------------------------------------------------------

Row = tuple[int, dict[str, Any]]     # (row number as the user sees it, header → raw value)


def read_rows(path: Path, mapping: Mapping) -> tuple[list[str], Iterator[Row]]:
    """The header and the data rows of a CSV or XLSX file (rows numbered as in the file)."""
    suffix = path.suffix.lower()
    regular_file(path)
    if suffix in (".xlsx", ".xlsm"):
        return _xlsx_rows(path, mapping)
    try:
        text = path.read_bytes().decode(mapping.encoding)
    except OSError as err:
        raise InputError(f"cannot read: {err.strerror}", file=str(path), rule="readable") from err
    except UnicodeDecodeError as err:
        raise InputError(f"not {mapping.encoding} text (byte {err.start})", file=str(path),
                         rule="encoding") from err
    reader = csv.reader(io.StringIO(text, newline=""), delimiter=mapping.delimiter)
    try:
        header = find_header(reader, mapping)
    except StopIteration:
        raise InputError("is empty", file=str(path), rule="csv-header") from None
    except csv.Error as err:
        raise InputError(f"not CSV: {err}", file=str(path), rule="csv-syntax") from err

    def rows() -> Iterator[Row]:
        try:
            for values in reader:
                if not any(v.strip() for v in values):
                    continue
                if len(values) != len(header):
                    raise InputError(f"has {len(values)} fields, the header {len(header)}",
                                     file=str(path), field=f"row {reader.line_num}",
                                     rule="csv-shape")
                yield reader.line_num, dict(zip(header, values, strict=True))
        except csv.Error as err:
            raise InputError(f"not CSV: {err}", file=str(path),
                             field=f"row {reader.line_num}", rule="csv-syntax") from err
    return header, rows()


def _xlsx_rows(path: Path, mapping: Mapping) -> tuple[list[str], Iterator[Row]]:
    from zipfile import BadZipFile

    import openpyxl

    try:
        book = openpyxl.load_workbook(path, read_only=True, data_only=True)
    except (BadZipFile, OSError, KeyError, ValueError) as err:
        raise InputError(f"not a readable XLSX workbook ({err})", file=str(path),
                         rule="xlsx") from err
    if mapping.sheet and mapping.sheet not in book.sheetnames:
        raise UnknownName("sheet", mapping.sheet, book.sheetnames, file=str(path))
    sheet = book[mapping.sheet] if mapping.sheet else book.worksheets[0]
    it = iter(sheet.iter_rows(values_only=True))
    counted = _Counting(it)
    try:
        header = find_header(counted, mapping)
    except StopIteration:
        raise InputError("the sheet is empty", file=str(path), rule="xlsx-header") from None

    def rows() -> Iterator[Row]:
        for n, values in enumerate(it, start=counted.n + 1):
            if all(v is None or str(v).strip() == "" for v in values):
                continue
            yield n, dict(zip(header, values, strict=False))
        book.close()
    return header, rows()


class _Counting:
    """An iterator that counts what it handed out (the header's row number)."""

    def __init__(self, it: Iterator[Any]) -> None:
        self.it, self.n = it, 0

    def __iter__(self) -> _Counting:
        return self

    def __next__(self) -> Any:
        value = next(self.it)
        self.n += 1
        return value


#: how far down a header is looked for (title lines, a report's heading, blank rows)
HEADER_SEARCH_ROWS = 30


def find_header(rows: Iterator[Sequence[Any]], mapping: Mapping) -> list[str]:
    """The header row: after ``mapping.skip_rows`` rows if given, else the first row (of the
    first :data:`HEADER_SEARCH_ROWS`) whose cells hold every required column of the mapping;
    when none does, the first non-empty row (and the column check names what is missing)."""
    def cells(values: Sequence[Any]) -> list[str]:
        return [str(v).strip() if v is not None else "" for v in values]

    if mapping.skip_rows is not None:
        for _ in range(mapping.skip_rows):
            next(rows)
        return cells(next(rows))
    needed = {c for f, c in mapping.columns.items() if f not in mapping.optional}
    first: list[str] | None = None
    for _ in range(HEADER_SEARCH_ROWS):
        values = next(rows, None)
        if values is None:
            break
        row = cells(values)
        if needed <= set(row):
            return row
        if first is None and any(row):
            first = row
    if first is None:
        raise StopIteration
    return first


def present_columns(header: Sequence[str], mapping: Mapping) -> dict[str, str]:
    """The mapping's columns this file has (an optional column may be absent)."""
    return {f: c for f, c in mapping.columns.items() if c in header or f not in mapping.optional}


def _check_columns(header: Sequence[str], mapping: Mapping, name: str, file: str) -> None:
    missing_fields = [f for f in REQUIRED if f not in mapping.columns]
    if missing_fields:
        raise InputError(f"mapping {name!r} maps no column to {', '.join(missing_fields)}",
                         file=file, field="--mapping", rule="mapping-required-fields")
    if not any(f in mapping.columns for f in ("total", "net", "line_net", "unit_price")):
        raise InputError(f"mapping {name!r} maps no amount (total, net, line_net or unit_price)",
                         file=file, field="--mapping", rule="mapping-required-fields")
    absent = [c for c in present_columns(header, mapping).values() if c not in header]
    if absent:
        hints = []
        for col in absent:
            near = difflib.get_close_matches(col, header, n=1, cutoff=0.6)
            hints.append(f"{col!r}" + (f" (did you mean {near[0]!r}?)" if near else ""))
        raise InputError(f"mapping {name!r} expects column(s) {', '.join(hints)} that the file "
                         f"does not have; its columns: {', '.join(repr(h) for h in header)}",
                         file=file, field="header", rule="mapping-columns")


# -- values ---------------------------------------------------------------------------------------

_NEG_PAREN = re.compile(r"^\((.*)\)$")


def parse_amount(raw: Any, mapping: Mapping) -> Decimal | None:
    """A Decimal from an export's number (``1.234,50``, ``(12.00)``, ``12,00-``) or None if
    empty; ``ValueError`` if it is not a number."""
    if raw is None:
        return None
    if isinstance(raw, bool):
        raise ValueError(f"{raw!r} is not a number")
    if isinstance(raw, int):
        return Decimal(raw)
    if isinstance(raw, float):
        # openpyxl hands numeric cells over as floats; repr() is the shortest string that
        # round-trips, i.e. the number the sheet shows, so no binary noise gets in
        return Decimal(repr(raw))  # ok: converting the spreadsheet's float exactly once
    text = str(raw).strip().replace("\u00a0", " ")
    if not text:
        return None
    negative = False
    if m := _NEG_PAREN.match(text):
        text, negative = m[1].strip(), True
    if text.endswith("-"):
        text, negative = text[:-1].strip(), not negative
    if mapping.thousands:
        text = text.replace(mapping.thousands, "")
    if mapping.decimal == ",":
        text = text.replace(",", ".")
    elif "," in text:
        raise ValueError(f"{raw!r} has a ',' but the mapping's decimal separator is '.'")
    try:
        value = Decimal(text)
    except InvalidOperation:
        raise ValueError(f"{raw!r} is not a number (decimal '{mapping.decimal}', thousands "
                         f"'{mapping.thousands}')") from None
    if not value.is_finite():
        raise ValueError(f"{raw!r} is not a finite number")
    return -value if negative else value


def parse_date(raw: Any, mapping: Mapping) -> date | None:
    """A date from an export's cell (text in the mapping's format, or an XLSX date)."""
    if raw is None:
        return None
    if isinstance(raw, datetime):
        return raw.date()
    if isinstance(raw, date):
        return raw
    text = str(raw).strip()
    if not text:
        return None
    try:
        return datetime.strptime(text, mapping.date_format).date()
    except ValueError:
        raise ValueError(f"{text!r} is not a date in the format {mapping.date_format}") from None


def _text(raw: Any) -> str:
    return "" if raw is None else str(raw).strip()


# -- the import -----------------------------------------------------------------------------------

def preview(path: Path, mapping: Mapping, name: str, rows: int = 5) -> dict[str, Any]:
    """The header and the first ``rows`` rows as the mapping reads them (for a quick look)."""
    header, it = read_rows(path, mapping)
    _check_columns(header, mapping, name, str(path))
    out = []
    for n, row in it:
        out.append({"row": n, **{field: _text(row.get(col)) for field, col in
                                 mapping.columns.items()}})
        if len(out) >= rows:
            break
    return {"file": str(path), "mapping": name, "columns": header, "rows": out}


def read_tabular(path: Path, mapping: Mapping, name: str, *, source: str) -> list[SourceInvoice]:
    """Invoices from an export, all rows checked; :class:`ImportRejected` lists every bad
    row and column if any is wrong."""
    file = str(path)
    header, rows = read_rows(path, mapping)
    _check_columns(header, mapping, name, file)
    cols = present_columns(header, mapping)
    findings: list[ImportFinding] = []
    groups: dict[str, dict[str, Any]] = {}

    def bad(n: int, field: str, message: str) -> None:
        findings.append(ImportFinding("E-ROW", "error", message, file,
                                      f"row {n}, column {cols.get(field, field)!r}"))

    for n, row in rows:
        values: dict[str, Any] = {}
        for field, col in cols.items():
            raw = row.get(col)
            try:
                if field in ("issue_date", "due_date", "period_start", "period_end"):
                    values[field] = parse_date(raw, mapping)
                elif field in ("quantity", "unit_price", "line_net", "vat_percent", "line_vat",
                               "net", "vat", "total"):
                    values[field] = parse_amount(raw, mapping)
                else:
                    values[field] = _text(raw)
            except ValueError as err:
                bad(n, field, str(err))
        currency = (values.get("currency") or mapping.currency or "").upper()
        if "currency" not in values and not mapping.currency:
            bad(n, "currency", "no currency column and the mapping names no currency")
        elif currency not in CURRENCIES:
            bad(n, "currency", f"unknown currency {currency!r} (ISO 4217 code expected)")
        values["currency"] = currency
        for field in REQUIRED:
            if field in cols and not values.get(field) and field in values:
                bad(n, field, "is empty")
        number = values.get("number") or ""
        if not number:
            continue
        group = groups.get(number)
        if group is None:
            groups[number] = group = {"row": n, "head": values, "lines": []}
        else:
            for field in _HEADER_FIELDS:
                if field in values and values.get(field) != group["head"].get(field):
                    bad(n, field, f"{values.get(field)!s} differs from row {group['row']}'s "
                        f"{group['head'].get(field)!s} for invoice {number}")
        group["lines"].append((n, values))

    items: list[SourceInvoice] = []
    for number, group in groups.items():
        item = _invoice(number, group, mapping, file, source, findings)
        if item is not None:
            items.append(item)
    if any(f.severity == "error" for f in findings):
        raise ImportRejected(findings, file=file)
    if not items:
        raise InputError("has no invoice rows", file=file, rule="no-rows")
    return items


def _invoice(number: str, group: dict[str, Any], mapping: Mapping, file: str, source: str,
             findings: list[ImportFinding]) -> SourceInvoice | None:
    head, cols = group["head"], mapping.columns
    first_row = group["row"]

    def bad(n: int, field: str, message: str) -> None:
        findings.append(ImportFinding("E-ROW", "error", message, file,
                                      f"row {n}, column {cols.get(field, field)!r}"))

    lines: list[InvoiceLine] = []
    for n, v in group["lines"]:
        qty, price = v.get("quantity"), v.get("unit_price")
        line_net = v.get("line_net")
        if line_net is None and qty is not None and price is not None:
            line_net = money2(qty * price)
        if line_net is None:
            net = v.get("net")
            if net is None and v.get("total") is not None:
                total = v["total"]
                net = total - (v.get("vat") or Decimal(0)) if mapping.vat_included_in_total \
                    else total
            if net is None:
                bad(n, "line_net", "no amount: line net, quantity × unit price, net or total")
                continue
            line_net = net
            line_vat = v.get("vat") if v.get("vat") is not None else v.get("line_vat")
        else:
            line_vat = v.get("line_vat")
        pct = v.get("vat_percent")
        if line_vat is None:
            line_vat = money2(line_net * pct / 100) if pct is not None else Decimal(0)
        lines.append(InvoiceLine(description=v.get("description") or f"{number}",
                                 quantity=qty if qty is not None else Decimal(1),
                                 unit_price=price if price is not None else line_net,
                                 net=line_net, vat_percent=pct, vat=line_vat))
    if not lines:
        return None
    net = sum((ln.net for ln in lines), Decimal(0))
    vat = sum((ln.vat for ln in lines), Decimal(0))
    total = net + vat
    totals = [v["total"] for _, v in group["lines"] if v.get("total") is not None]
    printed_total: Decimal | None = None
    if totals and ("line_net" in cols or "unit_price" in cols):
        printed_total = totals[0]    # the invoice's total, repeated on each of its line rows
    elif totals:
        printed_total = sum(totals, Decimal(0))
    if printed_total is not None and mapping.vat_included_in_total and printed_total != total:
        bad(first_row, "total", f"invoice {number}: total {printed_total} is not net {net} + "
            f"VAT {vat} = {total}")
    if not head.get("issue_date"):
        return None
    customer = head.get("customer") or ""
    contacts: tuple[ContactRef, ...] = ()
    if head.get("contact_email") or head.get("contact_name"):
        contacts = (ContactRef(name=head.get("contact_name") or "",
                               email=head.get("contact_email") or None),)
    try:
        invoice = make_invoice(dict(
            number=number, issue_date=head["issue_date"], due_date=head.get("due_date"),
            currency=head["currency"], customer=customer,
            contract_number=head.get("contract_number") or None,
            period_start=head.get("period_start"), period_end=head.get("period_end"),
            lines=lines, net=net, vat=vat, total=total, source=source), file=file,
            where=f"row {first_row}")
    except InputError as err:
        findings.append(ImportFinding("E-ROW", "error", str(err), file, f"row {first_row}"))
        return None
    ref = CustomerRef(name=customer, external_id=head.get("customer_id") or None,
                      tax_id=head.get("tax_id") or None,
                      email=head.get("customer_email") or None, contacts=contacts)
    # exports carry credit memos as negative invoices; they are kept negative, marked
    return SourceInvoice(invoice=invoice, origin=f"{file} row {first_row}",
                         kind="credit-note" if total < 0 else "invoice",
                         external_id=number, customer=ref,
                         extra={"rows": [n for n, _ in group["lines"]]})
