"""Loading history in bulk: customers with their segment, invoices with their payment terms,
and a whole generated history, in a few transactions (not one command per invoice).

- :func:`add_customers` creates or updates customers (segment = ``kind``, collector) at once;
- :func:`add_invoices` stores invoices and gives each its payment terms (the schedule that
  :func:`claims.collections.terms.schedule` computes), all in one transaction;
- :func:`load_history` writes a :class:`~claims.forecast.synthetic.History` with multi-row
  inserts, optionally only what was known by a day (the workspace as it stood then).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import UTC, date, datetime, time
from decimal import Decimal
from typing import Any

from sqlalchemy import insert, select

from claims.collections.terms import Terms, schedule
from claims.core.models import Invoice
from claims.core.money import minor_units
from claims.errors import InputError
from claims.forecast.synthetic import History
from claims.store import Store
from claims.store.tables import (
    ClaimEventRow, ClaimRow, ContractRow, CustomerRow, InvoiceRow, PaymentApplicationRow,
    PaymentRow,
)
from claims.store.tables.collections import DisputeRow, PromiseRow, ScheduleRow

CHUNK = 5_000


def _at(day: date) -> datetime:
    return datetime.combine(day, time(12), tzinfo=UTC)


def add_customers(store: Store, customers: Sequence[Mapping[str, Any]]) -> int:
    """Create or update customers (``name``, optional ``segment`` agency|private, ``collector``,
    ``email``) in one transaction; returns how many were new."""
    with store.session() as s:
        known = {c.name: c for c in s.scalars(select(CustomerRow))}
        new = 0
        for entry in customers:
            name = str(entry.get("name", "")).strip()
            if not name:
                raise InputError("a customer without a name", field="name", rule="non-empty")
            row = known.get(name)
            if row is None:
                row = known[name] = CustomerRow(name=name)
                s.add(row)
                new += 1
            row.kind = entry.get("segment") or row.kind or "agency"
            row.collector = entry.get("collector", row.collector)
            row.email = entry.get("email", row.email)
        return new


def add_invoices(store: Store, invoices: Sequence[Invoice],
                 terms: Terms | Mapping[str, Terms] | None = None) -> dict[str, int]:
    """Store ``invoices`` with their payment terms (one for all, or per invoice number), all
    or nothing. An invoice's schedule replaces any earlier one; an invoice with neither terms
    nor a due date falls due after the default net days. Returns counts."""
    with store.session() as s:
        result = store.put_invoices(invoices, session=s)
        if terms is None:
            return {"added": len(result.added), "changed": len(result.changed), "terms": 0}
        ids = {}
        numbers = [inv.number for inv in invoices]
        for start in range(0, len(numbers), 500):
            ids.update(s.execute(select(InvoiceRow.number, InvoiceRow.id).where(
                InvoiceRow.number.in_(numbers[start:start + 500]))).all())
        rows = []
        for inv in invoices:
            chosen = terms if isinstance(terms, Terms) else terms.get(inv.number)
            if chosen is None:
                continue
            try:
                dues = schedule(chosen, inv.issue_date, inv.total, minor_units(inv.currency))
            except ValueError as err:
                raise InputError(f"invoice {inv.number}: {err}", field="terms",
                                 rule="instalments-sum") from err
            rows += [{"invoice_id": ids[inv.number], "seq": d.seq, "due_date": d.due_date,
                      "amount": d.amount, "basis": chosen.kind} for d in dues]
        with_terms = list({r["invoice_id"] for r in rows})
        for start in range(0, len(with_terms), 500):
            s.query(ScheduleRow).filter(ScheduleRow.invoice_id.in_(
                with_terms[start:start + 500])).delete(synchronize_session=False)
        _insert(s, ScheduleRow, rows)
        return {"added": len(result.added), "changed": len(result.changed),
                "terms": len(with_terms)}


def _insert(s: Any, table: Any, rows: list[dict[str, Any]]) -> None:
    for start in range(0, len(rows), CHUNK):
        if rows[start:start + CHUNK]:
            s.execute(insert(table), rows[start:start + CHUNK])


def load_history(store: Store, history: History, *, known_by: date | None = None) -> dict[str, int]:
    """Write ``history`` into an empty store (customers, one contract per agency, invoices with
    their terms, claims and their status events, payments applied, promises, disputes).
    With ``known_by``, only what was known by the end of that day. Returns row counts."""
    last = known_by or date.max
    with store.session() as s:
        _insert(s, CustomerRow, [{"name": c.name, "kind": c.segment} for c in history.customers])
        customer_id = dict(s.execute(select(CustomerRow.name, CustomerRow.id)).all())
        cid = {c.id: customer_id[c.name] for c in history.customers}
        _insert(s, ContractRow, [_contract(a.name, a.payment_days) for a in history.agencies])
        contract_id = dict(s.execute(select(ContractRow.agency, ContractRow.id)).all())
        items = [i for i in history.items if i.issue_date <= last]
        _insert(s, InvoiceRow, [_invoice(i, history.customers[i.customer_id - 1].name,
                                         cid[i.customer_id]) for i in items])
        iid = dict(s.execute(select(InvoiceRow.number, InvoiceRow.id)).all())
        by_gen = {i.invoice_id: iid[i.number] for i in items}
        _insert(s, ScheduleRow, [{"invoice_id": iid[i.number], "seq": 0, "due_date": i.due_date,
                                  "amount": i.amount, "basis": history.terms[i.invoice_id - 1]
                                  .kind} for i in items])
        claims = _load_claims(s, history, by_gen, contract_id, last)
        payments = _load_payments(s, history, by_gen, cid, items, last)
        _insert(s, PromiseRow, [
            {"customer_id": cid[p.customer_id], "amount": p.amount, "currency": p.currency,
             "promised_date": p.promised_date, "promised_by": "accounts payable",
             "channel": "call", "made_at": _at(p.made_on), "actor": "synthetic"}
            for p in history.promises if p.made_on <= last])
        disputes = [d for d in history.disputes if d.opened_on <= last and d.invoice_id in by_gen]
        customer_of = {i.invoice_id: cid[i.customer_id] for i in items}
        _insert(s, DisputeRow, [
            {"customer_id": customer_of[d.invoice_id], "invoice_id": by_gen[d.invoice_id],
             "reason": "pricing", "team": "billing", "opened_at": _at(d.opened_on),
             **({"status": "resolved", "resolution": "corrected", "resolved_at":
                 _at(d.resolved_on)} if d.resolved_on and d.resolved_on <= last
                else {"status": "open"})} for d in disputes])
    return {"customers": len(history.customers), "invoices": len(items), "claims": claims,
            "payments": payments}


def _contract(agency: str, payment_days: int) -> dict[str, Any]:
    number = "C-" + agency.replace(" ", "-").upper()
    data = {"number": number, "agency": agency, "portal": "sandbox", "currency": "EUR",
            "ceiling": "1000000000", "period_start": "2020-01-01", "period_end": "2030-12-31",
            "vat_percent": "0", "claim_types": ["services-monthly"],
            "payment_terms": {"kind": "net", "days": payment_days}}
    return {"number": number, "agency": agency, "portal": "sandbox", "currency": "EUR",
            "ceiling": Decimal("1000000000"), "period_start": date(2020, 1, 1),
            "period_end": date(2030, 12, 31), "data": data}


def _invoice(item: Any, customer: str, customer_id: int) -> dict[str, Any]:
    contract = "C-" + item.agency.replace(" ", "-").upper() if item.agency else None
    data = {"number": item.number, "issue_date": item.issue_date.isoformat(),
            "due_date": item.due_date.isoformat(), "currency": item.currency,
            "customer": customer, "contract_number": contract, "net": str(item.amount),
            "vat": "0", "total": str(item.amount), "source": "synthetic"}
    return {"number": item.number, "customer_id": customer_id, "currency":
            item.currency, "issue_date": item.issue_date, "due_date": item.due_date,
            "net": item.amount, "vat": Decimal(0), "total": item.amount, "data": data,
            "source": "synthetic", "content_hash": item.number, "contract_number": contract}


def _load_claims(s: Any, history: History, by_gen: dict[int, int],
                 contract_id: dict[str, int], last: date) -> int:
    rows, events = [], []
    for c in history.claims:
        known = [(at, st) for at, st in c.events if at <= last]
        if not known or c.invoice_id not in by_gen:
            continue
        rows.append({"contract_id": contract_id[c.agency], "invoice_id": by_gen[c.invoice_id],
                     "claim_type": "services-monthly", "status": known[-1][1],
                     "portal_reference": f"SYN-{c.claim_id}", "created_at": _at(known[0][0])})
        events.append(known)
    _insert(s, ClaimRow, rows)
    ids = dict(s.execute(select(ClaimRow.portal_reference, ClaimRow.id)).all())
    _insert(s, ClaimEventRow, [
        {"claim_id": ids[row["portal_reference"]], "at": _at(at), "kind": "status",
         "status": st, "actor": "synthetic", "detail": {}}
        for row, known in zip(rows, events, strict=True) for at, st in known])
    return len(rows)


def _load_payments(s: Any, history: History, by_gen: dict[int, int], cid: dict[int, int],
                   items: list[Any], last: date) -> int:
    customer_of = {i.invoice_id: cid[i.customer_id] for i in items}
    currency_of = {i.invoice_id: i.currency for i in items}
    receipts = [r for r in history.receipts if r.day <= last and r.invoice_id in by_gen]
    _insert(s, PaymentRow, [
        {"source": "synthetic", "external_id": f"SYN-{k}", "value_date": r.day,
         "amount": r.amount, "currency": currency_of[r.invoice_id],
         "customer_id": customer_of[r.invoice_id]} for k, r in enumerate(receipts)])
    pid = dict(s.execute(select(PaymentRow.external_id, PaymentRow.id).where(
        PaymentRow.source == "synthetic")).all())
    _insert(s, PaymentApplicationRow, [
        {"payment_id": pid[f"SYN-{k}"], "invoice_id": by_gen[r.invoice_id], "amount": r.amount,
         "kind": r.kind, "confidence": 100, "reason": "synthetic history", "actor": "synthetic",
         "applied_at": _at(r.day)} for k, r in enumerate(receipts)])
    return len(receipts)
