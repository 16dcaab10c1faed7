"""Per-customer reconciliation: invoiced, claimed, paid and still open, with every difference
that nothing explains yet (short payments, unapplied cash, credits on account, invoices not
claimed, over-applied invoices)."""

from __future__ import annotations

from collections import defaultdict
from decimal import Decimal
from typing import Any

from sqlalchemy import exists, func, select
from sqlalchemy.orm import Session

from claims.core.money import round_money
from claims.store import DEAD_STATUSES, Store
from claims.store.tables import (
    ClaimRow, CustomerRow, InvoiceRow, PaymentApplicationRow, PaymentRow,
)
from claims.store.tables.payments import PaymentReversalRow


def reconciliation(store: Store, *, customer: str | None = None) -> list[dict[str, Any]]:
    """One entry per customer and currency (``customer: None`` collects unidentified payments)."""
    with store.session() as s:
        ledger = _Ledger(dict(s.execute(select(CustomerRow.id, CustomerRow.name)).all()))
        wanted: set[int | None] | None = None
        if customer is not None:
            wanted = {cid for cid, name in ledger.names.items() if name == customer}
        _add_invoices(s, ledger, wanted)
        _add_payments(s, ledger, wanted)
    for e in ledger.entries.values():  # the store keeps 4 places; show the currency's own
        for key, value in e.items():   # … by the one rounding policy (docs/kpis.md)
            if isinstance(value, Decimal):
                e[key] = round_money(value, e["currency"])
        for d in e["differences"]:
            d["amount"] = round_money(d["amount"], e["currency"])
    return sorted(ledger.entries.values(),
                  key=lambda e: (e["customer"] is None, e["customer"] or "", e["currency"]))


class _Ledger:
    """The reconciliation entries being added up, per (customer id, currency)."""

    def __init__(self, names: dict[int, str]) -> None:
        self.names: dict[int | None, str | None] = {None: None, **names}
        self.entries: dict[tuple[int | None, str], dict[str, Any]] = {}

    def entry(self, cid: int | None, currency: str) -> dict[str, Any]:
        """The entry of customer ``cid`` in ``currency``, started at zero if new."""
        key = (cid, currency)
        if key not in self.entries:
            self.entries[key] = {
                "customer": self.names.get(cid), "currency": currency,
                **{k: Decimal(0) for k in ("invoiced", "claimed", "paid", "written_off", "open",
                                           "received", "unapplied", "on_account")},
                "differences": []}
        return self.entries[key]


def _add_invoices(s: Session, ledger: _Ledger, wanted: set[int | None] | None) -> None:
    """Add every invoice (of the ``wanted`` customers): invoiced, claimed, paid, written off,
    open; and the differences short-paid, over-applied and not-claimed."""
    A, I = PaymentApplicationRow, InvoiceRow  # noqa: N806, E741
    claimed = exists().where(ClaimRow.invoice_id == I.id, ClaimRow.status.not_in(DEAD_STATUSES))
    per_invoice = (select(A.invoice_id, A.kind, func.sum(A.amount).label("amount"))
                   .where(A.undone_at.is_(None), A.invoice_id.is_not(None))
                   .group_by(A.invoice_id, A.kind).subquery())
    applied: dict[int, dict[str, Decimal]] = defaultdict(dict)
    for invoice_id, kind, amount in s.execute(select(per_invoice)):
        applied[invoice_id][kind] = amount  # SUM keeps the MoneyColumn type
    for row in s.execute(select(I.id, I.number, I.customer_id, I.currency, I.total,
                                I.contract_number, claimed.label("claimed"))):
        if wanted is not None and row.customer_id not in wanted:
            continue
        e = ledger.entry(row.customer_id, row.currency)
        paid = applied[row.id].get("payment", Decimal(0))
        adjusted = applied[row.id].get("writeoff", Decimal(0)) + applied[row.id].get(
            "discount", Decimal(0))
        open_amount = row.total - paid - adjusted
        e["invoiced"] += row.total
        e["claimed"] += row.total if row.claimed else Decimal(0)
        e["paid"] += paid
        e["written_off"] += adjusted
        e["open"] += open_amount
        if paid and open_amount > 0:
            e["differences"].append({"kind": "short-paid", "invoice": row.number,
                                     "amount": open_amount})
        if open_amount < 0:
            e["differences"].append({"kind": "over-applied", "invoice": row.number,
                                     "amount": -open_amount})
        if row.contract_number and not row.claimed:
            e["differences"].append({"kind": "not-claimed", "invoice": row.number,
                                     "amount": row.total})


def _add_payments(s: Session, ledger: _Ledger, wanted: set[int | None] | None) -> None:
    """Add every payment (of the ``wanted`` customers): received, on account, unapplied; and
    the differences credit-on-account and unapplied-cash."""
    A, P = PaymentApplicationRow, PaymentRow  # noqa: N806
    per_payment = (select(A.payment_id, A.kind, func.sum(A.amount).label("amount"))
                   .where(A.undone_at.is_(None), A.payment_id.is_not(None))
                   .group_by(A.payment_id, A.kind).subquery())
    used: dict[int, dict[str, Decimal]] = defaultdict(dict)
    for payment_id, kind, amount in s.execute(select(per_payment)):
        used[payment_id][kind] = amount
    returned = set(s.scalars(select(PaymentReversalRow.payment_id).where(
        PaymentReversalRow.status == "reversed")))
    for p in s.execute(select(P.id, P.customer_id, P.currency, P.amount, P.value_date,
                              P.payer_name)):
        if wanted is not None and p.customer_id not in wanted or p.id in returned:
            continue  # a returned payment was received and given back: no cash
        e = ledger.entry(p.customer_id, p.currency)
        credit = used[p.id].get("credit", Decimal(0))
        unapplied = p.amount - used[p.id].get("payment", Decimal(0)) - credit
        e["received"] += p.amount
        e["on_account"] += credit
        e["unapplied"] += unapplied
        if credit:
            e["differences"].append({"kind": "credit-on-account", "payment_id": p.id,
                                     "value_date": p.value_date, "amount": credit})
        if unapplied:
            e["differences"].append({"kind": "unapplied-cash", "payment_id": p.id,
                                     "value_date": p.value_date, "payer": p.payer_name,
                                     "amount": unapplied})
