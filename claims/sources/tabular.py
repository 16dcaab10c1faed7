"""Accounting exports (CSV / XLSX) through saved column mappings.

A :class:`Mapping` names which column holds which invoice field, and how the export writes dates
and numbers (locale). Built-in mappings (:mod:`claims.sources.mappings`) read QuickBooks Online's
Sales by Customer Detail report, SAP FBL5N and Oracle Receivables exports; users add their own
in ``claims.toml``::

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
nothing is imported unless every row is good. A row whose document type the mapping marks
``skip`` (a payment, a cash sale) is not an invoice: it is left out with a warning naming it.
Files may be UTF-8 or UTF-16 (a byte-order mark says which), comma-, semicolon- or
tab-separated (the mapping's delimiter, else a tab if that is what the header row uses).
"""

from __future__ import annotations

import csv
import difflib
import io
from collections.abc import Callable, Iterator, Sequence
from datetime import date, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any, Literal

from claims.core.importers import regular_file
from claims.errors import InputError, UnknownName
from claims.core.models import InvoiceLine
from claims.core.money import CURRENCIES
from claims.sources.common import (
    ContactRef, CustomerRef, ImportFinding, ImportRejected, SourceInvoice, make_invoice, money2,
    plain,
)
from claims.sources import numbers
from claims.sources.en16931 import negate
from claims.sources.mappings import BUILTIN
from claims.sources.settings import InvoiceImportSettings, Mapping

REQUIRED = ("number", "issue_date", "customer")
_HEADER_FIELDS = ("issue_date", "due_date", "currency", "customer", "customer_id", "tax_id",
                  "customer_email", "contact_name", "contact_email", "contract_number",
                  "period_start", "period_end", "doc_type", "company_code")
#: the key under which a row carries the customer named by the group row above it
GROUP = "\x00group"


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
    """The header and the data rows of a CSV or XLSX file (rows numbered as in the file).
    With ``mapping.group_rows``, see :func:`_records`."""
    regular_file(path)
    if path.suffix.lower() in (".xlsx", ".xlsm"):
        header, raw = _xlsx_rows(path, mapping)
    else:
        header, raw = _csv_rows(path, mapping)
    return header, _records(header, raw, mapping)


def decode(data: bytes, mapping: Mapping, file: str) -> str:
    """The text of a CSV file: UTF-16 or UTF-8 when a byte-order mark says so (SAP GUI writes
    UTF-16LE with one), else the mapping's encoding."""
    encoding = mapping.encoding
    if data.startswith((b"\xff\xfe", b"\xfe\xff")):
        encoding = "utf-16"
    elif data.startswith(b"\xef\xbb\xbf"):
        encoding = "utf-8-sig"
    try:
        return data.decode(encoding)
    except UnicodeDecodeError as err:
        raise InputError(f"not {encoding} text (byte {err.start})", file=file,
                         rule="encoding") from err


def _delimiter(text: str, mapping: Mapping) -> str:
    """The mapping's delimiter, or a tab if a header row (of the first lines) is tab-separated
    and not split by the mapping's delimiter."""
    if mapping.delimiter == "\t":
        return "\t"
    needed = _needed(mapping)
    for line in text.splitlines()[:HEADER_SEARCH_ROWS]:
        if needed <= {c.strip() for c in line.split(mapping.delimiter)}:
            return mapping.delimiter
        if needed <= {c.strip().strip('"') for c in line.split("\t")}:
            return "\t"
    return mapping.delimiter


def _csv_rows(path: Path, mapping: Mapping) -> tuple[list[str], Iterator[tuple[int, list[Any]]]]:
    try:
        data = path.read_bytes()
    except OSError as err:
        raise InputError(f"cannot read: {err.strerror}", file=str(path), rule="readable") from err
    text = decode(data, mapping, str(path))
    reader = csv.reader(io.StringIO(text, newline=""), delimiter=_delimiter(text, mapping))
    try:
        header = find_header(reader, mapping)
    except StopIteration:
        raise InputError("is empty", file=str(path), rule="csv-header") from None
    except SkippedEverything as err:
        raise err.refusal(str(path)) from None
    except csv.Error as err:
        raise InputError(f"not CSV: {err}", file=str(path), rule="csv-syntax") from err

    def rows() -> Iterator[tuple[int, list[Any]]]:
        try:
            for values in reader:
                if not any(v.strip() for v in values):
                    continue
                if len(values) != len(header) and not (_grouping(header, mapping)
                                                       and values[0].strip()):
                    raise InputError(f"has {len(values)} fields, the header {len(header)}",
                                     file=str(path), field=f"row {reader.line_num}",
                                     rule="csv-shape")
                yield reader.line_num, values
        except csv.Error as err:
            raise InputError(f"not CSV: {err}", file=str(path),
                             field=f"row {reader.line_num}", rule="csv-syntax") from err
    return header, rows()


