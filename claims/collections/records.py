"""What is on record with a client: promises, payment plans, disputes, interactions, contacts,
and escalation decisions. Each function is one transaction and returns plain data.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal
from typing import Any, Literal

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from claims.store.tables.collections import (
    DisputeRow, InteractionRow, PlanInstalmentRow, PlanInvoiceRow, PlanRow,
    PromiseRow,
)
from claims.collections.interactions import (
    DIRECTIONS, INTERACTION_KINDS, OUTCOMES, interaction_json, not_future,
)
from claims.errors import ConflictError, InputError, NotFound, UnknownName
from claims.core import disputes
from claims.core.money import check_amount, round_money
from claims.store import Store
from claims.store.tables import ClaimRow, ContactRow, CustomerRow, InvoiceRow, utcnow
from claims.store.tables import PaymentApplicationRow as App

CHANNELS = ("call", "email", "letter", "meeting", "portal", "other")
DISPUTE_REASONS = ("pricing", "quantity", "quality", "not-delivered", "duplicate",
                   "missing-documents", "po-mismatch", "tax", "other")
TEAMS = ("Operations", "Sales", "Finance")
RESOLUTIONS = ("credit-note", "resubmitted", "rejected")
ACTIONS = ("legal", "write-off")
#: a plain e-mail address (what reminders can be sent to)
EMAIL_ADDRESS = re.compile(r"^[A-Za-z0-9._%+\-']+@[A-Za-z0-9\-]+(\.[A-Za-z0-9\-]+)+$")


def check_address(address: str, *, field: str = "email") -> str:
    """``address`` if it is a plain e-mail address, else a clear :class:`InputError`."""
    if not EMAIL_ADDRESS.match(address.strip()):
        raise InputError(f"{address!r} is not an e-mail address", field=field,
                         rule="email-address")
    return address.strip()


def _check(value: str, known: Sequence[str], kind: str, field: str) -> str:
    if value not in known:
        raise UnknownName(kind, value, known, field=field)
    return value


def customer_row(s: Session, name: str) -> CustomerRow:
    """The customer called ``name``; an unknown name is a clear error with suggestions."""
    row = s.scalar(select(CustomerRow).where(CustomerRow.name == name))
    if row is None:
        known = list(s.scalars(select(CustomerRow.name).order_by(CustomerRow.name).limit(5000)))
        raise UnknownName("customer", name, known if len(known) < 50 else
                          [k for k in known if k[:1].lower() == name[:1].lower()][:50],
                          field="customer")
    return row


def invoice_row(s: Session, number: str) -> InvoiceRow:
    row = s.scalar(select(InvoiceRow).where(InvoiceRow.number == number))
    if row is None:
        raise NotFound("invoice", number)
    return row


def _q(amount: Decimal, currency: str) -> Decimal:
    """``amount`` at the currency's minor unit by the one rounding policy (stored money has
    four places): :func:`claims.core.money.round_money`."""
    return round_money(amount, currency)


def _positive(amount: Decimal, currency: str, field: str) -> Decimal:
    """``amount`` through the one money door (:func:`claims.core.money.check_amount`), and
    above zero; an InputError naming ``field`` otherwise."""
    try:
        exact = check_amount(amount, currency, field=field, negative=False)
    except ValueError as err:
        raise InputError(str(err).removeprefix(f"{field}: "), field=field,
                         rule="amount") from None
    if exact == 0:
        raise InputError(f"{amount} is not a positive amount", field=field, rule="positive")
    return exact


# -- customers and contacts ------------------------------------------------------------------

def set_collector(store: Store, customer: str, collector: str) -> None:
    """Make ``collector`` responsible for ``customer``."""
    with store.session() as s:
        customer_row(s, customer).collector = collector


def add_contact(store: Store, customer: str, *, name: str, email: str | None,
                phone: str | None = None, role: str = "finance", language: str = "en") -> int:
    """Add a contact to a customer (finance contacts get the reminders); returns its id."""
    if email:
        check_address(email, field="email")
    with store.session() as s:
        row = ContactRow(customer_id=customer_row(s, customer).id, name=name, email=email,
                         phone=phone, role=role, language=language)
        s.add(row)
        s.flush()
        return row.id


# -- interactions ----------------------------------------------------------------------------

def add_note(store: Store, customer: str, summary: str, *, author: str, kind: str = "note",
             invoice: str | None = None, dispute_id: int | None = None,
             at: datetime | None = None, direction: str | None = None,
             contact: str | None = None, outcome: str | None = None,
             next_action: str | None = None, next_action_date: date | None = None
             ) -> dict[str, Any]:
    """Log an interaction with an account; returns the entry. ``at`` may lie in the past,
    never in the future; the invoice must be the customer's; a contact is one of the
    customer's (by name or id); a next action needs its date and the other way round."""
    _check(kind, INTERACTION_KINDS, "interaction kind", "--kind")
    if direction is not None:
        _check(direction, DIRECTIONS, "direction", "--direction")
    if outcome is not None:
        _check(outcome, OUTCOMES, "outcome", "--outcome")
    if not summary.strip():
        raise InputError("the note is empty", field="summary", rule="non-empty")
    now = utcnow()
    if at is not None and not not_future(at, now):
        raise InputError(f"{at:%Y-%m-%d %H:%M} is in the future (backdating is allowed, "
                         "not the future)", field="--at", rule="not-future")
    when = at or now
    if (next_action_date is None) != (not (next_action or "").strip()):
        raise InputError("give --next-action and --next-action-date together",
                         field="--next-action", rule="both")
    if next_action_date is not None and next_action_date < when.date():
        raise InputError(f"the next action date {next_action_date} is before the "
                         f"interaction ({when.date()})", field="--next-action-date",
                         rule="not-before-interaction")
    with store.session() as s:
        cust = customer_row(s, customer)
        inv = invoice_row(s, invoice) if invoice else None
        if inv is not None and inv.customer_id != cust.id:
            raise InputError(f"invoice {inv.number} is not {cust.name}'s", field="--invoice",
                             rule="same-customer")
        person = _contact_of(s, cust, contact) if contact else None
        row = InteractionRow(customer_id=cust.id, at=when, author=author, kind=kind,
                             summary=summary.strip(), invoice_id=inv.id if inv else None,
                             dispute_id=dispute_id, direction=direction, contact=person,
                             outcome=outcome, next_action=(next_action or "").strip() or None,
                             next_action_date=next_action_date)
        s.add(row)
        s.flush()
        return interaction_json(row, invoice) | {"customer": cust.name}


