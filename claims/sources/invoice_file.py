"""Claimwright's own invoice files (what ``claims invoice add`` reads): JSON, YAML and CSV.

Three importers of the ``claims.invoice_sources`` group (:mod:`claims.core.importers`):

* ``json`` / ``yaml``: a list of invoices (or ``{invoices: [...]}``, or one invoice) in the
  shape of :class:`~claims.core.models.Invoice`; amounts as strings, never floats.
* ``claimwright-csv``: one row per invoice line, the invoice columns repeated on each of its
  rows (``number, issue_date, currency, description, quantity, unit_price, line_net, line_vat``
  required; ``due_date, customer, contract_number, period_start, period_end, net, vat, total,
  vat_percent`` optional). Recognised by that header, so a tabular export is not mistaken
  for one.

Every invoice is checked (model, no negative amounts, no number twice); the first problem is an
:class:`InputError` naming the file, the item (``/0`` or ``row 2``) and the field.
"""

from __future__ import annotations

import csv
from collections.abc import Mapping
from decimal import Decimal
from pathlib import Path
from typing import Any

from pydantic import ValidationError

from claims.core.importers import FileImporter, regular_file
from claims.core.models import Invoice
from claims.errors import InputError
from claims.lifecycle.intake import pydantic_error, read_structured
from claims.sources.common import CustomerRef, SourceInvoice, check_invoice

_CSV_INVOICE = ("number", "issue_date", "due_date", "currency", "customer", "contract_number",
                "period_start", "period_end", "net", "vat", "total")
_CSV_REQUIRED = frozenset({"number", "issue_date", "currency", "description", "quantity",
                           "unit_price", "line_net", "line_vat"})


def read_invoice_csv(path: Path) -> list[dict[str, Any]]:
    """The invoices of a Claimwright CSV as dicts (``lines`` and the first ``_row`` each)."""
    try:
        with regular_file(path).open(newline="", encoding="utf-8-sig") as fh:
            reader = csv.DictReader(fh)
            missing = _CSV_REQUIRED - set(reader.fieldnames or ())
            if missing:
                raise InputError(f"missing column(s) {', '.join(sorted(missing))}",
                                 file=str(path), field="header", rule="invoice-csv-columns")
            invoices: dict[str, dict[str, Any]] = {}
            for rowno, row in enumerate(reader, start=2):
                _add_csv_row(invoices, row, rowno, str(path))
    except FileNotFoundError:
        raise InputError("file not found", file=str(path), rule="file-exists") from None
    except (UnicodeDecodeError, csv.Error) as err:
        raise InputError(f"not a readable CSV: {err}", file=str(path), rule="csv") from err
    return list(invoices.values())


def _add_csv_row(invoices: dict[str, dict[str, Any]], row: dict[str, Any], rowno: int,
                 file: str) -> None:
    """Add one CSV row as a line of its invoice (the invoice made from its first row)."""
    number = (row.get("number") or "").strip()
    if not number:
        raise InputError("empty invoice number", file=file, field=f"row {rowno}: number",
                         rule="required")
    inv = invoices.setdefault(number, {
        k: (row.get(k) or None) for k in _CSV_INVOICE} | {
        "customer": (row.get("customer") or "").strip(), "lines": [], "_row": rowno})
    inv["lines"].append({"description": row["description"], "quantity": row["quantity"],
                         "unit_price": row["unit_price"], "net": row["line_net"],
                         "vat_percent": row.get("vat_percent") or None,
                         "vat": row["line_vat"]})


def structured_invoices(path: Path) -> list[Any]:
    """The raw invoice items of a JSON or YAML invoice file (a list, however it was written)."""
    data = read_structured(path)
    raw = data.get("invoices") if isinstance(data, dict) and "invoices" in data else data
    if isinstance(raw, dict):
        raw = [raw]
    if not isinstance(raw, list):
        raise InputError("expected a list of invoices (or {invoices: [...]})",
                         file=str(path), rule="invoice-file-shape")
    return raw


def check_invoices(raw: list[Any], file: str) -> list[SourceInvoice]:
    """Each raw item as a checked invoice: valid, not negative, its number not seen before."""
    items: list[SourceInvoice] = []
    seen: set[str] = set()
    for i, item in enumerate(raw):
        where = f"row {item.pop('_row')}" if isinstance(item, dict) and "_row" in item else f"/{i}"
        invoice = _invoice(item, file, where)
        if invoice.number in seen:
            raise InputError(f"invoice {invoice.number} appears twice", file=file,
                             field=f"{where}/number", rule="unique-invoice-number")
        seen.add(invoice.number)
        items.append(SourceInvoice(
            invoice=invoice, origin=f"{file} {where}", external_id=invoice.number,
            customer=CustomerRef(name=invoice.customer) if invoice.customer else None))
    return items


def _invoice(item: Any, file: str, where: str) -> Invoice:
    """One raw item as an :class:`Invoice` (missing totals summed from its lines)."""
    if isinstance(item, dict):
        for key in ("net", "vat", "total"):
            if item.get(key) is None and item.get("lines"):
                item[key] = _sum_lines(item["lines"], key)
    try:
        invoice = Invoice.model_validate(item)
    except ValidationError as err:
        raise pydantic_error(err, file, prefix=where) from None
    negative = [name for name in ("net", "vat", "total") if getattr(invoice, name) < 0]
    if negative:
        raise InputError(f"{getattr(invoice, negative[0])} is negative (a credit note is "
                         "not a claimable invoice)", file=file,
                         field=f"{where}/{negative[0]}", rule="non-negative-amount")
    return check_invoice(invoice, file=file, where=where)


def _sum_lines(lines: list[dict[str, Any]], target: str) -> str | None:
    try:
        if target == "total":
            return str(sum(Decimal(str(ln["net"])) + Decimal(str(ln["vat"])) for ln in lines))
        return str(sum(Decimal(str(ln[target])) for ln in lines))
    except Exception:  # noqa: BLE001 - leave it to the model's validation to name the field
        return None


class JsonInvoices(FileImporter):
    """A JSON invoice file (``claims invoice add invoices.json``)."""

    name = "json"
    description = "Claimwright invoice file, JSON"
    suffixes = (".json",)
    priority = 50

    def extract(self, path: Path, options: Mapping[str, Any]) -> list[SourceInvoice]:
        """The checked invoices of ``path``."""
        return check_invoices(structured_invoices(path), str(path))


class YamlInvoices(JsonInvoices):
    """A YAML invoice file (any file ``claims invoice add`` gets that is not .json or .csv)."""

    name = "yaml"
    description = "Claimwright invoice file, YAML"
    suffixes = (".yaml", ".yml")


class CsvInvoices(FileImporter):
    """A Claimwright CSV invoice file: recognised by its required columns."""

    name = "claimwright-csv"
    description = "Claimwright invoice file, CSV (one row per line)"
    suffixes = (".csv",)
    priority = 50

    def matches(self, head: bytes) -> bool:
        """True if the header row has every required column."""
        first = head.decode("utf-8-sig", "replace").splitlines()[:1]
        return bool(first) and _CSV_REQUIRED <= {c.strip() for c in first[0].split(",")}

    def extract(self, path: Path, options: Mapping[str, Any]) -> list[SourceInvoice]:
        """The checked invoices of ``path``."""
        return check_invoices(read_invoice_csv(path), str(path))
