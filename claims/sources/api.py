"""The import functions the CLI calls: read a source, store all or nothing, return the batch."""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping, Sequence
from datetime import date
from pathlib import Path
from typing import TYPE_CHECKING, Any

from sqlalchemy import select

from claims.core.importers import INVOICE_SOURCES, Importer, regular_file
from claims.errors import InputError, PluginError
from claims.sources.common import ImportBatch, ImportFinding, SourceInvoice, sha256_of
from claims.sources.store import store_batch
from claims.store.tables import InvoiceRow
from claims.store.tables.sources import CustomerLinkRow, InvoiceImportRow, InvoiceOriginRow
from claims.sources.tabular import get_mapping, preview
from claims.sources.budget import Budget, utc_today
from claims.sources.zoho import ZohoBudgetSpent, ZohoClient, configured, since_text
from claims.sources.zoho_records import to_source_invoices, with_payments

if TYPE_CHECKING:  # only a type here: the workspace composes this slice
    from claims.workspace import Workspace


def _read_all(paths: Sequence[Path]) -> list[bytes]:
    out = []
    for path in paths:
        try:
            out.append(regular_file(path).read_bytes())
        except OSError as err:
            raise InputError(f"cannot read: {err.strerror}", file=str(path),
                             rule="readable") from err
    return out


def extract(importer: Importer, path: Path, options: Mapping[str, Any]) -> list[SourceInvoice]:
    """``importer.extract(path, options)``, checked to be a list of SourceInvoice (a plug-in
    that returns anything else is a :class:`PluginError` naming it)."""
    items = importer.extract(path, options)
    if not isinstance(items, list) or not all(isinstance(i, SourceInvoice) for i in items):
        raise PluginError("extract() must return a list of SourceInvoice",
                          group=INVOICE_SOURCES.group, name=importer.name,
                          target=type(importer).__qualname__)
    return items


def import_files(ws: Workspace, paths: Sequence[Path], *, fmt: str | None = None,
                 mapping: str | None = None, dry_run: bool = False) -> ImportBatch:
    """Import invoice files through the registered importers (``claims.invoice_sources``),
    all files or none: each file is read by the importer named ``fmt``, or else by the first
    whose ``identify`` accepts it. ``mapping`` names the column mapping of CSV / XLSX exports.

    Every file is read and checked first; one bad file (unsafe or malformed XML, a total that
    does not add up, an unknown currency) stops the import and nothing is stored. Returns the
    :class:`ImportBatch` (its source: the importer's name, or the names joined by ``+``).
    """
    if not paths:
        raise InputError("no files given", field="FILE", rule="files-required")
    blobs = _read_all(paths)
    importers = [INVOICE_SOURCES.get(fmt) if fmt else INVOICE_SOURCES.detect(p) for p in paths]
    options: dict[str, Any] = {}
    if mapping is not None:
        options = {"mapping": get_mapping(mapping, ws.settings.invoice_import),
                   "mapping_name": mapping}
    read = [extract(imp, path, options) for imp, path in zip(importers, paths, strict=True)]
    items = [item for batch in read for item in batch]
    names = [str(p) for p in paths]
    # the record names the files (a long batch by its ends); the sha256 covers every byte
    target = ", ".join(names) if len(names) <= 3 else \
        f"{len(names)} files: {names[0]} … {names[-1]}"
    detail: dict[str, Any] = {"files": len(names)}
    if mapping is not None:
        detail["mapping"] = mapping
    return store_batch(ws, items, source="+".join(sorted({i.name for i in importers})),
                       target=target, input_sha256=sha256_of(blobs), dry_run=dry_run,
                       detail=detail, warnings=[f for batch in read for f in _skipped(batch)])


def _skipped(items: list[SourceInvoice]) -> list[ImportFinding]:
    """The warnings an importer gave about the file rather than an invoice (rows left out:
    :class:`~claims.sources.tabular.TabularInvoices`)."""
    return list(getattr(items, "findings", ()))


def import_xml_files(ws: Workspace, kind: str, paths: Sequence[Path], *,
                     dry_run: bool = False) -> ImportBatch:
    """Import UBL (``ubl``), Factur-X (``facturx``) or ZATCA (``zatca``) files — or any other
    registered invoice format — all or none; see :func:`import_files`."""
    return import_files(ws, paths, fmt=kind, dry_run=dry_run)


def _mapping(ws: Workspace, name: str, skip_rows: int | None) -> Any:
    mapping = get_mapping(name, ws.settings.invoice_import)
    return mapping if skip_rows is None else mapping.model_copy(update={"skip_rows": skip_rows})


def import_tabular(ws: Workspace, path: Path, mapping_name: str, *, dry_run: bool = False,
                   skip_rows: int | None = None) -> ImportBatch:
    """Import a CSV or XLSX accounting export through the named mapping, all rows or none
    (``skip_rows``: rows above the header; default: the header is found)."""
    mapping = _mapping(ws, mapping_name, skip_rows)
    source = "xlsx" if path.suffix.lower() in (".xlsx", ".xlsm") else "csv"
    items = extract(INVOICE_SOURCES.get(source), path,
                    {"mapping": mapping, "mapping_name": mapping_name})
    return store_batch(ws, items, source=source, target=str(path),
                       input_sha256=sha256_of(_read_all([path])), dry_run=dry_run,
                       detail={"mapping": mapping_name}, warnings=_skipped(items))


def preview_tabular(ws: Workspace, path: Path, mapping_name: str, rows: int = 5, *,
                    skip_rows: int | None = None) -> dict:
    """The first ``rows`` rows of an export as the mapping reads them."""
    return preview(path, _mapping(ws, mapping_name, skip_rows), mapping_name, rows)


