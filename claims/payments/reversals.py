"""Reversals: credits the bank returned reopen what they paid.

A reversal line (see :mod:`claims.payments.parsers`) is looked up among the payments already
kept: same currency and amount, value date on or before the reversal's, not reversed yet, and
the same payer or reference (structured reference / end-to-end id, payer IBAN, payer name).
One such payment: its live applications are undone (its invoices are open again), its match
becomes ``reversed`` and an event records the reversal. Several: the reversal waits in review
with its candidates until a person names the payment (:func:`resolve`). None: a reversal the
bank marked is kept as ``unmatched`` (nothing changed, it is listed); a negative CSV line is an
ordinary debit and is not kept.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from sqlalchemy import or_, select
from sqlalchemy.orm import Session

from claims.errors import ConflictError, InputError, NotFound
from claims.payments.bank_ids import differences
from claims.payments.parsers import StatementLine
from claims.store import Store
from claims.store.tables import PaymentApplicationRow, PaymentRow, utcnow
from claims.store.tables.payments import PaymentEventRow, PaymentMatchRow, PaymentReversalRow


@dataclass
class ReversalCounts:
    """What the reversal lines of one import did."""

    reversed: int = 0
    review: int = 0
    unmatched: int = 0
    already_known: int = 0
    debits: int = 0   # negative CSV lines that reverse nothing: ordinary debits


def _reversed_ids(s: Session) -> set[int]:
    return set(s.scalars(select(PaymentReversalRow.payment_id).where(
        PaymentReversalRow.status == "reversed", PaymentReversalRow.payment_id.is_not(None))))


def candidates(s: Session, line: StatementLine) -> list[PaymentRow]:
    """The kept payments ``line`` may return, oldest first (see the module docstring)."""
    same = [c == v for c, v in ((PaymentRow.reference, line.reference),
                                (PaymentRow.payer_iban, line.payer_iban),
                                (PaymentRow.payer_name, line.payer_name)) if v]
    if not same:
        return []
    rows = s.scalars(select(PaymentRow).where(
        PaymentRow.currency == line.currency, PaymentRow.amount == line.amount,
        PaymentRow.value_date <= line.value_date, or_(*same))
        .order_by(PaymentRow.value_date, PaymentRow.id))
    done = _reversed_ids(s)
    return [p for p in rows if p.id not in done]


def reopen(s: Session, payment: PaymentRow, reversal: PaymentReversalRow, actor: str) -> int:
    """Undo ``payment``'s live applications because ``reversal`` returned it; returns how many
    applications were undone."""
    live = list(s.scalars(select(PaymentApplicationRow).where(
        PaymentApplicationRow.payment_id == payment.id,
        PaymentApplicationRow.undone_at.is_(None))))
    now = utcnow()
    for row in live:
        row.undone_at = now
    match = s.scalar(select(PaymentMatchRow).where(PaymentMatchRow.payment_id == payment.id))
    if match is not None:
        match.status, match.decided_by, match.decided_at = "reversed", actor, now
    reversal.payment_id, reversal.status = payment.id, "reversed"
    s.add(PaymentEventRow(payment_id=payment.id, kind="reversed", actor=actor, detail={
        "reversal_id": reversal.id, "reversal": reversal.external_id,
        "value_date": str(reversal.value_date), "applications": [r.id for r in live]}))
    return len(live)


def known_reversal(s: Session, line: StatementLine, *, file: str,
                   import_id: int | None) -> bool:
    """Whether ``line``'s bank id is a reversal already kept (from an earlier file, or an
    earlier line of this one): the same transaction when its facts agree; an InputError
    (rule ``bank-id-conflict``, the rule of :mod:`claims.payments.bank_ids`) when its value
    date, amount, currency or payer differ."""
    kept = s.scalar(select(PaymentReversalRow).where(
        PaymentReversalRow.external_id == line.external_id))
    if kept is None:
        return False
    diff = differences(kept, line)
    if diff:
        source = ("an earlier line of this file" if import_id is not None
                  and kept.import_id == import_id else "an earlier import")
        raise InputError(
            f"bank id {line.external_id} is already kept as reversal #{kept.id} (from "
            f"{source}) with other content: {'; '.join(diff)} (one id names one transaction; "
            "nothing of this file is kept)", file=file, field=line.where,
            rule="bank-id-conflict")
    return True


def record_reversals(s: Session, lines: Iterable[StatementLine], *, marked: bool,
                     import_id: int | None, actor: str, file: str = "") -> ReversalCounts:
    """Record each reversal line of an import and reopen what it returned (module docstring);
    ``marked``: the bank marked the lines as reversals (False: negative CSV lines). A bank id
    met again is compared (:func:`known_reversal`)."""
    counts = ReversalCounts()
    for line in lines:
        if known_reversal(s, line, file=file, import_id=import_id):
            counts.already_known += 1
            continue
        found = candidates(s, line)
        if not found and not marked:
            counts.debits += 1
            continue
        status = "reversed" if len(found) == 1 else "review" if found else "unmatched"
        row = PaymentReversalRow(
            external_id=line.external_id, import_id=import_id, value_date=line.value_date,
            amount=line.amount, currency=line.currency, payer_name=line.payer_name,
            payer_iban=line.payer_iban, reference=line.reference, remittance=line.remittance,
            candidates=[p.id for p in found], status=status)
        s.add(row)
        s.flush()
        if status == "reversed":
            reopen(s, found[0], row, f"auto ({actor})" if actor else "auto")
        setattr(counts, status, getattr(counts, status) + 1)
    return counts


def _as_dict(r: PaymentReversalRow) -> dict[str, Any]:
    return {"reversal_id": r.id, "external_id": r.external_id, "value_date": r.value_date,
            "amount": r.amount, "currency": r.currency, "payer_name": r.payer_name,
            "payer_iban": r.payer_iban, "reference": r.reference, "status": r.status,
            "payment_id": r.payment_id, "candidates": list(r.candidates or [])}


#: What a recorded reversal can be: its payment found and reopened, several candidates (a
#: person decides), or none found.
REVERSAL_STATUSES = ("reversed", "review", "unmatched")


def reversals(store: Store, *, status: str | None = None) -> list[dict[str, Any]]:
    """The recorded reversals (of one ``status``: reversed, review, unmatched), oldest first."""
    if status is not None and status not in REVERSAL_STATUSES:
        raise InputError(f"unknown status {status!r}; use {', '.join(REVERSAL_STATUSES)}",
                         field="--status", rule="reversal-status")
    with store.session() as s:
        query = select(PaymentReversalRow).order_by(PaymentReversalRow.value_date,
                                                    PaymentReversalRow.id)
        if status:
            query = query.where(PaymentReversalRow.status == status)
        return [_as_dict(r) for r in s.scalars(query)]


def resolve(store: Store, reversal_id: int, payment_id: int, *, actor: str = "") -> int:
    """A person names the payment a reversal in review (or unmatched) returned: its
    applications are undone. Returns how many."""
    with store.session() as s:
        reversal = s.get(PaymentReversalRow, reversal_id)
        if reversal is None:
            raise NotFound("reversal", reversal_id)
        if reversal.status == "reversed":
            raise ConflictError(f"reversal {reversal_id} already reopened payment "
                                f"{reversal.payment_id}")
        payment = s.get(PaymentRow, payment_id)
        if payment is None:
            raise NotFound("payment", payment_id)
        if payment.currency != reversal.currency or payment.amount != reversal.amount:
            raise ConflictError(f"payment {payment_id} is {payment.amount} {payment.currency}; "
                                f"the reversal returns {reversal.amount} {reversal.currency}")
        if payment_id in _reversed_ids(s):
            raise ConflictError(f"payment {payment_id} was already reversed")
        undone = reopen(s, payment, reversal, actor)
        reversal.decided_by, reversal.decided_at = actor, utcnow()
        return undone
