"""Storing what a source read: all or nothing, idempotent, changes flagged, every import recorded.

One transaction covers customers, contacts, invoices (through :meth:`Store.put_invoices`), the
invoices' origins and the import record. A dry run does the same work and rolls it back, so its
counts (added / unchanged / changed / conflicts) are exactly what a real run would do.
"""

from __future__ import annotations

import hashlib
import os
import tempfile
from collections.abc import Sequence
from decimal import Decimal
from pathlib import Path
from typing import TYPE_CHECKING, Any

import structlog
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from claims.core.money import round_money
from claims.errors import InputError
from claims.payments.prepaid import sync_prepaid
from claims.sources.common import (
    CustomerRef, ImportBatch, ImportFinding, ImportRejected, InvoiceChange, SourceInvoice,
)
from claims.store.tables.sources import CustomerLinkRow, InvoiceImportRow, InvoiceOriginRow
from claims.store import _jsonable
from claims.store.tables import ContactRow, CustomerRow, InvoiceRow, utcnow

if TYPE_CHECKING:  # only a type here: the workspace composes this slice
    from claims.workspace import Workspace

log = structlog.get_logger("claims.sources")


class _RollBack(Exception):
    """Raised inside the transaction of a dry run, so the store rolls everything back."""


def _store_pdf(data: bytes, dest_dir: Path) -> tuple[str, Path]:
    """Write ``data`` content-addressed under ``dest_dir`` (read-only, written once)."""
    sha = hashlib.sha256(data).hexdigest()
    final = dest_dir / sha[:2] / f"{sha}.pdf"
    if final.exists():
        return sha, final
    final.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=final.parent, prefix=".incoming-")
    with os.fdopen(fd, "wb") as out:
        out.write(data)
    Path(tmp).chmod(0o400)  # read-only, and private to the workspace owner
    os.replace(tmp, final)
    return sha, final


class _Matcher:
    """Finds or creates customers and contacts within one transaction, caching by key."""

    def __init__(self, s: Session, source: str) -> None:
        self.s, self.source = s, source
        self.customers_added = 0
        self.contacts_added = 0
        self._cache: dict[tuple[str | None, str | None, str], CustomerRow] = {}

    def customer(self, ref: CustomerRef) -> CustomerRow:
        key = (ref.external_id, ref.tax_id, ref.name)
        if key in self._cache:
            return self._cache[key]
        s, row = self.s, None
        link = None
        if ref.external_id:
            link = s.scalar(select(CustomerLinkRow).where(
                CustomerLinkRow.source == self.source,
                CustomerLinkRow.external_id == ref.external_id))
            if link is not None:
                row = s.get(CustomerRow, link.customer_id)
        if row is None and ref.tax_id:
            by_tax = s.scalar(select(CustomerLinkRow).where(
                CustomerLinkRow.tax_id == ref.tax_id).limit(1))
            if by_tax is not None:
                row = s.get(CustomerRow, by_tax.customer_id)
        if row is None and ref.name:
            row = s.scalar(select(CustomerRow).where(CustomerRow.name == ref.name))
        if row is None:
            row = CustomerRow(name=ref.name, email=ref.email, kind="agency")
            s.add(row)
            s.flush()
            self.customers_added += 1
        elif ref.email and not row.email:
            row.email = ref.email
        if link is None and (ref.external_id or ref.tax_id):
            exists = s.scalar(select(CustomerLinkRow.id).where(
                CustomerLinkRow.customer_id == row.id, CustomerLinkRow.source == self.source,
                CustomerLinkRow.external_id == ref.external_id,
                CustomerLinkRow.tax_id == ref.tax_id).limit(1))
            if exists is None:
                s.add(CustomerLinkRow(customer_id=row.id, source=self.source,
                                      external_id=ref.external_id, tax_id=ref.tax_id))
                s.flush()
        for contact in ref.contacts:
            self._contact(row, contact)
        self._cache[key] = row
        return row

    def _contact(self, customer: CustomerRow, ref: Any) -> None:
        s = self.s
        query = select(ContactRow).where(ContactRow.customer_id == customer.id)
        row = None
        if ref.external_id:
            row = s.scalar(query.where(ContactRow.external_id == ref.external_id))
        if row is None and ref.email:
            row = s.scalar(query.where(func.lower(ContactRow.email) == ref.email.lower()))
        if row is None and ref.name:
            row = s.scalar(query.where(ContactRow.name == ref.name))
        if row is None:
            s.add(ContactRow(customer_id=customer.id, name=ref.name or ref.email or "",
                             email=ref.email, phone=ref.phone, role=ref.role,
                             external_id=ref.external_id))
            s.flush()
            self.contacts_added += 1
            return
        # the source is the master of its own contact data: keep it current
        row.email = ref.email or row.email
        row.phone = ref.phone or row.phone
        row.external_id = ref.external_id or row.external_id


