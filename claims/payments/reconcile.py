"""Per-customer reconciliation: invoiced, claimed, paid and still open, with every difference
that nothing explains yet (short payments, unapplied cash, credits on account, invoices not
claimed, over-applied invoices, credit notes not used yet).

As of a date (default today, UTC), by the one rule of what is known then
(:mod:`claims.store.asof`), the very rule of ``claims followup receivables``, ``account
show`` and the KPIs: invoices issued by then, payments received (value date) by then, and the
applications of those payments. A payment value-dated tomorrow is not paid today."""

from __future__ import annotations

from collections import defaultdict
from datetime import UTC, date, datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import case, exists, func, select
from sqlalchemy.orm import Session

from claims.core.money import round_money
from claims.payments import prepaid
from claims.store import DEAD_STATUSES, Store, asof
from claims.store.tables import (
    ClaimRow, CustomerRow, InvoiceRow, PaymentApplicationRow, PaymentRow,
)
from claims.store.tables.payments import PaymentReversalRow


def reconciliation(store: Store, *, customer: str | None = None,
                   as_of: date | None = None) -> list[dict[str, Any]]:
    """One entry per customer and currency (``customer: None`` collects unidentified payments)
    as of ``as_of`` (default today, UTC; see the module docstring)."""
    as_of = as_of or datetime.now(UTC).date()
    with store.session() as s:
        ledger = _Ledger(dict(s.execute(select(CustomerRow.id, CustomerRow.name)).all()))
        wanted: set[int | None] | None = None
        if customer is not None:
            wanted = {cid for cid, name in ledger.names.items() if name == customer}
        _add_invoices(s, ledger, wanted, as_of)
        _add_payments(s, ledger, wanted, as_of)
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


def _add_invoices(s: Session, ledger: _Ledger, wanted: set[int | None] | None,
                  as_of: date) -> None:
    """Add every invoice issued by ``as_of`` (of the ``wanted`` customers): invoiced, claimed,
    paid, written off, open; and the differences short-paid, over-applied and not-claimed, or
    for a credit note (a negative total) unused-credit."""
    a, p = _applications()
    i = InvoiceRow.__table__.alias("i")
    claimed = exists().where(ClaimRow.invoice_id == i.c.id,
                             ClaimRow.status.not_in(DEAD_STATUSES))
    # the paid amount an e-invoice states (claims.payments.prepaid) is paid, not short-paid
    kind = case((p.c.source == prepaid.SOURCE, prepaid.SOURCE), else_=a.c.kind).label("kind")
    per_invoice = (select(a.c.invoice_id, kind, func.sum(a.c.amount).label("amount"))
                   .select_from(a.outerjoin(p, p.c.id == a.c.payment_id))
                   .where(a.c.undone_at.is_(None), a.c.invoice_id.is_not(None),
                          asof.clause(asof.APPLICATION_KNOWN, as_of))
                   .group_by(a.c.invoice_id, kind).subquery())
    applied: dict[int, dict[str, Decimal]] = defaultdict(dict)
    for invoice_id, kind, amount in s.execute(select(per_invoice)):
        applied[invoice_id][kind] = amount  # SUM keeps the MoneyColumn type
    for row in s.execute(select(i.c.id, i.c.number, i.c.customer_id, i.c.currency, i.c.total,
                                i.c.contract_number, claimed.label("claimed"))
                         .where(asof.clause(asof.INVOICE_ISSUED, as_of))):
        if wanted is not None and row.customer_id not in wanted:
            continue
        e = ledger.entry(row.customer_id, row.currency)
        received = applied[row.id].get("payment", Decimal(0))
        paid = received + applied[row.id].get(prepaid.SOURCE, Decimal(0))
        adjusted = applied[row.id].get("writeoff", Decimal(0)) + applied[row.id].get(
            "discount", Decimal(0))
        open_amount = row.total - paid - adjusted
        e["invoiced"] += row.total
        e["claimed"] += row.total if row.claimed else Decimal(0)
        e["paid"] += paid
        e["written_off"] += adjusted
        e["open"] += open_amount
        if received and open_amount > 0:
            e["differences"].append({"kind": "short-paid", "invoice": row.number,
                                     "amount": open_amount})
        if row.total < 0:  # a credit note: its open credit is not over-applied, nor claimable
            if open_amount < 0:
                e["differences"].append({"kind": "unused-credit", "invoice": row.number,
                                         "amount": -open_amount})
            continue
        if open_amount < 0:
            e["differences"].append({"kind": "over-applied", "invoice": row.number,
                                     "amount": -open_amount})
        if row.contract_number and not row.claimed:
            e["differences"].append({"kind": "not-claimed", "invoice": row.number,
                                     "amount": row.total})


def _add_payments(s: Session, ledger: _Ledger, wanted: set[int | None] | None,
                  as_of: date) -> None:
    """Add every payment received by ``as_of`` (of the ``wanted`` customers): received, on
    account, unapplied; and the differences credit-on-account and unapplied-cash."""
    a, p = _applications()
    per_payment = (select(a.c.payment_id, a.c.kind, func.sum(a.c.amount).label("amount"))
                   .select_from(a.join(p, p.c.id == a.c.payment_id))
                   .where(a.c.undone_at.is_(None), asof.clause(asof.APPLICATION_KNOWN, as_of))
                   .group_by(a.c.payment_id, a.c.kind).subquery())
    used: dict[int, dict[str, Decimal]] = defaultdict(dict)
    for payment_id, kind, amount in s.execute(select(per_payment)):
        used[payment_id][kind] = amount
    returned = set(s.scalars(select(PaymentReversalRow.payment_id).where(
        PaymentReversalRow.status == "reversed")))
    for r in s.execute(select(p.c.id, p.c.customer_id, p.c.currency, p.c.amount,
                              p.c.value_date, p.c.payer_name)
                       .where(asof.clause(asof.PAYMENT_RECEIVED, as_of))):
        if wanted is not None and r.customer_id not in wanted or r.id in returned:
            continue  # a returned payment was received and given back: no cash
        e = ledger.entry(r.customer_id, r.currency)
        credit = used[r.id].get("credit", Decimal(0))
        unapplied = r.amount - used[r.id].get("payment", Decimal(0)) - credit
        e["received"] += r.amount
        e["on_account"] += credit
        e["unapplied"] += unapplied
        if credit:
            e["differences"].append({"kind": "credit-on-account", "payment_id": r.id,
                                     "value_date": r.value_date, "amount": credit})
        if unapplied:
            e["differences"].append({"kind": "unapplied-cash", "payment_id": r.id,
                                     "value_date": r.value_date, "payer": r.payer_name,
                                     "amount": unapplied})


def _applications() -> tuple[Any, Any]:
    """The applications and payments tables under the aliases of the as-of rules (``a``,
    ``p``: :mod:`claims.store.asof`)."""
    return (PaymentApplicationRow.__table__.alias("a"), PaymentRow.__table__.alias("p"))
