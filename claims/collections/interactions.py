"""The vocabulary of a structured interaction, and the callbacks due.

An interaction (``claims note add``) has a kind, a direction, the contact spoken to, an
outcome, a time (backdating allowed, never the future) and possibly a next action with its
date. Only an outcome in :data:`REACHED` (someone answered) resets the silence clock of the
escalation rules (:mod:`claims.collections.escalation`, its ``last_contact``); an unanswered
call, a message left or a wrong number does not.

A *callback* is an interaction's next action: due once its date is on or before the as-of day,
until a later contact attempt with the same customer is logged (a call, e-mail, letter, … with
an outcome, whatever it was: the callback was made; a plain note does not close it).
Callbacks are their own query, apart from the worklist's scoring.
"""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

from sqlalchemy import and_, exists, select
from sqlalchemy.orm import aliased

from claims.store import Store
from claims.store.tables import CustomerRow, InvoiceRow
from claims.store.tables.collections import InteractionRow

INTERACTION_KINDS = ("call", "email", "note", "letter", "meeting", "sms", "visit")
DIRECTIONS = ("outbound", "inbound")
OUTCOMES = ("reached", "no_answer", "left_message", "promised", "disputed", "refused",
            "callback_requested", "paid_claimed", "wrong_number", "bounced")
#: the outcomes in which someone at the customer answered: these reset the silence clock
REACHED = ("reached", "promised", "disputed", "refused", "callback_requested", "paid_claimed")
#: entries the system writes (a reminder sent, a call task made): never a person's contact
SYSTEM_KINDS = ("dunning", "task")
SYSTEM_AUTHOR = "followup"


def reached_someone(outcome: str | None) -> bool:
    """Whether an interaction with this outcome counts as contact (resets the silence)."""
    return outcome in REACHED


def callbacks_due(store: Store, as_of: date, *, customer_id: int | None = None
                  ) -> list[dict[str, Any]]:
    """Next actions whose date is on or before ``as_of`` and that no later contact attempt
    has followed up, oldest date first."""
    later = aliased(InteractionRow)
    followed = exists().where(and_(
        later.customer_id == InteractionRow.customer_id, later.at > InteractionRow.at,
        later.author != SYSTEM_AUTHOR, later.kind.not_in((*SYSTEM_KINDS, "note")),
        later.outcome.is_not(None)))
    query = (select(InteractionRow, CustomerRow.name, InvoiceRow.number)
             .join(CustomerRow, CustomerRow.id == InteractionRow.customer_id)
             .outerjoin(InvoiceRow, InvoiceRow.id == InteractionRow.invoice_id)
             .where(InteractionRow.next_action_date.is_not(None),
                    InteractionRow.next_action_date <= as_of, ~followed)
             .order_by(InteractionRow.next_action_date, CustomerRow.name, InteractionRow.id))
    if customer_id is not None:
        query = query.where(InteractionRow.customer_id == customer_id)
    with store.session() as s:
        return [{"interaction": r.id, "customer": name, "due": r.next_action_date,
                 "days_late": (as_of - r.next_action_date).days,
                 "next_action": r.next_action or "", "contact": r.contact, "invoice": number,
                 "logged_at": r.at, "author": r.author}
                for r, name, number in s.execute(query)]


def interaction_json(r: InteractionRow, invoice: str | None) -> dict[str, Any]:
    """One interaction as plain data."""
    return {"id": r.id, "at": r.at, "author": r.author, "kind": r.kind,
            "direction": r.direction, "contact": r.contact, "outcome": r.outcome,
            "summary": r.summary, "invoice": invoice, "dispute": r.dispute_id,
            "next_action": r.next_action, "next_action_date": r.next_action_date,
            "reached": reached_someone(r.outcome)}


def not_future(at: datetime, now: datetime) -> bool:
    """Backdating is allowed; an interaction in the future is not (a minute's clock skew is)."""
    return (at - now).total_seconds() <= 60
