"""The store: maps domain models (:mod:`claims.core.models`) to tables (:mod:`claims.store.tables`).

Every write is one transaction: an import or a claim either lands whole or not at all.
"""

from __future__ import annotations

import functools
import hashlib
import json
from collections import defaultdict
from collections.abc import Iterator, Sequence
from contextlib import contextmanager, nullcontext
from dataclasses import dataclass, field
from datetime import date, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

from sqlalchemy import (
    Connection, Engine, Update, bindparam, case, func, insert, null, select, update,
)
from sqlalchemy.orm import Session, sessionmaker

from claims.errors import ConflictError, LeaseLost, NotFound
from claims.core.models import (
    WITHDRAWABLE, Claim, ClaimEvent, ClaimStatus, Contract, Document, Invoice, stored_contract,
)
from claims.store.context import DEAD_STATUSES, claim_contexts
from claims.store.engine import make_engine, migrate, store_errors
from claims.store.schedule import reschedule_changed, reschedule_on_clock
from claims.store.tables import (
    ClaimDocumentRow, ClaimEventRow, ClaimRow, ContractRow, CustomerRow, DocumentRow, InvoiceRow,
    PREPAID_SOURCE, PaymentApplicationRow, PaymentRow, utcnow,
)

__all__ = ["DEAD_STATUSES", "Fence", "Store", "ImportResult", "brief_claim", "invoice_hash",
           "make_engine", "migrate"]



@dataclass(frozen=True)
class Fence:
    """Write only while ``owner`` holds the claim's lease at ``version``, renewing it to ``until``
    in the same transaction (see :mod:`claims.lifecycle.leases`)."""

    owner: str
    version: int
    until: datetime