def _xlsx_rows(path: Path, mapping: Mapping) -> tuple[list[str], Iterator[tuple[int, list[Any]]]]:
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
    except SkippedEverything as err:
        raise err.refusal(str(path)) from None

    def rows() -> Iterator[tuple[int, list[Any]]]:
        for n, values in enumerate(it, start=counted.n + 1):
            if all(v is None or str(v).strip() == "" for v in values):
                continue
            yield n, [*values, *([None] * (len(header) - len(values)))]
        book.close()
    return header, rows()


def _grouping(header: Sequence[str], mapping: Mapping) -> bool:
    """A report layout: the mapping says so and the header's first cell is empty (the column
    where a report writes its group and total labels)."""
    return mapping.group_rows and bool(header) and header[0] == ""


def _records(header: list[str], raw: Iterator[tuple[int, list[Any]]],
             mapping: Mapping) -> Iterator[Row]:
    """Rows as header → value. In a report layout (:func:`_grouping`) a row with text in its
    first cell is a label: ``TOTAL``, ``Total for …`` or one with amounts is a subtotal,
    dropped; any other names the group (the customer) of the rows below it, carried by each
    of them under :data:`GROUP` (a footer line names a group with no rows)."""
    grouping, group = _grouping(header, mapping), ""
    for n, values in raw:
        if grouping and _text(values[0]):
            first = _text(values[0])
            subtotal = first == "TOTAL" or first.startswith("Total for ") or any(
                _text(v) for v in values[1:])
            if not subtotal:
                group = first
            continue
        row = dict(zip(header, values, strict=False))
        if grouping:
            row[GROUP] = group
        yield n, row


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


class SkippedEverything(Exception):
    """``skip_rows`` reaches past the last row: no header row is left to read."""

    def __init__(self, rows: int, skip: int) -> None:
        super().__init__(rows, skip)
        self.rows, self.skip = rows, skip

    def refusal(self, file: str) -> InputError:
        """The one-line error naming the file, its row count and the skip that passed it."""
        return InputError(f"has {self.rows} row(s); skipping {self.skip} (--skip-rows or the "
                          "mapping's skip_rows) skips them all, leaving no header row",
                          file=file, field="--skip-rows", rule="skip-rows")


#: how far down a header is looked for (title lines, a report's heading, blank rows)
HEADER_SEARCH_ROWS = 30


def find_header(rows: Iterator[Sequence[Any]], mapping: Mapping) -> list[str]:
    """The header row: after ``mapping.skip_rows`` rows if given, else the first row (of the
    first :data:`HEADER_SEARCH_ROWS`) whose cells hold every required column of the mapping;
    when none does, the first non-empty row (and the column check names what is missing)."""
    def cells(values: Sequence[Any]) -> list[str]:
        return [str(v).strip() if v is not None else "" for v in values]

    if mapping.skip_rows is not None:
        values: Sequence[Any] | None = None
        for read in range(mapping.skip_rows + 1):
            values = next(rows, None)
            if values is None:
                if read == 0:
                    raise StopIteration  # no row at all: the file is empty
                raise SkippedEverything(read, mapping.skip_rows)
        return cells(values)
    needed = _needed(mapping)
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


def _needed(mapping: Mapping) -> set[str]:
    """The columns a file must have: the mapping's, less its optional ones."""
    return {c for f, c in mapping.columns.items() if f not in mapping.optional}


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

def parse_amount(raw: Any, mapping: Mapping) -> Decimal | None:
    """A Decimal from an export's number in the mapping's declared notation (``1.234,50``,
    ``(12.00)``, ``12,00-``) or None if empty; ``ValueError`` if it is not a number in it
    (the one rule: :func:`claims.sources.numbers.parse_amount`)."""
    declared = mapping.locale is not None or bool({"decimal", "thousands"}
                                                  & mapping.model_fields_set)
    return numbers.parse_amount(raw, mapping.decimal, mapping.thousands, declared=declared)


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
    """The header and the first ``rows`` rows as the mapping reads them (for a quick look; a
    report's group row gives the customer)."""
    header, it = read_rows(path, mapping)
    _check_columns(header, mapping, name, str(path))
    out = []
    for n, row in it:
        shown = {field: _text(row.get(col)) for field, col in mapping.columns.items()}
        if not shown.get("customer") and row.get(GROUP):
            shown["customer"] = row[GROUP]
        out.append({"row": n, **shown})
        if len(out) >= rows:
            break
    return {"file": str(path), "mapping": name, "columns": header, "rows": out}


class TabularInvoices(list[SourceInvoice]):
    """The invoices of an export, and the warnings about rows left out (``findings``: a
    payment, a cash sale), which belong to the import, not to any invoice."""

    def __init__(self, items: list[SourceInvoice], findings: list[ImportFinding]) -> None:
        super().__init__(items)
        self.findings = findings


_DATES = ("issue_date", "due_date", "period_start", "period_end")
_AMOUNTS = ("quantity", "unit_price", "line_net", "vat_percent", "line_vat", "net", "vat",
            "total")


