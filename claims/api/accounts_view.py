"""An account as a whole, its contacts, callbacks, and changes to what a client committed to
(cancel or edit a promise or a plan; the list of plans). Every function takes the workspace
first."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date
from decimal import Decimal
from typing import Any

from claims.collections import commitments, contacts, interactions
from claims.collections.account import account_view
from claims.collections.dunning import config_of
from claims.collections.records import customer_row
from claims.reports.kpis import aging_labels
from claims.workspace import Workspace

__all__ = [
    "show_account", "callbacks_due", "list_contacts", "edit_contact", "remove_contact",
    "contact_languages", "cancel_promise", "edit_promise", "cancel_plan", "edit_plan",
    "list_plans", "INTERACTION_KINDS", "DIRECTIONS", "OUTCOMES", "REACHED",
]

INTERACTION_KINDS = interactions.INTERACTION_KINDS
DIRECTIONS = interactions.DIRECTIONS
OUTCOMES = interactions.OUTCOMES
REACHED = interactions.REACHED


def show_account(ws: Workspace, customer: str, as_of: date | None = None) -> dict[str, Any]:
    """Everything on one account: contacts, open items with aging, claims and their portal
    status, promises, plans, disputes, escalation decisions, interactions, reminders, the
    callbacks due, and one timeline of it all."""
    reports = ws.settings.reports
    return account_view(ws, customer, as_of or date.today(),
                        aging_edges=reports.aging_buckets, aging_labels=aging_labels(reports))


def callbacks_due(ws: Workspace, as_of: date | None = None, *,
                  customer: str | None = None) -> list[dict[str, Any]]:
    """Next actions due on or before ``as_of`` that nobody has followed up yet."""
    customer_id = None
    if customer:
        with ws.store.session() as s:
            customer_id = customer_row(s, customer).id
    return interactions.callbacks_due(ws.store, as_of or date.today(), customer_id=customer_id)


def contact_languages(ws: Workspace) -> list[str]:
    """The languages reminders can be written in (templates exist for them)."""
    return contacts.available_languages(config_of(ws).followup.templates_dir, ws.root)


def list_contacts(ws: Workspace, customer: str | None = None) -> list[dict[str, Any]]:
    """Contacts of one customer (or all)."""
    return contacts.list_contacts(ws.store, customer)


def edit_contact(ws: Workspace, contact_id: int, **changes: Any) -> dict[str, Any]:
    """Change a contact's name, email, phone, role or language (checked as when added)."""
    return contacts.edit_contact(ws.store, contact_id, languages=contact_languages(ws),
                                 **changes)


def remove_contact(ws: Workspace, contact_id: int) -> dict[str, Any]:
    """Remove a contact; logged interactions keep the name."""
    return contacts.remove_contact(ws.store, contact_id)


def cancel_promise(ws: Workspace, promise_id: int, *, reason: str) -> dict[str, Any]:
    """Cancel a promise to pay."""
    return commitments.cancel_promise(ws.store, promise_id, reason=reason, actor=ws.actor)


def edit_promise(ws: Workspace, promise_id: int, *, amount: Decimal | None = None,
                 promised_date: date | None = None, as_of: date | None = None
                 ) -> dict[str, Any]:
    """Change a promise's amount or date (no past date, not above what is open)."""
    return commitments.edit_promise(ws.store, promise_id, actor=ws.actor, amount=amount,
                                    promised_date=promised_date, as_of=as_of)


def cancel_plan(ws: Workspace, plan_id: int, *, reason: str) -> dict[str, Any]:
    """Cancel a payment plan."""
    return commitments.cancel_plan(ws.store, plan_id, reason=reason, actor=ws.actor)


def edit_plan(ws: Workspace, plan_id: int, *, instalments: Sequence[tuple[date, Decimal]],
              note: str = "", as_of: date | None = None) -> dict[str, Any]:
    """Agree new instalments for a plan (it is replaced by a new plan, checked as new)."""
    return commitments.edit_plan(ws.store, plan_id, instalments=instalments, actor=ws.actor,
                                 note=note, as_of=as_of)


def list_plans(ws: Workspace, as_of: date | None = None, *, customer: str | None = None,
               include_cancelled: bool = False) -> list[dict[str, Any]]:
    """Payment plans with their standing, paid so far and next instalment."""
    grace = config_of(ws).followup.plan_grace_days
    return commitments.list_plans(ws.store, as_of or date.today(), customer=customer,
                                  grace_days=grace, include_cancelled=include_cancelled)