def check_batch(items: Sequence[SourceInvoice]) -> list[ImportFinding]:
    """All findings of a batch; raises :class:`ImportRejected` if any is an error, and
    :class:`InputError` if one number appears twice (the second would silently win)."""
    seen: dict[str, str] = {}
    for item in items:
        number = item.invoice.number
        if number in seen:
            raise InputError(f"invoice {number} appears twice (also in {seen[number]})",
                             file=item.origin, field="number", rule="unique-invoice-number")
        seen[number] = item.origin
    findings = [f for item in items for f in item.findings]
    if any(f.severity == "error" for f in findings):
        raise ImportRejected(findings)
    return findings


def store_batch(ws: Workspace, items: Sequence[SourceInvoice], *, source: str, target: str,
                input_sha256: str, dry_run: bool = False, requests: int = 0,
                cursor: str | None = None, detail: dict[str, Any] | None = None,
                warnings: Sequence[ImportFinding] = (),
                refresh: dict[str, dict[str, Any]] | None = None) -> ImportBatch:
    """Store ``items`` all or nothing and record the import; returns what was done.

    Customers and contacts are matched (external id, then tax id, then name) or created;
    invoices go through :meth:`Store.put_invoices` (idempotent; a change after a claim's bundle
    was built is a conflict, kept, with its old and new values). An unchanged invoice's origin
    gets its new status, balance and payments (:func:`_refresh_origins`), as do those in
    ``refresh`` (external id → values; not read again). With ``dry_run`` nothing is written.
    """
    findings = check_batch(items) + list(warnings)
    batch = ImportBatch(source=source, target=target, input_sha256=input_sha256,
                        dry_run=dry_run, invoices=len(items), findings=findings,
                        requests=requests, cursor=cursor, detail=detail or {})
    written: list[Path] = []
    pdfs: dict[int, tuple[str, Path]] = {}
    if not dry_run:
        for i, item in enumerate(items):
            if item.document is not None:
                sha, path = _store_pdf(item.document, ws.documents_dir)
                pdfs[i] = (sha, path)
                written.append(path)
    store = ws.store
    started = utcnow()
    try:
        with store.session() as s:
            matcher = _Matcher(s, source)
            invoices = []
            for item in items:
                inv = item.invoice
                if item.customer is not None:
                    customer = matcher.customer(item.customer)
                    if customer.name != inv.customer:
                        inv = inv.model_copy(update={"customer": customer.name})
                        item.invoice = inv
                invoices.append(inv)
            _check_kinds(s, items)
            result = store.put_invoices(invoices, session=s)
            s.flush()
            record = InvoiceImportRow(
                source=source, target=target, input_sha256=input_sha256, actor=ws.actor,
                started_at=started, invoices=len(items), added=len(result.added),
                unchanged=len(result.unchanged), changed=len(result.changed),
                conflicts=len(result.conflicts), customers_added=matcher.customers_added,
                contacts_added=matcher.contacts_added, requests=requests, cursor=cursor,
                detail=_jsonable({"conflicts": {n: result.differences.get(n, {})
                                                for n in result.conflicts},
                                  "findings": [f.to_json() for f in findings],
                                  **(detail or {})}))
            s.add(record)
            s.flush()
            touched = set(result.added) | set(result.changed)
            _write_origins(s, store, items, touched, pdfs, record.id, ws.documents_dir.parent)
            _refresh_origins(s, source, {**{i.external_id: i.extra for i in items if i.external_id
                                            and i.invoice.number in result.unchanged},
                                         **(refresh or {})})
            sync_prepaid(s, [*result.added, *result.changed, *result.unchanged], actor=ws.actor)
            record.finished_at, batch.import_id = utcnow(), None if dry_run else record.id
            batch.added, batch.unchanged = result.added, result.unchanged
            batch.changed = [InvoiceChange(n, False, result.differences.get(n, {}))
                             for n in result.changed]
            batch.conflicts = [InvoiceChange(n, True, result.differences.get(n, {}),
                                             result.reason(n)) for n in result.conflicts]
            batch.customers_added, batch.contacts_added, batch.terms_removed = (
                matcher.customers_added, matcher.contacts_added, result.terms_removed)
            if dry_run:
                raise _RollBack
    except _RollBack:
        pass
    except BaseException:
        store.prune_documents(written, ws.root)
        raise
    log.info("invoices.imported", source=source, target=target, dry_run=dry_run,
             added=len(batch.added), unchanged=len(batch.unchanged),
             changed=len(batch.changed), conflicts=len(batch.conflicts),
             customers_added=batch.customers_added, requests=requests)
    return batch


def _check_kinds(s: Session, items: Sequence[SourceInvoice]) -> None:
    """A credit note must not replace an invoice of the same number (or the reverse)."""
    numbers = {item.invoice.number: item for item in items}
    if not numbers:
        return
    rows = s.execute(select(InvoiceRow.number, InvoiceOriginRow.kind)
                     .join(InvoiceOriginRow, InvoiceOriginRow.invoice_id == InvoiceRow.id)
                     .where(InvoiceRow.number.in_(list(numbers))))
    for number, kind in rows:
        item = numbers[number]
        if kind != item.kind:
            raise InputError(f"{item.kind} {number} has the number of a stored {kind}; "
                             "refusing to replace one with the other", file=item.origin,
                             field="number", rule="document-kind")


