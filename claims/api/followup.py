"""Collections follow-up as user actions: reminders, terms, contacts, notes, promises, plans,
disputes, escalations and the worklist. Every function takes the workspace first."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from datetime import date
from decimal import Decimal
from typing import Any

from claims.collections import dunning, escalation, rates, records, worklist as worklist_lib
from claims.collections.contacts import available_languages, check_language
from claims.collections.due import set_terms

from claims.collections.terms import Instalment, Terms
from claims.core.money import check_amount, minor_units
from claims.errors import InputError
from claims.workspace import Workspace

__all__ = [
    "Instalment", "Terms", "run_followup", "preview_followup", "render_reminder",
    "resolve_stuck_send", "sent_history", "receivables", "set_invoice_terms", "add_contact",
    "set_collector", "worklist", "worklist_page", "add_note", "list_notes", "add_promise",
    "promise_states",
    "add_plan", "plan_status", "open_dispute", "resolve_dispute", "list_disputes",
    "escalation_candidates", "propose_escalation", "approve_escalation", "reject_escalation",
    "revoke_escalation", "escalation_log", "import_rates", "WORKLIST_CSV_COLUMNS",
]

#: The worklist's CSV columns, also when no account is listed (a header line all the same).
WORKLIST_CSV_COLUMNS = ["rank", "customer", "score",
                        *(f"part_{p}" for p in worklist_lib.SCORE_PARTS), "base_currency",
                        "overdue_base", "overdue", "unconverted", "days_overdue", "collector",
                        "at_legal"]


def run_followup(ws: Workspace, as_of: date | None = None, *, dry_run: bool = False,
                 customer: str | None = None) -> Any:
    """Send every reminder due on ``as_of`` (default today), each exactly once."""
    return dunning.run(ws, as_of, dry_run=dry_run, customer=customer)


def preview_followup(ws: Workspace, as_of: date, *, customer: str | None = None) -> list[Any]:
    """The reminders that would go out on ``as_of``, not sent."""
    return dunning.plan_messages(ws, as_of, customer=customer)


def render_reminder(ws: Workspace, message: Any, as_of: date) -> tuple[str, str, str]:
    """(subject, text, html) of one planned reminder."""
    return dunning.render(ws, message, as_of)


def resolve_stuck_send(ws: Workspace, send_id: int, *, was_sent: bool) -> dict[str, Any]:
    """Settle a send left in ``sending`` by a crash: it went out, or it did not."""
    return dunning.resolve_stuck(ws, send_id, was_sent=was_sent)


def sent_history(ws: Workspace, customer: str | None = None) -> list[dict[str, Any]]:
    """Every reminder sent (to ``customer``), newest first."""
    return dunning.sent_history(ws, customer)


def receivables(ws: Workspace, as_of: date | None = None, *,
                customer: str | None = None) -> list[Any]:
    """Open receivables as of a date, with due dates and days overdue."""
    return worklist_lib.receivables(ws, as_of, customer=customer)


def set_invoice_terms(ws: Workspace, invoice: str, terms: Terms) -> list[dict[str, Any]]:
    """Give an invoice payment terms; returns its schedule of due amounts."""
    return set_terms(ws.store, dunning.config_of(ws), invoice, terms)


def add_contact(ws: Workspace, customer: str, *, name: str, email: str | None,
                **fields: Any) -> int:
    """Add a contact person to a customer; returns its id. The language must have reminder
    templates (built in, or in the workspace's ``templates_dir``)."""
    language = fields.get("language") or dunning.config_of(ws).followup.language
    check_language(language, available_languages(dunning.config_of(ws).followup.templates_dir,
                                                  ws.root))
    fields["language"] = language
    return records.add_contact(ws.store, customer, name=name, email=email, **fields)


def set_collector(ws: Workspace, customer: str, person: str) -> None:
    """Assign the collector who works a customer's account."""
    records.set_collector(ws.store, customer, person)


def worklist(ws: Workspace, as_of: date | None = None, *, limit: int | None = None) -> list[Any]:
    """Accounts ranked by what to do first, with the parts of each score."""
    return worklist_lib.worklist(ws, as_of, limit=limit)


def worklist_page(ws: Workspace, page: int = 1, *, per_page: int = 50,
                  as_of: date | None = None) -> Any:
    """One page of :func:`worklist` (same ranking), with the size of the whole ranking;
    interest is worked out for the page's accounts only."""
    return worklist_lib.worklist_page(ws, page, per_page=per_page, as_of=as_of)


def add_note(ws: Workspace, customer: str, text: str, **fields: Any) -> dict[str, Any]:
    """Log an interaction with a customer (the workspace's actor is the author)."""
    return records.add_note(ws.store, customer, text, author=ws.actor, **fields)


def list_notes(ws: Workspace, customer: str) -> list[dict[str, Any]]:
    """A customer's interaction log, oldest first."""
    return records.list_notes(ws.store, customer)


def add_promise(ws: Workspace, customer: str, *, amount: Decimal, currency: str,
                **fields: Any) -> dict[str, Any]:
    """Record a promise to pay. The amount passes the one money door
    (:func:`claims.core.money.check_amount`): a known ISO currency, nothing below its minor
    unit, nothing above the maximum, nothing negative; an unknown currency names --currency."""
    try:
        minor_units(currency)
    except ValueError as err:
        raise InputError(str(err), field="--currency", rule="known-currency") from None
    try:
        exact = check_amount(amount, currency, field="--amount", negative=False)
    except ValueError as err:
        raise InputError(str(err).removeprefix("--amount: "), field="--amount",
                         rule="amount") from None
    return records.add_promise(ws.store, customer, amount=exact, currency=currency,
                               actor=ws.actor, **fields)


def promise_states(ws: Workspace, as_of: date, *, customer: str | None = None
                   ) -> list[dict[str, Any]]:
    """Each promise kept, broken or pending on ``as_of`` (the configured grace applied)."""
    grace = dunning.config_of(ws).followup.promise_grace_days
    return records.promise_states(ws.store, as_of, customer=customer, grace_days=grace)


def add_plan(ws: Workspace, customer: str, *, invoices: Sequence[str],
             instalments: Sequence[Any], note: str = "", as_of: date | None = None
             ) -> dict[str, Any]:
    """Agree a payment plan over overdue invoices (no instalment before ``as_of``, default
    today; an invoice in one live plan at most)."""
    return records.add_plan(ws.store, customer, invoices=invoices, instalments=instalments,
                            actor=ws.actor, note=note, as_of=as_of)


def plan_status(ws: Workspace, plan_id: int, as_of: date | None = None) -> dict[str, Any]:
    """A payment plan's instalments: paid, due, missed (the configured grace applied)."""
    grace = dunning.config_of(ws).followup.plan_grace_days
    return records.plan_status(ws.store, plan_id, as_of or date.today(), grace_days=grace)


def open_dispute(ws: Workspace, **fields: Any) -> dict[str, Any]:
    """Open a dispute on an invoice or a claim (pauses reminders for it)."""
    return records.open_dispute(ws.store, actor=ws.actor, **fields)


def resolve_dispute(ws: Workspace, dispute_id: int, *, resolution: str, note: str
                    ) -> dict[str, Any]:
    """Close a dispute with its resolution."""
    return records.resolve_dispute(ws.store, dispute_id, resolution=resolution, note=note,
                                   actor=ws.actor)


def list_disputes(ws: Workspace, *, status: str | None = "open") -> list[dict[str, Any]]:
    """Disputes (open ones by default)."""
    return records.list_disputes(ws.store, status=status)


def escalation_candidates(ws: Workspace, as_of: date | None = None) -> list[Any]:
    """Invoices the escalation rules propose for legal action or write-off, with reasons."""
    return escalation.escalation_candidates(ws, as_of)


def propose_escalation(ws: Workspace, invoice: str, *, action: str, reason: str,
                       as_of: date | None = None) -> dict[str, Any]:
    """Propose legal action or a write-off of an invoice (the actor proposes)."""
    return escalation.propose(ws, invoice, action=action, reason=reason, as_of=as_of)


def approve_escalation(ws: Workspace, invoice: str, *, note: str = "",
                       override_reason: str | None = None, action: str | None = None,
                       as_of: date | None = None) -> dict[str, Any]:
    """Approve the open proposal on an invoice (the actor approves; never its proposer).
    A write-off is posted; legal action marks the item "at legal"."""
    return escalation.approve(ws, invoice, note=note, override_reason=override_reason,
                              action=action, as_of=as_of)


def reject_escalation(ws: Workspace, invoice: str, *, reason: str) -> dict[str, Any]:
    """Reject (or withdraw) the open proposal on an invoice."""
    return escalation.reject(ws, invoice, reason=reason)


def revoke_escalation(ws: Workspace, invoice: str, *, reason: str) -> dict[str, Any]:
    """Revoke an approved escalation: a posted write-off is undone, legal action ends."""
    return escalation.revoke(ws, invoice, reason=reason)


def escalation_log(ws: Workspace, *, customer: str | None = None,
                   invoice: str | None = None) -> list[dict[str, Any]]:
    """The decision log: every proposal, approval, rejection and revocation."""
    return escalation.decision_log(ws, customer=customer, invoice=invoice)


def import_rates(ws: Workspace, path: Path) -> dict[str, Any]:
    """Import dated exchange rates (CSV: date,currency,rate) to ``[followup] base_currency``."""
    return rates.import_rates(ws.store, path, dunning.config_of(ws).followup.base_currency)