def _contact_of(s: Session, cust: CustomerRow, contact: str) -> str:
    """The name of the customer's contact ``contact`` (a name or an id)."""
    rows = list(s.scalars(select(ContactRow).where(ContactRow.customer_id == cust.id)))
    for row in rows:
        if contact.strip() in (str(row.id), row.name):
            return row.name
    raise UnknownName(f"contact of {cust.name}", contact, [r.name for r in rows],
                      field="--contact", rule="known-contact")  # not a rule per customer


def list_notes(store: Store, customer: str) -> list[dict[str, Any]]:
    """The interaction log of an account, oldest first."""
    with store.session() as s:
        cust = customer_row(s, customer)
        rows = s.execute(select(InteractionRow, InvoiceRow.number)
                         .outerjoin(InvoiceRow, InvoiceRow.id == InteractionRow.invoice_id)
                         .where(InteractionRow.customer_id == cust.id)
                         .order_by(InteractionRow.at, InteractionRow.id))
        return [interaction_json(r, number) for r, number in rows]


# -- promises --------------------------------------------------------------------------------

def add_promise(store: Store, customer: str, *, amount: Decimal, currency: str,
                promised_date: date, promised_by: str, channel: str, actor: str,
                at: datetime | None = None, as_of: date | None = None) -> dict[str, Any]:
    """Record a promise to pay; it pauses dunning on the items it covers (the customer's
    invoices in ``currency`` issued by then: ``receivables.PROMISE_COVERS``) until its date
    and grace pass.

    Checked when written: its date is not before ``as_of`` (default: the day it is made),
    and the amount is not above what the customer has open in that currency."""
    _check(channel, CHANNELS, "channel", "--channel")
    _positive(amount, currency, "amount")
    if not promised_by.strip():
        raise InputError("who promised is missing", field="by", rule="non-empty")
    not_past(promised_date, as_of or (at or utcnow()).date(), "date")
    with store.session() as s:
        cust = customer_row(s, customer)
        check_open(amount, open_balance(s, cust.id, currency), currency, cust.name)
        row = PromiseRow(customer_id=cust.id, amount=amount, currency=currency,
                         promised_date=promised_date, promised_by=promised_by, channel=channel,
                         made_at=at or utcnow(), actor=actor)
        s.add(row)
        s.flush()
        s.add(InteractionRow(customer_id=cust.id, at=row.made_at, author=actor, kind=(
            channel if channel in INTERACTION_KINDS else "note"), outcome="promised",
            summary=f"promise #{row.id}: {promised_by} promised {currency} {amount} by "
                    f"{promised_date.isoformat()}"))
        return {"id": row.id, "customer": cust.name, "amount": amount, "currency": currency,
                "promised_date": promised_date, "by": promised_by, "channel": channel}