def _write_origins(s: Session, store: Any, items: Sequence[SourceInvoice], touched: set[str],
                   pdfs: dict[int, tuple[str, Path]], import_id: int, root: Path) -> None:
    numbers = [item.invoice.number for item in items if item.invoice.number in touched]
    if not numbers:
        return
    ids: dict[str, int] = dict(s.execute(select(InvoiceRow.number, InvoiceRow.id)
                         .where(InvoiceRow.number.in_(numbers))).all())
    origins = {row.invoice_id: row for row in s.scalars(
        select(InvoiceOriginRow).where(InvoiceOriginRow.invoice_id.in_(list(ids.values()))))}
    for i, item in enumerate(items):
        if item.invoice.number not in touched:
            continue
        invoice_id = ids[item.invoice.number]
        row = origins.get(invoice_id) or InvoiceOriginRow(invoice_id=invoice_id)
        row.source, row.external_id, row.kind = item.invoice.source, item.external_id, item.kind
        row.import_id, row.updated_at = import_id, utcnow()
        row.extra = _jsonable({**item.extra,
                               "origin": item.origin,
                               "findings": [f.to_json() for f in item.findings]})
        if i in pdfs:
            sha, path = pdfs[i]
            doc = store.put_document(s, sha256=sha, size=path.stat().st_size,
                                     media_type="application/pdf", pages=None,
                                     stored_path=str(path.relative_to(root)))
            row.document_id = doc.id
        s.add(row)


#: what an origin record may change while its invoice's content stays the same
_REFRESHED = ("zoho_status", "balance", "last_modified_time", "payments",
              # an e-invoice sent again with a new paid amount (BT-113): the invoice is the
              # same, what is due is not (:func:`claims.payments.prepaid.sync_prepaid`)
              "prepaid", "rounding", "payable")


def _refresh_origins(s: Session, source: str, updates: dict[str, dict[str, Any]]) -> None:
    """Bring the status, balance and payments of stored origins (``source``, by external id) up
    to date; payments are merged by their id, never dropped."""
    if not updates:
        return
    rows = s.scalars(select(InvoiceOriginRow).where(
        InvoiceOriginRow.source == source,
        InvoiceOriginRow.external_id.in_(list(updates))))
    for row in rows:
        new = updates[str(row.external_id)]
        extra = dict(row.extra or {})
        for key in _REFRESHED:
            if key == "payments":
                seen = {p.get("payment_id") for p in extra.get("payments") or []}
                extra["payments"] = [*(extra.get("payments") or []),
                                     *(p for p in new.get("payments") or []
                                       if p.get("payment_id") not in seen)]
            elif key in new:
                extra[key] = new[key]
        if extra != row.extra:
            row.extra, row.updated_at = _jsonable(extra), utcnow()


def list_imports(ws: Workspace, limit: int = 50) -> list[dict[str, Any]]:
    """The most recent imports, newest first, as JSON-ready dicts."""
    with ws.store.session() as s:
        rows = s.scalars(select(InvoiceImportRow).order_by(InvoiceImportRow.id.desc())
                         .limit(limit))
        return [{"id": r.id, "source": r.source, "target": r.target,
                 "input_sha256": r.input_sha256, "actor": r.actor,
                 "started_at": r.started_at.isoformat(),
                 "finished_at": r.finished_at.isoformat(), "invoices": r.invoices,
                 "added": r.added, "unchanged": r.unchanged, "changed": r.changed,
                 "conflicts": r.conflicts, "customers_added": r.customers_added,
                 "contacts_added": r.contacts_added, "requests": r.requests,
                 "cursor": r.cursor} for r in rows]


def invoice_record(ws: Workspace, number: str) -> dict[str, Any]:
    """One stored invoice as JSON-ready data: the invoice (lines, totals), where it came from
    (source, kind, external id, the import, the origin's extra) and its seller (name, VAT
    number) when the source names one. :class:`~claims.errors.NotFound` if there is none."""
    invoice = ws.store.get_invoice(number)
    with ws.store.session() as s:
        origin = s.scalar(select(InvoiceOriginRow).join(
            InvoiceRow, InvoiceOriginRow.invoice_id == InvoiceRow.id).where(
            InvoiceRow.number == number))
        source: dict[str, Any] | None = None
        if origin is not None:
            extra = dict(origin.extra or {})
            source = {"source": origin.source, "kind": origin.kind,
                      "external_id": origin.external_id, "import_id": origin.import_id,
                      "origin": extra.pop("origin", None),
                      "findings": extra.pop("findings", []), "extra": extra}
    data = _jsonable(invoice.model_dump(mode="json"))
    seller = (source or {}).get("extra", {}).get("seller") or None
    currency = data.get("currency") or ""

    def shown(value: Any) -> Any:  # an amount at its currency's minor units (ISO 4217)
        return value if value is None else str(round_money(Decimal(str(value)), currency))

    return {"invoice": data, "source": source, "seller": seller,
            "lines": [{**ln, "net": shown(ln.get("net")), "vat": shown(ln.get("vat"))}
                      for ln in data.get("lines", [])],
            "totals": {**{k: shown(data.get(k)) for k in ("net", "vat", "total")},
                       "currency": currency}}
