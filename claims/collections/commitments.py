"""Changing what a client committed to: cancel or edit a promise, cancel or edit a payment
plan, and the list of plans. The same write-time checks as :func:`records.add_promise` and
:func:`records.add_plan` apply to an edit (no past dates, known currency, not above what is
open, one live plan per invoice). Each change is logged on the account's interaction log.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date, datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from claims.collections.records import (
    _positive, check_open, customer_row, not_past, open_balance, plan_status, write_plan,
)
from claims.errors import ConflictError, InputError, NotFound
from claims.store import Store
from claims.store.tables import CustomerRow, InvoiceRow, utcnow
from claims.store.tables.collections import (
    InteractionRow, PlanInvoiceRow, PlanRow, PromiseRow,
)


def _reason(reason: str) -> str:
    if not reason.strip():
        raise InputError("say why (--reason)", field="reason", rule="non-empty")
    return reason.strip()


def _promise(s: Session, promise_id: int) -> PromiseRow:
    row = s.get(PromiseRow, promise_id)
    if row is None:
        raise NotFound("promise", promise_id)
    if row.cancelled_at is not None:
        raise ConflictError(f"promise #{promise_id} is cancelled already")
    return row


def _log(s: Session, customer_id: int, actor: str, summary: str, at: datetime) -> None:
    s.add(InteractionRow(customer_id=customer_id, at=at, author=actor, kind="note",
                         summary=summary))


def cancel_promise(store: Store, promise_id: int, *, reason: str, actor: str
                   ) -> dict[str, Any]:
    """Cancel a promise (it no longer pauses reminders, nor counts as broken)."""
    why = _reason(reason)
    with store.session() as s:
        row = _promise(s, promise_id)
        row.cancelled_at = utcnow()
        _log(s, row.customer_id, actor, f"promise #{row.id} cancelled: {why}",
             row.cancelled_at)
        return {"id": row.id, "state": "cancelled", "reason": why}


def edit_promise(store: Store, promise_id: int, *, actor: str, amount: Decimal | None = None,
                 promised_date: date | None = None, as_of: date | None = None
                 ) -> dict[str, Any]:
    """Change a promise's amount or date, checked as when it was made."""
    if amount is None and promised_date is None:
        raise InputError("nothing to change: give --amount or --date", field="promise",
                         rule="one-of")
    with store.session() as s:
        row = _promise(s, promise_id)
        today = as_of or utcnow().date()
        if promised_date is not None:
            not_past(promised_date, today, "date")
            row.promised_date = promised_date
        if amount is not None:
            _positive(amount, row.currency, "amount")
            name = s.get(CustomerRow, row.customer_id).name  # type: ignore[union-attr]
            check_open(amount, open_balance(s, row.customer_id, row.currency), row.currency,
                       name)
            row.amount = amount
        _log(s, row.customer_id, actor, f"promise #{row.id} changed: {row.currency} "
             f"{row.amount} by {row.promised_date}", utcnow())
        return {"id": row.id, "amount": row.amount, "currency": row.currency,
                "promised_date": row.promised_date}


def cancel_plan(store: Store, plan_id: int, *, reason: str, actor: str) -> dict[str, Any]:
    """Cancel a payment plan: its invoices are dunned again, and may join another plan."""
    why = _reason(reason)
    with store.session() as s:
        plan = s.get(PlanRow, plan_id)
        if plan is None:
            raise NotFound("payment plan", plan_id)
        if plan.cancelled_at is not None:
            raise ConflictError(f"plan #{plan_id} is cancelled already")
        plan.cancelled_at = utcnow()
        _log(s, plan.customer_id, actor, f"payment plan #{plan.id} cancelled: {why}",
             plan.cancelled_at)
        return {"id": plan.id, "standing": "cancelled", "reason": why}


def edit_plan(store: Store, plan_id: int, *, instalments: Sequence[tuple[date, Decimal]],
              actor: str, note: str = "", as_of: date | None = None) -> dict[str, Any]:
    """Agree new instalments for a plan's invoices: the plan is replaced by a new one over
    what is open now (the old one is cancelled, naming its successor), checked as a new plan.
    One transaction: if anything fails (the new plan is refused, the database or the process
    stops midway) nothing is written and the old plan stands as it was."""
    with store.session() as s:
        plan = s.get(PlanRow, plan_id)
        if plan is None:
            raise NotFound("payment plan", plan_id)
        if plan.cancelled_at is not None:
            raise ConflictError(f"plan #{plan_id} is cancelled; agree a new one")
        customer = s.get(CustomerRow, plan.customer_id).name  # type: ignore[union-attr]
        invoices = list(s.scalars(select(InvoiceRow.number).join(
            PlanInvoiceRow, PlanInvoiceRow.invoice_id == InvoiceRow.id)
            .where(PlanInvoiceRow.plan_id == plan_id).order_by(InvoiceRow.number)))
        plan.cancelled_at = utcnow()  # so the new plan is the one live plan of its invoices
        s.flush()
        new = write_plan(s, customer, invoices=invoices, instalments=instalments, actor=actor,
                         note=note or f"replaces plan #{plan_id}", as_of=as_of)
        _log(s, plan.customer_id, actor, f"payment plan #{plan_id} replaced by #{new['id']}",
             utcnow())
    return new | {"replaces": plan_id}


def list_plans(store: Store, as_of: date, *, customer: str | None = None,
               grace_days: int = 3, include_cancelled: bool = False) -> list[dict[str, Any]]:
    """Payment plans with their standing on ``as_of`` (good, defaulted, completed, cancelled),
    paid so far, the next instalment due and the invoices they cover."""
    with store.session() as s:
        query = select(PlanRow.id).order_by(PlanRow.id)
        if customer:
            query = query.where(PlanRow.customer_id == customer_row(s, customer).id)
        if not include_cancelled:
            query = query.where(PlanRow.cancelled_at.is_(None))
        ids = list(s.scalars(query))
        numbers: dict[int, list[str]] = {}
        for plan_id, number in s.execute(
                select(PlanInvoiceRow.plan_id, InvoiceRow.number)
                .join(InvoiceRow, InvoiceRow.id == PlanInvoiceRow.invoice_id)
                .order_by(InvoiceRow.number)):
            numbers.setdefault(plan_id, []).append(number)
    out = []
    for plan_id in ids:
        status = plan_status(store, plan_id, as_of, grace_days=grace_days)
        upcoming = [i for i in status["instalments"] if i["state"] != "paid"]
        out.append({"id": plan_id, "customer": status["customer"],
                    "currency": status["currency"], "total": status["total"],
                    "paid": status["paid"], "standing": status["standing"],
                    "invoices": numbers.get(plan_id, []),
                    "next_due": upcoming[0]["due_date"] if upcoming else None,
                    "next_amount": upcoming[0]["amount"] if upcoming else None})
    return out