@dataclass(frozen=True)
class PromiseStatus:
    id: int
    customer: str
    amount: Decimal
    currency: str
    promised_date: date
    promised_by: str
    paid_since: Decimal
    state: Literal["open", "kept", "broken", "cancelled"]

    def to_json(self) -> dict[str, Any]:
        return {"id": self.id, "customer": self.customer, "amount": str(self.amount),
                "currency": self.currency, "promised_date": self.promised_date,
                "by": self.promised_by, "paid_since": str(self.paid_since), "state": self.state}


def promise_states(store: Store, as_of: date, *, customer: str | None = None,
                   grace_days: int = 0) -> list[PromiseStatus]:
    """Each promise's adherence: kept once the customer paid the amount since it was made
    (payments in the promise's currency only: a write-off, a discount or money in another
    currency keeps no promise);
    broken when its date (+ grace) passed without that; otherwise open."""
    with store.session() as s:
        query = select(PromiseRow, CustomerRow.name).join(
            CustomerRow, CustomerRow.id == PromiseRow.customer_id)
        if customer:
            query = query.where(PromiseRow.customer_id == customer_row(s, customer).id)
        out = []
        for p, name in s.execute(query.order_by(PromiseRow.id)):
            paid = s.scalar(select(func.sum(App.amount))
                            .join(InvoiceRow, InvoiceRow.id == App.invoice_id)
                            .where(InvoiceRow.customer_id == p.customer_id,
                                   InvoiceRow.currency == p.currency,
                                   App.undone_at.is_(None), App.kind == "payment",
                                   App.applied_at >= p.made_at))
            paid_amount = paid or Decimal(0)  # SUM keeps the MoneyColumn type
            if p.cancelled_at is not None:
                state: Literal["open", "kept", "broken", "cancelled"] = "cancelled"
            elif paid_amount >= p.amount:
                state = "kept"
            elif (as_of - p.promised_date).days > grace_days:
                state = "broken"
            else:
                state = "open"
            out.append(PromiseStatus(p.id, name, _q(p.amount, p.currency), p.currency,
                                     p.promised_date, p.promised_by,
                                     _q(paid_amount, p.currency), state))
        return out


# -- payment plans ---------------------------------------------------------------------------

def add_plan(store: Store, customer: str, *, invoices: Sequence[str],
             instalments: Sequence[tuple[date, Decimal]], actor: str, note: str = "",
             at: datetime | None = None, as_of: date | None = None) -> dict[str, Any]:
    """Agree a plan of instalments for the open balance of ``invoices`` (one currency).

    The instalments must add up to the invoices' open balance today, so that the plan settles
    exactly what is owed; none falls before ``as_of`` (default: the day it is agreed); an
    invoice is in one live plan at most. A plan in good standing pauses dunning on its
    invoices.
    """
    with store.session() as s:
        return write_plan(s, customer, invoices=invoices, instalments=instalments, actor=actor,
                          note=note, at=at, as_of=as_of)


