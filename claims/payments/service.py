"""Cash application against the store: import, match, apply or queue, review, undo.

Every write is one transaction: a statement lands whole (its payments, their matches and the
applications made automatically) or not at all. Each application row records its confidence,
reason and actor; undoing sets ``undone_at`` (rows are never deleted) and leaves an event.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from itertools import islice
from datetime import UTC, date, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

import structlog
from sqlalchemy import and_, func, insert, select, update
from sqlalchemy.orm import Session

from claims.core.importers import regular_file
from claims.errors import ConflictError, InputError, NotFound
from claims.core.money import CURRENCIES, check_amount
from claims.payments.bank_ids import fresh_lines
from claims.payments.matching import (
    Allocation, Book, Match, MatchSettings, OpenItem, issued_by, match_lines, plain,
)
from claims.payments.parsers import (
    CsvMapping, Statement, StatementLine, csv_mapping, parse_statement,
)
from claims.payments.reversals import record_reversals
from claims.payments.statement import check_value_date
from claims.store.tables.sources import InvoiceOriginRow
from claims.store.tables.payments import (
    BankCsvMappingRow, PayerAccountRow, PaymentEventRow, PaymentMatchRow, StatementImportRow,
)
from claims.store import Store
from claims.store.tables import (
    CustomerRow, InvoiceRow, PaymentApplicationRow, PaymentRow, utcnow,
)

log = structlog.get_logger("claims.payments")

#: lines inserted and matched per batch (the session is emptied after each: memory stays flat)
IMPORT_BATCH = 2000
#: an import keeps the detail of at most this many matches (the rest counted, not listed)
MAX_MATCHES_LISTED = 1000


@dataclass
class ImportSummary:
    """What an import did. ``duplicate``: the very same file was imported before."""

    file: str
    format: str
    duplicate: bool = False
    lines: int = 0
    debits_skipped: int = 0
    #: entries left out because the bank has not booked them (pending…), per statement and
    #: status: ``{statement, id, status, entries, credits, debits, reason}`` (credits and
    #: debits: currency → total, as strings; Statement.not_booked)
    not_booked: list[dict[str, Any]] = field(default_factory=list)
    added: int = 0
    already_known: int = 0
    applied: int = 0
    review: int = 0
    unmatched: int = 0
    reversed: int = 0               # returned credits that reopened their payment's invoices
    reversals_review: int = 0       # returned credits waiting for a person to name the payment
    reversals_unmatched: int = 0    # marked as reversals by the bank; no payment fits
    matches: list[dict[str, Any]] = field(default_factory=list)
    #: matches not listed in ``matches`` (a large file keeps the first MAX_MATCHES_LISTED)
    matches_omitted: int = 0

    def to_json(self) -> dict[str, Any]:
        """Plain JSON data; ``matches_omitted`` only when some were left out."""
        out = dict(self.__dict__)
        if not self.matches_omitted:
            out.pop("matches_omitted")
        return out


# -- reading the book -----------------------------------------------------------------------

def applied_by_invoice():  # type: ignore[no-untyped-def]
    """A subquery: live applied amount per invoice (payments, write-offs and discounts)."""
    return (select(PaymentApplicationRow.invoice_id.label("invoice_id"),
                   func.sum(PaymentApplicationRow.amount).label("applied"))
            .where(PaymentApplicationRow.undone_at.is_(None),
                   PaymentApplicationRow.invoice_id.is_not(None))
            .group_by(PaymentApplicationRow.invoice_id).subquery())


def open_items(s: Session, currencies: Sequence[str] | None = None, *,
               paid: bool = False) -> list[OpenItem]:
    """Every invoice with an open balance (total less live applications); ``paid``: the
    others too (nothing open), which the :class:`Book` knows by number only."""
    applied = applied_by_invoice()
    query = (select(InvoiceRow.id, InvoiceRow.number, InvoiceRow.customer_id,
                    InvoiceRow.currency, InvoiceRow.total, applied.c.applied,
                    InvoiceRow.issue_date, InvoiceRow.due_date)
             .outerjoin(applied, applied.c.invoice_id == InvoiceRow.id))
    if currencies:
        query = query.where(InvoiceRow.currency.in_(sorted(set(currencies))))
    items = []
    for r in s.execute(query):
        open_amount = r.total - (r.applied or Decimal(0))  # typed: already a Decimal
        if open_amount > 0 or paid:
            items.append(OpenItem(r.id, r.number, r.customer_id, r.currency, open_amount,
                                  r.issue_date, r.due_date))
    return items


def load_book(s: Session, currencies: Sequence[str] | None = None) -> Book:
    """Open items (and paid invoices, by number: a payment naming one is not applied to
    another), learned payer accounts and customer names, indexed for matching."""
    ibans = {r.iban: r.customer_id for r in s.scalars(select(PayerAccountRow))}
    names = {name: cid for cid, name in s.execute(select(CustomerRow.id, CustomerRow.name))}
    quoted = InvoiceOriginRow.extra["payment_reference"].as_string()
    references = {invoice_id: ref for invoice_id, ref in s.execute(
        select(InvoiceOriginRow.invoice_id, quoted).where(quoted.is_not(None))) if ref}
    return Book(open_items(s, currencies, paid=True), payer_ibans=ibans, customer_names=names,
                payment_references=references)


def _invoice_open(s: Session, invoice_id: int) -> Decimal:
    total = s.scalar(select(InvoiceRow.total).where(InvoiceRow.id == invoice_id))
    applied = s.scalar(select(func.sum(PaymentApplicationRow.amount)).where(
        PaymentApplicationRow.invoice_id == invoice_id, PaymentApplicationRow.undone_at.is_(None)))
    return (total or Decimal(0)) - (applied or Decimal(0))  # SUM keeps the MoneyColumn type


# -- writing --------------------------------------------------------------------------------
# Statement lines, their matches, applications and events are written as plain rows through
# executemany (one INSERT per table and batch), not as ORM objects: the per-line cost of an
# import is then the parse and the match, not the unit of work.

def _apply(s: Session, payment: PaymentRow, allocations: Sequence[Allocation], *,
           confidence: int, reason: str, actor: str) -> None:
    money = sum((a.amount for a in allocations if a.kind in ("payment", "credit")), Decimal(0))
    if money > payment.amount:
        raise ConflictError(f"payment {payment.id}: allocations {money} exceed the payment "
                            f"{payment.amount}")
    for a in allocations:
        if a.invoice_id is None:
            continue
        invoice = s.get(InvoiceRow, a.invoice_id)
        if invoice is None:
            raise NotFound("invoice", a.invoice_id)
        if invoice.currency != payment.currency:
            raise ConflictError(f"invoice {invoice.number} is in {invoice.currency}, the "
                                f"payment in {payment.currency}")
        if not issued_by(invoice.issue_date, payment.value_date):
            raise ConflictError(
                f"invoice {invoice.number} was issued on {invoice.issue_date}, after the "
                f"payment's value date {payment.value_date}: a payment cannot pay an invoice "
                "before it is issued; reject the match or name another invoice")
        owed = _invoice_open(s, a.invoice_id)
        if a.amount > owed:
            raise ConflictError(f"invoice {invoice.number} has {owed} open; cannot apply "
                                f"{a.amount}")
    writes = _Writes()
    writes.apply(payment.id, allocations, confidence=confidence, reason=reason, actor=actor)
    writes.flush(s)


@dataclass
class _Writes:
    """Rows of a batch waiting for one executemany per table (see :meth:`flush`)."""

    matches: list[dict[str, Any]] = field(default_factory=list)
    applications: list[dict[str, Any]] = field(default_factory=list)
    events: list[dict[str, Any]] = field(default_factory=list)
    payers: list[tuple[str, int]] = field(default_factory=list)
    now: Any = field(default_factory=utcnow)

    def apply(self, payment_id: int, allocations: Sequence[Allocation], *, confidence: int,
              reason: str, actor: str) -> None:
        """Apply ``allocations`` of payment ``payment_id`` (checked by the caller)."""
        self.applications.extend(
            {"payment_id": payment_id, "invoice_id": a.invoice_id, "amount": a.amount,
             "kind": a.kind, "confidence": confidence, "reason": reason, "actor": actor,
             "applied_at": self.now} for a in allocations)
        self.events.append({"payment_id": payment_id, "kind": "applied", "actor": actor,
                            "at": self.now, "detail": {
                                "allocations": [a.to_json() for a in allocations],
                                "confidence": confidence, "reason": reason}})

    def flush(self, s: Session) -> None:
        """Insert every waiting row (matches first: the audit trail follows the decision)."""
        for table, rows in ((PaymentMatchRow, self.matches),
                            (PaymentApplicationRow, self.applications),
                            (PaymentEventRow, self.events)):
            if rows:
                s.execute(insert(table.__table__), rows)
        _learn_payers(s, self.payers)
        self.matches, self.applications, self.events, self.payers = [], [], [], []


def _learn_payers(s: Session, pairs: Sequence[tuple[str, int]]) -> None:
    """Remember payer accounts once an invoice-numbered payment proves whose they are: the
    first customer named for an IBAN not known yet wins."""
    first: dict[str, int] = {}
    for iban, customer_id in pairs:
        first.setdefault(iban, customer_id)
    ibans = sorted(first)
    for start in range(0, len(ibans), 500):
        for known in s.scalars(select(PayerAccountRow.iban).where(
                PayerAccountRow.iban.in_(ibans[start:start + 500]))):
            first.pop(known, None)
    if first:
        now = utcnow()
        s.execute(insert(PayerAccountRow.__table__),
                  [{"iban": k, "customer_id": v, "created_at": now} for k, v in first.items()])


def _learn_payer(s: Session, iban: str | None, customer_id: int | None) -> None:
    if iban and customer_id is not None:
        _learn_payers(s, [(iban, customer_id)])


def _record_matches(s: Session, payments: Sequence[tuple[int, StatementLine]],
                    matches: Sequence[Match], settings: MatchSettings, actor: str,
                    import_id: int | None, summary: ImportSummary) -> None:
    """Record the match of each ``(payment id, line)``; apply the sure ones (no checks: the
    book the matcher used already holds what is open)."""
    writes = _Writes()
    for (payment_id, line), match in zip(payments, matches, strict=True):
        auto = bool(match.allocations) and match.confidence >= settings.auto_apply_threshold
        status = "applied" if auto else "review"
        writes.matches.append({
            "payment_id": payment_id, "import_id": import_id, "method": match.method,
            "confidence": match.confidence, "reason": match.reason, "flags": list(match.flags),
            "proposal": [a.to_json() for a in match.allocations], "auto": auto,
            "status": status, "created_at": writes.now})
        if auto:
            writes.apply(payment_id, match.allocations, confidence=match.confidence,
                         reason=match.reason, actor=f"auto ({actor})")
            if match.method in ("reference", "text") and line.payer_iban and \
                    match.customer_id is not None:
                writes.payers.append((line.payer_iban, match.customer_id))
        _count_match(summary, payment_id, line, match, status)
    writes.flush(s)


def _count_match(summary: ImportSummary, payment_id: int, line: StatementLine, match: Match,
                 status: str) -> None:
    if status == "applied":
        summary.applied += 1
    elif match.method == "none":
        summary.unmatched += 1
    else:
        summary.review += 1
    if len(summary.matches) >= MAX_MATCHES_LISTED:
        summary.matches_omitted += 1
        return
    summary.matches.append({
        "payment_id": payment_id, "external_id": line.external_id,
        "amount": str(plain(line.amount)), "currency": line.currency,
        "method": match.method, "confidence": match.confidence, "reason": match.reason,
        "flags": list(match.flags), "status": status,
        "allocations": [a.to_json() for a in match.allocations]})


def _insert_payments(s: Session, lines: Sequence[StatementLine], matches: Sequence[Match],
                     source: str) -> list[tuple[int, StatementLine]]:
    """Insert ``lines`` as payments (of the customers their ``matches`` found), in one
    statement; returns ``(payment id, line)`` in the order of ``lines``."""
    if not lines:
        return []
    table, now = PaymentRow.__table__, utcnow()
    rows = [{"source": source, "external_id": line.external_id, "value_date": line.value_date,
             "amount": line.amount, "currency": line.currency, "payer_name": line.payer_name,
             "payer_iban": line.payer_iban, "reference": line.reference,
             "remittance": " ".join(x for x in (line.remittance, line.additional) if x) or None,
             "customer_id": match.customer_id,
             "created_at": now} for line, match in zip(lines, matches, strict=True)]
    ids = dict((e, i) for i, e in s.execute(  # by bank id (unique): any order of RETURNING
        insert(table).returning(table.c.id, table.c.external_id), rows))
    return [(ids[line.external_id], line) for line in lines]


def _import_lines(s: Session, lines: Iterable[StatementLine], source: str,
                  settings: MatchSettings, actor: str, import_id: int,
                  summary: ImportSummary, today: date) -> None:
    """Match, insert and apply ``lines`` (a list or a stream) batch by batch against one book
    (earlier lines take money first, as in one pass); nothing of a batch is kept in memory
    once it is written, so neither the session nor this function grows with the file."""
    book: Book | None = None
    it = iter(lines)
    while batch := list(islice(it, IMPORT_BATCH)):
        summary.lines += len(batch)
        for line in batch:
            check_value_date(line, file=summary.file, today=today)
        if book is None:
            book = load_book(s)  # every currency: a stream's currencies are not known ahead
        fresh, known = fresh_lines(s, batch, file=summary.file, import_id=import_id)
        summary.already_known += known
        summary.added += len(fresh)
        matches = match_lines(book, fresh, settings)
        _record_matches(s, _insert_payments(s, fresh, matches, source), matches, settings,
                        actor, import_id, summary)


def file_digest(path: Path) -> str:
    """The SHA-256 of ``path``'s content, read in chunks (an InputError if unreadable)."""
    digest = hashlib.sha256()
    try:
        with regular_file(path, missing_rule="file-readable").open("rb") as fh:
            while chunk := fh.read(1 << 20):
                digest.update(chunk)
    except OSError as err:
        raise InputError(f"cannot read: {err.strerror}", file=str(path),
                         rule="file-readable") from err
    return digest.hexdigest()