def _voided(ws: Workspace, fetched: list[dict[str, Any]]) -> list[ImportFinding]:
    """An invoice we hold that Zoho now says is void is a warning on the batch: a claim may
    rest on it. (It is not deleted here: what was claimed stays on record.)"""
    void = {str(i.get("invoice_number")): str(i.get("invoice_id")) for i in fetched
            if i.get("status") == "void"}
    if not void:
        return []
    with ws.store.session() as s:
        held = set(s.scalars(select(InvoiceRow.number).where(InvoiceRow.number.in_(list(void)))))
    return [ImportFinding("W-ZOHO-VOID", "warning", f"invoice {number} was voided in Zoho Books "
                          "after it was imported; check any claim made from it",
                          f"Zoho invoice {void[number]}", "status") for number in sorted(held)]


def last_zoho_cursor(ws: Workspace) -> str | None:
    """The high-water mark of the last completed Zoho import (its newest last_modified_time)."""
    with ws.store.session() as s:
        return s.scalar(select(InvoiceImportRow.cursor)
                        .where(InvoiceImportRow.source == "zoho",
                               InvoiceImportRow.cursor.is_not(None))
                        .order_by(InvoiceImportRow.id.desc()).limit(1))


def _zoho_known(ws: Workspace) -> tuple[dict[str, str], set[str]]:
    """What the store holds from Zoho already: invoice id → last_modified_time, customer ids."""
    with ws.store.session() as s:
        origins = s.execute(select(InvoiceOriginRow.external_id, InvoiceOriginRow.extra)
                            .where(InvoiceOriginRow.source == "zoho"))
        known = {str(eid): str((extra or {}).get("last_modified_time") or "")
                 for eid, extra in origins if eid}
        customers = set(s.scalars(select(CustomerLinkRow.external_id).where(
            CustomerLinkRow.source == "zoho", CustomerLinkRow.external_id.is_not(None))))
    return known, {str(c) for c in customers}


def import_zoho(ws: Workspace, *, since: date | str | None = None, dry_run: bool = False,
                transport: Any = None, sleep: Callable[[float], None] | None = None,
                today: date | None = None) -> ImportBatch:
    """Import from Zoho Books: invoices modified since ``since`` (default: since the last
    completed import), all or none. Stored invoices that did not change are not read again;
    their status and balance are refreshed from the list. The run keeps within the day's
    request budget (see :mod:`claims.sources.zoho`). ``transport`` / ``sleep`` / ``today``
    (the budget's UTC day) are for tests."""
    settings = configured(ws.settings.invoice_import)
    secret = settings.client_secret.resolve("invoice_import.zoho.client_secret")
    refresh = settings.refresh_token.resolve("invoice_import.zoho.refresh_token")
    cursor = since_text(since) if since is not None else last_zoho_cursor(ws)
    day, budget = today or utc_today(), Budget(ws, settings)
    kwargs: dict[str, Any] = {"transport": transport, "budget": budget.left(day)}
    if sleep is not None:
        kwargs["sleep"] = sleep
    known, customers = _zoho_known(ws)
    client = ZohoClient(settings, client_secret=secret, refresh_token=refresh, **kwargs)
    try:
        fetched = client.fetch(cursor, known=known, known_customers=customers)
    except ZohoBudgetSpent:
        raise budget.spent(day, client.requests) from None
    finally:
        client.close()
        budget.count(day, client.requests)
    endpoint = f"{client.api_base or settings.api(None)} org {settings.organization_id}"
    items, skipped = to_source_invoices(fetched, endpoint=endpoint)
    items, held = _hold_back(items)
    voided = _voided(ws, fetched.invoices) if skipped else []
    # what was read, canonically: the invoice details, contacts and payments as received
    digest = sha256_of([json.dumps([fetched.invoices, fetched.contacts, fetched.payments,
                                    fetched.refreshed], default=str, sort_keys=True).encode(),
                        *(fetched.pdfs[k] for k in sorted(fetched.pdfs))])
    new_cursor = _cursor_before(fetched, held, cursor) if held else fetched.cursor or cursor
    if not fetched.payments_complete:
        new_cursor = cursor          # the payments since the cursor were not all read
    return store_batch(ws, items, source="zoho", target=endpoint, input_sha256=digest,
                       dry_run=dry_run, requests=fetched.requests, cursor=new_cursor,
                       warnings=[*fetched.findings, *voided, *budget.findings(day, fetched),
                                 *(f for item in held for f in item.findings)],
                       refresh=with_payments(fetched.refreshed, fetched.payments),
                       detail={"since": cursor, "skipped_drafts_and_voids": skipped,
                               "retries": fetched.retries, "details": fetched.details,
                               "pdfs": len(fetched.pdfs), "refreshed": len(fetched.refreshed),
                               "minimum_requests": fetched.minimum_requests(settings.per_page),
                               "payments": len(fetched.payments),
                               "held_back": [i.invoice.number for i in held],
                               **budget.detail(day, fetched)})


def _hold_back(items: list[SourceInvoice]) -> tuple[list[SourceInvoice], list[SourceInvoice]]:
    """The invoices to store, and those held back by an error finding (a total that is not
    its lines plus tax): one bad invoice is reported, never blocking the others."""
    good = [i for i in items if not any(f.severity == "error" for f in i.findings)]
    return good, [i for i in items if i not in good]


def _cursor_before(fetched: Any, held: list[SourceInvoice], since: str | None) -> str | None:
    """The cursor when invoices were held back: the newest modification time read before the
    first of them (else where this run started), so the next run lists it again."""
    first = min(str(i.extra.get("last_modified_time") or "") for i in held)
    times = [str(i.get("last_modified_time") or "") for i in fetched.invoices] + \
        [str(r.get("last_modified_time") or "") for r in fetched.refreshed.values()]
    return max((t for t in times if t and t < first), default=since)
