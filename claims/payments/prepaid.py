"""Money an e-invoice says was paid before it was issued (EN 16931 BT-113), posted as applied.

An EN 16931 invoice (UBL/Peppol, CII/XRechnung/Factur-X) states its amount due for payment
(BT-115) as its total with VAT (BT-112) less the paid amount (BT-113) plus the rounding amount
(BT-114), BR-CO-16. The importers keep the printed ``prepaid``, ``rounding`` and ``payable`` in
the origin's extra; the invoice itself (its VAT, its total, the claim sent to a portal) stays
the total with VAT. What the customer still owes is the payable amount, so the paid amount
less a negative rounding is posted here as money applied to the invoice, the pattern of
:mod:`claims.payments.writeoffs`: a carrier payment row (``source = 'prepaid'``, one per
invoice, value-dated by the invoice's issue date) and one live ``payment`` application.

Kind ``payment``, not ``credit``: a ``credit`` is money on account (no invoice) and reconcile
does not take it off an invoice's open balance; the paid amount is money the customer paid for
this invoice. The carrier's amount is what is applied from it, so ``claims payments
reconcile`` shows it received and paid (no unapplied cash, no credit on account), and follow-up,
the worklist, the KPIs, the reports and the forecast all see the open balance of the payable
amount. A positive rounding (payable above the total) is not posted: the receivable stays the
total.

:func:`sync_prepaid` is idempotent: an unchanged amount posts nothing; a changed one (or a
changed issue date, currency or customer) undoes the live application and posts the new one;
a paid amount gone undoes it and sets the carrier's amount to 0. The caller's session is used,
so the import and its postings are one transaction.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime
from decimal import Decimal, InvalidOperation
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from claims.store.tables import (
    PREPAID_SOURCE, InvoiceRow, PaymentApplicationRow, PaymentRow, utcnow,
)
from claims.store.tables.payments import PaymentEventRow
from claims.store.tables.sources import InvoiceOriginRow

SOURCE = PREPAID_SOURCE
_CHUNK = 500


def _printed(extra: Mapping[str, Any], key: str) -> Decimal:
    try:
        return Decimal(str(extra.get(key) or 0))
    except InvalidOperation:
        return Decimal(0)


def prepaid_amount(extra: Mapping[str, Any] | None, total: Decimal) -> Decimal:
    """What an invoice's origin ``extra`` says is settled already: the paid amount (BT-113)
    less the rounding amount (BT-114; a negative rounding reduces what is due), at most the
    invoice's ``total``; 0 for a credit note (stored negated) and when nothing was paid."""
    if not extra or extra.get("negated") or total <= 0:
        return Decimal(0)
    settled = _printed(extra, "prepaid") - _printed(extra, "rounding")
    return min(settled, total) if settled > 0 else Decimal(0)


def _reason(number: str, extra: Mapping[str, Any]) -> str:
    words = f"paid amount (BT-113) {_printed(extra, 'prepaid')} printed on invoice {number}"
    rounding = _printed(extra, "rounding")
    if rounding:
        words += f", rounding amount (BT-114) {rounding}"
    return f"{words}: amount due for payment (BT-115) {extra.get('payable')}"


def sync_prepaid(s: Session, numbers: Sequence[str], *, actor: str,
                 at: datetime | None = None) -> int:
    """Make the posted paid amount of each invoice in ``numbers`` what its stored origin's
    extra says (:func:`prepaid_amount`); returns how many invoices had a posting changed."""
    when = at or utcnow()
    changed = 0
    for start in range(0, len(numbers), _CHUNK):
        rows = s.execute(select(InvoiceRow.id, InvoiceRow.number, InvoiceRow.total,
                                InvoiceRow.issue_date, InvoiceRow.currency,
                                InvoiceRow.customer_id, InvoiceOriginRow.extra)
                         .outerjoin(InvoiceOriginRow,
                                    InvoiceOriginRow.invoice_id == InvoiceRow.id)
                         .where(InvoiceRow.number.in_(list(numbers[start:start + _CHUNK])))
                         ).all()
        keys = {f"{SOURCE}:{row.id}": row for row in rows}
        carriers = {p.external_id: p for p in s.scalars(
            select(PaymentRow).where(PaymentRow.external_id.in_(list(keys))))}
        live: dict[int | None, PaymentApplicationRow] = {}
        if carriers:
            live = {a.payment_id: a for a in s.scalars(select(PaymentApplicationRow).where(
                PaymentApplicationRow.payment_id.in_([p.id for p in carriers.values()]),
                PaymentApplicationRow.undone_at.is_(None)))}
        for key, row in keys.items():
            amount = prepaid_amount(row.extra, row.total)
            carrier = carriers.get(key)
            app = live.get(carrier.id) if carrier is not None else None
            if app is None and not amount or app is not None and _same(carrier, app, row,
                                                                        amount):
                continue
            changed += 1
            _post(s, key, carrier, app, row, amount, _reason(row.number, row.extra or {}),
                  actor, when)
    return changed


def _same(carrier: PaymentRow | None, app: PaymentApplicationRow, row: Any,
          amount: Decimal) -> bool:
    return (carrier is not None and app.amount == amount and app.invoice_id == row.id
            and carrier.amount == amount and carrier.value_date == row.issue_date
            and carrier.currency == row.currency and carrier.customer_id == row.customer_id)


def _post(s: Session, key: str, carrier: PaymentRow | None, app: PaymentApplicationRow | None,
          row: Any, amount: Decimal, reason: str, actor: str, when: datetime) -> None:
    """Undo the live application ``app`` (if any), bring the carrier up to date (made if
    missing) and apply ``amount`` (if any) to the invoice ``row``."""
    if carrier is None:
        carrier = PaymentRow(source=SOURCE, external_id=key, created_at=when)
        s.add(carrier)
    carrier.value_date, carrier.currency = row.issue_date, row.currency
    carrier.amount, carrier.customer_id = amount, row.customer_id
    carrier.reference, carrier.remittance = None, f"prepaid: {reason}"
    s.flush()
    if app is not None:
        app.undone_at = when
        s.add(PaymentEventRow(payment_id=carrier.id, kind="undone", actor=actor, at=when,
                              detail={"note": "the invoice's paid amount changed",
                                      "invoice": row.number, "amount": str(app.amount)}))
    if amount:
        s.add(PaymentApplicationRow(payment_id=carrier.id, invoice_id=row.id, amount=amount,
                                    kind="payment", confidence=100, reason=reason,
                                    actor=actor, applied_at=when))
        s.add(PaymentEventRow(payment_id=carrier.id, kind="prepaid", actor=actor, at=when,
                              detail={"invoice": row.number, "amount": str(amount)}))
    s.flush()