def get_mapping(store: Store, bank: str) -> CsvMapping:
    """The saved CSV mapping of ``bank``; one saved before a rule it breaks (an encoding
    Python does not know) is an InputError naming it and the field: save it again."""
    with store.session() as s:
        row = s.scalar(select(BankCsvMappingRow).where(BankCsvMappingRow.bank == bank))
        if row is None:
            known = list(s.scalars(select(BankCsvMappingRow.bank)))
            raise InputError(f"no CSV mapping saved for bank {bank!r}; known: "
                             f"{', '.join(known) or 'none'}", field="--bank",
                             rule="csv-mapping-known")
        return csv_mapping(row.mapping, file=f"the saved CSV mapping of {bank!r} (save it "
                                             "again: claims payments mapping set)")


def save_mapping(store: Store, bank: str, data: dict[str, Any], *, file: str = "<mapping>",
                 ) -> CsvMapping:
    """Validate and save (or replace) ``bank``'s CSV column mapping."""
    mapping = csv_mapping(data, file=file)
    with store.session() as s:
        row = s.scalar(select(BankCsvMappingRow).where(BankCsvMappingRow.bank == bank))
        row = row or BankCsvMappingRow(bank=bank)
        row.mapping, row.updated_at = mapping.model_dump(), utcnow()
        s.add(row)
    return mapping


