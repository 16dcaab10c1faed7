"""The import functions the CLI calls: read a source, store all or nothing, return the batch."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from datetime import date
from pathlib import Path
from typing import Any

from claims.errors import InputError
from claims.sources.common import ImportBatch, ImportFinding, SourceInvoice, sha256_of
from claims.sources.store import store_batch
from claims.workspace import Workspace


def _read_all(paths: Sequence[Path]) -> list[bytes]:
    out = []
    for path in paths:
        try:
            out.append(path.read_bytes())
        except OSError as err:
            raise InputError(f"cannot read: {err.strerror}", file=str(path),
                             rule="readable") from err
    return out


def import_xml_files(ws: Workspace, kind: str, paths: Sequence[Path], *,
                     dry_run: bool = False) -> ImportBatch:
    """Import UBL (``ubl``), Factur-X (``facturx``) or ZATCA (``zatca``) files, all or none.

    Every file is read and checked first; one bad file (unsafe or malformed XML, a total that
    does not add up, an unknown currency) stops the import and nothing is stored.
    """
    if not paths:
        raise InputError("no files given", field="FILE", rule="files-required")
    blobs = _read_all(paths)
    items: list[SourceInvoice] = []
    for path, data in zip(paths, blobs, strict=True):
        if kind == "ubl":
            from claims.sources.ubl import parse_ubl
            items.append(parse_ubl(data, file=str(path)))
        elif kind == "facturx":
            from claims.sources.facturx import parse_facturx
            items.append(parse_facturx(data, file=str(path)))
        elif kind == "zatca":
            from claims.sources.zatca import parse_zatca
            items.append(parse_zatca(data, file=str(path)))
        else:  # pragma: no cover - the CLI offers only the three
            raise InputError(f"unknown e-invoice kind {kind!r}", rule="known-source")
    names = [str(p) for p in paths]
    # the record names the files (a long batch by its ends); the sha256 covers every byte
    target = ", ".join(names) if len(names) <= 3 else \
        f"{len(names)} files: {names[0]} … {names[-1]}"
    return store_batch(ws, items, source=kind, target=target, input_sha256=sha256_of(blobs),
                       dry_run=dry_run, detail={"files": len(names)})


def import_tabular(ws: Workspace, path: Path, mapping_name: str, *,
                   dry_run: bool = False) -> ImportBatch:
    """Import a CSV or XLSX accounting export through the named mapping, all rows or none."""
    from claims.sources.tabular import get_mapping, read_tabular

    mapping = get_mapping(mapping_name, ws.settings.extra)
    source = "xlsx" if path.suffix.lower() in (".xlsx", ".xlsm") else "csv"
    items = read_tabular(path, mapping, mapping_name, source=source)
    return store_batch(ws, items, source=source, target=str(path),
                       input_sha256=sha256_of(_read_all([path])), dry_run=dry_run,
                       detail={"mapping": mapping_name})


def preview_tabular(ws: Workspace, path: Path, mapping_name: str, rows: int = 5) -> dict:
    """The first ``rows`` rows of an export as the mapping reads them."""
    from claims.sources.tabular import get_mapping, preview

    return preview(path, get_mapping(mapping_name, ws.settings.extra), mapping_name, rows)


def _voided(ws: Workspace, fetched: list[dict[str, Any]]) -> list[ImportFinding]:
    """An invoice we hold that Zoho now says is void is a warning on the batch: a claim may
    rest on it. (It is not deleted here: what was claimed stays on record.)"""
    from sqlalchemy import select

    from claims.store.tables import InvoiceRow

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
    from sqlalchemy import select

    from claims.store.tables.sources import InvoiceImportRow

    with ws.store.session() as s:
        return s.scalar(select(InvoiceImportRow.cursor)
                        .where(InvoiceImportRow.source == "zoho",
                               InvoiceImportRow.cursor.is_not(None))
                        .order_by(InvoiceImportRow.id.desc()).limit(1))


def import_zoho(ws: Workspace, *, since: date | str | None = None, dry_run: bool = False,
                transport: Any = None, sleep: Callable[[float], None] | None = None
                ) -> ImportBatch:
    """Import from Zoho Books: invoices modified since ``since`` (default: since the last
    completed import), all or none. ``transport`` / ``sleep`` are for tests."""
    import json

    from claims.sources.zoho import ZohoClient, since_text, to_source_invoices, zoho_settings

    settings = zoho_settings(ws.settings.extra)
    secret = settings.client_secret.resolve("invoice_import.zoho.client_secret")
    refresh = settings.refresh_token.resolve("invoice_import.zoho.refresh_token")
    cursor = since_text(since) if since is not None else last_zoho_cursor(ws)
    kwargs: dict[str, Any] = {"transport": transport}
    if sleep is not None:
        kwargs["sleep"] = sleep
    client = ZohoClient(settings, client_secret=secret, refresh_token=refresh, **kwargs)
    try:
        fetched = client.fetch(cursor)
    finally:
        client.close()
    endpoint = f"{client.api_base or settings.api(None)} org {settings.organization_id}"
    items, skipped = to_source_invoices(fetched, endpoint=endpoint)
    voided = _voided(ws, fetched.invoices) if skipped else []
    # what was read, canonically: the invoice details, contacts and payments as received
    digest = sha256_of([json.dumps([fetched.invoices, fetched.contacts, fetched.payments],
                                   default=str, sort_keys=True).encode(),
                        *(fetched.pdfs[k] for k in sorted(fetched.pdfs))])
    minimum = fetched.minimum_requests(settings.fetch_pdf, settings.per_page)
    return store_batch(ws, items, source="zoho", target=endpoint, input_sha256=digest,
                       dry_run=dry_run, requests=fetched.requests,
                       cursor=fetched.cursor or cursor, warnings=voided,
                       detail={"since": cursor, "skipped_drafts_and_voids": skipped,
                               "retries": fetched.retries, "minimum_requests": minimum,
                               "payments": len(fetched.payments)})