def write_plan(s: Session, customer: str, *, invoices: Sequence[str],
               instalments: Sequence[tuple[date, Decimal]], actor: str, note: str = "",
               at: datetime | None = None, as_of: date | None = None) -> dict[str, Any]:
    """:func:`add_plan` inside the caller's transaction ``s`` (so a plan edit replaces the
    old plan and writes the new one in one step)."""
    check_instalments(instalments, as_of or (at or utcnow()).date())
    if not invoices:
        raise InputError("a plan needs at least one invoice", field="invoice", rule="non-empty")
    cust = customer_row(s, customer)
    rows, currency = plan_invoices(s, cust, invoices)
    one_live_plan(s, rows)
    instalments = [(day, _positive(amount, currency, "instalment"))
                   for day, amount in instalments]
    open_total = sum((open_balance(s, cust.id, currency, inv.id) for inv in rows),
                     Decimal(0))
    total = sum((a for _, a in instalments), Decimal(0))
    if total != open_total:
        raise InputError(f"instalments add up to {total}, the open balance is "
                         f"{open_total}", field="instalment", rule="plan-sum")
    plan = PlanRow(customer_id=cust.id, currency=currency, total=total,
                   agreed_at=at or utcnow(), note=note, actor=actor)
    s.add(plan)
    s.flush()
    for inv in rows:
        s.add(PlanInvoiceRow(plan_id=plan.id, invoice_id=inv.id))
    for seq, (due, amount) in enumerate(instalments, start=1):
        s.add(PlanInstalmentRow(plan_id=plan.id, seq=seq, due_date=due, amount=amount))
    s.add(InteractionRow(customer_id=cust.id, at=plan.agreed_at, author=actor, kind="note",
                         summary=f"payment plan #{plan.id}: {len(instalments)} instalments, "
                                 f"{currency} {total}, invoices {', '.join(invoices)}"))
    return {"id": plan.id, "customer": cust.name, "currency": currency, "total": total,
            "invoices": list(invoices),
            "instalments": [{"seq": i, "due_date": d, "amount": a}
                            for i, (d, a) in enumerate(instalments, start=1)]}


def not_past(day: date, today: date, field: str) -> None:
    """A promised or instalment date may not lie before ``today`` (broken at birth)."""
    if day < today:
        raise InputError(f"{day} is in the past (before {today})", field=field,
                         rule="not-past")


def check_instalments(instalments: Sequence[tuple[date, Decimal]], today: date) -> None:
    """At least one instalment, dates strictly increasing and none in the past."""
    if not instalments:
        raise InputError("a plan needs at least one instalment", field="instalment",
                         rule="non-empty")
    dates = [d for d, _ in instalments]
    if dates != sorted(dates) or len(set(dates)) != len(dates):
        raise InputError("instalment dates must be strictly increasing", field="instalment",
                         rule="increasing-dates")
    not_past(dates[0], today, "instalment")


def open_balance(s: Session, customer_id: int, currency: str,
                 invoice_id: int | None = None) -> Decimal:
    """What is open for a customer in ``currency`` (or on one invoice): totals less every
    live application (payments, credits, write-offs)."""
    invoices = select(InvoiceRow.id).where(InvoiceRow.customer_id == customer_id,
                                           InvoiceRow.currency == currency)
    if invoice_id is not None:
        invoices = invoices.where(InvoiceRow.id == invoice_id)
    billed = s.scalar(select(func.sum(InvoiceRow.total))
                      .where(InvoiceRow.id.in_(invoices))) or Decimal(0)
    applied = s.scalar(select(func.sum(App.amount))
                       .where(App.invoice_id.in_(invoices), App.undone_at.is_(None))
                       ) or Decimal(0)
    return _q(billed - applied, currency)


def check_open(amount: Decimal, open_amount: Decimal, currency: str, who: str) -> None:
    """A promise (or plan) for more than is open would pause reminders on nothing owed."""
    if amount > open_amount:
        raise InputError(f"{currency} {amount} is more than {who} has open in {currency} "
                         f"({max(open_amount, Decimal(0))})", field="amount",
                         rule="not-above-open")