def import_statement(store: Store, path: Path, *, fmt: str | None = None,
                     bank: str | None = None, settings: MatchSettings | None = None,
                     actor: str = "", dry_run: bool = False,
                     today: date | None = None) -> ImportSummary:
    """Import a statement file: new credits become payments, matched and applied or queued.

    The file is streamed (memory flat in its lines) inside one transaction: a bad line
    anywhere keeps nothing. The same file (by content) or the same lines (by their bank ids)
    imported again add nothing; a bank id met again with other facts (amount, date, currency,
    payer) is a conflict that keeps nothing (:mod:`claims.payments.bank_ids`). With
    ``dry_run`` everything is computed and nothing is kept. A value date outside reason (before
    1970, or more than a week after ``today``, default today in UTC) is refused
    (:func:`~claims.payments.statement.check_value_date`).
    """
    settings = settings or MatchSettings()
    today = today or datetime.now(UTC).date()
    digest = file_digest(path)
    mapping = get_mapping(store, bank) if bank else None
    statement: Statement = parse_statement(path, fmt, mapping=mapping, bank=bank or "generic")
    summary = ImportSummary(str(path), statement.format)
    with store.session() as s:
        if s.scalar(select(StatementImportRow.id).where(StatementImportRow.sha256 == digest)):
            summary.duplicate = True
            summary.lines = summary.already_known = sum(1 for _ in statement.lines)
            summary.debits_skipped = statement.debits_skipped
            summary.not_booked = statement.not_booked
            return summary
        record = StatementImportRow(sha256=digest, filename=path.name, format=statement.format,
                                    lines=0, actor=actor)
        s.add(record)
        s.flush()
        record_id = record.id
        _import_lines(s, statement.lines, statement.format, settings, actor, record_id, summary,
                      today)
        summary.debits_skipped, summary.not_booked = (statement.debits_skipped,
                                                      statement.not_booked)
        s.execute(update(StatementImportRow).where(StatementImportRow.id == record_id)
                  .values(added=summary.added, lines=summary.lines, account=statement.account,
                          statement_id=statement.statement_id))
        for line in statement.reversals:
            check_value_date(line, file=summary.file, today=today)
        _import_reversals(s, statement, record_id, actor, summary)
        if dry_run:
            s.rollback()
    log.info("statement imported", file=str(path), format=statement.format, added=summary.added,
             applied=summary.applied, review=summary.review, dry_run=dry_run)
    return summary