def _jsonable(value: Any) -> Any:
    if isinstance(value, Decimal):
        return str(value)
    if isinstance(value, (date, datetime)):
        return value.isoformat()
    if isinstance(value, dict):
        return {k: _jsonable(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_jsonable(v) for v in value]
    return value


def invoice_hash(invoice: Invoice) -> str:
    """A fingerprint of an invoice's content, to notice a source that changed it."""
    data = _jsonable(invoice.model_dump(exclude={"source"}))
    return hashlib.sha256(json.dumps(data, sort_keys=True).encode()).hexdigest()


@dataclass(frozen=True)
class ImportResult:
    """What an invoice import did: new ones added, identical ones skipped, changed ones flagged."""

    added: list[str]
    unchanged: list[str]
    changed: list[str]      # differed from what we have; updated only if no claim uses them
    #: differed, and the old content is relied on (:data:`CONFLICT_REASONS`): kept as it was
    conflicts: list[str]
    #: for each changed or conflicting invoice: field → (old value, new value), JSON-ready
    differences: dict[str, dict[str, tuple[Any, Any]]] = field(default_factory=dict)
    #: changed invoices whose explicit payment terms (``claims followup terms``) no longer fit
    #: their new issue date, total or currency: the terms were removed, the invoice falls due
    #: by the due-date rule until terms are given again (:func:`reschedule_changed`)
    terms_removed: list[str] = field(default_factory=list)
    #: why each conflict was kept: a key of :data:`CONFLICT_REASONS`
    reasons: dict[str, str] = field(default_factory=dict)

    def reason(self, number: str) -> str:
        """The words for why the conflicting invoice ``number`` was kept."""
        return CONFLICT_REASONS[self.reasons.get(number, "built")]


#: why a changed invoice is kept as it was (a conflict), each in the words the commands print
CONFLICT_REASONS = {
    "built": "changed at the source after its claim was built",
    "paid": "changed its currency, customer or total after money was applied to it "
            "(correct it with a credit note, or undo the payments first)",
}
#: the fields money applied to an invoice was applied against: a change to one is a conflict
PAID_FIELDS = ("currency", "customer", "total")


def _differences(old: dict[str, Any], new: dict[str, Any]) -> dict[str, tuple[Any, Any]]:
    """The top-level fields whose stored (JSON) values differ, as (old, new)."""
    return {key: (old.get(key), new.get(key)) for key in sorted(set(old) | set(new))
            if key != "source" and old.get(key) != new.get(key)}


def _claim_of(row: ClaimRow, contract_number: str, invoice_number: str, *,
              documents: tuple[Document, ...] = (),
              events: tuple[ClaimEvent, ...] = ()) -> Claim:
    """The :class:`Claim` of a claims row with its contract and invoice numbers (documents and
    history when read): the one mapping of the row's columns, for full and brief reads."""
    return Claim(id=row.id, contract_number=contract_number, invoice_number=invoice_number,
                 claim_type=row.claim_type, period_start=row.period_start,
                 period_end=row.period_end, milestone=row.milestone,
                 status=ClaimStatus(row.status), documents=documents, created_at=row.created_at,
                 portal_reference=row.portal_reference, bundle_path=row.bundle_path,
                 bundle_sha256=row.bundle_sha256, events=events)


#: The hot statements of a submit worker, built once (SQLAlchemy reuses their compiled form
#: without building them and their cache keys again for every claim).
_BRIEF_CLAIM = (select(ClaimRow.__table__, ContractRow.number.label("contract_number_"),
                       InvoiceRow.number.label("invoice_number_"))
                .join(ContractRow, ContractRow.id == ClaimRow.contract_id)
                .join(InvoiceRow, InvoiceRow.id == ClaimRow.invoice_id)
                .where(ClaimRow.id == bindparam("claim_id")))
_INSERT_EVENT = insert(ClaimEventRow.__table__)


@functools.lru_cache(maxsize=64)
def _claim_update(names: tuple[str, ...], fenced: bool, releasing: bool) -> Update:
    """:meth:`Store.record_event`'s UPDATE of the claim row setting ``names``, built once per
    shape: ``v_<name>`` bind the values, ``w_id`` (and, fenced, ``w_owner``, ``w_version``,
    ``v_lease_expires_at``; releasing, ``w_release``) the rest at execution."""
    c = ClaimRow.__table__.c
    values: dict[str, Any] = {n: bindparam(f"v_{n}", type_=c[n].type) for n in names}
    where = [c.id == bindparam("w_id")]
    if fenced:
        where += [c.lease_owner == bindparam("w_owner"), c.lease_version == bindparam("w_version")]
        values["lease_expires_at"] = bindparam("v_lease_expires_at", type_=c.lease_expires_at.type)
    if releasing:
        held = c.lease_owner == bindparam("w_release")
        kept = values["lease_expires_at"] if fenced else c.lease_expires_at
        values["lease_owner"] = case((held, null()), else_=c.lease_owner)
        values["lease_expires_at"] = case((held, null()), else_=kept)
    return update(ClaimRow.__table__).where(*where).values(values)


def brief_claim(conn: Connection, claim_id: int) -> Claim | None:
    """The claim without its documents and history (None if there is none), in one Core query
    on ``conn``: :meth:`Store.get_claim_brief`, and a submit worker's lease reads it in the
    transaction that takes the lease (:func:`claims.lifecycle.leases.take_lease`)."""
    found = conn.execute(_BRIEF_CLAIM, {"claim_id": claim_id}).first()
    return None if found is None else _claim_of(found, found.contract_number_,
                                                found.invoice_number_)


class Store:
    """The Claimwright database. ``Store.open(url)`` migrates it to the newest schema."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        self._sessions = sessionmaker(engine, expire_on_commit=False)

    @classmethod
    def open(cls, url: str) -> Store:
        engine = make_engine(url)
        migrate(engine)
        return cls(engine)

    def close(self) -> None:
        self.engine.dispose()

    @contextmanager
    def session(self) -> Iterator[Session]:
        """A transaction: committed when the block ends, rolled back on any error."""
        session = self._sessions()
        try:
            with store_errors():
                try:
                    yield session
                    session.commit()
                except BaseException:
                    session.rollback()
                    raise
        finally:
            session.close()

    @contextmanager
    def write(self) -> Iterator[Connection]:
        """A Core transaction (no ORM unit of work), for the few hot writes made per claim;
        committed when the block ends, rolled back on any error, errors as in :meth:`session`."""
        with store_errors(), self.engine.begin() as conn:
            yield conn

    # -- contracts ---------------------------------------------------------------------------

    def put_contract(self, contract: Contract, *, source_file: str | None = None,
                     replace: bool = False) -> bool:
        """Store a contract; returns True if it was new. An existing number needs ``replace``."""
        with self.session() as s:
            row = s.scalar(select(ContractRow).where(ContractRow.number == contract.number))
            if row is not None and not replace:
                raise ConflictError(
                    f"contract {contract.number} exists already (use --replace to update it)")
            row = row or ContractRow(number=contract.number)
            row.agency, row.portal = contract.agency, contract.portal
            row.currency = contract.currency
            row.ceiling = contract.ceiling
            row.period_start, row.period_end = contract.period_start, contract.period_end
            row.data = _jsonable(contract.model_dump())
            row.source_file = source_file
            new = row.id is None
            s.add(row)
            return new

    def get_contract(self, number: str) -> Contract:
        with self.session() as s:
            row = s.scalar(select(ContractRow).where(ContractRow.number == number))
            if row is None:
                raise NotFound("contract", number)
            return stored_contract(row.data)

    def contract_data(self) -> list[dict[str, Any]]:
        """Every stored contract as stored (JSON), by number: read by the listing."""
        with self.session() as s:
            return [r.data for r in s.scalars(select(ContractRow).order_by(ContractRow.number))]

    # -- invoices ----------------------------------------------------------------------------

    def _customer_id(self, s: Session, name: str) -> int | None:
        if not name:
            return None
        row = s.scalar(select(CustomerRow).where(CustomerRow.name == name))
        if row is None:
            row = CustomerRow(name=name)
            s.add(row)
            s.flush()
        return row.id

    def put_invoices(self, invoices: Sequence[Invoice], *,
                     session: Session | None = None) -> ImportResult:
        """Add or update invoices, all or nothing.

        Re-importing the same content is a no-op. Changed content updates the invoice unless a
        claim was already built or submitted from it, or it changes the currency, customer or
        total of an invoice money was applied to: then it is a conflict, never overwritten
        (``reasons`` says which).
        ``differences`` gives the old and new values of each changed or conflicting invoice.
        With ``session``, the work joins the caller's transaction (an import that also writes
        customers and its own records), else it is one transaction of its own.
        """
        if session is not None:
            return self._put_invoices(session, invoices)
        with self.session() as s:
            return self._put_invoices(s, invoices)

    def _put_invoices(self, s: Session, invoices: Sequence[Invoice]) -> ImportResult:
        added: list[str] = []
        unchanged: list[str] = []
        changed: list[str] = []
        conflicts: list[str] = []
        differences: dict[str, dict[str, tuple[Any, Any]]] = {}
        # look the batch up in a few queries, not one per invoice (imports are 10,000s)
        numbers = list(dict.fromkeys(inv.number for inv in invoices))
        existing: dict[str, InvoiceRow] = {}
        built: set[int] = set()
        paid: set[int] = set()
        reasons: dict[str, str] = {}
        for start in range(0, len(numbers), 500):
            chunk = numbers[start:start + 500]
            rows = list(s.scalars(select(InvoiceRow).where(InvoiceRow.number.in_(chunk))))
            existing.update((r.number, r) for r in rows)
            if rows:
                ids = [r.id for r in rows]
                built.update(s.scalars(select(ClaimRow.invoice_id).where(
                    ClaimRow.invoice_id.in_(ids), ClaimRow.bundle_sha256.is_not(None))))
                # money received for it; what the invoice itself says was prepaid is posted
                # from the invoice (claims.payments.prepaid) and follows its changes
                paid.update(s.scalars(select(PaymentApplicationRow.invoice_id).outerjoin(
                    PaymentRow, PaymentRow.id == PaymentApplicationRow.payment_id).where(
                    PaymentApplicationRow.invoice_id.in_(ids),
                    PaymentApplicationRow.undone_at.is_(None),
                    func.coalesce(PaymentRow.source, "") != PREPAID_SOURCE)))
        customers: dict[str, int | None] = {}
        stale: dict[int, dict[str, tuple[Any, Any]]] = {}  # changed rows' ids → differences
        with s.no_autoflush:
            for inv in invoices:
                digest = invoice_hash(inv)
                row = existing.get(inv.number)
                if row is not None and row.content_hash == digest:
                    unchanged.append(inv.number)
                    continue
                data = _jsonable(inv.model_dump())
                if row is not None:
                    differences[inv.number] = _differences(row.data, data)
                    reason = "built" if row.id in built else "paid" if row.id in paid and any(
                        k in differences[inv.number] for k in PAID_FIELDS) else None
                    if reason is not None:
                        conflicts.append(inv.number)
                        reasons[inv.number] = reason
                        continue
                    changed.append(inv.number)
                    stale[row.id] = differences[inv.number]
                else:
                    row = InvoiceRow(number=inv.number)
                    existing[inv.number] = row
                    added.append(inv.number)
                if inv.customer not in customers:
                    customers[inv.customer] = self._customer_id(s, inv.customer)
                row.customer_id = customers[inv.customer]
                row.contract_number = inv.contract_number
                row.currency, row.issue_date, row.due_date = (inv.currency, inv.issue_date,
                                                              inv.due_date)
                row.net, row.vat, row.total = inv.net, inv.vat, inv.total
                row.data = data
                row.source, row.content_hash, row.updated_at = inv.source, digest, utcnow()
                s.add(row)
        s.flush()
        removed = set(reschedule_changed(s, stale))
        terms_removed = [n for n in changed if existing[n].id in removed]
        return ImportResult(added, unchanged, changed, conflicts, differences, terms_removed,
                            reasons)

    def get_invoice(self, number: str) -> Invoice:
        with self.session() as s:
            row = s.scalar(select(InvoiceRow).where(InvoiceRow.number == number))
            if row is None:
                raise NotFound("invoice", number)
            return Invoice.model_validate(row.data)

    def list_invoices(self) -> list[Invoice]:
        with self.session() as s:
            return [Invoice.model_validate(r.data)
                    for r in s.scalars(select(InvoiceRow).order_by(InvoiceRow.number))]

    # -- documents and claims ----------------------------------------------------------------

    def put_document(self, s: Session, *, sha256: str, size: int, media_type: str,
                     pages: int | None, stored_path: str,
                     inspection: dict[str, Any] | None = None) -> DocumentRow:
        row = s.scalar(select(DocumentRow).where(DocumentRow.sha256 == sha256))
        if row is None:
            row = DocumentRow(sha256=sha256, size=size, media_type=media_type, pages=pages,
                              stored_path=stored_path, inspection=inspection)
            s.add(row)
            s.flush()
        return row

    def create_claim(self, *, contract_number: str, invoice_number: str, claim_type: str,
                     documents: Sequence[dict[str, Any]], period_start: date | None = None,
                     period_end: date | None = None, milestone: str | None = None,
                     actor: str = "") -> Claim:
        """Create a DRAFT claim with its documents (dicts as made by
        :mod:`claims.lifecycle.intake`)."""
        with self.session() as s:
            contract = s.scalar(select(ContractRow).where(ContractRow.number == contract_number))
            if contract is None:
                raise NotFound("contract", contract_number)
            invoice = s.scalar(select(InvoiceRow).where(InvoiceRow.number == invoice_number))
            if invoice is None:
                raise NotFound("invoice", invoice_number)
            claim = ClaimRow(contract_id=contract.id, invoice_id=invoice.id, claim_type=claim_type,
                             period_start=period_start, period_end=period_end,
                             milestone=milestone, status=ClaimStatus.DRAFT.value,
                             invoice_hash=invoice.content_hash)
            s.add(claim)
            s.flush()
            for seq, doc in enumerate(documents, start=1):
                stored = self.put_document(s, sha256=doc["sha256"], size=doc["size"],
                                           media_type=doc["media_type"], pages=doc.get("pages"),
                                           stored_path=doc["stored_path"],
                                           inspection=doc.get("inspection"))
                s.add(ClaimDocumentRow(claim_id=claim.id, seq=seq, doc_type=doc["type"],
                                       document_id=stored.id, filename=doc["filename"],
                                       issue_date=doc.get("issue_date"),
                                       expiry_date=doc.get("expiry_date")))
            s.add(ClaimEventRow(claim_id=claim.id, kind="created",
                                status=ClaimStatus.DRAFT.value, actor=actor,
                                detail={"documents": len(documents)}))
            claim_id = claim.id
        return self.get_claim(claim_id)

    def replace_claim_documents(self, claim_id: int, documents: Sequence[dict[str, Any]], *,
                                actor: str = "") -> None:
        """Swap the claim's documents of the given types for new ones; back to DRAFT."""
        types = {d["type"] for d in documents}
        with self.session() as s:
            row = s.get(ClaimRow, claim_id)
            if row is None:
                raise NotFound("claim", claim_id)
            kept = [cd for cd in s.scalars(select(ClaimDocumentRow).where(
                ClaimDocumentRow.claim_id == claim_id).order_by(ClaimDocumentRow.seq))
                if cd.doc_type not in types]
            for cd in s.scalars(select(ClaimDocumentRow).where(
                    ClaimDocumentRow.claim_id == claim_id)):
                s.delete(cd)
            s.flush()
            for seq, cd in enumerate(kept, start=1):
                s.add(ClaimDocumentRow(claim_id=claim_id, seq=seq, doc_type=cd.doc_type,
                                       document_id=cd.document_id, filename=cd.filename,
                                       issue_date=cd.issue_date, expiry_date=cd.expiry_date))
            for seq, doc in enumerate(documents, start=len(kept) + 1):
                stored = self.put_document(s, sha256=doc["sha256"], size=doc["size"],
                                           media_type=doc["media_type"], pages=doc.get("pages"),
                                           stored_path=doc["stored_path"],
                                           inspection=doc.get("inspection"))
                s.add(ClaimDocumentRow(claim_id=claim_id, seq=seq, doc_type=doc["type"],
                                       document_id=stored.id, filename=doc["filename"],
                                       issue_date=doc.get("issue_date"),
                                       expiry_date=doc.get("expiry_date")))
            row.status, row.updated_at = ClaimStatus.DRAFT.value, utcnow()
            s.add(ClaimEventRow(claim_id=claim_id, kind="corrected",
                                status=ClaimStatus.DRAFT.value, actor=actor,
                                detail={"replaced": sorted(types)}))

    def _to_claims(self, s: Session, rows: Sequence[ClaimRow],
                   numbers: dict[int, tuple[str, str]] | None = None,
                   inspections: dict[str, dict[str, Any]] | None = None) -> list[Claim]:
        """Claims with their contract and invoice numbers, documents and history: a few
        queries per 500 claims (not four per claim). ``numbers`` (claim id → contract and
        invoice numbers) when the caller read them already; ``inspections``, when given, is
        filled with the documents' stored inspections by sha256 (read with them)."""
        have_numbers = numbers is not None
        numbers = dict(numbers or {})
        docs: dict[int, list[Document]] = defaultdict(list)
        events: dict[int, list[ClaimEvent]] = defaultdict(list)
        ids = [r.id for r in rows]
        for start in range(0, len(ids), 500):
            chunk = ids[start:start + 500]
            if not have_numbers:
                numbers.update((cid, (contract, invoice)) for cid, contract, invoice in s.execute(
                    select(ClaimRow.id, ContractRow.number, InvoiceRow.number)
                    .join(ContractRow, ContractRow.id == ClaimRow.contract_id)
                    .join(InvoiceRow, InvoiceRow.id == ClaimRow.invoice_id)
                    .where(ClaimRow.id.in_(chunk))))
            for cd, d in s.execute(
                    select(ClaimDocumentRow, DocumentRow)
                    .join(DocumentRow, DocumentRow.id == ClaimDocumentRow.document_id)
                    .where(ClaimDocumentRow.claim_id.in_(chunk))
                    .order_by(ClaimDocumentRow.claim_id, ClaimDocumentRow.seq)):
                docs[cd.claim_id].append(Document(
                    type=cd.doc_type, filename=cd.filename, stored_path=d.stored_path,
                    size=d.size, sha256=d.sha256, media_type=d.media_type, pages=d.pages,
                    issue_date=cd.issue_date, expiry_date=cd.expiry_date))
                if inspections is not None and d.inspection:
                    inspections[d.sha256] = d.inspection
            for e in s.scalars(select(ClaimEventRow).where(ClaimEventRow.claim_id.in_(chunk))
                               .order_by(ClaimEventRow.id)):
                events[e.claim_id].append(ClaimEvent(
                    at=e.at, kind=e.kind, status=ClaimStatus(e.status) if e.status else None,
                    actor=e.actor, detail=e.detail or {}))
        return [_claim_of(row, *numbers[row.id], documents=tuple(docs[row.id]),
                          events=tuple(events[row.id])) for row in rows]

    def _to_claim(self, s: Session, row: ClaimRow) -> Claim:
        return self._to_claims(s, [row])[0]

    def get_claim(self, claim_id: int) -> Claim:
        with self.session() as s:
            row = s.get(ClaimRow, claim_id)
            if row is None:
                raise NotFound("claim", claim_id)
            return self._to_claim(s, row)

    def get_claim_brief(self, claim_id: int) -> Claim:
        """One claim without its documents and history, in one query (what a submit worker
        needs to file a READY claim; it reads the history with :meth:`get_claim` only to
        reconcile one whose last outcome is not known). See :func:`brief_claim`."""
        with store_errors(), self.engine.connect() as conn:
            claim = brief_claim(conn, claim_id)
        if claim is None:
            raise NotFound("claim", claim_id)
        return claim

    def list_claims(self, status: str | None = None) -> list[Claim]:
        with self.session() as s:
            query = select(ClaimRow).order_by(ClaimRow.id)
            if status:
                query = query.where(ClaimRow.status == status)
            return self._to_claims(s, list(s.scalars(query)))

    def claims_with_status(self, statuses: Sequence[str]) -> list[Claim]:
        """Claims in any of ``statuses`` (without their documents and history, for speed)."""
        with self.session() as s:
            rows = s.execute(
                select(ClaimRow, ContractRow.number, InvoiceRow.number)
                .join(ContractRow, ContractRow.id == ClaimRow.contract_id)
                .join(InvoiceRow, InvoiceRow.id == ClaimRow.invoice_id)
                .where(ClaimRow.status.in_(list(statuses))).order_by(ClaimRow.id))
            return [Claim(id=r.id, contract_number=c, invoice_number=i, claim_type=r.claim_type,
                          status=ClaimStatus(r.status), created_at=r.created_at,
                          portal_reference=r.portal_reference, bundle_path=r.bundle_path,
                          bundle_sha256=r.bundle_sha256) for r, c, i in rows]

    def claim_ids(self, status: str | None = None) -> list[int]:
        with self.session() as s:
            query = select(ClaimRow.id).order_by(ClaimRow.id)
            if status:
                query = query.where(ClaimRow.status == status)
            return list(s.scalars(query))

    def withdraw_claim(self, claim_id: int, *, reason: str, actor: str = "") -> ClaimStatus:
        """Move a claim the portal never had to WITHDRAWN, in one conditional write: refused
        when its status is not withdrawable or a live worker holds its lease (it may be on its
        way to the portal). Returns the status it had."""
        now = utcnow()
        with self.session() as s:
            row = s.get(ClaimRow, claim_id, with_for_update=True)
            if row is None:
                raise NotFound("claim", claim_id)
            was = ClaimStatus(row.status)
            if was not in WITHDRAWABLE:
                raise ConflictError(f"claim {claim_id} is {was.value}; only a claim the portal "
                                    "never had is withdrawn")
            if row.lease_owner and row.lease_expires_at and row.lease_expires_at > now:
                raise ConflictError(f"claim {claim_id} is being submitted by "
                                    f"{row.lease_owner}; try again after it finishes")
            row.status, row.updated_at = ClaimStatus.WITHDRAWN.value, now
            s.add(ClaimEventRow(claim_id=claim_id, kind="withdrawn",
                                status=ClaimStatus.WITHDRAWN.value, actor=actor,
                                detail={"reason": reason, "from": was.value}))
        return was

    def record_event(self, claim_id: int, kind: str, *, status: ClaimStatus | None = None,
                     actor: str = "", detail: dict[str, Any] | None = None,
                     fence: Fence | None = None, release: str | None = None,
                     conn: Connection | None = None, **columns: Any) -> None:
        """Append an event; with ``status``, move the claim there; ``columns`` update the row.

        With ``fence``, the row is written only while the lease is held (``UPDATE … WHERE id AND
        lease_owner AND lease_version``, renewing it to ``fence.until``); no row matched:
        :class:`LeaseLost`, nothing written. With ``release`` (a lease owner), that owner's
        lease is given back in the same statement (only if it still holds it). One transaction
        of two Core statements (the claim's row, then the event), no ORM unit of work: it runs
        two or three times per claim submitted. With ``conn``: in that (the caller's) transaction.
        """
        now = utcnow()
        claims = ClaimRow.__table__.c
        values: dict[str, Any] = {**columns, "updated_at": now}
        if status is not None:
            values["status"] = status.value
        params = {f"v_{k}": v for k, v in values.items()} | {"w_id": claim_id}
        if fence is not None:
            params |= {"w_owner": fence.owner, "w_version": fence.version,
                       "v_lease_expires_at": fence.until}
        if release is not None:
            params["w_release"] = release
        statement = _claim_update(tuple(sorted(values)), fence is not None, release is not None)
        with store_errors(), nullcontext(conn) if conn is not None else self.write() as conn:
            if conn.execute(statement, params).rowcount != 1:
                if fence is not None and conn.execute(
                        select(claims.id).where(claims.id == claim_id)).first() is not None:
                    raise LeaseLost(claim_id, fence.owner, f"lease version {fence.version}")
                raise NotFound("claim", claim_id)
            conn.execute(_INSERT_EVENT, {
                "claim_id": claim_id, "kind": kind, "status": status.value if status else None,
                "actor": actor, "detail": _jsonable(detail or {}), "at": now})
            reschedule_on_clock(conn, claim_id, status.value if status else None)

    def inspections(self, shas: Sequence[str]) -> dict[str, dict[str, Any]]:
        """The stored inspections of these documents, by sha256 (those that have one)."""
        with self.session() as s:
            rows = s.execute(select(DocumentRow.sha256, DocumentRow.inspection)
                             .where(DocumentRow.sha256.in_(list(shas))))
            return {sha: insp for sha, insp in rows if insp is not None}

    def prune_documents(self, paths: Sequence[Path], root: Path) -> None:
        """Delete stored document files no row refers to (cleanup after a failed intake)."""
        with self.session() as s:
            for path in paths:
                rel = str(Path(path).relative_to(root))
                used = s.scalar(select(func.count()).select_from(DocumentRow)
                                .where(DocumentRow.stored_path == rel))
                if not used:
                    Path(path).unlink(missing_ok=True)

    def claim_context(self, claim_id: int) -> dict[str, Any]:
        """Everything validating and building a claim needs, read in one transaction (see
        :func:`claims.store.context.claim_contexts`); :class:`NotFound` if there is none."""
        found = self.claim_contexts([claim_id])
        if claim_id not in found:
            raise NotFound("claim", claim_id)
        return found[claim_id]

    def claim_contexts(self, claim_ids: Sequence[int]) -> dict[int, dict[str, Any]]:
        """:meth:`claim_context` of each of ``claim_ids`` that exists, by id, read together
        in one transaction (four queries)."""
        with self.session() as s:
            return claim_contexts(s, claim_ids, self._to_claims)

    def get_claim_attempts(self, claim_id: int) -> int:
        with self.session() as s:
            row = s.get(ClaimRow, claim_id)
            if row is None:
                raise NotFound("claim", claim_id)
            return row.attempts or 0