def _values(row: dict[str, Any], cols: dict[str, str], mapping: Mapping,
            bad: Callable[[str, str], None]) -> dict[str, Any]:
    """One row's fields, parsed; each bad value reported through ``bad(field, message)``."""
    values: dict[str, Any] = {}
    for field, col in cols.items():
        raw = row.get(col)
        try:
            if field in _DATES:
                values[field] = parse_date(raw, mapping)
            elif field in _AMOUNTS:
                values[field] = parse_amount(raw, mapping)
            else:
                values[field] = _text(raw)
        except ValueError as err:
            bad(field, str(err))
    if not values.get("customer") and row.get(GROUP):
        values["customer"] = row[GROUP]       # the report's group row above this one
    currency = (values.get("currency") or mapping.currency or "").upper()
    if "currency" not in values and not mapping.currency:
        bad("currency", "no currency column and the mapping names no currency")
    elif currency not in CURRENCIES:
        bad("currency", f"unknown currency {currency!r} (ISO 4217 code expected)")
    values["currency"] = currency
    for field in REQUIRED:
        if not values.get(field) and (field in values or field == "customer"):
            bad(field, "is empty" + (" and no group row above names the customer"
                                     if field == "customer" and mapping.group_rows else ""))
    return values


def _key(values: dict[str, Any], mapping: Mapping) -> str:
    """The stored invoice number: ``mapping.number_format`` over the row (a fiscal year not
    exported is the year of the document date)."""
    year = values.get("fiscal_year") or (values["issue_date"].year
                                         if values.get("issue_date") else "")
    return mapping.number_format.format(number=values.get("number") or "", fiscal_year=year,
                                        company_code=values.get("company_code") or "")


def read_tabular(path: Path, mapping: Mapping, name: str, *, source: str) -> list[SourceInvoice]:
    """Invoices from an export, all rows checked; :class:`ImportRejected` lists every bad
    row and column if any is wrong. Rows of a document type the mapping skips are left out,
    each with a warning (returned as :class:`TabularInvoices`)."""
    file = str(path)
    header, rows = read_rows(path, mapping)
    _check_columns(header, mapping, name, file)
    cols = present_columns(header, mapping)
    findings: list[ImportFinding] = []
    skipped: list[ImportFinding] = []
    groups: dict[str, dict[str, Any]] = {}

    for n, row in rows:
        def bad(field: str, message: str, n: int = n) -> None:
            where = f"column {cols[field]!r}" if field in cols else field
            findings.append(ImportFinding("E-ROW", "error", message, file, f"row {n}, {where}"))
        doc_type = _text(row.get(cols["doc_type"])) if "doc_type" in cols else ""
        kind = mapping.kinds.get(doc_type) if doc_type else None
        if doc_type and mapping.kinds and kind is None:
            bad("doc_type", f"document type {doc_type!r} is not one the mapping knows "
                f"({', '.join(f'{k}: {v}' for k, v in mapping.kinds.items())})")
            continue
        if kind == "skip":
            skipped.append(ImportFinding(
                "W-ROW-SKIPPED", "warning", f"document type {doc_type!r} is not an invoice "
                "or a credit note (a payment or a paid sale): not imported", file,
                f"row {n}, column {cols['doc_type']!r}"))
            continue
        values = _values(row, cols, mapping, bad)
        values["kind"] = kind
        if not values.get("number"):
            continue
        number = _key(values, mapping)
        group = groups.get(number)
        if group is None:
            groups[number] = group = {"row": n, "head": values, "lines": []}
        else:
            for field in _HEADER_FIELDS:
                if field in values and values.get(field) != group["head"].get(field):
                    bad(field, f"{values.get(field)!s} differs from row {group['row']}'s "
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
        raise InputError("has no invoice rows" + (f" ({len(skipped)} row(s) skipped: "
                         "not invoices)" if skipped else ""), file=file, rule="no-rows")
    return TabularInvoices(items, skipped)


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
    kind, notes = _kind(invoice, head, file, first_row, mapping)
    if kind == "credit-note" and invoice.total > 0:
        invoice = negate(invoice)     # a credit memo printed positive still owes the other way
    company = head.get("company_code")
    return SourceInvoice(invoice=invoice, origin=f"{file} row {first_row}", kind=kind,
                         external_id=f"{company}/{number}" if company else number,
                         customer=ref, findings=notes,
                         extra={"rows": [n for n, _ in group["lines"]],
                                **({"doc_type": head["doc_type"]} if head.get("doc_type")
                                   else {})})


def _kind(invoice: Any, head: dict[str, Any], file: str, row: int,
          mapping: Mapping) -> tuple[Literal["invoice", "credit-note"], list[ImportFinding]]:
    """What the document is: its type's kind when the mapping names one, else by its sign
    (exports carry credit memos as negative invoices; they are kept negative, marked). An
    invoice type with a negative total is kept as a credit note, with a warning."""
    kind = head.get("kind")
    if kind == "credit-note" or (kind is None and invoice.total < 0):
        return "credit-note", []
    if invoice.total < 0:
        return "credit-note", [ImportFinding(
            "W-ROW-KIND", "warning", f"document type {head.get('doc_type')!r} is an invoice "
            f"but its total is negative ({plain(invoice.total)}): kept as a credit note", file,
            f"row {row}, column {mapping.columns.get('doc_type')!r}")]
    return "invoice", []