def _import_reversals(s: Session, statement: Statement, import_id: int, actor: str,
                      summary: ImportSummary) -> None:
    counts = record_reversals(s, statement.reversals, marked=statement.reversals_marked,
                              import_id=import_id, actor=actor, file=summary.file)
    summary.reversed, summary.reversals_review = counts.reversed, counts.review
    summary.reversals_unmatched = counts.unmatched
    summary.debits_skipped += counts.debits
    summary.already_known += counts.already_known


def record_portal_payment(store: Store, *, portal: str, advice_id: str, invoice_number: str,
                          amount: Decimal, currency: str, value_date: date,
                          payer_name: str | None = None, settings: MatchSettings | None = None,
                          actor: str = "status-sync") -> dict[str, Any]:
    """Record a payment advice from a portal (called by the status sync); idempotent by
    ``(portal, advice_id)``. It is matched like a statement line whose reference is the
    invoice number. Returns the match as in :class:`ImportSummary` ``matches``."""
    if currency not in CURRENCIES:
        raise InputError(f"unknown currency {currency!r}", field="currency",
                         rule="currency-known")
    if not isinstance(amount, Decimal) or amount <= 0:
        raise InputError(f"amount {amount!r} must be a positive Decimal", field="amount",
                         rule="amount-positive")
    settings = settings or MatchSettings()
    line = StatementLine(external_id=f"portal:{portal}:{advice_id}", value_date=value_date,
                         amount=amount, currency=currency, payer_name=payer_name,
                         reference=invoice_number, remittance=f"{portal} payment advice",
                         where=f"advice {advice_id}")
    check_value_date(line, file=f"portal:{portal}", today=datetime.now(UTC).date())
    summary = ImportSummary(f"portal:{portal}", "portal", lines=1)
    with store.session() as s:
        existing = s.scalar(select(PaymentRow).where(PaymentRow.external_id ==
                                                    line.external_id))
        if existing is not None:  # idempotent per advice (the sync reports it again)
            return {"payment_id": existing.id, "external_id": existing.external_id,
                    "status": "already-recorded"}
        fresh = [line]
        matches = match_lines(load_book(s, [currency]), fresh, settings)
        _record_matches(s, _insert_payments(s, fresh, matches, "portal"), matches, settings,
                        actor, None, summary)
    return summary.matches[0]