def plan_invoices(s: Session, cust: CustomerRow, invoices: Sequence[str]
                  ) -> tuple[list[InvoiceRow], str]:
    """The invoices of a plan: each the customer's, all in one currency."""
    rows = [invoice_row(s, n) for n in invoices]
    for inv in rows:
        if inv.customer_id != cust.id:
            raise InputError(f"invoice {inv.number} is not {cust.name}'s", field="invoice",
                             rule="same-customer")
    currencies = {inv.currency for inv in rows}
    if len(currencies) != 1:
        raise InputError(f"invoices in several currencies: {sorted(currencies)}",
                         field="invoice", rule="one-currency")
    return rows, currencies.pop()


def one_live_plan(s: Session, rows: Sequence[InvoiceRow], *, but: int | None = None) -> None:
    """An invoice is in at most one live (not cancelled, not completed) plan."""
    for inv in rows:
        for plan in s.scalars(select(PlanRow).join(PlanInvoiceRow,
                                                   PlanInvoiceRow.plan_id == PlanRow.id)
                              .where(PlanInvoiceRow.invoice_id == inv.id,
                                     PlanRow.cancelled_at.is_(None))):
            if plan.id != but and _plan_paid(s, plan) < plan.total:
                raise ConflictError(f"invoice {inv.number} is in live plan #{plan.id} "
                                    f"already (cancel or edit it)")


def _plan_paid(s: Session, plan: PlanRow) -> Decimal:
    """Paid on a plan's invoices since it was agreed."""
    invoice_ids = select(PlanInvoiceRow.invoice_id).where(PlanInvoiceRow.plan_id == plan.id)
    return s.scalar(select(func.sum(App.amount))
                    .where(App.invoice_id.in_(invoice_ids), App.undone_at.is_(None),
                           App.kind == "payment",
                           App.applied_at >= plan.agreed_at)) or Decimal(0)


def plan_status(store: Store, plan_id: int, as_of: date, *, grace_days: int = 3
                ) -> dict[str, Any]:
    """Adherence of a plan: paid since agreed vs. what fell due, and each instalment's state."""
    with store.session() as s:
        plan = s.get(PlanRow, plan_id)
        if plan is None:
            raise NotFound("payment plan", plan_id)
        paid = _plan_paid(s, plan)
        rows = list(s.scalars(select(PlanInstalmentRow).where(PlanInstalmentRow.plan_id == plan_id)
                              .order_by(PlanInstalmentRow.seq)))
        cumulative = Decimal(0)
        instalments = []
        missed = False
        for r in rows:
            cumulative += r.amount
            if paid >= cumulative:
                state = "paid"
            elif (as_of - r.due_date).days > grace_days:
                state, missed = "missed", True
            else:
                state = "due" if r.due_date <= as_of else "upcoming"
            instalments.append({"seq": r.seq, "due_date": r.due_date,
                                "amount": _q(r.amount, plan.currency),
                                "state": state})
        standing = ("cancelled" if plan.cancelled_at else "completed" if paid >= plan.total
                    else "defaulted" if missed else "good")
        name = s.get(CustomerRow, plan.customer_id).name  # type: ignore[union-attr]
        return {"id": plan.id, "customer": name, "currency": plan.currency,
                "total": _q(plan.total, plan.currency), "paid": _q(paid, plan.currency),
                "standing": standing, "instalments": instalments}


# -- disputes --------------------------------------------------------------------------------

