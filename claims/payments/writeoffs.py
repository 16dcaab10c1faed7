"""Write-offs posted by a decision (an approved escalation), not by a bank line.

A write-off is a ``writeoff`` payment application against the invoice, like the small
differences cash application writes off. Every application is dated by its payment's value
date (the KPI and report SQL read ``payments.value_date``), so a decided write-off is carried by
a payment row of ``source = 'writeoff'`` and amount 0: no money was received, nothing is left
unapplied, and ``claims kpi``, ``claims payments reconcile``, the weekly report and the
worklist all see the invoice's open balance fall by the amount written off. Undoing it (a
revoked decision) marks the application undone; the invoice is open again.

The caller's session is used, so the decision and its posting are one transaction.
"""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal

from sqlalchemy.orm import Session

from claims.errors import ConflictError
from claims.store.tables import PaymentApplicationRow, PaymentRow, utcnow
from claims.store.tables.payments import PaymentEventRow

SOURCE = "writeoff"


def post_writeoff(s: Session, *, key: str, invoice_id: int, customer_id: int, number: str,
                  currency: str, amount: Decimal, on: date, reason: str, actor: str,
                  at: datetime | None = None) -> int:
    """Write ``amount`` of invoice ``number`` off on day ``on``; returns the application id.

    ``key`` names the decision (e.g. ``escalation:7``); the same key is never posted twice.
    """
    external_id = f"{SOURCE}:{key}"
    if s.query(PaymentRow.id).filter(PaymentRow.external_id == external_id).first():
        raise ConflictError(f"write-off {key} was posted already")
    when = at or utcnow()
    carrier = PaymentRow(source=SOURCE, external_id=external_id, value_date=on,
                         amount=Decimal(0), currency=currency, customer_id=customer_id,
                         reference=number, remittance=f"write-off: {reason}", created_at=when)
    s.add(carrier)
    s.flush()
    app = PaymentApplicationRow(payment_id=carrier.id, invoice_id=invoice_id, amount=amount,
                                kind="writeoff", confidence=100, reason=reason, actor=actor,
                                applied_at=when)
    s.add(app)
    s.flush()
    s.add(PaymentEventRow(payment_id=carrier.id, kind="written-off", actor=actor, at=when,
                          detail={"invoice": number, "amount": str(amount), "key": key}))
    return app.id


def undo_writeoff(s: Session, application_id: int, *, actor: str, note: str,
                  at: datetime | None = None) -> None:
    """Undo a posted write-off (its decision was revoked); the invoice is open again."""
    app = s.get(PaymentApplicationRow, application_id)
    if app is None or app.kind != "writeoff":
        raise ConflictError(f"application {application_id} is no posted write-off")
    if app.undone_at is not None:
        return
    app.undone_at = at or utcnow()
    if app.payment_id is not None:
        s.add(PaymentEventRow(payment_id=app.payment_id, kind="undone", actor=actor,
                              at=app.undone_at, detail={"note": note}))