# -- review ---------------------------------------------------------------------------------

def review_queue(store: Store, *, status: str = "review") -> list[dict[str, Any]]:
    """Payments waiting for a decision (or in another match ``status``), oldest first."""
    with store.session() as s:
        rows = s.execute(select(PaymentMatchRow, PaymentRow)
                         .join(PaymentRow, PaymentRow.id == PaymentMatchRow.payment_id)
                         .where(PaymentMatchRow.status == status)
                         .order_by(PaymentRow.value_date, PaymentRow.id))
        return [{"payment_id": p.id, "value_date": p.value_date, "amount": plain(p.amount),
                 "currency": p.currency, "payer_name": p.payer_name, "payer_iban": p.payer_iban,
                 "reference": p.reference, "remittance": p.remittance, "method": m.method,
                 "confidence": m.confidence, "reason": m.reason, "flags": m.flags,
                 "proposal": m.proposal} for m, p in rows]


def _match_row(s: Session, payment_id: int) -> tuple[PaymentMatchRow, PaymentRow]:
    payment = s.get(PaymentRow, payment_id)
    match = s.scalar(select(PaymentMatchRow).where(PaymentMatchRow.payment_id == payment_id))
    if payment is None or match is None:
        raise NotFound("payment", payment_id)
    return match, payment


def _decide(match: PaymentMatchRow, status: str, actor: str) -> None:
    match.status, match.decided_by, match.decided_at = status, actor, utcnow()