def open_dispute(store: Store, *, invoice: str | None = None, claim_id: int | None = None,
                 reason: str, team: str, due_date: date | None, note: str, actor: str,
                 at: datetime | None = None) -> dict[str, Any]:
    """Open a dispute on an invoice or a claim (its invoice); it pauses dunning on that item."""
    _check(reason, DISPUTE_REASONS, "dispute reason", "--reason")
    _check(team, TEAMS, "team", "--team")
    if (invoice is None) == (claim_id is None):
        raise InputError("give an invoice or a claim", field="invoice", rule="one-of")
    with store.session() as s:
        if claim_id is not None:
            claim = s.get(ClaimRow, claim_id)
            if claim is None:
                raise NotFound("claim", claim_id)
            inv = s.get(InvoiceRow, claim.invoice_id)
            assert inv is not None  # the foreign key guarantees it
        else:
            inv = invoice_row(s, invoice or "")
        if inv.customer_id is None:
            raise InputError(f"invoice {inv.number} has no customer", field="invoice",
                             rule="has-customer")
        already = s.scalar(select(DisputeRow.id).where(DisputeRow.invoice_id == inv.id,
                                                       DisputeRow.status == "open"))
        if already:
            raise ConflictError(f"invoice {inv.number} has an open dispute already (#{already})")
        row = DisputeRow(customer_id=inv.customer_id, invoice_id=inv.id, claim_id=claim_id,
                         reason=reason, team=team, due_date=due_date, opened_at=at or utcnow(),
                         opened_by=actor)
        s.add(row)
        s.flush()
        s.add(InteractionRow(customer_id=inv.customer_id, at=row.opened_at, author=actor,
                             kind="note", invoice_id=inv.id, dispute_id=row.id,
                             outcome="disputed",
                             summary=f"dispute #{row.id} opened ({reason}, {team})"
                                     + (f": {note}" if note else "")))
        return {"id": row.id, "invoice": inv.number, "claim": claim_id, "reason": reason,
                "team": team, "due_date": due_date, "status": "open"}


def resolve_dispute(store: Store, dispute_id: int, *, resolution: str, note: str, actor: str,
                    at: datetime | None = None) -> dict[str, Any]:
    """Close a dispute with its resolution; dunning on the item resumes."""
    _check(resolution, RESOLUTIONS, "resolution", "--resolution")
    with store.session() as s:
        row = s.get(DisputeRow, dispute_id)
        if row is None:
            raise NotFound("dispute", dispute_id)
        if row.status != "open":
            raise ConflictError(f"dispute #{dispute_id} is {row.status} already")
        row.status, row.resolution, row.resolution_note = "resolved", resolution, note
        row.resolved_at, row.resolved_by = at or utcnow(), actor
        s.add(InteractionRow(customer_id=row.customer_id, at=row.resolved_at, author=actor,
                             kind="note", invoice_id=row.invoice_id, dispute_id=row.id,
                             summary=f"dispute #{row.id} resolved: {resolution}"
                                     + (f": {note}" if note else "")))
        return {"id": row.id, "status": "resolved", "resolution": resolution}


def list_disputes(store: Store, *, status: str | None = "open",
                  as_of: date | None = None) -> list[dict[str, Any]]:
    """The disputes (``status`` open, resolved, or None: all); with ``as_of``, as they stood
    at the end of that day (:func:`claims.core.disputes.open_on`): one opened later left out,
    one resolved later shown open."""
    if as_of is not None:
        every = [d for d in list_disputes(store, status=None)
                 if disputes.open_on(d["opened_at"], None, as_of)]  # opened by then
        for d in every:
            if disputes.open_on(d["opened_at"], d["resolved_at"], as_of):
                d.update(status="open", resolution=None, resolved_at=None)
        return [d for d in every if status is None or d["status"] == status]
    with store.session() as s:
        query = (select(DisputeRow, InvoiceRow.number, CustomerRow.name)
                 .join(InvoiceRow, InvoiceRow.id == DisputeRow.invoice_id)
                 .join(CustomerRow, CustomerRow.id == DisputeRow.customer_id)
                 .order_by(DisputeRow.id))
        if status:
            query = query.where(DisputeRow.status == status)
        return [{"id": d.id, "customer": name, "invoice": number, "claim": d.claim_id,
                 "reason": d.reason, "team": d.team, "due_date": d.due_date,
                 "status": d.status, "resolution": d.resolution, "opened_at": d.opened_at,
                 "opened_by": d.opened_by, "resolved_at": d.resolved_at}
                for d, number, name in s.execute(query)]