def accept(store: Store, payment_id: int, *, actor: str = "") -> None:
    """Apply the proposed match of a payment waiting in review."""
    with store.session() as s:
        match, payment = _match_row(s, payment_id)
        if match.status not in ("review", "undone"):
            raise ConflictError(f"payment {payment_id} is {match.status}, not waiting in review")
        if not match.proposal:
            raise ConflictError(f"payment {payment_id} has no proposal; use change")
        allocations = [Allocation(a["invoice_id"], a["invoice"], Decimal(a["amount"]), a["kind"])
                       for a in match.proposal]
        _apply(s, payment, allocations, confidence=100,
               reason=f"accepted: {match.reason}", actor=actor)
        _learn_payer(s, payment.payer_iban, payment.customer_id)
        _decide(match, "accepted", actor)


def change(store: Store, payment_id: int, invoices: Sequence[tuple[str, Decimal | None]], *,
           actor: str = "", note: str = "") -> list[Allocation]:
    """Apply a payment to the invoices a specialist names (amount None: what is open, up to
    what is left); anything left over goes on account as a credit."""
    with store.session() as s:
        match, payment = _match_row(s, payment_id)
        if match.status not in ("review", "undone", "rejected"):
            raise ConflictError(f"payment {payment_id} is {match.status}; undo it first")
        left = payment.amount
        allocations: list[Allocation] = []
        customer_id = payment.customer_id
        for number, amount in invoices:
            invoice = s.scalar(select(InvoiceRow).where(InvoiceRow.number == number))
            if invoice is None:
                raise NotFound("invoice", number)
            if amount is not None:
                amount = _door(amount, payment.currency, f"invoice {number}")
            part = amount if amount is not None else min(_invoice_open(s, invoice.id), left)
            if part <= 0 or part > left:
                raise InputError(f"{part} is not between 0 and the {left} left of the payment",
                                 field=f"invoice {number}", rule="allocation-amount")
            allocations.append(Allocation(invoice.id, invoice.number, part))
            left -= part
            customer_id = customer_id or invoice.customer_id
        if left > 0:
            allocations.append(Allocation(None, None, left, "credit"))
        payment.customer_id = customer_id
        _apply(s, payment, allocations, confidence=100,
               reason=f"changed by a specialist{': ' + note if note else ''}", actor=actor)
        _learn_payer(s, payment.payer_iban, customer_id)
        match.proposal = [a.to_json() for a in allocations]
        _decide(match, "changed", actor)
        return allocations


def _door(amount: Decimal, currency: str, where: str) -> Decimal:
    """``amount`` through the one money door (:func:`claims.core.money.check_amount`): an
    InputError naming ``where`` for a sub-minor-unit, oversized or negative amount."""
    try:
        return check_amount(amount, currency, field=where, negative=False)
    except ValueError as err:
        raise InputError(str(err).removeprefix(f"{where}: "), field=where,
                         rule="amount") from None


def reject(store: Store, payment_id: int, *, actor: str = "", note: str = "") -> None:
    """Reject the proposal: the payment stays unapplied cash."""
    with store.session() as s:
        match, payment = _match_row(s, payment_id)
        if match.status not in ("review", "undone"):
            raise ConflictError(f"payment {payment_id} is {match.status}, not waiting in review")
        _decide(match, "rejected", actor)
        s.add(PaymentEventRow(payment_id=payment.id, kind="rejected", actor=actor,
                              detail={"note": note}))


def undo(store: Store, payment_id: int, *, actor: str = "", note: str = "") -> int:
    """Reverse every live application of a payment; it goes back to review. Returns how many
    applications were undone."""
    with store.session() as s:
        match, payment = _match_row(s, payment_id)
        live = list(s.scalars(select(PaymentApplicationRow).where(and_(
            PaymentApplicationRow.payment_id == payment_id,
            PaymentApplicationRow.undone_at.is_(None)))))
        if not live:
            raise ConflictError(f"payment {payment_id} has no live application to undo")
        now = utcnow()
        for row in live:
            row.undone_at = now
        _decide(match, "undone", actor)
        match.status = "review"
        s.add(PaymentEventRow(payment_id=payment.id, kind="undone", actor=actor,
                              detail={"applications": [r.id for r in live], "note": note}))
        return len(live)


def history(store: Store, payment_id: int) -> list[dict[str, Any]]:
    """The recorded events of a payment, oldest first."""
    with store.session() as s:
        _match_row(s, payment_id)
        return [{"at": e.at, "kind": e.kind, "actor": e.actor, "detail": e.detail}
                for e in s.scalars(select(PaymentEventRow).where(
                    PaymentEventRow.payment_id == payment_id).order_by(PaymentEventRow.id))]
